"""What the torch CfC modules share: parameters named as a Go CfC model's
table, read at every call, and the one Go call per sequence.

Each call gathers the parameters into the Go model's flat layout (a copy
of a few microseconds to a fraction of a millisecond, against the pass
itself). They are kept as separate tensors, as torch modules keep them, so
that a submodule's state_dict holds its own values only and
``safetensors.torch.save_model`` works. A module whose submodules the Go
model would not describe runs step by step in torch instead (see
``_modpath``)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn

from .._cfc import CfCModel
from . import _modpath
from ._function import CfCSequence, cfc_call, check_tensors, np_dtype, refuse_tracing

__all__ = ["GoCfC", "LeCun", "ACTIVATIONS"]


class LeCun(nn.Module):
    """lecun_tanh as a module: 1.7159 tanh(0.666 x)."""

    def __init__(self) -> None:
        super().__init__()
        self.tanh = nn.Tanh()  # a submodule, as the reference's

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * self.tanh(0.666 * x)


#: The backbone activations by name, as modules (they hold no parameters;
#: the Go core computes them).
ACTIVATIONS = {"lecun_tanh": LeCun, "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


def _fresh_seed() -> int:
    """A dropout seed from torch's global generator, so that
    torch.manual_seed makes training passes repeatable."""
    return int(torch.randint(0, 2 ** 62, (1,)).item())


class GoCfC:
    """Mixin of an nn.Module whose parameters are the entries of a Go CfC
    model's table (their names less `_prefix`), laid out as torch modules
    of the reference's structure. Subclasses define _make_model(dtype) and
    set _dropout (whether training passes draw dropout)."""

    _prefix = ""
    _dropout = False

    def _make_model(self, dtype: np.dtype) -> CfCModel:  # pragma: no cover - abstract
        raise NotImplementedError

    def _go_model(self, dtype: Any = np.float32) -> CfCModel:
        """The Go model for dtype, made on first use (the handle does not
        pickle: copies make their own)."""
        models: Optional[Dict[np.dtype, CfCModel]] = self.__dict__.get("_go_models")
        if models is None:
            models = {}
            object.__setattr__(self, "_go_models", models)
        dt = np.dtype(dtype)
        m = models.get(dt)
        if m is None:
            m = models[dt] = self._make_model(dt)
        return m

    def __getstate__(self):
        state = dict(super().__getstate__())  # type: ignore[misc]
        state.pop("_go_models", None)
        state.pop("_seen", None)  # weak references
        return state

    def _local_names(self) -> List[Tuple[Tuple[str, ...], str, bool]]:
        """(submodule path as its names, attribute, trainable) of every
        table entry."""
        names = self.__dict__.get("_names_cache")
        if names is None:
            p = self._prefix
            names = []
            for e in self._go_model().table:
                local = e.name[len(p):] if e.name.startswith(p) else e.name
                path, _, attr = local.rpartition(".")
                names.append((tuple(path.split(".")) if path else (), attr, e.trainable))
            object.__setattr__(self, "_names_cache", names)
        return names

    def _entry(self, atoms: Tuple[str, ...], attr: str) -> torch.Tensor:
        """The tensor at submodule path atoms, attribute attr, as the
        modules hold it now, walked through the children dictionaries
        (get_submodule's checks cost more than the rest of a short call). A
        registered parameter or buffer is read from its module's dictionary
        (what getattr returns, without nn.Module.__getattr__'s cost);
        anything else (a parametrization's property, a plain tensor
        attribute) through getattr."""
        mod: Any = self
        try:
            for a in atoms:
                mod = mod._modules[a]
        except KeyError:  # a replaced structure: get_submodule's message
            mod = self.get_submodule(".".join(atoms))  # type: ignore[attr-defined]
        cls = type(mod)
        if cls.__getattribute__ is object.__getattribute__:
            t = mod._parameters.get(attr)
            if t is None:
                t = mod._buffers.get(attr)
            # What ordinary attribute lookup finds first (an instance or
            # class attribute of the name) takes getattr's path.
            if t is not None and attr not in mod.__dict__ and not hasattr(cls, attr):
                return t
        return getattr(mod, attr)

    def _param_list(self) -> List[torch.Tensor]:
        """The parameters in table order, read from the modules at every
        call, so that torch.func.functional_call's substitutes and
        parametrizations' computed tensors are what runs."""
        entry = self._entry
        return [entry(atoms, attr) for atoms, attr, _ in self._local_names()]

    def _settle(self) -> None:
        """Records what the Go model assumes of the submodules (see
        _modpath.signature); the end of every constructor."""
        self._expected = _modpath.signature(self)  # type: ignore[arg-type]

    @property
    def param_dtype(self) -> torch.dtype:
        """The parameters' dtype: that of the first trained one (masks stay
        float32 as the reference keeps them)."""
        return self._dtype_of(self._local_names(), self._param_list())

    @staticmethod
    def _dtype_of(names, params) -> torch.dtype:
        """param_dtype from a _param_list already read."""
        for (_, _, trainable), p in zip(names, params):
            if trainable:
                return p.dtype
        raise AssertionError("a CfC model has trained parameters")  # pragma: no cover

    def _look(self) -> "_modpath.Inspection":
        """Whether the Go model describes the submodules now (see _modpath)."""
        seen = self.__dict__.get("_seen")
        if seen is None:  # not pickled: see __getstate__
            seen = []
            object.__setattr__(self, "_seen", seen)
        return _modpath.inspect(self, self.__dict__.get("_expected", ()), seen)  # type: ignore[arg-type]

    def _read(self, look: "_modpath.Inspection") -> Tuple[Optional[List[torch.Tensor]], torch.dtype]:
        """(the parameters in table order, or None for the module path; the
        computation's dtype)."""
        if look.go:
            params = self._param_list()
            return params, self._dtype_of(self._local_names(), params)
        for p in self.parameters():  # type: ignore[attr-defined]
            if p.requires_grad or p.dtype is not torch.float32:
                return None, p.dtype
        return None, torch.float32

    def _run(self, x: torch.Tensor, h0: Optional[torch.Tensor], c0: Optional[torch.Tensor],
             elapsed: Optional[torch.Tensor], all_steps: bool, look: "_modpath.Inspection",
             params: Optional[List[torch.Tensor]], dtype: torch.dtype) -> Tuple[torch.Tensor, ...]:
        """One Go call over batch-major x (B, T, input): (y, h[, c]); look,
        params and dtype as _look and _read gave them for this call."""
        refuse_tracing()
        if params is not None:
            devices = {p.device for p in params}
            if len(devices) > 1:
                raise ValueError(f"the module's parameters are spread over devices {sorted(map(str, devices))}: "
                                 "move the module to one device")
            device = params[0].device
        else:
            device = next(self.parameters()).device  # type: ignore[attr-defined]
        check_tensors(device, inputs=x, states=h0, memory_states=c0, elapsed_times=elapsed)
        if not dtype.is_floating_point:
            np_dtype(dtype)  # its TypeError
        if params is None or x.shape[0] == 0 or dtype not in (torch.float32, torch.float64):
            return self._run_modules(x, h0, c0, elapsed, all_steps, dtype)
        model = self._go_model(np_dtype(dtype))
        if x.dim() == 3:  # the Go helpers wake while the rest of this runs
            model.wake(x.shape[0], x.shape[1])
        x = x.to(dtype)
        h0, c0, elapsed = (None if t is None else t.to(dtype) for t in (h0, c0, elapsed))
        seed = _fresh_seed() if self._dropout and look.dropout else None
        tensors = (x, h0, c0, elapsed)
        if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (*tensors, *params)):
            return CfCSequence.apply(model, all_steps, seed, *tensors, *params)
        # Nothing to differentiate: one Go call, no tape.
        return cfc_call(model, all_steps, seed, *tensors, params, keep=False)[0]

    def _run_modules(self, x: torch.Tensor, h0: Optional[torch.Tensor], c0: Optional[torch.Tensor],
                     elapsed: Optional[torch.Tensor], all_steps: bool, dtype: torch.dtype) -> Tuple[torch.Tensor, ...]:
        """_run's results computed by the submodules step by step in torch
        (see _modpath): for what the Go model does not describe."""
        x = x.to(dtype)
        h0, c0, elapsed = (None if t is None else t.to(dtype) for t in (h0, c0, elapsed))
        if "rnn_cell" in self._modules:  # type: ignore[attr-defined]
            return _modpath.sequence(self, x, h0, c0, elapsed, all_steps, dtype)
        h = h0 if h0 is not None else torch.zeros((x.shape[0], self.state_size), dtype=dtype,  # type: ignore[attr-defined]
                                                  device=x.device)
        # A cell's single step: elapsed is (batch, 1), or per unit.
        return _modpath.modules_step(self, x[:, 0], h, 1.0 if elapsed is None else elapsed)
