/*
 * kerasncp.h - the C ABI of kerasncp-go.
 *
 * One shared library (libkerasncp.so) exports these functions. It is the
 * contract between the Go core and every other language: the Python package
 * reaches the core only through it.
 *
 * Conventions
 *  - Every function returns KNCP_OK (0) or one of the error codes below, and
 *    on error copies a NUL-terminated message into the caller's buffer
 *    `err` of `errlen` bytes (truncated to fit; `err` may be NULL).
 *  - No Go panic crosses this boundary: a panic becomes KNCP_ERR_INTERNAL
 *    with its message.
 *  - Arrays are caller-owned, C-contiguous (row-major) views: a kncp_buf
 *    holds a data pointer and a length in elements of the call's dtype. Go
 *    reads or writes them only during the call and keeps no pointer after it
 *    returns. A NULL data pointer means "absent" where the argument is
 *    documented as optional.
 *  - Long-lived Go objects (wirings, forward tapes) are opaque uint64
 *    handles; each has a free function. Memory Go allocates for the caller
 *    (npy/npz buffers) is released with kncp_buffer_free.
 *  - Layouts are those of the Go package core: x is batch x steps x sensory,
 *    states batch x units, U x U matrices [src*units + dest].
 *  - All functions are safe to call from several threads at once, on
 *    different handles. The GIL-free caller must not free a handle another
 *    thread is using.
 *  - After the Go runtime has started in a process, fork() without exec
 *    leaves the child unable to run Go code: use spawn-style process
 *    creation.
 */
#ifndef KERASNCP_H
#define KERASNCP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change of this header. */
#define KNCP_ABI_VERSION 2

/* Error codes. */
#define KNCP_OK 0
#define KNCP_ERR_VALUE 1    /* an argument has a bad value or shape */
#define KNCP_ERR_TYPE 2     /* an argument has a bad dtype or kind */
#define KNCP_ERR_HANDLE 3   /* unknown or already freed handle */
#define KNCP_ERR_INTERNAL 4 /* a bug: a recovered panic */
#define KNCP_ERR_FORMAT 5   /* a malformed .npy/.npz buffer or JSON text */
#define KNCP_ERR_MEMORY 6   /* refused before allocating: more than the memory the
                               process may use (machine, cgroup, RLIMIT_AS); the
                               message names the sizes */
#define KNCP_ERR_INTERRUPTED 7 /* stopped by kncp_interrupt; every handle stays valid */

/* Element types. */
#define KNCP_FLOAT32 0
#define KNCP_FLOAT64 1

/* Mappings of inputs and outputs (the reference's "affine", "linear", None). */
#define KNCP_MAP_AFFINE 0
#define KNCP_MAP_LINEAR 1
#define KNCP_MAP_NONE 2

/* Neuron types. */
#define KNCP_NEURON_MOTOR 0
#define KNCP_NEURON_COMMAND 1
#define KNCP_NEURON_INTER 2

/* Wiring kinds (the "kind" of kncp_wiring_new's JSON in brackets). */
#define KNCP_WIRING_CUSTOM 0          /* "wiring" */
#define KNCP_WIRING_FULLY_CONNECTED 1 /* "fully_connected" */
#define KNCP_WIRING_RANDOM 2          /* "random" */
#define KNCP_WIRING_NCP 3             /* "ncp" */
#define KNCP_WIRING_AUTONCP 4         /* "autoncp" */

/* What kncp_wiring_info reports about a wiring. */
typedef struct {
    int64_t units;                  /* neurons */
    int64_t input_dim;              /* input features; 0: unknown (not built) */
    int64_t output_dim;             /* motor neurons; 0: unset */
    int64_t num_layers;             /* 3 for NCP and AutoNCP, else 1 */
    int64_t synapse_count;          /* synapses between neurons */
    int64_t sensory_synapse_count;  /* synapses from input features */
    int32_t kind;                   /* KNCP_WIRING_* */
    int32_t built;                  /* 1 once input_dim is known, else 0 */
} kncp_wiring_info_t;

