/* trainer.h - fine-tuning the mask classifier: MobileNetV2 (ImageNet) + a new head.
 *
 * The classifier is the ImageNet MobileNetV2 up to its global pool, then a head:
 * InnerProduct 1280->128, ReLU, Dropout 0.5, InnerProduct 128->2, Softmax. Training
 * has two phases, both with Adam and early stopping on the validation loss (the best
 * epoch's weights are kept):
 *   1. the head alone on the frozen base;
 *   2. the top blocks (from opts.fine_tune_from) and the head, at a lower rate.
 * The frozen front is run once per sample and augmented variant by the fast inference
 * engine, up to the cut value (the input of fine_tune_from: by default the last 7x7 stage);
 * each epoch then uses one cached variant per sample, so augmentation costs no extra front
 * passes.
 *
 * The output folder gets classifier.prototxt / .caffemodel / .cfg (loadable by
 * fm_classifier_load, and by OpenCV's readNetFromCaffe), report.json (every figure),
 * report.svg (curves and confusion matrix), and trained_on.txt (the training-side scene
 * images with an annotated face >= voc_min_width, so evaluation can leave them out; the same
 * list whichever boxes the crops are cut at, so the held-out half does not depend on them).
 *
 * Scene crops: by default at the annotated boxes; with crops_from, at a detector's own boxes
 * matched to those faces (det_crops.h), run once per image before the feature cache, so the
 * classifier learns the jitter of the boxes it will be given at run time.
 *
 *     fm_train_opts o = fm_train_default_opts();
 *     o.data_dir = "../shared/data/mask_cls";
 *     o.out_dir = "models/mask";
 *     if (fm_train_run(&o, &err) != FM_OK) fprintf(stderr, "%s\n", err.msg);
 */
#ifndef FM_TRAINER_H
#define FM_TRAINER_H

#include <stdint.h>

#include "core/err.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "eval/metrics.h"
#include "face/classifier.h"
#include "train/cls_eval.h"

typedef struct {
    const char *data_dir;     /* folder per class (required) */
    const char *voc_dir;      /* optional scene photos with VOC boxes to train on too */
    float voc_train_fraction; /* fraction of the VOC images (by image) used for training */
    float voc_skip_lo, voc_skip_hi; /* a development fold left out of those (fm_voc_split) */
    int voc_min_width;        /* VOC faces narrower than this are not used (px) */
    const char *crops_from;   /* NULL: the scene faces are cut at their annotated boxes; else a
                               * detector (fm_detector_spec's name: "yunet", "res10" or a
                               * YuNet-layout .onnx) whose own boxes, matched to the annotated
                               * faces, give the scene crops (det_crops.h) */
    float crops_conf;         /* that detector's threshold (default 0.2, as eval --voc) */
    const char *model_dir;    /* where that detector's files are (fm_models_dir) */
    const char *out_dir;      /* where the model and its report go */
    const char *base_dir;     /* folder with mobilenet_v2.prototxt / .caffemodel */
    int epochs;               /* phase 1 maximum */
    int fine_tune_epochs;     /* phase 2 maximum (0: no phase 2) */
    int input_size;           /* S: the classifier sees S x S */
    const char *fine_tune_from; /* first trainable base layer in phase 2 */
    const char *cut;            /* front features cut here without phase 2; with it, at the
                                 * value fine_tune_from reads */
    uint64_t seed;
    int batch;
    int threads;
    float val_fraction;  /* of the training images, for early stopping */
    float test_fraction; /* of the folder data, held out and reported */
    float lr_head, lr_fine;
    float weight_decay;
    int patience;   /* epochs without a better validation loss before stopping */
    int variants;   /* augmented variants cached per training sample */
    float margin;   /* crop margin for boxed (scene) samples */
    int square;     /* square crop region for boxed samples */
    int augment;    /* 0: no augmentation (variants = 1) */
    int flip_average; /* the model classifies each face and its mirror image (classifier.cfg) */
    float lowres_prob;          /* augmentation's low-resolution step (augment.h): probability, */
    int lowres_min, lowres_max; /* smallest and largest shorter side (0: the crop's) */
    int quiet;      /* no progress bar */
    const char *command; /* the command line, for the report */
} fm_train_opts;

fm_train_opts fm_train_default_opts(void);

/* Whether a scene image belongs to the training side: a hash of (seed, file name without its
 * folder), below `fraction`. The same images are held out whatever faces are taken from them,
 * and the detector's trainer (det_trainer.h) splits with it too, so both models share one
 * held-out half for the same seed. */
int fm_voc_is_train_image(const char *path, uint64_t seed, float fraction);

/* Which scene images a classifier trains on: the training side of (seed, fraction), less a
 * development fold, the training-side images whose hash is in [skip_lo, skip_hi) (none when
 * skip_lo >= skip_hi). A fold is neither trained on nor reported as held out, so a setting
 * can be scored on it without reading the held-out half (tools/select-classifier.sh). */
typedef struct {
    uint64_t seed;
    float fraction;
    float skip_lo, skip_hi;
} fm_voc_split;
/* 1 when the image at path is trained on under s. */
int fm_voc_split_trains(const fm_voc_split *s, const char *path);
/* mkdir -p: dir and its missing parents. */
fm_status fm_train_mkdir(const char *dir, fm_err *err);
fm_status fm_train_run(const fm_train_opts *o, fm_err *err);

#endif
