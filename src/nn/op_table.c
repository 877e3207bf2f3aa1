/* op_table.c - each op's shape rule, prepare step and kernel call, bound to its row of
 * FM_OP_LIST (op.h). The kernels themselves are in ops/; this file only adapts a
 * graph node to their plain-tensor functions. */
#include "nn/op.h"

#include <stdlib.h>

#include "nn/graph.h"
#include "nn/ops/ops.h"

#define IN_SHAPE(g, n, k) (&(g)->values[(n)->in[k]].shape)
#define OUT_SHAPE(g, n) (&(g)->values[(n)->out].shape)

static fm_status need_inputs(const fm_node *n, int want, fm_err *err)
{
    if (n->nin != want)
        return fm_err_set(err, FM_ERR_PARSE, "needs %d input%s, has %d", want,
                          want == 1 ? "" : "s", n->nin);
    return FM_OK;
}

static int channels_of(const fm_shape *s)
{
    return s->ndim >= 2 ? s->d[1] : s->d[0];
}

/* ---- shape rules ---------------------------------------------------------- */

static fm_status shape_CONV(fm_graph *g, fm_node *n, fm_err *err)
{
    fm_status st = need_inputs(n, 1, err);
    return st != FM_OK ? st : fm_conv_shape(&n->conv, IN_SHAPE(g, n, 0), OUT_SHAPE(g, n), err);
}

static fm_status shape_AFFINE(fm_graph *g, fm_node *n, fm_err *err)
{
    fm_status st = need_inputs(n, 1, err);
    if (st != FM_OK)
        return st;
    int C = channels_of(IN_SHAPE(g, n, 0));
    if (n->w && n->nw != (size_t)C)
        return fm_err_set(err, FM_ERR_SHAPE, "%zu scale values for %d channels", n->nw, C);
    return fm_affine_shape(IN_SHAPE(g, n, 0), C, OUT_SHAPE(g, n), err);
}

static fm_status shape_same(fm_graph *g, fm_node *n, fm_err *err)
{
    fm_status st = need_inputs(n, 1, err);
    if (st == FM_OK)
        *OUT_SHAPE(g, n) = *IN_SHAPE(g, n, 0);
    return st;
}

static fm_status shape_ACT(fm_graph *g, fm_node *n, fm_err *err)
{
    return shape_same(g, n, err);
}

static fm_status shape_POOL(fm_graph *g, fm_node *n, fm_err *err)
{
    fm_status st = need_inputs(n, 1, err);
    return st != FM_OK ? st : fm_pool_shape(&n->pool, IN_SHAPE(g, n, 0), OUT_SHAPE(g, n), err);
}

static fm_status shape_ELTWISE(fm_graph *g, fm_node *n, fm_err *err)
{
    if (n->nin < 2)
        return fm_err_set(err, FM_ERR_PARSE, "needs at least 2 inputs, has %d", n->nin);
    const fm_shape *shapes[FM_MAX_IO];
    for (int i = 0; i < n->nin; i++)
        shapes[i] = IN_SHAPE(g, n, i);
    return fm_eltwise_shape(shapes, n->nin, OUT_SHAPE(g, n), err);
}

static fm_status shape_CONCAT(fm_graph *g, fm_node *n, fm_err *err)
{
    const fm_shape *shapes[FM_MAX_IO];
    for (int i = 0; i < n->nin; i++)
        shapes[i] = IN_SHAPE(g, n, i);
    if (n->nin < 1)
        return fm_err_set(err, FM_ERR_PARSE, "has no input");
    int nd = shapes[0]->ndim;
    if (n->axis < 0 || n->axis >= nd)
        return fm_err_set(err, FM_ERR_PARSE, "axis %d out of range for %d-axis inputs", n->axis,
                          nd);
    return fm_concat_shape(shapes, n->nin, n->axis, OUT_SHAPE(g, n), err);
}

static fm_status shape_RESHAPE(fm_graph *g, fm_node *n, fm_err *err)
{
    if (n->nin < 1)
        return fm_err_set(err, FM_ERR_PARSE, "has no input");
    if (n->flatten)
        return fm_flatten_shape(IN_SHAPE(g, n, 0), n->axis, n->end_axis, OUT_SHAPE(g, n), err);
    if (n->ndims > 0)
        return fm_reshape_shape(IN_SHAPE(g, n, 0), n->dims, n->ndims, OUT_SHAPE(g, n), err);
    *OUT_SHAPE(g, n) = *IN_SHAPE(g, n, 0); /* Dropout: the same values */
    return FM_OK;
}

static fm_status shape_PERMUTE(fm_graph *g, fm_node *n, fm_err *err)
{
    fm_status st = need_inputs(n, 1, err);
    return st != FM_OK ? st
                       : fm_permute_shape(IN_SHAPE(g, n, 0), n->dims, n->ndims, OUT_SHAPE(g, n),
                                          err);
}

