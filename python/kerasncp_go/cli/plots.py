"""The PNGs of the ``kerasncp-go`` program: loss curve, predictions
against targets, and the wiring diagram (matplotlib, networkx)."""

from __future__ import annotations

from typing import Dict, List

import numpy as np

from .. import wirings as W
from ..train import Dataset, History

__all__ = ["plot_loss", "plot_prediction", "plot_wiring"]


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
    targets = data.targets()
    for i, ax in enumerate(out_axes):
        t = times[i]
        for j in range(m):
            name = data.y_names[j] if data.y_names else f"output {j}"
            ax.plot(t, targets[i, :, j], color=colors[j], lw=2.0, alpha=0.55, marker="o" if irregular else None,
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

    n = wiring.units + (wiring.input_dim or 0)
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
