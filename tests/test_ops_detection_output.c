/* DetectionOutput: hand cases (NMS drops an overlapping box, a low score is
 * under the threshold, decoding with variances, ordering across classes,
 * keep_top_k), OpenCV golden outputs, and shape errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static fm_detout_param params(int classes, int keep_top_k, float thr)
{
    fm_detout_param p;
    memset(&p, 0, sizeof p);
    p.num_classes = classes;
    p.share_location = 1;
    p.background_label_id = 0;
    p.nms_threshold = 0.45f;
    p.top_k = 400;
    p.keep_top_k = keep_top_k;
    p.confidence_threshold = thr;
    p.code_type = 2;
    return p;
}

/* Runs the op with buffers sized by its shape and scratch functions. */
static int run(const fm_detout_param *p, const fm_tensor *loc, const fm_tensor *conf,
               const fm_tensor *prior, float **rows_out, int *capacity)
{
    fm_shape os;
    fm_err err = {0};
    if (fm_detout_shape(p, &loc->shape, &conf->shape, &prior->shape, &os, &err) != FM_OK) {
        fm_test_fail(__FILE__, __LINE__, "shape: %s", err.msg);
        return -1;
    }
    size_t ns = fm_detout_scratch(p, &loc->shape, &conf->shape);
    FM_CHECK(ns > 0);
    void *scratch = malloc(ns);
    float *out = malloc(fm_shape_count(&os) * sizeof(float));
    for (size_t i = 0; i < fm_shape_count(&os); i++)
        out[i] = 123.0f; /* unused rows must be zeroed */
    fm_tensor to = {os, out};
    int n = fm_detout_forward(p, loc, conf, prior, &to, scratch);
    for (size_t i = (size_t)n * 7; i < fm_shape_count(&os); i++)
        FM_CHECK_NEAR(out[i], 0, 0);
    free(scratch);
    *rows_out = out;
    *capacity = os.d[2];
    return n;
}

static void set_prior(float *pr, int i, int np, float x0, float y0, float x1, float y1)
{
    pr[i * 4 + 0] = x0;
    pr[i * 4 + 1] = y0;
    pr[i * 4 + 2] = x1;
    pr[i * 4 + 3] = y1;
    float *v = pr + np * 4 + i * 4;
    v[0] = v[1] = 0.1f;
    v[2] = v[3] = 0.2f;
}

static void check_row(const float *r, int label, float score, float x0, float y0, float x1, float y1)
{
    FM_CHECK_NEAR(r[0], 0, 0);
    FM_CHECK_NEAR(r[1], label, 0);
    FM_CHECK_NEAR(r[2], score, 0);
    FM_CHECK_NEAR(r[3], x0, 1e-6);
    FM_CHECK_NEAR(r[4], y0, 1e-6);
    FM_CHECK_NEAR(r[5], x1, 1e-6);
    FM_CHECK_NEAR(r[6], y1, 1e-6);
}

/* Priors A, B (IoU(A, B) = 0.152 / 0.168 = 0.905 > 0.45), C (IoU(A, C) =
 * 0.04 / 0.28 = 0.14), D (score under the threshold). Zero offsets decode to
 * the priors themselves. */
