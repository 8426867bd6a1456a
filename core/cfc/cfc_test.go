package cfc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/diff/fd"

	"github.com/kerasncp-go/kerasncp-go/wiring"
)

const testInput = 3

// testWiring returns a small wiring by name: "ncp" (three layers: 4 inter,
// 3 command, 2 motor), "autoncp" (AutoNCP(10, 2)), "fc" (one layer of 5).
func testWiring(t testing.TB, name string) *wiring.Wiring {
	t.Helper()
	var w *wiring.Wiring
	var err error
	switch name {
	case "ncp":
		w, err = wiring.NewNCP(4, 3, 2, 2, 2, 2, 2, 22222)
	case "autoncp":
		w, err = wiring.NewAutoNCP(10, 2, 0.5, 22222)
	case "fc":
		w, err = wiring.NewFullyConnected(5, 2, 1111, true)
	default:
		t.Fatalf("unknown test wiring %q", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// modelSpec is a test configuration; wired names a testWiring.
type modelSpec struct {
	wired    string
	mode     Mode
	act      Activation
	bbUnits  int
	bbLayers int
	dropout  float64
	mixed    bool
	proj     int
	keras    bool
}

func (s modelSpec) config(t testing.TB) Config {
	c := Config{InputSize: testInput, Mode: s.mode, Activation: s.act, MixedMemory: s.mixed, ProjSize: s.proj, Keras: s.keras}
	if s.wired != "" {
		c.Wiring = testWiring(t, s.wired)
		return c
	}
	c.Units, c.BackboneUnits, c.BackboneLayers, c.BackboneDropout = 4, s.bbUnits, s.bbLayers, s.dropout
	return c
}

func (s modelSpec) String() string {
	var b strings.Builder
	if s.wired != "" {
		fmt.Fprintf(&b, "wired=%s", s.wired)
	} else {
		fmt.Fprintf(&b, "bb=%dx%d", s.bbLayers, s.bbUnits)
		if s.dropout > 0 {
			fmt.Fprintf(&b, ",drop=%g", s.dropout)
		}
	}
	fmt.Fprintf(&b, "/%v/%v", s.mode, s.act)
	if s.mixed {
		b.WriteString("/mixed")
	}
	if s.proj > 0 {
		fmt.Fprintf(&b, "/proj=%d", s.proj)
	}
	if s.keras {
		b.WriteString("/keras")
	}
	return b.String()
}

type gradCase struct {
	modelSpec
	batch, steps    int
	elapsed, h0, c0 bool
	allSteps, train bool
}

func (c gradCase) String() string {
	return fmt.Sprintf("%v/b%dt%d/elapsed=%v/h0=%v/c0=%v/all=%v/train=%v",
		c.modelSpec, c.batch, c.steps, c.elapsed, c.h0, c.c0, c.allSteps, c.train)
}

// gradCases covers every mode, activation, backbone depth 0/1/3 (with and
// without dropout), wired and plain, mixed memory, projection, elapsed
// times, initial state and memory, and both output modes.
func gradCases() []gradCase {
	base := gradCase{modelSpec: modelSpec{bbUnits: 5, bbLayers: 1}, batch: 3, steps: 4, elapsed: true, h0: true, allSteps: true}
	var cs []gradCase
	add := func(edit func(*gradCase)) {
		c := base
		edit(&c)
		cs = append(cs, c)
	}
	for _, m := range []Mode{Default, Pure, NoGate} {
		for _, a := range []Activation{LeCunTanh, Tanh, ReLU, GELU, SiLU} {
			add(func(c *gradCase) { c.mode, c.act = m, a })
		}
		for _, l := range []int{0, 3} {
			add(func(c *gradCase) { c.mode, c.bbLayers = m, l })
		}
		add(func(c *gradCase) { c.mode, c.bbLayers, c.dropout, c.train = m, 3, 0.4, true })
		add(func(c *gradCase) { c.mode, c.mixed, c.c0 = m, true, true })
		add(func(c *gradCase) { c.mode, c.proj, c.allSteps = m, 2, false })
		for _, w := range []string{"ncp", "fc"} {
			add(func(c *gradCase) { c.mode, c.wired = m, w })
		}
		add(func(c *gradCase) { c.mode, c.wired, c.mixed, c.c0, c.proj = m, "autoncp", true, true, 3 })
	}
	// The Keras variant: linear heads, negated time_a, dropout after every
	// backbone layer, signed wired masks.
	for _, m := range []Mode{Default, Pure, NoGate} {
		add(func(c *gradCase) { c.mode, c.keras = m, true })
		add(func(c *gradCase) { c.mode, c.keras, c.bbLayers, c.dropout, c.train = m, true, 2, 0.4, true })
		add(func(c *gradCase) { c.mode, c.keras, c.wired = m, true, "ncp" })
	}
	add(func(c *gradCase) { c.elapsed, c.h0 = false, false })
	add(func(c *gradCase) { c.mixed, c.h0, c.c0 = true, false, false })
	add(func(c *gradCase) { c.batch, c.bbLayers, c.dropout, c.train, c.proj = 9, 3, 0.3, true, 2 })
	add(func(c *gradCase) { c.batch, c.steps, c.allSteps = 1, 1, false })
	add(func(c *gradCase) { c.bbLayers, c.dropout = 3, 0.5 }) // inference: no dropout
	return cs
}

// testInputs is a random sequence and the upstream gradients of the loss
// sum(y*gy) + sum(h*gh) + sum(c*gc).
type testInputs[T Float] struct {
	seq        Sequence[T]
	gy, gh, gc []T
}

func randSlice[T Float](rng *rand.Rand, n int, scale float64) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(rng.NormFloat64() * scale)
	}
	return s
}

func newTestInputs[T Float](m *Model[T], c gradCase, rng *rand.Rand) testInputs[T] {
	b, st, n := c.batch, c.steps, m.StateSize()
	in := testInputs[T]{seq: Sequence[T]{Batch: b, Steps: st, X: randSlice[T](rng, b*st*m.InputSize(), 1)}}
	if c.h0 {
		in.seq.H0 = randSlice[T](rng, b*n, 0.5)
	}
	if c.c0 {
		in.seq.C0 = randSlice[T](rng, b*n, 0.5)
	}
	if c.elapsed {
		in.seq.Elapsed = make([]T, b*st)
		for i := range in.seq.Elapsed {
			in.seq.Elapsed[i] = T(0.2 + 2*rng.Float64())
		}
	}
	ny := b * m.OutputSize()
	if c.allSteps {
		ny *= st
	}
	in.gy, in.gh = randSlice[T](rng, ny, 1), randSlice[T](rng, b*n, 1)
	if c.mixed {
		in.gc = randSlice[T](rng, b*n, 1)
	}
	return in
}

func newTestModel[T Float](t testing.TB, s modelSpec, seed uint64) *Model[T] {
	t.Helper()
	m, err := New[T](s.config(t), seed)
	if err != nil {
		t.Fatalf("%v: %v", s, err)
	}
	return m
}

// result is what one forward and backward pass wrote.
type result[T Float] struct {
	y, h, c []T
	g       Gradients[T]
}

func runModel[T Float](t testing.TB, m *Model[T], ws *Workspace[T], c gradCase, in testInputs[T]) result[T] {
	t.Helper()
	b, n := c.batch, m.StateSize()
	ny := b * m.OutputSize()
	if c.allSteps {
		ny *= c.steps
	}
	r := result[T]{y: make([]T, ny), h: make([]T, b*n)}
	if c.mixed {
		r.c = make([]T, b*n)
	}
	pass := Pass{Keep: true, Train: c.train, Seed: 99}
	if err := m.Forward(ws, in.seq, Output[T]{Y: r.y, AllSteps: c.allSteps, H: r.h, C: r.c}, pass); err != nil {
		t.Fatal(err)
	}
	r.g = Gradients[T]{Params: make([]T, len(m.Params)), X: make([]T, len(in.seq.X)), H0: make([]T, b*n),
		Elapsed: make([]T, b*c.steps)}
	if c.mixed {
		r.g.C0 = make([]T, b*n)
	}
	if err := m.Backward(ws, in.gy, in.gh, in.gc, r.g); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestGradientsFiniteDifference checks every gradient Backward writes (all
// trainable parameters, x, h0, c0 and elapsed) against gonum's central
// differences of the loss, in float64. Error measure: the largest absolute
// error over an array relative to max(the array's largest gradient, 1e-4);
// with step 1e-5 the rounding error of a central difference is about
// 1e-16*|loss|/step, near 1e-10, and the truncation error step**2 times a
// third derivative is smaller still, so 1e-6 leaves a wide margin while
// any wrong term (an error of the gradient's own size) fails.
func TestGradientsFiniteDifference(t *testing.T) {
	cases := gradCases()
	if testing.Short() {
		var some []gradCase
		for i := 0; i < len(cases); i += 3 {
			some = append(some, cases[i])
		}
		cases = some
	}
	const tol = 1e-6
	worst := 0.0
	for i, tc := range cases {
		t.Run(tc.String(), func(t *testing.T) {
			m := newTestModel[float64](t, tc.modelSpec, uint64(i+1))
			rng := rand.New(rand.NewPCG(uint64(i+1), 7))
			in := newTestInputs(m, tc, rng)
			var ws Workspace[float64]
			got := runModel(t, m, &ws, tc, in)

			type variable struct {
				name       string
				data, grad []float64
			}
			var vars []variable
			for _, e := range m.Table {
				g := got.g.Params[e.Offset : e.Offset+e.Len()]
				if !e.Trainable {
					for _, v := range g {
						if v != 0 {
							t.Fatalf("gradient of the non-trainable %s is not zero: %v", e.Name, g)
						}
					}
					continue
				}
				vars = append(vars, variable{e.Name, m.Params[e.Offset : e.Offset+e.Len()], g})
			}
			vars = append(vars, variable{"x", in.seq.X, got.g.X})
			if tc.h0 {
				vars = append(vars, variable{"h0", in.seq.H0, got.g.H0})
			}
			if tc.c0 {
				vars = append(vars, variable{"c0", in.seq.C0, got.g.C0})
			}
			if tc.elapsed {
				vars = append(vars, variable{"elapsed", in.seq.Elapsed, got.g.Elapsed})
			}
			var theta []float64
			for _, v := range vars {
				theta = append(theta, v.data...)
			}
			set := func(th []float64) {
				for _, v := range vars {
					th = th[copy(v.data, th):]
				}
			}
			y, h, c := make([]float64, len(got.y)), make([]float64, len(got.h)), make([]float64, len(got.c))
			if !tc.mixed {
				c = nil
			}
			loss := func(th []float64) float64 {
				set(th)
				out := Output[float64]{Y: y, AllSteps: tc.allSteps, H: h, C: c}
				if err := m.Forward(&ws, in.seq, out, Pass{Train: tc.train, Seed: 99}); err != nil {
					t.Fatal(err)
				}
				var l float64
				for i := range y {
					l += y[i] * in.gy[i]
				}
				for i := range h {
					l += h[i] * in.gh[i]
				}
				for i := range c {
					l += c[i] * in.gc[i]
				}
				return l
			}
			num := fd.Gradient(nil, loss, theta, &fd.Settings{Formula: fd.Central, Step: 1e-5})
			set(theta)
			for _, v := range vars {
				want := num[:len(v.data)]
				num = num[len(v.data):]
				var scale, diff float64
				for i, w := range want {
					scale = math.Max(scale, math.Abs(w))
					diff = math.Max(diff, math.Abs(v.grad[i]-w))
				}
				e := diff / math.Max(scale, 1e-4)
				if math.IsNaN(diff) {
					e = math.Inf(1)
				}
				worst = math.Max(worst, e)
				if e > tol {
					t.Errorf("gradient of %s: relative error %.3g > %g\ngot  %.6g\nwant %.6g", v.name, e, tol, v.grad, want)
				}
			}
		})
	}
	t.Logf("%d cases, worst error %.3g relative to max(largest gradient, 1e-4)", len(cases), worst)
}
