/* test_draw.c - rectangles, boxes, dots, text in a real font, labels and the annotation style:
 * exact pixels, sizes, font errors, UTF-8, threads and clipping.
 *
 * Clipping is checked against a reference: drawing at (x, y) on a small image must give
 * exactly the pixels that drawing at (x + P, y + P) on a larger canvas gives in the window
 * [P, P + w) x [P, P + h). Images carry a guard band of canary bytes after each row.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/draw.h"
#include "test.h"

#define GUARD 9   /* canary bytes after each row */
#define CANARY 0xA5

static fm_image *canvas(int w, int h)
{
    fm_image *img = malloc(sizeof *img);
    img->w = w;
    img->h = h;
    img->stride = 3 * w + GUARD;
    img->data = malloc((size_t)img->stride * (size_t)h);
    for (int y = 0; y < h; y++) {
        memset(img->data + (size_t)y * (size_t)img->stride, 0, (size_t)w * 3);
        memset(img->data + (size_t)y * (size_t)img->stride + 3 * w, CANARY, GUARD);
    }
    return img;
}

static int guards_intact(const fm_image *img)
{
    for (int y = 0; y < img->h; y++)
        for (int i = 0; i < GUARD; i++)
            if (img->data[(size_t)y * (size_t)img->stride + 3 * (size_t)img->w + (size_t)i] != CANARY)
                return 0;
    return 1;
}

static const uint8_t *at(const fm_image *img, int x, int y)
{
    return img->data + (size_t)y * (size_t)img->stride + (size_t)x * 3;
}

static int is_color(const fm_image *img, int x, int y, fm_color c)
{
    const uint8_t *p = at(img, x, y);
    return p[0] == c.b && p[1] == c.g && p[2] == c.r;
}

static long count_color(const fm_image *img, fm_color c)
{
    long n = 0;
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++)
            n += is_color(img, x, y, c);
    return n;
}

static void test_rect_border_exact(void)
{
    fm_image *img = canvas(40, 30);
    const fm_color g = FM_RGB(0, 255, 0);
    fm_draw_rect(img, 5, 4, 20, 15, g, 2);
    long n = 0;
    for (int y = 0; y < 30; y++)
        for (int x = 0; x < 40; x++) {
            int inside = x >= 5 && x <= 20 && y >= 4 && y <= 15;
            int border = inside && (x <= 6 || x >= 19 || y <= 5 || y >= 14);
            FM_CHECK_MSG(is_color(img, x, y, g) == border, "pixel %d,%d: %s", x, y,
                         border ? "border not set" : "set outside the border");
            n += border;
        }
    FM_CHECK_INT(count_color(img, g), 16 * 12 - 12 * 8);
    FM_CHECK_INT(n, 16 * 12 - 12 * 8);
    /* Corner order does not matter; thickness below 1 draws 1; BGR byte order. */
    fm_image *b = canvas(40, 30);
    fm_draw_rect(b, 20, 15, 5, 4, FM_RGB(1, 2, 3), 0);
    FM_CHECK_INT(count_color(b, FM_RGB(1, 2, 3)), 2 * 16 + 2 * 10);
    FM_CHECK(at(b, 5, 4)[0] == 3 && at(b, 5, 4)[1] == 2 && at(b, 5, 4)[2] == 1);
    /* A border thicker than half the box fills it. */
    fm_draw_rect(b, 30, 20, 33, 29, g, 2);
    FM_CHECK_INT(count_color(b, g), 4 * 10);
    FM_CHECK(guards_intact(img) && guards_intact(b));
    fm_image_free(img);
    fm_image_free(b);
}

static void test_fill_exact(void)
{
    fm_image *img = canvas(10, 8);
    fm_draw_fill(img, 2, 3, 4, 3, FM_RGB(9, 9, 9));
    FM_CHECK_INT(count_color(img, FM_RGB(9, 9, 9)), 3);
    FM_CHECK(is_color(img, 2, 3, FM_RGB(9, 9, 9)) && is_color(img, 4, 3, FM_RGB(9, 9, 9)));
    fm_draw_fill(img, -100, -100, 100, 100, FM_RGB(7, 7, 7));
    FM_CHECK_INT(count_color(img, FM_RGB(7, 7, 7)), 80);
    FM_CHECK(guards_intact(img));
    fm_image_free(img);
}

/* ---- fonts and text ----------------------------------------------------------------------- */

static fm_font *open_font(void)
{
    fm_err err = {0};
    fm_font *f = fm_font_open(NULL, &err);
    FM_CHECK_MSG(f != NULL, "the default font: %s", err.msg);
    return f;
}

static void fill(fm_image *img, fm_color c)
{
    fm_draw_fill(img, 0, 0, img->w - 1, img->h - 1, c);
}

