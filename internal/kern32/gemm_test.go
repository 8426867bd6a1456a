package kern32

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// oracle computes the same product in float64 with gonum (the sums exact
// to float64 round-off, so the kernel's float32 error is measured alone).
func oracle(transA bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	w := func(s []float32) []float64 {
		d := make([]float64, len(s))
		for i, v := range s {
			d[i] = float64(v)
		}
		return d
	}
	a64, b64, c64 := w(a), w(b), w(c)
	tA := blas.NoTrans
	if transA {
		tA = blas.Trans
	}
	if k > 0 {
		blas64.Implementation().Dgemm(tA, blas.NoTrans, m, n, k, 1, a64, lda, b64, ldb, float64(beta), c64, ldc)
	} else if beta == 0 {
		for i := 0; i < m; i++ {
			clear(c64[i*ldc : i*ldc+n])
		}
	}
	return c64
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// TestGemmMatchesGonum: random shapes (every size 1..17 and a few larger
// ones crossing the kc blocking), odd leading dimensions, both layouts of
// A, beta 0 and 1. Each entry must agree with the float64 product within
// the float32 error bound of a k-term sum, k*eps*sum|a||b| (plus C's own
// rounding); entries of C outside the m x n window (the leading-dimension
// padding) must be untouched.
func TestGemmMatchesGonum(t *testing.T) {
	if !Available {
		t.Skip("no AVX2+FMA")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []int{1, 2, 3, 5, 6, 7, 8, 9, 12, 15, 16, 17, 23, 31, 33, 64, 70, 128, 200, 257, 600}
	pick := func() int {
		if rng.IntN(3) == 0 {
			return sizes[rng.IntN(len(sizes))]
		}
		return 1 + rng.IntN(17)
	}
	for trial := 0; trial < 600; trial++ {
		m, n, k := pick(), pick(), pick()
		if trial%50 == 0 {
			k = 0
		}
		transA := rng.IntN(2) == 1
		beta := float32(rng.IntN(2))
		lda := k + rng.IntN(3)
		if transA {
			lda = m + rng.IntN(3)
		}
		ldb, ldc := n+rng.IntN(3), n+rng.IntN(3)
		arows := m
		if transA {
			arows = k
		}
		a := randSlice(rng, max(1, arows*lda))
		b := randSlice(rng, max(1, k*ldb))
		c := randSlice(rng, m*ldc)
		if beta == 0 {
			for i := range c { // beta 0 ignores C, NaN included
				if rng.IntN(4) == 0 {
					c[i] = float32(math.NaN())
				}
			}
		}
		want := oracle(transA, m, n, k, a, lda, b, ldb, beta, c, ldc)
		// The bound: sum over p of |a_ip b_pj|.
		absA, absB := make([]float32, len(a)), make([]float32, len(b))
		for i, v := range a {
			absA[i] = float32(math.Abs(float64(v)))
		}
		for i, v := range b {
			absB[i] = float32(math.Abs(float64(v)))
		}
		zero := make([]float32, m*ldc)
		mag := oracle(transA, m, n, k, absA, lda, absB, ldb, 0, zero, ldc)
		got := append([]float32(nil), c...)
		Gemm(transA, m, n, k, a, lda, b, ldb, beta, got, ldc)
		const eps = 1.0 / (1 << 23)
		for i := 0; i < m; i++ {
			for j := 0; j < ldc; j++ {
				idx := i*ldc + j
				if j >= n {
					if math.Float32bits(got[idx]) != math.Float32bits(c[idx]) {
						t.Fatalf("trial %d (m=%d n=%d k=%d transA=%v beta=%v lda=%d ldb=%d ldc=%d): wrote C[%d,%d] outside the window",
							trial, m, n, k, transA, beta, lda, ldb, ldc, i, j)
					}
					continue
				}
				cmag := 0.0
				if beta != 0 {
					cmag = math.Abs(float64(c[idx]))
				}
				bound := float64(k+2)*eps*(mag[idx]+cmag) + 1e-30
				if d := math.Abs(float64(got[idx]) - want[idx]); !(d <= bound) {
					t.Fatalf("trial %d (m=%d n=%d k=%d transA=%v beta=%v lda=%d ldb=%d ldc=%d): C[%d,%d] = %v, want %v (bound %g)",
						trial, m, n, k, transA, beta, lda, ldb, ldc, i, j, got[idx], want[idx], bound)
				}
			}
		}
	}
}

// TestGemmReadsOnlyItsOperands: operands ending exactly where the product
// needs them (last row of B and C shorter than the leading dimension)
// must not make the kernels read or write past them; slices cut from a
// larger array whose tail holds NaN would carry NaN into C if they did.
func TestGemmReadsOnlyItsOperands(t *testing.T) {
	if !Available {
		t.Skip("no AVX2+FMA")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 3, 8, 9, 13, 16, 19, 24, 31} {
		m, k := 7, 5
		ldb, ldc := n+5, n+4
		nan := float32(math.NaN())
		b := randSlice(rng, (k-1)*ldb+n+16)
		for i := (k-1)*ldb + n; i < len(b); i++ {
			b[i] = nan
		}
		a := randSlice(rng, m*k)
		c := make([]float32, (m-1)*ldc+n+16)
		for i := (m-1)*ldc + n; i < len(c); i++ {
			c[i] = nan
		}
		Gemm(false, m, n, k, a, k, b[:(k-1)*ldb+n], ldb, 1, c[:(m-1)*ldc+n], ldc)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				if v := c[i*ldc+j]; v != v {
					t.Fatalf("n=%d: C[%d,%d] is NaN", n, i, j)
				}
			}
		}
	}
}

