/* events.c - JSON lines, built in a fixed buffer and written with one write(2) each. */
#include "track/events.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/json.h"

#define LINE_MAX_BYTES 16384 /* two strings of STR_MAX_BYTES, at most 6 bytes out per byte in */
#define STR_MAX_BYTES 1024 /* longer strings (source names, messages) are cut, with "..." */

struct fm_events {
    FILE *f; /* NULL: the sink only */
    fm_events_sink sink;
    void *sink_ctx;
    fm_events_line meta; /* the current line's type, t, frame, track, label for the sink */
    double period;
    double last_summary; /* NaN until the first summary or summary_due call */
    size_t len;
    int overflow;
    char line[LINE_MAX_BYTES];
};

fm_events *fm_events_open(FILE *f, double summary_period, fm_err *err)
{
    if (!f) {
        fm_err_set(err, FM_ERR_ARG, "events: no output stream");
        return NULL;
    }
    if (!(summary_period >= 0) || !isfinite(summary_period)) {
        fm_err_set(err, FM_ERR_ARG, "events: summary period %g s, expected >= 0",
                   summary_period);
        return NULL;
    }
    fm_events *ev = calloc(1, sizeof *ev);
    if (!ev) {
        fm_err_set(err, FM_ERR_NOMEM, "events: out of memory");
        return NULL;
    }
    ev->f = f;
    ev->period = summary_period;
    ev->last_summary = NAN;
    ev->len = 0;
    ev->overflow = 0;
    return ev;
}

fm_events *fm_events_open_sink(fm_events_sink fn, void *ctx, double summary_period,
                               fm_err *err)
{
    if (!fn) {
        fm_err_set(err, FM_ERR_ARG, "events: no sink");
        return NULL;
    }
    fm_events *ev = fm_events_open(stdout, summary_period, err);
    if (ev) {
        ev->f = NULL;
        fm_events_set_sink(ev, fn, ctx);
    }
    return ev;
}

void fm_events_set_sink(fm_events *ev, fm_events_sink fn, void *ctx)
{
    if (!ev)
        return;
    ev->sink = fn;
    ev->sink_ctx = fn ? ctx : NULL;
}

void fm_events_close(fm_events *ev)
{
    free(ev);
}

/* ---- line building ------------------------------------------------------------ */

static void put(fm_events *ev, const char *s, size_t n)
{
    if (ev->len + n >= sizeof ev->line) {
        ev->overflow = 1;
        return;
    }
    memcpy(ev->line + ev->len, s, n);
    ev->len += n;
}

static void puts_(fm_events *ev, const char *s)
{
    put(ev, s, strlen(s));
}

static void put_int(fm_events *ev, long long v)
{
    char b[32];
    int n = snprintf(b, sizeof b, "%lld", v);
    put(ev, b, (size_t)n);
}

/* v with `dec` decimals (0..6), independent of LC_NUMERIC; null when not finite. */
static void put_fixed(fm_events *ev, double v, int dec)
{
    static const long long pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    if (!isfinite(v) || fabs(v) >= 9e12) {
        puts_(ev, "null");
        return;
    }
    long long s = llround(v * (double)pow10[dec]);
    char b[48];
    int n;
    long long a = s < 0 ? -s : s;
    if (dec == 0)
        n = snprintf(b, sizeof b, "%s%lld", s < 0 ? "-" : "", a);
    else
        n = snprintf(b, sizeof b, "%s%lld.%0*lld", s < 0 ? "-" : "", a / pow10[dec], dec,
                     a % pow10[dec]);
    put(ev, b, (size_t)n);
}

static void put_sink(void *ctx, const char *s, size_t n)
{
    put(ctx, s, n);
}

/* A JSON string through the one escaper (core/json.h): valid UTF-8 out, cut at a character
 * boundary after STR_MAX_BYTES bytes of s, then "...". */
static void put_str(fm_events *ev, const char *s)
{
    fm_json_escape(put_sink, ev, s, STR_MAX_BYTES);
}

static void key(fm_events *ev, const char *k)
{
    put(ev, ",\"", 2);
    puts_(ev, k);
    put(ev, "\":", 2);
}

static void begin(fm_events *ev, const char *type, double t, long long frame)
{
    ev->len = 0;
    ev->overflow = 0;
    ev->meta = (fm_events_line){type, t, frame, 0, NULL, NULL, 0};
    puts_(ev, "{\"event\":");
    put_str(ev, type);
    key(ev, "t");
    put_fixed(ev, t, 3);
    key(ev, "frame");
    put_int(ev, frame);
}

static void put_prob(fm_events *ev, const char *k, double p)
{
    key(ev, k);
    if (p < 0)
        puts_(ev, "null");
    else
        put_fixed(ev, p, 3);
}

