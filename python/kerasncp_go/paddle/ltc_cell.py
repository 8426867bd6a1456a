"""keras-ncp 2.1.0's PaddlePaddle LTCCell, computed by the Go core.

The layer holds its parameters as paddle parameters under the reference's
names and shapes, so ``state_dict()`` / ``set_state_dict()`` exchange weights
with keras-ncp's paddle cell in both directions (the sparsity masks are
constants of the wiring, not parameters, as there). The computation is the
NumPy :class:`kerasncp_go.LTCCell`'s: one Go call forward over a whole
sequence and one backward, joined to paddle's autograd by a ``PyLayer``.
float32 on the CPU.

Compared with keras-ncp 2.1.0's cell, this one runs on paddlepaddle 3
(the reference multiplies float32 activations by int32 masks, which paddle 3's
type promotion rejects) and accepts ``in_features`` (the reference passes a
tuple to ``Wiring.build``).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import paddle
from paddle import nn
from paddle.autograd import PyLayer

from ..ltc import LTCCell as _NumpyCell

__all__ = ["LTCCell"]

#: The parameters, in the reference's creation order (the order in which they
#: draw from paddle's global generator).
_NAMES = ("gleak", "vleak", "cm", "sigma", "mu", "w", "erev", "sensory_sigma", "sensory_mu", "sensory_w",
          "sensory_erev", "input_w", "input_b", "output_w", "output_b")
_MASKS = ("sparsity_mask", "sensory_sparsity_mask")
#: Clamped at zero by apply_weight_constraints.
_CONSTRAINED = ("w", "sensory_w", "cm", "gleak")


def _host(t: paddle.Tensor, name: str) -> np.ndarray:
    if t.dtype != paddle.float32:
        raise TypeError(f"{name} must be float32 (kerasncp_go.paddle computes in float32), got {t.dtype}: "
                        f"convert with .astype('float32')")
    return t.numpy()


def _tensor(a: np.ndarray, place) -> paddle.Tensor:
    return paddle.to_tensor(a, place=place)


class _LTCSequence(PyLayer):
    """(y, h) = LTC(x, h0; parameters) over whole sequences, one Go call
    each way. Arguments: (layer, all_steps, x, h0 or None, *parameters in
    the layer's order)."""

    @staticmethod
    def forward(ctx, layer, all_steps, x, h0, *params):
        cell = layer._sync(params)
        y, h, tape = cell.forward_with_tape(_host(x, "inputs"), None if h0 is None else _host(h0, "states"), None,
                                            return_sequences=all_steps)
        ctx.tape, ctx.cell, ctx.place = tape, cell, x.place
        # Which tensor inputs want a gradient, with the name of that gradient.
        ctx.wanted = [("x", not x.stop_gradient)] + ([] if h0 is None else [("h0", not h0.stop_gradient)]) + [
            (n, not p.stop_gradient) for n, p in zip(layer._names, params)]
        return _tensor(y, x.place), _tensor(h, x.place)

    @staticmethod
    def backward(ctx, gy, gh):
        grads = ctx.cell.backward(ctx.tape, gy.numpy(), gh.numpy())
        ctx.tape = None  # a second backward through the same graph is an error in paddle anyway
        return tuple(_tensor(grads[n], ctx.place) if want else None for n, want in ctx.wanted)


class LTCCell(nn.Layer):
    """A liquid time-constant cell (keras-ncp 2.1.0's ``kerasncp.paddle.LTCCell``).

    Args:
        wiring: the wiring (kerasncp_go.wirings, or a keras-ncp/ncps wiring).
        in_features: number of input features; builds the wiring.
        input_mapping: "affine", "linear" or None.
        output_mapping: "affine", "linear" or None.
        ode_unfolds: semi-implicit Euler steps per time step.
        epsilon: added to the ODE denominator.

    Parameters are drawn from paddle's global generator in the reference's
    order and ranges (``paddle.seed`` makes them reproducible).

    Raises:
        ValueError: the wiring has no input dimension, or an argument is out
            of range (the message names it).

    Example:
        >>> from kerasncp_go.wirings import NCP
        >>> cell = LTCCell(NCP(12, 6, 1, 6, 4, 6, 6), in_features=32)
        >>> y, h = cell(paddle.zeros([4, 32]), paddle.zeros([4, cell.state_size]))
        >>> ys, h = cell.sequence(paddle.zeros([4, 10, 32]))  # one Go call per sequence
    """

    def __init__(self, wiring, in_features: Optional[int] = None, input_mapping: Optional[str] = "affine",
                 output_mapping: Optional[str] = "affine", ode_unfolds: int = 6, epsilon: float = 1e-8) -> None:
        super().__init__()
        # The NumPy cell builds the wiring and checks the options; its
        # masks are the wiring's, and its other arrays are replaced by the
        # parameters' values at each call.
        cell = _NumpyCell(wiring, in_features=in_features, input_mapping=input_mapping,
                          output_mapping=output_mapping, ode_unfolds=ode_unfolds, epsilon=epsilon)
        self._cell = cell
        self._wiring = cell.wiring
        self._input_mapping = input_mapping
        self._output_mapping = output_mapping
        self._ode_unfolds = ode_unfolds
        self._epsilon = epsilon
        self._init_ranges = {
            "gleak": (0.001, 1.0), "vleak": (-0.2, 0.2), "cm": (0.4, 0.6), "w": (0.001, 1.0), "sigma": (3, 8),
            "mu": (0.3, 0.8), "sensory_w": (0.001, 1.0), "sensory_sigma": (3, 8), "sensory_mu": (0.3, 0.8)}
        self._allocate_parameters()

    # -- sizes (the reference's properties) --------------------------------

    @property
    def state_size(self) -> int:
        """Number of neurons (units)."""
        return self._cell.state_size

    @property
    def sensory_size(self) -> int:
        """Number of input features."""
        n = self._cell.sensory_size
        assert n is not None  # the cell's wiring is built at construction
        return n

    @property
    def motor_size(self) -> int:
        """Number of outputs (motor neurons)."""
        return self._cell.motor_size

    @property
    def output_size(self) -> int:
        """Same as motor_size."""
        return self._cell.motor_size

    @property
    def synapse_count(self) -> int:
        """Synapses between neurons."""
        return self._cell.synapse_count

    @property
    def sensory_synapse_count(self) -> int:
        """Synapses from the input features (the reference counts the internal
        synapses here by mistake)."""
        return self._cell.sensory_synapse_count

    # -- parameters ----------------------------------------------------------

    def add_weight(self, name: str, init_value: paddle.Tensor) -> paddle.Tensor:
        """Registers a float32 parameter `name` holding init_value (the
        reference's helper)."""
        value = paddle.to_tensor(init_value, dtype="float32")
        param = self.create_parameter(value.shape, dtype="float32", attr=nn.initializer.Assign(value))
        self.add_parameter(name, param)
        return param

    def _get_init_value(self, shape, param_name: str) -> paddle.Tensor:
        lo, hi = self._init_ranges[param_name]
        if lo == hi:
            return paddle.ones(shape) * lo
        return paddle.rand(shape) * (hi - lo) + lo

    def _allocate_parameters(self) -> None:
        u, s, m = self.state_size, self.sensory_size, self.motor_size
        arrays = self._cell.params
        shapes = {"gleak": (u,), "vleak": (u,), "cm": (u,), "sigma": (u, u), "mu": (u, u), "w": (u, u),
                  "sensory_sigma": (s, u), "sensory_mu": (s, u), "sensory_w": (s, u)}
        self._params: Dict[str, paddle.Tensor] = {}
        for name in _NAMES:
            if name not in arrays:  # a mapping that has no such parameter
                continue
            if name in ("erev", "sensory_erev"):
                value = paddle.to_tensor(arrays[name])  # the wiring's polarities, as float32
            elif name in ("input_w", "output_w"):
                value = paddle.ones((s if name == "input_w" else m,))
            elif name in ("input_b", "output_b"):
                value = paddle.zeros((s if name == "input_b" else m,))
            else:
                value = self._get_init_value(shapes[name], name)
            self._params[name] = self.add_weight(name, value)
        self._names: Tuple[str, ...] = tuple(self._params)
        for name in _MASKS:
            self._params[name] = paddle.to_tensor(arrays[name])
        self._synced: Optional[List[np.ndarray]] = None

    def apply_weight_constraints(self) -> None:
        """Clamps w, sensory_w, cm and gleak at zero, in place (call it after
        each optimizer step, as with the reference)."""
        with paddle.no_grad():
            for name in _CONSTRAINED:
                p = self._params[name]
                p.set_value(paddle.clip(p.detach(), min=0.0))

    def _sync(self, params: Sequence[paddle.Tensor]) -> _NumpyCell:
        """The NumPy cell with the parameters' current values. Its arrays are
        replaced, never changed in place, so that a tape taken earlier keeps
        the values it was taken with; unchanged values keep the cell's
        prepared C ABI view."""
        arrays = [_host(p, f"parameter {n}") for n, p in zip(self._names, params)]
        last = self._synced
        if last is None or not all(np.array_equal(a, b) for a, b in zip(arrays, last)):
            values = dict(self._cell.params)
            values.update(zip(self._names, arrays))
            self._cell.params = values
            self._synced = arrays
        return self._cell

    # -- computation ---------------------------------------------------------

    def sequence(self, inputs: paddle.Tensor, states: Optional[paddle.Tensor] = None,
                 return_sequences: bool = True) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """Runs batch-major sequences in one Go call (one more for the
        gradients).

        Args:
            inputs: (batch, steps, sensory) float32.
            states: (batch, units) initial state, or None (zeros).
            return_sequences: outputs of every step (batch, steps, motor) or
                of the last (batch, motor).

        Returns:
            (outputs, final state (batch, units)).

        Raises:
            TypeError: inputs or states not float32 tensors.
            ValueError: wrong shapes (the message names the argument).
        """
        for name, t in (("inputs", inputs), ("states", states)):
            if t is not None and not isinstance(t, paddle.Tensor):
                raise TypeError(f"{name} must be a paddle.Tensor, got {type(t).__name__}")
        if inputs.ndim != 3 or inputs.shape[2] != self.sensory_size:
            raise ValueError(f"inputs must have shape (batch, steps, {self.sensory_size}), got {list(inputs.shape)}")
        b = inputs.shape[0]
        if states is not None and list(states.shape) != [b, self.state_size]:
            raise ValueError(f"states must have shape (batch={b}, units={self.state_size}), got {list(states.shape)}")
        params = [self._params[n] for n in self._names]
        tensors = [inputs] + ([] if states is None else [states]) + params
        if paddle.is_grad_enabled() and any(not t.stop_gradient for t in tensors):
            return _LTCSequence.apply(self, bool(return_sequences), inputs, states, *params)
        cell = self._sync(params)
        y, h = cell.forward_sequence(_host(inputs, "inputs"), None if states is None else _host(states, "states"),
                                     None, return_sequences=bool(return_sequences))
        return _tensor(y, inputs.place), _tensor(h, inputs.place)

    def forward(self, inputs: paddle.Tensor, states: Optional[paddle.Tensor] = None
                ) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """One step: inputs (batch, sensory), states (batch, units) or None
        (zeros).

        Returns:
            (outputs (batch, motor), new state (batch, units)).
        """
        if not isinstance(inputs, paddle.Tensor):
            raise TypeError(f"inputs must be a paddle.Tensor, got {type(inputs).__name__}")
        if inputs.ndim != 2:
            raise ValueError(f"inputs must have shape (batch, {self.sensory_size}), got {list(inputs.shape)}")
        return self.sequence(inputs.unsqueeze(1), states, return_sequences=False)

    def extra_repr(self) -> str:
        return (f"units={self.state_size}, sensory={self.sensory_size}, motor={self.motor_size}, "
                f"ode_unfolds={self._ode_unfolds}")
