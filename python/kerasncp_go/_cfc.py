"""The NumPy layer of the CfC family: one Go model handle, its parameter
table, and forward / backward passes over whole batches of sequences.

Every binding (the NumPy classes in :mod:`kerasncp_go.cfc`, torch, Keras)
builds on :class:`CfCModel`: it owns the rules (argument checks, the
parameter table with the reference's state_dict names, shapes of inputs,
states and elapsed times), so that a binding only converts its tensors.

Parameters live in one flat array laid out as the Go model's table says;
each binding hands out views into it.
"""

from __future__ import annotations

import ctypes
import secrets
import weakref
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from . import _lib, _ops, _rules

#: The reference's CfC modes and their C codes.
MODES = {"default": 0, "pure": 1, "no_gate": 2}
#: OR'ed into the mode code: the TF/Keras variant of the CfC (ncps.keras).
KERAS_VARIANT = 256
#: Backbone activations and their C codes.
ACTIVATIONS = {"lecun_tanh": 0, "tanh": 1, "relu": 2, "gelu": 3, "silu": 4}


class Entry(NamedTuple):
    """One parameter of a model: its state_dict name, torch-layout shape,
    where it starts in the flat array, and whether it is trained (the
    sparsity masks are not)."""

    name: str
    shape: Tuple[int, ...]
    offset: int
    size: int
    trainable: bool


def _choice(value: Any, table: Dict[str, int], name: str) -> int:
    if not isinstance(value, str) or value not in table:
        raise ValueError(f"{name} must be one of {', '.join(repr(k) for k in table)}, got {value!r}")
    return table[value]


