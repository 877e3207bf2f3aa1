/* classifier.h - mask / no-mask for a face, with facemask's fine-tuned MobileNetV2.
 *
 * A classifier is a folder written by `facemask train`:
 *   classifier.prototxt, classifier.caffemodel   the network (Caffe; OpenCV loads it too)
 *   classifier.cfg                               input size, crop policy, class names,
 *                                                whether a mirrored pass is averaged in
 * The network's input is RGB, S x S, (pixel - 128) / 128; its output is a softmax over two
 * classes, one of which is the "mask" class named in the cfg.
 *
 *     fm_classifier *c = fm_classifier_load("models/mask", NULL, &err);
 *     float p;
 *     char label[32];
 *     if (fm_classifier_face(c, img, &face, &p, &err) == FM_OK)
 *         printf("%s\n", fm_mask_label_text(p, label, sizeof label));   // "no_mask 0.93"
 *     fm_classifier_free(c);
 */
#ifndef FM_CLASSIFIER_H
#define FM_CLASSIFIER_H

#include "core/err.h"
#include "face/detector.h"
#include "io/image.h"
#include "nn/net.h"

typedef struct {
    int input_size;      /* S */
    float margin;        /* crop margin around a detector box, fraction of its size per side */
    int square;          /* square crop region around the box centre */
    int flip_average;    /* also classify the mirrored crop and average (cfg flip_average 1;
                          * absent: 0, as models trained before it) */
    int mask_class;      /* output index of the "mask" class */
    char classes[2][32]; /* output class names, e.g. with_mask, without_mask */
} fm_classifier_cfg;

typedef struct fm_classifier fm_classifier;

/* Reads <dir>/classifier.cfg, .prototxt and .caffemodel. A network whose output is not two
 * classes, or whose input is not 1x3xSxS with S from the cfg, is an error. opts may be NULL. */
fm_classifier *fm_classifier_load(const char *dir, const fm_net_opts *opts, fm_err *err);
void fm_classifier_free(fm_classifier *c);
const fm_classifier_cfg *fm_classifier_config(const fm_classifier *c);
fm_net *fm_classifier_net(fm_classifier *c);

/* How every output names a face's class. p is P(mask), 0..1.
 * fm_mask_label: "mask" when p >= 0.5, else "no_mask" (the spelling of every output).
 * fm_mask_label_conf: the confidence of that label, p for mask and 1 - p for no_mask (0.5..1).
 * fm_mask_label_text: "mask 0.97" / "no_mask 0.93", the label and its confidence, as detect's
 * text, the annotated copies and the video show it (JSON gives mask_prob = p instead);
 * buf must hold 16 bytes; returns buf. */
const char *fm_mask_label(float mask_prob);
float fm_mask_label_conf(float mask_prob);
char *fm_mask_label_text(float mask_prob, char *buf, size_t size);

/* Mask probability of the crop already in fm_net_input(fm_classifier_net(c), 0) (as
 * fm_crop_to_input writes it): one forward, or with the cfg's flip_average two, the second on
 * the input mirrored left to right, and their mean (the input is not kept). Every path that
 * classifies goes through it, so a model runs the same way in detect, watch, eval and its
 * training report. */
float fm_classifier_run(fm_classifier *c);
/* Mask probability of a face crop (the whole image is the face; resized to S x S). */
float fm_classifier_crop(fm_classifier *c, const fm_image *crop);
/* Mask probability of a detected face: cropped with the cfg's margin and square policy
 * (borders replicated), then classified. A box that cannot be cropped (wholly outside the
 * image, not finite) is an error; a tiny box is classified from its upscaled pixels. */
fm_status fm_classifier_face(fm_classifier *c, const fm_image *img, const fm_face *face,
                             float *mask_prob, fm_err *err);

/* The classifier folder: dir if given, else <models_dir>/mask. Writes into buf; returns buf. */
const char *fm_classifier_dir(const char *dir, const char *models_dir, char *buf, size_t size);

/* Reads / writes a classifier.cfg. */
fm_status fm_classifier_cfg_read(const char *path, fm_classifier_cfg *cfg, fm_err *err);
fm_status fm_classifier_cfg_write(const char *path, const fm_classifier_cfg *cfg, fm_err *err);

#endif
