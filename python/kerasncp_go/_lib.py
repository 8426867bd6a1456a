"""Loads the one shared library (libkerasncp) and declares its C functions.

Each function of ``capi/kerasncp.h`` is declared here exactly once, with its C
prototype above it. ``ctypes.CDLL`` releases the GIL for the duration of every
call, so Go kernels run in parallel with other Python threads.

The library is looked up in ``$KERASNCP_GO_LIBRARY`` if set, else next to this
file in ``_native/``. Importing fails with ``ImportError`` when the library is
missing or was built for another ABI version.
"""

from __future__ import annotations

import ctypes
import operator
import os
import queue
import sys
import threading
from ctypes import POINTER, c_char_p, c_double, c_int32, c_int64, c_size_t, c_uint8, c_uint64, c_void_p
from typing import Any, Callable, List

#: Must equal KNCP_ABI_VERSION of the library.
ABI_VERSION = 2

# Error codes (kerasncp.h).
OK, ERR_VALUE, ERR_TYPE, ERR_HANDLE, ERR_INTERNAL, ERR_FORMAT = 0, 1, 2, 3, 4, 5
ERR_MEMORY, ERR_INTERRUPTED = 6, 7
FLOAT32, FLOAT64 = 0, 1
MAP_AFFINE, MAP_LINEAR, MAP_NONE = 0, 1, 2
WIRING_CUSTOM, WIRING_FULLY_CONNECTED, WIRING_RANDOM, WIRING_NCP, WIRING_AUTONCP = 0, 1, 2, 3, 4
NUM_PARAMS = 17

#: Parameter names in the order of the KNCP_P_* indices (the reference's
#: creation order).
PARAM_NAMES = (
    "gleak", "vleak", "cm", "sigma", "mu", "w", "erev",
    "sensory_sigma", "sensory_mu", "sensory_w", "sensory_erev",
    "sparsity_mask", "sensory_sparsity_mask",
    "input_w", "input_b", "output_w", "output_b",
)


class NCPError(RuntimeError):
    """An error inside the kerasncp-go library that is not the caller's
    fault (a bug, reported with the Go message), or a stale handle."""


class Buf(ctypes.Structure):
    """kncp_buf: a caller-owned array view."""

    _fields_ = [("data", c_void_p), ("len", c_int64)]


class LTCCellDesc(ctypes.Structure):
    """kncp_ltc_cell: shape, options and parameter views of an LTC cell."""

    _fields_ = [
        ("dtype", c_int32),
        ("units", c_int64),
        ("sensory", c_int64),
        ("motor", c_int64),
        ("input_mapping", c_int32),
        ("output_mapping", c_int32),
        ("ode_unfolds", c_int32),
        ("epsilon", c_double),
        ("implicit_constraints", c_int32),
        ("params", Buf * NUM_PARAMS),
    ]


class CfCConfig(ctypes.Structure):
    """kncp_cfc_config: the structure of a CfC model."""

    _fields_ = [
        ("dtype", c_int32),
        ("input_size", c_int64),
        ("units", c_int64),
        ("wiring", c_uint64),
        ("mode", c_int32),
        ("activation", c_int32),
        ("backbone_units", c_int64),
        ("backbone_layers", c_int64),
        ("backbone_dropout", c_double),
        ("mixed_memory", c_int32),
        ("proj_size", c_int64),
    ]


class CfCInfo(ctypes.Structure):
    """kncp_cfc_info_t: the sizes of a CfC model."""

    _fields_ = [
        ("dtype", c_int32),
        ("state_size", c_int64),
        ("cell_output_size", c_int64),
        ("output_size", c_int64),
        ("num_layers", c_int64),
        ("num_params", c_int64),
        ("param_len", c_int64),
        ("tape_width", c_int64),
    ]


#: KNCP_NAME_MAX: the longest parameter name, NUL included.
NAME_MAX = 64


class CfCParam(ctypes.Structure):
    """kncp_cfc_param_t: one entry of a CfC model's parameter table."""

    _fields_ = [
        ("name", ctypes.c_char * NAME_MAX),
        ("ndim", c_int32),
        ("shape", c_int64 * 4),
        ("offset", c_int64),
        ("length", c_int64),
        ("trainable", c_int32),
    ]


class StepperInfo(ctypes.Structure):
    """kncp_stepper_info_t: what kncp_stepper_info reports about a stepper."""

    _fields_ = [
        ("dtype", c_int32),
        ("batch", c_int64),
        ("input_size", c_int64),
        ("output_size", c_int64),
        ("state_size", c_int64),
    ]


