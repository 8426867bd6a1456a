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
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npz"
)

// npzCell is a random cell for the .npz tests.
func npzCell(t testing.TB, kind string, in, out Mapping, seed uint64) *Cell[float64] {
	return newTestCell(t, cellSpec{wiring: kind, in: in, out: out, unfolds: 2, seed: seed})
}

func saveNPZ[T Float](t testing.TB, c *Cell[T]) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := SaveNPZ(&buf, c.Params, c.Shape, c.Opts.InputMapping, c.Opts.OutputMapping); err != nil {
		t.Fatalf("SaveNPZ: %v", err)
	}
	return buf.Bytes()
}

func loadNPZ[T Float](b []byte, motor int) (*Params[T], Shape, Mapping, Mapping, error) {
	return LoadNPZ[T](bytes.NewReader(b), int64(len(b)), motor)
}

// equalParams compares every array of two parameter sets exactly (NaN
// equal to NaN), the absent ones included.
func equalParams[T, S Float](got *Params[T], want *Params[S]) error {
	g, w := got.Fields(Shape{}, Affine, Affine), want.Fields(Shape{}, Affine, Affine)
	for i := range g {
		a, b := *g[i].Data, *w[i].Data
		if (a == nil) != (b == nil) || len(a) != len(b) {
			return fmt.Errorf("%s: got %d values (nil %v), want %d (nil %v)", g[i].Name, len(a), a == nil, len(b), b == nil)
		}
		for j := range a {
			if float64(a[j]) != float64(T(b[j])) && !(a[j] != a[j] && b[j] != b[j]) {
				return fmt.Errorf("%s[%d] = %v, want %v", g[i].Name, j, a[j], b[j])
			}
		}
	}
	return nil
}

// motorArg is what a caller passes to LoadNPZ for a cell: the motor size
// when the output mapping is None, else -1 (infer).
func motorArg(sh Shape, out Mapping) int {
	if out == None {
		return sh.Motor
	}
	return -1
}

// TestNPZRoundTrip saves random parameters of every wiring kind and mapping
// pair in both precisions and loads them back in both: the shape and
// mappings come back, and the values exactly (float64 to float32 rounds
// once). npyio, an independent reader, reads every entry SaveNPZ writes
// with the reference's shape.
func TestNPZRoundTrip(t *testing.T) {
	maps := []Mapping{Affine, Linear, None}
	n := 0
	for _, kind := range testWirings {
		for _, in := range maps {
			for _, out := range maps {
				n++
				c := npzCell(t, kind, in, out, uint64(n))
				for _, c32 := range []bool{false, true} {
					var b []byte
					if c32 {
						b = saveNPZ(t, cellAs[float32](c))
					} else {
						b = saveNPZ(t, c)
					}
					name := fmt.Sprintf("%s/%v-%v/float32=%v", kind, in, out, c32)
					checkRoundTrip[float32](t, name, b, c, c32)
					checkRoundTrip[float64](t, name, b, c, c32)
					checkNpyio(t, name, b, c, c32)
				}
			}
		}
	}
}

func checkRoundTrip[T Float](t *testing.T, name string, b []byte, c *Cell[float64], c32 bool) {
	t.Helper()
	p, sh, in, out, err := loadNPZ[T](b, motorArg(c.Shape, c.Opts.OutputMapping))
	if err != nil {
		t.Fatalf("%s: LoadNPZ: %v", name, err)
	}
	if sh != c.Shape || in != c.Opts.InputMapping || out != c.Opts.OutputMapping {
		t.Errorf("%s: got shape %+v, mappings %v-%v; want %+v, %v-%v", name, sh, in, out,
			c.Shape, c.Opts.InputMapping, c.Opts.OutputMapping)
	}
	want := c.Params
	if c32 {
		want = paramsAs[float64](paramsAs[float32](want)) // what the file holds
	}
	if err := equalParams(p, want); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

func checkNpyio(t *testing.T, name string, b []byte, c *Cell[float64], c32 bool) {
	t.Helper()
	r, err := npz.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("%s: npyio: %v", name, err)
	}
	fields := c.Params.Fields(c.Shape, c.Opts.InputMapping, c.Opts.OutputMapping)
	if len(r.Keys()) != len(fields) {
		t.Errorf("%s: npyio sees %d entries %v, want %d", name, len(r.Keys()), r.Keys(), len(fields))
	}
	for _, f := range fields {
		h := r.Header(f.Name + ".npy")
		if h == nil {
			t.Errorf("%s: npyio finds no %s.npy", name, f.Name)
			continue
		}
		if !slices.Equal(h.Descr.Shape, f.Shape) || h.Descr.Fortran || h.Major != 1 {
			t.Errorf("%s: %s: npyio reads header %v, want shape %v, C order, version 1.0", name, f.Name, h, f.Shape)
		}
		var got []float64
		if c32 {
			var v []float32
			err = r.Read(f.Name+".npy", &v)
			got = convert[float64](v)
		} else {
			err = r.Read(f.Name+".npy", &got)
		}
		if err != nil {
			t.Errorf("%s: npyio reads %s: %v", name, f.Name, err)
			continue
		}
		want := *f.Data
		if c32 {
			want = convert[float64](convert[float32](want))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: npyio reads %s = %v, want %v", name, f.Name, got, want)
		}
	}
}