def check_int(value: Any, name: str, lo: int) -> int:
    """value as an int >= lo; bools and non-integral numbers are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < lo or value > 1 << 24:
        raise ValueError(f"{name} must be in [{lo}, {1 << 24}], got {value}")
    return int(value)


def check_wired_backbone(backbone_units: Any, backbone_layers: Any, backbone_dropout: Any) -> None:
    """A CfC layer given a wiring takes no backbone argument (its cells have
    no backbone).

    Raises:
        ValueError: one of them is not None, naming it.
    """
    for name, v in (("backbone_units", backbone_units), ("backbone_layers", backbone_layers),
                    ("backbone_dropout", backbone_dropout)):
        if v is not None:
            raise ValueError(f"Cannot use {name} in wired mode")


def check_dropout(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"backbone_dropout must be a number in [0, 1), got {value!r}")
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"backbone_dropout must be a number in [0, 1), got {value!r}") from None
    if not 0.0 <= p < 1.0:
        raise ValueError(f"backbone_dropout must be in [0, 1), got {value!r}")
    return p


def new_seed(seed: Optional[int]) -> int:
    """A 64-bit seed: seed itself, or a fresh random one for None."""
    if seed is None:
        return secrets.randbits(64)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 1 << 64:
        raise ValueError(f"seed must be None or an integer in [0, 2**64), got {seed!r}")
    return int(seed)


def cfc_wiring(wiring: Any, input_size: Optional[int]) -> Any:
    """The kerasncp_go wiring a wired CfC runs on, built for input_size
    (when given), as the reference's wired cell builds the wiring it is
    given. A keras-ncp or ncps wiring of one layer converts (its matrices
    are all a single-layer CfC needs); one of several layers is refused:
    its layers set the CfC's structure and do not convert, so converting it
    would silently build another model.

    Raises:
        TypeError: a multi-layer wiring of another library, or not a wiring.
        ValueError: the input size is unknown or conflicts.
    """
    from .wirings import Wiring, as_wiring

    if not isinstance(wiring, Wiring) and getattr(wiring, "num_layers", 1) > 1:
        raise TypeError(f"wiring: a {type(wiring).__module__}.{type(wiring).__name__} has {wiring.num_layers} "
                        "layers, which a wired CfC needs and which do not convert; pass the kerasncp_go.wirings "
                        "class with the same arguments (same seed, same synapses)")
    w = as_wiring(wiring, input_size)
    if input_size is not None:
        w.build(check_int(input_size, "input_size", 1))
    if not w.is_built():
        raise ValueError("Wiring error! Unknown number of input features. Please pass the parameter "
                         "'input_size' or call the 'wiring.build()'.")
    return w


def sparsity_mask(mask: Any, input_size: Any, hidden_size: Any, backbone_layers: Any) -> np.ndarray:
    """A CfCCell's sparsity_mask, checked: |mask| as float64, shape
    (input_size + hidden_size, hidden_size), for cells without a backbone
    only (the mask multiplies the ff1 and ff2 weights, which read the input
    and state directly only then).

    Raises:
        ValueError: a backbone, or a mask of another shape.
    """
    if backbone_layers != 0:
        raise ValueError("sparsity_mask needs backbone_layers=0 (it multiplies the ff1 and ff2 weights, "
                         "which read the input and state directly only without a backbone)")
    n_in = check_int(input_size, "input_size", 1)
    n = check_int(hidden_size, "hidden_size", 1)
    m = np.abs(np.asarray(mask, dtype=np.float64))
    if m.shape != (n_in + n, n):
        raise ValueError(f"sparsity_mask must have shape (input_size + hidden_size={n_in + n}, "
                         f"hidden_size={n}), got {m.shape}")
    return m


def _free_model(handle: int) -> None:
    try:
        _lib.call("kncp_cfc_free", handle)
    except Exception:  # pragma: no cover - interpreter shutdown
        pass


class CfCModel:
    """A CfC model's structure in Go: plain (units) or wired (a kerasncp_go
    wiring, built for input_size), with optional mixed memory and
    projection. It holds no parameters: every pass takes a flat array.

    Raises:
        ValueError / TypeError: an argument out of range, naming it.
    """

    def __init__(self, input_size: int, units: Optional[int] = None, wiring: Any = None, mode: str = "default",
                 activation: str = "lecun_tanh", backbone_units: int = 128, backbone_layers: int = 1,
                 backbone_dropout: float = 0.0, mixed_memory: bool = False, proj_size: Optional[int] = None,
                 dtype: Any = np.float32, variant: str = "torch") -> None:
        self.dtype, dcode = _rules.dtype_code(dtype)
        if variant not in ("torch", "keras"):
            raise ValueError(f"variant must be 'torch' or 'keras', got {variant!r}")
        self.variant = variant
        self.input_size = check_int(input_size, "input_size", 1)
        cfg = _lib.CfCConfig()
        cfg.dtype = dcode
        cfg.input_size = self.input_size
        cfg.mode = _choice(mode, MODES, "mode") | (KERAS_VARIANT if variant == "keras" else 0)
        cfg.activation = _choice(activation, ACTIVATIONS, "activation")
        self.mode, self.activation = mode, activation
        if wiring is None:
            cfg.units = check_int(units, "units", 1)
            cfg.backbone_layers = check_int(backbone_layers, "backbone_layers", 0)
            cfg.backbone_units = check_int(backbone_units, "backbone_units", 1) if cfg.backbone_layers else 0
            cfg.backbone_dropout = check_dropout(backbone_dropout)
        else:
            cfg.wiring = wiring.handle
        cfg.mixed_memory = 1 if mixed_memory else 0
        cfg.proj_size = 0 if proj_size is None else check_int(proj_size, "proj_size", 1)
        self.mixed_memory = bool(mixed_memory)
        self.proj_size = proj_size
        h = ctypes.c_uint64()
        _lib.call("kncp_cfc_new", ctypes.byref(cfg), 0, ctypes.byref(h))
        self.handle = h.value
        self._finalizer = weakref.finalize(self, _free_model, self.handle)
        info = _lib.CfCInfo()
        _lib.call("kncp_cfc_info", self.handle, ctypes.byref(info))
        self.state_size = int(info.state_size)
        self.cell_output_size = int(info.cell_output_size)
        self.output_size = int(info.output_size)
        self.param_len = int(info.param_len)
        sizes = np.empty(int(info.num_layers), np.int64)
        _lib.call("kncp_cfc_layer_sizes", self.handle, _ops.addr(sizes), sizes.size)
        self.layer_sizes: List[int] = [int(s) for s in sizes]
        self.table: List[Entry] = []
        p = _lib.CfCParam()
        for i in range(int(info.num_params)):
            _lib.call("kncp_cfc_param", self.handle, i, ctypes.byref(p))
            self.table.append(Entry(p.name.decode(), tuple(int(d) for d in p.shape[:p.ndim]), int(p.offset),
                                    int(p.length), bool(p.trainable)))
        self.index = {e.name: e for e in self.table}

    def __getstate__(self):
        raise TypeError("CfCModel holds a Go handle; pickle the object that owns it")

    # -- parameters ------------------------------------------------------

    def init_params(self, seed: Optional[int] = None) -> np.ndarray:
        """A new flat parameter array drawn from seed as the reference
        initialises its modules (same distributions, not the same numbers)."""
        flat = np.empty(self.param_len, self.dtype)
        _lib.call("kncp_cfc_init", self.handle, new_seed(seed), _ops.buf(flat))
        return flat

    def views(self, flat: np.ndarray, prefix: str = "") -> Dict[str, np.ndarray]:
        """Views into flat by parameter name (with `prefix` removed from the
        names that start with it)."""
        out = {}
        for e in self.table:
            name = e.name[len(prefix):] if prefix and e.name.startswith(prefix) else e.name
            out[name] = flat[e.offset:e.offset + e.size].reshape(e.shape)
        return out

    def tape_bytes(self, batch: int, steps: int) -> float:
        """Bytes a forward pass with a tape over batch x steps keeps."""
        out = ctypes.c_double()
        _lib.call("kncp_cfc_tape_bytes", self.handle, batch, steps, ctypes.byref(out))
        return out.value

    def wake(self, batch: int, steps: int) -> None:
        """Hints that a pass over batch x steps comes soon (see kncp_cfc_wake):
        for bindings whose framework works between the passes."""
        _lib.call("kncp_cfc_wake", self.handle, batch, steps)

    # -- passes ------------------------------------------------------------

    def check_params(self, flat: Any) -> np.ndarray:
        a = _ops.as_array(flat, self.dtype, "params")
        if a.ndim != 1 or a.size != self.param_len:
            raise ValueError(f"params must be a flat array of {self.param_len} values, got shape {a.shape}")
        return a

    def check_states(self, b: int, h0: Optional[Tuple[int, ...]], c0: Optional[Tuple[int, ...]]) -> None:
        """Checks the shapes of a pass's initial state and memory (None:
        not given) for batch b; a ValueError naming the argument."""
        for shape, name in ((h0, "h0"), (c0, "c0")):
            if shape is None:
                continue
            if name == "c0" and not self.mixed_memory:
                raise ValueError("c0 is for mixed memory only (this model has none)")
            if tuple(shape) != (b, self.state_size):
                raise ValueError(f"{name} must have shape (batch={b}, state_size={self.state_size}), "
                                 f"got {tuple(shape)}")

    def forward(self, params: Any, x: Any, h0: Any = None, c0: Any = None, elapsed: Any = None,
                all_steps: bool = True, training: bool = False, seed: Optional[int] = None, keep: bool = False
                ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray], Optional["CfCTape"]]:
        """Runs the model over x (batch, steps, input_size) in one Go call.

        Args:
            params: the flat parameter array.
            h0, c0: initial state and (mixed memory) cell memory,
                (batch, state_size), or None (zeros).
            elapsed: elapsed times: None (1.0), a scalar, or any shape the
                elapsed-time rule accepts; finite and > 0.
            all_steps: outputs of every step, or of the last only.
            training: draw backbone dropout (from seed).
            keep: keep a tape for :meth:`CfCTape.backward`.

        Returns:
            (y, h, c, tape): y (batch, steps, output_size) or (batch,
            output_size); final state h and memory c (None without mixed
            memory); the tape or None.
        """
        dt = self.dtype
        p = self.check_params(params)
        xa = _ops.as_array(x, dt, "x")
        b, t = self.check_x(xa.shape)
        ha = None if h0 is None else _ops.as_array(h0, dt, "h0")
        ca = None if c0 is None or not self.mixed_memory else _ops.as_array(c0, dt, "c0")
        self.check_states(b, None if ha is None else ha.shape, _shape_given(c0, ca))
        ea = _ops.elapsed_array(elapsed, b, t, dt)
        y = np.empty(self.output_shape(b, t, all_steps), dt)
        h = np.empty((b, self.state_size), dt)
        c = np.empty((b, self.state_size), dt) if self.mixed_memory else None
        bf = _ops.buf
        tape = self.run_bufs(bf(p), b, t, bf(xa), bf(ha), bf(ca), bf(ea), bf(y), all_steps, bf(h), bf(c),
                             new_seed(seed) if training else None, keep, ea is not None)
        return y, h, c, tape

    def check_x(self, shape: Tuple[int, ...]) -> Tuple[int, int]:
        """(batch, steps) of inputs of shape (batch, steps, input_size);
        a ValueError naming x otherwise."""
        if len(shape) != 3 or shape[2] != self.input_size:
            raise ValueError(f"x must have shape (batch, steps, {self.input_size}), got {tuple(shape)}")
        if shape[0] == 0 or shape[1] == 0:
            raise ValueError(f"x must have at least one sequence and one step, got shape {tuple(shape)}")
        return shape[0], shape[1]

    def output_shape(self, b: int, t: int, all_steps: bool) -> Tuple[int, ...]:
        return (b, t, self.output_size) if all_steps else (b, self.output_size)

    def run_bufs(self, p: Any, b: int, t: int, x: Any, h0: Any, c0: Any, elapsed: Any, y: Any, all_steps: bool,
                 h: Any, c: Any, seed: Optional[int], keep: bool, irregular: bool) -> Optional["CfCTape"]:
        """The forward pass over caller-owned memory (kncp_buf views whose
        shapes the caller has checked: forward's, or a framework binding's
        tensors); seed is the dropout seed of a training pass (a 64-bit
        integer), None outside training passes."""
        handle = ctypes.c_uint64()
        # Long passes run interruptibly (see _lib.run_interruptible); short
        # ones, a step of a control loop say, directly.
        run = _lib.call_long if b * t * self.param_len >= _lib.LONG_WORK else _lib.call
        run("kncp_cfc_forward", self.handle, p, b, t, x, h0, c0, elapsed, y, 1 if all_steps else 0, h, c,
            0 if seed is None else 1, 0 if seed is None else seed, ctypes.byref(handle) if keep else None)
        return CfCTape(handle.value, self, b, t, all_steps, irregular) if keep else None


def _shape_given(v: Any, a: Optional[np.ndarray]) -> Optional[Tuple[int, ...]]:
    """The shape for check_states / check_grads of an argument v given as
    array a: None when v is None, () when it was not converted (a memory
    argument to a model without memory, which the check refuses)."""
    if v is None:
        return None
    return () if a is None else a.shape


class CfCTape:
    """What a forward pass kept for its one backward pass (Go memory,
    released after backward, on close(), or when garbage collected)."""

    def __init__(self, handle: int, model: CfCModel, batch: int, steps: int, all_steps: bool, irregular: bool):
        self.model, self.batch, self.steps, self.all_steps, self.irregular = model, batch, steps, all_steps, irregular
        self._finalizer = weakref.finalize(self, _ops._free_tape, handle)
        self.handle = handle

    def close(self) -> None:
        """Releases the Go memory now."""
        self._finalizer()

    def check_grads(self, gy: Optional[Tuple[int, ...]], gh: Optional[Tuple[int, ...]],
                    gc: Optional[Tuple[int, ...]]) -> None:
        """Checks the shapes of the gradients a backward pass is given
        (None: not given); a ValueError naming the argument."""
        m = self.model
        state = (self.batch, m.state_size)
        for shape, name, want in ((gy, "gy", self.output_shape()), (gh, "gh", state), (gc, "gc", state)):
            if shape is None:
                continue
            if name == "gc" and not m.mixed_memory:
                raise ValueError("gc is for mixed memory only (this model has none)")
            if tuple(shape) != want:
                raise ValueError(f"{name} must have shape {want}, got {tuple(shape)}")

    def backward(self, gy: Any = None, gh: Any = None, gc: Any = None, params: bool = True,
                 inputs: bool = True) -> Dict[str, Optional[np.ndarray]]:
        """Gradients of a loss whose gradients with respect to the outputs,
        final state and memory are gy, gh, gc (None: zero). A tape serves
        one backward pass.

        Returns:
            {"params": flat gradient (zeros at the masks) or None when
            params is false, "x", "h0", "c0" (mixed memory) or None,
            "elapsed" (when the pass had elapsed times) or None; the last
            four None when inputs is false}.
        """
        self.check_open()
        m, b, t = self.model, self.batch, self.steps
        dt = m.dtype
        gya = None if gy is None else _ops.as_array(gy, dt, "gy")
        gha = None if gh is None else _ops.as_array(gh, dt, "gh")
        gca = None if gc is None or not m.mixed_memory else _ops.as_array(gc, dt, "gc")
        self.check_grads(None if gya is None else gya.shape, None if gha is None else gha.shape, _shape_given(gc, gca))
        out: Dict[str, Optional[np.ndarray]] = {
            "params": np.empty(m.param_len, dt) if params else None,
            "x": np.empty((b, t, m.input_size), dt) if inputs else None,
            "h0": np.empty((b, m.state_size), dt) if inputs else None,
            "c0": np.empty((b, m.state_size), dt) if inputs and m.mixed_memory else None,
            "elapsed": np.empty((b, t), dt) if inputs and self.irregular else None,
        }
        bf = _ops.buf
        self.run_bufs(bf(gya), bf(gha), bf(gca), bf(out["params"]), bf(out["x"]), bf(out["h0"]), bf(out["c0"]),
                      bf(out["elapsed"]))
        return out

    def check_open(self) -> None:
        if not self._finalizer.alive:
            raise ValueError("this tape was used or closed: a tape serves one backward pass")

    def output_shape(self) -> Tuple[int, ...]:
        """The shape of the pass's outputs (of gy)."""
        return self.model.output_shape(self.batch, self.steps, self.all_steps)

    def run_bufs(self, gy: Any, gh: Any, gc: Any, gparams: Any, gx: Any, gh0: Any, gc0: Any, gelapsed: Any) -> None:
        """The backward pass over caller-owned memory (kncp_buf views of
        checked shapes; empty ones for gradients not wanted); the tape is
        released after it."""
        m = self.model
        try:
            run = _lib.call_long if self.batch * self.steps * m.param_len >= _lib.LONG_WORK else _lib.call
            run("kncp_cfc_backward", self.handle, gy, gh, gc, gparams, gx, gh0, gc0, gelapsed)
        finally:
            self.close()


