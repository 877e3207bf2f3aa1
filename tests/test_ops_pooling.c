/* Pooling: hand-computed Caffe/OpenCV cases, OpenCV golden outputs, error
 * paths, and the optimised path against the reference on random maps. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static fm_pool_param pp(fm_pool_method m, int k, int s, int pad)
{
    fm_pool_param p;
    memset(&p, 0, sizeof p);
    p.method = m;
    p.kernel_h = p.kernel_w = k;
    p.stride_h = p.stride_w = s;
    p.pad_h = p.pad_w = pad;
    return p;
}

static void iota(float *x, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = (float)(i + 1);
}

static void test_pool_max_2x2(void)
{
    float x[16], y[4];
    iota(x, 16);
    fm_pool_param p = pp(FM_POOL_MAX, 2, 2, 0);
    fm_shape in = fm_shape4(1, 1, 4, 4), os;
    FM_CHECK_INT(fm_pool_shape(&p, &in, &os, NULL), FM_OK);
    FM_CHECK_INT(os.d[2], 2);
    FM_CHECK_INT(os.d[3], 2);
    fm_tensor ti = {in, x}, to = {os, y};
    fm_pool_forward(&p, &ti, &to, NULL);
    const float want[4] = {6, 8, 14, 16};
    FM_CHECK_CLOSE(y, want, 4, 0, 0);
}

/* 4x4, kernel 3, stride 2, pad 1: ceil((4 + 2 - 3) / 2) + 1 = 3; the last
 * window starts at 3 < 4 + 1 so it stays; it is clipped to input + pad. */
static void test_pool_pad_ceil(void)
{
    float x[16], y[9];
    iota(x, 16);
    fm_shape in = fm_shape4(1, 1, 4, 4), os;
    fm_pool_param p = pp(FM_POOL_MAX, 3, 2, 1);
    FM_CHECK_INT(fm_pool_shape(&p, &in, &os, NULL), FM_OK);
    FM_CHECK_INT(os.d[2], 3);
    FM_CHECK_INT(os.d[3], 3);
    fm_tensor ti = {in, x}, to = {os, y};
    fm_pool_forward(&p, &ti, &to, NULL);
    const float want_max[9] = {6, 8, 8, 14, 16, 16, 14, 16, 16};
    FM_CHECK_CLOSE(y, want_max, 9, 0, 0);

    p.method = FM_POOL_AVE;
    fm_pool_forward(&p, &ti, &to, NULL);
    /* Divisors: the window clipped to input + pad (padding counted):
     * corner 3x3 = 9, right column 3x2 = 6, bottom-right 2x2 = 4. */
    const float want_ave[9] = {14.0f / 9, 30.0f / 9, 12.0f / 6, (5 + 6 + 9 + 10 + 13 + 14) / 9.0f,
                               (6 + 7 + 8 + 10 + 11 + 12 + 14 + 15 + 16) / 9.0f, (8 + 12 + 16) / 6.0f,
                               (13 + 14) / 6.0f, (14 + 15 + 16) / 6.0f, 16.0f / 4};
    FM_CHECK_CLOSE(y, want_ave, 9, 0, 1e-6);
}

/* 5x5, kernel 2, stride 2, no pad: ceil(3 / 2) + 1 = 3, the last window
 * covers one column/row and the average divides by that clipped area. */
static void test_pool_ceil_edge_no_pad(void)
{
    float x[25], y[9];
    iota(x, 25);
    fm_shape in = fm_shape4(1, 1, 5, 5), os;
    fm_pool_param p = pp(FM_POOL_AVE, 2, 2, 0);
    FM_CHECK_INT(fm_pool_shape(&p, &in, &os, NULL), FM_OK);
    FM_CHECK_INT(os.d[2], 3);
    fm_tensor ti = {in, x}, to = {os, y};
    fm_pool_forward(&p, &ti, &to, NULL);
    FM_CHECK_NEAR(y[0], (1 + 2 + 6 + 7) / 4.0, 0);
    FM_CHECK_NEAR(y[2], (5 + 10) / 2.0, 0);
    FM_CHECK_NEAR(y[8], 25.0, 0);
}

/* Pad such that the ceil-mode window would start in the padding: dropped.
 * 3 wide, kernel 2, stride 2, pad 1: ceil(3/2)+1 = 3, (3-1)*2 = 4 >= 3+1. */
