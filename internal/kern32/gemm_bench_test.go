package kern32

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Shapes of core/cfc's products: a step's backbone and heads over 32 rows
// (S2), S3's wide ones, and a parameter gradient over 4096 tape rows.
var benchShapes = []struct {
	transA  bool
	m, n, k int
}{
	{false, 32, 128, 70}, {false, 32, 200, 128}, {false, 16, 256, 320}, {true, 128, 70, 4096},
	// K1 (wired, Keras): layer 0 heads forward and backward, over 64 rows.
	{false, 64, 136, 66}, {false, 64, 66, 136}, {false, 64, 32, 30}, {false, 64, 30, 32}, {true, 136, 66, 4096}, {true, 66, 136, 4096},
	// W1's layer 0 heads gradient, both ways.
	{true, 68, 25, 4096}, {true, 25, 68, 4096},
}

func BenchmarkGemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range benchShapes {
		ar, ac := s.m, s.k
		tA := blas.NoTrans
		if s.transA {
			ar, ac, tA = s.k, s.m, blas.Trans
		}
		a, bb, c := randSlice(rng, ar*ac), randSlice(rng, s.k*s.n), randSlice(rng, s.m*s.n)
		flops := 2 * float64(s.m*s.n*s.k)
		name := fmt.Sprintf("t%v_%dx%dx%d", s.transA, s.m, s.n, s.k)
		if Available {
			b.Run("kern/"+name, func(b *testing.B) {
				for b.Loop() {
					Gemm(s.transA, s.m, s.n, s.k, a, ac, bb, s.n, 0, c, s.n)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		b.Run("gonum/"+name, func(b *testing.B) {
			for b.Loop() {
				blas32.Implementation().Sgemm(tA, blas.NoTrans, s.m, s.n, s.k, 1, a, ac, bb, s.n, 0, c, s.n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
