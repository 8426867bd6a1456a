"""Generate the golden CfC fixtures used by the Go tests.

Every number in a fixture comes from the reference, ncps 1.0.1's PyTorch classes
``ncps.torch.CfC`` (which builds ``CfCCell`` or ``WiredCfCCell`` and, with mixed
memory, ``ncps.torch.lstm.LSTMCell``) with wirings from ``ncps.wirings``.

Facts about the reference that the Go side needs (each is checked by this script
on every run, by ``verify_reference_facts`` or per fixture, and restated in
``manifest.json`` under ``"facts"``):

* state_dict keys (Linear weights in torch layout (out, in)); P = "rnn_cell.":
  - plain CfC: ``P backbone.<i>.weight/bias`` for the Linear layers of the
    backbone Sequential, ``P ff1.weight/bias`` and either ``P ff2``, ``P time_a``,
    ``P time_b`` (.weight/.bias; modes default and no_gate) or ``P w_tau`` and
    ``P A`` (mode pure, shape (1, units)). The Sequential index <i> counts the
    activation (and dropout) modules too: without dropout the Linear layers sit at
    0, 2, 4, ...; with backbone_dropout > 0 a Dropout follows every Linear but the
    first, so they sit at 0, 2, 5, 8, ... .
  - wired CfC: ``P layer_<l>.sparsity_mask`` (non-trainable, shape
    (n_l, in_l + n_l)), ``P layer_<l>.ff1``, ``ff2``, ``time_a``, ``time_b``
    (.weight/.bias, modes default and no_gate) or ``ff1``, ``w_tau``, ``A`` (pure),
    one group per wiring layer l (in_l: input_size for l = 0, n_{l-1} after).
  - mixed memory adds ``lstm.input_map.weight`` (4*S, input_size),
    ``lstm.input_map.bias`` (4*S) and ``lstm.recurrent_map.weight`` (4*S, S)
    (no recurrent bias); proj_size adds ``fc.weight`` (proj, out) and ``fc.bias``.
* backbone_layers = 0: no backbone at all and the heads read cat(x, h) directly
  (width input_size + units); backbone_units is then ignored (still resolved to
  128 when not given). backbone_units = 0 with backbone_layers >= 1 is accepted:
  the backbone output is empty, the head weights have shape (units, 0), and the
  new state depends on the head biases only (which torch initialises to zero
  there, since fan_in = 0).
* WiredCfCCell: every wiring layer is a CfCCell without backbone (lecun_tanh,
  unused). The sparsity mask multiplies the ff1 and ff2 weights only (not time_a,
  time_b); its first in_l columns are |sensory_adjacency[:, layer]| (l = 0) or
  |adjacency[previous layer, layer]|, its last n_l columns are all ones, whatever
  the wiring says about connections inside the layer (and feedback connections
  between layers are not used). The state is the layer states concatenated in
  layer order (NCP: inter, command, motor; not neuron-id order); the output is the
  last layer's new state. So for single-layer wirings (FullyConnected, Random) the
  output is the full state, units wide, even when output_dim < units, and CfC's
  proj_size then fails (its fc is built for output_dim inputs).
* Initialisation: xavier_uniform_ on every 2-D trainable parameter, including
  w_tau and A (so they do not start at 0 and 1); Linear biases keep torch's
  default; LSTM input bias U(-0.1, 0.1), recurrent weight orthogonal.
* Timespans: CfC.forward multiplies ``timespans[:, t].squeeze()`` into (B, units)
  tensors, which works at batch 1, raises for batch > 1, and broadcasts along the
  unit axis (silently wrong) when batch == units. This script therefore feeds
  timespans through CfC.forward at batch 1 only; at batch > 1 it steps the
  reference's own modules (lstm, rnn_cell, fc) in a loop with ``ts[:, t:t+1]``
  (shape (B, 1)), which the cells broadcast per sample. Without timespans the
  reference uses ts = 1.0.
* ``module.double()`` converts the sparsity masks too (float64 state_dict).

Output (default ``tests_go/testdata/cfc``): ``manifest.json`` and one
``<name>.npz`` per fixture, in the format described in the project's CfC fixture
plan: ``param/<key>`` for every state_dict entry, ``x``, ``ts``, ``h0``, ``c0``,
``y``, ``h``, ``c``, ``gy``, ``gh``, ``gc``, ``grad/<key>`` for every trainable
entry, ``gx``, ``gh0``, ``gc0``, and for wired fixtures ``adjacency``,
``sensory_adjacency`` (int32) and ``layer_<l>`` (int64 neuron ids). All arrays
are batch-major (B, T, ...), also for fixtures whose reference was called
time-major. The loss whose gradients are stored is
sum(y * gy) + sum(h * gh) (+ sum(c * gc) with mixed memory).

Parameters keep the reference's own seeded initialisation; biases, w_tau and A
are then perturbed so that nothing is trivially zero. Every module runs in eval
mode. As a guard against driving the reference wrongly, each fixture's forward
values are re-computed by a small float64 NumPy model written from the facts
above (nothing it computes is written out), and the step-loop driver is checked
against CfC.forward wherever both apply.

Run from the repository root with the project virtualenv
(``$(bash scripts/venv.sh)/bin/python``)::

    python tests_py/gen_cfc_fixtures.py [--out-dir tests_go/testdata/cfc]

Everything runs on the CPU, seeded per fixture (from a CRC of its name); the npz
members carry fixed timestamps, so reruns reproduce the files byte for byte.
"""

