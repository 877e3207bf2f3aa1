/* draw.c - rectangles, filled boxes, dots, labels and the annotation style on BGR images,
 * clipped to the image (text itself is font.c).
 *
 * Every shape reduces to filling an axis-aligned box. Coordinates are widened to long long
 * before any arithmetic, so extreme ints (negative, INT_MAX) cannot overflow, and each box is
 * clipped to [0, w) x [0, h) before a single byte is written.
 */
#include "io/draw.h"

#include <limits.h>
#include <math.h>
#include <string.h>

static void fill_box(fm_image *img, long long x1, long long y1, long long x2, long long y2,
                     fm_color color)
{
    if (!img || !img->data || img->w <= 0 || img->h <= 0)
        return;
    if (x1 > x2) {
        long long t = x1;
        x1 = x2, x2 = t;
    }
    if (y1 > y2) {
        long long t = y1;
        y1 = y2, y2 = t;
    }
    if (x2 < 0 || y2 < 0 || x1 >= img->w || y1 >= img->h)
        return;
    if (x1 < 0)
        x1 = 0;
    if (y1 < 0)
        y1 = 0;
    if (x2 >= img->w)
        x2 = img->w - 1;
    if (y2 >= img->h)
        y2 = img->h - 1;
    for (long long y = y1; y <= y2; y++) {
        uint8_t *p = img->data + (size_t)y * (size_t)img->stride + (size_t)x1 * 3;
        for (long long x = x1; x <= x2; x++, p += 3) {
            p[0] = color.b;
            p[1] = color.g;
            p[2] = color.r;
        }
    }
}

void fm_draw_fill(fm_image *img, int x1, int y1, int x2, int y2, fm_color color)
{
    fill_box(img, x1, y1, x2, y2, color);
}

void fm_draw_dot(fm_image *img, float x, float y, int radius, fm_color color)
{
    if (!(x > -1e6f && x < 1e6f && y > -1e6f && y < 1e6f))
        return; /* far outside (or not finite): nothing of it is in the image */
    long long r = radius < 0 ? 0 : radius;
    long long cx = (long long)floorf(x), cy = (long long)floorf(y);
    for (long long dy = -r; dy <= r; dy++) {
        long long half = 0; /* the widest dx with dx^2 + dy^2 <= r^2 (+ r for a rounder disc) */
        while ((half + 1) * (half + 1) + dy * dy <= r * r + r)
            half++;
        fill_box(img, cx - half, cy + dy, cx + half, cy + dy, color);
    }
}

void fm_draw_rect(fm_image *img, int x1, int y1, int x2, int y2, fm_color color, int thickness)
{
    long long l = x1 < x2 ? x1 : x2, r = x1 < x2 ? x2 : x1;
    long long t = y1 < y2 ? y1 : y2, b = y1 < y2 ? y2 : y1;
    long long k = thickness < 1 ? 1 : thickness;
    if (2 * k >= r - l + 1 || 2 * k >= b - t + 1) {
        fill_box(img, l, t, r, b, color);
        return;
    }
    fill_box(img, l, t, r, t + k - 1, color);         /* top */
    fill_box(img, l, b - k + 1, r, b, color);         /* bottom */
    fill_box(img, l, t + k, l + k - 1, b - k, color); /* left */
    fill_box(img, r - k + 1, t + k, r, b - k, color); /* right */
}

static int clamp_int(long long v)
{
    return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

static int clamp_px(int px)
{
    return px < FM_TEXT_PX_MIN ? FM_TEXT_PX_MIN : px > FM_TEXT_PX_MAX ? FM_TEXT_PX_MAX : px;
}

fm_label_box fm_label_place(fm_font *font, const char *text, int px, int x, int y, int img_w,
                            int img_h)
{
    px = clamp_px(px);
    fm_text_metrics m = fm_text_measure(font, text, px);
    long long padx = px / 4 < 2 ? 2 : px / 4, pady = px / 8 < 1 ? 1 : px / 8;
    int inked = m.ink_x1 > m.ink_x0;
    long long left = inked && m.ink_x0 < 0 ? m.ink_x0 : 0;
    long long right = inked && m.ink_x1 > m.advance ? m.ink_x1 : m.advance;
    long long lw = right - left + 2 * padx, lh = (long long)m.ascent + m.descent + 2 * pady;
    long long lx = x, ly = (long long)y - lh;
    if (ly < 0)
        ly = y; /* no room above: inside the box, from its top-left corner */
    if (lx + lw > img_w)
        lx = (long long)img_w - lw;
    if (lx < 0)
        lx = 0;
    (void)img_h;
    fm_label_box b;
    b.x1 = clamp_int(lx);
    b.y1 = clamp_int(ly);
    b.x2 = clamp_int(lx + lw - 1);
    b.y2 = clamp_int(ly + lh - 1);
    b.text_x = clamp_int(lx + padx - left);
    b.baseline = clamp_int(ly + pady + m.ascent);
    return b;
}

fm_label_box fm_draw_label(fm_image *img, fm_font *font, int x, int y, const char *text,
                           fm_color fg, fm_color bg, int px)
{
    fm_label_box b = {0, 0, -1, -1, 0, 0};
    if (!img || !img->data || img->w <= 0 || img->h <= 0 || !text)
        return b;
    b = fm_label_place(font, text, px, x, y, img->w, img->h);
    fill_box(img, b.x1, b.y1, b.x2, b.y2, bg);
    fm_draw_text(img, font, b.text_x, b.baseline, text, fg, px);
    return b;
}

/* px rounded down to a step of 1 below 24, 2 below 48, 4 below 96, ... */
static int step_down(double v)
{
    int p = v > FM_TEXT_PX_MAX ? FM_TEXT_PX_MAX : v < 1 ? 1 : (int)v;
    int step = 1;
    while (step * 24 <= p)
        step *= 2;
    return p / step * step;
}

static double shorter_side(int w, int h)
{
    int s = w < h ? w : h;
    return s > 0 ? s : 0;
}

fm_annot_style fm_annot_style_for(int img_w, int img_h, int box_h)
{
    double s = shorter_side(img_w, img_h);
    double lo = fmax(12, s / 80), hi = fmax(12, s / 30);
    double px = fmin(fmax(box_h / 3.0, lo), hi);
    fm_annot_style st;
    st.text_px = clamp_px(step_down(px));
    st.thickness = st.text_px / 8 < 2 ? 2 : st.text_px / 8;
    return st;
}

int fm_annot_bar_px(int img_w, int img_h)
{
    return clamp_px(step_down(fmax(12, shorter_side(img_w, img_h) / 36)));
}

void fm_draw_annotation(fm_image *img, fm_font *font, int x1, int y1, int x2, int y2,
                        const char *text, fm_color color)
{
    if (!img || !img->data || img->w <= 0 || img->h <= 0)
        return;
    fm_annot_style st = fm_annot_style_for(img->w, img->h, clamp_int((long long)y2 - y1 + 1));
    fm_draw_rect(img, x1, y1, x2, y2, color, st.thickness);
    if (text)
        fm_draw_label(img, font, x1, y1, text, FM_COLOR_LABEL_TEXT, color, st.text_px);
}
