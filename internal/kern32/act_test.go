package kern32

import (
	"math"
	"math/rand/v2"
	"slices"
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

// headsCase is a block of rows rows of CfC heads (4n values and the new
// state, ld apart, with a gap after each row that no kernel may touch) and
// their elapsed times.
type headsCase struct {
	rows, n, ld, off, hoff, tsld int
	x, ts                        []float32
}

const headsGuard = 3 // values after each row's state that must stay put

func newHeadsCase(rng *rand.Rand, rows, n, off int, perRow bool) headsCase {
	c := headsCase{rows: rows, n: n, off: off, hoff: 4*n + 1}
	c.ld = off + c.hoff + n + headsGuard + 2*n // two slots for copies of the state
	c.x = make([]float32, rows*c.ld)
	for i := range c.x {
		c.x[i] = float32(rng.NormFloat64() * 1.5)
	}
	c.ts = []float32{1}
	if perRow {
		c.tsld = 2
		c.ts = make([]float32, 2*rows)
		for i := range c.ts {
			c.ts[i] = float32(0.25 + 2*rng.Float64())
		}
	}
	return c
}

// TestCfCHeads compares CfCHeads with the same step in float64, over unit
// counts around the vector width and several rows, every variant.
func TestCfCHeads(t *testing.T) {
	if !Available {
		t.Skip("no AVX2/FMA")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, keras := range []bool{false, true} {
		for _, noGate := range []bool{false, true} {
			for _, n := range []int{1, 4, 7, 8, 11, 16, 17, 22, 34, 40} {
				for _, pr := range []struct {
					perRow bool
					off    int
				}{{false, 0}, {true, 3}, {false, 9}, {true, 1}} {
					perRow := pr.perRow
					c := newHeadsCase(rng, 5, n, pr.off, perRow)
					bias := make([]float32, 4*n)
					for i := range bias {
						bias[i] = float32(rng.NormFloat64())
					}
					// The state is copied into its row's first slot and, as
					// into the next step's rows, into the previous row's
					// second (row 0: a spare row before the rows).
					c1 := c.hoff + n + headsGuard
					copies := []int{c1, c1 + n - c.ld}
					if perRow {
						copies = copies[:1]
					}
					x := append(make([]float32, c.ld), c.x...)
					CfCHeads(x, c.ld, c.ld, c.rows, c.off, n, c.hoff, copies, bias, c.ts, c.tsld, keras, noGate)
					for i := 0; i < c.rows; i++ {
						h := x[c.ld+i*c.ld+c.off+c.hoff:][:n]
						for k, cp := range copies {
							if got := x[c.ld+i*c.ld+c.off+cp:][:n]; !slices.Equal(got, h) {
								t.Fatalf("keras=%v noGate=%v n=%d: copy %d of row %d's state is %v, want %v", keras, noGate, n, k, i, got, h)
							}
						}
					}
					x0 := append([]float32(nil), c.x...)
					// Compare the rest with the copies' slots as they were.
					c.x = x[c.ld:]
					for i := 0; i < c.rows; i++ {
						copy(c.x[i*c.ld+c.off+c1:i*c.ld+c.ld], x0[i*c.ld+c.off+c1:i*c.ld+c.ld])
					}
					for i := 0; i < c.rows; i++ {
						if !slices.Equal(c.x[i*c.ld:i*c.ld+c.off], x0[i*c.ld:i*c.ld+c.off]) {
							t.Fatalf("keras=%v noGate=%v n=%d off=%d: changed values before the heads", keras, noGate, n, c.off)
						}
						r, r0 := c.x[i*c.ld+c.off:(i+1)*c.ld], x0[i*c.ld+c.off:(i+1)*c.ld]
						ts := float64(c.ts[i*c.tsld])
						for j := 0; j < n; j++ {
							f1, f2 := float64(r0[j]+bias[j]), float64(r0[n+j]+bias[n+j])
							a, b := float64(r0[2*n+j]+bias[2*n+j]), float64(r0[3*n+j]+bias[3*n+j])
							if !keras {
								f1, f2 = math.Tanh(f1), math.Tanh(f2)
							} else {
								ts = -math.Abs(ts)
							}
							g := 1 / (1 + math.Exp(-(a*ts + b)))
							h := f1*(1-g) + g*f2
							if noGate {
								h = f1 + g*f2
							}
							for k, w := range []float64{f1, f2, g, a, h} {
								got := r[k*n+j]
								if k == 4 {
									got = r[c.hoff+j]
								}
								if math.Abs(float64(got)-w) > 2e-6*(1+math.Abs(w)) {
									t.Fatalf("keras=%v noGate=%v n=%d row %d: value %d of unit %d = %v, want %v", keras, noGate, n, i, k, j, got, w)
								}
							}
						}
						if r[4*n] != r0[4*n] {
							t.Fatalf("keras=%v noGate=%v n=%d: wrote between heads and state", keras, noGate, n)
						}
						for j := c.hoff + n; j < len(r); j++ {
							if r[j] != r0[j] {
								t.Fatalf("keras=%v noGate=%v n=%d: wrote past the state", keras, noGate, n)
							}
						}
					}
				}
			}
		}
	}
}

// TestCfCHeadsGrad compares CfCHeadsGrad with the same step in float64,
// over unit counts around the vector width and several rows, every
// variant.
func TestCfCHeadsGrad(t *testing.T) {
	if !Available {
		t.Skip("no AVX2/FMA")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, keras := range []bool{false, true} {
		for _, noGate := range []bool{false, true} {
			for _, n := range []int{1, 4, 7, 8, 11, 16, 19, 22, 40} {
				for _, pr := range []struct {
					perRow bool
					off    int
				}{{false, 0}, {true, 3}, {false, 9}, {true, 1}} {
					perRow := pr.perRow
					c := newHeadsCase(rng, 5, n, pr.off, perRow)
					ldd := n + 2
					dh := make([]float32, c.rows*ldd)
					for i := range dh {
						dh[i] = float32(rng.NormFloat64())
					}
					for i := 0; i < c.rows; i++ {
						r := c.x[i*c.ld+c.off:]
						for j := 0; j < n; j++ {
							if !keras {
								r[j], r[n+j] = float32(math.Tanh(float64(r[j]))), float32(math.Tanh(float64(r[n+j])))
							}
							r[2*n+j] = float32(rng.Float64())
						}
					}
					dts := make([]float32, c.rows+1)
					for i := range dts {
						dts[i] = float32(i)
					}
					x0 := append([]float32(nil), c.x...)
					CfCHeadsGrad(c.x, c.ld, c.rows, c.off, dh, ldd, n, c.ts, c.tsld, dts[:c.rows], keras, noGate)
					for i := 0; i < c.rows; i++ {
						if !slices.Equal(c.x[i*c.ld:i*c.ld+c.off], x0[i*c.ld:i*c.ld+c.off]) {
							t.Fatalf("keras=%v noGate=%v n=%d off=%d: changed values before the heads", keras, noGate, n, c.off)
						}
						r, r0 := c.x[i*c.ld+c.off:(i+1)*c.ld], x0[i*c.ld+c.off:(i+1)*c.ld]
						ts := float64(c.ts[i*c.tsld])
						sg := 1.0
						if keras {
							sg = -1
						}
						var wantDt float64
						for j := 0; j < n; j++ {
							t1, t2, g, a, d := float64(r0[j]), float64(r0[n+j]), float64(r0[2*n+j]), float64(r0[3*n+j]), float64(dh[i*ldd+j])
							dt1, dg := d*(1-g), d*(t2-t1)
							if noGate {
								dt1, dg = d, d*t2
							}
							dp := dg * g * (1 - g)
							wantDt += sg * dp * a
							dt2 := d * g
							if !keras {
								dt1, dt2 = dt1*(1-t1*t1), dt2*(1-t2*t2)
							}
							for k, w := range []float64{dt1, dt2, sg * dp * ts, dp} {
								if math.Abs(float64(r[k*n+j])-w) > 1e-6*(1+math.Abs(w)) {
									t.Fatalf("keras=%v noGate=%v n=%d row %d: value %d of unit %d = %v, want %v", keras, noGate, n, i, k, j, r[k*n+j], w)
								}
							}
						}
						for j := 4 * n; j < len(r); j++ {
							if r[j] != r0[j] {
								t.Fatalf("keras=%v noGate=%v n=%d: wrote past the heads", keras, noGate, n)
							}
						}
						if got := float64(dts[i]) - float64(i); math.Abs(got-wantDt) > 1e-5*(1+math.Abs(wantDt)+float64(i)) {
							t.Fatalf("keras=%v noGate=%v n=%d row %d: dt = %v, want %v", keras, noGate, n, i, got, wantDt)
						}
					}
					if dts[c.rows] != float32(c.rows) {
						t.Fatalf("keras=%v noGate=%v n=%d: wrote past dts", keras, noGate, n)
					}
				}
			}
		}
	}
}
