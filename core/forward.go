package core

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

// Forward runs the cell over a batch of sequences and writes the outputs and
// final state into out. When keep is true the workspace keeps what Backward
// needs (the states of every unfold), and the inputs in and the cell's
// parameters must stay unchanged until Backward has run; when false nothing
// is kept and the pass is a little faster. Forward checks the cell as
// NewCell does, and refuses a tape larger than the memory the process may
// use (the machine's, or its container's limit).
func (c *Cell[T]) Forward(ws *Workspace[T], in Sequence[T], out Output[T], keep bool) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := c.checkSequence(in, out); err != nil {
		return err
	}
	nb := numBlocks(in.Batch)
	if err := c.checkMemory(ws, in, keep); err != nil {
		return err
	}
	ws.prepare(c)
	ws.seq, ws.allSteps, ws.taped = in, out.AllSteps, keep
	if keep {
		ws.tape = grow(ws.tape, nb*in.Steps*ws.tapeStride())
	}
	nw := numWorkers(nb)
	ws.ensureWorkers(nw, false)
	parallel(nw, nb, func(w, lo, hi int) {
		for blk := lo; blk < hi; blk++ {
			ws.forwardBlock(&ws.workers[w], blk, out)
		}
	})
	if machine.Interrupted() {
		ws.taped = false
		return machine.ErrInterrupted
	}
	return nil
}

// TapeBytes returns the memory a taped Forward over batch x steps keeps for
// Backward, in bytes (a float64: it can exceed what an int counts).
func (c *Cell[T]) TapeBytes(batch, steps int) float64 {
	var v T
	return float64(numBlocks(batch)) * float64(steps) * float64(tapeStride(c.Opts.ODEUnfolds, c.Shape.Units)) *
		float64(unsafe.Sizeof(v))
}

// checkMemory refuses a forward pass whose new allocations (the tape when
// keep is true, the synapse structures of the cell's masks) would not fit in
// the memory the process may use (the machine's, its container's, its
// address-space limit), or than an int can count: a failed allocation would
// end the process, which no caller could recover from.
func (c *Cell[T]) checkMemory(ws *Workspace[T], in Sequence[T], keep bool) error {
	var v T
	sz := float64(unsafe.Sizeof(v))
	if keep {
		need := c.TapeBytes(in.Batch, in.Steps) - float64(cap(ws.tape))*sz
		if err := machine.CheckAlloc("core: the tape of this call", need); err != nil {
			me := err.(*machine.MemoryError)
			me.What = fmt.Sprintf("core: the tape of this call (batch=%d, steps=%d, units=%d, ode_unfolds=%d)",
				in.Batch, in.Steps, c.Shape.Units, c.Opts.ODEUnfolds)
			me.Hint = "run shorter sequences or smaller batches per call, or run without a tape (no gradients)"
			return me
		}
	}
	// gather keeps, per mask entry at most: a copy of the mask and of four
	// parameter matrices, and per synapse two int32 indices and four values.
	syn := func(s *synapses[T], n int) float64 {
		if cap(s.mask) >= n && cap(s.wm) >= n {
			return 0
		}
		return float64(n) * (9*sz + 8)
	}
	need := syn(&ws.rec, len(c.Params.SparsityMask)) + syn(&ws.sen, len(c.Params.SensorySparsityMask))
	if need > 0 {
		if err := machine.CheckAlloc(fmt.Sprintf("core: the synapse tables of a %d-unit cell with %d inputs",
			c.Shape.Units, c.Shape.Sensory), need); err != nil {
			return err
		}
	}
	return nil
}

// tapeStride is the tape length of one step of one block: the states
// v^0..v^K followed by the denominators q^0..q^(K-1), each units x lanes.
func tapeStride(unfolds, units int) int { return (2*unfolds + 1) * units * lanes }

func (ws *Workspace[T]) tapeStride() int { return tapeStride(ws.opts.ODEUnfolds, ws.sh.Units) }

// tapeAt returns the tape of step t of block blk.
func (ws *Workspace[T]) tapeAt(blk, t int) []T {
	n := ws.tapeStride()
	off := (blk*ws.seq.Steps + t) * n
	return ws.tape[off : off+n]
}

// rows returns the first row of block blk and how many of its lanes hold
// real rows; the others are padding, run with zero inputs and states.
func (ws *Workspace[T]) rows(blk int) (b0, n int) {
	b0 = blk * lanes
	return b0, min(lanes, ws.seq.Batch-b0)
}

// toLanes copies the rows b0..b0+n-1 of src (rows of width w) into the
// lanes of dst (w x lanes), zeroing the padding lanes.
func toLanes[T Float](dst, src []T, b0, n, w int) {
	if n < lanes {
		clear(dst)
	}
	for l := 0; l < n; l++ {
		for i, x := range src[(b0+l)*w : (b0+l+1)*w] {
			dst[i*lanes+l] = x
		}
	}
}

// fromLanes copies the first n lanes of src (w x lanes) into the rows
// b0..b0+n-1 of dst (rows of width w).
func fromLanes[T Float](dst, src []T, b0, n, w int) {
	for l := 0; l < n; l++ {
		row := dst[(b0+l)*w : (b0+l+1)*w]
		for i := range row {
			row[i] = src[i*lanes+l]
		}
	}
}

// outputRow is the slice of an output-shaped array (y, or its gradient) of
// row b at step t: every step's outputs or, when only the last step's are
// kept, the row's.
func (ws *Workspace[T]) outputRow(y []T, b, t int) []T {
	m := ws.sh.Motor
	if ws.allSteps {
		return y[(b*ws.seq.Steps+t)*m:][:m]
	}
	return y[b*m:][:m]
}

