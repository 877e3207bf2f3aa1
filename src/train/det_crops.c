/* det_crops.c - the classifier's scene faces at a detector's own boxes (see det_crops.h). */
#include "train/det_crops.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/progress.h"
#include "eval/metrics.h"
#include "train/trainer.h"

/* The detector's n boxes on one image, matched to its annotated faces (samples [a, b) of
 * gtds), appended to out as samples (out->samples has room: a face is matched at most once). */
static fm_status add_image(fm_dataset *out, const fm_dataset *gtds, int a, int b,
                           const fm_face *faces, int n, int min_width, fm_eval_gt *gt,
                           fm_eval_det *dets, int *det_gt, fm_det_crops_stats *s, fm_err *err)
{
    for (int k = a; k < b; k++) {
        const fm_sample *g = &gtds->samples[k];
        gt[k - a].box = (fm_eval_box){g->box.x1, g->box.y1, g->box.x2, g->box.y2};
        gt[k - a].cls = g->label == FM_VOC_WITHOUT_MASK ? 1 : 0;
        gt[k - a].ignore = g->label != FM_VOC_WITH_MASK && g->label != FM_VOC_WITHOUT_MASK;
        s->faces += !gt[k - a].ignore && g->box.x2 - g->box.x1 >= (float)min_width;
    }
    for (int f = 0; f < n; f++)
        dets[f] = (fm_eval_det){{faces[f].x1, faces[f].y1, faces[f].x2, faces[f].y2}, 0,
                                faces[f].score};
    fm_eval_image im = {gt, (size_t)(b - a), dets, (size_t)n};
    fm_status st = fm_eval_match_image(&im, FM_DET_CROPS_IOU, det_gt, err);
    if (st != FM_OK)
        return st;
    s->detections += n;
    for (int f = 0; f < n; f++) {
        int k = det_gt[f];
        if (k == FM_EVAL_IGNORED) {
            s->ignored++;
            continue;
        }
        if (k < 0) {
            s->unmatched++;
            continue;
        }
        const fm_sample *g = &gtds->samples[a + k];
        if (g->box.x2 - g->box.x1 < (float)min_width) {
            s->too_small++;
            continue;
        }
        fm_sample *d = &out->samples[out->n];
        if (!(d->path = strdup(g->path)))
            return fm_err_set(err, FM_ERR_NOMEM, "out of memory for the detector's crops");
        d->label = g->label;
        d->has_box = 1;
        d->box = (fm_box){faces[f].x1, faces[f].y1, faces[f].x2, faces[f].y2};
        d->group = g->group;
        out->n++;
        s->matched++;
        s->labels[g->label == FM_VOC_WITHOUT_MASK]++;
    }
    return FM_OK;
}

fm_dataset *fm_det_crops(fm_detector *det, const char *voc_dir, float conf,
                         const fm_voc_split *split, int min_width, fm_det_crops_stats *stats,
                         int quiet, fm_err *err)
{
    memset(stats, 0, sizeof *stats);
    fm_dataset *gtds = fm_dataset_from_voc(voc_dir, 0, err);
    if (!gtds)
        return NULL;
    fm_dataset *out = calloc(1, sizeof *out);
    fm_face *faces = malloc(FM_DET_CROPS_MAX_FACES * sizeof *faces);
    fm_eval_det *dets = malloc(FM_DET_CROPS_MAX_FACES * sizeof *dets);
    int *det_gt = malloc(FM_DET_CROPS_MAX_FACES * sizeof *det_gt);
    fm_eval_gt *gt = malloc(((size_t)gtds->n + 1) * sizeof *gt);
    fm_status st = FM_OK;
    if (!out || !faces || !dets || !det_gt || !gt ||
        !(out->samples = calloc((size_t)gtds->n + 1, sizeof *out->samples))) {
        st = fm_err_set(err, FM_ERR_NOMEM, "out of memory for the detector's crops");
        goto done;
    }
    /* the classes move to the new dataset */
    out->n_classes = gtds->n_classes;
    out->classes = gtds->classes;
    gtds->classes = NULL;

    long todo = 0, done_n = 0;
    for (int a = 0, b; a < gtds->n; a = b) {
        for (b = a + 1; b < gtds->n && gtds->samples[b].group == gtds->samples[a].group; b++)
            ;
        todo += fm_voc_split_trains(split, gtds->samples[a].path);
    }
    fm_progress prog;
    fm_progress_start(&prog, "detector's crops", "images", todo, quiet);
    for (int a = 0, b; st == FM_OK && a < gtds->n; a = b) {
        for (b = a + 1; b < gtds->n && gtds->samples[b].group == gtds->samples[a].group; b++)
            ;
        const char *path = gtds->samples[a].path;
        if (!fm_voc_split_trains(split, path))
            continue;
        stats->images++;
        fm_err derr = {0};
        int n = fm_detector_detect_file(det, path, conf, faces, FM_DET_CROPS_MAX_FACES, &derr);
        if (n < 0) {
            fm_log(FM_LOG_ERROR, "train: skipping %s", derr.msg);
            stats->unreadable++;
        } else {
            if (n > FM_DET_CROPS_MAX_FACES) {
                stats->dropped += n - FM_DET_CROPS_MAX_FACES;
                n = FM_DET_CROPS_MAX_FACES;
            }
            st = add_image(out, gtds, a, b, faces, n, min_width, gt, dets, det_gt, stats, err);
        }
        fm_progress_update(&prog, ++done_n);
    }
    fm_progress_end(&prog);
done:
    free(faces);
    free(dets);
    free(det_gt);
    free(gt);
    fm_dataset_free(gtds);
    if (st != FM_OK) {
        fm_dataset_free(out);
        return NULL;
    }
    return out;
}
