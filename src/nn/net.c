/* net.c - a graph (graph.h) folded, planned and run.
 *
 * fm_net_build takes a graph from an importer (src/caffe, src/onnx) and runs three
 * passes, each a loop over the nodes:
 *   1. fold: BatchNorm/Scale (affine nodes) into the convolution before them,
 *      affine pairs into one, ReLU/ReLU6 into the op before them (ops whose row in
 *      op.h says fuses_act); then a 1x1 convolution and the depthwise 3x3 that is
 *      the only reader of its output into one CONV_DW node (conv_pw_dw.c);
 *   2. plan: liveness of every value, then one arena whose slices are reused once
 *      a value is dead (in place where the op's row allows it);
 *   3. prepare: each op's prepare step (convolution plans with packed weights,
 *      scratch sizes, constant outputs such as PriorBox).
 * Forward is then one table call per node with no allocation.
 */
#include "nn/net.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "nn/graph.h"
#include "nn/op.h"

struct fm_net {
    fm_graph *g;
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
};

static fm_status nomem(fm_err *err)
{
    return fm_err_set(err, FM_ERR_NOMEM, "out of memory while building the network");
}

/* ---- pass 2: fold -------------------------------------------------------- */

static void append_type(fm_node *L, const char *more)
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
static fm_node *sole_producer(fm_net *net, int v)
{
    fm_value *val = &net->g->values[v];
    if (val->producer < 0 || val->consumers != 1 || val->is_output)
        return NULL;
    fm_node *P = &net->g->nodes[val->producer];
    return P->skip ? NULL : P;
}

static void take_over_output(fm_net *net, fm_node *P, fm_node *L)
{
    P->out = L->out;
    net->g->values[L->out].producer = (int)(P - net->g->nodes);
    L->skip = 1;
    append_type(P, L->type);
}

static void fold_layers(fm_net *net, const fm_net_opts *opts)
{
    for (int i = 0; i < net->g->nnodes; i++) {
        fm_node *L = &net->g->nodes[i];
        if (L->nin != 1)
            continue;
        fm_node *P = sole_producer(net, L->in[0]);
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
                   (L->act.act == FM_ACT_RELU || L->act.act == FM_ACT_RELU6) &&
                   fm_op_get(P->kind)->fuses_act) {
            P->act = L->act;
            take_over_output(net, P, L);
        }
    }
}

/* A 1x1 convolution (P) and the depthwise 3x3 (L) that alone reads its output become
 * one CONV_DW node in P's place. After the activation folds, so that L's ReLU is
 * already part of L. */
