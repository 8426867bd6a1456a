"""One LTC step of configuration E (NCP(12,6,1,6,4,6,6), input 32, batch 1)
through kerasncp-go's NumPy API (the cell call and the stepper), beside the
reference torch cells, in one process and alternating: the per-call latency
a control loop sees. Then the C stepper (examples/c/stepper.c against the
static library of scripts/build-c.sh, running the same cell saved as a
model folder) beside the Go core's own step (core's BenchmarkStepE), the
two programs alternating round by round.

Usage: PYTHONPATH=python python bench/step.py [--calls 20000] [--no-native]
"""

import argparse
import contextlib
import io
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import tempfile
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
from kerasncp_go.train.model_io import save_model

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=20000, help="calls of the Go step per round")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--no-native", action="store_true", help="skip the C stepper / Go core comparison")
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

    st = gcell.stepper()
    x1 = x[0].copy()

    def stepper():
        st.step(x1, elapsed=1.0)

    def ncps():
        with torch.no_grad():
            ncell(xt, ht)

    def kncp():
        with torch.no_grad():
            kcell(xt, ht)

    per = {"kerasncp-go (NumPy)": (go, a.calls), "kerasncp-go Stepper": (stepper, a.calls),
           "ncps LTCCell": (ncps, a.calls // 100),
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
    print(f"ncps LTCCell (torch.no_grad) / NumPy Stepper: "
          f"{med['ncps LTCCell'] / med['kerasncp-go Stepper']:.0f}x (issue 15 asks >= 40x)")
    if not a.no_native:
        native(gcell, a.calls, a.rounds)


def native(cell, calls, rounds):
    """The C stepper against the Go core's step, each a program of its own
    run `rounds` times alternately; medians of their ns per step."""
    with tempfile.TemporaryDirectory() as tmp:
        t = pathlib.Path(tmp)
        subprocess.run(["bash", str(ROOT / "scripts" / "build-c.sh"), str(t / "prefix")], check=True,
                       capture_output=True)
        cc = shutil.which(os.environ.get("CC", "cc")) or "cc"
        subprocess.run([cc, "-O2", "-std=c99", str(ROOT / "examples" / "c" / "stepper.c"),
                        f"-I{t / 'prefix' / 'include'}", str(t / "prefix" / "lib" / "libkerasncp.a"),
                        "-lpthread", "-ldl", "-lm", "-o", str(t / "stepper")], check=True)
        subprocess.run(["go", "test", "-c", "-o", str(t / "core.test"), "./core"], check=True, cwd=ROOT)
        (t / "model").mkdir()
        save_model(str(t / "model"), cell)
        progs = {
            "C stepper (static)": ([str(t / "stepper"), str(t / "model"), "--bench", str(calls)],
                                   r"ns_per_step ([0-9.]+)"),
            "Go core Stepper.Step": ([str(t / "core.test"), "-test.run", "^$", "-test.bench", "^BenchmarkStepE$",
                                      "-test.benchtime", f"{calls}x"], r"BenchmarkStepE\S*\s+\d+\s+([0-9.]+) ns/op"),
        }
        res = {k: [] for k in progs}
        for _ in range(rounds):
            for k, (cmd, pat) in progs.items():
                env = dict(os.environ, KNCP_BENCH_MODEL_NPZ=str(t / "model" / "model.npz"))
                out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
                m = re.search(pat, out)
                assert m, out
                res[k].append(float(m.group(1)))
    med = {k: statistics.median(v) for k, v in res.items()}
    for k, v in med.items():
        print(f"{k:22s} median {v / 1000:9.2f} us per step (min {min(res[k]) / 1000:.2f})")
    r = med["C stepper (static)"] / med["Go core Stepper.Step"]
    print(f"C stepper / Go core step: {r:.2f}x (issue 15 asks <= 1.5x)")


if __name__ == "__main__":
    main()
