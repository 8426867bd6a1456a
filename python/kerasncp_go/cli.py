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

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from . import __version__, _lib
from . import wirings as W
from ._lib import NCPError
from .ltc import LTCCell
from .train import (Dataset, History, check_data, fit, irregular_task, load_model, load_npz_task, make_wiring,
                    predict, read_model_config, save_model, sine_task, split)

__all__ = ["main", "load_model", "build_parser"]

PROG = "kerasncp-go"

#: Per-task defaults: epochs, batch size, learning rate, validation fraction.
TASK_DEFAULTS = {
    "sine": dict(epochs=1000, batch_size=1, lr=0.01, val_frac=0.0),
    "irregular": dict(epochs=200, batch_size=32, lr=0.01, val_frac=0.2),
    "npz": dict(epochs=100, batch_size=32, lr=0.01, val_frac=0.2),
}

#: Benchmark configurations: (description, wiring kind, wiring args, input features, steps, batch).
BENCH_CONFIGS = {
    "A": ("FullyConnected(8,1)", "fc", dict(units=8, output_dim=1), 2, 48, 32),
    "B": ("NCP(12,6,1,6,4,6,6)", "ncp", dict(inter_neurons=12, command_neurons=6, motor_neurons=1, sensory_fanout=6,
                                             inter_fanout=4, recurrent_command_synapses=6, motor_fanin=6), 32, 32, 64),
    "C": ("AutoNCP(64,8)", "autoncp", dict(units=64, output_size=8), 32, 64, 64),
    "D": ("FullyConnected(256,16)", "fc", dict(units=256, output_dim=16), 64, 32, 32),
    "E": ("NCP(12,6,1,6,4,6,6)", "ncp", dict(inter_neurons=12, command_neurons=6, motor_neurons=1, sensory_fanout=6,
                                             inter_fanout=4, recurrent_command_synapses=6, motor_fanin=6), 32, 1, 1),
}