// The fixtures tests_py/gen_npz_fixture.py writes with numpy 2.4.6 from
// ncps 1.0.1 torch cells (see its docstring).
const (
	fixtureNCP32    = "testdata/ltccell_ncp_f32.npz"
	fixtureAuto64Pr = "testdata/ltc_autoncp_prefixed_f64.npz"
)

// refIO reads a fixture's ref_* arrays with npyio.
func refIO[T Float](t *testing.T, path string) (x, h0, elapsed, y, h []T) {
	t.Helper()
	r, err := npz.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	get := func(name string) []T {
		var v []T
		if err := r.Read(name+".npy", &v); err != nil {
			t.Fatalf("%s: %s: %v", path, name, err)
		}
		return v
	}
	return get("ref_x"), get("ref_h0"), get("ref_elapsed"), get("ref_y"), get("ref_h")
}

// TestLoadNPZReference loads state_dicts of reference cells that numpy
// wrote and runs the cell one step on the reference's input: the output and
// new state must match the reference's. A transposed matrix, a misnamed
// array or a wrong mapping would not.
func TestLoadNPZReference(t *testing.T) {
	for _, tc := range []struct {
		path     string
		motor    int
		sh       Shape
		in, out  Mapping
		implicit bool
		tol32    float64 // float32 cell vs reference
		tol64    float64 // float64 cell vs reference
		f32      bool    // the file's dtype
	}{
		// ncps.torch.LTCCell(NCP(4, 3, 2, ...), in_features=3), float32:
		// the float64 cell computes with the same float32 values, and both
		// agree with torch's float32 arithmetic to float32 round-off.
		{fixtureNCP32, -1, Shape{9, 3, 2}, Affine, Affine, false, 1e-5, 1e-5, true},
		// ncps.torch.LTC(3, AutoNCP(9, 2), input_mapping="linear",
		// output_mapping=None).double(): motor size from the caller.
		{fixtureAuto64Pr, 2, Shape{9, 3, 2}, Linear, None, true, 1e-5, 1e-12, false},
	} {
		b, err := os.ReadFile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		check := func(prec string, tol float64, run func() (y, h, wantY, wantH []float64, err error)) {
			y, h, wy, wh, err := run()
			if err != nil {
				t.Errorf("%s %s: %v", tc.path, prec, err)
				return
			}
			if e := math.Max(relErr(y, wy), relErr(h, wh)); e > tol {
				t.Errorf("%s %s: relative error vs the reference %.3g > %g\ny %v\nwant %v", tc.path, prec, e, tol, y, wy)
			}
		}
		check("float32", tc.tol32, func() ([]float64, []float64, []float64, []float64, error) {
			return runFixture[float32](t, b, tc.path, tc.motor, tc.sh, tc.in, tc.out, tc.implicit, tc.f32)
		})
		check("float64", tc.tol64, func() ([]float64, []float64, []float64, []float64, error) {
			return runFixture[float64](t, b, tc.path, tc.motor, tc.sh, tc.in, tc.out, tc.implicit, tc.f32)
		})
	}

	// Motor size: inferred where output_w exists, required where not.
	b32, _ := os.ReadFile(fixtureNCP32)
	if _, _, _, _, err := loadNPZ[float32](b32, 3); err == nil || !strings.Contains(err.Error(), "motor size 3 but output_w has 2") {
		t.Errorf("motor 3 against output_w of 2: got %v", err)
	}
	if _, sh, _, _, err := loadNPZ[float32](b32, 2); err != nil || sh.Motor != 2 {
		t.Errorf("motor 2 against output_w of 2: got %+v, %v", sh, err)
	}
	b64, _ := os.ReadFile(fixtureAuto64Pr)
	if _, _, _, _, err := loadNPZ[float32](b64, -1); err == nil || !strings.Contains(err.Error(), "does not record the motor size") {
		t.Errorf("no output mapping, motor -1: got %v", err)
	}
	if _, _, _, _, err := loadNPZ[float32](b64, 10); err == nil || !strings.Contains(err.Error(), "motor size") {
		t.Errorf("no output mapping, motor 10 > units 9: got %v", err)
	}
}

