package core

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// withKernels runs fn with simdEnabled set to on, and restores it.
func withKernels(t *testing.T, on bool, fn func()) {
	t.Helper()
	if on && !hasAVX2FMA() {
		t.Skip("the CPU lacks AVX2 or FMA: the vector kernels cannot run here")
	}
	saved := simdEnabled
	simdEnabled = on
	defer func() { simdEnabled = saved }()
	fn()
}

// TestVectorKernelsMatchGeneric runs the same float32 cells and inputs (the
// gradient-check cases: every wiring, mapping, unfold count, constraint
// mode, batch sizes 1, 3 and 9) through the assembly kernels and through
// the generic ones, and compares outputs, final states and every gradient:
// relative error, to each array's largest magnitude, at most 1e-5 (worst
// measured 1.7e-6), and 1e-4 for the gradients of cm and elapsed, whose
// float32 error is amplified by the difference of successive states (see
// TestFloat32MatchesFloat64; worst measured 3.3e-5).
func TestVectorKernelsMatchGeneric(t *testing.T) {
	var worst roundOffWorst
	for _, tc := range gradCases() {
		c := cellAs[float32](newTestCell(t, tc.cellSpec))
		in := newTestInputs(c.Shape, tc.batch, 2*tc.steps, tc.elapsed, tc.allSteps, rand.New(rand.NewPCG(tc.seed, 6)))
		s, gy, gh := seqAs[float32](in.seq), convert[float32](in.gy), convert[float32](in.gh)
		var vec, gen []namedArray[float32]
		withKernels(t, true, func() { vec = run(t, c, nil, s, tc.allSteps, gy, gh).named(c) })
		withKernels(t, false, func() { gen = run(t, c, nil, s, tc.allSteps, gy, gh).named(c) })
		worst.compare(t, fmt.Sprintf("%v: vector vs generic kernels", tc), vec, gen)
	}
	t.Logf("worst relative error %.3g, of cm's and elapsed's gradients %.3g", worst.tight, worst.loose)
}

// TestGenericKernelsOnAMD64 reruns the float32 property tests with the
// generic kernels, which amd64 otherwise uses only on CPUs without AVX2.
func TestGenericKernelsOnAMD64(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Float32MatchesFloat64", TestFloat32MatchesFloat64},
		{"MaskedSynapsesGetZeroGradient", TestMaskedSynapsesGetZeroGradient},
		{"NaNStaysInItsRow", TestNaNStaysInItsRow},
		{"InfInput", TestInfInput},
		{"WorkspaceReuse", TestWorkspaceReuse},
		{"ConcurrentCells", TestConcurrentCells},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withKernels(t, false, func() { tc.fn(t) })
		})
	}
}
