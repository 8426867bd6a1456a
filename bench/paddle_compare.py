"""Speed of kerasncp_go.paddle against the reference on configuration B.

Configuration B: NCP(12, 6, 1, 6, 4, 6, 6) (19 neurons), 32 input features,
32 steps, batch 64, float32, 6 ODE unfolds. Times, in one process and
alternating round by round so that machine noise hits each alike:

* ``keras-ncp``    keras-ncp 2.1.0's torch LTCCell stepped in a Python loop
                   (its paddle cell does not run on paddle 3, so the torch
                   cell stands in for it);
* ``go-paddle``    kerasncp_go.paddle.LTCCell.sequence: one Go call forward
                   and one backward per sequence;
* ``go-paddle-step`` kerasncp_go.paddle.LTCCell stepped in a Python loop, as
                   keras-ncp's paddle example drives the cell.

"fwd+bwd" is a forward pass, y.sum() and the backward pass to every
parameter (inputs without gradient, as in training); "fwd" runs without
gradients. Each implementation's turn in a round is a burst of back-to-back
calls lasting about --burst seconds, whose mean is one sample; the table
gives medians over rounds and the reference's time divided by each
go-paddle variant's. The reference runs with its faster torch thread count
(1 or 2).

Usage (from the repository root, with the test virtualenv, in a process without tensorflow):

    PYTHONPATH=python python bench/paddle_compare.py [--reps 15] [--burst 0.2] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json

import kerasncp.torch as KT
import kerasncp.wirings as KW
import numpy as np
import paddle
import torch
from _timing import best_torch_threads, measure  # this folder is first on sys.path

import kerasncp_go.paddle as GP
import kerasncp_go.wirings as GW

NCP_B = dict(inter_neurons=12, command_neurons=6, motor_neurons=1, sensory_fanout=6, inter_fanout=4,
             recurrent_command_synapses=6, motor_fanin=6)
S, T, B = 32, 32, 64


def make_runners():
    paddle.seed(0)
    gcell = GP.LTCCell(GW.NCP(**NCP_B), in_features=S)
    with contextlib.redirect_stdout(io.StringIO()):  # keras-ncp 2.1.0 prints "alloc!"
        kcell = KT.LTCCell(KW.NCP(**NCP_B), in_features=S)
    # The same weights in both (the masks come from the same wiring).
    kcell.load_state_dict({k: torch.tensor(v.numpy()) for k, v in gcell.state_dict().items()}, strict=False)
    x = np.random.default_rng(0).standard_normal((B, T, S)).astype(np.float32)
    xt, xp = torch.tensor(x), paddle.to_tensor(x)
    units = gcell.state_size

    def keras_ncp(bwd):
        def run():
            h, outs = torch.zeros(B, units), []
            with torch.set_grad_enabled(bwd):
                for i in range(T):
                    y, h = kcell(xt[:, i], h)
                    outs.append(y)
                if bwd:
                    torch.stack(outs, 1).sum().backward()
        return run

    def go_paddle(bwd):
        def run():
            if bwd:
                y, _ = gcell.sequence(xp)
                y.sum().backward()
            else:
                with paddle.no_grad():
                    gcell.sequence(xp)
        return run

    def go_paddle_step(bwd):
        def run():
            with contextlib.nullcontext() if bwd else paddle.no_grad():
                h, outs = paddle.zeros([B, units]), []
                for i in range(T):
                    y, h = gcell(xp[:, i], h)
                    outs.append(y)
                if bwd:
                    paddle.stack(outs, 1).sum().backward()
        return run

    return {"keras-ncp": keras_ncp, "go-paddle": go_paddle, "go-paddle-step": go_paddle_step}, (kcell, gcell, x)


def check_agreement(kcell, gcell, x):
    """The two compute the same thing (a benchmark of different work would
    mean nothing): outputs within float32 round-off."""
    with torch.no_grad():
        h, ys = torch.zeros(B, gcell.state_size), []
        for i in range(T):
            y, h = kcell(torch.tensor(x[:, i]), h)
            ys.append(y)
    want = torch.stack(ys, 1).numpy()
    with paddle.no_grad():
        got = gcell.sequence(paddle.to_tensor(x))[0].numpy()
    err = float(np.abs(got - want).max() / np.abs(want).max())
    if err > 1e-5:
        raise SystemExit(f"outputs differ: relative error {err:.2e}")
    return err


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per mode (at least 5 reps)")
    ap.add_argument("--burst", type=float, default=0.2, help="seconds of back-to-back calls per turn")
    ap.add_argument("--json")
    a = ap.parse_args()
    runners, ref = make_runners()
    err = check_agreement(*ref)
    threads = best_torch_threads(runners, ref="keras-ncp")
    print(f"configuration B, paddle {paddle.__version__}, torch {torch.__version__} ({threads} thread(s)); "
          f"outputs agree to {err:.1e} relative")
    print("| mode | keras-ncp (torch, stepped) | go-paddle (sequence) | go-paddle (stepped) | "
          "keras-ncp / go-paddle | keras-ncp / go-paddle stepped |")
    print("|---" * 6 + "|")
    results = {}
    for bwd in (False, True):
        med, _ = measure(runners, bwd, a.reps, a.budget, a.burst, ref="keras-ncp")
        mode = "fwd+bwd" if bwd else "fwd"
        results[mode] = med
        print(f"| {mode} | {med['keras-ncp'] * 1e3:.2f} ms | {med['go-paddle'] * 1e3:.2f} ms | "
              f"{med['go-paddle-step'] * 1e3:.2f} ms | {med['keras-ncp'] / med['go-paddle']:.1f}x | "
              f"{med['keras-ncp'] / med['go-paddle-step']:.1f}x |", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
