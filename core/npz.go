package core

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The .npz format is numpy's np.savez: a zip archive with one .npy file per
// array, named after the array. SaveNPZ and LoadNPZ read and write the .npy
// files themselves (format 1.0 on writing; 1.0, 2.0 and 3.0 on reading):
// npyio's reader parses headers by byte offsets and panics on some malformed
// ones, and its writer goes element by element and writes 2-D arrays only
// as float64.

// SaveNPZ writes the parameters p of a cell of shape sh with mappings in and
// out to w as an .npz archive, as np.savez would write a PyTorch state_dict:
// one uncompressed entry "<name>.npy" per array of p.Fields(sh, in, out),
// masks included, in that order, with the reference's names and shapes
// ((U,) for gleak, vleak, cm; (U, U) and (S, U) for the synapse matrices;
// (S,) and (M,) for the mapping arrays), dtype '<f4' for float32 and '<f8'
// for float64. numpy reads the result with np.load.
//
// An output mapping None leaves the motor size M out of the file; LoadNPZ
// then needs it from the caller.
func SaveNPZ[T Float](w io.Writer, p *Params[T], sh Shape, in, out Mapping) error {
	if err := sh.validate(); err != nil {
		return err
	}
	if err := p.Check(sh, in, out); err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	for _, f := range p.Fields(sh, in, out) {
		b := EncodeNPY(*f.Data, f.Shape)
		hdr := &zip.FileHeader{
			Name:               f.Name + ".npy",
			Method:             zip.Store,
			CRC32:              crc32.ChecksumIEEE(b),
			CompressedSize64:   uint64(len(b)),
			UncompressedSize64: uint64(len(b)),
		}
		ew, err := zw.CreateRaw(hdr)
		if err != nil {
			return fmt.Errorf("core: npz: %s: %w", f.Name, err)
		}
		if _, err := ew.Write(b); err != nil {
			return fmt.Errorf("core: npz: %s: %w", f.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("core: npz: %w", err)
	}
	return nil
}

// NPYElem is an element type EncodeNPY writes: the floats of a cell, and
// int32 for wiring matrices.
type NPYElem interface{ ~float32 | ~float64 | ~int32 }

// EncodeNPY is the .npy (format 1.0) encoding of data with the given shape:
// the header, padded with spaces to a multiple of 64 bytes as numpy pads it,
// then the values in little-endian byte order ('<f4', '<f8' or '<i4').
func EncodeNPY[T NPYElem](data []T, shape []int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := "(" + strings.Join(dims, ", ") + ")"
	if len(shape) == 1 {
		tuple = "(" + dims[0] + ",)"
	}
	var descr string
	var esize int
	var zero T
	switch any(zero).(type) {
	case float32:
		descr, esize = "<f4", 4
	case float64:
		descr, esize = "<f8", 8
	default:
		descr, esize = "<i4", 4
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, tuple)
	const pre = 10 // magic, version, header length
	pad := 63 - (pre+len(dict)+1+63)%64
	b := make([]byte, 0, pre+len(dict)+pad+1+len(data)*esize)
	b = append(b, "\x93NUMPY\x01\x00"...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(dict)+pad+1))
	b = append(b, dict...)
	b = append(b, bytes.Repeat([]byte{' '}, pad)...)
	b = append(b, '\n')
	for _, v := range data {
		switch x := any(v).(type) {
		case float32:
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		case float64:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		case int32:
			b = binary.LittleEndian.AppendUint32(b, uint32(x))
		}
	}
	return b
}

// DecodeNPY reads a C-ordered float32 or float64 .npy array (any byte
// order; formats 1.0 to 3.0) from b and converts it to T. It returns the
// values and the shape, or an error saying what is malformed; it never
// panics on bad input.
func DecodeNPY[T Float](b []byte) ([]T, []int, error) {
	r := bytes.NewReader(b)
	h, err := readNPYHeader(r)
	if err != nil {
		return nil, nil, err
	}
	if h.fortran && len(h.shape) > 2 {
		return nil, nil, errors.New("fortran-ordered arrays of more than 2 dimensions are not supported")
	}
	// The payload must fit in what follows the header, which bounds the
	// element count before anything is multiplied out.
	n := int64(1)
	for _, d := range h.shape {
		if n *= int64(d); n*int64(max(h.esize, 1)) > int64(r.Len()) {
			return nil, nil, fmt.Errorf("truncated payload: shape %s needs more than the %d bytes present", shapeString(h.shape), r.Len())
		}
	}
	d, err := decodePayload[T](h, r, h.shape, int64(r.Len()))
	if err != nil {
		return nil, nil, err
	}
	return d, h.shape, nil
}

// NPZIsFloat64 reports whether the .npz archive r of size bytes stores
// its gleak array (under any prefix) as float64: the precision its
// parameters were saved in.
func NPZIsFloat64(r io.ReaderAt, size int64) bool {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return false
	}
	for _, f := range zr.File {
		if f.Name == "gleak.npy" || strings.HasSuffix(f.Name, ".gleak.npy") {
			h, rc, err := openNPY(f)
			if err != nil {
				return false
			}
			rc.Close()
			return h.esize == 8
		}
	}
	return false
}