func runFixture[T Float](t *testing.T, b []byte, path string, motor int, wantSh Shape, wantIn, wantOut Mapping,
	implicit, f32 bool) (y, h, wantY, wantH []float64, err error) {
	p, sh, in, out, err := loadNPZ[T](b, motor)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if sh != wantSh || in != wantIn || out != wantOut {
		return nil, nil, nil, nil, fmt.Errorf("got shape %+v, mappings %v-%v; want %+v, %v-%v", sh, in, out, wantSh, wantIn, wantOut)
	}
	o := Options{InputMapping: in, OutputMapping: out, ODEUnfolds: 6, Epsilon: 1e-8, ImplicitConstraints: implicit}
	c, err := NewCell(sh, o, p)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var x, h0, el, ry, rh []float64
	if f32 {
		var xs, h0s, els, rys, rhs []float32
		xs, h0s, els, rys, rhs = refIO[float32](t, path)
		x, h0, el, ry, rh = convert[float64](xs), convert[float64](h0s), convert[float64](els), convert[float64](rys), convert[float64](rhs)
	} else {
		x, h0, el, ry, rh = refIO[float64](t, path)
	}
	seq := Sequence[T]{Batch: 2, Steps: 1, X: convert[T](x), H0: convert[T](h0), Elapsed: convert[T](el)}
	yt, ht := make([]T, 2*sh.Motor), make([]T, 2*sh.Units)
	var ws Workspace[T]
	if err := c.Forward(&ws, seq, Output[T]{Y: yt, H: ht}, false); err != nil {
		return nil, nil, nil, nil, err
	}
	return convert[float64](yt), convert[float64](ht), ry, rh, nil
}

// TestSaveNPZMatchesNumpy saves the parameters of the numpy-written float32
// fixture back: every .npy entry must be byte for byte what numpy's
// np.lib.format.write_array wrote (header, 64-byte padding, payload).
func TestSaveNPZMatchesNumpy(t *testing.T) {
	b, err := os.ReadFile(fixtureNCP32)
	if err != nil {
		t.Fatal(err)
	}
	p, sh, in, out, err := loadNPZ[float32](b, -1)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := SaveNPZ(&buf, p, sh, in, out); err != nil {
		t.Fatal(err)
	}
	want, got := zipEntries(t, b), zipEntries(t, buf.Bytes())
	for _, f := range p.Fields(sh, in, out) {
		name := f.Name + ".npy"
		if !bytes.Equal(got[name], want[name]) {
			t.Errorf("%s: SaveNPZ wrote\n%q\nnumpy wrote\n%q", name, got[name], want[name])
		}
	}
}

func zipEntries(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		m[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// entry is one archive member.
type entry struct {
	name string
	data []byte
}

// buildZip writes entries as a stored zip archive with correct checksums,
// so that only the .npy contents can be wrong.
func buildZip(t testing.TB, entries []entry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: zip.Store, CRC32: crc32.ChecksumIEEE(e.data),
			CompressedSize64: uint64(len(e.data)), UncompressedSize64: uint64(len(e.data))})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// archiveEntries lists the members of an archive SaveNPZ wrote, in order.
func archiveEntries(t testing.TB, b []byte) []entry {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var es []entry
	for _, f := range zr.File {
		rc, _ := f.Open()
		d, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, entry{f.Name, d})
	}
	return es
}

