"""The NumPy side of the Keras 3 layers, shared by every backend: one
kernel per cell family that turns the cell's Keras variables (as NumPy
arrays, in the cell's weight order) into a Go pass over whole sequences
and back, and the store where forward tapes wait for their backward pass.

The LTC cell's fixed part and the tape store are the ones the tf-keras
op uses too (:mod:`kerasncp_go._hostcall`). A backend module (``_tf``,
``_jax``, ``_torch``) only moves tensors in and
out of :func:`forward` and :func:`backward`; it imports nothing here that
imports a framework.

Forward and backward are two host calls joined by an integer tape id. A
backward pass whose tape is gone (never kept, evicted, or asked for a
second time) runs the forward pass again with the same seed first, so a
result never depends on the store.
"""

from __future__ import annotations

import random
import secrets
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import _cfc, _lib, _ops, _rules
from .._hostcall import FixedLTC, TapeStore

__all__ = ["LTCKernel", "CfCKernel", "forward", "backward", "live_tapes"]


class LTCKernel:
    """An LTC cell as ncps.keras lays it out: `names` are the cell's
    trainable weights in its creation order (the order of its `weights`)."""

    def __init__(self, units: int, sensory: Optional[int], motor: int, input_mapping: Optional[str],
                 output_mapping: Optional[str],
                 ode_unfolds: int, epsilon: float, adjacency: np.ndarray, sensory_adjacency: np.ndarray) -> None:
        if sensory is None:
            raise ValueError("the wiring is not built: its number of inputs is unknown")
        self.cell = FixedLTC(units, sensory, motor, _rules.mapping_code(input_mapping, "input_mapping"),
                             _rules.mapping_code(output_mapping, "output_mapping"),
                             _rules.check_ode_unfolds(ode_unfolds), epsilon, adjacency, sensory_adjacency)
        self.names = self.cell.names
        self.shapes = tuple(self.cell.shapes[n] for n in self.names)
        self.state_size, self.output_size = self.cell.units, self.cell.motor

    def tape_bytes(self, batch: int, steps: int) -> int:
        return self.cell.tape_bytes(batch, steps)

    def run(self, params, x, h0, ts, all_steps: bool, training: bool, seed: int, keep: bool):
        y, h, tape = _ops.forward(self.cell.spec(params), x, h0, ts, all_steps=all_steps, keep=keep)
        return y, h, tape

    def grads(self, tape, gy, gh, has_ts: bool) -> List[np.ndarray]:
        g = tape.backward(gy, gh)
        return [g[n] for n in self.names] + [g["x"], g["h0"]] + ([g["elapsed"]] if has_ts else [])


