/* grad_ops.c - forward and backward of activation, InnerProduct, Eltwise SUM,
 * pooling, dropout and softmax + cross-entropy for training (see grad.h). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "train/grad.h"
#include "train/sgemm.h"
#include "train/vec.h"

/* ---- helpers -------------------------------------------------------------- */

void fm_fmap_copy(const fm_fmap *x, fm_fmap *y, int add)
{
    size_t hw = (size_t)x->h * x->w;
    for (int n = 0; n < x->n; n++)
        for (int c = 0; c < x->c; c++) {
            const float *s = fm_fmap_plane(x, n, c);
            float *d = fm_fmap_plane(y, n, c);
            if (add)
                for (size_t i = 0; i < hw; i++)
                    d[i] += s[i];
            else if (d != s)
                memcpy(d, s, hw * sizeof(float));
        }
}

void fm_fmap_zero(fm_fmap *y)
{
    size_t hw = (size_t)y->h * y->w;
    for (int n = 0; n < y->n; n++)
        for (int c = 0; c < y->c; c++)
            memset(fm_fmap_plane(y, n, c), 0, hw * sizeof(float));
}

/* ---- activation ------------------------------------------------------------- */

void fm_tact_forward(fm_activation a, const fm_fmap *x, fm_fmap *y)
{
    size_t hw = (size_t)x->h * x->w;
    for (int n = 0; n < x->n; n++)
        for (int c = 0; c < x->c; c++) {
            const float *s = fm_fmap_plane(x, n, c);
            float *d = fm_fmap_plane(y, n, c);
            for (size_t i = 0; i < hw; i++)
                d[i] = fm_act_scalar(a, s[i]);
        }
}

static int rows_batched(const fm_fmap *m)
{
    return m->n == 1 || m->ns == (size_t)m->h * (size_t)m->w;
}

void fm_tact_backward(const fm_tctx *ctx, fm_activation a, const fm_fmap *y, const fm_fmap *dy,
                      fm_fmap *dx, int add)
{
    fm_isa isa = ctx ? ctx->isa : FM_ISA_SCALAR;
    size_t hw = (size_t)y->h * y->w;
    if (rows_batched(y) && rows_batched(dy) && rows_batched(dx)) {
        for (int c = 0; c < y->c; c++)
            fm_vec_act_backward(isa, hw * (size_t)y->n, fm_fmap_plane(y, 0, c),
                                fm_fmap_plane(dy, 0, c), fm_fmap_plane(dx, 0, c), a, add);
        return;
    }
    for (int n = 0; n < y->n; n++)
        for (int c = 0; c < y->c; c++)
            fm_vec_act_backward(isa, hw, fm_fmap_plane(y, n, c), fm_fmap_plane(dy, n, c),
                                fm_fmap_plane(dx, n, c), a, add);
}

/* ---- InnerProduct ------------------------------------------------------------ */

/* A batch as a matrix Mt of (features x samples): Mt = op(p), stored K x n row-major
 * (t == 0) or n x K row-major (t == 1), row stride ld. */
typedef struct {
    float *p;
    size_t ld;
    int t;
} mat;

static int as_mat(const fm_fmap *x, mat *m)
{
    size_t hw = (size_t)x->h * x->w;
    if (hw == 1 && (x->ns == 1 || x->n == 1)) {
        m->p = x->data;
        m->ld = x->cs;
        m->t = 0;
        return 1;
    }
    if (x->cs == hw || x->c == 1) {
        m->p = x->data;
        m->ld = x->ns;
        m->t = 1;
        return 1;
    }
    return 0;
}

/* x -> K x n row-major (or back, adding or not). */
static void gather(const fm_fmap *x, float *out)
{
    size_t hw = (size_t)x->h * x->w, n = (size_t)x->n;
    for (int i = 0; i < x->n; i++)
        for (int c = 0; c < x->c; c++) {
            const float *s = fm_fmap_plane(x, i, c);
            for (size_t k = 0; k < hw; k++)
                out[((size_t)c * hw + k) * n + (size_t)i] = s[k];
        }
}

