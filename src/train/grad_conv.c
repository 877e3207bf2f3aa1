/* grad_conv.c - convolution forward and backward for training (see grad.h).
 *
 * Reference: direct loops with double sums; the input gradient is gathered
 * (for each input pixel, the outputs whose window covers it), the opposite
 * order of the fast path, so the two check each other.
 * Fast:
 *   - depthwise (group == C == num_output): per channel, the planes of all samples
 *     zero-padded and stacked into one flat buffer, so each tap is one long
 *     vectorised axpy (forward, input gradient) or dot product (weight gradient);
 *     strides and dilations read the stride-1 result on their grid;
 *   - 1x1, stride 1, no pad, group 1: GEMMs; over the whole batch at once when
 *     the samples of a channel are adjacent (channel-major layout);
 *   - anything else: im2col per sample and group, then GEMMs; the input
 *     gradient comes back through col2im.
 */
#include <string.h>

#include "train/grad.h"
#include "train/sgemm.h"
#include "train/vec.h"

static inline float act1(fm_activation a, float v)
{
    return fm_act_scalar(a, v);
}

static int conv_out(int in, int k, int s, int pad, int dil)
{
    int ek = dil * (k - 1) + 1;
    return (in + 2 * pad - ek) / s + 1;
}

typedef struct {
    int C, H, W, O, OH, OW, G, Cg, Og, kh, kw, sh, sw, ph, pw, dh, dw;
} geom;

static geom get_geom(const fm_conv_param *p, int c, int h, int w)
{
    geom g;
    g.C = c;
    g.H = h;
    g.W = w;
    g.O = p->num_output;
    g.G = p->group > 0 ? p->group : 1;
    g.Cg = c / g.G;
    g.Og = g.O / g.G;
    g.kh = p->kernel_h;
    g.kw = p->kernel_w;
    g.sh = p->stride_h > 0 ? p->stride_h : 1;
    g.sw = p->stride_w > 0 ? p->stride_w : 1;
    g.ph = p->pad_h;
    g.pw = p->pad_w;
    g.dh = p->dilation_h > 0 ? p->dilation_h : 1;
    g.dw = p->dilation_w > 0 ? p->dilation_w : 1;
    g.OH = conv_out(h, g.kh, g.sh, g.ph, g.dh);
    g.OW = conv_out(w, g.kw, g.sw, g.pw, g.dw);
    return g;
}

static int is_depthwise(const geom *g)
{
    return g->G == g->C && g->O == g->C;
}

static int is_pointwise(const geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
           g->G == 1;
}

/* ---- reference ---------------------------------------------------------------- */

void fm_tconv_forward_ref(const fm_conv_param *p, const fm_fmap *x, const float *w, const float *b,
                          fm_fmap *y)
{
    geom g = get_geom(p, x->c, x->h, x->w);
    for (int n = 0; n < x->n; n++)
        for (int o = 0; o < g.O; o++) {
            int gi = o / g.Og;
            float *yp = fm_fmap_plane(y, n, o);
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox = 0; ox < g.OW; ox++) {
                    double s = b ? (double)b[o] : 0.0;
                    for (int ci = 0; ci < g.Cg; ci++) {
                        const float *xp = fm_fmap_plane(x, n, gi * g.Cg + ci);
                        const float *wp = w + ((size_t)o * g.Cg + ci) * g.kh * g.kw;
                        for (int ky = 0; ky < g.kh; ky++) {
                            int iy = oy * g.sh - g.ph + ky * g.dh;
                            if (iy < 0 || iy >= g.H)
                                continue;
                            for (int kx = 0; kx < g.kw; kx++) {
                                int ix = ox * g.sw - g.pw + kx * g.dw;
                                if (ix < 0 || ix >= g.W)
                                    continue;
                                s += (double)wp[ky * g.kw + kx] * (double)xp[iy * g.W + ix];
                            }
                        }
                    }
                    yp[oy * g.OW + ox] = act1(p->act, (float)s);
                }
        }
}

