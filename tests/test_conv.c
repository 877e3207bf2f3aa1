/* test_conv.c - convolution: hand-computed cases, shape errors, and the
 * optimised path (every instruction-set level this CPU has, 1-3 threads)
 * against the reference on random inputs.
 *
 * Tolerance for fast vs reference: |fast - ref| <= 1e-5 * mag + 1e-6 per
 * output value, where mag = sum |w| |x| + |bias| over that value's taps (the
 * reference accumulates in double, the fast path in float).
 */
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "nn/ops/gemm.h"
#include "nn/ops/ops.h"
#include "nn/ops/simd.h"
#include "test.h"

#define FM_CONV_TOL 1e-5

static fm_conv_param conv_param(int num_output, int k, int stride, int pad)
{
    fm_conv_param p;
    memset(&p, 0, sizeof p);
    p.num_output = num_output;
    p.group = 1;
    p.kernel_h = p.kernel_w = k;
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = pad;
    p.dilation_h = p.dilation_w = 1;
    p.bias_term = 0;
    return p;
}

/* Runs the fast path at level isa with a pool of nthreads; returns 0 if the plan failed. */
static int run_fast(const fm_conv_param *p, const fm_shape *in_shape, const float *in,
                    const float *w, const float *b, fm_isa isa, unsigned opts, int nthreads,
                    int max_threads, float *out)
{
    fm_err err = {0};
    fm_conv_plan *plan = fm_conv_plan_create_isa(p, in_shape, w, b, max_threads, isa, opts, &err);
    FM_CHECK_MSG(plan != NULL, "plan (%s): %s", fm_isa_name(isa), err.msg);
    if (!plan)
        return 0;
    FM_CHECK_INT(fm_conv_plan_isa(plan), isa);
    size_t bytes = fm_conv_plan_scratch(plan);
    void *scratch = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    fm_pool *pool = nthreads > 1 ? fm_pool_create(nthreads, &err) : NULL;
    FM_CHECK(nthreads == 1 || pool != NULL);
    fm_conv_run(plan, in, out, scratch, pool);
    fm_pool_free(pool);
    free(scratch);
    fm_conv_plan_free(plan);
    return 1;
}

/* Reference and every level's fast path on a small case, each against the expected values. */
static void check_exact(const fm_conv_param *p, const fm_shape *in_shape, const float *in,
                        const float *w, const float *b, const float *expect, int nexpect)
{
    fm_err err = {0};
    fm_shape os;
    FM_CHECK_MSG(fm_conv_shape(p, in_shape, &os, &err) == FM_OK, "%s", err.msg);
    FM_CHECK_INT(fm_shape_count(&os), nexpect);
    if ((int)fm_shape_count(&os) != nexpect)
        return;
    float out[64];
    fm_tensor ti = {*in_shape, (float *)in}, to = {os, out};
    fm_conv_forward_ref(p, &ti, w, b, &to);
    for (int i = 0; i < nexpect; i++)
        FM_CHECK_NEAR(out[i], expect[i], 1e-5);
    for (int isa = 0; isa < FM_ISA_COUNT; isa++) {
        if (!fm_isa_supported((fm_isa)isa))
            continue;
        for (unsigned opts = 0; opts <= FM_CONV_PACKED; opts++) {
            memset(out, 0, sizeof out);
            if (!run_fast(p, in_shape, in, w, b, (fm_isa)isa, opts, 1, 1, out))
                continue;
            for (int i = 0; i < nexpect; i++)
                FM_CHECK_MSG(fabsf(out[i] - expect[i]) <= 1e-5f, "%s%s: out[%d] = %g, expected %g",
                             fm_isa_name((fm_isa)isa), opts ? " packed" : "", i, out[i], expect[i]);
        }
    }
}

static void test_conv_exact_1x1(void)
{
    /* 2 channels of 2x2 -> 3 outputs: y_m = sum_c w[m][c] x_c + b_m */
    fm_conv_param p = conv_param(3, 1, 1, 0);
    p.bias_term = 1;
    fm_shape s = fm_shape4(1, 2, 2, 2);
    const float x[8] = {1, 2, 3, 4, 10, 20, 30, 40};
    const float w[6] = {1, 0, 0, 1, 2, -1};
    const float b[3] = {0.5f, 0, -1};
    const float e[12] = {1.5f, 2.5f, 3.5f, 4.5f, 10, 20, 30, 40, -9, -17, -25, -33};
    check_exact(&p, &s, x, w, b, e, 12);
    /* bias_term off: the bias pointer is ignored */
    p.bias_term = 0;
    const float e0[12] = {1, 2, 3, 4, 10, 20, 30, 40, -8, -16, -24, -32};
    check_exact(&p, &s, x, w, b, e0, 12);
}

