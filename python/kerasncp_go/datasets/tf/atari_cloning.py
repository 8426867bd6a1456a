"""ncps 1.0.1's ``AtariCloningDatasetTF`` over local files."""

from __future__ import annotations

import tensorflow as tf

from .. import _atari

__all__ = ["AtariCloningDatasetTF"]

_STEPS = 32  # every file holds 32 steps (the pipeline's fixed shapes)


def _load(file):
    obs, actions = _atari.read(file.numpy().decode("utf-8"), steps=_STEPS)
    return tf.convert_to_tensor(obs), tf.convert_to_tensor(actions)


def _load_fn(file):
    x, y = tf.py_function(func=_load, inp=[file], Tout=[tf.uint8, tf.int64])
    return tf.ensure_shape(x, (_STEPS, 84, 84, 4)), tf.ensure_shape(y, (_STEPS,))


class AtariCloningDatasetTF:
    """Atari behaviour-cloning sequences as ``tf.data`` pipelines.

    Args:
        env_name: the game; files are read from
            ``<root_dir>/data_atari_seq/<env_name>/{train,val}_*.npz``.
        root_dir: the folder holding ``data_atari_seq``.

    Elements are (obs (32, 84, 84, 4) uint8, actions (32,) int64), batched.

    Raises:
        FileNotFoundError: the folder, or the train or val files, are absent
            (nothing is downloaded; the message says where ncps gets them).

    Example:
        >>> data = AtariCloningDatasetTF("breakout", root_dir="data")
        >>> val = data.get_dataset(32, "val")
    """

    def __init__(self, env_name: str, root_dir=".") -> None:
        path = _atari.env_dir(env_name, root_dir)
        self.val_files = _atari.split_files(path, "val")
        self.train_files = _atari.split_files(path, "train")

    def get_dataset(self, batch_size: int, split: str) -> tf.data.Dataset:
        """The split ("train": shuffled each pass; "val": in file order),
        batched and prefetched.

        Raises:
            ValueError: another split. A bad file raises when its element is
            read (tf.errors.InvalidArgumentError carrying the file's name).
        """
        if split == "train":
            ds = tf.data.Dataset.from_tensor_slices(self.train_files).shuffle(30000)
        elif split == "val":
            ds = tf.data.Dataset.from_tensor_slices(self.val_files)
        else:
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        return ds.map(_load_fn).batch(batch_size).prefetch(10)
