"""``CfCCell``: ncps.keras's closed-form continuous-time cell (its Keras
variant: heads without tanh, s = sigmoid(-time_a t + time_b)) on the Go
kernels."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import keras
import numpy as np

from .. import _cfc
from . import _common, _host

#: Keras activation names the Go core computes, and its names for them.
_ACTIVATIONS = {"lecun_tanh": "lecun_tanh", "tanh": "tanh", "relu": "relu", "gelu": "gelu", "silu": "silu",
                "swish": "silu"}


def activation_name(activation: Any) -> str:
    """The Go core's name for a backbone activation given as a name or a
    Keras activation function.

    Raises:
        ValueError: an activation the Go core does not compute.
    """
    name = activation if isinstance(activation, str) else getattr(activation, "__name__", None)
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(repr(k) for k in _ACTIVATIONS)} "
                         f"(the activations the Go kernels compute), got {activation!r}")
    return _ACTIVATIONS[name]


@keras.saving.register_keras_serializable(package="kerasncp_go", name="CfCCell")
class CfCCell(keras.layers.Layer):
    """A CfC cell (one step per call) with ncps.keras's arguments, weights
    (ff1_weight, ff1_bias, ff2_weight, ff2_bias or w_tau, A; the backbone's
    Dense layers backbone0..; time_a, time_b) and config, computed in Go.

    Args:
        units: hidden units (state and output size).
        mode: "default", "pure" or "no_gate".
        activation: backbone activation: "lecun_tanh", "tanh", "relu",
            "gelu" or "silu".
        backbone_units, backbone_layers, backbone_dropout: the backbone
            (dropout after every backbone layer in training).
        sparsity_mask: a fixed (input + units, units) mask multiplied into
            ff1's and ff2's kernels; needs backbone_units=0 / layers=0.

    Raises:
        ValueError: an unknown mode or activation, a mask with a backbone.
    """

    runs_sequences = True

    def __init__(self, units: int, mode: str = "default", activation: Any = "lecun_tanh", backbone_units: int = 128,
                 backbone_layers: int = 1, backbone_dropout: float = 0.1, sparsity_mask: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = _cfc.check_int(units, "units", 1)
        self.sparsity_mask = sparsity_mask
        if sparsity_mask is not None and backbone_units > 0 and backbone_layers > 0:
            raise ValueError("If sparsity of a CfC cell is set, then no backbone is allowed "
                             f"(sparsity_mask is set and backbone_units={backbone_units})")
        if mode not in _cfc.MODES:
            raise ValueError(f"Unknown mode '{mode}', valid options are {list(_cfc.MODES)}")
        self.mode = mode
        self._activation = activation
        self._act_name = activation_name(activation)
        self._backbone_units = _cfc.check_int(backbone_units, "backbone_units", 0)
        self._backbone_layers = _cfc.check_int(backbone_layers, "backbone_layers", 0)
        self._backbone_dropout = _cfc.check_dropout(backbone_dropout)
        if self._backbone_layers > 0 and self._backbone_units < 1:
            raise ValueError(f"backbone_units must be >= 1 with backbone_layers={backbone_layers}, "
                             f"got {backbone_units}")
        self.uses_training = self._backbone_layers > 0 and self._backbone_dropout > 0
        self._kernel: Optional[_host.CfCKernel] = None
        self._input_dim: Optional[int] = None
        self._mask: Any = None

    @property
    def state_size(self) -> int:
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    @property
    def kernel_input_size(self) -> Optional[int]:
        return self._input_dim

    def build(self, input_shape: Any) -> None:
        if isinstance(input_shape[0], (tuple, list)) or isinstance(input_shape[0], keras.KerasTensor):
            input_dim = input_shape[0][-1]
        else:
            input_dim = input_shape[-1]
        self._input_dim = int(input_dim)
        cat = self.units + self._input_dim
        if self._backbone_layers > 0:
            layers: List[Any] = []
            for i in range(self._backbone_layers):
                layers.append(keras.layers.Dense(self._backbone_units, name=f"backbone{i}"))
                layers.append(keras.layers.Dropout(self._backbone_dropout))
            self.backbone_fn = keras.models.Sequential(layers)
            self.backbone_fn.build((None, cat))
            width = self._backbone_units
        else:
            width = cat
        self.ff1_kernel = self.add_weight(shape=(width, self.units), initializer="glorot_uniform", name="ff1_weight")
        self.ff1_bias = self.add_weight(shape=(self.units,), initializer="zeros", name="ff1_bias")
        if self.mode == "pure":
            self.w_tau = self.add_weight(shape=(1, self.units), initializer="zeros", name="w_tau")
            self.A = self.add_weight(shape=(1, self.units), initializer="ones", name="A")
        else:
            self.ff2_kernel = self.add_weight(shape=(width, self.units), initializer="glorot_uniform",
                                              name="ff2_weight")
            self.ff2_bias = self.add_weight(shape=(self.units,), initializer="zeros", name="ff2_bias")
            self.time_a = keras.layers.Dense(self.units, name="time_a")
            self.time_b = keras.layers.Dense(self.units, name="time_b")
            self.time_a.build((None, width))
            self.time_b.build((None, width))
        if self.sparsity_mask is not None:
            mask = np.asarray(keras.ops.convert_to_numpy(self.sparsity_mask), np.float32)
            if mask.shape != (width, self.units):
                raise ValueError(f"sparsity_mask must have shape {(width, self.units)}, got {mask.shape}")
            self._mask = mask
        self.built = True

    @property
    def kernel(self) -> _host.CfCKernel:
        if self._kernel is None:
            self._kernel = _host.CfCKernel(self._input_dim, self.units, None, self.mode, self._act_name,
                                           self._backbone_units, self._backbone_layers, self._backbone_dropout)
        return self._kernel

    def raw_params(self) -> List[Any]:
        """The cell's variables in the order the Go kernel takes them."""
        p = [self.ff1_kernel, self.ff1_bias]
        p += [self.w_tau, self.A] if self.mode == "pure" else [self.ff2_kernel, self.ff2_bias]
        if self._backbone_layers > 0:
            for layer in self.backbone_fn.layers:
                if isinstance(layer, keras.layers.Dense):
                    p += [layer.kernel, layer.bias]
        if self.mode != "pure":
            p += [self.time_a.kernel, self.time_a.bias, self.time_b.kernel, self.time_b.bias]
        return [keras.ops.convert_to_tensor(v) for v in p]

    def kernel_params(self) -> List[Any]:
        p = self.raw_params()
        if self._mask is not None:
            mask = keras.ops.convert_to_tensor(self._mask)
            p[0] = p[0] * mask
            if self.mode != "pure":
                p[2] = p[2] * mask
        return p

    def call(self, inputs: Any, states: Any, training: Any = False, **kwargs: Any) -> Any:
        y, h = _common.cell_step(self, inputs, states, training, kwargs)
        return y, h

    def get_config(self) -> Dict[str, Any]:
        config = {
            "units": self.units,
            "mode": self.mode,
            "activation": self._activation,
            "backbone_units": self._backbone_units,
            "backbone_layers": self._backbone_layers,
            "backbone_dropout": self._backbone_dropout,
            "sparsity_mask": None if self.sparsity_mask is None else np.asarray(
                keras.ops.convert_to_numpy(self.sparsity_mask)).tolist(),
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Any = None) -> "CfCCell":
        return cls(**config)
