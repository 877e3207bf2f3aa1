/* Permute: exact (0, 2, 3, 1) as SSD uses it, OpenCV golden outputs, errors,
 * and the tiled NCHW -> NHWC path against the reference on random shapes. */
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

/* The tiled transpose (8x8 AVX2 blocks, 16x16 C tiles, their edges) against the
 * strided reference: YuNet's head shapes and odd sizes, per ISA level. Exact. */
static void test_permute_fast_vs_ref(void)
{
    static const int shapes[][4] = {{1, 1, 5, 7},    {1, 4, 60, 80},  {1, 10, 15, 20}, {2, 64, 15, 20},
                                    {1, 13, 7, 9},   {1, 64, 60, 80}, {3, 9, 1, 1},    {1, 8, 8, 1},
                                    {1, 17, 33, 1},  {2, 8, 4, 2},    {1, 24, 3, 11},  {1, 2, 1, 1}};
    const char *isas[] = {"scalar", "avx2", "avx512"};
    const int nhwc[4] = {0, 2, 3, 1}, other[4] = {0, 3, 1, 2}, t3[3] = {0, 2, 1};
    uint64_t rng = 3;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] + 2; s++) {
        fm_shape in = s < sizeof shapes / sizeof shapes[0]
                          ? fm_shape4(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3])
                          : fm_shape3(2, 17 + (int)s, 33);
        const int nd = in.ndim;
        size_t n = fm_shape_count(&in);
        float *x = malloc(n * sizeof(float)), *a = malloc(n * sizeof(float));
        float *b = malloc((n + 1) * sizeof(float));
        for (size_t i = 0; i < n; i++)
            x[i] = fm_test_randf(&rng, -1, 1);
        for (int o = 0; o < 2; o++) {
            const int *ord = nd == 3 ? t3 : (o ? other : nhwc);
            fm_shape os;
            FM_CHECK_INT(fm_permute_shape(&in, ord, nd, &os, NULL), FM_OK);
            fm_tensor ti = {in, x}, ta = {os, a}, tb = {os, b};
            fm_permute_forward_ref(&ti, ord, nd, &ta);
            for (int isa = 0; isa < 3; isa++) {
                setenv("FM_ISA", isas[isa], 1);
                for (size_t i = 0; i <= n; i++)
                    b[i] = 12345.0f;
                fm_permute_forward(&ti, ord, nd, &tb);
                FM_CHECK_MSG(FM_CHECK_CLOSE(b, a, n, 0, 0), "shape %zu order %d isa %s", s, o,
                             isas[isa]);
                FM_CHECK(b[n] == 12345.0f);
            }
            unsetenv("FM_ISA");
        }
        free(x);
        free(a);
        free(b);
    }
}

extern void suite_ops_permute(void);
void suite_ops_permute(void)
{
    FM_RUN(test_permute_exact);
    FM_RUN(test_permute_golden_opencv);
    FM_RUN(test_permute_errors);
    FM_RUN(test_permute_fast_vs_ref);
}
