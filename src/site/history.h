/* history.h - the site's history in SQLite: every event, hourly summaries, snapshots.
 *
 *     fm_err err = {0};
 *     fm_history *h = fm_history_open("site.db", FM_HISTORY_CREATE, &err);
 *     if (!h) { fprintf(stderr, "facemask: %s\n", err.msg); return 1; }
 *     fm_history_event e = {"front-door", 1764700000.25, "leave", 7, "mask", "{...}"};
 *     long long id;
 *     if (fm_history_add_event(h, &e, &id, &err) != FM_OK) ...
 *     fm_history_close(h);
 *
 * The database is in WAL mode with synchronous=FULL: when fm_history_add_event returns FM_OK
 * the event is committed and fsync'd, so a `kill -9` (or a power cut) at any later moment
 * leaves a database that opens and holds it. Each event and its effect on the hourly summary
 * are one transaction.
 *
 * Tables (schema version FM_HISTORY_SCHEMA, in PRAGMA user_version):
 *   events    id (increasing, never reused), camera, time (Unix seconds, UTC), type ("appear",
 *             "label", "leave", "summary", ... as in docs/events.md), track (NULL when none),
 *             label (NULL when none), payload (the event's JSON object), sent (0 until MQTT
 *             delivery is acknowledged: fm_history_mark_sent)
 *   hourly    camera, hour (Unix seconds of the hour's start, UTC), people, masked, unmasked:
 *             each "leave" event counts one person under its label (the track's majority
 *             label, docs/events.md); compliance = masked / (masked + unmasked)
 *   snapshots id, camera, time, track, path (as given, relative to the snapshots folder)
 *
 * A handle is used by one thread at a time; open one per thread (SQLite serializes writers,
 * and a reader waits up to 5 s for a writer). Errors name the database file.
 */
#ifndef FM_HISTORY_H
#define FM_HISTORY_H

#include "core/err.h"

#define FM_HISTORY_SCHEMA 1

typedef struct fm_history fm_history;

enum {
    FM_HISTORY_CREATE = 1, /* create the file and the tables when missing */
    FM_HISTORY_EXISTING = 0 /* the file must exist and be a facemask history */
};

/* Opens (mode FM_HISTORY_CREATE or FM_HISTORY_EXISTING) the database at path. Errors:
 * "PATH: cannot open: ...", "PATH: not an SQLite database", "PATH: not a facemask history
 * (it has other tables)", "PATH: schema version N is newer than this facemask reads (1):
 * use a newer facemask", "PATH: no facemask history in this database". */
fm_history *fm_history_open(const char *path, int mode, fm_err *err);
void fm_history_close(fm_history *h);

typedef struct {
    const char *camera;  /* required */
    double time;         /* Unix seconds (UTC), finite and >= 0 */
    const char *type;    /* required: the event type */
    long long track;     /* track id, or 0 for none */
    const char *label;   /* "mask", "no_mask", "unknown", or NULL */
    const char *payload; /* the JSON object as written to the events log (required) */
} fm_history_event;

/* Inserts one event (and, for "leave", counts the person in its hour) durably. *id (may be
 * NULL) gets the event's id. */
fm_status fm_history_add_event(fm_history *h, const fm_history_event *e, long long *id,
                               fm_err *err);

/* Marks the event sent (its MQTT delivery acknowledged). An id that does not exist is
 * FM_ERR_ARG. */
fm_status fm_history_mark_sent(fm_history *h, long long id, fm_err *err);
/* The same for n ids in one transaction (one fsync for all: MQTT marks the acknowledgements
 * that arrived together at once). Ids that do not exist are skipped; *marked (may be NULL)
 * gets the number of rows marked. All or none: on an error no row is marked. */
fm_status fm_history_mark_sent_batch(fm_history *h, const long long *ids, int n, int *marked,
                                     fm_err *err);

/* One stored event, as fm_history_unsent gives it (strings valid while the callback runs). */
typedef struct {
    long long id;
    const char *camera;
    double time;
    const char *type;
    const char *payload;
} fm_history_row;

/* Calls fn for each event not yet marked sent with an id above `after`, oldest (lowest id)
 * first, at most `limit` of them (0: no limit): the order MQTT publishes them in. fn returns
 * non-zero to stop early (still FM_OK). */
