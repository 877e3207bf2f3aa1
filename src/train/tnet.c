/* tnet.c - the trainable tail of a loaded net (see tnet.h).
 *
 * Build: walk the net's layers as run, take those that derive from the cut
 * value, copy their parameters, give every value a per-sample shape, and
 * allocate for each worker thread the activations and gradients of one shard
 * (channel-major, (C, N, H, W)) plus the kernels' work memory.
 * Run: fm_pool_run hands shards to workers; each runs forward, loss and
 * backward on its shard into that shard's gradient array; a second pass sums
 * the shard gradients in shard order. The loss is the final softmax's
 * cross-entropy (classifier mode) or, in outputs mode, the caller's function,
 * which gets the shard's outputs as per-sample NCHW copies and returns their
 * gradients, scattered back into the channel-major gradient buffers.
 */
#include "train/tnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/grad.h"
#include "train/sgemm.h"

#define MAX_IN 16
#define MAX_OUT 16 /* outputs of a net in outputs mode */

typedef struct {
    fm_layer_kind kind;
    char *name;
    char *type;
    int net_index;
    int nin, in[MAX_IN], out; /* tnet value ids */
    fm_activation act;
    fm_conv_param conv;
    fm_pool_param pool;
    fm_eltwise_param elt;
    float coeff[MAX_IN];
    fm_ip_param ip;
    fm_resize_param resize;
    int perm[3]; /* PERMUTE: output axis k of a sample is input axis perm[k] */
    int dropout;
    float ratio;
    size_t woff, nw, boff, nb;
    int trainable;
    int backward; /* run in backward: its output needs a gradient */
} tlayer;

typedef struct {
    int c, h, w;
    size_t count; /* per sample */
    int need_grad;
} tvalue;

typedef struct {
    float **act, **grad;
    unsigned char *gset;
    fm_tctx ctx;
    float *arena;
    float *obuf, *dbuf;            /* outputs mode: the shard's outputs and their gradients */
    float *optr[MAX_OUT], *dptr[MAX_OUT]; /* per output, into obuf / dbuf */
} tworker;

enum { MODE_TRAIN, MODE_PREDICT };

struct fm_tnet {
    int nlayers;
    tlayer *layers;
    int nvalues;
    tvalue *values;
    int classes;
    size_t nparams;
    float *params, *grads;
    uint8_t *mask;
    float *shard_grads[FM_TNET_SHARDS];
    int max_batch, shard_cap;
    int nworkers;
    tworker *workers;
    fm_pool *pool;
    float *class_w; /* NULL: all 1 */
    float *loss_buf;
    /* outputs mode (fm_tnet_create_outputs): the net's outputs, an external loss */
    int outputs_mode;
    int noutputs;
    int out_value[MAX_OUT]; /* tnet value ids */
    char *out_name[MAX_OUT];
    fm_tnet_loss_fn loss_fn;
    void *loss_user;
    double shard_loss[FM_TNET_SHARDS];
    float *const *outs; /* fm_tnet_forward_outputs: where the outputs go */
    /* the current call */
    int mode;
    const float *x;
    const int *labels;
    int n;
    uint64_t seed;
    float norm;
    float *probs_out;
};

/* ---- build ------------------------------------------------------------------- */

static char *dupstr(const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s ? s : "", n);
    return d;
}

static fm_status nomem(fm_err *err)
{
    return fm_err_set(err, FM_ERR_NOMEM, "out of memory building the trainable net");
}

static const char *kind_name(fm_layer_kind k)
{
    return fm_op_name(k);
}

/* Per-sample (c, h, w) of a net value. */
static int value_dims(const fm_net *net, int id, tvalue *v)
{
    const fm_tensor *t = fm_net_value(net, id);
    if (!t || t->shape.ndim < 1)
        return 0;
    const fm_shape *s = &t->shape;
    v->c = s->ndim > 1 ? s->d[1] : 1;
    v->h = s->ndim > 2 ? s->d[2] : 1;
    v->w = s->ndim > 3 ? s->d[3] : 1;
    if (v->c < 1 || v->h < 1 || v->w < 1)
        return 0;
    v->count = (size_t)v->c * v->h * v->w;
    return 1;
}

static void update_flags(fm_tnet *t)
{
    for (int v = 0; v < t->nvalues; v++)
        t->values[v].need_grad = 0;
    for (int i = 0; i < t->nlayers; i++) {
        tlayer *L = &t->layers[i];
        int need = L->trainable && (L->nw + L->nb) > 0;
        for (int k = 0; k < L->nin; k++)
            need |= t->values[L->in[k]].need_grad;
        t->values[L->out].need_grad = need;
        L->backward = need;
        memset(t->mask + L->woff, L->trainable ? 1 : 0, L->nw + L->nb);
    }
}

static int is_dropout(const char *type)
{
    return type && strncmp(type, "Dropout", 7) == 0;
}

/* The per-layer work memory the kernels need for a shard. */
static size_t layer_work(const fm_tnet *t, const tlayer *L)
{
    const tvalue *x = &t->values[L->in[0]];
    if (L->kind == FM_LAYER_CONV)
        return fm_tconv_work_floats(&L->conv, t->shard_cap, x->c, x->h, x->w);
    if (L->kind == FM_LAYER_IP)
        return fm_tip_work_floats(&L->ip, t->shard_cap, (int)x->count);
    return 0;
}

