"""The NumPy layer between the frameworks and the C ABI.

It makes inputs contiguous in the cell's dtype, checks shapes (naming the
argument in every error), keeps every array alive across the call, allocates
outputs, and wraps forward tapes so that their Go memory is released.
Framework bindings (torch, tf) call only this module and :mod:`._rules`
(what the options, elapsed times and parameters must be).
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

from . import _lib, _rules
from ._rules import (
    NON_NEGATIVE,
    PARAM_ORDER,
    TRAINABLE,
    check_elapsed_values,
    check_ode_unfolds,
    dtype_code,
    elapsed_shape,
    param_shapes,
)

__all__ = ["as_array", "addr", "buf", "CellSpec", "GradLayout", "Tape", "elapsed_array", "forward", "step",
           "apply_constraints", "forward_npz", "params_to_npz", "wiring_to_npz"]


def as_array(x, dtype: np.dtype, name: str) -> np.ndarray:
    """x as a C-contiguous array of dtype (a copy only when needed)."""
    if type(x) is np.ndarray and x.dtype == dtype and x.flags.c_contiguous:
        return x  # the common case, first: this runs on every call
    try:
        a = np.asarray(x)
    except Exception as e:
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}") from e
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=dtype)


_from_buffer = ctypes.c_char.from_buffer
_addressof = ctypes.addressof


def addr(a: np.ndarray) -> int:
    """The data address of a C-contiguous array. Through the buffer protocol
    this is about five times faster than a.ctypes.data, which remains the
    fallback (read-only or empty arrays)."""
    try:
        return _addressof(_from_buffer(a))  # type: ignore[arg-type]  # ndarray has the buffer protocol
    except (TypeError, ValueError, BufferError):
        return a.ctypes.data


def buf(a: Optional[np.ndarray]) -> _lib.Buf:
    if a is None:
        return _lib.Buf(None, 0)
    return _lib.Buf(addr(a), a.size)


class CellSpec:
    """Shape, options and parameter arrays of one LTC cell, as the C ABI
    takes them. Holds references to the arrays for as long as it lives."""

    def __init__(self, params: Mapping[str, np.ndarray], units: int, sensory: int, motor: int,
                 input_mapping: int, output_mapping: int, ode_unfolds: int, epsilon: float,
                 implicit: bool, dtype) -> None:
        self.dtype, code = dtype_code(dtype)
        self.units, self.sensory, self.motor = units, sensory, motor
        self.shapes = param_shapes(units, sensory, motor, input_mapping, output_mapping)
        self.arrays: Dict[str, np.ndarray] = {}
        desc = _lib.LTCCellDesc()
        desc.dtype, desc.units, desc.sensory, desc.motor = code, units, sensory, motor
        desc.input_mapping, desc.output_mapping = input_mapping, output_mapping
        desc.ode_unfolds = check_ode_unfolds(ode_unfolds)  # the C field is 32 bits wide
        desc.epsilon, desc.implicit_constraints = float(epsilon), int(bool(implicit))
        for i, name in enumerate(PARAM_ORDER):
            if name not in self.shapes:
                continue
            if name not in params:
                raise ValueError(f"parameter {name} is missing")
            a = as_array(params[name], self.dtype, name)
            if a.shape != self.shapes[name]:
                raise ValueError(f"parameter {name} must have shape {self.shapes[name]}, got {a.shape}")
            self.arrays[name] = a
            desc.params[i] = buf(a)
        self.desc = desc
        self.ref = ctypes.byref(desc)
        self._layouts: Dict[tuple, "GradLayout"] = {}

    def grad_layout(self, batch: int, steps: int, irregular: bool, params: bool) -> "GradLayout":
        """Where each gradient of a backward pass sits in one flat buffer."""
        key = (batch, steps, irregular, params)
        lay = self._layouts.get(key)
        if lay is None:
            if len(self._layouts) >= 64:  # batch sizes come and go
                self._layouts.clear()
            lay = self._layouts[key] = GradLayout(self, batch, steps, irregular, params)
        return lay


class GradLayout:
    """The gradients of one backward pass in one flat buffer: x, h0 and
    (with elapsed times) elapsed first, then the trainable parameters in
    KNCP_P order.

    Attributes:
        names, shapes, sizes, offsets: per gradient, in buffer order.
        total: the buffer's length.
        index: name -> position in the lists above.
        cache: for bindings to keep what they derive from the layout.
    """

    def __init__(self, spec: CellSpec, batch: int, steps: int, irregular: bool, params: bool) -> None:
        entries = [("x", -1, (batch, steps, spec.sensory)), ("h0", -1, (batch, spec.units))]
        if irregular:
            entries.append(("elapsed", -1, (batch, steps)))
        if params:
            entries += [(n, i, spec.shapes[n]) for i, n in enumerate(PARAM_ORDER)
                        if n in spec.shapes and n in TRAINABLE]
        self.names = tuple(e[0] for e in entries)
        self.shapes = tuple(e[2] for e in entries)
        self.sizes = tuple(int(np.prod(sh)) for sh in self.shapes)
        self.offsets = tuple(int(o) for o in np.cumsum((0,) + self.sizes[:-1]))
        self.total = int(sum(self.sizes))
        self.index = {n: k for k, n in enumerate(self.names)}
        self.cache: dict = {}
        self._slots = tuple(e[1] for e in entries)
        self._itemsize = spec.dtype.itemsize

    def bufs(self, base: int):
        """(the KNCP_NUM_PARAMS parameter gradient Bufs, x, h0, elapsed
        Bufs) of a buffer at address base."""
        grads = (_lib.Buf * _lib.NUM_PARAMS)()
        fixed = [_lib.Buf(None, 0)] * 3
        size = self._itemsize
        for k, (slot, off, n) in enumerate(zip(self._slots, self.offsets, self.sizes)):
            if slot >= 0:
                g = grads[slot]
                g.data, g.len = base + off * size, n
            else:
                fixed[k] = _lib.Buf(base + off * size, n)
        return grads, fixed[0], fixed[1], fixed[2]


class Tape:
    """What a forward pass kept for its backward pass (Go memory, released
    when this object is garbage collected or closed)."""

    def __init__(self, handle: int, spec: CellSpec, batch: int, steps: int, all_steps: bool, irregular: bool):
        self.handle, self.spec = handle, spec
        self.batch, self.steps, self.all_steps, self.irregular = batch, steps, all_steps, irregular
        self._finalizer = weakref.finalize(self, _free_tape, handle)

    def close(self) -> None:
        """Releases the Go memory now."""
        self._finalizer()

    def backward(self, gy: Optional[np.ndarray] = None, gh: Optional[np.ndarray] = None,
                 params: bool = True) -> Dict[str, np.ndarray]:
        """Gradients of a loss whose gradients with respect to the outputs
        and final state are gy and gh (None: zero).

        Returns:
            a dict with "x", "h0", "elapsed" (when the pass had elapsed
            times) and, when params is true, every trainable parameter.
        """
        lay = self.layout(params)
        flat = np.empty(lay.total, self.spec.dtype)
        self.backward_into(flat, gy, gh, params)
        return {n: flat[o:o + k].reshape(sh) for n, o, k, sh in zip(lay.names, lay.offsets, lay.sizes, lay.shapes)}

    def layout(self, params: bool = True) -> GradLayout:
        """Where backward_into puts each gradient."""
        return self.spec.grad_layout(self.batch, self.steps, self.irregular, params)

    def backward_into(self, out: np.ndarray, gy=None, gh=None, params: bool = True) -> None:
        """As backward, writing every gradient into out, a C-contiguous 1-D
        array of the spec's dtype laid out as layout(params) says."""
        if not self._finalizer.alive:
            raise ValueError("this tape was closed")
        s = self.spec
        dt = s.dtype
        b, t = self.batch, self.steps
        yshape = (b, t, s.motor) if self.all_steps else (b, s.motor)
        gya = None if gy is None else as_array(gy, dt, "gy")
        if gya is not None and gya.shape != yshape:
            raise ValueError(f"gy must have the outputs' shape {yshape}, got {gya.shape}")
        gha = None if gh is None else as_array(gh, dt, "gh")
        if gha is not None and gha.shape != (b, s.units):
            raise ValueError(f"gh must have the state's shape {(b, s.units)}, got {gha.shape}")
        lay = self.layout(params)
        if not (type(out) is np.ndarray and out.dtype == dt and out.ndim == 1 and out.size == lay.total
                and out.flags.c_contiguous and out.flags.writeable):
            raise ValueError(f"out must be a writeable C-contiguous 1-D {dt} array of {lay.total} values")
        grads, bx, bh0, bel = lay.bufs(addr(out))
        work = b * t * s.units * (s.units + s.sensory) * s.desc.ode_unfolds
        run = _lib.call if work < _lib.LONG_WORK else _lib.call_long
        run("kncp_ltc_backward", self.handle, buf(gya), buf(gha), grads, bx, bh0, bel)


