/* net.c - building a Caffe graph into a planned, runnable network.
 *
 * The build has four passes, each a loop over the layer list:
 *   1. parse: every prototxt layer becomes a layer record with its parameters,
 *      its inputs resolved to values (single-assignment: an in-place layer
 *      makes a new value of the same name), output shapes inferred, weights
 *      copied from the caffemodel after their shapes are checked;
 *   2. fold: BatchNorm/Scale into the convolution before them, BatchNorm+Scale
 *      pairs into one affine op, ReLU/ReLU6 into the op before them;
 *   3. plan: liveness of every value, then one arena whose slices are reused
 *      once a value is dead (in-place where the op allows it);
 *   4. prepare: convolution plans (packed weights), scratch, constant
 *      PriorBox outputs (they depend on shapes only).
 * Forward is then one switch per layer with no allocation.
 */
#include "core/clock.h"
#include "nn/net.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/caffemodel.h"
#include "io/prototxt.h"
#include "nn/ops/ops.h"

#define MAX_IO 16


typedef struct {
    char *name;
    fm_shape shape;
    int producer;   /* layer index, -1 for a net input */
    int consumers;  /* in the graph as written */
    int last_use;   /* last layer (after folding) that reads it, -1 none */
    int is_output;
    int buffer;     /* planned buffer, -1 for constants */
    float *constant; /* owned data of a constant value (PriorBox) */
    fm_tensor t;
} value;

typedef struct {
    fm_layer_kind kind;
    char *name;
    char *type; /* as written; after a fold, e.g. "Convolution+BatchNorm+Scale+ReLU" */
    int line;
    int nin;
    int in[MAX_IO];
    int out;
    int skip;     /* folded into another layer */
    int constant; /* output computed once at build */
    fm_activation act;
    /* parameters */
    fm_conv_param conv;
    fm_pool_param pool;
    fm_eltwise_param eltwise;
    float coeff[MAX_IO];
    int axis, end_axis;
    int dims[FM_MAX_DIMS], ndims;
    fm_normalize_param norm;
    fm_priorbox_param prior;
    fm_detout_param det;
    fm_ip_param ip;
    /* weights (owned) */
    float *w;     /* conv weights; affine scale; normalize scale */
    float *b;     /* bias / shift */
    size_t nw, nb;
    fm_conv_plan *plan;
    double ms;
} layer;

struct fm_net {
    layer *layers;
    int nlayers, cap_layers;
    value *values;
    int nvalues, cap_values;
    int ninputs;
    int inputs[MAX_IO];
    int noutputs;
    int outputs[MAX_IO];
    float *arena;
    size_t arena_floats;
    void *scratch;
    size_t scratch_bytes;
    size_t weight_bytes;
    fm_pool *pool;
    int own_pool;
    int reference;
    int profiling;
    fm_net_opts opts;
    char source[256]; /* prototxt path, for messages */
};

/* ---- small helpers ---------------------------------------------------- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static fm_status nomem(fm_err *err)
{
    return fm_err_set(err, FM_ERR_NOMEM, "out of memory while building the network");
}

static int add_value(fm_net *net, const char *name, int producer, fm_err *err)
{
    if (net->nvalues == net->cap_values) {
        int cap = net->cap_values ? net->cap_values * 2 : 64;
        value *v = realloc(net->values, (size_t)cap * sizeof *v);
        if (!v) {
            nomem(err);
            return -1;
        }
        net->values = v;
        net->cap_values = cap;
    }
    value *v = &net->values[net->nvalues];
    memset(v, 0, sizeof *v);
    v->name = dup_str(name);
    if (!v->name) {
        nomem(err);
        return -1;
    }
    v->producer = producer;
    v->last_use = -1;
    v->buffer = -1;
    return net->nvalues++;
}

/* The latest value with this name, or -1. */
static int find_value(const fm_net *net, const char *name)
{
    for (int i = net->nvalues - 1; i >= 0; i--)
        if (strcmp(net->values[i].name, name) == 0)
            return i;
    return -1;
}

/* "deploy.prototxt:12:3: layer 'conv1' (Convolution): " */
static fm_status layer_err(fm_err *err, fm_status st, const fm_ptxt_node *node, const char *lname,
                           const char *ltype, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

#include <stdarg.h>
static fm_status layer_err(fm_err *err, fm_status st, const fm_ptxt_node *node, const char *lname,
                           const char *ltype, const char *fmt, ...)
{
    if (!err)
        return st;
    char where[300], what[400];
    fm_ptxt_where(node, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fm_err_set(err, st, "%s: layer '%s' (%s): %s", where, lname, ltype, what);
}

/* Reads a repeated integer field (e.g. kernel_size) into out[0..max); returns the count or -1. */
static int get_ints(const fm_ptxt_node *msg, const char *name, long long *out, int max, fm_err *err)
{
    int n = 0;
    for (const fm_ptxt_node *f = fm_ptxt_get(msg, name); f; f = fm_ptxt_next_named(f)) {
        if (n == max) {
            char where[300];
            fm_err_set(err, FM_ERR_PARSE, "%s: more than %d values for '%s'",
                       fm_ptxt_where(f, where, sizeof where), max, name);
            return -1;
        }
        if (fm_ptxt_int(f, &out[n], err) != FM_OK)
            return -1;
        n++;
    }
    return n;
}

static int get_floats(const fm_ptxt_node *msg, const char *name, float *out, int max, fm_err *err)
{
    int n = 0;
    for (const fm_ptxt_node *f = fm_ptxt_get(msg, name); f; f = fm_ptxt_next_named(f)) {
        if (n == max) {
            char where[300];
            fm_err_set(err, FM_ERR_PARSE, "%s: more than %d values for '%s'",
                       fm_ptxt_where(f, where, sizeof where), max, name);
            return -1;
        }
        double d;
        if (fm_ptxt_float(f, &d, err) != FM_OK)
            return -1;
        out[n++] = (float)d;
    }
    return n;
}

static int in_range_int(long long v, long long lo, long long hi)
{
    return v >= lo && v <= hi;
}

/* kernel/stride/pad/dilation: "name: v" (1 or 2 values) or name_h/name_w. */
static fm_status get_hw(const fm_ptxt_node *msg, const char *base, long long def, long long lo,
                        int *h, int *w, const fm_ptxt_node *lnode, const char *lname,
                        const char *ltype, fm_err *err)
{
    long long v[2];
    int n = get_ints(msg, base, v, 2, err);
    if (n < 0)
        return err ? err->status : FM_ERR_PARSE;
    char hname[64], wname[64];
    snprintf(hname, sizeof hname, "%s_h", base);
    snprintf(wname, sizeof wname, "%s_w", base);
    if (strcmp(base, "kernel_size") == 0) {
        snprintf(hname, sizeof hname, "kernel_h");
        snprintf(wname, sizeof wname, "kernel_w");
    }
    long long hh = n >= 1 ? v[0] : def, ww = n == 2 ? v[1] : (n == 1 ? v[0] : def);
    fm_status st;
    if ((st = fm_ptxt_get_int(msg, hname, hh, &hh, err)) != FM_OK ||
        (st = fm_ptxt_get_int(msg, wname, ww, &ww, err)) != FM_OK)
        return st;
    if (!in_range_int(hh, lo, 4096) || !in_range_int(ww, lo, 4096))
        return layer_err(err, FM_ERR_PARSE, lnode, lname, ltype,
                         "%s %lldx%lld out of range (expected %lld..4096)", base, hh, ww, lo);
    *h = (int)hh;
    *w = (int)ww;
    return FM_OK;
}

/* An enum field given as an identifier or a number. */
static fm_status get_enum(const fm_ptxt_node *msg, const char *name, const char *const *names,
                          int nnames, int def, int *out, fm_err *err)
{
    const fm_ptxt_node *f = fm_ptxt_get(msg, name);
    if (!f) {
        *out = def;
        return FM_OK;
    }
    char where[300];
    if (f->value && !f->is_string) {
        for (int i = 0; i < nnames; i++) {
            if (names[i] && strcmp(f->value, names[i]) == 0) {
                *out = i;
                return FM_OK;
            }
        }
        long long v;
        fm_err tmp = {0};
        if (fm_ptxt_int(f, &v, &tmp) == FM_OK && v >= 0 && v < nnames && names[v]) {
            *out = (int)v;
            return FM_OK;
        }
    }
    return fm_err_set(err, FM_ERR_PARSE, "%s: unknown value '%s' for '%s'",
                      fm_ptxt_where(f, where, sizeof where), f->value ? f->value : "{...}", name);
}

/* Checks that blob i of a caffemodel layer has the expected shape (or the same
 * axes padded with leading 1s, as legacy 4-D biases are stored). */
static fm_status check_blob(const fm_caffe_layer *cl, int i, const fm_shape *want, const char *what,
                            const char *model_path, fm_err *err)
{
    char a[64], b[64];
    if (i >= cl->nblobs)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "%s: layer '%s' has %d weight blobs, blob %d (%s) is missing", model_path,
                          cl->name, cl->nblobs, i, what);
    const fm_shape *got = &cl->blobs[i].shape;
    int ok = fm_shape_eq(got, want);
    if (!ok && cl->blobs[i].count == fm_shape_count(want)) {
        /* drop leading 1s of both and compare again */
        int ga = 0, wa = 0;
        while (ga < got->ndim - 1 && got->d[ga] == 1)
            ga++;
        while (wa < want->ndim - 1 && want->d[wa] == 1)
            wa++;
        if (got->ndim - ga == want->ndim - wa) {
            ok = 1;
            for (int k = 0; k < want->ndim - wa; k++)
                if (got->d[ga + k] != want->d[wa + k])
                    ok = 0;
        }
    }
    if (!ok)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "%s: layer '%s' blob %d (%s) has shape %s, the prototxt implies %s",
                          model_path, cl->name, i, what, fm_shape_str(got, a, sizeof a),
                          fm_shape_str(want, b, sizeof b));
    return FM_OK;
}