static void scatter(const float *in, fm_fmap *x, int add)
{
    size_t hw = (size_t)x->h * x->w, n = (size_t)x->n;
    for (int i = 0; i < x->n; i++)
        for (int c = 0; c < x->c; c++) {
            float *d = fm_fmap_plane(x, i, c);
            for (size_t k = 0; k < hw; k++) {
                float v = in[((size_t)c * hw + k) * n + (size_t)i];
                d[k] = add ? d[k] + v : v;
            }
        }
}

static size_t features(const fm_fmap *x)
{
    return (size_t)x->c * x->h * x->w;
}

void fm_tip_forward_ref(const fm_ip_param *p, const fm_fmap *x, const float *w, const float *b,
                        fm_fmap *y)
{
    size_t K = features(x), hw = (size_t)x->h * x->w;
    for (int n = 0; n < x->n; n++)
        for (int o = 0; o < p->num_output; o++) {
            double s = b ? (double)b[o] : 0.0;
            const float *wr = w + (size_t)o * K;
            for (int c = 0; c < x->c; c++) {
                const float *xp = fm_fmap_plane(x, n, c);
                for (size_t k = 0; k < hw; k++)
                    s += (double)wr[(size_t)c * hw + k] * xp[k];
            }
            fm_fmap_plane(y, n, o)[0] = fm_act_scalar(p->act, (float)s);
        }
}

void fm_tip_backward_ref(const fm_ip_param *p, const fm_fmap *x, const float *w, const fm_fmap *dz,
                         fm_fmap *dx, int add, float *dw, float *db)
{
    size_t K = features(x), hw = (size_t)x->h * x->w;
    int O = p->num_output;
    if (db)
        for (int o = 0; o < O; o++) {
            double s = 0.0;
            for (int n = 0; n < x->n; n++)
                s += fm_fmap_plane(dz, n, o)[0];
            db[o] += (float)s;
        }
    if (dw)
        for (int o = 0; o < O; o++)
            for (int c = 0; c < x->c; c++)
                for (size_t k = 0; k < hw; k++) {
                    double s = 0.0;
                    for (int n = 0; n < x->n; n++)
                        s += (double)fm_fmap_plane(dz, n, o)[0] * fm_fmap_plane(x, n, c)[k];
                    dw[(size_t)o * K + (size_t)c * hw + k] += (float)s;
                }
    if (dx)
        for (int n = 0; n < x->n; n++)
            for (int c = 0; c < x->c; c++) {
                float *d = fm_fmap_plane(dx, n, c);
                for (size_t k = 0; k < hw; k++) {
                    double s = 0.0;
                    for (int o = 0; o < O; o++)
                        s += (double)fm_fmap_plane(dz, n, o)[0] * w[(size_t)o * K + c * hw + k];
                    d[k] = add ? d[k] + (float)s : (float)s;
                }
            }
}

size_t fm_tip_work_floats(const fm_ip_param *p, int n, int k)
{
    (void)p;
    size_t m = ((size_t)n * (size_t)k + 15) & ~(size_t)15;
    return 2 * m + FM_SGEMM_WORK_FLOATS;
}

