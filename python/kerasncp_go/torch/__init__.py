"""PyTorch binding: keras-ncp's and ncps's LTC and CfC modules with Go
kernels.

``LTCCell`` has keras-ncp 2.1.0's constructor, parameter names, shapes and
state_dict keys (masks included), and ncps's ``forward(inputs, states,
elapsed_time=1.0)``. ``LTC``, ``CfC``, ``CfCCell``, ``WiredCfCCell`` and
``LSTMCell`` have ncps 1.0.1's APIs. Sequence modules run a whole sequence
in one Go call forward and one backward. Gradients come from the Go
backward kernels through ``torch.autograd.Function`` s.

Tensors on another device than the CPU make a round trip through host
memory: inputs and parameters are copied to the CPU for the Go call and the
results copied back to the input's device.
"""

from __future__ import annotations

from .cfc import CfC
from .cfc_cell import CfCCell
from .lstm import LSTMCell
from .ltc import LTC
from .ltc_cell import LTCCell
from .wired_cfc_cell import WiredCfCCell

__all__ = ["LTCCell", "LTC", "LSTMCell", "CfC", "CfCCell", "WiredCfCCell"]

# The classes live in modules by topic but answer to the public path, which
# is also the one that pickles (torch.save of a whole module) record: files
# written before and after the split load alike.
for _cls in (LTCCell, LTC, LSTMCell, CfC, CfCCell, WiredCfCCell):
    _cls.__module__ = __name__
del _cls
