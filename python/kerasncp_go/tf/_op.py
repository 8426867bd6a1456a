"""The TensorFlow op behind the Keras layers: an LTC cell over whole
sequences, forward and backward in one Go call each.

``ltc_sequence`` wraps ``kerasncp_go._ops.forward`` and ``Tape.backward`` in
``tf.numpy_function`` calls joined by ``tf.custom_gradient``, so it works in
eager mode, inside ``tf.function`` graphs (``model.fit``) and inside the
``tf.while_loop`` of ``keras.layers.RNN`` (one step per call).

The forward pass keeps its Go tape only when a gradient tape is recording;
the tape waits in a small store under an integer id that the backward pass
receives as a tensor. A tape that was never used (a recorded pass whose
gradient nobody asked for) is evicted once the store is full; a backward pass
whose tape is gone recomputes the forward pass first, so results never
depend on the store.

Graphs that TensorFlow serializes (``tf.saved_model.save``, Keras
``model.export``, tf-keras SavedModel saving) are traced with the equivalent
pure-TensorFlow implementation in :mod:`kerasncp_go._tf_ltc` instead, since
a ``tf.numpy_function`` body cannot be serialized: the exported model runs
without this package and without gradients from the Go kernel.
"""

from __future__ import annotations

import functools
from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import record as _record
from tensorflow.python.saved_model import save_context as _save_context

from .. import _ops, _tf_ltc
from .._hostcall import FixedLTC, TapeStore
from .._tfgrad import first_order

__all__ = ["CellMeta", "ltc_sequence", "live_tapes"]


class CellMeta(FixedLTC):
    """An LTC cell's fixed part (:class:`kerasncp_go._hostcall.FixedLTC`)
    with its TensorFlow dtype."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tf_dtype = tf.as_dtype(self.dtype)


_store = TapeStore()


def live_tapes() -> int:
    """Forward tapes kept for a backward pass that has not run yet."""
    return len(_store)


def _forward_np(meta: CellMeta, all_steps: bool, keep: bool, has_elapsed: bool, x, h0, *rest):
    elapsed = rest[0] if has_elapsed else None
    params = rest[1:] if has_elapsed else rest
    y, h, tape = _ops.forward(meta.spec(params), x, h0, elapsed, all_steps=all_steps, keep=keep)
    tid = 0
    if tape is not None:
        tid = _store.put(tape, meta.tape_bytes(x.shape[0], x.shape[1]))
    return y, h, np.int64(tid)


def _backward_np(meta: CellMeta, all_steps: bool, has_elapsed: bool, tid, gy, gh, x, h0, *rest):
    tape = _store.pop(tid) if tid else None
    if tape is None:  # never kept, evicted, or a second gradient: recompute
        elapsed = rest[0] if has_elapsed else None
        params = rest[1:] if has_elapsed else rest
        _, _, tape = _ops.forward(meta.spec(params), x, h0, elapsed, all_steps=all_steps, keep=True)
        assert tape is not None  # keep=True
    try:
        g = tape.backward(gy, gh)
    finally:
        tape.close()
    out = [g["x"], g["h0"]]
    if has_elapsed:
        out.append(g["elapsed"])
    out.extend(g[n] for n in meta.names)
    return out


def ltc_sequence(meta: CellMeta, x: tf.Tensor, h0: tf.Tensor, elapsed: Optional[tf.Tensor],
                 params: Sequence[tf.Tensor], all_steps: bool) -> Tuple[tf.Tensor, tf.Tensor]:
    """Runs the cell over x, differentiably.

    Args:
        meta: the cell's fixed description.
        x: (batch, steps, sensory) inputs, in meta's dtype.
        h0: (batch, units) initial state.
        elapsed: (batch, steps) elapsed times, or None for 1.0.
        params: the trainable parameters, in the order of meta.names.
        all_steps: return the outputs of every step (batch, steps, motor)
            or of the last one (batch, motor).

    Returns:
        (outputs, final state (batch, units)).
    """
    params = list(params)
    if _save_context.in_save_context():
        return _tf_ltc.ltc_sequence(meta, x, h0, elapsed, params, all_steps)
    has_elapsed = elapsed is not None
    args = [x, h0] + ([elapsed] if has_elapsed else []) + params
    dt = meta.tf_dtype
    batch, steps = x.shape[0], x.shape[1]
    y_shape = [batch, steps, meta.motor] if all_steps else [batch, meta.motor]
    h_shape = [batch, meta.units]

    @tf.custom_gradient
    def op(*args):
        keep = _record.could_possibly_record()
        y, h, tid = tf.numpy_function(functools.partial(_forward_np, meta, all_steps, keep, has_elapsed),
                                      list(args), [dt, dt, tf.int64], stateful=True, name="ltc_forward")
        y.set_shape(y_shape)
        h.set_shape(h_shape)

        def grad(gy, gh):
            gy = tf.zeros_like(y) if gy is None else tf.cast(gy, dt)
            gh = tf.zeros_like(h) if gh is None else tf.cast(gh, dt)
            grads = tf.numpy_function(functools.partial(_backward_np, meta, all_steps, has_elapsed),
                                      [tid, gy, gh] + list(args), [dt] * len(args), stateful=True,
                                      name="ltc_backward")
            for g, a in zip(grads, args):
                g.set_shape(a.shape)
            return first_order(list(grads), args)

        return (y, h), grad

    y, h = op(*args)
    return y, h
