/* events.h - the `watch` log: one JSON object per line, for files, pipes and log shippers.
 *
 * Track events come from the tracker; summaries (periodic and final) from its counts plus what
 * the caller measures (processing fps, frames the source skipped); source trouble and the end of
 * the stream from the caller. The schema, with every field and unit, is docs/events.md.
 *
 *     fm_err err = {0};
 *     fm_events *log = fm_events_open(stdout, 10.0, &err);     // a summary every 10 s of t
 *     ...per frame, after fm_tracker_update:
 *     for (int i = 0; i < nev; i++) fm_events_track(log, &ev[i], &err);
 *     if (fm_events_summary_due(log, t)) {
 *         fm_tracker_counts(tr, &c);
 *         fm_events_summary(log, t, frame, &c, fps, skipped, 0, &err);
 *     }
 *     ...at the end:
 *     fm_tracker_finish(tr, t, ev, 64, &nev);                  // LEAVE for everyone still here
 *     for (int i = 0; i < nev; i++) fm_events_track(log, &ev[i], &err);
 *     fm_tracker_counts(tr, &c);
 *     fm_events_summary(log, t, frame, &c, fps, skipped, decoded, 1, &err); // final summary
 *     fm_events_end(log, t, frame, "eof", &err);
 *     fm_events_close(log);                                     // does not fclose stdout
 *
 * Every line is written with one write(2) on the stream's file descriptor (after flushing what
 * the stream held), so `tail -f` and a crash lose nothing already reported, and no line is ever
 * left half written: a line cut short by a full disk is taken back (regular files).
 * Numbers are printed with a fixed number of decimals independent of the C locale; a value
 * that is not known (a probability before any classification, compliance with nobody in the
 * window, a non-finite number) is null. Strings go through the one escaper (core/json.h):
 * every line is valid UTF-8 JSON, an ill-formed UTF-8 sequence becomes U+FFFD, and a string
 * longer than 1024 bytes is cut before the first character that would cross that, then "...".
 * Functions return FM_OK or FM_ERR_IO ("events: write failed: ...") when the stream fails, and
 * FM_ERR_ARG for NULL arguments.
 */
#ifndef FM_EVENTS_H
#define FM_EVENTS_H

#include <stdio.h>

#include "core/err.h"
#include "track/tracker.h"

typedef struct fm_events fm_events;

/* Writes to f (not owned: fm_events_close does not close it). summary_period: seconds of t
 * between periodic summaries (fm_events_summary_due); > 0, or 0 for no periodic summaries. */
fm_events *fm_events_open(FILE *f, double summary_period, fm_err *err);
void fm_events_close(fm_events *ev);

/* A second destination for every line, besides the stream (issue 9: serve stores the events in
 * its history): after a line was written to f (or at once when f is NULL), fn gets it with
 * the fields a store indexes. `json` is the whole object without its '\n' (valid while fn
 * runs); track is 0 and label NULL for lines that have none. An error fn returns is the
 * writer's error for that line (the stream already has it). */
typedef struct {
    const char *type; /* "appear", "label", "leave", "summary", "reconnect", ... "end" */
    double t;         /* stream seconds, as in the line */
    long long frame;
    long long track;   /* track events: the id; else 0 */
    const char *label; /* track events: "mask", "no_mask" or "unknown"; else NULL */
    const char *json;
    size_t len;
} fm_events_line;
typedef fm_status (*fm_events_sink)(void *ctx, const fm_events_line *line, fm_err *err);

/* A writer with no stream, only the sink fn (not NULL). */
fm_events *fm_events_open_sink(fm_events_sink fn, void *ctx, double summary_period,
                               fm_err *err);
/* Adds (or with fn NULL removes) the sink of a writer opened on a stream. */
void fm_events_set_sink(fm_events *ev, fm_events_sink fn, void *ctx);

/* One tracker event: "appear", "label" or "leave". */
fm_status fm_events_track(fm_events *ev, const fm_track_event *te, fm_err *err);

/* 1 when a periodic summary is due at t: summary_period seconds after the last summary (or
 * after the first time this was asked); 0 otherwise or with no period. */
int fm_events_summary_due(fm_events *ev, double t);

/* A "summary" line. frame: frames processed so far; fps: frames processed per second of wall
 * time (measured by the caller); skipped: frames the source dropped or the loop skipped;
 * decoded: frames read from the source (in the final summary, frame + skipped == decoded);
 * final: 1 for the last summary of the run. */
fm_status fm_events_summary(fm_events *ev, double t, long long frame, const fm_track_counts *c,
                            double fps, long long skipped, long long decoded, int final,
                            fm_err *err);

/* "reconnect": the source is being reopened (attempt 1, 2, ...) because of `reason`. */
fm_status fm_events_reconnect(fm_events *ev, double t, long long frame, const char *source,
                              int attempt, const char *reason, fm_err *err);
/* "source_error": reading the source failed with `message`. */
fm_status fm_events_source_error(fm_events *ev, double t, long long frame, const char *source,
                                 const char *message, fm_err *err);
/* "record_error": writing the recording `file` failed with `message`; recording stopped. */
fm_status fm_events_record_error(fm_events *ev, double t, long long frame, const char *file,
                                 const char *message, fm_err *err);
/* "snapshot_error": saving a snapshot into `file` failed with `message`; snapshots stopped. */
fm_status fm_events_snapshot_error(fm_events *ev, double t, long long frame, const char *file,
                                   const char *message, fm_err *err);
/* "end": the run is over, `reason` e.g. "eof", "quit", "signal", "error". */
fm_status fm_events_end(fm_events *ev, double t, long long frame, const char *reason,
                        fm_err *err);

#endif
