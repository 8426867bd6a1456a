/* The CfC sequence pass as native TensorFlow ops, for the Keras layers on
 * the TensorFlow backend (kerasncp_go.keras, and kerasncp_go.tf's CfC).
 *
 * Built on first use by kerasncp_go.keras._tfop against TensorFlow's C
 * kernel and op API (tensorflow/c/kernels.h, ops.h), which is stable across
 * TensorFlow 2 releases, and loaded with tf.load_op_library. A graph then
 * calls the Go core directly: no tf.numpy_function, so no trip through
 * Python and NumPy per pass (on the README's sine model that trip cost more
 * than the pass itself).
 *
 * KncpCfcForward runs a whole sequence: the Keras weights (in the cell's
 * weight order) are packed into the Go model's flat parameter table over a
 * copy of `base` (which holds the masks), each one either copied or, for a
 * Keras kernel (in, out) that the table holds as (out, in), transposed.
 * When `keep` is set the Go tape waits in the store of _hostops.h for
 * KncpCfcBackward, which finds it by the id the forward op returns.
 *
 * The library's functions come from kncp_tfop_init (addresses the Python
 * side takes from the loaded libkerasncp), so this file needs TensorFlow's
 * headers only. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ops.h names these as C++ does; C needs the typedefs first. */
typedef struct TF_OpDefinitionBuilder TF_OpDefinitionBuilder;
typedef struct TF_ShapeInferenceContext TF_ShapeInferenceContext;
typedef struct TF_ShapeHandle TF_ShapeHandle;
typedef struct TF_DimensionHandle TF_DimensionHandle;

#include "tensorflow/c/kernels.h"
#include "tensorflow/c/ops.h"
#include "tensorflow/c/tf_status.h"
#include "tensorflow/c/tf_tensor.h"

/* The library's functions, the tape store (_hostops.h). */
#include "_hostops.h"

/* Sets the library functions (see host_init); returns 1 when none is NULL. */
int kncp_tfop_init(void *const *functions) { return host_init(functions); }

/* Tapes kept for a backward pass that has not run yet. */
int64_t kncp_tfop_live_tapes(void) { return store_live(); }

/* Starts the dropout seeds at s (see host_seed). */
void kncp_tfop_seed(uint64_t s) { host_seed(s); }

/* ---- Kernels ------------------------------------------------------------ */

/* A kernel's attributes: the model, how each Keras weight lies in the
 * table, and the pass's options. */
typedef struct {
    int64_t model, out, cell_out, state, n;
    int64_t *offsets, *rows, *cols, *trans;
    TF_Bool all_steps, training, keep, has_ts;
} attrs;

static int64_t *int_list(TF_OpKernelConstruction *c, const char *name, int64_t want, TF_Status *st) {
    int32_t size = 0, total = 0;
    TF_OpKernelConstruction_GetAttrSize(c, name, &size, &total, st);
    if (TF_GetCode(st) != TF_OK) return NULL;
    if (size != want) {
        char msg[160];
        snprintf(msg, sizeof msg, "kerasncp: attribute %s has %d values, want %lld", name, (int)size,
                 (long long)want);
        TF_SetStatus(st, TF_INVALID_ARGUMENT, msg);
        return NULL;
    }
    int64_t *v = calloc((size_t)(want > 0 ? want : 1), sizeof *v);
    if (!v) {
        TF_SetStatus(st, TF_RESOURCE_EXHAUSTED, "kerasncp: out of memory");
        return NULL;
    }
    TF_OpKernelConstruction_GetAttrInt64List(c, name, v, (int)want, st);
    return v;
}

static void delete_attrs(void *p) {
    attrs *a = p;
    if (!a) return;
    free(a->offsets);
    free(a->rows);
    free(a->cols);
    free(a->trans);
    free(a);
}

