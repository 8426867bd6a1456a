"""ncps's PyTorch "first steps" tutorial on kerasncp-go's torch binding.

The same model, data and optimizer as the ncps tutorial: an ``AutoNCP(16, 1)``
wiring in an ``LTC`` layer (ncps's defaults: implicit parameter constraints,
affine mappings, 6 ODE unfolds), the 48-step sine-wave sequence, Adam with
lr 0.01, the MSE loss, gradient norm clipped to 1 (the tutorial's
``gradient_clip_val=1``) and 400 epochs of one step each. The tutorial trains
with pytorch-lightning; a plain torch loop does the same here.

Only the import changes from the tutorial: ``kerasncp_go.torch.LTC`` runs each
sequence in one Go call forward and one backward. A run takes a few seconds.

Usage (with torch installed; from the repository root, PYTHONPATH=python):

    python examples/sine_torch.py [--epochs 400] [--lr 0.01] [--plot sine_torch.png]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from kerasncp_go.torch import LTC
from kerasncp_go.wirings import AutoNCP


def sine_data(n: int = 48):
    """The tutorial's data: inputs sin and cos of 0..3π, target sin of 0..6π."""
    x = np.stack([np.sin(np.linspace(0, 3 * np.pi, n)), np.cos(np.linspace(0, 3 * np.pi, n))], axis=1)
    y = np.sin(np.linspace(0, 6 * np.pi, n)).reshape([1, n, 1])
    return torch.tensor(x[None], dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=400)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", metavar="PNG", help="save a prediction-vs-target plot (needs matplotlib)")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    data_x, data_y = sine_data()
    wiring = AutoNCP(16, 1)  # 16 neurons, 1 motor neuron
    model = LTC(2, wiring, batch_first=True)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    print(f"LTC with {wiring.units} neurons ({wiring.synapse_count} synapses, "
          f"{wiring.sensory_synapse_count} sensory); {sum(p.numel() for p in model.parameters() if p.requires_grad)} "
          f"trainable parameters")

    t0 = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        opt.zero_grad()
        prediction, _ = model(data_x)
        loss = torch.nn.functional.mse_loss(prediction, data_y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if epoch == 1 or epoch % 50 == 0:
            print(f"epoch {epoch:4d}  train loss {loss.item():.6f}")
    wall = time.perf_counter() - t0

    with torch.no_grad():
        prediction, _ = model(data_x)
    final = torch.nn.functional.mse_loss(prediction, data_y).item()
    print(f"final loss {final:.6f} after {a.epochs} epochs, {wall:.2f} s ({a.epochs / wall:.0f} steps/s)")

    if a.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(data_y[0, :, 0], lw=2, alpha=0.6, label="target")
        ax.plot(prediction[0, :, 0], "--", color="tab:red", label="LTC output")
        ax.set_xlabel("time step")
        ax.set_ylabel("output")
        ax.set_title(f"kerasncp_go.torch.LTC on the sine wave, after {a.epochs} epochs")
        ax.legend(loc="upper right")
        fig.tight_layout()
        fig.savefig(a.plot, dpi=110)
        print(f"wrote {a.plot}")


if __name__ == "__main__":
    main()