/* Takes blob i's data from the caffemodel (which fm_net_load owns and frees right after
 * building) instead of copying it, so a model's weights are in memory once, not twice. */
static float *take_floats(const fm_caffe_layer *cl, int i, size_t n)
{
    fm_caffe_blob *b = (fm_caffe_blob *)&cl->blobs[i];
    if (!b->data || b->count != n)
        return NULL;
    float *d = b->data;
    b->data = NULL;
    b->count = 0;
    return d;
}

static float *copy_floats(const float *src, size_t n)
{
    float *d = malloc(n ? n * sizeof *d : 1);
    if (d && n)
        memcpy(d, src, n * sizeof *d);
    return d;
}

/* ---- pass 1: parse ------------------------------------------------------ */

typedef struct {
    const fm_ptxt_node *node;
    const char *name;
    const char *type;
    const fm_caffemodel *model;
    const char *model_path;
} build_ctx;

static const fm_caffe_layer *need_weights(const build_ctx *c, fm_err *err)
{
    const fm_caffe_layer *cl = fm_caffemodel_find(c->model, c->name);
    if (!cl)
        layer_err(err, FM_ERR_FORMAT, c->node, c->name, c->type, "no weights for it in %s",
                  c->model_path);
    return cl;
}

static fm_status parse_conv(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "convolution_param");
    if (!p)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "missing convolution_param");
    fm_conv_param *cp = &L->conv;
    long long v;
    fm_status st;
    if ((st = fm_ptxt_get_int(p, "num_output", 0, &v, err)) != FM_OK)
        return st;
    if (!in_range_int(v, 1, 1 << 20))
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "num_output %lld out of range (expected 1..1048576)", v);
    cp->num_output = (int)v;
    if ((st = fm_ptxt_get_int(p, "group", 1, &v, err)) != FM_OK)
        return st;
    if (!in_range_int(v, 1, 1 << 20))
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type, "group %lld out of range", v);
    cp->group = (int)v;
    int bias;
    if ((st = fm_ptxt_get_bool(p, "bias_term", 1, &bias, err)) != FM_OK)
        return st;
    cp->bias_term = bias;
    if ((st = get_hw(p, "kernel_size", 0, 1, &cp->kernel_h, &cp->kernel_w, c->node, c->name,
                     c->type, err)) != FM_OK ||
        (st = get_hw(p, "stride", 1, 1, &cp->stride_h, &cp->stride_w, c->node, c->name, c->type,
                     err)) != FM_OK ||
        (st = get_hw(p, "pad", 0, 0, &cp->pad_h, &cp->pad_w, c->node, c->name, c->type, err)) !=
            FM_OK ||
        (st = get_hw(p, "dilation", 1, 1, &cp->dilation_h, &cp->dilation_w, c->node, c->name,
                     c->type, err)) != FM_OK)
        return st;
    const value *in = &net->values[L->in[0]];
    fm_shape out;
    if ((st = fm_conv_shape(cp, &in->shape, &out, err)) != FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    net->values[L->out].shape = out;

    const fm_caffe_layer *cl = need_weights(c, err);
    if (!cl)
        return FM_ERR_FORMAT;
    fm_shape ws = fm_conv_weight_shape(cp, in->shape.d[1]);
    if ((st = check_blob(cl, 0, &ws, "weights", c->model_path, err)) != FM_OK)
        return st;
    fm_shape bs = fm_shape1(cp->num_output);
    if (cp->bias_term && (st = check_blob(cl, 1, &bs, "bias", c->model_path, err)) != FM_OK)
        return st;
    L->nw = fm_shape_count(&ws);
    L->nb = (size_t)cp->num_output;
    L->w = take_floats(cl, 0, L->nw);
    L->b = calloc(L->nb, sizeof *L->b);
    if (!L->w)
        return layer_err(err, FM_ERR_FORMAT, c->node, c->name, c->type,
                         "its weights in %s are used by another layer of the same name",
                         c->model_path);
    if (!L->b)
        return nomem(err);
    if (cp->bias_term)
        memcpy(L->b, cl->blobs[1].data, L->nb * sizeof *L->b);
    /* The bias is always materialised so folding can add to it. */
    cp->bias_term = 1;
    return FM_OK;
}

static int channels_of(const fm_shape *s)
{
    return s->ndim >= 2 ? s->d[1] : s->d[0];
}

static fm_status parse_batchnorm(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "batch_norm_param");
    double eps = 1e-5;
    fm_status st;
    if (p && (st = fm_ptxt_get_float(p, "eps", 1e-5, &eps, err)) != FM_OK)
        return st;
    const value *in = &net->values[L->in[0]];
    int C = channels_of(&in->shape);
    if ((st = fm_affine_shape(&in->shape, C, &net->values[L->out].shape, err)) != FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    const fm_caffe_layer *cl = need_weights(c, err);
    if (!cl)
        return FM_ERR_FORMAT;
    fm_shape cs = fm_shape1(C), one = fm_shape1(1);
    if ((st = check_blob(cl, 0, &cs, "mean", c->model_path, err)) != FM_OK ||
        (st = check_blob(cl, 1, &cs, "variance", c->model_path, err)) != FM_OK)
        return st;
    float sf = 1.0f;
    if (cl->nblobs >= 3) {
        if ((st = check_blob(cl, 2, &one, "scale factor", c->model_path, err)) != FM_OK)
            return st;
        sf = cl->blobs[2].data[0];
    }
    L->kind = FM_LAYER_AFFINE;
    L->nw = L->nb = (size_t)C;
    L->w = malloc((size_t)C * sizeof *L->w);
    L->b = malloc((size_t)C * sizeof *L->b);
    if (!L->w || !L->b)
        return nomem(err);
    fm_batchnorm_coeffs(cl->blobs[0].data, cl->blobs[1].data, sf, (float)eps, C, L->w, L->b);
    return FM_OK;
}

static fm_status parse_scale(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    if (L->nin != 1)
        return layer_err(err, FM_ERR_UNSUPPORTED, c->node, c->name, c->type,
                         "a Scale with %d bottoms is not supported (expected 1)", L->nin);
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "scale_param");
    int bias = 0;
    long long axis = 1, num_axes = 1;
    fm_status st;
    if (p && ((st = fm_ptxt_get_bool(p, "bias_term", 0, &bias, err)) != FM_OK ||
              (st = fm_ptxt_get_int(p, "axis", 1, &axis, err)) != FM_OK ||
              (st = fm_ptxt_get_int(p, "num_axes", 1, &num_axes, err)) != FM_OK))
        return st;
    if (axis != 1 || num_axes != 1)
        return layer_err(err, FM_ERR_UNSUPPORTED, c->node, c->name, c->type,
                         "only axis 1 with num_axes 1 is supported (got axis %lld, num_axes %lld)",
                         axis, num_axes);
    const value *in = &net->values[L->in[0]];
    int C = channels_of(&in->shape);
    if ((st = fm_affine_shape(&in->shape, C, &net->values[L->out].shape, err)) != FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    const fm_caffe_layer *cl = need_weights(c, err);
    if (!cl)
        return FM_ERR_FORMAT;
    fm_shape cs = fm_shape1(C);
    if ((st = check_blob(cl, 0, &cs, "scale", c->model_path, err)) != FM_OK)
        return st;
    if (bias && (st = check_blob(cl, 1, &cs, "bias", c->model_path, err)) != FM_OK)
        return st;
    L->kind = FM_LAYER_AFFINE;
    L->nw = L->nb = (size_t)C;
    L->w = copy_floats(cl->blobs[0].data, (size_t)C);
    L->b = calloc((size_t)C, sizeof *L->b);
    if (!L->w || !L->b)
        return nomem(err);
    if (bias)
        memcpy(L->b, cl->blobs[1].data, (size_t)C * sizeof *L->b);
    return FM_OK;
}

