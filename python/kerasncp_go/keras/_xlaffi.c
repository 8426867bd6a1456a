/* The CfC sequence pass as XLA FFI handlers, for the Keras layers on the
 * JAX backend (CPU): a jitted training step calls the Go core directly,
 * without jax.pure_callback's trip through Python and NumPy (about 75 us a
 * call and 15 us per array on a 2-core x86-64, more than the pass itself on
 * small models).
 *
 * Built on first use by kerasncp_go.keras._xlaffi against the FFI's C API
 * header that jaxlib ships (jax.ffi.include_dir(): xla/ffi/api/c_api.h,
 * versioned and ABI-stable), registered with jax.ffi.register_ffi_target
 * and called through jax.ffi.ffi_call.
 *
 * kncp_xla_cfc_forward
 *   args   x (batch, steps, in), h0 (batch, state), ts (batch, steps) or
 *          (0,), table (the Go model's flat parameter table, masks
 *          included: the JAX side writes the Keras weights into it)
 *   rets   y (batch, steps, cell_out) or (batch, cell_out), h (batch,
 *          state), tape id (int32), dropout seed (int32)
 * kncp_xla_cfc_backward
 *   args   tape id, seed, gy, gh, then the forward handler's args
 *   rets   gtable, gx, gh0, gts (of ts's shape)
 * attributes (int64 scalars) model (the Go handle), all_steps, training,
 *   keep (forward only: keep the tape), has_ts, state.
 *
 * A kept tape waits in the store of _hostops.h; a backward pass whose
 * tape is gone reruns the forward pass with the same seed. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xla/ffi/api/c_api.h"

#include "_hostops.h"

/* Sets the library functions; returns 1 when none is NULL. */
int kncp_xla_init(void *forward, void *backward, void *free_tape, void *tape_bytes) {
    return host_init(forward, backward, free_tape, tape_bytes);
}

/* Tapes kept for a backward pass that has not run yet. */
int64_t kncp_xla_live_tapes(void) { return store_live(); }

static XLA_FFI_Error *error(const XLA_FFI_Api *api, XLA_FFI_Error_Code code, const char *msg) {
    XLA_FFI_Error_Create_Args a;
    memset(&a, 0, sizeof a);
    a.struct_size = XLA_FFI_Error_Create_Args_STRUCT_SIZE;
    a.message = msg;
    a.errc = code;
    return api->XLA_FFI_Error_Create(&a);
}

/* Answers XLA's metadata query (made when a handler is registered): the
 * FFI version this file was built against, no traits, no state. Returns 1
 * when the call was that query. */
static int answer_metadata(XLA_FFI_CallFrame *cf) {
    XLA_FFI_Extension_Base *e = cf->extension_start;
    if (e == NULL || e->type != XLA_FFI_Extension_Metadata) return 0;
    XLA_FFI_Metadata *m = ((XLA_FFI_Metadata_Extension *)e)->metadata;
    m->api_version.struct_size = XLA_FFI_Api_Version_STRUCT_SIZE;
    m->api_version.extension_start = NULL;
    m->api_version.major_version = XLA_FFI_API_MAJOR;
    m->api_version.minor_version = XLA_FFI_API_MINOR;
    m->traits = 0;
    if (m->struct_size >= offsetof(XLA_FFI_Metadata, state_type_id) + sizeof m->state_type_id)
        m->state_type_id.type_id = 0; /* XLA_FFI_UNKNOWN_TYPE_ID */
    return 1;
}

typedef struct {
    int64_t model, all_steps, training, keep, has_ts, state;
} attrs;

/* The int64 scalar attribute `name`; 0 when missing or of another type. */
static int attr_i64(const XLA_FFI_Attrs *at, const char *name, int64_t *out) {
    size_t n = strlen(name);
    for (int64_t i = 0; i < at->size; i++) {
        const XLA_FFI_ByteSpan *s = at->names[i];
        if (s->len != n || memcmp(s->ptr, name, n) != 0) continue;
        if (at->types[i] != XLA_FFI_AttrType_SCALAR) return 0;
        const XLA_FFI_Scalar *v = at->attrs[i];
        if (v->dtype != XLA_FFI_DataType_S64) return 0;
        *out = *(const int64_t *)v->value;
        return 1;
    }
    return 0;
}

