package wiring

import (
	"math/rand/v2"

	"github.com/kerasncp-go/kerasncp-go/wiring/internal/nprand"
)

// numpySource feeds math/rand/v2 so that Rand.Float64 draws what
// numpy.random.default_rng(seed).random() draws: rand.Float64 keeps the low
// 53 bits of Uint64, numpy keeps the high 53 bits of its output, so the
// source hands out the output shifted right by 11.
type numpySource struct{ g *nprand.Generator }

func (s numpySource) Uint64() uint64 { return s.g.Uint64() >> 11 }

// NumpySource returns a math/rand/v2 Source for which rand.New(src).Float64()
// gives, draw for draw, numpy.random.default_rng(seed).random(), so that
// lo + Float64()*(hi-lo) is default_rng(seed).uniform(lo, hi) bit for bit.
// core.Init with it initialises a cell as the NumPy kerasncp_go.LTCCell
// does for the same seed. Only Float64 follows numpy; the other methods of
// rand.Rand draw from the same stream but not as numpy would.
func NumpySource(seed uint64) rand.Source { return numpySource{nprand.NewGenerator(seed)} }
