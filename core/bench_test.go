package core

import (
	"math/rand/v2"
	"testing"

	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// benchConfig is one of the benchmark configurations (float32,
// 6 unfolds).
type benchConfig struct {
	name                string
	wiring              wiring.Config
	input, steps, batch int
}

// The configurations A-E every speed claim refers to.
var benchConfigs = []benchConfig{
	{"A", wiring.Config{Kind: wiring.FullyConnected, Units: 8, OutputDim: 1, Seed: 1111, SelfConnections: true}, 2, 48, 32},
	{"B", wiring.Config{Kind: wiring.NCP, InterNeurons: 12, CommandNeurons: 6, MotorNeurons: 1, SensoryFanout: 6,
		InterFanout: 4, RecurrentCommandSynapses: 6, MotorFanin: 6, Seed: 22222}, 32, 32, 64},
	{"C", wiring.Config{Kind: wiring.AutoNCP, Units: 64, OutputDim: 8, SparsityLevel: 0.5, Seed: 22222}, 32, 64, 64},
	{"D", wiring.Config{Kind: wiring.FullyConnected, Units: 256, OutputDim: 16, Seed: 1111, SelfConnections: true}, 64, 32, 32},
	{"E", wiring.Config{Kind: wiring.NCP, InterNeurons: 12, CommandNeurons: 6, MotorNeurons: 1, SensoryFanout: 6,
		InterFanout: 4, RecurrentCommandSynapses: 6, MotorFanin: 6, Seed: 22222}, 32, 1, 1},
}

// newBenchCell builds a float32 cell for cfg with random parameters and
// inputs.
func newBenchCell(b *testing.B, cfg benchConfig) (*Cell[float32], Sequence[float32]) {
	w, err := wiring.New(cfg.wiring)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Build(cfg.input); err != nil {
		b.Fatal(err)
	}
	sh := Shape{Units: w.Units(), Sensory: cfg.input, Motor: w.OutputDim()}
	rng := rand.New(rand.NewPCG(1, 2))
	p, err := Init[float32](sh, w.Adjacency(), w.SensoryAdjacency(), DefaultOptions(), nil, rng)
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewCell(sh, DefaultOptions(), p)
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, cfg.batch*cfg.steps*cfg.input)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return c, Sequence[float32]{Batch: cfg.batch, Steps: cfg.steps, X: x}
}

// synapseEvals is the number of synapse evaluations of one forward pass.
func synapseEvals(c *Cell[float32], seq Sequence[float32]) float64 {
	rec := countNonzero(c.Params.SparsityMask)
	sen := countNonzero(c.Params.SensorySparsityMask)
	return float64(seq.Batch * seq.Steps * (c.Opts.ODEUnfolds*rec + sen))
}

func countNonzero(m []float32) (n int) {
	for _, v := range m {
		if v != 0 {
			n++
		}
	}
	return n
}

func benchmarkLTC(b *testing.B, cfg benchConfig, backward bool) {
	c, seq := newBenchCell(b, cfg)
	sh := c.Shape
	y := make([]float32, seq.Batch*seq.Steps*sh.Motor)
	h := make([]float32, seq.Batch*sh.Units)
	gy := make([]float32, len(y))
	for i := range gy {
		gy[i] = 1
	}
	g := Gradients[float32]{Params: Alloc[float32](sh, Affine, Affine), X: make([]float32, len(seq.X))}
	var ws Workspace[float32]
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := c.Forward(&ws, seq, Output[float32]{Y: y, AllSteps: true, H: h}, backward); err != nil {
			b.Fatal(err)
		}
		if backward {
			if err := c.Backward(&ws, gy, nil, g); err != nil {
				b.Fatal(err)
			}
		}
	}
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp/synapseEvals(c, seq), "ns/syn-eval")
}

func BenchmarkForwardA(b *testing.B)         { benchmarkLTC(b, benchConfigs[0], false) }
func BenchmarkForwardB(b *testing.B)         { benchmarkLTC(b, benchConfigs[1], false) }
func BenchmarkForwardC(b *testing.B)         { benchmarkLTC(b, benchConfigs[2], false) }
func BenchmarkForwardD(b *testing.B)         { benchmarkLTC(b, benchConfigs[3], false) }
func BenchmarkForwardE(b *testing.B)         { benchmarkLTC(b, benchConfigs[4], false) }
func BenchmarkForwardBackwardA(b *testing.B) { benchmarkLTC(b, benchConfigs[0], true) }
func BenchmarkForwardBackwardB(b *testing.B) { benchmarkLTC(b, benchConfigs[1], true) }
func BenchmarkForwardBackwardC(b *testing.B) { benchmarkLTC(b, benchConfigs[2], true) }
func BenchmarkForwardBackwardD(b *testing.B) { benchmarkLTC(b, benchConfigs[3], true) }
func BenchmarkForwardBackwardE(b *testing.B) { benchmarkLTC(b, benchConfigs[4], true) }
