/* Permute: exact (0, 2, 3, 1) as SSD uses it, OpenCV golden outputs, errors. */
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static void test_permute_exact(void)
{
    /* (1, 2, 2, 3) -> (1, 2, 3, 2): y[0,h,w,c] = x[0,c,h,w] */
    float x[12], y[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i;
    const int order[4] = {0, 2, 3, 1};
    fm_shape s = fm_shape4(1, 2, 2, 3), os;
    FM_CHECK_INT(fm_permute_shape(&s, order, 4, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){4, {1, 2, 3, 2}}));
    fm_tensor tx = {s, x}, ty = {os, y};
    fm_permute_forward(&tx, order, 4, &ty);
    const float w[12] = {0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11};
    FM_CHECK_CLOSE(y, w, 12, 0, 0);
    /* A short order is completed with the remaining axes: (0, 2) = (0, 2, 1, 3). */
    const int shortord[2] = {0, 2};
    FM_CHECK_INT(fm_permute_shape(&s, shortord, 2, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){4, {1, 2, 2, 3}}));
    fm_permute_forward(&tx, shortord, 2, &ty);
    const float w2[12] = {0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11};
    FM_CHECK_CLOSE(y, w2, 12, 0, 0);
}

static void golden(const char *yn, const int *order)
{
    fm_tensor x, want;
    int ok = fm_fixture_load("permute.txt", "x", &x) & fm_fixture_load("permute.txt", yn, &want);
    if (ok) {
        fm_shape os;
        FM_CHECK_INT(fm_permute_shape(&x.shape, order, 4, &os, NULL), FM_OK);
        FM_CHECK(fm_shape_eq(&os, &want.shape));
        float *y = malloc(fm_shape_count(&os) * sizeof(float));
        fm_tensor ty = {os, y};
        fm_permute_forward(&x, order, 4, &ty);
        FM_CHECK_CLOSE(y, want.data, fm_shape_count(&os), 0, 0);
        free(y);
    }
    free(x.data);
    free(want.data);
}

static void test_permute_golden_opencv(void)
{
    const int o1[4] = {0, 2, 3, 1}, o2[4] = {0, 3, 1, 2};
    golden("y1", o1);
    golden("y2", o2);
}

static void test_permute_errors(void)
{
    fm_err err = {0};
    fm_shape s = fm_shape4(1, 2, 3, 4), os;
    const int dup[4] = {0, 2, 2, 1}, big[4] = {0, 1, 2, 4};
    FM_CHECK_INT(fm_permute_shape(&s, dup, 4, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "not a permutation of the 4 axes of 1x2x3x4");
    FM_CHECK_INT(fm_permute_shape(&s, big, 4, &os, &err), FM_ERR_ARG);
    fm_shape s3 = fm_shape3(1, 2, 3);
    FM_CHECK_INT(fm_permute_shape(&s3, dup, 4, &os, &err), FM_ERR_ARG);
}

extern void suite_ops_permute(void);
void suite_ops_permute(void)
{
    FM_RUN(test_permute_exact);
    FM_RUN(test_permute_golden_opencv);
    FM_RUN(test_permute_errors);
}
