package kern32

// Elementwise float32 functions. Accuracy against float64 math
// (act_test.go): tanh within 1.5 ulp, a*tanh(b*x) within 3 (tanh is an
// odd polynomial for |x| < 0.625, fitted for this package, and (1-e)/(1+e)
// with e = exp(-2|x|) above), its derivative within 4, the sigmoid within
// 2.2 (exp by core's sigmoid's reduction and polynomial). Below 2**-126
// the sigmoid may flush to 0. NaN stays NaN.

// Tanh writes a*tanh(b*src[i]) into dst[i] (dst may be src). With grad it
// also writes the derivative, a*b*(1 - tanh(b*src[i])**2), over src[i]
// (from e above, 4e/(1+e)**2, so that it keeps its relative accuracy where
// tanh is near +-1).
func Tanh(dst, src []float32, a, b float32, grad bool) {
	if !Available {
		panic("kern32: Tanh needs AVX2 and FMA (check Available)")
	}
	n := len(src)
	dst = dst[:n]
	if n8 := n &^ 7; n8 > 0 {
		tanhAVX2(&dst[0], &src[0], n8, a, b, grad)
	}
	if r := n & 7; r > 0 {
		var d, s [8]float32
		copy(s[:], src[n-r:])
		tanhAVX2(&d[0], &s[0], 8, a, b, grad)
		copy(dst[n-r:], d[:r])
		if grad {
			copy(src[n-r:], s[:r])
		}
	}
}

// Sigmoid writes 1/(1+exp(-src[i])) into dst[i] (dst may be src).
func Sigmoid(dst, src []float32) {
	if !Available {
		panic("kern32: Sigmoid needs AVX2 and FMA (check Available)")
	}
	n := len(src)
	dst = dst[:n]
	if n8 := n &^ 7; n8 > 0 {
		sigmoidAVX2(&dst[0], &src[0], n8)
	}
	if r := n & 7; r > 0 {
		var d, s [8]float32
		copy(s[:], src[n-r:])
		sigmoidAVX2(&d[0], &s[0], 8)
		copy(dst[n-r:], d[:r])
	}
}

// Mul writes a[i]*b[i] into dst[i] for i < len(a) (dst may be a or b; b
// and dst at least as long as a).
func Mul(dst, a, b []float32) {
	if !Available {
		panic("kern32: Mul needs AVX2 and FMA (check Available)")
	}
	n := len(a)
	dst, b = dst[:n], b[:n]
	n8 := n &^ 7
	if n8 > 0 {
		mulAVX2(&dst[0], &a[0], &b[0], n8)
	}
	for i := n8; i < n; i++ {
		dst[i] = a[i] * b[i]
	}
}

// headsFlags packs the variant of a CfC cell's heads for the kernels.
func headsFlags(keras, noGate bool) (flags int, sg float32) {
	sg = 1
	if keras {
		flags, sg = 1, -1
	}
	if noGate {
		flags |= 2
	}
	return flags, sg
}

// tailMask returns the lane mask of the last n&7 of n units (all lanes
// when n is a multiple of 8, unused then).
func tailMask(n int) *int32 { return &maskTab[(8-n&7)&7] }

// checkHeads panics unless rows rows of ld values from x hold a span of
// width values, and rows times from ts (tsld apart) exist.
func checkHeads(name string, x []float32, ld, rows, width int, ts []float32, tsld int) {
	if rows < 0 || ld < 0 || tsld < 0 || width < 0 {
		panic("kern32: " + name + " sizes must be >= 0")
	}
	if rows == 0 {
		return
	}
	if len(x) < (rows-1)*ld+width || len(ts) < (rows-1)*tsld+1 {
		panic("kern32: " + name + " operand too short")
	}
}

// CfCHeads is the forward step of a CfC cell's gated heads over rows rows
// of n units. Row i holds at x[i*ld:] the heads' products without their
// biases, [ff1 | ff2 | time_a | time_b] (4n values), and at x[i*ld+hoff:]
// room for its new state (hoff >= 4n); its elapsed time is ts[i*tsld]
// (tsld 0: one time for every row). With bias (4n values) added, it
// computes s = sigmoid(time_a ts + time_b) (Keras: sigmoid(-time_a ts +
// time_b)) and the new state t1 (1-s) + s t2 (with noGate, t1 + s t2),
// where t1, t2 = tanh(ff1), tanh(ff2) (Keras: ff1, ff2), and writes [t1 |
// t2 | s | time_a] over the heads, as CfCHeadsGrad reads them. tanh and
// the sigmoid are Tanh's and Sigmoid's.
func CfCHeads(x []float32, ld, rows, n, hoff int, bias, ts []float32, tsld int, keras, noGate bool) {
	if !Available {
		panic("kern32: CfCHeads needs AVX2 and FMA (check Available)")
	}
	if n < 1 || hoff < 4*n {
		panic("kern32: CfCHeads needs n >= 1 and hoff >= 4n")
	}
	checkHeads("CfCHeads", x, ld, rows, hoff+n, ts, tsld)
	if rows == 0 {
		return
	}
	bias = bias[:4*n]
	flags, sg := headsFlags(keras, noGate)
	headsFwdAVX2(&x[0], ld, rows, n, hoff, &bias[0], &ts[0], tsld, sg, flags, tailMask(n))
}

// CfCHeadsGrad is the backward step of a CfC cell's gated heads over rows
// rows of n units. Row i holds at h[i*ld:] the 4n values CfCHeads left,
// [t1 | t2 | s | time_a], at dh[i*ldd:] the gradient of its new state and
// at ts[i*tsld] its elapsed time. It writes over the heads the gradients
// of their pre-activations, [ff1 | ff2 | time_a | time_b], and adds the
// gradient of row i's elapsed time into dts[i].
func CfCHeadsGrad(h []float32, ld, rows int, dh []float32, ldd, n int, ts []float32, tsld int, dts []float32, keras, noGate bool) {
	if !Available {
		panic("kern32: CfCHeadsGrad needs AVX2 and FMA (check Available)")
	}
	if n < 1 {
		panic("kern32: CfCHeadsGrad needs n >= 1")
	}
	checkHeads("CfCHeadsGrad", h, ld, rows, 4*n, ts, tsld)
	checkHeads("CfCHeadsGrad", dh, ldd, rows, n, ts, tsld)
	if rows == 0 {
		return
	}
	dts = dts[:rows]
	flags, sg := headsFlags(keras, noGate)
	headsGradAVX2(&h[0], ld, rows, &dh[0], ldd, n, &ts[0], tsld, sg, &dts[0], flags, tailMask(n))
}
