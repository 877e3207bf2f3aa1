/* Overlay: box colours by label at known pixels, label texts, the status bar, clipping, and
 * pixelation that changes the face and nothing else. */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "ui/overlay.h"

static fm_image *grey_image(int w, int h, uint8_t v)
{
    fm_err err = {0};
    fm_image *img = fm_image_new(w, h, &err);
    FM_CHECK_MSG(img != NULL, "%s", err.msg);
    if (img)
        for (int y = 0; y < h; y++)
            memset(img->data + (size_t)y * (size_t)img->stride, v, (size_t)w * 3);
    return img;
}

/* BGR pixel at (x, y) equals rgb. */
static int px_is(const fm_image *img, int x, int y, fm_color c)
{
    const uint8_t *p = img->data + (size_t)y * (size_t)img->stride + (size_t)x * 3;
    return p[0] == c.b && p[1] == c.g && p[2] == c.r;
}

#define CHECK_PX(img, x, y, c)                                                                   \
    do {                                                                                         \
        const uint8_t *p_ = (img)->data + (size_t)(y) * (size_t)(img)->stride + (size_t)(x) * 3; \
        FM_CHECK_MSG(px_is(img, x, y, c), "pixel (%d, %d) is BGR %d,%d,%d, expected %d,%d,%d",  \
                     (int)(x), (int)(y), p_[0], p_[1], p_[2], (c).b, (c).g, (c).r);             \
    } while (0)

static fm_track_info track(int id, float x1, float y1, float x2, float y2, fm_label l, float p)
{
    fm_track_info t;
    memset(&t, 0, sizeof t);
    t.id = id;
    t.box = (fm_box){x1, y1, x2, y2};
    t.label = l;
    t.mask_prob = p;
    t.votes = p >= 0 ? 3 : 0;
    t.det = 0;
    return t;
}

static void test_overlay_box_colours(void)
{
    fm_image *img = grey_image(320, 200, 128);
    if (!img)
        return;
    fm_track_info t[3] = {track(1, 20, 40, 80, 120, FM_LABEL_MASK, 0.97f),
                          track(2, 120, 40, 180, 120, FM_LABEL_NO_MASK, 0.1f),
                          track(3, 220, 40, 280, 120, FM_LABEL_UNKNOWN, -1)};
    fm_overlay_tracks(img, t, 3);
    fm_color green = FM_RGB(0, 255, 0), red = FM_RGB(255, 0, 0), yellow = FM_RGB(255, 255, 0);
    fm_color grey = FM_RGB(128, 128, 128);
    /* box [20, 80) x [40, 120): pixels 20..79, 40..119, a 2-pixel border (h 200 < 720) */
    CHECK_PX(img, 20, 80, green);
    CHECK_PX(img, 21, 80, green);
    CHECK_PX(img, 22, 80, grey);
    CHECK_PX(img, 79, 80, green);
    CHECK_PX(img, 78, 80, green);
    CHECK_PX(img, 50, 119, green);
    CHECK_PX(img, 50, 118, green);
    CHECK_PX(img, 50, 117, grey);
    CHECK_PX(img, 50, 80, grey); /* the face itself is left alone */
    CHECK_PX(img, 19, 80, grey);
    CHECK_PX(img, 80, 80, grey);
    CHECK_PX(img, 50, 120, grey);
    CHECK_PX(img, 120, 80, red);
    CHECK_PX(img, 179, 100, red);
    CHECK_PX(img, 220, 80, yellow);
    CHECK_PX(img, 279, 100, yellow);
    /* the label sits on the label colour just above the box: its first cell column is
     * background (the font's left column is empty), the text is black */
    CHECK_PX(img, 20, 39, green);
    CHECK_PX(img, 20, 40 - FM_FONT_H, green);
    CHECK_PX(img, 20, 40 - FM_FONT_H - 1, grey);
    int black = 0;
    for (int y = 40 - FM_FONT_H; y < 40; y++)
        for (int x = 20; x < 20 + 14 * FM_FONT_W; x++)
            black += px_is(img, x, y, FM_RGB(0, 0, 0));
    FM_CHECK_MSG(black > 40, "%d black text pixels in the label", black);
    fm_image_free(img);
}

