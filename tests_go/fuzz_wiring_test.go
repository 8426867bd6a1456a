package tests_go

import (
	"encoding/binary"
	"testing"

	"github.com/kerasncp-go/kerasncp-go/internal/fuzzcorpus"
	d "github.com/kerasncp-go/kerasncp-go/tests_go/capidriver"
)

// fromMatricesSeeds: a valid 3-unit wiring with inputs, an empty one, a
// bad polarity; testdata/fuzz/FuzzWiringFromMatrices holds them.
var fromMatricesSeeds = [][]any{
	{uint8(3), uint8(2), int8(1), []byte{1, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0}},
	{uint8(1), uint8(0), int8(0), []byte{}},
	{uint8(4), uint8(1), int8(-1), []byte{2, 0, 0, 0}},
}

func TestFromMatricesSeedCorpus(t *testing.T) {
	fuzzcorpus.Check(t, "FuzzWiringFromMatrices", fromMatricesSeeds)
}

// FuzzWiringFromMatrices: kncp_wiring_from_matrices never panics on any
// sizes and matrix entries (buffers always as long as the sizes say, as the
// C contract requires), accepts only polarities -1, 0 and 1, and leaks no
// handle.
func FuzzWiringFromMatrices(f *testing.F) {
	for _, s := range fromMatricesSeeds {
		f.Add(s[0].(uint8), s[1].(uint8), s[2].(int8), s[3].([]byte))
	}
	f.Fuzz(func(t *testing.T, units, inputDim uint8, outputDim int8, data []byte) {
		u, s := int(units%32), int(inputDim%8)
		vals := make([]int32, u*u+s*u)
		for i := range vals {
			if 4*i+4 <= len(data) {
				vals[i] = int32(binary.LittleEndian.Uint32(data[4*i:]))
			}
		}
		adj, sens := vals[:u*u], vals[u*u:]
		if s == 0 {
			sens = nil
		}
		before := d.LiveHandles()
		h, r := d.WiringFromMatrices(int64(u), int64(s), int64(outputDim), adj, sens)
		if r.Code == d.Internal {
			t.Fatalf("internal error: %s", r.Msg)
		}
		if r.Code == d.OK {
			for _, v := range vals {
				if v < -1 || v > 1 {
					t.Fatalf("accepted polarity %d", v)
				}
			}
			d.WiringFree(h)
		}
		if after := d.LiveHandles(); after != before {
			t.Fatalf("%d handles leaked", after-before)
		}
	})
}
