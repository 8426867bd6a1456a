"""The benchmark configurations A-E (one definition, which ``bench/`` uses
too) and the ``bench`` command of the ``kerasncp-go`` program."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Mapping, Optional

import numpy as np

from .. import __version__, _lib
from .. import wirings as W
from ..ltc import LTCCell

__all__ = ["BenchConfig", "CONFIGS", "cmd_bench"]


@dataclass(frozen=True)
class BenchConfig:
    """A benchmark configuration: a wiring (the class name shared by
    kerasncp_go.wirings and the reference's wiring modules, and its
    constructor arguments), input features, steps and batch size; float32
    and 6 ODE unfolds throughout."""

    wiring: str
    args: Mapping[str, Any]
    inputs: int
    steps: int
    batch: int

    @property
    def description(self) -> str:
        """E.g. "NCP(12,6,1,6,4,6,6)"."""
        return f"{self.wiring}({','.join(str(v) for v in self.args.values())})"

    def make_wiring(self, module: Optional[ModuleType] = None) -> Any:
        """The wiring from `module` (kerasncp_go.wirings by default, or
        ncps.wirings / kerasncp.wirings for the reference)."""
        return getattr(module or W, self.wiring)(**self.args)


_NCP_B = dict(inter_neurons=12, command_neurons=6, motor_neurons=1, sensory_fanout=6, inter_fanout=4,
              recurrent_command_synapses=6, motor_fanin=6)

#: The configurations of the README's tables.
CONFIGS = {
    "A": BenchConfig("FullyConnected", dict(units=8, output_dim=1), 2, 48, 32),
    "B": BenchConfig("NCP", _NCP_B, 32, 32, 64),
    "C": BenchConfig("AutoNCP", dict(units=64, output_size=8), 32, 64, 64),
    "D": BenchConfig("FullyConnected", dict(units=256, output_dim=16), 64, 32, 32),
    "E": BenchConfig("NCP", _NCP_B, 32, 1, 1),
}


def _time(fn, reps: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cmd_bench(a: argparse.Namespace) -> int:
    """``kerasncp-go bench``."""
    names = [c for c in a.configs.upper() if not c.isspace() and c != ","]
    bad = [c for c in names if c not in CONFIGS]
    if bad or not names:
        raise ValueError(f"unknown configuration(s) {''.join(bad) or a.configs!r}; choose from "
                         f"{''.join(CONFIGS)}")
    if a.json:  # fail before the benchmark, not after it
        parent = os.path.dirname(a.json) or "."
        if not os.path.isdir(parent):
            raise OSError(f"cannot write {a.json}: the folder {parent} does not exist")
    print(f"kerasncp-go {__version__}, library {_lib.version()}; {_cpu_name()}, {os.cpu_count()} CPUs; "
          f"float32, 6 ODE unfolds; median of {a.reps} runs")
    print()
    head = f"| {'config':<6} | {'wiring':<22} | {'in':>3} | {'steps':>5} | {'batch':>5} | {'fwd ms':>9} | " \
           f"{'fwd+bwd ms':>10} |"
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    results = {}
    rng = np.random.default_rng(0)
    for name in names:
        cfg = CONFIGS[name]
        desc, s, t, b = cfg.description, cfg.inputs, cfg.steps, cfg.batch
        cell = LTCCell(cfg.make_wiring(), in_features=s, seed=0)
        x = rng.standard_normal((b, t, s)).astype(np.float32)
        gy = np.ones((b, t, cell.motor_size), np.float32)

        def fwd(cell=cell, x=x):
            cell.forward_sequence(x)

        def fwd_bwd(cell=cell, x=x, gy=gy):
            _, _, tape = cell.forward_with_tape(x)
            cell.backward(tape, gy)
            tape.close()

        f = _time(fwd, a.reps, a.warmup)
        fb = _time(fwd_bwd, a.reps, a.warmup)
        results[name] = {"wiring": desc, "inputs": s, "steps": t, "batch": b, "forward_ms": f * 1e3,
                         "forward_backward_ms": fb * 1e3}
        print(f"| {name:<6} | {desc:<22} | {s:>3} | {t:>5} | {b:>5} | {f * 1e3:>9.3f} | {fb * 1e3:>10.3f} |",
              flush=True)
    if a.json:
        try:
            with open(a.json, "w") as fh:
                json.dump({"version": __version__, "cpus": os.cpu_count(), "reps": a.reps, "results": results}, fh,
                          indent=1)
        except OSError as e:
            raise OSError(f"cannot write {a.json}: {e.strerror or e}") from None
    return 0
