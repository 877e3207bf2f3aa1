/* detector.h - faces in an image, with one of two models behind one interface:
 *
 *   yunet  YuNet, ONNX (face/yunet.h): boxes and 5 landmarks; the image is scaled so its long
 *          side is det_size (640), padded to multiples of 32. Two YuNet-n weights have names:
 *          "tuned" (the default), facemask's fine-tuned YuNet-n (models/detector/, trained by
 *          `facemask train-detector` on masked faces: it beat stock YuNet-n on mask_det's
 *          held-out half), and "yunet", stock YuNet-n (libfacedetection, WIDER FACE);
 *   res10  OpenCV's res10 300x300 SSD (Caffe): the preprocessing it was trained with (BGR,
 *          bilinear resize to 300x300 or --det-size, minus the means 104, 177, 123; exactly
 *          what OpenCV's blobFromImage does), DetectionOutput rows turned into boxes; no
 *          landmarks.
 *
 * Boxes are in pixels of the original image, clipped to it. A box with no area left after
 * clipping (wholly outside the image, zero width or height, or not finite) is dropped before it
 * is counted, by both detectors: res10's DetectionOutput reports such boxes (four
 * [464,330,464,330] scoring up to 0.96 on aizoo_demo2.jpg at --det-size 600).
 *
 *     fm_detector_spec spec = {"yunet", "models", 0, 0};     // or "res10", or a .onnx path
 *     fm_detector *d = fm_detector_create(&spec, NULL, &err);
 *     fm_face faces[256];
 *     int n = fm_detector_run(d, img, 0.5f, faces, 256, NULL);
 *     if (n < 0) fprintf(stderr, "facemask: %s\n", fm_detector_error(d));
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
    int nlandmarks;       /* 5 for YuNet, 0 for res10 */
    float landmarks[5][2]; /* (x, y) pixels of the original image, not clipped: right eye,
                            * left eye, nose tip, right and left mouth corner */
} fm_face;

/* 1 when x2 > x1 and y2 > y1 (so never for NaN): the test every reported face passes. */
int fm_face_has_area(const fm_face *f);

/* Milliseconds spent in each stage of the last fm_detector_run. */
typedef struct {
    double preprocess_ms;
    double forward_ms;
    double postprocess_ms;
} fm_det_timing;

typedef struct fm_detector fm_detector;

typedef enum { FM_DETECTOR_YUNET = 0, FM_DETECTOR_RES10 = 1 } fm_detector_kind;

/* The default detector's file under the models folder (committed with facemask). */
#define FM_DETECTOR_TUNED_FILE "detector/detector.onnx"

/* Which detector, where its files are, and its input size. */
typedef struct {
    const char *detector;  /* "tuned" (also NULL or ""): <model_dir>/detector/detector.onnx;
                            * "yunet": <model_dir>/yunet/yunet_n_640_640.onnx (stock);
                            * "res10": <model_dir>/res10/deploy.prototxt and
                            * res10_300x300_ssd_iter_140000.caffemodel; anything else: the path
                            * of a .onnx file with YuNet's layout (outputs cls_8 .. kps_32) */
    const char *model_dir; /* see fm_models_dir */
    int size_w, size_h;    /* --det-size as fm_parse_det_size gives it: "N" is (N, 0), "WxH"
                            * is (W, H), (0, 0) the model's default. res10 runs at W x H (N x N;
                            * default 300x300; sides 64..4096). YuNet takes N as the long side
                            * of the scaled image (32..4096, default 640); WxH is an error */
} fm_detector_spec;

/* NULL with a one-line message naming what was wrong (an unknown detector name, a missing
 * file, a model without YuNet's outputs, a size the model cannot take). opts may be NULL;
 * its input_shape is ignored (the spec's size decides). */
fm_detector *fm_detector_create(const fm_detector_spec *spec, const fm_net_opts *opts,
                                fm_err *err);
void fm_detector_free(fm_detector *d);

/* Faces with score >= conf, highest score first; at most max are written,
 * the number found (possibly more than max) is returned. timing may be NULL.
 * -1 when YuNet could not rebuild its net for a new image size (or the forward failed):
 * fm_detector_error says why. */
int fm_detector_run(fm_detector *d, const fm_image *img, float conf, fm_face *faces, int max,
                    fm_det_timing *timing);
/* The message of the last failed fm_detector_run ("" when none). */
const char *fm_detector_error(const fm_detector *d);

/* Loads the image at path and runs the detector on it (for tests and tools): as
 * fm_detector_run, or -1 with err set when the image cannot be loaded or the run fails. */
int fm_detector_detect_file(fm_detector *d, const char *path, float conf, fm_face *faces,
                            int max, fm_err *err);

fm_detector_kind fm_detector_kind_of(const fm_detector *d);
/* "yunet" (any YuNet-layout model, the default "tuned" too) or "res10". */
const char *fm_detector_name(const fm_detector *d);
/* The current net (YuNet's changes when the padded input size does). */
fm_net *fm_detector_net(fm_detector *d);

/* Draws n landmarks (pixels) as filled dots of `radius`, one colour per point as OpenCV's
 * YuNet sample: right eye blue, left eye red, nose tip green, right mouth corner magenta,
 * left mouth corner yellow. Clipped to the image. */
void fm_draw_landmarks(fm_image *img, const float (*lm)[2], int n, int radius);

/* The model folder: dir if given, else $FACEMASK_MODELS, else the first folder of these that
 * exists, for each binary facemask runs in (core/paths.h: the shared object holding this code,
 * then the executable), BIN being the binary's folder:
 *     BIN/../share/facemask/models   an installed copy (`make install`)
 *     BIN/../models                  a build tree (build/facemask beside the project's models/)
 * and when none exists, the first of them (so a message names where the models belong).
 * Writes into buf; returns buf. */
const char *fm_models_dir(const char *dir, char *buf, size_t size);
/* One clause for a message about a missing model: where fm_models_dir looks, in order, with the
 * folders of this process, and how to choose another (--model-dir, FACEMASK_MODELS). */
const char *fm_models_hint(char *buf, size_t size);

#endif
