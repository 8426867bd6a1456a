"""What the bindings that reach Go through host callbacks share (the
tf-keras/TensorFlow op in ``tf/_op.py`` and the Keras 3 layers in
``keras/_host.py``): an LTC cell whose structure stays fixed between calls,
and the store where forward tapes wait for their backward pass.

A host callback returns numbers only, so a forward pass hands its tape to
the store and passes the tape's integer id on to the backward pass. A tape
that nobody asks for (a recorded pass whose gradient is never taken) is
evicted once the store holds too many or too large tapes; a backward pass
whose tape is gone runs the forward pass again first, so results never
depend on the store. Nothing here imports a framework.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from . import _lib, _ops, _rules

__all__ = ["FixedLTC", "TapeStore"]


class FixedLTC:
    """An LTC cell's fixed part: sizes, options, the sparsity masks
    (constants, not weights) and the order of its trainable parameters
    (``names``), so that a call passes the parameters alone."""

    def __init__(self, units: int, sensory: int, motor: int, input_mapping: int, output_mapping: int,
                 ode_unfolds: int, epsilon: float, adjacency: np.ndarray, sensory_adjacency: np.ndarray,
                 dtype: Any = np.float32) -> None:
        self.units, self.sensory, self.motor = int(units), int(sensory), int(motor)
        self.input_mapping, self.output_mapping = input_mapping, output_mapping
        self.ode_unfolds, self.epsilon = int(ode_unfolds), float(epsilon)
        self.dtype = np.dtype(dtype)
        self.shapes = _rules.param_shapes(self.units, self.sensory, self.motor, input_mapping, output_mapping)
        self.names: Tuple[str, ...] = tuple(n for n in self.shapes if n in _rules.TRAINABLE)
        self.mask = np.ascontiguousarray(np.abs(adjacency), dtype=self.dtype)
        self.sensory_mask = np.ascontiguousarray(np.abs(sensory_adjacency), dtype=self.dtype)

    def spec(self, params: Sequence[np.ndarray]) -> _ops.CellSpec:
        """The C ABI view of the cell with these trainable parameters (in
        ``names`` order)."""
        d = dict(zip(self.names, params))
        d["sparsity_mask"] = self.mask
        d["sensory_sparsity_mask"] = self.sensory_mask
        return _ops.CellSpec(d, self.units, self.sensory, self.motor, self.input_mapping, self.output_mapping,
                             self.ode_unfolds, self.epsilon, False, self.dtype)

    def tape_bytes(self, batch: int, steps: int) -> int:
        """The Go core's own figure for the tape a pass keeps."""
        dtype = _lib.FLOAT64 if self.dtype == np.float64 else _lib.FLOAT32
        return _lib.tape_bytes(dtype, self.units, self.ode_unfolds, batch, steps)


class TapeStore:
    """Go tapes waiting for their backward pass, by id. Holds at most
    max_count tapes and about max_bytes of tape memory; the oldest go first.
    Ids stay below 2**30, so that they fit every framework's default
    integer (JAX's is int32)."""

    def __init__(self, max_count: int = 8192, max_bytes: int = 512 << 20) -> None:
        self._tapes: "collections.OrderedDict[int, Tuple[Any, int]]" = collections.OrderedDict()
        self._lock = threading.Lock()
        self._next = 0
        self._bytes = 0
        self.max_count, self.max_bytes = max_count, max_bytes

    def put(self, tape: Any, nbytes: int) -> int:
        """Keeps tape (nbytes of Go memory) and returns its id (>= 1)."""
        evicted = []
        with self._lock:
            self._next = self._next % (1 << 30) + 1
            tid = self._next
            self._tapes[tid] = (tape, nbytes)
            self._bytes += nbytes
            while len(self._tapes) > 1 and (len(self._tapes) > self.max_count or self._bytes > self.max_bytes):
                _, (old, n) = self._tapes.popitem(last=False)
                self._bytes -= n
                evicted.append(old)
        for t in evicted:
            t.close()
        return tid

    def pop(self, tid: int) -> Optional[Any]:
        """The tape of id tid, now the caller's, or None when it is gone."""
        with self._lock:
            item = self._tapes.pop(int(tid), None)
            if item is None:
                return None
            self._bytes -= item[1]
            return item[0]

    def __len__(self) -> int:
        return len(self._tapes)

    def clear(self) -> None:
        with self._lock:
            tapes = [t for t, _ in self._tapes.values()]
            self._tapes.clear()
            self._bytes = 0
        for t in tapes:
            t.close()
