"""kerasncp_go.datasets against the loaders of keras-ncp 2.1.0 and ncps 1.0.1,
on small files written here in the reference's format (the real files are
not downloaded). The reference loaders run with their download disabled: a
download attempt fails the test."""

import hashlib
import os
import types
import urllib.request

import kerasncp.datasets.icra2020_lidar_collision_avoidance as ref_icra_kerasncp
import ncps.datasets.icra2020_lidar_collision_avoidance as ref_icra_ncps
import ncps.datasets.tf as ref_atari_tf
import ncps.datasets.torch as ref_atari_torch
import numpy as np
import pytest
import tensorflow as tf
import torch

from kerasncp_go.datasets import icra2020_lidar_collision_avoidance as icra
from kerasncp_go.datasets.tf import AtariCloningDatasetTF
from kerasncp_go.datasets.torch import AtariCloningDataset


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a loader tried to download")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def write_icra(path, seed=0, lengths=None, beams=9, dtype=np.float32, **override):
    """29 recordings of random lengths in the published file's layout."""
    rng = np.random.default_rng(seed)
    lengths = lengths or rng.integers(40, 120, 29)
    arrays = {}
    for i, n in enumerate(lengths):
        arrays[f"x_{i}"] = rng.uniform(0, 10, (n, beams)).astype(dtype)
        arrays[f"y_{i}"] = rng.uniform(-1, 1, n).astype(np.float32)
    arrays.update(override)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


def reference_load(module, monkeypatch, path, seq_len):
    """The reference's load_data on path, its checksum check satisfied so that
    it reads the file instead of downloading."""
    digest = types.SimpleNamespace(hexdigest=lambda: icra.MD5)
    monkeypatch.setattr(module, "hashlib", types.SimpleNamespace(md5=lambda data: digest))
    return module.load_data(local_path=str(path), seq_len=seq_len)


def assert_identical(got, want):
    (gtx, gty), (gsx, gsy) = got
    (wtx, wty), (wsx, wsy) = want
    for g, w in ((gtx, wtx), (gty, wty), (gsx, wsx), (gsy, wsy)):
        assert g.dtype == w.dtype and g.shape == w.shape
        assert g.tobytes() == w.tobytes()


@pytest.mark.parametrize("module", [ref_icra_kerasncp, ref_icra_ncps], ids=["kerasncp", "ncps"])
@pytest.mark.parametrize("seq_len", [2, 7, 16, 32])
def test_icra_load_data_is_bit_identical(tmp_path, monkeypatch, module, seq_len):
    path = write_icra(tmp_path / "data.npz", seed=seq_len)
    got = icra.load_data(local_path=str(path), seq_len=seq_len)
    assert_identical(got, reference_load(module, monkeypatch, path, seq_len))
    (train_x, train_y), (test_x, test_y) = got
    assert train_x.shape[1:] == (seq_len, 9, 1) and train_y.shape[1:] == (seq_len, 1)


def test_icra_other_dtypes_and_default_seq_len(tmp_path, monkeypatch):
    path = write_icra(tmp_path / "data.npz", seed=3, dtype=np.float64, beams=4)
    assert_identical(icra.load_data(str(path)), reference_load(ref_icra_kerasncp, monkeypatch, path, 32))


def test_icra_split_is_the_references(tmp_path, monkeypatch):
    """Each recording filled with its index: the test set holds the
    reference's seven recordings, each followed by its mirror image."""
    arrays = {}
    for i in range(29):
        arrays[f"x_{i}"] = np.full((10, 3), i, np.float32) + np.arange(3, dtype=np.float32)
        arrays[f"y_{i}"] = np.full(10, i + 1, np.float32)
    np.savez(tmp_path / "d.npz", **arrays)
    (train_x, train_y), (test_x, test_y) = icra.load_data(str(tmp_path / "d.npz"), seq_len=4)
    windows = len(range(0, 10 - 4, 2))  # per 10-step recording
    ids = [int(v) for v in test_y[::windows, 0, 0]]
    # y = index + 1, the mirror negated; the test recordings of the reference
    # are 6, 18, 9, 26, 7, 24, 22 (REFERENCE.md section 4, checked there by
    # running keras-ncp's loader, and here again against it below).
    assert ids == [7, -7, 19, -19, 10, -10, 27, -27, 8, -8, 25, -25, 23, -23]
    np.testing.assert_array_equal(test_x[windows, 0, :, 0], test_x[0, 0, ::-1, 0])
    assert_identical(icra.load_data(str(tmp_path / "d.npz"), seq_len=4),
                     reference_load(ref_icra_kerasncp, monkeypatch, tmp_path / "d.npz", 4))