static fm_status parse_pool(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "pooling_param");
    fm_pool_param *pp = &L->pool;
    memset(pp, 0, sizeof *pp);
    pp->kernel_h = pp->kernel_w = 1;
    pp->stride_h = pp->stride_w = 1;
    fm_status st;
    if (p) {
        static const char *const methods[] = {"MAX", "AVE", "STOCHASTIC"};
        int m, global;
        if ((st = get_enum(p, "pool", methods, 3, 0, &m, err)) != FM_OK)
            return st;
        if (m == 2)
            return layer_err(err, FM_ERR_UNSUPPORTED, c->node, c->name, c->type,
                             "STOCHASTIC pooling is not supported (expected MAX or AVE)");
        pp->method = m == 0 ? FM_POOL_MAX : FM_POOL_AVE;
        if ((st = fm_ptxt_get_bool(p, "global_pooling", 0, &global, err)) != FM_OK)
            return st;
        pp->global = global;
        static const char *const rounds[] = {"CEIL", "FLOOR"};
        int round;
        if ((st = get_enum(p, "round_mode", rounds, 2, 0, &round, err)) != FM_OK)
            return st;
        if (round != 0)
            return layer_err(err, FM_ERR_UNSUPPORTED, c->node, c->name, c->type,
                             "round_mode FLOOR is not supported (expected CEIL)");
        if (!global) {
            if ((st = get_hw(p, "kernel_size", 0, 1, &pp->kernel_h, &pp->kernel_w, c->node,
                             c->name, c->type, err)) != FM_OK ||
                (st = get_hw(p, "stride", 1, 1, &pp->stride_h, &pp->stride_w, c->node, c->name,
                             c->type, err)) != FM_OK ||
                (st = get_hw(p, "pad", 0, 0, &pp->pad_h, &pp->pad_w, c->node, c->name, c->type,
                             err)) != FM_OK)
                return st;
        }
    } else {
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type, "missing pooling_param");
    }
    if ((st = fm_pool_shape(pp, &net->values[L->in[0]].shape, &net->values[L->out].shape, err)) !=
        FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    return FM_OK;
}

static fm_status parse_eltwise(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "eltwise_param");
    static const char *const ops_names[] = {"PROD", "SUM", "MAX"};
    int op = 1;
    fm_status st;
    int ncoeff = 0;
    if (p) {
        if ((st = get_enum(p, "operation", ops_names, 3, 1, &op, err)) != FM_OK)
            return st;
        ncoeff = get_floats(p, "coeff", L->coeff, MAX_IO, err);
        if (ncoeff < 0)
            return err ? err->status : FM_ERR_PARSE;
    }
    if (ncoeff && (ncoeff != L->nin || op != 1))
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "%d coefficients for %d inputs (coefficients need SUM and one per input)",
                         ncoeff, L->nin);
    if (L->nin < 2)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "needs at least 2 bottoms, has %d", L->nin);
    L->eltwise.op = (fm_eltwise_op)op;
    L->eltwise.ncoeff = ncoeff;
    L->eltwise.coeff = ncoeff ? L->coeff : NULL;
    const fm_shape *shapes[MAX_IO];
    for (int i = 0; i < L->nin; i++)
        shapes[i] = &net->values[L->in[i]].shape;
    if ((st = fm_eltwise_shape(shapes, L->nin, &net->values[L->out].shape, err)) != FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    return FM_OK;
}

static fm_status parse_concat(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "concat_param");
    long long axis = 1;
    fm_status st;
    if (p) {
        long long legacy;
        if ((st = fm_ptxt_get_int(p, "concat_dim", 1, &legacy, err)) != FM_OK ||
            (st = fm_ptxt_get_int(p, "axis", legacy, &axis, err)) != FM_OK)
            return st;
    }
    const fm_shape *shapes[MAX_IO];
    for (int i = 0; i < L->nin; i++)
        shapes[i] = &net->values[L->in[i]].shape;
    int nd = shapes[0]->ndim;
    if (axis < 0)
        axis += nd;
    if (axis < 0 || axis >= nd)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "axis out of range for %d-axis inputs", nd);
    L->axis = (int)axis;
    if ((st = fm_concat_shape(shapes, L->nin, L->axis, &net->values[L->out].shape, err)) != FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    return FM_OK;
}

static fm_status parse_flatten(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "flatten_param");
    long long axis = 1, end = -1;
    fm_status st;
    if (p && ((st = fm_ptxt_get_int(p, "axis", 1, &axis, err)) != FM_OK ||
              (st = fm_ptxt_get_int(p, "end_axis", -1, &end, err)) != FM_OK))
        return st;
    if (!in_range_int(axis, -8, 8) || !in_range_int(end, -8, 8))
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type, "axis out of range");
    L->axis = (int)axis;
    L->end_axis = (int)end;
    if ((st = fm_flatten_shape(&net->values[L->in[0]].shape, L->axis, L->end_axis,
                               &net->values[L->out].shape, err)) != FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    return FM_OK;
}

static fm_status parse_reshape(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "reshape_param");
    const fm_ptxt_node *shape = p ? fm_ptxt_get(p, "shape") : NULL;
    if (!shape)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "missing reshape_param { shape { dim ... } }");
    long long axis = 0, num_axes = -1;
    fm_status st;
    if ((st = fm_ptxt_get_int(p, "axis", 0, &axis, err)) != FM_OK ||
        (st = fm_ptxt_get_int(p, "num_axes", -1, &num_axes, err)) != FM_OK)
        return st;
    if (axis != 0 || num_axes != -1)
        return layer_err(err, FM_ERR_UNSUPPORTED, c->node, c->name, c->type,
                         "only axis 0 with num_axes -1 is supported");
    long long d[FM_MAX_DIMS];
    int n = get_ints(shape, "dim", d, FM_MAX_DIMS, err);
    if (n < 0)
        return err ? err->status : FM_ERR_PARSE;
    for (int i = 0; i < n; i++) {
        if (!in_range_int(d[i], -1, 1 << 30))
            return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                             "dim %lld out of range", d[i]);
        L->dims[i] = (int)d[i];
    }
    L->ndims = n;
    if ((st = fm_reshape_shape(&net->values[L->in[0]].shape, L->dims, L->ndims,
                               &net->values[L->out].shape, err)) != FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    return FM_OK;
}

static fm_status parse_permute(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "permute_param");
    long long o[FM_MAX_DIMS];
    int n = p ? get_ints(p, "order", o, FM_MAX_DIMS, err) : 0;
    if (n < 0)
        return err ? err->status : FM_ERR_PARSE;
    for (int i = 0; i < n; i++) {
        if (!in_range_int(o[i], 0, FM_MAX_DIMS - 1))
            return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                             "order value %lld out of range", o[i]);
        L->dims[i] = (int)o[i];
    }
    L->ndims = n;
    fm_status st;
    if ((st = fm_permute_shape(&net->values[L->in[0]].shape, L->dims, L->ndims,
                               &net->values[L->out].shape, err)) != FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    return FM_OK;
}

static fm_status parse_normalize(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "norm_param");
    int across = 1, shared = 1;
    double eps = 1e-10;
    fm_status st;
    if (p && ((st = fm_ptxt_get_bool(p, "across_spatial", 1, &across, err)) != FM_OK ||
              (st = fm_ptxt_get_bool(p, "channel_shared", 1, &shared, err)) != FM_OK ||
              (st = fm_ptxt_get_float(p, "eps", 1e-10, &eps, err)) != FM_OK))
        return st;
    L->norm.across_spatial = across;
    L->norm.channel_shared = shared;
    L->norm.eps = (float)eps;
    const value *in = &net->values[L->in[0]];
    if (in->shape.ndim != 4)
        return layer_err(err, FM_ERR_SHAPE, c->node, c->name, c->type,
                         "expects a 4-axis input (N, C, H, W)");
    net->values[L->out].shape = in->shape;
    const fm_caffe_layer *cl = need_weights(c, err);
    if (!cl)
        return FM_ERR_FORMAT;
    int C = in->shape.d[1];
    fm_shape ws = fm_shape1(shared ? 1 : C);
    if ((st = check_blob(cl, 0, &ws, "scale", c->model_path, err)) != FM_OK)
        return st;
    L->nw = fm_shape_count(&ws);
    L->w = copy_floats(cl->blobs[0].data, L->nw);
    return L->w ? FM_OK : nomem(err);
}

