/* watch's event stream into the site history (src/site/sink.h): the real tracker and events
 * writer, with the history as a sink beside the file. The file is byte for byte what it is
 * without the sink; the database holds every line, in order, with its fields. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "site/sink.h"
#include "test.h"
#include "track/events.h"

#define START 1767268800.0 /* 2026-01-01 12:00 UTC: stream time 0 */

/* Two people for six frames: A (mask) and B (no_mask), a periodic summary, a reconnect, the end
 * of the stream with both leaving, the final summary and "end". Lines go to ev (and to ev2 too
 * when not NULL: the same calls, for a reference). Returns the number of lines. */
static int scenario(fm_events *ev, fm_events *ev2)
{
    fm_err err = {0};
    fm_tracker_params p = fm_tracker_defaults();
    p.min_hits = 2;
    p.min_votes = 2;
    fm_tracker *tr = fm_tracker_create(&p, &err);
    FM_CHECK_MSG(tr != NULL, "%s", err.msg);
    if (!tr)
        return 0;
    int lines = 0;
    fm_track_event te[16];
    int nte = 0;
    fm_track_counts c;
    fm_events *evs[2] = {ev, ev2};
    for (int i = 0; i <= 6; i++) {
        fm_det d[2] = {{{10, 20, 50, 70}, 0.9f, 0.95f, 0, {{0}}},
                       {{200, 20, 250, 80}, 0.8f, 0.05f, 0, {{0}}}};
        if (i < 6)
            FM_CHECK_INT(fm_tracker_update(tr, d, 2, i * 0.5, te, 16, &nte), FM_OK);
        else
            FM_CHECK_INT(fm_tracker_finish(tr, 3.0, te, 16, &nte), FM_OK);
        for (int w = 0; w < 2; w++)
            for (int k = 0; evs[w] && k < nte; k++)
                FM_CHECK_INT(fm_events_track(evs[w], &te[k], &err), FM_OK);
        lines += nte;
        if (i == 3) {
            fm_tracker_counts(tr, &c);
            for (int w = 0; w < 2; w++)
                if (evs[w]) {
                    FM_CHECK_INT(fm_events_summary(evs[w], 1.5, 4, &c, 2.0, 0, 4, 0, &err), FM_OK);
                    FM_CHECK_INT(fm_events_reconnect(evs[w], 1.6, 4, "rtsp://x", 1, "timeout",
                                                     &err),
                                 FM_OK);
                }
            lines += 2;
        }
    }
    fm_tracker_counts(tr, &c);
    for (int w = 0; w < 2; w++)
        if (evs[w]) {
            FM_CHECK_INT(fm_events_summary(evs[w], 3.0, 6, &c, 2.0, 0, 6, 1, &err), FM_OK);
            FM_CHECK_INT(fm_events_end(evs[w], 3.0, 6, "eof", &err), FM_OK);
        }
    fm_tracker_free(tr);
    return lines + 2;
}

static char *slurp(FILE *f)
{
    long n = ftell(f);
    char *s = malloc((size_t)(n > 0 ? n : 0) + 1);
    if (!s)
        return NULL;
    rewind(f);
    size_t got = fread(s, 1, (size_t)(n > 0 ? n : 0), f);
    s[got] = '\0';
    return s;
}

