"""One serialisation of a wiring, shared by the C ABI, pickle, Keras
``get_config`` and ``model.json``.

The Go library owns it: ``kncp_wiring_config`` writes a wiring's kind and
constructor arguments (defaults resolved) plus its dimensions, as one JSON
object per kind, and ``kncp_wiring_new`` reads that object back strictly
(unknown keys and wrongly typed values are errors naming the key). Python
only selects, per class, the keys the reference's ``get_config`` returns.
"""

from __future__ import annotations

import ctypes
import json
from typing import Any, Dict, Optional

import numpy as np

from .. import _lib

__all__ = ["go_config", "new_handle", "reference_config", "restore_config", "as_wiring", "REFERENCE_KEYS", "KINDS"]

#: kncp_wiring_info_t's kind codes to the JSON kind names.
KINDS = {_lib.WIRING_CUSTOM: "wiring", _lib.WIRING_FULLY_CONNECTED: "fully_connected", _lib.WIRING_RANDOM: "random",
         _lib.WIRING_NCP: "ncp", _lib.WIRING_AUTONCP: "autoncp"}

#: The keys of each kind's get_config, in the reference's order (ncps
#: 1.0.1's constructor form; NCP's seed added so that it round-trips).
REFERENCE_KEYS = {
    "fully_connected": ("units", "output_dim", "erev_init_seed", "self_connections"),
    "random": ("units", "output_dim", "sparsity_level", "random_seed"),
    "ncp": ("inter_neurons", "command_neurons", "motor_neurons", "sensory_fanout", "inter_fanout",
            "recurrent_command_synapses", "motor_fanin", "seed"),
    "autoncp": ("units", "output_size", "sparsity_level", "seed"),
}


def new_handle(config: Dict[str, Any]) -> int:
    """A new Go wiring from its JSON form (kind plus arguments)."""
    h = ctypes.c_uint64()
    _lib.call_long("kncp_wiring_new", json.dumps(config).encode(), ctypes.byref(h))
    return h.value


def go_config(handle: int) -> Dict[str, Any]:
    """The wiring's JSON form, as kncp_wiring_config writes it."""
    n = ctypes.c_int64()
    buf = ctypes.create_string_buffer(4096)
    try:
        _lib.call("kncp_wiring_config", handle, buf, len(buf), ctypes.byref(n))
    except ValueError:
        buf = ctypes.create_string_buffer(n.value + 1)
        _lib.call("kncp_wiring_config", handle, buf, len(buf), ctypes.byref(n))
    return json.loads(buf.value.decode())


def reference_config(handle: int, output_dim: Any = None) -> Dict[str, Any]:
    """The reference's get_config keys of a built-in kind, from the Go form;
    output_dim (FullyConnected, Random) is the resolved one given."""
    cfg = go_config(handle)
    out = {k: cfg[k] for k in REFERENCE_KEYS[cfg["kind"]]}
    if "output_dim" in out:
        out["output_dim"] = output_dim
    return out


def restore_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """A pickled JSON form made ready for kncp_wiring_new: an NCP's output
    dimension may have been changed after construction (set_output_dim),
    so it is not checked against the arguments on the way back."""
    cfg = dict(config)
    if cfg.get("kind") in ("ncp", "autoncp"):
        cfg.pop("output_dim", None)
    return cfg


def as_wiring(wiring: Any, input_dim: Optional[int] = None) -> Any:
    """A kerasncp_go wiring as it is. A keras-ncp or ncps wiring is built
    for input_dim (when given and it is not built yet) and, once built,
    converted into a kerasncp_go :class:`Wiring` with the same matrices; an
    unbuilt one is returned as it is, to be converted when built (its
    synapses may be drawn at build time).

    Raises:
        TypeError: not a wiring.
    """
    from ._base import Wiring  # _base imports this module

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
