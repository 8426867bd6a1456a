"""keras-ncp 2.1.0's experimental torch CfC (and its LSTMCell)."""

from __future__ import annotations

from typing import Any, Optional

from ... import _cfc
from .. import cfc as _cfc_module
from ..lstm import LSTMCell
from .cfc_cell import CfCCell

__all__ = ["CfC", "LSTMCell"]


class CfC(_cfc_module.CfC):
    """keras-ncp 2.1.0's experimental torch CfC: ncps's CfC with the
    argument ``wiring_or_hidden_size`` and the attribute ``hidden_size``
    (for ``state_size``); a wiring raises NotImplementedError, as there."""

    _cell_class = CfCCell

    def __init__(self, input_size: int, wiring_or_hidden_size: Any, proj_size: Optional[int] = None,
                 return_sequences: bool = True, batch_first: bool = True, mixed_memory: bool = False,
                 mode: str = "default", activation: str = "lecun_tanh", backbone_units: Optional[int] = None,
                 backbone_layers: Optional[int] = None, backbone_dropout: Optional[float] = None) -> None:
        self.wiring_or_hidden_size = wiring_or_hidden_size
        super().__init__(input_size, wiring_or_hidden_size, proj_size, return_sequences, batch_first, mixed_memory,
                         mode, activation, backbone_units, backbone_layers, backbone_dropout)
        del self.wiring_or_units
        self.hidden_size = self.state_size

    def _setup_cell(self, input_size, units, mode, activation, backbone_units, backbone_layers, backbone_dropout):
        if not _cfc_module._is_units(units):
            _cfc.check_wired_backbone(backbone_units, backbone_layers, backbone_dropout)
            raise NotImplementedError("keras-ncp 2.1.0's torch CfC has no wired mode: use kerasncp_go.torch.CfC "
                                      "(ncps's API) for a wiring")
        super()._setup_cell(input_size, units, mode, activation, backbone_units, backbone_layers, backbone_dropout)
