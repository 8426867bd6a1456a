package core

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/diff/fd"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// The wirings every property below is checked on: one per kind, small enough
// for per-coordinate finite differences, with fewer outputs than neurons so
// that the motor slice is exercised.
var testWirings = []string{"fully_connected", "random", "ncp", "autoncp", "custom"}

// testSensory is the input dimension of the test cells.
const testSensory = 3

// newTestWiring builds a wiring of the given kind over testSensory inputs.
// The custom wiring gets each synapse with probability 1/2 and a random
// polarity, drawn from seed.
func newTestWiring(tb testing.TB, kind string, seed uint64) *wiring.Wiring {
	tb.Helper()
	var (
		w   *wiring.Wiring
		err error
	)
	switch kind {
	case "fully_connected":
		w, err = wiring.NewFullyConnected(6, 2, seed, true)
	case "random":
		w, err = wiring.NewRandom(7, 3, 0.5, seed)
	case "ncp":
		// 3 inter, 2 command, 2 motor neurons.
		w, err = wiring.NewNCP(3, 2, 2, 2, 2, 3, 2, seed)
	case "autoncp":
		w, err = wiring.NewAutoNCP(8, 2, 0.5, seed)
	case "custom":
		w, err = wiring.NewCustom(5)
		if err == nil {
			err = w.SetOutputDim(2)
		}
		if err == nil {
			err = w.SetInputDim(testSensory)
		}
		rng := rand.New(rand.NewPCG(seed, 99))
		pol := func() int { return 2*rng.IntN(2) - 1 }
		for src := 0; src < 5 && err == nil; src++ {
			for dst := 0; dst < 5 && err == nil; dst++ {
				if rng.IntN(2) == 0 {
					err = w.AddSynapse(src, dst, pol())
				}
			}
		}
		for src := 0; src < testSensory && err == nil; src++ {
			for dst := 0; dst < 5 && err == nil; dst++ {
				if rng.IntN(2) == 0 {
					err = w.AddSensorySynapse(src, dst, pol())
				}
			}
		}
	default:
		tb.Fatalf("unknown wiring kind %q", kind)
	}
	if err == nil {
		err = w.Build(testSensory)
	}
	if err != nil {
		tb.Fatalf("%s wiring: %v", kind, err)
	}
	return w
}

// randomParams draws parameters that keep the cell away from degenerate
// points: w, cm and gleak positive (raw values of either sign under implicit
// constraints, where softplus makes them positive), erev moved off ±1,
// sigmoids mostly unsaturated. Masked synapses get random nonzero values
// too, so that a kernel that reads them would show.
func randomParams(sh Shape, adj, sen []int32, o Options, rng *rand.Rand) *Params[float64] {
	p := Alloc[float64](sh, o.InputMapping, o.OutputMapping)
	u := func(lo, hi float64) float64 { return lo + rng.Float64()*(hi-lo) }
	for _, f := range p.Fields(sh, o.InputMapping, o.OutputMapping) {
		d := *f.Data
		for i := range d {
			switch f.Name {
			case "gleak", "w", "sensory_w":
				d[i] = u(0.1, 1)
				if o.ImplicitConstraints {
					d[i] = u(-1, 1)
				}
			case "cm":
				d[i] = u(0.4, 0.8)
				if o.ImplicitConstraints {
					d[i] = u(-0.5, 0.5)
				}
			case "vleak":
				d[i] = u(-0.3, 0.3)
			case "sigma", "sensory_sigma":
				d[i] = u(1, 5)
			case "mu", "sensory_mu":
				d[i] = u(-0.4, 0.6)
			case "erev":
				d[i] = float64(adj[i]) + u(-0.3, 0.3)
			case "sensory_erev":
				d[i] = float64(sen[i]) + u(-0.3, 0.3)
			case "sparsity_mask":
				d[i] = math.Abs(float64(adj[i]))
			case "sensory_sparsity_mask":
				d[i] = math.Abs(float64(sen[i]))
			case "input_w", "output_w":
				d[i] = u(0.5, 1.5)
			case "input_b", "output_b":
				d[i] = u(-0.3, 0.3)
			default:
				panic("randomParams: unknown parameter " + f.Name)
			}
		}
	}
	return p
}

// cellSpec is one test cell configuration.
type cellSpec struct {
	wiring   string
	in, out  Mapping
	unfolds  int
	implicit bool
	seed     uint64
}

func (s cellSpec) String() string {
	imp := "explicit"
	if s.implicit {
		imp = "implicit"
	}
	return fmt.Sprintf("%s/%v-%v/k%d/%s", s.wiring, s.in, s.out, s.unfolds, imp)
}

func (s cellSpec) options() Options {
	return Options{InputMapping: s.in, OutputMapping: s.out, ODEUnfolds: s.unfolds, Epsilon: 1e-8,
		ImplicitConstraints: s.implicit}
}

// newTestCell builds a float64 cell for spec with randomParams.
func newTestCell(tb testing.TB, s cellSpec) *Cell[float64] {
	tb.Helper()
	w := newTestWiring(tb, s.wiring, s.seed)
	sh := Shape{Units: w.Units(), Sensory: testSensory, Motor: w.OutputDim()}
	rng := rand.New(rand.NewPCG(s.seed, 1))
	p := randomParams(sh, w.Adjacency(), w.SensoryAdjacency(), s.options(), rng)
	c, err := NewCell(sh, s.options(), p)
	if err != nil {
		tb.Fatalf("%v: %v", s, err)
	}
	return c
}

// cellAs converts a cell's parameters to another precision.
func cellAs[T, S Float](c *Cell[S]) *Cell[T] {
	return &Cell[T]{Shape: c.Shape, Opts: c.Opts, Params: paramsAs[T](c.Params)}
}

func paramsAs[T, S Float](p *Params[S]) *Params[T] {
	q := &Params[T]{}
	src := p.Fields(Shape{}, Affine, Affine)
	dst := q.Fields(Shape{}, Affine, Affine)
	for i := range src {
		if *src[i].Data != nil {
			*dst[i].Data = convert[T](*src[i].Data)
		}
	}
	return q
}

func convert[T, S Float](s []S) []T {
	if s == nil {
		return nil
	}
	d := make([]T, len(s))
	for i, v := range s {
		d[i] = T(v)
	}
	return d
}

// testInputs are one batch of inputs and the loss weights gy, gh.
type testInputs struct {
	seq      Sequence[float64]
	allSteps bool
	gy, gh   []float64
}

