/* draw.h - drawing on BGR images: boxes, dots, text in a real font, labels, and the one
 * annotation style that detect's --out copies and watch's window, recording and snapshots share.
 *
 * Text is drawn by FreeType from a TrueType/OpenType file, DejaVu Sans Bold by default
 * (Debian's fonts-dejavu-core; bold because labels of 12-16 pixels on saturated green and red
 * read better in it than in the regular weight), anti-aliased: each pixel moves toward the
 * text colour by the glyph's coverage. Text is UTF-8, laid out left to right with the font's
 * kerning, one glyph per character (no shaping: Latin, Greek, Cyrillic and symbols are fine,
 * Arabic or Indic scripts are not joined); characters the font lacks show its empty-box glyph,
 * and each ill-formed UTF-8 sequence shows U+FFFD.
 *
 *     fm_err err = {0};
 *     fm_font *font = fm_font_open(NULL, &err);     // $FACEMASK_FONT, else DejaVu Sans Bold
 *     if (!font) { fprintf(stderr, "facemask: %s\n", err.msg); return 1; }
 *     fm_draw_annotation(img, font, 40, 60, 159, 179, "mask 0.98", FM_COLOR_MASK);
 *     fm_font_free(font);
 *
 * Every function draws clipped to the image and accepts any int coordinates (parts outside the
 * image are simply not drawn); a NULL image or text draws nothing, a NULL font draws a label's
 * background without its text. Only fm_font_open allocates here (FreeType keeps and grows one
 * glyph buffer per font).
 */
#ifndef FM_DRAW_H
#define FM_DRAW_H

#include "core/err.h"
#include "io/image.h"

/* ---- shapes ------------------------------------------------------------------------------ */

/* (x1, y1) and (x2, y2) are inclusive corners, in either order. fm_draw_rect's border lies
 * inside the corners, `thickness` pixels wide (< 1 draws 1); a border wider than half the box
 * fills it. */
void fm_draw_rect(fm_image *img, int x1, int y1, int x2, int y2, fm_color color, int thickness);
void fm_draw_fill(fm_image *img, int x1, int y1, int x2, int y2, fm_color color);
/* A filled disc of `radius` pixels (0: one pixel) centred on the pixel holding (x, y), e.g. a
 * face landmark; clipped like the rest (a point off the image draws what is inside, if any). */
void fm_draw_dot(fm_image *img, float x, float y, int radius, fm_color color);

/* ---- fonts --------------------------------------------------------------------------------- */

/* An open font: the file's bytes, a FreeType library and face, and a mutex. One handle may be
 * shared by any number of threads: each call below holds the handle's mutex while it uses
 * FreeType (FreeType's objects are not thread-safe), so concurrent calls take turns. */
typedef struct fm_font fm_font;

/* Where fm_font_open(NULL, ...) looks when FACEMASK_FONT is not set: Debian's (and Ubuntu's)
 * DejaVu Sans Bold, then Fedora's and Arch's. */
#define FM_FONT_DEFAULT_PATHS                                \
    {"/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", \
     "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf", \
     "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"}
/* Largest font file read (bytes); Noto CJK, among the largest, is about 20 MB. */
#define FM_FONT_MAX_BYTES (64u * 1024u * 1024u)

/* Opens the font file at `path`. With path NULL: the file named by the environment variable
 * FACEMASK_FONT when it is set and not empty (and no other), else the first of
 * FM_FONT_DEFAULT_PATHS that exists. There is no built-in fallback font: NULL with one line in
 * err when the file is missing or unreadable ("font /x.ttf: cannot open: No such file or
 * directory; install fonts-dejavu-core or set FACEMASK_FONT to a .ttf file"), when none of the
 * default paths exists (the message lists them), or when FreeType cannot use the file (not a
 * font, no Unicode character map, a bitmap-only font). Callers open the font before they read
 * any input, so a missing font stops a command at once instead of writing unlabelled output. */
fm_font *fm_font_open(const char *path, fm_err *err);
void fm_font_free(fm_font *font);
/* The file the font was read from. */
const char *fm_font_path(const fm_font *font);

/* ---- text ---------------------------------------------------------------------------------- */

/* Text sizes are pixels per em, clamped to [FM_TEXT_PX_MIN, FM_TEXT_PX_MAX]. In DejaVu Sans
 * (Bold) capitals and digits are 0.73 em tall, a line (ascender to descender) about 1.0 em. */
#define FM_TEXT_PX_MIN 6
#define FM_TEXT_PX_MAX 512

