/* optim.c - SGD (momentum, Nesterov) and Adam over flat arrays. See optim.h. */
#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fm_optim {
    fm_optim_opts o;
    size_t n;
    long t;
    float *m, *v; /* SGD: m = velocity; Adam: first and second moments */
};

fm_optim_opts fm_optim_default_opts(fm_optim_kind kind)
{
    fm_optim_opts o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.lr = kind == FM_OPTIM_ADAM ? 1e-3f : 1e-2f;
    o.momentum = kind == FM_OPTIM_SGD ? 0.9f : 0.0f;
    o.beta1 = 0.9f;
    o.beta2 = 0.999f;
    o.eps = 1e-8f;
    o.decoupled = 1;
    return o;
}

fm_optim *fm_optim_create(const fm_optim_opts *opts, size_t n, fm_err *err)
{
    const fm_optim_opts *p = opts;
    if (!p || (p->kind != FM_OPTIM_SGD && p->kind != FM_OPTIM_ADAM)) {
        fm_err_set(err, FM_ERR_ARG, "optimiser: kind %d is not SGD (0) or Adam (1)",
                   p ? (int)p->kind : -1);
        return NULL;
    }
    if (!(p->lr >= 0.0f) || !(p->momentum >= 0.0f && p->momentum < 1.0f) ||
        !(p->beta1 >= 0.0f && p->beta1 < 1.0f) || !(p->beta2 >= 0.0f && p->beta2 < 1.0f) ||
        !(p->eps > 0.0f || p->kind == FM_OPTIM_SGD) || !(p->weight_decay >= 0.0f)) {
        fm_err_set(err, FM_ERR_ARG,
                   "optimiser: lr %g, momentum %g, betas %g/%g, eps %g, weight decay %g: need lr, "
                   "decay >= 0, momentum and betas in [0, 1), eps > 0",
                   (double)p->lr, (double)p->momentum, (double)p->beta1, (double)p->beta2,
                   (double)p->eps, (double)p->weight_decay);
        return NULL;
    }
    fm_optim *o = calloc(1, sizeof *o);
    if (!o) {
        fm_err_set(err, FM_ERR_NOMEM, "optimiser: out of memory");
        return NULL;
    }
    o->o = *p;
    o->n = n;
    o->m = calloc(n ? n : 1, sizeof(float));
    if (p->kind == FM_OPTIM_ADAM)
        o->v = calloc(n ? n : 1, sizeof(float));
    if (!o->m || (p->kind == FM_OPTIM_ADAM && !o->v)) {
        fm_optim_free(o);
        fm_err_set(err, FM_ERR_NOMEM, "optimiser: out of memory for %zu parameters", n);
        return NULL;
    }
    return o;
}

void fm_optim_free(fm_optim *o)
{
    if (!o)
        return;
    free(o->m);
    free(o->v);
    free(o);
}

void fm_optim_set_lr(fm_optim *o, float lr) { o->o.lr = lr; }
float fm_optim_lr(const fm_optim *o) { return o->o.lr; }
long fm_optim_steps(const fm_optim *o) { return o->t; }

void fm_optim_reset(fm_optim *o)
{
    o->t = 0;
    memset(o->m, 0, (o->n ? o->n : 1) * sizeof(float));
    if (o->v)
        memset(o->v, 0, (o->n ? o->n : 1) * sizeof(float));
}

void fm_optim_step(fm_optim *o, float *params, const float *grads, const uint8_t *mask)
{
    const fm_optim_opts *p = &o->o;
    o->t++;
    const float lr = p->lr, wd = p->weight_decay;
    const float l2 = p->decoupled ? 0.0f : wd;
    const float shrink = p->decoupled ? 1.0f - lr * wd : 1.0f;
    if (p->kind == FM_OPTIM_SGD) {
        const float mu = p->momentum;
        for (size_t i = 0; i < o->n; i++) {
            if (mask && !mask[i])
                continue;
            float g = grads[i] + l2 * params[i];
            float v = mu * o->m[i] + g;
            o->m[i] = v;
            float step = p->nesterov ? g + mu * v : v;
            params[i] = params[i] * shrink - lr * step;
        }
        return;
    }
    const float b1 = p->beta1, b2 = p->beta2, eps = p->eps;
    const double c1 = 1.0 - pow((double)b1, (double)o->t);
    const double c2 = 1.0 - pow((double)b2, (double)o->t);
    const float a = (float)((double)lr / c1), rc2 = (float)(1.0 / sqrt(c2));
    for (size_t i = 0; i < o->n; i++) {
        if (mask && !mask[i])
            continue;
        float g = grads[i] + l2 * params[i];
        float m = b1 * o->m[i] + (1.0f - b1) * g;
        float v = b2 * o->v[i] + (1.0f - b2) * g * g;
        o->m[i] = m;
        o->v[i] = v;
        params[i] = params[i] * shrink - a * m / (sqrtf(v) * rc2 + eps);
    }
}
