package core

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

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
			if err := checkShape("gy", len(gy), axis{"batch", b}, axis{"steps", t}, axis{"motor", m}); err != nil {
				return err
			}
		} else if err := checkShape("gy", len(gy), axis{"batch", b}, axis{"motor", m}); err != nil {
			return err
		}
	}
	if gh != nil {
		if err := checkShape("gh", len(gh), axis{"batch", b}, axis{"units", u}); err != nil {
			return err
		}
	}
	if g.X != nil {
		if err := checkShape("grad x", len(g.X), axis{"batch", b}, axis{"steps", t}, axis{"sensory", s}); err != nil {
			return err
		}
	}
	if g.H0 != nil {
		if err := checkShape("grad h0", len(g.H0), axis{"batch", b}, axis{"units", u}); err != nil {
			return err
		}
	}
	if g.Elapsed != nil {
		if err := checkShape("grad elapsed", len(g.Elapsed), axis{"batch", b}, axis{"steps", t}); err != nil {
			return err
		}
	}
	if g.Params != nil {
		if err := g.Params.checkGrads(c.Shape, c.Opts); err != nil {
			return err
		}
	}
	nb := numBlocks(b)
	nw := numWorkers(nb)
	if err := ws.checkGradMemory(nw); err != nil {
		return err
	}
	ws.ensureWorkers(nw, true)
	parallel(nw, nb, func(w, lo, hi int) {
		for blk := lo; blk < hi; blk++ {
			ws.backwardBlock(&ws.workers[w], blk, gy, gh, g)
		}
	})
	if machine.Interrupted() {
		return machine.ErrInterrupted
	}
	if g.Params != nil {
		ws.reduce(nw, g.Params)
	}
	return nil
}

// checkGrads checks the trainable parameters' lengths (masks may be absent).
func (p *Params[T]) checkGrads(sh Shape, o Options) error {
	var buf [NumParams]Field[T]
	var dims [7]int
	for _, f := range p.FieldsInto(&buf, &dims, sh, o.InputMapping, o.OutputMapping) {
		if !f.Trainable {
			continue
		}
		if n := f.Len(); len(*f.Data) != n {
			return checkLen("gradient of "+f.Name, len(*f.Data), n, fmt.Sprint(f.Shape))
		}
	}
	return nil
}

// laneSum adds one synapse's lanes pairwise (eight dependent additions
// took half of a one-step backward pass on small cells).
func laneSum[T Float](a *[lanes]T) T {
	return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}

