"""kerasncp_go.paddle against keras-ncp 2.1.0.

The numbers come from keras-ncp 2.1.0's torch LTCCell loaded with the same
weights (its paddle cell no longer runs on paddle 3; a test below shows how it
fails), run here in the same process. paddle and tensorflow cannot share a
process (paddle crashes when imported after tensorflow), so scripts/test.sh
runs this file in a pytest process of its own (and checks first that paddle
imports, so that the skip below cannot hide a missing install there).
"""

import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

if importlib.util.find_spec("paddle") is not None and "tensorflow" in sys.modules:
    # Importing paddle now would crash the whole run.
    pytest.skip("tensorflow is loaded in this process and paddle crashes when imported after it; scripts/test.sh "
                "runs this file in a process of its own", allow_module_level=True)
paddle = pytest.importorskip("paddle", reason="paddlepaddle is not installed here; scripts/test.sh runs this file "
                                              "in a process of its own with the test venv")
import kerasncp.paddle  # noqa: E402
import kerasncp.torch  # noqa: E402
import kerasncp.wirings  # noqa: E402
import ncps.wirings  # noqa: E402
import torch  # noqa: E402  (the reference; a hard requirement of the paddle venv)

import kerasncp_go.wirings as gw  # noqa: E402
from conftest import ROOT, rel_err  # noqa: E402
from kerasncp_go.paddle import LTCCell  # noqa: E402

# (our wiring, the reference's wiring, input features): every wiring kind.
WIRINGS = {
    "fc": (lambda: gw.FullyConnected(8, 2), lambda: kerasncp.wirings.FullyConnected(8, 2), 3),
    "random": (lambda: gw.Random(10, 3, sparsity_level=0.5), lambda: kerasncp.wirings.Random(10, 3, 0.5), 4),
    "ncp": (lambda: gw.NCP(5, 4, 2, 3, 3, 2, 3), lambda: kerasncp.wirings.NCP(5, 4, 2, 3, 3, 2, 3), 6),
    "autoncp": (lambda: gw.AutoNCP(12, 3), lambda: ncps.wirings.AutoNCP(12, 3), 5),
}
MAPPINGS = [("affine", "affine"), ("linear", None), (None, "affine"), ("affine", "linear")]


def pair(kind, input_mapping="affine", output_mapping="affine", seed=0):
    """Our cell and keras-ncp 2.1.0's torch cell with the same random
    weights (input/output mappings included, so that they are not 1 and 0)."""
    ours_w, ref_w, s = WIRINGS[kind]
    ours = LTCCell(ours_w(), in_features=s, input_mapping=input_mapping, output_mapping=output_mapping)
    rw = ref_w()
    rw.build(s)
    ref = kerasncp.torch.LTCCell(rw, input_mapping=input_mapping, output_mapping=output_mapping)
    np.testing.assert_array_equal(ours._wiring.adjacency_matrix, rw.adjacency_matrix)
    np.testing.assert_array_equal(ours._wiring.sensory_adjacency_matrix, rw.sensory_adjacency_matrix)
    rng = np.random.default_rng(seed)
    state = {}
    for name, p in ours.state_dict().items():
        v = p.numpy()
        if name not in ("erev", "sensory_erev"):
            v = (v * rng.uniform(0.5, 1.5, v.shape) + rng.uniform(-0.1, 0.1, v.shape)).astype(np.float32)
        state[name] = v
    ours.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    missing, unexpected = ref.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=False)
    assert sorted(missing) == ["sensory_sparsity_mask", "sparsity_mask"] and not unexpected
    return ours, ref


def reference_run(ref, x, h0, gy, gh):
    """The reference stepped over the sequence (as keras-ncp's examples do),
    with the gradients of sum(y*gy) + sum(h*gh)."""
    xt = torch.tensor(x, requires_grad=True)
    ht = torch.tensor(h0, requires_grad=True)
    h, ys = ht, []
    for t in range(x.shape[1]):
        y, h = ref(xt[:, t], h)
        ys.append(y)
    y = torch.stack(ys, 1)
    ((y * torch.tensor(gy)).sum() + (h * torch.tensor(gh)).sum()).backward()
    grads = {n: p.grad.numpy() for n, p in ref.named_parameters() if p.requires_grad}
    return y.detach().numpy(), h.detach().numpy(), xt.grad.numpy(), ht.grad.numpy(), grads


