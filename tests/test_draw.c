/* test_draw.c - rectangles, boxes, the built-in font and labels: exact pixels and clipping.
 *
 * Clipping is checked against a reference: drawing at (x, y) on a small image must give
 * exactly the pixels that drawing at (x + P, y + P) on a larger canvas gives in the window
 * [P, P + w) x [P, P + h). Images carry a guard band of canary bytes after each row.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"
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

static long glyph_ink(int c)
{
    long n = 0;
    for (int y = 0; y < FM_FONT_H; y++)
        for (int x = 0; x < FM_FONT_W; x++)
            n += fm_font_pixel(c, x, y);
    return n;
}

static void test_font_glyphs(void)
{
    /* Stable ink counts: a change to the font shows up here. */
    FM_CHECK_INT(glyph_ink('A'), 18);
    FM_CHECK_INT(glyph_ink('0'), 19);
    FM_CHECK_INT(glyph_ink('.'), 4);
    FM_CHECK_INT(glyph_ink(' '), 0);
    long total = 0;
    for (int c = 32; c <= 126; c++) {
        long n = glyph_ink(c);
        total += n;
        FM_CHECK_MSG(c == ' ' || n > 0, "glyph %d is empty", c);
        for (int y = 0; y < FM_FONT_H; y++)
            FM_CHECK_MSG(!fm_font_pixel(c, FM_FONT_W - 1, y), "glyph %d inks the spacing column", c);
        for (int x = 0; x < FM_FONT_W; x++)
            FM_CHECK_MSG(c == '|' || !fm_font_pixel(c, x, 0), "glyph %d inks the top row", c);
        /* All glyphs differ. */
        for (int d = 32; d < c; d++) {
            int same = 1;
            for (int i = 0; i < FM_FONT_W * FM_FONT_H && same; i++)
                same = fm_font_pixel(c, i % FM_FONT_W, i / FM_FONT_W) ==
                       fm_font_pixel(d, i % FM_FONT_W, i / FM_FONT_W);
            FM_CHECK_MSG(!same, "glyphs %d and %d are identical", c, d);
        }
    }
    FM_CHECK_INT(total, 1143);
    /* Outside the cell and outside printable ASCII. */
    FM_CHECK_INT(fm_font_pixel('A', -1, 3), 0);
    FM_CHECK_INT(fm_font_pixel('A', 0, FM_FONT_H), 0);
    for (int i = 0; i < FM_FONT_W * FM_FONT_H; i++) {
        FM_CHECK_INT(fm_font_pixel(7, i % 6, i / 6), fm_font_pixel('?', i % 6, i / 6));
        FM_CHECK_INT(fm_font_pixel(200, i % 6, i / 6), fm_font_pixel('?', i % 6, i / 6));
    }
}

static void test_text_pixels_and_scale(void)
{
    const fm_color w = FM_RGB(255, 255, 255);
    fm_image *img = canvas(60, 30);
    fm_draw_text(img, 3, 2, "A", w, 1);
    FM_CHECK_INT(count_color(img, w), 18);
    for (int y = 0; y < FM_FONT_H; y++)
        for (int x = 0; x < FM_FONT_W; x++)
            FM_CHECK_INT(is_color(img, 3 + x, 2 + y, w), fm_font_pixel('A', x, y));
    fm_image_free(img);

    img = canvas(60, 30);
    fm_draw_text(img, 0, 0, "A", w, 2);
    FM_CHECK_INT(count_color(img, w), 4 * 18);
    for (int y = 0; y < 2 * FM_FONT_H; y++)
        for (int x = 0; x < 2 * FM_FONT_W; x++)
            FM_CHECK_INT(is_color(img, x, y, w), fm_font_pixel('A', x / 2, y / 2));
    fm_image_free(img);

    img = canvas(80, 12);
    fm_draw_text(img, 0, 0, "face 0.99", w, 1);
    long want = 0;
    for (const char *c = "face 0.99"; *c; c++)
        want += glyph_ink(*c);
    FM_CHECK_INT(count_color(img, w), want);
    /* Non-printable characters are drawn as '?'. */
    fm_image *q = canvas(80, 12), *r = canvas(80, 12);
    fm_draw_text(q, 0, 0, "a\x01\xff", w, 1);
    fm_draw_text(r, 0, 0, "a??", w, 1);
    FM_CHECK(memcmp(q->data, r->data, (size_t)q->stride * 12) == 0);
    FM_CHECK(guards_intact(img) && guards_intact(q));
    fm_image_free(img);
    fm_image_free(q);
    fm_image_free(r);

    int tw, th;
    fm_text_size("face 0.99", 2, &tw, &th);
    FM_CHECK_INT(tw, 9 * 6 * 2);
    FM_CHECK_INT(th, 20);
    fm_text_size("", 0, &tw, &th);
    FM_CHECK_INT(tw, 0);
    FM_CHECK_INT(th, 10);
}