/* The opposite corners of the pixels in [x1, x2] x [y1, y2] that differ from c; 0 if none. */
static long bbox_not(const fm_image *img, fm_color c, int x1, int y1, int x2, int y2, int box[4])
{
    long n = 0;
    box[0] = box[1] = INT_MAX;
    box[2] = box[3] = INT_MIN;
    for (int y = y1 < 0 ? 0 : y1; y <= y2 && y < img->h; y++)
        for (int x = x1 < 0 ? 0 : x1; x <= x2 && x < img->w; x++)
            if (!is_color(img, x, y, c)) {
                n++;
                box[0] = x < box[0] ? x : box[0];
                box[1] = y < box[1] ? y : box[1];
                box[2] = x > box[2] ? x : box[2];
                box[3] = y > box[3] ? y : box[3];
            }
    return n;
}

static int same_pixels(const fm_image *a, const fm_image *b)
{
    for (int y = 0; y < a->h; y++)
        if (memcmp(at(a, 0, y), at(b, 0, y), (size_t)a->w * 3) != 0)
            return 0;
    return 1;
}

static const char *const samples[] = {
    "mask 0.97",
    "no_mask 1.00",
    "ID 12 unknown (no_mask 0.70)",
    "face 0.99",
    "Hgjpqy_|()[]{}",
    "caf\xc3\xa9 \xce\xa9\xce\xbc\xce\xad\xce\xb3\xce\xb1 \xe2\x82\xac \xc3\x85ngstr\xc3\xb6m",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\xb7", /* CJK and an emoji: not in DejaVu */
    "\xff\xfe bad \xe2\x82",                                   /* ill-formed UTF-8 */
    " ",
    "",
};
#define NSAMPLES ((int)(sizeof samples / sizeof samples[0]))

/* A missing, unreadable or non-font file is one clear line, never a crash; FACEMASK_FONT is
 * used when set (and only it), the default otherwise. */
