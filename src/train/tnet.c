/* tnet.c - the trainable tail of a loaded net (see tnet.h).
 *
 * Build: walk the net's layers as run, take those that derive from the cut
 * value, copy their parameters, give every value a per-sample shape, and
 * allocate for each worker thread the activations and gradients of one shard
 * (channel-major, (C, N, H, W)) plus the kernels' work memory.
 * Run (tnet_run.c): fm_pool_run hands shards to workers; each runs forward,
 * loss and backward on its shard into that shard's gradient array; a second
 * pass sums the shard gradients in shard order. The loss is the final softmax's
 * cross-entropy (classifier mode) or, in outputs mode, the caller's function,
 * which gets the shard's outputs as per-sample NCHW copies and returns their
 * gradients, scattered back into the channel-major gradient buffers.
 */
#include "train/tnet.h"

#include <stdlib.h>
#include <string.h>

#include "train/sgemm.h"
#include "train/tnet_impl.h"

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
    if (info->nin < 1 || info->nin > TNET_MAX_IN)
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "layer '%s' (%s): %d inputs (1 to %d supported)",
                          nm, info->type, info->nin, TNET_MAX_IN);
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
    if (no < 1 || no > TNET_MAX_OUT)
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "the net has %d outputs (1 to %d supported)",
                          no, TNET_MAX_OUT);
    for (int k = 0; k < no; k++) {
        const char *name = fm_net_output_name(net, k);
        int v = fm_net_value_id(net, name);
        if (v < 0 || map[v] <= 0)
            return fm_err_set(err, FM_ERR_UNSUPPORTED,
                              "output '%s' does not depend on the cut '%s'; the trainable part "
                              "must compute every output",
                              name, cut);
        t->out_value[k] = map[v];
        t->out_logit[k] = -1;
        for (int i = 0; i < t->nlayers; i++) {
            const tlayer *L = &t->layers[i];
            if (L->out == map[v] && L->kind == FM_LAYER_ACT && L->act.act == FM_ACT_SIGMOID)
                t->out_logit[k] = L->in[0];
        }
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

fm_status fm_tnet_set_logit_outputs(fm_tnet *t, int on, fm_err *err)
{
    if (!t->outputs_mode)
        return fm_err_set(err, FM_ERR_ARG,
                          "logit outputs: this trainer has no outputs of its own (fm_tnet_create)");
    t->logits = on != 0;
    return FM_OK;
}

int fm_tnet_output_is_logit(const fm_tnet *t, int k)
{
    return k >= 0 && k < t->noutputs && t->logits && t->out_logit[k] >= 0;
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
