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

	"github.com/kerasncp-go/kerasncp-go/core/cfc"
	"github.com/kerasncp-go/kerasncp-go/internal/machine"
	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// cfcModel is what a CfC handle refers to: the model's structure (its
// parameter table and layers) in the dtype it was made for. The model's
// own Params are never used by calls: every call brings the caller's.
type cfcModel struct {
	m32 *cfc.Model[float32]
	m64 *cfc.Model[float64]
}

// cfcConfig converts the C config into a cfc.Config; the wiring, if any,
// is read under its handle's lock and copied by cfc.New.
func cfcConfig(c *C.kncp_cfc_config) (cfc.Config, error) {
	const maxDim = 1 << 24
	for _, v := range []struct {
		name string
		v    C.int64_t
	}{{"input_size", c.input_size}, {"units", c.units}, {"backbone_units", c.backbone_units},
		{"backbone_layers", c.backbone_layers}, {"proj_size", c.proj_size}} {
		if v.v < 0 || v.v > maxDim {
			return cfc.Config{}, fmt.Errorf("kerasncp: %s must be in [0, %d], got %d", v.name, maxDim, int64(v.v))
		}
	}
	cfg := cfc.Config{
		InputSize:       int(c.input_size),
		Units:           int(c.units),
		Mode:            cfc.Mode(c.mode &^ C.KNCP_CFC_KERAS),
		Keras:           c.mode&C.KNCP_CFC_KERAS != 0,
		Activation:      cfc.Activation(c.activation),
		BackboneUnits:   int(c.backbone_units),
		BackboneLayers:  int(c.backbone_layers),
		BackboneDropout: float64(c.backbone_dropout),
		MixedMemory:     c.mixed_memory != 0,
		ProjSize:        int(c.proj_size),
	}
	return cfg, nil
}

func newCFC(c *C.kncp_cfc_config, seed C.uint64_t) (*cfcModel, error) {
	cfg, err := cfcConfig(c)
	if err != nil {
		return nil, err
	}
	build := func() (*cfcModel, error) {
		switch c.dtype {
		case C.KNCP_FLOAT32:
			m, err := cfc.New[float32](cfg, uint64(seed))
			return &cfcModel{m32: m}, err
		case C.KNCP_FLOAT64:
			m, err := cfc.New[float64](cfg, uint64(seed))
			return &cfcModel{m64: m}, err
		}
		return nil, errf(C.KNCP_ERR_TYPE, "kerasncp: dtype must be float32 (0) or float64 (1), got %d", int32(c.dtype))
	}
	if c.wiring == 0 {
		return build()
	}
	var out *cfcModel
	err = withWiring(c.wiring, func(w *wiring.Wiring) error {
		cfg.Wiring = w
		var e error
		out, e = build()
		return e
	})
	return out, err
}

//export kncp_cfc_new
func kncp_cfc_new(c *C.kncp_cfc_config, seed C.uint64_t, out *C.uint64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if c == nil || out == nil {
		return finish(fmt.Errorf("kerasncp: config and out must not be NULL"), err, errlen)
	}
	m, e := newCFC(c, seed)
	if e != nil {
		return finish(e, err, errlen)
	}
	*out = newHandle(m)
	return C.KNCP_OK
}

//export kncp_cfc_free
func kncp_cfc_free(h C.uint64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(freeHandle[*cfcModel](h, "cfc model"), err, errlen)
}

// modelInfo is what kncp_cfc_info reports, independent of the dtype.
type modelInfo interface {
	StateSize() int
	CellOutputSize() int
	OutputSize() int
	LayerSizes() []int
	TapeWidth() int
	TapeBytes(batch, steps int) float64
	Splits(batch, steps int) bool
}

func (m *cfcModel) info() (modelInfo, []cfc.Entry, int) {
	if m.m32 != nil {
		return m.m32, m.m32.Table, len(m.m32.Params)
	}
	return m.m64, m.m64.Table, len(m.m64.Params)
}

