package tests_go

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/kerasncp-go/kerasncp-go/core"
	d "github.com/kerasncp-go/kerasncp-go/tests_go/capidriver"
	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// checkNoLeak fails the test if it ends with more live handles than it
// started with.
func checkNoLeak(t *testing.T) {
	before := d.LiveHandles()
	t.Cleanup(func() {
		if after := d.LiveHandles(); after != before {
			t.Errorf("live handles: %d before, %d after: a handle leaked", before, after)
		}
	})
}

func want(t *testing.T, r d.Result, code int32, msg string) {
	t.Helper()
	if r.Code != code || !strings.Contains(r.Msg, msg) {
		t.Errorf("got code %d %q, want code %d with %q", r.Code, r.Msg, code, msg)
	}
}

func TestABIVersion(t *testing.T) {
	if d.ABIVersion() != d.HeaderABIVersion() {
		t.Fatalf("library ABI %d, header %d", d.ABIVersion(), d.HeaderABIVersion())
	}
	if d.Version() == "" {
		t.Fatal("empty version")
	}
}

func TestPanicBecomesErrorCode(t *testing.T) {
	r := d.DebugPanic()
	want(t, r, d.Internal, "internal error")
	want(t, r, d.Internal, "nil map")
}

func TestBadHandles(t *testing.T) {
	checkNoLeak(t)
	want(t, d.WiringFree(0), d.Handle, "invalid wiring handle 0")
	want(t, d.WiringBuild(987654321, 3), d.Handle, "not live")
	h, r := d.WiringNew(`{"kind":"wiring","units":3}`)
	want(t, r, d.OK, "")
	want(t, d.WiringFree(h), d.OK, "")
	want(t, d.WiringFree(h), d.Handle, "not live")
	want(t, d.TapeFree(h), d.Handle, "")
	// A wiring handle is not a tape.
	h2, _ := d.WiringNew(`{"kind":"wiring","units":3}`)
	defer d.WiringFree(h2)
	want(t, d.TapeFree(h2), d.Handle, "not a tape")
}

func TestWiringThroughABIMatchesGo(t *testing.T) {
	checkNoLeak(t)
	h, r := d.WiringNew(`{"kind":"ncp","inter_neurons":10,"command_neurons":10,"motor_neurons":8,
		"sensory_fanout":6,"inter_fanout":6,"recurrent_command_synapses":4,"motor_fanin":6}`)
	want(t, r, d.OK, "")
	defer d.WiringFree(h)
	want(t, d.WiringBuild(h, 20), d.OK, "")
	info, r := d.GetWiringInfo(h)
	want(t, r, d.OK, "")
	// NCP(10,10,8,6,6,4,6).build(20): 112 synapses, 120 sensory (REFERENCE.md 1.7).
	if info != (d.WiringInfo{Units: 28, InputDim: 20, OutputDim: 8, NumLayers: 3, SynapseCount: 112,
		SensorySynapseCount: 120, Kind: d.KindNCP, Built: true}) {
		t.Errorf("info = %v", info)
	}
	adj, r := d.WiringAdjacency(h, 28*28)
	want(t, r, d.OK, "")
	w, _ := wiring.NewNCP(10, 10, 8, 6, 6, 4, 6, wiring.DefaultNCPSeed)
	w.Build(20)
	if !slices.Equal(adj, w.Adjacency()) {
		t.Error("adjacency through the ABI differs from the Go wiring")
	}
	_, r = d.WiringAdjacency(h, 10)
	want(t, r, d.Value, "destination 10")
	want(t, d.WiringAddSynapse(h, 28, 0, 1), d.Value, "src must be in [0, units=28), got 28")
	want(t, d.WiringAddSynapse(h, 0, 0, 2), d.Value, "polarity must be -1 or 1, got 2")
	want(t, d.WiringBuild(h, 21), d.Value, "input_dim=20")
	_, n, r := d.WiringConfig(h, 8)
	want(t, r, d.Value, "needs")
	cfg, _, r := d.WiringConfig(h, int(n)+1)
	want(t, r, d.OK, "")
	if !strings.Contains(cfg, `"seed":22222`) || !strings.Contains(cfg, `"inter_neurons":10`) {
		t.Errorf("config = %s", cfg)
	}
}