/* Parameters of an LTC cell, in the reference's creation order. */
#define KNCP_P_GLEAK 0
#define KNCP_P_VLEAK 1
#define KNCP_P_CM 2
#define KNCP_P_SIGMA 3
#define KNCP_P_MU 4
#define KNCP_P_W 5
#define KNCP_P_EREV 6
#define KNCP_P_SENSORY_SIGMA 7
#define KNCP_P_SENSORY_MU 8
#define KNCP_P_SENSORY_W 9
#define KNCP_P_SENSORY_EREV 10
#define KNCP_P_SPARSITY_MASK 11
#define KNCP_P_SENSORY_SPARSITY_MASK 12
#define KNCP_P_INPUT_W 13
#define KNCP_P_INPUT_B 14
#define KNCP_P_OUTPUT_W 15
#define KNCP_P_OUTPUT_B 16
#define KNCP_NUM_PARAMS 17

/* A caller-owned array: `len` elements of the call's dtype at `data`. */
typedef struct {
    void *data;
    int64_t len;
} kncp_buf;

/* An LTC cell: its shape, options and parameters (views into caller
 * memory). Parameters of a mapping the cell does not use are absent. */
typedef struct {
    int32_t dtype;                  /* KNCP_FLOAT32 or KNCP_FLOAT64 */
    int64_t units, sensory, motor;  /* U, S, M */
    int32_t input_mapping;          /* KNCP_MAP_* */
    int32_t output_mapping;         /* KNCP_MAP_* */
    int32_t ode_unfolds;            /* 1..100000; reference default 6 */
    double epsilon;                 /* reference default 1e-8 */
    int32_t implicit_constraints;   /* 1: softplus on w, sensory_w, cm, gleak */
    kncp_buf params[KNCP_NUM_PARAMS];
} kncp_ltc_cell;

/* ---- CfC types ---------------------------------------------------------- */

/* CfC modes (the reference's "default", "pure", "no_gate"). */
#define KNCP_CFC_DEFAULT 0
#define KNCP_CFC_PURE 1
#define KNCP_CFC_NO_GATE 2
/* OR'ed into a mode: the TF/Keras variant (ncps.keras): heads without
 * tanh, s = sigmoid(-time_a*t + time_b), dropout after every backbone
 * layer, signed wired masks; no mixed memory. */
#define KNCP_CFC_KERAS 256

/* Backbone activations. */
#define KNCP_ACT_LECUN_TANH 0
#define KNCP_ACT_TANH 1
#define KNCP_ACT_RELU 2
#define KNCP_ACT_GELU 3
#define KNCP_ACT_SILU 4

/* Longest parameter name, NUL included. */
#define KNCP_NAME_MAX 64

/* A CfC model's structure: a plain CfC (units > 0, wiring 0) or a wired
 * one (wiring a wiring handle, units 0: one CfC layer per wiring layer, no
 * backbone, lecun_tanh). The wiring is copied at creation (and built for
 * input_size on the copy if it was not built). */
typedef struct {
    int32_t dtype;            /* KNCP_FLOAT32 or KNCP_FLOAT64 */
    int64_t input_size;
    int64_t units;            /* plain CfC: hidden units; wired: 0 */
    uint64_t wiring;          /* wiring handle, or 0 */
    int32_t mode;             /* KNCP_CFC_* */
    int32_t activation;       /* KNCP_ACT_* (wired: KNCP_ACT_LECUN_TANH) */
    int64_t backbone_units;   /* plain: >= 1 when backbone_layers > 0; wired: 0 */
    int64_t backbone_layers;  /* plain: >= 0 (0: no backbone); wired: 0 */
    double backbone_dropout;  /* in [0, 1); applied in training passes only */
    int32_t mixed_memory;     /* 1: an LSTM memory cell runs before the CfC */
    int64_t proj_size;        /* 0: no projection */
} kncp_cfc_config;

/* Sizes of a CfC model. Parameters live in ONE flat buffer of param_len
 * values, laid out as the num_params entries kncp_cfc_param describes. */