import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""

import argparse
import importlib.metadata
import io
import json
import math
import pathlib
import re
import sys
import warnings
import zipfile
import zlib

import ncps.wirings
import numpy as np
import torch
from ncps.torch import CfC

torch.set_num_threads(1)
# backbone_units=0 fixtures initialise zero-element tensors, which torch warns about
warnings.filterwarnings("ignore", message="Initializing zero-element tensors")

GENERATOR = "tests_py/gen_cfc_fixtures.py"
DEFAULT_OUT = "tests_go/testdata/cfc"

MODES = ("default", "pure", "no_gate")
ACTIVATIONS = ("lecun_tanh", "tanh", "relu", "gelu", "silu")


# --------------------------------------------------------------------------
# The fixture plan
# --------------------------------------------------------------------------

def fc(units, output_dim=None, erev_init_seed=1111, self_connections=True):
    return {"class": "FullyConnected",
            "args": dict(units=units, output_dim=output_dim,
                         erev_init_seed=erev_init_seed,
                         self_connections=self_connections)}


def rnd(units, output_dim=None, sparsity_level=0.5, random_seed=1111):
    return {"class": "Random",
            "args": dict(units=units, output_dim=output_dim,
                         sparsity_level=sparsity_level, random_seed=random_seed)}


def ncp(inter, command, motor, sensory_fanout, inter_fanout, recurrent, motor_fanin,
        seed=22222):
    return {"class": "NCP",
            "args": dict(inter_neurons=inter, command_neurons=command,
                         motor_neurons=motor, sensory_fanout=sensory_fanout,
                         inter_fanout=inter_fanout,
                         recurrent_command_synapses=recurrent,
                         motor_fanin=motor_fanin, seed=seed)}


def auto(units, output_size, sparsity_level=0.5, seed=22222):
    return {"class": "AutoNCP",
            "args": dict(units=units, output_size=output_size,
                         sparsity_level=sparsity_level, seed=seed)}


# Arguments as passed to ncps.torch.CfC (None = not passed, the reference default).
BASE = dict(input_size=3, units=8, wiring=None, mode="default",
            activation="lecun_tanh", backbone_units=16, backbone_layers=1,
            backbone_dropout=None, mixed_memory=False, proj_size=None,
            return_sequences=True, batch_first=True, timespans="none",
            batch=3, steps=6, dtype="float32")


def case(name, **kw):
    unknown = set(kw) - set(BASE)
    assert not unknown, (name, unknown)
    spec = dict(BASE, name=name, **kw)
    if spec["wiring"] is not None:
        spec["units"] = None
        spec["backbone_units"] = spec["backbone_layers"] = None
    return spec


