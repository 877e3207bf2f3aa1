/* overlay.c - track boxes, labels, status bar and pixelation on fm_image. */
#include "ui/overlay.h"

#include "face/detector.h"

#include <math.h>
#include <stdio.h>

fm_color fm_overlay_color(fm_label label)
{
    switch (label) {
    case FM_LABEL_MASK: return FM_COLOR_MASK;
    case FM_LABEL_NO_MASK: return FM_COLOR_NO_MASK;
    case FM_LABEL_UNKNOWN: break;
    }
    return FM_COLOR_UNKNOWN;
}

/* A coordinate to the first pixel index at or after it by pixel centres. Far-away values are
 * clamped to FAR pixels beyond the image (still outside it, and no int overflow for any float). */
#define FAR (1 << 24)
static int pix(float v, int lim)
{
    if (!(v > (float)-FAR))
        return -FAR;
    if (v > (float)lim + (float)FAR)
        return lim + FAR;
    return (int)ceilf(v - 0.5f);
}

char *fm_overlay_text(const fm_track_info *tr, char *buf, size_t size)
{
    char id[24] = "";
    if (tr->id > 0)
        snprintf(id, sizeof id, "ID %d ", tr->id);
    double p = tr->mask_prob;
    if (tr->label == FM_LABEL_MASK)
        snprintf(buf, size, "%smask %.2f", id, p);
    else if (tr->label == FM_LABEL_NO_MASK)
        snprintf(buf, size, "%sno_mask %.2f", id, 1.0 - p);
    else if (tr->votes > 0 && p >= 0) /* not settled yet: which way it leans, as the label */
        snprintf(buf, size, "%sunknown (%s %.2f)", id, p >= 0.5 ? "mask" : "no_mask",
                 p >= 0.5 ? p : 1.0 - p);
    else
        snprintf(buf, size, "%sunknown", id);
    return buf;
}

/* A track's box as inclusive pixel corners (pixels whose centres it covers); 0 when it has
 * none (NaN, or empty). */
static int track_pixels(const fm_image *img, const fm_track_info *tr, int *x1, int *y1, int *x2,
                        int *y2)
{
    if (isnan(tr->box.x1) || isnan(tr->box.y1) || isnan(tr->box.x2) || isnan(tr->box.y2))
        return 0;
    *x1 = pix(tr->box.x1, img->w), *y1 = pix(tr->box.y1, img->h);
    *x2 = pix(tr->box.x2, img->w) - 1, *y2 = pix(tr->box.y2, img->h) - 1;
    return *x2 >= *x1 && *y2 >= *y1;
}

void fm_overlay_tracks(fm_image *img, fm_font *font, const fm_track_info *tracks, int n)
{
    for (int i = 0; i < n; i++) {
        int x1, y1, x2, y2;
        if (!track_pixels(img, &tracks[i], &x1, &y1, &x2, &y2))
            continue;
        char text[64];
        fm_overlay_text(&tracks[i], text, sizeof text);
        fm_draw_annotation(img, font, x1, y1, x2, y2, text, fm_overlay_color(tracks[i].label));
    }
}

int fm_overlay_status(fm_image *img, fm_font *font, double fps, const fm_track_counts *c)
{
    char text[192];
    int len = snprintf(text, sizeof text, "FPS %.1f", isfinite(fps) ? fps : 0.0);
    if (c && len > 0 && (size_t)len < sizeof text) {
        char comp[16] = "--";
        if (c->compliance >= 0)
            snprintf(comp, sizeof comp, "%d%%", (int)lround(c->compliance * 100));
        snprintf(text + len, sizeof text - (size_t)len,
                 "  people %lld  mask %lld  no_mask %lld  compliance %s (%.0fs)", c->people,
                 c->mask, c->no_mask, comp, c->window);
    }
    /* the frame's bar size, smaller when the line would not fit the width */
    int px = fm_annot_bar_px(img->w, img->h), pad = px / 4 < 2 ? 2 : px / 4;
    fm_text_metrics m = fm_text_measure(font, text, px);
    if (m.advance > 0 && m.advance + 2 * pad > img->w && px > FM_TEXT_PX_MIN) {
        px = (int)((long long)px * (img->w - 2 * pad) / m.advance);
        px = px < FM_TEXT_PX_MIN ? FM_TEXT_PX_MIN : px;
        pad = px / 4 < 2 ? 2 : px / 4;
        m = fm_text_measure(font, text, px);
    }
    int vpad = px / 8 < 1 ? 1 : px / 8, bar = m.ascent + m.descent + 2 * vpad;
    fm_draw_fill(img, 0, 0, img->w - 1, bar - 1, FM_OVERLAY_BAR_COLOR);
    fm_draw_text(img, font, pad, vpad + m.ascent, text, FM_OVERLAY_BAR_TEXT, px);
    return bar;
}