static void test_font_errors(void)
{
    fm_err err = {0};
    FM_CHECK(fm_font_open("/nonexistent/fonts/NoSuch.ttf", &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "font /nonexistent/fonts/NoSuch.ttf: cannot open");
    FM_CHECK_STR_CONTAINS(err.msg, "install fonts-dejavu-core or set FACEMASK_FONT");
    FM_CHECK(strchr(err.msg, '\n') == NULL);
    FM_CHECK_INT(err.status, FM_ERR_IO);

    char path[600];
    snprintf(path, sizeof path, "%s/notafont.ttf", fm_test_tmpdir());
    fm_test_write_text(path, "this is not a font, only 40 bytes of text");
    memset(&err, 0, sizeof err);
    FM_CHECK(fm_font_open(path, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "not a font FreeType can read");
    FM_CHECK_STR_CONTAINS(err.msg, path);
    FM_CHECK_INT(err.status, FM_ERR_FORMAT);
    snprintf(path, sizeof path, "%s/empty.ttf", fm_test_tmpdir());
    fm_test_write_text(path, "");
    memset(&err, 0, sizeof err);
    FM_CHECK(fm_font_open(path, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "empty file");
    memset(&err, 0, sizeof err);
    FM_CHECK(fm_font_open(fm_test_tmpdir(), &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "not a regular file (directory)");

    /* FACEMASK_FONT: a broken one is an error naming it, not a silent fallback */
    const char *old = getenv("FACEMASK_FONT");
    char saved[4096] = "";
    if (old)
        snprintf(saved, sizeof saved, "%s", old);
    setenv("FACEMASK_FONT", "/nonexistent/env-font.ttf", 1);
    memset(&err, 0, sizeof err);
    FM_CHECK(fm_font_open(NULL, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "font /nonexistent/env-font.ttf: cannot open");
    setenv("FACEMASK_FONT", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 1);
    fm_font *f = fm_font_open(NULL, &err);
    FM_CHECK_MSG(f && strcmp(fm_font_path(f),
                             "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf") == 0,
                 "FACEMASK_FONT not used: %s", f ? fm_font_path(f) : err.msg);
    fm_font_free(f);
    unsetenv("FACEMASK_FONT");
    f = fm_font_open(NULL, &err);
    FM_CHECK_MSG(f && strstr(fm_font_path(f), "DejaVuSans-Bold.ttf"), "default font: %s",
                 f ? fm_font_path(f) : err.msg);
    fm_font_free(f);
    if (old)
        setenv("FACEMASK_FONT", saved, 1);
    fm_font_free(NULL);
}

/* Text size follows the image (a face half the frame tall) and the box (a small face in a big
 * photo gets smaller text), within [12, S / 30] for S the shorter side; rendered labels are
 * as tall as that says. */
static void test_label_size_follows_image_and_box(void)
{
    fm_font *f = open_font();
    if (!f)
        return;
    const int sizes[][2] = {{320, 240}, {640, 480}, {840, 549}, {1280, 720}, {1920, 1080},
                            {4000, 3000}, {3000, 4000}};
    const int n = (int)(sizeof sizes / sizeof sizes[0]);
    int prev_px = 0, prev_ink = 0, ink640 = 0, ink4000 = 0;
    for (int i = 0; i < n; i++) {
        int w = sizes[i][0], h = sizes[i][1], s = w < h ? w : h;
        fm_annot_style st = fm_annot_style_for(w, h, h / 2);
        double hi = s / 30.0 > 12 ? s / 30.0 : 12;
        FM_CHECK_MSG(st.text_px >= 12 && st.text_px <= hi && st.text_px >= 0.9 * hi,
                     "%dx%d: text %d px, expected %.0f (a little less after rounding)", w, h,
                     st.text_px, hi);
        FM_CHECK_MSG(st.thickness >= 2 && st.thickness == (st.text_px / 8 > 2 ? st.text_px / 8 : 2),
                     "%dx%d: border %d", w, h, st.thickness);
        /* a face of 60 rows: smaller text on a big photo, never below max(12, S / 80) - 8% */
        fm_annot_style small = fm_annot_style_for(w, h, 60);
        double lo = s / 80.0 > 12 ? s / 80.0 : 12;
        FM_CHECK_MSG(small.text_px <= st.text_px && small.text_px >= 0.92 * lo &&
                         small.text_px >= 12,
                     "%dx%d: a 60-row face gets %d px (large: %d)", w, h, small.text_px,
                     st.text_px);
        if (s >= 1000)
            FM_CHECK_MSG(small.text_px < st.text_px, "%dx%d: small faces get %d px too", w, h,
                         st.text_px);
        /* the rendered label: ink rows of "no_mask 0.97" from the top of 'k' to the '_' */
        fm_image *img = canvas(st.text_px * 10, st.text_px * 2 + 10);
        fill(img, FM_RGB(50, 60, 70));
        fm_label_box b = fm_draw_label(img, f, 0, img->h - 1, "no_mask 0.97", FM_RGB(0, 0, 0),
                                       FM_COLOR_NO_MASK, st.text_px);
        int box[4];
        long ink = bbox_not(img, FM_COLOR_NO_MASK, b.x1, b.y1, b.x2, b.y2, box);
        int ink_h = ink ? box[3] - box[1] + 1 : 0, label_h = b.y2 - b.y1 + 1;
        FM_CHECK_MSG(ink_h >= 0.9 * st.text_px && ink_h <= 1.2 * st.text_px,
                     "%dx%d at %d px: text %d rows tall", w, h, st.text_px, ink_h);
        FM_CHECK_MSG(label_h > ink_h && label_h <= 1.6 * st.text_px, "%dx%d: label %d rows", w,
                     h, label_h);
        FM_CHECK(st.text_px >= prev_px || s < prev_px * 30);
        if (st.text_px > prev_px)
            FM_CHECK_MSG(ink_h > prev_ink, "%d px: %d rows, %d at the smaller size", st.text_px,
                         ink_h, prev_ink);
        prev_px = st.text_px;
        prev_ink = ink_h;
        if (w == 640)
            ink640 = ink_h;
        if (w == 4000)
            ink4000 = ink_h;
        fm_image_free(img);
    }
    /* readable on a 640x480 frame, and ~6x that on a 4000x3000 photo (the old font: 7 rows) */
    FM_CHECK_MSG(ink640 >= 14, "text on 640x480: %d rows", ink640);
    FM_CHECK_MSG(ink4000 >= 5 * ink640, "text on 4000x3000: %d rows (640x480: %d)", ink4000,
                 ink640);
    /* the status bar's size */
    FM_CHECK_INT(fm_annot_bar_px(640, 480), 13);
    FM_CHECK_INT(fm_annot_bar_px(100, 50), 12);
    FM_CHECK(fm_annot_bar_px(1920, 1080) >= 28 && fm_annot_bar_px(1920, 1080) <= 30);
    fm_font_free(f);
}

/* For every sample text and size: nothing outside the label changes, its corners are the
 * background, every pixel in it lies between the background and the text colour (anti-aliased
 * blending), and the ink lies inside with a margin. */
static void test_label_ink_inside_background(void)
{
    fm_font *f = open_font();
    if (!f)
        return;
    const fm_color base = FM_RGB(7, 77, 177), fg = FM_RGB(0, 0, 0);
    const fm_color bgs[3] = {FM_COLOR_MASK, FM_COLOR_NO_MASK, FM_COLOR_UNKNOWN};
    const int pxs[] = {6, 12, 16, 23, 40, 97};
    for (int t = 0; t < NSAMPLES; t++)
        for (int k = 0; k < (int)(sizeof pxs / sizeof pxs[0]); k++) {
            const int px = pxs[k];
            const fm_color bg = bgs[(t + k) % 3];
            fm_image *img = canvas(40 * px + 40, 3 * px + 20);
            fill(img, base);
            fm_label_box b = fm_draw_label(img, f, 10, img->h - 5, samples[t], fg, bg, px);
            FM_CHECK_MSG(b.y2 == img->h - 6 && b.x1 == 10,
                         "'%s' at %d px: label at (%d,%d)-(%d,%d)", samples[t], px, b.x1, b.y1,
                         b.x2, b.y2);
            int box[4];
            long changed = bbox_not(img, base, 0, 0, img->w - 1, img->h - 1, box);
            FM_CHECK_MSG(changed == (long)(b.x2 - b.x1 + 1) * (b.y2 - b.y1 + 1) &&
                             box[0] == b.x1 && box[1] == b.y1 && box[2] == b.x2 && box[3] == b.y2,
                         "'%s' at %d px: pixels outside the label changed", samples[t], px);
            FM_CHECK(is_color(img, b.x1, b.y1, bg) && is_color(img, b.x2, b.y2, bg) &&
                     is_color(img, b.x1, b.y2, bg) && is_color(img, b.x2, b.y1, bg));
            long partial = 0, off_line = 0;
            for (int y = b.y1; y <= b.y2; y++)
                for (int x = b.x1; x <= b.x2; x++) {
                    const uint8_t *p = at(img, x, y);
                    /* black over bg: every channel is bg * (1 - a), a the same for all */
                    int a = -1, ok = 1;
                    const int bgc[3] = {bg.b, bg.g, bg.r};
                    for (int c = 0; c < 3; c++) {
                        if (bgc[c] == 0) {
                            ok &= p[c] == 0;
                        } else {
                            int ac = 255 - p[c] * 255 / bgc[c];
                            if (a >= 0)
                                ok &= abs(ac - a) <= 2;
                            a = ac;
                        }
                    }
                    off_line += !ok;
                    partial += a > 0 && a < 250;
                }
            FM_CHECK_MSG(off_line == 0, "'%s' at %d px: %ld pixels are not bg blended to fg",
                         samples[t], px, off_line);
            long ink = bbox_not(img, bg, b.x1, b.y1, b.x2, b.y2, box);
            int blank = samples[t][0] == 0 || strcmp(samples[t], " ") == 0;
            FM_CHECK_MSG(blank ? ink == 0 : ink > 0, "'%s' at %d px: %ld ink pixels", samples[t],
                         px, ink);
            if (ink)
                FM_CHECK_MSG(box[0] > b.x1 && box[1] > b.y1 && box[2] < b.x2 && box[3] < b.y2,
                             "'%s' at %d px: ink (%d,%d)-(%d,%d) touches the label's edge "
                             "(%d,%d)-(%d,%d)",
                             samples[t], px, box[0], box[1], box[2], box[3], b.x1, b.y1, b.x2,
                             b.y2);
            if (!blank && px >= 12)
                FM_CHECK_MSG(partial * 10 > ink, "'%s' at %d px: %ld of %ld ink pixels partly "
                                                 "covered: not anti-aliased",
                             samples[t], px, partial, ink);
            FM_CHECK(guards_intact(img));
            fm_image_free(img);
        }
    fm_font_free(f);
}

/* The same label twice gives the same pixels, also after other sizes in between, and drawing
 * it again over itself changes nothing; ill-formed UTF-8 draws as U+FFFD. */
static void test_text_deterministic_and_utf8(void)
{
    fm_font *f = open_font();
    if (!f)
        return;
    fm_image *a = canvas(400, 60), *b = canvas(400, 60), *c = canvas(400, 60);
    fill(a, FM_RGB(90, 90, 90));
    fill(b, FM_RGB(90, 90, 90));
    fill(c, FM_RGB(90, 90, 90));
    fm_draw_label(a, f, 5, 50, "ID 7 no_mask 0.91", FM_RGB(0, 0, 0), FM_COLOR_NO_MASK, 21);
    fm_draw_label(c, f, 5, 50, "something else", FM_RGB(0, 0, 0), FM_COLOR_MASK, 40);
    fm_draw_label(b, f, 5, 50, "ID 7 no_mask 0.91", FM_RGB(0, 0, 0), FM_COLOR_NO_MASK, 21);
    FM_CHECK(same_pixels(a, b));
    fm_draw_label(b, f, 5, 50, "ID 7 no_mask 0.91", FM_RGB(0, 0, 0), FM_COLOR_NO_MASK, 21);
    FM_CHECK(same_pixels(a, b));
    fm_draw_label(b, f, 5, 50, "ID 7 no_mask 0.92", FM_RGB(0, 0, 0), FM_COLOR_NO_MASK, 21);
    FM_CHECK(!same_pixels(a, b)); /* one digit differs: the comparison can fail */

    const char *pairs[][2] = {{"a\xff" "b", "a\xef\xbf\xbd" "b"},
                              {"\xe2\x82x", "\xef\xbf\xbdx"},
                              {"\xf0\x9f\x98", "\xef\xbf\xbd"},
                              {"\xc0\xaf!", "\xef\xbf\xbd\xef\xbf\xbd!"}};
    for (int i = 0; i < 4; i++) {
        fill(a, FM_RGB(90, 90, 90));
        fill(b, FM_RGB(90, 90, 90));
        fm_draw_text(a, f, 5, 40, pairs[i][0], FM_RGB(255, 255, 255), 24);
        fm_draw_text(b, f, 5, 40, pairs[i][1], FM_RGB(255, 255, 255), 24);
        FM_CHECK_MSG(same_pixels(a, b), "pair %d: ill-formed UTF-8 is not drawn as U+FFFD", i);
        FM_CHECK(count_color(a, FM_RGB(90, 90, 90)) < 400 * 60);
    }
    /* measuring agrees with drawing */
    fm_text_metrics m = fm_text_measure(f, "Hello, w\xc3\xb6rld", 30);
    fill(a, FM_RGB(90, 90, 90));
    fm_draw_text(a, f, 20, 45, "Hello, w\xc3\xb6rld", FM_RGB(255, 255, 255), 30);
    int box[4];
    bbox_not(a, FM_RGB(90, 90, 90), 0, 0, a->w - 1, a->h - 1, box);
    FM_CHECK_MSG(box[0] == 20 + m.ink_x0 && box[1] == 45 + m.ink_y0 &&
                     box[2] == 20 + m.ink_x1 - 1 && box[3] == 45 + m.ink_y1 - 1,
                 "drawn ink (%d,%d)-(%d,%d), measured (%d,%d)-(%d,%d)", box[0], box[1], box[2],
                 box[3], 20 + m.ink_x0, 45 + m.ink_y0, 20 + m.ink_x1 - 1, 45 + m.ink_y1 - 1);
    FM_CHECK(m.advance > m.ink_x1 - 3 && m.ascent >= -m.ink_y0 && m.descent >= m.ink_y1 &&
             m.ascent > 20 && m.descent > 4);
    fm_text_metrics z = fm_text_measure(NULL, "x", 30);
    FM_CHECK(z.advance == 0 && z.ascent == 0 && z.ink_x1 == 0);
    FM_CHECK(guards_intact(a) && guards_intact(b) && guards_intact(c));
    fm_image_free(a);
    fm_image_free(b);
    fm_image_free(c);
    fm_font_free(f);
}

/* One font shared by threads (watch draws from its output thread while others may too): each
 * thread's labels, at sizes that keep changing the face's size, come out as drawn alone. */
typedef struct {
    fm_font *font;
    fm_image *img;
    int seed;
} draw_job;

static void draw_labels(fm_font *font, fm_image *img, int seed)
{
    char text[32];
    for (int i = 0; i < 60; i++) {
        snprintf(text, sizeof text, "ID %d mask 0.%02d", seed + i, i);
        int px = 8 + (seed * 7 + i * 5) % 40;
        fm_draw_label(img, font, (i * 37) % 300, 60 + (i * 53) % 200, text, FM_RGB(0, 0, 0),
                      (i & 1) ? FM_COLOR_MASK : FM_COLOR_NO_MASK, px);
    }
}

static void *draw_main(void *arg)
{
    draw_job *j = arg;
    draw_labels(j->font, j->img, j->seed);
    return NULL;
}

static void test_font_shared_by_threads(void)
{
    fm_font *f = open_font();
    if (!f)
        return;
    enum { T = 3 };
    draw_job jobs[T];
    pthread_t th[T];
    int started[T] = {0};
    for (int t = 0; t < T; t++) {
        jobs[t] = (draw_job){f, canvas(400, 300), t * 100};
        started[t] = pthread_create(&th[t], NULL, draw_main, &jobs[t]) == 0;
        FM_CHECK(started[t]);
    }
    for (int t = 0; t < T; t++)
        if (started[t])
            pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++) {
        fm_image *ref = canvas(400, 300);
        draw_labels(f, ref, t * 100);
        FM_CHECK_MSG(started[t] && same_pixels(jobs[t].img, ref), "thread %d drew other pixels", t);
        fm_image_free(ref);
        fm_image_free(jobs[t].img);
    }
    fm_font_free(f);
}

/* The annotation: the border inside the box, the label on the class colour sitting on the box's
 * top-left corner, or inside the box at the top edge. */
static void test_annotation_layout(void)
{
    fm_font *f = open_font();
    if (!f)
        return;
    const fm_color base = FM_RGB(128, 128, 128);
    fm_image *img = canvas(640, 480);
    fill(img, base);
    fm_draw_annotation(img, f, 100, 200, 259, 399, "no_mask 0.88", FM_COLOR_NO_MASK);
    fm_annot_style st = fm_annot_style_for(640, 480, 200);
    FM_CHECK_INT(st.text_px, 16);
    fm_label_box b = fm_label_place(f, "no_mask 0.88", st.text_px, 100, 200, 640, 480);
    FM_CHECK(b.x1 == 100 && b.y2 == 199 && b.y1 < 180);
    FM_CHECK(is_color(img, 100, 199, FM_COLOR_NO_MASK) &&
             is_color(img, 100, b.y1, FM_COLOR_NO_MASK));
    FM_CHECK(is_color(img, 100, b.y1 - 1, base) && is_color(img, 99, 199, base));
    for (int k = 0; k < st.thickness; k++)
        FM_CHECK(is_color(img, 100 + k, 300, FM_COLOR_NO_MASK) &&
                 is_color(img, 259 - k, 300, FM_COLOR_NO_MASK) &&
                 is_color(img, 180, 399 - k, FM_COLOR_NO_MASK));
    FM_CHECK(is_color(img, 100 + st.thickness, 300, base) && is_color(img, 180, 300, base));
    /* at the top edge: inside the box, from its corner */
    fill(img, base);
    fm_draw_annotation(img, f, 300, 3, 400, 120, "mask 0.99", FM_COLOR_MASK);
    b = fm_label_place(f, "mask 0.99", fm_annot_style_for(640, 480, 118).text_px, 300, 3, 640, 480);
    FM_CHECK(b.x1 == 300 && b.y1 == 3 && is_color(img, 300, 3, FM_COLOR_MASK) &&
             is_color(img, b.x2, b.y2, FM_COLOR_MASK) && is_color(img, 300, 2, base));
    /* at the right edge: moved left to fit */
    fill(img, base);
    fm_draw_annotation(img, f, 620, 100, 639, 130, "ID 3 mask 0.97", FM_COLOR_MASK);
    b = fm_label_place(f, "ID 3 mask 0.97", 12, 620, 100, 640, 480);
    FM_CHECK(b.x2 == 639 && b.x1 < 620 && is_color(img, 639, 99, FM_COLOR_MASK));
    FM_CHECK(guards_intact(img));
    fm_image_free(img);
    fm_font_free(f);
}

/* detect --out on a demo photo: the face's label is at least 18 rows tall, its text ("mask
 * 1.00": digits and the k's ascender) at least 11 rows (the built-in font it replaced: 10 and 7),
 * on the box's colour. */
static void test_detect_out_labels_legible(void)
{
    char cmd[4096], *out = NULL;
    const char *photo = "pyimagesearch_example_01.png"; /* 600x500, one face with a mask */
    snprintf(cmd, sizeof cmd,
             "%s detect --json --out %s/ann --detector yunet --model-dir %s/models "
             "--classifier models/mask "
             "%s/demo/%s 2>&1",
             fm_test_bin(), fm_test_tmpdir(), fm_test_shared(), fm_test_shared(), photo);
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    float b[4];
    const char *q = out ? strstr(out, "\"box\":[") : NULL;
    FM_CHECK_MSG(q && sscanf(q, "\"box\":[%f,%f,%f,%f]", &b[0], &b[1], &b[2], &b[3]) == 4,
                 "no face: %s", out ? out : "");
    int mask = out && strstr(out, "\"label\":\"mask\"") != NULL;
    free(out);
    if (!q)
        return;
    char path[800];
    snprintf(path, sizeof path, "%s/ann/%s", fm_test_tmpdir(), photo);
    fm_err err = {0};
    fm_image *img = fm_image_load(path, 0, &err);
    FM_CHECK_MSG(img != NULL, "%s", err.msg);
    if (!img)
        return;
    const fm_color c = mask ? FM_COLOR_MASK : FM_COLOR_NO_MASK;
    int x1 = (int)b[0], y1 = (int)b[1];
    /* the label's left column (padding, no ink) above the box's corner */
    int top = y1 - 1;
    while (top > 0 && is_color(img, x1, top - 1, c))
        top--;
    int label_h = y1 - top;
    int right = x1;
    while (right + 1 < img->w && is_color(img, right + 1, top, c))
        right++;
    int box[4];
    long ink = bbox_not(img, c, x1, top, right, y1 - 1, box);
    int ink_h = ink ? box[3] - box[1] + 1 : 0;
    FM_CHECK_MSG(label_h >= 18 && label_h <= 30, "label %d rows tall (image 600x500)", label_h);
    FM_CHECK_MSG(ink_h >= 11, "label text %d rows tall", ink_h);
    FM_CHECK_MSG(right - x1 + 1 >= 80, "label %d columns wide", right - x1 + 1);
    fm_image_free(img);

    /* no font: one line, exit 1, and no copy written */
    snprintf(cmd, sizeof cmd,
             "FACEMASK_FONT=/nonexistent/x.ttf %s detect --out %s/nofont --detector yunet "
             "--model-dir %s/models "
             "--classifier models/mask %s/demo/%s 2>&1",
             fm_test_bin(), fm_test_tmpdir(), fm_test_shared(), fm_test_shared(), photo);
    out = NULL;
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 1);
    FM_CHECK_STR_CONTAINS(out, "font /nonexistent/x.ttf: cannot open");
    FM_CHECK_MSG(out && strchr(out, '\n') == out + strlen(out) - 1, "not one line: %s",
                 out ? out : "");
    free(out);
    snprintf(path, sizeof path, "%s/nofont", fm_test_tmpdir());
    FM_CHECK_MSG(access(path, F_OK) != 0, "%s was created", path);
}

/* Draws one random primitive at an offset. */
static void draw_case(fm_image *img, fm_font *f, int kind, int off, const int v[4], int t,
                      const char *s)
{
    const fm_color c = FM_RGB(200, 100, 50), d = FM_RGB(1, 2, 3);
    switch (kind) {
    case 0: fm_draw_rect(img, v[0] + off, v[1] + off, v[2] + off, v[3] + off, c, t); break;
    case 1: fm_draw_fill(img, v[0] + off, v[1] + off, v[2] + off, v[3] + off, c); break;
    case 2: fm_draw_text(img, f, v[0] + off, v[1] + off, s, c, 4 * t + 4); break;
    default: fm_draw_label(img, f, v[0] + off, v[1] + off, s, d, c, 4 * t + 4); break;
    }
}

static void test_clipping_matches_padded_reference(void)
{
    enum { W = 23, H = 17, P = 120 };
    fm_font *f = open_font();
    uint64_t rng = 12345;
    const char *texts[] = {"A", "face 0.99", "mask", "~|}", "\xc3\xa9\xe2\x82\xac"};
    long mismatches = 0;
    for (int iter = 0; iter < 600; iter++) {
        int kind = (int)(fm_test_rand(&rng) % 3); /* labels move; checked separately */
        int v[4];
        for (int i = 0; i < 4; i++)
            v[i] = (int)(fm_test_rand(&rng) % 90) - 45 + (i % 2 ? H : W) / 2;
        int t = 1 + (int)(fm_test_rand(&rng) % 4);
        const char *s = texts[fm_test_rand(&rng) % 5];
        fm_image *small = canvas(W, H), *big = canvas(W + 2 * P, H + 2 * P);
        draw_case(small, f, kind, 0, v, t, s);
        draw_case(big, f, kind, P, v, t, s);
        for (int y = 0; y < H; y++)
            mismatches += memcmp(at(small, 0, y), at(big, P, P + y), 3 * W) != 0;
        FM_CHECK(guards_intact(small) && guards_intact(big));
        fm_image_free(small);
        fm_image_free(big);
    }
    FM_CHECK_INT(mismatches, 0);
    fm_font_free(f);
}

/* Extreme coordinates and sizes at all four edges: nothing out of bounds, nothing spurious. */
static void test_extreme_coordinates(void)
{
    const fm_color c = FM_RGB(255, 0, 0);
    fm_font *f = open_font();
    fm_image *img = canvas(16, 12);
    const int ext[] = {INT_MIN, INT_MIN + 1, -1000000, -1, 0, 15, 16, 1000000, INT_MAX - 1, INT_MAX};
    const int n = (int)(sizeof ext / sizeof ext[0]);
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            fm_draw_rect(img, ext[a], ext[b], ext[n - 1 - a], ext[n - 1 - b], c, INT_MAX);
            fm_draw_rect(img, ext[a], ext[b], ext[b], ext[a], c, 3);
            fm_draw_text(img, f, ext[a], ext[b], "face 0.99", c, 12);
            fm_draw_text(img, f, ext[a], ext[b], "A", c, a == b ? INT_MAX : INT_MIN);
            fm_draw_label(img, f, ext[a], ext[b], "mask", c, c, 16);
            fm_draw_annotation(img, f, ext[a], ext[b], ext[n - 1 - a], ext[n - 1 - b], "x", c);
        }
    FM_CHECK(guards_intact(img));
    fm_image_free(img);
    /* a NULL font draws the label's background and no text; a NULL image or text nothing */
    img = canvas(60, 30);
    fm_draw_label(img, NULL, 10, 20, "mask", FM_RGB(0, 0, 0), c, 12);
    long nbg = count_color(img, c);
    FM_CHECK(nbg > 0 && count_color(img, FM_RGB(0, 0, 0)) == 60 * 30 - nbg);
    fm_draw_text(NULL, f, 0, 0, "x", c, 12);
    fm_draw_label(NULL, f, 0, 0, "x", c, c, 12);
    fm_draw_annotation(NULL, f, 0, 0, 5, 5, "x", c);
    fm_draw_label(img, f, 0, 0, NULL, c, c, 12);
    fm_image_free(img);
    fm_font_free(f);

    /* A box partly outside each edge: only the inside part is drawn. */
    const int boxes[4][4] = {{-5, 2, 3, 6}, {10, 2, 30, 6}, {4, -9, 8, 1}, {4, 9, 8, 40}};
    const long want[4] = {4 * 5, 6 * 5, 5 * 2, 5 * 3};
    for (int i = 0; i < 4; i++) {
        img = canvas(16, 12);
        fm_draw_fill(img, boxes[i][0], boxes[i][1], boxes[i][2], boxes[i][3], c);
        FM_CHECK_INT(count_color(img, c), want[i]);
        FM_CHECK(guards_intact(img));
        fm_image_free(img);
    }
    /* A 1-pixel rect border partly outside: only the visible edges. */
    img = canvas(16, 12);
    fm_draw_rect(img, -3, -3, 5, 4, c, 1);
    FM_CHECK_INT(count_color(img, c), 6 + 5 - 1); /* right column x=5 (y 0..4), bottom row y=4 */
    fm_image_free(img);
}

extern void suite_draw(void);
/* Landmark dots: a disc of 21 pixels at radius 2 on the pixel holding (x, y), 1 pixel at
 * radius 0, clipped at the borders, nothing for points far off or not finite. */
static void test_dot_exact_and_clipped(void)
{
    fm_color c = FM_RGB(255, 0, 255);
    fm_image *img = canvas(30, 20);
    fm_draw_dot(img, 10.5f, 10.7f, 2, c);
    FM_CHECK_INT(count_color(img, c), 21);
    FM_CHECK(is_color(img, 10, 10, c) && is_color(img, 12, 10, c) && is_color(img, 10, 8, c) &&
             is_color(img, 11, 12, c) && !is_color(img, 12, 12, c) && !is_color(img, 13, 10, c));
    fm_image *one = canvas(5, 5);
    fm_draw_dot(one, 2.9f, 0.0f, 0, c);
    FM_CHECK_INT(count_color(one, c), 1);
    FM_CHECK(is_color(one, 2, 0, c));
    fm_image *corner = canvas(30, 20);
    fm_draw_dot(corner, 0.2f, 0.2f, 2, c); /* the quarter inside: 3 + 3 + 2 */
    fm_draw_dot(corner, 29.0f, 19.0f, 0, c);
    fm_draw_dot(corner, -100.0f, 5.0f, 3, c);
    fm_draw_dot(corner, NAN, 5.0f, 3, c);
    fm_draw_dot(corner, 5.0f, INFINITY, 3, c);
    fm_draw_dot(corner, 1e30f, -1e30f, 3, c);
    FM_CHECK_INT(count_color(corner, c), 9);
    FM_CHECK(guards_intact(img) && guards_intact(one) && guards_intact(corner));
    fm_image *imgs[3] = {img, one, corner};
    for (int i = 0; i < 3; i++) {
        free(imgs[i]->data);
        free(imgs[i]);
    }
}

void suite_draw(void)
{
    FM_RUN(test_rect_border_exact);
    FM_RUN(test_fill_exact);
    FM_RUN(test_font_errors);
    FM_RUN(test_label_size_follows_image_and_box);
    FM_RUN(test_label_ink_inside_background);
    FM_RUN(test_text_deterministic_and_utf8);
    FM_RUN(test_font_shared_by_threads);
    FM_RUN(test_annotation_layout);
    FM_RUN(test_detect_out_labels_legible);
    FM_RUN(test_clipping_matches_padded_reference);
    FM_RUN(test_extreme_coordinates);
    FM_RUN(test_dot_exact_and_clipped);
}
