"""Sequences for training and prediction: the built-in tasks and .npz
files.

A :class:`Dataset` holds ``x`` (N, T, S) inputs, ``y`` (N, T, M) targets and
optionally ``elapsed`` (N, T), the time elapsed before each step (irregular
sampling; absent means 1.0 everywhere, as the reference).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from .. import _lib, _rules

__all__ = ["Dataset", "sine_task", "irregular_task", "elapsed_from_timestamps", "load_npz_task", "read_npz",
           "split"]


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
        return self.targets().shape[2]

    def targets(self) -> np.ndarray:
        """y.

        Raises:
            ValueError: the data have no targets.
        """
        if self.y is None:
            raise ValueError(f"the data {self.name!r} have no targets y")
        return self.y

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


def _check_declared_sizes(z: "np.lib.npyio.NpzFile", path: str) -> None:
    """Refuses, before anything is decompressed, an archive whose arrays
    declare more bytes than the process may allocate: a small deflated file
    can declare gigabytes. np.load then reads no more than the declared
    shapes, so memory stays bounded by them."""
    fmt = np.lib.format
    total = 0
    zf = z.zip
    if zf is None:
        return
    for name in zf.namelist():
        if not name.endswith(".npy"):
            continue
        with zf.open(name) as f:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(f)
            else:
                shape, _, dtype = fmt.read_array_header_2_0(f)
        total += int(np.prod(shape, dtype=object)) * dtype.itemsize
    _lib.check_alloc(f"{path}: arrays of {total} bytes declared by the archive", total)


def read_npz(path: str, hint: str = "write it with np.savez(path, x=..., y=...)") -> Dict[str, np.ndarray]:
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
            _check_declared_sizes(z, path)
            return {k: z[k] for k in z.files}
    except MemoryError:
        raise
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
    z = read_npz(path)
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
                _rules.check_elapsed_values(e, f"{path}: elapsed")
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
