package cfc

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/kerasncp-go/kerasncp-go/internal/kern32"
	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// TestTableMatchesReference: names, order, shapes and trainability of the
// parameter table are those of ncps 1.0.1's CfC(...).state_dict(keep_vars=True),
// as printed by the reference for these configurations (the golden test
// checks names and shapes of 64 more, but not the order).
func TestTableMatchesReference(t *testing.T) {
	type ent struct {
		name  string
		shape []int
		train bool
	}
	lin := func(prefix string, out, in int) []ent {
		return []ent{{prefix + ".weight", []int{out, in}, true}, {prefix + ".bias", []int{out}, true}}
	}
	cat := func(parts ...[]ent) []ent { return slices.Concat(parts...) }
	heads := func(prefix string, n, in int) []ent {
		return cat(lin(prefix+"ff1", n, in), lin(prefix+"ff2", n, in), lin(prefix+"time_a", n, in), lin(prefix+"time_b", n, in))
	}
	autoNCP := func() *wiring.Wiring { return testWiring(t, "autoncp") } // AutoNCP(10, 2): layers 5, 3, 2
	fc := func() *wiring.Wiring {
		w, err := wiring.NewFullyConnected(5, 2, 1111, true)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []ent
	}{
		{"CfC(3, 8)", DefaultConfig(3, 8), cat(lin("rnn_cell.backbone.0", 128, 11), heads("rnn_cell.", 8, 128))},
		{"CfC(3, 8, mode=pure, backbone_layers=0)",
			Config{InputSize: 3, Units: 8, Mode: Pure, BackboneUnits: 128},
			cat([]ent{{"rnn_cell.w_tau", []int{1, 8}, true}, {"rnn_cell.A", []int{1, 8}, true}}, lin("rnn_cell.ff1", 8, 11))},
		{"CfC(3, 8, backbone_layers=3, backbone_dropout=0.1, mixed_memory=True, proj_size=2)",
			Config{InputSize: 3, Units: 8, BackboneUnits: 128, BackboneLayers: 3, BackboneDropout: 0.1, MixedMemory: true, ProjSize: 2},
			cat(lin("rnn_cell.backbone.0", 128, 11), lin("rnn_cell.backbone.2", 128, 128), lin("rnn_cell.backbone.5", 128, 128),
				heads("rnn_cell.", 8, 128), lin("lstm.input_map", 32, 3), []ent{{"lstm.recurrent_map.weight", []int{32, 8}, true}},
				lin("fc", 2, 8))},
		{"CfC(3, AutoNCP(10, 2), mixed_memory=True, proj_size=2)",
			Config{InputSize: 3, Wiring: autoNCP(), MixedMemory: true, ProjSize: 2},
			cat([]ent{{"rnn_cell.layer_0.sparsity_mask", []int{5, 8}, false}}, heads("rnn_cell.layer_0.", 5, 8),
				[]ent{{"rnn_cell.layer_1.sparsity_mask", []int{3, 8}, false}}, heads("rnn_cell.layer_1.", 3, 8),
				[]ent{{"rnn_cell.layer_2.sparsity_mask", []int{2, 5}, false}}, heads("rnn_cell.layer_2.", 2, 5),
				lin("lstm.input_map", 40, 3), []ent{{"lstm.recurrent_map.weight", []int{40, 10}, true}}, lin("fc", 2, 2))},
		{"CfC(3, FullyConnected(5, 2), mode=pure)",
			Config{InputSize: 3, Wiring: fc(), Mode: Pure},
			cat([]ent{{"rnn_cell.layer_0.sparsity_mask", []int{5, 8}, false}, {"rnn_cell.layer_0.w_tau", []int{1, 5}, true},
				{"rnn_cell.layer_0.A", []int{1, 5}, true}}, lin("rnn_cell.layer_0.ff1", 5, 8))},
	} {
		m, err := New[float32](tc.cfg, 1)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []ent
		off := 0
		for _, e := range m.Table {
			got = append(got, ent{e.Name, e.Shape, e.Trainable})
			if e.Offset != off {
				t.Errorf("%s: %s at offset %d, want %d (entries are contiguous)", tc.name, e.Name, e.Offset, off)
			}
			off += e.Len()
		}
		if off != len(m.Params) {
			t.Errorf("%s: the table covers %d values, params has %d", tc.name, off, len(m.Params))
		}
		if !slices.EqualFunc(got, tc.want, func(a, b ent) bool {
			return a.name == b.name && slices.Equal(a.shape, b.shape) && a.train == b.train
		}) {
			t.Errorf("%s:\n got  %v\n want %v", tc.name, got, tc.want)
		}
	}
}

