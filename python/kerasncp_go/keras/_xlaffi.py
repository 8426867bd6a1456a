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

from typing import Any

from . import _cbuild

FORWARD, BACKWARD = "kncp_xla_cfc_forward", "kncp_xla_cfc_backward"
LTC_FORWARD, LTC_BACKWARD = "kncp_xla_ltc_forward", "kncp_xla_ltc_backward"


def _load() -> Any:
    import jax
    import jaxlib

    if jax.default_backend() != "cpu":
        raise RuntimeError(f"JAX's default backend is {jax.default_backend()}, and the handlers serve the CPU")
    path = _cbuild.build("_xlaffi.c", "xlaffi", f"jaxlib {jaxlib.__version__}", [f"-I{jax.ffi.include_dir()}"],
                         "the XLA FFI handlers")
    so = _cbuild.open_library(path, "kncp_xla")
    for name in (FORWARD, BACKWARD, LTC_FORWARD, LTC_BACKWARD):
        jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(so, name)), platform="cpu")
    return so


_once = _cbuild.Once("KERASNCP_GO_JAX_FFI", _load)


def available() -> bool:
    """Whether the handlers are registered (building them if this is the
    first use on this machine)."""
    return _once.get() is not None


def status() -> str:
    """Whether the handlers are in use ("loaded"), or why not."""
    return _once.why


def live_tapes() -> int:
    """Forward tapes the handlers keep for a backward pass not run yet."""
    so = _once.value
    return int(so.kncp_xla_live_tapes()) if so is not None else 0
