"""The rules of kerasncp_go._rules, as every binding applies them (the Keras
layers' cases are in test_tf.py, which runs TensorFlow in a process of its
own).

Each case here is one whose behaviour changed when the bindings' copies of
a rule became one rule: the strictest copy won (elapsed times finite and
> 0, per-step elapsed times of exactly one per sample), or the widest
documented shape set did (the NumPy and torch bindings' elapsed shapes)."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import kerasncp_go as kg
import kerasncp_go.torch as GT
from conftest import ROOT
from kerasncp_go import _rules
from kerasncp_go import wirings as W

BAD_TIMES = [0.0, -0.5, float("nan"), float("inf")]


def _cell():
    return kg.LTCCell(W.FullyConnected(4, 2), in_features=3, seed=0)


@pytest.mark.parametrize("bad", BAD_TIMES)
def test_numpy_rejects_times_not_finite_and_positive(bad):
    # before: computed (zero divides by zero inside the ODE step; negative
    # times integrate backwards), NaN and inf gave NaN outputs
    cell = _cell()
    x = np.ones((2, 5, 3), np.float32)
    e = np.ones((2, 5), np.float32)
    e[1, 3] = bad
    with pytest.raises(ValueError, match=r"elapsed must be finite and > 0 \(the ODE step divides by them\)"):
        cell.forward_sequence(x, timespans=e)
    with pytest.raises(ValueError, match="elapsed must be finite and > 0"):
        cell.forward_sequence(x, timespans=bad)
    with pytest.raises(ValueError, match="elapsed_time must be finite and > 0"):
        cell(x[:, 0], None, np.array([1.0, bad], np.float32))
    with pytest.raises(ValueError, match="elapsed_time must be finite and > 0"):
        cell(x[:, 0], None, bad)


@pytest.mark.parametrize("bad", BAD_TIMES)
def test_torch_rejects_times_not_finite_and_positive(bad):
    torch.manual_seed(0)
    rnn = GT.LTC(3, W.FullyConnected(4, 2))
    x = torch.ones(2, 5, 3)
    ts = torch.ones(2, 5)
    ts[0, 2] = bad
    with pytest.raises(ValueError, match="timespans must be finite and > 0"):
        rnn(x, timespans=ts)
    with pytest.raises(ValueError, match="timespans must be finite and > 0"):
        rnn(x, timespans=bad)
    with pytest.raises(ValueError, match="elapsed_time must be finite and > 0"):
        rnn.rnn_cell(x[:, 0], torch.zeros(2, 4), torch.tensor([1.0, bad]))


def test_positive_times_still_work_in_every_form():
    cell = _cell()
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    full = np.full((2, 5), 0.25, np.float32)
    want, _ = cell.forward_sequence(x, timespans=full)
    for e in (0.25, full[..., None], full[0], full[:, 0], full[:, :1]):
        got, _ = cell.forward_sequence(x, timespans=e)
        np.testing.assert_array_equal(got, want)


def test_numpy_step_takes_one_time_per_sample():
    # before: any array of batch values was reshaped to (batch, 1), so a
    # (2, 2) array passed for a batch of 4; the one rule wants (batch,) or
    # (batch, 1) per step, as the torch and Keras cells
    cell = _cell()
    x = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"elapsed_time must be broadcastable to \(batch=4, steps=1\)"):
        cell(x, None, np.ones((2, 2), np.float32))
    y1, _ = cell(x, None, np.full(4, 0.5, np.float32))
    y2, _ = cell(x, None, np.full((4, 1), 0.5, np.float32))
    y3, _ = cell(x, None, 0.5)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(y1, y3)


def test_initialization_ranges_must_be_a_mapping():
    # before: AttributeError from the NumPy cell (the Keras cell raised TypeError)
    with pytest.raises(TypeError, match="initialization_ranges must be a dict"):
        kg.LTCCell(W.FullyConnected(4), in_features=3, initialization_ranges=[("w", (0, 1))])


def test_unknown_initialization_range_has_the_reference_message_everywhere():
    # before: the NumPy cell said "initialization_ranges: unknown parameter ..."
    with pytest.raises(ValueError, match=r"^Unknown parameter 'erev' in initialization range dictionary! "
                                         r"\(Expected only \['gleak', "):
        kg.LTCCell(W.FullyConnected(4), in_features=3, initialization_ranges={"erev": (0, 1)})


def test_bindings_start_from_the_same_rule():
    """The NumPy and torch cells take names, shapes, fixed values and
    trainability from _rules.initial_values; only the uniform draws differ
    (each framework's generator)."""
    w = W.NCP(6, 4, 2, 3, 2, 3, 2)
    np_cell = kg.LTCCell(w, in_features=3, seed=0)
    torch.manual_seed(0)
    t_cell = GT.LTCCell(W.NCP(6, 4, 2, 3, 2, 3, 2), in_features=3)
    inits = _rules.initial_values(w.adjacency_matrix, w.sensory_adjacency_matrix, 2, _rules.MAPPINGS["affine"],
                                  _rules.MAPPINGS["affine"])
    assert list(np_cell.params) == list(inits) == list(dict(t_cell.named_parameters()))
    for name, init in inits.items():
        tp = getattr(t_cell, name)
        assert np_cell.params[name].shape == tuple(tp.shape) == init.shape, name
        assert tp.requires_grad == init.trainable, name
        if init.value is not None:
            np.testing.assert_array_equal(np_cell.params[name], init.value.astype(np.float32), err_msg=name)
            np.testing.assert_array_equal(tp.detach().numpy(), init.value.astype(np.float32), err_msg=name)
        else:
            for a in (np_cell.params[name], tp.detach().numpy()):
                assert init.low <= a.min() and a.max() <= init.high, name


def test_elapsed_shape_rule():
    r = _rules.elapsed_shape
    assert r((4, 5, 1), 4, 5) == (4, 5)
    assert r((5,), 4, 5) == (1, 5)      # one per step first, as ncps's time-major LTC
    assert r((4,), 4, 5) == (4, 1)      # else one per sample
    assert r((5,), 5, 5) == (1, 5)
    assert r((None, 5, 1), None, 5) == (None, 5)  # unknown sizes (a Keras graph) fit
    assert r((None,), None, 1) == (None, 1)
    for shape in ((3,), (4, 4), (4, 5, 2), (1, 4, 5, 1)):
        with pytest.raises(ValueError, match=r"ts must be a scalar or have shape \(batch, steps\)"):
            r(shape, 4, 5, "ts")


def test_importing_the_package_imports_no_framework():
    code = ("import sys, kerasncp_go as k; assert 'torch' not in sys.modules and 'tensorflow' not in sys.modules;"
            "import kerasncp_go.train, kerasncp_go.cli; assert 'torch' not in sys.modules;"
            "assert k.torch.LTC.__module__ == 'kerasncp_go.torch'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT / "python")}, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
