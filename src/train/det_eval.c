/* det_eval.c - face AP and recall of a YuNet-layout detector on scene photos (det_eval.h). */
#include "train/det_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "eval/metrics.h"
#include "face/detector.h"

#define MAX_DETS 512

double fm_det_eval_ratio(long long found, long long total)
{
    return total > 0 ? (double)found / (double)total : NAN;
}

/* Detections of one image as class-0 eval boxes (malloc'd into *det). -1: unreadable. */
static int detect_one(fm_detector *d, const char *path, float conf, fm_face *faces,
                      fm_eval_det **det)
{
    fm_err err = {0};
    int n = fm_detector_detect_file(d, path, conf, faces, MAX_DETS, &err);
    if (n < 0) {
        fm_log(FM_LOG_WARN, "skipping %s", err.msg);
        return -1;
    }
    if (n > MAX_DETS)
        n = MAX_DETS;
    *det = malloc(((size_t)n + 1) * sizeof **det);
    if (!*det)
        return -2;
    for (int k = 0; k < n; k++)
        (*det)[k] = (fm_eval_det){{faces[k].x1, faces[k].y1, faces[k].x2, faces[k].y2}, 0,
                                  faces[k].score};
    return n;
}

/* The figures from the per-image ground truth and detections. gt_any: every face class 0
 * (AP, recall, widths); gt_lab: the same faces with their labels (recall by label). */
static fm_status figures(const fm_eval_image *any, const fm_eval_image *lab, int n,
                         fm_det_eval *out, fm_err *err)
{
    fm_ap_result ap;
    fm_status st = fm_eval_ap(any, (size_t)n, 0, 0.5, &ap, err);
    if (st != FM_OK)
        return st;
    out->ap = ap.ap;
    fm_ap_result_free(&ap);
    if ((st = fm_eval_face_recall(any, (size_t)n, 0.5, &out->recall, &out->found, &out->faces,
                                  err)) != FM_OK ||
        (st = fm_eval_face_recall_buckets(any, (size_t)n, 0.5, fm_eval_width_bucket, NULL,
                                          FM_DET_EVAL_WIDTHS, out->w_found, out->w_total, err)) !=
            FM_OK)
        return st;
    return fm_eval_face_recall_buckets(lab, (size_t)n, 0.5, fm_eval_class_bucket, NULL,
                                       FM_DET_EVAL_LABELS, out->l_found, out->l_total, err);
}

fm_status fm_det_eval_run(const char *model, const fm_det_eval_item *items, int n, float conf,
                          int threads, fm_det_eval *out, fm_progress *progress, fm_err *err)
{
    memset(out, 0, sizeof *out);
    fm_detector_spec spec = {model, NULL, 0, 0};
    fm_net_opts no = fm_net_default_opts();
    no.threads = threads;
    fm_detector *d = fm_detector_create(&spec, &no, err);
    if (!d)
        return err ? err->status : FM_ERR_IO;
    size_t ngt = 0;
    for (int i = 0; i < n; i++)
        ngt += (size_t)items[i].n;
    fm_eval_image *any = calloc((size_t)n + 1, sizeof *any), *lab = calloc((size_t)n + 1, sizeof *lab);
    fm_eval_gt *g_any = malloc((ngt + 1) * sizeof *g_any), *g_lab = malloc((ngt + 1) * sizeof *g_lab);
    fm_face *faces = malloc(MAX_DETS * sizeof *faces);
    fm_status st = FM_OK;
    if (!any || !lab || !g_any || !g_lab || !faces) {
        st = fm_err_set(err, FM_ERR_NOMEM, "out of memory evaluating %d images", n);
        goto done;
    }
    int k = 0;
    size_t gi = 0;
    for (int i = 0; i < n; i++) {
        fm_eval_det *det = NULL;
        int nd = detect_one(d, items[i].image, conf, faces, &det);
        if (progress)
            fm_progress_update(progress, i + 1);
        if (nd == -1) {
            out->skipped++;
            continue;
        }
        if (nd < 0) {
            st = fm_err_set(err, FM_ERR_NOMEM, "out of memory evaluating %s", items[i].image);
            goto done;
        }
        for (int b = 0; b < items[i].n; b++) {
            const fm_det_box *x = &items[i].boxes[b];
            fm_eval_box box = {x->x1, x->y1, x->x2, x->y2};
            g_any[gi + (size_t)b] = (fm_eval_gt){box, 0, 0};
            int l = x->label >= 0 && x->label < FM_DET_EVAL_LABELS ? x->label : 0;
            g_lab[gi + (size_t)b] = (fm_eval_gt){box, l, 0};
        }
        any[k] = (fm_eval_image){g_any + gi, (size_t)items[i].n, det, (size_t)nd};
        lab[k] = (fm_eval_image){g_lab + gi, (size_t)items[i].n, det, (size_t)nd};
        gi += (size_t)items[i].n;
        k++;
    }
    out->images = k;
    st = figures(any, lab, k, out, err);
done:
    for (int i = 0; any && i < n; i++)
        free((void *)any[i].det);
    free(any);
    free(lab);
    free(g_any);
    free(g_lab);
    free(faces);
    fm_detector_free(d);
    return st;
}
