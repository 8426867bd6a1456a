package cfc

import (
	"math"

	"github.com/kerasncp-go/kerasncp-go/internal/kern32"
	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

// Forward runs the model over a batch of sequences and writes the outputs,
// final state and memory into out. With pass.Keep the workspace keeps the
// tape Backward needs, and in and the model's parameters must stay
// unchanged until Backward has run. Forward checks every argument before
// writing anything, and refuses a tape larger than the memory the process
// may use.
func (m *Model[T]) Forward(ws *Workspace[T], in Sequence[T], out Output[T], pass Pass) error {
	if err := m.checkParams(); err != nil {
		return err
	}
	if err := m.checkSequence(in, out); err != nil {
		return err
	}
	if pass.Keep {
		if err := m.checkTapeSize(in.Batch, in.Steps); err != nil {
			return err
		}
	}
	ws.model, ws.seq, ws.allSteps, ws.pass, ws.taped = m, in, out.AllSteps, pass, false
	if pass.Keep {
		ws.tape = grow(ws.tape, in.Batch*in.Steps*m.stride)
	}
	ws.pack(m)
	sw := m.splitWork(in.Batch, in.Steps)
	rows, nb := blocks(in.Batch, sw)
	nw := min(sw, nb)
	ws.ensureWorkers(m, nw, rows, false)
	if nw == 1 { // no closure to allocate
		for i := 0; i < nb; i++ {
			ws.forwardRows(&ws.workers[0], i*rows, min(in.Batch, (i+1)*rows), out)
		}
	} else {
		machine.Each(nw, nb, func(w, i int) {
			ws.forwardRows(&ws.workers[w], i*rows, min(in.Batch, (i+1)*rows), out)
		})
	}
	if machine.Interrupted() {
		return machine.ErrInterrupted // no tape: the pass stopped early
	}
	ws.taped = pass.Keep
	return nil
}

// rowsAt returns the rows b0.. of step t: in the tape, or in the worker's
// two-step scratch when there is none. Row i starts at i*stride.
func (ws *Workspace[T]) rowsAt(w *worker[T], t, b0, nr int) []T {
	s := ws.model.stride
	if ws.pass.Keep {
		return ws.tape[(t*ws.seq.Batch+b0)*s:]
	}
	return w.rows[(t%2)*nr*s:]
}

// rowsBase returns where rowsAt's rows lie: in base from first, and how
// far the next step's rows are from them.
func (ws *Workspace[T]) rowsBase(w *worker[T], t, b0, nr int) (base []T, first, next int) {
	s := ws.model.stride
	if ws.pass.Keep {
		return ws.tape, (t*ws.seq.Batch + b0) * s, ws.seq.Batch * s
	}
	return w.rows, (t % 2) * nr * s, ((t+1)%2 - t%2) * nr * s
}

// ts returns the elapsed time of row b at step t.
func (ws *Workspace[T]) ts(b, t int) float64 {
	if ws.seq.Elapsed == nil {
		return 1
	}
	return float64(ws.seq.Elapsed[b*ws.seq.Steps+t])
}

// one32 is the elapsed time of every row when a sequence has none.
var one32 = []float32{1}

// times returns the elapsed times of rows b0.. at step t for kern32's
// heads kernels: a slice and the distance between rows (0: one time for
// every row). Only for float32.
func (ws *Workspace[T]) times(b0, t int) ([]float32, int) {
	if ws.seq.Elapsed == nil {
		return one32, 0
	}
	return as32(ws.seq.Elapsed[b0*ws.seq.Steps+t:]), ws.seq.Steps
}

// fillRows sets the first n values of nr rows (stride ld) to v.
func fillRows[T Float](dst []T, nr, ld int, v []T) {
	for i := 0; i < nr; i++ {
		copy(dst[i*ld:i*ld+len(v)], v)
	}
}

func (ws *Workspace[T]) forwardRows(w *worker[T], b0, b1 int, out Output[T]) {
	m := ws.model
	seq := ws.seq
	nr, s, steps := b1-b0, m.stride, seq.Steps
	in, n := m.cfg.InputSize, m.state
	mixed := m.cfg.MixedMemory
	// direct: each step's heads kernel writes the new states into the next
	// step's rows, too.
	direct := m.headsOnKernel() && !mixed
	var cur []T
	for t := 0; t < steps; t++ {
		if machine.Interrupted() {
			return // Forward reports it
		}
		prev := cur
		cur = ws.rowsAt(w, t, b0, nr)
		// Inputs and the previous state and memory.
		for i := 0; i < nr; i++ {
			b := b0 + i
			r := cur[i*s : (i+1)*s]
			x := seq.X[(b*steps+t)*in : (b*steps+t+1)*in]
			copy(r[m.layers[0].tCat:], x)
			if t > 0 && direct {
				continue // the heads kernel wrote the previous state in place
			}
			var hp []T // previous state of layer L, or nil for zeros
			for li := range m.layers {
				L := &m.layers[li] // not a copy of the struct per row and layer
				switch {
				case t > 0:
					hp = prev[i*s+L.tH : i*s+L.tH+L.n]
				case seq.H0 != nil:
					hp = seq.H0[b*n+L.sOff : b*n+L.sOff+L.n]
				}
				dst := r[m.tLCat+in+L.sOff : m.tLCat+in+L.sOff+L.n]
				if !mixed {
					dst = r[L.tCat+L.in : L.tCat+L.cat]
				}
				if hp == nil {
					clear(dst)
				} else {
					copy(dst, hp)
				}
			}
			if mixed {
				copy(r[m.tLCat:], x)
				cp := r[m.tCPrev : m.tCPrev+n]
				switch {
				case t > 0:
					copy(cp, prev[i*s+m.tCNew:i*s+m.tCNew+n])
				case seq.C0 != nil:
					copy(cp, seq.C0[b*n:(b+1)*n])
				default:
					clear(cp)
				}
			}
		}
		if mixed {
			m.lstmForward(ws, cur, nr)
		}
		for l := range m.layers {
			m.layerForward(ws, w, l, cur, b0, nr, t)
		}
		if out.Y != nil && (out.AllSteps || t == steps-1) {
			m.outputForward(ws, cur, out, b0, nr, t, steps)
		}
	}
	for i := 0; i < nr; i++ {
		b := b0 + i
		r := cur[i*s : (i+1)*s]
		if out.H != nil {
			for _, L := range m.layers {
				copy(out.H[b*n+L.sOff:b*n+L.sOff+L.n], r[L.tH:L.tH+L.n])
			}
		}
		if out.C != nil {
			copy(out.C[b*n:(b+1)*n], r[m.tCNew:m.tCNew+n])
		}
	}
}

// lstmForward runs the mixed-memory cell on nr rows: gate pre-activations
// z = [x | h] [W_in | W_rec]^T + b, then c' and h', the latter written as
// the CfC layers' previous state.
func (m *Model[T]) lstmForward(ws *Workspace[T], cur []T, nr int) {
	in, n, s := m.cfg.InputSize, m.state, m.stride
	bias := m.Params[m.lstmInB : m.lstmInB+4*n]
	fillRows(cur[m.tLZ:], nr, s, bias)
	prod(nr, 4*n, in+n, cur[m.tLCat:], s, ws.lstmW, ws.lstmWT, 1, cur[m.tLZ:], s)
	for i := 0; i < nr; i++ {
		r := cur[i*s : (i+1)*s]
		z := r[m.tLZ : m.tLZ+4*n]
		cp, cn := r[m.tCPrev:m.tCPrev+n], r[m.tCNew:m.tCNew+n]
		for _, L := range m.layers {
			h := r[L.tCat+L.in : L.tCat+L.cat]
			// The gates' values replace their pre-activations.
			for j := range h {
				k := L.sOff + j
				ia := math.Tanh(float64(z[k]))
				ig := sigmoid(float64(z[n+k]))
				fg := sigmoid(float64(z[2*n+k]) + 1)
				og := sigmoid(float64(z[3*n+k]))
				c := float64(cp[k])*fg + ia*ig
				cn[k] = T(c)
				h[j] = T(math.Tanh(float64(T(c))) * og)
				z[k], z[n+k], z[2*n+k], z[3*n+k] = T(ia), T(ig), T(fg), T(og)
			}
		}
	}
}

// layerForward runs layer l on nr rows at step t: its input, backbone,
// heads and new state.
func (m *Model[T]) layerForward(ws *Workspace[T], w *worker[T], l int, cur []T, b0, nr, t int) {
	L := &m.layers[l]
	p := m.Params
	s := m.stride
	kernHeads := m.headsOnKernel()
	if l > 0 && !kernHeads { // else the previous layer's heads kernel wrote it
		pl := &m.layers[l-1]
		for i := 0; i < nr; i++ {
			copy(cur[i*s+L.tCat:i*s+L.tCat+L.in], cur[i*s+pl.tH:i*s+pl.tH+pl.n])
		}
	}
	src, width := L.tCat, L.cat
	drop := ws.pass.Train && m.cfg.BackboneDropout > 0
	for k, bu := range L.bu {
		fillRows(cur[L.tPre[k]:], nr, s, p[L.bbB[k]:L.bbB[k]+bu])
		prod(nr, bu, width, cur[src:], s, p[L.bbW[k]:], ws.bbWT[l][k], 1, cur[L.tPre[k]:], s)
		for i := 0; i < nr; i++ {
			r := cur[i*s : (i+1)*s]
			post := r[L.tPost[k] : L.tPost[k]+bu]
			if ws.pass.Keep {
				// Backward needs only the derivative: it replaces the
				// pre-activation.
				activateGrad(m.cfg.Activation, post, r[L.tPre[k]:L.tPre[k]+bu])
			} else {
				activate(m.cfg.Activation, post, r[L.tPre[k]:L.tPre[k]+bu])
			}
			if drop && (k > 0 || m.cfg.Keras) {
				m.applyDropout(ws, post, k, t, b0+i)
			}
		}
		src, width = L.tPost[k], bu
	}
	if kernHeads {
		// One kernel call adds the biases and computes every row's heads
		// and new state (see kern32.CfCHeads), which it also writes as
		// the next layer's input and the next step's previous state.
		prod(nr, L.nh, L.hw, cur[src:], s, ws.headW[l], ws.headWT[l], 0, cur[L.tHead:], s)
		base, first, next := ws.rowsBase(w, t, b0, nr)
		var cp [2]int
		copies := cp[:0]
		if l+1 < len(m.layers) {
			copies = append(copies, m.layers[l+1].tCat-L.tHead)
		}
		if !m.cfg.MixedMemory && t+1 < ws.seq.Steps {
			copies = append(copies, next+L.tCat+L.in-L.tHead)
		}
		ts, tsld := ws.times(b0, t)
		kern32.CfCHeads(as32(base), first, s, nr, L.tHead, L.n, L.tH-L.tHead, copies, as32(ws.headB[l]), ts, tsld,
			m.cfg.Keras, m.cfg.Mode == NoGate)
		return
	}
	fillRows(cur[L.tHead:], nr, s, ws.headB[l])
	prod(nr, L.nh, L.hw, cur[src:], s, ws.headW[l], ws.headWT[l], 1, cur[L.tHead:], s)
	for i := 0; i < nr; i++ {
		r := cur[i*s : (i+1)*s]
		ts := ws.ts(b0+i, t)
		f1 := r[L.tHead : L.tHead+L.n]
		h := r[L.tH : L.tH+L.n]
		if m.cfg.Mode == Pure {
			wtau, a := p[L.wtau:L.wtau+L.n], p[L.a:L.a+L.n]
			for j, f := range f1 {
				ff := float64(f)
				e := math.Exp(-ts * (math.Abs(float64(wtau[j])) + math.Abs(ff)))
				h[j] = T(-float64(a[j])*e*ff + float64(a[j]))
			}
			continue
		}
		f2 := r[L.tHead+L.n : L.tHead+2*L.n]
		ta := r[L.tHead+2*L.n : L.tHead+3*L.n]
		tb := r[L.tHead+3*L.n : L.tHead+4*L.n]
		// The heads' values replace their pre-activations, which Backward
		// does not need: [tanh(ff1) | tanh(ff2) | s | time_a] (Keras
		// variant: [ff1 | ff2 | s | time_a]).
		keras := m.cfg.Keras
		sg := 1.0
		if keras {
			sg = -1
		}
		for j := range h {
			a := ta[j]
			g := sigmoid(sg*float64(a)*ts + float64(tb[j]))
			t1, t2 := float64(f1[j]), float64(f2[j])
			if !keras {
				t1, t2 = math.Tanh(t1), math.Tanh(t2)
			}
			if m.cfg.Mode == NoGate {
				h[j] = T(t1 + g*t2)
			} else {
				h[j] = T(t1*(1-g) + g*t2)
			}
			f1[j], f2[j], ta[j], tb[j] = T(t1), T(t2), T(g), a
		}
	}
}

// applyDropout zeroes the dropped units of one row's backbone layer k
// output and scales the others by 1/(1-rate).
func (m *Model[T]) applyDropout(ws *Workspace[T], post []T, k, t, b int) {
	rate := m.cfg.BackboneDropout
	scale := T(1 / (1 - rate))
	for j := range post {
		if dropKeep(ws.pass.Seed, k, t, b, j, ws.seq.Steps, ws.seq.Batch, len(post), rate) {
			post[j] *= scale
		} else {
			post[j] = 0
		}
	}
}

// outputForward writes the outputs of nr rows at step t: the last layer's
// state, through the projection when there is one.
func (m *Model[T]) outputForward(ws *Workspace[T], cur []T, out Output[T], b0, nr, t, steps int) {
	L := &m.layers[len(m.layers)-1]
	po := m.OutputSize()
	y, ld := out.Y[b0*po:], po
	if out.AllSteps {
		y, ld = out.Y[(b0*steps+t)*po:], steps*po
	}
	s := m.stride
	if m.projW < 0 {
		for i := 0; i < nr; i++ {
			copy(y[i*ld:i*ld+po], cur[i*s+L.tH:i*s+L.tH+L.n])
		}
		return
	}
	fillRows(y, nr, ld, m.Params[m.projB:m.projB+po])
	prod(nr, po, L.n, cur[L.tH:], s, m.Params[m.projW:], ws.projWT, 1, y, ld)
}
