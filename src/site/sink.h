/* sink.h - watch's event stream into the site history: an fm_events sink (track/events.h)
 * that stores every line the writer produces as an events row (site/history.h).
 *
 *     fm_site_sink s = {history, "front-door", fm_wall_now()};  // stream t = 0 is now
 *     fm_events_set_sink(ev, fm_site_sink_line, &s);             // or fm_events_open_sink
 *
 * Each row gets the camera, the time start + t (Unix seconds: stream time counts from the
 * start of the run, so for a live source it follows the wall clock), the line's type, track
 * and label, and the JSON object as the events log has it. "leave" lines also count the person
 * in the hourly summary. The row is committed before the writer returns, so an event
 * acknowledged by fm_events_* survives a kill -9. The writer's stream (a file, or none) is
 * unchanged by the sink.
 */
#ifndef FM_SITE_SINK_H
#define FM_SITE_SINK_H

#include "site/history.h"
#include "track/events.h"

typedef struct {
    fm_history *history; /* not owned */
    const char *camera;  /* not owned */
    double start;        /* Unix seconds of stream time 0 */
    long long stored;    /* rows stored so far */
    long long last_id;   /* the id of the last row stored */
} fm_site_sink;

/* The fm_events_sink: ctx is an fm_site_sink. */
fm_status fm_site_sink_line(void *ctx, const fm_events_line *line, fm_err *err);

#endif
