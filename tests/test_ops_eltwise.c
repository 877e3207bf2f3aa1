/* Eltwise: exact SUM with coefficients / PROD / MAX, OpenCV golden outputs,
 * aliasing, threads, shape errors, and the two-input SUM path against the
 * blocked reference. */
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static void test_eltwise_exact(void)
{
    float a[4] = {1, -2, 3, 4}, b[4] = {2, 2, -1, 0.5f}, c[4] = {-1, 5, 0, 2}, y[4];
    fm_shape s = fm_shape4(1, 1, 2, 2);
    fm_tensor ta = {s, a}, tb = {s, b}, tc = {s, c}, ty = {s, y};
    const fm_tensor *in[3] = {&ta, &tb, &tc};
    const float co[3] = {2, -1, 0.5f};
    fm_eltwise_param p = {FM_ELTWISE_SUM, 3, co, {FM_ACT_NONE, 0}};
    fm_eltwise_forward(&p, in, 3, &ty, NULL);
    const float wsum[4] = {-0.5f, -3.5f, 7, 8.5f};
    FM_CHECK_CLOSE(y, wsum, 4, 0, 0);
    p.ncoeff = 0;
    p.coeff = NULL;
    p.act.act = FM_ACT_RELU;
    fm_eltwise_forward(&p, in, 3, &ty, NULL);
    const float wsum2[4] = {2, 5, 2, 6.5f};
    FM_CHECK_CLOSE(y, wsum2, 4, 0, 0);
    p.act.act = FM_ACT_NONE;
    p.op = FM_ELTWISE_PROD;
    fm_eltwise_forward(&p, in, 3, &ty, NULL);
    const float wprod[4] = {-2, -20, -0.0f, 4};
    FM_CHECK_CLOSE(y, wprod, 4, 0, 0);
    p.op = FM_ELTWISE_MAX;
    fm_eltwise_forward(&p, in, 2, &ty, NULL);
    const float wmax[4] = {2, 2, 3, 4};
    FM_CHECK_CLOSE(y, wmax, 4, 0, 0);
    /* Output aliasing the second input (res10's residual sums write in place). */
    p.op = FM_ELTWISE_SUM;
    fm_eltwise_forward(&p, in, 2, &tb, NULL);
    const float walias[4] = {3, 0, 2, 4.5f};
    FM_CHECK_CLOSE(b, walias, 4, 0, 0);
}

static void test_eltwise_golden_opencv(void)
{
    const char *names[6] = {"a", "b", "c", "sum", "prod", "max"};
    fm_tensor t[6];
    int ok = 1;
    for (int i = 0; i < 6; i++)
        ok &= fm_fixture_load("eltwise.txt", names[i], &t[i]);
    if (ok) {
        size_t n = fm_shape_count(&t[0].shape);
        float *y = malloc(n * sizeof(float));
        fm_tensor ty = {t[0].shape, y};
        const fm_tensor *in[3] = {&t[0], &t[1], &t[2]};
        const float co[3] = {0.5f, -2, 1.5f};
        fm_eltwise_param p = {FM_ELTWISE_SUM, 3, co, {FM_ACT_NONE, 0}};
        fm_eltwise_forward(&p, in, 3, &ty, NULL);
        FM_CHECK_CLOSE(y, t[3].data, n, 1e-6, 1e-6);
        p.op = FM_ELTWISE_PROD;
        fm_eltwise_forward(&p, in, 3, &ty, NULL);
        FM_CHECK_CLOSE(y, t[4].data, n, 0, 0);
        p.op = FM_ELTWISE_MAX;
        fm_eltwise_forward(&p, in, 3, &ty, NULL);
        FM_CHECK_CLOSE(y, t[5].data, n, 0, 0);
        free(y);
    }
    for (int i = 0; i < 6; i++)
        free(t[i].data);
}

static void test_eltwise_threads(void)
{
    uint64_t rng = 5;
    fm_shape s = fm_shape4(1, 16, 33, 35);
    size_t n = fm_shape_count(&s);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)),
          *y1 = malloc(n * sizeof(float)), *y2 = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        a[i] = fm_test_randf(&rng, -2, 2);
        b[i] = fm_test_randf(&rng, -2, 2);
    }
    fm_tensor ta = {s, a}, tb = {s, b}, t1 = {s, y1}, t2 = {s, y2};
    const fm_tensor *in[2] = {&ta, &tb};
    fm_eltwise_param p = {FM_ELTWISE_SUM, 0, NULL, {FM_ACT_RELU, 0}};
    fm_pool *pool = fm_pool_create(3, NULL);
    fm_eltwise_forward(&p, in, 2, &t1, NULL);
    fm_eltwise_forward(&p, in, 2, &t2, pool);
    FM_CHECK_CLOSE(y2, y1, n, 0, 0);
    FM_CHECK_NEAR(y1[n - 1], fmaxf(a[n - 1] + b[n - 1], 0.0f), 0);
    fm_pool_free(pool);
    free(a);
    free(b);
    free(y1);
    free(y2);
}

