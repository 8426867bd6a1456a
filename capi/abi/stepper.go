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
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/kerasncp-go/kerasncp-go/core"
	"github.com/kerasncp-go/kerasncp-go/internal/machine"
	"github.com/kerasncp-go/kerasncp-go/wiring"
)

// ---- kncp_ltc_init ----------------------------------------------------

func ltcInit[T core.Float](w *wiring.Wiring, c *C.kncp_ltc_cell, seed uint64) error {
	cell := &core.Cell[T]{Params: &core.Params[T]{}}
	if err := fillCell(cell, c, nil); err != nil {
		return err
	}
	sh := cell.Shape
	if !w.IsBuilt() || w.Units() != sh.Units || w.InputDim() != sh.Sensory || w.OutputDim() != sh.Motor {
		return fmt.Errorf("kerasncp: the wiring (units=%d input_dim=%d output_dim=%d) does not fit the cell (units=%d sensory=%d motor=%d); build it for the cell's sensory size",
			w.Units(), w.InputDim(), w.OutputDim(), sh.Units, sh.Sensory, sh.Motor)
	}
	if err := cell.Params.Check(sh, cell.Opts.InputMapping, cell.Opts.OutputMapping); err != nil {
		return err
	}
	p, err := core.Init[T](sh, w.Adjacency(), w.SensoryAdjacency(), cell.Opts, nil, rand.New(wiring.NumpySource(seed)))
	if err != nil {
		return err
	}
	dst := cell.Params.Fields(sh, cell.Opts.InputMapping, cell.Opts.OutputMapping)
	for i, f := range p.Fields(sh, cell.Opts.InputMapping, cell.Opts.OutputMapping) {
		copy(*dst[i].Data, *f.Data)
	}
	return nil
}