_MAPPINGS = {"affine": "affine", "linear": "linear", "none": None}


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions as written and appends "(default: ...)" to options
    whose help does not mention their default already."""

    def _get_help_string(self, action):
        h = action.help or ""
        d = action.default
        if "default" not in h and d is not None and d is not False and d != argparse.SUPPRESS and action.option_strings:
            h += " (default: %(default)s)"
        return h


def _int_at_least(lo: int):
    """An argparse type: an integer >= lo."""

    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {v}")
        return v

    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def _positive_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
    if not (v > 0 and np.isfinite(v)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {s}")
    return v


# -- parser ----------------------------------------------------------------


def _add_wiring_args(p: argparse.ArgumentParser, outputs_help: str) -> None:
    g = p.add_argument_group(
        "wiring",
        "  autoncp  an NCP sized from --units, --outputs and --sparsity (ncps's AutoNCP)\n"
        "  ncp      an NCP with explicit layer sizes and fan-outs (keras-ncp's NCP), --outputs motor neurons\n"
        "  fc       every neuron connected to every neuron (FullyConnected)\n"
        "  random   random synapses (Random)")
    g.add_argument("--wiring", default="autoncp", metavar="KIND",
                   help="ncp, autoncp, fc or random")
    g.add_argument("--units", metavar="N", type=_positive_int, default=None,
                   help="neurons (autoncp, fc, random); default 16 for autoncp, 8 for fc and random")
    g.add_argument("--outputs", metavar="M", type=_positive_int, default=None, help=outputs_help)
    g.add_argument("--sparsity", metavar="S", type=float, default=0.5,
                   help="sparsity level (autoncp: 0.1-1; random: 0-1)")
    g.add_argument("--inter", metavar="N", type=_positive_int, default=6, help="ncp: inter neurons")
    g.add_argument("--command", metavar="N", type=_positive_int, default=4, help="ncp: command neurons")
    g.add_argument("--sensory-fanout", metavar="N", type=_positive_int, default=None,
                   help="ncp: inter neurons each input reaches (default: min(4, inter))")
    g.add_argument("--inter-fanout", metavar="N", type=_positive_int, default=None,
                   help="ncp: command neurons each inter neuron reaches (default: min(2, command))")
    g.add_argument("--recurrent-command", metavar="N", type=_nonneg_int, default=4,
                   help="ncp: recurrent command-to-command synapses")
    g.add_argument("--motor-fanin", metavar="N", type=_positive_int, default=None,
                   help="ncp: command neurons each motor neuron listens to (default: min(3, command))")
    g.add_argument("--wiring-seed", metavar="SEED", type=_nonneg_int, default=None,
                   help="seed of the synapses (default: the wiring class's, 22222 for NCPs, 1111 otherwise)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``kerasncp-go`` program."""
    top = _Parser(prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
                  description="Neural Circuit Policies (LTC networks, keras-ncp compatible) computed by a Go core:\n"
                              "train, run, inspect, draw and benchmark them.",
                  epilog="Run 'kerasncp-go COMMAND --help' for a command's options. Start with:\n"
                         "  kerasncp-go train          # the keras-ncp sine-wave tutorial, about a second\n"
                         "  kerasncp-go info runs/sine")
    top.add_argument("--version", action="version",
                     version=f"kerasncp-go {__version__} (library {_lib.version()})")
    sub = top.add_subparsers(dest="subcommand", metavar="COMMAND")

    # train
    p = sub.add_parser(
        "train", formatter_class=_Formatter, help="train a model on a task and save it with plots",
        description=(
            "Train an LTC network with Adam on the mean squared error and save it.\n\n"
            "Tasks:\n"
            "  sine       keras-ncp's tutorial: inputs sin and cos of a time grid (48 steps), target a sine\n"
            "             of twice the frequency; one sequence (default).\n"
            "  irregular  a first-order plant driven by a random control signal, sampled at random times;\n"
            "             the gaps between samples are passed to the cell as elapsed times.\n"
            "  --data F   your own sequences: an .npz with x (N, T, S) and y (N, T, M), optionally\n"
            "             elapsed (N, T) elapsed times or t (N, T) timestamps.\n\n"
            "Each batch runs the whole sequence forward and backward in one Go call each; gradients are\n"
            "clipped to a global norm (--clip) and the weight constraints applied after every step, as in\n"
            "the reference tutorial. The output folder receives model.npz (parameters under keras-ncp's\n"
            "names), model.json (wiring and cell options), loss.png, prediction.png and wiring.png.\n\n"
            "Defaults per task (epochs / batch size / learning rate / validation fraction):\n"
            "  sine 1000 / 1 / 0.01 / 0;  irregular 200 / 32 / 0.01 / 0.2;  --data 100 / 32 / 0.01 / 0.2."),
        epilog="Examples:\n  kerasncp-go train\n  kerasncp-go train --wiring fc --units 8 --epochs 400\n"
               "  kerasncp-go train --task irregular --out runs/plant\n"
               "  kerasncp-go train --data seqs.npz --wiring ncp --inter 8 --command 6 --epochs 50")
    g = p.add_argument_group("task")
    g.add_argument("--task", choices=("sine", "irregular"), default="sine", help="built-in task (ignored with --data)")
    g.add_argument("--data", metavar="FILE.npz", default=None,
                   help="train on your own sequences: x (N,T,S), y (N,T,M), optional elapsed or t (N,T)")
    g.add_argument("--steps", metavar="T", type=_positive_int, default=None,
                   help="sequence length of a built-in task (default: sine 48, irregular 32)")
    g.add_argument("--samples", metavar="N", type=_positive_int, default=320,
                   help="irregular task: number of sequences")
    _add_wiring_args(p, "output (motor) neurons; must equal the targets' feature count M (default: M)")
    g = p.add_argument_group("cell")
    g.add_argument("--ode-unfolds", metavar="N", type=_positive_int, default=6, help="ODE solver steps per time step")
    g.add_argument("--implicit-constraints", action="store_true",
                   help="softplus on w, sensory_w, cm, gleak (ncps's LTC default) instead of clamping after each step")
    g.add_argument("--input-mapping", choices=tuple(_MAPPINGS), default="affine", help="input mapping")
    g.add_argument("--output-mapping", choices=tuple(_MAPPINGS), default="affine", help="output mapping")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", metavar="N", type=_positive_int, default=None,
                   help="passes over the training data (default: per task, see above)")
    g.add_argument("--batch-size", metavar="B", type=_positive_int, default=None,
                   help="sequences per optimizer step (default: per task)")
    g.add_argument("--lr", metavar="LR", type=_positive_float, default=None,
                   help="Adam learning rate (default: per task)")
    g.add_argument("--clip", metavar="NORM", type=float, default=1.0,
                   help="clip gradients to this global norm; 0 disables")
    g.add_argument("--val-frac", metavar="F", type=float, default=None,
                   help="fraction of the sequences held out for validation (default: per task)")
    g.add_argument("--seed", metavar="SEED", type=_nonneg_int, default=0,
                   help="seed of the initial parameters, the batch order, the split and the irregular data")
    g = p.add_argument_group("output")
    g.add_argument("--out", default=None, metavar="FOLDER",
                   help="output folder (default: runs/<task>, or runs/<file name> with --data)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    p.set_defaults(func=cmd_train)

    # predict
    p = sub.add_parser(
        "predict", formatter_class=_Formatter, help="run a saved model on an .npz of input sequences",
        description="Run a saved model on input sequences and write its outputs.\n\n"
                    "The input .npz holds x (N, T, S) and, for models trained with elapsed times, elapsed (N, T)\n"
                    "or t (N, T) timestamps. When it also holds targets y (N, T, M), the mean squared error\n"
                    "is printed. The output .npz holds y (N, T, M), the outputs at every step, and h (N, units),\n"
                    "the final states.",
        epilog="Example:\n  kerasncp-go predict runs/sine inputs.npz -o outputs.npz")
    p.add_argument("model", metavar="MODEL_DIR", help="folder written by 'kerasncp-go train'")
    p.add_argument("inputs", metavar="INPUTS.npz", help="input sequences")
    p.add_argument("-o", "--output", metavar="OUT.npz", default=None,
                   help="where to write the outputs (default: INPUTS_pred.npz)")
    p.add_argument("--batch-size", metavar="B", type=_positive_int, default=256, help="sequences per Go call")
    p.set_defaults(func=cmd_predict)

    # info
    p = sub.add_parser("info", formatter_class=_Formatter, help="show a saved model's wiring and parameters",
                       description="Print a saved model's wiring, cell options, parameters and training summary.",
                       epilog="Example:\n  kerasncp-go info runs/sine")
    p.add_argument("model", metavar="MODEL_DIR", help="folder written by 'kerasncp-go train'")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_info)

    # draw
    p = sub.add_parser(
        "draw", formatter_class=_Formatter, help="draw a wiring diagram as PNG",
        description="Draw a wiring diagram: neurons coloured by layer (sensory, inter, command, motor),\n"
                    "synapses by polarity (excitatory, inhibitory), with a legend.\n\n"
                    "Give a saved model's folder, or no folder and a wiring with the options below\n"
                    "(and --inputs); with a folder, the wiring options are ignored.",
        epilog="Examples:\n  kerasncp-go draw runs/sine -o sine-wiring.png\n"
               "  kerasncp-go draw --wiring ncp --inter 8 --command 6 --outputs 2 --inputs 4 -o ncp.png")
    p.add_argument("model", metavar="MODEL_DIR", nargs="?", default=None,
                   help="folder written by 'kerasncp-go train' (omit to draw the wiring given by the options)")
    p.add_argument("-o", "--output", metavar="OUT.png", default=None,
                   help="PNG to write (default: MODEL_DIR/wiring.png, or wiring.png)")
    p.add_argument("--layout", default="layers",
                   choices=("layers", "shell", "kamada", "circular", "spring", "spectral", "spiral", "random"),
                   help="node placement: 'layers' puts sensory, inter, command and motor neurons in columns from "
                        "left to right; the others are Wiring.draw_graph's networkx layouts (the reference's "
                        "default is 'shell')")
    p.add_argument("--labels", action="store_true", help="write the neuron names")
    p.add_argument("--inputs", metavar="S", type=_positive_int, default=2,
                   help="input features, when drawing without a model")
    _add_wiring_args(p, "output (motor) neurons, when drawing without a model (default: 1)")
    p.set_defaults(func=cmd_draw)

    # bench
    desc = "\n".join(f"  {k}  {d}, input {s}, {_plural(t, 'step')}, batch {b}"
                     for k, (d, _, _, s, t, b) in BENCH_CONFIGS.items())
    p = sub.add_parser(
        "bench", formatter_class=_Formatter, help="time the Go LTC cell on configurations A-E",
        description="Time kerasncp_go.LTCCell (the Go core, float32, 6 ODE unfolds) on this machine:\n"
                    "a forward pass over whole sequences (fwd), and a forward pass followed by the\n"
                    "backward pass to every parameter and the inputs (fwd+bwd). Prints the median of\n"
                    "--reps runs in milliseconds.\n\nConfigurations:\n" + desc,
        epilog="Example:\n  kerasncp-go bench --configs AE --reps 50")
    p.add_argument("--configs", default="ABCDE", help="which configurations, e.g. AC")
    p.add_argument("--reps", metavar="N", type=_positive_int, default=30, help="timed runs per configuration and mode")
    p.add_argument("--warmup", metavar="N", type=_nonneg_int, default=3, help="untimed runs first")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the results as JSON")
    p.set_defaults(func=cmd_bench)
    return top