def plan():
    specs = []
    def add(name, **kw):
        specs.append(case(name, **kw))

    # plain CfC: every mode with every backbone activation
    for i, (mode, act) in enumerate((m, a) for m in MODES for a in ACTIVATIONS):
        add("p{:02d}_{}_{}".format(i, mode, act), mode=mode, activation=act,
            input_size=2 + i % 4, units=(4, 6, 8, 12, 16)[i % 5],
            backbone_units=(8, 12, 16, 24)[i % 4], batch=1 + (2 * i) % 5,
            steps=2 + (5 * i) % 11)

    # backbone shapes
    for i, mode in enumerate(MODES):
        add("bb_l0_" + mode, mode=mode, backbone_layers=0, backbone_units=None,
            units=6 + 2 * i, input_size=2 + i, batch=2 + i, steps=5)
    add("bb_l3_default_silu", backbone_layers=3, backbone_units=10,
        activation="silu", units=7, batch=2, steps=7)
    add("bb_l3_drop_no_gate", mode="no_gate", backbone_layers=3, backbone_units=8,
        backbone_dropout=0.25, activation="gelu", units=5, batch=3, steps=4)
    add("bb_l2_pure_relu", mode="pure", backbone_layers=2, backbone_units=12,
        activation="relu", units=6, batch=2, steps=5)
    add("bb_default128", backbone_units=None, backbone_layers=None, input_size=2,
        units=4, batch=2, steps=3)
    add("bb_bu0_default", backbone_units=0, backbone_layers=1, units=4, batch=2,
        steps=3)

    # wired CfC: every wiring class in every mode
    wirings = {
        "fc": (fc(8), fc(6, output_dim=2), fc(10, self_connections=False)),
        "rnd": (rnd(10, output_dim=4, random_seed=7), rnd(12, random_seed=2024),
                rnd(8, output_dim=3, random_seed=99)),
        "ncp": (ncp(6, 4, 2, 3, 2, 3, 2, seed=22222), ncp(5, 3, 3, 2, 2, 2, 2, seed=5),
                ncp(8, 5, 2, 4, 3, 4, 3, seed=31)),
        "auto": (auto(12, 2, seed=22222), auto(16, 3, seed=9), auto(20, 4, seed=1234)),
    }
    for k, (key, ws) in enumerate(wirings.items()):
        for i, mode in enumerate(MODES):
            add("w_{}_{}".format(key, mode), wiring=ws[i], mode=mode,
                input_size=(3, 4, 2, 5)[(i + k) % 4], batch=1 + (i + 2 * k) % 4,
                steps=3 + (3 * i + k) % 8)

    # mixed memory
    add("mx_plain_default", mixed_memory=True, units=8, batch=3, steps=8)
    add("mx_plain_pure_proj", mixed_memory=True, mode="pure", proj_size=3,
        activation="tanh", units=6, batch=2, steps=5)
    add("mx_w_ncp_no_gate", mixed_memory=True, mode="no_gate",
        wiring=ncp(5, 4, 2, 2, 2, 2, 2, seed=3), batch=3, steps=6)
    add("mx_w_rnd_default_proj", mixed_memory=True, proj_size=2,
        wiring=rnd(9, random_seed=11), batch=2, steps=5)

    # projection and return_sequences=False
    add("pj_plain_no_gate_last", mode="no_gate", proj_size=4, return_sequences=False,
        activation="relu", units=10, batch=4, steps=7)
    add("pj_w_ncp_pure", mode="pure", proj_size=3, wiring=ncp(6, 4, 3, 3, 2, 3, 2,
                                                             seed=8), batch=2, steps=6)
    add("pj_w_fc_default", proj_size=2, wiring=fc(7), batch=3, steps=4)
    add("rs_plain_pure_last", mode="pure", return_sequences=False, units=8, batch=5,
        steps=9)
    add("rs_w_auto_no_gate_last", mode="no_gate", return_sequences=False,
        wiring=auto(14, 3, seed=77), batch=2, steps=6)

    # time-major calls (arrays stored batch-major)
    add("tm_plain_default", batch_first=False, units=8, batch=4, steps=6)
    add("tm_plain_mx_proj_silu", batch_first=False, mixed_memory=True, proj_size=3,
        activation="silu", units=6, batch=2, steps=5)
    add("tm_w_ncp_ts_b1", batch_first=False, timespans="per_step",
        wiring=ncp(4, 3, 2, 2, 2, 2, 2, seed=12), batch=1, steps=7)

    # timespans through CfC.forward (batch 1)
    for i, mode in enumerate(MODES):
        add("ts1_plain_" + mode, mode=mode, timespans="per_step", batch=1,
            steps=8 + i, units=6 + 3 * i, activation=ACTIVATIONS[i + 1])
    add("ts1_w_rnd_default", timespans="per_step", wiring=rnd(10, output_dim=3,
                                                              random_seed=5),
        batch=1, steps=9)
    add("ts1_mx_plain_no_gate", timespans="per_step", mixed_memory=True,
        mode="no_gate", batch=1, steps=10, units=5)

    # timespans at batch > 1 (step loop over the reference's modules)
    for i, mode in enumerate(MODES):
        add("tsb_plain_" + mode, mode=mode, timespans="per_step", batch=3 + i,
            steps=6 + 2 * i, units=(8, 5, 7)[i], activation=ACTIVATIONS[(i + 3) % 5])
    add("tsb_w_ncp_default", timespans="per_step", wiring=ncp(6, 4, 2, 3, 2, 3, 2,
                                                              seed=44),
        batch=4, steps=8)
    add("tsb_w_fc_pure", timespans="per_step", mode="pure", wiring=fc(6, output_dim=6),
        batch=3, steps=5)
    add("tsb_mx_proj_last", timespans="per_step", mixed_memory=True, proj_size=2,
        return_sequences=False, units=6, batch=4, steps=7)

    # a single step at batch 1
    add("one_plain_default", batch=1, steps=1, units=5)
    add("one_w_auto_pure", mode="pure", wiring=auto(10, 2, seed=4), batch=1, steps=1)

    # float64
    add("f64_plain_default_tanh", dtype="float64", activation="tanh", units=8,
        batch=3, steps=6)
    add("f64_plain_pure_tsb", dtype="float64", mode="pure", timespans="per_step",
        units=6, batch=3, steps=5)
    add("f64_w_ncp_mx_proj", dtype="float64", mixed_memory=True, proj_size=2,
        wiring=ncp(5, 4, 2, 2, 2, 2, 2, seed=21), batch=2, steps=6)
    add("f64_w_rnd_no_gate_ts1", dtype="float64", mode="no_gate",
        timespans="per_step", wiring=rnd(8, output_dim=2, random_seed=3),
        batch=1, steps=7)

    names = [s["name"] for s in specs]
    assert len(set(names)) == len(names), "fixture names must be unique"
    _check_coverage(specs)
    return specs


def _check_coverage(specs):
    """Fail loudly if an edit to the plan drops a case the fixture brief asks for."""
    plain = [s for s in specs if s["wiring"] is None]
    wired = [s for s in specs if s["wiring"] is not None]
    assert {(s["mode"], s["activation"]) for s in plain} >= {
        (m, a) for m in MODES for a in ACTIVATIONS}
    assert {(s["wiring"]["class"], s["mode"]) for s in wired} >= {
        (c, m) for c in ("FullyConnected", "Random", "NCP", "AutoNCP") for m in MODES}
    assert {s["backbone_layers"] for s in plain} >= {0, 1, 3, None}
    for group in (plain, wired):
        for key in ("mixed_memory", "return_sequences", "batch_first"):
            assert {s[key] for s in group} == {False, True}, key
        assert {s["proj_size"] is None for s in group} == {False, True}
        assert {s["dtype"] for s in group} == {"float32", "float64"}
        ts = {(s["timespans"], s["batch"] > 1) for s in group}
        assert {("per_step", False), ("per_step", True)} <= ts
    assert any(s["batch"] == 1 and s["steps"] == 1 for s in specs)
    for s in specs:
        assert 1 <= s["batch"] <= 5 and 1 <= s["steps"] <= 12, s["name"]
        assert s["wiring"] is not None or s["units"] <= 32, s["name"]
        # None is the reference default of 128, used by one small fixture
        assert s["backbone_units"] is None or s["backbone_units"] <= 24, s["name"]