class WiringInfo(ctypes.Structure):
    """kncp_wiring_info_t: what kncp_wiring_info reports about a wiring."""

    _fields_ = [
        ("units", c_int64),
        ("input_dim", c_int64),
        ("output_dim", c_int64),
        ("num_layers", c_int64),
        ("synapse_count", c_int64),
        ("sensory_synapse_count", c_int64),
        ("kind", c_int32),
        ("built", c_int32),
    ]


def _library_path() -> str:
    env = os.environ.get("KERASNCP_GO_LIBRARY")
    if env:
        return env
    name = {"darwin": "libkerasncp.dylib", "win32": "kerasncp.dll"}.get(sys.platform, "libkerasncp.so")
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "_native", name)


def _load() -> ctypes.CDLL:
    path = _library_path()
    if not os.path.exists(path):
        raise ImportError(
            f"kerasncp_go: the native library is missing at {path}; install the package "
            "with pip (which builds it with Go) or set KERASNCP_GO_LIBRARY"
        )
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:  # pragma: no cover - depends on the platform
        raise ImportError(f"kerasncp_go: cannot load {path}: {e}") from e
    lib.kncp_abi_version.restype = c_int32
    lib.kncp_abi_version.argtypes = []
    got = lib.kncp_abi_version()
    if got != ABI_VERSION:
        raise ImportError(
            f"kerasncp_go: {path} implements C ABI version {got}, this package needs {ABI_VERSION}; "
            "reinstall kerasncp-go so the library and the Python code match"
        )
    return lib


#: The library (a _Forked stand-in in a forked child).
lib: Any = _load()

#: Why every call fails in a child made by fork() without exec.
FORK_MESSAGE = (
    "kerasncp_go cannot run in a process forked from one that loaded it (the Go runtime's threads do "
    "not survive fork, and a call would hang): start worker processes with the 'spawn' or 'forkserver' "
    "method, e.g. multiprocessing.get_context('spawn') or DataLoader(..., multiprocessing_context='spawn')"
)