# -- helpers ---------------------------------------------------------------


def _wiring_from_args(a: argparse.Namespace, outputs: int) -> W.Wiring:
    """The wiring the --wiring options describe, with `outputs` motor
    neurons."""
    kind = a.wiring
    seed = {} if a.wiring_seed is None else {"seed" if kind in ("ncp", "autoncp") else
                                             ("random_seed" if kind == "random" else "erev_init_seed"): a.wiring_seed}
    if kind == "autoncp":
        units = a.units if a.units is not None else max(16, outputs + 3)
        return make_wiring(kind, units=units, output_size=outputs, sparsity_level=a.sparsity, **seed)
    if kind in ("fc", "random"):
        units = a.units if a.units is not None else max(8, outputs)
        extra = {"sparsity_level": a.sparsity} if kind == "random" else {}
        return make_wiring(kind, units=units, output_dim=outputs, **extra, **seed)
    if kind == "ncp":
        return make_wiring(
            kind, inter_neurons=a.inter, command_neurons=a.command, motor_neurons=outputs,
            sensory_fanout=a.sensory_fanout if a.sensory_fanout is not None else min(4, a.inter),
            inter_fanout=a.inter_fanout if a.inter_fanout is not None else min(2, a.command),
            recurrent_command_synapses=a.recurrent_command,
            motor_fanin=a.motor_fanin if a.motor_fanin is not None else min(3, a.command), **seed)
    return make_wiring(kind)  # raises: unknown kind