static void test_pool_last_window_dropped(void)
{
    fm_shape in = fm_shape4(1, 1, 3, 3), os;
    fm_pool_param p = pp(FM_POOL_MAX, 2, 2, 1);
    FM_CHECK_INT(fm_pool_shape(&p, &in, &os, NULL), FM_OK);
    FM_CHECK_INT(os.d[2], 2);
    FM_CHECK_INT(os.d[3], 2);
}

/* floor_mode (ONNX ceil_mode 0): floor((in + 2 * pad - kernel) / stride) + 1. */
static void test_pool_floor_mode(void)
{
    float x[25], y[9];
    iota(x, 25);
    /* 5x5, max 2x2 s2: floor(3 / 2) + 1 = 2 (ceil mode: 3); the last row and column unread */
    fm_shape in = fm_shape4(1, 1, 5, 5), os;
    fm_pool_param p = pp(FM_POOL_MAX, 2, 2, 0);
    p.floor_mode = 1;
    FM_CHECK_INT(fm_pool_shape(&p, &in, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){4, {1, 1, 2, 2}}));
    fm_tensor ti = {in, x}, to = {os, y};
    fm_pool_forward(&p, &ti, &to, NULL);
    const float want[4] = {7, 9, 17, 19};
    FM_CHECK_CLOSE(y, want, 4, 0, 0);
    setenv("FM_FORCE_REF", "1", 1);
    memset(y, 0, sizeof y);
    fm_pool_forward(&p, &ti, &to, NULL);
    unsetenv("FM_FORCE_REF");
    FM_CHECK_CLOSE(y, want, 4, 0, 0);

    /* 4x4, 3x3 s2 p1: floor(3 / 2) + 1 = 2 (ceil mode: 3); every window whole in the
     * padded input, so the average divides by 9 */
    iota(x, 16);
    in = fm_shape4(1, 1, 4, 4);
    p = pp(FM_POOL_MAX, 3, 2, 1);
    p.floor_mode = 1;
    FM_CHECK_INT(fm_pool_shape(&p, &in, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){4, {1, 1, 2, 2}}));
    to.shape = os;
    ti.shape = in;
    fm_pool_forward(&p, &ti, &to, NULL);
    const float want_max[4] = {6, 8, 14, 16};
    FM_CHECK_CLOSE(y, want_max, 4, 0, 0);
    p.method = FM_POOL_AVE;
    fm_pool_forward(&p, &ti, &to, NULL);
    const float want_ave[4] = {14.0f / 9, (2 + 3 + 4 + 6 + 7 + 8) / 9.0f,
                               (5 + 6 + 9 + 10 + 13 + 14) / 9.0f,
                               (6 + 7 + 8 + 10 + 11 + 12 + 14 + 15 + 16) / 9.0f};
    FM_CHECK_CLOSE(y, want_ave, 4, 0, 1e-6);

    /* the kernel still has to fit: 1 wide, kernel 2, no pad is an error in both modes */
    fm_err err = {0};
    in = fm_shape4(1, 1, 4, 1);
    p = pp(FM_POOL_MAX, 2, 2, 0);
    p.floor_mode = 1;
    FM_CHECK_INT(fm_pool_shape(&p, &in, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "larger than the padded input");
    /* global pooling ignores the rounding */
    p.global = 1;
    FM_CHECK_INT(fm_pool_shape(&p, &in, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){4, {1, 1, 1, 1}}));
}

static void test_pool_global(void)
{
    float x[2 * 6], y[2];
    iota(x, 12);
    fm_pool_param p = pp(FM_POOL_AVE, 0, 0, 0);
    p.global = 1;
    fm_shape in = fm_shape4(1, 2, 2, 3), os;
    FM_CHECK_INT(fm_pool_shape(&p, &in, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){4, {1, 2, 1, 1}}));
    fm_tensor ti = {in, x}, to = {os, y};
    fm_pool_forward(&p, &ti, &to, NULL);
    FM_CHECK_NEAR(y[0], 3.5, 1e-6);
    FM_CHECK_NEAR(y[1], 9.5, 1e-6);
}

