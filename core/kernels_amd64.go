//go:build amd64

package core

import "unsafe"

// The float32 kernels in assembly (kernels_amd64.s), AVX2 and FMA, eight
// lanes per YMM register. They compute the same expressions as the generic
// kernels in kernels.go, with the sigmoid described at sigmoidDenominator
// below. The Go compiler's vector code generation (simd/archsimd) kept the
// sigmoid's constants and the accumulators on the stack and reloaded them
// for every synapse; written by hand, the constants are memory operands,
// the accumulators stay in registers and a synapse costs about 22 vector
// instructions.
//
// Sigmoid. sigmoid(z) = 1/(1+exp(-z)) with exp(-z) = 2**n * p(r),
// n = round(-z*log2(e)), r = -z - n*ln2 (Cody-Waite, ln2 split in two as
// in exp32) and p the degree-7 polynomial of exp32 (the Cephes expf
// coefficients), evaluated by Horner as 1 + r*(1 + r*P(r)). The rounding
// and the exponent come from one FMA: t = magic - z*log2(e) with magic =
// 1.5*2**23 + 127 rounds to an integer and holds n+127 in its low mantissa
// bits, so t<<23 is the float 2**n and t-magic is n. z is first clamped to
// [-88.7, 87.3] so that n stays within [-126, 128]: 2**128 reads as +Inf
// and sigmoid is then exactly 0, while n = -126 leaves exp(-z) a normal
// number and sigmoid exactly 1. The clamps take the constant as the first
// source of VMAXPS/VMINPS, which return the second source when either is
// NaN, so NaN lanes stay NaN.

// simdEnabled selects the assembly kernels for float32 cells; it is a
// variable so that tests can compare them with the generic kernels on the
// same machine.
var simdEnabled = hasAVX2FMA()

// hasAVX2FMA reports whether the CPU supports AVX2 and FMA and the OS
// saves the YMM registers (CPUID and XGETBV).
func hasAVX2FMA() bool

// synArgs is what the synapse kernels read: the compressed synapse list of
// kernels.go as raw pointers (nil where a list is empty; the kernels then
// never dereference them), so that one pointer argument reaches them all
// and go vet can check the assembly's frame.
type synArgs struct {
	start, src          *int32
	wm, sigma, mu, erev *float32
	units               int
}

func newSynArgs(s *synapses[float32], units int) synArgs {
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

func sensoryDrive32(ns, ds, xt []float32, sen *synapses[float32]) {
	a := fwdArgs{
		syn: newSynArgs(sen, len(ns)/lanes),
		x:   unsafe.SliceData(xt), num: unsafe.SliceData(ns), den: unsafe.SliceData(ds),
	}
	sensorySumsAVX2(&a)
}

func unfoldForward32(vn, q, v, ns, ds, c, gleak, glvl []float32, rec *synapses[float32], eps float32) {
	u := len(v) / lanes
	// The assembly trusts these lengths; check them once per call.
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
