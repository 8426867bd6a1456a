"""kerasncp-go: Neural Circuit Policies with the LTC and CfC cells computed in Go.

A drop-in for keras-ncp (``import kerasncp``): ``kerasncp_go.wirings`` has the
same wiring classes with bit-identical matrices, ``kerasncp_go.torch`` and
``kerasncp_go.tf`` the same LTC cells, and :class:`LTCCell` runs the cell on
NumPy arrays, as :class:`CfC`, :class:`CfCCell` and :class:`WiredCfCCell` run
ncps's closed-form continuous-time models. ``kerasncp_go.keras`` has ncps.keras's Keras 3 layers on
every Keras backend. ``kerasncp_go.torch``, ``kerasncp_go.tf`` and ``kerasncp_go.keras`` are imported on
first use (``kerasncp_go.torch.LTC`` works after ``import kerasncp_go``), so
that importing the package needs neither framework. To run an unmodified
keras-ncp script on the Go kernels::

    python -m kerasncp_go.compat script.py
"""

import importlib
from typing import Any, List

from . import wirings
from ._lib import NCPError, get_num_threads, set_num_threads
from ._lib import version as library_version
from .cfc import CfC, CfCCell, WiredCfCCell
from .ltc import LTCCell
from .stepper import Stepper

__version__ = "0.1.0"

__all__ = ["wirings", "LTCCell", "Stepper", "CfC", "CfCCell", "WiredCfCCell", "NCPError", "library_version",
           "set_num_threads", "get_num_threads", "__version__"]

#: Subpackages that import a framework: loaded when first looked up.
_LAZY = ("torch", "tf", "keras")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")  # also binds it on this module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))