void fm_tconv_backward_ref(const fm_conv_param *p, const fm_fmap *x, const float *w,
                           const fm_fmap *dz, fm_fmap *dx, int add, float *dw, float *db)
{
    geom g = get_geom(p, x->c, x->h, x->w);
    if (db)
        for (int o = 0; o < g.O; o++) {
            double s = 0.0;
            for (int n = 0; n < x->n; n++) {
                const float *zp = fm_fmap_plane(dz, n, o);
                for (int i = 0; i < g.OH * g.OW; i++)
                    s += zp[i];
            }
            db[o] += (float)s;
        }
    if (dw)
        for (int o = 0; o < g.O; o++) {
            int gi = o / g.Og;
            for (int ci = 0; ci < g.Cg; ci++)
                for (int ky = 0; ky < g.kh; ky++)
                    for (int kx = 0; kx < g.kw; kx++) {
                        double s = 0.0;
                        for (int n = 0; n < x->n; n++) {
                            const float *xp = fm_fmap_plane(x, n, gi * g.Cg + ci);
                            const float *zp = fm_fmap_plane(dz, n, o);
                            for (int oy = 0; oy < g.OH; oy++) {
                                int iy = oy * g.sh - g.ph + ky * g.dh;
                                if (iy < 0 || iy >= g.H)
                                    continue;
                                for (int ox = 0; ox < g.OW; ox++) {
                                    int ix = ox * g.sw - g.pw + kx * g.dw;
                                    if (ix >= 0 && ix < g.W)
                                        s += (double)zp[oy * g.OW + ox] * xp[iy * g.W + ix];
                                }
                            }
                        }
                        dw[(((size_t)o * g.Cg + ci) * g.kh + ky) * g.kw + kx] += (float)s;
                    }
        }
    if (dx)
        for (int n = 0; n < x->n; n++)
            for (int c = 0; c < g.C; c++) {
                int gi = c / g.Cg, ci = c % g.Cg;
                float *xp = fm_fmap_plane(dx, n, c);
                for (int iy = 0; iy < g.H; iy++)
                    for (int ix = 0; ix < g.W; ix++) {
                        double s = 0.0;
                        for (int oo = 0; oo < g.Og; oo++) {
                            int o = gi * g.Og + oo;
                            const float *zp = fm_fmap_plane(dz, n, o);
                            const float *wp = w + ((size_t)o * g.Cg + ci) * g.kh * g.kw;
                            for (int ky = 0; ky < g.kh; ky++) {
                                int t = iy + g.ph - ky * g.dh;
                                if (t < 0 || t % g.sh)
                                    continue;
                                int oy = t / g.sh;
                                if (oy >= g.OH)
                                    continue;
                                for (int kx = 0; kx < g.kw; kx++) {
                                    int u = ix + g.pw - kx * g.dw;
                                    if (u < 0 || u % g.sw)
                                        continue;
                                    int ox = u / g.sw;
                                    if (ox >= g.OW)
                                        continue;
                                    s += (double)zp[oy * g.OW + ox] * wp[ky * g.kw + kx];
                                }
                            }
                        }
                        float *d = &xp[iy * g.W + ix];
                        *d = add ? *d + (float)s : (float)s;
                    }
            }
}

/* ---- fast --------------------------------------------------------------------- */

/* Depthwise geometry: every sample's plane zero-padded to HP x WP and stacked, so a
 * stride-1 correlation over the flat buffer is one long vectorisable loop per tap. */
typedef struct {
    size_t hp, wp, plane, len, maxoff, buf; /* buf: floats of one padded buffer */
} dwgeom;

static dwgeom get_dwgeom(const geom *g, int n)
{
    dwgeom d;
    d.hp = (size_t)g->H + 2 * (size_t)g->ph;
    d.wp = (size_t)g->W + 2 * (size_t)g->pw;
    d.plane = d.hp * d.wp;
    d.len = d.plane * (size_t)n;
    d.maxoff = (size_t)(g->kh - 1) * g->dh * d.wp + (size_t)(g->kw - 1) * g->dw;
    d.buf = (d.len + 2 * d.maxoff + 15) & ~(size_t)15;
    return d;
}

size_t fm_tconv_work_floats(const fm_conv_param *p, int n, int c, int h, int w)
{
    geom g = get_geom(p, c, h, w);
    size_t col = 0;
    if (is_depthwise(&g)) {
        dwgeom d = get_dwgeom(&g, n);
        return 3 * d.buf + 16;
    }
    if (!is_pointwise(&g))
        col = (size_t)g.Cg * g.kh * g.kw * (size_t)g.OH * g.OW;
    /* col + dcol, each rounded up to 16 floats to keep the SGEMM part aligned */
    return 2 * ((col + 15) & ~(size_t)15) + FM_SGEMM_WORK_FLOATS;
}

/* Samples of a channel adjacent: plane (i, c) = plane (0, c) + i * h * w. */
static int batch_rows(const fm_fmap *m)
{
    return m->ns == (size_t)m->h * (size_t)m->w || m->n == 1;
}

