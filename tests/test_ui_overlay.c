/* Overlay: box colours by label at known pixels, labels in the style detect draws, label texts,
 * the status bar, clipping, and pixelation that changes the face and nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static fm_font *open_font(void)
{
    fm_err err = {0};
    fm_font *f = fm_font_open(NULL, &err);
    FM_CHECK_MSG(f != NULL, "the default font: %s", err.msg);
    return f;
}

static int same_image(const fm_image *a, const fm_image *b)
{
    return memcmp(a->data, b->data, (size_t)a->stride * (size_t)a->h) == 0;
}

static void test_overlay_box_colours(void)
{
    fm_font *f = open_font();
    fm_image *img = grey_image(480, 200, 128);
    if (!img || !f)
        goto done;
    fm_track_info t[3] = {track(1, 20, 40, 80, 120, FM_LABEL_MASK, 0.97f),
                          track(2, 180, 40, 240, 120, FM_LABEL_NO_MASK, 0.1f),
                          track(3, 340, 40, 400, 120, FM_LABEL_UNKNOWN, -1)};
    fm_overlay_tracks(img, f, t, 3);
    fm_color green = FM_RGB(0, 255, 0), red = FM_RGB(255, 0, 0), yellow = FM_RGB(255, 255, 0);
    fm_color grey = FM_RGB(128, 128, 128);
    fm_annot_style st = fm_annot_style_for(480, 200, 80);
    FM_CHECK_INT(st.thickness, 2);
    FM_CHECK_INT(st.text_px, 12);
    /* box [20, 80) x [40, 120): pixels 20..79, 40..119, a 2-pixel border */
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
    CHECK_PX(img, 180, 80, red);
    CHECK_PX(img, 239, 100, red);
    CHECK_PX(img, 340, 80, yellow);
    CHECK_PX(img, 399, 100, yellow);
    /* each label sits on its class colour just above its box: background at its corners,
     * grey just outside, black text inside */
    const char *texts[3] = {"ID 1 mask 0.97", "ID 2 no_mask 0.90", "ID 3 unknown"};
    const fm_color cols[3] = {green, red, yellow};
    const int xs[3] = {20, 180, 340};
    for (int i = 0; i < 3; i++) {
        fm_label_box b = fm_label_place(f, texts[i], st.text_px, xs[i], 40, 480, 200);
        FM_CHECK(b.y2 == 39 && b.y1 < 39 - 10 && b.x1 == xs[i] && b.x2 < xs[i] + 160);
        CHECK_PX(img, b.x1, b.y1, cols[i]);
        CHECK_PX(img, b.x2, b.y1, cols[i]);
        CHECK_PX(img, b.x1, b.y2, cols[i]);
        CHECK_PX(img, b.x1, b.y1 - 1, grey);
        int black = 0, other = 0;
        for (int y = b.y1; y <= b.y2; y++)
            for (int x = b.x1; x <= b.x2; x++) {
                black += px_is(img, x, y, FM_RGB(0, 0, 0));
                other += !px_is(img, x, y, cols[i]);
            }
        FM_CHECK_MSG(black > 40 && other > black, "%s: %d black, %d non-background pixels",
                     texts[i], black, other);
    }
done:
    fm_image_free(img);
    fm_font_free(f);
}

/* The window and the recording draw a face exactly as detect's annotated copies do. */
static void test_overlay_same_style_as_detect(void)
{
    fm_font *f = open_font();
    fm_image *a = grey_image(1280, 720, 90), *b = grey_image(1280, 720, 90);
    if (!a || !b || !f)
        goto done;
    fm_track_info t[2] = {track(4, 100.2f, 300.4f, 350.6f, 620.0f, FM_LABEL_NO_MASK, 0.2f),
                          track(5, 700, 20, 760, 90, FM_LABEL_MASK, 0.9f)};
    fm_overlay_tracks(a, f, t, 2);
    /* pixels whose centres the box covers: [100.2, 350.6) -> 100..350, [300.4, 620) -> 300..619 */
    fm_draw_annotation(b, f, 100, 300, 350, 619, "ID 4 no_mask 0.80", FM_COLOR_NO_MASK);
    fm_draw_annotation(b, f, 700, 20, 759, 89, "ID 5 mask 0.90", FM_COLOR_MASK);
    FM_CHECK(same_image(a, b));
    /* and the text is the frame's size: 720 rows, a 320-row face: 720 / 30 = 24 px */
    FM_CHECK_INT(fm_annot_style_for(1280, 720, 320).text_px, 24);
done:
    fm_image_free(a);
    fm_image_free(b);
    fm_font_free(f);
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
    c = fm_overlay_color(FM_LABEL_NO_MASK);
    FM_CHECK(c.r == 255 && c.g == 0 && c.b == 0);
    c = fm_overlay_color(FM_LABEL_MASK);
    FM_CHECK(c.r == 0 && c.g == 255 && c.b == 0);
}

