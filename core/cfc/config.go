package cfc

import (
	"errors"
	"fmt"
	"math"

	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// Float is the element type of a model: float32 or float64.
type Float interface{ float32 | float64 }

// Mode is the CfC solution a layer computes (see the package doc).
type Mode int

// The modes, named as the reference names them.
const (
	Default Mode = iota // "default": gated, h' = tanh(ff1)(1-s) + s tanh(ff2)
	Pure                // "pure": the direct solution -A exp(-t(|w_tau|+|ff1|)) ff1 + A
	NoGate              // "no_gate": h' = tanh(ff1) + s tanh(ff2)
)

func (m Mode) String() string {
	switch m {
	case Default:
		return "default"
	case Pure:
		return "pure"
	case NoGate:
		return "no_gate"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode converts a mode name: "default", "pure" or "no_gate".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "default":
		return Default, nil
	case "pure":
		return Pure, nil
	case "no_gate":
		return NoGate, nil
	}
	return Default, fmt.Errorf("cfc: mode must be \"default\", \"pure\" or \"no_gate\", got %q", s)
}

// Activation is the nonlinearity after each backbone layer.
type Activation int

// The activations, named as the reference names them.
const (
	LeCunTanh Activation = iota // "lecun_tanh": 1.7159 tanh(0.666 x)
	Tanh                        // "tanh"
	ReLU                        // "relu"
	GELU                        // "gelu": x Phi(x), the exact (erf) form
	SiLU                        // "silu": x sigmoid(x)
)

func (a Activation) String() string {
	switch a {
	case LeCunTanh:
		return "lecun_tanh"
	case Tanh:
		return "tanh"
	case ReLU:
		return "relu"
	case GELU:
		return "gelu"
	case SiLU:
		return "silu"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// ParseActivation converts an activation name: "lecun_tanh", "tanh",
// "relu", "gelu" or "silu".
func ParseActivation(s string) (Activation, error) {
	for a := LeCunTanh; a <= SiLU; a++ {
		if a.String() == s {
			return a, nil
		}
	}
	return LeCunTanh, fmt.Errorf("cfc: activation must be \"lecun_tanh\", \"tanh\", \"relu\", \"gelu\" or \"silu\", got %q", s)
}

// Config describes a model: exactly one of Units (a plain CfC) and Wiring
// (a wired CfC) is set. DefaultConfig gives the reference's defaults for a
// plain CfC.
type Config struct {
	InputSize int

	// Units is the hidden size of a plain CfC (its state and output size).
	Units int
	// Wiring makes a wired CfC: one CfC layer per wiring layer, with the
	// wiring's sparsity. A wiring that is not built is built for InputSize
	// (on a copy; the caller's is left alone); one built for another input
	// size is an error. The backbone fields must be zero and Activation
	// LeCunTanh (the reference's wired cell has no backbone and ignores the
	// activation; here asking for another is an error rather than ignored).
	Wiring *wiring.Wiring

	Mode       Mode
	Activation Activation

	// Backbone of a plain CfC: BackboneLayers layers of BackboneUnits units
	// (0 layers: no backbone, and BackboneUnits is ignored), with dropout of
	// rate BackboneDropout after layers 2..n in training passes.
	BackboneUnits, BackboneLayers int
	BackboneDropout               float64

	// MixedMemory adds the LSTM memory cell that runs before the CfC each
	// step.
	MixedMemory bool
	// ProjSize, when > 0, maps every output through a Linear(output, ProjSize).
	ProjSize int

	// Keras selects the TF/Keras variant of the reference's CfC (ncps.keras):
	// the heads ff1 and ff2 enter the state without tanh, the gate is
	// s = sigmoid(-time_a*dt + time_b), dropout follows every backbone
	// layer (the first included), and wired masks keep the adjacency's sign.
	// Its mixed memory is another architecture and is refused here.
	Keras bool
}

// DefaultConfig returns the reference's defaults for a plain CfC of units
// hidden units: mode default, lecun_tanh, one backbone layer of 128 units,
// no dropout, no mixed memory, no projection.
func DefaultConfig(inputSize, units int) Config {
	return Config{InputSize: inputSize, Units: units, BackboneUnits: 128, BackboneLayers: 1}
}

// maxSize bounds every size, so that products of a few sizes fit an int
// with room to spare.
const maxSize = 1 << 24

func checkSize(name string, v, lo int) error {
	if v < lo || v > maxSize {
		return fmt.Errorf("cfc: %s must be in [%d, %d], got %d", name, lo, maxSize, v)
	}
	return nil
}

// layerSpec is one CfC layer as the config resolves it: its input width,
// its hidden width and, for wired layers, its mask (torch layout:
// n x (in+n), |adjacency| transposed over ones for the recurrent part).
type layerSpec struct {
	in, n int
	mask  []float64
}

// resolve checks the config and returns its layers and, for wired models,
// a built copy of the wiring.
func (c Config) resolve() ([]layerSpec, *wiring.Wiring, error) {
	if err := checkSize("input_size", c.InputSize, 1); err != nil {
		return nil, nil, err
	}
	if c.Mode < Default || c.Mode > NoGate {
		return nil, nil, fmt.Errorf("cfc: mode must be default, pure or no_gate, got %v", c.Mode)
	}
	if c.Activation < LeCunTanh || c.Activation > SiLU {
		return nil, nil, fmt.Errorf("cfc: activation must be lecun_tanh, tanh, relu, gelu or silu, got %v", c.Activation)
	}
	if c.Keras && c.MixedMemory {
		return nil, nil, errors.New("cfc: mixed memory is not part of the Keras variant (its bindings wrap the cell)")
	}
	if c.ProjSize != 0 {
		if err := checkSize("proj_size", c.ProjSize, 1); err != nil {
			return nil, nil, err
		}
	}
	if c.Wiring == nil {
		if err := checkSize("units", c.Units, 1); err != nil {
			return nil, nil, err
		}
		if c.BackboneLayers < 0 || c.BackboneLayers > 1024 {
			return nil, nil, fmt.Errorf("cfc: backbone_layers must be in [0, 1024], got %d", c.BackboneLayers)
		}
		if c.BackboneLayers > 0 {
			// The reference accepts 0 units (the heads then read nothing and
			// the state follows their biases alone): refused here as a size
			// < 1, almost surely a mistake.
			if err := checkSize("backbone_units", c.BackboneUnits, 1); err != nil {
				return nil, nil, err
			}
		}
		if !(c.BackboneDropout >= 0 && c.BackboneDropout < 1) {
			return nil, nil, fmt.Errorf("cfc: backbone_dropout must be in [0, 1), got %v", c.BackboneDropout)
		}
		return []layerSpec{{in: c.InputSize, n: c.Units}}, nil, nil
	}
	if c.Units != 0 {
		return nil, nil, fmt.Errorf("cfc: units must be 0 with a wiring (the wiring gives the units), got %d", c.Units)
	}
	switch {
	case c.BackboneUnits != 0:
		return nil, nil, errors.New("cfc: backbone_units cannot be used with a wiring")
	case c.BackboneLayers != 0:
		return nil, nil, errors.New("cfc: backbone_layers cannot be used with a wiring")
	case c.BackboneDropout != 0:
		return nil, nil, errors.New("cfc: backbone_dropout cannot be used with a wiring")
	case c.Activation != LeCunTanh:
		return nil, nil, fmt.Errorf("cfc: a wired CfC uses lecun_tanh, got activation %v", c.Activation)
	}
	w := c.Wiring
	if w.IsBuilt() && w.InputDim() != c.InputSize {
		return nil, nil, fmt.Errorf("cfc: wiring is built for %d input features, not input_size=%d", w.InputDim(), c.InputSize)
	}
	w = w.Clone()
	if !w.IsBuilt() {
		if err := w.Build(c.InputSize); err != nil {
			return nil, nil, fmt.Errorf("cfc: wiring: %w", err)
		}
	}
	u := w.Units()
	adj, sen := w.Adjacency(), w.SensoryAdjacency()
	nl := w.NumLayers()
	specs := make([]layerSpec, 0, nl)
	var prev []int
	for l := 0; l < nl; l++ {
		ids, err := w.NeuronsOfLayer(l)
		if err != nil {
			return nil, nil, fmt.Errorf("cfc: wiring: %w", err)
		}
		if len(ids) == 0 {
			return nil, nil, fmt.Errorf("cfc: wiring layer %d has no neurons", l)
		}
		in := c.InputSize
		if l > 0 {
			in = len(prev)
		}
		n := len(ids)
		cat := in + n
		mask := make([]float64, n*cat)
		for j, id := range ids {
			row := mask[j*cat : (j+1)*cat]
			for i := 0; i < in; i++ {
				var v int32
				if l == 0 {
					v = sen[i*u+id]
				} else {
					v = adj[prev[i]*u+id]
				}
				row[i] = float64(v)
				if !c.Keras {
					row[i] = math.Abs(row[i])
				}
			}
			for i := in; i < cat; i++ {
				row[i] = 1
			}
		}
		specs = append(specs, layerSpec{in: in, n: n, mask: mask})
		prev = ids
	}
	if c.ProjSize > 0 && specs[nl-1].n != w.OutputDim() {
		// The reference's projection takes output_dim features but receives
		// the last layer's state, which fails at its first step.
		return nil, nil, fmt.Errorf("cfc: proj_size needs the wiring's last layer (%d neurons) to be its %d outputs",
			specs[nl-1].n, w.OutputDim())
	}
	return specs, w, nil
}
