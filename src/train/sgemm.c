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

/* Packs rows [i0, i0+mc) x cols [p0, p0+kc) of op(A), times alpha, into MR-row panels. */
static void pack_a(int trans_a, const float *a, size_t lda, int i0, int mc, int p0, int kc,
                   float alpha, int mr, float *out)
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
static void pack_b(int trans_b, const float *b, size_t ldb, int p0, int kc, int j0, int nc, int nr,
                   float *out)
{
    for (int jp = 0; jp < nc; jp += nr) {
        float *dst = out + (size_t)jp * kc;
        int cols = nc - jp < nr ? nc - jp : nr;
        if (trans_b) {
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
                memcpy(d, src, (size_t)cols * sizeof(float));
                for (int j = cols; j < nr; j++)
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
            pack_b(trans_b, b, ldb, p0, kc, j0, nc, nr, pb);
            for (int i0 = 0; i0 < m; i0 += mcb) {
                int mc = m - i0 < mcb ? m - i0 : mcb;
                pack_a(trans_a, a, lda, i0, mc, p0, kc, alpha, mr, pa);
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
