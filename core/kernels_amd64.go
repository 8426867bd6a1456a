//go:build amd64

package core

import "unsafe"

// The float32 kernels in assembly (kernels_amd64.s): AVX2 and FMA, the
// eight lanes of a block in one YMM register. They compute the expressions
// of the generic kernels in kernels.go, with the sigmoid below, and are
// used whenever the CPU has AVX2 and FMA. (Written with Go's experimental
// simd/archsimd package instead, the compiled code kept the sigmoid's
// constants and the accumulators on the stack and reloaded or spilled them
// for every synapse.)
//
// Sigmoid. sigmoid(z) = 1/(1+exp(-z)) with exp(-z) = 2**n * p(r),
// n = round(-z*log2(e)), r = -z - n*ln2 (Cody-Waite, with ln2 split in two
// as in exp32), and p(r) = 1 + r + C2*r**2 + ... + C6*r**6, a minimax fit
// of exp on |r| <= ln2/2 with its first two coefficients held at 1 (the
// fit's own relative error is 4.4e-9, its float32 Horner evaluation's
// 6.3e-8, as good as exp32's degree-7 polynomial with one term fewer). The
// rounding and the exponent come from one FMA: t = magic - z*log2(e) with
// magic = 1.5*2**23 + 127 rounds to an integer and holds n+127 in its low
// mantissa bits, so t<<23 is the float 2**n and t-magic is n. z is first
// clamped to [-88.7, 87.3] so that n stays within [-126, 128]: 2**128
// reads as +Inf and the sigmoid is then exactly 0, while at n = -126
// exp(-z) is still a normal number and the sigmoid is exactly 1. NaN
// stays NaN (see SIGREDUCE). The forward kernels divide wm by 1 + exp(-z)
// directly, one rounding fewer than wm*sigmoid(z). Relative error of the
// sigmoid against float64: at most 1.5e-7 over z in [-30, 30]
// (TestVectorSigmoidAccuracy).
//
// Speed. The kernels run the synapse list as a software pipeline (see
// "Pipelining" in kernels_amd64.s): on the Zen 4 this was tuned on, a
// synapse evaluation (one synapse, one lane) costs about 0.33 ns forward
// and 0.6 ns backward on one core (go test -bench Kernel -cpu 1 -count 5;
// take the minima on a busy machine).

// simdEnabled selects the assembly kernels for float32 cells; it is a
// variable so that tests can compare them with the generic kernels on the
// same machine.
var simdEnabled = hasAVX2FMA()

// hasAVX2FMA reports whether the CPU supports AVX2 and FMA and the OS
// saves the YMM registers (CPUID and XGETBV).
func hasAVX2FMA() bool

// synArgs is what the synapse kernels read of a synapse list (see
// synapses in cell.go), as raw pointers so that one pointer argument
// reaches them all and go vet can check the assembly's frame. A pointer is
// nil where the list is empty; the kernels then never dereference it.
type synArgs struct {
	start, src          *int32
	wm, sigma, mu, erev *float32
	units               int
}

// newSynArgs describes s, a list over units neurons.
func newSynArgs(s *synapses[float32], units int) synArgs {
	_ = s.start[units] // the kernels read start[0..units]
	return synArgs{
		start: unsafe.SliceData(s.start), src: unsafe.SliceData(s.src),
		wm: unsafe.SliceData(s.wm), sigma: unsafe.SliceData(s.sigma),
		mu: unsafe.SliceData(s.mu), erev: unsafe.SliceData(s.erev),
		units: units,
	}
}

// fwdArgs are the arguments of sensorySumsAVX2 and unfoldAVX2.
type fwdArgs struct {
	syn synArgs
	x   *float32 // source values, sources x lanes
	// sensorySumsAVX2 writes the sums here (units x lanes).
	num, den *float32
	// unfoldAVX2 reads these (x is the state v) and writes vn and, if q is
	// not nil, q.
	ns, ds, c, gleak, glvl, vn, q *float32
	eps                           float32
}

