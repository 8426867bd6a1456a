package core

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unsafe"

	"github.com/kerasncp-go/kerasncp-go/internal/machine"
	"github.com/kerasncp-go/kerasncp-go/npz"
)

// The .npz layer of the LTC cell: which arrays a parameter set has, under
// which names and shapes. Reading and writing .npy members is package npz's.

// SaveNPZ writes the parameters p of a cell of shape sh with mappings in and
// out to w as an .npz archive, as np.savez would write a PyTorch state_dict:
// one uncompressed entry "<name>.npy" per array of p.Fields(sh, in, out),
// masks included, in that order, with the reference's names and shapes
// ((U,) for gleak, vleak, cm; (U, U) and (S, U) for the synapse matrices;
// (S,) and (M,) for the mapping arrays), dtype '<f4' for float32 and '<f8'
// for float64. numpy reads the result with np.load.
//
// An output mapping None leaves the motor size M out of the file; LoadNPZ
// then needs it from the caller.
func SaveNPZ[T Float](w io.Writer, p *Params[T], sh Shape, in, out Mapping) error {
	if err := sh.validate(); err != nil {
		return err
	}
	if err := p.Check(sh, in, out); err != nil {
		return err
	}
	zw := npz.NewWriter(w)
	for _, f := range p.Fields(sh, in, out) {
		if err := npz.Add(zw, f.Name, *f.Data, f.Shape); err != nil {
			return fmt.Errorf("core: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("core: %w", err)
	}
	return nil
}

// NPZIsFloat64 reports whether the .npz archive r of size bytes stores
// its gleak array (under any prefix) as float64: the precision its
// parameters were saved in.
func NPZIsFloat64(r io.ReaderAt, size int64) bool {
	zr, err := npz.NewReader(r, size, 0)
	if err != nil {
		return false
	}
	for _, name := range zr.Names() {
		if name == "gleak" || strings.HasSuffix(name, ".gleak") {
			h, err := zr.Header(name)
			return err == nil && h.DType == npz.Float64
		}
	}
	return false
}

// LoadNPZ reads a cell's parameters from the .npz archive r of size bytes:
// SaveNPZ's output, or np.savez / np.savez_compressed of a PyTorch
// state_dict (ncps or keras-ncp LTCCell). It returns the parameters in
// precision T, converting float32 or float64 arrays (either byte order) as
// needed, and the shape and mappings the arrays imply:
//
//   - U is the length of gleak; S is the number of rows of sensory_w;
//   - the input mapping is Affine when input_w and input_b are present,
//     Linear with input_w alone, None with neither; the output mapping
//     likewise from output_w and output_b;
//   - M is the length of output_w. Without an output mapping nothing in the
//     parameters records M: pass it as motor. motor < 0 means "infer", an
//     error for such a file; motor >= 0 must match output_w when present.
//
// Every array of p.Fields for that shape and those mappings, the two masks
// included (they define the wiring), must be present with exactly the
// reference's shape; C-order and Fortran-order arrays are both accepted.
// Names may carry a common prefix, as a state_dict of a model holding the
// cell has ("rnn_cell.gleak", the ncps LTC wrapper's): the prefix is taken
// from the one entry named gleak or ending in ".gleak". Arrays of other
// names are ignored.
//
// Errors name the offending array: a missing one, one of the wrong dtype
// (not float32 or float64) or shape (with the shape expected), and a
// malformed .npy header or truncated payload; a damaged archive is an
// error too. What LoadNPZ allocates is bounded by the shapes the archive
// declares, which must fit maxNPZSize units and inputs and package npz's
// limits. LoadNPZ never panics on bad input.
func LoadNPZ[T Float](r io.ReaderAt, size int64, motor int) (p *Params[T], sh Shape, in, out Mapping, err error) {
	fail := func(e error) (*Params[T], Shape, Mapping, Mapping, error) {
		return nil, Shape{}, 0, 0, e
	}
	zr, err := npz.NewReader(r, size, 0)
	if err != nil {
		return fail(fmt.Errorf("core: %w", err))
	}
	var prefixes []string
	for _, name := range zr.Names() {
		if pre, ok := strings.CutSuffix(name, "gleak"); ok && (pre == "" || strings.HasSuffix(pre, ".")) {
			prefixes = append(prefixes, pre)
		}
	}
	switch len(prefixes) {
	case 0:
		return fail(errors.New("core: npz: missing array gleak"))
	case 1:
	default:
		slices.Sort(prefixes)
		return fail(fmt.Errorf("core: npz: the archive holds several parameter sets (gleak under the prefixes %q)", prefixes))
	}
	prefix := prefixes[0]

	// Read every header first: the shape comes from gleak and sensory_w,
	// the mappings from which mapping arrays exist.
	heads := map[string]*npz.Header{}
	for _, name := range []string{"gleak", "sensory_w", "input_w", "input_b", "output_w", "output_b"} {
		if !zr.Has(prefix + name) {
			continue
		}
		h, err := zr.Header(prefix + name)
		if err != nil {
			return fail(fmt.Errorf("core: npz: array %s: %w", name, errors.Unwrap(err)))
		}
		heads[name] = h
	}
	g := heads["gleak"]
	if len(g.Shape) != 1 || g.Shape[0] < 1 {
		return fail(fmt.Errorf("core: npz: array gleak must have shape (units,) with units >= 1, got %s", npz.ShapeString(g.Shape)))
	}
	sh.Units = g.Shape[0]
	sw := heads["sensory_w"]
	if sw == nil {
		return fail(errors.New("core: npz: missing array sensory_w"))
	}
	if len(sw.Shape) != 2 || sw.Shape[0] < 1 || sw.Shape[1] != sh.Units {
		return fail(fmt.Errorf("core: npz: array sensory_w must have shape (sensory, units=%d) with sensory >= 1, got %s",
			sh.Units, npz.ShapeString(sw.Shape)))
	}
	sh.Sensory = sw.Shape[0]
	mapping := func(w, b string) (Mapping, error) {
		switch {
		case heads[w] != nil && heads[b] != nil:
			return Affine, nil
		case heads[w] != nil:
			return Linear, nil
		case heads[b] != nil:
			return 0, fmt.Errorf("core: npz: the archive has %s but not %s", b, w)
		}
		return None, nil
	}
	if in, err = mapping("input_w", "input_b"); err != nil {
		return fail(err)
	}
	if out, err = mapping("output_w", "output_b"); err != nil {
		return fail(err)
	}
	if ow := heads["output_w"]; ow != nil {
		if len(ow.Shape) != 1 {
			return fail(fmt.Errorf("core: npz: array output_w must have shape (motor,), got %s", npz.ShapeString(ow.Shape)))
		}
		sh.Motor = ow.Shape[0]
		if motor >= 0 && motor != sh.Motor {
			return fail(fmt.Errorf("core: npz: the caller gives motor size %d but output_w has %d values", motor, sh.Motor))
		}
	} else {
		if motor < 0 {
			return fail(errors.New("core: npz: the archive has no output mapping (output_w), so it does not record the motor size: pass it"))
		}
		sh.Motor = motor
	}
	if err := sh.validate(); err != nil {
		return fail(err)
	}
	if sh.Units > maxNPZSize || sh.Sensory > maxNPZSize {
		return fail(fmt.Errorf("core: npz: %d units and %d input features: LoadNPZ accepts at most %d of each", sh.Units, sh.Sensory, maxNPZSize))
	}

	p = &Params[T]{}
	fields := p.Fields(sh, in, out)
	var missing []string
	for _, f := range fields {
		if !zr.Has(prefix + f.Name) {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return fail(fmt.Errorf("core: npz: missing arrays %s", strings.Join(missing, ", ")))
	}
	// Everything the declared shapes ask for, checked at once before any
	// array is read: a small deflated archive can declare gigabytes.
	var v T
	total := 0.0
	for _, f := range fields {
		n := 1.0
		for _, d := range f.Shape {
			n *= float64(d)
		}
		total += n * float64(unsafe.Sizeof(v))
	}
	if err := machine.CheckAlloc(fmt.Sprintf("core: npz: the parameters of a cell of %d units and %d inputs", sh.Units, sh.Sensory), total); err != nil {
		return fail(err)
	}
	for _, f := range fields {
		d, _, err := npz.Read[T](zr, prefix+f.Name, f.Shape)
		if err != nil {
			return fail(fmt.Errorf("core: npz: array %s: %w", f.Name, errors.Unwrap(err)))
		}
		*f.Data = d
	}
	if err := p.Check(sh, in, out); err != nil {
		return fail(err)
	}
	return p, sh, in, out, nil
}

// maxNPZSize bounds the units and input features LoadNPZ accepts, so that
// array sizes cannot overflow (the wiring package allows 65536 of each).
const maxNPZSize = 1 << 20