static const float k_x9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const float k_ones9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};

static void test_conv_exact_3x3_pad(void)
{
    fm_conv_param p = conv_param(1, 3, 1, 1);
    fm_shape s = fm_shape4(1, 1, 3, 3);
    /* neighbourhood sums of 1..9 */
    const float e[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28};
    check_exact(&p, &s, k_x9, k_ones9, NULL, e, 9);
}

static void test_conv_exact_stride2(void)
{
    fm_conv_param p = conv_param(1, 3, 2, 1);
    fm_shape s = fm_shape4(1, 1, 3, 3);
    /* (3 + 2 - 3) / 2 + 1 = 2: the corner neighbourhoods */
    const float e[4] = {12, 16, 24, 28};
    check_exact(&p, &s, k_x9, k_ones9, NULL, e, 4);
}

static void test_conv_exact_dilation2(void)
{
    float x[25];
    for (int i = 0; i < 25; i++)
        x[i] = (float)i;
    fm_shape s = fm_shape4(1, 1, 5, 5);
    fm_conv_param p = conv_param(1, 3, 1, 0);
    p.dilation_h = p.dilation_w = 2;
    /* extent 5: one output, taps at rows/cols 0, 2, 4: 6 + 36 + 66 */
    const float e1[1] = {108};
    check_exact(&p, &s, x, k_ones9, NULL, e1, 1);
    /* pad 2: 5x5 output; corner taps inside are (0,0),(0,2),(2,0),(2,2) = 24,
     * centre all nine = 108, (0,2): rows 0,2 x cols 0,2,4 = 6 + 36 = 42 */
    p.pad_h = p.pad_w = 2;
    float e5[25];
    fm_tensor ti = {s, x}, to = {fm_shape4(1, 1, 5, 5), e5};
    fm_conv_forward_ref(&p, &ti, k_ones9, NULL, &to);
    FM_CHECK_NEAR(e5[0], 24, 0);
    FM_CHECK_NEAR(e5[12], 108, 0);
    FM_CHECK_NEAR(e5[2], 42, 0);
    check_exact(&p, &s, x, k_ones9, NULL, e5, 25);
}

static void test_conv_exact_groups(void)
{
    /* 4 channels of 1x1, group 2: out0 = 1*1 + 10*2, out1 = 100*3 + 1000*4 */
    fm_conv_param p = conv_param(2, 1, 1, 0);
    p.group = 2;
    fm_shape s = fm_shape4(1, 4, 1, 1);
    const float x[4] = {1, 2, 3, 4};
    const float w[4] = {1, 10, 100, 1000};
    const float e[2] = {21, 4300};
    check_exact(&p, &s, x, w, NULL, e, 2);
}

static void test_conv_exact_depthwise(void)
{
    /* 2 channels, group 2, 3x3 pad 1: ones on 1..9, and 2 * centre tap */
    fm_conv_param p = conv_param(2, 3, 1, 1);
    p.group = 2;
    p.bias_term = 1;
    fm_shape s = fm_shape4(1, 2, 3, 3);
    float x[18], w[18] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0};
    for (int i = 0; i < 9; i++)
        x[i] = x[9 + i] = k_x9[i];
    const float b[2] = {1, -1};
    float e[18];
    const float sums[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28};
    for (int i = 0; i < 9; i++) {
        e[i] = sums[i] + 1;
        e[9 + i] = 2 * k_x9[i] - 1;
    }
    check_exact(&p, &s, x, w, b, e, 18);
    /* stride 2 */
    p.stride_h = p.stride_w = 2;
    const float e2[8] = {13, 17, 25, 29, 1, 5, 13, 17};
    check_exact(&p, &s, x, w, b, e2, 8);
}

