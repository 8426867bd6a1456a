"""Wirings of Neural Circuit Policies, backed by the Go core.

The classes and members are those of ``kerasncp.wirings`` (keras-ncp 2.1.0)
plus ncps 1.0.1's additions (``AutoNCP``, ``synapse_count``,
``sensory_synapse_count``, ``get_graph``, ``draw_graph``, constructor-form
``get_config``). The same seed gives the same matrices, bit for bit.

Deliberate differences from the reference (see the README):

* ``build`` is idempotent: building again with the same input dimension
  changes nothing (the reference draws a second set of synapses), and a
  different dimension raises ``ValueError``.
* ``NCP.get_config`` returns the constructor arguments, seed included, so that
  ``NCP.from_config(ncp.get_config())`` rebuilds the same wiring (the
  reference returns neuron id lists and re-seeds its generator).
* The matrices are read-only views of the Go wiring's state: change them with
  ``add_synapse`` / ``add_sensory_synapse``.
"""

from __future__ import annotations

from ._base import Wiring
from ._config import as_wiring
from ._kinds import NCP, AutoNCP, FullyConnected, Random

__all__ = ["Wiring", "FullyConnected", "Random", "NCP", "AutoNCP", "as_wiring"]

# Pickles and reprs name the public module, whichever file defines a class.
for _cls in (Wiring, FullyConnected, Random, NCP, AutoNCP):
    _cls.__module__ = __name__
as_wiring.__module__ = __name__
del _cls