void fm_tip_forward(const fm_tctx *ctx, const fm_ip_param *p, const fm_fmap *x, const float *w,
                    const float *b, fm_fmap *y)
{
    mat ym;
    if (ctx->reference || !as_mat(y, &ym)) {
        fm_tip_forward_ref(p, x, w, b, y);
        return;
    }
    int K = (int)features(x), O = p->num_output, N = x->n;
    size_t region = ((size_t)N * K + 15) & ~(size_t)15;
    float *sw = ctx->work + 2 * region;
    mat xm;
    if (!as_mat(x, &xm)) {
        gather(x, ctx->work);
        xm.p = ctx->work;
        xm.ld = (size_t)N;
        xm.t = 0;
    }
    if (!ym.t) /* Yt (O x n) = W Xt */
        fm_sgemm(ctx->isa, 0, xm.t, O, N, K, 1.0f, w, (size_t)K, xm.p, xm.ld, 0.0f, ym.p, ym.ld,
                 sw);
    else /* Y (n x O) = Xt^T W^T */
        fm_sgemm(ctx->isa, !xm.t, 1, N, O, K, 1.0f, xm.p, xm.ld, w, (size_t)K, 0.0f, ym.p, ym.ld,
                 sw);
    if (b || p->act.act != FM_ACT_NONE)
        for (int i = 0; i < N; i++)
            for (int o = 0; o < O; o++) {
                float *v = fm_fmap_plane(y, i, o);
                *v = fm_act_scalar(p->act, *v + (b ? b[o] : 0.0f));
            }
}

void fm_tip_backward(const fm_tctx *ctx, const fm_ip_param *p, const fm_fmap *x, const float *w,
                     const fm_fmap *dz, fm_fmap *dx, int add, float *dw, float *db)
{
    mat zm;
    if (ctx->reference || !as_mat(dz, &zm)) {
        fm_tip_backward_ref(p, x, w, dz, dx, add, dw, db);
        return;
    }
    int K = (int)features(x), O = p->num_output, N = x->n;
    size_t region = ((size_t)N * K + 15) & ~(size_t)15;
    float *sw = ctx->work + 2 * region;
    if (db)
        for (int o = 0; o < O; o++) {
            float s = 0.0f;
            for (int i = 0; i < N; i++)
                s += fm_fmap_plane(dz, i, o)[0];
            db[o] += s;
        }
    if (dw) {
        mat xm;
        if (!as_mat(x, &xm)) {
            gather(x, ctx->work);
            xm.p = ctx->work;
            xm.ld = (size_t)N;
            xm.t = 0;
        }
        /* dW (O x K) += dZt (O x n) Xt^T */
        fm_sgemm(ctx->isa, zm.t, !xm.t, O, K, N, 1.0f, zm.p, zm.ld, xm.p, xm.ld, 1.0f, dw,
                 (size_t)K, sw);
    }
    if (dx) {
        mat dm;
        if (as_mat(dx, &dm) && !dm.t) /* dXt (K x n) = W^T dZt */
            fm_sgemm(ctx->isa, 1, zm.t, K, N, O, 1.0f, w, (size_t)K, zm.p, zm.ld,
                     add ? 1.0f : 0.0f, dm.p, dm.ld, sw);
        else if (as_mat(dx, &dm)) /* dX (n x K) = dZt^T W */
            fm_sgemm(ctx->isa, !zm.t, 0, N, K, O, 1.0f, zm.p, zm.ld, w, (size_t)K,
                     add ? 1.0f : 0.0f, dm.p, dm.ld, sw);
        else {
            float *t = ctx->work + region;
            fm_sgemm(ctx->isa, 1, zm.t, K, N, O, 1.0f, w, (size_t)K, zm.p, zm.ld, 0.0f, t,
                     (size_t)N, sw);
            scatter(t, dx, add);
        }
    }
}

/* ---- Eltwise SUM ------------------------------------------------------------- */

void fm_teltwise_forward(const fm_eltwise_param *p, const fm_fmap *const *x, int nx, fm_fmap *y)
{
    size_t hw = (size_t)y->h * y->w;
    for (int n = 0; n < y->n; n++)
        for (int c = 0; c < y->c; c++) {
            float *d = fm_fmap_plane(y, n, c);
            for (int k = 0; k < nx; k++) {
                const float *s = fm_fmap_plane(x[k], n, c);
                float a = p->ncoeff ? p->coeff[k] : 1.0f;
                if (k == 0)
                    for (size_t i = 0; i < hw; i++)
                        d[i] = a * s[i];
                else
                    for (size_t i = 0; i < hw; i++)
                        d[i] += a * s[i];
            }
            if (p->act.act != FM_ACT_NONE)
                for (size_t i = 0; i < hw; i++)
                    d[i] = fm_act_scalar(p->act, d[i]);
        }
}

