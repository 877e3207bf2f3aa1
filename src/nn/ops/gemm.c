/* gemm.c - SGEMM micro-kernels (scalar, AVX2, AVX-512), A packing and the
 * run-time choice of instruction set. See gemm.h and simd.h. */
#include "nn/ops/gemm.h"

#include <stdlib.h>
#include <string.h>

/* ---- instruction-set levels ------------------------------------------------ */

int fm_isa_supported(fm_isa isa)
{
    switch (isa) {
    case FM_ISA_SCALAR:
        return 1;
#ifdef FM_X86
    case FM_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FM_ISA_AVX512:
        return __builtin_cpu_supports("avx512f");
#endif
    default:
        return 0;
    }
}

const char *fm_isa_name(fm_isa isa)
{
    switch (isa) {
    case FM_ISA_SCALAR:
        return "scalar";
    case FM_ISA_AVX2:
        return "avx2";
    case FM_ISA_AVX512:
        return "avx512";
    }
    return "unknown";
}

fm_isa fm_isa_detect(void)
{
    int cap = FM_ISA_COUNT - 1;
    const char *no = getenv("FM_NO_SIMD");
    if (no && no[0] && strcmp(no, "0") != 0)
        cap = FM_ISA_SCALAR;
    const char *want = getenv("FM_ISA");
    if (want) {
        for (int i = 0; i < FM_ISA_COUNT; i++)
            if (strcmp(want, fm_isa_name((fm_isa)i)) == 0 && i < cap)
                cap = i;
    }
    for (int i = cap; i > 0; i--)
        if (fm_isa_supported((fm_isa)i))
            return (fm_isa)i;
    return FM_ISA_SCALAR;
}

/* ---- A packing ------------------------------------------------------------- */

size_t fm_gemm_packed_a_count(int m, int k, int mr)
{
    size_t panels = (size_t)(m + mr - 1) / (size_t)mr;
    return panels * (size_t)k * (size_t)mr;
}

void fm_gemm_pack_a(const float *a, size_t lda, int m, int k, int mr, float *out)
{
    int panels = (m + mr - 1) / mr;
    for (int p = 0; p < panels; p++) {
        float *dst = out + (size_t)p * k * mr;
        for (int kk = 0; kk < k; kk++)
            for (int i = 0; i < mr; i++) {
                int row = p * mr + i;
                dst[(size_t)kk * mr + i] = row < m ? a[(size_t)row * lda + kk] : 0.0f;
            }
    }
}

/* ---- scalar 4x16 ----------------------------------------------------------- */

#define SC_MR 4
#define SC_NR 16

static void ukr_scalar(int kc, const float *a, const float *b, size_t ldb, const int32_t *off,
                       float *c, size_t ldc, const float *bias, int flags, fm_activation act)
{
    float acc[SC_MR][SC_NR];
    for (int i = 0; i < SC_MR; i++)
        for (int j = 0; j < SC_NR; j++)
            acc[i][j] = (flags & FM_GEMM_FIRST) ? (bias ? bias[i] : 0.0f) : c[i * ldc + j];
    for (int k = 0; k < kc; k++) {
        const float *bk = off ? b + off[k] : b + (size_t)k * ldb;
        const float *ak = a + (size_t)k * SC_MR;
        for (int i = 0; i < SC_MR; i++)
            for (int j = 0; j < SC_NR; j++)
                acc[i][j] += ak[i] * bk[j];
    }
    for (int i = 0; i < SC_MR; i++)
        for (int j = 0; j < SC_NR; j++)
            c[i * ldc + j] = (flags & FM_GEMM_LAST) ? fm_act_scalar(act, acc[i][j]) : acc[i][j];
}

static const fm_gemm_kernel k_scalar = {FM_ISA_SCALAR, SC_MR, SC_NR, ukr_scalar, {NULL, NULL}};

#ifdef FM_X86

/* ---- AVX2 4x24: 12 accumulators, 3 B vectors, 1 broadcast ------------------ */

#define A2_ROW_INIT(i)                                            \
    do {                                                          \
        if (flags & FM_GEMM_FIRST) {                              \
            __m256 v = bias ? _mm256_set1_ps(bias[i]) : _mm256_setzero_ps(); \
            c##i##0 = v;                                          \
            c##i##1 = v;                                          \
            c##i##2 = v;                                          \
        } else {                                                  \
            c##i##0 = _mm256_loadu_ps(c + (i) * ldc);             \
            c##i##1 = _mm256_loadu_ps(c + (i) * ldc + 8);         \
            c##i##2 = _mm256_loadu_ps(c + (i) * ldc + 16);        \
        }                                                         \
    } while (0)

