package tests_go

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/kerasncp-go/kerasncp-go/core/cfc"
	"github.com/kerasncp-go/kerasncp-go/tests_go/capidriver"
	"github.com/kerasncp-go/kerasncp-go/wiring"
)

func randFloats(rng *rand.Rand, n int, lo, hi float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = lo + (hi-lo)*rng.Float32()
	}
	return v
}

// TestCfCThroughABIMatchesGo runs models through the C ABI and through
// core/cfc directly: the table, initial parameters, forward and backward
// passes must be identical (the ABI adds no math).
func TestCfCThroughABIMatchesGo(t *testing.T) {
	base := capidriver.LiveHandles()
	ncp, err := wiring.NewAutoNCP(12, 3, 0.5, 7)
	if err != nil {
		t.Fatal(err)
	}
	wh, r := capidriver.WiringNew(`{"kind": "autoncp", "units": 12, "output_size": 3, "seed": 7}`)
	if r.Code != capidriver.OK {
		t.Fatal(r.Msg)
	}
	defer capidriver.WiringFree(wh)
	cases := []struct {
		name string
		c    capidriver.CfCConfig
		cfg  cfc.Config
	}{
		{"plain default", capidriver.CfCConfig{InputSize: 3, Units: 5, BackboneUnits: 6, BackboneLayers: 2},
			cfc.Config{InputSize: 3, Units: 5, BackboneUnits: 6, BackboneLayers: 2}},
		{"pure gelu mixed proj", capidriver.CfCConfig{InputSize: 3, Units: 4, Mode: 1, Activation: 3, BackboneUnits: 5,
			BackboneLayers: 1, MixedMemory: true, ProjSize: 2},
			cfc.Config{InputSize: 3, Units: 4, Mode: cfc.Pure, Activation: cfc.GELU, BackboneUnits: 5, BackboneLayers: 1,
				MixedMemory: true, ProjSize: 2}},
		{"wired no_gate", capidriver.CfCConfig{InputSize: 3, Wiring: wh, Mode: 2},
			cfc.Config{InputSize: 3, Wiring: ncp, Mode: cfc.NoGate}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, r := capidriver.CfCNew(tc.c, 11)
			if r.Code != capidriver.OK {
				t.Fatal(r.Msg)
			}
			defer capidriver.CfCFree(h)
			m, err := cfc.New[float32](tc.cfg, 11)
			if err != nil {
				t.Fatal(err)
			}
			info, r := capidriver.GetCfCInfo(h)
			if r.Code != capidriver.OK {
				t.Fatal(r.Msg)
			}
			if info.ParamLen != int64(len(m.Params)) || info.NumParams != int64(len(m.Table)) ||
				info.StateSize != int64(m.StateSize()) || info.OutputSize != int64(m.OutputSize()) {
				t.Fatalf("info %+v does not describe the model (params %d, table %d, state %d, output %d)",
					info, len(m.Params), len(m.Table), m.StateSize(), m.OutputSize())
			}
			sizes, r := capidriver.CfCLayerSizes(h, int(info.NumLayers))
			if r.Code != capidriver.OK || len(sizes) != len(m.LayerSizes()) {
				t.Fatalf("layer sizes %v (%s), want %v", sizes, r.Msg, m.LayerSizes())
			}
			for i, e := range m.Table {
				p, r := capidriver.GetCfCParam(h, int64(i))
				if r.Code != capidriver.OK {
					t.Fatal(r.Msg)
				}
				shape := make([]int64, len(e.Shape))
				for k, d := range e.Shape {
					shape[k] = int64(d)
				}
				if p.Name != e.Name || !slices.Equal(p.Shape, shape) || p.Offset != int64(e.Offset) ||
					p.Length != int64(e.Len()) || p.Trainable != e.Trainable {
					t.Fatalf("entry %d: got %+v, want %+v", i, p, e)
				}
			}
			if _, r := capidriver.GetCfCParam(h, info.NumParams); r.Code != capidriver.Value {
				t.Errorf("entry past the table: %+v, want a value error", r)
			}
			params := make([]float32, info.ParamLen)
			if r := capidriver.CfCInit(h, 11, params); r.Code != capidriver.OK {
				t.Fatal(r.Msg)
			}
			if !slices.Equal(params, m.Params) {
				t.Fatal("kncp_cfc_init(seed) differs from cfc.New(cfg, seed).Params")
			}

			rng := rand.New(rand.NewPCG(1, 2))
			b, s := 3, 4
			st, out := m.StateSize(), m.OutputSize()
			x := randFloats(rng, b*s*3, -1, 1)
			h0 := randFloats(rng, b*st, -1, 1)
			el := randFloats(rng, b*s, 0.2, 2)
			var c0 []float32
			if tc.cfg.MixedMemory {
				c0 = randFloats(rng, b*st, -1, 1)
			}
			y := make([]float32, b*s*out)
			hOut := make([]float32, b*st)
			tape, r := capidriver.CfCForward(h, params, int64(b), int64(s), x, h0, c0, el, y, true, hOut, nil, false, 0, true)
			if r.Code != capidriver.OK {
				t.Fatal(r.Msg)
			}
			var ws cfc.Workspace[float32]
			wantY, wantH := make([]float32, len(y)), make([]float32, len(hOut))
			seq := cfc.Sequence[float32]{Batch: b, Steps: s, X: x, H0: h0, C0: c0, Elapsed: el}
			if err := m.Forward(&ws, seq, cfc.Output[float32]{Y: wantY, AllSteps: true, H: wantH}, cfc.Pass{Keep: true}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(y, wantY) || !slices.Equal(hOut, wantH) {
				t.Fatal("forward through the ABI differs from core/cfc")
			}
			gy := randFloats(rng, len(y), -1, 1)
			gp, gx, gel := make([]float32, len(params)), make([]float32, len(x)), make([]float32, len(el))
			if r := capidriver.CfCBackward(tape, gy, nil, nil, gp, gx, nil, nil, gel); r.Code != capidriver.OK {
				t.Fatal(r.Msg)
			}
			g := cfc.Gradients[float32]{Params: make([]float32, len(params)), X: make([]float32, len(x)), Elapsed: make([]float32, len(el))}
			if err := m.Backward(&ws, gy, nil, nil, g); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(gp, g.Params) || !slices.Equal(gx, g.X) || !slices.Equal(gel, g.Elapsed) {
				t.Fatal("backward through the ABI differs from core/cfc")
			}
			if r := capidriver.CfCBackward(tape, gy, nil, nil, gp, nil, nil, nil, nil); r.Code != capidriver.Value ||
				!strings.Contains(r.Msg, "Backward") {
				t.Errorf("second backward on one tape: %+v, want a value error", r)
			}
			if r := capidriver.TapeFree(tape); r.Code != capidriver.OK {
				t.Fatal(r.Msg)
			}
		})
	}
	if got := capidriver.LiveHandles(); got != base+1 { // the wiring, freed by the defer
		t.Errorf("live handles %d, want %d", got, base+1)
	}
}

