/* simd.h - instruction-set levels and small SIMD helpers for the optimised operators.
 *
 * Kernels are written once per level: plain C (FM_ISA_SCALAR, builds anywhere),
 * AVX2+FMA and AVX-512F (x86-64 only, compiled with function target attributes,
 * so the rest of the build needs no -m flags). The level is chosen at run time:
 *
 *     fm_isa isa = fm_isa_detect();   // best this CPU runs, unless the environment lowers it
 *
 * Environment:
 *   FM_NO_SIMD=1                  forces FM_ISA_SCALAR (the portable path);
 *   FM_ISA=scalar|avx2|avx512     caps the level (never above what the CPU supports).
 * Tests pin a level explicitly instead (see fm_conv_plan_create_isa in gemm.h).
 */
#ifndef FM_SIMD_H
#define FM_SIMD_H

#include "nn/ops/ops.h"

typedef enum {
    FM_ISA_SCALAR = 0, /* portable C */
    FM_ISA_AVX2 = 1,   /* AVX2 + FMA, 8 floats a vector */
    FM_ISA_AVX512 = 2  /* AVX-512F, 16 floats a vector */
} fm_isa;
#define FM_ISA_COUNT 3

/* Non-zero when this CPU (and build) can run kernels of level isa. */
int fm_isa_supported(fm_isa isa);
/* The best supported level, lowered by FM_NO_SIMD / FM_ISA as described above. */
fm_isa fm_isa_detect(void);
/* "scalar", "avx2", "avx512". */
const char *fm_isa_name(fm_isa isa);

#include <math.h>

/* The logistic function as ops.h defines it (the vector versions below stay within 1e-6
 * relative of it). */
static inline float fm_sigmoid_scalar(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* Scalar activation, the definition the vector versions follow. */
static inline float fm_act_scalar(fm_activation a, float x)
{
    if (a.act == FM_ACT_SIGMOID)
        return fm_sigmoid_scalar(x);
    if (a.act == FM_ACT_RELU)
        return x > 0.0f ? x : (a.slope != 0.0f ? x * a.slope : 0.0f);
    if (a.act == FM_ACT_RELU6)
        return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    return x;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define FM_X86 1
#include <immintrin.h>

#define FM_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define FM_TARGET_AVX512 __attribute__((target("avx512f")))

/* exp(x) of 8 floats, Cephes' expf: x = n ln2 + r, |r| <= ln2 / 2, exp(r) by a degree-7
 * polynomial (about 2 ulp), times 2^n built in the exponent bits. Valid for x in
 * [-87.3, 88.3]; callers clamp. */
#define FM_EXP_LO (-87.33654f)
#define FM_EXP_HI 88.37626f
FM_TARGET_AVX2 static inline __m256 fm_exp_avx2(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(FM_EXP_LO)), _mm256_set1_ps(FM_EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* 1 / (1 + exp(-x)) of 8 floats without overflow: with e = exp(-|x|) (0 below -87.3),
 * 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0. */
FM_TARGET_AVX2 static inline __m256 fm_sigmoid_avx2(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_or_ps(x, sign); /* -|x| */
    __m256 e = _mm256_and_ps(fm_exp_avx2(t), _mm256_cmp_ps(t, _mm256_set1_ps(FM_EXP_LO), _CMP_GE_OQ));
    __m256 r = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    return _mm256_blendv_ps(r, _mm256_mul_ps(e, r), x); /* sign bit of x picks e * r */
}

/* Activation on 8 floats. */
FM_TARGET_AVX2 static inline __m256 fm_act_avx2(fm_activation a, __m256 x)
{
    if (a.act == FM_ACT_SIGMOID)
        return fm_sigmoid_avx2(x);
    const __m256 zero = _mm256_setzero_ps();
    if (a.act == FM_ACT_RELU) {
        if (a.slope == 0.0f)
            return _mm256_max_ps(x, zero);
        __m256 neg = _mm256_mul_ps(x, _mm256_set1_ps(a.slope));
        return _mm256_blendv_ps(x, neg, _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
    }
    if (a.act == FM_ACT_RELU6)
        return _mm256_min_ps(_mm256_max_ps(x, zero), _mm256_set1_ps(6.0f));
    return x;
}

/* fm_exp_avx2 on 16 floats (2^n by scalef). */
FM_TARGET_AVX512 static inline __m512 fm_exp_avx512(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(FM_EXP_LO)), _mm512_set1_ps(FM_EXP_HI));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* fm_sigmoid_avx2 on 16 floats. */
FM_TARGET_AVX512 static inline __m512 fm_sigmoid_avx512(__m512 x)
{
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    __m512 t = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(x), sign)); /* -|x| */
    __mmask16 ok = _mm512_cmp_ps_mask(t, _mm512_set1_ps(FM_EXP_LO), _CMP_GE_OQ);
    __m512 e = _mm512_maskz_mov_ps(ok, fm_exp_avx512(t));
    __m512 r = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    __mmask16 neg = _mm512_test_epi32_mask(_mm512_castps_si512(x), sign);
    return _mm512_mask_mul_ps(r, neg, e, r);
}

/* Activation on 16 floats. */
FM_TARGET_AVX512 static inline __m512 fm_act_avx512(fm_activation a, __m512 x)
{
    if (a.act == FM_ACT_SIGMOID)
        return fm_sigmoid_avx512(x);
    const __m512 zero = _mm512_setzero_ps();
    if (a.act == FM_ACT_RELU) {
        if (a.slope == 0.0f)
            return _mm512_max_ps(x, zero);
        __mmask16 neg = _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ);
        return _mm512_mask_mul_ps(x, neg, x, _mm512_set1_ps(a.slope));
    }
    if (a.act == FM_ACT_RELU6)
        return _mm512_min_ps(_mm512_max_ps(x, zero), _mm512_set1_ps(6.0f));
    return x;
}

/* Mask of the first n lanes (n clamped to 0..16). */
static inline __mmask16 fm_mask16(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}
#endif

#endif
