"""keras-ncp 2.1.0's ``kerasncp.tf.experimental``: CfCCell, CfC and
MixedMemoryRNN on the Go kernels, with that version's arguments (the
sequence layer's first argument is ``wiring_or_units`` and it has no wired
mode). The cells are :mod:`kerasncp_go.tf`'s: keras-ncp 2.1.0's CfCCell is
ncps.tf's under another name."""

from __future__ import annotations

from typing import Any

from ... import _cfc
from ... import wirings as _wirings
from ...keras._cfc_graph import lecun_tanh
from .. import CfC as _CfC
from .. import CfCCell, MixedMemoryRNN
from .._keras import LEGACY, register_serializable

__all__ = ["CfCCell", "CfC", "MixedMemoryRNN", "lecun_tanh"]


@register_serializable(package="kerasncp_go.experimental", name="CfC")
class CfC(_CfC):
    """keras-ncp 2.1.0's ``kerasncp.tf.experimental.CfC``: ncps.tf's CfC
    with the first argument named ``wiring_or_units``; a wiring raises
    NotImplementedError (after the backbone checks), as there. Unlike
    2.1.0, Keras layer arguments (``**kwargs``: name, dtype) are kept, not
    dropped.

    Raises:
        ValueError: a backbone argument with a wiring, a bad cell argument.
        NotImplementedError: a wiring.
    """

    def __init__(self, wiring_or_units: Any, mixed_memory: bool = False, mode: str = "default",
                 activation: Any = "lecun_tanh", backbone_units: Any = None, backbone_layers: Any = None,
                 backbone_dropout: Any = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False, time_major: bool = False,
                 **kwargs: Any) -> None:
        if isinstance(wiring_or_units, _wirings.Wiring) or hasattr(wiring_or_units, "adjacency_matrix"):
            _cfc.check_wired_backbone(backbone_units, backbone_layers, backbone_dropout)
            raise NotImplementedError("keras-ncp 2.1.0's tf CfC has no wired mode: use kerasncp_go.tf.CfC "
                                      "(ncps's API) for a wiring")
        if LEGACY:
            super().__init__(wiring_or_units, mixed_memory, mode, activation, backbone_units, backbone_layers,
                             backbone_dropout, return_sequences, return_state, go_backwards, stateful, unroll,
                             time_major, **kwargs)
        else:
            if time_major:
                raise ValueError("time_major=True is not supported by Keras 3's RNN layers")
            super().__init__(wiring_or_units, mixed_memory=mixed_memory, mode=mode, activation=activation,
                             backbone_units=backbone_units, backbone_layers=backbone_layers,
                             backbone_dropout=backbone_dropout, return_sequences=return_sequences,
                             return_state=return_state, go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                             **kwargs)