//export kncp_ltc_init
func kncp_ltc_init(wh C.uint64_t, c *C.kncp_ltc_cell, seed C.uint64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if c == nil {
		return finish(fmt.Errorf("kerasncp: cell must not be NULL"), err, errlen)
	}
	b, e := lookup[*wiringBox](wh, "wiring")
	if e != nil {
		return finish(e, err, errlen)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch c.dtype {
	case C.KNCP_FLOAT32:
		return finish(ltcInit[float32](b.w, c, uint64(seed)), err, errlen)
	case C.KNCP_FLOAT64:
		return finish(ltcInit[float64](b.w, c, uint64(seed)), err, errlen)
	}
	return finish(errf(C.KNCP_ERR_TYPE, "kerasncp: dtype must be float32 (0) or float64 (1), got %d", int32(c.dtype)), err, errlen)
}

// ---- steppers ---------------------------------------------------------

// stepper is what a stepper handle holds: an LTC stepper of either dtype.
type stepper interface {
	info(out *C.kncp_stepper_info_t)
	step(x, y C.kncp_buf, elapsed float64) error
	state(dst C.kncp_buf, set bool) error
}

type ltcStepper[T core.Float] struct {
	s     *core.Stepper[T]
	dtype C.int32_t
}

func (l *ltcStepper[T]) info(out *C.kncp_stepper_info_t) {
	sh := l.s.Shape()
	out.dtype = l.dtype
	out.batch = C.int64_t(l.s.Batch())
	out.input_size = C.int64_t(sh.Sensory)
	out.output_size = C.int64_t(sh.Motor)
	out.state_size = C.int64_t(sh.Units)
}

func (l *ltcStepper[T]) step(xb, yb C.kncp_buf, elapsed float64) error {
	sh, n := l.s.Shape(), l.s.Batch()
	x, err := view[T](xb, "x")
	if err != nil {
		return err
	}
	y, err := view[T](yb, "y")
	if err != nil {
		return err
	}
	if len(x) != n*sh.Sensory {
		return fmt.Errorf("kerasncp: x must have batch*input_size = %d*%d values, got %d", n, sh.Sensory, len(x))
	}
	if y != nil && len(y) != n*sh.Motor {
		return fmt.Errorf("kerasncp: y must have batch*output_size = %d*%d values, got %d", n, sh.Motor, len(y))
	}
	if err := l.s.Step(x, elapsed, y); err != nil {
		return fmt.Errorf("kerasncp: %s", trimCore(err))
	}
	return nil
}

func (l *ltcStepper[T]) state(b C.kncp_buf, set bool) error {
	n := l.s.Batch() * l.s.Shape().Units
	v, err := view[T](b, "state")
	if err != nil {
		return err
	}
	if v != nil && len(v) != n {
		return fmt.Errorf("kerasncp: state must have batch*state_size = %d values, got %d", n, len(v))
	}
	if set {
		err = l.s.SetState(v)
	} else if v == nil {
		return fmt.Errorf("kerasncp: dst must not be NULL")
	} else {
		err = l.s.State(v)
	}
	if err != nil {
		return fmt.Errorf("kerasncp: %s", trimCore(err))
	}
	return nil
}

// trimCore drops the "core: " prefix of a core error (the C message has its
// own "kerasncp: ").
func trimCore(err error) string {
	if errors.Is(err, core.ErrStepperBusy) {
		return "the stepper is in use by another thread (one stepper serves one loop)"
	}
	m := err.Error()
	if len(m) > 6 && m[:6] == "core: " {
		return m[6:]
	}
	return m
}

func newLTCStepper[T core.Float](cell *core.Cell[T], batch int64, dtype C.int32_t) (stepper, error) {
	if batch < 1 || batch > 1<<40 {
		return nil, fmt.Errorf("kerasncp: batch must be in [1, 2**40], got %d", batch)
	}
	s, err := core.NewStepper(cell, int(batch))
	if me := (*machine.MemoryError)(nil); errors.As(err, &me) {
		return nil, err // keeps KNCP_ERR_MEMORY
	}
	if err != nil {
		return nil, fmt.Errorf("kerasncp: %s", trimCore(err))
	}
	return &ltcStepper[T]{s: s, dtype: dtype}, nil
}

func stepperFromCell[T core.Float](c *C.kncp_ltc_cell, batch int64) (stepper, error) {
	cell, err := cellFrom[T](c)
	if err != nil {
		return nil, err
	}
	return newLTCStepper(cell, batch, c.dtype) // NewStepper copies the parameters
}

//export kncp_ltc_stepper_new
func kncp_ltc_stepper_new(c *C.kncp_ltc_cell, batch C.int64_t, out *C.uint64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if c == nil || out == nil {
		return finish(fmt.Errorf("kerasncp: cell and out must not be NULL"), err, errlen)
	}
	var s stepper
	var e error
	switch c.dtype {
	case C.KNCP_FLOAT32:
		s, e = stepperFromCell[float32](c, int64(batch))
	case C.KNCP_FLOAT64:
		s, e = stepperFromCell[float64](c, int64(batch))
	default:
		e = errf(C.KNCP_ERR_TYPE, "kerasncp: dtype must be float32 (0) or float64 (1), got %d", int32(c.dtype))
	}
	if e != nil {
		return finish(e, err, errlen)
	}
	*out = newHandle(s)
	return C.KNCP_OK
}

// modelCell is the "cell" entry of a model.json that kerasncp-go train
// writes (kerasncp_go.train.model_io).
type modelCell struct {
	InputDim       *int     `json:"input_dim"`
	OutputDim      *int     `json:"output_dim"`
	Units          *int     `json:"units"`
	InputMapping   *string  `json:"input_mapping"`
	OutputMapping  *string  `json:"output_mapping"`
	ODEUnfolds     *int     `json:"ode_unfolds"`
	Epsilon        *float64 `json:"epsilon"`
	ImplicitConstr *bool    `json:"implicit_param_constraints"`
	DType          string   `json:"dtype"`
}

const modelFormat = "kerasncp-go/model"

func loadModelStepper[T core.Float](npzPath string, mc modelCell, batch int64, dtype C.int32_t) (stepper, error) {
	data, err := os.ReadFile(npzPath)
	if err != nil {
		return nil, fmt.Errorf("kerasncp: %v", err)
	}
	p, sh, in, out, err := core.LoadNPZ[T](bytes.NewReader(data), int64(len(data)), *mc.OutputDim)
	if me := (*machine.MemoryError)(nil); errors.As(err, &me) {
		return nil, fmt.Errorf("kerasncp: %s: %w", npzPath, err) // keeps KNCP_ERR_MEMORY
	}
	if err != nil {
		return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: %s is not a usable parameter archive: %s", npzPath, trimCore(err))
	}
	if sh.Units != *mc.Units || sh.Sensory != *mc.InputDim || sh.Motor != *mc.OutputDim {
		return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: %s holds a cell of units=%d sensory=%d motor=%d, model.json says units=%d input_dim=%d output_dim=%d",
			npzPath, sh.Units, sh.Sensory, sh.Motor, *mc.Units, *mc.InputDim, *mc.OutputDim)
	}
	for _, m := range []struct {
		name string
		got  core.Mapping
		want *string
	}{{"input_mapping", in, mc.InputMapping}, {"output_mapping", out, mc.OutputMapping}} {
		if m.want != nil && m.got.String() != *m.want && !(m.got == core.None && *m.want == "none") {
			return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: %s has %s %s, model.json says %s", npzPath, m.name, m.got, *m.want)
		}
	}
	o := core.Options{InputMapping: in, OutputMapping: out, ODEUnfolds: *mc.ODEUnfolds, Epsilon: *mc.Epsilon,
		ImplicitConstraints: *mc.ImplicitConstr}
	cell, err := core.NewCell(sh, o, p)
	if err != nil {
		return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: %s: %s", npzPath, trimCore(err))
	}
	return newLTCStepper(cell, batch, dtype)
}

