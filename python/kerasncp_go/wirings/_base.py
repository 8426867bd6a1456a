"""The base class of every wiring: a handle to a Go wiring, its matrices,
layers and dimensions, and its pickle and configuration forms."""

from __future__ import annotations

import ctypes
import weakref
from typing import Any, Dict, List, Optional

import numpy as np

from .. import _lib
from . import _graph
from ._args import as_int, as_polarity, dim_from
from ._config import go_config, new_handle, restore_config

__all__ = ["Wiring"]

_NEURON_TYPES = {0: "motor", 1: "command", 2: "inter"}


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
        self._new({"kind": "wiring", "units": as_int(units, "units")})

    # -- handle management -------------------------------------------------

    def _new(self, config: Dict[str, Any]) -> None:
        self._adopt(new_handle(config))

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

    def _info(self) -> _lib.WiringInfo:
        info = self._cache.get("info")
        if info is None:
            info = self._cache["info"] = _lib.WiringInfo()
            _lib.call("kncp_wiring_info", self._handle, ctypes.byref(info))
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
        cfg = state["config"]
        self.__dict__.update(state["extra"])
        if cfg["kind"] == "wiring":
            adj = np.ascontiguousarray(state["adjacency"], dtype=np.int32)
            sens = None if state["sensory"] is None else np.ascontiguousarray(state["sensory"], dtype=np.int32)
            self._from_matrices(cfg["units"], cfg.get("input_dim") or 0, cfg.get("output_dim") or 0, adj, sens)
            return
        self._new(restore_config(cfg))  # built again when input_dim is set
        adj = np.asarray(state["adjacency"])
        if not np.array_equal(adj, self.adjacency_matrix) or (
                state["sensory"] is not None
                and not np.array_equal(state["sensory"], np.asarray(self.sensory_adjacency_matrix))):
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
        return go_config(self._handle)

    # -- dimensions --------------------------------------------------------

    @property
    def units(self) -> int:
        """Number of neurons."""
        return self._info().units

    @property
    def input_dim(self) -> Optional[int]:
        """Number of input features, or None before :meth:`build`."""
        return self._info().input_dim or None

    @input_dim.setter
    def input_dim(self, value: int) -> None:
        self.set_input_dim(value)

    @property
    def output_dim(self) -> Optional[int]:
        """Number of output (motor) neurons, or None when unset."""
        info = self._info()
        d = info.output_dim
        if d == 0 and info.kind in (_lib.WIRING_NCP, _lib.WIRING_AUTONCP):
            return 0  # an NCP without motor neurons, as the reference allows
        return d or None

    @output_dim.setter
    def output_dim(self, value: int) -> None:
        self.set_output_dim(value)

    @property
    def num_layers(self) -> int:
        """3 for NCP wirings (inter, command, motor), else 1."""
        return self._info().num_layers

    @property
    def synapse_count(self) -> int:
        """Number of synapses between neurons."""
        return self._info().synapse_count

    @property
    def sensory_synapse_count(self) -> int:
        """Number of synapses from input features."""
        return self._info().sensory_synapse_count

    def is_built(self) -> bool:
        """Whether the input dimension is known."""
        return bool(self._info().built)

    def build(self, input_dim: int) -> None:
        """Fixes the input dimension and draws the synapses that depend on it.

        Args:
            input_dim: number of input features (an int; a shape tuple is
                read by its last entry).

        Raises:
            ValueError: the wiring was built with another input dimension.
        """
        _lib.call_long("kncp_wiring_build", self._handle, dim_from(input_dim))
        self._changed()

    def set_input_dim(self, input_dim: int) -> None:
        """Sets the input dimension without drawing synapses."""
        _lib.call("kncp_wiring_set_input_dim", self._handle, as_int(input_dim, "input_dim"))
        self._changed()

    def set_output_dim(self, output_dim: int) -> None:
        """Sets the number of output neurons (1 to units)."""
        _lib.call("kncp_wiring_set_output_dim", self._handle, as_int(output_dim, "output_dim"))
        self._changed()

    # -- synapses ----------------------------------------------------------

    def add_synapse(self, src: int, dest: int, polarity: int) -> None:
        """Sets the synapse from neuron `src` to neuron `dest` to `polarity`
        (-1 inhibitory, +1 excitatory).

        Raises:
            ValueError: an index or the polarity is out of range.
        """
        _lib.call("kncp_wiring_add_synapse", self._handle, as_int(src, "src"), as_int(dest, "dest"),
                  as_polarity(polarity))
        self._changed()

    def add_sensory_synapse(self, src: int, dest: int, polarity: int) -> None:
        """Sets the synapse from input feature `src` to neuron `dest`.

        Raises:
            ValueError: not built yet, or an index or the polarity is out of
                range.
        """
        _lib.call("kncp_wiring_add_sensory_synapse", self._handle, as_int(src, "src"), as_int(dest, "dest"),
                  as_polarity(polarity))
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
        _lib.call("kncp_wiring_layer", self._handle, as_int(layer_id, "layer_id"), arr.ctypes.data, u, ctypes.byref(n))
        return [int(i) for i in arr[: n.value]]

    def get_type_of_neuron(self, neuron_id: int) -> str:
        """"motor", "command" or "inter"."""
        t = ctypes.c_int32()
        _lib.call("kncp_wiring_neuron_type", self._handle, as_int(neuron_id, "neuron_id"), ctypes.byref(t))
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
            units = as_int(config["units"], "units")
            adj = _polarity_matrix(config["adjacency_matrix"], "adjacency_matrix")
            if adj.shape != (units, units):
                raise ValueError(f"adjacency_matrix must have shape ({units}, {units}), got {adj.shape}")
            sens = config.get("sensory_adjacency_matrix")
            input_dim = config.get("input_dim") or 0
            if sens is not None:
                sens = _polarity_matrix(sens, "sensory_adjacency_matrix")
                if sens.ndim != 2 or sens.shape[1] != units:
                    raise ValueError(f"sensory_adjacency_matrix must have shape (input_dim, {units}), got {sens.shape}")
                input_dim = input_dim or sens.shape[0]
                if sens.shape[0] != input_dim:
                    raise ValueError(f"sensory_adjacency_matrix has {sens.shape[0]} rows but input_dim is {input_dim}")
            elif input_dim:
                sens = np.zeros((input_dim, units), dtype=np.int32)
            w = Wiring.__new__(Wiring)
            w._from_matrices(units, as_int(input_dim, "input_dim"), as_int(config.get("output_dim") or 0, "output_dim"),
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
        return _graph.get_graph(self, include_sensory_neurons)

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
        return _graph.draw_graph(self, layout, neuron_colors, synapse_colors, draw_labels)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(units={self.units}, input_dim={self.input_dim}, "
                f"output_dim={self.output_dim}, synapses={self.synapse_count}, "
                f"sensory_synapses={self.sensory_synapse_count})")


def _free_wiring(handle: int) -> None:
    try:
        _lib.call("kncp_wiring_free", handle)
    except Exception:  # pragma: no cover - interpreter shutdown
        pass


def _polarity_matrix(m: Any, name: str) -> np.ndarray:
    """m as a C-contiguous int32 matrix of polarities, checked before the
    conversion: a cast would wrap 2**32+1 to 1 and truncate 0.5 to 0.

    Raises:
        ValueError: an entry that is not an integer in {-1, 0, 1} (or not a
            number), naming the matrix and the first such entry.
    """
    try:
        a = np.asarray(m)
        if a.dtype == object or a.dtype.kind not in "biuf":
            a = np.asarray(m, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"{name} must be a matrix of -1, 0 and 1, got entries that are not numbers ({e})") from None
    bad = ~np.isin(a, (-1, 0, 1)) if a.size else np.zeros(a.shape, bool)
    if a.dtype.kind == "b" or bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.any() else ()
        what = f"{a[where].item()!r} at {where}" if bad.any() else f"dtype {a.dtype}"
        raise ValueError(f"{name} entries must be the integers -1, 0 or 1, got {what}")
    return np.ascontiguousarray(a, dtype=np.int32)
