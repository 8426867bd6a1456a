"""ncps's torch CfC: a CfC RNN over whole sequences, one Go call each way."""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from .. import _cfc
from .._cfc import CfCModel
from ._cfc_module import GoCfC
from ._function import as_elapsed, elapsed_tensor
from .cfc_cell import CfCCell
from .lstm import LSTMCell
from .wired_cfc_cell import WiredCfCCell

__all__ = ["CfC"]

State = Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]


def _is_units(units: Any) -> bool:
    return isinstance(units, (int, np.integer)) and not isinstance(units, (bool, np.bool_))


class CfC(GoCfC, nn.Module):
    """ncps's torch CfC: a closed-form continuous-time RNN over whole
    sequences, computed by the Go core in one call forward and one backward
    (mixed memory and the projection included).

    Args:
        input_size: input features.
        units: hidden units (int), or a wiring (wired CfC: a WiredCfCCell).
        proj_size: width of a linear projection (``fc``) of every output, or
            None.
        return_sequences: outputs of every step, or of the last.
        batch_first: inputs (B, L, C) if true, else (L, B, C).
        mixed_memory: an LSTM memory cell (``lstm``) runs before the CfC at
            each step; the state is then a pair (h, c).
        mode: "default", "pure" or "no_gate".
        activation: backbone activation ("lecun_tanh", "tanh", "relu",
            "gelu", "silu"); ignored with a wiring.
        backbone_units, backbone_layers, backbone_dropout: the backbone
            (defaults 128, 1, 0.0); must be None with a wiring.

    Submodules, parameters and state_dict keys are the reference's
    (``rnn_cell``, ``lstm``, ``fc``), drawn from torch's global generator
    in its order, so state_dicts load both ways and the same torch seed
    gives the same initial values.

    Parameters of float32 or float64 set the computation's dtype; inputs
    and states of another dtype (integers included, as ncps's concatenation
    promotes them, also with mixed memory, where ncps's LSTM refuses them)
    are converted to it (gradients come back in theirs). Tensors on another
    device than the CPU make a round trip through host memory.

    Raises:
        ValueError / TypeError: an argument out of range, naming it.

    Example:
        >>> rnn = CfC(20, 50)
        >>> y, hn = rnn(torch.randn(2, 3, 20))
    """

    #: The cell class of the unwired mode.
    _cell_class = CfCCell

    def __init__(self, input_size: int, units: Any, proj_size: Optional[int] = None, return_sequences: bool = True,
                 batch_first: bool = True, mixed_memory: bool = False, mode: str = "default",
                 activation: str = "lecun_tanh", backbone_units: Optional[int] = None,
                 backbone_layers: Optional[int] = None, backbone_dropout: Optional[float] = None) -> None:
        super().__init__()
        self.input_size = input_size
        self.wiring_or_units = units
        self.proj_size = proj_size
        self.batch_first = batch_first
        self.return_sequences = return_sequences
        self._setup_cell(input_size, units, mode, activation, backbone_units, backbone_layers, backbone_dropout)
        self.use_mixed = bool(mixed_memory)
        self._go_model()  # checks the remaining arguments before anything else is drawn
        if self.use_mixed:
            self.lstm = LSTMCell(input_size, self.state_size)
        self.fc = nn.Identity() if proj_size is None else nn.Linear(self.output_size, proj_size)
        self._settle()

    def _setup_cell(self, input_size, units, mode, activation, backbone_units, backbone_layers, backbone_dropout):
        if not _is_units(units):
            self.wired_mode = True
            _cfc.check_wired_backbone(backbone_units, backbone_layers, backbone_dropout)
            self.rnn_cell: nn.Module = WiredCfCCell(input_size, units, mode)
            self.wiring = self.rnn_cell.wiring
            self.state_size = self.rnn_cell.state_size
            self.output_size = self.rnn_cell.output_size
            self._config = dict(wiring=self.wiring, mode=mode)
        else:
            self.wired_mode = False
            self.wired_false = True  # the reference's attribute name in this mode
            bu = 128 if backbone_units is None else backbone_units
            bl = 1 if backbone_layers is None else backbone_layers
            bd = 0.0 if backbone_dropout is None else backbone_dropout
            self.rnn_cell = self._cell_class(input_size, units, mode, activation, bu, bl, bd)
            self.state_size = int(units)
            self.output_size = self.state_size
            self._config = dict(units=int(units), mode=mode, activation=activation, backbone_units=bu,
                                backbone_layers=bl, backbone_dropout=bd)
        self._dropout = self.rnn_cell._dropout

    def _make_model(self, dtype: np.dtype) -> CfCModel:
        return CfCModel(self.input_size, mixed_memory=self.use_mixed, proj_size=self.proj_size, dtype=dtype,
                        **self._config)

    def forward(self, input: torch.Tensor, hx: Any = None, timespans: Any = None) -> Tuple[torch.Tensor, State]:
        """Runs the RNN over whole sequences.

        Args:
            input: (B, L, C) if batch_first else (L, B, C); (L, C) unbatched.
            hx: initial state (B, H) ((H,) unbatched), or (h0, c0) with mixed
                memory; None: zeros.
            timespans: elapsed time of each step: a float, or a tensor (or
                array) of shape (B, L), (B, L, 1) (time-major: (L, B[, 1])),
                (L,) or (B,); finite and > 0. Any batch size works.

        Returns:
            (output, hx): outputs (B, L, out) (time-major: (L, B, out)) or of
            the last step (B, out), and the final state h or (h, c).

        Raises:
            ValueError / TypeError: a shape, device or dtype that does not
                fit, naming the argument.
        """
        if not isinstance(input, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
        x, unbatched = _cfc.batch_major(input, self.batch_first, None, self.input_size)
        if x.shape[2] != self.input_size:
            raise ValueError(f"input must have {self.input_size} features (last axis), got shape "
                             f"{tuple(input.shape)}")
        h0, c0 = _cfc.state_pair(hx, self.use_mixed, unbatched)
        look = self._look()
        params, dtype = self._read(look)
        ts = as_elapsed(timespans, "timespans", dtype, input.device)
        given = tuple(ts.shape) if isinstance(ts, torch.Tensor) else None
        ts = _cfc.batch_major_elapsed(ts, self.batch_first, unbatched)
        elapsed = elapsed_tensor(ts, x.shape[0], x.shape[1], "timespans", dtype, input.device, given)
        out = self._run(x, h0, c0, elapsed, self.return_sequences, look, params, dtype)
        y = _cfc.restore_layout(out[0], self.batch_first, unbatched, self.return_sequences)
        h = out[1]
        if self.use_mixed:
            c = out[2]
            return y, ((h[0], c[0]) if unbatched else (h, c))
        return y, (h[0] if unbatched else h)
