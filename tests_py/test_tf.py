"""kerasncp_go.tf against keras-ncp 2.1.0's kerasncp.tf.LTCCell (and ncps
1.0.1's ncps.tf.LTC for mixed memory): outputs, gradients and training
trajectories from the same weights, under Keras 3 and tf-keras; saving,
export, the README examples, and bad input.

Processes. TensorFlow never loads into the pytest process that runs the rest
of the suite: its LLVM clashes with the one torch's triton brings ("Option
registered more than once", an abort) when triton loads after it. So:

* outer (plain ``pytest tests_py``): one test, which runs this file in a
  fresh pytest process with KNCP_TF_INNER=1 and reports its output;
* inner (KNCP_TF_INNER=1): the tests below, under Keras 3. keras-ncp's TF
  cell needs tf-keras (TF_USE_LEGACY_KERAS=1) and a process can use one Keras
  flavour only, so the inner session starts ``python test_tf.py worker
  OUTDIR`` with TF_USE_LEGACY_KERAS=1 in the background;
* worker: runs the reference and kerasncp_go under tf-keras, writes its
  numbers to OUTDIR/results.json and the reference's weights, inputs,
  outputs and gradients to OUTDIR/reference.npz, which the inner tests check
  and compare their Keras 3 runs against.

Every child is started with fork+exec (subprocess), never a bare fork: the Go
runtime is running. Run the inner session directly with
``KNCP_TF_INNER=1 pytest tests_py/test_tf.py`` to see each test.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import traceback

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "worker":
    MODE = "worker"
elif os.environ.get("KNCP_TF_INNER") == "1":
    MODE = "inner"
else:
    MODE = "outer"

if MODE == "outer":
    def test_keras_binding_in_a_fresh_process():
        """All the tests of this file, in a pytest process of their own (see
        the module docstring)."""
        env = dict(os.environ, KNCP_TF_INNER="1", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
        env.pop("TF_USE_LEGACY_KERAS", None)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python"), env.get("PYTHONPATH", "")])
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning",
               "-rfE", str(pathlib.Path(__file__).resolve())]
        run = subprocess.run(cmd, env=env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=900)
        print(run.stdout[-3000:])
        assert run.returncode == 0, f"the Keras tests failed (exit {run.returncode}):\n{run.stdout[-20000:]}"
else:
    if MODE == "worker":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
    else:
        os.environ.pop("TF_USE_LEGACY_KERAS", None)  # the inner session: Keras 3
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

    import numpy as np
    import tensorflow as tf

    from kerasncp_go import wirings as GW
    from kerasncp_go.tf import FLAVOUR, LTC, LTCCell, keras, live_tapes

PARITY_FWD, PARITY_GRAD, PARITY_TRAIN = 1e-5, 1e-4, 1e-3

# kind, constructor arguments, (input_mapping, output_mapping), ode_unfolds
WIRINGS = {
    "FullyConnected": (dict(units=8, output_dim=3), ("affine", "affine"), 6),
    "Random": (dict(units=10, output_dim=2, sparsity_level=0.5), ("linear", None), 6),
    "NCP": (dict(inter_neurons=6, command_neurons=4, motor_neurons=2, sensory_fanout=3, inter_fanout=2,
                 recurrent_command_synapses=3, motor_fanin=2), ("affine", "affine"), 3),
    "AutoNCP": (dict(units=16, output_size=3), (None, "linear"), 6),
}
CASES = [(k, irr) for k in WIRINGS for irr in (False, True)]
B, T, S = 4, 12, 5
TRAIN_WIRING = ("NCP", dict(inter_neurons=8, command_neurons=5, motor_neurons=2, sensory_fanout=3, inter_fanout=3,
                            recurrent_command_synapses=4, motor_fanin=3))
TRAIN_B, TRAIN_T, TRAIN_S, TRAIN_STEPS = 8, 16, 3, 50


def rel_err(got, want):
    """max|got-want| / max|want|."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


def short(w):
    """A weight's reference name: rnn/ltc_cell/gleak:0 -> gleak."""
    return w.name.split("/")[-1].split(":")[0]


def case_key(kind, irregular):
    return f"{kind}_{'irregular' if irregular else 'regular'}"


def case_data(kind, irregular, units, motor):
    rng = np.random.default_rng(sorted(WIRINGS).index(kind) * 2 + int(irregular))
    x = rng.normal(size=(B, T, S)).astype(np.float32)
    e = rng.uniform(0.5, 1.5, size=(B, T, 1)).astype(np.float32)
    gy = rng.normal(size=(B, T, motor)).astype(np.float32)
    gh = rng.normal(size=(B, units)).astype(np.float32)
    return x, e, gy, gh


def train_data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(TRAIN_B, TRAIN_T, TRAIN_S)).astype(np.float32)
    t = np.linspace(0, 2 * np.pi, TRAIN_T)
    y = np.stack([np.sin(t + p) for p in rng.uniform(0, np.pi, TRAIN_B)])[:, :, None]
    y = np.concatenate([y, 0.5 * y], axis=-1).astype(np.float32)
    return x, y


def our_wiring(kind):
    return getattr(GW, kind)(**WIRINGS[kind][0])


def our_models(kind, irregular, with_cell_rnn=True):
    """(cell model or None, LTC model), both returning [y (B,T,M), h]."""
    _, (im, om), unfolds = WIRINGS[kind]
    opts = dict(input_mapping=im, output_mapping=om, ode_unfolds=unfolds)
    x_in, e_in = keras.Input((T, S)), keras.Input((T, 1))
    inputs = [x_in, e_in] if irregular else x_in
    cell_model = None
    if with_cell_rnn:
        out = keras.layers.RNN(LTCCell(our_wiring(kind), **opts), return_sequences=True,
                               return_state=True)((x_in, e_in) if irregular else x_in)
        cell_model = keras.Model(inputs, out)
    ltc_model = keras.Model(inputs, LTC(our_wiring(kind), return_sequences=True, return_state=True, **opts)(inputs))
    return cell_model, ltc_model


def set_weights(model, weights):
    names = [short(w) for w in model.weights]
    assert sorted(names) == sorted(weights), (names, sorted(weights))
    for w in model.weights:
        w.assign(weights[short(w)])


def grads_of(call, weights, x, e, gy, gh, irregular):
    """y, h and the gradients of sum(y*gy) + sum(h*gh) by weight name plus
    "x" (and "elapsed")."""
    xs = [tf.constant(x)] + ([tf.constant(e)] if irregular else [])
    with tf.GradientTape() as tape:
        tape.watch(xs)
        y, h = call(xs)
        loss = tf.reduce_sum(y * gy) + tf.reduce_sum(h * gh)
    g = tape.gradient(loss, list(weights) + xs)
    out = {short(w): gg.numpy() for w, gg in zip(weights, g)}
    out["x"] = g[len(weights)].numpy()
    if irregular:
        out["elapsed"] = g[len(weights) + 1].numpy()
    return y.numpy(), h.numpy(), out


def compare(got, want):
    """{"y": err, "h": err, "grad": max err, "grad_worst": name}."""
    (y, h, g), (yr, hr, gr) = got, want
    assert sorted(g) == sorted(gr), (sorted(g), sorted(gr))
    errs = {n: rel_err(g[n], gr[n]) for n in gr}
    worst = max(errs, key=errs.get)
    return {"y": rel_err(y, yr), "h": rel_err(h, hr), "grad": errs[worst], "grad_worst": worst}


