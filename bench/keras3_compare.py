"""Training-step speed of kerasncp_go.keras against ncps 1.0.1's ncps.keras,
on one Keras 3 backend per run (TensorFlow, JAX or torch).

One training step (``model.train_on_batch``, Adam, MSE, float32) of each
configuration:

* ``sine``  the README's sine-wave model: FullyConnected(8, 1), 2 inputs, 48
            steps, batch 1;
* ``B``     NCP(12, 6, 1, 6, 4, 6, 6), 32 inputs, 32 steps, batch 64;
* ``C``     AutoNCP(64, 8), 32 inputs, 64 steps, batch 64.

Implementations (``ref-*`` are ncps.keras, ``go-*`` kerasncp_go.keras, each
with the configuration's wiring, return_sequences=True), each in its own
worker process:

* ``*-LTC``   the LTC layer (``go-LTC``: one Go call each way per batch);
* ``*-CfC``   the wired CfC layer (likewise);
* ``*-cell``  ``keras.layers.RNN(LTCCell(wiring))`` (``go-cell``: one Go call
              per step each way);
* ``floor-CfC`` a layer holding the same variables as the CfC layer whose
              output costs nothing: what ``train_on_batch`` and the optimizer
              cost by themselves, a bound on how fast any CfC layer can train
              in Keras (``ref-CfC / floor-CfC`` is the largest speedup
              possible).

The parent times the workers in alternating rounds (rotating the order), so
that machine noise hits them alike, and reports medians and, per layer kind,
the reference's time divided by ours. A worker's turn starts with one
untimed step: the steady state of a training loop is what is measured, not
the first step after the process sat idle while the others ran (whose
thread wake-ups weigh most on the fastest implementations).

Usage (repository root, test virtualenv, library built):

    PYTHONPATH=python python bench/keras3_compare.py --backend jax [--configs sine,B,C] [--impls ...]
        [--rounds 5] [--steps 5] [--json out.json] [--baseline DIR]

With --baseline DIR (the python/ directory of another kerasncp-go checkout,
its library built), the go-X workers also run as base-X workers importing
kerasncp_go from DIR, in the same rounds: an A/B comparison of two versions
of this package.
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

CONFIGS = {
    "sine": BenchConfig("FullyConnected", dict(units=8, output_dim=1), 2, 48, 1),
    "B": _SHARED["B"],
    "C": _SHARED["C"],
}
IMPLS = ("ref-LTC", "go-LTC", "ref-CfC", "go-CfC", "ref-cell", "go-cell", "floor-CfC")


def worker(impl: str) -> None:
    import keras
    import numpy as np

    side, kind = impl.split("-")
    if side == "base":  # another checkout of this package (--baseline): on PYTHONPATH first
        side = "go"
    if side == "floor":
        class Floor(keras.layers.Layer):
            """The variables of a built layer; outputs zeros plus 0 times
            their sum, so that every variable gets a gradient."""

            def __init__(self, shapes, units, **kw):
                super().__init__(**kw)
                self.shapes, self.units = shapes, units

            def build(self, input_shape):
                self.ws = [self.add_weight(shape=s, initializer="zeros") for s in self.shapes]

            def call(self, x):
                total = sum(keras.ops.sum(w) for w in self.ws)
                return keras.ops.zeros_like(x[..., :1]) * keras.ops.ones((self.units,)) + 0.0 * total
    if side in ("ref", "floor"):
        import ncps.keras as K
        import ncps.wirings as W
    else:
        import kerasncp_go.keras as K  # type: ignore[no-redef]
        from kerasncp_go import wirings as W  # type: ignore[no-redef]
    models = {}

    def build(name):
        cfg = CONFIGS[name]
        wiring = cfg.make_wiring(W)
        if side == "floor":
            shaped = keras.Sequential([keras.Input((cfg.steps, cfg.inputs)), K.CfC(wiring, return_sequences=True)])
            layer = Floor([tuple(w.shape) for w in shaped.trainable_weights], shaped.output_shape[-1])
        elif kind == "LTC":
            layer = K.LTC(wiring, return_sequences=True)
        elif kind == "CfC":
            layer = K.CfC(wiring, return_sequences=True)
        else:
            layer = keras.layers.RNN(K.LTCCell(wiring), return_sequences=True)
        model = keras.Sequential([keras.Input((cfg.steps, cfg.inputs)), layer])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        rng = np.random.default_rng(0)
        x = rng.normal(size=(cfg.batch, cfg.steps, cfg.inputs)).astype(np.float32)
        y = rng.normal(size=(cfg.batch, cfg.steps, model.output_shape[-1])).astype(np.float32)
        for _ in range(3):  # trace / compile and warm up
            model.train_on_batch(x, y)
        models[name] = (model, x, y)

    for line in sys.stdin:
        req = json.loads(line)
        if req["cmd"] == "quit":
            break
        name = req["config"]
        if name not in models:
            try:
                build(name)
            except Exception as e:  # the reference fails some cases (JAX: integer weights reach jax.grad)
                models[name] = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        if isinstance(models[name], str):
            sys.stdout.write(json.dumps({"error": models[name]}) + "\n")
            sys.stdout.flush()
            continue
        model, x, y = models[name]
        model.train_on_batch(x, y)  # untimed: back from idle
        times = []
        for _ in range(req["steps"]):
            t0 = time.perf_counter()
            model.train_on_batch(x, y)
            times.append(time.perf_counter() - t0)
        sys.stdout.write(json.dumps({"times": times}) + "\n")
        sys.stdout.flush()


class Worker:
    def __init__(self, backend: str, label: str, baseline: str = ""):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", KERAS_BACKEND=backend)
        here = os.path.dirname(os.path.abspath(__file__))
        package = baseline if label.startswith("base-") else os.path.join(here, "..", "python")
        env["PYTHONPATH"] = os.pathsep.join([package, env.get("PYTHONPATH", "")])
        self.label = label
        self.errors: dict = {}
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", label],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=env)

    def time(self, config: str, steps: int):
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cmd": "time", "config": config, "steps": steps}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.label} died (run it alone to see why)")
        out = json.loads(line)
        if "error" in out:
            self.errors[config] = out["error"]
            return []
        return out["times"]

    def close(self):
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=["tensorflow", "jax", "torch"], help="Keras backend (required)")
    p.add_argument("--configs", default="sine,B,C")
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=5, help="timed steps per worker and round (after one untimed)")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--baseline", help="python/ directory of another kerasncp-go checkout to compare with")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(a.worker)
        return
    if not a.backend:
        p.error("--backend is required")
    configs = a.configs.split(",")
    labels = a.impls.split(",")
    if a.baseline:
        if not os.path.isdir(os.path.join(a.baseline, "kerasncp_go")):
            p.error(f"--baseline: {a.baseline} holds no kerasncp_go package")
        labels += ["base-" + k.split("-", 1)[1] for k in labels if k.startswith("go-")]
    workers = [Worker(a.backend, label, os.path.abspath(a.baseline or "")) for label in labels]
    times = {c: {w.label: [] for w in workers} for c in configs}
    try:
        for c in configs:
            for w in workers:  # build, trace and warm up (not timed)
                w.time(c, 1)
            for r in range(a.rounds):
                order = workers[r % len(workers):] + workers[:r % len(workers)]
                for w in order:
                    time.sleep(0.2)
                    times[c][w.label].extend(w.time(c, a.steps))
    finally:
        for w in workers:
            w.close()
    med = {c: {k: statistics.median(v) * 1e3 for k, v in times[c].items() if v} for c in configs}
    print(f"{a.backend}: train_on_batch, median ms ({a.rounds} rounds x {a.steps} steps); "
          "speedup = ref-X / go-X")
    print(f"{'config':7s}" + "".join(f"{k:>11s}" for k in labels))
    for c in configs:
        print(f"{c:7s}" + "".join(f"{med[c][k]:11.2f}" if k in med[c] else f"{'fails':>11s}" for k in labels))
        ratios = [f"{kind}: {med[c]['ref-' + kind] / med[c]['go-' + kind]:.1f}x" for kind in ("LTC", "CfC", "cell")
                  if "ref-" + kind in med[c] and "go-" + kind in med[c]]
        ratios += [f"base-{kind} / go-{kind}: {med[c]['base-' + kind] / med[c]['go-' + kind]:.2f}x"
                   for kind in ("LTC", "CfC", "cell") if "base-" + kind in med[c] and "go-" + kind in med[c]]
        if "ref-CfC" in med[c] and "floor-CfC" in med[c]:
            ratios.append(f"CfC at most: {med[c]['ref-CfC'] / med[c]['floor-CfC']:.1f}x")
        print(f"{'':7s} " + "  ".join(ratios))
    for w in workers:
        for c, err in w.errors.items():
            print(f"{w.label} fails on {c}: {err}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"backend": a.backend, "median_ms": med, "times_s": times,
                       "errors": {w.label: w.errors for w in workers}}, f, indent=1)


if __name__ == "__main__":
    main()