def _describe_wiring(w: W.Wiring) -> str:
    s = f"{type(w).__name__}: {w.units} neurons"
    if w.num_layers == 3:
        sizes = [len(w.get_neurons_of_layer(i)) for i in range(3)]
        s += f" ({sizes[0]} inter, {sizes[1]} command, {sizes[2]} motor)"
    elif w.output_dim is not None:
        s += f" ({w.output_dim} motor)"
    return (s + f", {_plural(w.input_dim, 'input')}, {w.synapse_count} synapses + "
            f"{w.sensory_synapse_count} sensory synapses")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _prepare_out(folder: str) -> str:
    """Creates the output folder and checks that it can be written to."""
    try:
        os.makedirs(folder, exist_ok=True)
    except FileExistsError:
        raise OSError(f"cannot use {folder} as the output folder: a file of that name exists") from None
    except OSError as e:
        raise OSError(f"cannot create the output folder {folder}: {e.strerror or e}") from None
    probe = os.path.join(folder, f".kerasncp-go-write-test-{os.getpid()}")
    try:
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as e:
        raise OSError(f"cannot write to the output folder {folder}: {e.strerror or e}") from None
    return folder


def _fmt_loss(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.6g}"


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror and e.filename and not str(e).startswith("cannot"):
        msg = f"{e.filename}: {e.strerror}"
    else:
        msg = str(e) or type(e).__name__
    return " ".join(msg.split())


# -- plots -----------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_loss(path: str, hist: History, title: str) -> None:
    """The per-epoch training (and validation) MSE, log scale."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    epochs = np.arange(1, len(hist.train_loss) + 1)
    ax.semilogy(epochs, hist.train_loss, color="tab:blue", lw=1.5, label="training loss")
    if hist.val_loss:
        ax.semilogy(epochs, hist.val_loss, color="tab:orange", lw=1.5, label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error (log scale)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    ax.set_xlim(1, max(2, len(epochs)))
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _headroom(ax, frac: float = 0.3) -> None:
    """Raises the top of the y axis so that a legend above the curves hides
    nothing."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + frac * (hi - lo))


def plot_prediction(path: str, data: Dataset, yhat: np.ndarray, title: str, max_sequences: int = 3) -> None:
    """Targets against model outputs for the first sequences of data (and,
    for a single sequence, its inputs above)."""
    plt = _pyplot()
    n = min(len(data), max_sequences)
    m = min(data.output_dim, 4)
    times = data.times()
    irregular = data.elapsed is not None
    colors = ["tab:blue", "tab:green", "tab:purple", "tab:brown"]
    if len(data) == 1:
        fig, axes = plt.subplots(2, 1, figsize=(7.5, 5.5), sharex=True, gridspec_kw={"height_ratios": [1, 2]})
        ax_in, ax_out = axes
        t = times[0]
        for j in range(min(data.input_dim, 4)):
            ax_in.plot(t, data.x[0, :, j], lw=1.3, label=data.x_names[j] if data.x_names else f"input {j}")
        ax_in.set_ylabel("input")
        ax_in.set_title("inputs", fontsize=10)
        _headroom(ax_in)
        ax_in.legend(loc="upper right", fontsize=8, ncol=min(4, data.input_dim), framealpha=0.85)
        ax_in.grid(True, alpha=0.3)
        out_axes = [ax_out]
    else:
        fig, out_axes = plt.subplots(n, 1, figsize=(7.5, 2.3 * n + 0.8), sharex=False, squeeze=False)
        out_axes = list(out_axes[:, 0])
    for i, ax in enumerate(out_axes):
        t = times[i]
        for j in range(m):
            name = data.y_names[j] if data.y_names else f"output {j}"
            ax.plot(t, data.y[i, :, j], color=colors[j], lw=2.0, alpha=0.55, marker="o" if irregular else None,
                    ms=3, label=f"target: {name}" if (m > 1 or data.y_names) else "target")
            ax.plot(t, yhat[i, :, j], color="tab:red" if m == 1 else colors[j], lw=1.3, ls="--",
                    marker="x" if irregular else None, ms=4, label="model output" if m == 1 else f"model: {name}")
        if len(data) > 1:
            ax.set_title(f"sequence {i}", fontsize=10)
        ax.set_ylabel("output")
        ax.grid(True, alpha=0.3)
        _headroom(ax, 0.3 if m == 1 else 0.45)
        ax.legend(loc="upper right", fontsize=8, ncol=2 if m == 1 else m, framealpha=0.85)
    out_axes[-1].set_xlabel("time (sum of elapsed times)" if irregular else "time step")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: draw_graph's default colours (the reference's).
