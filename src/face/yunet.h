/* yunet.h - faces and five landmarks with YuNet (libfacedetection's ONNX detector).
 *
 * Three steps, each usable alone (the first two are pure functions, tested on synthetic data):
 *
 *   geometry    the image (W, H) is scaled so its long side is det_size (round half up, at
 *               least 1 pixel), then padded right and bottom with zeros to multiples of 32;
 *   preprocess  the scaled image, BGR, raw 0..255 (no mean, no scale), NCHW, into the padded
 *               (1, 3, pad_h, pad_w) input tensor (OpenCV-exact bilinear resize, io/image.h);
 *   decode      the 12 outputs cls/obj (N x 1), bbox (N x 4), kps (N x 10) of the strides 8,
 *               16, 32 become faces, exactly as OpenCV 4.8's cv::FaceDetectorYN
 *               (modules/objdetect/src/face_detect.cpp): score = sqrt(clip(cls) * clip(obj)),
 *               box and landmarks from the grid cell, score >= conf, then cv::dnn::NMSBoxes
 *               (IoU 0.3 on the boxes truncated to int, as its Rect2i) and mapped back to the
 *               image, corners clipped to it, boxes left with no area dropped.
 *
 * The detector object reads the file once and keeps it parsed; it builds one net per padded
 * input size, again only when that size changes (video frames all share one; photos may not):
 *
 *     fm_err err = {0};
 *     fm_yunet *y = fm_yunet_create("models/yunet/yunet_n_640_640.onnx", 640, NULL, &err);
 *     fm_face faces[256];
 *     int n = fm_yunet_run(y, img, 0.5f, faces, 256, NULL, &err);   // -1 on error
 *     fm_yunet_free(y);
 */
#ifndef FM_YUNET_H
#define FM_YUNET_H

#include "core/err.h"
#include "face/detector.h"
#include "io/image.h"
#include "nn/net.h"

#define FM_YUNET_DET_SIZE 640  /* default long side of the scaled image, pixels */
#define FM_YUNET_MIN_SIZE 32   /* smallest det_size */
#define FM_YUNET_MAX_SIZE 4096 /* largest det_size */
#define FM_YUNET_DIVISOR 32    /* the padded input's sides are multiples of this */
#define FM_YUNET_NMS_IOU 0.3f  /* OpenCV's FaceDetectorYN default */
#define FM_YUNET_TOP_K 5000    /* candidates kept before NMS (OpenCV's default top_k) */
#define FM_YUNET_NLANDMARKS 5  /* right eye, left eye, nose tip, right / left mouth corner */

/* Sizes in pixels for one image. */
typedef struct {
    int img_w, img_h; /* the image */
    int new_w, new_h; /* scaled: long side det_size, each >= 1 */
    int pad_w, pad_h; /* the net's input: new size rounded up to multiples of 32 */
} fm_yunet_geom;

/* The geometry of an img_w x img_h image at det_size (FM_YUNET_MIN_SIZE..FM_YUNET_MAX_SIZE):
 * scale = det_size / max(W, H), new = ((int)(W * scale + 0.5), (int)(H * scale + 0.5)).
 * FM_ERR_ARG with a message for a non-positive image size or det_size out of range. */
fm_status fm_yunet_geometry(int img_w, int img_h, int det_size, fm_yunet_geom *g, fm_err *err);

/* Writes the input tensor: out holds 3 * pad_h * pad_w floats (NCHW, N = 1, channels B, G, R),
 * pixel values 0..255 in the top-left new_w x new_h, zeros elsewhere. tmp is a caller-owned
 * new_w x new_h image for the resize; it may be NULL when the image is already that size.
 * img must be g->img_w x g->img_h. Allocates nothing. */
void fm_yunet_preprocess(const fm_image *img, const fm_yunet_geom *g, fm_image *tmp, float *out);

/* The net's 12 outputs, [0] stride 8, [1] stride 16, [2] stride 32; each has
 * (pad_h / s) * (pad_w / s) rows in row-major grid order (row r, column c: r * cols + c). */
typedef struct {
    const float *cls[3];  /* 1 value a row */
    const float *obj[3];  /* 1 */
    const float *bbox[3]; /* 4: centre offset x, y in cells, log width, log height */
    const float *kps[3];  /* 10: (x, y) of the 5 landmarks, in cells */
} fm_yunet_outputs;

/* One decoded candidate, in pixels of the padded input (scratch for fm_yunet_decode). */
typedef struct {
    float x1, y1, w, h; /* box: top-left corner and size */
    float lm[10];       /* landmarks x0, y0, ..., x4, y4 */
    float score;
    int idx;            /* decode order (stride 8 first, row-major): ties keep this order */
} fm_yunet_cand;

/* Rows over the three strides: the most candidates a decode can produce. */
int fm_yunet_max_candidates(const fm_yunet_geom *g);

/* cv::dnn::NMSBoxes(boxes, scores, conf, iou, keep, eta 1, top_k FM_YUNET_TOP_K) on
 * cand[0..n-1], with boxes Rect2i((int)x1, (int)y1, (int)w, (int)h) as face_detect.cpp makes
 * them: candidates with score > conf (strictly), sorted by score descending (stable), the
 * first FM_YUNET_TOP_K, then each kept unless its IoU with an already kept box is > iou.
 * The kept ones are moved to cand[0..k-1], best first; returns k. With n <= 1 nothing is
 * done (face_detect.cpp skips NMS for a single face) and n is returned. */
int fm_yunet_nms(fm_yunet_cand *cand, int n, float conf, float iou);

/* Decodes, suppresses (iou as above; FM_YUNET_NMS_IOU normally) and maps the faces back to
 * the image: x / (new_w / img_w), y / (new_h / img_h), box corners clipped to
 * [0, img_w] x [0, img_h] (landmarks are not clipped); a box with no area left (or outside the
 * image, or not finite) is dropped. cand has room for fm_yunet_max_candidates(g) entries
 * (caller-owned scratch). Faces are written best first, at most max; returns how many there
 * are (possibly more than max). Each face has nlandmarks = 5. Allocates nothing. */
int fm_yunet_decode(const fm_yunet_outputs *out, const fm_yunet_geom *g, float conf, float iou,
                    fm_yunet_cand *cand, fm_face *faces, int max);

/* ---- the detector --------------------------------------------------------------------- */

typedef struct fm_yunet fm_yunet;

/* Reads the .onnx at path (kept parsed, for rebuilds) and builds it for det_size (long side,
 * FM_YUNET_MIN_SIZE..FM_YUNET_MAX_SIZE) and checks it has YuNet's outputs cls_8 .. kps_32 with
 * the expected row counts. opts may be NULL (defaults); its input_shape is ignored. */
fm_yunet *fm_yunet_create(const char *path, int det_size, const fm_net_opts *opts, fm_err *err);
void fm_yunet_free(fm_yunet *y);

/* Faces in img with score >= conf, best first, at most max written; returns how many were found
 * (possibly more than max), or -1 with err set when the net could not be rebuilt for a new
 * padded size or its forward failed. timing may be NULL. No allocation unless the image's
 * scaled or padded size differs from the previous call's. */
int fm_yunet_run(fm_yunet *y, const fm_image *img, float conf, fm_face *faces, int max,
                 fm_det_timing *timing, fm_err *err);

/* The current net (it changes when the padded size does), and the det_size. */
fm_net *fm_yunet_net(fm_yunet *y);
int fm_yunet_det_size(const fm_yunet *y);

#endif
