/* augment.c - splitmix64 random numbers and the Keras-style crop augmentation (see augment.h). */
#include "data/augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FM_PI 3.14159265358979323846

/* ---- random numbers ------------------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void fm_rng_init(fm_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t fm_rng_next(fm_rng *r)
{
    r->state += 0x9E3779B97F4A7C15ull;
    return mix64(r->state);
}

double fm_rng_uniform(fm_rng *r)
{
    return (double)(fm_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double fm_rng_range(fm_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * fm_rng_uniform(r);
}

uint64_t fm_rng_below(fm_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    /* Reject the lowest (2^64 mod n) values so every residue is equally likely. */
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = fm_rng_next(r);
        if (x >= threshold)
            return x % n;
    }
}

uint64_t fm_aug_seed(uint64_t seed, uint64_t epoch, uint64_t index)
{
    return mix64(mix64(mix64(seed + 0x9E3779B97F4A7C15ull) ^ epoch) ^ index);
}

/* ---- parameters ------------------------------------------------------------------------ */

fm_aug_params fm_aug_defaults(void)
{
    fm_aug_params p;
    memset(&p, 0, sizeof p);
    p.rotation_deg = 20.0f;
    p.zoom = 0.15f;
    p.width_shift = 0.2f;
    p.height_shift = 0.2f;
    p.shear_deg = 0.15f;
    p.hflip = 1;
    p.brightness = 0.2f;
    p.contrast = 0.2f;
    p.lowres_prob = 0.0f;
    p.lowres_min = 12;
    p.lowres_max = 0;
    return p;
}

fm_aug_params fm_aug_none(void)
{
    fm_aug_params p;
    memset(&p, 0, sizeof p);
    p.lowres_min = 12;
    return p;
}