# --------------------------------------------------------------------------
# Building and driving the reference
# --------------------------------------------------------------------------

def tdtype(spec):
    return torch.float64 if spec["dtype"] == "float64" else torch.float32


def make_wiring(spec):
    w = spec["wiring"]
    return getattr(ncps.wirings, w["class"])(**w["args"])


def build_module(spec, seed):
    """The reference CfC for a spec, seeded, in eval mode, in the spec's dtype."""
    torch.manual_seed(seed)
    common = dict(proj_size=spec["proj_size"],
                  return_sequences=spec["return_sequences"],
                  batch_first=spec["batch_first"],
                  mixed_memory=spec["mixed_memory"], mode=spec["mode"],
                  activation=spec["activation"])
    if spec["wiring"] is not None:
        wiring = make_wiring(spec)
        module = CfC(spec["input_size"], wiring, **common)
    else:
        wiring = None
        backbone = {k: spec[k] for k in ("backbone_units", "backbone_layers",
                                         "backbone_dropout") if spec[k] is not None}
        module = CfC(spec["input_size"], spec["units"], **common, **backbone)
    if spec["dtype"] == "float64":
        module = module.double()
    module.eval()
    return module, wiring


def perturb(module, rng):
    """Move biases, w_tau and A away from their initial values (seeded)."""
    with torch.no_grad():
        for key, p in module.named_parameters():
            leaf = key.rsplit(".", 1)[-1]
            if leaf in ("bias", "w_tau", "A") and p.numel():
                noise = rng.normal(0.0, 0.4, size=tuple(p.shape))
                p.add_(torch.from_numpy(noise).to(p.dtype))


def trainable_keys(module):
    return [k for k, v in module.state_dict(keep_vars=True).items() if v.requires_grad]


def drive(spec, module, data, use_forward):
    """Run the reference on data; return (y, h, c) batch-major tensors.

    use_forward: call CfC.forward (reference layout per batch_first); otherwise
    step module.lstm / rnn_cell / fc in a loop with per-sample ts of shape (B, 1),
    the way CfC.forward would if it did not squeeze the timespans.
    """
    x, h0, c0, ts = data["x"], data["h0"], data.get("c0"), data.get("ts")
    if use_forward:
        xin = x if spec["batch_first"] else x.transpose(0, 1)
        tsin = None
        if ts is not None:
            tsin = ts if spec["batch_first"] else ts.transpose(0, 1)
        hx = (h0, c0) if spec["mixed_memory"] else h0
        y, hx = module(xin, hx, timespans=tsin)
        if spec["return_sequences"] and not spec["batch_first"]:
            y = y.transpose(0, 1)
        h, c = hx if spec["mixed_memory"] else (hx, None)
        return y, h, c
    h, c = h0, c0
    ys = []
    for t in range(spec["steps"]):
        xt = x[:, t]
        tt = 1.0 if ts is None else ts[:, t:t + 1]
        if spec["mixed_memory"]:
            h, c = module.lstm(xt, (h, c))
        out, h = module.rnn_cell(xt, h, tt)
        ys.append(module.fc(out))
    y = torch.stack(ys, dim=1) if spec["return_sequences"] else ys[-1]
    return y, h, c


def uses_forward(spec):
    return spec["timespans"] == "none" or spec["batch"] == 1


def make_data(spec, module, rng):
    B, T, S = spec["batch"], spec["steps"], spec["input_size"]
    U = module.state_size
    data = {"x": rng.normal(0.0, 1.0, size=(B, T, S)),
            "h0": rng.normal(0.0, 0.5, size=(B, U))}
    if spec["mixed_memory"]:
        data["c0"] = rng.normal(0.0, 0.5, size=(B, U))
    if spec["timespans"] == "per_step":
        data["ts"] = rng.uniform(0.2, 2.0, size=(B, T))
    dt = np.float64 if spec["dtype"] == "float64" else np.float32
    return {k: v.astype(dt) for k, v in data.items()}


def run_reference(spec, module, arrays, rng=None, upstream=None):
    """Forward and autograd gradients. Returns a dict of numpy arrays.

    upstream: gy/gh/gc to use; drawn from rng (after the forward pass, when the
    output shapes are known) when not given.
    """
    dt = tdtype(spec)
    data = {k: torch.tensor(arrays[k], dtype=dt, requires_grad=k != "ts")
            for k in ("x", "h0", "c0", "ts") if k in arrays}
    keys = trainable_keys(module)
    sd = module.state_dict(keep_vars=True)
    y, h, c = drive(spec, module, data, uses_forward(spec))
    if upstream is None:
        npdt = np.float64 if spec["dtype"] == "float64" else np.float32
        upstream = {"gy": rng.normal(0.0, 1.0, size=tuple(y.shape)).astype(npdt),
                    "gh": rng.normal(0.0, 1.0, size=tuple(h.shape)).astype(npdt)}
        if c is not None:
            upstream["gc"] = rng.normal(0.0, 1.0, size=tuple(c.shape)).astype(npdt)
    g = {k: torch.tensor(v, dtype=dt) for k, v in upstream.items()}
    loss = (y * g["gy"]).sum() + (h * g["gh"]).sum()
    if c is not None:
        loss = loss + (c * g["gc"]).sum()
    inputs = ["x", "h0"] + (["c0"] if c is not None else [])
    leaves = [sd[k] for k in keys] + [data[k] for k in inputs]
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    grads = [torch.zeros_like(li) if gr is None else gr for li, gr in zip(leaves, grads)]
    out = dict(upstream)
    out["y"], out["h"] = y.detach().numpy(), h.detach().numpy()
    if c is not None:
        out["c"] = c.detach().numpy()
    for k, gr in zip(keys, grads):
        out["grad/" + k] = gr.numpy()
    for k, gr in zip(("gx", "gh0", "gc0"), grads[len(keys):]):
        out[k] = gr.numpy()
    return out


