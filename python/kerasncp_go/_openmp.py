"""Go passes on torch's own OpenMP threads.

torch runs its parallel operations on an OpenMP thread team, whose idle
threads keep spinning for milliseconds after each operation (GNU OpenMP's
default). A Go pass that follows one (the backward pass after a loss, the
next forward after the optimizer) used to split its batch over the Go
runtime's own threads, which then shared the cores with those spinning
threads: on 2 cores, CfC(20, 50)'s training pass took 15 ms instead of 9.
With a team installed, the Go core runs its parallel work on the OpenMP
runtime torch loaded (GOMP_parallel, which LLVM's and Intel's runtimes
provide as well), on as many threads as torch's intra-op setting
(torch.set_num_threads) gives; when that is 1 it uses its own threads (see
internal/machine/team.go). The thread count comes from torch's own
at::get_num_threads, which on a thread torch has not used yet first gives
that thread's OpenMP team torch's setting, as torch does before its own
parallel work there.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from typing import List, Optional

from . import _lib

__all__ = ["install", "uninstall", "installed", "find_runtime", "torch_threads_function", "team_regions",
           "share_torch_threads", "on_torch_import", "ENV"]

#: Set to 0 to keep the Go core on its own threads when torch is imported.
ENV = "KERASNCP_GO_TORCH_THREADS"

# libgomp.so.1, libgomp-a34b3233.so.1.0.0, libomp.so, libiomp5.so, libomp.dylib
# (not libgomp-plugin-nvptx.so.1 and the like)
_NAME = re.compile(r"^lib(g|i5?)?omp(5)?([-.][0-9a-f]+)?\.(so|dylib)([.0-9]*)$")

# torch's at::get_num_threads() (C++, mangled), in libtorch_cpu
_TORCH_THREADS = "_ZN2at15get_num_threadsEv"

_runtime: Optional[str] = None
_DEFAULT_LONG_WORK = _lib.LONG_WORK
_found: dict = {}  # torch module -> (runtime path, at::get_num_threads) or None
_chosen = False  # share_torch_threads was called by the user: imports leave it


def _loaded_libraries() -> List[str]:
    """Paths of the shared libraries mapped into this process (Linux)."""
    try:
        with open("/proc/self/maps") as f:
            return list(dict.fromkeys(line.split(None, 5)[5].strip() for line in f if len(line.split(None, 5)) == 6))
    except OSError:
        return []


def find_runtime(torch_module) -> Optional[str]:
    """The path of the OpenMP runtime torch runs its intra-op parallelism
    on, or None when it has none (another parallel backend, or a runtime
    this cannot find)."""
    try:
        if "parallel backend: OpenMP" not in torch_module.__config__.parallel_info():
            return None
    except Exception:  # an unusual build: no team
        return None
    root = os.path.dirname(os.path.dirname(os.path.abspath(torch_module.__file__)))
    own = (os.path.join(root, "torch") + os.sep, os.path.join(root, "torch.libs") + os.sep)
    if sys.platform.startswith("linux"):
        found = [p for p in _loaded_libraries() if p.startswith("/") and _NAME.match(os.path.basename(p))]
    else:  # macOS: torch's wheels load the runtime shipped in torch/lib
        lib_dir = os.path.join(root, "torch", "lib")
        try:
            found = [os.path.join(lib_dir, n) for n in sorted(os.listdir(lib_dir)) if _NAME.match(n)]
        except OSError:
            found = []
    mine = [p for p in found if p.startswith(own)]
    if len(mine) == 1:
        return mine[0]
    if not mine and len(found) == 1:  # a torch built against the system's runtime
        return found[0]
    return None  # none, or several and no way to tell which torch uses


def _loaded(path: str, symbol: str) -> Optional[int]:
    """The address of symbol in the already loaded library at path, or
    None (not loaded: it is not loaded here; or no such symbol)."""
    mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LOCAL", 0)
    try:
        return ctypes.cast(getattr(ctypes.CDLL(path, mode=mode), symbol), ctypes.c_void_p).value
    except (OSError, AttributeError):
        return None


def torch_threads_function(torch_module) -> Optional[int]:
    """The address of torch's at::get_num_threads, or None."""
    lib_dir = os.path.join(os.path.dirname(os.path.abspath(torch_module.__file__)), "lib")
    for name in ("libtorch_cpu.so", "libtorch_cpu.dylib"):
        path = os.path.join(lib_dir, name)
        if os.path.exists(path):
            return _loaded(path, _TORCH_THREADS)
    return None


def install(path: str, threads: int) -> bool:
    """Runs the Go core's parallel work on the team of the OpenMP runtime
    at path, which must already be loaded (it is not loaded here), on as
    many threads as the C function at address threads (int f(void))
    returns. Returns False, changing nothing, when the runtime is not
    loaded or lacks GOMP_parallel."""
    global _runtime
    parallel = _loaded(path, "GOMP_parallel")
    if not parallel or not threads:
        return False
    _lib.call("kncp_set_openmp", parallel, threads)
    _runtime = path
    _lib.LONG_WORK = _lib.TEAM_LONG_WORK
    return True


def uninstall() -> None:
    """Back to the Go runtime's own threads."""
    global _runtime
    _lib.call("kncp_set_openmp", None, None)
    _runtime = None
    _lib.LONG_WORK = _DEFAULT_LONG_WORK


def installed() -> Optional[str]:
    """The path of the runtime whose team the Go core runs on, or None."""
    return _runtime


def team_regions() -> int:
    """How many parallel regions the Go core has run on an OpenMP team in
    this process."""
    out = ctypes.c_int64()
    _lib.call("kncp_openmp_regions", ctypes.byref(out))
    return int(out.value)


def share_torch_threads(torch_module, enabled: bool = True) -> bool:
    """Runs the Go core's parallel work on torch's OpenMP team (enabled) or
    on its own threads. Returns whether it now runs on torch's team: False
    also when torch has no OpenMP team this can use."""
    global _chosen
    _chosen = True
    return _share(torch_module, enabled)


def _share(torch_module, enabled: bool) -> bool:
    """share_torch_threads without recording a choice."""
    if not enabled:
        uninstall()
        return False
    if torch_module not in _found:  # reading the process's libraries takes about a millisecond
        path = find_runtime(torch_module)
        _found[torch_module] = None if path is None else (path, torch_threads_function(torch_module))
    found = _found[torch_module]
    return found is not None and install(*found)


def on_torch_import(torch_module) -> None:
    """What importing a torch binding does: shares torch's threads unless
    the environment variable ENV is 0 or the user has chosen already
    (share_torch_threads)."""
    if not _chosen and os.environ.get(ENV, "1").strip() != "0":
        _share(torch_module, True)
