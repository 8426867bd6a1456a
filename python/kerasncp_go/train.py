"""Training utilities on NumPy arrays: tasks, Adam, the training loop, and
saving and loading trained models.

Everything here runs the LTC cell through :class:`kerasncp_go.LTCCell`: each
batch is one Go call forward (:meth:`~kerasncp_go.LTCCell.forward_with_tape`)
and one backward (:meth:`~kerasncp_go.LTCCell.backward`) over the whole
sequence; Python never loops over time steps. Only NumPy is needed (tqdm for
the progress bar), so the command-line program works without torch or
TensorFlow.

Data layout: a :class:`Dataset` holds ``x`` (N, T, S) inputs, ``y`` (N, T, M)
targets and optionally ``elapsed`` (N, T), the time elapsed before each step
(irregular sampling; absent means 1.0 everywhere, as the reference).

A saved model is a folder with two files:

* ``model.npz``: the parameters under the reference's names (what
  :meth:`kerasncp_go.LTCCell.save_npz` writes; np.load it and pass it to the
  ``load_state_dict`` of kerasncp_go.torch.LTCCell or kerasncp.torch.LTCCell);
* ``model.json``: the wiring (``kind`` and constructor ``args``, or the
  matrices for a custom wiring) and the cell options.

Example:
    >>> from kerasncp_go import LTCCell, wirings
    >>> from kerasncp_go.train import sine_task, fit
    >>> data = sine_task()
    >>> cell = LTCCell(wirings.AutoNCP(16, 1), in_features=2, seed=0)
    >>> history = fit(cell, data, epochs=50, lr=0.02, progress=False)
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from . import wirings as W
from .ltc import LTCCell

__all__ = [
    "Dataset", "sine_task", "irregular_task", "load_npz_task", "elapsed_from_timestamps",
    "Adam", "clip_grad_norm", "History", "fit", "evaluate", "predict",
    "WIRING_KINDS", "make_wiring", "wiring_spec", "wiring_from_spec",
    "save_model", "load_model", "read_model_config", "MODEL_FORMAT",
]

#: The "format" entry of model.json.
MODEL_FORMAT = "kerasncp-go/model"
MODEL_FORMAT_VERSION = 1


# -- data ------------------------------------------------------------------


@dataclass
class Dataset:
    """Sequences for training or prediction.

    Attributes:
        x: inputs (N, T, S), float32.
        y: targets (N, T, M), float32, or None (prediction only).
        elapsed: elapsed time before each step (N, T), float32, or None
            (1.0 everywhere).
        name: a short name (the task or the file's stem).
        x_names, y_names: names of the input and target features, for
            plots; or None.
    """

    x: np.ndarray
    y: Optional[np.ndarray] = None
    elapsed: Optional[np.ndarray] = None
    name: str = "data"
    x_names: Optional[List[str]] = None
    y_names: Optional[List[str]] = None

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def steps(self) -> int:
        return self.x.shape[1]

    @property
    def input_dim(self) -> int:
        return self.x.shape[2]

    @property
    def output_dim(self) -> int:
        return self.y.shape[2]

    def subset(self, idx: np.ndarray) -> "Dataset":
        """The sequences at the given indices."""
        return Dataset(self.x[idx], None if self.y is None else self.y[idx],
                       None if self.elapsed is None else self.elapsed[idx], self.name, self.x_names, self.y_names)

    def times(self) -> np.ndarray:
        """(N, T) time of each step since the sequence began: the running
        sum of the elapsed times, or the step index 0, 1, ... for regular
        sequences."""
        if self.elapsed is None:
            return np.broadcast_to(np.arange(self.steps, dtype=np.float32), self.x.shape[:2])
        return np.cumsum(self.elapsed, axis=1)


def sine_task(steps: int = 48) -> Dataset:
    """keras-ncp's tutorial data: one sequence of `steps` steps whose two
    input features are sin and cos of 0..3π; the target is a sine of twice
    the frequency, sin of 0..6π.

    Returns:
        a Dataset with x (1, steps, 2) and y (1, steps, 1).
    """
    if steps < 2:
        raise ValueError(f"the sine task needs at least 2 steps, got {steps}")
    t = np.linspace(0, 3 * np.pi, steps)
    x = np.stack([np.sin(t), np.cos(t)], axis=1)[None].astype(np.float32)
    y = np.sin(np.linspace(0, 6 * np.pi, steps)).reshape(1, steps, 1).astype(np.float32)
    return Dataset(x, y, None, "sine", ["sin(t)", "cos(t)"], ["sin(2t)"])


def irregular_task(n: int = 320, steps: int = 32, seed: int = 0, tau: float = 1.5) -> Dataset:
    """A synthetic control task with irregular sampling.

    A first-order plant, ``tau·dy/dt = u(t) − y``, y(0) = 0, is driven by a
    smooth random control signal u(t) (two sinusoids of random frequency,
    amplitude and phase). Each sequence is sampled at its own random times:
    the gap before each sample is uniform in [0.1, 1.0]. The model sees u
    at the sample times (x, one feature) and the gaps (elapsed), and must
    output the plant's response y there. Since the plant relaxes by
    exp(−gap/tau) between samples, the right answer depends on the gaps: a
    model that ignores them cannot fit.

    The response is computed in closed form (no integration error).

    Args:
        n: number of sequences.
        steps: samples per sequence.
        seed: seed of numpy's default_rng.
        tau: the plant's time constant.

    Returns:
        a Dataset with x (n, steps, 1), y (n, steps, 1), elapsed (n, steps).
    """
    if n < 1 or steps < 1:
        raise ValueError(f"the irregular task needs n >= 1 and steps >= 1, got n={n}, steps={steps}")
    rng = np.random.default_rng(seed)
    gaps = rng.uniform(0.1, 1.0, (n, steps))
    t = np.cumsum(gaps, axis=1)  # time of each sample; the plant starts at t=0
    amp = rng.uniform(0.3, 1.0, (n, 2, 1))
    omega = rng.uniform(0.3, 1.5, (n, 2, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 2, 1))
    tt = t[:, None, :]
    u = np.sum(amp * np.sin(omega * tt + phase), axis=1)

    # Steady-state response to a·sin(ωt+φ), plus the transient that makes y(0) = 0.
    def steady(time):
        wt = omega * tau
        return np.sum(amp / (1 + wt ** 2) * (np.sin(omega * time + phase) - wt * np.cos(omega * time + phase)), axis=1)

    y = steady(tt) - steady(np.zeros_like(tt[..., :1])) * np.exp(-t / tau)
    return Dataset(u[..., None].astype(np.float32), y[..., None].astype(np.float32),
                   gaps.astype(np.float32), "irregular", ["control u"], ["plant output y"])


def elapsed_from_timestamps(t: np.ndarray) -> np.ndarray:
    """Elapsed times (N, T) from per-step timestamps (N, T): the difference
    to the previous step; the first step gets the second step's gap (1.0 for
    sequences of one step).

    Raises:
        ValueError: the timestamps are not increasing.
    """
    t = np.asarray(t, dtype=np.float64)
    if t.shape[1] == 1:
        return np.ones_like(t, dtype=np.float32)
    d = np.diff(t, axis=1)
    if np.any(d <= 0):
        raise ValueError("t must increase strictly along each sequence")
    return np.concatenate([d[:, :1], d], axis=1).astype(np.float32)


def _read_npz(path: str, hint: str = "write it with np.savez(path, x=..., y=...)") -> Dict[str, np.ndarray]:
    """Every array of an .npz file, with errors as one-line ValueError /
    OSError naming the file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder, not an .npz file")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise OSError(f"cannot read {path}: {e.strerror or e}") from None
    if magic == b"\x93NUMPY":
        raise ValueError(f"{path} holds a single .npy array, not named arrays; {hint}")
    if not magic.startswith(b"PK"):
        raise ValueError(f"{path} is not an .npz file (not a zip archive); {hint}")
    try:
        z = np.load(path, allow_pickle=False)
    except OSError as e:
        raise OSError(f"cannot read {path}: {e.strerror or e}") from None
    except Exception as e:  # zipfile.BadZipFile, EOFError, ValueError (pickled data), ...
        raise ValueError(f"{path} is not a valid .npz file ({_first_line(e)})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} holds a single array, not named arrays; {hint}")
    try:
        with z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # a damaged member
        raise ValueError(f"{path} is not a valid .npz file ({_first_line(e)})") from None


