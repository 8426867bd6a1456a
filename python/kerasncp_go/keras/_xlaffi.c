/* The CfC and LTC sequence passes as XLA FFI handlers, for the Keras
 * layers on the JAX backend (CPU): a jitted training step calls the Go core
 * directly,
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
 * kncp_xla_ltc_forward
 *   args   x (batch, steps, sensory), h0 (batch, units), ts (batch, steps)
 *          or (0,), params (the trainable weights, each flattened, back to
 *          back), masks (the two sparsity masks, back to back)
 *   rets   y (batch, steps, motor) or (batch, motor), h (batch, units),
 *          tape id (int32)
 * kncp_xla_ltc_backward
 *   args   tape id, gy, gh, then the forward handler's args
 *   rets   gparams (laid out as params), gx, gh0, gts
 * attributes (int64 scalars) units, sensory, motor, input_mapping,
 *   output_mapping, ode_unfolds, all_steps, has_ts, keep (forward only);
 *   epsilon (float64); offsets and sizes (int64 arrays of KNCP_NUM_PARAMS:
 *   where each parameter of the C ABI's cell lies in params, or for the
 *   sparsity masks in masks; offset -1 for one the cell does not have).
 *
 * A kept tape waits in the store of _hostops.h; a backward pass whose
 * tape is gone reruns the forward pass with the same seed. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xla/ffi/api/c_api.h"

#include "_hostops.h"

/* Sets the library functions (see host_init); returns 1 when none is NULL. */
int kncp_xla_init(void *const *functions) { return host_init(functions); }

/* Tapes kept for a backward pass that has not run yet. */
int64_t kncp_xla_live_tapes(void) { return store_live(); }

/* Starts the dropout seeds at s (see host_seed). */
void kncp_xla_seed(uint64_t s) { host_seed(s); }

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

/* The attribute `name` of the given kind; NULL when missing or of another
 * kind. */
static void *attr(const XLA_FFI_Attrs *at, const char *name, XLA_FFI_AttrType kind) {
    size_t n = strlen(name);
    for (int64_t i = 0; i < at->size; i++) {
        const XLA_FFI_ByteSpan *s = at->names[i];
        if (s->len == n && memcmp(s->ptr, name, n) == 0) return at->types[i] == kind ? at->attrs[i] : NULL;
    }
    return NULL;
}

/* The int64 scalar attribute `name`; 0 when missing or of another type. */
static int attr_i64(const XLA_FFI_Attrs *at, const char *name, int64_t *out) {
    const XLA_FFI_Scalar *v = attr(at, name, XLA_FFI_AttrType_SCALAR);
    if (!v || v->dtype != XLA_FFI_DataType_S64) return 0;
    *out = *(const int64_t *)v->value;
    return 1;
}

/* The float64 scalar attribute `name`; 0 when missing or of another type. */
static int attr_f64(const XLA_FFI_Attrs *at, const char *name, double *out) {
    const XLA_FFI_Scalar *v = attr(at, name, XLA_FFI_AttrType_SCALAR);
    if (!v || v->dtype != XLA_FFI_DataType_F64) return 0;
    *out = *(const double *)v->value;
    return 1;
}

/* The int64 array attribute `name` of n values; NULL when missing, of
 * another type or length. */
