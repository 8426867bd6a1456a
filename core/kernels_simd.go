//go:build goexperiment.simd && amd64

package core

import "simd/archsimd"

// simdEnabled selects the AVX2+FMA kernels below for float32 cells. It is a
// variable so that tests can compare both kernel sets on the same machine.
var simdEnabled = archsimd.X86.AVX2() && archsimd.X86.FMA()

type f32x8 = archsimd.Float32x8

func bcast(x float32) f32x8 { return archsimd.BroadcastFloat32x8(x) }

func load8(s []float32) f32x8 { return archsimd.LoadFloat32x8((*[8]float32)(s[:8])) }

func store8(x f32x8, s []float32) { x.Store((*[8]float32)(s[:8])) }

// vexp holds the constants of sigmoid, broadcast once per kernel call.
type vexp struct {
	zero, one, lo, hi, log2e, c1, c2 f32x8
	p0, p1, p2, p3, p4, p5           f32x8
	bias                             archsimd.Int32x8
}

func newVexp() vexp {
	return vexp{
		zero: bcast(0), one: bcast(1), lo: bcast(-87), hi: bcast(88),
		log2e: bcast(1.44269504088896341), c1: bcast(-0.693359375), c2: bcast(2.12194440e-4),
		p0: bcast(1.9875691500e-4), p1: bcast(1.3981999507e-3), p2: bcast(8.3334519073e-3),
		p3: bcast(4.1665795894e-2), p4: bcast(1.6666665459e-1), p5: bcast(5.0000001201e-1),
		bias: archsimd.BroadcastInt32x8(127),
	}
}

// sigmoid is 1/(1+exp(-z)) on eight lanes, with exp computed as exp32 does
// (range reduction by ln 2, the same degree-6 polynomial). The argument is
// clamped to [-87, 88], where exp stays a normal float32. The clamps take
// the constant as the first operand: VMAXPS and VMINPS then return the
// other operand when it is NaN, so NaN lanes stay NaN.
func (k *vexp) sigmoid(z f32x8) f32x8 {
	x := k.hi.Min(k.lo.Max(k.zero.Sub(z)))
	n := x.Mul(k.log2e).RoundToEven()
	r := n.MulAdd(k.c1, x)
	r = n.MulAdd(k.c2, r)
	p := k.p0.MulAdd(r, k.p1)
	p = p.MulAdd(r, k.p2)
	p = p.MulAdd(r, k.p3)
	p = p.MulAdd(r, k.p4)
	p = p.MulAdd(r, k.p5)
	p = p.MulAdd(r.Mul(r), r).Add(k.one)
	scale := n.ConvertToInt32().Add(k.bias).ShiftAllLeft(23).AsFloat32x8()
	return k.one.Div(k.one.Add(p.Mul(scale)))
}

func sensoryDrive32(ns, ds, xt []float32, sen *synapses[float32]) {
	k := newVexp()
	u := len(ns) / lanes
	start, src := sen.start, sen.src
	wm, sigma, mu, erev := sen.wm[:len(src)], sen.sigma[:len(src)], sen.mu[:len(src)], sen.erev[:len(src)]
	for j := 0; j < u; j++ {
		num, den := k.zero, k.zero
		num2, den2 := k.zero, k.zero
		e, hi := int(start[j]), int(start[j+1])
		for ; e+1 < hi; e += 2 {
			x0 := load8(xt[int(src[e])*lanes:])
			x1 := load8(xt[int(src[e+1])*lanes:])
			s0 := k.sigmoid(x0.Sub(bcast(mu[e])).Mul(bcast(sigma[e])))
			s1 := k.sigmoid(x1.Sub(bcast(mu[e+1])).Mul(bcast(sigma[e+1])))
			a0 := s0.Mul(bcast(wm[e]))
			a1 := s1.Mul(bcast(wm[e+1]))
			num = a0.MulAdd(bcast(erev[e]), num)
			num2 = a1.MulAdd(bcast(erev[e+1]), num2)
			den = den.Add(a0)
			den2 = den2.Add(a1)
		}
		if e < hi {
			x0 := load8(xt[int(src[e])*lanes:])
			s0 := k.sigmoid(x0.Sub(bcast(mu[e])).Mul(bcast(sigma[e])))
			a0 := s0.Mul(bcast(wm[e]))
			num = a0.MulAdd(bcast(erev[e]), num)
			den = den.Add(a0)
		}
		store8(num.Add(num2), ns[j*lanes:])
		store8(den.Add(den2), ds[j*lanes:])
	}
}

