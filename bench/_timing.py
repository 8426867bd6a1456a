"""Timing shared by the side-by-side harnesses (compare.py, cfc_compare.py).

Every harness runs all implementations in one process and alternates
between them, so that machine noise hits each alike: in each round every
implementation gets one turn, a burst of back-to-back calls lasting about
burst_s (one call when a call is longer), whose mean is one sample; the
tables give medians over rounds.

A harness describes its implementations as runners: a dict from a name to
a factory f(bwd) returning the callable to time (bwd: forward and backward
pass, else forward only). The reference is the runner named "ncps" unless
the ref argument names another.
"""

from __future__ import annotations

import statistics
import time

import torch


def best_torch_threads(runners, ref="ncps"):
    """Gives the references their faster torch thread count (1 or 2) for
    this configuration: with 2 threads torch's OpenMP workers keep spinning
    after every small operation, which on tiny configurations costs the
    reference nothing but steals a core from whatever runs next."""
    best = None
    for n in (1, 2):
        torch.set_num_threads(n)
        f = runners[ref](True)
        f()
        ts = []
        for _ in range(3):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        t = min(ts)
        if best is None or t < best[1]:
            best = (n, t)
    torch.set_num_threads(best[0])
    return best[0]


def measure(runners, bwd, reps, budget_s, burst_s, ref="ncps"):
    """Medians of per-call times. Each round runs every implementation in
    turn; an implementation's turn is a burst of back-to-back calls lasting
    about burst_s (one call when a call is longer), timed as a whole."""
    fns = {k: f(bwd) for k, f in runners.items()}
    calls = {}
    for k, f in fns.items():  # warm up, and size each burst
        f()
        t0 = time.perf_counter()
        f()
        calls[k] = max(1, int(burst_s / max(time.perf_counter() - t0, 1e-7)))
    times = {k: [] for k in fns}
    t_end = time.perf_counter() + budget_s
    for r in range(reps):
        for k, f in fns.items():
            n = calls[k]
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            times[k].append((time.perf_counter() - t0) / n)
        if r >= 4 and time.perf_counter() > t_end:
            break
    return {k: statistics.median(v) for k, v in times.items()}, len(times[ref])


def fmt(s):
    return f"{s * 1e3:.3f} ms" if s < 1 else f"{s:.2f} s"