def fit_losses(model, x, y, steps=TRAIN_STEPS):
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return [float(np.ravel(model.train_on_batch(x, y))[0]) for _ in range(steps)]


def has_pyfunc(export_dir):
    data = pathlib.Path(export_dir, "saved_model.pb").read_bytes()
    return b"PyFunc" in data


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# -----------------------------------------------------------------------------
# The tf-keras worker (reference side), run as a script.
# -----------------------------------------------------------------------------


def _worker(outdir):
    import kerasncp.tf as KT
    import kerasncp.wirings as KW
    import ncps.wirings as NW

    from kerasncp_go.tf import _rnn_hook

    assert FLAVOUR == "tf_keras"
    out = pathlib.Path(outdir)
    results, arrays = {"errors": {}}, {}

    def guarded(name, fn):
        t0 = time.perf_counter()
        try:
            results[name] = fn()
        except Exception:
            results["errors"][name] = traceback.format_exc()
        results.setdefault("seconds", {})[name] = round(time.perf_counter() - t0, 2)

    def ref_wiring(kind):
        mod = NW if kind == "AutoNCP" else KW
        return getattr(mod, kind)(**WIRINGS[kind][0])

    def parity():
        res = {}
        for kind, irregular in CASES:
            _, (im, om), unfolds = WIRINGS[kind]
            cell = KT.LTCCell(ref_wiring(kind), input_mapping=im, output_mapping=om, ode_unfolds=unfolds)
            x_in, e_in = keras.Input((T, S)), keras.Input((T, 1))
            out_t = keras.layers.RNN(cell, return_sequences=True, return_state=True)((x_in, e_in) if irregular
                                                                                    else x_in)
            ref = keras.Model([x_in, e_in] if irregular else x_in, out_t)
            weights = {short(w): w.numpy() for w in ref.weights}
            x, e, gy, gh = case_data(kind, irregular, cell.state_size, cell.motor_size)

            def call_of(model, irregular=irregular):
                return lambda xs: model(xs if irregular else xs[0])

            want = grads_of(call_of(ref), ref.weights, x, e, gy, gh, irregular)
            key = case_key(kind, irregular)
            ours = our_wiring(kind)
            ours.build(S)
            res[key] = {"adjacency_equal": bool(
                np.array_equal(cell._wiring.adjacency_matrix, ours.adjacency_matrix)
                and np.array_equal(cell._wiring.sensory_adjacency_matrix, ours.sensory_adjacency_matrix))}
            cell_model, ltc_model = our_models(kind, irregular)
            for label, model in (("cell", cell_model), ("ltc", ltc_model), ("cell_steps", cell_model)):
                set_weights(model, weights)
                _rnn_hook.FORCE_STEPS = label == "cell_steps"  # "cell": one Go pass (the RNN hook)
                try:
                    res[key][label] = compare(grads_of(call_of(model), model.weights, x, e, gy, gh, irregular),
                                              want)
                finally:
                    _rnn_hook.FORCE_STEPS = False
            arrays.update({f"{key}/w/{n}": v for n, v in weights.items()})
            arrays.update({f"{key}/{n}": v for n, v in (("x", x), ("e", e), ("gy", gy), ("gh", gh),
                                                          ("y", want[0]), ("h", want[1]))})
            arrays.update({f"{key}/g/{n}": v for n, v in want[2].items()})
        return res

    def training():
        kind, args = TRAIN_WIRING
        x, y = train_data()
        ref = keras.Sequential([keras.Input((TRAIN_T, TRAIN_S)),
                                keras.layers.RNN(KT.LTCCell(getattr(KW, kind)(**args)), return_sequences=True)])
        weights = {short(w): w.numpy() for w in ref.weights}
        arrays.update({f"train/w/{n}": v for n, v in weights.items()})
        res = {"reference": fit_losses(ref, x, y)}
        tapes = {}
        for label, layer in (("cell", keras.layers.RNN(LTCCell(getattr(GW, kind)(**args)), return_sequences=True)),
                             ("ltc", LTC(getattr(GW, kind)(**args), return_sequences=True))):
            model = keras.Sequential([keras.Input((TRAIN_T, TRAIN_S)), layer])
            set_weights(model, weights)
            before = live_tapes()
            res[label] = fit_losses(model, x, y)
            tapes[label] = live_tapes() - before
        # Both run one Go pass each way (the cell through the RNN hook), so no
        # forward tape is left waiting.
        res["tapes_left_by_ltc"] = tapes["ltc"]
        res["tapes_left_by_cell"] = tapes["cell"]
        return res

    def mixed_memory():
        import ncps.tf as NTF

        x_in = keras.Input((T, S))
        ref = keras.Model(x_in, NTF.LTC(NW.AutoNCP(12, 2), mixed_memory=True, return_sequences=True)(x_in))
        ours = keras.Model(x_in, LTC(GW.AutoNCP(12, 2), mixed_memory=True, return_sequences=True)(x_in))
        # By position, as users move weights: the order must be ncps's.
        ours.set_weights(ref.get_weights())
        x, _, gy, _ = case_data("AutoNCP", False, 12, 2)
        gh = np.zeros((B, 12), np.float32)

        def call_of(model):
            return lambda xs: (model(xs[0]), tf.zeros((B, 12)))

        want = grads_of(call_of(ref), ref.weights, x, None, gy, gh, False)
        return compare(grads_of(call_of(ours), ours.weights, x, None, gy, gh, False), want)

    def rnn_hook():
        """tf-keras's RNN over our cell: one Go pass (spied) against keras-ncp's
        cell and against stepping ours (FORCE_STEPS), same weights."""
        passes = []
        real = _rnn_hook._sequence_call

        def spy(*a):
            passes.append(1)
            return real(*a)

        _rnn_hook._sequence_call = spy
        rng = np.random.default_rng(12)
        kind = "NCP"
        _, (im, om), unfolds = WIRINGS[kind]
        opts = dict(input_mapping=im, output_mapping=om, ode_unfolds=unfolds)
        units = our_wiring(kind).units
        x = rng.normal(size=(B, T, S)).astype(np.float32)
        e = rng.uniform(0.5, 1.5, size=(B, T, 1)).astype(np.float32)
        h0 = (0.3 * rng.normal(size=(B, units))).astype(np.float32)
        mask = np.ones((B, T), bool)
        mask[1, 8:] = mask[3, 5:] = False
        tm = (1, 0, 2)
        # label: (RNN arguments, inputs, call arguments, wrapper, one Go pass expected)
        cases = {
            "backwards_state_irregular": (dict(go_backwards=True, return_sequences=True, return_state=True),
                                          (x, e), dict(initial_state=[tf.constant(h0)]), None, True),
            "time_major_last": (dict(time_major=True), (np.transpose(x, tm), np.transpose(e, tm)),
                                dict(initial_state=[tf.constant(h0)]), None, True),
            "bidirectional": (dict(return_sequences=True), x, {}, "bidirectional", True),
            "masked": (dict(return_sequences=True), x, dict(mask=tf.constant(mask)), None, False),
            "unroll": (dict(return_sequences=True, unroll=True), x, {}, None, False),
        }
        res, in_order = {}, {}
        for label, (args, inputs, call_kw, wrap, fast) in cases.items():
            layers = {"ref": keras.layers.RNN(KT.LTCCell(KW.NCP(**WIRINGS[kind][0]), **opts), **args),
                      "ours": keras.layers.RNN(LTCCell(our_wiring(kind), **opts), **args)}
            if wrap == "bidirectional":
                # keras-ncp's cell cannot be cloned by Bidirectional (its from_config fails):
                # the reference is the same network spelled out.
                inp = keras.Input((T, S))
                halves = [layers["ref"], keras.layers.RNN(KT.LTCCell(KW.NCP(**WIRINGS[kind][0]), **opts),
                                                          go_backwards=True, **args)]
                bwd = keras.layers.Lambda(lambda t: tf.reverse(t, [1]))(halves[1](inp))
                layers = {"ref": keras.Model(inp, keras.layers.Concatenate()([halves[0](inp), bwd])),
                          "ours": keras.layers.Bidirectional(layers["ours"])}
                in_order[id(layers["ref"])] = halves  # forward's weights first, as Bidirectional's
            feed = tuple(tf.constant(v) for v in inputs) if isinstance(inputs, tuple) else tf.constant(inputs)
            outs = {}

            def weights(layer, trainable=False):
                parts = in_order.get(id(layer), [layer])
                return [w for p in parts for w in (p.trainable_weights if trainable else p.weights)]

            for name in ("ref", "ours", "steps"):
                layer = layers["ours" if name == "steps" else name]
                if not layer.built:
                    layer(feed, **call_kw)
                if name == "ours":
                    assert [short(w) for w in layer.weights] == [short(w) for w in weights(layers["ref"])]
                    layer.set_weights([w.numpy() for w in weights(layers["ref"])])
                _rnn_hook.FORCE_STEPS = name == "steps"
                before = len(passes)
                try:
                    xs = tf.nest.flatten(feed)
                    with tf.GradientTape() as tape:
                        tape.watch(xs)
                        out = tf.nest.flatten(layer(feed, **call_kw))
                        loss = tf.add_n([tf.reduce_sum(o * o) for o in out])
                    g = tape.gradient(loss, weights(layer, True) + xs)
                finally:
                    _rnn_hook.FORCE_STEPS = False
                outs[name] = ([o.numpy() for o in out], [v.numpy() for v in g], len(passes) - before)
            errs = {}
            for name in ("ours", "steps"):
                errs[name] = {"out": max(rel_err(a, b) for a, b in zip(outs[name][0], outs["ref"][0])),
                              "grad": max(rel_err(a, b) for a, b in zip(outs[name][1], outs["ref"][1]))}
            res[label] = {"errs": errs, "passes": outs["ours"][2], "step_passes": outs["steps"][2],
                          "fast": fast, "shapes": [list(o.shape) for o in outs["ours"][0]],
                          "ref_shapes": [list(o.shape) for o in outs["ref"][0]]}

        # stateful: two halves carry the state, as keras-ncp's cell does
        seq = {}
        for name, cell in (("ref", KT.LTCCell(KW.NCP(**WIRINGS[kind][0]), **opts)),
                           ("ours", LTCCell(our_wiring(kind), **opts))):
            seq[name] = keras.Sequential([keras.Input((None, S), batch_size=B),
                                          keras.layers.RNN(cell, return_sequences=True, stateful=True)])
        seq["ours"].set_weights(seq["ref"].get_weights())
        before = len(passes)
        halves = {n: np.concatenate([m.predict(x[:, :5], verbose=0), m.predict(x[:, 5:], verbose=0)], 1)
                  for n, m in seq.items()}
        stateful_passes = len(passes) - before
        seq["ours"].reset_states()
        again = seq["ours"].predict(x[:, :5], verbose=0)
        res["stateful"] = {"err": rel_err(halves["ours"], halves["ref"]), "passes": stateful_passes,
                           "reset_err": rel_err(again, halves["ours"][:, :5])}

        # a user stepping the cell under tf.function, against one Go pass
        cell = LTCCell(our_wiring(kind), **opts)
        whole = keras.layers.RNN(cell, return_sequences=True)(tf.constant(x))

        @tf.function
        def step(xt, h):
            return cell(xt, [h])

        h, ys = tf.zeros((B, units)), []
        for t in range(T):
            y, (h,) = step(tf.constant(x[:, t]), h)
            ys.append(y)
        res["cell_under_tf_function"] = rel_err(tf.stack(ys, 1), whole)

        # mixed precision: the loop's dtype comes back, as from stepping
        keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            layer = keras.layers.RNN(LTCCell(our_wiring(kind), **opts), return_sequences=True)
            fast_y = layer(tf.constant(x))
            _rnn_hook.FORCE_STEPS = True
            step_y = layer(tf.constant(x))
            _rnn_hook.FORCE_STEPS = False
        finally:
            keras.mixed_precision.set_global_policy("float32")
        res["mixed_precision"] = {"dtypes": [fast_y.dtype.name, step_y.dtype.name],
                                  "err": float(np.max(np.abs(np.float32(fast_y) - np.float32(step_y))))}
        res["total_passes"] = len(passes)
        _rnn_hook._sequence_call = real
        return res

    def save_load():
        res = {}
        tmp = tempfile.mkdtemp()
        x, e, _, _ = case_data("NCP", True, 1, 1)
        models = {"cell": keras.Sequential([keras.Input((T, S)),
                                            keras.layers.RNN(LTCCell(GW.NCP(**WIRINGS["NCP"][0], seed=5)),
                                                             return_sequences=True)]),
                  "ltc": our_models("AutoNCP", True, with_cell_rnn=False)[1]}
        inputs = {"cell": x, "ltc": [x, e]}
        for label, model in models.items():
            path = os.path.join(tmp, f"{label}.keras")
            model.save(path)
            loaded = keras.models.load_model(path)
            before, after = model.predict(inputs[label], verbose=0), loaded.predict(inputs[label], verbose=0)
            res[label] = {"equal": all(np.array_equal(a, b) for a, b in zip(tf.nest.flatten(before),
                                                                              tf.nest.flatten(after))),
                          "class": type(loaded.layers[-1]).__name__}
            if label == "cell":
                w = loaded.layers[-1].cell.wiring
                res[label]["wiring"] = [type(w).__name__, w.get_config().get("seed")]
        # a keras-ncp 2.1.0 model saved as HDF5 loads with the Go cell in its place
        ref = keras.Sequential([keras.Input((T, S)), keras.layers.RNN(KT.LTCCell(KW.NCP(**WIRINGS["NCP"][0])),
                                                                      return_sequences=True)])
        path = os.path.join(tmp, "keras_ncp.h5")
        ref.save(path)
        loaded = keras.models.load_model(path, custom_objects={"LTCCell": LTCCell})
        res["keras_ncp_h5"] = {"class": type(loaded.layers[-1].cell).__module__,
                               "err": rel_err(loaded.predict(x, verbose=0), ref.predict(x, verbose=0))}
        return res

    def export():
        res = {}
        x, e, _, _ = case_data("AutoNCP", True, 1, 1)
        _, ltc_model = our_models("AutoNCP", True, with_cell_rnn=False)
        cell_model = keras.Sequential([keras.Input((T, S)), keras.layers.RNN(LTCCell(GW.AutoNCP(16, 3)),
                                                                             return_sequences=True)])
        for label, model, inputs in (("ltc", ltc_model, [x, e]), ("cell", cell_model, [x])):
            d = out / f"export_{label}"
            model.save(str(d), save_format="tf")
            loaded = tf.saved_model.load(str(d))
            fn = loaded.signatures["serving_default"]
            names = [t.name.split(":")[0] for t in model.inputs]
            got = fn(**{k: tf.constant(v) for k, v in zip(sorted(fn.structured_input_signature[1]),
                                                            [inputs[names.index(n)] for n in names])})
            got = [v.numpy() for _, v in sorted(got.items())]
            want = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
            arrays[f"export_{label}/x"] = x
            arrays[f"export_{label}/e"] = e
            arrays[f"export_{label}/y"] = tf.nest.flatten(want)[0]
            res[label] = {"pyfunc": has_pyfunc(d), "err": rel_err(got[0], tf.nest.flatten(want)[0])}
        return res

    def examples():
        sine = load_example("keras_sine").main(epochs=40, fast=True)
        return {"sine_first": sine[0], "sine_last": sine[-1]}

    guarded("parity", parity)
    guarded("training", training)
    guarded("mixed_memory", mixed_memory)
    guarded("rnn_hook", rnn_hook)
    guarded("save_load", save_load)
    guarded("export", export)
    guarded("examples", examples)
    np.savez(out / "reference.npz", **arrays)
    (out / "results.json").write_text(json.dumps(results, indent=1))


