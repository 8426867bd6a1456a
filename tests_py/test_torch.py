"""kerasncp_go.torch against the real keras-ncp 2.1.0 and ncps 1.0.1 torch
modules: same state_dict keys and initial values, outputs, gradients,
training trajectories; gradcheck; bad input."""

import contextlib
import copy
import io
import pickle

import kerasncp.torch as KT
import kerasncp.wirings as KW
import ncps.torch as NT
import ncps.wirings as NW
import numpy as np
import pytest
import torch
from torch import nn

import kerasncp_go.torch as GT
import kerasncp_go.wirings as GW
from conftest import rel_err
from kerasncp_go.torch._function import LTCSequence


def _pair(kind, args, input_dim):
    return getattr(NW, kind)(**args), getattr(GW, kind)(**args)


WIRINGS = [
    ("FullyConnected", dict(units=8, output_dim=3)),
    ("Random", dict(units=10, output_dim=2, sparsity_level=0.5)),
    ("NCP", dict(inter_neurons=6, command_neurons=4, motor_neurons=2, sensory_fanout=3, inter_fanout=2,
                 recurrent_command_synapses=3, motor_fanin=2)),
    ("AutoNCP", dict(units=16, output_size=3)),
]


def _grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("kind,args", WIRINGS)
@pytest.mark.parametrize("implicit", [False, True])
@pytest.mark.parametrize("mapping", [("affine", "affine"), ("linear", None)])
def test_ltc_matches_ncps(kind, args, implicit, mapping):
    rw, gw = _pair(kind, args, 5)
    torch.manual_seed(3)
    ref = NT.LTC(5, rw, input_mapping=mapping[0], output_mapping=mapping[1], implicit_param_constraints=implicit)
    torch.manual_seed(3)
    ours = GT.LTC(5, gw, input_mapping=mapping[0], output_mapping=mapping[1], implicit_param_constraints=implicit)
    assert list(ref.state_dict()) == list(ours.state_dict())
    for k, v in ref.state_dict().items():  # the same torch seed gives the same initial values
        assert torch.equal(v, ours.state_dict()[k]), k
    x = torch.randn(4, 12, 5)
    h0 = torch.randn(4, ref.state_size) * 0.3
    yr, hr = ref(x, h0)
    yo, ho = ours(x, h0)
    assert rel_err(yo.detach(), yr.detach()) <= 1e-5 and rel_err(ho.detach(), hr.detach()) <= 1e-5
    (yr.square().mean() + hr.sum()).backward()
    (yo.square().mean() + ho.sum()).backward()
    gr, go = _grads(ref), _grads(ours)
    assert gr.keys() == go.keys()
    for n in gr:
        assert rel_err(go[n], gr[n]) <= 1e-4, n


@pytest.mark.parametrize("batch", [1, 3])
def test_cell_elapsed_time_matches_ncps_cell(batch):
    rw, gw = _pair("AutoNCP", dict(units=12, output_size=2), 4)
    torch.manual_seed(5)
    ref = NT.LTCCell(rw, in_features=4)
    torch.manual_seed(5)
    ours = GT.LTCCell(gw, in_features=4)
    x = torch.randn(batch, 4)
    h = torch.randn(batch, 12)
    el = torch.rand(batch, 1) + 0.5
    xr, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
    h_r, h_o = h.clone().requires_grad_(), h.clone().requires_grad_()
    el_r, el_o = el.clone().requires_grad_(), el.clone().requires_grad_()
    yr, hr = ref(xr, h_r, el_r)
    yo, ho = ours(xo, h_o, el_o)
    assert rel_err(yo.detach(), yr.detach()) <= 1e-5 and rel_err(ho.detach(), hr.detach()) <= 1e-5
    (yr.sum() + hr.square().sum()).backward()
    (yo.sum() + ho.square().sum()).backward()
    for name, go, gr in [("elapsed", el_o.grad, el_r.grad), ("x", xo.grad, xr.grad), ("h", h_o.grad, h_r.grad)]:
        assert rel_err(go, gr) <= 1e-4, name
    gr, go = _grads(ref), _grads(ours)
    assert gr.keys() == go.keys()
    for n in gr:
        assert rel_err(go[n], gr[n]) <= 1e-4, n


