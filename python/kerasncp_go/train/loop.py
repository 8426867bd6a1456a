"""The training loop: one Go call forward and one backward per batch of
whole sequences, Adam, clipping and the weight constraints, as the reference
tutorial's torch loop."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np

from ..ltc import LTCCell
from .data import Dataset
from .optim import Adam, clip_grad_norm

__all__ = ["History", "check_data", "evaluate", "predict", "fit"]


@dataclass
class History:
    """What :func:`fit` measured.

    Attributes:
        train_loss: mean training MSE of each epoch (over its batches, each
            measured before its update).
        val_loss: validation MSE after each epoch (empty without validation
            data).
        final_train_loss: MSE on the whole training set after training (of
            the kept model: see best_epoch).
        final_val_loss: MSE on the validation set after training, or None.
        steps: optimizer steps taken.
        wall_s: seconds spent training (final evaluation included).
        best_epoch: with keep_best, the epoch whose parameters were kept
            (1-based; 0 for the initial parameters), or None when the last
            epoch's were (or keep_best was off).
        last_loss: with keep_best, the selection loss (validation MSE, else
            training MSE) of the last epoch's parameters, which a loss spike
            can leave far above the kept model's.
    """

    train_loss: List[float] = field(default_factory=list)
    val_loss: List[float] = field(default_factory=list)
    final_train_loss: float = float("nan")
    final_val_loss: Optional[float] = None
    steps: int = 0
    wall_s: float = 0.0
    best_epoch: Optional[int] = None
    last_loss: Optional[float] = None

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.wall_s if self.wall_s > 0 else float("nan")


def _batches(n: int, batch_size: int, rng: Optional[np.random.Generator]):
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for i in range(0, n, batch_size):
        yield np.sort(order[i:i + batch_size])


def check_data(cell: LTCCell, data: Dataset, what: str) -> None:
    """Raises ValueError, prefixed with `what`, when data does not fit cell."""
    if data.x.ndim != 3 or data.x.shape[2] != cell.sensory_size:
        raise ValueError(f"{what}: x must have shape (N, T, {cell.sensory_size}) for this model, got {data.x.shape}")
    m = cell.motor_size
    if data.y is not None and data.y.shape[2] != m:
        raise ValueError(f"{what}: y has {data.y.shape[2]} features but the model has "
                         f"{m} output{'' if m == 1 else 's'}")


def evaluate(cell: LTCCell, data: Dataset, batch_size: int = 256) -> float:
    """Mean squared error of the model's outputs against data.y, over every
    element."""
    yhat = predict(cell, data, batch_size)
    return float(np.mean((yhat.astype(np.float64) - data.targets()) ** 2))


def predict(cell: LTCCell, data: Dataset, batch_size: int = 256) -> np.ndarray:
    """The model's outputs at every step, (N, T, M), from zero initial
    states; one Go call per batch of sequences."""
    check_data(cell, data, "predict")
    out = np.empty((len(data), data.steps, cell.motor_size), dtype=np.float32)
    for idx in _batches(len(data), batch_size, None):
        e = None if data.elapsed is None else data.elapsed[idx]
        out[idx], _ = cell.forward_sequence(data.x[idx], None, e)
    return out


def fit(cell: LTCCell, train: Dataset, val: Optional[Dataset] = None, epochs: int = 100, batch_size: int = 32,
        lr: float = 0.01, clip: Optional[float] = 1.0, seed: int = 0, progress: bool = True,
        callback: Optional[Callable[[int, float], None]] = None, keep_best: bool = True) -> History:
    """Trains the cell in place with Adam on the mean squared error, as the
    reference tutorial's torch loop does: for each batch one forward and one
    backward pass over the whole sequences, global-norm gradient clipping,
    an Adam step, then :meth:`~kerasncp_go.LTCCell.apply_weight_constraints`.

    Args:
        cell: the model; its parameters are updated in place.
        train: training sequences (x, y, optional elapsed).
        val: validation sequences, evaluated after every epoch; or None.
        epochs: passes over the training data.
        batch_size: sequences per step (the last batch of an epoch may be
            smaller); batches are reshuffled every epoch.
        lr: Adam's learning rate.
        clip: maximal global gradient norm (the tutorial's
            gradient_clip_val=1); None or 0 disables clipping.
        seed: seed of the batch order.
        progress: show a tqdm progress bar (loss and steps/s) on stderr.
        callback: called as callback(epoch, train_loss) after each epoch.
        keep_best: end with the parameters of the epoch whose loss was lowest
            (validation MSE when val is given, else training MSE) instead of
            the last epoch's. Adam at lr 0.01 has loss spikes (the reference
            has them too), and a run that ends in one would otherwise keep a
            model ten times worse than one it had. With one batch per epoch
            and no validation the loss is measured before each step at no
            cost; otherwise it takes one evaluation per epoch.

    Returns:
        a :class:`History`.

    Raises:
        ValueError: a bad argument, or data that do not fit the model.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"the batch size must be an integer >= 1, got {batch_size!r}")
    if train.y is None:
        raise ValueError("the training data have no targets y")
    check_data(cell, train, "training data")
    if val is not None:
        check_data(cell, val, "validation data")
    cell.spec()  # settle the parameter arrays (dtype, layout) before the optimizer holds them
    trainable = {k: v for k, v in cell.params.items() if not k.endswith("sparsity_mask")}
    opt = Adam(trainable, lr=lr)
    rng = np.random.default_rng(seed)
    n = len(train)
    batch_size = min(int(batch_size), n)
    per_epoch = -(-n // batch_size)
    hist = History()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=epochs * per_epoch, unit="step", dynamic_ncols=True, leave=True, desc="train")
    t0 = time.perf_counter()
    last_post = 0.0
    # The best parameters so far and their loss; with one batch per epoch
    # and no validation, a step's batch loss is the training loss of the
    # parameters before it (free); otherwise each epoch is evaluated.
    free_score = per_epoch == 1 and val is None
    best_loss, best_epoch, best = math.inf, None, None

    def remember(loss: float, epoch: int) -> None:
        nonlocal best_loss, best_epoch, best
        if keep_best and loss < best_loss:
            best_loss, best_epoch = loss, epoch
            best = {k: v.copy() for k, v in trainable.items()}

    try:
        for epoch in range(int(epochs)):
            total = 0.0
            for idx in _batches(n, batch_size, rng):
                xb, yb = train.x[idx], train.y[idx]
                eb = None if train.elapsed is None else train.elapsed[idx]
                yhat, _, tape = cell.forward_with_tape(xb, None, eb)
                diff = yhat - yb
                loss = float(np.mean(np.square(diff, dtype=np.float64)))
                if not math.isfinite(loss):
                    raise ValueError(f"the loss became {loss} at epoch {epoch + 1}; try a smaller learning rate (--lr)")
                grads = cell.backward(tape, diff * np.float32(2.0 / diff.size))
                tape.close()
                grads = {k: grads[k] for k in trainable}
                if free_score:
                    remember(loss, epoch)  # the parameters of the end of the previous epoch
                if clip:
                    clip_grad_norm(grads, clip)
                opt.step(grads)
                cell.apply_weight_constraints()
                total += loss * len(idx)
                hist.steps += 1
                if bar is not None:
                    bar.update(1)
            hist.train_loss.append(total / n)
            if val is not None:
                hist.val_loss.append(evaluate(cell, val))
            if keep_best and not free_score:
                remember(hist.val_loss[-1] if val is not None else evaluate(cell, train), epoch + 1)
            if bar is not None:
                now = time.perf_counter()
                if now - last_post > 0.1 or epoch == epochs - 1:
                    post = {"loss": f"{hist.train_loss[-1]:.4g}"}
                    if hist.val_loss:
                        post["val"] = f"{hist.val_loss[-1]:.4g}"
                    bar.set_postfix(post, refresh=False)
                    last_post = now
            if callback is not None:
                callback(epoch, hist.train_loss[-1])
        if keep_best and best is not None:
            last = evaluate(cell, val if val is not None else train)
            remember(last, int(epochs))
            hist.last_loss = last
            if best_epoch != int(epochs):
                for k, v in best.items():
                    trainable[k][...] = v  # in place: the cell's (and optimizer's) arrays
                cell.params.update({})  # the values changed: drop the cell's cached view
                hist.best_epoch = best_epoch
        hist.final_train_loss = evaluate(cell, train)
        if val is not None:
            hist.final_val_loss = evaluate(cell, val)
    finally:
        if bar is not None:
            bar.close()
    hist.wall_s = time.perf_counter() - t0
    return hist
