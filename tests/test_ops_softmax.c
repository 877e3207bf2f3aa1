/* Softmax: known values, OpenCV golden outputs over axes 2 and 1, errors. */
#include <math.h>
#include <stdlib.h>

#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static void test_softmax_exact(void)
{
    /* (1, 3, 2), axis 2: pairs [0, ln 3], [5, 5], [1000, 0] (no overflow). */
    float x[6] = {0, logf(3.0f), 5, 5, 1000, 0}, y[6];
    fm_shape s = fm_shape3(1, 3, 2), os;
    FM_CHECK_INT(fm_softmax_shape(&s, 2, &os, NULL), FM_OK);
    fm_tensor tx = {s, x}, ty = {os, y};
    fm_softmax_forward(&tx, 2, &ty);
    const float w[6] = {0.25f, 0.75f, 0.5f, 0.5f, 1, 0};
    FM_CHECK_CLOSE(y, w, 6, 1e-7, 1e-6);
    /* axis 1 over (1, 3, 2): columns [0, 5, 1000] and [ln 3, 5, 0] */
    fm_softmax_forward(&tx, -2, &tx); /* in place */
    FM_CHECK_NEAR(x[4], 1.0, 1e-7);
    FM_CHECK_NEAR(x[0] + x[2] + x[4], 1.0, 1e-6);
    FM_CHECK_NEAR(x[3], 1.0 / (1.0 + 3.0 * exp(-5.0) + exp(-5.0)), 1e-6);
}

static void test_softmax_golden_opencv(void)
{
    fm_tensor x1, y1, x2, y2;
    int ok = fm_fixture_load("softmax.txt", "x1", &x1) & fm_fixture_load("softmax.txt", "y1", &y1) &
             fm_fixture_load("softmax.txt", "x2", &x2) & fm_fixture_load("softmax.txt", "y2", &y2);
    if (ok) {
        fm_softmax_forward(&x1, 2, &x1);
        FM_CHECK_CLOSE(x1.data, y1.data, fm_shape_count(&x1.shape), 1e-7, 1e-6);
        fm_softmax_forward(&x2, 1, &x2);
        FM_CHECK_CLOSE(x2.data, y2.data, fm_shape_count(&x2.shape), 1e-7, 1e-6);
    }
    free(x1.data);
    free(y1.data);
    free(x2.data);
    free(y2.data);
}

static void test_softmax_errors(void)
{
    fm_err err = {0};
    fm_shape s = fm_shape3(1, 4, 2), os;
    FM_CHECK_INT(fm_softmax_shape(&s, 3, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "axis 3 is out of range for 3-D input 1x4x2");
    FM_CHECK_INT(fm_softmax_shape(&s, -4, &os, &err), FM_ERR_ARG);
}

extern void suite_ops_softmax(void);
void suite_ops_softmax(void)
{
    FM_RUN(test_softmax_exact);
    FM_RUN(test_softmax_golden_opencv);
    FM_RUN(test_softmax_errors);
}
