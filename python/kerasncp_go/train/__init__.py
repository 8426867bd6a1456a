"""Training on NumPy arrays: tasks and data files (:mod:`.data`), Adam
(:mod:`.optim`), the training loop (:mod:`.loop`), and saved models
(:mod:`.model_io`). This module only re-exports them.

Everything here runs the LTC cell through :class:`kerasncp_go.LTCCell`: each
batch is one Go call forward (:meth:`~kerasncp_go.LTCCell.forward_with_tape`)
and one backward (:meth:`~kerasncp_go.LTCCell.backward`) over the whole
sequence; Python never loops over time steps. Only NumPy is needed (tqdm for
the progress bar), so the command-line program works without torch or
TensorFlow.

Data layout: a :class:`Dataset` holds ``x`` (N, T, S) inputs, ``y`` (N, T, M)
targets and optionally ``elapsed`` (N, T), the time elapsed before each step
(irregular sampling; absent means 1.0 everywhere, as the reference).

A saved model is a folder with two files:

* ``model.npz``: the parameters under the reference's names (what
  :meth:`kerasncp_go.LTCCell.save_npz` writes; np.load it and pass it to the
  ``load_state_dict`` of kerasncp_go.torch.LTCCell or kerasncp.torch.LTCCell);
* ``model.json``: the wiring (``kind`` and constructor ``args``, or the
  matrices for a custom wiring) and the cell options.

Example:
    >>> from kerasncp_go import LTCCell, wirings
    >>> from kerasncp_go.train import sine_task, fit
    >>> data = sine_task()
    >>> cell = LTCCell(wirings.AutoNCP(16, 1), in_features=2, seed=0)
    >>> history = fit(cell, data, epochs=50, lr=0.02, progress=False)
"""

from .data import Dataset, elapsed_from_timestamps, irregular_task, load_npz_task, read_npz, sine_task, split
from .loop import History, check_data, evaluate, fit, predict
from .model_io import (
                       MODEL_FORMAT,
                       MODEL_FORMAT_VERSION,
                       WIRING_KINDS,
                       load_model,
                       make_wiring,
                       read_model_config,
                       save_model,
                       wiring_from_spec,
                       wiring_spec,
)
from .optim import Adam, clip_grad_norm

__all__ = [
    "Dataset", "sine_task", "irregular_task", "load_npz_task", "elapsed_from_timestamps", "read_npz", "split",
    "Adam", "clip_grad_norm", "History", "check_data", "fit", "evaluate", "predict",
    "WIRING_KINDS", "make_wiring", "wiring_spec", "wiring_from_spec",
    "save_model", "load_model", "read_model_config", "MODEL_FORMAT", "MODEL_FORMAT_VERSION",
]