/* Boxes across the borders are clipped; boxes wholly outside (or NaN) draw nothing. */
static void test_overlay_clipping(void)
{
    fm_font *f = open_font();
    fm_image *img = grey_image(100, 80, 128);
    fm_image *ref = grey_image(100, 80, 128);
    if (!img || !ref || !f)
        goto done;
    fm_track_info t[4] = {track(1, -50, -30, 30, 40, FM_LABEL_NO_MASK, 0.0f),
                          track(2, 500, 500, 600, 600, FM_LABEL_MASK, 1.0f),
                          track(3, -1e30f, -1e30f, -1e29f, -1e29f, FM_LABEL_MASK, 1.0f),
                          track(4, NAN, 0, 10, 10, FM_LABEL_MASK, 1.0f)};
    fm_overlay_tracks(img, f, t + 1, 3);
    FM_CHECK(same_image(img, ref));
    fm_overlay_tracks(img, f, t, 1);
    CHECK_PX(img, 28, 30, FM_RGB(255, 0, 0)); /* right edge (x 28, 29) inside */
    CHECK_PX(img, 10, 38, FM_RGB(255, 0, 0)); /* bottom edge */
    CHECK_PX(img, 10, 30, FM_RGB(128, 128, 128));
    CHECK_PX(img, 0, 0, FM_RGB(128, 128, 128)); /* left/top edges and label are outside */
done:
    fm_image_free(img);
    fm_image_free(ref);
    fm_font_free(f);
}

/* The status bar: exactly the dark bar and the text drawn on it, nothing below it; the text
 * follows the frame's size and shrinks to fit a narrow frame. */