def _first_line(e: BaseException) -> str:
    s = str(e).strip()
    return s.splitlines()[0] if s else type(e).__name__


def _float_array(a: np.ndarray, name: str, path: str, ndim: int, shape_doc: str, dtype=np.float32) -> np.ndarray:
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{path}: {name} must hold numbers, got dtype {a.dtype}")
    if a.ndim == 3 and ndim == 2 and a.shape[2] == 1:
        a = a[..., 0]  # (N, T, 1) for (N, T)
    if a.ndim != ndim:
        raise ValueError(f"{path}: {name} must have shape {shape_doc}, got {a.shape}")
    if 0 in a.shape:
        raise ValueError(f"{path}: {name} is empty, shape {a.shape}")
    a = a.astype(dtype)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{path}: {name} contains NaN or infinite values")
    return a


def load_npz_task(path: str, require_y: bool = True) -> Dataset:
    """Sequences from an .npz file.

    Keys: ``x`` (N, T, S) inputs; ``y`` (N, T, M) targets (required when
    `require_y`); optionally ``elapsed`` (N, T) elapsed times or ``t``
    (N, T) timestamps (see :func:`elapsed_from_timestamps`). Other keys are
    ignored.

    Raises:
        FileNotFoundError / OSError: the file cannot be read.
        ValueError: not an .npz, a key missing, or a wrong shape (the
            message names the key and the expected shape).
    """
    z = _read_npz(path)
    if "x" not in z:
        raise ValueError(f"{path} has no array 'x' (inputs, shape (N, T, S)); it has {sorted(z) or 'no arrays'}")
    x = _float_array(z["x"], "x", path, 3, "(N, T, S)")
    n, t = x.shape[:2]
    y = None
    if "y" in z:
        y = _float_array(z["y"], "y", path, 3, "(N, T, M)")
        if y.shape[:2] != (n, t):
            raise ValueError(f"{path}: y must have shape (N={n}, T={t}, M) like x, got {y.shape}")
    elif require_y:
        raise ValueError(f"{path} has no array 'y' (targets, shape (N, T, M)); it has {sorted(z)}")
    elapsed = None
    for key in ("elapsed", "t"):
        if key in z:
            # Timestamps are differenced in float64, then rounded once.
            e = _float_array(z[key], key, path, 2, f"(N={n}, T={t})", np.float64)
            if e.shape != (n, t):
                raise ValueError(f"{path}: {key} must have shape (N={n}, T={t}) like x, got {z[key].shape}")
            if key == "t":
                try:
                    elapsed = elapsed_from_timestamps(e)
                except ValueError as err:
                    raise ValueError(f"{path}: {err}") from None
            else:
                if not np.all(e > 0):  # NaN too
                    raise ValueError(f"{path}: elapsed times must be > 0 (the ODE step divides by them)")
                elapsed = e.astype(np.float32)
            break
    name = os.path.splitext(os.path.basename(path))[0] or "data"
    return Dataset(x, y, elapsed, name)


