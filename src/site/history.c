/* history.c - SQLite (WAL, synchronous=FULL) behind site/history.h. */
#include "site/history.h"

#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fm_history {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *ins_event, *upd_hour, *mark_sent, *ins_snap;
};

/* "PATH: what: sqlite's message". */
static fm_status db_fail(fm_history *h, fm_err *err, fm_status st, const char *what)
{
    return fm_err_set(err, st, "%s: %s: %s", h->path, what, sqlite3_errmsg(h->db));
}

static const char *const schema_v1[] = {
    "CREATE TABLE events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " camera TEXT NOT NULL,"
    " time REAL NOT NULL,"
    " type TEXT NOT NULL,"
    " track INTEGER,"
    " label TEXT,"
    " payload TEXT NOT NULL,"
    " sent INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX events_camera_time ON events(camera, time)",
    "CREATE INDEX events_time ON events(time)",
    "CREATE INDEX events_unsent ON events(id) WHERE sent = 0",
    "CREATE TABLE hourly ("
    " camera TEXT NOT NULL,"
    " hour INTEGER NOT NULL,"
    " people INTEGER NOT NULL DEFAULT 0,"
    " masked INTEGER NOT NULL DEFAULT 0,"
    " unmasked INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (camera, hour))",
    "CREATE TABLE snapshots ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " camera TEXT NOT NULL,"
    " time REAL NOT NULL,"
    " track INTEGER,"
    " path TEXT NOT NULL)",
    "CREATE INDEX snapshots_camera_time ON snapshots(camera, time)",
    "PRAGMA user_version = 1",
    NULL};

