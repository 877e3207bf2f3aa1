/* relu.c - elementwise activations (Caffe ReLU with negative_slope, ReLU6).
 *
 * OpenCV 4.6 elementwise_layers.cpp: ReLUFunctor is x > 0 ? x : x * slope;
 * ReLU6Functor (ClippedReLU) is min(max(x, 0), 6). The element range is split
 * over the pool in contiguous parts.
 */
#include "nn/ops/ops.h"

struct act_job {
    const float *x;
    float *y;
    size_t n;
    fm_activation act;
};

static void act_rows(void *ctx, int tid, int nt)
{
    const struct act_job *j = ctx;
    size_t b, e;
    fm_split(j->n, tid, nt, &b, &e);
    const float *x = j->x;
    float *y = j->y;
    switch (j->act.act) {
    case FM_ACT_RELU: {
        float slope = j->act.slope;
        if (slope == 0.0f) {
            for (size_t i = b; i < e; i++)
                y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        } else {
            for (size_t i = b; i < e; i++)
                y[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
        }
        break;
    }
    case FM_ACT_RELU6:
        for (size_t i = b; i < e; i++) {
            float v = x[i] > 0.0f ? x[i] : 0.0f;
            y[i] = v < 6.0f ? v : 6.0f;
        }
        break;
    case FM_ACT_NONE:
    default:
        if (y != x)
            for (size_t i = b; i < e; i++)
                y[i] = x[i];
        break;
    }
}

void fm_act_forward(const fm_tensor *in, fm_activation act, fm_tensor *out, fm_pool *pool)
{
    struct act_job j = {in->data, out->data, fm_shape_count(&in->shape), act};
    if (j.n == 0)
        return;
    if (j.n < 8192)
        act_rows(&j, 0, 1);
    else
        fm_pool_run(pool, act_rows, &j);
}
