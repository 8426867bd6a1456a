"""Shared test helpers. The reference packages (keras-ncp 2.1.0, ncps 1.0.1,
torch, tensorflow) are hard requirements of the suite: scripts/venv.sh
installs them, and a missing one is an error, not a skip."""

import json
import os
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
LTC_FIXTURES = ROOT / "tests_go" / "testdata" / "ltc"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# GPUs stay visible: tests_py/test_torch_cuda.py runs wherever torch sees
# one (and skips, saying so, where none is). The TensorFlow tests run in
# processes of their own that hide the devices themselves.


def ltc_fixtures():
    """The LTC fixtures made by tests_py/gen_ltc_fixtures.py (reference
    outputs and gradients)."""
    manifest = json.loads((LTC_FIXTURES / "manifest.json").read_text())
    return manifest["fixtures"]


def load_fixture(name):
    with np.load(LTC_FIXTURES / f"{name}.npz") as z:
        return {k: z[k] for k in z.files}


def rel_err(got, want):
    """max|got-want| / max|want|: error relative to the largest magnitude."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    scale = max(np.max(np.abs(want)), 1e-30)
    return float(np.max(np.abs(got - want)) / scale)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def assert_tf_second_order_raises(layer, x):
    """A gradient penalty through layer's Go backward pass on TensorFlow
    (the gradient of a function of d loss / d x) raises instead of giving
    None for every weight."""
    import tensorflow as tf

    xt = tf.constant(x)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(xt)
            loss = tf.reduce_sum(layer(xt) ** 2)
        penalty = tf.reduce_sum(inner.gradient(loss, xt) ** 2)
    with pytest.raises(NotImplementedError, match="second-order gradients"):
        outer.gradient(penalty, layer.trainable_variables)
