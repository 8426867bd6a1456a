"""The NumPy LTC cell against the reference's fixtures, its error paths, and
its behaviour under threads."""

import copy
import multiprocessing
import os
import pickle
import threading
import time

import numpy as np
import pytest

import kerasncp_go as kg
from conftest import load_fixture, ltc_fixtures, rel_err
from kerasncp_go import _lib
from kerasncp_go import wirings as W


def _cell_from_fixture(fx, z):
    w = W.Wiring.from_config({"units": fx["units"], "adjacency_matrix": z["adjacency"],
                              "sensory_adjacency_matrix": z["sensory_adjacency"], "input_dim": fx["input_dim"],
                              "output_dim": fx["output_dim"]})
    mapping = {"none": None}
    cell = kg.LTCCell(w, input_mapping=mapping.get(fx["input_mapping"], fx["input_mapping"]),
                      output_mapping=mapping.get(fx["output_mapping"], fx["output_mapping"]),
                      ode_unfolds=fx["ode_unfolds"], epsilon=fx["epsilon"],
                      implicit_param_constraints=fx["implicit_param_constraints"], dtype=fx["dtype"])
    cell.load_state_dict({k: z[k] for k in cell.params})
    return cell


@pytest.mark.parametrize("fx", ltc_fixtures(), ids=lambda f: f["name"])
def test_sequence_forward_and_gradients_match_reference(fx):
    z = load_fixture(fx["name"])
    cell = _cell_from_fixture(fx, z)
    y, h, tape = cell.forward_with_tape(z["x"], z["h0"], z.get("elapsed"))
    tol_f, tol_g = (1e-5, 1e-4) if fx["dtype"] == "float32" else (1e-10, 1e-10)
    assert rel_err(y, z["y"]) <= tol_f
    assert rel_err(h, z["h_final"]) <= tol_f
    g = cell.backward(tape, z["gy"], z["gh"])
    for name in [k[5:] for k in z if k.startswith("grad_")]:
        assert rel_err(g[name], z["grad_" + name]) <= tol_g, name


def test_single_steps_equal_the_sequence():
    fx = next(f for f in ltc_fixtures() if f["irregular"] and f["batch"] > 1 and f["dtype"] == "float32")
    z = load_fixture(fx["name"])
    cell = _cell_from_fixture(fx, z)
    h = z["h0"]
    for t in range(fx["steps"]):
        y, h = cell(z["x"][:, t], h, z["elapsed"][:, t])
        assert rel_err(y, z["y"][:, t]) <= 1e-5
    assert rel_err(h, z["h_final"]) <= 1e-5


def _small_cell(**kw):
    kw.setdefault("seed", 0)
    return kg.LTCCell(W.NCP(6, 4, 2, 3, 2, 3, 2), in_features=3, **kw)


def test_inputs_are_converted():
    cell = _small_cell()
    x = np.random.default_rng(0).normal(size=(4, 7, 3))
    y64, _ = cell.forward_sequence(x)  # float64 input converted to float32
    yf, _ = cell.forward_sequence(np.asfortranarray(x.astype(np.float32)))  # non-contiguous
    ys, _ = cell.forward_sequence(x.astype(np.float32)[:, ::1, :])
    np.testing.assert_array_equal(y64, yf)
    np.testing.assert_array_equal(y64, ys)
    yl, _ = cell.forward_sequence(x.tolist())
    np.testing.assert_array_equal(y64, yl)


def test_tapes_keep_their_own_copies():
    """A tape computes with the inputs and parameters of its forward pass,
    whatever happens to the caller's arrays afterwards, and live tapes do
    not share memory."""
    rng = np.random.default_rng(1)
    cell = _small_cell()
    x1, x2 = rng.normal(size=(2, 5, 3)).astype(np.float32), rng.normal(size=(3, 4, 3)).astype(np.float32)
    gy1, gy2 = np.ones((2, 5, 2), np.float32), np.ones((3, 4, 2), np.float32)
    want1 = cell.backward(cell.forward_with_tape(x1)[2], gy1)
    want2 = cell.backward(cell.forward_with_tape(x2)[2], gy2)
    t1 = cell.forward_with_tape(x1)[2]
    t2 = cell.forward_with_tape(x2)[2]
    x1[:] = 7
    cell.params["w"][:] = 0.5
    cell.params["sigma"][:] = -1
    got2 = cell.backward(t2, gy2)
    got1 = cell.backward(t1, gy1)
    for name in want1:
        np.testing.assert_array_equal(got1[name], want1[name], err_msg=name)
        np.testing.assert_array_equal(got2[name], want2[name], err_msg=name)


