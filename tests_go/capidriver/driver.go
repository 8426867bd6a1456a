// Package capidriver calls the C ABI of capi/kerasncp.h from Go, through
// cgo, so that Go tests can exercise the exact surface C and Python see.
// (cgo cannot be used in _test.go files, hence this package.) Importing it
// links the exported functions of package abi into the test binary.
package capidriver

/*
#cgo CFLAGS: -I${SRCDIR}/../../capi
#include <stdlib.h>
#include "kerasncp.h"

static kncp_buf mkbuf(void *p, int64_t n) { kncp_buf b = {p, n}; return b; }
static void setparam(kncp_ltc_cell *c, int i, void *p, int64_t n) { c->params[i].data = p; c->params[i].len = n; }
*/
import "C"

import (
	"unsafe"

	_ "github.com/kerasncp-go/kerasncp-go/capi/abi"
)

// Result is a call's return code and error message.
type Result struct {
	Code int32
	Msg  string
}

const errLen = 512

func call(fn func(err *C.char, n C.size_t) C.int32_t) Result {
	buf := (*C.char)(C.malloc(errLen))
	defer C.free(unsafe.Pointer(buf))
	*buf = 0
	rc := fn(buf, errLen)
	return Result{int32(rc), C.GoString(buf)}
}

// Codes of kerasncp.h.
const (
	OK       = int32(C.KNCP_OK)
	Value    = int32(C.KNCP_ERR_VALUE)
	Type     = int32(C.KNCP_ERR_TYPE)
	Handle   = int32(C.KNCP_ERR_HANDLE)
	Internal = int32(C.KNCP_ERR_INTERNAL)
	Format   = int32(C.KNCP_ERR_FORMAT)
	Memory   = int32(C.KNCP_ERR_MEMORY)
	// Interrupted is what a call stopped by kncp_interrupt returns.
	Interrupted = int32(C.KNCP_ERR_INTERRUPTED)
	NumParam    = int(C.KNCP_NUM_PARAMS)
)

// ABIVersion is kncp_abi_version(); HeaderABIVersion the header's macro.
func ABIVersion() int32       { return int32(C.kncp_abi_version()) }
func HeaderABIVersion() int32 { return int32(C.KNCP_ABI_VERSION) }
func Version() string         { return C.GoString(C.kncp_version()) }
func LiveHandles() int64      { return int64(C.kncp_live_handles()) }

// DebugPanic calls the export that panics on purpose.
func DebugPanic() Result {
	return call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_debug_panic(e, n) })
}

// WiringNew creates a wiring from a JSON configuration.
func WiringNew(config string) (uint64, Result) {
	cs := C.CString(config)
	defer C.free(unsafe.Pointer(cs))
	var h C.uint64_t
	r := call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_wiring_new(cs, &h, e, n) })
	return uint64(h), r
}

// WiringFree frees a wiring handle.
func WiringFree(h uint64) Result {
	return call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_wiring_free(C.uint64_t(h), e, n) })
}

// WiringBuild builds a wiring.
func WiringBuild(h uint64, inputDim int64) Result {
	return call(func(e *C.char, n C.size_t) C.int32_t {
		return C.kncp_wiring_build(C.uint64_t(h), C.int64_t(inputDim), e, n)
	})
}

// WiringInfo is kncp_wiring_info_t.
type WiringInfo struct {
	Units, InputDim, OutputDim, NumLayers, SynapseCount, SensorySynapseCount int64
	Kind                                                                     int32
	Built                                                                    bool
}

// Wiring kinds of kerasncp.h.
const (
	KindCustom         = int32(C.KNCP_WIRING_CUSTOM)
	KindFullyConnected = int32(C.KNCP_WIRING_FULLY_CONNECTED)
	KindRandom         = int32(C.KNCP_WIRING_RANDOM)
	KindNCP            = int32(C.KNCP_WIRING_NCP)
	KindAutoNCP        = int32(C.KNCP_WIRING_AUTONCP)
)