static void test_overlay_status_bar(void)
{
    fm_font *f = open_font();
    fm_image *img = grey_image(640, 480, 128), *ref = grey_image(640, 480, 128);
    if (!img || !ref || !f)
        goto done;
    fm_track_counts c;
    memset(&c, 0, sizeof c);
    c.people = 12;
    c.mask = 9;
    c.no_mask = 2;
    c.unknown = 1;
    c.window = 60;
    c.compliance = 0.8181;
    int bar = fm_overlay_status(img, f, 29.84, &c);
    const char *text = "FPS 29.8  people 12  mask 9  no_mask 2  compliance 82% (60s)";
    int px = fm_annot_bar_px(640, 480);
    fm_text_metrics m = fm_text_measure(f, text, px);
    FM_CHECK_INT(bar, m.ascent + m.descent + 2 * (px / 8 < 1 ? 1 : px / 8));
    FM_CHECK_MSG(bar >= 15 && bar <= 22, "bar %d rows on 640x480", bar);
    fm_color dark = FM_OVERLAY_BAR_COLOR;
    CHECK_PX(img, 0, 0, dark);
    CHECK_PX(img, 639, bar - 1, dark);
    CHECK_PX(img, 0, bar, FM_RGB(128, 128, 128));
    CHECK_PX(img, 639, bar, FM_RGB(128, 128, 128));
    fm_draw_fill(ref, 0, 0, 639, bar - 1, dark);
    fm_draw_text(ref, f, px / 4 < 2 ? 2 : px / 4, (px / 8 < 1 ? 1 : px / 8) + m.ascent, text,
                 FM_OVERLAY_BAR_TEXT, px);
    FM_CHECK(same_image(img, ref));
    int nwhite = 0;
    for (int y = 0; y < bar; y++)
        for (int x = 0; x < 640; x++)
            nwhite += px_is(img, x, y, FM_RGB(255, 255, 255));
    FM_CHECK_MSG(nwhite > 300, "%d white pixels in the status bar", nwhite);

    /* 300 columns: the line is made smaller so that it ends inside the frame */
    fm_image *narrow = grey_image(300, 480, 128);
    if (narrow) {
        int nb = fm_overlay_status(narrow, f, 29.84, &c);
        int xmax = -1;
        for (int y = 0; y < nb; y++)
            for (int x = 0; x < 300; x++)
                if (!px_is(narrow, x, y, dark) && x > xmax)
                    xmax = x;
        FM_CHECK_MSG(nb < bar && xmax > 200 && xmax < 299,
                     "narrow frame: bar %d rows, text ends at %d", nb, xmax);
        fm_image_free(narrow);
    }
done:
    fm_image_free(img);
    fm_image_free(ref);
    fm_font_free(f);
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

/* Row y is at least 30% the status bar's dark grey (the rest is its white text). */
static int bar_row(const fm_image *img, int y)
{
    int n = 0;
    for (int x = 0; x < img->w; x++) {
        const uint8_t *p = img->data + (size_t)y * (size_t)img->stride + (size_t)x * 3;
        n += p[0] < 70 && p[1] < 70 && p[2] < 70;
    }
    return n * 10 >= img->w * 3;
}

/* The tallest block of consecutive rows that each hold at least 30 pixels near colour c: a
 * label (with the box's top border under it), not the box's sides. */
static int label_rows(const fm_image *img, fm_color c)
{
    int best = 0, run = 0;
    for (int y = 0; y < img->h; y++) {
        int n = 0;
        for (int x = 0; x < img->w; x++) {
            const uint8_t *p = img->data + (size_t)y * (size_t)img->stride + (size_t)x * 3;
            n += abs(p[0] - c.b) < 60 && abs(p[1] - c.g) < 60 && abs(p[2] - c.r) < 60;
        }
        run = n >= 30 ? run + 1 : 0;
        best = run > best ? run : best;
    }
    return best;
}

/* watch end to end on the demo clip (640x480): the snapshot of the person without a mask has
 * both faces' labels at the frame's size (16 px text: about 21 rows with the border under it)
 * and the status bar; with no font, a run that would show or save frames stops at once with
 * one line and writes nothing, and a run with only events does not need one. */
static void test_overlay_watch_outputs(void)
{
    char cmd[4096], dir[700], *out = NULL;
    snprintf(dir, sizeof dir, "%s/snaps", fm_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "%s watch --source %s/demo/uengmim_test_video.avi --snapshots %s --max-frames 6 "
             "--detector yunet --model-dir %s/models --classifier models/mask --quiet 2>&1",
             fm_test_bin(), fm_test_shared(), dir, fm_test_shared());
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    free(out);
    char path[800];
    snprintf(path, sizeof path, "%s/no_mask_id0001_frame000002.jpg", dir);
    fm_err err = {0};
    fm_image *img = fm_image_load(path, 0, &err);
    FM_CHECK_MSG(img != NULL, "%s", err.msg);
    if (img) {
        int red = label_rows(img, FM_COLOR_NO_MASK), green = label_rows(img, FM_COLOR_MASK);
        int bar = 0;
        while (bar < img->h && bar_row(img, bar))
            bar++;
        printf("  snapshot 640x480: red label %d rows, green label %d rows, status bar %d rows\n",
               red, green, bar);
        FM_CHECK_MSG(red >= 18 && red <= 28, "the no_mask label is %d rows tall", red);
        FM_CHECK_MSG(green >= 18 && green <= 28, "the mask label is %d rows tall", green);
        FM_CHECK_MSG(bar >= 14 && bar <= 20, "the status bar is %d rows tall", bar);
        fm_image_free(img);
    }

    snprintf(path, sizeof path, "%s/rec.mkv", fm_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "FACEMASK_FONT=/nonexistent/w.ttf %s watch --source %s/demo/uengmim_test_video.avi "
             "--record %s --max-frames 6 --detector yunet --model-dir %s/models --classifier "
             "models/mask 2>&1",
             fm_test_bin(), fm_test_shared(), path, fm_test_shared());
    out = NULL;
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 1);
    FM_CHECK_STR_CONTAINS(out, "font /nonexistent/w.ttf: cannot open");
    FM_CHECK_MSG(out && strchr(out, '\n') == out + strlen(out) - 1, "not one line: %s",
                 out ? out : "");
    free(out);
    FM_CHECK_MSG(access(path, F_OK) != 0, "%s was written", path);
    snprintf(cmd, sizeof cmd,
             "FACEMASK_FONT=/nonexistent/w.ttf %s watch --source %s/demo/uengmim_test_video.avi "
             "--events - --max-frames 3 --detector yunet --model-dir %s/models --classifier "
             "models/mask --quiet",
             fm_test_bin(), fm_test_shared(), fm_test_shared());
    out = NULL;
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    FM_CHECK_STR_CONTAINS(out, "\"event\":\"end\"");
    free(out);
}

void suite_ui_overlay(void);
void suite_ui_overlay(void)
{
    FM_RUN(test_overlay_box_colours);
    FM_RUN(test_overlay_same_style_as_detect);
    FM_RUN(test_overlay_texts);
    FM_RUN(test_overlay_clipping);
    FM_RUN(test_overlay_status_bar);
    FM_RUN(test_overlay_blur_region);
    FM_RUN(test_overlay_blur_clipped);
    FM_RUN(test_overlay_watch_outputs);
}