if MODE == "worker":
    _worker(sys.argv[2])
    sys.exit(0)

# -----------------------------------------------------------------------------
# pytest (Keras 3).
# -----------------------------------------------------------------------------

class _Worker:
    """The tf-keras worker process, started once, in the background."""

    proc = None
    outdir = None
    result = None

    @classmethod
    def start(cls):
        if cls.proc is None:
            cls.outdir = tempfile.mkdtemp(prefix="kncp_tf_worker_")
            env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
            env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python"), env.get("PYTHONPATH", "")])
            cls.log = open(os.path.join(cls.outdir, "log.txt"), "w")
            cls.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "worker", cls.outdir],
                                        stdout=cls.log, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT))

    @classmethod
    def wait(cls):
        cls.start()
        if cls.result is None:
            try:
                rc = cls.proc.wait(timeout=300)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                raise
            log = pathlib.Path(cls.outdir, "log.txt").read_text()[-4000:]
            assert rc == 0, f"tf-keras worker failed (exit {rc}):\n{log}"
            res = json.loads(pathlib.Path(cls.outdir, "results.json").read_text())
            with np.load(os.path.join(cls.outdir, "reference.npz")) as z:
                arrays = {k: z[k] for k in z.files}
            cls.result = (res, arrays, cls.outdir)
        return cls.result


