#include "eval/metrics.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- confusion matrix -------------------------------------------------------- */

fm_status fm_confusion_init(fm_confusion *cm, int n_classes, fm_err *err)
{
    if (n_classes < 1 || n_classes > FM_CONFUSION_MAX_CLASSES)
        return fm_err_set(err, FM_ERR_ARG, "confusion matrix: %d classes, expected 1..%d",
                          n_classes, FM_CONFUSION_MAX_CLASSES);
    memset(cm, 0, sizeof *cm);
    cm->n_classes = n_classes;
    return FM_OK;
}

fm_status fm_confusion_add(fm_confusion *cm, int truth, int pred, fm_err *err)
{
    int n = cm->n_classes;
    if (truth < 0 || truth >= n || pred < 0 || pred >= n)
        return fm_err_set(err, FM_ERR_ARG,
                          "confusion matrix: label pair (true %d, predicted %d) outside 0..%d",
                          truth, pred, n - 1);
    cm->counts[truth][pred]++;
    return FM_OK;
}

fm_status fm_confusion_from_labels(fm_confusion *cm, int n_classes, const int *truth,
                                   const int *pred, size_t n, fm_err *err)
{
    fm_status st = fm_confusion_init(cm, n_classes, err);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++) {
        st = fm_confusion_add(cm, truth[i], pred[i], err);
        if (st)
            return fm_err_prefix(err, "sample %zu: ", i);
    }
    return FM_OK;
}

static double ratio(long long num, long long den)
{
    return den > 0 ? (double)num / (double)den : 0.0;
}

fm_class_stats fm_confusion_class(const fm_confusion *cm, int c)
{
    assert(c >= 0 && c < cm->n_classes);
    fm_class_stats s = {0};
    s.tp = cm->counts[c][c];
    for (int k = 0; k < cm->n_classes; k++) {
        if (k == c)
            continue;
        s.fp += cm->counts[k][c];
        s.fn += cm->counts[c][k];
    }
    s.support = s.tp + s.fn;
    s.precision = ratio(s.tp, s.tp + s.fp);
    s.recall = ratio(s.tp, s.tp + s.fn);
    double pr = s.precision + s.recall;
    s.f1 = pr > 0 ? 2.0 * s.precision * s.recall / pr : 0.0;
    return s;
}

long long fm_confusion_total(const fm_confusion *cm)
{
    long long t = 0;
    for (int i = 0; i < cm->n_classes; i++)
        for (int j = 0; j < cm->n_classes; j++)
            t += cm->counts[i][j];
    return t;
}

double fm_confusion_accuracy(const fm_confusion *cm)
{
    long long diag = 0;
    for (int i = 0; i < cm->n_classes; i++)
        diag += cm->counts[i][i];
    return ratio(diag, fm_confusion_total(cm));
}

double fm_confusion_macro_f1(const fm_confusion *cm)
{
    double sum = 0;
    for (int c = 0; c < cm->n_classes; c++)
        sum += fm_confusion_class(cm, c).f1;
    return cm->n_classes > 0 ? sum / cm->n_classes : 0.0;
}

/* ---- ROC AUC ------------------------------------------------------------------- */

typedef struct {
    float score;
    int positive;
} scored;

static int cmp_scored_asc(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    return (a->score > b->score) - (a->score < b->score);
}

fm_status fm_eval_auc(const float *scores, const int *positive, size_t n, double *auc,
                      fm_err *err)
{
    *auc = NAN;
    long long n_pos = 0, n_neg = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(scores[i]))
            return fm_err_set(err, FM_ERR_ARG, "ROC AUC: score %zu is NaN", i);
        if (positive[i])
            n_pos++;
        else
            n_neg++;
    }
    if (n_pos == 0 || n_neg == 0)
        return FM_OK;
    size_t bytes;
    scored *v = NULL;
    if (!fm_size_mul(n, sizeof *v, &bytes) || !(v = malloc(bytes)))
        return fm_err_set(err, FM_ERR_NOMEM, "ROC AUC: cannot allocate %zu samples", n);
    for (size_t i = 0; i < n; i++) {
        v[i].score = scores[i];
        v[i].positive = positive[i] != 0;
    }
    qsort(v, n, sizeof *v, cmp_scored_asc);
    /* Twice the sum of the positives' 1-based average ranks, kept as an exact integer:
     * a tie group at sorted positions i..j-1 shares the rank (i + 1 + j) / 2. */
    double rank2_sum = 0; /* integers below 2^53 for n < ~6e7: exact */
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && v[j].score == v[i].score)
            j++;
        long long pos_in_group = 0;
        for (size_t k = i; k < j; k++)
            pos_in_group += v[k].positive;
        rank2_sum += (double)pos_in_group * (double)(i + 1 + j);
        i = j;
    }
    free(v);
    /* U = sum of ranks - P(P+1)/2; AUC = U / (P N). */
    double u2 = rank2_sum - (double)n_pos * (double)(n_pos + 1);
    *auc = u2 / (2.0 * (double)n_pos * (double)n_neg);
    return FM_OK;
}

