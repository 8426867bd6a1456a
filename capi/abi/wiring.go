package abi

/*
#define KNCP_NO_PROTOTYPES
#include "kerasncp.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"unsafe"

	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// wiringBox is what a wiring handle refers to: calls on one handle from
// several threads are serialized.
type wiringBox struct {
	mu sync.Mutex
	w  *wiring.Wiring
}

// argSpec lists a kind's keyword arguments with their defaults (nil:
// required).
type argSpec struct {
	name string
	def  any
}

var kindArgs = map[wiring.Kind][]argSpec{
	wiring.Custom:         {{"units", nil}},
	wiring.FullyConnected: {{"units", nil}, {"output_dim", nil_}, {"erev_init_seed", uint64(wiring.DefaultErevInitSeed)}, {"self_connections", true}},
	wiring.Random:         {{"units", nil}, {"output_dim", nil_}, {"sparsity_level", 0.0}, {"random_seed", uint64(wiring.DefaultRandomSeed)}},
	wiring.NCP: {{"inter_neurons", nil}, {"command_neurons", nil}, {"motor_neurons", nil}, {"sensory_fanout", nil},
		{"inter_fanout", nil}, {"recurrent_command_synapses", nil}, {"motor_fanin", nil}, {"seed", uint64(wiring.DefaultNCPSeed)}},
	wiring.AutoNCP: {{"units", nil}, {"output_size", nil}, {"sparsity_level", 0.5}, {"seed", uint64(wiring.DefaultNCPSeed)}},
}

func ptr(n int) *int { return &n }

// trailingData reports whether anything but white space follows the value
// dec has decoded from text.
func trailingData(dec *json.Decoder, text []byte) bool {
	return len(bytes.TrimSpace(text[dec.InputOffset():])) > 0
}

// nil_ marks an optional argument whose default is the reference's None.
var nil_ = struct{}{}

// derivedArgs are the keys kncp_wiring_config writes besides the
// constructor's arguments; kncp_wiring_new accepts them back (input_dim
// builds the wiring, units and output_dim must match what it gets).
type derivedArgs struct {
	units, inputDim, outputDim *int
}

// parseConfig turns a JSON object of reference keyword arguments into a
// wiring.Config, naming the offending argument in every error.
func parseConfig(text []byte) (wiring.Config, derivedArgs, error) {
	var d derivedArgs
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return wiring.Config{}, d, errf(C.KNCP_ERR_FORMAT, "kerasncp: wiring configuration is not a JSON object: %v", err)
	}
	if trailingData(dec, text) {
		return wiring.Config{}, d, errf(C.KNCP_ERR_FORMAT, "kerasncp: wiring configuration: unexpected data after the object")
	}
	kindName, _ := raw["kind"].(string)
	kind := wiring.Kind(kindName)
	specs, ok := kindArgs[kind]
	if !ok {
		return wiring.Config{}, d, fmt.Errorf("kerasncp: wiring kind must be one of \"wiring\", \"fully_connected\", \"random\", \"ncp\", \"autoncp\", got %q", kindName)
	}
	known := map[string]bool{"kind": true}
	for _, s := range specs {
		known[s.name] = true
	}
	for _, a := range []struct {
		name string
		dst  **int
	}{{"units", &d.units}, {"input_dim", &d.inputDim}, {"output_dim", &d.outputDim}} {
		if known[a.name] {
			continue // a constructor argument of this kind
		}
		if _, ok := raw[a.name]; ok && kind == wiring.Custom {
			// Its configuration has no synapses: rebuilding from it would
			// silently give an empty wiring.
			return wiring.Config{}, d, fmt.Errorf("kerasncp: a custom wiring cannot be rebuilt from its configuration (%q given): it holds no synapses; use kncp_wiring_from_matrices", a.name)
		}
		known[a.name] = true
		if v, ok := raw[a.name]; ok && v != nil {
			n, err := toInt(v)
			if err != nil {
				return wiring.Config{}, d, fmt.Errorf("kerasncp: %s must be an integer or null, got %v", a.name, v)
			}
			*a.dst = &n
		}
	}
	var extra []string
	for k := range raw {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return wiring.Config{}, d, fmt.Errorf("kerasncp: unexpected argument %q for a %s wiring", extra[0], kind)
	}
	cfg := wiring.Config{Kind: kind}
	for _, s := range specs {
		v, present := raw[s.name]
		if !present || v == nil {
			if s.def == nil {
				return wiring.Config{}, d, fmt.Errorf("kerasncp: missing required argument %q for a %s wiring", s.name, kind)
			}
			if s.def == nil_ {
				continue
			}
			v = s.def
		}
		if err := setArg(&cfg, s.name, v); err != nil {
			return wiring.Config{}, d, err
		}
	}
	return cfg, d, nil
}

func setArg(cfg *wiring.Config, name string, v any) error {
	switch name {
	case "self_connections":
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("kerasncp: self_connections must be a bool, got %v", v)
		}
		cfg.SelfConnections = b
		return nil
	case "sparsity_level":
		f, err := toFloat(v)
		if err != nil {
			return fmt.Errorf("kerasncp: sparsity_level must be a number, got %v", v)
		}
		cfg.SparsityLevel = f
		return nil
	case "erev_init_seed", "random_seed", "seed":
		u, err := toUint64(v)
		if err != nil {
			return fmt.Errorf("kerasncp: %s must be an integer in [0, 2**64-1] (NCP and AutoNCP: [0, 2**32-1]), got %v", name, v)
		}
		cfg.Seed = u
		return nil
	}
	n, err := toInt(v)
	if err != nil {
		return fmt.Errorf("kerasncp: %s must be an integer, got %v", name, v)
	}
	switch name {
	case "units":
		cfg.Units = n
	case "output_dim", "output_size":
		cfg.OutputDim = n
		if name == "output_dim" && n == 0 {
			return fmt.Errorf("kerasncp: output_dim must be >= 1 (or None for all units), got 0")
		}
	case "inter_neurons":
		cfg.InterNeurons = n
	case "command_neurons":
		cfg.CommandNeurons = n
	case "motor_neurons":
		cfg.MotorNeurons = n
	case "sensory_fanout":
		cfg.SensoryFanout = n
	case "inter_fanout":
		cfg.InterFanout = n
	case "recurrent_command_synapses":
		cfg.RecurrentCommandSynapses = n
	case "motor_fanin":
		cfg.MotorFanin = n
	}
	return nil
}

func toInt(v any) (int, error) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
			return 0, fmt.Errorf("not a 32-bit integer")
		}
		return int(n), nil
	case int:
		return x, nil
	}
	return 0, fmt.Errorf("not an integer")
}

func toUint64(v any) (uint64, error) {
	switch x := v.(type) {
	case json.Number:
		return strconv.ParseUint(string(x), 10, 64)
	case uint64:
		return x, nil
	}
	return 0, fmt.Errorf("not an integer")
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		return x.Float64()
	case float64:
		return x, nil
	}
	return 0, fmt.Errorf("not a number")
}

func newWiringHandle(w *wiring.Wiring, out *C.uint64_t) {
	*out = newHandle(&wiringBox{w: w})
}

//export kncp_wiring_new
func kncp_wiring_new(config *C.char, out *C.uint64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if config == nil || out == nil {
		return finish(fmt.Errorf("kerasncp: config_json and out must not be NULL"), err, errlen)
	}
	cfg, d, e := parseConfig([]byte(C.GoString(config)))
	if e != nil {
		return finish(e, err, errlen)
	}
	w, e := wiring.New(cfg)
	if e != nil {
		return finish(e, err, errlen)
	}
	if d.inputDim != nil && *d.inputDim != 0 {
		if e := w.Build(*d.inputDim); e != nil {
			return finish(e, err, errlen)
		}
	}
	for _, c := range []struct {
		name      string
		want, got *int
	}{{"units", d.units, ptr(w.Units())}, {"output_dim", d.outputDim, ptr(w.OutputDim())}} {
		if c.want != nil && *c.want != *c.got {
			return finish(fmt.Errorf("kerasncp: %s=%d does not match the %s wiring's %d", c.name, *c.want, cfg.Kind, *c.got), err, errlen)
		}
	}
	newWiringHandle(w, out)
	return C.KNCP_OK
}

//export kncp_wiring_from_matrices
func kncp_wiring_from_matrices(units, inputDim, outputDim C.int64_t, adj, sens *C.int32_t,
	out *C.uint64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if units < 1 || units > 1<<16 || inputDim < 0 || inputDim > 1<<16 {
		return finish(fmt.Errorf("kerasncp: units must be in [1, 65536] and input_dim in [0, 65536], got %d and %d", units, inputDim), err, errlen)
	}
	if out == nil {
		return finish(fmt.Errorf("kerasncp: out must not be NULL"), err, errlen)
	}
	if adj == nil || (inputDim > 0 && sens == nil) {
		return finish(fmt.Errorf("kerasncp: adjacency (and sensory adjacency when input_dim > 0) must not be NULL"), err, errlen)
	}
	u, s := int(units), int(inputDim)
	a := unsafe.Slice((*int32)(unsafe.Pointer(adj)), u*u)
	var sm []int32
	if s > 0 {
		sm = unsafe.Slice((*int32)(unsafe.Pointer(sens)), s*u)
	}
	w, e := wiring.FromMatrices(u, s, int(outputDim), a, sm)
	if e != nil {
		return finish(e, err, errlen)
	}
	newWiringHandle(w, out)
	return C.KNCP_OK
}

// withWiring runs fn on the wiring of handle h, holding its lock.
func withWiring(h C.uint64_t, fn func(w *wiring.Wiring) error) error {
	b, err := lookup[*wiringBox](h, "wiring")
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return fn(b.w)
}

//export kncp_wiring_clone
func kncp_wiring_clone(h C.uint64_t, out *C.uint64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if out == nil { // checked first: a handle made before failing would leak
		return finish(fmt.Errorf("kerasncp: out must not be NULL"), err, errlen)
	}
	return finish(withWiring(h, func(w *wiring.Wiring) error {
		newWiringHandle(w.Clone(), out)
		return nil
	}), err, errlen)
}

//export kncp_wiring_free
func kncp_wiring_free(h C.uint64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(freeHandle[*wiringBox](h, "wiring"), err, errlen)
}

//export kncp_wiring_build
func kncp_wiring_build(h C.uint64_t, inputDim C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(withWiring(h, func(w *wiring.Wiring) error { return w.Build(clampInt(inputDim)) }), err, errlen)
}

//export kncp_wiring_set_input_dim
func kncp_wiring_set_input_dim(h C.uint64_t, inputDim C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(withWiring(h, func(w *wiring.Wiring) error { return w.SetInputDim(clampInt(inputDim)) }), err, errlen)
}

//export kncp_wiring_set_output_dim
func kncp_wiring_set_output_dim(h C.uint64_t, outputDim C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(withWiring(h, func(w *wiring.Wiring) error { return w.SetOutputDim(clampInt(outputDim)) }), err, errlen)
}

// clampInt maps an int64 outside the int32 range to a value every range
// check rejects, so that errors report a recognisable number.
func clampInt(v C.int64_t) int {
	if v > math.MaxInt32 {
		return math.MaxInt32
	}
	if v < math.MinInt32 {
		return math.MinInt32
	}
	return int(v)
}

//export kncp_wiring_add_synapse
func kncp_wiring_add_synapse(h C.uint64_t, src, dest, pol C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(withWiring(h, func(w *wiring.Wiring) error {
		return w.AddSynapse(clampInt(src), clampInt(dest), clampInt(pol))
	}), err, errlen)
}

//export kncp_wiring_add_sensory_synapse
func kncp_wiring_add_sensory_synapse(h C.uint64_t, src, dest, pol C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(withWiring(h, func(w *wiring.Wiring) error {
		return w.AddSensorySynapse(clampInt(src), clampInt(dest), clampInt(pol))
	}), err, errlen)
}

var kindCodes = map[wiring.Kind]int64{wiring.Custom: 0, wiring.FullyConnected: 1, wiring.Random: 2, wiring.NCP: 3, wiring.AutoNCP: 4}

//export kncp_wiring_info
func kncp_wiring_info(h C.uint64_t, info *C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(withWiring(h, func(w *wiring.Wiring) error {
		if info == nil {
			return fmt.Errorf("kerasncp: info must not be NULL")
		}
		d := unsafe.Slice((*int64)(unsafe.Pointer(info)), 7)
		d[0], d[1], d[2] = int64(w.Units()), int64(w.InputDim()), int64(w.OutputDim())
		d[3], d[4], d[5] = int64(w.NumLayers()), int64(w.SynapseCount()), int64(w.SensorySynapseCount())
		d[6] = kindCodes[w.Kind()]
		return nil
	}), err, errlen)
}

func copyMatrix(name string, src []int32, dst *C.int32_t, n C.int64_t) error {
	if int64(n) != int64(len(src)) {
		return fmt.Errorf("kerasncp: %s has %d entries, the destination %d", name, len(src), int64(n))
	}
	if n == 0 {
		return nil
	}
	if dst == nil {
		return fmt.Errorf("kerasncp: destination of %s must not be NULL", name)
	}
	copy(unsafe.Slice((*int32)(unsafe.Pointer(dst)), len(src)), src)
	return nil
}

//export kncp_wiring_adjacency
func kncp_wiring_adjacency(h C.uint64_t, dst *C.int32_t, n C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(withWiring(h, func(w *wiring.Wiring) error {
		return copyMatrix("adjacency_matrix", w.Adjacency(), dst, n)
	}), err, errlen)
}

//export kncp_wiring_sensory_adjacency
func kncp_wiring_sensory_adjacency(h C.uint64_t, dst *C.int32_t, n C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(withWiring(h, func(w *wiring.Wiring) error {
		if !w.IsBuilt() {
			return fmt.Errorf("kerasncp: the wiring has no sensory adjacency before build (input_dim unknown)")
		}
		return copyMatrix("sensory_adjacency_matrix", w.SensoryAdjacency(), dst, n)
	}), err, errlen)
}

//export kncp_wiring_layer
func kncp_wiring_layer(h C.uint64_t, layer C.int64_t, dst *C.int64_t, capacity C.int64_t, n *C.int64_t,
	err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if n == nil || (dst == nil && capacity > 0) {
		return finish(fmt.Errorf("kerasncp: n must not be NULL, nor dst when capacity > 0"), err, errlen)
	}
	return finish(withWiring(h, func(w *wiring.Wiring) error {
		ids, e := w.NeuronsOfLayer(clampInt(layer))
		if e != nil {
			return e
		}
		*n = C.int64_t(len(ids))
		if int64(capacity) < int64(len(ids)) {
			return fmt.Errorf("kerasncp: layer %d has %d neurons, the destination holds %d", int64(layer), len(ids), int64(capacity))
		}
		if len(ids) > 0 {
			d := unsafe.Slice((*int64)(unsafe.Pointer(dst)), len(ids))
			for i, id := range ids {
				d[i] = int64(id)
			}
		}
		return nil
	}), err, errlen)
}

//export kncp_wiring_neuron_type
func kncp_wiring_neuron_type(h C.uint64_t, id C.int64_t, typ *C.int32_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if typ == nil {
		return finish(fmt.Errorf("kerasncp: type must not be NULL"), err, errlen)
	}
	return finish(withWiring(h, func(w *wiring.Wiring) error {
		t, e := w.TypeOfNeuron(clampInt(id))
		if e != nil {
			return e
		}
		*typ = map[string]C.int32_t{wiring.Motor: C.KNCP_NEURON_MOTOR, wiring.Command: C.KNCP_NEURON_COMMAND,
			wiring.Inter: C.KNCP_NEURON_INTER}[t]
		return nil
	}), err, errlen)
}

// configJSON is the wiring's constructor arguments under the reference's
// names, plus its dimensions.
func configJSON(w *wiring.Wiring) ([]byte, error) {
	c := w.Config()
	m := map[string]any{"kind": string(c.Kind), "units": w.Units(), "input_dim": nullIfZero(w.InputDim()),
		"output_dim": nullIfZero(w.OutputDim())}
	switch c.Kind {
	case wiring.FullyConnected:
		m["output_dim"] = nullIfZero(c.OutputDim)
		m["erev_init_seed"], m["self_connections"] = c.Seed, c.SelfConnections
	case wiring.Random:
		m["output_dim"] = nullIfZero(c.OutputDim)
		m["sparsity_level"], m["random_seed"] = c.SparsityLevel, c.Seed
	case wiring.NCP:
		m["inter_neurons"], m["command_neurons"], m["motor_neurons"] = c.InterNeurons, c.CommandNeurons, c.MotorNeurons
		m["sensory_fanout"], m["inter_fanout"] = c.SensoryFanout, c.InterFanout
		m["recurrent_command_synapses"], m["motor_fanin"], m["seed"] = c.RecurrentCommandSynapses, c.MotorFanin, c.Seed
	case wiring.AutoNCP:
		m["output_size"], m["sparsity_level"], m["seed"] = c.OutputDim, c.SparsityLevel, c.Seed
	}
	return json.Marshal(m)
}

func nullIfZero(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

//export kncp_wiring_config
func kncp_wiring_config(h C.uint64_t, buf *C.char, capacity C.int64_t, n *C.int64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if n == nil || (buf == nil && capacity > 0) {
		return finish(fmt.Errorf("kerasncp: n must not be NULL, nor buf when capacity > 0"), err, errlen)
	}
	return finish(withWiring(h, func(w *wiring.Wiring) error {
		b, e := configJSON(w)
		if e != nil {
			return e
		}
		*n = C.int64_t(len(b))
		if int64(capacity) < int64(len(b))+1 {
			return fmt.Errorf("kerasncp: configuration needs %d bytes, the buffer holds %d", len(b)+1, int64(capacity))
		}
		d := unsafe.Slice((*byte)(unsafe.Pointer(buf)), len(b)+1)
		copy(d, b)
		d[len(b)] = 0
		return nil
	}), err, errlen)
}
