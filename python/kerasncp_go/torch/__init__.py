"""PyTorch binding: keras-ncp's and ncps's LTC modules with Go kernels.

``LTCCell`` has keras-ncp 2.1.0's constructor, parameter names, shapes and
state_dict keys (masks included), and ncps's ``forward(inputs, states,
elapsed_time=1.0)``. ``LTC`` has ncps 1.0.1's API and runs a whole sequence in
one Go call forward and one backward. Gradients come from the Go backward
kernel through a ``torch.autograd.Function``.

Tensors on another device than the CPU make a round trip through host
memory: inputs and parameters are copied to the CPU for the Go call and the
results copied back to the input's device.
"""

from __future__ import annotations

from .. import _rules
from .lstm import LSTMCell
from .ltc import LTC
from .ltc_cell import LTCCell

__all__ = ["LTCCell", "LTC", "LSTMCell"]

# The classes live in modules by topic but answer to the public path, which
# is also the one that pickles (torch.save of a whole module) record: files
# written before and after the split load alike.
for _cls in (LTCCell, LTC, LSTMCell):
    _cls.__module__ = __name__
del _cls


def __getattr__(name):
    if name in ("CfC", "CfCCell", "WiredCfCCell"):
        raise _rules.MissingCell(f"kerasncp_go.torch has no {name}: kerasncp-go implements the LTC cells, "
                                 "not CfC (yet)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
