"""PyTorch binding: keras-ncp's and ncps's LTC modules with Go kernels.

``LTCCell`` has keras-ncp 2.1.0's constructor, parameter names, shapes and
state_dict keys (masks included), and ncps's ``forward(inputs, states,
elapsed_time=1.0)``. ``LTC`` has ncps 1.0.1's API and runs a whole sequence in
one Go call forward and one backward. Gradients come from the Go backward
kernel through a ``torch.autograd.Function``.

Tensors on another device than the CPU make a round trip through host
memory: inputs and parameters are copied to the CPU for the Go call and the
results copied back to the input's device.
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from .. import _ops
from .. import wirings as _wirings
from .._sizes import WiringSizes

__all__ = ["LTCCell", "LTC", "LSTMCell"]


def _np_dtype(dtype: torch.dtype) -> np.dtype:
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"parameters must be float32 or float64 (module.float() or module.double()), got {dtype}")
    return np.dtype(str(dtype).replace("torch.", ""))


_TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def _host(t: Optional[torch.Tensor], dtype: torch.dtype) -> Optional[np.ndarray]:
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


def _run(spec: _ops.CellSpec, x: torch.Tensor, h0: Optional[torch.Tensor], elapsed: Optional[torch.Tensor],
         all_steps: bool, keep: bool):
    """One Go call over torch tensors: (y, h, tape), y and h on x's
    device."""
    dt = _TORCH_DTYPES[spec.dtype]
    y, h, tape = _ops.forward(spec, _host(x, dt), _host(h0, dt), _host(elapsed, dt), all_steps=all_steps,
                              keep=keep)
    y, h = torch.from_numpy(y), torch.from_numpy(h)
    if not x.is_cpu:
        y, h = y.to(x.device), h.to(x.device)
    return y, h, tape


def _grad_plan(lay: _ops.GradLayout, slots: Tuple[str, ...]):
    """(position among _LTCSequence's inputs, position in lay, shape to view
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


class _LTCSequence(torch.autograd.Function):
    """y, h = LTC(x, h0, elapsed; params) over whole sequences, one Go call
    each way. Inputs: (cell, all_steps, x, h0, elapsed, *parameters in the
    cell's order)."""

    @staticmethod
    def forward(ctx, cell, all_steps, x, h0, elapsed, *params):
        # An unused output (usually the final state) arrives as None in
        # backward instead of a tensor of zeros.
        ctx.set_materialize_grads(False)
        y, h, tape = _run(cell._spec_of(params), x, h0, elapsed, all_steps, keep=any(ctx.needs_input_grad))
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
        tape.backward_into(flat.numpy(), _host(gy, dt), _host(gh, dt), params=want_params)
        if ctx.device.type != "cpu":
            flat = flat.to(ctx.device)
        parts = flat.split_with_sizes(lay.sizes)
        grads = [None] * len(need)
        for pos, k, shape in _grad_plan(lay, ctx.slots):
            if need[pos]:
                grads[pos] = parts[k] if shape is None else parts[k].view(shape)
        return tuple(grads)


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
        _ops.build_wiring(wiring, in_features)
        self._wiring = wiring
        self._input_mapping = input_mapping
        self._output_mapping = output_mapping
        self._in_code, self._out_code, self._ode_unfolds, self._epsilon = _ops.check_options(
            input_mapping, output_mapping, ode_unfolds, epsilon)
        self._implicit_param_constraints = bool(implicit_param_constraints)
        self._init_ranges = {k: v for k, v in _ops.DEFAULT_INIT_RANGES.items()}
        self._allocate_parameters()

    def _allocate_parameters(self) -> None:
        u, s, m = self.state_size, self.sensory_size, self.motor_size
        shapes = _ops.param_shapes(u, s, m, self._in_code, self._out_code)
        adj = np.asarray(self._wiring.adjacency_matrix, dtype=np.float32)
        sens = np.asarray(self._wiring.sensory_adjacency_matrix, dtype=np.float32)
        self._names = tuple(shapes)
        for name, shape in shapes.items():
            grad = True
            if name == "erev":
                v = torch.tensor(adj)
            elif name == "sensory_erev":
                v = torch.tensor(sens)
            elif name == "sparsity_mask":
                v, grad = torch.tensor(np.abs(adj)), False
            elif name == "sensory_sparsity_mask":
                v, grad = torch.tensor(np.abs(sens)), False
            elif name in ("input_w", "output_w"):
                v = torch.ones(shape)
            elif name in ("input_b", "output_b"):
                v = torch.zeros(shape)
            else:
                lo, hi = self._init_ranges[name]
                v = torch.ones(shape) * lo if lo == hi else torch.rand(*shape) * (hi - lo) + lo
            self.add_weight(name, v, requires_grad=grad)

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

    def make_positive_fn(self, x: torch.Tensor) -> torch.Tensor:
        """softplus in implicit mode, else the identity (as the reference)."""
        return nn.functional.softplus(x) if self._implicit_param_constraints else x

    def apply_weight_constraints(self) -> None:
        """Clamps w, sensory_w, cm and gleak at zero, in place (no-op with
        implicit constraints)."""
        if not self._implicit_param_constraints:
            with torch.no_grad():
                params = self._params
                for n in ("w", "sensory_w", "cm", "gleak"):
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
        np_dtype = _np_dtype(dtype)  # before any conversion, so that bfloat16 gets this message
        spec = _ops.CellSpec({n: _host(p, dtype) for n, p in zip(self._names, params)}, self.state_size,
                             self.sensory_size, self.motor_size, self._in_code, self._out_code, self._ode_unfolds,
                             self._epsilon, self._implicit_param_constraints, np_dtype)
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
        if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, h0, elapsed, *params)):
            return _LTCSequence.apply(self, all_steps, x, h0, elapsed, *params)
        # Nothing to differentiate: one Go call, no tape.
        y, h, _ = _run(self._spec_of(params), x, h0, elapsed, all_steps, keep=False)
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
        if inputs.dim() != 2:
            raise ValueError(f"inputs must have shape (batch, {self.sensory_size}), got {tuple(inputs.shape)}")
        b = inputs.shape[0]
        dtype = self.gleak.dtype
        e = _as_elapsed(elapsed_time, "elapsed_time", dtype, inputs.device)
        e = _elapsed_tensor(e, b, 1, "elapsed_time", dtype, inputs.device)
        return self.sequence(inputs.unsqueeze(1), states, e, all_steps=False)


