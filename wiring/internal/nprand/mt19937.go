package nprand

const (
	mtN         = 624
	mtM         = 397
	mtMatrixA   = 0x9908b0df
	mtUpperMask = 0x80000000
	mtLowerMask = 0x7fffffff
)

// RandomState is numpy's legacy numpy.random.RandomState on MT19937.
type RandomState struct {
	key [mtN]uint32
	pos int
}

// NewRandomState returns the state numpy.random.RandomState(seed) starts in.
// numpy accepts integer seeds in [0, 2**32-1]; the type enforces that range.
func NewRandomState(seed uint32) *RandomState {
	r := &RandomState{}
	s := seed
	for i := 0; i < mtN; i++ {
		r.key[i] = s
		s = 1812433253*(s^(s>>30)) + uint32(i) + 1
	}
	r.pos = mtN
	return r
}

func (r *RandomState) regenerate() {
	k := &r.key
	var y uint32
	i := 0
	for ; i < mtN-mtM; i++ {
		y = (k[i] & mtUpperMask) | (k[i+1] & mtLowerMask)
		k[i] = k[i+mtM] ^ (y >> 1) ^ (-(y & 1) & mtMatrixA)
	}
	for ; i < mtN-1; i++ {
		y = (k[i] & mtUpperMask) | (k[i+1] & mtLowerMask)
		k[i] = k[i+(mtM-mtN)] ^ (y >> 1) ^ (-(y & 1) & mtMatrixA)
	}
	y = (k[mtN-1] & mtUpperMask) | (k[0] & mtLowerMask)
	k[mtN-1] = k[mtM-1] ^ (y >> 1) ^ (-(y & 1) & mtMatrixA)
	r.pos = 0
}

// Uint32 returns the next tempered 32-bit output of the generator.
func (r *RandomState) Uint32() uint32 {
	if r.pos == mtN {
		r.regenerate()
	}
	y := r.key[r.pos]
	r.pos++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// Uint64 returns two outputs joined as numpy's legacy next_uint64 does:
// the first in the high word.
func (r *RandomState) Uint64() uint64 {
	hi := uint64(r.Uint32())
	return hi<<32 | uint64(r.Uint32())
}

// Interval returns a uniform integer in [0, max] by masked rejection, as
// numpy's random_interval does. It draws nothing when max is 0.
func (r *RandomState) Interval(max uint64) uint64 {
	if max == 0 {
		return 0
	}
	mask := fillMask(max)
	if max <= 0xffffffff {
		for {
			if v := uint64(r.Uint32()) & mask; v <= max {
				return v
			}
		}
	}
	for {
		if v := r.Uint64() & mask; v <= max {
			return v
		}
	}
}

// Randint returns RandomState.randint(0, n) for n >= 1. For the populations a
// wiring draws from (n <= 2**32) this is the same masked rejection as
// Interval(n-1). It panics if n < 1.
func (r *RandomState) Randint(n int) int {
	if n < 1 {
		panic("nprand: Randint with n < 1")
	}
	return int(r.Interval(uint64(n - 1)))
}

// ChoiceWithoutReplacement returns the indices RandomState.choice(n, k,
// replace=False) selects: the first k entries of numpy's permutation(n) (0..n-1
// shuffled by the legacy Fisher-Yates pass from the last index down). The whole
// population is shuffled whatever k is, so the stream advances by the same
// amount for every k. It panics if k < 0 or k > n.
func (r *RandomState) ChoiceWithoutReplacement(n, k int) []int {
	return r.ChoiceWithoutReplacementInto(make([]int, n), k)
}

// ChoiceWithoutReplacementInto is ChoiceWithoutReplacement(len(buf), k) that
// shuffles in buf instead of allocating; the result aliases buf[:k]. It
// panics if k < 0 or k > len(buf).
func (r *RandomState) ChoiceWithoutReplacementInto(buf []int, k int) []int {
	n := len(buf)
	if k < 0 || k > n {
		panic("nprand: ChoiceWithoutReplacement with k outside [0, n]")
	}
	for i := range buf {
		buf[i] = i
	}
	for i := n - 1; i >= 1; i-- {
		// random_interval(i), inlined: masked rejection on 32-bit outputs.
		mask := uint32(fillMask(uint64(i)))
		j := int(r.Uint32() & mask)
		for j > i {
			j = int(r.Uint32() & mask)
		}
		buf[i], buf[j] = buf[j], buf[i]
	}
	return buf[:k]
}

// fillMask returns the smallest all-ones bit mask that is >= v.
func fillMask(v uint64) uint64 {
	v |= v >> 1
	v |= v >> 2
	v |= v >> 4
	v |= v >> 8
	v |= v >> 16
	v |= v >> 32
	return v
}
