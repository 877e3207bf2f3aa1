/* Golden outputs from OpenCV 4.6 for YuNet's ONNX-semantics operators
 * (tests/fixtures/ops/onnx_ops.txt, written by tools/gen_onnx_ops_fixtures.py
 * from one-node ONNX models): MaxPool 2x2 stride 2 ceil_mode 0 on odd sizes,
 * Resize nearest/asymmetric/floor x2, Sigmoid, Transpose (0, 2, 3, 1). Each
 * through the fast path and the reference (FM_FORCE_REF). */
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

#define FIXTURE "onnx_ops.txt"

/* Loads NAME_x and NAME_y; returns 0 (with the test failed) if either is missing. */
static int load_pair(const char *name, fm_tensor *x, fm_tensor *want)
{
    char kx[64], ky[64];
    snprintf(kx, sizeof kx, "%s_x", name);
    snprintf(ky, sizeof ky, "%s_y", name);
    int ok = fm_fixture_load(FIXTURE, kx, x);
    ok = fm_fixture_load(FIXTURE, ky, want) && ok;
    return ok;
}

static void set_ref(int on)
{
    if (on)
        setenv("FM_FORCE_REF", "1", 1);
    else
        unsetenv("FM_FORCE_REF");
}

static void test_onnx_maxpool_floor(void)
{
    fm_tensor x, want;
    if (load_pair("maxpool", &x, &want)) {
        fm_pool_param p;
        memset(&p, 0, sizeof p);
        p.method = FM_POOL_MAX;
        p.kernel_h = p.kernel_w = 2;
        p.stride_h = p.stride_w = 2;
        p.floor_mode = 1;
        fm_shape os;
        FM_CHECK_INT(fm_pool_shape(&p, &x.shape, &os, NULL), FM_OK);
        FM_CHECK(fm_shape_eq(&os, &want.shape));
        size_t n = fm_shape_count(&want.shape);
        float *y = malloc(n * sizeof(float));
        fm_tensor ty = {want.shape, y};
        for (int ref = 0; ref < 2; ref++) {
            set_ref(ref);
            fm_pool_forward(&p, &x, &ty, NULL);
            FM_CHECK_MSG(FM_CHECK_CLOSE(y, want.data, n, 0, 0), "reference %d", ref);
        }
        set_ref(0);
        free(y);
    }
    free(x.data);
    free(want.data);
}

static void test_onnx_resize_x2(void)
{
    fm_tensor x, want;
    if (load_pair("resize", &x, &want)) {
        fm_resize_param p = {2, 2};
        fm_shape os;
        FM_CHECK_INT(fm_resize_shape(&p, &x.shape, &os, NULL), FM_OK);
        FM_CHECK(fm_shape_eq(&os, &want.shape));
        size_t n = fm_shape_count(&want.shape);
        float *y = malloc(n * sizeof(float));
        fm_tensor ty = {want.shape, y};
        fm_resize_forward(&p, &x, &ty, NULL);
        FM_CHECK_CLOSE(y, want.data, n, 0, 0);
        memset(y, 0, n * sizeof(float));
        fm_resize_forward_ref(&p, &x, &ty);
        FM_CHECK_CLOSE(y, want.data, n, 0, 0);
        free(y);
    }
    free(x.data);
    free(want.data);
}

/* OpenCV's sigmoid and ours use different exp code: 1e-6 relative (and a denormal's worth
 * absolute at the far negative end). */
static void test_onnx_sigmoid(void)
{
    fm_tensor x, want;
    if (load_pair("sigmoid", &x, &want)) {
        size_t n = fm_shape_count(&x.shape);
        float *y = malloc(n * sizeof(float));
        fm_tensor ty = {x.shape, y};
        const char *isas[] = {"scalar", "avx2", "avx512"};
        for (int isa = 0; isa < 3; isa++) {
            setenv("FM_ISA", isas[isa], 1);
            fm_act_forward(&x, (fm_activation){FM_ACT_SIGMOID, 0}, &ty, NULL);
            FM_CHECK_MSG(FM_CHECK_CLOSE(y, want.data, n, 2e-38, 1e-6), "isa %s", isas[isa]);
        }
        unsetenv("FM_ISA");
        free(y);
    }
    free(x.data);
    free(want.data);
}

static void test_onnx_transpose(void)
{
    fm_tensor x, want;
    if (load_pair("transpose", &x, &want)) {
        const int order[4] = {0, 2, 3, 1};
        fm_shape os;
        FM_CHECK_INT(fm_permute_shape(&x.shape, order, 4, &os, NULL), FM_OK);
        FM_CHECK(fm_shape_eq(&os, &want.shape));
        size_t n = fm_shape_count(&want.shape);
        float *y = malloc(n * sizeof(float));
        fm_tensor ty = {want.shape, y};
        fm_permute_forward(&x, order, 4, &ty);
        FM_CHECK_CLOSE(y, want.data, n, 0, 0);
        fm_permute_forward_ref(&x, order, 4, &ty);
        FM_CHECK_CLOSE(y, want.data, n, 0, 0);
        free(y);
    }
    free(x.data);
    free(want.data);
}

extern void suite_ops_onnx_golden(void);
void suite_ops_onnx_golden(void)
{
    FM_RUN(test_onnx_maxpool_floor);
    FM_RUN(test_onnx_resize_x2);
    FM_RUN(test_onnx_sigmoid);
    FM_RUN(test_onnx_transpose);
}
