/* test_data_crop.c - crop regions (margin, square, rounding), edge-replicated borders against
 * a padded reference, tiny / outside / degenerate boxes, and the classifier's float input. */
#include <stdlib.h>
#include <string.h>

#include "data/crop.h"
#include "test.h"

static uint8_t *px(const fm_image *img, int x, int y)
{
    return img->data + (size_t)y * (size_t)img->stride + (size_t)x * 3;
}

/* A w x h image whose pixel (x, y) is (x, y, x ^ y) mod 256 in B, G, R. */
static fm_image *pattern(int w, int h)
{
    fm_image *img = fm_image_new(w, h, NULL);
    FM_CHECK(img != NULL);
    for (int y = 0; img && y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px(img, x, y);
            p[0] = (uint8_t)(x * 7);
            p[1] = (uint8_t)(y * 5);
            p[2] = (uint8_t)((x ^ y) * 3);
        }
    return img;
}

static void check_region(fm_box b, float margin, int square, int iw, int ih, int x, int y, int w,
                         int h)
{
    fm_rect r = {-99, -99, -99, -99};
    fm_err err = {0};
    fm_status st = fm_crop_region(b, margin, square, iw, ih, &r, &err);
    FM_CHECK_MSG(st == FM_OK, "%s", err.msg);
    FM_CHECK_MSG(r.x == x && r.y == y && r.w == w && r.h == h,
                 "box (%g %g %g %g) m %g sq %d: region (%d %d %d %d), expected (%d %d %d %d)",
                 (double)b.x1, (double)b.y1, (double)b.x2, (double)b.y2, (double)margin, square,
                 r.x, r.y, r.w, r.h, x, y, w, h);
}

static void test_crop_region_geometry(void)
{
    const fm_box b = {10, 20, 30, 60}; /* 20 x 40, centre (20, 40) */
    check_region(b, 0.0f, 0, 100, 100, 10, 20, 20, 40);
    check_region(b, 0.1f, 0, 100, 100, 8, 16, 24, 48);  /* 1.2x: 24 x 48 */
    check_region(b, 0.25f, 0, 100, 100, 5, 10, 30, 60); /* 1.5x */
    check_region(b, 0.0f, 1, 100, 100, 0, 20, 40, 40);  /* square on the longer side */
    check_region(b, 0.1f, 1, 100, 100, -4, 16, 48, 48); /* may leave the image */
    /* fractional boxes: size rounds half up, first pixel = round(centre - n / 2) */
    check_region((fm_box){10.3f, 0, 20.3f, 10}, 0.0f, 0, 50, 50, 10, 0, 10, 10);
    check_region((fm_box){10.6f, 0, 20.6f, 10}, 0.0f, 0, 50, 50, 11, 0, 10, 10);
    check_region((fm_box){0, 0, 2.5f, 3.49f}, 0.0f, 0, 50, 50, 0, 0, 3, 3);
    /* tiny boxes: at least one pixel, centred */
    check_region((fm_box){5, 7, 5, 7}, 0.0f, 0, 50, 50, 5, 7, 1, 1);
    check_region((fm_box){5, 7, 5, 7}, 0.5f, 1, 50, 50, 5, 7, 1, 1);
    check_region((fm_box){5, 7, 6, 8}, 0.0f, 0, 50, 50, 5, 7, 1, 1);
    check_region((fm_box){5, 7, 6, 8}, 0.5f, 0, 50, 50, 5, 7, 2, 2); /* 2 x 2 from 5 - 0.5 */
    /* partly outside is fine: the region is not moved */
    check_region((fm_box){-10, -10, 10, 10}, 0.0f, 0, 50, 50, -10, -10, 20, 20);
    check_region((fm_box){45, 45, 60, 60}, 0.0f, 1, 50, 50, 45, 45, 15, 15);
    /* a 1 x 1 image */
    check_region((fm_box){0, 0, 1, 1}, 0.2f, 1, 1, 1, 0, 0, 1, 1);
}

static void expect_region_error(fm_box b, float margin, fm_status status, const char *needle)
{
    fm_rect r = {0, 0, 0, 0};
    fm_err err = {0};
    FM_CHECK_INT(fm_crop_region(b, margin, 1, 50, 40, &r, &err), status);
    FM_CHECK_STR_CONTAINS(err.msg, needle);
}

