/* draw.c - rectangles, filled boxes, text and labels on BGR images, clipped to the image.
 *
 * Every primitive reduces to filling an axis-aligned box. Coordinates are widened to
 * long long before any arithmetic, so extreme ints (negative, INT_MAX) cannot overflow, and
 * each box is clipped to [0, w) x [0, h) before a single byte is written.
 */
#include "io/image.h"

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

void fm_text_size(const char *text, int scale, int *w, int *h)
{
    long long s = scale < 1 ? 1 : scale;
    long long n = text ? (long long)strlen(text) : 0;
    long long tw = n * FM_FONT_W * s, th = FM_FONT_H * s;
    if (w)
        *w = tw > INT_MAX ? INT_MAX : (int)tw;
    if (h)
        *h = th > INT_MAX ? INT_MAX : (int)th;
}

void fm_draw_text(fm_image *img, int x, int y, const char *text, fm_color color, int scale)
{
    if (!img || !text)
        return;
    const long long s = scale < 1 ? 1 : scale;
    const long long cw = FM_FONT_W * s, ch = FM_FONT_H * s;
    if ((long long)y + ch <= 0 || y >= img->h)
        return;
    long long cx = x;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++, cx += cw) {
        if (cx >= img->w)
            break;
        if (cx + cw <= 0)
            continue;
        for (int gy = 0; gy < FM_FONT_H; gy++)
            for (int gx = 0; gx < FM_FONT_W; gx++)
                if (fm_font_pixel(*c, gx, gy))
                    fill_box(img, cx + gx * s, y + gy * s, cx + gx * s + s - 1, y + gy * s + s - 1,
                             color);
    }
}

void fm_draw_label(fm_image *img, int x, int y, const char *text, fm_color fg, fm_color bg,
                   int scale)
{
    if (!img || !text || img->w <= 0 || img->h <= 0)
        return;
    const long long s = scale < 1 ? 1 : scale;
    int tw, th;
    fm_text_size(text, scale, &tw, &th);
    const long long lw = (long long)tw + s, lh = th;
    long long lx = x, ly = (long long)y - lh;
    if (ly < 0)
        ly = y; /* no room above: inside / below the corner */
    if (lx + lw > img->w)
        lx = img->w - lw;
    if (lx < 0)
        lx = 0;
    fill_box(img, lx, ly, lx + lw - 1, ly + lh - 1, bg);
    if (lx + s > INT_MAX || ly > INT_MAX || ly < INT_MIN)
        return;
    fm_draw_text(img, (int)(lx + s), (int)ly, text, fg, scale);
}