static void test_sink_stores_every_line(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/sink.db", fm_test_tmpdir());
    unlink(path);
    fm_err err = {0};
    fm_history *h = fm_history_open(path, FM_HISTORY_CREATE, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    FILE *with = tmpfile(), *without = tmpfile();
    fm_events *ev = fm_events_open(with, 1.0, &err), *ref = fm_events_open(without, 1.0, &err);
    FM_CHECK(ev && ref && with && without);
    if (!h || !ev || !ref || !with || !without)
        return;
    fm_site_sink s = {h, "door", START, 0, 0};
    fm_events_set_sink(ev, fm_site_sink_line, &s);
    int lines = scenario(ev, ref);
    fm_events_close(ev);
    fm_events_close(ref);
    FM_CHECK(lines >= 8); /* 2 appear, 2 leave, 2 summaries, reconnect, end at least */
    FM_CHECK_INT(s.stored, lines);
    FM_CHECK_INT(fm_history_count(h, "events", &err), lines);
    fm_history_close(h);

    /* the file is unchanged by the sink */
    char *a = slurp(with), *b = slurp(without);
    FM_CHECK(a && b && strcmp(a, b) == 0);
    /* row i is line i: payload, type, time, track, label */
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    FM_CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    FM_CHECK(sqlite3_prepare_v2(db, "SELECT camera, time, type, track, label, payload, sent "
                                    "FROM events ORDER BY id",
                                -1, &st, NULL) == SQLITE_OK);
    int row = 0, leaves = 0;
    for (const char *p = a; st && p && *p; row++) {
        size_t len = strcspn(p, "\n");
        FM_CHECK_MSG(sqlite3_step(st) == SQLITE_ROW, "row %d missing", row);
        const char *payload = (const char *)sqlite3_column_text(st, 5);
        FM_CHECK_MSG(payload && strlen(payload) == len && !strncmp(payload, p, len),
                     "row %d: %s\n line: %.*s", row, payload ? payload : "(null)", (int)len, p);
        FM_CHECK(!strcmp((const char *)sqlite3_column_text(st, 0), "door"));
        FM_CHECK_INT(sqlite3_column_int(st, 6), 0);
        /* "event":"TYPE","t":T from the line itself */
        char type[32] = "";
        double t = -1;
        FM_CHECK(sscanf(p, "{\"event\":\"%31[a-z_]\",\"t\":%lf", type, &t) == 2);
        FM_CHECK_MSG(!strcmp((const char *)sqlite3_column_text(st, 2), type), "row %d type %s",
                     row, type);
        FM_CHECK_NEAR(sqlite3_column_double(st, 1), START + t, 1e-6);
        int track_event = !strcmp(type, "appear") || !strcmp(type, "label") ||
                          !strcmp(type, "leave");
        if (track_event) {
            long long id = -1;
            char label[16] = "";
            const char *q = strstr(p, "\"track\":");
            FM_CHECK(q && sscanf(q, "\"track\":%lld,\"label\":\"%15[a-z_]\"", &id, label) == 2);
            FM_CHECK_INT(sqlite3_column_int64(st, 3), id);
            FM_CHECK(!strcmp((const char *)sqlite3_column_text(st, 4), label));
            leaves += !strcmp(type, "leave");
        } else {
            FM_CHECK(sqlite3_column_type(st, 3) == SQLITE_NULL);
            FM_CHECK(sqlite3_column_type(st, 4) == SQLITE_NULL);
        }
        p += len + (p[len] == '\n');
    }
    FM_CHECK_INT(row, lines);
    FM_CHECK(st && sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    /* the two leaves are the hour's people: A under mask, B under no_mask */
    FM_CHECK_INT(leaves, 2);
    FM_CHECK(sqlite3_prepare_v2(db, "SELECT people, masked, unmasked, hour FROM hourly", -1, &st,
                                NULL) == SQLITE_OK);
    FM_CHECK(st && sqlite3_step(st) == SQLITE_ROW);
    FM_CHECK_INT(sqlite3_column_int(st, 0), 2);
    FM_CHECK_INT(sqlite3_column_int(st, 1), 1);
    FM_CHECK_INT(sqlite3_column_int(st, 2), 1);
    FM_CHECK_INT(sqlite3_column_int64(st, 3), (long long)START);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(a);
    free(b);
    fclose(with);
    fclose(without);
}

/* A writer with only the sink, and a sink error that reaches the caller. */
static void test_sink_only_and_errors(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/sinkonly.db", fm_test_tmpdir());
    unlink(path);
    fm_err err = {0};
    fm_history *h = fm_history_open(path, FM_HISTORY_CREATE, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    if (!h)
        return;
    fm_site_sink s = {h, "hall", START, 0, 0};
    fm_events *ev = fm_events_open_sink(fm_site_sink_line, &s, 0, &err);
    FM_CHECK_MSG(ev != NULL, "%s", err.msg);
    if (!ev)
        return;
    int lines = scenario(ev, NULL);
    FM_CHECK_INT(s.stored, lines);
    FM_CHECK_INT(fm_history_count(h, "events", &err), lines);
    s.camera = NULL;
    FM_CHECK_INT(fm_events_end(ev, 4.0, 7, "eof", &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "site sink: NULL camera");
    s.camera = "hall";
    s.start = -1e12; /* a time the history refuses */
    FM_CHECK_INT(fm_events_end(ev, 4.0, 7, "eof", &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "expected Unix seconds");
    FM_CHECK_INT(fm_history_count(h, "events", &err), lines);
    fm_events_close(ev);
    FM_CHECK(fm_events_open_sink(NULL, NULL, 0, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "events: no sink");
    fm_history_close(h);
}

void suite_site_sink(void);
void suite_site_sink(void)
{
    FM_RUN(test_sink_stores_every_line);
    FM_RUN(test_sink_only_and_errors);
}