@pytest.fixture(scope="module", autouse=True)
def _start_worker():
    _Worker.start()  # runs while the Keras 3 tests below run
    yield


@pytest.fixture(scope="module")
def legacy():
    """(results, reference arrays, outdir) from the tf-keras worker."""
    return _Worker.wait()


def _worker_part(legacy, name):
    res = legacy[0]
    assert name not in res["errors"], f"tf-keras worker, {name}:\n{res['errors'][name]}"
    return res[name]


def _ref_case(arrays, key):
    weights = {k.split("/")[-1]: v for k, v in arrays.items() if k.startswith(f"{key}/w/")}
    grads = {k.split("/")[-1]: v for k, v in arrays.items() if k.startswith(f"{key}/g/")}
    get = {n: arrays[f"{key}/{n}"] for n in ("x", "e", "gy", "gh", "y", "h")}
    return weights, get, grads


def _assert_parity(errs, what):
    assert errs["y"] <= PARITY_FWD and errs["h"] <= PARITY_FWD, (what, errs)
    assert errs["grad"] <= PARITY_GRAD, (what, errs)


# -- parity ------------------------------------------------------------------


def test_flavour_is_keras3():
    assert FLAVOUR == "keras" and keras.__version__.startswith("3")


def test_second_order_gradients_raise():
    """A gradient penalty through the Go backward pass raises instead of
    giving None for every weight."""
    from conftest import assert_tf_second_order_raises

    x = np.random.default_rng(0).random((2, 5, 3)).astype(np.float32)
    assert_tf_second_order_raises(LTC(GW.FullyConnected(4)), x)


# -- equivalences between the cell and the layer -------------------------------


def _copy_cell_weights(dst_layer, src_cell):
    by_name = {short(w): w.numpy() for w in src_cell.weights}
    for w in dst_layer.weights:
        if short(w) in by_name:
            w.assign(by_name[short(w)])


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_ltc_matches_rnn_of_cell(go_backwards, return_sequences):
    x = np.random.default_rng(0).normal(size=(3, 7, 4)).astype(np.float32)
    cell = LTCCell(GW.AutoNCP(10, 2))
    rnn = keras.layers.RNN(cell, return_sequences=return_sequences, return_state=True, go_backwards=go_backwards)
    want = rnn(x)
    ltc = LTC(GW.AutoNCP(10, 2), return_sequences=return_sequences, return_state=True, go_backwards=go_backwards)
    ltc.build(x.shape)
    _copy_cell_weights(ltc, cell)
    got = ltc(x)
    assert rel_err(got[0], want[0]) <= 1e-6 and rel_err(got[1], want[1]) <= 1e-6


def test_ltc_time_major_initial_state_and_stateful():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 7, 4)).astype(np.float32)
    h0 = rng.normal(size=(3, 10)).astype(np.float32) * 0.3
    cell = LTCCell(GW.FullyConnected(10, 2))
    rnn = keras.layers.RNN(cell, return_sequences=True)
    want = rnn(x, initial_state=[h0])
    tm = LTC(GW.FullyConnected(10, 2), return_sequences=True, time_major=True)
    tm.build((7, 3, 4))
    _copy_cell_weights(tm, cell)
    got = tm(np.transpose(x, (1, 0, 2)), initial_state=h0)
    assert got.shape == (7, 3, 2) and rel_err(np.transpose(got, (1, 0, 2)), want) <= 1e-6
    # stateful: two halves carry the state over; reset_states() restarts.
    full = LTC(GW.FullyConnected(10, 2), return_sequences=True)
    full.build(x.shape)
    _copy_cell_weights(full, cell)
    st = LTC(GW.FullyConnected(10, 2), return_sequences=True, stateful=True)
    st.build((3, None, 4))
    _copy_cell_weights(st, cell)
    a, b = st(x[:, :4]), st(x[:, 4:])
    assert rel_err(np.concatenate([a, b], 1), full(x)) <= 1e-6
    st.reset_states()
    assert rel_err(st(x[:, :4]), a) == 0.0
    with pytest.raises(ValueError, match="stateful layer needs to know its batch size"):
        LTC(4, stateful=True).build((None, 5, 3))


def test_stateful_rnn_of_cell():
    x = np.random.default_rng(2).normal(size=(2, 6, 3)).astype(np.float32)
    model = keras.Sequential([keras.Input((None, 3), batch_size=2),
                              keras.layers.RNN(LTCCell(GW.FullyConnected(5, 1)), return_sequences=True,
                                               stateful=True)])
    whole = keras.Sequential([keras.Input((None, 3), batch_size=2),
                              keras.layers.RNN(LTCCell(GW.FullyConnected(5, 1)), return_sequences=True)])
    whole.set_weights(model.get_weights())
    a, b = model(x[:, :3]), model(x[:, 3:])
    assert rel_err(np.concatenate([a, b], 1), whole(x)) <= 1e-6