static void fold_pw_dw(fm_net *net)
{
    for (int i = 0; i < net->g->nnodes; i++) {
        fm_node *L = &net->g->nodes[i];
        if (L->skip || L->kind != FM_LAYER_CONV || L->nin != 1)
            continue;
        fm_node *P = sole_producer(net, L->in[0]);
        if (!P || P->kind != FM_LAYER_CONV || P->nin != 1)
            continue;
        const fm_value *x = &net->g->values[P->in[0]];
        if (x->shape.ndim != 4 || !fm_pwdw_fusable(&P->conv, &L->conv, x->shape.d[1]))
            continue;
        P->kind = FM_LAYER_CONV_DW;
        P->conv.act = P->act;
        P->conv2 = L->conv;
        P->conv2.act = L->act;
        P->w2 = L->w;
        P->b2 = L->b;
        P->nw2 = L->nw;
        P->nb2 = L->nb;
        L->w = L->b = NULL;
        L->nw = L->nb = 0;
        P->act = L->act;
        take_over_output(net, P, L);
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
    return fm_op_get(k)->in_place;
}

static fm_status plan_memory(fm_net *net, fm_err *err)
{
    int declared = net->g->noutputs > 0; /* else: the values no node reads, in order */
    for (int v = 0; v < net->g->nvalues; v++) {
        fm_value *val = &net->g->values[v];
        val->last_use = -1;
        if (!declared && val->producer >= 0 && val->consumers == 0 &&
            !net->g->nodes[val->producer].skip) {
            val->is_output = 1;
            if (net->g->noutputs < FM_MAX_IO)
                net->g->outputs[net->g->noutputs++] = v;
        }
    }
    for (int i = 0; i < net->g->nnodes; i++) {
        fm_node *L = &net->g->nodes[i];
        if (L->skip)
            continue;
        if (L->kind == FM_LAYER_PRIORBOX)
            continue; /* reads shapes only */
        for (int k = 0; k < L->nin; k++)
            net->g->values[L->in[k]].last_use = i;
    }
    buffer *bufs = NULL;
    int nbufs = 0;
    int keep = net->opts.keep_all_blobs;
    for (int k = 0; k < net->g->ninputs; k++) {
        fm_value *val = &net->g->values[net->g->inputs[k]];
        val->buffer = alloc_buffer(&bufs, &nbufs, fm_shape_count(&val->shape));
        if (val->buffer < 0)
            goto oom;
    }
    for (int i = 0; i < net->g->nnodes; i++) {
        fm_node *L = &net->g->nodes[i];
        if (L->skip)
            continue;
        fm_value *out = &net->g->values[L->out];
        size_t need = fm_shape_count(&out->shape);
        if (L->constant) {
            out->constant = calloc(need, sizeof(float));
            if (!out->constant)
                goto oom;
            continue;
        }
        fm_value *in0 = &net->g->values[L->in[0]];
        if (!keep && can_run_in_place(L->kind) && in0->last_use == i && !in0->is_output &&
            in0->buffer >= 0 && bufs[in0->buffer].cap >= need) {
            int used_twice = 0; /* an eltwise reading the same value twice */
            for (int k = 1; k < L->nin; k++)
                used_twice |= L->in[k] == L->in[0];
            if (!used_twice) {
                out->buffer = in0->buffer;
                in0->buffer = -2; /* handed over */
                in0->handed_to = i;
            }
        }
        if (out->buffer == -1) {
            out->buffer = alloc_buffer(&bufs, &nbufs, need);
            if (out->buffer < 0)
                goto oom;
        }
        if (!keep) {
            for (int k = 0; k < L->nin; k++) {
                fm_value *iv = &net->g->values[L->in[k]];
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
    size_t limit = net->opts.max_memory ? net->opts.max_memory : FM_NET_MAX_MEMORY;
    if (total > limit / sizeof(float)) {
        free(bufs);
        return fm_err_set(err, FM_ERR_LIMIT,
                          "%s: the network needs %zu MB of activations at this input size "
                          "(limit %zu MB)",
                          net->g->source, total / (1u << 18), limit >> 20);
    }
    if (posix_memalign((void **)&net->arena, 64, (total ? total : 16) * sizeof(float)) != 0) {
        net->arena = NULL;
        goto oom;
    }
    memset(net->arena, 0, (total ? total : 16) * sizeof(float));
    /* Point every value at its slice; a handed-over input keeps pointing at the same slice. */
    for (int v = 0; v < net->g->nvalues; v++) {
        fm_value *val = &net->g->values[v];
        val->t.shape = val->shape;
        if (val->constant)
            val->t.data = val->constant;
        else if (val->buffer >= 0)
            val->t.data = net->arena + bufs[val->buffer].offset;
    }
    /* Values whose buffer was handed over to an in-place output share its data;
     * backwards, so a chain of in-place layers resolves from its last value. */
    for (int i = net->g->nnodes - 1; i >= 0; i--) {
        fm_node *L = &net->g->nodes[i];
        if (L->skip || L->constant)
            continue;
        fm_value *in0 = &net->g->values[L->in[0]];
        if (in0->buffer == -2 && in0->handed_to == i) /* not an earlier reader of the value */
            in0->t.data = net->g->values[L->out].t.data;
    }
    free(bufs);
    return FM_OK;
oom:
    free(bufs);
    return nomem(err);
}

/* ---- pass 3 (continued): prepare ------------------------------------------ */

static fm_status prepare(fm_net *net, fm_err *err)
{
    size_t scratch = 0;
    for (int i = 0; i < net->g->nnodes; i++) {
        fm_node *L = &net->g->nodes[i];
        if (L->skip)
            continue;
        const fm_op_def *op = fm_op_get(L->kind);
        if (!op->prepare)
            continue;
        size_t s = 0;
        fm_status st = op->prepare(net->g, L, fm_pool_size(net->pool), net->reference, &s, err);
        if (st != FM_OK)
            return fm_err_prefix(err, "layer '%s': ", L->name);
        if (s > scratch)
            scratch = s;
        if ((L->plan || L->pwdw_plan) && net->opts.release_weights) {
            free(L->w2);
            L->w2 = NULL;
            free(L->w);
            L->w = NULL;
        }
    }
    net->scratch_bytes = scratch;
    size_t limit = net->opts.max_memory ? net->opts.max_memory : FM_NET_MAX_MEMORY;
    if (scratch > limit - net->arena_floats * sizeof(float))
        return fm_err_set(err, FM_ERR_LIMIT,
                          "%s: the network needs %zu MB of scratch besides %zu MB of activations "
                          "(limit %zu MB)",
                          net->g->source, scratch >> 20, net->arena_floats / (1u << 18),
                          limit >> 20);
    if (scratch) {
        size_t sz = (scratch + 63) & ~(size_t)63;
        if (posix_memalign(&net->scratch, 64, sz) != 0) {
            net->scratch = NULL;
            return nomem(err);
        }
    }
    return FM_OK;
}

/* ---- public ------------------------------------------------------------------ */

fm_net_opts fm_net_default_opts(void)
{
    fm_net_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    o.fold_batchnorm = 1;
    o.fuse_activations = 1;
    o.fuse_pw_dw = 0; /* measured slower here; see conv_pw_dw.c */
    return o;
}

fm_net *fm_net_build(fm_graph *g, const fm_net_opts *opts, fm_err *err)
{
    if (!g)
        return NULL;
    fm_net_opts o = opts ? *opts : fm_net_default_opts();
    const char *env = getenv("FM_REFERENCE");
    if (env && *env && strcmp(env, "0") != 0)
        o.reference = 1;
    fm_net *net = calloc(1, sizeof *net);
    if (!net) {
        fm_graph_free(g);
        nomem(err);
        return NULL;
    }
    net->g = g;
    net->opts = o;
    net->reference = o.reference;
    fm_status st = FM_OK;
    if (g->ninputs == 0)
        st = fm_err_set(err, FM_ERR_PARSE, "%s: the network has no input", g->source);
    else if (g->nnodes == 0)
        st = fm_err_set(err, FM_ERR_PARSE, "%s: the network has no layers", g->source);
    if (st == FM_OK) {
        fold_layers(net, &o);
        if (o.fuse_pw_dw && !o.keep_all_blobs)
            fold_pw_dw(net);
        for (int i = 0; i < g->nnodes; i++) {
            fm_node *L = &g->nodes[i];
            if (L->kind == FM_LAYER_CONV)
                L->conv.act = L->act;
            if (L->kind == FM_LAYER_ELTWISE)
                L->eltwise.act = L->act;
            if (L->kind == FM_LAYER_IP)
                L->ip.act = L->act;
            if (!L->skip)
                net->weight_bytes += (L->nw + L->nb + L->nw2 + L->nb2) * sizeof(float);
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
    fm_graph_free(net->g);
    free(net->arena);
    free(net->scratch);
    if (net->own_pool)
        fm_pool_free(net->pool);
    free(net);
}

int fm_net_num_inputs(const fm_net *net)
{
    return net->g->ninputs;
}

fm_tensor *fm_net_input(fm_net *net, int index)
{
    if (index < 0 || index >= net->g->ninputs)
        return NULL;
    return &net->g->values[net->g->inputs[index]].t;
}

const char *fm_net_input_name(const fm_net *net, int index)
{
    if (index < 0 || index >= net->g->ninputs)
        return NULL;
    return net->g->values[net->g->inputs[index]].name;
}

int fm_net_num_outputs(const fm_net *net)
{
    return net->g->noutputs;
}

const fm_tensor *fm_net_output(const fm_net *net, int index)
{
    if (index < 0 || index >= net->g->noutputs)
        return NULL;
    return &net->g->values[net->g->outputs[index]].t;
}

const char *fm_net_output_name(const fm_net *net, int index)
{
    if (index < 0 || index >= net->g->noutputs)
        return NULL;
    return net->g->values[net->g->outputs[index]].name;
}

const fm_tensor *fm_net_blob(const fm_net *net, const char *name)
{
    int v = fm_graph_find_value(net->g, name);
    if (v < 0)
        return NULL;
    const fm_value *val = &net->g->values[v];
    if (!val->t.data)
        return NULL;
    return &val->t;
}

static void run_layer(fm_net *net, fm_node *L)
{
    fm_value *out = &net->g->values[L->out];
    const fm_tensor *ins[FM_MAX_IO];
    for (int k = 0; k < L->nin; k++)
        ins[k] = &net->g->values[L->in[k]].t;
    out->t.shape = out->shape; /* an op with a variable length (DetectionOutput) sees its capacity */
    fm_op_ctx c = {L, ins, &out->t, net->scratch, net->pool, net->reference};
    fm_op_get(L->kind)->run(&c);
}

fm_status fm_net_forward(fm_net *net, fm_err *err)
{
    return fm_net_forward_range(net, 0, INT32_MAX, err);
}

fm_status fm_net_forward_range(fm_net *net, int first, int end, fm_err *err)
{
    int k = -1;
    for (int i = 0; i < net->g->nnodes; i++) {
        fm_node *L = &net->g->nodes[i];
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
static fm_node *nth_layer(const fm_net *net, int index)
{
    int k = 0;
    for (int i = 0; i < net->g->nnodes; i++) {
        if (net->g->nodes[i].skip)
            continue;
        if (k++ == index)
            return &net->g->nodes[i];
    }
    return NULL;
}

int fm_net_num_layers(const fm_net *net)
{
    int n = 0;
    for (int i = 0; i < net->g->nnodes; i++)
        n += !net->g->nodes[i].skip;
    return n;
}

const char *fm_net_layer_name(const fm_net *net, int index)
{
    fm_node *L = nth_layer(net, index);
    return L ? L->name : NULL;
}

const char *fm_net_layer_type(const fm_net *net, int index)
{
    fm_node *L = nth_layer(net, index);
    return L ? L->type : NULL;
}

void fm_net_set_profiling(fm_net *net, int on)
{
    net->profiling = on;
}

double fm_net_layer_ms(const fm_net *net, int index)
{
    fm_node *L = nth_layer(net, index);
    return L ? L->ms : 0.0;
}

int fm_net_layer_info(fm_net *net, int index, fm_layer_info *info)
{
    fm_node *L = nth_layer(net, index);
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
    info->resize = L->kind == FM_LAYER_RESIZE ? &L->resize : NULL;
    info->dims = L->dims;
    info->ndims = L->ndims;
    info->w = L->w;
    info->b = L->b;
    info->nw = L->nw;
    info->nb = L->nb;
    return 1;
}

int fm_net_num_values(const fm_net *net)
{
    return net->g->nvalues;
}

int fm_net_value_id(const fm_net *net, const char *name)
{
    return fm_graph_find_value(net->g, name);
}

const char *fm_net_value_name(const fm_net *net, int id)
{
    return id >= 0 && id < net->g->nvalues ? net->g->values[id].name : NULL;
}

const fm_tensor *fm_net_value(const fm_net *net, int id)
{
    return id >= 0 && id < net->g->nvalues ? &net->g->values[id].t : NULL;
}

fm_status fm_net_weights_changed(fm_net *net, fm_err *err)
{
    if (net->reference)
        return FM_OK;
    if (net->opts.release_weights)
        return fm_err_set(err, FM_ERR_ARG,
                          "%s: loaded for inference only (release_weights): weights cannot change",
                          net->g->source);
    size_t scratch = net->scratch_bytes;
    for (int i = 0; i < net->g->nnodes; i++) {
        fm_node *L = &net->g->nodes[i];
        if (L->skip)
            continue;
        if (L->kind == FM_LAYER_CONV_DW) {
            size_t s = 0;
            if (fm_op_get(L->kind)->prepare(net->g, L, fm_pool_size(net->pool), 0, &s, err) !=
                FM_OK)
                return fm_err_prefix(err, "layer '%s': ", L->name);
            if (s > scratch)
                scratch = s;
            continue;
        }
        if (L->kind != FM_LAYER_CONV)
            continue;
        fm_conv_plan *plan = fm_conv_plan_create(&L->conv, &net->g->values[L->in[0]].shape, L->w,
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