func (ws *Workspace[T]) backwardBlock(w *worker[T], blk int, gy, gh []T, g Gradients[T]) {
	u, s, k := ws.sh.Units, ws.sh.Sensory, ws.opts.ODEUnfolds
	ul := u * lanes
	steps := ws.seq.Steps
	p := ws.params
	b0, nv := ws.rows(blk)
	rec := synapseGrads[T]{w.dRecWm, w.dRecSigma, w.dRecMu, w.dRecErev}
	sen := synapseGrads[T]{w.dSenWm, w.dSenSigma, w.dSenMu, w.dSenErev}
	gv, gvn := w.gv, w.gvn
	if gh != nil {
		toLanes(gv, gh, b0, nv, u)
	} else {
		clear(gv)
	}
	for t := steps - 1; t >= 0; t-- {
		if machine.Interrupted() {
			return // Backward reports it
		}
		tp := ws.tapeAt(blk, t)
		if gy != nil && (ws.allSteps || t == steps-1) {
			vK := tp[k*ul : (k+1)*ul]
			for l := 0; l < nv; l++ {
				for i, gi := range ws.outputRow(gy, b0+l, t) {
					il := i*lanes + l
					switch ws.opts.OutputMapping {
					case Affine:
						w.dOutW[i] += gi * vK[il]
						w.dOutB[i] += gi
						gv[il] += gi * p.OutputW[i]
					case Linear:
						w.dOutW[i] += gi * vK[il]
						gv[il] += gi * p.OutputW[i]
					default:
						gv[il] += gi
					}
				}
			}
		}
		ws.loadInputs(w.xt, blk, t)
		ws.loadCapacitance(w.c, blk, t, t == steps-1)
		clear(w.gns)
		clear(w.gds)
		clear(w.gc)
		for it := k - 1; it >= 0; it-- {
			v := tp[it*ul : (it+1)*ul]
			vn := tp[(it+1)*ul : (it+2)*ul]
			q := tp[(k+1+it)*ul : (k+2+it)*ul]
			neuronsBackward(gvn, w.gnum, w.gden, w.gc, w.gns, w.gds, gv, v, vn, q, w.c)
			synapsesBackward(gvn, v, w.gnum, w.gden, &ws.rec, &rec)
			gv, gvn = gvn, gv
		}
		// gleak and vleak enter every unfold as the sensory sums do, so their
		// gradients follow from gns and gds, the numerator and denominator
		// gradients summed over the unfolds.
		for j := 0; j < u; j++ {
			var sgl, svl T
			for l := 0; l < lanes; l++ {
				sgl += w.gns[j*lanes+l]*p.Vleak[j] + w.gds[j*lanes+l]
				svl += w.gns[j*lanes+l]
			}
			w.dGleak[j] += sgl
			w.dVleak[j] += svl * ws.pgleak[j]
		}
		// Sensory synapses, with the same summed gradients.
		clear(w.gxt)
		synapsesBackward(w.gxt, w.xt, w.gns, w.gds, &ws.sen, &sen)
		for l := 0; l < nv; l++ {
			b := b0 + l
			x := ws.seq.X[(b*steps+t)*s:][:s]
			var gx []T
			if g.X != nil {
				gx = g.X[(b*steps+t)*s:][:s]
			}
			for i := 0; i < s; i++ {
				gi := w.gxt[i*lanes+l]
				switch ws.opts.InputMapping {
				case Affine:
					w.dInW[i] += gi * x[i]
					w.dInB[i] += gi
				case Linear:
					w.dInW[i] += gi * x[i]
				}
				if gx != nil {
					if ws.opts.InputMapping == None {
						gx[i] = gi
					} else {
						gx[i] = gi * p.InputW[i]
					}
				}
			}
			// c = P(cm) / (elapsed/unfolds).
			dtk := ws.dtK(b, t)
			var gdtk T
			for j := 0; j < u; j++ {
				gcj := w.gc[j*lanes+l]
				w.dCm[j] += gcj / dtk
				gdtk -= gcj * ws.pcm[j] / (dtk * dtk)
			}
			if g.Elapsed != nil {
				g.Elapsed[b*steps+t] = gdtk / T(k)
			}
		}
	}
	if g.H0 != nil {
		fromLanes(g.H0, gv, b0, nv, u)
	}
	w.gv, w.gvn = gv, gvn
}

// reduce sums the workers' accumulators (and, for synapses, their lanes)
// and writes the parameter gradients, through the masks and, with implicit
// constraints, through softplus.
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
	scatter := func(syn *synapses[T], mask, raw, dW, dSigma, dMu, dErev []T, acc synapseGrads[T]) {
		clear(dW)
		clear(dSigma)
		clear(dMu)
		clear(dErev)
		for e, f := range syn.flat {
			o := e * lanes
			gw := laneSum((*[lanes]T)(acc.wm[o:])) * mask[f]
			if imp {
				gw *= softplusGrad(raw[f])
			}
			dW[f] = gw
			dSigma[f] = laneSum((*[lanes]T)(acc.sigma[o:]))
			dMu[f] = -laneSum((*[lanes]T)(acc.mu[o:])) * syn.sigma[e]
			dErev[f] = laneSum((*[lanes]T)(acc.erev[o:]))
		}
	}
	scatter(&ws.rec, p.SparsityMask, p.W, dst.W, dst.Sigma, dst.Mu, dst.Erev,
		synapseGrads[T]{w0.dRecWm, w0.dRecSigma, w0.dRecMu, w0.dRecErev})
	scatter(&ws.sen, p.SensorySparsityMask, p.SensoryW, dst.SensoryW, dst.SensorySigma, dst.SensoryMu, dst.SensoryErev,
		synapseGrads[T]{w0.dSenWm, w0.dSenSigma, w0.dSenMu, w0.dSenErev})
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

// checkGradMemory refuses per-worker gradient accumulators (four per
// synapse and lane) that would not fit in the memory the process may use.
func (ws *Workspace[T]) checkGradMemory(nw int) error {
	var v T
	n := (ws.rec.n() + ws.sen.n()) * lanes
	if len(ws.workers) >= nw && cap(ws.workers[nw-1].dRecWm) >= ws.rec.n()*lanes &&
		cap(ws.workers[nw-1].dSenWm) >= ws.sen.n()*lanes {
		return nil
	}
	return machine.CheckAlloc(fmt.Sprintf("core: the gradient accumulators of %d synapses on %d goroutines",
		ws.rec.n()+ws.sen.n(), nw), float64(nw)*float64(n)*4*float64(unsafe.Sizeof(v)))
}