static fm_status alloc_workers(fm_tnet *t, fm_err *err)
{
    size_t work = FM_SGEMM_WORK_FLOATS;
    for (int i = 0; i < t->nlayers; i++) {
        size_t w = layer_work(t, &t->layers[i]);
        if (w > work)
            work = w;
    }
    work = (work + 15) & ~(size_t)15;
    size_t total = work;
    for (int v = 0; v < t->nvalues; v++) {
        size_t sz;
        if (!fm_size_mul(t->values[v].count, (size_t)t->shard_cap, &sz))
            return nomem(err);
        sz = (sz + 15) & ~(size_t)15;
        if (!fm_size_add(total, v ? 2 * sz : sz, &total))
            return nomem(err);
    }
    t->workers = calloc((size_t)t->nworkers, sizeof *t->workers);
    if (!t->workers)
        return nomem(err);
    for (int k = 0; k < t->nworkers; k++) {
        tworker *w = &t->workers[k];
        w->act = calloc((size_t)t->nvalues, sizeof *w->act);
        w->grad = calloc((size_t)t->nvalues, sizeof *w->grad);
        w->gset = calloc((size_t)t->nvalues, 1);
        void *p = NULL;
        if (!w->act || !w->grad || !w->gset || posix_memalign(&p, 64, total * sizeof(float)) != 0)
            return nomem(err);
        w->arena = p;
        memset(w->arena, 0, total * sizeof(float));
        float *at = w->arena;
        w->ctx.isa = fm_isa_detect();
        const char *ref = getenv("FM_REFERENCE");
        w->ctx.reference = ref && *ref && strcmp(ref, "0") != 0;
        w->ctx.work = at;
        w->ctx.work_floats = work;
        at += work;
        if (t->outputs_mode) {
            size_t per = 0;
            for (int o = 0; o < t->noutputs; o++)
                per += t->values[t->out_value[o]].count;
            w->obuf = calloc(per * (size_t)t->shard_cap, sizeof(float));
            w->dbuf = calloc(per * (size_t)t->shard_cap, sizeof(float));
            if (!w->obuf || !w->dbuf)
                return nomem(err);
            size_t off = 0;
            for (int o = 0; o < t->noutputs; o++) {
                w->optr[o] = w->obuf + off;
                w->dptr[o] = w->dbuf + off;
                off += t->values[t->out_value[o]].count * (size_t)t->shard_cap;
            }
        }
        for (int v = 0; v < t->nvalues; v++) {
            size_t sz = (t->values[v].count * (size_t)t->shard_cap + 15) & ~(size_t)15;
            w->act[v] = at;
            at += sz;
            if (v) {
                w->grad[v] = at;
                at += sz;
            }
        }
    }
    return FM_OK;
}

/* A permutation of nd axes (order[0..norder), completed with the unused axes in increasing
 * order as nn/ops/permute.c does) as a permutation of a sample's (c, h, w): 0 unless the
 * batch axis stays first. A sample of a 3-axis value (N, A, B) is (A, B, 1). */
static int sample_perm(int nd, const int *order, int norder, int perm[3])
{
    int full[4], used[4] = {0, 0, 0, 0};
    if (nd < 1 || nd > 4 || norder > nd)
        return 0;
    for (int i = 0; i < norder; i++) {
        if (order[i] < 0 || order[i] >= nd || used[order[i]])
            return 0;
        used[order[i]] = 1;
        full[i] = order[i];
    }
    for (int i = 0, k = norder; i < nd; i++)
        if (!used[i])
            full[k++] = i;
    if (full[0] != 0)
        return 0;
    for (int k = 0; k < 3; k++)
        perm[k] = k + 1 < nd ? full[k + 1] - 1 : k;
    return 1;
}