// npyRaw builds a .npy entry from a header dictionary (padded as numpy pads
// it, unless raw) and a payload.
func npyRaw(major byte, dict string, payload []byte) []byte {
	b := []byte("\x93NUMPY")
	b = append(b, major, 0)
	pre := 10
	if major != 1 {
		pre = 12
	}
	pad := 63 - (pre+len(dict)+1+63)%64
	hdr := dict + strings.Repeat(" ", pad) + "\n"
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(hdr)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(hdr)))
	}
	b = append(b, hdr...)
	return append(b, payload...)
}

func f32Payload(v []float64, order binary.AppendByteOrder) []byte {
	var b []byte
	for _, x := range v {
		b = order.AppendUint32(b, math.Float32bits(float32(x)))
	}
	return b
}

// TestLoadNPZErrors edits one member of a valid archive at a time (with
// correct zip checksums, so that LoadNPZ's own checks are what answer) and
// checks the error names the array and, for shapes, the shape expected. A
// few edits are valid (other byte order, Fortran order, format 2.0) and
// must load the same values.
func TestLoadNPZErrors(t *testing.T) {
	c := npzCell(t, "random", Affine, Affine, 3) // 7 units, 3 inputs, 3 outputs
	good := archiveEntries(t, saveNPZ(t, cellAs[float32](c)))
	u := c.Shape.Units
	ww := c.Params.W
	header := func(descr, fortran, shape string) string {
		return fmt.Sprintf("{'descr': %s, 'fortran_order': %s, 'shape': %s, }", descr, fortran, shape)
	}
	wShape := fmt.Sprintf("(%d, %d)", u, u)
	transpose := func(v []float64, rows, cols int) []float64 {
		out := make([]float64, len(v))
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				out[j*rows+i] = v[i*cols+j]
			}
		}
		return out
	}
	type edit struct {
		name string
		// member to replace (new data) or drop (nil data); "" adds nothing
		member string
		data   []byte
		also   []entry // further members to replace
		add    []entry
		want   []string // substrings of the error; nil: must load
	}
	le := binary.LittleEndian
	wPayload := f32Payload(ww, le)
	cases := []edit{
		{name: "valid"},
		{name: "big-endian w", member: "w.npy", data: npyRaw(1, header("'>f4'", "False", wShape), f32Payload(ww, binary.BigEndian))},
		{name: "Fortran-order w", member: "w.npy", data: npyRaw(1, header("'<f4'", "True", wShape), f32Payload(transpose(ww, u, u), le))},
		{name: "format 2.0 w", member: "w.npy", data: npyRaw(2, header("'<f4'", "False", wShape), wPayload)},
		{name: "format 3.0 w, double quotes, no trailing comma", member: "w.npy",
			data: npyRaw(3, fmt.Sprintf(`{"descr": "<f4", "shape": %s, "fortran_order": False}`, wShape), wPayload)},
		{name: "extra unknown member", add: []entry{{"notes.txt", []byte("hi")}, {"extra.npy", []byte("junk")}}},

		{name: "missing gleak", member: "gleak.npy", want: []string{"missing array gleak"}},
		{name: "missing sensory_w", member: "sensory_w.npy", want: []string{"missing array sensory_w"}},
		{name: "missing mask", member: "sensory_sparsity_mask.npy", want: []string{"missing arrays sensory_sparsity_mask"}},
		{name: "missing erev", member: "erev.npy", want: []string{"missing arrays erev"}},
		{name: "input_b without input_w", member: "input_w.npy", want: []string{"input_b but not input_w"}},
		{name: "output_b without output_w", member: "output_w.npy", want: []string{"output_b but not output_w"}},
		{name: "w (7, 6)", member: "w.npy", data: npyRaw(1, header("'<f4'", "False", fmt.Sprintf("(%d, %d)", u, u-1)), wPayload[:4*u*(u-1)]),
			want: []string{"array w", "must have shape (7, 7), got (7, 6)"}},
		{name: "w 1-D", member: "w.npy", data: npyRaw(1, header("'<f4'", "False", "(49,)"), wPayload),
			want: []string{"array w", "must have shape (7, 7), got (49,)"}},
		{name: "gleak 2-D", member: "gleak.npy", data: npyRaw(1, header("'<f4'", "False", "(7, 1)"), wPayload[:28]),
			want: []string{"array gleak must have shape (units,)", "got (7, 1)"}},
		{name: "gleak empty", member: "gleak.npy", data: npyRaw(1, header("'<f4'", "False", "(0,)"), nil),
			want: []string{"array gleak must have shape (units,) with units >= 1, got (0,)"}},
		{name: "sensory_w columns", member: "sensory_w.npy", data: npyRaw(1, header("'<f4'", "False", "(3, 6)"), wPayload[:72]),
			want: []string{"array sensory_w must have shape (sensory, units=7)", "got (3, 6)"}},
		{name: "output_w 2-D", member: "output_w.npy", data: npyRaw(1, header("'<f4'", "False", "(3, 1)"), wPayload[:12]),
			want: []string{"array output_w must have shape (motor,), got (3, 1)"}},
		{name: "output_b (2,)", member: "output_b.npy", data: npyRaw(1, header("'<f4'", "False", "(2,)"), wPayload[:8]),
			want: []string{"array output_b", "must have shape (3,), got (2,)"}},
		{name: "output_w (8,) > units", member: "output_w.npy", data: npyRaw(1, header("'<f4'", "False", "(8,)"), wPayload[:32]),
			want: []string{"motor size", "got 8"}},
		{name: "int dtype", member: "w.npy", data: npyRaw(1, header("'<i4'", "False", wShape), wPayload),
			want: []string{"array w", `dtype "<i4"`, "float32 or float64"}},
		{name: "float16 dtype", member: "mu.npy", data: npyRaw(1, header("'<f2'", "False", wShape), wPayload[:2*u*u]),
			want: []string{"array mu", `dtype "<f2"`}},
		{name: "bool dtype", member: "sparsity_mask.npy", data: npyRaw(1, header("'|b1'", "False", wShape), wPayload[:u*u]),
			want: []string{"array sparsity_mask", `dtype "|b1"`}},
		{name: "structured dtype", member: "w.npy", data: npyRaw(1, header("[('a', '<f4')]", "False", wShape), wPayload),
			want: []string{"array w", "malformed .npy header"}},
		{name: "truncated payload", member: "w.npy", data: npyRaw(1, header("'<f4'", "False", wShape), wPayload[:4*u*u-1]),
			want: []string{"array w", "truncated payload"}},
		{name: "long payload", member: "w.npy", data: npyRaw(1, header("'<f4'", "False", wShape), append(slices.Clone(wPayload), 0, 0, 0, 0)),
			want: []string{"array w", "payload is longer than the 49 values of shape (7, 7)"}},
		{name: "header claims (7, 70000)", member: "sigma.npy", data: npyRaw(1, header("'<f4'", "False", "(7, 70000)"), wPayload),
			want: []string{"array sigma", "must have shape (7, 7), got (7, 70000)"}},
		{name: "gleak claims 2**31-1 units", member: "gleak.npy", data: npyRaw(1, header("'<f4'", "False", "(2147483647,)"), wPayload),
			want: []string{"array sensory_w must have shape (sensory, units=2147483647)", "got (3, 7)"}},
		{name: "2000000 units", member: "gleak.npy", data: npyRaw(1, header("'<f4'", "False", "(2000000,)"), wPayload),
			also: []entry{{"sensory_w.npy", npyRaw(1, header("'<f4'", "False", "(3, 2000000)"), wPayload)}},
			want: []string{"2000000 units and 3 input features: LoadNPZ accepts at most 1048576"}},
		{name: "2000000 input features", member: "sensory_w.npy", data: npyRaw(1, header("'<f4'", "False", "(2000000, 7)"), wPayload),
			want: []string{"7 units and 2000000 input features"}},
		{name: "huge shape entry", member: "w.npy", data: npyRaw(1, header("'<f4'", "False", "(99999999999999999999, 7)"), wPayload),
			want: []string{"array w", "out of range"}},
		{name: "negative shape", member: "w.npy", data: npyRaw(1, header("'<f4'", "False", "(-7, 7)"), wPayload),
			want: []string{"array w", "malformed .npy header"}},
		{name: "bad magic", member: "w.npy", data: append([]byte("\x93NUMPX"), npyRaw(1, header("'<f4'", "False", wShape), wPayload)[6:]...),
			want: []string{"array w", "bad magic"}},
		{name: "version 4", member: "w.npy", data: npyRaw(4, header("'<f4'", "False", wShape), wPayload),
			want: []string{"array w", "unsupported .npy format version 4.0"}},
		{name: "empty member", member: "w.npy", data: []byte{}, want: []string{"array w", "truncated .npy header"}},
		{name: "header length beyond the member", member: "gleak.npy", data: []byte("\x93NUMPY\x01\x00\xff\x7f{'descr'"),
			want: []string{"array gleak", "truncated .npy header (32767 bytes announced)"}},
		{name: "format 2 header of 1 GiB", member: "w.npy", data: []byte("\x93NUMPY\x02\x00\x00\x00\x00\x40{"),
			want: []string{"array w", "longer than"}},
		{name: "missing key", member: "w.npy", data: npyRaw(1, fmt.Sprintf("{'descr': '<f4', 'shape': %s}", wShape), wPayload),
			want: []string{"array w", "got 2 keys"}},
		{name: "extra key", member: "w.npy", data: npyRaw(1, fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': %s, 'x': 1}", wShape), wPayload),
			want: []string{"array w", "got 4 keys"}},
		{name: "repeated key", member: "w.npy", data: npyRaw(1, fmt.Sprintf("{'descr': '<f4', 'descr': '<f4', 'shape': %s}", wShape), wPayload),
			want: []string{"array w", `key "descr" repeated`}},
		{name: "renamed key", member: "w.npy", data: npyRaw(1, header("'<f4'", "False", wShape)[:2]+"dtype"+header("'<f4'", "False", wShape)[7:], wPayload),
			want: []string{"array w", "'descr' is missing"}},
		{name: "fortran_order not bool", member: "w.npy", data: npyRaw(1, header("'<f4'", "'no'", wShape), wPayload),
			want: []string{"array w", "'fortran_order' is missing or not True/False"}},
		{name: "shape not a tuple", member: "w.npy", data: npyRaw(1, header("'<f4'", "False", "49"), wPayload),
			want: []string{"array w", "'shape' is missing or not a tuple"}},
		{name: "shape of strings", member: "w.npy", data: npyRaw(1, header("'<f4'", "False", "('7', '7')"), wPayload),
			want: []string{"array w", "shape entry is not an integer"}},
		{name: "unterminated string", member: "w.npy", data: npyRaw(1, "{'descr: '<f4}", wPayload),
			want: []string{"array w", "malformed"}},
		{name: "unclosed dictionary", member: "w.npy", data: npyRaw(1, "{'descr': '<f4', 'fortran_order': False", wPayload),
			want: []string{"array w", "malformed"}},
		{name: "unclosed tuple", member: "w.npy", data: npyRaw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (7, 7}", wPayload),
			want: []string{"array w", "malformed"}},
		{name: "not a dictionary", member: "w.npy", data: npyRaw(1, "(7, 7)", wPayload),
			want: []string{"array w", "not a dictionary"}},
		{name: "nested too deeply", member: "w.npy", data: npyRaw(1, "{'a': {'b': {'c': {'d': {'e': 1}}}}}", wPayload),
			want: []string{"array w", "nested too deeply"}},
		{name: "trailing garbage", member: "w.npy", data: npyRaw(1, header("'<f4'", "False", wShape)+"x", wPayload),
			want: []string{"array w", "after the dictionary"}},
		{name: "escaped string", member: "w.npy", data: npyRaw(1, header(`'<f\4'`, "False", wShape), wPayload),
			want: []string{"array w", "escapes"}},
		{name: "two parameter sets", add: []entry{{"other.gleak.npy", good[0].data}},
			want: []string{"several parameter sets", `["" "other."]`}},
		{name: "repeated member", add: []entry{{"w.npy", good[5].data}}, want: []string{`"w.npy" twice`}},
	}
	for _, tc := range cases {
		repl := map[string][]byte{tc.member: tc.data}
		for _, e := range tc.also {
			repl[e.name] = e.data
		}
		var es []entry
		for _, e := range good {
			if d, ok := repl[e.name]; ok {
				if d == nil {
					continue
				}
				e.data = d
			}
			es = append(es, e)
		}
		es = append(es, tc.add...)
		b := buildZip(t, es)
		for _, f64 := range []bool{false, true} {
			var (
				err error
				p   *Params[float64]
			)
			if f64 {
				p, _, _, _, err = loadNPZ[float64](b, -1)
			} else {
				var p32 *Params[float32]
				p32, _, _, _, err = loadNPZ[float32](b, -1)
				if p32 != nil {
					p = paramsAs[float64](p32)
				}
			}
			if tc.want == nil {
				if err != nil {
					t.Errorf("%s: %v", tc.name, err)
				} else if err := equalParams(p, paramsAs[float32](c.Params)); err != nil {
					t.Errorf("%s: %v", tc.name, err)
				}
				continue
			}
			wantErr(t, tc.name, err, append([]string{"core: "}, tc.want...)...)
			if p != nil {
				t.Errorf("%s: got parameters along with the error", tc.name)
			}
		}
	}

	// Not a zip archive at all, and a prefix-less name that merely ends in
	// "gleak".
	for _, b := range [][]byte{nil, []byte("PK\x03\x04 not really"), npyRaw(1, header("'<f4'", "False", "(7,)"), wPayload[:28])} {
		_, _, _, _, err := loadNPZ[float32](b, -1)
		wantErr(t, "not a zip", err, "not a readable zip archive")
	}
	es := slices.Clone(good)
	es[0].name = "xgleak.npy"
	_, _, _, _, err := loadNPZ[float32](buildZip(t, es), -1)
	wantErr(t, "xgleak", err, "missing array gleak")
}

