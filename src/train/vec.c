/* vec.c - vectorised elementwise loops (see vec.h). */
#include "train/vec.h"

/* ---- scalar ------------------------------------------------------------------ */

static void axpy_c(size_t n, float a, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

static void scale_c(size_t n, float a, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = a * x[i];
}

static float dot_c(size_t n, const float *x, const float *y)
{
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += x[i + (size_t)k] * y[i + (size_t)k];
    for (; i < n; i++)
        acc[i & 7] += x[i] * y[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static float sum_c(size_t n, const float *x)
{
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += x[i + (size_t)k];
    for (; i < n; i++)
        acc[i & 7] += x[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static float dact_c(fm_activation a, float y, float g)
{
    if (a.act == FM_ACT_RELU6)
        return (y > 0.0f && y < 6.0f) ? g : 0.0f;
    if (a.act == FM_ACT_RELU)
        return y > 0.0f ? g : g * a.slope;
    if (a.act == FM_ACT_SIGMOID)
        return g * (y * (1.0f - y));
    return g;
}

#ifdef FM_X86

/* ---- AVX2 -------------------------------------------------------------------- */

FM_TARGET_AVX2 static void axpy_avx2(size_t n, float a, const float *x, float *y)
{
    __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

FM_TARGET_AVX2 static void scale_avx2(size_t n, float a, const float *x, float *y)
{
    __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(va, _mm256_loadu_ps(x + i)));
    for (; i < n; i++)
        y[i] = a * x[i];
}

FM_TARGET_AVX2 static float hsum_avx2(__m256 v)
{
    float t[8];
    _mm256_storeu_ps(t, v);
    return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
}

FM_TARGET_AVX2 static float dot_avx2(size_t n, const float *x, const float *y)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
    }
    float s = hsum_avx2(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += x[i] * y[i];
    return s;
}

FM_TARGET_AVX2 static float sum_avx2(size_t n, const float *x)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_add_ps(_mm256_loadu_ps(x + i), a0);
        a1 = _mm256_add_ps(_mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum_avx2(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += x[i];
    return s;
}

FM_TARGET_AVX2 static void bias_act_avx2(size_t n, float *y, float b, fm_activation act)
{
    __m256 vb = _mm256_set1_ps(b);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, fm_act_avx2(act, _mm256_add_ps(_mm256_loadu_ps(y + i), vb)));
    for (; i < n; i++)
        y[i] = fm_act_scalar(act, y[i] + b);
}

FM_TARGET_AVX2 static void act_backward_avx2(size_t n, const float *y, const float *g, float *d,
                                             fm_activation act, int add)
{
    const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.0f);
    const __m256 slope = _mm256_set1_ps(act.slope);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 vy = _mm256_loadu_ps(y + i), vg = _mm256_loadu_ps(g + i), r;
        __m256 pos = _mm256_cmp_ps(vy, zero, _CMP_GT_OQ);
        if (act.act == FM_ACT_RELU6)
            r = _mm256_and_ps(vg, _mm256_and_ps(pos, _mm256_cmp_ps(vy, six, _CMP_LT_OQ)));
        else
            r = _mm256_blendv_ps(_mm256_mul_ps(vg, slope), vg, pos);
        if (add)
            r = _mm256_add_ps(r, _mm256_loadu_ps(d + i));
        _mm256_storeu_ps(d + i, r);
    }
    for (; i < n; i++) {
        float v = dact_c(act, y[i], g[i]);
        d[i] = add ? d[i] + v : v;
    }
}

/* ---- AVX-512 ------------------------------------------------------------------ */

FM_TARGET_AVX512 static void axpy_avx512(size_t n, float a, const float *x, float *y)
{
    __m512 va = _mm512_set1_ps(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = fm_mask16((int)(n - i));
        __m512 r = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}

FM_TARGET_AVX512 static void scale_avx512(size_t n, float a, const float *x, float *y)
{
    __m512 va = _mm512_set1_ps(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_mul_ps(va, _mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = fm_mask16((int)(n - i));
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m, x + i)));
    }
}

FM_TARGET_AVX512 static float hsum_avx512(__m512 v)
{
    float t[16];
    _mm512_storeu_ps(t, v);
    float s[8];
    for (int k = 0; k < 8; k++)
        s[k] = t[k] + t[k + 8];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

FM_TARGET_AVX512 static float dot_avx512(size_t n, const float *x, const float *y)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = fm_mask16((int)(n - i));
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), a0);
    }
    return hsum_avx512(_mm512_add_ps(a0, a1));
}

FM_TARGET_AVX512 static float sum_avx512(size_t n, const float *x)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_add_ps(_mm512_loadu_ps(x + i), a0);
        a1 = _mm512_add_ps(_mm512_loadu_ps(x + i + 16), a1);
    }
    for (; i < n; i += 16)
        a0 = _mm512_add_ps(_mm512_maskz_loadu_ps(fm_mask16((int)(n - i)), x + i), a0);
    return hsum_avx512(_mm512_add_ps(a0, a1));
}

