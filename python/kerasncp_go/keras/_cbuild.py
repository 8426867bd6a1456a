"""Builds the native op libraries (``_tfop.c`` for TensorFlow, ``_xlaffi.c``
for JAX) on first use, against the installed framework's headers, with the
C compiler (``$CC``, else ``cc``).

A library is kept in the cache directory (``$KERASNCP_GO_CACHE``, else
``$XDG_CACHE_HOME/kerasncp-go``, else ``~/.cache/kerasncp-go``) under a name
that hashes its source, the shared ``_hostops.h`` and ``kerasncp.h``, the
framework's version and the flags, so each build (about a second) happens
once per machine and framework version.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
import threading
from typing import Any, Callable, List, Optional, Sequence

from .. import _lib

_HERE = os.path.dirname(os.path.abspath(__file__))
_NATIVE = os.path.join(os.path.dirname(_HERE), "_native")  # kerasncp.h, next to the library
_HEADERS = (os.path.join(_HERE, "_hostops.h"), os.path.join(_NATIVE, "kerasncp.h"))

#: The Go library's functions an op library calls, in host_init's order (_hostops.h).
FUNCTIONS = ("kncp_cfc_forward", "kncp_cfc_backward", "kncp_tape_free", "kncp_cfc_tape_bytes", "kncp_ltc_forward",
             "kncp_ltc_backward", "kncp_ltc_tape_bytes")


def cache_dir() -> str:
    """Where built op libraries are kept."""
    d = os.environ.get("KERASNCP_GO_CACHE")
    if not d:
        d = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                         "kerasncp-go")
    return d


def build(name: str, tag: str, version: str, flags: Sequence[str], what: str) -> str:
    """The path of the shared library built from the C file `name` in this
    directory with the compiler flags `flags` (includes, libraries), built
    if needed; `what` names it in a failed build's RuntimeError."""
    source = os.path.join(_HERE, name)
    parts = []
    for path in (source, *_HEADERS):
        with open(path, "rb") as f:
            parts.append(f.read())
    key = hashlib.sha256(b"\0".join(parts + [version.encode()] + [f.encode() for f in flags]))
    out_dir = cache_dir()
    out = os.path.join(out_dir, f"{tag}-{key.hexdigest()[:16]}.so")
    if os.path.exists(out):
        return out
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{tag}-", suffix=".so", dir=out_dir)
    os.close(fd)
    cmd = [os.environ.get("CC") or "cc", "-O2", "-shared", "-fPIC", "-std=gnu11", f"-I{_HERE}", f"-I{_NATIVE}", source,
           "-o", tmp, *flags]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            tail = " ".join((p.stderr or p.stdout).strip().splitlines()[-3:])
            raise RuntimeError(f"building {what} failed ({cmd[0]} exited {p.returncode}): {tail}")
        os.replace(tmp, out)  # atomic: processes building at once each leave a whole file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def library_functions() -> "ctypes.Array[ctypes.c_void_p]":
    """The addresses of FUNCTIONS in the loaded Go library, as the C array
    an op library's init takes."""
    addrs = [ctypes.cast(getattr(_lib.lib, n), ctypes.c_void_p).value or 0 for n in FUNCTIONS]
    return (ctypes.c_void_p * len(addrs))(*addrs)


def open_library(path: str, prefix: str) -> ctypes.CDLL:
    """Loads the op library at path and hands it the Go library's
    functions through its `prefix`_init; its `prefix`_live_tapes is
    declared for the caller."""
    so = ctypes.CDLL(path)
    init, live = getattr(so, prefix + "_init"), getattr(so, prefix + "_live_tapes")
    init.restype, init.argtypes = ctypes.c_int, [ctypes.c_void_p]
    live.restype, live.argtypes = ctypes.c_int64, []
    if not init(library_functions()):
        raise RuntimeError("the Go library's functions could not be found")
    seed = getattr(so, prefix + "_seed")
    seed.restype, seed.argtypes = None, [ctypes.c_uint64]
    _seeders.append(seed)
    if _seeded is not None:  # keras.utils.set_random_seed ran before this library was loaded
        seed(_seeded)
    return so


#: The loaded op libraries' seed functions, and the last seed given (None:
#: never), for libraries loaded later.
_seeders: List[Any] = []
_seeded: Optional[int] = None


def seed_libraries(seed: int) -> None:
    """Starts every op library's dropout seeds (now and when loaded) at a
    stream derived from seed."""
    global _seeded
    _seeded = int(seed) & (2 ** 64 - 1)
    for f in _seeders:
        f(_seeded)


class Once:
    """A native op library loaded at most once per process: get() returns
    what load() returned, or None when the environment variable `switch`
    is "0" or load() raised (no compiler, no headers, a failed build: the
    layers then take their host-callback path); `why` says which."""

    def __init__(self, switch: str, load: Callable[[], Any]) -> None:
        self._switch, self._load = switch, load
        self._lock = threading.Lock()
        self._tried = False
        self.value: Any = None
        self.why = "not tried yet"

    def get(self) -> Optional[Any]:
        if self._tried:
            return self.value
        with self._lock:
            if not self._tried:
                if os.environ.get(self._switch, "1") == "0":
                    self.why = f"disabled by {self._switch}=0"
                else:
                    try:
                        self.value = self._load()
                        self.why = "loaded"
                    except Exception as e:  # any failure means the host-callback path
                        self.why = f"{type(e).__name__}: {e}"
                self._tried = True
        return self.value
