package kern32

import "math"

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

// tailTab[r:r+8] has 8-r zeros then r -1s: the lanes of the last r units
// in an eight-unit window ending at a head's end.
var tailTab = [16]int32{8: -1, 9: -1, 10: -1, 11: -1, 12: -1, 13: -1, 14: -1, 15: -1}

// windowMask returns the lanes the kernels compute in the window of the
// last n&7 units of n: all of them when n >= 8 (the lanes before the tail
// are then the heads' own units, which the last full chunk computes
// alike), else the tail's alone.
func windowMask(n int) *int32 {
	if n >= 8 {
		return &tailTab[8]
	}
	return &tailTab[n&7]
}

// checkHeads panics unless rows rows of ld values from x hold a span of
// width values from off, and rows times from ts (tsld apart) exist.
func checkHeads(name string, x []float32, ld, rows, off, width int, ts []float32, tsld int) {
	if rows < 0 || ld < 0 || tsld < 0 || width < 0 || off < 0 {
		panic("kern32: " + name + " sizes must be >= 0")
	}
	if rows == 0 {
		return
	}
	if len(x) < (rows-1)*ld+off+width || len(ts) < (rows-1)*tsld+1 {
		panic("kern32: " + name + " operand too short")
	}
}

// vectorTail reports whether the kernels may handle the last n&7 units of
// heads starting off values into their row: their eight-unit windows
// (see CfCHeads) then stay in the row.
func vectorTail(off, n int) bool { return n&7 == 0 || off+n >= 8 }

// CfCHeads is the forward step of a CfC cell's gated heads over rows rows
// of n units, row i starting at x[first+i*ld]. A row holds off values into
// it the heads' products without their biases, [ff1 | ff2 | time_a |
// time_b] (4n values), and hoff values past them room for its new state
// (hoff >= 4n); its elapsed time is ts[i*tsld] (tsld 0: one time for
// every row). With bias (4n values) added, it computes s = sigmoid(time_a
// ts + time_b) (Keras: sigmoid(-time_a ts + time_b)) and the new state t1
// (1-s) + s t2 (with noGate, t1 + s t2), where t1, t2 = tanh(ff1),
// tanh(ff2) (Keras: ff1, ff2), and writes [t1 | t2 | s | time_a] over the
// heads, as CfCHeadsGrad reads them, and the new state at hoff and at
// each of copies (at most two offsets past the heads, which may be
// negative: the next layer's input, the next step's recurrent input),
// saving the caller a copy per row. tanh and the sigmoid are Tanh's and
// Sigmoid's.
//
// When n is not a multiple of 8 the kernel computes the last n&7 units of
// each head through an eight-unit window ending at the head's end and
// writes it back whole (whatever else it covers unchanged): with n < 8
// that window may begin up to 8-n values before the heads, in the row's
// first off values, which nothing else may write meanwhile. (Masked
// stores would avoid it, but cost several times a store on AMD's cores.)
// Where off+n < 8 the rows run in Go instead.
func CfCHeads(x []float32, first, ld, rows, off, n, hoff int, copies []int, bias, ts []float32, tsld int, keras, noGate bool) {
	if !Available {
		panic("kern32: CfCHeads needs AVX2 and FMA (check Available)")
	}
	if n < 1 || hoff < 4*n || len(copies) > 2 {
		panic("kern32: CfCHeads needs n >= 1, hoff >= 4n and at most two copies")
	}
	lo, hi := 0, hoff+n
	for _, c := range copies {
		lo, hi = min(lo, c), max(hi, c+n)
	}
	if first < 0 || first+off+lo < 0 {
		panic("kern32: CfCHeads offsets before x")
	}
	checkHeads("CfCHeads", x, ld, rows, first+off, hi, ts, tsld)
	if rows == 0 {
		return
	}
	bias = bias[:4*n]
	if !vectorTail(off, n) {
		headsGo(x, first, ld, rows, off, n, hoff, copies, bias, ts, tsld, keras, noGate)
		return
	}
	h2, h3 := hoff, hoff // storing the state twice more where it is: no branch
	if n < 8 {
		// The kernel's tail window would reach before a copy's place,
		// where it has no values to write back: copy in Go.
		defer copyStates(x, first, ld, rows, off, n, hoff, copies)
	} else if len(copies) > 0 {
		h2, h3 = copies[0], copies[len(copies)-1]
	}
	flags, sg := headsFlags(keras, noGate)
	headsFwdAVX2(&x[first+off], ld, rows, n, hoff, &bias[0], &ts[0], tsld, sg, flags, windowMask(n), 4*h2, 4*h3)
}