// newTestInputs draws x ~ N(0, 1), h0 ~ U(-0.5, 0.5), elapsed ~ U(0.5, 1.5)
// (when withElapsed) and gy, gh ~ N(0, 1).
func newTestInputs(sh Shape, batch, steps int, withElapsed, allSteps bool, rng *rand.Rand) testInputs {
	in := testInputs{allSteps: allSteps}
	in.seq = Sequence[float64]{Batch: batch, Steps: steps, X: make([]float64, batch*steps*sh.Sensory),
		H0: make([]float64, batch*sh.Units)}
	for i := range in.seq.X {
		in.seq.X[i] = rng.NormFloat64()
	}
	for i := range in.seq.H0 {
		in.seq.H0[i] = rng.Float64() - 0.5
	}
	if withElapsed {
		in.seq.Elapsed = make([]float64, batch*steps)
		for i := range in.seq.Elapsed {
			in.seq.Elapsed[i] = 0.5 + rng.Float64()
		}
	}
	ny := batch * sh.Motor
	if allSteps {
		ny *= steps
	}
	in.gy, in.gh = make([]float64, ny), make([]float64, batch*sh.Units)
	for i := range in.gy {
		in.gy[i] = rng.NormFloat64()
	}
	for i := range in.gh {
		in.gh[i] = rng.NormFloat64()
	}
	return in
}

func seqAs[T Float](s Sequence[float64]) Sequence[T] {
	return Sequence[T]{Batch: s.Batch, Steps: s.Steps, X: convert[T](s.X), H0: convert[T](s.H0), Elapsed: convert[T](s.Elapsed)}
}

// result is everything one forward and backward pass produces.
type result[T Float] struct {
	y, h []T
	g    Gradients[T]
}

// named lists the arrays of a result under their names, parameter
// gradients first (trainable ones only).
func (r result[T]) named(c *Cell[T]) []namedArray[T] {
	var a []namedArray[T]
	for _, f := range r.g.Params.Fields(c.Shape, c.Opts.InputMapping, c.Opts.OutputMapping) {
		if f.Trainable {
			a = append(a, namedArray[T]{"grad " + f.Name, *f.Data})
		}
	}
	a = append(a, namedArray[T]{"y", r.y}, namedArray[T]{"h", r.h},
		namedArray[T]{"grad x", r.g.X}, namedArray[T]{"grad h0", r.g.H0})
	if r.g.Elapsed != nil {
		a = append(a, namedArray[T]{"grad elapsed", r.g.Elapsed})
	}
	return a
}

type namedArray[T Float] struct {
	name string
	data []T
}

// newGradients allocates gradient buffers for c and seq, filled with a
// sentinel so that a value Backward fails to write shows.
func newGradients[T Float](c *Cell[T], seq Sequence[T]) Gradients[T] {
	g := Gradients[T]{Params: Alloc[T](c.Shape, c.Opts.InputMapping, c.Opts.OutputMapping),
		X: make([]T, len(seq.X)), H0: make([]T, seq.Batch*c.Shape.Units)}
	if seq.Elapsed != nil {
		g.Elapsed = make([]T, len(seq.Elapsed))
	}
	for _, f := range g.Params.Fields(c.Shape, c.Opts.InputMapping, c.Opts.OutputMapping) {
		fill(*f.Data, 12345)
	}
	fill(g.X, 12345)
	fill(g.H0, 12345)
	fill(g.Elapsed, 12345)
	return g
}

// run does one taped forward pass and one backward pass on ws (a fresh
// workspace when nil).
func run[T Float](tb testing.TB, c *Cell[T], ws *Workspace[T], seq Sequence[T], allSteps bool, gy, gh []T) result[T] {
	tb.Helper()
	if ws == nil {
		ws = new(Workspace[T])
	}
	steps := 1
	if allSteps {
		steps = seq.Steps
	}
	r := result[T]{y: make([]T, seq.Batch*steps*c.Shape.Motor), h: make([]T, seq.Batch*c.Shape.Units)}
	if err := c.Forward(ws, seq, Output[T]{Y: r.y, AllSteps: allSteps, H: r.h}, true); err != nil {
		tb.Fatalf("Forward: %v", err)
	}
	r.g = newGradients(c, seq)
	if err := c.Backward(ws, gy, gh, r.g); err != nil {
		tb.Fatalf("Backward: %v", err)
	}
	return r
}

// relErr is max|got-want| / max|want|, the error relative to the largest
// magnitude of want (floored at 1e-300 so that all-zero arrays compare
// absolutely); +Inf when got has a NaN that want has not, or lengths
// differ.
func relErr[T, S Float](got []T, want []S) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var d, m float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) != math.IsNaN(w) {
			return math.Inf(1)
		}
		if !math.IsNaN(w) {
			d = math.Max(d, math.Abs(g-w))
			m = math.Max(m, math.Abs(w))
		}
	}
	return d / math.Max(m, 1e-300)
}

// gradCase is one finite-difference check: a cell and a batch shape.
type gradCase struct {
	cellSpec
	batch, steps      int
	elapsed, allSteps bool
}

// gradCases crosses every wiring kind, input and output mapping, unfold
// count and constraint mode (180 cases), and draws the batch size (1, 3 or
// 9: 9 spills into a second 8-row lane block), the number of steps (2 to
// 4), per-sample elapsed times or not, and all-steps or last-step outputs
// from a generator seeded per case; TestGradientsFiniteDifference checks
// that every drawn value occurs with every wiring kind.
func gradCases() []gradCase {
	var cs []gradCase
	maps := []Mapping{Affine, Linear, None}
	n := 0
	for _, w := range testWirings {
		for _, in := range maps {
			for _, out := range maps {
				for _, k := range []int{1, 3} {
					for _, imp := range []bool{false, true} {
						n++
						rng := rand.New(rand.NewPCG(uint64(n), 2024))
						cs = append(cs, gradCase{
							cellSpec: cellSpec{wiring: w, in: in, out: out, unfolds: k, implicit: imp, seed: uint64(n)},
							batch:    []int{1, 3, 9}[rng.IntN(3)],
							steps:    2 + rng.IntN(3),
							elapsed:  rng.IntN(2) == 0,
							allSteps: rng.IntN(2) == 0,
						})
					}
				}
			}
		}
	}
	return cs
}

func (c gradCase) String() string {
	return fmt.Sprintf("%v/b%dt%d/elapsed=%v/all=%v", c.cellSpec, c.batch, c.steps, c.elapsed, c.allSteps)
}