static const int64_t *attr_i64s(const XLA_FFI_Attrs *at, const char *name, size_t n) {
    const XLA_FFI_Array *v = attr(at, name, XLA_FFI_AttrType_ARRAY);
    if (!v || v->dtype != XLA_FFI_DataType_S64 || v->size != n) return NULL;
    return v->data;
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

/* Reads x, h0, ts and the weights from b into in and checks their shapes
 * against a cell of `state` units. */
static const char *check_inputs(int64_t state, int64_t has_ts, XLA_FFI_Buffer **b, inputs *in, char *msg,
                                size_t n) {
    in->x = b[0];
    in->h0 = b[1];
    in->ts = b[2];
    in->table = b[3];
    if (in->x->rank != 3) return "kerasncp: x must have shape (batch, steps, input_size)";
    in->batch = in->x->dims[0];
    in->steps = in->x->dims[1];
    if (count(in->h0) != in->batch * state) {
        snprintf(msg, n, "kerasncp: the initial state must have shape (%lld, %lld)", (long long)in->batch,
                 (long long)state);
        return msg;
    }
    if (has_ts && count(in->ts) != in->batch * in->steps) {
        snprintf(msg, n, "kerasncp: the elapsed times must have shape (%lld, %lld)", (long long)in->batch,
                 (long long)in->steps);
        return msg;
    }
    return NULL;
}

/* What every handler does first: answers XLA's metadata query, passes
 * over stages other than execution, and refuses to run before
 * kncp_xla_init. Returns 1 when the handler is to return *out. */
static int prologue(XLA_FFI_CallFrame *cf, const void *fn, XLA_FFI_Error **out) {
    *out = NULL;
    if (answer_metadata(cf) || cf->stage != XLA_FFI_ExecutionStage_EXECUTE) return 1;
    if (fn) return 0;
    *out = error(cf->api, XLA_FFI_Error_Code_FAILED_PRECONDITION,
                 "kerasncp: the FFI library was loaded without kncp_xla_init");
    return 1;
}

/* A backward handler's forward pass again (its tape is gone), into scratch
 * outputs of ylen and hlen values: run(ctx, y, h, tape, err, errlen).
 * Returns run's code, -1 (with err set) when there is no memory. */
static int32_t rerun(int64_t ylen, int64_t hlen,
                     int32_t (*run)(const void *ctx, kncp_buf y, kncp_buf h, uint64_t *tape, char *err, size_t n),
                     const void *ctx, uint64_t *tape, char *err, size_t errlen) {
    float *y = malloc((size_t)(ylen > 0 ? ylen : 1) * sizeof *y);
    float *h = malloc((size_t)(hlen > 0 ? hlen : 1) * sizeof *h);
    int32_t rc = -1;
    if (y && h) {
        kncp_buf yb = {y, ylen}, hb = {h, hlen};
        rc = run(ctx, yb, hb, tape, err, errlen);
    } else {
        snprintf(err, errlen, "kerasncp: out of memory");
    }
    free(y);
    free(h);
    return rc;
}

static int32_t run_forward(const attrs *a, const inputs *in, kncp_buf y, kncp_buf h, int keep, uint64_t seed,
                           uint64_t *tape, char *err, size_t errlen) {
    return cfc_forward((uint64_t)a->model, buf(in->table), in->batch, in->steps, buf(in->x), buf(in->h0), none,
                       a->has_ts ? buf(in->ts) : none, y, a->all_steps ? 1 : 0, h, none, a->training ? 1 : 0, seed,
                       keep ? tape : NULL, err, errlen);
}

/* A CfC pass to rerun (see rerun). */
typedef struct {
    const attrs *a;
    const inputs *in;
    uint64_t seed;
} cfc_pass;

static int32_t cfc_rerun(const void *ctx, kncp_buf y, kncp_buf h, uint64_t *tape, char *err, size_t n) {
    const cfc_pass *p = ctx;
    return run_forward(p->a, p->in, y, h, 1, p->seed, tape, err, n);
}

#define F32 XLA_FFI_DataType_F32
#define S32 XLA_FFI_DataType_S32

XLA_FFI_Error *kncp_xla_cfc_forward(XLA_FFI_CallFrame *cf) {
    XLA_FFI_Error *done;
    if (prologue(cf, (const void *)cfc_forward, &done)) return done;
    const XLA_FFI_Api *api = cf->api;
    char err[1024];
    attrs a;
    XLA_FFI_Buffer *args[4], *rets[4];
    static const XLA_FFI_DataType in_types[4] = {F32, F32, F32, F32}, out_types[4] = {F32, F32, S32, S32};
    inputs in;
    const char *bad = read_attrs(&cf->attrs, &a, 1);
    if (!bad) bad = buffers(cf->args.size, cf->args.types, cf->args.args, 0, 4, in_types, args);
    if (!bad) bad = buffers(cf->rets.size, cf->rets.types, cf->rets.rets, 1, 4, out_types, rets);
    if (!bad) bad = check_inputs(a.state, a.has_ts, args, &in, err, sizeof err);
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
    XLA_FFI_Error *done;
    if (prologue(cf, (const void *)cfc_backward, &done)) return done;
    const XLA_FFI_Api *api = cf->api;
    char err[1024];
    attrs a;
    XLA_FFI_Buffer *args[8], *rets[4];
    static const XLA_FFI_DataType in_types[8] = {S32, S32, F32, F32, F32, F32, F32, F32},
                                  out_types[4] = {F32, F32, F32, F32};
    inputs in;
    const char *bad = read_attrs(&cf->attrs, &a, 0);
    if (!bad) bad = buffers(cf->args.size, cf->args.types, cf->args.args, 0, 8, in_types, args);
    if (!bad) bad = buffers(cf->rets.size, cf->rets.types, cf->rets.rets, 1, 4, out_types, rets);
    if (!bad) bad = check_inputs(a.state, a.has_ts, args + 4, &in, err, sizeof err);
    if (!bad && count(args[3]) != in.batch * a.state) bad = "kerasncp: the state's gradient has the wrong size";
    if (bad) return error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, bad);
    uint64_t tape = store_pop(*(const int32_t *)args[0]->data);
    if (!tape) { /* gone: the forward pass again, with its dropout seed */
        cfc_pass job = {&a, &in, (uint64_t)(uint32_t)*(const int32_t *)args[1]->data};
        if (rerun(count(args[2]), count(args[3]), cfc_rerun, &job, &tape, err, sizeof err) != 0)
            return error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, err);
    }
    int32_t rc = cfc_backward(tape, buf(args[2]), buf(args[3]), none, buf(rets[0]), buf(rets[1]), buf(rets[2]), none,
                              a.has_ts ? buf(rets[3]) : none, err, sizeof err);
    free_tape_quietly(tape);
    if (rc != 0) return error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, err);
    return NULL;
}