static void test_eltwise_shape_errors(void)
{
    fm_err err = {0};
    fm_shape a = fm_shape4(1, 2, 3, 4), b = fm_shape4(1, 2, 3, 3), os;
    const fm_shape *in[2] = {&a, &b};
    FM_CHECK_INT(fm_eltwise_shape(in, 2, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "input 1 has shape 1x2x3x3 but input 0 has 1x2x3x4");
    FM_CHECK_INT(fm_eltwise_shape(in, 1, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "at least 2 inputs");
    in[1] = &a;
    FM_CHECK_INT(fm_eltwise_shape(in, 2, &os, &err), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &a));
}

/* SUM of two inputs without coefficients (YuNet's Add) runs one direct pass: against
 * the blocked path (FM_FORCE_REF) for every activation, ISA level, 1 and 3 threads,
 * out of place and in place on either input, sizes around the vector widths. */
static void test_eltwise_add2_fast_vs_ref(void)
{
    static const size_t sizes[] = {1, 7, 8, 17, 100, 20011};
    static const fm_activation acts[] = {{FM_ACT_NONE, 0},  {FM_ACT_RELU, 0},
                                         {FM_ACT_RELU, 0.1f}, {FM_ACT_RELU6, 0},
                                         {FM_ACT_SIGMOID, 0}};
    const char *isas[] = {"scalar", "avx2", "avx512"};
    fm_pool *pool = fm_pool_create(3, NULL);
    uint64_t rng = 17;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const size_t n = sizes[si];
        float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
        float *want = malloc(n * sizeof(float)), *got = malloc((n + 1) * sizeof(float));
        float *io = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            a[i] = fm_test_randf(&rng, -8, 8);
            b[i] = fm_test_randf(&rng, -8, 8);
        }
        fm_shape s = fm_shape1((int)n);
        fm_tensor ta = {s, a}, tb = {s, b}, tw = {s, want}, tg = {s, got}, tio = {s, io};
        for (size_t ai = 0; ai < sizeof acts / sizeof acts[0]; ai++) {
            fm_eltwise_param p = {FM_ELTWISE_SUM, 0, NULL, acts[ai]};
            const double rtol = acts[ai].act == FM_ACT_SIGMOID ? 1e-6 : 0;
            const fm_tensor *in[2] = {&ta, &tb};
            setenv("FM_FORCE_REF", "1", 1);
            fm_eltwise_forward(&p, in, 2, &tw, NULL);
            unsetenv("FM_FORCE_REF");
            for (int v = 0; v < 6; v++) {
                setenv("FM_ISA", isas[v / 2], 1);
                fm_pool *pl = v % 2 ? pool : NULL;
                got[n] = 12345.0f;
                fm_eltwise_forward(&p, in, 2, &tg, pl);
                FM_CHECK_MSG(FM_CHECK_CLOSE(got, want, n, 0, rtol), "n %zu act %zu isa %s threads %d",
                             n, ai, isas[v / 2], v % 2 ? 3 : 1);
                FM_CHECK(got[n] == 12345.0f);
                for (int alias = 0; alias < 2; alias++) { /* out = first, then second input */
                    memcpy(io, alias ? b : a, n * sizeof(float));
                    const fm_tensor *ain[2] = {alias ? &ta : &tio, alias ? &tio : &tb};
                    fm_eltwise_forward(&p, ain, 2, &tio, pl);
                    FM_CHECK_MSG(FM_CHECK_CLOSE(io, want, n, 0, rtol), "in place on input %d", alias);
                }
            }
            unsetenv("FM_ISA");
        }
        free(a);
        free(b);
        free(want);
        free(got);
        free(io);
    }
    fm_pool_free(pool);
}

extern void suite_ops_eltwise(void);
void suite_ops_eltwise(void)
{
    FM_RUN(test_eltwise_exact);
    FM_RUN(test_eltwise_golden_opencv);
    FM_RUN(test_eltwise_threads);
    FM_RUN(test_eltwise_shape_errors);
    FM_RUN(test_eltwise_add2_fast_vs_ref);
}
