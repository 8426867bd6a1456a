"""``LTCCell``: ncps.keras's liquid time-constant cell on the Go kernel."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import keras
import numpy as np

from .. import _rules
from . import _common, _host


@keras.saving.register_keras_serializable(package="kerasncp_go", name="LTCCell")
class LTCCell(keras.layers.Layer):
    """A liquid time-constant cell (one step per call) with ncps.keras's
    arguments, weights (names, shapes, order, initialisers, NonNeg
    constraints) and config; the step runs in Go with Go gradients.

    Args:
        wiring: a :mod:`kerasncp_go.wirings` wiring (built at build time).
        input_mapping, output_mapping: "affine", "linear" or None.
        ode_unfolds: ODE solver steps per cell step.
        epsilon: added to the solver's denominator.
        initialization_ranges: {name: (low, high)} overriding the defaults.

    Call: ``cell(x, states)`` or ``cell((x, elapsed), states)`` with x
    (batch, inputs), returns ``(y, [h])``.

    Raises:
        ValueError: an unknown mapping or parameter name, a bad range, or
            inputs of the wrong width.
    """

    runs_sequences = True
    uses_training = False

    def __init__(self, wiring: Any, input_mapping: Optional[str] = "affine", output_mapping: Optional[str] = "affine",
                 ode_unfolds: int = 6, epsilon: float = 1e-8,
                 initialization_ranges: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wiring = _common.wiring_from(wiring)
        _rules.check_options(input_mapping, output_mapping, ode_unfolds, epsilon)
        self._init_ranges = _rules.init_ranges(initialization_ranges)
        self._initialization_ranges = initialization_ranges
        self._input_mapping, self._output_mapping = input_mapping, output_mapping
        self._ode_unfolds, self._epsilon = ode_unfolds, epsilon
        self.kernel: Optional[_host.LTCKernel] = None
        self._params: Dict[str, Any] = {}

    @property
    def state_size(self) -> int:
        return self.wiring.units

    @property
    def sensory_size(self) -> Optional[int]:
        return self.wiring.input_dim

    @property
    def motor_size(self) -> int:
        return self.wiring.output_dim

    @property
    def output_size(self) -> int:
        return self.motor_size

    @property
    def kernel_input_size(self) -> int:
        return self.wiring.input_dim

    def _initializer(self, name: str) -> Any:
        lo, hi = self._init_ranges[name]
        return keras.initializers.Constant(lo) if lo == hi else keras.initializers.RandomUniform(lo, hi)

    def build(self, input_shape: Any) -> None:
        if isinstance(input_shape[0], (tuple, list)) or isinstance(input_shape[0], keras.KerasTensor):
            input_dim = input_shape[0][-1]
        else:
            input_dim = input_shape[-1]
        _rules.build_wiring(self.wiring, input_dim)
        u, s, m = self.state_size, self.sensory_size, self.motor_size
        nonneg = keras.constraints.NonNeg()
        wiring = self.wiring

        def add(name: str, shape: Any, init: Any, constraint: Any = None) -> None:
            self._params[name] = self.add_weight(name=name, shape=shape, dtype="float32", initializer=init,
                                                 constraint=constraint)

        add("gleak", (u,), self._initializer("gleak"), nonneg)
        add("vleak", (u,), self._initializer("vleak"))
        add("cm", (u,), self._initializer("cm"), nonneg)
        add("sigma", (u, u), self._initializer("sigma"))
        add("mu", (u, u), self._initializer("mu"))
        add("w", (u, u), self._initializer("w"), nonneg)
        add("erev", (u, u), lambda shape, dtype=None: np.asarray(wiring.erev_initializer(), np.float32))
        add("sensory_sigma", (s, u), self._initializer("sensory_sigma"))
        add("sensory_mu", (s, u), self._initializer("sensory_mu"))
        add("sensory_w", (s, u), self._initializer("sensory_w"), nonneg)
        add("sensory_erev", (s, u), lambda shape, dtype=None: np.asarray(wiring.sensory_erev_initializer(), np.float32))
        if self._input_mapping in ("affine", "linear"):
            add("input_w", (s,), keras.initializers.Constant(1))
        if self._input_mapping == "affine":
            add("input_b", (s,), keras.initializers.Constant(0))
        if self._output_mapping in ("affine", "linear"):
            add("output_w", (m,), keras.initializers.Constant(1))
        if self._output_mapping == "affine":
            add("output_b", (m,), keras.initializers.Constant(0))
        self.kernel = _host.LTCKernel(u, s, m, self._input_mapping, self._output_mapping, self._ode_unfolds,
                                      self._epsilon, wiring.adjacency_matrix, wiring.sensory_adjacency_matrix)
        self.built = True

    def kernel_params(self) -> List[Any]:
        assert self.kernel is not None
        return [keras.ops.convert_to_tensor(self._params[n]) for n in self.kernel.names]

    def call(self, inputs: Any, states: Any, training: Any = False, **kwargs: Any) -> Any:
        return _common.cell_step(self, inputs, states, training, kwargs)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update({
            "wiring": _common.wiring_config(self.wiring),
            "input_mapping": self._input_mapping,
            "output_mapping": self._output_mapping,
            "ode_unfolds": self._ode_unfolds,
            "epsilon": self._epsilon,
            "initialization_ranges": self._initialization_ranges,
        })
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "LTCCell":
        return cls(**config)
