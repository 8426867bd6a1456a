"""One LTC step of configuration E (NCP(12,6,1,6,4,6,6), input 32, batch 1)
through kerasncp-go's NumPy API, beside the reference torch cells, in one
process and alternating: the per-call latency a control loop sees.

Usage: PYTHONPATH=python python bench/step.py [--calls 20000]
"""

import argparse
import contextlib
import io
import statistics
import time

import kerasncp.torch as KT
import kerasncp.wirings as KW
import ncps.torch as NT
import ncps.wirings as NW
import numpy as np
import torch

import kerasncp_go as kg
import kerasncp_go.wirings as GW
from kerasncp_go.cli.bench import CONFIGS


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=20000, help="calls of the Go step per round")
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = CONFIGS["E"]
    with contextlib.redirect_stdout(io.StringIO()):
        kcell = KT.LTCCell(cfg.make_wiring(KW), in_features=cfg.inputs)
    ncell = NT.LTCCell(cfg.make_wiring(NW), in_features=cfg.inputs)
    gcell = kg.LTCCell(cfg.make_wiring(GW), in_features=cfg.inputs, seed=0)
    x = np.random.default_rng(0).normal(size=(cfg.batch, cfg.inputs)).astype(np.float32)
    h = np.zeros((cfg.batch, gcell.state_size), np.float32)
    xt, ht = torch.from_numpy(x), torch.from_numpy(h)

    def go():
        gcell(x, h)

    def ncps():
        with torch.no_grad():
            ncell(xt, ht)

    def kncp():
        with torch.no_grad():
            kcell(xt, ht)

    per = {"kerasncp-go (NumPy)": (go, a.calls), "ncps LTCCell": (ncps, a.calls // 100),
           "keras-ncp LTCCell": (kncp, a.calls // 100)}
    res = {k: [] for k in per}
    for f, _ in per.values():
        for _ in range(20):
            f()
    for _ in range(a.rounds):
        for k, (f, n) in per.items():
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            res[k].append((time.perf_counter() - t0) / n)
    med = {k: statistics.median(v) * 1e6 for k, v in res.items()}
    for k, v in med.items():
        print(f"{k:22s} median {v:9.2f} us per step")
    print(f"ncps / kerasncp-go: {med['ncps LTCCell'] / med['kerasncp-go (NumPy)']:.0f}x, "
          f"keras-ncp / kerasncp-go: {med['keras-ncp LTCCell'] / med['kerasncp-go (NumPy)']:.0f}x")


if __name__ == "__main__":
    main()
