"""The built-in wirings: FullyConnected, Random, NCP and AutoNCP. Each
checks its arguments, hands them to Go as its JSON form, and returns the
reference's get_config keys from Go's configuration."""

from __future__ import annotations

from typing import Any, Dict, Optional

from ._args import as_fraction, as_int, as_seed
from ._base import Wiring
from ._config import reference_config

__all__ = ["FullyConnected", "Random", "NCP", "AutoNCP"]


class FullyConnected(Wiring):
    """Every neuron connected to every neuron, polarity +1 with probability
    2/3 (keras-ncp's FullyConnected).

    Args:
        units: number of neurons.
        output_dim: number of output neurons (None: all).
        erev_init_seed: seed of the polarities (numpy default_rng).
        self_connections: whether neurons connect to themselves.
    """

    def __init__(self, units: int, output_dim: Optional[int] = None, erev_init_seed: int = 1111,
                 self_connections: bool = True) -> None:
        self.self_connections = bool(self_connections)
        self._new({"kind": "fully_connected", "units": as_int(units, "units"),
                   "output_dim": None if output_dim is None else as_int(output_dim, "output_dim"),
                   "erev_init_seed": as_seed(erev_init_seed, "erev_init_seed", 64),
                   "self_connections": self.self_connections})

    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments (ncps form; output_dim resolved)."""
        return reference_config(self._handle, self.output_dim)


class Random(Wiring):
    """round(units²·(1−sparsity_level)) random synapses, polarity +1 with
    probability 2/3 (keras-ncp's Random).

    Args:
        units: number of neurons.
        output_dim: number of output neurons (None: all).
        sparsity_level: fraction of absent synapses, in [0, 1).
        random_seed: seed (numpy default_rng).

    Raises:
        ValueError: sparsity_level outside [0, 1).
    """

    def __init__(self, units: int, output_dim: Optional[int] = None, sparsity_level: float = 0.0,
                 random_seed: int = 1111) -> None:
        self.sparsity_level = as_fraction(sparsity_level, "sparsity_level")
        self._new({"kind": "random", "units": as_int(units, "units"),
                   "output_dim": None if output_dim is None else as_int(output_dim, "output_dim"),
                   "sparsity_level": self.sparsity_level,
                   "random_seed": as_seed(random_seed, "random_seed", 64)})

    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments (ncps form; output_dim resolved)."""
        return reference_config(self._handle, self.output_dim)


class NCP(Wiring):
    """A Neural Circuit Policy: sensory → inter → command → motor, with
    recurrent command synapses (keras-ncp's NCP). Neuron ids: motor first,
    then command, then inter.

    Args:
        inter_neurons, command_neurons, motor_neurons: layer sizes.
        sensory_fanout: inter neurons each input feature reaches.
        inter_fanout: command neurons each inter neuron reaches.
        recurrent_command_synapses: command→command synapses drawn.
        motor_fanin: command neurons each motor neuron receives.
        seed: seed (numpy RandomState), in [0, 2**32-1].

    Raises:
        ValueError: a size or fanout out of range (the message names it).
    """

    def __init__(self, inter_neurons: int, command_neurons: int, motor_neurons: int, sensory_fanout: int,
                 inter_fanout: int, recurrent_command_synapses: int, motor_fanin: int, seed: int = 22222) -> None:
        names = ("inter_neurons", "command_neurons", "motor_neurons", "sensory_fanout", "inter_fanout",
                 "recurrent_command_synapses", "motor_fanin", "seed")
        values = (inter_neurons, command_neurons, motor_neurons, sensory_fanout, inter_fanout,
                  recurrent_command_synapses, motor_fanin, seed)
        args: Dict[str, Any] = {n: as_int(v, n) for n, v in zip(names[:-1], values[:-1])}
        args["seed"] = as_seed(seed, "seed", 32)
        self._new({"kind": "ncp", **args})

    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments, seed included (the reference loses the
        seed; this round-trips)."""
        return reference_config(self._handle)


class AutoNCP(NCP):
    """An NCP sized from a neuron count, an output size and a sparsity level
    (ncps's AutoNCP).

    Args:
        units: total neurons.
        output_size: motor neurons, at most units-3.
        sparsity_level: in [0.1, 1.0].
        seed: seed (numpy RandomState), in [0, 2**32-1].
    """

    def __init__(self, units: int, output_size: int, sparsity_level: float = 0.5, seed: int = 22222) -> None:
        self._new({"kind": "autoncp", "units": as_int(units, "units"),
                   "output_size": as_int(output_size, "output_size"),
                   "sparsity_level": as_fraction(sparsity_level, "sparsity_level"), "seed": as_seed(seed, "seed", 32)})
