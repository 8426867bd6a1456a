"""``LTC``: ncps.keras's LTC sequence layer, a ``keras.layers.RNN`` whose
loop is one Go pass over the whole sequence each way."""

from __future__ import annotations

from typing import Any, Dict

import keras

from .. import wirings as _wirings
from . import _common
from .ltc_cell import LTCCell
from .mm_rnn import MixedMemoryRNN


@keras.saving.register_keras_serializable(package="kerasncp_go", name="LTC")
class LTC(keras.layers.RNN):
    """An LTC over sequences with ncps.keras's arguments: `units` an int (a
    FullyConnected wiring) or a wiring; the cell arguments of
    :class:`LTCCell`; mixed_memory wraps the cell in
    :class:`MixedMemoryRNN`; the rest are keras.layers.RNN's.

    Without a mask and mixed memory the sequence runs in one Go call each
    way (forward and gradient); otherwise keras.layers.RNN steps the cell.
    """

    def __init__(self, units: Any, mixed_memory: bool = False, input_mapping: Any = "affine",
                 output_mapping: Any = "affine", ode_unfolds: int = 6, epsilon: float = 1e-8,
                 initialization_ranges: Any = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any) -> None:
        wiring = units if isinstance(units, _wirings.Wiring) else _wirings.FullyConnected(units)
        cell: Any = LTCCell(wiring=wiring, input_mapping=input_mapping, output_mapping=output_mapping,
                            ode_unfolds=ode_unfolds, epsilon=epsilon, initialization_ranges=initialization_ranges,
                            **kwargs)
        if mixed_memory:
            cell = MixedMemoryRNN(cell)
        super().__init__(cell, return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask,
                         **kwargs)

    def inner_loop(self, sequences: Any, initial_state: Any, mask: Any, training: Any = False) -> Any:
        if _common.is_fast(self, mask):
            return _common.sequence_loop(self, sequences, initial_state, training)
        return super().inner_loop(sequences, initial_state, mask, training)

    def get_config(self) -> Dict[str, Any]:
        mixed = isinstance(self.cell, MixedMemoryRNN)
        cell = self.cell.rnn_cell if mixed else self.cell
        config = super().get_config()
        config["units"] = cell.wiring
        config["mixed_memory"] = mixed
        return {**cell.get_config(), **config}

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Any = None) -> "LTC":
        config = dict(config)
        config.pop("cell", None)
        config.pop("wiring", None)
        units = _common.wiring_from(config.pop("units"), "units")
        return cls(units, **config)
