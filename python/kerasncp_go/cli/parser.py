"""The argument parser of the ``kerasncp-go`` program."""

from __future__ import annotations

import argparse
import inspect

import numpy as np

from .. import __version__, _lib
from .. import wirings as W
from .bench import CONFIGS, cmd_bench
from .commands import MAPPINGS, cmd_draw, cmd_info, cmd_predict, cmd_train, plural

__all__ = ["PROG", "build_parser"]

PROG = "kerasncp-go"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr."""

    def error(self, message: str):
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
                   help=f"seed of the synapses (default: the wiring class's, {_default_seed(W.NCP, 'seed')} for "
                        f"NCPs, {_default_seed(W.FullyConnected, 'erev_init_seed')} for fc, "
                        f"{_default_seed(W.Random, 'random_seed')} for random)")


def _default_seed(cls: type, arg: str) -> object:
    """A wiring class's default seed, read from its signature (the one
    place it is written)."""
    return inspect.signature(cls).parameters[arg].default


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
    g.add_argument("--input-mapping", choices=tuple(MAPPINGS), default="affine", help="input mapping")
    g.add_argument("--output-mapping", choices=tuple(MAPPINGS), default="affine", help="output mapping")
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
    desc = "\n".join(f"  {k}  {c.description}, input {c.inputs}, {plural(c.steps, 'step')}, batch {c.batch}"
                     for k, c in CONFIGS.items())
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
