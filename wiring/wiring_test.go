package wiring

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// Golden matrices from REFERENCE.md 1.7, produced by keras-ncp 2.1.0 /
// ncps 1.0.1 under numpy 1.24.2. The full golden set (hundreds of
// configurations) is checked in tests_go against fixtures the committed
// generator tests_py/gen_wiring_fixtures.py writes.
func TestSmallGoldenMatrices(t *testing.T) {
	mustBuild := func(w *Wiring, err error, inputDim int) *Wiring {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Build(inputDim); err != nil {
			t.Fatal(err)
		}
		return w
	}
	for _, tc := range []struct {
		name         string
		w            func() *Wiring
		adj, sensory []int32
	}{
		{"FullyConnected(4).build(2)", func() *Wiring {
			w, err := NewFullyConnected(4, 0, DefaultErevInitSeed, true)
			return mustBuild(w, err, 2)
		}, []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1}, []int32{1, 1, 1, -1, 1, 1, -1, 1}},
		{"FullyConnected(3, self_connections=False).build(1)", func() *Wiring {
			w, err := NewFullyConnected(3, 0, DefaultErevInitSeed, false)
			return mustBuild(w, err, 1)
		}, []int32{0, 1, 1, 1, 0, 1, 1, 1, 0}, []int32{1, 1, 1}},
		{"Random(4, sparsity_level=0.5).build(2)", func() *Wiring {
			w, err := NewRandom(4, 0, 0.5, DefaultRandomSeed)
			return mustBuild(w, err, 2)
		}, []int32{0, 0, 0, 0, 0, 0, 1, -1, 1, 0, 1, 1, 0, -1, 1, -1}, []int32{0, 0, 1, 1, 0, 1, 0, 1}},
		{"NCP(3,2,1,2,2,2,1).build(2)", func() *Wiring {
			w, err := NewNCP(3, 2, 1, 2, 2, 2, 1, DefaultNCPSeed)
			return mustBuild(w, err, 2)
		}, []int32{
			0, 0, 0, 0, 0, 0,
			-1, 0, -1, 0, 0, 0,
			-1, 1, 0, 0, 0, 0,
			0, 1, 1, 0, 0, 0,
			0, -1, 1, 0, 0, 0,
			0, -1, -1, 0, 0, 0,
		}, []int32{0, 0, 0, -1, 0, -1, 0, 0, 0, 1, -1, 0}},
		{"AutoNCP(8,2).build(3)", func() *Wiring {
			w, err := NewAutoNCP(8, 2, 0.5, DefaultNCPSeed)
			return mustBuild(w, err, 3)
		}, []int32{
			0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0,
			1, -1, 0, 0, 0, 0, 0, 0,
			-1, 0, 1, 0, 0, 0, 0, 0,
			0, 0, 0, -1, 0, 0, 0, 0,
			0, 0, -1, 0, 0, 0, 0, 0,
			0, 0, -1, 0, 0, 0, 0, 0,
			0, 0, -1, 0, 0, 0, 0, 0,
		}, []int32{
			0, 0, 0, 0, -1, 0, 0, -1,
			0, 0, 0, 0, 0, 1, 1, 0,
			0, 0, 0, 0, 0, -1, -1, 0,
		}},
	} {
		w := tc.w()
		if got := w.Adjacency(); !slices.Equal(got, tc.adj) {
			t.Errorf("%s adjacency:\n got %v\nwant %v", tc.name, got, tc.adj)
		}
		if got := w.SensoryAdjacency(); !slices.Equal(got, tc.sensory) {
			t.Errorf("%s sensory:\n got %v\nwant %v", tc.name, got, tc.sensory)
		}
	}
}

func sum(m []int32) (s int) {
	for _, v := range m {
		s += int(v)
	}
	return s
}