// TestGradientsFiniteDifference checks every gradient Backward writes (all
// trainable parameters, x, h0 and elapsed) against gonum's central
// differences of the loss sum(y*gy) + sum(h*gh), in float64. Tolerance: the
// largest absolute error over an array, relative to the array's largest
// gradient, at most 1e-6. A central difference carries a rounding error of
// about 1e-16*|loss|/step, near 1e-11 here, so an array whose gradients are
// all below 1e-4 (h0's after a few steps of decay, 1e-5) is held to an
// absolute error of 1e-10 instead. The step is 5e-5 rather than gonum's
// default 6e-6, which makes that rounding error 8 times smaller while the
// truncation error, step**2 times the third derivative, stays far below
// the tolerance. Worst measured: 8e-8.
func TestGradientsFiniteDifference(t *testing.T) {
	cases := gradCases()
	seen := map[string]bool{}
	for _, c := range cases {
		seen[fmt.Sprint(c.wiring, " batch ", c.batch)] = true
		seen[fmt.Sprint(c.wiring, " elapsed ", c.elapsed)] = true
		seen[fmt.Sprint(c.wiring, " all steps ", c.allSteps)] = true
	}
	if len(seen) != len(testWirings)*(3+2+2) {
		t.Fatalf("the cases do not cover every batch size, elapsed and output mode with every wiring: %v", seen)
	}
	if testing.Short() {
		var some []gradCase
		for i := 0; i < len(cases); i += 4 {
			some = append(some, cases[i])
		}
		cases = some
	}
	const tol = 1e-6
	worst := 0.0
	for _, tc := range cases {
		t.Run(tc.String(), func(t *testing.T) {
			c := newTestCell(t, tc.cellSpec)
			rng := rand.New(rand.NewPCG(tc.seed, 3))
			in := newTestInputs(c.Shape, tc.batch, tc.steps, tc.elapsed, tc.allSteps, rng)
			got := run(t, c, nil, in.seq, in.allSteps, in.gy, in.gh)

			// Every differentiable input, aliased, with its analytic
			// gradient.
			type variable struct {
				name       string
				data, grad []float64
			}
			var vars []variable
			gf := got.g.Params.Fields(c.Shape, tc.in, tc.out)
			for i, f := range c.Params.Fields(c.Shape, tc.in, tc.out) {
				if f.Trainable {
					vars = append(vars, variable{f.Name, *f.Data, *gf[i].Data})
				}
			}
			vars = append(vars, variable{"x", in.seq.X, got.g.X}, variable{"h0", in.seq.H0, got.g.H0})
			if tc.elapsed {
				vars = append(vars, variable{"elapsed", in.seq.Elapsed, got.g.Elapsed})
			}
			var theta []float64
			for _, v := range vars {
				theta = append(theta, v.data...)
			}
			set := func(th []float64) {
				for _, v := range vars {
					th = th[copy(v.data, th):]
				}
			}
			var ws Workspace[float64]
			y, h := make([]float64, len(got.y)), make([]float64, len(got.h))
			loss := func(th []float64) float64 {
				set(th)
				if err := c.Forward(&ws, in.seq, Output[float64]{Y: y, AllSteps: tc.allSteps, H: h}, false); err != nil {
					t.Fatal(err)
				}
				var l float64
				for i := range y {
					l += y[i] * in.gy[i]
				}
				for i := range h {
					l += h[i] * in.gh[i]
				}
				return l
			}
			num := fd.Gradient(nil, loss, theta, &fd.Settings{Formula: fd.Central, Step: 5e-5})
			set(theta)
			for _, v := range vars {
				want := num[:len(v.data)]
				num = num[len(v.data):]
				scale := 0.0
				for _, w := range want {
					scale = math.Max(scale, math.Abs(w))
				}
				// relErr relative to max(scale, 1e-4).
				e := relErr(v.grad, want) * math.Max(scale, 1e-300) / math.Max(scale, 1e-4)
				worst = math.Max(worst, e)
				if e > tol {
					t.Errorf("gradient of %s: relative error %.3g > %g\ngot  %.6g\nwant %.6g", v.name, e, tol, v.grad, want)
				}
			}
		})
	}
	t.Logf("%d cases, worst error %.3g relative to max(largest gradient, 1e-4)", len(cases), worst)
}

// maskedFields pairs each synapse parameter with its mask.
func maskedFields[T Float](p *Params[T]) map[string][]T {
	return map[string][]T{
		"w": p.SparsityMask, "sigma": p.SparsityMask, "mu": p.SparsityMask, "erev": p.SparsityMask,
		"sensory_w": p.SensorySparsityMask, "sensory_sigma": p.SensorySparsityMask,
		"sensory_mu": p.SensorySparsityMask, "sensory_erev": p.SensorySparsityMask,
	}
}

// TestMaskedSynapsesGetZeroGradient checks that every masked synapse's w,
// sigma, mu and erev (and the sensory analogues) get a gradient of exactly
// zero, overwriting what the buffer held, in both precisions, and that the
// test wirings do have masked synapses.
func TestMaskedSynapsesGetZeroGradient(t *testing.T) {
	for i, kind := range testWirings {
		for _, imp := range []bool{false, true} {
			s := cellSpec{wiring: kind, in: Affine, out: Affine, unfolds: 2, implicit: imp, seed: uint64(100 + i)}
			t.Run(s.String(), func(t *testing.T) {
				c := newTestCell(t, s)
				in := newTestInputs(c.Shape, 9, 3, true, true, rand.New(rand.NewPCG(s.seed, 4)))
				checkMasked(t, "float64", c, run(t, c, nil, in.seq, true, in.gy, in.gh))
				c32 := cellAs[float32](c)
				checkMasked(t, "float32", c32, run(t, c32, nil, seqAs[float32](in.seq), true,
					convert[float32](in.gy), convert[float32](in.gh)))
			})
		}
	}
}

func checkMasked[T Float](t *testing.T, prec string, c *Cell[T], r result[T]) {
	t.Helper()
	masked := 0
	gf := r.g.Params.Fields(c.Shape, c.Opts.InputMapping, c.Opts.OutputMapping)
	for name, mask := range maskedFields(c.Params) {
		for _, f := range gf {
			if f.Name != name {
				continue
			}
			for i, m := range mask {
				if m != 0 {
					continue
				}
				masked++
				if g := (*f.Data)[i]; g != 0 {
					t.Errorf("%s: gradient of %s at masked synapse %d = %v, want exactly 0", prec, name, i, g)
				}
			}
		}
	}
	if c.Shape.Units*c.Shape.Units > countNonzero(convert[float32](c.Params.SparsityMask)) && masked == 0 {
		t.Errorf("%s: no masked synapse checked", prec)
	}
}

// TestFloat32MatchesFloat64 runs the same cell on the same inputs in both
// precisions (the gradient-check cells, over twice as many steps): outputs,
// final states and every gradient agree to float32 round-off, 1e-5
// relative to each array's largest magnitude (worst measured: 7.4e-7 for
// y and h, 7.6e-6 for the gradient of input_w). The gradients of cm and
// elapsed get 1e-4: they are sums of gv*(v[k]-v[k+1])/q over the unfolds,
// and the difference of two successive float32 states keeps only the
// digits in which they differ (worst measured 1.75e-5, with or without
// the vector kernels; the reference's float32 autograd has the same
// cancellation).
func TestFloat32MatchesFloat64(t *testing.T) {
	var worst roundOffWorst
	for _, tc := range gradCases() {
		t.Run(tc.String(), func(t *testing.T) {
			c := newTestCell(t, tc.cellSpec)
			in := newTestInputs(c.Shape, tc.batch, 2*tc.steps, tc.elapsed, tc.allSteps, rand.New(rand.NewPCG(tc.seed, 5)))
			want := run(t, c, nil, in.seq, tc.allSteps, in.gy, in.gh)
			c32 := cellAs[float32](c)
			got := run(t, c32, nil, seqAs[float32](in.seq), tc.allSteps, convert[float32](in.gy), convert[float32](in.gh))
			worst.compare(t, "float32 vs float64", got.named(c32), want.named(c))
		})
	}
	t.Logf("worst relative error %.3g, of cm's and elapsed's gradients %.3g (simdEnabled=%v)", worst.tight, worst.loose, simdEnabled)
}