// LoadNPZ reads a cell's parameters from the .npz archive r of size bytes:
// SaveNPZ's output, or np.savez / np.savez_compressed of a PyTorch
// state_dict (ncps or keras-ncp LTCCell). It returns the parameters in
// precision T, converting float32 or float64 arrays (either byte order) as
// needed, and the shape and mappings the arrays imply:
//
//   - U is the length of gleak; S is the number of rows of sensory_w;
//   - the input mapping is Affine when input_w and input_b are present,
//     Linear with input_w alone, None with neither; the output mapping
//     likewise from output_w and output_b;
//   - M is the length of output_w. Without an output mapping nothing in the
//     parameters records M: pass it as motor. motor < 0 means "infer", an
//     error for such a file; motor >= 0 must match output_w when present.
//
// Every array of p.Fields for that shape and those mappings, the two masks
// included (they define the wiring), must be present with exactly the
// reference's shape; C-order and Fortran-order arrays are both accepted.
// Names may carry a common prefix, as a state_dict of a model holding the
// cell has ("rnn_cell.gleak", the ncps LTC wrapper's): the prefix is taken
// from the one entry named gleak or ending in ".gleak". Arrays of other
// names are ignored.
//
// Errors name the offending array: a missing one, one of the wrong dtype
// (not float32 or float64) or shape (with the shape expected), and a
// malformed .npy header or truncated payload; a damaged archive is an
// error too. LoadNPZ never panics on bad input.
func LoadNPZ[T Float](r io.ReaderAt, size int64, motor int) (p *Params[T], sh Shape, in, out Mapping, err error) {
	fail := func(e error) (*Params[T], Shape, Mapping, Mapping, error) {
		return nil, Shape{}, 0, 0, e
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fail(fmt.Errorf("core: npz: not a readable zip archive: %w", err))
	}
	entries := map[string]*zip.File{}
	var prefixes []string
	for _, f := range zr.File {
		name, ok := strings.CutSuffix(f.Name, ".npy")
		if !ok {
			continue
		}
		if entries[name] != nil {
			return fail(fmt.Errorf("core: npz: the archive holds %q twice", f.Name))
		}
		entries[name] = f
		if pre, ok := strings.CutSuffix(name, "gleak"); ok && (pre == "" || strings.HasSuffix(pre, ".")) {
			prefixes = append(prefixes, pre)
		}
	}
	switch len(prefixes) {
	case 0:
		return fail(errors.New("core: npz: missing array gleak"))
	case 1:
	default:
		slices.Sort(prefixes)
		return fail(fmt.Errorf("core: npz: the archive holds several parameter sets (gleak under the prefixes %q)", prefixes))
	}
	prefix := prefixes[0]

	// Read every header first: the shape comes from gleak and sensory_w,
	// the mappings from which mapping arrays exist.
	heads := map[string]*npyHeader{}
	for _, name := range []string{"gleak", "sensory_w", "input_w", "input_b", "output_w", "output_b"} {
		f := entries[prefix+name]
		if f == nil {
			continue
		}
		h, rc, err := openNPY(f)
		if err != nil {
			return fail(fmt.Errorf("core: npz: array %s: %w", name, err))
		}
		rc.Close()
		heads[name] = h
	}
	g := heads["gleak"]
	if len(g.shape) != 1 || g.shape[0] < 1 {
		return fail(fmt.Errorf("core: npz: array gleak must have shape (units,) with units >= 1, got %s", shapeString(g.shape)))
	}
	sh.Units = g.shape[0]
	sw := heads["sensory_w"]
	if sw == nil {
		return fail(errors.New("core: npz: missing array sensory_w"))
	}
	if len(sw.shape) != 2 || sw.shape[0] < 1 || sw.shape[1] != sh.Units {
		return fail(fmt.Errorf("core: npz: array sensory_w must have shape (sensory, units=%d) with sensory >= 1, got %s",
			sh.Units, shapeString(sw.shape)))
	}
	sh.Sensory = sw.shape[0]
	mapping := func(w, b string) (Mapping, error) {
		switch {
		case heads[w] != nil && heads[b] != nil:
			return Affine, nil
		case heads[w] != nil:
			return Linear, nil
		case heads[b] != nil:
			return 0, fmt.Errorf("core: npz: the archive has %s but not %s", b, w)
		}
		return None, nil
	}
	if in, err = mapping("input_w", "input_b"); err != nil {
		return fail(err)
	}
	if out, err = mapping("output_w", "output_b"); err != nil {
		return fail(err)
	}
	if ow := heads["output_w"]; ow != nil {
		if len(ow.shape) != 1 {
			return fail(fmt.Errorf("core: npz: array output_w must have shape (motor,), got %s", shapeString(ow.shape)))
		}
		sh.Motor = ow.shape[0]
		if motor >= 0 && motor != sh.Motor {
			return fail(fmt.Errorf("core: npz: the caller gives motor size %d but output_w has %d values", motor, sh.Motor))
		}
	} else {
		if motor < 0 {
			return fail(errors.New("core: npz: the archive has no output mapping (output_w), so it does not record the motor size: pass it"))
		}
		sh.Motor = motor
	}
	if err := sh.validate(); err != nil {
		return fail(err)
	}
	if sh.Units > maxNPZSize || sh.Sensory > maxNPZSize {
		return fail(fmt.Errorf("core: npz: %d units and %d input features: LoadNPZ accepts at most %d of each", sh.Units, sh.Sensory, maxNPZSize))
	}

	p = &Params[T]{}
	fields := p.Fields(sh, in, out)
	var missing []string
	for _, f := range fields {
		if entries[prefix+f.Name] == nil {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return fail(fmt.Errorf("core: npz: missing arrays %s", strings.Join(missing, ", ")))
	}
	for _, f := range fields {
		d, err := readNPY[T](entries[prefix+f.Name], f.Shape)
		if err != nil {
			return fail(fmt.Errorf("core: npz: array %s: %w", f.Name, err))
		}
		*f.Data = d
	}
	if err := p.Check(sh, in, out); err != nil {
		return fail(err)
	}
	return p, sh, in, out, nil
}

// maxNPZSize bounds the units and input features LoadNPZ accepts, so that
// array sizes cannot overflow (the wiring package allows 65536 of each).
const maxNPZSize = 1 << 20

// npyHeader is what a .npy header says: the element type, the byte order,
// the storage order and the shape.
type npyHeader struct {
	descr   string
	esize   int // 4 or 8
	order   binary.ByteOrder
	fortran bool
	shape   []int
	offset  int // of the payload in the entry
}

// maxNPYHeader bounds the header length read before parsing (numpy's own
// reader refuses headers above 10000 bytes by default).
const maxNPYHeader = 1 << 16

// openNPY opens a .npy entry and parses its header; the returned reader is
// positioned at the payload.
func openNPY(f *zip.File) (*npyHeader, io.ReadCloser, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open the archive entry: %w", err)
	}
	h, err := readNPYHeader(rc)
	if err != nil {
		rc.Close()
		return nil, nil, err
	}
	return h, rc, nil
}