def test_keras_ncp_210_cell_loop_and_state_dict_both_ways():
    kw = KW.NCP(6, 4, 2, 3, 2, 3, 2)
    torch.manual_seed(9)
    with contextlib.redirect_stdout(io.StringIO()):  # keras-ncp 2.1.0 prints "alloc!"
        ref = KT.LTCCell(kw, in_features=5)
    ours = GT.LTCCell(GW.NCP(6, 4, 2, 3, 2, 3, 2), in_features=5)
    ours.load_state_dict(ref.state_dict())  # reference -> ours
    x = torch.randn(3, 10, 5)
    h = torch.zeros(3, 12)
    hr, outs = h, []
    for t in range(10):
        y, hr = ref(x[:, t], hr)
        outs.append(y)
    yr = torch.stack(outs, 1)
    yo, ho = ours.sequence(x, h)
    assert rel_err(yo.detach(), yr.detach()) <= 1e-5 and rel_err(ho.detach(), hr.detach()) <= 1e-5
    with contextlib.redirect_stdout(io.StringIO()):
        back = KT.LTCCell(KW.NCP(6, 4, 2, 3, 2, 3, 2), in_features=5)
    back.load_state_dict(ours.state_dict())  # ours -> reference
    for k, v in ref.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k
    hb, outs = h, []
    for t in range(10):
        y, hb = back(x[:, t], hb)
        outs.append(y)
    assert torch.equal(torch.stack(outs, 1), yr) and torch.equal(hb, hr)
    assert ours.sensory_synapse_count == int(np.abs(kw.sensory_adjacency_matrix).sum())


def test_timespans_work_for_every_batch_size():
    """ncps squeezes timespans per step and fails for batch > 1 (ncps #82);
    here a (B, T) tensor works and equals stepping the cell."""
    torch.manual_seed(0)
    rnn = GT.LTC(3, GW.AutoNCP(10, 2))
    x = torch.randn(4, 6, 3)
    ts = torch.rand(4, 6) + 0.2
    y, h = rnn(x, timespans=ts)
    hh = torch.zeros(4, 10)
    for t in range(6):
        yt, hh = rnn.rnn_cell(x[:, t], hh, ts[:, t:t + 1])
        assert rel_err(y[:, t].detach(), yt.detach()) <= 1e-6
    y3, _ = rnn(x, timespans=ts.unsqueeze(-1))
    assert torch.equal(y3, y)


def test_unbatched_and_time_major_like_ncps():
    rw, gw = _pair("FullyConnected", dict(units=6, output_dim=2), 3)
    torch.manual_seed(1)
    ref = NT.LTC(3, rw, batch_first=False, return_sequences=False)
    torch.manual_seed(1)
    ours = GT.LTC(3, gw, batch_first=False, return_sequences=False)
    x = torch.randn(7, 2, 3)  # (L, B, C)
    (yb_o, hb_o), (yb_r, hb_r) = ours(x), ref(x)
    assert rel_err(yb_o.detach(), yb_r.detach()) <= 1e-5 and rel_err(hb_o.detach(), hb_r.detach()) <= 1e-5
    u = torch.randn(7, 3)  # unbatched (L, C)
    yr, hr = ref(u)
    yo, ho = ours(u)
    assert yo.shape == yr.shape and ho.shape == hr.shape
    assert rel_err(yo.detach(), yr.detach()) <= 1e-5 and rel_err(ho.detach(), hr.detach()) <= 1e-5


def test_mixed_memory_matches_ncps():
    rw, gw = _pair("AutoNCP", dict(units=10, output_size=2), 3)
    torch.manual_seed(2)
    ref = NT.LTC(3, rw, mixed_memory=True)
    torch.manual_seed(2)
    ours = GT.LTC(3, gw, mixed_memory=True)
    assert list(ref.state_dict()) == list(ours.state_dict())
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 5, 3)
    xr, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
    (yr, (hr, cr)), (yo, (ho, co)) = ref(xr), ours(xo)
    for name, got, want in [("y", yo, yr), ("h", ho, hr), ("c", co, cr)]:
        assert rel_err(got.detach(), want.detach()) <= 1e-5, name
    (yr.square().sum() + hr.sum() + cr.square().sum()).backward()
    (yo.square().sum() + ho.sum() + co.square().sum()).backward()
    assert rel_err(xo.grad, xr.grad) <= 1e-4
    gr, go = _grads(ref), _grads(ours)
    assert gr.keys() == go.keys()
    for n in gr:
        assert rel_err(go[n], gr[n]) <= 1e-4, n


