"""kerasncp_go.torch's CfC family against the real ncps 1.0.1 torch modules
(and keras-ncp 2.1.0's experimental ones where a copy is given): same
state_dict keys and initial values, outputs, every gradient, training
trajectories, timespans per sample at every batch size; the committed
fixtures of tests_py/gen_cfc_fixtures.py; gradcheck; bad input; the
reference's own test file through the compat runner."""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
import textwrap

import ncps.torch as NT
import ncps.wirings as NW
import numpy as np
import pytest
import torch
from ncps.torch.lstm import LSTMCell as RefLSTMCell

import kerasncp_go.torch as GT
import kerasncp_go.torch.experimental as GE
import kerasncp_go.wirings as GW
from conftest import ROOT, rel_err

FIXTURES = ROOT / "tests_go" / "testdata" / "cfc"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
#: backbone_units=0 with a backbone: ncps accepts it, kerasncp-go refuses it
#: (a size < 1; README).
REFUSED = {"bb_bu0_default"}

FTOL, GTOL = 1e-5, 1e-4  # float32: outputs, gradients (issue 13)


def _same_init(make_ref, make_ours, seed=0):
    torch.manual_seed(seed)
    ref = make_ref()
    torch.manual_seed(seed)
    ours = make_ours()
    return ref, ours


def _assert_same_state(ref, ours):
    rs, os_ = ref.state_dict(), ours.state_dict()
    assert list(rs) == list(os_)
    for k in rs:
        assert rs[k].shape == os_[k].shape and rs[k].dtype == os_[k].dtype, k
        assert torch.equal(rs[k], os_[k]), f"{k}: the same torch seed must give the same initial values"
    assert [n for n, p in ref.named_parameters() if p.requires_grad] == \
        [n for n, p in ours.named_parameters() if p.requires_grad]


def _leaf(t):
    return None if t is None else t.detach().clone().requires_grad_()


def _check(name, got, want, tol):
    err = rel_err(got.detach(), want.detach())
    assert got.shape == want.shape, f"{name}: shape {tuple(got.shape)}, want {tuple(want.shape)}"
    assert err <= tol, f"{name}: off by {err:.3g} relative to max |want| (tolerance {tol})"


def _compare_sequences(ref, ours, x, hx=None, timespans=None, ftol=FTOL, gtol=GTOL):
    """Outputs, final states and every gradient (parameters, input, initial
    state) of sum(y gy) + sum(h gh) (+ sum(c gc))."""
    g = torch.Generator().manual_seed(7)
    mixed = isinstance(hx, tuple)
    outs = {}
    for tag, m in (("ref", ref), ("ours", ours)):
        xs = _leaf(x)
        hs = tuple(_leaf(v) for v in hx) if mixed else _leaf(hx)
        y, state = m(xs, hs, timespans) if timespans is not None else m(xs, hs)
        outs[tag] = (xs, hs, y, state)
    (_, _, yr, sr), (_, _, yo, so) = outs["ref"], outs["ours"]
    _check("y", yo, yr, ftol)
    s_r = sr if isinstance(sr, tuple) else (sr,)
    s_o = so if isinstance(so, tuple) else (so,)
    for i, (a, b) in enumerate(zip(s_o, s_r)):
        _check(f"state[{i}]", a, b, ftol)
    gy = torch.randn(yr.shape, generator=g)
    gs = [torch.randn(v.shape, generator=g) for v in s_r]
    for tag, m in (("ref", ref), ("ours", ours)):
        _, _, y, state = outs[tag]
        st = state if isinstance(state, tuple) else (state,)
        m.zero_grad()
        (sum((v * gv).sum() for v, gv in zip(st, gs)) + (y * gy).sum()).backward()
    (xr, hr, _, _), (xo, ho, _, _) = outs["ref"], outs["ours"]
    _check("grad input", xo.grad, xr.grad, gtol)
    if hx is not None:
        for i, (a, b) in enumerate(zip(ho if mixed else (ho,), hr if mixed else (hr,))):
            _check(f"grad hx[{i}]", a.grad, b.grad, gtol)
    pr, po = dict(ref.named_parameters()), dict(ours.named_parameters())
    for n, p in pr.items():
        if p.grad is None:
            assert po[n].grad is None or not po[n].grad.any(), n
            continue
        _check("grad " + n, po[n].grad, p.grad, gtol)


# -- ncps.torch.CfC: every mode, activation and backbone depth ---------------

