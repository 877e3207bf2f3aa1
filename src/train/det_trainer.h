/* det_trainer.h - fine-tuning a YuNet-layout face detector on scene photos (issue 8).
 *
 * From a YuNet-layout ONNX model (outputs cls_8 .. kps_32; default yunet_n_640_640.onnx) and a
 * PASCAL VOC folder (images/, annotations/), as libfacedetection.train trains YuNet:
 *   data     every annotated object is a face (mask_weared_incorrect too). The images are
 *            split with the classifier's seeded hash (trainer.h fm_voc_is_train_image, the
 *            same seed and fraction): the training half, of which a hashed val_fraction is
 *            validation for early stopping, and the held-out half, never trained on;
 *   batches  `batch` training images, each augmented (data/det_augment.h) from
 *            fm_aug_seed(seed, epoch, image) to input_size x input_size;
 *   targets  SimOTA on the network's current outputs (yunet_assign.h);
 *   loss     obj + cls (IoU-aware) BCE and 5 x smooth EIoU (yunet_loss.h), summed over the
 *            batch and divided by max(positives in the batch, 1);
 *   weights  the landmark branch is frozen (VOC has no landmarks): the layers that no other
 *            output depends on, found by one probing backward; the rest are trained with Adam
 *            (decoupled weight decay), the best validation epoch's weights kept (patience);
 *   output   out_dir/detector.onnx (onnx/write.h: the source graph with the new weights),
 *            trained_on.txt, report.json and report.svg (det_report.h) with the loss curves
 *            and the held-out figures (det_eval.h) of the fine-tuned and the source model.
 *
 *     fm_det_train_opts o = fm_det_train_default_opts();
 *     o.voc_dir = "../shared/data/mask_det";
 *     o.model_path = "models/yunet/yunet_n_640_640.onnx";
 *     o.out_dir = "models/detector";
 *     if (fm_det_train_run(&o, &err) != FM_OK) fprintf(stderr, "%s\n", err.msg);
 */
#ifndef FM_DET_TRAINER_H
#define FM_DET_TRAINER_H

#include <stdint.h>

#include "core/err.h"
#include "data/det_augment.h"
#include "train/tnet.h"
#include "train/yunet_loss.h"

#define FM_DET_MODEL_FILE "detector.onnx"
/* A training-side image validates when fm_voc_is_train_image(path, seed ^ FM_DET_VAL_SALT,
 * val_fraction) holds ("validate": a hash unrelated to the split's). */
#define FM_DET_VAL_SALT 0x76616c6964617465ULL

typedef struct {
    const char *voc_dir;    /* images/ + annotations/ (required) */
    const char *model_path; /* the YuNet-layout .onnx to start from (required) */
    const char *out_dir;    /* where detector.onnx and the report go */
    int overwrite;          /* replace an existing detector.onnx */
    int epochs;             /* at most (default 25) */
    int input_size;         /* training side S, a multiple of 32 (default 640) */
    int batch;              /* images per step (default 8) */
    uint64_t seed;          /* split, shuffles and augmentation (default 42) */
    int threads;            /* default 2 */
    float train_fraction;   /* of the images on the training side (default 0.5) */
    float val_fraction;     /* of the training side, for early stopping (default 0.15) */
    float lr;               /* Adam (default 2e-4) */
    float weight_decay;     /* decoupled (default 5e-4) */
    int patience;           /* epochs without a better validation loss (default 4) */
    int max_images;         /* use at most this many training images (0: all; for tests) */
    int unmasked_repeat;    /* a training image with a without_mask face is in each epoch this
                             * many times, each copy with its own augmentation (default 1; the
                             * training half has five times more masked faces) */
    const char *trained_on; /* optional: the classifier's trained_on.txt; a training-side image
                             * it does not list is held out instead, so that `eval --voc`,
                             * which holds out what that file does not list, never measures on
                             * an image the detector was trained on */
    int evaluate;           /* evaluate on the held-out half after training (default 1) */
    float conf;             /* detector threshold of the evaluation (default 0.2, as eval) */
    int quiet;              /* no progress line */
    const char *command;    /* the command line, for the report */
} fm_det_train_opts;

fm_det_train_opts fm_det_train_default_opts(void);
/* Errors (one line, naming the file): the VOC folder cannot be listed or an annotation does
 * not parse; no annotated face in the training half; a model without YuNet's outputs (the
 * detector's own check); S not a multiple of 32; detector.onnx already in out_dir (without
 * overwrite). Unreadable images are skipped, each said on stderr, and counted in the report. */
fm_status fm_det_train_run(const fm_det_train_opts *o, fm_err *err);

/* ---- one training step, for the trainer and its tests -------------------------------------- */
/* The loss over a batch given to fm_tnet_train_outputs: per sample, SimOTA then
 * fm_yunet_loss on the cls / obj / bbox outputs; the landmark outputs get no gradient. */
typedef struct {
    int cls[FM_YUNET_LEVELS], obj[FM_YUNET_LEVELS], bbox[FM_YUNET_LEVELS]; /* output indices */
    fm_yunet_grid grid;
    const fm_det_box *const *boxes; /* the batch's faces, per sample (input pixels) */
    const int *nboxes;
    int *npos;        /* per sample: positives (written) */
    double *parts;    /* per sample: cls, obj, bbox sums (3 each, written; may be NULL) */
    fm_status *status; /* per sample: FM_OK, or the assignment's failure */
} fm_det_loss;

/* Finds the outputs by name (cls_8 .. bbox_32) in t and the grid of a w x h input. */
fm_status fm_det_loss_init(fm_det_loss *l, const fm_tnet *t, int w, int h, fm_err *err);
double fm_det_loss_fn(void *user, const fm_tnet_loss_io *io);
/* Forward, loss, backward on n samples with faces boxes[i] (nboxes[i]); the gradients in
 * fm_tnet_grads(t) are divided by max(positives, 1), and *loss gets the loss so divided
 * (*npos, if not NULL, the positives). */
fm_status fm_det_step(fm_tnet *t, fm_det_loss *l, const float *x, int n,
                      const fm_det_box *const *boxes, const int *nboxes, uint64_t seed,
                      double *loss, int *npos, fm_err *err);
/* The loss of n samples without training (inference-mode forward), divided as above. */
fm_status fm_det_eval_loss(fm_tnet *t, fm_det_loss *l, const float *x, int n,
                           const fm_det_box *const *boxes, const int *nboxes, double *loss_sum,
                           int *npos, fm_err *err);
/* Freezes the layers that only the landmark (kps) outputs depend on; *frozen gets how many. */
fm_status fm_det_freeze_landmarks(fm_tnet *t, const float *x, int n, int *frozen, fm_err *err);

#endif