static fm_status add_layer(fm_tnet *t, fm_net *net, int index, const fm_layer_info *info,
                           const int *map, const char *cut, fm_err *err)
{
    tlayer *L = &t->layers[t->nlayers];
    memset(L, 0, sizeof *L);
    L->kind = info->kind;
    L->net_index = index;
    L->name = dupstr(info->name);
    L->type = dupstr(info->type);
    if (!L->name || !L->type) {
        free(L->name);
        free(L->type);
        return nomem(err);
    }
    t->nlayers++;
    const char *nm = info->name;
    if (!fm_op_get(info->kind)->trainable)
        return fm_err_set(err, FM_ERR_UNSUPPORTED,
                          "layer '%s' (%s): %s layers cannot be trained (supported: Convolution, "
                          "ReLU, ReLU6, Sigmoid, Eltwise SUM, Pooling, InnerProduct, Flatten, "
                          "Reshape, Permute, Resize, Dropout, Softmax)",
                          nm, info->type, kind_name(info->kind));
    if (info->nin < 1 || info->nin > MAX_IN)
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "layer '%s' (%s): %d inputs (1 to %d supported)",
                          nm, info->type, info->nin, MAX_IN);
    L->nin = info->nin;
    for (int k = 0; k < info->nin; k++) {
        int v = map[info->in[k]];
        if (v < 0)
            return fm_err_set(err, FM_ERR_UNSUPPORTED,
                              "layer '%s' (%s) reads '%s', which is computed before the cut '%s'; "
                              "cut at a value that every later layer derives from",
                              nm, info->type, fm_net_value_name(net, info->in[k]), cut);
        L->in[k] = v;
    }
    L->act = info->act;
    tvalue out;
    if (!value_dims(net, info->out, &out))
        return fm_err_set(err, FM_ERR_SHAPE, "layer '%s' (%s): output value has no usable shape",
                          nm, info->type);
    out.need_grad = 0;
    const tvalue *x = &t->values[L->in[0]];
    char got[64];
    switch (info->kind) {
    case FM_LAYER_CONV: {
        L->conv = *info->conv;
        L->conv.act = info->act;
        fm_shape in = fm_shape4(1, x->c, x->h, x->w), o;
        if (fm_conv_shape(&L->conv, &in, &o, err) != FM_OK)
            return fm_err_prefix(err, "layer '%s': ", nm);
        if (o.d[1] != out.c || o.d[2] != out.h || o.d[3] != out.w)
            return fm_err_set(err, FM_ERR_SHAPE, "layer '%s': convolution gives %s, the net says %dx%dx%d",
                              nm, fm_shape_str(&o, got, sizeof got), out.c, out.h, out.w);
        L->nw = (size_t)o.d[1] * (size_t)(x->c / (L->conv.group > 0 ? L->conv.group : 1)) *
                (size_t)L->conv.kernel_h * (size_t)L->conv.kernel_w;
        L->nb = info->b ? (size_t)o.d[1] : 0;
        break;
    }
    case FM_LAYER_IP:
        L->ip = *info->ip;
        L->ip.act = info->act;
        if (out.count != (size_t)L->ip.num_output)
            return fm_err_set(err, FM_ERR_SHAPE, "layer '%s': %d outputs, the net's value has %zu",
                              nm, L->ip.num_output, out.count);
        out.c = L->ip.num_output;
        out.h = out.w = 1;
        L->nw = (size_t)L->ip.num_output * x->count;
        L->nb = info->b ? (size_t)L->ip.num_output : 0;
        break;
    case FM_LAYER_ACT:
    case FM_LAYER_SOFTMAX:
        if (info->kind == FM_LAYER_SOFTMAX && (info->axis != 1 || x->h * x->w != 1))
            return fm_err_set(err, FM_ERR_UNSUPPORTED,
                              "layer '%s' (Softmax): only a softmax over channels of a %s input "
                              "trains (axis %d, input %dx%dx%d)",
                              nm, "(N, classes, 1, 1)", info->axis, x->c, x->h, x->w);
        out.c = x->c;
        out.h = x->h;
        out.w = x->w;
        break;
    case FM_LAYER_POOL: {
        L->pool = *info->pool;
        fm_shape in = fm_shape4(1, x->c, x->h, x->w), o;
        if (fm_pool_shape(&L->pool, &in, &o, err) != FM_OK)
            return fm_err_prefix(err, "layer '%s': ", nm);
        out.c = o.d[1];
        out.h = o.d[2];
        out.w = o.d[3];
        break;
    }
    case FM_LAYER_ELTWISE:
        L->elt = *info->eltwise;
        L->elt.act = info->act;
        if (L->elt.op != FM_ELTWISE_SUM)
            return fm_err_set(err, FM_ERR_UNSUPPORTED,
                              "layer '%s' (%s): only Eltwise SUM trains (operation %d)", nm,
                              info->type, (int)L->elt.op);
        if (L->elt.ncoeff) {
            if (L->elt.ncoeff != L->nin)
                return fm_err_set(err, FM_ERR_ARG, "layer '%s': %d coefficients for %d inputs",
                                  nm, L->elt.ncoeff, L->nin);
            memcpy(L->coeff, L->elt.coeff, (size_t)L->nin * sizeof(float));
            L->elt.coeff = L->coeff;
        }
        for (int k = 1; k < L->nin; k++) {
            const tvalue *y = &t->values[L->in[k]];
            if (y->c != x->c || y->h != x->h || y->w != x->w)
                return fm_err_set(err, FM_ERR_SHAPE, "layer '%s': input %d is %dx%dx%d, input 0 %dx%dx%d",
                                  nm, k, y->c, y->h, y->w, x->c, x->h, x->w);
        }
        out.c = x->c;
        out.h = x->h;
        out.w = x->w;
        break;
    case FM_LAYER_RESIZE: {
        L->resize = *info->resize;
        fm_shape in = fm_shape4(1, x->c, x->h, x->w), o;
        if (fm_resize_shape(&L->resize, &in, &o, err) != FM_OK)
            return fm_err_prefix(err, "layer '%s': ", nm);
        if (o.d[1] != out.c || o.d[2] != out.h || o.d[3] != out.w)
            return fm_err_set(err, FM_ERR_SHAPE, "layer '%s': resize gives %s, the net says %dx%dx%d",
                              nm, fm_shape_str(&o, got, sizeof got), out.c, out.h, out.w);
        break;
    }
    case FM_LAYER_PERMUTE: {
        const fm_tensor *xt = fm_net_value(net, info->in[0]);
        if (!sample_perm(xt->shape.ndim, info->dims, info->ndims, L->perm))
            return fm_err_set(err, FM_ERR_UNSUPPORTED,
                              "layer '%s' (%s): only a permutation that keeps the batch axis "
                              "first trains",
                              nm, info->type);
        int d[3] = {x->c, x->h, x->w};
        if (d[L->perm[0]] != out.c || d[L->perm[1]] != out.h || d[L->perm[2]] != out.w)
            return fm_err_set(err, FM_ERR_SHAPE,
                              "layer '%s': permuting %dx%dx%d gives %dx%dx%d, the net says "
                              "%dx%dx%d",
                              nm, x->c, x->h, x->w, d[L->perm[0]], d[L->perm[1]], d[L->perm[2]],
                              out.c, out.h, out.w);
        break;
    }
    case FM_LAYER_RESHAPE:
        L->dropout = is_dropout(info->type);
        L->ratio = L->dropout ? 0.5f : 0.0f;
        if (out.count != x->count)
            return fm_err_set(err, FM_ERR_SHAPE, "layer '%s': %zu values per sample in, %zu out",
                              nm, x->count, out.count);
        break;
    default:
        break;
    }
    if (out.count != (size_t)out.c * out.h * out.w)
        return fm_err_set(err, FM_ERR_SHAPE, "layer '%s': inconsistent output shape", nm);
    if ((L->nw && info->nw != L->nw) || (L->nb != info->nb && info->b))
        return fm_err_set(err, FM_ERR_SHAPE,
                          "layer '%s': the net holds %zu weights and %zu biases, expected %zu and %zu",
                          nm, info->nw, info->nb, L->nw, L->nb);
    L->out = t->nvalues;
    t->values[t->nvalues++] = out;
    return FM_OK;
}

/* The net's outputs as tnet values, for outputs mode; every other value must be read. */
static fm_status bind_outputs(fm_tnet *t, fm_net *net, const int *map, const int *used,
                              const char *cut, fm_err *err)
{
    int no = fm_net_num_outputs(net);
    if (no < 1 || no > MAX_OUT)
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "the net has %d outputs (1 to %d supported)",
                          no, MAX_OUT);
    for (int k = 0; k < no; k++) {
        const char *name = fm_net_output_name(net, k);
        int v = fm_net_value_id(net, name);
        if (v < 0 || map[v] <= 0)
            return fm_err_set(err, FM_ERR_UNSUPPORTED,
                              "output '%s' does not depend on the cut '%s'; the trainable part "
                              "must compute every output",
                              name, cut);
        t->out_value[k] = map[v];
        t->out_name[k] = dupstr(name);
        t->noutputs = k + 1;
        if (!t->out_name[k])
            return nomem(err);
    }
    for (int i = 0; i < t->nlayers; i++) {
        const tlayer *L = &t->layers[i];
        int is_out = 0;
        for (int k = 0; k < no; k++)
            is_out |= t->out_value[k] == L->out;
        if (!is_out && !used[L->out])
            return fm_err_set(err, FM_ERR_UNSUPPORTED,
                              "layer '%s' (%s) makes a value that is neither read nor an output "
                              "of the net",
                              L->name, L->type);
    }
    return FM_OK;
}

