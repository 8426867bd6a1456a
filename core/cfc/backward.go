package cfc

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"

	"github.com/kerasncp-go/kerasncp-go/internal/kern32"
	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

// Backward propagates gradients through the sequence the last Forward
// (with Keep) ran in ws, and writes them into g. gy is the gradient of the
// loss with respect to that pass's outputs, shaped as its Output.Y was
// (every step or the last); gh and gc are the gradients with respect to
// the final state and memory (gc: mixed memory only). Any of them may be
// nil (zero). The model's parameters and the pass's inputs must not have
// changed since that Forward. Backward consumes the tape: a second
// Backward needs a new Forward.
func (m *Model[T]) Backward(ws *Workspace[T], gy, gh, gc []T, g Gradients[T]) error {
	if !ws.taped || ws.model != m {
		return errors.New("cfc: Backward needs a Forward of this model with Keep on the same workspace (once per Forward)")
	}
	b, t, n := ws.seq.Batch, ws.seq.Steps, m.state
	st := axis{"state", n}
	o := axis{"output", m.OutputSize()}
	if gy != nil {
		if ws.allSteps {
			if err := checkShape("gy", len(gy), axis{"batch", b}, axis{"steps", t}, o); err != nil {
				return err
			}
		} else if err := checkShape("gy", len(gy), axis{"batch", b}, o); err != nil {
			return err
		}
	}
	if gh != nil {
		if err := checkShape("gh", len(gh), axis{"batch", b}, st); err != nil {
			return err
		}
	}
	if !m.cfg.MixedMemory && (gc != nil || g.C0 != nil) {
		return errors.New("cfc: gc and grad c0 are only for mixed memory (this model has none)")
	}
	if gc != nil {
		if err := checkShape("gc", len(gc), axis{"batch", b}, st); err != nil {
			return err
		}
	}
	if g.X != nil {
		if err := checkShape("grad x", len(g.X), axis{"batch", b}, axis{"steps", t}, axis{"input", m.cfg.InputSize}); err != nil {
			return err
		}
	}
	if g.H0 != nil {
		if err := checkShape("grad h0", len(g.H0), axis{"batch", b}, st); err != nil {
			return err
		}
	}
	if g.C0 != nil {
		if err := checkShape("grad c0", len(g.C0), axis{"batch", b}, st); err != nil {
			return err
		}
	}
	if g.Elapsed != nil {
		if err := checkShape("grad elapsed", len(g.Elapsed), axis{"batch", b}, axis{"steps", t}); err != nil {
			return err
		}
	}
	if g.Params != nil && len(g.Params) != len(m.Params) {
		return fmt.Errorf("cfc: grad params must hold %d values (the model's), got %d", len(m.Params), len(g.Params))
	}
	sw := m.splitWork(b, t)
	rows, nb := blocks(b, sw)
	nw := min(sw, nb)
	ws.ensureWorkers(m, nw, rows, true)
	if m.cfg.Mode == Pure {
		ws.acc = grow(ws.acc, b*2*n)
		clear(ws.acc)
	}
	if nw == 1 { // no closure to allocate
		for i := 0; i < nb; i++ {
			ws.backwardBlock(&ws.workers[0], i, rows, gy, gh, gc, g)
		}
	} else {
		machine.Each(nw, nb, func(w, i int) {
			ws.backwardBlock(&ws.workers[w], i, rows, gy, gh, gc, g)
		})
	}
	ws.taped = false
	if machine.Interrupted() {
		return machine.ErrInterrupted
	}
	if g.Params != nil {
		ws.paramGrads(gy, g.Params)
	}
	return nil
}

// backwardBlock runs backwardRows over block i of rows rows.
func (ws *Workspace[T]) backwardBlock(w *worker[T], i, rows int, gy, gh, gc []T, g Gradients[T]) {
	ws.backwardRows(w, i*rows, min(ws.seq.Batch, (i+1)*rows), gy, gh, gc, g)
}

