"""Saved models: a folder with ``model.npz`` (the parameters under the
reference's names) and ``model.json`` (the wiring and the cell options).

``model.npz`` is what :meth:`kerasncp_go.LTCCell.save_npz` writes: np.load
it and pass it to the ``load_state_dict`` of kerasncp_go.torch.LTCCell or
kerasncp.torch.LTCCell.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from .. import wirings as W
from ..ltc import LTCCell
from .data import read_npz

__all__ = ["MODEL_FORMAT", "MODEL_FORMAT_VERSION", "WIRING_KINDS", "make_wiring", "wiring_spec", "wiring_from_spec",
           "save_model", "read_model_config", "load_model"]

#: The "format" entry of model.json.
MODEL_FORMAT = "kerasncp-go/model"
MODEL_FORMAT_VERSION = 1


#: CLI wiring kinds and their classes.
WIRING_KINDS = {"ncp": W.NCP, "autoncp": W.AutoNCP, "fc": W.FullyConnected, "random": W.Random}


def make_wiring(kind: str, **args: Any) -> W.Wiring:
    """A wiring from a kind ("ncp", "autoncp", "fc", "random") and its
    constructor's keyword arguments.

    Raises:
        ValueError: unknown kind, or arguments the wiring rejects.
    """
    if kind not in WIRING_KINDS:
        raise ValueError(f"unknown wiring kind {kind!r}; choose one of {', '.join(WIRING_KINDS)}")
    try:
        return WIRING_KINDS[kind](**args)
    except TypeError as e:
        raise ValueError(f"wiring {kind}: {e}") from None


def wiring_spec(wiring: W.Wiring) -> Dict[str, Any]:
    """The wiring as a JSON-able dict: {"kind", "args"} for the four built-in
    kinds (constructor arguments), {"kind": "custom", "matrices": ...} for
    anything else (adjacency and sensory adjacency matrices)."""
    for kind, cls in WIRING_KINDS.items():
        if type(wiring) is cls:
            return {"kind": kind, "args": wiring.get_config()}
    return {"kind": "custom", "class": type(wiring).__name__, "matrices": W.Wiring.get_config(wiring)}


def wiring_from_spec(spec: Mapping[str, Any], input_dim: Optional[int] = None) -> W.Wiring:
    """The inverse of :func:`wiring_spec`; builds the wiring for input_dim
    when given.

    Raises:
        ValueError: a malformed spec.
    """
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise ValueError("the wiring entry must be an object with a 'kind'")
    kind = spec["kind"]
    if kind == "custom":
        w = W.Wiring.from_config(dict(spec["matrices"]))
    else:
        args = spec.get("args", {})
        if not isinstance(args, Mapping):
            raise ValueError("the wiring's 'args' must be an object")
        w = make_wiring(kind, **args)
    if input_dim is not None and not w.is_built():
        w.build(int(input_dim))
    return w


def _cell_options(cell: LTCCell) -> Dict[str, Any]:
    return {"input_dim": cell.sensory_size, "output_dim": cell.motor_size, "units": cell.state_size,
            "input_mapping": cell.input_mapping, "output_mapping": cell.output_mapping,
            "ode_unfolds": cell.ode_unfolds, "epsilon": cell.epsilon,
            "implicit_param_constraints": cell.implicit_param_constraints, "dtype": str(np.dtype(cell.dtype))}


def save_model(folder: str, cell: LTCCell, **extra: Any) -> Tuple[str, str]:
    """Writes model.npz (parameters, reference names) and model.json (wiring
    spec, cell options, and `extra` entries such as "task" or "training")
    into folder, which must exist.

    Returns:
        the two paths.
    """
    npz = os.path.join(folder, "model.npz")
    js = os.path.join(folder, "model.json")
    cell.save_npz(npz)
    from .. import __version__

    doc = {"format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION, "kerasncp_go_version": __version__,
           "wiring": wiring_spec(cell.wiring), "cell": _cell_options(cell)}
    doc.update(extra)
    with open(js, "w") as f:
        json.dump(doc, f, indent=1, default=_json_default)
        f.write("\n")
    return npz, js


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def read_model_config(folder: str) -> Dict[str, Any]:
    """The parsed model.json of a saved model.

    Raises:
        FileNotFoundError: no model.json in folder.
        ValueError: not a kerasncp-go model file.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: no such model folder (train one with: kerasncp-go train --out {folder})")
    js = os.path.join(folder, "model.json")
    if not os.path.exists(js):
        raise FileNotFoundError(f"{folder} holds no model.json; is it a folder written by kerasncp-go train?")
    try:
        with open(js) as f:
            doc = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{js} is not valid JSON ({e})") from None
    except RecursionError:
        raise ValueError(f"{js} is nested too deeply to be a model description") from None
    if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
        raise ValueError(f"{js} is not a kerasncp-go model description (no \"format\": \"{MODEL_FORMAT}\")")
    if doc.get("format_version", 0) > MODEL_FORMAT_VERSION:
        raise ValueError(f"{js} has format version {doc['format_version']}; this kerasncp-go reads up to "
                         f"{MODEL_FORMAT_VERSION}")
    for key in ("wiring", "cell"):
        if not isinstance(doc.get(key), dict):
            raise ValueError(f"{js} has no '{key}' object")
    return doc


def load_model(folder: str) -> Tuple[W.Wiring, LTCCell]:
    """Loads a model saved by :func:`save_model` (``kerasncp-go train``).

    Args:
        folder: the folder holding model.json and model.npz.

    Returns:
        (wiring, cell): the built wiring and a :class:`kerasncp_go.LTCCell`
        with the saved parameters.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: the files are malformed or do not match each other.

    Example:
        >>> wiring, cell = load_model("runs/sine")  # doctest: +SKIP
        >>> y, h = cell.forward_sequence(x)           # doctest: +SKIP
    """
    doc = read_model_config(folder)
    c = doc["cell"]
    try:
        wiring = wiring_from_spec(doc["wiring"], c["input_dim"])
        mapping = {"none": None}
        cell = LTCCell(wiring, input_mapping=mapping.get(c["input_mapping"], c["input_mapping"]),
                       output_mapping=mapping.get(c["output_mapping"], c["output_mapping"]),
                       ode_unfolds=c["ode_unfolds"], epsilon=c["epsilon"],
                       implicit_param_constraints=c["implicit_param_constraints"], dtype=c.get("dtype", "float32"))
    except KeyError as e:
        raise ValueError(f"{folder}/model.json: the cell entry lacks {e}") from None
    npz = os.path.join(folder, "model.npz")
    state = read_npz(npz, "the model's parameters are damaged; train it again")
    cell.load_state_dict(state)
    adj = np.abs(np.asarray(wiring.adjacency_matrix))
    if not np.array_equal(adj, cell.params["sparsity_mask"]) or not np.array_equal(
            np.abs(np.asarray(wiring.sensory_adjacency_matrix)), cell.params["sensory_sparsity_mask"]):
        raise ValueError(f"{npz} does not belong to the wiring in model.json (the synapse masks differ)")
    return wiring, cell