static fm_tnet *create(fm_net *net, const char *cut, int max_batch, int threads, int outputs_mode,
                       fm_err *err)
{
    if (!net || !cut) {
        fm_err_set(err, FM_ERR_ARG, "fm_tnet_create: net and cut value name are required");
        return NULL;
    }
    if (max_batch < 1 || max_batch > (1 << 20) || threads < 1 || threads > 256) {
        fm_err_set(err, FM_ERR_ARG, "fm_tnet_create: max_batch %d (1..%d) or threads %d (1..256) out of range",
                   max_batch, 1 << 20, threads);
        return NULL;
    }
    int vcut = fm_net_value_id(net, cut);
    if (vcut < 0) {
        fm_err_set(err, FM_ERR_ARG, "cut value '%s' is not a value of the net", cut);
        return NULL;
    }
    int nvals = fm_net_num_values(net), nl = fm_net_num_layers(net);
    fm_tnet *t = calloc(1, sizeof *t);
    int *map = malloc((size_t)(nvals > 0 ? nvals : 1) * sizeof *map);
    int *used = calloc((size_t)nl + 2, sizeof *used);
    if (!t || !map || !used) {
        free(map);
        free(used);
        free(t);
        nomem(err);
        return NULL;
    }
    for (int v = 0; v < nvals; v++)
        map[v] = -1;
    t->layers = calloc((size_t)nl + 1, sizeof *t->layers);
    t->values = calloc((size_t)nl + 2, sizeof *t->values);
    if (!t->layers || !t->values) {
        nomem(err);
        goto fail;
    }
    map[vcut] = 0;
    if (!value_dims(net, vcut, &t->values[0])) {
        fm_err_set(err, FM_ERR_SHAPE, "cut value '%s' has no usable shape", cut);
        goto fail;
    }
    t->nvalues = 1;
    t->max_batch = max_batch;
    t->shard_cap = (max_batch + FM_TNET_SHARDS - 1) / FM_TNET_SHARDS;
    int first = -1;
    for (int i = 0; i < nl; i++) {
        fm_layer_info info;
        fm_net_layer_info(net, i, &info);
        int reads = 0;
        for (int k = 0; k < info.nin; k++)
            reads |= map[info.in[k]] >= 0;
        if (!reads) {
            if (first >= 0) {
                fm_err_set(err, FM_ERR_UNSUPPORTED,
                           "layer '%s' (%s) comes after the cut '%s' but does not depend on it",
                           info.name, info.type, cut);
                goto fail;
            }
            continue;
        }
        if (first < 0)
            first = i;
        if (outputs_mode && info.kind == FM_LAYER_SOFTMAX) {
            fm_err_set(err, FM_ERR_UNSUPPORTED,
                       "layer '%s' (Softmax): a softmax trains only as the classifier's loss "
                       "(fm_tnet_create), not among a net's outputs",
                       info.name);
            goto fail;
        }
        if (t->nlayers > 0 && t->layers[t->nlayers - 1].kind == FM_LAYER_SOFTMAX) {
            fm_err_set(err, FM_ERR_UNSUPPORTED,
                       "layer '%s' (Softmax) must be the last layer, but '%s' (%s) follows it",
                       t->layers[t->nlayers - 1].name, info.name, info.type);
            goto fail;
        }
        if (add_layer(t, net, i, &info, map, cut, err) != FM_OK)
            goto fail;
        map[info.out] = t->layers[t->nlayers - 1].out;
        for (int k = 0; k < info.nin; k++)
            used[map[info.in[k]]] = 1;
    }
    if (first < 0) {
        fm_err_set(err, FM_ERR_ARG, "no layer reads the cut value '%s'", cut);
        goto fail;
    }
    t->outputs_mode = outputs_mode;
    if (outputs_mode) {
        if (bind_outputs(t, net, map, used, cut, err) != FM_OK)
            goto fail;
    } else {
        tlayer *last = &t->layers[t->nlayers - 1];
        if (last->kind != FM_LAYER_SOFTMAX) {
            fm_err_set(err, FM_ERR_UNSUPPORTED,
                       "the trainable part must end in a Softmax layer; the last layer is '%s' (%s)",
                       last->name, last->type);
            goto fail;
        }
        for (int i = 0; i < t->nlayers; i++) {
            const tlayer *L = &t->layers[i];
            if (L->out != last->out && !used[L->out]) {
                fm_err_set(err, FM_ERR_UNSUPPORTED,
                           "layer '%s' (%s) makes an output no later layer reads; the trainer needs "
                           "one loss at the final Softmax",
                           L->name, L->type);
                goto fail;
            }
        }
        t->classes = t->values[last->out].c;
    }
    /* parameters */
    size_t np = 0;
    for (int i = 0; i < t->nlayers; i++) {
        tlayer *L = &t->layers[i];
        L->woff = np;
        L->boff = np + L->nw;
        np += L->nw + L->nb;
        L->trainable = 1;
    }
    t->nparams = np;
    t->params = calloc(np ? np : 1, sizeof(float));
    t->grads = calloc(np ? np : 1, sizeof(float));
    t->mask = calloc(np ? np : 1, 1);
    t->loss_buf = calloc((size_t)max_batch, sizeof(float));
    if (!t->params || !t->grads || !t->mask || !t->loss_buf) {
        nomem(err);
        goto fail;
    }
    for (int s = 0; s < FM_TNET_SHARDS; s++) {
        t->shard_grads[s] = calloc(np ? np : 1, sizeof(float));
        if (!t->shard_grads[s]) {
            nomem(err);
            goto fail;
        }
    }
    for (int i = 0; i < t->nlayers; i++) {
        tlayer *L = &t->layers[i];
        if (!L->nw)
            continue;
        fm_layer_info info;
        fm_net_layer_info(net, L->net_index, &info);
        memcpy(t->params + L->woff, info.w, L->nw * sizeof(float));
        if (L->nb)
            memcpy(t->params + L->boff, info.b, L->nb * sizeof(float));
    }
    update_flags(t);
    t->nworkers = threads < FM_TNET_SHARDS ? threads : FM_TNET_SHARDS;
    if (alloc_workers(t, err) != FM_OK)
        goto fail;
    t->pool = fm_pool_create(t->nworkers, err);
    if (!t->pool)
        goto fail;
    free(map);
    free(used);
    return t;
fail:
    free(map);
    free(used);
    fm_tnet_free(t);
    return NULL;
}