func (ws *Workspace[T]) backwardRows(w *worker[T], b0, b1 int, gy, gh, gc []T, g Gradients[T]) {
	m := ws.model
	nr, s := b1-b0, m.stride
	batch, steps := ws.seq.Batch, ws.seq.Steps
	in, n := m.cfg.InputSize, m.state
	dS, dPrev, dC := w.dS[:nr*n], w.dPrev[:nr*n], w.dC[:nr*n]
	if gh != nil {
		copy(dS, gh[b0*n:b1*n])
	} else {
		clear(dS)
	}
	if gc != nil {
		copy(dC, gc[b0*n:b1*n])
	} else {
		clear(dC)
	}
	last := &m.layers[len(m.layers)-1]
	po := m.OutputSize()
	drop := ws.pass.Train && m.cfg.BackboneDropout > 0
	for t := steps - 1; t >= 0; t-- {
		if machine.Interrupted() {
			return // Backward reports it
		}
		cur := ws.tape[(t*batch+b0)*s:]
		if gy != nil && (ws.allSteps || t == steps-1) {
			gyt, ld := gy[b0*po:], po
			if ws.allSteps {
				gyt, ld = gy[(b0*steps+t)*po:], steps*po
			}
			if m.projW >= 0 {
				prod(nr, last.n, po, gyt, ld, ws.projWT, m.Params[m.projW:], 1, dS[last.sOff:], n)
			} else {
				for i := 0; i < nr; i++ {
					d := dS[i*n+last.sOff : i*n+last.sOff+last.n]
					for j, v := range gyt[i*ld : i*ld+po] {
						d[j] += v
					}
				}
			}
		}
		dts := w.dts[:nr]
		clear(dts)
		for l := len(m.layers) - 1; l >= 0; l-- {
			L := &m.layers[l]
			ws.headsBackward(w, L, cur, dS, dts, b0, nr, t)
			if len(L.bu) == 0 {
				// No backbone: the gradients of [input | h] go straight
				// where they are summed or kept, one product each (none
				// for inputs nobody asked the gradient of).
				dh, hWT, hW := cur[L.tHead:], ws.headWT[l], ws.headW[l]
				switch {
				case l > 0:
					pl := &m.layers[l-1]
					prodLd(nr, L.in, L.nh, dh, s, hWT, L.nh, hW, L.hw, 1, dS[pl.sOff:], n)
				case g.X != nil:
					prodLd(nr, in, L.nh, dh, s, hWT, L.nh, hW, L.hw, 0, g.X[(b0*steps+t)*in:], steps*in)
				}
				prodLd(nr, L.n, L.nh, dh, s, hWT[L.in*L.nh:], L.nh, hW[L.in:], L.hw, 0, dPrev[L.sOff:], n)
				continue
			}
			da, db := w.dA, w.dB
			prod(nr, L.hw, L.nh, cur[L.tHead:], s, ws.headWT[l], ws.headW[l], 0, da, L.hw)
			for k := len(L.bu) - 1; k >= 0; k-- {
				bu := L.bu[k]
				for i := 0; i < nr; i++ {
					pre := cur[i*s+L.tPre[k] : i*s+L.tPre[k]+bu]
					dz := da[i*bu : (i+1)*bu]
					if drop && (k > 0 || m.cfg.Keras) {
						m.applyDropoutGrad(ws, dz, k, t, b0+i)
					}
					// pre holds the derivative, left by Forward.
					if useKernel[T]() {
						kern32.Mul(as32(pre), as32(dz), as32(pre))
						continue
					}
					for j, d := range pre {
						pre[j] = dz[j] * d
					}
				}
				pw := L.cat
				if k > 0 {
					pw = L.bu[k-1]
				}
				prod(nr, pw, bu, cur[L.tPre[k]:], s, ws.bbWT[l][k], m.Params[L.bbW[k]:], 0, db, pw)
				da, db = db, da
			}
			// da is now the gradient of [input | h] (nr x cat).
			for i := 0; i < nr; i++ {
				dcat := da[i*L.cat : (i+1)*L.cat]
				if l > 0 {
					pl := &m.layers[l-1]
					d := dS[i*n+pl.sOff : i*n+pl.sOff+pl.n]
					for j, v := range dcat[:L.in] {
						d[j] += v
					}
				} else if g.X != nil {
					copy(g.X[((b0+i)*steps+t)*in:], dcat[:in])
				}
				copy(dPrev[i*n+L.sOff:i*n+L.sOff+L.n], dcat[L.in:])
			}
		}
		if m.cfg.MixedMemory {
			m.lstmBackward(cur, dPrev, dC, nr)
			cw := in + n
			prod(nr, cw, 4*n, cur[m.tLZ:], s, ws.lstmWT, ws.lstmW, 0, w.dL, cw)
			for i := 0; i < nr; i++ {
				dl := w.dL[i*cw : (i+1)*cw]
				copy(dS[i*n:(i+1)*n], dl[in:])
				if g.X != nil {
					dx := g.X[((b0+i)*steps+t)*in : ((b0+i)*steps+t+1)*in]
					for j, v := range dl[:in] {
						dx[j] += v
					}
				}
			}
		} else {
			dS, dPrev = dPrev, dS
		}
		if g.Elapsed != nil {
			for i, v := range dts {
				g.Elapsed[(b0+i)*steps+t] = v
			}
		}
	}
	if g.H0 != nil {
		copy(g.H0[b0*n:b1*n], dS)
	}
	if g.C0 != nil {
		copy(g.C0[b0*n:b1*n], dC)
	}
}

