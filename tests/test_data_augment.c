/* test_data_augment.c - the random generator, and the Keras-style augmentation: identity,
 * flip, exact 90-degree / shift / zoom maps, centre pixel under rotation, colour LUT,
 * low resolution, ranges of the draws, determinism, tiny images. */
#include <stdlib.h>
#include <string.h>

#include "data/augment.h"
#include "test.h"

static uint8_t *px(const fm_image *img, int x, int y)
{
    return img->data + (size_t)y * (size_t)img->stride + (size_t)x * 3;
}

static fm_image *noise(int w, int h, uint64_t seed)
{
    fm_image *img = fm_image_new(w, h, NULL);
    FM_CHECK(img != NULL);
    for (int y = 0; img && y < h; y++)
        for (int x = 0; x < 3 * w; x++)
            px(img, 0, y)[x] = (uint8_t)fm_test_rand(&seed);
    return img;
}

static int same_pixels(const fm_image *a, const fm_image *b)
{
    for (int y = 0; y < a->h; y++)
        if (memcmp(px(a, 0, y), px(b, 0, y), (size_t)a->w * 3) != 0)
            return 0;
    return 1;
}

static fm_aug_draw no_draw(void)
{
    fm_aug_draw d;
    memset(&d, 0, sizeof d);
    d.zx = d.zy = d.brightness = d.contrast = 1.0;
    return d;
}

static void test_rng_reference_values(void)
{
    /* splitmix64 from seed 0: the published first outputs */
    fm_rng r;
    fm_rng_init(&r, 0);
    FM_CHECK(fm_rng_next(&r) == 0xE220A8397B1DCDAFull);
    FM_CHECK(fm_rng_next(&r) == 0x6E789E6AA1B965F4ull);
    FM_CHECK(fm_rng_next(&r) == 0x06C45D188009454Full);
    fm_rng_init(&r, 7);
    int hist[5] = {0};
    double lo = 1, hi = 0;
    for (int i = 0; i < 50000; i++) {
        hist[fm_rng_below(&r, 5)]++;
        const double u = fm_rng_uniform(&r);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    for (int k = 0; k < 5; k++)
        FM_CHECK_MSG(hist[k] > 9500 && hist[k] < 10500, "bucket %d: %d", k, hist[k]);
    FM_CHECK(lo >= 0.0 && lo < 0.001 && hi < 1.0 && hi > 0.999);
    FM_CHECK(fm_rng_below(&r, 0) == 0);
    FM_CHECK(fm_rng_below(&r, 1) == 0);
    FM_CHECK(fm_aug_seed(1, 0, 0) != fm_aug_seed(1, 0, 1));
    FM_CHECK(fm_aug_seed(1, 0, 1) != fm_aug_seed(1, 1, 0));
    FM_CHECK(fm_aug_seed(1, 2, 3) != fm_aug_seed(2, 2, 3));
    FM_CHECK(fm_aug_seed(5, 6, 7) == fm_aug_seed(5, 6, 7));
}

static void test_aug_identity_params(void)
{
    fm_image *in = noise(23, 17, 1), *out = fm_image_new(23, 17, NULL);
    const fm_aug_params p = fm_aug_none();
    fm_err err = {0};
    for (uint64_t s = 0; s < 20; s++) {
        FM_CHECK_INT(fm_augment(in, out, &p, s, &err), FM_OK);
        FM_CHECK(same_pixels(in, out));
    }
    /* the general warp with an identity matrix is exact as well (a flip twice = identity) */
    fm_image *tmp = fm_image_new(23, 17, NULL);
    fm_aug_draw d = no_draw();
    d.flip = 1;
    FM_CHECK_INT(fm_aug_apply(in, tmp, &d, &err), FM_OK);
    FM_CHECK_INT(fm_aug_apply(tmp, out, &d, &err), FM_OK);
    FM_CHECK(same_pixels(in, out));
    fm_image_free(tmp);
    fm_image_free(in);
    fm_image_free(out);
}

static void test_aug_flip_is_mirror(void)
{
    fm_image *in = noise(10, 7, 2), *out = fm_image_new(10, 7, NULL);
    fm_aug_params p = fm_aug_none();
    p.hflip = 1;
    int flipped = 0, kept = 0;
    for (uint64_t s = 0; s < 64; s++) {
        fm_aug_draw d;
        FM_CHECK_INT(fm_aug_sample(&p, 10, 7, s, &d, NULL), FM_OK);
        FM_CHECK_INT(fm_augment(in, out, &p, s, NULL), FM_OK);
        int mirror = 1;
        for (int y = 0; y < 7; y++)
            for (int x = 0; x < 10; x++)
                mirror &= memcmp(px(out, x, y), px(in, 9 - x, y), 3) == 0;
        if (d.flip) {
            FM_CHECK(mirror);
            flipped++;
        } else {
            FM_CHECK(same_pixels(in, out));
            kept++;
        }
    }
    FM_CHECK(flipped > 16 && kept > 16);
    fm_image_free(in);
    fm_image_free(out);
}

/* Keras' map in (row, col): in = C + R (t + S Z (out - C)). */
static void test_aug_exact_maps(void)
{
    const int n = 9; /* odd: the centre (4, 4) is a pixel */
    fm_image *in = noise(n, n, 3), *out = fm_image_new(n, n, NULL);
    fm_err err = {0};
    /* +90 degrees: in_r = 4 - (c - 4), in_c = 4 + (r - 4) */
    fm_aug_draw d = no_draw();
    d.theta_deg = 90.0;
    FM_CHECK_INT(fm_aug_apply(in, out, &d, &err), FM_OK);
    int ok = 1;
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++)
            ok &= memcmp(px(out, c, r), px(in, r, 8 - c), 3) == 0;
    FM_CHECK_MSG(ok, "90-degree rotation is not the expected exact permutation");
    /* tx = +2 rows, ty = -3 columns: out(r, c) = in(r + 2, c - 3), edges repeated */
    d = no_draw();
    d.tx = 2.0;
    d.ty = -3.0;
    FM_CHECK_INT(fm_aug_apply(in, out, &d, &err), FM_OK);
    ok = 1;
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++) {
            const int sr = r + 2 > 8 ? 8 : r + 2, sc = c - 3 < 0 ? 0 : c - 3;
            ok &= memcmp(px(out, c, r), px(in, sc, sr), 3) == 0;
        }
    FM_CHECK_MSG(ok, "shift does not follow Keras' direction");
    /* zoom factor 2 on both axes (Keras: zoom > 1 zooms out): out(r, c) = in(2r - 4, 2c - 4) */
    d = no_draw();
    d.zx = d.zy = 2.0;
    FM_CHECK_INT(fm_aug_apply(in, out, &d, &err), FM_OK);
    ok = 1;
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++) {
            int sr = 2 * r - 4, sc = 2 * c - 4;
            sr = sr < 0 ? 0 : sr > 8 ? 8 : sr;
            sc = sc < 0 ? 0 : sc > 8 ? 8 : sc;
            ok &= memcmp(px(out, c, r), px(in, sc, sr), 3) == 0;
        }
    FM_CHECK_MSG(ok, "zoom 2 is not a 2x zoom-out around the centre");
    /* zx only scales rows */
    d = no_draw();
    d.zx = 2.0;
    FM_CHECK_INT(fm_aug_apply(in, out, &d, &err), FM_OK);
    FM_CHECK(memcmp(px(out, 7, 5), px(in, 7, 6), 3) == 0);
    /* shear 45 degrees: in_r = 4 + (r - 4) - sin45 (c - 4), in_c = 4 + cos45 (c - 4); at
     * column 4 nothing moves */
    d = no_draw();
    d.shear_deg = 45.0;
    FM_CHECK_INT(fm_aug_apply(in, out, &d, &err), FM_OK);
    for (int r = 0; r < n; r++)
        FM_CHECK(memcmp(px(out, 4, r), px(in, 4, r), 3) == 0);
    fm_image_free(in);
    fm_image_free(out);
}