fm_status fm_history_unsent(fm_history *h, long long after, int limit,
                            int (*fn)(void *ctx, const fm_history_row *row), void *ctx,
                            fm_err *err);

/* Indexes a snapshot file; *id (may be NULL) gets its id. */
fm_status fm_history_add_snapshot(fm_history *h, const char *camera, double time,
                                  long long track, const char *path, long long *id,
                                  fm_err *err);

/* Deletes events, hourly rows and snapshot rows older than `days` days before `now` (Unix
 * seconds): an hourly row goes when its whole hour is older. *deleted (may be NULL) gets the
 * number of rows deleted. The snapshot files themselves are the caller's. */
fm_status fm_history_prune(fm_history *h, double now, int days, long long *deleted,
                           fm_err *err);

/* One row of a daily report: a camera's people on one local day. */
typedef struct {
    char date[11];   /* "YYYY-MM-DD", local time */
    const char *camera;
    long long people, masked, unmasked;
    double compliance; /* masked / (masked + unmasked); -1 when both are 0 */
} fm_history_day;

/* Calls fn for each (day, camera) with people, in order of date then camera, for the local
 * days from `since` to `until` inclusive ("YYYY-MM-DD"; until NULL: no end), only `camera`
 * when it is not NULL. fn returns 0 to go on, non-zero to stop early (still FM_OK). The
 * row's strings live until fn returns. */
fm_status fm_history_daily(fm_history *h, const char *since, const char *until,
                           const char *camera,
                           int (*fn)(void *ctx, const fm_history_day *day), void *ctx,
                           fm_err *err);

/* Counts rows: table "events", "hourly" or "snapshots", or "unsent" (the events not yet marked
 * sent: /metrics); -1 on error. */
long long fm_history_count(fm_history *h, const char *table, fm_err *err);

/* --- Queries for the dashboard and the HTTP API (src/serve/http_api.c) --------------------- */

/* One stored event as fm_history_events gives it (strings valid while the callback runs). */
typedef struct {
    long long id;
    const char *camera;
    double time;         /* Unix seconds, UTC */
    const char *type;
    long long track;     /* 0 when none */
    const char *label;   /* NULL when none */
    const char *payload; /* the event's JSON object */
    int sent;            /* 1 once MQTT delivery was acknowledged */
} fm_history_event_row;

/* Calls fn for each event with since <= time < until (Unix seconds; NaN for no bound), only
 * `camera`'s and only of `type` when those are not NULL, newest first (time, then id,
 * descending), at most `limit` (1..1000000). fn returns non-zero to stop early (still FM_OK). */
fm_status fm_history_events(fm_history *h, const char *camera, const char *type, double since,
                            double until, int limit,
                            int (*fn)(void *ctx, const fm_history_event_row *row), void *ctx,
                            fm_err *err);

/* One hourly summary row. */
typedef struct {
    const char *camera;
    long long hour;      /* Unix seconds of the hour's start, UTC */
    long long people, masked, unmasked;
    double compliance;   /* masked / (masked + unmasked); -1 when both are 0 */
} fm_history_hour;

/* Calls fn for each hourly row whose hour starts in [since, until) (NaN: no bound), only
 * `camera`'s when not NULL, in order of hour then camera. fn returns non-zero to stop early. */
fm_status fm_history_hours(fm_history *h, const char *camera, double since, double until,
                           int (*fn)(void *ctx, const fm_history_hour *row), void *ctx,
                           fm_err *err);

/* One indexed snapshot. */
typedef struct {
    long long id;
    const char *camera;
    double time;
    long long track;     /* 0 when none */
    const char *path;    /* as indexed: relative to the camera's snapshots folder */
} fm_history_snapshot_row;

/* Calls fn for the newest `limit` (1..1000000) snapshots, only `camera`'s when not NULL,
 * newest first. */
fm_status fm_history_snapshots(fm_history *h, const char *camera, int limit,
                               int (*fn)(void *ctx, const fm_history_snapshot_row *row),
                               void *ctx, fm_err *err);

/* Looks up snapshot `id`: calls fn once with its row and returns FM_OK, or returns
 * FM_ERR_ARG ("PATH: no snapshot ID") when there is none. */
fm_status fm_history_snapshot(fm_history *h, long long id,
                              int (*fn)(void *ctx, const fm_history_snapshot_row *row),
                              void *ctx, fm_err *err);

#endif
