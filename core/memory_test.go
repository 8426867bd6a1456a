package core

import (
	"errors"
	"strings"
	"testing"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

// TestStepperRefusesBatchesBeyondMemory: a batch whose state no machine
// holds is a MemoryError naming it, not a fatal allocation.
func TestStepperRefusesBatchesBeyondMemory(t *testing.T) {
	c := newTestCell(t, cellSpec{wiring: "ncp", in: Affine, out: Affine, unfolds: 2, seed: 5})
	_, err := NewStepper(c, 1<<50)
	var me *machine.MemoryError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "stepper of batch=1125899906842624") {
		t.Fatalf("NewStepper(2**50): %v, want a MemoryError naming the batch", err)
	}
	if _, err := NewStepper(c, 4); err != nil {
		t.Fatalf("NewStepper(4): %v", err)
	}
}
