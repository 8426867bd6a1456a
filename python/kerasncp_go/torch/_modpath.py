"""The CfC family computed by the modules themselves, step by step in torch.

The Go core computes a CfC from its parameters alone. When a module is in a
state that the parameters do not describe, the Go call would give other
numbers than the reference's step-by-step module calls, so these modules
run that way instead (slowly, with torch autograd):

* a submodule replaced by one of another kind or shape (a new ``fc`` head,
  another activation), or a ``Dropout``'s ``p`` changed;
* hooks on submodules (forward hooks, and what is built on forward
  pre-hooks: ``torch.nn.utils.prune``, the legacy ``weight_norm`` and
  ``spectral_norm``), or global module hooks;
* ``Dropout`` submodules not all in one mode (Monte-Carlo dropout sets
  them to training while the rest evaluates; the Go core follows their
  mode when they agree);
* a sparsity mask made trainable, parameters of a dtype other than float32
  and float64, ``torch.autocast``, and an empty batch;
* a cell whose class (a user's subclass) has a ``forward`` of its own,
  which a sequence then calls at each step (see :func:`step`).

The step functions call the submodules as the reference does (a wired
layer's ``forward`` directly, the head once per step), so hooks run as
often and see what they would see there. Elapsed times are per sample
((batch, 1) per step), or per unit when a single-step cell is given them.
"""

from __future__ import annotations

import weakref
from typing import Any, List, Optional, Set, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as _module

__all__ = ["signature", "Inspection", "MODULES", "inspect", "OWN_FORWARDS", "own_forward", "cell_step", "wired_step",
           "modules_step", "step", "sequence"]


def _summary(m: Any) -> Any:
    cls = type(m)
    if "parametrizations" in m._modules:  # parametrized: a class made for it; its tensors are read per call
        cls = cls.__mro__[1]
    if cls is nn.Linear:
        return (cls, m.in_features, m.out_features, m.bias is not None)
    if cls is nn.Dropout:
        return (cls, float(m.p))
    return cls


def _walk(root: nn.Module) -> List[nn.Module]:
    """root and its submodules in modules() order, without the names and
    the memo set that modules() builds (a module appears once in these
    trees)."""
    out: List[nn.Module] = []
    stack = [root]
    while stack:
        m = stack.pop()
        out.append(m)
        kids = [k for k in m._modules.values() if k is not None]
        kids.reverse()
        stack.extend(kids)
    return out


def signature(root: nn.Module) -> Tuple[Any, ...]:
    """What the Go model of root assumes of its submodules: their kinds,
    Linear shapes and Dropout rates, in module order."""
    return tuple(_summary(m) for m in _walk(root))


class Inspection:
    """What one look over a module's submodules found: whether the Go core
    can compute it (``go``), and if so whether its dropout is on."""

    __slots__ = ("dropout", "go")

    def __init__(self, go: bool, dropout: bool) -> None:
        self.go, self.dropout = go, dropout


#: The looks inspect gives: the modules' own steps; the Go core without,
#: and with, dropout.
MODULES, _GO, _GO_DROPOUT = Inspection(False, False), Inspection(True, False), Inspection(True, True)


def _has_global_hooks() -> bool:
    return bool(_module._global_forward_hooks or _module._global_forward_pre_hooks)


def inspect(root: nn.Module, expected: Tuple[Any, ...], seen: List[Any]) -> Inspection:
    """Looks over root's submodules once: see the module docstring for what
    sends a call down the module path. seen caches, as weak references,
    the submodules last found to match expected (a list kept by the
    caller), so that the signature is only computed again when one of them
    was replaced."""
    if _has_global_hooks() or torch.is_autocast_enabled("cpu") or torch.is_autocast_enabled("cuda"):
        return MODULES
    mods = _walk(root)
    if len(seen) != len(mods) or any(r() is not m for r, m in zip(seen, mods)):
        if signature(root) != expected:
            return MODULES
        seen[:] = [weakref.ref(m) for m in mods]
    drop = None
    for m, want in zip(mods, expected):
        if (m._forward_hooks or m._forward_pre_hooks) and m is not root:
            return MODULES
        mask = m._parameters.get("sparsity_mask")
        if mask is not None and mask.requires_grad:
            return MODULES
        if type(m) is nn.Dropout:
            if float(m.p) != want[1]:
                return MODULES
            if drop is None:
                drop = m.training
            elif drop != m.training:
                return MODULES
    return _GO_DROPOUT if drop else _GO


