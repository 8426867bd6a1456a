"""torch backend: the Go pass as a ``torch.autograd.Function``; a tape is
kept when some input needs a gradient."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np
import torch

from .. import _openmp
from . import _host

_openmp.on_torch_import(torch)  # see kerasncp_go.torch.share_threads


def _np(t: Optional[torch.Tensor]) -> Optional[np.ndarray]:
    return None if t is None else t.detach().to("cpu", torch.float32).numpy()


class _GoSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kernel, all_steps, training, x, h0, ts, *params):
        keep = any(ctx.needs_input_grad)
        y, h, tid, seed = _host.forward(kernel, all_steps, training, keep, _np(x), _np(h0), _np(ts),
                                        *[_np(p) for p in params])
        ctx.kernel, ctx.all_steps, ctx.training = kernel, all_steps, training
        ctx.tid, ctx.seed, ctx.has_ts = int(tid), int(seed), ts is not None
        ctx.save_for_backward(x, h0, ts, *params)
        dev = x.device
        return torch.from_numpy(y).to(dev), torch.from_numpy(h).to(dev)

    @staticmethod
    def backward(ctx, gy, gh):
        if torch.is_grad_enabled():  # create_graph=True: the caller wants to differentiate the gradients
            raise RuntimeError("kerasncp_go: the Go backward pass is not differentiable; second-order gradients "
                               "(create_graph=True, gradient penalties) are not supported")
        x, h0, ts, *params = ctx.saved_tensors
        g = _host.backward(ctx.kernel, ctx.all_steps, ctx.training, ctx.tid, ctx.seed, _np(gy), _np(gh),
                           _np(x), _np(h0), _np(ts), *[_np(p) for p in params])
        ctx.tid = 0  # a second backward pass recomputes
        k = len(params)
        dev = x.device
        gx, gh0 = (torch.from_numpy(a).to(dev) for a in g[k:k + 2])
        gts = torch.from_numpy(g[k + 2]).to(dev) if ctx.has_ts else None
        return (None, None, None, gx, gh0, gts) + tuple(torch.from_numpy(a).to(dev) for a in g[:k])


def sequence(kernel: Any, params: Sequence[Any], x: Any, h0: Any, ts: Optional[Any], all_steps: bool,
             training: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(x, dtype=torch.float32)
    h0 = torch.as_tensor(h0, dtype=torch.float32, device=x.device)
    t = None if ts is None else torch.as_tensor(ts, dtype=torch.float32, device=x.device)
    ps = [p if isinstance(p, torch.Tensor) else torch.as_tensor(p) for p in params]
    return _GoSequence.apply(kernel, bool(all_steps), bool(training), x, h0, t, *ps)
