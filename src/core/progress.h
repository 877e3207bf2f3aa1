/* progress.h - the progress line on a terminal for long runs (train, and detect, classify and
 * eval over a folder).
 *
 *     fm_progress p;
 *     fm_progress_start(&p, "detect", "images", n, quiet);
 *     for (long i = 0; i < n; i++) {
 *         work(i);
 *         fm_progress_update(&p, i + 1);
 *     }
 *     fm_progress_end(&p);
 *
 * It is drawn on standard error only when standard error is a terminal and `quiet` is 0, as one
 * line rewritten in place:
 *
 *     detect  [############..................]  42%  120/284  35.2 images/s  00:03, ETA 00:04
 *
 * (the count, the rate since the start, the time elapsed and the time left at that rate). It is
 * redrawn at most every 100 ms, and at the last item. While it is shown, fm_log's messages
 * (core/log.h) erase it before printing, so a message never ends up glued to it; the next
 * update draws it again. fm_progress_end erases it: what the command prints afterwards starts
 * on a clean line.
 *
 * One progress line at a time, updated from one thread at a time (call it under the caller's
 * lock when workers report).
 */
#ifndef FM_PROGRESS_H
#define FM_PROGRESS_H

typedef struct {
    char what[64];    /* the label at the start of the line */
    char unit[24];    /* what is counted, for the rate ("images", "steps") */
    long total, done;
    double t0_ms, last_ms; /* start, last draw (monotonic ms) */
    int on;                /* drawing (a terminal, not quiet, total > 0) */
    int shown;             /* the line is on the terminal now */
} fm_progress;

void fm_progress_start(fm_progress *p, const char *what, const char *unit, long total, int quiet);
/* `done` items of `total` are finished. */
void fm_progress_update(fm_progress *p, long done);
/* Changes the label (a new phase of the same run) without resetting the clock. */
void fm_progress_label(fm_progress *p, const char *what);
/* Erases the line for now (before printing on a terminal's standard output); the next update
 * draws it again. */
void fm_progress_clear(fm_progress *p);
/* Erases the line (if it was drawn). */
void fm_progress_end(fm_progress *p);

/* Formats the line for `done` of `total` after `elapsed_s` seconds into buf (no "\r"), as
 * drawn; for tests. */
void fm_progress_format(const char *what, const char *unit, long done, long total,
                        double elapsed_s, char *buf, unsigned size);

#endif