def test_icra_missing_file_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as e:
        icra.load_data()
    msg = str(e.value)
    assert os.path.join("datasets", "icra2020_imitation_data_packed.npz") in msg
    assert icra.SOURCE_URL in msg and icra.MD5 in msg and "local_path" in msg
    assert not (tmp_path / "datasets").exists()  # nothing created
    with pytest.raises(FileNotFoundError, match="elsewhere.npz not found"):
        icra.load_data(str(tmp_path / "elsewhere.npz"))


def test_icra_default_location_checks_the_checksum_and_leaves_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "datasets").mkdir()
    path = write_icra(tmp_path / "datasets" / "icra2020_imitation_data_packed.npz")
    before = path.read_bytes()
    digest = hashlib.md5(before).hexdigest()
    with pytest.raises(ValueError, match=f"has MD5 {digest}, not the published file's {icra.MD5}"):
        icra.load_data()
    assert path.read_bytes() == before
    icra.load_data(str(path))  # the same file, named: read without a check


@pytest.mark.parametrize("override,message", [
    ({"y_5": None}, "missing arrays y_5"),
    ({"x_0": None, "x_28": None}, "missing arrays x_0, x_28"),
    ({"x_3": np.zeros(50, np.float32)}, r"x_3 must have a time axis and a beam axis, got shape \(50,\)"),
    ({"y_4": np.zeros(3, np.float32)}, r"y_4 must have one entry per time step of x_4"),
    ({"x_7": np.zeros((60, 5), np.float32), "y_7": np.zeros(60, np.float32)},
     r"x_7 and y_7 have shapes \(60, 5\) and \(60,\), but x_0 and y_0 have \(\d+, 9\)"),
])
def test_icra_bad_files(tmp_path, override, message):
    path = write_icra(tmp_path / "bad.npz", **override)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=message) as e:
        icra.load_data(str(path))
    assert str(path) in str(e.value)
    assert path.read_bytes() == before


def test_icra_bad_seq_len_and_not_an_npz(tmp_path):
    path = write_icra(tmp_path / "d.npz", lengths=[20] * 29)
    for bad in (1, 0, -3, 2.5, True, "8"):
        with pytest.raises(ValueError, match="seq_len must be an integer of at least 2"):
            icra.load_data(str(path), seq_len=bad)
    with pytest.raises(ValueError, match=r"seq_len=20 leaves no training sequence: the longest training recording "
                                         r".* has 20 steps, and a window needs seq_len \+ 1"):
        icra.load_data(str(path), seq_len=20)
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="text.npz: not a readable .npz file"):
        icra.load_data(str(tmp_path / "text.npz"))
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(ValueError, match="one.npy: expected an .npz archive"):
        icra.load_data(str(tmp_path / "one.npy"))


# -- Atari behaviour cloning (ncps 1.0.1) ------------------------------------

