package core

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The assembly kernels (kernels_amd64.s) against the generic kernels and
// against float64.

func requireVector(t *testing.T) {
	t.Helper()
	if !simdEnabled {
		t.Skip("the CPU lacks AVX2 or FMA")
	}
}

// sigmoidList is a synapse list with one synapse per neuron, neuron j fed
// by source j with wm = 1, sigma = 1, mu = 0 and erev = 1: the sensory
// kernel then writes exactly the kernel's sigmoid of source j into both
// sums (a = 1/d, num = 0 + a*1, den = 0 + a).
func sigmoidList(n int) *synapses[float32] {
	s := &synapses[float32]{}
	for j := 0; j < n; j++ {
		s.start = append(s.start, int32(j))
		s.src = append(s.src, int32(j))
		s.flat = append(s.flat, int32(j*n+j))
		s.wm = append(s.wm, 1)
		s.sigma = append(s.sigma, 1)
		s.mu = append(s.mu, 0)
		s.erev = append(s.erev, 1)
	}
	s.start = append(s.start, int32(n))
	return s
}

// vectorSigmoid evaluates the kernels' sigmoid on every z.
func vectorSigmoid(z []float32) []float32 {
	n := (len(z) + lanes - 1) / lanes
	x := make([]float32, n*lanes)
	copy(x, z)
	num, den := make([]float32, n*lanes), make([]float32, n*lanes)
	sensoryDrive32(num, den, x, sigmoidList(n))
	for i := range den {
		if math.Float32bits(num[i]) != math.Float32bits(den[i]) && !(num[i] != num[i] && den[i] != den[i]) {
			panic("sum of a*1 differs from sum of a")
		}
	}
	return den[:len(z)]
}

// TestVectorSigmoidAccuracy sweeps z over [-30, 30] (every 1e-4, and a
// million random points) and requires a relative error of at most 4e-7
// against float64 (measured: 1.5e-7); beyond, down to the clamps, the
// relative error of the (tiny) results stays within 1e-6. Then the special
// values: NaN stays NaN, the infinities and huge arguments give exactly 0
// and 1, and the results are monotone.
func TestVectorSigmoidAccuracy(t *testing.T) {
	requireVector(t)
	var zs []float32
	for i := -300000; i <= 300000; i++ {
		zs = append(zs, float32(float64(i)*1e-4))
	}
	rng := rand.New(rand.NewPCG(31, 31))
	for range 1000000 {
		zs = append(zs, float32(-30+60*rng.Float64()))
	}
	got := vectorSigmoid(zs)
	worst, worstZ := 0.0, float32(0)
	for i, z := range zs {
		want := 1 / (1 + math.Exp(-float64(z)))
		e := math.Abs(float64(got[i])-want) / want
		if e > worst {
			worst, worstZ = e, z
		}
	}
	if worst > 4e-7 {
		t.Errorf("sigmoid(%v): relative error %.3g > 4e-7", worstZ, worst)
	}
	t.Logf("worst relative error over [-30, 30]: %.3g at z=%v", worst, worstZ)

	// The tails, up to where the clamps take over (z = -88.7: exp(-z)
	// overflows to +Inf and sigmoid is 0; z = 87.3: 1 exactly).
	zs = zs[:0]
	for z := float32(-88); z <= 87; z += 1.0 / 64 {
		zs = append(zs, z)
	}
	got = vectorSigmoid(zs)
	tail := 0.0
	for i, z := range zs {
		want := 1 / (1 + math.Exp(-float64(z)))
		if want < 0x1p-126 {
			continue // subnormal results: absolute error below 2**-149
		}
		tail = math.Max(tail, math.Abs(float64(got[i])-want)/want)
	}
	if tail > 1e-6 {
		t.Errorf("relative error over [-88, 87] %.3g > 1e-6", tail)
	}

	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	special := []struct{ z, want float32 }{
		{inf, 1}, {-inf, 0}, {math.MaxFloat32, 1}, {-math.MaxFloat32, 0},
		{88, 1}, {1e10, 1}, {-1e10, 0}, {-89, 0}, {0, 0.5}, {float32(math.Copysign(0, -1)), 0.5},
	}
	var in []float32
	for _, s := range special {
		in = append(in, s.z)
	}
	in = append(in, nan)
	got = vectorSigmoid(in)
	for i, s := range special {
		if got[i] != s.want {
			t.Errorf("sigmoid(%v) = %v, want %v", s.z, got[i], s.want)
		}
	}
	if g := got[len(special)]; g == g {
		t.Errorf("sigmoid(NaN) = %v, want NaN", g)
	}

	zs = zs[:0]
	for z := float32(-100); z <= 100; z += 1.0 / 256 {
		zs = append(zs, z)
	}
	got = vectorSigmoid(zs)
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] || got[i] < 0 || got[i] > 1 {
			t.Fatalf("sigmoid(%v) = %v after sigmoid(%v) = %v", zs[i], got[i], zs[i-1], got[i-1])
		}
	}
}

