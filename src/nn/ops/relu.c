/* relu.c - elementwise activations (Caffe ReLU with negative_slope, ReLU6, Sigmoid).
 *
 * OpenCV 4.6 elementwise_layers.cpp: ReLUFunctor is x > 0 ? x : x * slope;
 * ReLU6Functor (ClippedReLU) is min(max(x, 0), 6); SigmoidFunctor is
 * 1 / (1 + exp(-x)). Sigmoid runs 8 or 16 lanes at a time where the CPU has
 * AVX2 / AVX-512 (fm_sigmoid_avx2 / _avx512 in simd.h, a polynomial exp within
 * 1e-6 relative of expf), the tail and FM_NO_SIMD through expf. The element
 * range is split over the pool in contiguous parts.
 */
#include "nn/ops/ops.h"
#include "nn/ops/simd.h"

struct act_job {
    const float *x;
    float *y;
    size_t n;
    fm_activation act;
    fm_isa isa;
};

#ifdef FM_X86
FM_TARGET_AVX2 static size_t sigmoid_avx2(const float *x, float *y, size_t b, size_t e)
{
    size_t i = b;
    for (; i + 8 <= e; i += 8)
        _mm256_storeu_ps(y + i, fm_sigmoid_avx2(_mm256_loadu_ps(x + i)));
    return i;
}

FM_TARGET_AVX512 static size_t sigmoid_avx512(const float *x, float *y, size_t b, size_t e)
{
    size_t i = b;
    for (; i + 16 <= e; i += 16)
        _mm512_storeu_ps(y + i, fm_sigmoid_avx512(_mm512_loadu_ps(x + i)));
    return i;
}
#endif

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
    case FM_ACT_SIGMOID: {
        size_t i = b;
#ifdef FM_X86
        if (j->isa == FM_ISA_AVX512)
            i = sigmoid_avx512(x, y, b, e);
        else if (j->isa == FM_ISA_AVX2)
            i = sigmoid_avx2(x, y, b, e);
#endif
        for (; i < e; i++)
            y[i] = fm_sigmoid_scalar(x[i]);
        break;
    }
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
    struct act_job j = {in->data, out->data, fm_shape_count(&in->shape), act,
                        act.act == FM_ACT_SIGMOID ? fm_isa_detect() : FM_ISA_SCALAR};
    if (j.n == 0)
        return;
    if (j.n < 8192)
        act_rows(&j, 0, 1);
    else
        fm_pool_run(pool, act_rows, &j);
}