// roundOffWorst compares arrays to float32 round-off: 1e-5 relative to each
// array's largest magnitude, 1e-4 for the gradients of cm and elapsed (see
// TestFloat32MatchesFloat64), keeping the worst error of each kind.
type roundOffWorst struct{ tight, loose float64 }

func (w *roundOffWorst) compare(t *testing.T, what string, got []namedArray[float32], want any) {
	t.Helper()
	var names []string
	var errs []float64
	switch wa := want.(type) {
	case []namedArray[float32]:
		for j := range wa {
			names, errs = append(names, wa[j].name), append(errs, relErr(got[j].data, wa[j].data))
		}
	case []namedArray[float64]:
		for j := range wa {
			names, errs = append(names, wa[j].name), append(errs, relErr(got[j].data, wa[j].data))
		}
	}
	for j, e := range errs {
		tol := 1e-5
		if names[j] == "grad cm" || names[j] == "grad elapsed" {
			tol = 1e-4
			w.loose = math.Max(w.loose, e)
		} else {
			w.tight = math.Max(w.tight, e)
		}
		if e > tol {
			t.Errorf("%s: %s relative error %.3g > %g", what, names[j], e, tol)
		}
	}
}

// TestDefaultInputs checks that nil H0 is a zero state, nil Elapsed is 1.0
// for every step, nil gy and gh are zero gradients, and that Forward writes
// only what is asked for (nil Y, nil H).
func TestDefaultInputs(t *testing.T) {
	c := newTestCell(t, cellSpec{wiring: "ncp", in: Affine, out: Affine, unfolds: 3, seed: 7})
	sh := c.Shape
	in := newTestInputs(sh, 9, 4, true, true, rand.New(rand.NewPCG(7, 7)))
	zero := make([]float64, len(in.seq.H0))
	ones := make([]float64, len(in.seq.Elapsed))
	fill(ones, 1)
	explicit := in.seq
	explicit.H0, explicit.Elapsed = zero, ones
	implicit := in.seq
	implicit.H0, implicit.Elapsed = nil, nil
	want := run(t, c, nil, explicit, true, in.gy, in.gh)
	got := run(t, c, nil, implicit, true, in.gy, in.gh)
	for _, a := range [][2][]float64{{got.y, want.y}, {got.h, want.h}, {got.g.X, want.g.X}, {got.g.H0, want.g.H0}} {
		if e := relErr(a[0], a[1]); e != 0 {
			t.Errorf("nil h0/elapsed differ from explicit zeros/ones: relative error %g", e)
		}
	}
	for i, w := range want.g.Params.Fields(sh, Affine, Affine) {
		g := *got.g.Params.Fields(sh, Affine, Affine)[i].Data
		if w.Trainable && relErr(g, *w.Data) != 0 {
			t.Errorf("gradient of %s: nil h0/elapsed differ from explicit zeros/ones", w.Name)
		}
	}

	// nil gy is gy = 0, nil gh is gh = 0.
	var ws Workspace[float64]
	zy, zh := make([]float64, len(in.gy)), make([]float64, len(in.gh))
	for _, tc := range []struct {
		name           string
		gy, gh, wy, wh []float64
	}{{"nil gy", nil, in.gh, zy, in.gh}, {"nil gh", in.gy, nil, in.gy, zh}} {
		r := run(t, c, &ws, in.seq, true, tc.wy, tc.wh)
		g := newGradients(c, in.seq)
		if err := c.Backward(&ws, tc.gy, tc.gh, g); err != nil {
			t.Fatal(err)
		}
		if e := relErr(g.X, r.g.X); e != 0 {
			t.Errorf("%s: grad x differs from explicit zeros by %g", tc.name, e)
		}
		if e := relErr(g.Params.W, r.g.Params.W); e != 0 {
			t.Errorf("%s: grad w differs from explicit zeros by %g", tc.name, e)
		}
	}

	// Y nil or H nil: the other is still written, and the same.
	h := make([]float64, len(want.h))
	if err := c.Forward(&ws, explicit, Output[float64]{H: h}, false); err != nil {
		t.Fatal(err)
	}
	if e := relErr(h, want.h); e != 0 {
		t.Errorf("Forward with nil Y: h differs by %g", e)
	}
	yl := make([]float64, 9*sh.Motor)
	if err := c.Forward(&ws, explicit, Output[float64]{Y: yl}, false); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 9; b++ {
		last := want.y[(b*4+3)*sh.Motor:][:sh.Motor]
		if e := relErr(yl[b*sh.Motor:][:sh.Motor], last); e != 0 {
			t.Errorf("last-step y of row %d differs from the all-steps y by %g", b, e)
		}
	}
}

