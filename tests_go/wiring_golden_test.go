package tests_go

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"

	"codeberg.org/sbinet/npyio/npz"

	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// wiringManifest is testdata/wirings/manifest.json, written by
// tests_py/gen_wiring_fixtures.py from keras-ncp 2.1.0 (FullyConnected,
// Random, NCP) and ncps 1.0.1 (AutoNCP).
type wiringManifest struct {
	Versions map[string]string `json:"versions"`
	Configs  []struct {
		Name                string         `json:"name"`
		Kind                string         `json:"kind"`
		Args                wiringArgs     `json:"args"`
		InputDim            int            `json:"input_dim"`
		Units               int            `json:"units"`
		OutputDim           int            `json:"output_dim"`
		SynapseCount        int            `json:"synapse_count"`
		SensorySynapseCount int            `json:"sensory_synapse_count"`
		ChoicePaths         map[string]any `json:"choice_paths"`
	} `json:"configs"`
	Errors []struct {
		Kind      string     `json:"kind"`
		Args      wiringArgs `json:"args"`
		InputDim  int        `json:"input_dim"`
		Exception string     `json:"exception"`
		Message   string     `json:"message"`
		Stage     string     `json:"stage"`
	} `json:"errors"`
}

// wiringArgs is the union of the reference constructors' keyword arguments.
// Seeds are json.Number: some exceed int64, and the reference rejects
// negative ones, which the error cases include.
type wiringArgs struct {
	Units                    int         `json:"units"`
	OutputDim                *int        `json:"output_dim"`
	OutputSize               int         `json:"output_size"`
	ErevInitSeed             json.Number `json:"erev_init_seed"`
	SelfConnections          bool        `json:"self_connections"`
	SparsityLevel            float64     `json:"sparsity_level"`
	RandomSeed               json.Number `json:"random_seed"`
	Seed                     json.Number `json:"seed"`
	InterNeurons             int         `json:"inter_neurons"`
	CommandNeurons           int         `json:"command_neurons"`
	MotorNeurons             int         `json:"motor_neurons"`
	SensoryFanout            int         `json:"sensory_fanout"`
	InterFanout              int         `json:"inter_fanout"`
	RecurrentCommandSynapses int         `json:"recurrent_command_synapses"`
	MotorFanin               int         `json:"motor_fanin"`
}

// config converts reference arguments to a wiring.Config. It reports false
// when a seed is not a uint64 (negative), which this API cannot express.
func (a wiringArgs) config(kind string) (wiring.Config, bool) {
	seedText := map[string]json.Number{"fully_connected": a.ErevInitSeed, "random": a.RandomSeed}[kind]
	if seedText == "" {
		seedText = a.Seed
	}
	var seed uint64
	if _, err := fmt.Sscan(string(seedText), &seed); err != nil {
		return wiring.Config{}, false
	}
	c := wiring.Config{Kind: wiring.Kind(kind), Units: a.Units, Seed: seed, SelfConnections: a.SelfConnections,
		SparsityLevel: a.SparsityLevel, InterNeurons: a.InterNeurons, CommandNeurons: a.CommandNeurons,
		MotorNeurons: a.MotorNeurons, SensoryFanout: a.SensoryFanout, InterFanout: a.InterFanout,
		RecurrentCommandSynapses: a.RecurrentCommandSynapses, MotorFanin: a.MotorFanin}
	if a.OutputDim != nil {
		c.OutputDim = *a.OutputDim
	}
	if kind == "autoncp" {
		c.OutputDim = a.OutputSize
	}
	return c, true
}

