"""The ICRA 2020 lidar collision-avoidance data set (keras-ncp's
``kerasncp.datasets.icra2020_lidar_collision_avoidance``).

The data is one ``.npz`` file holding 29 recordings: ``x_0`` .. ``x_28``, lidar
scans with time on axis 0 and beams on axis 1, and ``y_0`` .. ``y_28``, the
steering command at each time step (same length on axis 0).
:func:`load_data` splits the recordings into 22 for training and 7 for testing
(a fixed shuffle), adds a mirrored copy of each (beams reversed, steering
negated) and cuts windows of ``seq_len`` steps that overlap by half. The
results equal keras-ncp 2.1.0's for the same file, bit for bit.
"""

from __future__ import annotations

import hashlib
import os
from typing import List, Optional, Tuple

import numpy as np

__all__ = ["load_data", "FILE_NAME", "SOURCE_URL", "MD5"]

#: The file's name, and where keras-ncp 2.1.0 and ncps 1.0.1 download it from.
FILE_NAME = "icra2020_imitation_data_packed.npz"
SOURCE_URL = "https://github.com/mlech26l/icra_lds/raw/master/" + FILE_NAME
#: The MD5 digest keras-ncp 2.1.0 accepts for that file (it downloads the file
#: again when a local copy has another one).
MD5 = "15ab035e0866fc065acfc0ad781d75c5"
#: Default location, relative to the working directory (as the reference).
DEFAULT_PATH = os.path.join("datasets", FILE_NAME)

_RECORDINGS = 29  # x_0..x_28 and y_0..y_28
_TEST_RECORDINGS = 7
_SPLIT_SEED = 20200822

Recording = Tuple[np.ndarray, np.ndarray]


def _where_to_get_it(path: str) -> str:
    return (f"kerasncp-go does not download data sets: fetch {FILE_NAME} from {SOURCE_URL} (the file "
            f"keras-ncp 2.1.0 downloads; its MD5 is {MD5}) and put it at {path!r}, or pass "
            "load_data(local_path=...) to read a file elsewhere (no checksum check then). Expected layout: "
            f"an .npz with arrays x_0..x_{_RECORDINGS - 1} (time, beams) and y_0..y_{_RECORDINGS - 1} "
            "(time, ...) of equal lengths on axis 0")


def _md5(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read(path: str) -> List[Recording]:
    """The 29 (x, y) recordings of the file, checked."""
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: expected an .npz archive with x_i and y_i arrays, got a single array")
    recordings: List[Recording] = []
    with z:
        missing = [f"{p}_{i}" for i in range(_RECORDINGS) for p in "xy" if f"{p}_{i}" not in z.files]
        if missing:
            raise ValueError(f"{path}: missing arrays {', '.join(missing)} (the file must hold x_0..x_"
                             f"{_RECORDINGS - 1} and y_0..y_{_RECORDINGS - 1})")
        for i in range(_RECORDINGS):
            x, y = z[f"x_{i}"], z[f"y_{i}"]
            if x.ndim < 2:
                raise ValueError(f"{path}: x_{i} must have a time axis and a beam axis, got shape {x.shape}")
            if y.ndim < 1 or y.shape[0] != x.shape[0]:
                raise ValueError(f"{path}: y_{i} must have one entry per time step of x_{i} "
                                 f"({x.shape[0]}), got shape {y.shape}")
            if recordings and (x.shape[1:] != recordings[0][0].shape[1:] or y.shape[1:] != recordings[0][1].shape[1:]):
                raise ValueError(f"{path}: x_{i} and y_{i} have shapes {x.shape} and {y.shape}, but x_0 and y_0 "
                                 f"have {recordings[0][0].shape} and {recordings[0][1].shape}: all recordings "
                                 "must agree except in length")
            recordings.append((x, y))
    return recordings


def _split(recordings: List[Recording]) -> Tuple[List[Recording], List[Recording]]:
    """(train, test): a fixed shuffle of the recordings, the first 7 for
    testing. Shuffling a list of indices draws the same permutation as
    shuffling the list of recordings (it depends only on the length)."""
    order = list(range(len(recordings)))
    np.random.default_rng(_SPLIT_SEED).shuffle(order)
    shuffled = [recordings[i] for i in order]
    return shuffled[_TEST_RECORDINGS:], shuffled[:_TEST_RECORDINGS]


def _with_mirrored(recordings: List[Recording]) -> List[Recording]:
    """Each recording followed by its mirror image: beams reversed, steering
    negated."""
    out = []
    for x, y in recordings:
        out.append((x, y))
        out.append((x[:, ::-1], -y))
    return out


def _windows(recordings: List[Recording], seq_len: int, which: str, path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Windows of seq_len steps starting every seq_len // 2 steps (the last
    start is length - seq_len - 1), stacked, with a trailing axis of 1."""
    xs, ys = [], []
    for x, y in recordings:
        for start in range(0, x.shape[0] - seq_len, seq_len // 2):
            xs.append(x[start:start + seq_len])
            ys.append(y[start:start + seq_len])
    if not xs:
        longest = max(x.shape[0] for x, _ in recordings)
        raise ValueError(f"seq_len={seq_len} leaves no {which} sequence: the longest {which} recording of "
                         f"{path} has {longest} steps, and a window needs seq_len + 1")
    return np.stack(xs)[..., np.newaxis], np.stack(ys)[..., np.newaxis]


def load_data(local_path: Optional[str] = None, seq_len: int = 32):
    """Training and test sequences of the ICRA 2020 lidar data.

    Args:
        local_path: the .npz file. None reads ``datasets/icra2020_imitation_
            data_packed.npz`` under the working directory and checks its MD5
            against the published file's; a path given here is read as it is.
        seq_len: steps per sequence (at least 2; windows overlap by
            seq_len // 2 steps).

    Returns:
        ``((train_x, train_y), (test_x, test_y))``; x of shape (sequences,
        seq_len, beams, 1), y of shape (sequences, seq_len, 1) for a
        one-value steering command.

    Raises:
        FileNotFoundError: the file is absent (the message says where to get
            it and where to put it).
        ValueError: a bad seq_len, a file that is not the expected .npz (the
            message names the file and the array), or a default-location file
            with another checksum.

    Example:
        >>> (train_x, train_y), (test_x, test_y) = load_data("icra2020_imitation_data_packed.npz")
    """
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)) or seq_len < 2:
        raise ValueError(f"seq_len must be an integer of at least 2, got {seq_len!r}")
    seq_len = int(seq_len)
    check = local_path is None
    path = os.fspath(DEFAULT_PATH if local_path is None else local_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found. " + _where_to_get_it(path))
    if check:
        digest = _md5(path)
        if digest != MD5:
            raise ValueError(f"{path} has MD5 {digest}, not the published file's {MD5}; it was left as it is. "
                             "Replace it with the published file, or pass its path as local_path to read it "
                             "anyway. " + _where_to_get_it(path))
    train, test = _split(_read(path))
    return (_windows(_with_mirrored(train), seq_len, "training", path),
            _windows(_with_mirrored(test), seq_len, "test", path))
