"""The kerasncp-go command-line program, run in subprocesses (fork+exec):
training runs that must learn, the files they leave, predict / info / draw /
bench, loading a saved model into every LTC implementation, and bad input
(one line on stderr, a non-zero exit, no traceback)."""

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile

import kerasncp.torch as KT
import kerasncp.wirings as KW
import numpy as np
import pytest
import torch

import kerasncp_go as kg
import kerasncp_go.torch as GT
from conftest import ROOT, rel_err
from kerasncp_go import wirings as W
from kerasncp_go.cli import load_model
from kerasncp_go.train import save_model, sine_task

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args, check=True, cwd=None):
    """Runs `python -m kerasncp_go ARGS` (in cwd, by default a fresh
    temporary folder) and returns the CompletedProcess."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([sys.executable, "-m", "kerasncp_go", *map(str, args)], capture_output=True, text=True,
                           env=env, timeout=120, cwd=cwd or tmp)
    if check:
        assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p


def report_value(stdout, label):
    """A number from train's final report, e.g. 'final train loss (MSE)'."""
    for line in stdout.splitlines():
        if line.startswith(label):
            v = line[len(label):].split()[0]
            return None if v == "-" else float(v)
    raise AssertionError(f"no line {label!r} in:\n{stdout}")


@pytest.fixture(scope="module")
def sine_model(tmp_path_factory):
    """`kerasncp-go train` with every default: AutoNCP(16, 1) on the sine
    task, 1000 epochs."""
    out = tmp_path_factory.mktemp("cli") / "sine"
    p = run("train", "--no-progress", "--out", out)
    return out, p


def test_train_defaults_fit_the_sine_and_write_everything(sine_model):
    out, p = sine_model
    # The untrained model's MSE is about 0.45; the defaults end at 2.3e-5 to 1.7e-4 (seeds 0-7, measured). Adam at
    # lr 0.01 has loss spikes up to ~4e-3 (the reference has them too), hence the margin.
    loss = report_value(p.stdout, "final train loss (MSE)")
    assert loss < 5e-3, p.stdout
    assert report_value(p.stdout, "wall time") > 0, p.stdout  # how long is bench/'s business, not a unit test's
    assert report_value(p.stdout, "validation loss (MSE)") is None
    for name in ("model.npz", "model.json", "loss.png", "prediction.png", "wiring.png"):
        assert (out / name).stat().st_size > 0, name
    for name in ("loss.png", "prediction.png", "wiring.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC, name
    cfg = json.loads((out / "model.json").read_text())
    assert cfg["wiring"] == {"kind": "autoncp", "args": {"units": 16, "output_size": 1, "sparsity_level": 0.5,
                                                          "seed": 22222}}
    assert cfg["cell"]["input_dim"] == 2 and cfg["cell"]["output_dim"] == 1 and cfg["cell"]["ode_unfolds"] == 6
    assert cfg["training"]["final_train_loss"] == pytest.approx(loss, rel=1e-5)
    with np.load(out / "model.npz") as z:
        assert set(z.files) == set(kg.LTCCell(W.AutoNCP(16, 1), 2).params)


def test_train_irregular_task_with_validation(tmp_path):
    out = tmp_path / "irr"
    p = run("train", "--task", "irregular", "--samples", 80, "--epochs", 80, "--wiring", "fc", "--units", 6,
            "--no-progress", "--no-plots", "--out", out)
    # After one epoch the validation MSE is 0.64-0.77 (seeds 0-2); after 80 epochs of 2 batches, 0.012-0.032.
    val = report_value(p.stdout, "validation loss (MSE)")
    assert val is not None and val < 0.06, p.stdout
    cfg = json.loads((out / "model.json").read_text())
    assert cfg["training"]["uses_elapsed"] and cfg["training"]["val_sequences"] == 16
    assert cfg["wiring"]["kind"] == "fc"


def test_train_npz_with_timestamps_ncp_and_predict(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 10, 3)).astype(np.float32)
    y = np.cumsum(x[..., :2], axis=1) * 0.1
    t = np.cumsum(rng.uniform(0.5, 1.5, (12, 10)), axis=1)
    data = tmp_path / "seq.npz"
    np.savez(data, x=x, y=y, t=t)
    out = tmp_path / "model"
    run("train", "--data", data, "--wiring", "ncp", "--inter", 5, "--command", 3, "--epochs", 3,
        "--no-progress", "--out", out)
    assert (out / "prediction.png").exists() and (out / "wiring.png").exists()
    cfg = json.loads((out / "model.json").read_text())
    assert cfg["wiring"]["kind"] == "ncp" and cfg["wiring"]["args"]["motor_neurons"] == 2
    pred = tmp_path / "pred.npz"
    p = run("predict", out, data, "-o", pred)
    assert "MSE" in p.stdout
    _, cell = load_model(str(out))
    e = np.concatenate([np.diff(t, axis=1)[:, :1], np.diff(t, axis=1)], axis=1)
    want, _ = cell.forward_sequence(x, None, e)
    with np.load(pred) as z:
        assert z["y"].shape == (12, 10, 2) and z["h"].shape == (12, cell.state_size)
        np.testing.assert_array_equal(z["y"], want)


