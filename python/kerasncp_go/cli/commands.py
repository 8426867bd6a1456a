"""The ``train``, ``predict``, ``info`` and ``draw`` commands of the
``kerasncp-go`` program."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, Optional

import numpy as np

from .. import wirings as W
from ..ltc import LTCCell
from ..train import (
    check_data,
    fit,
    irregular_task,
    load_model,
    load_npz_task,
    make_wiring,
    predict,
    read_model_config,
    save_model,
    sine_task,
    split,
)
from .plots import plot_loss, plot_prediction, plot_wiring

__all__ = ["TASK_DEFAULTS", "MAPPINGS", "cmd_train", "cmd_predict", "cmd_info", "cmd_draw", "plural"]

#: Per-task defaults: epochs, batch size, learning rate, validation fraction.
TASK_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "sine": dict(epochs=1000, batch_size=1, lr=0.01, val_frac=0.0),
    "irregular": dict(epochs=200, batch_size=32, lr=0.01, val_frac=0.2),
    "npz": dict(epochs=100, batch_size=32, lr=0.01, val_frac=0.2),
}

#: --input-mapping / --output-mapping choices and the cell's values.
MAPPINGS = {"affine": "affine", "linear": "linear", "none": None}


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
    cell = LTCCell(wiring, in_features=data.input_dim, input_mapping=MAPPINGS[a.input_mapping],
                   output_mapping=MAPPINGS[a.output_mapping], ode_unfolds=a.ode_unfolds,
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
                "final_val_loss": hist.final_val_loss, "kept_epoch": hist.best_epoch or epochs,
                "last_epoch_loss": hist.last_loss, "optimizer_steps": hist.steps, "wall_s": hist.wall_s,
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
                                   f"{plural(wiring.input_dim, 'input')}")
            files.append(p)
        except ImportError as e:
            print(f"note: no plots ({e.name or e} is not installed)", file=sys.stderr)
    print()
    if hist.best_epoch is not None:
        which = "validation" if val is not None else "training"
        print(f"kept the model of epoch {hist.best_epoch} (lowest {which} loss); the last epoch's was "
              f"{_fmt_loss(hist.last_loss)}")
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
    print(f"           {ws['units']} neurons, {plural(ws['inputs'], 'input')}, {plural(ws['outputs'], 'output')}, "
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
        plot_wiring(out, wiring, f"{kind} wiring, {wiring.units} neurons, {plural(wiring.input_dim, 'input')}",
                    a.layout, a.labels)
    except OSError as e:
        raise OSError(f"cannot write {out}: {e.strerror or e}") from None
    except ImportError as e:  # matplotlib, or scipy for the kamada and spectral layouts
        raise OSError(f"drawing with --layout {a.layout} needs the Python package {e.name or e}; "
                      "install it or choose another layout") from None
    print(f"{_describe_wiring(wiring)}\nwrote {out}")
    return 0


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
    return (s + f", {plural(w.input_dim, 'input')}, {w.synapse_count} synapses + "
            f"{w.sensory_synapse_count} sensory synapses")


def plural(n: Optional[int], word: str) -> str:
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