fm_tnet *fm_tnet_create(fm_net *net, const char *cut, int max_batch, int threads, fm_err *err)
{
    return create(net, cut, max_batch, threads, 0, err);
}

fm_tnet *fm_tnet_create_outputs(fm_net *net, const char *cut, int max_batch, int threads,
                                fm_err *err)
{
    if (net && !cut)
        cut = fm_net_input_name(net, 0);
    return create(net, cut, max_batch, threads, 1, err);
}

void fm_tnet_free(fm_tnet *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->nlayers; i++) {
        free(t->layers[i].name);
        free(t->layers[i].type);
    }
    free(t->layers);
    free(t->values);
    for (int k = 0; k < t->noutputs; k++)
        free(t->out_name[k]);
    free(t->params);
    free(t->grads);
    free(t->mask);
    free(t->loss_buf);
    free(t->class_w);
    for (int s = 0; s < FM_TNET_SHARDS; s++)
        free(t->shard_grads[s]);
    if (t->workers)
        for (int k = 0; k < t->nworkers; k++) {
            free(t->workers[k].act);
            free(t->workers[k].grad);
            free(t->workers[k].gset);
            free(t->workers[k].arena);
            free(t->workers[k].obuf);
            free(t->workers[k].dbuf);
        }
    free(t->workers);
    fm_pool_free(t->pool);
    free(t);
}

/* ---- run ----------------------------------------------------------------------- */

static fm_fmap vmap(const fm_tnet *t, float *data, int v, int m)
{
    const tvalue *val = &t->values[v];
    return fm_fmap_cnhw(data, m, val->c, val->h, val->w);
}

/* Same per-sample count, different (c, h, w): element f of a sample keeps its place. */
static void relayout(const fm_fmap *x, fm_fmap *y, int add)
{
    size_t xhw = (size_t)x->h * x->w, yhw = (size_t)y->h * y->w;
    if (x->c == y->c && xhw == yhw) {
        fm_fmap_copy(x, y, add);
        return;
    }
    size_t count = (size_t)x->c * xhw;
    for (int i = 0; i < x->n; i++)
        for (size_t f = 0; f < count; f++) {
            float v = fm_fmap_plane(x, i, (int)(f / xhw))[f % xhw];
            float *d = &fm_fmap_plane(y, i, (int)(f / yhw))[f % yhw];
            *d = add ? *d + v : v;
        }
}

static void forward_layer(fm_tnet *t, tworker *wk, int li, int i0, int m, int train)
{
    tlayer *L = &t->layers[li];
    fm_fmap x = vmap(t, wk->act[L->in[0]], L->in[0], m);
    fm_fmap y = vmap(t, wk->act[L->out], L->out, m);
    const float *w = t->params + L->woff, *b = L->nb ? t->params + L->boff : NULL;
    switch (L->kind) {
    case FM_LAYER_CONV:
        fm_tconv_forward(&wk->ctx, &L->conv, &x, w, b, &y);
        break;
    case FM_LAYER_IP:
        fm_tip_forward(&wk->ctx, &L->ip, &x, w, b, &y);
        break;
    case FM_LAYER_ACT:
        fm_tact_forward(L->act, &x, &y);
        break;
    case FM_LAYER_POOL:
        fm_tpool_forward(&L->pool, &x, &y);
        break;
    case FM_LAYER_RESIZE:
        fm_tresize_forward(&L->resize, &x, &y);
        break;
    case FM_LAYER_PERMUTE:
        fm_tpermute_forward(L->perm, &x, &y);
        break;
    case FM_LAYER_ELTWISE: {
        fm_fmap ins[MAX_IN];
        const fm_fmap *ptrs[MAX_IN];
        for (int k = 0; k < L->nin; k++) {
            ins[k] = vmap(t, wk->act[L->in[k]], L->in[k], m);
            ptrs[k] = &ins[k];
        }
        fm_teltwise_forward(&L->elt, ptrs, L->nin, &y);
        break;
    }
    case FM_LAYER_RESHAPE:
        if (train && L->dropout && L->ratio > 0.0f)
            fm_dropout_forward(L->ratio, t->seed, li, i0, &x, &y);
        else
            relayout(&x, &y, 0);
        break;
    case FM_LAYER_SOFTMAX:
        if (train) {
            int need = t->values[L->in[0]].need_grad;
            fm_fmap dx = vmap(t, wk->grad[L->in[0]], L->in[0], m);
            fm_softmax_ce(&x, t->labels + i0, t->class_w, t->norm, &y, t->loss_buf + i0,
                          need ? &dx : NULL, 0);
            if (need)
                wk->gset[L->in[0]] = 1;
        } else {
            fm_tsoftmax_forward(&x, &y);
        }
        break;
    default:
        break;
    }
}