// TestLoadNPZCorrupted damages whole archives, SaveNPZ's and numpy's
// (stored and deflated): truncated at every offset, and with every byte
// flipped in turn. LoadNPZ must never panic; a truncated archive is always
// an error (the zip directory sits at its end); a flipped byte is an error
// unless it lands where nothing is checked (a timestamp, say), and then the
// parameters must still fit their shape. The .npy headers themselves are
// damaged byte by byte with valid checksums too, where the zip checksum
// cannot catch it. With -short, every 7th offset only.
func TestLoadNPZCorrupted(t *testing.T) {
	archives := map[string][]byte{"SaveNPZ": saveNPZ(t, cellAs[float32](npzCell(t, "ncp", Affine, Linear, 5)))}
	for _, path := range []string{fixtureNCP32, fixtureAuto64Pr} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		archives[path] = b
	}
	load := func(name string, b []byte) error {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s: LoadNPZ panicked: %v", name, r)
			}
		}()
		p, sh, in, out, err := loadNPZ[float32](b, 2)
		if err == nil {
			if err := p.Check(sh, in, out); err != nil {
				t.Errorf("%s: LoadNPZ returned parameters that do not fit: %v", name, err)
			}
		}
		return err
	}
	stride := 1
	if testing.Short() {
		stride = 7
	}
	for name, b := range archives {
		if err := load(name, b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for n := 0; n < len(b); n += stride {
			if load(name, b[:n]) == nil {
				t.Errorf("%s truncated to %d of %d bytes: got no error", name, n, len(b))
			}
		}
		loaded := 0
		for i := 0; i < len(b); i += stride {
			c := slices.Clone(b)
			c[i] ^= 0xff
			if load(name, c) == nil {
				loaded++
			}
		}
		t.Logf("%s: %d bytes; %d single-byte flips still load", name, len(b), loaded)
	}
	// Header bytes, with valid checksums.
	good := archiveEntries(t, archives["SaveNPZ"])
	for i, e := range good {
		hlen := 10 + int(binary.LittleEndian.Uint16(e.data[8:]))
		for j := 0; j < hlen; j += stride {
			for _, x := range []byte{0xff, 0x01, ' ' ^ e.data[j]} {
				es := slices.Clone(good)
				d := slices.Clone(e.data)
				d[j] ^= x
				es[i].data = d
				load(fmt.Sprintf("%s header byte %d ^ %#x", e.name, j, x), buildZip(t, es))
			}
		}
	}
}