// headsBackward turns the gradient of layer L's new state (in dS) into the
// gradients of its head pre-activations, written over them in the tape,
// and adds the elapsed-time gradients into dts and pure mode's parameter
// gradients into their rows' accumulators.
func (ws *Workspace[T]) headsBackward(w *worker[T], L *layer, cur, dS, dts []T, b0, nr, t int) {
	m := ws.model
	p := m.Params
	s, n := m.stride, m.state
	if m.headsOnKernel() {
		// Every row in one kernel call (see kern32.CfCHeadsGrad).
		ts, tsld := ws.times(b0, t)
		kern32.CfCHeadsGrad(as32(cur), s, nr, L.tHead, as32(dS[L.sOff:]), n, L.n, ts, tsld, as32(dts),
			m.cfg.Keras, m.cfg.Mode == NoGate)
		return
	}
	for i := 0; i < nr; i++ {
		r := cur[i*s : (i+1)*s]
		ts := ws.ts(b0+i, t)
		dh := dS[i*n+L.sOff : i*n+L.sOff+L.n]
		f1 := r[L.tHead : L.tHead+L.n]
		var dt float64
		if m.cfg.Mode == Pure {
			wtau, amp := p[L.wtau:L.wtau+L.n], p[L.a:L.a+L.n]
			acc := ws.acc[(b0+i)*2*n:]
			dAmp, dWtau := acc[L.sOff:L.sOff+L.n], acc[n+L.sOff:n+L.sOff+L.n]
			for j, f := range f1 {
				ff, wt, a, d := float64(f), float64(wtau[j]), float64(amp[j]), float64(dh[j])
				u := math.Abs(wt) + math.Abs(ff)
				e := math.Exp(-ts * u)
				dAmp[j] += T(d * (1 - e*ff))
				de := -a * ff * d
				du := -de * e * ts
				f1[j] = T(-a*e*d + du*sign(ff))
				dWtau[j] += T(du * sign(wt))
				dt -= de * e * u
			}
			dts[i] += T(dt)
			continue
		}
		f2 := r[L.tHead+L.n : L.tHead+2*L.n]
		ta := r[L.tHead+2*L.n : L.tHead+3*L.n]
		tb := r[L.tHead+3*L.n : L.tHead+4*L.n]
		keras := m.cfg.Keras
		for j := range f1 {
			// Forward left [tanh(ff1) | tanh(ff2) | s | time_a] (Keras
			// variant: [ff1 | ff2 | s | time_a], s = sigmoid(-time_a dt + time_b)).
			t1, t2, g, a := float64(f1[j]), float64(f2[j]), float64(ta[j]), float64(tb[j])
			d := float64(dh[j])
			dt1, dt2, dg := d*(1-g), d*g, d*(t2-t1)
			if m.cfg.Mode == NoGate {
				dt1, dg = d, d*t2
			}
			dp := dg * g * (1 - g)
			if keras {
				dt -= dp * a
				f1[j], f2[j] = T(dt1), T(dt2)
				ta[j] = T(-dp * ts)
			} else {
				dt += dp * a
				f1[j] = T(dt1 * (1 - t1*t1))
				f2[j] = T(dt2 * (1 - t2*t2))
				ta[j] = T(dp * ts)
			}
			tb[j] = T(dp)
		}
		dts[i] += T(dt)
	}
}