static void *create_attrs(TF_OpKernelConstruction *c) {
    TF_Status *st = TF_NewStatus();
    attrs *a = calloc(1, sizeof *a);
    if (!a) {
        TF_SetStatus(st, TF_RESOURCE_EXHAUSTED, "kerasncp: out of memory");
        goto fail;
    }
    TF_OpKernelConstruction_GetAttrInt64(c, "model", &a->model, st);
    if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(c, "out", &a->out, st);
    if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(c, "cell_out", &a->cell_out, st);
    if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(c, "state", &a->state, st);
    if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(c, "N", &a->n, st);
    if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrBool(c, "all_steps", &a->all_steps, st);
    if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrBool(c, "training", &a->training, st);
    if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrBool(c, "keep", &a->keep, st);
    if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrBool(c, "has_ts", &a->has_ts, st);
    if (TF_GetCode(st) != TF_OK) goto fail;
    if (!(a->offsets = int_list(c, "offsets", a->n, st))) goto fail;
    if (!(a->rows = int_list(c, "rows", a->n, st))) goto fail;
    if (!(a->cols = int_list(c, "cols", a->n, st))) goto fail;
    if (!(a->trans = int_list(c, "trans", a->n, st))) goto fail;
    TF_DeleteStatus(st);
    return a;
fail:
    TF_OpKernelConstruction_Failure(c, st);
    TF_DeleteStatus(st);
    delete_attrs(a);
    return NULL;
}

static void fail(TF_OpKernelContext *ctx, TF_Code code, const char *msg) {
    TF_Status *st = TF_NewStatus();
    TF_SetStatus(st, code, msg);
    TF_OpKernelContext_Failure(ctx, st);
    TF_DeleteStatus(st);
}

static kncp_buf buf_of(TF_Tensor *t) {
    kncp_buf b = {TF_TensorData(t), TF_TensorElementCount(t)};
    return b;
}

/* The inputs both ops share, from input index `first` on: x, h0, ts, base,
 * params (N). */
typedef struct {
    TF_Tensor *x, *h0, *ts, *base;
    TF_Tensor **params;
    int64_t batch, steps;
} inputs;

static void release_inputs(inputs *in, int64_t n) {
    if (in->x) TF_DeleteTensor(in->x);
    if (in->h0) TF_DeleteTensor(in->h0);
    if (in->ts) TF_DeleteTensor(in->ts);
    if (in->base) TF_DeleteTensor(in->base);
    if (in->params) {
        for (int64_t i = 0; i < n; i++)
            if (in->params[i]) TF_DeleteTensor(in->params[i]);
        free(in->params);
    }
}

/* Reads and checks the shared inputs; 0 on failure (reported). */
static int read_inputs(TF_OpKernelContext *ctx, const attrs *a, int first, inputs *in) {
    TF_Status *st = TF_NewStatus();
    char msg[256];
    memset(in, 0, sizeof *in);
    in->params = calloc((size_t)(a->n > 0 ? a->n : 1), sizeof *in->params);
    if (!in->params) {
        TF_DeleteStatus(st);
        fail(ctx, TF_RESOURCE_EXHAUSTED, "kerasncp: out of memory");
        return 0;
    }
    TF_GetInput(ctx, first, &in->x, st);
    if (TF_GetCode(st) == TF_OK) TF_GetInput(ctx, first + 1, &in->h0, st);
    if (TF_GetCode(st) == TF_OK) TF_GetInput(ctx, first + 2, &in->ts, st);
    if (TF_GetCode(st) == TF_OK) TF_GetInput(ctx, first + 3, &in->base, st);
    for (int64_t i = 0; i < a->n && TF_GetCode(st) == TF_OK; i++) TF_GetInput(ctx, first + 4 + (int)i, &in->params[i], st);
    if (TF_GetCode(st) != TF_OK) {
        TF_OpKernelContext_Failure(ctx, st);
        TF_DeleteStatus(st);
        return 0;
    }
    TF_DeleteStatus(st);
    if (TF_NumDims(in->x) != 3) {
        fail(ctx, TF_INVALID_ARGUMENT, "kerasncp: x must have shape (batch, steps, input_size)");
        return 0;
    }
    in->batch = TF_Dim(in->x, 0);
    in->steps = TF_Dim(in->x, 1);
    if (TF_TensorElementCount(in->h0) != in->batch * a->state) {
        snprintf(msg, sizeof msg, "kerasncp: the initial state must have shape (%lld, %lld)", (long long)in->batch,
                 (long long)a->state);
        fail(ctx, TF_INVALID_ARGUMENT, msg);
        return 0;
    }
    if (a->has_ts && TF_TensorElementCount(in->ts) != in->batch * in->steps) {
        snprintf(msg, sizeof msg, "kerasncp: the elapsed times must have shape (%lld, %lld)", (long long)in->batch,
                 (long long)in->steps);
        fail(ctx, TF_INVALID_ARGUMENT, msg);
        return 0;
    }
    int64_t len = TF_TensorElementCount(in->base);
    for (int64_t i = 0; i < a->n; i++) {
        int64_t size = a->rows[i] * a->cols[i];
        if (TF_TensorElementCount(in->params[i]) != size || a->offsets[i] < 0 || a->offsets[i] + size > len) {
            snprintf(msg, sizeof msg, "kerasncp: weight %lld has %lld values, want %lld", (long long)i,
                     (long long)TF_TensorElementCount(in->params[i]), (long long)size);
            fail(ctx, TF_INVALID_ARGUMENT, msg);
            return 0;
        }
    }
    return 1;
}

