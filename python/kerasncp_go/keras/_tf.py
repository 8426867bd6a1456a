"""TensorFlow backend: the Go pass joined to TensorFlow's autograd by
``tf.custom_gradient`` (eager, ``tf.function`` and the ``tf.while_loop``
of ``keras.layers.RNN`` alike). A tape is kept only when a gradient tape
may be recording when the op is traced or run. The tf-keras CfC layers
(:mod:`kerasncp_go.tf`) use this op too.

A CfC runs as the native ops of :mod:`._tfop` (the graph calls the Go core
directly) when they could be built; otherwise, and for the LTC, as
``tf.numpy_function`` calls (a trip through Python and NumPy each way).

Graphs that TensorFlow serializes (``model.export``,
``tf.saved_model.save``) hold neither: under TensorFlow's save context a
kernel is traced in TensorFlow ops instead (the LTC's
:mod:`kerasncp_go._tf_ltc`, the CfC's :mod:`._cfc_graph`), so the exported
model runs without this package."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import tensorflow as tf
from tensorflow.python.eager import record as _record
from tensorflow.python.saved_model import save_context as _save_context

from .. import _tf_ltc
from .._tfgrad import first_order
from . import _host, _tfop
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
    if isinstance(kernel, _host.CfCKernel):
        native = _tfop.ops()
        if native is not None:
            return _native_cfc(native, kernel, params, x, h0, ts, all_steps, training)
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
        _set_shapes(kernel, a[0], y, h, all_steps)

        def grad(gy, gh):
            gy, gh = _upstream(gy, gh, y, h)

            def bwd_np(tid_, seed_, gy_, gh_, *aa):
                t = aa[2] if has_ts else None
                g = _host.backward(kernel, all_steps, training, tid_, seed_, gy_, gh_, aa[0], aa[1], t,
                                   *aa[n_fixed:])
                k = len(aa) - n_fixed
                return g[k:] + g[:k]  # x, h0, (ts), params

            outs = tf.numpy_function(bwd_np, [tid, seed, gy, gh] + list(a), [tf.float32] * len(a), stateful=True)
            for o, v in zip(outs, a):
                o.set_shape(v.shape)
            return first_order(outs, a)

        return (y, h), grad

    y, h = op(*args)
    return y, h


def _set_shapes(kernel: Any, x: tf.Tensor, y: tf.Tensor, h: tf.Tensor, all_steps: bool) -> None:
    """The static shapes of a pass's outputs, which the ops cannot infer."""
    y.set_shape(x.shape[:2].concatenate([kernel.output_size]) if all_steps
                else x.shape[:1].concatenate([kernel.output_size]))
    h.set_shape(x.shape[:1].concatenate([kernel.state_size]))


def _upstream(gy: Any, gh: Any, y: tf.Tensor, h: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """The gradients flowing into y and h, zeros for an unused output."""
    return (tf.zeros_like(y) if gy is None else gy), (tf.zeros_like(h) if gh is None else gh)


def _base_table(kernel: Any) -> tf.Tensor:
    """The kernel's base table (masks included) as a constant: in a graph,
    a constant of that graph (one captured from outside would have to be
    captured again by every gradient graph of a ``tf.while_loop``); run
    eagerly, one tensor made once."""
    if not tf.executing_eagerly():
        return tf.constant(kernel._base)
    t = kernel.__dict__.get("_tf_base")
    if t is None:
        t = kernel._tf_base = tf.constant(kernel._base)
    return t


def _native_cfc(ops: Any, kernel: Any, params: Sequence[Any], x: Any, h0: Any, ts: Optional[Any], all_steps: bool,
                training: bool) -> Tuple[tf.Tensor, tf.Tensor]:
    """The CfC pass as the native ops of _tfop.c joined by
    ``tf.custom_gradient``: the graph calls the Go core directly."""
    keep = bool(_record.could_possibly_record())
    x = tf.convert_to_tensor(x, tf.float32)
    h0 = tf.convert_to_tensor(h0, tf.float32)
    has_ts = ts is not None
    # Elapsed times in any shape of batch x steps values (as the NumPy side
    # reads them); the reshape's own gradient gives them back their shape.
    t = tf.reshape(tf.cast(ts, tf.float32), tf.shape(x)[:2]) if has_ts else tf.zeros([0], tf.float32)
    ps = [tf.cast(p, tf.float32) for p in params]
    base = _base_table(kernel)
    if not tf.executing_eagerly():  # a traced graph may outlive the layer (eager calls run while it lives)
        _host.pin(kernel.model)
    attrs = dict(model=kernel.model.handle, offsets=kernel.offsets, rows=kernel.rows, cols=kernel.cols,
                 trans=kernel.trans, out=kernel.output_size, cell_out=kernel.cell_output_size,
                 state=kernel.state_size, all_steps=bool(all_steps), training=bool(training), keep=keep,
                 has_ts=has_ts)

    @tf.custom_gradient
    def op(x, h0, t, *ps):
        y, h, tid, seed = ops.kncp_cfc_forward(x, h0, t, base, list(ps), **attrs)
        _set_shapes(kernel, x, y, h, all_steps)

        def grad(gy, gh):
            gy, gh = _upstream(gy, gh, y, h)
            gx, gh0, gt, gps = ops.kncp_cfc_backward(tid, seed, gy, gh, x, h0, t, base, list(ps), **attrs)
            for g, v in zip([gx, gh0, gt, *gps], [x, h0, t, *ps]):
                g.set_shape(v.shape)
            return first_order([gx, gh0, gt, *gps], [x, h0, t, *ps])

        return (y, h), grad

    y, h = op(x, h0, t, *ps)
    return y, h