func TestGemmPanics(t *testing.T) {
	if !Available {
		t.Skip("no AVX2+FMA")
	}
	for name, f := range map[string]func(){
		"beta":  func() { Gemm(false, 1, 1, 1, []float32{1}, 1, []float32{1}, 1, 2, []float32{1}, 1) },
		"short": func() { Gemm(false, 2, 1, 1, []float32{1}, 1, []float32{1}, 1, 0, []float32{1, 1}, 1) },
		"ld":    func() { Gemm(false, 1, 2, 1, []float32{1}, 1, []float32{1, 1}, 1, 0, []float32{1, 1}, 2) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestColSum compares ColSum with float64 sums over widths and row counts
// around its vector width and unrolling, and checks that it writes c[:n]
// only.
func TestColSum(t *testing.T) {
	if !Available {
		t.Skip("no AVX2/FMA")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1, 4, 7, 8, 9, 17, 25, 31, 32, 33, 34, 68} {
		for _, k := range []int{0, 1, 3, 4, 5, 8, 63, 1000} {
			for _, beta := range []float32{0, 1} {
				lda := n + 3
				a := randSlice(rng, max(0, (k-1)*lda+n))
				c := randSlice(rng, n+2)
				c0 := append([]float32(nil), c...)
				ColSum(n, k, a, lda, beta, c[:n])
				for j := 0; j < n; j++ {
					want, abs := 0.0, 0.0
					if beta == 1 {
						want, abs = float64(c0[j]), math.Abs(float64(c0[j]))
					}
					for i := 0; i < k; i++ {
						want += float64(a[i*lda+j])
						abs += math.Abs(float64(a[i*lda+j]))
					}
					if math.Abs(float64(c[j])-want) > 1e-6*(1+abs) {
						t.Fatalf("n=%d k=%d beta=%v: c[%d] = %v, want %v", n, k, beta, j, c[j], want)
					}
				}
				if c[n] != c0[n] || c[n+1] != c0[n+1] {
					t.Fatalf("n=%d k=%d: wrote past c[:n]", n, k)
				}
			}
		}
	}
}
