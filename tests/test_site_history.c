/* The site history in SQLite (src/site/history.h): events and hourly summaries, snapshots,
 * retention, schema versions, and durability under kill -9. */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "site/history.h"
#include "test.h"

static void db_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", fm_test_tmpdir(), name);
    unlink(buf);
}

/* One integer from SQL run on the file directly (not through fm_history). */
static long long sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        fm_test_fail(__FILE__, __LINE__, "%s: %s", sql, db ? sqlite3_errmsg(db) : "no db");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static const char *sql_text(const char *path, const char *sql, char *out, size_t size)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fm_test_fail(__FILE__, __LINE__, "%s: %s", sql, db ? sqlite3_errmsg(db) : "no db");
    sqlite3_close(db);
}

static fm_status add(fm_history *h, const char *cam, double t, const char *type, long long track,
                     const char *label, long long *id)
{
    char payload[200];
    snprintf(payload, sizeof payload, "{\"event\":\"%s\",\"track\":%lld,\"label\":\"%s\"}", type,
             track, label ? label : "");
    fm_history_event e = {cam, t, type, track, label, payload};
    fm_err err = {0};
    fm_status s = fm_history_add_event(h, &e, id, &err);
    FM_CHECK_MSG(s == FM_OK, "%s", err.msg);
    return s;
}

