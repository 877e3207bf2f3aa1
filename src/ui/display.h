/* display.h - a window showing frames (SDL2), for `facemask watch --show`.
 *
 * The frame is uploaded to a streaming texture and drawn scaled to the window, keeping its
 * aspect ratio (black bars fill the rest); the window can be resized. Keys q and Escape, or
 * closing the window, ask to quit.
 *
 *     fm_err err = {0};
 *     fm_display *d = fm_display_open("facemask", 1280, 720, &err);
 *     if (!d) { fprintf(stderr, "facemask: %s\n", err.msg); return 1; }
 *     while (next_frame(img)) {
 *         fm_overlay_tracks(img, vis, nvis);
 *         if (fm_display_show(d, img, &err) != FM_OK) break;
 *         if (fm_display_poll(d)) break;         // q, Escape or window closed
 *     }
 *     fm_display_close(d);
 *
 * One display at a time per process, used from one thread (SDL's rule for video). Needs a
 * graphical session ($DISPLAY or Wayland); fm_display_open fails with SDL's reason otherwise.
 * fm_display_show allocates only when the frame size changes (a new texture).
 */
#ifndef FM_DISPLAY_H
#define FM_DISPLAY_H

#include "core/err.h"
#include "io/image.h"

typedef struct fm_display fm_display;

/* Routes SDL's own log messages through facemask's log (core/log.h: "facemask: sdl: MSG", one
 * line, hidden by --quiet). fm_display_open does it; exposed for tests. */
void fm_display_route_log(void);

/* A window of w x h pixels (1..16384) titled `title`. NULL with SDL's message on failure. */
fm_display *fm_display_open(const char *title, int w, int h, fm_err *err);

/* Shows a BGR frame (any size up to 16384 x 16384) and presents it. FM_ERR_ARG for a bad image,
 * FM_ERR_IO with SDL's message when the texture cannot be made or updated. */
fm_status fm_display_show(fm_display *d, const fm_image *bgr, fm_err *err);

/* Handles pending window events; nonzero (and from then on always) once the user pressed q or
 * Escape or closed the window, or SDL_QUIT arrived. Call it once per frame. */
int fm_display_poll(fm_display *d);

/* Where the last frame was drawn in the window's drawable, in pixels (for tests and mouse
 * mapping). Any pointer may be NULL. */
void fm_display_frame_rect(const fm_display *d, int *x, int *y, int *w, int *h);

/* Closes the window and shuts SDL's video down. NULL is fine. */
void fm_display_close(fm_display *d);

#endif
