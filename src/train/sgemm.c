/* sgemm.c - blocked SGEMM over the packed micro-kernel, and its reference. See sgemm.h. */
#include "train/sgemm.h"

#include <stdint.h>
#include <string.h>

#include "nn/ops/gemm.h"

void fm_sgemm_ref(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                  size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int p = 0; p < k; p++) {
                float av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                s += (double)av * (double)bv;
            }
            float *cij = &c[(size_t)i * ldc + j];
            *cij = (float)((double)alpha * s + (beta == 0.0f ? 0.0 : (double)beta * (double)*cij));
        }
}

#ifdef FM_X86
/* 8x8 transpose of rows r[0..7] (8 floats each) in registers. */
#define FM_TR8(r)                                                                        \
    do {                                                                                 \
        __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]); \
        __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]); \
        __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]); \
        __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]); \
        __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE); \
        __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE); \
        __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE); \
        __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE); \
        r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);                                     \
        r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);                                     \
        r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);                                     \
        r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);                                     \
        r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);                                     \
        r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);                                     \
        r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);                                     \
        r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);                                     \
    } while (0)

/* Writes the transpose of the 8x8 block at src (row stride lds) to dst (row stride ldd),
 * times alpha. */
FM_TARGET_AVX2 static void tr8(const float *src, size_t lds, float *dst, size_t ldd, float alpha)
{
    __m256 r[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + (size_t)i * lds);
    FM_TR8(r);
    if (alpha != 1.0f) {
        __m256 a = _mm256_set1_ps(alpha);
        for (int i = 0; i < 8; i++)
            r[i] = _mm256_mul_ps(r[i], a);
    }
    for (int i = 0; i < 8; i++)
        _mm256_storeu_ps(dst + (size_t)i * ldd, r[i]);
}

/* dst (kc x w, row stride ldd) = transpose of the rows x kc block at src (row stride lds),
 * rows <= w; missing rows are zero. w a multiple of 8. */
FM_TARGET_AVX2 static void pack_transposed(const float *src, size_t lds, int rows, int kc, float alpha,
                                           float *dst, size_t ldd, int w)
{
    int p = 0;
    int full = rows / 8 * 8;
    for (; p + 8 <= kc; p += 8) {
        int j = 0;
        for (; j < full; j += 8)
            tr8(src + (size_t)j * lds + p, lds, dst + (size_t)p * ldd + j, ldd, alpha);
        for (int q = 0; q < 8; q++) {
            float *d = dst + (size_t)(p + q) * ldd;
            for (int jj = j; jj < w; jj++)
                d[jj] = jj < rows ? alpha * src[(size_t)jj * lds + p + q] : 0.0f;
        }
    }
    for (; p < kc; p++) {
        float *d = dst + (size_t)p * ldd;
        for (int jj = 0; jj < w; jj++)
            d[jj] = jj < rows ? alpha * src[(size_t)jj * lds + p] : 0.0f;
    }
}
#endif

/* Packs rows [i0, i0+mc) x cols [p0, p0+kc) of op(A), times alpha, into MR-row panels. */
static void pack_a(int fast, int trans_a, const float *a, size_t lda, int i0, int mc, int p0,
                   int kc, float alpha, int mr, float *out)
{
    for (int ip = 0; ip < mc; ip += mr) {
        float *dst = out + (size_t)ip * kc;
        int rows = mc - ip < mr ? mc - ip : mr;
        if (trans_a) {
            for (int p = 0; p < kc; p++) {
                const float *src = a + (size_t)(p0 + p) * lda + i0 + ip;
                float *d = dst + (size_t)p * mr;
                int i = 0;
                for (; i < rows; i++)
                    d[i] = alpha * src[i];
                for (; i < mr; i++)
                    d[i] = 0.0f;
            }
        } else {
#ifdef FM_X86
            if (fast && mr % 8 == 0) {
                pack_transposed(a + (size_t)(i0 + ip) * lda + p0, lda, rows, kc, alpha, dst,
                                (size_t)mr, mr);
                continue;
            }
#endif
            for (int i = 0; i < mr; i++) {
                if (i < rows) {
                    const float *src = a + (size_t)(i0 + ip + i) * lda + p0;
                    for (int p = 0; p < kc; p++)
                        dst[(size_t)p * mr + i] = alpha * src[p];
                } else {
                    for (int p = 0; p < kc; p++)
                        dst[(size_t)p * mr + i] = 0.0f;
                }
            }
        }
    }
}

