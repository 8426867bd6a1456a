"""ncps's torch LTC: an LTC RNN over whole sequences, one Go call each way."""

from __future__ import annotations

from typing import Optional, cast

import numpy as np
import torch
from torch import nn

from .. import wirings as _wirings
from .._sizes import WiringSizes
from ._function import as_elapsed, elapsed_tensor
from .lstm import LSTMCell
from .ltc_cell import LTCCell

__all__ = ["LTC"]


class LTC(WiringSizes, nn.Module):
    """ncps's torch LTC: an LTC RNN over whole sequences, one Go call each way.

    Args:
        input_size: input features.
        units: a wiring, or an int for FullyConnected(units).
        return_sequences: outputs of every step, or of the last.
        batch_first: inputs (B, T, C) if true, else (T, B, C).
        mixed_memory: add ncps's LSTM memory cell (then steps run one Go
            call each).
        input_mapping, output_mapping, ode_unfolds, epsilon,
        implicit_param_constraints: as LTCCell (implicit by default, as ncps).

    Example:
        >>> rnn = LTC(20, 50)
        >>> y, hn = rnn(torch.randn(2, 3, 20))
    """

    def __init__(self, input_size: int, units, return_sequences: bool = True, batch_first: bool = True,
                 mixed_memory: bool = False, input_mapping="affine", output_mapping="affine", ode_unfolds: int = 6,
                 epsilon: float = 1e-8, implicit_param_constraints: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.wiring_or_units = units
        self.batch_first = batch_first
        self.return_sequences = return_sequences
        if isinstance(units, (int, np.integer)) and not isinstance(units, bool):
            wiring = _wirings.FullyConnected(int(units))
        else:
            wiring = _wirings.as_wiring(units, input_size)
        self.rnn_cell = LTCCell(wiring, in_features=input_size, input_mapping=input_mapping,
                                output_mapping=output_mapping, ode_unfolds=ode_unfolds, epsilon=epsilon,
                                implicit_param_constraints=implicit_param_constraints)
        self._wiring = wiring
        self.use_mixed = mixed_memory
        if self.use_mixed:
            self.lstm = LSTMCell(input_size, self.state_size)

    def forward(self, input: torch.Tensor, hx=None, timespans: Optional[torch.Tensor] = None):
        """Runs the RNN.

        Args:
            input: (B, L, C) if batch_first else (L, B, C); (L, C) unbatched.
            hx: initial state (B, H), or (h0, c0) with mixed memory; None:
                zeros.
            timespans: elapsed time per step: (B, L), (B, L, 1) (time-major:
                (L, B[, 1])) or a float; any batch size works.

        Returns:
            (output, hx): outputs (B, L, M) or (B, M), and the final state.
        """
        if not isinstance(input, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ValueError(f"input must be 2-D (unbatched) or 3-D, got {input.dim()}-D")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"input must have {self.input_size} features (last axis), got shape "
                             f"{tuple(input.shape)}")
        device = input.device
        dtype = self.rnn_cell.param_dtype
        timespans = as_elapsed(timespans, "timespans", dtype, device)
        given_shape = timespans.shape if isinstance(timespans, torch.Tensor) else None
        is_batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
            if isinstance(timespans, torch.Tensor) and timespans.dim() >= 1:
                timespans = timespans.unsqueeze(batch_dim)
        x = input if self.batch_first else input.transpose(0, 1)
        if isinstance(timespans, torch.Tensor) and not self.batch_first and timespans.dim() >= 2:
            timespans = timespans.transpose(0, 1)
        b, steps = x.shape[0], x.shape[1]
        if hx is None:
            # Without memory cells the zero initial state is Go's default.
            h = torch.zeros((b, self.state_size), dtype=dtype, device=device) if self.use_mixed else None
            c = torch.zeros((b, self.state_size), dtype=dtype, device=device) if self.use_mixed else None
        else:
            if self.use_mixed and isinstance(hx, torch.Tensor):
                raise RuntimeError("Running an LTC with mixed_memory=True requires a tuple (h0, c0) as state "
                                   "(got a torch.Tensor instead)")
            h, c = hx if self.use_mixed else (hx, None)
            for name, t in (("hx", h), ("the memory state c0", c)):
                if t is not None and not isinstance(t, torch.Tensor):
                    raise TypeError(f"states ({name}) must be a torch.Tensor, got {type(t).__name__}")
            want_dim = 2 if is_batched else 1
            if h.dim() != want_dim:
                raise RuntimeError(f"For {'batched 3-D' if is_batched else 'unbatched 2-D'} input, hx should be "
                                   f"{want_dim}-D but got a {h.dim()}-D tensor")
            if not is_batched:
                h = h.unsqueeze(0)
                c = c.unsqueeze(0) if c is not None else None
            elif h.shape[0] == 1 and b > 1:
                # One initial state for every sequence (a learned one, say),
                # as ncps's broadcasting allows.
                h = h.expand(b, -1)
                c = c.expand(b, -1) if c is not None else None
        elapsed = elapsed_tensor(timespans, b, steps, "timespans", dtype, device, given_shape)
        own = type(self.rnn_cell).forward is LTCCell.forward  # else a subclass's step, called per step
        if not self.use_mixed and own:
            y, h = self.rnn_cell.sequence(x, h, elapsed, all_steps=self.return_sequences)
        else:
            if not own and h is None:
                h = torch.zeros((b, self.state_size), dtype=dtype, device=device)
            outs = []
            for t in range(steps):
                if self.use_mixed:
                    h, c = self.lstm(x[:, t], (h, c))
                e = None if elapsed is None else elapsed[:, t:t + 1]
                if own:
                    y_t, h = self.rnn_cell.sequence(x[:, t:t + 1], h, e, all_steps=False)
                else:
                    y_t, h = self.rnn_cell.forward(x[:, t], h, 1.0 if e is None else e)
                outs.append(y_t)
            y = torch.stack(outs, dim=1) if self.return_sequences else outs[-1]
        if self.return_sequences and not self.batch_first:
            y = y.transpose(0, 1).contiguous()  # as the reference's stacked steps
        assert h is not None  # the cell always returns the final state
        hx = (h, c) if self.use_mixed else h
        if not is_batched:
            # As ncps: squeeze the batch dimension's position, which for a
            # time-major last-step output leaves (1, M) when M > 1.
            y = y.squeeze(batch_dim)
            hx = (h[0], cast(torch.Tensor, c)[0]) if self.use_mixed else h[0]
        return y, hx


