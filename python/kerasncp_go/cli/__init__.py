"""The ``kerasncp-go`` command-line program (also ``python -m kerasncp_go``).

Subcommands:

* ``train``   train an LTC network on a task (the keras-ncp sine-wave
  tutorial by default, a synthetic irregularly-sampled control task, or your
  own .npz of sequences) and save the model, a loss curve, a
  prediction-vs-target plot and the wiring diagram;
* ``predict`` run a saved model on an .npz of input sequences;
* ``info``    print a saved model's wiring and parameters;
* ``draw``    draw a wiring diagram (of a saved model, or of a wiring given
  on the command line) as PNG;
* ``bench``   time the Go LTC cell, forward and forward+backward, on the
  configurations A-E.

Every computation runs through :class:`kerasncp_go.LTCCell`: a whole batch
of sequences is one Go call forward and one backward. Only NumPy, tqdm,
matplotlib and networkx are needed.

Mistakes in the input (a missing or malformed file, wrong shapes, a bad
size) end the program with one line on stderr and exit status 1 (2 for
command-line syntax errors).

Example:
    kerasncp-go train                                  # sine wave, ~1 s
    kerasncp-go train --task irregular --epochs 300
    kerasncp-go train --data my.npz --wiring ncp --inter 8 --command 6
    kerasncp-go predict runs/sine inputs.npz -o outputs.npz
    kerasncp-go info runs/sine
    kerasncp-go draw runs/sine -o wiring.png
    kerasncp-go bench
"""

from ..train import load_model
from .main import PROG, main
from .parser import build_parser

__all__ = ["main", "load_model", "build_parser", "PROG"]
