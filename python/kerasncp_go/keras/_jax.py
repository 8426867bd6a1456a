"""JAX backend: the Go pass as ``jax.pure_callback`` calls joined by
``jax.custom_vjp``; only the forward pass of a differentiated call keeps a
tape."""

from __future__ import annotations

import functools
from typing import Any, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _host


@functools.lru_cache(maxsize=256)
def _op(kernel: Any, all_steps: bool, training: bool, has_ts: bool, shapes: Tuple[Tuple[int, ...], ...]):
    x_shape = shapes[0]
    n_fixed = 3 if has_ts else 2
    y_shape = x_shape[:2] + (kernel.output_size,) if all_steps else x_shape[:1] + (kernel.output_size,)
    f32 = np.float32
    out_fwd = (jax.ShapeDtypeStruct(y_shape, f32), jax.ShapeDtypeStruct((x_shape[0], kernel.state_size), f32),
               jax.ShapeDtypeStruct((), np.int32), jax.ShapeDtypeStruct((), np.int32))
    out_bwd = tuple(jax.ShapeDtypeStruct(s, f32) for s in shapes)

    def host_fwd(keep, *a):
        t = a[2] if has_ts else None
        return _host.forward(kernel, all_steps, training, keep, a[0], a[1], t, *a[n_fixed:])

    def host_bwd(tid, seed, gy, gh, *a):
        t = a[2] if has_ts else None
        g = _host.backward(kernel, all_steps, training, tid, seed, gy, gh, a[0], a[1], t, *a[n_fixed:])
        k = len(a) - n_fixed
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
    if isinstance(kernel, _host.CfCKernel):  # one callback argument for the table, not one per weight
        kernel, params = kernel.flat, [_packed(kernel, params)]
    args = [jnp.asarray(x, jnp.float32), jnp.asarray(h0, jnp.float32)]
    if ts is not None:
        args.append(jnp.asarray(ts, jnp.float32))
    args += [jnp.asarray(p, jnp.float32) for p in params]
    f = _op(kernel, bool(all_steps), bool(training), ts is not None, tuple(tuple(a.shape) for a in args))
    return f(*args)
