"""kerasncp_go.torch.share_threads: the Go core's parallel work on torch's
own OpenMP threads (see python/kerasncp_go/_openmp.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import kerasncp_go as kncp
import kerasncp_go.torch as GT
from kerasncp_go import _openmp, wirings

TORCH_OPENMP = "parallel backend: OpenMP" in torch.__config__.parallel_info()


@pytest.fixture
def torch_threads():
    """torch.set_num_threads for one test, restored afterwards with the
    team (shared again, as after import)."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)
    kncp.set_num_threads(0)
    GT.share_threads(True)


def test_import_shares_torchs_runtime():
    if not TORCH_OPENMP:  # another parallel backend: nothing to share, and share_threads says so
        assert GT.share_threads() is False and _openmp.installed() is None
        return
    path = _openmp.installed()
    assert path is not None, "importing kerasncp_go.torch did not share torch's OpenMP threads"
    torch_dir = os.path.dirname(os.path.dirname(os.path.abspath(torch.__file__)))
    assert path.startswith(torch_dir), f"{path} is not torch's own runtime (under {torch_dir})"
    assert GT.share_threads() is True


def _passes():
    """(name, run) pairs: run() returns every output and gradient of a
    training pass, in float32, on a batch the Go core splits."""
    torch.manual_seed(0)
    x = torch.randn(64, 12, 6)
    ts = torch.rand(64, 12) + 0.5
    out = []
    for kw in ({}, {"mode": "pure"}, {"mode": "no_gate", "mixed_memory": True}, {"backbone_layers": 2}):
        m = GT.CfC(6, 24, **kw)
        out.append((f"CfC {kw}", m, lambda m=m: m(x, timespans=ts)[0]))
    w = GT.CfC(6, wirings.AutoNCP(20, 3))
    out.append(("wired CfC", w, lambda: w(x)[0]))
    ltc = GT.LTC(6, wirings.FullyConnected(12, 3))
    out.append(("LTC", ltc, lambda: ltc(x)[0]))

    def run(m, f):
        m.zero_grad(set_to_none=True)
        y = f()
        (y * torch.linspace(-1, 1, y.shape[-1])).sum().backward()
        return [y.detach().clone()] + [p.grad.clone() for p in m.parameters() if p.grad is not None]

    return [(name, lambda m=m, f=f: run(m, f)) for name, m, f in out]


def test_team_gives_the_same_numbers_as_own_threads(torch_threads):
    if not TORCH_OPENMP:
        assert GT.share_threads() is False
        return
    torch_threads(2)
    kncp.set_num_threads(2)  # the same split on either side, on any machine
    passes = _passes()
    assert GT.share_threads(True)
    before = _openmp.team_regions()
    on = {name: run() for name, run in passes}
    assert _openmp.team_regions() > before, "no pass ran on torch's team"
    assert GT.share_threads(False) is False
    before = _openmp.team_regions()
    off = {name: run() for name, run in passes}
    assert _openmp.team_regions() == before, "a pass ran on the team after share_threads(False)"
    for name in on:
        for a, b in zip(on[name], off[name]):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_one_torch_thread_means_the_go_runtimes_own(torch_threads):
    # torch on one thread has no team to spin; the Go core keeps its own
    # threads (every core), so a pass is as parallel as without torch.
    torch_threads(1)
    GT.share_threads(True)
    before = _openmp.team_regions()
    for _, run in _passes():
        run()
    assert _openmp.team_regions() == before


def _child(code: str, **env) -> subprocess.CompletedProcess:
    src = "import numpy as np, torch\nimport kerasncp_go.torch as GT\nfrom kerasncp_go import _openmp\n"
    return subprocess.run([sys.executable, "-c", src + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})


def test_environment_variable_keeps_the_go_runtimes_threads():
    p = _child("""
        torch.set_num_threads(2)
        m = GT.CfC(6, 24)
        m(torch.randn(64, 12, 6))[0].sum().backward()
        print("installed", _openmp.installed(), "regions", _openmp.team_regions())
    """, KERASNCP_GO_TORCH_THREADS="0")
    assert p.returncode == 0, p.stderr
    assert "installed None regions 0" in p.stdout, p.stdout


def test_passes_on_the_team_run_on_the_calling_thread():
    # The team is the calling thread's: a pass handed to the kept call
    # thread (for Ctrl-C) would start a second team there, whose spinning
    # threads slow torch's next operations severalfold. Passes of ordinary
    # size stay on the calling thread while the team is shared.
    p = _child("""
        import threading
        torch.set_num_threads(2)
        m = GT.CfC(20, 50)  # 64 x 64 x 28k parameters: above the usual bound for the call thread
        for _ in range(3):
            m(torch.randn(64, 64, 20))[0].sum().backward()
        calls = sum(t.name == "kerasncp-go call" for t in threading.enumerate())
        print("call threads", calls, "regions", _openmp.team_regions() > 0)
    """)
    assert p.returncode == 0, p.stderr
    if not TORCH_OPENMP:  # no team to share: passes this size go to the call thread, as without torch
        assert "call threads 1 regions False" in p.stdout, p.stdout
        return
    assert "call threads 0 regions True" in p.stdout, p.stdout


def test_threads_torch_has_not_used_follow_torchs_setting(torch_threads):
    # torch's thread count is the whole process's setting, but OpenMP's is
    # per thread: a thread torch never ran on would otherwise get every
    # core. Passes from such a thread follow torch.set_num_threads too.
    import threading

    torch_threads(1)
    GT.share_threads(True)
    m = kncp.CfC(6, 24)
    x = np.random.default_rng(0).standard_normal((64, 12, 6)).astype(np.float32)
    done = []

    def train():
        y, _, tape = m.forward_with_tape(x)
        done.append(m.backward(tape, np.ones_like(y)))

    before = _openmp.team_regions()
    t = threading.Thread(target=train)
    t.start()
    t.join()
    assert len(done) == 1, "the pass failed"
    assert _openmp.team_regions() == before, "a pass from a fresh thread ran on a team while torch has one thread"
    torch_threads(2)  # and with two, such a thread's passes do run on a team
    t = threading.Thread(target=train)
    t.start()
    t.join()
    assert len(done) == 2 and _openmp.team_regions() > before


def test_turning_sharing_off_survives_later_imports(torch_threads):
    # Importing a torch binding shares torch's threads unless the user has
    # chosen: share_threads(False) stays in force when, say, Keras's torch
    # backend module is imported afterwards.
    assert GT.share_threads(False) is False
    _openmp.on_torch_import(torch)  # what kerasncp_go.keras._torch does on import
    assert _openmp.installed() is None
