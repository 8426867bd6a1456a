"""Wirings of Neural Circuit Policies, backed by the Go core.

The classes and members are those of ``kerasncp.wirings`` (keras-ncp 2.1.0)
plus ncps 1.0.1's additions (``AutoNCP``, ``synapse_count``,
``sensory_synapse_count``, ``get_graph``, ``draw_graph``, constructor-form
``get_config``). The same seed gives the same matrices, bit for bit.

Deliberate differences from the reference (see the README):

* ``build`` is idempotent: building again with the same input dimension
  changes nothing (the reference draws a second set of synapses), and a
  different dimension raises ``ValueError``.
* ``NCP.get_config`` returns the constructor arguments, seed included, so that
  ``NCP.from_config(ncp.get_config())`` rebuilds the same wiring (the
  reference returns neuron id lists and re-seeds its generator).
* The matrices are read-only views of the Go wiring's state: change them with
  ``add_synapse`` / ``add_sensory_synapse``.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import weakref
from typing import Any, Dict, List, Optional

import numpy as np

from . import _lib

__all__ = ["Wiring", "FullyConnected", "Random", "NCP", "AutoNCP", "as_wiring"]

_NEURON_TYPES = {0: "motor", 1: "command", 2: "inter"}
_KINDS = {0: "wiring", 1: "fully_connected", 2: "random", 3: "ncp", 4: "autoncp"}


_INT64 = (-(1 << 63), (1 << 63) - 1)


def _as_int(value: Any, name: str, lo: int = _INT64[0], hi: int = _INT64[1]) -> int:
    """value as an int in [lo, hi] (by default what the C ABI's int64_t
    holds, so that nothing wraps on the way)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    v = int(value)
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {v}")
    return v


