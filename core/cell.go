package core

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
)

// Sequence is a batch of input sequences. X is required; H0 and Elapsed may
// be nil (zero initial state; elapsed time 1.0 for every step).
type Sequence[T Float] struct {
	Batch, Steps int
	X            []T // batch x steps x sensory
	H0           []T // batch x units, or nil
	Elapsed      []T // batch x steps, or nil
}

// Output receives a forward pass. Y holds the outputs of every step
// (batch x steps x motor) when AllSteps is true, else of the last step only
// (batch x motor); it may be nil when only the state is wanted. H, if not
// nil, receives the final state (batch x units).
type Output[T Float] struct {
	Y        []T
	AllSteps bool
	H        []T
}

// Gradients receives a backward pass. Params, if not nil, must hold slices of
// the cell's parameter shapes (see Alloc); every trainable parameter's
// gradient is written there (masks are left alone). X, H0 and Elapsed, when
// not nil, receive the gradients of the inputs, the initial state and the
// elapsed times. Everything is overwritten, not accumulated.
type Gradients[T Float] struct {
	Params  *Params[T]
	X, H0   []T
	Elapsed []T
}

// Cell is an LTC cell: its shape, options and parameters. Its methods may
// be called from several goroutines at once as long as each uses its own
// Workspace and nobody modifies the parameters meanwhile.
type Cell[T Float] struct {
	Shape  Shape
	Opts   Options
	Params *Params[T]
}

// NewCell checks that the parameters fit the shape and options.
func NewCell[T Float](sh Shape, o Options, p *Params[T]) (*Cell[T], error) {
	if p == nil {
		return nil, errors.New("core: params must not be nil")
	}
	c := &Cell[T]{Shape: sh, Opts: o, Params: p}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate reports an error naming the first shape, option or parameter
// that does not fit (what NewCell checks).
func (c *Cell[T]) Validate() error {
	if c.Params == nil {
		return errors.New("core: params must not be nil")
	}
	if err := c.Shape.validate(); err != nil {
		return err
	}
	if err := c.Opts.Validate(); err != nil {
		return err
	}
	return c.Params.Check(c.Shape, c.Opts.InputMapping, c.Opts.OutputMapping)
}

// synapses is a compressed list of the synapses that exist (mask != 0),
// grouped by destination neuron: those into neuron j are entries
// start[j]..start[j+1]-1. Each entry carries its source, its flat index in
// the dense parameter matrices and the effective values the kernels use.
type synapses[T Float] struct {
	start []int32
	src   []int32
	flat  []int32
	wm    []T // P(w) * mask
	sigma []T
	mu    []T
	erev  []T
	mask  []T // the mask the structure was built from
	// The parameter values the entries were last filled from.
	lastW, lastSigma, lastMu, lastErev []T
	lastImplicit                       bool
}

func (s *synapses[T]) n() int { return len(s.src) }

// gather rebuilds the list for an nsrc x units mask: one pass counts the
// synapses into each neuron, a second fills them in, both reading the dense
// matrices in memory order.
func (s *synapses[T]) gather(units int, mask, w, sigma, mu, erev []T, implicit bool) {
	if len(s.start) == units+1 && sameValues(s.mask, mask) {
		// Same synapses as last time (the usual case while training).
		if implicit == s.lastImplicit && sameValues(s.lastW, w) && sameValues(s.lastSigma, sigma) &&
			sameValues(s.lastMu, mu) && sameValues(s.lastErev, erev) {
			return // and the same values (repeated inference)
		}
		s.remember(w, sigma, mu, erev, implicit)
		for e, f := range s.flat {
			pw := w[f]
			if implicit {
				pw = softplus(pw)
			}
			s.wm[e], s.sigma[e], s.mu[e], s.erev[e] = pw*mask[f], sigma[f], mu[f], erev[f]
		}
		return
	}
	s.mask = append(s.mask[:0], mask...)
	s.remember(w, sigma, mu, erev, implicit)
	nsrc := len(mask) / units
	s.start = grow(s.start, units+1)
	clear(s.start)
	n := 0
	for f, m := range mask[:nsrc*units] {
		if m != 0 {
			s.start[f%units+1]++
			n++
		}
	}
	for j := 0; j < units; j++ {
		s.start[j+1] += s.start[j]
	}
	s.src, s.flat = grow(s.src, n), grow(s.flat, n)
	s.wm, s.sigma, s.mu, s.erev = grow(s.wm, n), grow(s.sigma, n), grow(s.mu, n), grow(s.erev, n)
	// next[j] is where the next synapse into j goes; it ends as start[j+1].
	next := s.start[:units]
	for i := 0; i < nsrc; i++ {
		row := mask[i*units : (i+1)*units]
		for j, m := range row {
			if m == 0 {
				continue
			}
			f := i*units + j
			e := next[j]
			next[j]++
			pw := w[f]
			if implicit {
				pw = softplus(pw)
			}
			s.src[e], s.flat[e] = int32(i), int32(f)
			s.wm[e], s.sigma[e], s.mu[e], s.erev[e] = pw*m, sigma[f], mu[f], erev[f]
		}
	}
	// Shift the ends back into starts.
	copy(s.start[1:], s.start[:units])
	s.start[0] = 0
}

// remember keeps copies of the values the entries are filled from.
func (s *synapses[T]) remember(w, sigma, mu, erev []T, implicit bool) {
	s.lastW = append(s.lastW[:0], w...)
	s.lastSigma = append(s.lastSigma[:0], sigma...)
	s.lastMu = append(s.lastMu[:0], mu...)
	s.lastErev = append(s.lastErev[:0], erev...)
	s.lastImplicit = implicit
}

// sameValues reports whether a and b hold the same bits, comparing their
// memory with the runtime's vectorized bytes.Equal.
func sameValues[T Float](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	n := len(a) * int(unsafe.Sizeof(a[0]))
	return bytes.Equal(unsafe.Slice((*byte)(unsafe.Pointer(&a[0])), n), unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), n))
}

