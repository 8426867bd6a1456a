"""``CfC``: ncps.keras's CfC sequence layer, a ``keras.layers.RNN`` whose
loop is one Go pass over the whole sequence each way."""

from __future__ import annotations

from typing import Any, Dict

import keras

from .. import _cfc
from .. import wirings as _wirings
from . import _common
from .cfc_cell import CfCCell
from .mm_rnn import MixedMemoryRNN
from .wired_cfc_cell import WiredCfCCell


@keras.saving.register_keras_serializable(package="kerasncp_go", name="CfC")
class CfC(keras.layers.RNN):
    """A CfC over sequences with ncps.keras's arguments: `units` an int (a
    :class:`CfCCell`, backbone 128 x 1, no dropout unless given) or a wiring
    (a :class:`WiredCfCCell`; the backbone arguments are then errors);
    mixed_memory wraps the cell in :class:`MixedMemoryRNN`; the rest are
    keras.layers.RNN's.

    Raises:
        ValueError: a backbone argument with a wiring, or a bad cell argument.
    """

    def __init__(self, units: Any, mixed_memory: bool = False, mode: str = "default", activation: Any = "lecun_tanh",
                 backbone_units: Any = None, backbone_layers: Any = None, backbone_dropout: Any = None,
                 sparsity_mask: Any = None, fully_recurrent: bool = True, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any) -> None:
        cell: Any
        if isinstance(units, _wirings.Wiring):
            _cfc.check_wired_backbone(backbone_units, backbone_layers, backbone_dropout)
            cell = WiredCfCCell(units, mode=mode, activation=activation, fully_recurrent=fully_recurrent)
        else:
            cell = CfCCell(units, mode=mode, activation=activation,
                           backbone_units=128 if backbone_units is None else backbone_units,
                           backbone_layers=1 if backbone_layers is None else backbone_layers,
                           backbone_dropout=0.0 if backbone_dropout is None else backbone_dropout,
                           sparsity_mask=sparsity_mask)
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
        wired = isinstance(cell, WiredCfCCell)
        config["units"] = cell.wiring if wired else cell.units
        config["mixed_memory"] = mixed
        config["fully_recurrent"] = cell.fully_recurrent if wired else True
        return {**cell.get_config(), **config}

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Any = None) -> "CfC":
        config = dict(config)
        config.pop("cell", None)
        if "wiring" in config:
            config.pop("wiring")
            units = _common.wiring_from(config.pop("units"), "units")
        else:
            units = config.pop("units")
        return cls(units, **config)
