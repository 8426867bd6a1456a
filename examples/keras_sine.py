"""keras-ncp's README example: an LTC network learns a sine wave.

The model is ``keras.layers.RNN(LTCCell(wiring))``, as in keras-ncp; swap the
RNN for ``kerasncp_go.tf.LTC(wiring, return_sequences=True)`` (``--fast``) to
run each sequence in one Go call. Works with Keras 3, or with tf-keras when
``TF_USE_LEGACY_KERAS=1`` is set.

Usage (from the repository root, with the library built):

    PYTHONPATH=python python examples/keras_sine.py [--epochs 400] [--fast]
"""

from __future__ import annotations

import argparse
from typing import List

import numpy as np

from kerasncp_go import wirings
from kerasncp_go.tf import LTC, LTCCell, keras  # keras: Keras 3, or tf-keras with TF_USE_LEGACY_KERAS=1


def make_data(n: int = 48):
    """Input: sin and cos over 3 half-periods; target: a sine of twice the
    frequency. Shapes (1, n, 2) and (1, n, 1)."""
    t = np.linspace(0, 3 * np.pi, n)
    data_x = np.stack([np.sin(t), np.cos(t)], axis=1)[None].astype(np.float32)
    data_y = np.sin(np.linspace(0, 6 * np.pi, n)).reshape([1, n, 1]).astype(np.float32)
    return data_x, data_y


def build_model(fast: bool = False, seed: int = 0) -> "keras.Model":
    """FullyConnected(8, 1): 8 neurons, 1 motor neuron whose output is the
    prediction."""
    keras.utils.set_random_seed(seed)
    wiring = wirings.FullyConnected(8, 1)
    rnn = LTC(wiring, return_sequences=True) if fast else keras.layers.RNN(LTCCell(wiring), return_sequences=True)
    model = keras.models.Sequential([keras.Input((None, 2)), rnn])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mean_squared_error")
    return model


def main(epochs: int = 400, fast: bool = False, verbose: int = 0) -> List[float]:
    """Trains the model; returns the loss of every epoch."""
    data_x, data_y = make_data()
    model = build_model(fast)
    history = model.fit(x=data_x, y=data_y, batch_size=1, epochs=epochs, verbose=verbose)
    return history.history["loss"]


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=400)
    p.add_argument("--fast", action="store_true", help="use the LTC layer (one Go call per sequence)")
    a = p.parse_args()
    losses = main(a.epochs, a.fast, verbose=2)
    print(f"loss: {losses[0]:.4f} -> {losses[-1]:.4f}")