// TestSaveNPZErrors: parameters that do not fit the shape are refused with
// the parameter's name, and a failing writer's error comes back.
func TestSaveNPZErrors(t *testing.T) {
	c := npzCell(t, "fully_connected", Affine, Affine, 7)
	p := c.Params.Clone()
	p.Mu = p.Mu[1:]
	err := SaveNPZ(io.Discard, p, c.Shape, Affine, Affine)
	wantErr(t, "short mu", err, "parameter mu")
	err = SaveNPZ(io.Discard, c.Params, c.Shape, Affine, None)
	wantErr(t, "unused output_w", err, "output_w")
	err = SaveNPZ(io.Discard, c.Params, Shape{0, 3, 2}, Affine, Affine)
	wantErr(t, "zero units", err, "units")
	boom := errors.New("disk full")
	for n := 0; n < 3000; n += 97 {
		err = SaveNPZ(&failingWriter{n: n, err: boom}, c.Params, c.Shape, Affine, Affine)
		if !errors.Is(err, boom) {
			t.Errorf("writer failing after %d bytes: got %v, want %v", n, err, boom)
		}
	}
}

type failingWriter struct {
	n   int
	err error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, w.err
	}
	w.n -= len(p)
	return len(p), nil
}

// fuzzSeeds are valid archives of several kinds.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	seeds = append(seeds, saveNPZ(f, cellAs[float32](npzCell(f, "ncp", Affine, Affine, 1))))
	seeds = append(seeds, saveNPZ(f, npzCell(f, "custom", Linear, None, 2)))
	for _, path := range []string{fixtureNCP32, fixtureAuto64Pr} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// checkLoad is the fuzz targets' property: LoadNPZ does not panic, and what
