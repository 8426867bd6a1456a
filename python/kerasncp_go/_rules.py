"""The rules every binding (NumPy, torch, Keras, the CLI) applies, each
written once: cell options, elapsed times, parameter names, shapes and
initial values.

Nothing here computes the cell (Go does) or knows a framework: a binding
asks this module what is allowed and what a parameter starts as, and turns
the answer into its own tensors. The frameworks' errors therefore say the
same thing in the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from . import _lib

__all__ = [
    "MAX_ODE_UNFOLDS", "MAPPINGS", "mapping_code", "check_options",
    "dtype_code", "build_wiring",
    "elapsed_shape", "check_elapsed_values", "PARAM_ORDER", "TRAINABLE", "NON_NEGATIVE", "DEFAULT_INIT_RANGES",
    "init_ranges", "param_shapes", "Init", "initial_values",
]


# -- options -----------------------------------------------------------------

#: core.MaxODEUnfolds (the C field is 32 bits wide).
MAX_ODE_UNFOLDS = 100000

MAPPINGS = {"affine": _lib.MAP_AFFINE, "linear": _lib.MAP_LINEAR, None: _lib.MAP_NONE, "none": _lib.MAP_NONE}
_DTYPES = {np.dtype(np.float32): _lib.FLOAT32, np.dtype(np.float64): _lib.FLOAT64}


def mapping_code(value: Any, name: str) -> int:
    """The KNCP_MAP_* code of a mapping name ("affine", "linear", None).

    Raises:
        ValueError: any other value (the reference treats unknown strings as
            the identity; here they are an error naming the argument).
    """
    try:
        return MAPPINGS[value]
    except (KeyError, TypeError):
        raise ValueError(f"{name} must be 'affine', 'linear' or None, got {value!r}") from None


def check_ode_unfolds(ode_unfolds: Any) -> int:
    """ode_unfolds as an int in [1, MAX_ODE_UNFOLDS].

    Raises:
        ValueError: not such an int (bools are not ints here).
    """
    if (isinstance(ode_unfolds, bool) or not isinstance(ode_unfolds, (int, np.integer))
            or not 1 <= ode_unfolds <= MAX_ODE_UNFOLDS):
        raise ValueError(f"ode_unfolds must be an int in [1, {MAX_ODE_UNFOLDS}], got {ode_unfolds!r}")
    return int(ode_unfolds)


def check_bool(value: Any, name: str) -> bool:
    """value as a bool: only True, False or a NumPy bool.

    Raises:
        ValueError: anything else ("false", 0, None), which truthiness would
            silently read with another meaning.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_epsilon(epsilon: Any) -> float:
    """epsilon as a finite float >= 0 (bools are not numbers here).

    Raises:
        ValueError: anything else.
    """
    try:
        eps = float("nan") if isinstance(epsilon, bool) else float(epsilon)
    except (TypeError, ValueError):
        eps = float("nan")
    if not (eps >= 0 and np.isfinite(eps)):
        raise ValueError(f"epsilon must be a finite number >= 0, got {epsilon!r}")
    return eps


def check_options(input_mapping: Any, output_mapping: Any, ode_unfolds: Any, epsilon: Any
                  ) -> Tuple[int, int, int, float]:
    """The cell options every binding takes, checked: (input mapping code,
    output mapping code, ode_unfolds, epsilon).

    Raises:
        ValueError: naming the first bad option.
    """
    in_code = mapping_code(input_mapping, "input_mapping")
    out_code = mapping_code(output_mapping, "output_mapping")
    return in_code, out_code, check_ode_unfolds(ode_unfolds), check_epsilon(epsilon)


def dtype_code(dtype: Any) -> Tuple[np.dtype, int]:
    """(NumPy dtype, KNCP dtype code) of a cell dtype.

    Raises:
        TypeError: not float32 or float64.
    """
    dt = np.dtype(dtype)
    if dt not in _DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt, _DTYPES[dt]


def build_wiring(wiring: Any, in_features: Optional[int]) -> None:
    """Builds wiring for in_features (when given) and checks it is built,
    as the reference's torch cells do.

    Raises:
        ValueError: the number of input features is unknown, or conflicts.
    """
    if in_features is not None:
        wiring.build(in_features)
    if not wiring.is_built():
        raise ValueError("Wiring error! Unknown number of input features. Please pass the parameter "
                         "'in_features' or call the 'wiring.build()'.")