# --------------------------------------------------------------------------
# Expected state_dict layout (the key patterns in the docstring, as code)
# --------------------------------------------------------------------------

def backbone_linear_indices(layers, dropout):
    """Sequential indices of the backbone's Linear layers."""
    idx, pos = [], 0
    for i in range(layers):
        idx.append(pos)
        pos += 2  # Linear, activation
        if i > 0 and dropout > 0.0:
            pos += 1  # Dropout after every Linear but the first
    return idx


def head_shapes(prefix, mode, units, width):
    if mode == "pure":
        heads = {prefix + "ff1.weight": (units, width), prefix + "ff1.bias": (units,),
                 prefix + "w_tau": (1, units), prefix + "A": (1, units)}
    else:
        heads = {}
        for name in ("ff1", "ff2", "time_a", "time_b"):
            heads[prefix + name + ".weight"] = (units, width)
            heads[prefix + name + ".bias"] = (units,)
    return heads


def expected_state_dict(spec, resolved, layer_sizes):
    """Map key -> (shape, trainable) of the reference module's state_dict."""
    out = {}
    S = spec["input_size"]
    if spec["wiring"] is None:
        U, bu, bl = resolved["units"], resolved["backbone_units"], \
            resolved["backbone_layers"]
        width = S + U
        for n, i in enumerate(backbone_linear_indices(bl, resolved["backbone_dropout"])):
            key = "rnn_cell.backbone.{}.".format(i)
            out[key + "weight"] = ((bu, S + U if n == 0 else bu), True)
            out[key + "bias"] = ((bu,), True)
            width = bu
        for k, shape in head_shapes("rnn_cell.", spec["mode"], U, width).items():
            out[k] = (shape, True)
    else:
        U = sum(layer_sizes)
        fan_in = S
        for li, n in enumerate(layer_sizes):
            prefix = "rnn_cell.layer_{}.".format(li)
            out[prefix + "sparsity_mask"] = ((n, fan_in + n), False)
            for k, shape in head_shapes(prefix, spec["mode"], n, fan_in + n).items():
                out[k] = (shape, True)
            fan_in = n
    if spec["mixed_memory"]:
        out["lstm.input_map.weight"] = ((4 * U, S), True)
        out["lstm.input_map.bias"] = ((4 * U,), True)
        out["lstm.recurrent_map.weight"] = ((4 * U, U), True)
    if spec["proj_size"] is not None:
        width = layer_sizes[-1] if layer_sizes else U
        out["fc.weight"] = ((spec["proj_size"], width), True)
        out["fc.bias"] = ((spec["proj_size"],), True)
    return out


def check_state_dict(spec, module, resolved, layer_sizes):
    want = expected_state_dict(spec, resolved, layer_sizes)
    got = {k: (tuple(v.shape), v.requires_grad)
           for k, v in module.state_dict(keep_vars=True).items()}
    assert got == want, (spec["name"], sorted(set(got.items()) ^ set(want.items())))


# --------------------------------------------------------------------------
# Independent float64 NumPy model of the forward pass (a check only)
# --------------------------------------------------------------------------

def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


_ERF = np.vectorize(math.erf)

NP_ACT = {
    "lecun_tanh": lambda z: 1.7159 * np.tanh(0.666 * z),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "gelu": lambda z: 0.5 * z * (1.0 + _ERF(z / math.sqrt(2.0))),
    "silu": lambda z: z * _sigmoid(z),
}


def np_cell(p, prefix, mode, act, x, h, ts, mask=None):
    z = np.concatenate([x, h], axis=1)
    idx = sorted(int(m.group(1)) for k in p
                 for m in [re.fullmatch(re.escape(prefix) + r"backbone\.(\d+)\.weight", k)]
                 if m)
    for i in idx:
        W, b = p["{}backbone.{}.weight".format(prefix, i)], \
            p["{}backbone.{}.bias".format(prefix, i)]
        z = NP_ACT[act](z @ W.T + b)
    W1 = p[prefix + "ff1.weight"] * (1.0 if mask is None else mask)
    ff1 = z @ W1.T + p[prefix + "ff1.bias"]
    if mode == "pure":
        A, wt = p[prefix + "A"], p[prefix + "w_tau"]
        return -A * np.exp(-ts * (np.abs(wt) + np.abs(ff1))) * ff1 + A
    W2 = p[prefix + "ff2.weight"] * (1.0 if mask is None else mask)
    ff2 = np.tanh(z @ W2.T + p[prefix + "ff2.bias"])
    ff1 = np.tanh(ff1)
    ta = z @ p[prefix + "time_a.weight"].T + p[prefix + "time_a.bias"]
    tb = z @ p[prefix + "time_b.weight"].T + p[prefix + "time_b.bias"]
    gate = _sigmoid(ta * ts + tb)
    if mode == "no_gate":
        return ff1 + gate * ff2
    return ff1 * (1.0 - gate) + gate * ff2