static void test_aug_rotation_keeps_centre(void)
{
    fm_image *in = noise(31, 25, 4), *out = fm_image_new(31, 25, NULL);
    fm_aug_params p = fm_aug_none();
    p.rotation_deg = 20.0f;
    p.zoom = 0.15f;
    p.shear_deg = 0.15f;
    p.hflip = 0;
    for (uint64_t s = 0; s < 30; s++) {
        FM_CHECK_INT(fm_augment(in, out, &p, s, NULL), FM_OK);
        FM_CHECK(memcmp(px(out, 15, 12), px(in, 15, 12), 3) == 0);
    }
    /* and something else did change */
    FM_CHECK(!same_pixels(in, out));
    fm_image_free(in);
    fm_image_free(out);
}

static void test_aug_colour_lut(void)
{
    fm_image *in = fm_image_new(256, 1, NULL), *out = fm_image_new(256, 1, NULL);
    for (int x = 0; x < 256; x++)
        px(in, x, 0)[0] = px(in, x, 0)[1] = px(in, x, 0)[2] = (uint8_t)x;
    fm_aug_draw d = no_draw();
    d.brightness = 1.1;
    d.contrast = 0.8;
    FM_CHECK_INT(fm_aug_apply(in, out, &d, NULL), FM_OK);
    for (int v = 0; v < 256; v++) {
        double e = floor(1.1 * ((v - 128) * 0.8 + 128) + 0.5);
        e = e > 255 ? 255 : e < 0 ? 0 : e;
        FM_CHECK_INT(px(out, v, 0)[1], (int)e);
    }
    FM_CHECK_INT(px(out, 128, 0)[0], 141); /* 1.1 * 128 = 140.8 */
    FM_CHECK_INT(px(out, 255, 0)[2], 253); /* 1.1 * 229.6 = 252.56 */
    fm_image_free(in);
    fm_image_free(out);
}

