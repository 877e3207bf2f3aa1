/* ReLU / leaky ReLU / ReLU6 / Sigmoid: exact values, in place; the sigmoid's
 * SIMD paths (each ISA level, threads) within 1e-6 relative of 1 / (1 + expf(-x)),
 * and sigmoid fused into affine, eltwise and inner product. (The OpenCV golden
 * outputs of ReLU and the threaded path are checked in test_ops_affine.c; the
 * sigmoid's in test_ops_onnx_golden.c; fused into convolution in test_conv.c.) */
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static const char *const k_isas[] = {"scalar", "avx2", "avx512"};

static float sigmoid_def(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

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

/* Exact points at every ISA level (the SIMD paths see them in a full vector
 * and in the scalar tail): 0.5 at 0, saturation without NaN or inf. */
static void test_sigmoid_exact(void)
{
    enum { N = 40 };
    const float pts[10] = {0.0f, -0.0f, 100.0f, -100.0f, 1e30f, -1e30f, 88.0f, -88.0f, 20.0f, -20.0f};
    float x[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = pts[i % 10];
    fm_shape s = fm_shape1(N);
    fm_tensor tx = {s, x}, ty = {s, y};
    fm_activation sig = {FM_ACT_SIGMOID, 0};
    for (int isa = 0; isa < 3; isa++) {
        setenv("FM_ISA", k_isas[isa], 1);
        memset(y, 0xff, sizeof y); /* NaN */
        fm_act_forward(&tx, sig, &ty, NULL);
        for (int i = 0; i < N; i++) {
            FM_CHECK_MSG(isfinite(y[i]) && y[i] >= 0.0f && y[i] <= 1.0f,
                         "%s: sigmoid(%g) = %g", k_isas[isa], (double)x[i], (double)y[i]);
            const float v = x[i];
            if (v == 0.0f)
                FM_CHECK_MSG(y[i] == 0.5f, "%s: sigmoid(0) = %.9g", k_isas[isa], (double)y[i]);
            else if (v >= 20.0f)
                FM_CHECK_MSG(y[i] == 1.0f, "%s: sigmoid(%g) = %.9g", k_isas[isa], (double)v,
                             (double)y[i]);
            else if (v <= -100.0f)
                FM_CHECK_MSG(y[i] == 0.0f, "%s: sigmoid(%g) = %.9g", k_isas[isa], (double)v,
                             (double)y[i]);
            else /* -20, -88: tiny but exact enough */
                FM_CHECK_CLOSE(&y[i], &(float){sigmoid_def(v)}, 1, 1e-37, 1e-6);
        }
    }
    unsetenv("FM_ISA");
    FM_CHECK_NEAR(sigmoid_def(1.0f), 0.7310585786, 1e-7);
}

/* Random inputs over the whole useful range (and past the exp limits), every
 * level, 1 and 3 threads, out of place and in place: within 1e-6 relative of
 * the definition (plus 2e-38 absolute where the definition is denormal). */
static void test_sigmoid_vs_definition(void)
{
    const size_t n = 20013; /* 7 x 2859: above the threading threshold, odd tail */
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    float *want = malloc(n * sizeof(float)), *io = malloc(n * sizeof(float));
    uint64_t rng = 99;
    for (size_t i = 0; i < n; i++) {
        float lim = i % 3 == 0 ? 95.0f : (i % 3 == 1 ? 12.0f : 1.0f);
        x[i] = fm_test_randf(&rng, -lim, lim);
        want[i] = sigmoid_def(x[i]);
    }
    fm_pool *pool = fm_pool_create(3, NULL);
    fm_shape s = fm_shape2(7, (int)(n / 7));
    FM_CHECK_INT(fm_shape_count(&s), n);
    fm_tensor tx = {s, x}, ty = {s, y}, tio = {s, io};
    fm_activation sig = {FM_ACT_SIGMOID, 0};
    for (int isa = 0; isa < 3; isa++)
        for (int t = 0; t < 2; t++) {
            setenv("FM_ISA", k_isas[isa], 1);
            fm_act_forward(&tx, sig, &ty, t ? pool : NULL);
            FM_CHECK_MSG(FM_CHECK_CLOSE(y, want, n, 2e-38, 1e-6), "isa %s, %d threads", k_isas[isa],
                         t ? 3 : 1);
            memcpy(io, x, n * sizeof(float));
            fm_act_forward(&tio, sig, &tio, t ? pool : NULL);
            FM_CHECK_CLOSE(io, y, n, 0, 0);
        }
    unsetenv("FM_ISA");
    fm_pool_free(pool);
    free(x);
    free(y);
    free(want);
    free(io);
}

/* Sigmoid fused into the operators that take an activation. */
static void test_sigmoid_fused(void)
{
    float x[6] = {-3, -0.5f, 0, 0.5f, 5, 7}, x2[6] = {1, 1, 1, -1, -1, -1}, y[6], want[6];
    fm_activation sig = {FM_ACT_SIGMOID, 0};
    /* affine: y = sigmoid(2x + 1) over (1, 2, 3) with per-channel scale */
    fm_shape s = fm_shape3(1, 2, 3);
    fm_tensor tx = {s, x}, tx2 = {s, x2}, ty = {s, y};
    const float scale[2] = {2, -1}, bias[2] = {1, 0};
    fm_affine_forward(&tx, scale, bias, sig, &ty, NULL);
    for (int i = 0; i < 6; i++)
        want[i] = sigmoid_def(x[i] * scale[i / 3] + bias[i / 3]);
    FM_CHECK_CLOSE(y, want, 6, 0, 1e-6);
    /* eltwise sum */
    fm_eltwise_param ep = {FM_ELTWISE_SUM, 0, NULL, sig};
    const fm_tensor *ins[2] = {&tx, &tx2};
    fm_eltwise_forward(&ep, ins, 2, &ty, NULL);
    for (int i = 0; i < 6; i++)
        want[i] = sigmoid_def(x[i] + x2[i]);
    FM_CHECK_CLOSE(y, want, 6, 0, 1e-6);
    /* inner product: 2 outputs of 3 features */
    fm_ip_param ip = {2, 1, sig};
    fm_shape is = fm_shape2(1, 3), os;
    FM_CHECK_INT(fm_ip_shape(&ip, &is, &os, NULL), FM_OK);
    fm_tensor ti = {is, x}, to = {os, y};
    const float w[6] = {1, 2, 3, -1, 0, 1}, b[2] = {0.5f, -0.25f};
    fm_ip_forward(&ip, &ti, w, b, &to, NULL);
    want[0] = sigmoid_def(-3 - 1 + 0 + 0.5f);
    want[1] = sigmoid_def(3 + 0 + 0 - 0.25f);
    FM_CHECK_CLOSE(y, want, 2, 0, 1e-6);
}

extern void suite_ops_relu(void);
void suite_ops_relu(void)
{
    FM_RUN(test_relu_exact);
    FM_RUN(test_sigmoid_exact);
    FM_RUN(test_sigmoid_vs_definition);
    FM_RUN(test_sigmoid_fused);
}
