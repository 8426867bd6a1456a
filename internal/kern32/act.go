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

// CfCHeadsGrad is the backward step of a CfC cell's gated heads for one
// row of n units. h holds 4n values left by the forward pass, [tanh(ff1) |
// tanh(ff2) | s | time_a] with s = sigmoid(time_a ts + time_b), and dh the
// gradient of the new state, ff1 (1-s) + s ff2 (with noGate, ff1 + s ff2).
// It writes over h the gradients of the heads' pre-activations, [ff1 |
// ff2 | time_a | time_b], and returns the gradient of ts.
func CfCHeadsGrad(h, dh []float32, n int, ts float32, noGate bool) float32 {
	if !Available {
		panic("kern32: CfCHeadsGrad needs AVX2 and FMA (check Available)")
	}
	h, dh = h[:4*n], dh[:n]
	n8 := n &^ 7
	var dt float32
	if n8 > 0 {
		dt = headsGradAVX2(&h[0], &dh[0], n, n8, ts, noGate)
	}
	for j := n8; j < n; j++ {
		t1, t2, g, a, d := h[j], h[n+j], h[2*n+j], h[3*n+j], dh[j]
		dt1, dg := d*(1-g), d*(t2-t1)
		if noGate {
			dt1, dg = d, d*t2
		}
		dp := dg * (g * (1 - g))
		dt += dp * a
		h[j], h[n+j], h[2*n+j], h[3*n+j] = dt1*(1-t1*t1), d*g*(1-t2*t2), dp*ts, dp
	}
	return dt
}