static void test_overlay_texts(void)
{
    char buf[64];
    fm_track_info t = track(3, 0, 0, 1, 1, FM_LABEL_MASK, 0.97f);
    FM_CHECK(strcmp(fm_overlay_text(&t, buf, sizeof buf), "ID 3 mask 0.97") == 0);
    t = track(12, 0, 0, 1, 1, FM_LABEL_NO_MASK, 0.09f);
    FM_CHECK(strcmp(fm_overlay_text(&t, buf, sizeof buf), "ID 12 no_mask 0.91") == 0);
    t = track(5, 0, 0, 1, 1, FM_LABEL_UNKNOWN, 0.52f);
    FM_CHECK(strcmp(fm_overlay_text(&t, buf, sizeof buf), "ID 5 unknown (mask 0.52)") == 0);
    t = track(6, 0, 0, 1, 1, FM_LABEL_UNKNOWN, 0.30f);
    FM_CHECK(strcmp(fm_overlay_text(&t, buf, sizeof buf), "ID 6 unknown (no_mask 0.70)") == 0);
    t = track(0, 0, 0, 1, 1, FM_LABEL_UNKNOWN, -1);
    FM_CHECK(strcmp(fm_overlay_text(&t, buf, sizeof buf), "unknown") == 0);
    fm_color c = fm_overlay_color(FM_LABEL_UNKNOWN);
    FM_CHECK(c.r == 255 && c.g == 255 && c.b == 0);
    int s, th;
    fm_overlay_scale(719, &s, &th);
    FM_CHECK(s == 1 && th == 2);
    fm_overlay_scale(720, &s, &th);
    FM_CHECK(s == 2 && th == 3);
}

/* Boxes across the borders are clipped; boxes wholly outside (or NaN) draw nothing. */
static void test_overlay_clipping(void)
{
    fm_image *img = grey_image(100, 80, 128);
    fm_image *ref = grey_image(100, 80, 128);
    if (!img || !ref)
        return;
    fm_track_info t[4] = {track(1, -50, -30, 30, 40, FM_LABEL_NO_MASK, 0.0f),
                          track(2, 500, 500, 600, 600, FM_LABEL_MASK, 1.0f),
                          track(3, -1e30f, -1e30f, -1e29f, -1e29f, FM_LABEL_MASK, 1.0f),
                          track(4, NAN, 0, 10, 10, FM_LABEL_MASK, 1.0f)};
    fm_overlay_tracks(img, t + 1, 3);
    FM_CHECK(memcmp(img->data, ref->data, (size_t)img->stride * (size_t)img->h) == 0);
    fm_overlay_tracks(img, t, 1);
    CHECK_PX(img, 28, 20, FM_RGB(255, 0, 0)); /* right edge (x 28, 29) inside */
    CHECK_PX(img, 10, 38, FM_RGB(255, 0, 0)); /* bottom edge */
    CHECK_PX(img, 10, 20, FM_RGB(128, 128, 128));
    CHECK_PX(img, 0, 0, FM_RGB(128, 128, 128)); /* left/top edges and label are outside */
    fm_image_free(img);
    fm_image_free(ref);
}

static void test_overlay_status_bar(void)
{
    fm_image *img = grey_image(640, 120, 128);
    if (!img)
        return;
    fm_track_counts c;
    memset(&c, 0, sizeof c);
    c.people = 12;
    c.mask = 9;
    c.no_mask = 2;
    c.unknown = 1;
    c.window = 60;
    c.compliance = 0.8181;
    fm_overlay_status(img, 29.84, &c);
    /* bar: FM_FONT_H + 4 rows at scale 1 */
    int bar = FM_FONT_H + 4;
    fm_color dark = FM_RGB(24, 24, 24), white = FM_RGB(255, 255, 255);
    CHECK_PX(img, 0, 0, dark);
    CHECK_PX(img, 639, bar - 1, dark);
    CHECK_PX(img, 0, bar, FM_RGB(128, 128, 128));
    CHECK_PX(img, 639, bar, FM_RGB(128, 128, 128));
    int nwhite = 0, xmax = 0;
    for (int y = 0; y < bar; y++)
        for (int x = 0; x < 640; x++)
            if (px_is(img, x, y, white)) {
                nwhite++;
                xmax = x > xmax ? x : xmax;
            }
    const char *text = "FPS 29.8  people 12  mask 9  no_mask 2  compliance 82% (60s)";
    int tw, th;
    fm_text_size(text, 1, &tw, &th);
    FM_CHECK_MSG(nwhite > 200, "%d white pixels in the status bar", nwhite);
    FM_CHECK_MSG(xmax > 2 + tw - 2 * FM_FONT_W && xmax < 2 + tw, "text ends at x %d, expected ~%d",
                 xmax, 2 + tw);
    /* exactly the glyphs of the text: compare with drawing the text on the bar colour */
    fm_image *ref = grey_image(640, 120, 128);
    if (ref) {
        fm_draw_fill(ref, 0, 0, 639, bar - 1, dark);
        fm_draw_text(ref, 2, 2, text, white, 1);
        FM_CHECK(memcmp(img->data, ref->data, (size_t)img->stride * (size_t)img->h) == 0);
        fm_image_free(ref);
    }
    fm_image_free(img);
}

/* Pixelation: every pixel outside the box keeps its value, the box's pixels change (random
 * noise averages out) and fall into at most 6 x 6 flat blocks. */
