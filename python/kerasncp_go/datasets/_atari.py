"""The Atari behaviour-cloning sequences of ncps 1.0.1, framework-free: where
the files are, and reading one checked file.

Layout (as ncps expects after unzipping ``{env_name}.zip``):
``<root_dir>/data_atari_seq/<env_name>/{train,val}_*.npz``, each file holding
``obs`` (steps, 84, 84, 4) uint8 frames and ``actions`` (steps,) int64.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Tuple

import numpy as np

SOURCE_URL = "https://people.csail.mit.edu/mlechner/datasets/{env_name}.zip"


def env_dir(env_name: str, root_dir) -> Path:
    """root_dir/data_atari_seq/env_name, which must exist.

    Raises:
        FileNotFoundError: the folder is absent (the message says where ncps
            downloads it from).
    """
    if not isinstance(env_name, str) or not env_name:
        raise ValueError(f"env_name must be a non-empty string, got {env_name!r}")
    path = Path(os.fspath(root_dir)) / "data_atari_seq" / env_name
    if not path.is_dir():
        url = SOURCE_URL.format(env_name=env_name)
        raise FileNotFoundError(
            f"{path} not found. kerasncp-go does not download data sets: ncps 1.0.1 fetches {url}; unzip it so "
            f"that its files lie at {path}/train_*.npz and {path}/val_*.npz (each with arrays obs (steps, 84, "
            "84, 4) uint8 and actions (steps,) int64), or pass root_dir= the folder holding data_atari_seq")
    return path


def split_files(path: Path, split: str) -> List[str]:
    """The files <split>_*.npz of path, sorted by name.

    Raises:
        FileNotFoundError: there is none.
    """
    if not isinstance(split, str) or not split:
        raise ValueError(f"split must be a non-empty string such as 'train' or 'val', got {split!r}")
    files = sorted(str(p) for p in path.glob(f"{split}_*.npz"))
    if not files:
        raise FileNotFoundError(f"no {split}_*.npz files in {path} (split={split!r})")
    return files


def read(file: str, steps=None) -> Tuple[np.ndarray, np.ndarray]:
    """(obs, actions) of one file, as stored.

    Args:
        steps: when given, the number of steps the file must hold (the
            TensorFlow pipeline's fixed shapes).

    Raises:
        ValueError: the file is not an .npz with obs (steps, H, W, C) and
            actions (steps,) (the message names the file and the array).
    """
    try:
        z = np.load(file, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{file}: not a readable .npz file ({e})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"{file}: expected an .npz archive with arrays obs and actions, got a single array")
    with z:
        missing = [k for k in ("obs", "actions") if k not in z.files]
        if missing:
            raise ValueError(f"{file}: missing array {' and '.join(missing)} (has {', '.join(z.files) or 'none'})")
        obs, actions = z["obs"], z["actions"]
    if obs.ndim != 4:
        raise ValueError(f"{file}: obs must have shape (steps, height, width, channels), got {obs.shape}")
    if actions.shape != obs.shape[:1]:
        raise ValueError(f"{file}: actions must have shape ({obs.shape[0]},), one per step of obs, got "
                         f"{actions.shape}")
    if steps is not None and obs.shape != (steps, 84, 84, 4):
        raise ValueError(f"{file}: obs must have shape ({steps}, 84, 84, 4), got {obs.shape}")
    return obs, actions