static void put_box(fm_events *ev, const char *k, const fm_box *b)
{
    key(ev, k);
    put(ev, "[", 1);
    put_fixed(ev, b->x1, 1);
    put(ev, ",", 1);
    put_fixed(ev, b->y1, 1);
    put(ev, ",", 1);
    put_fixed(ev, b->x2, 1);
    put(ev, ",", 1);
    put_fixed(ev, b->y2, 1);
    put(ev, "]", 1);
}

/* "landmarks":[[x,y],...] (1 decimal, pixels), only for a detector that gives them. */
static void put_landmarks(fm_events *ev, const fm_track_event *te)
{
    int n = te->nlandmarks > FM_DET_MAX_LANDMARKS ? FM_DET_MAX_LANDMARKS : te->nlandmarks;
    if (n <= 0)
        return;
    key(ev, "landmarks");
    put(ev, "[", 1);
    for (int k = 0; k < n; k++) {
        put(ev, k ? ",[" : "[", k ? 2 : 1);
        put_fixed(ev, te->landmarks[k][0], 1);
        put(ev, ",", 1);
        put_fixed(ev, te->landmarks[k][1], 1);
        put(ev, "]", 1);
    }
    put(ev, "]", 1);
}

/* The line with one write(2) (a loop only for a short write), so a reader or a crash never
 * sees half a line from us: when the disk fills in the middle of a line, the part written is
 * cut off again (regular files; a pipe takes lines up to PIPE_BUF whole). Anything the caller
 * left in the stdio buffer is flushed first, to keep the order. */
static fm_status write_line(fm_events *ev, fm_err *err)
{
    errno = 0;
    if (fflush(ev->f) != 0)
        return fm_err_set(err, FM_ERR_IO, "events: write failed: %s",
                          errno ? strerror(errno) : "stream error");
    int fd = fileno(ev->f);
    if (fd < 0)
        return fm_err_set(err, FM_ERR_IO, "events: the output stream has no file descriptor");
    off_t start = lseek(fd, 0, SEEK_CUR); /* -1 on a pipe or terminal */
    size_t done = 0;
    while (done < ev->len) {
        ssize_t n = write(fd, ev->line + done, ev->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : ENOSPC;
            if (done > 0 && start >= 0 && ftruncate(fd, start) == 0)
                lseek(fd, start, SEEK_SET);
            if (done > 0)
                return fm_err_set(err, FM_ERR_IO,
                                  "events: write failed: %s (after %zu of the line's %zu bytes, "
                                  "taken back)",
                                  strerror(e), done, ev->len);
            return fm_err_set(err, FM_ERR_IO, "events: write failed: %s", strerror(e));
        }
        done += (size_t)n;
    }
    return FM_OK;
}

static fm_status finish(fm_events *ev, fm_err *err)
{
    put(ev, "}\n", 2);
    if (ev->overflow) /* cannot happen with STR_MAX_BYTES strings; kept as a guard */
        return fm_err_set(err, FM_ERR_LIMIT, "events: line longer than %d bytes",
                          LINE_MAX_BYTES);
    if (ev->f) {
        fm_status st = write_line(ev, err);
        if (st != FM_OK)
            return st;
    }
    if (!ev->sink)
        return FM_OK;
    ev->line[ev->len - 1] = '\0'; /* the sink gets the object without its '\n' */
    ev->meta.json = ev->line;
    ev->meta.len = ev->len - 1;
    fm_status st = ev->sink(ev->sink_ctx, &ev->meta, err);
    ev->line[ev->len - 1] = '\n';
    return st;
}

/* ---- events -------------------------------------------------------------------- */

fm_status fm_events_track(fm_events *ev, const fm_track_event *te, fm_err *err)
{
    if (!ev || !te)
        return fm_err_set(err, FM_ERR_ARG, "events: NULL %s", ev ? "event" : "writer");
    const char *type = te->type == FM_TRACK_APPEAR  ? "appear"
                       : te->type == FM_TRACK_LABEL ? "label"
                       : te->type == FM_TRACK_LEAVE ? "leave"
                                                    : NULL;
    if (!type)
        return fm_err_set(err, FM_ERR_ARG, "events: unknown track event type %d", (int)te->type);
    begin(ev, type, te->t, te->frame);
    ev->meta.track = te->id;
    ev->meta.label = fm_label_str(te->label);
    key(ev, "track");
    put_int(ev, te->id);
    key(ev, "label");
    put_str(ev, fm_label_str(te->label));
    if (te->type == FM_TRACK_LEAVE) {
        put_prob(ev, "mean_mask_prob", te->mask_prob);
        put_box(ev, "max_box", &te->box);
        key(ev, "score");
        put_fixed(ev, te->score, 3);
        put_landmarks(ev, te);
        key(ev, "first_seen");
        put_fixed(ev, te->first_seen, 3);
        key(ev, "last_seen");
        put_fixed(ev, te->last_seen, 3);
        key(ev, "first_frame");
        put_int(ev, te->first_frame);
        key(ev, "last_frame");
        put_int(ev, te->last_frame);
    } else {
        if (te->type == FM_TRACK_LABEL) {
            key(ev, "prev_label");
            put_str(ev, fm_label_str(te->prev_label));
        }
        put_prob(ev, "mask_prob", te->mask_prob);
        put_box(ev, "box", &te->box);
        key(ev, "score");
        put_fixed(ev, te->score, 3);
        put_landmarks(ev, te);
        key(ev, "first_seen");
        put_fixed(ev, te->first_seen, 3);
    }
    key(ev, "frames");
    put_int(ev, te->frames);
    key(ev, "votes");
    put_int(ev, te->votes);
    return finish(ev, err);
}

