"""ncps's TensorFlow LTC layer, on the Go core."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np

from .. import wirings as _wirings
from ..wirings import as_wiring
from . import _op
from ._config import wiring_from_config, wiring_to_config
from ._inputs import elapsed_tensor, feature_dim, split_irregular
from ._keras import keras, register_serializable, tf
from .ltc_cell import LTCCell
from .mixed_memory import MixedMemoryRNN

__all__ = ["LTC", "MixedMemoryRNN"]


@register_serializable(package="kerasncp_go", name="LTC")
class LTC(keras.layers.Layer):
    """An LTC RNN over whole sequences (ncps 1.0.1's ``ncps.tf.LTC``), one
    Go call forward and one backward per batch of sequences.

    The layer owns an :class:`LTCCell` (``layer.cell``) that holds the
    weights, with the cell's names and shapes; the whole (batch, steps,
    features) sequence goes to the Go core at once, and the gradient comes
    from the Go backward-through-time kernel. With ``mixed_memory=True`` it
    runs ``keras.layers.RNN(MixedMemoryRNN(cell))`` instead (one Go call per
    step, since the LSTM memory feeds every step's input).

    Args:
        units: a wiring, or an int for ``FullyConnected(units)`` (ncps's
            ``units``; ``units_or_wiring=`` is accepted as a keyword too).
        mixed_memory: add ncps's LSTM memory cell.
        input_mapping, output_mapping, ode_unfolds, epsilon,
            initialization_ranges: as :class:`LTCCell`.
        return_sequences: outputs of every step (batch, steps, motor) or of
            the last (batch, motor).
        return_state: also return the final state(s): ``[outputs, state]``.
        go_backwards: process the sequence from the end (outputs come in
            processing order, as keras.layers.RNN's).
        stateful: keep the final state of each batch as the next batch's
            initial state (needs a fixed batch size; ``reset_states()``).
        unroll: accepted for compatibility; the Go kernel has no unrolled
            form, so it changes nothing.
        time_major: inputs (steps, batch, features) and sequence outputs
            (steps, batch, motor).
        **kwargs: Keras layer arguments (name, dtype, trainable).

    Call arguments:
        inputs: (batch, steps, features), or a pair [inputs, elapsed_time]
            with elapsed_time (batch, steps) or (batch, steps, 1)
            (time-major: steps first) for irregular sampling.
        initial_state: a (batch, units) tensor or a list of them.
        mask: not supported (NotImplementedError); use
            ``keras.layers.RNN(LTCCell(...))`` for masked sequences.

    Raises:
        ValueError: bad arguments (see LTCCell), a wiring built for another
            number of features, malformed inputs, or stateful without a
            known batch size.
        NotImplementedError: a mask with the fast path.

    Example:
        >>> from kerasncp_go.tf import LTC, keras
        >>> from kerasncp_go.wirings import AutoNCP
        >>> model = keras.Sequential([keras.Input((32, 8)), LTC(AutoNCP(16, 2), return_sequences=True)])
        >>> model.compile("adam", "mse")
    """

    def __init__(self, units=None, mixed_memory: bool = False, input_mapping: Optional[str] = "affine",
                 output_mapping: Optional[str] = "affine", ode_unfolds: int = 6, epsilon: float = 1e-8,
                 initialization_ranges: Optional[Mapping[str, Any]] = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, time_major: bool = False, **kwargs) -> None:
        if "units_or_wiring" in kwargs:
            if units is not None:
                raise TypeError("LTC: pass either units or units_or_wiring, not both")
            units = kwargs.pop("units_or_wiring")
        if units is None:
            raise TypeError("LTC: missing the units argument (an int or a wiring)")
        if isinstance(units, (int, np.integer)) and not isinstance(units, bool):
            if units < 1:
                raise ValueError(f"LTC: units must be >= 1, got {units}")
            wiring = _wirings.FullyConnected(int(units))
        else:
            wiring = as_wiring(units)
        super().__init__(**kwargs)
        cell = LTCCell(wiring, input_mapping=input_mapping, output_mapping=output_mapping,
                       ode_unfolds=ode_unfolds, epsilon=epsilon, initialization_ranges=initialization_ranges,
                       dtype=kwargs.get("dtype"))
        self.mixed_memory = bool(mixed_memory)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.time_major = bool(time_major)
        self.supports_jit = False
        self.supports_masking = self.mixed_memory
        self._state_vars: Any = None
        self._rnn: Any = None
        if self.mixed_memory:
            # Tracked before the cell, so that the weights come in ncps's
            # order (the memory cell's first) and set_weights takes ncps's.
            self._rnn = keras.layers.RNN(MixedMemoryRNN(cell), return_sequences=self.return_sequences,
                                         return_state=self.return_state, go_backwards=self.go_backwards,
                                         stateful=self.stateful)
        self.cell = cell

    # -- sizes (ncps's properties) ------------------------------------------

    @property
    def wiring(self) -> _wirings.Wiring:
        """The cell's wiring."""
        return self.cell.wiring

    @property
    def state_size(self):
        """units, or [units, units] with mixed memory."""
        return [self.cell.state_size, self.cell.state_size] if self.mixed_memory else self.cell.state_size

    @property
    def output_size(self) -> int:
        return self.cell.output_size

    @property
    def synapse_count(self) -> int:
        return self.cell.synapse_count

    @property
    def sensory_synapse_count(self) -> int:
        return self.cell.sensory_synapse_count

    # -- build -------------------------------------------------------------

    def build(self, input_shape) -> None:
        """Builds the cell (and the state variables of a stateful layer).

        Raises:
            ValueError: the wiring was built for another number of features,
                or the layer is stateful and the batch size is unknown.
        """
        features, irregular = feature_dim(input_shape)
        shape = input_shape[0] if irregular else input_shape
        dims = tf.TensorShape(shape).as_list()
        if len(dims) != 3:
            raise ValueError(f"LTC: inputs must be 3-D (batch, steps, features), got shape {tuple(dims)}")
        batch = dims[1] if self.time_major else dims[0]
        if self.mixed_memory:
            # Elapsed times always travel as a last input feature (ones for
            # regular calls), so that one layer takes both kinds of call.
            self._rnn.cell._packed_elapsed = True
            self._rnn.build((batch, None, features + 1))
            self.built = True
            return
        self.cell.build((batch, features))
        if self.stateful:
            if batch is None:
                raise ValueError("LTC: a stateful layer needs to know its batch size: give the input a fixed batch "
                                 "size (keras.Input(batch_size=...) or batch_input_shape)")
            self._state_vars = self.add_weight(name="state", shape=(batch, self.cell.state_size),
                                               initializer="zeros", trainable=False,
                                               dtype=self.cell.meta.tf_dtype)
        self.built = True

    def reset_states(self, states=None) -> None:
        """Resets the state of a stateful layer to zeros (or to `states`)."""
        if self.mixed_memory:
            self._rnn.reset_states(states) if states is not None else self._rnn.reset_states()
            return
        if not self.stateful or self._state_vars is None:
            return
        value = np.zeros(self._state_vars.shape, self._state_vars.dtype.name if hasattr(
            self._state_vars.dtype, "name") else self._state_vars.dtype) if states is None else states
        if isinstance(value, (list, tuple)):
            value = value[0]
        self._state_vars.assign(tf.cast(value, self.cell.meta.tf_dtype))

    reset_state = reset_states

    @property
    def states(self):
        """The state variables of a stateful layer (else None, as
        keras.layers.RNN)."""
        if self.mixed_memory:
            return self._rnn.states
        return [self._state_vars] if self._state_vars is not None else None

    # -- computation -------------------------------------------------------

    def _elapsed(self, elapsed, x, dtype) -> tf.Tensor:
        """(batch, steps) elapsed times for batch-major x; time-major
        elapsed times are transposed first (steps first, as the inputs)."""
        given = tf.convert_to_tensor(elapsed)
        e = given
        if self.time_major and e.shape.rank is not None and e.shape.rank >= 2:
            e = tf.transpose(e, [1, 0] + list(range(2, e.shape.rank)))
        return elapsed_tensor(e, x, dtype, "elapsed_time", given.shape.as_list() if given.shape.rank else None)

    def call(self, inputs, initial_state=None, mask=None, training=None):
        """Runs the sequences.

        Returns:
            outputs, or [outputs, final state] with return_state.

        Raises:
            ValueError: malformed inputs or initial_state.
            NotImplementedError: a mask (fast path).
        """
        if mask is not None and all(m is None for m in tf.nest.flatten(mask)):
            mask = None  # Keras passes [None, None] for [inputs, elapsed_time]
        if self.mixed_memory:
            return self._call_mixed(inputs, initial_state, mask, training)
        if mask is not None:
            raise NotImplementedError("LTC: masks are not supported by the Go sequence kernel; use "
                                      "keras.layers.RNN(kerasncp_go.tf.LTCCell(wiring)) for masked sequences")
        x, elapsed = split_irregular(inputs, "LTC")
        meta = self.cell.meta
        dt = meta.tf_dtype
        x = tf.cast(x, dt)
        if x.shape.rank != 3:
            raise ValueError(f"LTC: inputs must be 3-D (batch, steps, features), got shape {x.shape}")
        if x.shape[-1] is not None and x.shape[-1] != meta.sensory:
            raise ValueError(f"LTC: inputs have {x.shape[-1]} features but the wiring has input_dim={meta.sensory}")
        if self.time_major:
            x = tf.transpose(x, [1, 0, 2])
        e = None if elapsed is None else self._elapsed(elapsed, x, dt)
        if self.go_backwards:
            x = tf.reverse(x, [1])
            e = None if e is None else tf.reverse(e, [1])
        batch = tf.shape(x)[0]
        if initial_state is not None:
            if isinstance(initial_state, (list, tuple)):
                if len(initial_state) != 1:
                    raise ValueError(f"LTC: initial_state must be one tensor (batch, {meta.units}) without mixed "
                                     f"memory, got {len(initial_state)}")
                initial_state = initial_state[0]
            h0 = tf.cast(initial_state, dt)
            if h0.shape.rank != 2 or (h0.shape[-1] is not None and h0.shape[-1] != meta.units):
                raise ValueError(f"LTC: initial_state must have shape (batch, {meta.units}), got {h0.shape}")
            if h0.shape[0] is not None and x.shape[0] is not None and h0.shape[0] != x.shape[0]:
                raise ValueError(f"LTC: initial_state has batch size {h0.shape[0]} but the inputs {x.shape[0]}")
        elif self.stateful:
            h0 = tf.convert_to_tensor(self._state_vars)
        else:
            h0 = tf.zeros(tf.stack([batch, meta.units]), dt)
        y, h = _op.ltc_sequence(meta, x, h0, e, self.cell._param_tensors(), all_steps=self.return_sequences)
        if self.stateful:
            self._state_vars.assign(h)
        if self.return_sequences and self.time_major:
            y = tf.transpose(y, [1, 0, 2])
        if self.return_state:
            return [y, h]
        return y

    def _call_mixed(self, inputs, initial_state, mask, training):
        x, elapsed = split_irregular(inputs, "LTC")
        x = tf.convert_to_tensor(x)
        if self.time_major:
            x = tf.transpose(x, [1, 0, 2])
        if elapsed is not None:
            elapsed = tf.expand_dims(self._elapsed(elapsed, x, x.dtype), -1)
        else:
            elapsed = tf.ones(tf.concat([tf.shape(x)[:2], [1]], 0), x.dtype)
        x = tf.concat([x, elapsed], axis=-1)
        kwargs = {}
        if initial_state is not None:
            kwargs["initial_state"] = initial_state
        if mask is not None:
            kwargs["mask"] = mask
        out = self._rnn(x, **kwargs)
        if self.return_sequences and self.time_major:
            if self.return_state:
                out = [tf.transpose(out[0], [1, 0, 2])] + list(out[1:])
            else:
                out = tf.transpose(out, [1, 0, 2])
        return out

    def compute_output_shape(self, input_shape):
        features, irregular = feature_dim(input_shape)
        shape = tf.TensorShape(input_shape[0] if irregular else input_shape).as_list()
        batch, steps = (shape[1], shape[0]) if self.time_major else (shape[0], shape[1])
        m = self.cell.output_size
        y: tuple
        if self.return_sequences:
            y = (steps, batch, m) if self.time_major else (batch, steps, m)
        else:
            y = (batch, m)
        if not self.return_state:
            return y
        u = self.cell.state_size
        states = [(batch, u), (batch, u)] if self.mixed_memory else [(batch, u)]
        return [y] + states

    # -- configuration -----------------------------------------------------

    def get_config(self) -> Dict[str, Any]:
        """Base layer config plus ncps.tf.LTC's arguments; units is the
        wiring's config ({"class_name", "config"})."""
        config = super().get_config()
        cell = self.cell
        config.update({
            "units": wiring_to_config(as_wiring(cell.wiring)),
            "mixed_memory": self.mixed_memory,
            "input_mapping": cell._input_mapping,
            "output_mapping": cell._output_mapping,
            "ode_unfolds": cell._ode_unfolds,
            "epsilon": cell._epsilon,
            "initialization_ranges": cell._initialization_ranges,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "time_major": self.time_major,
        })
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "LTC":
        config = dict(config)
        units = config.pop("units")
        if isinstance(units, Mapping):
            units = wiring_from_config(units)
        return cls(units, **config)
