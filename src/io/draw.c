/* draw.c - clipped rectangles, boxes and text (stub, being written). */
#include "io/image.h"

void fm_draw_rect(fm_image *img, int x1, int y1, int x2, int y2, fm_color color, int thickness)
{
}

void fm_draw_fill(fm_image *img, int x1, int y1, int x2, int y2, fm_color color)
{
}

void fm_draw_text(fm_image *img, int x, int y, const char *text, fm_color color, int scale)
{
}

void fm_text_size(const char *text, int scale, int *w, int *h)
{
    *w = 0;
    *h = 0;
}

void fm_draw_label(fm_image *img, int x, int y, const char *text, fm_color fg, fm_color bg, int scale)
{
}
