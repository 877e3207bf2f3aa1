/* normalize.c - SSD's Normalize layer (L2 normalisation and a learned scale).
 *
 * OpenCV 4.6 normalize_bbox_layer.cpp (NormalizeBBoxLayerImpl::forward), p = 2:
 *  - across_spatial = false (res10): for every image and pixel,
 *        inv = 1 / sqrt(sum_c x[c]^2 + eps)   (eps added before the root; the
 *        sum is in float, in channel order, as cv::reduce does; cv::pow with
 *        power -0.5 is a square root and a reciprocal),
 *        y[c] = (x[c] * inv) * scale[c]       (two roundings, as OpenCV's two
 *        multiply() calls).
 *  - across_spatial = true: one norm per image,
 *        norm = sqrt((float)(sum over C*H*W of x^2, in double, as cv::sum) + eps),
 *        y = x * (1 / norm) * scale.
 *    OpenCV only accepts a shared scale there (its per-channel scale check
 *    fails); we apply scale[c] per channel as Caffe does.
 * Caffe's NormalizeLayer places eps the same way (sqrt(sum + eps)).
 * scale may be NULL: no scaling (OpenCV with no blobs). In place allowed.
 */
#include <math.h>

#include "nn/ops/ops.h"

void fm_normalize_forward(const fm_normalize_param *p, const fm_tensor *in, const float *scale,
                          fm_tensor *out)
{
    const fm_shape *s = &in->shape;
    if (s->ndim < 2 || fm_shape_count(s) == 0)
        return;
    size_t N = (size_t)s->d[0], C = (size_t)s->d[1];
    size_t HW = fm_shape_count_range(s, 2, s->ndim);
    const float *x = in->data;
    float *y = out->data;
    for (size_t n = 0; n < N; n++) {
        const float *xn = x + n * C * HW;
        float *yn = y + n * C * HW;
        if (p->across_spatial) {
            double sum = 0.0;
            for (size_t i = 0; i < C * HW; i++)
                sum += (double)(xn[i] * xn[i]);
            float abs_sum = (float)sum + p->eps;
            float inv = 1.0f / sqrtf(abs_sum);
            for (size_t c = 0; c < C; c++) {
                float sc = scale ? scale[p->channel_shared ? 0 : c] : 1.0f;
                for (size_t i = 0; i < HW; i++) {
                    float v = xn[c * HW + i] * inv;
                    yn[c * HW + i] = scale ? v * sc : v;
                }
            }
            continue;
        }
        for (size_t i = 0; i < HW; i++) {
            float sum = 0.0f;
            for (size_t c = 0; c < C; c++) {
                float v = xn[c * HW + i];
                sum += v * v;
            }
            float inv = 1.0f / sqrtf(sum + p->eps);
            for (size_t c = 0; c < C; c++) {
                float v = xn[c * HW + i] * inv;
                if (scale)
                    v *= scale[p->channel_shared ? 0 : c];
                yn[c * HW + i] = v;
            }
        }
    }
}
