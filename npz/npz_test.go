package npz

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"runtime"
	"strings"
	"testing"

	npyionpz "codeberg.org/sbinet/npyio/npz"
)

func wantErr(t *testing.T, name string, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want one containing %q", name, subs)
		return
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: error %q does not contain %q", name, err, s)
		}
	}
}

// member is one archive member written raw (stored or deflated).
type member struct {
	name    string
	data    []byte
	deflate bool
}

func buildZip(t testing.TB, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		if m.deflate {
			w, err := zw.Create(m.name)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(m.data)
			continue
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: m.name, Method: zip.Store, CRC32: crc32.ChecksumIEEE(m.data),
			CompressedSize64: uint64(len(m.data)), UncompressedSize64: uint64(len(m.data))})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(m.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// npyRaw is a .npy member with the given header dictionary and payload.
func npyRaw(dict string, payload []byte) []byte {
	b := []byte("\x93NUMPY\x01\x00")
	pad := 63 - (10+len(dict)+1+63)%64
	hdr := dict + strings.Repeat(" ", pad) + "\n"
	b = binary.LittleEndian.AppendUint16(b, uint16(len(hdr)))
	return append(append(b, hdr...), payload...)
}

func TestEncodeMatchesNumpy(t *testing.T) {
	// np.save of np.arange(6, dtype='<f4').reshape(2, 3): the header bytes
	// numpy 1.x and 2.x write (format 1.0, padded to 128 bytes).
	want := "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" +
		strings.Repeat(" ", 117-len("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")) + "\n"
	got := EncodeNPY([]float32{0, 1, 2, 3, 4, 5}, []int{2, 3})
	if string(got[:128]) != want {
		t.Errorf("header\n%q\nwant\n%q", got[:128], want)
	}
	if len(got) != 128+24 || math.Float32frombits(binary.LittleEndian.Uint32(got[128+20:])) != 5 {
		t.Errorf("payload wrong: %d bytes", len(got))
	}
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	f32 := []float32{1.5, -2, float32(math.Inf(1)), 0}
	f64 := []float64{math.Pi, -1e300, math.SmallestNonzeroFloat64}
	i32 := []int32{-1, 0, 1, math.MaxInt32, math.MinInt32, 7}
	i64 := []int64{math.MinInt64, math.MaxInt64}
	for _, err := range []error{
		Add(w, "a", f32, []int{2, 2}), Add(w, "b", f64, []int{3}), Add(w, "c", i32, []int{2, 1, 3}),
		Add(w, "d", i64, []int{2}), Add(w, "e", []float32{}, []int{0, 4}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "duplicate", Add(w, "a", f32, []int{4}), `"a"`, "twice")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	r, err := NewReader(bytes.NewReader(b), int64(len(b)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Names(), ","); got != "a,b,c,d,e" {
		t.Errorf("names %s", got)
	}
	check := func(name string, got, want any, shape, wantShape []int) {
		t.Helper()
		if !equalAny(got, want) || !equalInts(shape, wantShape) {
			t.Errorf("%s: got %v %v, want %v %v", name, got, shape, want, wantShape)
		}
	}
	a, sa, err := Read[float32](r, "a", []int{2, 2})
	if err != nil {
		t.Fatal(err)
	}
	check("a", a, f32, sa, []int{2, 2})
	a64, _, _ := Read[float64](r, "a", nil)
	check("a as float64", a64, []float64{1.5, -2, math.Inf(1), 0}, sa, []int{2, 2})
	bb, sb, _ := Read[float64](r, "b", nil)
	check("b", bb, f64, sb, []int{3})
	c, sc, _ := Read[int32](r, "c", nil)
	check("c", c, i32, sc, []int{2, 1, 3})
	d, sd, _ := Read[int64](r, "d", nil)
	check("d", d, i64, sd, []int{2})
	e, se, err := Read[float32](r, "e", nil)
	check("e", e, []float32{}, se, []int{0, 4})
	if err != nil {
		t.Error(err)
	}
	_, _, err = Read[float32](r, "c", nil)
	wantErr(t, "int as float", err, "npz: array c", "float32 or float64", `"<i4"`)
	_, _, err = Read[int32](r, "b", nil)
	wantErr(t, "float as int", err, "npz: array b", "int32 or int64", `"<f8"`)
	_, _, err = Read[float32](r, "a", []int{4})
	wantErr(t, "shape", err, "npz: array a", "must have shape (4,), got (2, 2)")
	_, _, err = Read[float32](r, "zz", nil)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "array zz") {
		t.Errorf("missing array: %v", err)
	}

	// npyio, an independent reader, reads what Add wrote.
	nr, err := npyionpz.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var n32 []int32
	if err := nr.Read("c.npy", &n32); err != nil || !equalAny(n32, i32) {
		t.Errorf("npyio reads c as %v, %v", n32, err)
	}
	var n64 []float64
	if err := nr.Read("b.npy", &n64); err != nil || !equalAny(n64, f64) {
		t.Errorf("npyio reads b as %v, %v", n64, err)
	}
}

func equalAny(a, b any) bool {
	switch x := a.(type) {
	case []float32:
		y := b.([]float32)
		return len(x) == len(y) && string(EncodeNPY(x, []int{len(x)})) == string(EncodeNPY(y, []int{len(y)}))
	case []float64:
		y := b.([]float64)
		return len(x) == len(y) && string(EncodeNPY(x, []int{len(x)})) == string(EncodeNPY(y, []int{len(y)}))
	case []int32:
		y := b.([]int32)
		return len(x) == len(y) && string(EncodeNPY(x, []int{len(x)})) == string(EncodeNPY(y, []int{len(y)}))
	case []int64:
		y := b.([]int64)
		return len(x) == len(y) && string(EncodeNPY(x, []int{len(x)})) == string(EncodeNPY(y, []int{len(y)}))
	}
	return false
}

func TestDecodeLayouts(t *testing.T) {
	hdr := func(descr, fortran, shape string) string {
		return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }"
	}
	var be, le, fo []byte
	for _, v := range []float32{1, 2, 3, 4, 5, 6} {
		be = binary.BigEndian.AppendUint32(be, math.Float32bits(v))
		le = binary.LittleEndian.AppendUint32(le, math.Float32bits(v))
	}
	for _, v := range []float32{1, 4, 2, 5, 3, 6} { // (2, 3) stored column-major
		fo = binary.LittleEndian.AppendUint32(fo, math.Float32bits(v))
	}
	var i64 []byte
	for _, v := range []int64{1, 2, 3, 4, 5, 6} {
		i64 = binary.BigEndian.AppendUint64(i64, uint64(v))
	}
	want := []float64{1, 2, 3, 4, 5, 6}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"big-endian", npyRaw(hdr(">f4", "False", "(2, 3)"), be)},
		{"little-endian", npyRaw(hdr("<f4", "False", "(2, 3)"), le)},
		{"fortran", npyRaw(hdr("<f4", "True", "(2, 3)"), fo)},
	} {
		got, shape, err := DecodeNPY[float64](tc.b)
		if err != nil || !equalAny(got, want) || !equalInts(shape, []int{2, 3}) {
			t.Errorf("%s: %v %v %v", tc.name, got, shape, err)
		}
	}
	got, _, err := DecodeNPY[int32](npyRaw(hdr(">i8", "False", "(6,)"), i64))
	if err != nil || !equalAny(got, []int32{1, 2, 3, 4, 5, 6}) {
		t.Errorf(">i8 as int32: %v %v", got, err)
	}
	_, _, err = DecodeNPY[float32](npyRaw(hdr("<f4", "True", "(1, 2, 3)"), le))
	wantErr(t, "3-D fortran", err, "fortran-ordered arrays of more than 2 dimensions")
	_, _, err = DecodeNPY[float32](npyRaw(hdr("<f4", "False", "(2, 3)"), le[:20]))
	wantErr(t, "short", err, "truncated payload")
	_, _, err = DecodeNPY[float32](npyRaw(hdr("<f4", "False", "(2000000, 2000000)"), le))
	wantErr(t, "huge", err, "(2000000, 2000000) has more than 1099511627776 elements")
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestDeflateBomb: a deflated member whose payload decompresses to 64 MiB
// of zeros is read no further than its header declares, and a header that
// declares it all is refused by the caller's limit, each without
// allocating more than the declared size.
func TestDeflateBomb(t *testing.T) {
	zeros := make([]byte, 64<<20)
	small := append(npyRaw("{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }", nil), zeros...)
	whole := append(npyRaw("{'descr': '<f4', 'fortran_order': False, 'shape': (16777216,), }", nil), zeros...)
	huge := npyRaw("{'descr': '<f8', 'fortran_order': False, 'shape': (2000000000,), }", zeros[:1<<20])
	b := buildZip(t, member{"small.npy", small, true}, member{"whole.npy", whole, true}, member{"huge.npy", huge, true})
	zeros = nil
	if len(b) > 1<<20 {
		t.Fatalf("the archive is %d bytes: not a bomb", len(b))
	}
	var err error
	r, _ := NewReader(bytes.NewReader(b), int64(len(b)), 1<<20)
	n := allocated(func() { _, _, err = Read[float32](r, "small", nil) })
	wantErr(t, "small", err, "array small", "payload is longer than the 10 values of shape (10,)")
	if n > 1<<20 {
		t.Errorf("reading 10 declared values allocated %d bytes", n)
	}
	n = allocated(func() { _, _, err = Read[float32](r, "whole", nil) })
	wantErr(t, "whole", err, "array whole", "declares 67108864 bytes, more than the 1048576 bytes left of the reader's limit")
	if n > 1<<20 {
		t.Errorf("refusing 64 MiB allocated %d bytes", n)
	}
	r, _ = NewReader(bytes.NewReader(b), int64(len(b)), 1<<40) // no help from the limit
	n = allocated(func() { _, _, err = Read[float64](r, "huge", nil) })
	wantErr(t, "huge", err, "array huge", "declares 16000000000 bytes, more than the member's")
	if n > 1<<20 {
		t.Errorf("refusing 16 GB allocated %d bytes", n)
	}
	// With a generous limit the whole payload reads, and the budget is spent.
	r, _ = NewReader(bytes.NewReader(b), int64(len(b)), 100<<20)
	if d, _, err := Read[float32](r, "whole", nil); err != nil || len(d) != 1<<24 {
		t.Fatalf("whole: %d values, %v", len(d), err)
	}
	_, _, err = Read[float32](r, "whole", nil)
	wantErr(t, "budget spent", err, "bytes left of the reader's limit")
}

