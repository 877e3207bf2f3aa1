/* Tests of the training SGEMM: every transpose pair, alpha/beta cases and edge
 * sizes (not multiples of MR/NR, K and N across block boundaries) at every ISA
 * level this CPU runs, against the double-accumulating reference.
 * Tolerance: |c - ref| <= 1e-6 * (sum_k |a_ik b_kj| + |beta c_ij|) + 1e-7 (float rounding
 * of a K-term sum stays well inside K * 2^-24 relative to the absolute sum). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/ops/gemm.h"
#include "test.h"
#include "train/sgemm.h"

static float *rnd(size_t n, uint64_t *s)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = fm_test_randf(s, -1.0f, 1.0f);
    return p;
}

static int check_case(fm_isa isa, int ta, int tb, int m, int n, int k, float alpha, float beta,
                      float *work, uint64_t *s)
{
    size_t lda = (size_t)(ta ? m : k) + 3, ldb = (size_t)(tb ? k : n) + 1, ldc = (size_t)n + 5;
    size_t na = lda * (size_t)(ta ? k : m), nb = ldb * (size_t)(tb ? n : k), nc = ldc * (size_t)m;
    float *a = rnd(na, s), *b = rnd(nb, s), *c = rnd(nc, s);
    float *c0 = malloc(nc * sizeof(float)), *cr = malloc(nc * sizeof(float));
    float *aa = malloc(na * sizeof(float)), *ab = malloc(nb * sizeof(float));
    float *cabs = malloc(nc * sizeof(float));
    if (beta == 0.0f)
        for (size_t i = 0; i < nc; i++)
            c[i] = NAN; /* beta 0 must not read C */
    memcpy(c0, c, nc * sizeof(float));
    memcpy(cr, c, nc * sizeof(float));
    for (size_t i = 0; i < na; i++)
        aa[i] = fabsf(a[i]);
    for (size_t i = 0; i < nb; i++)
        ab[i] = fabsf(b[i]);
    memset(cabs, 0, nc * sizeof(float));
    fm_sgemm(isa, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, work);
    fm_sgemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, cr, ldc);
    fm_sgemm_ref(ta, tb, m, n, k, fabsf(alpha), aa, lda, ab, ldb, 0.0f, cabs, ldc);
    int bad = 0;
    for (int i = 0; i < m && !bad; i++)
        for (int j = 0; j < n; j++) {
            size_t at = (size_t)i * ldc + j;
            double bound = cabs[at] + (beta == 0.0f ? 0.0 : fabs((double)beta * c0[at]));
            double tol = 1e-6 * bound + 1e-7;
            if (!(fabs((double)c[at] - cr[at]) <= tol)) {
                fm_test_fail(__FILE__, __LINE__,
                             "%s ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g: c[%d,%d] = %.9g, "
                             "reference %.9g (tol %g)",
                             fm_isa_name(isa), ta, tb, m, n, k, (double)alpha, (double)beta, i, j,
                             (double)c[at], (double)cr[at], tol);
                bad = 1;
                break;
            }
        }
    /* Padding columns of C past n are untouched. */
    for (int i = 0; i < m && !bad; i++)
        for (size_t j = (size_t)n; j < ldc && (size_t)i * ldc + j < nc; j++)
            if (memcmp(&c[(size_t)i * ldc + j], &c0[(size_t)i * ldc + j], sizeof(float)) != 0) {
                fm_test_fail(__FILE__, __LINE__, "%s: C written past column n at row %d",
                             fm_isa_name(isa), i);
                bad = 1;
                break;
            }
    free(a);
    free(b);
    free(c);
    free(c0);
    free(cr);
    free(aa);
    free(ab);
    free(cabs);
    return !bad;
}

static float *work_alloc(void)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, FM_SGEMM_WORK_FLOATS * sizeof(float)) != 0)
        return NULL;
    return p;
}

