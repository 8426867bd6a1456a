package abi

/*
#define KNCP_NO_PROTOTYPES
#include "kerasncp.h"
*/
import "C"

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"unsafe"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/kerasncp-go/kerasncp-go/core"
	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// npyFile encodes a little-endian array as a version 1.0 .npy file.
func npyFile(descr string, shape []int, payload []byte) []byte {
	dims := ""
	for i, d := range shape {
		dims += fmt.Sprint(d)
		if len(shape) == 1 || i < len(shape)-1 {
			dims += ","
		}
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims)
	// Magic, version, header length, header padded so that the payload
	// starts on a 64-byte boundary, then a newline.
	pad := (64 - (10+len(header)+1)%64) % 64
	header += strings.Repeat(" ", pad) + "\n"
	out := append([]byte("\x93NUMPY\x01\x00"), byte(len(header)), byte(len(header)>>8))
	out = append(out, header...)
	return append(out, payload...)
}

func npyInt32(data []int32, shape []int) []byte {
	b := make([]byte, 0, 4*len(data))
	for _, v := range data {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return npyFile("<i4", shape, b)
}

func npyFloat[T core.Float](data []T, shape []int) []byte {
	var z T
	if unsafe.Sizeof(z) == 4 {
		b := make([]byte, 0, 4*len(data))
		for _, v := range data {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
		}
		return npyFile("<f4", shape, b)
	}
	b := make([]byte, 0, 8*len(data))
	for _, v := range data {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(v)))
	}
	return npyFile("<f8", shape, b)
}

//export kncp_wiring_npz
func kncp_wiring_npz(h C.uint64_t, out **C.uint8_t, outlen *C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(withWiring(h, func(w *wiring.Wiring) error {
		if out == nil || outlen == nil {
			return fmt.Errorf("kerasncp: out and outlen must not be NULL")
		}
		var b bytes.Buffer
		z := zip.NewWriter(&b)
		add := func(name string, data []byte) error {
			f, err := z.Create(name + ".npy")
			if err != nil {
				return err
			}
			_, err = f.Write(data)
			return err
		}
		u := w.Units()
		if err := add("adjacency_matrix", npyInt32(w.Adjacency(), []int{u, u})); err != nil {
			return err
		}
		if w.IsBuilt() {
			if err := add("sensory_adjacency_matrix", npyInt32(w.SensoryAdjacency(), []int{w.InputDim(), u})); err != nil {
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
	cell, err := cellFrom[T](c, false)
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
}

//export kncp_ltc_forward_npz
func kncp_ltc_forward_npz(params *C.uint8_t, plen C.int64_t, x *C.uint8_t, xlen C.int64_t, options *C.char,
	out **C.uint8_t, outlen *C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if params == nil || x == nil || out == nil || outlen == nil || plen < 0 || xlen < 0 {
		return finish(fmt.Errorf("kerasncp: params_npz, x_npy, out and outlen must not be NULL"), err, errlen)
	}
	o := npzOptions{}
	if options != nil {
		dec := json.NewDecoder(bytes.NewReader([]byte(C.GoString(options))))
		dec.DisallowUnknownFields()
		if e := dec.Decode(&o); e != nil {
			return finish(errf(C.KNCP_ERR_FORMAT, "kerasncp: options_json: %v", e), err, errlen)
		}
	}
	pb := unsafe.Slice((*byte)(unsafe.Pointer(params)), int(plen))
	xb := unsafe.Slice((*byte)(unsafe.Pointer(x)), int(xlen))
	// The archive decides the precision: try float32 first, and use
	// float64 when its gleak is float64.
	var res []byte
	var e error
	if isFloat64Archive(pb) {
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

// isFloat64Archive reports whether the archive's gleak array is float64.
func isFloat64Archive(b []byte) bool {
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return false
	}
	for _, f := range z.File {
		if f.Name == "gleak.npy" || bytes.HasSuffix([]byte(f.Name), []byte(".gleak.npy")) {
			r, err := f.Open()
			if err != nil {
				return false
			}
			defer r.Close()
			nr, err := newNPYReaderFrom(r)
			if err != nil {
				return false
			}
			t := strings.Trim(nr.Header.Descr.Type, `'"`)
			return t == "<f8" || t == ">f8"
		}
	}
	return false
}

func forwardNPZ[T core.Float](pb, xb []byte, o npzOptions) ([]byte, error) {
	motor := -1
	if o.Motor != nil {
		motor = *o.Motor
	}
	p, sh, in, outm, err := core.LoadNPZ[T](bytes.NewReader(pb), int64(len(pb)), motor)
	if err != nil {
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
	r, err := newNPYReader(xb)
	if err != nil {
		return nil, err
	}
	shape := r.Header.Descr.Shape
	if len(shape) != 3 || shape[2] != sh.Sensory || shape[0] < 1 || shape[1] < 1 {
		return nil, fmt.Errorf("kerasncp: x_npy must have shape (batch, steps, %d), got %v", sh.Sensory, shape)
	}
	if r.Header.Descr.Fortran {
		return nil, fmt.Errorf("kerasncp: x_npy must be C-ordered")
	}
	xs, err := readAs[T](r, strings.Trim(r.Header.Descr.Type, `'"`), shape[0]*shape[1]*shape[2])
	if err != nil {
		return nil, err
	}
	b, t := shape[0], shape[1]
	y := make([]T, b*t*sh.Motor)
	var ws core.Workspace[T]
	if err := cell.Forward(&ws, core.Sequence[T]{Batch: b, Steps: t, X: xs}, core.Output[T]{Y: y, AllSteps: true}, false); err != nil {
		return nil, err
	}
	return npyFloat(y, []int{b, t, sh.Motor}), nil
}

// readAs reads n elements of .npy dtype descr into a []T.
func readAs[T core.Float](r *npy.Reader, descr string, n int) (out []T, err error) {
	defer func() {
		if e := recover(); e != nil {
			err = errf(C.KNCP_ERR_FORMAT, "kerasncp: x_npy: malformed payload: %v", e)
		}
	}()
	switch descr {
	case "<f4", ">f4":
		var v []float32
		if err := r.Read(&v); err != nil {
			return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: x_npy: %v", err)
		}
		out = make([]T, len(v))
		for i, f := range v {
			out[i] = T(f)
		}
	case "<f8", ">f8":
		var v []float64
		if err := r.Read(&v); err != nil {
			return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: x_npy: %v", err)
		}
		out = make([]T, len(v))
		for i, f := range v {
			out[i] = T(f)
		}
	default:
		return nil, errf(C.KNCP_ERR_TYPE, "kerasncp: x_npy must be float32 or float64, got dtype %q", descr)
	}
	if len(out) != n {
		return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: x_npy holds %d values, its shape says %d", len(out), n)
	}
	return out, nil
}

// newNPYReader parses the header of the .npy buffer b. npyio can panic on
// some malformed headers; that becomes a format error here.
func newNPYReader(b []byte) (r *npy.Reader, err error) {
	defer func() {
		if e := recover(); e != nil {
			r, err = nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: x_npy: malformed header: %v", e)
		}
	}()
	r, err = npy.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: x_npy: %v", err)
	}
	return r, nil
}

func newNPYReaderFrom(r io.Reader) (nr *npy.Reader, err error) {
	defer func() {
		if e := recover(); e != nil {
			nr, err = nil, fmt.Errorf("malformed header: %v", e)
		}
	}()
	return npy.NewReader(r)
}