// applyDropoutGrad passes a gradient through the dropout mask Forward drew.
func (m *Model[T]) applyDropoutGrad(ws *Workspace[T], dz []T, k, t, b int) {
	rate := m.cfg.BackboneDropout
	scale := T(1 / (1 - rate))
	for j := range dz {
		if dropKeep(ws.pass.Seed, k, t, b, j, ws.seq.Steps, ws.seq.Batch, len(dz), rate) {
			dz[j] *= scale
		} else {
			dz[j] = 0
		}
	}
}

// lstmBackward turns the gradient of the LSTM's output h' (dh, from the
// CfC layers) and of its memory c' (dc) into the gradients of its gate
// pre-activations, written over them in the tape, and leaves in dc the
// gradient of the previous memory.
func (m *Model[T]) lstmBackward(cur, dh, dc []T, nr int) {
	n, s := m.state, m.stride
	for i := 0; i < nr; i++ {
		r := cur[i*s : (i+1)*s]
		z := r[m.tLZ : m.tLZ+4*n]
		cp, cn := r[m.tCPrev:m.tCPrev+n], r[m.tCNew:m.tCNew+n]
		for k := 0; k < n; k++ {
			// Forward left the gates' values.
			ia, ig, fg, og := float64(z[k]), float64(z[n+k]), float64(z[2*n+k]), float64(z[3*n+k])
			tc := math.Tanh(float64(cn[k]))
			d := float64(dh[i*n+k])
			dcn := float64(dc[i*n+k]) + d*og*(1-tc*tc)
			z[k] = T(dcn * ig * (1 - ia*ia))
			z[n+k] = T(dcn * ia * ig * (1 - ig))
			z[2*n+k] = T(dcn * float64(cp[k]) * fg * (1 - fg))
			z[3*n+k] = T(d * tc * og * (1 - og))
			dc[i*n+k] = T(dcn * fg)
		}
	}
}

// gradJob is one tile of a parameter gradient: C = sum over reps of
// A_r^T B_r (A_r = a[r*aStep:], k x m with leading dimension lda; B_r
// likewise, k x n), or, with b nil, the column sums c[j] = sum over reps
// and rows of A_r[row, j].
type gradJob[T Float] struct {
	m, n, k      int
	a, b, c      []T
	lda, ldb     int
	ldc          int
	reps         int
	aStep, bStep int
}

// packRows is how many rows of A and B a gradient job transposes at a
// time: the product then runs as m x n dot products of that length, which
// gonum's kernels compute faster than the k x m short axpys of a
// transposed-A product.
const packRows = 256