func wantErr(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", what, parts)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not mention %q", what, err, p)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	built := testWiring(t, "ncp")
	if err := built.Build(5); err != nil {
		t.Fatal(err)
	}
	wired := func(edit func(*Config)) Config {
		c := Config{InputSize: testInput, Wiring: testWiring(t, "ncp")}
		edit(&c)
		return c
	}
	plain := func(edit func(*Config)) Config {
		c := DefaultConfig(testInput, 4)
		edit(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"input 0", plain(func(c *Config) { c.InputSize = 0 }), []string{"input_size must be in [1, ", "got 0"}},
		{"units 0", plain(func(c *Config) { c.Units = 0 }), []string{"units must be in [1, ", "got 0"}},
		{"units -2", plain(func(c *Config) { c.Units = -2 }), []string{"units", "got -2"}},
		{"mode 7", plain(func(c *Config) { c.Mode = 7 }), []string{"mode must be", "Mode(7)"}},
		{"activation 9", plain(func(c *Config) { c.Activation = 9 }), []string{"activation must be", "Activation(9)"}},
		{"backbone_layers -1", plain(func(c *Config) { c.BackboneLayers = -1 }), []string{"backbone_layers must be in [0, ", "got -1"}},
		{"backbone_units -1", plain(func(c *Config) { c.BackboneUnits = -1 }), []string{"backbone_units must be in [1, ", "got -1"}},
		{"dropout 1", plain(func(c *Config) { c.BackboneDropout = 1 }), []string{"backbone_dropout must be in [0, 1)", "got 1"}},
		{"dropout NaN", plain(func(c *Config) { c.BackboneDropout = math.NaN() }), []string{"backbone_dropout", "NaN"}},
		{"proj -1", plain(func(c *Config) { c.ProjSize = -1 }), []string{"proj_size must be in [1, ", "got -1"}},
		{"wired units", wired(func(c *Config) { c.Units = 4 }), []string{"units must be 0 with a wiring"}},
		{"wired backbone_units", wired(func(c *Config) { c.BackboneUnits = 128 }), []string{"backbone_units cannot be used with a wiring"}},
		{"wired backbone_layers", wired(func(c *Config) { c.BackboneLayers = 1 }), []string{"backbone_layers cannot be used with a wiring"}},
		{"wired dropout", wired(func(c *Config) { c.BackboneDropout = 0.1 }), []string{"backbone_dropout cannot be used with a wiring"}},
		{"wired activation", wired(func(c *Config) { c.Activation = ReLU }), []string{"wired CfC uses lecun_tanh", "relu"}},
		{"wiring built for 5", Config{InputSize: testInput, Wiring: built}, []string{"wiring is built for 5 input features, not input_size=3"}},
		{"proj on fc with fewer outputs", Config{InputSize: testInput, Wiring: testWiring(t, "fc"), ProjSize: 2},
			[]string{"proj_size needs the wiring's last layer (5 neurons) to be its 2 outputs"}},
	} {
		_, err := New[float64](tc.cfg, 1)
		wantErr(t, tc.name, err, append([]string{"cfc: "}, tc.want...)...)
	}
	for _, tc := range []struct{ s, want string }{{"fast", "mode must be"}, {"Default", "mode must be"}} {
		_, err := ParseMode(tc.s)
		wantErr(t, "ParseMode "+tc.s, err, tc.want, tc.s)
	}
	_, err := ParseActivation("sigmoid")
	wantErr(t, "ParseActivation", err, "activation must be", "sigmoid")
	for a := LeCunTanh; a <= SiLU; a++ {
		if got, err := ParseActivation(a.String()); err != nil || got != a {
			t.Errorf("ParseActivation(%q) = %v, %v", a.String(), got, err)
		}
	}
	for md := Default; md <= NoGate; md++ {
		if got, err := ParseMode(md.String()); err != nil || got != md {
			t.Errorf("ParseMode(%q) = %v, %v", md.String(), got, err)
		}
	}
	// An unbuilt wiring is built on a copy; the caller's stays unbuilt.
	w := testWiring(t, "ncp")
	if _, err := New[float32](Config{InputSize: testInput, Wiring: w}, 1); err != nil {
		t.Fatal(err)
	}
	if w.IsBuilt() {
		t.Error("New built the caller's wiring")
	}
	// backbone_units 0 is the reference's degenerate model; refused here.
	if _, err := New[float32](plain(func(c *Config) { c.BackboneUnits = 0 }), 1); err == nil ||
		!strings.Contains(err.Error(), "backbone_units must be in [1, ") {
		t.Errorf("backbone_units 0: got error %v, want a refusal naming backbone_units", err)
	}
}

