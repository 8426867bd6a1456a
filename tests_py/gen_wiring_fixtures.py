"""Generate golden wiring fixtures for the Go wiring tests.

What it produces (in ``--out-dir``, default ``tests_go/testdata/wirings``):

* ``wirings.npz`` -- a compressed npz archive (same layout as
  ``np.savez_compressed``; entry timestamps are pinned so reruns are
  byte-identical).  For every configuration name ``N`` it holds two int32
  arrays:

  - ``N_adjacency``: the wiring's ``adjacency_matrix`` (units x units)
  - ``N_sensory``:   the wiring's ``sensory_adjacency_matrix`` (input_dim x units)

  both taken after exactly ONE ``build(input_dim)`` call on a freshly
  constructed wiring.

* ``manifest.json`` -- the generator name, the package versions used, one
  entry per configuration (``name``, ``kind``, constructor ``args`` with every
  keyword spelled out, ``input_dim``, ``units``, ``output_dim``,
  ``synapse_count``, ``sensory_synapse_count``; Random entries additionally
  carry ``choice_paths`` and AutoNCP entries ``ncp_args``, both informative
  only) and an ``errors`` list of configurations the reference rejects, with
  the exception type, message and the stage (``construct`` or ``build``) at
  which it was raised.

Sources of truth: ``FullyConnected``, ``Random`` and ``NCP`` are built with
``kerasncp.wirings`` (keras-ncp 2.1.0); ``AutoNCP`` with ``ncps.wirings``
(ncps 1.0.1).  Every FullyConnected/Random/NCP configuration is also built
with ``ncps.wirings`` and every AutoNCP configuration is cross-checked against
``kerasncp.wirings.NCP`` with the derived layer parameters; any difference
aborts the script.

The configuration list is fixed: hand-picked edge cases followed by a sweep
drawn from ``random.Random(0)``, so the output only depends on the installed
reference packages (and numpy, whose Generator streams are not guaranteed to
be stable across releases).

Run from the repository root with the project's virtualenv::

    "$(bash scripts/venv.sh)/bin/python" tests_py/gen_wiring_fixtures.py

Options: ``--out-dir DIR`` to write elsewhere.
"""

import argparse
import io
import json
import math
import os
import random
import sys
import zipfile
from importlib import metadata

import kerasncp.wirings as kw
import ncps.wirings as nw
import numpy as np

GENERATOR = "tests_py/gen_wiring_fixtures.py"
DEFAULT_OUT_DIR = os.path.join("tests_go", "testdata", "wirings")

# Seeds every kind is exercised with (all valid for MT19937 and PCG64).
COMMON_SEEDS = [0, 1, 2, 42, 1111, 22222, 123456789, 2**32 - 1]
# Extra seeds only SeedSequence (FullyConnected/Random) accepts: more than one
# 32-bit entropy word.  Still representable as uint64.
WIDE_SEEDS = [2**32, 2**63 - 1, 2**64 - 1]

RANDOM_SPARSITIES = [0.0, 0.01, 0.1, 0.25, 0.3, 0.5, 0.75, 0.9, 0.99]
AUTONCP_SPARSITIES = [0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0]

# numpy's Generator.choice(replace=False) switches from Floyd's algorithm to a
# partial tail shuffle above this population size when k > n // 50.
FLOYD_LIMIT = 10000


# --------------------------------------------------------------------------
# Configuration constructors: each returns a dict with kind, args, input_dim.
# --------------------------------------------------------------------------

def fc(units, input_dim, output_dim=None, erev_init_seed=1111, self_connections=True):
    return {
        "kind": "fully_connected",
        "args": {
            "units": units,
            "output_dim": output_dim,
            "erev_init_seed": erev_init_seed,
            "self_connections": self_connections,
        },
        "input_dim": input_dim,
    }


def rnd(units, input_dim, sparsity_level=0.0, output_dim=None, random_seed=1111):
    return {
        "kind": "random",
        "args": {
            "units": units,
            "output_dim": output_dim,
            "sparsity_level": sparsity_level,
            "random_seed": random_seed,
        },
        "input_dim": input_dim,
    }


def ncp(inter, command, motor, sensory_fanout, inter_fanout, recurrent, motor_fanin,
        input_dim, seed=22222):
    return {
        "kind": "ncp",
        "args": {
            "inter_neurons": inter,
            "command_neurons": command,
            "motor_neurons": motor,
            "sensory_fanout": sensory_fanout,
            "inter_fanout": inter_fanout,
            "recurrent_command_synapses": recurrent,
            "motor_fanin": motor_fanin,
            "seed": seed,
        },
        "input_dim": input_dim,
    }