static const char *read_attrs(const XLA_FFI_Attrs *at, attrs *a, int forward) {
    memset(a, 0, sizeof *a);
    if (!attr_i64(at, "model", &a->model) || !attr_i64(at, "all_steps", &a->all_steps) ||
        !attr_i64(at, "training", &a->training) || !attr_i64(at, "has_ts", &a->has_ts) ||
        !attr_i64(at, "state", &a->state) || (forward && !attr_i64(at, "keep", &a->keep)))
        return "kerasncp: an FFI call lacks one of its int64 attributes (model, all_steps, training, keep, "
               "has_ts, state)";
    return NULL;
}

static int64_t count(const XLA_FFI_Buffer *b) {
    int64_t n = 1;
    for (int64_t i = 0; i < b->rank; i++) n *= b->dims[i];
    return n;
}

static kncp_buf buf(const XLA_FFI_Buffer *b) {
    kncp_buf k = {b->data, count(b)};
    return k;
}

/* The call's n buffers (args or rets), each of dtype want[i]. */
static const char *buffers(int64_t size, const void *types, void **items, int is_ret, int64_t n,
                           const XLA_FFI_DataType *want, XLA_FFI_Buffer **out) {
    if (size != n) return is_ret ? "kerasncp: an FFI call has the wrong number of results"
                                  : "kerasncp: an FFI call has the wrong number of arguments";
    for (int64_t i = 0; i < n; i++) {
        int t = is_ret ? (int)((const XLA_FFI_RetType *)types)[i] : (int)((const XLA_FFI_ArgType *)types)[i];
        if (t != 1) return "kerasncp: an FFI call's argument or result is not a buffer";
        out[i] = items[i];
        if (out[i]->dtype != want[i]) return "kerasncp: an FFI call's argument or result has the wrong dtype";
    }
    return NULL;
}

/* The inputs both handlers share: x, h0, ts, table. */
typedef struct {
    XLA_FFI_Buffer *x, *h0, *ts, *table;
    int64_t batch, steps;
} inputs;

static const char *check_inputs(const attrs *a, XLA_FFI_Buffer **b, inputs *in, char *msg, size_t n) {
    in->x = b[0];
    in->h0 = b[1];
    in->ts = b[2];
    in->table = b[3];
    if (in->x->rank != 3) return "kerasncp: x must have shape (batch, steps, input_size)";
    in->batch = in->x->dims[0];
    in->steps = in->x->dims[1];
    if (count(in->h0) != in->batch * a->state) {
        snprintf(msg, n, "kerasncp: the initial state must have shape (%lld, %lld)", (long long)in->batch,
                 (long long)a->state);
        return msg;
    }
    if (a->has_ts && count(in->ts) != in->batch * in->steps) {
        snprintf(msg, n, "kerasncp: the elapsed times must have shape (%lld, %lld)", (long long)in->batch,
                 (long long)in->steps);
        return msg;
    }
    return NULL;
}

static int32_t run_forward(const attrs *a, const inputs *in, kncp_buf y, kncp_buf h, int keep, uint64_t seed,
                           uint64_t *tape, char *err, size_t errlen) {
    return cfc_forward((uint64_t)a->model, buf(in->table), in->batch, in->steps, buf(in->x), buf(in->h0), none,
                       a->has_ts ? buf(in->ts) : none, y, a->all_steps ? 1 : 0, h, none, a->training ? 1 : 0, seed,
                       keep ? tape : NULL, err, errlen);
}

#define F32 XLA_FFI_DataType_F32
#define S32 XLA_FFI_DataType_S32