static void test_conv_exact_activations(void)
{
    fm_conv_param p = conv_param(1, 1, 1, 0);
    fm_shape s = fm_shape4(1, 1, 1, 4);
    const float x[4] = {-2, -0.5f, 3, 8}, w[1] = {1};
    p.act.act = FM_ACT_RELU;
    const float relu[4] = {0, 0, 3, 8};
    check_exact(&p, &s, x, w, NULL, relu, 4);
    p.act.slope = 0.1f;
    const float leaky[4] = {-0.2f, -0.05f, 3, 8};
    check_exact(&p, &s, x, w, NULL, leaky, 4);
    p.act.act = FM_ACT_RELU6;
    p.act.slope = 0;
    const float relu6[4] = {0, 0, 3, 6};
    check_exact(&p, &s, x, w, NULL, relu6, 4);
    /* after the bias: x + 4 */
    p.bias_term = 1;
    const float b[1] = {4};
    const float relu6b[4] = {2, 3.5f, 6, 6};
    check_exact(&p, &s, x, w, b, relu6b, 4);
    /* the same through the depthwise path */
    fm_conv_param d = conv_param(2, 1, 1, 0);
    d.group = 2;
    d.act.act = FM_ACT_RELU;
    d.act.slope = 0.5f;
    fm_shape s2 = fm_shape4(1, 2, 1, 2);
    const float w2[2] = {1, -1};
    const float e2[4] = {-1, -0.25f, -1.5f, -4};
    check_exact(&d, &s2, x, w2, NULL, e2, 4);
}