static void test_detout_nms_threshold(void)
{
    float loc[16] = {0}, conf[8] = {0.1f, 0.9f, 0.2f, 0.8f, 0.3f, 0.7f, 0.95f, 0.05f}, pr[32];
    set_prior(pr, 0, 4, 0.1f, 0.1f, 0.5f, 0.5f);
    set_prior(pr, 1, 4, 0.12f, 0.1f, 0.52f, 0.5f);
    set_prior(pr, 2, 4, 0.3f, 0.3f, 0.7f, 0.7f);
    set_prior(pr, 3, 4, 0.6f, 0.6f, 0.9f, 0.9f);
    fm_tensor tl = {fm_shape2(1, 16), loc}, tc = {fm_shape2(1, 8), conf},
              tp = {fm_shape3(1, 2, 16), pr};
    fm_detout_param p = params(2, 200, 0.1f);
    float *out;
    int cap;
    int n = run(&p, &tl, &tc, &tp, &out, &cap);
    FM_CHECK_INT(cap, 200);
    FM_CHECK_INT(n, 2);
    if (n == 2) {
        check_row(out, 1, 0.9f, 0.1f, 0.1f, 0.5f, 0.5f);
        check_row(out + 7, 1, 0.7f, 0.3f, 0.3f, 0.7f, 0.7f);
    }
    free(out);
    /* B scores higher than A: B is kept and A suppressed. */
    conf[3] = 0.92f;
    n = run(&p, &tl, &tc, &tp, &out, &cap);
    FM_CHECK_INT(n, 2);
    if (n == 2) {
        check_row(out, 1, 0.92f, 0.12f, 0.1f, 0.52f, 0.5f);
        check_row(out + 7, 1, 0.7f, 0.3f, 0.3f, 0.7f, 0.7f);
    }
    free(out);
    /* A looser NMS threshold keeps all three; keep_top_k 2 keeps the best two. */
    p.nms_threshold = 0.95f;
    n = run(&p, &tl, &tc, &tp, &out, &cap);
    FM_CHECK_INT(n, 3);
    free(out);
    p.keep_top_k = 2;
    n = run(&p, &tl, &tc, &tp, &out, &cap);
    FM_CHECK_INT(cap, 2);
    FM_CHECK_INT(n, 2);
    if (n == 2) {
        FM_CHECK_NEAR(out[2], 0.92f, 0);
        FM_CHECK_NEAR(out[7 + 2], 0.9f, 0);
    }
    free(out);
}

/* CENTER_SIZE with variances: prior (0.2, 0.2, 0.6, 0.6), loc (1, -2, 5 ln 2, 0):
 * centre (0.4 + 0.1*1*0.4, 0.4 - 0.1*2*0.4) = (0.44, 0.32), size
 * (0.4 * exp(0.2 * 5 ln 2), 0.4) = (0.8, 0.4). */
static void test_detout_decode(void)
{
    float loc[4] = {1, -2, 5 * logf(2.0f), 0}, conf[2] = {0.4f, 0.6f}, pr[8];
    set_prior(pr, 0, 1, 0.2f, 0.2f, 0.6f, 0.6f);
    fm_tensor tl = {fm_shape2(1, 4), loc}, tc = {fm_shape2(1, 2), conf},
              tp = {fm_shape3(1, 2, 4), pr};
    fm_detout_param p = params(2, 10, 0.5f);
    float *out;
    int cap, n = run(&p, &tl, &tc, &tp, &out, &cap);
    FM_CHECK_INT(n, 1);
    if (n == 1)
        check_row(out, 1, 0.6f, 0.04f, 0.12f, 0.84f, 0.52f);
    free(out);
    /* clip (OpenCV's option) clamps to [0, 1]; CORNER adds scaled offsets. */
    loc[0] = -3;
    p.clip = 1;
    n = run(&p, &tl, &tc, &tp, &out, &cap);
    if (n == 1)
        FM_CHECK_NEAR(out[3], 0.0, 0);
    free(out);
    p.clip = 0;
    p.code_type = 1;
    n = run(&p, &tl, &tc, &tp, &out, &cap);
    if (n == 1)
        check_row(out, 1, 0.6f, 0.2f - 0.3f, 0.2f - 0.2f, 0.6f + 0.2f * 5 * logf(2.0f), 0.6f);
    free(out);
}