def test_mixed_memory_layer_takes_regular_and_irregular_calls():
    """One layer takes both call forms, whichever built it, and elapsed
    times of 1 give the regular results (which test_mixed_memory_matches_ncps
    checks against ncps)."""
    rng = np.random.default_rng(9)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    ones = np.ones((2, 5, 1), np.float32)
    for first in ("regular", "irregular"):
        layer = LTC(GW.AutoNCP(8, 2), mixed_memory=True, return_sequences=True)
        calls = [lambda layer=layer: layer(x), lambda layer=layer: layer([x, ones])]
        a, b = (calls[0](), calls[1]()) if first == "regular" else (calls[1](), calls[0]())
        assert rel_err(a, b) <= 1e-6, first  # elapsed 1 is the regular step


def test_rnn_of_cell_under_mixed_precision():
    """keras.layers.RNN loops in float16 under mixed_float16; the cell
    computes in float32 and hands back the loop's dtype."""
    x = np.random.default_rng(11).normal(size=(4, 5, 3)).astype(np.float32)
    want = keras.Sequential([keras.Input((5, 3)), keras.layers.RNN(LTCCell(GW.AutoNCP(8, 2)))])
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = keras.Sequential([keras.Input((5, 3)), keras.layers.RNN(LTCCell(GW.AutoNCP(8, 2)))])
        model.set_weights(want.get_weights())
        got = model.predict(x, verbose=0)
        model.compile("adam", "mse")
        model.fit(x, np.zeros((4, 2), np.float32), epochs=1, verbose=0)
    finally:
        keras.config.set_dtype_policy("float32")
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, want.predict(x, verbose=0), rtol=0, atol=5e-3)


def test_bidirectional_ltc_with_states():
    x = np.random.default_rng(10).normal(size=(3, 8, 4)).astype(np.float32)
    layer = LTC(GW.AutoNCP(8, 2), return_state=True)
    assert layer.states is None  # not stateful, as keras.layers.RNN
    out = keras.layers.Bidirectional(layer)(x)
    assert [tuple(o.shape) for o in out] == [(3, 4), (3, 8), (3, 8)]


