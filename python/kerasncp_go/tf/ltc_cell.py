"""keras-ncp's TensorFlow LTCCell, computed by the Go core."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from .. import _rules
from .. import wirings as _wirings
from .._sizes import WiringSizes
from ..wirings import as_wiring
from . import _op
from ._config import wiring_from_config, wiring_to_config
from ._inputs import check_wiring_input, elapsed_tensor, feature_dim, split_irregular
from ._keras import RNNCellBase, keras, register_serializable, tf

__all__ = ["LTCCell"]


# -- the cell ------------------------------------------------------------------


@register_serializable(package="kerasncp_go", name="LTCCell")
class LTCCell(WiringSizes, RNNCellBase):
    """A liquid time-constant RNN cell over a wiring (keras-ncp 2.1.0's
    ``kerasncp.tf.LTCCell``), computed by the Go core.

    Use it in ``keras.layers.RNN`` (``return_sequences``, ``return_state``,
    ``stateful`` and ``go_backwards`` work as for any cell). The RNN runs
    the whole sequence in one Go call forward and one backward (see
    :mod:`kerasncp_go.tf`); where it steps the cell (masks, ``unroll=True``
    under tf-keras, the hook turned off) each step is one Go call each way.

    Weights have the reference's names, shapes, order and initial ranges:
    gleak, vleak, cm, sigma, mu, w, erev, sensory_sigma, sensory_mu,
    sensory_w, sensory_erev, input_w, input_b, output_w, output_b (the
    mapping weights only for "affine" / "linear" mappings). gleak, cm, w and
    sensory_w carry ``NonNeg`` constraints. The sparsity masks are
    constants, not weights.

    Irregularly sampled sequences: feed ``(inputs, elapsed_time)`` pairs;
    through tf-keras's ``keras.layers.RNN`` a pair of sequences (B, T, S) and
    (B, T, 1), as with keras-ncp. Keras 3's ``keras.layers.RNN`` accepts no
    pairs of sequences (for any cell): there, use :class:`LTC` with
    ``[inputs, elapsed_time]``, or call the cell step by step.

    Args:
        wiring: a :mod:`kerasncp_go.wirings` wiring (or a keras-ncp / ncps
            one, converted through its matrices); built from the input
            shape when the cell is built.
        input_mapping: "affine", "linear" or None.
        output_mapping: "affine", "linear" or None.
        ode_unfolds: semi-implicit Euler steps per time step (>= 1).
        epsilon: added to the ODE denominator.
        initialization_ranges: overrides of the initial uniform ranges,
            e.g. ``{"w": (0.01, 1.0)}``.
        **kwargs: Keras layer arguments (name, dtype, trainable).

    Raises:
        ValueError: an unknown name in initialization_ranges, a negative
            lower bound for gleak, cm, w or sensory_w, a lower bound above
            the upper bound, a bad mapping or ode_unfolds; at build time a
            wiring built for another number of input features.
        TypeError: wiring is not a wiring.

    Example:
        >>> from kerasncp_go import wirings
        >>> from kerasncp_go.tf import LTCCell, keras
        >>> cell = LTCCell(wirings.NCP(12, 6, 1, 6, 4, 6, 6))
        >>> model = keras.Sequential([keras.Input((None, 2)), keras.layers.RNN(cell, return_sequences=True)])
        >>> model.compile("adam", "mse")
    """

    def __init__(self, wiring, input_mapping: Optional[str] = "affine", output_mapping: Optional[str] = "affine",
                 ode_unfolds: int = 6, epsilon: float = 1e-8,
                 initialization_ranges: Optional[Mapping[str, Any]] = None, **kwargs) -> None:
        self._init_ranges = _rules.init_ranges(initialization_ranges)
        self._initialization_ranges = None if initialization_ranges is None else {
            k: (list(v) if isinstance(v, (tuple, list)) else v) for k, v in initialization_ranges.items()}
        self._in_code, self._out_code, ode_unfolds, epsilon = _rules.check_options(
            input_mapping, output_mapping, ode_unfolds, epsilon)
        wiring = as_wiring(wiring)
        kwargs.setdefault("name", "ltc_cell")
        super().__init__(**kwargs)
        self._wiring = wiring
        self._input_mapping = input_mapping
        self._output_mapping = output_mapping
        self._ode_unfolds = int(ode_unfolds)
        self._epsilon = float(epsilon)
        self._params: Dict[str, Any] = {}
        self._meta: Optional[_op.CellMeta] = None
        self.supports_jit = False  # a tf.numpy_function cannot be XLA-compiled

    # -- sizes -------------------------------------------------------------

    @property
    def wiring(self) -> _wirings.Wiring:
        """The wiring."""
        return self._wiring

    @property
    def meta(self) -> _op.CellMeta:
        """The built cell's fixed description (sizes, options, masks).

        Raises:
            ValueError: the cell is not built yet.
        """
        if self._meta is None:
            raise ValueError("LTCCell: the cell is not built yet (call it on inputs, or build(input_shape))")
        return self._meta

    # -- weights -----------------------------------------------------------

    def build(self, input_shape) -> None:
        """Builds the wiring for the input's feature count and creates the
        weights.

        Raises:
            ValueError: the wiring was built for another feature count.
        """
        input_dim, _ = feature_dim(input_shape)
        check_wiring_input(self._wiring, input_dim, "LTCCell")
        if not self._wiring.is_built():
            self._wiring.build(input_dim)
        self._wiring = as_wiring(self._wiring)
        dtype = tf.as_dtype(self.dtype or "float32")
        if dtype not in (tf.float32, tf.float64):
            dtype = tf.float32
        adj = np.asarray(self._wiring.adjacency_matrix)
        sens = np.asarray(self._wiring.sensory_adjacency_matrix)
        u, s, m = self.state_size, self._inputs, self.motor_size
        self._meta = _op.CellMeta(u, s, m, self._in_code, self._out_code, self._ode_unfolds, self._epsilon,
                                  adj, sens, dtype.as_numpy_dtype)
        npdt = dtype.as_numpy_dtype
        inits = _rules.initial_values(adj, sens, m, self._in_code, self._out_code, self._init_ranges)
        for name, init in inits.items():
            if not init.trainable:  # the sparsity masks: constants, as in the reference (not weights)
                self._params[name] = tf.constant(init.value, dtype=dtype)
                continue
            self._params[name] = self.add_weight(
                name=name, shape=init.shape, dtype=dtype,
                initializer=(_constant(init.value.astype(npdt)) if init.value is not None
                             else keras.initializers.RandomUniform(init.low, init.high)),
                constraint=keras.constraints.NonNeg() if name in _rules.NON_NEGATIVE else None)
        self.built = True

    def _param_tensors(self) -> List[tf.Tensor]:
        dt = self.meta.tf_dtype
        return [tf.cast(tf.convert_to_tensor(self._params[n]), dt) for n in self.meta.names]

    # -- computation -------------------------------------------------------

    def call(self, inputs, states, training=None):
        """One step.

        Args:
            inputs: (batch, features), or a pair (inputs, elapsed_time) with
                elapsed_time of shape (batch, 1), (batch,) or a scalar,
                finite and > 0.
            states: [state (batch, units)] (a bare tensor works too).

        Returns:
            (outputs (batch, motor_size), [new state (batch, units)]).

        Raises:
            ValueError: malformed inputs (the message names them).
        """
        x, elapsed = split_irregular(inputs, "LTCCell")
        h = states[0] if isinstance(states, (list, tuple)) else states
        dt = self.meta.tf_dtype
        x = tf.cast(x, dt)
        if x.shape.rank != 2:
            raise ValueError(f"LTCCell: inputs must have shape (batch, {self.sensory_size}) per step, got {x.shape}")
        if x.shape[-1] is not None and x.shape[-1] != self.sensory_size:
            raise ValueError(f"LTCCell: inputs have {x.shape[-1]} features but the wiring has "
                             f"input_dim={self.sensory_size}")
        # Results take the incoming state's dtype: under a mixed-precision
        # policy keras.layers.RNN loops in float16 while the cell computes in
        # its variables' dtype.
        loop_dt = tf.convert_to_tensor(h).dtype
        h = tf.cast(h, dt)
        x = tf.expand_dims(x, 1)
        e = None if elapsed is None else elapsed_tensor(elapsed, x, dt, "elapsed_time")
        y, h = _op.ltc_sequence(self.meta, x, h, e, self._param_tensors(), all_steps=False)
        if loop_dt != dt:
            y, h = tf.cast(y, loop_dt), tf.cast(h, loop_dt)
        return y, [h]

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """Zeros (batch, units), for both Keras flavours' calling
        conventions."""
        if batch_size is None and inputs is not None:
            batch_size = tf.shape(tf.nest.flatten(inputs)[0])[0]
        if batch_size is None:
            batch_size = inputs
        dt = self.meta.tf_dtype if self._meta is not None else (dtype or tf.float32)
        return [tf.zeros(tf.stack([batch_size, self.state_size]), dtype=dt)]

    # -- configuration -----------------------------------------------------

    def get_config(self) -> Dict[str, Any]:
        """Base layer config plus the wiring (class name and constructor
        arguments, or matrices for a custom wiring), the mappings,
        ode_unfolds, epsilon and initialization_ranges."""
        config = super().get_config()
        config["wiring"] = wiring_to_config(as_wiring(self._wiring))
        config.update(self.cell_options())
        return config

    def cell_options(self) -> Dict[str, Any]:
        """The cell options as constructor arguments (for the layers'
        get_config): mappings, ode_unfolds, epsilon, initialization_ranges."""
        return {"input_mapping": self._input_mapping, "output_mapping": self._output_mapping,
                "ode_unfolds": self._ode_unfolds, "epsilon": self._epsilon,
                "initialization_ranges": self._initialization_ranges}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "LTCCell":
        """Rebuilds a cell from :meth:`get_config`, or from keras-ncp 2.1.0's
        config (wiring matrices at the top level)."""
        config = dict(config)
        if "wiring" in config:
            wiring = wiring_from_config(config.pop("wiring"))
        else:  # keras-ncp's form (numpy arrays as saved by Keras: {"class_name": "__numpy__", ...})
            for k in ("adjacency_matrix", "sensory_adjacency_matrix"):
                v = config.get(k)
                if isinstance(v, Mapping) and "config" in v:
                    config[k] = v["config"].get("value")
            wiring = _wirings.Wiring.from_config(config)
            for k in ("adjacency_matrix", "sensory_adjacency_matrix", "input_dim", "output_dim", "units"):
                config.pop(k, None)
        return cls(wiring=wiring, **config)

    # -- graph ---------------------------------------------------------------

    def get_graph(self, include_sensory_neurons: bool = True):
        """The wiring as a networkx.DiGraph (see
        :meth:`kerasncp_go.wirings.Wiring.get_graph`), with each synapse's
        polarity read from the sign of the current erev / sensory_erev
        weights, as keras-ncp 2.1.0 does.

        Raises:
            ValueError: the cell is not built yet.
        """
        if not self.built:
            raise ValueError(
                "LTCCell layer is not built yet.\n"
                "This is probably because the input shape is not known yet.\n"
                "Consider calling the model.build(...) method using the shape of the inputs.")
        g = self._wiring.get_graph(include_sensory_neurons)
        erev = np.asarray(self._params["erev"].numpy())
        serev = np.asarray(self._params["sensory_erev"].numpy())
        for u, v, data in g.edges(data=True):
            dst = int(v.split("_")[1])
            src = int(u.split("_")[1])
            value = serev[src, dst] if u.startswith("sensory_") else erev[src, dst]
            data["polarity"] = "excitatory" if value >= 0.0 else "inhibitory"
        return g

    def draw_graph(self, layout: str = "shell", neuron_colors: Optional[Dict[str, str]] = None,
                   synapse_colors: Any = None, draw_labels: bool = False):
        """Draws :meth:`get_graph` into the current matplotlib axes with the
        wiring's drawing code (:meth:`kerasncp_go.wirings.Wiring.draw_graph`)
        and returns the legend patches.

        Raises:
            ValueError: unknown layout, or the cell is not built.
        """
        graph = self.get_graph()
        view: Any = _GraphView(self._wiring, graph)  # draws like a Wiring
        return _wirings.Wiring.draw_graph(view, layout=layout,
                                          neuron_colors=neuron_colors, synapse_colors=synapse_colors,
                                          draw_labels=draw_labels)


class _GraphView:
    """The wiring as Wiring.draw_graph sees it, with the cell's graph."""

    def __init__(self, wiring, graph):
        self.num_layers = wiring.num_layers
        self._graph = graph

    def get_graph(self, include_sensory_neurons: bool = True):
        return self._graph


def _constant(value):
    """A Keras initializer that returns `value` (the wiring's polarities,
    fixed initial values)."""

    def init(shape, dtype=None, **kwargs):
        return tf.constant(value, dtype=dtype or value.dtype)
    return init
