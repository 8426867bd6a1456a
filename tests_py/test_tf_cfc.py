"""kerasncp_go.tf's CfC family against ncps 1.0.1's ncps.tf (and keras-ncp
2.1.0's kerasncp.tf.experimental) under tf-keras, from the same weights:
outputs, gradients, 50 training steps; configs and saving; SavedModel
export (tf-keras ``model.save(dir)`` and Keras 3 ``model.export`` of
kerasncp_go.keras's CfC layers) loaded in a fresh process that cannot import
this package; bad input; and ncps's own tests/test_tf.py through the compat
runner when ``KNCP_NCPS_REPO`` names a checkout of mlech26l/ncps.

TensorFlow never loads into the pytest process (see test_tf.py: it clashes
with torch's triton); every TensorFlow part runs in a child started with
fork+exec (the Go runtime does not survive a bare fork):

* ``python test_tf_cfc.py worker OUTDIR`` (TF_USE_LEGACY_KERAS=1): the
  reference and ours side by side; numbers to OUTDIR/results.json, the
  exported models under OUTDIR;
* ``python test_tf_cfc.py keras3 OUTDIR``: Keras 3 (TensorFlow backend)
  exports of kerasncp_go.keras's CfC layers;
* ``python test_tf_cfc.py load OUTDIR``: loads every export in OUTDIR with
  kerasncp_go made unimportable and writes what it predicts.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import traceback

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PARITY_FWD, PARITY_GRAD, PARITY_TRAIN = 1e-5, 1e-4, 1e-3
B, T, S = 4, 12, 5
TRAIN_B, TRAIN_T, TRAIN_S, TRAIN_STEPS = 8, 16, 3, 50
TRAIN_LR = 0.005  # at 0.01 the 128-unit backbone's loss oscillates, and float32 round-off grows with it
NCP_ARGS = dict(inter_neurons=6, command_neurons=4, motor_neurons=2, sensory_fanout=3, inter_fanout=2,
                recurrent_command_synapses=3, motor_fanin=2)

# name: (units: an int or (wiring class, arguments), CfC arguments, irregular)
CASES = {
    "default": (8, {}, False),
    "pure": (8, dict(mode="pure"), False),
    "no_gate": (8, dict(mode="no_gate"), False),
    "backbone2_relu": (8, dict(backbone_units=16, backbone_layers=2, activation="relu"), False),
    "backbone1_silu_no_gate": (6, dict(backbone_units=10, backbone_layers=1, activation="silu", mode="no_gate"),
                               False),
    "no_backbone_pure": (6, dict(backbone_layers=0, mode="pure"), False),
    "irregular": (8, {}, True),
    "go_backwards": (8, dict(go_backwards=True), False),
    "ncp_no_gate": (("NCP", NCP_ARGS), dict(mode="no_gate"), False),
    "autoncp": (("AutoNCP", dict(units=12, output_size=3)), {}, True),
    "random_pure": (("Random", dict(units=10, output_dim=2, sparsity_level=0.5)), dict(mode="pure"), False),
    "mixed_memory": (8, dict(mixed_memory=True), False),
    "mixed_memory_autoncp": (("AutoNCP", dict(units=12, output_size=3)), dict(mixed_memory=True), False),
}


def rel_err(got, want):
    """max|got-want| / max|want|."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


def weight_key(w):
    """A weight's name without the layers' uniquifying suffixes:
    cf_c_3/cf_c_cell_3/time_a/kernel:0 -> cf_c/cf_c_cell/time_a/kernel."""
    return re.sub(r"_\d+(?=/|$)", "", w.name.split(":")[0])


# -----------------------------------------------------------------------------
# Children (TensorFlow).
# -----------------------------------------------------------------------------


def _guarded(results, name, fn):
    try:
        results[name] = fn()
    except Exception:  # recorded and reported by the test that reads it
        results.setdefault("errors", {})[name] = traceback.format_exc()