def auto(units, output_size, input_dim, sparsity_level=0.5, seed=22222):
    return {
        "kind": "autoncp",
        "args": {
            "units": units,
            "output_size": output_size,
            "sparsity_level": sparsity_level,
            "seed": seed,
        },
        "input_dim": input_dim,
    }


CLASSES = {
    "fully_connected": ("FullyConnected", "FullyConnected"),
    "random": ("Random", "Random"),
    "ncp": ("NCP", "NCP"),
}


def make_wiring(module, cfg):
    """Construct (not build) the wiring described by cfg from module."""
    if cfg["kind"] == "autoncp":
        return module.AutoNCP(**cfg["args"])
    return getattr(module, CLASSES[cfg["kind"]][0])(**cfg["args"])


def reference_module(kind):
    return nw if kind == "autoncp" else kw


def built(module, cfg):
    w = make_wiring(module, cfg)
    w.build(cfg["input_dim"])
    return w


# --------------------------------------------------------------------------
# Hand-picked configurations
# --------------------------------------------------------------------------

def hand_picked():
    out = []

    # ---- FullyConnected
    out += [
        fc(1, 1),
        fc(1, 1, self_connections=False),
        fc(1, 7, output_dim=1, erev_init_seed=0),
        fc(2, 1),
        fc(3, 1, self_connections=False),  # REFERENCE.md 1.7 golden
        fc(4, 2),  # REFERENCE.md 1.7 golden
        fc(50, 20),  # REFERENCE.md 1.7 aggregates
        fc(420, 5, output_dim=5),
        fc(420, 1, output_dim=5, self_connections=False, erev_init_seed=7),
        fc(100, 100, self_connections=False),
        fc(10, 3, output_dim=3, erev_init_seed=0),
        fc(64, 200, output_dim=8, erev_init_seed=123456789),
    ]
    for s in COMMON_SEEDS + WIDE_SEEDS:
        out.append(fc(5, 3, erev_init_seed=s))
        out.append(fc(6, 2, output_dim=2, erev_init_seed=s, self_connections=False))

    # ---- Random
    out += [
        rnd(4, 2, sparsity_level=0.5),  # golden
        rnd(16, 4, sparsity_level=0.5, output_dim=2),  # golden aggregates
        rnd(401, 1, sparsity_level=0.99),  # Floyd with n > 10000, k <= n // 50
        rnd(410, 2, sparsity_level=0.5),  # tail shuffle internal
        rnd(30, 5, sparsity_level=0.0),
        rnd(150, 10, sparsity_level=0.3),
        rnd(150, 2, sparsity_level=0.0),  # tail shuffle with k == n
        rnd(200, 80, sparsity_level=0.5),  # tail shuffle for sensory too
        rnd(120, 100, sparsity_level=0.99),  # Floyd for n=14400 and n_s=12000
        rnd(1, 1, sparsity_level=0.0),
        rnd(1, 1, sparsity_level=0.5),  # round(0.5) == 0
        rnd(1, 3, sparsity_level=0.5),  # round(1.5) == 2 for the sensory draw
        rnd(3, 1, sparsity_level=0.5),  # round(4.5) == 4
        rnd(5, 3, sparsity_level=0.99),  # zero synapses drawn
        rnd(5, 50, sparsity_level=0.9),  # 1 - 0.9 is not exactly 0.1
        rnd(10, 10, sparsity_level=0.9),
        rnd(100, 1, sparsity_level=0.0),  # n == 10000 exactly: still Floyd
        rnd(100, 100, sparsity_level=0.0),  # sensory n == 10000, k == n
        rnd(101, 1, sparsity_level=0.98),  # k == n // 50 == 204: Floyd
        rnd(101, 1, sparsity_level=0.9799),  # k == 205 > 204: tail shuffle
        rnd(137, 73, sparsity_level=0.97),  # sensory n == 10001
        rnd(50, 201, sparsity_level=0.98),  # sensory n == 10050, k == 201 == n//50
        rnd(50, 201, sparsity_level=0.9799),  # sensory k == 202 > 201
        rnd(60, 400, sparsity_level=0.75, output_dim=4),
    ]
    for s in RANDOM_SPARSITIES:
        out.append(rnd(12, 7, sparsity_level=s))
    for s in [0.01, 0.5, 0.999, 0.75]:
        out.append(rnd(7, 12, sparsity_level=s, output_dim=3, random_seed=42))
    for s in COMMON_SEEDS + WIDE_SEEDS:
        out.append(rnd(9, 4, sparsity_level=0.4, random_seed=s))
        out.append(rnd(110, 100, sparsity_level=0.25, random_seed=s) if s in (0, 2**64 - 1)
                   else rnd(20, 6, sparsity_level=0.75, output_dim=5, random_seed=s))

    # ---- NCP
    out += [
        ncp(3, 2, 1, 2, 2, 2, 1, 2),  # golden
        ncp(10, 10, 8, 6, 6, 4, 6, 20),  # golden aggregates
        ncp(1, 1, 1, 1, 1, 1, 1, 1),
        ncp(1, 1, 1, 1, 1, 0, 1, 5),
        ncp(1, 5, 2, 1, 5, 3, 5, 3),
        ncp(5, 1, 4, 3, 1, 2, 1, 9),
        ncp(4, 3, 1, 4, 3, 0, 3, 2),  # every fanout == layer size
        ncp(6, 4, 3, 6, 4, 10, 4, 8),
        ncp(6, 4, 3, 1, 1, 0, 1, 1),
        ncp(5, 4, 2, 0, 0, 2, 0, 3),  # zero fanouts: everything via fill-in
        ncp(4, 3, 0, 2, 2, 2, 0, 3),  # zero motor neurons (output_dim 0)
        ncp(8, 6, 3, 3, 3, 1000, 2, 4),  # many recurrent synapses
        ncp(2, 2, 2, 2, 2, 500, 2, 64),
        ncp(300, 100, 20, 12, 8, 40, 10, 64),  # 420 units
        ncp(200, 150, 50, 30, 20, 100, 15, 32),
        ncp(40, 30, 10, 40, 30, 60, 30, 16),
        ncp(12, 8, 1, 1, 1, 0, 8, 1),
    ]
    for d in [1, 2, 3, 5, 8, 16, 32, 63, 64]:
        out.append(ncp(20, 12, 6, 4, 4, 6, 4, d))
    for s in COMMON_SEEDS:
        out.append(ncp(8, 6, 3, 3, 3, 4, 2, 5, seed=s))
        out.append(ncp(1, 2, 1, 1, 2, 1, 1, 3, seed=s))

    # ---- AutoNCP
    out += [
        auto(8, 2, 3),  # golden
        auto(28, 4, 5),  # golden aggregates
        auto(3, 0, 1),  # smallest accepted: zero motor neurons
        auto(4, 1, 1),
        auto(5, 2, 2),
        auto(500, 20, 64),
        auto(500, 497, 8),  # output == units - 3
        auto(480, 100, 16, sparsity_level=0.9),
        auto(450, 1, 2, sparsity_level=0.1),
    ]
    for s in AUTONCP_SPARSITIES:
        out.append(auto(32, 5, 6, sparsity_level=s))
    for o in range(1, 10):
        out.append(auto(12, o, 4))
    for s in COMMON_SEEDS:
        out.append(auto(16, 3, 4, seed=s))
        out.append(auto(60, 10, 20, sparsity_level=0.75, seed=s))
    return out


