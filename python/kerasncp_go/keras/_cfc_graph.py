"""The Keras variant of the CfC (ncps.tf / ncps.keras) in TensorFlow ops
only, for graphs that TensorFlow serializes.

A ``tf.numpy_function`` body cannot be saved, so when a model with one of
this package's CfC layers is traced for a SavedModel (``tf.saved_model.save``,
tf-keras ``model.save(dir)``, Keras 3 ``model.export``) the Go pass is
replaced by :func:`cfc_sequence`, which computes the same numbers with
TensorFlow's own kernels. The exported model then runs without this package.
It computes inference only: backbone dropout is left out, as in any pass that
is not training.

The cell's structure (mode, activation, the wiring's layers and their fixed
masks) comes from the :class:`kerasncp_go.keras._host.CfCKernel` the Go pass
would use, and its parameters in that kernel's order and Keras layouts
(kernels are (inputs, units)). Per layer, with z = [input, h]::

    z = act(z W_k + b_k)  for each backbone layer k
    ff1 = z (W1 * M) + b1,  ff2 = z (W2 * M) + b2    (M: the wiring's mask, else 1)
    s = sigmoid(-(z Wa + ba) t + (z Wb + bb))
    h' = ff1 (1 - s) + s ff2   (default);  ff1 + s ff2   (no_gate)
    h' = -A exp(-t (|w_tau| + |ff1|)) ff1 + A   (pure)

A wired cell runs its layers in order, each on the previous layer's new
state; its state is the layers' states side by side and its output the last
layer's state, cut to the wiring's output size.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

__all__ = ["cfc_sequence", "lecun_tanh"]


def lecun_tanh(x):
    """LeCun's scaled tanh, 1.7159 tanh(0.666 x): the CfC backbone's default
    activation."""
    return 1.7159 * tf.tanh(0.666 * x)


def _activation(name: str):
    if name == "lecun_tanh":
        return lecun_tanh
    if name == "tanh":
        return tf.tanh
    if name == "relu":
        return tf.nn.relu
    if name == "gelu":
        return lambda v: 0.5 * v * (1.0 + tf.math.erf(v / math.sqrt(2.0)))
    if name == "silu":
        return tf.nn.silu
    raise ValueError(f"activation: no TensorFlow form for {name!r}")


def _layers(kernel: Any, params: Sequence[Any]) -> List[Dict[str, Any]]:
    """The parameters of each CfC layer by their short names (``ff1.weight``,
    ``backbone.0.weight``, ``w_tau``, ...), plus its mask (Keras layout) as
    ``mask`` when the wiring fixes one."""
    views = kernel.model.views(kernel._base)
    out: List[Dict[str, Any]] = []
    i = 0
    for layer in kernel.layers:
        prefix = layer[0][0][:layer[0][0].index("ff1.")]
        d: Dict[str, Any] = {}
        for key, _ in layer:
            d[key[len(prefix):]] = params[i]
            i += 1
        mask = views.get(prefix + "sparsity_mask")
        if mask is not None:
            d["mask"] = tf.constant(np.ascontiguousarray(mask.T, np.float32))
        out.append(d)
    return out


def _backbone_keys(p: Dict[str, Any]) -> List[str]:
    return sorted((k[:-len(".weight")] for k in p if k.startswith("backbone.") and k.endswith(".weight")),
                  key=lambda k: int(k.split(".")[1]))


def _layer_step(p: Dict[str, Any], mode: str, act, inp: tf.Tensor, h: tf.Tensor, t: Any) -> tf.Tensor:
    z = tf.concat([inp, h], axis=-1)
    for k in _backbone_keys(p):
        z = act(tf.matmul(z, p[k + ".weight"]) + p[k + ".bias"])
    w1 = p["ff1.weight"] * p["mask"] if "mask" in p else p["ff1.weight"]
    ff1 = tf.matmul(z, w1) + p["ff1.bias"]
    if mode == "pure":
        return -p["A"] * tf.exp(-t * (tf.abs(p["w_tau"]) + tf.abs(ff1))) * ff1 + p["A"]
    w2 = p["ff2.weight"] * p["mask"] if "mask" in p else p["ff2.weight"]
    ff2 = tf.matmul(z, w2) + p["ff2.bias"]
    t_a = tf.matmul(z, p["time_a.weight"]) + p["time_a.bias"]
    t_b = tf.matmul(z, p["time_b.weight"]) + p["time_b.bias"]
    s = tf.sigmoid(-t_a * t + t_b)
    if mode == "no_gate":
        return ff1 + s * ff2
    return ff1 * (1.0 - s) + s * ff2


def cfc_sequence(kernel: Any, params: Sequence[Any], x: tf.Tensor, h0: tf.Tensor, ts: Optional[tf.Tensor],
                 all_steps: bool) -> Tuple[tf.Tensor, tf.Tensor]:
    """The kernel's pass over x (batch, steps, in) from h0 (batch, state),
    elapsed times ts (batch, steps) or None (1.0), in TensorFlow ops:
    (y (batch, steps, out) or (batch, out), final state (batch, state)).
    Differentiable by TensorFlow; no dropout."""
    model = kernel.model
    act = _activation(model.activation)
    layers = _layers(kernel, [tf.convert_to_tensor(p, tf.float32) for p in params])
    sizes = list(model.layer_sizes) if len(layers) > 1 else [kernel.state_size]
    x = tf.cast(x, tf.float32)
    xt = tf.transpose(x, [1, 0, 2])
    tt = tf.ones_like(xt[:, :, :1]) if ts is None else tf.expand_dims(tf.transpose(tf.cast(ts, tf.float32)), -1)
    y0 = tf.zeros(tf.stack([tf.shape(x)[0], kernel.output_size]), tf.float32)

    def step(carry, inp):
        _, h = carry
        xs, t = inp
        hs = tf.split(h, sizes, axis=-1) if len(sizes) > 1 else [h]
        new = []
        cur = xs
        for p, hl in zip(layers, hs):
            cur = _layer_step(p, model.mode, act, cur, hl, t)
            new.append(cur)
        y = cur[:, :kernel.output_size] if kernel.output_size != cur.shape[-1] else cur
        return y, tf.concat(new, axis=-1) if len(new) > 1 else new[0]

    ys, hs = tf.scan(step, (xt, tt), initializer=(y0, tf.cast(h0, tf.float32)))
    y = tf.transpose(ys, [1, 0, 2]) if all_steps else ys[-1]
    return y, hs[-1]