static fm_status parse_priorbox(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "prior_box_param");
    if (!p)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "missing prior_box_param");
    if (L->nin != 2)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "needs 2 bottoms (feature map, image), has %d", L->nin);
    fm_priorbox_param *pb = &L->prior;
    memset(pb, 0, sizeof *pb);
    fm_status st;
    if ((pb->nmin = get_floats(p, "min_size", pb->min_size, FM_PRIORBOX_MAX, err)) < 0 ||
        (pb->nmax = get_floats(p, "max_size", pb->max_size, FM_PRIORBOX_MAX, err)) < 0 ||
        (pb->naspect = get_floats(p, "aspect_ratio", pb->aspect, FM_PRIORBOX_MAX, err)) < 0 ||
        (pb->nvariance = get_floats(p, "variance", pb->variance, 4, err)) < 0)
        return err ? err->status : FM_ERR_PARSE;
    if (pb->nmin < 1)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type, "needs a min_size");
    if (pb->nmax && pb->nmax != pb->nmin)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "%d max_size values for %d min_size values", pb->nmax, pb->nmin);
    if (pb->nvariance == 0) {
        pb->nvariance = 1;
        pb->variance[0] = 0.1f;
    } else if (pb->nvariance != 1 && pb->nvariance != 4) {
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "%d variance values (expected 1 or 4)", pb->nvariance);
    }
    int flip, clip;
    double off, step, sh, sw;
    long long isz, ih, iw;
    if ((st = fm_ptxt_get_bool(p, "flip", 1, &flip, err)) != FM_OK ||
        /* OpenCV 4.6 defaults clip to true when absent (Caffe: false); we follow OpenCV. */
        (st = fm_ptxt_get_bool(p, "clip", 1, &clip, err)) != FM_OK ||
        (st = fm_ptxt_get_float(p, "offset", 0.5, &off, err)) != FM_OK ||
        (st = fm_ptxt_get_float(p, "step", 0, &step, err)) != FM_OK ||
        (st = fm_ptxt_get_float(p, "step_h", step, &sh, err)) != FM_OK ||
        (st = fm_ptxt_get_float(p, "step_w", step, &sw, err)) != FM_OK ||
        (st = fm_ptxt_get_int(p, "img_size", 0, &isz, err)) != FM_OK ||
        (st = fm_ptxt_get_int(p, "img_h", isz, &ih, err)) != FM_OK ||
        (st = fm_ptxt_get_int(p, "img_w", isz, &iw, err)) != FM_OK)
        return st;
    if (!in_range_int(ih, 0, 1 << 20) || !in_range_int(iw, 0, 1 << 20) || sh < 0 || sw < 0)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "image size or step out of range");
    pb->flip = flip;
    pb->clip = clip;
    pb->offset = (float)off;
    pb->step_h = (float)sh;
    pb->step_w = (float)sw;
    /* OpenCV 4.6 ignores img_size/img_h/img_w and always uses the image input's size;
     * facemask follows OpenCV, so they are parsed (and range-checked) but not used. */
    pb->img_h = 0;
    pb->img_w = 0;
    if ((st = fm_priorbox_shape(pb, &net->values[L->in[0]].shape, &net->values[L->in[1]].shape,
                                &net->values[L->out].shape, err)) != FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    L->constant = 1;
    return FM_OK;
}

static fm_status parse_softmax(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "softmax_param");
    long long axis = 1;
    fm_status st;
    if (p && (st = fm_ptxt_get_int(p, "axis", 1, &axis, err)) != FM_OK)
        return st;
    const fm_shape *in = &net->values[L->in[0]].shape;
    if (axis < 0)
        axis += in->ndim;
    if (axis < 0 || axis >= in->ndim)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "axis out of range for a %d-axis input", in->ndim);
    L->axis = (int)axis;
    if ((st = fm_softmax_shape(in, L->axis, &net->values[L->out].shape, err)) != FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    return FM_OK;
}

static fm_status parse_detout(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "detection_output_param");
    if (!p)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "missing detection_output_param");
    if (L->nin != 3)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "needs 3 bottoms (loc, conf, priors), has %d", L->nin);
    fm_detout_param *d = &L->det;
    memset(d, 0, sizeof *d);
    long long nc, bg, topk = -1, keep;
    int share, vet, clip;
    double nms = 0.3, conf;
    fm_status st;
    if ((st = fm_ptxt_get_int(p, "num_classes", 0, &nc, err)) != FM_OK ||
        (st = fm_ptxt_get_bool(p, "share_location", 1, &share, err)) != FM_OK ||
        (st = fm_ptxt_get_int(p, "background_label_id", 0, &bg, err)) != FM_OK ||
        (st = fm_ptxt_get_int(p, "keep_top_k", -1, &keep, err)) != FM_OK ||
        (st = fm_ptxt_get_float(p, "confidence_threshold", -1e30, &conf, err)) != FM_OK ||
        (st = fm_ptxt_get_bool(p, "variance_encoded_in_target", 0, &vet, err)) != FM_OK ||
        (st = fm_ptxt_get_bool(p, "clip", 0, &clip, err)) != FM_OK)
        return st;
    const fm_ptxt_node *np = fm_ptxt_get(p, "nms_param");
    if (np && ((st = fm_ptxt_get_float(np, "nms_threshold", 0.3, &nms, err)) != FM_OK ||
               (st = fm_ptxt_get_int(np, "top_k", -1, &topk, err)) != FM_OK))
        return st;
    static const char *const codes[] = {NULL, "CORNER", "CENTER_SIZE", "CORNER_SIZE"};
    int code;
    if ((st = get_enum(p, "code_type", codes, 4, 1, &code, err)) != FM_OK)
        return st;
    if (!in_range_int(nc, 1, 100000) || !in_range_int(bg, -1, nc - 1) ||
        !in_range_int(topk, -1, 1 << 24) || !in_range_int(keep, -1, 1 << 24))
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "num_classes, background_label_id, top_k or keep_top_k out of range");
    d->num_classes = (int)nc;
    d->share_location = share;
    d->background_label_id = (int)bg;
    d->nms_threshold = (float)nms;
    d->top_k = (int)topk;
    d->keep_top_k = (int)keep;
    d->confidence_threshold = (float)conf;
    d->code_type = code;
    d->variance_encoded_in_target = vet;
    d->clip = clip;
    if ((st = fm_detout_shape(d, &net->values[L->in[0]].shape, &net->values[L->in[1]].shape,
                              &net->values[L->in[2]].shape, &net->values[L->out].shape, err)) !=
        FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    return FM_OK;
}

static fm_status parse_ip(fm_net *net, layer *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "inner_product_param");
    if (!p)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "missing inner_product_param");
    long long v, axis;
    int bias, transpose;
    fm_status st;
    if ((st = fm_ptxt_get_int(p, "num_output", 0, &v, err)) != FM_OK ||
        (st = fm_ptxt_get_bool(p, "bias_term", 1, &bias, err)) != FM_OK ||
        (st = fm_ptxt_get_int(p, "axis", 1, &axis, err)) != FM_OK ||
        (st = fm_ptxt_get_bool(p, "transpose", 0, &transpose, err)) != FM_OK)
        return st;
    if (!in_range_int(v, 1, 1 << 20))
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "num_output %lld out of range (expected 1..1048576)", v);
    if (axis != 1 || transpose)
        return layer_err(err, FM_ERR_UNSUPPORTED, c->node, c->name, c->type,
                         "only axis 1 without transpose is supported");
    L->ip.num_output = (int)v;
    L->ip.bias_term = 1; /* always materialised, zero when absent */
    const value *in = &net->values[L->in[0]];
    if ((st = fm_ip_shape(&L->ip, &in->shape, &net->values[L->out].shape, err)) != FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    const fm_caffe_layer *cl = need_weights(c, err);
    if (!cl)
        return FM_ERR_FORMAT;
    int K = (int)fm_shape_count_range(&in->shape, 1, in->shape.ndim);
    fm_shape ws = fm_shape2((int)v, K), bs = fm_shape1((int)v);
    if ((st = check_blob(cl, 0, &ws, "weights", c->model_path, err)) != FM_OK)
        return st;
    if (bias && (st = check_blob(cl, 1, &bs, "bias", c->model_path, err)) != FM_OK)
        return st;
    L->nw = (size_t)v * (size_t)K;
    L->nb = (size_t)v;
    L->w = take_floats(cl, 0, L->nw);
    L->b = calloc(L->nb, sizeof *L->b);
    if (!L->w)
        return layer_err(err, FM_ERR_FORMAT, c->node, c->name, c->type,
                         "its weights in %s are used by another layer of the same name",
                         c->model_path);
    if (!L->b)
        return nomem(err);
    if (bias)
        memcpy(L->b, cl->blobs[1].data, L->nb * sizeof *L->b);
    return FM_OK;
}