typedef struct {
    int32_t dtype;
    int64_t state_size;       /* values per sample of the state h (and c) */
    int64_t cell_output_size; /* width of the cell's output before proj */
    int64_t output_size;      /* width of y: proj_size, or cell_output_size */
    int64_t num_layers;       /* CfC layers (wiring layers, or 1) */
    int64_t num_params;       /* entries of the parameter table */
    int64_t param_len;        /* values of the flat parameter buffer */
    int64_t tape_width;       /* values a tape keeps per sample and step */
} kncp_cfc_info_t;

/* One entry of a CfC model's parameter table: its name (the reference
 * module's state_dict key, e.g. "rnn_cell.ff1.weight"), shape (torch
 * layout: (out, in) for Linear weights), and where its values start in the
 * flat buffer. Sparsity masks are entries with trainable 0. */
typedef struct {
    char name[KNCP_NAME_MAX];
    int32_t ndim;
    int64_t shape[4];
    int64_t offset;
    int64_t length;
    int32_t trainable;
} kncp_cfc_param_t;

/* What kncp_stepper_info reports about a stepper. */
typedef struct {
    int32_t dtype;        /* KNCP_FLOAT32 or KNCP_FLOAT64: of x, y and the state */
    int64_t batch;        /* samples stepped at once */
    int64_t input_size;   /* values per sample of x */
    int64_t output_size;  /* values per sample of y */
    int64_t state_size;   /* values per sample of the state */
} kncp_stepper_info_t;

#ifndef KNCP_NO_PROTOTYPES

/* ---- Library ---------------------------------------------------------- */

/* Returns KNCP_ABI_VERSION of the library (compare with the header's). */
int32_t kncp_abi_version(void);

/* Returns the library version, a static NUL-terminated string. */
const char *kncp_version(void);

/* Returns the number of live handles (wirings and tapes), for leak checks. */
int64_t kncp_live_handles(void);

/* Frees a buffer the library allocated (NULL is allowed). Returns KNCP_OK. */
int32_t kncp_buffer_free(void *buf);

/* Asks every long call in progress (sequence forward and backward passes of
 * every cell family, wiring builds) to stop at its next poll (between time
 * steps; every 65536 draws of a wiring build) and return
 * KNCP_ERR_INTERRUPTED. Safe to call from any thread, a signal handler's
 * thread included. It stays in effect, so that calls starting meanwhile stop
 * too, until kncp_clear_interrupt. Returns KNCP_OK. */
int32_t kncp_interrupt(void);

/* Lets calls run again after kncp_interrupt. Returns KNCP_OK. */
int32_t kncp_clear_interrupt(void);

/* Checks that `bytes` more bytes fit in the memory the process may use (the
 * machine's or its container's memory, RLIMIT_AS less what is mapped): the
 * rule every allocation of the library follows, for hosts that allocate on
 * its behalf. `what` (may be NULL) names the allocation in the message.
 * Returns KNCP_OK, or KNCP_ERR_MEMORY with a message naming the sizes. */
int32_t kncp_check_alloc(const char *what, double bytes, char *err, size_t errlen);

/* Caps how many threads (goroutines) one sequence pass splits its batch
 * over at n, or lifts the cap (n == 0, the default: every core the Go runtime
 * may use, its GOMAXPROCS, which the GOMAXPROCS environment variable sets at
 * start); a cap above GOMAXPROCS changes nothing. For processes that share
 * the machine (data-parallel ranks, one per core). Passes already running keep
 * their split. Outputs never depend on it; the LTC's parameter gradients,
 * summed per thread first, can differ in rounding. Returns KNCP_OK, or
 * KNCP_ERR_VALUE for n < 0. */
int32_t kncp_set_num_threads(int64_t n, char *err, size_t errlen);

/* Writes to *out how many threads a pass may split over now: GOMAXPROCS or
 * the smaller cap of kncp_set_num_threads. Returns KNCP_OK, or
 * KNCP_ERR_VALUE when out is NULL. */
int32_t kncp_num_threads(int64_t *out, char *err, size_t errlen);

