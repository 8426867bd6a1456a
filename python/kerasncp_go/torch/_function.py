"""The torch side of the Go kernels: tensors to host arrays and back, and
the autograd Function that runs a whole sequence in one Go call each way.

Tensors on another device than the CPU make a round trip through host
memory: inputs and parameters are copied to the CPU for the Go call and the
results copied back to the input's device.
"""

from __future__ import annotations

from typing import Optional, Tuple, overload

import numpy as np
import torch

from .. import _lib, _ops, _rules

__all__ = ["np_dtype", "host", "run", "LTCSequence", "CfCSequence", "cfc_call", "check_tensors", "refuse_tracing",
           "as_elapsed", "elapsed_tensor", "dense", "tbuf"]


def np_dtype(dtype: torch.dtype) -> np.dtype:
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"parameters must be float32 or float64 (module.float() or module.double()), got {dtype}")
    return np.dtype(str(dtype).replace("torch.", ""))


_TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


@overload
def host(t: torch.Tensor, dtype: torch.dtype) -> np.ndarray: ...


@overload
def host(t: Optional[torch.Tensor], dtype: torch.dtype) -> Optional[np.ndarray]: ...


def host(t: Optional[torch.Tensor], dtype: torch.dtype) -> Optional[np.ndarray]:
    """t as a NumPy array of dtype on the host: the tensor's own memory when
    it already is a CPU tensor of dtype (strided views are made contiguous
    by _ops)."""
    if t is None:
        return None
    if t.dtype is not dtype:
        t = t.to(dtype)
    if not t.is_cpu:
        t = t.cpu()
    try:
        return t.detach().numpy()
    except RuntimeError:  # conjugate or negative views
        return t.detach().resolve_conj().resolve_neg().numpy()


def run(spec: _ops.CellSpec, x: torch.Tensor, h0: Optional[torch.Tensor], elapsed: Optional[torch.Tensor],
         all_steps: bool, keep: bool):
    """One Go call over torch tensors: (y, h, tape), y and h on x's
    device."""
    dt = _TORCH_DTYPES[spec.dtype]
    ya, ha, tape = _ops.forward(spec, host(x, dt), host(h0, dt), host(elapsed, dt), all_steps=all_steps, keep=keep)
    y, h = torch.from_numpy(ya), torch.from_numpy(ha)
    if not x.is_cpu:
        y, h = y.to(x.device), h.to(x.device)
    return y, h, tape


def _grad_plan(lay: _ops.GradLayout, slots: Tuple[str, ...]):
    """(position among LTCSequence's inputs, position in lay, shape to view
    as or None for 1-D) of every gradient lay holds; cached on lay."""
    plan = lay.cache.get(("torch", slots))
    if plan is None:
        plan = []
        for i, name in enumerate(("x", "h0", "elapsed") + slots):
            k = lay.index.get(name)
            if k is not None:
                shape = lay.shapes[k]
                plan.append((2 + i, k, shape if len(shape) > 1 else None))
        plan = lay.cache[("torch", slots)] = tuple(plan)
    return plan


class LTCSequence(torch.autograd.Function):
    """y, h = LTC(x, h0, elapsed; params) over whole sequences, one Go call
    each way. Inputs: (cell, all_steps, x, h0, elapsed, *parameters in the
    cell's order)."""

    @staticmethod
    def forward(ctx, cell, all_steps, x, h0, elapsed, *params):
        # An unused output (usually the final state) arrives as None in
        # backward instead of a tensor of zeros.
        ctx.set_materialize_grads(False)
        y, h, tape = run(cell._spec_of(params), x, h0, elapsed, all_steps, keep=any(ctx.needs_input_grad))
        ctx.tape, ctx.device, ctx.slots = tape, x.device, cell._names
        return y, h

    @staticmethod
    def backward(ctx, gy, gh):
        if torch.is_grad_enabled():  # create_graph=True: the caller wants to differentiate the gradients
            raise RuntimeError("kerasncp_go.torch: the Go backward pass is not differentiable; second-order "
                               "gradients (create_graph=True, gradient penalties) are not supported")
        need = ctx.needs_input_grad
        want_params = any(need[5:])
        tape = ctx.tape
        dt = _TORCH_DTYPES[tape.spec.dtype]
        lay = tape.layout(want_params)
        flat = torch.empty(lay.total, dtype=dt)
        tape.backward_into(flat.numpy(), host(gy, dt), host(gh, dt), params=want_params)
        if ctx.device.type != "cpu":
            flat = flat.to(ctx.device)
        parts = flat.split_with_sizes(lay.sizes)
        grads = [None] * len(need)
        for pos, k, shape in _grad_plan(lay, ctx.slots):
            if need[pos]:
                grads[pos] = parts[k] if shape is None else parts[k].view(shape)
        return tuple(grads)