def np_masks(adj, sens, layers):
    """The per-layer masks the facts above describe, (n_l, in_l + n_l)."""
    masks = []
    for li, ids in enumerate(layers):
        src = sens[:, ids] if li == 0 else adj[np.ix_(layers[li - 1], ids)]
        masks.append(np.abs(np.concatenate([src, np.ones((len(ids), len(ids)))])).T)
    return masks


def np_forward(spec, a, layers):
    def f(v):
        return np.asarray(v, dtype=np.float64)
    p = {k[len("param/"):]: f(v) for k, v in a.items() if k.startswith("param/")}
    x, h = f(a["x"]), f(a["h0"])
    c = f(a["c0"]) if "c0" in a else None
    ts = f(a["ts"]) if "ts" in a else None
    masks = None
    if layers is not None:
        masks = np_masks(a["adjacency"], a["sensory_adjacency"], layers)
        for li, m in enumerate(masks):
            assert np.array_equal(m, p["rnn_cell.layer_{}.sparsity_mask".format(li)]), li
    ys = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        tt = 1.0 if ts is None else ts[:, t:t + 1]
        if c is not None:
            z = xt @ p["lstm.input_map.weight"].T + p["lstm.input_map.bias"] \
                + h @ p["lstm.recurrent_map.weight"].T
            i, ig, fg, og = np.split(z, 4, axis=1)
            c = c * _sigmoid(fg + 1.0) + np.tanh(i) * _sigmoid(ig)
            h = np.tanh(c) * _sigmoid(og)
        if layers is None:
            h = np_cell(p, "rnn_cell.", spec["mode"], spec["activation"], xt, h, tt)
            out = h
        else:
            inp, parts, start = xt, [], 0
            for li, ids in enumerate(layers):
                hl = h[:, start:start + len(ids)]
                start += len(ids)
                inp = np_cell(p, "rnn_cell.layer_{}.".format(li), spec["mode"],
                              "lecun_tanh", inp, hl, tt, masks[li])
                parts.append(inp)
            h = np.concatenate(parts, axis=1)
            out = inp
        if "fc.weight" in p:
            out = out @ p["fc.weight"].T + p["fc.bias"]
        ys.append(out)
    y = np.stack(ys, axis=1) if spec["return_sequences"] else ys[-1]
    return y, h, c


def check_against_model(spec, arrays, layers):
    y, h, c = np_forward(spec, arrays, layers)
    rtol, atol = (2e-4, 2e-5) if spec["dtype"] == "float32" else (1e-10, 1e-12)
    worst = 0.0
    for key, want in (("y", y), ("h", h), ("c", c)):
        if want is None:
            continue
        got = np.asarray(arrays[key], dtype=np.float64)
        assert got.shape == want.shape, (spec["name"], key, got.shape, want.shape)
        assert np.allclose(got, want, rtol=rtol, atol=atol), (
            spec["name"], key, np.max(np.abs(got - want)))
        worst = max(worst, float(np.max(np.abs(got - want))))
    return worst


def check_gradients(spec, arrays, rng):
    """Directional central differences of the model's loss against the reference's
    gradients; returns the largest normalised discrepancy."""
    def f(v):
        return np.asarray(v, dtype=np.float64)
    base = {k: f(v) if v.dtype.kind == "f" else v for k, v in arrays.items()}

    def loss(a):
        y, h, c = np_forward(spec, a, layers_of(a))
        out = np.sum(y * a["gy"]) + np.sum(h * a["gh"])
        return out + (np.sum(c * a["gc"]) if c is not None else 0.0)

    targets = {"gx": "x", "gh0": "h0", "gc0": "c0"}
    gtol = 3e-3 if spec["dtype"] == "float32" else 1e-7
    worst = 0.0
    for key in sorted(k for k in arrays if k.startswith("grad/") or k in targets):
        target = targets.get(key) or "param/" + key[len("grad/"):]
        g = base[key]
        if not g.size:
            continue
        d = rng.standard_normal(g.shape)
        step = 1e-5

        def shifted(sgn, target=target, d=d, step=step):
            a = dict(base)
            a[target] = base[target] + sgn * step * d
            return loss(a)

        fd = (shifted(1.0) - shifted(-1.0)) / (2 * step)
        an = float(np.sum(g * d))
        err = abs(fd - an) / (np.sum(np.abs(g * d)) + 1e-8)
        assert err < gtol, (spec["name"], key, fd, an, err)
        worst = max(worst, err)
    return worst


def layers_of(arrays):
    n = sum(1 for k in arrays if k.startswith("layer_"))
    return [list(arrays["layer_{}".format(li)]) for li in range(n)] if n else None


# --------------------------------------------------------------------------
# Reference facts checked once per run
# --------------------------------------------------------------------------