/* Runs the library's parallel work on the thread team of an OpenMP runtime
 * already loaded into the process (torch's, whose idle threads would
 * otherwise spin on the cores the library's own threads need): `parallel`
 * is that runtime's GOMP_parallel, and `max_threads` an `int f(void)` that
 * says how many threads a region started from the calling thread should
 * get (the runtime's omp_get_max_threads, or the host library's own
 * setting, such as torch's at::get_num_threads). Each region gets that
 * many threads, at most the library's own thread count (kncp_num_threads);
 * when it is 1 the library uses its own threads. Both NULL: back to the
 * library's own threads. The pointers are kept: the libraries must stay
 * loaded. Returns KNCP_OK. */
int32_t kncp_set_openmp(void *parallel, void *max_threads, char *err, size_t errlen);

/* Writes to *out how many parallel regions have run on an OpenMP team
 * (kncp_set_openmp) in this process. Returns KNCP_OK, or KNCP_ERR_VALUE when
 * out is NULL. */
int32_t kncp_openmp_regions(int64_t *out, char *err, size_t errlen);

/* Panics inside Go on purpose, to test the guard. Returns KNCP_ERR_INTERNAL. */
int32_t kncp_debug_panic(char *err, size_t errlen);

/* ---- Wirings ---------------------------------------------------------- */

/* Creates a wiring from a JSON object: {"kind": "wiring" | "fully_connected"
 * | "random" | "ncp" | "autoncp", ...the reference constructor's keyword
 * arguments}, e.g. {"kind": "ncp", "inter_neurons": 12, ..., "seed": 22222}.
 * Omitted or null arguments take the reference's defaults. Decoding is
 * strict: an unknown key, or a value of the wrong JSON type (2.5, "3" or
 * true for an integer), is KNCP_ERR_VALUE naming the key. What kncp_wiring_config
 * writes is accepted too, except for custom wirings (kind "wiring", whose
 * configuration holds no synapses): "input_dim" (when not null) builds the
 * wiring, and "units" and "output_dim" must match the wiring made. Returns KNCP_OK
 * and the handle in *out, KNCP_ERR_FORMAT for bad JSON, KNCP_ERR_VALUE for
 * bad arguments (a NULL out included). */
int32_t kncp_wiring_new(const char *config_json, uint64_t *out, char *err, size_t errlen);

/* Creates a custom wiring holding copies of the given matrices: adjacency
 * units x units and, when input_dim > 0, sensory input_dim x units
 * (output_dim 0: unset). Returns KNCP_OK and the handle in *out. */
int32_t kncp_wiring_from_matrices(int64_t units, int64_t input_dim, int64_t output_dim,
                                  const int32_t *adjacency, const int32_t *sensory,
                                  uint64_t *out, char *err, size_t errlen);

/* Returns a deep copy of a wiring (random stream included) in *out (not
 * NULL). Returns KNCP_OK, KNCP_ERR_HANDLE or KNCP_ERR_VALUE. */
int32_t kncp_wiring_clone(uint64_t h, uint64_t *out, char *err, size_t errlen);

/* Frees a wiring handle. Returns KNCP_ERR_HANDLE if it is not live. */
int32_t kncp_wiring_free(uint64_t h, char *err, size_t errlen);

/* Builds (idempotent) / sets the input dimension / sets the output
 * dimension. Return KNCP_OK or KNCP_ERR_VALUE. */
int32_t kncp_wiring_build(uint64_t h, int64_t input_dim, char *err, size_t errlen);
int32_t kncp_wiring_set_input_dim(uint64_t h, int64_t input_dim, char *err, size_t errlen);
int32_t kncp_wiring_set_output_dim(uint64_t h, int64_t output_dim, char *err, size_t errlen);

/* Sets one synapse (polarity -1 or +1). Return KNCP_OK or KNCP_ERR_VALUE. */
int32_t kncp_wiring_add_synapse(uint64_t h, int64_t src, int64_t dest, int64_t polarity,
                                char *err, size_t errlen);
int32_t kncp_wiring_add_sensory_synapse(uint64_t h, int64_t src, int64_t dest, int64_t polarity,
                                        char *err, size_t errlen);

