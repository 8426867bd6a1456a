package cfc

import (
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

// Sequence is a batch of input sequences. X is required; H0, C0 and
// Elapsed may be nil (zero initial state and memory; elapsed time 1.0 for
// every step). C0 is for mixed memory only.
type Sequence[T Float] struct {
	Batch, Steps int
	X            []T // batch x steps x input
	H0           []T // batch x state, or nil
	C0           []T // batch x state, or nil
	Elapsed      []T // batch x steps, or nil; every value finite and > 0
}

// Output receives a forward pass. Y holds the outputs of every step
// (batch x steps x output) when AllSteps is true, else of the last step
// only (batch x output); it may be nil. H and C, when not nil, receive the
// final state and (mixed memory only) the final cell memory, batch x state.
type Output[T Float] struct {
	Y        []T
	AllSteps bool
	H, C     []T
}

// Pass says how Forward runs. Keep keeps the tape Backward needs. Train
// makes it a training pass: backbone dropout is drawn from Seed (the same
// Seed gives the same masks). Inference passes have no dropout.
type Pass struct {
	Keep  bool
	Train bool
	Seed  uint64
}

// Gradients receives a backward pass. Params, when not nil, has
// len(Model.Params) values and gets the gradient of every trainable entry
// at the entry's offset (non-trainable entries, the masks, get zeros). X,
// H0, C0 and Elapsed, when not nil, get the gradients of the inputs, the
// initial state and memory and the elapsed times (with Elapsed nil in the
// forward pass, those of elapsed times of 1.0). Everything is
// overwritten, not accumulated.
type Gradients[T Float] struct {
	Params    []T
	X, H0, C0 []T
	Elapsed   []T
}

// minRows is the fewest batch rows worth a goroutine of their own.
const minRows = 4

// Workspace holds what a forward pass keeps for the backward pass (the
// tape: batch x steps rows of the model's tape width, see the package doc)
// and per-goroutine scratch. The zero value is ready; reuse one across
// calls to avoid allocation (it grows as needed). A Workspace is used by
// one call at a time.
type Workspace[T Float] struct {
	model    *Model[T]
	seq      Sequence[T]
	allSteps bool
	pass     Pass
	taped    bool // a tape Backward can use is in place
	tape     []T
	// Packed from the parameters at each Forward: per layer the stacked
	// head weights (masked; nh x hw) and biases, and with mixed memory the
	// LSTM's [input_map | recurrent_map] weights and bias.
	headW, headB [][]T
	lstmW        []T
	// The same weights transposed (in x out): per layer the heads' and
	// each backbone layer's, then the LSTM's and the projection's. The
	// kernels' forward products read these, gonum's backward ones (see
	// prod).
	headWT   [][]T
	bbWT     [][][]T
	lstmWT   []T
	projWT   []T
	workers  []worker[T]
	acc      []T // pure mode: per batch row the state's amplitude and time-constant gradients
	jobs     []gradJob[T]
	packBufs [][]T // per goroutine of the gradient jobs
	gradT    []T   // the backbone weights' gradients, transposed (see paramGrads)
	gradH    []T   // the heads' weight gradients, stacked (see paramGrads)
	gradHB   []T   // the heads' bias gradients, stacked (see paramGrads)
}

// worker is one goroutine's scratch, sized for its rows.
type worker[T Float] struct {
	rows          []T // two steps of rows when there is no tape
	dS, dPrev, dC []T // rows x state
	dA, dB        []T // rows x widest layer input
	dL            []T // rows x (input + state)
	dts           []T // rows
}

// Release drops the workspace's references to the last call's inputs and
// model (keeping its buffers), so that a pooled workspace holds no pointer
// into memory its caller may free. Backward is not possible after Release
// until the next Forward.
func (ws *Workspace[T]) Release() {
	ws.seq = Sequence[T]{}
	ws.model = nil
	ws.taped = false
}

func grow[E any](s []E, n int) []E {
	if cap(s) < n {
		return make([]E, n)
	}
	return s[:n]
}

// split returns the number of goroutines for a batch.
func split(batch int) int { return machine.Workers((batch + minRows - 1) / minRows) }

// maxBlockRows is the most batch rows a block holds. A pass cuts its batch
// into blocks of rows, which its goroutines take one after another until
// none is left (machine.Each): a goroutine slowed down by another thread
// on its core (torch's OpenMP threads spin for milliseconds after each of
// torch's parallel operations) leaves its share to the others instead of
// holding up the pass. Blocks of 16 rows cost no more per row than larger
// ones: one step's rows of a block stay in the nearer caches.
var maxBlockRows = 16

// blocks cuts a pass over batch rows on nw goroutines into nb blocks of
// rows rows (the last may hold fewer): at most maxBlockRows, and at least
// one block per goroutine.
func blocks(batch, nw int) (rows, nb int) {
	rows = max(1, min(maxBlockRows, (batch+nw-1)/nw))
	return rows, (batch + rows - 1) / rows
}

// Splits reports whether a pass over batch x steps runs on more than one
// goroutine: whether a host that expects one soon has reason to call
// machine.Wake.
func (m *Model[T]) Splits(batch, steps int) bool { return m.splitWork(batch, steps) > 1 }

// splitWork is split for a pass of batch x steps rows over the model's
// parameters: one goroutine when the pass is too small to pay for starting
// another (from a C caller, waking a thread costs tens of microseconds).
func (m *Model[T]) splitWork(batch, steps int) int {
	if batch*steps*len(m.Params) < minParallelWork {
		return 1
	}
	return split(batch)
}

// maxWidth is the widest input of any layer's products (and its heads).
func (m *Model[T]) maxWidth() int {
	w := 0
	for _, L := range m.layers {
		w = max(w, L.cat, L.hw)
		for _, bu := range L.bu {
			w = max(w, bu)
		}
	}
	return w
}

func (ws *Workspace[T]) ensureWorkers(m *Model[T], nw, rows int, grads bool) {
	for len(ws.workers) < nw {
		ws.workers = append(ws.workers, worker[T]{})
	}
	n := m.state
	for i := 0; i < nw; i++ {
		w := &ws.workers[i]
		if !ws.pass.Keep {
			w.rows = grow(w.rows, 2*rows*m.stride)
		}
		if !grads {
			continue
		}
		w.dS, w.dPrev, w.dC = grow(w.dS, rows*n), grow(w.dPrev, rows*n), grow(w.dC, rows*n)
		mw := m.maxWidth()
		w.dA, w.dB = grow(w.dA, rows*mw), grow(w.dB, rows*mw)
		w.dL = grow(w.dL, rows*(m.cfg.InputSize+n))
		w.dts = grow(w.dts, rows)
	}
}

// pack copies the head weights (through the masks) and the LSTM weights
// into the stacked layouts the products use.
func (ws *Workspace[T]) pack(m *Model[T]) {
	p := m.Params
	ws.headW = grow(ws.headW, len(m.layers))
	ws.headB = grow(ws.headB, len(m.layers))
	for i, L := range m.layers {
		ws.headW[i] = grow(ws.headW[i], L.nh*L.hw)
		ws.headB[i] = grow(ws.headB[i], L.nh)
		for h := 0; h < numHeads && L.headW[h] >= 0; h++ {
			nw := L.n * L.hw
			dst := ws.headW[i][h*nw : (h+1)*nw]
			copy(dst, p[L.headW[h]:L.headW[h]+nw])
			if L.mask >= 0 && (h == headFF1 || h == headFF2) {
				for j, mv := range p[L.mask : L.mask+nw] {
					dst[j] *= mv
				}
			}
			copy(ws.headB[i][h*L.n:(h+1)*L.n], p[L.headB[h]:L.headB[h]+L.n])
		}
	}
	if m.lstmInW >= 0 {
		in, n := m.cfg.InputSize, m.state
		cw := in + n
		ws.lstmW = grow(ws.lstmW, 4*n*cw)
		for r := 0; r < 4*n; r++ {
			copy(ws.lstmW[r*cw:r*cw+in], p[m.lstmInW+r*in:m.lstmInW+(r+1)*in])
			copy(ws.lstmW[r*cw+in:(r+1)*cw], p[m.lstmRecW+r*n:m.lstmRecW+(r+1)*n])
		}
	}
	ws.headWT = grow(ws.headWT, len(m.layers))
	ws.bbWT = grow(ws.bbWT, len(m.layers))
	for i, L := range m.layers {
		ws.headWT[i] = grow(ws.headWT[i], L.nh*L.hw)
		transpose(ws.headWT[i], ws.headW[i], L.nh, L.hw, L.hw)
		ws.bbWT[i] = grow(ws.bbWT[i], len(L.bu))
		pw := L.cat
		for k, bu := range L.bu {
			ws.bbWT[i][k] = grow(ws.bbWT[i][k], bu*pw)
			transpose(ws.bbWT[i][k], p[L.bbW[k]:], bu, pw, pw)
			pw = bu
		}
	}
	if m.lstmInW >= 0 {
		cw := m.cfg.InputSize + m.state
		ws.lstmWT = grow(ws.lstmWT, 4*m.state*cw)
		transpose(ws.lstmWT, ws.lstmW, 4*m.state, cw, cw)
	}
	if m.projW >= 0 {
		po := m.cfg.ProjSize
		ws.projWT = grow(ws.projWT, po*m.outW)
		transpose(ws.projWT, p[m.projW:], po, m.outW, m.outW)
	}
}

// TapeBytes returns the memory a Forward with Keep over batch x steps
// keeps for Backward, in bytes (a float64: it can exceed what an int
// counts).
func (m *Model[T]) TapeBytes(batch, steps int) float64 {
	var v T
	return float64(batch) * float64(steps) * float64(m.stride) * float64(unsafe.Sizeof(v))
}

// TapeWidth is the number of values a tape keeps per batch row and step.
func (m *Model[T]) TapeWidth() int { return m.stride }

// checkTapeSize refuses a tape larger than the memory the process may use
// (the machine's, its container's, its address-space limit) or than an int
// counts: allocating it would end the process.
func (m *Model[T]) checkTapeSize(batch, steps int) error {
	if err := machine.CheckAlloc("cfc: the tape of this call", m.TapeBytes(batch, steps)); err != nil {
		me := err.(*machine.MemoryError)
		me.Hint = fmt.Sprintf("batch=%d, steps=%d, %d values per row and step; "+
			"run shorter sequences or smaller batches per call, or run without a tape (no gradients)", batch, steps, m.stride)
		return me
	}
	return nil
}

// axis is one named dimension of an array.
type axis struct {
	name string
	n    int
}

// checkShape checks that the array name holds the product of the axes'
// sizes, formatting the shape only on failure.
func checkShape(name string, got int, axes ...axis) error {
	want, overflow := 1, false
	for _, a := range axes {
		if a.n != 0 && want > math.MaxInt/a.n {
			overflow = true
		}
		want *= a.n
	}
	if got == want && !overflow {
		return nil
	}
	parts := make([]string, len(axes))
	for i, a := range axes {
		parts[i] = fmt.Sprintf("%s=%d", a.name, a.n)
	}
	shape := "(" + strings.Join(parts, ", ") + ")"
	if overflow {
		return fmt.Errorf("cfc: %s of shape %s would hold more values than an int counts", name, shape)
	}
	return fmt.Errorf("cfc: %s must have shape %s = %d values, got %d", name, shape, want, got)
}

// checkParams checks that Params still fits the table.
func (m *Model[T]) checkParams() error {
	if len(m.Params) != m.numParams() {
		return fmt.Errorf("cfc: params must hold %d values, got %d", m.numParams(), len(m.Params))
	}
	return nil
}

func (m *Model[T]) numParams() int {
	e := m.Table[len(m.Table)-1]
	return e.Offset + e.Len()
}

func (m *Model[T]) checkSequence(in Sequence[T], out Output[T]) error {
	b, t := in.Batch, in.Steps
	if b < 1 {
		return fmt.Errorf("cfc: batch must be >= 1, got %d", b)
	}
	if t < 1 {
		return fmt.Errorf("cfc: steps must be >= 1, got %d", t)
	}
	st := axis{"state", m.state}
	if err := checkShape("x", len(in.X), axis{"batch", b}, axis{"steps", t}, axis{"input", m.cfg.InputSize}); err != nil {
		return err
	}
	if in.H0 != nil {
		if err := checkShape("h0", len(in.H0), axis{"batch", b}, st); err != nil {
			return err
		}
	}
	if in.C0 != nil {
		if !m.cfg.MixedMemory {
			return fmt.Errorf("cfc: c0 is only for mixed memory (this model has none)")
		}
		if err := checkShape("c0", len(in.C0), axis{"batch", b}, st); err != nil {
			return err
		}
	}
	if in.Elapsed != nil {
		if err := checkShape("elapsed", len(in.Elapsed), axis{"batch", b}, axis{"steps", t}); err != nil {
			return err
		}
		for i, e := range in.Elapsed {
			if !(e > 0) || math.IsInf(float64(e), 1) {
				return fmt.Errorf("cfc: elapsed times must be finite and > 0, got %v at batch %d, step %d", e, i/t, i%t)
			}
		}
	}
	o := axis{"output", m.OutputSize()}
	if out.Y != nil {
		if out.AllSteps {
			if err := checkShape("y", len(out.Y), axis{"batch", b}, axis{"steps", t}, o); err != nil {
				return err
			}
		} else if err := checkShape("y", len(out.Y), axis{"batch", b}, o); err != nil {
			return err
		}
	}
	if out.H != nil {
		if err := checkShape("h", len(out.H), axis{"batch", b}, st); err != nil {
			return err
		}
	}
	if out.C != nil {
		if !m.cfg.MixedMemory {
			return fmt.Errorf("cfc: c is only for mixed memory (this model has none)")
		}
		if err := checkShape("c", len(out.C), axis{"batch", b}, st); err != nil {
			return err
		}
	}
	return nil
}
