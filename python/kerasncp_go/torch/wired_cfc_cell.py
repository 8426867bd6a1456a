"""ncps's torch WiredCfCCell, computed by the Go core."""

from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from .. import _cfc
from .._cfc import CfCModel
from . import _modpath
from ._cfc_module import GoCfC
from .cfc_cell import CfCCell, _step

__all__ = ["WiredCfCCell"]


class WiredCfCCell(GoCfC, nn.Module):
    """ncps's torch WiredCfCCell: one CfC layer per wiring layer (an NCP:
    inter, command, motor), each masked by the wiring's synapses, without
    backbone; the state is the layers' states in layer order.

    Args:
        input_size: input features (builds the wiring), or None for a wiring
            already built.
        wiring: a kerasncp_go wiring (or a keras-ncp / ncps one).
        mode: "default", "pure" or "no_gate".

    Submodules ``layer_0``, ``layer_1``, ... are :class:`CfCCell` s with
    sparsity masks, so parameters and state_dict keys are the reference's.

    Raises:
        ValueError: the wiring has no input size, or a bad argument.

    Example:
        >>> from kerasncp_go.wirings import AutoNCP
        >>> cell = WiredCfCCell(4, AutoNCP(16, 2))
        >>> y, h = cell(torch.zeros(1, 4), torch.zeros(1, 16))
    """

    _prefix = "rnn_cell."

    def __init__(self, input_size: Optional[int], wiring: Any, mode: str = "default") -> None:
        super().__init__()
        wiring = _cfc.cfc_wiring(wiring, input_size)
        self._wiring = wiring
        self.mode = mode
        model = self._go_model()
        # The masks come from the Go model (its initial parameters hold them):
        # the wiring-to-mask rule lives in Go only.
        masks = model.views(model.init_params(0), "rnn_cell.")
        self._layers: List[CfCCell] = []
        n_in = int(wiring.input_dim)
        for layer, n in enumerate(model.layer_sizes):
            cell = CfCCell(n_in, n, mode, backbone_activation="lecun_tanh", backbone_units=0, backbone_layers=0,
                           backbone_dropout=0.0, sparsity_mask=masks[f"layer_{layer}.sparsity_mask"].T)
            self.register_module(f"layer_{layer}", cell)
            self._layers.append(cell)
            n_in = n
        self._settle()

    def _make_model(self, dtype: np.dtype) -> CfCModel:
        return CfCModel(int(self._wiring.input_dim), wiring=self._wiring, mode=self.mode, dtype=dtype)

    @property
    def wiring(self):
        return self._wiring

    @property
    def state_size(self) -> int:
        return int(self._wiring.units)

    @property
    def layer_sizes(self) -> List[int]:
        return list(self._go_model().layer_sizes)

    @property
    def num_layers(self) -> int:
        return len(self._go_model().layer_sizes)

    @property
    def sensory_size(self) -> int:
        return int(self._wiring.input_dim)

    @property
    def motor_size(self) -> int:
        return int(self._wiring.output_dim)

    @property
    def output_size(self) -> int:
        return self.motor_size

    @property
    def synapse_count(self) -> int:
        return int(np.sum(np.abs(self._wiring.adjacency_matrix)))

    @property
    def sensory_synapse_count(self) -> int:
        """Sensory synapses (the reference's counts the internal ones)."""
        return int(np.sum(np.abs(self._wiring.sensory_adjacency_matrix)))

    def forward(self, input: torch.Tensor, hx: Optional[torch.Tensor] = None,
                timespans: Union[float, torch.Tensor] = 1.0) -> Tuple[torch.Tensor, torch.Tensor]:
        """One step.

        Args:
            input: (batch, input features).
            hx: (batch, state_size) in layer order, or None (zeros).
            timespans: elapsed time: a float, or one value per sample
                ((batch,) or (batch, 1)); finite and > 0.

        Returns:
            (output: the last layer's new state, new state).
        """
        return _step(self, input, hx, timespans, "timespans")


_modpath.OWN_FORWARDS.add(WiredCfCCell.forward)
