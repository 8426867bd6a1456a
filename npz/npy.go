package npz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// DType is an element type this package reads and writes.
type DType uint8

// The element types, with numpy's names ('<f4' and so on, either byte
// order on reading).
const (
	Unknown DType = iota // any other descr: the header parses, the payload does not
	Float32
	Float64
	Int32
	Int64
)

// Size is the size of one element in bytes (0 for Unknown).
func (d DType) Size() int {
	switch d {
	case Float32, Int32:
		return 4
	case Float64, Int64:
		return 8
	}
	return 0
}

// IsFloat reports whether d is Float32 or Float64.
func (d DType) IsFloat() bool { return d == Float32 || d == Float64 }

// String is numpy's little-endian descr of d ("<f4", ...), or "unknown".
func (d DType) String() string {
	switch d {
	case Float32:
		return "<f4"
	case Float64:
		return "<f8"
	case Int32:
		return "<i4"
	case Int64:
		return "<i8"
	}
	return "unknown"
}

// Elem is an element type of an array in Go memory.
type Elem interface {
	~float32 | ~float64 | ~int32 | ~int64
}

// dtypeOf is the DType of T.
func dtypeOf[T Elem]() DType {
	var z T
	switch f := isFloat[T](); {
	case f && unsafe.Sizeof(z) == 4:
		return Float32
	case f:
		return Float64
	case unsafe.Sizeof(z) == 4:
		return Int32
	}
	return Int64
}

// isFloat reports whether T is a floating-point type.
func isFloat[T Elem]() bool {
	var half T = 1
	half /= 2
	return half != 0
}

// Header is what a .npy header says.
type Header struct {
	Descr     string // as written, e.g. "<f4"
	DType     DType  // Unknown for a descr other than the four supported
	BigEndian bool
	Fortran   bool  // stored column-major
	Shape     []int // each entry in [0, 2**31-1]
	offset    int   // of the payload from the start of the .npy data
}

// Len is the number of elements the shape declares, or -1 when it exceeds
// maxElems.
func (h *Header) Len() int {
	n := 1
	for _, d := range h.Shape {
		if d != 0 && n > maxElems/d {
			return -1
		}
		n *= d
	}
	return n
}

// maxElems bounds the element count of one array (2**40: far above any
// limit a caller sets, and small enough that byte counts fit an int64).
const maxElems = 1 << 40

// maxHeader bounds the header length read before parsing (numpy's own
// reader refuses headers above 10000 bytes by default).
const maxHeader = 1 << 16

// AppendNPY appends the .npy (format 1.0) encoding of data with the given
// shape to dst: the header, padded with spaces to a multiple of 64 bytes as
// numpy pads it, then the values in little-endian byte order. It panics if
// the shape does not hold len(data) elements.
func AppendNPY[T Elem](dst []byte, data []T, shape []int) []byte {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(data) {
		panic("npz: shape does not match the data length")
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", dtypeOf[T](), ShapeString(shape))
	const pre = 10 // magic, version, header length
	pad := 63 - (pre+len(dict)+1+63)%64
	esize := int(unsafe.Sizeof(data[0:1:1][0]))
	dst = growBytes(dst, pre+len(dict)+pad+1+len(data)*esize)
	dst = append(dst, "\x93NUMPY\x01\x00"...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(dict)+pad+1))
	dst = append(dst, dict...)
	for range pad {
		dst = append(dst, ' ')
	}
	dst = append(dst, '\n')
	return appendPayload(dst, data)
}

// EncodeNPY is AppendNPY(nil, data, shape).
func EncodeNPY[T Elem](data []T, shape []int) []byte { return AppendNPY(nil, data, shape) }

func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		return nb
	}
	return b
}

