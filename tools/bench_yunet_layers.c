/* bench_yunet_layers.c - a micro-benchmark (not a test) of the operator kernels on
 * YuNet-n's layer shapes for a 640x480 input (1x3x480x640), one shape a line:
 * median time of one call, how many times the network runs that shape, and the
 * product; then the total. Convolutions run through fm_conv_plan_create (the
 * level fm_isa_detect picks: FM_ISA=scalar|avx2|avx512 lowers it), the other
 * operators through their fast paths. Random weights: speed only.
 *
 *   make build/bench_yunet_layers && ./build/bench_yunet_layers [--threads N] [--runs N]
 *
 * The "1x1+dw" lines time the fused pair (count 0: not in the total; compare them
 * with the two lines of their pair).
 * The layer list mirrors yunet_n_640_640.onnx (cv2.dnn's getLayersShapes at 480x640).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/pool.h"
#include "nn/ops/ops.h"
#include "nn/ops/simd.h"

enum { CONV, POOL, RESIZE, ADD, TRANSPOSE, SIGMOID, PWDW };

typedef struct {
    const char *what;
    int kind;
    int c, h, w;        /* input */
    int m, k, stride, group; /* conv */
    fm_act act;
    int count;          /* times in the network */
} shape;

/* 1x1 64->64 then depthwise 3x3 + ReLU, n times at h x w */
#define BLOCK64(h, w, n)                                                                     \
    {"1x1 64->64", CONV, 64, h, w, 64, 1, 1, 1, FM_ACT_NONE, n},                            \
    {"dw3x3 64 relu", CONV, 64, h, w, 64, 3, 1, 64, FM_ACT_RELU, n}

/* the pairs above as the net runs them: one fused 1x1 + depthwise op (conv_pw_dw.c) */
#define PAIR(c, m, h, w, n) {"1x1+dw " #c "->" #m " relu", PWDW, c, h, w, m, 1, 1, 1, FM_ACT_RELU, n}

