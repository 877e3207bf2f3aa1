/* detector.h - faces in an image with OpenCV's res10 300x300 SSD.
 *
 * Wraps a loaded net with the preprocessing res10 was trained with (BGR,
 * bilinear resize to 300x300, minus the means 104, 177, 123; exactly what
 * OpenCV's blobFromImage does) and turns its DetectionOutput rows into boxes
 * in pixels of the original image, clipped to it.
 *
 *     fm_detector *d = fm_detector_create("models", 2, &err);
 *     fm_face faces[256];
 *     int n = fm_detector_run(d, img, 0.5f, faces, 256, NULL);
 *     fm_detector_free(d);
 */
#ifndef FM_DETECTOR_H
#define FM_DETECTOR_H

#include "core/err.h"
#include "io/image.h"
#include "nn/net.h"

typedef struct {
    float x1, y1, x2, y2; /* pixels of the original image, clipped to [0, w] x [0, h] */
    float score;          /* detector confidence, 0..1 */
} fm_face;

/* Milliseconds spent in each stage of the last fm_detector_run. */
typedef struct {
    double preprocess_ms;
    double forward_ms;
    double postprocess_ms;
} fm_det_timing;

typedef struct fm_detector fm_detector;

/* Models are looked up as <model_dir>/res10/deploy.prototxt and
 * <model_dir>/res10/res10_300x300_ssd_iter_140000.caffemodel. opts may be NULL. */
fm_detector *fm_detector_create(const char *model_dir, const fm_net_opts *opts, fm_err *err);
void fm_detector_free(fm_detector *d);

/* Faces with score >= conf, highest score first; at most max are written,
 * the number found (possibly more than max) is returned. timing may be NULL. */
int fm_detector_run(fm_detector *d, const fm_image *img, float conf, fm_face *faces, int max,
                    fm_det_timing *timing);

fm_net *fm_detector_net(fm_detector *d);

/* The model folder: dir if given, else $FACEMASK_MODELS, else the models/ folder
 * beside the executable's build/ folder, else ./models. Writes into buf. */
const char *fm_models_dir(const char *dir, char *buf, size_t size);

#endif
