package core

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Mapping is how inputs are mapped before, and motor states after, the ODE:
// Affine (x*w+b), Linear (x*w) or None (identity).
type Mapping int

// The mappings, named as the reference names them.
const (
	Affine Mapping = iota
	Linear
	None
)

func (m Mapping) String() string {
	switch m {
	case Affine:
		return "affine"
	case Linear:
		return "linear"
	case None:
		return "none"
	}
	return fmt.Sprintf("Mapping(%d)", int(m))
}

// ParseMapping converts a mapping name: "affine", "linear", or "none" (or
// "", the reference's None) for the identity. Any other name is an error:
// the reference silently treats it as the identity, which hides typos.
func ParseMapping(s string) (Mapping, error) {
	switch s {
	case "affine":
		return Affine, nil
	case "linear":
		return Linear, nil
	case "none", "":
		return None, nil
	}
	return None, fmt.Errorf("core: mapping must be \"affine\", \"linear\" or \"none\", got %q", s)
}

// Shape is the size of a cell: U neurons, S input features, M outputs.
type Shape struct {
	Units, Sensory, Motor int
}

// Options are the cell's hyperparameters; DefaultOptions gives the
// reference's defaults.
type Options struct {
	InputMapping, OutputMapping Mapping
	ODEUnfolds                  int     // semi-implicit Euler steps per time step (reference: 6)
	Epsilon                     float64 // added to the denominator (reference: 1e-8)
	// ImplicitConstraints makes w, sensory_w, cm and gleak enter the ODE
	// through softplus, as torch's implicit_param_constraints=True. When
	// false they enter as they are, and ApplyConstraints clamps them.
	ImplicitConstraints bool
}

// MaxODEUnfolds bounds Options.ODEUnfolds (the tape keeps every unfold's
// states, so memory grows with it; the reference uses 6).
const MaxODEUnfolds = 100000

// DefaultOptions returns the reference's defaults: affine mappings, 6
// unfolds, epsilon 1e-8, explicit constraints.
func DefaultOptions() Options {
	return Options{InputMapping: Affine, OutputMapping: Affine, ODEUnfolds: 6, Epsilon: 1e-8}
}

// Validate reports an error naming the first invalid option.
func (o Options) Validate() error {
	for _, m := range []struct {
		name string
		v    Mapping
	}{{"input_mapping", o.InputMapping}, {"output_mapping", o.OutputMapping}} {
		if m.v < Affine || m.v > None {
			return fmt.Errorf("core: %s must be affine, linear or none, got %v", m.name, m.v)
		}
	}
	if o.ODEUnfolds < 1 || o.ODEUnfolds > MaxODEUnfolds {
		return fmt.Errorf("core: ode_unfolds must be in [1, %d], got %d", MaxODEUnfolds, o.ODEUnfolds)
	}
	if !(o.Epsilon >= 0) || math.IsInf(o.Epsilon, 0) {
		return fmt.Errorf("core: epsilon must be a finite number >= 0, got %v", o.Epsilon)
	}
	return nil
}

// Params holds one cell's parameters under the reference's names, each a
// flat slice laid out as the package documentation says. Slices for a
// mapping the cell does not use are nil.
type Params[T Float] struct {
	Gleak, Vleak, Cm                               []T // U
	Sigma, Mu, W, Erev                             []T // U x U
	SensorySigma, SensoryMu, SensoryW, SensoryErev []T // S x U
	SparsityMask                                   []T // U x U, |adjacency|, not trained
	SensorySparsityMask                            []T // S x U, |sensory adjacency|, not trained
	InputW, InputB                                 []T // S
	OutputW, OutputB                               []T // M
}

// Field is one named parameter array of a Params.
type Field[T Float] struct {
	Name      string
	Shape     []int
	Trainable bool
	Data      *[]T
	// Index is the field's position in the full order, every mapping
	// present (gleak 0 ... output_b 16): the C ABI's KNCP_P_* value.
	Index int
}

// Len is the number of values the field's shape holds.
func (f Field[T]) Len() int { return size(f.Shape) }

// NumParams is the number of parameter arrays with every mapping present.
const NumParams = 17

// Fields lists the parameters in the reference's creation order (the order
// of torch's state_dict and of Keras's weights), with their shapes for a
// cell of shape sh under mappings in and out. Fields whose mapping is not
// used are left out.
func (p *Params[T]) Fields(sh Shape, in, out Mapping) []Field[T] {
	return p.FieldsInto(new([NumParams]Field[T]), new([7]int), sh, in, out)
}