// loadInputs writes the mapped inputs of step t of block blk into xt
// (sensory x lanes).
func (ws *Workspace[T]) loadInputs(xt []T, blk, t int) {
	s, steps := ws.sh.Sensory, ws.seq.Steps
	b0, nv := ws.rows(blk)
	p := ws.params
	if nv < lanes {
		clear(xt) // padding lanes see zero inputs
	}
	for l := 0; l < nv; l++ {
		for i, v := range ws.seq.X[((b0+l)*steps+t)*s:][:s] {
			xt[i*lanes+l] = v
		}
	}
	switch ws.opts.InputMapping {
	case Affine:
		for i := 0; i < s; i++ {
			w, b := p.InputW[i], p.InputB[i]
			row := (*[lanes]T)(xt[i*lanes : (i+1)*lanes])
			for l := range row {
				row[l] = row[l]*w + b
			}
		}
	case Linear:
		for i := 0; i < s; i++ {
			w := p.InputW[i]
			row := (*[lanes]T)(xt[i*lanes : (i+1)*lanes])
			for l := range row {
				row[l] *= w
			}
		}
	}
}

// dtK returns the Euler step of step t of row b (elapsed / unfolds); padding
// rows (b >= batch) get the regular step.
func (ws *Workspace[T]) dtK(b, t int) T {
	if ws.seq.Elapsed == nil || b >= ws.seq.Batch {
		return 1 / T(ws.opts.ODEUnfolds)
	}
	return ws.seq.Elapsed[b*ws.seq.Steps+t] / T(ws.opts.ODEUnfolds)
}

// loadCapacitance writes c = P(cm) / dtK for every lane of step t. Without
// elapsed times it is the same for every step, and only the block's first
// step (first) computes it.
func (ws *Workspace[T]) loadCapacitance(c []T, blk, t int, first bool) {
	if ws.seq.Elapsed == nil {
		if !first {
			return
		}
		// Every lane has the regular step: one division per neuron.
		dtk := ws.dtK(ws.seq.Batch, t)
		for j, cm := range ws.pcm {
			cj := cm / dtk
			row := (*[lanes]T)(c[j*lanes : (j+1)*lanes])
			for l := range row {
				row[l] = cj
			}
		}
		return
	}
	for l := 0; l < lanes; l++ {
		dtk := ws.dtK(blk*lanes+l, t)
		for j, cm := range ws.pcm {
			c[j*lanes+l] = cm / dtk
		}
	}
}

func (ws *Workspace[T]) forwardBlock(w *worker[T], blk int, out Output[T]) {
	u, k := ws.sh.Units, ws.opts.ODEUnfolds
	ul := u * lanes
	steps := ws.seq.Steps
	p := ws.params
	eps := T(ws.opts.Epsilon)
	b0, nv := ws.rows(blk)
	v, vn := w.v, w.vn
	if ws.seq.H0 != nil {
		toLanes(v, ws.seq.H0, b0, nv, u)
	} else {
		clear(v)
	}
	for t := 0; t < steps; t++ {
		if machine.Interrupted() {
			return // Forward reports it
		}
		ws.loadInputs(w.xt, blk, t)
		sensoryDrive(w.ns, w.ds, w.xt, &ws.sen)
		ws.loadCapacitance(w.c, blk, t, t == 0)
		var tp []T
		if ws.taped {
			tp = ws.tapeAt(blk, t)
		}
		for it := 0; it < k; it++ {
			var q []T
			if tp != nil {
				copy(tp[it*ul:(it+1)*ul], v)
				q = tp[(k+1+it)*ul : (k+2+it)*ul]
			}
			unfoldForward(vn, q, v, w.ns, w.ds, w.c, ws.pgleak, ws.glvl, &ws.rec, eps)
			v, vn = vn, v
		}
		// The reference evaluates every (source, neuron) pair and multiplies
		// absent synapses by a zero mask, and NaN * 0 is NaN: one NaN input
		// or neuron makes the whole row NaN in the next unfold. The kernels
		// skip absent synapses, and a NaN neuron stays NaN through the
		// unfolds, so making the row NaN once per step gives the same final
		// state and outputs.
		poisonNaNLanes(v, v, w.xt)
		if tp != nil {
			copy(tp[k*ul:(k+1)*ul], v)
		}
		if out.Y != nil && (out.AllSteps || t == steps-1) {
			for l := 0; l < nv; l++ {
				y := ws.outputRow(out.Y, b0+l, t)
				for i := range y {
					vi := v[i*lanes+l]
					switch ws.opts.OutputMapping {
					case Affine:
						y[i] = vi*p.OutputW[i] + p.OutputB[i]
					case Linear:
						y[i] = vi * p.OutputW[i]
					default:
						y[i] = vi
					}
				}
			}
		}
	}
	if out.H != nil {
		fromLanes(out.H, v, b0, nv, u)
	}
	// After an odd number of swaps v is the worker's vn buffer; keep the
	// two distinct for the next block.
	w.v, w.vn = v, vn
}

// poisonNaNLanes sets every entry of lane l of dst (n x lanes) to NaN when
// some entry of lane l of a or b is NaN.
func poisonNaNLanes[T Float](dst, a, b []T) {
	var bad [lanes]bool
	found := false
	for _, src := range [2][]T{a, b} {
		for i := 0; i+lanes <= len(src); i += lanes {
			blk := (*[lanes]T)(src[i : i+lanes])
			for l := range blk {
				if blk[l] != blk[l] {
					bad[l], found = true, true
				}
			}
		}
	}
	if !found {
		return
	}
	nan := T(math.NaN())
	for l, isBad := range bad {
		if isBad {
			for i := l; i < len(dst); i += lanes {
				dst[i] = nan
			}
		}
	}
}
