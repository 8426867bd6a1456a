"""JAX backend: the Go pass as two calls joined by ``jax.custom_vjp``, a
forward and a backward pass; only the forward pass of a differentiated call
keeps a tape. The calls go to the Go core through XLA FFI handlers
(_xlaffi.c) when they are available, else through ``jax.pure_callback``."""

from __future__ import annotations

import functools
from typing import Any, List, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _rules
from . import _host, _xlaffi


@functools.lru_cache(maxsize=256)
def _op(kernel: Any, all_steps: bool, training: bool, has_ts: bool, shapes: Tuple[Tuple[int, ...], ...],
        param_shapes: Optional[Tuple[Tuple[int, ...], ...]] = None):
    """The Go pass over arguments of these shapes (x, h0, [ts], params...)
    as a differentiable JAX function. With param_shapes, the last argument
    is those parameters packed into one vector (see sequence)."""
    x_shape = shapes[0]
    n_fixed = 3 if has_ts else 2
    y_shape = x_shape[:2] + (kernel.output_size,) if all_steps else x_shape[:1] + (kernel.output_size,)
    f32 = np.float32
    out_fwd = (jax.ShapeDtypeStruct(y_shape, f32), jax.ShapeDtypeStruct((x_shape[0], kernel.state_size), f32),
               jax.ShapeDtypeStruct((), np.int32), jax.ShapeDtypeStruct((), np.int32))
    out_bwd = tuple(jax.ShapeDtypeStruct(s, f32) for s in shapes)

    offsets = None if param_shapes is None else np.cumsum([0] + [int(np.prod(s, dtype=np.int64))
                                                                for s in param_shapes])

    def params_of(a):  # on the host: the parameters as the kernel takes them
        if param_shapes is None or offsets is None:
            return a[n_fixed:]
        flat = np.asarray(a[n_fixed])
        return [flat[offsets[i]:offsets[i + 1]].reshape(s) for i, s in enumerate(param_shapes)]

    def host_fwd(keep, *a):
        t = a[2] if has_ts else None
        return _host.forward(kernel, all_steps, training, keep, a[0], a[1], t, *params_of(a))

    def host_bwd(tid, seed, gy, gh, *a):
        t = a[2] if has_ts else None
        g = _host.backward(kernel, all_steps, training, tid, seed, gy, gh, a[0], a[1], t, *params_of(a))
        k = len(g) - n_fixed  # the parameters' gradients come first
        if param_shapes is not None:
            g = [np.concatenate([v.reshape(-1) for v in g[:k]])] + g[k:]
            k = 1
        return tuple(g[k:] + g[:k])

    def call(keep, a):
        return jax.pure_callback(functools.partial(host_fwd, keep), out_fwd, *a, vmap_method="sequential")

    @jax.custom_vjp
    def f(*a):
        y, h, _, _ = call(False, a)
        return y, h

    def f_fwd(*a):
        y, h, tid, seed = call(True, a)
        return (y, h), (tid, seed, a)

    def f_bwd(res, g):
        tid, seed, a = res
        gy, gh = g
        return tuple(jax.pure_callback(host_bwd, out_bwd, tid, seed, gy, gh, *a, vmap_method="sequential"))

    f.defvjp(f_fwd, f_bwd)
    return f


def _ffi_vjp(forward, backward, attrs, has_ts: bool, constants: Tuple[Any, ...]):
    """The differentiable function of (x, h0, [ts], weights) made of an FFI
    forward call, which returns (y, h, *ids) (ids: what its backward call
    needs first, the tape id and for a CfC the dropout seed), and an FFI
    backward call, which returns (g weights, gx, gh0, gts). Both take (x,
    h0, ts or an empty stand-in, weights, *constants) and attrs; the
    forward call also keep (whether to keep the tape)."""
    no_ts = np.zeros((0,), np.float32)  # NumPy: a JAX array made here would belong to the trace that built f

    def args_of(a):
        return (a[0], a[1], a[2] if has_ts else no_ts, a[-1]) + constants

    @jax.custom_vjp
    def f(*a):
        y, h, *_ = forward(*args_of(a), keep=np.int64(0), **attrs)
        return y, h

    def f_fwd(*a):
        y, h, *ids = forward(*args_of(a), keep=np.int64(1), **attrs)
        return (y, h), (ids, a)

    def f_bwd(res, g):
        ids, a = res
        gw, gx, gh0, gts = backward(*ids, g[0], g[1], *args_of(a), **attrs)
        return (gx, gh0, gts, gw) if has_ts else (gx, gh0, gw)

    f.defvjp(f_fwd, f_bwd)
    return f


