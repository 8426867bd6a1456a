"""Generate the golden LTC-cell fixtures used by the Go tests.

Every number in a fixture comes from a real reference implementation:

* ``kerasncp.torch.LTCCell`` (keras-ncp 2.1.0, PyTorch; regular sampling only),
* ``kerasncp.tf.LTCCell`` (keras-ncp 2.1.0, TensorFlow under tf-keras; regular
  sampling and irregular sampling through the ``(x, elapsed)`` tuple input),
* ``ncps.torch.LTCCell`` (ncps 1.0.1, PyTorch; regular sampling and a per-sample
  ``elapsed_time`` tensor of shape (B, 1); float32 and float64).

For each fixture the script builds a wiring with the reference's own wiring
classes (``kerasncp.wirings`` for keras-ncp cells, ``ncps.wirings`` for ncps cells;
``AutoNCP`` exists only in ``ncps.wirings``), builds the cell, optionally perturbs
its parameters so they look trained, runs a (B, T, S) sequence by stepping the
cell T times (feeding the state back), and takes the reference autograd
gradients of the scalar loss

    L = sum(y * gy) + sum(h_final * gh)

with respect to every trainable parameter, the inputs, the initial state and
(irregular fixtures) the elapsed times.

Output (default ``tests_go/testdata/ltc``): one ``<name>.npz`` per fixture and a
``manifest.json`` describing every fixture and the package versions. Each npz
holds ``adjacency`` / ``sensory_adjacency`` (int32), every reference parameter
under its reference name as the raw stored value (before any softplus),
``x``, ``h0``, ``elapsed`` (irregular only), ``y``, ``h_final``, ``gy``, ``gh``,
and ``grad_<param>``, ``grad_x``, ``grad_h0``, ``grad_elapsed`` (irregular only).
The npz files are written as zip archives of ``.npy`` members, the container
``np.savez_compressed`` writes, but with fixed member timestamps so that a
rerun reproduces the files byte for byte.

As a guard against driving the reference wrongly, every fixture is re-checked
against a small float64 NumPy model of the LTC step (forward values, and
gradients by central finite differences along random directions). That model
is only a check; nothing it computes is written to a fixture.

Run from the repository root with the project virtualenv
(``$(bash scripts/venv.sh)/bin/python``)::

    python tests_py/gen_ltc_fixtures.py [--out-dir tests_go/testdata/ltc]

Everything runs on the CPU and is seeded per fixture (from a CRC of its name),
so reruns give identical fixtures.
"""

import os

# Must be set before TensorFlow is imported: keras-ncp 2.1.0 needs tf.keras to be
# tf-keras (Keras 2), and all work stays on the CPU.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import contextlib
import importlib.metadata
import io
import json
import pathlib
import sys
import zipfile
import zlib

import kerasncp.tf
import kerasncp.torch
import kerasncp.wirings
import ncps.torch
import ncps.wirings
import numpy as np
import tensorflow as tf
import torch

torch.set_num_threads(1)
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

GENERATOR = "tests_py/gen_ltc_fixtures.py"
DEFAULT_OUT = "tests_go/testdata/ltc"

PARAM_ORDER = (
    "gleak", "vleak", "cm", "sigma", "mu", "w", "erev",
    "sensory_sigma", "sensory_mu", "sensory_w", "sensory_erev",
    "sparsity_mask", "sensory_sparsity_mask",
    "input_w", "input_b", "output_w", "output_b",
)
MASKS = ("sparsity_mask", "sensory_sparsity_mask")
POSITIVE = ("gleak", "cm", "w", "sensory_w")  # softplus'ed in implicit mode

KINDS = ("FullyConnected", "Random", "NCP", "AutoNCP")
MAPPINGS = ("affine", "linear", None)