func TestWiringConfigErrors(t *testing.T) {
	checkNoLeak(t)
	for _, tc := range []struct {
		json string
		code int32
		msg  string
	}{
		{`{"kind":`, d.Format, "not a JSON object"},
		{`{"kind":"lstm","units":3}`, d.Value, `got "lstm"`},
		{`{"kind":"fully_connected"}`, d.Value, `missing required argument "units"`},
		{`{"kind":"fully_connected","units":3,"colour":1}`, d.Value, `unexpected argument "colour"`},
		{`{"kind":"fully_connected","units":2.5}`, d.Value, "units must be an integer, got 2.5"},
		{`{"kind":"fully_connected","units":-3}`, d.Value, "units must be in [1, 65536], got -3"},
		{`{"kind":"random","units":3,"sparsity_level":1.5}`, d.Value, "sparsity_level must be in [0, 1), got 1.5"},
		{`{"kind":"random","units":3,"random_seed":-1}`, d.Value, "random_seed must be an integer"},
		{`{"kind":"ncp","inter_neurons":3,"command_neurons":2,"motor_neurons":1,"sensory_fanout":4,"inter_fanout":1,"recurrent_command_synapses":1,"motor_fanin":1}`,
			d.Value, "sensory_fanout must be in [0, inter_neurons=3], got 4"},
		{`{"kind":"autoncp","units":8,"output_size":7}`, d.Value, "output_size must be in [0, units-3=5], got 7"},
		{`{"kind":"ncp","inter_neurons":3,"command_neurons":2,"motor_neurons":1,"sensory_fanout":1,"inter_fanout":1,"recurrent_command_synapses":1,"motor_fanin":1,"seed":4294967296}`,
			d.Value, "seed must be in [0, 2**32-1], got 4294967296"},
	} {
		h, r := d.WiringNew(tc.json)
		if r.Code == d.OK {
			d.WiringFree(h)
		}
		want(t, r, tc.code, tc.msg)
	}
}

// TestNullOutputPointers: every NULL output pointer is a value error naming
// it, never a recovered panic (KNCP_ERR_INTERNAL), and creates no handle.
func TestNullOutputPointers(t *testing.T) {
	checkNoLeak(t)
	h, r := d.WiringNew(`{"kind":"ncp","inter_neurons":3,"command_neurons":2,"motor_neurons":1,"sensory_fanout":1,"inter_fanout":1,"recurrent_command_synapses":1,"motor_fanin":1}`)
	want(t, r, d.OK, "")
	defer d.WiringFree(h)
	before := d.LiveHandles()
	for name, r := range d.NullOutputs(h) {
		if r.Code != d.Value || !strings.Contains(r.Msg, "must not be NULL") {
			t.Errorf("%s with a NULL output: got code %d %q, want a value error naming the pointer", name, r.Code, r.Msg)
		}
	}
	if got := d.LiveHandles(); got != before {
		t.Errorf("live handles went from %d to %d", before, got)
	}
}

// TestWiringConfigRoundTrip: what kncp_wiring_config writes,
// kncp_wiring_new takes back, built for the same input dimension.
func TestWiringConfigRoundTrip(t *testing.T) {
	checkNoLeak(t)
	for _, cfg := range []string{
		`{"kind":"ncp","inter_neurons":5,"command_neurons":4,"motor_neurons":2,"sensory_fanout":3,"inter_fanout":2,"recurrent_command_synapses":3,"motor_fanin":2,"seed":7}`,
		`{"kind":"autoncp","units":12,"output_size":3,"seed":3}`,
		`{"kind":"random","units":6,"output_dim":2,"sparsity_level":0.4,"random_seed":9}`,
		`{"kind":"fully_connected","units":4}`,
	} {
		h, r := d.WiringNew(cfg)
		want(t, r, d.OK, "")
		want(t, d.WiringBuild(h, 5), d.OK, "")
		text, _, r := d.WiringConfig(h, 4096)
		want(t, r, d.OK, "")
		h2, r := d.WiringNew(text)
		want(t, r, d.OK, "")
		info, _ := d.GetWiringInfo(h)
		info2, _ := d.GetWiringInfo(h2)
		a, _ := d.WiringAdjacency(h, int(info.Units*info.Units))
		a2, _ := d.WiringAdjacency(h2, int(info.Units*info.Units))
		if info != info2 || !slices.Equal(a, a2) {
			t.Errorf("%s: the round trip through %s changed the wiring", cfg, text)
		}
		d.WiringFree(h)
		d.WiringFree(h2)
	}
	h, r := d.WiringNew(`{"kind":"autoncp","units":12,"output_size":3,"output_dim":4}`)
	if r.Code == d.OK {
		d.WiringFree(h)
	}
	want(t, r, d.Value, "output_dim=4 does not match the autoncp wiring's 3")
	for _, text := range []string{`{"kind":"fully_connected","units":3} junk`, `{"kind":"fully_connected","units":3}}`} {
		h, r = d.WiringNew(text)
		if r.Code == d.OK {
			d.WiringFree(h)
		}
		want(t, r, d.Format, "unexpected data after the object")
	}
	// A custom wiring's configuration has no synapses: refused, not
	// rebuilt empty.
	h, r = d.WiringNew(`{"kind":"wiring","units":5,"input_dim":3,"output_dim":null}`)
	if r.Code == d.OK {
		d.WiringFree(h)
	}
	want(t, r, d.Value, "a custom wiring cannot be rebuilt from its configuration")
}

