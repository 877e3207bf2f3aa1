/* `facemask serve` on MQTT (src/serve/mqtt.h) against a real mosquitto on 127.0.0.1, read by
 * the real mosquitto_sub: events from the history one for one and in order, nothing lost
 * while the broker is down for 20 s, retained state, availability and its last will, Home
 * Assistant discovery, credentials, TLS, and an aggregating node. The payloads themselves
 * (serve/mqtt_msg.h) are checked first, without a broker. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "serve/mqtt.h"
#include "serve/mqtt_msg.h"
#include "site/config.h"
#include "site/history.h"
#include "site/state.h"
#include "test.h"
#include "test_mqtt_util.h"

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* --- payloads, no broker ------------------------------------------------------------- */

static void test_mqtt_msg_event_payload(void)
{
    fm_mqtt_buf b = {0};
    fm_history_row r = {42, "front-door", 1764700000.25, "leave",
                        "{\"event\":\"leave\",\"t\":1.500,\"track\":7,\"label\":\"mask\"}\n"};
    fm_mqtt_event_payload(&b, &r, "clinic-1");
    FM_CHECK(!b.oom);
    FM_CHECK_MSG(strcmp(b.p, "{\"event\":\"leave\",\"t\":1.500,\"track\":7,\"label\":\"mask\","
                             "\"id\":42,\"node\":\"clinic-1\",\"camera\":\"front-door\","
                             "\"time\":1764700000.250}") == 0,
                 "payload: %s", b.p);
    /* an empty object gets no stray comma; something that is not an object is carried */
    fm_mqtt_buf_reset(&b);
    r.payload = "{}";
    fm_mqtt_event_payload(&b, &r, "n");
    FM_CHECK_MSG(strncmp(b.p, "{\"id\":42,", 9) == 0, "payload: %s", b.p);
    fm_mqtt_buf_reset(&b);
    r.payload = "not \"json\"";
    fm_mqtt_event_payload(&b, &r, "n");
    FM_CHECK_MSG(strncmp(b.p, "{\"payload\":\"not \\\"json\\\"\",\"id\":42,", 34) == 0,
                 "payload: %s", b.p);
    fm_mqtt_buf_free(&b);
}

static void test_mqtt_msg_state_roundtrip(void)
{
    fm_site_cam_stats s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "front-door");
    s.status = FM_CAM_RUNNING;
    s.people_now = 3;
    s.masked_now = 2;
    s.unmasked_now = 1;
    s.people = 10;
    s.masked = 7;
    s.unmasked = 3;
    s.compliance = 0.7;
    s.fps = 14.84;
    fm_mqtt_buf b = {0};
    fm_mqtt_state_body(&b, &s, "clinic-1");
    fm_mqtt_state_finish(&b, 1764700000.5);
    FM_CHECK_MSG(strcmp(b.p, "{\"node\":\"clinic-1\",\"camera\":\"front-door\",\"status\":"
                             "\"running\",\"people_now\":3,\"masked_now\":2,\"unmasked_now\":1,"
                             "\"people\":10,\"masked\":7,\"unmasked\":3,\"compliance\":0.7000,"
                             "\"fps\":14.8,\"time\":1764700000.500}") == 0,
                 "state: %s", b.p);
    fm_mqtt_remote r;
    memset(&r, 0, sizeof r);
    FM_CHECK_INT(fm_mqtt_parse_state(b.p, b.len, &r), 1);
    FM_CHECK(strcmp(r.node, "clinic-1") == 0);
    FM_CHECK(strcmp(r.status, "running") == 0);
    FM_CHECK_INT(r.people_now, 3);
    FM_CHECK_INT(r.masked_now, 2);
    FM_CHECK_INT(r.unmasked_now, 1);
    FM_CHECK_INT(r.people, 10);
    FM_CHECK_INT(r.masked, 7);
    FM_CHECK_INT(r.unmasked, 3);
    FM_CHECK_NEAR(r.compliance, 0.7, 1e-9);
    FM_CHECK_NEAR(r.fps, 14.8, 1e-9);
    /* nobody labelled: null, read back as -1 */
    s.compliance = -1;
    fm_mqtt_buf_reset(&b);
    fm_mqtt_state_body(&b, &s, "clinic-1");
    fm_mqtt_state_finish(&b, 0);
    FM_CHECK_STR_CONTAINS(b.p, "\"compliance\":null");
    FM_CHECK_INT(fm_mqtt_parse_state(b.p, b.len, &r), 1);
    FM_CHECK_NEAR(r.compliance, -1, 0);
    fm_mqtt_buf_free(&b);
}

static void test_mqtt_msg_hostile_input(void)
{
    fm_mqtt_remote r;
    memset(&r, 0, sizeof r);
    snprintf(r.status, sizeof r.status, "kept");
    static const char *const bad[] = {
        "",
        "[]",
        "{",
        "\"status\":\"running\"",
        "{\"people_now\":3}",
        "{\"status\":running}",
        "{\"status\":\"runn",
        "{\"status\"  \"running\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FM_CHECK_MSG(fm_mqtt_parse_state(bad[i], strlen(bad[i]), &r) == 0, "accepted: %s",
                     bad[i]);
        FM_CHECK(strcmp(r.status, "kept") == 0);
    }
    /* the length is respected: the status lies beyond it */
    const char *cut = "{\"status\":\"running\"}";
    FM_CHECK_INT(fm_mqtt_parse_state(cut, 12, &r), 0);
    /* wrong types and absurd numbers are not taken as they come */
    const char *odd = "{\"status\":\"runningrunningrunningrunning\",\"node\":\"x\","
                      "\"people_now\":\"many\",\"people\":-5,\"masked\":1e300,"
                      "\"compliance\":7,\"fps\":nan}";
    FM_CHECK_INT(fm_mqtt_parse_state(odd, strlen(odd), &r), 1);
    FM_CHECK_INT(strlen(r.status), sizeof r.status - 1); /* cut, terminated */
    FM_CHECK_INT(r.people_now, 0);
    FM_CHECK_INT(r.people, 0);
    FM_CHECK(r.masked > 0 && r.masked <= (long long)9e15);
    FM_CHECK_NEAR(r.compliance, -1, 0);
    FM_CHECK_NEAR(r.fps, 0, 0);
    char node[FM_MQTT_NAME_MAX + 1], type[32];
    long long id = -1;
    const char *ev = "{\"event\":\"leave\",\"t\":1.0,\"id\":77,\"node\":\"n2\"}";
    FM_CHECK_INT(fm_mqtt_parse_event(ev, strlen(ev), node, &id, type), 1);
    FM_CHECK(strcmp(node, "n2") == 0 && strcmp(type, "leave") == 0);
    FM_CHECK_INT(id, 77);
    FM_CHECK_INT(fm_mqtt_parse_event("{\"id\":3}", 8, node, &id, type), 0);
    FM_CHECK_INT(fm_mqtt_name_ok("front-door_2"), 1);
    FM_CHECK_INT(fm_mqtt_name_ok("a/b"), 0);
    FM_CHECK_INT(fm_mqtt_name_ok("+"), 0);
    FM_CHECK_INT(fm_mqtt_name_ok(""), 0);
}

