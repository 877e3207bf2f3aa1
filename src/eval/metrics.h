/* metrics.h - how good is a classifier or a detector: confusion matrix,
 * precision/recall/F1, ROC AUC, accuracy by bucket, IoU and VOC detection AP.
 *
 * Classification (labels are class indices 0..n_classes-1):
 *
 *     fm_confusion cm;
 *     fm_confusion_init(&cm, 2, &err);
 *     for (i = 0; i < n; i++) fm_confusion_add(&cm, truth[i], pred[i], &err);
 *     fm_class_stats s = fm_confusion_class(&cm, 1);   // s.precision, s.recall, s.f1
 *     double acc = fm_confusion_accuracy(&cm);
 *     double auc;
 *     fm_eval_auc(p_mask, is_mask, n, &auc, &err);       // scores: higher = more positive
 *
 * Detection (PASCAL VOC 2010+ style AP at an IoU threshold, usually 0.5):
 *
 *     fm_eval_image imgs[N];   // per image: ground truth and detections
 *     fm_ap_result ap;
 *     fm_eval_ap(imgs, N, cls, 0.5, &ap, &err);   // ap.ap, ap.precision[], ...
 *     fm_ap_result_free(&ap);
 *     fm_eval_face_recall(imgs, N, 0.5, &rec, &err);
 *
 * Conventions
 *  - Boxes are in continuous pixel coordinates: (x1, y1) is the top-left corner and
 *    (x2, y2) the bottom-right, a box covers [x1, x2) x [y1, y2), its width is x2 - x1
 *    (no "+1" as in the original VOC devkit, which treated corners as pixel indices).
 *    A box with x2 <= x1 or y2 <= y1 has zero area.
 *  - 0/0: precision with no predictions of the class, recall with no samples of the
 *    class, F1 with precision + recall == 0, and accuracy of nothing are 0 (the
 *    zero_division=0 convention of scikit-learn); the counts in fm_class_stats tell
 *    such cases apart. ROC AUC without both a positive and a negative, and AP of a
 *    class with no (non-ignored) ground truth, are undefined: NaN.
 *  - All functions are pure; nothing is kept between calls.
 */
#ifndef FM_METRICS_H
#define FM_METRICS_H

#include <stddef.h>

#include "core/err.h"

/* ---- confusion matrix -------------------------------------------------------- */

#define FM_CONFUSION_MAX_CLASSES 16

/* A plain value: rows are the true class, columns the predicted class. */
typedef struct {
    int n_classes;
    long long counts[FM_CONFUSION_MAX_CLASSES][FM_CONFUSION_MAX_CLASSES];
} fm_confusion;

/* Zeroes cm for n_classes (1..FM_CONFUSION_MAX_CLASSES); FM_ERR_ARG otherwise. */
fm_status fm_confusion_init(fm_confusion *cm, int n_classes, fm_err *err);
/* Counts one sample; FM_ERR_ARG (and nothing counted) if a label is out of range. */
fm_status fm_confusion_add(fm_confusion *cm, int truth, int pred, fm_err *err);
/* init + add for n pairs; on a bad label the message names its index. */
fm_status fm_confusion_from_labels(fm_confusion *cm, int n_classes, const int *truth,
                                   const int *pred, size_t n, fm_err *err);

typedef struct {
    long long tp;        /* true c, predicted c */
    long long fp;        /* predicted c, true another class */
    long long fn;        /* true c, predicted another class */
    long long support;   /* samples whose true class is c (tp + fn) */
    double precision;    /* tp / (tp + fp), 0 when nothing was predicted as c */
    double recall;       /* tp / (tp + fn), 0 when c has no samples */
    double f1;           /* 2PR / (P + R), 0 when P + R == 0 */
} fm_class_stats;

/* Statistics of class c (one-vs-rest). c must be in range (assert). */
fm_class_stats fm_confusion_class(const fm_confusion *cm, int c);
/* Total number of samples. */
long long fm_confusion_total(const fm_confusion *cm);
/* Fraction on the diagonal; 0 for an empty matrix. */
double fm_confusion_accuracy(const fm_confusion *cm);
/* Unweighted mean of the per-class F1 (0/0 classes count as 0). */
double fm_confusion_macro_f1(const fm_confusion *cm);

/* ---- ROC AUC ------------------------------------------------------------------- */

/* Area under the ROC curve of scores for the binary labels positive[i] != 0:
 * the probability that a random positive scores higher than a random negative,
 * ties counting one half (the Mann-Whitney U statistic with average ranks; equal to
 * the trapezoidal area under the ROC curve with tied scores forming one step).
 * NaN (and FM_OK) when there is no positive or no negative. FM_ERR_ARG for a NaN
 * score, FM_ERR_NOMEM if the O(n) sort buffer cannot be allocated. */
fm_status fm_eval_auc(const float *scores, const int *positive, size_t n, double *auc,
                      fm_err *err);

/* ---- accuracy by bucket ------------------------------------------------------------ */

/* Buckets from k strictly increasing edges e[0..k-1]: bucket 0 is value < e[0],
 * bucket i is e[i-1] <= value < e[i], bucket k is value >= e[k-1] (k + 1 buckets).
 * E.g. face width with edges {32, 64}: <32, 32-64, >=64. */
typedef struct {
    double lo, hi;      /* -HUGE_VAL / HUGE_VAL for the open ends */
    long long n;        /* samples in the bucket */
    long long correct;  /* of which correct[i] != 0 */
    double accuracy;    /* correct / n, 0 for an empty bucket */
} fm_bucket;