def test_gradcheck_float64():
    torch.manual_seed(0)
    rnn = GT.LTC(3, GW.NCP(4, 3, 2, 2, 2, 2, 2), implicit_param_constraints=True).double()
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    ts = (torch.rand(2, 4, dtype=torch.float64) + 0.5).requires_grad_()
    h0 = torch.randn(2, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: rnn(a, b, timespans=c), (x, h0, ts))
    # Every parameter, through the autograd Function's inputs.
    cell = GT.LTCCell(GW.Random(5, 2, 0.4), in_features=3).double()
    assert torch.autograd.gradcheck(
        lambda *ps: LTCSequence.apply(cell, True, x, torch.zeros(2, 5, dtype=torch.float64), None, *ps)[0],
        tuple(p.detach().clone().requires_grad_(p.requires_grad) for p in cell._params.values()))


def test_requires_grad_subsets():
    rnn = GT.LTC(3, GW.FullyConnected(4))
    for p in rnn.parameters():
        p.requires_grad_(False)
    x = torch.randn(2, 3, 3, requires_grad=True)
    rnn(x)[0].sum().backward()
    assert x.grad is not None and all(p.grad is None for p in rnn.parameters())
    with torch.no_grad():
        y, _ = rnn(torch.randn(2, 3, 3))
    assert not y.requires_grad


def test_adam_100_steps_track_the_reference():
    rw, gw = _pair("NCP", dict(inter_neurons=6, command_neurons=4, motor_neurons=1, sensory_fanout=2, inter_fanout=2,
                               recurrent_command_synapses=2, motor_fanin=2), 2)
    torch.manual_seed(4)
    ref = NT.LTC(2, rw, implicit_param_constraints=False)
    torch.manual_seed(4)
    ours = GT.LTC(2, gw, implicit_param_constraints=False)
    t = torch.linspace(0, 2 * np.pi, 32)
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
            m.rnn_cell.apply_weight_constraints()
            ls.append(loss.item())
        losses[name] = np.array(ls)
    rel = np.abs(losses["ours"] - losses["ref"]) / np.abs(losses["ref"])
    assert rel.max() <= 1e-3, rel.max()
    assert losses["ours"][-1] < losses["ours"][0]


