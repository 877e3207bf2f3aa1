/* augment.h - seedable random numbers and training-time augmentation of face crops.
 *
 * The augmentation follows Keras' ImageDataGenerator (the peers train with
 * rotation_range=20, zoom_range=0.15, width_shift_range=0.2, height_shift_range=0.2,
 * shear_range=0.15, horizontal_flip=True, fill_mode="nearest") and adds brightness and
 * contrast jitter and an optional "low resolution" step. Every random draw comes from a
 * generator seeded by (seed, epoch, sample index), so a training run is reproducible:
 *
 *     fm_aug_params p = fm_aug_defaults();          // the peers' Keras settings + jitter
 *     p.lowres_prob = 0.3f;                         // opt in to blurry small-face crops
 *     fm_image *out = fm_image_new(crop->w, crop->h, &err);
 *     fm_augment(crop, out, &p, fm_aug_seed(run_seed, epoch, sample_index));
 *
 * Semantics (keras-preprocessing's get_random_transform / apply_affine_transform, read
 * for reference; our own code). Coordinates are (row r, column c) of pixel centres:
 *   theta ~ U[-rotation_deg, rotation_deg] degrees, rotation matrix [[cos, -sin], [sin, cos]];
 *   tx ~ U[-height_shift, height_shift] * h   (rows),  ty ~ U[-width_shift, width_shift] * w;
 *   shear ~ U[-shear_deg, shear_deg] DEGREES (Keras 2.x: shear_range is an angle in degrees),
 *     shear matrix [[1, -sin(shear)], [0, cos(shear)]];
 *   zx, zy ~ U[1 - zoom, 1 + zoom] independently (zx scales rows, zy columns); as in Keras the
 *     factor multiplies the OUTPUT->INPUT map, so zoom > 1 shows more of the image (zoom out);
 *   the map from an output pixel to the input point it samples is
 *     in = C + R * (t + S * Z * (out - C)),   C = ((h - 1) / 2, (w - 1) / 2),
 *   i.e. Keras' transform_matrix_offset_center with the true pixel centre (newer
 *   keras-preprocessing; older versions used h/2 + 0.5, one pixel off);
 *   a horizontal flip (probability 1/2) mirrors the result, folded into the same map;
 *   sampling is bilinear with "nearest" fill: reads outside the image repeat the edge pixel
 *   (scipy's mode="nearest"), rounded to the nearest 8-bit value (halves up).
 * Then, in this order:
 *   low resolution (probability lowres_prob): the shorter side is scaled to an integer
 *     s ~ U{lowres_min .. lowres_max} (log-uniform: s = round(exp(U[log min, log max]))),
 *     by area averaging (as a camera would capture a small face), then back up to w x h with
 *     fm_resize_bilinear (as the detector's small crops are upscaled); skipped when
 *     s >= the shorter side;
 *   contrast k ~ U[1 - contrast, 1 + contrast] and brightness b ~ U[1 - brightness,
 *     1 + brightness]: v' = clamp(round(b * ((v - 128) * k + 128)), 0, 255), the same for
 *     all three channels (128 is a fixed pivot, not the image mean).
 * All eleven draws are taken in a fixed order whether or not a step is enabled, so changing
 * one range does not reshuffle the others.
 */
#ifndef FM_AUGMENT_H
#define FM_AUGMENT_H

#include <stdint.h>

#include "core/err.h"
#include "io/image.h"

/* ---- random numbers --------------------------------------------------------------------
 * splitmix64 (Steele, Lea, Flood 2014): the state advances by 0x9E3779B97F4A7C15 and each
 * output is the state through the variant-13 finaliser. Small, fast, every seed is valid,
 * and identical on every platform. */
typedef struct {
    uint64_t state;
} fm_rng;

void fm_rng_init(fm_rng *r, uint64_t seed);
uint64_t fm_rng_next(fm_rng *r);
/* Uniform double in [0, 1): the top 53 bits of the next output times 2^-53. */
double fm_rng_uniform(fm_rng *r);
/* lo + (hi - lo) * fm_rng_uniform(r). */
double fm_rng_range(fm_rng *r, double lo, double hi);
/* Uniform integer in [0, n) without modulo bias (rejection); 0 when n == 0. */
uint64_t fm_rng_below(fm_rng *r, uint64_t n);
/* A seed for one sample of one epoch: finalise(finalise(finalise(seed) ^ epoch) ^ index),
 * with the splitmix64 finaliser; different (seed, epoch, index) give unrelated streams. */
uint64_t fm_aug_seed(uint64_t seed, uint64_t epoch, uint64_t index);

/* ---- augmentation ----------------------------------------------------------------------- */
typedef struct {
    float rotation_deg; /* Keras rotation_range, degrees */
    float zoom;         /* Keras zoom_range z: factors in [1 - z, 1 + z], 0 <= z < 1 */
    float width_shift;  /* Keras width_shift_range, fraction of the width (< 1) */
    float height_shift; /* Keras height_shift_range, fraction of the height (< 1) */
    float shear_deg;    /* Keras shear_range, degrees */
    int hflip;          /* non-zero: mirror with probability 1/2 */
    float brightness;   /* factor in [1 - b, 1 + b], 0 <= b <= 1 */
    float contrast;     /* factor in [1 - c, 1 + c], 0 <= c <= 1 */
    float lowres_prob;  /* probability of the low-resolution step, 0..1 */
    int lowres_min;     /* smallest shorter side of the low-resolution step, px (>= 1) */
    int lowres_max;     /* largest; 0 = the crop's shorter side */
} fm_aug_params;

/* The peers' ImageDataGenerator settings above, brightness 0.2, contrast 0.2, and the
 * low-resolution step off (lowres_prob 0, lowres_min 12, lowres_max 0). */
fm_aug_params fm_aug_defaults(void);
/* Everything off: fm_augment then copies the input exactly. */
fm_aug_params fm_aug_none(void);

/* One drawn transform (what fm_aug_draw samples; fm_aug_apply applies it). */
typedef struct {
    double theta_deg, tx, ty, shear_deg, zx, zy; /* tx rows (px), ty columns (px) */
    int flip;
    double brightness, contrast;
    int lowres; /* target shorter side in px, 0 = no low-resolution step */
} fm_aug_draw;

/* The random transform for a w x h crop and a seed (checked parameters: FM_ERR_ARG for a
 * negative, non-finite or out-of-range field). */
fm_status fm_aug_sample(const fm_aug_params *p, int w, int h, uint64_t seed, fm_aug_draw *d,
                        fm_err *err);
/* Applies d to in, writing out (caller-allocated, the same w x h as in, not in itself).
 * Allocates a temporary only for the low-resolution step (at most w * h * 3 bytes). */
fm_status fm_aug_apply(const fm_image *in, fm_image *out, const fm_aug_draw *d, fm_err *err);
/* fm_aug_sample + fm_aug_apply. Deterministic for (in, p, seed). */
fm_status fm_augment(const fm_image *in, fm_image *out, const fm_aug_params *p, uint64_t seed,
                     fm_err *err);

#endif