static void bias_act(fm_isa isa, const geom *g, const fm_conv_param *p, const float *b, fm_fmap *y)
{
    if (!b && p->act.act == FM_ACT_NONE)
        return;
    size_t hw = (size_t)g->OH * g->OW;
    if (batch_rows(y)) /* all samples of a channel in one row */
        for (int o = 0; o < g->O; o++)
            fm_vec_bias_act(isa, hw * (size_t)y->n, fm_fmap_plane(y, 0, o), b ? b[o] : 0.0f, p->act);
    else
        for (int n = 0; n < y->n; n++)
            for (int o = 0; o < g->O; o++)
                fm_vec_bias_act(isa, hw, fm_fmap_plane(y, n, o), b ? b[o] : 0.0f, p->act);
}

/* Channel c of every sample into the padded stacked buffer P (P[maxoff..] holds the
 * first padded plane; the maxoff floats before and after are zero). */
static void dw_fill(const geom *g, const dwgeom *d, const fm_fmap *x, int c, float *P)
{
    memset(P, 0, d->buf * sizeof(float));
    float *base = P + d->maxoff;
    for (int n = 0; n < x->n; n++) {
        const float *xp = fm_fmap_plane(x, n, c);
        for (int yy = 0; yy < g->H; yy++)
            memcpy(base + (size_t)n * d->plane + ((size_t)yy + g->ph) * d->wp + g->pw,
                   xp + (size_t)yy * g->W, (size_t)g->W * sizeof(float));
    }
}

/* Offset of tap (ky, kx) in the flat buffer. */
static size_t dw_off(const geom *g, const dwgeom *d, int ky, int kx)
{
    return (size_t)ky * g->dh * d->wp + (size_t)kx * g->dw;
}

/* F[i] = sum_k w[k] P[i + off_k] over the whole stack, then the outputs are read at
 * F[n * plane + oy * sh * wp + ox * sw]. */
static void dw_channel_forward(fm_isa isa, const geom *g, const dwgeom *d, const float *P,
                               const float *wk, float *F, fm_fmap *y, int c)
{
    const float *base = P + d->maxoff;
    int kk = g->kh * g->kw;
    for (int k = 0; k < kk; k++) {
        const float *src = base + dw_off(g, d, k / g->kw, k % g->kw);
        if (k == 0)
            fm_vec_scale(isa, d->len, wk[k], src, F);
        else
            fm_vec_axpy(isa, d->len, wk[k], src, F);
    }
    for (int n = 0; n < y->n; n++) {
        float *yp = fm_fmap_plane(y, n, c);
        for (int oy = 0; oy < g->OH; oy++) {
            const float *row = F + (size_t)n * d->plane + (size_t)oy * g->sh * d->wp;
            float *yr = yp + (size_t)oy * g->OW;
            if (g->sw == 1)
                memcpy(yr, row, (size_t)g->OW * sizeof(float));
            else
                for (int ox = 0; ox < g->OW; ox++)
                    yr[ox] = row[(size_t)ox * g->sw];
        }
    }
}

/* D: dz of channel c spread on the stride-1 grid (zeros elsewhere), with maxoff zeros
 * before it; dW[k] += sum_i D[i] P[i + off_k]; dP[j] = sum_k w[k] D[j - off_k]. */
static void dw_channel_backward(fm_isa isa, const geom *g, const dwgeom *d, const float *P,
                                const float *wk,
                                const fm_fmap *dz, int c, float *D, float *dP, fm_fmap *dx,
                                int add, float *dwk)
{
    memset(D, 0, d->buf * sizeof(float));
    float *dbase = D + d->maxoff;
    for (int n = 0; n < dz->n; n++) {
        const float *zp = fm_fmap_plane(dz, n, c);
        for (int oy = 0; oy < g->OH; oy++) {
            float *row = dbase + (size_t)n * d->plane + (size_t)oy * g->sh * d->wp;
            const float *zr = zp + (size_t)oy * g->OW;
            for (int ox = 0; ox < g->OW; ox++)
                row[(size_t)ox * g->sw] = zr[ox];
        }
    }
    const float *pbase = P + d->maxoff;
    int kk = g->kh * g->kw;
    if (dwk)
        for (int k = 0; k < kk; k++) {
            const float *src = pbase + dw_off(g, d, k / g->kw, k % g->kw);
            dwk[k] += fm_vec_dot(isa, d->len, dbase, src);
        }
    if (!dx)
        return;
    /* dP over the padded stack: position j of the stack is dP[j] */
    for (int k = 0; k < kk; k++) {
        const float *src = dbase - dw_off(g, d, k / g->kw, k % g->kw);
        if (k == 0)
            fm_vec_scale(isa, d->len, wk[k], src, dP);
        else
            fm_vec_axpy(isa, d->len, wk[k], src, dP);
    }
    for (int n = 0; n < dx->n; n++) {
        float *xp = fm_fmap_plane(dx, n, c);
        for (int yy = 0; yy < g->H; yy++) {
            const float *row = dP + (size_t)n * d->plane + ((size_t)yy + g->ph) * d->wp + g->pw;
            float *xr = xp + (size_t)yy * g->W;
            if (add)
                for (int xx = 0; xx < g->W; xx++)
                    xr[xx] += row[xx];
            else
                memcpy(xr, row, (size_t)g->W * sizeof(float));
        }
    }
}