// run computes the job, using buf (at least (m+n) x packRows values) to
// transpose row blocks of A and B for gonum. The kernels read A and B in
// place and take column sums with kern32.ColSum.
func (j *gradJob[T]) run(buf []T) {
	for r := 0; r < j.reps; r++ {
		a := j.a[r*j.aStep:]
		if j.b == nil && useKernel[T]() {
			beta := float32(1)
			if r == 0 {
				beta = 0
			}
			kern32.ColSum(j.n, j.k, as32(a), j.lda, beta, as32(j.c))
			continue
		}
		if j.b == nil {
			c := j.c[:j.n]
			if r == 0 {
				clear(c)
			}
			for row := 0; row < j.k; row++ {
				for i, v := range a[row*j.lda : row*j.lda+j.n] {
					c[i] += v
				}
			}
			continue
		}
		b := j.b[r*j.bStep:]
		if useKernel[T]() { // the kernels read the tape in place
			beta := float32(1)
			if r == 0 {
				beta = 0
			}
			kern32.Gemm(true, j.m, j.n, j.k, as32(a), j.lda, as32(b), j.ldb, beta, as32(j.c), j.ldc)
			continue
		}
		for k0 := 0; k0 < j.k; k0 += packRows {
			kk := min(packRows, j.k-k0)
			at, bt := buf[:j.m*kk], buf[j.m*kk:(j.m+j.n)*kk]
			transpose(at, a[k0*j.lda:], kk, j.m, j.lda)
			transpose(bt, b[k0*j.ldb:], kk, j.n, j.ldb)
			beta := T(1)
			if r == 0 && k0 == 0 {
				beta = 0
			}
			gemmTile(blas.NoTrans, blas.Trans, j.m, j.n, kk, at, kk, bt, kk, beta, j.c, j.ldc)
		}
	}
}

// transpose writes the rows x cols matrix src (leading dimension ld) into
// dst as cols x rows, eight source rows at a time so that every write
// stream is contiguous.
func transpose[T Float](dst, src []T, rows, cols, ld int) {
	l0 := 0
	for ; l0+8 <= rows; l0 += 8 {
		r0 := src[l0*ld : l0*ld+cols]
		r1 := src[(l0+1)*ld : (l0+1)*ld+cols]
		r2 := src[(l0+2)*ld : (l0+2)*ld+cols]
		r3 := src[(l0+3)*ld : (l0+3)*ld+cols]
		r4 := src[(l0+4)*ld : (l0+4)*ld+cols]
		r5 := src[(l0+5)*ld : (l0+5)*ld+cols]
		r6 := src[(l0+6)*ld : (l0+6)*ld+cols]
		r7 := src[(l0+7)*ld : (l0+7)*ld+cols]
		for i := 0; i < cols; i++ {
			d := (*[8]T)(dst[i*rows+l0:])
			d[0], d[1], d[2], d[3] = r0[i], r1[i], r2[i], r3[i]
			d[4], d[5], d[6], d[7] = r4[i], r5[i], r6[i], r7[i]
		}
	}
	for ; l0 < rows; l0++ {
		for i, v := range src[l0*ld : l0*ld+cols] {
			dst[i*rows+l0] = v
		}
	}
}

// kernCols is the width of a gradient job's tile on the kernels, which
// read a tile's operands in place whatever its width: narrow tiles, taken
// by the goroutines as they come free, share the products evenly.
const kernCols = 32

// kernRows bounds the rows of a gradient job's tile on the kernels. A
// tile streams all k terms whatever its rows, so the rows are split
// evenly in multiples of the kernels' 6-row blocks (66 rows as one tile
// of 66, not 64 and a 2-row tile at a third of the kernels' speed).
const kernRows = 72

// kernSwap reports whether a gradient product of m x n on the kernels
// costs less computed transposed, n x m: they take rows 6 at a time and
// columns in 16-column blocks and an 8-column one, so a narrow wired
// layer's input (K1's 66 columns: four blocks and 8 lanes for 2) wastes
// less as rows than as columns, while its 4n heads fill blocks.
func kernSwap[T Float](m, n int) bool {
	if !useKernel[T]() {
		return false
	}
	cost := func(m, n int) int {
		w := n &^ 15
		switch r := n & 15; {
		case r > 8:
			w += 16
		case r > 0:
			w += 8
		}
		return (m + 5) / 6 * w
	}
	return cost(n, m) < cost(m, n)
}

// addGemm queues C (m x n) = sum over reps of A_r^T B_r in tiles.
func (ws *Workspace[T]) addGemm(m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc, reps, aStep, bStep int) {
	tc, tr := tileCols, tileRows
	if useKernel[T]() {
		nt := (m + kernRows - 1) / kernRows
		tc, tr = kernCols, ((m+nt-1)/nt+5)/6*6
	}
	for i0 := 0; i0 < m; i0 += tr {
		for j0 := 0; j0 < n; j0 += tc {
			ws.jobs = append(ws.jobs, gradJob[T]{m: min(tr, m-i0), n: min(tc, n-j0), k: k,
				a: a[i0:], lda: lda, b: b[j0:], ldb: ldb, c: c[i0*ldc+j0:], ldc: ldc, reps: reps, aStep: aStep, bStep: bStep})
		}
	}
}