def _as_elapsed(value, name: str, dtype, device):
    """value as a float (scalars) or a tensor of dtype on device (tensors,
    arrays, lists), or None; a TypeError naming the argument otherwise."""
    if value is None or isinstance(value, torch.Tensor):
        return value
    try:
        if np.ndim(value) == 0:
            return float(value)
        return torch.as_tensor(np.asarray(value, dtype=np.float64), dtype=dtype, device=device)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, a tensor or an array of numbers, got {type(value).__name__}") \
            from None


def _elapsed_tensor(elapsed, batch: int, steps: int, name: str, dtype, device, shape=None) -> Optional[torch.Tensor]:
    """(batch, steps) elapsed times from a float or a tensor (shapes as
    _ops.elapsed_shape reads them); None for the regular 1.0. shape is the
    argument's shape as the caller gave it, for messages."""
    if elapsed is None:
        return None
    if not isinstance(elapsed, torch.Tensor):
        if elapsed == 1.0:
            return None
        return torch.full((batch, steps), elapsed, dtype=dtype, device=device)
    try:
        return elapsed.reshape(_ops.elapsed_shape(elapsed.shape, batch, steps)).expand(batch, steps)
    except RuntimeError:
        shape = tuple(elapsed.shape) if shape is None else tuple(shape)
        raise ValueError(f"{name} must be broadcastable to (batch={batch}, steps={steps}), got shape {shape}") \
            from None