@pytest.mark.parametrize("call,exc,match", [
    (lambda m: m(torch.randn(2, 3, 4)), ValueError, r"input must have 3 features \(last axis\), got shape \(2, 3, 4\)"),
    (lambda m: m(torch.randn(2, 3, 3), torch.zeros(2, 5)), ValueError, r"states must have shape \(batch=2, units=4\)"),
    (lambda m: m(torch.randn(2, 3, 3), torch.zeros(4)), RuntimeError, "hx should be 2-D"),
    (lambda m: m(torch.randn(2, 3, 3), timespans=torch.ones(3, 3)), ValueError, "broadcastable"),
    (lambda m: m(np.zeros((2, 3, 3))), TypeError, "must be a torch.Tensor"),
    (lambda m: m(torch.randn(3)), ValueError, "2-D"),
    (lambda m: m(torch.randn(2, 3, 3, dtype=torch.complex64)), TypeError, "inputs must be real"),
    (lambda m: m.bfloat16()(torch.randn(2, 3, 3)), TypeError, "parameters must be float32 or float64"),
    (lambda m: m.half()(torch.randn(2, 3, 3)), TypeError, "parameters must be float32 or float64"),
    (lambda m: m(torch.randn(2, 3, 3), np.zeros((2, 4), np.float32)), TypeError,
     r"states \(hx\) must be a torch.Tensor, got ndarray"),
    (lambda m: m(torch.randn(2, 3, 3, device="meta")), ValueError,
     "inputs are on meta but the cell's parameters on cpu"),
    (lambda m: m.to("meta")(torch.randn(2, 3, 3)), ValueError, "inputs are on cpu but the cell's parameters on meta"),
    (lambda m: m.rnn_cell.sequence(torch.randn(2, 3, 3), torch.zeros(2, 4, device="meta")), ValueError,
     "states are on meta"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call(GT.LTC(3, GW.FullyConnected(4)))


def test_noncontiguous_and_dtype_inputs_are_converted():
    torch.manual_seed(0)
    m = GT.LTC(3, GW.FullyConnected(4))
    x = torch.randn(3, 2, 5)[:, :, :3].transpose(0, 1).contiguous().transpose(0, 1)  # non-contiguous
    assert not x.is_contiguous()
    y1, _ = m(x)
    y2, _ = m(x.contiguous().double())
    assert torch.equal(y1, y2)


def test_nan_input_propagates_to_its_row():
    m = GT.LTC(3, GW.FullyConnected(4))
    x = torch.zeros(2, 3, 3)
    x[0, 1, 1] = float("nan")
    y, _ = m(x)
    assert torch.isnan(y[0, 1:]).all() and torch.isfinite(y[1]).all()


def test_nan_pattern_matches_ncps_on_a_sparse_wiring():
    """The reference multiplies absent synapses by a zero mask, so a NaN
    anywhere in a row's inputs or state makes the whole row NaN; so here."""
    rw, gw = _pair("NCP", dict(inter_neurons=4, command_neurons=3, motor_neurons=2, sensory_fanout=2, inter_fanout=2,
                               recurrent_command_synapses=2, motor_fanin=2, seed=1), 3)
    torch.manual_seed(0)
    ref = NT.LTC(3, rw)
    torch.manual_seed(0)
    ours = GT.LTC(3, gw)
    x = torch.randn(3, 4, 3)
    x[1, 2, 0] = float("nan")
    (yr, hr), (yo, ho) = ref(x), ours(x)
    assert torch.equal(torch.isnan(yr), torch.isnan(yo)) and torch.equal(torch.isnan(hr), torch.isnan(ho))
    assert torch.isnan(yo[1, 2:]).all() and torch.isfinite(yo[[0, 2]]).all()


def test_pickle_deepcopy_and_torch_save_after_use(tmp_path):
    torch.manual_seed(0)
    m = GT.LTC(3, GW.NCP(4, 3, 2, 2, 2, 2, 2))
    x = torch.randn(2, 5, 3)
    y0, _ = m(x)
    torch.save(m, tmp_path / "m.pt")
    for other in (copy.deepcopy(m), pickle.loads(pickle.dumps(m)), torch.load(tmp_path / "m.pt", weights_only=False)):
        assert torch.equal(other(x)[0], y0)
        with torch.no_grad():
            other.rnn_cell.output_b += 1  # the copy has its own parameters
        assert torch.equal(other(x)[0], y0 + 1)
    assert torch.equal(m(x)[0], y0)


def test_functional_call_uses_the_given_parameters():
    torch.manual_seed(0)
    m = GT.LTC(3, GW.FullyConnected(4, 2))
    x = torch.randn(2, 5, 3)
    y0, _ = m(x)
    params = {n: p.detach().clone() for n, p in m.named_parameters()}
    params["rnn_cell.output_b"] += 1
    yf, _ = torch.func.functional_call(m, params, (x,))
    torch.testing.assert_close(yf, y0 + 1)
    # Gradients reach tensors that are not the module's leaves (as in
    # meta-learning inner loops).
    w = params["rnn_cell.w"].requires_grad_()
    torch.func.functional_call(m, params, (x,))[0].sum().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0
    assert torch.equal(m(x)[0], y0)


def test_substituted_views_do_not_hit_the_parameter_cache():
    """A transposed view starts at its tensor's address; after a first call
    cached the parameters, it must still be what runs."""
    torch.manual_seed(0)
    m = GT.LTC(3, GW.FullyConnected(4, 2))
    x = torch.randn(2, 5, 3)
    m(x)
    params = dict(m.named_parameters())
    with torch.no_grad():
        params["rnn_cell.w"].copy_(torch.rand(4, 4))  # not symmetric
    y0, _ = m(x)
    wt = params["rnn_cell.w"].t()
    got, _ = torch.func.functional_call(m, {**params, "rnn_cell.w": wt}, (x,))
    want, _ = torch.func.functional_call(m, {**params, "rnn_cell.w": wt.contiguous()}, (x,))
    assert torch.equal(got, want) and not torch.equal(got, y0)


def test_second_order_gradients_raise():
    m = GT.LTC(3, GW.FullyConnected(4, 2))
    y, _ = m(torch.randn(2, 5, 3))
    with pytest.raises(RuntimeError, match="second-order gradients"):
        torch.autograd.grad(y.sum(), list(m.parameters())[0], create_graph=True)


def test_modules_pickled_by_earlier_builds_load():
    m = GT.LTC(3, GW.FullyConnected(4, 2))
    x = torch.randn(2, 5, 3)
    y0, _ = m(x)
    cell = m.rnn_cell
    # What 0.1.0 development builds pickled: a _params dict, no _names.
    names = cell.__dict__.pop("_names")
    cell.__dict__["_params"] = {n: getattr(cell, n) for n in names}
    try:
        old = pickle.dumps(m)
    finally:
        del cell.__dict__["_params"]
        cell._names = names
    assert torch.equal(pickle.loads(old)(x)[0], y0)


def test_parametrizations_run():
    torch.manual_seed(0)
    m = GT.LTC(3, GW.FullyConnected(4, 2), implicit_param_constraints=False)
    x = torch.randn(2, 5, 3)
    y0, _ = m(x)

    class Double(nn.Module):
        def forward(self, v):
            return 2 * v

    torch.nn.utils.parametrize.register_parametrization(m.rnn_cell, "output_w", Double())
    y, _ = m(x)
    b = m.rnn_cell.output_b.detach()
    torch.testing.assert_close(y, 2 * (y0 - b) + b)
    y.sum().backward()
    assert m.rnn_cell.parametrizations.output_w.original.grad is not None


@pytest.mark.filterwarnings("ignore:`torch.jit.trace:FutureWarning")
def test_tracing_raises_instead_of_recording_constants():
    m = GT.LTC(3, GW.FullyConnected(4, 2))
    with pytest.raises(RuntimeError, match="cannot be traced by torch.jit.trace"):
        torch.jit.trace(m, torch.randn(2, 5, 3), check_trace=False)


@pytest.mark.parametrize("batch_first", [True, False])
def test_one_dimensional_timespans_are_per_step_like_ncps_time_major(batch_first):
    """ncps's time-major LTC reads timespans[t]: a (L,) tensor gives each
    step its time, also when L equals the batch size."""
    rw, gw = _pair("AutoNCP", dict(units=12, output_size=3), 4)
    torch.manual_seed(0)
    ref = NT.LTC(4, rw, batch_first=False)
    ours = GT.LTC(4, gw, batch_first=batch_first)
    ours.load_state_dict(ref.state_dict())
    ts = torch.tensor([0.2, 0.5, 1.0, 2.0])
    x = torch.randn(4, 4, 4)  # steps == batch == 4
    want, _ = ref(x, timespans=ts)
    got, _ = ours(x if not batch_first else x.transpose(0, 1), timespans=ts)
    got = got if not batch_first else got.transpose(0, 1)
    assert rel_err(got.detach(), want.detach()) <= 1e-5
    # NumPy arrays and lists work as tensors do.
    for ts_other in (ts.numpy(), ts.tolist()):
        y, _ = ours(x if not batch_first else x.transpose(0, 1), timespans=ts_other)
        assert torch.equal(y, got if not batch_first else got.transpose(0, 1))


def test_cell_elapsed_time_from_arrays_and_a_broadcast_initial_state():
    torch.manual_seed(0)
    m = GT.LTC(3, GW.FullyConnected(4, 2))
    x = torch.randn(5, 2, 3)
    e = np.linspace(0.5, 1.5, 5).astype(np.float32)
    y1, _ = m.rnn_cell(x[:, 0], None, e)
    y2, _ = m.rnn_cell(x[:, 0], None, torch.from_numpy(e)[:, None])
    assert torch.equal(y1, y2)
    h0 = torch.randn(1, 4, requires_grad=True)  # one learned initial state for the batch
    y, _ = m(x, h0)
    want, _ = m(x, h0.detach().expand(5, 4))
    assert torch.equal(y, want)
    y.sum().backward()
    assert h0.grad.shape == (1, 4)
    with pytest.raises(TypeError, match="timespans must be a number, a tensor or an array of numbers"):
        m(x, timespans="soon")
    with pytest.raises(ValueError,
                       match=r"timespans must be broadcastable to \(batch=5, steps=2\), got shape \(3, 4\)"):
        GT.LTC(3, GW.FullyConnected(4, 2), batch_first=False)(x.transpose(0, 1), timespans=torch.ones(3, 4))
