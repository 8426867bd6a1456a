"""ncps.tf's CfC cells for tf-keras (``CfCCell``, ``WiredCfCCell``) on the
Go kernels: the Keras variant of the CfC (heads without tanh, s =
sigmoid(-time_a t + time_b), dropout after every backbone layer, signed
wiring masks), computed by the Go core through the TensorFlow op of
:mod:`kerasncp_go.keras._tf` (one Go call per step here; :class:`CfC` runs a
whole sequence in one)."""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, List, Mapping, Optional

import numpy as np

from .. import _cfc
from ..keras import _host
from ..keras import _tf as _tfop
from ..keras._cfc_graph import lecun_tanh
from ..keras._cfc_parts import CfCWeights, WiredCfCParts, activation_name, check_mode
from ..wirings import as_wiring
from ._config import wiring_from_config, wiring_to_config
from ._inputs import feature_dim, split_irregular
from ._keras import RNNCellBase, keras, register_serializable, tf

__all__ = ["CfCCell", "WiredCfCCell", "lecun_tanh"]


def training_flag(training: Any) -> bool:
    """A layer's `training` argument as a Python bool (a tensor whose value
    is not known when the graph is traced counts as False)."""
    if training is None:
        return False
    if tf.is_tensor(training):
        value = tf.get_static_value(training)
        return bool(value) if value is not None else False
    return bool(training)


@contextlib.contextmanager
def sub_scope(layer: Any, name: str) -> Iterator[None]:
    """The name scope in which the reference's cells create the variables of
    the layers they own (it builds those on the first call, inside the
    owner's scope): .../<owner>/<name>/kernel, whether or not the owner's
    build already runs in its own scope."""
    with contextlib.ExitStack() as stack:
        if tf.get_current_name_scope().split("/")[-1] != layer.name:
            stack.enter_context(tf.name_scope(layer.name))
        stack.enter_context(tf.name_scope(name))
        yield


def activation_label(activation: Any) -> str:
    """An activation as its config value: the name given, or the Go core's
    name for a function."""
    return activation if isinstance(activation, str) else activation_name(activation)


class GoStep:
    """The step of a cell whose whole pass is the Go kernel's (its `kernel`
    and `kernel_params()`), and its zero initial state."""

    kernel: Any
    uses_training: bool

    @property
    def state_size(self) -> int:  # the cell's
        raise NotImplementedError

    def kernel_params(self) -> List[Any]:  # the cell's
        raise NotImplementedError

    def call(self, inputs: Any, states: Any, training: Any = None, **kwargs: Any) -> Any:
        """One step: inputs x (batch, in) or (x, elapsed time per sample);
        states [h (batch, state)]. Returns (output, [new h])."""
        x, t = split_irregular(inputs, type(self).__name__)
        x = tf.cast(x, tf.float32)
        n_in = self.kernel.model.input_size
        if x.shape.rank != 2 or (x.shape[-1] is not None and x.shape[-1] != n_in):
            raise ValueError(f"inputs must have shape (batch, {n_in}), got {x.shape}")
        h = tf.cast(states[0] if isinstance(states, (list, tuple)) else states, tf.float32)
        ts = None
        if t is not None:
            ts = tf.broadcast_to(tf.reshape(tf.cast(t, tf.float32), [-1, 1]), tf.stack([tf.shape(x)[0], 1]))
        y, h1 = _tfop.sequence(self.kernel, self.kernel_params(), tf.expand_dims(x, 1), h, ts, False,
                               training_flag(training) and self.uses_training)
        return y, [h1]

    def get_initial_state(self, inputs: Any = None, batch_size: Any = None, dtype: Any = None) -> List[Any]:
        if batch_size is None:
            batch_size = tf.shape(tf.nest.flatten(inputs)[0])[0]
        return [tf.zeros(tf.stack([batch_size, self.state_size]), tf.float32)]