static void test_label_above_or_inside(void)
{
    const fm_color fg = FM_RGB(9, 9, 9), bg = FM_RGB(0, 255, 0);
    fm_image *img = canvas(100, 60);
    fm_draw_label(img, 10, 30, "ok", fg, bg, 1);
    /* Above: rows 20..29, columns 10..10 + 12 + 1 - 1; nothing at or below row 30. */
    long ink = glyph_ink('o') + glyph_ink('k');
    FM_CHECK_INT(count_color(img, bg) + count_color(img, fg), 13 * 10);
    FM_CHECK_INT(count_color(img, fg), ink);
    FM_CHECK(is_color(img, 10, 20, bg) && is_color(img, 22, 29, bg));
    FM_CHECK(!is_color(img, 10, 30, bg) && !is_color(img, 10, 19, bg) && !is_color(img, 23, 25, bg));
    fm_image_free(img);

    img = canvas(100, 60);
    fm_draw_label(img, 10, 4, "ok", fg, bg, 1); /* no room above: rows 4..13 */
    FM_CHECK(is_color(img, 10, 4, bg) && is_color(img, 22, 13, bg) && !is_color(img, 10, 3, bg) &&
             !is_color(img, 10, 14, bg));
    FM_CHECK_INT(count_color(img, fg), ink);
    fm_image_free(img);

    img = canvas(100, 60);
    fm_draw_label(img, 95, 30, "ok", fg, bg, 1); /* shifted left to fit: columns 87..99 */
    FM_CHECK(is_color(img, 87, 25, bg) && is_color(img, 99, 25, bg) && !is_color(img, 86, 25, bg));
    FM_CHECK_INT(count_color(img, fg), ink);
    FM_CHECK(guards_intact(img));
    fm_image_free(img);
}

/* Draws one random primitive at an offset. */
static void draw_case(fm_image *img, int kind, int off, const int v[4], int t, const char *s)
{
    const fm_color c = FM_RGB(200, 100, 50), d = FM_RGB(1, 2, 3);
    switch (kind) {
    case 0: fm_draw_rect(img, v[0] + off, v[1] + off, v[2] + off, v[3] + off, c, t); break;
    case 1: fm_draw_fill(img, v[0] + off, v[1] + off, v[2] + off, v[3] + off, c); break;
    case 2: fm_draw_text(img, v[0] + off, v[1] + off, s, c, t); break;
    default: fm_draw_label(img, v[0] + off, v[1] + off, s, d, c, t); break;
    }
}

static void test_clipping_matches_padded_reference(void)
{
    enum { W = 23, H = 17, P = 120 };
    uint64_t rng = 12345;
    const char *texts[] = {"A", "face 0.99", "mask", "~|}"};
    long mismatches = 0;
    for (int iter = 0; iter < 600; iter++) {
        int kind = (int)(fm_test_rand(&rng) % 3); /* labels move; checked separately */
        int v[4];
        for (int i = 0; i < 4; i++)
            v[i] = (int)(fm_test_rand(&rng) % 90) - 45 + (i % 2 ? H : W) / 2;
        int t = 1 + (int)(fm_test_rand(&rng) % 4);
        const char *s = texts[fm_test_rand(&rng) % 4];
        fm_image *small = canvas(W, H), *big = canvas(W + 2 * P, H + 2 * P);
        draw_case(small, kind, 0, v, t, s);
        draw_case(big, kind, P, v, t, s);
        for (int y = 0; y < H; y++)
            mismatches += memcmp(at(small, 0, y), at(big, P, P + y), 3 * W) != 0;
        FM_CHECK(guards_intact(small) && guards_intact(big));
        fm_image_free(small);
        fm_image_free(big);
    }
    FM_CHECK_INT(mismatches, 0);
}

/* Extreme coordinates at all four edges: nothing out of bounds, nothing spurious. */
static void test_extreme_coordinates(void)
{
    const fm_color c = FM_RGB(255, 0, 0);
    fm_image *img = canvas(16, 12);
    const int ext[] = {INT_MIN, INT_MIN + 1, -1000000, -1, 0, 15, 16, 1000000, INT_MAX - 1, INT_MAX};
    const int n = (int)(sizeof ext / sizeof ext[0]);
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            fm_draw_rect(img, ext[a], ext[b], ext[n - 1 - a], ext[n - 1 - b], c, INT_MAX);
            fm_draw_rect(img, ext[a], ext[b], ext[b], ext[a], c, 3);
            fm_draw_text(img, ext[a], ext[b], "face 0.99", c, 3);
            fm_draw_text(img, ext[a], ext[b], "A", c, INT_MAX);
            fm_draw_label(img, ext[a], ext[b], "mask", c, c, 2);
        }
    FM_CHECK(guards_intact(img));
    fm_image_free(img);

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
    FM_RUN(test_font_glyphs);
    FM_RUN(test_text_pixels_and_scale);
    FM_RUN(test_label_above_or_inside);
    FM_RUN(test_clipping_matches_padded_reference);
    FM_RUN(test_extreme_coordinates);
    FM_RUN(test_dot_exact_and_clipped);
}