def inputs(cell, batch, steps, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, cell.sensory_size)).astype(np.float32)
    h0 = rng.uniform(-0.5, 0.5, (batch, cell.state_size)).astype(np.float32)
    gy = rng.standard_normal((batch, steps, cell.motor_size)).astype(np.float32)
    gh = rng.standard_normal((batch, cell.state_size)).astype(np.float32)
    return x, h0, gy, gh


def check(ours_out, ref_out, names):
    y, h, gx, gh0, grads = ref_out
    oy, oh, ogx, ogh0, ograds = ours_out
    assert rel_err(oy, y) < 1e-5 and rel_err(oh, h) < 1e-5, (rel_err(oy, y), rel_err(oh, h))
    assert rel_err(ogx, gx) < 1e-4 and rel_err(ogh0, gh0) < 1e-4, (rel_err(ogx, gx), rel_err(ogh0, gh0))
    assert sorted(ograds) == sorted(names) == sorted(grads)
    for n in names:
        assert rel_err(ograds[n], grads[n]) < 1e-4, (n, rel_err(ograds[n], grads[n]))


@pytest.mark.parametrize("kind", sorted(WIRINGS))
@pytest.mark.parametrize("mapping", MAPPINGS, ids=lambda m: f"{m[0]}-{m[1]}")
@pytest.mark.parametrize("steps", [1, 7])
def test_sequence_matches_reference(kind, mapping, steps):
    ours, ref = pair(kind, *mapping)
    x, h0, gy, gh = inputs(ours, 3, steps)
    want = reference_run(ref, x, h0, gy, gh)
    xp = paddle.to_tensor(x, stop_gradient=False)
    hp = paddle.to_tensor(h0, stop_gradient=False)
    y, h = ours.sequence(xp, hp)
    ((y * paddle.to_tensor(gy)).sum() + (h * paddle.to_tensor(gh)).sum()).backward()
    grads = {n: p.grad.numpy() for n, p in ours.named_parameters()}
    check((y.numpy(), h.numpy(), xp.grad.numpy(), hp.grad.numpy(), grads), want,
          [n for n, _ in ours.named_parameters()])


@pytest.mark.parametrize("kind", ["ncp", "autoncp"])
def test_stepwise_forward_matches_reference(kind):
    """forward(inputs, states) stepped in a loop, as keras-ncp's paddle
    example drives the cell."""
    ours, ref = pair(kind, seed=3)
    x, h0, gy, gh = inputs(ours, 4, 12, seed=4)
    want = reference_run(ref, x, h0, gy, gh)
    xp = paddle.to_tensor(x, stop_gradient=False)
    hp = paddle.to_tensor(h0, stop_gradient=False)
    h, ys = hp, []
    for t in range(x.shape[1]):
        y, h = ours(xp[:, t], h)
        ys.append(y)
    y = paddle.stack(ys, 1)
    ((y * paddle.to_tensor(gy)).sum() + (h * paddle.to_tensor(gh)).sum()).backward()
    grads = {n: p.grad.numpy() for n, p in ours.named_parameters()}
    check((y.numpy(), h.numpy(), xp.grad.numpy(), hp.grad.numpy(), grads), want,
          [n for n, _ in ours.named_parameters()])


def test_last_output_and_no_grad_paths():
    ours, ref = pair("ncp", seed=5)
    x, h0, _, _ = inputs(ours, 2, 6, seed=6)
    y_all, h_all = ours.sequence(paddle.to_tensor(x), paddle.to_tensor(h0))
    with paddle.no_grad():
        y_last, h_last = ours.sequence(paddle.to_tensor(x), paddle.to_tensor(h0), return_sequences=False)
    np.testing.assert_array_equal(y_last.numpy(), y_all.numpy()[:, -1])
    np.testing.assert_array_equal(h_last.numpy(), h_all.numpy())
    # Zeros when no state is given.
    y0, _ = ours.sequence(paddle.to_tensor(x))
    y1, _ = ours.sequence(paddle.to_tensor(x), paddle.zeros([2, ours.state_size]))
    np.testing.assert_array_equal(y0.numpy(), y1.numpy())
    # Inputs without gradient: only the parameters get one.
    y, h = ours.sequence(paddle.to_tensor(x), paddle.to_tensor(h0))
    y.sum().backward()
    assert all(p.grad is not None for p in ours.parameters())