// littleEndianHost is true on little-endian machines, where a payload is
// the in-memory bytes of the slice and is copied in one piece.
var littleEndianHost = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// appendPayload appends data in little-endian order: one bulk copy of the
// slice's memory on a little-endian host, element by element elsewhere.
func appendPayload[T Elem](dst []byte, data []T) []byte {
	if len(data) == 0 {
		return dst
	}
	esize := int(unsafe.Sizeof(data[0]))
	if littleEndianHost {
		return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), len(data)*esize)...)
	}
	for _, v := range data {
		switch esize {
		case 4:
			var u uint32
			if isFloat[T]() {
				u = math.Float32bits(float32(v))
			} else {
				u = uint32(int32(v))
			}
			dst = binary.LittleEndian.AppendUint32(dst, u)
		default:
			var u uint64
			if isFloat[T]() {
				u = math.Float64bits(float64(v))
			} else {
				u = uint64(int64(v))
			}
			dst = binary.LittleEndian.AppendUint64(dst, u)
		}
	}
	return dst
}

// DecodeNPY reads a .npy array (formats 1.0 to 3.0, either byte order, C or
// Fortran order up to 2 dimensions) from b and converts it to T: floats to
// a float T, integers to an integer T. It returns the values in C order and
// the shape, or an error saying what is malformed. The payload must be
// present in b, which bounds what DecodeNPY allocates by len(b); it never
// panics on bad input.
func DecodeNPY[T Elem](b []byte) ([]T, []int, error) {
	r := bytes.NewReader(b)
	h, err := ReadHeader(r)
	if err != nil {
		return nil, nil, err
	}
	if err := checkDType[T](h); err != nil {
		return nil, nil, err
	}
	if err := h.check(nil); err != nil {
		return nil, nil, err
	}
	if need := int64(h.Len()) * int64(max(h.DType.Size(), 1)); h.Len() < 0 || need > int64(r.Len()) {
		return nil, nil, fmt.Errorf("truncated payload: shape %s needs more than the %d bytes present", ShapeString(h.Shape), r.Len())
	}
	d, err := readPayload[T](h, r, int64(r.Len()))
	if err != nil {
		return nil, nil, err
	}
	return d, h.Shape, nil
}

// ReadHeader reads the magic string, the version, the header length and
// the header dictionary of a .npy stream, leaving r at the payload.
func ReadHeader(r io.Reader) (*Header, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("truncated .npy header: %w", err)
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return nil, errors.New("not a .npy file (bad magic string)")
	}
	var n, off int
	switch major := pre[6]; major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("truncated .npy header: %w", err)
		}
		n, off = int(binary.LittleEndian.Uint16(b[:])), 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("truncated .npy header: %w", err)
		}
		n, off = int(binary.LittleEndian.Uint32(b[:])), 12
		if n > maxHeader {
			return nil, fmt.Errorf(".npy header of %d bytes is longer than %d", n, maxHeader)
		}
	default:
		return nil, fmt.Errorf("unsupported .npy format version %d.%d", major, pre[7])
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("truncated .npy header (%d bytes announced): %w", n, err)
	}
	h, err := parseHeader(string(buf))
	if err != nil {
		return nil, fmt.Errorf("malformed .npy header %q: %w", buf, err)
	}
	h.offset = off + n
	return h, nil
}