static fm_status parse_act(fm_net *net, layer *L, const build_ctx *c, int relu6, fm_err *err)
{
    L->act.act = relu6 ? FM_ACT_RELU6 : FM_ACT_RELU;
    L->act.slope = 0;
    if (!relu6) {
        const fm_ptxt_node *p = fm_ptxt_get(c->node, "relu_param");
        double slope = 0;
        fm_status st;
        if (p && (st = fm_ptxt_get_float(p, "negative_slope", 0, &slope, err)) != FM_OK)
            return st;
        L->act.slope = (float)slope;
    }
    net->values[L->out].shape = net->values[L->in[0]].shape;
    return FM_OK;
}

/* Returns 1 if this layer is excluded from the TEST phase. */
static int excluded_from_test(const fm_ptxt_node *lnode)
{
    for (const fm_ptxt_node *inc = fm_ptxt_get(lnode, "include"); inc; inc = fm_ptxt_next_named(inc)) {
        const char *ph = fm_ptxt_get_str(inc, "phase", NULL);
        if (ph && strcmp(ph, "TRAIN") == 0)
            return 1;
    }
    for (const fm_ptxt_node *exc = fm_ptxt_get(lnode, "exclude"); exc; exc = fm_ptxt_next_named(exc)) {
        const char *ph = fm_ptxt_get_str(exc, "phase", NULL);
        if (ph && strcmp(ph, "TEST") == 0)
            return 1;
    }
    return 0;
}

static fm_status add_inputs(fm_net *net, const fm_ptxt_node *root, const fm_net_opts *opts,
                            fm_err *err)
{
    const fm_ptxt_node *shape_node = fm_ptxt_get(root, "input_shape");
    const fm_ptxt_node *dim_node = fm_ptxt_get(root, "input_dim");
    for (const fm_ptxt_node *in = fm_ptxt_get(root, "input"); in; in = fm_ptxt_next_named(in)) {
        char where[300];
        fm_ptxt_where(in, where, sizeof where);
        if (!in->value)
            return fm_err_set(err, FM_ERR_PARSE, "%s: 'input' must be a blob name", where);
        if (net->ninputs == MAX_IO)
            return fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: more than %d inputs", where, MAX_IO);
        fm_shape s = {0, {0}};
        if (shape_node) {
            long long d[FM_MAX_DIMS];
            int n = get_ints(shape_node, "dim", d, FM_MAX_DIMS, err);
            if (n < 0)
                return err ? err->status : FM_ERR_PARSE;
            s.ndim = n;
            for (int i = 0; i < n; i++) {
                if (!in_range_int(d[i], 1, 1 << 16))
                    return fm_err_set(err, FM_ERR_PARSE, "%s: input dim %lld out of range", where,
                                      d[i]);
                s.d[i] = (int)d[i];
            }
            shape_node = fm_ptxt_next_named(shape_node);
        } else if (dim_node) {
            s.ndim = 4;
            for (int i = 0; i < 4; i++) {
                long long v;
                if (!dim_node)
                    return fm_err_set(err, FM_ERR_PARSE, "%s: input '%s' needs 4 input_dim values",
                                      where, in->value);
                if (fm_ptxt_int(dim_node, &v, err) != FM_OK)
                    return err ? err->status : FM_ERR_PARSE;
                if (!in_range_int(v, 1, 1 << 16))
                    return fm_err_set(err, FM_ERR_PARSE, "%s: input dim %lld out of range", where, v);
                s.d[i] = (int)v;
                dim_node = fm_ptxt_next_named(dim_node);
            }
        }
        if (net->ninputs == 0 && opts->input_shape.ndim > 0)
            s = opts->input_shape;
        if (s.ndim == 0)
            return fm_err_set(err, FM_ERR_PARSE, "%s: input '%s' has no input_shape or input_dim",
                              where, in->value);
        int v = add_value(net, in->value, -1, err);
        if (v < 0)
            return FM_ERR_NOMEM;
        net->values[v].shape = s;
        net->inputs[net->ninputs++] = v;
    }
    return FM_OK;
}

static layer *new_layer(fm_net *net, fm_err *err)
{
    if (net->nlayers == net->cap_layers) {
        int cap = net->cap_layers ? net->cap_layers * 2 : 64;
        layer *l = realloc(net->layers, (size_t)cap * sizeof *l);
        if (!l) {
            nomem(err);
            return NULL;
        }
        net->layers = l;
        net->cap_layers = cap;
    }
    layer *L = &net->layers[net->nlayers];
    memset(L, 0, sizeof *L);
    L->out = -1;
    return L;
}

