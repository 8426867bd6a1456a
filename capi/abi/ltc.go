package abi

/*
#define KNCP_NO_PROTOTYPES
#include "kerasncp.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/kerasncp-go/kerasncp-go/core"
)

// view returns the elements of b as a []T (nil when b.data is NULL). The
// slice aliases caller memory and must not outlive the call.
func view[T core.Float](b C.kncp_buf, name string) ([]T, error) {
	if b.data == nil {
		return nil, nil
	}
	if b.len < 0 || b.len > 1<<40 {
		return nil, fmt.Errorf("kerasncp: %s has an invalid length %d", name, int64(b.len))
	}
	return unsafe.Slice((*T)(b.data), int(b.len)), nil
}

// mapping converts a KNCP_MAP_* code.
func mapping(code C.int32_t) (core.Mapping, bool) {
	switch code {
	case C.KNCP_MAP_AFFINE:
		return core.Affine, true
	case C.KNCP_MAP_LINEAR:
		return core.Linear, true
	case C.KNCP_MAP_NONE:
		return core.None, true
	}
	return 0, false
}

// cellFrom builds a core cell over the parameters c points to (views of
// the caller's memory: for use during the call only).
func cellFrom[T core.Float](c *C.kncp_ltc_cell) (*core.Cell[T], error) {
	cell := &core.Cell[T]{Params: &core.Params[T]{}}
	if err := fillCell(cell, c, nil); err != nil {
		return nil, err
	}
	return cell, cell.Validate()
}

// fillCell is cellFrom into a cell (and its Params) the caller provides;
// with a slab the parameters are copied into Go memory (appended to it).
// It does not validate the cell: core's Forward does, once per call.
func fillCell[T core.Float](cell *core.Cell[T], c *C.kncp_ltc_cell, slab *[]T) error {
	in, ok1 := mapping(c.input_mapping)
	out, ok2 := mapping(c.output_mapping)
	if !ok1 || !ok2 {
		return fmt.Errorf("kerasncp: input_mapping and output_mapping must be affine (0), linear (1) or none (2), got %d and %d",
			int32(c.input_mapping), int32(c.output_mapping))
	}
	const maxDim = 1 << 20
	if c.units < 1 || c.units > maxDim || c.sensory < 1 || c.sensory > maxDim || c.motor < 0 || c.motor > c.units {
		return fmt.Errorf("kerasncp: cell shape must have units >= 1, sensory >= 1 and motor in [0, units], got units=%d sensory=%d motor=%d",
			int64(c.units), int64(c.sensory), int64(c.motor))
	}
	sh := core.Shape{Units: int(c.units), Sensory: int(c.sensory), Motor: int(c.motor)}
	o := core.Options{InputMapping: in, OutputMapping: out, ODEUnfolds: int(c.ode_unfolds), Epsilon: float64(c.epsilon),
		ImplicitConstraints: c.implicit_constraints != 0}
	p := cell.Params
	*p = core.Params[T]{}
	var fields [core.NumParams]core.Field[T]
	var dims [7]int
	for _, f := range p.FieldsInto(&fields, &dims, sh, in, out) {
		b := c.params[f.Index]
		v, err := view[T](b, f.Name)
		if err != nil {
			return err
		}
		if v == nil {
			if f.Len() > 0 { // an empty one (motor 0) may come as {NULL, 0}
				return fmt.Errorf("kerasncp: parameter %s is missing (shape %v)", f.Name, f.Shape)
			}
			v = []T{}
		}
		if slab != nil {
			v = appendCopy(slab, v)
		}
		*f.Data = v
	}
	cell.Shape, cell.Opts = sh, o
	return nil
}

// appendCopy appends v to *slab and returns the copy. When the slab grows,
// copies made before stay valid in the old array; the grown slab serves
// the next call without allocating.
func appendCopy[T core.Float](slab *[]T, v []T) []T {
	n := len(*slab)
	*slab = append(*slab, v...)
	return (*slab)[n:len(*slab):len(*slab)]
}

// tape is what a forward tape handle refers to.
type tape struct {
	mu    sync.Mutex
	f32   *tapeOf[float32]
	f64   *tapeOf[float64]
	cfc32 *cfcTapeOf[float32]
	cfc64 *cfcTapeOf[float64]
}

// tapeOf is an LTC forward tape of one dtype.
type tapeOf[T core.Float] = pooledTape[callState[T], *callState[T]]

var (
	calls32 = sync.Pool{New: func() any { return new(callState[float32]) }}
	calls64 = sync.Pool{New: func() any { return new(callState[float64]) }}
)

// callState is what one forward pass needs: the cell over the caller's
// parameters, and a workspace. It is pooled, so that a call without a tape
// allocates nothing; a forward tape keeps its callState (parameters and
// inputs copied into Go memory) until the tape is freed.
type callState[T core.Float] struct {
	cell   core.Cell[T]
	params core.Params[T]
	ws     core.Workspace[T]
	slab   []T // a tape's copies of the parameters and inputs
}

// release drops every reference to the last call's memory and puts st back
// into pool.
func (st *callState[T]) release(pool *sync.Pool) {
	st.ws.Release()
	st.params = core.Params[T]{}
	pool.Put(st)
}

func forward[T core.Float](c *C.kncp_ltc_cell, batch, steps C.int64_t, x, h0, el, y C.kncp_buf, all C.int32_t, h C.kncp_buf,
	tp *C.uint64_t, pool *sync.Pool, wrap func(*tapeOf[T]) *tape) (err error) {
	if batch < 1 || steps < 1 || batch > 1<<30 || steps > 1<<30 {
		return fmt.Errorf("kerasncp: batch and steps must be >= 1, got %d and %d", int64(batch), int64(steps))
	}
	keep := tp != nil
	st := pool.Get().(*callState[T])
	defer func() {
		if !keep || err != nil {
			st.release(pool)
		}
	}()
	cell := &st.cell
	cell.Params = &st.params
	// A tape outlives the call: it works on copies of the parameters and
	// inputs, so that Go keeps no pointer into the caller's memory.
	var slab *[]T
	if keep {
		st.slab = st.slab[:0]
		slab = &st.slab
	}
	if err := fillCell(cell, c, slab); err != nil {
		return err
	}
	seq := core.Sequence[T]{Batch: int(batch), Steps: int(steps)}
	for _, a := range []struct {
		name string
		b    C.kncp_buf
		dst  *[]T
	}{{"x", x, &seq.X}, {"h0", h0, &seq.H0}, {"elapsed", el, &seq.Elapsed}} {
		v, err := view[T](a.b, a.name)
		if err != nil {
			return err
		}
		if keep && v != nil {
			v = appendCopy(slab, v)
		}
		*a.dst = v
	}
	if seq.X == nil {
		return fmt.Errorf("kerasncp: x is required")
	}
	out := core.Output[T]{AllSteps: all != 0}
	if out.Y, err = view[T](y, "y"); err != nil {
		return err
	}
	if out.H, err = view[T](h, "h"); err != nil {
		return err
	}
	if err := cell.Forward(&st.ws, seq, out, keep); err != nil {
		return err
	}
	if keep {
		*tp = newHandle(wrap(&tapeOf[T]{st: st, pool: pool, bytes: cell.TapeBytes(int(batch), int(steps))}))
	}
	return nil
}

//export kncp_ltc_forward
func kncp_ltc_forward(c *C.kncp_ltc_cell, batch, steps C.int64_t, x, h0, el, y C.kncp_buf, all C.int32_t, h C.kncp_buf,
	tp *C.uint64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if c == nil {
		return finish(fmt.Errorf("kerasncp: cell must not be NULL"), err, errlen)
	}
	switch c.dtype {
	case C.KNCP_FLOAT32:
		return finish(forward(c, batch, steps, x, h0, el, y, all, h, tp, &calls32,
			func(t *tapeOf[float32]) *tape { return &tape{f32: t} }), err, errlen)
	case C.KNCP_FLOAT64:
		return finish(forward(c, batch, steps, x, h0, el, y, all, h, tp, &calls64,
			func(t *tapeOf[float64]) *tape { return &tape{f64: t} }), err, errlen)
	}
	return finish(errf(C.KNCP_ERR_TYPE, "kerasncp: dtype must be float32 (0) or float64 (1), got %d", int32(c.dtype)), err, errlen)
}

func backward[T core.Float](t *tapeOf[T], gy, gh C.kncp_buf, grads *C.kncp_buf, gx, gh0, gel C.kncp_buf) error {
	if t.st == nil {
		return errf(C.KNCP_ERR_HANDLE, "kerasncp: the tape was released")
	}
	c := &t.st.cell
	var g core.Gradients[T]
	var err error
	if g.X, err = view[T](gx, "gx"); err != nil {
		return err
	}
	if g.H0, err = view[T](gh0, "gh0"); err != nil {
		return err
	}
	if g.Elapsed, err = view[T](gel, "gelapsed"); err != nil {
		return err
	}
	var gys, ghs []T
	if gys, err = view[T](gy, "gy"); err != nil {
		return err
	}
	if ghs, err = view[T](gh, "gh"); err != nil {
		return err
	}
	if grads != nil {
		bufs := unsafe.Slice(grads, C.KNCP_NUM_PARAMS)
		g.Params = &core.Params[T]{}
		for _, f := range g.Params.Fields(c.Shape, c.Opts.InputMapping, c.Opts.OutputMapping) {
			if !f.Trainable {
				continue
			}
			v, err := view[T](bufs[f.Index], "gradient of "+f.Name)
			if err != nil {
				return err
			}
			if v == nil {
				v = make([]T, f.Len()) // not wanted: computed into scratch
			}
			*f.Data = v
		}
	}
	return c.Backward(&t.st.ws, gys, ghs, g)
}

//export kncp_ltc_backward
func kncp_ltc_backward(h C.uint64_t, gy, gh C.kncp_buf, grads *C.kncp_buf, gx, gh0, gel C.kncp_buf,
	err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	t, e := lookup[*tape](h, "tape")
	if e != nil {
		return finish(e, err, errlen)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.f32 != nil:
		return finish(backward(t.f32, gy, gh, grads, gx, gh0, gel), err, errlen)
	case t.f64 != nil:
		return finish(backward(t.f64, gy, gh, grads, gx, gh0, gel), err, errlen)
	}
	return finish(errf(C.KNCP_ERR_HANDLE, "kerasncp: handle %d is a CfC tape, not an LTC tape", uint64(h)), err, errlen)
}

//export kncp_tape_free
func kncp_tape_free(h C.uint64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	t, e := lookup[*tape](h, "tape")
	if e != nil {
		return finish(e, err, errlen)
	}
	if e := freeHandle[*tape](h, "tape"); e != nil {
		return finish(e, err, errlen)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.f32.release()
	t.f64.release()
	t.cfc32.release()
	t.cfc64.release()
	return C.KNCP_OK
}

//export kncp_ltc_apply_constraints
func kncp_ltc_apply_constraints(c *C.kncp_ltc_cell, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if c == nil {
		return finish(fmt.Errorf("kerasncp: cell must not be NULL"), err, errlen)
	}
	switch c.dtype {
	case C.KNCP_FLOAT32:
		cell, e := cellFrom[float32](c)
		if e != nil {
			return finish(e, err, errlen)
		}
		cell.Params.ApplyConstraints()
	case C.KNCP_FLOAT64:
		cell, e := cellFrom[float64](c)
		if e != nil {
			return finish(e, err, errlen)
		}
		cell.Params.ApplyConstraints()
	default:
		return finish(errf(C.KNCP_ERR_TYPE, "kerasncp: dtype must be float32 (0) or float64 (1), got %d", int32(c.dtype)), err, errlen)
	}
	return C.KNCP_OK
}

//export kncp_ltc_tape_bytes
func kncp_ltc_tape_bytes(dtype C.int32_t, units C.int64_t, unfolds C.int32_t, batch, steps C.int64_t, out *C.double,
	err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if out == nil {
		return finish(fmt.Errorf("kerasncp: out must not be NULL"), err, errlen)
	}
	if units < 1 || units > 1<<20 || unfolds < 1 || unfolds > 100000 || batch < 1 || batch > 1<<30 || steps < 1 || steps > 1<<30 {
		return finish(fmt.Errorf("kerasncp: units must be in [1, 1048576], ode_unfolds in [1, 100000], batch and steps in [1, 2**30], got %d, %d, %d and %d",
			int64(units), int32(unfolds), int64(batch), int64(steps)), err, errlen)
	}
	sh, o := core.Shape{Units: int(units)}, core.Options{ODEUnfolds: int(unfolds)}
	switch dtype {
	case C.KNCP_FLOAT32:
		*out = C.double((&core.Cell[float32]{Shape: sh, Opts: o}).TapeBytes(int(batch), int(steps)))
	case C.KNCP_FLOAT64:
		*out = C.double((&core.Cell[float64]{Shape: sh, Opts: o}).TapeBytes(int(batch), int(steps)))
	default:
		return finish(errf(C.KNCP_ERR_TYPE, "kerasncp: dtype must be float32 (0) or float64 (1), got %d", int32(dtype)), err, errlen)
	}
	return C.KNCP_OK
}
