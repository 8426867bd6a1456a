package cfc

import (
	"errors"
	"testing"
	"time"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

// TestInterruptStopsForwardAndBackward: a long pass stops within 100 ms of
// machine.Interrupt with ErrInterrupted, keeps no tape, and the workspace
// works afterwards.
func TestInterruptStopsForwardAndBackward(t *testing.T) {
	m, err := New[float32](Config{InputSize: 4, Units: 32, BackboneUnits: 64, BackboneLayers: 2}, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, st := 8, 200000 // many seconds of work: the interrupt must cut it short
	in := Sequence[float32]{Batch: b, Steps: st, X: make([]float32, b*st*4)}
	var ws Workspace[float32]
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
	lag, err := interruptAfter(func() error { return m.Forward(&ws, in, Output[float32]{}, Pass{Keep: true}) })
	if !errors.Is(err, machine.ErrInterrupted) || lag > 100*time.Millisecond {
		t.Fatalf("interrupted Forward: %v after %v, want ErrInterrupted within 100 ms", err, lag)
	}
	if err := m.Backward(&ws, nil, nil, nil, Gradients[float32]{}); err == nil {
		t.Error("Backward after an interrupted Forward: nil, want the no-tape error")
	}
	short := Sequence[float32]{Batch: b, Steps: 3, X: in.X[:b*3*4]}
	y1, y2 := make([]float32, b*3*m.OutputSize()), make([]float32, b*3*m.OutputSize())
	var fresh Workspace[float32]
	if err := m.Forward(&ws, short, Output[float32]{Y: y1, AllSteps: true}, Pass{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Forward(&fresh, short, Output[float32]{Y: y2, AllSteps: true}, Pass{}); err != nil {
		t.Fatal(err)
	}
	for i := range y1 {
		if y1[i] != y2[i] {
			t.Fatalf("y[%d] after an interrupted call = %v, fresh workspace %v", i, y1[i], y2[i])
		}
	}
	mid := Sequence[float32]{Batch: b, Steps: 50, X: in.X[:b*50*4]}
	if err := m.Forward(&ws, mid, Output[float32]{}, Pass{Keep: true}); err != nil {
		t.Fatal(err)
	}
	// Backward checks at every step (a pass of this size may end before
	// a timed interrupt lands, so the flag is raised first).
	g := Gradients[float32]{Params: make([]float32, len(m.Params))}
	gh := make([]float32, b*m.StateSize())
	machine.Interrupt()
	err = m.Backward(&ws, nil, gh, nil, g)
	machine.ClearInterrupt()
	if !errors.Is(err, machine.ErrInterrupted) {
		t.Fatalf("Backward with the interrupt raised: %v, want ErrInterrupted", err)
	}
}
