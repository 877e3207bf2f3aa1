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

/* Scalar activation, the definition the vector versions follow. */
static inline float fm_act_scalar(fm_activation a, float x)
{
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

/* Activation on 8 floats. */
FM_TARGET_AVX2 static inline __m256 fm_act_avx2(fm_activation a, __m256 x)
{
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

/* Activation on 16 floats. */
FM_TARGET_AVX512 static inline __m512 fm_act_avx512(fm_activation a, __m512 x)
{
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