def _free_tape(handle: int) -> None:
    try:
        _lib.call("kncp_tape_free", handle)
    except Exception:  # pragma: no cover - interpreter shutdown
        pass


def elapsed_array(elapsed, batch: int, steps: int, dtype, name: str = "elapsed") -> Optional[np.ndarray]:
    """Per-sample, per-step elapsed times (batch, steps), or None for the
    regular 1.0, from a scalar or any shape :func:`._rules.elapsed_shape`
    accepts.

    Raises:
        ValueError: a shape that does not fit, or a time that is not finite
            and > 0.
    """
    if elapsed is None:
        return None
    if isinstance(elapsed, (int, float, np.number)) or np.ndim(elapsed) == 0:
        e = float(elapsed)
        check_elapsed_values(e, name)
        return None if e == 1.0 else np.full((batch, steps), e, dtype=dtype)
    a = as_array(elapsed, dtype, name)
    a = np.ascontiguousarray(np.broadcast_to(a.reshape(elapsed_shape(a.shape, batch, steps, name)), (batch, steps)))
    check_elapsed_values(a, name)
    return a


_scratch = threading.local()
_forward_fn = _lib.lib.kncp_ltc_forward


def _rebind_after_fork() -> None:
    global _forward_fn
    _forward_fn = _lib.lib.kncp_ltc_forward