func TestTable(t *testing.T) {
	table := []Entry{{"w", []int{2, 3}}, {"b", []int{3}}, {"scale", []int{}}}
	flat := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if TableLen(table) != len(flat) {
		t.Fatalf("TableLen %d", TableLen(table))
	}
	var buf bytes.Buffer
	if err := SaveTable(&buf, "cell.", table, flat); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	r, err := NewReader(bytes.NewReader(b), int64(len(b)), 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(flat))
	if err := LoadTable(r, "cell.", table, got); err != nil {
		t.Fatal(err)
	}
	for i := range flat {
		if float64(got[i]) != flat[i] {
			t.Fatalf("got %v, want %v", got, flat)
		}
	}
	if w, s, err := Read[float64](r, "cell.w", nil); err != nil || !equalInts(s, []int{2, 3}) || w[5] != 6 {
		t.Errorf("cell.w: %v %v %v", w, s, err)
	}
	err = LoadTable(r, "", table, got)
	wantErr(t, "no prefix", err, "missing arrays w, b, scale")
	other := []Entry{{"w", []int{3, 2}}, {"b", []int{3}}, {"scale", nil}}
	err = LoadTable(r, "cell.", other, got)
	wantErr(t, "shape", err, "array cell.w", "must have shape (3, 2), got (2, 3)")
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "npz: ") {
			t.Errorf("short flat: recovered %v, want an npz panic", r)
		}
	}()
	LoadTable(r, "cell.", table, got[:3])
}