/* Fills *info (not NULL) with the wiring's sizes, counts and kind. Returns
 * KNCP_OK, KNCP_ERR_HANDLE or KNCP_ERR_VALUE. */
int32_t kncp_wiring_info(uint64_t h, kncp_wiring_info_t *info, char *err, size_t errlen);

/* Copies the adjacency (units*units entries) or sensory adjacency
 * (input_dim*units) matrix into dst, whose length n must match. Returns
 * KNCP_OK or KNCP_ERR_VALUE. */
int32_t kncp_wiring_adjacency(uint64_t h, int32_t *dst, int64_t n, char *err, size_t errlen);
int32_t kncp_wiring_sensory_adjacency(uint64_t h, int32_t *dst, int64_t n, char *err, size_t errlen);

/* Copies the neuron ids of layer `layer` into dst (capacity cap) and their
 * count into *n. n must not be NULL, nor dst when cap > 0. Returns
 * KNCP_ERR_VALUE for an unknown layer, a too small dst or a NULL pointer. */
int32_t kncp_wiring_layer(uint64_t h, int64_t layer, int64_t *dst, int64_t cap, int64_t *n,
                          char *err, size_t errlen);

/* Writes KNCP_NEURON_* of neuron id into *type (not NULL). Returns KNCP_OK
 * or KNCP_ERR_VALUE. */
int32_t kncp_wiring_neuron_type(uint64_t h, int64_t id, int32_t *type, char *err, size_t errlen);

/* Writes the wiring's constructor arguments as a JSON object (the form
 * kncp_wiring_new accepts, plus "units", "input_dim" and "output_dim") into
 * buf of capacity cap, and its length without the NUL into *n (n must not
 * be NULL, nor buf when cap > 0). If cap is too small, nothing is written
 * but *n, and KNCP_ERR_VALUE is returned. */
int32_t kncp_wiring_config(uint64_t h, char *buf, int64_t cap, int64_t *n, char *err, size_t errlen);

/* ---- LTC cell --------------------------------------------------------- */

/* Runs the cell over batch sequences of `steps` steps.
 *   x        batch*steps*sensory inputs (required)
 *   h0       batch*units initial state (optional: zeros)
 *   elapsed  batch*steps elapsed times (optional: 1.0)
 *   y        outputs: batch*steps*motor when all_steps, else batch*motor
 *            (optional)
 *   h        batch*units final state (optional)
 *   tape     optional; when not NULL, the library keeps what
 *            kncp_ltc_backward needs (copies of the inputs and parameters,
 *            the states of every ODE unfold) and stores its handle here.
 * All buffers have the cell's dtype. Returns KNCP_OK, KNCP_ERR_VALUE (a
 * shape, named in the message) or KNCP_ERR_TYPE (dtype). */
int32_t kncp_ltc_forward(const kncp_ltc_cell *cell, int64_t batch, int64_t steps,
                         kncp_buf x, kncp_buf h0, kncp_buf elapsed,
                         kncp_buf y, int32_t all_steps, kncp_buf h,
                         uint64_t *tape, char *err, size_t errlen);

/* Backpropagates through the forward pass kept in `tape`: gy (shaped as
 * that pass's y) and gh (batch*units) are the loss gradients of the
 * outputs and final state (each optional: zero). Writes (overwriting) the
 * gradient of every trainable parameter into grads[i] for each i whose
 * data is not NULL (the masks' entries are ignored), and of the inputs,
 * initial state and elapsed times into gx, gh0, gelapsed when not NULL.
 * The tape stays valid: free it with kncp_tape_free. Returns KNCP_OK,
 * KNCP_ERR_HANDLE or KNCP_ERR_VALUE. */
int32_t kncp_ltc_backward(uint64_t tape, kncp_buf gy, kncp_buf gh,
                          const kncp_buf *grads, kncp_buf gx, kncp_buf gh0, kncp_buf gelapsed,
                          char *err, size_t errlen);

/* Frees a forward tape. Returns KNCP_ERR_HANDLE if it is not live. */
int32_t kncp_tape_free(uint64_t tape, char *err, size_t errlen);

