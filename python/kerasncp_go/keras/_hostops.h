/* What the native framework ops share: _tfop.c (TensorFlow's C op API)
 * and _xlaffi.c (XLA's FFI, for JAX) each include this once.
 *
 * - The library's functions they call (kerasncp.h's types, without its
 *   prototypes), whose addresses the Python side takes from the loaded
 *   libkerasncp and hands over through host_init, so that an op library
 *   links against its framework alone.
 * - The store where a forward pass's Go tape waits for its backward pass,
 *   found by the integer id the forward op returns. A tape that is gone
 *   (never kept, evicted, or used) is made again by the backward op, which
 *   reruns the forward pass with the same dropout seed, so a gradient never
 *   depends on the store.
 *
 * Everything here is static: each op library has its own store. */

#ifndef KNCP_HOSTOPS_H
#define KNCP_HOSTOPS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define KNCP_NO_PROTOTYPES
#include "kerasncp.h"

typedef int32_t (*cfc_forward_fn)(uint64_t h, kncp_buf params, int64_t batch, int64_t steps, kncp_buf x,
                                  kncp_buf h0, kncp_buf c0, kncp_buf elapsed, kncp_buf y, int32_t all_steps,
                                  kncp_buf hout, kncp_buf cout, int32_t training, uint64_t dropout_seed,
                                  uint64_t *tape, char *err, size_t errlen);
typedef int32_t (*cfc_backward_fn)(uint64_t tape, kncp_buf gy, kncp_buf gh, kncp_buf gc, kncp_buf gparams,
                                   kncp_buf gx, kncp_buf gh0, kncp_buf gc0, kncp_buf gelapsed, char *err,
                                   size_t errlen);
typedef int32_t (*tape_free_fn)(uint64_t tape, char *err, size_t errlen);
typedef int32_t (*cfc_tape_bytes_fn)(uint64_t h, int64_t batch, int64_t steps, double *out, char *err,
                                     size_t errlen);
typedef int32_t (*ltc_forward_fn)(const kncp_ltc_cell *cell, int64_t batch, int64_t steps, kncp_buf x, kncp_buf h0,
                                  kncp_buf elapsed, kncp_buf y, int32_t all_steps, kncp_buf h, uint64_t *tape,
                                  char *err, size_t errlen);
typedef int32_t (*ltc_backward_fn)(uint64_t tape, kncp_buf gy, kncp_buf gh, const kncp_buf *grads, kncp_buf gx,
                                   kncp_buf gh0, kncp_buf gelapsed, char *err, size_t errlen);
typedef int32_t (*ltc_tape_bytes_fn)(int32_t dtype, int64_t units, int32_t ode_unfolds, int64_t batch, int64_t steps,
                                     double *out, char *err, size_t errlen);

static cfc_forward_fn cfc_forward;
static cfc_backward_fn cfc_backward;
static tape_free_fn tape_free;
static cfc_tape_bytes_fn cfc_tape_bytes;
static ltc_forward_fn ltc_forward;
static ltc_backward_fn ltc_backward;
static ltc_tape_bytes_fn ltc_tape_bytes;

static const kncp_buf none = {NULL, 0};

/* Sets the library functions (f, in the order of _cbuild.FUNCTIONS);
 * returns 1 when none is NULL. */
static int host_init(void *const *f) {
    cfc_forward = (cfc_forward_fn)f[0];
    cfc_backward = (cfc_backward_fn)f[1];
    tape_free = (tape_free_fn)f[2];
    cfc_tape_bytes = (cfc_tape_bytes_fn)f[3];
    ltc_forward = (ltc_forward_fn)f[4];
    ltc_backward = (ltc_backward_fn)f[5];
    ltc_tape_bytes = (ltc_tape_bytes_fn)f[6];
    for (int i = 0; i < 7; i++)
        if (!f[i]) return 0;
    return 1;
}

/* Dropout seeds come from getrandom, or, once host_seed has been called
 * (keras.utils.set_random_seed does, through the package), from a
 * splitmix64 stream started at that seed, so that seeded runs repeat. */
static _Atomic uint64_t seed_state;
static _Atomic int seeded;

static void host_seed(uint64_t s) {
    atomic_store(&seed_state, s);
    atomic_store(&seeded, 1);
}

