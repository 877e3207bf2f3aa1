/* priorbox.c - SSD PriorBox, as OpenCV 4.6 prior_box_layer.cpp produces it.
 *
 * Aspect ratios (PriorBoxLayerImpl::getAspectRatios): 1 is implicit; each
 * given ratio that is not 1 and not already listed (|a - b| < 1e-6) is added,
 * followed by 1/ratio when flip is set.
 * Box sizes per cell, for each min_size i in order (Caffe's order too):
 *   min_i x min_i; sqrt(min_i * max_i) squared when max sizes are given;
 *   then min_i*sqrt(ar) x min_i/sqrt(ar) for every ratio in the list above.
 * Cells in row-major (h, w) order; centre ((w + offset) * step_w,
 * (h + offset) * step_h) in float; step = image size / feature size (float)
 * when not given. Corners: (centre -+ size * 0.5f) / image size, normalised.
 * clip clamps every coordinate to [0, 1]. Channel 1 holds the variances: one
 * value everywhere, or the 4 values repeated per prior.
 * Where Caffe differs: Caffe honours img_size/img_h/img_w, OpenCV 4.6 ignores
 * them and always uses the image input's size. Here img_h/img_w are used when
 * non-zero (Caffe); leave them 0 to reproduce OpenCV. OpenCV's default for a
 * missing `clip` is true (Caffe's is false): that default is the loader's.
 */
#include <math.h>
#include <stdio.h>

#include "nn/ops/ops.h"

/* The ratio list after OpenCV's de-duplication and flips; returns its length. */
static int aspect_list(const fm_priorbox_param *p, float *ars)
{
    int n = 0;
    for (int i = 0; i < p->naspect && i < FM_PRIORBOX_MAX; i++) {
        float ar = p->aspect[i];
        int exists = fabsf(ar - 1.0f) < 1e-6f;
        for (int j = 0; j < n && !exists; j++)
            exists = fabs(ar - ars[j]) < 1e-6;
        if (!exists) {
            ars[n++] = ar;
            if (p->flip)
                ars[n++] = (float)(1.0 / ar);
        }
    }
    return n;
}

int fm_priorbox_count(const fm_priorbox_param *p)
{
    float ars[2 * FM_PRIORBOX_MAX];
    int nar = aspect_list(p, ars);
    return p->nmin * (1 + nar) + (p->nmax > 0 ? p->nmin : 0);
}

fm_status fm_priorbox_shape(const fm_priorbox_param *p, const fm_shape *feat, const fm_shape *image,
                            fm_shape *out, fm_err *err)
{
    char a[64], b[64];
    if (feat->ndim != 4 || image->ndim != 4 || fm_shape_count(feat) == 0 ||
        fm_shape_count(image) == 0)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "priorbox: feature map %s and image %s must both be non-empty NCHW shapes",
                          fm_shape_str(feat, a, sizeof a), fm_shape_str(image, b, sizeof b));
    if (p->nmin < 1 || p->nmin > FM_PRIORBOX_MAX || p->naspect < 0 || p->naspect > FM_PRIORBOX_MAX)
        return fm_err_set(err, FM_ERR_ARG,
                          "priorbox: %d min sizes and %d aspect ratios (expected 1..%d and 0..%d)",
                          p->nmin, p->naspect, FM_PRIORBOX_MAX, FM_PRIORBOX_MAX);
    if (p->nmax != 0 && p->nmax != p->nmin)
        return fm_err_set(err, FM_ERR_ARG,
                          "priorbox: %d max sizes for %d min sizes (expected none or one per min size)",
                          p->nmax, p->nmin);
    for (int i = 0; i < p->nmin; i++) {
        if (!(p->min_size[i] > 0.0f))
            return fm_err_set(err, FM_ERR_ARG, "priorbox: min_size %g must be positive",
                              (double)p->min_size[i]);
        if (p->nmax && !(p->max_size[i] > p->min_size[i]))
            return fm_err_set(err, FM_ERR_ARG, "priorbox: max_size %g must exceed min_size %g",
                              (double)p->max_size[i], (double)p->min_size[i]);
    }
    for (int i = 0; i < p->naspect; i++)
        if (!(p->aspect[i] > 0.0f))
            return fm_err_set(err, FM_ERR_ARG, "priorbox: aspect_ratio %g must be positive",
                              (double)p->aspect[i]);
    if (p->nvariance != 1 && p->nvariance != 4)
        return fm_err_set(err, FM_ERR_ARG, "priorbox: %d variances (expected 1 or 4)", p->nvariance);
    for (int i = 0; i < p->nvariance; i++)
        if (!(p->variance[i] > 0.0f))
            return fm_err_set(err, FM_ERR_ARG, "priorbox: variance %g must be positive",
                              (double)p->variance[i]);
    if (p->step_h < 0.0f || p->step_w < 0.0f || p->img_h < 0 || p->img_w < 0)
        return fm_err_set(err, FM_ERR_ARG, "priorbox: negative step or image size");
    size_t n = (size_t)feat->d[2] * (size_t)feat->d[3] * (size_t)fm_priorbox_count(p) * 4;
    if (n > 0x7fffffff)
        return fm_err_set(err, FM_ERR_LIMIT, "priorbox: %s gives too many priors",
                          fm_shape_str(feat, a, sizeof a));
    *out = fm_shape3(1, 2, (int)n);
    return FM_OK;
}

