/* affine.c - per-channel affine (Caffe BatchNorm with use_global_stats, Scale).
 *
 * y[n,c,i] = x[n,c,i] * a[c] + b[c], then the fused activation. The planes
 * (n, c) are split over the pool; each plane is one contiguous row.
 */
#include <math.h>
#include <stdio.h>

#include "nn/ops/ops.h"
#include "nn/ops/simd.h"

/* OpenCV 4.6 batch_norm_layer.cpp (BatchNormLayerImpl constructor), which is
 * also Caffe's arithmetic: varMeanScale = 1 / blobs[2] (0 stays 0), then
 *   w = 1 / sqrt(var * varMeanScale + eps),  b = 0 - w * mean * varMeanScale
 * in float, in that order. */
void fm_batchnorm_coeffs(const float *mean, const float *var, float scale_factor, float eps,
                         int channels, float *a, float *b)
{
    float s = scale_factor != 0.0f ? 1.0f / scale_factor : 0.0f;
    for (int c = 0; c < channels; c++) {
        float w = 1.0f / sqrtf(var[c] * s + eps);
        a[c] = w;
        b[c] = 0.0f - w * mean[c] * s;
    }
}

fm_status fm_affine_shape(const fm_shape *in, int channels, fm_shape *out, fm_err *err)
{
    char buf[64];
    if (in->ndim < 1 || in->ndim > FM_MAX_DIMS || fm_shape_count(in) == 0)
        return fm_err_set(err, FM_ERR_SHAPE, "affine: input shape %s is empty or invalid",
                          fm_shape_str(in, buf, sizeof buf));
    int axis = in->ndim == 1 ? 0 : 1;
    if (in->d[axis] != channels)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "affine: input %s has %d channels at axis %d, but the scale has %d values",
                          fm_shape_str(in, buf, sizeof buf), in->d[axis], axis, channels);
    *out = *in;
    return FM_OK;
}

static inline float act_apply(float v, fm_activation act)
{
    switch (act.act) {
    case FM_ACT_RELU:
        return v > 0.0f ? v : v * act.slope;
    case FM_ACT_RELU6:
        return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
    case FM_ACT_SIGMOID:
        return fm_sigmoid_scalar(v);
    case FM_ACT_NONE:
    default:
        return v;
    }
}

struct affine_job {
    const float *x;
    float *y;
    const float *scale, *bias;
    fm_activation act;
    size_t planes, channels, inner;
};

static void affine_rows(void *ctx, int tid, int nt)
{
    const struct affine_job *j = ctx;
    size_t b, e;
    fm_split(j->planes, tid, nt, &b, &e);
    for (size_t p = b; p < e; p++) {
        size_t c = p % j->channels;
        const float *x = j->x + p * j->inner;
        float *y = j->y + p * j->inner;
        float a = j->scale[c], o = j->bias ? j->bias[c] : 0.0f;
        size_t n = j->inner;
        if (j->act.act == FM_ACT_NONE) {
            for (size_t i = 0; i < n; i++)
                y[i] = x[i] * a + o;
        } else if (j->act.act == FM_ACT_RELU && j->act.slope == 0.0f) {
            for (size_t i = 0; i < n; i++) {
                float v = x[i] * a + o;
                y[i] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (size_t i = 0; i < n; i++)
                y[i] = act_apply(x[i] * a + o, j->act);
        }
    }
}

void fm_affine_forward(const fm_tensor *in, const float *scale, const float *bias, fm_activation act,
                       fm_tensor *out, fm_pool *pool)
{
    const fm_shape *s = &in->shape;
    struct affine_job j;
    j.x = in->data;
    j.y = out->data;
    j.scale = scale;
    j.bias = bias;
    j.act = act;
    if (s->ndim == 1) {
        j.planes = (size_t)s->d[0];
        j.channels = (size_t)s->d[0];
        j.inner = 1;
    } else {
        j.channels = (size_t)s->d[1];
        j.planes = fm_shape_count_range(s, 0, 2);
        j.inner = fm_shape_count_range(s, 2, s->ndim);
    }
    if (j.planes == 0 || j.inner == 0)
        return;
    /* Tiny inputs are not worth waking the workers. */
    if (fm_shape_count(s) < 4096)
        affine_rows(&j, 0, 1);
    else
        fm_pool_run(pool, affine_rows, &j);
}