def write_atari(root, env="pong", train=3, val=2, steps=32, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "data_atari_seq" / env
    folder.mkdir(parents=True)
    for split, n in (("train", train), ("val", val)):
        for i in range(n):
            np.savez(folder / f"{split}_{i}.npz", obs=rng.integers(0, 256, (steps, 84, 84, 4), dtype=np.uint8),
                     actions=rng.integers(0, 18, steps, dtype=np.int64))
    return folder


@pytest.mark.parametrize("split", ["train", "val"])
def test_atari_torch_items_equal_the_references(tmp_path, split):
    write_atari(tmp_path)
    ours = AtariCloningDataset("pong", split=split, root_dir=tmp_path)
    ref = ref_atari_torch.AtariCloningDataset("pong", split=split, root_dir=str(tmp_path))
    assert len(ours) == len(ref) == (3 if split == "train" else 2)
    assert ours.files == sorted(str(f) for f in ref.files)
    for i, f in enumerate(ref.files):
        (gx, gy), (wx, wy) = ours[ours.files.index(str(f))], ref[i]
        assert gx.dtype == wx.dtype == torch.float32 and gy.dtype == wy.dtype
        assert gx.shape == wx.shape == (32, 4, 84, 84)
        assert torch.equal(gx, wx) and torch.equal(gy, wy)


def test_atari_tf_elements_equal_the_references(tmp_path):
    write_atari(tmp_path, train=3, val=3)
    ours = AtariCloningDatasetTF("pong", root_dir=tmp_path)
    ref = ref_atari_tf.AtariCloningDatasetTF("pong", root_dir=str(tmp_path))
    assert ours.val_files == sorted(ref.val_files) and ours.train_files == sorted(ref.train_files)
    # val, one file per batch: pair the elements by file name.
    got = dict(zip(ours.val_files, ours.get_dataset(1, "val")))
    for f, (wx, wy) in zip(ref.val_files, ref.get_dataset(1, "val")):
        gx, gy = got[f]
        assert gx.dtype == wx.dtype and gy.dtype == wy.dtype and gx.shape == wx.shape == (1, 32, 84, 84, 4)
        assert np.array_equal(gx.numpy(), wx.numpy()) and np.array_equal(gy.numpy(), wy.numpy())
    # train is shuffled (both): the same elements in some order.
    def key(e):
        return hashlib.sha256(e[0].numpy().tobytes() + e[1].numpy().tobytes()).hexdigest()
    assert sorted(map(key, ours.get_dataset(1, "train"))) == sorted(map(key, ref.get_dataset(1, "train")))
    batches = list(ours.get_dataset(2, "val"))
    assert [b[0].shape[0] for b in batches] == [2, 1]
    with pytest.raises(ValueError, match="split must be 'train' or 'val', got 'test'"):
        ours.get_dataset(1, "test")


def test_atari_missing_data_says_where_it_comes_from(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        AtariCloningDataset("breakout", root_dir=tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "data_atari_seq" / "breakout") in msg
    assert "https://people.csail.mit.edu/mlechner/datasets/breakout.zip" in msg
    assert not (tmp_path / "data_atari_seq").exists()
    write_atari(tmp_path, val=0)
    with pytest.raises(FileNotFoundError, match=r"no val_\*.npz files in .*pong \(split='val'\)"):
        AtariCloningDataset("pong", split="val", root_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no val_\*.npz files"):
        AtariCloningDatasetTF("pong", root_dir=tmp_path)


@pytest.mark.parametrize("arrays,message", [
    ({"obs": np.zeros((32, 84, 84, 4), np.uint8)}, "missing array actions"),
    ({"obs": np.zeros((32, 84, 84), np.uint8), "actions": np.zeros(32, np.int64)},
     r"obs must have shape \(steps, height, width, channels\), got \(32, 84, 84\)"),
    ({"obs": np.zeros((32, 84, 84, 4), np.uint8), "actions": np.zeros(31, np.int64)},
     r"actions must have shape \(32,\), one per step of obs, got \(31,\)"),
])
def test_atari_bad_files(tmp_path, arrays, message):
    folder = write_atari(tmp_path, train=1, val=1)
    bad = folder / "train_1.npz"
    np.savez(bad, **arrays)
    before = bad.read_bytes()
    ds = AtariCloningDataset("pong", root_dir=tmp_path)
    with pytest.raises(ValueError, match=message) as e:
        ds[ds.files.index(str(bad))]
    assert str(bad) in str(e.value) and bad.read_bytes() == before


def test_atari_tf_wrong_steps_name_the_file(tmp_path):
    folder = write_atari(tmp_path, train=1, val=0)
    np.savez(folder / "val_0.npz", obs=np.zeros((16, 84, 84, 4), np.uint8), actions=np.zeros(16, np.int64))
    ds = AtariCloningDatasetTF("pong", root_dir=tmp_path).get_dataset(1, "val")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"val_0.npz: obs must have shape \(32, 84, 84, 4\)"):
        list(ds)


def test_reference_dataset_imports_resolve_under_the_compat_runner(tmp_path):
    """keras-ncp's and ncps's dataset modules are kerasncp_go's under
    python -m kerasncp_go.compat, and read a local file there."""
    import pathlib
    import subprocess
    import sys
    import textwrap
    root = pathlib.Path(__file__).resolve().parent.parent
    write_icra(tmp_path / "d.npz")
    write_atari(tmp_path, train=1, val=1)
    script = tmp_path / "s.py"
    script.write_text(textwrap.dedent(f"""
        import kerasncp as kncp
        (x, y), _ = kncp.datasets.icra2020_lidar_collision_avoidance.load_data({str(tmp_path / "d.npz")!r}, 16)
        print(kncp.datasets.icra2020_lidar_collision_avoidance.__name__, x.shape[1:])
        from ncps.datasets.torch import AtariCloningDataset
        from ncps.datasets.tf import AtariCloningDatasetTF
        print(AtariCloningDataset.__module__, AtariCloningDatasetTF.__module__)
        print(len(AtariCloningDataset("pong", "val", {str(tmp_path)!r})))
    """))
    out = subprocess.run([sys.executable, "-m", "kerasncp_go.compat", "--ncps", str(script)], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(root / "python")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == [
        "kerasncp_go.datasets.icra2020_lidar_collision_avoidance (16, 9, 1)",
        "kerasncp_go.datasets.torch.atari_cloning kerasncp_go.datasets.tf.atari_cloning", "1"]
