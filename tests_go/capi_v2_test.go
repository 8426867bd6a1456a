package tests_go

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/kerasncp-go/kerasncp-go/core"
	"github.com/kerasncp-go/kerasncp-go/internal/fuzzcorpus"
	"github.com/kerasncp-go/kerasncp-go/npz"
	d "github.com/kerasncp-go/kerasncp-go/tests_go/capidriver"
	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// TestWiringInfoStruct: kncp_wiring_info_t reports each kind and the
// built flag, and a NULL info is a value error.
func TestWiringInfoStruct(t *testing.T) {
	checkNoLeak(t)
	for _, tc := range []struct {
		cfg  string
		kind int32
		want d.WiringInfo
	}{
		{`{"kind":"wiring","units":3}`, d.KindCustom, d.WiringInfo{Units: 3, NumLayers: 1}},
		{`{"kind":"fully_connected","units":4,"output_dim":2}`, d.KindFullyConnected,
			d.WiringInfo{Units: 4, OutputDim: 2, NumLayers: 1, SynapseCount: 16}},
		{`{"kind":"random","units":5}`, d.KindRandom, d.WiringInfo{Units: 5, OutputDim: 5, NumLayers: 1, SynapseCount: 25}},
		{`{"kind":"autoncp","units":12,"output_size":3}`, d.KindAutoNCP, d.WiringInfo{Units: 12, OutputDim: 3, NumLayers: 3}},
	} {
		h, r := d.WiringNew(tc.cfg)
		want(t, r, d.OK, "")
		info, r := d.GetWiringInfo(h)
		want(t, r, d.OK, "")
		w := tc.want
		w.Kind = tc.kind
		if tc.kind == d.KindAutoNCP {
			w.SynapseCount = info.SynapseCount // drawn: compared with Go below
			gw, _ := wiring.NewAutoNCP(12, 3, 0.5, wiring.DefaultNCPSeed)
			if int(info.SynapseCount) != gw.SynapseCount() {
				t.Errorf("%s: %d synapses, the Go wiring %d", tc.cfg, info.SynapseCount, gw.SynapseCount())
			}
		}
		if info != w {
			t.Errorf("%s: info %+v, want %+v", tc.cfg, info, w)
		}
		want(t, d.WiringBuild(h, 2), d.OK, "")
		info, _ = d.GetWiringInfo(h)
		if !info.Built || info.InputDim != 2 {
			t.Errorf("%s: after build(2): %+v", tc.cfg, info)
		}
		want(t, d.WiringInfoNull(h), d.Value, "info must not be NULL")
		d.WiringFree(h)
	}
	_, r := d.GetWiringInfo(12345)
	want(t, r, d.Handle, "not live")
}

// TestWiringArgsStrict: each kind's arguments decode into its struct with
// exact names and JSON types; errors name the argument.
func TestWiringArgsStrict(t *testing.T) {
	checkNoLeak(t)
	const ncp = `"kind":"ncp","inter_neurons":3,"command_neurons":2,"motor_neurons":1,"sensory_fanout":1,"inter_fanout":1,"recurrent_command_synapses":1,"motor_fanin":1`
	for _, tc := range []struct {
		json string
		code int32
		msg  string
	}{
		{`{"kind":"fully_connected","units":"3"}`, d.Value, `units must be an integer, got "3"`},
		{`{"kind":"fully_connected","units":true}`, d.Value, "units must be an integer, got true"},
		{`{"kind":"fully_connected","units":3,"output_dim":1.5}`, d.Value, "output_dim must be an integer, got 1.5"},
		{`{"kind":"fully_connected","units":3,"self_connections":1}`, d.Value, "self_connections must be a bool, got 1"},
		{`{"kind":"fully_connected","units":3,"erev_init_seed":"7"}`, d.Value, `erev_init_seed must be an integer in [0, 2**64-1], got "7"`},
		{`{"kind":"random","units":3,"sparsity_level":"0.5"}`, d.Value, `sparsity_level must be a number, got "0.5"`},
		{`{"kind":"random","units":3,"seed":1}`, d.Value, `unexpected argument "seed" for a random wiring`},
		{`{"kind":"random","Units":3}`, d.Value, `unexpected argument "Units" for a random wiring`},
		{`{` + ncp + `,"seed":2.5}`, d.Value, "seed must be an integer in [0, 2**32-1], got 2.5"},
		{`{` + ncp + `,"motor_fanin":[1]}`, d.Value, "motor_fanin must be an integer, got [1]"},
		{`{` + ncp + `,"units":7}`, d.Value, "units=7 does not match the ncp wiring's 6"},
		{`{"kind":"ncp","inter_neurons":3}`, d.Value, `missing required argument "command_neurons" for a ncp wiring`},
		{`{"kind":"autoncp","units":12}`, d.Value, `missing required argument "output_size" for a autoncp wiring`},
		{`{"kind":"autoncp","units":12,"output_size":3,"sparsity_level":null,"seed":null}`, d.OK, ""},
		{`{"kind":3,"units":3}`, d.Value, "wiring kind must be one of"},
		{`{"units":3}`, d.Value, `got ""`},
		{`null`, d.Format, "not a JSON object"},
		{`[1]`, d.Format, "not a JSON object"},
	} {
		h, r := d.WiringNew(tc.json)
		if r.Code == d.OK {
			d.WiringFree(h)
		}
		want(t, r, tc.code, tc.msg)
	}
}

