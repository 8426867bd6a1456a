"""Helpers shared by the cells and layers: wirings in configs, the cell's
per-step call and the layers' whole-sequence loop, and the hook that lets a
plain ``keras.layers.RNN`` run this package's cells over whole sequences."""

from __future__ import annotations

import functools
import os
from typing import Any, Dict, List, Tuple

import keras

from .. import wirings as _wirings
from . import _backend, _cbuild, _host


def wiring_config(wiring: Any) -> Dict[str, Any]:
    """A wiring as a config entry that :func:`wiring_from` rebuilds."""
    return {"class_name": type(wiring).__name__, "config": wiring.get_config()}


def wiring_from(value: Any, name: str = "wiring") -> Any:
    """A kerasncp_go wiring from a wiring, or from a config entry
    ({"class_name", "config"}, as Keras or :func:`wiring_config` write it)."""
    if isinstance(value, _wirings.Wiring):
        return value
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        cls = getattr(_wirings, str(value["class_name"]), None)
        if not (isinstance(cls, type) and issubclass(cls, _wirings.Wiring)):
            raise ValueError(f"{name}: unknown wiring class {value['class_name']!r}")
        return cls.from_config(dict(value["config"]))
    raise TypeError(f"{name} must be a kerasncp_go.wirings.Wiring (or its config), got {type(value).__name__}")


def split_step_inputs(inputs: Any, kwargs: Dict[str, Any]) -> Tuple[Any, Any]:
    """(x, elapsed time or None) from a cell's inputs: x, or (x, t); or
    the keyword `time`."""
    if isinstance(inputs, (tuple, list)):
        if len(inputs) != 2:
            raise ValueError(f"inputs must be x or a pair (x, elapsed_time), got {len(inputs)} tensors")
        return inputs[0], inputs[1]
    return inputs, kwargs.get("time")


def first_state(states: Any) -> Any:
    return states[0] if isinstance(states, (list, tuple)) else states


def cell_step(cell: Any, inputs: Any, states: Any, training: Any, kwargs: Dict[str, Any]) -> Tuple[Any, List[Any]]:
    """One step of one of this package's cells through its Go kernel."""
    x, t = split_step_inputs(inputs, kwargs)
    x = keras.ops.cast(x, "float32")
    if len(x.shape) != 2 or (x.shape[-1] is not None and x.shape[-1] != cell.kernel_input_size):
        raise ValueError(f"inputs must have shape (batch, {cell.kernel_input_size}), got {tuple(x.shape)}")
    state = first_state(states)
    h = keras.ops.cast(state, "float32")
    b = keras.ops.shape(x)[0]
    ts = _backend.step_elapsed(t, b)
    y, h1 = _backend.sequence(cell.kernel, cell.kernel_params(), keras.ops.expand_dims(x, 1), h, ts,
                              False, bool(training) and cell.uses_training)
    # Back in the state's dtype (float64, float16 under mixed precision):
    # Keras's step loop carries outputs and states in the dtype they came in.
    dt = keras.backend.standardize_dtype(state.dtype)
    if dt != "float32":
        y, h1 = keras.ops.cast(y, dt), keras.ops.cast(h1, dt)
    return y, [h1]


def sequence_loop(layer: Any, sequences: Any, initial_state: Any, training: Any) -> Tuple[Any, Any, List[Any]]:
    """keras.layers.RNN.inner_loop's results from one Go pass over the
    whole sequence (the layer's cell is one of this package's)."""
    cell = layer.cell
    x = keras.ops.cast(sequences, "float32")
    if layer.go_backwards:
        x = keras.ops.flip(x, axis=1)
    h0 = keras.ops.cast(first_state(initial_state), "float32")
    y, h = _backend.sequence(cell.kernel, cell.kernel_params(), x, h0, None, True,
                             bool(training) and cell.uses_training)
    return y[:, -1], y, [h]


#: Set (by tests) to make every RNN step its cell, as Keras does by itself.
FORCE_STEPS = False


def own_step(cell: Any) -> bool:
    """Whether cell steps as the class of this package it derives from
    (the one that sets runs_sequences) does: a subclass that overrides
    ``call`` is stepped by Keras, so that its own step is what runs."""
    if not getattr(cell, "runs_sequences", False):
        return False
    k: Any
    for k in type(cell).__mro__:
        if "runs_sequences" in k.__dict__:
            return bool(k.__dict__["runs_sequences"]) and type(cell).call is k.call
    return False  # pragma: no cover - runs_sequences came from an instance


def is_fast(layer: Any, mask: Any) -> bool:
    return not FORCE_STEPS and mask is None and own_step(layer.cell)


_keras_inner_loop = keras.layers.RNN.inner_loop


def _rnn_inner_loop(self: Any, sequences: Any, initial_state: Any, mask: Any, training: Any = False) -> Any:
    """keras.layers.RNN.inner_loop, but one Go pass over the whole sequence
    when the cell is one of this package's and there is no mask (the same
    results as stepping the cell, one host round trip instead of one per
    step)."""
    if is_fast(self, mask):
        return sequence_loop(self, sequences, initial_state, training)
    return _keras_inner_loop(self, sequences, initial_state, mask, training)


_keras_set_random_seed = keras.utils.set_random_seed


@functools.wraps(_keras_set_random_seed)
def _set_random_seed(seed: int) -> None:
    _keras_set_random_seed(seed)
    _host.reseed(seed)
    _cbuild.seed_libraries(seed)


def install_seed_hook() -> None:
    """Makes keras.utils.set_random_seed also start this package's dropout
    seeds (drawn by the host callbacks and by the native op libraries) at a
    stream derived from the seed, so that seeded training repeats, as with
    Keras's own dropout."""
    if keras.utils.set_random_seed is _keras_set_random_seed:
        keras.utils.set_random_seed = _set_random_seed


def install_rnn_hook() -> None:
    """Makes keras.layers.RNN (the class itself, not its subclasses that
    define their own loop, like LSTM) run this package's cells over whole
    sequences. KERASNCP_GO_RNN_HOOK=0 leaves Keras alone."""
    if os.environ.get("KERASNCP_GO_RNN_HOOK", "1") == "0":
        return
    if keras.layers.RNN.inner_loop is _keras_inner_loop:
        keras.layers.RNN.inner_loop = _rnn_inner_loop