// it accepts fits its shape and saves and loads back unchanged.
func checkLoad[T Float](t *testing.T, b []byte) {
	p, sh, in, out, err := loadNPZ[T](b, 2)
	if err != nil {
		if p != nil {
			t.Fatalf("parameters along with error %v", err)
		}
		return
	}
	if err := p.Check(sh, in, out); err != nil {
		t.Fatalf("accepted parameters do not fit: %v", err)
	}
	var buf bytes.Buffer
	if err := SaveNPZ(&buf, p, sh, in, out); err != nil {
		t.Fatalf("SaveNPZ of accepted parameters: %v", err)
	}
	q, sh2, in2, out2, err := loadNPZ[T](buf.Bytes(), motorArg(sh, out))
	if err != nil || sh2 != sh || in2 != in || out2 != out {
		t.Fatalf("reload: %+v %v %v, %v", sh2, in2, out2, err)
	}
	if err := equalParams(q, p); err != nil {
		t.Fatalf("reload: %v", err)
	}
}

// FuzzLoadNPZ feeds LoadNPZ whole archives.
func FuzzLoadNPZ(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkLoad[float32](t, b)
		checkLoad[float64](t, b)
	})
}

// FuzzLoadNPZMember puts the fuzzed bytes in place of one member of a
// valid archive, with a valid zip checksum, so that the fuzzer works on the
// .npy parsing rather than against the checksum.
func FuzzLoadNPZMember(f *testing.F) {
	good := archiveEntries(f, fuzzSeeds(f)[0])
	for i, e := range good {
		f.Add(uint8(i), e.data)
	}
	f.Fuzz(func(t *testing.T, which uint8, member []byte) {
		es := slices.Clone(good)
		es[int(which)%len(es)].data = member
		b := buildZip(t, es)
		checkLoad[float32](t, b)
		checkLoad[float64](t, b)
	})
}

// BenchmarkNPZ saves and loads the parameters of a 256-neuron fully
// connected cell (the size of benchmark configuration D).
func BenchmarkNPZ(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	sh := Shape{Units: 256, Sensory: 64, Motor: 16}
	p := Alloc[float32](sh, Affine, Affine)
	for _, f := range p.Fields(sh, Affine, Affine) {
		for i := range *f.Data {
			(*f.Data)[i] = float32(rng.Float64())
		}
	}
	var buf bytes.Buffer
	b.Run("Save", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := SaveNPZ(&buf, p, sh, Affine, Affine); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(buf.Len()))
	})
	data := buf.Bytes()
	b.Run("Load", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, _, _, _, err := loadNPZ[float32](data, -1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
