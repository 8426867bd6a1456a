"""An LTC cell on NumPy arrays, computed by the Go core.

:class:`LTCCell` holds its parameters as NumPy arrays under the reference's
names and runs one step, or a whole sequence in one Go call, forward and
backward. The torch and Keras bindings are built on the same ops layer.
"""

from __future__ import annotations

import io
import os
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import numpy as np

from . import _ops, _rules
from ._sizes import WiringSizes
from .stepper import Stepper
from .wirings import Wiring, as_wiring

__all__ = ["LTCCell"]


class _Params(dict):
    """The parameter dict of an LTCCell: replacing an entry (not changing an
    array in place, which the cell sees anyway) invalidates the cell's cached
    C ABI view."""

    # A class default: unpickling fills the items before the instance's
    # attributes are restored.
    version = 0

    def _bump(self):
        self.version += 1

    def __setitem__(self, k, v):
        super().__setitem__(k, v)
        self._bump()

    def __delitem__(self, k):
        super().__delitem__(k)
        self._bump()

    def update(self, *args, **kwargs):
        super().update(*args, **kwargs)
        self._bump()

    def pop(self, *args):
        self._bump()
        return super().pop(*args)

    def clear(self):
        super().clear()
        self._bump()

    def setdefault(self, *args):
        self._bump()
        return super().setdefault(*args)


