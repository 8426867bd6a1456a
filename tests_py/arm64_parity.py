"""Forward/backward parity of an installed kerasncp_go across machines.

    python arm64_parity.py make OUT.npz   # on x86_64: inputs, outputs, gradients
    python arm64_parity.py check IN.npz   # on aarch64 (under qemu): recompute, compare

The same seeds give the same parameters and inputs everywhere (NumPy's
PCG64 stream); what may differ is the kernels' rounding (x86_64 runs
assembly kernels, aarch64 the portable Go ones), so float32 results are
compared with a tolerance of a few float32 round-offs and float64 ones
tightly. Run by scripts/test-arm64.sh.
"""

import platform
import sys

import numpy as np

import kerasncp_go as kg
from kerasncp_go import wirings


def compute():
    out = {}
    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64):
        tag = np.dtype(dtype).name
        x = rng.standard_normal((3, 9, 5)).astype(dtype)
        ts = rng.uniform(0.5, 1.5, (3, 9)).astype(dtype)
        # LTC over an NCP wiring, irregular steps, forward and BPTT.
        cell = kg.LTCCell(wirings.NCP(6, 4, 2, 3, 3, 2, 3, seed=3), in_features=5, dtype=dtype, seed=11)
        y, h, tape = cell.forward_with_tape(x, timespans=ts)
        gy = np.ones_like(y)
        grads = cell.backward(tape, gy, np.ones_like(h))
        out[f"ltc_{tag}/y"], out[f"ltc_{tag}/h"] = y, h
        for k, v in grads.items():
            out[f"ltc_{tag}/grad/{k}"] = v
        # The LTC stepper, step by step.
        st = cell.stepper()
        out[f"ltc_{tag}/stepper_y"] = np.stack([st.step(x[0, t], elapsed=float(ts[0, t])) for t in range(9)])
        # CfC with a backbone and mixed memory, forward and backward.
        rnn = kg.CfC(5, 8, mixed_memory=True, dtype=dtype, seed=5)
        y, (h, c), tape = rnn.forward_with_tape(x, timespans=ts)
        grads = rnn.backward(tape, np.ones_like(y), (np.ones_like(h), np.ones_like(c)))
        out[f"cfc_{tag}/y"], out[f"cfc_{tag}/h"], out[f"cfc_{tag}/c"] = y, h, c
        for k, v in grads.items():
            out[f"cfc_{tag}/grad/{k}"] = v
    return out


def main():
    mode, path = sys.argv[1], sys.argv[2]
    got = compute()
    if mode == "make":
        np.savez(path, machine=np.array(platform.machine()), **got)
        print(f"{platform.machine()}: wrote {len(got)} arrays to {path}")
        return
    want = np.load(path)
    bad = []
    worst = 0.0
    for k, v in got.items():
        w = want[k]
        tol = 1e-4 if v.dtype == np.float32 else 1e-10
        err = float(np.max(np.abs(v - w) / (1 + np.abs(w)))) if v.size else 0.0
        worst = max(worst, err if v.dtype == np.float32 else 0.0)
        if v.shape != w.shape or not err <= tol:
            bad.append(f"{k}: max relative difference {err:.3g} > {tol}")
    print(f"{platform.machine()} vs {want['machine']}: {len(got)} arrays (LTC and CfC forward, backward, stepper; "
          f"float32 and float64), worst float32 relative difference {worst:.3g}")
    if bad:
        print("MISMATCH:\n  " + "\n  ".join(bad))
        sys.exit(1)
    print("parity ok")


if __name__ == "__main__":
    main()