// check returns an error if the header declares an unsupported layout, or
// a shape other than want (nil: any).
func (h *Header) check(want []int) error {
	if h.Fortran && len(h.Shape) > 2 {
		return errors.New("fortran-ordered arrays of more than 2 dimensions are not supported")
	}
	if want != nil && !equalInts(h.Shape, want) {
		return fmt.Errorf("must have shape %s, got %s", ShapeString(want), ShapeString(h.Shape))
	}
	if h.Len() < 0 {
		return fmt.Errorf("shape %s has more than %d elements", ShapeString(h.Shape), maxElems)
	}
	return nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkDType returns an error if T cannot hold the values of dtype h.DType
// (floats go to float types, integers to integer types).
func checkDType[T Elem](h *Header) error {
	if h.DType != Unknown && h.DType.IsFloat() == isFloat[T]() {
		return nil
	}
	if isFloat[T]() {
		return fmt.Errorf("must be float32 or float64 ('<f4', '<f8', '>f4' or '>f8'), got dtype %q", h.Descr)
	}
	return fmt.Errorf("must be int32 or int64 ('<i4', '<i8', '>i4' or '>i8'), got dtype %q", h.Descr)
}

// chunk is the payload bytes converted per read: memory beyond the result
// stays this small whatever the array's size.
const chunk = 1 << 16

// readPayload reads the h.Len() values of the array whose header h has
// been read from r and converts them to T in C order. avail is the number
// of payload bytes the container says it holds. It allocates the result
// (bounded by the declared shape) and one chunk, and reads one byte past
// the payload, so that a zip entry's checksum is verified and a payload
// longer than declared is an error.
func readPayload[T Elem](h *Header, r io.Reader, avail int64) ([]T, error) {
	if err := checkDType[T](h); err != nil {
		return nil, err
	}
	n, es := h.Len(), h.DType.Size()
	if need := int64(n) * int64(es); avail < need {
		return nil, fmt.Errorf("truncated payload: %d bytes, the header announces %d", max(avail, 0), need)
	}
	d := make([]T, n)
	var order binary.ByteOrder = binary.LittleEndian
	if h.BigEndian {
		order = binary.BigEndian
	}
	if !h.BigEndian && littleEndianHost && dtypeOf[T]() == h.DType && n > 0 {
		// Same type, same byte order: read straight into the result.
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&d[0])), n*es)
		if got, err := io.ReadFull(r, raw); err != nil {
			return nil, shortPayload(got, n, es, err)
		}
	} else {
		buf := make([]byte, min(chunk, n*es))
		for i := 0; i < n; {
			k := min(len(buf)/es, n-i)
			if got, err := io.ReadFull(r, buf[:k*es]); err != nil {
				return nil, shortPayload(i*es+got, n, es, err)
			}
			convert(d[i:i+k], buf[:k*es], h.DType, order)
			i += k
		}
	}
	var one [1]byte
	switch k, err := io.ReadFull(r, one[:]); {
	case k > 0:
		return nil, fmt.Errorf("payload is longer than the %d values of shape %s", n, ShapeString(h.Shape))
	case err != io.EOF && err != io.ErrUnexpectedEOF:
		return nil, fmt.Errorf("reading the payload: %w", err)
	}
	if h.Fortran && len(h.Shape) == 2 {
		rows, cols := h.Shape[0], h.Shape[1]
		c := make([]T, n)
		for i := range rows {
			for j := range cols {
				c[i*cols+j] = d[j*rows+i]
			}
		}
		d = c
	}
	return d, nil
}

func shortPayload(got, n, es int, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("truncated payload: %d bytes for %d values of %d bytes", got, n, es)
	}
	return fmt.Errorf("reading the payload: %w", err)
}

// convert decodes the values in raw (of dtype dt, byte order order) into d.
func convert[T Elem](d []T, raw []byte, dt DType, order binary.ByteOrder) {
	switch dt {
	case Float32:
		for i := range d {
			d[i] = T(math.Float32frombits(order.Uint32(raw[4*i:])))
		}
	case Float64:
		for i := range d {
			d[i] = T(math.Float64frombits(order.Uint64(raw[8*i:])))
		}
	case Int32:
		for i := range d {
			d[i] = T(int32(order.Uint32(raw[4*i:])))
		}
	case Int64:
		for i := range d {
			d[i] = T(int64(order.Uint64(raw[8*i:])))
		}
	}
}

