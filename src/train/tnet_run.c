/* tnet_run.c - running fm_tnet (see tnet.h, tnet_impl.h): each shard's forward, its loss (the
 * final softmax's cross-entropy, or in outputs mode the caller's function on per-sample NCHW
 * copies of the outputs) and backward, on one worker; then the shard gradients summed in
 * shard order, so results do not depend on the number of threads. */
#include <stdlib.h>
#include <string.h>

#include "train/tnet_impl.h"

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
        fm_fmap ins[TNET_MAX_IN];
        const fm_fmap *ptrs[TNET_MAX_IN];
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
        int v = fm_tnet_loss_value(t, k);
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
        int v = fm_tnet_loss_value(t, k);
        if (!t->values[v].need_grad)
            continue;
        const tvalue *val = &t->values[v];
        fm_fmap src = fm_fmap_nchw(wk->dptr[k], m, val->c, val->h, val->w);
        fm_fmap dst = vmap(t, wk->grad[v], v, m);
        fm_fmap_copy(&src, &dst, wk->gset[v]);
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
        float *dst[TNET_MAX_OUT];
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
