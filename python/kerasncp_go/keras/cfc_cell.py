"""``CfCCell``: ncps.keras's closed-form continuous-time cell (its Keras
variant: heads without tanh, s = sigmoid(-time_a t + time_b)) on the Go
kernels."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import keras
import numpy as np

from .. import _cfc
from . import _common
from ._cfc_parts import CfCWeights, activation_name

__all__ = ["CfCCell", "activation_name"]

@keras.saving.register_keras_serializable(package="kerasncp_go", name="CfCCell")
class CfCCell(CfCWeights, keras.layers.Layer):
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
        self._set_cfc_options(mode, activation, backbone_units, backbone_layers, backbone_dropout)
        self._mask: Any = None

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
            self.backbone_fn = None
            width = cat
        self._add_cfc_weights(keras, width)
        if self.sparsity_mask is not None:
            mask = np.asarray(keras.ops.convert_to_numpy(self.sparsity_mask), np.float32)
            if mask.shape != (width, self.units):
                raise ValueError(f"sparsity_mask must have shape {(width, self.units)}, got {mask.shape}")
            self._mask = mask
        self.built = True

    def raw_params(self) -> List[Any]:
        """The cell's variables in the order the Go kernel takes them."""
        return [keras.ops.convert_to_tensor(v) for v in self.cfc_variables()]

    def kernel_params(self) -> List[Any]:
        p = self.raw_params()
        return p if self._mask is None else self.masked(p, keras.ops.convert_to_tensor(self._mask), self.mode)

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
