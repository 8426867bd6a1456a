"""Peak memory of one training step, kerasncp-go against the reference.

Configuration (the torch issue's): FullyConnected(256, 16), input 64, 64
steps, batch 16, float32, 6 unfolds; one forward pass, a scalar loss and the
backward pass. Each implementation runs in its own fresh process; the number
reported is the growth of peak resident memory (ru_maxrss) over the process's
peak just before the step, i.e. what training itself needs.

Usage: PYTHONPATH=python python bench/memory.py
"""

import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys
import torch
torch.set_num_threads(2)
impl = sys.argv[1]
if impl == "ncps":
    from ncps.torch import LTC
    from ncps.wirings import FullyConnected
else:
    from kerasncp_go.torch import LTC
    from kerasncp_go.wirings import FullyConnected
torch.manual_seed(0)
m = LTC(64, FullyConnected(256, 16), implicit_param_constraints=False)
x = torch.randn(16, 64, 64)
m(x[:, :2])[0].sum().backward()  # warm up allocators and kernels on a short sequence
m.zero_grad()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
y, _ = m(x)
y.square().mean().backward()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"impl": impl, "before_mib": before / 1024, "peak_mib": after / 1024,
                  "step_mib": (after - before) / 1024}))
"""


def main():
    res = {}
    for impl in ("ncps", "kerasncp-go"):
        out = subprocess.run([sys.executable, "-c", CHILD, impl], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        res[impl] = r
        print(f"{impl:12s} peak before the step {r['before_mib']:8.1f} MiB, after {r['peak_mib']:8.1f} MiB, "
              f"training step {r['step_mib']:8.1f} MiB", flush=True)
    ratio = res["ncps"]["step_mib"] / max(res["kerasncp-go"]["step_mib"], 1e-3)
    print(f"reference / kerasncp-go (training step): {ratio:.0f}x")


if __name__ == "__main__":
    main()
