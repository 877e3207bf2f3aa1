/* Concat: exact cases on axes 1 and 2 (res10 concatenates priors on axis 2),
 * OpenCV golden outputs, and shape errors. */
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static void test_concat_exact(void)
{
    /* (1, 1, 2, 2) and (1, 2, 2, 2) on axis 1 */
    float a[4] = {1, 2, 3, 4}, b[8] = {5, 6, 7, 8, 9, 10, 11, 12}, y[12];
    fm_shape sa = fm_shape4(1, 1, 2, 2), sb = fm_shape4(1, 2, 2, 2), os;
    const fm_shape *ins[2] = {&sa, &sb};
    FM_CHECK_INT(fm_concat_shape(ins, 2, 1, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){4, {1, 3, 2, 2}}));
    fm_tensor ta = {sa, a}, tb = {sb, b}, ty = {os, y};
    const fm_tensor *in[2] = {&ta, &tb};
    fm_concat_forward(in, 2, 1, &ty);
    const float w1[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    FM_CHECK_CLOSE(y, w1, 12, 0, 0);
    /* (1, 2, 2) and (1, 2, 3) on axis 2 (= -1): rows interleave */
    fm_shape s1 = fm_shape3(1, 2, 2), s2 = fm_shape3(1, 2, 3);
    const fm_shape *ins2[2] = {&s1, &s2};
    FM_CHECK_INT(fm_concat_shape(ins2, 2, -1, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){3, {1, 2, 5, 0}}));
    fm_tensor t1 = {s1, a}, t2 = {s2, b}, t3 = {os, y};
    const fm_tensor *in2[2] = {&t1, &t2};
    fm_concat_forward(in2, 2, 2, &t3);
    const float w2[10] = {1, 2, 5, 6, 7, 3, 4, 8, 9, 10};
    FM_CHECK_CLOSE(y, w2, 10, 0, 0);
}

static void golden(const char *x1, const char *x2, const char *yn, int axis)
{
    fm_tensor a, b, want;
    int ok = fm_fixture_load("concat.txt", x1, &a) & fm_fixture_load("concat.txt", x2, &b) &
             fm_fixture_load("concat.txt", yn, &want);
    if (ok) {
        fm_shape os;
        const fm_shape *ins[2] = {&a.shape, &b.shape};
        FM_CHECK_INT(fm_concat_shape(ins, 2, axis, &os, NULL), FM_OK);
        FM_CHECK(fm_shape_eq(&os, &want.shape));
        float *y = malloc(fm_shape_count(&os) * sizeof(float));
        fm_tensor ty = {os, y};
        const fm_tensor *in[2] = {&a, &b};
        fm_concat_forward(in, 2, axis, &ty);
        FM_CHECK_CLOSE(y, want.data, fm_shape_count(&os), 0, 0);
        free(y);
    }
    free(a.data);
    free(b.data);
    free(want.data);
}

static void test_concat_golden_opencv(void)
{
    golden("a", "b", "y1", 1);
    golden("c", "d", "y2", 2);
}

static void test_concat_shape_errors(void)
{
    fm_err err = {0};
    fm_shape a = fm_shape4(1, 2, 4, 5), b = fm_shape4(1, 3, 5, 5), c = fm_shape3(1, 2, 4), os;
    const fm_shape *in[2] = {&a, &b};
    FM_CHECK_INT(fm_concat_shape(in, 2, 1, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "input 1 is 1x3x5x5 but input 0 is 1x2x4x5");
    FM_CHECK_STR_CONTAINS(err.msg, "every axis except axis 1");
    in[1] = &c;
    FM_CHECK_INT(fm_concat_shape(in, 2, 1, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_INT(fm_concat_shape(in, 2, 4, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "axis 4 is out of range");
}

extern void suite_ops_concat(void);
void suite_ops_concat(void)
{
    FM_RUN(test_concat_exact);
    FM_RUN(test_concat_golden_opencv);
    FM_RUN(test_concat_shape_errors);
}
