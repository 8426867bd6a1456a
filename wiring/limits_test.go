package wiring

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

// TestRecurrentSynapsesBounded: a count that would take minutes to draw
// (2**30 on 6 command neurons took 80 s) is refused up front, with why.
func TestRecurrentSynapsesBounded(t *testing.T) {
	_, err := NewNCP(8, 6, 2, 4, 4, 1<<30, 3, 1)
	if err == nil || !strings.Contains(err.Error(), "recurrent_command_synapses must be in [0, 16777216]") ||
		!strings.Contains(err.Error(), "build time") {
		t.Fatalf("NewNCP with 2**30 recurrent synapses: %v, want a refusal saying why", err)
	}
	if _, err := NewNCP(8, 6, 2, 4, 4, MaxDraws, 3, 1); err != nil {
		t.Fatalf("NewNCP with MaxDraws: %v", err)
	}
}

// TestInterruptedBuildLeavesWiringUnbuilt: an interrupted Build returns
// machine.ErrInterrupted within a poll and leaves the wiring (random stream
// included) as it was, so that building again gives what one uninterrupted
// build gives.
func TestInterruptedBuildLeavesWiringUnbuilt(t *testing.T) {
	w, err := NewNCP(8, 6, 2, 4, 4, MaxDraws, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref := w.Clone()
	done := make(chan error, 1)
	go func() { done <- w.Build(2) }()
	time.Sleep(20 * time.Millisecond)
	machine.Interrupt()
	t0 := time.Now()
	err = <-done
	lag := time.Since(t0)
	machine.ClearInterrupt()
	if !errors.Is(err, machine.ErrInterrupted) || lag > 100*time.Millisecond {
		t.Fatalf("interrupted Build: %v after %v, want ErrInterrupted within 100 ms", err, lag)
	}
	if w.IsBuilt() || w.SynapseCount() != ref.SynapseCount() {
		t.Fatalf("the interrupted wiring changed: built %v, %d synapses (was %d)", w.IsBuilt(), w.SynapseCount(), ref.SynapseCount())
	}
	// Both now build in full: same synapses.
	if err := w.Build(2); err != nil {
		t.Fatal(err)
	}
	if err := ref.Build(2); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w.Adjacency(), ref.Adjacency()) || !slices.Equal(w.SensoryAdjacency(), ref.SensoryAdjacency()) {
		t.Error("a build after an interrupted one differs from an uninterrupted build")
	}
}

// TestInterruptedBuildUndoesSensoryDraws: with the interrupt set, Build of
// every kind that draws returns ErrInterrupted and leaves the wiring as it
// was, synapses added by hand and random stream included.
func TestInterruptedBuildUndoesSensoryDraws(t *testing.T) {
	for _, kind := range []Kind{FullyConnected, Random, NCP, AutoNCP} {
		cfg := Config{Kind: kind, Units: 12, OutputDim: 2, SparsityLevel: 0.5, Seed: 4,
			InterNeurons: 5, CommandNeurons: 4, MotorNeurons: 2, SensoryFanout: 2, InterFanout: 2,
			RecurrentCommandSynapses: 3, MotorFanin: 2}
		w, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.SetInputDim(3); err != nil {
			t.Fatal(err)
		}
		if err := w.AddSensorySynapse(0, 1, -1); err != nil {
			t.Fatal(err)
		}
		ref := w.Clone()
		machine.Interrupt()
		err = w.Build(3)
		machine.ClearInterrupt()
		if !errors.Is(err, machine.ErrInterrupted) {
			t.Fatalf("%s: Build with the interrupt set: %v", kind, err)
		}
		if !slices.Equal(w.Adjacency(), ref.Adjacency()) || !slices.Equal(w.SensoryAdjacency(), ref.SensoryAdjacency()) ||
			w.InputDim() != 3 {
			t.Fatalf("%s: the interrupted build changed the wiring", kind)
		}
		if err := w.Build(3); err != nil {
			t.Fatal(err)
		}
		if err := ref.Build(3); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(w.Adjacency(), ref.Adjacency()) || !slices.Equal(w.SensoryAdjacency(), ref.SensoryAdjacency()) {
			t.Errorf("%s: a build after an interrupted one differs from an uninterrupted build", kind)
		}
	}
}
