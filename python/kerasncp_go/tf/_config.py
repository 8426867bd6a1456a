"""The Keras config form of a wiring: ``{"class_name", "config"}``."""

from __future__ import annotations

from typing import Any, Dict, Mapping

from .. import wirings as _wirings

__all__ = ["wiring_to_config", "wiring_from_config"]

_BUILTIN_WIRINGS = {c.__name__: c for c in (_wirings.FullyConnected, _wirings.Random, _wirings.NCP,
                                            _wirings.AutoNCP)}


def wiring_to_config(wiring: _wirings.Wiring) -> Dict[str, Any]:
    """{"class_name", "config"}: the constructor arguments of a built-in
    wiring class (seed included), or the matrices of any other wiring."""
    name = type(wiring).__name__
    if _BUILTIN_WIRINGS.get(name) is type(wiring):
        return {"class_name": name, "config": wiring.get_config()}
    return {"class_name": "Wiring", "config": _wirings.Wiring.get_config(wiring)}


def wiring_from_config(config: Mapping[str, Any]) -> _wirings.Wiring:
    """Inverse of :func:`wiring_to_config`; also accepts a bare matrix-form
    wiring config (keras-ncp's).

    Raises:
        ValueError: an unknown wiring class.
    """
    if "class_name" not in config:
        return _wirings.Wiring.from_config(dict(config))
    name, cfg = config["class_name"], dict(config.get("config") or {})
    if name == "Wiring":
        return _wirings.Wiring.from_config(cfg)
    if name not in _BUILTIN_WIRINGS:
        raise ValueError(f"wiring: unknown wiring class {name!r} (known: Wiring, {', '.join(_BUILTIN_WIRINGS)})")
    return _BUILTIN_WIRINGS[name](**cfg)
