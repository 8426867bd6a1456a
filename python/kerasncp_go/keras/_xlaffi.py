"""The XLA FFI handlers of ``_xlaffi.c``: built on first use, registered
with JAX once per process.

The C source is compiled against the FFI C API header that jaxlib ships
(``jax.ffi.include_dir()``) by :mod:`._cbuild`, once per machine and jaxlib
version. When there is no compiler, the build fails, JAX's default backend
is not the CPU or ``KERASNCP_GO_JAX_FFI=0`` is set, :func:`available` is
False and the JAX layers run the Go pass through ``jax.pure_callback``
instead (same numbers, a trip through Python per pass); :func:`status`
says which and why.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any

from . import _cbuild

_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_xlaffi.c")
FORWARD, BACKWARD = "kncp_xla_cfc_forward", "kncp_xla_cfc_backward"
LTC_FORWARD, LTC_BACKWARD = "kncp_xla_ltc_forward", "kncp_xla_ltc_backward"

_lock = threading.Lock()
_tried = False
_so: Any = None
_why = "not tried yet"


def _load() -> Any:
    import jax
    import jaxlib

    if jax.default_backend() != "cpu":
        raise RuntimeError(f"JAX's default backend is {jax.default_backend()}, and the handlers serve the CPU")
    path = _cbuild.build(_SOURCE, "xlaffi", f"jaxlib {jaxlib.__version__}", [f"-I{jax.ffi.include_dir()}"],
                         "the XLA FFI handlers")
    so = ctypes.CDLL(path)
    so.kncp_xla_init.restype = ctypes.c_int
    so.kncp_xla_init.argtypes = [ctypes.c_void_p]
    so.kncp_xla_live_tapes.restype = ctypes.c_int64
    so.kncp_xla_live_tapes.argtypes = []
    if not so.kncp_xla_init(_cbuild.library_functions()):
        raise RuntimeError("the Go library's functions could not be found")
    for name in (FORWARD, BACKWARD, LTC_FORWARD, LTC_BACKWARD):
        jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(so, name)), platform="cpu")
    return so


def available() -> bool:
    """Whether the handlers are registered (building them if this is the
    first use on this machine)."""
    global _tried, _so, _why
    if _tried:
        return _so is not None
    with _lock:
        if not _tried:
            if os.environ.get("KERASNCP_GO_JAX_FFI", "1") == "0":
                _why = "disabled by KERASNCP_GO_JAX_FFI=0"
            else:
                try:
                    _so = _load()
                    _why = "loaded"
                except Exception as e:  # no compiler, no header, a failed build: the pure_callback path
                    _why = f"{type(e).__name__}: {e}"
            _tried = True
    return _so is not None


def status() -> str:
    """Whether the handlers are in use ("loaded"), or why not."""
    return _why


def live_tapes() -> int:
    """Forward tapes the handlers keep for a backward pass not run yet."""
    return int(_so.kncp_xla_live_tapes()) if _so is not None else 0