def test_mixed_memory_irregular_matches_stepping_its_cell():
    """ncps's tf mixed memory cannot take elapsed times (it multiplies the
    pair); here they reach the inner LTC cell, as stepping the cell does."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 6, 3)).astype(np.float32)
    e = rng.uniform(0.5, 1.5, size=(2, 6, 1)).astype(np.float32)
    layer = LTC(GW.AutoNCP(8, 2), mixed_memory=True, return_sequences=True, return_state=True)
    y, mem, h = layer([x, e])
    cell = layer._rnn.cell
    states, ys = [tf.zeros((2, 8)), tf.zeros((2, 8))], []
    for t in range(6):
        yt, states = cell((x[:, t], e[:, t]), states)
        ys.append(yt)
    assert rel_err(y, tf.stack(ys, 1)) <= 1e-6 and rel_err(h, states[1]) <= 1e-6
    assert rel_err(mem, states[0]) <= 1e-6


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_keras3_rnn_of_the_cell_runs_one_go_pass(go_backwards, return_sequences):
    """Under Keras 3, keras.layers.RNN(LTCCell) (the keras-ncp README's model
    with only the import changed) runs the whole sequence in one Go pass:
    the outputs, final state and gradients of stepping the cell, one call of
    the sequence op instead of one per step."""
    from kerasncp_go.tf import _op, _rnn_hook
    rng = np.random.default_rng(4)
    rnn = keras.layers.RNN(LTCCell(GW.AutoNCP(10, 2)), return_sequences=return_sequences, return_state=True,
                           go_backwards=go_backwards)
    x = tf.constant(rng.normal(size=(3, 7, 4)).astype(np.float32))
    h0 = tf.constant(rng.normal(size=(3, 10)).astype(np.float32))
    calls, real = [], _op.ltc_sequence

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    outs = {}
    try:
        _op.ltc_sequence = spy
        for force in (False, True):
            _rnn_hook.FORCE_STEPS = force
            before = len(calls)
            with tf.GradientTape() as tape:
                y, h = rnn(x, initial_state=[h0])
                loss = tf.reduce_sum(y * y) + tf.reduce_sum(h)
            g = tape.gradient(loss, rnn.trainable_weights)
            outs[force] = (y, h, g, len(calls) - before)
    finally:
        _op.ltc_sequence, _rnn_hook.FORCE_STEPS = real, False
    (y, h, g, n), (ys, hs, gs, ns) = outs[False], outs[True]
    assert n == 1 and ns == 8  # 7 steps and Keras's shape probe
    assert rel_err(y, ys) <= PARITY_FWD and rel_err(h, hs) <= PARITY_FWD
    for a, b in zip(g, gs):
        assert rel_err(a, b) <= PARITY_GRAD


def test_keras3_files_load_with_kerasncp_go_keras_imported(tmp_path):
    """kerasncp_go.keras has Keras 3 classes named like this package's LTC
    family (and this package's Keras 3 CfC imports it): a saved model of
    this package's LTC still loads as this package's layer."""
    import kerasncp_go.tf as KT

    x = np.random.default_rng(6).normal(size=(2, 5, 3)).astype(np.float32)
    model = keras.Sequential([keras.Input((5, 3)), LTC(GW.AutoNCP(8, 2), return_sequences=True)])
    want = model.predict(x, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    assert KT.CfC is not None  # imports kerasncp_go.keras
    loaded = keras.models.load_model(path)
    assert type(loaded.layers[0]) is LTC
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, rtol=0, atol=1e-6)


def test_gradient_without_kept_tape_is_recomputed():
    """A second gradient of the same pass (persistent tape) finds no kept
    Go tape and recomputes it: same numbers, and nothing is left behind."""
    ltc = LTC(GW.AutoNCP(8, 2), return_sequences=True)
    x = tf.constant(np.random.default_rng(3).normal(size=(2, 5, 3)).astype(np.float32))
    before = live_tapes()
    with tf.GradientTape(persistent=True) as tape:
        loss = tf.reduce_sum(ltc(x) ** 2)
    g1 = tape.gradient(loss, ltc.trainable_weights)
    g2 = tape.gradient(loss, ltc.trainable_weights)
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert live_tapes() == before
    ltc(x)  # no tape recording: nothing kept
    assert live_tapes() == before


def test_fit_in_graph_mode_without_xla():
    tf.random.set_seed(4)  # the initial weights: whether 8 Adam steps lower the loss is not left to chance
    model = keras.Sequential([keras.Input((6, 3)), LTC(GW.NCP(5, 4, 2, 2, 2, 2, 2), return_sequences=True)])
    model.compile(keras.optimizers.Adam(0.05), "mse")  # jit_compile="auto": must resolve to no XLA
    assert not model.jit_compile
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(16, 6, 3)).astype(np.float32), rng.normal(size=(16, 6, 2)).astype(np.float32)
    before = live_tapes()
    hist = model.fit(x, y, epochs=4, batch_size=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert live_tapes() == before
    w = {short(v): v.numpy() for v in model.weights}
    for n in ("gleak", "cm", "w", "sensory_w"):  # NonNeg constraints applied
        assert w[n].min() >= 0


# -- configuration, saving, export -------------------------------------------------


def test_weights_properties_and_graph():
    cell = LTCCell(GW.NCP(6, 4, 2, 3, 2, 3, 2), input_mapping="linear", output_mapping=None)
    rnn = keras.layers.RNN(cell)
    rnn(np.zeros((1, 2, 5), np.float32))
    names = [short(w) for w in cell.weights]
    assert names == ["gleak", "vleak", "cm", "sigma", "mu", "w", "erev", "sensory_sigma", "sensory_mu",
                     "sensory_w", "sensory_erev", "input_w"]
    assert all(w.trainable for w in cell.weights)  # masks are constants, not weights
    constrained = {short(w) for w in cell.weights if w.constraint is not None}
    assert constrained == {"gleak", "cm", "w", "sensory_w"}
    wiring = cell.wiring
    assert (cell.state_size, cell.output_size, cell.motor_size, cell.sensory_size) == (12, 2, 2, 5)
    assert cell.synapse_count == int(np.abs(wiring.adjacency_matrix).sum())
    assert cell.sensory_synapse_count == int(np.abs(wiring.sensory_adjacency_matrix).sum())
    g = cell.get_graph()
    assert g.number_of_edges() == cell.synapse_count + cell.sensory_synapse_count
    src, dst = (int(i) for i in np.argwhere(wiring.adjacency_matrix > 0)[0])
    assert g.edges[f"neuron_{src}", f"neuron_{dst}"]["polarity"] == "excitatory"
    erev = cell._params["erev"]
    erev.assign(tf.tensor_scatter_nd_update(erev, [[src, dst]], [-0.5]))
    # keras-ncp 2.1.0 colours synapses by the sign of the trained erev
    assert cell.get_graph().edges[f"neuron_{src}", f"neuron_{dst}"]["polarity"] == "inhibitory"
    import matplotlib

    matplotlib.use("Agg")
    patches = cell.draw_graph(layout="spiral")
    assert [p.get_label() for p in patches][:3] == ["Inter neurons", "Motor neurons", "Sensory neurons"]
    with pytest.raises(ValueError, match="not built"):
        LTCCell(GW.FullyConnected(3)).get_graph()


@pytest.mark.parametrize("wiring", [
    lambda: GW.NCP(6, 4, 2, 3, 2, 3, 2, seed=5),
    lambda: GW.AutoNCP(12, 3, sparsity_level=0.6, seed=9),
    lambda: GW.Random(7, 2, sparsity_level=0.3, random_seed=4),
    lambda: GW.FullyConnected(6, 2, erev_init_seed=3, self_connections=False),
])
def test_config_round_trip_keeps_wiring_kind_and_seed(wiring):
    cell = LTCCell(wiring(), input_mapping="linear", ode_unfolds=4, epsilon=1e-6,
                   initialization_ranges={"w": (0.1, 0.2)})
    keras.layers.RNN(cell)(np.zeros((1, 2, 5), np.float32))
    config = json.loads(json.dumps(cell.get_config()))  # JSON-safe
    back = LTCCell.from_config(config)
    assert type(back.wiring) is type(cell.wiring)
    assert back.wiring.get_config() == cell.wiring.get_config()
    back.wiring.build(5)
    np.testing.assert_array_equal(back.wiring.adjacency_matrix, cell.wiring.adjacency_matrix)
    np.testing.assert_array_equal(back.wiring.sensory_adjacency_matrix, cell.wiring.sensory_adjacency_matrix)
    assert (back._input_mapping, back._ode_unfolds, back._epsilon) == ("linear", 4, 1e-6)
    assert back._init_ranges["w"] == (0.1, 0.2)


def test_config_of_custom_wiring_and_keras_ncp_form():
    w = GW.Wiring(4)
    w.add_synapse(0, 1, -1)
    w.add_synapse(2, 3, 1)
    w.build(3)
    w.add_sensory_synapse(1, 2, -1)
    cell = LTCCell(w)
    back = LTCCell.from_config(json.loads(json.dumps(cell.get_config())))
    np.testing.assert_array_equal(back.wiring.adjacency_matrix, w.adjacency_matrix)
    np.testing.assert_array_equal(back.wiring.sensory_adjacency_matrix, w.sensory_adjacency_matrix)
    # keras-ncp 2.1.0's get_config: the wiring's matrices at the top level
    ref_form = dict(GW.Wiring.get_config(w), input_mapping="affine", output_mapping="linear", ode_unfolds=3,
                    epsilon=1e-8)
    old = LTCCell.from_config(ref_form)
    assert old._output_mapping == "linear" and old._ode_unfolds == 3
    np.testing.assert_array_equal(old.wiring.sensory_adjacency_matrix, w.sensory_adjacency_matrix)
    layer = LTC.from_config(json.loads(json.dumps(LTC(GW.NCP(6, 4, 2, 3, 2, 3, 2, seed=11), return_state=True,
                                                        go_backwards=True).get_config())))
    assert layer.return_state and layer.go_backwards and layer.wiring.get_config()["seed"] == 11
    assert isinstance(LTC(units_or_wiring=6).wiring, GW.FullyConnected)


def test_save_load_round_trip_keras3(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, T, S)).astype(np.float32)
    e = rng.uniform(0.5, 1.5, size=(3, T, 1)).astype(np.float32)
    cell_model = keras.Sequential([keras.Input((T, S)), keras.layers.RNN(LTCCell(GW.NCP(6, 4, 2, 3, 2, 3, 2, seed=5)),
                                                                         return_sequences=True)])
    _, ltc_model = our_models("AutoNCP", True, with_cell_rnn=False)
    mm_model = keras.Sequential([keras.Input((T, S)), LTC(GW.FullyConnected(6, 2), mixed_memory=True)])
    for label, model, inputs in (("cell", cell_model, x), ("ltc", ltc_model, [x, e]), ("mixed", mm_model, x)):
        model.compile("adam", "mse")
        path = str(tmp_path / f"{label}.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
        for a, b in zip(tf.nest.flatten(model.predict(inputs, verbose=0)),
                        tf.nest.flatten(loaded.predict(inputs, verbose=0))):
            np.testing.assert_array_equal(a, b)
    w = keras.models.load_model(str(tmp_path / "cell.keras")).layers[-1].cell.wiring
    assert type(w) is GW.NCP and w.get_config()["seed"] == 5


def test_export_keras3(tmp_path):
    """model.export traces the pure-TensorFlow version: no PyFunc in the
    SavedModel, and the loaded model agrees with the Go kernel."""
    x = np.random.default_rng(6).normal(size=(2, T, S)).astype(np.float32)
    e = np.random.default_rng(7).uniform(0.5, 1.5, size=(2, T, 1)).astype(np.float32)
    _, ltc_model = our_models("NCP", True, with_cell_rnn=False)
    cell_model = keras.Sequential([keras.Input((T, S)), keras.layers.RNN(LTCCell(GW.AutoNCP(10, 2)))])
    for label, model, inputs in (("ltc", ltc_model, [x, e]), ("cell", cell_model, x)):
        d = str(tmp_path / label)
        model.export(d, verbose=False)
        assert not has_pyfunc(d)
        loaded = tf.saved_model.load(d)
        got = loaded.serve(inputs)
        assert rel_err(tf.nest.flatten(got)[0], tf.nest.flatten(model(inputs))[0]) <= 1e-5


# -- the README examples -------------------------------------------------------------


def test_example_sine_wave():
    mod = load_example("keras_sine")
    losses = mod.main(epochs=60)  # the README trains 400 epochs; 60 take the loss from 0.59 to about 0.34
    assert losses[-1] < 0.75 * losses[0]


def test_example_conv_ncp():
    mod = load_example("keras_conv")
    losses, before, acc = mod.main(epochs=2, samples=128)
    assert losses[-1] < before and acc > 0.3


# -- bad input -------------------------------------------------------------------


def test_wiring_input_dim_conflict():
    w = GW.NCP(6, 4, 2, 3, 2, 3, 2)
    w.build(4)
    with pytest.raises(ValueError, match=r"wiring was built for input_dim=4 .* inputs have 5"):
        keras.layers.RNN(LTCCell(w))(np.zeros((1, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"wiring was built for input_dim=4 .* inputs have 5"):
        LTC(w)(np.zeros((1, 3, 5), np.float32))


def test_malformed_inputs():
    cell = LTCCell(GW.FullyConnected(4))
    cell.build((None, 3))
    h = [tf.zeros((2, 4))]
    x = tf.zeros((2, 3))
    with pytest.raises(ValueError, match=r"pair \(inputs, elapsed_time\), got a tuple of 3"):
        cell((x, tf.ones((2, 1)), tf.ones((2, 1))), h)
    with pytest.raises(ValueError, match="elapsed_time must be a scalar or have shape"):
        cell((x, tf.ones((2, 3))), h)
    with pytest.raises(ValueError, match="inputs have 4 features but the wiring has input_dim=3"):
        cell(tf.zeros((2, 4)), h)
    ltc = LTC(GW.FullyConnected(4))
    with pytest.raises(ValueError, match=r"pair \(inputs, elapsed_time\), got a list of 3"):
        ltc([tf.zeros((2, 5, 3))] * 3)
    # One rule for every binding (kerasncp_go._rules.elapsed_shape), one message naming the argument.
    with pytest.raises(ValueError, match=r"elapsed_time must be a scalar or have shape \(batch, steps\)"):
        ltc([tf.zeros((2, 5, 3)), tf.ones((2, 5, 2))])
    with pytest.raises(ValueError, match=r"initial_state must have shape \(batch, 4\)"):
        ltc(tf.zeros((2, 5, 3)), initial_state=tf.zeros((2, 3)))
    with pytest.raises(ValueError, match="initial_state must be one tensor"):
        ltc(tf.zeros((2, 5, 3)), initial_state=[tf.zeros((2, 4)), tf.zeros((2, 4))])
    with pytest.raises(ValueError, match="initial_state has batch size 3 but the inputs 2"):
        ltc(tf.zeros((2, 5, 3)), initial_state=tf.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"initialization_ranges\['vleak'\] must be finite"):
        LTCCell(GW.FullyConnected(4), initialization_ranges={"vleak": (float("nan"), 1.0)})
    with pytest.raises(ValueError, match=r"elapsed_time must be broadcastable to \(batch=2, steps=5\)"):
        ltc([tf.zeros((2, 5, 3)), tf.ones((2, 4))])
    with pytest.raises(NotImplementedError, match="masks are not supported"):
        ltc(tf.zeros((2, 5, 3)), mask=tf.ones((2, 5), tf.bool))


def test_elapsed_times_follow_the_one_rule():
    """The Keras layers apply kerasncp_go._rules like the NumPy and torch
    bindings. Changed: LTC takes (steps,), (batch,) and (batch, 1) elapsed
    times (it took (batch, steps[, 1]) and scalars only), and every layer
    rejects times that are not finite and > 0 (they computed before)."""
    ltc = LTC(GW.FullyConnected(4, 2), return_sequences=True)
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    full = np.full((2, 5), 0.5, np.float32)
    want = ltc([x, full]).numpy()
    for e in (full[..., None], full[0], full[:, 0], full[:, :1]):
        np.testing.assert_array_equal(ltc([x, e]).numpy(), want, err_msg=str(e.shape))
    cell = LTCCell(GW.FullyConnected(4))
    cell.build((None, 3))
    h = [tf.zeros((2, 4))]
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        e = full.copy()
        e[1, 2] = bad
        with pytest.raises(ValueError, match="elapsed_time must be finite and > 0"):
            ltc([x, e])
        with pytest.raises(ValueError, match="elapsed_time must be finite and > 0"):
            cell((x[:, 0], tf.constant([[1.0], [bad]])), h)

    @tf.function
    def graph(x, e):
        return ltc([x, e])

    # In a graph the NumPy layer checks the values when the graph runs.
    with pytest.raises(tf.errors.InvalidArgumentError, match="elapsed must be finite and > 0"):
        graph(tf.constant(x), tf.constant(np.zeros((2, 5), np.float32)))


def test_bad_constructor_arguments():
    w = GW.FullyConnected(4)
    with pytest.raises(ValueError) as e:
        LTCCell(w, initialization_ranges={"foo": (0, 1)})
    # the message keras-ncp 2.1.0 meant to raise (it raises AttributeError on a typo)
    assert str(e.value) == ("Unknown parameter 'foo' in initialization range dictionary! (Expected only "
                            "['gleak', 'vleak', 'cm', 'w', 'sigma', 'mu', 'sensory_w', 'sensory_sigma', "
                            "'sensory_mu'])")
    with pytest.raises(ValueError, match=r"parameter 'w' must be non-negative! \(initialization_ranges\['w'\]"):
        LTCCell(w, initialization_ranges={"w": (-0.1, 1.0)})
    with pytest.raises(ValueError, match=r"'sigma' is not a valid range \(initialization_ranges\['sigma'\]"):
        LTCCell(w, initialization_ranges={"sigma": (5, 3)})
    with pytest.raises(ValueError, match=r"'cm' must be non-negative"):
        LTC(4, initialization_ranges={"cm": (-1, -0.5)})
    LTCCell(w, initialization_ranges={"vleak": (-1, -0.5)})  # negative is fine where unconstrained
    with pytest.raises(ValueError, match="input_mapping must be"):
        LTCCell(w, input_mapping="bogus")
    with pytest.raises(ValueError, match=r"ode_unfolds must be an int in \[1, 100000\]"):
        LTC(4, ode_unfolds=0)
    with pytest.raises(TypeError, match="wiring must be"):
        LTCCell("not a wiring")


# -- against the tf-keras worker (it runs in the background meanwhile) ----------

@pytest.mark.parametrize("kind,irregular", CASES)
def test_parity_with_keras_ncp_under_keras3(legacy, kind, irregular):
    """Keras 3: our cell (in keras.layers.RNN, or stepped by hand for
    irregular sampling, which Keras 3's RNN cannot feed) and our LTC layer
    against keras-ncp 2.1.0's outputs and gradients (same weights)."""
    key = case_key(kind, irregular)
    weights, d, want_g = _ref_case(legacy[1], key)
    want = (d["y"], d["h"], want_g)
    cell_model, ltc_model = our_models(kind, irregular, with_cell_rnn=not irregular)
    set_weights(ltc_model, weights)
    got = grads_of(lambda xs: ltc_model(xs if irregular else xs[0]), ltc_model.weights, d["x"], d["e"], d["gy"],
                   d["gh"], irregular)
    _assert_parity(compare(got, want), (key, "ltc"))
    if irregular:
        _, (im, om), unfolds = WIRINGS[kind]
        cell = LTCCell(our_wiring(kind), input_mapping=im, output_mapping=om, ode_unfolds=unfolds)
        cell.build((None, S))
        set_weights(cell, weights)

        def stepped(xs):
            h, ys = tf.zeros((B, cell.state_size)), []
            for t in range(T):
                y, (h,) = cell((xs[0][:, t], xs[1][:, t]), [h])
                ys.append(y)
            return tf.stack(ys, 1), h

        got = grads_of(stepped, cell.weights, d["x"], d["e"], d["gy"], d["gh"], True)
    else:
        set_weights(cell_model, weights)
        got = grads_of(lambda xs: cell_model(xs[0]), cell_model.weights, d["x"], d["e"], d["gy"], d["gh"], False)
    _assert_parity(compare(got, want), (key, "cell"))


@pytest.mark.parametrize("kind,irregular", CASES)
def test_parity_with_keras_ncp_under_tf_keras(legacy, kind, irregular):
    """tf-keras (worker): keras-ncp 2.1.0's cell and ours side by side in
    keras.layers.RNN, and our LTC layer, from the same weights."""
    res = _worker_part(legacy, "parity")[case_key(kind, irregular)]
    assert res["adjacency_equal"]
    _assert_parity(res["cell"], (kind, irregular, "cell"))
    _assert_parity(res["cell_steps"], (kind, irregular, "cell stepped"))
    _assert_parity(res["ltc"], (kind, irregular, "ltc"))


def test_rnn_of_cell_runs_one_go_pass_under_tf_keras(legacy):
    """tf-keras's keras.layers.RNN over our cell runs the whole sequence in
    one Go pass (counted) with keras-ncp's numbers, outputs and gradients,
    across RNN options; masks and unroll=True step the cell, as tf-keras
    does; stateful, a cell stepped under tf.function and mixed precision
    agree."""
    res = _worker_part(legacy, "rnn_hook")
    for label in ("backwards_state_irregular", "time_major_last", "bidirectional", "masked", "unroll"):
        r = res[label]
        assert r["shapes"] == r["ref_shapes"], (label, r)
        for path in ("ours", "steps"):
            assert r["errs"][path]["out"] <= PARITY_FWD and r["errs"][path]["grad"] <= PARITY_GRAD, (label, path, r)
        want = (2 if label == "bidirectional" else 1) if r["fast"] else 0
        assert r["passes"] == want and r["step_passes"] == 0, (label, r)
    assert res["stateful"]["err"] <= PARITY_FWD and res["stateful"]["passes"] == 2, res["stateful"]
    assert res["stateful"]["reset_err"] == 0.0
    assert res["cell_under_tf_function"] <= 1e-6
    mp = res["mixed_precision"]
    assert mp["dtypes"][0] == mp["dtypes"][1] and mp["err"] <= 5e-3, mp


@pytest.mark.parametrize("setting", ["1", "0"])
def test_rnn_hook_opt_out(setting):
    """KERASNCP_GO_RNN_HOOK=0 leaves tf-keras's RNN.call alone."""
    code = ("import kerasncp_go.tf, tf_keras\n"
            "print('CALL', tf_keras.layers.RNN.call.__module__)\n")
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", KERASNCP_GO_RNN_HOOK=setting, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python"), env.get("PYTHONPATH", "")])
    run = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=300)
    want = "kerasncp_go.tf._rnn_hook" if setting == "1" else "tf_keras.src.layers.rnn.base_rnn"
    assert run.returncode == 0 and f"CALL {want}" in run.stdout, run.stdout[-3000:]