def cell_step(cell: Any, x: torch.Tensor, h: torch.Tensor, ts: Any) -> torch.Tensor:
    """One step of a CfCCell's modules: the new state."""
    z = torch.cat([x, h], 1)
    if cell.backbone_layers > 0:
        z = cell.backbone(z)
    mask = cell.sparsity_mask

    def masked(lin: nn.Linear) -> torch.Tensor:
        return lin(z) if mask is None else F.linear(z, lin.weight * mask, lin.bias)

    f1 = masked(cell.ff1)
    if cell.mode == "pure":
        return -cell.A * torch.exp(-ts * (torch.abs(cell.w_tau) + torch.abs(f1))) * f1 + cell.A
    f2 = cell.tanh(masked(cell.ff2))
    f1 = cell.tanh(f1)
    gate = cell.sigmoid(cell.time_a(z) * ts + cell.time_b(z))
    if cell.mode == "no_gate":
        return f1 + gate * f2
    return f1 * (1.0 - gate) + gate * f2


def wired_step(wired: Any, x: torch.Tensor, h: torch.Tensor, ts: Any) -> Tuple[torch.Tensor, torch.Tensor]:
    """One step of a WiredCfCCell's layers: (the last layer's state, the
    whole new state)."""
    parts = torch.split(h, wired.layer_sizes, dim=1)
    new = []
    for layer, part in zip(wired._layers, parts):
        x = step(layer, x, part, ts)[1]
        new.append(x)
    return x, torch.cat(new, dim=1)


#: The forward methods of this package's single-step cells: a subclass
#: with another one has it called, as the reference calls its cells'.
OWN_FORWARDS: Set[Any] = set()


def own_forward(cell: Any) -> bool:
    """Whether cell's forward is this package's, not a user subclass's."""
    return type(cell).forward in OWN_FORWARDS


def modules_step(cell: Any, x: torch.Tensor, h: torch.Tensor, ts: Any) -> Tuple[torch.Tensor, torch.Tensor]:
    """One step of a single-step cell (CfCCell or WiredCfCCell) computed
    by its submodules: (output, new state)."""
    if hasattr(cell, "_layers"):
        return wired_step(cell, x, h, ts)
    h = cell_step(cell, x, h, ts)
    return h, h


def step(cell: Any, x: torch.Tensor, h: torch.Tensor, ts: Any) -> Tuple[torch.Tensor, torch.Tensor]:
    """One step of a sequence's cell, as the reference calls it: its
    forward when a subclass has its own, else modules_step."""
    if not own_forward(cell):
        return cell.forward(x, h, ts)
    return modules_step(cell, x, h, ts)


def sequence(rnn: Any, x: torch.Tensor, h0: Optional[torch.Tensor], c0: Optional[torch.Tensor],
             elapsed: Optional[torch.Tensor], all_steps: bool, dtype: torch.dtype) -> Tuple[torch.Tensor, ...]:
    """A CfC module over batch-major x (batch, steps, input), step by step:
    (y, h[, c]) as the Go call returns them."""
    b, t = x.shape[0], x.shape[1]
    h = h0 if h0 is not None else torch.zeros((b, rnn.state_size), dtype=dtype, device=x.device)
    c = None
    if rnn.use_mixed:
        c = c0 if c0 is not None else torch.zeros((b, rnn.state_size), dtype=dtype, device=x.device)
    outs = []
    y = h
    for k in range(t):
        xk = x[:, k]
        ts = 1.0 if elapsed is None else elapsed[:, k].unsqueeze(1)
        if c is not None:
            h, c = rnn.lstm(xk, (h, c))
        y, h = step(rnn.rnn_cell, xk, h, ts)
        if all_steps:
            outs.append(rnn.fc(y))
    if all_steps:
        y = torch.stack(outs, 1) if outs else x.new_zeros((b, 0, rnn.fc(y).shape[-1]))
    else:
        y = rnn.fc(y)
    return (y, h) if c is None else (y, h, c)
