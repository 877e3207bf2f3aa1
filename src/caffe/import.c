/* import.c - a Caffe network (.prototxt + .caffemodel) into facemask's graph.
 *
 * Every prototxt layer becomes a graph node (nn/graph.h) with its parameters; its
 * bottoms resolve to values (single-assignment: an in-place layer makes a new value
 * of the same name), its output shape comes from the op's shape rule, and its
 * weights are taken from the caffemodel after their shapes are checked against what
 * the prototxt implies. Errors name the prototxt line and the layer.
 */
#include "caffe/caffe.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caffe/caffemodel.h"
#include "caffe/prototxt.h"
#include "nn/graph.h"

/* ---- small helpers ---------------------------------------------------- */

static fm_status nomem(fm_err *err)
{
    return fm_err_set(err, FM_ERR_NOMEM, "out of memory while building the network");
}

/* "deploy.prototxt:12:3: layer 'conv1' (Convolution): " */
static fm_status layer_err(fm_err *err, fm_status st, const fm_ptxt_node *node, const char *lname,
                           const char *ltype, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

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

/* The op's shape rule (nn/op.h) for this layer, its message prefixed with where. */
static fm_status infer(fm_graph *g, fm_node *L, const void *ctx, fm_err *err);

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

static fm_status parse_conv(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
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
    const fm_value *in = &g->values[L->in[0]];
    if ((st = infer(g, L, c, err)) != FM_OK)
        return st;

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

static fm_status parse_batchnorm(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "batch_norm_param");
    double eps = 1e-5;
    fm_status st;
    if (p && (st = fm_ptxt_get_float(p, "eps", 1e-5, &eps, err)) != FM_OK)
        return st;
    const fm_value *in = &g->values[L->in[0]];
    int C = channels_of(&in->shape);
    if ((st = infer(g, L, c, err)) != FM_OK)
        return st;
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
    L->nw = L->nb = (size_t)C;
    L->w = malloc((size_t)C * sizeof *L->w);
    L->b = malloc((size_t)C * sizeof *L->b);
    if (!L->w || !L->b)
        return nomem(err);
    fm_batchnorm_coeffs(cl->blobs[0].data, cl->blobs[1].data, sf, (float)eps, C, L->w, L->b);
    return FM_OK;
}

static fm_status parse_scale(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
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
    const fm_value *in = &g->values[L->in[0]];
    int C = channels_of(&in->shape);
    if ((st = infer(g, L, c, err)) != FM_OK)
        return st;
    const fm_caffe_layer *cl = need_weights(c, err);
    if (!cl)
        return FM_ERR_FORMAT;
    fm_shape cs = fm_shape1(C);
    if ((st = check_blob(cl, 0, &cs, "scale", c->model_path, err)) != FM_OK)
        return st;
    if (bias && (st = check_blob(cl, 1, &cs, "bias", c->model_path, err)) != FM_OK)
        return st;
    L->nw = L->nb = (size_t)C;
    L->w = copy_floats(cl->blobs[0].data, (size_t)C);
    L->b = calloc((size_t)C, sizeof *L->b);
    if (!L->w || !L->b)
        return nomem(err);
    if (bias)
        memcpy(L->b, cl->blobs[1].data, (size_t)C * sizeof *L->b);
    return FM_OK;
}

static fm_status parse_pool(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
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
    return infer(g, L, c, err);
}

static fm_status parse_eltwise(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "eltwise_param");
    static const char *const ops_names[] = {"PROD", "SUM", "MAX"};
    int op = 1;
    fm_status st;
    int ncoeff = 0;
    if (p) {
        if ((st = get_enum(p, "operation", ops_names, 3, 1, &op, err)) != FM_OK)
            return st;
        ncoeff = get_floats(p, "coeff", L->coeff, FM_MAX_IO, err);
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
    return infer(g, L, c, err);
}

static fm_status parse_concat(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
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
    int nd = g->values[L->in[0]].shape.ndim;
    if (axis < 0)
        axis += nd;
    if (axis < 0 || axis >= nd)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "axis out of range for %d-axis inputs", nd);
    L->axis = (int)axis;
    return infer(g, L, c, err);
}

static fm_status parse_flatten(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
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
    L->flatten = 1;
    return infer(g, L, c, err);
}

static fm_status parse_reshape(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
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
    return infer(g, L, c, err);
}

static fm_status parse_permute(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
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
    return infer(g, L, c, err);
}