def _tf_keras_worker(out):
    import ncps.tf as NT
    import ncps.wirings as NW
    import tensorflow as tf

    import kerasncp_go.tf as GT
    import kerasncp_go.tf.experimental as GX
    import kerasncp_go.wirings as GW

    keras = GT.keras
    keras.utils.set_random_seed(1)  # the reference's initial weights, which ours copy
    assert GT.FLAVOUR == "tf_keras" and GT.CfC.__module__ == "kerasncp_go.tf.cfc"
    results = {"errors": {}}
    arrays = {}

    def units_of(spec, lib):
        return spec if isinstance(spec, int) else getattr(lib, spec[0])(**spec[1])

    def model_of(cfc_cls, units, kwargs, irregular):
        x_in = keras.Input((T, S))
        e_in = keras.Input((T, 1))
        layer = cfc_cls(units, return_sequences=True, return_state=True, **kwargs)
        if irregular:
            return keras.Model([x_in, e_in], layer((x_in, e_in)))
        return keras.Model(x_in, layer(x_in))

    def grads_of(model, xs, gs):
        xs = [tf.constant(v) for v in xs]
        with tf.GradientTape() as tape:
            tape.watch(xs)
            outs = tf.nest.flatten(model(xs if len(xs) > 1 else xs[0]))
            loss = tf.add_n([tf.reduce_sum(o * g) for o, g in zip(outs, gs)])
        g = tape.gradient(loss, model.trainable_weights + xs)
        return [o.numpy() for o in outs], [v.numpy() for v in g]

    def parity():
        res = {}
        for i, (name, (spec, kwargs, irregular)) in enumerate(CASES.items()):
            rng = np.random.default_rng(100 + i)
            x = rng.normal(size=(B, T, S)).astype(np.float32)
            e = rng.uniform(0.5, 1.5, size=(B, T, 1)).astype(np.float32)
            xs = [x, e] if irregular else [x]
            ref = model_of(NT.CfC, units_of(spec, NW), kwargs, irregular)
            ours = model_of(GT.CfC, units_of(spec, GW), kwargs, irregular)
            ref_names = [(weight_key(w), tuple(w.shape)) for w in ref.weights]
            our_names = [(weight_key(w), tuple(w.shape)) for w in ours.weights]
            ours.set_weights(ref.get_weights())
            outs = tf.nest.flatten(ref(xs if irregular else x))
            gs = [rng.normal(size=o.shape).astype(np.float32) for o in outs]
            want_o, want_g = grads_of(ref, xs, gs)
            got_o, got_g = grads_of(ours, xs, gs)
            res[name] = {"names_equal": ref_names == our_names, "names": [n for n, _ in our_names],
                         "outputs": [rel_err(a, b) for a, b in zip(got_o, want_o)],
                         "grads": [rel_err(a, b) for a, b in zip(got_g, want_g)],
                         "layer_class": type(ours.layers[-1]).__module__}
        return res

    def training():
        t = np.linspace(0, 2 * np.pi, TRAIN_T)
        rng = np.random.default_rng(7)
        x = rng.normal(size=(TRAIN_B, TRAIN_T, TRAIN_S)).astype(np.float32)
        y = np.stack([np.sin(t + p) for p in rng.uniform(0, np.pi, TRAIN_B)])[:, :, None]
        y = np.concatenate([y, 0.5 * y], axis=-1).astype(np.float32)
        res = {}
        for label, ref_units, our_units in (("plain", 8, 8), ("ncp", NW.NCP(**NCP_ARGS), GW.NCP(**NCP_ARGS))):
            models = {}
            for side, cls, units in (("reference", NT.CfC, ref_units), ("ours", GT.CfC, our_units)):
                layers = [keras.Input((TRAIN_T, TRAIN_S)), cls(units, return_sequences=True)]
                if label == "plain":
                    layers.append(keras.layers.Dense(2))
                models[side] = keras.Sequential(layers)
            models["ours"].set_weights(models["reference"].get_weights())
            runs = {}
            for side, model in models.items():
                model.compile(optimizer=keras.optimizers.Adam(TRAIN_LR), loss="mse")
                runs[side] = [float(np.ravel(model.train_on_batch(x, y))[0]) for _ in range(TRAIN_STEPS)]
            res[label] = runs
        return res

    def experimental():
        """keras-ncp 2.1.0's tf.experimental CfC is ncps.tf's under other
        argument names: compared with ncps.tf's always, and with its own
        source when KERASNCP_210_SRC names a keras-ncp 2.1.0 tree (the PyPI
        wheel lacks kerasncp.tf.experimental)."""
        refs = {"ncps.tf": NT}
        src = os.environ.get("KERASNCP_210_SRC")
        if src:
            sys.path.insert(0, src)
            for name in [m for m in sys.modules if m == "kerasncp" or m.startswith("kerasncp.")]:
                del sys.modules[name]
            import kerasncp.tf.experimental as KX
            import kerasncp.wirings as KW

            refs["kerasncp.tf.experimental"] = KX
        rng = np.random.default_rng(3)
        x = rng.normal(size=(B, T, S)).astype(np.float32)
        res = {"cell_is_tf_cell": GX.CfCCell is GT.CfCCell}
        for label, lib in refs.items():
            ref = keras.Sequential([keras.Input((T, S)), lib.CfC(6, mode="no_gate", return_sequences=True)])
            ours = keras.Sequential([keras.Input((T, S)), GX.CfC(wiring_or_units=6, mode="no_gate",
                                                                 return_sequences=True)])
            ours.set_weights(ref.get_weights())
            res[label] = {"err": rel_err(ours(x).numpy(), ref(x).numpy())}
        for label, lib, wlib in (("ours", GX, GW), ("reference", refs.get("kerasncp.tf.experimental"),
                                                    KW if src else None)):
            if lib is None:
                continue
            try:
                lib.CfC(wlib.FullyConnected(4))
                res[label + "_wired"] = "no error"
            except NotImplementedError:
                res[label + "_wired"] = "NotImplementedError"
        return res

    def layer_options():
        """stateful (state carried over batches, then reset) and time_major
        with return_state, against ncps.tf; Bidirectional (which ncps.tf's
        CfC cannot rebuild from its config) runs and its forward half is the
        plain layer's."""
        rng = np.random.default_rng(4)
        x = rng.normal(size=(B, T, S)).astype(np.float32)
        res = {}
        ref = keras.Sequential([keras.Input((T, S), batch_size=B), NT.CfC(6, stateful=True, return_sequences=True)])
        ours = keras.Sequential([keras.Input((T, S), batch_size=B), GT.CfC(6, stateful=True,
                                                                            return_sequences=True)])
        ours.set_weights(ref.get_weights())
        errs = [rel_err(ours.predict(x, verbose=0), ref.predict(x, verbose=0)) for _ in range(2)]
        ref.reset_states()
        ours.reset_states()
        errs.append(rel_err(ours.predict(x, verbose=0), ref.predict(x, verbose=0)))
        ours.reset_states()
        first, second = ours.predict(x, verbose=0), ours.predict(x, verbose=0)
        # the first step of the second batch starts from the first batch's last state, not zeros
        res["stateful"] = {"errs": errs, "carries_state": bool(rel_err(first[:, 0], second[:, 0]) > 1e-3)}
        xt = np.transpose(x, [1, 0, 2])
        ref_l = NT.CfC(6, time_major=True, return_sequences=True, return_state=True)
        our_l = GT.CfC(6, time_major=True, return_sequences=True, return_state=True)
        ref_l(xt), our_l(xt)
        our_l.set_weights(ref_l.get_weights())
        res["time_major"] = [rel_err(a, b) for a, b in zip(our_l(xt), ref_l(xt))]
        plain = GT.CfC(6, return_sequences=True)
        bidir = keras.layers.Bidirectional(GT.CfC(6, return_sequences=True), merge_mode="concat")
        bidir(x)
        plain(x)
        plain.set_weights(bidir.forward_layer.get_weights())
        res["bidirectional"] = rel_err(bidir(x).numpy()[..., :6], plain(x).numpy())
        return res

    def save_load():
        res = {}
        rng = np.random.default_rng(5)
        x = rng.normal(size=(B, T, S)).astype(np.float32)
        tmp = tempfile.mkdtemp()
        sparsity = (np.sign(rng.normal(size=(S, 6))), np.ones((6, 6)))
        models = {
            "plain": GT.CfC(8, backbone_layers=2, backbone_units=9, activation="gelu", return_sequences=True),
            "wired": GT.CfC(GW.AutoNCP(12, 3, seed=9), mode="pure", return_sequences=True),
            "mixed": GT.CfC(7, mixed_memory=True),
            "cell": keras.layers.RNN(GT.CfCCell(6, *sparsity, backbone_units=0, backbone_layers=0)),
            "wired_cell": keras.layers.RNN(GT.WiredCfCCell(GW.NCP(**NCP_ARGS), mode="no_gate")),
            "experimental": GX.CfC(5, return_sequences=True),
        }
        for label, layer in models.items():
            model = keras.Sequential([keras.Input((T, S)), layer])
            path = os.path.join(tmp, f"{label}.keras")
            model.save(path)
            loaded = keras.models.load_model(path)
            config = loaded.layers[-1].get_config()
            res[label] = {"equal": bool(np.array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))),
                          "class": type(loaded.layers[-1]).__module__ + "." + type(loaded.layers[-1]).__name__,
                          "units": config.get("units", config.get("wiring_or_units"))}
        return res

    def export():
        res = {}
        rng = np.random.default_rng(6)
        x = rng.normal(size=(B, T, S)).astype(np.float32)
        models = {
            "plain": GT.CfC(8, backbone_layers=2, backbone_units=9, activation="relu", return_sequences=True),
            "pure": GT.CfC(6, mode="pure"),
            "wired": GT.CfC(GW.NCP(**NCP_ARGS), mode="no_gate", return_sequences=True),
            "mixed": GT.CfC(GW.AutoNCP(12, 3), mixed_memory=True, return_sequences=True),
            "cell": keras.layers.RNN(GT.CfCCell(6, backbone_layers=1, backbone_units=5, activation="tanh")),
        }
        for label, layer in models.items():
            model = keras.Sequential([keras.Input((T, S)), layer])
            d = out / f"export_tf_keras_{label}"
            model.save(str(d), save_format="tf")
            arrays[f"tf_keras_{label}/x"] = x
            arrays[f"tf_keras_{label}/y"] = model.predict(x, verbose=0)
            res[label] = str(d)
        return res

    def bad_input():
        res = {}

        def expect(label, fn):
            try:
                fn()
                res[label] = "no error"
            except Exception as err:  # the type and message are what the test checks
                res[label] = f"{type(err).__name__}: {err}"

        x = np.zeros((B, T, S), np.float32)
        built = GT.CfC(4)
        built(x)
        expect("incompatible_input_dims", lambda: built(np.zeros((B, T, S + 2), np.float32)))
        expect("input_rank", lambda: GT.CfC(4)(np.zeros((B, S), np.float32)))
        expect("mode", lambda: GT.CfC(4, mode="fast"))
        expect("activation", lambda: GT.CfC(4, activation="softmax"))
        expect("cell_mode", lambda: GT.CfCCell(4, mode=None))
        expect("units", lambda: GT.CfC(0))
        expect("backbone_units", lambda: GT.CfC(GW.AutoNCP(10, 2), backbone_units=8))
        expect("backbone_dropout", lambda: GT.CfC(4, backbone_dropout=1.5))
        expect("input_sparsity", lambda: GT.CfCCell(4, np.ones((S, 4)), np.ones((4, 4))))
        expect("fully_recurrent", lambda: GT.WiredCfCCell(GW.AutoNCP(10, 2), fully_recurrent=False))
        expect("elapsed_time", lambda: GT.CfC(4)((x, np.ones((B, T + 1), np.float32))))
        expect("wiring_input", lambda: GT.CfC(_built_wiring(GW, S + 1))(x))
        return res

    _guarded(results, "parity", parity)
    _guarded(results, "training", training)
    _guarded(results, "experimental", experimental)
    _guarded(results, "layer_options", layer_options)
    _guarded(results, "save_load", save_load)
    _guarded(results, "export", export)
    _guarded(results, "bad_input", bad_input)
    np.savez(out / "tf_keras.npz", **arrays)
    (out / "tf_keras.json").write_text(json.dumps(results, indent=1))


