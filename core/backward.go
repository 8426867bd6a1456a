package core

import "errors"

// Backward propagates gradients through the sequence the last Forward (with
// keep true) ran in ws, and writes them into g. gy is the gradient of the
// loss with respect to that pass's outputs, shaped as its Output.Y was
// (every step or the last); gh is the gradient with respect to the final
// state. Either may be nil (zero). The cell's parameters must not have
// changed since that Forward.
func (c *Cell[T]) Backward(ws *Workspace[T], gy, gh []T, g Gradients[T]) error {
	if !ws.taped || ws.params != c.Params {
		return errors.New("core: Backward needs a Forward of this cell with keep=true on the same workspace")
	}
	u, s, m := c.Shape.Units, c.Shape.Sensory, c.Shape.Motor
	b, t := ws.seq.Batch, ws.seq.Steps
	if gy != nil {
		if ws.allSteps {
			if err := checkLen("gy", len(gy), b*t*m, "(batch, steps, motor)"); err != nil {
				return err
			}
		} else if err := checkLen("gy", len(gy), b*m, "(batch, motor)"); err != nil {
			return err
		}
	}
	if gh != nil {
		if err := checkLen("gh", len(gh), b*u, "(batch, units)"); err != nil {
			return err
		}
	}
	for _, a := range []struct {
		name, shape string
		got, want   int
		present     bool
	}{
		{"grad x", "(batch, steps, sensory)", len(g.X), b * t * s, g.X != nil},
		{"grad h0", "(batch, units)", len(g.H0), b * u, g.H0 != nil},
		{"grad elapsed", "(batch, steps)", len(g.Elapsed), b * t, g.Elapsed != nil},
	} {
		if a.present {
			if err := checkLen(a.name, a.got, a.want, a.shape); err != nil {
				return err
			}
		}
	}
	if g.Params != nil {
		if err := g.Params.checkGrads(c.Shape, c.Opts); err != nil {
			return err
		}
	}
	nw := numWorkers(b)
	ws.ensureWorkers(nw, true)
	parallel(nw, b, func(w, lo, hi int) {
		for r := lo; r < hi; r++ {
			ws.backwardRow(&ws.workers[w], r, gy, gh, g)
		}
	})
	if g.Params != nil {
		ws.reduce(nw, g.Params)
	}
	return nil
}

// checkGrads checks the trainable parameters' lengths (masks may be absent).
func (p *Params[T]) checkGrads(sh Shape, o Options) error {
	for _, f := range p.Fields(sh, o.InputMapping, o.OutputMapping) {
		if !f.Trainable {
			continue
		}
		if err := checkLen("gradient of "+f.Name, len(*f.Data), size(f.Shape), "of the parameter"); err != nil {
			return err
		}
	}
	return nil
}

func (ws *Workspace[T]) backwardRow(w *worker[T], b int, gy, gh []T, g Gradients[T]) {
	u, s, m, k := ws.sh.Units, ws.sh.Sensory, ws.sh.Motor, ws.opts.ODEUnfolds
	steps := ws.seq.Steps
	p := ws.params
	rec, sen := &ws.rec, &ws.sen
	gv, gvn := w.gv, w.gvn
	if gh != nil {
		copy(gv, gh[b*u:(b+1)*u])
	} else {
		clear(gv)
	}
	for t := steps - 1; t >= 0; t-- {
		tp := ws.tapeAt(b, t)
		if gy != nil && (ws.allSteps || t == steps-1) {
			var gyr []T
			if ws.allSteps {
				gyr = gy[(b*steps+t)*m:][:m]
			} else {
				gyr = gy[b*m:][:m]
			}
			vK := tp[k*u : k*u+m]
			switch ws.opts.OutputMapping {
			case Affine:
				for i, gi := range gyr {
					w.dOutW[i] += gi * vK[i]
					w.dOutB[i] += gi
					gv[i] += gi * p.OutputW[i]
				}
			case Linear:
				for i, gi := range gyr {
					w.dOutW[i] += gi * vK[i]
					gv[i] += gi * p.OutputW[i]
				}
			default:
				for i, gi := range gyr {
					gv[i] += gi
				}
			}
		}
		ws.mapInput(w.xt, b, t)
		dtk := ws.dtK(b, t)
		for j := range w.c {
			w.c[j] = ws.pcm[j] / dtk
		}
		clear(w.gns)
		clear(w.gds)
		clear(w.gc)
		for it := k - 1; it >= 0; it-- {
			v := tp[it*u : (it+1)*u]
			vn := tp[(it+1)*u : (it+2)*u]
			q := tp[(k+1+it)*u : (k+2+it)*u]
			for j := 0; j < u; j++ {
				gnum := gv[j] / q[j]
				gden := -gv[j] * vn[j] / q[j]
				w.gnum[j], w.gden[j] = gnum, gden
				gvn[j] = gnum * w.c[j]
				w.gc[j] += gnum*v[j] + gden
				w.dGleak[j] += gnum*p.Vleak[j] + gden
				w.dVleak[j] += gnum * ws.pgleak[j]
				w.gns[j] += gnum
				w.gds[j] += gden
			}
			for j := 0; j < u; j++ {
				gnum, gden := w.gnum[j], w.gden[j]
				for e := rec.start[j]; e < rec.start[j+1]; e++ {
					i := rec.src[e]
					d := v[i] - rec.mu[e]
					sg := sigmoid(rec.sigma[e] * d)
					wm := rec.wm[e]
					w.dRecErev[e] += gnum * wm * sg
					ga := gnum*rec.erev[e] + gden
					w.dRecWm[e] += ga * sg
					gz := ga * wm * sg * (1 - sg)
					w.dRecSigma[e] += gz * d
					w.dRecMu[e] -= gz * rec.sigma[e]
					gvn[i] += gz * rec.sigma[e]
				}
			}
			gv, gvn = gvn, gv
		}
		// Sensory synapses, with the numerator and denominator gradients
		// summed over the unfolds.
		clear(w.gxt)
		for j := 0; j < u; j++ {
			gnum, gden := w.gns[j], w.gds[j]
			for e := sen.start[j]; e < sen.start[j+1]; e++ {
				i := sen.src[e]
				d := w.xt[i] - sen.mu[e]
				sg := sigmoid(sen.sigma[e] * d)
				wm := sen.wm[e]
				w.dSenErev[e] += gnum * wm * sg
				ga := gnum*sen.erev[e] + gden
				w.dSenWm[e] += ga * sg
				gz := ga * wm * sg * (1 - sg)
				w.dSenSigma[e] += gz * d
				w.dSenMu[e] -= gz * sen.sigma[e]
				w.gxt[i] += gz * sen.sigma[e]
			}
		}
		x := ws.seq.X[(b*steps+t)*s:][:s]
		var gx []T
		if g.X != nil {
			gx = g.X[(b*steps+t)*s:][:s]
		}
		switch ws.opts.InputMapping {
		case Affine:
			for i, gi := range w.gxt {
				w.dInW[i] += gi * x[i]
				w.dInB[i] += gi
			}
		case Linear:
			for i, gi := range w.gxt {
				w.dInW[i] += gi * x[i]
			}
		}
		if gx != nil {
			for i, gi := range w.gxt {
				if ws.opts.InputMapping == None {
					gx[i] = gi
				} else {
					gx[i] = gi * p.InputW[i]
				}
			}
		}
		// c = P(cm) / (elapsed/unfolds).
		var gdtk T
		for j, gcj := range w.gc {
			w.dCm[j] += gcj / dtk
			gdtk -= gcj * ws.pcm[j] / (dtk * dtk)
		}
		if g.Elapsed != nil {
			g.Elapsed[b*steps+t] = gdtk / T(k)
		}
	}
	if g.H0 != nil {
		copy(g.H0[b*u:(b+1)*u], gv)
	}
	w.gv, w.gvn = gv, gvn
}

