//go:build amd64

package kern32

// Available reports whether the kernels can run: the CPU has AVX2 and FMA
// and the OS saves the YMM registers. A variable so that tests and
// benchmarks can compare with the portable paths on the same machine.
var Available = hasAVX2FMA()

// hasAVX2FMA asks CPUID and XGETBV.
func hasAVX2FMA() bool

// kern16 computes rows [0, rows) (rows <= 6) and 16 columns of C = A B
// (+ C when acc) over k terms: A's element (i, p) at a[i*rsa+p*csa], B's
// (p, j) at b[p*ldb+j], C's (i, j) at c[i*ldc+j]. Strides in elements.
//
//go:noescape
func kern16(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, rows int, acc bool)

// kern8 is kern16 for the 8 columns of which mask (eight int32 lane masks,
// -1 on) selects the leading ones; the others are neither read nor written.
//
//go:noescape
func kern8(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, rows int, acc bool, mask *int32)

// tanhAVX2 is Tanh over n values, n a multiple of 8.
//
//go:noescape
func tanhAVX2(dst, src *float32, n int, a, b float32, grad bool)

// sigmoidAVX2 is Sigmoid over n values, n a multiple of 8.
//
//go:noescape
func sigmoidAVX2(dst, src *float32, n int)

// mulAVX2 is Mul over n values, n a multiple of 8.
//
//go:noescape
func mulAVX2(dst, a, b *float32, n int)

// headsFwdAVX2 is CfCHeads over rows rows from x, the first row's heads
// (flags: 1 Keras, 2 no gate; mask the lanes of the eight-unit window
// ending at a head's end that the tail computes, see windowMask; h2, h3
// further places of the new state past the heads, in bytes).
//
//go:noescape
func headsFwdAVX2(x *float32, ld, rows, n, hoff int, bias, ts *float32, tsld int, sg float32, flags int, mask *int32, h2, h3 int)

// headsGradAVX2 is CfCHeadsGrad over rows rows (flags and mask as
// headsFwdAVX2's; tmask the lanes of the last n&7 units in the window).
//
//go:noescape
func headsGradAVX2(h *float32, ld, rows int, dh *float32, ldd, n int, ts *float32, tsld int, sg float32, dts *float32, flags int, mask, tmask *int32)

// colsumAVX2 is ColSum over the up to 32 columns of which mask (32 lane
// masks) selects the leading ones.
//
//go:noescape
func colsumAVX2(a *float32, lda, k int, c *float32, acc bool, mask *int32)