# Constructor arguments (all of them, defaults spelled out) of the wirings used.
WIRING_ARGS = {
    "FullyConnected": (
        dict(units=8, output_dim=8, erev_init_seed=1111, self_connections=True),
        dict(units=12, output_dim=3, erev_init_seed=5, self_connections=True),
        dict(units=6, output_dim=2, erev_init_seed=77, self_connections=False),
        dict(units=20, output_dim=20, erev_init_seed=4242, self_connections=True),
    ),
    "Random": (
        dict(units=10, output_dim=4, sparsity_level=0.5, random_seed=2024),
        dict(units=16, output_dim=16, sparsity_level=0.3, random_seed=7),
        dict(units=24, output_dim=2, sparsity_level=0.75, random_seed=99),
        dict(units=6, output_dim=1, sparsity_level=0.0, random_seed=1111),
    ),
    "NCP": (
        dict(inter_neurons=6, command_neurons=4, motor_neurons=2, sensory_fanout=3,
             inter_fanout=2, recurrent_command_synapses=3, motor_fanin=2, seed=22222),
        dict(inter_neurons=12, command_neurons=8, motor_neurons=4, sensory_fanout=4,
             inter_fanout=4, recurrent_command_synapses=6, motor_fanin=3, seed=1),
        dict(inter_neurons=16, command_neurons=12, motor_neurons=5, sensory_fanout=6,
             inter_fanout=5, recurrent_command_synapses=8, motor_fanin=4, seed=31),
        dict(inter_neurons=3, command_neurons=2, motor_neurons=1, sensory_fanout=2,
             inter_fanout=1, recurrent_command_synapses=1, motor_fanin=1, seed=5),
    ),
    "AutoNCP": (
        dict(units=10, output_size=2, sparsity_level=0.5, seed=22222),
        dict(units=20, output_size=4, sparsity_level=0.3, seed=9),
        dict(units=40, output_size=3, sparsity_level=0.6, seed=1234),
        dict(units=15, output_size=1, sparsity_level=0.5, seed=3),
    ),
}

SOURCES = {
    # source: (name prefix, number of float32 fixtures)
    "kerasncp.torch": ("kt", 22),
    "kerasncp.tf": ("ktf", 22),
    "ncps.torch": ("nt", 22),
}
N_FLOAT64 = 6  # extra ncps.torch fixtures in float64


# --------------------------------------------------------------------------
# The fixture plan
# --------------------------------------------------------------------------

def _mapping_name(m):
    return "none" if m is None else m


def _short(m):
    return {"affine": "aff", "linear": "lin", None: "id"}[m]


