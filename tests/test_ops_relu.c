/* ReLU / leaky ReLU / ReLU6: exact values, in place. (The OpenCV golden
 * outputs and the threaded path are checked in test_ops_affine.c.) */
#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static void test_relu_exact(void)
{
    float x[6] = {-3, -0.5f, 0, 0.5f, 5, 7}, y[6];
    fm_shape s = fm_shape2(2, 3);
    fm_tensor tx = {s, x}, ty = {s, y};
    fm_activation relu = {FM_ACT_RELU, 0}, leaky = {FM_ACT_RELU, 0.25f}, r6 = {FM_ACT_RELU6, 0},
                  none = {FM_ACT_NONE, 0};
    fm_act_forward(&tx, relu, &ty, NULL);
    const float w1[6] = {0, 0, 0, 0.5f, 5, 7};
    FM_CHECK_CLOSE(y, w1, 6, 0, 0);
    fm_act_forward(&tx, leaky, &ty, NULL);
    const float w2[6] = {-0.75f, -0.125f, 0, 0.5f, 5, 7};
    FM_CHECK_CLOSE(y, w2, 6, 0, 0);
    fm_act_forward(&tx, none, &ty, NULL);
    FM_CHECK_CLOSE(y, x, 6, 0, 0);
    fm_act_forward(&tx, r6, &tx, NULL); /* in place */
    const float w3[6] = {0, 0, 0, 0.5f, 5, 6};
    FM_CHECK_CLOSE(x, w3, 6, 0, 0);
}

extern void suite_ops_relu(void);
void suite_ops_relu(void)
{
    FM_RUN(test_relu_exact);
}
