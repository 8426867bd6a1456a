"""The native TensorFlow ops of ``_tfop.c``: built on first use, loaded
once per process.

The C source is compiled against the installed TensorFlow's C kernel and
op API (``tf.sysconfig``'s headers and ``libtensorflow_framework``) by
:mod:`._cbuild`, once per machine and TensorFlow version. When there is no
compiler, the build fails or ``KERASNCP_GO_TF_OP=0`` is set, :func:`ops`
returns None and the layers run the Go pass through ``tf.numpy_function`` instead (same
numbers, a host round trip more per pass); :func:`status` says which and why.
"""

from __future__ import annotations

from typing import Any, Optional

from . import _cbuild

_so: Any = None


def _build(tf: Any) -> str:
    """The path of the op library for this TensorFlow, built if needed."""
    libdir = tf.sysconfig.get_lib()
    link = [flag for flag in tf.sysconfig.get_link_flags() if flag.startswith(("-L", "-l"))]
    return _cbuild.build("_tfop.c", "tfop", tf.__version__, [f"-I{tf.sysconfig.get_include()}", *link,
                                                             f"-Wl,-rpath,{libdir}"], "the TensorFlow op")


def _load() -> Any:
    import tensorflow as tf

    path = _build(tf)
    mod = tf.load_op_library(path)
    global _so
    _so = _cbuild.open_library(path, "kncp_tfop")
    return mod


_once = _cbuild.Once("KERASNCP_GO_TF_OP", _load)


def ops() -> Optional[Any]:
    """The op module (``kncp_cfc_forward``, ``kncp_cfc_backward``), or None
    when the ops are unavailable (see :func:`status`)."""
    return _once.get()


def status() -> str:
    """Whether the native ops are in use ("loaded"), or why not."""
    return _once.why


def live_tapes() -> int:
    """Forward tapes the native ops keep for a backward pass not run yet."""
    return int(_so.kncp_tfop_live_tapes()) if _so is not None else 0
