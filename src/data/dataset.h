/* dataset.h - labelled face samples for training and evaluating the mask classifier.
 *
 *     fm_err err = {0};
 *     fm_dataset *cls = fm_dataset_from_folders("../shared/data/mask_cls", &err);
 *     fm_dataset *det = fm_dataset_from_voc("../shared/data/mask_det", 16, &err);
 *     fm_dataset_drop_label(det, FM_VOC_INCORRECT);        // a two-class classifier
 *     fm_dataset *train, *val;
 *     fm_dataset_split(cls, 0.2f, 42, &train, &val, &err);  // stratified per class
 *     fm_load_opts lo = fm_load_defaults(224);
 *     fm_load_scratch scratch = {0};
 *     float x[3 * 224 * 224];
 *     for (int i = 0; i < train->n; i++) {
 *         lo.aug_seed = fm_aug_seed(42, epoch, i);
 *         if (fm_dataset_load(train, i, &lo, x, &scratch, &err) != FM_OK) { skipped++; continue; }
 *         ... train on x with label train->samples[i].label ...
 *     }
 *     fm_load_scratch_free(&scratch);
 *     fm_dataset_free(train); fm_dataset_free(val); fm_dataset_free(cls); fm_dataset_free(det);
 *
 * A dataset is a plain read-only value after creation: n samples, each an image path, a label
 * (index into `classes`), an optional box and a group (samples of the same source image share
 * it). Everything is in a deterministic order (byte order of paths, file order of objects),
 * and the random parts (splits, augmentation) use fm_rng (splitmix64, augment.h) from an
 * explicit seed. fm_dataset_load is safe to call from several threads at once on one
 * dataset, each thread with its own scratch.
 */
#ifndef FM_DATASET_H
#define FM_DATASET_H

#include <stdint.h>

#include "core/err.h"
#include "data/augment.h"
#include "data/crop.h"
#include "data/voc.h"
#include "io/image.h"

#define FM_DATASET_MAX_SAMPLES (1 << 24)
#define FM_DATASET_MAX_CLASSES 1000
#define FM_DATASET_MAX_DEPTH 8 /* folder nesting below a class folder */

typedef struct {
    char *path;  /* image file */
    int label;   /* index into classes */
    int has_box; /* 0: the whole image is the face (folder datasets) */
    fm_box box;  /* pixel edges of the face in the (EXIF-upright) image, when has_box */
    int group;   /* source image index; fm_dataset_split_by_image keeps a group together */
} fm_sample;

typedef struct {
    int n;
    fm_sample *samples;
    int n_classes;
    char **classes; /* class names, index = label */
    int skipped;          /* folder entries fm_walk skipped (FIFOs, loops, ...); folders only */
    char first_skip[512]; /* the first of their messages, "" when none */
} fm_dataset;

/* One subfolder of dir per class; class names are the folder names in byte order (so
 * mask_cls gives 0 "with_mask", 1 "without_mask"). Images are files ending in .jpg, .jpeg or
 * .png (any case), found recursively (up to FM_DATASET_MAX_DEPTH levels), in byte order of
 * their paths; names starting with '.' and files directly in dir are ignored. Folders are
 * walked with fm_walk (core/walk.h): links are followed without looping, each file is listed
 * once, non-regular files are skipped and counted in ds->skipped. Errors: dir
 * cannot be opened (FM_ERR_IO), no class folder, a single class folder, or a class folder
 * without images (FM_ERR_FORMAT), each message naming the folder. Groups are sample indices. */
fm_dataset *fm_dataset_from_folders(const char *dir, fm_err *err);

/* Faces of a VOC folder (fm_voc_list): one sample per object whose box is at least min_width
 * pixels wide (xmax - xmin >= min_width; 0 keeps all), in stem order then file order.
 * Classes are always 0 "with_mask", 1 "without_mask", 2 "mask_weared_incorrect"
 * (fm_voc_label); another label, or an annotation that does not parse, is an error naming the
 * file. Groups number the images in stem order. */
fm_dataset *fm_dataset_from_voc(const char *dir, int min_width, fm_err *err);

void fm_dataset_free(fm_dataset *ds);

/* Removes the samples with this label, in place (the class list is kept, so labels do not
 * change). Returns how many were removed. */
int fm_dataset_drop_label(fm_dataset *ds, int label);

/* Samples per class into counts[0 .. n_classes - 1]. */
void fm_dataset_count(const fm_dataset *ds, int *counts);

/* Stratified split: for each class with n_c samples, round(val_fraction * n_c) of them (a
 * seeded Fisher-Yates shuffle of that class's indices, classes in label order, one fm_rng
 * stream) go to *val, the rest to *train. Both keep the original sample order. val_fraction
 * in [0, 1]. The two outputs are new datasets (copies) the caller frees. */
fm_status fm_dataset_split(const fm_dataset *ds, float val_fraction, uint64_t seed,
                           fm_dataset **train, fm_dataset **val, fm_err *err);

/* The same, but whole groups (source images) move together: each group is stratified by its
 * majority label (ties: the lower label), and round(val_fraction * groups in that stratum)
 * groups go to *val. No image has faces on both sides. */
fm_status fm_dataset_split_by_image(const fm_dataset *ds, float val_fraction, uint64_t seed,
                                    fm_dataset **train, fm_dataset **val, fm_err *err);

/* How to turn a sample into the classifier's input. */
typedef struct {
    int size;                  /* output S x S, 1..FM_CROP_MAX_SIDE */
    float margin;              /* crop margin for boxed samples (crop.h) */
    int square;                /* square crop region for boxed samples */
    const fm_aug_params *aug;  /* NULL: no augmentation */
    uint64_t aug_seed;         /* e.g. fm_aug_seed(run seed, epoch, sample index) */
    size_t max_pixels;         /* decoder limit, 0 = FM_IMAGE_MAX_PIXELS_DEFAULT */
} fm_load_opts;

/* size S, margin 0, not square (a detector box is used as it is), no augmentation. */
fm_load_opts fm_load_defaults(int size);

/* Per-thread buffers for fm_dataset_load (zero-initialise; grown as needed). */
typedef struct {
    fm_image *crop, *aug;
} fm_load_scratch;
void fm_load_scratch_free(fm_load_scratch *s);

/* Decodes sample i, crops it (whole-image samples: the whole image, stretched to S x S; boxed
 * samples: fm_crop_face with margin / square), augments it when o->aug is set, and writes
 * 3 * S * S floats (fm_crop_to_input: RGB, (p - 128) / 128, CHW) to chw. An image that
 * cannot be decoded, or a box that cannot be cropped, returns its error with a message that
 * starts with the image path, so the caller can skip and count it. */
fm_status fm_dataset_load(const fm_dataset *ds, int i, const fm_load_opts *o, float *chw,
                          fm_load_scratch *scratch, fm_err *err);

#endif