def check_tensors(device: torch.device, **tensors: Optional[torch.Tensor]) -> None:
    """Every given tensor (None ones are skipped) is a real torch.Tensor on
    device, the parameters' device.

    Raises:
        TypeError: not a tensor, or a complex one, naming it.
        ValueError: on another device, naming it.
    """
    for name, t in tensors.items():
        if t is None:
            continue
        name = name.replace("_", " ")
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.device != device:
            raise ValueError(f"{name} are on {t.device} but the cell's parameters on {device}: "
                             "move them to one device")
        if t.is_complex():
            raise TypeError(f"{name} must be real, got {t.dtype}")


def refuse_tracing() -> None:
    """A RuntimeError under torch.jit.trace, which would record the Go
    call's outputs as constants."""
    if torch.jit.is_tracing():
        raise RuntimeError("kerasncp_go.torch modules cannot be traced by torch.jit.trace (or exported "
                           "through it): the Go kernels are invisible to the tracer, which would record "
                           "their outputs as constants; run the module eagerly or under torch.compile")


def dense(t: Optional[torch.Tensor], dtype: torch.dtype) -> Optional[torch.Tensor]:
    """t as a contiguous CPU tensor of dtype whose memory holds its values
    (negative views resolved), without a copy when it already is one."""
    if t is None:
        return None
    t = t.detach()
    if t.dtype is not dtype:
        t = t.to(dtype)
    if not t.is_cpu:
        t = t.cpu()
    if t.is_neg():
        t = t.resolve_neg()
    return t.contiguous()


def tbuf(t: Optional[torch.Tensor]) -> _lib.Buf:
    """A kncp_buf over a dense tensor's memory (see dense), or an empty one."""
    if t is None:
        return _lib.Buf(None, 0)
    return _lib.Buf(t.data_ptr(), t.numel())


def cfc_call(model, all_steps: bool, seed: Optional[int], x: torch.Tensor, h0: Optional[torch.Tensor],
             c0: Optional[torch.Tensor], elapsed: Optional[torch.Tensor], params, keep: bool):
    """One Go call of a CfC model (a kerasncp_go._cfc.CfCModel) over torch
    tensors: ((y, h[, c]) on x's device, the tape or None). The Go core reads
    the tensors' memory and writes into tensors made here; the parameters are
    gathered into the model's flat layout (in the model's dtype)."""
    dt = _TORCH_DTYPES[model.dtype]
    flat = torch.cat([p.detach().reshape(-1) if p.dtype is dt else p.detach().reshape(-1).to(dt) for p in params])
    b, t = model.check_x(tuple(x.shape))
    model.check_states(b, None if h0 is None else tuple(h0.shape), None if c0 is None else tuple(c0.shape))
    ea = None
    if elapsed is not None:  # any shape the elapsed-time rule accepts, checked finite and > 0
        ea = _ops.elapsed_array(host(elapsed, dt), b, t, model.dtype)
    y = torch.empty(model.output_shape(b, t, all_steps), dtype=dt)
    h = torch.empty((b, model.state_size), dtype=dt)
    c = torch.empty((b, model.state_size), dtype=dt) if model.mixed_memory else None
    xd, hd, cd, fd = dense(x, dt), dense(h0, dt), dense(c0, dt), dense(flat, dt)
    tape = model.run_bufs(tbuf(fd), b, t, tbuf(xd), tbuf(hd), tbuf(cd), _ops.buf(ea), tbuf(y), all_steps, tbuf(h),
                          tbuf(c), seed, keep, ea is not None)
    outs: Tuple[torch.Tensor, ...] = (y, h) if c is None else (y, h, c)
    if not x.is_cpu:
        outs = tuple(o.to(x.device) for o in outs)
    return outs, tape


def _table_plan(model):
    """(sizes, shapes) of a CfC model's table entries, which lie back to back
    in its flat layout; cached on the model."""
    plan = model.__dict__.get("_torch_plan")
    if plan is None:
        plan = model._torch_plan = ([e.size for e in model.table], [e.shape for e in model.table])
    return plan