// TestCfCABIErrors: bad configurations and calls return the right code,
// a message naming the argument, and write nothing.
func TestCfCABIErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    capidriver.CfCConfig
		code int32
		msg  string
	}{
		{"mode", capidriver.CfCConfig{InputSize: 2, Units: 3, Mode: 7, BackboneUnits: 4, BackboneLayers: 1}, capidriver.Value, "mode"},
		{"activation", capidriver.CfCConfig{InputSize: 2, Units: 3, Activation: 9, BackboneUnits: 4, BackboneLayers: 1}, capidriver.Value, "activation"},
		{"backbone_units", capidriver.CfCConfig{InputSize: 2, Units: 3, BackboneUnits: 0, BackboneLayers: 1}, capidriver.Value, "backbone_units"},
		{"units", capidriver.CfCConfig{InputSize: 2, Units: 0, BackboneUnits: 4, BackboneLayers: 1}, capidriver.Value, "units"},
		{"input_size", capidriver.CfCConfig{InputSize: -1, Units: 3}, capidriver.Value, "input_size"},
		{"dropout", capidriver.CfCConfig{InputSize: 2, Units: 3, BackboneUnits: 4, BackboneLayers: 2, BackboneDropout: 1}, capidriver.Value, "backbone_dropout"},
		{"dtype", capidriver.CfCConfig{DType: 5, InputSize: 2, Units: 3, BackboneUnits: 4, BackboneLayers: 1}, capidriver.Type, "dtype"},
		{"wiring handle", capidriver.CfCConfig{InputSize: 2, Wiring: 12345}, capidriver.Handle, "wiring"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, r := capidriver.CfCNew(tc.c, 1)
			if r.Code != tc.code || !strings.Contains(r.Msg, tc.msg) {
				t.Errorf("got %+v, want code %d naming %q", r, tc.code, tc.msg)
			}
			if h != 0 {
				capidriver.CfCFree(h)
			}
		})
	}
	h, r := capidriver.CfCNew(capidriver.CfCConfig{InputSize: 2, Units: 3, BackboneUnits: 4, BackboneLayers: 1}, 1)
	if r.Code != capidriver.OK {
		t.Fatal(r.Msg)
	}
	defer capidriver.CfCFree(h)
	info, _ := capidriver.GetCfCInfo(h)
	params := make([]float32, info.ParamLen)
	capidriver.CfCInit(h, 1, params)
	y := []float32{42, 42, 42, 42, 42, 42}
	for _, tc := range []struct {
		name   string
		params []float32
		x, el  []float32
		msg    string
	}{
		{"short params", params[:3], make([]float32, 4), nil, "params"},
		{"x", params, make([]float32, 3), nil, "x"},
		{"elapsed zero", params, make([]float32, 4), []float32{1, 0}, "elapsed"},
		{"elapsed NaN", params, make([]float32, 4), []float32{float32(math.NaN()), 1}, "elapsed"},
	} {
		_, r := capidriver.CfCForward(h, tc.params, 2, 1, tc.x, nil, nil, tc.el, y, true, nil, nil, false, 0, false)
		if r.Code != capidriver.Value || !strings.Contains(r.Msg, tc.msg) {
			t.Errorf("%s: got %+v, want a value error naming %q", tc.name, r, tc.msg)
		}
		for _, v := range y {
			if v != 42 {
				t.Fatalf("%s: the failed call wrote into y: %v", tc.name, y)
			}
		}
	}
	// An LTC call given a CfC tape, and a CfC call given a freed one.
	tape, r := capidriver.CfCForward(h, params, 2, 1, make([]float32, 4), nil, nil, nil, y, true, nil, nil, false, 0, true)
	if r.Code != capidriver.OK {
		t.Fatal(r.Msg)
	}
	if _, _, r := capidriver.Backward(tape, nil, nil, 0, 0); r.Code != capidriver.Handle || !strings.Contains(r.Msg, "CfC tape") {
		t.Errorf("LTC backward on a CfC tape: %+v, want a handle error", r)
	}
	capidriver.TapeFree(tape)
	if r := capidriver.CfCBackward(tape, nil, nil, nil, nil, nil, nil, nil, nil); r.Code != capidriver.Handle {
		t.Errorf("backward on a freed tape: %+v, want a handle error", r)
	}
}