# -- elapsed times -------------------------------------------------------------

_ELAPSED_SHAPES = "a scalar or have shape (batch, steps), (batch, steps, 1), (steps,), (batch,) or (batch, 1)"


def elapsed_shape(shape: Sequence[Optional[int]], batch: Optional[int], steps: Optional[int],
                  name: str = "elapsed", given: Optional[Sequence[Optional[int]]] = None
                  ) -> Tuple[Optional[int], ...]:
    """The shape to view elapsed times of `shape` as before broadcasting
    them to (batch, steps): (batch, steps, 1) drops its last axis; a 1-D
    array gives one time per step when its length is the step count (first,
    as ncps's time-major LTC reads timespans[t]), else one per sample. The
    view only adds or removes axes of length 1.

    Any size may be None (unknown until run time, as in a TensorFlow
    graph); an unknown size is taken to fit.

    Raises:
        ValueError: the view does not broadcast to (batch, steps), naming
            `name` and its shape as the caller got it (`given`, when the
            binding transposed it first).
    """
    shape = tuple(None if d is None else int(d) for d in shape)
    view: Tuple[Optional[int], ...] = shape
    if len(shape) == 3 and shape[-1] in (1, None):
        view = shape[:2]
    elif len(shape) == 1:
        n = shape[0]
        view = (1, n) if n is not None and n == steps else (n, 1)
    if len(view) > 2 or any(d is not None and d != 1 and want is not None and d != want
                            for d, want in zip(view[::-1], (steps, batch))):
        got = _fmt_shape(shape if given is None else tuple(given))
        raise ValueError(f"{name} must be {_ELAPSED_SHAPES}: {name} must be broadcastable to "
                         f"(batch={batch}, steps={steps}), got shape {got}")
    return view


def _fmt_shape(shape: Sequence[Optional[int]]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def check_elapsed_values(e: Any, name: str = "elapsed") -> None:
    """Elapsed times must be finite and > 0: the ODE step divides by them.
    Every binding's elapsed times pass through here (the NumPy layer calls
    it on each forward pass; the CLI on the data files it reads).

    Raises:
        ValueError: a value <= 0, NaN or infinite, naming `name`.
    """
    a = np.asarray(e)
    if a.size and not (a.min() > 0 and a.max() < np.inf):  # NaN fails both
        bad = float(a[~((a > 0) & (a < np.inf))].flat[0])
        raise ValueError(f"{name} must be finite and > 0 (the ODE step divides by them), got {bad}")


# -- parameters ----------------------------------------------------------------

#: Parameter names in the reference's creation order (the C ABI's KNCP_P_*).
PARAM_ORDER = _lib.PARAM_NAMES
#: The parameters an optimizer changes (all but the sparsity masks).
TRAINABLE = tuple(n for n in PARAM_ORDER if not n.endswith("sparsity_mask"))
#: The parameters explicit constraints keep >= 0 (clamped after each step,
#: NonNeg in Keras, softplus in implicit mode).
NON_NEGATIVE = ("w", "sensory_w", "cm", "gleak")

#: The reference's initial ranges (uniform draws), in its order.
DEFAULT_INIT_RANGES: Mapping[str, Tuple[float, float]] = {
    "gleak": (0.001, 1.0), "vleak": (-0.2, 0.2), "cm": (0.4, 0.6),
    "w": (0.001, 1.0), "sigma": (3.0, 8.0), "mu": (0.3, 0.8),
    "sensory_w": (0.001, 1.0), "sensory_sigma": (3.0, 8.0), "sensory_mu": (0.3, 0.8),
}


def init_ranges(ranges: Optional[Mapping[str, Any]] = None) -> Dict[str, Tuple[float, float]]:
    """The default initial ranges overridden by `ranges` ({name: (low,
    high)} or {name: value} for a fixed value), checked in the reference's
    order with its messages plus the offending entry.

    Raises:
        TypeError: ranges is not a mapping.
        ValueError: an unknown name, a malformed or non-finite range, a
            negative lower bound for gleak, cm, w or sensory_w, or low > high.
    """
    out = {k: (float(v[0]), float(v[1])) for k, v in DEFAULT_INIT_RANGES.items()}
    if ranges is None:
        return out
    if not isinstance(ranges, Mapping):
        raise TypeError(f"initialization_ranges must be a dict of name -> (low, high), got {type(ranges).__name__}")
    for k, v in ranges.items():
        if k not in out:
            raise ValueError(f"Unknown parameter '{k}' in initialization range dictionary! (Expected only "
                             f"{list(out)})")
        try:
            pair = (v, v) if np.ndim(v) == 0 else tuple(v)
            if len(pair) != 2:
                raise ValueError
            lo, hi = float(pair[0]), float(pair[1])
        except (TypeError, ValueError):
            raise ValueError(f"initialization_ranges['{k}'] must be a number or a (low, high) pair, got {v!r}") \
                from None
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"initialization_ranges['{k}'] must be finite, got ({lo}, {hi})")
        if k in NON_NEGATIVE and lo < 0:
            raise ValueError(f"Initialization range of parameter '{k}' must be non-negative! "
                             f"(initialization_ranges['{k}'] = {v!r}: {k} must be non-negative, got lower bound {lo})")
        if lo > hi:
            raise ValueError(f"Initialization range of parameter '{k}' is not a valid range "
                             f"(initialization_ranges['{k}'] = {v!r}: lower bound {lo} is above upper bound {hi})")
        out[k] = (lo, hi)
    return out