// copyStates copies each row's new state to the copies' places.
func copyStates(x []float32, first, ld, rows, off, n, hoff int, copies []int) {
	for i := 0; i < rows; i++ {
		r := first + i*ld + off
		for _, c := range copies {
			copy(x[r+c:r+c+n], x[r+hoff:r+hoff+n])
		}
	}
}

// headsGo is CfCHeads in Go, for heads too close to their row's start.
func headsGo(x []float32, first, ld, rows, off, n, hoff int, copies []int, bias, ts []float32, tsld int, keras, noGate bool) {
	for i := 0; i < rows; i++ {
		r := x[first+i*ld+off : first+i*ld+off+hoff+n]
		sts := float64(ts[i*tsld])
		if keras {
			sts = -sts
		}
		for j := 0; j < n; j++ {
			f1, f2 := r[j]+bias[j], r[n+j]+bias[n+j]
			a, b := r[2*n+j]+bias[2*n+j], r[3*n+j]+bias[3*n+j]
			if !keras {
				f1, f2 = float32(math.Tanh(float64(f1))), float32(math.Tanh(float64(f2)))
			}
			g := float32(1 / (1 + math.Exp(-(float64(a)*sts + float64(b)))))
			h := f1*(1-g) + g*f2
			if noGate {
				h = f1 + g*f2
			}
			r[j], r[n+j], r[2*n+j], r[3*n+j], r[hoff+j] = f1, f2, g, a, h
		}
	}
	copyStates(x, first, ld, rows, off, n, hoff, copies)
}

// CfCHeadsGrad is the backward step of a CfC cell's gated heads over rows
// rows of n units. Row i holds at h[i*ld+off:] the 4n values CfCHeads
// left, [t1 | t2 | s | time_a], at dh[i*ldd:] the gradient of its new
// state and at ts[i*tsld] its elapsed time. It writes over the heads the
// gradients of their pre-activations, [ff1 | ff2 | time_a | time_b], and
// adds the gradient of row i's elapsed time into dts[i]. It may rewrite
// the values before the heads as CfCHeads does.
func CfCHeadsGrad(h []float32, ld, rows, off int, dh []float32, ldd, n int, ts []float32, tsld int, dts []float32, keras, noGate bool) {
	if !Available {
		panic("kern32: CfCHeadsGrad needs AVX2 and FMA (check Available)")
	}
	if n < 1 {
		panic("kern32: CfCHeadsGrad needs n >= 1")
	}
	checkHeads("CfCHeadsGrad", h, ld, rows, off, 4*n, ts, tsld)
	checkHeads("CfCHeadsGrad", dh, ldd, rows, 0, n, ts, tsld)
	if rows == 0 {
		return
	}
	dts = dts[:rows]
	if !vectorTail(off, n) {
		headsGradGo(h, ld, rows, off, dh, ldd, n, ts, tsld, dts, keras, noGate)
		return
	}
	flags, sg := headsFlags(keras, noGate)
	headsGradAVX2(&h[off], ld, rows, &dh[0], ldd, n, &ts[0], tsld, sg, &dts[0], flags, windowMask(n), &tailTab[n&7])
}

// headsGradGo is CfCHeadsGrad in Go, for heads too close to their row's
// start.
func headsGradGo(h []float32, ld, rows, off int, dh []float32, ldd, n int, ts []float32, tsld int, dts []float32, keras, noGate bool) {
	_, sg := headsFlags(keras, noGate)
	for i := 0; i < rows; i++ {
		r, d := h[i*ld+off:i*ld+off+4*n], dh[i*ldd:i*ldd+n]
		sts := sg * ts[i*tsld]
		var dt float32
		for j := 0; j < n; j++ {
			t1, t2, g, a := r[j], r[n+j], r[2*n+j], r[3*n+j]
			dt1, dg := d[j]*(1-g), d[j]*(t2-t1)
			if noGate {
				dt1, dg = d[j], d[j]*t2
			}
			dt2 := d[j] * g
			if !keras {
				dt1, dt2 = dt1*(1-t1*t1), dt2*(1-t2*t2)
			}
			dp := dg * (g * (1 - g))
			dt += dp * a
			r[j], r[n+j], r[2*n+j], r[3*n+j] = dt1, dt2, dp*sts, dp
		}
		dts[i] += sg * dt
	}
}