// isFinite reports whether every value of s is finite.
func isFinite[T Float](s []T) bool {
	for _, v := range s {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

func hasNaN[T Float](s []T) bool {
	for _, v := range s {
		if v != v {
			return true
		}
	}
	return false
}

// TestNaNStaysInItsRow puts a NaN into one input feature (or initial state
// or elapsed time) of rows 2 and 8 (one in each 8-row lane block) at step 1
// and checks, in both precisions, that those rows' outputs and final states
// turn NaN while every other row stays finite, forward and backward, and
// that nothing panics.
//
// On fully connected wirings this is what the reference gives. On sparse
// wirings the reference differs: it multiplies sigmoid(NaN) by the zero
// mask entries, and NaN*0 is NaN, so every neuron of the row turns NaN
// (ncps 1.0.1 torch LTCCell, NCP(4, 3, 2, 2, 2, 2, 2, seed=1), NaN in
// feature 1: the whole row of h is NaN). Here masked synapses are never
// evaluated, so NaN spreads only along existing synapses: for the NCP below
// it reaches every motor neuron, but a neuron that no path from the NaN
// reaches stays finite.
func TestNaNStaysInItsRow(t *testing.T) {
	nan := math.NaN()
	for _, kind := range []string{"fully_connected", "ncp"} {
		c := newTestCell(t, cellSpec{wiring: kind, in: Affine, out: Affine, unfolds: 3, seed: 11})
		for _, where := range []string{"x", "h0", "elapsed"} {
			t.Run(kind+"/"+where, func(t *testing.T) {
				const batch, steps = 9, 3
				in := newTestInputs(c.Shape, batch, steps, true, true, rand.New(rand.NewPCG(11, 11)))
				bad := map[int]bool{2: true, 8: true}
				for b := range bad {
					switch where {
					case "x":
						in.seq.X[(b*steps+1)*testSensory+1] = nan
					case "h0":
						in.seq.H0[b*c.Shape.Units+c.Shape.Units-1] = nan
					case "elapsed":
						in.seq.Elapsed[b*steps+1] = nan
					}
				}
				check := func(prec string, y, h, gx []float64) {
					m, u := c.Shape.Motor, c.Shape.Units
					for b := 0; b < batch; b++ {
						yb := y[((b+1)*steps-1)*m:][:m] // last step
						hb := h[b*u:][:u]
						gxb := gx[b*steps*testSensory:][:steps*testSensory]
						if bad[b] {
							if !hasNaN(yb) || !hasNaN(hb) {
								t.Errorf("%s: row %d has a NaN input but y=%v h=%v", prec, b, yb, hb)
							}
							continue
						}
						if !isFinite(y[b*steps*m:][:steps*m]) || !isFinite(hb) || !isFinite(gxb) {
							t.Errorf("%s: row %d has finite inputs but y=%v h=%v grad x=%v", prec, b, yb, hb, gxb)
						}
					}
				}
				r := run(t, c, nil, in.seq, true, in.gy, in.gh)
				check("float64", r.y, r.h, r.g.X)
				c32 := cellAs[float32](c)
				r32 := run(t, c32, nil, seqAs[float32](in.seq), true, convert[float32](in.gy), convert[float32](in.gh))
				check("float32", convert[float64](r32.y), convert[float64](r32.h), convert[float64](r32.g.X))
			})
		}
	}
}

// TestInfInput documents what an infinite input does. With x = ±Inf in
// feature 1 of one row (affine mapping with positive input_w, positive
// sensory_sigma), the sensory sigmoids of that feature saturate at exactly
// 1 or 0 and every output and final state stays finite, as in the
// reference. Backward: the gradient of x is finite (it is 0 at the infinite
// feature), but the gradients of input_w[1] and of sensory_sigma at the
// synapses from feature 1 are non-finite: they multiply a zero (or, in the
// float32 vector kernels, whose sigmoid stops at exp(-88), a tiny) sigmoid
// slope by the infinite input. The reference gives NaN there too (and, as
// for NaN, also at the masked entries of that sensory_sigma row, which are
// exactly 0 here). Every other gradient stays finite.
func TestInfInput(t *testing.T) {
	c := newTestCell(t, cellSpec{wiring: "ncp", in: Affine, out: Affine, unfolds: 3, seed: 13})
	const batch, steps, row, feat = 9, 3, 4, 1
	for _, inf := range []float64{math.Inf(1), math.Inf(-1)} {
		in := newTestInputs(c.Shape, batch, steps, true, true, rand.New(rand.NewPCG(13, 13)))
		for s := 0; s < steps; s++ {
			in.seq.X[(row*steps+s)*testSensory+feat] = inf
		}
		check := func(prec string, named []namedArray[float64], sensoryMask []float64) {
			for _, a := range named {
				switch a.name {
				case "grad input_w":
					if isFinite(a.data[feat:feat+1]) || !isFinite(a.data[:feat]) || !isFinite(a.data[feat+1:]) {
						t.Errorf("%s x=%v: grad input_w = %v, want non-finite at %d only", prec, inf, a.data, feat)
					}
				case "grad sensory_sigma":
					u := c.Shape.Units
					for i, g := range a.data {
						wantFinite := i/u != feat || sensoryMask[i] == 0
						if isFinite([]float64{g}) != wantFinite {
							t.Errorf("%s x=%v: grad sensory_sigma[%d] = %v, want finite=%v", prec, inf, i, g, wantFinite)
						}
					}
				default:
					if !isFinite(a.data) {
						t.Errorf("%s x=%v: %s = %v, want finite", prec, inf, a.name, a.data)
					}
				}
			}
		}
		r := run(t, c, nil, in.seq, true, in.gy, in.gh)
		check("float64", r.named(c), c.Params.SensorySparsityMask)
		c32 := cellAs[float32](c)
		r32 := run(t, c32, nil, seqAs[float32](in.seq), true, convert[float32](in.gy), convert[float32](in.gh))
		var named []namedArray[float64]
		for _, a := range r32.named(c32) {
			named = append(named, namedArray[float64]{a.name, convert[float64](a.data)})
		}
		check("float32", named, c.Params.SensorySparsityMask)
	}
}

// wantErr fails unless err is non-nil and its message contains every
// substring.
func wantErr(t *testing.T, name string, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want one containing %q", name, subs)
		return
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: got error %q, want it to contain %q", name, err, s)
		}
	}
}

// TestForwardErrors checks that every length error of Forward names the
// array and its expected shape, and that nothing is written.
func TestForwardErrors(t *testing.T) {
	c := newTestCell(t, cellSpec{wiring: "random", in: Affine, out: Affine, unfolds: 2, seed: 17})
	u, m := c.Shape.Units, c.Shape.Motor
	const b, st, s = 2, 3, testSensory
	good := func() (Sequence[float64], Output[float64]) {
		return Sequence[float64]{Batch: b, Steps: st, X: make([]float64, b*st*s), H0: make([]float64, b*u),
				Elapsed: make([]float64, b*st)},
			Output[float64]{Y: make([]float64, b*st*m), AllSteps: true, H: make([]float64, b*u)}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Sequence[float64], *Output[float64])
		wants []string
	}{
		{"batch 0", func(in *Sequence[float64], _ *Output[float64]) { in.Batch = 0 }, []string{"batch must be >= 1"}},
		{"batch -1", func(in *Sequence[float64], _ *Output[float64]) { in.Batch = -1 }, []string{"batch must be >= 1"}},
		{"steps 0", func(in *Sequence[float64], _ *Output[float64]) { in.Steps = 0 }, []string{"steps must be >= 1"}},
		{"x short", func(in *Sequence[float64], _ *Output[float64]) { in.X = in.X[1:] },
			[]string{"core: x must have shape (batch=2, steps=3, sensory=3) = 18 values, got 17"}},
		{"x nil", func(in *Sequence[float64], _ *Output[float64]) { in.X = nil },
			[]string{"x must have shape (batch=2, steps=3, sensory=3)", "got 0"}},
		{"h0 long", func(in *Sequence[float64], _ *Output[float64]) { in.H0 = append(in.H0, 0) },
			[]string{fmt.Sprintf("h0 must have shape (batch=2, units=%d) = %d values, got %d", u, b*u, b*u+1)}},
		{"elapsed short", func(in *Sequence[float64], _ *Output[float64]) { in.Elapsed = in.Elapsed[:b] },
			[]string{"elapsed must have shape (batch=2, steps=3) = 6 values, got 2"}},
		{"y all steps short", func(_ *Sequence[float64], o *Output[float64]) { o.Y = o.Y[1:] },
			[]string{fmt.Sprintf("y must have shape (batch=2, steps=3, motor=%d)", m)}},
		{"y last step long", func(_ *Sequence[float64], o *Output[float64]) { o.AllSteps = false },
			[]string{fmt.Sprintf("y must have shape (batch=2, motor=%d) = %d values, got %d", m, b*m, b*st*m)}},
		{"h short", func(_ *Sequence[float64], o *Output[float64]) { o.H = o.H[1:] },
			[]string{fmt.Sprintf("h must have shape (batch=2, units=%d)", u)}},
		// batch*steps*sensory wraps to 0 in an int: refused, not run.
		{"x size overflows", func(in *Sequence[float64], _ *Output[float64]) {
			in.Batch, in.Steps, in.X = 1<<62, 1<<62, nil
		}, []string{"x of shape (batch=4611686018427387904, steps=4611686018427387904, sensory=3) would hold more values than an int counts"}},
	} {
		in, out := good()
		tc.edit(&in, &out)
		fill(out.Y, 7)
		fill(out.H, 7)
		var ws Workspace[float64]
		wantErr(t, tc.name, c.Forward(&ws, in, out, true), tc.wants...)
		for _, v := range append(append([]float64{}, out.Y...), out.H...) {
			if v != 7 {
				t.Errorf("%s: Forward wrote outputs despite the error", tc.name)
				break
			}
		}
		if err := c.Backward(&ws, nil, nil, Gradients[float64]{}); err == nil {
			t.Errorf("%s: Backward after a failed Forward on a fresh workspace: got no error", tc.name)
		}
	}
}