_NEURON_COLORS = {"sensory": "tab:olive", "inter": "tab:blue", "command": "tab:purple", "motor": "tab:orange"}
_SYNAPSE_COLORS = {"excitatory": "tab:green", "inhibitory": "tab:red"}


def _draw_layers(wiring: W.Wiring, ax, labels: bool) -> list:
    """Draws the wiring with sensory, inter, command and motor neurons in
    columns from left to right, in draw_graph's colours; synapses within a
    column are drawn as arcs. Returns the legend patches."""
    import matplotlib.patches as mpatches
    import networkx as nx

    g = wiring.get_graph()
    cols: Dict[str, List[str]] = {k: [] for k in _NEURON_COLORS}
    for node, data in g.nodes(data=True):
        cols[data["neuron_type"]].append(node)
    present = [k for k in cols if cols[k]]
    tallest = max(len(v) for v in cols.values())
    pos = {}
    for ci, k in enumerate(present):
        nodes = sorted(cols[k], key=lambda s: int(s.rsplit("_", 1)[1]))
        step = tallest / len(nodes)
        for ri, node in enumerate(nodes):
            pos[node] = (ci * 1.0, (len(nodes) - 1) / 2.0 * step - ri * step)
    column = {node: data["neuron_type"] for node, data in g.nodes(data=True)}
    size = 380 if tallest <= 16 else max(60, 380 * 16 // tallest)
    for k in present:
        nx.draw_networkx_nodes(g, pos, cols[k], node_color=_NEURON_COLORS[k], node_size=size, ax=ax)
    for polarity, color in _SYNAPSE_COLORS.items():
        edges = [(u, v) for u, v, d in g.edges(data=True) if d["polarity"] == polarity]
        across = [e for e in edges if column[e[0]] != column[e[1]]]
        within = [e for e in edges if column[e[0]] == column[e[1]]]
        nx.draw_networkx_edges(g, pos, across, edge_color=color, node_size=size, alpha=0.75, ax=ax, arrowsize=10)
        if within:
            nx.draw_networkx_edges(g, pos, within, edge_color=color, node_size=size, alpha=0.75, ax=ax,
                                   arrowsize=10, connectionstyle="arc3,rad=0.5")
    if labels:
        nx.draw_networkx_labels(g, pos, {n: n.replace("neuron_", "").replace("sensory_", "s") for n in g}, ax=ax,
                                font_size=7)
    names = {"sensory": "Sensory", "inter": "Inter", "command": "Command", "motor": "Motor"}
    for ci, k in enumerate(present):
        ax.text(ci, -(tallest + 0.2) / 2.0, f"{names[k].lower()} ({len(cols[k])})", ha="center", va="top",
                fontsize=10, color="0.3")
    return [mpatches.Patch(color=_NEURON_COLORS[k], label=f"{names[k]} neurons") for k in present]


def plot_wiring(path: str, wiring: W.Wiring, title: str, layout: str = "layers", labels: bool = False) -> None:
    """The wiring diagram with a legend of neuron layers and synapse
    polarities. layout "layers" puts the layers in columns (sensory to
    motor); any other name is passed to Wiring.draw_graph (networkx
    layouts: "shell", "kamada", "spring", ...)."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    n = wiring.units + wiring.input_dim
    h = min(11.0, 4.5 + n / 10.0)
    fig, ax = plt.subplots(figsize=(h * (1.45 if layout == "layers" else 1.25), h))
    plt.sca(ax)
    if layout == "layers":
        handles = _draw_layers(wiring, ax, labels)
    else:
        handles = wiring.draw_graph(layout=layout, draw_labels=labels)
    order = ["Sensory neurons", "Inter neurons", "Command neurons", "Motor neurons"]
    handles = sorted(handles, key=lambda p: order.index(p.get_label()) if p.get_label() in order else 9)
    handles += [Line2D([0], [0], color=_SYNAPSE_COLORS["excitatory"], lw=2, label="excitatory synapse"),
                Line2D([0], [0], color=_SYNAPSE_COLORS["inhibitory"], lw=2, label="inhibitory synapse")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(title)
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- commands --------------------------------------------------------------


def cmd_train(a: argparse.Namespace) -> int:
    """``kerasncp-go train``."""
    if a.data is not None:
        task = "npz"
        data = load_npz_task(a.data)
    elif a.task == "sine":
        task = "sine"
        data = sine_task(a.steps or 48)
    else:
        task = "irregular"
        data = irregular_task(a.samples, a.steps or 32, seed=a.seed)
    d = TASK_DEFAULTS[task]
    epochs = a.epochs or d["epochs"]
    lr = a.lr or d["lr"]
    batch_size = a.batch_size or d["batch_size"]
    val_frac = d["val_frac"] if a.val_frac is None else a.val_frac
    if a.clip < 0 or not np.isfinite(a.clip):
        raise ValueError(f"--clip must be >= 0, got {a.clip}")
    train, val = split(data, val_frac, a.seed)
    outputs = data.output_dim
    if a.outputs is not None and a.outputs != outputs:
        raise ValueError(f"--outputs {a.outputs} does not match the targets, which have {outputs} feature(s)")
    wiring = _wiring_from_args(a, outputs)
    cell = LTCCell(wiring, in_features=data.input_dim, input_mapping=_MAPPINGS[a.input_mapping],
                   output_mapping=_MAPPINGS[a.output_mapping], ode_unfolds=a.ode_unfolds,
                   implicit_param_constraints=a.implicit_constraints, seed=a.seed)
    out = a.out or os.path.join("runs", data.name)
    _prepare_out(out)  # before training, so that a bad folder fails at once
    src = f" from {a.data}" if a.data else ""
    print(f"task {data.name}{src}: {len(train)} training sequence(s)"
          + (f", {len(val)} validation" if val is not None else "")
          + f" of {data.steps} steps, {data.input_dim} input and {outputs} target feature(s)"
          + (", irregular sampling (elapsed times)" if data.elapsed is not None else ""))
    print(f"model: LTC, {_describe_wiring(wiring)}")
    print(f"training: {epochs} epochs, batch size {min(batch_size, len(train))}, Adam lr {lr}, "
          f"gradient clip {a.clip or 'off'}, seed {a.seed}")
    sys.stdout.flush()
    hist = fit(cell, train, val, epochs=epochs, batch_size=batch_size, lr=lr, clip=a.clip or None, seed=a.seed,
               progress=not a.no_progress)
    training = {"task": task, "data": a.data, "epochs": epochs, "batch_size": batch_size, "lr": lr, "clip": a.clip,
                "seed": a.seed, "val_frac": val_frac, "train_sequences": len(train),
                "val_sequences": 0 if val is None else len(val), "steps_per_sequence": data.steps,
                "uses_elapsed": data.elapsed is not None, "final_train_loss": hist.final_train_loss,
                "final_val_loss": hist.final_val_loss, "optimizer_steps": hist.steps, "wall_s": hist.wall_s,
                "steps_per_s": hist.steps_per_s}
    files = list(save_model(out, cell, training=training))
    if a.no_plots:
        # Plots of an earlier run in this folder would describe another model.
        for name in ("loss.png", "prediction.png", "wiring.png"):
            if os.path.isfile(os.path.join(out, name)):
                os.remove(os.path.join(out, name))
    else:
        try:
            desc = f"{type(wiring).__name__}, {wiring.units} neurons"
            p = os.path.join(out, "loss.png")
            plot_loss(p, hist, f"Training loss: {data.name} task, LTC {desc}")
            files.append(p)
            shown = val if val is not None else train
            p = os.path.join(out, "prediction.png")
            which = "validation" if val is not None else "training"
            plot_prediction(p, shown, predict(cell, shown),
                            f"{data.name} task: model output vs target ({which} data, after {epochs} epochs)")
            files.append(p)
            p = os.path.join(out, "wiring.png")
            plot_wiring(p, wiring, f"{type(wiring).__name__} wiring, {wiring.units} neurons, "
                                   f"{_plural(wiring.input_dim, 'input')}")
            files.append(p)
        except ImportError as e:
            print(f"note: no plots ({e.name or e} is not installed)", file=sys.stderr)
    print()
    print(f"final train loss (MSE)  {_fmt_loss(hist.final_train_loss)}")
    print(f"validation loss (MSE)   {_fmt_loss(hist.final_val_loss)}")
    print(f"wall time               {hist.wall_s:.2f} s ({hist.steps} steps, {hist.steps_per_s:.0f} steps/s)")
    print(f"outputs in {out}{os.sep}: {', '.join(os.path.basename(f) for f in files)}")
    return 0


def cmd_predict(a: argparse.Namespace) -> int:
    """``kerasncp-go predict``."""
    cfg = read_model_config(a.model)
    _, cell = load_model(a.model)
    data = load_npz_task(a.inputs, require_y=False)
    if data.input_dim != cell.sensory_size:
        raise ValueError(f"{a.inputs}: x has {data.input_dim} features per step but the model takes "
                         f"{cell.sensory_size}")
    check_data(cell, data, a.inputs)
    if cfg.get("training", {}).get("uses_elapsed") and data.elapsed is None:
        print("note: the model was trained with elapsed times, but the inputs have none (neither 'elapsed' nor "
              "'t'); using 1.0", file=sys.stderr)
    out = a.output
    if out is None:
        base = a.inputs[:-4] if a.inputs.endswith(".npz") else a.inputs
        out = base + "_pred.npz"
    y = np.empty((len(data), data.steps, cell.motor_size), np.float32)
    h = np.empty((len(data), cell.state_size), np.float32)
    t0 = time.perf_counter()
    for i in range(0, len(data), a.batch_size):
        sl = slice(i, i + a.batch_size)
        e = None if data.elapsed is None else data.elapsed[sl]
        y[sl], h[sl] = cell.forward_sequence(data.x[sl], None, e)
    dt = time.perf_counter() - t0
    try:
        with open(out, "wb") as f:
            np.savez(f, y=y, h=h)
    except OSError as e:
        raise OSError(f"cannot write {out}: {e.strerror or e}") from None
    print(f"{len(data)} sequence(s) of {data.steps} steps in {dt * 1e3:.1f} ms; wrote y {y.shape} and h {h.shape} "
          f"to {out}")
    if data.y is not None:
        print(f"MSE against the inputs' y: {float(np.mean((y.astype(np.float64) - data.y) ** 2)):.6g}")
    return 0


def _info(folder: str) -> Dict[str, Any]:
    cfg = read_model_config(folder)
    wiring, cell = load_model(folder)
    params = []
    for name, arr in cell.params.items():
        trainable = not name.endswith("sparsity_mask")
        params.append({"name": name, "shape": list(arr.shape), "size": int(arr.size), "trainable": trainable,
                       "min": float(arr.min()), "mean": float(arr.mean()), "max": float(arr.max())})
    layers = None
    if wiring.num_layers == 3:
        layers = {n: wiring.get_neurons_of_layer(i) for i, n in enumerate(("inter", "command", "motor"))}
    return {"folder": folder, "wiring": cfg["wiring"] if cfg["wiring"]["kind"] != "custom" else
            {"kind": "custom", "class": cfg["wiring"].get("class")},
            "wiring_summary": {"class": type(wiring).__name__, "units": wiring.units, "inputs": wiring.input_dim,
                               "outputs": cell.motor_size, "synapses": wiring.synapse_count,
                               "sensory_synapses": wiring.sensory_synapse_count, "layers": layers},
            "cell": cfg["cell"], "parameters": params,
            "trainable_parameters": sum(p["size"] for p in params if p["trainable"]),
            "training": cfg.get("training")}


def cmd_info(a: argparse.Namespace) -> int:
    """``kerasncp-go info``."""
    info = _info(a.model)
    if a.json:
        print(json.dumps(info, indent=1))
        return 0
    ws, c = info["wiring_summary"], info["cell"]
    print(f"model {a.model}")
    w = info["wiring"]
    args = ", ".join(f"{k}={v}" for k, v in w.get("args", {}).items()) if w["kind"] != "custom" else "matrices"
    print(f"wiring     {w['kind']} ({args})")
    print(f"           {ws['units']} neurons, {_plural(ws['inputs'], 'input')}, {_plural(ws['outputs'], 'output')}, "
          f"{ws['synapses']} synapses, {ws['sensory_synapses']} sensory synapses")
    if ws["layers"]:
        print("           layers: " + ", ".join(f"{k} {v}" for k, v in ws["layers"].items()))
    print(f"cell       input_mapping={c['input_mapping']}, output_mapping={c['output_mapping']}, "
          f"ode_unfolds={c['ode_unfolds']}, epsilon={c['epsilon']}, "
          f"implicit_param_constraints={c['implicit_param_constraints']}, dtype={c.get('dtype', 'float32')}")
    print()
    print(f"{'parameter':<22}{'shape':<12}{'size':>6}  {'min':>10} {'mean':>10} {'max':>10}")
    for p in info["parameters"]:
        shape = "x".join(str(s) for s in p["shape"])
        mark = "" if p["trainable"] else "  (fixed)"
        print(f"{p['name']:<22}{shape:<12}{p['size']:>6}  {p['min']:>10.4g} {p['mean']:>10.4g} {p['max']:>10.4g}{mark}")
    print(f"trainable parameters: {info['trainable_parameters']}")
    t = info.get("training")
    if t:
        print()
        print(f"trained on {t.get('task')}{' (' + t['data'] + ')' if t.get('data') else ''}: {t.get('epochs')} epochs, "
              f"batch {t.get('batch_size')}, lr {t.get('lr')}, seed {t.get('seed')}; final train loss "
              f"{_fmt_loss(t.get('final_train_loss'))}, validation loss {_fmt_loss(t.get('final_val_loss'))}, "
              f"{t.get('wall_s', 0):.2f} s")
    return 0


def cmd_draw(a: argparse.Namespace) -> int:
    """``kerasncp-go draw``."""
    if a.model is not None:
        wiring, _ = load_model(a.model)
        out = a.output or os.path.join(a.model, "wiring.png")
    else:
        wiring = _wiring_from_args(a, a.outputs or 1)
        wiring.build(a.inputs)
        out = a.output or "wiring.png"
    parent = os.path.dirname(out) or "."
    if not os.path.isdir(parent):
        raise OSError(f"cannot write {out}: the folder {parent} does not exist")
    kind = type(wiring).__name__
    try:
        plot_wiring(out, wiring, f"{kind} wiring, {wiring.units} neurons, {_plural(wiring.input_dim, 'input')}",
                    a.layout, a.labels)
    except OSError as e:
        raise OSError(f"cannot write {out}: {e.strerror or e}") from None
    except ImportError as e:  # matplotlib, or scipy for the kamada and spectral layouts
        raise OSError(f"drawing with --layout {a.layout} needs the Python package {e.name or e}; "
                      "install it or choose another layout") from None
    print(f"{_describe_wiring(wiring)}\nwrote {out}")
    return 0


def _time(fn, reps: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cmd_bench(a: argparse.Namespace) -> int:
    """``kerasncp-go bench``."""
    names = [c for c in a.configs.upper() if not c.isspace() and c != ","]
    bad = [c for c in names if c not in BENCH_CONFIGS]
    if bad or not names:
        raise ValueError(f"unknown configuration(s) {''.join(bad) or a.configs!r}; choose from "
                         f"{''.join(BENCH_CONFIGS)}")
    if a.json:  # fail before the benchmark, not after it
        parent = os.path.dirname(a.json) or "."
        if not os.path.isdir(parent):
            raise OSError(f"cannot write {a.json}: the folder {parent} does not exist")
    print(f"kerasncp-go {__version__}, library {_lib.version()}; {_cpu_name()}, {os.cpu_count()} CPUs; "
          f"float32, 6 ODE unfolds; median of {a.reps} runs")
    print()
    head = f"| {'config':<6} | {'wiring':<22} | {'in':>3} | {'steps':>5} | {'batch':>5} | {'fwd ms':>9} | " \
           f"{'fwd+bwd ms':>10} |"
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    results = {}
    rng = np.random.default_rng(0)
    for name in names:
        desc, kind, args, s, t, b = BENCH_CONFIGS[name]
        cell = LTCCell(make_wiring(kind, **args), in_features=s, seed=0)
        x = rng.standard_normal((b, t, s)).astype(np.float32)
        gy = np.ones((b, t, cell.motor_size), np.float32)

        def fwd():
            cell.forward_sequence(x)

        def fwd_bwd():
            _, _, tape = cell.forward_with_tape(x)
            cell.backward(tape, gy)
            tape.close()

        f = _time(fwd, a.reps, a.warmup)
        fb = _time(fwd_bwd, a.reps, a.warmup)
        results[name] = {"wiring": desc, "inputs": s, "steps": t, "batch": b, "forward_ms": f * 1e3,
                         "forward_backward_ms": fb * 1e3}
        print(f"| {name:<6} | {desc:<22} | {s:>3} | {t:>5} | {b:>5} | {f * 1e3:>9.3f} | {fb * 1e3:>10.3f} |",
              flush=True)
    if a.json:
        try:
            with open(a.json, "w") as fh:
                json.dump({"version": __version__, "cpus": os.cpu_count(), "reps": a.reps, "results": results}, fh,
                          indent=1)
        except OSError as e:
            raise OSError(f"cannot write {a.json}: {e.strerror or e}") from None
    return 0


# -- entry point -----------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the program with argv (default: sys.argv[1:]) and returns the
    exit status: 0 on success, 1 for a bad input or failure (one line on
    stderr), 2 for a command-line syntax error, 130 when interrupted."""
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.subcommand is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return a.func(a) or 0
    except KeyboardInterrupt:
        print(f"{PROG} {a.subcommand}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, TypeError, OSError, NCPError) as e:
        sys.stdout.flush()
        print(f"{PROG} {a.subcommand}: error: {_one_line(e)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