/* im2col of one sample and group: rows (ci, ky, kx), columns (oy, ox). */
static void im2col(const geom *g, const fm_fmap *x, int n, int gi, float *col)
{
    size_t ohw = (size_t)g->OH * g->OW;
    for (int ci = 0; ci < g->Cg; ci++) {
        const float *xp = fm_fmap_plane(x, n, gi * g->Cg + ci);
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++) {
                float *row = col + (((size_t)ci * g->kh + ky) * g->kw + kx) * ohw;
                for (int oy = 0; oy < g->OH; oy++) {
                    int iy = oy * g->sh - g->ph + ky * g->dh;
                    float *r = row + (size_t)oy * g->OW;
                    if (iy < 0 || iy >= g->H) {
                        memset(r, 0, (size_t)g->OW * sizeof(float));
                        continue;
                    }
                    for (int ox = 0; ox < g->OW; ox++) {
                        int ix = ox * g->sw - g->pw + kx * g->dw;
                        r[ox] = (ix >= 0 && ix < g->W) ? xp[(size_t)iy * g->W + ix] : 0.0f;
                    }
                }
            }
    }
}

static void col2im_add(const geom *g, const float *col, fm_fmap *dx, int n, int gi)
{
    size_t ohw = (size_t)g->OH * g->OW;
    for (int ci = 0; ci < g->Cg; ci++) {
        float *xp = fm_fmap_plane(dx, n, gi * g->Cg + ci);
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++) {
                const float *row = col + (((size_t)ci * g->kh + ky) * g->kw + kx) * ohw;
                for (int oy = 0; oy < g->OH; oy++) {
                    int iy = oy * g->sh - g->ph + ky * g->dh;
                    if (iy < 0 || iy >= g->H)
                        continue;
                    const float *r = row + (size_t)oy * g->OW;
                    for (int ox = 0; ox < g->OW; ox++) {
                        int ix = ox * g->sw - g->pw + kx * g->dw;
                        if (ix >= 0 && ix < g->W)
                            xp[(size_t)iy * g->W + ix] += r[ox];
                    }
                }
            }
    }
}

void fm_tconv_forward(const fm_tctx *ctx, const fm_conv_param *p, const fm_fmap *x, const float *w,
                      const float *b, fm_fmap *y)
{
    if (ctx->reference) {
        fm_tconv_forward_ref(p, x, w, b, y);
        return;
    }
    geom g = get_geom(p, x->c, x->h, x->w);
    size_t ohw = (size_t)g.OH * g.OW, hw = (size_t)g.H * g.W;
    size_t kk = (size_t)g.kh * g.kw;
    if (is_depthwise(&g)) {
        dwgeom d = get_dwgeom(&g, x->n);
        float *P = ctx->work, *F = ctx->work + d.buf;
        for (int c = 0; c < g.C; c++) {
            dw_fill(&g, &d, x, c, P);
            dw_channel_forward(ctx->isa, &g, &d, P, w + (size_t)c * kk, F, y, c);
        }
    } else if (is_pointwise(&g)) {
        float *sw = ctx->work;
        if (batch_rows(x) && batch_rows(y))
            fm_sgemm(ctx->isa, 0, 0, g.O, (int)(hw * x->n), g.C, 1.0f, w, (size_t)g.C, x->data,
                     x->cs, 0.0f, y->data, y->cs, sw);
        else
            for (int n = 0; n < x->n; n++)
                fm_sgemm(ctx->isa, 0, 0, g.O, (int)hw, g.C, 1.0f, w, (size_t)g.C,
                         fm_fmap_plane(x, n, 0), x->cs, 0.0f, fm_fmap_plane(y, n, 0), y->cs, sw);
    } else {
        size_t colsz = ((size_t)g.Cg * kk * ohw + 15) & ~(size_t)15;
        float *col = ctx->work, *sw = ctx->work + 2 * colsz;
        size_t K = (size_t)g.Cg * kk;
        for (int n = 0; n < x->n; n++)
            for (int gi = 0; gi < g.G; gi++) {
                im2col(&g, x, n, gi, col);
                fm_sgemm(ctx->isa, 0, 0, g.Og, (int)ohw, (int)K, 1.0f,
                         w + (size_t)gi * g.Og * K, K, col, ohw, 0.0f,
                         fm_fmap_plane(y, n, gi * g.Og), y->cs, sw);
            }
    }
    bias_act(ctx->isa, &g, p, b, y);
}

