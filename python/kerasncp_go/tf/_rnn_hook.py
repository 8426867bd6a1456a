"""``keras.layers.RNN`` over this package's :class:`LTCCell` in one Go pass
each way, under tf-keras and under Keras 3.

tf-keras's ``RNN.call`` steps its cell in a ``tf.while_loop``: with the Go
cell that is one host call per step forward and one per step backward (plus
one step outside the loop for the output's shape). :func:`install` wraps
``RNN.call`` so that an RNN whose cell is an :class:`LTCCell` (its own
``call``, not a subclass's) runs the whole sequence through
:func:`kerasncp_go.tf._op.ltc_sequence` instead, the op behind
:class:`kerasncp_go.tf.LTC`: the same numbers, one call forward and one
backward. Everything else takes tf-keras's own path: other cells, masks,
``constants``, ``unroll=True``, ragged inputs, inputs that are not a tensor
or an ``(inputs, elapsed_time)`` pair of (batch, steps, ...) tensors.

Under a serializing trace (tf-keras SavedModel saving,
``tf.saved_model.save``) ``ltc_sequence`` traces TensorFlow ops, as for the
LTC layer. Under Keras 3 the same is done through ``RNN.inner_loop`` (see
:func:`_rnn_inner_loop`). ``KERASNCP_GO_RNN_HOOK=0`` in the environment
leaves Keras alone, as it does for :mod:`kerasncp_go.keras`.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Tuple

from . import _op
from ._inputs import elapsed_tensor
from ._keras import LEGACY, keras, tf
from .ltc_cell import LTCCell

__all__ = ["install", "FORCE_STEPS"]

#: Set (by tests and benchmarks) to make the RNN step the cell, as tf-keras
#: does by itself.
FORCE_STEPS = False

_stock_call = keras.layers.RNN.call


def _as_sequences(layer: Any, inputs: Any) -> Optional[Tuple[Any, Any]]:
    """(x, elapsed or None) when the RNN's inputs suit one Go pass: a 3-D
    tensor with the cell's feature count, or a tuple (x, elapsed) with
    elapsed (batch, steps) or (batch, steps, 1) (steps first when
    time-major); else None."""
    x, elapsed = inputs, None
    if isinstance(inputs, tuple):
        if len(inputs) != 2:
            return None
        x, elapsed = inputs
    if not tf.is_tensor(x) or isinstance(x, (tf.RaggedTensor, tf.SparseTensor)):
        return None
    if x.shape.rank != 3 or x.shape[-1] != layer.cell.meta.sensory:
        return None
    if elapsed is not None:
        if not tf.is_tensor(elapsed) or isinstance(elapsed, (tf.RaggedTensor, tf.SparseTensor)):
            return None
        rank = elapsed.shape.rank
        if rank not in (2, 3) or (rank == 3 and elapsed.shape[-1] != 1):
            return None
    return x, elapsed


def _own_cell(cell: Any) -> bool:
    """cell is this package's LTCCell with its own step, built, and nothing
    asks for stepping."""
    return not FORCE_STEPS and isinstance(cell, LTCCell) and type(cell).call is LTCCell.call and cell.built


def _one_state(cell: Any, initial_state: Any) -> Optional[Any]:
    """The initial state when it is one (batch, units) tensor, else None."""
    states = tf.nest.flatten(initial_state)
    if len(states) != 1 or not tf.is_tensor(states[0]):
        return None
    h0 = tf.convert_to_tensor(states[0])
    if h0.shape.rank != 2 or h0.shape[-1] != cell.meta.units:
        return None
    return h0


def _go_pass(cell: Any, x: Any, h0: Any, e: Any, go_backwards: bool, all_steps: bool) -> Tuple[Any, Any]:
    """(y, h) of one Go pass over batch-major x from h0 with elapsed times
    e (or None), in the state's dtype as the cell's step gives them."""
    meta = cell.meta
    dt = meta.tf_dtype
    x = tf.cast(x, dt)
    if go_backwards:
        x = tf.reverse(x, [1])
        e = None if e is None else tf.reverse(e, [1])
    y, h = _op.ltc_sequence(meta, x, tf.cast(h0, dt), e, cell._param_tensors(), all_steps=all_steps)
    if h0.dtype != dt:
        y, h = tf.cast(y, h0.dtype), tf.cast(h, h0.dtype)
    return y, h


@tf.autograph.experimental.do_not_convert
def _runs_sequences(layer: Any, inputs: Any, mask: Any, constants: Any) -> bool:
    if not _own_cell(layer.cell):
        return False
    if mask is not None or constants is not None or layer.unroll or getattr(layer, "_num_constants", 0):
        return False
    data = inputs
    if isinstance(inputs, list):  # [inputs, *initial_state], as tf-keras passes Keras tensors
        if not inputs:
            return False
        data = inputs[0]
    return _as_sequences(layer, data) is not None


@tf.autograph.experimental.do_not_convert
def _sequence_call(layer: Any, inputs: Any, initial_state: Any) -> Any:
    """RNN.call's results from one Go pass (the checks of
    :func:`_runs_sequences` passed), or None when the initial state is not
    one (batch, units) tensor (tf-keras's own path then says what is
    wrong)."""
    inputs, initial_state, _ = layer._process_inputs(inputs, initial_state, None)
    pair = _as_sequences(layer, inputs)
    cell = layer.cell
    h0 = _one_state(cell, initial_state)
    if pair is None or h0 is None:
        return None
    x, elapsed = pair
    if layer.time_major:
        x = tf.transpose(x, [1, 0, 2])
        if elapsed is not None:
            elapsed = tf.transpose(elapsed, [1, 0] + list(range(2, elapsed.shape.rank)))
    e = None if elapsed is None else elapsed_tensor(elapsed, x, cell.meta.tf_dtype, "elapsed_time")
    y, h = _go_pass(cell, x, h0, e, layer.go_backwards, layer.return_sequences)
    if layer.stateful:
        state = tf.nest.flatten(layer.states)[0]
        layer.add_update([tf.compat.v1.assign(state, tf.cast(h, state.dtype))])
    if layer.return_sequences and layer.time_major:
        y = tf.transpose(y, [1, 0, 2])
    if layer.return_state:
        return [y, h]
    return y


def _rnn_call(self, inputs, mask=None, training=None, initial_state=None, constants=None):
    """tf-keras's RNN.call (same arguments), or one Go pass over the whole
    sequence when the cell is an LTCCell and nothing asks for stepping."""
    if _runs_sequences(self, inputs, mask, constants):
        out = _sequence_call(self, inputs, initial_state)
        if out is not None:
            return out
    return _stock_call(self, inputs, mask=mask, training=training, initial_state=initial_state, constants=constants)


# Keras 3 (TensorFlow backend): keras.layers.RNN.call leaves the loop to
# inner_loop(sequences, initial_state, mask, training), batch-major, which
# returns (last output, outputs, states) with the outputs in the order the
# steps ran (reversed when go_backwards). Whatever inner_loop is installed
# when this module loads (Keras's own, or kerasncp_go.keras's hook for its
# cells) serves everything but this package's LTCCell.
_next_inner_loop: Any = None if LEGACY else keras.layers.RNN.inner_loop


@tf.autograph.experimental.do_not_convert
def _rnn_inner_loop(self, sequences, initial_state, mask, training=False):
    """Keras 3's RNN.inner_loop, or one Go pass over the whole sequence when
    the cell is an LTCCell (its own call), there is no mask, and the inputs
    and state are one (batch, steps, features) tensor and one (batch,
    units) tensor."""
    cell = self.cell
    if mask is None and _own_cell(cell) and tf.is_tensor(sequences) and sequences.shape.rank == 3 \
            and sequences.shape[-1] == cell.meta.sensory:
        h0 = _one_state(cell, initial_state)
        if h0 is not None:
            y, h = _go_pass(cell, sequences, h0, None, self.go_backwards, True)
            return y[:, -1], y, [h]
    return _next_inner_loop(self, sequences, initial_state, mask, training)


def install() -> None:
    """Makes ``keras.layers.RNN`` (tf-keras's ``call``, Keras 3's
    ``inner_loop``) run :class:`LTCCell` over whole sequences (see the
    module docstring). Does nothing with ``KERASNCP_GO_RNN_HOOK=0``."""
    if os.environ.get("KERASNCP_GO_RNN_HOOK", "1") == "0":
        return
    if LEGACY:
        if keras.layers.RNN.call is _stock_call:
            keras.layers.RNN.call = _rnn_call
    elif keras.layers.RNN.inner_loop is _next_inner_loop:
        keras.layers.RNN.inner_loop = _rnn_inner_loop