/* ---- accuracy by bucket ------------------------------------------------------------ */

fm_status fm_eval_buckets(const double *edges, int n_edges, const double *values,
                          const int *correct, size_t n, fm_bucket *out, fm_err *err)
{
    if (n_edges < 0)
        return fm_err_set(err, FM_ERR_ARG, "buckets: %d edges, expected >= 0", n_edges);
    for (int i = 0; i < n_edges; i++) {
        if (!isfinite(edges[i]))
            return fm_err_set(err, FM_ERR_ARG, "buckets: edge %d is not finite", i);
        if (i > 0 && !(edges[i] > edges[i - 1]))
            return fm_err_set(err, FM_ERR_ARG,
                              "buckets: edge %d (%g) is not above edge %d (%g); edges must "
                              "increase strictly",
                              i, edges[i], i - 1, edges[i - 1]);
    }
    for (size_t i = 0; i < n; i++)
        if (isnan(values[i]))
            return fm_err_set(err, FM_ERR_ARG, "buckets: value %zu is NaN", i);
    for (int b = 0; b <= n_edges; b++) {
        out[b].lo = b == 0 ? -HUGE_VAL : edges[b - 1];
        out[b].hi = b == n_edges ? HUGE_VAL : edges[b];
        out[b].n = out[b].correct = 0;
        out[b].accuracy = 0;
    }
    for (size_t i = 0; i < n; i++) {
        int lo = 0, hi = n_edges; /* first edge > value, by bisection */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (values[i] < edges[mid])
                hi = mid;
            else
                lo = mid + 1;
        }
        out[lo].n++;
        out[lo].correct += correct[i] != 0;
    }
    for (int b = 0; b <= n_edges; b++)
        out[b].accuracy = ratio(out[b].correct, out[b].n);
    return FM_OK;
}

void fm_bucket_label(const fm_bucket *b, char *buf, size_t size)
{
    if (size == 0)
        return;
    int lo_open = isinf(b->lo), hi_open = isinf(b->hi);
    if (lo_open && hi_open)
        snprintf(buf, size, "all");
    else if (lo_open)
        snprintf(buf, size, "<%g", b->hi);
    else if (hi_open)
        snprintf(buf, size, ">=%g", b->lo);
    else
        snprintf(buf, size, "%g-%g", b->lo, b->hi);
}

/* ---- detection ------------------------------------------------------------------- */

double fm_eval_iou(fm_eval_box a, fm_eval_box b)
{
    double iw = fmin(a.x2, b.x2) - fmax(a.x1, b.x1);
    double ih = fmin(a.y2, b.y2) - fmax(a.y1, b.y1);
    double inter = (iw > 0 && ih > 0) ? iw * ih : 0.0;
    double wa = a.x2 - a.x1, ha = a.y2 - a.y1, wb = b.x2 - b.x1, hb = b.y2 - b.y1;
    double area_a = (wa > 0 && ha > 0) ? wa * ha : 0.0;
    double area_b = (wb > 0 && hb > 0) ? wb * hb : 0.0;
    double uni = area_a + area_b - inter;
    return uni > 0 ? inter / uni : 0.0;
}

typedef struct {
    float score;
    size_t img, idx;
} ranked;

/* Descending score; equal scores keep input order (image, then index). */
static int cmp_ranked(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->img != b->img)
        return a->img < b->img ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

enum { OUT_FP = 0, OUT_TP = 1, OUT_IGNORED = 2 };

/* The greedy VOC matching shared by AP (cls >= 0: one class) and face recall (cls < 0:
 * every class). On success *outcome holds one OUT_* per ranked detection (malloc'd,
 * *n_ranked of them) and *n_gt the non-ignored GT considered. */
/* gt_matched, when not NULL, receives the matched flag of every ground-truth box, all
 * images' boxes one after the other (the caller frees it). det_gt, when not NULL (one image
 * only), receives per detection (input order) the GT index it matched or FM_EVAL_UNMATCHED /
 * FM_EVAL_IGNORED; detections of other classes stay FM_EVAL_UNMATCHED. */