/* Writes into *out (not NULL) the bytes of memory a taped kncp_ltc_forward
 * keeps for the backward pass of a cell of dtype KNCP_FLOAT32 or
 * KNCP_FLOAT64 with `units` neurons and `ode_unfolds` unfolds over batch
 * sequences of `steps` steps (a double: it may exceed what int64 counts).
 * kncp_ltc_forward refuses a tape larger than the process's memory.
 * Returns KNCP_OK, KNCP_ERR_TYPE (dtype) or KNCP_ERR_VALUE. */
int32_t kncp_ltc_tape_bytes(int32_t dtype, int64_t units, int32_t ode_unfolds, int64_t batch, int64_t steps,
                            double *out, char *err, size_t errlen);

/* Clamps w, sensory_w, cm and gleak of the cell's parameters at zero, in
 * place (the reference's apply_weight_constraints). Returns KNCP_OK. */
int32_t kncp_ltc_apply_constraints(const kncp_ltc_cell *cell, char *err, size_t errlen);

/* Writes the initial parameters of an LTC cell over the wiring (a handle
 * built for the cell's sensory size, with cell->units neurons and
 * cell->motor motor neurons) into the cell's parameter buffers, which must
 * all be there with their exact lengths: the same values the NumPy class
 * kerasncp_go.LTCCell(wiring, seed=seed) starts from (uniform draws of
 * numpy.random.default_rng(seed) from the reference's ranges, in the
 * reference's order, then rounded to the dtype; erev and the masks from the
 * wiring's polarities; mapping weights 1 and biases 0). Returns KNCP_OK,
 * KNCP_ERR_HANDLE (wiring), KNCP_ERR_TYPE (dtype) or KNCP_ERR_VALUE (a
 * shape, or a wiring that does not fit). */
int32_t kncp_ltc_init(uint64_t wiring, const kncp_ltc_cell *cell, uint64_t seed, char *err, size_t errlen);

/* ---- CfC models --------------------------------------------------------- */

/* Creates a CfC model handle for cfg; seed draws the parameters that
 * kncp_cfc_init would write for it (not stored: every call takes the
 * caller's parameter buffer). Returns KNCP_OK and the handle in *out,
 * KNCP_ERR_VALUE (an argument, named in the message), KNCP_ERR_TYPE
 * (dtype) or KNCP_ERR_HANDLE (wiring). */
int32_t kncp_cfc_new(const kncp_cfc_config *cfg, uint64_t seed, uint64_t *out, char *err, size_t errlen);

/* Frees a CfC model handle (tapes made with it stay valid). Returns
 * KNCP_OK or KNCP_ERR_HANDLE. */
int32_t kncp_cfc_free(uint64_t h, char *err, size_t errlen);

/* Writes the model's sizes into *out. Returns KNCP_OK or KNCP_ERR_HANDLE. */
int32_t kncp_cfc_info(uint64_t h, kncp_cfc_info_t *out, char *err, size_t errlen);

/* Copies the width of each CfC layer (n values: num_layers) into dst.
 * Returns KNCP_OK or KNCP_ERR_VALUE when n is not num_layers. */
int32_t kncp_cfc_layer_sizes(uint64_t h, int64_t *dst, int64_t n, char *err, size_t errlen);

/* Writes entry i (0 <= i < num_params, in state_dict order) of the
 * parameter table into *out. Returns KNCP_OK or KNCP_ERR_VALUE. */
int32_t kncp_cfc_param(uint64_t h, int64_t i, kncp_cfc_param_t *out, char *err, size_t errlen);

/* Writes initial parameters drawn from seed into params (param_len
 * values): the reference's initial distributions (xavier-uniform weights,
 * U(+-1/sqrt(fan_in)) biases, orthogonal LSTM recurrent weights) and the
 * wiring's masks. Returns KNCP_OK or KNCP_ERR_VALUE. */
int32_t kncp_cfc_init(uint64_t h, uint64_t seed, kncp_buf params, char *err, size_t errlen);

/* Writes the size in bytes of the tape a kncp_cfc_forward over batch x
 * steps keeps into *out. Returns KNCP_OK. */
