"""The committed CfC fixtures (tests_go/testdata/cfc) still match the reference.

The Go CfC tests trust these files. Here a few of them are recomputed with the
reference, ncps 1.0.1's torch CfC: the module is rebuilt from the manifest
entry, its parameters are loaded from the fixture's ``param/*`` arrays, and the
outputs and autograd gradients of the stored loss are compared with the stored
ones. The driver below is written from the manifest format alone (not shared
with the generator), so a fixture whose configuration, parameters or numbers
drifted from what the reference computes fails here. A last test reruns the
generator's own pipeline for one fixture and demands byte-identical arrays, so
an edited generator whose output was not regenerated also fails.
"""

import importlib.metadata
import json
import sys

import ncps.wirings
import numpy as np
import pytest
import torch
from ncps.torch import CfC

from conftest import ROOT, rel_err

CFC_FIXTURES = ROOT / "tests_go" / "testdata" / "cfc"

# a wired case with mixed memory in float64, a time-major plain case with mixed
# memory and projection, and a batch > 1 timespans case driven by the cell loop
RECHECKED = ("f64_w_ncp_mx_proj", "tm_plain_mx_proj_silu", "tsb_w_ncp_default")


def manifest():
    return json.loads((CFC_FIXTURES / "manifest.json").read_text())


def entry(name):
    (e,) = [f for f in manifest()["fixtures"] if f["name"] == name]
    return e


def load(name):
    with np.load(CFC_FIXTURES / f"{name}.npz") as z:
        return {k: z[k] for k in z.files}


def rebuild(e, arrays):
    kw = dict(proj_size=e["proj_size"], return_sequences=e["return_sequences"],
              batch_first=e["batch_first"], mixed_memory=e["mixed_memory"],
              mode=e["mode"], activation=e["activation"])
    if e["wiring"] is None:
        module = CfC(e["input_size"], e["units"], backbone_units=e["backbone_units"],
                     backbone_layers=e["backbone_layers"],
                     backbone_dropout=e["backbone_dropout"], **kw)
    else:
        wiring = getattr(ncps.wirings, e["wiring"]["class"])(**e["wiring"]["args"])
        module = CfC(e["input_size"], wiring, **kw)
    if e["dtype"] == "float64":
        module = module.double()
    params = {k[len("param/"):]: torch.from_numpy(v) for k, v in arrays.items()
              if k.startswith("param/")}
    module.load_state_dict(params, strict=True)
    return module.eval()


def recompute(e, module, arrays):
    dt = torch.float64 if e["dtype"] == "float64" else torch.float32
    t = {k: torch.tensor(arrays[k], dtype=dt, requires_grad=k != "ts")
         for k in ("x", "h0", "c0", "ts") if k in arrays}
    mixed = e["mixed_memory"]
    if e["timespans"] == "none" or e["batch"] == 1:
        x, ts = t["x"], t.get("ts")
        if not e["batch_first"]:
            x = x.transpose(0, 1)
            ts = None if ts is None else ts.transpose(0, 1)
        y, hx = module(x, (t["h0"], t["c0"]) if mixed else t["h0"], timespans=ts)
        if e["return_sequences"] and not e["batch_first"]:
            y = y.transpose(0, 1)
        h, c = hx if mixed else (hx, None)
    else:
        # ncps's CfC.forward cannot take per-sample timespans at batch > 1; step
        # its modules with ts of shape (B, 1)
        h, c = t["h0"], t.get("c0")
        ys = []
        for s in range(e["steps"]):
            if mixed:
                h, c = module.lstm(t["x"][:, s], (h, c))
            out, h = module.rnn_cell(t["x"][:, s], h, t["ts"][:, s:s + 1])
            ys.append(module.fc(out))
        y = torch.stack(ys, 1) if e["return_sequences"] else ys[-1]
    loss = (y * torch.from_numpy(arrays["gy"])).sum() \
        + (h * torch.from_numpy(arrays["gh"])).sum()
    if mixed:
        loss = loss + (c * torch.from_numpy(arrays["gc"])).sum()
    sd = module.state_dict(keep_vars=True)
    keys = [k for k, v in sd.items() if v.requires_grad]
    names = ["grad/" + k for k in keys] + ["gx", "gh0"] + (["gc0"] if mixed else [])
    leaves = [sd[k] for k in keys] + [t["x"], t["h0"]] + ([t["c0"]] if mixed else [])
    grads = torch.autograd.grad(loss, leaves)
    out = {"y": y, "h": h, **({"c": c} if mixed else {})}
    out.update(zip(names, grads))
    return {k: v.detach().numpy() for k, v in out.items()}


def test_manifest_matches_files_and_versions():
    m = manifest()
    assert m["versions"]["ncps"] == importlib.metadata.version("ncps") == "1.0.1"
    names = {f["name"] for f in m["fixtures"]}
    on_disk = {p.stem for p in CFC_FIXTURES.glob("*.npz")}
    assert names == on_disk
    assert 40 <= len(names) <= 80


@pytest.mark.parametrize("name", RECHECKED)
def test_fixture_matches_reference(name):
    e, arrays = entry(name), load(name)
    module = rebuild(e, arrays)
    got = recompute(e, module, arrays)
    stored = {k for k in arrays if k in ("y", "h", "c", "gx", "gh0", "gc0")
              or k.startswith("grad/")}
    assert set(got) == stored
    tol = 1e-5 if e["dtype"] == "float32" else 1e-12
    for k in sorted(got):
        assert got[k].shape == arrays[k].shape, (k, got[k].shape, arrays[k].shape)
        assert got[k].dtype == arrays[k].dtype, k
        assert rel_err(got[k], arrays[k]) < tol, (k, rel_err(got[k], arrays[k]))


def test_generator_reproduces_committed_fixture():
    sys.path.insert(0, str(ROOT / "tests_py"))
    import gen_cfc_fixtures as gen

    (spec,) = [s for s in gen.plan() if s["name"] == "mx_w_rnd_default_proj"]
    arrays = gen.build_fixture(spec)[0]
    stored = load(spec["name"])
    assert set(arrays) == set(stored)
    for k in sorted(stored):
        assert arrays[k].dtype == stored[k].dtype, k
        assert np.array_equal(arrays[k], stored[k]), k