/* base with the Keras weights written over it: the Go table (malloc'd). */
static float *pack(const attrs *a, const inputs *in) {
    int64_t len = TF_TensorElementCount(in->base);
    float *flat = malloc((size_t)(len > 0 ? len : 1) * sizeof *flat);
    if (!flat) return NULL;
    memcpy(flat, TF_TensorData(in->base), (size_t)len * sizeof *flat);
    for (int64_t i = 0; i < a->n; i++) {
        const float *p = TF_TensorData(in->params[i]);
        float *dst = flat + a->offsets[i];
        int64_t r = a->rows[i], c = a->cols[i];
        if (!a->trans[i]) {
            memcpy(dst, p, (size_t)(r * c) * sizeof *dst);
            continue;
        }
        for (int64_t k = 0; k < r; k++) /* Keras (r, c) into the table's (c, r) */
            for (int64_t j = 0; j < c; j++) dst[j * r + k] = p[k * c + j];
    }
    return flat;
}

static TF_Tensor *output(TF_OpKernelContext *ctx, int index, TF_DataType dt, const int64_t *dims, int nd,
                         size_t elem) {
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)dims[i];
    TF_Status *st = TF_NewStatus();
    TF_Tensor *t = TF_AllocateOutput(ctx, index, dt, dims, nd, n * elem, st);
    if (TF_GetCode(st) != TF_OK) {
        TF_OpKernelContext_Failure(ctx, st);
        if (t) TF_DeleteTensor(t);
        t = NULL;
    }
    TF_DeleteStatus(st);
    return t;
}

/* Runs the forward pass over flat into y and h; a tape handle when keep. */
static int32_t run_forward(const attrs *a, const inputs *in, float *flat, void *y, int64_t ylen, void *h,
                           int keep, uint64_t seed, uint64_t *tape, char *err, size_t errlen) {
    kncp_buf p = {flat, TF_TensorElementCount(in->base)};
    kncp_buf yb = {y, ylen}, hb = {h, in->batch * a->state};
    return cfc_forward((uint64_t)a->model, p, in->batch, in->steps, buf_of(in->x), buf_of(in->h0), none,
                       a->has_ts ? buf_of(in->ts) : none, yb, a->all_steps ? 1 : 0, hb, none,
                       a->training ? 1 : 0, seed, keep ? tape : NULL, err, errlen);
}