@register_serializable(package="kerasncp_go", name="CfCCell")
class CfCCell(CfCWeights, GoStep, RNNCellBase):
    """ncps 1.0.1's ``ncps.tf.CfCCell`` (and keras-ncp 2.1.0's
    ``kerasncp.tf.experimental.CfCCell``) on the Go kernels: the same
    arguments, weights (ff1_weight, ff1_bias, ff2_weight, ff2_bias, or
    w_tau and A in mode "pure"; the backbone's Dense layers backbone0..;
    time_a and time_b), in the same order, so ``set_weights`` takes the
    reference's ``get_weights()``.

    Args:
        units: hidden units (state and output size).
        input_sparsity, recurrent_sparsity: a fixed (input, units) and
            (units, units) mask multiplied (with its signs) into ff1's and
            ff2's kernels; both or neither, and only without a backbone
            (backbone_units=0).
        mode: "default", "pure" or "no_gate".
        activation: the backbone's activation: "lecun_tanh" (or this
            module's :func:`lecun_tanh`), "tanh", "relu", "gelu", "silu" /
            "swish" (what the Go core computes).
        backbone_units, backbone_layers, backbone_dropout: the backbone
            (dropout after every backbone layer, in training).
        **kwargs: Keras layer arguments.

    Call arguments:
        inputs: (batch, features), or a pair (inputs, elapsed_time) with an
            elapsed time per sample (batch, 1) or (batch,).
        states: [h (batch, units)].

    Raises:
        ValueError: an unknown mode or activation, a mask with a backbone,
            one mask without the other, inputs of another width.

    Example:
        >>> from kerasncp_go.tf import CfCCell, keras
        >>> rnn = keras.layers.RNN(CfCCell(16), return_sequences=True)
    """

    def __init__(self, units: int, input_sparsity: Any = None, recurrent_sparsity: Any = None,
                 mode: str = "default", activation: Any = "lecun_tanh", backbone_units: int = 128,
                 backbone_layers: int = 1, backbone_dropout: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = _cfc.check_int(units, "units", 1)
        self.sparsity_mask: Optional[np.ndarray] = None
        self.input_sparsity, self.recurrent_sparsity = input_sparsity, recurrent_sparsity
        if input_sparsity is not None or recurrent_sparsity is not None:
            if backbone_units > 0:
                raise ValueError("If sparsity of a CfC cell is set, then no backbone is allowed (input_sparsity / "
                                 f"recurrent_sparsity given with backbone_units={backbone_units})")
            if input_sparsity is None or recurrent_sparsity is None:
                raise ValueError("If sparsity of a CfC cell is set, then both input_sparsity and "
                                 "recurrent_sparsity need to be given")
            self.sparsity_mask = np.concatenate([np.asarray(input_sparsity), np.asarray(recurrent_sparsity)],
                                                axis=0).astype(np.float32)
        self._set_cfc_options(mode, activation, backbone_units, backbone_layers, backbone_dropout)
        self.supports_jit = False

    def build(self, input_shape: Any) -> None:
        """Creates the weights for `input_shape` (batch, features).

        Raises:
            ValueError: a sparsity mask whose shape does not fit.
        """
        self._input_dim, _ = feature_dim(input_shape)
        layers: List[Any] = []
        for i in range(self._backbone_layers):
            # The Go kernel applies the activation: the Dense layers hold weights.
            layers.append(keras.layers.Dense(self._backbone_units, name=f"backbone{i}"))
            layers.append(keras.layers.Dropout(self._backbone_dropout))
        cat = self.units + self._input_dim
        width = cat if self._backbone_layers == 0 else self._backbone_units
        if layers:  # (an empty Sequential would hold no weights and refuse to list them)
            self.backbone_fn = keras.models.Sequential(layers)
            self.backbone_fn.build((None, cat))
        if self.sparsity_mask is not None and self.sparsity_mask.shape != (width, self.units):
            raise ValueError(f"input_sparsity and recurrent_sparsity must stack to shape {(width, self.units)} "
                             f"((input + units, units)), got {self.sparsity_mask.shape}")
        self._add_cfc_weights(keras, width, lambda name: sub_scope(self, name))
        self.built = True

    def raw_params(self) -> List[Any]:
        """The variables in the Go kernel's order (the cell's weight order)."""
        return [tf.convert_to_tensor(v) for v in self.cfc_variables()]

    def kernel_params(self) -> List[Any]:
        """raw_params with the sparsity mask applied to ff1's and ff2's
        kernels."""
        p = self.raw_params()
        return p if self.sparsity_mask is None else self.masked(p, tf.constant(self.sparsity_mask), self.mode)

    def cell_options(self) -> Dict[str, Any]:
        """The constructor arguments other than units and the masks."""
        return {"mode": self.mode, "activation": activation_label(self._activation),
                "backbone_units": self._backbone_units, "backbone_layers": self._backbone_layers,
                "backbone_dropout": self._backbone_dropout}

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update({"units": self.units, **self.cell_options(),
                       "input_sparsity": None if self.input_sparsity is None
                       else np.asarray(self.input_sparsity).tolist(),
                       "recurrent_sparsity": None if self.recurrent_sparsity is None
                       else np.asarray(self.recurrent_sparsity).tolist()})
        return config


@register_serializable(package="kerasncp_go", name="WiredCfCCell")
class WiredCfCCell(WiredCfCParts, GoStep, RNNCellBase):
    """ncps 1.0.1's ``ncps.tf.WiredCfCCell`` on the Go kernels: one
    :class:`CfCCell` per wiring layer (no backbone; ff1/ff2 kernels masked
    by the wiring's signed adjacency), with the reference's weights in its
    order. The state is the layers' states side by side in layer order
    (inter, command, motor for an NCP); the output the last layer's state,
    cut to the wiring's output_dim. A whole step of all layers is one Go
    call.

    Args:
        wiring: a kerasncp_go wiring (or a one-layer keras-ncp / ncps wiring).
        fully_recurrent: must be True (each layer sees its whole own state;
            the reference fails to build False).
        mode, activation: as :class:`CfCCell` (the reference passes the
            activation on to layers that have no backbone to use it).
        **kwargs: Keras layer arguments.

    Raises:
        ValueError: an unknown mode or activation, fully_recurrent=False, a
            wiring built for another number of inputs.
    """

    uses_training = False

    def __init__(self, wiring: Any, fully_recurrent: bool = True, mode: str = "default",
                 activation: Any = "lecun_tanh", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(wiring, Mapping):
            wiring = wiring_from_config(wiring)
        self.wiring = wiring
        self.mode = check_mode(mode)
        if not fully_recurrent:
            raise ValueError("fully_recurrent=False is not supported: each wired CfC layer is fully recurrent "
                             "(ncps.tf fails to build it as well)")
        self.fully_recurrent = True
        self._activation = activation
        activation_name(activation)
        self._cfc_layers: List[CfCCell] = []
        self._layer_sizes: List[int] = []
        self._kernel: Optional[_host.CfCKernel] = None
        self.supports_jit = False

    def build(self, input_shape: Any) -> None:
        input_dim, _ = feature_dim(input_shape)
        self.wiring = _cfc.cfc_wiring(self.wiring, input_dim)
        width = input_dim
        self._cfc_layers = []
        for i in range(self.wiring.num_layers):
            n = len(self.wiring.get_neurons_of_layer(i))
            cell = CfCCell(n, mode=self.mode, activation=self._activation, backbone_units=0, backbone_layers=0,
                           backbone_dropout=0.0)
            with sub_scope(self, cell.name):
                cell.build((None, width))
            self._cfc_layers.append(cell)
            width = n
        self._layer_sizes = [c.units for c in self._cfc_layers]
        self.built = True

    def cell_options(self) -> Dict[str, Any]:
        return {"mode": self.mode, "activation": activation_label(self._activation)}

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update({"wiring": wiring_to_config(as_wiring(self.wiring)), "fully_recurrent": True,
                       **self.cell_options()})
        return config