// reduce sums the workers' accumulators and writes the parameter gradients,
// through the masks and, with implicit constraints, through softplus.
func (ws *Workspace[T]) reduce(nw int, dst *Params[T]) {
	p := ws.params
	imp := ws.opts.ImplicitConstraints
	w0 := &ws.workers[0]
	for i := 1; i < nw; i++ {
		wi := &ws.workers[i]
		for _, pair := range [][2][]T{
			{w0.dRecWm, wi.dRecWm}, {w0.dRecSigma, wi.dRecSigma}, {w0.dRecMu, wi.dRecMu}, {w0.dRecErev, wi.dRecErev},
			{w0.dSenWm, wi.dSenWm}, {w0.dSenSigma, wi.dSenSigma}, {w0.dSenMu, wi.dSenMu}, {w0.dSenErev, wi.dSenErev},
			{w0.dGleak, wi.dGleak}, {w0.dVleak, wi.dVleak}, {w0.dCm, wi.dCm},
			{w0.dInW, wi.dInW}, {w0.dInB, wi.dInB}, {w0.dOutW, wi.dOutW}, {w0.dOutB, wi.dOutB},
		} {
			for j, v := range pair[1] {
				pair[0][j] += v
			}
		}
	}
	scatter := func(syn *synapses[T], mask, raw, dW, dSigma, dMu, dErev, accWm, accSigma, accMu, accErev []T) {
		clear(dW)
		clear(dSigma)
		clear(dMu)
		clear(dErev)
		for e, f := range syn.flat {
			gw := accWm[e] * mask[f]
			if imp {
				gw *= softplusGrad(raw[f])
			}
			dW[f] = gw
			dSigma[f] = accSigma[e]
			dMu[f] = accMu[e]
			dErev[f] = accErev[e]
		}
	}
	scatter(&ws.rec, p.SparsityMask, p.W, dst.W, dst.Sigma, dst.Mu, dst.Erev,
		w0.dRecWm, w0.dRecSigma, w0.dRecMu, w0.dRecErev)
	scatter(&ws.sen, p.SensorySparsityMask, p.SensoryW, dst.SensoryW, dst.SensorySigma, dst.SensoryMu, dst.SensoryErev,
		w0.dSenWm, w0.dSenSigma, w0.dSenMu, w0.dSenErev)
	for j := range dst.Gleak {
		dst.Gleak[j], dst.Cm[j], dst.Vleak[j] = w0.dGleak[j], w0.dCm[j], w0.dVleak[j]
		if imp {
			dst.Gleak[j] *= softplusGrad(p.Gleak[j])
			dst.Cm[j] *= softplusGrad(p.Cm[j])
		}
	}
	copy(dst.InputW, w0.dInW)
	copy(dst.InputB, w0.dInB)
	copy(dst.OutputW, w0.dOutW)
	copy(dst.OutputB, w0.dOutB)
}
