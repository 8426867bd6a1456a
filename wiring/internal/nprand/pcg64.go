package nprand

import (
	"math/bits"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

// SeedSequence constants (numpy/random/bit_generator.pyx).
const (
	ssInitA    = 0x43b0d7e5
	ssMultA    = 0x931e8875
	ssInitB    = 0x8b51f9dd
	ssMultB    = 0x58f38ded
	ssMixMultL = 0xca01f9dd
	ssMixMultR = 0x4973f715
	ssXShift   = 16
	ssPoolSize = 4
)

// SeedSequence is numpy.random.SeedSequence(entropy) for a non-negative
// integer entropy and no spawn key.
type SeedSequence struct {
	pool [ssPoolSize]uint32
}

// NewSeedSequence mixes entropy into a pool as numpy does. The integer is
// split into 32-bit words, least significant first (0 gives one zero word).
func NewSeedSequence(entropy uint64) *SeedSequence {
	words := []uint32{uint32(entropy)}
	if hi := uint32(entropy >> 32); hi != 0 {
		words = append(words, hi)
	}
	s := &SeedSequence{}
	h := uint32(ssInitA)
	hashmix := func(v uint32) uint32 {
		v ^= h
		h *= ssMultA
		v *= h
		v ^= v >> ssXShift
		return v
	}
	mix := func(x, y uint32) uint32 {
		r := ssMixMultL*x - ssMixMultR*y
		return r ^ r>>ssXShift
	}
	for i := range s.pool {
		var e uint32
		if i < len(words) {
			e = words[i]
		}
		s.pool[i] = hashmix(e)
	}
	for src := range s.pool {
		for dst := range s.pool {
			if src != dst {
				s.pool[dst] = mix(s.pool[dst], hashmix(s.pool[src]))
			}
		}
	}
	for _, e := range words[min(len(words), ssPoolSize):] {
		for dst := range s.pool {
			s.pool[dst] = mix(s.pool[dst], hashmix(e))
		}
	}
	return s
}

// GenerateState64 returns SeedSequence.generate_state(n, np.uint64): 2n
// 32-bit words paired little-endian.
func (s *SeedSequence) GenerateState64(n int) []uint64 {
	out := make([]uint64, n)
	h := uint32(ssInitB)
	word := func(i int) uint32 {
		v := s.pool[i%ssPoolSize] ^ h
		h *= ssMultB
		v *= h
		return v ^ v>>ssXShift
	}
	for k := range out {
		lo := word(2 * k)
		hi := word(2*k + 1)
		out[k] = uint64(lo) | uint64(hi)<<32
	}
	return out
}

// PCG64 multiplier, 2549297995355413924 * 2**64 + 4865540595714422341.
const (
	pcgMulHi = 2549297995355413924
	pcgMulLo = 4865540595714422341
)

// Generator is numpy.random.Generator(PCG64(seed)), the object
// numpy.random.default_rng(seed) returns.
type Generator struct {
	stateHi, stateLo uint64
	incHi, incLo     uint64
	hasHalf          bool
	half             uint32
}

// NewGenerator returns the state numpy.random.default_rng(seed) starts in.
func NewGenerator(seed uint64) *Generator {
	st := NewSeedSequence(seed).GenerateState64(4)
	g := &Generator{}
	// initseq = st[2]<<64 | st[3]; inc = initseq<<1 | 1.
	g.incHi = st[2]<<1 | st[3]>>63
	g.incLo = st[3]<<1 | 1
	g.step()
	var c uint64
	g.stateLo, c = bits.Add64(g.stateLo, st[1], 0)
	g.stateHi, _ = bits.Add64(g.stateHi, st[0], c)
	g.step()
	return g
}

// step advances the LCG: state = state*mul + inc (mod 2**128).
func (g *Generator) step() {
	hi, lo := bits.Mul64(g.stateLo, pcgMulLo)
	hi += g.stateHi*pcgMulLo + g.stateLo*pcgMulHi
	var c uint64
	g.stateLo, c = bits.Add64(lo, g.incLo, 0)
	g.stateHi, _ = bits.Add64(hi, g.incHi, c)
}

// State returns the 128-bit LCG state and increment as (hi, lo) pairs.
func (g *Generator) State() (stateHi, stateLo, incHi, incLo uint64) {
	return g.stateHi, g.stateLo, g.incHi, g.incLo
}

// Uint64 returns the next XSL-RR output.
func (g *Generator) Uint64() uint64 {
	g.step()
	return bits.RotateLeft64(g.stateHi^g.stateLo, -int(g.stateHi>>58))
}

// Uint32 returns the next 32-bit output. Like numpy, it splits one 64-bit
// output into two halves, low half first, and keeps the high half for the
// next call, whichever API call that is.
func (g *Generator) Uint32() uint32 {
	if g.hasHalf {
		g.hasHalf = false
		return g.half
	}
	v := g.Uint64()
	g.hasHalf = true
	g.half = uint32(v >> 32)
	return uint32(v)
}

// Bounded returns a uniform integer in [0, r] by Lemire's multiply-shift
// method, as numpy's random_bounded_uint64 does with use_masked false. It
// draws nothing when r is 0.
func (g *Generator) Bounded(r uint64) uint64 {
	switch {
	case r == 0:
		return 0
	case r == 0xffffffff:
		return uint64(g.Uint32())
	case r < 0xffffffff:
		excl := r + 1
		m := uint64(g.Uint32()) * excl
		if left := m & 0xffffffff; left < excl {
			thr := (0xffffffff - r) % excl
			for left < thr {
				m = uint64(g.Uint32()) * excl
				left = m & 0xffffffff
			}
		}
		return m >> 32
	case r == ^uint64(0):
		return g.Uint64()
	}
	excl := r + 1
	hi, lo := bits.Mul64(g.Uint64(), excl)
	if lo < excl {
		thr := (^uint64(0) - r) % excl
		for lo < thr {
			hi, lo = bits.Mul64(g.Uint64(), excl)
		}
	}
	return hi
}

// Integers returns Generator.integers(0, n) for n >= 1. It panics if n < 1.
func (g *Generator) Integers(n int) int {
	if n < 1 {
		panic("nprand: Integers with n < 1")
	}
	return int(g.Bounded(uint64(n - 1)))
}

// ChoiceWithoutReplacement returns the indices Generator.choice(n, k,
// replace=False) selects, in order. For large populations (n > 10000) that
// take more than n/50 samples numpy shuffles the tail of 0..n-1; otherwise it
// runs Floyd's algorithm and shuffles the k results. It panics if k < 0 or
// k > n.
func (g *Generator) ChoiceWithoutReplacement(n, k int) []int {
	if k < 0 || k > n {
		panic("nprand: ChoiceWithoutReplacement with k outside [0, n]")
	}
	if n > 10000 && k > n/50 {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		g.shuffleFrom(idx, max(n-k, 1))
		return idx[n-k:]
	}
	out := make([]int, k)
	seen := make(map[int]struct{}, k)
	for j := n - k; j < n; j++ {
		v := int(g.Bounded(uint64(j)))
		if _, dup := seen[v]; dup {
			v = j
		}
		seen[v] = struct{}{}
		out[j-n+k] = v
	}
	g.shuffleFrom(out, 1)
	return out
}

// shuffleFrom swaps a[i] with a[Bounded(i)] for i from len(a)-1 down to
// first, numpy's _shuffle_int.
func (g *Generator) shuffleFrom(a []int, first int) {
	for i := len(a) - 1; i >= first; i-- {
		if i%(1<<16) == 0 && machine.Interrupted() {
			return // the caller sees machine.Interrupted and discards a
		}
		j := int(g.Bounded(uint64(i)))
		a[i], a[j] = a[j], a[i]
	}
}

// Float64 returns the next double in [0, 1) as numpy's Generator.random
// makes it: the top 53 bits of one 64-bit output times 2**-53.
func (g *Generator) Float64() float64 {
	return float64(g.Uint64()>>11) * (1.0 / 9007199254740992.0)
}