// TestBackwardErrors checks that Backward refuses a workspace without a
// taped Forward of the same cell, and that every length error names the
// array and the expected number of values. (Backward's messages give the
// shape by axis names, "(batch, steps, motor) = 12 values", where Forward's
// give the sizes too; the checks accept either.)
func TestBackwardErrors(t *testing.T) {
	spec := cellSpec{wiring: "fully_connected", in: Affine, out: Affine, unfolds: 2, seed: 19}
	c := newTestCell(t, spec)
	u, m := c.Shape.Units, c.Shape.Motor
	const b, st = 2, 3
	in := newTestInputs(c.Shape, b, st, true, true, rand.New(rand.NewPCG(19, 19)))
	y, h := make([]float64, b*st*m), make([]float64, b*u)

	// No taped Forward.
	var ws Workspace[float64]
	wantErr(t, "fresh workspace", c.Backward(&ws, in.gy, in.gh, Gradients[float64]{}), "Backward needs a Forward")
	if err := c.Forward(&ws, in.seq, Output[float64]{Y: y, AllSteps: true, H: h}, false); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Forward with keep=false", c.Backward(&ws, in.gy, in.gh, Gradients[float64]{}), "keep=true")
	if err := c.Forward(&ws, in.seq, Output[float64]{Y: y, AllSteps: true, H: h}, true); err != nil {
		t.Fatal(err)
	}
	other := newTestCell(t, spec)
	wantErr(t, "Forward of another cell", other.Backward(&ws, in.gy, in.gh, Gradients[float64]{}), "same workspace")

	good := func() ([]float64, []float64, Gradients[float64]) {
		return in.gy, in.gh, newGradients(c, in.seq)
	}
	type edit func(gy, gh *[]float64, g *Gradients[float64])
	cases := []struct {
		name  string
		edit  edit
		wants []string
	}{
		{"gy short", func(gy, _ *[]float64, _ *Gradients[float64]) { *gy = (*gy)[1:] },
			[]string{"gy must have shape (batch", fmt.Sprintf("= %d values, got %d", b*st*m, b*st*m-1)}},
		{"gh long", func(_, gh *[]float64, _ *Gradients[float64]) { *gh = append(*gh, 0) },
			[]string{"gh must have shape (batch", fmt.Sprintf("= %d values, got %d", b*u, b*u+1)}},
		{"grad x short", func(_, _ *[]float64, g *Gradients[float64]) { g.X = g.X[1:] },
			[]string{"grad x must have shape (batch", "= 18 values, got 17"}},
		{"grad h0 short", func(_, _ *[]float64, g *Gradients[float64]) { g.H0 = g.H0[1:] },
			[]string{"grad h0 must have shape (batch", fmt.Sprintf("= %d values, got %d", b*u, b*u-1)}},
		{"grad elapsed short", func(_, _ *[]float64, g *Gradients[float64]) { g.Elapsed = g.Elapsed[1:] },
			[]string{"grad elapsed must have shape (batch", "= 6 values, got 5"}},
	}
	for _, f := range c.Params.Fields(c.Shape, Affine, Affine) {
		if !f.Trainable {
			continue
		}
		name := f.Name
		cases = append(cases, struct {
			name  string
			edit  edit
			wants []string
		}{"gradient of " + name, func(_, _ *[]float64, g *Gradients[float64]) {
			for _, gf := range g.Params.Fields(c.Shape, Affine, Affine) {
				if gf.Name == name {
					*gf.Data = (*gf.Data)[1:]
				}
			}
		}, []string{fmt.Sprintf("gradient of %s must have shape", name), fmt.Sprintf("= %d values, got %d", size(f.Shape), size(f.Shape)-1)}})
	}
	for _, tc := range cases {
		gy, gh, g := good()
		tc.edit(&gy, &gh, &g)
		wantErr(t, tc.name, c.Backward(&ws, gy, gh, g), tc.wants...)
	}
	// The last-step layout of gy.
	if err := c.Forward(&ws, in.seq, Output[float64]{Y: y[:b*m], H: h}, true); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "gy last step", c.Backward(&ws, in.gy, nil, Gradients[float64]{}),
		"gy must have shape (batch", fmt.Sprintf("= %d values, got %d", b*m, b*st*m))
}

// TestNewCellErrors checks that NewCell names a parameter of the wrong
// length, a missing one and one the mappings do not use, and rejects bad
// shapes and options.
func TestNewCellErrors(t *testing.T) {
	c := newTestCell(t, cellSpec{wiring: "autoncp", in: Affine, out: Affine, unfolds: 2, seed: 23})
	sh, o := c.Shape, c.Opts
	if _, err := NewCell(sh, o, c.Params); err != nil {
		t.Fatalf("valid parameters: %v", err)
	}
	for i, f := range c.Params.Fields(sh, Affine, Affine) {
		p := c.Params.Clone()
		d := p.Fields(sh, Affine, Affine)[i].Data
		*d = (*d)[1:]
		_, err := NewCell(sh, o, p)
		wantErr(t, "short "+f.Name, err, "parameter "+f.Name+" ", fmt.Sprintf("shape %v", f.Shape))
		*d = nil
		_, err = NewCell(sh, o, p)
		wantErr(t, "missing "+f.Name, err, "parameter "+f.Name+" ")
	}
	for _, tc := range []struct {
		in, out Mapping
		name    string
	}{{Linear, Affine, "input_b"}, {None, Affine, "input_w"}, {Affine, Linear, "output_b"}, {Affine, None, "output_w"}} {
		oo := o
		oo.InputMapping, oo.OutputMapping = tc.in, tc.out
		_, err := NewCell(sh, oo, c.Params)
		wantErr(t, fmt.Sprintf("%v-%v", tc.in, tc.out), err, "parameter "+tc.name+" is present")
	}
	for _, tc := range []struct {
		sh   Shape
		want string
	}{
		{Shape{0, 3, 0}, "units must be >= 1"},
		{Shape{4, 0, 1}, "sensory size"},
		{Shape{4, 3, 5}, "motor size"},
		{Shape{4, 3, -1}, "motor size"},
	} {
		_, err := NewCell(tc.sh, o, c.Params)
		wantErr(t, fmt.Sprint(tc.sh), err, tc.want)
	}
	bad := o
	bad.ODEUnfolds = 0
	_, err := NewCell(sh, bad, c.Params)
	wantErr(t, "NewCell ode_unfolds 0", err, "ode_unfolds")
	_, err = NewCell[float64](sh, o, nil)
	wantErr(t, "NewCell nil params", err, "params must not be nil")
}