class _Forked:
    """Stands in for the library in a forked child: every function raises
    NCPError with FORK_MESSAGE instead of hanging."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise NCPError(FORK_MESSAGE)
        return fail


#: Functions to call in a forked child, after lib is replaced (modules that
#: keep their own references to library functions register here).
after_fork_in_child: List[Callable[[], None]] = []


def _forked() -> None:
    global lib
    lib = _Forked()
    for f in after_fork_in_child:
        f()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)

_ERR = (ctypes.c_char_p, c_size_t)
_p_u64 = POINTER(c_uint64)
_p_i64 = POINTER(c_int64)
_p_i32 = POINTER(c_int32)
_pp_u8 = POINTER(POINTER(c_uint8))


def _declare(name: str, restype, *argtypes, with_err: bool = True) -> None:
    try:
        fn = getattr(lib, name)
    except AttributeError:
        raise ImportError(f"kerasncp_go: {_library_path()} has no function {name}: it was built from older "
                          "sources than this package; rebuild it (scripts/build-lib.sh) or reinstall kerasncp-go"
                          ) from None
    fn.restype = restype
    fn.argtypes = list(argtypes) + (list(_ERR) if with_err else [])


# const char *kncp_version(void);
_declare("kncp_version", c_char_p, with_err=False)
# int64_t kncp_live_handles(void);
_declare("kncp_live_handles", c_int64, with_err=False)
# int32_t kncp_buffer_free(void *buf);
_declare("kncp_buffer_free", c_int32, c_void_p, with_err=False)
# int32_t kncp_interrupt(void);
_declare("kncp_interrupt", c_int32, with_err=False)
# int32_t kncp_clear_interrupt(void);
_declare("kncp_clear_interrupt", c_int32, with_err=False)
# int32_t kncp_check_alloc(const char *what, double bytes, char *err, size_t errlen);
_declare("kncp_check_alloc", c_int32, c_char_p, c_double)
# int32_t kncp_set_num_threads(int64_t n, char *err, size_t errlen);
_declare("kncp_set_num_threads", c_int32, c_int64)
# int32_t kncp_num_threads(int64_t *out, char *err, size_t errlen);
_declare("kncp_num_threads", c_int32, POINTER(c_int64))
# int32_t kncp_set_openmp(void *parallel, void *max_threads, char *err, size_t errlen);
_declare("kncp_set_openmp", c_int32, c_void_p, c_void_p)
# int32_t kncp_openmp_regions(int64_t *out, char *err, size_t errlen);
_declare("kncp_openmp_regions", c_int32, POINTER(c_int64))
# int32_t kncp_debug_panic(char *err, size_t errlen);
_declare("kncp_debug_panic", c_int32)
# int32_t kncp_wiring_new(const char *config_json, uint64_t *out, char *err, size_t errlen);
_declare("kncp_wiring_new", c_int32, c_char_p, _p_u64)
# int32_t kncp_wiring_from_matrices(int64_t units, int64_t input_dim, int64_t output_dim,
#     const int32_t *adjacency, const int32_t *sensory, uint64_t *out, char *err, size_t errlen);
_declare("kncp_wiring_from_matrices", c_int32, c_int64, c_int64, c_int64, c_void_p, c_void_p, _p_u64)
# int32_t kncp_wiring_clone(uint64_t h, uint64_t *out, char *err, size_t errlen);
_declare("kncp_wiring_clone", c_int32, c_uint64, _p_u64)
# int32_t kncp_wiring_free(uint64_t h, char *err, size_t errlen);
_declare("kncp_wiring_free", c_int32, c_uint64)
# int32_t kncp_wiring_build(uint64_t h, int64_t input_dim, char *err, size_t errlen);
_declare("kncp_wiring_build", c_int32, c_uint64, c_int64)
# int32_t kncp_wiring_set_input_dim(uint64_t h, int64_t input_dim, char *err, size_t errlen);
_declare("kncp_wiring_set_input_dim", c_int32, c_uint64, c_int64)
# int32_t kncp_wiring_set_output_dim(uint64_t h, int64_t output_dim, char *err, size_t errlen);
_declare("kncp_wiring_set_output_dim", c_int32, c_uint64, c_int64)
# int32_t kncp_wiring_add_synapse(uint64_t h, int64_t src, int64_t dest, int64_t polarity, char *err, size_t errlen);
_declare("kncp_wiring_add_synapse", c_int32, c_uint64, c_int64, c_int64, c_int64)
# int32_t kncp_wiring_add_sensory_synapse(uint64_t h, int64_t src, int64_t dest, int64_t polarity,
#                                         char *err, size_t errlen);
_declare("kncp_wiring_add_sensory_synapse", c_int32, c_uint64, c_int64, c_int64, c_int64)
# int32_t kncp_wiring_info(uint64_t h, kncp_wiring_info_t *info, char *err, size_t errlen);
_declare("kncp_wiring_info", c_int32, c_uint64, POINTER(WiringInfo))
# int32_t kncp_wiring_adjacency(uint64_t h, int32_t *dst, int64_t n, char *err, size_t errlen);
_declare("kncp_wiring_adjacency", c_int32, c_uint64, c_void_p, c_int64)
# int32_t kncp_wiring_sensory_adjacency(uint64_t h, int32_t *dst, int64_t n, char *err, size_t errlen);
_declare("kncp_wiring_sensory_adjacency", c_int32, c_uint64, c_void_p, c_int64)
# int32_t kncp_wiring_layer(uint64_t h, int64_t layer, int64_t *dst, int64_t cap, int64_t *n, char *err, size_t errlen);
_declare("kncp_wiring_layer", c_int32, c_uint64, c_int64, c_void_p, c_int64, _p_i64)
# int32_t kncp_wiring_neuron_type(uint64_t h, int64_t id, int32_t *type, char *err, size_t errlen);
_declare("kncp_wiring_neuron_type", c_int32, c_uint64, c_int64, _p_i32)
# int32_t kncp_wiring_config(uint64_t h, char *buf, int64_t cap, int64_t *n, char *err, size_t errlen);
_declare("kncp_wiring_config", c_int32, c_uint64, c_void_p, c_int64, _p_i64)
# int32_t kncp_ltc_forward(const kncp_ltc_cell *cell, int64_t batch, int64_t steps,
#     kncp_buf x, kncp_buf h0, kncp_buf elapsed, kncp_buf y, int32_t all_steps, kncp_buf h,
#     uint64_t *tape, char *err, size_t errlen);
_declare("kncp_ltc_forward", c_int32, POINTER(LTCCellDesc), c_int64, c_int64, Buf, Buf, Buf, Buf, c_int32, Buf, _p_u64)
# int32_t kncp_ltc_backward(uint64_t tape, kncp_buf gy, kncp_buf gh, const kncp_buf *grads,
#     kncp_buf gx, kncp_buf gh0, kncp_buf gelapsed, char *err, size_t errlen);
_declare("kncp_ltc_backward", c_int32, c_uint64, Buf, Buf, POINTER(Buf), Buf, Buf, Buf)
# int32_t kncp_tape_free(uint64_t tape, char *err, size_t errlen);
_declare("kncp_tape_free", c_int32, c_uint64)
# int32_t kncp_ltc_init(uint64_t wiring, const kncp_ltc_cell *cell, uint64_t seed, char *err, size_t errlen);
_declare("kncp_ltc_init", c_int32, c_uint64, POINTER(LTCCellDesc), c_uint64)
# int32_t kncp_ltc_stepper_new(const kncp_ltc_cell *cell, int64_t batch, uint64_t *out, char *err, size_t errlen);
_declare("kncp_ltc_stepper_new", c_int32, POINTER(LTCCellDesc), c_int64, _p_u64)
# int32_t kncp_ltc_stepper_load(const char *folder, int64_t batch, uint64_t *out, char *err, size_t errlen);
_declare("kncp_ltc_stepper_load", c_int32, c_char_p, c_int64, _p_u64)
# int32_t kncp_stepper_info(uint64_t h, kncp_stepper_info_t *out, char *err, size_t errlen);
_declare("kncp_stepper_info", c_int32, c_uint64, POINTER(StepperInfo))
# int32_t kncp_stepper_step(uint64_t h, kncp_buf x, double elapsed, kncp_buf y, char *err, size_t errlen);
_declare("kncp_stepper_step", c_int32, c_uint64, Buf, c_double, Buf)
# int32_t kncp_stepper_state(uint64_t h, kncp_buf dst, char *err, size_t errlen);
_declare("kncp_stepper_state", c_int32, c_uint64, Buf)
# int32_t kncp_stepper_set_state(uint64_t h, kncp_buf src, char *err, size_t errlen);
_declare("kncp_stepper_set_state", c_int32, c_uint64, Buf)
# int32_t kncp_stepper_free(uint64_t h, char *err, size_t errlen);
_declare("kncp_stepper_free", c_int32, c_uint64)
# int32_t kncp_ltc_tape_bytes(int32_t dtype, int64_t units, int32_t ode_unfolds, int64_t batch, int64_t steps,
#     double *out, char *err, size_t errlen);
_declare("kncp_ltc_tape_bytes", c_int32, c_int32, c_int64, c_int32, c_int64, c_int64, POINTER(c_double))
# int32_t kncp_ltc_apply_constraints(const kncp_ltc_cell *cell, char *err, size_t errlen);
_declare("kncp_ltc_apply_constraints", c_int32, POINTER(LTCCellDesc))
# int32_t kncp_wiring_npz(uint64_t h, uint8_t **out, int64_t *outlen, char *err, size_t errlen);
_declare("kncp_wiring_npz", c_int32, c_uint64, _pp_u8, _p_i64)
# int32_t kncp_ltc_params_to_npz(const kncp_ltc_cell *cell, uint8_t **out, int64_t *outlen, char *err, size_t errlen);
_declare("kncp_ltc_params_to_npz", c_int32, POINTER(LTCCellDesc), _pp_u8, _p_i64)
# int32_t kncp_ltc_forward_npz(const uint8_t *params_npz, int64_t params_len, const uint8_t *x_npy,
#     int64_t x_len, const char *options_json, uint8_t **out, int64_t *outlen, char *err, size_t errlen);
_declare("kncp_ltc_forward_npz", c_int32, c_void_p, c_int64, c_void_p, c_int64, c_char_p, _pp_u8, _p_i64)

# int32_t kncp_cfc_new(const kncp_cfc_config *cfg, uint64_t seed, uint64_t *out, char *err, size_t errlen);
_declare("kncp_cfc_new", c_int32, POINTER(CfCConfig), c_uint64, _p_u64)
# int32_t kncp_cfc_free(uint64_t h, char *err, size_t errlen);
_declare("kncp_cfc_free", c_int32, c_uint64)
# int32_t kncp_cfc_info(uint64_t h, kncp_cfc_info_t *out, char *err, size_t errlen);
_declare("kncp_cfc_info", c_int32, c_uint64, POINTER(CfCInfo))
# int32_t kncp_cfc_layer_sizes(uint64_t h, int64_t *dst, int64_t n, char *err, size_t errlen);
_declare("kncp_cfc_layer_sizes", c_int32, c_uint64, c_void_p, c_int64)
# int32_t kncp_cfc_param(uint64_t h, int64_t i, kncp_cfc_param_t *out, char *err, size_t errlen);
_declare("kncp_cfc_param", c_int32, c_uint64, c_int64, POINTER(CfCParam))
# int32_t kncp_cfc_init(uint64_t h, uint64_t seed, kncp_buf params, char *err, size_t errlen);
_declare("kncp_cfc_init", c_int32, c_uint64, c_uint64, Buf)
# int32_t kncp_cfc_wake(uint64_t h, int64_t batch, int64_t steps, char *err, size_t errlen);
_declare("kncp_cfc_wake", c_int32, c_uint64, c_int64, c_int64)
# int32_t kncp_cfc_tape_bytes(uint64_t h, int64_t batch, int64_t steps, double *out, char *err, size_t errlen);
_declare("kncp_cfc_tape_bytes", c_int32, c_uint64, c_int64, c_int64, POINTER(c_double))
# int32_t kncp_cfc_forward(uint64_t h, kncp_buf params, int64_t batch, int64_t steps,
#     kncp_buf x, kncp_buf h0, kncp_buf c0, kncp_buf elapsed, kncp_buf y, int32_t all_steps,
#     kncp_buf hout, kncp_buf cout, int32_t training, uint64_t dropout_seed, uint64_t *tape,
#     char *err, size_t errlen);
_declare("kncp_cfc_forward", c_int32, c_uint64, Buf, c_int64, c_int64, Buf, Buf, Buf, Buf, Buf, c_int32,
         Buf, Buf, c_int32, c_uint64, _p_u64)
# int32_t kncp_cfc_backward(uint64_t tape, kncp_buf gy, kncp_buf gh, kncp_buf gc, kncp_buf gparams,
#     kncp_buf gx, kncp_buf gh0, kncp_buf gc0, kncp_buf gelapsed, char *err, size_t errlen);
_declare("kncp_cfc_backward", c_int32, c_uint64, Buf, Buf, Buf, Buf, Buf, Buf, Buf, Buf)

# A refused allocation is MemoryError, so that callers catch it as they would
# NumPy's; an interrupted call (kncp_interrupt from another thread) is the
# KeyboardInterrupt that asked for it.
_EXCEPTIONS = {ERR_VALUE: ValueError, ERR_TYPE: TypeError, ERR_FORMAT: ValueError, ERR_HANDLE: NCPError,
               ERR_INTERNAL: NCPError, ERR_MEMORY: MemoryError, ERR_INTERRUPTED: KeyboardInterrupt}

_local = threading.local()

#: Size of the per-thread error message buffer.
ERRLEN = 1024


def _errbuf() -> ctypes.Array:
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = ctypes.create_string_buffer(ERRLEN)
    return buf


def call(name: str, *args) -> None:
    """Calls the library function `name` with args plus an error buffer and
    raises the mapped exception (carrying the Go message) on failure."""
    buf = _errbuf()
    rc = getattr(lib, name)(*args, buf, len(buf))
    if rc != OK:
        raise_error(rc, buf)


#: Go work (in rough multiply-adds) from which a call runs on a helper
#: thread so that Ctrl-C can stop it; below, starting a thread would cost more
#: than the call.
LONG_WORK = 20_000_000

#: LONG_WORK while the Go core runs its parallel work on an OpenMP team
#: (see _openmp): that team is the calling thread's own (OpenMP keeps one
#: per thread that starts parallel regions), and a pass run from the kept
#: call thread would start a second team there, whose idle threads then
#: spin beside torch's own and slow torch's next operations down severalfold.
#: So passes run on the calling thread up to this much work (tenths of a
#: second of Go work on a few cores), where Ctrl-C waits for the call to
#: return.
TEAM_LONG_WORK = 2_000_000_000


class _CallThread:
    """The one thread that runs the main thread's long calls (see
    run_interruptible). It is kept: a fresh thread per call cost about 2 ms
    of a 13 ms pass, mostly the Go runtime taking on a new C thread."""

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        """Starts afresh (a forked child has no copy of the thread)."""
        self._jobs: "queue.SimpleQueue[Callable[[], None]]" = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[], None]) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, args=(self._jobs,), name="kerasncp-go call",
                                            daemon=True)
            self._thread.start()
        self._jobs.put(job)

    @staticmethod
    def _loop(jobs: "queue.SimpleQueue[Callable[[], None]]") -> None:
        while True:
            jobs.get()()


_call_thread = _CallThread()
after_fork_in_child.append(_call_thread.forget)


def run_interruptible(fn: Callable[..., int], *args) -> int:
    """Runs the library function fn(*args) so that Ctrl-C stops it.

    A thread blocked in a C call does not see signals until the call
    returns, so in the main thread the call runs on a kept helper thread
    while the main thread waits, where SIGINT reaches it within 50 ms. The
    handler's exception (KeyboardInterrupt) then sets kncp_interrupt, which
    every long Go loop polls between steps; the call returns within a step
    (tens of milliseconds at most), the flag is cleared, and the exception
    goes on. The caller's arrays stay referenced by its frame until the call
    is over, and every object stays usable. Elsewhere than the main thread
    the call runs directly (only the main thread receives signals).
    """
    if threading.current_thread() is not threading.main_thread():
        return fn(*args)
    box: List[int] = []
    failed: List[BaseException] = []
    done = threading.Event()

    def job() -> None:
        try:
            box.append(fn(*args))
        except BaseException as e:  # e.g. the clear error of a forked child's library: the caller's to raise
            failed.append(e)
        finally:
            done.set()

    _call_thread.submit(job)
    try:
        # A signal handler's exception interrupts this wait when the signal
        # lands on this thread. A process-directed SIGINT may land on any
        # thread (a Go thread, the call thread), which wakes no one: Python
        # runs the handler in the main thread when it next wakes, so the
        # wait is cut into short slices.
        while not done.wait(0.05):
            pass
    except BaseException:
        lib.kncp_interrupt()
        try:
            while not done.wait(0.01):
                pass
        finally:
            lib.kncp_clear_interrupt()
        raise
    if failed:
        raise failed[0]
    return box[0]


def call_long(name: str, *args) -> None:
    """As call, for calls that may run long: interruptible by Ctrl-C (see
    run_interruptible)."""
    buf = _errbuf()
    rc = run_interruptible(getattr(lib, name), *args, buf, len(buf))
    if rc != OK:
        raise_error(rc, buf)


def raise_error(rc: int, buf) -> None:
    """Raises the exception for return code rc with the message in buf."""
    msg = buf.value.decode("utf-8", "replace")
    raise _EXCEPTIONS.get(rc, NCPError)(msg)


def check_alloc(what: str, nbytes: float) -> None:
    """Raises MemoryError naming what and its size when nbytes more bytes
    would not fit in the memory the process may use (the library's rule)."""
    call("kncp_check_alloc", what.encode(), float(nbytes))


def take_buffer(ptr, n: int) -> bytes:
    """Copies a library-allocated buffer into bytes and frees it."""
    try:
        return ctypes.string_at(ptr, n)
    finally:
        lib.kncp_buffer_free(ptr)


def tape_bytes(dtype: int, units: int, ode_unfolds: int, batch: int, steps: int) -> int:
    """Bytes a taped forward pass keeps for its backward pass (Go's
    core.Cell.TapeBytes); dtype is FLOAT32 or FLOAT64."""
    out = c_double()
    call("kncp_ltc_tape_bytes", dtype, units, ode_unfolds, batch, steps, ctypes.byref(out))
    return int(out.value)


def set_num_threads(n: int) -> None:
    """Caps how many threads one pass of any model splits its batch over
    (the Go core's goroutines, one per core at most); 0 lifts the cap (the
    default: every core the process may use, or the GOMAXPROCS environment
    variable's number when it was set before the library loaded). For
    processes that share a machine, one data-parallel rank per core say.
    Passes that start afterwards use it. Outputs do not depend on it; the
    LTC's parameter gradients, summed per thread first, can differ in
    rounding.

    Raises:
        TypeError: n is not an integer.
        ValueError: n < 0.
    """
    if isinstance(n, bool) or not hasattr(type(n), "__index__"):
        raise TypeError(f"the number of threads must be an int (0: every core), got {type(n).__name__}")
    n = operator.index(n)
    if n >= 2**63:  # beyond int64_t
        raise ValueError(f"the number of threads must be below 2**63, got {n}")
    call("kncp_set_num_threads", n)


def get_num_threads() -> int:
    """How many threads a pass may split its batch over now: the cores the
    process may use (GOMAXPROCS), or set_num_threads's smaller cap."""
    out = c_int64()
    call("kncp_num_threads", ctypes.byref(out))
    return int(out.value)


def version() -> str:
    """The library version."""
    return lib.kncp_version().decode()


def live_handles() -> int:
    """Handles (wirings, tapes) the library holds; for leak checks."""
    return lib.kncp_live_handles()
