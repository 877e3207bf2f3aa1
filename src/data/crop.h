/* crop.h - face crops for the mask classifier, and its float input.
 *
 *     fm_box box = {f->x1, f->y1, f->x2, f->y2};           // e.g. from fm_detector_run
 *     fm_image *crop = fm_image_new(224, 224, &err);
 *     if (fm_crop_face(img, box, 0.1f, 1, 224, crop, &err) != FM_OK) ...skip this face...
 *     float x[3 * 224 * 224];
 *     fm_crop_to_input(crop, x);                            // RGB, (p - 128) / 128, CHW
 *
 * Geometry. A box is in pixel-edge coordinates: it covers x1 <= x < x2, y1 <= y < y2 of the
 * image (a detector box, or a VOC box whose xmax may equal the image width). The region:
 *   1. each side moves out by `margin` times the box's width (left, right) or height (top,
 *      bottom), so the region is (1 + 2 margin) times the box;
 *   2. with `square`, the shorter side grows to the longer one around the same centre;
 *   3. it is rounded to whole pixels: size n = max(1, round(size)), first pixel
 *      round(centre - n / 2), rounding halves up. A zero-size box (x1 == x2) becomes one
 *      pixel; with `square` the region is exactly n x n.
 * Policy at the borders: the parts of the region outside the image repeat the nearest edge
 * pixel (OpenCV's BORDER_REPLICATE), so a face cut by the border keeps its scale and centre.
 * The region is then resized to out_size x out_size with fm_resize_bilinear (OpenCV-exact),
 * exactly cv2.resize(cv2.copyMakeBorder(img, ..., BORDER_REPLICATE)[region], (S, S)).
 * Errors (FM_ERR_ARG) rather than guesses: a non-finite coordinate or margin, a margin
 * outside 0..FM_CROP_MAX_MARGIN, x2 < x1 or y2 < y1 (negative size), a coordinate beyond
 * +-FM_CROP_MAX_COORD, and a region that does not overlap the image by at least one pixel
 * (a box wholly outside). A region side above FM_CROP_MAX_SIDE is FM_ERR_LIMIT.
 */
#ifndef FM_CROP_H
#define FM_CROP_H

#include "core/box.h"
#include "core/err.h"
#include "io/image.h"

#define FM_CROP_MAX_MARGIN 4.0f
#define FM_CROP_MAX_COORD 1.0e6f
#define FM_CROP_MAX_SIDE 8192

/* fm_box (core/box.h): pixel edges, covers [x1, x2) x [y1, y2). */

typedef struct {
    int x, y, w, h; /* first column, first row, size; may extend beyond the image */
} fm_rect;

/* The whole-pixel crop region of a box (steps 1-3 above) for an img_w x img_h image. */
fm_status fm_crop_region(fm_box box, float margin, int square, int img_w, int img_h, fm_rect *r,
                         fm_err *err);

/* Crops img to out (caller-allocated, out_size x out_size, 1 <= out_size <= FM_CROP_MAX_SIDE).
 * When the region crosses the border a padded copy of it is made (region w * h * 3 bytes,
 * freed before return); otherwise the resize reads img in place. out is untouched on error. */
fm_status fm_crop_face(const fm_image *img, fm_box box, float margin, int square, int out_size,
                       fm_image *out, fm_err *err);

/* The classifier's input from a crop: chw_rgb[c * h * w + y * w + x] = (p - 128) / 128 with
 * c = 0 red, 1 green, 2 blue (the crop is BGR); 3 * w * h floats. Exact in float. */
void fm_crop_to_input(const fm_image *crop, float *chw_rgb);

#endif
