package npz

import (
	"bytes"
	"testing"

	"github.com/kerasncp-go/kerasncp-go/internal/fuzzcorpus"
)

// npySeeds are valid and nearly valid .npy arrays of every dtype and layout.
func npySeeds() [][]byte {
	hdr := func(descr, fortran, shape string) string {
		return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }"
	}
	six := make([]byte, 48)
	for i := range six {
		six[i] = byte(i * 7)
	}
	return [][]byte{
		EncodeNPY([]float32{1, 2, 3, 4, 5, 6}, []int{2, 3}),
		EncodeNPY([]float64{-1, 0.5}, []int{2}),
		EncodeNPY([]int32{7, -7, 0}, []int{3, 1}),
		EncodeNPY([]int64{1 << 40}, []int{}),
		EncodeNPY([]float32{}, []int{0, 3}),
		npyRaw(hdr(">f8", "True", "(3, 2)"), six),
		npyRaw(`{"descr": ">i4", "shape": (2, 3L), "fortran_order": False}`, six[:24]),
		npyRaw(hdr("<f4", "False", "(2147483647, 2147483647)"), six),
		npyRaw(hdr("|b1", "False", "(6,)"), six[:6]),
	}
}

// archiveSeeds are archives: stored and deflated members, several dtypes.
func archiveSeeds(t testing.TB) [][]byte {
	s := npySeeds()
	return [][]byte{
		buildZip(t, member{"a.npy", s[0], false}, member{"b.npy", s[1], true}, member{"c.npy", s[2], false}),
		buildZip(t, member{"x.npy", s[5], true}, member{"notes.txt", []byte("hi"), false}, member{"y.npy", s[6], false}),
		buildZip(t, member{"big.npy", s[7], true}),
	}
}

func TestSeedCorpus(t *testing.T) {
	var d, a [][]any
	for _, s := range npySeeds() {
		d = append(d, []any{s})
	}
	for _, s := range archiveSeeds(t) {
		a = append(a, []any{s})
	}
	fuzzcorpus.Check(t, "FuzzDecodeNPY", d)
	fuzzcorpus.Check(t, "FuzzReader", a)
}

// checkDecoded is the fuzz property of a decoded array: as many values as
// its shape holds, and they encode and decode back to themselves.
func checkDecoded[T Elem](t *testing.T, d []T, shape []int) {
	h := Header{Shape: shape}
	if h.Len() != len(d) {
		t.Fatalf("%d values for shape %v", len(d), shape)
	}
	e, s, err := DecodeNPY[T](EncodeNPY(d, shape))
	if err != nil || !equalInts(s, shape) || !bytes.Equal(EncodeNPY(e, s), EncodeNPY(d, shape)) {
		t.Fatalf("re-encoding changes the array: %v", err)
	}
}

// FuzzDecodeNPY: DecodeNPY never panics, and what it accepts is consistent.
func FuzzDecodeNPY(f *testing.F) {
	for _, s := range npySeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, s, err := DecodeNPY[float32](b); err == nil {
			checkDecoded(t, d, s)
		}
		if d, s, err := DecodeNPY[int64](b); err == nil {
			checkDecoded(t, d, s)
		}
	})
}

// FuzzReader: reading every array of an archive never panics and never
// allocates past the reader's limit.
func FuzzReader(f *testing.F) {
	for _, s := range archiveSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 1 << 16
		r, err := NewReader(bytes.NewReader(b), int64(len(b)), limit)
		if err != nil {
			return
		}
		total := 0
		for _, name := range r.Names() {
			if d, s, err := Read[float64](r, name, nil); err == nil {
				checkDecoded(t, d, s)
				total += 8 * len(d)
			}
			if d, s, err := Read[int32](r, name, nil); err == nil {
				checkDecoded(t, d, s)
				total += 4 * len(d)
			}
		}
		if total > limit {
			t.Fatalf("read %d bytes of arrays past the limit of %d", total, limit)
		}
	})
}
