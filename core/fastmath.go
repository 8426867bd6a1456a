package core

import (
	"math"
	"unsafe"
)

// Float is the element type of a cell: float32 or float64.
type Float interface{ ~float32 | ~float64 }

// is32 reports whether T is a 4-byte float. It is constant for each
// instantiation, so the branch it guards disappears.
func is32[T Float]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

// sigmoid returns 1/(1+exp(-z)): in float64 through math.Exp, in float32
// through exp32, whose relative error (about 2 ulp) is far below float32
// round-off accumulated elsewhere.
func sigmoid[T Float](z T) T {
	if is32[T]() {
		return T(1 / (1 + exp32(-float32(z))))
	}
	return T(1 / (1 + math.Exp(-float64(z))))
}

// softplus is torch.nn.Softplus() (beta 1, threshold 20): log(1+exp(x)),
// and x itself above 20.
func softplus[T Float](x T) T {
	if x > 20 {
		return x
	}
	return T(math.Log1p(math.Exp(float64(x))))
}

// softplusGrad is the derivative of softplus: sigmoid(x), and 1 above 20.
func softplusGrad[T Float](x T) T {
	if x > 20 {
		return 1
	}
	return T(1 / (1 + math.Exp(-float64(x))))
}

// exp32 is e**x in float32: Cody-Waite range reduction by ln 2 and a
// degree-6 polynomial on the remainder (the Cephes expf coefficients).
func exp32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -103.97208:
		return 0
	}
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*c1 - n*c2
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	// Scale by 2**n in two steps so that n down to -150 stays representable.
	k := int32(n)
	if k < -126 {
		p *= math.Float32frombits(uint32(k+126+127) << 23)
		k = -126
	}
	if k > 127 {
		p *= 2
		k--
	}
	return p * math.Float32frombits(uint32(k+127)<<23)
}