// Aggregates from REFERENCE.md 1.7 (synapse count, sensory count, sum of A,
// sum of S), produced by the reference.
func TestGoldenAggregates(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		cfg                   Config
		inputDim              int
		syn, sens, sumA, sumS int
	}{
		{"NCP(10,10,8,6,6,4,6).build(20)", Config{Kind: NCP, InterNeurons: 10, CommandNeurons: 10, MotorNeurons: 8,
			SensoryFanout: 6, InterFanout: 6, RecurrentCommandSynapses: 4, MotorFanin: 6, Seed: DefaultNCPSeed}, 20, 112, 120, -18, 20},
		{"AutoNCP(28,4).build(5)", Config{Kind: AutoNCP, Units: 28, OutputDim: 4, SparsityLevel: 0.5, Seed: DefaultNCPSeed}, 5, 86, 35, 8, -3},
		{"Random(16,2,0.5).build(4)", Config{Kind: Random, Units: 16, OutputDim: 2, SparsityLevel: 0.5, Seed: DefaultRandomSeed}, 4, 128, 32, 40, 16},
		{"FullyConnected(50).build(20)", Config{Kind: FullyConnected, Units: 50, Seed: DefaultErevInitSeed, SelfConnections: true}, 20, 2500, 1000, 810, 334},
	} {
		w, err := New(tc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := w.Build(tc.inputDim); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := []int{w.SynapseCount(), w.SensorySynapseCount(), sum(w.Adjacency()), sum(w.SensoryAdjacency())}
		want := []int{tc.syn, tc.sens, tc.sumA, tc.sumS}
		if !slices.Equal(got, want) {
			t.Errorf("%s: (synapses, sensory, sum A, sum S) = %v, want %v", tc.name, got, want)
		}
	}
	w, _ := NewNCP(10, 10, 8, 6, 6, 4, 6, DefaultNCPSeed)
	w.Build(20)
	wantRow0 := append(make([]int32, 21), 1, 1, 1, -1, -1, 0, -1)
	if got := w.SensoryAdjacency()[:28]; !slices.Equal(got, wantRow0) {
		t.Errorf("NCP(10,10,8,6,6,4,6) sensory row 0 = %v, want %v", got, wantRow0)
	}
}

func TestBuildIsIdempotent(t *testing.T) {
	for _, cfg := range []Config{
		{Kind: FullyConnected, Units: 5, Seed: 1, SelfConnections: true},
		{Kind: Random, Units: 6, SparsityLevel: 0.3, Seed: 2},
		{Kind: NCP, InterNeurons: 10, CommandNeurons: 10, MotorNeurons: 8, SensoryFanout: 6, InterFanout: 6,
			RecurrentCommandSynapses: 4, MotorFanin: 6, Seed: 3},
		{Kind: AutoNCP, Units: 20, OutputDim: 3, SparsityLevel: 0.5, Seed: 4},
	} {
		w, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Build(7); err != nil {
			t.Fatal(err)
		}
		adj, sens := slices.Clone(w.Adjacency()), slices.Clone(w.SensoryAdjacency())
		if err := w.Build(7); err != nil {
			t.Fatalf("%s: second Build(7): %v", cfg.Kind, err)
		}
		if !slices.Equal(adj, w.Adjacency()) || !slices.Equal(sens, w.SensoryAdjacency()) {
			t.Errorf("%s: second Build(7) changed the matrices", cfg.Kind)
		}
		if err := w.Build(8); err == nil || !strings.Contains(err.Error(), "input_dim=7") {
			t.Errorf("%s: Build(8) after Build(7): err = %v, want a conflict naming input_dim=7", cfg.Kind, err)
		}
	}
}

func TestSetInputDimThenBuildDrawsSynapses(t *testing.T) {
	a, _ := NewFullyConnected(4, 0, DefaultErevInitSeed, true)
	b, _ := NewFullyConnected(4, 0, DefaultErevInitSeed, true)
	if err := a.SetInputDim(2); err != nil {
		t.Fatal(err)
	}
	a.Build(2)
	b.Build(2)
	if !slices.Equal(a.SensoryAdjacency(), b.SensoryAdjacency()) {
		t.Errorf("SetInputDim+Build = %v, Build = %v", a.SensoryAdjacency(), b.SensoryAdjacency())
	}
}

