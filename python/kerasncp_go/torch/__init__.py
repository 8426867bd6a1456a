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

import torch as _torch

from .. import _openmp
from .cfc import CfC
from .cfc_cell import CfCCell
from .lstm import LSTMCell
from .ltc import LTC
from .ltc_cell import LTCCell
from .wired_cfc_cell import WiredCfCCell

__all__ = ["LTCCell", "LTC", "LSTMCell", "CfC", "CfCCell", "WiredCfCCell", "share_threads"]


def share_threads(enabled: bool = True) -> bool:
    """Whether the Go kernels run their parallel work on torch's own
    OpenMP threads (the default since import, unless the environment
    variable KERASNCP_GO_TORCH_THREADS is 0) or on the Go runtime's.

    torch's idle OpenMP threads spin for milliseconds after each of its
    parallel operations; on the Go runtime's threads a pass that follows one
    shares its cores with them and runs up to twice as slowly. On torch's
    threads, a pass splits its batch over torch.set_num_threads() threads
    (at most kerasncp_go.get_num_threads()); with 1 it uses the Go
    runtime's threads, as there is then no team to spin. Outputs and
    gradients are the same either way.

    Returns whether the kernels now run on torch's threads: False when
    enabled is False, or when torch has no OpenMP team to share (another
    parallel backend, or a runtime that cannot be found).
    """
    return _openmp.share_torch_threads(_torch, enabled)


_openmp.on_torch_import(_torch)

# The classes live in modules by topic but answer to the public path, which
# is also the one that pickles (torch.save of a whole module) record: files
# written before and after the split load alike.
for _cls in (LTCCell, LTC, LSTMCell, CfC, CfCCell, WiredCfCCell):
    _cls.__module__ = __name__
del _cls