FM_TARGET_AVX512 static void bias_act_avx512(size_t n, float *y, float b, fm_activation act)
{
    __m512 vb = _mm512_set1_ps(b);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, fm_act_avx512(act, _mm512_add_ps(_mm512_loadu_ps(y + i), vb)));
    if (i < n) {
        __mmask16 m = fm_mask16((int)(n - i));
        __m512 r = fm_act_avx512(act, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), vb));
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}

FM_TARGET_AVX512 static __m512 dact_avx512(fm_activation act, __m512 vy, __m512 vg)
{
    const __m512 zero = _mm512_setzero_ps();
    __mmask16 pos = _mm512_cmp_ps_mask(vy, zero, _CMP_GT_OQ);
    if (act.act == FM_ACT_RELU6)
        return _mm512_maskz_mov_ps(pos & _mm512_cmp_ps_mask(vy, _mm512_set1_ps(6.0f), _CMP_LT_OQ), vg);
    return _mm512_mask_mov_ps(_mm512_mul_ps(vg, _mm512_set1_ps(act.slope)), pos, vg);
}

FM_TARGET_AVX512 static void act_backward_avx512(size_t n, const float *y, const float *g,
                                                 float *d, fm_activation act, int add)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 r = dact_avx512(act, _mm512_loadu_ps(y + i), _mm512_loadu_ps(g + i));
        if (add)
            r = _mm512_add_ps(r, _mm512_loadu_ps(d + i));
        _mm512_storeu_ps(d + i, r);
    }
    if (i < n) {
        __mmask16 m = fm_mask16((int)(n - i));
        __m512 r = dact_avx512(act, _mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, g + i));
        if (add)
            r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, d + i));
        _mm512_mask_storeu_ps(d + i, m, r);
    }
}

#endif /* FM_X86 */

/* ---- dispatch ------------------------------------------------------------------- */

void fm_vec_axpy(fm_isa isa, size_t n, float a, const float *x, float *y)
{
#ifdef FM_X86
    if (isa == FM_ISA_AVX512) {
        axpy_avx512(n, a, x, y);
        return;
    }
    if (isa == FM_ISA_AVX2) {
        axpy_avx2(n, a, x, y);
        return;
    }
#endif
    (void)isa;
    axpy_c(n, a, x, y);
}

void fm_vec_scale(fm_isa isa, size_t n, float a, const float *x, float *y)
{
#ifdef FM_X86
    if (isa == FM_ISA_AVX512) {
        scale_avx512(n, a, x, y);
        return;
    }
    if (isa == FM_ISA_AVX2) {
        scale_avx2(n, a, x, y);
        return;
    }
#endif
    (void)isa;
    scale_c(n, a, x, y);
}

float fm_vec_dot(fm_isa isa, size_t n, const float *x, const float *y)
{
#ifdef FM_X86
    if (isa == FM_ISA_AVX512)
        return dot_avx512(n, x, y);
    if (isa == FM_ISA_AVX2)
        return dot_avx2(n, x, y);
#endif
    (void)isa;
    return dot_c(n, x, y);
}

float fm_vec_sum(fm_isa isa, size_t n, const float *x)
{
#ifdef FM_X86
    if (isa == FM_ISA_AVX512)
        return sum_avx512(n, x);
    if (isa == FM_ISA_AVX2)
        return sum_avx2(n, x);
#endif
    (void)isa;
    return sum_c(n, x);
}

void fm_vec_bias_act(fm_isa isa, size_t n, float *y, float b, fm_activation act)
{
#ifdef FM_X86
    if (isa == FM_ISA_AVX512) {
        bias_act_avx512(n, y, b, act);
        return;
    }
    if (isa == FM_ISA_AVX2) {
        bias_act_avx2(n, y, b, act);
        return;
    }
#endif
    (void)isa;
    for (size_t i = 0; i < n; i++)
        y[i] = fm_act_scalar(act, y[i] + b);
}

void fm_vec_act_backward(fm_isa isa, size_t n, const float *y, const float *g, float *d,
                         fm_activation act, int add)
{
    if (act.act == FM_ACT_NONE) {
        for (size_t i = 0; i < n; i++)
            d[i] = add ? d[i] + g[i] : g[i];
        return;
    }
#ifdef FM_X86
    if (act.act == FM_ACT_SIGMOID) /* detection heads only: small, kept in plain C */
        isa = FM_ISA_SCALAR;
    if (isa == FM_ISA_AVX512) {
        act_backward_avx512(n, y, g, d, act, add);
        return;
    }
    if (isa == FM_ISA_AVX2) {
        act_backward_avx2(n, y, g, d, act, add);
        return;
    }
#endif
    (void)isa;
    for (size_t i = 0; i < n; i++) {
        float v = dact_c(act, y[i], g[i]);
        d[i] = add ? d[i] + v : v;
    }
}