static void forward_compute(void *k, TF_OpKernelContext *ctx) {
    const attrs *a = k;
    inputs in;
    char err[1024];
    if (!cfc_forward) {
        fail(ctx, TF_FAILED_PRECONDITION, "kerasncp: the op library was loaded without kncp_tfop_init");
        return;
    }
    if (!read_inputs(ctx, a, 0, &in)) {
        release_inputs(&in, a->n);
        return;
    }
    int64_t ydims[3] = {in.batch, a->all_steps ? in.steps : a->out, a->out};
    int64_t hdims[2] = {in.batch, a->state};
    TF_Tensor *y = output(ctx, 0, TF_FLOAT, ydims, a->all_steps ? 3 : 2, sizeof(float));
    TF_Tensor *h = y ? output(ctx, 1, TF_FLOAT, hdims, 2, sizeof(float)) : NULL;
    TF_Tensor *tid = h ? output(ctx, 2, TF_INT64, NULL, 0, sizeof(int64_t)) : NULL;
    TF_Tensor *sd = tid ? output(ctx, 3, TF_INT64, NULL, 0, sizeof(int64_t)) : NULL;
    float *flat = sd ? pack(a, &in) : NULL;
    if (sd && !flat) fail(ctx, TF_RESOURCE_EXHAUSTED, "kerasncp: out of memory");
    uint64_t seed = 0;
    if (flat && !draw_seed(a->training, &seed)) {
        fail(ctx, TF_INTERNAL, "kerasncp: getrandom failed");
        free(flat);
        flat = NULL;
    }
    if (flat) {
        uint64_t tape = 0;
        /* The cell's outputs are its last layer's units; the layer's, the
         * first `out` of them (the motor neurons): through a scratch. */
        int64_t rows = in.batch * (a->all_steps ? in.steps : 1);
        float *yfull = a->cell_out == a->out ? TF_TensorData(y) : malloc((size_t)(rows * a->cell_out) * sizeof(float));
        int32_t rc = -1;
        if (!yfull) {
            snprintf(err, sizeof err, "kerasncp: out of memory");
        } else {
            rc = run_forward(a, &in, flat, yfull, rows * a->cell_out, TF_TensorData(h), a->keep, seed, &tape, err,
                             sizeof err);
        }
        if (rc == 0 && yfull != TF_TensorData(y)) {
            float *yo = TF_TensorData(y);
            for (int64_t i = 0; i < rows; i++) memcpy(yo + i * a->out, yfull + i * a->cell_out, (size_t)a->out * sizeof(float));
        }
        if (yfull && yfull != TF_TensorData(y)) free(yfull);
        if (rc != 0) {
            fail(ctx, TF_INVALID_ARGUMENT, err);
        } else {
            int64_t id = a->keep ? store_tape((uint64_t)a->model, in.batch, in.steps, tape) : 0;
            *(int64_t *)TF_TensorData(tid) = id;
            *(int64_t *)TF_TensorData(sd) = (int64_t)seed;
        }
        free(flat);
    }
    if (y) TF_DeleteTensor(y);
    if (h) TF_DeleteTensor(h);
    if (tid) TF_DeleteTensor(tid);
    if (sd) TF_DeleteTensor(sd);
    release_inputs(&in, a->n);
}