static fm_status parse_layers(fm_net *net, const fm_ptxt *doc, const fm_caffemodel *model,
                              const char *model_path, const fm_net_opts *opts, fm_err *err)
{
    const fm_ptxt_node *root = fm_ptxt_root(doc);
    fm_status st = add_inputs(net, root, opts, err);
    if (st != FM_OK)
        return st;
    if (fm_ptxt_get(root, "layers"))
        return fm_err_set(err, FM_ERR_UNSUPPORTED,
                          "%s: legacy V1 'layers' entries are not supported (expected 'layer')",
                          fm_ptxt_filename(doc));
    int nlayer_nodes = 0;
    for (const fm_ptxt_node *ln = fm_ptxt_get(root, "layer"); ln; ln = fm_ptxt_next_named(ln)) {
        nlayer_nodes++;
        if (excluded_from_test(ln))
            continue;
        build_ctx c;
        c.node = ln;
        c.name = fm_ptxt_get_str(ln, "name", "");
        c.type = fm_ptxt_get_str(ln, "type", "");
        c.model = model;
        c.model_path = model_path;
        if (!*c.type)
            return layer_err(err, FM_ERR_PARSE, ln, c.name, "?", "missing 'type'");

        if (strcmp(c.type, "Input") == 0) {
            const fm_ptxt_node *ip = fm_ptxt_get(ln, "input_param");
            const fm_ptxt_node *sh = ip ? fm_ptxt_get(ip, "shape") : NULL;
            for (const fm_ptxt_node *top = fm_ptxt_get(ln, "top"); top; top = fm_ptxt_next_named(top)) {
                fm_shape s = {0, {0}};
                if (sh) {
                    long long d[FM_MAX_DIMS];
                    int n = get_ints(sh, "dim", d, FM_MAX_DIMS, err);
                    if (n < 0)
                        return err ? err->status : FM_ERR_PARSE;
                    s.ndim = n;
                    for (int i = 0; i < n; i++) {
                        if (!in_range_int(d[i], 1, 1 << 16))
                            return layer_err(err, FM_ERR_PARSE, ln, c.name, c.type,
                                             "dim %lld out of range", d[i]);
                        s.d[i] = (int)d[i];
                    }
                    sh = fm_ptxt_next_named(sh);
                }
                if (net->ninputs == 0 && opts->input_shape.ndim > 0)
                    s = opts->input_shape;
                if (s.ndim == 0)
                    return layer_err(err, FM_ERR_PARSE, ln, c.name, c.type,
                                     "no shape for input '%s'", top->value ? top->value : "?");
                if (net->ninputs == MAX_IO)
                    return layer_err(err, FM_ERR_UNSUPPORTED, ln, c.name, c.type, "too many inputs");
                int v = add_value(net, top->value ? top->value : "", -1, err);
                if (v < 0)
                    return FM_ERR_NOMEM;
                net->values[v].shape = s;
                net->inputs[net->ninputs++] = v;
            }
            continue;
        }

        layer *L = new_layer(net, err);
        if (!L)
            return FM_ERR_NOMEM;
        int li = net->nlayers;
        L->name = dup_str(c.name);
        L->type = dup_str(c.type);
        L->line = ln->line;
        if (!L->name || !L->type) {
            net->nlayers++; /* so fm_net_free releases what was allocated */
            return nomem(err);
        }
        net->nlayers++;
        for (const fm_ptxt_node *b = fm_ptxt_get(ln, "bottom"); b; b = fm_ptxt_next_named(b)) {
            if (L->nin == MAX_IO)
                return layer_err(err, FM_ERR_UNSUPPORTED, ln, c.name, c.type,
                                 "more than %d bottoms", MAX_IO);
            int v = b->value ? find_value(net, b->value) : -1;
            if (v < 0)
                return layer_err(err, FM_ERR_PARSE, b, c.name, c.type,
                                 "bottom '%s' is not produced by any earlier layer or input",
                                 b->value ? b->value : "{...}");
            L->in[L->nin++] = v;
            net->values[v].consumers++;
        }
        if (L->nin == 0)
            return layer_err(err, FM_ERR_PARSE, ln, c.name, c.type, "has no bottom");
        int ntop = fm_ptxt_count(ln, "top");
        if (ntop != 1)
            return layer_err(err, FM_ERR_UNSUPPORTED, ln, c.name, c.type,
                             "has %d tops (expected exactly 1)", ntop);
        const fm_ptxt_node *top = fm_ptxt_get(ln, "top");
        int ov = add_value(net, top->value ? top->value : "", li, err);
        if (ov < 0)
            return FM_ERR_NOMEM;
        L = &net->layers[li];
        L->out = ov;

        const char *t = c.type;
        if (strcmp(t, "Convolution") == 0) {
            L->kind = FM_LAYER_CONV;
            st = parse_conv(net, L, &c, err);
        } else if (strcmp(t, "BatchNorm") == 0) {
            st = parse_batchnorm(net, L, &c, err);
        } else if (strcmp(t, "Scale") == 0) {
            st = parse_scale(net, L, &c, err);
        } else if (strcmp(t, "ReLU") == 0 || strcmp(t, "ReLU6") == 0) {
            L->kind = FM_LAYER_ACT;
            st = parse_act(net, L, &c, t[4] == '6', err);
        } else if (strcmp(t, "Pooling") == 0) {
            L->kind = FM_LAYER_POOL;
            st = parse_pool(net, L, &c, err);
        } else if (strcmp(t, "Eltwise") == 0) {
            L->kind = FM_LAYER_ELTWISE;
            st = parse_eltwise(net, L, &c, err);
        } else if (strcmp(t, "Concat") == 0) {
            L->kind = FM_LAYER_CONCAT;
            st = parse_concat(net, L, &c, err);
        } else if (strcmp(t, "Flatten") == 0) {
            L->kind = FM_LAYER_RESHAPE;
            st = parse_flatten(net, L, &c, err);
        } else if (strcmp(t, "Reshape") == 0) {
            L->kind = FM_LAYER_RESHAPE;
            st = parse_reshape(net, L, &c, err);
        } else if (strcmp(t, "InnerProduct") == 0) {
            L->kind = FM_LAYER_IP;
            st = parse_ip(net, L, &c, err);
        } else if (strcmp(t, "Dropout") == 0) {
            L->kind = FM_LAYER_RESHAPE;
            net->values[ov].shape = net->values[L->in[0]].shape;
        } else if (strcmp(t, "Permute") == 0) {
            L->kind = FM_LAYER_PERMUTE;
            st = parse_permute(net, L, &c, err);
        } else if (strcmp(t, "Normalize") == 0) {
            L->kind = FM_LAYER_NORMALIZE;
            st = parse_normalize(net, L, &c, err);
        } else if (strcmp(t, "PriorBox") == 0) {
            L->kind = FM_LAYER_PRIORBOX;
            st = parse_priorbox(net, L, &c, err);
        } else if (strcmp(t, "Softmax") == 0) {
            L->kind = FM_LAYER_SOFTMAX;
            st = parse_softmax(net, L, &c, err);
        } else if (strcmp(t, "DetectionOutput") == 0) {
            L->kind = FM_LAYER_DETOUT;
            st = parse_detout(net, L, &c, err);
        } else {
            return layer_err(err, FM_ERR_UNSUPPORTED, ln, c.name, c.type,
                             "unknown layer type '%s' (supported: Input, Convolution, BatchNorm, "
                             "Scale, ReLU, ReLU6, Pooling, Eltwise, Concat, Flatten, Reshape, "
                             "Dropout, Permute, Normalize, PriorBox, Softmax, DetectionOutput, "
                             "InnerProduct)",
                             t);
        }
        if (st != FM_OK)
            return st;
        if (fm_shape_count(&net->values[ov].shape) == 0)
            return layer_err(err, FM_ERR_SHAPE, ln, c.name, c.type, "empty output shape");
    }
    if (net->ninputs == 0)
        return fm_err_set(err, FM_ERR_PARSE, "%s: the network has no input",
                          fm_ptxt_filename(doc));
    if (net->nlayers == 0)
        return fm_err_set(err, FM_ERR_PARSE, "%s: the network has no layers (%d layer entries)",
                          fm_ptxt_filename(doc), nlayer_nodes);
    return FM_OK;
}

/* ---- pass 2: fold -------------------------------------------------------- */

static void append_type(layer *L, const char *more)
{
    size_t n = strlen(L->type) + strlen(more) + 2;
    char *t = malloc(n);
    if (!t)
        return; /* the type string is cosmetic */
    snprintf(t, n, "%s+%s", L->type, more);
    free(L->type);
    L->type = t;
}

/* The layer that writes value v, if v is read only by one layer. */
static layer *sole_producer(fm_net *net, int v)
{
    value *val = &net->values[v];
    if (val->producer < 0 || val->consumers != 1 || val->is_output)
        return NULL;
    layer *P = &net->layers[val->producer];
    return P->skip ? NULL : P;
}

static void take_over_output(fm_net *net, layer *P, layer *L)
{
    P->out = L->out;
    net->values[L->out].producer = (int)(P - net->layers);
    L->skip = 1;
    append_type(P, L->type);
}

static void fold_layers(fm_net *net, const fm_net_opts *opts)
{
    for (int i = 0; i < net->nlayers; i++) {
        layer *L = &net->layers[i];
        if (L->nin != 1)
            continue;
        layer *P = sole_producer(net, L->in[0]);
        if (!P)
            continue;
        if (L->kind == FM_LAYER_AFFINE && opts->fold_batchnorm && P->act.act == FM_ACT_NONE) {
            if (P->kind == FM_LAYER_CONV) {
                /* w'[o] = w[o] * a[o], b'[o] = b[o] * a[o] + beta[o] */
                int O = P->conv.num_output;
                size_t per = P->nw / (size_t)O;
                for (int o = 0; o < O; o++) {
                    for (size_t k = 0; k < per; k++)
                        P->w[(size_t)o * per + k] *= L->w[o];
                    P->b[o] = P->b[o] * L->w[o] + L->b[o];
                }
                take_over_output(net, P, L);
            } else if (P->kind == FM_LAYER_AFFINE && P->nw == L->nw) {
                for (size_t c = 0; c < P->nw; c++) {
                    P->w[c] *= L->w[c];
                    P->b[c] = P->b[c] * L->w[c] + L->b[c];
                }
                take_over_output(net, P, L);
            }
        } else if (L->kind == FM_LAYER_ACT && opts->fuse_activations && P->act.act == FM_ACT_NONE &&
                   (P->kind == FM_LAYER_CONV || P->kind == FM_LAYER_AFFINE ||
                    P->kind == FM_LAYER_ELTWISE || P->kind == FM_LAYER_IP)) {
            P->act = L->act;
            take_over_output(net, P, L);
        }
    }
}

/* ---- pass 3: plan memory ---------------------------------------------------- */

typedef struct {
    size_t cap;    /* floats */
    int free;
    size_t offset; /* floats from the arena start */
} buffer;

static int alloc_buffer(buffer **bufs, int *nbufs, size_t need)
{
    int best = -1, largest = -1;
    for (int i = 0; i < *nbufs; i++) {
        buffer *b = &(*bufs)[i];
        if (!b->free)
            continue;
        if (b->cap >= need && (best < 0 || b->cap < (*bufs)[best].cap))
            best = i;
        if (largest < 0 || b->cap > (*bufs)[largest].cap)
            largest = i;
    }
    if (best < 0 && largest >= 0) {
        best = largest;
        (*bufs)[best].cap = need;
    }
    if (best < 0) {
        buffer *nb = realloc(*bufs, (size_t)(*nbufs + 1) * sizeof *nb);
        if (!nb)
            return -1;
        *bufs = nb;
        best = (*nbufs)++;
        nb[best].cap = need;
    }
    (*bufs)[best].free = 0;
    return best;
}

static int can_run_in_place(fm_layer_kind k)
{
    return k == FM_LAYER_AFFINE || k == FM_LAYER_ACT || k == FM_LAYER_ELTWISE ||
           k == FM_LAYER_SOFTMAX || k == FM_LAYER_RESHAPE;
}