func TestInitErrors(t *testing.T) {
	sh := Shape{Units: 2, Sensory: 1, Motor: 1}
	adj, sen := []int32{0, 1, -1, 0}, []int32{1, 1}
	rng := rand.New(rand.NewPCG(1, 2))
	o := DefaultOptions()
	if _, err := Init[float32](sh, adj, sen, o, nil, rng); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		adj, sen []int32
		ranges   map[string]InitRange
		rng      *rand.Rand
		want     string
	}{
		{"polarity 5", []int32{0, 5, -1, 0}, sen, nil, rng, "adjacency entries must be -1, 0 or 1, got 5 at 1"},
		{"sensory polarity -2", adj, []int32{1, -2}, nil, rng, "sensory adjacency entries must be -1, 0 or 1, got -2 at 1"},
		{"lo > hi", adj, sen, map[string]InitRange{"cm": {0.6, 0.4}}, rng, "initialization range of cm must be finite with lo <= hi"},
		{"NaN", adj, sen, map[string]InitRange{"gleak": {math.NaN(), 1}}, rng, "initialization range of gleak"},
		{"negative w", adj, sen, map[string]InitRange{"w": {-1, 1}}, rng, "initialization range of w must be non-negative"},
		{"nil rng", adj, sen, nil, nil, "rng must not be nil"},
	} {
		_, err := Init[float32](sh, tc.adj, tc.sen, o, tc.ranges, tc.rng)
		wantErr(t, tc.name, err, tc.want)
	}
}

// TestForwardChecksTheCell: a Cell changed after NewCell (its fields are
// exported) is checked again by Forward instead of failing inside a worker.
func TestForwardChecksTheCell(t *testing.T) {
	c := newTestCell(t, cellSpec{wiring: "random", in: Affine, out: Affine, unfolds: 2, seed: 17})
	c.Params.OutputW = nil
	in := Sequence[float64]{Batch: 64, Steps: 2, X: make([]float64, 64*2*testSensory)}
	out := Output[float64]{Y: make([]float64, 64*2*c.Shape.Motor), AllSteps: true}
	var ws Workspace[float64]
	wantErr(t, "output_w nil", c.Forward(&ws, in, out, false), "parameter output_w must have shape")
	c.Params.OutputW = make([]float64, c.Shape.Motor)
	c.Opts.ODEUnfolds = 0
	wantErr(t, "ode_unfolds 0", c.Forward(&ws, in, out, false), "ode_unfolds must be in")
}

// TestTapeLargerThanMemory: a tape the machine cannot hold is an error, not
// an allocation that would end the process.
func TestTapeLargerThanMemory(t *testing.T) {
	mem := machine.PhysicalMemory()
	if mem == 0 {
		t.Skip("the machine's memory is unknown on this platform")
	}
	c := newTestCell(t, cellSpec{wiring: "random", in: Affine, out: Affine, unfolds: 2, seed: 17})
	c.Opts.ODEUnfolds = MaxODEUnfolds
	// Enough steps for a tape of twice the memory, whatever the machine.
	perStep := uint64(2*MaxODEUnfolds+1) * uint64(c.Shape.Units) * lanes * 8
	b, st := 8, int(2*mem/perStep)+1
	in := Sequence[float64]{Batch: b, Steps: st, X: make([]float64, b*st*testSensory)}
	out := Output[float64]{Y: make([]float64, b*st*c.Shape.Motor), AllSteps: true}
	var ws Workspace[float64]
	wantErr(t, "huge tape", c.Forward(&ws, in, out, true), "the tape of this call (batch=8", "would take",
		"of memory this process may use", "run shorter sequences or smaller batches")
	if len(ws.tape) != 0 {
		t.Errorf("the refused call allocated a tape of %d values", len(ws.tape))
	}
}