/* ---- The LTC ------------------------------------------------------------ */

typedef struct {
    kncp_ltc_cell cell;
    int64_t all_steps, has_ts, keep;
    const int64_t *offsets, *sizes;
} ltc_attrs;

static const char *read_ltc_attrs(const XLA_FFI_Attrs *at, ltc_attrs *a, int forward) {
    int64_t in_map = 0, out_map = 0, unfolds = 0;
    memset(a, 0, sizeof *a);
    if (!attr_i64(at, "units", &a->cell.units) || !attr_i64(at, "sensory", &a->cell.sensory) ||
        !attr_i64(at, "motor", &a->cell.motor) || !attr_i64(at, "input_mapping", &in_map) ||
        !attr_i64(at, "output_mapping", &out_map) || !attr_i64(at, "ode_unfolds", &unfolds) ||
        !attr_i64(at, "all_steps", &a->all_steps) || !attr_i64(at, "has_ts", &a->has_ts) ||
        (forward && !attr_i64(at, "keep", &a->keep)) || !attr_f64(at, "epsilon", &a->cell.epsilon) ||
        !(a->offsets = attr_i64s(at, "offsets", KNCP_NUM_PARAMS)) ||
        !(a->sizes = attr_i64s(at, "sizes", KNCP_NUM_PARAMS)))
        return "kerasncp: an LTC FFI call lacks one of its attributes (units, sensory, motor, input_mapping, "
               "output_mapping, ode_unfolds, all_steps, has_ts, keep, epsilon, offsets, sizes)";
    if (unfolds < 1 || unfolds > 100000) return "kerasncp: ode_unfolds must be in 1..100000";
    a->cell.dtype = KNCP_FLOAT32;
    a->cell.input_mapping = (int32_t)in_map;
    a->cell.output_mapping = (int32_t)out_map;
    a->cell.ode_unfolds = (int32_t)unfolds;
    a->cell.implicit_constraints = 0;
    return NULL;
}

/* Points the cell's parameters into params (the masks into masks) and,
 * when grads is not NULL, each trainable parameter's gradient into gparams;
 * an error when one would reach past its buffer. */
static const char *place_params(ltc_attrs *a, const XLA_FFI_Buffer *params, const XLA_FFI_Buffer *masks,
                                XLA_FFI_Buffer *gparams, kncp_buf *grads) {
    for (int i = 0; i < KNCP_NUM_PARAMS; i++) {
        int64_t off = a->offsets[i], size = a->sizes[i];
        int mask = i == KNCP_P_SPARSITY_MASK || i == KNCP_P_SENSORY_SPARSITY_MASK;
        const XLA_FFI_Buffer *from = mask ? masks : params;
        if (grads) grads[i] = none;
        if (off < 0) {
            a->cell.params[i] = none;
            continue;
        }
        if (size < 0 || off + size > count(from)) return "kerasncp: an LTC parameter lies outside its buffer";
        a->cell.params[i].data = (float *)from->data + off;
        a->cell.params[i].len = size;
        if (grads && !mask) {
            grads[i].data = (float *)gparams->data + off;
            grads[i].len = size;
        }
    }
    return NULL;
}