def verify_reference_facts():
    """Check the behaviours the docstring states; return them for the manifest."""
    torch.manual_seed(0)
    x = torch.randn(2, 4, 3)

    # single-layer wiring: output is the whole state; proj_size then fails
    m = CfC(3, ncps.wirings.FullyConnected(8, output_dim=3)).eval()
    y, h = m(x)
    assert m.output_size == 3 and y.shape == (2, 4, 8)
    assert torch.equal(y[:, -1], h)
    m = CfC(3, ncps.wirings.FullyConnected(8, output_dim=3), proj_size=2).eval()
    try:
        m(x)
        raise AssertionError("proj_size with output_dim < units unexpectedly worked")
    except RuntimeError:
        pass

    # multi-layer wiring: the output is the tail of the state (last layer)
    w = ncps.wirings.NCP(4, 3, 2, 2, 2, 2, 2, seed=1)
    m = CfC(3, w).eval()
    y, h = m(x)
    assert m.rnn_cell.layer_sizes == [4, 3, 2] and torch.equal(y[:, -1], h[:, -2:])
    assert w.get_neurons_of_layer(2) == [0, 1]  # motor neurons come first by id

    # backbone_layers = 0: no backbone, backbone_units ignored
    m = CfC(3, 5, backbone_layers=0)
    assert m.rnn_cell.backbone is None and m.rnn_cell.ff1.weight.shape == (5, 8)

    # backbone_units = 0: empty backbone, heads depend on their biases only
    m = CfC(3, 5, backbone_units=0).eval()
    assert m.rnn_cell.ff1.weight.shape == (5, 0)
    assert not m.rnn_cell.ff1.bias.abs().sum()
    y, _ = m(x)
    assert not y.abs().sum()

    # w_tau and A are xavier-initialised like the weights
    m = CfC(3, 5, mode="pure")
    assert m.rnn_cell.w_tau.abs().sum() > 0 and not torch.all(m.rnn_cell.A == 1)

    # timespans at batch > 1 through CfC.forward
    m = CfC(3, 5, backbone_units=6).eval()
    try:
        m(torch.randn(2, 4, 3), timespans=torch.rand(2, 4))
        raise AssertionError("batch-2 timespans unexpectedly worked")
    except RuntimeError:
        pass
    xb, tb = torch.randn(5, 4, 3), torch.rand(5, 4) + 0.2
    h0 = torch.zeros(5, 5)
    y_fwd, _ = m(xb, h0, timespans=tb)  # batch == units: broadcasts along units
    spec = dict(BASE, steps=4, timespans="per_step")
    y_loop, _, _ = drive(spec, m, {"x": xb, "h0": h0, "ts": tb}, use_forward=False)
    assert not torch.allclose(y_fwd, y_loop)

    # double() converts the masks too
    m = CfC(3, ncps.wirings.Random(6, sparsity_level=0.5)).double()
    assert m.rnn_cell.layer_0.sparsity_mask.dtype == torch.float64

    return {
        "state_dict_keys": {
            "plain": ["rnn_cell.backbone.<i>.weight (bu, in+units | bu)",
                      "rnn_cell.backbone.<i>.bias (bu)",
                      "rnn_cell.{ff1,ff2,time_a,time_b}.weight (units, width)",
                      "rnn_cell.{ff1,ff2,time_a,time_b}.bias (units)",
                      "pure: rnn_cell.ff1.*, rnn_cell.w_tau (1, units), "
                      "rnn_cell.A (1, units)"],
            "backbone_index": "Linear layers at Sequential indices 0, 2, 4, ... "
                              "(backbone_dropout == 0) or 0, 2, 5, 8, ... (> 0)",
            "wired": ["rnn_cell.layer_<l>.sparsity_mask (n_l, in_l + n_l), "
                      "not trainable",
                      "rnn_cell.layer_<l>.{ff1,ff2,time_a,time_b}.weight "
                      "(n_l, in_l + n_l)",
                      "rnn_cell.layer_<l>.{ff1,ff2,time_a,time_b}.bias (n_l)",
                      "pure: rnn_cell.layer_<l>.ff1.*, .w_tau (1, n_l), .A (1, n_l)"],
            "mixed_memory": ["lstm.input_map.weight (4S, input_size)",
                             "lstm.input_map.bias (4S)",
                             "lstm.recurrent_map.weight (4S, S)"],
            "proj_size": ["fc.weight (proj, out)", "fc.bias (proj)"],
        },
        "notes": [
            "backbone_layers == 0: no backbone; heads read cat(x, h) "
            "(input first); backbone_units is ignored",
            "backbone_units == 0 with backbone_layers >= 1: accepted; heads have "
            "shape (units, 0) and zero-initialised biases",
            "wired: sparsity_mask multiplies ff1 and ff2 weights only; its last n_l "
            "columns are ones; state = layer states in layer order; output = last "
            "layer's state (the whole state for single-layer wirings, whatever "
            "output_dim says; proj_size then fails in the reference)",
            "w_tau and A are xavier_uniform initialised",
            "CfC.forward timespans work at batch 1 only; batch > 1 fixtures step "
            "the reference's lstm, rnn_cell and fc with ts[:, t:t+1]",
            "eval mode throughout; dropout modules are identities",
        ],
    }


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
    out = {d: importlib.metadata.version(d) for d in ("ncps", "torch", "numpy")}
    out["python"] = "{}.{}.{}".format(*sys.version_info[:3])
    return out