// randomList is a synapse list over nsrc sources and units neurons where
// neuron j has fanin(j) synapses (distinct sources), with parameters in
// their usual ranges.
func randomList(rng *rand.Rand, nsrc, units int, fanin func(j int) int) *synapses[float32] {
	mask := make([]float32, nsrc*units)
	w, sg, mu, er := make([]float32, nsrc*units), make([]float32, nsrc*units), make([]float32, nsrc*units), make([]float32, nsrc*units)
	u := func(lo, hi float64) float32 { return float32(lo + (hi-lo)*rng.Float64()) }
	for i := range mask {
		w[i], sg[i], mu[i], er[i] = u(0.001, 1), u(3, 8), u(0.3, 0.8), u(-1, 1)
	}
	for j := 0; j < units; j++ {
		for _, i := range rng.Perm(nsrc)[:min(nsrc, fanin(j))] {
			mask[i*units+j] = 1
		}
	}
	s := &synapses[float32]{}
	s.gather(units, mask, w, sg, mu, er, false)
	return s
}

func randVec(rng *rand.Rand, n int, lo, hi float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return s
}

// withGeneric runs f with the generic kernels.
func withGeneric(f func()) {
	defer func(e bool) { simdEnabled = e }(simdEnabled)
	simdEnabled = false
	f()
}

// closeTo reports whether got and want agree to tol relative to the
// largest magnitude in want (and have NaNs in the same places).
func closeTo(got, want []float32, tol float64) (float64, bool) {
	scale := 0.0
	for _, w := range want {
		if w == w {
			scale = math.Max(scale, math.Abs(float64(w)))
		}
	}
	worst := 0.0
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) != math.IsNaN(w) {
			return math.Inf(1), false
		}
		if math.IsNaN(w) {
			continue
		}
		worst = math.Max(worst, math.Abs(g-w)/math.Max(scale, 1e-30))
	}
	return worst, worst <= tol
}