static void test_aug_lowres(void)
{
    /* a constant image stays constant; a 2x2 checker of 4x4 blocks averaged to 2x2 pixels
     * comes back with the block values at the block centres' neighbourhood */
    fm_image *in = fm_image_new(16, 16, NULL), *out = fm_image_new(16, 16, NULL);
    memset(in->data, 90, (size_t)in->stride * 16);
    fm_aug_draw d = no_draw();
    d.lowres = 3;
    FM_CHECK_INT(fm_aug_apply(in, out, &d, NULL), FM_OK);
    FM_CHECK(same_pixels(in, out));
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++)
            memset(px(in, x, y), ((x / 8) ^ (y / 8)) ? 200 : 40, 3);
    d.lowres = 2; /* 16 -> 2 by area: exactly 40 / 200 per quadrant, then 2 -> 16 bilinear */
    FM_CHECK_INT(fm_aug_apply(in, out, &d, NULL), FM_OK);
    FM_CHECK_INT(px(out, 0, 0)[0], 40);
    FM_CHECK_INT(px(out, 15, 0)[0], 200);
    FM_CHECK_INT(px(out, 15, 15)[0], 40);
    FM_CHECK(px(out, 8, 0)[0] > 40 && px(out, 8, 0)[0] < 200); /* blurred edge */
    /* the draw: with lowres_prob 1 the size is in [lowres_min, shorter side) or 0 */
    fm_aug_params p = fm_aug_none();
    p.lowres_prob = 1.0f;
    p.lowres_min = 12;
    int hist_lo = 0, hist_hi = 0;
    for (uint64_t s = 0; s < 500; s++) {
        fm_aug_draw dr;
        FM_CHECK_INT(fm_aug_sample(&p, 224, 224, s, &dr, NULL), FM_OK);
        FM_CHECK(dr.lowres == 0 || (dr.lowres >= 12 && dr.lowres < 224));
        hist_lo += dr.lowres > 0 && dr.lowres < 52; /* log-uniform: median ~ sqrt(12*224) */
        hist_hi += dr.lowres >= 52;
    }
    FM_CHECK_MSG(hist_lo > 200 && hist_hi > 200, "lo %d hi %d", hist_lo, hist_hi);
    fm_aug_draw dr;
    FM_CHECK_INT(fm_aug_sample(&p, 10, 10, 1, &dr, NULL), FM_OK);
    FM_CHECK_INT(dr.lowres, 0); /* min 12 >= shorter side 10: skipped */
    fm_image_free(in);
    fm_image_free(out);
}

static void test_aug_draw_ranges(void)
{
    const fm_aug_params p = fm_aug_defaults();
    FM_CHECK_NEAR(p.rotation_deg, 20, 0);
    FM_CHECK_NEAR(p.zoom, 0.15, 1e-7);
    FM_CHECK_NEAR(p.shear_deg, 0.15, 1e-7);
    FM_CHECK_INT(p.hflip, 1);
    double mn[6] = {1e9, 1e9, 1e9, 1e9, 1e9, 1e9}, mx[6] = {-1e9, -1e9, -1e9, -1e9, -1e9, -1e9};
    int flips = 0;
    for (uint64_t s = 0; s < 4000; s++) {
        fm_aug_draw d;
        FM_CHECK_INT(fm_aug_sample(&p, 100, 50, fm_aug_seed(9, 0, s), &d, NULL), FM_OK);
        const double v[6] = {d.theta_deg, d.tx, d.ty, d.shear_deg, d.zx, d.zy};
        for (int k = 0; k < 6; k++) {
            mn[k] = v[k] < mn[k] ? v[k] : mn[k];
            mx[k] = v[k] > mx[k] ? v[k] : mx[k];
        }
        flips += d.flip;
        FM_CHECK(d.brightness >= 0.8 && d.brightness <= 1.2);
        FM_CHECK(d.contrast >= 0.8 && d.contrast <= 1.2);
        FM_CHECK_INT(d.lowres, 0);
    }
    /* theta in [-20, 20] deg; tx rows in [-0.2 * 50, 0.2 * 50]; ty columns [-20, 20];
     * shear in [-0.15, 0.15] DEGREES; zoom factors in [0.85, 1.15] */
    const double lim[6][2] = {{-20, 20}, {-10, 10}, {-20, 20}, {-0.15, 0.15}, {0.85, 1.15}, {0.85, 1.15}};
    for (int k = 0; k < 6; k++) {
        FM_CHECK_MSG(mn[k] >= lim[k][0] - 1e-6 && mx[k] <= lim[k][1] + 1e-6, "draw %d: %g..%g", k,
                     mn[k], mx[k]);
        const double span = lim[k][1] - lim[k][0];
        FM_CHECK_MSG(mn[k] < lim[k][0] + 0.01 * span && mx[k] > lim[k][1] - 0.01 * span,
                     "draw %d does not cover its range: %g..%g", k, mn[k], mx[k]);
    }
    FM_CHECK_MSG(flips > 1850 && flips < 2150, "flips %d of 4000", flips);
}

