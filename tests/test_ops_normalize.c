/* Normalize (SSD L2 norm): an exact 2-channel 2x2 case and OpenCV golden outputs. */
#include <math.h>
#include <stdlib.h>

#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static void test_normalize_exact(void)
{
    /* channel 0 then channel 1, each 2x2; per-pixel norms 5, 1, 1, sqrt(8) */
    float x[8] = {3, 0, 1, 2, 4, 1, 0, 2}, y[8];
    const float scale[2] = {2, 10};
    fm_normalize_param p = {0, 0, 1e-10f};
    fm_tensor tx = {fm_shape4(1, 2, 2, 2), x}, ty = {fm_shape4(1, 2, 2, 2), y};
    fm_normalize_forward(&p, &tx, scale, &ty);
    float r = 2.0f / sqrtf(8.0f);
    const float want[8] = {2 * 0.6f, 0, 2, 2 * r, 10 * 0.8f, 10, 0, 10 * r};
    FM_CHECK_CLOSE(y, want, 8, 1e-6, 1e-6);
    /* channel_shared, across_spatial: one norm sqrt(9+1+4+16+1+4) = sqrt(35) */
    p.across_spatial = 1;
    p.channel_shared = 1;
    const float s1 = 3;
    fm_normalize_forward(&p, &tx, &s1, &ty);
    for (int i = 0; i < 8; i++)
        FM_CHECK_NEAR(y[i], 3.0 * x[i] / sqrt(35.0), 1e-6);
    /* eps is added before the root: an all-zero pixel stays 0, with no NaN. */
    float z[2] = {0, 0}, zo[2];
    fm_tensor tz = {fm_shape4(1, 2, 1, 1), z}, tzo = {fm_shape4(1, 2, 1, 1), zo};
    p.across_spatial = 0;
    p.channel_shared = 0;
    fm_normalize_forward(&p, &tz, scale, &tzo);
    FM_CHECK_NEAR(zo[0], 0, 0);
    FM_CHECK_NEAR(zo[1], 0, 0);
    /* in place */
    p.across_spatial = 0;
    fm_normalize_forward(&p, &tx, NULL, &tx);
    FM_CHECK_NEAR(x[0], 0.6, 1e-6);
    FM_CHECK_NEAR(x[4], 0.8, 1e-6);
}

static void test_normalize_golden_opencv(void)
{
    fm_tensor x, y1, y2;
    int ok = fm_fixture_load("normalize.txt", "x", &x) & fm_fixture_load("normalize.txt", "y1", &y1) &
             fm_fixture_load("normalize.txt", "y2", &y2);
    if (ok) {
        size_t n = fm_shape_count(&x.shape);
        float *y = malloc(n * sizeof(float));
        fm_tensor ty = {x.shape, y};
        const float sc[4] = {20, 10, 5, 1}, sc1 = 3;
        fm_normalize_param p = {0, 0, 1e-10f};
        fm_normalize_forward(&p, &x, sc, &ty);
        FM_CHECK_CLOSE(y, y1.data, n, 1e-6, 1e-6);
        fm_normalize_param q = {1, 1, 1e-10f};
        fm_normalize_forward(&q, &x, &sc1, &ty);
        FM_CHECK_CLOSE(y, y2.data, n, 1e-6, 1e-6);
        free(y);
    }
    free(x.data);
    free(y1.data);
    free(y2.data);
}

extern void suite_ops_normalize(void);
void suite_ops_normalize(void)
{
    FM_RUN(test_normalize_exact);
    FM_RUN(test_normalize_golden_opencv);
}