func unfoldForward32(vn, q, v, ns, ds, c, gleak, glvl []float32, rec *synapses[float32], eps float32) {
	k := newVexp()
	u := len(v) / lanes
	epsv := bcast(eps)
	start, src := rec.start, rec.src
	wm, sigma, mu, erev := rec.wm[:len(src)], rec.sigma[:len(src)], rec.mu[:len(src)], rec.erev[:len(src)]
	for j := 0; j < u; j++ {
		num, den := k.zero, k.zero
		num2, den2 := k.zero, k.zero
		e, hi := int(start[j]), int(start[j+1])
		// Two synapses per iteration: two independent dependency chains.
		for ; e+1 < hi; e += 2 {
			v0 := load8(v[int(src[e])*lanes:])
			v1 := load8(v[int(src[e+1])*lanes:])
			s0 := k.sigmoid(v0.Sub(bcast(mu[e])).Mul(bcast(sigma[e])))
			s1 := k.sigmoid(v1.Sub(bcast(mu[e+1])).Mul(bcast(sigma[e+1])))
			a0 := s0.Mul(bcast(wm[e]))
			a1 := s1.Mul(bcast(wm[e+1]))
			num = a0.MulAdd(bcast(erev[e]), num)
			num2 = a1.MulAdd(bcast(erev[e+1]), num2)
			den = den.Add(a0)
			den2 = den2.Add(a1)
		}
		if e < hi {
			v0 := load8(v[int(src[e])*lanes:])
			s0 := k.sigmoid(v0.Sub(bcast(mu[e])).Mul(bcast(sigma[e])))
			a0 := s0.Mul(bcast(wm[e]))
			num = a0.MulAdd(bcast(erev[e]), num)
			den = den.Add(a0)
		}
		num, den = num.Add(num2), den.Add(den2)
		jl := j * lanes
		cj := load8(c[jl:])
		numer := cj.Mul(load8(v[jl:])).Add(bcast(glvl[j])).Add(num.Add(load8(ns[jl:])))
		qq := cj.Add(bcast(gleak[j])).Add(den.Add(load8(ds[jl:]))).Add(epsv)
		store8(numer.Div(qq), vn[jl:])
		if q != nil {
			store8(qq, q[jl:])
		}
	}
}

func synapsesBackward32(gsrc, src, gnum, gden []float32, syn *synapses[float32], aw, as, am, ae []float32) {
	k := newVexp()
	u := len(gnum) / lanes
	start, from := syn.start, syn.src
	wm, sigma, mu, erev := syn.wm[:len(from)], syn.sigma[:len(from)], syn.mu[:len(from)], syn.erev[:len(from)]
	// one synapse's contribution; the sources of the synapses into one
	// neuron are distinct, so two calls in flight never touch the same
	// gsrc lanes.
	step := func(e int, gn, gd f32x8) {
		i := int(from[e]) * lanes
		el := e * lanes
		sg := bcast(sigma[e])
		d := load8(src[i:]).Sub(bcast(mu[e]))
		s := k.sigmoid(d.Mul(sg))
		a := s.Mul(bcast(wm[e]))
		store8(gn.MulAdd(a, load8(ae[el:])), ae[el:])
		ga := gn.MulAdd(bcast(erev[e]), gd)
		store8(ga.MulAdd(s, load8(aw[el:])), aw[el:])
		gz := ga.Mul(a).Mul(k.one.Sub(s))
		store8(gz.MulAdd(d, load8(as[el:])), as[el:])
		store8(load8(am[el:]).Add(gz), am[el:])
		store8(gz.MulAdd(sg, load8(gsrc[i:])), gsrc[i:])
	}
	for j := 0; j < u; j++ {
		gn := load8(gnum[j*lanes:])
		gd := load8(gden[j*lanes:])
		for e := int(start[j]); e < int(start[j+1]); e++ {
			step(e, gn, gd)
		}
	}
}

func neuronsBackward32(gvp, gnum, gden, gc, gns, gds, gv, v, vn, q, c []float32) {
	zero := bcast(0)
	for i := 0; i+lanes <= len(gv); i += lanes {
		g := load8(gv[i:])
		qi := load8(q[i:])
		gn := g.Div(qi)
		gd := zero.Sub(g).Mul(load8(vn[i:])).Div(qi)
		store8(gn, gnum[i:])
		store8(gd, gden[i:])
		store8(gn.Mul(load8(c[i:])), gvp[i:])
		store8(gn.MulAdd(load8(v[i:]), gd).Add(load8(gc[i:])), gc[i:])
		store8(load8(gns[i:]).Add(gn), gns[i:])
		store8(load8(gds[i:]).Add(gd), gds[i:])
	}
}