static fm_status exec(fm_history *h, const char *sql, fm_err *err)
{
    if (sqlite3_exec(h->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(h, err, FM_ERR_IO, "cannot set up the database");
    return FM_OK;
}

/* PRAGMA user_version and the number of tables that are not SQLite's own. */
static fm_status inspect(fm_history *h, int *version, int *tables, fm_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(h->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_NOTADB)
            return fm_err_set(err, FM_ERR_FORMAT, "%s: not an SQLite database", h->path);
        return db_fail(h, err, FM_ERR_IO, "cannot read the schema version");
    }
    rc = sqlite3_prepare_v2(h->db,
                            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name "
                            "NOT LIKE 'sqlite_%'",
                            -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        *tables = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return db_fail(h, err, FM_ERR_IO, "cannot read the schema");
    return FM_OK;
}

static fm_status create_schema(fm_history *h, fm_err *err)
{
    if (exec(h, "BEGIN IMMEDIATE", err) != FM_OK)
        return err ? err->status : FM_ERR_IO;
    /* another process may have created it meanwhile */
    int version = 0, tables = 0;
    if (inspect(h, &version, &tables, err) != FM_OK) {
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
        return err ? err->status : FM_ERR_IO;
    }
    if (version == 0 && tables == 0)
        for (int i = 0; schema_v1[i]; i++)
            if (exec(h, schema_v1[i], err) != FM_OK) {
                sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
                return err ? err->status : FM_ERR_IO;
            }
    return exec(h, "COMMIT", err);
}

static int prepare(fm_history *h, sqlite3_stmt **st, const char *sql)
{
    return sqlite3_prepare_v3(h->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK;
}

fm_history *fm_history_open(const char *path, int mode, fm_err *err)
{
    if (!path || !*path) {
        fm_err_set(err, FM_ERR_ARG, "history: no database path");
        return NULL;
    }
    fm_history *h = calloc(1, sizeof *h);
    if (!h || !(h->path = strdup(path))) {
        free(h);
        fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                (mode == FM_HISTORY_CREATE ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &h->db, flags, NULL);
    if (rc != SQLITE_OK) {
        if (!h->db)
            fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory", path);
        else if (rc == SQLITE_CANTOPEN && mode != FM_HISTORY_CREATE)
            fm_err_set(err, FM_ERR_IO, "%s: cannot open: no such database file", path);
        else
            db_fail(h, err, FM_ERR_IO, "cannot open");
        fm_history_close(h);
        return NULL;
    }
    sqlite3_extended_result_codes(h->db, 0);
    sqlite3_busy_timeout(h->db, 5000);
    int version = 0, tables = 0;
    if (inspect(h, &version, &tables, err) != FM_OK)
        goto fail;
    if (version > FM_HISTORY_SCHEMA) {
        fm_err_set(err, FM_ERR_FORMAT,
                   "%s: schema version %d is newer than this facemask reads (%d): use a newer "
                   "facemask",
                   path, version, FM_HISTORY_SCHEMA);
        goto fail;
    }
    if (version == 0 && tables > 0) {
        fm_err_set(err, FM_ERR_FORMAT, "%s: not a facemask history (it has other tables)", path);
        goto fail;
    }
    if (version == 0 && mode != FM_HISTORY_CREATE) {
        fm_err_set(err, FM_ERR_FORMAT, "%s: no facemask history in this database", path);
        goto fail;
    }
    /* WAL: readers (report, the dashboard) never block the writer; FULL: a commit is on disk
     * when it returns */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW ||
        strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
        sqlite3_finalize(st);
        db_fail(h, err, FM_ERR_IO, "cannot switch to WAL mode");
        goto fail;
    }
    sqlite3_finalize(st);
    if (exec(h, "PRAGMA synchronous = FULL", err) != FM_OK ||
        exec(h, "PRAGMA foreign_keys = ON", err) != FM_OK)
        goto fail;
    if (version == 0 && create_schema(h, err) != FM_OK)
        goto fail;
    if (!prepare(h, &h->ins_event,
                 "INSERT INTO events (camera, time, type, track, label, payload) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6)") ||
        !prepare(h, &h->upd_hour,
                 "INSERT INTO hourly (camera, hour, people, masked, unmasked) "
                 "VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT (camera, hour) DO UPDATE SET "
                 "people = people + 1, masked = masked + ?3, unmasked = unmasked + ?4") ||
        !prepare(h, &h->mark_sent, "UPDATE events SET sent = 1 WHERE id = ?1") ||
        !prepare(h, &h->ins_snap,
                 "INSERT INTO snapshots (camera, time, track, path) VALUES (?1, ?2, ?3, ?4)")) {
        db_fail(h, err, FM_ERR_IO, "cannot prepare statements");
        goto fail;
    }
    return h;
fail:
    fm_history_close(h);
    return NULL;
}

void fm_history_close(fm_history *h)
{
    if (!h)
        return;
    sqlite3_finalize(h->ins_event);
    sqlite3_finalize(h->upd_hour);
    sqlite3_finalize(h->mark_sent);
    sqlite3_finalize(h->ins_snap);
    sqlite3_close(h->db);
    free(h->path);
    free(h);
}

/* Runs a prepared statement that returns no rows, then resets it. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

fm_status fm_history_add_event(fm_history *h, const fm_history_event *e, long long *id,
                               fm_err *err)
{
    if (!h || !e || !e->camera || !e->type || !e->payload)
        return fm_err_set(err, FM_ERR_ARG, "history: NULL %s",
                          !h ? "database" : !e ? "event" : !e->camera ? "camera"
                                                        : !e->type  ? "type"
                                                                    : "payload");
    if (!isfinite(e->time) || e->time < 0 || e->time > 1e11)
        return fm_err_set(err, FM_ERR_ARG, "%s: event time %g, expected Unix seconds", h->path,
                          e->time);
    if (exec(h, "BEGIN IMMEDIATE", err) != FM_OK)
        return err ? err->status : FM_ERR_IO;
    sqlite3_stmt *st = h->ins_event;
    sqlite3_bind_text(st, 1, e->camera, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 2, e->time);
    sqlite3_bind_text(st, 3, e->type, -1, SQLITE_TRANSIENT);
    if (e->track > 0)
        sqlite3_bind_int64(st, 4, e->track);
    else
        sqlite3_bind_null(st, 4);
    bind_text_or_null(st, 5, e->label);
    sqlite3_bind_text(st, 6, e->payload, -1, SQLITE_TRANSIENT);
    if (!step_done(st))
        goto fail;
    long long rowid = sqlite3_last_insert_rowid(h->db);
    if (!strcmp(e->type, "leave")) {
        st = h->upd_hour;
        sqlite3_bind_text(st, 1, e->camera, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, (long long)floor(e->time / 3600.0) * 3600);
        sqlite3_bind_int(st, 3, e->label && !strcmp(e->label, "mask"));
        sqlite3_bind_int(st, 4, e->label && !strcmp(e->label, "no_mask"));
        if (!step_done(st))
            goto fail;
    }
    if (sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (id)
        *id = rowid;
    return FM_OK;
fail:;
    fm_status s = db_fail(h, err, FM_ERR_IO, "cannot store an event");
    sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    return s;
}

fm_status fm_history_mark_sent(fm_history *h, long long id, fm_err *err)
{
    if (!h)
        return fm_err_set(err, FM_ERR_ARG, "history: NULL database");
    sqlite3_bind_int64(h->mark_sent, 1, id);
    if (!step_done(h->mark_sent))
        return db_fail(h, err, FM_ERR_IO, "cannot mark an event sent");
    if (sqlite3_changes(h->db) != 1)
        return fm_err_set(err, FM_ERR_ARG, "%s: no event %lld to mark sent", h->path, id);
    return FM_OK;
}

fm_status fm_history_unsent(fm_history *h, long long after, int limit,
                            int (*fn)(void *ctx, const fm_history_row *row), void *ctx,
                            fm_err *err)
{
    if (!h || !fn)
        return fm_err_set(err, FM_ERR_ARG, "history: NULL %s", !h ? "database" : "callback");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db,
                           "SELECT id, camera, time, type, payload FROM events WHERE sent = 0 "
                           "AND id > ?1 ORDER BY id LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, err, FM_ERR_IO, "cannot read unsent events");
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fm_history_row r = {sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                            sqlite3_column_double(st, 2), (const char *)sqlite3_column_text(st, 3),
                            (const char *)sqlite3_column_text(st, 4)};
        if (fn(ctx, &r))
            break;
    }
    fm_status s = FM_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        s = db_fail(h, err, FM_ERR_IO, "cannot read unsent events");
    sqlite3_finalize(st);
    return s;
}

fm_status fm_history_add_snapshot(fm_history *h, const char *camera, double time,
                                  long long track, const char *path, long long *id,
                                  fm_err *err)
{
    if (!h || !camera || !path)
        return fm_err_set(err, FM_ERR_ARG, "history: NULL %s",
                          !h ? "database" : !camera ? "camera" : "path");
    if (!isfinite(time) || time < 0 || time > 1e11)
        return fm_err_set(err, FM_ERR_ARG, "%s: snapshot time %g, expected Unix seconds",
                          h->path, time);
    sqlite3_stmt *st = h->ins_snap;
    sqlite3_bind_text(st, 1, camera, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 2, time);
    if (track > 0)
        sqlite3_bind_int64(st, 3, track);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_text(st, 4, path, -1, SQLITE_TRANSIENT);
    if (!step_done(st))
        return db_fail(h, err, FM_ERR_IO, "cannot index a snapshot");
    if (id)
        *id = sqlite3_last_insert_rowid(h->db);
    return FM_OK;
}

fm_status fm_history_prune(fm_history *h, double now, int days, long long *deleted,
                           fm_err *err)
{
    if (!h)
        return fm_err_set(err, FM_ERR_ARG, "history: NULL database");
    if (days < 1 || !isfinite(now))
        return fm_err_set(err, FM_ERR_ARG, "%s: retention of %d days, expected at least 1",
                          h->path, days);
    double cut = now - (double)days * 86400.0;
    static const char *const sql[] = {"DELETE FROM events WHERE time < ?1",
                                      "DELETE FROM hourly WHERE hour + 3600 <= ?1",
                                      "DELETE FROM snapshots WHERE time < ?1"};
    if (exec(h, "BEGIN IMMEDIATE", err) != FM_OK)
        return err ? err->status : FM_ERR_IO;
    long long n = 0;
    for (int i = 0; i < 3; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h->db, sql[i], -1, &st, NULL) != SQLITE_OK) {
            sqlite3_finalize(st);
            goto fail;
        }
        sqlite3_bind_double(st, 1, cut);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            goto fail;
        n += sqlite3_changes(h->db);
    }
    if (sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (deleted)
        *deleted = n;
    return FM_OK;
fail:;
    fm_status s = db_fail(h, err, FM_ERR_IO, "cannot delete old rows");
    sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    return s;
}

fm_status fm_history_daily(fm_history *h, const char *since, const char *until,
                           const char *camera,
                           int (*fn)(void *ctx, const fm_history_day *day), void *ctx,
                           fm_err *err)
{
    if (!h || !since || !fn)
        return fm_err_set(err, FM_ERR_ARG, "history: NULL %s",
                          !h ? "database" : !since ? "start date" : "callback");
    sqlite3_stmt *st = NULL;
    const char *sql =
        "SELECT date(hour, 'unixepoch', 'localtime') AS day, camera, sum(people), sum(masked), "
        "sum(unmasked) FROM hourly WHERE day >= ?1 AND (?2 IS NULL OR day <= ?2) "
        "AND (?3 IS NULL OR camera = ?3) GROUP BY day, camera ORDER BY day, camera";
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, err, FM_ERR_IO, "cannot read the hourly summaries");
    sqlite3_bind_text(st, 1, since, -1, SQLITE_TRANSIENT);
    bind_text_or_null(st, 2, until);
    bind_text_or_null(st, 3, camera);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fm_history_day d;
        const char *day = (const char *)sqlite3_column_text(st, 0);
        snprintf(d.date, sizeof d.date, "%s", day ? day : "");
        d.camera = (const char *)sqlite3_column_text(st, 1);
        d.people = sqlite3_column_int64(st, 2);
        d.masked = sqlite3_column_int64(st, 3);
        d.unmasked = sqlite3_column_int64(st, 4);
        long long labelled = d.masked + d.unmasked;
        d.compliance = labelled > 0 ? (double)d.masked / (double)labelled : -1.0;
        if (fn(ctx, &d))
            break;
    }
    fm_status s = FM_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        s = db_fail(h, err, FM_ERR_IO, "cannot read the hourly summaries");
    sqlite3_finalize(st);
    return s;
}

long long fm_history_count(fm_history *h, const char *table, fm_err *err)
{
    const char *sql = !table                        ? NULL
                      : !strcmp(table, "events")    ? "SELECT count(*) FROM events"
                      : !strcmp(table, "hourly")    ? "SELECT count(*) FROM hourly"
                      : !strcmp(table, "snapshots") ? "SELECT count(*) FROM snapshots"
                      : !strcmp(table, "unsent") ? "SELECT count(*) FROM events WHERE sent = 0"
                                                    : NULL;
    if (!h || !sql) {
        fm_err_set(err, FM_ERR_ARG, "history: no table '%s'", table ? table : "(null)");
        return -1;
    }
    sqlite3_stmt *st = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        db_fail(h, err, FM_ERR_IO, "cannot count rows");
    sqlite3_finalize(st);
    return n;
}

/* --- queries for the HTTP API ------------------------------------------------------------ */

static void bind_bound(sqlite3_stmt *st, int i, double t)
{
    if (isnan(t))
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, t);
}

/* Finalizes a statement stepped to rc: FM_OK after its last row or an early stop. */
static fm_status finish_rows(fm_history *h, sqlite3_stmt *st, int rc, fm_err *err,
                             const char *what)
{
    fm_status s = FM_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        s = db_fail(h, err, FM_ERR_IO, what);
    sqlite3_finalize(st);
    return s;
}

static fm_status check_limit(fm_history *h, int limit, fm_err *err)
{
    if (limit < 1 || limit > 1000000)
        return fm_err_set(err, FM_ERR_ARG, "%s: limit %d, expected 1 to 1000000", h->path,
                          limit);
    return FM_OK;
}

fm_status fm_history_events(fm_history *h, const char *camera, const char *type, double since,
                            double until, int limit,
                            int (*fn)(void *ctx, const fm_history_event_row *row), void *ctx,
                            fm_err *err)
{
    if (!h || !fn)
        return fm_err_set(err, FM_ERR_ARG, "history: NULL %s", !h ? "database" : "callback");
    if (check_limit(h, limit, err) != FM_OK)
        return FM_ERR_ARG;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db,
                           "SELECT id, camera, time, type, track, label, payload, sent FROM "
                           "events WHERE (?1 IS NULL OR camera = ?1) AND (?2 IS NULL OR time "
                           ">= ?2) AND (?3 IS NULL OR time < ?3) AND (?5 IS NULL OR type = ?5) "
                           "ORDER BY time DESC, id DESC LIMIT ?4",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, err, FM_ERR_IO, "cannot read events");
    bind_text_or_null(st, 1, camera);
    bind_bound(st, 2, since);
    bind_bound(st, 3, until);
    sqlite3_bind_int(st, 4, limit);
    bind_text_or_null(st, 5, type);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fm_history_event_row r = {
            .id = sqlite3_column_int64(st, 0),
            .camera = (const char *)sqlite3_column_text(st, 1),
            .time = sqlite3_column_double(st, 2),
            .type = (const char *)sqlite3_column_text(st, 3),
            .track = sqlite3_column_int64(st, 4),
            .label = (const char *)sqlite3_column_text(st, 5),
            .payload = (const char *)sqlite3_column_text(st, 6),
            .sent = sqlite3_column_int(st, 7),
        };
        if (fn(ctx, &r))
            break;
    }
    return finish_rows(h, st, rc, err, "cannot read events");
}

