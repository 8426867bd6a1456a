package core

import (
	"errors"
	"testing"
	"time"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

// TestInterruptStopsForwardAndBackward: machine.Interrupt ends a long
// forward or backward pass within a step, with ErrInterrupted, and the cell
// and workspace serve the next call as if nothing happened.
func TestInterruptStopsForwardAndBackward(t *testing.T) {
	c := newTestCell(t, cellSpec{wiring: "fully_connected", in: Affine, out: Affine, unfolds: 6, seed: 3})
	b, st := 8, 200000 // seconds of work: the interrupt must cut it short
	in := Sequence[float64]{Batch: b, Steps: st, X: make([]float64, b*st*testSensory)}
	out := Output[float64]{Y: make([]float64, b*st*c.Shape.Motor), AllSteps: true}
	var ws Workspace[float64]
	interruptAfter := func(call func() error) (time.Duration, error) {
		defer machine.ClearInterrupt()
		done := make(chan error, 1)
		go func() { done <- call() }()
		time.Sleep(50 * time.Millisecond)
		machine.Interrupt()
		t0 := time.Now()
		err := <-done
		return time.Since(t0), err
	}
	lag, err := interruptAfter(func() error { return c.Forward(&ws, in, out, true) })
	if !errors.Is(err, machine.ErrInterrupted) || lag > 100*time.Millisecond {
		t.Fatalf("interrupted Forward: %v after %v, want ErrInterrupted within 100 ms", err, lag)
	}
	if err := c.Backward(&ws, nil, nil, Gradients[float64]{}); err == nil {
		t.Errorf("Backward after an interrupted Forward: nil, want the no-tape error")
	}
	// The workspace still works: a short pass matches a fresh workspace's.
	short := Sequence[float64]{Batch: b, Steps: 3, X: in.X[:b*3*testSensory]}
	y1 := Output[float64]{Y: make([]float64, b*3*c.Shape.Motor), AllSteps: true}
	y2 := Output[float64]{Y: make([]float64, b*3*c.Shape.Motor), AllSteps: true}
	var fresh Workspace[float64]
	if err := c.Forward(&ws, short, y1, false); err != nil {
		t.Fatal(err)
	}
	if err := c.Forward(&fresh, short, y2, false); err != nil {
		t.Fatal(err)
	}
	for i := range y1.Y {
		if y1.Y[i] != y2.Y[i] {
			t.Fatalf("y[%d] after an interrupted call = %v, fresh workspace %v", i, y1.Y[i], y2.Y[i])
		}
	}
	// Backward over a long taped pass.
	mid := Sequence[float64]{Batch: b, Steps: 20000, X: in.X[:b*20000*testSensory]}
	if err := c.Forward(&ws, mid, Output[float64]{Y: out.Y[:b*20000*c.Shape.Motor], AllSteps: true}, true); err != nil {
		t.Fatal(err)
	}
	g := Gradients[float64]{X: make([]float64, b*20000*testSensory)}
	lag, err = interruptAfter(func() error { return c.Backward(&ws, out.Y[:b*20000*c.Shape.Motor], nil, g) })
	if !errors.Is(err, machine.ErrInterrupted) || lag > 100*time.Millisecond {
		t.Fatalf("interrupted Backward: %v after %v, want ErrInterrupted within 100 ms", err, lag)
	}
}