class LSTMCell(nn.Module):
    """The LSTM cell of ncps's mixed-memory mode (same parameters and
    initialization)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.input_map = nn.Linear(input_size, 4 * hidden_size, bias=True)
        self.recurrent_map = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        self.init_weights()

    def init_weights(self) -> None:
        for w in self.input_map.parameters():
            if w.dim() == 1:
                nn.init.uniform_(w, -0.1, 0.1)
            else:
                nn.init.xavier_uniform_(w)
        for w in self.recurrent_map.parameters():
            if w.dim() == 1:
                nn.init.uniform_(w, -0.1, 0.1)
            else:
                nn.init.orthogonal_(w)

    def forward(self, inputs, states):
        h, c = states
        z = self.input_map(inputs) + self.recurrent_map(h)
        i, ig, fg, og = z.chunk(4, 1)
        c = c * torch.sigmoid(fg + 1.0) + torch.tanh(i) * torch.sigmoid(ig)
        return torch.tanh(c) * torch.sigmoid(og), c


class LTC(WiringSizes, nn.Module):
    """ncps's torch LTC: an LTC RNN over whole sequences, one Go call each way.

    Args:
        input_size: input features.
        units: a wiring, or an int for FullyConnected(units).
        return_sequences: outputs of every step, or of the last.
        batch_first: inputs (B, T, C) if true, else (T, B, C).
        mixed_memory: add ncps's LSTM memory cell (then steps run one Go
            call each).
        input_mapping, output_mapping, ode_unfolds, epsilon,
        implicit_param_constraints: as LTCCell (implicit by default, as ncps).

    Example:
        >>> rnn = LTC(20, 50)
        >>> y, hn = rnn(torch.randn(2, 3, 20))
    """

    def __init__(self, input_size: int, units, return_sequences: bool = True, batch_first: bool = True,
                 mixed_memory: bool = False, input_mapping="affine", output_mapping="affine", ode_unfolds: int = 6,
                 epsilon: float = 1e-8, implicit_param_constraints: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.wiring_or_units = units
        self.batch_first = batch_first
        self.return_sequences = return_sequences
        if isinstance(units, (int, np.integer)) and not isinstance(units, bool):
            wiring = _wirings.FullyConnected(int(units))
        else:
            wiring = _wirings.as_wiring(units, input_size)
        self.rnn_cell = LTCCell(wiring, in_features=input_size, input_mapping=input_mapping,
                                output_mapping=output_mapping, ode_unfolds=ode_unfolds, epsilon=epsilon,
                                implicit_param_constraints=implicit_param_constraints)
        self._wiring = wiring
        self.use_mixed = mixed_memory
        if self.use_mixed:
            self.lstm = LSTMCell(input_size, self.state_size)

    def forward(self, input: torch.Tensor, hx=None, timespans: Optional[torch.Tensor] = None):
        """Runs the RNN.

        Args:
            input: (B, L, C) if batch_first else (L, B, C); (L, C) unbatched.
            hx: initial state (B, H), or (h0, c0) with mixed memory; None:
                zeros.
            timespans: elapsed time per step: (B, L), (B, L, 1) (time-major:
                (L, B[, 1])) or a float; any batch size works.

        Returns:
            (output, hx): outputs (B, L, M) or (B, M), and the final state.
        """
        if not isinstance(input, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ValueError(f"input must be 2-D (unbatched) or 3-D, got {input.dim()}-D")
        device = input.device
        dtype = self.rnn_cell.gleak.dtype
        timespans = _as_elapsed(timespans, "timespans", dtype, device)
        given_shape = timespans.shape if isinstance(timespans, torch.Tensor) else None
        is_batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
            if isinstance(timespans, torch.Tensor) and timespans.dim() >= 1:
                timespans = timespans.unsqueeze(batch_dim)
        x = input if self.batch_first else input.transpose(0, 1)
        if isinstance(timespans, torch.Tensor) and not self.batch_first and timespans.dim() >= 2:
            timespans = timespans.transpose(0, 1)
        b, steps = x.shape[0], x.shape[1]
        if hx is None:
            # Without memory cells the zero initial state is Go's default.
            h = torch.zeros((b, self.state_size), dtype=dtype, device=device) if self.use_mixed else None
            c = torch.zeros((b, self.state_size), dtype=dtype, device=device) if self.use_mixed else None
        else:
            if self.use_mixed and isinstance(hx, torch.Tensor):
                raise RuntimeError("Running an LTC with mixed_memory=True requires a tuple (h0, c0) as state "
                                   "(got a torch.Tensor instead)")
            h, c = hx if self.use_mixed else (hx, None)
            for name, t in (("hx", h), ("the memory state c0", c)):
                if t is not None and not isinstance(t, torch.Tensor):
                    raise TypeError(f"states ({name}) must be a torch.Tensor, got {type(t).__name__}")
            want_dim = 2 if is_batched else 1
            if h.dim() != want_dim:
                raise RuntimeError(f"For {'batched 3-D' if is_batched else 'unbatched 2-D'} input, hx should be "
                                   f"{want_dim}-D but got a {h.dim()}-D tensor")
            if not is_batched:
                h = h.unsqueeze(0)
                c = c.unsqueeze(0) if c is not None else None
            elif h.shape[0] == 1 and b > 1:
                # One initial state for every sequence (a learned one, say),
                # as ncps's broadcasting allows.
                h = h.expand(b, -1)
                c = c.expand(b, -1) if c is not None else None
        elapsed = _elapsed_tensor(timespans, b, steps, "timespans", dtype, device, given_shape)
        if not self.use_mixed:
            y, h = self.rnn_cell.sequence(x, h, elapsed, all_steps=self.return_sequences)
        else:
            outs = []
            for t in range(steps):
                h, c = self.lstm(x[:, t], (h, c))
                e = None if elapsed is None else elapsed[:, t:t + 1]
                y_t, h = self.rnn_cell.sequence(x[:, t:t + 1], h, e, all_steps=False)
                outs.append(y_t)
            y = torch.stack(outs, dim=1) if self.return_sequences else outs[-1]
        if self.return_sequences and not self.batch_first:
            y = y.transpose(0, 1)
        hx = (h, c) if self.use_mixed else h
        if not is_batched:
            # As ncps: squeeze the batch dimension's position, which for a
            # time-major last-step output leaves (1, M) when M > 1.
            y = y.squeeze(batch_dim)
            hx = (h[0], c[0]) if self.use_mixed else h[0]
        return y, hx


def __getattr__(name):
    if name in ("CfC", "CfCCell", "WiredCfCCell"):
        raise _ops.MissingCell(f"kerasncp_go.torch has no {name}: kerasncp-go implements the LTC cells, not CfC (yet)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
