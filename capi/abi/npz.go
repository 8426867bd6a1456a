package abi

/*
#define KNCP_NO_PROTOTYPES
#include "kerasncp.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/kerasncp-go/kerasncp-go/core"
	"github.com/kerasncp-go/kerasncp-go/internal/machine"
	"github.com/kerasncp-go/kerasncp-go/npz"
	"github.com/kerasncp-go/kerasncp-go/wiring"
)

//export kncp_wiring_npz
func kncp_wiring_npz(h C.uint64_t, out **C.uint8_t, outlen *C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(withWiring(h, func(w *wiring.Wiring) error {
		if out == nil || outlen == nil {
			return fmt.Errorf("kerasncp: out and outlen must not be NULL")
		}
		var b bytes.Buffer
		z := npz.NewWriter(&b)
		u := w.Units()
		if err := npz.Add(z, "adjacency_matrix", w.Adjacency(), []int{u, u}); err != nil {
			return err
		}
		if w.IsBuilt() {
			if err := npz.Add(z, "sensory_adjacency_matrix", w.SensoryAdjacency(), []int{w.InputDim(), u}); err != nil {
				return err
			}
		}
		if err := z.Close(); err != nil {
			return err
		}
		cBytes(b.Bytes(), out, outlen)
		return nil
	}), err, errlen)
}

//export kncp_ltc_params_to_npz
func kncp_ltc_params_to_npz(c *C.kncp_ltc_cell, out **C.uint8_t, outlen *C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if c == nil || out == nil || outlen == nil {
		return finish(fmt.Errorf("kerasncp: cell, out and outlen must not be NULL"), err, errlen)
	}
	var b bytes.Buffer
	var e error
	switch c.dtype {
	case C.KNCP_FLOAT32:
		e = saveCell[float32](c, &b)
	case C.KNCP_FLOAT64:
		e = saveCell[float64](c, &b)
	default:
		e = errf(C.KNCP_ERR_TYPE, "kerasncp: dtype must be float32 (0) or float64 (1), got %d", int32(c.dtype))
	}
	if e != nil {
		return finish(e, err, errlen)
	}
	cBytes(b.Bytes(), out, outlen)
	return C.KNCP_OK
}

func saveCell[T core.Float](c *C.kncp_ltc_cell, w io.Writer) error {
	cell, err := cellFrom[T](c)
	if err != nil {
		return err
	}
	return core.SaveNPZ(w, cell.Params, cell.Shape, cell.Opts.InputMapping, cell.Opts.OutputMapping)
}

// npzOptions are the options kncp_ltc_forward_npz reads from JSON.
type npzOptions struct {
	ODEUnfolds *int     `json:"ode_unfolds"`
	Epsilon    *float64 `json:"epsilon"`
	Implicit   bool     `json:"implicit_param_constraints"`
	Motor      *int     `json:"motor"`
	// Elapsed may be null or 1 (the archive runs with regular steps); the
	// header documents the key, so it is not an unknown field.
	Elapsed json.RawMessage `json:"elapsed"`
}

//export kncp_ltc_forward_npz
func kncp_ltc_forward_npz(params *C.uint8_t, plen C.int64_t, x *C.uint8_t, xlen C.int64_t, options *C.char,
	out **C.uint8_t, outlen *C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if params == nil || x == nil || out == nil || outlen == nil {
		return finish(fmt.Errorf("kerasncp: params_npz, x_npy, out and outlen must not be NULL"), err, errlen)
	}
	if plen < 0 || xlen < 0 {
		return finish(fmt.Errorf("kerasncp: params_len and x_len must be >= 0, got %d and %d", int64(plen), int64(xlen)), err, errlen)
	}
	o := npzOptions{}
	if options != nil {
		text := []byte(C.GoString(options))
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if e := dec.Decode(&o); e != nil {
			return finish(errf(C.KNCP_ERR_FORMAT, "kerasncp: options_json: %v", e), err, errlen)
		}
		if trailingData(dec, text) {
			return finish(errf(C.KNCP_ERR_FORMAT, "kerasncp: options_json: unexpected data after the object"), err, errlen)
		}
		if len(o.Elapsed) > 0 {
			var e *float64
			if json.Unmarshal(o.Elapsed, &e) != nil || (e != nil && *e != 1) {
				return finish(fmt.Errorf("kerasncp: options_json: elapsed must be null or 1 (the archive runs with regular steps), got %s", o.Elapsed), err, errlen)
			}
		}
	}
	pb := unsafe.Slice((*byte)(unsafe.Pointer(params)), int(plen))
	xb := unsafe.Slice((*byte)(unsafe.Pointer(x)), int(xlen))
	// The archive decides the precision: try float32 first, and use
	// float64 when its gleak is float64.
	var res []byte
	var e error
	if core.NPZIsFloat64(bytes.NewReader(pb), int64(len(pb))) {
		res, e = forwardNPZ[float64](pb, xb, o)
	} else {
		res, e = forwardNPZ[float32](pb, xb, o)
	}
	if e != nil {
		return finish(e, err, errlen)
	}
	cBytes(res, out, outlen)
	return C.KNCP_OK
}

func forwardNPZ[T core.Float](pb, xb []byte, o npzOptions) ([]byte, error) {
	motor := -1
	if o.Motor != nil {
		motor = *o.Motor
	}
	p, sh, in, outm, err := core.LoadNPZ[T](bytes.NewReader(pb), int64(len(pb)), motor)
	if err != nil {
		if me := (*machine.MemoryError)(nil); errors.As(err, &me) {
			return nil, fmt.Errorf("kerasncp: params_npz: %w", err)
		}
		return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: params_npz: %v", err)
	}
	opts := core.DefaultOptions()
	opts.InputMapping, opts.OutputMapping, opts.ImplicitConstraints = in, outm, o.Implicit
	if o.ODEUnfolds != nil {
		opts.ODEUnfolds = *o.ODEUnfolds
	}
	if o.Epsilon != nil {
		opts.Epsilon = *o.Epsilon
	}
	cell, err := core.NewCell(sh, opts, p)
	if err != nil {
		return nil, err
	}
	xs, shape, err := npz.DecodeNPY[T](xb)
	if err != nil {
		return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: x_npy %v", err)
	}
	if len(shape) != 3 || shape[2] != sh.Sensory || shape[0] < 1 || shape[1] < 1 {
		return nil, fmt.Errorf("kerasncp: x_npy must have shape (batch, steps, %d), got %v", sh.Sensory, shape)
	}
	b, t := shape[0], shape[1]
	var v T
	if err := machine.CheckAlloc(fmt.Sprintf("kerasncp: the output y of shape (%d, %d, %d)", b, t, sh.Motor),
		float64(b)*float64(t)*float64(sh.Motor)*float64(unsafe.Sizeof(v))); err != nil {
		return nil, err
	}
	y := make([]T, b*t*sh.Motor)
	var ws core.Workspace[T]
	if err := cell.Forward(&ws, core.Sequence[T]{Batch: b, Steps: t, X: xs}, core.Output[T]{Y: y, AllSteps: true}, false); err != nil {
		return nil, err
	}
	return npz.EncodeNPY(y, []int{b, t, sh.Motor}), nil
}