// kernelShapes are the list shapes the kernel comparisons run: empty
// lists, lists shorter than the pipelines' depth, neurons without
// synapses at the start, in the middle and at the end, one long neuron,
// and config C's fan-ins.
var kernelShapes = []struct {
	name        string
	nsrc, units int
	fanin       func(rng *rand.Rand, j int) int
}{
	{"empty", 5, 7, func(*rand.Rand, int) int { return 0 }},
	{"one", 5, 7, func(_ *rand.Rand, j int) int { return b2i(j == 3) }},
	{"short", 6, 3, func(*rand.Rand, int) int { return 2 }},
	{"sixteen", 9, 4, func(*rand.Rand, int) int { return 4 }},
	{"gaps", 12, 20, func(_ *rand.Rand, j int) int { return []int{0, 0, 3, 0, 5, 1, 0, 0, 12, 2}[j%10] * b2i(j < 18) }},
	{"long", 200, 3, func(*rand.Rand, int) int { return 200 }},
	{"random", 64, 64, func(rng *rand.Rand, _ int) int { return rng.IntN(12) }},
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestKernelShapesMatchGeneric runs every kernel on the shapes above in
// both implementations. The vector sigmoid and the generic one differ by
// an ulp or two and sums are taken in the same order, so results agree to
// 1e-6 relative to each array's largest magnitude; NaN sources must give
// NaN in the same places.
func TestKernelShapesMatchGeneric(t *testing.T) {
	requireVector(t)
	for _, sh := range kernelShapes {
		for _, withNaN := range []bool{false, true} {
			rng := rand.New(rand.NewPCG(41, uint64(sh.units)))
			syn := randomList(rng, sh.nsrc, sh.units, func(j int) int { return sh.fanin(rng, j) })
			u, ns := sh.units*lanes, sh.nsrc*lanes
			src := randVec(rng, ns, -1, 1)
			if withNaN {
				src[lanes*(sh.nsrc/2)+3] = float32(math.NaN())
			}
			name := sh.name
			if withNaN {
				name += "/NaN"
			}
			check := func(what string, got, want []float32, tol float64) {
				t.Helper()
				if e, ok := closeTo(got, want, tol); !ok {
					t.Errorf("%s: %s: vector and generic differ by %.3g relative (> %g)", name, what, e, tol)
				}
			}

			// sensoryDrive
			num, den := randVec(rng, u, 5, 6), randVec(rng, u, 5, 6)
			num0, den0 := append([]float32(nil), num...), append([]float32(nil), den...)
			sensoryDrive(num, den, src, syn)
			withGeneric(func() { sensoryDrive(num0, den0, src, syn) })
			check("sensory num", num, num0, 1e-6)
			check("sensory den", den, den0, 1e-6)

			// unfoldForward, with and without q. The sources are the
			// state: nsrc must equal units.
			if sh.nsrc == sh.units {
				c, gl, glvl := randVec(rng, u, 1, 2), randVec(rng, sh.units, 0.001, 1), randVec(rng, sh.units, -0.2, 0.2)
				nsd, dsd := randVec(rng, u, -1, 1), randVec(rng, u, 0, 1)
				for _, withQ := range []bool{false, true} {
					vn, vn0 := make([]float32, u), make([]float32, u)
					var q, q0 []float32
					if withQ {
						q, q0 = make([]float32, u), make([]float32, u)
					}
					unfoldForward(vn, q, src, nsd, dsd, c, gl, glvl, syn, 1e-8)
					withGeneric(func() { unfoldForward(vn0, q0, src, nsd, dsd, c, gl, glvl, syn, 1e-8) })
					check("unfold vn", vn, vn0, 1e-6)
					if withQ {
						check("unfold q", q, q0, 1e-6)
					}
				}
			}

			// synapsesBackward, accumulating onto nonzero accumulators.
			nsyn := syn.n() * lanes
			gnum, gden := randVec(rng, u, -1, 1), randVec(rng, u, -1, 1)
			acc := synapseGrads[float32]{randVec(rng, nsyn, -1, 1), randVec(rng, nsyn, -1, 1), randVec(rng, nsyn, -1, 1), randVec(rng, nsyn, -1, 1)}
			acc0 := synapseGrads[float32]{append([]float32(nil), acc.wm...), append([]float32(nil), acc.sigma...),
				append([]float32(nil), acc.mu...), append([]float32(nil), acc.erev...)}
			gsrc := randVec(rng, ns, -1, 1)
			gsrc0 := append([]float32(nil), gsrc...)
			synapsesBackward(gsrc, src, gnum, gden, syn, &acc)
			withGeneric(func() { synapsesBackward(gsrc0, src, gnum, gden, syn, &acc0) })
			check("backward gsrc", gsrc, gsrc0, 1e-6)
			check("backward wm", acc.wm, acc0.wm, 1e-6)
			check("backward sigma", acc.sigma, acc0.sigma, 1e-6)
			check("backward mu", acc.mu, acc0.mu, 1e-6)
			check("backward erev", acc.erev, acc0.erev, 1e-6)
		}
	}

	// neuronsBackward, on a length that is not a multiple of 8 (the tail
	// is left alone by the vector kernel, as the callers never pass one).
	rng := rand.New(rand.NewPCG(43, 43))
	const n = 8 * 13
	gv, v, vn, q, c := randVec(rng, n, -1, 1), randVec(rng, n, -1, 1), randVec(rng, n, -1, 1), randVec(rng, n, 1, 3), randVec(rng, n, 1, 2)
	outs := func() [][]float32 {
		return [][]float32{make([]float32, n), make([]float32, n), make([]float32, n), randVec(rand.New(rand.NewPCG(1, 1)), n, -1, 1),
			randVec(rand.New(rand.NewPCG(2, 2)), n, -1, 1), randVec(rand.New(rand.NewPCG(3, 3)), n, -1, 1)}
	}
	a, b := outs(), outs()
	neuronsBackward(a[0], a[1], a[2], a[3], a[4], a[5], gv, v, vn, q, c)
	withGeneric(func() { neuronsBackward(b[0], b[1], b[2], b[3], b[4], b[5], gv, v, vn, q, c) })
	for i, name := range []string{"gvp", "gnum", "gden", "gc", "gns", "gds"} {
		if e, ok := closeTo(a[i], b[i], 1e-6); !ok {
			t.Errorf("neuronsBackward %s: vector and generic differ by %.3g relative", name, e)
		}
	}
}
