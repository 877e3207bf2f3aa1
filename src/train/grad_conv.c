/* grad_conv.c - convolution forward and backward for training (see grad.h).
 *
 * Reference: direct loops with double sums; the input gradient is gathered
 * (for each input pixel, the outputs whose window covers it), the opposite
 * order of the fast path, so the two check each other.
 * Fast:
 *   - depthwise (group == C == num_output): direct loops per plane;
 *   - 1x1, stride 1, no pad, group 1: GEMMs; over the whole batch at once when
 *     the samples of a channel are adjacent (channel-major layout);
 *   - anything else: im2col per sample and group, then GEMMs; the input
 *     gradient comes back through col2im.
 */
#include <string.h>

#include "train/grad.h"
#include "train/sgemm.h"

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

size_t fm_tconv_work_floats(const fm_conv_param *p, int c, int h, int w)
{
    geom g = get_geom(p, c, h, w);
    size_t col = 0;
    if (!is_depthwise(&g) && !is_pointwise(&g))
        col = (size_t)g.Cg * g.kh * g.kw * (size_t)g.OH * g.OW;
    /* col + dcol, each rounded up to 16 floats to keep the SGEMM part aligned */
    return 2 * ((col + 15) & ~(size_t)15) + FM_SGEMM_WORK_FLOATS;
}

/* Samples of a channel adjacent: plane (i, c) = plane (0, c) + i * h * w. */
static int batch_rows(const fm_fmap *m)
{
    return m->ns == (size_t)m->h * (size_t)m->w || m->n == 1;
}

static void bias_act(const geom *g, const fm_conv_param *p, const float *b, fm_fmap *y)
{
    if (!b && p->act.act == FM_ACT_NONE)
        return;
    size_t hw = (size_t)g->OH * g->OW;
    for (int n = 0; n < y->n; n++)
        for (int o = 0; o < g->O; o++) {
            float *yp = fm_fmap_plane(y, n, o);
            float bo = b ? b[o] : 0.0f;
            for (size_t i = 0; i < hw; i++)
                yp[i] = act1(p->act, yp[i] + bo);
        }
}

/* Depthwise forward of one plane, all in registers of the compiler's choosing. */
static void dw_plane_forward(const geom *g, const float *xp, const float *wp, float *yp)
{
    for (int oy = 0; oy < g->OH; oy++) {
        float *yr = yp + (size_t)oy * g->OW;
        for (int ox = 0; ox < g->OW; ox++)
            yr[ox] = 0.0f;
        for (int ky = 0; ky < g->kh; ky++) {
            int iy = oy * g->sh - g->ph + ky * g->dh;
            if (iy < 0 || iy >= g->H)
                continue;
            const float *xr = xp + (size_t)iy * g->W;
            for (int kx = 0; kx < g->kw; kx++) {
                float wv = wp[ky * g->kw + kx];
                int off = kx * g->dw - g->pw;
                /* ox range with 0 <= ox * sw + off < W */
                int lo = off < 0 ? (-off + g->sw - 1) / g->sw : 0;
                int hi = (g->W - 1 - off) >= 0 ? (g->W - 1 - off) / g->sw + 1 : 0;
                if (hi > g->OW)
                    hi = g->OW;
                if (g->sw == 1)
                    for (int ox = lo; ox < hi; ox++)
                        yr[ox] += wv * xr[ox + off];
                else
                    for (int ox = lo; ox < hi; ox++)
                        yr[ox] += wv * xr[ox * g->sw + off];
            }
        }
    }
}

static void dw_plane_backward(const geom *g, const float *xp, const float *wp, const float *zp,
                              float *dxp, float *dwp)
{
    for (int ky = 0; ky < g->kh; ky++)
        for (int kx = 0; kx < g->kw; kx++) {
            float wv = wp[ky * g->kw + kx];
            int off = kx * g->dw - g->pw;
            int lo = off < 0 ? (-off + g->sw - 1) / g->sw : 0;
            int hi = (g->W - 1 - off) >= 0 ? (g->W - 1 - off) / g->sw + 1 : 0;
            if (hi > g->OW)
                hi = g->OW;
            float s = 0.0f;
            for (int oy = 0; oy < g->OH; oy++) {
                int iy = oy * g->sh - g->ph + ky * g->dh;
                if (iy < 0 || iy >= g->H)
                    continue;
                const float *zr = zp + (size_t)oy * g->OW;
                size_t xo = (size_t)iy * g->W;
                if (dwp)
                    for (int ox = lo; ox < hi; ox++)
                        s += zr[ox] * xp[xo + (size_t)(ox * g->sw + off)];
                if (dxp)
                    for (int ox = lo; ox < hi; ox++)
                        dxp[xo + (size_t)(ox * g->sw + off)] += zr[ox] * wv;
            }
            if (dwp)
                dwp[ky * g->kw + kx] += s;
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
        for (int n = 0; n < x->n; n++)
            for (int c = 0; c < g.C; c++)
                dw_plane_forward(&g, fm_fmap_plane(x, n, c), w + (size_t)c * kk,
                                 fm_fmap_plane(y, n, c));
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
    bias_act(&g, p, b, y);
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
            float s = 0.0f;
            for (int n = 0; n < x->n; n++) {
                const float *zp = fm_fmap_plane(dz, n, o);
                for (size_t i = 0; i < ohw; i++)
                    s += zp[i];
            }
            db[o] += s;
        }
    if (is_depthwise(&g)) {
        if (dx && !add)
            fm_fmap_zero(dx);
        for (int n = 0; n < x->n; n++)
            for (int c = 0; c < g.C; c++)
                dw_plane_backward(&g, fm_fmap_plane(x, n, c), w + (size_t)c * kk,
                                  fm_fmap_plane(dz, n, c), dx ? fm_fmap_plane(dx, n, c) : NULL,
                                  dw ? dw + (size_t)c * kk : NULL);
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
