"""What ncps's Keras CfC cells share in both Keras flavours (the Keras 3
classes here, the tf-keras ones in :mod:`kerasncp_go.tf.cfc_cell`): the
weights a cell creates, in the reference's order, the Go kernel they feed,
and the wired cell's sizes. The mixins take the Keras module to build with
as an argument and import no framework themselves."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, List, Optional

from .. import _cfc
from . import _host

#: Keras activation names the Go core computes, and its names for them.
_ACTIVATIONS = {"lecun_tanh": "lecun_tanh", "tanh": "tanh", "relu": "relu", "gelu": "gelu", "silu": "silu",
                "swish": "silu"}


def activation_name(activation: Any) -> str:
    """The Go core's name for a backbone activation given as a name or a
    Keras activation function.

    Raises:
        ValueError: an activation the Go core does not compute.
    """
    name = activation
    if isinstance(activation, dict):  # a serialized Keras function, as ncps.keras's configs hold them
        name = activation.get("config")
    elif not isinstance(activation, str):
        name = getattr(activation, "__name__", None)
    if isinstance(name, str) and ">" in name:  # a registered name: "package>name" (ncps's ">lecun_tanh")
        name = name.rsplit(">", 1)[1]
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(repr(k) for k in _ACTIVATIONS)} "
                         f"(the activations the Go kernels compute), got {activation!r}")
    return _ACTIVATIONS[name]


def check_mode(mode: Any) -> str:
    """mode, checked.

    Raises:
        ValueError: not one of the CfC's modes.
    """
    if mode not in _cfc.MODES:
        raise ValueError(f"Unknown mode '{mode}', valid options are {list(_cfc.MODES)} (argument mode)")
    return str(mode)


class CfCWeights:
    """The weights of ncps's Keras CfCCell. The class it is mixed into sets
    units, mode, _input_dim, _act_name, _backbone_units, _backbone_layers,
    _backbone_dropout and backbone_fn (a Sequential of Dense and Dropout
    layers, or None)."""

    units: int
    mode: str
    _input_dim: Optional[int]
    _act_name: str
    _backbone_units: int
    _backbone_layers: int
    _backbone_dropout: float
    backbone_fn: Any
    _kernel: Optional[_host.CfCKernel]
    add_weight: Callable[..., Any]

    def _set_cfc_options(self, mode: Any, activation: Any, backbone_units: Any, backbone_layers: Any,
                         backbone_dropout: Any) -> None:
        """Checks and keeps the cell's options.

        Raises:
            ValueError / TypeError: an unknown mode or activation, or a bad
                backbone size, naming the argument.
        """
        self.mode = check_mode(mode)
        self._activation = activation
        self._act_name = activation_name(activation)
        self._backbone_units = _cfc.check_int(backbone_units, "backbone_units", 0)
        self._backbone_layers = _cfc.check_int(backbone_layers, "backbone_layers", 0)
        self._backbone_dropout = _cfc.check_dropout(backbone_dropout)
        if self._backbone_layers > 0 and self._backbone_units < 1:
            raise ValueError(f"backbone_units must be >= 1 with backbone_layers={backbone_layers}, "
                             f"got {backbone_units}")
        self.uses_training = self._backbone_layers > 0 and self._backbone_dropout > 0
        self.backbone_fn = None
        self._kernel = None
        self._input_dim = None

    @property
    def state_size(self) -> int:
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    def _add_cfc_weights(self, keras_module: Any, width: int,
                         scope: Callable[[str], Any] = lambda name: contextlib.nullcontext()) -> None:
        """Creates ff1 (and ff2, time_a, time_b; or w_tau, A in mode pure)
        reading `width` features; `scope(name)` is entered while a Dense
        head creates its variables."""
        self.ff1_kernel = self.add_weight(shape=(width, self.units), initializer="glorot_uniform", name="ff1_weight")
        self.ff1_bias = self.add_weight(shape=(self.units,), initializer="zeros", name="ff1_bias")
        if self.mode == "pure":
            self.w_tau = self.add_weight(shape=(1, self.units), initializer="zeros", name="w_tau")
            self.A = self.add_weight(shape=(1, self.units), initializer="ones", name="A")
            return
        self.ff2_kernel = self.add_weight(shape=(width, self.units), initializer="glorot_uniform", name="ff2_weight")
        self.ff2_bias = self.add_weight(shape=(self.units,), initializer="zeros", name="ff2_bias")
        self.time_a = keras_module.layers.Dense(self.units, name="time_a")
        self.time_b = keras_module.layers.Dense(self.units, name="time_b")
        for dense in (self.time_a, self.time_b):
            with scope(dense.name):
                dense.build((None, width))

    def cfc_variables(self) -> List[Any]:
        """The cell's variables in the Go kernel's order (its weight order:
        ff1, ff2 or w_tau and A, the backbone, time_a, time_b)."""
        p = [self.ff1_kernel, self.ff1_bias]
        p += [self.w_tau, self.A] if self.mode == "pure" else [self.ff2_kernel, self.ff2_bias]
        for layer in self.backbone_fn.layers if self.backbone_fn is not None else []:
            if getattr(layer, "kernel", None) is not None:
                p += [layer.kernel, layer.bias]
        if self.mode != "pure":
            p += [self.time_a.kernel, self.time_a.bias, self.time_b.kernel, self.time_b.bias]
        return p

    @staticmethod
    def masked(params: List[Any], mask: Any, mode: str) -> List[Any]:
        """params with the fixed mask multiplied into ff1's (and ff2's)
        kernel."""
        p = list(params)
        p[0] = p[0] * mask
        if mode != "pure":
            p[2] = p[2] * mask
        return p

    @property
    def kernel(self) -> _host.CfCKernel:
        """The Go pass this cell runs (made on first use, once built)."""
        if self._kernel is None:
            self._kernel = _host.CfCKernel(self._input_dim, self.units, None, self.mode, self._act_name,
                                           self._backbone_units, self._backbone_layers, self._backbone_dropout)
        return self._kernel


class WiredCfCParts:
    """The sizes and Go kernel of ncps's Keras WiredCfCCell. The class it is
    mixed into sets wiring, mode and _cfc_layers (its built CfC cells, with
    raw_params())."""

    wiring: Any
    mode: str
    _cfc_layers: List[Any]
    _kernel: Optional[_host.CfCKernel]

    @property
    def state_size(self) -> int:
        return self.wiring.units

    @property
    def input_size(self) -> Optional[int]:
        return self.wiring.input_dim

    @property
    def output_size(self) -> int:
        return self.wiring.output_dim

    @property
    def kernel_input_size(self) -> Optional[int]:
        return self.wiring.input_dim

    @property
    def kernel(self) -> _host.CfCKernel:
        if self._kernel is None:
            self._kernel = _host.CfCKernel(self.wiring.input_dim, None, self.wiring, self.mode, "lecun_tanh", 0, 0, 0.0,
                                           output_size=self.wiring.output_dim)
        return self._kernel

    def kernel_params(self) -> List[Any]:
        """The layers' variables in order (the Go model holds the wiring's
        masks)."""
        return [p for c in self._cfc_layers for p in c.raw_params()]