def test_parameter_changes_reach_the_go_kernels():
    """Values set between calls (set_value, an optimizer step, set_state_dict)
    are what the next call computes with."""
    ours, ref = pair("fc", seed=7)
    x, h0, gy, gh = inputs(ours, 2, 4, seed=8)
    y_before, _ = ours.sequence(paddle.to_tensor(x), paddle.to_tensor(h0))
    with paddle.no_grad():
        ours.vleak.set_value(ours.vleak + 0.3)
    ref.vleak.data += 0.3
    y_after, _ = ours.sequence(paddle.to_tensor(x), paddle.to_tensor(h0))
    y_ref = reference_run(ref, x, h0, gy, gh)[0]
    assert rel_err(y_after.numpy(), y_ref) < 1e-5
    assert rel_err(y_before.numpy(), y_ref) > 1e-3
    opt = paddle.optimizer.SGD(0.5, parameters=ours.parameters())
    y, _ = ours.sequence(paddle.to_tensor(x), paddle.to_tensor(h0))
    y.sum().backward()
    opt.step()
    y_stepped, _ = ours.sequence(paddle.to_tensor(x), paddle.to_tensor(h0))
    assert rel_err(y_stepped.numpy(), y_after.numpy()) > 1e-3


def test_state_dict_round_trips_with_the_reference_paddle_cell(capsys):
    """Same keys and shapes as keras-ncp 2.1.0's paddle cell (no masks), values
    passed both ways, and the same initial values for the same paddle seed
    (both draw from paddle's generator in the same order)."""
    rw = kerasncp.wirings.NCP(5, 4, 2, 3, 3, 2, 3)
    rw.build(6)
    paddle.seed(42)
    ref = kerasncp.paddle.LTCCell(rw)
    paddle.seed(42)
    ours = LTCCell(gw.NCP(5, 4, 2, 3, 3, 2, 3), in_features=6)
    rsd, osd = ref.state_dict(), ours.state_dict()
    assert list(osd) == list(rsd)
    for k in rsd:
        assert list(osd[k].shape) == list(rsd[k].shape) and osd[k].dtype == paddle.float32, k
        np.testing.assert_array_equal(osd[k].numpy(), rsd[k].numpy(), err_msg=k)
    rng = np.random.default_rng(9)
    ours.set_state_dict({k: paddle.to_tensor(rng.standard_normal(v.shape).astype(np.float32)) for k, v in osd.items()})
    ref.set_state_dict(ours.state_dict())
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), ours.state_dict()[k].numpy(), err_msg=k)
    ref.set_state_dict({k: paddle.to_tensor(rng.standard_normal(v.shape).astype(np.float32)) for k, v in rsd.items()})
    ours.set_state_dict(ref.state_dict())
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), ref.state_dict()[k].numpy(), err_msg=k)
    # The reference's attribute and sizes.
    assert sorted(ours._params) == sorted(ref._params)
    np.testing.assert_array_equal(ours._params["sparsity_mask"].numpy(), np.abs(rw.adjacency_matrix))
    assert (ours.state_size, ours.sensory_size, ours.motor_size, ours.output_size, ours.synapse_count) == (
        ref.state_size, ref.sensory_size, ref.motor_size, ref.output_size, ref.synapse_count)
    assert ours.sensory_synapse_count == int(np.abs(rw.sensory_adjacency_matrix).sum())