void fm_overlay_pixelate(fm_image *img, fm_box box, int cells)
{
    if (cells < 1)
        cells = 1;
    if (isnan(box.x1) || isnan(box.y1) || isnan(box.x2) || isnan(box.y2))
        return;
    int x0 = pix(box.x1, img->w), y0 = pix(box.y1, img->h);
    int x1 = pix(box.x2, img->w), y1 = pix(box.y2, img->h); /* exclusive */
    if (x1 <= x0 || y1 <= y0)
        return;
    /* square blocks from the whole box's longer side (in pixel centres), laid from its
     * unclipped corner, so a face at the border is cut into the same blocks as inside */
    double fx0 = ceil((double)box.x1 - 0.5), fy0 = ceil((double)box.y1 - 0.5);
    double fside = fmax(ceil((double)box.x2 - 0.5) - fx0, ceil((double)box.y2 - 0.5) - fy0);
    double fbs = ceil(fside / cells);
    int bs = fbs < 1 ? 1 : fbs > 1e6 ? 1000000 : (int)fbs;
    int cx0 = x0 < 0 ? 0 : x0, cy0 = y0 < 0 ? 0 : y0;
    int cx1 = x1 > img->w ? img->w : x1, cy1 = y1 > img->h ? img->h : y1;
    if (cx1 <= cx0 || cy1 <= cy0)
        return;
    /* first block starts at or before the clipped corner, on the unclipped grid */
    x0 = cx0 - (int)fmod((double)cx0 - fx0, (double)bs);
    y0 = cy0 - (int)fmod((double)cy0 - fy0, (double)bs);
    for (int by = y0; by < cy1; by += bs) {
        int ya = by < cy0 ? cy0 : by, yb = by + bs < cy1 ? by + bs : cy1;
        if (yb <= ya)
            continue;
        for (int bx = x0; bx < cx1; bx += bs) {
            int xa = bx < cx0 ? cx0 : bx, xb = bx + bs < cx1 ? bx + bs : cx1;
            if (xb <= xa)
                continue;
            unsigned long sum[3] = {0, 0, 0};
            for (int y = ya; y < yb; y++) {
                const uint8_t *p = img->data + (size_t)y * (size_t)img->stride + (size_t)xa * 3;
                for (int x = xa; x < xb; x++, p += 3) {
                    sum[0] += p[0];
                    sum[1] += p[1];
                    sum[2] += p[2];
                }
            }
            unsigned long cnt = (unsigned long)(yb - ya) * (unsigned long)(xb - xa);
            uint8_t m[3];
            for (int k = 0; k < 3; k++)
                m[k] = (uint8_t)((sum[k] + cnt / 2) / cnt);
            for (int y = ya; y < yb; y++) {
                uint8_t *p = img->data + (size_t)y * (size_t)img->stride + (size_t)xa * 3;
                for (int x = xa; x < xb; x++, p += 3) {
                    p[0] = m[0];
                    p[1] = m[1];
                    p[2] = m[2];
                }
            }
        }
    }
}

void fm_overlay_blur(fm_image *img, const fm_track_info *tracks, int n)
{
    for (int i = 0; i < n; i++)
        fm_overlay_pixelate(img, tracks[i].box, FM_OVERLAY_BLUR_CELLS);
}

void fm_overlay_landmarks(fm_image *img, const fm_track_info *tracks, int n)
{
    for (int i = 0; i < n; i++) {
        int x1, y1, x2, y2, has_box = track_pixels(img, &tracks[i], &x1, &y1, &x2, &y2);
        fm_annot_style st = fm_annot_style_for(img->w, img->h, has_box ? y2 - y1 + 1 : 0);
        fm_draw_landmarks(img, (const float (*)[2])tracks[i].landmarks, tracks[i].nlandmarks,
                          st.thickness + 1);
    }
}