@pytest.mark.parametrize("call,exc,match", [
    (lambda c: c.forward_sequence(np.zeros((2, 3, 4))), ValueError,
     r"x must have shape \(batch, steps, 3\), got \(2, 3, 4\)"),
    (lambda c: c.forward_sequence(np.zeros((2, 3))), ValueError, "x must have shape"),
    (lambda c: c.forward_sequence(np.zeros((0, 3, 3))), ValueError, "at least one sequence"),
    (lambda c: c.forward_sequence(np.zeros((2, 3, 3)), np.zeros((2, 5))), ValueError,
     r"h0 must have shape \(batch=2, units=12\)"),
    (lambda c: c.forward_sequence(np.zeros((2, 3, 3)), None, np.ones((3, 3))), ValueError,
     "elapsed must be broadcastable"),
    (lambda c: c.forward_sequence(np.array([["a"]])), TypeError, "x must hold real numbers"),
    (lambda c: c.forward_sequence(np.zeros((2, 3, 3), complex)), TypeError, "x must hold real numbers"),
    (lambda c: c(np.zeros((2, 3, 3))), ValueError, r"inputs must have shape \(batch, 3\)"),
])
def test_bad_inputs_raise(call, exc, match):
    with pytest.raises(exc, match=match):
        call(_small_cell())


def test_bad_construction_raises():
    with pytest.raises(ValueError, match="input_mapping must be 'affine', 'linear' or None, got 'afine'"):
        _small_cell(input_mapping="afine")
    with pytest.raises(ValueError, match=r"ode_unfolds must be an int in \[1, 100000\]"):
        _small_cell(ode_unfolds=0)
    with pytest.raises(ValueError, match=r"ode_unfolds must be an int in \[1, 100000\], got 4294967297"):
        _small_cell(ode_unfolds=2**32 + 1)  # would wrap to 1 in the C struct
    cell = _small_cell()
    with pytest.raises(ValueError, match="ode_unfolds must be an int in"):  # checked on assignment
        cell.ode_unfolds = 2**32 + 6
    y1001, _ = _small_cell(ode_unfolds=1001).forward_sequence(np.ones((1, 2, 3), np.float32))
    assert np.isfinite(y1001).all()
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        _small_cell(dtype=np.int32)
    with pytest.raises(ValueError, match="Unknown number of input features"):
        kg.LTCCell(W.FullyConnected(4))
    with pytest.raises(ValueError, match="lower bound 2.0 is above upper bound 1.0"):
        _small_cell(initialization_ranges={"w": (2.0, 1.0)})
    with pytest.raises(ValueError, match="w must be non-negative"):
        _small_cell(initialization_ranges={"w": (-1.0, 1.0)})
    with pytest.raises(ValueError, match="[Uu]nknown parameter 'erev'"):
        _small_cell(initialization_ranges={"erev": (0, 1)})
    with pytest.raises(ValueError, match=r"initialization_ranges\['cm'\] must be a number or a \(low, high\) pair"):
        _small_cell(initialization_ranges={"cm": (0.1, 0.2, 0.3)})
    with pytest.raises(ValueError, match=r"initialization_ranges\['cm'\] must be finite"):
        _small_cell(initialization_ranges={"cm": float("nan")})
    fixed = _small_cell(initialization_ranges={"cm": np.float32(0.5)})  # a NumPy scalar: a fixed value
    assert (fixed.params["cm"] == 0.5).all()
    cell = _small_cell()
    with pytest.raises(ValueError, match=r"parameter w must have shape \(12, 12\), got \(3,\)"):
        cell.load_state_dict({**cell.params, "w": np.zeros(3)})
    cell.params["w"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"parameter w must have shape \(12, 12\), got \(3,\)"):
        cell.forward_sequence(np.zeros((1, 1, 3)))


def test_nan_input_gives_nan_in_its_row_only():
    cell = _small_cell()
    x = np.zeros((3, 4, 3), np.float32)
    x[1, 2, 0] = np.nan
    y, h = cell.forward_sequence(x)
    assert np.isnan(y[1, 2:]).all() and np.isfinite(y[[0, 2]]).all() and np.isfinite(y[1, :2]).all()


def test_go_panic_becomes_ncperror():
    import ctypes

    buf = ctypes.create_string_buffer(256)
    assert _lib.lib.kncp_debug_panic(buf, 256) == _lib.ERR_INTERNAL
    with pytest.raises(kg.NCPError, match="internal error"):
        _lib.call("kncp_debug_panic")
    with pytest.raises(kg.NCPError, match="not live"):
        _lib.call("kncp_tape_free", 123456789)


