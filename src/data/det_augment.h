/* det_augment.h - training-time augmentation of scene photos for the face detector.
 *
 * As libfacedetection.train prepares YuNet's training images (configs/yunet_n.py: a random
 * square crop, a resize to the training size, a horizontal flip, photometric distortion), on
 * an image with its face boxes:
 *   crop   a square of side q min(w, h), q drawn from {0.5, 0.7, 0.9, 1.1, 1.3, 1.5}; its
 *          corner is uniform over the positions that keep it inside the image along a side
 *          where it fits, and that keep the image inside it where it does not (the part
 *          outside the image is black, zero: what the detector's own padding looks like).
 *          Up to FM_DET_AUG_TRIES corners are drawn until one holds the centre of a face;
 *          then the whole image is taken (the square of side max(w, h) at the top left);
 *   boxes  the faces whose centre lies inside the crop, clipped to it, scaled to the output;
 *          one narrower or shorter than min_side px afterwards is dropped (too small to learn);
 *   flip   with probability 1/2 (when hflip), mirrored left to right, boxes with it;
 *   colour with probability 1/2 each, brightness v + d, d ~ U[-brightness, brightness], and
 *          contrast (v - 128) k + 128, k ~ U[1 - contrast, 1 + contrast], applied to the
 *          image's pixels (clamped to 0..255) before sampling, so the padding stays black;
 *   output S x S, sampled bilinearly (pixel centres), as YuNet's input: raw BGR 0..255
 *          floats, CHW.
 * Every draw comes from fm_rng seeded by the caller (fm_aug_seed(run seed, epoch, image)):
 * the crop's draws from one stream and the flip and colour from another, so the result
 * depends only on (image, boxes, params, seed), never on the thread that made it.
 * fm_det_aug_none gives the same mapping as the detector's inference: the image scaled so
 * its long side is S, at the top left, black right and bottom.
 *
 *     fm_det_aug_params p = fm_det_aug_defaults(640);
 *     fm_det_box out[64]; int nout;
 *     fm_det_augment(img, boxes, n, &p, fm_aug_seed(42, epoch, i), x, out, &nout, &err);
 */
#ifndef FM_DET_AUGMENT_H
#define FM_DET_AUGMENT_H

#include <stdint.h>

#include "core/err.h"
#include "core/pool.h"
#include "io/image.h"

#define FM_DET_AUG_TRIES 50
#define FM_DET_AUG_CHOICES 6

typedef struct {
    float x1, y1, x2, y2; /* pixel edges */
    int label;            /* carried along (e.g. fm_voc_label) */
} fm_det_box;

typedef struct {
    int size;         /* output side S, 32..4096 */
    int crop;         /* 0: no random crop (the whole image, long side to S) */
    int hflip;        /* non-zero: mirror with probability 1/2 */
    float brightness; /* 0..255 */
    float contrast;   /* 0..1 */
    float min_side;   /* px of the output */
} fm_det_aug_params;

/* crop on, flip on, brightness 32, contrast 0.5 (mmdet PhotoMetricDistortion's ranges),
 * min_side 2. */
fm_det_aug_params fm_det_aug_defaults(int size);
/* Everything off: the detector's own mapping (long side to S); boxes below 1 px dropped. */
fm_det_aug_params fm_det_aug_none(int size);

/* in: the image; boxes: n faces (n >= 0). x: 3 * S * S floats (written). out: room for n
 * boxes, *nout of them written. FM_ERR_ARG for bad params. */
fm_status fm_det_augment(const fm_image *in, const fm_det_box *boxes, int n,
                         const fm_det_aug_params *p, uint64_t seed, float *x, fm_det_box *out,
                         int *nout, fm_err *err);

/* One image of a batch for fm_det_augment_many. */
typedef struct {
    const fm_image *img;
    const fm_det_box *boxes;
    int n;
    uint64_t seed;
    float *x;        /* 3 * S * S floats */
    fm_det_box *out; /* room for n */
    int nout;
    fm_status status;
} fm_det_aug_job;

/* fm_det_augment on every job, split over the pool's threads (NULL: inline). Each job is
 * done by one thread from its own seed, so any thread count gives the same bytes. Returns the
 * first failing job's status (its message in err). */
fm_status fm_det_augment_many(fm_pool *pool, fm_det_aug_job *jobs, int n,
                              const fm_det_aug_params *p, fm_err *err);

#endif
