/* Affine (BatchNorm, Scale): exact small cases, OpenCV golden outputs,
 * threads against one thread, shape errors. */
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static void test_affine_exact(void)
{
    /* Caffe BatchNorm: blobs mean*s, var*s, s; here s = 2, eps = 0. */
    const float mean[2] = {2, -4}, var[2] = {8, 2};
    float a[2], b[2];
    fm_batchnorm_coeffs(mean, var, 2.0f, 0.0f, 2, a, b);
    FM_CHECK_NEAR(a[0], 0.5, 0); /* 1 / sqrt(8 / 2) */
    FM_CHECK_NEAR(b[0], -0.5, 0); /* -(2 / 2) * 0.5 */
    FM_CHECK_NEAR(a[1], 1.0, 0);
    FM_CHECK_NEAR(b[1], 2.0, 0);
    /* scale_factor 0 means the statistics count as 0 (Caffe and OpenCV). */
    fm_batchnorm_coeffs(mean, var, 0.0f, 0.25f, 2, a, b);
    FM_CHECK_NEAR(a[0], 2.0, 0);
    FM_CHECK_NEAR(b[0], 0.0, 0);

    float x[8] = {1, 2, 3, 4, -1, -2, -3, -4}, y[8];
    const float sc[2] = {2, -1}, bi[2] = {1, 0.5f};
    fm_shape s = fm_shape4(1, 2, 2, 2), os;
    FM_CHECK_INT(fm_affine_shape(&s, 2, &os, NULL), FM_OK);
    fm_tensor ti = {s, x}, to = {os, y};
    fm_activation none = {FM_ACT_NONE, 0};
    fm_affine_forward(&ti, sc, bi, none, &to, NULL);
    const float want[8] = {3, 5, 7, 9, 1.5f, 2.5f, 3.5f, 4.5f};
    FM_CHECK_CLOSE(y, want, 8, 0, 0);
    fm_activation relu = {FM_ACT_RELU, 0};
    fm_affine_forward(&ti, sc, NULL, relu, &to, NULL); /* no bias, then ReLU */
    const float want2[8] = {2, 4, 6, 8, 1, 2, 3, 4};
    FM_CHECK_CLOSE(y, want2, 8, 0, 0);
    fm_activation r6 = {FM_ACT_RELU6, 0};
    fm_affine_forward(&ti, sc, bi, r6, &ti, NULL); /* in place */
    const float want3[8] = {3, 5, 6, 6, 1.5f, 2.5f, 3.5f, 4.5f};
    FM_CHECK_CLOSE(x, want3, 8, 0, 0);
}

static void test_affine_golden_opencv(void)
{
    fm_tensor x, bn, sc, relu, x4, relu6;
    int ok = fm_fixture_load("affine.txt", "x", &x) & fm_fixture_load("affine.txt", "bn", &bn) &
             fm_fixture_load("affine.txt", "scale", &sc) &
             fm_fixture_load("affine.txt", "relu", &relu) & fm_fixture_load("affine.txt", "x4", &x4) &
             fm_fixture_load("affine.txt", "relu6", &relu6);
    if (ok) {
        size_t n = fm_shape_count(&x.shape);
        float *y = malloc(n * sizeof(float));
        fm_tensor to = {x.shape, y};
        const float mean[3] = {0.5f, -1, 2}, var[3] = {4, 0.25f, 1.5f};
        float a[3], b[3];
        fm_batchnorm_coeffs(mean, var, 2.0f, 0.001f, 3, a, b);
        fm_activation none = {FM_ACT_NONE, 0};
        fm_affine_forward(&x, a, b, none, &to, NULL);
        FM_CHECK_CLOSE(y, bn.data, n, 1e-6, 1e-6);
        const float gamma[3] = {1.5f, -0.5f, 2}, beta[3] = {0.25f, 1, -3};
        fm_affine_forward(&x, gamma, beta, none, &to, NULL);
        FM_CHECK_CLOSE(y, sc.data, n, 1e-6, 1e-6); /* OpenCV may round once less */
        fm_activation leaky = {FM_ACT_RELU, 0.1f};
        fm_act_forward(&x, leaky, &to, NULL);
        FM_CHECK_CLOSE(y, relu.data, n, 0, 0);
        fm_activation r6 = {FM_ACT_RELU6, 0};
        fm_act_forward(&x4, r6, &to, NULL);
        FM_CHECK_CLOSE(y, relu6.data, n, 0, 0);
        free(y);
    }
    free(x.data);
    free(bn.data);
    free(sc.data);
    free(relu.data);
    free(x4.data);
    free(relu6.data);
}

/* Split over a pool of 3 threads equals one thread, on a map big enough to split. */
static void test_affine_threads(void)
{
    uint64_t rng = 11;
    fm_shape s = fm_shape4(2, 7, 31, 29);
    size_t n = fm_shape_count(&s);
    float *x = malloc(n * sizeof(float)), *a = malloc(n * sizeof(float)),
          *b = malloc(n * sizeof(float));
    float sc[7], bi[7];
    for (size_t i = 0; i < n; i++)
        x[i] = fm_test_randf(&rng, -5, 5);
    for (int c = 0; c < 7; c++) {
        sc[c] = fm_test_randf(&rng, -2, 2);
        bi[c] = fm_test_randf(&rng, -1, 1);
    }
    fm_pool *pool = fm_pool_create(3, NULL);
    fm_tensor tx = {s, x}, ta = {s, a}, tb = {s, b};
    const fm_activation acts[3] = {{FM_ACT_NONE, 0}, {FM_ACT_RELU, 0.2f}, {FM_ACT_RELU6, 0}};
    for (int k = 0; k < 3; k++) {
        fm_affine_forward(&tx, sc, bi, acts[k], &ta, NULL);
        fm_affine_forward(&tx, sc, bi, acts[k], &tb, pool);
        FM_CHECK_CLOSE(b, a, n, 0, 0);
        /* ...and equals the plain formula. */
        size_t i = n / 3, c = (i / (31 * 29)) % 7;
        float v = x[i] * sc[c] + bi[c];
        if (acts[k].act == FM_ACT_RELU && v < 0)
            v *= 0.2f;
        if (acts[k].act == FM_ACT_RELU6)
            v = v < 0 ? 0 : (v > 6 ? 6 : v);
        FM_CHECK_NEAR(a[i], v, 0);
        fm_act_forward(&tx, acts[k], &ta, NULL);
        fm_act_forward(&tx, acts[k], &tb, pool);
        FM_CHECK_CLOSE(b, a, n, 0, 0);
    }
    fm_pool_free(pool);
    free(x);
    free(a);
    free(b);
}

static void test_affine_shape_errors(void)
{
    fm_err err = {0};
    fm_shape s = fm_shape4(1, 3, 2, 2), os;
    FM_CHECK_INT(fm_affine_shape(&s, 4, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "input 1x3x2x2 has 3 channels at axis 1, but the scale has 4");
    fm_shape v = fm_shape1(5);
    FM_CHECK_INT(fm_affine_shape(&v, 5, &os, &err), FM_OK);
    fm_shape e = fm_shape2(1, 0);
    FM_CHECK_INT(fm_affine_shape(&e, 0, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "empty or invalid");
}

extern void suite_ops_affine(void);
void suite_ops_affine(void)
{
    FM_RUN(test_affine_exact);
    FM_RUN(test_affine_golden_opencv);
    FM_RUN(test_affine_threads);
    FM_RUN(test_affine_shape_errors);
}