static void test_mqtt_msg_discovery(void)
{
    fm_mqtt_buf t = {0}, p = {0};
    int found = -1;
    for (int i = 0; i < FM_MQTT_SENSORS; i++)
        if (strcmp(fm_mqtt_sensor_key(i), "compliance") == 0)
            found = i;
    FM_CHECK(found >= 0);
    FM_CHECK(fm_mqtt_sensor_key(FM_MQTT_SENSORS) == NULL);
    fm_mqtt_discovery_topic(&t, "clinic-1", "front-door", found);
    FM_CHECK(strcmp(t.p, "homeassistant/sensor/facemask_clinic-1/front-door_compliance/config") ==
             0);
    fm_mqtt_discovery_payload(&p, "clinic-1", "front-door", found);
    FM_CHECK_STR_CONTAINS(p.p, "\"unique_id\":\"facemask_clinic-1_front-door_compliance\"");
    FM_CHECK_STR_CONTAINS(p.p, "\"state_topic\":\"facemask/front-door/state\"");
    FM_CHECK_STR_CONTAINS(p.p, "\"availability_topic\":\"facemask/clinic-1/availability\"");
    FM_CHECK_STR_CONTAINS(p.p, "\"unit_of_measurement\":\"%\"");
    FM_CHECK_STR_CONTAINS(p.p, "\"device\":{\"identifiers\":[\"facemask_clinic-1_front-door\"]");
    fm_mqtt_buf_free(&t);
    fm_mqtt_buf_free(&p);
}

/* --- a site, a history ------------------------------------------------------------------ */

/* A site with the cameras in `cams` (comma-separated), MQTT on port for node, the database
 * at db, and more lines for the mqtt: section (each "key: value\n", may be NULL). */
static fm_site_config *site_for(const char *cams, int port, const char *node, const char *db,
                                const char *mqtt_extra)
{
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text, "cameras:\n");
    char list[512];
    snprintf(list, sizeof list, "%s", cams);
    for (char *save = NULL, *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save))
        n += (size_t)snprintf(text + n, sizeof text - n, "  - name: %s\n    source: /dev/null\n",
                              c);
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "mqtt:\n  host: 127.0.0.1\n  port: %d\n  node: %s\n", port, node);
    if (mqtt_extra) {
        char extra[1024];
        snprintf(extra, sizeof extra, "%s", mqtt_extra);
        for (char *save = NULL, *l = strtok_r(extra, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save))
            n += (size_t)snprintf(text + n, sizeof text - n, "  %s\n", l);
    }
    snprintf(text + n, sizeof text - n, "database:\n  path: %s\n", db);
    fm_err err = {0};
    fm_site_config *cfg = fm_site_config_parse(text, strlen(text), "test-site.yaml", &err);
    FM_CHECK_MSG(cfg != NULL, "site: %s\n%s", err.msg, text);
    return cfg;
}

static fm_site_state *state_for(const fm_site_config *cfg)
{
    const char *names[FM_SITE_MAX_CAMERAS];
    for (int i = 0; i < cfg->ncameras; i++)
        names[i] = cfg->cameras[i].name;
    fm_err err = {0};
    fm_site_state *st = fm_site_state_new(cfg->ncameras, names, &err);
    FM_CHECK_MSG(st != NULL, "%s", err.msg);
    return st;
}

static long long sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

typedef struct {
    long long id;
    char camera[65];
    char *payload;
    int sent;
} row;

/* Every events row, by id. */
static int read_rows(const char *path, row **out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int n = 0, cap = 0;
    row *rows = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT id, camera, payload, sent FROM events ORDER BY id", -1,
                           &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                rows = realloc(rows, (size_t)cap * sizeof *rows);
            }
            row *r = &rows[n++];
            r->id = sqlite3_column_int64(st, 0);
            snprintf(r->camera, sizeof r->camera, "%s", (const char *)sqlite3_column_text(st, 1));
            r->payload = strdup((const char *)sqlite3_column_text(st, 2));
            r->sent = sqlite3_column_int(st, 3);
        }
    } else {
        fm_test_fail(__FILE__, __LINE__, "%s: %s", path, db ? sqlite3_errmsg(db) : "no db");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    *out = rows;
    return n;
}

static void free_rows(row *rows, int n)
{
    for (int i = 0; i < n; i++)
        free(rows[i].payload);
    free(rows);
}

/* Events written as a camera's sink writes them: its own handle, one committed row each. */
typedef struct {
    const char *db;
    fm_mqtt *m;
    const char *cams[2];
    int max;            /* stop after this many (0: until stop) */
    int period_ms;
    atomic_int stop;
    atomic_int written;
    char err[512];
} writer;

static void *write_events(void *arg)
{
    writer *w = arg;
    fm_err err = {0};
    fm_history *h = fm_history_open(w->db, FM_HISTORY_CREATE, &err);
    if (!h) {
        snprintf(w->err, sizeof w->err, "%s", err.msg);
        return NULL;
    }
    for (int i = 0; !atomic_load(&w->stop) && (w->max == 0 || i < w->max); i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"event\":\"appear\",\"t\":%.3f,\"frame\":%d,\"track\":%d,\"label\":\"mask\","
                 "\"mask_prob\":0.900}",
                 i * 0.1, i, i + 1);
        fm_history_event e = {w->cams[i % 2], 1764700000.0 + i * 0.1, "appear", i + 1, "mask",
                              json};
        if (fm_history_add_event(h, &e, NULL, &err) != FM_OK) {
            snprintf(w->err, sizeof w->err, "%s", err.msg);
            break;
        }
        atomic_fetch_add(&w->written, 1);
        fm_mqtt_notify(w->m);
        if (w->period_ms)
            sleep_ms(w->period_ms);
    }
    fm_history_close(h);
    return NULL;
}

