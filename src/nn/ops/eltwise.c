/* eltwise.c - Caffe Eltwise (PROD, SUM with coefficients, MAX) with a fused
 * activation, as OpenCV 4.6 eltwise_layer.cpp (EltwiseInvoker) computes it:
 *   SUM:  out = c0 * x0 + c1 * x1, then out += ck * xk for k >= 2, in float, in
 *         input order (without coefficients: x0 + x1 + ...);
 *   PROD: x0 * x1 * ...;  MAX: max(max(x0, x1), ...);
 * then the activation OpenCV fuses into the layer (ReLU / ReLU6).
 * Elements are processed in blocks through a small stack buffer, so the
 * output may alias any input. The element range is split over the pool.
 */
#include <stdio.h>

#include "nn/ops/ops.h"
#include "nn/ops/simd.h"

fm_status fm_eltwise_shape(const fm_shape *const *in, int ninputs, fm_shape *out, fm_err *err)
{
    char a[64], b[64];
    if (ninputs < 2)
        return fm_err_set(err, FM_ERR_ARG, "eltwise: needs at least 2 inputs, got %d", ninputs);
    if (in[0]->ndim < 1 || in[0]->ndim > FM_MAX_DIMS || fm_shape_count(in[0]) == 0)
        return fm_err_set(err, FM_ERR_SHAPE, "eltwise: input 0 has an empty or invalid shape %s",
                          fm_shape_str(in[0], a, sizeof a));
    for (int i = 1; i < ninputs; i++)
        if (!fm_shape_eq(in[i], in[0]))
            return fm_err_set(err, FM_ERR_SHAPE,
                              "eltwise: input %d has shape %s but input 0 has %s; all inputs must "
                              "have the same shape",
                              i, fm_shape_str(in[i], a, sizeof a), fm_shape_str(in[0], b, sizeof b));
    *out = *in[0];
    return FM_OK;
}

#define BLOCK 512

struct eltwise_job {
    const fm_eltwise_param *p;
    const fm_tensor *const *in;
    int ninputs;
    float *y;
    size_t n;
};

static void eltwise_block(const fm_eltwise_param *p, const fm_tensor *const *in, int ninputs,
                          size_t off, size_t len, float *acc)
{
    const float *x0 = in[0]->data + off, *x1 = in[1]->data + off;
    switch (p->op) {
    case FM_ELTWISE_SUM:
        if (p->ncoeff == ninputs && p->coeff) {
            float c0 = p->coeff[0], c1 = p->coeff[1];
            for (size_t i = 0; i < len; i++)
                acc[i] = c0 * x0[i] + c1 * x1[i];
            for (int k = 2; k < ninputs; k++) {
                const float *xk = in[k]->data + off;
                float ck = p->coeff[k];
                for (size_t i = 0; i < len; i++)
                    acc[i] += ck * xk[i];
            }
        } else {
            for (size_t i = 0; i < len; i++)
                acc[i] = x0[i] + x1[i];
            for (int k = 2; k < ninputs; k++) {
                const float *xk = in[k]->data + off;
                for (size_t i = 0; i < len; i++)
                    acc[i] += xk[i];
            }
        }
        break;
    case FM_ELTWISE_PROD:
        for (size_t i = 0; i < len; i++)
            acc[i] = x0[i] * x1[i];
        for (int k = 2; k < ninputs; k++) {
            const float *xk = in[k]->data + off;
            for (size_t i = 0; i < len; i++)
                acc[i] *= xk[i];
        }
        break;
    case FM_ELTWISE_MAX:
    default:
        for (size_t i = 0; i < len; i++)
            acc[i] = x0[i] > x1[i] ? x0[i] : x1[i];
        for (int k = 2; k < ninputs; k++) {
            const float *xk = in[k]->data + off;
            for (size_t i = 0; i < len; i++)
                acc[i] = acc[i] > xk[i] ? acc[i] : xk[i];
        }
        break;
    }
    switch (p->act.act) {
    case FM_ACT_RELU: {
        float s = p->act.slope;
        for (size_t i = 0; i < len; i++)
            acc[i] = acc[i] > 0.0f ? acc[i] : acc[i] * s;
        break;
    }
    case FM_ACT_RELU6:
        for (size_t i = 0; i < len; i++) {
            float v = acc[i] > 0.0f ? acc[i] : 0.0f;
            acc[i] = v < 6.0f ? v : 6.0f;
        }
        break;
    case FM_ACT_SIGMOID:
        for (size_t i = 0; i < len; i++)
            acc[i] = fm_sigmoid_scalar(acc[i]);
        break;
    case FM_ACT_NONE:
    default:
        break;
    }
}

static void eltwise_rows(void *ctx, int tid, int nt)
{
    const struct eltwise_job *j = ctx;
    float acc[BLOCK];
    size_t b, e;
    fm_split(j->n, tid, nt, &b, &e);
    for (size_t off = b; off < e; off += BLOCK) {
        size_t len = e - off < BLOCK ? e - off : BLOCK;
        eltwise_block(j->p, j->in, j->ninputs, off, len, acc);
        float *y = j->y + off;
        for (size_t i = 0; i < len; i++)
            y[i] = acc[i];
    }
}

void fm_eltwise_forward(const fm_eltwise_param *p, const fm_tensor *const *in, int ninputs,
                        fm_tensor *out, fm_pool *pool)
{
    struct eltwise_job j = {p, in, ninputs, out->data, fm_shape_count(&in[0]->shape)};
    if (j.n == 0 || ninputs < 2)
        return;
    if (j.n < 8192)
        eltwise_rows(&j, 0, 1);
    else
        fm_pool_run(pool, eltwise_rows, &j);
}
