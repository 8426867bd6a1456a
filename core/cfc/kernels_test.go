package cfc

import (
	"math/rand/v2"
	"testing"

	"github.com/kerasncp-go/kerasncp-go/internal/kern32"
)

// TestWiredKernelsMatchGonum runs the benchmarks' wired models (W1, K1)
// at their full size, where the batch is split over goroutines and the
// heads kernels write the new states into the next layer's and the next
// step's rows, on kern32's kernels and on gonum's path, with and without
// a tape and with elapsed times: both must agree to float32 round-off.
func TestWiredKernelsMatchGonum(t *testing.T) {
	if !kern32.Available {
		t.Skip("no AVX2/FMA")
	}
	for _, bc := range benchConfigs[3:5] {
		cfg := bc.cfg(nil)
		m, err := New[float32](cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(5, 6))
		batch, steps := bc.batch, bc.steps
		seq := Sequence[float32]{Batch: batch, Steps: steps, X: randSlice[float32](rng, batch*steps*m.InputSize(), 1),
			H0: randSlice[float32](rng, batch*m.StateSize(), 0.5), Elapsed: make([]float32, batch*steps)}
		for i := range seq.Elapsed {
			seq.Elapsed[i] = float32(0.2 + 2*rng.Float64())
		}
		gy := randSlice[float32](rng, batch*steps*m.OutputSize(), 1)
		type result struct{ y, h, gp, gx, gh0, gel []float32 }
		run := func(keep bool) result {
			r := result{y: make([]float32, len(gy)), h: make([]float32, len(seq.H0))}
			var ws Workspace[float32]
			if err := m.Forward(&ws, seq, Output[float32]{Y: r.y, AllSteps: true, H: r.h}, Pass{Keep: keep}); err != nil {
				t.Fatal(err)
			}
			if keep {
				g := Gradients[float32]{Params: make([]float32, len(m.Params)), X: make([]float32, len(seq.X)),
					H0: make([]float32, len(seq.H0)), Elapsed: make([]float32, len(seq.Elapsed))}
				if err := m.Backward(&ws, gy, nil, nil, g); err != nil {
					t.Fatal(err)
				}
				r.gp, r.gx, r.gh0, r.gel = g.Params, g.X, g.H0, g.Elapsed
			}
			return r
		}
		kTape, kNoTape := run(true), run(false)
		kern32.Available = false
		want := run(true)
		kern32.Available = true
		for _, p := range []struct {
			name      string
			got, want []float32
			tol       float64
		}{
			{"y", kTape.y, want.y, 1e-5}, {"h", kTape.h, want.h, 1e-5},
			{"y without tape", kNoTape.y, want.y, 1e-5}, {"h without tape", kNoTape.h, want.h, 1e-5},
			{"grad params", kTape.gp, want.gp, 1e-4}, {"grad x", kTape.gx, want.gx, 1e-4},
			{"grad h0", kTape.gh0, want.gh0, 1e-4}, {"grad elapsed", kTape.gel, want.gel, 1e-4},
		} {
			if e := maxRelErr(p.got, p.want); e > p.tol {
				t.Errorf("%s: %s: kernels vs gonum relative error %.3g > %g", bc.name, p.name, e, p.tol)
			}
		}
	}
}