static int in_range(float v, float lo, float hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

static fm_status check_params(const fm_aug_params *p, fm_err *err)
{
    if (!in_range(p->rotation_deg, 0.0f, 360.0f))
        return fm_err_set(err, FM_ERR_ARG, "augment: rotation_deg %g is outside 0..360",
                          (double)p->rotation_deg);
    if (!in_range(p->zoom, 0.0f, 0.99f))
        return fm_err_set(err, FM_ERR_ARG, "augment: zoom %g is outside 0..0.99", (double)p->zoom);
    if (!in_range(p->width_shift, 0.0f, 1.0f) || !in_range(p->height_shift, 0.0f, 1.0f))
        return fm_err_set(err, FM_ERR_ARG,
                          "augment: width_shift %g / height_shift %g outside 0..1 (a fraction)",
                          (double)p->width_shift, (double)p->height_shift);
    if (!in_range(p->shear_deg, 0.0f, 80.0f))
        return fm_err_set(err, FM_ERR_ARG, "augment: shear_deg %g is outside 0..80",
                          (double)p->shear_deg);
    if (!in_range(p->brightness, 0.0f, 1.0f) || !in_range(p->contrast, 0.0f, 1.0f))
        return fm_err_set(err, FM_ERR_ARG,
                          "augment: brightness %g / contrast %g outside 0..1",
                          (double)p->brightness, (double)p->contrast);
    if (!in_range(p->lowres_prob, 0.0f, 1.0f))
        return fm_err_set(err, FM_ERR_ARG, "augment: lowres_prob %g is outside 0..1",
                          (double)p->lowres_prob);
    if (p->lowres_min < 1 || p->lowres_max < 0)
        return fm_err_set(err, FM_ERR_ARG,
                          "augment: lowres_min %d must be >= 1 and lowres_max %d >= 0",
                          p->lowres_min, p->lowres_max);
    return FM_OK;
}

fm_status fm_aug_sample(const fm_aug_params *p, int w, int h, uint64_t seed, fm_aug_draw *d,
                        fm_err *err)
{
    if (!p || !d || w < 1 || h < 1)
        return fm_err_set(err, FM_ERR_ARG, "augment: bad arguments (image %dx%d)", w, h);
    fm_status st = check_params(p, err);
    if (st != FM_OK)
        return st;
    fm_rng r;
    fm_rng_init(&r, seed);
    /* Eleven draws, always in this order. */
    const double u_theta = fm_rng_uniform(&r), u_tx = fm_rng_uniform(&r);
    const double u_ty = fm_rng_uniform(&r), u_shear = fm_rng_uniform(&r);
    const double u_zx = fm_rng_uniform(&r), u_zy = fm_rng_uniform(&r);
    const double u_flip = fm_rng_uniform(&r), u_con = fm_rng_uniform(&r);
    const double u_bri = fm_rng_uniform(&r), u_lr = fm_rng_uniform(&r);
    const double u_lrs = fm_rng_uniform(&r);

    d->theta_deg = (2.0 * u_theta - 1.0) * p->rotation_deg;
    d->tx = (2.0 * u_tx - 1.0) * p->height_shift * h;
    d->ty = (2.0 * u_ty - 1.0) * p->width_shift * w;
    d->shear_deg = (2.0 * u_shear - 1.0) * p->shear_deg;
    d->zx = 1.0 + (2.0 * u_zx - 1.0) * p->zoom;
    d->zy = 1.0 + (2.0 * u_zy - 1.0) * p->zoom;
    d->flip = p->hflip && u_flip < 0.5;
    d->contrast = 1.0 + (2.0 * u_con - 1.0) * p->contrast;
    d->brightness = 1.0 + (2.0 * u_bri - 1.0) * p->brightness;
    d->lowres = 0;
    const int shorter = w < h ? w : h;
    const int hi = p->lowres_max > 0 && p->lowres_max < shorter ? p->lowres_max : shorter;
    if (u_lr < p->lowres_prob && p->lowres_min <= hi) {
        const double l0 = log((double)p->lowres_min), l1 = log((double)hi);
        int s = (int)floor(exp(l0 + (l1 - l0) * u_lrs) + 0.5);
        s = s < p->lowres_min ? p->lowres_min : s > hi ? hi : s;
        d->lowres = s < shorter ? s : 0;
    }
    return FM_OK;
}

/* ---- applying a draw ------------------------------------------------------------------- */

static uint8_t *px(const fm_image *img, int x, int y)
{
    return img->data + (size_t)y * (size_t)img->stride + (size_t)x * 3;
}

/* Bilinear with edge replication: coordinates are clamped to [-1, n] first (beyond that the
 * result no longer changes), so any finite value is safe. */
static void axis(double v, int n, int *i0, int *i1, float *f)
{
    if (v < -1.0)
        v = -1.0;
    if (v > (double)n)
        v = (double)n;
    const double fl = floor(v);
    int a = (int)fl;
    *f = (float)(v - fl);
    int b = a + 1;
    *i0 = a < 0 ? 0 : a > n - 1 ? n - 1 : a;
    *i1 = b < 0 ? 0 : b > n - 1 ? n - 1 : b;
}

static void warp(const fm_image *in, fm_image *out, const fm_aug_draw *d)
{
    const int w = in->w, h = in->h;
    const double th = d->theta_deg * (FM_PI / 180.0), sh = d->shear_deg * (FM_PI / 180.0);
    const double ct = cos(th), st = sin(th), ssh = sin(sh), csh = cos(sh);
    /* M = R * S * Z in (row, col) coordinates. */
    const double rs00 = ct, rs01 = -ct * ssh - st * csh;
    const double rs10 = st, rs11 = -st * ssh + ct * csh;
    double m00 = rs00 * d->zx, m01 = rs01 * d->zy;
    double m10 = rs10 * d->zx, m11 = rs11 * d->zy;
    const double cr = (h - 1) * 0.5, cc = (w - 1) * 0.5;
    /* in = M (out' - C) + C + R t, out' = out with the column mirrored when flipping. */
    double o0 = cr + ct * d->tx - st * d->ty - (m00 * cr + m01 * cc);
    double o1 = cc + st * d->tx + ct * d->ty - (m10 * cr + m11 * cc);
    if (d->flip) {
        /* c' = (w - 1) - c */
        o0 += m01 * (w - 1);
        o1 += m11 * (w - 1);
        m01 = -m01;
        m11 = -m11;
    }
    for (int r = 0; r < h; r++) {
        uint8_t *dst = px(out, 0, r);
        for (int c = 0; c < w; c++) {
            const double sr = m00 * r + m01 * c + o0;
            const double sc = m10 * r + m11 * c + o1;
            int r0, r1, c0, c1;
            float fr, fc;
            axis(sr, h, &r0, &r1, &fr);
            axis(sc, w, &c0, &c1, &fc);
            const uint8_t *p00 = px(in, c0, r0), *p01 = px(in, c1, r0);
            const uint8_t *p10 = px(in, c0, r1), *p11 = px(in, c1, r1);
            for (int k = 0; k < 3; k++) {
                const float top = (float)p00[k] + fc * ((float)p01[k] - (float)p00[k]);
                const float bot = (float)p10[k] + fc * ((float)p11[k] - (float)p10[k]);
                float v = top + fr * (bot - top) + 0.5f;
                v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
                dst[3 * c + k] = (uint8_t)v;
            }
        }
    }
}

/* Per-axis area weights for scaling n source pixels to m (m <= n): output i averages the
 * source interval [i * n / m, (i + 1) * n / m). idx/wt hold up to m * (ceil(n/m) + 1)
 * entries; start[i]..start[i+1] are output i's. */
static void area_weights(int n, int m, int *start, int *idx, float *wt)
{
    const double scale = (double)n / m;
    int k = 0;
    for (int i = 0; i < m; i++) {
        const double a = i * scale, b = (i + 1) * scale;
        start[i] = k;
        int j0 = (int)floor(a), j1 = (int)ceil(b);
        if (j1 > n)
            j1 = n;
        for (int j = j0; j < j1; j++) {
            const double lo = a > j ? a : j, hi = b < j + 1 ? b : j + 1;
            if (hi > lo) {
                idx[k] = j;
                wt[k] = (float)((hi - lo) / scale);
                k++;
            }
        }
    }
    start[m] = k;
}

static fm_status lowres(fm_image *img, int s, fm_err *err)
{
    const int w = img->w, h = img->h;
    const int shorter = w < h ? w : h;
    int sw = w == shorter ? s : (int)floor((double)w * s / shorter + 0.5);
    int sh = h == shorter ? s : (int)floor((double)h * s / shorter + 0.5);
    sw = sw < 1 ? 1 : sw > w ? w : sw;
    sh = sh < 1 ? 1 : sh > h ? h : sh;
    const size_t per_x = (size_t)(w / sw) + 2, per_y = (size_t)(h / sh) + 2;
    const size_t nx = (size_t)sw * per_x, ny = (size_t)sh * per_y;
    int *ints = malloc(sizeof(int) * ((size_t)sw + 1 + nx + (size_t)sh + 1 + ny));
    float *flts = malloc(sizeof(float) * (nx + ny + (size_t)w * 3));
    fm_image *small = fm_image_new(sw, sh, err);
    if (!ints || !flts || !small) {
        free(ints);
        free(flts);
        fm_image_free(small);
        return fm_err_set(err, FM_ERR_NOMEM, "augment: out of memory for a %dx%d low-res step",
                          sw, sh);
    }
    int *xs = ints, *xi = xs + sw + 1, *ys = xi + nx, *yi = ys + sh + 1;
    float *xw = flts, *yw = xw + nx, *row = yw + ny;
    area_weights(w, sw, xs, xi, xw);
    area_weights(h, sh, ys, yi, yw);
    for (int y = 0; y < sh; y++) {
        for (int i = 0; i < w * 3; i++)
            row[i] = 0.0f;
        for (int k = ys[y]; k < ys[y + 1]; k++) {
            const uint8_t *src = px(img, 0, yi[k]);
            for (int i = 0; i < w * 3; i++)
                row[i] += yw[k] * (float)src[i];
        }
        uint8_t *dst = px(small, 0, y);
        for (int x = 0; x < sw; x++) {
            float acc[3] = {0.0f, 0.0f, 0.0f};
            for (int k = xs[x]; k < xs[x + 1]; k++)
                for (int c = 0; c < 3; c++)
                    acc[c] += xw[k] * row[3 * xi[k] + c];
            for (int c = 0; c < 3; c++) {
                float v = acc[c] + 0.5f;
                dst[3 * x + c] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
            }
        }
    }
    fm_resize_bilinear(small, img);
    fm_image_free(small);
    free(ints);
    free(flts);
    return FM_OK;
}

fm_status fm_aug_apply(const fm_image *in, fm_image *out, const fm_aug_draw *d, fm_err *err)
{
    if (!in || !out || !d || !in->data || !out->data || in->w < 1 || in->h < 1)
        return fm_err_set(err, FM_ERR_ARG, "augment: missing or empty image");
    if (out->w != in->w || out->h != in->h)
        return fm_err_set(err, FM_ERR_ARG, "augment: output is %dx%d, expected %dx%d like the input",
                          out->w, out->h, in->w, in->h);
    if (out->data == in->data)
        return fm_err_set(err, FM_ERR_ARG, "augment: output must not be the input image");
    const int identity = d->theta_deg == 0.0 && d->tx == 0.0 && d->ty == 0.0 &&
                         d->shear_deg == 0.0 && d->zx == 1.0 && d->zy == 1.0 && !d->flip;
    if (identity) {
        for (int y = 0; y < in->h; y++)
            memcpy(px(out, 0, y), px(in, 0, y), (size_t)in->w * 3);
    } else {
        warp(in, out, d);
    }
    if (d->lowres > 0 && d->lowres < (in->w < in->h ? in->w : in->h)) {
        fm_status st = lowres(out, d->lowres, err);
        if (st != FM_OK)
            return st;
    }
    if (d->brightness != 1.0 || d->contrast != 1.0) {
        uint8_t lut[256];
        for (int v = 0; v < 256; v++) {
            double o = floor(d->brightness * ((v - 128) * d->contrast + 128.0) + 0.5);
            lut[v] = (uint8_t)(o < 0.0 ? 0.0 : o > 255.0 ? 255.0 : o);
        }
        for (int y = 0; y < out->h; y++) {
            uint8_t *p = px(out, 0, y);
            for (int i = 0; i < out->w * 3; i++)
                p[i] = lut[p[i]];
        }
    }
    return FM_OK;
}

fm_status fm_augment(const fm_image *in, fm_image *out, const fm_aug_params *p, uint64_t seed,
                     fm_err *err)
{
    if (!in)
        return fm_err_set(err, FM_ERR_ARG, "augment: missing input image");
    fm_aug_draw d;
    fm_status st = fm_aug_sample(p, in->w, in->h, seed, &d, err);
    if (st != FM_OK)
        return st;
    return fm_aug_apply(in, out, &d, err);
}
