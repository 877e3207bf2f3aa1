/* eltwise.c - Caffe Eltwise (PROD, SUM with coefficients, MAX) with a fused
 * activation, as OpenCV 4.6 eltwise_layer.cpp (EltwiseInvoker) computes it:
 *   SUM:  out = c0 * x0 + c1 * x1, then out += ck * xk for k >= 2, in float, in
 *         input order (without coefficients: x0 + x1 + ...);
 *   PROD: x0 * x1 * ...;  MAX: max(max(x0, x1), ...);
 * then the activation OpenCV fuses into the layer (ReLU / ReLU6).
 * Elements are processed in blocks through a small stack buffer, so the
 * output may alias any input. The element range is split over the pool.
 * The commonest case, SUM of two inputs without coefficients (a residual or
 * FPN Add), skips the buffer: one pass, 8 or 16 lanes at a time with the
 * activation fused (AVX2 / AVX-512 at run time, plain C for the tail and
 * without them); same additions, so the results are identical (the sigmoid
 * within 1e-6 relative: a polynomial exp in the lanes). FM_FORCE_REF=1
 * forces the blocked path; the tests compare the two.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    int add2; /* the two-input SUM path */
    fm_isa isa;
};

#ifdef FM_X86
FM_TARGET_AVX2 static size_t add2_avx2(const float *a, const float *b, float *y, size_t i, size_t e,
                                       fm_activation act)
{
    for (; i + 8 <= e; i += 8)
        _mm256_storeu_ps(y + i, fm_act_avx2(act, _mm256_add_ps(_mm256_loadu_ps(a + i),
                                                               _mm256_loadu_ps(b + i))));
    return i;
}

FM_TARGET_AVX512 static size_t add2_avx512(const float *a, const float *b, float *y, size_t i,
                                           size_t e, fm_activation act)
{
    for (; i + 16 <= e; i += 16)
        _mm512_storeu_ps(y + i, fm_act_avx512(act, _mm512_add_ps(_mm512_loadu_ps(a + i),
                                                                 _mm512_loadu_ps(b + i))));
    return i;
}
#endif

/* y = act(a + b) over [i, e); y may be a or b (same index read before written). */
static void add2_rows(const struct eltwise_job *j, size_t i, size_t e)
{
    const float *a = j->in[0]->data, *b = j->in[1]->data;
    float *y = j->y;
    const fm_activation act = j->p->act;
#ifdef FM_X86
    if (j->isa == FM_ISA_AVX512)
        i = add2_avx512(a, b, y, i, e, act);
    else if (j->isa == FM_ISA_AVX2)
        i = add2_avx2(a, b, y, i, e, act);
#endif
    if (act.act == FM_ACT_NONE) {
        for (; i < e; i++)
            y[i] = a[i] + b[i];
    } else {
        for (; i < e; i++) {
            float v = a[i] + b[i];
            /* eltwise_block's rule: leaky ReLU as v * slope (fm_act_scalar's too for slope != 0) */
            y[i] = act.act == FM_ACT_RELU ? (v > 0.0f ? v : v * act.slope) : fm_act_scalar(act, v);
        }
    }
}

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
    if (j->add2) {
        add2_rows(j, b, e);
        return;
    }
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
    const char *force = getenv("FM_FORCE_REF");
    struct eltwise_job j = {p, in, ninputs, out->data, fm_shape_count(&in[0]->shape), 0,
                            FM_ISA_SCALAR};
    if (j.n == 0 || ninputs < 2)
        return;
    j.add2 = !(force && *force && strcmp(force, "0") != 0) && p->op == FM_ELTWISE_SUM &&
             ninputs == 2 && !(p->ncoeff == ninputs && p->coeff);
    if (j.add2)
        j.isa = fm_isa_detect();
    if (j.n < 8192)
        eltwise_rows(&j, 0, 1);
    else
        fm_pool_run(pool, eltwise_rows, &j);
}