func loadWiringManifest(t *testing.T) *wiringManifest {
	t.Helper()
	f, err := os.Open("testdata/wirings/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.UseNumber()
	var m wiringManifest
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// TestWiringsMatchReference builds every golden configuration and compares
// both matrices entry for entry.
func TestWiringsMatchReference(t *testing.T) {
	m := loadWiringManifest(t)
	if len(m.Configs) < 300 {
		t.Fatalf("only %d golden configurations; the generator writes at least 300", len(m.Configs))
	}
	z, err := npz.Open("testdata/wirings/wirings.npz")
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	kinds := map[string]int{}
	for _, c := range m.Configs {
		cfg, ok := c.Args.config(c.Kind)
		if !ok {
			t.Errorf("%s: unreadable seed in %+v", c.Name, c.Args)
			continue
		}
		w, err := wiring.New(cfg)
		if err != nil {
			t.Errorf("%s: New(%+v): %v", c.Name, cfg, err)
			continue
		}
		if err := w.Build(c.InputDim); err != nil {
			t.Errorf("%s: Build(%d): %v", c.Name, c.InputDim, err)
			continue
		}
		var adj, sens []int32
		if err := z.Read(c.Name+"_adjacency.npy", &adj); err != nil {
			t.Fatal(err)
		}
		if err := z.Read(c.Name+"_sensory.npy", &sens); err != nil {
			t.Fatal(err)
		}
		if w.Units() != c.Units || w.OutputDim() != c.OutputDim || w.InputDim() != c.InputDim {
			t.Errorf("%s %s %+v: (units, output, input) = (%d, %d, %d), want (%d, %d, %d)", c.Name, c.Kind, c.Args,
				w.Units(), w.OutputDim(), w.InputDim(), c.Units, c.OutputDim, c.InputDim)
		}
		if i := firstDiff(w.Adjacency(), adj); i >= 0 {
			t.Errorf("%s %s %+v input %d: adjacency differs first at flat index %d (src %d, dest %d)",
				c.Name, c.Kind, c.Args, c.InputDim, i, i/c.Units, i%c.Units)
		}
		if i := firstDiff(w.SensoryAdjacency(), sens); i >= 0 {
			t.Errorf("%s %s %+v input %d: sensory adjacency differs first at flat index %d (src %d, dest %d)",
				c.Name, c.Kind, c.Args, c.InputDim, i, i/c.Units, i%c.Units)
		}
		if w.SynapseCount() != c.SynapseCount || w.SensorySynapseCount() != c.SensorySynapseCount {
			t.Errorf("%s: counts (%d, %d), want (%d, %d)", c.Name, w.SynapseCount(), w.SensorySynapseCount(),
				c.SynapseCount, c.SensorySynapseCount)
		}
		kinds[c.Kind]++
	}
	for _, k := range []string{"fully_connected", "random", "ncp", "autoncp"} {
		if kinds[k] == 0 {
			t.Errorf("no golden configuration of kind %s", k)
		}
	}
	t.Logf("%d configurations identical to the reference (numpy %s): %v", len(m.Configs), m.Versions["numpy"], kinds)
}

func firstDiff(got, want []int32) int {
	if len(got) != len(want) {
		return min(len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return i
		}
	}
	return -1
}

// TestWiringErrorsMatchReference checks that every configuration the
// reference rejects is rejected here too, with an error rather than a panic.
// (The messages differ on purpose: these name the argument and its range.)
func TestWiringErrorsMatchReference(t *testing.T) {
	m := loadWiringManifest(t)
	for _, e := range m.Errors {
		cfg, ok := e.Args.config(e.Kind)
		if !ok {
			continue // a negative seed: not representable in the Go API.
		}
		w, err := wiring.New(cfg)
		if err == nil {
			err = w.Build(e.InputDim)
		}
		if err == nil {
			t.Errorf("%s %+v input %d: accepted; the reference raised %s(%q) at %s",
				e.Kind, e.Args, e.InputDim, e.Exception, e.Message, e.Stage)
		}
	}
}

// TestMatricesSurviveFromMatrices checks the matrix round trip that the
// reference's Wiring.get_config / from_config performs.
func TestMatricesSurviveFromMatrices(t *testing.T) {
	w, _ := wiring.NewNCP(10, 10, 8, 6, 6, 4, 6, wiring.DefaultNCPSeed)
	w.Build(20)
	c, err := wiring.FromMatrices(w.Units(), w.InputDim(), w.OutputDim(), w.Adjacency(), w.SensoryAdjacency())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Adjacency(), w.Adjacency()) || !slices.Equal(c.SensoryAdjacency(), w.SensoryAdjacency()) {
		t.Fatal("FromMatrices changed the matrices")
	}
}