def _is_tensor(a: Any) -> bool:
    """An array object the layout rules use as it is (a NumPy array or a
    framework tensor: anything with ndim, swapaxes and reshape)."""
    return hasattr(a, "ndim") and hasattr(a, "swapaxes") and hasattr(a, "reshape")


def batch_major(x: Any, batch_first: bool, dtype: Optional[np.dtype], input_size: int) -> Tuple[Any, bool]:
    """x as a (batch, steps, input) array, and whether it came unbatched
    ((steps, input)): the reference's input rule for sequence layers, shared
    by the bindings. With a dtype, x is first converted to a NumPy array of
    it; with None, x is a tensor kept as it is (a framework binding's, so
    that its autograd sees the reshaping)."""
    a = x if dtype is None else _ops.as_array(x, dtype, "input")
    if a.ndim == 2:
        return a[None], True
    if a.ndim != 3:
        raise ValueError(f"input must have shape (batch, steps, {input_size}) (or (steps, batch, {input_size}) "
                         f"with batch_first=False, or (steps, {input_size}) unbatched), got {tuple(a.shape)}")
    if not batch_first:
        a = a.swapaxes(0, 1)
    return a, False


def batch_major_elapsed(ts: Any, batch_first: bool, unbatched: bool) -> Any:
    """Timespans in batch-major order (the elapsed-time rule then fits them
    to (batch, steps)); tensors stay tensors."""
    if ts is None or np.ndim(ts) == 0:
        return ts
    a = ts if _is_tensor(ts) else np.asarray(ts)
    if unbatched:
        return a.reshape(1, -1) if a.ndim == 1 else a[None]
    if not batch_first and a.ndim >= 2:
        a = a.swapaxes(0, 1)
    return a


