package cfc

import (
	"math"

	"github.com/kerasncp-go/kerasncp-go/internal/kern32"
)

// Elementwise functions, computed in float64 whatever T is (the float32
// results are then correctly rounded or within an ulp, as torch's), except
// where kern32's kernels run: there float32's tanh, lecun_tanh, their
// derivatives and the sigmoid take kern32's vector functions (within 3 to
// 4 ulp, see kern32's act.go).

// tanhScale returns a, b with act(x) = a tanh(b x) for the activations of
// that form.
func tanhScale(act Activation) (a, b float32, ok bool) {
	switch act {
	case LeCunTanh:
		return lecunA, lecunB, true
	case Tanh:
		return 1, 1, true
	}
	return 0, 0, false
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// lecun constants: lecun_tanh(x) = lecunA * tanh(lecunB * x).
const (
	lecunA = 1.7159
	lecunB = 0.666
)

// activate writes f(src) into dst.
func activate[T Float](act Activation, dst, src []T) {
	if a, b, ok := tanhScale(act); ok && useKernel[T]() {
		kern32.Tanh(as32(dst), as32(src), a, b, false)
		return
	}
	dst = dst[:len(src)]
	switch act {
	case LeCunTanh:
		for i, a := range src {
			dst[i] = T(lecunA * math.Tanh(lecunB*float64(a)))
		}
	case Tanh:
		for i, a := range src {
			dst[i] = T(math.Tanh(float64(a)))
		}
	case ReLU:
		for i, a := range src {
			dst[i] = max(a, 0)
		}
	case GELU:
		for i, a := range src {
			x := float64(a)
			dst[i] = T(0.5 * x * (1 + math.Erf(x/math.Sqrt2)))
		}
	case SiLU:
		for i, a := range src {
			x := float64(a)
			dst[i] = T(x * sigmoid(x))
		}
	}
}

// activateGrad writes f(src) into dst and f'(src) over src.
func activateGrad[T Float](act Activation, dst, src []T) {
	if a, b, ok := tanhScale(act); ok && useKernel[T]() {
		kern32.Tanh(as32(dst), as32(src), a, b, true)
		return
	}
	dst = dst[:len(src)]
	switch act {
	case LeCunTanh:
		for i, a := range src {
			t := math.Tanh(lecunB * float64(a))
			dst[i], src[i] = T(lecunA*t), T(lecunA*lecunB*(1-t*t))
		}
	case Tanh:
		for i, a := range src {
			t := math.Tanh(float64(a))
			dst[i], src[i] = T(t), T(1-t*t)
		}
	default:
		for i, a := range src {
			dst[i] = a
			src[i] = activationGrad(act, a)
		}
		activate(act, dst, dst)
	}
}

// activationGrad returns f'(a).
func activationGrad[T Float](act Activation, a T) T {
	x := float64(a)
	switch act {
	case LeCunTanh:
		t := math.Tanh(lecunB * x)
		return T(lecunA * lecunB * (1 - t*t))
	case Tanh:
		t := math.Tanh(x)
		return T(1 - t*t)
	case ReLU:
		if a > 0 {
			return 1
		}
		return 0 // torch's choice at 0
	case GELU:
		cdf := 0.5 * (1 + math.Erf(x/math.Sqrt2))
		pdf := math.Exp(-0.5*x*x) / math.Sqrt(2*math.Pi)
		return T(cdf + x*pdf)
	case SiLU:
		s := sigmoid(x)
		return T(s * (1 + x*(1-s)))
	}
	return 0
}

// sign is torch's sign (0 at 0), the derivative of |x|.
func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// dropKeep reports whether backbone unit j of row b at step t of backbone
// layer k survives dropout of rate p in a pass seeded with seed: a pure
// function of its arguments (a SplitMix64 hash), so that Backward
// recomputes the mask Forward used whatever goroutine handles the row.
func dropKeep(seed uint64, k, t, b, j, steps, batch, width int, p float64) bool {
	idx := uint64(((k*steps+t)*batch+b)*width + j)
	z := seed + (idx+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	u := float64(z>>11) * (1.0 / (1 << 53))
	return u >= p
}