// readNPYHeader reads the magic string, the version, the header length and
// the header of a .npy stream.
func readNPYHeader(r io.Reader) (*npyHeader, error) {
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
		if n > maxNPYHeader {
			return nil, fmt.Errorf(".npy header of %d bytes is longer than %d", n, maxNPYHeader)
		}
	default:
		return nil, fmt.Errorf("unsupported .npy format version %d.%d", major, pre[7])
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("truncated .npy header (%d bytes announced): %w", n, err)
	}
	h, err := parseNPYHeader(string(buf))
	if err != nil {
		return nil, fmt.Errorf("malformed .npy header %q: %w", buf, err)
	}
	h.offset = off + n
	return h, nil
}

// parseNPYHeader parses the header dictionary, a Python literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }, which must
// have exactly those three keys, as numpy requires.
func parseNPYHeader(s string) (*npyHeader, error) {
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
	h := &npyHeader{}
	descr, ok := d["descr"].(string)
	if !ok {
		return nil, errors.New("'descr' is missing or not a string")
	}
	h.descr = descr
	switch descr {
	case "<f4", ">f4":
		h.esize = 4
	case "<f8", ">f8":
		h.esize = 8
	}
	h.order = binary.LittleEndian
	if strings.HasPrefix(descr, ">") {
		h.order = binary.BigEndian
	}
	if h.fortran, ok = d["fortran_order"].(bool); !ok {
		return nil, errors.New("'fortran_order' is missing or not True/False")
	}
	shape, ok := d["shape"].([]int)
	if !ok {
		return nil, errors.New("'shape' is missing or not a tuple of integers")
	}
	h.shape = shape
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
		// Python 2 headers may write 3L.
		n, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
		if err != nil || n > math.MaxInt32 {
			return nil, fmt.Errorf("integer %s out of range", p.s[p.i:j])
		}
		p.i = j
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

func shapeString(shape []int) string {
	if len(shape) == 1 {
		return fmt.Sprintf("(%d,)", shape[0])
	}
	s := make([]string, len(shape))
	for i, d := range shape {
		s[i] = strconv.Itoa(d)
	}
	return "(" + strings.Join(s, ", ") + ")"
}

// readNPY reads one array of the given shape (1-D or 2-D) from a .npy entry
// and converts it to T, in C order.
func readNPY[T Float](f *zip.File, shape []int) ([]T, error) {
	h, rc, err := openNPY(f)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if !slices.Equal(h.shape, shape) && h.esize != 0 {
		return nil, fmt.Errorf("must have shape %s, got %s", shapeString(shape), shapeString(h.shape))
	}
	return decodePayload[T](h, rc, shape, int64(f.UncompressedSize64)-int64(h.offset))
}

// decodePayload reads the values of an array of the given shape, whose
// header h has been read from r, and converts them to T in C order. avail
// is the number of payload bytes the container says it holds.
func decodePayload[T Float](h *npyHeader, r io.Reader, shape []int, avail int64) ([]T, error) {
	if h.esize == 0 {
		return nil, fmt.Errorf("must be float32 or float64 ('<f4', '<f8', '>f4' or '>f8'), got dtype %q", h.descr)
	}
	n := size(shape)
	if need := int64(n) * int64(h.esize); avail < need {
		return nil, fmt.Errorf("truncated payload: %d bytes, the header announces %d", max(avail, 0), need)
	}
	// Read to the end, so that archive/zip checks its CRC and a payload
	// longer than the header says shows; memory grows with the data
	// actually present, not with what the header claims.
	raw, err := io.ReadAll(io.LimitReader(r, int64(n*h.esize)+1))
	if err != nil {
		return nil, fmt.Errorf("reading the payload: %w", err)
	}
	if len(raw) != n*h.esize {
		if len(raw) < n*h.esize {
			return nil, fmt.Errorf("truncated payload: %d bytes for %d values of %d bytes", len(raw), n, h.esize)
		}
		return nil, fmt.Errorf("payload is longer than the %d values of shape %s", n, shapeString(shape))
	}
	d := make([]T, n)
	for i := range d {
		var v float64
		if h.esize == 4 {
			v = float64(math.Float32frombits(h.order.Uint32(raw[4*i:])))
		} else {
			v = math.Float64frombits(h.order.Uint64(raw[8*i:]))
		}
		d[i] = T(v)
	}
	if h.fortran && len(shape) == 2 {
		rows, cols := shape[0], shape[1]
		c := make([]T, n)
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				c[i*cols+j] = d[j*rows+i]
			}
		}
		d = c
	}
	return d, nil
}
