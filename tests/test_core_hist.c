/* Fixed-memory quantiles (core/hist.h): exact ranks on small sets, the 1% bound against a
 * sorted copy over a wide range, and the edges (empty, zero, negative, NaN, huge). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/hist.h"
#include "test.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* 1..9 ms: the median is the 5th value, the 90th percentile the one of rank round(8 * 0.9) = 7,
 * i.e. 8; each read back within 1%. */
static void test_hist_small_exact_ranks(void)
{
    fm_hist *h = malloc(sizeof *h);
    fm_hist_init(h);
    double v[] = {9, 1, 8, 2, 7, 3, 6, 4, 5};
    for (int i = 0; i < 9; i++)
        fm_hist_add(h, v[i]);
    FM_CHECK_INT((int)h->n, 9);
    FM_CHECK_NEAR(fm_hist_quantile(h, 0.5), 5.0, 0.05);
    FM_CHECK_NEAR(fm_hist_quantile(h, 0.9), 8.0, 0.08);
    FM_CHECK_NEAR(fm_hist_quantile(h, 0.0), 1.0, 0.01);
    FM_CHECK_NEAR(fm_hist_quantile(h, 1.0), 9.0, 0.09);
    /* neighbours 2% apart stay apart: 100 and 102 land in different bins */
    fm_hist_init(h);
    fm_hist_add(h, 100);
    fm_hist_add(h, 102.5);
    FM_CHECK(fm_hist_quantile(h, 0.0) < fm_hist_quantile(h, 1.0));
    free(h);
}

/* 100 000 values spread log-uniformly over 1e-2 .. 1e4 ms: every quantile from 0 to 1 by 0.05
 * within 1% of the sample of the same rank in a sorted copy. */
static void test_hist_matches_sorted(void)
{
    enum { N = 100000 };
    double *v = malloc(N * sizeof *v);
    fm_hist *h = malloc(sizeof *h);
    fm_hist_init(h);
    unsigned s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = 1e-2 * pow(1e6, (double)(s >> 8) / (double)(1u << 24));
        fm_hist_add(h, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_d);
    double worst = 0;
    for (int k = 0; k <= 20; k++) {
        double q = k / 20.0;
        double want = v[(long)((N - 1) * q + 0.5)], got = fm_hist_quantile(h, q);
        double rel = fabs(got - want) / want;
        if (rel > worst)
            worst = rel;
    }
    FM_CHECK_MSG(worst <= 0.0101, "worst relative error %.4f over 1%%", worst);
    free(v);
    free(h);
}

static void test_hist_edges(void)
{
    fm_hist *h = malloc(sizeof *h);
    fm_hist_init(h);
    FM_CHECK_NEAR(fm_hist_quantile(h, 0.5), 0.0, 0); /* empty */
    fm_hist_add(h, 0);
    fm_hist_add(h, -3);
    fm_hist_add(h, NAN);
    FM_CHECK_NEAR(fm_hist_quantile(h, 1.0), 0.0, 0); /* all below the first bin: 0 */
    fm_hist_add(h, 1e12);                           /* above the last bin: counted there */
    fm_hist_add(h, 1e12);
    FM_CHECK_INT((int)h->n, 5);
    FM_CHECK(fm_hist_quantile(h, 1.0) > 1e6);
    FM_CHECK_NEAR(fm_hist_quantile(h, 0.5), 0.0, 0); /* rank 2 of 5: still a zero */
    FM_CHECK_NEAR(fm_hist_quantile(h, 2.0), fm_hist_quantile(h, 1.0), 0); /* q clamped */
    /* a million frames of 16.7 ms outweigh the five above */
    for (long i = 0; i < 1000000; i++)
        fm_hist_add(h, 16.7);
    FM_CHECK_NEAR(fm_hist_quantile(h, 0.5), 16.7, 0.17);
    free(h);
}

void suite_core_hist(void);
void suite_core_hist(void)
{
    FM_RUN(test_hist_small_exact_ranks);
    FM_RUN(test_hist_matches_sorted);
    FM_RUN(test_hist_edges);
}
