"""ncps's CfC sine-wave tutorial on kerasncp-go's torch binding.

The ncps documentation's sinusoidal regression with a CfC: two input
features, sin and cos of 0..3π over 48 steps, and the target sin of 0..6π;
``CfC(2, 16, proj_size=1)`` (or, with ``--wiring``, ``CfC(2, AutoNCP(16,
1))``), Adam with lr 0.01, the MSE loss, gradient norm clipped to 1, one
step per epoch. A plain torch loop stands in for the tutorial's
pytorch-lightning trainer.

Only the import changes from ncps: ``kerasncp_go.torch.CfC`` runs each
sequence in one Go call forward and one backward.

Usage (with torch installed; from the repository root, PYTHONPATH=python):

    python examples/cfc_sine_torch.py [--epochs 400] [--lr 0.01] [--wiring] [--plot cfc_sine.png]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from kerasncp_go.torch import CfC
from kerasncp_go.wirings import AutoNCP


def sine_data(n: int = 48):
    """Inputs sin and cos of 0..3π, target sin of 0..6π, as (1, n, .) tensors."""
    x = np.stack([np.sin(np.linspace(0, 3 * np.pi, n)), np.cos(np.linspace(0, 3 * np.pi, n))], axis=1)
    y = np.sin(np.linspace(0, 6 * np.pi, n)).reshape([1, n, 1])
    return torch.tensor(x[None], dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=400)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--wiring", action="store_true", help="a wired CfC on AutoNCP(16, 1) instead of 16 units")
    ap.add_argument("--plot", metavar="PNG", help="save a prediction-vs-target plot (needs matplotlib)")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    data_x, data_y = sine_data()
    model = CfC(2, AutoNCP(16, 1)) if a.wiring else CfC(2, 16, proj_size=1)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"{'wired CfC (AutoNCP(16, 1))' if a.wiring else 'CfC(2, 16, proj_size=1)'}: {n_params} trainable parameters")

    t0 = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        opt.zero_grad()
        prediction, _ = model(data_x)
        loss = torch.nn.functional.mse_loss(prediction, data_y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if epoch == 1 or epoch % 50 == 0 or epoch == a.epochs:
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
        ax.plot(prediction[0, :, 0], "--", color="tab:red", label="CfC output")
        ax.set_xlabel("time step")
        ax.legend()
        fig.tight_layout()
        fig.savefig(a.plot, dpi=120)
        print(f"wrote {a.plot}")


if __name__ == "__main__":
    main()