fm_status fm_history_hours(fm_history *h, const char *camera, double since, double until,
                           int (*fn)(void *ctx, const fm_history_hour *row), void *ctx,
                           fm_err *err)
{
    if (!h || !fn)
        return fm_err_set(err, FM_ERR_ARG, "history: NULL %s", !h ? "database" : "callback");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db,
                           "SELECT camera, hour, people, masked, unmasked FROM hourly WHERE "
                           "(?1 IS NULL OR camera = ?1) AND (?2 IS NULL OR hour >= ?2) AND "
                           "(?3 IS NULL OR hour < ?3) ORDER BY hour, camera",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, err, FM_ERR_IO, "cannot read the hourly summaries");
    bind_text_or_null(st, 1, camera);
    bind_bound(st, 2, since);
    bind_bound(st, 3, until);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fm_history_hour r = {
            .camera = (const char *)sqlite3_column_text(st, 0),
            .hour = sqlite3_column_int64(st, 1),
            .people = sqlite3_column_int64(st, 2),
            .masked = sqlite3_column_int64(st, 3),
            .unmasked = sqlite3_column_int64(st, 4),
        };
        long long labelled = r.masked + r.unmasked;
        r.compliance = labelled > 0 ? (double)r.masked / (double)labelled : -1.0;
        if (fn(ctx, &r))
            break;
    }
    return finish_rows(h, st, rc, err, "cannot read the hourly summaries");
}