// sentinel fills s with a value no pass writes.
func sentinel[T Float](s []T) {
	for i := range s {
		s[i] = 12345
	}
}

func untouched[T Float](s []T) bool {
	for _, v := range s {
		if v != 12345 {
			return false
		}
	}
	return true
}

// TestBadInputsWriteNothing: every argument error names the argument and
// leaves the caller's arrays alone.
func TestBadInputsWriteNothing(t *testing.T) {
	m := newTestModel[float64](t, modelSpec{bbUnits: 5, bbLayers: 1, mixed: true}, 1)
	plain := newTestModel[float64](t, modelSpec{bbUnits: 5, bbLayers: 1}, 1)
	const b, st, n = 2, 3, 4
	good := func() Sequence[float64] {
		e := make([]float64, b*st)
		for i := range e {
			e[i] = 1
		}
		return Sequence[float64]{Batch: b, Steps: st, X: make([]float64, b*st*testInput),
			H0: make([]float64, b*n), C0: make([]float64, b*n), Elapsed: e}
	}
	out := func() Output[float64] {
		o := Output[float64]{Y: make([]float64, b*st*n), AllSteps: true, H: make([]float64, b*n), C: make([]float64, b*n)}
		sentinel(o.Y)
		sentinel(o.H)
		sentinel(o.C)
		return o
	}
	for _, tc := range []struct {
		name  string
		model *Model[float64]
		seq   func(*Sequence[float64])
		out   func(*Output[float64])
		want  []string
	}{
		{"batch 0", m, func(s *Sequence[float64]) { s.Batch = 0 }, nil, []string{"batch must be >= 1, got 0"}},
		{"steps 0", m, func(s *Sequence[float64]) { s.Steps = 0 }, nil, []string{"steps must be >= 1, got 0"}},
		{"x short", m, func(s *Sequence[float64]) { s.X = s.X[1:] }, nil, []string{"x must have shape (batch=2, steps=3, input=3) = 18 values, got 17"}},
		{"h0 long", m, func(s *Sequence[float64]) { s.H0 = append(s.H0, 0) }, nil, []string{"h0 must have shape (batch=2, state=4)", "got 9"}},
		{"c0 short", m, func(s *Sequence[float64]) { s.C0 = s.C0[:3] }, nil, []string{"c0 must have shape (batch=2, state=4)", "got 3"}},
		{"c0 without mixed memory", plain, nil, nil, []string{"c0 is only for mixed memory"}},
		{"elapsed short", m, func(s *Sequence[float64]) { s.Elapsed = s.Elapsed[1:] }, nil, []string{"elapsed must have shape (batch=2, steps=3)"}},
		{"elapsed 0", m, func(s *Sequence[float64]) { s.Elapsed[4] = 0 }, nil, []string{"elapsed times must be finite and > 0, got 0 at batch 1, step 1"}},
		{"elapsed negative", m, func(s *Sequence[float64]) { s.Elapsed[0] = -1 }, nil, []string{"got -1 at batch 0, step 0"}},
		{"elapsed NaN", m, func(s *Sequence[float64]) { s.Elapsed[2] = math.NaN() }, nil, []string{"got NaN at batch 0, step 2"}},
		{"elapsed +Inf", m, func(s *Sequence[float64]) { s.Elapsed[5] = math.Inf(1) }, nil, []string{"got +Inf at batch 1, step 2"}},
		{"y last-step shape", m, nil, func(o *Output[float64]) { o.AllSteps = false }, []string{"y must have shape (batch=2, output=4)"}},
		{"h short", m, nil, func(o *Output[float64]) { o.H = o.H[1:] }, []string{"h must have shape (batch=2, state=4)"}},
		{"c short", m, nil, func(o *Output[float64]) { o.C = o.C[1:] }, []string{"c must have shape (batch=2, state=4)"}},
	} {
		seq, o := good(), out()
		if tc.model == plain {
			o.C = nil
		}
		if tc.seq != nil {
			tc.seq(&seq)
		}
		if tc.out != nil {
			tc.out(&o)
		}
		var ws Workspace[float64]
		err := tc.model.Forward(&ws, seq, o, Pass{Keep: true})
		wantErr(t, tc.name, err, append([]string{"cfc: "}, tc.want...)...)
		if !untouched(o.Y) || !untouched(o.H) || (o.C != nil && !untouched(o.C)) {
			t.Errorf("%s: the failed Forward wrote into its outputs", tc.name)
		}
		if len(ws.tape) != 0 {
			t.Errorf("%s: the failed Forward allocated a tape", tc.name)
		}
		if err := tc.model.Backward(&ws, nil, nil, nil, Gradients[float64]{}); err == nil {
			t.Errorf("%s: Backward after a failed Forward succeeded", tc.name)
		}
	}
	// A model whose Params was replaced by a slice of the wrong length.
	short := newTestModel[float64](t, modelSpec{bbUnits: 5, bbLayers: 1}, 1)
	short.Params = short.Params[1:]
	var ws Workspace[float64]
	wantErr(t, "short params", short.Forward(&ws, Sequence[float64]{Batch: 1, Steps: 1, X: make([]float64, testInput)}, Output[float64]{}, Pass{}),
		"cfc: params must hold")
}