//export kncp_cfc_info
func kncp_cfc_info(h C.uint64_t, out *C.kncp_cfc_info_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if out == nil {
		return finish(fmt.Errorf("kerasncp: out must not be NULL"), err, errlen)
	}
	m, e := lookup[*cfcModel](h, "cfc model")
	if e != nil {
		return finish(e, err, errlen)
	}
	mi, table, n := m.info()
	*out = C.kncp_cfc_info_t{
		dtype:            C.KNCP_FLOAT32,
		state_size:       C.int64_t(mi.StateSize()),
		cell_output_size: C.int64_t(mi.CellOutputSize()),
		output_size:      C.int64_t(mi.OutputSize()),
		num_layers:       C.int64_t(len(mi.LayerSizes())),
		num_params:       C.int64_t(len(table)),
		param_len:        C.int64_t(n),
		tape_width:       C.int64_t(mi.TapeWidth()),
	}
	if m.m64 != nil {
		out.dtype = C.KNCP_FLOAT64
	}
	return C.KNCP_OK
}

//export kncp_cfc_layer_sizes
func kncp_cfc_layer_sizes(h C.uint64_t, dst *C.int64_t, n C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	m, e := lookup[*cfcModel](h, "cfc model")
	if e != nil {
		return finish(e, err, errlen)
	}
	mi, _, _ := m.info()
	sizes := mi.LayerSizes()
	if int(n) != len(sizes) || (n > 0 && dst == nil) {
		return finish(fmt.Errorf("kerasncp: dst must hold the model's %d layer sizes, got n=%d", len(sizes), int64(n)), err, errlen)
	}
	d := unsafe.Slice(dst, int(n))
	for i, s := range sizes {
		d[i] = C.int64_t(s)
	}
	return C.KNCP_OK
}

//export kncp_cfc_param
func kncp_cfc_param(h C.uint64_t, i C.int64_t, out *C.kncp_cfc_param_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if out == nil {
		return finish(fmt.Errorf("kerasncp: out must not be NULL"), err, errlen)
	}
	m, e := lookup[*cfcModel](h, "cfc model")
	if e != nil {
		return finish(e, err, errlen)
	}
	_, table, _ := m.info()
	if i < 0 || int64(i) >= int64(len(table)) {
		return finish(fmt.Errorf("kerasncp: parameter index must be in [0, %d), got %d", len(table), int64(i)), err, errlen)
	}
	en := table[i]
	if len(en.Name) >= C.KNCP_NAME_MAX || len(en.Shape) > 4 {
		return finish(fmt.Errorf("kerasncp: parameter %q does not fit kncp_cfc_param", en.Name), err, errlen)
	}
	*out = C.kncp_cfc_param_t{ndim: C.int32_t(len(en.Shape)), offset: C.int64_t(en.Offset), length: C.int64_t(en.Len())}
	if en.Trainable {
		out.trainable = 1
	}
	for k, d := range en.Shape {
		out.shape[k] = C.int64_t(d)
	}
	name := unsafe.Slice((*byte)(unsafe.Pointer(&out.name[0])), C.KNCP_NAME_MAX)
	copy(name, en.Name)
	name[len(en.Name)] = 0
	return C.KNCP_OK
}

//export kncp_cfc_init
func kncp_cfc_init(h C.uint64_t, seed C.uint64_t, params C.kncp_buf, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	m, e := lookup[*cfcModel](h, "cfc model")
	if e != nil {
		return finish(e, err, errlen)
	}
	if m.m32 != nil {
		return finish(initInto(m.m32, seed, params), err, errlen)
	}
	return finish(initInto(m.m64, seed, params), err, errlen)
}

func initInto[T cfc.Float](m *cfc.Model[T], seed C.uint64_t, params C.kncp_buf) error {
	dst, err := view[T](params, "params")
	if err != nil {
		return err
	}
	if len(dst) != len(m.Params) {
		return fmt.Errorf("kerasncp: params must hold %d values, got %d", len(m.Params), len(dst))
	}
	fresh, err := cfc.New[T](m.Config(), uint64(seed))
	if err != nil {
		return err
	}
	copy(dst, fresh.Params)
	return nil
}