func loadModel(folder string, batch int64) (stepper, error) {
	js := filepath.Join(folder, "model.json")
	text, err := os.ReadFile(js)
	if err != nil {
		return nil, fmt.Errorf("kerasncp: %v (a model folder is what kerasncp-go train --out writes)", err)
	}
	var doc struct {
		Format string     `json:"format"`
		Cell   *modelCell `json:"cell"`
	}
	if err := json.Unmarshal(text, &doc); err != nil {
		return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: %s is not valid JSON: %v", js, err)
	}
	if doc.Format != modelFormat {
		return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: %s is not a kerasncp-go model description (no \"format\": %q)", js, modelFormat)
	}
	mc := doc.Cell
	if mc == nil || mc.InputDim == nil || mc.OutputDim == nil || mc.Units == nil || mc.ODEUnfolds == nil ||
		mc.Epsilon == nil || mc.ImplicitConstr == nil {
		return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: %s: the cell entry needs input_dim, output_dim, units, ode_unfolds, epsilon and implicit_param_constraints", js)
	}
	npzPath := filepath.Join(folder, "model.npz")
	switch mc.DType {
	case "", "float32":
		return loadModelStepper[float32](npzPath, *mc, batch, C.KNCP_FLOAT32)
	case "float64":
		return loadModelStepper[float64](npzPath, *mc, batch, C.KNCP_FLOAT64)
	}
	return nil, errf(C.KNCP_ERR_FORMAT, "kerasncp: %s: dtype must be float32 or float64, got %q", js, mc.DType)
}

//export kncp_ltc_stepper_load
func kncp_ltc_stepper_load(folder *C.char, batch C.int64_t, out *C.uint64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if folder == nil || out == nil {
		return finish(fmt.Errorf("kerasncp: folder and out must not be NULL"), err, errlen)
	}
	s, e := loadModel(C.GoString(folder), int64(batch))
	if e != nil {
		return finish(e, err, errlen)
	}
	*out = newHandle(s)
	return C.KNCP_OK
}

//export kncp_stepper_info
func kncp_stepper_info(h C.uint64_t, out *C.kncp_stepper_info_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	if out == nil {
		return finish(fmt.Errorf("kerasncp: out must not be NULL"), err, errlen)
	}
	s, e := lookup[stepper](h, "stepper")
	if e != nil {
		return finish(e, err, errlen)
	}
	s.info(out)
	return C.KNCP_OK
}

//export kncp_stepper_step
func kncp_stepper_step(h C.uint64_t, x C.kncp_buf, elapsed C.double, y C.kncp_buf, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	s, e := lookup[stepper](h, "stepper")
	if e != nil {
		return finish(e, err, errlen)
	}
	if x.data == nil {
		return finish(fmt.Errorf("kerasncp: x must not be NULL"), err, errlen)
	}
	return finish(s.step(x, y, float64(elapsed)), err, errlen)
}

//export kncp_stepper_state
func kncp_stepper_state(h C.uint64_t, dst C.kncp_buf, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	s, e := lookup[stepper](h, "stepper")
	if e != nil {
		return finish(e, err, errlen)
	}
	return finish(s.state(dst, false), err, errlen)
}

//export kncp_stepper_set_state
func kncp_stepper_set_state(h C.uint64_t, src C.kncp_buf, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	s, e := lookup[stepper](h, "stepper")
	if e != nil {
		return finish(e, err, errlen)
	}
	return finish(s.state(src, true), err, errlen)
}

//export kncp_stepper_free
func kncp_stepper_free(h C.uint64_t, err *C.char, errlen C.size_t) (rc C.int32_t) {
	defer guard(&rc, err, errlen)
	return finish(freeHandle[stepper](h, "stepper"), err, errlen)
}