// TestBackwardErrors: Backward needs its own model's taped Forward, once,
// and checks every gradient's shape before writing any.
func TestBackwardErrors(t *testing.T) {
	m := newTestModel[float64](t, modelSpec{bbUnits: 5, bbLayers: 1, mixed: true}, 1)
	other := newTestModel[float64](t, modelSpec{bbUnits: 5, bbLayers: 1, mixed: true}, 2)
	const b, st, n = 2, 3, 4
	seq := Sequence[float64]{Batch: b, Steps: st, X: make([]float64, b*st*testInput)}
	fwd := func(keep bool) *Workspace[float64] {
		var ws Workspace[float64]
		if err := m.Forward(&ws, seq, Output[float64]{}, Pass{Keep: keep}); err != nil {
			t.Fatal(err)
		}
		return &ws
	}
	full := func() Gradients[float64] {
		g := Gradients[float64]{Params: make([]float64, len(m.Params)), X: make([]float64, b*st*testInput),
			H0: make([]float64, b*n), C0: make([]float64, b*n), Elapsed: make([]float64, b*st)}
		for _, s := range [][]float64{g.Params, g.X, g.H0, g.C0, g.Elapsed} {
			sentinel(s)
		}
		return g
	}
	var empty Workspace[float64]
	wantErr(t, "no forward", m.Backward(&empty, nil, nil, nil, full()), "cfc: Backward needs a Forward of this model with Keep")
	wantErr(t, "forward without keep", m.Backward(fwd(false), nil, nil, nil, full()), "cfc: Backward needs a Forward")
	wantErr(t, "another model", other.Backward(fwd(true), nil, nil, nil, full()), "cfc: Backward needs a Forward of this model")
	ws := fwd(true)
	if err := m.Backward(ws, nil, nil, nil, full()); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "second backward", m.Backward(ws, nil, nil, nil, full()), "once per Forward")
	ws.Release()
	for _, tc := range []struct {
		name       string
		gy, gh, gc []float64
		edit       func(*Gradients[float64])
		want       string
	}{
		{"gy", make([]float64, 5), nil, nil, nil, "gy must have shape (batch=2, output=4)"},
		{"gh", nil, make([]float64, 5), nil, nil, "gh must have shape (batch=2, state=4)"},
		{"gc", nil, nil, make([]float64, 5), nil, "gc must have shape (batch=2, state=4)"},
		{"grad x", nil, nil, nil, func(g *Gradients[float64]) { g.X = g.X[1:] }, "grad x must have shape (batch=2, steps=3, input=3)"},
		{"grad h0", nil, nil, nil, func(g *Gradients[float64]) { g.H0 = g.H0[1:] }, "grad h0 must have shape"},
		{"grad c0", nil, nil, nil, func(g *Gradients[float64]) { g.C0 = g.C0[1:] }, "grad c0 must have shape"},
		{"grad elapsed", nil, nil, nil, func(g *Gradients[float64]) { g.Elapsed = g.Elapsed[1:] }, "grad elapsed must have shape"},
		{"grad params", nil, nil, nil, func(g *Gradients[float64]) { g.Params = g.Params[1:] }, "grad params must hold"},
	} {
		ws := fwd(true)
		g := full()
		if tc.edit != nil {
			tc.edit(&g)
		}
		wantErr(t, tc.name, m.Backward(ws, tc.gy, tc.gh, tc.gc, g), "cfc: "+tc.want)
		for _, s := range [][]float64{g.Params, g.X, g.H0, g.C0, g.Elapsed} {
			if !untouched(s) {
				t.Errorf("%s: the failed Backward wrote gradients", tc.name)
				break
			}
		}
		// The tape survives a refused call.
		if err := m.Backward(ws, nil, nil, nil, full()); err != nil {
			t.Errorf("%s: Backward after a refused one: %v", tc.name, err)
		}
	}
	plain := newTestModel[float64](t, modelSpec{bbUnits: 5, bbLayers: 1}, 1)
	var pws Workspace[float64]
	if err := plain.Forward(&pws, seq, Output[float64]{}, Pass{Keep: true}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "gc without mixed memory", plain.Backward(&pws, nil, nil, make([]float64, b*n), Gradients[float64]{}), "only for mixed memory")
}