/* A training pass's dropout seed: 31 random bits, as the NumPy side
 * draws them; 0 outside training. Returns 0 when getrandom fails. */
static int draw_seed(int training, uint64_t *seed) {
    uint32_t r = 0;
    if (training && atomic_load(&seeded)) {
        uint64_t z = atomic_fetch_add(&seed_state, 0x9e3779b97f4a7c15ull) + 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        r = (uint32_t)(z ^ (z >> 31));
    } else if (training && getrandom(&r, sizeof r, 0) != sizeof r) {
        return 0;
    }
    *seed = training ? (r & 0x7fffffffu) : 0;
    return 1;
}

/* ---- The tape store ----------------------------------------------------
 * Tapes by id, oldest first; at most MAX_TAPES of them and about MAX_BYTES
 * of tape memory (the newest always stays). Ids run from 1 to 2**31 - 1
 * and wrap (an int32 carries one: JAX's default integer). */

#define MAX_TAPES 8192
#define MAX_BYTES (512.0 * 1024 * 1024)
#define MAX_ID 0x7fffffff

typedef struct {
    int64_t id;
    uint64_t handle;
    double bytes;
} entry;

static pthread_mutex_t store_mu = PTHREAD_MUTEX_INITIALIZER;
static entry *store;
static size_t store_len, store_cap;
static int64_t store_next;
static double store_bytes;

static void free_tape_quietly(uint64_t h) {
    char err[256];
    tape_free(h, err, sizeof err);
}

/* Keeps handle and returns its id (>= 1), or 0 when there is no memory for
 * the entry (the tape is freed: a backward pass reruns the forward pass). */
static int64_t store_put(uint64_t handle, double bytes) {
    uint64_t evicted[16];
    size_t nev = 0;
    int64_t id = 0;
    pthread_mutex_lock(&store_mu);
    if (store_len == store_cap) {
        size_t cap = store_cap ? 2 * store_cap : 16;
        entry *grown = realloc(store, cap * sizeof *grown);
        if (grown) {
            store = grown;
            store_cap = cap;
        }
    }
    if (store_len < store_cap) {
        store_next = store_next % MAX_ID + 1;
        id = store_next;
        store[store_len++] = (entry){id, handle, bytes};
        store_bytes += bytes;
        while (store_len > 1 && (store_len > MAX_TAPES || store_bytes > MAX_BYTES) && nev < 16) {
            evicted[nev++] = store[0].handle;
            store_bytes -= store[0].bytes;
            memmove(store, store + 1, (store_len - 1) * sizeof *store);
            store_len--;
        }
    }
    pthread_mutex_unlock(&store_mu);
    for (size_t i = 0; i < nev; i++) free_tape_quietly(evicted[i]);
    if (id == 0) free_tape_quietly(handle);
    return id;
}

/* Keeps a CfC forward pass's tape of `model` over batch x steps: its id. */
static int64_t store_tape(uint64_t model, int64_t batch, int64_t steps, uint64_t tape) {
    char err[256];
    double bytes = 0;
    cfc_tape_bytes(model, batch, steps, &bytes, err, sizeof err);
    return store_put(tape, bytes);
}

/* Keeps an LTC forward pass's tape of `cell` over batch x steps: its id. */
static int64_t store_ltc_tape(const kncp_ltc_cell *cell, int64_t batch, int64_t steps, uint64_t tape) {
    char err[256];
    double bytes = 0;
    ltc_tape_bytes(cell->dtype, cell->units, cell->ode_unfolds, batch, steps, &bytes, err, sizeof err);
    return store_put(tape, bytes);
}

/* The handle of id (now the caller's), or 0 when it is gone. */
static uint64_t store_pop(int64_t id) {
    uint64_t h = 0;
    pthread_mutex_lock(&store_mu);
    for (size_t i = store_len; i-- > 0;) {
        if (store[i].id == id) {
            h = store[i].handle;
            store_bytes -= store[i].bytes;
            memmove(store + i, store + i + 1, (store_len - i - 1) * sizeof *store);
            store_len--;
            break;
        }
    }
    pthread_mutex_unlock(&store_mu);
    return h;
}

/* Tapes kept for a backward pass that has not run yet. */
static int64_t store_live(void) {
    pthread_mutex_lock(&store_mu);
    int64_t n = (int64_t)store_len;
    pthread_mutex_unlock(&store_mu);
    return n;
}

#endif