static fm_status parse_normalize(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
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
    const fm_value *in = &g->values[L->in[0]];
    if ((st = infer(g, L, c, err)) != FM_OK)
        return st;
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

static fm_status parse_priorbox(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
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
    if ((st = infer(g, L, c, err)) != FM_OK)
        return st;
    L->constant = 1;
    return FM_OK;
}

static fm_status parse_softmax(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
{
    const fm_ptxt_node *p = fm_ptxt_get(c->node, "softmax_param");
    long long axis = 1;
    fm_status st;
    if (p && (st = fm_ptxt_get_int(p, "axis", 1, &axis, err)) != FM_OK)
        return st;
    const fm_shape *in = &g->values[L->in[0]].shape;
    if (axis < 0)
        axis += in->ndim;
    if (axis < 0 || axis >= in->ndim)
        return layer_err(err, FM_ERR_PARSE, c->node, c->name, c->type,
                         "axis out of range for a %d-axis input", in->ndim);
    L->axis = (int)axis;
    return infer(g, L, c, err);
}

static fm_status parse_detout(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
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
    return infer(g, L, c, err);
}

static fm_status parse_ip(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
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
    const fm_value *in = &g->values[L->in[0]];
    if ((st = infer(g, L, c, err)) != FM_OK)
        return st;
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

static fm_status parse_act(fm_graph *g, fm_node *L, const build_ctx *c, int relu6, fm_err *err)
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
    return infer(g, L, c, err);
}

static fm_status parse_relu(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
{
    return parse_act(g, L, c, 0, err);
}

static fm_status parse_relu6(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
{
    return parse_act(g, L, c, 1, err);
}

static fm_status parse_dropout(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err)
{
    return infer(g, L, c, err); /* the same values */
}

static fm_status infer(fm_graph *g, fm_node *L, const void *ctx, fm_err *err)
{
    const build_ctx *c = ctx;
    fm_status st = fm_graph_infer(g, L, err);
    if (st != FM_OK)
        return layer_err(err, st, c->node, c->name, c->type, "%s", err ? err->msg : "");
    return FM_OK;
}

/* Caffe layer types and the op each becomes. */
typedef fm_status (*parse_fn)(fm_graph *g, fm_node *L, const build_ctx *c, fm_err *err);
static const struct {
    const char *type;
    fm_layer_kind kind;
    parse_fn parse;
} g_types[] = {
    {"Convolution", FM_LAYER_CONV, parse_conv},
    {"BatchNorm", FM_LAYER_AFFINE, parse_batchnorm},
    {"Scale", FM_LAYER_AFFINE, parse_scale},
    {"ReLU", FM_LAYER_ACT, parse_relu},
    {"ReLU6", FM_LAYER_ACT, parse_relu6},
    {"Pooling", FM_LAYER_POOL, parse_pool},
    {"Eltwise", FM_LAYER_ELTWISE, parse_eltwise},
    {"Concat", FM_LAYER_CONCAT, parse_concat},
    {"Flatten", FM_LAYER_RESHAPE, parse_flatten},
    {"Reshape", FM_LAYER_RESHAPE, parse_reshape},
    {"Dropout", FM_LAYER_RESHAPE, parse_dropout},
    {"Permute", FM_LAYER_PERMUTE, parse_permute},
    {"Normalize", FM_LAYER_NORMALIZE, parse_normalize},
    {"PriorBox", FM_LAYER_PRIORBOX, parse_priorbox},
    {"Softmax", FM_LAYER_SOFTMAX, parse_softmax},
    {"DetectionOutput", FM_LAYER_DETOUT, parse_detout},
    {"InnerProduct", FM_LAYER_IP, parse_ip},
};

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

static fm_status add_inputs(fm_graph *g, const fm_ptxt_node *root, const fm_net_opts *opts,
                            fm_err *err)
{
    const fm_ptxt_node *shape_node = fm_ptxt_get(root, "input_shape");
    const fm_ptxt_node *dim_node = fm_ptxt_get(root, "input_dim");
    for (const fm_ptxt_node *in = fm_ptxt_get(root, "input"); in; in = fm_ptxt_next_named(in)) {
        char where[300];
        fm_ptxt_where(in, where, sizeof where);
        if (!in->value)
            return fm_err_set(err, FM_ERR_PARSE, "%s: 'input' must be a blob name", where);
        if (g->ninputs == FM_MAX_IO)
            return fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: more than %d inputs", where, FM_MAX_IO);
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
        if (g->ninputs == 0 && opts->input_shape.ndim > 0)
            s = opts->input_shape;
        if (s.ndim == 0)
            return fm_err_set(err, FM_ERR_PARSE, "%s: input '%s' has no input_shape or input_dim",
                              where, in->value);
        int v = fm_graph_add_value(g, in->value, -1, err);
        if (v < 0)
            return FM_ERR_NOMEM;
        g->values[v].shape = s;
        g->inputs[g->ninputs++] = v;
    }
    return FM_OK;
}

static fm_status parse_layers(fm_graph *g, const fm_ptxt *doc, const fm_caffemodel *model,
                              const char *model_path, const fm_net_opts *opts, fm_err *err)
{
    const fm_ptxt_node *root = fm_ptxt_root(doc);
    fm_status st = add_inputs(g, root, opts, err);
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
                if (g->ninputs == 0 && opts->input_shape.ndim > 0)
                    s = opts->input_shape;
                if (s.ndim == 0)
                    return layer_err(err, FM_ERR_PARSE, ln, c.name, c.type,
                                     "no shape for input '%s'", top->value ? top->value : "?");
                if (g->ninputs == FM_MAX_IO)
                    return layer_err(err, FM_ERR_UNSUPPORTED, ln, c.name, c.type, "too many inputs");
                int v = fm_graph_add_value(g, top->value ? top->value : "", -1, err);
                if (v < 0)
                    return FM_ERR_NOMEM;
                g->values[v].shape = s;
                g->inputs[g->ninputs++] = v;
            }
            continue;
        }

        int in[FM_MAX_IO], nin = 0;
        for (const fm_ptxt_node *b = fm_ptxt_get(ln, "bottom"); b; b = fm_ptxt_next_named(b)) {
            if (nin == FM_MAX_IO)
                return layer_err(err, FM_ERR_UNSUPPORTED, ln, c.name, c.type,
                                 "more than %d bottoms", FM_MAX_IO);
            int v = b->value ? fm_graph_find_value(g, b->value) : -1;
            if (v < 0)
                return layer_err(err, FM_ERR_PARSE, b, c.name, c.type,
                                 "bottom '%s' is not produced by any earlier layer or input",
                                 b->value ? b->value : "{...}");
            in[nin++] = v;
        }
        if (nin == 0)
            return layer_err(err, FM_ERR_PARSE, ln, c.name, c.type, "has no bottom");
        int ntop = fm_ptxt_count(ln, "top");
        if (ntop != 1)
            return layer_err(err, FM_ERR_UNSUPPORTED, ln, c.name, c.type,
                             "has %d tops (expected exactly 1)", ntop);
        const fm_ptxt_node *top = fm_ptxt_get(ln, "top");
        int ti = -1;
        for (int k = 0; k < (int)(sizeof g_types / sizeof g_types[0]) && ti < 0; k++)
            if (strcmp(c.type, g_types[k].type) == 0)
                ti = k;
        if (ti < 0)
            return layer_err(err, FM_ERR_UNSUPPORTED, ln, c.name, c.type,
                             "unknown layer type '%s' (supported: Input, Convolution, BatchNorm, "
                             "Scale, ReLU, ReLU6, Pooling, Eltwise, Concat, Flatten, Reshape, "
                             "Dropout, Permute, Normalize, PriorBox, Softmax, DetectionOutput, "
                             "InnerProduct)",
                             c.type);
        fm_node *L = fm_graph_add_node(g, g_types[ti].kind, c.name, c.type, err);
        if (!L)
            return FM_ERR_NOMEM;
        L->line = ln->line;
        if ((st = fm_graph_connect(g, L, in, nin, top->value ? top->value : "", err)) != FM_OK)
            return st;
        int ov = L->out;
        st = g_types[ti].parse(g, L, &c, err);
        if (st != FM_OK)
            return st;
        if (fm_shape_count(&g->values[ov].shape) == 0)
            return layer_err(err, FM_ERR_SHAPE, ln, c.name, c.type, "empty output shape");
    }
    if (g->ninputs == 0)
        return fm_err_set(err, FM_ERR_PARSE, "%s: the network has no input",
                          fm_ptxt_filename(doc));
    if (g->nnodes == 0)
        return fm_err_set(err, FM_ERR_PARSE, "%s: the network has no layers (%d layer entries)",
                          fm_ptxt_filename(doc), nlayer_nodes);
    return FM_OK;
}

/* ---- public ------------------------------------------------------------------ */

fm_graph *fm_caffe_import(const char *prototxt_path, const char *caffemodel_path,
                          const fm_net_opts *opts, fm_err *err)
{
    fm_net_opts o = opts ? *opts : fm_net_default_opts();
    fm_graph *g = fm_graph_create(prototxt_path);
    if (!g) {
        nomem(err);
        return NULL;
    }
    fm_ptxt *doc = fm_ptxt_read(prototxt_path, err);
    if (!doc) {
        fm_graph_free(g);
        return NULL;
    }
    fm_caffemodel *model = fm_caffemodel_read(caffemodel_path, err);
    if (!model) {
        fm_ptxt_free(doc);
        fm_graph_free(g);
        return NULL;
    }
    fm_status st = parse_layers(g, doc, model, caffemodel_path, &o, err);
    fm_caffemodel_free(model);
    fm_ptxt_free(doc);
    if (st != FM_OK) {
        fm_graph_free(g);
        return NULL;
    }
    return g;
}

fm_net *fm_caffe_load_net(const char *prototxt_path, const char *caffemodel_path,
                          const fm_net_opts *opts, fm_err *err)
{
    fm_graph *g = fm_caffe_import(prototxt_path, caffemodel_path, opts, err);
    return g ? fm_net_build(g, opts, err) : NULL;
}