def _ffi_inputs(x: Any, h0: Any, ts: Optional[Any]) -> List[Any]:
    """[x, h0, (ts as (batch, steps))] as float32 JAX arrays: ts reshaped
    in JAX ops, so that JAX maps its gradient back onto ts's shape."""
    x = jnp.asarray(x, jnp.float32)
    args = [x, jnp.asarray(h0, jnp.float32)]
    if ts is not None:
        args.append(jnp.reshape(jnp.asarray(ts, jnp.float32), x.shape[:2]))
    return args


@functools.lru_cache(maxsize=256)
def _ffi_op(kernel: Any, all_steps: bool, training: bool, has_ts: bool, shapes: Tuple[Tuple[int, ...], ...]):
    """A CfC's Go pass over arguments of these shapes (x, h0, [ts (batch,
    steps)], table) as a differentiable JAX function of XLA FFI calls (see
    _xlaffi.c), returning the cell's whole output (the caller slices off
    the layer's). kernel is an _host.CfCKernel."""
    x_shape, table_shape = shapes[0], shapes[-1]
    b, t = x_shape[0], x_shape[1]
    cell_out, state = kernel.cell_output_size, kernel.state_size
    f32 = np.float32
    y_shape = (b, t, cell_out) if all_steps else (b, cell_out)
    ts_shape = (b, t) if has_ts else (0,)
    forward = jax.ffi.ffi_call(_xlaffi.FORWARD, (
        jax.ShapeDtypeStruct(y_shape, f32), jax.ShapeDtypeStruct((b, state), f32),
        jax.ShapeDtypeStruct((), np.int32), jax.ShapeDtypeStruct((), np.int32)), vmap_method="sequential")
    backward = jax.ffi.ffi_call(_xlaffi.BACKWARD, (
        jax.ShapeDtypeStruct(table_shape, f32), jax.ShapeDtypeStruct(x_shape, f32),
        jax.ShapeDtypeStruct((b, state), f32), jax.ShapeDtypeStruct(ts_shape, f32)), vmap_method="sequential")
    attrs = {"model": np.int64(_host.pin(kernel.model)), "all_steps": np.int64(all_steps),
             "training": np.int64(training), "has_ts": np.int64(has_ts), "state": np.int64(state)}
    return _ffi_vjp(forward, backward, attrs, has_ts, ())


@functools.lru_cache(maxsize=256)
def _ffi_ltc_op(kernel: Any, all_steps: bool, has_ts: bool, shapes: Tuple[Tuple[int, ...], ...]):
    """An LTC's Go pass over arguments of these shapes (x, h0, [ts (batch,
    steps)], params: the trainable weights in kernel.names order, each
    flattened, back to back) as a differentiable JAX function of XLA FFI
    calls (see _xlaffi.c). kernel is an _host.LTCKernel."""
    cell = kernel.cell
    x_shape, p_shape = shapes[0], shapes[-1]
    b, t = x_shape[0], x_shape[1]
    f32 = np.float32
    offsets, sizes = np.full(len(_rules.PARAM_ORDER), -1, np.int64), np.zeros(len(_rules.PARAM_ORDER), np.int64)
    off = 0
    for name in cell.names:
        i = _rules.PARAM_ORDER.index(name)
        offsets[i], sizes[i] = off, int(np.prod(cell.shapes[name], dtype=np.int64))
        off += int(sizes[i])
    masks = np.concatenate([cell.mask.ravel(), cell.sensory_mask.ravel()]).astype(f32)
    for name, start, m in (("sparsity_mask", 0, cell.mask), ("sensory_sparsity_mask", cell.mask.size,
                                                                cell.sensory_mask)):
        i = _rules.PARAM_ORDER.index(name)
        offsets[i], sizes[i] = start, m.size
    y_shape = (b, t, cell.motor) if all_steps else (b, cell.motor)
    ts_shape = (b, t) if has_ts else (0,)
    forward = jax.ffi.ffi_call(_xlaffi.LTC_FORWARD, (
        jax.ShapeDtypeStruct(y_shape, f32), jax.ShapeDtypeStruct((b, cell.units), f32),
        jax.ShapeDtypeStruct((), np.int32)), vmap_method="sequential")
    backward = jax.ffi.ffi_call(_xlaffi.LTC_BACKWARD, (
        jax.ShapeDtypeStruct(p_shape, f32), jax.ShapeDtypeStruct(x_shape, f32),
        jax.ShapeDtypeStruct((b, cell.units), f32), jax.ShapeDtypeStruct(ts_shape, f32)), vmap_method="sequential")
    attrs = {"units": np.int64(cell.units), "sensory": np.int64(cell.sensory), "motor": np.int64(cell.motor),
             "input_mapping": np.int64(cell.input_mapping), "output_mapping": np.int64(cell.output_mapping),
             "ode_unfolds": np.int64(cell.ode_unfolds), "epsilon": np.float64(cell.epsilon),
             "all_steps": np.int64(all_steps), "has_ts": np.int64(has_ts), "offsets": offsets, "sizes": sizes}
    return _ffi_vjp(forward, backward, attrs, has_ts, (masks,))