def test_apply_weight_constraints_as_the_reference():
    rw = kerasncp.wirings.FullyConnected(6, 2)
    rw.build(3)
    ref = kerasncp.paddle.LTCCell(rw)
    ours = LTCCell(gw.FullyConnected(6, 2), in_features=3)
    rng = np.random.default_rng(10)
    state = {k: paddle.to_tensor(rng.standard_normal(v.shape).astype(np.float32)) for k, v in ours.state_dict().items()}
    ours.set_state_dict(state)
    ref.set_state_dict(state)
    ours.apply_weight_constraints()
    ref.apply_weight_constraints()
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    assert (ours.w.numpy() >= 0).all() and (ours.vleak.numpy() < 0).any()


def test_reference_paddle_cell_fails_on_current_paddle():
    """Why this binding exists: keras-ncp 2.1.0's paddle cell cannot run a
    step on paddle 3 (its int32 masks meet float32 activations, which paddle
    3's type promotion rejects), and its in_features argument passes a tuple
    to Wiring.build."""
    assert int(paddle.__version__.split(".")[0]) >= 3
    rw = kerasncp.wirings.FullyConnected(8, 1)
    rw.build(2)
    ref = kerasncp.paddle.LTCCell(rw)
    assert ref._params["sparsity_mask"].dtype == paddle.int32
    with pytest.raises(TypeError, match="(?i)type promotion"):
        ref(paddle.ones([1, 2]), paddle.zeros([1, 8]))
    with pytest.raises(TypeError, match="tuple"):
        kerasncp.paddle.LTCCell(kerasncp.wirings.FullyConnected(8, 1), in_features=2)
    # Ours, same arguments.
    ours = LTCCell(gw.FullyConnected(8, 1), in_features=2)
    y, h = ours(paddle.ones([1, 2]), paddle.zeros([1, 8]))
    assert y.shape == [1, 1] and h.shape == [1, 8] and np.isfinite(h.numpy()).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="in_features"):
        LTCCell(gw.FullyConnected(4, 1))
    with pytest.raises(ValueError, match="ode_unfolds"):
        LTCCell(gw.FullyConnected(4, 1), in_features=2, ode_unfolds=0)
    cell = LTCCell(gw.FullyConnected(4, 1), in_features=2)
    with pytest.raises(ValueError, match=r"inputs must have shape \(batch, steps, 2\)"):
        cell.sequence(paddle.zeros([3, 5, 7]))
    with pytest.raises(ValueError, match=r"inputs must have shape \(batch, 2\)"):
        cell(paddle.zeros([3, 5, 2]), paddle.zeros([3, 4]))
    with pytest.raises(ValueError, match=r"states must have shape \(batch=3, units=4\)"):
        cell(paddle.zeros([3, 2]), paddle.zeros([3, 5]))
    with pytest.raises(TypeError, match="inputs must be float32"):
        cell(paddle.zeros([3, 2], dtype="float64"), paddle.zeros([3, 4]))
    with pytest.raises(TypeError, match="paddle.Tensor"):
        cell(np.zeros((3, 2), np.float32), paddle.zeros([3, 4]))


def test_import_after_tensorflow_is_refused():
    """kerasncp_go.paddle refuses to import paddle after tensorflow (which
    crashes the process) with an ImportError that says what to do."""
    code = ("import sys, types; sys.modules['tensorflow'] = types.ModuleType('tensorflow')\n"
            "try:\n    import kerasncp_go.paddle\nexcept ImportError as e:\n    print('ImportError:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "python")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ImportError:") and "import paddle before tensorflow" in out.stdout


def test_sine_example_learns_through_the_compat_runner(tmp_path):
    """examples/paddle_sine.py (keras-ncp's paddle API) run by
    python -m kerasncp_go.compat: the loss falls."""
    out = subprocess.run([sys.executable, "-W", "ignore", "-m", "kerasncp_go.compat",
                          str(ROOT / "examples" / "paddle_sine.py"), "--epochs", "40"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "python")})
    assert out.returncode == 0, out.stderr
    losses = [float(v) for v in re.findall(r"loss ([0-9.]+)", out.stdout)]
    assert len(losses) == 6, out.stdout  # epochs 1, 10, 20, 30, 40 and the final one
    assert losses[-1] < 0.5 * losses[0], out.stdout