// addColsum queues c[j] = sum over reps and k rows of a[row*lda+j], j < n,
// in tiles of columns.
func (ws *Workspace[T]) addColsum(n, k int, a []T, lda int, c []T, reps, aStep int) {
	tc := tileCols
	if useKernel[T]() {
		tc = 32 // a pass of kern32.ColSum: tiles as wide stream the rows the fewest times
	}
	for j0 := 0; j0 < n; j0 += tc {
		ws.jobs = append(ws.jobs, gradJob[T]{n: min(tc, n-j0), k: k, a: a[j0:], lda: lda, c: c[j0:], reps: reps, aStep: aStep})
	}
}

// minParallelWork is the work (multiply-adds; for a pass, batch x steps x
// parameters) below which a pass or the gradient jobs run on the calling
// goroutine alone. A variable so that tests can split small cases.
var minParallelWork = 1 << 16

// jobsWork is the multiply-adds of the queued gradient jobs.
func jobsWork[T Float](jobs []gradJob[T]) int {
	w := 0
	for i := range jobs {
		j := &jobs[i]
		w += max(j.m, 1) * j.n * j.k * max(j.reps, 1)
	}
	return w
}

// paramGrads computes every parameter gradient from the tape, where the
// backward pass left the gradients of each product's output over its
// pre-activations, and the products' inputs are still in place: one
// product over all batch x steps rows per weight matrix.
func (ws *Workspace[T]) paramGrads(gy, dst []T) {
	m := ws.model
	p := m.Params
	tp := ws.tape
	s := m.stride
	batch, steps := ws.seq.Batch, ws.seq.Steps
	rows := batch * steps
	ws.jobs = ws.jobs[:0]
	// A backbone weight's gradient is computed transposed, width x bu,
	// into gradT, then transposed into place: bu is usually a multiple of
	// the kernels' 16 columns, an input width seldom (S1's 18 columns took
	// twice the time of their transpose).
	// The heads' weight gradients are one product of their stacked
	// pre-activation gradients (adjacent in the tape) into gradH, copied
	// into place afterwards: one pass over the backbone's outputs instead
	// of one per head. On the kernels that product may be computed
	// transposed (hw x nh), see kernSwap.
	nT, nH := 0, 0
	for _, L := range m.layers {
		width := L.cat
		for _, bu := range L.bu {
			nT += width * bu
			width = bu
		}
		nH += L.nh * L.hw
	}
	ws.gradT = grow(ws.gradT, nT)
	ws.gradH = grow(ws.gradH, nH)
	ws.gradHB = grow(ws.gradHB, m.state*numHeads)
	gT, gH, gHB := ws.gradT, ws.gradH, ws.gradHB
	for l := range m.layers {
		L := &m.layers[l]
		src, width := L.tCat, L.cat
		for k, bu := range L.bu {
			ws.addGemm(width, bu, rows, tp[src:], s, tp[L.tPre[k]:], s, gT, bu, 1, 0, 0)
			gT = gT[width*bu:]
			ws.addColsum(bu, rows, tp[L.tPre[k]:], s, dst[L.bbB[k]:], 1, 0)
			src, width = L.tPost[k], bu
		}
		if kernSwap[T](L.nh, L.hw) {
			ws.addGemm(L.hw, L.nh, rows, tp[src:], s, tp[L.tHead:], s, gH, L.nh, 1, 0, 0)
		} else {
			ws.addGemm(L.nh, L.hw, rows, tp[L.tHead:], s, tp[src:], s, gH, L.hw, 1, 0, 0)
		}
		gH = gH[L.nh*L.hw:]
		// The heads' bias gradients: one column sum over the stacked
		// heads, copied into place afterwards.
		ws.addColsum(L.nh, rows, tp[L.tHead:], s, gHB, 1, 0)
		gHB = gHB[L.nh:]
	}
	if m.lstmInW >= 0 {
		in, n := m.cfg.InputSize, m.state
		ws.addGemm(4*n, in, rows, tp[m.tLZ:], s, tp[m.tLCat:], s, dst[m.lstmInW:], in, 1, 0, 0)
		ws.addGemm(4*n, n, rows, tp[m.tLZ:], s, tp[m.tLCat+in:], s, dst[m.lstmRecW:], n, 1, 0, 0)
		ws.addColsum(4*n, rows, tp[m.tLZ:], s, dst[m.lstmInB:], 1, 0)
	}
	if m.projW >= 0 {
		po, last := m.OutputSize(), &m.layers[len(m.layers)-1]
		if gy == nil {
			clear(dst[m.projW : m.projW+po*last.n])
			clear(dst[m.projB : m.projB+po])
		} else if ws.allSteps {
			// gy is batch-major, the tape step-major: one product per step.
			ws.addGemm(po, last.n, batch, gy, steps*po, tp[last.tH:], s, dst[m.projW:], last.n, steps, po, batch*s)
			ws.addColsum(po, rows, gy, po, dst[m.projB:], 1, 0)
		} else {
			ws.addGemm(po, last.n, batch, gy, po, tp[(steps-1)*batch*s+last.tH:], s, dst[m.projW:], last.n, 1, 0, 0)
			ws.addColsum(po, batch, gy, po, dst[m.projB:], 1, 0)
		}
	}
	jobs := ws.jobs
	nj := machine.Workers(len(jobs))
	if work := jobsWork(jobs); work < minParallelWork {
		nj = 1 // starting a goroutine (and, from C, waking a thread) would cost more
	}
	ws.packBufs = grow(ws.packBufs, nj)
	for i := range ws.packBufs {
		ws.packBufs[i] = grow(ws.packBufs[i], (tileRows+tileCols)*packRows)
	}
	if nj == 1 {
		for i := range jobs {
			jobs[i].run(ws.packBufs[0])
		}
	} else {
		machine.Each(nj, len(jobs), func(w, i int) { jobs[i].run(ws.packBufs[w]) })
	}
	gT, gH, gHB = ws.gradT, ws.gradH, ws.gradHB
	for _, L := range m.layers {
		width := L.cat
		for k, bu := range L.bu {
			transpose(dst[L.bbW[k]:L.bbW[k]+bu*width], gT, width, bu, bu)
			gT, width = gT[width*bu:], bu
		}
		size := L.n * L.hw
		for h := 0; h < numHeads && L.headW[h] >= 0; h++ {
			if kernSwap[T](L.nh, L.hw) {
				transpose(dst[L.headW[h]:L.headW[h]+size], gH[h*L.n:], L.hw, L.n, L.nh)
			} else {
				copy(dst[L.headW[h]:L.headW[h]+size], gH[h*size:])
			}
		}
		gH = gH[L.nh*L.hw:]
		for h := 0; h < numHeads && L.headB[h] >= 0; h++ {
			copy(dst[L.headB[h]:L.headB[h]+L.n], gHB[h*L.n:])
		}
		gHB = gHB[L.nh:]
	}
	for _, L := range m.layers {
		if L.mask >= 0 {
			size := L.n * L.cat
			clear(dst[L.mask : L.mask+size])
			for h := headFF1; h <= headFF2 && L.headW[h] >= 0; h++ {
				d := dst[L.headW[h] : L.headW[h]+size]
				for j, mv := range p[L.mask : L.mask+size] {
					d[j] *= mv
				}
			}
		}
		if L.wtau >= 0 {
			for j := 0; j < L.n; j++ {
				var da, dw T // summed in row order: the same sums however the rows were shared out
				for a := ws.acc; len(a) > 0; a = a[2*m.state:] {
					da += a[L.sOff+j]
					dw += a[m.state+L.sOff+j]
				}
				dst[L.a+j], dst[L.wtau+j] = da, dw
			}
		}
	}
}
