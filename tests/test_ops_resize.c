/* Resize (ONNX nearest, asymmetric, floor): hand-computed cases (2x, a
 * non-integer 1.5, a 1x1 input, a downscale), error messages, and the 2x fast
 * path against the reference on random shapes per ISA level and thread count.
 * (OpenCV's golden output for 2x is checked in test_ops_onnx_golden.c.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static void iota(float *x, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = (float)(i + 1);
}

/* Shape check, then the reference and the fast path (forced to the reference
 * too) against want. */
static void check_case(float sh, float sw, fm_shape in, const float *x, int oh, int ow,
                       const float *want)
{
    fm_resize_param p = {sh, sw};
    fm_shape os;
    fm_err err = {0};
    FM_CHECK_MSG(fm_resize_shape(&p, &in, &os, &err) == FM_OK, "%s", err.msg);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){4, {in.d[0], in.d[1], oh, ow}}));
    size_t n = fm_shape_count(&os);
    float *y = malloc((n + 1) * sizeof(float));
    fm_tensor ti = {in, (float *)x}, to = {os, y};
    for (int v = 0; v < 3; v++) {
        for (size_t i = 0; i <= n; i++)
            y[i] = -1.0f;
        if (v == 0)
            fm_resize_forward_ref(&p, &ti, &to);
        else {
            if (v == 2)
                setenv("FM_FORCE_REF", "1", 1);
            fm_resize_forward(&p, &ti, &to, NULL);
            unsetenv("FM_FORCE_REF");
        }
        FM_CHECK_MSG(FM_CHECK_CLOSE(y, want, n, 0, 0), "scale %gx%g, path %d", (double)sh,
                     (double)sw, v);
        FM_CHECK(y[n] == -1.0f);
    }
    free(y);
}

static void test_resize_x2_exact(void)
{
    float x[4];
    iota(x, 4);
    const float want[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    check_case(2, 2, fm_shape4(1, 1, 2, 2), x, 4, 4, want);
    /* two planes stay apart */
    float x2[8];
    iota(x2, 8);
    const float want2[32] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4,
                             5, 5, 6, 6, 5, 5, 6, 6, 7, 7, 8, 8, 7, 7, 8, 8};
    check_case(2, 2, fm_shape4(1, 2, 2, 2), x2, 4, 4, want2);
}

/* 2x3 by 1.5: 3x4; rows 0 0 1 (0/1.5, 1/1.5, 2/1.5), columns 0 0 1 2. */
static void test_resize_scale_1_5(void)
{
    float x[6];
    iota(x, 6);
    const float want[12] = {1, 1, 2, 3, 1, 1, 2, 3, 4, 4, 5, 6};
    check_case(1.5f, 1.5f, fm_shape4(1, 1, 2, 3), x, 3, 4, want);
}

static void test_resize_1x1_and_down(void)
{
    const float one[1] = {7};
    const float w4[4] = {7, 7, 7, 7}, w9[9] = {7, 7, 7, 7, 7, 7, 7, 7, 7};
    check_case(2, 2, fm_shape4(1, 1, 1, 1), one, 2, 2, w4);
    check_case(3, 3, fm_shape4(1, 1, 1, 1), one, 3, 3, w9);
    /* different scales per axis: 1x1 -> 2x3 */
    const float w6[6] = {7, 7, 7, 7, 7, 7};
    check_case(2, 3, fm_shape4(1, 1, 1, 1), one, 2, 3, w6);
    /* downscale 4x4 by 0.5: input index 2 * o */
    float x[16];
    iota(x, 16);
    const float wd[4] = {1, 3, 9, 11};
    check_case(0.5f, 0.5f, fm_shape4(1, 1, 4, 4), x, 2, 2, wd);
    /* 3 wide by 0.7: floor(2.1) = 2 columns, 0/0.7 = 0 and 1/0.7 = 1.43 */
    float x3[3] = {1, 2, 3};
    const float w3[2] = {1, 2};
    check_case(1, 0.7f, fm_shape4(1, 1, 1, 3), x3, 1, 2, w3);
}

