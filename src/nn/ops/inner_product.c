/* inner_product.c - Caffe's InnerProduct (axis 1, no transpose). */
#include <stdio.h>

#include "nn/ops/ops.h"
#include "nn/ops/simd.h"

fm_status fm_ip_shape(const fm_ip_param *p, const fm_shape *in, fm_shape *out, fm_err *err)
{
    char buf[64];
    if (p->num_output < 1)
        return fm_err_set(err, FM_ERR_SHAPE, "num_output %d must be positive", p->num_output);
    if (in->ndim < 2 || fm_shape_count(in) == 0)
        return fm_err_set(err, FM_ERR_SHAPE, "input %s needs at least 2 axes (N, features)",
                          fm_shape_str(in, buf, sizeof buf));
    *out = fm_shape2(in->d[0], p->num_output);
    return FM_OK;
}

typedef struct {
    const fm_ip_param *p;
    const float *x, *w, *b;
    float *y;
    int n, k;
} ip_job;

static float activate(fm_activation a, float v)
{
    switch (a.act) {
    case FM_ACT_NONE: return v;
    case FM_ACT_RELU: return v > 0 ? v : v * a.slope;
    case FM_ACT_RELU6: return v < 0 ? 0 : (v > 6 ? 6 : v);
    case FM_ACT_SIGMOID: return fm_sigmoid_scalar(v);
    }
    return v;
}

static void ip_rows(void *ctx, int tid, int nt)
{
    const ip_job *j = ctx;
    const int O = j->p->num_output;
    size_t b, e;
    fm_split((size_t)O, tid, nt, &b, &e);
    for (int n = 0; n < j->n; n++) {
        const float *x = j->x + (size_t)n * j->k;
        for (size_t o = b; o < e; o++) {
            const float *w = j->w + o * (size_t)j->k;
            /* four partial sums: vectorisable without reassociation flags */
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            int k = 0;
            for (; k + 4 <= j->k; k += 4) {
                s0 += w[k] * x[k];
                s1 += w[k + 1] * x[k + 1];
                s2 += w[k + 2] * x[k + 2];
                s3 += w[k + 3] * x[k + 3];
            }
            for (; k < j->k; k++)
                s0 += w[k] * x[k];
            float v = (s0 + s1) + (s2 + s3);
            if (j->b && j->p->bias_term)
                v += j->b[o];
            j->y[(size_t)n * O + o] = activate(j->p->act, v);
        }
    }
}

void fm_ip_forward(const fm_ip_param *p, const fm_tensor *in, const float *weight, const float *bias,
                   fm_tensor *out, fm_pool *pool)
{
    ip_job j = {p, in->data, weight, bias, out->data, in->shape.d[0],
                (int)fm_shape_count_range(&in->shape, 1, in->shape.ndim)};
    fm_pool_run(pool, ip_rows, &j);
}
