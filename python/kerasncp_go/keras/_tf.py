"""TensorFlow backend: the Go pass as ``tf.numpy_function`` calls joined
by ``tf.custom_gradient`` (eager, ``tf.function`` and the ``tf.while_loop``
of ``keras.layers.RNN`` alike). A tape is kept only when a gradient tape
may be recording when the op is traced or run. The tf-keras CfC layers
(:mod:`kerasncp_go.tf`) use this op too.

Graphs that TensorFlow serializes (``model.export``,
``tf.saved_model.save``) cannot hold a ``tf.numpy_function``: under
TensorFlow's save context a kernel is traced in TensorFlow ops instead (the
LTC's :mod:`kerasncp_go._tf_ltc`, the CfC's :mod:`._cfc_graph`), so the
exported model runs without this package."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import tensorflow as tf
from tensorflow.python.eager import record as _record
from tensorflow.python.saved_model import save_context as _save_context

from .. import _tf_ltc
from . import _host
from ._cfc_graph import cfc_sequence


def sequence(kernel: Any, params: Sequence[Any], x: Any, h0: Any, ts: Optional[Any], all_steps: bool,
             training: bool) -> Tuple[tf.Tensor, tf.Tensor]:
    if _save_context.in_save_context():  # traced for a SavedModel: TensorFlow ops in place of the Go pass
        if isinstance(kernel, _host.LTCKernel):
            return _tf_ltc.ltc_sequence(kernel.cell, tf.convert_to_tensor(x, tf.float32),
                                        tf.convert_to_tensor(h0, tf.float32),
                                        None if ts is None else tf.convert_to_tensor(ts, tf.float32),
                                        [tf.convert_to_tensor(p) for p in params], all_steps)
        if isinstance(kernel, _host.CfCKernel):
            return cfc_sequence(kernel, params, x, h0, ts, all_steps)
    keep = bool(_record.could_possibly_record())
    has_ts = ts is not None
    x = tf.convert_to_tensor(x, tf.float32)
    h0 = tf.convert_to_tensor(h0, tf.float32)
    args: List[tf.Tensor] = [x, h0] + ([tf.convert_to_tensor(ts, tf.float32)] if has_ts else [])
    args += [tf.convert_to_tensor(p) for p in params]
    n_fixed = len(args) - len(params)

    def fwd_np(*a):
        t = a[2] if has_ts else None
        return _host.forward(kernel, all_steps, training, keep, a[0], a[1], t, *a[n_fixed:])

    @tf.custom_gradient
    def op(*a):
        y, h, tid, seed = tf.numpy_function(fwd_np, list(a), [tf.float32, tf.float32, tf.int32, tf.int32],
                                            stateful=True)
        y.set_shape(a[0].shape[:2].concatenate([kernel.output_size]) if all_steps
                    else a[0].shape[:1].concatenate([kernel.output_size]))
        h.set_shape(a[0].shape[:1].concatenate([kernel.state_size]))

        def grad(gy, gh):
            gy = tf.zeros_like(y) if gy is None else gy
            gh = tf.zeros_like(h) if gh is None else gh

            def bwd_np(tid_, seed_, gy_, gh_, *aa):
                t = aa[2] if has_ts else None
                g = _host.backward(kernel, all_steps, training, tid_, seed_, gy_, gh_, aa[0], aa[1], t,
                                   *aa[n_fixed:])
                k = len(aa) - n_fixed
                return g[k:] + g[:k]  # x, h0, (ts), params

            outs = tf.numpy_function(bwd_np, [tid, seed, gy, gh] + list(a), [tf.float32] * len(a), stateful=True)
            for o, v in zip(outs, a):
                o.set_shape(v.shape)
            return outs

        return (y, h), grad

    y, h = op(*args)
    return y, h
