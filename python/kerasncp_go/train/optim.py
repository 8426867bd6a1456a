"""Optimisation on dicts of NumPy arrays: Adam and global-norm gradient
clipping, with torch's update rules."""

from __future__ import annotations

import math
from typing import Dict, Mapping, Tuple

import numpy as np

__all__ = ["Adam", "clip_grad_norm"]


class Adam:
    """Adam on a dict of NumPy arrays, updated in place; torch.optim.Adam's
    update rule and defaults (bias-corrected moments, eps added to the
    corrected second moment's root, no weight decay).

    Args:
        params: arrays by name; they are changed in place by :meth:`step`.
        lr: learning rate.
        betas: decay rates of the first and second moment estimates.
        eps: added to the denominator.

    Example:
        >>> p = {"w": np.array([1.0])}
        >>> opt = Adam(p, lr=0.1)
        >>> opt.step({"w": np.array([2.0])})
        >>> p["w"]
        array([0.9])
    """

    def __init__(self, params: Mapping[str, np.ndarray], lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        if not (lr > 0 and math.isfinite(lr)):
            raise ValueError(f"the learning rate must be a positive number, got {lr}")
        self.params = params
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        self.t = 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        """One update with the gradients by name (names absent from grads
        are left alone)."""
        self.t += 1
        b1, b2 = self.betas
        bc1 = 1 - b1 ** self.t
        bc2_sqrt = math.sqrt(1 - b2 ** self.t)
        step = self.lr / bc1
        for k, p in self.params.items():
            g = grads.get(k)
            if g is None:
                continue
            m, v = self.m[k], self.v[k]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= step * m / (np.sqrt(v) / bc2_sqrt + self.eps)


def clip_grad_norm(grads: Dict[str, np.ndarray], max_norm: float) -> float:
    """Scales all gradients in place so that their global 2-norm is at most
    max_norm, as torch.nn.utils.clip_grad_norm_ (and Lightning's
    gradient_clip_val) do.

    Returns:
        the global norm before clipping.
    """
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads.values():
            g *= coef
    return total
