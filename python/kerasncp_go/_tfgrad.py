"""TensorFlow's side of "the Go backward pass is not differentiable".

A gradient computed by a Go call (through ``tf.numpy_function`` or a native
op) has no gradient itself, and TensorFlow would quietly return None for a
second-order gradient taken through it (a gradient penalty, nested
``GradientTape`` s). :func:`first_order` passes the gradients on unchanged,
marked so that differentiating them raises instead.
"""

from __future__ import annotations

from typing import Any, List, Sequence

import tensorflow as tf

MESSAGE = ("kerasncp_go: the Go backward pass is not differentiable; second-order gradients (nested "
           "GradientTapes, gradient penalties) are not supported")


def first_order(grads: List[Any], inputs: Sequence[Any]) -> List[Any]:
    """grads (of the pass over inputs) unchanged; a gradient taken through
    them raises NotImplementedError. The inputs join the mark so that the
    tape sees the gradients depend on them: a ``tf.numpy_function``'s
    outputs are not connected to its inputs at all."""
    real = [g for g in grads if g is not None]
    if not real:
        return grads
    n = len(real)
    deps = [t for t in inputs if t is not None and tf.is_tensor(t)]

    @tf.custom_gradient
    def mark(*ts):
        def refuse(*_):
            raise NotImplementedError(MESSAGE)

        return [tf.identity(g) for g in ts[:n]], refuse

    marked = iter(mark(*real, *deps))
    return [None if g is None else next(marked) for g in grads]
