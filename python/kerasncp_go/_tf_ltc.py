"""The LTC cell in TensorFlow ops only, for graphs that TensorFlow
serializes (``tf.saved_model.save``, Keras ``model.export``, tf-keras
SavedModel saving): a ``tf.numpy_function`` body cannot be saved, so the
TensorFlow bindings trace this equivalent instead under TensorFlow's save
context. Shared by ``kerasncp_go.tf`` (tf-keras / Keras 3 layers) and the
TensorFlow backend of ``kerasncp_go.keras``; gradients come from
TensorFlow's autodiff, not the Go kernel.

The cell is described by :class:`kerasncp_go._hostcall.FixedLTC` (sizes,
options, masks, parameter order); the math is the one ``core/doc.go``
states.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import tensorflow as tf

from . import _lib
from ._hostcall import FixedLTC

__all__ = ["ltc_step", "ltc_sequence"]


def ltc_step(cell: FixedLTC, p: Dict[str, tf.Tensor], x: tf.Tensor, v: tf.Tensor,
             elapsed: Any) -> Tuple[tf.Tensor, tf.Tensor]:
    """One step: x (batch, sensory) already input-mapped, v (batch, units),
    elapsed a scalar or (batch, 1). Returns (outputs (batch, motor), new v)."""
    dtype = tf.as_dtype(cell.dtype)
    mask = tf.constant(cell.mask)
    smask = tf.constant(cell.sensory_mask)
    sw = p["sensory_w"] * tf.sigmoid(p["sensory_sigma"] * (tf.expand_dims(x, -1) - p["sensory_mu"])) * smask
    num_s = tf.reduce_sum(sw * p["sensory_erev"], axis=1)
    den_s = tf.reduce_sum(sw, axis=1)
    cm_t = p["cm"] / tf.cast(elapsed / cell.ode_unfolds, dtype)
    for _ in range(cell.ode_unfolds):
        wa = p["w"] * tf.sigmoid(p["sigma"] * (tf.expand_dims(v, -1) - p["mu"])) * mask
        num = cm_t * v + p["gleak"] * p["vleak"] + tf.reduce_sum(wa * p["erev"], axis=1) + num_s
        den = cm_t + p["gleak"] + tf.reduce_sum(wa, axis=1) + den_s
        v = num / (den + cell.epsilon)
    y = v[:, :cell.motor] if cell.motor < cell.units else v
    if cell.output_mapping != _lib.MAP_NONE:
        y = y * p["output_w"]
        if cell.output_mapping == _lib.MAP_AFFINE:
            y = y + p["output_b"]
    return y, v


def ltc_sequence(cell: FixedLTC, x: tf.Tensor, h0: tf.Tensor, elapsed: Optional[tf.Tensor],
                 params: Sequence[tf.Tensor], all_steps: bool) -> Tuple[tf.Tensor, tf.Tensor]:
    """The cell over x (batch, steps, sensory) from h0 (batch, units), with
    elapsed times (batch, steps) or None for 1.0, and the trainable
    parameters in ``cell.names`` order: (outputs (batch, steps, motor) when
    all_steps else (batch, motor), final state (batch, units))."""
    p = dict(zip(cell.names, params))
    if cell.input_mapping != _lib.MAP_NONE:
        x = x * p["input_w"]
        if cell.input_mapping == _lib.MAP_AFFINE:
            x = x + p["input_b"]
    xt = tf.transpose(x, [1, 0, 2])
    et = tf.ones_like(xt[:, :, :1]) if elapsed is None else tf.expand_dims(tf.transpose(elapsed), -1)
    y0 = tf.zeros([tf.shape(x)[0], cell.motor], tf.as_dtype(cell.dtype))

    def body(carry, inp):
        _, v = carry
        xs, es = inp
        return ltc_step(cell, p, xs, v, es)

    ys, hs = tf.scan(body, (xt, et), initializer=(y0, h0))
    h = hs[-1]
    y = tf.transpose(ys, [1, 0, 2]) if all_steps else ys[-1]
    return y, h
