package core

// Forward runs the cell over a batch of sequences and writes the outputs and
// final state into out. When keep is true the workspace keeps what Backward
// needs (the states of every unfold), and the inputs in must stay unchanged
// until Backward has run; when false nothing is kept and the pass is a little
// faster. The parameters are read once, at the start.
func (c *Cell[T]) Forward(ws *Workspace[T], in Sequence[T], out Output[T], keep bool) error {
	if err := c.checkSequence(in, out); err != nil {
		return err
	}
	ws.prepare(c)
	ws.seq, ws.allSteps, ws.taped = in, out.AllSteps, keep
	u, k := c.Shape.Units, c.Opts.ODEUnfolds
	if keep {
		ws.tape = grow(ws.tape, in.Batch*in.Steps*(2*k+1)*u)
	}
	nw := numWorkers(in.Batch)
	ws.ensureWorkers(nw, false)
	parallel(nw, in.Batch, func(w, lo, hi int) {
		for b := lo; b < hi; b++ {
			ws.forwardRow(&ws.workers[w], b, out)
		}
	})
	return nil
}

// tapeAt returns the slice of the tape holding step t of row b: the states
// v^0..v^K followed by the denominators q^0..q^(K-1), each units long.
func (ws *Workspace[T]) tapeAt(b, t int) []T {
	u, k := ws.sh.Units, ws.opts.ODEUnfolds
	n := (2*k + 1) * u
	off := (b*ws.seq.Steps + t) * n
	return ws.tape[off : off+n]
}

// mapInput writes the mapped inputs of step t of row b into xt.
func (ws *Workspace[T]) mapInput(xt []T, b, t int) {
	s := ws.sh.Sensory
	x := ws.seq.X[(b*ws.seq.Steps+t)*s:][:s]
	p := ws.params
	switch ws.opts.InputMapping {
	case Affine:
		for i := range xt {
			xt[i] = x[i]*p.InputW[i] + p.InputB[i]
		}
	case Linear:
		for i := range xt {
			xt[i] = x[i] * p.InputW[i]
		}
	default:
		copy(xt, x)
	}
}

// dtK returns the Euler step of step t of row b: elapsed / unfolds.
func (ws *Workspace[T]) dtK(b, t int) T {
	if ws.seq.Elapsed == nil {
		return 1 / T(ws.opts.ODEUnfolds)
	}
	return ws.seq.Elapsed[b*ws.seq.Steps+t] / T(ws.opts.ODEUnfolds)
}

// sensoryDrive fills ns and ds with the sensory synapses' contributions to
// the numerator and denominator of every neuron.
func (ws *Workspace[T]) sensoryDrive(ns, ds, xt []T) {
	sen := &ws.sen
	for j := range ns {
		var num, den T
		for e := sen.start[j]; e < sen.start[j+1]; e++ {
			a := sen.wm[e] * sigmoid(sen.sigma[e]*(xt[sen.src[e]]-sen.mu[e]))
			num += a * sen.erev[e]
			den += a
		}
		ns[j], ds[j] = num, den
	}
}

func (ws *Workspace[T]) forwardRow(w *worker[T], b int, out Output[T]) {
	u, m, k := ws.sh.Units, ws.sh.Motor, ws.opts.ODEUnfolds
	steps := ws.seq.Steps
	p := ws.params
	rec := &ws.rec
	eps := T(ws.opts.Epsilon)
	v, vn := w.v, w.vn
	if ws.seq.H0 != nil {
		copy(v, ws.seq.H0[b*u:(b+1)*u])
	} else {
		clear(v)
	}
	for t := 0; t < steps; t++ {
		ws.mapInput(w.xt, b, t)
		ws.sensoryDrive(w.ns, w.ds, w.xt)
		dtk := ws.dtK(b, t)
		for j := range w.c {
			w.c[j] = ws.pcm[j] / dtk
		}
		var tp []T
		if ws.taped {
			tp = ws.tapeAt(b, t)
		}
		for it := 0; it < k; it++ {
			if tp != nil {
				copy(tp[it*u:(it+1)*u], v)
			}
			for j := 0; j < u; j++ {
				var num, den T
				for e := rec.start[j]; e < rec.start[j+1]; e++ {
					a := rec.wm[e] * sigmoid(rec.sigma[e]*(v[rec.src[e]]-rec.mu[e]))
					num += a * rec.erev[e]
					den += a
				}
				numer := w.c[j]*v[j] + ws.pgleak[j]*p.Vleak[j] + (num + w.ns[j])
				q := w.c[j] + ws.pgleak[j] + (den + w.ds[j]) + eps
				vn[j] = numer / q
				if tp != nil {
					tp[(k+1+it)*u+j] = q
				}
			}
			v, vn = vn, v
		}
		if tp != nil {
			copy(tp[k*u:(k+1)*u], v)
		}
		if out.Y != nil && (out.AllSteps || t == steps-1) {
			var y []T
			if out.AllSteps {
				y = out.Y[(b*steps+t)*m:][:m]
			} else {
				y = out.Y[b*m:][:m]
			}
			switch ws.opts.OutputMapping {
			case Affine:
				for i := range y {
					y[i] = v[i]*p.OutputW[i] + p.OutputB[i]
				}
			case Linear:
				for i := range y {
					y[i] = v[i] * p.OutputW[i]
				}
			default:
				copy(y, v[:m])
			}
		}
	}
	if out.H != nil {
		copy(out.H[b*u:(b+1)*u], v)
	}
	// v may be w.vn after an odd number of swaps; keep the worker's
	// buffers distinct for the next row.
	w.v, w.vn = v, vn
}