int32_t kncp_cfc_tape_bytes(uint64_t h, int64_t batch, int64_t steps, double *out, char *err, size_t errlen);

/* Hints that a kncp_cfc_forward or kncp_cfc_backward over batch x steps
 * comes soon: when that pass would be split over threads, the library's idle
 * worker threads check for work for a fraction of a millisecond instead of
 * sleeping, so that the pass does not wait for them to wake. For hosts with
 * work of their own between passes (an autograd engine between a forward and
 * a backward pass): call it before that work. Never blocks; any batch and
 * steps are accepted (those no pass accepts change nothing). Returns KNCP_OK,
 * or KNCP_ERR_HANDLE. */
int32_t kncp_cfc_wake(uint64_t h, int64_t batch, int64_t steps, char *err, size_t errlen);

/* Runs the model over batch sequences of `steps` steps.
 *   params   param_len values (required; masks are read from it too)
 *   x        batch*steps*input_size inputs (required)
 *   h0, c0   batch*state_size initial state and (mixed memory only) cell
 *            memory (optional: zeros)
 *   elapsed  batch*steps elapsed times, each finite and > 0 (optional: 1.0)
 *   y        outputs: batch*steps*output_size when all_steps, else
 *            batch*output_size (optional)
 *   h, c     batch*state_size final state and memory (optional)
 *   training 1: backbone dropout is drawn from dropout_seed (the same seed
 *            gives the same masks); 0: no dropout
 *   tape     optional; when not NULL the library keeps what
 *            kncp_cfc_backward needs (copies of the parameters and inputs,
 *            and batch*steps*tape_width values) and stores its handle here.
 * All buffers have the model's dtype. Nothing is written on error. Returns
 * KNCP_OK, KNCP_ERR_VALUE (a shape or value, named in the message) or
 * KNCP_ERR_HANDLE. */
int32_t kncp_cfc_forward(uint64_t h, kncp_buf params, int64_t batch, int64_t steps,
                         kncp_buf x, kncp_buf h0, kncp_buf c0, kncp_buf elapsed,
                         kncp_buf y, int32_t all_steps, kncp_buf hout, kncp_buf cout,
                         int32_t training, uint64_t dropout_seed,
                         uint64_t *tape, char *err, size_t errlen);

/* Backpropagates through the CfC forward pass kept in `tape`: gy (shaped
 * as that pass's y), gh and gc (batch*state_size; gc with mixed memory
 * only) are the loss gradients of the outputs, final state and memory
 * (each optional: zero). Writes (overwriting) the gradient of every
 * parameter into gparams (param_len values; zeros at the masks), and of
 * the inputs, initial state and memory and elapsed times into gx, gh0, gc0
 * and gelapsed, each when not NULL. A tape serves one backward pass (a
 * second returns KNCP_ERR_VALUE); free it with kncp_tape_free. Returns
 * KNCP_OK, KNCP_ERR_HANDLE or KNCP_ERR_VALUE. */
int32_t kncp_cfc_backward(uint64_t tape, kncp_buf gy, kncp_buf gh, kncp_buf gc,
                          kncp_buf gparams, kncp_buf gx, kncp_buf gh0, kncp_buf gc0,
                          kncp_buf gelapsed, char *err, size_t errlen);

/* ---- Steppers (control loops) ------------------------------------------ */

/* A stepper runs a cell one time step per call at a fixed batch: it owns a
 * copy of the parameters (checked and prepared once, at creation), the
 * state and every scratch buffer, so a step checks two lengths and its
 * input values and allocates nothing. A stepper serves one loop: a call
 * made while another thread is inside a call on the same stepper returns
 * KNCP_ERR_VALUE ("in use by another thread") without touching it.
 * Different steppers may be used from different threads at once. */

/* Creates a stepper for batch samples (>= 1) of the cell, with a zero
 * state; the parameters are copied (the caller's buffers may be freed).
 * Returns KNCP_OK and the handle in *out, KNCP_ERR_TYPE (dtype) or
 * KNCP_ERR_VALUE (a shape, option or parameter, named in the message). */
