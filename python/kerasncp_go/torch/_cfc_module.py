"""What the torch CfC modules share: parameters named as a Go CfC model's
table, read at every call, and the one Go call per sequence.

A module keeps its parameters as views of one flat tensor laid out as the
Go model's table (made when it is built and after ``.to()`` / ``.double()``),
so a call hands that tensor to Go as it is. Whatever breaks the layout (a
parameter replaced or parametrized, ``torch.func.functional_call``'s
substitutes, a mask of another dtype) only costs a gather into a fresh flat
tensor for that call."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn

from .._cfc import CfCModel
from ._function import CfCSequence, cfc_call, check_tensors, np_dtype, refuse_tracing

__all__ = ["GoCfC", "LeCun", "ACTIVATIONS"]


class LeCun(nn.Module):
    """lecun_tanh as a module: 1.7159 tanh(0.666 x)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(0.666 * x)


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
        return state

    def __setstate__(self, state) -> None:
        super().__setstate__(state)  # type: ignore[misc]
        self._pack_params()  # copy.deepcopy copies each parameter on its own

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

    def _pack_params(self) -> None:
        """Re-homes the parameters (and masks) into one flat tensor in table
        order, each becoming a view of it, when they are all plain tensors
        of one dtype on one device; else leaves them as they are."""
        params = self._param_list()
        if len({(p.dtype, p.device) for p in params}) != 1 or not params[0].dtype.is_floating_point:
            return
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1) for p in params])
            offset = 0
            for p in params:
                n = p.numel()
                p.data = flat[offset:offset + n].view(p.shape)
                offset += n

    def _apply(self, *args: Any, **kwargs: Any) -> Any:
        """nn.Module._apply (behind .to(), .double(), .cuda()), which gives
        the parameters new storage, then the flat layout again."""
        out = super()._apply(*args, **kwargs)  # type: ignore[misc]
        self._pack_params()
        return out

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

    def _run(self, x: torch.Tensor, h0: Optional[torch.Tensor], c0: Optional[torch.Tensor],
             elapsed: Optional[torch.Tensor], all_steps: bool,
             params: Optional[List[torch.Tensor]] = None) -> Tuple[torch.Tensor, ...]:
        """One Go call over batch-major x (B, T, input): (y, h[, c]);
        params as _param_list() returned them for this call, if the caller
        has read them."""
        refuse_tracing()
        if params is None:
            params = self._param_list()
        devices = {p.device for p in params}
        if len(devices) > 1:
            raise ValueError(f"the module's parameters are spread over devices {sorted(map(str, devices))}: "
                             "move the module to one device")
        dtype = self._dtype_of(self._local_names(), params)
        model = self._go_model(np_dtype(dtype))
        if x.dim() == 3:  # the Go helpers wake while the rest of this runs
            model.wake(x.shape[0], x.shape[1])
        check_tensors(params[0].device, inputs=x, states=h0, memory_states=c0, elapsed_times=elapsed)
        x = x.to(dtype)
        h0, c0, elapsed = (None if t is None else t.to(dtype) for t in (h0, c0, elapsed))
        seed = _fresh_seed() if self._dropout and self.training else None  # type: ignore[attr-defined]
        tensors = (x, h0, c0, elapsed)
        if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (*tensors, *params)):
            return CfCSequence.apply(model, all_steps, seed, *tensors, *params)
        # Nothing to differentiate: one Go call, no tape.
        return cfc_call(model, all_steps, seed, *tensors, params, keep=False)[0]
