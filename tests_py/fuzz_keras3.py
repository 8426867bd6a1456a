"""Randomized differential test: kerasncp_go.keras against ncps 1.0.1's ncps.keras.

Run with the test virtualenv (ncps 1.0.1, keras 3 and the backend's framework):

    KERAS_BACKEND=tensorflow python tests_py/fuzz_keras3.py --n 200 --seed 0

(KERAS_BACKEND = tensorflow, torch or jax; PYTHONPATH must reach python/.)
Not part of the pytest suite. Each configuration is drawn from --seed and its
index, so ``--only K`` reruns configuration K alone. It prints every failing
configuration and exits 1 when any failed.

What one configuration checks (ref = ncps.keras with ncps.wirings, go =
kerasncp_go.keras with kerasncp_go.wirings, built from the same arguments):

* kind "layer": LTC or CfC (units int or a FullyConnected / Random / NCP /
  AutoNCP wiring; CfC mode, activation, backbone; LTC ode_unfolds, epsilon,
  input/output mapping; mixed_memory, return_sequences, return_state,
  go_backwards, unroll, an optional initial state, an optional mask);
* kind "rnn": keras.layers.RNN around LTCCell / CfCCell / WiredCfCCell (or a
  MixedMemoryRNN around one of them);
* kind "steps": the cell called step by step with (x, elapsed) pairs (the
  irregular-time form: Keras 3's RNN itself rejects a pair of sequences, on
  both); ncps.keras's LTCCell drops the elapsed time (a documented reference
  bug) and its WiredCfCCell tests ``t == 1.0`` on a tensor (fails for batch >
  1), so those are compared against a reference subclass with the one line
  fixed;
* kind "config": get_config of go against ref's (wirings compared by their
  configs), and go's from_config round trip computes what the original does;
* kind "save": a Sequential model holding the go layer survives .keras
  save / load_model (same weights, same outputs).

For "layer", "rnn" and "steps": same weight names, shapes, order and
trainability; the wirings' matrices and the erev initial weights agree; the
ref's weights are perturbed (so every parameter matters) and copied into go;
then the flattened outputs agree within 1e-5 and the gradients of a random
linear functional of all outputs with respect to every trainable weight, the
input (and elapsed times, initial states) within 1e-4, both relative to
max(1, largest reference entry). When the reference raises, go must not raise
on the same arguments unless the failure is in the arguments themselves (then
go must raise too); when the reference cannot run at all (e.g. ncps.keras's
LTC gradients on JAX), go's results only have to be finite and well shaped.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import ncps.keras as R
import ncps.wirings as RW
import numpy as np

import kerasncp_go.keras as G
import kerasncp_go.wirings as GW

BACKEND = keras.backend.backend()
OUT_TOL = 1e-5
GRAD_TOL = 1e-4
SABOTAGE = False
ACTIVATIONS = ["lecun_tanh", "tanh", "relu", "gelu", "silu"]
NONNEG = {"gleak", "cm", "w", "sensory_w"}


class Mismatch(Exception):
    pass


class RefFailed(Exception):
    pass


# --------------------------------------------------------------------------- reference fixes

class FixedRefLTCCell(R.LTCCell):
    """ncps.keras.LTCCell with the irregular-mode bug fixed: it maps `inputs`,
    not the (inputs, elapsed) tuple (REFERENCE.md section 6, item 9)."""

    def call(self, sequence, states, training=False):
        if isinstance(sequence, (tuple, list)):
            inputs, elapsed_time = sequence
            elapsed_time = keras.ops.reshape(elapsed_time, [-1, 1])  # per-sample, as ncps.tf's LTCCell
        else:
            inputs, elapsed_time = sequence, 1.0
        inputs = self._map_inputs(inputs)
        next_state = self._ode_solver(inputs, states[0], elapsed_time)
        return self._map_outputs(next_state), [next_state]


class FixedRefWiredCfCCell(R.WiredCfCCell):
    """ncps.keras.WiredCfCCell whose call passes a tensor elapsed time to
    every layer (the reference tests ``t == 1.0`` on a tensor), and applies
    the ``time=`` keyword as ncps.keras's CfCCell does (the reference's
    WiredCfCCell ignores it; ours applies it, a documented difference: this
    is how a MixedMemoryRNN around the cell passes the keyword on)."""

    def call(self, inputs, states, **kwargs):
        from ncps.keras.wired_cfc_cell import split_tensor
        time_kw = None
        if isinstance(inputs, (tuple, list)):
            inputs, t = inputs
            t = keras.ops.reshape(t, [-1, 1])
        else:
            t = None
            time_kw = kwargs.get("time")
        states = split_tensor(states[0], self._layer_sizes, axis=-1)
        new_hiddens = []
        output = inputs
        for i, cfc_layer in enumerate(self._cfc_layers):
            if t is None and time_kw is not None:
                output, new_hidden = cfc_layer(output, [states[i]], time=time_kw)
            elif t is None:
                output, new_hidden = cfc_layer(output, [states[i]])
            else:
                output, new_hidden = cfc_layer((output, t), [states[i]])
            new_hiddens.append(new_hidden[0])
        if self.wiring.output_dim != output.shape[-1]:
            output = output[:, 0: self.wiring.output_dim]
        return output, keras.ops.concatenate(new_hiddens, axis=-1)


# --------------------------------------------------------------------------- drawing configurations

def draw_wiring(rng, input_size):
    kind = rng.choice(["FullyConnected", "Random", "NCP", "AutoNCP"])
    if kind == "FullyConnected":
        units = int(rng.integers(1, 13))
        kw = {"units": units}
        if rng.random() < 0.6:
            kw["output_dim"] = int(rng.integers(1, units + 1))
        if rng.random() < 0.3:
            kw["self_connections"] = bool(rng.random() < 0.5)
        if rng.random() < 0.5:
            kw["erev_init_seed"] = int(rng.integers(0, 10000))
    elif kind == "Random":
        units = int(rng.integers(2, 13))
        kw = {"units": units, "sparsity_level": float(rng.choice([0.0, 0.1, 0.3, 0.5, 0.7, 0.9]))}
        if rng.random() < 0.6:
            kw["output_dim"] = int(rng.integers(1, units + 1))
        if rng.random() < 0.5:
            kw["random_seed"] = int(rng.integers(0, 10000))
    elif kind == "NCP":
        inter, command, motor = (int(v) for v in rng.integers(1, 7, size=3))
        kw = {"inter_neurons": inter, "command_neurons": command, "motor_neurons": motor,
              "sensory_fanout": int(rng.integers(1, inter + 1)), "inter_fanout": int(rng.integers(1, command + 1)),
              "recurrent_command_synapses": int(rng.integers(0, 2 * command + 1)),
              "motor_fanin": int(rng.integers(1, command + 1))}
        if rng.random() < 0.5:
            kw["seed"] = int(rng.integers(0, 100000))
    else:
        units = int(rng.integers(4, 20))
        kw = {"units": units, "output_size": int(rng.integers(1, units - 2))}
        if rng.random() < 0.5:
            kw["sparsity_level"] = float(rng.choice([0.1, 0.3, 0.5, 0.7, 0.9]))
        if rng.random() < 0.5:
            kw["seed"] = int(rng.integers(0, 100000))
    return (str(kind), kw)


def draw(seed, index):
    rng = np.random.default_rng([seed, index])
    c = {"index": index}
    r = rng.random()
    c["kind"] = ("layer" if r < 0.5 else "rnn" if r < 0.7 else "steps" if r < 0.85 else
                 "config" if r < 0.94 else "save")
    c["family"] = str(rng.choice(["CfC", "LTC"], p=[0.6, 0.4]))
    c["batch"] = int(rng.integers(1, 9))
    c["steps"] = int(rng.integers(1, 11))
    c["input_size"] = int(rng.integers(1, 17))
    wired = c["family"] == "LTC" or rng.random() < 0.5
    c["units"] = draw_wiring(rng, c["input_size"]) if wired else int(rng.integers(1, 13))
    kw = {}
    if c["family"] == "CfC":
        if rng.random() < 0.6:
            kw["mode"] = str(rng.choice(["default", "pure", "no_gate"]))
        if rng.random() < 0.6:
            kw["activation"] = str(rng.choice(ACTIVATIONS))
        if not wired:
            if rng.random() < 0.7:
                kw["backbone_layers"] = int(rng.integers(0, 4))
            if rng.random() < 0.7:
                kw["backbone_units"] = int(rng.integers(1, 33))
            if rng.random() < 0.3:
                kw["backbone_dropout"] = 0.0
    else:
        if rng.random() < 0.5:
            kw["ode_unfolds"] = int(rng.integers(1, 9))
        if rng.random() < 0.3:
            kw["epsilon"] = float(rng.choice([1e-8, 1e-6, 1e-3, 0.1]))
        if rng.random() < 0.5:
            kw["input_mapping"] = [None, "affine", "linear"][int(rng.integers(0, 3))]
        if rng.random() < 0.5:
            kw["output_mapping"] = [None, "affine", "linear"][int(rng.integers(0, 3))]
    c["cell_kwargs"] = kw
    c["mixed_memory"] = bool(rng.random() < 0.2)
    c["return_sequences"] = bool(rng.random() < 0.6)
    c["return_state"] = bool(rng.random() < 0.5)
    c["go_backwards"] = bool(rng.random() < 0.3)
    c["unroll"] = bool(rng.random() < 0.1)
    c["initial_state"] = bool(rng.random() < 0.4)
    c["mask"] = bool(rng.random() < 0.08)
    c["elapsed"] = str(rng.choice(["ones", "random", "scalar1d", "kwarg"]))
    c["time_kwarg"] = float(rng.choice([0.25, 0.5, 1.0, 1.7]))
    c["data_seed"] = int(rng.integers(0, 2 ** 31))
    c["save_as"] = str(rng.choice(["layer", "rnn"]))
    return c


def wiring_pair(spec):
    if isinstance(spec, int):
        return spec, spec
    cls, kw = spec
    return getattr(RW, cls)(**kw), getattr(GW, cls)(**kw)


# --------------------------------------------------------------------------- building

def make_layer(mod, c, units, fixed_ref=False):
    """The layer/cell under test, from module `mod` (R or G)."""
    kw = dict(c["cell_kwargs"])
    rnn_kw = {k: c[k] for k in ("return_sequences", "return_state", "go_backwards", "unroll")}
    if c["kind"] in ("layer", "config", "save"):
        cls = mod.CfC if c["family"] == "CfC" else mod.LTC
        return cls(units, mixed_memory=c["mixed_memory"], **kw, **rnn_kw)
    cell = make_cell(mod, c, units, fixed_ref)
    if c["mixed_memory"]:
        cell = mod.MixedMemoryRNN(cell)
    if c["kind"] == "rnn":
        return keras.layers.RNN(cell, **rnn_kw)
    return cell


def make_cell(mod, c, units, fixed_ref=False):
    kw = dict(c["cell_kwargs"])
    if c["family"] == "LTC":
        cls = FixedRefLTCCell if (fixed_ref and mod is R) else mod.LTCCell
        return cls(units, **kw)
    if isinstance(units, int):
        kw.setdefault("backbone_dropout", 0.0)  # the cell's own default is 0.1 (dropout only in training)
        return mod.CfCCell(units, **kw)
    cls = FixedRefWiredCfCCell if (fixed_ref and mod is R) else mod.WiredCfCCell
    return cls(units, **kw)


def state_sizes(layer):
    cell = layer.cell if isinstance(layer, keras.layers.RNN) else layer
    s = cell.state_size
    return [int(v) for v in (s if isinstance(s, (list, tuple)) else [s])]


def make_data(c, layer):
    rng = np.random.default_rng(c["data_seed"])
    b, t, i = c["batch"], c["steps"], c["input_size"]
    d = {"x": rng.normal(size=(b, t, i)).astype(np.float32)}
    if c["elapsed"] == "ones":
        d["t"] = np.ones((b, t, 1), np.float32)
    elif c["elapsed"] == "random":
        d["t"] = rng.uniform(0.2, 2.5, size=(b, t, 1)).astype(np.float32)
    else:
        d["t"] = rng.uniform(0.2, 2.5, size=(b, t)).astype(np.float32)
    if c["kind"] == "steps" or c["initial_state"]:
        d["h0"] = [rng.normal(0, 0.5, size=(b, s)).astype(np.float32) for s in state_sizes(layer)]
    if c["mask"]:
        lens = rng.integers(1, t + 1, size=b)
        d["mask"] = np.arange(t)[None, :] < lens[:, None]
    return d


def caller(c, layer):
    """fn(*inputs) -> list of output tensors, and the names of the inputs."""
    if c["kind"] == "steps":
        n_state = len(state_sizes(layer))

        def fn(x, t, *h):
            h = list(h)
            if not c["mixed_memory"]:
                h = h[:1]
            outs = []
            for k in range(c["steps"]):
                if c["elapsed"] == "kwarg" and isinstance(layer, R.WiredCfCCell):
                    # documented: ncps.keras's WiredCfCCell ignores time= (ours applies it); the
                    # reference gets the same elapsed time as an (x, t) pair, which it honours
                    tk = keras.ops.full((keras.ops.shape(x)[0], 1), c["time_kwarg"], "float32")
                    y, h = layer((x[:, k], tk), h)
                elif c["elapsed"] == "kwarg":  # the `time=` keyword of ncps.keras's cells
                    y, h = layer(x[:, k], h, time=c["time_kwarg"])
                else:
                    y, h = layer((x[:, k], t[:, k]), h)
                h = list(h) if isinstance(h, (list, tuple)) else [h]
                outs.append(y)
            return [keras.ops.stack(outs, 1), *keras.tree.flatten(h)]
        return fn, ["x", "t"] + [f"h0[{i}]" for i in range(n_state)]

    names = ["x"] + ([f"h0[{i}]" for i in range(len(state_sizes(layer)))] if c["initial_state"] else [])
    mask = None

    def fn(x, *h):
        kw = {}
        if h:
            kw["initial_state"] = list(h)
        if c["mask"]:
            kw["mask"] = keras.ops.convert_to_tensor(fn.mask)
        out = layer(x, **kw)
        return keras.tree.flatten(out)
    fn.mask = mask
    return fn, names


def cotangent(i, shape, seed):
    return np.random.default_rng([seed, 7, i]).normal(size=tuple(int(s) for s in shape)).astype(np.float32)


def to_np(v):
    return np.asarray(keras.ops.convert_to_numpy(v))


def forward_and_grads(fn, variables, inputs, seed, grads=True):
    """(outputs, weight gradients, input gradients) as numpy lists."""
    if not grads:
        return [to_np(o) for o in fn(*[keras.ops.convert_to_tensor(a) for a in inputs])], None, None
    if BACKEND == "tensorflow":
        import tensorflow as tf
        xs = [tf.constant(a) for a in inputs]
        with tf.GradientTape() as tape:
            tape.watch(xs)
            outs = fn(*xs)
            loss = tf.add_n([tf.reduce_sum(tf.cast(o, tf.float32) * cotangent(i, o.shape, seed))
                             for i, o in enumerate(outs)])
        g = tape.gradient(loss, list(variables) + xs)
        g = [None if v is None else to_np(v) for v in g]
    elif BACKEND == "torch":
        import torch
        xs = [torch.tensor(a, requires_grad=True) for a in inputs]
        outs = fn(*xs)
        loss = sum((o * torch.tensor(cotangent(i, o.shape, seed))).sum() for i, o in enumerate(outs))
        g = torch.autograd.grad(loss, [w.value for w in variables] + xs, allow_unused=True)
        g = [None if v is None else v.detach().cpu().numpy() for v in g]
    else:
        import jax
        import jax.numpy as jnp
        tv = [jnp.asarray(to_np(w)) for w in variables]

        def loss_fn(tv, xs):
            with keras.StatelessScope(state_mapping=list(zip(variables, tv))):
                outs = fn(*xs)
            loss = sum(jnp.sum(o * cotangent(i, o.shape, seed)) for i, o in enumerate(outs))
            return loss, outs

        (_, outs), (gw, gx) = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)(
            tv, [jnp.asarray(a) for a in inputs])
        g = [np.asarray(v) for v in list(gw) + list(gx)]
    outs = [to_np(o) for o in outs]
    n = len(variables)
    gw = [np.zeros(tuple(w.shape), np.float32) if v is None else v for v, w in zip(g[:n], variables)]
    gx = [np.zeros(a.shape, np.float32) if v is None else v for v, a in zip(g[n:], inputs)]
    return outs, gw, gx


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return float("inf"), f"shape {got.shape}, want {want.shape}"
    if not np.all(np.isfinite(got)) or not np.all(np.isfinite(want)):
        same = np.array_equal(np.isfinite(got), np.isfinite(want)) and np.allclose(
            np.nan_to_num(got), np.nan_to_num(want))
        return (0.0 if same else float("inf")), "non-finite values"
    scale = max(1.0, float(np.abs(want).max()) if want.size else 1.0)
    return float(np.abs(got - want).max()) / scale if want.size else 0.0, ""


def close(got, want, tol, what, errors):
    err, note = rel_err(got, want)
    if err > tol:
        errors.append(f"{what}: max rel error {err:.3g} > {tol} {note}".rstrip())


def sane(values, what, errors):
    for i, v in enumerate(values):
        if not np.all(np.isfinite(v)):
            errors.append(f"{what}[{i}]: non-finite values")


def perturb(layer, seed):
    rng = np.random.default_rng([seed, 99])
    for w in layer.weights:
        name = w.path.split("/")[-1]
        v = to_np(w).astype(np.float32)
        v = v * rng.uniform(0.7, 1.3, v.shape) + rng.normal(0, 0.1, v.shape)
        if name in NONNEG:
            v = np.abs(v)
        w.assign(v.astype(np.float32))


def weight_names(layer):
    return [(w.path.split("/")[-1], tuple(int(s) for s in w.shape), bool(w.trainable)) for w in layer.weights]


def inner_wiring(layer):
    cell = layer.cell if isinstance(layer, keras.layers.RNN) else layer
    cell = getattr(cell, "rnn_cell", cell)
    return getattr(cell, "wiring", None)


def build(layer, c, d):
    """Builds by one forward call (no gradients)."""
    fn, names = caller(c, layer)
    fn.mask = d.get("mask")
    inputs = gather(c, d)
    fn(*[keras.ops.convert_to_tensor(a) for a in inputs])
    return fn


def gather(c, d):
    if c["kind"] == "steps":
        return [d["x"], d["t"]] + d["h0"]
    return [d["x"]] + (d["h0"] if c["initial_state"] else [])


# --------------------------------------------------------------------------- checks

def check_numbers(c):
    errors = []
    ref_units, go_units = wiring_pair(c["units"])
    fixed = c["kind"] == "steps"
    ref_err = None
    try:
        ref = make_layer(R, c, ref_units, fixed_ref=fixed)
    except Exception as e:  # the arguments themselves are bad: go must refuse them too
        ref_err = e
    try:
        go = make_layer(G, c, go_units)
    except Exception as e:
        if ref_err is not None:
            return [], f"both refuse the arguments ({type(ref_err).__name__} / {type(e).__name__})"
        return [f"go raised on construction, ref did not: {type(e).__name__}: {e}"], ""
    if ref_err is not None:
        return [f"ref refused the arguments ({type(ref_err).__name__}: {ref_err}), go accepted them"], ""
    # both constructed: build go first on its data
    d = make_data(c, go)
    note = ""
    try:
        build(ref, c, d)
    except Exception as e:
        ref = None
        note = f"ref fails to run ({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''})"
    try:
        fn_go = build(go, c, d)
    except Exception as e:
        if ref is None:
            return [], note + "; go fails too: " + f"{type(e).__name__}: {str(e)[:200]}"
        return [f"go fails where ref runs: {type(e).__name__}: {str(e)[:400]}"], ""
    if ref is not None:
        if weight_names(ref) != weight_names(go):
            errors.append(f"weights: go {weight_names(go)}, ref {weight_names(ref)}")
            return errors, note
        for attr in ("state_size", "output_size"):
            cr = ref.cell if isinstance(ref, keras.layers.RNN) else ref
            cg = go.cell if isinstance(go, keras.layers.RNN) else go
            a, b = getattr(cr, attr, None), getattr(cg, attr, None)
            if a is not None and list(np.ravel(a)) != list(np.ravel(b)):
                errors.append(f"cell {attr}: go {b}, ref {a}")
        rw, gw = inner_wiring(ref), inner_wiring(go)
        if rw is not None:
            for attr in ("adjacency_matrix", "sensory_adjacency_matrix"):
                a, b = getattr(rw, attr), getattr(gw, attr)
                if a is None or b is None or not np.array_equal(a, b):
                    errors.append(f"wiring {attr} differs")
        for wr, wg in zip(ref.weights, go.weights):
            if "erev" in wr.path.split("/")[-1] and not np.array_equal(to_np(wr), to_np(wg)):
                errors.append(f"initial {wr.path.split('/')[-1]} differs")
        perturb(ref, c["data_seed"])
        go.set_weights(ref.get_weights())
        if SABOTAGE:  # --sabotage: the harness must notice a small change of go's weights
            w = go.trainable_weights[-1]
            w.assign(to_np(w) + np.float32(1e-3))
        fn_ref, _ = caller(c, ref)
        fn_ref.mask = d.get("mask")
    else:
        perturb(go, c["data_seed"])
    inputs = gather(c, d)
    _, in_names = caller(c, go)
    try:
        go_out, go_gw, go_gx = forward_and_grads(fn_go, go.trainable_weights, inputs, c["data_seed"])
    except Exception as e:
        return errors + [f"go gradient pass fails: {type(e).__name__}: {str(e)[:400]}"], note
    sane(go_out, "go output", errors)
    sane(go_gw, "go weight gradient", errors)
    sane(go_gx, "go input gradient", errors)
    if ref is None:
        return errors, note
    try:
        ref_out, ref_gw, ref_gx = forward_and_grads(fn_ref, ref.trainable_weights, inputs, c["data_seed"])
    except Exception as e:
        note = f"ref gradients fail ({type(e).__name__}); forward only"
        try:
            ref_out, _, _ = forward_and_grads(fn_ref, ref.trainable_weights, inputs, c["data_seed"], grads=False)
        except Exception:
            return errors, "ref fails to run again"
        ref_gw = ref_gx = None
    if len(go_out) != len(ref_out):
        errors.append(f"{len(go_out)} outputs, ref {len(ref_out)}")
        return errors, note
    for i, (a, b) in enumerate(zip(go_out, ref_out)):
        close(a, b, OUT_TOL, f"output[{i}]", errors)
    if ref_gw is not None:
        names = [w.path.split("/")[-1] for w in ref.trainable_weights]
        for n, a, b in zip(names, go_gw, ref_gw):
            close(a, b, GRAD_TOL, f"grad {n}", errors)
        for n, a, b in zip(in_names, go_gx, ref_gx):
            close(a, b, GRAD_TOL, f"grad {n}", errors)
    return errors, note


def _wiring_entry(v):
    """A wiring config entry; NCP's own get_config in ncps 1.0.1 returns
    neuron id lists and seed None (REFERENCE.md section 6, item 5, not
    copied), so an NCP is compared by its class only."""
    if isinstance(v, dict) and v.get("class_name") == "NCP":
        return {"class_name": "NCP"}
    if isinstance(v, dict) and "inter_neurons" in v:
        return {"NCP": "flat"}
    return v


def normalize_config(cfg):
    out = {}
    for k, v in cfg.items():
        if k in ("name", "cell", "dtype"):
            continue
        if hasattr(v, "get_config") and hasattr(v, "adjacency_matrix"):
            v = {"class_name": type(v).__name__, "config": v.get_config()}
        if callable(v) and not isinstance(v, (dict, type)):
            v = getattr(v, "__name__", repr(v))
        if k == "initialization_ranges":
            continue  # documented: ours records them, so that from_config rebuilds the cell
        if k == "wiring" and isinstance(v, dict) and "class_name" in v and "config" in v:
            v = v["config"]  # documented: ours wraps the LTC's wiring entry, so that from_config rebuilds it
        if k in ("units", "wiring"):
            v = _wiring_entry(v)
        out[k] = v
    return out


def jsonable(v):
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def check_config(c):
    errors = []
    ref_units, go_units = wiring_pair(c["units"])
    try:
        ref = make_layer(R, c, ref_units)
    except Exception:
        ref = None
    go = make_layer(G, c, go_units)
    d = make_data(c, go)
    build(go, c, d)
    note = ""
    if ref is not None:
        try:
            build(ref, c, d)
            a, b = jsonable(normalize_config(go.get_config())), jsonable(normalize_config(ref.get_config()))
            if a != b:
                keys = sorted(set(a) | set(b))
                diff = {k: (a.get(k, "<missing>"), b.get(k, "<missing>")) for k in keys
                        if a.get(k, "<missing>") != b.get(k, "<missing>")}
                errors.append(f"get_config differs (go, ref): {str(diff)[:800]}")
        except Exception as e:
            note = f"ref config check skipped ({type(e).__name__})"
    perturb(go, c["data_seed"])
    again = type(go).from_config(go.get_config())
    build(again, c, d)
    if weight_names(again) != weight_names(go):
        errors.append(f"from_config weights {weight_names(again)}, original {weight_names(go)}")
        return errors, note
    again.set_weights(go.get_weights())
    inputs = gather(c, d)
    fa, _ = caller(c, again)
    fa.mask = d.get("mask")
    fg, _ = caller(c, go)
    fg.mask = d.get("mask")
    oa, _, _ = forward_and_grads(fa, [], inputs, 0, grads=False)
    og, _, _ = forward_and_grads(fg, [], inputs, 0, grads=False)
    for i, (a, b) in enumerate(zip(oa, og)):
        close(a, b, 1e-6, f"from_config output[{i}]", errors)
    ca, cg = jsonable(normalize_config(again.get_config())), jsonable(normalize_config(go.get_config()))
    if ca != cg:
        errors.append(f"config changes over a round trip: {ca} vs {cg}")
    return errors, note


def _save_load(mod, c, units):
    """(model, loaded model, x) for a Sequential holding the layer of `mod`
    (c["save_as"] == "rnn": keras.layers.RNN around the cell)."""
    kind = "rnn" if c.get("save_as") == "rnn" else "layer"
    cc = dict(c, kind=kind, return_state=False, initial_state=False, mask=False)
    layer = make_layer(mod, cc, units)
    model = keras.Sequential([keras.Input((None, c["input_size"])), layer])
    x = make_data(cc, layer)["x"]
    model(x)
    perturb(model, c["data_seed"])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    return model, loaded, x


def check_save(c):
    errors = []
    ref_units, go_units = wiring_pair(c["units"])
    try:
        _save_load(R, c, ref_units)
        ref_note = ""
    except Exception as e:
        ref_note = f"ref save/load fails ({type(e).__name__}: {str(e).splitlines()[0][:100] if str(e) else ''})"
    try:
        model, loaded, x = _save_load(G, c, go_units)
    except Exception as e:
        if ref_note:
            return [], ref_note + f"; go fails too ({type(e).__name__})"
        return [f"go save/load fails where ref's works: {type(e).__name__}: {str(e)[:400]}"], ""
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        if not np.array_equal(a, b):
            errors.append("loaded weights differ")
            break
    close(to_np(loaded(x)), to_np(model(x)), 1e-6, "loaded output", errors)
    a, b = model.layers[0], loaded.layers[0]
    if type(a) is not type(b) or type(getattr(a, "cell", a)) is not type(getattr(b, "cell", b)):
        errors.append(f"loaded layer is {type(b).__name__}, saved {type(a).__name__}")
    return errors, ref_note


#: One save / load round trip per layer kind, run before the random ones.
SAVE_CASES = [
    dict(family="LTC", units=("AutoNCP", {"units": 10, "output_size": 2}), cell_kwargs={}, mixed_memory=False),
    dict(family="LTC", units=("FullyConnected", {"units": 6, "output_dim": 2}), cell_kwargs={"ode_unfolds": 3},
         mixed_memory=True),
    dict(family="CfC", units=7, cell_kwargs={"backbone_layers": 2, "backbone_units": 9, "activation": "gelu"},
         mixed_memory=False),
    dict(family="CfC", units=5, cell_kwargs={"mode": "pure"}, mixed_memory=True),
    dict(family="CfC", units=("NCP", {"inter_neurons": 4, "command_neurons": 3, "motor_neurons": 2,
                                       "sensory_fanout": 2, "inter_fanout": 2, "recurrent_command_synapses": 2,
                                       "motor_fanin": 2}), cell_kwargs={"mode": "no_gate"}, mixed_memory=False),
    dict(family="CfC", units=("Random", {"units": 6, "output_dim": 3, "sparsity_level": 0.5}), cell_kwargs={},
         mixed_memory=True),
]


def save_cases(seed):
    out = []
    for k, base in enumerate(SAVE_CASES):
        for save_as in ("layer", "rnn"):
            c = draw(seed, 10 ** 6 + 2 * k + (save_as == "rnn"))
            c.update(base, kind="save", save_as=save_as, index=f"save{k}-{save_as}")
            out.append(c)
    return out


def describe(c):
    keys = ["index", "kind", "save_as", "family", "units", "cell_kwargs", "mixed_memory", "return_sequences",
            "return_state", "go_backwards", "unroll", "initial_state", "mask", "elapsed", "time_kwarg", "batch",
            "steps", "input_size"]
    return " ".join(f"{k}={c[k]!r}" for k in keys)


def run_one(c):
    if c["kind"] == "config":
        return check_config(c)
    if c["kind"] == "save":
        return check_save(c)
    return check_numbers(c)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", type=int, nargs="*", help="run these configuration indices only")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--sabotage", action="store_true", help="self-test: shift one of go's weights by 1e-3")
    args = ap.parse_args()
    global SABOTAGE
    SABOTAGE = args.sabotage
    indices = args.only if args.only else range(args.n)
    configs = [draw(args.seed, i) for i in indices]
    if not args.only:
        configs = save_cases(args.seed) + configs
    failed, notes, kinds = [], 0, {}
    for c in configs:
        i = c["index"]
        keras.utils.set_random_seed(c["data_seed"] % (2 ** 31))
        try:
            errors, note = run_one(c)
        except Exception as e:
            errors, note = [f"harness/go exception: {type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"], ""
        kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
        if errors:
            failed.append(i)
            print(f"FAIL [{BACKEND} seed={args.seed} #{i}] {describe(c)}", flush=True)
            for e in errors:
                print("    " + e, flush=True)
        elif args.verbose or note:
            if note:
                notes += 1
            print(f"ok   [#{i}] {c['kind']} {c['family']} {note}", flush=True)
        keras.backend.clear_session()
    print(f"{BACKEND}: {len(configs) - len(failed)}/{len(configs)} configurations agree "
          f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}; {notes} with a note); "
          f"failed: {failed}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