static fm_status match_detections(const fm_eval_image *images, size_t n_images, int cls,
                                  double iou_thresh, const char *what, unsigned char **outcome,
                                  size_t *n_ranked, long long *n_gt, unsigned char **gt_matched,
                                  int *det_gt, fm_err *err)
{
    *outcome = NULL;
    if (gt_matched)
        *gt_matched = NULL;
    *n_ranked = 0;
    *n_gt = 0;
    if (!(iou_thresh > 0 && iou_thresh <= 1))
        return fm_err_set(err, FM_ERR_ARG, "%s: IoU threshold %g outside (0, 1]", what,
                          iou_thresh);
    size_t n_det = 0, total_gt = 0;
    for (size_t i = 0; i < n_images; i++) {
        const fm_eval_image *im = &images[i];
        if ((im->n_gt && !im->gt) || (im->n_det && !im->det))
            return fm_err_set(err, FM_ERR_ARG, "%s: image %zu has a count but no array", what,
                              i);
        for (size_t k = 0; k < im->n_det; k++) {
            if (cls >= 0 && im->det[k].cls != cls)
                continue;
            if (isnan(im->det[k].score))
                return fm_err_set(err, FM_ERR_ARG, "%s: image %zu detection %zu has a NaN score",
                                  what, i, k);
            n_det++;
        }
        for (size_t k = 0; k < im->n_gt; k++)
            if (!im->gt[k].ignore && (cls < 0 || im->gt[k].cls == cls))
                (*n_gt)++;
        if (!fm_size_add(total_gt, im->n_gt, &total_gt))
            return fm_err_set(err, FM_ERR_NOMEM, "%s: ground-truth count overflows", what);
    }
    size_t bytes;
    ranked *order = NULL;
    unsigned char *matched = NULL, *out = NULL;
    size_t *gt_start = NULL;
    if (!fm_size_mul(n_det, sizeof *order, &bytes) || !(order = malloc(bytes ? bytes : 1)) ||
        !(matched = calloc(total_gt ? total_gt : 1, 1)) || !(out = malloc(n_det ? n_det : 1)) ||
        !fm_size_mul(n_images, sizeof *gt_start, &bytes) ||
        !(gt_start = malloc(bytes ? bytes : 1))) {
        free(order);
        free(matched);
        free(out);
        free(gt_start);
        return fm_err_set(err, FM_ERR_NOMEM, "%s: cannot allocate for %zu detections, %zu boxes",
                          what, n_det, total_gt);
    }
    size_t m = 0, start = 0;
    for (size_t i = 0; i < n_images; i++) {
        gt_start[i] = start;
        start += images[i].n_gt;
        for (size_t k = 0; k < images[i].n_det; k++)
            if (cls < 0 || images[i].det[k].cls == cls)
                order[m++] = (ranked){images[i].det[k].score, i, k};
    }
    qsort(order, n_det, sizeof *order, cmp_ranked);
    for (size_t r = 0; r < n_det; r++) {
        const fm_eval_image *im = &images[order[r].img];
        fm_eval_box box = im->det[order[r].idx].box;
        double best = -1;
        size_t best_k = 0;
        for (size_t k = 0; k < im->n_gt; k++) {
            const fm_eval_gt *g = &im->gt[k];
            if (!g->ignore && cls >= 0 && g->cls != cls)
                continue;
            double iou = fm_eval_iou(box, g->box);
            if (iou > best) {
                best = iou;
                best_k = k;
            }
        }
        if (best < iou_thresh) {
            out[r] = OUT_FP;
        } else if (im->gt[best_k].ignore) {
            out[r] = OUT_IGNORED;
        } else {
            unsigned char *flag = &matched[gt_start[order[r].img] + best_k];
            out[r] = *flag ? OUT_FP : OUT_TP;
            *flag = 1;
        }
        if (det_gt)
            det_gt[order[r].idx] = out[r] == OUT_TP       ? (int)best_k
                                   : out[r] == OUT_IGNORED ? FM_EVAL_IGNORED
                                                          : FM_EVAL_UNMATCHED;
    }
    free(order);
    if (gt_matched)
        *gt_matched = matched;
    else
        free(matched);
    free(gt_start);
    *outcome = out;
    *n_ranked = n_det;
    return FM_OK;
}