// TestWiringConfigIsTheArgsStruct: kncp_wiring_config writes every
// argument of the kind, resolved (defaults filled in), plus the
// dimensions, under exactly these keys.
func TestWiringConfigIsTheArgsStruct(t *testing.T) {
	checkNoLeak(t)
	for _, tc := range []struct{ cfg, keys string }{
		{`{"kind":"fully_connected","units":4}`, "erev_init_seed input_dim kind output_dim self_connections units"},
		{`{"kind":"random","units":4}`, "input_dim kind output_dim random_seed sparsity_level units"},
		{`{"kind":"autoncp","units":12,"output_size":3}`, "input_dim kind output_dim output_size seed sparsity_level units"},
		{`{"kind":"ncp","inter_neurons":3,"command_neurons":2,"motor_neurons":1,"sensory_fanout":1,"inter_fanout":1,"recurrent_command_synapses":1,"motor_fanin":1}`,
			"command_neurons input_dim inter_fanout inter_neurons kind motor_fanin motor_neurons output_dim recurrent_command_synapses seed sensory_fanout units"},
		{`{"kind":"wiring","units":3}`, "input_dim kind output_dim units"},
	} {
		h, r := d.WiringNew(tc.cfg)
		want(t, r, d.OK, "")
		text, _, r := d.WiringConfig(h, 4096)
		want(t, r, d.OK, "")
		d.WiringFree(h)
		var m map[string]any
		if err := json.Unmarshal([]byte(text), &m); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k, v := range m {
			keys = append(keys, k)
			if v == nil && k != "input_dim" && k != "output_dim" {
				t.Errorf("%s: %s is null in %s", tc.cfg, k, text)
			}
		}
		slices.Sort(keys)
		if got := strings.Join(keys, " "); got != tc.keys {
			t.Errorf("%s: keys %s, want %s", tc.cfg, got, tc.keys)
		}
	}
	h, _ := d.WiringNew(`{"kind":"fully_connected","units":4}`)
	text, _, _ := d.WiringConfig(h, 4096)
	d.WiringFree(h)
	if !strings.Contains(text, `"erev_init_seed":1111`) || !strings.Contains(text, `"self_connections":true`) ||
		!strings.Contains(text, `"output_dim":null`) {
		t.Errorf("defaults not resolved: %s", text)
	}
}

// TestTapeBytes: kncp_ltc_tape_bytes is core's Cell.TapeBytes.
func TestTapeBytes(t *testing.T) {
	for _, tc := range []struct {
		dtype        int32
		units        int64
		unfolds      int32
		batch, steps int64
	}{{0, 12, 6, 16, 100}, {1, 5, 1, 1, 1}, {0, 1 << 20, 100000, 1 << 30, 1 << 30}} {
		got, r := d.TapeBytes(tc.dtype, tc.units, tc.unfolds, tc.batch, tc.steps)
		want(t, r, d.OK, "")
		var wantB float64
		sh, o := core.Shape{Units: int(tc.units)}, core.Options{ODEUnfolds: int(tc.unfolds)}
		if tc.dtype == 0 {
			wantB = (&core.Cell[float32]{Shape: sh, Opts: o}).TapeBytes(int(tc.batch), int(tc.steps))
		} else {
			wantB = (&core.Cell[float64]{Shape: sh, Opts: o}).TapeBytes(int(tc.batch), int(tc.steps))
		}
		if got != wantB || got <= 0 {
			t.Errorf("%+v: %g bytes, core says %g", tc, got, wantB)
		}
	}
	f32, _ := d.TapeBytes(0, 12, 6, 16, 100)
	f64, _ := d.TapeBytes(1, 12, 6, 16, 100)
	if f64 != 2*f32 {
		t.Errorf("float64 tape %g, float32 %g", f64, f32)
	}
	_, r := d.TapeBytes(7, 12, 6, 1, 1)
	want(t, r, d.Type, "dtype must be float32 (0) or float64 (1), got 7")
	_, r = d.TapeBytes(0, 0, 6, 1, 1)
	want(t, r, d.Value, "units must be in [1, 1048576]")
	_, r = d.TapeBytes(0, 4, 6, 1, 0)
	want(t, r, d.Value, "got 4, 6, 1 and 0")
}

