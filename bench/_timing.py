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


def warm_up(runners, seconds=0.3):
    """Runs every implementation's training pass for about `seconds`: the
    first calls in a process (page faults, the CPU's clock rising, threads
    starting) are slower and would skew the choices below."""
    for make in runners.values():
        f = make(True)
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            f()


def best_torch_threads(runners, ref="ncps"):
    """Gives the references their faster torch thread count (1 or 2) for
    this configuration: with 2 threads torch's OpenMP workers keep spinning
    after every small operation, which on tiny configurations costs the
    reference nothing but steals a core from whatever runs next."""
    warm_up(runners)
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


def best_go_threads(runners, impls, choices=(0, 1), rounds=10, burst_s=0.02):
    """Gives each kerasncp-go implementation in impls its faster Go thread
    setting (kerasncp_go.set_num_threads: 0, every core, or 1), as
    best_torch_threads does for the reference: on small passes between a
    framework's own work, the helper threads' wake-up can cost more than
    splitting the batch saves. Times each choice on a training pass
    (forward and backward), alternating in rounds of bursts, and wraps the
    runner so that every call sets its choice first (cost included in its
    timing). Returns {impl: choice}."""
    import kerasncp_go

    chosen = {}
    for k in impls:
        f = runners[k](True)
        times = {n: [] for n in choices}
        for _ in range(rounds):
            for n in choices:
                kerasncp_go.set_num_threads(n)
                f()
                t0, calls = time.perf_counter(), 0
                while time.perf_counter() - t0 < burst_s:
                    f()
                    calls += 1
                times[n].append((time.perf_counter() - t0) / calls)
        chosen[k] = min(choices, key=lambda n: statistics.median(times[n]))

        def wrapped(bwd, make=runners[k], n=chosen[k]):
            g = make(bwd)

            def run():
                kerasncp_go.set_num_threads(n)
                g()
            return run
        runners[k] = wrapped
    kerasncp_go.set_num_threads(0)
    return chosen


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
