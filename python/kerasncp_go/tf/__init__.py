"""TensorFlow / Keras binding: keras-ncp's LTCCell and ncps's LTC layer with
the Go kernels.

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
``kerasncp_go>MixedMemoryRNN``). SavedModel export (``tf.saved_model.save``,
Keras 3 ``model.export``, tf-keras ``model.save(dir)``) traces the layers with
an equivalent pure-TensorFlow implementation, since a ``tf.numpy_function``
cannot be serialized; the exported model does not need this package.
A keras-ncp 2.1.0 model saved as HDF5 loads with the Go cell in place of the
reference's: ``load_model(path, custom_objects={"LTCCell": LTCCell})``.
"""

from .. import _rules
from . import _rnn_hook
from ._keras import FLAVOUR, LEGACY, keras
from ._op import live_tapes
from .ltc import LTC
from .ltc_cell import LTCCell
from .mixed_memory import MixedMemoryRNN

_rnn_hook.install()

__all__ = ["LTCCell", "LTC", "MixedMemoryRNN", "keras", "FLAVOUR", "LEGACY", "live_tapes"]


def __getattr__(name):
    if name in ("CfC", "CfCCell", "WiredCfCCell"):
        return _rules.missing_cell(__name__, name, f"kerasncp_go.tf has no {name}: kerasncp-go implements the "
                                   "LTC cells for TensorFlow, not CfC (yet; kerasncp_go.torch has CfC)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