static int wait_all_sent(const char *db, long long n, double timeout_s)
{
    double t0 = mono_s();
    while (mono_s() - t0 < timeout_s) {
        if (sql_int(db, "SELECT count(*) FROM events") == n &&
            sql_int(db, "SELECT count(*) FROM events WHERE sent = 0") == 0)
            return 1;
        sleep_ms(50);
    }
    return 0;
}

static int wait_connected(fm_mqtt *m, double timeout_s)
{
    double t0 = mono_s();
    fm_mqtt_stats s;
    while (mono_s() - t0 < timeout_s) {
        fm_mqtt_get_stats(m, &s);
        if (s.connected)
            return 1;
        sleep_ms(20);
    }
    return 0;
}

/* The "id" of a subscriber line "facemask/<cam>/events {...}", -1 when none. */
static long long line_id(const char *line)
{
    const char *p = strstr(line, ",\"id\":");
    return p ? atoll(p + 6) : -1;
}

/* Checks the subscriber's lines against the rows: each row's message, in order of first
 * arrival; duplicates (allowed after a reconnect) counted in *dups. 1 when all match. */
static int match_rows(const char *text, const row *rows, int n, const char *node, int *dups)
{
    int next = 0, ok = 1;
    *dups = 0;
    char *copy = strdup(text);
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        long long id = line_id(l);
        if (next > 0 && id <= rows[next - 1].id && id >= rows[0].id) {
            (*dups)++; /* already seen: a re-send */
            continue;
        }
        if (next >= n || id != rows[next].id) {
            fm_test_fail(__FILE__, __LINE__, "message %d: expected id %lld, got: %s", next,
                         next < n ? rows[next].id : -1LL, l);
            ok = 0;
            break;
        }
        const row *r = &rows[next];
        char expect[1024];
        size_t plen = strlen(r->payload);
        snprintf(expect, sizeof expect, "facemask/%s/events %.*s,\"id\":%lld,\"node\":\"%s\","
                 "\"camera\":\"%s\",\"time\":", r->camera, (int)(plen - 1), r->payload, r->id,
                 node, r->camera);
        if (strncmp(l, expect, strlen(expect)) != 0) {
            fm_test_fail(__FILE__, __LINE__, "message %d:\n  got      %s\n  expected %s...",
                         next, l, expect);
            ok = 0;
            break;
        }
        next++;
    }
    free(copy);
    if (ok && next != n) {
        fm_test_fail(__FILE__, __LINE__, "%d of %d events received", next, n);
        ok = 0;
    }
    return ok;
}

static int count_unique(const char *text)
{
    long long last = 0;
    int n = 0;
    char *copy = strdup(text);
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        long long id = line_id(l);
        if (id > last) {
            last = id;
            n++;
        }
    }
    free(copy);
    return n;
}

static int wait_received(const fm_test_sub *s, int n, double timeout_s)
{
    double t0 = mono_s();
    while (mono_s() - t0 < timeout_s) {
        char *text = fm_test_sub_output(s);
        int got = text ? count_unique(text) : 0;
        free(text);
        if (got >= n)
            return 1;
        sleep_ms(50);
    }
    return 0;
}