//export kncp_cfc_tape_bytes
func kncp_cfc_tape_bytes(h C.uint64_t, batch, steps C.int64_t, out *C.double, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if out == nil {
		return finish(fmt.Errorf("kerasncp: out must not be NULL"), err, errlen)
	}
	m, e := lookup[*cfcModel](h, "cfc model")
	if e != nil {
		return finish(e, err, errlen)
	}
	if batch < 0 || steps < 0 {
		return finish(fmt.Errorf("kerasncp: batch and steps must be >= 0, got %d and %d", int64(batch), int64(steps)), err, errlen)
	}
	mi, _, _ := m.info()
	*out = C.double(mi.TapeBytes(int(batch), int(steps)))
	return C.KNCP_OK
}

//export kncp_cfc_wake
func kncp_cfc_wake(h C.uint64_t, batch, steps C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	m, e := lookup[*cfcModel](h, "cfc model")
	if e != nil {
		return finish(e, err, errlen)
	}
	mi, _, _ := m.info()
	if batch > 0 && steps > 0 && batch <= 1<<30 && steps <= 1<<30 && mi.Splits(int(batch), int(steps)) {
		machine.Wake()
	}
	return C.KNCP_OK
}

// cfcCall is one forward pass's state: a copy of the model's structure
// over the call's parameters, and a workspace. Pooled, so that a call
// without a tape allocates nothing; a tape keeps it (with the parameters
// and inputs copied into its slab) until the tape is freed.
type cfcCall[T cfc.Float] struct {
	model cfc.Model[T]
	ws    cfc.Workspace[T]
	slab  []T
}

func (st *cfcCall[T]) release(pool *sync.Pool) {
	st.ws.Release()
	st.model = cfc.Model[T]{}
	pool.Put(st)
}

var (
	cfcCalls32 = sync.Pool{New: func() any { return new(cfcCall[float32]) }}
	cfcCalls64 = sync.Pool{New: func() any { return new(cfcCall[float64]) }}
)

// cfcTapeOf is a CfC forward tape of one dtype.
type cfcTapeOf[T cfc.Float] = pooledTape[cfcCall[T], *cfcCall[T]]

// cfcArgs are the buffers of one kncp_cfc_forward call.
type cfcArgs struct {
	params        C.kncp_buf
	batch, steps  C.int64_t
	x, h0, c0, el C.kncp_buf
	y             C.kncp_buf
	all           C.int32_t
	h, c          C.kncp_buf
	training      C.int32_t
	seed          C.uint64_t
	tp            *C.uint64_t
}

func cfcForward[T cfc.Float](m *cfc.Model[T], a *cfcArgs, pool *sync.Pool, wrap func(*cfcTapeOf[T]) *tape) (err error) {
	if a.batch < 1 || a.steps < 1 || a.batch > 1<<30 || a.steps > 1<<30 {
		return fmt.Errorf("kerasncp: batch and steps must be >= 1, got %d and %d", int64(a.batch), int64(a.steps))
	}
	keep := a.tp != nil
	st := pool.Get().(*cfcCall[T])
	defer func() {
		if !keep || err != nil {
			st.release(pool)
		}
	}()
	st.model = *m
	st.slab = st.slab[:0]
	p, err := view[T](a.params, "params")
	if err != nil {
		return err
	}
	if len(p) != len(m.Params) {
		return fmt.Errorf("kerasncp: params must hold %d values (the model's parameter table), got %d", len(m.Params), len(p))
	}
	// A tape outlives the call: it works on copies of the parameters and
	// inputs, so that Go keeps no pointer into the caller's memory.
	if keep {
		p = appendCopy(&st.slab, p)
	}
	st.model.Params = p
	seq := cfc.Sequence[T]{Batch: int(a.batch), Steps: int(a.steps)}
	for _, b := range []struct {
		name string
		b    C.kncp_buf
		dst  *[]T
	}{{"x", a.x, &seq.X}, {"h0", a.h0, &seq.H0}, {"c0", a.c0, &seq.C0}, {"elapsed", a.el, &seq.Elapsed}} {
		v, err := view[T](b.b, b.name)
		if err != nil {
			return err
		}
		if keep && v != nil {
			v = appendCopy(&st.slab, v)
		}
		*b.dst = v
	}
	if seq.X == nil {
		return fmt.Errorf("kerasncp: x is required")
	}
	out := cfc.Output[T]{AllSteps: a.all != 0}
	if out.Y, err = view[T](a.y, "y"); err != nil {
		return err
	}
	if out.H, err = view[T](a.h, "h"); err != nil {
		return err
	}
	if out.C, err = view[T](a.c, "c"); err != nil {
		return err
	}
	pass := cfc.Pass{Keep: keep, Train: a.training != 0, Seed: uint64(a.seed)}
	if err := st.model.Forward(&st.ws, seq, out, pass); err != nil {
		return err
	}
	if keep {
		*a.tp = newHandle(wrap(&cfcTapeOf[T]{st: st, pool: pool, bytes: m.TapeBytes(int(a.batch), int(a.steps))}))
	}
	return nil
}