class LTCCell(WiringSizes):
    """A liquid time-constant cell over a wiring, with NumPy parameters.

    Args:
        wiring: the wiring; built here when `in_features` is given.
        in_features: number of input features (builds the wiring).
        input_mapping: "affine", "linear" or None.
        output_mapping: "affine", "linear" or None.
        ode_unfolds: semi-implicit Euler steps per time step.
        epsilon: added to the ODE denominator.
        implicit_param_constraints: make w, sensory_w, cm and gleak enter
            through softplus (torch's implicit mode) instead of as they are.
        dtype: float32 (as the reference) or float64.
        seed: seed of the initial parameters (numpy default_rng).
        initialization_ranges: overrides of the initial uniform ranges, e.g.
            {"w": (0.01, 1.0)}.

    Raises:
        ValueError: the wiring has no input dimension, or an argument is out of
            range (the message names it).

    Example:
        >>> from kerasncp_go.wirings import NCP
        >>> cell = LTCCell(NCP(12, 6, 1, 6, 4, 6, 6), in_features=32, seed=0)
        >>> y, h = cell.forward_sequence(np.zeros((4, 10, 32), np.float32))
        >>> y.shape, h.shape
        ((4, 10, 1), (4, 19))
    """

    def __init__(self, wiring: Wiring, in_features: Optional[int] = None, input_mapping: Optional[str] = "affine",
                 output_mapping: Optional[str] = "affine", ode_unfolds: int = 6, epsilon: float = 1e-8,
                 implicit_param_constraints: bool = False, dtype: Any = np.float32, seed: Optional[int] = None,
                 initialization_ranges: Optional[Mapping[str, Any]] = None) -> None:
        wiring = as_wiring(wiring, in_features)  # keras-ncp / ncps wirings too, as the torch cell
        _rules.build_wiring(wiring, in_features)
        self._wiring = wiring
        self._input_mapping, self._output_mapping, self._ode_unfolds, self._epsilon = _rules.check_options(
            input_mapping, output_mapping, ode_unfolds, epsilon)
        self._mapping_names = (input_mapping, output_mapping)
        self._implicit = _rules.check_bool(implicit_param_constraints, "implicit_param_constraints")
        self.dtype, _ = _rules.dtype_code(dtype)
        inits = _rules.initial_values(wiring.adjacency_matrix, wiring.sensory_adjacency_matrix, self.motor_size,
                                      self._input_mapping, self._output_mapping,
                                      _rules.init_ranges(initialization_ranges))
        rng = np.random.default_rng(seed)
        self._spec_cache: Optional[Tuple[tuple, _ops.CellSpec]] = None
        self.params = {n: (i.value if i.value is not None else rng.uniform(i.low, i.high, i.shape)).astype(self.dtype)
                       for n, i in inits.items()}

    @property
    def params(self) -> Dict[str, np.ndarray]:
        """The parameters by reference name. Arrays may be changed in place;
        assigning an entry or the whole dict works too."""
        return self._params

    @params.setter
    def params(self, value: Mapping[str, np.ndarray]) -> None:
        self._params = _Params(value)
        self._spec_cache = None

    # -- options: checked on assignment, so that a wrong value fails where it
    # is set instead of running with another meaning ------------------------

    @property
    def ode_unfolds(self) -> int:
        """Semi-implicit Euler steps per time step; an int >= 1 (assignable)."""
        return self._ode_unfolds

    @ode_unfolds.setter
    def ode_unfolds(self, value: int) -> None:
        self._ode_unfolds = _rules.check_ode_unfolds(value)

    @property
    def epsilon(self) -> float:
        """Added to the ODE denominator; a finite float >= 0 (assignable)."""
        return self._epsilon

    @epsilon.setter
    def epsilon(self, value: float) -> None:
        self._epsilon = _rules.check_epsilon(value)

    @property
    def implicit_param_constraints(self) -> bool:
        """Whether w, sensory_w, cm and gleak enter through softplus; True or
        False (assignable)."""
        return self._implicit

    @implicit_param_constraints.setter
    def implicit_param_constraints(self, value: bool) -> None:
        self._implicit = _rules.check_bool(value, "implicit_param_constraints")

    @property
    def input_mapping(self) -> Optional[str]:
        """"affine", "linear" or None; fixed at construction, since the
        parameters (input_w, input_b) depend on it."""
        return self._mapping_names[0]

    @input_mapping.setter
    def input_mapping(self, value: Any) -> None:
        raise AttributeError("input_mapping is fixed at construction (the parameters input_w and input_b depend "
                             "on it): build a new LTCCell with the mapping you want")

    @property
    def output_mapping(self) -> Optional[str]:
        """"affine", "linear" or None; fixed at construction, since the
        parameters (output_w, output_b) depend on it."""
        return self._mapping_names[1]

    @output_mapping.setter
    def output_mapping(self, value: Any) -> None:
        raise AttributeError("output_mapping is fixed at construction (the parameters output_w and output_b depend "
                             "on it): build a new LTCCell with the mapping you want")

    # -- sizes (the reference's properties) --------------------------------

    @property
    def wiring(self) -> Wiring:
        return self._wiring

    def __getstate__(self):
        # The cached C ABI view holds ctypes pointers, which do not pickle
        # (pickle, copy.deepcopy); it is rebuilt on use.
        state = self.__dict__.copy()
        state["_spec_cache"] = None
        return state

    # -- computation -------------------------------------------------------

    def spec(self) -> _ops.CellSpec:
        """The C ABI view of the current parameters (cached until an entry of
        params is replaced or an option changes)."""
        key = (self._params.version, self.ode_unfolds, self.epsilon, self.implicit_param_constraints)
        c = self._spec_cache
        if c is None or c[0] != key:
            spec = _ops.CellSpec(self._params, self.state_size, self._inputs, self.motor_size,
                                 self._input_mapping, self._output_mapping, self.ode_unfolds, self.epsilon,
                                 self.implicit_param_constraints, self.dtype)
            # Arrays the spec had to convert (dtype, layout) replace the
            # originals, so that later in-place changes reach the cell.
            for n, a in spec.arrays.items():
                if self._params.get(n) is not a:
                    dict.__setitem__(self._params, n, a)
            self._spec_cache = c = (key, spec)
        return c[1]

    def __call__(self, inputs, states=None, elapsed_time: Union[float, np.ndarray] = 1.0
                 ) -> Tuple[np.ndarray, np.ndarray]:
        """One step: inputs (batch, sensory), states (batch, units) or None
        (zeros), elapsed_time a float or per-sample (batch,) / (batch, 1),
        finite and > 0.

        Returns:
            (outputs (batch, motor), new state (batch, units)).
        """
        spec = self.spec()
        x = inputs
        if (type(elapsed_time) is float and elapsed_time == 1.0 and type(x) is np.ndarray and x.dtype == spec.dtype
                and x.ndim == 2 and x.shape[1] == spec.sensory and x.flags.c_contiguous and x.shape[0] > 0
                and (states is None or (type(states) is np.ndarray and states.dtype == spec.dtype
                                        and states.shape == (x.shape[0], spec.units) and states.flags.c_contiguous))):
            return _ops.step(spec, x, states)  # the common case, without the general checks
        if not (type(x) is np.ndarray and x.dtype == self.dtype):
            x = _ops.as_array(x, self.dtype, "inputs")
        if x.ndim != 2:
            raise ValueError(f"inputs must have shape (batch, {self.sensory_size}), got {x.shape}")
        y, h, _ = _ops.forward(spec, x.reshape(x.shape[0], 1, x.shape[1]), states, elapsed_time, all_steps=False,
                               elapsed_name="elapsed_time")
        return y, h

    forward = __call__

    def stepper(self, batch: int = 1) -> Stepper:
        """A :class:`kerasncp_go.stepper.Stepper` over a copy of the current
        parameters, for control loops: ``y = st.step(x, elapsed=1.0)`` keeps
        the state inside and is several times cheaper than ``cell(x, h)``.

        Raises:
            ValueError: batch < 1.
        """
        return Stepper.from_cell(self, batch)

    def forward_sequence(self, inputs, states=None, timespans=None, return_sequences: bool = True
                         ) -> Tuple[np.ndarray, np.ndarray]:
        """A whole sequence in one Go call.

        Args:
            inputs: (batch, steps, sensory).
            states: (batch, units) initial state or None (zeros).
            timespans: elapsed time per step, finite and > 0: None (1.0), a
                scalar, (batch, steps), (batch, steps, 1), (steps,) or
                (batch,) (see :func:`kerasncp_go._rules.elapsed_shape`).
            return_sequences: outputs of every step (batch, steps, motor) or of
                the last (batch, motor).

        Returns:
            (outputs, final state).
        """
        y, h, _ = _ops.forward(self.spec(), inputs, states, timespans, all_steps=return_sequences)
        return y, h

    def forward_with_tape(self, inputs, states=None, timespans=None, return_sequences: bool = True):
        """As :meth:`forward_sequence`, also returning the tape that
        :meth:`backward` needs: (outputs, final state, tape)."""
        return _ops.forward(self.spec(), inputs, states, timespans, all_steps=return_sequences, keep=True)

    def backward(self, tape: _ops.Tape, grad_outputs=None, grad_state=None) -> Dict[str, np.ndarray]:
        """Backpropagation through time over a taped forward pass.

        Args:
            tape: from :meth:`forward_with_tape`.
            grad_outputs: loss gradient of the outputs, shaped as they were.
            grad_state: loss gradient of the final state (batch, units).

        Returns:
            gradients by name: every trainable parameter, "x", "h0" and, when
            the pass had timespans, "elapsed".
        """
        return tape.backward(grad_outputs, grad_state)

    def apply_weight_constraints(self) -> None:
        """Clamps w, sensory_w, cm and gleak at zero, in place (a no-op in
        effect with implicit constraints, as in the reference). A read-only
        entry of params is replaced by a clamped copy."""
        if self.implicit_param_constraints:
            return
        for n in _rules.NON_NEGATIVE:
            if not self._params[n].flags.writeable:  # e.g. np.load(..., mmap_mode="r")
                self._params[n] = np.array(self._params[n])
        _ops.apply_constraints(self.spec())

    # -- persistence -------------------------------------------------------

    def state_dict(self) -> Dict[str, np.ndarray]:
        """The parameters by reference name (copies)."""
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replaces the parameters; every name must be present with the
        right shape (a torch state_dict or Keras weights by name work)."""
        shapes = _rules.param_shapes(self.state_size, self._inputs, self.motor_size,
                                   self._input_mapping, self._output_mapping)
        new = {}
        for name, shape in shapes.items():
            if name not in state:
                raise ValueError(f"load_state_dict: parameter {name} is missing")
            v = state[name]
            if hasattr(v, "detach"):  # a torch tensor, maybe requiring grad
                v = v.detach().cpu().numpy()
            a = np.array(v, dtype=self.dtype)
            if a.shape != shape:
                raise ValueError(f"load_state_dict: parameter {name} must have shape {shape}, got {a.shape}")
            new[name] = a
        extra = set(state) - set(shapes)
        if extra:
            raise ValueError(f"load_state_dict: unexpected parameters {sorted(extra)}")
        self.params = new

    def save_npz(self, file: Union[str, os.PathLike, io.IOBase]) -> None:
        """Saves the parameters as .npz under the reference's names."""
        np.savez(file, **self.params)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle

    def load_npz(self, file: Union[str, os.PathLike, io.IOBase]) -> None:
        """Loads parameters saved by :meth:`save_npz` (or np.savez of a torch
        state_dict)."""
        with np.load(file) as z:
            self.load_state_dict({k: z[k] for k in z.files})

    def __repr__(self) -> str:
        return (f"LTCCell(units={self.state_size}, sensory={self.sensory_size}, motor={self.motor_size}, "
                f"ode_unfolds={self.ode_unfolds}, dtype={self.dtype})")
