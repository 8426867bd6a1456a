"""PaddlePaddle binding: keras-ncp 2.1.0's ``kerasncp.paddle.LTCCell`` with
the Go kernels (``pip install kerasncp-go[paddle]``)."""

from .ltc_cell import LTCCell

__all__ = ["LTCCell"]
