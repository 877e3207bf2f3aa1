/* det_eval.h - how well a YuNet-layout detector finds the faces of held-out scene photos.
 *
 * The detector runs as `facemask detect` runs it (face/detector.h: long side 640, padded to
 * multiples of 32, NMS 0.3), keeping faces scoring at least `conf`. Every annotated object is a
 * face, mask_weared_incorrect included. Figures, each at IoU >= 0.5 with VOC's greedy matching
 * (eval/metrics.h):
 *   ap          face AP, class-agnostic (detections ranked by score);
 *   recall      faces found / faces;
 *   by width    recall of faces 0-16, 16-32, 32-64 and 64+ px wide (fm_eval_width_bucket);
 *   by label    recall of with_mask, without_mask and mask_weared_incorrect faces.
 *
 *     fm_det_eval e;
 *     fm_det_eval_run("models/detector/detector.onnx", items, n, 0.2f, 2, &e, NULL, &err);
 */
#ifndef FM_DET_EVAL_H
#define FM_DET_EVAL_H

#include "core/err.h"
#include "core/progress.h"
#include "data/det_augment.h"

/* One scene photo and its faces (labels fm_voc_label: 0 with_mask, 1 without_mask,
 * 2 mask_weared_incorrect), in pixels of the image. */
typedef struct {
    const char *image;
    const fm_det_box *boxes;
    int n;
} fm_det_eval_item;

#define FM_DET_EVAL_WIDTHS 4
#define FM_DET_EVAL_LABELS 3

typedef struct {
    int images, skipped; /* evaluated; unreadable (skipped, each said on stderr) */
    long long faces, found;
    double ap, recall;
    long long w_found[FM_DET_EVAL_WIDTHS], w_total[FM_DET_EVAL_WIDTHS];
    long long l_found[FM_DET_EVAL_LABELS], l_total[FM_DET_EVAL_LABELS];
} fm_det_eval;

/* Recall of a bucket (NaN when it holds no face). */
double fm_det_eval_ratio(long long found, long long total);

/* model: a YuNet-layout .onnx file. threads: the detector's. progress (may be NULL) is
 * updated per image. Errors: the model cannot be opened (its message), out of memory. */
fm_status fm_det_eval_run(const char *model, const fm_det_eval_item *items, int n, float conf,
                          int threads, fm_det_eval *out, fm_progress *progress, fm_err *err);

#endif
