"""``MixedMemoryRNN``: ncps.keras's LSTM memory wrapped around a cell (in
Keras ops: the LSTM's output is the inner cell's input, its state is
[memory, inner state]); the inner cell runs in Go step by step."""

from __future__ import annotations

from typing import Any, Dict, List

import keras


@keras.saving.register_keras_serializable(package="kerasncp_go", name="MixedMemoryRNN")
class MixedMemoryRNN(keras.layers.Layer):
    """Mixed memory around `rnn_cell` as ncps.keras builds it: weights
    input_kernel (in, 4F), recurrent_kernel (F, 4F), bias (4F,), F the
    inner cell's flat state size; gates i, input, forget (+
    forget_gate_bias), output, in that order."""

    def __init__(self, rnn_cell: Any, forget_gate_bias: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rnn_cell = rnn_cell
        self.forget_gate_bias = forget_gate_bias

    @property
    def state_size(self) -> List[Any]:
        return [self.flat_size, self.rnn_cell.state_size]

    @property
    def output_size(self) -> int:
        return getattr(self.rnn_cell, "output_size", self.rnn_cell.state_size)

    @property
    def flat_size(self) -> int:
        s = self.rnn_cell.state_size
        return s if isinstance(s, int) else int(sum(s))

    def build(self, sequences_shape: Any, initial_state_shape: Any = None) -> None:
        input_dim = sequences_shape[-1]
        if isinstance(sequences_shape[0], (tuple, list)) or isinstance(sequences_shape[0], keras.KerasTensor):
            input_dim = sequences_shape[0][-1]
        self.rnn_cell.build((None, self.flat_size))
        f = self.flat_size
        self.input_kernel = self.add_weight(shape=(input_dim, 4 * f), initializer="glorot_uniform",
                                            name="input_kernel")
        self.recurrent_kernel = self.add_weight(shape=(f, 4 * f), initializer="orthogonal", name="recurrent_kernel")
        self.bias = self.add_weight(shape=(4 * f,), initializer="zeros", name="bias")
        self.built = True

    def call(self, sequences: Any, initial_state: Any = None, mask: Any = None, training: Any = False,
             **kwargs: Any) -> Any:
        memory, inner = initial_state
        flat = keras.ops.concatenate(inner, axis=-1) if isinstance(inner, (list, tuple)) else inner
        x = sequences[0] if isinstance(sequences, (tuple, list)) else sequences
        z = keras.ops.matmul(x, self.input_kernel) + keras.ops.matmul(flat, self.recurrent_kernel) + self.bias
        i, ig, fg, og = keras.ops.split(z, 4, axis=-1)
        memory = memory * keras.ops.sigmoid(fg + self.forget_gate_bias) + keras.ops.tanh(i) * keras.ops.sigmoid(ig)
        cell_in: Any = keras.ops.tanh(memory) * keras.ops.sigmoid(og)
        if isinstance(sequences, (tuple, list)) and len(sequences) > 1:
            cell_in = (cell_in,) + tuple(sequences[1:])
        nested = isinstance(inner, (list, tuple))
        out, new_inner = self.rnn_cell(cell_in, inner if nested else [inner], training=training, **kwargs)
        if not nested and isinstance(new_inner, (list, tuple)) and len(new_inner) == 1:
            # The state keeps the structure it came in (JAX's scan insists).
            new_inner = new_inner[0]
        return out, [memory, new_inner]

    def get_config(self) -> Dict[str, Any]:
        return {"rnn_cell": self.rnn_cell.get_config(), "forget_gate_bias": self.forget_gate_bias}

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Any = None) -> "MixedMemoryRNN":
        config = dict(config)
        inner = config.pop("rnn_cell")
        if isinstance(inner, dict) and "class_name" not in inner:
            raise ValueError("rnn_cell: a cell config needs its class; rebuild the layer that owns this cell")
        return cls(rnn_cell=keras.layers.deserialize(inner, custom_objects=custom_objects), **config)
