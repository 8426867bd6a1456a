package kern32

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkCfCHeads times the heads kernels over 32 rows of a tape-like
// block, at widths with and without a masked tail.
func BenchmarkCfCHeads(b *testing.B) {
	if !Available {
		b.Skip("no AVX2/FMA")
	}
	for _, n := range []int{4, 8, 11, 16, 17} {
		rng := rand.New(rand.NewPCG(1, 2))
		c := newHeadsCase(rng, 32, n, 8, false)
		bias := make([]float32, 4*n)
		dh := make([]float32, 32*n)
		dts := make([]float32, 32)
		b.Run(fmt.Sprintf("fwd/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				CfCHeads(c.x, 0, c.ld, c.rows, c.off, n, c.hoff, nil, bias, c.ts, 0, false, false)
			}
		})
		b.Run(fmt.Sprintf("grad/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				CfCHeadsGrad(c.x, c.ld, c.rows, c.off, dh, n, n, c.ts, 0, dts, false, false)
			}
		})
	}
}
