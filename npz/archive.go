package npz

import (
	"archive/zip"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// Writer writes an .npz archive: one uncompressed member "<name>.npy" per
// array, in the order they are added, as np.savez writes them.
type Writer struct {
	zw    *zip.Writer
	names map[string]bool
	buf   []byte
}

// NewWriter returns a Writer that writes the archive to w. Close finishes
// the archive (it does not close w).
func NewWriter(w io.Writer) *Writer {
	return &Writer{zw: zip.NewWriter(w), names: map[string]bool{}}
}

// Add writes data, of the given shape in C order, as the member
// name+".npy" of w. It returns an error if name is empty or already
// written, or if writing fails. It panics if the shape does not hold
// len(data) elements.
func Add[T Elem](w *Writer, name string, data []T, shape []int) error {
	if name == "" || w.names[name] {
		return fmt.Errorf("npz: array name %q is empty or written twice", name)
	}
	w.names[name] = true
	w.buf = AppendNPY(w.buf[:0], data, shape)
	hdr := &zip.FileHeader{
		Name:               name + ".npy",
		Method:             zip.Store,
		CRC32:              crc32.ChecksumIEEE(w.buf),
		CompressedSize64:   uint64(len(w.buf)),
		UncompressedSize64: uint64(len(w.buf)),
	}
	ew, err := w.zw.CreateRaw(hdr)
	if err != nil {
		return fmt.Errorf("npz: %s: %w", name, err)
	}
	if _, err := ew.Write(w.buf); err != nil {
		return fmt.Errorf("npz: %s: %w", name, err)
	}
	return nil
}

// Close writes the archive's central directory.
func (w *Writer) Close() error {
	if err := w.zw.Close(); err != nil {
		return fmt.Errorf("npz: %w", err)
	}
	return nil
}

// DefaultMaxBytes is the payload budget of a Reader made with maxBytes <= 0:
// 4 GiB.
const DefaultMaxBytes = 4 << 30

// Reader reads the arrays of an .npz archive (np.savez or
// np.savez_compressed output: stored or deflated members). Members whose
// names do not end in ".npy" are ignored.
//
// Memory is bounded by what the headers declare, never by what a member
// decompresses to: an array is allocated after its header's shape has been
// checked against the shape the caller wants and against the Reader's
// remaining payload budget, and a payload longer than its shape declares is
// an error after one byte too many. A Reader is not safe for concurrent use.
type Reader struct {
	files  map[string]*zip.File
	names  []string
	budget int64 // payload bytes the reader may still allocate
	size   int64 // of the archive
}

// NewReader opens the archive r of size bytes. Reading arrays from it
// allocates at most maxBytes payload bytes in all (maxBytes <= 0:
// DefaultMaxBytes); an array beyond that is an error naming it. It returns
// an error if r is not a zip archive or holds one member twice.
func NewReader(r io.ReaderAt, size int64, maxBytes int64) (*Reader, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("npz: not a readable zip archive: %w", err)
	}
	rd := &Reader{files: map[string]*zip.File{}, budget: maxBytes, size: size}
	for _, f := range zr.File {
		name, ok := strings.CutSuffix(f.Name, ".npy")
		if !ok {
			continue
		}
		if rd.files[name] != nil {
			return nil, fmt.Errorf("npz: the archive holds %q twice", f.Name)
		}
		rd.files[name] = f
		rd.names = append(rd.names, name)
	}
	return rd, nil
}

// Names lists the arrays of the archive (without ".npy") in archive order.
func (r *Reader) Names() []string { return r.names }

// Has reports whether the archive holds the array name.
func (r *Reader) Has(name string) bool { return r.files[name] != nil }

// ErrNotFound is the cause of an ArrayError for an array the archive lacks.
var ErrNotFound = errors.New("no such array in the archive")

// ArrayError is an error reading one array of an archive.
type ArrayError struct {
	Name string // the array's name, without ".npy"
	Err  error  // what is wrong
}

func (e *ArrayError) Error() string { return "npz: array " + e.Name + ": " + e.Err.Error() }

// Unwrap returns e.Err.
func (e *ArrayError) Unwrap() error { return e.Err }

// Header returns the header of array name. Errors name the array.
func (r *Reader) Header(name string) (*Header, error) {
	h, rc, err := r.open(name)
	if err != nil {
		return nil, err
	}
	rc.Close()
	return h, nil
}