// convert returns a float32 copy of a float64 model (same parameters).
func convert(t *testing.T, s modelSpec, m64 *Model[float64]) *Model[float32] {
	m32 := newTestModel[float32](t, s, 1)
	for i, v := range m64.Params {
		m32.Params[i] = float32(v)
	}
	return m32
}

func toF32(s []float64) []float32 {
	if s == nil {
		return nil
	}
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v)
	}
	return out
}

func maxRelErr[A, B Float](got []A, want []B) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	if math.IsNaN(d) || len(got) != len(want) {
		return math.Inf(1)
	}
	return d / math.Max(m, 1e-30)
}

// TestFloat32MatchesFloat64: the float32 model computes what the float64
// one does to float32 round-off, over every gradient case (tolerances as
// the golden test's: 1e-5 forward, 1e-4 gradients, relative to the array's
// largest value). Where kern32's kernels run, both float32 paths are
// checked: the kernels' and gonum's.
func TestFloat32MatchesFloat64(t *testing.T) {
	testFloat32MatchesFloat64(t, "")
	if kern32.Available {
		kern32.Available = false
		defer func() { kern32.Available = true }()
		testFloat32MatchesFloat64(t, "gonum: ")
	}
}

func testFloat32MatchesFloat64(t *testing.T, path string) {
	worstF, worstG := 0.0, 0.0
	for i, tc := range gradCases() {
		m64 := newTestModel[float64](t, tc.modelSpec, uint64(i+1))
		m32 := convert(t, tc.modelSpec, m64)
		in64 := newTestInputs(m64, tc, rand.New(rand.NewPCG(uint64(i+1), 9)))
		in32 := testInputs[float32]{seq: Sequence[float32]{Batch: tc.batch, Steps: tc.steps, X: toF32(in64.seq.X),
			H0: toF32(in64.seq.H0), C0: toF32(in64.seq.C0), Elapsed: toF32(in64.seq.Elapsed)},
			gy: toF32(in64.gy), gh: toF32(in64.gh), gc: toF32(in64.gc)}
		var ws64 Workspace[float64]
		var ws32 Workspace[float32]
		r64 := runModel(t, m64, &ws64, tc, in64)
		r32 := runModel(t, m32, &ws32, tc, in32)
		for _, p := range []struct {
			name      string
			got       []float32
			want      []float64
			tol       float64
			isForward bool
		}{
			{"y", r32.y, r64.y, 1e-5, true}, {"h", r32.h, r64.h, 1e-5, true}, {"c", r32.c, r64.c, 1e-5, true},
			{"grad params", r32.g.Params, r64.g.Params, 1e-4, false}, {"grad x", r32.g.X, r64.g.X, 1e-4, false},
			{"grad h0", r32.g.H0, r64.g.H0, 1e-4, false}, {"grad c0", r32.g.C0, r64.g.C0, 1e-4, false},
			{"grad elapsed", r32.g.Elapsed, r64.g.Elapsed, 1e-4, false},
		} {
			if p.want == nil {
				continue
			}
			e := maxRelErr(p.got, p.want)
			if p.isForward {
				worstF = math.Max(worstF, e)
			} else {
				worstG = math.Max(worstG, e)
			}
			if e > p.tol {
				t.Errorf("%s%v: %s: float32 vs float64 relative error %.3g > %g", path, tc, p.name, e, p.tol)
			}
		}
	}
	t.Logf("%sworst: forward %.2e, gradients %.2e", path, worstF, worstG)
}