/* The batch MQTT marks acknowledgements with: one transaction, unknown ids skipped. */
static void test_mqtt_history_mark_sent_batch(void)
{
    char db[600];
    snprintf(db, sizeof db, "%s/site.db", fm_test_tmpdir());
    writer w = {.db = db, .cams = {"a", "b"}, .max = 6};
    write_events(&w);
    FM_CHECK_MSG(w.err[0] == 0, "%s", w.err);
    fm_err err = {0};
    fm_history *h = fm_history_open(db, FM_HISTORY_EXISTING, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    if (!h)
        return;
    long long ids[] = {2, 5, 99, 3};
    int marked = -1;
    FM_CHECK_INT(fm_history_mark_sent_batch(h, ids, 4, &marked, &err), FM_OK);
    FM_CHECK_INT(marked, 3);
    FM_CHECK_INT(sql_int(db, "SELECT count(*) FROM events WHERE sent = 1 AND id IN (2, 3, 5)"), 3);
    FM_CHECK_INT(sql_int(db, "SELECT count(*) FROM events WHERE sent = 1"), 3);
    FM_CHECK_INT(fm_history_mark_sent_batch(h, NULL, 0, &marked, &err), FM_OK);
    FM_CHECK_INT(marked, 0);
    FM_CHECK_INT(fm_history_mark_sent_batch(h, NULL, 2, &marked, &err), FM_ERR_ARG);
    FM_CHECK_INT(fm_history_mark_sent_batch(NULL, ids, 1, &marked, &err), FM_ERR_ARG);
    fm_history_close(h);
}

/* --- events ------------------------------------------------------------------------------ */

static void test_mqtt_events_match_history(void)
{
    fm_test_broker b;
    if (!fm_test_broker_start(&b, fm_test_tmpdir(), NULL))
        return;
    fm_test_sub s;
    memset(&s, 0, sizeof s);
    char db[600];
    snprintf(db, sizeof db, "%s/site.db", fm_test_tmpdir());
    fm_site_config *cfg = site_for("cam-a,cam-b", b.port, "n1", db, NULL);
    fm_site_state *st = cfg ? state_for(cfg) : NULL;
    if (!cfg || !st || !fm_test_sub_start(&s, &b, "facemask/+/events", NULL, NULL))
        goto out;
    /* a backlog written before MQTT starts goes out first */
    writer w = {.db = db, .cams = {"cam-a", "cam-b"}, .max = 20};
    write_events(&w);
    FM_CHECK_MSG(w.err[0] == 0, "%s", w.err);
    fm_err err = {0};
    fm_mqtt *m = fm_mqtt_start(cfg, st, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m)
        goto out;
    /* then events while it runs, from a camera's thread */
    writer w2 = {.db = db, .m = m, .cams = {"cam-b", "cam-a"}, .max = 150, .period_ms = 5};
    pthread_t th;
    pthread_create(&th, NULL, write_events, &w2);
    pthread_join(th, NULL);
    FM_CHECK_MSG(w2.err[0] == 0, "%s", w2.err);
    FM_CHECK_MSG(wait_all_sent(db, 170, 20), "not every row is marked sent: %lld unsent",
                 sql_int(db, "SELECT count(*) FROM events WHERE sent = 0"));
    FM_CHECK(wait_received(&s, 170, 10));
    fm_mqtt_stats ms;
    fm_mqtt_get_stats(m, &ms);
    fm_mqtt_stop(m);
    FM_CHECK_INT(ms.acked, 170);
    FM_CHECK_INT(ms.published, 170); /* no reconnect: no re-send */
    FM_CHECK_INT(ms.connects, 1);
    FM_CHECK(strcmp(ms.node, "n1") == 0);
    row *rows;
    int n = read_rows(db, &rows);
    FM_CHECK_INT(n, 170);
    for (int i = 0; i < n; i++)
        FM_CHECK_MSG(rows[i].sent == 1, "row %lld not sent", rows[i].id);
    char *text = fm_test_sub_output(&s);
    int dups = 0;
    FM_CHECK(text && match_rows(text, rows, n, "n1", &dups));
    FM_CHECK_INT(dups, 0);
    free(text);
    free_rows(rows, n);
out:
    fm_test_sub_stop(&s);
    fm_test_broker_stop(&b);
    fm_site_state_free(st);
    fm_site_config_free(cfg);
}

/* The broker stopped for 20 s mid-run and restarted on the same port while events keep
 * coming: every event reaches a persistent subscriber, in order, and every row is sent. */
static void test_mqtt_broker_down_20s(void)
{
    fm_test_broker b;
    if (!fm_test_broker_start(&b, fm_test_tmpdir(), NULL))
        return;
    fm_test_sub s;
    memset(&s, 0, sizeof s);
    char db[600];
    snprintf(db, sizeof db, "%s/site.db", fm_test_tmpdir());
    fm_site_config *cfg = site_for("cam-a,cam-b", b.port, "n1", db, NULL);
    fm_site_state *st = cfg ? state_for(cfg) : NULL;
    if (!cfg || !st || !fm_test_sub_start(&s, &b, "facemask/+/events", "fm-test-sub", NULL))
        goto out;
    fm_err err = {0};
    fm_mqtt *m = fm_mqtt_start(cfg, st, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m)
        goto out;
    writer w = {.db = db, .m = m, .cams = {"cam-a", "cam-b"}, .period_ms = 100};
    pthread_t th;
    pthread_create(&th, NULL, write_events, &w);
    sleep_ms(3000);
    FM_CHECK(fm_test_broker_stop(&b));
    int before = atomic_load(&w.written);
    sleep_ms(20000);
    fm_mqtt_stats ms;
    fm_mqtt_get_stats(m, &ms);
    FM_CHECK_INT(ms.connected, 0);
    FM_CHECK_STR_CONTAINS(ms.last_error, "Connection refused");
    long long unsent = sql_int(db, "SELECT count(*) FROM events WHERE sent = 0");
    FM_CHECK_MSG(unsent >= 150, "only %lld events waited while the broker was down", unsent);
    double t_restart = mono_s();
    FM_CHECK(fm_test_broker_restart(&b));
    double t_back = -1;
    while (mono_s() - t_restart < 15) {
        fm_mqtt_get_stats(m, &ms);
        if (ms.connected) {
            t_back = mono_s() - t_restart;
            break;
        }
        sleep_ms(20);
    }
    FM_CHECK_MSG(t_back >= 0, "no reconnect within 15 s of the restart");
    sleep_ms(2000);
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    FM_CHECK_MSG(w.err[0] == 0, "%s", w.err);
    int total = atomic_load(&w.written);
    FM_CHECK_MSG(wait_all_sent(db, total, 30), "%lld of %d rows unsent",
                 sql_int(db, "SELECT count(*) FROM events WHERE sent = 0"), total);
    FM_CHECK(wait_received(&s, total, 15));
    fm_mqtt_get_stats(m, &ms);
    fm_mqtt_stop(m);
    FM_CHECK_INT(ms.connects, 2);
    FM_CHECK_INT(ms.disconnects, 1);
    FM_CHECK_INT(ms.acked, total);
    row *rows;
    int n = read_rows(db, &rows);
    FM_CHECK_INT(n, total);
    char *text = fm_test_sub_output(&s);
    int dups = 0;
    FM_CHECK(text && match_rows(text, rows, n, "n1", &dups));
    printf("    broker down 20 s: %d events (%d before the stop, %lld waiting at the restart), "
           "reconnected %.1f s after the restart, %d duplicates, %lld publishes\n",
           total, before, unsent, t_back, dups, ms.published);
    free(text);
    free_rows(rows, n);
out:
    fm_test_sub_stop(&s);
    fm_test_broker_stop(&b);
    fm_site_state_free(st);
    fm_site_config_free(cfg);
}

/* A node killed (SIGKILL) in the middle of sending a backlog, then started again on the same
 * history: the rows it had not had acknowledged go out, nothing is lost, the order is kept. */
static void test_mqtt_killed_then_restarted(void)
{
    fm_test_broker b;
    if (!fm_test_broker_start(&b, fm_test_tmpdir(), NULL))
        return;
    fm_test_sub s;
    memset(&s, 0, sizeof s);
    char db[600];
    snprintf(db, sizeof db, "%s/site.db", fm_test_tmpdir());
    fm_site_config *cfg = site_for("cam-a,cam-b", b.port, "n1", db, NULL);
    fm_site_state *st = cfg ? state_for(cfg) : NULL;
    if (!cfg || !st || !fm_test_sub_start(&s, &b, "facemask/+/events", NULL, NULL))
        goto out;
    writer w = {.db = db, .cams = {"cam-a", "cam-b"}, .max = 400};
    double tw = mono_s();
    write_events(&w);
    tw = mono_s() - tw;
    FM_CHECK_MSG(w.err[0] == 0, "%s", w.err);
    pid_t child = fork();
    if (child == 0) {
        fm_err err = {0};
        if (!fm_mqtt_start(cfg, st, &err))
            _exit(3);
        for (;;)
            pause();
    }
    FM_CHECK(child > 0);
    double t0 = mono_s();
    while (mono_s() - t0 < 10 && sql_int(db, "SELECT count(*) FROM events WHERE sent = 1") < 1)
        sleep_ms(2);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    long long at_kill = sql_int(db, "SELECT count(*) FROM events WHERE sent = 1");
    FM_CHECK_MSG(at_kill >= 1 && at_kill < 400, "%lld rows sent when the node was killed "
                 "(expected the middle of the backlog)", at_kill);
    fm_err err = {0};
    fm_mqtt *m = fm_mqtt_start(cfg, st, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m)
        goto out;
    double td = mono_s();
    FM_CHECK(wait_all_sent(db, 400, 20));
    td = mono_s() - td;
    FM_CHECK(wait_received(&s, 400, 10));
    fm_mqtt_stop(m);
    row *rows;
    int n = read_rows(db, &rows);
    char *text = fm_test_sub_output(&s);
    int dups = 0;
    FM_CHECK(text && match_rows(text, rows, n, "n1", &dups));
    printf("    killed with %lld of 400 rows acknowledged; after the restart all 400 arrived, "
           "%d duplicates (backlog written in %.1f s, the rest sent in %.1f s)\n", at_kill, dups,
           tw, td);
    free(text);
    free_rows(rows, n);
out:
    fm_test_sub_stop(&s);
    fm_test_broker_stop(&b);
    fm_site_state_free(st);
    fm_site_config_free(cfg);
}

/* --- state, availability, discovery ----------------------------------------------------- */

static int wait_retained(const fm_test_broker *b, const char *filter, const char *needle,
                         double timeout_s, char **last)
{
    double t0 = mono_s();
    free(*last); /* the previous answer */
    *last = NULL;
    while (mono_s() - t0 < timeout_s) {
        free(*last);
        *last = fm_test_retained(b, filter, NULL, 1);
        if (*last && strstr(*last, needle))
            return 1;
        sleep_ms(100);
    }
    return 0;
}

static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    size_t k = strlen(prefix);
    for (const char *l = text; l && *l;) {
        if (strncmp(l, prefix, k) == 0)
            n++;
        const char *nl = strchr(l, '\n');
        l = nl ? nl + 1 : l + strlen(l);
    }
    return n;
}

