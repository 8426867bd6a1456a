"""Fit a liquid time-constant network to a sine wave with PaddlePaddle.

Written against keras-ncp's API (``kerasncp.paddle.LTCCell``), so it runs on
the Go kernels through the compat runner, with paddlepaddle 3 installed:

    python -m kerasncp_go.compat examples/paddle_sine.py [--epochs 300] [--seed 0]

The task: from a sine and a cosine of one frequency, predict the sine of
twice that frequency, over one sequence of 48 steps. The cell is stepped in a
Python loop as keras-ncp's paddle cell is meant to be used (kerasncp_go's cell
also has ``sequence()``, which runs the whole sequence in one Go call). Prints
the mean squared error every tenth epoch and at the end.
"""

import argparse

import kerasncp as kncp
import numpy as np
import paddle
from kerasncp.paddle import LTCCell
from paddle import nn


class Unrolled(nn.Layer):
    """Runs a cell over (batch, steps, features) inputs, one step at a time."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, x):
        state = paddle.zeros([x.shape[0], self.cell.state_size])
        outputs = []
        for t in range(x.shape[1]):
            out, state = self.cell(x[:, t], state)
            outputs.append(out)
        return paddle.stack(outputs, axis=1)


def sine_task(steps=48):
    phase = np.linspace(0, 3 * np.pi, steps)
    x = np.stack([np.sin(phase), np.cos(phase)], axis=1)[np.newaxis].astype(np.float32)
    y = np.sin(2 * phase).reshape(1, steps, 1).astype(np.float32)
    return paddle.to_tensor(x), paddle.to_tensor(y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    paddle.seed(args.seed)
    x, y = sine_task()
    wiring = kncp.wirings.FullyConnected(8, 1)  # 8 neurons, 1 of them the output
    model = Unrolled(LTCCell(wiring, in_features=2))
    optimizer = paddle.optimizer.Adam(learning_rate=0.01, parameters=model.parameters())
    mse = nn.MSELoss()
    for epoch in range(1, args.epochs + 1):
        loss = mse(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        model.cell.apply_weight_constraints()
        if epoch == 1 or epoch % 10 == 0:
            print(f"epoch {epoch} loss {float(loss):.6f}", flush=True)
    with paddle.no_grad():
        print(f"final loss {float(mse(model(x), y)):.6f}")


if __name__ == "__main__":
    main()