static void backward_layer(fm_tnet *t, tworker *wk, int li, int i0, int m, float *g)
{
    tlayer *L = &t->layers[li];
    if (L->kind == FM_LAYER_SOFTMAX || !L->backward)
        return;
    fm_fmap x = vmap(t, wk->act[L->in[0]], L->in[0], m);
    fm_fmap y = vmap(t, wk->act[L->out], L->out, m);
    fm_fmap dy = vmap(t, wk->grad[L->out], L->out, m);
    if (!wk->gset[L->out])
        fm_fmap_zero(&dy);
    int v0 = L->in[0];
    int need0 = t->values[v0].need_grad;
    fm_fmap dx = vmap(t, need0 ? wk->grad[v0] : NULL, v0, m);
    int add0 = wk->gset[v0];
    float *dw = L->trainable && L->nw ? g + L->woff : NULL;
    float *db = L->trainable && L->nb ? g + L->boff : NULL;
    const float *w = t->params + L->woff;
    switch (L->kind) {
    case FM_LAYER_CONV:
        if (L->act.act != FM_ACT_NONE)
            fm_tact_backward(&wk->ctx, L->act, &y, &dy, &dy, 0);
        fm_tconv_backward(&wk->ctx, &L->conv, &x, w, &dy, need0 ? &dx : NULL, add0, dw, db);
        break;
    case FM_LAYER_IP:
        if (L->act.act != FM_ACT_NONE)
            fm_tact_backward(&wk->ctx, L->act, &y, &dy, &dy, 0);
        fm_tip_backward(&wk->ctx, &L->ip, &x, w, &dy, need0 ? &dx : NULL, add0, dw, db);
        break;
    case FM_LAYER_ACT:
        if (need0)
            fm_tact_backward(&wk->ctx, L->act, &y, &dy, &dx, add0);
        break;
    case FM_LAYER_POOL:
        if (need0)
            fm_tpool_backward(&L->pool, &x, &dy, &dx, add0);
        break;
    case FM_LAYER_RESIZE:
        if (need0)
            fm_tresize_backward(&L->resize, &dy, &dx, add0);
        break;
    case FM_LAYER_PERMUTE:
        if (need0)
            fm_tpermute_backward(L->perm, &dy, &dx, add0);
        break;
    case FM_LAYER_RESHAPE:
        if (!need0)
            break;
        if (L->dropout && L->ratio > 0.0f)
            fm_dropout_backward(L->ratio, t->seed, li, i0, &dy, &dx, add0);
        else
            relayout(&dy, &dx, add0);
        break;
    case FM_LAYER_ELTWISE:
        if (L->act.act != FM_ACT_NONE)
            fm_tact_backward(&wk->ctx, L->act, &y, &dy, &dy, 0);
        for (int k = 0; k < L->nin; k++) {
            int v = L->in[k];
            if (!t->values[v].need_grad)
                continue;
            fm_fmap d = vmap(t, wk->grad[v], v, m);
            fm_teltwise_backward(&L->elt, &dy, k, &d, wk->gset[v]);
            wk->gset[v] = 1;
        }
        return;
    default:
        break;
    }
    if (need0)
        wk->gset[v0] = 1;
}

/* Outputs mode: the shard's outputs out of the channel-major activations into per-sample
 * NCHW (wk->optr, and t->outs when forwarding for the caller), then, when training, the
 * loss's gradients (wk->dptr) into the activations' gradients. */
static void outputs_to_samples(fm_tnet *t, tworker *wk, int i0, int m)
{
    for (int k = 0; k < t->noutputs; k++) {
        int v = t->out_value[k];
        fm_fmap src = vmap(t, wk->act[v], v, m);
        const tvalue *val = &t->values[v];
        fm_fmap dst = fm_fmap_nchw(wk->optr[k], m, val->c, val->h, val->w);
        fm_fmap_copy(&src, &dst, 0);
        if (t->outs)
            memcpy(t->outs[k] + (size_t)i0 * val->count, wk->optr[k],
                   (size_t)m * val->count * sizeof(float));
    }
}

static void loss_to_grads(fm_tnet *t, tworker *wk, int s, int i0, int m)
{
    size_t per = 0;
    for (int k = 0; k < t->noutputs; k++)
        per += t->values[t->out_value[k]].count;
    memset(wk->dbuf, 0, per * (size_t)t->shard_cap * sizeof(float));
    fm_tnet_loss_io io;
    io.sample0 = i0;
    io.n = m;
    io.noutputs = t->noutputs;
    io.out = (const float *const *)wk->optr;
    io.dout = wk->dptr;
    t->shard_loss[s] = t->loss_fn(t->loss_user, &io);
    for (int k = 0; k < t->noutputs; k++) {
        int v = t->out_value[k];
        if (!t->values[v].need_grad)
            continue;
        const tvalue *val = &t->values[v];
        fm_fmap src = fm_fmap_nchw(wk->dptr[k], m, val->c, val->h, val->w);
        fm_fmap dst = vmap(t, wk->grad[v], v, m);
        fm_fmap_copy(&src, &dst, 0);
        wk->gset[v] = 1;
    }
}

static void run_shard(fm_tnet *t, tworker *wk, int s, int i0, int i1)
{
    int m = i1 - i0;
    int train = t->mode == MODE_TRAIN;
    /* input: per-sample (C, H, W) -> (C, N, H, W) */
    const tvalue *in = &t->values[0];
    size_t hw = (size_t)in->h * in->w;
    for (int i = 0; i < m; i++) {
        const float *src = t->x + (size_t)(i0 + i) * in->count;
        for (int c = 0; c < in->c; c++)
            memcpy(wk->act[0] + ((size_t)c * m + i) * hw, src + (size_t)c * hw, hw * sizeof(float));
    }
    memset(wk->gset, 0, (size_t)t->nvalues);
    for (int li = 0; li < t->nlayers; li++)
        forward_layer(t, wk, li, i0, m, train);
    const tlayer *last = &t->layers[t->nlayers - 1];
    if (t->outputs_mode) {
        outputs_to_samples(t, wk, i0, m);
        if (train)
            loss_to_grads(t, wk, s, i0, m);
    } else if (t->probs_out) {
        const float *p = wk->act[last->out];
        for (int i = 0; i < m; i++)
            for (int k = 0; k < t->classes; k++)
                t->probs_out[(size_t)(i0 + i) * t->classes + k] = p[(size_t)k * m + i];
    }
    if (!train)
        return;
    float *g = t->shard_grads[s];
    for (int li = 0; li < t->nlayers; li++) {
        const tlayer *L = &t->layers[li];
        if (L->trainable && L->nw + L->nb)
            memset(g + L->woff, 0, (L->nw + L->nb) * sizeof(float));
    }
    for (int li = t->nlayers - 1; li >= 0; li--)
        backward_layer(t, wk, li, i0, m, g);
}

