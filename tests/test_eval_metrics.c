/* test_eval_metrics.c - src/eval/metrics: hand-computed cases and numpy golden values.
 *
 * Exact cases are worked out in the comments. The golden cases in tests/fixtures/eval/ come
 * from tools/gen_eval_fixtures.py: ROC AUC as a trapezoidal area (the C code uses ranks)
 * and VOC AP from a devkit-style numpy evaluation; both must agree within 1e-9.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/metrics.h"
#include "test.h"

#define FIX "tests/fixtures/eval/"

/* ---- confusion matrix -------------------------------------------------------------- */

static void test_confusion_2x2(void)
{
    /* true:  0 0 0 0 1 1 1 1 1 1
     * pred:  0 0 0 1 1 1 1 1 0 0  ->  [[3 1] [2 4]] */
    const int truth[] = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
    const int pred[] = {0, 0, 0, 1, 1, 1, 1, 1, 0, 0};
    fm_confusion cm;
    fm_err err = {0};
    FM_CHECK_INT(fm_confusion_from_labels(&cm, 2, truth, pred, 10, &err), FM_OK);
    FM_CHECK_INT(cm.counts[0][0], 3);
    FM_CHECK_INT(cm.counts[0][1], 1);
    FM_CHECK_INT(cm.counts[1][0], 2);
    FM_CHECK_INT(cm.counts[1][1], 4);
    FM_CHECK_INT(fm_confusion_total(&cm), 10);
    FM_CHECK_NEAR(fm_confusion_accuracy(&cm), 0.7, 1e-15);

    fm_class_stats s0 = fm_confusion_class(&cm, 0); /* tp 3, fp 2, fn 1 */
    FM_CHECK_INT(s0.tp, 3);
    FM_CHECK_INT(s0.fp, 2);
    FM_CHECK_INT(s0.fn, 1);
    FM_CHECK_INT(s0.support, 4);
    FM_CHECK_NEAR(s0.precision, 3.0 / 5, 1e-15);
    FM_CHECK_NEAR(s0.recall, 3.0 / 4, 1e-15);
    FM_CHECK_NEAR(s0.f1, 2.0 / 3, 1e-15); /* 2 * .6 * .75 / 1.35 */

    fm_class_stats s1 = fm_confusion_class(&cm, 1); /* tp 4, fp 1, fn 2 */
    FM_CHECK_NEAR(s1.precision, 4.0 / 5, 1e-15);
    FM_CHECK_NEAR(s1.recall, 4.0 / 6, 1e-15);
    FM_CHECK_NEAR(s1.f1, 8.0 / 11, 1e-15); /* 2 * .8 * 2/3 / (22/15) */
    FM_CHECK_NEAR(fm_confusion_macro_f1(&cm), 23.0 / 33, 1e-15);
}

static void test_confusion_multiclass_and_zero_division(void)
{
    fm_confusion cm;
    fm_err err = {0};
    FM_CHECK_INT(fm_confusion_init(&cm, 3, &err), FM_OK);
    FM_CHECK_NEAR(fm_confusion_accuracy(&cm), 0, 0); /* empty: 0 */
    /* class 2 never occurs and is never predicted; class 1 is never predicted */
    FM_CHECK_INT(fm_confusion_add(&cm, 0, 0, &err), FM_OK);
    FM_CHECK_INT(fm_confusion_add(&cm, 0, 0, &err), FM_OK);
    FM_CHECK_INT(fm_confusion_add(&cm, 1, 0, &err), FM_OK);
    fm_class_stats s1 = fm_confusion_class(&cm, 1);
    FM_CHECK_INT(s1.support, 1);
    FM_CHECK_NEAR(s1.precision, 0, 0); /* 0/0 */
    FM_CHECK_NEAR(s1.recall, 0, 0);
    FM_CHECK_NEAR(s1.f1, 0, 0);
    fm_class_stats s2 = fm_confusion_class(&cm, 2);
    FM_CHECK_INT(s2.support, 0);
    FM_CHECK_NEAR(s2.precision, 0, 0);
    FM_CHECK_NEAR(s2.recall, 0, 0);
    FM_CHECK_NEAR(s2.f1, 0, 0);
    fm_class_stats s0 = fm_confusion_class(&cm, 0); /* P 2/3, R 1, F1 0.8 */
    FM_CHECK_NEAR(s0.f1, 0.8, 1e-15);
    FM_CHECK_NEAR(fm_confusion_macro_f1(&cm), 0.8 / 3, 1e-15);
    FM_CHECK_NEAR(fm_confusion_accuracy(&cm), 2.0 / 3, 1e-15);
}

