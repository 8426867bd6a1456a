package nprand

import "testing"

// Check values from REFERENCE.md 1.6, produced by numpy: RandomState(22222)
// raw outputs, SeedSequence(1111).generate_state(4, np.uint64), and
// default_rng(1111) seeded state and raw 64-bit outputs.

func TestRandomStateCheckValues(t *testing.T) {
	r := NewRandomState(22222)
	want := []uint32{294195201, 1847582594, 1342442730, 288109640}
	for i, w := range want {
		if got := r.Uint32(); got != w {
			t.Fatalf("RandomState(22222) output %d = %d, want %d", i, got, w)
		}
	}
}

func TestSeedSequenceCheckValues(t *testing.T) {
	got := NewSeedSequence(1111).GenerateState64(4)
	want := []uint64{0x1f5671633c99e30d, 0xc7f7b7ab441fba21, 0x9493d3c601717915, 0x2cf99a15dd269d68}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("SeedSequence(1111) state[%d] = %#x, want %#x", i, got[i], want[i])
		}
	}
}

func TestGeneratorCheckValues(t *testing.T) {
	g := NewGenerator(1111)
	// state = 216174424398172169652825297049968954379,
	// inc = 54704245659904301741346124647457700561, written as hi/lo words.
	sh, sl, ih, il := g.State()
	const (
		wantSH = 216174424398172169652825297049968954379 >> 64
		wantSL = 216174424398172169652825297049968954379 & (1<<64 - 1)
		wantIH = 54704245659904301741346124647457700561 >> 64
		wantIL = 54704245659904301741346124647457700561 & (1<<64 - 1)
	)
	if sh != wantSH || sl != wantSL || ih != wantIH || il != wantIL {
		t.Fatalf("default_rng(1111) state = (%#x,%#x) inc = (%#x,%#x)", sh, sl, ih, il)
	}
	want := []uint64{0xdbfdfdd6d6fab48b, 0xa822a50efe888cab, 0x7b5641e27861ebb6}
	for i, w := range want {
		if got := g.Uint64(); got != w {
			t.Fatalf("default_rng(1111) output %d = %#x, want %#x", i, got, w)
		}
	}
}

func TestUint32BuffersHalves(t *testing.T) {
	a, b := NewGenerator(7), NewGenerator(7)
	v := a.Uint64()
	if lo, hi := b.Uint32(), b.Uint32(); lo != uint32(v) || hi != uint32(v>>32) {
		t.Fatalf("halves = %#x, %#x; want %#x, %#x", lo, hi, uint32(v), uint32(v>>32))
	}
}

func TestChoiceWithoutReplacementIsAPermutationPrefix(t *testing.T) {
	for _, tc := range []struct{ n, k int }{{1, 1}, {5, 0}, {5, 5}, {100, 7}, {20000, 10}, {20000, 5000}} {
		g := NewGenerator(3)
		got := g.ChoiceWithoutReplacement(tc.n, tc.k)
		seen := map[int]bool{}
		for _, v := range got {
			if v < 0 || v >= tc.n || seen[v] {
				t.Fatalf("choice(%d, %d): bad or repeated index %d in %v", tc.n, tc.k, v, got)
			}
			seen[v] = true
		}
		if len(got) != tc.k {
			t.Fatalf("choice(%d, %d): got %d indices", tc.n, tc.k, len(got))
		}
		r := NewRandomState(3)
		if got := r.ChoiceWithoutReplacement(tc.n, tc.k); len(got) != tc.k {
			t.Fatalf("legacy choice(%d, %d): got %d indices", tc.n, tc.k, len(got))
		}
	}
}

func TestBoundedStaysInRange(t *testing.T) {
	g := NewGenerator(0)
	for _, r := range []uint64{1, 2, 3, 1000, 0xfffffffe, 0xffffffff, 1 << 40} {
		for i := 0; i < 200; i++ {
			if v := g.Bounded(r); v > r {
				t.Fatalf("Bounded(%d) = %d", r, v)
			}
		}
	}
	rs := NewRandomState(0)
	for _, r := range []uint64{1, 2, 3, 1000, 1 << 40} {
		for i := 0; i < 200; i++ {
			if v := rs.Interval(r); v > r {
				t.Fatalf("Interval(%d) = %d", r, v)
			}
		}
	}
}