// abiCell makes a random float32 cell over an AutoNCP wiring, for both the
// driver and the core.
func abiCell(t *testing.T) (*d.Cell, *core.Cell[float32]) {
	w, _ := wiring.NewAutoNCP(12, 3, 0.5, 5)
	w.Build(4)
	sh := core.Shape{Units: 12, Sensory: 4, Motor: 3}
	p, err := core.Init[float32](sh, w.Adjacency(), w.SensoryAdjacency(), core.DefaultOptions(), nil, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := core.NewCell(sh, core.DefaultOptions(), p)
	dc := &d.Cell{Units: 12, Sensory: 4, Motor: 3, Unfolds: 6, Epsilon: 1e-8}
	for i, f := range p.Fields(sh, core.Affine, core.Affine) {
		dc.Params[i] = *f.Data
	}
	return dc, c
}

func TestForwardBackwardThroughABI(t *testing.T) {
	checkNoLeak(t)
	dc, c := abiCell(t)
	const b, steps = 3, 5
	x := make([]float32, b*steps*4)
	for i := range x {
		x[i] = float32(i%7) * 0.3
	}
	y, h, tape, r := d.Forward(dc, b, steps, x, nil, nil, b*steps*3, true, b*12, true)
	want(t, r, d.OK, "")
	wy, wh := make([]float32, len(y)), make([]float32, len(h))
	var ws core.Workspace[float32]
	if err := c.Forward(&ws, core.Sequence[float32]{Batch: b, Steps: steps, X: x}, core.Output[float32]{Y: wy, AllSteps: true, H: wh}, true); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(y, wy) || !slices.Equal(h, wh) {
		t.Error("forward through the ABI differs from the core")
	}
	gy := make([]float32, len(y))
	for i := range gy {
		gy[i] = 1
	}
	gx, _, r := d.Backward(tape, gy, nil, len(x), b*12)
	want(t, r, d.OK, "")
	wgx := make([]float32, len(x))
	if err := c.Backward(&ws, gy, nil, core.Gradients[float32]{X: wgx}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gx, wgx) {
		t.Error("backward through the ABI differs from the core")
	}
	// The tape stays valid until freed.
	_, _, r = d.Backward(tape, gy, nil, len(x), b*12)
	want(t, r, d.OK, "")
	want(t, d.TapeFree(tape), d.OK, "")
	_, _, r = d.Backward(tape, gy, nil, len(x), b*12)
	want(t, r, d.Handle, "not live")
}

func TestForwardErrorsNameTheArgument(t *testing.T) {
	checkNoLeak(t)
	dc, _ := abiCell(t)
	x := make([]float32, 2*3*4)
	_, _, _, r := d.Forward(dc, 2, 3, x[:5], nil, nil, 2*3*3, true, 0, false)
	want(t, r, d.Value, "x must have shape (batch=2, steps=3, sensory=4) = 24 values, got 5")
	_, _, _, r = d.Forward(dc, 2, 3, x, make([]float32, 5), nil, 2*3*3, true, 0, false)
	want(t, r, d.Value, "h0 must have shape (batch=2, units=12)")
	_, _, _, r = d.Forward(dc, 2, 3, x, nil, make([]float32, 5), 2*3*3, true, 0, false)
	want(t, r, d.Value, "elapsed must have shape (batch=2, steps=3)")
	_, _, _, r = d.Forward(dc, 2, 3, x, nil, nil, 7, true, 0, false)
	want(t, r, d.Value, "y must have shape (batch=2, steps=3, motor=3)")
	_, _, _, r = d.Forward(dc, 0, 3, x, nil, nil, 0, true, 0, false)
	want(t, r, d.Value, "batch and steps must be >= 1, got 0 and 3")
	bad := *dc
	bad.Params[5] = bad.Params[5][:3] // w
	_, _, _, r = d.Forward(&bad, 2, 3, x, nil, nil, 18, true, 0, false)
	want(t, r, d.Value, "parameter w must have shape [12 12] (144 values), got 3")
	bad = *dc
	bad.Params[0] = nil // gleak
	_, _, _, r = d.Forward(&bad, 2, 3, x, nil, nil, 18, true, 0, false)
	want(t, r, d.Value, "parameter gleak is missing")
	bad = *dc
	bad.DType = 7
	_, _, _, r = d.Forward(&bad, 2, 3, x, nil, nil, 18, true, 0, false)
	want(t, r, d.Type, "dtype must be float32 (0) or float64 (1), got 7")
	bad = *dc
	bad.InputMapping = 9
	_, _, _, r = d.Forward(&bad, 2, 3, x, nil, nil, 18, true, 0, false)
	want(t, r, d.Value, "input_mapping and output_mapping must be")
	bad = *dc
	bad.Unfolds = 0
	_, _, _, r = d.Forward(&bad, 2, 3, x, nil, nil, 18, true, 0, false)
	want(t, r, d.Value, "ode_unfolds must be in [1, 100000], got 0")
}
