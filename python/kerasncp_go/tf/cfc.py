"""ncps's TensorFlow CfC layer for tf-keras: a ``keras.layers.RNN`` whose
loop, without a mask or mixed memory, is one Go pass over the whole
sequence each way."""

from __future__ import annotations

from typing import Any, Dict, Mapping

from .. import _cfc
from .. import wirings as _wirings
from ..keras import _tf as _tfop
from ._config import wiring_from_config, wiring_to_config
from ._inputs import elapsed_tensor
from ._keras import keras, register_serializable, tf
from .cfc_cell import CfCCell, WiredCfCCell, training_flag
from .mixed_memory import MixedMemoryRNN

__all__ = ["CfC"]


def _is_wiring(units: Any) -> bool:
    return isinstance(units, _wirings.Wiring) or hasattr(units, "adjacency_matrix")


@register_serializable(package="kerasncp_go", name="CfC")
class CfC(keras.layers.RNN):
    """A CfC over sequences (ncps 1.0.1's ``ncps.tf.CfC``) on the Go
    kernels: `units` an int (a :class:`CfCCell`, backbone 128 x 1 without
    dropout unless given) or a wiring (a :class:`WiredCfCCell`; a backbone
    argument is then an error); mixed_memory wraps the cell in
    :class:`MixedMemoryRNN`. The weights are the reference's, in its order.

    Without a mask or mixed memory the whole sequence is one Go call forward
    and one backward; with either it steps the cell (one Go call per step),
    as ``keras.layers.RNN`` does.

    Args:
        units: an int, or a wiring.
        mixed_memory: add ncps's LSTM memory cell in front of the CfC.
        mode, activation: as :class:`CfCCell`.
        backbone_units, backbone_layers, backbone_dropout: the backbone
            (None: 128, 1, 0.0); not with a wiring.
        return_sequences, return_state, go_backwards, stateful, unroll,
            time_major: keras.layers.RNN's (unroll changes nothing on the
            Go path).
        **kwargs: Keras layer arguments.

    Call arguments:
        inputs: (batch, steps, features), or a tuple (inputs, elapsed_time)
            with elapsed_time (batch, steps) or (batch, steps, 1).
        initial_state, mask, training: keras.layers.RNN's.

    Raises:
        ValueError: a backbone argument with a wiring, a bad cell argument,
            inputs of another width than the layer was built for.

    Example:
        >>> from kerasncp_go.tf import CfC, keras
        >>> model = keras.Sequential([keras.Input((None, 2)), CfC(8, return_sequences=True), keras.layers.Dense(1)])
    """

    def __init__(self, units: Any, mixed_memory: bool = False, mode: str = "default", activation: Any = "lecun_tanh",
                 backbone_units: Any = None, backbone_layers: Any = None, backbone_dropout: Any = None,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, unroll: bool = False, time_major: bool = False, **kwargs: Any) -> None:
        if isinstance(units, Mapping):
            units = wiring_from_config(units)
        cell: Any
        if _is_wiring(units):
            _cfc.check_wired_backbone(backbone_units, backbone_layers, backbone_dropout)
            cell = WiredCfCCell(units, mode=mode, activation=activation)
        else:
            cell = CfCCell(units, mode=mode, activation=activation,
                           backbone_units=128 if backbone_units is None else backbone_units,
                           backbone_layers=1 if backbone_layers is None else backbone_layers,
                           backbone_dropout=0.0 if backbone_dropout is None else backbone_dropout)
        self.mixed_memory = bool(mixed_memory)
        if self.mixed_memory:
            cell = MixedMemoryRNN(cell)
        super().__init__(cell, return_sequences, return_state, go_backwards, stateful, unroll, time_major, **kwargs)
        self.supports_jit = False

    @property
    def rnn_cell(self) -> Any:
        """The CfC cell (inside the memory cell with mixed memory)."""
        return self.cell.rnn_cell if self.mixed_memory else self.cell

    @tf.autograph.experimental.do_not_convert  # plain Python branching on static facts only
    def call(self, inputs: Any, mask: Any = None, training: Any = None, initial_state: Any = None,
             constants: Any = None) -> Any:
        if mask is not None and all(m is None for m in tf.nest.flatten(mask)):
            mask = None
        if self.mixed_memory or mask is not None or constants is not None or isinstance(inputs, tf.RaggedTensor):
            return super().call(inputs, mask=mask, training=training, initial_state=initial_state,
                                constants=constants)
        inputs, initial_state, _ = self._process_inputs(inputs, initial_state, None)
        if isinstance(inputs, (tuple, list)):
            if len(inputs) != 2:
                raise ValueError(f"CfC: inputs must be a tensor or a tuple (inputs, elapsed_time), got "
                                 f"{len(inputs)} tensors")
            x, elapsed = inputs
        else:
            x, elapsed = inputs, None
        cell = self.cell
        x = tf.cast(x, tf.float32)
        n_in = cell.kernel.model.input_size
        if x.shape.rank != 3 or (x.shape[-1] is not None and x.shape[-1] != n_in):
            raise ValueError(f"CfC: inputs must have shape (batch, steps, {n_in}), got {x.shape}")
        if self.time_major:
            x = tf.transpose(x, [1, 0, 2])
        ts = None
        if elapsed is not None:
            e = tf.convert_to_tensor(elapsed)
            if self.time_major and e.shape.rank is not None and e.shape.rank >= 2:
                e = tf.transpose(e, [1, 0] + list(range(2, e.shape.rank)))
            ts = elapsed_tensor(e, x, tf.float32, "elapsed_time")
        if self.go_backwards:
            x = tf.reverse(x, [1])
            ts = None if ts is None else tf.reverse(ts, [1])
        h0 = tf.cast(tf.nest.flatten(initial_state)[0], tf.float32)
        y, h = _tfop.sequence(cell.kernel, cell.kernel_params(), x, h0, ts, self.return_sequences,
                              training_flag(training) and cell.uses_training)
        if self.stateful:
            self.add_update([tf.compat.v1.assign(self.states[0], tf.cast(h, self.states[0].dtype))])
        if self.return_sequences and self.time_major:
            y = tf.transpose(y, [1, 0, 2])
        return [y, h] if self.return_state else y

    def get_config(self) -> Dict[str, Any]:
        """keras.layers.RNN's config without the cell, plus ncps.tf.CfC's
        arguments; units is an int or the wiring's config."""
        config = super().get_config()
        config.pop("cell", None)
        cell = self.rnn_cell
        wired = isinstance(cell, WiredCfCCell)
        config["units"] = wiring_to_config(cell.wiring) if wired else cell.units
        config["mixed_memory"] = self.mixed_memory
        config.update(cell.cell_options())
        if wired:
            for name in ("backbone_units", "backbone_layers", "backbone_dropout"):
                config.pop(name, None)
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any], custom_objects: Any = None) -> "CfC":
        config = dict(config)
        config.pop("cell", None)
        config.pop("zero_output_for_mask", None)
        return cls(config.pop("units"), **config)