static void test_mqtt_state_availability_discovery(void)
{
    fm_test_broker b;
    if (!fm_test_broker_start(&b, fm_test_tmpdir(), NULL))
        return;
    char db[600];
    snprintf(db, sizeof db, "%s/site.db", fm_test_tmpdir());
    fm_site_config *cfg = site_for("door,hall", b.port, "n1", db, "discovery: true");
    fm_site_state *st = cfg ? state_for(cfg) : NULL;
    char *text = NULL;
    if (!cfg || !st)
        goto out;
    fm_site_state_status(st, 0, FM_CAM_RUNNING, NULL);
    fm_site_state_frame(st, 0, &(fm_site_frame){.latency_s = 0.03, .faces = 3, .people_now = 3,
                                                 .masked_now = 2, .unmasked_now = 1,
                                                 .fps = 15.0});
    fm_site_state_person(st, 0, "mask");
    fm_site_state_person(st, 0, "no_mask");
    fm_site_state_person(st, 0, "mask");
    fm_site_state_person(st, 0, "mask");

    /* a node that dies: its process is killed, the broker publishes the last will */
    pid_t child = fork();
    if (child == 0) {
        fm_err err = {0};
        fm_mqtt *m = fm_mqtt_start(cfg, st, &err);
        if (!m)
            _exit(3);
        for (;;)
            pause();
    }
    FM_CHECK(child > 0);
    FM_CHECK_MSG(wait_retained(&b, "facemask/n1/availability", "facemask/n1/availability online",
                               10, &text),
                 "availability: %s", text ? text : "(none)");
    FM_CHECK_MSG(wait_retained(&b, "facemask/+/state", "facemask/hall/state", 5, &text),
                 "state: %s", text ? text : "(none)");
    FM_CHECK_STR_CONTAINS(text, "facemask/door/state {\"node\":\"n1\",\"camera\":\"door\","
                                "\"status\":\"running\",\"people_now\":3,\"masked_now\":2,"
                                "\"unmasked_now\":1,\"people\":4,\"masked\":3,\"unmasked\":1,"
                                "\"compliance\":0.7500,\"fps\":15.0,\"time\":");
    FM_CHECK_STR_CONTAINS(text, "facemask/hall/state {\"node\":\"n1\",\"camera\":\"hall\","
                                "\"status\":\"starting\",\"people_now\":0");
    free(text);
    text = fm_test_retained(&b, "homeassistant/#", NULL, 1);
    FM_CHECK_INT(count_lines(text, "homeassistant/sensor/facemask_n1/"), 2 * FM_MQTT_SENSORS);
    FM_CHECK_STR_CONTAINS(text, "homeassistant/sensor/facemask_n1/door_people_now/config {");
    FM_CHECK_STR_CONTAINS(text, "\"unique_id\":\"facemask_n1_hall_compliance\"");
    FM_CHECK_STR_CONTAINS(text, "\"availability_topic\":\"facemask/n1/availability\"");
    FM_CHECK_STR_CONTAINS(text, "\"device\":{\"identifiers\":[\"facemask_n1_door\"]");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    FM_CHECK_MSG(wait_retained(&b, "facemask/n1/availability", "availability offline", 10,
                               &text),
                 "no last will: %s", text ? text : "(none)");
    free(text);
    text = NULL;

    /* a node that stops cleanly says "offline" itself; state changes are published */
    fm_err err = {0};
    fm_mqtt *m = fm_mqtt_start(cfg, st, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m)
        goto out;
    FM_CHECK(wait_retained(&b, "facemask/n1/availability", "availability online", 10, &text));
    fm_site_state_frame(st, 1, &(fm_site_frame){.people_now = 1, .unmasked_now = 1, .fps = 9.5});
    fm_site_state_status(st, 1, FM_CAM_RUNNING, NULL);
    FM_CHECK_MSG(wait_retained(&b, "facemask/hall/state",
                               "\"status\":\"running\",\"people_now\":1,\"masked_now\":0,"
                               "\"unmasked_now\":1",
                               5, &text),
                 "state change: %s", text ? text : "(none)");
    fm_mqtt_stop(m);
    FM_CHECK_MSG(wait_retained(&b, "facemask/n1/availability", "availability offline", 5, &text),
                 "no offline on stop: %s", text ? text : "(none)");
out:
    free(text);
    fm_test_broker_stop(&b);
    fm_site_state_free(st);
    fm_site_config_free(cfg);
}

