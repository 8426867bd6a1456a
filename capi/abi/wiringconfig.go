package abi

/*
#define KNCP_NO_PROTOTYPES
#include "kerasncp.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// The JSON form of a wiring: one struct per kind, holding the reference
// constructor's keyword arguments under its names, plus the dimensions
// every kind reports (units, input_dim, output_dim). kncp_wiring_new
// decodes it strictly (unknown keys and wrongly typed values are errors
// naming the key); kncp_wiring_config writes the same struct, fully
// resolved, so that one serialisation serves the C ABI, pickles, Keras
// configurations and model files. A null or omitted argument takes the
// reference's default.

// dims are the keys kncp_wiring_config writes besides a kind's constructor
// arguments; kncp_wiring_new accepts them back: input_dim builds the
// wiring, units and output_dim must match the wiring made.
type dims struct {
	InputDim *int `json:"input_dim"`
}

// customArgs is kind "wiring": a custom wiring by its size alone (its
// synapses travel as matrices, kncp_wiring_from_matrices).
type customArgs struct {
	Kind  string `json:"kind"`
	Units *int   `json:"units"`
}

type fullyConnectedArgs struct {
	Kind            string  `json:"kind"`
	Units           *int    `json:"units"`
	OutputDim       *int    `json:"output_dim"`
	ErevInitSeed    *uint64 `json:"erev_init_seed"`
	SelfConnections *bool   `json:"self_connections"`
	dims
}

type randomArgs struct {
	Kind          string   `json:"kind"`
	Units         *int     `json:"units"`
	OutputDim     *int     `json:"output_dim"`
	SparsityLevel *float64 `json:"sparsity_level"`
	RandomSeed    *uint64  `json:"random_seed"`
	dims
}

type ncpArgs struct {
	Kind                     string  `json:"kind"`
	InterNeurons             *int    `json:"inter_neurons"`
	CommandNeurons           *int    `json:"command_neurons"`
	MotorNeurons             *int    `json:"motor_neurons"`
	SensoryFanout            *int    `json:"sensory_fanout"`
	InterFanout              *int    `json:"inter_fanout"`
	RecurrentCommandSynapses *int    `json:"recurrent_command_synapses"`
	MotorFanin               *int    `json:"motor_fanin"`
	Seed                     *uint64 `json:"seed"`
	Units                    *int    `json:"units"`
	OutputDim                *int    `json:"output_dim"`
	dims
}

type autoNCPArgs struct {
	Kind          string   `json:"kind"`
	Units         *int     `json:"units"`
	OutputSize    *int     `json:"output_size"`
	SparsityLevel *float64 `json:"sparsity_level"`
	Seed          *uint64  `json:"seed"`
	OutputDim     *int     `json:"output_dim"`
	dims
}

// wiringArgs is one kind's arguments.
type wiringArgs interface {
	// config checks that the required arguments are there and applies
	// the defaults.
	config() (wiring.Config, error)
	// derived returns the dimensions given besides the arguments (nil:
	// not given), for the kinds that are not their constructor arguments.
	derived() (units, inputDim, outputDim *int)
}

// argsFor is an empty argument struct of kind k.
func argsFor(k wiring.Kind) wiringArgs {
	switch k {
	case wiring.Custom:
		return &customArgs{}
	case wiring.FullyConnected:
		return &fullyConnectedArgs{}
	case wiring.Random:
		return &randomArgs{}
	case wiring.NCP:
		return &ncpArgs{}
	case wiring.AutoNCP:
		return &autoNCPArgs{}
	}
	return nil
}

// required returns *p, or an error naming the missing argument.
func required[V any](p *V, name string, k wiring.Kind) (V, error) {
	if p == nil {
		var zero V
		return zero, fmt.Errorf("kerasncp: missing required argument %q for a %s wiring", name, k)
	}
	return *p, nil
}

// or returns *p, or def when p is nil.
func or[V any](p *V, def V) V {
	if p == nil {
		return def
	}
	return *p
}

func (a *customArgs) config() (wiring.Config, error) {
	u, err := required(a.Units, "units", wiring.Custom)
	return wiring.Config{Kind: wiring.Custom, Units: u}, err
}

func (a *customArgs) derived() (*int, *int, *int) { return nil, nil, nil }

// outputDim maps the reference's output_dim (None: every unit) to the
// wiring package's 0, refusing an explicit 0.
func outputDim(p *int) (int, error) {
	if p != nil && *p == 0 {
		return 0, errors.New("kerasncp: output_dim must be >= 1 (or None for all units), got 0")
	}
	return or(p, 0), nil
}

func (a *fullyConnectedArgs) config() (wiring.Config, error) {
	u, err := required(a.Units, "units", wiring.FullyConnected)
	if err != nil {
		return wiring.Config{}, err
	}
	od, err := outputDim(a.OutputDim)
	return wiring.Config{Kind: wiring.FullyConnected, Units: u, OutputDim: od,
		Seed: or(a.ErevInitSeed, uint64(wiring.DefaultErevInitSeed)), SelfConnections: or(a.SelfConnections, true)}, err
}

func (a *fullyConnectedArgs) derived() (*int, *int, *int) { return nil, a.InputDim, nil }

func (a *randomArgs) config() (wiring.Config, error) {
	u, err := required(a.Units, "units", wiring.Random)
	if err != nil {
		return wiring.Config{}, err
	}
	od, err := outputDim(a.OutputDim)
	return wiring.Config{Kind: wiring.Random, Units: u, OutputDim: od, SparsityLevel: or(a.SparsityLevel, 0.0),
		Seed: or(a.RandomSeed, uint64(wiring.DefaultRandomSeed))}, err
}

func (a *randomArgs) derived() (*int, *int, *int) { return nil, a.InputDim, nil }

func (a *ncpArgs) config() (wiring.Config, error) {
	c := wiring.Config{Kind: wiring.NCP, Seed: or(a.Seed, uint64(wiring.DefaultNCPSeed))}
	for _, f := range []struct {
		p    *int
		name string
		dst  *int
	}{
		{a.InterNeurons, "inter_neurons", &c.InterNeurons}, {a.CommandNeurons, "command_neurons", &c.CommandNeurons},
		{a.MotorNeurons, "motor_neurons", &c.MotorNeurons}, {a.SensoryFanout, "sensory_fanout", &c.SensoryFanout},
		{a.InterFanout, "inter_fanout", &c.InterFanout},
		{a.RecurrentCommandSynapses, "recurrent_command_synapses", &c.RecurrentCommandSynapses},
		{a.MotorFanin, "motor_fanin", &c.MotorFanin},
	} {
		v, err := required(f.p, f.name, wiring.NCP)
		if err != nil {
			return wiring.Config{}, err
		}
		*f.dst = v
	}
	return c, nil
}

func (a *ncpArgs) derived() (*int, *int, *int) { return a.Units, a.InputDim, a.OutputDim }

func (a *autoNCPArgs) config() (wiring.Config, error) {
	u, err := required(a.Units, "units", wiring.AutoNCP)
	if err != nil {
		return wiring.Config{}, err
	}
	o, err := required(a.OutputSize, "output_size", wiring.AutoNCP)
	return wiring.Config{Kind: wiring.AutoNCP, Units: u, OutputDim: o, SparsityLevel: or(a.SparsityLevel, 0.5),
		Seed: or(a.Seed, uint64(wiring.DefaultNCPSeed))}, err
}

func (a *autoNCPArgs) derived() (*int, *int, *int) { return nil, a.InputDim, a.OutputDim }

// argTypes says what each argument must be, for type errors.
var argTypes = map[string]string{
	"self_connections": "a bool",
	"sparsity_level":   "a number",
	"erev_init_seed":   "an integer in [0, 2**64-1]",
	"random_seed":      "an integer in [0, 2**64-1]",
	"seed":             "an integer in [0, 2**32-1]",
}

// kindNames lists the kinds for errors.
const kindNames = `"wiring", "fully_connected", "random", "ncp", "autoncp"`

// trailingData reports whether anything but white space follows the value
// dec has decoded from text.
func trailingData(dec *json.Decoder, text []byte) bool {
	return len(bytes.TrimSpace(text[dec.InputOffset():])) > 0
}

// parseConfig decodes a JSON object of reference keyword arguments into
// its kind's struct, naming the offending argument in every error, and
// returns the wiring.Config it describes with the dimensions given besides.
func parseConfig(text []byte) (wiring.Config, derivedArgs, error) {
	var d derivedArgs
	fail := func(err error) (wiring.Config, derivedArgs, error) { return wiring.Config{}, d, err }
	// First as an object of raw values: JSON syntax, the kind, and the
	// values that type errors quote.
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(text))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		if err == nil {
			err = errors.New("null")
		}
		return fail(errf(C.KNCP_ERR_FORMAT, "kerasncp: wiring configuration is not a JSON object: %v", err))
	}
	if trailingData(dec, text) {
		return fail(errf(C.KNCP_ERR_FORMAT, "kerasncp: wiring configuration: unexpected data after the object"))
	}
	var kindName string
	if json.Unmarshal(raw["kind"], &kindName) != nil && raw["kind"] != nil {
		return fail(fmt.Errorf("kerasncp: wiring kind must be one of %s, got %s", kindNames, raw["kind"]))
	}
	kind := wiring.Kind(kindName)
	args := argsFor(kind)
	if args == nil {
		return fail(fmt.Errorf("kerasncp: wiring kind must be one of %s, got %q", kindNames, kindName))
	}
	if kind == wiring.Custom {
		for _, k := range []string{"input_dim", "output_dim"} {
			if _, ok := raw[k]; ok {
				// Its configuration has no synapses: rebuilding from it
				// would silently give an empty wiring.
				return fail(fmt.Errorf("kerasncp: a custom wiring cannot be rebuilt from its configuration (%q given): it holds no synapses; use kncp_wiring_from_matrices", k))
			}
		}
	}
	// Keys must match exactly: encoding/json would also take "Units" for
	// "units".
	known := map[string]json.RawMessage{}
	if b, err := json.Marshal(args); err == nil {
		json.Unmarshal(b, &known)
	}
	var extra []string
	for k := range raw {
		if _, ok := known[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fail(fmt.Errorf("kerasncp: unexpected argument %q for a %s wiring", extra[0], kind))
	}
	dec = json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(args); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			what, ok := argTypes[te.Field]
			if !ok {
				what = "an integer"
			}
			return fail(fmt.Errorf("kerasncp: %s must be %s, got %s", te.Field, what, raw[te.Field]))
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fail(fmt.Errorf("kerasncp: unexpected argument %s for a %s wiring", name, kind))
		}
		return fail(errf(C.KNCP_ERR_FORMAT, "kerasncp: wiring configuration: %v", err))
	}
	cfg, err := args.config()
	if err != nil {
		return fail(err)
	}
	d.units, d.inputDim, d.outputDim = args.derived()
	return cfg, d, nil
}

// derivedArgs are the dimensions given besides a kind's constructor
// arguments.
type derivedArgs struct {
	units, inputDim, outputDim *int
}

func ptr[V any](v V) *V { return &v }

// nilIfZero is nil for 0 (the reference's None), else &n.
func nilIfZero(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// argsOf is the argument struct of w, fully resolved: what
// kncp_wiring_config writes.
func argsOf(w *wiring.Wiring) any {
	c := w.Config()
	in := dims{InputDim: nilIfZero(w.InputDim())}
	kind := string(c.Kind)
	switch c.Kind {
	case wiring.FullyConnected:
		return &fullyConnectedArgs{kind, ptr(c.Units), nilIfZero(c.OutputDim), ptr(c.Seed), ptr(c.SelfConnections), in}
	case wiring.Random:
		return &randomArgs{kind, ptr(c.Units), nilIfZero(c.OutputDim), ptr(c.SparsityLevel), ptr(c.Seed), in}
	case wiring.NCP:
		return &ncpArgs{kind, ptr(c.InterNeurons), ptr(c.CommandNeurons), ptr(c.MotorNeurons), ptr(c.SensoryFanout),
			ptr(c.InterFanout), ptr(c.RecurrentCommandSynapses), ptr(c.MotorFanin), ptr(c.Seed),
			ptr(w.Units()), ptr(w.OutputDim()), in}
	case wiring.AutoNCP:
		return &autoNCPArgs{kind, ptr(c.Units), ptr(c.OutputDim), ptr(c.SparsityLevel), ptr(c.Seed), ptr(w.OutputDim()), in}
	}
	// A custom wiring: its size and dimensions (not accepted back: its
	// synapses are not in it).
	return &struct {
		customArgs
		InputDim  *int `json:"input_dim"`
		OutputDim *int `json:"output_dim"`
	}{customArgs{kind, ptr(w.Units())}, nilIfZero(w.InputDim()), nilIfZero(w.OutputDim())}
}

// configJSON is kncp_wiring_config's text.
func configJSON(w *wiring.Wiring) ([]byte, error) { return json.Marshal(argsOf(w)) }