class CfCKernel:
    """The cells of a CfC layer as ncps.keras lays them out, computed by the
    Go core's Keras variant. `cells` describes each CfC cell (one, or one per
    wiring layer) by the names its weights have in the Go table, in the
    cell's weight order; `transpose` marks the Keras kernels ((in, out))
    that the table holds as (out, in)."""

    def __init__(self, input_size: Optional[int], units: Optional[int], wiring: Any, mode: str, activation: str,
                 backbone_units: int, backbone_layers: int, backbone_dropout: float,
                 output_size: Optional[int] = None) -> None:
        if input_size is None:
            raise ValueError("the cell is not built: its number of inputs is unknown")
        self.model = _cfc.CfCModel(input_size, units=units, wiring=wiring, mode=mode, activation=activation,
                                   backbone_units=backbone_units, backbone_layers=backbone_layers,
                                   backbone_dropout=backbone_dropout, variant="keras")
        m = self.model
        self.state_size = m.state_size
        self.cell_output_size = m.output_size
        self.output_size = m.output_size if output_size is None else int(output_size)
        self._base = m.init_params(0)  # holds the masks; every trained entry is overwritten
        entries = {e.name: e for e in m.table}
        self.layers: List[List[Tuple[str, Tuple[int, ...]]]] = []
        nl = 1 if wiring is None else wiring.num_layers
        for layer in range(nl):
            prefix = "rnn_cell." if wiring is None else f"rnn_cell.layer_{layer}."
            bb = sorted((n for n in entries if n.startswith(prefix + "backbone.") and n.endswith(".weight")),
                        key=lambda n: int(n.split(".")[-2]))
            keys: List[str] = []
            # ncps.keras's weight order: the cell's own variables, then the
            # backbone's Dense layers, then time_a and time_b.
            if mode == "pure":
                keys += [prefix + "ff1.weight", prefix + "ff1.bias", prefix + "w_tau", prefix + "A"]
            else:
                keys += [prefix + "ff1.weight", prefix + "ff1.bias", prefix + "ff2.weight", prefix + "ff2.bias"]
            for w in bb:
                keys += [w, w[:-len("weight")] + "bias"]
            if mode != "pure":
                keys += [prefix + "time_a.weight", prefix + "time_a.bias",
                         prefix + "time_b.weight", prefix + "time_b.bias"]
            self.layers.append([(k, entries[k].shape) for k in keys])
        self._slots = [(entries[k].offset, entries[k].size, shape, len(shape) == 2 and not k.endswith(("w_tau", ".A")))
                       for layer in self.layers for k, shape in layer]
        self.shapes = tuple(shape[::-1] if t else shape for (_, _, shape, t) in self._slots)
        # How each Keras weight lies in the table, for the native TensorFlow
        # ops (_tfop.c): its offset, the (rows, cols) it is copied as (a
        # transposed Keras kernel (in, out) into the table's (out, in)), and
        # whether it is transposed.
        self.offsets = [off for off, _, _, _ in self._slots]
        self.rows = [shape[1] if t else size for _, size, shape, t in self._slots]
        self.cols = [shape[0] if t else 1 for _, _, shape, t in self._slots]
        self.trans = [int(t) for _, _, _, t in self._slots]

    def tape_bytes(self, batch: int, steps: int) -> float:
        return self.model.tape_bytes(batch, steps)

    def pack(self, params: Sequence[np.ndarray]) -> np.ndarray:
        flat = self._base.copy()
        for (off, size, _, t), p in zip(self._slots, params):
            a = np.asarray(p, np.float32)
            flat[off:off + size] = (a.T if t else a).ravel()
        return flat

    def unpack(self, g: np.ndarray) -> List[np.ndarray]:
        return [np.ascontiguousarray(g[off:off + size].reshape(shape).T if t else g[off:off + size].reshape(shape))
                for off, size, shape, t in self._slots]

    def run(self, params, x, h0, ts, all_steps: bool, training: bool, seed: int, keep: bool):
        return self.flat.run([self.pack(params)], x, h0, ts, all_steps, training, seed, keep)

    def grads(self, tape, gy, gh, has_ts: bool) -> List[np.ndarray]:
        g = self.flat.grads(tape, gy, gh, has_ts)
        return self.unpack(g[0]) + g[1:]

    @property
    def flat(self) -> "FlatCfCKernel":
        """This kernel over the packed table: one parameter, the flat
        table (masks included), and its gradient."""
        f = self.__dict__.get("_flat")
        if f is None:
            f = self._flat = FlatCfCKernel(self)
        return f


class FlatCfCKernel:
    """A CfCKernel whose one parameter is the Go table itself, for backends
    that pack the weights in their own ops (JAX: one host-callback argument
    instead of one per weight; _jax.sequence gives the costs)."""

    def __init__(self, kernel: CfCKernel) -> None:
        self.kernel = kernel
        self.model = kernel.model
        self.state_size, self.output_size = kernel.state_size, kernel.output_size

    def tape_bytes(self, batch: int, steps: int) -> float:
        return self.model.tape_bytes(batch, steps)

    def run(self, params, x, h0, ts, all_steps: bool, training: bool, seed: int, keep: bool):
        k = self.kernel
        y, h, _, tape = self.model.forward(np.asarray(params[0], np.float32), x, h0, None, ts, all_steps=all_steps,
                                           training=training, seed=seed, keep=keep)
        if k.output_size != k.cell_output_size:
            y = np.ascontiguousarray(y[..., :k.output_size])
        return y, h, tape

    def grads(self, tape, gy, gh, has_ts: bool) -> List[np.ndarray]:
        k = self.kernel
        if gy is not None and k.output_size != k.cell_output_size:
            full = np.zeros(gy.shape[:-1] + (k.cell_output_size,), np.float32)
            full[..., :k.output_size] = gy
            gy = full
        g = tape.backward(gy, gh)
        return [g["params"], g["x"], g["h0"]] + ([g["elapsed"]] if has_ts else [])


