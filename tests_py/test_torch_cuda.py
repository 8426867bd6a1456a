"""kerasncp_go.torch on a CUDA device: inputs and parameters make a round
trip through host memory, results and gradients come back on the device and
equal the CPU module's.

Covers the LTC and the CfC modules. Runs wherever torch sees a CUDA GPU
(scripts/test.sh included; conftest no longer hides the devices) and is
skipped where none is. Needs only torch and kerasncp_go, not the reference
packages."""

import copy

import pytest
import torch

import kerasncp_go.torch as GT
import kerasncp_go.wirings as GW

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _pair(**kw):
    torch.manual_seed(0)
    cpu = GT.LTC(5, GW.NCP(6, 4, 2, 3, 2, 3, 2), **kw)
    return cpu, copy.deepcopy(cpu).cuda()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sequence_forward_and_gradients_equal_the_cpu_module(dtype):
    cpu, gpu = _pair()
    cpu, gpu = cpu.to(dtype), gpu.to(dtype)
    x = torch.randn(3, 7, 5, dtype=dtype)
    ts = torch.rand(3, 7, dtype=dtype) + 0.5
    h0 = torch.randn(3, 12, dtype=dtype)
    xc, xg = x.clone().requires_grad_(), x.cuda().requires_grad_()
    yc, hc = cpu(xc, h0, timespans=ts)
    yg, hg = gpu(xg, h0.cuda(), timespans=ts.cuda())
    assert yg.device.type == "cuda" and hg.device.type == "cuda"
    torch.testing.assert_close(yg.cpu(), yc, rtol=0, atol=0)
    torch.testing.assert_close(hg.cpu(), hc, rtol=0, atol=0)
    (yc.square().sum() + hc.sum()).backward()
    (yg.square().sum() + hg.sum()).backward()
    assert xg.grad.device.type == "cuda"
    torch.testing.assert_close(xg.grad.cpu(), xc.grad, rtol=0, atol=0)
    for (n, pc), (_, pg) in zip(cpu.named_parameters(), gpu.named_parameters()):
        if pc.grad is None:
            assert pg.grad is None, n
            continue
        assert pg.grad.device.type == "cuda", n
        torch.testing.assert_close(pg.grad.cpu(), pc.grad, rtol=0, atol=0, msg=n)


def test_adam_training_on_the_device_follows_the_cpu():
    cpu, gpu = _pair(implicit_param_constraints=False)
    x, target = torch.randn(4, 10, 5), torch.randn(4, 10, 2)
    for m, dev in ((cpu, "cpu"), (gpu, "cuda")):
        opt = torch.optim.Adam(m.parameters(), lr=0.01)
        for _ in range(20):
            opt.zero_grad()
            loss = (m(x.to(dev))[0] - target.to(dev)).square().mean()
            loss.backward()
            opt.step()
            m.rnn_cell.apply_weight_constraints()
    for (n, pc), (_, pg) in zip(cpu.named_parameters(), gpu.named_parameters()):
        torch.testing.assert_close(pg.detach().cpu(), pc.detach(), rtol=1e-5, atol=1e-6, msg=n)


def test_cell_step_with_elapsed_time_on_the_device():
    cpu, gpu = _pair()
    x, h = torch.randn(3, 5), torch.randn(3, 12)
    e = torch.rand(3) + 0.5
    yc, hc = cpu.rnn_cell(x, h, e)
    yg, hg = gpu.rnn_cell(x.cuda(), h.cuda(), e.cuda())
    torch.testing.assert_close(yg.cpu(), yc, rtol=0, atol=0)
    torch.testing.assert_close(hg.cpu(), hc, rtol=0, atol=0)


def test_mixed_devices_raise():
    _, gpu = _pair()
    with pytest.raises(ValueError, match="inputs are on cpu but the cell's parameters on cuda:0"):
        gpu(torch.randn(2, 3, 5))
    gpu.rnn_cell.output_b.data = gpu.rnn_cell.output_b.data.cpu()
    with pytest.raises(ValueError, match="spread over devices"):
        gpu(torch.randn(2, 3, 5, device="cuda"))


# -- CfC ------------------------------------------------------------------------

def _cfc_pair(wiring=None):
    """A CfC on the CPU and its copy on the device: over wiring (whose
    backbone is fixed: the backbone arguments are refused in wired mode),
    else over 8 units with a two-layer backbone."""
    torch.manual_seed(0)
    if wiring is None:
        cpu = GT.CfC(5, 8, mixed_memory=True, proj_size=3, backbone_units=16, backbone_layers=2)
    else:
        cpu = GT.CfC(5, wiring, mixed_memory=True, proj_size=3)
    return cpu, copy.deepcopy(cpu).cuda()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("wired", [False, True])
def test_cfc_forward_and_gradients_equal_the_cpu_module(dtype, wired):
    cpu, gpu = _cfc_pair(GW.AutoNCP(8, 2) if wired else None)
    cpu, gpu = cpu.to(dtype), gpu.to(dtype)
    x = torch.randn(3, 7, 5, dtype=dtype)
    ts = torch.rand(3, 7, dtype=dtype) + 0.5
    h0, c0 = torch.randn(3, 8, dtype=dtype), torch.randn(3, 8, dtype=dtype)
    xc, xg = x.clone().requires_grad_(), x.cuda().requires_grad_()
    tc, tg = ts.clone().requires_grad_(), ts.cuda().requires_grad_()
    yc, (hc, cc) = cpu(xc, (h0, c0), timespans=tc)
    yg, (hg, cg) = gpu(xg, (h0.cuda(), c0.cuda()), timespans=tg)
    assert yg.device.type == "cuda" and hg.device.type == "cuda" and cg.device.type == "cuda"
    for a, b in ((yg, yc), (hg, hc), (cg, cc)):
        torch.testing.assert_close(a.cpu(), b, rtol=0, atol=0)
    (yc.square().sum() + hc.sum() + cc.sum()).backward()
    (yg.square().sum() + hg.sum() + cg.sum()).backward()
    for a, b in ((xg, xc), (tg, tc)):
        assert a.grad.device.type == "cuda"
        torch.testing.assert_close(a.grad.cpu(), b.grad, rtol=0, atol=0)
    for (n, pc), (_, pg) in zip(cpu.named_parameters(), gpu.named_parameters()):
        if pc.grad is None:
            assert pg.grad is None, n
            continue
        assert pg.grad.device.type == "cuda", n
        torch.testing.assert_close(pg.grad.cpu(), pc.grad, rtol=0, atol=0, msg=n)


def test_cfc_cells_and_mixed_devices_on_the_device():
    cpu, gpu = _cfc_pair()
    x, h = torch.randn(3, 5), torch.randn(3, 8)
    e = torch.rand(3) + 0.5
    yc, hc = cpu.rnn_cell(x, h, e)
    yg, hg = gpu.rnn_cell(x.cuda(), h.cuda(), e.cuda())
    torch.testing.assert_close(yg.cpu(), yc, rtol=0, atol=0)
    with pytest.raises(ValueError, match="inputs are on cpu but the cell's parameters on cuda:0"):
        gpu(torch.randn(2, 3, 5))
    gpu.fc.bias.data = gpu.fc.bias.data.cpu()
    with pytest.raises(ValueError, match="spread over devices"):
        gpu(torch.randn(2, 3, 5, device="cuda"))
