"""Keras 3 layers on the Go kernels, on the TensorFlow, JAX and torch
backends: ncps 1.0.1's ``ncps.keras`` classes (``LTCCell``, ``LTC``,
``CfCCell``, ``CfC``, ``WiredCfCCell``, ``MixedMemoryRNN``) with its
arguments, weights and configs. ``LTC`` and ``CfC`` are
``keras.layers.RNN`` subclasses that run a whole sequence in one Go call
each way; the cells also run step by step inside ``keras.layers.RNN``.

Keras picks its backend when it is first imported (``KERAS_BACKEND``);
this package then imports that backend's framework only. Another backend,
or Keras 2, is an ImportError.

Example::

    import keras
    from kerasncp_go import wirings
    from kerasncp_go.keras import LTC

    model = keras.Sequential([keras.Input((None, 2)), LTC(wirings.FullyConnected(8, 1), return_sequences=True)])
"""

from ._backend import check as _check

_check()

from .cfc import CfC  # noqa: E402
from .cfc_cell import CfCCell  # noqa: E402
from .ltc import LTC  # noqa: E402
from .ltc_cell import LTCCell  # noqa: E402
from .mm_rnn import MixedMemoryRNN  # noqa: E402
from .wired_cfc_cell import WiredCfCCell  # noqa: E402

__all__ = ["CfC", "CfCCell", "LTC", "LTCCell", "MixedMemoryRNN", "WiredCfCCell"]
