/* overlay.h - annotations drawn into a frame: tracked faces, a status bar, face pixelation.
 *
 * Everything draws into the caller's fm_image in place, clipped at its borders (boxes partly or
 * wholly outside the image are fine), and allocates nothing.
 *
 *     fm_track_info vis[64];
 *     int n = fm_tracker_tracks(tr, vis, 64, 0);     // confirmed faces matched this frame
 *     if (n > 64) n = 64;
 *     if (blur) fm_overlay_blur(img, vis, n);        // --blur: faces unrecognisable
 *     fm_overlay_tracks(img, vis, n);                // boxes + "ID 3 mask 0.97"
 *     fm_tracker_counts(tr, &counts);
 *     fm_overlay_status(img, fps, &counts);          // top bar: FPS, people, mask, compliance
 *
 * Colours by label: mask green (0, 255, 0), no_mask red (255, 0, 0), unknown yellow (255, 255, 0).
 * Sizes follow the image: boxes are 2 pixels wide and text at scale 1 below 720 rows, 3 pixels
 * and scale 2 from 720 rows up (fm_overlay_scale).
 */
#ifndef FM_OVERLAY_H
#define FM_OVERLAY_H

#include "io/image.h"
#include "track/tracker.h"

/* The box colour of a label. */
fm_color fm_overlay_color(fm_label label);

/* Text scale (1 or 2) and box thickness (2 or 3) for an image of h rows. */
void fm_overlay_scale(int h, int *text_scale, int *thickness);

/* Label text of a track: "ID 3 mask 0.97" (confidence in the shown label: mask_prob for mask,
 * 1 - mask_prob for no_mask), "ID 5 unknown" (mask_prob and its value when it has votes:
 * "ID 5 unknown 0.52"); no "ID n " prefix for a tentative track (id 0). Returns buf. */
char *fm_overlay_text(const fm_track_info *tr, char *buf, size_t size);

/* Each track's box in its label's colour, with its label text on the label colour above it
 * (below it at the top edge). */
void fm_overlay_tracks(fm_image *img, const fm_track_info *tracks, int n);

/* --landmarks: each track's landmarks (YuNet's eyes, nose, mouth corners; none for res10) as
 * small filled dots, one colour per point (fm_draw_landmarks), radius thickness + 1. */
void fm_overlay_landmarks(fm_image *img, const fm_track_info *tracks, int n);

/* A dark bar across the top with white text:
 * "FPS 29.8  people 12  mask 9  no_mask 2  compliance 82% (60s)"; people, mask and no_mask
 * are the run's totals, compliance is over the tracker's window ("--" when nobody in it has a
 * label). c may be NULL (FPS only). */
void fm_overlay_status(fm_image *img, double fps, const fm_track_counts *c);

/* Pixelates box (pixels; the pixels whose centres it covers, clipped to the image) in place:
 * cells x cells blocks over its longer side (square blocks), each filled with its mean colour.
 * cells < 1 is taken as 1. Pixels outside the box are not touched. */
void fm_overlay_pixelate(fm_image *img, fm_box box, int cells);

/* The --blur helper: every track's box pixelated with FM_OVERLAY_BLUR_CELLS cells, few enough
 * that a face cannot be recognised (about a face's eye distance per block). */
#define FM_OVERLAY_BLUR_CELLS 6
void fm_overlay_blur(fm_image *img, const fm_track_info *tracks, int n);

#endif
