"""Thread scaling of the NumPy API: two threads each doing N forward calls
against one thread doing 2N. The library releases the GIL for every Go call
(tests_py/test_numpy_ltc.py checks that another thread runs meanwhile), so
on two free cores the speed-up approaches 2x; on a loaded machine it is
whatever the scheduler gives, which is why this is a benchmark and not a
unit test.

Usage: PYTHONPATH=python python bench/threads.py [--rounds 5]
"""

import argparse
import threading
import time

import numpy as np

import kerasncp_go as kg
from kerasncp_go import wirings as W


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=6, help="calls per thread")
    a = ap.parse_args()
    cell = kg.LTCCell(W.FullyConnected(48), in_features=8, seed=1)
    x = np.random.default_rng(0).normal(size=(8, 400, 8)).astype(np.float32)  # batch 8: one core per call

    def work(k):
        for _ in range(k):
            cell.forward_sequence(x)

    for r in range(a.rounds):
        t0 = time.perf_counter()
        work(2 * a.calls)
        one = time.perf_counter() - t0
        threads = [threading.Thread(target=work, args=(a.calls,)) for _ in range(2)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        two = time.perf_counter() - t0
        print(f"round {r}: one thread {one:.3f} s, two threads {two:.3f} s, speed-up {one / two:.2f}x")


if __name__ == "__main__":
    main()