MODES = ["default", "pure", "no_gate"]
ACTIVATIONS = ["lecun_tanh", "tanh", "relu", "gelu", "silu"]
PLAIN = []
for i, (mode, act) in enumerate((m, a) for m in MODES for a in ACTIVATIONS):
    PLAIN.append(dict(mode=mode, activation=act, backbone_layers=i % 4, backbone_units=[128, 12, 20, 7][i % 4],
                      mixed_memory=i % 2 == 1, proj_size=[None, 3][(i // 2) % 2], batch_first=i % 3 != 2,
                      return_sequences=i % 5 != 4))
PLAIN.append(dict(mode="default", activation="lecun_tanh"))  # the defaults (backbone 128, 1 layer)


@pytest.mark.parametrize("cfg", PLAIN, ids=[f"{c['mode']}-{c['activation']}-bb{c.get('backbone_layers', 1)}"
                                            f"{'-mm' if c.get('mixed_memory') else ''}"
                                            f"{'-proj' if c.get('proj_size') else ''}"
                                            f"{'-tm' if c.get('batch_first') is False else ''}" for c in PLAIN])
def test_cfc_matches_ncps(cfg):
    ref, ours = _same_init(lambda: NT.CfC(5, 9, **cfg), lambda: GT.CfC(5, 9, **cfg))
    _assert_same_state(ref, ours)
    for a in ("state_size", "output_size", "use_mixed", "batch_first", "return_sequences", "proj_size"):
        assert getattr(ours, a) == getattr(ref, a), a
    bf = cfg.get("batch_first", True)
    x = torch.randn((3, 6, 5) if bf else (6, 3, 5))
    h0 = torch.randn(3, 9)
    hx = (h0, torch.randn(3, 9)) if cfg.get("mixed_memory") else h0
    _compare_sequences(ref, ours, x, hx)
    _compare_sequences(ref, ours, x)  # hx=None: zeros


WIRED = [
    ("FullyConnected", (8,), {"output_dim": 8}, dict(mode="default")),
    ("Random", (9, 9, 0.4), {"random_seed": 3}, dict(mode="pure", mixed_memory=True)),
    ("NCP", (5, 4, 2, 3, 2, 2, 2), {"seed": 9}, dict(mode="no_gate", proj_size=2, batch_first=False)),
    ("AutoNCP", (20, 3), {"seed": 5}, dict(mode="default", mixed_memory=True, proj_size=4)),
    ("AutoNCP", (16, 2), {}, dict(mode="pure", return_sequences=False, batch_first=False)),
    ("NCP", (6, 4, 3, 2, 2, 3, 2), {}, dict(mode="default", mixed_memory=True, return_sequences=False)),
]


@pytest.mark.parametrize("kind,args,kw,cfg", WIRED, ids=[f"{w[0]}-{w[3]['mode']}-{i}" for i, w in enumerate(WIRED)])
def test_wired_cfc_matches_ncps(kind, args, kw, cfg):
    ref, ours = _same_init(lambda: NT.CfC(4, getattr(NW, kind)(*args, **kw), **cfg),
                           lambda: GT.CfC(4, getattr(GW, kind)(*args, **kw), **cfg))
    _assert_same_state(ref, ours)
    assert ours.wired_mode and ours.rnn_cell.layer_sizes == ref.rnn_cell.layer_sizes
    for a in ("state_size", "output_size", "num_layers", "sensory_size", "motor_size", "synapse_count"):
        src_r = ref if hasattr(ref, a) else ref.rnn_cell
        src_o = ours if hasattr(ref, a) else ours.rnn_cell
        assert getattr(src_o, a) == getattr(src_r, a), a
    n = ours.state_size
    bf = cfg.get("batch_first", True)
    x = torch.randn((2, 7, 4) if bf else (7, 2, 4))
    h0 = torch.randn(2, n)
    _compare_sequences(ref, ours, x, (h0, torch.randn(2, n)) if cfg.get("mixed_memory") else h0)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("mixed", [False, True])
def test_unbatched_input_like_ncps(batch_first, return_sequences, mixed):
    cfg = dict(batch_first=batch_first, return_sequences=return_sequences, mixed_memory=mixed, proj_size=3)
    ref, ours = _same_init(lambda: NT.CfC(4, 6, **cfg), lambda: GT.CfC(4, 6, **cfg))
    x = torch.randn(5, 4)
    h0 = torch.randn(6)
    _compare_sequences(ref, ours, x, (h0, torch.randn(6)) if mixed else h0)
    yr, _ = ref(x)
    yo, _ = ours(x)
    assert yo.shape == yr.shape


def test_wired_cfc_cell_matches_ncps():
    ref, ours = _same_init(lambda: NT.WiredCfCCell(3, NW.AutoNCP(12, 3), mode="no_gate"),
                           lambda: GT.WiredCfCCell(3, GW.AutoNCP(12, 3), mode="no_gate"))
    _assert_same_state(ref, ours)
    for a in ("state_size", "layer_sizes", "num_layers", "sensory_size", "motor_size", "output_size",
              "synapse_count"):
        assert getattr(ours, a) == getattr(ref, a), a
    x, h = torch.randn(4, 3), torch.randn(4, 12)
    ts = torch.rand(4, 1) + 0.5
    _compare_steps(ref, ours, x, h, ts)


def _compare_steps(ref, ours, x, h, ts):
    xr, hr, tr = _leaf(x), _leaf(h), _leaf(ts)
    xo, ho, to = _leaf(x), _leaf(h), _leaf(ts)
    (yr, sr), (yo, so) = ref(xr, hr, tr), ours(xo, ho, to)
    _check("y", yo, yr, FTOL)
    _check("h", so, sr, FTOL)
    g = torch.Generator().manual_seed(3)
    gy, gh = torch.randn(yr.shape, generator=g), torch.randn(sr.shape, generator=g)
    ((yr * gy).sum() + (sr * gh).sum()).backward()
    ((yo * gy).sum() + (so * gh).sum()).backward()
    for name, a, b in (("x", xo, xr), ("h", ho, hr), ("ts", to, tr)):
        _check("grad " + name, a.grad, b.grad, GTOL)
    pr, po = dict(ref.named_parameters()), dict(ours.named_parameters())
    for n, p in pr.items():
        if p.grad is not None:
            _check("grad " + n, po[n].grad, p.grad, GTOL)
        else:
            assert po[n].grad is None, n


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("layers", [0, 1, 3])
def test_cfc_cell_matches_ncps(mode, layers):
    kw = dict(mode=mode, backbone_activation="silu", backbone_units=10, backbone_layers=layers)
    ref, ours = _same_init(lambda: NT.CfCCell(3, 7, **kw), lambda: GT.CfCCell(3, 7, **kw))
    _assert_same_state(ref, ours)
    x, h = torch.randn(5, 3), torch.randn(5, 7)
    _compare_steps(ref, ours, x, h, torch.rand(5, 1) + 0.5)
    yr, _ = ref(x, h, 1.0)
    yo, _ = ours(x, h)  # ts defaults to 1.0 here (the reference requires it)
    _check("y (ts=1)", yo, yr, FTOL)


def test_cfc_cell_with_a_sparsity_mask_matches_ncps():
    mask = np.random.default_rng(0).choice([-1, 0, 1], size=(3 + 6, 6))
    kw = dict(backbone_layers=0, sparsity_mask=mask)
    ref, ours = _same_init(lambda: NT.CfCCell(3, 6, **kw), lambda: GT.CfCCell(3, 6, **kw))
    _assert_same_state(ref, ours)
    assert not ours.sparsity_mask.requires_grad
    _compare_steps(ref, ours, torch.randn(4, 3), torch.randn(4, 6), torch.rand(4, 1) + 0.5)
    with pytest.raises(ValueError, match="sparsity_mask needs backbone_layers=0"):
        GT.CfCCell(3, 6, sparsity_mask=mask)
    with pytest.raises(ValueError, match=r"sparsity_mask must have shape \(input_size \+ hidden_size=9"):
        GT.CfCCell(3, 6, backbone_layers=0, sparsity_mask=mask[:8])


def test_lstm_cell_matches_ncps():
    ref, ours = _same_init(lambda: RefLSTMCell(4, 5), lambda: GT.LSTMCell(4, 5))
    _assert_same_state(ref, ours)
    x, h, c = torch.randn(3, 4), torch.randn(3, 5), torch.randn(3, 5)
    (hr, cr), (ho, co) = ref(x, (h, c)), ours(x, (h, c))
    _check("h", ho, hr, FTOL)
    _check("c", co, cr, FTOL)


# -- the committed fixtures ---------------------------------------------------

@pytest.mark.parametrize("fx", [f for f in MANIFEST["fixtures"] if f["name"] not in REFUSED],
                         ids=lambda f: f["name"])
def test_fixture(fx):
    """The torch binding on tests_py/gen_cfc_fixtures.py's cases (made by
    ncps 1.0.1): outputs and every gradient."""
    z = np.load(FIXTURES / (fx["name"] + ".npz"))
    dtype = torch.float32 if fx["dtype"] == "float32" else torch.float64
    kw = dict(proj_size=fx["proj_size"], return_sequences=fx["return_sequences"], batch_first=fx["batch_first"],
              mixed_memory=fx["mixed_memory"], mode=fx["mode"])
    if fx["wiring"] is None:
        m = GT.CfC(fx["input_size"], fx["units"], activation=fx["activation"], backbone_units=fx["backbone_units"],
                   backbone_layers=fx["backbone_layers"], backbone_dropout=fx["backbone_dropout"], **kw)
    else:
        m = GT.CfC(fx["input_size"], getattr(GW, fx["wiring"]["class"])(**fx["wiring"]["args"]), **kw)
    m = m.to(dtype).eval()
    params = {k[len("param/"):]: torch.from_numpy(z[k]) for k in z.files if k.startswith("param/")}
    assert list(params) == list(m.state_dict()) or set(params) == set(m.state_dict())
    m.load_state_dict(params)
    bf = fx["batch_first"]

    def layout(a, seq=True):  # fixtures are batch-major
        t = torch.from_numpy(a)
        return t if (bf or not seq) else t.transpose(0, 1)

    x = layout(z["x"]).requires_grad_()
    h0 = torch.from_numpy(z["h0"]).requires_grad_()
    c0 = torch.from_numpy(z["c0"]).requires_grad_() if fx["mixed_memory"] else None
    ts = None if fx["timespans"] == "none" else (torch.from_numpy(z["ts"]) if bf else torch.from_numpy(z["ts"]).T)
    y, state = m(x, (h0, c0) if c0 is not None else h0, ts)
    ftol, gtol = (FTOL, GTOL) if dtype == torch.float32 else (1e-12, 1e-10)
    y_bm = y if (bf or not fx["return_sequences"]) else y.transpose(0, 1)
    _check("y", y_bm, torch.from_numpy(z["y"]), ftol)
    h = state[0] if c0 is not None else state
    _check("h", h, torch.from_numpy(z["h"]), ftol)
    loss = (y_bm * torch.from_numpy(z["gy"])).sum() + (h * torch.from_numpy(z["gh"])).sum()
    if c0 is not None:
        _check("c", state[1], torch.from_numpy(z["c"]), ftol)
        loss = loss + (state[1] * torch.from_numpy(z["gc"])).sum()
    loss.backward()
    grads = {k[len("grad/"):]: torch.from_numpy(z[k]) for k in z.files if k.startswith("grad/")}
    assert set(grads) == {n for n, p in m.named_parameters() if p.requires_grad}
    named = dict(m.named_parameters())
    for n, want in grads.items():
        _check("grad " + n, named[n].grad, want, gtol)
    gx = x.grad if bf else x.grad.transpose(0, 1)
    _check("gx", gx, torch.from_numpy(z["gx"]), gtol)
    _check("gh0", h0.grad, torch.from_numpy(z["gh0"]), gtol)
    if c0 is not None:
        _check("gc0", c0.grad, torch.from_numpy(z["gc0"]), gtol)


# -- timespans ------------------------------------------------------------------

def _stepped_reference(ref, x, hx, ts):
    """The reference's own cells stepped with (B, 1) timespans, which they
    broadcast per sample (its CfC.forward squeezes them to (B,) and fails
    for batch > 1, ncps issue 82)."""
    mixed = ref.use_mixed
    h, c = hx if mixed else (hx, None)
    ys = []
    for t in range(x.shape[1]):
        if mixed:
            h, c = ref.lstm(x[:, t], (h, c))
        out, h = ref.rnn_cell(x[:, t], h, ts[:, t:t + 1])
        ys.append(ref.fc(out))
    return torch.stack(ys, 1), ((h, c) if mixed else h)


@pytest.mark.parametrize("batch", [1, 2, 5, 9])
@pytest.mark.parametrize("wired", [False, True])
def test_timespans_per_sample_at_every_batch_size(batch, wired):
    units = GW.AutoNCP(9, 2) if wired else 9  # batch 9 == units: where ncps would be silently wrong
    ref_units = NW.AutoNCP(9, 2) if wired else 9
    cfg = dict(mixed_memory=True, proj_size=2)
    ref, ours = _same_init(lambda: NT.CfC(3, ref_units, **cfg), lambda: GT.CfC(3, units, **cfg))
    x = torch.randn(batch, 6, 3)
    hx = (torch.randn(batch, 9), torch.randn(batch, 9))
    ts = torch.rand(batch, 6) + 0.2
    tr, to = _leaf(ts), _leaf(ts)
    yr, (hr, cr) = _stepped_reference(ref, x, hx, tr)
    yo, (ho, co) = ours(x, hx, timespans=to)
    _check("y", yo, yr, FTOL)
    _check("h", ho, hr, FTOL)
    _check("c", co, cr, FTOL)
    (yr.square().sum() + hr.sum()).backward()
    (yo.square().sum() + ho.sum()).backward()
    _check("grad timespans", to.grad, tr.grad, GTOL)
    for (n, p), (_, q) in zip(ref.named_parameters(), ours.named_parameters()):
        if p.grad is not None:
            _check("grad " + n, q.grad, p.grad, GTOL)
    # (B, T, 1) and time-major layouts give the same numbers.
    y3, _ = ours(x, hx, timespans=ts.unsqueeze(-1))
    assert torch.equal(y3.detach(), yo.detach())
    ours.batch_first = False
    ytm, _ = ours(x.transpose(0, 1), hx, timespans=ts.T)
    assert torch.equal(ytm.transpose(0, 1).detach(), yo.detach())


def test_timespans_that_ncps_accepts_give_its_numbers():
    """Batch 1, where ncps squeezes the timespans to a scalar per step."""
    ref, ours = _same_init(lambda: NT.CfC(3, 8), lambda: GT.CfC(3, 8))
    x = torch.randn(1, 5, 3)
    ts = torch.rand(1, 5, 1) + 0.3
    _compare_sequences(ref, ours, x, torch.randn(1, 8), ts)
    _compare_sequences(ref, ours, x, torch.randn(1, 8), ts[..., 0])


# -- training --------------------------------------------------------------------

@pytest.mark.parametrize("wired", [False, True])
def test_adam_100_steps_track_the_reference(wired):
    if wired:
        ref, ours = _same_init(lambda: NT.CfC(2, NW.AutoNCP(12, 1), mixed_memory=True),
                               lambda: GT.CfC(2, GW.AutoNCP(12, 1), mixed_memory=True), seed=4)
    else:
        cfg = dict(proj_size=1, backbone_units=32, backbone_layers=2, activation="gelu")
        ref, ours = _same_init(lambda: NT.CfC(2, 8, **cfg), lambda: GT.CfC(2, 8, **cfg), seed=4)
    t = torch.linspace(0, 3 * np.pi, 48)
    x = torch.stack([torch.sin(t), torch.cos(t)], -1)[None]
    target = torch.sin(2 * t)[None, :, None]
    losses = {}
    for name, m in (("ref", ref), ("ours", ours)):
        opt = torch.optim.Adam(m.parameters(), lr=0.01)
        ls = []
        for _ in range(100):
            opt.zero_grad()
            loss = (m(x)[0] - target).square().mean()
            loss.backward()
            opt.step()
            ls.append(loss.item())
        losses[name] = np.array(ls)
    rel = np.abs(losses["ours"] - losses["ref"]) / np.abs(losses["ref"])
    assert rel.max() <= 1e-3, rel.max()
    assert losses["ours"][-1] < 0.5 * losses["ours"][0]


def test_dropout_in_training_passes():
    """Backbone dropout (layers 2..n) is drawn in training mode from torch's
    global generator; eval mode has none."""
    torch.manual_seed(0)
    m = GT.CfC(3, 8, backbone_layers=3, backbone_units=16, backbone_dropout=0.5)
    x = torch.randn(2, 4, 3)
    m.eval()
    ye, _ = m(x)
    assert torch.equal(m(x)[0], ye)
    m.train()
    torch.manual_seed(1)
    y1, _ = m(x)
    torch.manual_seed(1)
    y2, _ = m(x)
    y3, _ = m(x)
    assert torch.equal(y1, y2) and not torch.equal(y1, y3) and not torch.equal(y1, ye)
    y1.sum().backward()  # the tape keeps the drawn mask
    assert all(p.grad is not None for p in m.parameters())


# -- float64, gradcheck, dtypes ---------------------------------------------------

def test_gradcheck_float64():
    torch.manual_seed(0)
    m = GT.CfC(3, 4, mixed_memory=True, proj_size=2, backbone_units=5, backbone_layers=2).double()
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    ts = (torch.rand(2, 4, dtype=torch.float64) + 0.5).requires_grad_()
    h0 = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)

    def f(a, b, c, t):
        y, (h, cc) = m(a, (b, c), timespans=t)
        return y, h, cc

    assert torch.autograd.gradcheck(f, (x, h0, c0, ts))
    # Every parameter, through functional_call.
    for mm in (m, GT.CfC(3, GW.NCP(3, 2, 2, 2, 2, 2, 2), mode="pure").double(),
               GT.CfC(3, 5, mode="no_gate", activation="relu", backbone_layers=0).double()):
        names = [n for n, p in mm.named_parameters() if p.requires_grad]
        fixed = {n: p for n, p in mm.named_parameters() if not p.requires_grad}
        params = tuple(dict(mm.named_parameters())[n].detach().clone().requires_grad_() for n in names)
        xx = torch.randn(2, 3, 3, dtype=torch.float64)

        def g(*ps, mm=mm, fixed=fixed, names=names, xx=xx):
            return torch.func.functional_call(mm, {**fixed, **dict(zip(names, ps))}, (xx,))[0]

        assert torch.autograd.gradcheck(g, params)


def test_float64_modules_agree_with_float32():
    torch.manual_seed(0)
    m = GT.CfC(3, 6, mixed_memory=True)
    m64 = copy.deepcopy(m).double()
    assert m64.param_dtype == torch.float64 and m64.rnn_cell.ff1.weight.dtype == torch.float64
    x = torch.randn(2, 5, 3)
    y32, _ = m(x)
    y64, _ = m64(x.double())
    assert y64.dtype == torch.float64 and rel_err(y32.detach(), y64.detach()) <= 1e-5
    # Inputs of another dtype are converted to the parameters'; gradients
    # come back in the input's dtype.
    xd = x.double().requires_grad_()
    yd, _ = m(xd)
    assert yd.dtype == torch.float32 and torch.equal(yd, y32)
    yd.sum().backward()
    assert xd.grad.dtype == torch.float64


# -- state_dicts, copies, functional use ----------------------------------------

def test_state_dicts_load_both_ways():
    ref = NT.CfC(4, NW.NCP(5, 4, 2, 3, 2, 2, 2), mixed_memory=True, proj_size=3)
    ours = GT.CfC(4, GW.NCP(5, 4, 2, 3, 2, 2, 2), mixed_memory=True, proj_size=3)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 6, 4)
    assert rel_err(ours(x)[0].detach(), ref(x)[0].detach()) <= FTOL
    with torch.no_grad():
        for p in ours.parameters():
            if p.requires_grad:
                p.add_(0.01)
    back = NT.CfC(4, NW.NCP(5, 4, 2, 3, 2, 2, 2), mixed_memory=True, proj_size=3)
    back.load_state_dict(ours.state_dict())
    assert rel_err(ours(x)[0].detach(), back(x)[0].detach()) <= FTOL


