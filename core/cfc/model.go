package cfc

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Entry is one parameter of a model: its name (the reference module's
// state_dict key), its shape in torch layout ((out, in) for Linear
// weights), where it starts in Model.Params, and whether it is trained
// (sparsity masks are not).
type Entry struct {
	Name      string
	Shape     []int
	Offset    int
	Trainable bool
}

// Len is the number of values of the entry (the product of its shape).
func (e Entry) Len() int {
	n := 1
	for _, d := range e.Shape {
		n *= d
	}
	return n
}

// The heads of a layer, in the order their weights are stacked.
const (
	headFF1 = iota
	headFF2
	headTimeA
	headTimeB
	numHeads
)

var headNames = [numHeads]string{"ff1", "ff2", "time_a", "time_b"}

// layer is one CfC layer: where its parameters sit in Model.Params and its
// values in a tape row (see the package doc).
type layer struct {
	in, n, cat int
	bu         []int // width of each backbone layer
	hw         int   // width the heads read: the last backbone width, or cat
	nh         int   // head outputs: 4n, or n in pure mode
	sOff       int   // where this layer's state starts in the model's state

	// Parameter offsets; -1 when absent.
	mask, wtau, a int
	bbW, bbB      []int
	headW, headB  [numHeads]int

	// Tape row offsets.
	tCat        int   // [input | h], cat values
	tPre, tPost []int // each backbone layer's pre-activation and output
	tHead       int   // head pre-activations, nh values
	tH          int   // new state, n values
}

// Model is a CfC, wired or not, with optional mixed memory and projection.
// Its parameters live in one flat slice, Params, described by Table in the
// reference's state_dict order. Methods may be called from several
// goroutines at once as long as each uses its own Workspace and nobody
// modifies Params meanwhile.
type Model[T Float] struct {
	Params []T
	Table  []Entry

	cfg    Config
	layers []layer
	state  int // state size: the sum of the layers' widths
	outW   int // width of the cell output (the last layer's)
	// Mixed memory (-1 offsets when absent).
	lstmInW, lstmInB, lstmRecW int
	tLCat, tLZ, tCPrev, tCNew  int
	// Projection (-1 when absent).
	projW, projB int
	stride       int // values per tape row
}

// New builds a model for cfg with parameters drawn from seed as the
// reference initializes them (the same distributions, not the same
// numbers): xavier_uniform for every CfC weight matrix (including pure
// mode's w_tau and A), U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for Linear
// biases and the projection, U(-0.1, 0.1) for the LSTM bias and an
// orthogonal LSTM recurrent matrix.
func New[T Float](cfg Config, seed uint64) (*Model[T], error) {
	specs, built, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	cfg.Wiring = built
	m := &Model[T]{cfg: cfg, lstmInW: -1, lstmInB: -1, lstmRecW: -1, projW: -1, projB: -1,
		tLCat: -1, tLZ: -1, tCPrev: -1, tCNew: -1}
	off := 0
	add := func(name string, trainable bool, shape ...int) int {
		e := Entry{Name: name, Shape: shape, Offset: off, Trainable: trainable}
		m.Table = append(m.Table, e)
		off += e.Len()
		return e.Offset
	}
	row := 0
	tape := func(n int) int { row += n; return row - n }
	wired := cfg.Wiring != nil
	for l, s := range specs {
		L := layer{in: s.in, n: s.n, cat: s.in + s.n, mask: -1, wtau: -1, a: -1, sOff: m.state}
		L.headW, L.headB = [numHeads]int{-1, -1, -1, -1}, [numHeads]int{-1, -1, -1, -1}
		m.state += s.n
		prefix := "rnn_cell."
		if wired {
			prefix = fmt.Sprintf("rnn_cell.layer_%d.", l)
		}
		if s.mask != nil {
			L.mask = add(prefix+"sparsity_mask", false, L.n, L.cat)
		}
		if cfg.Mode == Pure {
			L.wtau = add(prefix+"w_tau", true, 1, L.n)
			L.a = add(prefix+"A", true, 1, L.n)
		}
		prev := L.cat
		if !wired {
			for k := 0; k < cfg.BackboneLayers; k++ {
				// The reference's backbone is one Sequential: Linear and
				// activation, then Linear, activation (and Dropout) per
				// further layer; keys carry the Sequential's index.
				idx := 0
				if k > 0 {
					per := 2
					if cfg.BackboneDropout > 0 {
						per = 3
					}
					idx = 2 + (k-1)*per
				}
				bu := cfg.BackboneUnits
				L.bu = append(L.bu, bu)
				L.bbW = append(L.bbW, add(fmt.Sprintf("%sbackbone.%d.weight", prefix, idx), true, bu, prev))
				L.bbB = append(L.bbB, add(fmt.Sprintf("%sbackbone.%d.bias", prefix, idx), true, bu))
				prev = bu
			}
		}
		L.hw = prev
		nh := numHeads
		if cfg.Mode == Pure {
			nh = 1
		}
		L.nh = nh * L.n
		for h := 0; h < nh; h++ {
			L.headW[h] = add(prefix+headNames[h]+".weight", true, L.n, L.hw)
			L.headB[h] = add(prefix+headNames[h]+".bias", true, L.n)
		}
		m.layers = append(m.layers, L)
	}
	m.outW = specs[len(specs)-1].n
	in, n := cfg.InputSize, m.state
	if cfg.MixedMemory {
		m.lstmInW = add("lstm.input_map.weight", true, 4*n, in)
		m.lstmInB = add("lstm.input_map.bias", true, 4*n)
		m.lstmRecW = add("lstm.recurrent_map.weight", true, 4*n, n)
		m.tLCat, m.tLZ, m.tCPrev, m.tCNew = tape(in+n), tape(4*n), tape(n), tape(n)
	}
	if cfg.ProjSize > 0 {
		m.projW = add("fc.weight", true, cfg.ProjSize, m.outW)
		m.projB = add("fc.bias", true, cfg.ProjSize)
	}
	for i := range m.layers {
		L := &m.layers[i]
		L.tCat = tape(L.cat)
		for _, bu := range L.bu {
			L.tPre = append(L.tPre, tape(bu))
			L.tPost = append(L.tPost, tape(bu))
		}
		L.tHead = tape(L.nh)
		L.tH = tape(L.n)
	}
	m.stride = row
	m.Params = make([]T, off)
	m.init(specs, rand.New(rand.NewPCG(seed, 0x43664320)))
	return m, nil
}

func (m *Model[T]) init(specs []layerSpec, rng *rand.Rand) {
	uniform := func(dst []T, bound float64) {
		for i := range dst {
			dst[i] = T((2*rng.Float64() - 1) * bound)
		}
	}
	xavier := func(off, out, in int) {
		if out*in > 0 {
			uniform(m.Params[off:off+out*in], math.Sqrt(6/float64(in+out)))
		}
	}
	linearBias := func(off, out, in int) {
		bound := 0.0 // torch's choice for a Linear without inputs
		if in > 0 {
			bound = 1 / math.Sqrt(float64(in))
		}
		uniform(m.Params[off:off+out], bound)
	}
	for i, L := range m.layers {
		if L.mask >= 0 {
			for j, v := range specs[i].mask {
				m.Params[L.mask+j] = T(v)
			}
		}
		if L.wtau >= 0 {
			xavier(L.wtau, 1, L.n)
			xavier(L.a, 1, L.n)
		}
		prev := L.cat
		for k, bu := range L.bu {
			xavier(L.bbW[k], bu, prev)
			linearBias(L.bbB[k], bu, prev)
			prev = bu
		}
		for h := 0; h < numHeads; h++ {
			if L.headW[h] >= 0 {
				xavier(L.headW[h], L.n, L.hw)
				linearBias(L.headB[h], L.n, L.hw)
			}
		}
	}
	if m.lstmInW >= 0 {
		in, n := m.cfg.InputSize, m.state
		xavier(m.lstmInW, 4*n, in)
		uniform(m.Params[m.lstmInB:m.lstmInB+4*n], 0.1)
		orthogonal(m.Params[m.lstmRecW:m.lstmRecW+4*n*n], 4*n, n, rng)
	}
	if m.projW >= 0 {
		p, o := m.cfg.ProjSize, m.outW
		// Linear's default (kaiming_uniform with a=sqrt(5)) is this bound.
		uniform(m.Params[m.projW:m.projW+p*o], 1/math.Sqrt(float64(o)))
		linearBias(m.projB, p, o)
	}
}

// orthogonal fills dst (rows x cols, rows >= cols) with the Q factor of the
// QR decomposition of a standard normal matrix, its columns' signs fixed by
// R's diagonal: a matrix with orthonormal columns, drawn uniformly.
func orthogonal[T Float](dst []T, rows, cols int, rng *rand.Rand) {
	a := mat.NewDense(rows, cols, nil)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			a.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(a)
	var q, r mat.Dense
	qr.QTo(&q)
	qr.RTo(&r)
	for j := 0; j < cols; j++ {
		s := 1.0
		if r.At(j, j) < 0 {
			s = -1
		}
		for i := 0; i < rows; i++ {
			dst[i*cols+j] = T(s * q.At(i, j))
		}
	}
}

// Config returns the configuration the model was built from, with the
// model's own built copy of the wiring (a clone: changing it changes
// nothing).
func (m *Model[T]) Config() Config {
	c := m.cfg
	if c.Wiring != nil {
		c.Wiring = c.Wiring.Clone()
	}
	return c
}

// InputSize is the number of input features.
func (m *Model[T]) InputSize() int { return m.cfg.InputSize }

// StateSize is the width of the state h (and of c with mixed memory): the
// units of a plain CfC, the wiring's units of a wired one.
func (m *Model[T]) StateSize() int { return m.state }

// CellOutputSize is the width of the cell's output before the projection:
// the last layer's width.
func (m *Model[T]) CellOutputSize() int { return m.outW }

// OutputSize is the width of each output: ProjSize with a projection, else
// CellOutputSize.
func (m *Model[T]) OutputSize() int {
	if m.cfg.ProjSize > 0 {
		return m.cfg.ProjSize
	}
	return m.outW
}

// LayerSizes returns the width of each CfC layer, in state order.
func (m *Model[T]) LayerSizes() []int {
	s := make([]int, len(m.layers))
	for i, L := range m.layers {
		s[i] = L.n
	}
	return s
}

// Lookup returns the entry named name.
func (m *Model[T]) Lookup(name string) (Entry, bool) {
	for _, e := range m.Table {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Param returns the values of the entry named name (a view into Params),
// or nil when there is none.
func (m *Model[T]) Param(name string) []T {
	e, ok := m.Lookup(name)
	if !ok {
		return nil
	}
	return m.Params[e.Offset : e.Offset+e.Len()]
}