def fixture_spec(source, i, dtype="float32"):
    """Configuration of the i-th fixture of a source.

    Each property cycles with its own period so that consecutive fixtures mix
    wiring kinds, mappings, unfold counts, shapes and modes.
    """
    torch_source = source != "kerasncp.tf"
    kind = KINDS[i % 4]
    args = dict(WIRING_ARGS[kind][(i // 4 + i // 16) % 4])
    if kind == "Random":
        # the sparsity level is kept; the seed varies so matrices differ
        args["random_seed"] = args["random_seed"] + i
    if dtype == "float64":
        in_map = MAPPINGS[(2 * i) % 3]
        out_map = MAPPINGS[(i + 1) % 3]
        irregular = i % 2 == 0
    else:
        in_map = MAPPINGS[i % 3]
        out_map = MAPPINGS[(i // 3) % 3]
        irregular = source != "kerasncp.torch" and i % 5 in (0, 2)
    spec = dict(
        source=source,
        kind=kind,
        wiring_args=args,
        input_dim=(3, 1, 5, 2, 4, 6, 2)[i % 7],
        input_mapping=in_map,
        output_mapping=out_map,
        ode_unfolds=(6, 1, 3)[(i // 2) % 3],
        epsilon=0.05 if i % 11 == 7 else 1e-8,
        implicit=torch_source and (i % 7) % 2 == 1,
        batch=1 if i % 3 == 1 else 2 + i % 4,
        steps=1 if i % 9 in (2, 6) else 16 + (5 * i) % 9,
        irregular=irregular,
        dtype=dtype,
        perturbed=(i + i // 2) % 2 == 0,
        zero_h0=i % 6 == 5,
    )
    prefix = SOURCES[source][0] + ("64_" if dtype == "float64" else "")
    units = _units(kind, args)
    spec["name"] = "{}{:02d}_{}{}_{}-{}_k{}{}_b{}t{}{}{}{}".format(
        prefix, i, {"FullyConnected": "fc", "Random": "rnd", "NCP": "ncp",
                    "AutoNCP": "auto"}[kind], units,
        _short(in_map), _short(out_map), spec["ode_unfolds"],
        "_imp" if spec["implicit"] else "", spec["batch"], spec["steps"],
        "_irr" if irregular else "", "_p" if spec["perturbed"] else "",
        "_eps" if spec["epsilon"] != 1e-8 else "")
    return spec


def _units(kind, args):
    if kind == "NCP":
        return args["inter_neurons"] + args["command_neurons"] + args["motor_neurons"]
    return args["units"]


def plan():
    specs = []
    for source, (_, count) in SOURCES.items():
        for i in range(count):
            specs.append(fixture_spec(source, i))
    for i in range(N_FLOAT64):
        specs.append(fixture_spec("ncps.torch", i, dtype="float64"))
    names = [s["name"] for s in specs]
    assert len(set(names)) == len(names), "fixture names must be unique"
    _check_coverage(specs)
    return specs


def _check_coverage(specs):
    """Fail loudly if an edit to the plan drops a case the brief asks for."""
    for source in SOURCES:
        f32 = [s for s in specs if s["source"] == source and s["dtype"] == "float32"]
        want = {
            "kind": set(KINDS),
            "input_mapping": set(MAPPINGS),
            "output_mapping": set(MAPPINGS),
            "ode_unfolds": {1, 3, 6},
            "perturbed": {False, True},
        }
        for key, values in want.items():
            got = {s[key] for s in f32}
            assert values <= got, (source, key, got)
        assert {s["steps"] == 1 for s in f32} == {False, True}, source
        assert {s["batch"] == 1 for s in f32} == {False, True}, source
        if source != "kerasncp.tf":
            assert {s["implicit"] for s in f32} == {False, True}, source
        if source != "kerasncp.torch":
            assert {s["irregular"] for s in f32} == {False, True}, source
        pairs = {(s["input_mapping"], s["output_mapping"]) for s in f32}
        assert len(pairs) == 9, (source, pairs)


# --------------------------------------------------------------------------
# Wirings
# --------------------------------------------------------------------------

def wiring_module(source, kind):
    if kind == "AutoNCP" or source.startswith("ncps"):
        return "ncps.wirings"
    return "kerasncp.wirings"


def make_wiring(module, kind, args):
    mod = {"kerasncp.wirings": kerasncp.wirings, "ncps.wirings": ncps.wirings}[module]
    return getattr(mod, kind)(**args)


def check_wiring_packages_agree(spec):
    """keras-ncp 2.1.0 and ncps 1.0.1 wirings must give the same matrices."""
    if spec["kind"] == "AutoNCP":
        return
    mats = []
    for module in ("kerasncp.wirings", "ncps.wirings"):
        w = make_wiring(module, spec["kind"], spec["wiring_args"])
        w.build(spec["input_dim"])
        mats.append((w.adjacency_matrix, w.sensory_adjacency_matrix))
    assert np.array_equal(mats[0][0], mats[1][0]), spec["name"]
    assert np.array_equal(mats[0][1], mats[1][1]), spec["name"]


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------

INIT_RANGES = {  # the reference default initialization ranges
    "gleak": (0.001, 1.0), "vleak": (-0.2, 0.2), "cm": (0.4, 0.6),
    "w": (0.001, 1.0), "sigma": (3.0, 8.0), "mu": (0.3, 0.8),
    "sensory_w": (0.001, 1.0), "sensory_sigma": (3.0, 8.0),
    "sensory_mu": (0.3, 0.8),
}


def fresh_init_values(rng, shapes, current):
    """Untrained-looking values for TF cells (whose initializers are unseeded).

    Ranged parameters are drawn uniformly from the reference default ranges;
    erev, sensory_erev and the mappings keep the values the cell initialized.
    """
    out = dict(current)
    for name, (lo, hi) in INIT_RANGES.items():
        out[name] = rng.uniform(lo, hi, size=shapes[name])
    return out


def perturb(params, rng, implicit):
    """Make parameters look trained. Works on float64 copies."""
    p = {k: np.array(v, dtype=np.float64) for k, v in params.items()}

    def noise(name, scale):
        return rng.normal(0.0, scale, size=p[name].shape)

    def factor(name, lo, hi):
        return rng.uniform(lo, hi, size=p[name].shape)

    for name in ("erev", "sensory_erev"):
        p[name] = p[name] + noise(name, 0.3)
    for name in ("sigma", "sensory_sigma"):
        p[name] = p[name] * factor(name, 0.5, 1.5) + noise(name, 0.5)
        flip = rng.random(p[name].shape) < 0.1
        p[name][flip] = -p[name][flip]
    for name in ("mu", "sensory_mu"):
        p[name] = p[name] + noise(name, 0.25)
    p["vleak"] = p["vleak"] + noise("vleak", 0.3)
    if implicit:
        # raw values may be anything: softplus keeps the effective ones positive
        for name in POSITIVE:
            p[name] = p[name] + noise(name, 1.0)
        # exercise the identity branch of torch's Softplus (threshold 20)
        p["cm"][0] = 21.5
        on = np.flatnonzero(params["sparsity_mask"])
        p["w"].flat[on[rng.integers(on.size)]] = 23.0
    else:
        p["w"] = p["w"] * factor("w", 0.3, 2.5)
        p["w"][rng.random(p["w"].shape) < 0.05] = 0.0  # as if clipped by NonNeg
        p["sensory_w"] = p["sensory_w"] * factor("sensory_w", 0.3, 2.5)
        p["cm"] = p["cm"] * factor("cm", 0.5, 3.0)
        p["gleak"] = p["gleak"] * factor("gleak", 0.3, 2.0)
    def sign(name):
        return rng.choice([-1.0, 1.0], size=p[name].shape)

    if "input_w" in p:
        p["input_w"] = factor("input_w", 0.5, 1.5) * sign("input_w")
    if "input_b" in p:
        p["input_b"] = noise("input_b", 0.3)
    if "output_w" in p:
        p["output_w"] = factor("output_w", 0.5, 2.0) * sign("output_w")
    if "output_b" in p:
        p["output_b"] = noise("output_b", 0.5)
    return p


# --------------------------------------------------------------------------
# Driving the references
# --------------------------------------------------------------------------

def run_torch(spec, data, rng):
    """Build and run a torch LTCCell (kerasncp 2.1.0 or ncps 1.0.1)."""
    torch.manual_seed(data["seed"])
    module = wiring_module(spec["source"], spec["kind"])
    wiring = make_wiring(module, spec["kind"], spec["wiring_args"])
    cls = {"kerasncp.torch": kerasncp.torch.LTCCell,
           "ncps.torch": ncps.torch.LTCCell}[spec["source"]]
    # kerasncp 2.1.0 prints "alloc!" while allocating parameters
    with contextlib.redirect_stdout(io.StringIO()):
        cell = cls(
            wiring,
            in_features=spec["input_dim"],  # builds the (unbuilt) wiring once
            input_mapping=spec["input_mapping"],
            output_mapping=spec["output_mapping"],
            ode_unfolds=spec["ode_unfolds"],
            epsilon=spec["epsilon"],
            implicit_param_constraints=spec["implicit"],
        )
    tdtype = torch.float64 if spec["dtype"] == "float64" else torch.float32
    if tdtype == torch.float64:
        cell = cell.double()
    named = dict(cell.named_parameters())
    assert set(named) <= set(PARAM_ORDER), set(named) - set(PARAM_ORDER)

    if spec["perturbed"]:
        current = {k: v.detach().numpy() for k, v in named.items()}
        new = perturb(current, rng, spec["implicit"])
        with torch.no_grad():
            for k, v in named.items():
                if k not in MASKS:
                    v.copy_(torch.from_numpy(new[k]).to(tdtype))

    params = {k: v.detach().numpy().copy() for k, v in named.items()}
    trainable = [k for k in PARAM_ORDER if k in named and named[k].requires_grad]
    assert set(trainable) == set(named) - set(MASKS)

    x = torch.tensor(data["x"], dtype=tdtype, requires_grad=True)
    h0 = torch.tensor(data["h0"], dtype=tdtype, requires_grad=True)
    leaves = [named[k] for k in trainable] + [x, h0]
    if spec["irregular"]:
        elapsed = torch.tensor(data["elapsed"], dtype=tdtype, requires_grad=True)
        leaves.append(elapsed)

    h = h0
    ys = []
    for t in range(spec["steps"]):
        if spec["irregular"]:
            y, h = cell(x[:, t], h, elapsed[:, t:t + 1])
        else:
            y, h = cell(x[:, t], h)
        ys.append(y)
    y = torch.stack(ys, dim=1)
    gy = torch.tensor(data["gy"], dtype=tdtype)
    gh = torch.tensor(data["gh"], dtype=tdtype)
    loss = (y * gy).sum() + (h * gh).sum()
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    grads = [np.zeros(leaf.shape) if g is None else g.numpy() for leaf, g in zip(leaves, grads)]

    out = {
        "adjacency": wiring.adjacency_matrix,
        "sensory_adjacency": wiring.sensory_adjacency_matrix,
        "params": params,
        "y": y.detach().numpy(),
        "h_final": h.detach().numpy(),
        "grads": {},
    }
    names = ["grad_" + k for k in trainable] + ["grad_x", "grad_h0"]
    if spec["irregular"]:
        names.append("grad_elapsed")
    out["grads"] = dict(zip(names, grads))
    return out


def _weight_key(variable):
    # "ltc_cell/gleak:0" or "gleak:0" -> "gleak"
    return variable.name.split("/")[-1].split(":")[0]


def run_tf(spec, data, rng):
    """Build and run keras-ncp 2.1.0's TF LTCCell under tf-keras."""
    tf.random.set_seed(data["seed"])
    module = wiring_module(spec["source"], spec["kind"])
    wiring = make_wiring(module, spec["kind"], spec["wiring_args"])
    cell = kerasncp.tf.LTCCell(
        wiring,
        input_mapping=spec["input_mapping"],
        output_mapping=spec["output_mapping"],
        ode_unfolds=spec["ode_unfolds"],
        epsilon=spec["epsilon"],
    )
    cell.build((None, spec["input_dim"]))  # builds the wiring too
    variables = {_weight_key(v): v for v in cell.weights}
    assert len(variables) == len(cell.weights)
    assert set(variables) <= set(PARAM_ORDER) and not set(variables) & set(MASKS)
    assert all(v.trainable for v in cell.trainable_weights)
    assert len(cell.trainable_weights) == len(cell.weights)

    current = {k: v.numpy() for k, v in variables.items()}
    # TF initializers are unseeded: draw the untrained values here instead
    values = fresh_init_values(rng, {k: v.shape for k, v in current.items()}, current)
    if spec["perturbed"]:
        values["sparsity_mask"] = np.abs(wiring.adjacency_matrix)
        values = perturb(values, rng, implicit=False)
    for k, v in variables.items():
        v.assign(np.asarray(values[k], dtype=np.float32))

    params = {k: v.numpy().copy() for k, v in variables.items()}
    params["sparsity_mask"] = cell._params["sparsity_mask"].numpy()
    params["sensory_sparsity_mask"] = cell._params["sensory_sparsity_mask"].numpy()
    trainable = [k for k in PARAM_ORDER if k in variables]

    x = tf.constant(data["x"], dtype=tf.float32)
    h0 = tf.constant(data["h0"], dtype=tf.float32)
    extra = [x, h0]
    if spec["irregular"]:
        elapsed = tf.constant(data["elapsed"], dtype=tf.float32)
        extra.append(elapsed)
    gy = tf.constant(data["gy"], dtype=tf.float32)
    gh = tf.constant(data["gh"], dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(extra)
        h = h0
        ys = []
        for t in range(spec["steps"]):
            if spec["irregular"]:
                inputs = (x[:, t], elapsed[:, t:t + 1])
            else:
                inputs = x[:, t]
            y, states = cell(inputs, [h])
            h = states[0]
            ys.append(y)
        y = tf.stack(ys, axis=1)
        loss = tf.reduce_sum(y * gy) + tf.reduce_sum(h * gh)
    leaves = [variables[k] for k in trainable] + extra
    grads = tape.gradient(loss, leaves)
    grads = [np.zeros(leaf.shape) if g is None else tf.convert_to_tensor(g).numpy()
             for leaf, g in zip(leaves, grads)]
    names = ["grad_" + k for k in trainable] + ["grad_x", "grad_h0"]
    if spec["irregular"]:
        names.append("grad_elapsed")
    return {
        "adjacency": wiring.adjacency_matrix,
        "sensory_adjacency": wiring.sensory_adjacency_matrix,
        "params": params,
        "y": y.numpy(),
        "h_final": h.numpy(),
        "grads": dict(zip(names, grads)),
    }


# --------------------------------------------------------------------------
# Independent float64 check model (REFERENCE.md 2.3); never written out
# --------------------------------------------------------------------------

def _softplus(z):
    # torch.nn.Softplus(beta=1, threshold=20)
    return np.where(z > 20.0, z, np.log1p(np.exp(np.minimum(z, 20.0))))


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def check_model(spec, p, x, h0, elapsed):
    """Return (y, h_final) in float64 for parameters p (raw values)."""
    pos = _softplus if spec["implicit"] else (lambda v: v)
    K = spec["ode_unfolds"]
    U = p["gleak"].shape[0]
    M = p["output_w"].shape[0] if "output_w" in p else _motor(spec)
    w, sw, cm, gleak = pos(p["w"]), pos(p["sensory_w"]), pos(p["cm"]), pos(p["gleak"])
    v = h0
    ys = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        if spec["input_mapping"] in ("affine", "linear"):
            xt = xt * p["input_w"]
        if spec["input_mapping"] == "affine":
            xt = xt + p["input_b"]
        act = sw * _sigmoid(p["sensory_sigma"] * (xt[:, :, None] - p["sensory_mu"]))
        act = act * p["sensory_sparsity_mask"]
        num_s = (act * p["sensory_erev"]).sum(axis=1)
        den_s = act.sum(axis=1)
        dt = 1.0 if elapsed is None else elapsed[:, t:t + 1]
        c = cm / (dt / K)
        for _ in range(K):
            a = w * _sigmoid(p["sigma"] * (v[:, :, None] - p["mu"])) * p["sparsity_mask"]
            num = c * v + gleak * p["vleak"] + (a * p["erev"]).sum(axis=1) + num_s
            den = c + gleak + a.sum(axis=1) + den_s
            v = num / (den + spec["epsilon"])
        y = v[:, :M] if M < U else v
        if spec["output_mapping"] in ("affine", "linear"):
            y = y * p["output_w"]
        if spec["output_mapping"] == "affine":
            y = y + p["output_b"]
        ys.append(y)
    return np.stack(ys, axis=1), v


def _motor(spec):
    a = spec["wiring_args"]
    if spec["kind"] == "NCP":
        return a["motor_neurons"]
    if spec["kind"] == "AutoNCP":
        return a["output_size"]
    return a["output_dim"]


def sanity_check(spec, arrays, rng):
    """Compare the reference's numbers with the float64 check model.

    Returns the largest forward discrepancies, (max |ref - model| / max(|model|, 1e-3),
    max |ref - model|), and the largest normalized directional-derivative discrepancy
    |fd - sum(grad * d)| / sum(|grad * d|).
    """
    def f64(a):
        return np.asarray(a, dtype=np.float64)

    p = {k: f64(arrays[k]) for k in PARAM_ORDER if k in arrays}
    x, h0 = f64(arrays["x"]), f64(arrays["h0"])
    elapsed = f64(arrays["elapsed"]) if "elapsed" in arrays else None
    y, h = check_model(spec, p, x, h0, elapsed)
    rtol, atol = (1e-4, 1e-6) if spec["dtype"] == "float32" else (1e-11, 1e-13)
    for key, want in (("y", y), ("h_final", h)):
        got = f64(arrays[key])
        assert got.shape == want.shape, (spec["name"], key, got.shape, want.shape)
        assert np.allclose(got, want, rtol=rtol, atol=atol), (
            spec["name"], key, np.max(np.abs(got - want)))
    diffs = [np.abs(f64(arrays[k]) - w) for k, w in (("y", y), ("h_final", h))]
    fwd_abs = max(np.max(d) for d in diffs)
    fwd_rel = max(np.max(d / np.maximum(np.abs(w), 1e-3)) for d, w in zip(diffs, (y, h)))

    gy, gh = f64(arrays["gy"]), f64(arrays["gh"])

    def loss(pp, xx, hh, ee):
        yy, hf = check_model(spec, pp, xx, hh, ee)
        return np.sum(yy * gy) + np.sum(hf * gh)

    gtol = 2e-3 if spec["dtype"] == "float32" else 1e-7
    worst = 0.0
    for key in sorted(k for k in arrays if k.startswith("grad_")):
        target = key[len("grad_"):]
        g = f64(arrays[key])
        d = rng.standard_normal(g.shape)
        step = 1e-5

        def shifted(s, target=target, d=d):
            pp, xx, hh, ee = dict(p), x, h0, elapsed
            if target == "x":
                xx = x + s * d
            elif target == "h0":
                hh = h0 + s * d
            elif target == "elapsed":
                ee = elapsed + s * d
            else:
                pp[target] = p[target] + s * d
            return loss(pp, xx, hh, ee)

        fd = (shifted(step) - shifted(-step)) / (2 * step)
        an = np.sum(g * d)
        scale = np.sum(np.abs(g * d)) + 1e-8
        err = abs(fd - an) / scale
        assert err < gtol, (spec["name"], key, fd, an, err)
        worst = max(worst, err)
    return (fwd_rel, fwd_abs), worst


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------

def write_npz(path, arrays):
    """Write arrays like np.savez_compressed, with fixed member timestamps."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def versions():
    out = {}
    for dist in ("numpy", "torch", "tensorflow", "tf-keras", "keras-ncp", "ncps"):
        out[dist] = importlib.metadata.version(dist)
    out["python"] = "{}.{}.{}".format(*sys.version_info[:3])
    return out


def make_inputs(spec, rng, units):
    B, T, S = spec["batch"], spec["steps"], spec["input_dim"]
    M = _motor(spec)
    data = {
        "x": rng.normal(0.0, 1.0, size=(B, T, S)),
        "h0": (np.zeros((B, units)) if spec["zero_h0"]
               else rng.normal(0.0, 0.5, size=(B, units))),
        "gy": rng.normal(0.0, 1.0, size=(B, T, M)),
        "gh": rng.normal(0.0, 1.0, size=(B, units)),
    }
    if spec["irregular"]:
        data["elapsed"] = rng.uniform(0.1, 3.0, size=(B, T))
    dt = np.float64 if spec["dtype"] == "float64" else np.float32
    return {k: v.astype(dt) for k, v in data.items()}


def build_fixture(spec):
    seed = zlib.crc32(spec["name"].encode()) & 0x7FFFFFFF
    rng = np.random.default_rng(seed)
    units = _units(spec["kind"], spec["wiring_args"])
    data = make_inputs(spec, rng, units)
    data["seed"] = seed
    runner = run_tf if spec["source"] == "kerasncp.tf" else run_torch
    res = runner(spec, data, rng)

    dt = np.float64 if spec["dtype"] == "float64" else np.float32
    arrays = {
        "adjacency": np.asarray(res["adjacency"], dtype=np.int32),
        "sensory_adjacency": np.asarray(res["sensory_adjacency"], dtype=np.int32),
    }
    for k, v in res["params"].items():
        assert v.dtype == dt, (spec["name"], k, v.dtype)
        arrays[k] = v
    for k in ("x", "h0", "gy", "gh", "elapsed"):
        if k in data:
            arrays[k] = data[k]
    arrays["y"] = res["y"]
    arrays["h_final"] = res["h_final"]
    for k, v in res["grads"].items():
        arrays[k] = np.asarray(v)
    for k, v in arrays.items():
        if k not in ("adjacency", "sensory_adjacency"):
            assert v.dtype == dt, (spec["name"], k, v.dtype)

    # shape and wiring consistency
    U, S, M = units, spec["input_dim"], _motor(spec)
    B, T = spec["batch"], spec["steps"]
    assert arrays["adjacency"].shape == (U, U)
    assert arrays["sensory_adjacency"].shape == (S, U)
    assert np.array_equal(arrays["sparsity_mask"], np.abs(arrays["adjacency"]))
    assert np.array_equal(arrays["sensory_sparsity_mask"],
                          np.abs(arrays["sensory_adjacency"]))
    assert arrays["y"].shape == (B, T, M) and arrays["h_final"].shape == (B, U)
    if not spec["perturbed"]:
        assert np.array_equal(arrays["erev"], arrays["adjacency"])
        assert np.array_equal(arrays["sensory_erev"], arrays["sensory_adjacency"])
    check_wiring_packages_agree(spec)

    fwd, grad = sanity_check(spec, arrays, np.random.default_rng(seed + 1))
    return arrays, fwd, grad


def manifest_entry(spec):
    return {
        "name": spec["name"],
        "source": spec["source"],
        "wiring": {
            "kind": spec["kind"],
            "module": wiring_module(spec["source"], spec["kind"]),
            "args": spec["wiring_args"],
            "input_dim": spec["input_dim"],
        },
        "units": _units(spec["kind"], spec["wiring_args"]),
        "input_dim": spec["input_dim"],
        "output_dim": _motor(spec),
        "input_mapping": _mapping_name(spec["input_mapping"]),
        "output_mapping": _mapping_name(spec["output_mapping"]),
        "ode_unfolds": spec["ode_unfolds"],
        "epsilon": spec["epsilon"],
        "implicit_param_constraints": spec["implicit"],
        "batch": spec["batch"],
        "steps": spec["steps"],
        "irregular": spec["irregular"],
        "dtype": spec["dtype"],
        "perturbed": spec["perturbed"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=DEFAULT_OUT,
                        help="output directory (default %(default)s)")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)

    specs = plan()
    worst = {}
    entries = []
    for spec in specs:
        arrays, fwd, grad = build_fixture(spec)
        write_npz(out / (spec["name"] + ".npz"), arrays)
        entries.append(manifest_entry(spec))
        key = spec["source"] + ("/float64" if spec["dtype"] == "float64" else "")
        w = worst.get(key, (0.0, 0.0, 0.0))
        worst[key] = (max(w[0], fwd[0]), max(w[1], fwd[1]), max(w[2], grad))
        print("{:48s} forward rel {:.1e} abs {:.1e}  grad {:.1e}".format(
            spec["name"], fwd[0], fwd[1], grad))

    keep = {spec["name"] + ".npz" for spec in specs}
    for stale in sorted(out.glob("*.npz")):
        if stale.name not in keep:
            stale.unlink()

    manifest = {"generator": GENERATOR, "versions": versions(), "fixtures": entries}
    with open(out / "manifest.json", "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print("\n{} fixtures, {:.2f} MB in {}".format(len(entries), total / 1e6, out))
    for key, (rel, ab, g) in sorted(worst.items()):
        print("  {:24s} forward: max rel diff {:.2e}, max abs diff {:.2e};"
              " gradient check: max diff {:.2e}".format(key, rel, ab, g))


if __name__ == "__main__":
    main()