static void test_overlay_blur_region(void)
{
    fm_err err = {0};
    fm_image *img = fm_image_new(200, 160, &err), *ref = fm_image_new(200, 160, &err);
    if (!img || !ref) {
        fm_test_fail(__FILE__, __LINE__, "%s", err.msg);
        return;
    }
    uint64_t rng = 7;
    for (int i = 0; i < img->stride * img->h; i++)
        img->data[i] = (uint8_t)fm_test_rand(&rng);
    memcpy(ref->data, img->data, (size_t)img->stride * (size_t)img->h);
    fm_track_info t = track(1, 40, 30, 100, 102, FM_LABEL_MASK, 0.9f);
    fm_overlay_blur(img, &t, 1);
    int outside_changed = 0, inside_changed = 0;
    for (int y = 0; y < 160; y++)
        for (int x = 0; x < 200; x++) {
            int in = x >= 40 && x < 100 && y >= 30 && y < 102;
            int changed = memcmp(img->data + y * img->stride + x * 3,
                                 ref->data + y * ref->stride + x * 3, 3) != 0;
            if (in)
                inside_changed += changed;
            else
                outside_changed += changed;
        }
    FM_CHECK_INT(outside_changed, 0);
    FM_CHECK_MSG(inside_changed > 60 * 72 * 95 / 100, "%d of %d face pixels changed",
                 inside_changed, 60 * 72);
    /* blocks of ceil(72 / 6) = 12 pixels from the box corner: each is one colour */
    for (int by = 30; by < 102; by += 12)
        for (int bx = 40; bx < 100; bx += 12)
            for (int y = by; y < by + 12 && y < 102; y++)
                for (int x = bx; x < bx + 12 && x < 100; x++)
                    if (memcmp(img->data + y * img->stride + x * 3,
                               img->data + by * img->stride + bx * 3, 3) != 0) {
                        fm_test_fail(__FILE__, __LINE__, "block at (%d, %d) not flat at (%d, %d)",
                                     bx, by, x, y);
                        y = 1 << 20;
                        break;
                    }
    /* a block's value is its mean: first block of channel 0 */
    unsigned long sum = 0;
    for (int y = 30; y < 42; y++)
        for (int x = 40; x < 52; x++)
            sum += ref->data[y * ref->stride + x * 3];
    FM_CHECK_INT(img->data[30 * img->stride + 40 * 3], (sum + 72) / 144);
    fm_image_free(img);
    fm_image_free(ref);
}

/* A face across the corner: only the visible part changes, cut on the same grid as if the
 * image were larger; a box outside changes nothing. */
static void test_overlay_blur_clipped(void)
{
    fm_err err = {0};
    fm_image *img = fm_image_new(64, 48, &err), *ref = fm_image_new(64, 48, &err);
    if (!img || !ref)
        return;
    uint64_t rng = 11;
    for (int i = 0; i < img->stride * img->h; i++)
        img->data[i] = (uint8_t)fm_test_rand(&rng);
    memcpy(ref->data, img->data, (size_t)img->stride * (size_t)img->h);
    fm_overlay_pixelate(img, (fm_box){300, 300, 400, 400}, 6);
    fm_overlay_pixelate(img, (fm_box){NAN, 0, 10, 10}, 6);
    FM_CHECK(memcmp(img->data, ref->data, (size_t)img->stride * (size_t)img->h) == 0);
    /* box [-20, 40) x [-10, 50): side 60, blocks of 10 from (-20, -10): the visible blocks
     * start at x 0, 10, 20, 30 and y 0, 10, ..., 40 */
    fm_overlay_pixelate(img, (fm_box){-20, -10, 40, 50}, 6);
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++) {
            const uint8_t *p = img->data + y * img->stride + x * 3;
            if (x >= 40) {
                if (memcmp(p, ref->data + y * ref->stride + x * 3, 3) != 0) {
                    fm_test_fail(__FILE__, __LINE__, "pixel (%d, %d) outside changed", x, y);
                    return;
                }
                continue;
            }
            const uint8_t *q = img->data + (y / 10 * 10) * img->stride + (x / 10 * 10) * 3;
            if (memcmp(p, q, 3) != 0) {
                fm_test_fail(__FILE__, __LINE__, "pixel (%d, %d) differs from its block", x, y);
                return;
            }
        }
    fm_image_free(img);
    fm_image_free(ref);
}

void suite_ui_overlay(void);
void suite_ui_overlay(void)
{
    FM_RUN(test_overlay_box_colours);
    FM_RUN(test_overlay_texts);
    FM_RUN(test_overlay_clipping);
    FM_RUN(test_overlay_status_bar);
    FM_RUN(test_overlay_blur_region);
    FM_RUN(test_overlay_blur_clipped);
}
