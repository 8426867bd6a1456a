"""The NumPy CfC family (kerasncp_go.CfC, CfCCell, WiredCfCCell) against
ncps 1.0.1: the committed fixtures of tests_py/gen_cfc_fixtures.py, and
live comparisons with the installed reference on configurations the
fixtures do not hold."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import kerasncp_go as kncp
from kerasncp_go import wirings

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "tests_go", "testdata", "cfc")
with open(os.path.join(FIXTURES, "manifest.json")) as f:
    MANIFEST = json.load(f)

#: backbone_units=0 with a backbone: the reference accepts it (the heads
#: then read nothing); kerasncp-go refuses it as a size < 1 (README).
REFUSED = {"bb_bu0_default"}


def _wiring(spec):
    cls = getattr(wirings, spec["class"])
    return cls(**spec["args"])


def _model(fx):
    dtype = np.dtype(fx["dtype"])
    if fx["wiring"] is None:
        return kncp.CfC(fx["input_size"], fx["units"], proj_size=fx["proj_size"],
                        return_sequences=fx["return_sequences"], batch_first=fx["batch_first"],
                        mixed_memory=fx["mixed_memory"], mode=fx["mode"], activation=fx["activation"],
                        backbone_units=fx["backbone_units"], backbone_layers=fx["backbone_layers"],
                        backbone_dropout=fx["backbone_dropout"], dtype=dtype, seed=1)
    return kncp.CfC(fx["input_size"], _wiring(fx["wiring"]), proj_size=fx["proj_size"],
                    return_sequences=fx["return_sequences"], batch_first=fx["batch_first"],
                    mixed_memory=fx["mixed_memory"], mode=fx["mode"], dtype=dtype, seed=1)


def _close(got, want, rtol, name, fx):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{fx}: {name} shape {got.shape}, want {want.shape}"
    scale = max(np.abs(want).max(), 1e-3)
    err = np.abs(got - want).max() / scale
    assert err <= rtol, f"{fx}: {name} off by {err:.3g} relative to max |want| (tolerance {rtol})"


def _tol(fx):
    return (1e-5, 1e-4) if fx["dtype"] == "float32" else (1e-12, 1e-10)


@pytest.mark.parametrize("fx", [f for f in MANIFEST["fixtures"] if f["name"] not in REFUSED],
                         ids=lambda f: f["name"])
def test_fixture(fx):
    z = np.load(os.path.join(FIXTURES, fx["name"] + ".npz"))
    rnn = _model(fx)
    params = {k[len("param/"):]: z[k] for k in z.files if k.startswith("param/")}
    assert set(params) == set(rnn.state_dict()), "parameter names differ from ncps's state_dict"
    rnn.load_state_dict(params)
    bf = fx["batch_first"]
    x = z["x"] if bf else np.swapaxes(z["x"], 0, 1)
    ts = None
    if fx["timespans"] != "none":
        ts = z["ts"] if bf else z["ts"].T
    hx = (z["h0"], z["c0"]) if fx["mixed_memory"] else z["h0"]
    ftol, gtol = _tol(fx)

    y, state = rnn(x, hx, ts)
    y_bm = y if (bf or not fx["return_sequences"]) else np.swapaxes(y, 0, 1)
    _close(y_bm, z["y"], ftol, "y", fx["name"])
    h = state[0] if fx["mixed_memory"] else state
    _close(h, z["h"], ftol, "h", fx["name"])
    if fx["mixed_memory"]:
        _close(state[1], z["c"], ftol, "c", fx["name"])

    y2, _, tape = rnn.forward_with_tape(x, hx, ts)
    np.testing.assert_array_equal(y2, y)
    gy = z["gy"] if (bf or not fx["return_sequences"]) else np.swapaxes(z["gy"], 0, 1)
    gstate = (z["gh"], z["gc"]) if fx["mixed_memory"] else z["gh"]
    g = rnn.backward(tape, gy, gstate)
    grads = {k[len("grad/"):]: z[k] for k in z.files if k.startswith("grad/")}
    trainable = {k for k in g if k not in ("input", "h0", "c0", "timespans")}
    assert trainable == set(grads), "trainable parameters differ from ncps's"
    for name, want in grads.items():
        _close(g[name], want, gtol, "grad " + name, fx["name"])
    gx = g["input"] if bf else np.swapaxes(g["input"], 0, 1)
    _close(gx, z["gx"], gtol, "gx", fx["name"])
    _close(g["h0"], z["gh0"], gtol, "gh0", fx["name"])
    if fx["mixed_memory"]:
        _close(g["c0"], z["gc0"], gtol, "gc0", fx["name"])


def test_refused_backbone_units_zero():
    with pytest.raises(ValueError, match="backbone_units"):
        kncp.CfC(3, 4, backbone_units=0)


# -- live comparisons with the installed reference --------------------------

# torch and ncps are hard requirements of the suite (tests_py/requirements.txt).
import ncps.torch as ncps_torch  # noqa: E402
import ncps.wirings as nw  # noqa: E402
import torch  # noqa: E402


def _copy_into_ours(ref, ours):
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})


LIVE = [
    dict(units=24, mode="default", activation="gelu", backbone_units=20, backbone_layers=2),
    dict(units=10, mode="no_gate", activation="silu", backbone_layers=0, mixed_memory=True, proj_size=4),
    dict(units=12, mode="pure", activation="relu", backbone_units=7, backbone_layers=4, return_sequences=False),
    dict(wiring=("AutoNCP", (20, 3), {"seed": 5}), mode="default", mixed_memory=True),
    dict(wiring=("NCP", (5, 4, 2, 3, 2, 2, 2), {"seed": 9}), mode="no_gate", proj_size=2, batch_first=False),
    dict(wiring=("Random", (9, 9, 0.4), {"random_seed": 3}), mode="pure"),
]


@pytest.mark.parametrize("cfg", LIVE, ids=range(len(LIVE)))
def test_live_against_ncps(cfg):
    cfg = dict(cfg)
    torch.manual_seed(0)
    rng = np.random.default_rng(42)
    in_size, b, t = 5, 3, 7
    w = cfg.pop("wiring", None)
    if w is not None:
        name, args, kw = w
        ref = ncps_torch.CfC(in_size, getattr(nw, name)(*args, **kw), **cfg)
        ours = kncp.CfC(in_size, getattr(wirings, name)(*args, **kw), **cfg)
    else:
        units = cfg.pop("units")
        ref = ncps_torch.CfC(in_size, units, **cfg)
        ours = kncp.CfC(in_size, units, **cfg)
    _copy_into_ours(ref, ours)
    bf = cfg.get("batch_first", True)
    shape = (b, t, in_size) if bf else (t, b, in_size)
    x = rng.normal(size=shape).astype(np.float32)
    h0 = rng.normal(size=(b, ours.state_size)).astype(np.float32)
    hx = (h0, rng.normal(size=h0.shape).astype(np.float32)) if cfg.get("mixed_memory") else h0
    xt = torch.tensor(x, requires_grad=True)
    hxt = tuple(torch.tensor(v) for v in hx) if isinstance(hx, tuple) else torch.tensor(hx)
    yr, _ = ref(xt, hxt)
    y, _ = ours(x, hx)
    _close(y, yr.detach().numpy(), 1e-5, "y", str(cfg))
    gy = rng.normal(size=y.shape).astype(np.float32)
    (yr * torch.tensor(gy)).sum().backward()
    _, _, tape = ours.forward_with_tape(x, hx)
    g = ours.backward(tape, gy)
    for name, p in ref.named_parameters():
        if not p.requires_grad:  # the wiring's masks
            assert name not in g
            continue
        _close(g[name], p.grad.numpy(), 1e-4, "grad " + name, str(cfg))
    _close(g["input"], xt.grad.numpy(), 1e-4, "grad input", str(cfg))


def test_timespans_per_sample_at_every_batch_size():
    """ncps's CfC squeezes timespans and fails for batch > 1; the reference's
    own cells, stepped with (batch, 1) times, give the numbers to match."""
    torch.manual_seed(1)
    rng = np.random.default_rng(3)
    for b in (1, 2, 8, 16):  # 16 == units: the reference's broadcasting trap
        ref = ncps_torch.CfC(4, 16, backbone_units=8)
        ours = kncp.CfC(4, 16, backbone_units=8)
        _copy_into_ours(ref, ours)
        x = rng.normal(size=(b, 6, 4)).astype(np.float32)
        ts = rng.uniform(0.2, 2.0, size=(b, 6)).astype(np.float32)
        h = torch.zeros(b, 16)
        ys = []
        for k in range(6):
            y_k, h = ref.rnn_cell(torch.tensor(x[:, k]), h, torch.tensor(ts[:, k:k + 1]))
            ys.append(y_k)
        want = torch.stack(ys, 1).detach().numpy()
        y, _ = ours(x, None, ts)
        _close(y, want, 1e-5, "y", f"batch {b}")
        y3, _ = ours(x, None, ts[..., None])
        np.testing.assert_array_equal(y3, y)


def test_cells_against_ncps():
    torch.manual_seed(2)
    rng = np.random.default_rng(5)
    ref = ncps_torch.CfCCell(3, 6, mode="no_gate", backbone_units=5, backbone_layers=2)
    ours = kncp.CfCCell(3, 6, mode="no_gate", backbone_units=5, backbone_layers=2)
    _copy_into_ours(ref, ours)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    h = rng.normal(size=(4, 6)).astype(np.float32)
    ts = rng.uniform(0.5, 1.5, size=(4, 1)).astype(np.float32)
    want, _ = ref(torch.tensor(x), torch.tensor(h), torch.tensor(ts))
    got, _ = ours(x, h, ts)
    _close(got, want.detach().numpy(), 1e-5, "CfCCell", "")

    wiring_ref, wiring_ours = nw.AutoNCP(12, 2, seed=4), wirings.AutoNCP(12, 2, seed=4)
    ref = ncps_torch.WiredCfCCell(3, wiring_ref, mode="pure")
    ours = kncp.WiredCfCCell(3, wiring_ours, mode="pure")
    _copy_into_ours(ref, ours)
    h = rng.normal(size=(4, 12)).astype(np.float32)
    want_y, want_h = ref(torch.tensor(x), torch.tensor(h), 1.0)
    got_y, got_h = ours(x, h)
    _close(got_y, want_y.detach().numpy(), 1e-5, "WiredCfCCell y", "")
    _close(got_h, want_h.detach().numpy(), 1e-5, "WiredCfCCell h", "")
    assert ours.layer_sizes == ref.layer_sizes and ours.state_size == ref.state_size

    mask = (rng.uniform(size=(3 + 5, 5)) > 0.4).astype(np.float32) * rng.choice([-1, 1], size=(8, 5))
    ref = ncps_torch.CfCCell(3, 5, backbone_layers=0, sparsity_mask=mask)
    ours = kncp.CfCCell(3, 5, backbone_layers=0, sparsity_mask=mask)
    assert set(ours.state_dict()) == set(ref.state_dict())
    _copy_into_ours(ref, ours)
    h = rng.normal(size=(4, 5)).astype(np.float32)
    want, _ = ref(torch.tensor(x), torch.tensor(h), 1.0)
    got, _ = ours(x, h)
    _close(got, want.detach().numpy(), 1e-5, "masked CfCCell", "")


# -- bad input ----------------------------------------------------------------

@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(mode="gated"), ValueError, "mode"),
    (dict(activation="swish"), ValueError, "activation"),
    (dict(backbone_layers=-1), ValueError, "backbone_layers"),
    (dict(backbone_units=0), ValueError, "backbone_units"),
    (dict(backbone_dropout=1.0), ValueError, "backbone_dropout"),
    (dict(proj_size=0), ValueError, "proj_size"),
    (dict(backbone_units=2.5), TypeError, "backbone_units"),
])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        kncp.CfC(3, 4, **kwargs)


def test_wired_rejects_backbone_and_mismatched_wiring():
    with pytest.raises(ValueError, match="backbone_units"):
        kncp.CfC(3, wirings.AutoNCP(8, 2), backbone_units=4)
    w = wirings.AutoNCP(8, 2)
    w.build(5)
    with pytest.raises(ValueError):
        kncp.CfC(3, w)


@pytest.mark.parametrize("call, match", [
    (lambda m: m(np.zeros((2, 3, 4), np.float32)), "input|x"),
    (lambda m: m(np.zeros((2, 3, 3), np.float32), np.zeros((3, 6), np.float32)), "h0"),
    (lambda m: m(np.zeros((2, 3, 3), np.float32), None, np.zeros((2, 3), np.float32)), "finite and > 0"),
    (lambda m: m(np.zeros((2, 3, 3), np.float32), None, np.full((2, 3), np.nan)), "finite and > 0"),
    (lambda m: m(np.zeros((2, 3, 3), np.float32), None, np.ones((4, 3))), "broadcast"),
])
def test_bad_call(call, match):
    rnn = kncp.CfC(3, 6, seed=0)
    before = rnn.flat_params.copy()
    with pytest.raises(ValueError, match=match):
        call(rnn)
    np.testing.assert_array_equal(rnn.flat_params, before)


def test_mixed_memory_state_rules_and_tape_once():
    rnn = kncp.CfC(3, 4, mixed_memory=True, seed=0)
    x = np.ones((2, 5, 3), np.float32)
    with pytest.raises(ValueError, match="pair"):
        rnn(x, np.zeros((2, 4), np.float32))
    y, (h, c) = rnn(x)
    assert h.shape == c.shape == (2, 4)
    _, _, tape = rnn.forward_with_tape(x)
    rnn.backward(tape, np.ones_like(y))
    with pytest.raises(ValueError, match="one backward"):
        rnn.backward(tape, np.ones_like(y))


def test_unbatched_and_float64_and_state_dict_roundtrip():
    rnn = kncp.CfC(3, 5, proj_size=2, seed=3)
    x = np.random.default_rng(0).normal(size=(6, 3))
    y, h = rnn(x)
    yb, hb = rnn(x[None])
    np.testing.assert_allclose(y, yb[0], rtol=1e-6)
    np.testing.assert_allclose(h, hb[0], rtol=1e-6)
    r64 = kncp.CfC(3, 5, proj_size=2, dtype=np.float64, seed=9)
    r64.load_state_dict(rnn.state_dict())
    y64, _ = r64(x)
    np.testing.assert_allclose(y64, y, rtol=1e-5, atol=1e-6)
    other = kncp.CfC(3, 5, proj_size=2, seed=4)
    assert not np.array_equal(other.flat_params, rnn.flat_params)
    other.load_state_dict(rnn.state_dict())
    np.testing.assert_array_equal(other(x)[0], y)


def test_dropout_only_in_training():
    rnn = kncp.CfC(3, 6, backbone_layers=3, backbone_units=16, backbone_dropout=0.5, seed=0)
    x = np.random.default_rng(1).normal(size=(4, 5, 3)).astype(np.float32)
    y_eval, _ = rnn(x)
    np.testing.assert_array_equal(rnn(x)[0], y_eval)
    rnn.train()
    y_train, _ = rnn(x)
    assert not np.allclose(y_train, y_eval)
    rnn.eval()
    np.testing.assert_array_equal(rnn(x)[0], y_eval)


def test_foreign_multilayer_wiring_refused_single_layer_converts():
    """An ncps NCP's layers set the wired CfC's structure and do not convert:
    refused (the torch binding shares the rule); a one-layer ncps wiring has
    nothing to lose and gives the reference's numbers."""
    with pytest.raises(TypeError, match="layers"):
        kncp.CfC(3, nw.AutoNCP(10, 2, seed=1))
    with pytest.raises(TypeError, match="layers"):
        kncp.WiredCfCCell(3, nw.NCP(4, 3, 2, 2, 2, 2, 2))
    torch.manual_seed(0)
    ref = ncps_torch.CfC(3, nw.Random(6, 6, 0.3, random_seed=2))
    ours = kncp.CfC(3, nw.Random(6, 6, 0.3, random_seed=2))
    _copy_into_ours(ref, ours)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    _close(ours(x)[0], ref(torch.tensor(x))[0].detach().numpy(), 1e-5, "y", "ncps Random wiring")