// GetWiringInfo calls kncp_wiring_info.
func GetWiringInfo(h uint64) (WiringInfo, Result) {
	var i C.kncp_wiring_info_t
	r := call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_wiring_info(C.uint64_t(h), &i, e, n) })
	return WiringInfo{int64(i.units), int64(i.input_dim), int64(i.output_dim), int64(i.num_layers),
		int64(i.synapse_count), int64(i.sensory_synapse_count), int32(i.kind), i.built != 0}, r
}

// WiringInfoNull calls kncp_wiring_info with a NULL info.
func WiringInfoNull(h uint64) Result {
	return call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_wiring_info(C.uint64_t(h), nil, e, n) })
}

// TapeBytes calls kncp_ltc_tape_bytes.
func TapeBytes(dtype int32, units int64, unfolds int32, batch, steps int64) (float64, Result) {
	var out C.double
	r := call(func(e *C.char, n C.size_t) C.int32_t {
		return C.kncp_ltc_tape_bytes(C.int32_t(dtype), C.int64_t(units), C.int32_t(unfolds), C.int64_t(batch), C.int64_t(steps), &out, e, n)
	})
	return float64(out), r
}

// cbytes copies b into C memory (at least one byte, so the pointer is not
// NULL); free with C.free.
func cbytes(b []byte) *C.uint8_t {
	p := C.malloc(C.size_t(max(len(b), 1)))
	copy(unsafe.Slice((*byte)(p), len(b)), b)
	return (*C.uint8_t)(p)
}

// ForwardNPZ calls kncp_ltc_forward_npz (options "" passes NULL) and
// returns the .npy it writes.
func ForwardNPZ(params, x []byte, options string) ([]byte, Result) {
	pp, xp := cbytes(params), cbytes(x)
	defer C.free(unsafe.Pointer(pp))
	defer C.free(unsafe.Pointer(xp))
	var opts *C.char
	if options != "" {
		opts = C.CString(options)
		defer C.free(unsafe.Pointer(opts))
	}
	var out *C.uint8_t
	var outlen C.int64_t
	r := call(func(e *C.char, n C.size_t) C.int32_t {
		return C.kncp_ltc_forward_npz(pp, C.int64_t(len(params)), xp, C.int64_t(len(x)), opts, &out, &outlen, e, n)
	})
	if r.Code != OK {
		return nil, r
	}
	b := C.GoBytes(unsafe.Pointer(out), C.int(outlen))
	C.kncp_buffer_free(unsafe.Pointer(out))
	return b, r
}

// WiringNPZ calls kncp_wiring_npz.
func WiringNPZ(h uint64) ([]byte, Result) {
	var out *C.uint8_t
	var outlen C.int64_t
	r := call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_wiring_npz(C.uint64_t(h), &out, &outlen, e, n) })
	if r.Code != OK {
		return nil, r
	}
	b := C.GoBytes(unsafe.Pointer(out), C.int(outlen))
	C.kncp_buffer_free(unsafe.Pointer(out))
	return b, r
}

// WiringAdjacency copies the adjacency matrix into a slice of length n.
func WiringAdjacency(h uint64, n int) ([]int32, Result) {
	m := make([]int32, max(n, 1))
	p := C.malloc(C.size_t(4 * max(n, 1)))
	defer C.free(p)
	r := call(func(e *C.char, k C.size_t) C.int32_t {
		return C.kncp_wiring_adjacency(C.uint64_t(h), (*C.int32_t)(p), C.int64_t(n), e, k)
	})
	copy(m, unsafe.Slice((*int32)(p), max(n, 1)))
	return m[:n], r
}

// WiringAddSynapse sets one synapse.
func WiringAddSynapse(h uint64, src, dst, pol int64) Result {
	return call(func(e *C.char, n C.size_t) C.int32_t {
		return C.kncp_wiring_add_synapse(C.uint64_t(h), C.int64_t(src), C.int64_t(dst), C.int64_t(pol), e, n)
	})
}

// WiringConfig returns the JSON configuration, using a buffer of capacity.
func WiringConfig(h uint64, capacity int) (string, int64, Result) {
	p := (*C.char)(C.malloc(C.size_t(max(capacity, 1))))
	defer C.free(unsafe.Pointer(p))
	var need C.int64_t
	r := call(func(e *C.char, n C.size_t) C.int32_t {
		return C.kncp_wiring_config(C.uint64_t(h), p, C.int64_t(capacity), &need, e, n)
	})
	if r.Code != OK {
		return "", int64(need), r
	}
	return C.GoString(p), int64(need), r
}

