// Package kern32 holds hand-written float32 kernels for amd64 with AVX2 and
// FMA: a matrix product (Gemm) and elementwise functions. Available says
// whether they can run on this CPU; callers keep a portable path (gonum's
// BLAS, package math) for the other CPUs, for float64, and as the oracle of
// their tests. Calling a kernel when Available is false panics.
package kern32

// Tiling of Gemm. The micro-kernels compute a tile of at most mr rows and
// 16 (or 8) columns of C over at most kc terms of the inner dimension, with
// the accumulators in YMM registers: A is read in place by broadcasts (any
// row and column stride, so op(A) may be transposed at no cost), B in place
// by rows of 16 contiguous values. No operand is packed: the products of a
// recurrent step are too small to repay it. kc bounds the panel of B one
// tile streams (kc x 16 values, 16 KiB) so that it stays in L1 while the
// tiles of a column panel reuse it.
//
// With transA, A's columns are rows of a strided operand (a tape, in
// core/cfc) as B's rows are: each term of the sum reads a cache line of
// both, and kcT terms keep the two panels in L1.
const (
	mr  = 6
	kc  = 256
	kcT = 64
)

// maskTab32[32-w:64-w] has w leading -1s (lanes on) then zeros: the lane
// masks of w < 32 columns in four vectors.
var maskTab32 = [64]int32{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}

// maskTab[8-w:16-w] has w leading -1s (lanes on) then zeros: the lane
// mask of an edge tile w < 8 columns wide.
var maskTab = [16]int32{-1, -1, -1, -1, -1, -1, -1, -1}

// Gemm computes C = op(A) B + beta C where C is m x n, op(A) m x k and B
// k x n, all row-major with leading dimensions lda, ldb, ldc; op(A) is A
// (m x k) or, with transA, the transpose of A (stored k x m). beta must be
// 0 (C is overwritten, whatever it held) or 1. The sums are taken in
// order of the inner index with fused multiply-adds.
func Gemm(transA bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !Available {
		panic("kern32: Gemm needs AVX2 and FMA (check Available)")
	}
	if m < 0 || n < 0 || k < 0 {
		panic("kern32: Gemm dimensions must be >= 0")
	}
	if beta != 0 && beta != 1 {
		panic("kern32: Gemm beta must be 0 or 1")
	}
	if m == 0 || n == 0 {
		return
	}
	if ldb < n || ldc < n || (!transA && lda < k) || (transA && lda < m) {
		panic("kern32: Gemm leading dimension too small")
	}
	if len(c) < (m-1)*ldc+n {
		panic("kern32: Gemm c too short")
	}
	if k == 0 {
		if beta == 0 {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	rsa, csa := lda, 1
	if transA {
		rsa, csa = 1, lda
	}
	if len(a) < (m-1)*rsa+(k-1)*csa+1 {
		panic("kern32: Gemm a too short")
	}
	if len(b) < (k-1)*ldb+n {
		panic("kern32: Gemm b too short")
	}
	kb := kc
	if transA {
		kb = kcT
	}
	for p0 := 0; p0 < k; p0 += kb {
		kk := min(kb, k-p0)
		acc := beta != 0 || p0 > 0
		for j0 := 0; j0 < n; {
			w := n - j0
			if w >= 16 {
				for i0 := 0; i0 < m; i0 += mr {
					kern16(kk, &a[i0*rsa+p0*csa], rsa, csa, &b[p0*ldb+j0], ldb, &c[i0*ldc+j0], ldc, min(mr, m-i0), acc)
				}
				j0 += 16
				continue
			}
			w = min(w, 8)
			mask := &maskTab[8-w]
			for i0 := 0; i0 < m; i0 += mr {
				kern8(kk, &a[i0*rsa+p0*csa], rsa, csa, &b[p0*ldb+j0], ldb, &c[i0*ldc+j0], ldc, min(mr, m-i0), acc, mask)
			}
			j0 += w
		}
	}
}

// ColSum computes c[j] = sum over i < k of a[i*lda+j] (+ c[j] when beta is
// 1; beta must be 0 or 1) for j < n: the bias gradients, ones^T A, as a
// stream over A's rows, 32 columns a pass, with two running sums per
// column (a product with ones waits on one sum's additions).
func ColSum(n, k int, a []float32, lda int, beta float32, c []float32) {
	if !Available {
		panic("kern32: ColSum needs AVX2 and FMA (check Available)")
	}
	if n < 0 || k < 0 {
		panic("kern32: ColSum dimensions must be >= 0")
	}
	if beta != 0 && beta != 1 {
		panic("kern32: ColSum beta must be 0 or 1")
	}
	if n == 0 {
		return
	}
	c = c[:n]
	if k == 0 {
		if beta == 0 {
			clear(c)
		}
		return
	}
	if lda < n || len(a) < (k-1)*lda+n {
		panic("kern32: ColSum a too short")
	}
	for j0 := 0; j0 < n; j0 += 32 {
		colsumAVX2(&a[j0], lda, k, &c[j0], beta != 0, &maskTab32[32-min(32, n-j0)])
	}
}