static fm_status plan_memory(fm_net *net, fm_err *err)
{
    for (int v = 0; v < net->nvalues; v++) {
        value *val = &net->values[v];
        val->last_use = -1;
        if (val->producer >= 0 && val->consumers == 0 && !net->layers[val->producer].skip) {
            val->is_output = 1;
            if (net->noutputs < MAX_IO)
                net->outputs[net->noutputs++] = v;
        }
    }
    for (int i = 0; i < net->nlayers; i++) {
        layer *L = &net->layers[i];
        if (L->skip)
            continue;
        if (L->kind == FM_LAYER_PRIORBOX)
            continue; /* reads shapes only */
        for (int k = 0; k < L->nin; k++)
            net->values[L->in[k]].last_use = i;
    }
    buffer *bufs = NULL;
    int nbufs = 0;
    int keep = net->opts.keep_all_blobs;
    for (int k = 0; k < net->ninputs; k++) {
        value *val = &net->values[net->inputs[k]];
        val->buffer = alloc_buffer(&bufs, &nbufs, fm_shape_count(&val->shape));
        if (val->buffer < 0)
            goto oom;
    }
    for (int i = 0; i < net->nlayers; i++) {
        layer *L = &net->layers[i];
        if (L->skip)
            continue;
        value *out = &net->values[L->out];
        size_t need = fm_shape_count(&out->shape);
        if (L->constant) {
            out->constant = calloc(need, sizeof(float));
            if (!out->constant)
                goto oom;
            continue;
        }
        value *in0 = &net->values[L->in[0]];
        if (!keep && can_run_in_place(L->kind) && in0->last_use == i && !in0->is_output &&
            in0->buffer >= 0 && bufs[in0->buffer].cap >= need) {
            int used_twice = 0; /* an eltwise reading the same value twice */
            for (int k = 1; k < L->nin; k++)
                used_twice |= L->in[k] == L->in[0];
            if (!used_twice) {
                out->buffer = in0->buffer;
                in0->buffer = -2; /* handed over */
            }
        }
        if (out->buffer == -1) {
            out->buffer = alloc_buffer(&bufs, &nbufs, need);
            if (out->buffer < 0)
                goto oom;
        }
        if (!keep) {
            for (int k = 0; k < L->nin; k++) {
                value *iv = &net->values[L->in[k]];
                if (iv->last_use == i && iv->buffer >= 0 && !iv->is_output)
                    bufs[iv->buffer].free = 1;
            }
        }
    }
    size_t total = 0;
    for (int b = 0; b < nbufs; b++) {
        bufs[b].offset = total;
        size_t cap = (bufs[b].cap + 15) & ~(size_t)15; /* 64-byte aligned slices */
        if (!fm_size_add(total, cap, &total))
            goto oom;
    }
    net->arena_floats = total;
    if (posix_memalign((void **)&net->arena, 64, (total ? total : 16) * sizeof(float)) != 0) {
        net->arena = NULL;
        goto oom;
    }
    memset(net->arena, 0, (total ? total : 16) * sizeof(float));
    /* Point every value at its slice; a handed-over input keeps pointing at the same slice. */
    for (int v = 0; v < net->nvalues; v++) {
        value *val = &net->values[v];
        val->t.shape = val->shape;
        if (val->constant)
            val->t.data = val->constant;
        else if (val->buffer >= 0)
            val->t.data = net->arena + bufs[val->buffer].offset;
    }
    /* Values whose buffer was handed over to an in-place output share its data;
     * backwards, so a chain of in-place layers resolves from its last value. */
    for (int i = net->nlayers - 1; i >= 0; i--) {
        layer *L = &net->layers[i];
        if (L->skip || L->constant)
            continue;
        value *in0 = &net->values[L->in[0]];
        if (in0->buffer == -2)
            in0->t.data = net->values[L->out].t.data;
    }
    free(bufs);
    return FM_OK;
oom:
    free(bufs);
    return nomem(err);
}

/* ---- pass 4: prepare ------------------------------------------------------ */

static fm_status prepare(fm_net *net, fm_err *err)
{
    size_t scratch = 0;
    for (int i = 0; i < net->nlayers; i++) {
        layer *L = &net->layers[i];
        if (L->skip)
            continue;
        if (L->kind == FM_LAYER_CONV && !net->reference) {
            L->plan = fm_conv_plan_create(&L->conv, &net->values[L->in[0]].shape, L->w, L->b,
                                          fm_pool_size(net->pool), err);
            if (!L->plan)
                return fm_err_prefix(err, "layer '%s': ", L->name);
            size_t s = fm_conv_plan_scratch(L->plan);
            if (s > scratch)
                scratch = s;
            if (net->opts.release_weights) {
                free(L->w);
                L->w = NULL;
            }
        } else if (L->kind == FM_LAYER_CONV) {
            L->conv.act = L->act;
        } else if (L->kind == FM_LAYER_DETOUT) {
            size_t s = fm_detout_scratch(&L->det, &net->values[L->in[0]].shape,
                                         &net->values[L->in[1]].shape);
            if (s > scratch)
                scratch = s;
        } else if (L->kind == FM_LAYER_PRIORBOX) {
            fm_priorbox_forward(&L->prior, &net->values[L->in[0]].shape,
                                &net->values[L->in[1]].shape, &net->values[L->out].t);
        }
        if (L->kind == FM_LAYER_CONV)
            L->conv.act = L->act;
    }
    net->scratch_bytes = scratch;
    if (scratch) {
        size_t sz = (scratch + 63) & ~(size_t)63;
        if (posix_memalign(&net->scratch, 64, sz) != 0) {
            net->scratch = NULL;
            return nomem(err);
        }
    }
    return FM_OK;
}

/* The conv plan reads the activation from the param given at plan time, so the
 * fused activation must be set before the plan is made: done in fm_net_load. */

/* ---- public ------------------------------------------------------------------ */

fm_net_opts fm_net_default_opts(void)
{
    fm_net_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    o.fold_batchnorm = 1;
    o.fuse_activations = 1;
    return o;
}

fm_net *fm_net_load(const char *prototxt_path, const char *caffemodel_path, const fm_net_opts *opts,
                    fm_err *err)
{
    fm_net_opts o = opts ? *opts : fm_net_default_opts();
    const char *env = getenv("FM_REFERENCE");
    if (env && *env && strcmp(env, "0") != 0)
        o.reference = 1;
    fm_net *net = calloc(1, sizeof *net);
    if (!net) {
        nomem(err);
        return NULL;
    }
    net->opts = o;
    net->reference = o.reference;
    snprintf(net->source, sizeof net->source, "%s", prototxt_path);
    fm_ptxt *doc = fm_ptxt_read(prototxt_path, err);
    if (!doc) {
        fm_net_free(net);
        return NULL;
    }
    fm_caffemodel *model = fm_caffemodel_read(caffemodel_path, err);
    if (!model) {
        fm_ptxt_free(doc);
        fm_net_free(net);
        return NULL;
    }
    fm_status st = parse_layers(net, doc, model, caffemodel_path, &o, err);
    fm_caffemodel_free(model);
    fm_ptxt_free(doc);
    if (st == FM_OK) {
        fold_layers(net, &o);
        for (int i = 0; i < net->nlayers; i++) {
            layer *L = &net->layers[i];
            if (L->kind == FM_LAYER_CONV)
                L->conv.act = L->act;
            if (L->kind == FM_LAYER_ELTWISE)
                L->eltwise.act = L->act;
            if (L->kind == FM_LAYER_IP)
                L->ip.act = L->act;
            if (!L->skip)
                net->weight_bytes += (L->nw + L->nb) * sizeof(float);
        }
        if (o.pool) {
            net->pool = o.pool;
        } else {
            net->pool = fm_pool_create(o.threads < 1 ? 1 : o.threads, err);
            net->own_pool = 1;
            if (!net->pool)
                st = FM_ERR_NOMEM;
        }
    }
    if (st == FM_OK)
        st = plan_memory(net, err);
    if (st == FM_OK)
        st = prepare(net, err);
    if (st != FM_OK) {
        fm_net_free(net);
        return NULL;
    }
    return net;
}

void fm_net_free(fm_net *net)
{
    if (!net)
        return;
    for (int i = 0; i < net->nlayers; i++) {
        layer *L = &net->layers[i];
        free(L->name);
        free(L->type);
        free(L->w);
        free(L->b);
        fm_conv_plan_free(L->plan);
    }
    for (int v = 0; v < net->nvalues; v++) {
        free(net->values[v].name);
        free(net->values[v].constant);
    }
    free(net->layers);
    free(net->values);
    free(net->arena);
    free(net->scratch);
    if (net->own_pool)
        fm_pool_free(net->pool);
    free(net);
}

