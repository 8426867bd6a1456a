package kern32

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ulps is |got - want| in units of float32's spacing at want (want taken
// in float64; the spacing of the smallest normal below it).
func ulps(got float32, want float64) float64 {
	if math.IsNaN(want) {
		if got != got {
			return 0
		}
		return math.Inf(1)
	}
	w := math.Abs(want)
	if w < 0x1p-126 {
		w = 0x1p-126
	}
	_, e := math.Frexp(w) // w = f * 2**e, f in [0.5, 1)
	return math.Abs(float64(got)-want) / math.Ldexp(1, e-24)
}

// testInputs covers zero, tiny, the branch points and the saturated tails
// densely, and random values, both signs, with odd lengths for the tails.
func actInputs() []float32 {
	var xs []float32
	for _, v := range []float64{0, 1e-30, 1e-7, 1e-3, 0.3, 0.3125, 0.3124, 0.625, 0.6249, 1, 4.5, 8.9, 9, 20, 87, 88.7, 89, 100, 1e30} {
		xs = append(xs, float32(v), float32(-v))
	}
	xs = append(xs, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()))
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 200001; i++ {
		xs = append(xs, float32((rng.Float64()*2-1)*math.Pow(10, rng.Float64()*3-2)))
	}
	return xs
}

func TestTanhAccuracy(t *testing.T) {
	if !Available {
		t.Skip("no AVX2+FMA")
	}
	for _, s := range []struct{ a, b float64 }{{1, 1}, {1.7159, 0.666}} {
		xs := actInputs()
		d := make([]float32, len(xs))
		g := append([]float32(nil), xs...)
		Tanh(d, g, float32(s.a), float32(s.b), true)
		d2 := make([]float32, len(xs))
		Tanh(d2, xs, float32(s.a), float32(s.b), false)
		worstT, worstG := 0.0, 0.0
		for i, x := range xs {
			y := float64(float32(s.b) * x) // the kernel's argument, rounded as it is
			th := math.Tanh(y)
			want := float64(float32(s.a)) * th
			ch := math.Cosh(y) // 1 - tanh**2 = 1/cosh**2, exact also where tanh rounds to 1
			wantG := float64(float32(s.a)*float32(s.b)) / (ch * ch)
			if math.IsInf(y, 0) {
				wantG = 0
			}
			ut, ug := ulps(d[i], want), ulps(g[i], wantG)
			if math.Abs(wantG) < 0x1p-100 && math.Abs(float64(g[i])) < 0x1p-100 {
				ug = 0 // tails beyond |b x| = 43: a derivative below 1e-30 is 0 for every use
			}
			if d2[i] != d[i] && !(d[i] != d[i] && d2[i] != d2[i]) {
				t.Fatalf("a=%v b=%v x=%v: tanh %v with grad, %v without", s.a, s.b, x, d[i], d2[i])
			}
			// 3 ulp for tanh (2 for the function, 1 for the scaling by a),
			// 4 for the derivative.
			if ut > 3 || ug > 4 {
				t.Fatalf("a=%v b=%v x=%v: got %v (%.2f ulp) grad %v (%.2f ulp), want %v, %v", s.a, s.b, x, d[i], ut, g[i], ug, want, wantG)
			}
			worstT, worstG = math.Max(worstT, ut), math.Max(worstG, ug)
		}
		t.Logf("a=%v b=%v: worst %.2f ulp, derivative %.2f ulp", s.a, s.b, worstT, worstG)
	}
}

func TestSigmoidAccuracy(t *testing.T) {
	if !Available {
		t.Skip("no AVX2+FMA")
	}
	xs := actInputs()
	d := make([]float32, len(xs))
	Sigmoid(d, xs)
	worst := 0.0
	for i, x := range xs {
		want := 1 / (1 + math.Exp(-float64(x)))
		u := ulps(d[i], want)
		if float64(x) < -87.3 && math.Abs(float64(d[i])-want) <= 0x1p-126 {
			u = 0 // exp(-x) saturates: the sigmoid is below 2**-126, or 0
		}
		if u > 3 {
			t.Fatalf("x=%v: got %v (%.2f ulp), want %v", x, d[i], u, want)
		}
		worst = math.Max(worst, u)
	}
	t.Logf("worst %.2f ulp", worst)
}

// TestMul compares Mul with Go's products, exactly, over lengths around
// the vector width, in place and not.
func TestMul(t *testing.T) {
	if !Available {
		t.Skip("no AVX2/FMA")
	}
	xs := actInputs()
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{0, 1, 7, 8, 9, 16, 31, 130} {
		a, b := xs[len(xs)-n:], make([]float32, n+1)
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		dst := make([]float32, n)
		Mul(dst, a, b)
		got := append([]float32(nil), b...)
		Mul(got, a, got)
		for i := range a {
			want := a[i] * b[i]
			if !(dst[i] == want || want != want && dst[i] != dst[i]) || !(got[i] == want || want != want && got[i] != got[i]) {
				t.Fatalf("n=%d: Mul[%d] = %v, %v (in place), want %v", n, i, dst[i], got[i], want)
			}
		}
		if got[n] != b[n] {
			t.Fatalf("n=%d: Mul wrote past len(a)", n)
		}
	}
}

// TestCfCHeadsGrad compares CfCHeadsGrad with the same step in float64,
// over unit counts around the vector width, gated and not.
func TestCfCHeadsGrad(t *testing.T) {
	if !Available {
		t.Skip("no AVX2/FMA")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, noGate := range []bool{false, true} {
		for _, n := range []int{1, 7, 8, 16, 19, 40} {
			h, dh := make([]float32, 4*n), make([]float32, n)
			for j := 0; j < n; j++ {
				h[j], h[n+j] = float32(math.Tanh(rng.NormFloat64())), float32(math.Tanh(rng.NormFloat64()))
				h[2*n+j], h[3*n+j] = float32(rng.Float64()), float32(rng.NormFloat64())
				dh[j] = float32(rng.NormFloat64())
			}
			ts := float32(0.5 + rng.Float64())
			want := make([]float64, 4*n)
			var wantDt float64
			for j := 0; j < n; j++ {
				t1, t2, g, a, d := float64(h[j]), float64(h[n+j]), float64(h[2*n+j]), float64(h[3*n+j]), float64(dh[j])
				dt1, dg := d*(1-g), d*(t2-t1)
				if noGate {
					dt1, dg = d, d*t2
				}
				dp := dg * g * (1 - g)
				wantDt += dp * a
				want[j], want[n+j], want[2*n+j], want[3*n+j] = dt1*(1-t1*t1), d*g*(1-t2*t2), dp*float64(ts), dp
			}
			dt := CfCHeadsGrad(h, dh, n, ts, noGate)
			for j, w := range want {
				if math.Abs(float64(h[j])-w) > 1e-6*(1+math.Abs(w)) {
					t.Fatalf("noGate=%v n=%d: value %d = %v, want %v", noGate, n, j, h[j], w)
				}
			}
			if math.Abs(float64(dt)-wantDt) > 1e-5*(1+math.Abs(wantDt)) {
				t.Fatalf("noGate=%v n=%d: dt = %v, want %v", noGate, n, dt, wantDt)
			}
		}
	}
}