XLA_FFI_Error *kncp_xla_cfc_forward(XLA_FFI_CallFrame *cf) {
    if (answer_metadata(cf)) return NULL;
    const XLA_FFI_Api *api = cf->api;
    if (cf->stage != XLA_FFI_ExecutionStage_EXECUTE) return NULL;
    if (!cfc_forward) return error(api, XLA_FFI_Error_Code_FAILED_PRECONDITION,
                                   "kerasncp: the FFI library was loaded without kncp_xla_init");
    char err[1024];
    attrs a;
    XLA_FFI_Buffer *args[4], *rets[4];
    static const XLA_FFI_DataType in_types[4] = {F32, F32, F32, F32}, out_types[4] = {F32, F32, S32, S32};
    inputs in;
    const char *bad = read_attrs(&cf->attrs, &a, 1);
    if (!bad) bad = buffers(cf->args.size, cf->args.types, cf->args.args, 0, 4, in_types, args);
    if (!bad) bad = buffers(cf->rets.size, cf->rets.types, cf->rets.rets, 1, 4, out_types, rets);
    if (!bad) bad = check_inputs(&a, args, &in, err, sizeof err);
    if (!bad && count(rets[1]) != in.batch * a.state) bad = "kerasncp: the state result has the wrong size";
    if (bad) return error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, bad);
    uint64_t seed = 0, tape = 0;
    if (!draw_seed((int)a.training, &seed)) return error(api, XLA_FFI_Error_Code_INTERNAL, "kerasncp: getrandom failed");
    if (run_forward(&a, &in, buf(rets[0]), buf(rets[1]), (int)a.keep, seed, &tape, err, sizeof err) != 0)
        return error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, err);
    *(int32_t *)rets[2]->data = a.keep ? (int32_t)store_tape((uint64_t)a.model, in.batch, in.steps, tape) : 0;
    *(int32_t *)rets[3]->data = (int32_t)seed;
    return NULL;
}

XLA_FFI_Error *kncp_xla_cfc_backward(XLA_FFI_CallFrame *cf) {
    if (answer_metadata(cf)) return NULL;
    const XLA_FFI_Api *api = cf->api;
    if (cf->stage != XLA_FFI_ExecutionStage_EXECUTE) return NULL;
    if (!cfc_backward) return error(api, XLA_FFI_Error_Code_FAILED_PRECONDITION,
                                    "kerasncp: the FFI library was loaded without kncp_xla_init");
    char err[1024];
    attrs a;
    XLA_FFI_Buffer *args[8], *rets[4];
    static const XLA_FFI_DataType in_types[8] = {S32, S32, F32, F32, F32, F32, F32, F32},
                                  out_types[4] = {F32, F32, F32, F32};
    inputs in;
    const char *bad = read_attrs(&cf->attrs, &a, 0);
    if (!bad) bad = buffers(cf->args.size, cf->args.types, cf->args.args, 0, 8, in_types, args);
    if (!bad) bad = buffers(cf->rets.size, cf->rets.types, cf->rets.rets, 1, 4, out_types, rets);
    if (!bad) bad = check_inputs(&a, args + 4, &in, err, sizeof err);
    if (!bad && count(args[3]) != in.batch * a.state) bad = "kerasncp: the state's gradient has the wrong size";
    if (bad) return error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, bad);
    uint64_t tape = store_pop(*(const int32_t *)args[0]->data);
    if (!tape) { /* gone: the forward pass again, with its dropout seed, into scratch outputs */
        int64_t ylen = count(args[2]), hlen = count(args[3]);
        float *y = malloc((size_t)(ylen > 0 ? ylen : 1) * sizeof *y);
        float *h = malloc((size_t)(hlen > 0 ? hlen : 1) * sizeof *h);
        int32_t rc = -1;
        if (y && h) {
            kncp_buf yb = {y, ylen}, hb = {h, hlen};
            uint64_t seed = (uint64_t)(uint32_t)*(const int32_t *)args[1]->data;
            rc = run_forward(&a, &in, yb, hb, 1, seed, &tape, err, sizeof err);
        } else {
            snprintf(err, sizeof err, "kerasncp: out of memory");
        }
        free(y);
        free(h);
        if (rc != 0) return error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, err);
    }
    int32_t rc = cfc_backward(tape, buf(args[2]), buf(args[3]), none, buf(rets[0]), buf(rets[1]), buf(rets[2]), none,
                              a.has_ts ? buf(rets[3]) : none, err, sizeof err);
    free_tape_quietly(tape);
    if (rc != 0) return error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, err);
    return NULL;
}
