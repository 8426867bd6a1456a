"""Side-by-side speed of kerasncp-go and the reference implementations.

For each configuration A-E (float32, 6 ODE unfolds) this times, in one
process and alternating call by call so that machine noise hits every
implementation alike:

* ``keras-ncp``  keras-ncp 2.1.0's torch LTCCell stepped in a Python loop;
* ``ncps``       ncps 1.0.1's torch LTC (which also loops over steps);
* ``go-numpy``   kerasncp_go.LTCCell: the Go core through the C ABI, one call
                 per sequence;
* ``go-torch``   kerasncp_go.torch.LTC: the same, inside torch autograd;
* ``floor``      a torch.autograd.Function over the same parameters that
                 computes nothing (zero outputs, zero gradients): what torch
                 itself charges for a module with these 17 parameters, and
                 so the least any binding keeping them can cost.

"fwd" is a forward pass without gradients; "fwd+bwd" a forward pass, a
scalar loss and the backward pass to every parameter (the inputs need no
gradient, as in training; go-numpy computes theirs anyway). The
table gives medians and each reference's time divided by kerasncp-go's. The
references run with whichever torch thread count (1 or 2) is faster for the
configuration.
In each round every implementation gets one turn: a burst of back-to-back
calls lasting about --burst seconds (a single call where one call is longer),
whose mean is one sample; the table gives the median over rounds. Bursts
measure what a training or control loop sees. With single calls (--burst 0)
every call starts with caches just filled by another library: on
configuration E that about doubles kerasncp-go's time (and the reference's
time when it follows kerasncp-go far less, as kerasncp-go touches little
memory).

Usage (from the repository root, with the test virtualenv):

    PYTHONPATH=python python bench/compare.py [--configs ABCDE] [--reps 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json

import kerasncp.torch as KT
import kerasncp.wirings as KW
import ncps.torch as NT
import ncps.wirings as NW
import numpy as np
import torch

import kerasncp_go as kg
import kerasncp_go.torch as GT
import kerasncp_go.wirings as GW
from kerasncp_go.cli.bench import CONFIGS  # the configurations A-E, shared with `kerasncp-go bench`

from _timing import best_torch_threads, fmt, measure  # this folder is first on sys.path


def make_runners(cfg):
    kind, args, s, t, b = cfg.wiring, cfg.args, cfg.inputs, cfg.steps, cfg.batch
    torch.manual_seed(0)
    x = torch.randn(b, t, s)
    if kind == "AutoNCP":
        # keras-ncp 2.1.0 has no AutoNCP: the NCP it derives has the same
        # matrices.
        a = NW.AutoNCP(**args)
        kw = KW.NCP(a._num_inter_neurons, a._num_command_neurons, a._num_motor_neurons, a._sensory_fanout,
                    a._inter_fanout, a._recurrent_command_synapses, a._motor_fanin, seed=a._seed)
    else:
        kw = cfg.make_wiring(KW)
    with contextlib.redirect_stdout(io.StringIO()):
        kcell = KT.LTCCell(kw, in_features=s)
    ncps_ltc = NT.LTC(s, cfg.make_wiring(NW), implicit_param_constraints=False)
    gcell = kg.LTCCell(cfg.make_wiring(GW), in_features=s, seed=0)
    gltc = GT.LTC(s, cfg.make_wiring(GW), implicit_param_constraints=False)
    xn = x.numpy()
    units = gcell.state_size

    def keras_ncp(bwd):
        def run():
            h = torch.zeros(b, units)
            outs = []
            with torch.set_grad_enabled(bwd):
                for i in range(t):
                    y, h = kcell(x[:, i], h)
                    outs.append(y)
                if bwd:
                    torch.stack(outs, 1).sum().backward()
        return run

    def ncps(bwd):
        def run():
            with torch.set_grad_enabled(bwd):
                y, _ = ncps_ltc(x)
                if bwd:
                    y.sum().backward()
        return run

    def go_numpy(bwd):
        def run():
            if bwd:
                y, _, tape = gcell.forward_with_tape(xn)
                gcell.backward(tape, np.ones_like(y))
                tape.close()
            else:
                gcell.forward_sequence(xn)
        return run

    def go_torch(bwd):
        def run():
            with torch.set_grad_enabled(bwd):
                y, _ = gltc(x)
                if bwd:
                    y.sum().backward()
        return run

    params = list(gltc.parameters())
    sizes = [p.numel() for p in params]
    motor = gcell.motor_size

    class Floor(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, *ps):
            return x.new_zeros(b, t, motor)

        @staticmethod
        def backward(ctx, gy):
            parts = torch.zeros(sum(sizes)).split_with_sizes(sizes)
            return (None,) + tuple(g.view(p.shape) if p.requires_grad else None for g, p in zip(parts, params))

    def floor(bwd):
        def run():
            with torch.set_grad_enabled(bwd):
                y = Floor.apply(x, *params)
                if bwd:
                    y.sum().backward()
        return run

    return {"keras-ncp": keras_ncp, "ncps": ncps, "go-numpy": go_numpy, "go-torch": go_torch, "floor": floor}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="ABCDE")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--budget", type=float, default=40.0, help="seconds per configuration and mode (at least 5 reps)")
    ap.add_argument("--burst", type=float, default=0.02,
                    help="seconds of back-to-back calls per implementation per round (0: single calls)")
    ap.add_argument("--json")
    a = ap.parse_args()
    results = {}
    print("| config | mode | keras-ncp | ncps | go-numpy | go-torch | floor | keras-ncp / go-torch | ncps / go-torch "
          "| ncps / go-numpy | ncps / floor | reps | torch threads |")
    print("|---" * 13 + "|")
    for name in a.configs:
        runners = make_runners(CONFIGS[name])
        threads = best_torch_threads(runners)
        for bwd in (False, True):
            med, n = measure(runners, bwd, a.reps, a.budget, a.burst)
            mode = "fwd+bwd" if bwd else "fwd"
            results[f"{name} {mode}"] = med
            print(f"| {name} | {mode} | {fmt(med['keras-ncp'])} | {fmt(med['ncps'])} | {fmt(med['go-numpy'])} | "
                  f"{fmt(med['go-torch'])} | {fmt(med['floor'])} | {med['keras-ncp'] / med['go-torch']:.1f}x | "
                  f"{med['ncps'] / med['go-torch']:.1f}x | {med['ncps'] / med['go-numpy']:.1f}x | "
                  f"{med['ncps'] / med['floor']:.1f}x | {n} | {threads} |", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