/* Fills out[0..n_edges] (n_edges + 1 entries). FM_ERR_ARG if the edges are not
 * strictly increasing or finite, or a value is NaN (the message names its index). */
fm_status fm_eval_buckets(const double *edges, int n_edges, const double *values,
                          const int *correct, size_t n, fm_bucket *out, fm_err *err);
/* "<32", "32-64", ">=64" style label of bucket b (values printed with %g). */
void fm_bucket_label(const fm_bucket *b, char *buf, size_t size);

/* ---- detection ------------------------------------------------------------------- */

typedef struct {
    double x1, y1, x2, y2; /* continuous pixel coordinates, see the conventions above */
} fm_eval_box;

/* Intersection over union in [0, 1]; 0 when the union has zero area. */
double fm_eval_iou(fm_eval_box a, fm_eval_box b);

typedef struct {
    fm_eval_box box;
    int cls;    /* class index; unused when ignore is set */
    int ignore; /* non-zero: an "ignore" region (e.g. mask_weared_incorrect) */
} fm_eval_gt;

typedef struct {
    fm_eval_box box;
    int cls;
    float score; /* higher = more confident */
} fm_eval_det;

/* One image: arrays borrowed from the caller (either may be NULL when its count is 0). */
typedef struct {
    const fm_eval_gt *gt;
    size_t n_gt;
    const fm_eval_det *det;
    size_t n_det;
} fm_eval_image;

/* AP of one class. precision/recall are malloc'd (free with fm_ap_result_free):
 * one point per counted (TP or FP) detection, in the order they were ranked. */
typedef struct {
    int cls;
    long long n_gt;     /* non-ignored ground-truth boxes of the class */
    long long tp, fp;   /* counted detections */
    long long ignored;  /* detections whose best match was an ignore region */
    double ap;          /* in [0, 1]; NaN when n_gt == 0 */
    size_t n_points;
    double *precision;
    double *recall;
} fm_ap_result;

/* VOC AP of class cls at IoU >= iou_thresh over all images.
 * Matching: the class's detections from all images are ranked by descending score
 * (equal scores keep input order: image, then detection index). Each one is compared
 * with the image's ground truth of class cls and its ignore regions (of any class):
 *  - best IoU < iou_thresh                        -> FP
 *  - best box is an ignore region                 -> ignored (neither TP nor FP;
 *                                                    an ignore region may absorb many)
 *  - best box is a GT not yet matched             -> TP, the GT is now matched
 *  - best box is a GT already matched (duplicate) -> FP
 * (the best box is the first one with the highest IoU in array order.)
 * AP is the area under the interpolated precision/recall curve, all points
 * (VOC2010+): precision made non-increasing from the right, summed over every
 * recall step. A class with ground truth but no detections has AP 0.
 * FM_ERR_ARG for iou_thresh outside (0, 1] or a NaN score; FM_ERR_NOMEM. On error
 * *out holds no memory. */
fm_status fm_eval_ap(const fm_eval_image *images, size_t n_images, int cls, double iou_thresh,
                     fm_ap_result *out, fm_err *err);
void fm_ap_result_free(fm_ap_result *r);

/* Class-agnostic face recall: the same greedy matching as fm_eval_ap over all
 * detections regardless of class (and all non-ignored GT regardless of class);
 * *recall = matched / total non-ignored GT (NaN when there is none). matched and
 * total may be NULL. Errors as fm_eval_ap. */
fm_status fm_eval_face_recall(const fm_eval_image *images, size_t n_images, double iou_thresh,
                              double *recall, long long *matched, long long *total, fm_err *err);

/* The same matching, counted per bucket of ground truth: bucket(gt, ctx) gives each
 * non-ignored box a bucket in [0, nbuckets) (or -1: left out); matched[b] and total[b]
 * (nbuckets each) receive the counts. fm_eval_width_bucket is the usual one: box width
 * 0-16, 16-32, 32-64, 64+ px -> 0..3 (ctx unused). Errors as fm_eval_ap. */
fm_status fm_eval_face_recall_buckets(const fm_eval_image *images, size_t n_images,
                                      double iou_thresh, int (*bucket)(const fm_eval_gt *, void *),
                                      void *ctx, int nbuckets, long long *matched,
                                      long long *total, fm_err *err);
int fm_eval_width_bucket(const fm_eval_gt *g, void *ctx);

/* Which face each detection of one image found, by the same class-agnostic greedy matching
 * as fm_eval_face_recall: detections by descending score (equal scores in index order), each
 * to the box (ignore regions included) of highest IoU, the first in array order on ties.
 * det_gt[k] (image->n_det entries) receives for detection k the index of the ground-truth box
 * it matched, FM_EVAL_UNMATCHED (best IoU below iou_thresh, or a box an earlier detection
 * already matched) or FM_EVAL_IGNORED (its best box is an ignore region). The label accuracy
 * of matched faces (eval --voc) and the classifier's crops from a detector's own boxes
 * (train/det_crops.h) both rest on it. Errors as fm_eval_ap. */
#define FM_EVAL_UNMATCHED (-1)
#define FM_EVAL_IGNORED (-2)
fm_status fm_eval_match_image(const fm_eval_image *image, double iou_thresh, int *det_gt,
                              fm_err *err);
/* The ground truth's class (mask 0, no_mask 1). */
int fm_eval_class_bucket(const fm_eval_gt *g, void *ctx);

#endif