static void test_confusion_errors(void)
{
    fm_confusion cm;
    fm_err err = {0};
    FM_CHECK_INT(fm_confusion_init(&cm, 0, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "0 classes, expected 1..16");
    FM_CHECK_INT(fm_confusion_init(&cm, FM_CONFUSION_MAX_CLASSES + 1, &err), FM_ERR_ARG);
    FM_CHECK_INT(fm_confusion_init(&cm, 2, &err), FM_OK);
    FM_CHECK_INT(fm_confusion_add(&cm, 2, 0, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "(true 2, predicted 0) outside 0..1");
    FM_CHECK_INT(fm_confusion_add(&cm, 0, -1, &err), FM_ERR_ARG);
    FM_CHECK_INT(fm_confusion_total(&cm), 0);
    const int t[] = {0, 1, 1, 0}, p[] = {0, 1, 0, 5};
    FM_CHECK_INT(fm_confusion_from_labels(&cm, 2, t, p, 4, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "sample 3: confusion matrix: label pair (true 0, predicted 5)");
}

/* ---- ROC AUC ------------------------------------------------------------------------- */

static void test_auc_exact(void)
{
    fm_err err = {0};
    double auc;
    /* pairs (pos, neg): (.9,.8) 1, (.9,.3) 1, (.8,.8) tie 0.5, (.8,.3) 1 -> 3.5 / 4 */
    const float s1[] = {0.9f, 0.8f, 0.8f, 0.3f};
    const int l1[] = {1, 1, 0, 0};
    FM_CHECK_INT(fm_eval_auc(s1, l1, 4, &auc, &err), FM_OK);
    FM_CHECK_NEAR(auc, 0.875, 0);
    /* everything tied: 0.5 */
    const float s2[] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    const int l2[] = {1, 0, 1, 0, 0};
    FM_CHECK_INT(fm_eval_auc(s2, l2, 5, &auc, &err), FM_OK);
    FM_CHECK_NEAR(auc, 0.5, 0);
    /* perfect and reversed; labels other than 0/1 count as positive */
    const float s3[] = {0.1f, 0.2f, 0.7f, 0.9f};
    const int l3[] = {0, 0, 1, 7};
    const int l4[] = {1, 1, 0, 0};
    FM_CHECK_INT(fm_eval_auc(s3, l3, 4, &auc, &err), FM_OK);
    FM_CHECK_NEAR(auc, 1.0, 0);
    FM_CHECK_INT(fm_eval_auc(s3, l4, 4, &auc, &err), FM_OK);
    FM_CHECK_NEAR(auc, 0.0, 0);
    /* 3 pos {0.4, 0.6, 0.6}, 3 neg {0.2, 0.6, 0.8}:
     * .4: beats .2 -> 1; .6: beats .2 (1) ties .6 (.5) -> 1.5, twice -> 3; total 4 / 9 */
    const float s5[] = {0.4f, 0.6f, 0.6f, 0.2f, 0.6f, 0.8f};
    const int l5[] = {1, 1, 1, 0, 0, 0};
    FM_CHECK_INT(fm_eval_auc(s5, l5, 6, &auc, &err), FM_OK);
    FM_CHECK_NEAR(auc, 4.0 / 9, 1e-15);
}

static void test_auc_undefined_and_errors(void)
{
    fm_err err = {0};
    double auc = 0;
    const float s[] = {0.1f, 0.2f, NAN};
    const int all_pos[] = {1, 1, 1}, mixed[] = {1, 0, 1};
    FM_CHECK_INT(fm_eval_auc(s, all_pos, 2, &auc, &err), FM_OK);
    FM_CHECK(isnan(auc));
    FM_CHECK_INT(fm_eval_auc(s, mixed, 0, &auc, &err), FM_OK);
    FM_CHECK(isnan(auc));
    FM_CHECK_INT(fm_eval_auc(s, mixed, 3, &auc, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "ROC AUC: score 2 is NaN");
    FM_CHECK(isnan(auc));
}

static void test_auc_golden(void)
{
    size_t len;
    char *text = fm_test_read_file(FIX "auc.txt", &len);
    FM_CHECK_MSG(text != NULL, "cannot read " FIX "auc.txt");
    if (!text)
        return;
    int cases = 0;
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    while (line) {
        int n;
        double want;
        if (line[0] == '#' || sscanf(line, "case %d %lf", &n, &want) != 2) {
            line = strtok_r(NULL, "\n", &save);
            continue;
        }
        float *s = malloc((size_t)n * sizeof *s);
        int *l = malloc((size_t)n * sizeof *l);
        int ok = s && l;
        for (int i = 0; ok && i < n; i++) {
            line = strtok_r(NULL, "\n", &save);
            ok = line && sscanf(line, "%f %d", &s[i], &l[i]) == 2;
        }
        FM_CHECK_MSG(ok, "auc.txt: case %d is truncated", cases);
        if (ok) {
            double auc;
            fm_err err = {0};
            FM_CHECK_INT(fm_eval_auc(s, l, (size_t)n, &auc, &err), FM_OK);
            FM_CHECK_MSG(fabs(auc - want) <= 1e-9, "auc.txt case %d (n=%d): %.17g, expected %.17g",
                         cases, n, auc, want);
        }
        free(s);
        free(l);
        cases++;
        line = strtok_r(NULL, "\n", &save);
    }
    FM_CHECK_INT(cases, 20);
    free(text);
}

/* ---- buckets --------------------------------------------------------------------------- */

static void test_buckets(void)
{
    const double edges[] = {32, 64};
    const double width[] = {10, 31.9, 32, 50, 64, 100, 63.99};
    const int correct[] = {1, 0, 1, 1, 0, 1, 0};
    fm_bucket b[3];
    fm_err err = {0};
    FM_CHECK_INT(fm_eval_buckets(edges, 2, width, correct, 7, b, &err), FM_OK);
    FM_CHECK_INT(b[0].n, 2);
    FM_CHECK_INT(b[0].correct, 1);
    FM_CHECK_INT(b[1].n, 3); /* 32, 50, 63.99 */
    FM_CHECK_INT(b[1].correct, 2);
    FM_CHECK_INT(b[2].n, 2); /* 64, 100 */
    FM_CHECK_INT(b[2].correct, 1);
    FM_CHECK_NEAR(b[0].accuracy, 0.5, 0);
    FM_CHECK_NEAR(b[1].accuracy, 2.0 / 3, 1e-15);
    FM_CHECK(isinf(b[0].lo) && b[0].lo < 0);
    FM_CHECK(isinf(b[2].hi) && b[2].hi > 0);
    char lab[32];
    fm_bucket_label(&b[0], lab, sizeof lab);
    FM_CHECK(strcmp(lab, "<32") == 0);
    fm_bucket_label(&b[1], lab, sizeof lab);
    FM_CHECK(strcmp(lab, "32-64") == 0);
    fm_bucket_label(&b[2], lab, sizeof lab);
    FM_CHECK(strcmp(lab, ">=64") == 0);

    /* no edges: one bucket; an empty bucket has accuracy 0 */
    FM_CHECK_INT(fm_eval_buckets(NULL, 0, width, correct, 0, b, &err), FM_OK);
    FM_CHECK_INT(b[0].n, 0);
    FM_CHECK_NEAR(b[0].accuracy, 0, 0);
    fm_bucket_label(&b[0], lab, sizeof lab);
    FM_CHECK(strcmp(lab, "all") == 0);

    const double bad[] = {64, 32};
    FM_CHECK_INT(fm_eval_buckets(bad, 2, width, correct, 7, b, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "edge 1 (32) is not above edge 0 (64)");
    const double nanv[] = {1, NAN};
    FM_CHECK_INT(fm_eval_buckets(edges, 2, nanv, correct, 2, b, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "value 1 is NaN");
}

/* ---- IoU and AP ------------------------------------------------------------------------- */

static fm_eval_box B(double x1, double y1, double x2, double y2)
{
    return (fm_eval_box){x1, y1, x2, y2};
}

static void test_iou(void)
{
    FM_CHECK_NEAR(fm_eval_iou(B(0, 0, 10, 10), B(0, 0, 10, 10)), 1, 0);
    FM_CHECK_NEAR(fm_eval_iou(B(0, 0, 10, 10), B(5, 0, 15, 10)), 50.0 / 150, 1e-15);
    FM_CHECK_NEAR(fm_eval_iou(B(0, 0, 10, 10), B(0, 0, 5, 10)), 0.5, 0);
    /* continuous coordinates: 1 / 7 (the +1 pixel convention would give 4 / 14) */
    FM_CHECK_NEAR(fm_eval_iou(B(0, 0, 2, 2), B(1, 1, 3, 3)), 1.0 / 7, 1e-15);
    FM_CHECK_NEAR(fm_eval_iou(B(0, 0, 10, 10), B(10, 0, 20, 10)), 0, 0); /* touching */
    FM_CHECK_NEAR(fm_eval_iou(B(0, 0, 10, 10), B(30, 30, 40, 40)), 0, 0);
    FM_CHECK_NEAR(fm_eval_iou(B(5, 5, 5, 5), B(5, 5, 5, 5)), 0, 0);     /* zero area */
    FM_CHECK_NEAR(fm_eval_iou(B(10, 0, 0, 10), B(0, 0, 10, 10)), 0, 0); /* inverted */
}

/* The hand-worked scene (class 0 = mask, 1 = no_mask):
 * image A: GT a0 (0,0,10,10) c0, a1 (20,0,30,10) c0, a2 (40,0,50,10) ignore, a3 (60,0,70,10) c1
 * image B: GT b0 (0,0,10,10) c0 - never detected
 * class-0 detections by score:
 *   .9 on a0 exactly          TP   P 1/1  R 1/3
 *   .8 on a0 (IoU .9)         FP (duplicate)   P 1/2
 *   .7 on the ignore a2       ignored
 *   .6 on a1                  TP   P 2/3  R 2/3
 *   .5 in B, on nothing       FP   P 2/4
 *   .4 on a3 (a class-1 box)  FP   P 2/5
 * AP = 1/3 * 1 + 1/3 * 2/3 = 5/9 (interpolated precision 1 up to R 1/3, 2/3 up to R 2/3).
 * class 1: one detection .3 on a3 -> AP 1.
 * face recall: a0 (.9), a1 (.6), a3 (.4) matched; .3 on a3 is a duplicate; b0 missed -> 3/4. */
static const fm_eval_gt gt_a[] = {{{0, 0, 10, 10}, 0, 0},
                                  {{20, 0, 30, 10}, 0, 0},
                                  {{40, 0, 50, 10}, 0, 1},
                                  {{60, 0, 70, 10}, 1, 0}};
static const fm_eval_det det_a[] = {{{60, 0, 70, 10}, 1, 0.3f}, {{0, 0, 10, 9}, 0, 0.8f},
                                    {{20, 0, 30, 10}, 0, 0.6f}, {{0, 0, 10, 10}, 0, 0.9f},
                                    {{40, 0, 50, 10}, 0, 0.7f}, {{60, 0, 70, 10}, 0, 0.4f}};
static const fm_eval_gt gt_b[] = {{{0, 0, 10, 10}, 0, 0}};
static const fm_eval_det det_b[] = {{{100, 100, 110, 110}, 0, 0.5f}};

static void test_ap_hand(void)
{
    const fm_eval_image imgs[] = {{gt_a, 4, det_a, 6}, {gt_b, 1, det_b, 1}};
    fm_ap_result r;
    fm_err err = {0};
    FM_CHECK_INT(fm_eval_ap(imgs, 2, 0, 0.5, &r, &err), FM_OK);
    FM_CHECK_INT(r.n_gt, 3);
    FM_CHECK_INT(r.tp, 2);
    FM_CHECK_INT(r.fp, 3);
    FM_CHECK_INT(r.ignored, 1);
    FM_CHECK_NEAR(r.ap, 5.0 / 9, 1e-15);
    FM_CHECK_INT(r.n_points, 5);
    const double P[] = {1, 0.5, 2.0 / 3, 0.5, 0.4}, R[] = {1.0 / 3, 1.0 / 3, 2.0 / 3, 2.0 / 3,
                                                             2.0 / 3};
    for (size_t i = 0; i < 5 && i < r.n_points; i++) {
        FM_CHECK_NEAR(r.precision[i], P[i], 1e-15);
        FM_CHECK_NEAR(r.recall[i], R[i], 1e-15);
    }
    fm_ap_result_free(&r);

    FM_CHECK_INT(fm_eval_ap(imgs, 2, 1, 0.5, &r, &err), FM_OK);
    FM_CHECK_INT(r.n_gt, 1);
    FM_CHECK_NEAR(r.ap, 1, 0);
    fm_ap_result_free(&r);

    double rec;
    long long matched, total;
    FM_CHECK_INT(fm_eval_face_recall(imgs, 2, 0.5, &rec, &matched, &total, &err), FM_OK);
    FM_CHECK_INT(matched, 3);
    FM_CHECK_INT(total, 4);
    FM_CHECK_NEAR(rec, 0.75, 0);

    /* IoU >= .95: the duplicate (IoU .9) is now a plain FP instead; AP is unchanged */
    FM_CHECK_INT(fm_eval_ap(imgs, 2, 0, 0.95, &r, &err), FM_OK);
    FM_CHECK_NEAR(r.ap, 5.0 / 9, 1e-15);
    fm_ap_result_free(&r);
}

static void test_ap_edge_cases(void)
{
    fm_ap_result r;
    fm_err err = {0};
    /* best IoU on an ignore region wins over a real GT -> ignored, the GT stays missed */
    const fm_eval_gt g[] = {{{0, 0, 10, 10}, 0, 0}, {{0, 0, 10, 11}, 0, 1}};
    const fm_eval_det d[] = {{{0, 0, 10, 10.5}, 0, 0.9f}};
    fm_eval_image im = {g, 2, d, 1};
    FM_CHECK_INT(fm_eval_ap(&im, 1, 0, 0.5, &r, &err), FM_OK);
    FM_CHECK_INT(r.ignored, 1);
    FM_CHECK_INT(r.n_points, 0);
    FM_CHECK_NEAR(r.ap, 0, 0);
    fm_ap_result_free(&r);
    /* an ignore region absorbs any number of detections of any class */
    const fm_eval_gt gi[] = {{{0, 0, 10, 10}, 1, 1}};
    const fm_eval_det di[] = {{{0, 0, 10, 10}, 0, 0.9f}, {{0, 0, 10, 10}, 0, 0.8f}};
    fm_eval_image ii = {gi, 1, di, 2};
    FM_CHECK_INT(fm_eval_ap(&ii, 1, 0, 0.5, &r, &err), FM_OK);
    FM_CHECK_INT(r.ignored, 2);
    FM_CHECK_INT(r.fp, 0);
    FM_CHECK(isnan(r.ap)); /* no non-ignored GT of class 0 */
    fm_ap_result_free(&r);
    /* GT but no detections: 0; nothing at all: NaN */
    fm_eval_image only_gt = {g, 1, NULL, 0};
    FM_CHECK_INT(fm_eval_ap(&only_gt, 1, 0, 0.5, &r, &err), FM_OK);
    FM_CHECK_NEAR(r.ap, 0, 0);
    fm_ap_result_free(&r);
    FM_CHECK_INT(fm_eval_ap(NULL, 0, 0, 0.5, &r, &err), FM_OK);
    FM_CHECK(isnan(r.ap));
    fm_ap_result_free(&r);
    double rec;
    FM_CHECK_INT(fm_eval_face_recall(NULL, 0, 0.5, &rec, NULL, NULL, &err), FM_OK);
    FM_CHECK(isnan(rec));
    /* equal scores keep input order: a TP listed first gives precision 1 then 1/2 */
    const fm_eval_det tie[] = {{{0, 0, 10, 10}, 0, 0.5f}, {{50, 50, 60, 60}, 0, 0.5f}};
    fm_eval_image it = {g, 1, tie, 2};
    FM_CHECK_INT(fm_eval_ap(&it, 1, 0, 0.5, &r, &err), FM_OK);
    FM_CHECK_NEAR(r.ap, 1, 0);
    FM_CHECK_NEAR(r.precision[1], 0.5, 0);
    fm_ap_result_free(&r);
    /* exactly at the threshold counts: IoU (0,0,10,10) vs (0,0,5,10) = 0.5 */
    const fm_eval_det half[] = {{{0, 0, 5, 10}, 0, 0.5f}};
    fm_eval_image ih = {g, 1, half, 1};
    FM_CHECK_INT(fm_eval_ap(&ih, 1, 0, 0.5, &r, &err), FM_OK);
    FM_CHECK_INT(r.tp, 1);
    fm_ap_result_free(&r);
}

static void test_ap_errors(void)
{
    fm_ap_result r;
    fm_err err = {0};
    const fm_eval_gt g[] = {{{0, 0, 10, 10}, 0, 0}};
    const fm_eval_det d[] = {{{0, 0, 10, 10}, 1, 0.5f}, {{0, 0, 10, 10}, 0, NAN}};
    fm_eval_image im = {g, 1, d, 2};
    FM_CHECK_INT(fm_eval_ap(&im, 1, 0, 0, &r, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "AP: IoU threshold 0 outside (0, 1]");
    FM_CHECK(r.precision == NULL);
    FM_CHECK_INT(fm_eval_ap(&im, 1, 0, 0.5, &r, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "AP: image 0 detection 1 has a NaN score");
    FM_CHECK_INT(fm_eval_ap(&im, 1, -1, 0.5, &r, &err), FM_ERR_ARG);
    double rec;
    FM_CHECK_INT(fm_eval_face_recall(&im, 1, 1.5, &rec, NULL, NULL, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "face recall: IoU threshold 1.5");
    fm_eval_image bad = {NULL, 3, NULL, 0};
    FM_CHECK_INT(fm_eval_ap(&bad, 1, 0, 0.5, &r, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "image 0 has a count but no array");
}

/* Reads one golden case from ap.txt; returns 0 at the end. */
typedef struct {
    fm_eval_image img[8];
    fm_eval_gt gt[8][16];
    fm_eval_det det[8][32];
    int n_images;
    double ap[2], recall;
    long long n_gt[2];
} ap_case;

static int read_ap_case(char **save, ap_case *c, int *bad)
{
    char *line;
    while ((line = strtok_r(NULL, "\n", save)) && line[0] == '#')
        ;
    if (!line)
        return 0;
    if (sscanf(line, "case %d %lf %lf %lf %lld %lld", &c->n_images, &c->ap[0], &c->ap[1],
               &c->recall, &c->n_gt[0], &c->n_gt[1]) != 6 ||
        c->n_images < 1 || c->n_images > 8) {
        *bad = 1;
        return 0;
    }
    for (int i = 0; i < c->n_images; i++) {
        int ng, nd;
        line = strtok_r(NULL, "\n", save);
        if (!line || sscanf(line, "image %d %d", &ng, &nd) != 2 || ng < 0 || ng > 16 || nd < 0 ||
            nd > 32) {
            *bad = 1;
            return 0;
        }
        for (int k = 0; k < ng + nd; k++) {
            line = strtok_r(NULL, "\n", save);
            int ok;
            if (k < ng) {
                fm_eval_gt *g = &c->gt[i][k];
                ok = line && sscanf(line, "g %lf %lf %lf %lf %d %d", &g->box.x1, &g->box.y1,
                                    &g->box.x2, &g->box.y2, &g->cls, &g->ignore) == 6;
            } else {
                fm_eval_det *d = &c->det[i][k - ng];
                ok = line && sscanf(line, "d %lf %lf %lf %lf %d %f", &d->box.x1, &d->box.y1,
                                    &d->box.x2, &d->box.y2, &d->cls, &d->score) == 6;
            }
            if (!ok) {
                *bad = 1;
                return 0;
            }
        }
        c->img[i] = (fm_eval_image){c->gt[i], (size_t)ng, c->det[i], (size_t)nd};
    }
    return 1;
}

static int same_or_both_nan(double a, double b, double tol)
{
    return (isnan(a) && isnan(b)) || fabs(a - b) <= tol;
}

static void test_ap_golden(void)
{
    size_t len;
    char *text = fm_test_read_file(FIX "ap.txt", &len);
    FM_CHECK_MSG(text != NULL, "cannot read " FIX "ap.txt");
    if (!text)
        return;
    char *save = NULL;
    strtok_r(text, "\n", &save); /* header comment */
    static ap_case c;
    int cases = 0, bad = 0, nan_seen = 0;
    while (read_ap_case(&save, &c, &bad)) {
        fm_err err = {0};
        for (int cls = 0; cls < 2; cls++) {
            fm_ap_result r;
            FM_CHECK_INT(fm_eval_ap(c.img, (size_t)c.n_images, cls, 0.5, &r, &err), FM_OK);
            FM_CHECK_MSG(same_or_both_nan(r.ap, c.ap[cls], 1e-9),
                         "ap.txt case %d class %d: AP %.17g, expected %.17g", cases, cls, r.ap,
                         c.ap[cls]);
            FM_CHECK_INT(r.n_gt, c.n_gt[cls]);
            nan_seen += isnan(r.ap);
            fm_ap_result_free(&r);
        }
        double rec;
        FM_CHECK_INT(fm_eval_face_recall(c.img, (size_t)c.n_images, 0.5, &rec, NULL, NULL, &err),
                     FM_OK);
        FM_CHECK_MSG(same_or_both_nan(rec, c.recall, 1e-9),
                     "ap.txt case %d: face recall %.17g, expected %.17g", cases, rec, c.recall);
        cases++;
    }
    FM_CHECK_MSG(!bad, "ap.txt: malformed after case %d", cases);
    FM_CHECK_INT(cases, 40);
    FM_CHECK(nan_seen > 0); /* the set covers a class without ground truth */
    free(text);
}

/* Recall per bucket of ground truth: widths 10, 20, 40, 100 px and one ignored box;
 * the detection of the 20 px face is a duplicate-free TP, the 100 px face's detection
 * misses (IoU < 0.5), the 10 px face is found twice (one TP). */
static void test_recall_buckets(void)
{
    fm_eval_gt gt[5] = {
        {{0, 0, 10, 10}, 0, 0},     {{20, 0, 40, 20}, 1, 0}, {{50, 0, 90, 40}, 0, 0},
        {{100, 0, 200, 100}, 1, 0}, {{300, 0, 310, 10}, 0, 1},
    };
    fm_eval_det det[4] = {
        {{0, 0, 10, 10}, 0, 0.9f},
        {{0, 0, 10, 9}, 0, 0.8f},
        {{20, 0, 40, 20}, 1, 0.7f},
        {{100, 0, 130, 100}, 1, 0.6f},
    };
    fm_eval_image im = {gt, 5, det, 4};
    long long m[4], t[4];
    fm_err err = {0};
    FM_CHECK_INT(fm_eval_face_recall_buckets(&im, 1, 0.5, fm_eval_width_bucket, NULL, 4, m, t,
                                             &err),
                 FM_OK);
    const long long wm[4] = {1, 1, 0, 0}, wt[4] = {1, 1, 1, 1};
    for (int b = 0; b < 4; b++) {
        FM_CHECK_INT((int)m[b], (int)wm[b]);
        FM_CHECK_INT((int)t[b], (int)wt[b]);
    }
    FM_CHECK_INT(fm_eval_face_recall_buckets(&im, 1, 0.5, fm_eval_class_bucket, NULL, 2, m, t,
                                             &err),
                 FM_OK);
    FM_CHECK_INT((int)m[0], 1); /* mask: 10 px found, 40 px missed */
    FM_CHECK_INT((int)t[0], 2);
    FM_CHECK_INT((int)m[1], 1); /* no_mask: 20 px found, 100 px missed */
    FM_CHECK_INT((int)t[1], 2);
    FM_CHECK_INT(fm_eval_face_recall_buckets(&im, 1, 0, fm_eval_width_bucket, NULL, 4, m, t, &err),
                 FM_ERR_ARG);
}

/* Which face each detection found (fm_eval_match_image), worked by hand: a duplicate, an
 * ignore region, a box on nothing, one below the IoU, and a score tie decided by index order
 * (not by the better IoU). */
static void test_match_image(void)
{
    const fm_eval_gt gt[3] = {{{0, 0, 10, 10}, 0, 0},   /* g0 mask */
                              {{20, 0, 30, 10}, 1, 0},  /* g1 no_mask */
                              {{40, 0, 50, 10}, 0, 1}}; /* g2 ignore */
    const fm_eval_det det[7] = {
        {{0, 0, 10, 8}, 1, 0.5f},   /* IoU 0.8 with g0, but d1 took it: duplicate */
        {{0, 0, 10, 10}, 0, 0.9f},  /* g0, IoU 1 */
        {{20, 0, 28, 10}, 0, 0.7f}, /* g1, IoU 0.8 */
        {{40, 0, 50, 10}, 1, 0.8f}, /* the ignore region */
        {{60, 0, 70, 10}, 0, 0.95f}, /* nothing there */
        {{25, 0, 35, 10}, 0, 0.6f}, /* IoU 50/150 = 0.333 with g1 */
        {{20, 0, 30, 10}, 1, 0.7f}, /* IoU 1 with g1, same score as d2 but later: d2 wins */
    };
    fm_eval_image im = {gt, 3, det, 7};
    int got[7];
    fm_err err = {0};
    FM_CHECK_INT(fm_eval_match_image(&im, 0.5, got, &err), FM_OK);
    const int want[7] = {FM_EVAL_UNMATCHED, 0, 1, FM_EVAL_IGNORED, FM_EVAL_UNMATCHED,
                         FM_EVAL_UNMATCHED, FM_EVAL_UNMATCHED};
    for (int k = 0; k < 7; k++)
        FM_CHECK_MSG(got[k] == want[k], "detection %d matched %d, expected %d", k, got[k],
                     want[k]);
    /* at IoU 0.9, d2 (0.8) no longer matches, so d6 takes g1 */
    FM_CHECK_INT(fm_eval_match_image(&im, 0.9, got, &err), FM_OK);
    const int want9[7] = {FM_EVAL_UNMATCHED, 0, FM_EVAL_UNMATCHED, FM_EVAL_IGNORED,
                          FM_EVAL_UNMATCHED, FM_EVAL_UNMATCHED, 1};
    for (int k = 0; k < 7; k++)
        FM_CHECK_MSG(got[k] == want9[k], "IoU 0.9: detection %d matched %d, expected %d", k,
                     got[k], want9[k]);
    /* no detection, no face: nothing to do */
    fm_eval_image empty = {NULL, 0, NULL, 0};
    FM_CHECK_INT(fm_eval_match_image(&empty, 0.5, got, &err), FM_OK);
    FM_CHECK_INT(fm_eval_match_image(&im, 0, got, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "IoU threshold 0 outside (0, 1]");
}

void suite_eval_metrics(void);
void suite_eval_metrics(void)
{
    FM_RUN(test_confusion_2x2);
    FM_RUN(test_confusion_multiclass_and_zero_division);
    FM_RUN(test_confusion_errors);
    FM_RUN(test_auc_exact);
    FM_RUN(test_auc_undefined_and_errors);
    FM_RUN(test_auc_golden);
    FM_RUN(test_buckets);
    FM_RUN(test_iou);
    FM_RUN(test_ap_hand);
    FM_RUN(test_ap_edge_cases);
    FM_RUN(test_ap_errors);
    FM_RUN(test_ap_golden);
    FM_RUN(test_recall_buckets);
    FM_RUN(test_match_image);
}
