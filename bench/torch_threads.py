"""A CfC training pass through kerasncp_go.torch with the Go core on torch's
OpenMP threads (kerasncp_go.torch.share_threads(True), the default) and on
the Go runtime's own threads (share_threads(False)), in one process,
alternating in rounds of bursts (see _timing.py), torch at 2 threads (or
--torch-threads). A pass is the forward pass, y.sum() and the backward
pass; ncps.torch.CfC's time is given alongside.

Usage (from the repository root, with the test virtualenv):

    PYTHONPATH=python python bench/torch_threads.py [--configs S1,S2,S3,W1]
"""

from __future__ import annotations

import argparse

import torch
from _timing import fmt, measure  # this folder is first on sys.path
from cfc_compare import CONFIGS, make_runners

import kerasncp_go.torch as GT


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="S1,S2,S3,W1")
    ap.add_argument("--torch-threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--budget", type=float, default=20.0)
    ap.add_argument("--burst", type=float, default=0.02)
    a = ap.parse_args()
    torch.set_num_threads(a.torch_threads)
    print(f"torch threads: {a.torch_threads}")
    print("| config | ncps | go-torch, torch's threads | go-torch, Go's threads | ncps / torch's | ncps / Go's |")
    print("|---|---|---|---|---|---|")
    for name in a.configs.split(","):
        runners = make_runners(CONFIGS[name.strip()])
        go = runners["go-torch"]

        def shared(flag, go=go):
            def make(bwd):
                f = go(bwd)

                def run():
                    GT.share_threads(flag)
                    f()
                return run
            return make

        med, _ = measure({"ncps": runners["ncps"], "team": shared(True), "own": shared(False)}, True,
                         a.reps, a.budget, a.burst)
        print(f"| {name} | {fmt(med['ncps'])} | {fmt(med['team'])} | {fmt(med['own'])} | "
              f"{med['ncps'] / med['team']:.1f}x | {med['ncps'] / med['own']:.1f}x |", flush=True)
    GT.share_threads(True)


if __name__ == "__main__":
    main()
