package npz

import (
	"bytes"
	"testing"

	"codeberg.org/sbinet/npyio"
)

// The measurement behind the package's choice to read and write .npy
// itself (see doc.go): the same 1-D float32 array of 1<<20 values through
// this package and through npyio.

func benchData() []float32 {
	d := make([]float32, 1<<20)
	for i := range d {
		d[i] = float32(i) * 0.5
	}
	return d
}

func BenchmarkWriteNPY(b *testing.B) {
	d := benchData()
	b.Run("npz", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(4 * len(d)))
		var buf []byte
		for b.Loop() {
			buf = AppendNPY(buf[:0], d, []int{len(d)})
		}
	})
	b.Run("npyio", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(4 * len(d)))
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			if err := npyio.Write(&buf, d); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkReadNPY(b *testing.B) {
	enc := EncodeNPY(benchData(), []int{1 << 20})
	b.Run("npz", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			if _, _, err := DecodeNPY[float32](enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("npz-to-float64", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			if _, _, err := DecodeNPY[float64](enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("npyio", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			var d []float32
			if err := npyio.Read(bytes.NewReader(enc), &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
