"""What the Keras layers accept as inputs: shapes of (inputs,
elapsed_time) pairs, and elapsed times as (batch, steps) tensors by the one
rule of :mod:`kerasncp_go._rules`."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

from .. import _rules
from ._keras import tf

__all__ = ["feature_dim", "split_irregular", "check_wiring_input", "elapsed_tensor"]


def feature_dim(input_shape: Any) -> Tuple[int, bool]:
    """(features, irregular) from a layer input shape: a shape, or a pair
    of shapes (inputs, elapsed_time) in irregular mode.

    Raises:
        ValueError: the last dimension is unknown.
    """
    irregular = False
    shape = input_shape
    if isinstance(shape, dict):
        raise ValueError(f"inputs must be a tensor or a pair (inputs, elapsed_time), got a dict {shape!r}")
    if isinstance(shape, (list, tuple)) and shape and (
            isinstance(shape[0], (list, tuple, tf.TensorShape)) or (shape[0] is None and len(shape) == 2
            and isinstance(shape[1], (list, tuple, tf.TensorShape)))):
        irregular = True
        shape = shape[0]
    dims = tf.TensorShape(shape).as_list() if shape is not None else None
    if not dims or dims[-1] is None:
        raise ValueError(f"inputs: the number of input features (last dimension) must be known, got shape "
                         f"{input_shape!r}")
    return int(dims[-1]), irregular


def split_irregular(inputs: Any, what: str) -> Tuple[Any, Optional[Any]]:
    """(x, elapsed_time) from a tensor or a pair.

    Raises:
        ValueError: a tuple/list that is not a pair.
    """
    if isinstance(inputs, (tuple, list)):
        if len(inputs) != 2:
            raise ValueError(f"{what}: inputs must be a tensor or a pair (inputs, elapsed_time), "
                             f"got a {type(inputs).__name__} of {len(inputs)} items")
        return inputs[0], inputs[1]
    if isinstance(inputs, dict):
        raise ValueError(f"{what}: inputs must be a tensor or a pair (inputs, elapsed_time), got a dict")
    return inputs, None


def check_wiring_input(wiring: Any, input_dim: int, what: str) -> None:
    """Raises ValueError when a built wiring expects another input size."""
    built = wiring.input_dim
    if built is not None and int(built) != int(input_dim):
        raise ValueError(f"{what}: the wiring was built for input_dim={built} features but the inputs have "
                         f"{input_dim} (last dimension); pass data with {built} features or an unbuilt wiring")


def elapsed_tensor(elapsed: Any, x: tf.Tensor, dtype: tf.DType, name: str,
                   given: Optional[Sequence[Optional[int]]] = None) -> tf.Tensor:
    """Elapsed times as a (batch, steps) tensor for inputs x (batch, steps,
    features), from a scalar or any shape
    :func:`kerasncp_go._rules.elapsed_shape` accepts (sizes unknown in a
    graph count as fitting). Values are checked here in eager mode, and by
    the NumPy layer when a graph runs.

    Raises:
        ValueError: a shape that does not fit, or (eagerly) a time that is
            not finite and > 0, naming `name`.
    """
    e = tf.cast(tf.convert_to_tensor(elapsed), dtype)
    target = tf.shape(x)[:2]
    if e.shape.rank == 0:
        view: Tuple[Optional[int], ...] = ()
    else:
        if e.shape.rank is None:
            raise ValueError(f"{name}: the number of dimensions must be known")
        view = _rules.elapsed_shape(e.shape.as_list(), x.shape[0], x.shape[1], name, given)
    if tf.executing_eagerly():
        _rules.check_elapsed_values(e.numpy(), name)
    if tuple(e.shape.as_list()) != tuple(view):
        if sum(d is None for d in view) <= 1:
            e = tf.reshape(e, [-1 if d is None else d for d in view])
        else:  # (None, None, 1) -> (None, None): the only view with two unknown sizes
            e = tf.squeeze(e, -1)
    return tf.broadcast_to(e, target)
