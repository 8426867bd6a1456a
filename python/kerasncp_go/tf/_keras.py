"""Which Keras this package builds on, chosen once at import.

As TensorFlow itself does for ``tf.keras``: when the environment variable
``TF_USE_LEGACY_KERAS`` is ``1``, ``true`` or ``True``, the layers are
tf-keras layers (``import tf_keras``, what ``tf.keras`` then is); otherwise
they are Keras 3 layers (``import keras``, with the TensorFlow backend). A
process uses one flavour: set the variable before importing this package.
"""

from __future__ import annotations

import os

import tensorflow as tf

#: True when the layers are tf-keras (Keras 2) layers.
LEGACY = os.environ.get("TF_USE_LEGACY_KERAS", None) in ("true", "True", "1")

if LEGACY:
    import tf_keras as keras

    FLAVOUR = "tf_keras"
    RNNCellBase = keras.layers.AbstractRNNCell
else:
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ImportError(
            f"kerasncp_go.tf needs Keras 3 with the TensorFlow backend, but KERAS_BACKEND is "
            f"{keras.backend.backend()!r}; set KERAS_BACKEND=tensorflow or TF_USE_LEGACY_KERAS=1")
    FLAVOUR = "keras"
    RNNCellBase = keras.layers.Layer


def register_serializable(package: str, name: str):
    """keras.saving.register_keras_serializable, under Keras 3 with the
    package "kerasncp_go.tf": kerasncp_go.keras registers its own LTC, LTC
    cell and mixed-memory RNN as "kerasncp_go>...", and a process may use
    both packages (kerasncp_go.tf's Keras 3 CfC is kerasncp_go.keras's).
    Files saved under the old shared names still load while only this
    package has registered them."""
    if LEGACY:
        return keras.saving.register_keras_serializable(package=package, name=name)
    register = keras.saving.register_keras_serializable(package=package + ".tf", name=name)

    def decorate(cls):
        cls = register(cls)
        keras.saving.get_custom_objects().setdefault(f"{package}>{name}", cls)
        return cls

    return decorate


__all__ = ["keras", "tf", "LEGACY", "FLAVOUR", "RNNCellBase", "register_serializable"]