static void shard_job(void *ctx, int tid, int nt)
{
    fm_tnet *t = ctx;
    for (int s = tid; s < FM_TNET_SHARDS; s += nt) {
        size_t b, e;
        fm_split((size_t)t->n, s, FM_TNET_SHARDS, &b, &e);
        if (b < e)
            run_shard(t, &t->workers[tid], s, (int)b, (int)e);
    }
}

static void reduce_job(void *ctx, int tid, int nt)
{
    fm_tnet *t = ctx;
    size_t b, e;
    fm_split(t->nparams, tid, nt, &b, &e);
    int live[FM_TNET_SHARDS], nlive = 0;
    for (int s = 0; s < FM_TNET_SHARDS; s++) {
        size_t sb, se;
        fm_split((size_t)t->n, s, FM_TNET_SHARDS, &sb, &se);
        if (sb < se)
            live[nlive++] = s;
    }
    for (size_t i = b; i < e; i++) {
        if (!t->mask[i]) {
            t->grads[i] = 0.0f;
            continue;
        }
        float sum = t->shard_grads[live[0]][i];
        for (int k = 1; k < nlive; k++)
            sum += t->shard_grads[live[k]][i];
        t->grads[i] = sum;
    }
}

static fm_status wrong_mode(const fm_tnet *t, const char *fn, fm_err *err)
{
    return fm_err_set(err, FM_ERR_ARG,
                      t->outputs_mode ? "%s: this trainer has the net's outputs and no loss of "
                                        "its own (fm_tnet_create_outputs); use "
                                        "fm_tnet_train_outputs / fm_tnet_forward_outputs"
                                      : "%s: this trainer ends in a softmax loss (fm_tnet_create); "
                                        "use fm_tnet_train_batch / fm_tnet_predict",
                      fn);
}

fm_status fm_tnet_train_batch(fm_tnet *t, const float *x, const int *labels, int n, uint64_t seed,
                              float *loss, float *probs_out, fm_err *err)
{
    if (t->outputs_mode)
        return wrong_mode(t, "fm_tnet_train_batch", err);
    if (!x || !labels || n < 1 || n > t->max_batch)
        return fm_err_set(err, FM_ERR_ARG,
                          "fm_tnet_train_batch: batch of %d samples (1..%d, with inputs and labels)",
                          n, t->max_batch);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= t->classes)
            return fm_err_set(err, FM_ERR_ARG, "fm_tnet_train_batch: label %d of sample %d is not a class (0..%d)",
                              labels[i], i, t->classes - 1);
    t->mode = MODE_TRAIN;
    t->x = x;
    t->labels = labels;
    t->n = n;
    t->seed = seed;
    t->norm = (float)fm_softmax_ce_norm(labels, n, t->class_w);
    t->probs_out = probs_out;
    fm_pool_run(t->pool, shard_job, t);
    fm_pool_run(t->pool, reduce_job, t);
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += t->loss_buf[i];
    if (loss)
        *loss = (float)(sum * t->norm);
    return FM_OK;
}

fm_status fm_tnet_predict(fm_tnet *t, const float *x, int n, float *probs, fm_err *err)
{
    if (t->outputs_mode)
        return wrong_mode(t, "fm_tnet_predict", err);
    if (!x || !probs || n < 1)
        return fm_err_set(err, FM_ERR_ARG, "fm_tnet_predict: %d samples (need >= 1, inputs and outputs)", n);
    for (int at = 0; at < n; at += t->max_batch) {
        int m = n - at < t->max_batch ? n - at : t->max_batch;
        t->mode = MODE_PREDICT;
        t->x = x + (size_t)at * t->values[0].count;
        t->labels = NULL;
        t->n = m;
        t->probs_out = probs + (size_t)at * t->classes;
        fm_pool_run(t->pool, shard_job, t);
    }
    return FM_OK;
}

fm_status fm_tnet_train_outputs(fm_tnet *t, const float *x, int n, uint64_t seed,
                                fm_tnet_loss_fn loss, void *user, double *loss_sum, fm_err *err)
{
    if (!t->outputs_mode)
        return wrong_mode(t, "fm_tnet_train_outputs", err);
    if (!x || !loss || n < 1 || n > t->max_batch)
        return fm_err_set(err, FM_ERR_ARG,
                          "fm_tnet_train_outputs: batch of %d samples (1..%d, with inputs and a "
                          "loss function)",
                          n, t->max_batch);
    t->mode = MODE_TRAIN;
    t->x = x;
    t->labels = NULL;
    t->n = n;
    t->seed = seed;
    t->probs_out = NULL;
    t->outs = NULL;
    t->loss_fn = loss;
    t->loss_user = user;
    for (int s = 0; s < FM_TNET_SHARDS; s++)
        t->shard_loss[s] = 0.0;
    fm_pool_run(t->pool, shard_job, t);
    fm_pool_run(t->pool, reduce_job, t);
    double sum = 0.0;
    for (int s = 0; s < FM_TNET_SHARDS; s++)
        sum += t->shard_loss[s];
    if (loss_sum)
        *loss_sum = sum;
    t->loss_fn = NULL;
    t->loss_user = NULL;
    return FM_OK;
}

fm_status fm_tnet_forward_outputs(fm_tnet *t, const float *x, int n, float *const *out,
                                  fm_err *err)
{
    if (!t->outputs_mode)
        return wrong_mode(t, "fm_tnet_forward_outputs", err);
    if (!x || !out || n < 1)
        return fm_err_set(err, FM_ERR_ARG,
                          "fm_tnet_forward_outputs: %d samples (need >= 1, inputs and outputs)", n);
    for (int at = 0; at < n; at += t->max_batch) {
        int m = n - at < t->max_batch ? n - at : t->max_batch;
        float *dst[MAX_OUT];
        for (int k = 0; k < t->noutputs; k++)
            dst[k] = out[k] + (size_t)at * t->values[t->out_value[k]].count;
        t->mode = MODE_PREDICT;
        t->x = x + (size_t)at * t->values[0].count;
        t->labels = NULL;
        t->n = m;
        t->probs_out = NULL;
        t->outs = dst;
        fm_pool_run(t->pool, shard_job, t);
        t->outs = NULL;
    }
    return FM_OK;
}