func TestErrorsNameTheArgument(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Kind: FullyConnected, Units: 0}, "units must be in [1, 65536], got 0"},
		{Config{Kind: FullyConnected, Units: 3, OutputDim: 4}, "output_dim must be in [1, units=3]"},
		{Config{Kind: Random, Units: 3, SparsityLevel: 1}, "sparsity_level must be in [0, 1), got 1"},
		{Config{Kind: Random, Units: 3, SparsityLevel: math.NaN()}, "sparsity_level must be in [0, 1), got NaN"},
		{Config{Kind: NCP, InterNeurons: 3, CommandNeurons: 2, MotorNeurons: 1, Seed: 1 << 32}, "seed must be in [0, 2**32-1], got 4294967296"},
		{Config{Kind: NCP, InterNeurons: 3, CommandNeurons: 2, MotorNeurons: -1}, "motor_neurons must be in [0, 65536], got -1"},
		{Config{Kind: NCP, InterNeurons: 0, CommandNeurons: 2, MotorNeurons: 1}, "inter_neurons must be in [1, 65536], got 0"},
		{Config{Kind: NCP, InterNeurons: 3, CommandNeurons: 2, MotorNeurons: 1, MotorFanin: 3}, "motor_fanin must be in [0, command_neurons=2], got 3"},
		{Config{Kind: NCP, InterNeurons: 3, CommandNeurons: 2, MotorNeurons: 1, SensoryFanout: 4}, "sensory_fanout must be in [0, inter_neurons=3], got 4"},
		{Config{Kind: NCP, InterNeurons: 3, CommandNeurons: 2, MotorNeurons: 1, InterFanout: -1}, "inter_fanout must be in [0, command_neurons=2], got -1"},
		{Config{Kind: NCP, InterNeurons: 3, CommandNeurons: 2, MotorNeurons: 1, RecurrentCommandSynapses: -2}, "recurrent_command_synapses must be in"},
		{Config{Kind: AutoNCP, Units: 8, OutputDim: 6, SparsityLevel: 0.5}, "output_size must be in [0, units-3=5], got 6"},
		{Config{Kind: AutoNCP, Units: 2, OutputDim: 1, SparsityLevel: 0.5}, "AutoNCP needs units >= 3"},
		{Config{Kind: AutoNCP, Units: 8, OutputDim: 2, SparsityLevel: 0.05}, "sparsity_level must be in [0.1, 1.0], got 0.05"},
		{Config{Kind: "lstm"}, `unknown kind "lstm"`},
	} {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) error = %v, want it to contain %q", tc.cfg, err, tc.want)
		}
	}
	w, _ := NewCustom(3)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{w.AddSynapse(3, 0, 1), "src must be in [0, units=3), got 3"},
		{w.AddSynapse(0, -1, 1), "dest must be in [0, units=3), got -1"},
		{w.AddSynapse(0, 0, 0), "polarity must be -1 or 1, got 0"},
		{w.AddSensorySynapse(0, 0, 1), "before the input dimension is set"},
		{w.SetOutputDim(4), "output_dim must be in [1, units=3], got 4"},
		{w.Build(0), "input_dim must be in [1, 65536], got 0"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("error = %v, want it to contain %q", tc.err, tc.want)
		}
	}
	w.Build(2)
	if err := w.AddSensorySynapse(2, 0, 1); err == nil || !strings.Contains(err.Error(), "src must be in [0, input_dim=2), got 2") {
		t.Errorf("AddSensorySynapse(2, 0, 1) error = %v", err)
	}
}

func TestLayersAndTypes(t *testing.T) {
	w, err := NewNCP(3, 2, 1, 2, 2, 2, 1, DefaultNCPSeed)
	if err != nil {
		t.Fatal(err)
	}
	if w.NumLayers() != 3 || w.Units() != 6 || w.OutputDim() != 1 {
		t.Fatalf("NCP(3,2,1): layers %d units %d output %d", w.NumLayers(), w.Units(), w.OutputDim())
	}
	for l, want := range [][]int{{3, 4, 5}, {1, 2}, {0}} {
		if got, _ := w.NeuronsOfLayer(l); !slices.Equal(got, want) {
			t.Errorf("NeuronsOfLayer(%d) = %v, want %v", l, got, want)
		}
	}
	if _, err := w.NeuronsOfLayer(3); err == nil {
		t.Error("NeuronsOfLayer(3) of an NCP: no error")
	}
	for id, want := range []string{Motor, Command, Command, Inter, Inter, Inter} {
		if got, _ := w.TypeOfNeuron(id); got != want {
			t.Errorf("TypeOfNeuron(%d) = %s, want %s", id, got, want)
		}
	}
	fc, _ := NewFullyConnected(4, 2, 1, true)
	for id, want := range []string{Motor, Motor, Inter, Inter} {
		if got, _ := fc.TypeOfNeuron(id); got != want {
			t.Errorf("FullyConnected(4, 2).TypeOfNeuron(%d) = %s, want %s", id, got, want)
		}
	}
	if got, _ := fc.NeuronsOfLayer(0); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Errorf("FullyConnected NeuronsOfLayer(0) = %v", got)
	}
}

func TestFromMatricesRoundTrip(t *testing.T) {
	w, _ := NewAutoNCP(12, 2, 0.5, 7)
	w.Build(3)
	c, err := FromMatrices(w.Units(), w.InputDim(), w.OutputDim(), w.Adjacency(), w.SensoryAdjacency())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Adjacency(), w.Adjacency()) || !slices.Equal(c.SensoryAdjacency(), w.SensoryAdjacency()) {
		t.Error("FromMatrices did not copy the matrices")
	}
	if _, err := FromMatrices(2, 0, 0, []int32{0, 2, 0, 0}, nil); err == nil || !strings.Contains(err.Error(), "adjacency_matrix entries must be -1, 0 or 1, got 2 at flat index 1") {
		t.Errorf("bad entry: err = %v", err)
	}
	if _, err := FromMatrices(2, 0, 0, []int32{0, 1, 0}, nil); err == nil || !strings.Contains(err.Error(), "units*units=4 entries, got 3") {
		t.Errorf("short matrix: err = %v", err)
	}
}

