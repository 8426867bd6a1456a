"""kerasncp_go.keras (Keras 3 layers) on the TensorFlow, JAX and torch backends.

Keras reads its backend once per process, and TensorFlow and torch's triton
cannot share one, so the outer session runs this file once per backend in a
child pytest process (``KNCP_KERAS3_BACKEND`` set, ``KERAS_BACKEND`` = that
backend) and checks that every inner test passed:

* parity with ncps 1.0.1's ncps.keras through tests_py/gen_keras3_fixtures.py
  (the reference's outputs and gradients, weights copied): outputs and final
  states within 1e-5, gradients within 1e-4 relative to their largest entry;
  50 training steps' losses within 1e-3;
* the whole-sequence path agrees with keras.layers.RNN stepping the same cell;
* save / load, configs, Bidirectional, go_backwards, bad input;
* importing the package under an unsupported backend is an ImportError, and
  under torch it never imports TensorFlow.

ncps's own tests (ncps/tests/test_keras.py, not packaged in its wheel) run
through ``python -m kerasncp_go.compat --ncps`` when ``KNCP_NCPS_REPO`` names
a checkout of mlech26l/ncps.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests_py" / "fixtures" / "keras3"
BACKENDS = ("tensorflow", "jax", "torch")
INNER = os.environ.get("KNCP_KERAS3_BACKEND")


def _env(backend):
    env = dict(os.environ)
    env.update(KERAS_BACKEND=backend, KNCP_KERAS3_BACKEND=backend, CUDA_VISIBLE_DEVICES="",
               TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT / "python") + os.pathsep + env.get("PYTHONPATH", ""))
    return env


if INNER is None:
    @pytest.mark.parametrize("backend", BACKENDS)
    def test_backend(backend):
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore", str(__file__)]
        run = subprocess.run(cmd, env=_env(backend), cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=1800)
        tail = run.stdout[-6000:]
        assert run.returncode == 0, f"{backend}: inner tests failed:\n{tail}"
        m = re.search(r"(\d+) passed", run.stdout)
        assert m and int(m.group(1)) >= 20, f"{backend}: too few inner tests passed:\n{tail}"
        assert "skipped" not in run.stdout.splitlines()[-1], tail

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_ncps_own_keras_tests(backend, tmp_path):
        repo = os.environ.get("KNCP_NCPS_REPO")
        if not repo:
            pytest.skip("KNCP_NCPS_REPO (a checkout of mlech26l/ncps) is not set")
        src = pathlib.Path(repo) / "ncps" / "tests" / "test_keras.py"
        (tmp_path / "test_keras.py").write_text(src.read_text())
        (tmp_path / "run.py").write_text("import sys, pytest\n"
                                         "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-W', 'ignore', "
                                         "'test_keras.py']))\n")
        env = _env(backend)
        env.pop("KNCP_KERAS3_BACKEND")
        run = subprocess.run([sys.executable, "-m", "kerasncp_go.compat", "--ncps", "run.py"], env=env,
                             cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=3000)
        assert run.returncode == 0 and re.search(r"\b42 passed", run.stdout), run.stdout[-6000:]

    @pytest.mark.parametrize("backend", ["numpy", "openvino"])
    def test_unsupported_backend_is_an_import_error(backend):
        code = ("import sys\ntry:\n    import kerasncp_go.keras\nexcept ImportError as e:\n"
                "    print('IMPORTERROR', e)\n    sys.exit(0)\nsys.exit(3)\n")
        env = _env(backend)
        run = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=300)
        if backend == "openvino" and "No module named 'openvino'" in run.stdout:
            # Keras itself refuses to start without the backend's package.
            return
        assert run.returncode == 0 and "IMPORTERROR" in run.stdout and backend in run.stdout, run.stdout[-3000:]

    @pytest.mark.parametrize("how", ["env", "keras.json"])
    def test_tf_binding_under_the_torch_backend_is_an_import_error(how, tmp_path):
        """kerasncp_go.tf as a process's first import with Keras set to the
        torch backend (by KERAS_BACKEND or by keras.json): an ImportError
        before TensorFlow is imported (both at once can abort the process)."""
        code = ("import sys\ntry:\n    import kerasncp_go.tf\nexcept ImportError as e:\n"
                "    print('IMPORTERROR', e, 'tensorflow' in sys.modules)\n    sys.exit(0)\nsys.exit(3)\n")
        env = _env("torch")
        env.pop("KNCP_KERAS3_BACKEND")
        if how == "keras.json":
            env.pop("KERAS_BACKEND")
            (tmp_path / "keras.json").write_text('{"backend": "torch"}')
            env["KERAS_HOME"] = str(tmp_path)
        run = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=300)
        assert run.returncode == 0, run.stdout[-3000:]
        assert "IMPORTERROR" in run.stdout and "'torch'" in run.stdout and run.stdout.strip().endswith("False")

    def test_torch_backend_never_imports_tensorflow():
        code = ("import sys, numpy as np\nimport kerasncp_go.keras as k\n"
                "y = k.LTC(4, return_sequences=True)(np.ones((2, 3, 2), 'float32'))\n"
                "y = k.CfC(4)(np.ones((2, 3, 2), 'float32'))\n"
                "print('TF' if 'tensorflow' in sys.modules else 'NOTF')\n")
        run = subprocess.run([sys.executable, "-c", code], env=_env("torch"), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=600)
        assert run.returncode == 0 and "NOTF" in run.stdout, run.stdout[-3000:]

else:
    import keras

    from kerasncp_go import wirings
    from kerasncp_go.keras import LTC, CfC, CfCCell, LTCCell, MixedMemoryRNN, WiredCfCCell, _common

    MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())

    def _units(spec):
        if isinstance(spec, int):
            return spec
        cls, kw = spec
        return getattr(wirings, cls)(**kw)

    def _to_np(t):
        return np.asarray(keras.ops.convert_to_numpy(t))

    def _run_with_grads(layer, x, h0, gy, gh):
        """(y, h, weight gradients (trainable order), gx, gh0) on the backend."""
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf
            xt, ht = tf.constant(x), tf.constant(h0)
            with tf.GradientTape() as tape:
                tape.watch([xt, ht])
                y, h = layer(xt, initial_state=[ht])
                loss = tf.reduce_sum(y * gy) + tf.reduce_sum(h * gh)
            g = tape.gradient(loss, layer.trainable_weights + [xt, ht])
            return _to_np(y), _to_np(h), [_to_np(v) for v in g[:-2]], _to_np(g[-2]), _to_np(g[-1])
        if backend == "torch":
            import torch
            xt = torch.tensor(x, requires_grad=True)
            ht = torch.tensor(h0, requires_grad=True)
            y, h = layer(xt, initial_state=[ht])
            loss = (y * torch.tensor(gy)).sum() + (h * torch.tensor(gh)).sum()
            params = [w.value for w in layer.trainable_weights]
            g = torch.autograd.grad(loss, params + [xt, ht])
            return (y.detach().numpy(), h.detach().numpy(), [v.numpy() for v in g[:-2]], g[-2].numpy(),
                    g[-1].numpy())
        import jax
        import jax.numpy as jnp
        tv = [jnp.asarray(_to_np(w)) for w in layer.trainable_weights]
        ntv = [jnp.asarray(_to_np(w)) for w in layer.non_trainable_weights]

        def loss_fn(tv, xj, hj):
            (y, h), _ = layer.stateless_call(tv, ntv, xj, initial_state=[hj])
            return jnp.sum(y * gy) + jnp.sum(h * gh), (y, h)

        (_, (y, h)), g = jax.value_and_grad(loss_fn, argnums=(0, 1, 2), has_aux=True)(tv, jnp.asarray(x),
                                                                                      jnp.asarray(h0))
        return np.asarray(y), np.asarray(h), [np.asarray(v) for v in g[0]], np.asarray(g[1]), np.asarray(g[2])

    def _close(got, want, tol, what):
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        assert got.shape == want.shape, f"{what}: shape {got.shape}, want {want.shape}"
        scale = max(1.0, float(np.abs(want).max()))
        err = float(np.abs(got - want).max()) / scale
        assert err <= tol, f"{what}: max error {err:.3g} (relative to {scale:.3g}) > {tol}"

    @pytest.mark.parametrize("case", MANIFEST["fixtures"], ids=lambda c: c["name"])
    def test_parity_with_ncps_keras(case):
        with np.load(FIXTURES / f"{case['name']}.npz") as z:
            fx = {k: z[k] for k in z.files}
        cls = {"LTC": LTC, "CfC": CfC}[case["layer"]]
        layer = cls(_units(case["units"]), return_sequences=True, return_state=True, **case["kwargs"])
        layer.build((None, case["steps"], case["input_size"]))
        names = [w.path.split("/")[-1] for w in layer.weights]
        want_names = [p.split("/")[-1] for p in case["weights"]]
        assert names == want_names, f"weights {names}, want {want_names}"
        layer.set_weights([fx[f"w/{i}"] for i in range(len(case["weights"]))])
        y, h, g, gx, gh0 = _run_with_grads(layer, fx["x"], fx["h0"], fx["gy"], fx["gh"])
        _close(y, fx["y"], 1e-5, "y")
        _close(h, fx["h"], 1e-5, "h")
        index = {id(w): i for i, w in enumerate(layer.weights)}
        for w, gw in zip(layer.trainable_weights, g):
            i = index[id(w)]
            _close(gw, fx[f"g/{i}"], 1e-4, f"gradient of {case['weights'][i]}")
        _close(gx, fx["gx"], 1e-4, "gradient of x")
        _close(gh0, fx["gh0"], 1e-4, "gradient of h0")

    @pytest.mark.parametrize("case", MANIFEST["training"], ids=lambda c: c["name"])
    def test_training_losses_match_ncps_keras(case):
        with np.load(FIXTURES / f"{case['name']}.npz") as z:
            fx = {k: z[k] for k in z.files}
        cls = {"LTC": LTC, "CfC": CfC}[case["layer"]]
        layer = cls(_units(case["units"]), return_sequences=True, **case["kwargs"])
        model = keras.Sequential([keras.Input((case["steps"], case["input_size"])), layer])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        layer.set_weights([fx[f"w/{i}"] for i in range(len(layer.weights))])
        losses = [float(model.train_on_batch(fx["x"], fx["y"])) for _ in range(case["train_steps"])]
        want = fx["losses"]
        err = np.abs(np.array(losses) - want)  # the bar: within 1e-3 of the reference's losses
        k = int(err.argmax())
        assert err[k] <= 1e-3, f"step {k}: loss {losses[k]}, want {want[k]}"

    @pytest.mark.parametrize("make", [
        lambda: LTCCell(wirings.AutoNCP(10, 3)),
        lambda: CfCCell(6, backbone_dropout=0.0),
        lambda: WiredCfCCell(wirings.NCP(4, 3, 2, 2, 2, 2, 2)),
    ], ids=["ltc", "cfc", "wired_cfc"])
    @pytest.mark.parametrize("go_backwards", [False, True])
    def test_sequence_path_matches_stepping(make, go_backwards):
        x = np.random.default_rng(1).normal(size=(3, 7, 4)).astype(np.float32)
        cell = make()
        outer = (LTC if isinstance(cell, LTCCell) else CfC)(cell.wiring if hasattr(cell, "wiring") else 6,
                                                           return_sequences=True, return_state=True,
                                                           go_backwards=go_backwards)
        outer.build((None, 7, 4))
        stepper = keras.layers.RNN(outer.cell, return_sequences=True, return_state=True, go_backwards=go_backwards)
        y1, h1 = outer(x)
        _common.FORCE_STEPS = True
        try:
            y2, h2 = stepper(x)
        finally:
            _common.FORCE_STEPS = False
        _close(_to_np(y1), _to_np(y2), 1e-5, "y")
        _close(_to_np(h1), _to_np(h2), 1e-5, "h")

    def test_plain_rnn_runs_our_cell_over_whole_sequences(monkeypatch):
        calls = []
        loop = _common.sequence_loop

        def spy(*a, **k):
            calls.append(1)
            return loop(*a, **k)

        monkeypatch.setattr(_common, "sequence_loop", spy)
        x = np.random.default_rng(4).normal(size=(2, 5, 2)).astype(np.float32)
        model = keras.Sequential([keras.Input((None, 2)),
                                  keras.layers.RNN(LTCCell(wirings.FullyConnected(8, 1)), return_sequences=True)])
        model.compile(keras.optimizers.Adam(0.01), "mse")
        model.fit(x, np.zeros((2, 5, 1), np.float32), epochs=1, verbose=0)
        assert calls, "keras.layers.RNN stepped the cell instead of one Go pass"
        masked = keras.layers.RNN(LTCCell(wirings.FullyConnected(4, 1)), return_sequences=True)
        n = len(calls)
        masked(x, mask=np.array([[True] * 5, [True] * 3 + [False] * 2]))
        assert len(calls) == n, "a masked sequence must be stepped"

    @pytest.mark.parametrize("base", ["ltc", "cfc", "wired_cfc"])
    def test_subclassed_cells_step_their_own_call(base):
        """A user's cell that overrides call is stepped by Keras (its step
        is what runs), in keras.layers.RNN and in the LTC / CfC layers."""
        cls, units = {"ltc": (LTCCell, wirings.FullyConnected(5, 2)), "cfc": (CfCCell, 5),
                      "wired_cfc": (WiredCfCCell, wirings.NCP(4, 3, 2, 2, 2, 2, 2))}[base]

        class Doubled(cls):
            def call(self, inputs, states, training=False, **kw):
                return super().call(inputs * 2.0, states, training=training, **kw)

        x = np.random.default_rng(3).normal(size=(2, 6, 3)).astype(np.float32)
        kw = {} if base == "ltc" else {"backbone_dropout": 0.0} if base == "cfc" else {}
        cell = Doubled(units, **kw)
        assert not _common.own_step(cell) and _common.own_step(cls(units, **kw))
        y_rnn = _to_np(keras.layers.RNN(cell)(x))
        state = [np.zeros((2, cell.state_size if isinstance(cell.state_size, int) else cell.state_size[0]),
                          np.float32)]
        for t in range(6):
            y, state = cell(x[:, t], state)
        _close(y_rnn, _to_np(y), 1e-5, "RNN(subclass) against stepping it")
        plain = cls(units, **kw)
        plain.build((None, 3))
        plain.set_weights(cell.get_weights())
        assert np.abs(_to_np(keras.layers.RNN(plain)(x)) - y_rnn).max() > 1e-3

    @pytest.mark.parametrize("policy", ["mixed_float16", "float64"])
    def test_stepped_cells_keep_the_state_dtype(policy):
        """Masked (stepped) layers and mixed memory train under mixed
        precision and float64: each step's results come back in the dtype
        of the state Keras's loop carries."""
        x = np.random.default_rng(5).random((4, 5, 3)).astype(np.float32)
        x[0, 3:] = 0
        old = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policy)
        try:
            for make in (lambda: CfC(4, mixed_memory=True), lambda: LTC(4), lambda: CfC(4, backbone_layers=2)):
                model = keras.Sequential([keras.Input((5, 3)), keras.layers.Masking(0.0), make()])
                model.compile("adam", "mse")
                hist = model.fit(x, np.zeros((4, 4), np.float32), epochs=2, verbose=0)
                assert np.all(np.isfinite(hist.history["loss"]))
        finally:
            keras.config.set_dtype_policy(old)

    def test_cell_step_with_elapsed_time():
        cell = CfCCell(5, backbone_dropout=0.0)
        x = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
        h = np.zeros((3, 5), np.float32)
        y1, _ = cell(x, [h])
        y2, _ = cell((x, np.ones((3, 1), np.float32)), [h])
        y3, _ = cell((x, np.full((3,), 0.5, np.float32)), [h])
        _close(_to_np(y1), _to_np(y2), 1e-6, "elapsed 1")
        assert np.abs(_to_np(y1) - _to_np(y3)).max() > 1e-4

    @pytest.mark.parametrize("make", [
        lambda: LTC(wirings.AutoNCP(12, 2), return_sequences=True),
        lambda: CfC(6, return_sequences=True, backbone_layers=2, backbone_units=8),
        lambda: CfC(wirings.AutoNCP(12, 2), return_sequences=True, mixed_memory=True),
        lambda: keras.layers.Bidirectional(LTC(6, return_sequences=True)),
    ], ids=["ltc", "cfc", "wired_cfc_mixed", "bidirectional_ltc"])
    def test_save_load_and_train(make, tmp_path):
        # Seeded: with five steps from an unseeded start the LTC's loss once
        # rose (0.1093 -> 0.1109, CI); twenty full-batch Adam steps from a
        # fixed one must lower it clearly.
        keras.utils.set_random_seed(11)
        x = np.random.default_rng(3).normal(size=(4, 6, 3)).astype(np.float32)
        model = keras.Sequential([keras.Input((None, 3)), make(), keras.layers.Dense(1)])
        model.compile(keras.optimizers.Adam(0.01), "mse")
        target = 0.5 * np.tanh(x[..., :1]) + 0.3
        hist = model.fit(x, target, epochs=20, batch_size=4, verbose=0).history["loss"]
        assert hist[-1] < 0.9 * hist[0], hist
        path = tmp_path / "m.keras"
        model.save(path)
        loaded = keras.models.load_model(path)
        for a, b in zip(model.get_weights(), loaded.get_weights()):
            np.testing.assert_array_equal(a, b)
        _close(_to_np(loaded(x)), _to_np(model(x)), 1e-6, "loaded model output")

    def test_function_activations_save_and_load(tmp_path):
        x = np.random.default_rng(6).normal(size=(2, 5, 3)).astype(np.float32)
        for act in (keras.activations.relu, keras.activations.gelu, "lecun_tanh"):
            model = keras.Sequential([keras.Input((5, 3)), CfC(4, activation=act)])
            model.save(tmp_path / "f.keras")
            loaded = keras.models.load_model(tmp_path / "f.keras")
            _close(_to_np(loaded(x)), _to_np(model(x)), 1e-6, f"activation {act}")

    def test_ncps_saved_files_load_with_these_classes(tmp_path):
        """.keras files that ncps.keras saved (their configs name ncps's
        classes and hold the activation as a function) load with these
        classes: through custom_objects, and with no argument under the
        compat runner, where ncps.keras is this package. (In a process that
        imports ncps, Keras resolves ncps's registered names to its classes
        whatever custom_objects say: the files are written by a child.)"""
        x = np.random.default_rng(7).normal(size=(2, 5, 3)).astype(np.float32)
        np.save(tmp_path / "x.npy", x)
        layers = ["NK.CfC(4, activation='relu')", "NK.CfC(4, backbone_layers=2, backbone_units=6)",
                  "NK.CfC(NW.AutoNCP(7, 2))", "NK.LTC(4)"]
        save = ("import numpy as np, keras\nimport ncps.keras as NK, ncps.wirings as NW\n"
                f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
                f"for i, make in enumerate({layers!r}):\n"
                "    m = keras.Sequential([keras.Input((5, 3)), eval(make)])\n"
                f"    m.save({str(tmp_path)!r} + f'/ref{{i}}.keras')\n"
                f"    np.save({str(tmp_path)!r} + f'/want{{i}}.npy', keras.ops.convert_to_numpy(m(x)))\n")
        env = _env(keras.backend.backend())
        run = subprocess.run([sys.executable, "-c", save], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-3000:]
        ours = {"ncps>CfC": CfC, "ncps>CfCCell": CfCCell, "ncps>WiredCfCCell": WiredCfCCell, "ncps>LTC": LTC,
                "ncps>LTCCell": LTCCell}
        for i, make in enumerate(layers):
            want = np.load(tmp_path / f"want{i}.npy")
            loaded = keras.models.load_model(tmp_path / f"ref{i}.keras", custom_objects=ours)
            assert type(loaded.layers[0]) is ours["ncps>" + make[3:6]]
            _close(_to_np(loaded(x)), want, 1e-5, f"{make} with custom_objects")
        load = ("import sys, numpy as np, keras\nimport ncps.keras\n"
                f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
                f"for i in range({len(layers)}):\n"
                f"    m = keras.models.load_model({str(tmp_path)!r} + f'/ref{{i}}.keras')\n"
                "    assert type(m.layers[0]).__module__.startswith('kerasncp_go.keras'), type(m.layers[0])\n"
                f"    np.save({str(tmp_path)!r} + f'/got{{i}}.npy', keras.ops.convert_to_numpy(m(x)))\n")
        (tmp_path / "load.py").write_text(load)
        run = subprocess.run([sys.executable, "-m", "kerasncp_go.compat", "--ncps", str(tmp_path / "load.py")],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-3000:]
        for i, make in enumerate(layers):
            _close(np.load(tmp_path / f"got{i}.npy"), np.load(tmp_path / f"want{i}.npy"), 1e-5,
                   f"{make} under the compat runner")

    def test_second_order_gradients_raise():
        """A gradient of the Go backward pass (a gradient penalty) is an
        error on every backend, never a silent None."""
        from conftest import assert_tf_second_order_raises

        backend = keras.backend.backend()
        x = np.random.default_rng(8).random((2, 5, 3)).astype(np.float32)
        for layer in (LTC(4), CfC(4)):
            layer(x)
            if backend == "tensorflow":
                assert_tf_second_order_raises(layer, x)
            elif backend == "torch":
                import torch

                xt = torch.tensor(x, requires_grad=True)
                with pytest.raises(RuntimeError, match="second-order gradients"):
                    torch.autograd.grad((layer(xt) ** 2).sum(), xt, create_graph=True)
            else:
                import jax
                import jax.numpy as jnp

                tv = [v.value for v in layer.trainable_variables]
                ntv = [v.value for v in layer.non_trainable_variables]

                def loss(tv, xj, layer=layer, ntv=ntv):
                    return jnp.sum(layer.stateless_call(tv, ntv, xj)[0] ** 2)

                def penalty(tv, xj, loss=loss):
                    return jnp.sum(jax.grad(loss, argnums=1)(tv, xj) ** 2)

                with pytest.raises(ValueError, match="cannot be differentiated"):
                    jax.grad(penalty)(tv, jnp.asarray(x))

    def test_set_random_seed_makes_dropout_repeat():
        """keras.utils.set_random_seed starts the dropout seeds too (the host
        callbacks' and the native op libraries'), as it does for Keras's own
        Dropout: seeded training repeats, another seed differs."""
        x = np.random.default_rng(9).normal(size=(8, 6, 3)).astype(np.float32)
        y = np.random.default_rng(10).normal(size=(8, 4)).astype(np.float32)

        def run(seed):
            keras.utils.set_random_seed(seed)
            model = keras.Sequential([keras.Input((6, 3)), CfC(4, backbone_layers=2, backbone_dropout=0.3)])
            model.compile(keras.optimizers.Adam(0.01), "mse")
            losses = model.fit(x, y, epochs=4, batch_size=4, verbose=0).history["loss"]
            return losses, _to_np(model.layers[0](x, training=True))

        (l1, o1), (l2, o2), (l3, o3) = run(5), run(5), run(6)
        assert l1 == l2 and np.array_equal(o1, o2)
        assert l1 != l3 and not np.array_equal(o1, o3)

    def test_configs_round_trip():
        for layer in (LTC(wirings.NCP(4, 3, 2, 2, 2, 2, 2), ode_unfolds=3, input_mapping="linear"),
                      CfC(5, mode="pure", backbone_layers=0), CfC(wirings.AutoNCP(9, 2), mode="no_gate")):
            again = type(layer).from_config(layer.get_config())
            a, b = layer.get_config(), again.get_config()
            for c in (a, b):
                c.pop("name")
                c["cell"]["config"].pop("name")
                c.pop("units") if not isinstance(c["units"], int) else None
                c.pop("wiring", None)
            assert a == b
        mm = MixedMemoryRNN(LTCCell(wirings.FullyConnected(4)))
        assert mm.state_size == [4, 4]

    @pytest.mark.parametrize("bad", ["width", "rank"])
    def test_bad_input_names_it(bad):
        layer = LTC(5)
        layer.build((None, 4, 3))
        x = np.ones((2, 4, 7) if bad == "width" else (2, 3), np.float32)
        with pytest.raises(Exception, match=r"(?i)shape|input|expected|incompatible|rank|dimension"):
            layer(x)

    def test_bad_arguments():
        with pytest.raises(ValueError, match="mode"):
            CfC(4, mode="fast")
        with pytest.raises(ValueError, match="activation"):
            CfC(4, activation="softsign")
        with pytest.raises(ValueError, match="backbone_units"):
            CfC(wirings.FullyConnected(4), backbone_units=8)
        with pytest.raises(ValueError, match="gleak"):
            LTC(4, initialization_ranges={"gleak": (-1.0, 1.0)})
        with pytest.raises(ValueError, match="input_mapping"):
            LTC(4, input_mapping="cubic")
        with pytest.raises(ValueError, match="fully_recurrent"):
            CfC(wirings.AutoNCP(8, 2), fully_recurrent=False)
        cell = CfCCell(4, backbone_dropout=0.0)
        with pytest.raises(Exception, match="elapsed"):
            y, _ = cell((np.ones((2, 3), np.float32), np.zeros((2, 1), np.float32)), [np.zeros((2, 4), np.float32)])
            _to_np(y)

    # CfC layers (units, return_sequences, kwargs) the native paths are checked on.
    _NATIVE_CFC_CASES = [
        (wirings.AutoNCP(12, 3), True, {}),
        (wirings.FullyConnected(8, 1), True, {}),  # motor outputs fewer than the cell's
        (wirings.NCP(4, 3, 2, 2, 2, 2, 2), False, {"mode": "no_gate"}),
        (6, True, {"mode": "pure", "backbone_layers": 0}),
        (5, False, {"backbone_layers": 2, "backbone_units": 7, "activation": "gelu"}),
    ]
    _NATIVE_CFC_IDS = ["autoncp", "fc_one_motor", "ncp_no_gate_last", "pure", "backbone2_last"]

    def _native_then_fallback(module, name, run):
        """[run(), run() again with module.name (the native path's switch)
        answering None, which sends the layers through their host
        callbacks]."""
        outs = [run()]
        saved = getattr(module, name)
        setattr(module, name, lambda: None)
        try:
            outs.append(run())
        finally:
            setattr(module, name, saved)
        return outs

    if INNER == "tensorflow":
        _SERVE = ("import sys, numpy as np, tensorflow as tf\n"
                  "loaded = tf.saved_model.load(sys.argv[1])\n"
                  "np.save(sys.argv[3], loaded.serve(tf.constant(np.load(sys.argv[2]))).numpy())\n"
                  "print('GO' if any(m.startswith('kerasncp_go') for m in sys.modules) else 'NOGO')\n")

        def test_a_traced_function_outlives_its_layer():
            """A graph of the native CfC ops names the Go model by its handle:
            a ConcreteFunction keeps working after its layer is gone."""
            import gc

            import tensorflow as tf

            x = np.random.default_rng(12).random((2, 5, 3)).astype(np.float32)

            def traced():
                layer = CfC(4)
                f = tf.function(lambda t: layer(t)).get_concrete_function(tf.TensorSpec((2, 5, 3), tf.float32))
                return f, f(tf.constant(x)).numpy()

            f, want = traced()
            gc.collect()
            np.testing.assert_array_equal(f(tf.constant(x)).numpy(), want)

        @pytest.mark.parametrize("make", [
            lambda: LTC(wirings.AutoNCP(10, 2), return_sequences=True),
            lambda: keras.layers.RNN(LTCCell(wirings.NCP(4, 3, 2, 2, 2, 2, 2)), go_backwards=True),
        ], ids=["ltc", "rnn_of_cell"])
        def test_export_ltc_runs_in_a_fresh_process(make, tmp_path):
            """model.export traces the LTC in TensorFlow ops (no PyFunc); the
            SavedModel runs in a process without this package and predicts
            what the live model does."""
            x = np.random.default_rng(5).normal(size=(3, 9, 3)).astype(np.float32)
            model = keras.Sequential([keras.Input((None, 3)), make()])
            export = tmp_path / "exported"
            model.export(str(export), verbose=False)
            assert b"PyFunc" not in (export / "saved_model.pb").read_bytes()
            np.save(tmp_path / "x.npy", x)
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            run = subprocess.run([sys.executable, "-c", _SERVE, str(export), str(tmp_path / "x.npy"),
                                  str(tmp_path / "y.npy")], env=env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, timeout=600)
            assert run.returncode == 0 and "NOGO" in run.stdout, run.stdout[-3000:]
            _close(np.load(tmp_path / "y.npy"), _to_np(model(x)), 1e-5, "exported model")

        # -- the native CfC ops (kerasncp_go.keras._tfop) ----------------------

        def _both_paths(run):
            """run() through the native ops, then through tf.numpy_function."""
            from kerasncp_go.keras import _tfop

            return _native_then_fallback(_tfop, "ops", run)

        def _native_and_numpy_function(layer_args, x):
            """(y, h, gradients) of a CfC layer through the native ops, then
            through tf.numpy_function, with the same weights."""
            import tensorflow as tf

            layer = CfC(*layer_args[:1], return_sequences=layer_args[1], return_state=True, **layer_args[2])
            layer.build((None,) + x.shape[1:])
            rng = np.random.default_rng(7)
            layer.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()])

            def run():
                xt = tf.constant(x)
                with tf.GradientTape() as tape:
                    tape.watch(xt)
                    y, h = layer(xt)
                    weights = tf.reshape(tf.cos(tf.range(tf.size(y), dtype=tf.float32)), tf.shape(y))
                    loss = tf.reduce_sum(y * weights) + tf.reduce_sum(h * 0.3)
                g = tape.gradient(loss, layer.trainable_weights + [xt])
                return _to_np(y), _to_np(h), [_to_np(v) for v in g]

            return _both_paths(run)

        @pytest.mark.parametrize("args", _NATIVE_CFC_CASES, ids=_NATIVE_CFC_IDS)
        def test_native_ops_match_the_numpy_function_path(args):
            """The CfC runs as native TensorFlow ops when they could be
            built (here, always: the tests have a C compiler) and gives the
            numpy_function path's numbers, gradients included; no tape is
            left behind."""
            from kerasncp_go.keras import _tfop

            x = np.random.default_rng(8).normal(size=(3, 5, 4)).astype(np.float32)
            before = _tfop.live_tapes()  # earlier tests may have left forward-only tapes (bounded)
            (y1, h1, g1), (y2, h2, g2) = _native_and_numpy_function(args, x)
            assert _tfop.status() == "loaded", _tfop.status()
            import kerasncp_go.keras as kk
            assert kk.native_ops_status() == "loaded"
            _close(y1, y2, 1e-6, "y")
            _close(h1, h2, 1e-6, "h")
            for i, (a, b) in enumerate(zip(g1, g2)):
                _close(a, b, 1e-5, f"gradient {i}")
            assert _tfop.live_tapes() == before

        @pytest.mark.parametrize("make", [
            lambda: CfCCell(5, backbone_dropout=0.0, mode="no_gate"),
            lambda: WiredCfCCell(wirings.NCP(4, 3, 2, 2, 2, 2, 2)),
        ], ids=["cfc", "wired_cfc"])
        def test_native_ops_match_with_elapsed_times(make):
            import tensorflow as tf

            from kerasncp_go.keras import _tfop

            x = tf.constant(np.random.default_rng(11).normal(size=(3, 4)).astype(np.float32))
            t = tf.constant(np.random.default_rng(12).uniform(0.3, 2.0, size=(3, 1)).astype(np.float32))
            cell = make()
            h0 = tf.constant(np.random.default_rng(13).normal(size=(3, cell.state_size)).astype(np.float32))
            cell((x, t), [h0])

            def run():
                with tf.GradientTape() as tape:
                    tape.watch([x, t, h0])
                    y, (h,) = cell((x, t), [h0])
                    loss = tf.reduce_sum(y * 1.7) + tf.reduce_sum(h * 0.3)
                g = tape.gradient(loss, cell.trainable_weights + [x, t, h0])
                return [_to_np(y), _to_np(h)] + [_to_np(v) for v in g]

            outs = _both_paths(run)
            assert _tfop.status() == "loaded", _tfop.status()
            for i, (a, b) in enumerate(zip(*outs)):
                _close(a, b, 1e-5, f"output/gradient {i}")

        def test_native_backward_without_its_tape_reruns_the_forward_pass(monkeypatch):
            """A backward op whose tape was never kept (or was evicted) runs
            the forward pass again and gives the same gradients."""
            from kerasncp_go.keras import _tf

            x = np.random.default_rng(10).normal(size=(2, 6, 3)).astype(np.float32)
            kept = _native_and_numpy_function((wirings.AutoNCP(9, 2), True, {}), x)[0]
            monkeypatch.setattr(_tf._record, "could_possibly_record", lambda: False)
            lost = _native_and_numpy_function((wirings.AutoNCP(9, 2), True, {}), x)[0]
            for i, (a, b) in enumerate(zip(kept[2], lost[2])):
                _close(a, b, 1e-6, f"gradient {i}")

        def test_native_ops_refuse_bad_shapes_with_a_message():
            import tensorflow as tf

            from kerasncp_go.keras import _host, _tf, _tfop

            layer = CfC(wirings.AutoNCP(9, 2))
            layer.build((None, 4, 3))
            kernel = layer.cell.kernel
            assert isinstance(kernel, _host.CfCKernel)
            params = layer.cell.kernel_params()
            x = tf.zeros((2, 4, 3))
            with pytest.raises(tf.errors.InvalidArgumentError, match="initial state must have shape"):
                _tf._native_cfc(_tfop.ops(), kernel, params, x, tf.zeros((2, 5)), None, True, False)
            with pytest.raises(tf.errors.InvalidArgumentError, match="weight 0 has"):
                _tf._native_cfc(_tfop.ops(), kernel, [tf.zeros((1,))] + list(params[1:]), x,
                                tf.zeros((2, kernel.state_size)), None, True, False)

        def test_export_of_a_cfc_holds_neither_pyfunc_nor_native_ops(tmp_path):
            model = keras.Sequential([keras.Input((None, 3)), CfC(wirings.AutoNCP(9, 2), return_sequences=True)])
            model(np.zeros((1, 4, 3), np.float32))
            export = tmp_path / "exported"
            model.export(str(export), verbose=False)
            pb = (export / "saved_model.pb").read_bytes()
            assert b"PyFunc" not in pb and b"KncpCfc" not in pb


    if INNER == "jax":
        # -- the XLA FFI handlers (kerasncp_go.keras._xlaffi) ------------------

        def _ffi_and_pure_callback(run):
            """run() through the FFI handlers, then through jax.pure_callback."""
            from kerasncp_go.keras import _xlaffi

            return _native_then_fallback(_xlaffi, "available", run)

        def _check_ffi_layer(layer):
            """A jitted value-and-gradient of a built layer (return_state=True)
            over (3, 5, 4) inputs runs the XLA FFI handlers (the tests have a
            C compiler) and gives the pure_callback path's numbers bit for
            bit; no tape is left."""
            import jax
            import jax.numpy as jnp

            from kerasncp_go.keras import _xlaffi

            x = np.random.default_rng(8).normal(size=(3, 5, 4)).astype(np.float32)
            tv = [v.value for v in layer.trainable_variables]
            ntv = [v.value for v in layer.non_trainable_variables]

            def loss(tv, x):
                out, _ = layer.stateless_call(tv, ntv, x)
                return jnp.sum(jnp.cos(out[0]) * 1.3) + sum(jnp.sum(jnp.sin(o)) for o in out[1:])

            before = _xlaffi.live_tapes()

            def run():
                value, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(tv, x)
                return [np.asarray(value)] + [np.asarray(g) for g in jax.tree_util.tree_leaves(grads)]

            ffi, callback = _ffi_and_pure_callback(run)
            assert _xlaffi.status() == "loaded", _xlaffi.status()
            assert len(ffi) == len(layer.trainable_variables) + 2
            for i, (a, b) in enumerate(zip(ffi, callback)):
                np.testing.assert_array_equal(a, b, err_msg=f"value/gradient {i}")
            assert _xlaffi.live_tapes() == before

        @pytest.mark.parametrize("args", _NATIVE_CFC_CASES, ids=_NATIVE_CFC_IDS)
        def test_ffi_matches_the_pure_callback_path(args):
            import kerasncp_go.keras as kk

            layer = CfC(args[0], return_sequences=args[1], return_state=True, **args[2])
            layer.build((None, 5, 4))
            rng = np.random.default_rng(7)
            layer.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()])
            _check_ffi_layer(layer)
            assert kk.native_ops_status() == "loaded"

        @pytest.mark.parametrize("make", [
            lambda: LTC(wirings.AutoNCP(12, 3), return_sequences=True, return_state=True),
            lambda: LTC(wirings.FullyConnected(6, 2), return_sequences=False, return_state=True,
                        input_mapping="linear", output_mapping=None, ode_unfolds=3),
            lambda: keras.layers.RNN(LTCCell(wirings.NCP(4, 3, 2, 2, 2, 2, 2)), return_sequences=True,
                                     return_state=True),
        ], ids=["autoncp", "fc_linear_unmapped", "drop_in_cell"])
        def test_ffi_ltc_matches_the_pure_callback_path(make):
            layer = make()
            layer.build((None, 5, 4))
            rng = np.random.default_rng(7)
            layer.set_weights([np.abs(rng.normal(size=w.shape)).astype(np.float32) * 0.5 + 0.1
                               for w in layer.get_weights()])
            _check_ffi_layer(layer)

        @pytest.mark.parametrize("make", [
            lambda: CfCCell(5, backbone_dropout=0.0, mode="no_gate"),
            lambda: WiredCfCCell(wirings.NCP(4, 3, 2, 2, 2, 2, 2)),
            lambda: LTCCell(wirings.NCP(4, 3, 2, 2, 2, 2, 2)),
        ], ids=["cfc", "wired_cfc", "ltc"])
        def test_ffi_matches_with_elapsed_times(make):
            import jax
            import jax.numpy as jnp

            cell = make()
            x = np.random.default_rng(11).normal(size=(3, 4)).astype(np.float32)
            t = np.random.default_rng(12).uniform(0.3, 2.0, size=(3, 1)).astype(np.float32)
            h0 = np.random.default_rng(13).normal(size=(3, cell.state_size)).astype(np.float32)
            cell((x, t), [h0])
            tv = [v.value for v in cell.trainable_variables]
            ntv = [v.value for v in cell.non_trainable_variables]

            def loss(tv, x, t, h0):
                (y, (h,)), _ = cell.stateless_call(tv, ntv, (x, t), [h0])
                return jnp.sum(y * 1.7) + jnp.sum(jnp.sin(h) * 0.3)

            def run():
                value, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))(tv, x, t, h0)
                return [np.asarray(value)] + [np.asarray(g) for g in jax.tree_util.tree_leaves(grads)]

            ffi, callback = _ffi_and_pure_callback(run)
            assert np.abs(ffi[-2]).max() > 0  # the elapsed times' gradient
            for i, (a, b) in enumerate(zip(ffi, callback)):
                np.testing.assert_array_equal(a, b, err_msg=f"value/gradient {i}")

        def _ffi_layer_call(dropout=0.0):
            """(the FFI function of a built CfC layer, its arguments), the
            handlers registered."""
            import jax.numpy as jnp

            from kerasncp_go.keras import _jax, _xlaffi

            assert _xlaffi.available(), _xlaffi.status()

            layer = CfC(6, backbone_units=8, backbone_dropout=dropout)
            layer.build((None, 4, 3))
            kernel = layer.cell.kernel
            x = jnp.asarray(np.random.default_rng(5).normal(size=(2, 4, 3)).astype(np.float32))
            args = (x, jnp.zeros((2, kernel.state_size), jnp.float32), _jax._packed(kernel, layer.cell.kernel_params()))
            return kernel, args, _jax._ffi_op(kernel, True, dropout > 0, False, tuple(a.shape for a in args))

        @pytest.mark.parametrize("dropout", [0.0, 0.4], ids=["plain", "dropout"])
        def test_ffi_backward_without_its_tape_reruns_the_forward_pass(dropout):
            """The backward handler given a tape id that is gone runs the
            forward pass again with the seed it is given (the forward
            pass's dropout draw) and gives the kept tape's gradients."""
            import jax

            from kerasncp_go.keras import _xlaffi

            kernel, args, f = _ffi_layer_call(dropout)
            (y, h), vjp = jax.vjp(f, *args)
            gy = np.cos(np.arange(y.size, dtype=np.float32)).reshape(y.shape)
            gh = np.ones(h.shape, np.float32)
            no_ts = np.zeros((0,), np.float32)
            attrs = {"model": np.int64(kernel.model.handle), "all_steps": np.int64(1),
                     "training": np.int64(dropout > 0), "has_ts": np.int64(0), "state": np.int64(h.shape[1])}
            fwd = jax.ffi.ffi_call(_xlaffi.FORWARD, (jax.ShapeDtypeStruct(y.shape, np.float32),
                                                      jax.ShapeDtypeStruct(h.shape, np.float32),
                                                      jax.ShapeDtypeStruct((), np.int32),
                                                      jax.ShapeDtypeStruct((), np.int32)))
            bwd = jax.ffi.ffi_call(_xlaffi.BACKWARD, tuple(jax.ShapeDtypeStruct(s, np.float32) for s in
                                                           (args[2].shape, args[0].shape, h.shape, (0,))))
            _, _, tid, seed = fwd(args[0], args[1], no_ts, args[2], keep=np.int64(1), **attrs)
            assert int(tid) > 0 and (int(seed) != 0) == (dropout > 0)
            kept = bwd(tid, seed, gy, gh, args[0], args[1], no_ts, args[2], **attrs)
            lost = bwd(tid, seed, gy, gh, args[0], args[1], no_ts, args[2], **attrs)  # that tape is used now
            for a, b in zip(kept[:3], lost[:3]):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
            if dropout == 0:  # no draw: the custom_vjp's own gradients are these too
                for a, b in zip(vjp((gy, gh)), (lost[1], lost[2], lost[0])):
                    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
            else:  # another seed, other gradients: the seed is what was rerun
                other = bwd(tid, seed + 1, gy, gh, args[0], args[1], no_ts, args[2], **attrs)
                assert np.abs(np.asarray(other[0]) - np.asarray(lost[0])).max() > 1e-6

        def test_a_compiled_step_outlives_its_layer_and_the_op_cache():
            """The handlers name a CfC's Go model by its handle: a compiled
            function keeps working after the layer is gone and the cache of
            FFI functions cleared."""
            import gc

            import jax
            import jax.numpy as jnp

            from kerasncp_go.keras import _jax

            def compiled_step():
                layer = CfC(6, backbone_units=8)
                layer.build((None, 4, 3))
                tv = [v.value for v in layer.trainable_variables]
                ntv = [v.value for v in layer.non_trainable_variables]

                def loss(tv, x):
                    return jnp.sum(layer.stateless_call(tv, ntv, x)[0])

                x = np.ones((2, 4, 3), np.float32)
                step = jax.jit(jax.grad(loss)).lower(tv, x).compile()
                return step, tv, x, step(tv, x)

            step, tv, x, first = compiled_step()
            _jax._ffi_op.cache_clear()
            gc.collect()
            for a, b in zip(step(tv, x), first):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

        def test_ffi_refuses_bad_shapes_with_a_message():
            import jax

            from kerasncp_go.keras import _xlaffi

            kernel, args, _ = _ffi_layer_call()
            fwd = jax.ffi.ffi_call(_xlaffi.FORWARD, (jax.ShapeDtypeStruct((2, 4, kernel.cell_output_size), np.float32),
                                                      jax.ShapeDtypeStruct((2, kernel.state_size), np.float32),
                                                      jax.ShapeDtypeStruct((), np.int32),
                                                      jax.ShapeDtypeStruct((), np.int32)))
            attrs = {"model": np.int64(kernel.model.handle), "all_steps": np.int64(1), "training": np.int64(0),
                     "has_ts": np.int64(0), "keep": np.int64(0)}
            with pytest.raises(Exception, match="initial state must have shape"):
                jax.block_until_ready(fwd(args[0], np.zeros((2, 5), np.float32), np.zeros((0,), np.float32),
                                          args[2], state=np.int64(kernel.state_size), **attrs))
            with pytest.raises(Exception, match="parameter|params|table|values"):
                jax.block_until_ready(fwd(args[0], args[1], np.zeros((0,), np.float32), args[2][:-1],
                                          state=np.int64(kernel.state_size), **attrs))
            with pytest.raises(Exception, match="int64 attributes"):
                jax.block_until_ready(fwd(args[0], args[1], np.zeros((0,), np.float32), args[2], **attrs))

        def test_ffi_ltc_refuses_bad_input_with_a_message():
            """The LTC handlers check what a caller other than this package's
            layers could get wrong: the state's shape, where the weights lie
            in their vector, the attributes."""
            import jax
            import jax.numpy as jnp

            from kerasncp_go.keras import _jax, _xlaffi

            assert _xlaffi.available(), _xlaffi.status()
            layer = LTC(wirings.FullyConnected(5, 2))
            layer.build((None, 4, 3))
            kernel = layer.cell.kernel
            x = jnp.ones((2, 4, 3), jnp.float32)
            flat = jnp.concatenate([jnp.reshape(p, (-1,)) for p in layer.cell.kernel_params()])
            f = _jax._ffi_ltc_op(kernel, True, False, ((2, 4, 3), (2, 5), tuple(flat.shape)))
            y, h = f(x, jnp.zeros((2, 5), jnp.float32), flat)  # the right call runs
            assert y.shape == (2, 4, 2) and np.isfinite(np.asarray(y)).all()
            fwd = jax.ffi.ffi_call(_xlaffi.LTC_FORWARD, (jax.ShapeDtypeStruct((2, 4, 2), np.float32),
                                                          jax.ShapeDtypeStruct((2, 5), np.float32),
                                                          jax.ShapeDtypeStruct((), np.int32)))
            cell = kernel.cell
            masks = np.concatenate([cell.mask.ravel(), cell.sensory_mask.ravel()]).astype(np.float32)
            n = len(_jax._rules.PARAM_ORDER)
            attrs = {"units": np.int64(5), "sensory": np.int64(3), "motor": np.int64(2),
                     "input_mapping": np.int64(cell.input_mapping), "output_mapping": np.int64(cell.output_mapping),
                     "ode_unfolds": np.int64(6), "epsilon": np.float64(1e-8), "all_steps": np.int64(1),
                     "has_ts": np.int64(0), "keep": np.int64(0)}
            far = {"offsets": np.full(n, 10**6, np.int64), "sizes": np.ones(n, np.int64)}
            with pytest.raises(Exception, match="outside its buffer"):
                jax.block_until_ready(fwd(x, jnp.zeros((2, 5), jnp.float32), np.zeros((0,), np.float32), flat, masks,
                                          **attrs, **far))
            with pytest.raises(Exception, match="lacks one of its attributes"):
                jax.block_until_ready(fwd(x, jnp.zeros((2, 5), jnp.float32), np.zeros((0,), np.float32), flat, masks,
                                          **attrs))
            with pytest.raises(Exception, match="initial state must have shape"):
                jax.block_until_ready(fwd(x, jnp.zeros((2, 4), jnp.float32), np.zeros((0,), np.float32), flat, masks,
                                          **attrs, **far))

    if INNER in ("tensorflow", "jax"):
        @pytest.mark.parametrize("how", ["disabled", "no_compiler"])
        def test_without_native_calls_the_layers_run_through_host_callbacks(how, tmp_path):
            """Native ops (TensorFlow) and FFI handlers (JAX) turned off, or
            not buildable: the layers still run, through tf.numpy_function /
            jax.pure_callback, and native_ops_status() says why."""
            var, what = {"tensorflow": ("KERASNCP_GO_TF_OP", "the TensorFlow op"),
                         "jax": ("KERASNCP_GO_JAX_FFI", "the XLA FFI handlers")}[INNER]
            code = ("import numpy as np, kerasncp_go.keras as kk\n"
                    "from kerasncp_go import wirings\n"
                    "x = np.ones((2, 4, 3), 'float32')\n"
                    "for layer in (kk.CfC(wirings.AutoNCP(9, 2)), kk.LTC(wirings.AutoNCP(9, 2))):\n"
                    "    print('finite', bool(np.isfinite(np.asarray(layer(x))).all()))\n"
                    "print('status:', kk.native_ops_status())\n")
            env = {var: "0"} if how == "disabled" else {"CC": "false"}
            run = subprocess.run([sys.executable, "-c", code], env=dict(_env(INNER), KERASNCP_GO_CACHE=str(tmp_path),
                                                                         **env),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
            assert run.returncode == 0 and run.stdout.count("finite True") == 2, run.stdout[-3000:]
            want = f"disabled by {var}=0" if how == "disabled" else f"building {what} failed"
            assert want in run.stdout, run.stdout[-3000:]
            assert not list(tmp_path.glob("*.so")), "a failed build left a library behind"

    def test_native_ops_status_names_the_backend():
        import kerasncp_go.keras as kk

        want = "loaded" if INNER in ("tensorflow", "jax") else f"not used on the {INNER} backend"
        assert kk.native_ops_status() == want