def state_pair(hx: Any, mixed: bool, unbatched: bool) -> Tuple[Any, Any]:
    """(h0, c0) from the reference's hx: a state, or a pair (h, c) with
    mixed memory; 1-D states for unbatched input (given a batch axis here).
    Tensors stay tensors."""
    if hx is None:
        return None, None
    if mixed:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError("hx must be a pair (h0, c0) with mixed_memory=True, "
                             f"got {type(hx).__name__}")
        h, c = hx
    else:
        if isinstance(hx, (tuple, list)):
            raise ValueError("hx must be one array without mixed memory, got a tuple")
        h, c = hx, None
    want = 1 if unbatched else 2
    for v, n in ((h, "hx"), (c, "cx")):
        if v is not None and np.ndim(v) != want:
            raise ValueError(f"{n} must be {want}-D for {'unbatched 2-D' if unbatched else 'batched 3-D'} input, "
                             f"got {np.ndim(v)}-D")
    if unbatched:
        h = None if h is None else (h if _is_tensor(h) else np.asarray(h))[None]
        c = None if c is None else (c if _is_tensor(c) else np.asarray(c))[None]
    return h, c


def restore_layout(y: Any, batch_first: bool, unbatched: bool, all_steps: bool) -> Any:
    """Outputs back in the caller's layout. Unbatched input loses its batch
    axis where the reference squeezes it: at the batch position, so a
    time-major layer's last-step output (1, out) keeps its leading axis
    unless out is 1 (ncps's CfC.forward does the same)."""
    if unbatched:
        if all_steps or batch_first:
            return y[0]
        return y.reshape(-1) if y.shape[1] == 1 else y
    if all_steps and not batch_first:
        y = y.swapaxes(0, 1)
        # Contiguous, as the reference's stacked steps are (view(-1, C) works).
        return np.ascontiguousarray(y) if isinstance(y, np.ndarray) else y.contiguous()
    return y


def names(model: CfCModel, prefix: str = "") -> Sequence[str]:
    return [e.name[len(prefix):] if e.name.startswith(prefix) else e.name for e in model.table]