// npzSeeds are a parameter archive and an input for kncp_ltc_forward_npz.
func npzSeeds(t testing.TB) (params, x []byte) {
	w, _ := wiring.NewNCP(3, 2, 1, 2, 1, 1, 1, wiring.DefaultNCPSeed)
	w.Build(2)
	sh := core.Shape{Units: w.Units(), Sensory: 2, Motor: w.OutputDim()}
	p, err := core.Init[float32](sh, w.Adjacency(), w.SensoryAdjacency(), core.DefaultOptions(), nil, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := core.SaveNPZ(&buf, p, sh, core.Affine, core.Affine); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), npz.EncodeNPY([]float32{0.5, -1, 0, 2, 1, 1}, []int{1, 3, 2})
}

func TestSeedCorpus(t *testing.T) {
	p, x := npzSeeds(t)
	fuzzcorpus.Check(t, "FuzzForwardNPZ", [][]any{
		{p, x, ""}, {p, x, `{"ode_unfolds":2,"epsilon":1e-6}`}, {p, x[:40], `{"motor":1}`}, {x, p, "{"},
	})
	var seeds [][]any
	for _, s := range wiringSeeds {
		seeds = append(seeds, []any{s})
	}
	fuzzcorpus.Check(t, "FuzzWiringNew", seeds)
}

var wiringSeeds = []string{
	`{"kind":"wiring","units":3}`,
	`{"kind":"fully_connected","units":4,"output_dim":2,"erev_init_seed":5,"self_connections":false}`,
	`{"kind":"random","units":6,"output_dim":null,"sparsity_level":0.4,"random_seed":9,"input_dim":2}`,
	`{"kind":"ncp","inter_neurons":3,"command_neurons":2,"motor_neurons":1,"sensory_fanout":1,"inter_fanout":1,"recurrent_command_synapses":1,"motor_fanin":1,"seed":7,"units":6,"output_dim":1,"input_dim":null}`,
	`{"kind":"autoncp","units":12,"output_size":3,"sparsity_level":0.5,"seed":3}`,
	`{"kind":"random","units":"3"}`,
}

// FuzzForwardNPZ: kncp_ltc_forward_npz never panics (KNCP_ERR_INTERNAL)
// on any archive, input or options, and what it returns is a .npy array.
func FuzzForwardNPZ(f *testing.F) {
	p, x := npzSeeds(f)
	f.Add(p, x, "")
	f.Fuzz(func(t *testing.T, params, x []byte, options string) {
		if strings.IndexByte(options, 0) >= 0 {
			return // a C string ends at its first NUL
		}
		out, r := d.ForwardNPZ(params, x, options)
		if r.Code == d.Internal {
			t.Fatalf("internal error: %s", r.Msg)
		}
		if r.Code == d.OK {
			y, shape, err := npz.DecodeNPY[float64](out)
			if err != nil || len(shape) != 3 {
				t.Fatalf("output is not a 3-D .npy: %v %v", shape, err)
			}
			for _, v := range y {
				if math.IsInf(v, 0) {
					t.Fatalf("infinite output")
				}
			}
		}
	})
}

// FuzzWiringNew: kncp_wiring_new never panics; a wiring it makes writes a
// configuration it accepts back, and no handle leaks.
func FuzzWiringNew(f *testing.F) {
	for _, s := range wiringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, config string) {
		if strings.IndexByte(config, 0) >= 0 {
			return
		}
		before := d.LiveHandles()
		h, r := d.WiringNew(config)
		if r.Code == d.Internal {
			t.Fatalf("internal error: %s", r.Msg)
		}
		if r.Code == d.OK {
			info, _ := d.GetWiringInfo(h)
			if info.Kind != d.KindCustom && info.Units <= 1<<12 {
				text, _, r := d.WiringConfig(h, 1<<16)
				if r.Code != d.OK {
					t.Fatalf("config: %s", r.Msg)
				}
				h2, r := d.WiringNew(text)
				if r.Code != d.OK {
					t.Fatalf("%s does not take back its own configuration %s: %s", config, text, r.Msg)
				}
				d.WiringFree(h2)
			}
			d.WiringFree(h)
		}
		if after := d.LiveHandles(); after != before {
			t.Fatalf("%d handles leaked", after-before)
		}
	})
}