// NullOutputs calls, with NULL output pointers, every export that takes
// one, and returns their results by name (none may create a handle).
func NullOutputs(h uint64) map[string]Result {
	hh := C.uint64_t(h)
	var n C.int64_t
	var buf [8]C.char
	var ids [8]C.int64_t
	return map[string]Result{
		"wiring_clone": call(func(e *C.char, k C.size_t) C.int32_t { return C.kncp_wiring_clone(hh, nil, e, k) }),
		"wiring_layer dst": call(func(e *C.char, k C.size_t) C.int32_t {
			return C.kncp_wiring_layer(hh, 0, nil, 8, &n, e, k)
		}),
		"wiring_layer n": call(func(e *C.char, k C.size_t) C.int32_t {
			return C.kncp_wiring_layer(hh, 0, &ids[0], 8, nil, e, k)
		}),
		"wiring_neuron_type": call(func(e *C.char, k C.size_t) C.int32_t {
			return C.kncp_wiring_neuron_type(hh, 0, nil, e, k)
		}),
		"wiring_config buf": call(func(e *C.char, k C.size_t) C.int32_t {
			return C.kncp_wiring_config(hh, nil, 1000, &n, e, k)
		}),
		"wiring_config n": call(func(e *C.char, k C.size_t) C.int32_t {
			return C.kncp_wiring_config(hh, &buf[0], 8, nil, e, k)
		}),
	}
}

// Cell describes an LTC cell for Forward: float32 parameters by KNCP_P_*
// index (nil: absent).
type Cell struct {
	DType                    int32
	Units, Sensory, Motor    int64
	InputMapping, OutMapping int32
	Unfolds                  int32
	Epsilon                  float64
	Implicit                 bool
	Params                   [17][]float32
}

// cmem copies Go float32 data into C memory (cgo forbids passing Go memory
// that C keeps in a struct); free with C.free.
func cmem(v []float32) (unsafe.Pointer, func()) {
	if v == nil {
		return nil, func() {}
	}
	p := C.malloc(C.size_t(4 * max(len(v), 1)))
	copy(unsafe.Slice((*float32)(p), len(v)), v)
	return p, func() { C.free(p) }
}

func (c *Cell) desc() (*C.kncp_ltc_cell, func()) {
	d := (*C.kncp_ltc_cell)(C.calloc(1, C.size_t(unsafe.Sizeof(C.kncp_ltc_cell{}))))
	frees := []func(){func() { C.free(unsafe.Pointer(d)) }}
	d.dtype = C.int32_t(c.DType)
	d.units, d.sensory, d.motor = C.int64_t(c.Units), C.int64_t(c.Sensory), C.int64_t(c.Motor)
	d.input_mapping, d.output_mapping = C.int32_t(c.InputMapping), C.int32_t(c.OutMapping)
	d.ode_unfolds, d.epsilon = C.int32_t(c.Unfolds), C.double(c.Epsilon)
	if c.Implicit {
		d.implicit_constraints = 1
	}
	for i, v := range c.Params {
		p, f := cmem(v)
		frees = append(frees, f)
		C.setparam(d, C.int(i), p, C.int64_t(len(v)))
	}
	return d, func() {
		for _, f := range frees {
			f()
		}
	}
}