static int32_t run_ltc_forward(const ltc_attrs *a, const inputs *in, kncp_buf y, kncp_buf h, int keep,
                               uint64_t *tape, char *err, size_t errlen) {
    return ltc_forward(&a->cell, in->batch, in->steps, buf(in->x), buf(in->h0), a->has_ts ? buf(in->ts) : none, y,
                       a->all_steps ? 1 : 0, h, keep ? tape : NULL, err, errlen);
}

/* An LTC pass to rerun (see rerun). */
typedef struct {
    const ltc_attrs *a;
    const inputs *in;
} ltc_pass;

static int32_t ltc_rerun(const void *ctx, kncp_buf y, kncp_buf h, uint64_t *tape, char *err, size_t n) {
    const ltc_pass *p = ctx;
    return run_ltc_forward(p->a, p->in, y, h, 1, tape, err, n);
}

XLA_FFI_Error *kncp_xla_ltc_forward(XLA_FFI_CallFrame *cf) {
    XLA_FFI_Error *done;
    if (prologue(cf, (const void *)ltc_forward, &done)) return done;
    const XLA_FFI_Api *api = cf->api;
    char err[1024];
    ltc_attrs a;
    XLA_FFI_Buffer *args[5], *rets[3];
    static const XLA_FFI_DataType in_types[5] = {F32, F32, F32, F32, F32}, out_types[3] = {F32, F32, S32};
    inputs in;
    const char *bad = read_ltc_attrs(&cf->attrs, &a, 1);
    if (!bad) bad = buffers(cf->args.size, cf->args.types, cf->args.args, 0, 5, in_types, args);
    if (!bad) bad = buffers(cf->rets.size, cf->rets.types, cf->rets.rets, 1, 3, out_types, rets);
    if (!bad) bad = check_inputs(a.cell.units, a.has_ts, args, &in, err, sizeof err);
    if (!bad) bad = place_params(&a, args[3], args[4], NULL, NULL);
    if (bad) return error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, bad);
    uint64_t tape = 0;
    if (run_ltc_forward(&a, &in, buf(rets[0]), buf(rets[1]), (int)a.keep, &tape, err, sizeof err) != 0)
        return error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, err);
    *(int32_t *)rets[2]->data = a.keep ? (int32_t)store_ltc_tape(&a.cell, in.batch, in.steps, tape) : 0;
    return NULL;
}

XLA_FFI_Error *kncp_xla_ltc_backward(XLA_FFI_CallFrame *cf) {
    XLA_FFI_Error *done;
    if (prologue(cf, (const void *)ltc_backward, &done)) return done;
    const XLA_FFI_Api *api = cf->api;
    char err[1024];
    ltc_attrs a;
    kncp_buf grads[KNCP_NUM_PARAMS];
    XLA_FFI_Buffer *args[8], *rets[4];
    static const XLA_FFI_DataType in_types[8] = {S32, F32, F32, F32, F32, F32, F32, F32},
                                  out_types[4] = {F32, F32, F32, F32};
    inputs in;
    const char *bad = read_ltc_attrs(&cf->attrs, &a, 0);
    if (!bad) bad = buffers(cf->args.size, cf->args.types, cf->args.args, 0, 8, in_types, args);
    if (!bad) bad = buffers(cf->rets.size, cf->rets.types, cf->rets.rets, 1, 4, out_types, rets);
    if (!bad) bad = check_inputs(a.cell.units, a.has_ts, args + 3, &in, err, sizeof err);
    if (!bad && count(rets[0]) != count(args[6])) bad = "kerasncp: the parameters' gradient has the wrong size";
    if (!bad) bad = place_params(&a, args[6], args[7], rets[0], grads);
    if (!bad && count(args[2]) != in.batch * a.cell.units) bad = "kerasncp: the state's gradient has the wrong size";
    if (bad) return error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, bad);
    uint64_t tape = store_pop(*(const int32_t *)args[0]->data);
    if (!tape) { /* gone: the forward pass again */
        ltc_pass job = {&a, &in};
        if (rerun(count(args[1]), count(args[2]), ltc_rerun, &job, &tape, err, sizeof err) != 0)
            return error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, err);
    }
    /* Parameters the cell has but nobody trains (none today) get zeros. */
    memset(rets[0]->data, 0, (size_t)count(rets[0]) * sizeof(float));
    int32_t rc = ltc_backward(tape, buf(args[1]), buf(args[2]), grads, buf(rets[1]), buf(rets[2]),
                              a.has_ts ? buf(rets[3]) : none, err, sizeof err);
    free_tape_quietly(tape);
    if (rc != 0) return error(api, XLA_FFI_Error_Code_INVALID_ARGUMENT, err);
    return NULL;
}