def test_training_matches_keras_ncp(legacy):
    """50 Adam steps from the same weights give the reference's losses:
    tf-keras (cell and LTC, in the worker) and Keras 3 (here)."""
    res = _worker_part(legacy, "training")
    ref = np.array(res["reference"])
    assert ref[-1] < 0.9 * ref[0]  # it learns
    kind, args = TRAIN_WIRING
    weights = {k.split("/")[-1]: v for k, v in legacy[1].items() if k.startswith("train/w/")}
    x, y = train_data()
    runs = {"tf_keras_cell": res["cell"], "tf_keras_ltc": res["ltc"]}
    for label, layer in (("keras3_cell", keras.layers.RNN(LTCCell(getattr(GW, kind)(**args)), return_sequences=True)),
                         ("keras3_ltc", LTC(getattr(GW, kind)(**args), return_sequences=True))):
        model = keras.Sequential([keras.Input((TRAIN_T, TRAIN_S)), layer])
        set_weights(model, weights)
        runs[label] = fit_losses(model, x, y)
    for label, losses in runs.items():
        assert len(losses) == TRAIN_STEPS
        err = float(np.max(np.abs(np.array(losses) - ref) / np.abs(ref)))
        assert err <= PARITY_TRAIN, (label, err)
    assert res["tapes_left_by_ltc"] == 0 and res["tapes_left_by_cell"] == 0


