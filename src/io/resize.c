/* resize.c - bilinear resize that matches OpenCV 4.6 cv::resize(INTER_LINEAR) on 8-bit BGR,
 * bit for bit, and blobFromImage on top of it.
 *
 * What OpenCV does for CV_8UC3 and INTER_LINEAR (modules/imgproc/src/resize.cpp):
 *   - same size: a plain copy;
 *   - exactly half size in both directions (1 / (dw / sw) == 2): it switches to INTER_AREA's
 *     fast path, the rounded mean of each 2x2 block, (a + b + c + d + 2) >> 2;
 *   - otherwise a separable filter. Scales are doubles, scale = 1 / (dw / sw). For each output
 *     column fx = (float)((dx + 0.5) * scale - 0.5), sx = floor(fx), fx -= sx; a column left of
 *     the image (sx < 0) or at / past its last pixel takes sx clamped and fx = 0. The weights are
 *     round-half-even((1 - fx) * 2048) and round-half-even(fx * 2048) (11 fractional bits), and
 *     the horizontal pass keeps the exact integer S[sx] * a0 + S[sx + 1] * a1. Rows use the same
 *     formula without clamping the weight: only the two row indices are clamped to the image.
 *     The vertical pass rounds in three steps, ((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16)
 *     then (+ 2) >> 2, saturated to 0..255.
 *
 * The implementation works on tiles of output columns whose offsets and weights live on the
 * stack, and computes both horizontal sums per output pixel: no allocation, no failure mode.
 */
#include "io/image.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <string.h>

#define COEF_BITS 11
#define COEF_ONE (1 << COEF_BITS)
#define TILE 256

/* OpenCV's saturate_cast<short>(float): round half to even (cvRound), then saturate. */
static int round_coef(float v)
{
    long r = lrintf(v);
    return r > 32767 ? 32767 : r < -32768 ? -32768 : (int)r;
}

/* Sample position, integer index and the two fixed-point weights along one axis. */
static void axis_coef(int d, double scale, int *s, int *w0, int *w1)
{
    float f = (float)((d + 0.5) * scale - 0.5);
    int i = (int)floorf(f);
    f -= (float)i;
    *s = i;
    *w0 = round_coef((1.f - f) * (float)COEF_ONE);
    *w1 = round_coef(f * (float)COEF_ONE);
}

static void copy_rows(const fm_image *src, fm_image *dst)
{
    for (int y = 0; y < src->h; y++)
        memcpy(dst->data + (size_t)y * (size_t)dst->stride,
               src->data + (size_t)y * (size_t)src->stride, (size_t)src->w * 3);
}

static void half_area(const fm_image *src, fm_image *dst)
{
    for (int y = 0; y < dst->h; y++) {
        const uint8_t *r0 = src->data + (size_t)(2 * y) * (size_t)src->stride;
        const uint8_t *r1 = r0 + src->stride;
        uint8_t *out = dst->data + (size_t)y * (size_t)dst->stride;
        for (int x = 0; x < dst->w; x++) {
            const uint8_t *a = r0 + 6 * x, *b = r1 + 6 * x;
            for (int c = 0; c < 3; c++)
                out[3 * x + c] = (uint8_t)((a[c] + a[c + 3] + b[c] + b[c + 3] + 2) >> 2);
        }
    }
}

void fm_resize_bilinear(const fm_image *src, fm_image *dst)
{
    const int sw = src->w, sh = src->h, dw = dst->w, dh = dst->h;
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0)
        return;
    if (sw == dw && sh == dh) {
        copy_rows(src, dst);
        return;
    }
    const double scale_x = 1. / ((double)dw / sw), scale_y = 1. / ((double)dh / sh);
    const double iscale_x = nearbyint(scale_x), iscale_y = nearbyint(scale_y);
    if (iscale_x == 2 && iscale_y == 2 && fabs(scale_x - iscale_x) < DBL_EPSILON &&
        fabs(scale_y - iscale_y) < DBL_EPSILON) {
        half_area(src, dst);
        return;
    }

    int xofs0[TILE], xofs1[TILE];
    int alpha0[TILE], alpha1[TILE];
    for (int x0 = 0; x0 < dw; x0 += TILE) {
        const int n = dw - x0 < TILE ? dw - x0 : TILE;
        for (int i = 0; i < n; i++) {
            int sx, a0, a1;
            axis_coef(x0 + i, scale_x, &sx, &a0, &a1);
            if (sx < 0)
                sx = 0, a0 = COEF_ONE, a1 = 0;
            if (sx >= sw - 1)
                sx = sw - 1, a0 = COEF_ONE, a1 = 0;
            xofs0[i] = 3 * sx;
            xofs1[i] = 3 * (sx + 1 < sw ? sx + 1 : sx);
            alpha0[i] = a0;
            alpha1[i] = a1;
        }
        for (int y = 0; y < dh; y++) {
            int sy, b0, b1;
            axis_coef(y, scale_y, &sy, &b0, &b1);
            int y0 = sy < 0 ? 0 : sy >= sh ? sh - 1 : sy;
            int y1 = sy + 1 < 0 ? 0 : sy + 1 >= sh ? sh - 1 : sy + 1;
            const uint8_t *r0 = src->data + (size_t)y0 * (size_t)src->stride;
            const uint8_t *r1 = src->data + (size_t)y1 * (size_t)src->stride;
            uint8_t *out = dst->data + (size_t)y * (size_t)dst->stride + (size_t)x0 * 3;
            for (int i = 0; i < n; i++) {
                const uint8_t *p00 = r0 + xofs0[i], *p01 = r0 + xofs1[i];
                const uint8_t *p10 = r1 + xofs0[i], *p11 = r1 + xofs1[i];
                const int a0 = alpha0[i], a1 = alpha1[i];
                for (int c = 0; c < 3; c++) {
                    int h0 = p00[c] * a0 + p01[c] * a1;
                    int h1 = p10[c] * a0 + p11[c] * a1;
                    int v = (((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16) + 2) >> 2;
                    out[3 * i + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
        }
    }
}

void fm_blob_from_image(const fm_image *img, int W, int H, const float mean[3], float scale,
                        int swap_rb, fm_image *tmp, float *out)
{
    const fm_image *src = img;
    if (img->w != W || img->h != H) {
        assert(tmp && tmp->w == W && tmp->h == H && "tmp must be a W x H image");
        fm_resize_bilinear(img, tmp);
        src = tmp;
    }
    const size_t plane = (size_t)W * (size_t)H;
    for (int c = 0; c < 3; c++) {
        const int sc = swap_rb ? 2 - c : c;
        const float m = mean[c];
        float *o = out + (size_t)c * plane;
        for (int y = 0; y < H; y++) {
            const uint8_t *row = src->data + (size_t)y * (size_t)src->stride;
            for (int x = 0; x < W; x++)
                o[(size_t)y * (size_t)W + (size_t)x] = ((float)row[3 * x + sc] - m) * scale;
        }
    }
}