// parseHeader parses the header dictionary, a Python literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }, which must
// have exactly those three keys, as numpy requires.
func parseHeader(s string) (*Header, error) {
	p := &literalParser{s: s}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(s) {
		return nil, fmt.Errorf("unexpected %q after the dictionary", s[p.i:])
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a dictionary")
	}
	if len(d) != 3 {
		return nil, fmt.Errorf("want the keys 'descr', 'fortran_order' and 'shape', got %d keys", len(d))
	}
	h := &Header{}
	if h.Descr, ok = d["descr"].(string); !ok {
		return nil, errors.New("'descr' is missing or not a string")
	}
	if len(h.Descr) == 3 && (h.Descr[0] == '<' || h.Descr[0] == '>') {
		switch h.Descr[1:] {
		case "f4":
			h.DType = Float32
		case "f8":
			h.DType = Float64
		case "i4":
			h.DType = Int32
		case "i8":
			h.DType = Int64
		}
		h.BigEndian = h.Descr[0] == '>'
	}
	if h.Fortran, ok = d["fortran_order"].(bool); !ok {
		return nil, errors.New("'fortran_order' is missing or not True/False")
	}
	if h.Shape, ok = d["shape"].([]int); !ok {
		return nil, errors.New("'shape' is missing or not a tuple of integers")
	}
	return h, nil
}

// literalParser parses the subset of Python literals a .npy header uses:
// dictionaries with string keys, strings, True, False, non-negative
// integers and tuples of them.
type literalParser struct {
	s     string
	i     int
	depth int
}

func (p *literalParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r", p.s[p.i]) >= 0 {
		p.i++
	}
}

// eat consumes c if it comes next (after spaces).
func (p *literalParser) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *literalParser) value() (any, error) {
	if p.depth++; p.depth > 4 {
		return nil, errors.New("nested too deeply")
	}
	defer func() { p.depth-- }()
	p.space()
	if p.i >= len(p.s) {
		return nil, errors.New("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		d := map[string]any{}
		for !p.eat('}') {
			k, err := p.value()
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, errors.New("dictionary key is not a string")
			}
			if _, dup := d[key]; dup {
				return nil, fmt.Errorf("key %q repeated", key)
			}
			if !p.eat(':') {
				return nil, fmt.Errorf("missing ':' after key %q", key)
			}
			if d[key], err = p.value(); err != nil {
				return nil, err
			}
			if !p.eat(',') {
				if !p.eat('}') {
					return nil, errors.New("missing ',' or '}' in the dictionary")
				}
				break
			}
		}
		return d, nil
	case c == '(':
		p.i++
		t := []int{}
		for !p.eat(')') {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			n, ok := v.(int)
			if !ok {
				return nil, errors.New("shape entry is not an integer")
			}
			t = append(t, n)
			if !p.eat(',') {
				if !p.eat(')') {
					return nil, errors.New("missing ',' or ')' in the shape")
				}
				break
			}
		}
		return t, nil
	case c == '\'' || c == '"':
		end := strings.IndexByte(p.s[p.i+1:], c)
		if end < 0 {
			return nil, errors.New("unterminated string")
		}
		v := p.s[p.i+1 : p.i+1+end]
		if strings.IndexByte(v, '\\') >= 0 {
			return nil, errors.New("escapes in strings are not supported")
		}
		p.i += end + 2
		return v, nil
	case c >= '0' && c <= '9':
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		n, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
		if err != nil || n > math.MaxInt32 {
			return nil, fmt.Errorf("integer %s out of range", p.s[p.i:j])
		}
		p.i = j
		// Python 2 headers may write 3L.
		if p.i < len(p.s) && p.s[p.i] == 'L' {
			p.i++
		}
		return int(n), nil
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	}
	return nil, fmt.Errorf("unexpected %q", p.s[p.i:min(len(p.s), p.i+10)])
}

// ShapeString writes a shape as Python writes a tuple: "(3,)", "(2, 3)".
func ShapeString(shape []int) string {
	if len(shape) == 1 {
		return fmt.Sprintf("(%d,)", shape[0])
	}
	s := make([]string, len(shape))
	for i, d := range shape {
		s[i] = strconv.Itoa(d)
	}
	return "(" + strings.Join(s, ", ") + ")"
}