# --------------------------------------------------------------------------
# Seeded sweep
# --------------------------------------------------------------------------

def log_uniform_int(r, lo, hi):
    return int(round(math.exp(r.uniform(math.log(lo), math.log(hi)))))


def pick_seed(r, wide=False):
    u = r.random()
    if u < 0.45:
        return r.choice(COMMON_SEEDS)
    if wide and u < 0.5:
        return r.choice(WIDE_SEEDS)
    return r.randrange(2**32)


def sweep(count):
    r = random.Random(0)
    out = []
    while len(out) < count:
        kind = r.choices(["fully_connected", "random", "ncp", "autoncp"],
                         weights=[2, 3, 3, 2])[0]
        if kind == "fully_connected":
            units = log_uniform_int(r, 1, 160)
            output_dim = None if r.random() < 0.6 else r.randint(1, units)
            out.append(fc(units, log_uniform_int(r, 1, 100), output_dim=output_dim,
                          erev_init_seed=pick_seed(r, wide=True),
                          self_connections=r.random() < 0.6))
        elif kind == "random":
            if r.random() < 0.5:
                s = r.choice(RANDOM_SPARSITIES)
            else:
                s = round(r.uniform(0.0, 0.999), 3)
            if r.random() < 0.25:
                # Large sensory population: n_s = input_dim * units > 10000.
                units = r.randint(60, 200)
                input_dim = r.randint(10000 // units + 1, 25000 // units)
            else:
                units = log_uniform_int(r, 1, 180)
                input_dim = log_uniform_int(r, 1, 120)
            output_dim = None if r.random() < 0.7 else r.randint(1, units)
            out.append(rnd(units, input_dim, sparsity_level=s, output_dim=output_dim,
                           random_seed=pick_seed(r, wide=True)))
        elif kind == "ncp":
            inter = log_uniform_int(r, 1, 60)
            command = log_uniform_int(r, 1, 40)
            motor = log_uniform_int(r, 1, 20)
            sensory_fanout = r.randint(0 if r.random() < 0.05 else 1, inter)
            inter_fanout = r.randint(0 if r.random() < 0.05 else 1, command)
            motor_fanin = r.randint(0 if r.random() < 0.05 else 1, command)
            recurrent = 0 if r.random() < 0.15 else r.randint(1, 3 * command)
            out.append(ncp(inter, command, motor, sensory_fanout, inter_fanout, recurrent,
                           motor_fanin, log_uniform_int(r, 1, 64), seed=pick_seed(r)))
        else:
            units = log_uniform_int(r, 4, 300)
            output_size = r.randint(1, units - 3)
            if r.random() < 0.5:
                s = r.choice(AUTONCP_SPARSITIES)
            else:
                s = round(r.uniform(0.1, 1.0), 2)
            out.append(auto(units, output_size, log_uniform_int(r, 1, 64), sparsity_level=s,
                            seed=pick_seed(r)))
    return out


# --------------------------------------------------------------------------
# Invalid configurations (recorded, not stored as matrices)
# --------------------------------------------------------------------------

def invalid_configs():
    return [
        # FullyConnected
        fc(4, 2, erev_init_seed=-1),
        fc(-1, 2),
        # Random
        rnd(5, 2, sparsity_level=1.0),
        rnd(5, 2, sparsity_level=-0.01),
        rnd(5, 2, sparsity_level=1.5),
        rnd(5, 2, sparsity_level=0.5, random_seed=-5),
        rnd(-2, 2, sparsity_level=0.5),
        # NCP: constructor checks, one at a time and in combination (order)
        ncp(4, 3, 2, 2, 2, 2, 4, 3),  # motor_fanin > command
        ncp(4, 3, 2, 5, 2, 2, 2, 3),  # sensory_fanout > inter
        ncp(4, 3, 2, 2, 4, 2, 2, 3),  # inter_fanout > command
        ncp(4, 3, 2, 5, 4, 2, 4, 3),  # all three: motor_fanin reported first
        ncp(4, 3, 2, 5, 4, 2, 2, 3),  # sensory before inter fanout
        ncp(1, 1, 1, 2, 1, 1, 1, 1),
        ncp(6, 1, 3, 3, 2, 1, 1, 4),
        ncp(6, 3, 3, 3, 3, 1, 3, 4, seed=-1),
        ncp(6, 3, 3, 3, 3, 1, 3, 4, seed=2**32),
        # NCP: accepted by the constructor, fails in build
        ncp(0, 3, 2, 0, 2, 1, 2, 3),  # zero inter neurons
        ncp(4, 0, 2, 2, 0, 1, 0, 3),  # zero command neurons
        ncp(0, 0, 1, 0, 0, 0, 0, 2),
        ncp(4, 3, 2, -1, 2, 1, 2, 3),  # negative fanout
        ncp(4, 3, 2, 2, 2, 1, 2, -1),  # negative input dim
        # AutoNCP
        auto(5, 3, 2),  # output_size == units - 2
        auto(3, 1, 2),
        auto(10, 9, 2),
        auto(10, 12, 2),
        auto(2, 0, 1),
        auto(20, 4, 2, sparsity_level=0.05),
        auto(20, 4, 2, sparsity_level=0.0),
        auto(20, 4, 2, sparsity_level=1.01),
        auto(20, 4, 2, seed=-1),
        auto(20, 4, 2, seed=2**32),
    ]


def try_build(module, cfg):
    """Return (stage, exception) of the first failure, or (None, wiring)."""
    try:
        w = make_wiring(module, cfg)
    except Exception as e:
        return "construct", e
    try:
        w.build(cfg["input_dim"])
    except Exception as e:
        return "build", e
    return None, w


def record_errors():
    errors = []
    for cfg in invalid_configs():
        stage, exc = try_build(reference_module(cfg["kind"]), cfg)
        if stage is None:
            sys.exit("expected an error from %s %r" % (cfg["kind"], cfg["args"]))
        if cfg["kind"] != "autoncp":
            stage2, exc2 = try_build(nw, cfg)
            if (stage2, type(exc2), str(exc2)) != (stage, type(exc), str(exc)):
                sys.exit("kerasncp and ncps disagree on the error for %s %r: %r vs %r"
                         % (cfg["kind"], cfg["args"], exc, exc2))
        errors.append({
            "kind": cfg["kind"],
            "args": cfg["args"],
            "input_dim": cfg["input_dim"],
            "exception": type(exc).__name__,
            "message": str(exc),
            "stage": stage,
        })
    return errors


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def choice_path(n, k):
    return "tail" if n > FLOYD_LIMIT and k > n // 50 else "floyd"


def check_matrices(cfg, adj, sen, other, what):
    if not (np.array_equal(adj, other.adjacency_matrix)
            and np.array_equal(sen, other.sensory_adjacency_matrix)):
        sys.exit("%s differs for %s %r input_dim=%d"
                 % (what, cfg["kind"], cfg["args"], cfg["input_dim"]))


def generate(cfg, name):
    """Build cfg with the reference, cross-check it; return (entry, arrays)."""
    w = built(reference_module(cfg["kind"]), cfg)
    adj = np.asarray(w.adjacency_matrix)
    sen = np.asarray(w.sensory_adjacency_matrix)
    units, input_dim = w.units, cfg["input_dim"]
    assert adj.dtype == np.int32 and sen.dtype == np.int32
    assert adj.shape == (units, units) and sen.shape == (input_dim, units)

    entry = {
        "name": name,
        "kind": cfg["kind"],
        "args": cfg["args"],
        "input_dim": input_dim,
        "units": int(units),
        "output_dim": int(w.output_dim),
        "synapse_count": int(np.abs(adj).sum()),
        "sensory_synapse_count": int(np.abs(sen).sum()),
    }

    if cfg["kind"] == "autoncp":
        # Cross-check against the 2.1.0 NCP with the layer sizes AutoNCP derived.
        derived = {
            "inter_neurons": w._num_inter_neurons,
            "command_neurons": w._num_command_neurons,
            "motor_neurons": w._num_motor_neurons,
            "sensory_fanout": w._sensory_fanout,
            "inter_fanout": w._inter_fanout,
            "recurrent_command_synapses": w._recurrent_command_synapses,
            "motor_fanin": w._motor_fanin,
            "seed": cfg["args"]["seed"],
        }
        entry["ncp_args"] = {k: int(v) for k, v in derived.items()}
        twin = kw.NCP(**derived)
        twin.build(input_dim)
        check_matrices(cfg, adj, sen, twin, "kerasncp.NCP twin of AutoNCP")
    else:
        check_matrices(cfg, adj, sen, built(nw, cfg), "ncps.wirings")

    if cfg["kind"] == "random":
        s = cfg["args"]["sparsity_level"]
        n_int, n_sen = units * units, input_dim * units
        entry["choice_paths"] = {
            "internal": choice_path(n_int, int(np.round(n_int * (1 - s)))),
            "sensory": choice_path(n_sen, int(np.round(n_sen * (1 - s)))),
        }
    return entry, adj, sen


def write_npz(path, arrays):
    """Write an npz like np.savez_compressed, with fixed entry timestamps."""
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, mode="w", compression=zipfile.ZIP_DEFLATED,
                         allowZip64=True) as zf:
        for key, arr in arrays:
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(info, buf.getvalue())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", default=DEFAULT_OUT_DIR,
                    help="output directory (default: %(default)s)")
    ap.add_argument("--sweep", type=int, default=300,
                    help="number of random-sweep configurations (default: %(default)s)")
    opts = ap.parse_args()

    configs = hand_picked() + sweep(opts.sweep)

    entries, arrays, skipped = [], [], 0
    for cfg in configs:
        stage, _ = try_build(reference_module(cfg["kind"]), cfg)
        if stage is not None:  # the sweep should not produce these; skip quietly
            skipped += 1
            continue
        name = "c%04d" % len(entries)
        entry, adj, sen = generate(cfg, name)
        entries.append(entry)
        arrays.append((name + "_adjacency", adj))
        arrays.append((name + "_sensory", sen))

    manifest = {
        "generator": GENERATOR,
        "versions": {
            "numpy": np.__version__,
            "keras-ncp": metadata.version("keras-ncp"),
            "ncps": metadata.version("ncps"),
        },
        "python": "%d.%d.%d" % sys.version_info[:3],
        "configs": entries,
        "errors": record_errors(),
    }

    os.makedirs(opts.out_dir, exist_ok=True)
    write_npz(os.path.join(opts.out_dir, "wirings.npz"), arrays)
    with open(os.path.join(opts.out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    kinds = {}
    for e in entries:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    print("wrote %d configurations (%s), %d errors, %d skipped to %s"
          % (len(entries), ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
             len(manifest["errors"]), skipped, opts.out_dir))


if __name__ == "__main__":
    main()