/* --- credentials and errors -------------------------------------------------------------- */

static int wait_error(fm_mqtt *m, const char *needle, double timeout_s, fm_mqtt_stats *s)
{
    double t0 = mono_s();
    while (mono_s() - t0 < timeout_s) {
        fm_mqtt_get_stats(m, s);
        if (strstr(s->last_error, needle))
            return 1;
        sleep_ms(20);
    }
    return 0;
}

static void test_mqtt_credentials_and_errors(void)
{
    char dir[512], pw[600], db[600];
    snprintf(dir, sizeof dir, "%s", fm_test_tmpdir());
    snprintf(pw, sizeof pw, "%s/passwd", dir);
    snprintf(db, sizeof db, "%s/site.db", dir);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "mosquitto_passwd -b -c '%s' facemask s3cret-pass >/dev/null 2>&1",
             pw);
    FM_CHECK_INT(fm_test_sh(cmd), 0);
    char extra[800];
    snprintf(extra, sizeof extra, "allow_anonymous false\npassword_file %s\n", pw);
    fm_test_broker b;
    if (!fm_test_broker_start(&b, dir, extra))
        return;
    fm_site_config *bad = site_for("door", b.port, "n1", db,
                                   "username: facemask\npassword: wrong-pass");
    fm_site_config *good = site_for("door", b.port, "n1", db,
                                    "username: facemask\npassword: s3cret-pass");
    fm_site_config *anon = site_for("door", b.port, "n1", db, NULL);
    fm_site_state *st = bad ? state_for(bad) : NULL;
    if (!bad || !good || !anon || !st)
        goto out;
    fm_err err = {0};
    fm_mqtt_stats s;
    /* refused credentials: a clear reason, no session, and it keeps trying; the reason is
     * logged once, not once per attempt (standard error goes to a file meanwhile) */
    char logpath[700];
    snprintf(logpath, sizeof logpath, "%s/stderr.txt", dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FM_CHECK(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    fm_mqtt *m = fm_mqtt_start(bad, st, &err);
    int refused = m && wait_error(m, "refused the connection: not authorised (check "
                                     "mqtt.username and mqtt.password)", 5, &s);
    sleep_ms(1700); /* more attempts: after 0.5 s, 1 s */
    fm_mqtt_get_stats(m, &s);
    fm_mqtt_stop(m);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    FM_CHECK(refused);
    FM_CHECK_INT(s.connects, 0);
    FM_CHECK_INT(s.connected, 0);
    char *log = fm_test_read_file(logpath, NULL);
    int times = 0;
    for (const char *p = log; p && (p = strstr(p, "not authorised")); p++)
        times++;
    FM_CHECK_MSG(times == 1, "logged %d times:\n%s", times, log ? log : "");
    FM_CHECK_STR_CONTAINS(log, "facemask: mqtt: 127.0.0.1:");
    free(log);
    /* while the broker refused it at least three times */
    snprintf(logpath, sizeof logpath, "%s/mosquitto.log", dir);
    log = fm_test_read_file(logpath, NULL);
    times = 0;
    for (const char *p = log; p && (p = strstr(p, "not authorised")); p++)
        times++;
    FM_CHECK_MSG(times >= 3, "the broker refused %d times:\n%s", times, log ? log : "");
    free(log);
    m = fm_mqtt_start(anon, st, &err);
    FM_CHECK(m && wait_error(m, "not authorised", 5, &s));
    fm_mqtt_stop(m);
    /* the right ones */
    m = fm_mqtt_start(good, st, &err);
    FM_CHECK(m && wait_connected(m, 5));
    fm_mqtt_get_stats(m, &s);
    FM_CHECK_MSG(s.last_error[0] == 0, "%s", s.last_error);
    fm_mqtt_stop(m);
    /* no broker at all: not an error at start, a reason afterwards */
    fm_test_broker_stop(&b);
    m = fm_mqtt_start(good, st, &err);
    FM_CHECK(m && wait_error(m, "cannot connect: Connection refused", 5, &s));
    FM_CHECK_STR_CONTAINS(s.last_error, ""); /* one line: */
    FM_CHECK(strchr(s.last_error, '\n') == NULL);
    fm_mqtt_stop(m);
    /* what retrying cannot fix fails at start */
    fm_site_config *tls = site_for("door", b.port, "n1", db, "tls:\n  ca: /nonexistent/ca.crt");
    if (tls) {
        FM_CHECK(fm_mqtt_start(tls, st, &err) == NULL);
        FM_CHECK_STR_CONTAINS(err.msg, "mqtt.tls.ca: /nonexistent/ca.crt: cannot read: "
                                       "No such file or directory");
        fm_site_config_free(tls);
    }
    char baddb[700];
    snprintf(baddb, sizeof baddb, "%s/no-such-dir/site.db", dir);
    fm_site_config *nodb = site_for("door", b.port, "n1", baddb, NULL);
    if (nodb) {
        FM_CHECK(fm_mqtt_start(nodb, st, &err) == NULL);
        FM_CHECK_STR_CONTAINS(err.msg, "mqtt: ");
        FM_CHECK_STR_CONTAINS(err.msg, baddb);
        fm_site_config_free(nodb);
    }
out:
    fm_test_broker_stop(&b);
    fm_site_state_free(st);
    fm_site_config_free(bad);
    fm_site_config_free(good);
    fm_site_config_free(anon);
}

/* --- TLS ---------------------------------------------------------------------------------- */

/* A CA, a broker certificate for 127.0.0.1 and a client certificate, made by openssl in dir;
 * a second, unrelated CA as other-ca.crt. 1 on success. */
static int make_certs(const char *dir)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "(cd '%s' && K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
             "openssl req -x509 $K -keyout ca.key -out ca.crt -days 2 -subj /CN=fm-test-ca && "
             "openssl req -x509 $K -keyout other-ca.key -out other-ca.crt -days 2 "
             "-subj /CN=fm-other-ca && "
             "openssl req $K -keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
             "printf 'subjectAltName=IP:127.0.0.1\\n' > server.ext && "
             "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out server.crt -days 2 -extfile server.ext && "
             "openssl req $K -keyout client.key -out client.csr -subj /CN=fm-node && "
             "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out client.crt -days 2) >/dev/null 2>&1",
             dir);
    int rc = fm_test_sh(cmd);
    FM_CHECK_MSG(rc == 0, "openssl failed (%d): %s", rc, cmd);
    return rc == 0;
}