def test_weight_constraints_clamp():
    cell = _small_cell()
    cell.params["w"][0, 0] = -1.0
    cell.params["cm"][1] = -2.0
    cell.apply_weight_constraints()
    assert cell.params["w"][0, 0] == 0 and cell.params["cm"][1] == 0


def test_pickle_and_deepcopy_after_use():
    cell = _small_cell()
    x = np.ones((2, 3, 3), np.float32)
    y0 = cell.forward_sequence(x)[0]
    for other in (copy.deepcopy(cell), pickle.loads(pickle.dumps(cell))):
        np.testing.assert_array_equal(other.forward_sequence(x)[0], y0)
        other.params["output_b"][:] += 1  # the copy has its own parameters
        np.testing.assert_allclose(other.forward_sequence(x)[0], y0 + 1, rtol=1e-6)
    np.testing.assert_array_equal(cell.forward_sequence(x)[0], y0)


def _use_library_in_child(q):
    out = []
    for f in (lambda: _small_cell().forward_sequence(np.ones((64, 50, 3), np.float32)),
              lambda: W.AutoNCP(2000, 10).build(100)):
        try:
            f()
            out.append("ran")
        except _lib.NCPError as e:
            out.append(str(e))
    q.put(out)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
def test_a_forked_child_gets_a_clear_error_instead_of_hanging():
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_use_library_in_child, args=(q,))
    p.start()
    p.join(60)
    if p.is_alive():
        p.kill()
        pytest.fail("the forked child hung")
    out = q.get(timeout=5)
    assert len(out) == 2 and all("start worker processes with the 'spawn'" in m for m in out), out
    # The parent is unaffected.
    assert _small_cell().forward_sequence(np.ones((2, 3, 3), np.float32))[0].shape == (2, 3, 2)


def test_weight_constraints_leave_read_only_arrays_alone(tmp_path):
    cell = _small_cell()
    ro = cell.params["w"].copy()
    ro[0, 0] = -1
    ro.flags.writeable = False
    cell.params["w"] = ro
    cm = cell.params["cm"].copy()
    cm[0] = -1
    np.save(tmp_path / "cm.npy", cm)
    cell.params["cm"] = np.load(tmp_path / "cm.npy", mmap_mode="r")  # Go faulted writing into this
    cell.apply_weight_constraints()
    assert ro[0, 0] == -1 and cell.params["w"][0, 0] == 0 and cell.params["w"] is not ro
    assert cell.params["cm"][0] == 0 and np.load(tmp_path / "cm.npy")[0] == -1


def test_reference_wirings_and_torch_state_dicts_are_accepted():
    import ncps.wirings as NW
    import torch

    ref = NW.AutoNCP(10, 3)
    cell = kg.LTCCell(ref, in_features=4, seed=0)
    np.testing.assert_array_equal(cell.wiring.adjacency_matrix, ref.adjacency_matrix)
    sd = {k: torch.tensor(v, requires_grad=not k.endswith("mask")) for k, v in cell.params.items()}
    sd["output_b"] = sd["output_b"].detach() + 1
    cell.load_state_dict(sd)
    assert (cell.params["output_b"] == 1).all()


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the resident set size from /proc")
def test_a_freed_big_tape_returns_its_memory():
    """Big tapes are not kept pooled after they are freed: an idle process
    gets its memory back without waiting for Go's next garbage collection."""
    def rss_mib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    cell = kg.LTCCell(W.FullyConnected(64, 4), in_features=8, seed=0)
    x = np.zeros((256, 600, 8), np.float32)  # tape: 32 blocks x 600 steps x 13 x 64 x 8 lanes x 4 B = 480 MiB
    before = rss_mib()
    tape = cell.forward_with_tape(x)[2]
    assert rss_mib() > before + 300
    tape.close()
    deadline = time.monotonic() + 10
    while rss_mib() > before + 100 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rss_mib() <= before + 100


def test_npz_roundtrip(tmp_path):
    cell = _small_cell()
    cell.save_npz(tmp_path / "p.npz")
    other = _small_cell(seed=None)
    other.load_npz(tmp_path / "p.npz")
    x = np.ones((2, 3, 3), np.float32)
    np.testing.assert_array_equal(cell.forward_sequence(x)[0], other.forward_sequence(x)[0])