def test_pickle_deepcopy_and_torch_save_after_use(tmp_path):
    torch.manual_seed(0)
    m = GT.CfC(3, GW.AutoNCP(10, 2), mixed_memory=True)
    x = torch.randn(2, 5, 3)
    y0, _ = m(x)
    torch.save(m, tmp_path / "m.pt")
    for other in (copy.deepcopy(m), pickle.loads(pickle.dumps(m)), torch.load(tmp_path / "m.pt", weights_only=False)):
        assert torch.equal(other(x)[0], y0)
        with torch.no_grad():
            other.rnn_cell.layer_2.ff1.bias += 1  # the copy has its own parameters
        assert not torch.equal(other(x)[0], y0)
    assert torch.equal(m(x)[0], y0)


def test_functional_call_and_no_grad():
    torch.manual_seed(0)
    m = GT.CfC(3, 4, proj_size=2)
    x = torch.randn(2, 5, 3)
    y0, _ = m(x)
    params = {n: p.detach().clone() for n, p in m.named_parameters()}
    params["fc.bias"] += 1
    yf, _ = torch.func.functional_call(m, params, (x,))
    torch.testing.assert_close(yf, y0 + 1)
    w = params["rnn_cell.ff1.weight"].requires_grad_()
    torch.func.functional_call(m, params, (x,))[0].sum().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0
    with torch.no_grad():
        y, _ = m(x)
    assert not y.requires_grad and torch.equal(y, y0)
    for p in m.parameters():
        p.requires_grad_(False)
    xg = x.clone().requires_grad_()
    m(xg)[0].sum().backward()
    assert xg.grad is not None and all(p.grad is None for p in m.parameters())


