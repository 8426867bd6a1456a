package core

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks of the kernels alone, on synthetic blocks (the per-config
// benchmarks are in bench_test.go).

// kernelBench is one block's worth of synthetic operands for the synapse
// kernels: a list over n sources and n neurons, neuron j with fanin(j)
// synapses, parameters and states in their usual ranges.
type kernelBench struct {
	syn                              synapses[float32]
	v, vn, q, ns, ds, c, gleak, glvl []float32
	gnum, gden, gv                   []float32
	aw, as, am, ae                   []float32
}

func newKernelBench(n int, fanin func(j int) int) *kernelBench {
	rng := rand.New(rand.NewPCG(3, 4))
	u := func(lo, hi float64) float32 { return float32(lo + (hi-lo)*rng.Float64()) }
	mask := make([]float32, n*n)
	w, sg, mu, er := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range mask {
		w[i], sg[i], mu[i], er[i] = u(0.001, 1), u(3, 8), u(0.3, 0.8), u(-1, 1)
	}
	for j := 0; j < n; j++ {
		for _, i := range rng.Perm(n)[:fanin(j)] {
			mask[i*n+j] = 1
		}
	}
	k := &kernelBench{}
	k.syn.gather(n, mask, w, sg, mu, er, false)
	vec := func(m int, lo, hi float64) []float32 {
		s := make([]float32, m)
		for i := range s {
			s[i] = u(lo, hi)
		}
		return s
	}
	nl := n * lanes
	k.v, k.vn, k.q = vec(nl, -1, 1), vec(nl, 0, 0), vec(nl, 1, 2)
	k.ns, k.ds, k.c = vec(nl, -1, 1), vec(nl, 0, 1), vec(nl, 1, 2)
	k.gleak, k.glvl = vec(n, 0.001, 1), vec(n, -0.2, 0.2)
	k.gnum, k.gden, k.gv = vec(nl, -1, 1), vec(nl, -1, 1), vec(nl, 0, 0)
	ns := len(k.syn.src) * lanes
	k.aw, k.as, k.am, k.ae = vec(ns, 0, 0), vec(ns, 0, 0), vec(ns, 0, 0), vec(ns, 0, 0)
	return k
}

// BenchmarkKernelUnfold times unfoldForward on 256 fully connected
// neurons: ns/op / (65536*8) is the cost of one synapse evaluation.
func BenchmarkKernelUnfold(b *testing.B) {
	k := newKernelBench(256, func(int) int { return 256 })
	benchUnfold(b, k)
}

// BenchmarkKernelUnfoldFixed8 and BenchmarkKernelUnfoldRandom8 have 64
// neurons with 8 synapses each, or 4 to 11 (as config C).
func BenchmarkKernelUnfoldFixed8(b *testing.B) {
	benchUnfold(b, newKernelBench(64, func(int) int { return 8 }))
}

func BenchmarkKernelUnfoldRandom8(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	benchUnfold(b, newKernelBench(64, func(int) int { return 4 + rng.IntN(8) }))
}

func benchUnfold(b *testing.B, k *kernelBench) {
	for b.Loop() {
		unfoldForward(k.vn, k.q, k.v, k.ns, k.ds, k.c, k.gleak, k.glvl, &k.syn, 1e-8)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(k.syn.src)*lanes), "ns/syn-eval")
}

// BenchmarkKernelSynapsesBackward times synapsesBackward on the same list
// (its accumulators, 8 MB, do not fit in L2).
func BenchmarkKernelSynapsesBackward(b *testing.B) {
	k := newKernelBench(256, func(int) int { return 256 })
	acc := synapseGrads[float32]{k.aw, k.as, k.am, k.ae}
	for b.Loop() {
		synapsesBackward(k.gv, k.v, k.gnum, k.gden, &k.syn, &acc)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(k.syn.src)*lanes), "ns/syn-eval")
}

// BenchmarkKernelNeuronsBackward times neuronsBackward on 64 neurons (one
// unfold of config C's backward pass).
func BenchmarkKernelNeuronsBackward(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 64 * lanes
	v := make([][]float32, 11)
	for i := range v {
		v[i] = make([]float32, n)
		for j := range v[i] {
			v[i][j] = 1 + rng.Float32()
		}
	}
	for b.Loop() {
		neuronsBackward(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10])
	}
}