static void test_aug_determinism(void)
{
    fm_image *in = noise(32, 32, 5);
    fm_image *a = fm_image_new(32, 32, NULL), *b = fm_image_new(32, 32, NULL);
    fm_aug_params p = fm_aug_defaults();
    p.lowres_prob = 0.5f;
    int differ = 0;
    for (uint64_t i = 0; i < 20; i++) {
        const uint64_t s = fm_aug_seed(42, 3, i);
        FM_CHECK_INT(fm_augment(in, a, &p, s, NULL), FM_OK);
        FM_CHECK_INT(fm_augment(in, b, &p, s, NULL), FM_OK);
        FM_CHECK(same_pixels(a, b));
        FM_CHECK_INT(fm_augment(in, b, &p, fm_aug_seed(42, 4, i), NULL), FM_OK);
        differ += !same_pixels(a, b);
    }
    FM_CHECK_INT(differ, 20);
    fm_image_free(in);
    fm_image_free(a);
    fm_image_free(b);
}

static void test_aug_tiny_images_and_errors(void)
{
    static const int sizes[][2] = {{1, 1}, {2, 3}, {3, 2}, {1, 7}, {7, 1}, {13, 12}};
    fm_aug_params p = fm_aug_defaults();
    p.lowres_prob = 1.0f;
    p.lowres_min = 1;
    p.rotation_deg = 180.0f;
    p.zoom = 0.9f;
    p.width_shift = p.height_shift = 1.0f;
    p.shear_deg = 60.0f;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const int w = sizes[k][0], h = sizes[k][1];
        fm_image *in = noise(w, h, 6), *out = fm_image_new(w, h, NULL);
        for (uint64_t s = 0; s < 200; s++) {
            fm_err err = {0};
            FM_CHECK_MSG(fm_augment(in, out, &p, s, &err) == FM_OK, "%dx%d: %s", w, h, err.msg);
        }
        if (w == 1 && h == 1) { /* any geometry of one pixel is that pixel (before colour) */
            fm_aug_draw d = no_draw();
            d.theta_deg = 33;
            d.tx = 5;
            d.zx = 0.1;
            d.flip = 1;
            FM_CHECK_INT(fm_aug_apply(in, out, &d, NULL), FM_OK);
            FM_CHECK(same_pixels(in, out));
        }
        fm_image_free(in);
        fm_image_free(out);
    }
    fm_image *in = noise(4, 4, 7), *out = fm_image_new(5, 4, NULL);
    fm_err err = {0};
    fm_aug_params q = fm_aug_defaults();
    FM_CHECK_INT(fm_augment(in, out, &q, 1, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "output is 5x4, expected 4x4");
    FM_CHECK_INT(fm_augment(in, in, &q, 1, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "must not be the input");
    q.rotation_deg = NAN;
    FM_CHECK_INT(fm_augment(in, in, &q, 1, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "rotation_deg nan is outside 0..360");
    q = fm_aug_defaults();
    q.zoom = 1.0f;
    FM_CHECK_INT(fm_aug_sample(&q, 4, 4, 1, &(fm_aug_draw){0}, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "zoom 1 is outside 0..0.99");
    q = fm_aug_defaults();
    q.lowres_min = 0;
    FM_CHECK_INT(fm_aug_sample(&q, 4, 4, 1, &(fm_aug_draw){0}, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "lowres_min 0 must be >= 1");
    fm_image_free(in);
    fm_image_free(out);
}

void suite_data_augment(void);
void suite_data_augment(void)
{
    FM_RUN(test_rng_reference_values);
    FM_RUN(test_aug_identity_params);
    FM_RUN(test_aug_flip_is_mirror);
    FM_RUN(test_aug_exact_maps);
    FM_RUN(test_aug_rotation_keeps_centre);
    FM_RUN(test_aug_colour_lut);
    FM_RUN(test_aug_lowres);
    FM_RUN(test_aug_draw_ranges);
    FM_RUN(test_aug_determinism);
    FM_RUN(test_aug_tiny_images_and_errors);
}
