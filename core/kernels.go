package core

import "unsafe"

// The hot loops, over one block of lanes rows. Each has a portable generic
// version here and, for float32 on amd64 when the CPU has AVX2 and FMA, an
// assembly version (kernels_amd64.go, kernels_amd64.s) that computes the
// same expressions eight lanes at a time; simdEnabled selects it.

// f32 reinterprets a []T known to be []float32.
func f32[T Float](s []T) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func syn32[T Float](s *synapses[T]) *synapses[float32] {
	return (*synapses[float32])(unsafe.Pointer(s))
}

// sensoryDrive writes the sensory synapses' sums into ns (sum of a*erev)
// and ds (sum of a), with a = P(w)*mask*sigmoid(sigma*(xt-mu)).
func sensoryDrive[T Float](ns, ds, xt []T, sen *synapses[T]) {
	if is32[T]() && simdEnabled {
		sensoryDrive32(f32(ns), f32(ds), f32(xt), syn32(sen))
		return
	}
	u := len(ns) / lanes
	for j := 0; j < u; j++ {
		num, den := synapseSums(xt, sen, j)
		copy(ns[j*lanes:][:lanes], num[:])
		copy(ds[j*lanes:][:lanes], den[:])
	}
}

// synapseSums returns, for every lane, the sums over the synapses into
// neuron j of a*erev and of a, with a = P(w)*mask*sigmoid(sigma*(x-mu))
// evaluated at the source values x (sources x lanes).
func synapseSums[T Float](x []T, syn *synapses[T], j int) (num, den [lanes]T) {
	for e := syn.start[j]; e < syn.start[j+1]; e++ {
		xs := x[int(syn.src[e])*lanes:][:lanes]
		wm, sg, mu, er := syn.wm[e], syn.sigma[e], syn.mu[e], syn.erev[e]
		for l := range num {
			a := wm * sigmoid(sg*(xs[l]-mu))
			num[l] += a * er
			den[l] += a
		}
	}
	return num, den
}

// unfoldForward is one semi-implicit Euler step: from the state v it writes
// the next state into vn and, when q is not nil, the denominators into q.
func unfoldForward[T Float](vn, q, v, ns, ds, c, gleak, glvl []T, rec *synapses[T], eps T) {
	if is32[T]() && simdEnabled {
		var q32 []float32
		if q != nil {
			q32 = f32(q)
		}
		unfoldForward32(f32(vn), q32, f32(v), f32(ns), f32(ds), f32(c), f32(gleak), f32(glvl), syn32(rec), float32(eps))
		return
	}
	u := len(v) / lanes
	for j := 0; j < u; j++ {
		num, den := synapseSums(v, rec, j)
		jl := j * lanes
		for l := range num {
			numer := c[jl+l]*v[jl+l] + glvl[j] + (num[l] + ns[jl+l])
			qq := c[jl+l] + gleak[j] + (den[l] + ds[jl+l]) + eps
			vn[jl+l] = numer / qq
			if q != nil {
				q[jl+l] = qq
			}
		}
	}
}

// synapseGrads are one synapse list's gradient accumulators, lanes values
// per synapse: sums of ga*sigmoid (for P(w)*mask), gz*(v-mu) (sigma), gz
// (mu, times -sigma when reduced) and gnum*a (erev).
type synapseGrads[T Float] struct {
	wm, sigma, mu, erev []T
}

// synapsesBackward propagates the numerator and denominator gradients gnum
// and gden (units x lanes) through the synapses of list syn evaluated at
// source values src (sources x lanes): it accumulates the synapse gradients
// into acc and adds the gradient of each source value into gsrc.
func synapsesBackward[T Float](gsrc, src, gnum, gden []T, syn *synapses[T], acc *synapseGrads[T]) {
	if is32[T]() && simdEnabled {
		synapsesBackward32(f32(gsrc), f32(src), f32(gnum), f32(gden), syn32(syn),
			f32(acc.wm), f32(acc.sigma), f32(acc.mu), f32(acc.erev))
		return
	}
	u := len(gnum) / lanes
	for j := 0; j < u; j++ {
		gn := gnum[j*lanes:][:lanes]
		gd := gden[j*lanes:][:lanes]
		for e := syn.start[j]; e < syn.start[j+1]; e++ {
			i := int(syn.src[e]) * lanes
			x := src[i:][:lanes]
			gs := gsrc[i:][:lanes]
			wm, sg, mu, er := syn.wm[e], syn.sigma[e], syn.mu[e], syn.erev[e]
			el := int(e) * lanes
			aw, as, am, ae := acc.wm[el:][:lanes], acc.sigma[el:][:lanes], acc.mu[el:][:lanes], acc.erev[el:][:lanes]
			for l := range gn {
				d := x[l] - mu
				s := sigmoid(sg * d)
				a := wm * s
				ae[l] += gn[l] * a
				ga := gn[l]*er + gd[l]
				aw[l] += ga * s
				gz := ga * a * (1 - s)
				as[l] += gz * d
				am[l] += gz
				gs[l] += gz * sg
			}
		}
	}
}

// neuronsBackward takes the gradient gv of the next state through
// vn = numer/q of one unfold: it writes the numerator and denominator
// gradients gnum = gv/q and gden = -gv*vn/q, the direct part gnum*c of the
// gradient of the previous state v into gvp, and adds to the running sums
// gc (of the capacitance term c), gns and gds (of the sensory sums).
func neuronsBackward[T Float](gvp, gnum, gden, gc, gns, gds, gv, v, vn, q, c []T) {
	if is32[T]() && simdEnabled {
		neuronsBackward32(f32(gvp), f32(gnum), f32(gden), f32(gc), f32(gns), f32(gds), f32(gv), f32(v), f32(vn), f32(q), f32(c))
		return
	}
	for i := range gv {
		gn := gv[i] / q[i]
		gd := -gv[i] * vn[i] / q[i]
		gnum[i], gden[i] = gn, gd
		gvp[i] = gn * c[i]
		gc[i] += gn*v[i] + gd
		gns[i] += gn
		gds[i] += gd
	}
}
