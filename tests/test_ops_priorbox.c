/* PriorBox: a hand-computed 2x2 map on a 300x300 image, OpenCV golden
 * outputs (res10's first layer with step 8; several min sizes, duplicate and
 * unit ratios, clip, one variance), and parameter errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static fm_priorbox_param base(void)
{
    fm_priorbox_param p;
    memset(&p, 0, sizeof p);
    p.nmin = 1;
    p.min_size[0] = 30;
    p.nmax = 1;
    p.max_size[0] = 60;
    p.naspect = 1;
    p.aspect[0] = 2;
    p.flip = 1;
    p.nvariance = 4;
    p.variance[0] = p.variance[1] = 0.1f;
    p.variance[2] = p.variance[3] = 0.2f;
    p.offset = 0.5f;
    return p;
}

static void test_priorbox_exact_2x2(void)
{
    fm_priorbox_param p = base();
    fm_shape feat = fm_shape4(1, 8, 2, 2), img = fm_shape4(1, 3, 300, 300), os;
    FM_CHECK_INT(fm_priorbox_count(&p), 4);
    FM_CHECK_INT(fm_priorbox_shape(&p, &feat, &img, &os, NULL), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){3, {1, 2, 2 * 2 * 4 * 4, 0}}));
    float out[2 * 64];
    fm_tensor t = {os, out};
    fm_priorbox_forward(&p, &feat, &img, &t);
    /* step 150: centres 75 and 225; sizes: 30; sqrt(30*60); 30*sqrt2 x 30/sqrt2; flipped */
    double s2 = sqrt(1800.0) / 2, a = 30 * sqrt(2.0) / 2, b = 30 / sqrt(2.0) / 2;
    const double half[4][2] = {{15, 15}, {s2, s2}, {a, b}, {b, a}};
    const double cx[4] = {75, 225, 75, 225}, cy[4] = {75, 75, 225, 225};
    for (int cell = 0; cell < 4; cell++)
        for (int k = 0; k < 4; k++) {
            const float *r = out + (cell * 4 + k) * 4;
            FM_CHECK_NEAR(r[0], (cx[cell] - half[k][0]) / 300, 1e-6);
            FM_CHECK_NEAR(r[1], (cy[cell] - half[k][1]) / 300, 1e-6);
            FM_CHECK_NEAR(r[2], (cx[cell] + half[k][0]) / 300, 1e-6);
            FM_CHECK_NEAR(r[3], (cy[cell] + half[k][1]) / 300, 1e-6);
        }
    for (int i = 0; i < 64; i++)
        FM_CHECK_NEAR(out[64 + i], i % 4 < 2 ? 0.1f : 0.2f, 0);
}

static void test_priorbox_golden_opencv(void)
{
    fm_tensor pb1, pb2;
    int ok = fm_fixture_load("priorbox.txt", "pb1", &pb1) & fm_fixture_load("priorbox.txt", "pb2", &pb2);
    if (ok) {
        fm_priorbox_param p = base();
        p.step_h = p.step_w = 8;
        fm_shape feat = fm_shape4(1, 2, 3, 3), img = fm_shape4(1, 3, 300, 300), os;
        FM_CHECK_INT(fm_priorbox_shape(&p, &feat, &img, &os, NULL), FM_OK);
        FM_CHECK(fm_shape_eq(&os, &pb1.shape));
        float *y = calloc(fm_shape_count(&pb1.shape), sizeof(float));
        fm_tensor t = {os, y};
        fm_priorbox_forward(&p, &feat, &img, &t);
        FM_CHECK_CLOSE(y, pb1.data, fm_shape_count(&os), 1e-7, 1e-6);
        free(y);

        fm_priorbox_param q;
        memset(&q, 0, sizeof q);
        q.nmin = q.nmax = 2;
        q.min_size[0] = 10;
        q.min_size[1] = 20;
        q.max_size[0] = 15;
        q.max_size[1] = 30;
        q.naspect = 4;
        q.aspect[0] = 2;
        q.aspect[1] = 3;
        q.aspect[2] = 2;
        q.aspect[3] = 1;
        q.clip = 1;
        q.nvariance = 1;
        q.variance[0] = 0.15f;
        q.offset = 0.25f;
        FM_CHECK_INT(fm_priorbox_count(&q), 8);
        fm_shape f2 = fm_shape4(1, 2, 2, 3), i2 = fm_shape4(1, 3, 40, 60);
        FM_CHECK_INT(fm_priorbox_shape(&q, &f2, &i2, &os, NULL), FM_OK);
        FM_CHECK(fm_shape_eq(&os, &pb2.shape));
        y = calloc(fm_shape_count(&pb2.shape), sizeof(float));
        t.shape = os;
        t.data = y;
        fm_priorbox_forward(&q, &f2, &i2, &t);
        FM_CHECK_CLOSE(y, pb2.data, fm_shape_count(&os), 1e-7, 1e-6);
        free(y);
    }
    free(pb1.data);
    free(pb2.data);
}

static void test_priorbox_errors(void)
{
    fm_err err = {0};
    fm_shape feat = fm_shape4(1, 8, 2, 2), img = fm_shape4(1, 3, 300, 300), os;
    fm_priorbox_param p = base();
    p.max_size[0] = 20;
    FM_CHECK_INT(fm_priorbox_shape(&p, &feat, &img, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "max_size 20 must exceed min_size 30");
    p = base();
    p.nvariance = 2;
    FM_CHECK_INT(fm_priorbox_shape(&p, &feat, &img, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "2 variances (expected 1 or 4)");
    p = base();
    p.nmax = 2;
    FM_CHECK_INT(fm_priorbox_shape(&p, &feat, &img, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "2 max sizes for 1 min sizes");
    p = base();
    fm_shape f3 = fm_shape3(1, 2, 2);
    FM_CHECK_INT(fm_priorbox_shape(&p, &f3, &img, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "feature map 1x2x2 and image 1x3x300x300");
}

extern void suite_ops_priorbox(void);
void suite_ops_priorbox(void)
{
    FM_RUN(test_priorbox_exact_2x2);
    FM_RUN(test_priorbox_golden_opencv);
    FM_RUN(test_priorbox_errors);
}
