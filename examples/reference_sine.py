"""The reference keras-ncp sine-wave tutorial next to ``kerasncp-go train``.

Trains the same model on the same data with the same optimizer twice:

* reference: keras-ncp 2.1.0's torch ``LTCCell`` unrolled over the 48 steps
  in a Python loop (the tutorial's ``RNNSequence``), ``torch.optim.Adam``,
  gradient norm clipped to 1 (the tutorial's ``gradient_clip_val=1``) and
  ``apply_weight_constraints()`` after every step (the tutorial's
  ``optimizer_step``);
* kerasncp-go: ``kerasncp_go.train.fit`` (what ``kerasncp-go train`` runs):
  the Go core, one call forward and one backward per step, NumPy Adam.

Both use the wiring of ``kerasncp-go train``'s default (AutoNCP(16, 1),
keras-ncp's default cell options: affine mappings, 6 ODE unfolds, explicit
constraints), one sequence per batch, the MSE loss, lr 0.01 and 1000
epochs, for several seeds. The final loss is the MSE of the trained model on
the sequence. Two initializations:

* ``own``: each library draws its initial parameters from its own generator
  (torch.manual_seed(seed) for the reference, numpy seed for kerasncp-go);
  this is what each user of either library gets.
* ``same``: the reference starts from kerasncp-go's initial parameters, so
  the two runs differ only in the arithmetic.

Usage (from the repository root, with the test virtualenv, ~1 min per seed
on 2 cores for the reference):

    PYTHONPATH=python python examples/reference_sine.py [--epochs 1000] [--seeds 5] [--wiring fc] [--plot curves.png]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

import kerasncp.torch as KT
import kerasncp.wirings as KW
import ncps.wirings as NW
import numpy as np
import torch

import kerasncp_go as kg
from kerasncp_go import wirings as GW
from kerasncp_go.train import fit, sine_task

WIRINGS = {
    # kind: (reference wiring, kerasncp-go wiring); keras-ncp 2.1.0 has no AutoNCP, ncps's is the reference.
    "autoncp": (lambda: NW.AutoNCP(16, 1), lambda: GW.AutoNCP(16, 1)),
    "fc": (lambda: KW.FullyConnected(8, 1), lambda: GW.FullyConnected(8, 1)),
}


def reference_train(ref_wiring, data, epochs: int, lr: float, seed: int, init=None):
    """The tutorial's training loop; returns (final MSE, per-epoch losses,
    seconds)."""
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()):  # keras-ncp 2.1.0 prints "alloc!"
        cell = KT.LTCCell(ref_wiring, in_features=data.input_dim)
    if init is not None:
        cell.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in init.items()})
    x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)

    def sequence(xb):
        h = torch.zeros(xb.shape[0], cell.state_size)
        outs = []
        for t in range(xb.shape[1]):
            out, h = cell(xb[:, t], h)
            outs.append(out)
        return torch.stack(outs, dim=1)

    opt = torch.optim.Adam(cell.parameters(), lr=lr)
    losses = []
    t0 = time.perf_counter()
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(sequence(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(cell.parameters(), 1.0)
        opt.step()
        cell.apply_weight_constraints()
        losses.append(loss.item())
    with torch.no_grad():
        final = float(torch.nn.functional.mse_loss(sequence(x), y))
    return final, losses, time.perf_counter() - t0


def plot_losses(path, ref_losses, go_losses, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    epochs = np.arange(1, len(ref_losses) + 1)
    ax.semilogy(epochs, ref_losses, lw=2.2, alpha=0.5, label="keras-ncp 2.1.0 (torch)")
    ax.semilogy(epochs, go_losses, lw=1.0, color="tab:red", label="kerasncp-go (Go core)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training MSE (log scale)")
    ax.set_title(f"Sine task: reference vs kerasncp-go\n{title}", fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wiring", choices=sorted(WIRINGS), default="autoncp")
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0 .. SEEDS-1")
    ap.add_argument("--init", choices=("own", "same", "both"), default="both")
    ap.add_argument("--plot", metavar="PNG", help="plot both loss curves of the first run (needs matplotlib)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    data = sine_task()
    make_ref, make_go = WIRINGS[a.wiring]
    inits = ("own", "same") if a.init == "both" else (a.init,)
    print(f"sine task, {a.wiring} wiring, {a.epochs} epochs, Adam lr {a.lr}, clip 1.0, explicit constraints")
    print("| init | seed | reference MSE | kerasncp-go MSE | reference s | kerasncp-go s |")
    print("|---|---|---|---|---|---|")
    summary = {k: ([], [], [], []) for k in inits}
    for init in inits:
        for seed in range(a.seeds):
            rw, gw = make_ref(), make_go()
            go_cell = kg.LTCCell(gw, in_features=data.input_dim, seed=seed)
            rw.build(data.input_dim)
            assert np.array_equal(np.asarray(rw.adjacency_matrix), gw.adjacency_matrix), "wirings differ"
            assert np.array_equal(np.asarray(rw.sensory_adjacency_matrix), gw.sensory_adjacency_matrix)
            ref_final, ref_losses, ref_s = reference_train(rw, data, a.epochs, a.lr, seed,
                                                           go_cell.state_dict() if init == "same" else None)
            hist = fit(go_cell, data, epochs=a.epochs, batch_size=1, lr=a.lr, clip=1.0, seed=seed, progress=False)
            if a.plot and init == inits[0] and seed == 0:
                plot_losses(a.plot, ref_losses, hist.train_loss, f"{a.wiring} wiring, seed 0, {init} initialization")
            s = summary[init]
            s[0].append(ref_final), s[1].append(hist.final_train_loss), s[2].append(ref_s), s[3].append(hist.wall_s)
            print(f"| {init} | {seed} | {ref_final:.3e} | {hist.final_train_loss:.3e} | {ref_s:.1f} | "
                  f"{hist.wall_s:.2f} |", flush=True)
    for init, (r, g, rs, gs) in summary.items():
        print(f"| {init} | median | {statistics.median(r):.3e} | {statistics.median(g):.3e} | "
              f"{statistics.median(rs):.1f} | {statistics.median(gs):.2f} |")


if __name__ == "__main__":
    main()