static void test_pool_errors(void)
{
    fm_err err = {0};
    fm_shape in = fm_shape4(1, 2, 3, 3), os;
    fm_pool_param p = pp(FM_POOL_MAX, 5, 1, 0);
    FM_CHECK_INT(fm_pool_shape(&p, &in, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "kernel 5x5 is larger than the padded input 3x3");
    p = pp(FM_POOL_MAX, 2, 1, 2);
    FM_CHECK_INT(fm_pool_shape(&p, &in, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "smaller than the kernel");
    p = pp(FM_POOL_MAX, 2, 0, 0);
    FM_CHECK_INT(fm_pool_shape(&p, &in, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "stride 0x0 must be positive");
    /* 32 wide, kernel 2, stride 4, no pad, ceil mode: ceil(30 / 4) + 1 = 9 windows, the last
     * starting at 32, past the input: an empty window (found by fuzz_caffe_net, AVE divided
     * by a zero area) */
    fm_shape in32 = fm_shape4(1, 1, 32, 32);
    p = pp(FM_POOL_AVE, 2, 4, 0);
    FM_CHECK_INT(fm_pool_shape(&p, &in32, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "leaves the last window of the 32x32 input empty");
    p.floor_mode = 1; /* floor mode: 8 windows, each inside */
    FM_CHECK_INT(fm_pool_shape(&p, &in32, &os, &err), FM_OK);
    FM_CHECK_INT(os.d[3], 8);
    fm_shape in3 = fm_shape3(2, 3, 3);
    p = pp(FM_POOL_MAX, 2, 1, 0);
    FM_CHECK_INT(fm_pool_shape(&p, &in3, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "input 2x3x3 must be a non-empty NCHW");
}

static void golden_case(const char *name, fm_pool_param p)
{
    char kx[64], ky[64];
    snprintf(kx, sizeof kx, "%s_x", name);
    snprintf(ky, sizeof ky, "%s_y", name);
    fm_tensor x, want;
    if (!fm_fixture_load("pooling.txt", kx, &x) || !fm_fixture_load("pooling.txt", ky, &want)) {
        free(x.data);
        return;
    }
    fm_shape os;
    FM_CHECK_INT(fm_pool_shape(&p, &x.shape, &os, NULL), FM_OK);
    FM_CHECK_MSG(fm_shape_eq(&os, &want.shape), "%s: output shape differs from OpenCV's", name);
    if (fm_shape_eq(&os, &want.shape)) {
        float *y = malloc(fm_shape_count(&os) * sizeof(float));
        fm_tensor to = {os, y};
        fm_pool_forward(&p, &x, &to, NULL);
        /* OpenCV's arithmetic is followed exactly; allow one ulp-ish. */
        FM_CHECK_CLOSE(y, want.data, fm_shape_count(&os), 1e-6, 1e-6);
        free(y);
    }
    free(x.data);
    free(want.data);
}

static void test_pool_golden_opencv(void)
{
    golden_case("max_k3s2p0", pp(FM_POOL_MAX, 3, 2, 0));
    golden_case("max_k3s2p1", pp(FM_POOL_MAX, 3, 2, 1));
    golden_case("ave_k3s2p1", pp(FM_POOL_AVE, 3, 2, 1));
    golden_case("ave_k2s2p0", pp(FM_POOL_AVE, 2, 2, 0));
    fm_pool_param g = pp(FM_POOL_AVE, 0, 0, 0);
    g.global = 1;
    golden_case("ave_global", g);
}

/* The optimised path (interior columns, threads) against the reference, both rounding modes. */
static void test_pool_fast_vs_ref(void)
{
    uint64_t rng = 7;
    fm_pool *pool = fm_pool_create(3, NULL);
    const int cfg[][4] = {{FM_POOL_MAX, 3, 2, 0}, {FM_POOL_MAX, 3, 2, 1}, {FM_POOL_AVE, 3, 2, 1},
                          {FM_POOL_MAX, 2, 2, 0}, {FM_POOL_AVE, 3, 1, 1}, {FM_POOL_MAX, 5, 3, 2}};
    fm_shape in = fm_shape4(2, 5, 37, 41);
    size_t n = fm_shape_count(&in);
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = fm_test_randf(&rng, -3, 3);
    for (size_t u = 0; u < 2 * sizeof cfg / sizeof cfg[0]; u++) {
        const int *cf = cfg[u / 2];
        fm_pool_param p = pp((fm_pool_method)cf[0], cf[1], cf[2], cf[3]);
        p.floor_mode = (int)(u % 2);
        fm_shape os;
        FM_CHECK_INT(fm_pool_shape(&p, &in, &os, NULL), FM_OK);
        size_t m = fm_shape_count(&os);
        float *a = malloc(m * sizeof(float)), *b = malloc(m * sizeof(float));
        fm_tensor ti = {in, x}, ta = {os, a}, tb = {os, b};
        setenv("FM_FORCE_REF", "1", 1);
        fm_pool_forward(&p, &ti, &ta, NULL);
        unsetenv("FM_FORCE_REF");
        fm_pool_forward(&p, &ti, &tb, pool);
        /* Same arithmetic in the same order: exact. */
        FM_CHECK_CLOSE(b, a, m, 0, 0);
        free(a);
        free(b);
    }
    free(x);
    fm_pool_free(pool);
}

/* Max 2x2 stride 2 (YuNet's pooling) has its own fast path (AVX2 and scalar):
 * against the reference on odd and even sizes, both rounding modes, each ISA
 * level this CPU has, 1 and 3 threads. Exact: same comparisons. */
static void test_pool_max2_fast_vs_ref(void)
{
    uint64_t rng = 11;
    fm_pool *pool = fm_pool_create(3, NULL);
    const int hw[][2] = {{2, 2}, {3, 17}, {8, 16}, {37, 41}, {30, 64}, {17, 33}, {120, 160}, {5, 2}};
    const char *isas[] = {"scalar", "avx2", "avx512"};
    for (size_t s = 0; s < sizeof hw / sizeof hw[0]; s++) {
        fm_shape in = fm_shape4(1, 3, hw[s][0], hw[s][1]);
        size_t n = fm_shape_count(&in);
        float *x = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++)
            x[i] = fm_test_randf(&rng, -3, 3);
        for (int fl = 0; fl < 2; fl++) {
            fm_pool_param p = pp(FM_POOL_MAX, 2, 2, 0);
            p.floor_mode = fl;
            fm_shape os;
            FM_CHECK_INT(fm_pool_shape(&p, &in, &os, NULL), FM_OK);
            FM_CHECK_INT(os.d[2], fl ? hw[s][0] / 2 : (hw[s][0] + 1) / 2);
            FM_CHECK_INT(os.d[3], fl ? hw[s][1] / 2 : (hw[s][1] + 1) / 2);
            size_t m = fm_shape_count(&os);
            float *a = malloc(m * sizeof(float)), *b = malloc(m * sizeof(float));
            fm_tensor ti = {in, x}, ta = {os, a}, tb = {os, b};
            setenv("FM_FORCE_REF", "1", 1);
            fm_pool_forward(&p, &ti, &ta, NULL);
            unsetenv("FM_FORCE_REF");
            for (int isa = 0; isa < 3; isa++)
                for (int t = 0; t < 2; t++) {
                    setenv("FM_ISA", isas[isa], 1);
                    memset(b, 0, m * sizeof(float));
                    fm_pool_forward(&p, &ti, &tb, t ? pool : NULL);
                    FM_CHECK_MSG(fm_check_close_at(__FILE__, __LINE__, "max2", b, a, m, 0, 0),
                                 "%dx%d floor_mode %d isa %s threads %d", hw[s][0], hw[s][1], fl,
                                 isas[isa], t ? 3 : 1);
                }
            unsetenv("FM_ISA");
            free(a);
            free(b);
        }
        free(x);
    }
    fm_pool_free(pool);
}

extern void suite_ops_pooling(void);
void suite_ops_pooling(void)
{
    FM_RUN(test_pool_max_2x2);
    FM_RUN(test_pool_pad_ceil);
    FM_RUN(test_pool_ceil_edge_no_pad);
    FM_RUN(test_pool_last_window_dropped);
    FM_RUN(test_pool_floor_mode);
    FM_RUN(test_pool_global);
    FM_RUN(test_pool_errors);
    FM_RUN(test_pool_golden_opencv);
    FM_RUN(test_pool_fast_vs_ref);
    FM_RUN(test_pool_max2_fast_vs_ref);
}
