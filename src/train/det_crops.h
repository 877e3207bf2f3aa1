/* det_crops.h - scene faces for the classifier cut at a detector's own boxes.
 *
 * At run time the classifier sees the boxes the detector draws, not the annotated ones: they
 * are shifted, larger or smaller, and squarer or not, in the way that detector is. So that the
 * classifier learns that jitter (`facemask train --crops-from DETECTOR`), each training-side
 * image of a VOC folder is run through the detector ONCE, its boxes are matched to the image's
 * annotated faces by fm_eval_match_image (eval/metrics.h: the same class-agnostic greedy
 * matching at IoU >= 0.5 that `eval --voc` counts a face as found by), and every matched box
 * becomes a sample with the label of the face it matched. Boxes that match no face, a face
 * already matched, or a mask_weared_incorrect face (an ignore region) are not used; nor are
 * faces narrower than min_width (the annotated width). A face the detector misses gives no
 * sample. The samples carry the detector's box (clipped to the image), so the usual loader
 * (fm_dataset_load with the classifier's margin / square) crops and augments them.
 *
 *     fm_detector_spec spec = {"models/detector/detector.onnx", "models", 0, 0};
 *     fm_detector *det = fm_detector_create(&spec, NULL, &err);
 *     fm_det_crops_stats cs;
 *     fm_voc_split split = {42, 0.5f, 0, 0};         // the training half, no fold left out
 *     fm_dataset *faces = fm_det_crops(det, "../shared/data/mask_det", 0.2f, &split, 8, &cs, 1,
 *                                      &err);
 *     // faces->samples[i]: path, label (0 with_mask, 1 without_mask), box, group = image
 *     fm_dataset_free(faces);
 *     fm_detector_free(det);
 */
#ifndef FM_DET_CROPS_H
#define FM_DET_CROPS_H

#include <stdint.h>

#include "data/dataset.h"
#include "face/detector.h"
#include "train/trainer.h"

/* IoU at which a detector's box counts as a face's (as eval --voc). */
#define FM_DET_CROPS_IOU 0.5
/* Boxes read per image, at most (more are counted in `dropped`, not used). */
#define FM_DET_CROPS_MAX_FACES 512

typedef struct {
    int images;      /* training-side images with at least one annotated face */
    int unreadable;  /* of which could not be loaded or detected on (said on stderr, skipped) */
    int faces;       /* annotated with_mask / without_mask faces >= min_width on those images */
    int detections;  /* boxes the detector reported (score >= conf) */
    int matched;     /* boxes that matched a face >= min_width: the samples */
    int ignored;     /* boxes whose face is mask_weared_incorrect */
    int unmatched;   /* boxes that matched no face (below the IoU, or a duplicate) */
    int too_small;   /* boxes that matched a face narrower than min_width */
    int dropped;     /* boxes beyond FM_DET_CROPS_MAX_FACES in one image */
    int labels[2];   /* samples with_mask, without_mask */
} fm_det_crops_stats;

/* The samples (classes "with_mask", "without_mask", "mask_weared_incorrect", as
 * fm_dataset_from_voc; only the first two occur), in stem order, then in the detector's
 * order (highest score first) within an image; group = the image's index among the VOC
 * folder's annotated images. Only the images fm_voc_split_trains(split, path) are used.
 * det runs at conf. Unless quiet, a progress line on stderr counts the images. A dataset with
 * no sample is not an error (stats tell why). NULL with err set when the folder cannot be
 * listed or an annotation does not parse (fm_dataset_from_voc's messages). */
fm_dataset *fm_det_crops(fm_detector *det, const char *voc_dir, float conf,
                         const fm_voc_split *split, int min_width, fm_det_crops_stats *stats,
                         int quiet, fm_err *err);

#endif
