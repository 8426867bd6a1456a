"""Side-by-side speed of kerasncp-go's CfC and ncps 1.0.1's.

For each configuration (float32) this times, in one process and
alternating (see _timing.py):

* ``ncps``      ncps.torch.CfC (a Python loop over steps, torch autograd);
* ``go-numpy``  kerasncp_go.CfC: the Go core through the C ABI, one call per
                sequence forward and one backward.
* ``go-torch``  kerasncp_go.torch.CfC: the same Go calls behind a torch module
                (parameters gathered into the flat layout at every call,
                gradients scattered back into .grad by torch autograd).

Each side runs with its faster thread setting, picked per configuration on a
training pass: the reference with 1 or 2 torch threads (or --torch-threads
for every side), each kerasncp-go implementation with every core or one Go
thread (kerasncp_go.set_num_threads; the table's last columns say which).
With torch at 2 threads the Go passes run on torch's OpenMP threads (see
kerasncp_go.torch.share_threads; bench/torch_threads.py compares).

"fwd" is a forward pass without gradients; "fwd+bwd" a forward pass, a
scalar loss and the backward pass to every parameter. Configurations:

* S1  CfC(2 in, 16 units), 48 steps, batch 32
* S2  CfC(20 in, 50 units), 64 steps, batch 64 (the ncps README's sizes)
* S3  CfC(64 in, 256 units, backbone_units=256), 32 steps, batch 32
* W1  wired CfC over AutoNCP(32, 4), 8 inputs, 64 steps, batch 64

Usage (from the repository root, with the test virtualenv):

    PYTHONPATH=python python bench/cfc_compare.py [--configs S1,S2,S3,W1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from typing import NamedTuple, Optional

import ncps.torch as NT
import ncps.wirings as NW
import numpy as np
import torch
from _timing import best_go_threads, best_torch_threads, fmt, measure, warm_up  # this folder is first on sys.path

import kerasncp_go as kg
import kerasncp_go.torch as GT
import kerasncp_go.wirings as GW


class Config(NamedTuple):
    inputs: int
    units: int  # or the AutoNCP units when wired
    steps: int
    batch: int
    backbone_units: Optional[int] = None
    wired_outputs: int = 0  # > 0: a wired CfC over AutoNCP(units, wired_outputs)

    def make_units(self, wirings):
        return wirings.AutoNCP(self.units, self.wired_outputs) if self.wired_outputs else self.units


CONFIGS = {
    "S1": Config(2, 16, 48, 32),
    "S2": Config(20, 50, 64, 64),
    "S3": Config(64, 256, 32, 32, backbone_units=256),
    "W1": Config(8, 32, 64, 64, wired_outputs=4),
}


def make_runners(cfg: Config):
    torch.manual_seed(0)
    kw = {} if cfg.backbone_units is None else {"backbone_units": cfg.backbone_units}
    ref = NT.CfC(cfg.inputs, cfg.make_units(NW), **kw)
    ours = kg.CfC(cfg.inputs, cfg.make_units(GW), **kw)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    ours_t = GT.CfC(cfg.inputs, cfg.make_units(GW), **kw)
    ours_t.load_state_dict(ref.state_dict())
    x = torch.randn(cfg.batch, cfg.steps, cfg.inputs)
    xn = x.numpy()
    with torch.no_grad():
        want = ref(x)[0].numpy()
        got_t = ours_t(x)[0].numpy()
    for got in (ours(xn)[0], got_t):
        err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-3)
        assert err < 1e-4, f"kerasncp-go and ncps disagree by {err:.3g} on this configuration"

    def ncps(bwd):
        def run():
            with torch.set_grad_enabled(bwd):
                y, _ = ref(x)
                if bwd:
                    y.sum().backward()
        return run

    def go_numpy(bwd):
        def run():
            if bwd:
                y, _, tape = ours.forward_with_tape(xn)
                ours.backward(tape, np.ones_like(y))
            else:
                ours(xn)
        return run

    def go_torch(bwd):
        def run():
            with torch.set_grad_enabled(bwd):
                y, _ = ours_t(x)
                if bwd:
                    y.sum().backward()
        return run

    return {"ncps": ncps, "go-numpy": go_numpy, "go-torch": go_torch}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="S1,S2,S3,W1")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--budget", type=float, default=30.0, help="seconds per configuration and mode (at least 5 reps)")
    ap.add_argument("--burst", type=float, default=0.02,
                    help="seconds of back-to-back calls per implementation per round (0: single calls)")
    ap.add_argument("--torch-threads", type=int, choices=(1, 2),
                    help="torch threads for every side (default: the reference's faster of 1 and 2)")
    ap.add_argument("--json")
    a = ap.parse_args()
    results = {}
    names = [n.strip() for n in a.configs.split(",") if n.strip()]
    impls = None
    for name in names:
        if name not in CONFIGS:
            ap.error(f"unknown configuration {name!r}; known: {', '.join(CONFIGS)}")
        runners = make_runners(CONFIGS[name])
        if impls is None:
            impls = [k for k in runners if k != "ncps"]
            print("| config | mode | ncps | " + " | ".join(impls) + " | " +
                  " | ".join(f"ncps / {k}" for k in impls) + " | reps | torch threads | go threads |")
            print("|---" * (6 + 2 * len(impls)) + "|")
        if a.torch_threads:
            threads = a.torch_threads
            torch.set_num_threads(threads)
            warm_up(runners)
        else:
            threads = best_torch_threads(runners)
        go_threads = best_go_threads(runners, impls)
        go_col = ", ".join(f"{k} {go_threads[k] or 'all'}" for k in impls)
        for bwd in (False, True):
            med, n = measure(runners, bwd, a.reps, a.budget, a.burst)
            mode = "fwd+bwd" if bwd else "fwd"
            results[f"{name} {mode}"] = med
            print(f"| {name} | {mode} | {fmt(med['ncps'])} | " + " | ".join(fmt(med[k]) for k in impls) + " | " +
                  " | ".join(f"{med['ncps'] / med[k]:.1f}x" for k in impls) + f" | {n} | {threads} | {go_col} |",
                  flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