// FieldsInto is Fields writing into buf and dims, which the caller owns: a
// caller that keeps both on its stack (the per-call paths) allocates
// nothing.
func (p *Params[T]) FieldsInto(buf *[NumParams]Field[T], dims *[7]int, sh Shape, in, out Mapping) []Field[T] {
	u, s, m := sh.Units, sh.Sensory, sh.Motor
	// One backing array serves every shape: U | U U | S U | S | M.
	*dims = [7]int{u, u, u, s, u, s, m}
	vu, vuu, vsu, vs, vm := dims[0:1:1], dims[1:3:3], dims[3:5:5], dims[5:6:6], dims[6:7:7]
	f := buf[:0]
	f = append(f,
		Field[T]{"gleak", vu, true, &p.Gleak, 0},
		Field[T]{"vleak", vu, true, &p.Vleak, 1},
		Field[T]{"cm", vu, true, &p.Cm, 2},
		Field[T]{"sigma", vuu, true, &p.Sigma, 3},
		Field[T]{"mu", vuu, true, &p.Mu, 4},
		Field[T]{"w", vuu, true, &p.W, 5},
		Field[T]{"erev", vuu, true, &p.Erev, 6},
		Field[T]{"sensory_sigma", vsu, true, &p.SensorySigma, 7},
		Field[T]{"sensory_mu", vsu, true, &p.SensoryMu, 8},
		Field[T]{"sensory_w", vsu, true, &p.SensoryW, 9},
		Field[T]{"sensory_erev", vsu, true, &p.SensoryErev, 10},
		Field[T]{"sparsity_mask", vuu, false, &p.SparsityMask, 11},
		Field[T]{"sensory_sparsity_mask", vsu, false, &p.SensorySparsityMask, 12},
	)
	if in != None {
		f = append(f, Field[T]{"input_w", vs, true, &p.InputW, 13})
		if in == Affine {
			f = append(f, Field[T]{"input_b", vs, true, &p.InputB, 14})
		}
	}
	if out != None {
		f = append(f, Field[T]{"output_w", vm, true, &p.OutputW, 15})
		if out == Affine {
			f = append(f, Field[T]{"output_b", vm, true, &p.OutputB, 16})
		}
	}
	return f
}

func size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Alloc returns zeroed parameters of shape sh for the given mappings.
func Alloc[T Float](sh Shape, in, out Mapping) *Params[T] {
	p := &Params[T]{}
	for _, f := range p.Fields(sh, in, out) {
		*f.Data = make([]T, f.Len())
	}
	return p
}

// Check reports an error naming the first parameter that is missing or has
// the wrong length for shape sh and mappings in and out, or a parameter that
// should be absent.
func (p *Params[T]) Check(sh Shape, in, out Mapping) error {
	var buf [NumParams]Field[T]
	var dims [7]int
	for _, f := range p.FieldsInto(&buf, &dims, sh, in, out) {
		if n := f.Len(); len(*f.Data) != n {
			return fmt.Errorf("core: parameter %s must have shape %v (%d values), got %d values", f.Name, f.Shape, n, len(*f.Data))
		}
	}
	for _, f := range []struct {
		name string
		v    []T
		used bool
	}{{"input_w", p.InputW, in != None}, {"input_b", p.InputB, in == Affine},
		{"output_w", p.OutputW, out != None}, {"output_b", p.OutputB, out == Affine}} {
		if !f.used && f.v != nil {
			return fmt.Errorf("core: parameter %s is present but the mapping does not use it", f.name)
		}
	}
	return nil
}

// Clone returns a deep copy.
func (p *Params[T]) Clone() *Params[T] {
	c := &Params[T]{}
	src := p.Fields(Shape{}, Affine, Affine)
	dst := c.Fields(Shape{}, Affine, Affine)
	for i := range src {
		if *src[i].Data != nil {
			*dst[i].Data = slices.Clone(*src[i].Data)
		}
	}
	return c
}

// InitRange is the interval a parameter's initial values are drawn from,
// uniformly; Lo == Hi gives a constant.
type InitRange struct{ Lo, Hi float64 }

// DefaultInitRanges are the reference's initial ranges.
func DefaultInitRanges() map[string]InitRange {
	return map[string]InitRange{
		"gleak": {0.001, 1.0}, "vleak": {-0.2, 0.2}, "cm": {0.4, 0.6},
		"w": {0.001, 1.0}, "sigma": {3, 8}, "mu": {0.3, 0.8},
		"sensory_w": {0.001, 1.0}, "sensory_sigma": {3, 8}, "sensory_mu": {0.3, 0.8},
	}
}