def _ffi_ltc_sequence(kernel: Any, params: Sequence[Any], x: Any, h0: Any, ts: Optional[Any],
                      all_steps: bool) -> Tuple[Any, Any]:
    """sequence() for an LTC through the XLA FFI handlers, its weights as
    one vector."""
    args = _ffi_inputs(x, h0, ts)
    args.append(_concatenated(params))
    f = _ffi_ltc_op(kernel, bool(all_steps), ts is not None, tuple(tuple(a.shape) for a in args))
    return f(*args)


def _concatenated(params: Sequence[Any]) -> Any:
    """An LTC's weights as one float32 vector, in JAX ops (so that JAX maps
    the vector's gradient back onto each weight)."""
    return jnp.concatenate([jnp.reshape(jnp.asarray(p, jnp.float32), (-1,)) for p in params])


def _packed(kernel: Any, params: Sequence[Any]) -> Any:
    """A CfC's weights written into its Go table in JAX ops (so that JAX
    maps the table's gradient back onto the weights)."""
    flat = jnp.asarray(kernel._base)
    for (off, size, _, t), p in zip(kernel._slots, params):
        a = jnp.asarray(p, jnp.float32)
        flat = flat.at[off:off + size].set((a.T if t else a).reshape(-1))
    return flat


def sequence(kernel: Any, params: Sequence[Any], x: Any, h0: Any, ts: Optional[Any], all_steps: bool,
             training: bool) -> Tuple[Any, Any]:
    # A host callback costs a fixed amount per array it takes or returns
    # (about 15 us on top of about 75 us a call on a 2-core x86-64), so the
    # weights travel as one vector: a CfC's written into its Go table, an
    # LTC's (eleven arrays or more) concatenated. Packing x and h0 too was
    # measured: the copies cost what the arguments saved.
    param_shapes = None
    if isinstance(kernel, _host.CfCKernel):
        if _xlaffi.available():
            return _ffi_sequence(kernel, params, x, h0, ts, all_steps, training)
        kernel, params = kernel.flat, [_packed(kernel, params)]
    elif _xlaffi.available():
        return _ffi_ltc_sequence(kernel, params, x, h0, ts, all_steps)
    elif len(params) > 1:
        param_shapes = tuple(tuple(np.shape(p)) for p in params)
        params = [_concatenated(params)]
    args = [jnp.asarray(x, jnp.float32), jnp.asarray(h0, jnp.float32)]
    if ts is not None:
        args.append(jnp.asarray(ts, jnp.float32))
    args += [jnp.asarray(p, jnp.float32) for p in params]
    f = _op(kernel, bool(all_steps), bool(training), ts is not None, tuple(tuple(a.shape) for a in args),
            param_shapes)
    return f(*args)


def _ffi_sequence(kernel: Any, params: Sequence[Any], x: Any, h0: Any, ts: Optional[Any], all_steps: bool,
                  training: bool) -> Tuple[Any, Any]:
    """sequence() for a CfC through the XLA FFI handlers."""
    args = _ffi_inputs(x, h0, ts)
    args.append(_packed(kernel, params))
    f = _ffi_op(kernel, bool(all_steps), bool(training), ts is not None, tuple(tuple(a.shape) for a in args))
    y, h = f(*args)
    if kernel.output_size != kernel.cell_output_size:  # the layer's outputs: the cell's first units
        y = y[..., :kernel.output_size]
    return y, h