def _as_seed(value: Any, name: str, bits: int) -> int:
    """A seed in [0, 2**bits-1]; None draws one from the operating system,
    as numpy does for a None seed (the drawn seed then shows in
    get_config, so the wiring can be rebuilt)."""
    if value is None:
        return int.from_bytes(os.urandom(bits // 8), "little")
    v = _as_int(value, name, -(1 << 64), 1 << 64)
    if not 0 <= v < (1 << bits):
        raise ValueError(f"{name} must be in [0, 2**{bits}-1], got {v}")
    return v


def _as_fraction(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v}")
    return v


def _as_polarity(value: Any) -> int:
    """-1 or +1 (numbers equal to them are accepted, as in the reference)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value not in (-1, 1):
        raise ValueError(f"polarity must be -1 or 1, got {value!r}")
    return int(value)


def _dim_from(input_dim: Any) -> int:
    """Accepts an int, or a shape whose last entry is the feature count (what
    keras-ncp 2.0 and the paddle binding pass)."""
    if isinstance(input_dim, (tuple, list)) or hasattr(input_dim, "as_list"):
        dims = list(input_dim.as_list() if hasattr(input_dim, "as_list") else input_dim)
        if not dims or dims[-1] is None:
            raise ValueError(f"input_dim: cannot read a feature count from the shape {input_dim!r}")
        input_dim = dims[-1]
    return _as_int(input_dim, "input_dim")


class Wiring:
    """A wiring of `units` neurons without synapses (keras-ncp's base class).

    Add synapses with :meth:`add_synapse` and, once the input dimension is
    known (:meth:`build` or :meth:`set_input_dim`), :meth:`add_sensory_synapse`.
    Subclass it to build custom wirings, as with keras-ncp.

    Args:
        units: number of neurons, >= 1.

    Raises:
        ValueError: `units` out of range.

    Example:
        >>> w = Wiring(3)
        >>> w.add_synapse(0, 1, -1)
        >>> w.synapse_count
        1
    """

    def __init__(self, units: int) -> None:
        self._new({"kind": "wiring", "units": _as_int(units, "units")})

    # -- handle management -------------------------------------------------

    def _new(self, config: Dict[str, Any]) -> None:
        h = ctypes.c_uint64()
        _lib.call("kncp_wiring_new", json.dumps(config).encode(), ctypes.byref(h))
        self._adopt(h.value)

    def _adopt(self, handle: int) -> None:
        old = getattr(self, "_handle_finalizer", None)
        if old is not None:
            old()
        self._handle = handle
        self._handle_finalizer = weakref.finalize(self, _free_wiring, handle)
        self._cache: Dict[str, Any] = {}

    @property
    def handle(self) -> int:
        """The Go wiring handle (for other kerasncp_go modules)."""
        return self._handle

    def _info(self) -> List[int]:
        info = self._cache.get("info")
        if info is None:
            arr = (ctypes.c_int64 * 7)()
            _lib.call("kncp_wiring_info", self._handle, arr)
            info = self._cache["info"] = list(arr)
        return info

    def _changed(self) -> None:
        self._cache.clear()

    def __copy__(self):
        return self.__deepcopy__({})

    def __deepcopy__(self, memo):
        h = ctypes.c_uint64()
        _lib.call("kncp_wiring_clone", self._handle, ctypes.byref(h))
        new = object.__new__(type(self))
        for k, v in self.__dict__.items():
            if k not in ("_handle", "_handle_finalizer", "_cache"):
                new.__dict__[k] = v
        new._adopt(h.value)
        return new

    def __getstate__(self):
        # Pickled as constructor arguments plus the current matrices, so that
        # an unpickled wiring equals this one whatever was added by hand.
        return {"config": self._go_config(), "adjacency": self.adjacency_matrix,
                "sensory": self.sensory_adjacency_matrix, "extra": {
                    k: v for k, v in self.__dict__.items() if k not in ("_handle", "_handle_finalizer", "_cache")}}

    def __setstate__(self, state):
        cfg = dict(state["config"])
        units = cfg["units"]
        input_dim = cfg.get("input_dim") or 0
        output_dim = cfg.get("output_dim") or 0
        kind = cfg["kind"]
        args = {k: v for k, v in cfg.items() if k not in ("units", "input_dim", "output_dim", "kind")}
        self.__dict__.update(state["extra"])
        if kind == "wiring":
            adj = np.ascontiguousarray(state["adjacency"], dtype=np.int32)
            sens = None if state["sensory"] is None else np.ascontiguousarray(state["sensory"], dtype=np.int32)
            self._from_matrices(units, input_dim, output_dim, adj, sens)
            return
        if kind in ("fully_connected", "random", "autoncp"):
            args["units"] = units
        if kind in ("fully_connected", "random"):
            args["output_dim"] = cfg.get("output_dim")
        self._new({"kind": kind, **args})
        if input_dim:
            self.build(input_dim)
        adj = np.asarray(state["adjacency"])
        if not np.array_equal(adj, self.adjacency_matrix) or (
                state["sensory"] is not None and not np.array_equal(state["sensory"], self.sensory_adjacency_matrix)):
            # Synapses were changed by hand after construction: keep them.
            for (src, dst) in zip(*np.nonzero(adj != self.adjacency_matrix)):
                if adj[src, dst] != 0:
                    self.add_synapse(int(src), int(dst), int(adj[src, dst]))
                else:
                    raise ValueError("wiring: cannot restore a removed synapse")
            if state["sensory"] is not None:
                sens = np.asarray(state["sensory"])
                for (src, dst) in zip(*np.nonzero(sens != self.sensory_adjacency_matrix)):
                    self.add_sensory_synapse(int(src), int(dst), int(sens[src, dst]))

    def _from_matrices(self, units, input_dim, output_dim, adj, sens) -> None:
        h = ctypes.c_uint64()
        _lib.call("kncp_wiring_from_matrices", units, input_dim, output_dim,
                  adj.ctypes.data, None if sens is None else sens.ctypes.data, ctypes.byref(h))
        self._adopt(h.value)

    def _go_config(self) -> Dict[str, Any]:
        n = ctypes.c_int64()
        buf = ctypes.create_string_buffer(4096)
        try:
            _lib.call("kncp_wiring_config", self._handle, buf, len(buf), ctypes.byref(n))
        except ValueError:
            buf = ctypes.create_string_buffer(n.value + 1)
            _lib.call("kncp_wiring_config", self._handle, buf, len(buf), ctypes.byref(n))
        return json.loads(buf.value.decode())

    # -- dimensions --------------------------------------------------------

    @property
    def units(self) -> int:
        """Number of neurons."""
        return self._info()[0]

    @property
    def input_dim(self) -> Optional[int]:
        """Number of input features, or None before :meth:`build`."""
        return self._info()[1] or None

    @input_dim.setter
    def input_dim(self, value: int) -> None:
        self.set_input_dim(value)

    @property
    def output_dim(self) -> Optional[int]:
        """Number of output (motor) neurons, or None when unset."""
        d = self._info()[2]
        if d == 0 and self._info()[6] in (3, 4):
            return 0  # an NCP without motor neurons, as the reference allows
        return d or None

    @output_dim.setter
    def output_dim(self, value: int) -> None:
        self.set_output_dim(value)

    @property
    def num_layers(self) -> int:
        """3 for NCP wirings (inter, command, motor), else 1."""
        return self._info()[3]

    @property
    def synapse_count(self) -> int:
        """Number of synapses between neurons."""
        return self._info()[4]

    @property
    def sensory_synapse_count(self) -> int:
        """Number of synapses from input features."""
        return self._info()[5]

    def is_built(self) -> bool:
        """Whether the input dimension is known."""
        return self.input_dim is not None

    def build(self, input_dim: int) -> None:
        """Fixes the input dimension and draws the synapses that depend on it.

        Args:
            input_dim: number of input features (an int; a shape tuple is
                read by its last entry).

        Raises:
            ValueError: the wiring was built with another input dimension.
        """
        _lib.call("kncp_wiring_build", self._handle, _dim_from(input_dim))
        self._changed()

    def set_input_dim(self, input_dim: int) -> None:
        """Sets the input dimension without drawing synapses."""
        _lib.call("kncp_wiring_set_input_dim", self._handle, _as_int(input_dim, "input_dim"))
        self._changed()

    def set_output_dim(self, output_dim: int) -> None:
        """Sets the number of output neurons (1 to units)."""
        _lib.call("kncp_wiring_set_output_dim", self._handle, _as_int(output_dim, "output_dim"))
        self._changed()

    # -- synapses ----------------------------------------------------------

    def add_synapse(self, src: int, dest: int, polarity: int) -> None:
        """Sets the synapse from neuron `src` to neuron `dest` to `polarity`
        (-1 inhibitory, +1 excitatory).

        Raises:
            ValueError: an index or the polarity is out of range.
        """
        _lib.call("kncp_wiring_add_synapse", self._handle, _as_int(src, "src"), _as_int(dest, "dest"),
                  _as_polarity(polarity))
        self._changed()

    def add_sensory_synapse(self, src: int, dest: int, polarity: int) -> None:
        """Sets the synapse from input feature `src` to neuron `dest`.

        Raises:
            ValueError: not built yet, or an index or the polarity is out of
                range.
        """
        _lib.call("kncp_wiring_add_sensory_synapse", self._handle, _as_int(src, "src"), _as_int(dest, "dest"),
                  _as_polarity(polarity))
        self._changed()

    @property
    def adjacency_matrix(self) -> np.ndarray:
        """(units, units) int32 polarities, [src, dest]; read-only."""
        m = self._cache.get("adj")
        if m is None:
            u = self.units
            m = np.empty((u, u), dtype=np.int32)
            _lib.call("kncp_wiring_adjacency", self._handle, m.ctypes.data, m.size)
            m.flags.writeable = False
            self._cache["adj"] = m
        return m

    @property
    def sensory_adjacency_matrix(self) -> Optional[np.ndarray]:
        """(input_dim, units) int32 polarities, or None before build;
        read-only."""
        if not self.is_built():
            return None
        m = self._cache.get("sens")
        if m is None:
            m = np.empty((self.input_dim, self.units), dtype=np.int32)
            _lib.call("kncp_wiring_sensory_adjacency", self._handle, m.ctypes.data, m.size)
            m.flags.writeable = False
            self._cache["sens"] = m
        return m

    def erev_initializer(self, shape=None, dtype=None) -> np.ndarray:
        """A copy of the adjacency matrix (the initial reversal potentials)."""
        return np.array(self.adjacency_matrix, copy=True)

    def sensory_erev_initializer(self, shape=None, dtype=None) -> Optional[np.ndarray]:
        """A copy of the sensory adjacency matrix."""
        m = self.sensory_adjacency_matrix
        return None if m is None else np.array(m, copy=True)

    # -- layers ------------------------------------------------------------

    def get_neurons_of_layer(self, layer_id: int) -> List[int]:
        """Neuron ids of a layer (NCP: 0 inter, 1 command, 2 motor).

        Raises:
            ValueError: unknown layer.
        """
        u = self.units
        arr = np.empty(u, dtype=np.int64)
        n = ctypes.c_int64()
        _lib.call("kncp_wiring_layer", self._handle, _as_int(layer_id, "layer_id"), arr.ctypes.data, u, ctypes.byref(n))
        return [int(i) for i in arr[: n.value]]

    def get_type_of_neuron(self, neuron_id: int) -> str:
        """"motor", "command" or "inter"."""
        t = ctypes.c_int32()
        _lib.call("kncp_wiring_neuron_type", self._handle, _as_int(neuron_id, "neuron_id"), ctypes.byref(t))
        return _NEURON_TYPES[t.value]

    # -- configuration -----------------------------------------------------

    def get_config(self) -> Dict[str, Any]:
        """The matrix form of keras-ncp 2.1.0: adjacency_matrix,
        sensory_adjacency_matrix (lists), input_dim, output_dim, units.
        Subclasses return their constructor arguments instead."""
        sens = self.sensory_adjacency_matrix
        return {
            "adjacency_matrix": self.adjacency_matrix.tolist(),
            "sensory_adjacency_matrix": None if sens is None else sens.tolist(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "units": self.units,
        }

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Wiring":
        """Rebuilds a wiring from :meth:`get_config`'s output: the matrix form
        (keras-ncp 2.1.0, any class) gives a base :class:`Wiring`; the
        constructor form (ncps) gives ``cls(**config)``, unbuilt.

        Raises:
            ValueError / TypeError: inconsistent or unknown keys.
        """
        if "adjacency_matrix" in config:
            units = _as_int(config["units"], "units")
            adj = np.ascontiguousarray(np.asarray(config["adjacency_matrix"]), dtype=np.int32)
            if adj.shape != (units, units):
                raise ValueError(f"adjacency_matrix must have shape ({units}, {units}), got {adj.shape}")
            sens = config.get("sensory_adjacency_matrix")
            input_dim = config.get("input_dim") or 0
            if sens is not None:
                sens = np.ascontiguousarray(np.asarray(sens), dtype=np.int32)
                if sens.ndim != 2 or sens.shape[1] != units:
                    raise ValueError(f"sensory_adjacency_matrix must have shape (input_dim, {units}), got {sens.shape}")
                input_dim = input_dim or sens.shape[0]
                if sens.shape[0] != input_dim:
                    raise ValueError(f"sensory_adjacency_matrix has {sens.shape[0]} rows but input_dim is {input_dim}")
            elif input_dim:
                sens = np.zeros((input_dim, units), dtype=np.int32)
            w = Wiring.__new__(Wiring)
            w._from_matrices(units, _as_int(input_dim, "input_dim"), _as_int(config.get("output_dim") or 0, "output_dim"),
                             adj, sens)
            return w
        if cls is Wiring:
            if set(config) - {"units"}:
                raise ValueError("Wiring.from_config needs the matrix form (adjacency_matrix, ...) of "
                                 "Wiring.get_config(); for a subclass's constructor arguments call that class's "
                                 f"from_config (e.g. AutoNCP.from_config); got keys {sorted(config)}")
            return Wiring(config["units"])
        return cls(**config)

    # -- graph -------------------------------------------------------------

    def get_graph(self, include_sensory_neurons: bool = True):
        """A networkx.DiGraph of the wiring: nodes "neuron_i" (attribute
        neuron_type) and "sensory_i", edges with polarity "excitatory" or
        "inhibitory". As in the reference, sensory nodes are always included.

        Raises:
            ValueError: the wiring is not built.
        """
        if not self.is_built():
            raise ValueError("Wiring is not built yet. Call build(input_dim) or connect it to data first.")
        import networkx as nx

        g = nx.DiGraph()
        for i in range(self.units):
            g.add_node(f"neuron_{i}", neuron_type=self.get_type_of_neuron(i))
        for i in range(self.input_dim):
            g.add_node(f"sensory_{i}", neuron_type="sensory")
        sens, adj = self.sensory_adjacency_matrix, self.adjacency_matrix
        for src, dest in zip(*np.nonzero(sens)):
            g.add_edge(f"sensory_{src}", f"neuron_{dest}",
                       polarity="excitatory" if sens[src, dest] >= 0 else "inhibitory")
        for src, dest in zip(*np.nonzero(adj)):
            g.add_edge(f"neuron_{src}", f"neuron_{dest}",
                       polarity="excitatory" if adj[src, dest] >= 0 else "inhibitory")
        return g

    def draw_graph(self, layout: str = "shell", neuron_colors: Optional[Dict[str, str]] = None,
                   synapse_colors: Any = None, draw_labels: bool = False):
        """Draws the wiring into the current matplotlib axes and returns the
        legend patches, with the reference's arguments and default colours
        (excitatory green, inhibitory red; inter blue, motor orange, sensory
        olive). Command neurons of an NCP are purple with a legend entry of
        their own (the reference draws them in the inter colour).

        Args:
            layout: "kamada", "circular", "random", "shell", "spring",
                "spectral" or "spiral".
            neuron_colors: colour per neuron type, merged over the defaults.
            synapse_colors: one colour for all synapses, or a dict with
                "excitatory" and "inhibitory".
            draw_labels: draw node names.

        Raises:
            ValueError: unknown layout, or the wiring is not built.
        """
        import matplotlib.patches as mpatches
        import networkx as nx

        if isinstance(synapse_colors, str):
            synapse_colors = {"excitatory": synapse_colors, "inhibitory": synapse_colors}
        elif synapse_colors is None:
            synapse_colors = {"excitatory": "tab:green", "inhibitory": "tab:red"}
        defaults = {"inter": "tab:blue", "motor": "tab:orange", "sensory": "tab:olive"}
        if self.num_layers == 3:
            defaults["command"] = "tab:purple"
        if neuron_colors is None:
            neuron_colors = {}
        for k, v in defaults.items():
            neuron_colors.setdefault(k, v)
        layouts = {
            "kamada": nx.kamada_kawai_layout, "circular": nx.circular_layout, "random": nx.random_layout,
            "shell": nx.shell_layout, "spring": nx.spring_layout, "spectral": nx.spectral_layout,
            "spiral": nx.spiral_layout,
        }
        if layout not in layouts:
            raise ValueError(f"layout must be one of {sorted(layouts)}, got {layout!r}")
        g = self.get_graph()
        pos = layouts[layout](g)
        legend = [mpatches.Patch(color=c, label=f"{k.capitalize()} neurons") for k, c in neuron_colors.items()]
        for node, data in g.nodes(data=True):
            nx.draw_networkx_nodes(g, pos, [node], node_color=neuron_colors.get(data["neuron_type"], "tab:blue"))
        if draw_labels:
            nx.draw_networkx_labels(g, pos)
        for u, v, data in g.edges(data=True):
            nx.draw_networkx_edges(g, pos, [(u, v)], edge_color=synapse_colors[data["polarity"]])
        return legend

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(units={self.units}, input_dim={self.input_dim}, "
                f"output_dim={self.output_dim}, synapses={self.synapse_count}, "
                f"sensory_synapses={self.sensory_synapse_count})")


def as_wiring(wiring: Any, input_dim: Optional[int] = None) -> Any:
    """A kerasncp_go wiring as it is. A keras-ncp or ncps wiring is built
    for input_dim (when given and it is not built yet) and, once built,
    converted into a kerasncp_go :class:`Wiring` with the same matrices; an
    unbuilt one is returned as it is, to be converted when built (its
    synapses may be drawn at build time).

    Raises:
        TypeError: not a wiring.
    """
    if isinstance(wiring, Wiring):
        return wiring
    if hasattr(wiring, "adjacency_matrix") and hasattr(wiring, "units") and hasattr(wiring, "build"):
        if input_dim is not None and getattr(wiring, "input_dim", None) is None:
            wiring.build(input_dim)
        if getattr(wiring, "input_dim", None) is None:
            return wiring
        return Wiring.from_config({
            "units": int(wiring.units), "adjacency_matrix": np.asarray(wiring.adjacency_matrix),
            "sensory_adjacency_matrix": np.asarray(wiring.sensory_adjacency_matrix),
            "input_dim": int(wiring.input_dim), "output_dim": wiring.output_dim})
    raise TypeError(f"wiring must be a kerasncp_go.wirings.Wiring (or a keras-ncp / ncps wiring), "
                    f"got {type(wiring).__name__}")


def _free_wiring(handle: int) -> None:
    try:
        _lib.call("kncp_wiring_free", handle)
    except Exception:  # pragma: no cover - interpreter shutdown
        pass


class FullyConnected(Wiring):
    """Every neuron connected to every neuron, polarity +1 with probability
    2/3 (keras-ncp's FullyConnected).

    Args:
        units: number of neurons.
        output_dim: number of output neurons (None: all).
        erev_init_seed: seed of the polarities (numpy default_rng).
        self_connections: whether neurons connect to themselves.
    """

    def __init__(self, units: int, output_dim: Optional[int] = None, erev_init_seed: int = 1111,
                 self_connections: bool = True) -> None:
        self.self_connections = bool(self_connections)
        self._args = {"units": _as_int(units, "units"),
                      "output_dim": None if output_dim is None else _as_int(output_dim, "output_dim"),
                      "erev_init_seed": _as_seed(erev_init_seed, "erev_init_seed", 64),
                      "self_connections": bool(self_connections)}
        self._new({"kind": "fully_connected", **self._args})

    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments (ncps form; output_dim resolved)."""
        return {**self._args, "output_dim": self.output_dim}


class Random(Wiring):
    """round(units²·(1−sparsity_level)) random synapses, polarity +1 with
    probability 2/3 (keras-ncp's Random).

    Args:
        units: number of neurons.
        output_dim: number of output neurons (None: all).
        sparsity_level: fraction of absent synapses, in [0, 1).
        random_seed: seed (numpy default_rng).

    Raises:
        ValueError: sparsity_level outside [0, 1).
    """

    def __init__(self, units: int, output_dim: Optional[int] = None, sparsity_level: float = 0.0,
                 random_seed: int = 1111) -> None:
        self.sparsity_level = _as_fraction(sparsity_level, "sparsity_level")
        self._args = {"units": _as_int(units, "units"),
                      "output_dim": None if output_dim is None else _as_int(output_dim, "output_dim"),
                      "sparsity_level": self.sparsity_level,
                      "random_seed": _as_seed(random_seed, "random_seed", 64)}
        self._new({"kind": "random", **self._args})

    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments (ncps form; output_dim resolved)."""
        return {**self._args, "output_dim": self.output_dim}


class NCP(Wiring):
    """A Neural Circuit Policy: sensory → inter → command → motor, with
    recurrent command synapses (keras-ncp's NCP). Neuron ids: motor first,
    then command, then inter.

    Args:
        inter_neurons, command_neurons, motor_neurons: layer sizes.
        sensory_fanout: inter neurons each input feature reaches.
        inter_fanout: command neurons each inter neuron reaches.
        recurrent_command_synapses: command→command synapses drawn.
        motor_fanin: command neurons each motor neuron receives.
        seed: seed (numpy RandomState), in [0, 2**32-1].

    Raises:
        ValueError: a size or fanout out of range (the message names it).
    """

    def __init__(self, inter_neurons: int, command_neurons: int, motor_neurons: int, sensory_fanout: int,
                 inter_fanout: int, recurrent_command_synapses: int, motor_fanin: int, seed: int = 22222) -> None:
        names = ("inter_neurons", "command_neurons", "motor_neurons", "sensory_fanout", "inter_fanout",
                 "recurrent_command_synapses", "motor_fanin", "seed")
        values = (inter_neurons, command_neurons, motor_neurons, sensory_fanout, inter_fanout,
                  recurrent_command_synapses, motor_fanin, seed)
        self._args = {n: _as_int(v, n) for n, v in zip(names[:-1], values[:-1])}
        self._args["seed"] = _as_seed(seed, "seed", 32)
        self._new({"kind": "ncp", **self._args})

    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments, seed included (the reference loses the
        seed; this round-trips)."""
        return dict(self._args)


class AutoNCP(NCP):
    """An NCP sized from a neuron count, an output size and a sparsity level
    (ncps's AutoNCP).

    Args:
        units: total neurons.
        output_size: motor neurons, at most units-3.
        sparsity_level: in [0.1, 1.0].
        seed: seed (numpy RandomState), in [0, 2**32-1].
    """

    def __init__(self, units: int, output_size: int, sparsity_level: float = 0.5, seed: int = 22222) -> None:
        self._args = {"units": _as_int(units, "units"), "output_size": _as_int(output_size, "output_size"),
                      "sparsity_level": _as_fraction(sparsity_level, "sparsity_level"),
                      "seed": _as_seed(seed, "seed", 32)}
        self._new({"kind": "autoncp", **self._args})