static fm_history_snapshot_row snapshot_row(sqlite3_stmt *st)
{
    return (fm_history_snapshot_row){
        .id = sqlite3_column_int64(st, 0),
        .camera = (const char *)sqlite3_column_text(st, 1),
        .time = sqlite3_column_double(st, 2),
        .track = sqlite3_column_int64(st, 3),
        .path = (const char *)sqlite3_column_text(st, 4),
    };
}

fm_status fm_history_snapshots(fm_history *h, const char *camera, int limit,
                               int (*fn)(void *ctx, const fm_history_snapshot_row *row),
                               void *ctx, fm_err *err)
{
    if (!h || !fn)
        return fm_err_set(err, FM_ERR_ARG, "history: NULL %s", !h ? "database" : "callback");
    if (check_limit(h, limit, err) != FM_OK)
        return FM_ERR_ARG;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db,
                           "SELECT id, camera, time, track, path FROM snapshots WHERE (?1 IS "
                           "NULL OR camera = ?1) ORDER BY time DESC, id DESC LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, err, FM_ERR_IO, "cannot read snapshots");
    bind_text_or_null(st, 1, camera);
    sqlite3_bind_int(st, 2, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fm_history_snapshot_row r = snapshot_row(st);
        if (fn(ctx, &r))
            break;
    }
    return finish_rows(h, st, rc, err, "cannot read snapshots");
}

