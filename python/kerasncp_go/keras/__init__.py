"""Keras 3 layers on the Go kernels, on the TensorFlow, JAX and torch
backends: ncps 1.0.1's ``ncps.keras`` classes (``LTCCell``, ``LTC``,
``CfCCell``, ``CfC``, ``WiredCfCCell``, ``MixedMemoryRNN``) with its
arguments, weights and configs. ``LTC`` and ``CfC`` are
``keras.layers.RNN`` subclasses that run a whole sequence in one Go call
each way, and so does ``keras.layers.RNN`` itself around one of these cells
(this package hooks its loop for them; ``KERASNCP_GO_RNN_HOOK=0`` before the
import leaves Keras alone and the cells then run step by step, one Go call
per step).

On the TensorFlow backend the CfC layers run as native TensorFlow ops, on
JAX's CPU backend every layer runs through XLA FFI handlers, both built
with the C compiler on first use and cached (see
:func:`native_ops_status`); without a compiler they run through
``tf.numpy_function`` or ``jax.pure_callback`` instead, with the same
numbers.

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

from ._common import install_rnn_hook as _install_rnn_hook  # noqa: E402
from ._common import install_seed_hook as _install_seed_hook  # noqa: E402
from .cfc import CfC  # noqa: E402
from .cfc_cell import CfCCell  # noqa: E402
from .ltc import LTC  # noqa: E402
from .ltc_cell import LTCCell  # noqa: E402
from .mm_rnn import MixedMemoryRNN  # noqa: E402
from .wired_cfc_cell import WiredCfCCell  # noqa: E402

_install_rnn_hook()
_install_seed_hook()


def native_ops_status() -> str:
    """"loaded" when the layers call the Go core natively from the
    framework's compiled graph (the CfC as native TensorFlow ops; the CfC
    and the LTC as XLA FFI handlers on JAX's CPU backend; built if this is
    the first use on this machine),
    else why they do not: the torch backend (which calls the Go core
    directly anyway), ``KERASNCP_GO_TF_OP=0`` / ``KERASNCP_GO_JAX_FFI=0``,
    or the build's error. Without them the layers run through
    ``tf.numpy_function`` or ``jax.pure_callback``: same numbers, slower."""
    name = _check()
    if name == "tensorflow":
        from . import _tfop

        _tfop.ops()
        return _tfop.status()
    if name == "jax":
        from . import _xlaffi

        _xlaffi.available()
        return _xlaffi.status()
    return f"not used on the {name} backend"


def register_reference_names() -> None:
    """Registers these classes under the names ncps 1.0.1's ncps.keras
    saves its layers with ("ncps>LTC", "ncps>CfC", ...), where nothing else
    holds them, so that its ``.keras`` files load with these classes. The
    compat runner (``python -m kerasncp_go.compat --ncps``) calls it when a
    script imports ncps.keras (ncps itself is then never imported; in a
    process that imports it, its own registrations stand)."""
    import keras

    objects = keras.saving.get_custom_objects()
    for cls in (CfC, CfCCell, LTC, LTCCell, MixedMemoryRNN, WiredCfCCell):
        objects.setdefault(f"ncps>{cls.__name__}", cls)


__all__ = ["CfC", "CfCCell", "LTC", "LTCCell", "MixedMemoryRNN", "WiredCfCCell", "native_ops_status",
           "register_reference_names"]