fm_status fm_eval_ap(const fm_eval_image *images, size_t n_images, int cls, double iou_thresh,
                     fm_ap_result *out, fm_err *err)
{
    memset(out, 0, sizeof *out);
    out->cls = cls;
    out->ap = NAN;
    if (cls < 0)
        return fm_err_set(err, FM_ERR_ARG, "AP: class %d, expected >= 0", cls);
    unsigned char *oc;
    size_t n;
    long long n_gt;
    fm_status st = match_detections(images, n_images, cls, iou_thresh, "AP", &oc, &n, &n_gt, NULL, NULL, err);
    if (st)
        return st;
    size_t counted = 0;
    for (size_t r = 0; r < n; r++)
        counted += oc[r] != OUT_IGNORED;
    double *prec = malloc((counted ? counted : 1) * sizeof *prec);
    double *rec = malloc((counted ? counted : 1) * sizeof *rec);
    if (!prec || !rec) {
        free(prec);
        free(rec);
        free(oc);
        return fm_err_set(err, FM_ERR_NOMEM, "AP: cannot allocate a %zu-point curve", counted);
    }
    long long tp = 0, fp = 0, ignored = 0;
    size_t p = 0;
    for (size_t r = 0; r < n; r++) {
        if (oc[r] == OUT_IGNORED) {
            ignored++;
            continue;
        }
        if (oc[r] == OUT_TP)
            tp++;
        else
            fp++;
        prec[p] = (double)tp / (double)(tp + fp);
        rec[p] = n_gt > 0 ? (double)tp / (double)n_gt : 0.0;
        p++;
    }
    free(oc);
    out->n_gt = n_gt;
    out->tp = tp;
    out->fp = fp;
    out->ignored = ignored;
    out->n_points = counted;
    out->precision = prec;
    out->recall = rec;
    if (n_gt > 0) {
        /* All-point interpolation: walking from the last point back, the interpolated
         * precision at a recall level is the best precision at that or any higher recall;
         * sum it over each recall step (recall only grows along the ranking). */
        double ap = 0, best_prec = 0;
        for (size_t i = counted; i-- > 0;) {
            if (prec[i] > best_prec)
                best_prec = prec[i];
            double prev_rec = i > 0 ? rec[i - 1] : 0.0;
            if (rec[i] > prev_rec)
                ap += (rec[i] - prev_rec) * best_prec;
        }
        out->ap = ap;
    }
    return FM_OK;
}

void fm_ap_result_free(fm_ap_result *r)
{
    if (!r)
        return;
    free(r->precision);
    free(r->recall);
    r->precision = r->recall = NULL;
    r->n_points = 0;
}

fm_status fm_eval_face_recall(const fm_eval_image *images, size_t n_images, double iou_thresh,
                              double *recall, long long *matched, long long *total, fm_err *err)
{
    *recall = NAN;
    unsigned char *oc;
    size_t n;
    long long n_gt;
    fm_status st =
        match_detections(images, n_images, -1, iou_thresh, "face recall", &oc, &n, &n_gt, NULL, NULL, err);
    if (st)
        return st;
    long long tp = 0;
    for (size_t r = 0; r < n; r++)
        tp += oc[r] == OUT_TP;
    free(oc);
    if (matched)
        *matched = tp;
    if (total)
        *total = n_gt;
    if (n_gt > 0)
        *recall = (double)tp / (double)n_gt;
    return FM_OK;
}

fm_status fm_eval_face_recall_buckets(const fm_eval_image *images, size_t n_images,
                                      double iou_thresh, int (*bucket)(const fm_eval_gt *, void *),
                                      void *ctx, int nbuckets, long long *matched,
                                      long long *total, fm_err *err)
{
    for (int b = 0; b < nbuckets; b++)
        matched[b] = total[b] = 0;
    unsigned char *oc, *gm;
    size_t n;
    long long n_gt;
    fm_status st = match_detections(images, n_images, -1, iou_thresh, "face recall", &oc, &n,
                                    &n_gt, &gm, NULL, err);
    if (st)
        return st;
    free(oc);
    size_t at = 0;
    for (size_t i = 0; i < n_images; i++) {
        for (size_t k = 0; k < images[i].n_gt; k++, at++) {
            const fm_eval_gt *g = &images[i].gt[k];
            int b = g->ignore ? -1 : bucket(g, ctx);
            if (b < 0 || b >= nbuckets)
                continue;
            total[b]++;
            matched[b] += gm[at] != 0;
        }
    }
    free(gm);
    return FM_OK;
}

int fm_eval_width_bucket(const fm_eval_gt *g, void *ctx)
{
    (void)ctx;
    double w = g->box.x2 - g->box.x1;
    return w < 16 ? 0 : w < 32 ? 1 : w < 64 ? 2 : 3;
}

int fm_eval_class_bucket(const fm_eval_gt *g, void *ctx)
{
    (void)ctx;
    return g->cls;
}

fm_status fm_eval_match_image(const fm_eval_image *image, double iou_thresh, int *det_gt,
                              fm_err *err)
{
    for (size_t k = 0; k < image->n_det; k++)
        det_gt[k] = FM_EVAL_UNMATCHED;
    if (image->n_gt > (size_t)INT_MAX)
        return fm_err_set(err, FM_ERR_LIMIT, "face matching: %zu boxes in one image", image->n_gt);
    unsigned char *oc;
    size_t n;
    long long n_gt;
    fm_status st = match_detections(image, 1, -1, iou_thresh, "face matching", &oc, &n, &n_gt,
                                    NULL, det_gt, err);
    if (st)
        return st;
    free(oc);
    return FM_OK;
}
