"""ncps's torch CfCCell, computed by the Go core."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from .. import _cfc, _rules
from .._cfc import CfCModel
from ..wirings import Wiring
from . import _modpath
from ._cfc_module import ACTIVATIONS, GoCfC
from ._function import as_elapsed, elapsed_tensor, host

__all__ = ["CfCCell", "LeCun"]

from ._cfc_module import LeCun


class CfCCell(GoCfC, nn.Module):
    """ncps's torch CfCCell (one step of a closed-form continuous-time
    cell), computed by the Go core.

    Args:
        input_size: input features.
        hidden_size: hidden units.
        mode: "default", "pure" or "no_gate".
        backbone_activation: "lecun_tanh", "tanh", "relu", "gelu" or "silu".
        backbone_units, backbone_layers, backbone_dropout: the backbone
            (backbone_units >= 1 when backbone_layers > 0).
        sparsity_mask: an (input_size + hidden_size, hidden_size) array; its
            absolute values, transposed, multiply the ff1 and ff2 weights (as
            the reference's wired cells use it); needs backbone_layers=0.

    Parameters and state_dict keys are the reference's (``backbone.0.weight``,
    ``ff1.weight``, ..., ``w_tau`` and ``A`` in pure mode, the mask as the
    untrained ``sparsity_mask``), drawn from torch's global generator in
    the reference's order, so the same torch seed gives the same values.

    Raises:
        ValueError / TypeError: an argument out of range, naming it.

    Example:
        >>> cell = CfCCell(3, 8)
        >>> h, _ = cell(torch.zeros(2, 3), torch.zeros(2, 8))
    """

    #: keras-ncp 2.1.0's cell builds the first backbone layer even when
    #: backbone_layers is 0 (its parameters then go unused).
    _always_backbone = False

    def __init__(self, input_size: int, hidden_size: int, mode: str = "default",
                 backbone_activation: str = "lecun_tanh", backbone_units: int = 128, backbone_layers: int = 1,
                 backbone_dropout: float = 0.0, sparsity_mask: Any = None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.mode = mode
        self.backbone_layers = backbone_layers
        self._config: Dict[str, Any] = dict(mode=mode, activation=backbone_activation, backbone_units=backbone_units,
                            backbone_layers=backbone_layers, backbone_dropout=backbone_dropout)
        mask = None
        if sparsity_mask is not None:
            mask = _cfc.sparsity_mask(sparsity_mask, input_size, hidden_size, backbone_layers)
            self._prefix = "rnn_cell.layer_0."
        else:
            self._prefix = "rnn_cell."
        self._masked = mask is not None
        self._dropout = backbone_layers > 1 and float(backbone_dropout) > 0.0
        self._go_model()  # checks the arguments before anything is built
        # The reference's structure, registered in its order so that
        # parameters(), state_dict() and the initial draws match it.
        self.sparsity_mask = None if mask is None else nn.Parameter(torch.from_numpy(mask.T.astype(np.float32)),
                                                                     requires_grad=False)
        _cfc._choice(backbone_activation, _cfc.ACTIVATIONS, "backbone_activation")  # masked cells' models skip it
        act = ACTIVATIONS[backbone_activation]
        self.backbone = None
        if backbone_layers > 0 or self._always_backbone:
            layers = [nn.Linear(input_size + hidden_size, backbone_units), act()]
            for _ in range(1, backbone_layers):
                layers += [nn.Linear(backbone_units, backbone_units), act()]
                if backbone_dropout > 0.0:
                    layers.append(nn.Dropout(backbone_dropout))
            self.backbone = nn.Sequential(*layers)
        self.tanh = nn.Tanh()
        self.sigmoid = nn.Sigmoid()
        width = input_size + hidden_size if backbone_layers == 0 else backbone_units
        self.ff1 = nn.Linear(width, hidden_size)
        if mode == "pure":
            self.w_tau = nn.Parameter(torch.zeros(1, hidden_size))
            self.A = nn.Parameter(torch.ones(1, hidden_size))
        else:
            self.ff2 = nn.Linear(width, hidden_size)
            self.time_a = nn.Linear(width, hidden_size)
            self.time_b = nn.Linear(width, hidden_size)
        self.init_weights()
        self._settle()

    def _make_model(self, dtype: np.dtype) -> CfCModel:
        if self._masked:
            # A one-layer wiring gives the model its mask entry; the mask
            # itself is this module's sparsity_mask, read at every call.
            w = Wiring(self.hidden_size)
            w.build(self.input_size)
            return CfCModel(self.input_size, wiring=w, mode=self.mode, dtype=dtype)
        return CfCModel(self.input_size, units=self.hidden_size, dtype=dtype, **self._config)

    def init_weights(self) -> None:
        """Xavier-uniform draws for every trained 2-D parameter (biases keep
        nn.Linear's draws), in parameters() order, as the reference."""
        for w in self.parameters():
            if w.dim() == 2 and w.requires_grad:
                nn.init.xavier_uniform_(w)

    @property
    def state_size(self) -> int:
        return int(self.hidden_size)

    def forward(self, input: torch.Tensor, hx: Optional[torch.Tensor] = None,
                ts: Union[float, torch.Tensor] = 1.0) -> Tuple[torch.Tensor, torch.Tensor]:
        """One step.

        Args:
            input: (batch, input_size).
            hx: (batch, hidden_size), or None (zeros).
            ts: elapsed time: a float, or a tensor of one value per sample
                ((batch,) or (batch, 1)); finite and > 0.

        Returns:
            (new state, new state), as the reference.
        """
        return _step(self, input, hx, ts, "ts")


_modpath.OWN_FORWARDS.add(CfCCell.forward)


def _step(cell: Any, input: Any, hx: Any, ts: Any, ts_name: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """One step of a single-step cell: (output, new state)."""
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    n_in = cell._go_model().input_size
    if input.dim() != 2 or input.shape[1] != n_in:
        raise ValueError(f"input must have shape (batch, {n_in}), got {tuple(input.shape)}")
    b = input.shape[0]
    look = cell._look()
    params, dtype = cell._read(look)
    e = as_elapsed(ts, ts_name, dtype, input.device)
    if isinstance(e, torch.Tensor) and e.dim() == 2 and e.shape[1] == cell.state_size > 1 and e.shape[0] in (1, b):
        # One time per unit (the reference broadcasts them against the
        # state): the modules' step in torch; the Go core times samples.
        _rules.check_elapsed_values(host(e, e.dtype), ts_name)
        look = _modpath.MODULES
        params = None
    else:
        e = elapsed_tensor(e, b, 1, ts_name, dtype, input.device)
    y, h = cell._run(input.unsqueeze(1), hx, None, e, False, look, params, dtype)
    return y, h
