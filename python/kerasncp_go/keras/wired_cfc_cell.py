"""``WiredCfCCell``: ncps.keras's wired CfC (one CfC cell per wiring layer,
masked by the wiring) computed in one Go model."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import keras

from .. import _rules
from . import _common, _host
from ._cfc_parts import WiredCfCParts, activation_name, check_mode
from .cfc_cell import CfCCell


@keras.saving.register_keras_serializable(package="kerasncp_go", name="WiredCfCCell")
class WiredCfCCell(WiredCfCParts, keras.layers.Layer):
    """A wired CfC cell with ncps.keras's arguments and weights (a CfCCell
    per wiring layer, without backbone, its ff1/ff2 kernels masked by the
    wiring's signed adjacency). Its state is the layers' states in layer
    order; its output the last layer's state, cut to the wiring's
    output_dim.

    Raises:
        ValueError: an unknown mode; fully_recurrent=False (the reference
            fails to build it as well).
    """

    runs_sequences = True
    uses_training = False

    def __init__(self, wiring: Any, fully_recurrent: bool = True, mode: str = "default",
                 activation: Any = "lecun_tanh", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wiring = _common.wiring_from(wiring)
        check_mode(mode)
        if not fully_recurrent:
            raise ValueError("fully_recurrent=False is not supported: each wired layer is fully recurrent")
        activation_name(activation)
        self.mode, self.fully_recurrent, self._activation = mode, fully_recurrent, activation
        self._cfc_layers: List[CfCCell] = []
        self._kernel: Optional[_host.CfCKernel] = None

    def build(self, input_shape: Any) -> None:
        if isinstance(input_shape[0], (tuple, list)) or isinstance(input_shape[0], keras.KerasTensor):
            input_dim = input_shape[0][-1]
        else:
            input_dim = input_shape[-1]
        _rules.build_wiring(self.wiring, input_dim)
        width = self.wiring.input_dim
        for i in range(self.wiring.num_layers):
            n = len(self.wiring.get_neurons_of_layer(i))
            cell = CfCCell(n, mode=self.mode, activation=self._activation, backbone_units=0, backbone_layers=0,
                           backbone_dropout=0)
            cell.build((None, width))
            self._cfc_layers.append(cell)
            width = n
        self._layer_sizes = [c.units for c in self._cfc_layers]
        self.built = True

    def call(self, inputs: Any, states: Any, training: Any = False, **kwargs: Any) -> Any:
        return _common.cell_step(self, inputs, states, training, kwargs)

    def get_config(self) -> Dict[str, Any]:
        config = {"wiring": self.wiring, "fully_recurrent": self.fully_recurrent, "mode": self.mode,
                  "activation": self._activation}
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Any = None) -> "WiredCfCCell":
        config = dict(config)
        config["wiring"] = _common.wiring_from(config["wiring"])
        return cls(**config)