static fm_status shape_NORMALIZE(fm_graph *g, fm_node *n, fm_err *err)
{
    fm_status st = need_inputs(n, 1, err);
    if (st != FM_OK)
        return st;
    const fm_shape *in = IN_SHAPE(g, n, 0);
    if (in->ndim != 4)
        return fm_err_set(err, FM_ERR_SHAPE, "expects a 4-axis input (N, C, H, W)");
    if (n->w && n->nw != (size_t)(n->norm.channel_shared ? 1 : in->d[1]))
        return fm_err_set(err, FM_ERR_SHAPE, "%zu scale values for %d channels", n->nw, in->d[1]);
    *OUT_SHAPE(g, n) = *in;
    return FM_OK;
}

static fm_status shape_PRIORBOX(fm_graph *g, fm_node *n, fm_err *err)
{
    if (n->nin != 2)
        return fm_err_set(err, FM_ERR_PARSE, "needs 2 inputs (feature map, image), has %d",
                          n->nin);
    n->constant = 1;
    return fm_priorbox_shape(&n->prior, IN_SHAPE(g, n, 0), IN_SHAPE(g, n, 1), OUT_SHAPE(g, n),
                             err);
}

static fm_status shape_SOFTMAX(fm_graph *g, fm_node *n, fm_err *err)
{
    fm_status st = need_inputs(n, 1, err);
    if (st != FM_OK)
        return st;
    const fm_shape *in = IN_SHAPE(g, n, 0);
    if (n->axis < 0 || n->axis >= in->ndim)
        return fm_err_set(err, FM_ERR_PARSE, "axis out of range for a %d-axis input", in->ndim);
    return fm_softmax_shape(in, n->axis, OUT_SHAPE(g, n), err);
}

static fm_status shape_DETOUT(fm_graph *g, fm_node *n, fm_err *err)
{
    if (n->nin != 3)
        return fm_err_set(err, FM_ERR_PARSE, "needs 3 inputs (loc, conf, priors), has %d",
                          n->nin);
    return fm_detout_shape(&n->det, IN_SHAPE(g, n, 0), IN_SHAPE(g, n, 1), IN_SHAPE(g, n, 2),
                           OUT_SHAPE(g, n), err);
}

static fm_status shape_IP(fm_graph *g, fm_node *n, fm_err *err)
{
    fm_status st = need_inputs(n, 1, err);
    return st != FM_OK ? st : fm_ip_shape(&n->ip, IN_SHAPE(g, n, 0), OUT_SHAPE(g, n), err);
}

static fm_status shape_RESIZE(fm_graph *g, fm_node *n, fm_err *err)
{
    fm_status st = need_inputs(n, 1, err);
    return st != FM_OK ? st : fm_resize_shape(&n->resize, IN_SHAPE(g, n, 0), OUT_SHAPE(g, n), err);
}

static fm_status shape_CONV_DW(fm_graph *g, fm_node *n, fm_err *err)
{
    fm_status st = need_inputs(n, 1, err);
    return st != FM_OK ? st
                       : fm_pwdw_shape(&n->conv, &n->conv2, IN_SHAPE(g, n, 0), OUT_SHAPE(g, n),
                                       err);
}

/* ---- prepare steps -------------------------------------------------------- */

static fm_status prepare_CONV(fm_graph *g, fm_node *n, int threads, int reference, size_t *scratch,
                              fm_err *err)
{
    n->conv.act = n->act;
    if (reference)
        return FM_OK;
    fm_conv_plan_free(n->plan);
    n->plan = fm_conv_plan_create(&n->conv, IN_SHAPE(g, n, 0), n->w, n->b, threads, err);
    if (!n->plan)
        return err ? err->status : FM_ERR_NOMEM;
    *scratch = fm_conv_plan_scratch(n->plan);
    return FM_OK;
}

static fm_status prepare_CONV_DW(fm_graph *g, fm_node *n, int threads, int reference,
                                 size_t *scratch, fm_err *err)
{
    n->conv2.act = n->act;
    fm_pwdw_plan_free(n->pwdw_plan);
    n->pwdw_plan = NULL;
    if (reference) { /* the 1x1's whole output, between the two reference convolutions */
        *scratch = fm_pwdw_ref_scratch(&n->conv, IN_SHAPE(g, n, 0));
        return FM_OK;
    }
    n->pwdw_plan = fm_pwdw_plan_create(&n->conv, n->w, n->b, &n->conv2, n->w2, n->b2,
                                       IN_SHAPE(g, n, 0), threads, err);
    if (!n->pwdw_plan)
        return err ? err->status : FM_ERR_NOMEM;
    *scratch = fm_pwdw_plan_scratch(n->pwdw_plan);
    return FM_OK;
}

static fm_status prepare_DETOUT(fm_graph *g, fm_node *n, int threads, int reference,
                                size_t *scratch, fm_err *err)
{
    *scratch = fm_detout_scratch(&n->det, IN_SHAPE(g, n, 0), IN_SHAPE(g, n, 1));
    return FM_OK;
}

