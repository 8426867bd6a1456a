package core

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

// ErrStepperBusy is returned by Stepper.Step (and the other methods) when
// another goroutine is inside a call on the same stepper: a stepper serves
// one control loop, and a second caller gets this error instead of racing on
// the state.
var ErrStepperBusy = errors.New("core: the stepper is in use by another goroutine (one stepper serves one loop)")

// Stepper runs a cell one time step per call, for control loops: it owns a
// copy of the parameters (prepared once), the state of every sample and
// every scratch buffer, so that Step checks two lengths and its input values
// and allocates nothing.
//
// Step refuses (with an error, the state unchanged) inputs that are NaN or
// infinite and elapsed times that are not finite and > 0: one bad sensor
// reading should not poison the state of a running loop.
type Stepper[T Float] struct {
	cell  Cell[T]
	ws    Workspace[T]
	batch int
	h     []T // batch x units
	el    []T // batch x 1
	busy  atomic.Bool
}

// NewStepper checks the cell (as NewCell does) and returns a stepper for
// batch samples with a zero state. The stepper copies the parameters:
// later changes to c do not reach it.
func NewStepper[T Float](c *Cell[T], batch int) (*Stepper[T], error) {
	if c == nil {
		return nil, errors.New("core: the stepper's cell must not be nil")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if batch < 1 {
		return nil, fmt.Errorf("core: the stepper's batch must be >= 1, got %d", batch)
	}
	// The state, elapsed times, a copy of the parameters and the synapse
	// tables, checked before any is allocated.
	var v T
	sz := float64(unsafe.Sizeof(v))
	nparam := 0
	for _, f := range c.Params.Fields(c.Shape, c.Opts.InputMapping, c.Opts.OutputMapping) {
		nparam += len(*f.Data)
	}
	need := float64(batch)*float64(c.Shape.Units+1)*sz + float64(nparam)*sz +
		float64(len(c.Params.SparsityMask)+len(c.Params.SensorySparsityMask))*(9*sz+8)
	if err := machine.CheckAlloc(fmt.Sprintf("core: a stepper of batch=%d for a %d-unit cell", batch, c.Shape.Units), need); err != nil {
		return nil, err
	}
	s := &Stepper[T]{cell: Cell[T]{Shape: c.Shape, Opts: c.Opts, Params: c.Params.Clone()}, batch: batch}
	s.h = make([]T, batch*c.Shape.Units)
	s.el = make([]T, batch)
	s.ws.prepare(&s.cell)
	s.ws.ensureWorkers(1, false)
	return s, nil
}

// Shape returns the stepper's cell shape.
func (s *Stepper[T]) Shape() Shape { return s.cell.Shape }

// Batch returns the number of samples the stepper steps at once.
func (s *Stepper[T]) Batch() int { return s.batch }

// Step advances the state by one time step of `elapsed` time units with the
// inputs x (batch x sensory) and writes the outputs into y (batch x motor;
// nil: not wanted). It returns an error, leaving the state unchanged, when
// x holds a NaN or an infinity, when elapsed is not finite and > 0, or when
// another goroutine is using the stepper. It panics if len(x) or len(y)
// does not fit.
func (s *Stepper[T]) Step(x []T, elapsed float64, y []T) error {
	sh := s.cell.Shape
	if len(x) != s.batch*sh.Sensory {
		panic("core: stepper input length does not match batch*sensory")
	}
	if y != nil && len(y) != s.batch*sh.Motor {
		panic("core: stepper output length does not match batch*motor")
	}
	if !(elapsed > 0) || math.IsInf(elapsed, 0) {
		return fmt.Errorf("core: elapsed must be finite and > 0, got %v", elapsed)
	}
	for i, v := range x {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("core: input %d (sample %d, feature %d) is %v; the state is unchanged",
				i, i/sh.Sensory, i%sh.Sensory, f)
		}
	}
	if !s.busy.CompareAndSwap(false, true) {
		return ErrStepperBusy
	}
	defer s.busy.Store(false)
	in := Sequence[T]{Batch: s.batch, Steps: 1, X: x, H0: s.h}
	if elapsed != 1 {
		for i := range s.el {
			s.el[i] = T(elapsed)
		}
		in.Elapsed = s.el
	}
	s.ws.seq, s.ws.allSteps, s.ws.taped = in, false, false
	out := Output[T]{Y: y, H: s.h}
	w := &s.ws.workers[0]
	for blk := 0; blk < numBlocks(s.batch); blk++ {
		s.ws.forwardBlock(w, blk, out)
	}
	s.ws.seq = Sequence[T]{}
	return nil
}

// State copies the state (batch x units) into dst. It panics if len(dst)
// does not fit.
func (s *Stepper[T]) State(dst []T) error {
	if len(dst) != len(s.h) {
		panic("core: stepper state length does not match batch*units")
	}
	if !s.busy.CompareAndSwap(false, true) {
		return ErrStepperBusy
	}
	defer s.busy.Store(false)
	copy(dst, s.h)
	return nil
}

// SetState replaces the state with src (batch x units), or zeros when src
// is nil. It panics if src is not nil and len(src) does not fit.
func (s *Stepper[T]) SetState(src []T) error {
	if src != nil && len(src) != len(s.h) {
		panic("core: stepper state length does not match batch*units")
	}
	if !s.busy.CompareAndSwap(false, true) {
		return ErrStepperBusy
	}
	defer s.busy.Store(false)
	if src == nil {
		clear(s.h)
	} else {
		copy(s.h, src)
	}
	return nil
}