def split(data: Dataset, val_frac: float, seed: int = 0) -> Tuple[Dataset, Optional[Dataset]]:
    """A random train/validation split; no validation set when val_frac is 0
    or leaves no sequence for it.

    Raises:
        ValueError: val_frac outside [0, 1).
    """
    if not (0.0 <= val_frac < 1.0):
        raise ValueError(f"the validation fraction must be in [0, 1), got {val_frac}")
    n = len(data)
    nval = int(round(n * val_frac))
    if nval == 0 or nval >= n:
        return data, None
    perm = np.random.default_rng(seed).permutation(n)
    return data.subset(np.sort(perm[nval:])), data.subset(np.sort(perm[:nval]))


# -- optimisation ----------------------------------------------------------


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


# -- training --------------------------------------------------------------


@dataclass
class History:
    """What :func:`fit` measured.

    Attributes:
        train_loss: mean training MSE of each epoch (over its batches, each
            measured before its update).
        val_loss: validation MSE after each epoch (empty without validation
            data).
        final_train_loss: MSE on the whole training set after training.
        final_val_loss: MSE on the validation set after training, or None.
        steps: optimizer steps taken.
        wall_s: seconds spent training (final evaluation included).
    """

    train_loss: List[float] = field(default_factory=list)
    val_loss: List[float] = field(default_factory=list)
    final_train_loss: float = float("nan")
    final_val_loss: Optional[float] = None
    steps: int = 0
    wall_s: float = 0.0

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
        raise ValueError(f"{what}: y has {data.y.shape[2]} features but the model has {m} output{'' if m == 1 else 's'}")


def evaluate(cell: LTCCell, data: Dataset, batch_size: int = 256) -> float:
    """Mean squared error of the model's outputs against data.y, over every
    element."""
    yhat = predict(cell, data, batch_size)
    return float(np.mean((yhat.astype(np.float64) - data.y) ** 2))


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
        callback: Optional[Callable[[int, float], None]] = None) -> History:
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
        hist.final_train_loss = evaluate(cell, train)
        if val is not None:
            hist.final_val_loss = evaluate(cell, val)
    finally:
        if bar is not None:
            bar.close()
    hist.wall_s = time.perf_counter() - t0
    return hist


# -- wirings and model files -----------------------------------------------

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
    from . import __version__

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
    state = _read_npz(npz, "the model's parameters are damaged; train it again")
    cell.load_state_dict(state)
    adj = np.abs(np.asarray(wiring.adjacency_matrix))
    if not np.array_equal(adj, cell.params["sparsity_mask"]) or not np.array_equal(
            np.abs(np.asarray(wiring.sensory_adjacency_matrix)), cell.params["sensory_sparsity_mask"]):
        raise ValueError(f"{npz} does not belong to the wiring in model.json (the synapse masks differ)")
    return wiring, cell
