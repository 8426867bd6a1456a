package abi

/*
#define KNCP_NO_PROTOTYPES
#include "kerasncp.h"
*/
import "C"

import (
	"fmt"
	"math"
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

var kindCodes = map[wiring.Kind]C.int32_t{wiring.Custom: C.KNCP_WIRING_CUSTOM, wiring.FullyConnected: C.KNCP_WIRING_FULLY_CONNECTED,
	wiring.Random: C.KNCP_WIRING_RANDOM, wiring.NCP: C.KNCP_WIRING_NCP, wiring.AutoNCP: C.KNCP_WIRING_AUTONCP}

//export kncp_wiring_info
func kncp_wiring_info(h C.uint64_t, info *C.kncp_wiring_info_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if info == nil {
		return finish(fmt.Errorf("kerasncp: info must not be NULL"), err, errlen)
	}
	return finish(withWiring(h, func(w *wiring.Wiring) error {
		*info = C.kncp_wiring_info_t{
			units:                 C.int64_t(w.Units()),
			input_dim:             C.int64_t(w.InputDim()),
			output_dim:            C.int64_t(w.OutputDim()),
			num_layers:            C.int64_t(w.NumLayers()),
			synapse_count:         C.int64_t(w.SynapseCount()),
			sensory_synapse_count: C.int64_t(w.SensorySynapseCount()),
			kind:                  kindCodes[w.Kind()],
		}
		if w.IsBuilt() {
			info.built = 1
		}
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