// TestSplitsAgree: the result does not depend, to the bit, on how many
// goroutines share the batch, on whether a tape is kept, or on a
// workspace's earlier use.
func TestSplitsAgree(t *testing.T) {
	tc := gradCase{modelSpec: modelSpec{bbUnits: 5, bbLayers: 3, dropout: 0.3, mixed: true, proj: 2, mode: Pure},
		batch: 37, steps: 5, elapsed: true, h0: true, c0: true, allSteps: true, train: true}
	m := newTestModel[float64](t, tc.modelSpec, 3)
	in := newTestInputs(m, tc, rand.New(rand.NewPCG(3, 3)))
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	defer func(w int) { minParallelWork = w }(minParallelWork)
	minParallelWork = 0 // split this small case as a large one
	var ws1 Workspace[float64]
	want := runModel(t, m, &ws1, tc, in)
	for _, procs := range []int{2, 3, 8} {
		runtime.GOMAXPROCS(procs)
		got := runModel(t, m, &ws1, tc, in) // the same workspace, regrown
		for _, p := range [][2][]float64{{got.y, want.y}, {got.h, want.h}, {got.c, want.c}, {got.g.Params, want.g.Params},
			{got.g.X, want.g.X}, {got.g.H0, want.g.H0}, {got.g.C0, want.g.C0}, {got.g.Elapsed, want.g.Elapsed}} {
			// Bit for bit: every sum over the batch (pure mode's A and
			// w_tau gradients included) runs in row order.
			if !slices.Equal(p[0], p[1]) {
				t.Errorf("GOMAXPROCS %d: relative difference %.3g from one goroutine", procs, maxRelErr(p[0], p[1]))
			}
		}
	}
	// Without a tape: the same outputs.
	y, h, c := make([]float64, len(want.y)), make([]float64, len(want.h)), make([]float64, len(want.c))
	var ws2 Workspace[float64]
	if err := m.Forward(&ws2, in.seq, Output[float64]{Y: y, AllSteps: true, H: h, C: c}, Pass{Train: true, Seed: 99}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(y, want.y) || !slices.Equal(h, want.h) || !slices.Equal(c, want.c) {
		t.Error("a Forward without tape differs from one with")
	}
}

// TestDropout: training passes drop backbone units after layers 2..n with
// the pass's seed; inference passes and layer 1 never drop.
func TestDropout(t *testing.T) {
	run := func(s modelSpec, pass Pass) []float64 {
		m := newTestModel[float64](t, s, 5)
		seq := Sequence[float64]{Batch: 4, Steps: 3, X: randSlice[float64](rand.New(rand.NewPCG(1, 1)), 4*3*testInput, 1)}
		y := make([]float64, 4*3*4)
		var ws Workspace[float64]
		if err := m.Forward(&ws, seq, Output[float64]{Y: y, AllSteps: true}, pass); err != nil {
			t.Fatal(err)
		}
		return y
	}
	s := modelSpec{bbUnits: 16, bbLayers: 2, dropout: 0.5}
	inference := run(s, Pass{})
	noDrop := run(modelSpec{bbUnits: 16, bbLayers: 2}, Pass{Train: true, Seed: 1})
	if !slices.Equal(inference, noDrop) {
		t.Error("the dropout rate changed an inference pass (or rate 0 changed a training pass)")
	}
	a, a2, b := run(s, Pass{Train: true, Seed: 1}), run(s, Pass{Train: true, Seed: 1}), run(s, Pass{Train: true, Seed: 2})
	if !slices.Equal(a, a2) {
		t.Error("the same seed gave different dropout")
	}
	if slices.Equal(a, inference) || slices.Equal(a, b) {
		t.Error("training passes do not drop, or ignore the seed")
	}
	// One backbone layer: no dropout (the reference drops after layers 2..n).
	one := modelSpec{bbUnits: 16, bbLayers: 1, dropout: 0.5}
	if !slices.Equal(run(one, Pass{Train: true, Seed: 1}), run(one, Pass{})) {
		t.Error("dropout after the first backbone layer")
	}
	// The mask keeps a fraction 1-p of the units.
	for _, p := range []float64{0.1, 0.5, 0.9} {
		kept, n := 0, 0
		for k := 1; k < 3; k++ {
			for tt := 0; tt < 50; tt++ {
				for bb := 0; bb < 20; bb++ {
					for j := 0; j < 30; j++ {
						n++
						if dropKeep(7, k, tt, bb, j, 50, 20, 30, p) {
							kept++
						}
					}
				}
			}
		}
		// 60000 draws: the standard deviation of the fraction is below 0.0021.
		if f := float64(kept) / float64(n); math.Abs(f-(1-p)) > 0.01 {
			t.Errorf("rate %g: kept %.4f of the units, want %.4f", p, f, 1-p)
		}
	}
}

// TestInitDistributions: New draws every parameter from the reference's
// distribution: uniform within the bounds the reference's initializers use
// (and filling them: the extremes come within 10% of the bound), an
// orthogonal LSTM recurrent matrix, and masks from the wiring.
func TestInitDistributions(t *testing.T) {
	m := newTestModel[float64](t, modelSpec{bbUnits: 64, bbLayers: 2, mixed: true, proj: 3, mode: Pure}, 11)
	bounds := map[string]float64{
		"rnn_cell.w_tau":             math.Sqrt(6.0 / (4 + 1)),
		"rnn_cell.A":                 math.Sqrt(6.0 / (4 + 1)),
		"rnn_cell.backbone.0.weight": math.Sqrt(6.0 / (64 + 7)),
		"rnn_cell.backbone.0.bias":   1 / math.Sqrt(7),
		"rnn_cell.backbone.2.weight": math.Sqrt(6.0 / (64 + 64)),
		"rnn_cell.backbone.2.bias":   1 / math.Sqrt(64),
		"rnn_cell.ff1.weight":        math.Sqrt(6.0 / (4 + 64)),
		"rnn_cell.ff1.bias":          1 / math.Sqrt(64),
		"lstm.input_map.weight":      math.Sqrt(6.0 / (16 + 3)),
		"lstm.input_map.bias":        0.1,
		"fc.weight":                  1 / math.Sqrt(4),
		"fc.bias":                    1 / math.Sqrt(4),
	}
	for _, e := range m.Table {
		v := m.Param(e.Name)
		if e.Name == "lstm.recurrent_map.weight" {
			// 16 x 4 with orthonormal columns.
			for a := 0; a < 4; a++ {
				for b := 0; b < 4; b++ {
					var dot float64
					for r := 0; r < 16; r++ {
						dot += v[r*4+a] * v[r*4+b]
					}
					want := 0.0
					if a == b {
						want = 1
					}
					if math.Abs(dot-want) > 1e-12 {
						t.Errorf("recurrent_map columns %d, %d: dot %v, want %v", a, b, dot, want)
					}
				}
			}
			continue
		}
		bound, ok := bounds[e.Name]
		if !ok {
			t.Errorf("no expected bound for %s", e.Name)
			continue
		}
		var hi float64
		for _, x := range v {
			hi = math.Max(hi, math.Abs(x))
		}
		if hi > bound || (len(v) >= 60 && hi < 0.9*bound) {
			t.Errorf("%s: largest |value| %.4g, want uniform within %.4g", e.Name, hi, bound)
		}
	}
	// Seeds: the same seed gives the same parameters, another differs.
	a, b := newTestModel[float64](t, modelSpec{bbUnits: 5, bbLayers: 1}, 1), newTestModel[float64](t, modelSpec{bbUnits: 5, bbLayers: 1}, 1)
	c := newTestModel[float64](t, modelSpec{bbUnits: 5, bbLayers: 1}, 2)
	if !slices.Equal(a.Params, b.Params) || slices.Equal(a.Params, c.Params) {
		t.Error("parameters do not follow the seed")
	}
	// Wired masks: |adjacency| transposed over ones, never trained.
	w := newTestModel[float64](t, modelSpec{wired: "ncp"}, 1)
	wr := w.Config().Wiring
	adj, sen, u := wr.Adjacency(), wr.SensoryAdjacency(), wr.Units()
	var prev []int
	for l, size := range w.LayerSizes() {
		ids, _ := wr.NeuronsOfLayer(l)
		if len(ids) != size {
			t.Fatalf("layer %d: %d neurons, LayerSizes says %d", l, len(ids), size)
		}
		in := testInput
		if l > 0 {
			in = len(prev)
		}
		mask := w.Param(rnnName(l, "sparsity_mask"))
		for j, id := range ids {
			for i := 0; i < in+size; i++ {
				want := 1.0
				switch {
				case i < in && l == 0:
					want = math.Abs(float64(sen[i*u+id]))
				case i < in:
					want = math.Abs(float64(adj[prev[i]*u+id]))
				}
				if got := mask[j*(in+size)+i]; got != want {
					t.Fatalf("layer %d mask[%d, %d] = %v, want %v", l, j, i, got, want)
				}
			}
		}
		prev = ids
	}
}

func rnnName(l int, leaf string) string {
	return "rnn_cell.layer_" + string(rune('0'+l)) + "." + leaf
}

// TestSteadyStateAllocations: after a warm-up call, a single-goroutine
// Forward and Backward allocate nothing.
func TestSteadyStateAllocations(t *testing.T) {
	m := newTestModel[float32](t, modelSpec{bbUnits: 8, bbLayers: 2, mixed: true, proj: 2}, 1)
	rng := rand.New(rand.NewPCG(1, 1))
	seq := Sequence[float32]{Batch: 3, Steps: 4, X: randSlice[float32](rng, 3*4*testInput, 1)}
	y, gy := make([]float32, 3*4*2), randSlice[float32](rng, 3*4*2, 1)
	g := Gradients[float32]{Params: make([]float32, len(m.Params)), X: make([]float32, len(seq.X))}
	var ws Workspace[float32]
	step := func() {
		if err := m.Forward(&ws, seq, Output[float32]{Y: y, AllSteps: true}, Pass{Keep: true}); err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(&ws, gy, nil, nil, g); err != nil {
			t.Fatal(err)
		}
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	step()
	if n := testing.AllocsPerRun(10, step); n != 0 {
		t.Errorf("%v allocations per Forward+Backward after warm-up, want 0", n)
	}
}

// TestTapeBytes: the tape holds batch x steps rows of TapeWidth values, and
// a tape the machine cannot hold is refused.
func TestTapeBytes(t *testing.T) {
	m := newTestModel[float32](t, modelSpec{bbUnits: 5, bbLayers: 1}, 1)
	seq := Sequence[float32]{Batch: 3, Steps: 2, X: make([]float32, 3*2*testInput)}
	var ws Workspace[float32]
	if err := m.Forward(&ws, seq, Output[float32]{}, Pass{Keep: true}); err != nil {
		t.Fatal(err)
	}
	if got, want := m.TapeBytes(3, 2), float64(len(ws.tape)*4); got != want {
		t.Errorf("TapeBytes %v, tape %v bytes", got, want)
	}
	// 3 + 4 (cat) + 2*5 (backbone) + 16 (heads) + 4 (state).
	if m.TapeWidth() != 37 {
		t.Errorf("TapeWidth %d, want 37", m.TapeWidth())
	}
	if err := m.checkTapeSize(1<<40, 1<<20); err == nil || !strings.Contains(err.Error(), "the tape of this call would take") {
		t.Errorf("a tape of 2^60 rows: %v", err)
	}
}
