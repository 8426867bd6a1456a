"""Which Keras this package builds on, chosen once at import.

As TensorFlow itself does for ``tf.keras``: when the environment variable
``TF_USE_LEGACY_KERAS`` is ``1``, ``true`` or ``True``, the layers are
tf-keras layers (``import tf_keras``, what ``tf.keras`` then is); otherwise
they are Keras 3 layers (``import keras``, with the TensorFlow backend). A
process uses one flavour: set the variable before importing this package.
"""

from __future__ import annotations

import json
import os
import sys

#: True when the layers are tf-keras (Keras 2) layers.
LEGACY = os.environ.get("TF_USE_LEGACY_KERAS", None) in ("true", "True", "1")


def configured_backend() -> str:
    """The backend Keras 3 uses or will use, found without importing a
    framework, by Keras's own rule: the imported Keras's, else
    KERAS_BACKEND, else the "backend" of keras.json in KERAS_HOME (or
    ~/.keras, or /tmp/.keras where the home folder is not writable), else
    "tensorflow"."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    if "KERAS_BACKEND" in os.environ:
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME")
    if home is None:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    try:
        with open(os.path.expanduser(os.path.join(home, "keras.json"))) as f:
            return str(json.load(f).get("backend", "tensorflow"))
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def _refuse(backend: str) -> None:
    raise ImportError(
        f"kerasncp_go.tf needs Keras 3 with the TensorFlow backend, but Keras's backend is {backend!r}; set "
        "KERAS_BACKEND=tensorflow or TF_USE_LEGACY_KERAS=1 (or use kerasncp_go.keras, which runs on every backend)")


# Before TensorFlow is imported: with Keras on the torch backend, importing
# both can abort the process (their LLVM copies clash).
if not LEGACY and (_backend := configured_backend()) != "tensorflow":
    _refuse(_backend)

import tensorflow as tf  # noqa: E402

if LEGACY:
    import tf_keras as keras

    FLAVOUR = "tf_keras"
    RNNCellBase = keras.layers.AbstractRNNCell
else:
    import keras

    if keras.backend.backend() != "tensorflow":
        _refuse(keras.backend.backend())
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
