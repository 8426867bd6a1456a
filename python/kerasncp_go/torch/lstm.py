"""The LSTM memory cell of ncps's mixed-memory mode, in torch."""

from __future__ import annotations

from torch import nn

__all__ = ["LSTMCell"]


class LSTMCell(nn.Module):
    """The LSTM cell of ncps's mixed-memory mode (same parameters and
    initialization)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.input_map = nn.Linear(input_size, 4 * hidden_size, bias=True)
        self.recurrent_map = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        self.tanh = nn.Tanh()  # submodules as the reference's (hooks on them run)
        self.sigmoid = nn.Sigmoid()
        self.init_weights()

    def init_weights(self) -> None:
        for w in self.input_map.parameters():
            if w.dim() == 1:
                nn.init.uniform_(w, -0.1, 0.1)
            else:
                nn.init.xavier_uniform_(w)
        for w in self.recurrent_map.parameters():
            if w.dim() == 1:
                nn.init.uniform_(w, -0.1, 0.1)
            else:
                nn.init.orthogonal_(w)

    def forward(self, inputs, states):
        h, c = states
        z = self.input_map(inputs) + self.recurrent_map(h)
        i, ig, fg, og = z.chunk(4, 1)
        c = c * self.sigmoid(fg + 1.0) + self.tanh(i) * self.sigmoid(ig)
        return self.tanh(c) * self.sigmoid(og), c