/* Packs rows [p0, p0+kc) x cols [j0, j0+nc) of op(B) into NR-column panels (kc x NR each). */
static void pack_b(int fast, int trans_b, const float *b, size_t ldb, int p0, int kc, int j0, int nc,
                   int nr, float *out)
{
    for (int jp = 0; jp < nc; jp += nr) {
        float *dst = out + (size_t)jp * kc;
        int cols = nc - jp < nr ? nc - jp : nr;
        if (trans_b) {
#ifdef FM_X86
            if (fast && nr % 8 == 0) {
                pack_transposed(b + (size_t)(j0 + jp) * ldb + p0, ldb, cols, kc, 1.0f, dst,
                                (size_t)nr, nr);
                continue;
            }
#endif
            for (int j = 0; j < nr; j++) {
                if (j < cols) {
                    const float *src = b + (size_t)(j0 + jp + j) * ldb + p0;
                    for (int p = 0; p < kc; p++)
                        dst[(size_t)p * nr + j] = src[p];
                } else {
                    for (int p = 0; p < kc; p++)
                        dst[(size_t)p * nr + j] = 0.0f;
                }
            }
        } else {
            for (int p = 0; p < kc; p++) {
                const float *src = b + (size_t)(p0 + p) * ldb + j0 + jp;
                float *d = dst + (size_t)p * nr;
                int j = 0;
                for (; j < cols; j++)
                    d[j] = src[j];
                for (; j < nr; j++)
                    d[j] = 0.0f;
            }
        }
    }
}

static void scale_c(int m, int n, float beta, float *c, size_t ldc)
{
    for (int i = 0; i < m; i++) {
        float *row = c + (size_t)i * ldc;
        if (beta == 0.0f)
            memset(row, 0, (size_t)n * sizeof(float));
        else
            for (int j = 0; j < n; j++)
                row[j] *= beta;
    }
}

void fm_sgemm(fm_isa isa, int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
              size_t ldc, float *work)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0 || alpha == 0.0f) {
        if (beta != 1.0f)
            scale_c(m, n, beta, c, ldc);
        return;
    }
    if (beta != 0.0f && beta != 1.0f) {
        scale_c(m, n, beta, c, ldc);
        beta = 1.0f;
    }
    const fm_gemm_kernel *kern = fm_gemm_kernel_get(isa);
    const int mr = kern->mr, nr = kern->nr;
    /* the AVX2 packers run on any level above scalar */
    const int fast = isa != FM_ISA_SCALAR;
    /* MC and NC rounded down to whole panels. */
    const int mcb = FM_SGEMM_MC / mr * mr, ncb = FM_SGEMM_NC / nr * nr;
    float *pa = work;
    float *pb = pa + (size_t)FM_SGEMM_MC * FM_SGEMM_KC;
    float *tile = pb + (size_t)FM_SGEMM_KC * FM_SGEMM_NC;
    const fm_activation none = {FM_ACT_NONE, 0.0f};

    for (int j0 = 0; j0 < n; j0 += ncb) {
        int nc = n - j0 < ncb ? n - j0 : ncb;
        for (int p0 = 0; p0 < k; p0 += FM_SGEMM_KC) {
            int kc = k - p0 < FM_SGEMM_KC ? k - p0 : FM_SGEMM_KC;
            int flags = (p0 == 0 && beta == 0.0f) ? FM_GEMM_FIRST : 0;
            pack_b(fast, trans_b, b, ldb, p0, kc, j0, nc, nr, pb);
            for (int i0 = 0; i0 < m; i0 += mcb) {
                int mc = m - i0 < mcb ? m - i0 : mcb;
                pack_a(fast, trans_a, a, lda, i0, mc, p0, kc, alpha, mr, pa);
                for (int jp = 0; jp < nc; jp += nr) {
                    int cols = nc - jp < nr ? nc - jp : nr;
                    const float *bp = pb + (size_t)jp * kc;
                    for (int ip = 0; ip < mc; ip += mr) {
                        int rows = mc - ip < mr ? mc - ip : mr;
                        const float *ap = pa + (size_t)ip * kc;
                        float *ct = c + (size_t)(i0 + ip) * ldc + j0 + jp;
                        if (rows == mr && cols == nr) {
                            kern->ukr(kc, ap, bp, (size_t)nr, NULL, ct, ldc, NULL, flags, none);
                            continue;
                        }
                        if (!(flags & FM_GEMM_FIRST)) {
                            for (int i = 0; i < rows; i++)
                                memcpy(tile + (size_t)i * nr, ct + (size_t)i * ldc,
                                       (size_t)cols * sizeof(float));
                        }
                        kern->ukr(kc, ap, bp, (size_t)nr, NULL, tile, (size_t)nr, NULL, flags,
                                  none);
                        for (int i = 0; i < rows; i++)
                            memcpy(ct + (size_t)i * ldc, tile + (size_t)i * nr,
                                   (size_t)cols * sizeof(float));
                    }
                }
            }
        }
    }
}
