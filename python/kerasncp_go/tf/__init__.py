"""TensorFlow / Keras binding: keras-ncp's LTCCell and ncps's LTC and CfC
layers with the Go kernels.

``LTCCell`` is a drop-in for ``kerasncp.tf.LTCCell`` (keras-ncp 2.1.0): use it
in ``keras.layers.RNN``. ``LTC`` has ``ncps.tf.LTC``'s arguments and runs a
whole sequence in one Go call forward and one backward.
``keras.layers.RNN(LTCCell(...))`` does too: importing this package wraps
tf-keras's ``RNN.call`` (Keras 3's ``RNN.inner_loop``) so that an RNN over
this cell (no mask, no constants, not unrolled under tf-keras) makes the
same single Go pass instead of one per step; ``KERASNCP_GO_RNN_HOOK=0`` in
the environment turns that off.
Gradients come from the Go backward kernel through ``tf.custom_gradient``, so
``model.fit`` works in graph mode (not under XLA: the layers set
``supports_jit = False``).

``CfC``, ``CfCCell`` and ``WiredCfCCell`` are ncps.tf's (the Keras variant of
the CfC), with its arguments and weights; under tf-keras they are tf-keras
layers (:mod:`kerasncp_go.tf.cfc`), under Keras 3 the classes of
:mod:`kerasncp_go.keras` (ncps.keras's, which is what ncps.tf became for
Keras 3). ``CfC`` runs a whole sequence in one Go call each way, like
``LTC``. keras-ncp 2.1.0's ``kerasncp.tf.experimental`` is
:mod:`kerasncp_go.tf.experimental`.

The Keras flavour is chosen at import, as TensorFlow chooses ``tf.keras``:
tf-keras when ``TF_USE_LEGACY_KERAS=1`` is set, else Keras 3 (TensorFlow
backend). ``kerasncp_go.tf.keras`` is the module in use.

Irregular sampling: the cell takes ``(inputs, elapsed_time)`` pairs as
keras-ncp's does; Keras 3's ``keras.layers.RNN`` cannot feed pairs of
sequences, so under Keras 3 use ``LTC`` with ``[inputs, elapsed_time]``.

A forward pass recorded by a gradient tape keeps its Go tape until the
backward pass (``live_tapes()`` counts them); unused ones are evicted from a
bounded store, and a backward pass whose tape is gone recomputes it.
When ``keras.layers.RNN`` steps the cell (masks, the hook off) it runs one extra
step outside its loop (for the output's shape and dtype) whose tape is
never used: one such tape per training step waits in the store until it is
evicted.

Saving: ``model.save("m.keras")`` and ``keras.models.load_model`` round-trip
(the layers are registered as ``kerasncp_go>LTCCell``, ``kerasncp_go>LTC``,
``kerasncp_go>MixedMemoryRNN``, ``kerasncp_go>CfC``, ... under tf-keras; under
Keras 3 the LTC family as ``kerasncp_go.tf>LTC`` and so on, since
:mod:`kerasncp_go.keras` has its own classes of those names, and the CfC
family is that package's). SavedModel export (``tf.saved_model.save``,
Keras 3 ``model.export``, tf-keras ``model.save(dir)``) traces the layers with
an equivalent pure-TensorFlow implementation, since a ``tf.numpy_function``
cannot be serialized; the exported model does not need this package.
A keras-ncp 2.1.0 model saved as HDF5 loads with the Go cell in place of the
reference's: ``load_model(path, custom_objects={"LTCCell": LTCCell})``.
"""

# First: _keras refuses a Keras backend other than TensorFlow before
# anything imports TensorFlow.
from ._keras import FLAVOUR, LEGACY, keras  # isort: skip
from . import _rnn_hook
from ._op import live_tapes
from .ltc import LTC
from .ltc_cell import LTCCell
from .mixed_memory import MixedMemoryRNN

if LEGACY:
    from .cfc import CfC
    from .cfc_cell import CfCCell, WiredCfCCell

_rnn_hook.install()

_KERAS3_NAMES = ("CfC", "CfCCell", "WiredCfCCell")


def __getattr__(name):
    # Keras 3: ncps.keras's CfC family (kerasncp_go.keras), imported on first
    # use only: its LTC classes are registered for saving under the same
    # names as this package's, and the last import wins.
    if name in _KERAS3_NAMES and not LEGACY:
        from .. import keras as _keras3

        return getattr(_keras3, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["LTCCell", "LTC", "CfCCell", "CfC", "WiredCfCCell", "MixedMemoryRNN", "keras", "FLAVOUR", "LEGACY",
           "live_tapes"]
