"""kerasncp-go: Neural Circuit Policies with the LTC cell computed in Go.

A drop-in for keras-ncp (``import kerasncp``): ``kerasncp_go.wirings`` has the
same wiring classes with bit-identical matrices, ``kerasncp_go.torch`` and
``kerasncp_go.tf`` the same LTC cells, and :class:`LTCCell` runs the cell on
NumPy arrays. To run an unmodified keras-ncp script on the Go kernels::

    python -m kerasncp_go.compat script.py
"""

from . import wirings
from ._lib import NCPError, version as library_version
from .ltc import LTCCell

__version__ = "0.1.0"

__all__ = ["wirings", "LTCCell", "NCPError", "library_version", "__version__"]