static const shape k_shapes[] = {
    {"stem 3x3/s2 3->16 relu", CONV, 3, 480, 640, 16, 3, 2, 1, FM_ACT_RELU, 1},
    {"1x1 16->16", CONV, 16, 240, 320, 16, 1, 1, 1, FM_ACT_NONE, 1},
    {"dw3x3 16 relu", CONV, 16, 240, 320, 16, 3, 1, 16, FM_ACT_RELU, 1},
    {"maxpool 2x2/2", POOL, 16, 240, 320, 0, 0, 0, 0, FM_ACT_NONE, 1},
    {"1x1 16->16", CONV, 16, 120, 160, 16, 1, 1, 1, FM_ACT_NONE, 1},
    {"dw3x3 16 relu", CONV, 16, 120, 160, 16, 3, 1, 16, FM_ACT_RELU, 1},
    {"1x1 16->64", CONV, 16, 120, 160, 64, 1, 1, 1, FM_ACT_NONE, 1},
    {"dw3x3 64 relu", CONV, 64, 120, 160, 64, 3, 1, 64, FM_ACT_RELU, 1},
    BLOCK64(120, 160, 2),
    {"maxpool 2x2/2", POOL, 64, 120, 160, 0, 0, 0, 0, FM_ACT_NONE, 1},
    /* backbone 2 blocks, FPN 1, head 1 */
    BLOCK64(60, 80, 4),
    {"maxpool 2x2/2", POOL, 64, 60, 80, 0, 0, 0, 0, FM_ACT_NONE, 1},
    BLOCK64(30, 40, 4),
    {"maxpool 2x2/2", POOL, 64, 30, 40, 0, 0, 0, 0, FM_ACT_NONE, 1},
    BLOCK64(15, 20, 4),
    {"resize x2", RESIZE, 64, 15, 20, 0, 0, 0, 0, FM_ACT_NONE, 1},
    {"add", ADD, 64, 30, 40, 0, 0, 0, 0, FM_ACT_NONE, 1},
    {"resize x2", RESIZE, 64, 30, 40, 0, 0, 0, 0, FM_ACT_NONE, 1},
    {"add", ADD, 64, 60, 80, 0, 0, 0, 0, FM_ACT_NONE, 1},
    /* heads at each scale: cls, obj (1), bbox (4), kps (10) */
    PAIR(16, 16, 240, 320, 0),
    PAIR(16, 16, 120, 160, 0),
    PAIR(16, 64, 120, 160, 0),
    PAIR(64, 64, 120, 160, 0),
    PAIR(64, 64, 60, 80, 0),
    PAIR(64, 64, 30, 40, 0),
    PAIR(64, 64, 15, 20, 0),
    {"head 1x1 64->1", CONV, 64, 60, 80, 1, 1, 1, 1, FM_ACT_NONE, 2},
    {"head 3x3 1ch", CONV, 1, 60, 80, 1, 3, 1, 1, FM_ACT_NONE, 2},
    {"head 1x1 64->4", CONV, 64, 60, 80, 4, 1, 1, 1, FM_ACT_NONE, 1},
    {"head dw3x3 4", CONV, 4, 60, 80, 4, 3, 1, 4, FM_ACT_NONE, 1},
    {"head 1x1 64->10", CONV, 64, 60, 80, 10, 1, 1, 1, FM_ACT_NONE, 1},
    {"head dw3x3 10", CONV, 10, 60, 80, 10, 3, 1, 10, FM_ACT_NONE, 1},
    {"head 1x1 64->1", CONV, 64, 30, 40, 1, 1, 1, 1, FM_ACT_NONE, 2},
    {"head 3x3 1ch", CONV, 1, 30, 40, 1, 3, 1, 1, FM_ACT_NONE, 2},
    {"head 1x1 64->4", CONV, 64, 30, 40, 4, 1, 1, 1, FM_ACT_NONE, 1},
    {"head dw3x3 4", CONV, 4, 30, 40, 4, 3, 1, 4, FM_ACT_NONE, 1},
    {"head 1x1 64->10", CONV, 64, 30, 40, 10, 1, 1, 1, FM_ACT_NONE, 1},
    {"head dw3x3 10", CONV, 10, 30, 40, 10, 3, 1, 10, FM_ACT_NONE, 1},
    {"head 1x1 64->1", CONV, 64, 15, 20, 1, 1, 1, 1, FM_ACT_NONE, 2},
    {"head 3x3 1ch", CONV, 1, 15, 20, 1, 3, 1, 1, FM_ACT_NONE, 2},
    {"head 1x1 64->4", CONV, 64, 15, 20, 4, 1, 1, 1, FM_ACT_NONE, 1},
    {"head dw3x3 4", CONV, 4, 15, 20, 4, 3, 1, 4, FM_ACT_NONE, 1},
    {"head 1x1 64->10", CONV, 64, 15, 20, 10, 1, 1, 1, FM_ACT_NONE, 1},
    {"head dw3x3 10", CONV, 10, 15, 20, 10, 3, 1, 10, FM_ACT_NONE, 1},
    {"transpose NHWC", TRANSPOSE, 1, 60, 80, 0, 0, 0, 0, FM_ACT_NONE, 2},
    {"transpose NHWC", TRANSPOSE, 4, 60, 80, 0, 0, 0, 0, FM_ACT_NONE, 1},
    {"transpose NHWC", TRANSPOSE, 10, 60, 80, 0, 0, 0, 0, FM_ACT_NONE, 1},
    {"transpose NHWC", TRANSPOSE, 10, 30, 40, 0, 0, 0, 0, FM_ACT_NONE, 1},
    {"sigmoid", SIGMOID, 1, 60, 80, 0, 0, 0, 0, FM_ACT_NONE, 2},
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int threads = 1, runs = 50;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--threads N] [--runs N]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || runs < 1)
        return 2;
    fm_err err = {0};
    fm_pool *pool = threads > 1 ? fm_pool_create(threads, &err) : NULL;
    const size_t big = (size_t)64 * 240 * 320 + 64;
    float *x = aligned_alloc(64, big * sizeof(float)), *y = aligned_alloc(64, big * sizeof(float));
    float *x2 = aligned_alloc(64, big * sizeof(float));
    float *w = malloc(64 * 64 * 9 * sizeof(float)), *b = malloc(64 * sizeof(float));
    double *t = malloc((size_t)runs * sizeof(double));
    if (!x || !y || !x2 || !w || !b || !t) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    uint64_t s = 1;
    for (size_t i = 0; i < big; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((s >> 40) & 0xffff) / 32768.0f - 1.0f;
        x2[i] = -x[i];
    }
    for (int i = 0; i < 64 * 64 * 9; i++)
        w[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    for (int i = 0; i < 64; i++)
        b[i] = 0.01f * (float)i;
    printf("# YuNet-n 640x480 layer shapes, %d thread(s), isa %s, median of %d runs\n", threads,
           fm_isa_name(fm_isa_detect()), runs);
    printf("%-26s %-14s %9s %5s %9s\n", "layer", "input", "ms", "count", "total_ms");
    double total = 0, conv_total = 0;
    for (size_t li = 0; li < sizeof k_shapes / sizeof k_shapes[0]; li++) {
        const shape *L = &k_shapes[li];
        fm_shape in = fm_shape4(1, L->c, L->h, L->w);
        fm_conv_plan *plan = NULL;
        void *scratch = NULL;
        fm_conv_param cp;
        memset(&cp, 0, sizeof cp);
        fm_pool_param pp;
        memset(&pp, 0, sizeof pp);
        fm_shape os = in;
        fm_pwdw_plan *pwdw = NULL;
        if (L->kind == PWDW) {
            fm_conv_param pw;
            memset(&pw, 0, sizeof pw);
            pw.num_output = L->m;
            pw.group = pw.kernel_h = pw.kernel_w = pw.stride_h = pw.stride_w = 1;
            pw.dilation_h = pw.dilation_w = 1;
            pw.bias_term = 1;
            cp = pw;
            cp.group = L->m;
            cp.kernel_h = cp.kernel_w = 3;
            cp.pad_h = cp.pad_w = 1;
            cp.act.act = L->act;
            pwdw = fm_pwdw_plan_create(&pw, w, b, &cp, w, b, &in, threads, &err);
            if (!pwdw) {
                fprintf(stderr, "%s: %s\n", L->what, err.msg);
                return 1;
            }
            scratch = aligned_alloc(64, (fm_pwdw_plan_scratch(pwdw) + 127) / 64 * 64);
            os = fm_shape4(1, L->m, L->h, L->w);
        } else if (L->kind == CONV) {
            cp.num_output = L->m;
            cp.group = L->group;
            cp.kernel_h = cp.kernel_w = L->k;
            cp.stride_h = cp.stride_w = L->stride;
            cp.pad_h = cp.pad_w = L->k / 2;
            cp.dilation_h = cp.dilation_w = 1;
            cp.bias_term = 1;
            cp.act.act = L->act;
            plan = fm_conv_plan_create(&cp, &in, w, b, threads, &err);
            if (!plan) {
                fprintf(stderr, "%s: %s\n", L->what, err.msg);
                return 1;
            }
            scratch = aligned_alloc(64, (fm_conv_plan_scratch(plan) + 127) / 64 * 64);
            fm_conv_shape(&cp, &in, &os, NULL);
        } else if (L->kind == POOL) {
            pp.method = FM_POOL_MAX;
            pp.kernel_h = pp.kernel_w = pp.stride_h = pp.stride_w = 2;
            pp.floor_mode = 1;
            fm_pool_shape(&pp, &in, &os, NULL);
        } else if (L->kind == RESIZE) {
            os = fm_shape4(1, L->c, 2 * L->h, 2 * L->w);
        } else if (L->kind == TRANSPOSE) {
            os = fm_shape4(1, L->h, L->w, L->c);
        }
        fm_tensor ti = {in, x}, ti2 = {in, x2}, to = {os, y};
        const fm_tensor *ins[2] = {&ti, &ti2};
        const int order[4] = {0, 2, 3, 1};
        const fm_resize_param rp = {2, 2};
        const fm_eltwise_param ep = {FM_ELTWISE_SUM, 0, NULL, {FM_ACT_NONE, 0}};
        for (int r = -3; r < runs; r++) {
            double t0 = fm_now_ms();
            switch (L->kind) {
            case CONV: fm_conv_run(plan, x, y, scratch, pool); break;
            case PWDW: fm_pwdw_run(pwdw, x, y, scratch, pool); break;
            case POOL: fm_pool_forward(&pp, &ti, &to, pool); break;
            case RESIZE: fm_resize_forward(&rp, &ti, &to, pool); break;
            case ADD: fm_eltwise_forward(&ep, ins, 2, &to, pool); break;
            case TRANSPOSE: fm_permute_forward(&ti, order, 4, &to); break;
            case SIGMOID: fm_act_forward(&ti, (fm_activation){FM_ACT_SIGMOID, 0}, &to, pool); break;
            }
            double dt = fm_now_ms() - t0;
            if (r >= 0)
                t[r] = dt;
        }
        qsort(t, (size_t)runs, sizeof *t, cmp_double);
        double med = t[runs / 2];
        char buf[32];
        snprintf(buf, sizeof buf, "%dx%dx%d", L->c, L->h, L->w);
        printf("%-26s %-14s %9.4f %5d %9.4f\n", L->what, buf, med, L->count, med * L->count);
        total += med * L->count;
        if (L->kind == CONV || L->kind == PWDW)
            conv_total += med * L->count;
        fm_pwdw_plan_free(pwdw);
        free(scratch);
        fm_conv_plan_free(plan);
    }
    printf("total_ms %.3f (convolutions %.3f)\n", total, conv_total);
    fm_pool_free(pool);
    free(x);
    free(x2);
    free(y);
    free(w);
    free(b);
    free(t);
    return 0;
}