func TestReaderErrors(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("PK\x03\x04 not really")} {
		_, err := NewReader(bytes.NewReader(b), int64(len(b)), 0)
		wantErr(t, "not zip", err, "npz: not a readable zip archive")
	}
	a := EncodeNPY([]float32{1}, []int{1})
	b := buildZip(t, member{"x.npy", a, false}, member{"x.npy", a, false})
	_, err := NewReader(bytes.NewReader(b), int64(len(b)), 0)
	wantErr(t, "twice", err, `"x.npy" twice`)
	b = buildZip(t, member{"x.npy", a, false}, member{"notes.txt", []byte("hi"), false})
	r, err := NewReader(bytes.NewReader(b), int64(len(b)), 0)
	if err != nil || len(r.Names()) != 1 || !r.Has("x") || r.Has("notes") {
		t.Errorf("non-.npy members should be ignored: %v %v", r.Names(), err)
	}
	// A stored member with a bad checksum: the error names the array.
	c := bytes.Clone(b)
	i := bytes.Index(c, a) + len(a) - 1
	c[i] ^= 1
	r, _ = NewReader(bytes.NewReader(c), int64(len(c)), 0)
	_, _, err = Read[float32](r, "x", nil)
	wantErr(t, "checksum", err, "array x", "checksum")
}