func grow[E any](s []E, n int) []E {
	if cap(s) < n {
		return make([]E, n)
	}
	return s[:n]
}

// lanes is the number of batch rows the kernels advance together. State is
// kept lane-interleaved within a block of rows: v[i*lanes+l] is neuron i of
// row l of the block, so one synapse's parameters serve every lane and a
// vector unit can process the lanes at once.
const lanes = 8

// Workspace holds what a forward pass keeps for the backward pass (the
// states of every ODE unfold and their denominators: about
// batch x steps x (2*unfolds+1) x units values, the batch rounded up to a
// multiple of 8) and per-goroutine scratch. Reuse one across calls to avoid
// allocation; it grows as needed. A Workspace is used by one call at a time.
type Workspace[T Float] struct {
	// Prepared from the parameters at each Forward.
	rec, sen    synapses[T]
	pgleak, pcm []T
	glvl        []T // P(gleak) * vleak
	sh          Shape
	opts        Options
	params      *Params[T]
	seq         Sequence[T]
	allSteps    bool
	taped       bool
	tape        []T
	workers     []worker[T]
}

// worker is one goroutine's scratch and gradient accumulators. Slices
// marked "lanes" hold lanes values per entry.
type worker[T Float] struct {
	xt, v, vn, ns, ds, c []T // lanes
	// backward
	gv, gvn, gc, gns, gds, gxt, gnum, gden []T // lanes
	// Synapse gradient accumulators (lanes, summed over lanes at the end):
	// sum of ga*sigmoid (for w), gz*(v-mu) (sigma), gz (mu), gnum*a (erev).
	dRecWm, dRecSigma, dRecMu, dRecErev []T
	dSenWm, dSenSigma, dSenMu, dSenErev []T
	// Per-neuron and mapping gradients, summed over lanes as they come.
	dGleak, dVleak, dCm      []T
	dInW, dInB, dOutW, dOutB []T
}

func (ws *Workspace[T]) prepare(c *Cell[T]) {
	p, u := c.Params, c.Shape.Units
	imp := c.Opts.ImplicitConstraints
	ws.sh, ws.opts, ws.params = c.Shape, c.Opts, p
	ws.rec.gather(u, p.SparsityMask, p.W, p.Sigma, p.Mu, p.Erev, imp)
	ws.sen.gather(u, p.SensorySparsityMask, p.SensoryW, p.SensorySigma, p.SensoryMu, p.SensoryErev, imp)
	ws.pgleak = grow(ws.pgleak, u)
	ws.pcm = grow(ws.pcm, u)
	ws.glvl = grow(ws.glvl, u)
	for j := 0; j < u; j++ {
		ws.pgleak[j], ws.pcm[j] = p.Gleak[j], p.Cm[j]
		if imp {
			ws.pgleak[j], ws.pcm[j] = softplus(p.Gleak[j]), softplus(p.Cm[j])
		}
		ws.glvl[j] = ws.pgleak[j] * p.Vleak[j]
	}
}

// Release drops the workspace's references to the last call's inputs and
// parameters (keeping its buffers), so that a pooled workspace holds no
// pointer into memory its caller may free. Backward is not possible after
// Release until the next Forward.
func (ws *Workspace[T]) Release() {
	ws.seq = Sequence[T]{}
	ws.params = nil
	ws.taped = false
}

// numBlocks is the number of lane blocks a batch fills.
func numBlocks(batch int) int { return (batch + lanes - 1) / lanes }

// SetThreads caps how many goroutines one pass splits its batch over, for
// this package's cells and core/cfc's models alike: n >= 1, or 0 to lift
// the cap (the default: GOMAXPROCS). A cap above GOMAXPROCS changes
// nothing; passes already running keep their split. Outputs do not depend
// on it; parameter gradients summed per goroutine first can differ in
// rounding.
func SetThreads(n int64) error { return machine.SetThreads(n) }

