"""keras-ncp's torch LTCCell, computed by the Go core."""

from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import nn

from .. import _ops, _rules
from .. import wirings as _wirings
from .._sizes import WiringSizes
from ._function import LTCSequence, as_elapsed, elapsed_tensor, host, np_dtype, run

__all__ = ["LTCCell"]


class LTCCell(WiringSizes, nn.Module):
    """keras-ncp's torch LTCCell, computed by the Go core.

    Args:
        wiring: a wiring (kerasncp_go.wirings, or a keras-ncp/ncps wiring).
        in_features: input features; builds the wiring.
        input_mapping: "affine", "linear" or None.
        output_mapping: "affine", "linear" or None.
        ode_unfolds: Euler steps per time step.
        epsilon: added to the ODE denominator.
        implicit_param_constraints: softplus on w, sensory_w, cm and gleak
            instead of explicit clamping with apply_weight_constraints().

    Parameters are drawn from torch's global generator in the reference's
    order and ranges, so with the same torch seed they equal the
    reference's.

    Raises:
        ValueError: the wiring has no input dimension, or a bad argument.
    """

    def __init__(self, wiring, in_features: Optional[int] = None, input_mapping: Optional[str] = "affine",
                 output_mapping: Optional[str] = "affine", ode_unfolds: int = 6, epsilon: float = 1e-8,
                 implicit_param_constraints: bool = False) -> None:
        super().__init__()
        wiring = _wirings.as_wiring(wiring, in_features)
        _rules.build_wiring(wiring, in_features)
        self._wiring = wiring
        self._input_mapping = input_mapping
        self._output_mapping = output_mapping
        self._in_code, self._out_code, self._ode_unfolds, self._epsilon = _rules.check_options(
            input_mapping, output_mapping, ode_unfolds, epsilon)
        self._implicit_param_constraints = _rules.check_bool(implicit_param_constraints, "implicit_param_constraints")
        self._init_ranges = _rules.init_ranges()
        self._allocate_parameters()

    def _allocate_parameters(self) -> None:
        """Registers the parameters :func:`kerasncp_go._rules.initial_values`
        describes, drawing the uniform ones from torch's global generator in
        the reference's order."""
        inits = _rules.initial_values(self._wiring.adjacency_matrix, self._wiring.sensory_adjacency_matrix,
                                      self.motor_size, self._in_code, self._out_code, self._init_ranges)
        self._names = tuple(inits)
        for name, init in inits.items():
            if init.value is not None:
                v = torch.tensor(init.value, dtype=torch.get_default_dtype())
            else:
                v = torch.rand(*init.shape) * (init.high - init.low) + init.low
            self.add_weight(name, v, requires_grad=init.trainable)

    def add_weight(self, name: str, init_value: torch.Tensor, requires_grad: bool = True) -> nn.Parameter:
        """Registers a parameter under `name` (the reference's helper)."""
        param = nn.Parameter(init_value, requires_grad=requires_grad)
        self.register_parameter(name, param)
        return param

    def _param_list(self) -> list:
        """The parameters in the reference's order, read from the module at
        every call, so that torch.func.functional_call's substitutes and
        torch.nn.utils.parametrize's computed tensors are what runs."""
        p = self._parameters
        try:
            return [p[n] for n in self._names]
        except KeyError:  # a parametrization moved some out of _parameters
            return [getattr(self, n) for n in self._names]

    @property
    def _params(self) -> dict:
        """The parameters by name (the reference's attribute)."""
        return dict(zip(self._names, self._param_list()))

    def __getstate__(self):
        # The cached C ABI view holds ctypes pointers, which do not pickle
        # (torch.save of the module, copy.deepcopy); it is rebuilt on use.
        state = dict(super().__getstate__())
        state.pop("_spec_cache", None)
        return state

    def __setstate__(self, state):
        state = dict(state)
        old = state.pop("_params", None)  # modules pickled by 0.1.0 development builds kept a dict
        super().__setstate__(state)
        if not hasattr(self, "_names"):
            self._names = tuple(old) if old else tuple(self._parameters)

    @property
    def param_dtype(self) -> torch.dtype:
        """The parameters' dtype (gleak's, as the module's dtype)."""
        gleak: torch.Tensor = self.gleak  # type: ignore[assignment]  # nn.Module's __getattr__ is untyped
        return gleak.dtype

    def make_positive_fn(self, x: torch.Tensor) -> torch.Tensor:
        """softplus in implicit mode, else the identity (as the reference)."""
        return nn.functional.softplus(x) if self._implicit_param_constraints else x

    def apply_weight_constraints(self) -> None:
        """Clamps w, sensory_w, cm and gleak at zero, in place (no-op with
        implicit constraints)."""
        if not self._implicit_param_constraints:
            with torch.no_grad():
                params = self._params
                for n in _rules.NON_NEGATIVE:
                    params[n].clamp_(min=0)


    def _spec_of(self, params) -> _ops.CellSpec:
        """The C ABI view of the parameter tensors, cached while they keep
        their storage (in-place updates, as optimizers make, are seen through
        the shared memory). Tensors off the CPU are copied at every call."""
        # A strided view (w.t() through functional_call or a parametrization)
        # starts at its tensor's address: -1 keeps it from hitting the cache.
        key = (params[0].dtype, self._ode_unfolds, self._epsilon, self._implicit_param_constraints,
               tuple(p.data_ptr() if p.is_contiguous() else -1 for p in params))
        cached = getattr(self, "_spec_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        devices = {p.device for p in params}
        if len(devices) > 1:
            raise ValueError(f"the cell's parameters are spread over devices {sorted(map(str, devices))}: "
                             "move the module to one device")
        dtype = params[0].dtype
        ndt = np_dtype(dtype)  # before any conversion, so that bfloat16 gets this message
        spec = _ops.CellSpec({n: host(p, dtype) for n, p in zip(self._names, params)}, self.state_size,
                             self._inputs, self.motor_size, self._in_code, self._out_code, self._ode_unfolds,
                             self._epsilon, self._implicit_param_constraints, ndt)
        # Cached only when the arrays are the tensors' own memory; a copy
        # (another device, a mixed dtype, a strided tensor) would go stale.
        if all(p.is_cpu and p.dtype == dtype and p.is_contiguous() for p in params):
            # nn.Module.__setattr__ would try to register this; bypass it.
            object.__setattr__(self, "_spec_cache", (key, spec))
        return spec

    def sequence(self, x: torch.Tensor, h0: Optional[torch.Tensor] = None, elapsed: Optional[torch.Tensor] = None,
                 all_steps: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
        """Runs batch-first sequences x (B, T, S) in one Go call.

        Args:
            h0: (B, U) initial state, or None (zeros).
            elapsed: (B, T) elapsed times, or None (1.0).
            all_steps: outputs of every step (B, T, M) or of the last (B, M).

        Returns:
            (outputs, final state (B, U)).
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"inputs must be a torch.Tensor, got {type(x).__name__}")
        if torch.jit.is_tracing():
            # A trace would record the Go call's outputs as constants.
            raise RuntimeError("kerasncp_go.torch modules cannot be traced by torch.jit.trace (or exported "
                               "through it): the Go kernels are invisible to the tracer, which would record "
                               "their outputs as constants; run the module eagerly or under torch.compile")
        if x.dim() != 3 or x.shape[2] != self.sensory_size:
            raise ValueError(f"inputs must have shape (batch, steps, {self.sensory_size}), got {tuple(x.shape)}")
        params = self._param_list()
        dev = params[0].device
        for name, t in (("inputs", x), ("states", h0), ("elapsed times", elapsed)):
            if t is None:
                continue
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
            if t.device != dev:
                raise ValueError(f"{name} are on {t.device} but the cell's parameters on {dev}: "
                                 "move them to one device")
            if t.is_complex():
                raise TypeError(f"{name} must be real, got {t.dtype}")
        b = x.shape[0]
        if h0 is not None and h0.shape != (b, self.state_size):  # None: zeros, in Go
            raise ValueError(f"states must have shape (batch={b}, units={self.state_size}), got {tuple(h0.shape)}")
        for name in ("sparsity_mask", "sensory_sparsity_mask"):
            mask = self._parameters.get(name)
            if mask is not None and mask.requires_grad:
                raise ValueError(f"{name} cannot be trained: the Go kernels take the wiring's masks as constants "
                                 f"(call {name}.requires_grad_(False))")
        if b == 0:  # an empty batch: empty results, whose gradients are zeros
            zero = sum((t.reshape(-1)[:0].sum() for t in (x, h0, elapsed, *params)
                        if t is not None and t.is_floating_point()), x.new_zeros((), dtype=self.param_dtype))
            shape = (0, x.shape[1], self.motor_size) if all_steps else (0, self.motor_size)
            return zero + torch.zeros(shape, dtype=zero.dtype), zero + torch.zeros((0, self.state_size),
                                                                                    dtype=zero.dtype)
        if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, h0, elapsed, *params)):
            return LTCSequence.apply(self, all_steps, x, h0, elapsed, *params)
        # Nothing to differentiate: one Go call, no tape.
        y, h, _ = run(self._spec_of(params), x, h0, elapsed, all_steps, keep=False)
        return y, h

    def forward(self, inputs: torch.Tensor, states: Optional[torch.Tensor] = None,
                elapsed_time: Union[float, torch.Tensor] = 1.0) -> Tuple[torch.Tensor, torch.Tensor]:
        """One step: inputs (B, S), states (B, U); elapsed_time a float or a
        tensor of B values ((B,) or (B, 1)).

        Returns:
            (outputs (B, M), new state (B, U)).
        """
        if not isinstance(inputs, torch.Tensor):
            raise TypeError(f"inputs must be a torch.Tensor, got {type(inputs).__name__}")
        if inputs.dim() != 2 or inputs.shape[1] != self.sensory_size:
            raise ValueError(f"inputs must have shape (batch, {self.sensory_size}), got {tuple(inputs.shape)}")
        b = inputs.shape[0]
        dtype = self.param_dtype
        e = as_elapsed(elapsed_time, "elapsed_time", dtype, inputs.device)
        e = elapsed_tensor(e, b, 1, "elapsed_time", dtype, inputs.device)
        return self.sequence(inputs.unsqueeze(1), states, e, all_steps=False)


