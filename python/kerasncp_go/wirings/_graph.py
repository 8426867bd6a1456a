"""The graph of a wiring: a networkx DiGraph and a matplotlib drawing (the
reference's get_graph and draw_graph). Both take any object with the
wiring's read interface (units, input_dim, num_layers, the two adjacency
matrices, get_type_of_neuron), so other modules can draw views of a
wiring too."""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

__all__ = ["get_graph", "draw_graph"]


def get_graph(self: Any, include_sensory_neurons: bool = True) -> Any:
    """A networkx.DiGraph of the wiring: nodes "neuron_i" (attribute
    neuron_type) and "sensory_i", edges with polarity "excitatory" or
    "inhibitory". As in the reference, sensory nodes are always included.

    Raises:
        ValueError: the wiring is not built.
    """
    if not self.is_built():
        raise ValueError("Wiring is not built yet. Call build(input_dim) or connect it to data first.")
    import networkx as nx

    g = nx.DiGraph()
    for i in range(self.units):
        g.add_node(f"neuron_{i}", neuron_type=self.get_type_of_neuron(i))
    for i in range(self.input_dim):
        g.add_node(f"sensory_{i}", neuron_type="sensory")
    sens, adj = self.sensory_adjacency_matrix, self.adjacency_matrix
    for src, dest in zip(*np.nonzero(sens)):
        g.add_edge(f"sensory_{src}", f"neuron_{dest}",
                   polarity="excitatory" if sens[src, dest] >= 0 else "inhibitory")
    for src, dest in zip(*np.nonzero(adj)):
        g.add_edge(f"neuron_{src}", f"neuron_{dest}",
                   polarity="excitatory" if adj[src, dest] >= 0 else "inhibitory")
    return g

def draw_graph(self: Any, layout: str = "shell", neuron_colors: Optional[Dict[str, str]] = None,
               synapse_colors: Any = None, draw_labels: bool = False) -> list:
    """Draws the wiring into the current matplotlib axes and returns the
    legend patches, with the reference's arguments and default colours
    (excitatory green, inhibitory red; inter blue, motor orange, sensory
    olive). Command neurons of an NCP are purple with a legend entry of
    their own (the reference draws them in the inter colour).

    Args:
        layout: "kamada", "circular", "random", "shell", "spring",
            "spectral" or "spiral".
        neuron_colors: colour per neuron type, merged over the defaults.
        synapse_colors: one colour for all synapses, or a dict with
            "excitatory" and "inhibitory".
        draw_labels: draw node names.

    Raises:
        ValueError: unknown layout, or the wiring is not built.
    """
    import matplotlib.patches as mpatches
    import networkx as nx

    if isinstance(synapse_colors, str):
        synapse_colors = {"excitatory": synapse_colors, "inhibitory": synapse_colors}
    elif synapse_colors is None:
        synapse_colors = {"excitatory": "tab:green", "inhibitory": "tab:red"}
    defaults = {"inter": "tab:blue", "motor": "tab:orange", "sensory": "tab:olive"}
    if self.num_layers == 3:
        defaults["command"] = "tab:purple"
    if neuron_colors is None:
        neuron_colors = {}
    for k, v in defaults.items():
        neuron_colors.setdefault(k, v)
    layouts = {
        "kamada": nx.kamada_kawai_layout, "circular": nx.circular_layout, "random": nx.random_layout,
        "shell": nx.shell_layout, "spring": nx.spring_layout, "spectral": nx.spectral_layout,
        "spiral": nx.spiral_layout,
    }
    if layout not in layouts:
        raise ValueError(f"layout must be one of {sorted(layouts)}, got {layout!r}")
    g = self.get_graph()
    pos = layouts[layout](g)
    legend = [mpatches.Patch(color=c, label=f"{k.capitalize()} neurons") for k, c in neuron_colors.items()]
    for node, data in g.nodes(data=True):
        nx.draw_networkx_nodes(g, pos, [node], node_color=neuron_colors.get(data["neuron_type"], "tab:blue"))
    if draw_labels:
        nx.draw_networkx_labels(g, pos)
    for u, v, data in g.edges(data=True):
        nx.draw_networkx_edges(g, pos, [(u, v)], edge_color=synapse_colors[data["polarity"]])
    return legend
