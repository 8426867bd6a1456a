//go:build !amd64

package kern32

// Available is false: the kernels are amd64 assembly.
var Available = false

func kern16(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, rows int, acc bool) {
	panic("kern32: kernels are not built")
}

func kern8(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, rows int, acc bool, mask *int32) {
	panic("kern32: kernels are not built")
}

func tanhAVX2(dst, src *float32, n int, a, b float32, grad bool) {
	panic("kern32: kernels are not built")
}

func sigmoidAVX2(dst, src *float32, n int) { panic("kern32: kernels are not built") }

func mulAVX2(dst, a, b *float32, n int) { panic("kern32: kernels are not built") }

func headsFwdAVX2(x *float32, ld, rows, n, hoff int, bias, ts *float32, tsld int, sg float32, flags int, mask *int32, h2, h3 int) {
	panic("kern32: kernels are not built")
}

func headsGradAVX2(h *float32, ld, rows int, dh *float32, ldd, n int, ts *float32, tsld int, sg float32, dts *float32, flags int, mask, tmask *int32) {
	panic("kern32: kernels are not built")
}

func colsumAVX2(a *float32, lda, k int, c *float32, acc bool, mask *int32) {
	panic("kern32: kernels are not built")
}