/* Three classes: rows of all classes together, by score descending. */
static void test_detout_order_across_classes(void)
{
    float loc[8] = {0}, pr[16];
    set_prior(pr, 0, 2, 0.1f, 0.1f, 0.3f, 0.3f);
    set_prior(pr, 1, 2, 0.6f, 0.6f, 0.9f, 0.9f);
    /* prior 0: class 1 0.3, class 2 0.6; prior 1: class 1 0.5, class 2 0.2 */
    float conf[6] = {0.1f, 0.3f, 0.6f, 0.3f, 0.5f, 0.2f};
    fm_tensor tl = {fm_shape2(1, 8), loc}, tc = {fm_shape2(1, 6), conf},
              tp = {fm_shape3(1, 2, 8), pr};
    fm_detout_param p = params(3, -1, 0.25f);
    float *out;
    int cap, n = run(&p, &tl, &tc, &tp, &out, &cap);
    FM_CHECK_INT(n, 3);
    if (n == 3) {
        FM_CHECK_NEAR(out[1], 2, 0);
        FM_CHECK_NEAR(out[2], 0.6f, 0);
        FM_CHECK_NEAR(out[7 + 1], 1, 0);
        FM_CHECK_NEAR(out[7 + 2], 0.5f, 0);
        FM_CHECK_NEAR(out[14 + 1], 1, 0);
        FM_CHECK_NEAR(out[14 + 2], 0.3f, 0);
    }
    free(out);
}

static void golden(const char *file, int classes, int keep_top_k, float thr)
{
    fm_tensor loc, conf, prior, want;
    int ok = fm_fixture_load(file, "loc", &loc) & fm_fixture_load(file, "conf", &conf) &
             fm_fixture_load(file, "prior", &prior) & fm_fixture_load(file, "out", &want);
    if (ok) {
        fm_detout_param p = params(classes, keep_top_k, thr);
        p.top_k = 20;
        float *out;
        int cap, n = run(&p, &loc, &conf, &prior, &out, &cap);
        FM_CHECK_MSG(n == want.shape.d[0], "%s: %d rows, OpenCV has %d", file, n, want.shape.d[0]);
        if (n == want.shape.d[0]) {
            /* labels and scores exact; corners to float rounding */
            for (int r = 0; r < n; r++) {
                FM_CHECK_CLOSE(out + r * 7, want.data + r * 7, 3, 0, 0);
                FM_CHECK_CLOSE(out + r * 7 + 3, want.data + r * 7 + 3, 4, 1e-6, 1e-6);
            }
        }
        free(out);
    }
    free(loc.data);
    free(conf.data);
    free(prior.data);
    free(want.data);
}

static void test_detout_golden_opencv(void)
{
    golden("detout_multi.txt", 3, 12, 0.2f);
    golden("detout_single.txt", 2, 5, 0.3f);
}

static void test_detout_shape_errors(void)
{
    fm_err err = {0};
    fm_detout_param p = params(2, 200, 0.01f);
    fm_shape loc = fm_shape2(1, 40), conf = fm_shape2(1, 20), prior = fm_shape3(1, 2, 40), os;
    FM_CHECK_INT(fm_detout_shape(&p, &loc, &conf, &prior, &os, &err), FM_OK);
    FM_CHECK(fm_shape_eq(&os, &(fm_shape){4, {1, 1, 200, 7}}));
    fm_shape badloc = fm_shape2(1, 36);
    FM_CHECK_INT(fm_detout_shape(&p, &badloc, &conf, &prior, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "loc 1x36 should hold 10 priors x 1 location classes x 4");
    fm_shape badconf = fm_shape2(1, 30);
    FM_CHECK_INT(fm_detout_shape(&p, &loc, &badconf, &prior, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "conf 1x30 should hold 10 priors x 2 classes");
    fm_shape badprior = fm_shape3(1, 1, 40);
    FM_CHECK_INT(fm_detout_shape(&p, &loc, &conf, &badprior, &os, &err), FM_ERR_SHAPE);
    FM_CHECK_STR_CONTAINS(err.msg, "prior 1x1x40 must be (1, 2, P*4)");
    p.keep_top_k = 0;
    FM_CHECK_INT(fm_detout_shape(&p, &loc, &conf, &prior, &os, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "keep_top_k 0");
}

extern void suite_ops_detection_output(void);
void suite_ops_detection_output(void)
{
    FM_RUN(test_detout_nms_threshold);
    FM_RUN(test_detout_decode);
    FM_RUN(test_detout_order_across_classes);
    FM_RUN(test_detout_golden_opencv);
    FM_RUN(test_detout_shape_errors);
}