_store = TapeStore()


#: The Go models whose handles compiled graphs name (XLA FFI calls, traced
#: TensorFlow graphs of the native ops), kept for the process's life: such
#: a graph holds a handle as a plain integer and may outlive its layer. (A
#: model is its structure, a few kilobytes; the weights travel per call.)
_pinned: Dict[int, Any] = {}


def pin(model: Any) -> int:
    """Keeps model alive for the process's life; its handle."""
    _pinned[model.handle] = model
    return model.handle


def live_tapes() -> int:
    """Forward tapes kept for a backward pass that has not run yet."""
    return len(_store)


def _inputs(x, h0, ts):
    x = np.ascontiguousarray(x, np.float32)
    h0 = np.ascontiguousarray(h0, np.float32)
    t = None
    if ts is not None:
        t = np.ascontiguousarray(np.asarray(ts, np.float32).reshape(x.shape[0], x.shape[1]))
    return x, h0, t


#: Dropout seeds of the passes run from here: random, until reseed (which
#: keras.utils.set_random_seed calls) starts a repeatable stream.
_seeds = random.Random(secrets.randbits(64))


def reseed(seed: int) -> None:
    _seeds.seed(int(seed))


def forward(kernel, all_steps: bool, training: bool, keep: bool, x, h0, ts, *params
            ) -> Tuple[np.ndarray, np.ndarray, np.int32, np.int32]:
    """One Go pass over x (batch, steps, in) from h0 with elapsed times ts
    ((batch, steps) or None): (y, h, tape id (0 when no tape is kept), the
    dropout seed drawn for a training pass, for a backward pass that has to
    run it again). Ids and seeds are int32: JAX's default integer."""
    x, h0, t = _inputs(x, h0, ts)
    seed = _seeds.getrandbits(31) if training else 0
    y, h, tape = kernel.run(params, x, h0, t, all_steps, training, seed, keep)
    tid = _store.put(tape, int(kernel.tape_bytes(x.shape[0], x.shape[1]))) if tape is not None else 0
    return y.astype(np.float32, copy=False), h.astype(np.float32, copy=False), np.int32(tid), np.int32(seed)


def backward(kernel, all_steps: bool, training: bool, tid, seed, gy, gh, x, h0, ts, *params) -> List[np.ndarray]:
    """Gradients of the pass `tid` for upstream gy, gh: the parameters' (in
    the kernel's order), then x's, h0's and (when ts is given) ts's."""
    tape = _store.pop(int(tid)) if int(tid) else None
    x, h0, t = _inputs(x, h0, ts)
    if tape is None:
        _, _, tape = kernel.run(params, x, h0, t, all_steps, training, int(seed), True)
    try:
        gya = None if gy is None else np.ascontiguousarray(gy, np.float32)
        gha = None if gh is None else np.ascontiguousarray(gh, np.float32)
        out = kernel.grads(tape, gya, gha, t is not None)
    finally:
        tape.close()
    if t is not None and ts is not None and np.shape(ts) != t.shape:
        out[-1] = out[-1].reshape(np.shape(ts))
    return [np.asarray(o, np.float32) for o in out]


def check_library() -> None:
    """Raises ImportError when the Go library cannot serve these layers."""
    if _lib.lib is None:  # pragma: no cover - _lib raises at import
        raise ImportError("kerasncp_go.keras: the Go library is not loaded")
