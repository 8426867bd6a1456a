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
``model.export``, tf-keras SavedModel saving) are traced with an equivalent
pure-TensorFlow implementation of the reference's math instead, since a
``tf.numpy_function`` body cannot be serialized: the exported model runs
without this package and without gradients from the Go kernel.
"""

from __future__ import annotations

import functools
from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import record as _record
from tensorflow.python.saved_model import save_context as _save_context

from .. import _lib, _ops
from .._hostcall import FixedLTC, TapeStore

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
        return reference_sequence(meta, x, h0, elapsed, params, all_steps)
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
            return list(grads)

        return (y, h), grad

    y, h = op(*args)
    return y, h


# -- pure TensorFlow version (for serialized graphs) -------------------------


def reference_step(meta: CellMeta, p: dict, x: tf.Tensor, v: tf.Tensor, elapsed) -> Tuple[tf.Tensor, tf.Tensor]:
    """One step of the reference's math in TensorFlow ops: x (B, S) already
    mapped, v (B, U), elapsed a scalar or (B, 1). Returns (y, new v)."""
    mask = tf.constant(meta.mask)
    smask = tf.constant(meta.sensory_mask)
    sw = p["sensory_w"] * tf.sigmoid(p["sensory_sigma"] * (tf.expand_dims(x, -1) - p["sensory_mu"])) * smask
    num_s = tf.reduce_sum(sw * p["sensory_erev"], axis=1)
    den_s = tf.reduce_sum(sw, axis=1)
    cm_t = p["cm"] / tf.cast(elapsed / meta.ode_unfolds, meta.tf_dtype)
    for _ in range(meta.ode_unfolds):
        wa = p["w"] * tf.sigmoid(p["sigma"] * (tf.expand_dims(v, -1) - p["mu"])) * mask
        num = cm_t * v + p["gleak"] * p["vleak"] + tf.reduce_sum(wa * p["erev"], axis=1) + num_s
        den = cm_t + p["gleak"] + tf.reduce_sum(wa, axis=1) + den_s
        v = num / (den + meta.epsilon)
    y = v[:, :meta.motor] if meta.motor < meta.units else v
    if meta.output_mapping != _lib.MAP_NONE:
        y = y * p["output_w"]
        if meta.output_mapping == _lib.MAP_AFFINE:
            y = y + p["output_b"]
    return y, v


def reference_sequence(meta: CellMeta, x, h0, elapsed, params, all_steps: bool):
    """ltc_sequence in TensorFlow ops only (autodiff by TensorFlow)."""
    p = dict(zip(meta.names, params))
    if meta.input_mapping != _lib.MAP_NONE:
        x = x * p["input_w"]
        if meta.input_mapping == _lib.MAP_AFFINE:
            x = x + p["input_b"]
    xt = tf.transpose(x, [1, 0, 2])
    et = tf.ones_like(xt[:, :, :1]) if elapsed is None else tf.expand_dims(tf.transpose(elapsed), -1)
    batch = tf.shape(x)[0]
    y0 = tf.zeros([batch, meta.motor], meta.tf_dtype)

    def body(carry, inp):
        _, v = carry
        xs, es = inp
        return reference_step(meta, p, xs, v, es)

    ys, hs = tf.scan(body, (xt, et), initializer=(y0, h0))
    h = hs[-1]
    y = tf.transpose(ys, [1, 0, 2]) if all_steps else ys[-1]
    return y, h
