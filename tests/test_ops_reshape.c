/* Flatten and Reshape: shapes with 0 and -1, OpenCV golden data, errors. */
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static void test_flatten_shapes(void)
{
    fm_shape s = fm_shape4(1, 38, 38, 16), os;
    FM_CHECK_INT(fm_flatten_shape(&s, 1, -1, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){2, {1, 38 * 38 * 16, 0, 0}}));
    FM_CHECK_INT(fm_flatten_shape(&s, 1, 2, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){3, {1, 38 * 38, 16, 0}}));
    FM_CHECK_INT(fm_flatten_shape(&s, -3, -2, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){3, {1, 38 * 38, 16, 0}}));
    fm_err err = {0};
    FM_CHECK_INT(fm_flatten_shape(&s, 2, 1, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "axes 2..1 are out of range or reversed");
}

static void test_reshape_shapes(void)
{
    fm_shape s = fm_shape2(1, 17464), os;
    const int d1[3] = {0, -1, 2};
    FM_CHECK_INT(fm_reshape_shape(&s, d1, 3, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){3, {1, 8732, 2, 0}}));
    fm_shape s4 = fm_shape4(2, 3, 4, 5);
    const int d2[3] = {0, 0, -1};
    FM_CHECK_INT(fm_reshape_shape(&s4, d2, 3, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){3, {2, 3, 20, 0}}));
    const int d3[2] = {6, 20};
    FM_CHECK_INT(fm_reshape_shape(&s4, d3, 2, &os, NULL), FM_OK);

    fm_err err = {0};
    const int bad_div[3] = {0, -1, 7};
    FM_CHECK_INT(fm_reshape_shape(&s4, bad_div, 3, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "2x3x4x5 has 120 elements, which the other dims (product 14) do not divide");
    const int two_inf[3] = {-1, -1, 2};
    FM_CHECK_INT(fm_reshape_shape(&s4, two_inf, 3, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "both -1");
    const int wrong[2] = {7, 20};
    FM_CHECK_INT(fm_reshape_shape(&s4, wrong, 2, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "has 120 elements but the new shape has 140");
    const int zero_past[3] = {0, -1, 0};
    fm_shape s2 = fm_shape2(4, 6);
    FM_CHECK_INT(fm_reshape_shape(&s2, zero_past, 3, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "dim 2 is 0 (copy the input axis) but input 4x6 has only 2 axes");
}

static void test_reshape_golden_opencv(void)
{
    fm_tensor x, y1, y2;
    int ok = fm_fixture_load("reshape.txt", "x", &x) & fm_fixture_load("reshape.txt", "y1", &y1) &
             fm_fixture_load("reshape.txt", "y2", &y2);
    if (ok) {
        fm_shape s1, s2;
        FM_CHECK_INT(fm_flatten_shape(&x.shape, 1, -1, &s1, NULL), FM_OK);
        FM_CHECK(fm_shape_eq(&s1, &y1.shape));
        const int d[3] = {0, -1, 2};
        FM_CHECK_INT(fm_reshape_shape(&s1, d, 3, &s2, NULL), FM_OK);
        FM_CHECK(fm_shape_eq(&s2, &y2.shape));
        size_t n = fm_shape_count(&x.shape);
        float *buf = malloc(n * sizeof(float));
        fm_tensor tb = {s2, buf};
        fm_reshape_forward(&x, &tb);
        FM_CHECK_CLOSE(buf, y2.data, n, 0, 0);
        fm_tensor same = {s2, x.data};
        fm_reshape_forward(&x, &same); /* in place: no copy */
        FM_CHECK_CLOSE(x.data, y1.data, n, 0, 0);
        free(buf);
    }
    free(x.data);
    free(y1.data);
    free(y2.data);
}

extern void suite_ops_reshape(void);
void suite_ops_reshape(void)
{
    FM_RUN(test_flatten_shapes);
    FM_RUN(test_reshape_shapes);
    FM_RUN(test_reshape_golden_opencv);
}
