"""The Go pass on the backend Keras runs on: ``sequence`` dispatches to
``_tf``, ``_jax`` or ``_torch``, imported on first use so that only the
chosen backend's framework is ever imported."""

from __future__ import annotations

import importlib
from typing import Any, Optional, Sequence, Tuple

import keras

#: Keras backends these layers run on, and their modules.
SUPPORTED = {"tensorflow": "_tf", "jax": "_jax", "torch": "_torch"}

_module: Any = None


def check() -> str:
    """The Keras backend's name.

    Raises:
        ImportError: Keras older than 3, or a backend the layers do not run on.
    """
    version = getattr(keras, "__version__", "0")
    if int(version.split(".")[0]) < 3:
        raise ImportError(f"kerasncp_go.keras needs Keras 3 (found {version}); for tf-keras use kerasncp_go.tf")
    name = keras.backend.backend()
    if name not in SUPPORTED:
        raise ImportError(f"kerasncp_go.keras runs on the Keras backends {', '.join(SUPPORTED)}; "
                          f"KERAS_BACKEND is {name!r}")
    return name


def sequence(kernel: Any, params: Sequence[Any], x: Any, h0: Any, ts: Optional[Any], all_steps: bool,
             training: bool) -> Tuple[Any, Any]:
    """The kernel's Go pass over x (batch, steps, in) from h0, with elapsed
    times ts ((batch, steps) or None), differentiable on the backend:
    (y (batch, steps, out) or (batch, out), final state (batch, state))."""
    global _module
    if _module is None:
        _module = importlib.import_module(f"{__package__}.{SUPPORTED[check()]}")
    return _module.sequence(kernel, params, x, h0, ts, all_steps, training)


def step_elapsed(t: Any, batch: Any) -> Any:
    """A per-step elapsed time as (batch, 1), or None for the regular 1.0."""
    if t is None or (isinstance(t, (int, float)) and float(t) == 1.0):
        return None
    t = keras.ops.cast(keras.ops.convert_to_tensor(t), "float32")
    return keras.ops.broadcast_to(keras.ops.reshape(t, (-1, 1)), (batch, 1))