def test_mixed_memory_matches_ncps(legacy):
    """LTC(mixed_memory=True) against ncps.tf.LTC(mixed_memory=True)
    (tf-keras, same weights)."""
    _assert_parity(_worker_part(legacy, "mixed_memory"), "mixed_memory")


def test_save_load_round_trip_tf_keras(legacy):
    res = _worker_part(legacy, "save_load")
    assert res["cell"]["equal"] and res["cell"]["class"] == "RNN" and res["cell"]["wiring"] == ["NCP", 5]
    assert res["ltc"]["equal"] and res["ltc"]["class"] == "LTC"
    assert res["keras_ncp_h5"]["class"] == "kerasncp_go.tf.ltc_cell" and res["keras_ncp_h5"]["err"] <= PARITY_FWD


def test_export_tf_keras_loads_in_another_process(legacy):
    """The worker's tf-keras SavedModels (model.save(dir)) hold no PyFunc and
    run here, in another process, matching the worker's predictions."""
    res, arrays, outdir = legacy
    exp = _worker_part(legacy, "export")
    for label in ("ltc", "cell"):
        assert not exp[label]["pyfunc"] and exp[label]["err"] <= 1e-5, (label, exp[label])
        loaded = tf.saved_model.load(os.path.join(outdir, f"export_{label}"))
        fn = loaded.signatures["serving_default"]
        names = sorted(fn.structured_input_signature[1])
        feeds = [arrays[f"export_{label}/x"], arrays[f"export_{label}/e"]][:len(names)]
        got = fn(**{k: tf.constant(v) for k, v in zip(names, feeds)})
        got = [v.numpy() for _, v in sorted(got.items())][0]
        assert rel_err(got, arrays[f"export_{label}/y"]) <= 1e-5


def test_example_sine_wave_tf_keras(legacy):
    res = _worker_part(legacy, "examples")
    assert res["sine_last"] < 0.85 * res["sine_first"]  # 40 epochs: about 0.59 -> 0.43


if MODE == "outer":  # the tests above run in the inner session only
    for _name in [n for n in globals() if n.startswith("test_") and n != "test_keras_binding_in_a_fresh_process"]:
        del globals()[_name]
    del _start_worker, legacy