static void test_sgemm_vs_reference(void)
{
    float *work = work_alloc();
    FM_CHECK(work != NULL);
    if (!work)
        return;
    uint64_t s = 11;
    static const int shapes[][3] = {{1, 1, 1},   {3, 5, 7},    {8, 48, 16},   {9, 49, 17},
                                    {17, 33, 300}, {100, 7, 5}, {97, 800, 40}, {5, 1570, 3},
                                    {130, 70, 520}};
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 0.25f}, {2.0f, 1.0f}};
    for (int isa = 0; isa < FM_ISA_COUNT; isa++) {
        if (!fm_isa_supported((fm_isa)isa))
            continue;
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (int t = 0; t < 4; t++) {
                const float *x = ab[(si + (size_t)t) % 4];
                if (!check_case((fm_isa)isa, t & 1, t >> 1, shapes[si][0], shapes[si][1],
                                shapes[si][2], x[0], x[1], work, &s))
                    break;
            }
    }
    free(work);
}

static void test_sgemm_degenerate(void)
{
    float *work = work_alloc();
    float c[6] = {1, 2, 3, 4, 5, 6}, a[1] = {1}, b[1] = {1};
    /* k == 0: C = beta * C */
    fm_sgemm(fm_isa_detect(), 0, 0, 2, 3, 0, 1.0f, a, 1, b, 3, 0.5f, c, 3, work);
    FM_CHECK_NEAR(c[5], 3.0f, 0);
    /* alpha == 0, beta == 0: zero without reading */
    c[0] = NAN;
    fm_sgemm(fm_isa_detect(), 0, 0, 2, 3, 1, 0.0f, a, 1, b, 3, 0.0f, c, 3, work);
    FM_CHECK_NEAR(c[0], 0.0f, 0);
    FM_CHECK_NEAR(c[5], 0.0f, 0);
    /* a tiny exact product: [1 2; 3 4] * [5; 6] = [17; 39] */
    float A[4] = {1, 2, 3, 4}, B[2] = {5, 6}, C[2];
    fm_sgemm(fm_isa_detect(), 0, 0, 2, 1, 2, 1.0f, A, 2, B, 1, 0.0f, C, 1, work);
    FM_CHECK_NEAR(C[0], 17.0f, 0);
    FM_CHECK_NEAR(C[1], 39.0f, 0);
    free(work);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Speed of the shapes a MobileNetV2 top block runs (only with FM_BENCH=1). */
static void test_sgemm_speed(void)
{
    float *work = work_alloc();
    uint64_t s = 3;
    static const int shapes[][5] = {/* ta, tb, m, n, k */
                                    {0, 0, 960, 784, 160},  {0, 0, 160, 784, 960},
                                    {1, 0, 960, 784, 160},  {0, 1, 960, 160, 784},
                                    {0, 0, 1280, 784, 320}, {0, 1, 1280, 320, 784}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int *sh = shapes[i];
        int m = sh[2], n = sh[3], k = sh[4];
        float *a = rnd((size_t)m * k, &s), *bb = rnd((size_t)k * n, &s), *c = rnd((size_t)m * n, &s);
        size_t lda = sh[0] ? (size_t)m : (size_t)k, ldb = sh[1] ? (size_t)k : (size_t)n;
        fm_sgemm(fm_isa_detect(), sh[0], sh[1], m, n, k, 1.0f, a, lda, bb, ldb, 0.0f, c, (size_t)n,
                 work);
        int reps = 20;
        double t0 = now_s();
        for (int r = 0; r < reps; r++)
            fm_sgemm(fm_isa_detect(), sh[0], sh[1], m, n, k, 1.0f, a, lda, bb, ldb, 0.0f, c,
                     (size_t)n, work);
        double dt = (now_s() - t0) / reps;
        printf("  sgemm %s ta=%d tb=%d %dx%dx%d: %.2f ms, %.1f GFLOP/s\n",
               fm_isa_name(fm_isa_detect()), sh[0], sh[1], m, n, k, dt * 1e3,
               2.0 * m * n * k / dt * 1e-9);
        free(a);
        free(bb);
        free(c);
    }
    free(work);
}

void suite_train_sgemm(void);
void suite_train_sgemm(void)
{
    FM_RUN(test_sgemm_vs_reference);
    FM_RUN(test_sgemm_degenerate);
    if (fm_test_bench()) /* a benchmark, not a test: only with FM_BENCH=1, never counted */
        FM_RUN(test_sgemm_speed);
}
