/* overlay.h - annotations drawn into a frame: tracked faces, a status bar, face pixelation.
 *
 * Everything draws into the caller's fm_image in place, clipped at its borders (boxes partly or
 * wholly outside the image are fine). Text is drawn with the caller's font (io/draw.h), in the
 * style detect's annotated copies use too (fm_draw_annotation): sizes follow the frame and the
 * box, labels are black text on the label colour. Nothing here allocates memory of its own.
 *
 *     fm_font *font = fm_font_open(NULL, &err);      // once, before the first frame
 *     fm_track_info vis[64];
 *     int n = fm_tracker_tracks(tr, vis, 64, 0);     // confirmed faces matched this frame
 *     if (n > 64) n = 64;
 *     if (blur) fm_overlay_blur(img, vis, n);        // --blur: faces unrecognisable
 *     fm_overlay_tracks(img, font, vis, n);          // boxes + "ID 3 mask 0.97"
 *     fm_tracker_counts(tr, &counts);
 *     fm_overlay_status(img, font, fps, &counts);    // top bar: FPS, people, mask, compliance
 *
 * Colours by label: mask green (0, 255, 0), no_mask red (255, 0, 0), unknown yellow (255, 255, 0)
 * (FM_COLOR_MASK, ... in io/draw.h).
 */
#ifndef FM_OVERLAY_H
#define FM_OVERLAY_H

#include "io/draw.h"
#include "io/image.h"
#include "track/tracker.h"

/* The box colour of a label. */
fm_color fm_overlay_color(fm_label label);

/* Label text of a track: "ID 3 mask 0.97" (confidence in the shown label: mask_prob for mask,
 * 1 - mask_prob for no_mask), "ID 5 unknown" (with votes, the way it leans:
 * "ID 5 unknown (mask 0.52)"); no "ID n " prefix for a tentative track (id 0). Returns buf. */
char *fm_overlay_text(const fm_track_info *tr, char *buf, size_t size);

/* Each track's box (the pixels whose centres it covers) in its label's colour, with its label
 * text on the label colour above it (inside it at the top edge): fm_draw_annotation. */
void fm_overlay_tracks(fm_image *img, fm_font *font, const fm_track_info *tracks, int n);

/* --landmarks: each track's landmarks (YuNet's eyes, nose, mouth corners; none for res10) as
 * small filled dots, one colour per point (fm_draw_landmarks), radius the box's border
 * (fm_annot_style_for) + 1. */
void fm_overlay_landmarks(fm_image *img, const fm_track_info *tracks, int n);

/* A dark bar across the top with white text:
 * "FPS 29.8  people 12  mask 9  no_mask 2  compliance 82% (60s)"; people, mask and no_mask
 * are the run's totals, compliance is over the tracker's window ("--" when nobody in it has a
 * label). c may be NULL (FPS only). The text is fm_annot_bar_px, smaller when the line would
 * not fit the frame's width. Returns the bar's height in rows. */
#define FM_OVERLAY_BAR_COLOR FM_RGB(24, 24, 24)
#define FM_OVERLAY_BAR_TEXT FM_RGB(255, 255, 255)
int fm_overlay_status(fm_image *img, fm_font *font, double fps, const fm_track_counts *c);

/* Pixelates box (pixels; the pixels whose centres it covers, clipped to the image) in place:
 * cells x cells blocks over its longer side (square blocks), each filled with its mean colour.
 * cells < 1 is taken as 1. Pixels outside the box are not touched. */
void fm_overlay_pixelate(fm_image *img, fm_box box, int cells);

/* The --blur helper: every track's box pixelated with FM_OVERLAY_BLUR_CELLS cells, few enough
 * that a face cannot be recognised (about a face's eye distance per block). */
#define FM_OVERLAY_BLUR_CELLS 6
void fm_overlay_blur(fm_image *img, const fm_track_info *tracks, int n);

#endif
