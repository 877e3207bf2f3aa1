/* softmax.c - softmax over one axis (negative counts from the end).
 * OpenCV 4.6 softmax_layer.cpp: per (outer, inner) position, subtract the
 * maximum over the axis, exponentiate, divide by the sum (float, axis order).
 * In place allowed.
 */
#include <math.h>
#include <stdio.h>

#include "nn/ops/ops.h"

fm_status fm_softmax_shape(const fm_shape *in, int axis, fm_shape *out, fm_err *err)
{
    char a[64];
    if (in->ndim < 1 || in->ndim > FM_MAX_DIMS || fm_shape_count(in) == 0)
        return fm_err_set(err, FM_ERR_SHAPE, "softmax: input shape %s is empty or invalid",
                          fm_shape_str(in, a, sizeof a));
    int ax = axis < 0 ? axis + in->ndim : axis;
    if (ax < 0 || ax >= in->ndim)
        return fm_err_set(err, FM_ERR_ARG, "softmax: axis %d is out of range for %d-D input %s",
                          axis, in->ndim, fm_shape_str(in, a, sizeof a));
    *out = *in;
    return FM_OK;
}

void fm_softmax_forward(const fm_tensor *in, int axis, fm_tensor *out)
{
    const fm_shape *s = &in->shape;
    int ax = axis < 0 ? axis + s->ndim : axis;
    size_t outer = fm_shape_count_range(s, 0, ax);
    size_t C = (size_t)s->d[ax];
    size_t inner = fm_shape_count_range(s, ax + 1, s->ndim);
    for (size_t o = 0; o < outer; o++) {
        const float *x = in->data + o * C * inner;
        float *y = out->data + o * C * inner;
        for (size_t i = 0; i < inner; i++) {
            float m = x[i];
            for (size_t c = 1; c < C; c++)
                if (x[c * inner + i] > m)
                    m = x[c * inner + i];
            float sum = 0.0f;
            for (size_t c = 0; c < C; c++) {
                float e = expf(x[c * inner + i] - m);
                y[c * inner + i] = e;
                sum += e;
            }
            for (size_t c = 0; c < C; c++)
                y[c * inner + i] /= sum;
        }
    }
}
