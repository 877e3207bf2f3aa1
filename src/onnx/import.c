/* import.c - an ONNX model (onnx_proto.h) into facemask's graph (nn/graph.h).
 *
 * Constants (initializers and Constant nodes) are looked up by name when a node
 * needs one (weights, a Reshape's shape, a Resize's scales); every other input must
 * be a value an earlier node or the graph input produced. Each node is checked
 * against what facemask implements, attribute by attribute, and its output shape
 * comes from the op's shape rule, so the input size can be chosen at load time.
 */
#include "onnx/onnx.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/graph.h"

#define SUPPORTED                                                                              \
    "Conv, Relu, LeakyRelu, Sigmoid, MaxPool, GlobalAveragePool, Add, Transpose, Reshape, "   \
    "Flatten, Concat, Resize, Identity, Dropout, Constant"

typedef struct {
    const fm_onnx_model *m;
    const char *source;
    fm_graph *g;
    /* Constant nodes: name -> tensor (the attribute's) */
    const fm_onnx_tensor **consts;
    const char **const_names;
    int nconsts;
} importer;

static fm_status node_err(fm_err *err, fm_status st, const importer *im, const fm_onnx_node *n,
                          const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static fm_status node_err(fm_err *err, fm_status st, const importer *im, const fm_onnx_node *n,
                          const char *fmt, ...)
{
    if (!err)
        return st;
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fm_err_set(err, st, "%s: node '%s' (%s): %s", im->source, n->name, n->op_type, what);
}

static const fm_onnx_tensor *find_const(const importer *im, const char *name)
{
    const fm_onnx_tensor *t = fm_onnx_initializer(im->m, name);
    if (t)
        return t;
    for (int i = im->nconsts - 1; i >= 0; i--)
        if (strcmp(im->const_names[i], name) == 0)
            return im->consts[i];
    return NULL;
}

/* ---- attributes ------------------------------------------------------------ */

static fm_status attr_int(const importer *im, const fm_onnx_node *n, const char *name, long long def,
                          long long lo, long long hi, long long *out, fm_err *err)
{
    const fm_onnx_attr *a = fm_onnx_node_attr(n, name);
    if (!a) {
        *out = def;
        return FM_OK;
    }
    if (a->type != FM_ONNX_ATTR_INT)
        return node_err(err, FM_ERR_FORMAT, im, n, "attribute '%s' is %s, expected INT", name,
                        fm_onnx_attr_type_name(a->type));
    if (a->i < lo || a->i > hi)
        return node_err(err, FM_ERR_UNSUPPORTED, im, n,
                        "attribute '%s' is %lld, expected %lld..%lld", name, (long long)a->i, lo,
                        hi);
    *out = a->i;
    return FM_OK;
}

static fm_status attr_float(const importer *im, const fm_onnx_node *n, const char *name, float def,
                            float *out, fm_err *err)
{
    const fm_onnx_attr *a = fm_onnx_node_attr(n, name);
    if (!a) {
        *out = def;
        return FM_OK;
    }
    if (a->type != FM_ONNX_ATTR_FLOAT || !isfinite(a->f))
        return node_err(err, FM_ERR_FORMAT, im, n, "attribute '%s' must be a finite FLOAT", name);
    *out = a->f;
    return FM_OK;
}

/* A STRING attribute equal to one of the allowed values (the first is the default). */
static fm_status attr_str_is(const importer *im, const fm_onnx_node *n, const char *name,
                             const char *const *allowed, int nallowed, int *which, fm_err *err)
{
    const fm_onnx_attr *a = fm_onnx_node_attr(n, name);
    *which = 0;
    if (!a)
        return FM_OK;
    if (a->type != FM_ONNX_ATTR_STRING)
        return node_err(err, FM_ERR_FORMAT, im, n, "attribute '%s' is %s, expected STRING", name,
                        fm_onnx_attr_type_name(a->type));
    for (int i = 0; i < nallowed; i++) {
        if (strlen(allowed[i]) == a->s.len && memcmp(allowed[i], a->s.s, a->s.len) == 0) {
            *which = i;
            return FM_OK;
        }
    }
    char list[200] = "";
    for (int i = 0; i < nallowed; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'", i ? ", " : "",
                 allowed[i]);
    return node_err(err, FM_ERR_UNSUPPORTED, im, n, "attribute '%s' is '%.*s' (supported: %s)",
                    name, (int)(a->s.len > 64 ? 64 : a->s.len), a->s.s, list);
}

/* An INTS attribute of exactly `count` values in [lo, hi]; absent: def (count values). */
static fm_status attr_ints(const importer *im, const fm_onnx_node *n, const char *name, int count,
                           const long long *def, long long lo, long long hi, long long *out,
                           fm_err *err)
{
    const fm_onnx_attr *a = fm_onnx_node_attr(n, name);
    if (!a) {
        if (!def)
            return node_err(err, FM_ERR_FORMAT, im, n, "attribute '%s' is missing", name);
        for (int i = 0; i < count; i++)
            out[i] = def[i];
        return FM_OK;
    }
    if (a->type != FM_ONNX_ATTR_INTS)
        return node_err(err, FM_ERR_FORMAT, im, n, "attribute '%s' is %s, expected INTS", name,
                        fm_onnx_attr_type_name(a->type));
    if (a->nints != (size_t)count)
        return node_err(err, FM_ERR_UNSUPPORTED, im, n, "attribute '%s' has %zu values, expected %d",
                        name, a->nints, count);
    for (int i = 0; i < count; i++) {
        if (a->ints[i] < lo || a->ints[i] > hi)
            return node_err(err, FM_ERR_UNSUPPORTED, im, n,
                            "attribute '%s' value %lld out of range (expected %lld..%lld)", name,
                            (long long)a->ints[i], lo, hi);
        out[i] = a->ints[i];
    }
    return FM_OK;
}

/* auto_pad must be absent or NOTSET: explicit pads only. */
static fm_status no_auto_pad(const importer *im, const fm_onnx_node *n, fm_err *err)
{
    static const char *const ok[] = {"NOTSET"};
    int w;
    return attr_str_is(im, n, "auto_pad", ok, 1, &w, err);
}

/* 2-D pads [top, left, bottom, right] that are symmetric. */
static fm_status sym_pads(const importer *im, const fm_onnx_node *n, int *ph, int *pw, fm_err *err)
{
    static const long long zero[4] = {0, 0, 0, 0};
    long long p[4];
    fm_status st = attr_ints(im, n, "pads", 4, zero, 0, 4096, p, err);
    if (st != FM_OK)
        return st;
    if (p[0] != p[2] || p[1] != p[3])
        return node_err(err, FM_ERR_UNSUPPORTED, im, n,
                        "pads [%lld, %lld, %lld, %lld] are not symmetric (supported: begin == end)",
                        p[0], p[1], p[2], p[3]);
    *ph = (int)p[0];
    *pw = (int)p[1];
    return FM_OK;
}

/* ---- inputs and constants -------------------------------------------------- */

/* The value an input names (produced by an earlier node or a graph input). */
static fm_status input_value(const importer *im, const fm_onnx_node *n, int k, int *v, fm_err *err)
{
    if (k >= n->ninputs || !n->inputs[k][0])
        return node_err(err, FM_ERR_FORMAT, im, n, "input %d is missing", k);
    *v = fm_graph_find_value(im->g, n->inputs[k]);
    if (*v >= 0)
        return FM_OK;
    if (find_const(im, n->inputs[k]))
        return node_err(err, FM_ERR_UNSUPPORTED, im, n,
                        "input %d '%s' is a constant; facemask expects a computed tensor there", k,
                        n->inputs[k]);
    return node_err(err, FM_ERR_FORMAT, im, n,
                    "input %d '%s' is not produced by any earlier node, graph input or initializer",
                    k, n->inputs[k]);
}

/* A constant input (initializer or Constant node) of the given element type. */
static fm_status const_input(const importer *im, const fm_onnx_node *n, int k, int want_float,
                             const fm_onnx_tensor **t, fm_err *err)
{
    if (k >= n->ninputs || !n->inputs[k][0])
        return node_err(err, FM_ERR_FORMAT, im, n, "input %d is missing", k);
    *t = find_const(im, n->inputs[k]);
    if (!*t) {
        if (fm_graph_find_value(im->g, n->inputs[k]) >= 0)
            return node_err(err, FM_ERR_UNSUPPORTED, im, n,
                            "input %d '%s' is computed at run time; facemask needs a constant "
                            "(initializer) there",
                            k, n->inputs[k]);
        return node_err(err, FM_ERR_FORMAT, im, n, "input %d '%s': no initializer of that name", k,
                        n->inputs[k]);
    }
    int ok = want_float ? (*t)->f != NULL || (*t)->count == 0
                        : (*t)->i64 != NULL || (*t)->count == 0;
    int dt = (*t)->data_type;
    ok = ok && (want_float ? dt == FM_ONNX_DT_FLOAT
                           : (dt == FM_ONNX_DT_INT64 || dt == FM_ONNX_DT_INT32));
    if (!ok)
        return node_err(err, FM_ERR_UNSUPPORTED, im, n, "input %d '%s' is %s, expected %s", k,
                        n->inputs[k], fm_onnx_dtype_name(dt), want_float ? "FLOAT" : "INT64");
    return FM_OK;
}

static float *copy_floats(const float *src, size_t n)
{
    float *d = malloc(n ? n * sizeof *d : 1);
    if (d && n)
        memcpy(d, src, n * sizeof *d);
    return d;
}

static fm_status nomem(fm_err *err)
{
    return fm_err_set(err, FM_ERR_NOMEM, "out of memory while importing the network");
}

/* Adds a node of `kind` reading values in[0..nin) and writing the node's first output. */
static fm_node *add_node(importer *im, const fm_onnx_node *n, fm_layer_kind kind, const int *in,
                         int nin, fm_err *err)
{
    if (n->noutputs < 1 || !n->outputs[0][0]) {
        node_err(err, FM_ERR_FORMAT, im, n, "has no output");
        return NULL;
    }
    for (int k = 1; k < n->noutputs; k++) {
        if (n->outputs[k][0]) {
            node_err(err, FM_ERR_UNSUPPORTED, im, n,
                     "output %d '%s' is not supported (only the first output is computed)", k,
                     n->outputs[k]);
            return NULL;
        }
    }
    if (fm_graph_find_value(im->g, n->outputs[0]) >= 0 || find_const(im, n->outputs[0])) {
        node_err(err, FM_ERR_FORMAT, im, n, "output '%s' is already defined (ONNX values are "
                 "assigned once)", n->outputs[0]);
        return NULL;
    }
    fm_node *L = fm_graph_add_node(im->g, kind, n->name, n->op_type, err);
    if (!L)
        return NULL;
    if (fm_graph_connect(im->g, L, in, nin, n->outputs[0], err) != FM_OK)
        return NULL;
    return L;
}

static fm_status infer(importer *im, const fm_onnx_node *n, fm_node *L, fm_err *err)
{
    fm_status st = fm_graph_infer(im->g, L, err);
    if (st != FM_OK)
        return node_err(err, st, im, n, "%s", err ? err->msg : "");
    return FM_OK;
}

/* ---- ops --------------------------------------------------------------------- */

static fm_status op_conv(importer *im, const fm_onnx_node *n, fm_err *err)
{
    int x;
    const fm_onnx_tensor *w, *b = NULL;
    fm_status st;
    if ((st = input_value(im, n, 0, &x, err)) != FM_OK ||
        (st = const_input(im, n, 1, 1, &w, err)) != FM_OK)
        return st;
    if (n->ninputs > 2 && n->inputs[2][0] && (st = const_input(im, n, 2, 1, &b, err)) != FM_OK)
        return st;
    if (w->ndims != 4)
        return node_err(err, FM_ERR_UNSUPPORTED, im, n,
                        "weight '%s' has %d axes (supported: 2-D convolution, 4 axes)", w->name,
                        w->ndims);
    const fm_shape *xs = &im->g->values[x].shape;
    if (xs->ndim != 4)
        return node_err(err, FM_ERR_SHAPE, im, n, "input has %d axes, expected 4 (N, C, H, W)",
                        xs->ndim);
    if ((st = no_auto_pad(im, n, err)) != FM_OK)
        return st;
    long long group, ks[2], strides[2], dil[2];
    static const long long ones[2] = {1, 1};
    long long wk[2] = {w->dims[2], w->dims[3]};
    if ((st = attr_int(im, n, "group", 1, 1, 1 << 20, &group, err)) != FM_OK ||
        (st = attr_ints(im, n, "kernel_shape", 2, wk, 1, 4096, ks, err)) != FM_OK ||
        (st = attr_ints(im, n, "strides", 2, ones, 1, 4096, strides, err)) != FM_OK ||
        (st = attr_ints(im, n, "dilations", 2, ones, 1, 4096, dil, err)) != FM_OK)
        return st;
    if (ks[0] != w->dims[2] || ks[1] != w->dims[3])
        return node_err(err, FM_ERR_SHAPE, im, n,
                        "kernel_shape %lldx%lld disagrees with weight '%s' (%lldx%lld)", ks[0],
                        ks[1], w->name, (long long)w->dims[2], (long long)w->dims[3]);
    long long M = w->dims[0], Cg = w->dims[1], C = xs->d[1];
    if (M < 1 || M > (1 << 20) || C % group != 0 || Cg != C / group || M % group != 0)
        return node_err(err, FM_ERR_SHAPE, im, n,
                        "weight '%s' is %lldx%lldx%lldx%lld; for %lld input channels in %lld "
                        "groups expected (M, %lld, kh, kw) with M a multiple of the groups",
                        w->name, (long long)w->dims[0], (long long)w->dims[1],
                        (long long)w->dims[2], (long long)w->dims[3], C, group,
                        group > 0 ? C / group : 0);
    if (b && (b->ndims != 1 || b->dims[0] != M))
        return node_err(err, FM_ERR_SHAPE, im, n, "bias '%s' has %zu values, expected %lld",
                        b->name, b->count, M);
    fm_node *L = add_node(im, n, FM_LAYER_CONV, &x, 1, err);
    if (!L)
        return err ? err->status : FM_ERR_NOMEM;
    fm_conv_param *cp = &L->conv;
    cp->num_output = (int)M;
    cp->group = (int)group;
    cp->kernel_h = (int)ks[0];
    cp->kernel_w = (int)ks[1];
    cp->stride_h = (int)strides[0];
    cp->stride_w = (int)strides[1];
    cp->dilation_h = (int)dil[0];
    cp->dilation_w = (int)dil[1];
    cp->bias_term = 1; /* always materialised, so folding can add to it */
    if ((st = sym_pads(im, n, &cp->pad_h, &cp->pad_w, err)) != FM_OK)
        return st;
    L->nw = w->count;
    L->nb = (size_t)M;
    L->w = copy_floats(w->f, w->count);
    L->b = calloc(L->nb, sizeof *L->b);
    if (!L->w || !L->b)
        return nomem(err);
    if (b)
        memcpy(L->b, b->f, L->nb * sizeof *L->b);
    return infer(im, n, L, err);
}

static fm_status op_act(importer *im, const fm_onnx_node *n, fm_act act, fm_err *err)
{
    int x;
    fm_status st = input_value(im, n, 0, &x, err);
    if (st != FM_OK)
        return st;
    float slope = 0;
    if (strcmp(n->op_type, "LeakyRelu") == 0 &&
        (st = attr_float(im, n, "alpha", 0.01f, &slope, err)) != FM_OK)
        return st;
    fm_node *L = add_node(im, n, FM_LAYER_ACT, &x, 1, err);
    if (!L)
        return err ? err->status : FM_ERR_NOMEM;
    L->act.act = act;
    L->act.slope = slope;
    return infer(im, n, L, err);
}

static fm_status op_maxpool(importer *im, const fm_onnx_node *n, fm_err *err)
{
    int x;
    fm_status st = input_value(im, n, 0, &x, err);
    if (st != FM_OK || (st = no_auto_pad(im, n, err)) != FM_OK)
        return st;
    long long ks[2], strides[2], dil[2], ceil_mode, order;
    static const long long ones[2] = {1, 1};
    if ((st = attr_ints(im, n, "kernel_shape", 2, NULL, 1, 4096, ks, err)) != FM_OK ||
        (st = attr_ints(im, n, "strides", 2, ones, 1, 4096, strides, err)) != FM_OK ||
        (st = attr_ints(im, n, "dilations", 2, ones, 1, 1, dil, err)) != FM_OK ||
        (st = attr_int(im, n, "ceil_mode", 0, 0, 1, &ceil_mode, err)) != FM_OK ||
        (st = attr_int(im, n, "storage_order", 0, 0, 0, &order, err)) != FM_OK)
        return st;
    fm_node *L = add_node(im, n, FM_LAYER_POOL, &x, 1, err);
    if (!L)
        return err ? err->status : FM_ERR_NOMEM;
    fm_pool_param *pp = &L->pool;
    pp->method = FM_POOL_MAX;
    pp->kernel_h = (int)ks[0];
    pp->kernel_w = (int)ks[1];
    pp->stride_h = (int)strides[0];
    pp->stride_w = (int)strides[1];
    pp->floor_mode = !ceil_mode;
    if ((st = sym_pads(im, n, &pp->pad_h, &pp->pad_w, err)) != FM_OK)
        return st;
    return infer(im, n, L, err);
}

static fm_status op_global_avgpool(importer *im, const fm_onnx_node *n, fm_err *err)
{
    int x;
    fm_status st = input_value(im, n, 0, &x, err);
    if (st != FM_OK)
        return st;
    fm_node *L = add_node(im, n, FM_LAYER_POOL, &x, 1, err);
    if (!L)
        return err ? err->status : FM_ERR_NOMEM;
    L->pool.method = FM_POOL_AVE;
    L->pool.global = 1;
    L->pool.kernel_h = L->pool.kernel_w = L->pool.stride_h = L->pool.stride_w = 1;
    return infer(im, n, L, err);
}

static fm_status op_add(importer *im, const fm_onnx_node *n, fm_err *err)
{
    if (n->ninputs != 2)
        return node_err(err, FM_ERR_FORMAT, im, n, "has %d inputs, expected 2", n->ninputs);
    int in[2];
    fm_status st;
    if ((st = input_value(im, n, 0, &in[0], err)) != FM_OK ||
        (st = input_value(im, n, 1, &in[1], err)) != FM_OK)
        return st;
    const fm_shape *a = &im->g->values[in[0]].shape, *b = &im->g->values[in[1]].shape;
    if (!fm_shape_eq(a, b)) {
        char sa[64], sb[64];
        return node_err(err, FM_ERR_UNSUPPORTED, im, n,
                        "inputs of shapes %s and %s (supported: the same shape, no broadcasting)",
                        fm_shape_str(a, sa, sizeof sa), fm_shape_str(b, sb, sizeof sb));
    }
    fm_node *L = add_node(im, n, FM_LAYER_ELTWISE, in, 2, err);
    if (!L)
        return err ? err->status : FM_ERR_NOMEM;
    L->eltwise.op = FM_ELTWISE_SUM;
    return infer(im, n, L, err);
}

static fm_status op_transpose(importer *im, const fm_onnx_node *n, fm_err *err)
{
    int x;
    fm_status st = input_value(im, n, 0, &x, err);
    if (st != FM_OK)
        return st;
    int nd = im->g->values[x].shape.ndim;
    long long perm[FM_MAX_DIMS], rev[FM_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        rev[i] = nd - 1 - i; /* ONNX's default: reverse the axes */
    if ((st = attr_ints(im, n, "perm", nd, rev, 0, nd - 1, perm, err)) != FM_OK)
        return st;
    fm_node *L = add_node(im, n, FM_LAYER_PERMUTE, &x, 1, err);
    if (!L)
        return err ? err->status : FM_ERR_NOMEM;
    for (int i = 0; i < nd; i++)
        L->dims[i] = (int)perm[i];
    L->ndims = nd;
    return infer(im, n, L, err);
}

static fm_status op_reshape(importer *im, const fm_onnx_node *n, fm_err *err)
{
    int x;
    const fm_onnx_tensor *s;
    fm_status st;
    if ((st = input_value(im, n, 0, &x, err)) != FM_OK ||
        (st = const_input(im, n, 1, 0, &s, err)) != FM_OK)
        return st;
    long long allowzero;
    if ((st = attr_int(im, n, "allowzero", 0, 0, 0, &allowzero, err)) != FM_OK)
        return st;
    if (s->ndims != 1 || s->count < 1 || s->count > FM_MAX_DIMS)
        return node_err(err, FM_ERR_UNSUPPORTED, im, n,
                        "shape '%s' has %zu values (supported: 1 to %d)", s->name, s->count,
                        FM_MAX_DIMS);
    for (size_t i = 0; i < s->count; i++)
        if (s->i64[i] < -1 || s->i64[i] > (1 << 30))
            return node_err(err, FM_ERR_FORMAT, im, n, "shape '%s' value %lld out of range",
                            s->name, (long long)s->i64[i]);
    fm_node *L = add_node(im, n, FM_LAYER_RESHAPE, &x, 1, err);
    if (!L)
        return err ? err->status : FM_ERR_NOMEM;
    for (size_t i = 0; i < s->count; i++)
        L->dims[i] = (int)s->i64[i];
    L->ndims = (int)s->count;
    return infer(im, n, L, err);
}

static fm_status op_flatten(importer *im, const fm_onnx_node *n, fm_err *err)
{
    int x;
    fm_status st = input_value(im, n, 0, &x, err);
    if (st != FM_OK)
        return st;
    long long axis;
    int nd = im->g->values[x].shape.ndim;
    if ((st = attr_int(im, n, "axis", 1, -nd, nd, &axis, err)) != FM_OK)
        return st;
    if (axis < 0)
        axis += nd;
    if (axis != 1)
        return node_err(err, FM_ERR_UNSUPPORTED, im, n, "axis %lld (supported: 1)", axis);
    fm_node *L = add_node(im, n, FM_LAYER_RESHAPE, &x, 1, err);
    if (!L)
        return err ? err->status : FM_ERR_NOMEM;
    L->flatten = 1;
    L->axis = 1;
    L->end_axis = -1;
    return infer(im, n, L, err);
}

static fm_status op_concat(importer *im, const fm_onnx_node *n, fm_err *err)
{
    if (n->ninputs < 1 || n->ninputs > FM_MAX_IO)
        return node_err(err, FM_ERR_UNSUPPORTED, im, n, "has %d inputs (supported: 1 to %d)",
                        n->ninputs, FM_MAX_IO);
    int in[FM_MAX_IO];
    fm_status st;
    for (int k = 0; k < n->ninputs; k++)
        if ((st = input_value(im, n, k, &in[k], err)) != FM_OK)
            return st;
    int nd = im->g->values[in[0]].shape.ndim;
    long long axis;
    if ((st = attr_int(im, n, "axis", 1LL << 40, -nd, nd - 1, &axis, err)) != FM_OK)
        return st;
    if (axis == 1LL << 40)
        return node_err(err, FM_ERR_FORMAT, im, n, "attribute 'axis' is missing");
    fm_node *L = add_node(im, n, FM_LAYER_CONCAT, in, n->ninputs, err);
    if (!L)
        return err ? err->status : FM_ERR_NOMEM;
    L->axis = (int)(axis < 0 ? axis + nd : axis);
    return infer(im, n, L, err);
}

static fm_status op_resize(importer *im, const fm_onnx_node *n, fm_err *err)
{
    int x;
    fm_status st = input_value(im, n, 0, &x, err);
    if (st != FM_OK)
        return st;
    static const char *const modes[] = {"nearest"};
    static const char *const ctms[] = {"half_pixel", "asymmetric"};
    static const char *const nms[] = {"round_prefer_floor", "floor"};
    int mode, ctm, nm;
    if ((st = attr_str_is(im, n, "mode", modes, 1, &mode, err)) != FM_OK ||
        (st = attr_str_is(im, n, "coordinate_transformation_mode", ctms, 2, &ctm, err)) != FM_OK ||
        (st = attr_str_is(im, n, "nearest_mode", nms, 2, &nm, err)) != FM_OK)
        return st;
    if (im->m->opset >= 11 && (ctm != 1 || nm != 1))
        return node_err(err, FM_ERR_UNSUPPORTED, im, n,
                        "nearest Resize is supported with coordinate_transformation_mode "
                        "'asymmetric' and nearest_mode 'floor' only");
    /* opset 10: (X, scales); 11+: (X, roi, scales, sizes) */
    int scales_at = im->m->opset >= 11 ? 2 : 1, sizes_at = 3;
    const fm_onnx_tensor *sc = NULL, *sz = NULL;
    if (n->ninputs > scales_at && n->inputs[scales_at][0] &&
        (st = const_input(im, n, scales_at, 1, &sc, err)) != FM_OK)
        return st;
    if (sc && sc->count == 0)
        sc = NULL; /* an empty scales tensor means: use sizes */
    if (!sc && im->m->opset >= 11 && n->ninputs > sizes_at && n->inputs[sizes_at][0] &&
        (st = const_input(im, n, sizes_at, 0, &sz, err)) != FM_OK)
        return st;
    const fm_shape *xs = &im->g->values[x].shape;
    if (xs->ndim != 4)
        return node_err(err, FM_ERR_UNSUPPORTED, im, n, "input has %d axes (supported: 4)",
                        xs->ndim);
    float sh, sw;
    if (sc) {
        if (sc->count != 4 || sc->f[0] != 1.0f || sc->f[1] != 1.0f)
            return node_err(err, FM_ERR_UNSUPPORTED, im, n,
                            "scales must be [1, 1, sh, sw] (got %zu values)", sc->count);
        sh = sc->f[2];
        sw = sc->f[3];
    } else if (sz) {
        if (sz->count != 4 || sz->i64[0] != xs->d[0] || sz->i64[1] != xs->d[1] || sz->i64[2] < 1 ||
            sz->i64[3] < 1 || sz->i64[2] > (1 << 20) || sz->i64[3] > (1 << 20))
            return node_err(err, FM_ERR_UNSUPPORTED, im, n,
                            "sizes must be [N, C, H, W] keeping N and C");
        sh = (float)sz->i64[2] / (float)xs->d[2];
        sw = (float)sz->i64[3] / (float)xs->d[3];
    } else {
        return node_err(err, FM_ERR_FORMAT, im, n, "has neither scales nor sizes");
    }
    fm_node *L = add_node(im, n, FM_LAYER_RESIZE, &x, 1, err);
    if (!L)
        return err ? err->status : FM_ERR_NOMEM;
    L->resize.scale_h = sh;
    L->resize.scale_w = sw;
    return infer(im, n, L, err);
}

static fm_status op_identity(importer *im, const fm_onnx_node *n, fm_err *err)
{
    int x;
    fm_status st = input_value(im, n, 0, &x, err);
    if (st != FM_OK)
        return st;
    fm_node *L = add_node(im, n, FM_LAYER_RESHAPE, &x, 1, err);
    if (!L)
        return err ? err->status : FM_ERR_NOMEM;
    return infer(im, n, L, err);
}

static fm_status op_constant(importer *im, const fm_onnx_node *n, fm_err *err)
{
    const fm_onnx_attr *a = fm_onnx_node_attr(n, "value");
    if (!a || a->type != FM_ONNX_ATTR_TENSOR || !a->t)
        return node_err(err, FM_ERR_UNSUPPORTED, im, n,
                        "only a Constant with a 'value' tensor is supported");
    if (n->noutputs < 1 || !n->outputs[0][0])
        return node_err(err, FM_ERR_FORMAT, im, n, "has no output");
    if ((im->nconsts & (im->nconsts - 1)) == 0) { /* grow at powers of two */
        int cap = im->nconsts ? im->nconsts * 2 : 8;
        const fm_onnx_tensor **t = realloc(im->consts, (size_t)cap * sizeof *t);
        if (t)
            im->consts = t;
        const char **nm = realloc(im->const_names, (size_t)cap * sizeof *nm);
        if (nm)
            im->const_names = nm;
        if (!t || !nm)
            return nomem(err);
    }
    im->consts[im->nconsts] = a->t;
    im->const_names[im->nconsts++] = n->outputs[0];
    return FM_OK;
}

/* ---- the graph ---------------------------------------------------------------- */

static fm_status add_graph_inputs(importer *im, const fm_net_opts *opts, fm_err *err)
{
    const fm_onnx_graph *gr = &im->m->graph;
    for (int i = 0; i < gr->ninputs; i++) {
        const fm_onnx_value *v = &gr->inputs[i];
        if (fm_onnx_initializer(im->m, v->name))
            continue; /* IR < 4 lists initializers as inputs too */
        if (v->elem_type != FM_ONNX_DT_FLOAT)
            return fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: input '%s' is %s (supported: FLOAT)",
                              im->source, v->name, fm_onnx_dtype_name(v->elem_type));
        fm_shape s = {0, {0}};
        if (im->g->ninputs == 0 && opts && opts->input_shape.ndim > 0) {
            s = opts->input_shape;
        } else {
            if (!v->has_shape || v->ndims < 1 || v->ndims > FM_MAX_DIMS)
                return fm_err_set(err, FM_ERR_UNSUPPORTED,
                                  "%s: input '%s' has no shape of 1 to %d axes in the file; give "
                                  "one (input_shape)",
                                  im->source, v->name, FM_MAX_DIMS);
            s.ndim = v->ndims;
            for (int k = 0; k < v->ndims; k++) {
                if (v->dims[k] < 1 || v->dims[k] > (1 << 16))
                    return fm_err_set(err, FM_ERR_UNSUPPORTED,
                                      "%s: input '%s' axis %d is %s; give an input shape",
                                      im->source, v->name, k,
                                      v->dims[k] < 0 ? "symbolic" : "out of range");
                s.d[k] = (int)v->dims[k];
            }
        }
        if (fm_graph_add_input(im->g, v->name, s, err) < 0)
            return err ? err->status : FM_ERR_NOMEM;
    }
    if (im->g->ninputs == 0)
        return fm_err_set(err, FM_ERR_FORMAT, "%s: the graph has no input that is not an initializer",
                          im->source);
    return FM_OK;
}

static fm_status import_nodes(importer *im, fm_err *err)
{
    const fm_onnx_graph *gr = &im->m->graph;
    for (int i = 0; i < gr->nnodes; i++) {
        const fm_onnx_node *n = &gr->nodes[i];
        if (n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
            return node_err(err, FM_ERR_UNSUPPORTED, im, n,
                            "domain '%s' is not supported (expected the default ONNX domain)",
                            n->domain);
        const char *t = n->op_type;
        fm_status st;
        if (strcmp(t, "Conv") == 0)
            st = op_conv(im, n, err);
        else if (strcmp(t, "Relu") == 0 || strcmp(t, "LeakyRelu") == 0)
            st = op_act(im, n, FM_ACT_RELU, err);
        else if (strcmp(t, "Sigmoid") == 0)
            st = op_act(im, n, FM_ACT_SIGMOID, err);
        else if (strcmp(t, "MaxPool") == 0)
            st = op_maxpool(im, n, err);
        else if (strcmp(t, "GlobalAveragePool") == 0)
            st = op_global_avgpool(im, n, err);
        else if (strcmp(t, "Add") == 0)
            st = op_add(im, n, err);
        else if (strcmp(t, "Transpose") == 0)
            st = op_transpose(im, n, err);
        else if (strcmp(t, "Reshape") == 0)
            st = op_reshape(im, n, err);
        else if (strcmp(t, "Flatten") == 0)
            st = op_flatten(im, n, err);
        else if (strcmp(t, "Concat") == 0)
            st = op_concat(im, n, err);
        else if (strcmp(t, "Resize") == 0)
            st = op_resize(im, n, err);
        else if (strcmp(t, "Identity") == 0 || strcmp(t, "Dropout") == 0)
            st = op_identity(im, n, err);
        else if (strcmp(t, "Constant") == 0)
            st = op_constant(im, n, err);
        else
            st = node_err(err, FM_ERR_UNSUPPORTED, im, n,
                          "op '%s' is not supported (supported: " SUPPORTED ")", t);
        if (st != FM_OK)
            return st;
    }
    return FM_OK;
}

static fm_status add_graph_outputs(importer *im, fm_err *err)
{
    const fm_onnx_graph *gr = &im->m->graph;
    if (gr->noutputs < 1)
        return fm_err_set(err, FM_ERR_FORMAT, "%s: the graph declares no output", im->source);
    if (gr->noutputs > FM_MAX_IO)
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: %d outputs (supported: up to %d)",
                          im->source, gr->noutputs, FM_MAX_IO);
    for (int i = 0; i < gr->noutputs; i++) {
        int v = fm_graph_find_value(im->g, gr->outputs[i].name);
        if (v < 0 || im->g->values[v].producer < 0)
            return fm_err_set(err, FM_ERR_UNSUPPORTED,
                              "%s: output '%s' is not computed by any node (a constant or an input "
                              "as an output is not supported)",
                              im->source, gr->outputs[i].name);
        fm_status st = fm_graph_add_output(im->g, v, err);
        if (st != FM_OK)
            return st;
    }
    return FM_OK;
}

fm_graph *fm_onnx_import(const fm_onnx_model *m, const char *source, const fm_net_opts *opts,
                         fm_err *err)
{
    importer im;
    memset(&im, 0, sizeof im);
    im.m = m;
    im.source = source ? source : "onnx";
    if (m->opset < FM_ONNX_MIN_OPSET || m->opset > FM_ONNX_MAX_OPSET) {
        fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: opset %lld is not supported (supported: %d to %d)",
                   im.source, (long long)m->opset, FM_ONNX_MIN_OPSET, FM_ONNX_MAX_OPSET);
        return NULL;
    }
    im.g = fm_graph_create(im.source);
    if (!im.g) {
        nomem(err);
        return NULL;
    }
    fm_status st = add_graph_inputs(&im, opts, err);
    if (st == FM_OK)
        st = import_nodes(&im, err);
    if (st == FM_OK)
        st = add_graph_outputs(&im, err);
    free(im.consts);
    free(im.const_names);
    if (st != FM_OK) {
        fm_graph_free(im.g);
        return NULL;
    }
    return im.g;
}

fm_net *fm_onnx_build_net(const fm_onnx_model *m, const char *source, const fm_net_opts *opts,
                          fm_err *err)
{
    fm_graph *g = fm_onnx_import(m, source, opts, err);
    return g ? fm_net_build(g, opts, err) : NULL;
}

fm_net *fm_onnx_load_net(const char *path, const fm_net_opts *opts, fm_err *err)
{
    fm_onnx_model *m = fm_onnx_read(path, err);
    if (!m)
        return NULL;
    fm_net *net = fm_onnx_build_net(m, path, opts, err);
    fm_onnx_free(m);
    return net;
}