/* Inputs of the backward op: tape id, seed, gy, gh, then the forward op's. */
static void backward_compute(void *k, TF_OpKernelContext *ctx) {
    const attrs *a = k;
    inputs in;
    char err[1024];
    TF_Status *st = TF_NewStatus();
    TF_Tensor *tid = NULL, *sd = NULL, *gy = NULL, *gh = NULL, *gx = NULL, *gh0 = NULL, *gts = NULL;
    float *flat = NULL, *gflat = NULL, *yscratch = NULL, *hscratch = NULL;
    uint64_t tape = 0;
    if (!cfc_backward) {
        fail(ctx, TF_FAILED_PRECONDITION, "kerasncp: the op library was loaded without kncp_tfop_init");
        TF_DeleteStatus(st);
        return;
    }
    int ok = read_inputs(ctx, a, 4, &in);
    if (ok) {
        TF_GetInput(ctx, 0, &tid, st);
        if (TF_GetCode(st) == TF_OK) TF_GetInput(ctx, 1, &sd, st);
        if (TF_GetCode(st) == TF_OK) TF_GetInput(ctx, 2, &gy, st);
        if (TF_GetCode(st) == TF_OK) TF_GetInput(ctx, 3, &gh, st);
        if (TF_GetCode(st) != TF_OK) {
            TF_OpKernelContext_Failure(ctx, st);
            ok = 0;
        }
    }
    if (ok) {
        int64_t xdims[3] = {in.batch, in.steps, TF_Dim(in.x, 2)};
        int64_t hdims[2] = {in.batch, a->state};
        int64_t tdims[2] = {in.batch, in.steps};
        int64_t zero[1] = {0};
        gx = output(ctx, 0, TF_FLOAT, xdims, 3, sizeof(float));
        gh0 = gx ? output(ctx, 1, TF_FLOAT, hdims, 2, sizeof(float)) : NULL;
        gts = gh0 ? (a->has_ts ? output(ctx, 2, TF_FLOAT, tdims, 2, sizeof(float))
                               : output(ctx, 2, TF_FLOAT, zero, 1, sizeof(float)))
                  : NULL;
        ok = gts != NULL;
    }
    int64_t len = ok ? TF_TensorElementCount(in.base) : 0;
    if (ok) {
        gflat = malloc((size_t)(len > 0 ? len : 1) * sizeof *gflat);
        if (!gflat) {
            fail(ctx, TF_RESOURCE_EXHAUSTED, "kerasncp: out of memory");
            ok = 0;
        }
    }
    if (ok) {
        tape = store_pop(*(int64_t *)TF_TensorData(tid));
        if (!tape) { /* gone: the forward pass again, with its dropout seed */
            int64_t ylen = in.batch * (a->all_steps ? in.steps : 1) * a->cell_out;
            flat = pack(a, &in);
            yscratch = malloc((size_t)(ylen > 0 ? ylen : 1) * sizeof(float));
            hscratch = malloc((size_t)(in.batch * a->state > 0 ? in.batch * a->state : 1) * sizeof(float));
            if (!flat || !yscratch || !hscratch) {
                fail(ctx, TF_RESOURCE_EXHAUSTED, "kerasncp: out of memory");
                ok = 0;
            } else if (run_forward(a, &in, flat, yscratch, ylen, hscratch, 1, (uint64_t)*(int64_t *)TF_TensorData(sd),
                                   &tape, err, sizeof err) != 0) {
                fail(ctx, TF_INVALID_ARGUMENT, err);
                ok = 0;
            }
        }
    }
    float *gyfull = NULL;
    kncp_buf gyb = ok ? buf_of(gy) : none;
    if (ok && a->cell_out != a->out) { /* the units past the motor neurons get no gradient from y */
        int64_t rows = in.batch * (a->all_steps ? in.steps : 1);
        gyfull = calloc((size_t)(rows * a->cell_out > 0 ? rows * a->cell_out : 1), sizeof(float));
        if (!gyfull) {
            fail(ctx, TF_RESOURCE_EXHAUSTED, "kerasncp: out of memory");
            ok = 0;
        } else {
            const float *g = TF_TensorData(gy);
            for (int64_t i = 0; i < rows; i++) memcpy(gyfull + i * a->cell_out, g + i * a->out, (size_t)a->out * sizeof(float));
            gyb.data = gyfull;
            gyb.len = rows * a->cell_out;
        }
    }
    if (ok) {
        kncp_buf gp = {gflat, len};
        int32_t rc = cfc_backward(tape, gyb, buf_of(gh), none, gp, buf_of(gx), buf_of(gh0), none,
                                  a->has_ts ? buf_of(gts) : none, err, sizeof err);
        if (rc != 0) {
            fail(ctx, TF_INVALID_ARGUMENT, err);
            ok = 0;
        }
    }
    if (tape) free_tape_quietly(tape);
    for (int64_t i = 0; ok && i < a->n; i++) { /* the table's gradients back into Keras's layout */
        int64_t r = a->rows[i], c = a->cols[i];
        int nd = TF_NumDims(in.params[i]);
        int64_t dims[8];
        if (nd > 8) {
            fail(ctx, TF_INVALID_ARGUMENT, "kerasncp: a weight has more than 8 dimensions");
            ok = 0;
            break;
        }
        for (int d = 0; d < nd; d++) dims[d] = TF_Dim(in.params[i], d);
        TF_Tensor *g = output(ctx, 3 + (int)i, TF_FLOAT, dims, nd, sizeof(float));
        if (!g) {
            ok = 0;
            break;
        }
        float *dst = TF_TensorData(g);
        const float *src = gflat + a->offsets[i];
        if (!a->trans[i]) {
            memcpy(dst, src, (size_t)(r * c) * sizeof *dst);
        } else {
            for (int64_t kk = 0; kk < r; kk++)
                for (int64_t j = 0; j < c; j++) dst[kk * c + j] = src[j * r + kk];
        }
        TF_DeleteTensor(g);
    }
    free(flat);
    free(gflat);
    free(gyfull);
    free(yscratch);
    free(hscratch);
    if (tid) TF_DeleteTensor(tid);
    if (sd) TF_DeleteTensor(sd);
    if (gy) TF_DeleteTensor(gy);
    if (gh) TF_DeleteTensor(gh);
    if (gx) TF_DeleteTensor(gx);
    if (gh0) TF_DeleteTensor(gh0);
    if (gts) TF_DeleteTensor(gts);
    release_inputs(&in, a->n);
    TF_DeleteStatus(st);
}

