/* crop.c - face crop regions, edge-replicated padding, resize, classifier input (see crop.h). */
#include "data/crop.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double round_half_up(double v)
{
    return floor(v + 0.5);
}

fm_status fm_crop_region(fm_box box, float margin, int square, int img_w, int img_h, fm_rect *r,
                         fm_err *err)
{
    if (img_w < 1 || img_h < 1)
        return fm_err_set(err, FM_ERR_ARG, "crop: empty image %dx%d", img_w, img_h);
    const float c[4] = {box.x1, box.y1, box.x2, box.y2};
    for (int i = 0; i < 4; i++)
        if (!isfinite(c[i]) || fabsf(c[i]) > FM_CROP_MAX_COORD)
            return fm_err_set(err, FM_ERR_ARG,
                              "crop: box (%g, %g, %g, %g) has a coordinate that is not finite "
                              "or beyond +-%g",
                              (double)box.x1, (double)box.y1, (double)box.x2, (double)box.y2,
                              (double)FM_CROP_MAX_COORD);
    if (!isfinite(margin) || margin < 0.0f || margin > FM_CROP_MAX_MARGIN)
        return fm_err_set(err, FM_ERR_ARG, "crop: margin %g is outside 0..%g", (double)margin,
                          (double)FM_CROP_MAX_MARGIN);
    if (box.x2 < box.x1 || box.y2 < box.y1)
        return fm_err_set(err, FM_ERR_ARG,
                          "crop: box (%g, %g, %g, %g) has a negative width or height",
                          (double)box.x1, (double)box.y1, (double)box.x2, (double)box.y2);
    const double bw = (double)box.x2 - box.x1, bh = (double)box.y2 - box.y1;
    double ew = bw * (1.0 + 2.0 * margin), eh = bh * (1.0 + 2.0 * margin);
    const double cx = ((double)box.x1 + box.x2) * 0.5, cy = ((double)box.y1 + box.y2) * 0.5;
    if (square) {
        const double s = ew > eh ? ew : eh;
        ew = eh = s;
    }
    double nw = round_half_up(ew), nh = round_half_up(eh);
    nw = nw < 1.0 ? 1.0 : nw;
    nh = nh < 1.0 ? 1.0 : nh;
    if (nw > FM_CROP_MAX_SIDE || nh > FM_CROP_MAX_SIDE)
        return fm_err_set(err, FM_ERR_LIMIT, "crop: region %.0fx%.0f exceeds the %d-pixel limit",
                          nw, nh, FM_CROP_MAX_SIDE);
    const double x0 = round_half_up(cx - nw * 0.5), y0 = round_half_up(cy - nh * 0.5);
    if (x0 + nw <= 0.0 || y0 + nh <= 0.0 || x0 >= img_w || y0 >= img_h)
        return fm_err_set(err, FM_ERR_ARG,
                          "crop: box (%g, %g, %g, %g) lies outside the %dx%d image",
                          (double)box.x1, (double)box.y1, (double)box.x2, (double)box.y2, img_w,
                          img_h);
    r->x = (int)x0;
    r->y = (int)y0;
    r->w = (int)nw;
    r->h = (int)nh;
    return FM_OK;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

fm_status fm_crop_face(const fm_image *img, fm_box box, float margin, int square, int out_size,
                       fm_image *out, fm_err *err)
{
    if (!img || !img->data || img->w < 1 || img->h < 1)
        return fm_err_set(err, FM_ERR_ARG, "crop: missing or empty image");
    if (out_size < 1 || out_size > FM_CROP_MAX_SIDE)
        return fm_err_set(err, FM_ERR_ARG, "crop: out_size %d is outside 1..%d", out_size,
                          FM_CROP_MAX_SIDE);
    if (!out || !out->data || out->w != out_size || out->h != out_size)
        return fm_err_set(err, FM_ERR_ARG, "crop: output image must be %dx%d (got %dx%d)",
                          out_size, out_size, out ? out->w : 0, out ? out->h : 0);
    fm_rect r;
    fm_status st = fm_crop_region(box, margin, square, img->w, img->h, &r, err);
    if (st != FM_OK)
        return st;
    if (r.x >= 0 && r.y >= 0 && r.x + r.w <= img->w && r.y + r.h <= img->h) {
        fm_image view = {r.w, r.h, img->stride,
                         img->data + (size_t)r.y * (size_t)img->stride + (size_t)r.x * 3};
        fm_resize_bilinear(&view, out);
        return FM_OK;
    }
    fm_image *pad = fm_image_new(r.w, r.h, err);
    if (!pad)
        return fm_err_prefix(err, "crop: padded %dx%d region: ", r.w, r.h);
    for (int y = 0; y < r.h; y++) {
        const int sy = clampi(r.y + y, 0, img->h - 1);
        const uint8_t *src = img->data + (size_t)sy * (size_t)img->stride;
        uint8_t *dst = pad->data + (size_t)y * (size_t)pad->stride;
        /* Columns [a, b) of the region lie inside the image; the rest repeat the edges. */
        const int a = clampi(-r.x, 0, r.w), b = clampi(img->w - r.x, 0, r.w);
        for (int x = 0; x < a; x++)
            memcpy(dst + 3 * x, src, 3);
        if (b > a)
            memcpy(dst + 3 * a, src + (size_t)(r.x + a) * 3, (size_t)(b - a) * 3);
        const uint8_t *last = src + (size_t)(img->w - 1) * 3;
        for (int x = b > a ? b : a; x < r.w; x++)
            memcpy(dst + 3 * x, last, 3);
    }
    fm_resize_bilinear(pad, out);
    fm_image_free(pad);
    return FM_OK;
}

void fm_crop_to_input(const fm_image *crop, float *chw_rgb)
{
    const size_t plane = (size_t)crop->w * (size_t)crop->h;
    for (int y = 0; y < crop->h; y++) {
        const uint8_t *p = crop->data + (size_t)y * (size_t)crop->stride;
        const size_t o = (size_t)y * (size_t)crop->w;
        for (int x = 0; x < crop->w; x++) {
            chw_rgb[o + x] = (float)(p[3 * x + 2] - 128) * 0.0078125f;
            chw_rgb[plane + o + x] = (float)(p[3 * x + 1] - 128) * 0.0078125f;
            chw_rgb[2 * plane + o + x] = (float)(p[3 * x + 0] - 128) * 0.0078125f;
        }
    }
}