// Forward runs kncp_ltc_forward on float32 data; y and h are allocated with
// lengths ny and nh (0: absent). With keep it returns a tape handle.
func Forward(c *Cell, batch, steps int64, x, h0, elapsed []float32, ny int, all bool, nh int, keep bool) (y, h []float32, tape uint64, r Result) {
	d, free := c.desc()
	defer free()
	px, fx := cmem(x)
	defer fx()
	ph, fh := cmem(h0)
	defer fh()
	pe, fe := cmem(elapsed)
	defer fe()
	py, fy := cmem(make([]float32, ny))
	defer fy()
	pH, fH := cmem(make([]float32, nh))
	defer fH()
	if ny == 0 {
		py = nil
	}
	if nh == 0 {
		pH = nil
	}
	var t C.uint64_t
	var tp *C.uint64_t
	if keep {
		tp = &t
	}
	a := C.int32_t(0)
	if all {
		a = 1
	}
	r = call(func(e *C.char, n C.size_t) C.int32_t {
		return C.kncp_ltc_forward(d, C.int64_t(batch), C.int64_t(steps), C.mkbuf(px, C.int64_t(len(x))),
			C.mkbuf(ph, C.int64_t(len(h0))), C.mkbuf(pe, C.int64_t(len(elapsed))), C.mkbuf(py, C.int64_t(ny)), a,
			C.mkbuf(pH, C.int64_t(nh)), tp, e, n)
	})
	if py != nil {
		y = append([]float32(nil), unsafe.Slice((*float32)(py), ny)...)
	}
	if pH != nil {
		h = append([]float32(nil), unsafe.Slice((*float32)(pH), nh)...)
	}
	return y, h, uint64(t), r
}

// Backward runs kncp_ltc_backward and returns the gradients of x and h0.
func Backward(tape uint64, gy, gh []float32, nx, nh0 int) (gx, gh0 []float32, r Result) {
	pgy, f1 := cmem(gy)
	defer f1()
	pgh, f2 := cmem(gh)
	defer f2()
	px, f3 := cmem(make([]float32, nx))
	defer f3()
	ph, f4 := cmem(make([]float32, nh0))
	defer f4()
	r = call(func(e *C.char, n C.size_t) C.int32_t {
		return C.kncp_ltc_backward(C.uint64_t(tape), C.mkbuf(pgy, C.int64_t(len(gy))), C.mkbuf(pgh, C.int64_t(len(gh))),
			nil, C.mkbuf(px, C.int64_t(nx)), C.mkbuf(ph, C.int64_t(nh0)), C.mkbuf(nil, 0), e, n)
	})
	return append([]float32(nil), unsafe.Slice((*float32)(px), nx)...), append([]float32(nil), unsafe.Slice((*float32)(ph), nh0)...), r
}

// TapeFree frees a tape.
func TapeFree(t uint64) Result {
	return call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_tape_free(C.uint64_t(t), e, n) })
}

// WiringFromMatrices creates a wiring from its matrices, passing the
// slices' memory (nil for NULL).
func WiringFromMatrices(units, inputDim, outputDim int64, adj, sens []int32) (uint64, Result) {
	cp := func(v []int32) (*C.int32_t, func()) {
		if v == nil {
			return nil, func() {}
		}
		p := C.malloc(C.size_t(max(4*len(v), 1)))
		copy(unsafe.Slice((*int32)(p), len(v)), v)
		return (*C.int32_t)(p), func() { C.free(p) }
	}
	a, fa := cp(adj)
	defer fa()
	s, fs := cp(sens)
	defer fs()
	var h C.uint64_t
	r := call(func(e *C.char, n C.size_t) C.int32_t {
		return C.kncp_wiring_from_matrices(C.int64_t(units), C.int64_t(inputDim), C.int64_t(outputDim), a, s, &h, e, n)
	})
	return uint64(h), r
}

// CheckAlloc calls kncp_check_alloc.
func CheckAlloc(what string, bytes float64) Result {
	cs := C.CString(what)
	defer C.free(unsafe.Pointer(cs))
	return call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_check_alloc(cs, C.double(bytes), e, n) })
}

// SetNumThreads calls kncp_set_num_threads.
func SetNumThreads(k int64) Result {
	return call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_set_num_threads(C.int64_t(k), e, n) })
}

// NumThreads calls kncp_num_threads.
func NumThreads() (int64, Result) {
	var out C.int64_t
	r := call(func(e *C.char, n C.size_t) C.int32_t { return C.kncp_num_threads(&out, e, n) })
	return int64(out), r
}

// Interrupt calls kncp_interrupt; ClearInterrupt kncp_clear_interrupt.
func Interrupt()      { C.kncp_interrupt() }
func ClearInterrupt() { C.kncp_clear_interrupt() }