_lib.after_fork_in_child.append(_rebind_after_fork)


def _bufs():
    """Five reusable Buf structs of this thread (ctypes copies a struct
    argument at each call, so reuse is safe) and its error buffer."""
    b = getattr(_scratch, "bufs", None)
    if b is None:
        b = _scratch.bufs = tuple(_lib.Buf() for _ in range(5)) + (_lib._errbuf(),)
    return b


def _run(spec: CellSpec, xa: np.ndarray, ha: Optional[np.ndarray], ea: Optional[np.ndarray], b: int, t: int,
         all_steps: bool, tape_out) -> Tuple[np.ndarray, np.ndarray]:
    """The Go call of forward() and step(), on checked C-contiguous arrays
    of the spec's dtype: allocates the outputs and returns (y, h)."""
    dt = spec.dtype
    y = np.empty((b, t, spec.motor) if all_steps else (b, spec.motor), dt)
    h = np.empty((b, spec.units), dt)
    bx, bh, be, by, bH, err = _bufs()
    bx.data, bx.len = addr(xa), xa.size
    if ha is None:
        bh.data, bh.len = None, 0
    else:
        bh.data, bh.len = addr(ha), ha.size
    if ea is None:
        be.data, be.len = None, 0
    else:
        be.data, be.len = addr(ea), ea.size
    by.data, by.len = addr(y), y.size
    bH.data, bH.len = addr(h), h.size
    args = (spec.ref, b, t, bx, bh, be, by, 1 if all_steps else 0, bH, tape_out, err, _lib.ERRLEN)
    if b * t * spec.units * (spec.units + spec.sensory) * spec.desc.ode_unfolds < _lib.LONG_WORK:
        rc = _forward_fn(*args)
    else:
        rc = _lib.run_interruptible(_forward_fn, *args)
    if rc:
        _lib.raise_error(rc, err)
    return y, h