/* Events land with every column; "leave" events fill the hourly summary of their hour. */
static void test_history_events_hourly(void)
{
    char path[1024];
    db_path(path, sizeof path, "events.db");
    fm_err err = {0};
    fm_history *h = fm_history_open(path, FM_HISTORY_CREATE, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    if (!h)
        return;
    const double t0 = 1767268800.0; /* 2026-01-01 12:00:00 UTC */
    long long id1 = 0, id2 = 0;
    add(h, "door", t0 + 1.5, "appear", 1, "unknown", &id1);
    add(h, "door", t0 + 10, "leave", 1, "mask", &id2);
    add(h, "door", t0 + 20, "leave", 2, "no_mask", NULL);
    add(h, "door", t0 + 3599, "leave", 3, "unknown", NULL);
    add(h, "door", t0 + 3600, "leave", 4, "mask", NULL); /* the next hour */
    add(h, "hall", t0 + 5, "leave", 1, "mask", NULL);
    add(h, "hall", t0 + 6, "summary", 0, NULL, NULL);
    FM_CHECK(id1 > 0 && id2 == id1 + 1);
    FM_CHECK_INT(fm_history_count(h, "events", &err), 7);
    FM_CHECK_INT(fm_history_count(h, "hourly", &err), 3);
    fm_history_close(h);

    char buf[256];
    FM_CHECK_STR_CONTAINS(sql_text(path, "PRAGMA journal_mode", buf, sizeof buf), "wal");
    FM_CHECK_INT(sql_int(path, "PRAGMA user_version"), FM_HISTORY_SCHEMA);
    FM_CHECK_INT(sql_int(path, "SELECT people FROM hourly WHERE camera='door' AND "
                               "hour=1767268800"),
                 3);
    FM_CHECK_INT(sql_int(path, "SELECT masked FROM hourly WHERE camera='door' AND "
                               "hour=1767268800"),
                 1);
    FM_CHECK_INT(sql_int(path, "SELECT unmasked FROM hourly WHERE camera='door' AND "
                               "hour=1767268800"),
                 1);
    FM_CHECK_INT(sql_int(path, "SELECT people FROM hourly WHERE camera='door' AND "
                               "hour=1767272400"),
                 1);
    FM_CHECK_INT(sql_int(path, "SELECT masked FROM hourly WHERE camera='hall'"), 1);
    FM_CHECK_INT(sql_int(path, "SELECT count(*) FROM events WHERE track IS NULL AND label IS "
                               "NULL AND type='summary'"),
                 1);
    FM_CHECK_STR_CONTAINS(sql_text(path, "SELECT camera||'|'||time||'|'||type||'|'||track||'|'||"
                                         "label||'|'||sent||'|'||payload FROM events ORDER BY id "
                                         "LIMIT 1",
                                   buf, sizeof buf),
                          "door|1767268801.5|appear|1|unknown|0|{\"event\":\"appear\","
                          "\"track\":1,\"label\":\"unknown\"}");

    /* sent flags, snapshots */
    h = fm_history_open(path, FM_HISTORY_EXISTING, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    if (!h)
        return;
    FM_CHECK_INT(fm_history_mark_sent(h, id2, &err), FM_OK);
    FM_CHECK_INT(fm_history_mark_sent(h, 999, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "events.db: no event 999 to mark sent");
    long long sid = 0;
    FM_CHECK_INT(fm_history_add_snapshot(h, "door", t0 + 11, 2, "door/000002.jpg", &sid, &err),
                 FM_OK);
    FM_CHECK(sid == 1);
    fm_history_event bad = {"door", -1, "leave", 1, "mask", "{}"};
    FM_CHECK_INT(fm_history_add_event(h, &bad, NULL, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "event time -1, expected Unix seconds");
    fm_history_close(h);
    FM_CHECK_INT(sql_int(path, "SELECT group_concat(id) FROM events WHERE sent=1"), id2);
    FM_CHECK_STR_CONTAINS(sql_text(path, "SELECT camera||'|'||time||'|'||track||'|'||path FROM "
                                         "snapshots",
                                   buf, sizeof buf),
                          "door|1767268811.0|2|door/000002.jpg");
}

typedef struct {
    long long ids[16];
    int n, stop_after;
} seen_rows;

static int see(void *ctx, const fm_history_row *r)
{
    seen_rows *s = ctx;
    if (s->n < 16)
        s->ids[s->n++] = r->id;
    FM_CHECK(r->camera && !strcmp(r->camera, "cam"));
    FM_CHECK(r->payload && strstr(r->payload, "\"event\":\"leave\""));
    return s->stop_after && s->n >= s->stop_after;
}

/* Unsent events come oldest first, skipping the ones marked sent. */
static void test_history_unsent(void)
{
    char path[1024];
    db_path(path, sizeof path, "unsent.db");
    fm_err err = {0};
    fm_history *h = fm_history_open(path, FM_HISTORY_CREATE, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    if (!h)
        return;
    long long id[5];
    for (int i = 0; i < 5; i++)
        add(h, "cam", 1767268800.0 + i, "leave", i + 1, "mask", &id[i]);
    FM_CHECK_INT(fm_history_mark_sent(h, id[1], &err), FM_OK);
    FM_CHECK_INT(fm_history_mark_sent(h, id[3], &err), FM_OK);
    FM_CHECK_INT(fm_history_count(h, "unsent", &err), 3);
    FM_CHECK_INT(fm_history_count(h, "events", &err), 5);
    seen_rows s = {{0}, 0, 0};
    FM_CHECK_INT(fm_history_unsent(h, 0, 0, see, &s, &err), FM_OK);
    FM_CHECK_INT(s.n, 3);
    FM_CHECK(s.ids[0] == id[0] && s.ids[1] == id[2] && s.ids[2] == id[4]);
    s = (seen_rows){{0}, 0, 0};
    FM_CHECK_INT(fm_history_unsent(h, id[2], 0, see, &s, &err), FM_OK);
    FM_CHECK_INT(s.n, 1);
    FM_CHECK(s.ids[0] == id[4]);
    s = (seen_rows){{0}, 0, 0};
    FM_CHECK_INT(fm_history_unsent(h, 0, 2, see, &s, &err), FM_OK);
    FM_CHECK_INT(s.n, 2);
    s = (seen_rows){{0}, 0, 1};
    FM_CHECK_INT(fm_history_unsent(h, 0, 0, see, &s, &err), FM_OK);
    FM_CHECK_INT(s.n, 1);
    fm_history_close(h);
}

/* Retention: rows older than the cut go, newer stay; an hour goes only when all of it is old. */
static void test_history_retention(void)
{
    char path[1024];
    db_path(path, sizeof path, "prune.db");
    fm_err err = {0};
    fm_history *h = fm_history_open(path, FM_HISTORY_CREATE, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    if (!h)
        return;
    const double now = 1767268800.0 + 10 * 86400.0 + 1800.0; /* 2026-01-11 12:30 UTC */
    add(h, "a", now - 3 * 86400.0 - 1, "leave", 1, "mask", NULL);    /* old */
    add(h, "a", now - 3 * 86400.0 - 1000, "leave", 2, "mask", NULL); /* old, same hour */
    add(h, "a", now - 3 * 86400.0 + 1, "leave", 3, "mask", NULL);    /* kept */
    add(h, "a", now - 3 * 86400.0 - 7200, "leave", 4, "mask", NULL); /* old, older hour */
    add(h, "a", now, "appear", 5, "unknown", NULL);                  /* kept */
    FM_CHECK_INT(fm_history_add_snapshot(h, "a", now - 4 * 86400.0, 1, "x.jpg", NULL, &err),
                 FM_OK);
    FM_CHECK_INT(fm_history_add_snapshot(h, "a", now - 86400.0, 3, "y.jpg", NULL, &err), FM_OK);
    long long deleted = -1;
    FM_CHECK_INT(fm_history_prune(h, now, 3, &deleted, &err), FM_OK);
    /* events 1, 2, 4; the hour 10:00-11:00 (event 4); one snapshot. The hour 12:00-13:00 of
     * three days ago holds events 1-3 and ends after the cut: kept. */
    FM_CHECK_INT(deleted, 3 + 1 + 1);
    FM_CHECK_INT(fm_history_count(h, "events", &err), 2);
    FM_CHECK_INT(fm_history_count(h, "hourly", &err), 1);
    FM_CHECK_INT(fm_history_count(h, "snapshots", &err), 1);
    FM_CHECK_INT(fm_history_prune(h, now, 0, NULL, &err), FM_ERR_ARG);
    fm_history_close(h);
    FM_CHECK_INT(sql_int(path, "SELECT min(track) FROM events"), 3);
}

static void test_history_open_errors(void)
{
    char path[1024];
    fm_err err = {0};
    db_path(path, sizeof path, "missing.db");
    FM_CHECK(fm_history_open(path, FM_HISTORY_EXISTING, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "missing.db: cannot open: no such database file");
    FM_CHECK(access(path, F_OK) != 0); /* not created */

    db_path(path, sizeof path, "text.db");
    fm_test_write_text(path, "this is not a database, it is a text file of some length.......\n");
    FM_CHECK(fm_history_open(path, FM_HISTORY_CREATE, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "text.db: not an SQLite database");

    db_path(path, sizeof path, "other.db");
    sql_exec(path, "CREATE TABLE people (name TEXT)");
    FM_CHECK(fm_history_open(path, FM_HISTORY_CREATE, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "other.db: not a facemask history (it has other tables)");

    db_path(path, sizeof path, "empty.db");
    sql_exec(path, "PRAGMA user_version = 0");
    FM_CHECK(fm_history_open(path, FM_HISTORY_EXISTING, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "empty.db: no facemask history in this database");

    db_path(path, sizeof path, "newer.db");
    fm_history *h = fm_history_open(path, FM_HISTORY_CREATE, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    fm_history_close(h);
    sql_exec(path, "PRAGMA user_version = 7");
    FM_CHECK(fm_history_open(path, FM_HISTORY_CREATE, &err) == NULL);
    FM_CHECK_INT(err.status, FM_ERR_FORMAT);
    FM_CHECK_STR_CONTAINS(err.msg, "newer.db: schema version 7 is newer than this facemask "
                                   "reads (1): use a newer facemask");
}

/* The child: inserts "leave" events until killed, reporting each id once the insert
 * returned. Never returns. */
static void insert_forever(const char *path, int fd)
{
    fm_err err = {0};
    fm_history *h = fm_history_open(path, FM_HISTORY_CREATE, &err);
    if (!h) {
        fprintf(stderr, "child: %s\n", err.msg);
        _exit(3);
    }
    for (long long i = 0;; i++) {
        char payload[96];
        snprintf(payload, sizeof payload, "{\"event\":\"leave\",\"n\":%lld}", i);
        fm_history_event e = {"cam", 1767268800.0 + (double)i, "leave", i + 1,
                              i % 3 ? "mask" : "no_mask", payload};
        long long id;
        if (fm_history_add_event(h, &e, &id, &err) != FM_OK) {
            fprintf(stderr, "child: %s\n", err.msg);
            _exit(4);
        }
        if (write(fd, &id, sizeof id) != (ssize_t)sizeof id)
            _exit(5);
    }
}

static int push(long long **v, size_t *n, size_t *cap, long long x)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 1024;
        long long *p = realloc(*v, c * sizeof *p);
        FM_CHECK(p != NULL);
        if (!p)
            return 0;
        *v = p;
        *cap = c;
    }
    (*v)[(*n)++] = x;
    return 1;
}

/* kill -9 at random moments, five times (the first may hit the creation of the schema):
 * afterwards the database opens, passes integrity_check, and holds every event whose insert
 * returned; each hourly row agrees with its events (one transaction each). */
static void test_history_kill9(void)
{
    char path[1024];
    db_path(path, sizeof path, "kill9.db");
    uint64_t rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    long long *acked = NULL;
    size_t nacked = 0, cap = 0;
    int rounds = 5, killed_busy = 0;
    for (int r = 0; r < rounds; r++) {
        int fds[2];
        FM_CHECK(pipe(fds) == 0);
        fflush(NULL);
        pid_t pid = fork();
        FM_CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            insert_forever(path, fds[1]);
        }
        close(fds[1]);
        /* Round 0 is killed 0 to 30 ms after the fork, maybe while the database is being
         * created. The others after a random number (1..400) of acknowledgements, then 0 to
         * 3 ms more: a kill on a timer alone mostly lands in the fsync of a commit (the slow
         * part), where even a writer that acknowledged uncommitted rows would keep them. */
        long long id;
        ssize_t n;
        size_t before = nacked;
        unsigned target = r == 0 ? 0 : 1 + fm_test_rand(&rng) % 400u;
        if (r == 0)
            usleep((useconds_t)(fm_test_rand(&rng) % 30000u));
        while (nacked - before < target && (n = read(fds[0], &id, sizeof id)) == (ssize_t)sizeof id)
            if (!push(&acked, &nacked, &cap, id))
                break;
        usleep((useconds_t)(fm_test_rand(&rng) % 3000u));
        FM_CHECK(kill(pid, SIGKILL) == 0);
        int status = 0;
        FM_CHECK(waitpid(pid, &status, 0) == pid);
        FM_CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                     "round %d: the child ended by itself (status %d) before the kill", r,
                     status);
        while ((n = read(fds[0], &id, sizeof id)) == (ssize_t)sizeof id)
            if (!push(&acked, &nacked, &cap, id))
                break;
        close(fds[0]);
        killed_busy += nacked > before;
        /* the database opens and is whole after each kill */
        fm_err err = {0};
        fm_history *h = fm_history_open(path, FM_HISTORY_CREATE, &err);
        FM_CHECK_MSG(h != NULL, "round %d: %s", r, err.msg);
        if (h) {
            long long count = fm_history_count(h, "events", &err);
            FM_CHECK_MSG(count >= (long long)nacked, "round %d: %lld events, %zu acknowledged",
                         r, count, nacked);
            fm_history_close(h);
        }
        char buf[64];
        FM_CHECK_STR_CONTAINS(sql_text(path, "PRAGMA integrity_check", buf, sizeof buf), "ok");
    }
    FM_CHECK_MSG(killed_busy >= 3, "only %d of %d kills hit a child that was inserting",
                 killed_busy, rounds);
    /* every acknowledged id is there */
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    FM_CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    FM_CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM events WHERE id = ?1", -1, &st, NULL) ==
             SQLITE_OK);
    size_t missing = 0;
    for (size_t i = 0; st && i < nacked; i++) {
        sqlite3_bind_int64(st, 1, acked[i]);
        if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 1)
            missing++;
        sqlite3_reset(st);
    }
    FM_CHECK_MSG(missing == 0, "%zu of %zu acknowledged events missing", missing, nacked);
    sqlite3_finalize(st);
    sqlite3_close(db);
    FM_CHECK_INT(sql_int(path, "SELECT sum(people) FROM hourly"),
                 sql_int(path, "SELECT count(*) FROM events"));
    FM_CHECK_INT(sql_int(path, "SELECT sum(unmasked) FROM hourly"),
                 sql_int(path, "SELECT count(*) FROM events WHERE label = 'no_mask'"));
    printf("     kill9: %zu events acknowledged over %d kills\n", nacked, rounds);
    free(acked);
}

void suite_site_history(void);
void suite_site_history(void)
{
    FM_RUN(test_history_events_hourly);
    FM_RUN(test_history_unsent);
    FM_RUN(test_history_retention);
    FM_RUN(test_history_open_errors);
    FM_RUN(test_history_kill9);
}
