"""PaddlePaddle binding: keras-ncp 2.1.0's ``kerasncp.paddle.LTCCell`` with
the Go kernels (``pip install kerasncp-go[paddle]``)."""

import sys as _sys

if "tensorflow" in _sys.modules and "paddle" not in _sys.modules:
    # Seen with paddlepaddle 3.0 to 3.3.1 and tensorflow 2.21: loading paddle's
    # native library after tensorflow's ends the process with a segmentation
    # fault. The other order works.
    raise ImportError("kerasncp_go.paddle: paddle crashes the process (segmentation fault) when it is imported after "
                      "tensorflow; import paddle before tensorflow, or use them in separate processes")

from .ltc_cell import LTCCell

__all__ = ["LTCCell"]