int32_t kncp_ltc_stepper_new(const kncp_ltc_cell *cell, int64_t batch, uint64_t *out, char *err, size_t errlen);

/* Creates a stepper for batch samples from a model folder that
 * `kerasncp-go train --out FOLDER` wrote: FOLDER/model.json (cell options)
 * and FOLDER/model.npz (parameters under the reference's names). Returns
 * KNCP_OK and the handle in *out, KNCP_ERR_FORMAT (a damaged or
 * inconsistent model.npz or model.json, named in the message) or
 * KNCP_ERR_VALUE (a file that cannot be read, a bad batch). */
int32_t kncp_ltc_stepper_load(const char *folder, int64_t batch, uint64_t *out, char *err, size_t errlen);

/* Writes the stepper's sizes into *out. Returns KNCP_OK or KNCP_ERR_HANDLE. */
int32_t kncp_stepper_info(uint64_t h, kncp_stepper_info_t *out, char *err, size_t errlen);

/* Advances the state by one step of `elapsed` time units with the inputs x
 * (batch*input_size, required) and writes the outputs into y
 * (batch*output_size; optional), both of the stepper's dtype. A NaN or
 * infinite input, or an elapsed time that is not finite and > 0, is
 * refused (the message names it) and leaves the state unchanged. Returns
 * KNCP_OK, KNCP_ERR_HANDLE or KNCP_ERR_VALUE. */
int32_t kncp_stepper_step(uint64_t h, kncp_buf x, double elapsed, kncp_buf y, char *err, size_t errlen);

/* Copies the state (batch*state_size values) into dst. Returns KNCP_OK,
 * KNCP_ERR_HANDLE or KNCP_ERR_VALUE. */
int32_t kncp_stepper_state(uint64_t h, kncp_buf dst, char *err, size_t errlen);

/* Replaces the state with src (batch*state_size values), or with zeros when
 * src.data is NULL. Returns KNCP_OK, KNCP_ERR_HANDLE or KNCP_ERR_VALUE. */
int32_t kncp_stepper_set_state(uint64_t h, kncp_buf src, char *err, size_t errlen);

/* Frees a stepper. Returns KNCP_OK or KNCP_ERR_HANDLE. */
int32_t kncp_stepper_free(uint64_t h, char *err, size_t errlen);

/* ---- Self-describing buffers (.npy / .npz) ----------------------------- */

/* Writes the wiring's matrices as an .npz archive (adjacency_matrix and,
 * when built, sensory_adjacency_matrix, int32) into a buffer the library
 * allocates: *out, *outlen; free it with kncp_buffer_free. */
int32_t kncp_wiring_npz(uint64_t h, uint8_t **out, int64_t *outlen, char *err, size_t errlen);

/* Writes the cell's parameters as an .npz archive with the reference's
 * names into a library-allocated buffer (*out, *outlen). */
int32_t kncp_ltc_params_to_npz(const kncp_ltc_cell *cell, uint8_t **out, int64_t *outlen,
                               char *err, size_t errlen);

/* Runs a cell stored as an .npz parameter archive over the .npy array x
 * (batch x steps x sensory, float32 or float64) entirely from buffers.
 * options_json may be NULL or a JSON object with "ode_unfolds", "epsilon",
 * "implicit_param_constraints", "motor" (needed only without an output
 * mapping) and "elapsed" (null or 1: the archive runs with regular steps).
 * Writes the outputs of every step as an
 * .npy array (batch x steps x motor, the dtype of the archive) into a
 * library-allocated buffer (*out, *outlen). Returns KNCP_OK,
 * KNCP_ERR_FORMAT for malformed buffers or KNCP_ERR_VALUE. */
int32_t kncp_ltc_forward_npz(const uint8_t *params_npz, int64_t params_len,
                             const uint8_t *x_npy, int64_t x_len, const char *options_json,
                             uint8_t **out, int64_t *outlen, char *err, size_t errlen);

#endif /* KNCP_NO_PROTOTYPES */

#ifdef __cplusplus
}
#endif

#endif /* KERASNCP_H */