def param_shapes(units: int, sensory: int, motor: int, input_mapping: int, output_mapping: int
                 ) -> Dict[str, Tuple[int, ...]]:
    """Names and shapes of a cell's parameters, in the reference's order;
    the mapping weights only for the mappings that have them."""
    shapes: Dict[str, Tuple[int, ...]] = {
        "gleak": (units,), "vleak": (units,), "cm": (units,),
        "sigma": (units, units), "mu": (units, units), "w": (units, units), "erev": (units, units),
        "sensory_sigma": (sensory, units), "sensory_mu": (sensory, units),
        "sensory_w": (sensory, units), "sensory_erev": (sensory, units),
        "sparsity_mask": (units, units), "sensory_sparsity_mask": (sensory, units),
    }
    if input_mapping != _lib.MAP_NONE:
        shapes["input_w"] = (sensory,)
        if input_mapping == _lib.MAP_AFFINE:
            shapes["input_b"] = (sensory,)
    if output_mapping != _lib.MAP_NONE:
        shapes["output_w"] = (motor,)
        if output_mapping == _lib.MAP_AFFINE:
            shapes["output_b"] = (motor,)
    return shapes


@dataclass(frozen=True)
class Init:
    """How one parameter starts: a fixed value (`value`, float64), or, when
    value is None, a uniform draw from [low, high) that the binding makes
    with its framework's generator (so that seeding that generator gives
    the reference's numbers)."""

    shape: Tuple[int, ...]
    value: Optional[np.ndarray] = None
    low: float = 0.0
    high: float = 0.0
    trainable: bool = True


def initial_values(adjacency: Any, sensory_adjacency: Any, motor: int, input_mapping: int, output_mapping: int,
                   ranges: Optional[Mapping[str, Tuple[float, float]]] = None) -> Dict[str, Init]:
    """Every parameter's initial value, in the reference's order: erev and
    sensory_erev are the wiring's polarities, the sparsity masks their
    absolute values (not trainable), mapping weights 1 and biases 0, the
    rest uniform in `ranges` (checked ones from :func:`init_ranges`; the
    defaults when None). A range with low == high is a fixed value.
    """
    r = init_ranges() if ranges is None else ranges
    adj = np.asarray(adjacency, dtype=np.float64)
    sens = np.asarray(sensory_adjacency, dtype=np.float64)
    fixed = {"erev": adj, "sensory_erev": sens, "sparsity_mask": np.abs(adj), "sensory_sparsity_mask": np.abs(sens)}
    out: Dict[str, Init] = {}
    for name, shape in param_shapes(adj.shape[0], sens.shape[0], motor, input_mapping, output_mapping).items():
        if name in fixed:
            out[name] = Init(shape, fixed[name], trainable=name in TRAINABLE)
        elif name in ("input_w", "output_w"):
            out[name] = Init(shape, np.ones(shape))
        elif name in ("input_b", "output_b"):
            out[name] = Init(shape, np.zeros(shape))
        else:
            lo, hi = r[name]
            out[name] = Init(shape, np.full(shape, lo)) if lo == hi else Init(shape, None, lo, hi)
    return out