static void test_crop_region_errors(void)
{
    expect_region_error((fm_box){10, 10, 5, 20}, 0.0f, FM_ERR_ARG, "negative width or height");
    expect_region_error((fm_box){10, 10, 20, 9}, 0.0f, FM_ERR_ARG, "negative width or height");
    expect_region_error((fm_box){NAN, 10, 20, 30}, 0.0f, FM_ERR_ARG, "not finite");
    expect_region_error((fm_box){0, 0, INFINITY, 30}, 0.0f, FM_ERR_ARG, "not finite");
    expect_region_error((fm_box){0, 0, 2e6f, 30}, 0.0f, FM_ERR_ARG, "beyond +-1e+06");
    expect_region_error((fm_box){0, 0, 10, 10}, -0.1f, FM_ERR_ARG, "margin -0.1 is outside 0..4");
    expect_region_error((fm_box){0, 0, 10, 10}, NAN, FM_ERR_ARG, "margin nan is outside");
    expect_region_error((fm_box){0, 0, 10, 10}, 5.0f, FM_ERR_ARG, "margin 5 is outside");
    expect_region_error((fm_box){0, 0, 9000, 10}, 0.0f, FM_ERR_LIMIT,
                        "region 9000x9000 exceeds the 8192-pixel limit");
    /* wholly outside: to the right, below, above-left, and touching only the edge */
    expect_region_error((fm_box){60, 10, 70, 20}, 0.0f, FM_ERR_ARG,
                        "box (60, 10, 70, 20) lies outside the 50x40 image");
    expect_region_error((fm_box){10, 45, 20, 48}, 0.0f, FM_ERR_ARG, "lies outside the 50x40 image");
    expect_region_error((fm_box){-30, -30, -10, -10}, 0.0f, FM_ERR_ARG, "lies outside");
    expect_region_error((fm_box){-10, 0, 0, 10}, 0.0f, FM_ERR_ARG, "lies outside");
    /* ... but a margin that reaches into the image makes it a (padded) crop */
    fm_rect r;
    FM_CHECK_INT(fm_crop_region((fm_box){-10, 0, 0, 10}, 0.1f, 0, 50, 40, &r, NULL), FM_OK);
    FM_CHECK_INT(r.x, -11);
    FM_CHECK_INT(r.w, 12);
}

/* The region of img with BORDER_REPLICATE, built pixel by pixel. */
static fm_image *padded_reference(const fm_image *img, fm_rect r)
{
    fm_image *out = fm_image_new(r.w, r.h, NULL);
    for (int y = 0; out && y < r.h; y++)
        for (int x = 0; x < r.w; x++) {
            int sx = r.x + x, sy = r.y + y;
            sx = sx < 0 ? 0 : sx >= img->w ? img->w - 1 : sx;
            sy = sy < 0 ? 0 : sy >= img->h ? img->h - 1 : sy;
            memcpy(px(out, x, y), px(img, sx, sy), 3);
        }
    return out;
}

static int same_pixels(const fm_image *a, const fm_image *b)
{
    if (a->w != b->w || a->h != b->h)
        return 0;
    for (int y = 0; y < a->h; y++)
        if (memcmp(px(a, 0, y), px(b, 0, y), (size_t)a->w * 3) != 0)
            return 0;
    return 1;
}

static void test_crop_copy_when_sizes_match(void)
{
    fm_image *img = pattern(40, 30);
    fm_image *out = fm_image_new(12, 12, NULL);
    fm_err err = {0};
    /* inside: the region itself, byte for byte */
    FM_CHECK_INT(fm_crop_face(img, (fm_box){5, 6, 17, 18}, 0.0f, 0, 12, out, &err), FM_OK);
    for (int y = 0; y < 12; y++)
        for (int x = 0; x < 12; x++)
            FM_CHECK(memcmp(px(out, x, y), px(img, 5 + x, 6 + y), 3) == 0);
    /* top-left corner outside: edge pixels repeat */
    FM_CHECK_INT(fm_crop_face(img, (fm_box){-2, -3, 10, 9}, 0.0f, 0, 12, out, &err), FM_OK);
    for (int y = 0; y < 12; y++)
        for (int x = 0; x < 12; x++) {
            const int sx = x - 2 < 0 ? 0 : x - 2, sy = y - 3 < 0 ? 0 : y - 3;
            FM_CHECK(memcmp(px(out, x, y), px(img, sx, sy), 3) == 0);
        }
    /* bottom-right corner outside */
    FM_CHECK_INT(fm_crop_face(img, (fm_box){35, 25, 47, 37}, 0.0f, 0, 12, out, &err), FM_OK);
    for (int y = 0; y < 12; y++)
        for (int x = 0; x < 12; x++) {
            const int sx = 35 + x > 39 ? 39 : 35 + x, sy = 25 + y > 29 ? 29 : 25 + y;
            FM_CHECK(memcmp(px(out, x, y), px(img, sx, sy), 3) == 0);
        }
    fm_image_free(out);
    fm_image_free(img);
}

/* Random boxes (inside, across borders, larger than the image), random output sizes: the
 * crop equals fm_resize_bilinear of the padded reference region, exactly. */