fm_status fm_history_snapshot(fm_history *h, long long id,
                              int (*fn)(void *ctx, const fm_history_snapshot_row *row),
                              void *ctx, fm_err *err)
{
    if (!h || !fn)
        return fm_err_set(err, FM_ERR_ARG, "history: NULL %s", !h ? "database" : "callback");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db,
                           "SELECT id, camera, time, track, path FROM snapshots WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, err, FM_ERR_IO, "cannot read snapshots");
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    fm_status s = FM_OK;
    if (rc == SQLITE_ROW) {
        fm_history_snapshot_row r = snapshot_row(st);
        fn(ctx, &r);
    } else if (rc == SQLITE_DONE) {
        s = fm_err_set(err, FM_ERR_ARG, "%s: no snapshot %lld", h->path, id);
    } else {
        s = db_fail(h, err, FM_ERR_IO, "cannot read snapshots");
    }
    sqlite3_finalize(st);
    return s;
}

fm_status fm_history_mark_sent_batch(fm_history *h, const long long *ids, int n, int *marked,
                                     fm_err *err)
{
    if (marked)
        *marked = 0;
    if (!h || (n > 0 && !ids))
        return fm_err_set(err, FM_ERR_ARG, "history: NULL %s", !h ? "database" : "ids");
    if (n <= 0)
        return FM_OK;
    if (exec(h, "BEGIN IMMEDIATE", err) != FM_OK)
        return err ? err->status : FM_ERR_IO;
    int changed = 0;
    for (int i = 0; i < n; i++) {
        sqlite3_bind_int64(h->mark_sent, 1, ids[i]);
        if (!step_done(h->mark_sent))
            goto fail;
        changed += sqlite3_changes(h->db);
    }
    if (sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (marked)
        *marked = changed;
    return FM_OK;
fail:;
    fm_status s = db_fail(h, err, FM_ERR_IO, "cannot mark events sent");
    sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    return s;
}
