"""A stepper for control loops: one cell step per call at batch 1 (or a
fixed batch), with the state kept in Go and every buffer preallocated.

Everything is checked once, when the stepper is made (parameter shapes and
dtype, options, batch); :meth:`Stepper.step` then copies the inputs into a
preallocated array and makes one C call. The Go side refuses a NaN or
infinite input and a bad elapsed time with the state unchanged. A stepper
serves one loop: a second thread calling it while a step runs gets a
RuntimeError, never a mixed state.
"""

from __future__ import annotations

import ctypes
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

import numpy as np

from . import _lib, _ops

if TYPE_CHECKING:  # pragma: no cover
    from .ltc import LTCCell

__all__ = ["Stepper"]

_DTYPES: Dict[int, np.dtype] = {_lib.FLOAT32: np.dtype(np.float32), _lib.FLOAT64: np.dtype(np.float64)}


def _free(handle: int) -> None:
    _lib.lib.kncp_stepper_free(handle, None, 0)


class Stepper:
    """Runs an LTC cell one step per call. Make one with
    :meth:`kerasncp_go.LTCCell.stepper` or :meth:`Stepper.load`.

    Attributes:
        batch, input_size, output_size, state_size: the sizes fixed at
            creation.
        dtype: float32 or float64, of inputs, outputs and state.

    Example:
        >>> from kerasncp_go import LTCCell, wirings
        >>> cell = LTCCell(wirings.NCP(12, 6, 1, 6, 4, 6, 6), in_features=32, seed=0)
        >>> st = cell.stepper()
        >>> y = st.step(np.zeros(32, np.float32), elapsed=1.0)
        >>> y.shape
        (1,)
    """

    def __init__(self, handle: int) -> None:
        # Private: use LTCCell.stepper() or Stepper.load().
        self._handle = handle
        self._finalizer = weakref.finalize(self, _free, handle)
        info = _lib.StepperInfo()
        _lib.call("kncp_stepper_info", handle, ctypes.byref(info))
        self.dtype: np.dtype = _DTYPES[info.dtype]
        self.batch, self.input_size = int(info.batch), int(info.input_size)
        self.output_size, self.state_size = int(info.output_size), int(info.state_size)
        self._x = np.zeros((self.batch, self.input_size), self.dtype)
        self._y = np.zeros((self.batch, self.output_size), self.dtype)
        self._xbuf, self._ybuf = _ops.buf(self._x), _ops.buf(self._y)
        self._single = self.batch == 1
        self._xshape = (self.input_size,) if self._single else self._x.shape
        self._err = ctypes.create_string_buffer(_lib.ERRLEN)
        self._fn = _lib.lib.kncp_stepper_step
        self._lock = threading.Lock()

    @classmethod
    def load(cls, folder: Union[str, os.PathLike], batch: int = 1) -> "Stepper":
        """A stepper over the model that ``kerasncp-go train --out folder``
        saved (model.json and model.npz), read by the library itself (as a
        C program reads it with kncp_ltc_stepper_load).

        Raises:
            ValueError: a missing, damaged or inconsistent model file (the
                message names it), or a bad batch.
        """
        out = ctypes.c_uint64()
        _lib.call("kncp_ltc_stepper_load", os.fsencode(os.fspath(folder)), int(batch), ctypes.byref(out))
        return cls(out.value)

    @classmethod
    def from_cell(cls, cell: "LTCCell", batch: int = 1) -> "Stepper":
        """A stepper over a copy of the cell's current parameters."""
        if int(batch) < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        out = ctypes.c_uint64()
        _lib.call("kncp_ltc_stepper_new", cell.spec().ref, int(batch), ctypes.byref(out))
        return cls(out.value)

    def step(self, x: Any, elapsed: float = 1.0) -> np.ndarray:
        """Advances the state by one step.

        Args:
            x: the inputs, (batch, input_size), or (input_size,) at batch 1;
                converted to the stepper's dtype.
            elapsed: the time this step spans, finite and > 0.

        Returns:
            a new array of outputs, (batch, output_size), or (output_size,)
            at batch 1.

        Raises:
            ValueError: x has the wrong shape or holds a NaN or infinity, or
                elapsed is not finite and > 0 (the state is unchanged).
            RuntimeError: another thread is inside a call on this stepper.
        """
        if not self._lock.acquire(False):
            raise RuntimeError("this stepper is in use by another thread (one stepper serves one loop)")
        try:
            if type(x) is not np.ndarray or x.shape != self._xshape:
                x = np.asarray(x)
                if x.shape != self._xshape:
                    raise ValueError(f"x must have shape {self._xshape}, got {x.shape}")
            np.copyto(self._x.reshape(x.shape), x, casting="same_kind")
            rc = self._fn(self._handle, self._xbuf, elapsed, self._ybuf, self._err, _lib.ERRLEN)
            if rc:
                _lib.raise_error(rc, self._err)
            return self._y[0].copy() if self._single else self._y.copy()
        finally:
            self._lock.release()

    @property
    def state(self) -> np.ndarray:
        """A copy of the state, (batch, state_size)."""
        out = np.empty((self.batch, self.state_size), self.dtype)
        with self._lock:
            _lib.call("kncp_stepper_state", self._handle, _ops.buf(out))
        return out

    def reset(self, state: Optional[Any] = None) -> None:
        """Sets the state to `state` ((batch, state_size)), or to zeros."""
        a = None
        if state is not None:
            a = np.ascontiguousarray(state, self.dtype)
            if a.shape != (self.batch, self.state_size):
                raise ValueError(f"state must have shape {(self.batch, self.state_size)}, got {a.shape}")
        with self._lock:
            _lib.call("kncp_stepper_set_state", self._handle, _ops.buf(a))

    def close(self) -> None:
        """Frees the Go side now (it is freed with the object otherwise)."""
        self._finalizer()