void fm_teltwise_backward(const fm_eltwise_param *p, const fm_fmap *dz, int index, fm_fmap *dx,
                          int add)
{
    float a = p->ncoeff ? p->coeff[index] : 1.0f;
    if (a == 1.0f) {
        fm_fmap_copy(dz, dx, add);
        return;
    }
    size_t hw = (size_t)dz->h * dz->w;
    for (int n = 0; n < dz->n; n++)
        for (int c = 0; c < dz->c; c++) {
            const float *s = fm_fmap_plane(dz, n, c);
            float *d = fm_fmap_plane(dx, n, c);
            for (size_t i = 0; i < hw; i++)
                d[i] = add ? d[i] + a * s[i] : a * s[i];
        }
}

/* ---- pooling ------------------------------------------------------------------ */

void fm_tpool_forward(const fm_pool_param *p, const fm_fmap *x, fm_fmap *y)
{
    fm_pooling_window w = fm_pooling_geometry(p, x->h, x->w);
    int ave = p->method == FM_POOL_AVE;
    for (int n = 0; n < x->n; n++)
        for (int c = 0; c < x->c; c++) {
            const float *xp = fm_fmap_plane(x, n, c);
            float *yp = fm_fmap_plane(y, n, c);
            for (int oy = 0; oy < y->h; oy++)
                for (int ox = 0; ox < y->w; ox++) {
                    int ys, ye, xs, xe;
                    float inv = fm_pooling_clip(&w, x->h, x->w, oy, ox, &ys, &ye, &xs, &xe);
                    float acc = ave ? 0.0f : -FLT_MAX;
                    for (int yy = ys; yy < ye; yy++)
                        for (int xx = xs; xx < xe; xx++) {
                            float v = xp[(size_t)yy * x->w + xx];
                            if (ave)
                                acc += v;
                            else if (v > acc)
                                acc = v;
                        }
                    yp[(size_t)oy * y->w + ox] = ave ? acc * inv : acc;
                }
        }
}

void fm_tpool_backward(const fm_pool_param *p, const fm_fmap *x, const fm_fmap *dy, fm_fmap *dx,
                       int add)
{
    fm_pooling_window w = fm_pooling_geometry(p, x->h, x->w);
    int ave = p->method == FM_POOL_AVE;
    if (!add)
        fm_fmap_zero(dx);
    for (int n = 0; n < x->n; n++)
        for (int c = 0; c < x->c; c++) {
            const float *xp = fm_fmap_plane(x, n, c), *gp = fm_fmap_plane(dy, n, c);
            float *dp = fm_fmap_plane(dx, n, c);
            for (int oy = 0; oy < dy->h; oy++)
                for (int ox = 0; ox < dy->w; ox++) {
                    int ys, ye, xs, xe;
                    float inv = fm_pooling_clip(&w, x->h, x->w, oy, ox, &ys, &ye, &xs, &xe);
                    float g = gp[(size_t)oy * dy->w + ox];
                    if (ave) {
                        float v = g * inv;
                        for (int yy = ys; yy < ye; yy++)
                            for (int xx = xs; xx < xe; xx++)
                                dp[(size_t)yy * x->w + xx] += v;
                    } else {
                        float best = 0.0f;
                        size_t at = (size_t)-1;
                        for (int yy = ys; yy < ye; yy++)
                            for (int xx = xs; xx < xe; xx++) {
                                size_t i = (size_t)yy * x->w + xx;
                                if (at == (size_t)-1 || xp[i] > best) {
                                    best = xp[i];
                                    at = i;
                                }
                            }
                        if (at != (size_t)-1)
                            dp[at] += g;
                    }
                }
        }
}