func (r *Reader) open(name string) (*Header, io.ReadCloser, error) {
	f := r.files[name]
	if f == nil {
		return nil, nil, &ArrayError{name, ErrNotFound}
	}
	rc, err := f.Open()
	if err != nil {
		return nil, nil, &ArrayError{name, fmt.Errorf("cannot open the archive entry: %w", err)}
	}
	h, err := ReadHeader(rc)
	if err != nil {
		rc.Close()
		return nil, nil, &ArrayError{name, err}
	}
	return h, rc, nil
}

// Read reads array name and converts it to T (floats to a float T,
// integers to an integer T), in C order. With want not nil the array must
// have exactly that shape. It returns the values and the shape; errors name
// the array and say what is wrong (missing, dtype, shape, over the payload
// budget, malformed header, truncated or overlong payload, damaged member).
func Read[T Elem](r *Reader, name string, want []int) ([]T, []int, error) {
	h, rc, err := r.open(name)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	fail := func(err error) ([]T, []int, error) { return nil, nil, &ArrayError{name, err} }
	if err := checkDType[T](h); err != nil {
		return fail(err)
	}
	if err := h.check(want); err != nil {
		return fail(err)
	}
	need := int64(h.Len()) * int64(h.DType.Size())
	if need > r.budget {
		return fail(fmt.Errorf("shape %s declares %d bytes, more than the %d bytes left of the reader's limit",
			ShapeString(h.Shape), need, r.budget))
	}
	// Deflate expands at most maxRatio times, and a member's compressed
	// bytes lie within the archive: an array larger than that cannot be
	// present, whatever the member's header says, and is refused before
	// anything is allocated.
	f := r.files[name]
	comp := r.size
	if f.CompressedSize64 < uint64(comp) {
		comp = int64(f.CompressedSize64)
	}
	if need > comp*maxRatio+maxHeader {
		return fail(fmt.Errorf("truncated payload: shape %s declares %d bytes, more than the member's %d compressed bytes can hold",
			ShapeString(h.Shape), need, comp))
	}
	d, err := readPayload[T](h, rc, int64(f.UncompressedSize64)-int64(h.offset))
	if err != nil {
		return fail(err)
	}
	r.budget -= need
	return d, h.Shape, nil
}

// maxRatio bounds deflate's expansion (1032:1 is its limit; stored members
// are 1:1).
const maxRatio = 1032

// Entry names one array of a table: a flat parameter vector split into
// named arrays, each Len(Shape) values long, laid end to end in table
// order.
type Entry struct {
	Name  string
	Shape []int
}

// Len is the number of values of the entry's shape.
func (e Entry) Len() int {
	n := 1
	for _, d := range e.Shape {
		n *= d
	}
	return n
}

// TableLen is the length of the flat vector a table describes.
func TableLen(table []Entry) int {
	n := 0
	for _, e := range table {
		n += e.Len()
	}
	return n
}

// SaveTable writes flat, split by table into named arrays, as an .npz
// archive to w (each array under prefix+Name). It panics if len(flat) is
// not TableLen(table).
func SaveTable[T Elem](w io.Writer, prefix string, table []Entry, flat []T) error {
	if len(flat) != TableLen(table) {
		panic("npz: flat length does not match the table")
	}
	zw := NewWriter(w)
	off := 0
	for _, e := range table {
		n := e.Len()
		if err := Add(zw, prefix+e.Name, flat[off:off+n], e.Shape); err != nil {
			return err
		}
		off += n
	}
	return zw.Close()
}

// LoadTable fills flat from the arrays prefix+Name of r, each of which
// must have exactly its entry's shape (any of the dtypes T accepts, either
// byte order, C or Fortran order). Arrays not in the table are ignored.
// Errors name the first missing or malformed array. It panics if len(flat)
// is not TableLen(table).
func LoadTable[T Elem](r *Reader, prefix string, table []Entry, flat []T) error {
	if len(flat) != TableLen(table) {
		panic("npz: flat length does not match the table")
	}
	var missing []string
	for _, e := range table {
		if !r.Has(prefix + e.Name) {
			missing = append(missing, prefix+e.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("npz: missing arrays %s", strings.Join(missing, ", "))
	}
	off := 0
	for _, e := range table {
		d, _, err := Read[T](r, prefix+e.Name, e.Shape)
		if err != nil {
			return err
		}
		off += copy(flat[off:], d)
	}
	return nil
}