def build_fixture(spec):
    seed = zlib.crc32(spec["name"].encode()) & 0x7FFFFFFF
    rng = np.random.default_rng(seed)
    module, wiring = build_module(spec, seed)
    perturb(module, rng)
    cell = module.rnn_cell
    layer_sizes = cell.layer_sizes if wiring is not None else None
    if wiring is not None:
        # every wiring layer is a CfCCell without backbone
        resolved = dict(units=module.state_size, backbone_units=0, backbone_layers=0,
                        backbone_dropout=0.0)
    else:
        # what CfC resolves its None arguments to
        def pick(key, default):
            return default if spec[key] is None else spec[key]
        resolved = dict(units=module.state_size,
                        backbone_units=pick("backbone_units", 128),
                        backbone_layers=pick("backbone_layers", 1),
                        backbone_dropout=pick("backbone_dropout", 0.0))
        assert cell.backbone_layers == resolved["backbone_layers"]
    check_state_dict(spec, module, resolved, layer_sizes)

    arrays = make_data(spec, module, rng)
    res = run_reference(spec, module, arrays, rng=rng)
    arrays.update(res)
    for k, v in module.state_dict().items():
        arrays["param/" + k] = v.numpy().copy()
    layers = None
    if wiring is not None:
        arrays["adjacency"] = np.asarray(wiring.adjacency_matrix, dtype=np.int32)
        arrays["sensory_adjacency"] = np.asarray(wiring.sensory_adjacency_matrix,
                                                 dtype=np.int32)
        layers = [list(wiring.get_neurons_of_layer(li)) for li in range(wiring.num_layers)]
        for li, ids in enumerate(layers):
            arrays["layer_{}".format(li)] = np.asarray(ids, dtype=np.int64)
        assert [len(ids) for ids in layers] == layer_sizes

    # dtypes and shapes
    dt = np.float64 if spec["dtype"] == "float64" else np.float32
    for k, v in arrays.items():
        if not (k.startswith("layer_") or k.endswith("adjacency")):
            assert v.dtype == dt, (spec["name"], k, v.dtype)
    B, T, U = spec["batch"], spec["steps"], module.state_size
    out_width = layer_sizes[-1] if wiring is not None else U
    y_width = spec["proj_size"] or out_width
    want_y = (B, T, y_width) if spec["return_sequences"] else (B, y_width)
    assert arrays["y"].shape == want_y and arrays["h"].shape == (B, U), spec["name"]
    assert ("c" in arrays) == spec["mixed_memory"]

    # the step-loop driver agrees with CfC.forward where both apply
    if spec["timespans"] == "none" or spec["batch"] == 1:
        data = {k: torch.tensor(arrays[k]) for k in ("x", "h0", "c0", "ts")
                if k in arrays}
        with torch.no_grad():
            y2, h2, _ = drive(spec, module, data, use_forward=False)
        tol = 1e-6 if dt == np.float32 else 1e-13
        assert np.allclose(y2.numpy(), arrays["y"], rtol=tol, atol=tol), spec["name"]
        assert np.allclose(h2.numpy(), arrays["h"], rtol=tol, atol=tol), spec["name"]

    worst = (check_against_model(spec, arrays, layers),
             check_gradients(spec, arrays, np.random.default_rng(seed + 1)))
    return arrays, resolved, layer_sizes, out_width, worst


def manifest_entry(spec, resolved, layer_sizes, out_width):
    entry = {
        "name": spec["name"],
        "input_size": spec["input_size"],
        "units": resolved["units"],
        "wiring": spec["wiring"],
        "mode": spec["mode"],
        "activation": spec["activation"],
        "backbone_units": resolved["backbone_units"],
        "backbone_layers": resolved["backbone_layers"],
        "backbone_dropout": resolved["backbone_dropout"],
        "mixed_memory": spec["mixed_memory"],
        "proj_size": spec["proj_size"],
        "return_sequences": spec["return_sequences"],
        "batch_first": spec["batch_first"],
        "timespans": spec["timespans"],
        "batch": spec["batch"],
        "steps": spec["steps"],
        "dtype": spec["dtype"],
        "state_size": resolved["units"],
        "output_size": out_width,
        "driver": "CfC.forward" if uses_forward(spec) else "cell_loop",
    }
    if layer_sizes is not None:
        entry["layer_sizes"] = layer_sizes
    return entry


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=DEFAULT_OUT,
                        help="output directory (default %(default)s)")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)

    facts = verify_reference_facts()
    specs = plan()
    entries = []
    for spec in specs:
        arrays, resolved, layer_sizes, out_width, worst = build_fixture(spec)
        write_npz(out / (spec["name"] + ".npz"), arrays)
        entries.append(manifest_entry(spec, resolved, layer_sizes, out_width))
        print("{:26s} {:12s} y{!s:12s} model: forward max abs diff {:.1e},"
              " gradient diff {:.1e}".format(spec["name"], entries[-1]["driver"],
                                             arrays["y"].shape, *worst))

    keep = {spec["name"] + ".npz" for spec in specs}
    for stale in sorted(out.glob("*.npz")):
        if stale.name not in keep:
            stale.unlink()

    manifest = {"generator": GENERATOR, "versions": versions(), "facts": facts,
                "fixtures": entries}
    with open(out / "manifest.json", "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print("\n{} fixtures, {:.2f} MB in {}".format(len(entries), total / 1e6, out))


if __name__ == "__main__":
    main()
