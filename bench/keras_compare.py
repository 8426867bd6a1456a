"""Training-step speed of kerasncp_go.tf against keras-ncp 2.1.0's TF cell.

One Keras training step (``model.train_on_batch``, Adam, MSE, float32, 6 ODE
unfolds) of each configuration:

* ``sine``  keras-ncp's README sine-wave model: FullyConnected(8, 1), 2
            inputs, 48 steps, batch 1;
* ``B``     NCP(12, 6, 1, 6, 4, 6, 6), 32 inputs, 32 steps, batch 64;
* ``C``     AutoNCP(64, 8), 32 inputs, 64 steps, batch 64.

Implementations, each in its own worker process (a process can use one Keras
flavour only, and keras-ncp's cell needs tf-keras):

* ``keras-ncp``     ``tf.keras.layers.RNN(kerasncp.tf.LTCCell(wiring))`` under
                    tf-keras (TF_USE_LEGACY_KERAS=1): the reference;
* ``go-LTC/k3``     ``kerasncp_go.tf.LTC(wiring)`` under Keras 3: one Go call
                    forward and one backward per batch;
* ``go-LTC/tfk``    the same layer under tf-keras;
* ``go-cell/k3``    ``keras.layers.RNN(kerasncp_go.tf.LTCCell(wiring))`` under
                    Keras 3 (the drop-in cell; the RNN hook of kerasncp_go.tf
                    runs the whole sequence in one Go call each way);
* ``go-cell/tfk``   the same drop-in under tf-keras (likewise);
                    ``--impls keras-ncp,go-cell/tfk`` times the drop-in
                    against the reference alone.

The parent sends the workers timing requests in alternating rounds (rotating
the order each round), so that machine noise hits all of them alike, and
reports medians of the per-step times and the reference's time divided by
each implementation's. A worker's turn starts with one untimed step, so that
the steady state of a training loop is measured rather than the first step
after the worker sat idle while the others ran.

Usage (from the repository root, with the test virtualenv and the library
built):

    PYTHONPATH=python python bench/keras_compare.py [--configs sine,B,C] [--rounds 7] [--steps 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from kerasncp_go.cli.bench import CONFIGS as _SHARED  # configurations A-E, shared with `kerasncp-go bench`
from kerasncp_go.cli.bench import BenchConfig

#: The Keras tutorial's sine-wave model, and configurations B and C.
CONFIGS = {
    "sine": BenchConfig("FullyConnected", dict(units=8, output_dim=1), 2, 48, 1),
    "B": _SHARED["B"],
    "C": _SHARED["C"],
}

# label: (TF_USE_LEGACY_KERAS, implementation)
IMPLS = {
    "keras-ncp": ("1", "reference"),
    "go-LTC/k3": ("", "ltc"),
    "go-LTC/tfk": ("1", "ltc"),
    "go-cell/k3": ("", "cell"),
    "go-cell/tfk": ("1", "cell"),
}


# -- worker ----------------------------------------------------------------------


def worker(impl: str) -> None:
    import numpy as np

    if impl == "reference":
        import kerasncp.tf as KT
        import kerasncp.wirings as KW
        import ncps.wirings as NW
    models = {}

    def build(name):
        cfg = CONFIGS[name]
        kind, s, t, b = cfg.wiring, cfg.inputs, cfg.steps, cfg.batch
        rng = np.random.default_rng(0)
        if impl == "reference":
            import tf_keras as keras

            wiring = cfg.make_wiring(NW if kind == "AutoNCP" else KW)
            layer = keras.layers.RNN(KT.LTCCell(wiring), return_sequences=True)
        else:
            from kerasncp_go import wirings as GW
            from kerasncp_go.tf import LTC, LTCCell, keras

            wiring = cfg.make_wiring(GW)
            layer = LTC(wiring, return_sequences=True) if impl == "ltc" else keras.layers.RNN(
                LTCCell(wiring), return_sequences=True)
        model = keras.Sequential([keras.Input((t, s)), layer])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        x = rng.normal(size=(b, t, s)).astype(np.float32)
        y = rng.normal(size=(b, t, model.output_shape[-1])).astype(np.float32)
        for _ in range(3):  # trace and warm up
            model.train_on_batch(x, y)
        models[name] = (model, x, y)

    for line in sys.stdin:
        req = json.loads(line)
        if req["cmd"] == "quit":
            break
        name = req["config"]
        if name not in models:
            build(name)
        model, x, y = models[name]
        model.train_on_batch(x, y)  # untimed: back from idle
        times = []
        for _ in range(req["steps"]):
            t0 = time.perf_counter()
            model.train_on_batch(x, y)
            times.append(time.perf_counter() - t0)
        sys.stdout.write(json.dumps({"times": times}) + "\n")
        sys.stdout.flush()


# -- parent ----------------------------------------------------------------------


class Worker:
    def __init__(self, label: str):
        legacy, impl = IMPLS[label]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
        env.pop("TF_USE_LEGACY_KERAS", None)
        if legacy:
            env["TF_USE_LEGACY_KERAS"] = legacy
        here = os.path.dirname(os.path.abspath(__file__))
        env["PYTHONPATH"] = os.pathsep.join([os.path.join(here, "..", "python"), env.get("PYTHONPATH", "")])
        self.label = label
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", impl],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=env)

    def time(self, config: str, steps: int):
        self.proc.stdin.write(json.dumps({"cmd": "time", "config": config, "steps": steps}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.label} died (run it alone to see why)")
        return json.loads(line)["times"]

    def close(self):
        try:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--configs", default="sine,B,C")
    p.add_argument("--impls", default=",".join(IMPLS), help=f"comma-separated, of {', '.join(IMPLS)}")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=3, help="timed steps per worker and round")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(a.worker)
        return
    configs = a.configs.split(",")
    labels = a.impls.split(",")
    unknown = [k for k in labels if k not in IMPLS]
    if unknown:
        p.error(f"--impls: unknown {', '.join(unknown)} (known: {', '.join(IMPLS)})")
    workers = [Worker(label) for label in labels]
    times = {c: {w.label: [] for w in workers} for c in configs}
    try:
        for c in configs:
            for w in workers:  # build, trace and warm up (not timed)
                w.time(c, 1)
            for r in range(a.rounds):
                order = workers[r % len(workers):] + workers[:r % len(workers)]
                for w in order:
                    time.sleep(0.2)  # let the previous worker's TF thread pools go idle
                    times[c][w.label].extend(w.time(c, a.steps))
    finally:
        for w in workers:
            w.close()
    med = {c: {k: statistics.median(v) * 1e3 for k, v in times[c].items()} for c in configs}
    ref = "keras-ncp"
    print(f"train_on_batch, median ms ({a.rounds} rounds x {a.steps} steps); speedup = keras-ncp / row")
    head = f"{'config':7s}" + "".join(f"{k:>14s}" for k in labels)
    print(head)
    for c in configs:
        row = f"{c:7s}" + "".join(f"{med[c][k]:14.2f}" for k in labels)
        print(row)
        if ref in med[c]:
            print(f"{'':7s}" + "".join(f"{med[c][ref] / med[c][k]:13.1f}x" for k in labels))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"median_ms": med, "times_s": times}, f, indent=1)


if __name__ == "__main__":
    main()