def _built_wiring(GW, input_dim):
    w = GW.AutoNCP(10, 2)
    w.build(input_dim)
    return w


def _keras3_worker(out):
    import keras

    from kerasncp_go import wirings as GW
    from kerasncp_go.keras import CfC, CfCCell, WiredCfCCell

    rng = np.random.default_rng(8)
    x = rng.normal(size=(B, T, S)).astype(np.float32)
    models = {
        "plain": CfC(8, backbone_layers=2, backbone_units=9, activation="gelu", return_sequences=True),
        "no_gate": CfC(6, mode="no_gate"),
        "wired": CfC(GW.NCP(**NCP_ARGS), mode="pure", return_sequences=True),
        "cell": keras.layers.RNN(CfCCell(6, backbone_layers=0)),
        "wired_cell": keras.layers.RNN(WiredCfCCell(GW.AutoNCP(12, 3)), return_sequences=True),
    }
    arrays = {}
    for label, layer in models.items():
        model = keras.Sequential([keras.Input((T, S)), layer])
        model.export(str(out / f"export_keras3_{label}"), verbose=False)
        arrays[f"keras3_{label}/x"] = x
        arrays[f"keras3_{label}/y"] = model.predict(x, verbose=0)
    np.savez(out / "keras3.npz", **arrays)


