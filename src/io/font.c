/* font.c - fonts through FreeType: opening a font file, measuring and drawing UTF-8 text.
 *
 * The font file is read whole (fm_read_file: a regular file, size-limited) and handed to
 * FreeType from memory. Each glyph is rendered to an 8-bit coverage bitmap with light hinting
 * (vertical snapping only, so shapes keep their design) and blended into the image. A label is
 * a few dozen glyphs at ~1-2 microseconds each, so nothing is cached: measuring and drawing
 * each render the text again.
 */
#include "io/draw.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ft2build.h>
#include FT_FREETYPE_H

#include "core/file.h"
#include "core/json.h"

struct fm_font {
    pthread_mutex_t mu; /* guards lib and face: FreeType objects are not thread-safe */
    FT_Library lib;
    FT_Face face;
    unsigned char *data; /* the file's bytes; FreeType reads them for the face's lifetime */
    int px;              /* the size the face is set to, 0 before the first */
    char path[4096];
};

/* FreeType's name for an error when it was built with them, else its number. */
static const char *ft_error(FT_Error e, char *buf, size_t size)
{
    const char *s = FT_Error_String(e);
    if (s)
        return s;
    snprintf(buf, size, "FreeType error 0x%02x", (unsigned)e);
    return buf;
}

static const char *const hint = "install fonts-dejavu-core or set FACEMASK_FONT to a .ttf file";

static fm_font *open_file(const char *path, fm_err *err)
{
    fm_err ferr = {0};
    unsigned char *buf = NULL;
    size_t len = 0;
    if (fm_read_file(path, FM_FONT_MAX_BYTES, "a font", &buf, &len, &ferr) != FM_OK) {
        fm_err_set(err, ferr.status, "font %s; %s", ferr.msg, hint);
        return NULL;
    }
    fm_font *f = calloc(1, sizeof *f);
    if (!f) {
        free(buf);
        fm_err_set(err, FM_ERR_NOMEM, "font %s: out of memory", path);
        return NULL;
    }
    f->data = buf;
    snprintf(f->path, sizeof f->path, "%s", path);
    char eb[32];
    FT_Error e = FT_Init_FreeType(&f->lib);
    if (e) {
        fm_err_set(err, FM_ERR_NOMEM, "font %s: FreeType cannot start: %s", path,
                   ft_error(e, eb, sizeof eb));
        f->lib = NULL;
        goto fail;
    }
    if (len > LONG_MAX)
        len = LONG_MAX; /* not reached: FM_FONT_MAX_BYTES is far below */
    e = FT_New_Memory_Face(f->lib, buf, (FT_Long)len, 0, &f->face);
    if (e) {
        f->face = NULL;
        fm_err_set(err, FM_ERR_FORMAT,
                   "font %s: not a font FreeType can read (%s); expected a TrueType or OpenType "
                   "file; %s",
                   path, ft_error(e, eb, sizeof eb), hint);
        goto fail;
    }
    if (!FT_IS_SCALABLE(f->face)) {
        fm_err_set(err, FM_ERR_FORMAT,
                   "font %s: a bitmap-only font, expected a scalable (TrueType or OpenType) one; "
                   "%s",
                   path, hint);
        goto fail;
    }
    if (FT_Select_Charmap(f->face, FT_ENCODING_UNICODE) != 0) {
        fm_err_set(err, FM_ERR_FORMAT, "font %s: has no Unicode character map; %s", path, hint);
        goto fail;
    }
    if (pthread_mutex_init(&f->mu, NULL) != 0) {
        fm_err_set(err, FM_ERR_NOMEM, "font %s: cannot create its mutex", path);
        goto fail;
    }
    return f;
fail:
    if (f->face)
        FT_Done_Face(f->face);
    if (f->lib)
        FT_Done_FreeType(f->lib);
    free(f->data);
    free(f);
    return NULL;
}

fm_font *fm_font_open(const char *path, fm_err *err)
{
    if (path)
        return open_file(path, err);
    const char *env = getenv("FACEMASK_FONT");
    if (env && env[0])
        return open_file(env, err);
    static const char *const paths[] = FM_FONT_DEFAULT_PATHS;
    const size_t n = sizeof paths / sizeof paths[0];
    for (size_t i = 0; i < n; i++)
        if (access(paths[i], F_OK) == 0)
            return open_file(paths[i], err); /* there but unreadable: that file's error */
    char list[1024] = "";
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", paths[i]);
    }
    fm_err_set(err, FM_ERR_IO, "no font for the labels: FACEMASK_FONT is not set and none of %s "
                               "exists; %s",
               list, hint);
    return NULL;
}

