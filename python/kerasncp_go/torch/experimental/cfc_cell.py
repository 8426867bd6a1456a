"""keras-ncp 2.1.0's experimental torch CfCCell."""

from __future__ import annotations

from .. import cfc_cell as _cfc_cell
from .._cfc_module import LeCun

__all__ = ["CfCCell", "LeCun"]


class CfCCell(_cfc_cell.CfCCell):
    """keras-ncp 2.1.0's experimental torch CfCCell: ncps's, except that
    the first backbone layer (``backbone.0``) is built, and drawn, even
    with backbone_layers=0, where it goes unused."""

    _always_backbone = True