static fm_status prepare_PRIORBOX(fm_graph *g, fm_node *n, int threads, int reference,
                                  size_t *scratch, fm_err *err)
{
    fm_priorbox_forward(&n->prior, IN_SHAPE(g, n, 0), IN_SHAPE(g, n, 1), &g->values[n->out].t);
    return FM_OK;
}

static fm_status prepare_fused_act(fm_graph *g, fm_node *n, int threads, int reference,
                                   size_t *scratch, fm_err *err)
{
    if (n->kind == FM_LAYER_ELTWISE)
        n->eltwise.act = n->act;
    if (n->kind == FM_LAYER_IP)
        n->ip.act = n->act;
    return FM_OK;
}

#define prepare_AFFINE NULL
#define prepare_ACT NULL
#define prepare_POOL NULL
#define prepare_ELTWISE prepare_fused_act
#define prepare_CONCAT NULL
#define prepare_RESHAPE NULL
#define prepare_PERMUTE NULL
#define prepare_NORMALIZE NULL
#define prepare_SOFTMAX NULL
#define prepare_IP prepare_fused_act
#define prepare_RESIZE NULL

/* ---- kernels ---------------------------------------------------------------- */

static void run_CONV(const fm_op_ctx *c)
{
    fm_node *n = c->node;
    if (n->plan)
        fm_conv_run(n->plan, c->in[0]->data, c->out->data, c->scratch, c->pool);
    else
        fm_conv_forward_ref(&n->conv, c->in[0], n->w, n->b, c->out);
}

static void run_CONV_DW(const fm_op_ctx *c)
{
    fm_node *n = c->node;
    if (n->pwdw_plan)
        fm_pwdw_run(n->pwdw_plan, c->in[0]->data, c->out->data, c->scratch, c->pool);
    else
        fm_pwdw_forward_ref(&n->conv, n->w, n->b, &n->conv2, n->w2, n->b2, c->in[0], c->scratch,
                            c->out);
}

static void run_AFFINE(const fm_op_ctx *c)
{
    fm_affine_forward(c->in[0], c->node->w, c->node->b, c->node->act, c->out, c->pool);
}

static void run_ACT(const fm_op_ctx *c)
{
    fm_act_forward(c->in[0], c->node->act, c->out, c->pool);
}

static void run_POOL(const fm_op_ctx *c)
{
    fm_pool_forward(&c->node->pool, c->in[0], c->out, c->pool);
}

static void run_ELTWISE(const fm_op_ctx *c)
{
    fm_eltwise_forward(&c->node->eltwise, c->in, c->node->nin, c->out, c->pool);
}

static void run_CONCAT(const fm_op_ctx *c)
{
    fm_concat_forward(c->in, c->node->nin, c->node->axis, c->out);
}

static void run_RESHAPE(const fm_op_ctx *c)
{
    fm_reshape_forward(c->in[0], c->out);
}

static void run_PERMUTE(const fm_op_ctx *c)
{
    if (c->reference)
        fm_permute_forward_ref(c->in[0], c->node->dims, c->node->ndims, c->out);
    else
        fm_permute_forward(c->in[0], c->node->dims, c->node->ndims, c->out);
}

static void run_NORMALIZE(const fm_op_ctx *c)
{
    fm_normalize_forward(&c->node->norm, c->in[0], c->node->w, c->out);
}

static void run_PRIORBOX(const fm_op_ctx *c)
{
    (void)c; /* constant, computed by prepare */
}

static void run_SOFTMAX(const fm_op_ctx *c)
{
    fm_softmax_forward(c->in[0], c->node->axis, c->out);
}

static void run_DETOUT(const fm_op_ctx *c)
{
    /* The op sees its full capacity; the rows it wrote become the output's length. */
    int rows = fm_detout_forward(&c->node->det, c->in[0], c->in[1], c->in[2], c->out, c->scratch);
    c->out->shape.d[2] = rows;
}

static void run_IP(const fm_op_ctx *c)
{
    fm_ip_forward(&c->node->ip, c->in[0], c->node->w, c->node->b, c->out, c->pool);
}

static void run_RESIZE(const fm_op_ctx *c)
{
    if (c->reference)
        fm_resize_forward_ref(&c->node->resize, c->in[0], c->out);
    else
        fm_resize_forward(&c->node->resize, c->in[0], c->out, c->pool);
}

/* ---- the table ------------------------------------------------------------- */

static const fm_op_def g_ops[FM_LAYER_COUNT] = {
#define FM_OP_ROW(id, nm, ip, fa, tr) [FM_LAYER_##id] = {nm, ip, fa, tr, shape_##id, prepare_##id, run_##id},
    FM_OP_LIST(FM_OP_ROW)
#undef FM_OP_ROW
};

_Static_assert(sizeof g_ops / sizeof g_ops[0] == FM_LAYER_COUNT, "one row per op");

const fm_op_def *fm_op_get(fm_layer_kind kind)
{
    if ((int)kind < 0 || kind >= FM_LAYER_COUNT)
        return NULL;
    return &g_ops[kind];
}

const char *fm_op_name(fm_layer_kind kind)
{
    const fm_op_def *op = fm_op_get(kind);
    return op ? op->name : "?";
}