static float *add_prior(float cx, float cy, float w, float h, float iw, float ih, float *dst)
{
    dst[0] = (cx - w * 0.5f) / iw;
    dst[1] = (cy - h * 0.5f) / ih;
    dst[2] = (cx + w * 0.5f) / iw;
    dst[3] = (cy + h * 0.5f) / ih;
    return dst + 4;
}

void fm_priorbox_forward(const fm_priorbox_param *p, const fm_shape *feat, const fm_shape *image,
                         fm_tensor *out)
{
    float ars[2 * FM_PRIORBOX_MAX];
    int nar = aspect_list(p, ars);
    float bw[FM_PRIORBOX_MAX * (2 + 2 * FM_PRIORBOX_MAX)], bh[FM_PRIORBOX_MAX * (2 + 2 * FM_PRIORBOX_MAX)];
    int nb = 0;
    for (int i = 0; i < p->nmin; i++) {
        float m = p->min_size[i];
        bw[nb] = bh[nb] = m;
        nb++;
        if (p->nmax > 0) {
            bw[nb] = bh[nb] = sqrtf(m * p->max_size[i]);
            nb++;
        }
        for (int r = 0; r < nar; r++) {
            float s = sqrtf(ars[r]);
            bw[nb] = m * s;
            bh[nb] = m / s;
            nb++;
        }
    }
    int fh = feat->d[2], fw = feat->d[3];
    int ih = p->img_h > 0 ? p->img_h : image->d[2];
    int iw = p->img_w > 0 ? p->img_w : image->d[3];
    float step_h = p->step_h > 0.0f ? p->step_h : (float)ih / (float)fh;
    float step_w = p->step_w > 0.0f ? p->step_w : (float)iw / (float)fw;
    float *dst = out->data;
    for (int h = 0; h < fh; h++)
        for (int w = 0; w < fw; w++) {
            float cx = ((float)w + p->offset) * step_w;
            float cy = ((float)h + p->offset) * step_h;
            for (int k = 0; k < nb; k++)
                dst = add_prior(cx, cy, bw[k], bh[k], (float)iw, (float)ih, dst);
        }
    size_t n = (size_t)fh * (size_t)fw * (size_t)nb * 4;
    if (p->clip)
        for (size_t i = 0; i < n; i++)
            out->data[i] = out->data[i] < 0.0f ? 0.0f : (out->data[i] > 1.0f ? 1.0f : out->data[i]);
    float *var = out->data + n;
    for (size_t i = 0; i < n; i++)
        var[i] = p->nvariance == 1 ? p->variance[0] : p->variance[i % 4];
}