static void test_resize_errors(void)
{
    fm_err err = {0};
    fm_shape in = fm_shape4(1, 2, 3, 4), os;
    fm_resize_param p = {0, 2};
    FM_CHECK_INT(fm_resize_shape(&p, &in, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "scales 0 (height) and 2 (width) must be in (0, 16]");
    p = (fm_resize_param){2, -1};
    FM_CHECK_INT(fm_resize_shape(&p, &in, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "scales 2 (height) and -1 (width)");
    p = (fm_resize_param){17, 2};
    FM_CHECK_INT(fm_resize_shape(&p, &in, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "scales 17 (height)");
    p = (fm_resize_param){NAN, 2};
    FM_CHECK_INT(fm_resize_shape(&p, &in, &os, &err), FM_ERR_ARG);
    p = (fm_resize_param){16, 16};
    FM_CHECK_INT(fm_resize_shape(&p, &in, &os, &err), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){4, {1, 2, 48, 64}}));
    p = (fm_resize_param){0.25f, 1};
    FM_CHECK_INT(fm_resize_shape(&p, &in, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "1x2x3x4 scaled by 0.25 x 1 gives an empty 0x4 output");
    fm_shape in3 = fm_shape3(2, 3, 4);
    p = (fm_resize_param){2, 2};
    FM_CHECK_INT(fm_resize_shape(&p, &in3, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "input 2x3x4 must be a non-empty NCHW");
}

/* The 2x fast path against the reference: odd and even sizes, YuNet's 64
 * channels (threaded), every ISA level, 1 and 3 threads. Exact: copies only. */
static void test_resize_fast_vs_ref(void)
{
    static const int shapes[][4] = {{1, 1, 1, 1},  {1, 3, 5, 7},   {2, 4, 15, 20}, {1, 2, 30, 40},
                                    {1, 64, 15, 20}, {1, 64, 30, 40}, {1, 1, 3, 17}, {1, 5, 9, 8}};
    const char *isas[] = {"scalar", "avx2", "avx512"};
    fm_pool *pool = fm_pool_create(3, NULL);
    uint64_t rng = 5;
    fm_resize_param p = {2, 2};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        fm_shape in = fm_shape4(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3]), os;
        FM_CHECK_INT(fm_resize_shape(&p, &in, &os, NULL), FM_OK);
        size_t n = fm_shape_count(&in), m = fm_shape_count(&os);
        float *x = malloc(n * sizeof(float)), *a = malloc(m * sizeof(float));
        float *b = malloc((m + 1) * sizeof(float));
        for (size_t i = 0; i < n; i++)
            x[i] = fm_test_randf(&rng, -5, 5);
        fm_tensor ti = {in, x}, ta = {os, a}, tb = {os, b};
        fm_resize_forward_ref(&p, &ti, &ta);
        for (int v = 0; v < 6; v++) {
            setenv("FM_ISA", isas[v / 2], 1);
            for (size_t i = 0; i <= m; i++)
                b[i] = 12345.0f;
            fm_resize_forward(&p, &ti, &tb, v % 2 ? pool : NULL);
            FM_CHECK_MSG(FM_CHECK_CLOSE(b, a, m, 0, 0), "%dx%dx%dx%d, %s, %d threads",
                         shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], isas[v / 2],
                         v % 2 ? 3 : 1);
            FM_CHECK(b[m] == 12345.0f);
        }
        unsetenv("FM_ISA");
        free(x);
        free(a);
        free(b);
    }
    fm_pool_free(pool);
}

extern void suite_ops_resize(void);
void suite_ops_resize(void)
{
    FM_RUN(test_resize_x2_exact);
    FM_RUN(test_resize_scale_1_5);
    FM_RUN(test_resize_1x1_and_down);
    FM_RUN(test_resize_errors);
    FM_RUN(test_resize_fast_vs_ref);
}