/* ---- dropout ------------------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t sample_key(uint64_t seed, int layer, int sample)
{
    return mix64(mix64(seed ^ ((uint64_t)(uint32_t)layer << 32)) + (uint64_t)(uint32_t)sample);
}

static int keep_from_key(uint64_t key, size_t element, float ratio)
{
    uint64_t h = mix64(key + (uint64_t)element);
    float u = (float)(h >> 40) * (1.0f / 16777216.0f); /* [0, 1) in 2^-24 steps */
    return u >= ratio;
}

int fm_dropout_keep(uint64_t seed, int layer, int sample, size_t element, float ratio)
{
    return keep_from_key(sample_key(seed, layer, sample), element, ratio);
}

static void dropout_apply(float ratio, uint64_t seed, int layer, int sample0, const fm_fmap *x,
                          fm_fmap *y, int add)
{
    size_t hw = (size_t)x->h * x->w;
    float scale = 1.0f / (1.0f - ratio);
    for (int n = 0; n < x->n; n++) {
        uint64_t key = sample_key(seed, layer, sample0 + n);
        for (int c = 0; c < x->c; c++) {
            const float *s = fm_fmap_plane(x, n, c);
            float *d = fm_fmap_plane(y, n, c);
            for (size_t i = 0; i < hw; i++) {
                float v = keep_from_key(key, (size_t)c * hw + i, ratio) ? s[i] * scale : 0.0f;
                d[i] = add ? d[i] + v : v;
            }
        }
    }
}

void fm_dropout_forward(float ratio, uint64_t seed, int layer, int sample0, const fm_fmap *x,
                        fm_fmap *y)
{
    dropout_apply(ratio, seed, layer, sample0, x, y, 0);
}

void fm_dropout_backward(float ratio, uint64_t seed, int layer, int sample0, const fm_fmap *dy,
                         fm_fmap *dx, int add)
{
    dropout_apply(ratio, seed, layer, sample0, dy, dx, add);
}

/* ---- softmax + cross-entropy ------------------------------------------------------ */

double fm_softmax_ce_norm(const int *labels, int n, const float *class_w)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += class_w ? (double)class_w[labels[i]] : 1.0;
    return s > 0.0 ? 1.0 / s : 0.0;
}

static void softmax_row(const fm_fmap *z, int i, fm_fmap *p, double *logsum, float *zmax)
{
    int K = z->c;
    float m = -FLT_MAX;
    for (int k = 0; k < K; k++) {
        float v = fm_fmap_plane(z, i, k)[0];
        if (v > m)
            m = v;
    }
    double s = 0.0;
    for (int k = 0; k < K; k++)
        s += exp((double)fm_fmap_plane(z, i, k)[0] - m);
    for (int k = 0; k < K; k++)
        fm_fmap_plane(p, i, k)[0] = (float)(exp((double)fm_fmap_plane(z, i, k)[0] - m) / s);
    *logsum = log(s);
    *zmax = m;
}

void fm_softmax_ce(const fm_fmap *logits, const int *labels, const float *class_w, float norm,
                   fm_fmap *probs, float *loss, fm_fmap *dlogits, int add)
{
    for (int i = 0; i < logits->n; i++) {
        double logsum;
        float m;
        softmax_row(logits, i, probs, &logsum, &m);
        int y = labels[i];
        float cw = class_w ? class_w[y] : 1.0f;
        double logp = (double)fm_fmap_plane(logits, i, y)[0] - m - logsum;
        if (loss)
            loss[i] = (float)(-(double)cw * logp);
        if (dlogits) {
            float s = norm * cw;
            for (int k = 0; k < logits->c; k++) {
                float v = s * (fm_fmap_plane(probs, i, k)[0] - (k == y ? 1.0f : 0.0f));
                float *d = fm_fmap_plane(dlogits, i, k);
                *d = add ? *d + v : v;
            }
        }
    }
}

void fm_tsoftmax_forward(const fm_fmap *logits, fm_fmap *probs)
{
    for (int i = 0; i < logits->n; i++) {
        double logsum;
        float m;
        softmax_row(logits, i, probs, &logsum, &m);
    }
}
