"""The size properties every LTC cell and layer of the reference has, read
from the wiring held in ``self._wiring``."""

from __future__ import annotations

from typing import Any, Optional


def motor_size_of(wiring) -> int:
    """The number of outputs: the wiring's output_dim, all units when unset."""
    return wiring.output_dim if wiring.output_dim is not None else wiring.units


class WiringSizes:
    """Mixin: state_size, sensory_size, motor_size, output_size,
    synapse_count and sensory_synapse_count from ``self._wiring``."""

    _wiring: Any

    @property
    def _inputs(self) -> int:
        """sensory_size of a built cell (whose wiring knows its inputs)."""
        n = self._wiring.input_dim
        if n is None:
            raise ValueError("the wiring is not built yet: its number of input features is unknown")
        return int(n)

    @property
    def state_size(self) -> int:
        """Number of neurons (units)."""
        return self._wiring.units

    @property
    def sensory_size(self) -> Optional[int]:
        """Number of input features (None before the wiring is built)."""
        return self._wiring.input_dim

    @property
    def motor_size(self) -> int:
        """Number of output (motor) neurons."""
        return motor_size_of(self._wiring)

    @property
    def output_size(self) -> int:
        """Same as motor_size."""
        return self.motor_size

    @property
    def synapse_count(self) -> int:
        """Synapses between neurons."""
        return self._wiring.synapse_count

    @property
    def sensory_synapse_count(self) -> int:
        """Synapses from the input features (the reference's torch cells
        count the internal synapses here by mistake)."""
        return self._wiring.sensory_synapse_count