// FuzzNew checks that no constructor argument makes New panic, and that every
// accepted configuration builds into a well-formed wiring.
func FuzzNew(f *testing.F) {
	f.Add(uint8(0), 8, 2, 0.5, uint64(22222), 3, 2, 1, 2, 2, 2, 1, 3)
	f.Add(uint8(1), 4, 0, 0.0, uint64(1111), 0, 0, 0, 0, 0, 0, 0, 2)
	f.Add(uint8(2), 16, 2, 0.9, uint64(0), 0, 0, 0, 0, 0, 0, 0, 4)
	f.Add(uint8(3), 0, 0, 0.0, uint64(1<<40), 10, 10, 8, 6, 6, 4, 6, 20)
	f.Fuzz(func(t *testing.T, kind uint8, units, outputDim int, sparsity float64, seed uint64,
		inter, command, motor, sensoryFanout, interFanout, recurrent, motorFanin, inputDim int) {
		// Keep accepted sizes small enough to build quickly.
		if units > 300 || inter > 100 || command > 100 || motor > 100 || recurrent > 10000 || inputDim > 100 {
			return
		}
		kinds := []Kind{FullyConnected, Random, NCP, AutoNCP, Custom}
		cfg := Config{Kind: kinds[int(kind)%len(kinds)], Units: units, OutputDim: outputDim, SparsityLevel: sparsity,
			Seed: seed, SelfConnections: kind&8 != 0, InterNeurons: inter, CommandNeurons: command, MotorNeurons: motor,
			SensoryFanout: sensoryFanout, InterFanout: interFanout, RecurrentCommandSynapses: recurrent, MotorFanin: motorFanin}
		w, err := New(cfg)
		if err != nil {
			if w != nil {
				t.Fatalf("New returned both a wiring and an error: %v", err)
			}
			return
		}
		if err := w.Build(inputDim); err != nil {
			if inputDim >= 1 {
				t.Fatalf("Build(%d) of an accepted wiring: %v", inputDim, err)
			}
			return
		}
		u := w.Units()
		if len(w.Adjacency()) != u*u || len(w.SensoryAdjacency()) != inputDim*u {
			t.Fatalf("matrix sizes %d, %d for units %d input %d", len(w.Adjacency()), len(w.SensoryAdjacency()), u, inputDim)
		}
		for _, m := range [][]int32{w.Adjacency(), w.SensoryAdjacency()} {
			if err := checkPolarities("m", m); err != nil {
				t.Fatal(err)
			}
		}
		if o := w.OutputDim(); cfg.Kind != Custom && (o < 0 || o > u) {
			t.Fatalf("output dim %d of %d units", o, u)
		}
	})
}

// benchmarkBuild constructs and builds the wiring cfg describes.
func benchmarkBuild(b *testing.B, cfg Config, inputDim int) {
	b.ReportAllocs()
	for b.Loop() {
		w, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Build(inputDim); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildAutoNCPSmall(b *testing.B) {
	benchmarkBuild(b, Config{Kind: AutoNCP, Units: 32, OutputDim: 4, SparsityLevel: 0.5, Seed: DefaultNCPSeed}, 16)
}

func BenchmarkBuildAutoNCPMedium(b *testing.B) {
	benchmarkBuild(b, Config{Kind: AutoNCP, Units: 1000, OutputDim: 10, SparsityLevel: 0.5, Seed: DefaultNCPSeed}, 64)
}

// The foundation issue's target: AutoNCP(10000, 100), input dim 256, under 1 s.
func BenchmarkBuildAutoNCPLarge(b *testing.B) {
	benchmarkBuild(b, Config{Kind: AutoNCP, Units: 10000, OutputDim: 100, SparsityLevel: 0.5, Seed: DefaultNCPSeed}, 256)
}

func BenchmarkBuildRandomLarge(b *testing.B) {
	benchmarkBuild(b, Config{Kind: Random, Units: 1000, SparsityLevel: 0.5, Seed: DefaultRandomSeed}, 256)
}

func TestCloneIsIndependent(t *testing.T) {
	a, _ := NewNCP(5, 4, 2, 3, 2, 3, 2, 9)
	b := a.Clone()
	if err := a.Build(4); err != nil {
		t.Fatal(err)
	}
	if b.IsBuilt() {
		t.Fatal("building the original built the clone")
	}
	if err := b.Build(4); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Adjacency(), b.Adjacency()) || !slices.Equal(a.SensoryAdjacency(), b.SensoryAdjacency()) {
		t.Error("the clone built different matrices from the same stream")
	}
	b.AddSynapse(0, 0, -1)
	if a.Adjacency()[0] == -1 {
		t.Error("AddSynapse on the clone changed the original")
	}
}