def _loader(out):
    sys.modules["kerasncp_go"] = None  # this package must not be needed
    import tensorflow as tf

    res = {}
    for name in ("tf_keras", "keras3"):
        path = out / f"{name}.npz"
        if not path.exists():
            continue
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        for key in sorted(k[:-2] for k in arrays if k.endswith("/x")):
            d = out / f"export_{key}"
            fn = tf.saved_model.load(str(d)).signatures["serving_default"]
            (arg,) = fn.structured_input_signature[1]
            got = list(fn(**{arg: tf.constant(arrays[f"{key}/x"])}).values())[0].numpy()
            res[key] = {"err": rel_err(got, arrays[f"{key}/y"]),
                        "pyfunc": b"PyFunc" in (d / "saved_model.pb").read_bytes()}
    (out / "loaded.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__" and len(sys.argv) == 3:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    {"worker": _tf_keras_worker, "keras3": _keras3_worker, "load": _loader}[sys.argv[1]](pathlib.Path(sys.argv[2]))
    sys.exit(0)


# -----------------------------------------------------------------------------
# pytest (no TensorFlow in this process).
# -----------------------------------------------------------------------------


def _child_env(legacy, with_package=True):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
    env.pop("TF_USE_LEGACY_KERAS", None)
    if legacy:
        env["TF_USE_LEGACY_KERAS"] = "1"
    ours = os.path.realpath(ROOT / "python")
    path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.realpath(p) != ours]
    env["PYTHONPATH"] = os.pathsep.join(([str(ROOT / "python")] if with_package else []) + path)
    return env