void fm_tconv_backward(const fm_tctx *ctx, const fm_conv_param *p, const fm_fmap *x,
                       const float *w, const fm_fmap *dz, fm_fmap *dx, int add, float *dw,
                       float *db)
{
    if (ctx->reference) {
        fm_tconv_backward_ref(p, x, w, dz, dx, add, dw, db);
        return;
    }
    geom g = get_geom(p, x->c, x->h, x->w);
    size_t ohw = (size_t)g.OH * g.OW, hw = (size_t)g.H * g.W;
    size_t kk = (size_t)g.kh * g.kw;
    if (db)
        for (int o = 0; o < g.O; o++) {
            if (batch_rows(dz)) {
                db[o] += fm_vec_sum(ctx->isa, ohw * (size_t)x->n, fm_fmap_plane(dz, 0, o));
                continue;
            }
            float s = 0.0f;
            for (int n = 0; n < x->n; n++)
                s += fm_vec_sum(ctx->isa, ohw, fm_fmap_plane(dz, n, o));
            db[o] += s;
        }
    if (is_depthwise(&g)) {
        dwgeom d = get_dwgeom(&g, x->n);
        float *P = ctx->work, *D = ctx->work + d.buf, *dP = ctx->work + 2 * d.buf;
        for (int c = 0; c < g.C; c++) {
            if (dw)
                dw_fill(&g, &d, x, c, P);
            dw_channel_backward(ctx->isa, &g, &d, P, w + (size_t)c * kk, dz, c, D, dP, dx, add,
                                dw ? dw + (size_t)c * kk : NULL);
        }
    } else if (is_pointwise(&g)) {
        float *sw = ctx->work;
        if (batch_rows(x) && batch_rows(dz) && (!dx || batch_rows(dx))) {
            int nhw = (int)(hw * x->n);
            if (dw)
                fm_sgemm(ctx->isa, 0, 1, g.O, g.C, nhw, 1.0f, dz->data, dz->cs, x->data, x->cs,
                         1.0f, dw, (size_t)g.C, sw);
            if (dx)
                fm_sgemm(ctx->isa, 1, 0, g.C, nhw, g.O, 1.0f, w, (size_t)g.C, dz->data, dz->cs,
                         add ? 1.0f : 0.0f, dx->data, dx->cs, sw);
        } else {
            for (int n = 0; n < x->n; n++) {
                const float *zp = fm_fmap_plane(dz, n, 0);
                if (dw)
                    fm_sgemm(ctx->isa, 0, 1, g.O, g.C, (int)hw, 1.0f, zp, dz->cs,
                             fm_fmap_plane(x, n, 0), x->cs, 1.0f, dw, (size_t)g.C, sw);
                if (dx)
                    fm_sgemm(ctx->isa, 1, 0, g.C, (int)hw, g.O, 1.0f, w, (size_t)g.C, zp, dz->cs,
                             add ? 1.0f : 0.0f, fm_fmap_plane(dx, n, 0), dx->cs, sw);
            }
        }
    } else {
        size_t K = (size_t)g.Cg * kk;
        size_t colsz = (K * ohw + 15) & ~(size_t)15;
        float *col = ctx->work, *dcol = ctx->work + colsz, *sw = ctx->work + 2 * colsz;
        if (dx && !add)
            fm_fmap_zero(dx);
        for (int n = 0; n < x->n; n++)
            for (int gi = 0; gi < g.G; gi++) {
                const float *zp = fm_fmap_plane(dz, n, gi * g.Og);
                const float *wg = w + (size_t)gi * g.Og * K;
                if (dw) {
                    im2col(&g, x, n, gi, col);
                    fm_sgemm(ctx->isa, 0, 1, g.Og, (int)K, (int)ohw, 1.0f, zp, dz->cs, col, ohw,
                             1.0f, dw + (size_t)gi * g.Og * K, K, sw);
                }
                if (dx) {
                    fm_sgemm(ctx->isa, 1, 0, (int)K, (int)ohw, g.Og, 1.0f, wg, K, zp, dz->cs,
                             0.0f, dcol, ohw, sw);
                    col2im_add(&g, dcol, dx, n, gi);
                }
            }
    }
}