def test_second_order_gradients_raise_and_retained_graphs_rerun():
    m = GT.CfC(3, 4, backbone_layers=2, backbone_dropout=0.3).train()
    y, _ = m(torch.randn(2, 5, 3))
    with pytest.raises(RuntimeError, match="second-order gradients"):
        torch.autograd.grad(y.sum(), m.rnn_cell.ff1.weight, create_graph=True)
    x = torch.randn(2, 5, 3)
    y, _ = m(x)
    # A retained graph's second backward pass reruns the forward pass with
    # the first one's dropout draw: the same gradients.
    g1 = torch.autograd.grad(y.square().sum(), list(m.parameters()), retain_graph=True, allow_unused=True)
    g2 = torch.autograd.grad(y.square().sum(), list(m.parameters()), allow_unused=True)
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(g1, g2))
    # A parameter changed in place since the forward pass: torch's in-place
    # error, as for torch's own operations (and ncps), although the tape
    # still holds the pass's values.
    y, _ = m(x)
    with torch.no_grad():
        m.rnn_cell.ff1.weight.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch.autograd.grad(y.square().sum(), list(m.parameters()), allow_unused=True)
    ref = NT.CfC(3, 4)
    y, _ = ref(x)
    with torch.no_grad():
        ref.rnn_cell.ff1.weight.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch.autograd.grad(y.square().sum(), list(ref.parameters()), allow_unused=True)