// Threads is how many goroutines a pass may split its batch over now.
func Threads() int { return machine.Threads() }

// numWorkers is how many goroutines share nblocks blocks.
func numWorkers(nblocks int) int { return machine.Workers(nblocks) }

func (ws *Workspace[T]) ensureWorkers(n int, grads bool) {
	for len(ws.workers) < n {
		ws.workers = append(ws.workers, worker[T]{})
	}
	u, s, m := ws.sh.Units*lanes, ws.sh.Sensory*lanes, ws.sh.Motor
	for i := 0; i < n; i++ {
		w := &ws.workers[i]
		w.xt, w.v, w.vn = grow(w.xt, s), grow(w.v, u), grow(w.vn, u)
		w.ns, w.ds, w.c = grow(w.ns, u), grow(w.ds, u), grow(w.c, u)
		if !grads {
			continue
		}
		w.gv, w.gvn, w.gc = grow(w.gv, u), grow(w.gvn, u), grow(w.gc, u)
		w.gns, w.gds, w.gxt = grow(w.gns, u), grow(w.gds, u), grow(w.gxt, s)
		w.gnum, w.gden = grow(w.gnum, u), grow(w.gden, u)
		nr, nsn := ws.rec.n()*lanes, ws.sen.n()*lanes
		w.dRecWm, w.dRecSigma = zeroed(w.dRecWm, nr), zeroed(w.dRecSigma, nr)
		w.dRecMu, w.dRecErev = zeroed(w.dRecMu, nr), zeroed(w.dRecErev, nr)
		w.dSenWm, w.dSenSigma = zeroed(w.dSenWm, nsn), zeroed(w.dSenSigma, nsn)
		w.dSenMu, w.dSenErev = zeroed(w.dSenMu, nsn), zeroed(w.dSenErev, nsn)
		un, sn := ws.sh.Units, ws.sh.Sensory
		w.dGleak, w.dVleak, w.dCm = zeroed(w.dGleak, un), zeroed(w.dVleak, un), zeroed(w.dCm, un)
		w.dInW, w.dInB = zeroed(w.dInW, sn), zeroed(w.dInB, sn)
		w.dOutW, w.dOutB = zeroed(w.dOutW, m), zeroed(w.dOutB, m)
	}
}

func zeroed[T Float](s []T, n int) []T {
	s = grow(s, n)
	clear(s)
	return s
}

// parallel runs fn over [0, n) split into nw contiguous chunks and
// re-raises a worker's panic in the caller (see machine.Parallel).
func parallel(nw, n int, fn func(w, lo, hi int)) { machine.Parallel(nw, n, fn) }

func checkLen(name string, got, want int, shape string) error {
	if got != want {
		return fmt.Errorf("core: %s must have shape %s = %d values, got %d", name, shape, want, got)
	}
	return nil
}

// axis is one named dimension of an array.
type axis struct {
	name string
	n    int
}

// checkShape checks that an array named name holds the product of the
// axes' sizes; the shape is formatted, as "(batch=2, units=19)", only on
// failure, so that the check costs nothing on every call.
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
		return fmt.Errorf("core: %s of shape %s would hold more values than an int counts", name, shape)
	}
	return checkLen(name, got, want, shape)
}

func (c *Cell[T]) checkSequence(in Sequence[T], out Output[T]) error {
	u, s, m := c.Shape.Units, c.Shape.Sensory, c.Shape.Motor
	b, t := in.Batch, in.Steps
	if b < 1 {
		return fmt.Errorf("core: batch must be >= 1, got %d", b)
	}
	if t < 1 {
		return fmt.Errorf("core: steps must be >= 1, got %d", t)
	}
	if err := checkShape("x", len(in.X), axis{"batch", b}, axis{"steps", t}, axis{"sensory", s}); err != nil {
		return err
	}
	if in.H0 != nil {
		if err := checkShape("h0", len(in.H0), axis{"batch", b}, axis{"units", u}); err != nil {
			return err
		}
	}
	if in.Elapsed != nil {
		if err := checkShape("elapsed", len(in.Elapsed), axis{"batch", b}, axis{"steps", t}); err != nil {
			return err
		}
	}
	if out.Y != nil {
		if out.AllSteps {
			if err := checkShape("y", len(out.Y), axis{"batch", b}, axis{"steps", t}, axis{"motor", m}); err != nil {
				return err
			}
		} else if err := checkShape("y", len(out.Y), axis{"batch", b}, axis{"motor", m}); err != nil {
			return err
		}
	}
	if out.H != nil {
		if err := checkShape("h", len(out.H), axis{"batch", b}, axis{"units", u}); err != nil {
			return err
		}
	}
	return nil
}