#define A2_ROW_FMA(i)                                 \
    do {                                              \
        __m256 av = _mm256_broadcast_ss(a + (i));     \
        c##i##0 = _mm256_fmadd_ps(av, b0, c##i##0);   \
        c##i##1 = _mm256_fmadd_ps(av, b1, c##i##1);   \
        c##i##2 = _mm256_fmadd_ps(av, b2, c##i##2);   \
    } while (0)

#define A2_ROW_STORE(i)                                   \
    do {                                                  \
        if (flags & FM_GEMM_LAST) {                       \
            c##i##0 = fm_act_avx2(act, c##i##0);          \
            c##i##1 = fm_act_avx2(act, c##i##1);          \
            c##i##2 = fm_act_avx2(act, c##i##2);          \
        }                                                 \
        _mm256_storeu_ps(c + (i) * ldc, c##i##0);         \
        _mm256_storeu_ps(c + (i) * ldc + 8, c##i##1);     \
        _mm256_storeu_ps(c + (i) * ldc + 16, c##i##2);    \
    } while (0)

#define A2_STEP(BK)                                 \
    do {                                            \
        const float *bk_ = (BK);                    \
        __m256 b0 = _mm256_loadu_ps(bk_);           \
        __m256 b1 = _mm256_loadu_ps(bk_ + 8);       \
        __m256 b2 = _mm256_loadu_ps(bk_ + 16);      \
        A2_ROW_FMA(0);                              \
        A2_ROW_FMA(1);                              \
        A2_ROW_FMA(2);                              \
        A2_ROW_FMA(3);                              \
        a += 4;                                     \
    } while (0)

FM_TARGET_AVX2 static void ukr_avx2(int kc, const float *a, const float *b, size_t ldb,
                                    const int32_t *off, float *c, size_t ldc, const float *bias,
                                    int flags, fm_activation act)
{
    __m256 c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
    A2_ROW_INIT(0);
    A2_ROW_INIT(1);
    A2_ROW_INIT(2);
    A2_ROW_INIT(3);
    if (off)
        for (int k = 0; k < kc; k++)
            A2_STEP(b + off[k]);
    else
        for (int k = 0; k < kc; k++, b += ldb)
            A2_STEP(b);
    A2_ROW_STORE(0);
    A2_ROW_STORE(1);
    A2_ROW_STORE(2);
    A2_ROW_STORE(3);
}

static const fm_gemm_kernel k_avx2 = {FM_ISA_AVX2, 4, 24, ukr_avx2, {NULL, NULL}};

/* ---- AVX-512 8x48: 24 accumulators, 3 B vectors, 1 broadcast --------------- */

#define A5_ROW_INIT(i)                                            \
    do {                                                          \
        if (flags & FM_GEMM_FIRST) {                              \
            __m512 v = bias ? _mm512_set1_ps(bias[i]) : _mm512_setzero_ps(); \
            c##i##0 = v;                                          \
            c##i##1 = v;                                          \
            c##i##2 = v;                                          \
        } else {                                                  \
            c##i##0 = _mm512_loadu_ps(c + (i) * ldc);             \
            c##i##1 = _mm512_loadu_ps(c + (i) * ldc + 16);        \
            c##i##2 = _mm512_loadu_ps(c + (i) * ldc + 32);        \
        }                                                         \
    } while (0)

#define A5_ROW_FMA(i)                                 \
    do {                                              \
        __m512 av = _mm512_set1_ps(a[i]);             \
        c##i##0 = _mm512_fmadd_ps(av, b0, c##i##0);   \
        c##i##1 = _mm512_fmadd_ps(av, b1, c##i##1);   \
        c##i##2 = _mm512_fmadd_ps(av, b2, c##i##2);   \
    } while (0)

#define A5_ROW_STORE(i)                                   \
    do {                                                  \
        if (flags & FM_GEMM_LAST) {                       \
            c##i##0 = fm_act_avx512(act, c##i##0);        \
            c##i##1 = fm_act_avx512(act, c##i##1);        \
            c##i##2 = fm_act_avx512(act, c##i##2);        \
        }                                                 \
        _mm512_storeu_ps(c + (i) * ldc, c##i##0);         \
        _mm512_storeu_ps(c + (i) * ldc + 16, c##i##1);    \
        _mm512_storeu_ps(c + (i) * ldc + 32, c##i##2);    \
    } while (0)

#define A5_STEP(BK)                                 \
    do {                                            \
        const float *bk_ = (BK);                    \
        __m512 b0 = _mm512_loadu_ps(bk_);           \
        __m512 b1 = _mm512_loadu_ps(bk_ + 16);      \
        __m512 b2 = _mm512_loadu_ps(bk_ + 32);      \
        A5_ROW_FMA(0);                              \
        A5_ROW_FMA(1);                              \
        A5_ROW_FMA(2);                              \
        A5_ROW_FMA(3);                              \
        A5_ROW_FMA(4);                              \
        A5_ROW_FMA(5);                              \
        A5_ROW_FMA(6);                              \
        A5_ROW_FMA(7);                              \
        a += 8;                                     \
    } while (0)

FM_TARGET_AVX512 static void ukr_avx512(int kc, const float *a, const float *b, size_t ldb,
                                        const int32_t *off, float *c, size_t ldc,
                                        const float *bias, int flags, fm_activation act)
{
    __m512 c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
    __m512 c40, c41, c42, c50, c51, c52, c60, c61, c62, c70, c71, c72;
    A5_ROW_INIT(0);
    A5_ROW_INIT(1);
    A5_ROW_INIT(2);
    A5_ROW_INIT(3);
    A5_ROW_INIT(4);
    A5_ROW_INIT(5);
    A5_ROW_INIT(6);
    A5_ROW_INIT(7);
    if (off)
        for (int k = 0; k < kc; k++)
            A5_STEP(b + off[k]);
    else
        for (int k = 0; k < kc; k++, b += ldb)
            A5_STEP(b);
    A5_ROW_STORE(0);
    A5_ROW_STORE(1);
    A5_ROW_STORE(2);
    A5_ROW_STORE(3);
    A5_ROW_STORE(4);
    A5_ROW_STORE(5);
    A5_ROW_STORE(6);
    A5_ROW_STORE(7);
}

/* Narrow AVX-512 tiles for the last few columns: 8x16 and 8x32. */
#define A5N_INIT(i, j)                                                               \
    c##i##j = (flags & FM_GEMM_FIRST)                                                \
                  ? (bias ? _mm512_set1_ps(bias[i]) : _mm512_setzero_ps())           \
                  : _mm512_loadu_ps(c + (i) * ldc + 16 * (j))
#define A5N_FMA(i, j) c##i##j = _mm512_fmadd_ps(_mm512_set1_ps(a[i]), b##j, c##i##j)
#define A5N_STORE(i, j)                                                                    \
    _mm512_storeu_ps(c + (i) * ldc + 16 * (j),                                             \
                     (flags & FM_GEMM_LAST) ? fm_act_avx512(act, c##i##j) : c##i##j)
#define A5N_ROWS(OP, j)                                                                    \
    OP(0, j);                                                                              \
    OP(1, j);                                                                              \
    OP(2, j);                                                                              \
    OP(3, j);                                                                              \
    OP(4, j);                                                                              \
    OP(5, j);                                                                              \
    OP(6, j);                                                                              \
    OP(7, j)

FM_TARGET_AVX512 static void ukr_avx512_16(int kc, const float *a, const float *b, size_t ldb,
                                           const int32_t *off, float *c, size_t ldc,
                                           const float *bias, int flags, fm_activation act)
{
    __m512 c00, c10, c20, c30, c40, c50, c60, c70;
    A5N_ROWS(A5N_INIT, 0);
    for (int k = 0; k < kc; k++, a += 8) {
        const float *bk = off ? b + off[k] : b + (size_t)k * ldb;
        __m512 b0 = _mm512_loadu_ps(bk);
        A5N_ROWS(A5N_FMA, 0);
    }
    A5N_ROWS(A5N_STORE, 0);
}

FM_TARGET_AVX512 static void ukr_avx512_32(int kc, const float *a, const float *b, size_t ldb,
                                           const int32_t *off, float *c, size_t ldc,
                                           const float *bias, int flags, fm_activation act)
{
    __m512 c00, c10, c20, c30, c40, c50, c60, c70;
    __m512 c01, c11, c21, c31, c41, c51, c61, c71;
    A5N_ROWS(A5N_INIT, 0);
    A5N_ROWS(A5N_INIT, 1);
    for (int k = 0; k < kc; k++, a += 8) {
        const float *bk = off ? b + off[k] : b + (size_t)k * ldb;
        __m512 b0 = _mm512_loadu_ps(bk), b1 = _mm512_loadu_ps(bk + 16);
        A5N_ROWS(A5N_FMA, 0);
        A5N_ROWS(A5N_FMA, 1);
    }
    A5N_ROWS(A5N_STORE, 0);
    A5N_ROWS(A5N_STORE, 1);
}

static const fm_gemm_kernel k_avx512 = {FM_ISA_AVX512, 8, 48, ukr_avx512, {ukr_avx512_16, ukr_avx512_32}};

#endif /* FM_X86 */

const fm_gemm_kernel *fm_gemm_kernel_get(fm_isa isa)
{
#ifdef FM_X86
    if (isa == FM_ISA_AVX512)
        return &k_avx512;
    if (isa == FM_ISA_AVX2)
        return &k_avx2;
#endif
    return &k_scalar;
}