# -- keras-ncp 2.1.0's experimental names -----------------------------------------

def test_keras_ncp_210_experimental_cfc():
    """2.1.0's CfC: wiring_or_hidden_size and hidden_size, backbone.0 built
    (and unused) with backbone_layers=0, no wired mode; otherwise ncps's."""
    torch.manual_seed(0)
    m = GE.CfC(3, 6, backbone_layers=0, mixed_memory=True)
    assert m.hidden_size == 6 and m.wiring_or_hidden_size == 6
    assert "rnn_cell.backbone.0.weight" in m.state_dict()
    ref = NT.CfC(3, 6, backbone_layers=0, mixed_memory=True)
    sd = {k: v for k, v in m.state_dict().items() if not k.startswith("rnn_cell.backbone.")}
    ref.load_state_dict(sd)
    x = torch.randn(2, 5, 3)
    _compare_sequences(ref, m, x, (torch.randn(2, 6), torch.randn(2, 6)))
    assert m.rnn_cell.backbone[0].weight.grad is None
    with pytest.raises(NotImplementedError, match="no wired mode"):
        GE.CfC(3, GW.FullyConnected(4))
    with pytest.raises(ValueError, match="Cannot use backbone_units in wired mode"):
        GE.CfC(3, GW.FullyConnected(4), backbone_units=3)
    from kerasncp_go.torch.experimental.cfc import LSTMCell
    assert LSTMCell is GT.LSTMCell


REF_210 = os.environ.get("KERASNCP_210_SRC")  # a checkout of keras-ncp at a880cba (the folder holding kerasncp/)


@pytest.mark.skipif(not REF_210, reason="set KERASNCP_210_SRC to a keras-ncp 2.1.0 source tree (the PyPI wheel "
                                        "lacks kerasncp.torch.experimental)")
