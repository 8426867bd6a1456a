package core

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"
)

// The stepper stepped T times gives Forward's outputs and final state over
// the same T steps, with regular and irregular elapsed times, at a batch
// that fills more than one lane block.
func TestStepperMatchesForward(t *testing.T) {
	for _, batch := range []int{1, 3, 11} {
		cfg := benchConfigs[1]
		cfg.batch, cfg.steps = batch, 7
		cell, in := newBenchCell(&testing.B{}, cfg)
		sh := cell.Shape
		el := make([]float32, batch*cfg.steps)
		for b := 0; b < batch; b++ {
			for s := 0; s < cfg.steps; s++ {
				el[b*cfg.steps+s] = 1
				if s%2 == 1 {
					el[b*cfg.steps+s] = 0.5
				}
			}
		}
		in.Elapsed = el
		var ws Workspace[float32]
		want := Output[float32]{Y: make([]float32, batch*cfg.steps*sh.Motor), AllSteps: true,
			H: make([]float32, batch*sh.Units)}
		if err := cell.Forward(&ws, in, want, false); err != nil {
			t.Fatal(err)
		}
		st, err := NewStepper(cell, batch)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, batch*sh.Sensory)
		y := make([]float32, batch*sh.Motor)
		for s := 0; s < cfg.steps; s++ {
			for b := 0; b < batch; b++ {
				copy(x[b*sh.Sensory:(b+1)*sh.Sensory], in.X[(b*cfg.steps+s)*sh.Sensory:][:sh.Sensory])
			}
			if err := st.Step(x, float64(el[s]), y); err != nil {
				t.Fatal(err)
			}
			for b := 0; b < batch; b++ {
				for m := 0; m < sh.Motor; m++ {
					if got, w := y[b*sh.Motor+m], want.Y[(b*cfg.steps+s)*sh.Motor+m]; got != w {
						t.Fatalf("batch %d step %d sample %d: y = %v, Forward gives %v", batch, s, b, got, w)
					}
				}
			}
		}
		h := make([]float32, batch*sh.Units)
		if err := st.State(h); err != nil {
			t.Fatal(err)
		}
		for i := range h {
			if h[i] != want.H[i] {
				t.Fatalf("batch %d: state[%d] = %v, Forward gives %v", batch, i, h[i], want.H[i])
			}
		}
	}
}

func TestStepperRefusesBadValuesAndKeepsState(t *testing.T) {
	cell, _ := newBenchCell(&testing.B{}, benchConfigs[4])
	st, err := NewStepper(cell, 1)
	if err != nil {
		t.Fatal(err)
	}
	sh := cell.Shape
	x := make([]float32, sh.Sensory)
	for i := range x {
		x[i] = 0.5
	}
	if err := st.Step(x, 1, nil); err != nil {
		t.Fatal(err)
	}
	before := make([]float32, sh.Units)
	_ = st.State(before)
	x[3] = float32(math.NaN())
	if err := st.Step(x, 1, nil); err == nil || !strings.Contains(err.Error(), "feature 3") {
		t.Fatalf("NaN input: err = %v, want one naming feature 3", err)
	}
	x[3] = 0.5
	for _, el := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if err := st.Step(x, el, nil); err == nil || !strings.Contains(err.Error(), "elapsed") {
			t.Fatalf("elapsed %v: err = %v, want one naming elapsed", el, err)
		}
	}
	after := make([]float32, sh.Units)
	_ = st.State(after)
	for i := range after {
		if after[i] != before[i] {
			t.Fatalf("state[%d] changed by refused steps: %v -> %v", i, before[i], after[i])
		}
	}
	st.busy.Store(true) // as if another goroutine were inside Step
	if err := st.Step(x, 1, nil); err != ErrStepperBusy {
		t.Fatalf("busy stepper: err = %v, want ErrStepperBusy", err)
	}
	st.busy.Store(false)
	if _, err := NewStepper(cell, 0); err == nil {
		t.Fatal("batch 0 accepted")
	}
}

func TestStepperAllocatesNothing(t *testing.T) {
	cell, _ := newBenchCell(&testing.B{}, benchConfigs[4])
	st, _ := NewStepper(cell, 1)
	x := make([]float32, cell.Shape.Sensory)
	y := make([]float32, cell.Shape.Motor)
	if n := testing.AllocsPerRun(100, func() { _ = st.Step(x, 0.5, y) }); n != 0 {
		t.Fatalf("Step allocates %v times per call", n)
	}
}

// BenchmarkStepE is one step of configuration E (batch 1) through the Go
// stepper: the Go core's own step time that the C stepper is held to. With
// KNCP_BENCH_MODEL_NPZ naming a model.npz of configuration E (as
// bench/step.py does), it steps those parameters with the inputs
// sin(0.7 i) that examples/c/stepper.c --bench uses, so that the two
// programs do the same work.
func BenchmarkStepE(b *testing.B) {
	cell, in := newBenchCell(b, benchConfigs[4])
	if path := os.Getenv("KNCP_BENCH_MODEL_NPZ"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		p, sh, _, _, err := LoadNPZ[float32](bytes.NewReader(data), int64(len(data)), 1)
		if err != nil || sh != cell.Shape {
			b.Fatalf("%s: %v (shape %+v, want %+v)", path, err, sh, cell.Shape)
		}
		cell.Params = p
		for i := range in.X {
			in.X[i] = float32(math.Sin(0.7 * float64(i)))
		}
	}
	st, err := NewStepper(cell, 1)
	if err != nil {
		b.Fatal(err)
	}
	y := make([]float32, cell.Shape.Motor)
	b.ReportAllocs()
	for b.Loop() {
		if err := st.Step(in.X, 1, y); err != nil {
			b.Fatal(err)
		}
	}
}