def test_eight_threads_get_correct_results():
    cell = kg.LTCCell(W.AutoNCP(32, 4), in_features=8, seed=1)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(5, 30, 8)).astype(np.float32) for _ in range(8)]
    want = [cell.forward_sequence(x)[0] for x in xs]
    got = [None] * 8

    def run(i):
        for _ in range(20):
            got[i] = cell.forward_sequence(xs[i])[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_npz_buffers_through_the_library():
    import io

    from kerasncp_go import _ops

    cell = _small_cell(output_mapping="linear")
    x = np.random.default_rng(3).normal(size=(2, 5, 3)).astype(np.float32)
    pbytes = _ops.params_to_npz(cell.spec())
    with np.load(io.BytesIO(pbytes)) as z:
        for k, v in cell.params.items():
            np.testing.assert_array_equal(z[k], v)
    xb = io.BytesIO()
    np.save(xb, x)
    y = np.load(io.BytesIO(_ops.forward_npz(pbytes, xb.getvalue())))
    np.testing.assert_allclose(y, cell.forward_sequence(x)[0], rtol=1e-6, atol=1e-7)
    # An np.savez archive of the parameters works as well.
    nb = io.BytesIO()
    np.savez(nb, **cell.params)
    y2 = np.load(io.BytesIO(_ops.forward_npz(nb.getvalue(), xb.getvalue())))
    np.testing.assert_array_equal(y, y2)
    # The header's options: "elapsed" is accepted and ignored; trailing data
    # after the JSON object is refused.
    def raw_call(options):
        import ctypes

        out, n = ctypes.POINTER(ctypes.c_uint8)(), ctypes.c_int64()
        pb, xv = pbytes, xb.getvalue()
        _lib.call("kncp_ltc_forward_npz", pb, len(pb), xv, len(xv), options, ctypes.byref(out), ctypes.byref(n))
        return np.load(io.BytesIO(_lib.take_buffer(out, n.value)))

    np.testing.assert_array_equal(raw_call(b'{"ode_unfolds": 6, "elapsed": 1.0}'), y)
    with pytest.raises(ValueError, match="unexpected data after the object"):
        raw_call(b'{"ode_unfolds": 6} {}')
    with pytest.raises(ValueError, match="elapsed must be null or 1"):
        raw_call(b'{"elapsed": 0.5}')
    wz = np.load(io.BytesIO(_ops.wiring_to_npz(cell.wiring.handle)))
    np.testing.assert_array_equal(wz["adjacency_matrix"], cell.wiring.adjacency_matrix)
    np.testing.assert_array_equal(wz["sensory_adjacency_matrix"], cell.wiring.sensory_adjacency_matrix)


@pytest.mark.parametrize("damage,match", [
    (lambda b: b[:20], "x_npy"),
    (lambda b: b[:-7], "x_npy"),
    (lambda b: b.replace(b"'shape': (2, 5, 3)", b"'shape': (2, 9, 3)"), "x_npy"),
    (lambda b: b.replace(b"<f4", b"<c8"), "x_npy must be float32 or float64"),
    (lambda b: b"\x93NUMPY garbage", "x_npy"),
])
def test_damaged_npy_raises(damage, match):
    import io

    from kerasncp_go import _ops

    cell = _small_cell()
    xb = io.BytesIO()
    np.save(xb, np.zeros((2, 5, 3), np.float32))
    with pytest.raises((ValueError, TypeError), match=match):
        _ops.forward_npz(_ops.params_to_npz(cell.spec()), damage(xb.getvalue()))


def test_damaged_npz_raises():
    from kerasncp_go import _ops

    cell = _small_cell()
    pb = _ops.params_to_npz(cell.spec())
    import io

    xb = io.BytesIO()
    np.save(xb, np.zeros((1, 2, 3), np.float32))
    for cut in (0, 10, len(pb) // 2, len(pb) - 5):
        with pytest.raises(ValueError, match="params_npz"):
            _ops.forward_npz(pb[:cut], xb.getvalue())


def test_gil_is_released_during_go_calls():
    """While one thread is inside a long Go call, another thread keeps
    running Python code: it could not if the call held the GIL."""
    cell = kg.LTCCell(W.FullyConnected(64), in_features=8, seed=1)
    x = np.random.default_rng(0).normal(size=(8, 3000, 8)).astype(np.float32)
    inside = threading.Event()
    done = threading.Event()
    ticks = []

    def counter():
        inside.wait()
        while not done.is_set():
            ticks.append(time.perf_counter())

    t = threading.Thread(target=counter)
    t.start()
    sys_switch = __import__("sys").getswitchinterval()
    __import__("sys").setswitchinterval(1e-4)
    try:
        inside.set()
        t0 = time.perf_counter()
        cell.forward_sequence(x)
        t1 = time.perf_counter()
    finally:
        done.set()
        t.join()
        __import__("sys").setswitchinterval(sys_switch)
    during = [k for k in ticks if t0 + 0.1 * (t1 - t0) < k < t0 + 0.9 * (t1 - t0)]
    assert t1 - t0 > 0.05 and len(during) > 1000, (t1 - t0, len(during))
