"""The native TensorFlow ops of ``_tfop.c``: built on first use, loaded
once per process.

The C source is compiled against the installed TensorFlow's C kernel and
op API (``tf.sysconfig``'s headers and ``libtensorflow_framework``) with the
C compiler (``$CC``, else ``cc``), into the cache directory
(``$KERASNCP_GO_CACHE``, else ``$XDG_CACHE_HOME/kerasncp-go``, else
``~/.cache/kerasncp-go``), one file per source and TensorFlow version, so the
build (about a second) happens once per machine. When there is no compiler,
the build fails or ``KERASNCP_GO_TF_OP=0`` is set, :func:`ops` returns None
and the layers run the Go pass through ``tf.numpy_function`` instead (same
numbers, a host round trip more per pass); :func:`status` says which and why.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
import threading
from typing import Any, Optional

from .. import _lib

_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_tfop.c")

_lock = threading.Lock()
_tried = False
_ops: Any = None
_so: Any = None
_why = "not tried yet"


def cache_dir() -> str:
    """Where built op libraries are kept."""
    d = os.environ.get("KERASNCP_GO_CACHE")
    if not d:
        d = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                         "kerasncp-go")
    return d


def _build(tf: Any) -> str:
    """The path of the op library for this TensorFlow, built if needed."""
    with open(_SOURCE, "rb") as f:
        source = f.read()
    include, libdir = tf.sysconfig.get_include(), tf.sysconfig.get_lib()
    key = hashlib.sha256(b"\0".join([source, tf.__version__.encode(), include.encode(), libdir.encode()]))
    out_dir = cache_dir()
    out = os.path.join(out_dir, f"tfop-{key.hexdigest()[:16]}.so")
    if os.path.exists(out):
        return out
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tfop-", suffix=".so", dir=out_dir)
    os.close(fd)
    link = [flag for flag in tf.sysconfig.get_link_flags() if flag.startswith(("-L", "-l"))]
    cmd = [os.environ.get("CC") or "cc", "-O2", "-shared", "-fPIC", "-std=gnu11", f"-I{include}", _SOURCE,
           "-o", tmp, *link, f"-Wl,-rpath,{libdir}"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            tail = " ".join((p.stderr or p.stdout).strip().splitlines()[-3:])
            raise RuntimeError(f"building the TensorFlow op failed ({cmd[0]} exited {p.returncode}): {tail}")
        os.replace(tmp, out)  # atomic: processes building at once each leave a whole file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _address(name: str) -> int:
    return ctypes.cast(getattr(_lib.lib, name), ctypes.c_void_p).value or 0


def _load() -> Any:
    import tensorflow as tf

    path = _build(tf)
    mod = tf.load_op_library(path)
    so = ctypes.CDLL(path)
    so.kncp_tfop_init.restype = ctypes.c_int
    so.kncp_tfop_init.argtypes = [ctypes.c_void_p] * 4
    so.kncp_tfop_live_tapes.restype = ctypes.c_int64
    so.kncp_tfop_live_tapes.argtypes = []
    if not so.kncp_tfop_init(_address("kncp_cfc_forward"), _address("kncp_cfc_backward"),
                             _address("kncp_tape_free"), _address("kncp_cfc_tape_bytes")):
        raise RuntimeError("the Go library's functions could not be found")
    global _so
    _so = so
    return mod


def ops() -> Optional[Any]:
    """The op module (``kncp_cfc_forward``, ``kncp_cfc_backward``), or None
    when the ops are unavailable (see :func:`status`)."""
    global _tried, _ops, _why
    if _tried:
        return _ops
    with _lock:
        if not _tried:
            if os.environ.get("KERASNCP_GO_TF_OP", "1") == "0":
                _why = "disabled by KERASNCP_GO_TF_OP=0"
            else:
                try:
                    _ops = _load()
                    _why = "loaded"
                except Exception as e:  # no compiler, no headers, a failed build: the numpy_function path
                    _why = f"{type(e).__name__}: {e}"
            _tried = True
    return _ops


def status() -> str:
    """Whether the native ops are in use ("loaded"), or why not."""
    return _why


def live_tapes() -> int:
    """Forward tapes the native ops keep for a backward pass not run yet."""
    return int(_so.kncp_tfop_live_tapes()) if _so is not None else 0