// Init returns the initial parameters of a cell over the given adjacency
// matrices (U x U and S x U, entries -1, 0, +1): uniform draws from ranges
// (DefaultInitRanges when nil; missing keys take the default), erev and
// sensory_erev equal to the polarities, masks equal to their absolute values,
// input_w and output_w 1, biases 0. The draws come from rng in the
// reference's order; the values cannot match the reference's, whose
// generators are PyTorch's or TensorFlow's.
func Init[T Float](sh Shape, adjacency, sensory []int32, o Options, ranges map[string]InitRange, rng *rand.Rand) (*Params[T], error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := sh.validate(); err != nil {
		return nil, err
	}
	if len(adjacency) != sh.Units*sh.Units {
		return nil, fmt.Errorf("core: adjacency must have units*units=%d entries, got %d", sh.Units*sh.Units, len(adjacency))
	}
	if len(sensory) != sh.Sensory*sh.Units {
		return nil, fmt.Errorf("core: sensory adjacency must have sensory*units=%d entries, got %d", sh.Sensory*sh.Units, len(sensory))
	}
	for _, m := range []struct {
		name string
		v    []int32
	}{{"adjacency", adjacency}, {"sensory adjacency", sensory}} {
		for i, x := range m.v {
			if x < -1 || x > 1 {
				return nil, fmt.Errorf("core: %s entries must be -1, 0 or 1, got %d at %d", m.name, x, i)
			}
		}
	}
	if rng == nil {
		return nil, errors.New("core: rng must not be nil")
	}
	r := DefaultInitRanges()
	for k, v := range ranges {
		if _, ok := r[k]; !ok {
			return nil, fmt.Errorf("core: unknown parameter %q in initialization ranges", k)
		}
		if !(v.Lo <= v.Hi) || math.IsInf(v.Lo, 0) || math.IsInf(v.Hi, 0) {
			return nil, fmt.Errorf("core: initialization range of %s must be finite with lo <= hi, got [%v, %v]", k, v.Lo, v.Hi)
		}
		if nonNegative[k] && v.Lo < 0 {
			return nil, fmt.Errorf("core: initialization range of %s must be non-negative, got [%v, %v]", k, v.Lo, v.Hi)
		}
		r[k] = v
	}
	p := Alloc[T](sh, o.InputMapping, o.OutputMapping)
	for _, f := range p.Fields(sh, o.InputMapping, o.OutputMapping) {
		d := *f.Data
		switch f.Name {
		case "erev", "sparsity_mask":
			fromPolarity(d, adjacency, f.Name == "sparsity_mask")
		case "sensory_erev", "sensory_sparsity_mask":
			fromPolarity(d, sensory, f.Name == "sensory_sparsity_mask")
		case "input_w", "output_w":
			fill(d, 1)
		case "input_b", "output_b":
		default:
			ir := r[f.Name]
			for i := range d {
				if ir.Lo == ir.Hi {
					d[i] = T(ir.Lo)
				} else {
					d[i] = T(ir.Lo + rng.Float64()*(ir.Hi-ir.Lo))
				}
			}
		}
	}
	return p, nil
}

// nonNegative are the parameters explicit constraints clamp at zero.
var nonNegative = map[string]bool{"gleak": true, "cm": true, "w": true, "sensory_w": true}

func fromPolarity[T Float](dst []T, pol []int32, abs bool) {
	for i, v := range pol {
		if abs && v < 0 {
			v = -v
		}
		dst[i] = T(v)
	}
}

func fill[T Float](d []T, v T) {
	for i := range d {
		d[i] = v
	}
}

func (sh Shape) validate() error {
	if sh.Units < 1 {
		return fmt.Errorf("core: units must be >= 1, got %d", sh.Units)
	}
	if sh.Sensory < 1 {
		return fmt.Errorf("core: input dimension (sensory size) must be >= 1, got %d", sh.Sensory)
	}
	if sh.Motor < 0 || sh.Motor > sh.Units {
		return fmt.Errorf("core: output dimension (motor size) must be in [0, units=%d], got %d", sh.Units, sh.Motor)
	}
	return nil
}

// ApplyConstraints clamps w, sensory_w, cm and gleak at zero, as the
// reference's apply_weight_constraints and Keras's NonNeg constraint do.
// Between two calls, an optimizer may push them negative; the forward pass
// then uses the negative values as they are (a negative conductance or
// capacitance, which can make the ODE step unstable), exactly as the
// reference does. With implicit constraints it is not needed.
func (p *Params[T]) ApplyConstraints() {
	for _, d := range [][]T{p.W, p.SensoryW, p.Cm, p.Gleak} {
		for i, v := range d {
			if v < 0 {
				d[i] = 0
			}
		}
	}
}