int fm_net_num_inputs(const fm_net *net)
{
    return net->ninputs;
}

fm_tensor *fm_net_input(fm_net *net, int index)
{
    if (index < 0 || index >= net->ninputs)
        return NULL;
    return &net->values[net->inputs[index]].t;
}

const char *fm_net_input_name(const fm_net *net, int index)
{
    if (index < 0 || index >= net->ninputs)
        return NULL;
    return net->values[net->inputs[index]].name;
}

int fm_net_num_outputs(const fm_net *net)
{
    return net->noutputs;
}

const fm_tensor *fm_net_output(const fm_net *net, int index)
{
    if (index < 0 || index >= net->noutputs)
        return NULL;
    return &net->values[net->outputs[index]].t;
}

const char *fm_net_output_name(const fm_net *net, int index)
{
    if (index < 0 || index >= net->noutputs)
        return NULL;
    return net->values[net->outputs[index]].name;
}

const fm_tensor *fm_net_blob(const fm_net *net, const char *name)
{
    int v = find_value(net, name);
    if (v < 0)
        return NULL;
    const value *val = &net->values[v];
    if (!val->t.data)
        return NULL;
    return &val->t;
}

static void run_layer(fm_net *net, layer *L)
{
    value *out = &net->values[L->out];
    const fm_tensor *in0 = &net->values[L->in[0]].t;
    fm_tensor *o = &out->t;
    switch (L->kind) {
    case FM_LAYER_CONV:
        if (L->plan)
            fm_conv_run(L->plan, in0->data, o->data, net->scratch, net->pool);
        else
            fm_conv_forward_ref(&L->conv, in0, L->w, L->b, o);
        break;
    case FM_LAYER_AFFINE:
        fm_affine_forward(in0, L->w, L->b, L->act, o, net->pool);
        break;
    case FM_LAYER_ACT:
        fm_act_forward(in0, L->act, o, net->pool);
        break;
    case FM_LAYER_POOL:
        fm_pool_forward(&L->pool, in0, o, net->pool);
        break;
    case FM_LAYER_ELTWISE: {
        const fm_tensor *ins[MAX_IO];
        for (int k = 0; k < L->nin; k++)
            ins[k] = &net->values[L->in[k]].t;
        fm_eltwise_forward(&L->eltwise, ins, L->nin, o, net->pool);
        break;
    }
    case FM_LAYER_CONCAT: {
        const fm_tensor *ins[MAX_IO];
        for (int k = 0; k < L->nin; k++)
            ins[k] = &net->values[L->in[k]].t;
        fm_concat_forward(ins, L->nin, L->axis, o);
        break;
    }
    case FM_LAYER_RESHAPE:
        fm_reshape_forward(in0, o);
        break;
    case FM_LAYER_IP:
        fm_ip_forward(&L->ip, in0, L->w, L->b, o, net->pool);
        break;
    case FM_LAYER_PERMUTE:
        fm_permute_forward(in0, L->dims, L->ndims, o);
        break;
    case FM_LAYER_NORMALIZE:
        fm_normalize_forward(&L->norm, in0, L->w, o);
        break;
    case FM_LAYER_PRIORBOX:
        break; /* constant, computed at load */
    case FM_LAYER_SOFTMAX:
        fm_softmax_forward(in0, L->axis, o);
        break;
    case FM_LAYER_DETOUT: {
        o->shape = out->shape; /* full capacity for the op */
        int rows = fm_detout_forward(&L->det, in0, &net->values[L->in[1]].t,
                                     &net->values[L->in[2]].t, o, net->scratch);
        o->shape.d[2] = rows;
        break;
    }
    }
}

fm_status fm_net_forward(fm_net *net, fm_err *err)
{
    return fm_net_forward_range(net, 0, INT32_MAX, err);
}

fm_status fm_net_forward_range(fm_net *net, int first, int end, fm_err *err)
{
    int k = -1;
    for (int i = 0; i < net->nlayers; i++) {
        layer *L = &net->layers[i];
        if (L->skip)
            continue;
        k++;
        if (k < first)
            continue;
        if (k >= end)
            break;
        if (L->constant)
            continue;
        if (net->profiling) {
            double t0 = fm_now_ms();
            run_layer(net, L);
            L->ms = fm_now_ms() - t0;
        } else {
            run_layer(net, L);
        }
    }
    (void)err;
    return FM_OK;
}

/* Layers as run: indexes skip the folded ones. */
static layer *nth_layer(const fm_net *net, int index)
{
    int k = 0;
    for (int i = 0; i < net->nlayers; i++) {
        if (net->layers[i].skip)
            continue;
        if (k++ == index)
            return &net->layers[i];
    }
    return NULL;
}

int fm_net_num_layers(const fm_net *net)
{
    int n = 0;
    for (int i = 0; i < net->nlayers; i++)
        n += !net->layers[i].skip;
    return n;
}

const char *fm_net_layer_name(const fm_net *net, int index)
{
    layer *L = nth_layer(net, index);
    return L ? L->name : NULL;
}

const char *fm_net_layer_type(const fm_net *net, int index)
{
    layer *L = nth_layer(net, index);
    return L ? L->type : NULL;
}

void fm_net_set_profiling(fm_net *net, int on)
{
    net->profiling = on;
}

double fm_net_layer_ms(const fm_net *net, int index)
{
    layer *L = nth_layer(net, index);
    return L ? L->ms : 0.0;
}

int fm_net_layer_info(fm_net *net, int index, fm_layer_info *info)
{
    layer *L = nth_layer(net, index);
    if (!L)
        return 0;
    memset(info, 0, sizeof *info);
    info->kind = L->kind;
    info->name = L->name;
    info->type = L->type;
    info->nin = L->nin;
    info->in = L->in;
    info->out = L->out;
    info->act = L->act;
    info->conv = L->kind == FM_LAYER_CONV ? &L->conv : NULL;
    info->pool = L->kind == FM_LAYER_POOL ? &L->pool : NULL;
    info->eltwise = L->kind == FM_LAYER_ELTWISE ? &L->eltwise : NULL;
    info->ip = L->kind == FM_LAYER_IP ? &L->ip : NULL;
    info->axis = L->axis;
    info->w = L->w;
    info->b = L->b;
    info->nw = L->nw;
    info->nb = L->nb;
    return 1;
}

int fm_net_num_values(const fm_net *net)
{
    return net->nvalues;
}

int fm_net_value_id(const fm_net *net, const char *name)
{
    return find_value(net, name);
}

const char *fm_net_value_name(const fm_net *net, int id)
{
    return id >= 0 && id < net->nvalues ? net->values[id].name : NULL;
}

const fm_tensor *fm_net_value(const fm_net *net, int id)
{
    return id >= 0 && id < net->nvalues ? &net->values[id].t : NULL;
}

fm_status fm_net_weights_changed(fm_net *net, fm_err *err)
{
    if (net->reference)
        return FM_OK;
    if (net->opts.release_weights)
        return fm_err_set(err, FM_ERR_ARG,
                          "%s: loaded for inference only (release_weights): weights cannot change",
                          net->source);
    size_t scratch = net->scratch_bytes;
    for (int i = 0; i < net->nlayers; i++) {
        layer *L = &net->layers[i];
        if (L->skip || L->kind != FM_LAYER_CONV)
            continue;
        fm_conv_plan *plan = fm_conv_plan_create(&L->conv, &net->values[L->in[0]].shape, L->w,
                                                 L->b, fm_pool_size(net->pool), err);
        if (!plan)
            return fm_err_prefix(err, "layer '%s': ", L->name);
        fm_conv_plan_free(L->plan);
        L->plan = plan;
        size_t s = fm_conv_plan_scratch(plan);
        if (s > scratch)
            scratch = s;
    }
    if (scratch > net->scratch_bytes) {
        void *p;
        if (posix_memalign(&p, 64, (scratch + 63) & ~(size_t)63) != 0)
            return nomem(err);
        free(net->scratch);
        net->scratch = p;
        net->scratch_bytes = scratch;
    }
    return FM_OK;
}

size_t fm_net_activation_bytes(const fm_net *net)
{
    return net->arena_floats * sizeof(float) + net->scratch_bytes;
}

size_t fm_net_weight_bytes(const fm_net *net)
{
    return net->weight_bytes;
}

int fm_net_threads(const fm_net *net)
{
    return fm_pool_size(net->pool);
}