/* ---- Registration ------------------------------------------------------- */

static void unknown_shapes(TF_ShapeInferenceContext *ctx, TF_Status *st) {
    TF_ShapeInferenceContextSetUnknownShape(ctx, st); /* the Python side sets the static shapes */
}

static void add_common(TF_OpDefinitionBuilder *b) {
    TF_OpDefinitionBuilderAddInput(b, "x: float");
    TF_OpDefinitionBuilderAddInput(b, "h0: float");
    TF_OpDefinitionBuilderAddInput(b, "ts: float");
    TF_OpDefinitionBuilderAddInput(b, "base: float");
    TF_OpDefinitionBuilderAddInput(b, "params: N * float");
    TF_OpDefinitionBuilderAddAttr(b, "N: int >= 1");
    TF_OpDefinitionBuilderAddAttr(b, "model: int");
    TF_OpDefinitionBuilderAddAttr(b, "offsets: list(int)");
    TF_OpDefinitionBuilderAddAttr(b, "rows: list(int)");
    TF_OpDefinitionBuilderAddAttr(b, "cols: list(int)");
    TF_OpDefinitionBuilderAddAttr(b, "trans: list(int)");
    TF_OpDefinitionBuilderAddAttr(b, "out: int");
    TF_OpDefinitionBuilderAddAttr(b, "cell_out: int");
    TF_OpDefinitionBuilderAddAttr(b, "state: int");
    TF_OpDefinitionBuilderAddAttr(b, "all_steps: bool");
    TF_OpDefinitionBuilderAddAttr(b, "training: bool");
    TF_OpDefinitionBuilderAddAttr(b, "keep: bool");
    TF_OpDefinitionBuilderAddAttr(b, "has_ts: bool");
    TF_OpDefinitionBuilderSetIsStateful(b, 1); /* dropout draws and the tape store */
    TF_OpDefinitionBuilderSetShapeInferenceFunction(b, unknown_shapes);
}

__attribute__((constructor)) static void register_ops(void) {
    TF_Status *st = TF_NewStatus();
    TF_OpDefinitionBuilder *f = TF_NewOpDefinitionBuilder("KncpCfcForward");
    add_common(f);
    TF_OpDefinitionBuilderAddOutput(f, "y: float");
    TF_OpDefinitionBuilderAddOutput(f, "h: float");
    TF_OpDefinitionBuilderAddOutput(f, "tape: int64");
    TF_OpDefinitionBuilderAddOutput(f, "seed: int64");
    TF_RegisterOpDefinition(f, st);

    TF_OpDefinitionBuilder *b = TF_NewOpDefinitionBuilder("KncpCfcBackward");
    TF_OpDefinitionBuilderAddInput(b, "tape: int64");
    TF_OpDefinitionBuilderAddInput(b, "seed: int64");
    TF_OpDefinitionBuilderAddInput(b, "gy: float");
    TF_OpDefinitionBuilderAddInput(b, "gh: float");
    add_common(b);
    TF_OpDefinitionBuilderAddOutput(b, "gx: float");
    TF_OpDefinitionBuilderAddOutput(b, "gh0: float");
    TF_OpDefinitionBuilderAddOutput(b, "gts: float");
    TF_OpDefinitionBuilderAddOutput(b, "gparams: N * float");
    TF_RegisterOpDefinition(b, st);

    TF_KernelBuilder *kf = TF_NewKernelBuilder("KncpCfcForward", "CPU", create_attrs, forward_compute, delete_attrs);
    TF_RegisterKernelBuilder("KncpCfcForward", kf, st);
    TF_KernelBuilder *kb = TF_NewKernelBuilder("KncpCfcBackward", "CPU", create_attrs, backward_compute, delete_attrs);
    TF_RegisterKernelBuilder("KncpCfcBackward", kb, st);
    TF_DeleteStatus(st);
}
