package cfc

import (
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/kerasncp-go/kerasncp-go/internal/kern32"
)

// Dense products go through gonum's BLAS (blas32 for float32, blas64 for
// float64), whichever implementation blas32.Use / blas64.Use installed, or,
// for float32 where they run, through kern32's kernels (see prod and the
// package doc for both figures).

// is32 reports whether T is float32 (constant per instantiation).
func is32[T Float]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

func as32[T Float](s []T) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func as64[T Float](s []T) []float64 {
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// useKernel reports whether T's products run on kern32's kernels (float32
// on a CPU with AVX2 and FMA) rather than on gonum's BLAS.
func useKernel[T Float]() bool { return is32[T]() && kern32.Available }

// headsOnKernel reports whether the model's heads run on kern32.CfCHeads
// and CfCHeadsGrad (all modes but pure, on the kernels).
func (m *Model[T]) headsOnKernel() bool { return useKernel[T]() && m.cfg.Mode != Pure }

// prod computes C = X W^T + beta C over nr rows: X is nr x nin (leading
// dimension ldx) and W is nout x nin, given both as w (leading dimension
// nin) and as its transpose wt (nin x nout). gonum takes w as a transposed
// operand (dot products of rows); the kernels read wt in place, a row of
// 16 outputs at a time.
func prod[T Float](nr, nout, nin int, x []T, ldx int, w, wt []T, beta T, c []T, ldc int) {
	prodLd(nr, nout, nin, x, ldx, w, nin, wt, nout, beta, c, ldc)
}

// prodLd is prod with the weights' leading dimensions given (ldw for w,
// ldwt for wt): the product for a range of W's rows (outputs).
func prodLd[T Float](nr, nout, nin int, x []T, ldx int, w []T, ldw int, wt []T, ldwt int, beta T, c []T, ldc int) {
	if useKernel[T]() {
		kern32.Gemm(false, nr, nout, nin, as32(x), ldx, as32(wt), ldwt, float32(beta), as32(c), ldc)
		return
	}
	gemm(blas.NoTrans, blas.Trans, nr, nout, nin, x, ldx, w, ldw, beta, c, ldc)
}

// Tile sizes for gemm: gonum's native GEMM splits a product of at least
// four 64x64 blocks of C over new goroutines (allocating a channel each
// call); the model already runs one goroutine per core, so its products
// are handed to gonum in tiles of at most 64 x 192 (three blocks), which
// gonum computes in the calling goroutine.
const (
	tileRows = 64
	tileCols = 192
)

// gemm computes C = op(A) op(B) + beta C, with C m x n and op(A) m x k,
// op(B) k x n, all row-major with leading dimensions lda, ldb, ldc (tA,
// tB say whether A and B are stored transposed). It runs in the calling
// goroutine.
func gemm[T Float](tA, tB blas.Transpose, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 { // C = beta C (gonum wants leading dimensions >= 1)
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
		return
	}
	for i0 := 0; i0 < m; i0 += tileRows {
		mi := min(tileRows, m-i0)
		ao := i0 * lda
		if tA == blas.Trans {
			ao = i0
		}
		for j0 := 0; j0 < n; j0 += tileCols {
			nj := min(tileCols, n-j0)
			bo := j0
			if tB == blas.Trans {
				bo = j0 * ldb
			}
			gemmTile(tA, tB, mi, nj, k, a[ao:], lda, b[bo:], ldb, beta, c[i0*ldc+j0:], ldc)
		}
	}
}

func gemmTile[T Float](tA, tB blas.Transpose, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if is32[T]() {
		blas32.Implementation().Sgemm(tA, tB, m, n, k, 1, as32(a), lda, as32(b), ldb, float32(beta), as32(c), ldc)
		return
	}
	blas64.Implementation().Dgemm(tA, tB, m, n, k, 1, as64(a), lda, as64(b), ldb, float64(beta), as64(c), ldc)
}