def test_saved_model_loads_everywhere_with_the_same_predictions(sine_model, tmp_path):
    out, _ = sine_model
    data = sine_task()
    inputs = tmp_path / "in.npz"
    np.savez(inputs, x=data.x)
    run("predict", out, inputs, "-o", tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as z:
        y_cli = z["y"]

    wiring, cell = load_model(str(out))
    y_np, _ = cell.forward_sequence(data.x)
    np.testing.assert_array_equal(y_cli, y_np)

    state = {k: torch.from_numpy(v) for k, v in np.load(out / "model.npz").items()}
    gt = GT.LTCCell(W.AutoNCP(16, 1), in_features=2)
    gt.load_state_dict(state)
    with torch.no_grad():
        y_gt, _ = gt.sequence(torch.from_numpy(data.x))
    assert rel_err(y_gt.numpy(), y_np) <= 1e-6

    ref_wiring = KW.Wiring.from_config({k: np.asarray(v) if isinstance(v, list) else v
                                        for k, v in W.Wiring.get_config(wiring).items()})
    with contextlib.redirect_stdout(io.StringIO()):  # keras-ncp 2.1.0 prints "alloc!"
        ref = KT.LTCCell(ref_wiring, in_features=2)
    ref.load_state_dict(state)
    h = torch.zeros(1, ref.state_size)
    outs = []
    with torch.no_grad():
        for t in range(data.steps):
            o, h = ref(torch.from_numpy(data.x[:, t]), h)
            outs.append(o)
    y_ref = torch.stack(outs, 1).numpy()
    # float32 sums in another order over 48 steps of 6 unfolds (the parity suite allows 1e-5).
    assert rel_err(y_np, y_ref) <= 1e-5
    assert float(np.mean((y_ref - data.y) ** 2)) < 5e-3


def test_custom_wiring_round_trip(tmp_path):
    w = W.Wiring(5)
    w.set_output_dim(2)
    for src, dst, pol in [(0, 1, 1), (1, 2, -1), (2, 0, 1), (3, 4, 1), (4, 0, -1)]:
        w.add_synapse(src, dst, pol)
    w.build(3)
    for src, dst in [(0, 3), (1, 4), (2, 2)]:
        w.add_sensory_synapse(src, dst, 1)
    cell = kg.LTCCell(w, seed=1)
    save_model(str(tmp_path), cell)
    assert json.loads((tmp_path / "model.json").read_text())["wiring"]["kind"] == "custom"
    w2, cell2 = load_model(str(tmp_path))
    np.testing.assert_array_equal(w2.adjacency_matrix, w.adjacency_matrix)
    np.testing.assert_array_equal(w2.sensory_adjacency_matrix, w.sensory_adjacency_matrix)
    x = np.random.default_rng(0).standard_normal((2, 7, 3)).astype(np.float32)
    np.testing.assert_array_equal(cell2.forward_sequence(x)[0], cell.forward_sequence(x)[0])


# Loads a saved model into kerasncp_go.tf's LTCCell (in keras.layers.RNN) by
# weight name and writes its outputs; run in its own process, since
# TensorFlow is heavy and picks its Keras flavour once per process.
TF_LOADER = r"""
import sys
import numpy as np
from kerasncp_go.cli import load_model
from kerasncp_go.tf import LTCCell, keras
wiring, cell = load_model(sys.argv[1])
x = np.load(sys.argv[2])["x"]
tf_cell = LTCCell(wiring)
rnn = keras.layers.RNN(tf_cell, return_sequences=True)
rnn(x)  # builds the weights
for w in tf_cell.weights:
    w.assign(cell.params[w.name.split("/")[-1].split(":")[0]])
np.save(sys.argv[3], np.asarray(rnn(x)))
"""


def test_saved_model_loads_into_kerasncp_go_tf(sine_model, tmp_path):
    out, _ = sine_model
    data = sine_task()
    np.savez(tmp_path / "in.npz", x=data.x)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_USE_LEGACY_KERAS", None)
    p = subprocess.run([sys.executable, "-c", TF_LOADER, str(out), str(tmp_path / "in.npz"), str(tmp_path / "y.npy")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    _, cell = load_model(str(out))
    y_np, _ = cell.forward_sequence(data.x)
    assert rel_err(np.load(tmp_path / "y.npy"), y_np) <= 1e-5


def test_info(sine_model):
    out, _ = sine_model
    p = run("info", out)
    assert "autoncp" in p.stdout and "sensory_sparsity_mask" in p.stdout and "trainable parameters" in p.stdout
    info = json.loads(run("info", out, "--json").stdout)
    assert info["wiring_summary"]["units"] == 16 and info["wiring_summary"]["layers"]["motor"] == [0]
    by_name = {q["name"]: q for q in info["parameters"]}
    assert by_name["w"]["shape"] == [16, 16] and not by_name["sparsity_mask"]["trainable"]


def test_draw(sine_model, tmp_path):
    out, _ = sine_model
    run("draw", out, "-o", tmp_path / "a.png", "--layout", "shell")
    run("draw", "--wiring", "ncp", "--inter", 8, "--command", 5, "--outputs", 2, "--inputs", 4, "--labels",
        "-o", tmp_path / "b.png")
    for f in ("a.png", "b.png"):
        assert (tmp_path / f).read_bytes()[:8] == PNG_MAGIC
    # The kamada layout needs scipy: drawn where it is installed, else a
    # one-line error naming it.
    p = run("draw", out, "-o", tmp_path / "c.png", "--layout", "kamada", check=False)
    if importlib.util.find_spec("scipy") is not None:
        assert p.returncode == 0 and (tmp_path / "c.png").read_bytes()[:8] == PNG_MAGIC
    else:
        assert p.returncode == 1 and p.stderr.strip().count("\n") == 0 and "needs the Python package scipy" in p.stderr


def test_bench():
    p = run("bench", "--reps", 1, "--warmup", 0)
    rows = [ln for ln in p.stdout.splitlines() if ln.startswith("| ") and ln[2] in "ABCDE"]
    assert [r[2] for r in rows] == list("ABCDE")
    for r in rows:
        fwd, fwdbwd = (float(c) for c in r.strip("|").split("|")[-2:])
        assert 0 < fwd and 0 < fwdbwd


def _bad_inputs(tmp, model):
    garbage = tmp / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file")
    nox = tmp / "nox.npz"
    np.savez(nox, inputs=np.zeros((2, 3, 1)))
    flat = tmp / "flat.npz"
    np.savez(flat, x=np.zeros((5, 2)), y=np.zeros((5, 1)))
    mismatch = tmp / "mismatch.npz"
    np.savez(mismatch, x=np.zeros((4, 6, 2)), y=np.zeros((3, 6, 1)))
    bad_t = tmp / "bad_t.npz"
    np.savez(bad_t, x=np.zeros((4, 6, 2)), y=np.zeros((4, 6, 1)), t=np.zeros((4, 5)))
    three = tmp / "three.npz"
    np.savez(three, x=np.zeros((2, 4, 3)))
    truncated = tmp / "truncated.npz"
    np.savez(truncated, x=np.zeros((4, 6, 2)), y=np.zeros((4, 6, 1)))
    truncated.write_bytes(truncated.read_bytes()[:200])
    afile = tmp / "afile"
    afile.write_text("")
    zero_dt = tmp / "zero_dt.npz"
    np.savez(zero_dt, x=np.ones((2, 5, 2)), elapsed=np.zeros((2, 5)))
    unsorted_t = tmp / "unsorted_t.npz"
    np.savez(unsorted_t, x=np.zeros((2, 3, 2)), y=np.zeros((2, 3, 1)), t=np.array([[0, 2, 1], [0, 1, 2]]))
    return {
        "missing npz": ["train", "--data", tmp / "nope.npz"],
        "malformed npz": ["train", "--data", garbage],
        "truncated npz": ["train", "--data", truncated],
        "npz without x": ["train", "--data", nox],
        "x not 3-D": ["train", "--data", flat],
        "x and y disagree": ["train", "--data", mismatch],
        "t of the wrong shape": ["train", "--data", bad_t],
        "unknown wiring": ["train", "--wiring", "hexagonal"],
        "negative size": ["train", "--units", "-3"],
        "ncp fanout too large": ["train", "--wiring", "ncp", "--command", 2, "--inter-fanout", 5],
        "outputs do not match targets": ["train", "--outputs", 3],
        "unwritable output folder": ["train", "--out", afile / "sub"],
        "missing model": ["predict", tmp / "no-model", garbage],
        "predict malformed npz": ["predict", model, garbage],
        "predict wrong features": ["predict", model, three],
        "info on a non-model": ["info", tmp],
        "unknown bench config": ["bench", "--configs", "XZ"],
        "zero elapsed times": ["predict", model, zero_dt],
        "timestamps not increasing": ["train", "--data", unsorted_t],
        "bench json into a missing folder": ["bench", "--json", tmp / "no" / "b.json"],
        "autoncp too small": ["train", "--wiring", "autoncp", "--units", 2],
    }


BAD_CASES = [
    "missing npz", "malformed npz", "truncated npz", "npz without x", "x not 3-D", "x and y disagree",
    "t of the wrong shape",
    "unknown wiring", "negative size", "ncp fanout too large", "outputs do not match targets",
    "unwritable output folder", "missing model", "predict malformed npz", "predict wrong features",
    "info on a non-model", "unknown bench config", "zero elapsed times", "timestamps not increasing",
    "bench json into a missing folder", "autoncp too small"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_line_without_traceback(case, sine_model, tmp_path):
    out, _ = sine_model
    args = _bad_inputs(tmp_path, out)[case]
    before = set(os.listdir(tmp_path))
    p = run(*args, check=False, cwd=tmp_path)
    assert set(os.listdir(tmp_path)) == before, "a failed command left files behind"
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode != 0
    assert "Traceback" not in p.stderr, p.stderr
    assert len(lines) == 1, p.stderr
    assert "error" in lines[0], lines[0]
    if case in ("zero elapsed times", "timestamps not increasing"):  # errors about a data file name it
        assert os.path.basename(str(args[-1])) in lines[0], lines[0]
