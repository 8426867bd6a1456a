package cfc

import (
	"math/rand/v2"
	"testing"

	"github.com/kerasncp-go/kerasncp-go/internal/kern32"

	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// benchConfig is one of the benchmark configurations (float32).
type benchConfig struct {
	name         string
	cfg          func(b *testing.B) Config
	steps, batch int
}

// The configurations every CfC speed claim refers to: S1 and S2 are the
// ncps README's sizes, S3 a wide backbone, W1 a wired CfC, K1 the wired
// Keras-variant CfC of the Keras benchmark "C".
var benchConfigs = []benchConfig{
	{"S1", func(*testing.B) Config { return DefaultConfig(2, 16) }, 48, 32},
	{"S2", func(*testing.B) Config { return DefaultConfig(20, 50) }, 64, 64},
	{"S3", func(*testing.B) Config {
		c := DefaultConfig(64, 256)
		c.BackboneUnits = 256
		return c
	}, 32, 32},
	{"W1", func(b *testing.B) Config {
		w, err := wiring.NewAutoNCP(32, 4, 0.5, 22222)
		if err != nil {
			b.Fatal(err)
		}
		return Config{InputSize: 8, Wiring: w}
	}, 64, 64},
	{"K1", func(b *testing.B) Config {
		w, err := wiring.NewAutoNCP(64, 8, 0.5, 22222)
		if err != nil {
			b.Fatal(err)
		}
		return Config{InputSize: 32, Wiring: w, Keras: true}
	}, 64, 64},
}

// benchmarkCfC times the configuration on gonum's BLAS and, where they
// run, on kern32's kernels.
func benchmarkCfC(b *testing.B, bc benchConfig, backward bool) {
	if kern32.Available {
		b.Run("kernels", func(b *testing.B) { benchmarkPath(b, bc, backward) })
		kern32.Available = false
		defer func() { kern32.Available = true }()
	}
	b.Run("gonum", func(b *testing.B) { benchmarkPath(b, bc, backward) })
}

func benchmarkPath(b *testing.B, bc benchConfig, backward bool) {
	m, err := New[float32](bc.cfg(b), 1)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	seq := Sequence[float32]{Batch: bc.batch, Steps: bc.steps, X: randSlice[float32](rng, bc.batch*bc.steps*m.InputSize(), 1)}
	y := make([]float32, bc.batch*bc.steps*m.OutputSize())
	h := make([]float32, bc.batch*m.StateSize())
	gy := randSlice[float32](rng, len(y), 1)
	g := Gradients[float32]{Params: make([]float32, len(m.Params)), X: make([]float32, len(seq.X))}
	var ws Workspace[float32]
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := m.Forward(&ws, seq, Output[float32]{Y: y, AllSteps: true, H: h}, Pass{Keep: backward}); err != nil {
			b.Fatal(err)
		}
		if backward {
			if err := m.Backward(&ws, gy, nil, nil, g); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(bc.batch*bc.steps), "ns/row-step")
}

func BenchmarkForwardS1(b *testing.B)         { benchmarkCfC(b, benchConfigs[0], false) }
func BenchmarkForwardS2(b *testing.B)         { benchmarkCfC(b, benchConfigs[1], false) }
func BenchmarkForwardS3(b *testing.B)         { benchmarkCfC(b, benchConfigs[2], false) }
func BenchmarkForwardW1(b *testing.B)         { benchmarkCfC(b, benchConfigs[3], false) }
func BenchmarkForwardBackwardS1(b *testing.B) { benchmarkCfC(b, benchConfigs[0], true) }
func BenchmarkForwardBackwardS2(b *testing.B) { benchmarkCfC(b, benchConfigs[1], true) }
func BenchmarkForwardBackwardS3(b *testing.B) { benchmarkCfC(b, benchConfigs[2], true) }
func BenchmarkForwardBackwardW1(b *testing.B) { benchmarkCfC(b, benchConfigs[3], true) }
func BenchmarkForwardK1(b *testing.B)         { benchmarkCfC(b, benchConfigs[4], false) }
func BenchmarkForwardBackwardK1(b *testing.B) { benchmarkCfC(b, benchConfigs[4], true) }
