"""keras-ncp's README example: a Conv2D feature extractor applied to every
frame of an image sequence, followed by an NCP (LTC cell) that classifies
each frame, on a small synthetic dataset.

Each sequence shows a bright square moving over noise; the label of a frame
is the quadrant the square is in (4 classes). Works with Keras 3, or with
tf-keras when ``TF_USE_LEGACY_KERAS=1`` is set.

Usage (from the repository root, with the library built):

    PYTHONPATH=python python examples/keras_conv.py [--epochs 2] [--samples 256]
"""

from __future__ import annotations

import argparse
from typing import List, Tuple

import numpy as np

from kerasncp_go import wirings
from kerasncp_go.tf import LTCCell, keras  # keras: Keras 3, or tf-keras with TF_USE_LEGACY_KERAS=1


def make_data(samples: int = 256, frames: int = 8, size: int = 16, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """x (samples, frames, size, size, 1) float32 in [0, 1]; y (samples,
    frames, 1) int labels in 0..3 (the quadrant of the square)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.3, (samples, frames, size, size, 1)).astype(np.float32)
    y = np.zeros((samples, frames, 1), np.int32)
    half, sq = size // 2, 4
    pos = rng.integers(0, size - sq, (samples, 2))
    vel = rng.integers(-2, 3, (samples, 2))
    for t in range(frames):
        for i in range(samples):
            r, c = pos[i]
            x[i, t, r:r + sq, c:c + sq, 0] = 1.0
            cr, cc = r + sq // 2, c + sq // 2
            y[i, t, 0] = 2 * int(cr >= half) + int(cc >= half)
        pos = np.clip(pos + vel, 0, size - sq)
    return x, y


def build_model(frames: int = 8, size: int = 16, seed: int = 0) -> "keras.Model":
    """TimeDistributed Conv2D/MaxPool/Dense, then RNN(LTCCell(NCP)) whose
    4 motor neurons are the class scores."""
    keras.utils.set_random_seed(seed)
    wiring = wirings.NCP(inter_neurons=12, command_neurons=8, motor_neurons=4, sensory_fanout=4, inter_fanout=4,
                         recurrent_command_synapses=4, motor_fanin=6)
    td = keras.layers.TimeDistributed
    model = keras.models.Sequential([
        keras.Input((frames, size, size, 1)),
        td(keras.layers.Conv2D(8, (3, 3), activation="relu")),
        td(keras.layers.MaxPool2D()),
        td(keras.layers.Conv2D(16, (3, 3), activation="relu")),
        td(keras.layers.MaxPool2D()),
        td(keras.layers.Flatten()),
        td(keras.layers.Dense(16, activation="relu")),
        keras.layers.RNN(LTCCell(wiring), return_sequences=True),
        td(keras.layers.Activation("softmax")),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main(epochs: int = 2, samples: int = 256, verbose: int = 0) -> Tuple[List[float], float, float]:
    """Trains; returns (loss per epoch, loss before training, accuracy after)."""
    x, y = make_data(samples)
    model = build_model(x.shape[1], x.shape[2])
    before = float(model.evaluate(x, y, verbose=0)[0])
    history = model.fit(x, y, batch_size=32, epochs=epochs, verbose=verbose)
    _, acc = model.evaluate(x, y, verbose=0)
    return history.history["loss"], before, float(acc)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--samples", type=int, default=256)
    a = p.parse_args()
    losses, before, acc = main(a.epochs, a.samples, verbose=2)
    print(f"loss: {before:.4f} -> {losses[-1]:.4f}, accuracy {acc:.3f}")
