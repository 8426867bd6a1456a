package capidriver

/*
#include <stdlib.h>
#include "kerasncp.h"

static kncp_buf cfcbuf(void *p, int64_t n) { kncp_buf b = {p, n}; return b; }
*/
import "C"

import (
	"unsafe"
)

// CfCConfig mirrors kncp_cfc_config.
type CfCConfig struct {
	DType                         int32
	InputSize, Units              int64
	Wiring                        uint64
	Mode, Activation              int32
	BackboneUnits, BackboneLayers int64
	BackboneDropout               float64
	MixedMemory                   bool
	ProjSize                      int64
}

// CfCInfo mirrors kncp_cfc_info_t.
type CfCInfo struct {
	DType                                     int32
	StateSize, CellOutputSize, OutputSize     int64
	NumLayers, NumParams, ParamLen, TapeWidth int64
}

// CfCParam mirrors kncp_cfc_param_t.
type CfCParam struct {
	Name           string
	Shape          []int64
	Offset, Length int64
	Trainable      bool
}

// CfCNew calls kncp_cfc_new.
func CfCNew(c CfCConfig, seed uint64) (uint64, Result) {
	cfg := C.kncp_cfc_config{dtype: C.int32_t(c.DType), input_size: C.int64_t(c.InputSize), units: C.int64_t(c.Units),
		wiring: C.uint64_t(c.Wiring), mode: C.int32_t(c.Mode), activation: C.int32_t(c.Activation),
		backbone_units: C.int64_t(c.BackboneUnits), backbone_layers: C.int64_t(c.BackboneLayers),
		backbone_dropout: C.double(c.BackboneDropout), proj_size: C.int64_t(c.ProjSize)}
	if c.MixedMemory {
		cfg.mixed_memory = 1
	}
	var h C.uint64_t
	r := call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_cfc_new(&cfg, C.uint64_t(seed), &h, e, n) })
	return uint64(h), r
}

// CfCFree calls kncp_cfc_free.
func CfCFree(h uint64) Result {
	return call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_cfc_free(C.uint64_t(h), e, n) })
}

// GetCfCInfo calls kncp_cfc_info.
func GetCfCInfo(h uint64) (CfCInfo, Result) {
	var o C.kncp_cfc_info_t
	r := call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_cfc_info(C.uint64_t(h), &o, e, n) })
	return CfCInfo{int32(o.dtype), int64(o.state_size), int64(o.cell_output_size), int64(o.output_size),
		int64(o.num_layers), int64(o.num_params), int64(o.param_len), int64(o.tape_width)}, r
}

// GetCfCParam calls kncp_cfc_param.
func GetCfCParam(h uint64, i int64) (CfCParam, Result) {
	var o C.kncp_cfc_param_t
	r := call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_cfc_param(C.uint64_t(h), C.int64_t(i), &o, e, n) })
	p := CfCParam{Name: C.GoString(&o.name[0]), Offset: int64(o.offset), Length: int64(o.length), Trainable: o.trainable != 0}
	for k := 0; k < int(o.ndim); k++ {
		p.Shape = append(p.Shape, int64(o.shape[k]))
	}
	return p, r
}

// CfCLayerSizes calls kncp_cfc_layer_sizes with room for n sizes.
func CfCLayerSizes(h uint64, n int) ([]int64, Result) {
	dst := (*C.int64_t)(C.malloc(C.size_t(8 * (n + 1))))
	defer C.free(unsafe.Pointer(dst))
	r := call(func(e *C.char, k C.size_t) C.int32_t {
		return C.kncp_cfc_layer_sizes(C.uint64_t(h), dst, C.int64_t(n), e, k)
	})
	out := make([]int64, n)
	for i, v := range unsafe.Slice(dst, n) {
		out[i] = int64(v)
	}
	return out, r
}

// floats copies v into C memory (nil for a nil v) and returns it with a
// function that copies the C memory back into v and frees it.
func floats(v []float32) (C.kncp_buf, func()) {
	if v == nil {
		return C.cfcbuf(nil, 0), func() {}
	}
	p := C.malloc(C.size_t(4 * (len(v) + 1)))
	s := unsafe.Slice((*float32)(p), len(v))
	copy(s, v)
	return C.cfcbuf(p, C.int64_t(len(v))), func() { copy(v, s); C.free(p) }
}

// CfCInit calls kncp_cfc_init into params.
func CfCInit(h, seed uint64, params []float32) Result {
	b, done := floats(params)
	defer done()
	return call(func(e *C.char, n C.size_t) C.int32_t {
		return C.kncp_cfc_init(C.uint64_t(h), C.uint64_t(seed), b, e, n)
	})
}

// CfCForward calls kncp_cfc_forward (float32). y, hOut and cOut are
// written in place (nil: absent); keep asks for a tape.
func CfCForward(h uint64, params []float32, batch, steps int64, x, h0, c0, el, y []float32, all bool,
	hOut, cOut []float32, training bool, seed uint64, keep bool) (uint64, Result) {
	bufs := make([]C.kncp_buf, 9)
	for i, v := range [][]float32{params, x, h0, c0, el, y, hOut, cOut} {
		b, done := floats(v)
		defer done()
		bufs[i] = b
	}
	var tape C.uint64_t
	tp := &tape
	if !keep {
		tp = nil
	}
	a, tr := C.int32_t(0), C.int32_t(0)
	if all {
		a = 1
	}
	if training {
		tr = 1
	}
	r := call(func(e *C.char, n C.size_t) C.int32_t {
		return C.kncp_cfc_forward(C.uint64_t(h), bufs[0], C.int64_t(batch), C.int64_t(steps), bufs[1], bufs[2], bufs[3],
			bufs[4], bufs[5], a, bufs[6], bufs[7], tr, C.uint64_t(seed), tp, e, n)
	})
	return uint64(tape), r
}

// CfCBackward calls kncp_cfc_backward; the gradient slices are written in
// place (nil: not wanted).
func CfCBackward(tape uint64, gy, gh, gc, gp, gx, gh0, gc0, gel []float32) Result {
	bufs := make([]C.kncp_buf, 8)
	for i, v := range [][]float32{gy, gh, gc, gp, gx, gh0, gc0, gel} {
		b, done := floats(v)
		defer done()
		bufs[i] = b
	}
	return call(func(e *C.char, n C.size_t) C.int32_t {
		return C.kncp_cfc_backward(C.uint64_t(tape), bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], bufs[5], bufs[6], bufs[7], e, n)
	})
}
