"""kerasncp_go.set_num_threads / get_num_threads: the cap on how many
threads one Go pass splits its batch over."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import kerasncp_go as kncp
from kerasncp_go import wirings


@pytest.fixture(autouse=True)
def _no_cap():
    kncp.set_num_threads(0)
    yield
    kncp.set_num_threads(0)


def test_cap_is_set_read_and_lifted():
    cores = kncp.get_num_threads()
    assert cores >= 1
    kncp.set_num_threads(1)
    assert kncp.get_num_threads() == 1
    kncp.set_num_threads(np.int64(cores + 3))  # above the cores: no effect
    assert kncp.get_num_threads() == cores
    kncp.set_num_threads(0)
    assert kncp.get_num_threads() == cores


@pytest.mark.parametrize("bad, exc, words", [
    (-1, ValueError, "number of threads must be >= 0"),
    (2**63, ValueError, "number of threads must be below 2\\*\\*63"),
    ("2", TypeError, "must be an int"),
    (2.0, TypeError, "must be an int"),
    (True, TypeError, "must be an int"),
    (None, TypeError, "must be an int"),
])
def test_bad_counts_are_refused(bad, exc, words):
    with pytest.raises(exc, match=words):
        kncp.set_num_threads(bad)
    assert kncp.get_num_threads() >= 1  # the setting is unchanged and usable


# Each pass returns (arrays that must match bit for bit, gradients that may
# differ in rounding: the LTC sums its parameter gradients per thread first).
def _cfc_pass(m):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 20, 5)).astype(np.float32)
    ts = rng.uniform(0.5, 1.5, size=(64, 20)).astype(np.float32)
    y, state, tape = m.forward_with_tape(x, timespans=ts)
    grads = m.backward(tape, rng.normal(size=y.shape).astype(np.float32))
    return [y, *state, *(grads[k] for k in sorted(grads))], []


def _ltc_pass(cell):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 15, 4)).astype(np.float32)
    y, h, tape = cell.forward_with_tape(x)
    grads = cell.backward(tape, rng.normal(size=y.shape).astype(np.float32))
    exact = ("x", "h0", "timespans")
    return [y, h, *(grads[k] for k in exact if k in grads)], [grads[k] for k in sorted(grads) if k not in exact]


@pytest.mark.parametrize("make, run", [
    (lambda: kncp.CfC(5, wirings.AutoNCP(24, 3), mixed_memory=True), _cfc_pass),
    (lambda: kncp.LTCCell(wirings.NCP(8, 6, 2, 4, 3, 3, 2), in_features=4, seed=1), _ltc_pass),
], ids=["cfc", "ltc"])
def test_results_do_not_depend_on_the_cap(make, run):
    model = make()
    want, want_close = run(model)
    kncp.set_num_threads(1)
    got, got_close = run(model)
    assert len(got) == len(want) and len(got_close) == len(want_close)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    for g, w in zip(got_close, want_close):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(w).max())))


def test_gomaxprocs_environment_sets_the_default():
    env = dict(os.environ, GOMAXPROCS="1")
    out = subprocess.run([sys.executable, "-c", "import kerasncp_go; print(kerasncp_go.get_num_threads())"],
                         env=env, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "1"
