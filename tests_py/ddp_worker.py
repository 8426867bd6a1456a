"""Worker of test_torch_ddp: one rank of a 2-process DistributedDataParallel
run over kerasncp_go.torch.LTC or CfC (gloo, 127.0.0.1). Started with the spawn
start method: after the Go runtime has started, a forked child would hang."""

import gc
import os

import numpy as np
import torch
import torch.distributed as dist


def make_model(kind="ltc"):
    import kerasncp_go.torch as GT
    import kerasncp_go.wirings as GW

    torch.manual_seed(0)
    if kind == "cfc":  # mixed memory and a projection: every part of the CfC's parameter table
        return GT.CfC(3, 8, proj_size=2, mixed_memory=True, backbone_units=16, backbone_layers=2)
    if kind == "wired_cfc":
        return GT.CfC(3, GW.AutoNCP(12, 2))
    return GT.LTC(3, GW.AutoNCP(12, 2), implicit_param_constraints=True)


def data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 10, 3, generator=g)
    y = torch.randn(8, 10, 2, generator=g)
    return x, y


def _rank_grads(rank, world, kind):
    # The DDP wrapper and its reducer live only in this frame: they hold the
    # process group, and gloo's worker threads must be gone before the
    # interpreter shuts down (a process group freed during finalisation can
    # abort the process with "terminate called without an active exception").
    model = torch.nn.parallel.DistributedDataParallel(make_model(kind))
    x, y = data()
    n = x.shape[0] // world
    xs, ys = x[rank * n:(rank + 1) * n], y[rank * n:(rank + 1) * n]
    loss = (model(xs)[0] - ys).square().mean()
    loss.backward()
    return {k: p.grad.numpy().copy() for k, p in model.module.named_parameters() if p.grad is not None}


def run(rank, world, port, out_dir, kind="ltc"):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        grads = _rank_grads(rank, world, kind)
        gc.collect()
        np.savez(os.path.join(out_dir, f"rank{rank}.npz"), **grads)
        dist.barrier()  # neither rank closes its connections while the other still uses them
    finally:
        dist.destroy_process_group()
