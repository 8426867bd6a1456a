"""ncps 1.0.1's ``AtariCloningDataset`` over local files."""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

from .. import _atari

__all__ = ["AtariCloningDataset"]


class AtariCloningDataset(Dataset):
    """Atari behaviour-cloning sequences, one item per file.

    Args:
        env_name: the game, e.g. "breakout"; files are read from
            ``<root_dir>/data_atari_seq/<env_name>/<split>_*.npz``.
        split: "train" or "val" (the file name prefix).
        root_dir: the folder holding ``data_atari_seq``.

    Items are (x, y): x float32 (steps, channels, height, width) scaled to
    [0, 1], y the stored actions (int64). Files are taken in name order.

    Raises:
        FileNotFoundError: the folder or the split's files are absent (nothing
            is downloaded; the message says where ncps gets them).
        ValueError: on reading an item, a file without obs/actions or with
            wrong shapes.

    Example:
        >>> ds = AtariCloningDataset("breakout", split="val", root_dir="data")
        >>> x, y = ds[0]
    """

    def __init__(self, env_name: str, split: str = "train", root_dir=".") -> None:
        self.files = _atari.split_files(_atari.env_dir(env_name, root_dir), split)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, idx) -> Tuple[torch.Tensor, torch.Tensor]:
        obs, actions = _atari.read(self.files[idx])
        x = np.transpose(obs, (0, 3, 1, 2))  # channels first
        return torch.from_numpy(x.astype(np.float32) / 255), torch.from_numpy(actions)