def test_keras_ncp_210_experimental_against_its_source():
    script = textwrap.dedent("""
        import torch, kerasncp.torch.experimental as KE, kerasncp_go.torch.experimental as GE
        from conftest import rel_err
        for kw in [dict(), dict(backbone_layers=0, mixed_memory=True, proj_size=3),
                   dict(mode="pure", backbone_layers=2)]:
            torch.manual_seed(0); r = KE.CfC(3, 6, **kw)
            torch.manual_seed(0); o = GE.CfC(3, 6, **kw)
            assert list(r.state_dict()) == list(o.state_dict())
            assert all(torch.equal(a, b) for a, b in zip(r.state_dict().values(), o.state_dict().values()))
            x = torch.randn(2, 5, 3)
            assert rel_err(o(x)[0].detach(), r(x)[0].detach()) <= 1e-5
            torch.manual_seed(1); rc = KE.CfCCell(3, 6, backbone_layers=0)
            torch.manual_seed(1); oc = GE.CfCCell(3, 6, backbone_layers=0)
            assert all(torch.equal(a, b) for a, b in zip(rc.state_dict().values(), oc.state_dict().values()))
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REF_210, str(ROOT / "python"), str(ROOT / "tests_py")]))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# -- the reference's own tests -------------------------------------------------------

REF_TESTS = os.environ.get("NCPS_TEST_TORCH")  # a copy of ncps 1.0.1's ncps/tests/test_torch.py


@pytest.mark.skipif(not REF_TESTS, reason="set NCPS_TEST_TORCH to a copy of ncps 1.0.1's ncps/tests/test_torch.py")
def test_the_reference_test_file_passes_through_the_compat_runner(tmp_path):
    runner = tmp_path / "run.py"
    runner.write_text(textwrap.dedent(f"""
        import sys
        import pytest
        rc = pytest.main([{REF_TESTS!r}, "-q", "-p", "no:cacheprovider", "--rootdir", {str(tmp_path)!r}])
        import ncps.torch
        print("CfC from", ncps.torch.CfC.__module__)
        sys.exit(rc)
    """))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    out = subprocess.run([sys.executable, "-m", "kerasncp_go.compat", "--ncps", str(runner)], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "14 passed" in out.stdout and "CfC from kerasncp_go.torch" in out.stdout, out.stdout


# -- what the Go model does not describe: the modules' own steps -----------------------

def _pair(make_ref, make_ours, seed=0):
    torch.manual_seed(seed)
    ref = make_ref()
    torch.manual_seed(seed)
    ours = make_ours()
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def test_replaced_heads_and_activations_run_as_the_modules_say():
    x = torch.randn(2, 5, 3)
    for proj in (None, 2):
        ref, ours = _pair(lambda p=proj: NT.CfC(3, 4, proj_size=p), lambda p=proj: GT.CfC(3, 4, proj_size=p))
        for m in (ref, ours):
            torch.manual_seed(1)
            m.fc = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh())
        _compare_sequences(ref, ours, x)
    ref, ours = _pair(lambda: NT.CfC(3, 4, return_sequences=False, mixed_memory=True),
                      lambda: GT.CfC(3, 4, return_sequences=False, mixed_memory=True))
    for m in (ref, ours):
        m.rnn_cell.backbone[1] = torch.nn.ReLU()
    _compare_sequences(ref, ours, x, (torch.randn(2, 4), torch.randn(2, 4)))
    # A head of the built kind and shape, newly drawn: still the Go call.
    ours = GT.CfC(3, 4, proj_size=2)
    ours.fc = torch.nn.Linear(4, 2)
    assert ours._look().go


def test_hooks_prune_and_legacy_norms_run():
    import torch.nn.utils.prune as prune

    x = torch.randn(2, 5, 3)
    ref, ours = _pair(lambda: NT.CfC(3, 4, proj_size=2), lambda: GT.CfC(3, 4, proj_size=2))
    seen = {"ref": [], "ours": []}
    for tag, m in (("ref", ref), ("ours", ours)):
        m.fc.register_forward_hook(lambda mod, inp, out, tag=tag: seen[tag].append(out.detach().clone()))
    _compare_sequences(ref, ours, x)
    assert len(seen["ours"]) == len(seen["ref"]) == 5  # once per step
    for a, b in zip(seen["ours"], seen["ref"]):
        torch.testing.assert_close(a, b, rtol=FTOL, atol=1e-6)
    for fn in (lambda lin: prune.l1_unstructured(lin, "weight", amount=0.5),
               lambda lin: torch.nn.utils.weight_norm(lin),
               lambda lin: torch.nn.utils.spectral_norm(lin)):
        ref, ours = _pair(lambda: NT.CfC(3, 4), lambda: GT.CfC(3, 4))
        for m in (ref, ours):
            torch.manual_seed(2)
            fn(m.rnn_cell.ff1)
        losses = {}
        for tag, m in (("ref", ref), ("ours", ours)):
            torch.manual_seed(3)
            opt = torch.optim.SGD(m.parameters(), lr=0.1)
            losses[tag] = []
            for _ in range(3):
                opt.zero_grad()
                loss = m(x)[0].square().mean()
                loss.backward()
                opt.step()
                losses[tag].append(loss.item())
        np.testing.assert_allclose(losses["ours"], losses["ref"], rtol=1e-5)


def test_dropout_follows_the_dropout_modules():
    """Monte-Carlo dropout (the Dropout modules training in an evaluating
    model) draws, and the reverse does not, as in the reference; the Go
    core draws (from its own generator) when all of them train."""
    x = torch.randn(2, 5, 3)
    ref, ours = _pair(lambda: NT.CfC(3, 4, backbone_layers=3, backbone_dropout=0.5),
                      lambda: GT.CfC(3, 4, backbone_layers=3, backbone_dropout=0.5))
    for m in (ref, ours):
        m.eval()
        for d in m.modules():
            if isinstance(d, torch.nn.Dropout):
                d.train()
    look = ours._look()
    assert look.go and look.dropout
    with torch.no_grad():
        assert not torch.equal(ours(x)[0], ours(x)[0])
        assert not torch.equal(ref(x)[0], ref(x)[0])
    for m in (ref, ours):
        m.train()
        for d in m.modules():
            if isinstance(d, torch.nn.Dropout):
                d.eval()
    assert ours._look().go and not ours._look().dropout
    _compare_sequences(ref, ours, x)
    ours.rnn_cell.backbone[4].train()  # the Dropout modules disagree: the modules' steps
    assert not ours._look().go
    ours.eval()
    ours.rnn_cell.backbone[4].p = 0.2
    assert not ours._look().go


def test_trainable_masks_half_precision_autocast_and_empty_batches():
    x = torch.randn(2, 5, 3)
    ref, ours = _pair(lambda: NT.CfC(3, NW.AutoNCP(8, 2, seed=0)), lambda: GT.CfC(3, GW.AutoNCP(8, 2, seed=0)))
    for m in (ref, ours):
        m.rnn_cell.layer_1.sparsity_mask.requires_grad_(True)
    _compare_sequences(ref, ours, x)
    torch.testing.assert_close(ours.rnn_cell.layer_1.sparsity_mask.grad, ref.rnn_cell.layer_1.sparsity_mask.grad,
                               rtol=GTOL, atol=1e-6)
    ref, ours = _pair(lambda: NT.CfC(3, 4), lambda: GT.CfC(3, 4))
    for dt in (torch.bfloat16, torch.float16):  # (ncps's float32 zero state stops its own half modules)
        r, o = copy.deepcopy(ref).to(dt), copy.deepcopy(ours).to(dt)
        h0 = torch.zeros(2, 4, dtype=dt)
        want, got = r(x.to(dt), h0)[0], o(x.to(dt), h0)[0]
        assert got.dtype == dt and o(x.to(dt))[0].dtype == dt
        torch.testing.assert_close(got, want)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want, got = ref(x)[0], ours(x)[0]
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got, want)
    for m in (GT.CfC(3, 4), GT.CfC(3, GW.AutoNCP(8, 2)), GT.CfC(3, 4, mixed_memory=True, proj_size=2)):
        y, _ = m(torch.randn(0, 5, 3))
        assert y.shape == (0, 5, m.proj_size or m.output_size)
        y.sum().backward()
        assert all(p.grad is not None and not p.grad.any() for p in m.parameters() if p.requires_grad)
    y, h = GT.CfCCell(3, 4)(torch.randn(0, 3), torch.zeros(0, 4))
    assert y.shape == h.shape == (0, 4)


def test_cells_take_one_time_per_unit():
    ref, ours = _pair(lambda: NT.CfCCell(3, 4), lambda: GT.CfCCell(3, 4))
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    for ts in (torch.rand(1, 4) + 0.5, torch.rand(2, 4) + 0.5):
        torch.testing.assert_close(ours(x, h, ts)[0], ref(x, h, ts)[0], rtol=FTOL, atol=1e-6)
    with pytest.raises(ValueError, match="finite and > 0"):
        ours(x, h, torch.zeros(1, 4))


def test_subclassed_cells_run_their_own_forward():
    """A user's cell subclass with its own forward, put in a CfC / LTC, is
    what runs at each step (the reference calls its cell's forward)."""
    x = torch.randn(2, 5, 3)

    def doubled(base):
        class Doubled(base):
            def forward(self, input, hx=None, ts=1.0):
                return super().forward(input * 2.0, hx, ts)
        return Doubled

    for make_ref, make_ours in (
            (lambda: NT.CfC(3, 4), lambda: GT.CfC(3, 4)),
            (lambda: NT.CfC(3, NW.AutoNCP(8, 2, seed=0)), lambda: GT.CfC(3, GW.AutoNCP(8, 2, seed=0))),
            (lambda: NT.LTC(3, 4), lambda: GT.LTC(3, 4))):
        ref, ours = _pair(make_ref, make_ours)
        for m in (ref, ours):
            cell = m.rnn_cell
            cell.__class__ = doubled(type(cell))
        _compare_sequences(ref, ours, x)


def test_module_trees_are_the_references():
    for mk in (lambda M, W: M.CfC(3, 4, mixed_memory=True, proj_size=2),
               lambda M, W: M.CfC(3, 4, backbone_layers=2, backbone_dropout=0.1, activation="lecun_tanh"),
               lambda M, W: M.CfC(3, W.AutoNCP(8, 2, seed=0), mixed_memory=True)):
        want = [(n, type(m).__name__) for n, m in mk(NT, NW).named_modules()]
        got = [(n, type(m).__name__) for n, m in mk(GT, GW).named_modules()]
        assert got == want
    # A hook on the LSTM's tanh runs as often as there.
    ref, ours = _pair(lambda: NT.CfC(3, 4, mixed_memory=True), lambda: GT.CfC(3, 4, mixed_memory=True))
    counts = {}
    for tag, m in (("ref", ref), ("ours", ours)):
        counts[tag] = 0
        m.lstm.tanh.register_forward_hook(lambda *a, tag=tag: counts.__setitem__(tag, counts[tag] + 1))
    _compare_sequences(ref, ours, torch.randn(2, 5, 3), (torch.randn(2, 4), torch.randn(2, 4)))
    assert counts["ours"] == counts["ref"] == 10


def test_time_major_outputs_are_contiguous():
    for m in (GT.CfC(3, 4, batch_first=False), GT.LTC(3, 4, batch_first=False)):
        y, _ = m(torch.randn(5, 2, 3))
        assert y.is_contiguous() and y.view(-1, 4).shape == (10, 4)


# -- bad input ---------------------------------------------------------------------

def _plain():
    return GT.CfC(3, 4)


@pytest.mark.parametrize("call,exc,match", [
    (lambda m: m(torch.randn(2, 3, 4)), ValueError, r"input must have 3 features \(last axis\), got shape \(2, 3, 4\)"),
    (lambda m: m(torch.randn(2, 3, 3), torch.zeros(2, 5)), ValueError, r"h0 must have shape \(batch=2, state_size=4\)"),
    (lambda m: m(torch.randn(2, 3, 3), torch.zeros(3, 4)), ValueError, r"h0 must have shape \(batch=2, state_size=4\)"),
    (lambda m: m(torch.randn(2, 3, 3), torch.zeros(4)), ValueError, "hx must be 2-D for batched 3-D input"),
    (lambda m: m(torch.randn(2, 3, 3), (torch.zeros(2, 4), torch.zeros(2, 4))), ValueError,
     "hx must be one array without mixed memory"),
    (lambda m: m(torch.randn(2, 3, 3), timespans=torch.ones(3, 3)), ValueError, "broadcastable"),
    (lambda m: m(torch.randn(2, 3, 3), timespans=torch.zeros(2, 3)), ValueError, "finite and > 0"),
    (lambda m: m(torch.randn(2, 3, 3), timespans=float("nan")), ValueError, "finite and > 0"),
    (lambda m: m(np.zeros((2, 3, 3))), TypeError, "input must be a torch.Tensor"),
    (lambda m: m(torch.randn(3)), ValueError, r"input must have shape \(batch, steps, 3\)"),
    (lambda m: m(torch.randn(2, 3, 3, dtype=torch.complex64)), TypeError, "inputs must be real"),
    (lambda m: m(torch.randn(2, 3, 3), timespans="2.5"), TypeError, "timespans must be a number"),
    (lambda m: m(torch.randn(2, 3, 3), np.zeros((2, 4), np.float32)), TypeError,
     "states must be a torch.Tensor, got ndarray"),
    (lambda m: m(torch.randn(2, 3, 3, device="meta")), ValueError,
     "inputs are on meta but the cell's parameters on cpu"),
    (lambda m: m.to("meta")(torch.randn(2, 3, 3)), ValueError, "inputs are on cpu but the cell's parameters on meta"),
    (lambda m: m(torch.randn(2, 3, 3), torch.zeros(2, 4, device="meta")), ValueError, "states are on meta"),
    (lambda m: m.rnn_cell(torch.randn(2, 4), torch.zeros(2, 4)), ValueError, r"input must have shape \(batch, 3\)"),
    (lambda m: m.rnn_cell(torch.randn(2, 3), torch.zeros(3, 4)), ValueError, r"h0 must have shape \(batch=2"),
    (lambda m: m.rnn_cell(torch.randn(2, 3), torch.zeros(2, 4), torch.ones(3, 1)), ValueError, "broadcastable"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call(_plain())


@pytest.mark.parametrize("make,exc,match", [
    (lambda: GT.CfC(3, 4, mode="fast"), ValueError, "mode must be one of"),
    (lambda: GT.CfC(3, 4, activation="softsign"), ValueError, "activation must be one of"),
    (lambda: GT.CfCCell(3, 4, backbone_activation="softsign"), ValueError, "activation must be one of"),
    (lambda: GT.CfC(3, 4, backbone_units=0), ValueError, "backbone_units"),
    (lambda: GT.CfC(3, 0), ValueError, "units"),
    (lambda: GT.CfC(3, 4, proj_size=0), ValueError, "proj_size"),
    (lambda: GT.CfC(3, GW.AutoNCP(8, 2), backbone_layers=2), ValueError, "Cannot use backbone_layers in wired mode"),
    (lambda: GT.CfC(3, "eight"), TypeError, "wiring must be"),
    (lambda: GT.WiredCfCCell(None, GW.AutoNCP(8, 2)), ValueError, "Unknown number of input features"),
    (lambda: GT.CfC(3, NW.NCP(5, 4, 2, 3, 2, 2, 2)), TypeError, "has 3 layers, which a wired CfC needs"),
])
def test_bad_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_single_layer_reference_wirings_convert():
    """An ncps FullyConnected / Random wiring (one layer) works as its
    kerasncp_go twin."""
    ref, ours = _same_init(lambda: NT.CfC(3, NW.Random(8, 3, 0.5, random_seed=2)),
                           lambda: GT.CfC(3, NW.Random(8, 3, 0.5, random_seed=2)))
    _assert_same_state(ref, ours)
    _compare_sequences(ref, ours, torch.randn(2, 5, 3))


def test_mixed_memory_state_must_be_a_pair():
    m = GT.CfC(3, 4, mixed_memory=True)
    with pytest.raises(ValueError, match=r"hx must be a pair \(h0, c0\) with mixed_memory=True"):
        m(torch.randn(2, 3, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"c0 must have shape \(batch=2, state_size=4\)"):
        m(torch.randn(2, 3, 3), (torch.zeros(2, 4), torch.zeros(2, 3)))


@pytest.mark.parametrize("wired", [False, True])
def test_nan_input_gives_the_reference_nan_pattern(wired):
    """A NaN input reaches the rows it touches as it does in ncps (a sparse
    wiring's masked weights multiply it by zero: still NaN); no crash, and
    the backward pass runs."""
    ref, ours = _same_init(lambda: NT.CfC(3, NW.NCP(4, 3, 2, 2, 2, 2, 2, seed=1) if wired else 6),
                           lambda: GT.CfC(3, GW.NCP(4, 3, 2, 2, 2, 2, 2, seed=1) if wired else 6))
    x = torch.randn(3, 4, 3)
    x[1, 2, 0] = float("nan")
    (yr, hr), (yo, ho) = ref(x), ours(x)
    assert torch.equal(torch.isnan(yr), torch.isnan(yo)) and torch.equal(torch.isnan(hr), torch.isnan(ho))
    assert torch.isnan(yo[1, 2:]).all() and torch.isfinite(yo[[0, 2]]).all()
    yo[[0, 2]].sum().backward()


@pytest.mark.filterwarnings("ignore:`torch.jit.trace:FutureWarning")
def test_tracing_raises_instead_of_recording_constants():
    with pytest.raises(RuntimeError, match="cannot be traced by torch.jit.trace"):
        torch.jit.trace(_plain(), torch.randn(2, 5, 3), check_trace=False)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("wired", [False, True])
def test_torch_compile_runs_the_go_pass_and_keeps_its_numbers(wired):
    """torch.compile of a model holding a CfC: dynamo leaves the Go call out
    of its graph (a graph break), so the compiled model gives the eager
    model's outputs and gradients exactly, timespans included."""
    torch.manual_seed(0)
    m = GT.CfC(3, GW.AutoNCP(10, 2) if wired else 8, mixed_memory=not wired)
    x, ts = torch.randn(4, 6, 3), torch.rand(4, 6) + 0.5
    params = [p for p in m.parameters() if p.requires_grad]
    want = m(x, timespans=ts)[0]
    gwant = torch.autograd.grad(want.square().sum(), params)
    got = torch.compile(m)(x, timespans=ts)[0]
    ggot = torch.autograd.grad(got.square().sum(), params)
    assert torch.equal(got, want)
    assert all(torch.equal(a, b) for a, b in zip(ggot, gwant))


def test_example_runs_shortened():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "cfc_sine_torch.py"), "--epochs", "30"],
                         capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=str(ROOT / "python")))
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("epoch")]
    first, last = float(lines[0].split()[-1]), float(lines[-1].split()[-1])
    assert last < first, out.stdout


# -- parameters as torch keeps them --------------------------------------------

def test_parameters_have_their_own_storage_and_calls_read_what_they_hold():
    """Each parameter is a tensor of its own, as in any torch module: a
    submodule's saved state_dict holds its values only and safetensors'
    save_model / load_model work (they refuse tensors sharing a storage none
    of them covers). Calls read the values the parameters hold at that
    moment: after in-place updates, a replaced parameter, copies, .double()."""
    import io

    torch.manual_seed(3)
    ref = NT.CfC(3, 6, mixed_memory=True, proj_size=2)
    ours = GT.CfC(3, 6, mixed_memory=True, proj_size=2)
    ptrs = {p.untyped_storage().data_ptr() for p in ours.parameters()}
    assert len(ptrs) == len(list(ours.parameters()))
    ours.load_state_dict(ref.state_dict())
    saved = io.BytesIO()
    torch.save(ours.fc.state_dict(), saved)
    assert saved.tell() < 4096  # 14 values, not the whole model's
    x = torch.randn(2, 5, 3)
    _compare_sequences(ref, ours, x)
    with torch.no_grad():  # an optimizer's in-place step is what the next call reads
        for p, q in zip(ref.parameters(), ours.parameters()):
            p.mul_(0.5)
            q.mul_(0.5)
    _compare_sequences(ref, ours, x)
    for copied in (copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        torch.testing.assert_close(copied(x)[0], ours(x)[0], rtol=0, atol=0)
    ours.rnn_cell.ff2.weight = torch.nn.Parameter(ref.rnn_cell.ff2.weight.detach().clone())
    _compare_sequences(ref, ours, x)
    ref, ours = NT.CfC(3, 6, proj_size=2).double(), GT.CfC(3, 6, proj_size=2).double()  # ncps's mixed memory
    ours.load_state_dict(ref.state_dict())                                              # has no float64
    _compare_sequences(ref, ours, x.double())


def test_safetensors_save_and_load_model(tmp_path):
    import safetensors.torch as safetensors_torch
    torch.manual_seed(4)
    ref = NT.CfC(3, NW.AutoNCP(8, 2, seed=1), mixed_memory=True)
    ours = GT.CfC(3, GW.AutoNCP(8, 2, seed=1), mixed_memory=True)
    safetensors_torch.save_model(ref, str(tmp_path / "ref.safetensors"))
    safetensors_torch.load_model(ours, str(tmp_path / "ref.safetensors"))
    _compare_sequences(ref, ours, torch.randn(2, 5, 3))
    safetensors_torch.save_model(ours, str(tmp_path / "ours.safetensors"))
    back = GT.CfC(3, GW.AutoNCP(8, 2, seed=1), mixed_memory=True)
    safetensors_torch.load_model(back, str(tmp_path / "ours.safetensors"))
    for k, v in ours.state_dict().items():
        torch.testing.assert_close(back.state_dict()[k], v, rtol=0, atol=0)


def test_parameter_gradients_do_not_depend_on_whether_inputs_want_theirs():
    """The backward pass skips the input and state gradients nobody asked
    for; the parameters' are the same either way."""
    torch.manual_seed(5)
    m = GT.CfC(3, 6, mixed_memory=True)
    x = torch.randn(2, 5, 3)
    grads = []
    for want in (False, True):
        xs = x.clone().requires_grad_(want)
        m.zero_grad()
        y, _ = m(xs, timespans=torch.full((2, 5), 0.5))
        y.square().sum().backward()
        assert (xs.grad is not None) == want
        grads.append([p.grad.clone() for p in m.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_training_pass_wakes_the_go_helpers_before_each_pass(monkeypatch):
    # The torch binding hints each Go pass ahead (kncp_cfc_wake), so that
    # the Go helper threads are not asleep when it starts after torch's own
    # work: before the forward pass, after it (the backward pass comes next)
    # and at the start of the backward pass, each with the pass's batch and
    # steps. The hint changes nothing in the numbers.
    from kerasncp_go import _cfc
    calls = []
    real = _cfc.CfCModel.wake
    monkeypatch.setattr(_cfc.CfCModel, "wake", lambda self, b, t: (calls.append((b, t)), real(self, b, t)))
    torch.manual_seed(0)
    m = GT.CfC(3, 8)
    x = torch.randn(5, 7, 3)
    y, _ = m(x)
    assert calls == [(5, 7), (5, 7)]
    y.sum().backward()
    assert calls == [(5, 7)] * 3
    calls.clear()
    with torch.no_grad():
        m(x)
    assert calls == [(5, 7)]  # no tape: no backward pass to hint


def test_wake_refuses_a_freed_model_and_accepts_any_sizes():
    from kerasncp_go import _cfc, _lib
    model = _cfc.CfCModel(3, units=8)
    for b, t in ((0, 0), (-1, 5), (1 << 40, 1 << 40), (64, 64)):
        model.wake(b, t)  # a hint: sizes no pass accepts change nothing
    h = model.handle
    model._finalizer()
    with pytest.raises(_lib.NCPError, match="handle"):
        _lib.call("kncp_cfc_wake", h, 4, 4)