static void test_crop_matches_padded_reference(void)
{
    uint64_t rs = 12345;
    fm_image *img = pattern(37, 29);
    for (int t = 0; t < 300; t++) {
        const float x1 = fm_test_randf(&rs, -20.0f, 45.0f), y1 = fm_test_randf(&rs, -20.0f, 35.0f);
        const float bw = fm_test_randf(&rs, 0.0f, 50.0f), bh = fm_test_randf(&rs, 0.0f, 50.0f);
        const fm_box b = {x1, y1, x1 + bw, y1 + bh};
        const float margin = fm_test_randf(&rs, 0.0f, 0.5f);
        const int square = (int)(fm_test_rand(&rs) & 1);
        const int s = 1 + (int)(fm_test_rand(&rs) % 40);
        fm_rect r;
        if (fm_crop_region(b, margin, square, img->w, img->h, &r, NULL) != FM_OK)
            continue; /* wholly outside */
        fm_image *out = fm_image_new(s, s, NULL), *ref = fm_image_new(s, s, NULL);
        fm_image *pad = padded_reference(img, r);
        fm_err err = {0};
        FM_CHECK_INT(fm_crop_face(img, b, margin, square, s, out, &err), FM_OK);
        fm_resize_bilinear(pad, ref);
        FM_CHECK_MSG(same_pixels(out, ref), "box (%g %g %g %g) margin %g square %d size %d",
                     (double)b.x1, (double)b.y1, (double)b.x2, (double)b.y2, (double)margin,
                     square, s);
        fm_image_free(out);
        fm_image_free(ref);
        fm_image_free(pad);
    }
    fm_image_free(img);
}

static void test_crop_tiny_and_degenerate(void)
{
    fm_image *img = pattern(9, 7);
    fm_image *out = fm_image_new(16, 16, NULL);
    fm_err err = {0};
    /* a one-pixel box (and a zero-size one at the same place) gives that pixel everywhere */
    const fm_box boxes[2] = {{4, 3, 5, 4}, {4, 3, 4, 3}};
    for (int k = 0; k < 2; k++) {
        FM_CHECK_INT(fm_crop_face(img, boxes[k], 0.0f, 1, 16, out, &err), FM_OK);
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
                FM_CHECK(memcmp(px(out, x, y), px(img, 4, 3), 3) == 0);
    }
    /* a 1 x 1 image with a box much larger than it: the one pixel, replicated */
    fm_image *one = fm_image_new(1, 1, NULL);
    memcpy(one->data, "\x01\x02\x03", 3);
    FM_CHECK_INT(fm_crop_face(one, (fm_box){-5, -5, 6, 6}, 0.3f, 1, 16, out, &err), FM_OK);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++)
            FM_CHECK(memcmp(px(out, x, y), "\x01\x02\x03", 3) == 0);
    /* errors leave out untouched */
    memset(out->data, 77, (size_t)out->stride * 16);
    FM_CHECK_INT(fm_crop_face(img, (fm_box){20, 20, 30, 30}, 0.0f, 0, 16, out, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "lies outside the 9x7 image");
    FM_CHECK_INT(fm_crop_face(img, (fm_box){5, 5, 2, 6}, 0.0f, 0, 16, out, &err), FM_ERR_ARG);
    FM_CHECK_INT(fm_crop_face(img, (fm_box){0, 0, 5, 5}, 0.0f, 0, 15, out, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "output image must be 15x15 (got 16x16)");
    FM_CHECK_INT(fm_crop_face(img, (fm_box){0, 0, 5, 5}, 0.0f, 0, 0, out, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "out_size 0 is outside 1..8192");
    FM_CHECK_INT(fm_crop_face(NULL, (fm_box){0, 0, 5, 5}, 0.0f, 0, 16, out, &err), FM_ERR_ARG);
    int untouched = 1;
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 48; x++)
            untouched &= px(out, 0, y)[x] == 77;
    FM_CHECK(untouched);
    fm_image_free(one);
    fm_image_free(out);
    fm_image_free(img);
}

static void test_crop_to_input_exact(void)
{
    fm_image *img = fm_image_new(2, 2, NULL);
    const uint8_t vals[4][3] = {{10, 128, 255}, {0, 1, 127}, {200, 64, 129}, {255, 0, 128}};
    for (int i = 0; i < 4; i++)
        memcpy(px(img, i % 2, i / 2), vals[i], 3); /* B, G, R */
    float x[12];
    fm_crop_to_input(img, x);
    for (int i = 0; i < 4; i++) {
        FM_CHECK_NEAR(x[0 + i], (vals[i][2] - 128) / 128.0, 0); /* R plane */
        FM_CHECK_NEAR(x[4 + i], (vals[i][1] - 128) / 128.0, 0); /* G plane */
        FM_CHECK_NEAR(x[8 + i], (vals[i][0] - 128) / 128.0, 0); /* B plane */
    }
    FM_CHECK_NEAR(x[0], 0.9921875, 0);
    FM_CHECK_NEAR(x[8], -0.921875, 0);
    FM_CHECK_NEAR(x[4], 0.0, 0);
    FM_CHECK_NEAR(x[9], -1.0, 0);
    fm_image_free(img);
}

void suite_data_crop(void);
void suite_data_crop(void)
{
    FM_RUN(test_crop_region_geometry);
    FM_RUN(test_crop_region_errors);
    FM_RUN(test_crop_copy_when_sizes_match);
    FM_RUN(test_crop_matches_padded_reference);
    FM_RUN(test_crop_tiny_and_degenerate);
    FM_RUN(test_crop_to_input_exact);
}
