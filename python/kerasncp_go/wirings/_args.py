"""Argument checks of the wiring constructors and methods (Python-side, so
that a wrong type raises TypeError with the argument's name before any C
call)."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

_INT64 = (-(1 << 63), (1 << 63) - 1)


def as_int(value: Any, name: str, lo: int = _INT64[0], hi: int = _INT64[1]) -> int:
    """value as an int in [lo, hi] (by default what the C ABI's int64_t
    holds, so that nothing wraps on the way)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    v = int(value)
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {v}")
    return v


def as_seed(value: Any, name: str, bits: int) -> int:
    """A seed in [0, 2**bits-1]; None draws one from the operating system,
    as numpy does for a None seed (the drawn seed then shows in
    get_config, so the wiring can be rebuilt)."""
    if value is None:
        return int.from_bytes(os.urandom(bits // 8), "little")
    v = as_int(value, name, -(1 << 64), 1 << 64)
    if not 0 <= v < (1 << bits):
        raise ValueError(f"{name} must be in [0, 2**{bits}-1], got {v}")
    return v


def as_fraction(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v}")
    return v


def as_polarity(value: Any) -> int:
    """-1 or +1 (numbers equal to them are accepted, as in the reference)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value not in (-1, 1):
        raise ValueError(f"polarity must be -1 or 1, got {value!r}")
    return int(value)


def dim_from(input_dim: Any) -> int:
    """Accepts an int, or a shape whose last entry is the feature count (what
    keras-ncp 2.0 and the paddle binding pass)."""
    if isinstance(input_dim, (tuple, list)) or hasattr(input_dim, "as_list"):
        dims = list(input_dim.as_list() if hasattr(input_dim, "as_list") else input_dim)
        if not dims or dims[-1] is None:
            raise ValueError(f"input_dim: cannot read a feature count from the shape {input_dim!r}")
        input_dim = dims[-1]
    return as_int(input_dim, "input_dim")
