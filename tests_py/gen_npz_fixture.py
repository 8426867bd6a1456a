"""Generate the .npz fixtures that core/npz_test.go loads with core.LoadNPZ.

Each fixture is the ``state_dict`` of a real reference cell written by numpy's
own .npy writer (``np.lib.format.write_array``, what ``np.savez`` and
``np.savez_compressed`` call), plus the reference's output on a fixed input, so
that the Go test checks names, shapes, layout and values, not just shapes:

* ``core/testdata/ltccell_ncp_f32.npz``: ``ncps.torch.LTCCell`` over
  ``ncps.wirings.NCP(4, 3, 2, sensory_fanout=2, inter_fanout=2,
  recurrent_command_synapses=3, motor_fanin=2, seed=5)`` with 3 input
  features, affine mappings, explicit constraints, float32; stored entries
  (``np.savez``'s ZIP_STORED).
* ``core/testdata/ltc_autoncp_prefixed_f64.npz``: the ``state_dict`` of an
  ``ncps.torch.LTC`` model (keys ``rnn_cell.<name>``) over
  ``ncps.wirings.AutoNCP(9, 2, seed=6)`` with 3 input features,
  ``input_mapping="linear"``, ``output_mapping=None`` (identity, so the file
  does not record the motor size), implicit constraints (LTC's default),
  float64 (``model.double()``); deflated entries (``np.savez_compressed``'s
  ZIP_DEFLATED).

Every parameter is perturbed off its initial value (erev off the polarities,
input_w and output_w off 1, ...) so that a transposed or misnamed array changes
the output. Besides the parameters each file holds ``ref_x`` (2, 3),
``ref_h0`` (2, units), ``ref_elapsed`` (2, 1) and the cell's one-step output
``ref_y`` (2, motor) and new state ``ref_h`` (2, units) from
``cell(ref_x, ref_h0, elapsed_time=ref_elapsed)``; LoadNPZ ignores names it does
not know.

Member timestamps are fixed, so reruns reproduce the files byte for byte. Run
from the repository root with the project virtualenv::

    "$(bash scripts/venv.sh)/bin/python" tests_py/gen_npz_fixture.py
"""

import importlib.metadata
import io
import pathlib
import zipfile

import ncps.torch
import ncps.wirings
import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "core" / "testdata"


def savez(path, arrays, compression):
    """Write arrays as np.savez / np.savez_compressed do, with fixed timestamps."""
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, a in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(a), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            zf.writestr(info, buf.getvalue())


def perturb(module, gen):
    """Move every trainable parameter off its initial value, in place."""
    with torch.no_grad():
        for p in module.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def reference_io(cell, units, dtype, gen):
    x = torch.randn(2, 3, generator=gen, dtype=dtype)
    h0 = 0.3 * torch.randn(2, units, generator=gen, dtype=dtype)
    elapsed = 0.5 + torch.rand(2, 1, generator=gen, dtype=dtype)
    with torch.no_grad():
        y, h = cell(x, h0, elapsed_time=elapsed)
    return {"ref_x": x, "ref_h0": h0, "ref_elapsed": elapsed, "ref_y": y, "ref_h": h}


def to_numpy(d):
    return {k: v.detach().cpu().numpy() for k, v in d.items()}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    print("numpy", np.__version__, "torch", torch.__version__, "ncps", importlib.metadata.version("ncps"))

    torch.manual_seed(5)
    gen = torch.Generator().manual_seed(5)
    wiring = ncps.wirings.NCP(4, 3, 2, sensory_fanout=2, inter_fanout=2,
                              recurrent_command_synapses=3, motor_fanin=2, seed=5)
    cell = ncps.torch.LTCCell(wiring, in_features=3)
    perturb(cell, gen)
    arrays = to_numpy(cell.state_dict())
    arrays.update(to_numpy(reference_io(cell, wiring.units, torch.float32, gen)))
    assert all(a.dtype == np.float32 for a in arrays.values())
    savez(OUT / "ltccell_ncp_f32.npz", arrays, zipfile.ZIP_STORED)

    torch.manual_seed(6)
    gen = torch.Generator().manual_seed(6)
    wiring = ncps.wirings.AutoNCP(9, 2, seed=6)
    model = ncps.torch.LTC(3, wiring, input_mapping="linear", output_mapping=None).double()
    perturb(model, gen)
    arrays = to_numpy(model.state_dict())
    assert sorted(arrays)[0].startswith("rnn_cell.") and "rnn_cell.output_w" not in arrays
    arrays.update(to_numpy(reference_io(model.rnn_cell, wiring.units, torch.float64, gen)))
    assert all(a.dtype == np.float64 for a in arrays.values())
    savez(OUT / "ltc_autoncp_prefixed_f64.npz", arrays, zipfile.ZIP_DEFLATED)


if __name__ == "__main__":
    main()