static void test_conv_shape_errors(void)
{
    fm_err err = {0};
    fm_shape out;
    fm_conv_param p = conv_param(8, 3, 1, 1);
    fm_shape s = fm_shape4(1, 6, 10, 12);
    FM_CHECK_INT(fm_conv_shape(&p, &s, &out, &err), FM_OK);
    FM_CHECK(fm_shape_eq(&out, &(fm_shape){4, {1, 8, 10, 12}}));
    /* Caffe's formula: (300 + 6 - 7) / 2 + 1 = 150 */
    fm_conv_param c1 = conv_param(32, 7, 2, 3);
    fm_shape s300 = fm_shape4(1, 3, 300, 300);
    FM_CHECK_INT(fm_conv_shape(&c1, &s300, &out, &err), FM_OK);
    FM_CHECK_INT(out.d[2], 150);
    FM_CHECK_INT(out.d[3], 150);
    fm_shape w = fm_conv_weight_shape(&c1, 3);
    FM_CHECK(fm_shape_eq(&w, &(fm_shape){4, {32, 3, 7, 7}}));
    p.group = 4;
    FM_CHECK_INT(fm_conv_shape(&p, &s, &out, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "input channels 6 not divisible by group 4");
    p.group = 3;
    FM_CHECK_INT(fm_conv_shape(&p, &s, &out, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "num_output 8 not divisible by group 3");
    p = conv_param(8, 5, 1, 0);
    fm_shape small = fm_shape4(1, 6, 4, 12);
    FM_CHECK_INT(fm_conv_shape(&p, &small, &out, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "height: kernel extent 5 (kernel 5, dilation 1) is larger than the padded input 4");
    p = conv_param(8, 3, 1, 0);
    p.dilation_w = 3;
    fm_shape narrow = fm_shape4(1, 6, 4, 6);
    FM_CHECK_INT(fm_conv_shape(&p, &narrow, &out, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg,
                          "width: kernel extent 7 (kernel 3, dilation 3) is larger than the padded input 6");
    p.pad_w = 1; /* 6 + 2 = 8 >= 7: (8 - 7) / 1 + 1 = 2 */
    FM_CHECK_INT(fm_conv_shape(&p, &narrow, &out, &err), FM_OK);
    FM_CHECK_INT(out.d[3], 2);
    p = conv_param(0, 3, 1, 1);
    FM_CHECK_INT(fm_conv_shape(&p, &s, &out, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "num_output 0");
    p = conv_param(8, 3, 0, 1);
    FM_CHECK_INT(fm_conv_shape(&p, &s, &out, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "stride 0x0");
    p = conv_param(8, 3, 1, -1);
    FM_CHECK_INT(fm_conv_shape(&p, &s, &out, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "pad -1x-1");
    p = conv_param(8, 3, 1, 1);
    fm_shape s3 = fm_shape3(6, 10, 12);
    FM_CHECK_INT(fm_conv_shape(&p, &s3, &out, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "input has 3 axes");
    /* plan creation reports the same errors, and a level the CPU lacks */
    float wt[8 * 6 * 9] = {0};
    p.group = 4;
    FM_CHECK(fm_conv_plan_create(&p, &s, wt, NULL, 1, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "not divisible by group 4");
    p.group = 1;
    FM_CHECK(fm_conv_plan_create(&p, &s, wt, NULL, 0, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "max_threads 0");
    p.bias_term = 1;
    FM_CHECK(fm_conv_plan_create(&p, &s, wt, NULL, 1, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "bias_term set but no bias");
}

static void test_conv_isa_env(void)
{
    FM_CHECK(fm_isa_supported(fm_isa_detect()));
    fm_isa best = FM_ISA_SCALAR; /* what the CPU has, whatever the environment says */
    for (int i = 0; i < FM_ISA_COUNT; i++)
        if (fm_isa_supported((fm_isa)i))
            best = (fm_isa)i;
    const char *old = getenv("FM_NO_SIMD");
    char *saved = old ? strdup(old) : NULL;
    setenv("FM_NO_SIMD", "1", 1);
    FM_CHECK_INT(fm_isa_detect(), FM_ISA_SCALAR);
    unsetenv("FM_NO_SIMD");
    if (!getenv("FM_ISA"))
        FM_CHECK_INT(fm_isa_detect(), best);
    if (fm_isa_supported(FM_ISA_AVX2) && !getenv("FM_ISA")) {
        setenv("FM_ISA", "avx2", 1);
        FM_CHECK_INT(fm_isa_detect(), FM_ISA_AVX2);
        unsetenv("FM_ISA");
    }
    if (saved) {
        setenv("FM_NO_SIMD", saved, 1);
        free(saved);
    }
}

/* ---- random cases: fast vs reference ------------------------------------------ */

typedef struct {
    const char *what;
    int n, c, h, w;
    int m, k, stride, pad, dil, group, bias;
    fm_act act;
} rcase;

static void fill(uint64_t *st, float *v, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = fm_test_randf(st, lo, hi);
}

static void check_random(const rcase *rc, uint64_t seed)
{
    fm_conv_param p = conv_param(rc->m, rc->k, rc->stride, rc->pad);
    p.dilation_h = p.dilation_w = rc->dil;
    p.group = rc->group;
    p.bias_term = rc->bias;
    p.act.act = rc->act;
    p.act.slope = rc->act == FM_ACT_RELU && (seed & 1) ? 0.1f : 0.0f;
    fm_shape is = fm_shape4(rc->n, rc->c, rc->h, rc->w), os;
    fm_err err = {0};
    FM_CHECK_MSG(fm_conv_shape(&p, &is, &os, &err) == FM_OK, "%s: %s", rc->what, err.msg);
    fm_shape ws = fm_conv_weight_shape(&p, rc->c);
    size_t ni = fm_shape_count(&is), no = fm_shape_count(&os), nw = fm_shape_count(&ws);
    float *x = malloc(ni * sizeof *x), *w = malloc(nw * sizeof *w), *b = malloc(rc->m * sizeof *b);
    float *ax = malloc(ni * sizeof *x), *aw = malloc(nw * sizeof *w), *ab = malloc(rc->m * sizeof *b);
    float *ref = malloc(no * sizeof *ref), *mag = malloc(no * sizeof *mag);
    float *got = malloc((no + 1) * sizeof *got);
    uint64_t st = seed;
    fill(&st, x, ni, -1, 1);
    fill(&st, w, nw, -1, 1);
    fill(&st, b, rc->m, -1, 1);
    for (size_t i = 0; i < ni; i++)
        ax[i] = fabsf(x[i]);
    for (size_t i = 0; i < nw; i++)
        aw[i] = fabsf(w[i]);
    for (int i = 0; i < rc->m; i++)
        ab[i] = fabsf(b[i]);
    fm_tensor ti = {is, x}, to = {os, ref};
    fm_conv_forward_ref(&p, &ti, w, b, &to);
    fm_conv_param pm = p;
    pm.act.act = FM_ACT_NONE;
    fm_tensor tai = {is, ax}, tam = {os, mag};
    fm_conv_forward_ref(&pm, &tai, aw, ab, &tam);
    static const int threads[][2] = {{1, 1}, {2, 2}, {3, 2}}; /* pool size, plan max_threads */
    for (int v = 0; v < FM_ISA_COUNT * 2 * 3; v++) {
        const fm_isa isa = (fm_isa)(v / 6);
        const unsigned opts = (unsigned)(v / 3 % 2);
        const int t = v % 3;
        if (!fm_isa_supported(isa))
            continue;
        {
            for (size_t i = 0; i <= no; i++)
                got[i] = 12345.0f;
            if (!run_fast(&p, &is, x, w, b, isa, opts | FM_CONV_THREADED, threads[t][0],
                          threads[t][1], got))
                continue;
            double worst = 0;
            size_t wi = 0;
            for (size_t i = 0; i < no; i++) {
                double e = fabs((double)got[i] - ref[i]) - (FM_CONV_TOL * mag[i] + 1e-6);
                if (!(e <= worst)) { /* also catches NaN */
                    worst = e != e ? 1e30 : e;
                    wi = i;
                }
            }
            FM_CHECK_MSG(worst <= 0,
                         "%s, %s%s, %d threads: out[%zu] = %.9g, reference %.9g (mag %g)",
                         rc->what, fm_isa_name(isa), opts ? " packed" : "", threads[t][0], wi,
                         got[wi], ref[wi], mag[wi]);
            FM_CHECK_MSG(got[no] == 12345.0f, "%s: wrote past the output", rc->what);
        }
    }
    free(x);
    free(w);
    free(b);
    free(ax);
    free(aw);
    free(ab);
    free(ref);
    free(mag);
    free(got);
}

static void test_conv_random(void)
{
    /* the kinds of res10 and MobileNetV2 layers, scaled down, with odd sizes */
    static const rcase cases[] = {
        {"res10 conv1 7x7/s2", 1, 3, 41, 37, 16, 7, 2, 3, 1, 1, 1, FM_ACT_RELU},
        {"3x3 p1", 1, 8, 19, 21, 16, 3, 1, 1, 1, 1, 1, FM_ACT_NONE},
        {"3x3 p1 odd M", 1, 5, 13, 11, 13, 3, 1, 1, 1, 1, 0, FM_ACT_RELU},
        {"3x3/s2", 1, 8, 20, 17, 24, 3, 2, 1, 1, 1, 1, FM_ACT_RELU},
        {"3x3 K > block", 1, 50, 9, 10, 20, 3, 1, 1, 1, 1, 1, FM_ACT_RELU},
        {"3x3 K > 2 blocks", 1, 100, 6, 7, 9, 3, 1, 1, 1, 1, 1, FM_ACT_RELU6},
        {"1x1 direct", 1, 24, 11, 13, 40, 1, 1, 0, 1, 1, 1, FM_ACT_RELU6},
        {"1x1 direct, K > block", 1, 300, 8, 13, 16, 1, 1, 0, 1, 1, 1, FM_ACT_NONE},
        {"1x1 tiny", 1, 3, 1, 1, 5, 1, 1, 0, 1, 1, 1, FM_ACT_NONE},
        {"1x1/s2 expand", 1, 16, 15, 15, 32, 1, 2, 0, 1, 1, 1, FM_ACT_NONE},
        {"3x3 dilation 2", 1, 12, 11, 12, 16, 3, 1, 2, 2, 1, 1, FM_ACT_RELU},
        {"3x3/s3 dilation 2", 1, 5, 17, 19, 9, 3, 3, 1, 2, 1, 1, FM_ACT_NONE},
        {"5x5/s2 p2", 1, 3, 22, 25, 10, 5, 2, 2, 1, 1, 1, FM_ACT_RELU},
        {"head 3x3 M=12", 1, 32, 7, 7, 12, 3, 1, 1, 1, 1, 1, FM_ACT_NONE},
        {"head 3x3 M=8 on 5x5", 1, 32, 5, 5, 8, 3, 1, 1, 1, 1, 1, FM_ACT_NONE},
        {"3x3/s2 on 5x5", 1, 16, 5, 5, 16, 3, 2, 1, 1, 1, 0, FM_ACT_RELU},
        {"groups 2", 1, 12, 9, 11, 10, 3, 1, 1, 1, 2, 1, FM_ACT_RELU},
        {"groups 3, 1x1", 2, 9, 7, 9, 12, 1, 1, 0, 1, 3, 1, FM_ACT_NONE},
        {"batch 2", 2, 6, 9, 8, 10, 3, 1, 1, 1, 1, 1, FM_ACT_RELU},
        {"dw 3x3 s1", 1, 8, 17, 37, 8, 3, 1, 1, 1, 8, 1, FM_ACT_RELU6},
        {"dw 3x3 s2", 1, 8, 18, 37, 8, 3, 2, 1, 1, 8, 1, FM_ACT_RELU6},
        {"dw 3x3 s2 even", 1, 5, 16, 40, 5, 3, 2, 1, 1, 5, 0, FM_ACT_NONE},
        {"dw 3x3 s2 p0", 1, 4, 13, 35, 4, 3, 2, 0, 1, 4, 1, FM_ACT_RELU},
        {"dw 3x3 s1 p0 wide", 1, 3, 5, 70, 3, 3, 1, 0, 1, 3, 1, FM_ACT_RELU},
        {"dw 3x3 s1 narrow", 1, 6, 4, 3, 6, 3, 1, 1, 1, 6, 1, FM_ACT_RELU},
        {"dw 3x3 s1 1 column", 1, 3, 4, 1, 3, 3, 1, 1, 1, 3, 1, FM_ACT_NONE},
        {"dw 3x3 s2 p2", 2, 4, 9, 33, 4, 3, 2, 2, 1, 4, 1, FM_ACT_NONE},
        {"dw 5x5", 1, 4, 11, 12, 4, 5, 1, 2, 1, 4, 1, FM_ACT_RELU},
        {"dw 3x3 dilation 2", 1, 4, 11, 12, 4, 3, 1, 2, 2, 4, 1, FM_ACT_NONE},
        {"dw multiplier 2", 1, 4, 9, 10, 8, 3, 1, 1, 1, 4, 1, FM_ACT_NONE},
        {"mbv2 1x1 expand", 1, 24, 14, 14, 144, 1, 1, 0, 1, 1, 1, FM_ACT_RELU6},
        {"mbv2 1x1 project", 1, 144, 14, 14, 24, 1, 1, 0, 1, 1, 1, FM_ACT_NONE},
        {"res10 3x3 38x38-like", 1, 32, 38, 38, 32, 3, 1, 1, 1, 1, 1, FM_ACT_RELU},
        /* YuNet-n's layer kinds, scaled down */
        {"yunet stem 3x3/s2", 1, 3, 31, 41, 16, 3, 2, 1, 1, 1, 1, FM_ACT_RELU},
        /* the direct stem path (3x3/s2, C <= 4): chunks of 16 output channels, borders */
        {"stem 3x3/s2 M=20 odd", 1, 3, 33, 45, 20, 3, 2, 1, 1, 1, 1, FM_ACT_RELU},
        {"stem 3x3/s2 C=1 p0 no bias", 1, 1, 17, 40, 8, 3, 2, 0, 1, 1, 0, FM_ACT_NONE},
        {"stem 3x3/s2 C=4 p2 batch 2", 2, 4, 12, 9, 32, 3, 2, 2, 1, 1, 1, FM_ACT_RELU6},
        {"stem 3x3/s2 wide 2 rows", 1, 3, 4, 70, 16, 3, 2, 1, 1, 1, 1, FM_ACT_SIGMOID},
        {"yunet 1x1 16->16", 1, 16, 23, 29, 16, 1, 1, 0, 1, 1, 1, FM_ACT_NONE},
        {"yunet 1x1 16->64", 1, 16, 12, 21, 64, 1, 1, 0, 1, 1, 1, FM_ACT_NONE},
        {"yunet 1x1 64->64", 1, 64, 15, 20, 64, 1, 1, 0, 1, 1, 1, FM_ACT_NONE},
        {"yunet dw 3x3 relu", 1, 16, 23, 29, 16, 3, 1, 1, 1, 16, 1, FM_ACT_RELU},
        {"yunet head 1x1 64->1", 1, 64, 15, 20, 1, 1, 1, 0, 1, 1, 1, FM_ACT_NONE},
        {"yunet head 3x3 1 ch sigmoid", 1, 1, 15, 20, 1, 3, 1, 1, 1, 1, 1, FM_ACT_SIGMOID},
        {"yunet head dw 4 ch", 1, 4, 15, 20, 4, 3, 1, 1, 1, 4, 1, FM_ACT_NONE},
        {"yunet head dw 10 ch sigmoid", 1, 10, 9, 19, 10, 3, 1, 1, 1, 10, 1, FM_ACT_SIGMOID},
        {"3x3 sigmoid gemm", 1, 8, 11, 13, 20, 3, 1, 1, 1, 1, 1, FM_ACT_SIGMOID},
    };
    int ncases = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < ncases; i++)
        check_random(&cases[i], 0x9e3779b97f4a7c15ull + (uint64_t)i);
}

/* ---- 1x1 + depthwise 3x3 (conv_pw_dw.c): fused fast path vs the two reference convs ---- */

typedef struct {
    const char *what;
    int n, c, h, w, m, bias;
    fm_act pw_act, dw_act;
} pwdw_case;

static void check_pwdw(const pwdw_case *pc, uint64_t seed)
{
    fm_conv_param pw = conv_param(pc->m, 1, 1, 0), dw = conv_param(pc->m, 3, 1, 1);
    dw.group = pc->m;
    pw.bias_term = dw.bias_term = pc->bias;
    pw.act.act = pc->pw_act;
    dw.act.act = pc->dw_act;
    fm_shape is = fm_shape4(pc->n, pc->c, pc->h, pc->w), os;
    fm_err err = {0};
    FM_CHECK_MSG(fm_pwdw_shape(&pw, &dw, &is, &os, &err) == FM_OK, "%s: %s", pc->what, err.msg);
    FM_CHECK_INT(fm_shape_count(&os), (size_t)pc->n * pc->m * pc->h * pc->w);
    const size_t ni = fm_shape_count(&is), no = fm_shape_count(&os);
    const size_t nw1 = (size_t)pc->m * pc->c, nw2 = (size_t)pc->m * 9;
    float *x = malloc(ni * sizeof *x), *w1 = malloc(nw1 * sizeof *w1), *w2 = malloc(nw2 * sizeof *w2);
    float *b1 = malloc(pc->m * sizeof *b1), *b2 = malloc(pc->m * sizeof *b2);
    float *mid = malloc(fm_pwdw_ref_scratch(&pw, &is)), *ref = malloc(no * sizeof *ref);
    float *mag = malloc(no * sizeof *mag), *got = malloc((no + 1) * sizeof *got);
    uint64_t st = seed;
    fill(&st, x, ni, -1, 1);
    fill(&st, w1, nw1, -1, 1);
    fill(&st, w2, nw2, -1, 1);
    fill(&st, b1, pc->m, -1, 1);
    fill(&st, b2, pc->m, -1, 1);
    fm_tensor ti = {is, x}, to = {os, ref};
    fm_pwdw_forward_ref(&pw, w1, b1, &dw, w2, b2, &ti, mid, &to);
    /* the error bound: the same computation on absolute values, no activations */
    for (size_t i = 0; i < ni; i++)
        x[i] = fabsf(x[i]);
    for (size_t i = 0; i < nw1; i++)
        w1[i] = fabsf(w1[i]);
    for (size_t i = 0; i < nw2; i++)
        w2[i] = fabsf(w2[i]);
    for (int i = 0; i < pc->m; i++) {
        b1[i] = fabsf(b1[i]);
        b2[i] = fabsf(b2[i]);
    }
    fm_conv_param apw = pw, adw = dw;
    apw.act.act = adw.act.act = FM_ACT_NONE;
    fm_tensor tm = {os, mag};
    fm_pwdw_forward_ref(&apw, w1, b1, &adw, w2, b2, &ti, mid, &tm);
    st = seed;
    fill(&st, x, ni, -1, 1);
    fill(&st, w1, nw1, -1, 1);
    fill(&st, w2, nw2, -1, 1);
    fill(&st, b1, pc->m, -1, 1);
    fill(&st, b2, pc->m, -1, 1);
    static const int threads[][2] = {{1, 1}, {2, 2}, {3, 2}, {1, 2}}; /* pool, plan max_threads */
    for (int isa = 0; isa < FM_ISA_COUNT; isa++) {
        if (!fm_isa_supported((fm_isa)isa))
            continue;
        for (int t = 0; t < 4; t++) {
            fm_pwdw_plan *plan = fm_pwdw_plan_create_isa(&pw, w1, b1, &dw, w2, b2, &is,
                                                         threads[t][1], (fm_isa)isa,
                                                         FM_CONV_THREADED, &err);
            FM_CHECK_MSG(plan != NULL, "%s: plan (%s): %s", pc->what, fm_isa_name((fm_isa)isa),
                         err.msg);
            if (!plan)
                continue;
            FM_CHECK_INT(fm_pwdw_plan_isa(plan), isa);
            void *scratch = aligned_alloc(64, (fm_pwdw_plan_scratch(plan) + 63) / 64 * 64 + 64);
            fm_pool *pool = threads[t][0] > 1 ? fm_pool_create(threads[t][0], &err) : NULL;
            for (size_t i = 0; i <= no; i++)
                got[i] = 12345.0f;
            fm_pwdw_run(plan, x, got, scratch, pool);
            double worst = 0;
            size_t wi = 0;
            for (size_t i = 0; i < no; i++) {
                double e = fabs((double)got[i] - ref[i]) - (FM_CONV_TOL * mag[i] + 1e-6);
                if (!(e <= worst)) {
                    worst = e != e ? 1e30 : e;
                    wi = i;
                }
            }
            FM_CHECK_MSG(worst <= 0, "%s, %s, %d threads: out[%zu] = %.9g, reference %.9g (mag %g)",
                         pc->what, fm_isa_name((fm_isa)isa), threads[t][0], wi, got[wi], ref[wi],
                         mag[wi]);
            FM_CHECK_MSG(got[no] == 12345.0f, "%s: wrote past the output", pc->what);
            fm_pool_free(pool);
            free(scratch);
            fm_pwdw_plan_free(plan);
        }
    }
    free(x);
    free(w1);
    free(w2);
    free(b1);
    free(b2);
    free(mid);
    free(ref);
    free(mag);
    free(got);
}

static void test_conv_pwdw_random(void)
{
    static const pwdw_case cases[] = {
        {"yunet 16->16", 1, 16, 23, 29, 16, 1, FM_ACT_NONE, FM_ACT_RELU},
        {"yunet 64->64, W = 2 vectors", 1, 64, 37, 32, 64, 1, FM_ACT_NONE, FM_ACT_RELU},
        {"16->64 wide", 1, 16, 9, 70, 64, 1, FM_ACT_NONE, FM_ACT_RELU},
        {"odd M, no bias", 1, 7, 11, 13, 13, 0, FM_ACT_NONE, FM_ACT_NONE},
        {"K > one block", 1, 200, 6, 17, 9, 1, FM_ACT_RELU6, FM_ACT_RELU6},
        {"1 row", 1, 8, 1, 40, 8, 1, FM_ACT_NONE, FM_ACT_RELU},
        {"2 rows, 1 column", 1, 5, 2, 1, 4, 1, FM_ACT_NONE, FM_ACT_NONE},
        {"tall narrow", 1, 8, 61, 3, 16, 1, FM_ACT_RELU, FM_ACT_SIGMOID},
        {"batch 2", 2, 12, 19, 21, 24, 1, FM_ACT_NONE, FM_ACT_RELU},
        {"many rows (several ring steps)", 1, 16, 150, 18, 8, 1, FM_ACT_NONE, FM_ACT_RELU},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_pwdw(&cases[i], 0x51ed2701u + i);
}

/* Pairs the fused op does not take: their shape rule says why. */
static void test_conv_pwdw_not_fusable(void)
{
    fm_conv_param pw = conv_param(8, 1, 1, 0), dw = conv_param(8, 3, 1, 1);
    dw.group = 8;
    FM_CHECK(fm_pwdw_fusable(&pw, &dw, 4));
    fm_conv_param p2 = pw;
    p2.stride_h = p2.stride_w = 2;
    FM_CHECK(!fm_pwdw_fusable(&p2, &dw, 4));
    fm_conv_param d2 = dw;
    d2.stride_h = d2.stride_w = 2;
    FM_CHECK(!fm_pwdw_fusable(&pw, &d2, 4));
    d2 = dw;
    d2.group = 1;
    FM_CHECK(!fm_pwdw_fusable(&pw, &d2, 4));
    d2 = dw;
    d2.pad_h = d2.pad_w = 0;
    FM_CHECK(!fm_pwdw_fusable(&pw, &d2, 4));
    p2 = conv_param(8, 3, 1, 1);
    FM_CHECK(!fm_pwdw_fusable(&p2, &dw, 4));
    fm_shape is = fm_shape4(1, 4, 5, 5), os;
    fm_err err = {0};
    FM_CHECK(fm_pwdw_shape(&p2, &dw, &is, &os, &err) != FM_OK);
    FM_CHECK_STR_CONTAINS(err.msg, "1x1+depthwise");
}

extern void suite_conv(void);
void suite_conv(void)
{
    FM_RUN(test_conv_exact_1x1);
    FM_RUN(test_conv_exact_3x3_pad);
    FM_RUN(test_conv_exact_stride2);
    FM_RUN(test_conv_exact_dilation2);
    FM_RUN(test_conv_exact_groups);
    FM_RUN(test_conv_exact_depthwise);
    FM_RUN(test_conv_exact_activations);
    FM_RUN(test_conv_shape_errors);
    FM_RUN(test_conv_isa_env);
    FM_RUN(test_conv_random);
    FM_RUN(test_conv_pwdw_random);
    FM_RUN(test_conv_pwdw_not_fusable);
}
