/* The history queries the HTTP API uses (src/site/history.h, end): events by camera and time
 * window, hourly rows, the snapshot list and one snapshot by id, with exact rows. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "site/history.h"
#include "test.h"

typedef struct {
    char line[32][200];
    int n, stop_after;
} rows;

static int see_event(void *ctx, const fm_history_event_row *r)
{
    rows *s = ctx;
    if (s->n < 32)
        snprintf(s->line[s->n++], 200, "%lld|%s|%.2f|%s|%lld|%s|%d|%s", r->id, r->camera, r->time,
                 r->type, r->track, r->label ? r->label : "-", r->sent, r->payload);
    return s->stop_after && s->n >= s->stop_after;
}

static int see_hour(void *ctx, const fm_history_hour *r)
{
    rows *s = ctx;
    if (s->n < 32)
        snprintf(s->line[s->n++], 200, "%s|%lld|%lld|%lld|%lld|%.4f", r->camera, r->hour,
                 r->people, r->masked, r->unmasked, r->compliance);
    return 0;
}

static int see_snap(void *ctx, const fm_history_snapshot_row *r)
{
    rows *s = ctx;
    if (s->n < 32)
        snprintf(s->line[s->n++], 200, "%lld|%s|%.1f|%lld|%s", r->id, r->camera, r->time,
                 r->track, r->path);
    return 0;
}

static void add(fm_history *h, const char *cam, double t, const char *type, long long track,
                const char *label)
{
    char payload[128];
    snprintf(payload, sizeof payload, "{\"event\":\"%s\"}", type);
    fm_history_event e = {cam, t, type, track, label, payload};
    fm_err err = {0};
    FM_CHECK_MSG(fm_history_add_event(h, &e, NULL, &err) == FM_OK, "%s", err.msg);
}

static void test_history_query_events(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/query.db", fm_test_tmpdir());
    unlink(path);
    fm_err err = {0};
    fm_history *h = fm_history_open(path, FM_HISTORY_CREATE, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    if (!h)
        return;
    const double t0 = 1767268800.0; /* 2026-01-01 12:00 UTC */
    add(h, "door", t0 + 1, "appear", 1, NULL);         /* id 1 */
    add(h, "door", t0 + 10, "leave", 1, "mask");       /* id 2 */
    add(h, "hall", t0 + 10, "leave", 5, "no_mask");    /* id 3 */
    add(h, "door", t0 + 3700, "leave", 2, "no_mask");  /* id 4, next hour */
    FM_CHECK_INT(fm_history_mark_sent(h, 2, &err), FM_OK);

    rows r = {0};
    FM_CHECK_INT(fm_history_events(h, NULL, NULL, NAN, NAN, 100, see_event, &r, &err), FM_OK);
    FM_CHECK_INT(r.n, 4);
    FM_CHECK(!strcmp(r.line[0], "4|door|1767272500.00|leave|2|no_mask|0|{\"event\":\"leave\"}"));
    FM_CHECK(!strcmp(r.line[1], "3|hall|1767268810.00|leave|5|no_mask|0|{\"event\":\"leave\"}"));
    FM_CHECK(!strcmp(r.line[2], "2|door|1767268810.00|leave|1|mask|1|{\"event\":\"leave\"}"));
    FM_CHECK(!strcmp(r.line[3], "1|door|1767268801.00|appear|1|-|0|{\"event\":\"appear\"}"));

    /* camera, [since, until), limit, early stop */
    memset(&r, 0, sizeof r);
    FM_CHECK_INT(fm_history_events(h, "door", NULL, t0 + 1, t0 + 3700, 100, see_event, &r, &err),
                 FM_OK);
    FM_CHECK_INT(r.n, 2);
    FM_CHECK(r.line[0][0] == '2' && r.line[1][0] == '1');
    memset(&r, 0, sizeof r);
    FM_CHECK_INT(fm_history_events(h, NULL, NULL, NAN, NAN, 2, see_event, &r, &err), FM_OK);
    FM_CHECK_INT(r.n, 2);
    memset(&r, 0, sizeof r);
    r.stop_after = 1;
    FM_CHECK_INT(fm_history_events(h, NULL, NULL, NAN, NAN, 10, see_event, &r, &err), FM_OK);
    FM_CHECK_INT(r.n, 1);
    memset(&r, 0, sizeof r);
    FM_CHECK_INT(fm_history_events(h, "nobody", NULL, NAN, NAN, 10, see_event, &r, &err), FM_OK);
    FM_CHECK_INT(r.n, 0);
    memset(&r, 0, sizeof r);
    FM_CHECK_INT(fm_history_events(h, NULL, "appear", NAN, NAN, 10, see_event, &r, &err), FM_OK);
    FM_CHECK_INT(r.n, 1);
    FM_CHECK(r.line[0][0] == '1');
    FM_CHECK_INT(fm_history_events(h, NULL, NULL, NAN, NAN, 0, see_event, &r, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "query.db: limit 0, expected 1 to 1000000");

    /* hourly rows */
    memset(&r, 0, sizeof r);
    FM_CHECK_INT(fm_history_hours(h, NULL, NAN, NAN, see_hour, &r, &err), FM_OK);
    FM_CHECK_INT(r.n, 3);
    FM_CHECK(!strcmp(r.line[0], "door|1767268800|1|1|0|1.0000"));
    FM_CHECK(!strcmp(r.line[1], "hall|1767268800|1|0|1|0.0000"));
    FM_CHECK(!strcmp(r.line[2], "door|1767272400|1|0|1|0.0000"));
    memset(&r, 0, sizeof r);
    FM_CHECK_INT(fm_history_hours(h, "door", t0 + 3600, NAN, see_hour, &r, &err), FM_OK);
    FM_CHECK_INT(r.n, 1);
    FM_CHECK(!strcmp(r.line[0], "door|1767272400|1|0|1|0.0000"));

    /* snapshots */
    FM_CHECK_INT(fm_history_add_snapshot(h, "door", t0 + 10, 1, "a.jpg", NULL, &err), FM_OK);
    FM_CHECK_INT(fm_history_add_snapshot(h, "hall", t0 + 20, 5, "sub/b.jpg", NULL, &err), FM_OK);
    FM_CHECK_INT(fm_history_add_snapshot(h, "door", t0 + 30, 0, "c.jpg", NULL, &err), FM_OK);
    memset(&r, 0, sizeof r);
    FM_CHECK_INT(fm_history_snapshots(h, NULL, 2, see_snap, &r, &err), FM_OK);
    FM_CHECK_INT(r.n, 2);
    FM_CHECK(!strcmp(r.line[0], "3|door|1767268830.0|0|c.jpg"));
    FM_CHECK(!strcmp(r.line[1], "2|hall|1767268820.0|5|sub/b.jpg"));
    memset(&r, 0, sizeof r);
    FM_CHECK_INT(fm_history_snapshots(h, "door", 10, see_snap, &r, &err), FM_OK);
    FM_CHECK_INT(r.n, 2);
    memset(&r, 0, sizeof r);
    FM_CHECK_INT(fm_history_snapshot(h, 2, see_snap, &r, &err), FM_OK);
    FM_CHECK_INT(r.n, 1);
    FM_CHECK(!strcmp(r.line[0], "2|hall|1767268820.0|5|sub/b.jpg"));
    FM_CHECK_INT(fm_history_snapshot(h, 99, see_snap, &r, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "query.db: no snapshot 99");
    fm_history_close(h);
}

void suite_site_history_query(void);
void suite_site_history_query(void)
{
    FM_RUN(test_history_query_events);
}