def forward(spec: CellSpec, x, h0=None, elapsed=None, all_steps: bool = True, keep: bool = False,
            elapsed_name: str = "elapsed") -> Tuple[np.ndarray, np.ndarray, Optional[Tape]]:
    """Runs the cell over x (batch, steps, sensory) in one Go call.

    elapsed: elapsed times (see :func:`elapsed_array`), or None for 1.0;
    elapsed_name names them in errors.

    Returns:
        (y, h, tape): outputs (batch, steps, motor) or, when all_steps is
        false, (batch, motor); the final state (batch, units); a Tape when
        keep is true, else None.
    """
    dt = spec.dtype
    xa = as_array(x, dt, "x")
    if xa.ndim != 3 or xa.shape[2] != spec.sensory:
        raise ValueError(f"x must have shape (batch, steps, {spec.sensory}), got {xa.shape}")
    b, t = xa.shape[0], xa.shape[1]
    if b == 0 or t == 0:
        raise ValueError(f"x must have at least one sequence and one step, got shape {xa.shape}")
    ha = None
    if h0 is not None:
        ha = as_array(h0, dt, "h0")
        if ha.shape != (b, spec.units):
            raise ValueError(f"h0 must have shape (batch={b}, units={spec.units}), got {ha.shape}")
    ea = None if elapsed is None else elapsed_array(elapsed, b, t, dt, elapsed_name)
    if not keep:
        y, h = _run(spec, xa, ha, ea, b, t, all_steps, None)
        return y, h, None
    handle = ctypes.c_uint64()
    y, h = _run(spec, xa, ha, ea, b, t, all_steps, ctypes.byref(handle))
    return y, h, Tape(handle.value, spec, b, t, all_steps, ea is not None)


def step(spec: CellSpec, x: np.ndarray, h0: Optional[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """One regular step (elapsed time 1) for callers that have already
    checked their arrays: x C-contiguous (batch, sensory) and h0 None or
    C-contiguous (batch, units), both of the spec's dtype. The lean path
    behind LTCCell.__call__, for control loops where microseconds count."""
    return _run(spec, x, h0, None, x.shape[0], 1, False, None)


def apply_constraints(spec: CellSpec) -> None:
    """Clamps w, sensory_w, cm and gleak at zero in place.

    Raises:
        ValueError: one of them is a read-only array (Go would write into
            it regardless, or fault on a read-only memory map).
    """
    for n in NON_NEGATIVE:
        if not spec.arrays[n].flags.writeable:
            raise ValueError(f"parameter {n} is a read-only array; apply_weight_constraints clamps it in place")
    _lib.call("kncp_ltc_apply_constraints", ctypes.byref(spec.desc))


def forward_npz(params_npz: bytes, x_npy: bytes, ode_unfolds: int = 6, epsilon: float = 1e-8,
                implicit_param_constraints: bool = False, motor: Optional[int] = None) -> bytes:
    """Runs a cell stored as an .npz parameter archive over an .npy input
    array (batch, steps, sensory), entirely from buffers, and returns the
    outputs of every step as .npy bytes. The library parses and writes the
    buffers; malformed ones raise ValueError naming what is wrong."""
    import json

    opts = {"ode_unfolds": int(ode_unfolds), "epsilon": float(epsilon),
            "implicit_param_constraints": _rules.check_bool(implicit_param_constraints, "implicit_param_constraints")}
    if motor is not None:
        opts["motor"] = int(motor)
    pb, xb = bytes(params_npz), bytes(x_npy)
    out = ctypes.POINTER(ctypes.c_uint8)()
    n = ctypes.c_int64()
    _lib.call_long("kncp_ltc_forward_npz", pb, len(pb), xb, len(xb), json.dumps(opts).encode(),
              ctypes.byref(out), ctypes.byref(n))
    return _lib.take_buffer(out, n.value)


def params_to_npz(spec: CellSpec) -> bytes:
    """The cell's parameters as .npz bytes written by the library."""
    out = ctypes.POINTER(ctypes.c_uint8)()
    n = ctypes.c_int64()
    _lib.call("kncp_ltc_params_to_npz", ctypes.byref(spec.desc), ctypes.byref(out), ctypes.byref(n))
    return _lib.take_buffer(out, n.value)


def wiring_to_npz(handle: int) -> bytes:
    """A wiring's matrices as .npz bytes written by the library."""
    out = ctypes.POINTER(ctypes.c_uint8)()
    n = ctypes.c_int64()
    _lib.call("kncp_wiring_npz", handle, ctypes.byref(out), ctypes.byref(n))
    return _lib.take_buffer(out, n.value)