def _run_child(mode, outdir, env):
    run = subprocess.run([sys.executable, os.path.abspath(__file__), mode, str(outdir)], env=env, cwd=str(ROOT),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1200)
    assert run.returncode == 0, f"{mode} child failed (exit {run.returncode}):\n{run.stdout[-6000:]}"


@pytest.fixture(scope="module")
def outdir():
    """The children's shared folder: the tf-keras worker, then the Keras 3
    exports, then the loader, each in a fresh process."""
    out = pathlib.Path(tempfile.mkdtemp(prefix="kncp_tf_cfc_"))
    _run_child("worker", out, _child_env(legacy=True))
    _run_child("keras3", out, _child_env(legacy=False))
    _run_child("load", out, _child_env(legacy=False, with_package=False))
    return out


@pytest.fixture(scope="module")
def results(outdir):
    return json.loads((outdir / "tf_keras.json").read_text())


def _part(results, name):
    assert name not in results["errors"], f"tf-keras worker, {name}:\n{results['errors'][name]}"
    return results[name]


@pytest.mark.parametrize("case", sorted(CASES))
def test_parity_with_ncps_tf(results, case):
    """Outputs (sequence and final states) within 1e-5 and every gradient
    (weights and inputs) within 1e-4 of ncps.tf.CfC's, from its weights;
    the weights have its names, shapes and order."""
    res = _part(results, "parity")[case]
    assert res["names_equal"], res["names"]
    assert res["layer_class"] == "kerasncp_go.tf.cfc"
    assert max(res["outputs"]) <= PARITY_FWD, res["outputs"]
    assert max(res["grads"]) <= PARITY_GRAD, res["grads"]
    assert len(res["grads"]) == len(res["names"]) + 1 + int(CASES[case][2])  # weights, x (and elapsed times)


@pytest.mark.parametrize("label", ["plain", "ncp"])
def test_training_matches_ncps_tf(results, label):
    """50 Adam steps from the same weights: the reference's losses within
    1e-3 (relative), and it learns."""
    runs = _part(results, "training")[label]
    ref, ours = np.array(runs["reference"]), np.array(runs["ours"])
    assert len(ref) == len(ours) == TRAIN_STEPS
    assert ref[-1] < 0.9 * ref[0]
    assert float(np.max(np.abs(ours - ref) / np.abs(ref))) <= PARITY_TRAIN


def test_keras_ncp_experimental(results):
    """kerasncp_go.tf.experimental.CfC takes keras-ncp 2.1.0's arguments
    (wiring_or_units), matches ncps.tf.CfC (2.1.0's is the same code) from
    its weights, and refuses a wiring as 2.1.0 does."""
    res = _part(results, "experimental")
    assert res["ncps.tf"]["err"] <= PARITY_FWD and res["cell_is_tf_cell"]
    assert res["ours_wired"] == "NotImplementedError"