int fm_events_summary_due(fm_events *ev, double t)
{
    if (!ev || !(ev->period > 0) || !isfinite(t))
        return 0;
    if (isnan(ev->last_summary)) {
        ev->last_summary = t;
        return 0;
    }
    return t - ev->last_summary >= ev->period;
}

fm_status fm_events_summary(fm_events *ev, double t, long long frame, const fm_track_counts *c,
                            double fps, long long skipped, long long decoded, int final,
                            fm_err *err)
{
    if (!ev || !c)
        return fm_err_set(err, FM_ERR_ARG, "events: NULL %s", ev ? "counts" : "writer");
    ev->last_summary = t;
    begin(ev, "summary", t, frame);
    key(ev, "final");
    puts_(ev, final ? "true" : "false");
    key(ev, "fps");
    put_fixed(ev, fps, 2);
    key(ev, "faces");
    put_int(ev, c->faces);
    key(ev, "people");
    put_int(ev, c->people);
    key(ev, "mask");
    put_int(ev, c->mask);
    key(ev, "no_mask");
    put_int(ev, c->no_mask);
    key(ev, "unknown");
    put_int(ev, c->unknown);
    key(ev, "active");
    put_int(ev, c->active);
    key(ev, "window_s");
    put_fixed(ev, c->window, 3);
    key(ev, "window_mask");
    put_int(ev, c->window_mask);
    key(ev, "window_no_mask");
    put_int(ev, c->window_no_mask);
    key(ev, "compliance");
    if (c->compliance < 0)
        puts_(ev, "null");
    else
        put_fixed(ev, c->compliance, 4);
    key(ev, "skipped");
    put_int(ev, skipped);
    key(ev, "decoded");
    put_int(ev, decoded);
    key(ev, "dropped_dets");
    put_int(ev, c->dropped_dets);
    key(ev, "dropped_events");
    put_int(ev, c->dropped_events);
    return finish(ev, err);
}

fm_status fm_events_reconnect(fm_events *ev, double t, long long frame, const char *source,
                              int attempt, const char *reason, fm_err *err)
{
    if (!ev)
        return fm_err_set(err, FM_ERR_ARG, "events: NULL writer");
    begin(ev, "reconnect", t, frame);
    key(ev, "source");
    put_str(ev, source ? source : "");
    key(ev, "attempt");
    put_int(ev, attempt);
    key(ev, "reason");
    put_str(ev, reason ? reason : "");
    return finish(ev, err);
}

fm_status fm_events_source_error(fm_events *ev, double t, long long frame, const char *source,
                                 const char *message, fm_err *err)
{
    if (!ev)
        return fm_err_set(err, FM_ERR_ARG, "events: NULL writer");
    begin(ev, "source_error", t, frame);
    key(ev, "source");
    put_str(ev, source ? source : "");
    key(ev, "message");
    put_str(ev, message ? message : "");
    return finish(ev, err);
}

static fm_status output_error(fm_events *ev, const char *type, double t, long long frame,
                              const char *file, const char *message, fm_err *err)
{
    if (!ev)
        return fm_err_set(err, FM_ERR_ARG, "events: NULL writer");
    begin(ev, type, t, frame);
    key(ev, "file");
    put_str(ev, file ? file : "");
    key(ev, "message");
    put_str(ev, message ? message : "");
    return finish(ev, err);
}

fm_status fm_events_record_error(fm_events *ev, double t, long long frame, const char *file,
                                 const char *message, fm_err *err)
{
    return output_error(ev, "record_error", t, frame, file, message, err);
}

fm_status fm_events_snapshot_error(fm_events *ev, double t, long long frame, const char *file,
                                   const char *message, fm_err *err)
{
    return output_error(ev, "snapshot_error", t, frame, file, message, err);
}

fm_status fm_events_end(fm_events *ev, double t, long long frame, const char *reason,
                        fm_err *err)
{
    if (!ev)
        return fm_err_set(err, FM_ERR_ARG, "events: NULL writer");
    begin(ev, "end", t, frame);
    key(ev, "reason");
    put_str(ev, reason ? reason : "");
    return finish(ev, err);
}