fm_status fm_tnet_write_back(const fm_tnet *t, fm_net *net, fm_err *err)
{
    for (int i = 0; i < t->nlayers; i++) {
        const tlayer *L = &t->layers[i];
        if (!L->nw && !L->nb)
            continue;
        fm_layer_info info;
        if (!fm_net_layer_info(net, L->net_index, &info) || strcmp(info.name, L->name) != 0 ||
            info.nw != L->nw || (L->nb && info.nb != L->nb) || !info.w)
            return fm_err_set(err, FM_ERR_ARG,
                              "write back: layer %d of the net is not '%s' with %zu weights; use "
                              "the net the trainer was made from",
                              L->net_index, L->name, L->nw);
    }
    for (int i = 0; i < t->nlayers; i++) {
        const tlayer *L = &t->layers[i];
        if (!L->nw && !L->nb)
            continue;
        fm_layer_info info;
        fm_net_layer_info(net, L->net_index, &info);
        memcpy(info.w, t->params + L->woff, L->nw * sizeof(float));
        if (L->nb)
            memcpy(info.b, t->params + L->boff, L->nb * sizeof(float));
    }
    return fm_net_weights_changed(net, err);
}

/* ---- configuration ----------------------------------------------------------------- */

int fm_tnet_find_layer(const fm_tnet *t, const char *layer)
{
    for (int i = 0; i < t->nlayers; i++)
        if (layer && strcmp(t->layers[i].name, layer) == 0)
            return i;
    return -1;
}

static int find_or_err(const fm_tnet *t, const char *layer, fm_err *err)
{
    int i = fm_tnet_find_layer(t, layer);
    if (i < 0)
        fm_err_set(err, FM_ERR_ARG, "no layer named '%s' in the trainable part (%d layers from '%s')",
                   layer ? layer : "(null)", t->nlayers, t->layers[0].name);
    return i;
}

fm_status fm_tnet_set_trainable(fm_tnet *t, const char *layer, int on, fm_err *err)
{
    int i = find_or_err(t, layer, err);
    if (i < 0)
        return FM_ERR_ARG;
    t->layers[i].trainable = on != 0;
    update_flags(t);
    return FM_OK;
}

fm_status fm_tnet_freeze_before(fm_tnet *t, const char *layer, fm_err *err)
{
    int i = find_or_err(t, layer, err);
    if (i < 0)
        return FM_ERR_ARG;
    for (int k = 0; k < t->nlayers; k++)
        t->layers[k].trainable = k >= i;
    update_flags(t);
    return FM_OK;
}

fm_status fm_tnet_set_dropout(fm_tnet *t, const char *layer, float ratio, fm_err *err)
{
    int i = find_or_err(t, layer, err);
    if (i < 0)
        return FM_ERR_ARG;
    if (!t->layers[i].dropout)
        return fm_err_set(err, FM_ERR_ARG, "layer '%s' (%s) is not a Dropout layer", layer,
                          t->layers[i].type);
    if (!(ratio >= 0.0f && ratio < 1.0f))
        return fm_err_set(err, FM_ERR_ARG, "layer '%s': dropout ratio %g is not in [0, 1)", layer,
                          (double)ratio);
    t->layers[i].ratio = ratio;
    return FM_OK;
}

fm_status fm_tnet_set_class_weights(fm_tnet *t, const float *w, int classes, fm_err *err)
{
    if (!w) {
        free(t->class_w);
        t->class_w = NULL;
        return FM_OK;
    }
    if (classes != t->classes)
        return fm_err_set(err, FM_ERR_ARG, "class weights: %d given, the net has %d classes",
                          classes, t->classes);
    for (int k = 0; k < classes; k++)
        if (!(w[k] > 0.0f))
            return fm_err_set(err, FM_ERR_ARG, "class weight %d is %g; weights must be > 0", k,
                              (double)w[k]);
    if (!t->class_w) {
        t->class_w = malloc((size_t)classes * sizeof(float));
        if (!t->class_w)
            return nomem(err);
    }
    memcpy(t->class_w, w, (size_t)classes * sizeof(float));
    return FM_OK;
}

/* ---- accessors ----------------------------------------------------------------------- */

size_t fm_tnet_num_params(const fm_tnet *t) { return t->nparams; }
float *fm_tnet_params(fm_tnet *t) { return t->params; }
float *fm_tnet_grads(fm_tnet *t) { return t->grads; }
const uint8_t *fm_tnet_trainable_mask(const fm_tnet *t) { return t->mask; }
int fm_tnet_num_classes(const fm_tnet *t) { return t->classes; }
size_t fm_tnet_input_size(const fm_tnet *t) { return t->values[0].count; }
int fm_tnet_max_batch(const fm_tnet *t) { return t->max_batch; }
int fm_tnet_num_outputs(const fm_tnet *t) { return t->noutputs; }

const char *fm_tnet_output_name(const fm_tnet *t, int k)
{
    return k >= 0 && k < t->noutputs ? t->out_name[k] : NULL;
}

size_t fm_tnet_output_size(const fm_tnet *t, int k)
{
    return k >= 0 && k < t->noutputs ? t->values[t->out_value[k]].count : 0;
}
int fm_tnet_num_layers(const fm_tnet *t) { return t->nlayers; }

void fm_tnet_input_dims(const fm_tnet *t, int *c, int *h, int *w)
{
    *c = t->values[0].c;
    *h = t->values[0].h;
    *w = t->values[0].w;
}

const char *fm_tnet_layer_name(const fm_tnet *t, int index)
{
    return index >= 0 && index < t->nlayers ? t->layers[index].name : NULL;
}

int fm_tnet_layer_net_index(const fm_tnet *t, int index)
{
    return index >= 0 && index < t->nlayers ? t->layers[index].net_index : -1;
}

int fm_tnet_layer_trainable(const fm_tnet *t, int index)
{
    return index >= 0 && index < t->nlayers ? t->layers[index].trainable : 0;
}

size_t fm_tnet_layer_params(const fm_tnet *t, int index, size_t *offset)
{
    if (index < 0 || index >= t->nlayers)
        return 0;
    if (offset)
        *offset = t->layers[index].woff;
    return t->layers[index].nw + t->layers[index].nb;
}