@pytest.mark.skipif(not os.environ.get("KERASNCP_210_SRC"), reason="set KERASNCP_210_SRC to a keras-ncp 2.1.0 source "
                    "tree (the PyPI wheel lacks kerasncp.tf.experimental)")
def test_keras_ncp_experimental_against_its_source(results):
    res = _part(results, "experimental")
    assert res["kerasncp.tf.experimental"]["err"] <= PARITY_FWD
    assert res["reference_wired"] == "NotImplementedError"


def test_layer_options(results):
    res = _part(results, "layer_options")
    assert max(res["stateful"]["errs"]) <= PARITY_FWD and res["stateful"]["carries_state"], res["stateful"]
    assert max(res["time_major"]) <= PARITY_FWD, res["time_major"]
    assert res["bidirectional"] <= PARITY_FWD


def test_save_load_round_trip(results):
    res = _part(results, "save_load")
    assert all(r["equal"] for r in res.values()), res
    assert res["plain"]["class"] == res["mixed"]["class"] == res["wired"]["class"] == "kerasncp_go.tf.cfc.CfC"
    assert res["wired"]["units"]["class_name"] == "AutoNCP" and res["wired"]["units"]["config"]["seed"] == 9
    assert res["plain"]["units"] == 8 and res["mixed"]["units"] == 7
    assert res["experimental"]["class"] == "kerasncp_go.tf.experimental.CfC" and res["experimental"]["units"] == 5


def test_exports_load_without_the_package(outdir, results):
    """tf-keras model.save(dir) and Keras 3 model.export(dir) of our CfC
    layers: SavedModels without a PyFunc that another process, which cannot
    import kerasncp_go, runs to the same numbers."""
    exported = _part(results, "export")
    loaded = json.loads((outdir / "loaded.json").read_text())
    want = {f"tf_keras_{k}" for k in exported} | {f"keras3_{k}" for k in
                                                  ("plain", "no_gate", "wired", "cell", "wired_cell")}
    assert set(loaded) == want
    for key, r in loaded.items():
        assert not r["pyfunc"] and r["err"] <= PARITY_FWD, (key, r)


@pytest.mark.parametrize("label,kind,words", [
    ("input_rank", "ValueError", ["input"]),
    ("mode", "ValueError", ["mode", "fast"]),
    ("cell_mode", "ValueError", ["mode"]),
    ("activation", "ValueError", ["activation", "softmax"]),
    ("units", "ValueError", ["units"]),
    ("backbone_units", "ValueError", ["backbone_units", "wired"]),
    ("backbone_dropout", "ValueError", ["backbone_dropout"]),
    ("input_sparsity", "ValueError", ["input_sparsity", "backbone"]),
    ("incompatible_input_dims", "ValueError", ["input", "incompatible"]),
    ("fully_recurrent", "ValueError", ["fully_recurrent"]),
    ("elapsed_time", "ValueError", ["elapsed_time"]),
    ("wiring_input", "ValueError", ["input_dim"]),
])
def test_bad_input(results, label, kind, words):
    """A ValueError that names the argument (tf-keras itself checks the
    width of a built layer's input: "Input 0 ... incompatible")."""
    msg = _part(results, "bad_input")[label]
    assert msg.startswith(kind + ":"), msg
    for w in words:
        assert w in msg.lower(), (w, msg)


def test_ncps_own_tf_tests(tmp_path):
    """ncps 1.0.1's tests/test_tf.py, unmodified, through python -m
    kerasncp_go.compat --ncps under tf-keras: every test passes."""
    repo = os.environ.get("KNCP_NCPS_REPO")
    if not repo:
        pytest.skip("KNCP_NCPS_REPO (a checkout of mlech26l/ncps) is not set")
    src = (pathlib.Path(repo) / "ncps" / "tests" / "test_tf.py").read_text()
    n = len(re.findall(r"^def test_", src, re.M))
    (tmp_path / "test_tf.py").write_text(src)
    (tmp_path / "run.py").write_text("import sys, pytest\n"
                                     "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-W', 'ignore', "
                                     "'test_tf.py']))\n")
    run = subprocess.run([sys.executable, "-m", "kerasncp_go.compat", "--ncps", "run.py"], env=_child_env(True),
                         cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
    assert n >= 10 and run.returncode == 0 and re.search(rf"\b{n} passed", run.stdout), run.stdout[-6000:]
