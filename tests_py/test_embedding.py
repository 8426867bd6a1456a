"""Embedding in control loops and in C: the NumPy stepper, kncp_ltc_init,
and examples/c/stepper.c built by scripts/build-c.sh against the static and
the shared library, running a model that `kerasncp-go train` saved.

The C program's outputs are held to the Python model's predictions
(kerasncp_go.train.load_model + forward_sequence) on the same inputs.
Go and a C compiler are requirements of the project: their absence fails."""

import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

import kerasncp_go as kg
from conftest import ROOT
from kerasncp_go import _lib, wirings
from kerasncp_go.train.model_io import load_model

E_WIRING = dict(inter_neurons=12, command_neurons=6, motor_neurons=1, sensory_fanout=6, inter_fanout=4,
                recurrent_command_synapses=6, motor_fanin=6, seed=22222)


def _cell(dtype=np.float32, seed=0, **kw):
    return kg.LTCCell(wirings.NCP(**E_WIRING), in_features=32, dtype=dtype, seed=seed, **kw)


# ---- NumPy stepper ------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [1, 3])
def test_stepper_steps_as_forward_sequence(dtype, batch):
    cell = _cell(dtype)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 6, 32)).astype(dtype)
    ts = np.array([1.0, 0.5, 2.0, 1.0, 0.25, 1.0])
    y, h = cell.forward_sequence(x, timespans=np.broadcast_to(ts, (batch, 6)).astype(dtype))
    st = cell.stepper(batch)
    for t in range(6):
        got = st.step(x[0, t] if batch == 1 else x[:, t], elapsed=ts[t])
        np.testing.assert_array_equal(got, y[0, t] if batch == 1 else y[:, t])
    np.testing.assert_array_equal(st.state, h)
    st.reset()
    assert not st.state.any()
    st.reset(h)
    np.testing.assert_array_equal(st.state, h)


def test_stepper_copies_the_parameters_at_creation():
    cell = _cell()
    st = cell.stepper()
    x = np.ones(32, np.float32)
    y0 = st.step(x)
    cell.params["gleak"][:] = 0.5
    st.reset()
    np.testing.assert_array_equal(st.step(x), y0)


def test_stepper_bad_input_is_refused_and_the_state_kept():
    st = _cell().stepper()
    x = np.ones(32, np.float32)
    st.step(x)
    before = st.state
    with pytest.raises(ValueError, match=r"x must have shape \(32,\), got \(31,\)"):
        st.step(np.ones(31, np.float32))
    bad = x.copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match=r"feature 5\) is NaN; the state is unchanged"):
        st.step(bad)
    bad[5] = np.inf
    with pytest.raises(ValueError, match=r"feature 5\) is \+?Inf"):
        st.step(bad)
    for el in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="elapsed must be finite and > 0"):
            st.step(x, elapsed=el)
    np.testing.assert_array_equal(st.state, before)
    with pytest.raises(ValueError, match="state must have shape"):
        st.reset(np.zeros((2, 19)))
    with pytest.raises(ValueError, match="batch must be >= 1"):
        _cell().stepper(0)


def test_stepper_used_from_two_threads_raises_instead_of_mixing():
    st = _cell().stepper()
    x = np.ones(32, np.float32)
    errors, done = [], []

    def loop():
        for _ in range(2000):
            try:
                y = st.step(x)
                assert np.isfinite(y).all()
                done.append(1)
            except RuntimeError as e:
                errors.append(str(e))

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) + len(done) == 4000 and np.isfinite(st.state).all()
    assert all("in use by another thread" in e for e in errors)


def test_closed_stepper_is_an_error_not_a_crash():
    st = _cell().stepper()
    st.close()
    with pytest.raises(kg.NCPError, match="not live"):
        st.step(np.ones(32, np.float32))


# ---- kncp_ltc_init ------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mappings", [("affine", "affine"), ("linear", None)])
@pytest.mark.parametrize("seed", [0, 12345])
def test_kncp_ltc_init_gives_the_numpy_cells_parameters(dtype, mappings, seed):
    want = _cell(dtype, seed, input_mapping=mappings[0], output_mapping=mappings[1])
    got = {k: np.full_like(v, np.nan) for k, v in want.params.items()}
    spec = kg.LTCCell(want.wiring, input_mapping=mappings[0], output_mapping=mappings[1], dtype=dtype)
    spec.params = got
    _lib.call("kncp_ltc_init", want.wiring._handle, spec.spec().ref, seed)
    for k, v in want.params.items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)