// bwdArgs are the arguments of synapsesBackwardAVX2.
type bwdArgs struct {
	syn            synArgs
	x, gx          *float32 // source values and their gradients
	gnum, gden     *float32
	aw, as, am, ae *float32
}

// sensorySumsAVX2 is sensoryDrive for float32: a.num and a.den get the sums
// of a*erev and of a over the synapses into each neuron.
//
//go:noescape
func sensorySumsAVX2(a *fwdArgs)

// unfoldAVX2 is unfoldForward for float32.
//
//go:noescape
func unfoldAVX2(a *fwdArgs)

// synapsesBackwardAVX2 is synapsesBackward for float32.
//
//go:noescape
func synapsesBackwardAVX2(a *bwdArgs)

// neuronsBackwardAVX2 is neuronsBackward for float32 over n values (a
// multiple of 8).
//
//go:noescape
func neuronsBackwardAVX2(gvp, gnum, gden, gc, gns, gds, gv, v, vn, q, c *float32, n int)

// The wrappers below check every length the assembly relies on but the
// source indices, which gather keeps below the number of sources.

func sensoryDrive32(ns, ds, xt []float32, sen *synapses[float32]) {
	_ = ds[:len(ns)]
	a := fwdArgs{
		syn: newSynArgs(sen, len(ns)/lanes),
		x:   unsafe.SliceData(xt), num: unsafe.SliceData(ns), den: unsafe.SliceData(ds),
	}
	sensorySumsAVX2(&a)
}

func unfoldForward32(vn, q, v, ns, ds, c, gleak, glvl []float32, rec *synapses[float32], eps float32) {
	u := len(v) / lanes
	_, _, _, _, _ = vn[:u*lanes], ns[:u*lanes], ds[:u*lanes], c[:u*lanes], gleak[:u]
	_ = glvl[:u]
	if q != nil {
		_ = q[:u*lanes]
	}
	a := fwdArgs{
		syn: newSynArgs(rec, u),
		x:   unsafe.SliceData(v), ns: unsafe.SliceData(ns), ds: unsafe.SliceData(ds),
		c: unsafe.SliceData(c), gleak: unsafe.SliceData(gleak), glvl: unsafe.SliceData(glvl),
		vn: unsafe.SliceData(vn), q: unsafe.SliceData(q), eps: eps,
	}
	unfoldAVX2(&a)
}

func synapsesBackward32(gsrc, src, gnum, gden []float32, syn *synapses[float32], aw, as, am, ae []float32) {
	n := len(syn.src) * lanes
	_, _, _, _ = aw[:n], as[:n], am[:n], ae[:n]
	_ = gden[:len(gnum)]
	_ = gsrc[:len(src)]
	a := bwdArgs{
		syn: newSynArgs(syn, len(gnum)/lanes),
		x:   unsafe.SliceData(src), gx: unsafe.SliceData(gsrc),
		gnum: unsafe.SliceData(gnum), gden: unsafe.SliceData(gden),
		aw: unsafe.SliceData(aw), as: unsafe.SliceData(as), am: unsafe.SliceData(am), ae: unsafe.SliceData(ae),
	}
	synapsesBackwardAVX2(&a)
}

func neuronsBackward32(gvp, gnum, gden, gc, gns, gds, gv, v, vn, q, c []float32) {
	n := len(gv) &^ (lanes - 1)
	if n == 0 {
		return
	}
	_, _, _, _, _ = gvp[:n], gnum[:n], gden[:n], gc[:n], gns[:n]
	_, _, _, _, _ = gds[:n], v[:n], vn[:n], q[:n], c[:n]
	neuronsBackwardAVX2(&gvp[0], &gnum[0], &gden[0], &gc[0], &gns[0], &gds[0], &gv[0], &v[0], &vn[0], &q[0], &c[0], n)
}