// TestParallelReraisesWorkerPanics: a panic in a worker goroutine reaches
// the caller's goroutine (where the C ABI's guard recovers it) instead of
// ending the process.
func TestParallelReraisesWorkerPanics(t *testing.T) {
	for _, who := range []int{0, 1, 3} {
		got := func() (r any) {
			defer func() { r = recover() }()
			parallel(4, 8, func(w, lo, hi int) {
				if w == who {
					panic(fmt.Sprintf("worker %d", w))
				}
			})
			return nil
		}()
		if got != fmt.Sprintf("worker %d", who) {
			t.Errorf("panic in worker %d: recovered %v", who, got)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Errorf("DefaultOptions: %v", err)
	}
	ok := DefaultOptions()
	ok.Epsilon, ok.ODEUnfolds = 0, 1000
	if err := ok.Validate(); err != nil {
		t.Errorf("epsilon 0, ode_unfolds 1000: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"ode_unfolds 0", func(o *Options) { o.ODEUnfolds = 0 }, "ode_unfolds must be in [1, 100000], got 0"},
		{"ode_unfolds -3", func(o *Options) { o.ODEUnfolds = -3 }, "ode_unfolds must be in [1, 100000], got -3"},
		{"ode_unfolds above MaxODEUnfolds", func(o *Options) { o.ODEUnfolds = MaxODEUnfolds + 1 }, "ode_unfolds"},
		{"negative epsilon", func(o *Options) { o.Epsilon = -1e-8 }, "epsilon must be a finite number >= 0, got -1e-08"},
		{"NaN epsilon", func(o *Options) { o.Epsilon = math.NaN() }, "epsilon must be a finite number >= 0, got NaN"},
		{"Inf epsilon", func(o *Options) { o.Epsilon = math.Inf(1) }, "epsilon"},
		{"input mapping 3", func(o *Options) { o.InputMapping = 3 }, "input_mapping must be affine, linear or none, got Mapping(3)"},
		{"output mapping -1", func(o *Options) { o.OutputMapping = -1 }, "output_mapping"},
	} {
		o := DefaultOptions()
		tc.edit(&o)
		wantErr(t, tc.name, o.Validate(), tc.want)
	}
}

// ulps32 is |got - want| in units of the float32 spacing at want (2**-149
// for subnormal results).
func ulps32(got float32, want float64) float64 {
	w := float32(math.Abs(want))
	ulp := math.Nextafter32(w, float32(math.Inf(1))) - w
	return math.Abs(float64(got)-want) / float64(ulp)
}

// TestExp32 checks exp32 against math.Exp over a dense sweep of [-103, 88]
// (step 1e-4) and a million random points: at most 4 float32 ulp everywhere
// (the subnormal results below -87.3 included), which for normal results
// is a relative error of at most 4*2**-23 ~ 4.8e-7. And the special values.
func TestExp32(t *testing.T) {
	const maxULP = 4
	var worstULP, worstRel float64
	var worstX float32
	check := func(x float32) {
		want := math.Exp(float64(x))
		got := exp32(x)
		u := ulps32(got, want)
		if u > worstULP {
			worstULP, worstX = u, x
		}
		if want >= 0x1p-126 {
			worstRel = math.Max(worstRel, math.Abs(float64(got)-want)/want)
		}
	}
	for i := 0; ; i++ {
		x := float32(-103 + float64(i)*1e-4)
		if x > 88 {
			break
		}
		check(x)
	}
	rng := rand.New(rand.NewPCG(29, 29))
	for range 1000000 {
		check(float32(-103 + 191*rng.Float64()))
	}
	for _, x := range []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -87.33654, -87.33655, 88.72283, -103, 88, -103.97207} {
		check(x)
	}
	if worstULP > maxULP {
		t.Errorf("exp32(%v): error %.3g ulp > %d", worstX, worstULP, maxULP)
	}
	if worstRel > maxULP*0x1p-23 {
		t.Errorf("worst relative error on normal results %.3g > %.3g", worstRel, maxULP*0x1p-23)
	}
	t.Logf("worst error %.3g ulp at %v; worst relative error (normal results) %.3g", worstULP, worstX, worstRel)

	inf := float32(math.Inf(1))
	for _, tc := range []struct {
		x, want float32
	}{
		{inf, inf}, {-inf, 0}, {89, inf}, {88.73, inf}, {-104, 0}, {-200, 0}, {0, 1},
		{math.MaxFloat32, inf}, {-math.MaxFloat32, 0},
	} {
		if got := exp32(tc.x); got != tc.want {
			t.Errorf("exp32(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
	if got := exp32(float32(math.NaN())); got == got {
		t.Errorf("exp32(NaN) = %v, want NaN", got)
	}
	// exp32 never returns a negative value or NaN for a non-NaN argument,
	// and is monotone over the sweep's integer grid.
	prev := float32(0)
	for x := float32(-110); x <= 95; x += 0.25 {
		e := exp32(x)
		if e < prev || e != e {
			t.Errorf("exp32(%v) = %v after %v", x, e, prev)
		}
		prev = e
	}
}

// workspaceRun is one call in the workspace reuse sequence.
type workspaceRun struct {
	wiring            string
	batch, steps      int
	elapsed, allSteps bool
}

// TestWorkspaceReuse runs a sequence of forward and backward passes with
// different cells, batch sizes and step counts on one workspace, changing
// the parameters (masks included) in place between calls, and checks each
// against a fresh workspace: the results must be identical, bit for bit.
// Backward run twice into the same buffers must give the same gradients
// again (they are overwritten, not accumulated).
func TestWorkspaceReuse(t *testing.T) {
	// trainStep changes the masks after odd calls: calls 2, 4 and 8 run
	// the same cell as the call before with a changed mask.
	seq := []workspaceRun{
		{"fully_connected", 9, 3, true, true},
		{"fully_connected", 1, 5, false, false},
		{"fully_connected", 3, 1, false, true},
		{"ncp", 17, 2, true, false},
		{"ncp", 2, 6, false, true},
		{"fully_connected", 9, 3, true, true},
		{"custom", 8, 2, true, true},
		{"custom", 4, 3, false, false},
		{"custom", 9, 2, true, true},
	}
	cells := map[string]*Cell[float64]{}
	for i, r := range seq {
		if cells[r.wiring] == nil {
			cells[r.wiring] = newTestCell(t, cellSpec{wiring: r.wiring, in: Affine, out: Affine, unfolds: 3, seed: uint64(31 + i)})
		}
	}
	t.Run("float64", func(t *testing.T) { testWorkspaceReuse(t, seq, cells) })
	cells32 := map[string]*Cell[float32]{}
	for k, c := range cells {
		cells32[k] = cellAs[float32](c)
	}
	t.Run("float32", func(t *testing.T) { testWorkspaceReuse(t, seq, cells32) })
}

func testWorkspaceReuse[T Float](t *testing.T, seq []workspaceRun, cells map[string]*Cell[T]) {
	var ws Workspace[T]
	for i, r := range seq {
		c := cells[r.wiring]
		in := newTestInputs(c.Shape, r.batch, r.steps, r.elapsed, r.allSteps, rand.New(rand.NewPCG(uint64(i), 37)))
		s, gy, gh := seqAs[T](in.seq), convert[T](in.gy), convert[T](in.gh)
		want := run(t, c, nil, s, r.allSteps, gy, gh)
		got := run(t, c, &ws, s, r.allSteps, gy, gh)
		wa, ga := want.named(c), got.named(c)
		for j := range wa {
			if e := relErr(ga[j].data, wa[j].data); e != 0 {
				t.Errorf("run %d %+v: %s differs from a fresh workspace's by %.3g", i, r, wa[j].name, e)
			}
		}
		if err := c.Backward(&ws, gy, gh, got.g); err != nil {
			t.Fatal(err)
		}
		for j, a := range got.named(c) {
			if e := relErr(a.data, wa[j].data); e != 0 {
				t.Errorf("run %d: second Backward: %s differs by %.3g", i, a.name, e)
			}
		}
		trainStep(c.Params, i)
	}
}

// trainStep changes parameters in place, as an optimizer step does between
// two calls on one workspace: every value, and on odd calls the masks too
// (one synapse removed, one added, in each).
func trainStep[T Float](p *Params[T], call int) {
	for _, d := range [][]T{p.W, p.Sigma, p.Mu, p.Erev, p.SensoryW, p.SensorySigma, p.SensoryMu, p.SensoryErev,
		p.Gleak, p.Vleak, p.Cm, p.InputW, p.InputB, p.OutputW, p.OutputB} {
		for i := range d {
			d[i] += T(0.01 * float64(1+i%3))
		}
	}
	if call%2 == 0 {
		return
	}
	for _, m := range [][]T{p.SparsityMask, p.SensorySparsityMask} {
		on := slices.Index(m, 1)
		off := slices.Index(m, 0)
		if on >= 0 {
			m[on] = 0
		}
		if off >= 0 {
			m[off] = 1
		}
	}
}

// TestConcurrentCells runs one cell from 8 goroutines at once, each with its
// own workspace, and checks every result against a serial run, bit for bit.
// Run it under -race: the cell's parameters are only read.
func TestConcurrentCells(t *testing.T) {
	c64 := newTestCell(t, cellSpec{wiring: "ncp", in: Affine, out: Affine, unfolds: 3, implicit: true, seed: 41})
	in := newTestInputs(c64.Shape, 9, 4, true, true, rand.New(rand.NewPCG(41, 41)))
	c := cellAs[float32](c64)
	s, gy, gh := seqAs[float32](in.seq), convert[float32](in.gy), convert[float32](in.gh)
	want := run(t, c, nil, s, true, gy, gh).named(c)
	const goroutines, iters = 8, 3
	var wg sync.WaitGroup
	errs := make(chan string, goroutines*iters*len(want))
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ws Workspace[float32]
			for range iters {
				r := result[float32]{y: make([]float32, s.Batch*s.Steps*c.Shape.Motor), h: make([]float32, s.Batch*c.Shape.Units)}
				if err := c.Forward(&ws, s, Output[float32]{Y: r.y, AllSteps: true, H: r.h}, true); err != nil {
					errs <- err.Error()
					return
				}
				r.g = newGradients(c, s)
				if err := c.Backward(&ws, gy, gh, r.g); err != nil {
					errs <- err.Error()
					return
				}
				for j, a := range r.named(c) {
					if e := relErr(a.data, want[j].data); e != 0 {
						errs <- fmt.Sprintf("%s differs from the serial run by %.3g", a.name, e)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