static void test_mqtt_tls(void)
{
    char dir[512], db[600], extra[2048], yaml[2048], args[2048];
    snprintf(dir, sizeof dir, "%s", fm_test_tmpdir());
    snprintf(db, sizeof db, "%s/site.db", dir);
    if (!make_certs(dir))
        return;
    /* the broker wants a client certificate signed by the CA */
    snprintf(extra, sizeof extra,
             "cafile %s/ca.crt\ncertfile %s/server.crt\nkeyfile %s/server.key\n"
             "require_certificate true\n",
             dir, dir, dir);
    fm_test_broker b;
    if (!fm_test_broker_start(&b, dir, extra))
        return;
    fm_test_sub s;
    memset(&s, 0, sizeof s);
    snprintf(args, sizeof args, "--cafile %s/ca.crt --cert %s/client.crt --key %s/client.key",
             dir, dir, dir);
    snprintf(yaml, sizeof yaml,
             "tls:\n  ca: %s/ca.crt\n  cert: %s/client.crt\n  key: %s/client.key", dir, dir,
             dir);
    fm_site_config *good = site_for("door,hall", b.port, "n1", db, yaml);
    snprintf(yaml, sizeof yaml, "tls:\n  ca: %s/other-ca.crt\n  cert: %s/client.crt\n"
             "  key: %s/client.key", dir, dir, dir);
    fm_site_config *wrong_ca = site_for("door,hall", b.port, "n1", db, yaml);
    snprintf(yaml, sizeof yaml, "tls:\n  ca: %s/ca.crt", dir);
    fm_site_config *no_cert = site_for("door,hall", b.port, "n1", db, yaml);
    fm_site_config *plain = site_for("door,hall", b.port, "n1", db, NULL);
    fm_site_state *st = good ? state_for(good) : NULL;
    if (!good || !wrong_ca || !no_cert || !plain || !st ||
        !fm_test_sub_start(&s, &b, "facemask/+/events", NULL, args))
        goto out;
    fm_err err = {0};
    fm_mqtt *m = fm_mqtt_start(good, st, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m)
        goto out;
    writer w = {.db = db, .m = m, .cams = {"door", "hall"}, .max = 30, .period_ms = 5};
    write_events(&w);
    FM_CHECK(wait_all_sent(db, 30, 10));
    FM_CHECK(wait_received(&s, 30, 10));
    fm_mqtt_stop(m);
    row *rows;
    int n = read_rows(db, &rows);
    char *text = fm_test_sub_output(&s);
    int dups = 0;
    FM_CHECK(text && match_rows(text, rows, n, "n1", &dups));
    free(text);
    free_rows(rows, n);
    /* a broker whose certificate the CA did not sign, no client certificate, no TLS */
    fm_mqtt_stats ms;
    m = fm_mqtt_start(wrong_ca, st, &err);
    FM_CHECK(m && wait_error(m, "certificate verify failed", 5, &ms));
    FM_CHECK_INT(ms.connects, 0);
    fm_mqtt_stop(m);
    m = fm_mqtt_start(no_cert, st, &err);
    FM_CHECK(m && wait_error(m, "cannot connect: the broker closed the connection", 5, &ms));
    FM_CHECK_STR_CONTAINS(ms.last_error, "certificate required");
    FM_CHECK_INT(ms.connects, 0);
    fm_mqtt_stop(m);
    m = fm_mqtt_start(plain, st, &err);
    FM_CHECK(m && wait_error(m, "cannot connect: the broker closed the connection", 5, &ms));
    FM_CHECK_INT(ms.connects, 0);
    fm_mqtt_stop(m);
out:
    fm_test_sub_stop(&s);
    fm_test_broker_stop(&b);
    fm_site_state_free(st);
    fm_site_config_free(good);
    fm_site_config_free(wrong_ca);
    fm_site_config_free(no_cert);
    fm_site_config_free(plain);
}

/* Without mqtt.node the node is the host name (up to its first dot, as a topic level); a site
 * without an mqtt: section is refused. No broker is needed for either. */