void fm_font_free(fm_font *f)
{
    if (!f)
        return;
    pthread_mutex_destroy(&f->mu);
    FT_Done_Face(f->face);
    FT_Done_FreeType(f->lib);
    free(f->data);
    free(f);
}

const char *fm_font_path(const fm_font *f)
{
    return f ? f->path : "";
}

/* ---- glyph runs ------------------------------------------------------------------------ */

static int clamp_px(int px)
{
    return px < FM_TEXT_PX_MIN ? FM_TEXT_PX_MIN : px > FM_TEXT_PX_MAX ? FM_TEXT_PX_MAX : px;
}

/* The next code point of s at *i (advanced past it): each ill-formed sequence is U+FFFD, one
 * per maximal ill-formed subpart (core/json.h); 0 at the end. */
static unsigned next_char(const unsigned char *s, size_t *i)
{
    size_t bad, n = fm_utf8_char_len(s + *i, &bad);
    if (n == 0) {
        if (s[*i] == 0)
            return 0;
        *i += bad;
        return 0xFFFD;
    }
    const unsigned char *p = s + *i;
    *i += n;
    switch (n) {
    case 1: return p[0];
    case 2: return (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu);
    case 3: return (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
    default:
        return (p[0] & 0x07u) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 |
               (p[3] & 0x3Fu);
    }
}

/* Called for each rendered glyph with its bitmap's top-left corner relative to the pen origin. */
typedef void (*glyph_fn)(void *ctx, const FT_Bitmap *bm, long long left, long long top);

/* Lays text out at the face's current size: loads, renders and hands each glyph to fn (may be
 * NULL). Returns the pen's advance in pixels. A glyph FreeType cannot load or render is
 * skipped. The caller holds f->mu. */
static long long run_text(fm_font *f, const char *text, glyph_fn fn, void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    long long pen = 0; /* pixels */
    FT_UInt prev = 0;
    int kern = FT_HAS_KERNING(f->face) != 0;
    for (size_t i = 0;;) {
        unsigned c = next_char(s, &i);
        if (!c)
            break;
        FT_UInt gi = FT_Get_Char_Index(f->face, c);
        if (kern && prev && gi) {
            FT_Vector k;
            if (FT_Get_Kerning(f->face, prev, gi, FT_KERNING_DEFAULT, &k) == 0)
                pen += k.x / 64; /* grid-fitted: whole pixels */
        }
        prev = gi;
        if (FT_Load_Glyph(f->face, gi, FT_LOAD_TARGET_LIGHT) != 0 ||
            FT_Render_Glyph(f->face->glyph, FT_RENDER_MODE_LIGHT) != 0)
            continue;
        FT_GlyphSlot g = f->face->glyph;
        if (fn && g->bitmap.buffer && g->bitmap.rows > 0 && g->bitmap.width > 0 &&
            g->bitmap.pixel_mode == FT_PIXEL_MODE_GRAY)
            fn(ctx, &g->bitmap, pen + g->bitmap_left, -(long long)g->bitmap_top);
        pen += (g->advance.x + 32) / 64;
    }
    return pen;
}

static void set_size(fm_font *f, int px)
{
    if (f->px != px && FT_Set_Pixel_Sizes(f->face, 0, (FT_UInt)px) == 0)
        f->px = px;
}

typedef struct {
    long long x0, y0, x1, y1;
    int any;
} ink_box;

static void add_ink(void *ctx, const FT_Bitmap *bm, long long left, long long top)
{
    ink_box *b = ctx;
    /* the bitmap's rows and columns that hold ink (FreeType's box can have blank margins) */
    long long rx0 = LLONG_MAX, ry0 = LLONG_MAX, rx1 = LLONG_MIN, ry1 = LLONG_MIN;
    for (unsigned y = 0; y < bm->rows; y++) {
        const unsigned char *row = bm->buffer + (long long)y * bm->pitch;
        for (unsigned x = 0; x < bm->width; x++)
            if (row[x]) {
                rx0 = x < rx0 ? x : rx0;
                rx1 = x > rx1 ? x : rx1;
                ry0 = y < ry0 ? y : ry0;
                ry1 = y > ry1 ? y : ry1;
            }
    }
    if (rx1 < rx0)
        return;
    long long x0 = left + rx0, y0 = top + ry0, x1 = left + rx1 + 1, y1 = top + ry1 + 1;
    if (!b->any) {
        *b = (ink_box){x0, y0, x1, y1, 1};
        return;
    }
    b->x0 = x0 < b->x0 ? x0 : b->x0;
    b->y0 = y0 < b->y0 ? y0 : b->y0;
    b->x1 = x1 > b->x1 ? x1 : b->x1;
    b->y1 = y1 > b->y1 ? y1 : b->y1;
}

static int clamp_int(long long v)
{
    return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

/* The glyphs that set a line's height: the tallest ascenders and deepest descenders of ASCII. */
static const char *const line_ref = "Hbdfhklgjpqy_|()[]";

fm_text_metrics fm_text_measure(fm_font *f, const char *text, int px)
{
    fm_text_metrics m;
    memset(&m, 0, sizeof m);
    if (!f || !text)
        return m;
    pthread_mutex_lock(&f->mu);
    set_size(f, clamp_px(px));
    ink_box line = {0, 0, 0, 0, 0}, ink = {0, 0, 0, 0, 0};
    run_text(f, line_ref, add_ink, &line);
    long long adv = run_text(f, text, add_ink, &ink);
    pthread_mutex_unlock(&f->mu);
    long long asc = line.any ? -line.y0 : 0, desc = line.any ? line.y1 : 0;
    if (ink.any) {
        asc = -ink.y0 > asc ? -ink.y0 : asc;
        desc = ink.y1 > desc ? ink.y1 : desc;
        m.ink_x0 = clamp_int(ink.x0);
        m.ink_y0 = clamp_int(ink.y0);
        m.ink_x1 = clamp_int(ink.x1);
        m.ink_y1 = clamp_int(ink.y1);
    }
    m.advance = clamp_int(adv);
    m.ascent = clamp_int(asc);
    m.descent = clamp_int(desc);
    return m;
}

typedef struct {
    fm_image *img;
    long long x, y; /* pen origin in the image */
    fm_color c;
} blit_ctx;

/* Blends one glyph's coverage into the image, clipped: p += (c - p) * a / 255, rounded. */
static void blit(void *ctx, const FT_Bitmap *bm, long long left, long long top)
{
    blit_ctx *b = ctx;
    fm_image *img = b->img;
    long long gx = b->x + left, gy = b->y + top;
    long long x0 = gx < 0 ? 0 : gx, y0 = gy < 0 ? 0 : gy;
    long long x1 = gx + bm->width, y1 = gy + bm->rows;
    x1 = x1 > img->w ? img->w : x1;
    y1 = y1 > img->h ? img->h : y1;
    const unsigned c[3] = {b->c.b, b->c.g, b->c.r};
    for (long long y = y0; y < y1; y++) {
        const unsigned char *cov = bm->buffer + (y - gy) * bm->pitch + (x0 - gx);
        uint8_t *p = img->data + (size_t)y * (size_t)img->stride + (size_t)x0 * 3;
        for (long long x = x0; x < x1; x++, p += 3) {
            unsigned a = *cov++;
            if (!a)
                continue;
            for (int k = 0; k < 3; k++)
                p[k] = (uint8_t)((p[k] * (255u - a) + c[k] * a + 127u) / 255u);
        }
    }
}

void fm_draw_text(fm_image *img, fm_font *f, int x, int baseline, const char *text,
                  fm_color color, int px)
{
    if (!img || !img->data || img->w <= 0 || img->h <= 0 || !f || !text)
        return;
    blit_ctx b = {img, x, baseline, color};
    pthread_mutex_lock(&f->mu);
    set_size(f, clamp_px(px));
    /* No glyph reaches beyond the font's bounding box (scaled, plus a pixel for hinting): a
     * line wholly above or below the image draws nothing and is not rendered. */
    const FT_Face face = f->face;
    long long upem = face->units_per_EM > 0 ? face->units_per_EM : 1, s = f->px;
    long long above = (long long)face->bbox.yMax * s / upem + 2;
    long long below = -(long long)face->bbox.yMin * s / upem + 2;
    if ((long long)baseline - above >= img->h || (long long)baseline + below < 0) {
        pthread_mutex_unlock(&f->mu);
        return;
    }
    run_text(f, text, blit, &b);
    pthread_mutex_unlock(&f->mu);
}