class CfCSequence(torch.autograd.Function):
    """(y, h[, c]) = CfC(x, h0, c0, elapsed; params) over whole sequences,
    one Go call each way. Inputs: (model, all_steps, seed, x, h0, c0,
    elapsed, *parameters in the model's table order); seed is None outside
    training passes with dropout. x, the states and elapsed are batch-major
    tensors of the parameters' dtype on their device (or None)."""

    @staticmethod
    def forward(ctx, model, all_steps, seed, x, h0, c0, elapsed, *params):
        ctx.set_materialize_grads(False)
        outs, ctx.tape = cfc_call(model, all_steps, seed, x, h0, c0, elapsed, params,
                                  keep=any(ctx.needs_input_grad))
        ctx.device = x.device
        # What a second backward over this graph (retain_graph=True, as
        # gradcheck does) reruns the pass from, the tape serving one: saved
        # as torch saves tensors, so that one changed in place since is
        # torch's usual error, not a gradient of other values.
        ctx.save_for_backward(x, h0, c0, elapsed, *params)
        ctx.rerun = (model, all_steps, seed)
        if ctx.tape is not None:  # the backward pass comes next, after torch's own work
            model.wake(ctx.tape.batch, ctx.tape.steps)
        return outs

    @staticmethod
    def backward(ctx, gy, gh, gc=None):
        if torch.is_grad_enabled():
            raise RuntimeError("kerasncp_go.torch: the Go backward pass is not differentiable; second-order "
                               "gradients (create_graph=True, gradient penalties) are not supported")
        need = ctx.needs_input_grad
        # Reading the saved tensors is torch's check that none was changed in
        # place since the forward pass (whose tape holds the old values).
        saved = ctx.saved_tensors
        tape, ctx.tape = ctx.tape, None
        if tape is None:  # used by an earlier backward pass: rerun the forward pass (same dropout seed)
            model, all_steps, seed = ctx.rerun
            x, h0, c0, elapsed, *params = saved
            tape = cfc_call(model, all_steps, seed, x, h0, c0, elapsed, params, keep=True)[1]
        else:  # the helpers wake while the rest of this runs
            tape.model.wake(tape.batch, tape.steps)
        m = tape.model
        dt = _TORCH_DTYPES[m.dtype]
        b, t = tape.batch, tape.steps
        state = (b, m.state_size)
        tape.check_grads(*(None if g is None else tuple(g.shape) for g in (gy, gh, gc)))
        gys = (dense(gy, dt), dense(gh, dt), dense(gc, dt))
        want_params, inputs = any(need[7:]), any(need[3:7])
        gp = torch.empty(m.param_len, dtype=dt) if want_params else None
        gx = torch.empty((b, t, m.input_size), dtype=dt) if inputs else None
        gh0 = torch.empty(state, dtype=dt) if inputs else None
        gc0 = torch.empty(state, dtype=dt) if inputs and m.mixed_memory else None
        ge = torch.empty((b, t), dtype=dt) if inputs and tape.irregular else None
        tape.run_bufs(*map(tbuf, gys), tbuf(gp), tbuf(gx), tbuf(gh0), tbuf(gc0), tbuf(ge))
        dev = ctx.device

        def back(a):
            return a if dev.type == "cpu" else a.to(dev)

        grads = [None] * len(need)
        for pos, g in ((3, gx), (4, gh0), (5, gc0), (6, ge)):
            if need[pos] and g is not None:
                grads[pos] = back(g)
        if gp is not None:
            sizes, shapes = _table_plan(m)
            for i, (part, shape) in enumerate(zip(back(gp).split_with_sizes(sizes), shapes)):
                if need[7 + i]:
                    grads[7 + i] = part.view(shape)
        return tuple(grads)


def as_elapsed(value, name: str, dtype, device):
    """value as a float (scalars) or a tensor of dtype on device (tensors,
    arrays, lists), or None; a TypeError naming the argument otherwise."""
    if value is None or isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number, a tensor or an array of numbers, got {type(value).__name__}")
    try:
        if np.ndim(value) == 0:
            return float(value)
        return torch.as_tensor(np.asarray(value, dtype=np.float64), dtype=dtype, device=device)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, a tensor or an array of numbers, got {type(value).__name__}") \
            from None


def elapsed_tensor(elapsed, batch: int, steps: int, name: str, dtype, device, shape=None) -> Optional[torch.Tensor]:
    """(batch, steps) elapsed times from a float or a tensor, by the one
    rule (:func:`kerasncp_go._rules.elapsed_shape`, finite and > 0); None
    for the regular 1.0. shape is the argument's shape as the caller gave
    it, for messages.

    Raises:
        ValueError: a shape that does not fit or a time that is not finite
            and > 0, naming `name`.
    """
    if elapsed is None:
        return None
    if not isinstance(elapsed, torch.Tensor):
        _rules.check_elapsed_values(elapsed, name)
        if elapsed == 1.0:
            return None
        return torch.full((batch, steps), elapsed, dtype=dtype, device=device)
    view = _rules.elapsed_shape(tuple(elapsed.shape), batch, steps, name, shape)
    if not elapsed.is_complex():  # complex tensors get sequence()'s TypeError
        _rules.check_elapsed_values(host(elapsed, elapsed.dtype), name)
    return elapsed.reshape([-1 if d is None else d for d in view]).expand(batch, steps)