static void test_mqtt_node_name_and_bad_start(void)
{
    char db[600], text[1024];
    snprintf(db, sizeof db, "%s/site.db", fm_test_tmpdir());
    int port = fm_test_free_port();
    snprintf(text, sizeof text, "cameras:\n  - name: door\n    source: /dev/null\nmqtt:\n"
             "  host: 127.0.0.1\n  port: %d\ndatabase:\n  path: %s\n", port, db);
    fm_err err = {0};
    fm_site_config *cfg = fm_site_config_parse(text, strlen(text), "t.yaml", &err);
    FM_CHECK_MSG(cfg != NULL, "%s", err.msg);
    fm_site_state *st = cfg ? state_for(cfg) : NULL;
    if (!st) {
        fm_site_config_free(cfg);
        return;
    }
    char host[256] = "", expect[65];
    gethostname(host, sizeof host - 1);
    size_t n = 0;
    for (size_t i = 0; host[i] && host[i] != '.' && n < 64; i++)
        expect[n++] = (host[i] >= 'a' && host[i] <= 'z') || (host[i] >= 'A' && host[i] <= 'Z') ||
                              (host[i] >= '0' && host[i] <= '9') || host[i] == '_' ||
                              host[i] == '-'
                          ? host[i]
                          : '-';
    expect[n] = '\0';
    fm_mqtt *m = fm_mqtt_start(cfg, st, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    fm_mqtt_stats s;
    fm_mqtt_get_stats(m, &s);
    FM_CHECK_MSG(strcmp(s.node, n ? expect : "facemask") == 0, "node '%s', host '%s'", s.node,
                 host);
    fm_mqtt_stop(m);
    cfg->mqtt.enabled = 0;
    FM_CHECK(fm_mqtt_start(cfg, st, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "mqtt: the site has no mqtt: section");
    FM_CHECK(fm_mqtt_start(NULL, st, &err) == NULL);
    fm_mqtt_notify(NULL); /* both ignore NULL */
    fm_mqtt_stop(NULL);
    FM_CHECK_INT(fm_mqtt_remotes(NULL, NULL, 0), 0);
    fm_site_state_free(st);
    fm_site_config_free(cfg);
}

/* --- aggregate --------------------------------------------------------------------------- */

static int find_remote(fm_mqtt *m, const char *camera, fm_mqtt_remote *out)
{
    fm_mqtt_remote r[8];
    int n = fm_mqtt_remotes(m, r, 8);
    for (int i = 0; i < n && i < 8; i++)
        if (strcmp(r[i].camera, camera) == 0) {
            *out = r[i];
            return 1;
        }
    return 0;
}

static void test_mqtt_aggregate_two_nodes(void)
{
    fm_test_broker b;
    if (!fm_test_broker_start(&b, fm_test_tmpdir(), NULL))
        return;
    char dba[600], dbb[600];
    snprintf(dba, sizeof dba, "%s/a.db", fm_test_tmpdir());
    snprintf(dbb, sizeof dbb, "%s/b.db", fm_test_tmpdir());
    fm_site_config *ca = site_for("a-door,a-hall", b.port, "node-a", dba, NULL);
    fm_site_config *cb = site_for("b-desk", b.port, "node-b", dbb, "aggregate: true");
    fm_site_state *sa = ca ? state_for(ca) : NULL, *sb = cb ? state_for(cb) : NULL;
    fm_mqtt *ma = NULL, *mb = NULL;
    if (!sa || !sb)
        goto out;
    fm_site_state_status(sa, 0, FM_CAM_RUNNING, NULL);
    fm_site_state_frame(sa, 0, &(fm_site_frame){.people_now = 2, .masked_now = 1,
                                                 .unmasked_now = 1, .fps = 12.0});
    fm_site_state_person(sa, 0, "mask");
    fm_site_state_status(sb, 0, FM_CAM_RUNNING, NULL);
    fm_err err = {0};
    mb = fm_mqtt_start(cb, sb, &err);
    FM_CHECK_MSG(mb != NULL, "%s", err.msg);
    ma = fm_mqtt_start(ca, sa, &err);
    FM_CHECK_MSG(ma != NULL, "%s", err.msg);
    if (!ma || !mb)
        goto out;
    writer w = {.db = dba, .m = ma, .cams = {"a-door", "a-hall"}, .max = 10, .period_ms = 10};
    write_events(&w);
    FM_CHECK(wait_all_sent(dba, 10, 10));
    fm_mqtt_remote r;
    double t0 = mono_s();
    int ok = 0;
    while (!ok && mono_s() - t0 < 10) {
        fm_mqtt_remote h;
        ok = find_remote(mb, "a-door", &r) && r.events == 5 && find_remote(mb, "a-hall", &h) &&
             h.events == 5 && h.has_state;
        if (!ok)
            sleep_ms(50);
    }
    FM_CHECK_MSG(ok, "the aggregating node does not see node-a's cameras and events");
    fm_mqtt_remote all[8];
    int n = fm_mqtt_remotes(mb, all, 8);
    FM_CHECK_INT(n, 2); /* not its own b-desk */
    FM_CHECK(strcmp(all[0].camera, "a-door") == 0 && strcmp(all[1].camera, "a-hall") == 0);
    FM_CHECK(strcmp(r.node, "node-a") == 0);
    FM_CHECK_INT(r.online, 1);
    FM_CHECK(strcmp(r.status, "running") == 0);
    FM_CHECK_INT(r.people_now, 2);
    FM_CHECK_INT(r.masked_now, 1);
    FM_CHECK_INT(r.people, 1);
    FM_CHECK_NEAR(r.compliance, 1.0, 1e-9);
    FM_CHECK_NEAR(r.fps, 12.0, 1e-9);
    FM_CHECK_INT(r.last_event_id, 9);
    FM_CHECK(strcmp(r.last_event, "appear") == 0);
    FM_CHECK(r.updated > 0);
    FM_CHECK_INT(fm_mqtt_remotes(ma, all, 8), 0); /* node-a does not aggregate */
    /* node-a's state changes reach node-b; node-a stopping marks it offline */
    fm_site_state_frame(sa, 0, &(fm_site_frame){.people_now = 4, .masked_now = 4, .fps = 12.0});
    t0 = mono_s();
    while (mono_s() - t0 < 5 && !(find_remote(mb, "a-door", &r) && r.people_now == 4))
        sleep_ms(50);
    FM_CHECK_INT(r.people_now, 4);
    fm_mqtt_stop(ma);
    ma = NULL;
    t0 = mono_s();
    while (mono_s() - t0 < 5 && find_remote(mb, "a-door", &r) && r.online)
        sleep_ms(50);
    FM_CHECK_INT(r.online, 0);
    FM_CHECK_INT(r.people_now, 4); /* the last state is kept */
out:
    fm_mqtt_stop(ma);
    fm_mqtt_stop(mb);
    fm_test_broker_stop(&b);
    fm_site_state_free(sa);
    fm_site_state_free(sb);
    fm_site_config_free(ca);
    fm_site_config_free(cb);
}

void suite_serve_mqtt(void);
void suite_serve_mqtt(void)
{
    FM_RUN(test_mqtt_msg_event_payload);
    FM_RUN(test_mqtt_msg_state_roundtrip);
    FM_RUN(test_mqtt_msg_hostile_input);
    FM_RUN(test_mqtt_msg_discovery);
    FM_RUN(test_mqtt_history_mark_sent_batch);
    FM_RUN(test_mqtt_events_match_history);
    FM_RUN(test_mqtt_killed_then_restarted);
    FM_RUN(test_mqtt_node_name_and_bad_start);
    FM_RUN(test_mqtt_credentials_and_errors);
    FM_RUN(test_mqtt_state_availability_discovery);
    FM_RUN(test_mqtt_tls);
    FM_RUN(test_mqtt_aggregate_two_nodes);
    FM_RUN(test_mqtt_broker_down_20s);
}