/* Extents of a text at a size, in pixels relative to its pen origin (the left end of the
 * baseline), y growing downward. */
typedef struct {
    int advance;          /* where the pen ends: the next text would start here */
    int ascent, descent;  /* the line: `ascent` rows above the baseline, `descent` below it,
                           * from the font's tallest and deepest ASCII glyphs (d, g, _, |, ...) and
                           * grown to hold this text's ink, so ASCII labels of one size are all
                           * equally tall */
    int ink_x0, ink_y0;   /* the pixels the glyphs cover: [ink_x0, ink_x1) x [ink_y0, ink_y1); */
    int ink_x1, ink_y1;   /* all four 0 for text without ink ("" or spaces) */
} fm_text_metrics;

/* Measures text (UTF-8) at px pixels per em. A NULL font or text gives all zeros. */
fm_text_metrics fm_text_measure(fm_font *font, const char *text, int px);

/* Draws text with its pen origin at (x, baseline), anti-aliased in `color` over what is there.
 * Pixels not covered by a glyph are not touched. */
void fm_draw_text(fm_image *img, fm_font *font, int x, int baseline, const char *text,
                  fm_color color, int px);

/* ---- labels -------------------------------------------------------------------------------- */

/* A label's background rectangle (inclusive corners) and its text's pen origin. */
typedef struct {
    int x1, y1, x2, y2; /* the filled background */
    int text_x, baseline;
} fm_label_box;

/* Where fm_draw_label puts `text` at px for an anchor (x, y) on an img_w x img_h image: a
 * background px/4 (at least 2) pixels wider than the text on each side and px/8 (at least 1)
 * taller above and below its line (fm_text_metrics), with its bottom-left corner at (x, y - 1),
 * so it sits on a box whose top-left corner is (x, y); at the top edge, where there is no room
 * above, its top-left corner is (x, y) instead (inside the box). It is moved left to stay within
 * the image's width when it fits, and never starts left of column 0. The text's ink always
 * lies inside the background. */
fm_label_box fm_label_place(fm_font *font, const char *text, int px, int x, int y, int img_w,
                            int img_h);

/* Draws that label: the background filled with bg, the text in fg on it. Returns its place. */
fm_label_box fm_draw_label(fm_image *img, fm_font *font, int x, int y, const char *text,
                           fm_color fg, fm_color bg, int px);

/* ---- the annotation style ------------------------------------------------------------------ */

/* Box and label colours by label class, the same in images, video and the window. Label text
 * is black on all three: the highest contrast on each (WCAG ratios 15, 5.3 and 19.6). */
#define FM_COLOR_MASK FM_RGB(0, 255, 0)      /* green */
#define FM_COLOR_NO_MASK FM_RGB(255, 0, 0)   /* red */
#define FM_COLOR_UNKNOWN FM_RGB(255, 255, 0) /* yellow: not classified (yet) */
#define FM_COLOR_LABEL_TEXT FM_RGB(0, 0, 0)

/* Sizes for a face box of box_h rows on an img_w x img_h image. With S = the image's shorter
 * side, the text is a third of the box's height, kept between max(12, S / 80) and
 * max(12, S / 30) pixels per em, then rounded down to a step (1 px below 24, 2 px below 48,
 * 4 px below 96, ...) so a box whose size wavers a little in video mostly keeps its text size:
 *   640x480: 12..16 px, a 1080p frame: 13..36 px, a 4000x3000 photo: 36..96 px.
 * Large faces get the image's size, faces in a crowd smaller text that covers fewer neighbours
 * and never less than 12 px. The box border is text_px / 8 pixels (at least 2). */
typedef struct {
    int text_px;   /* label text, pixels per em */
    int thickness; /* box border, pixels */
} fm_annot_style;
fm_annot_style fm_annot_style_for(int img_w, int img_h, int box_h);

/* The text size of a line across the top of a frame (watch's status bar): S / 36 (at least 12)
 * pixels per em, stepped like the labels. */
int fm_annot_bar_px(int img_w, int img_h);

/* A face: the box (inclusive corners x1 <= x2, y1 <= y2) in `color` with the border inside it,
 * and its label (text in FM_COLOR_LABEL_TEXT on `color`) on top of its top-left corner, sized by
 * fm_annot_style_for. text may be NULL (the box alone). */
void fm_draw_annotation(fm_image *img, fm_font *font, int x1, int y1, int x2, int y2,
                        const char *text, fm_color color);

#endif
