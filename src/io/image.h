/* image.h - 8-bit BGR images: decoding, encoding, resizing (drawing: io/draw.h).
 *
 * Images are always 3-channel BGR, interleaved, rows `stride` bytes apart
 * (the channel order OpenCV uses, so preprocessing matches it). JPEG comes
 * through libjpeg-turbo, PNG through libpng; grey, palette, 16-bit and alpha
 * inputs are converted (alpha dropped). A JPEG's EXIF orientation (APP1)
 * and a PNG's eXIf chunk are honoured, so pixels come out upright.
 *
 *     fm_err err = {0};
 *     fm_image *img = fm_image_load("photo.jpg", 0, &err);   // 0: default max size
 *     if (!img) fprintf(stderr, "facemask: %s\n", err.msg);
 *     fm_draw_rect(img, 10, 10, 100, 120, FM_RGB(0, 255, 0), 2);    // io/draw.h
 *     fm_image_save(img, "out.jpg", &err);
 *     fm_image_free(img);
 */
#ifndef FM_IMAGE_H
#define FM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct {
    int w, h;
    int stride; /* bytes per row, >= 3 * w */
    uint8_t *data;
} fm_image;

/* Default maximum pixel count (w * h) accepted by the decoders. */
#define FM_IMAGE_MAX_PIXELS_DEFAULT (64u * 1024u * 1024u)
/* Largest image file fm_image_load reads (bytes). */
#define FM_IMAGE_MAX_FILE_BYTES (256u * 1024u * 1024u)

typedef struct {
    uint8_t r, g, b;
} fm_color;
#define FM_RGB(r, g, b) ((fm_color){(uint8_t)(r), (uint8_t)(g), (uint8_t)(b)})

/* A new image, zero-filled; NULL with an error on a bad or too large size. */
fm_image *fm_image_new(int w, int h, fm_err *err);
void fm_image_free(fm_image *img);

/* Decodes a JPEG or PNG by its magic bytes. max_pixels 0 = default; it is checked against the
 * header before any pixel memory is allocated. `source` names the input in messages. Strict:
 * a truncated file, or data the library reports as corrupt (where libjpeg would only warn and
 * pad with grey), is an error, never a partial image. Returns a new image the caller frees. */
fm_image *fm_image_decode(const uint8_t *buf, size_t len, const char *source, size_t max_pixels,
                          fm_err *err);
/* Reads and decodes the file at path. Only a regular file of at most FM_IMAGE_MAX_FILE_BYTES
 * is read (fm_read_file: opened with O_NONBLOCK, kind checked on the descriptor), so a FIFO,
 * a device such as /dev/zero or a huge file fails at once: "PATH: not a regular file (fifo)",
 * "PATH: N bytes exceeds the M-byte limit"; an empty file is "PATH: empty file (0 bytes)". */
fm_image *fm_image_load(const char *path, size_t max_pixels, fm_err *err);

/* EXIF orientation (1..8) from a TIFF block ("II*\0" or "MM\0*" header, an optional
 * "Exif\0\0" prefix is skipped); 1 when absent or malformed. Every read is bounds-checked. */
int fm_exif_orientation(const uint8_t *tiff, size_t len);
/* A new image: src turned upright for EXIF orientation 1..8 (5..8 swap width and height). */
fm_image *fm_image_orient(const fm_image *src, int orientation, fm_err *err);

/* Writes JPEG (quality 1..100) or PNG. fm_image_save picks by extension (.jpg/.jpeg/.png). */
fm_status fm_image_save_jpeg(const fm_image *img, const char *path, int quality, fm_err *err);
fm_status fm_image_save_png(const fm_image *img, const char *path, fm_err *err);
fm_status fm_image_save(const fm_image *img, const char *path, fm_err *err);
/* JPEG into memory (*out malloc'd, caller frees). */
fm_status fm_image_encode_jpeg(const fm_image *img, int quality, uint8_t **out, size_t *len,
                               fm_err *err);

/* Bilinear resize of 8-bit BGR exactly as OpenCV's cv::resize(INTER_LINEAR) on CV_8UC3
 * (pixel-centre convention, 11-bit fixed-point weights, same rounding). dst is dw x dh,
 * allocated by the caller (dst->data with dst->stride). */
void fm_resize_bilinear(const fm_image *src, fm_image *dst);

/* OpenCV's blobFromImage(img, scale, (W, H), mean, swapRB, crop=false) for one image:
 * resize (as above, skipped when the size already matches), then
 * out[c][y][x] = (pixel[c'] - mean[c]) * scale, c' = c or the swapped channel.
 * out holds 3*W*H floats (NCHW, N = 1). tmp is a caller-owned W x H image used for the resize
 * (may be NULL when img is already W x H). Neither function allocates. */
void fm_blob_from_image(const fm_image *img, int W, int H, const float mean[3], float scale,
                        int swap_rb, fm_image *tmp, float *out);

/* Drawing on images (boxes, dots, text, labels): io/draw.h. */

#endif