//export kncp_cfc_forward
func kncp_cfc_forward(h C.uint64_t, params C.kncp_buf, batch, steps C.int64_t, x, h0, c0, el, y C.kncp_buf, all C.int32_t,
	hout, cout C.kncp_buf, training C.int32_t, seed C.uint64_t, tp *C.uint64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	m, e := lookup[*cfcModel](h, "cfc model")
	if e != nil {
		return finish(e, err, errlen)
	}
	a := &cfcArgs{params: params, batch: batch, steps: steps, x: x, h0: h0, c0: c0, el: el, y: y, all: all,
		h: hout, c: cout, training: training, seed: seed, tp: tp}
	if m.m32 != nil {
		return finish(cfcForward(m.m32, a, &cfcCalls32, func(t *cfcTapeOf[float32]) *tape { return &tape{cfc32: t} }), err, errlen)
	}
	return finish(cfcForward(m.m64, a, &cfcCalls64, func(t *cfcTapeOf[float64]) *tape { return &tape{cfc64: t} }), err, errlen)
}

func cfcBackward[T cfc.Float](t *cfcTapeOf[T], gy, gh, gc, gp, gx, gh0, gc0, gel C.kncp_buf) error {
	if t.st == nil {
		return errf(C.KNCP_ERR_HANDLE, "kerasncp: the tape was released")
	}
	var g cfc.Gradients[T]
	var ys, hs, cs []T
	var err error
	for _, b := range []struct {
		name string
		b    C.kncp_buf
		dst  *[]T
	}{{"gy", gy, &ys}, {"gh", gh, &hs}, {"gc", gc, &cs}, {"gparams", gp, &g.Params}, {"gx", gx, &g.X},
		{"gh0", gh0, &g.H0}, {"gc0", gc0, &g.C0}, {"gelapsed", gel, &g.Elapsed}} {
		if *b.dst, err = view[T](b.b, b.name); err != nil {
			return err
		}
	}
	return t.st.model.Backward(&t.st.ws, ys, hs, cs, g)
}

//export kncp_cfc_backward
func kncp_cfc_backward(h C.uint64_t, gy, gh, gc, gparams, gx, gh0, gc0, gel C.kncp_buf, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	t, e := lookup[*tape](h, "tape")
	if e != nil {
		return finish(e, err, errlen)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.cfc32 != nil:
		return finish(cfcBackward(t.cfc32, gy, gh, gc, gparams, gx, gh0, gc0, gel), err, errlen)
	case t.cfc64 != nil:
		return finish(cfcBackward(t.cfc64, gy, gh, gc, gparams, gx, gh0, gc0, gel), err, errlen)
	}
	return finish(errf(C.KNCP_ERR_HANDLE, "kerasncp: handle %d is an LTC tape, not a CfC tape", uint64(h)), err, errlen)
}
