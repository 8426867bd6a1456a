//go:build !amd64

package core

// Only amd64 has vector kernels (kernels_amd64.s); elsewhere the generic
// kernels serve float32 too, and these are never called.
const simdEnabled = false

func sensoryDrive32(ns, ds, xt []float32, sen *synapses[float32]) {
	panic("core: vector kernels are not built")
}

func unfoldForward32(vn, q, v, ns, ds, c, gleak, glvl []float32, rec *synapses[float32], eps float32) {
	panic("core: vector kernels are not built")
}

func synapsesBackward32(gsrc, src, gnum, gden []float32, syn *synapses[float32], aw, as, am, ae []float32) {
	panic("core: vector kernels are not built")
}

func neuronsBackward32(gvp, gnum, gden, gc, gns, gds, gv, v, vn, q, c []float32) {
	panic("core: vector kernels are not built")
}
