"""ncps's MixedMemoryRNN for Keras: an LSTM memory cell in front of an
inner RNN cell."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from ._inputs import feature_dim, split_irregular
from ._keras import RNNCellBase, keras, register_serializable, tf

__all__ = ["MixedMemoryRNN"]


@register_serializable(package="kerasncp_go", name="MixedMemoryRNN")
class MixedMemoryRNN(RNNCellBase):
    """ncps's MixedMemoryRNN: an LSTM memory cell whose output is the input
    of an inner RNN cell (ncps 1.0.1 ``ncps.tf.MixedMemoryRNN``).

    State: [memory (batch, flat), inner state]. The inner cell is built for
    ``flat`` = its state size input features. In irregular mode the
    elapsed time goes to the inner cell.

    Args:
        rnn_cell: the inner cell (an :class:`LTCCell`).
        forget_gate_bias: added to the forget gate's pre-activation.
        **kwargs: Keras layer arguments.

    Example:
        >>> from kerasncp_go.tf import LTCCell, MixedMemoryRNN, keras
        >>> from kerasncp_go.wirings import FullyConnected
        >>> rnn = keras.layers.RNN(MixedMemoryRNN(LTCCell(FullyConnected(8))))
    """

    def __init__(self, rnn_cell, forget_gate_bias: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rnn_cell = rnn_cell
        self.forget_gate_bias = float(forget_gate_bias)
        self.supports_jit = False
        # Set by LTC for irregular sequences: the elapsed time arrives as the
        # last input feature (keras.layers.RNN of Keras 3 takes no pairs).
        self._packed_elapsed = False

    @property
    def state_size(self) -> List[int]:
        return [self.flat_size, self.rnn_cell.state_size]

    @property
    def output_size(self) -> int:
        return self.rnn_cell.output_size

    @property
    def flat_size(self) -> int:
        s = self.rnn_cell.state_size
        return s if isinstance(s, int) else int(sum(s))

    def build(self, input_shape) -> None:
        input_dim, _ = feature_dim(input_shape)
        if self._packed_elapsed:
            input_dim -= 1
        self.rnn_cell.build((None, self.flat_size))
        self.input_kernel = self.add_weight(name="input_kernel", shape=(input_dim, 4 * self.flat_size),
                                            initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.flat_size, 4 * self.flat_size),
                                                initializer="orthogonal")
        self.bias = self.add_weight(name="bias", shape=(4 * self.flat_size,), initializer="zeros")
        self.built = True

    def call(self, inputs, states, training=None):
        x, elapsed = split_irregular(inputs, "MixedMemoryRNN")
        if self._packed_elapsed and elapsed is None:
            x, elapsed = x[:, :-1], x[:, -1:]
        memory, inner = states[0], states[1]
        flat = tf.concat(tf.nest.flatten(inner), axis=-1)
        z = tf.matmul(x, self.input_kernel) + tf.matmul(flat, self.recurrent_kernel) + self.bias
        i, ig, fg, og = tf.split(z, 4, axis=-1)
        memory = memory * tf.sigmoid(fg + self.forget_gate_bias) + tf.tanh(i) * tf.sigmoid(ig)
        ct_input = tf.tanh(memory) * tf.sigmoid(og)
        if elapsed is not None:
            ct_input = (ct_input, elapsed)
        if not isinstance(inner, (list, tuple)):
            inner = [inner]
        y, new_inner = self.rnn_cell(ct_input, inner)
        return y, [memory, new_inner[0] if len(new_inner) == 1 else new_inner]

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if batch_size is None and inputs is not None:
            batch_size = tf.shape(tf.nest.flatten(inputs)[0])[0]
        return [tf.zeros(tf.stack([batch_size, self.flat_size]), tf.float32),
                self.rnn_cell.get_initial_state(batch_size=batch_size)[0]]

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update({"rnn_cell": keras.layers.serialize(self.rnn_cell), "forget_gate_bias": self.forget_gate_bias})
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "MixedMemoryRNN":
        config = dict(config)
        cell = keras.layers.deserialize(config.pop("rnn_cell"))
        return cls(rnn_cell=cell, **config)
