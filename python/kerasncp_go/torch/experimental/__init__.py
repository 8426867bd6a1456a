"""keras-ncp 2.1.0's ``kerasncp.torch.experimental``: CfCCell and CfC on
the Go kernels, with that version's arguments and attributes (the cell
always builds its first backbone layer; the sequence layer has no wired
mode)."""

from __future__ import annotations

from .cfc import CfC
from .cfc_cell import CfCCell

__all__ = ["CfCCell", "CfC"]

for _cls in (CfCCell, CfC):
    _cls.__module__ = __name__
del _cls