def test_kncp_ltc_init_refuses_a_wiring_that_does_not_fit():
    cell = _cell()
    other = wirings.FullyConnected(8, 1)
    other.build(32)
    with pytest.raises(ValueError, match="does not fit the cell"):
        _lib.call("kncp_ltc_init", other._handle, cell.spec().ref, 0)


# ---- model folders from Python and C -----------------------------------

def _readings(steps, inputs):
    t = np.arange(steps)[:, None]
    i = np.arange(inputs)[None, :]
    return np.sin(0.3 * t + 0.7 * i).astype(np.float32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model folder written by the CLI (a short training run)."""
    out = tmp_path_factory.mktemp("model")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    subprocess.run([sys.executable, "-m", "kerasncp_go", "train", "--task", "sine", "--epochs", "5", "--wiring", "ncp",
                    "--out", str(out), "--no-progress", "--no-plots"], check=True, env=env, capture_output=True)
    return out


def _python_predictions(folder, steps):
    _, cell = load_model(str(folder))
    y, _ = cell.forward_sequence(_readings(steps, cell.sensory_size)[None])
    return y[0]


def test_stepper_load_reads_the_cli_model(trained):
    st = kg.Stepper.load(trained)
    want = _python_predictions(trained, 12)
    got = np.stack([st.step(x) for x in _readings(12, st.input_size)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_a_corrupt_model_is_an_error_naming_the_file(trained, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(trained, folder)
    data = (folder / "model.npz").read_bytes()
    (folder / "model.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="model.npz is not a usable parameter archive"):
        kg.Stepper.load(folder)
    (folder / "model.npz").unlink()
    with pytest.raises(ValueError, match="model.npz"):
        kg.Stepper.load(folder)
    with pytest.raises(ValueError, match="model.json"):
        kg.Stepper.load(tmp_path / "nothing")


@pytest.fixture(scope="module")
def clib(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("prefix")
    p = subprocess.run(["bash", str(ROOT / "scripts" / "build-c.sh"), str(prefix)], capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == 0, p.stderr
    for f in ("include/kerasncp.h", "lib/libkerasncp.a", "lib/libkerasncp.so", "lib/pkgconfig/kerasncp.pc",
              "lib/pkgconfig/kerasncp-static.pc"):
        assert (prefix / f).exists(), f
    return prefix


def _pkgconfig(prefix, *args):
    assert shutil.which("pkg-config"), "pkg-config is not on PATH"
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    return subprocess.run(["pkg-config", *args], env=env, capture_output=True, text=True, check=True).stdout.split()


@pytest.mark.parametrize("kind", ["static", "shared"])
def test_c_stepper_example_reproduces_the_python_model(kind, clib, trained, tmp_path):
    cc = shutil.which(os.environ.get("CC", "cc"))
    assert cc, "no C compiler"
    exe = tmp_path / f"stepper-{kind}"
    pc = "kerasncp-static" if kind == "static" else "kerasncp"
    flags = _pkgconfig(clib, "--cflags", "--libs", pc)
    extra = [] if kind == "static" else [f"-Wl,-rpath,{clib / 'lib'}"]
    p = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", str(ROOT / "examples" / "c" / "stepper.c"),
                        *flags, "-lm", *extra, "-o", str(exe)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    deps = subprocess.run(["ldd", str(exe)], capture_output=True, text=True).stdout
    assert ("libkerasncp" in deps) == (kind == "shared"), deps
    p = subprocess.run([str(exe), str(trained), "20"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    got = np.array([[float(v) for v in line.split()[1:]] for line in p.stdout.splitlines()])
    want = _python_predictions(trained, 20)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert "a NaN reading: code 1:" in p.stderr and "is NaN; the state is unchanged" in p.stderr
    # A corrupt model.npz: an error code and a message, not a crash.
    bad = tmp_path / "bad"
    shutil.copytree(trained, bad)
    (bad / "model.npz").write_bytes(b"PK\x03\x04 not really a zip archive")
    p = subprocess.run([str(exe), str(bad)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "code 5:" in p.stdout and "model.npz is not a usable parameter archive" in p.stdout, \
        p.stdout + p.stderr
