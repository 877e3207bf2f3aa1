/* facemask serve as a site runs it: the real command, the demo clip as two looping cameras, the
 * dashboard's server on 127.0.0.1 (serve starts it because the file has an http: section), a
 * real SQLite history. While both cameras run:
 *   - /healthz answers, /api/cameras lists both cameras running with frames, faces and the
 *     live-view path;
 *   - /metrics passes the strict Prometheus check, and its frame counters lie between two
 *     /api/cameras readings taken before and after it (one state, two views);
 *   - /api/events?camera=front gives only front's events, with appear lines;
 *   - the live view sends a JPEG of the running pipeline (encoded only while watched);
 * then SIGTERM: exit 0, and the history holds at least the events the API listed.
 * The site also has an mqtt: section and a real mosquitto: every stored row of both cameras is
 * marked sent and reached a real mosquitto_sub, one for one, in order (fm_test_match_events). */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "test_http_util.h"
#include "test_mqtt_util.h"
#include "test_video_util.h"

static double serve_api_num(const char *body, const char *expr)
{
    char *v = th_json(body, expr);
    double x = v ? strtod(v, NULL) : NAN;
    FM_CHECK_MSG(v && !strstr(v, "ERROR") && !strstr(v, "Error"), "%s: %s", expr, v ? v : "");
    free(v);
    return x;
}

/* The first JPEG (FF D8 .. FF D9) of the camera's MJPEG stream within timeout_s: its size. */
static long live_jpeg_bytes(int port, const char *cam, double timeout_s)
{
    int fd = th_connect(port, timeout_s);
    if (fd < 0)
        return -1;
    char req[256];
    snprintf(req, sizeof req, "GET /api/cameras/%s/live.mjpeg HTTP/1.0\r\nHost: x\r\n\r\n", cam);
    th_send_all(fd, req, strlen(req));
    size_t cap = 1 << 22, n = 0;
    unsigned char *buf = malloc(cap);
    long size = -1;
    double until = tv_now() + timeout_s;
    while (buf && size < 0 && n < cap && tv_now() < until) {
        ssize_t got = recv(fd, buf + n, cap - n, 0);
        if (got <= 0)
            break;
        n += (size_t)got;
        for (size_t i = 0; i + 1 < n && size < 0; i++)
            if (buf[i] == 0xff && buf[i + 1] == 0xd8)
                for (size_t j = i + 2; j + 1 < n; j++)
                    if (buf[j] == 0xff && buf[j + 1] == 0xd9) {
                        size = (long)(j + 2 - i);
                        break;
                    }
    }
    free(buf);
    close(fd);
    return size;
}

static long long db_count(const char *db, const char *camera)
{
    sqlite3 *s = NULL;
    long long n = -1;
    if (sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(s, "SELECT count(*) FROM events WHERE camera = ?", -1, &q,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, camera, -1, SQLITE_STATIC);
            if (sqlite3_step(q) == SQLITE_ROW)
                n = sqlite3_column_int64(q, 0);
        }
        sqlite3_finalize(q);
    }
    sqlite3_close(s);
    return n;
}

static void test_serve_site_http(void)
{
    const char *tmp = fm_test_tmpdir();
    double slow = fm_test_sanitized() ? 4 : 1;
    int port = tv_closed_port();
    char site[1100], db[1100], text[4096], log[1100], clip[1100], models[1100];
    snprintf(site, sizeof site, "%s/site.yaml", tmp);
    snprintf(db, sizeof db, "%s/site.db", tmp);
    snprintf(log, sizeof log, "%s/serve.log", tmp);
    snprintf(clip, sizeof clip, "%s/demo/uengmim_test_video.avi", fm_test_shared());
    snprintf(models, sizeof models, "models"); /* the default detector is models/detector */
    snprintf(text, sizeof text,
             "cameras:\n"
             "  - name: front\n    source: %s\n    loop: true\n"
             "  - name: back\n    source: %s\n    loop: true\n"
             "http:\n  listen: 127.0.0.1\n  port: %d\n"
             "database:\n  path: %s\n",
             clip, clip, port, db);
    fm_test_broker broker;
    fm_test_sub sub;
    memset(&sub, 0, sizeof sub);
    char bdir[1100];
    snprintf(bdir, sizeof bdir, "%s/broker", tmp);
    mkdir(bdir, 0700);
    int broker_up = fm_test_broker_start(&broker, bdir, NULL);
    FM_CHECK_MSG(broker_up, "mosquitto did not start");
    if (!broker_up)
        return;
    FM_CHECK(fm_test_sub_start(&sub, &broker, "facemask/+/events", NULL, NULL));
    size_t used = strlen(text);
    snprintf(text + used, sizeof text - used, "mqtt:\n  port: %d\n  node: site-test\n",
             broker.port);
    fm_test_write_text(site, text);
    char *argv[] = {(char *)fm_test_bin(), "serve", "--config", site, "--model-dir", models,
                    "--classifier", "models/mask", NULL};
    pid_t pid = tv_spawn(argv, log);
    FM_CHECK(pid > 0);
    if (pid <= 0)
        return;

    th_response r = {0};
    int up = 0;
    for (double until = tv_now() + 60 * slow; !up && tv_now() < until; usleep(100000)) {
        up = th_get(port, "GET", "/healthz", NULL, &r) == 0 && r.status == 200;
        th_free(&r);
    }
    FM_CHECK_MSG(up, "serve's /healthz on port %d never answered", port);

    /* both cameras running, with frames, faces and people in view */
    char *cams = NULL;
    for (double until = tv_now() + 90 * slow; up && tv_now() < until; usleep(250000)) {
        th_free(&r);
        if (th_get(port, "GET", "/api/cameras", NULL, &r) != 0 || r.status != 200)
            continue;
        char *v = th_json(r.body, "min(c['frames'] for c in d['cameras'])");
        int frames = v ? atoi(v) : 0;
        free(v);
        if (frames >= 20) {
            cams = r.body;
            r.body = NULL;
            break;
        }
    }
    th_free(&r);
    FM_CHECK_MSG(cams != NULL, "the cameras never reached 20 frames each");
    if (cams) {
        TH_JSON_EQ(cams, "[c['name'] for c in d['cameras']]", "['front', 'back']");
        TH_JSON_EQ(cams, "[c['status'] for c in d['cameras']]", "['running', 'running']");
        TH_JSON_EQ(cams, "[c['local'] for c in d['cameras']]", "[True, True]");
        TH_JSON_EQ(cams, "d['cameras'][0]['live']", "'/api/cameras/front/live.mjpeg'");
        FM_CHECK(serve_api_num(cams, "d['cameras'][0]['faces']") >= 20);
        FM_CHECK(serve_api_num(cams, "d['cameras'][1]['faces']") >= 20);
        double before = serve_api_num(cams, "d['cameras'][0]['frames']");

        /* /metrics between two readings of /api/cameras */
        FM_CHECK(th_get(port, "GET", "/metrics", NULL, &r) == 0 && r.status == 200);
        char msg[512] = "";
        FM_CHECK_MSG(r.body && th_prom_check(r.body, msg, sizeof msg) == 0, "%s", msg);
        double m = r.body ? th_prom_value(r.body,
                                          "facemask_frames_processed_total{camera=\"front\"}")
                          : NAN;
        double up_front = r.body ? th_prom_value(r.body, "facemask_camera_up{camera=\"front\"}")
                                 : NAN;
        double unsent = r.body ? th_prom_value(r.body, "facemask_mqtt_events_unsent") : NAN;
        th_free(&r);
        long long stored = fm_test_sql_int(db, "SELECT count(*) FROM events");
        FM_CHECK_MSG(unsent >= 0 && unsent <= (double)stored, "unsent %g of %lld stored", unsent,
                     stored);
        FM_CHECK(th_get(port, "GET", "/api/cameras", NULL, &r) == 0 && r.status == 200);
        double after = r.body ? serve_api_num(r.body, "d['cameras'][0]['frames']") : NAN;
        th_free(&r);
        FM_CHECK_MSG(m >= before && m <= after, "metrics frames %g not within %g..%g", m, before,
                     after);
        FM_CHECK_NEAR(up_front, 1, 0);

        /* events of one camera */
        FM_CHECK(th_get(port, "GET", "/api/events?camera=front&limit=1000", NULL, &r) == 0 &&
                 r.status == 200);
        TH_JSON_EQ(r.body, "sorted(set(e['camera'] for e in d['events']))", "['front']");
        TH_JSON_EQ(r.body, "any(e['type'] == 'appear' for e in d['events'])", "True");
        double listed = r.body ? serve_api_num(r.body, "len(d['events'])") : 0;
        th_free(&r);

        /* the live view: a JPEG of the running pipeline */
        long jpeg = live_jpeg_bytes(port, "back", 20 * slow);
        FM_CHECK_MSG(jpeg > 1000, "live view of back: %ld bytes", jpeg);

        kill(pid, SIGTERM);
        int rc = tv_wait_exit(pid, 60 * slow);
        FM_CHECK_MSG(rc == 0, "serve exit %d", rc);
        pid = 0;
        FM_CHECK_MSG(db_count(db, "front") >= (long long)listed, "history %lld < API %g",
                     db_count(db, "front"), listed);
        /* MQTT: every stored row was acknowledged (sent) and received, in order */
        fm_test_row *rows = NULL;
        int n = fm_test_read_rows(db, &rows);
        FM_CHECK(n > 0);
        FM_CHECK_MSG(fm_test_wait_received(&sub, n, 20 * slow), "mosquitto_sub got fewer than %d",
                     n);
        FM_CHECK_INT(fm_test_sql_int(db, "SELECT count(*) FROM events WHERE sent = 0"), 0);
        char *got = fm_test_sub_output(&sub);
        int dups = 0;
        FM_CHECK(got && fm_test_match_events(got, rows, n, "site-test", &dups));
        free(got);
        fm_test_free_rows(rows, n);
        printf("  front: %g frames at the check, %g events listed; live JPEG %ld bytes; "
               "%d events over MQTT (%d repeated)\n", before, listed, jpeg, n, dups);
    }
    free(cams);
    fm_test_sub_stop(&sub);
    fm_test_broker_stop(&broker);
    if (pid > 0) {
        kill(pid, SIGKILL);
        tv_wait_exit(pid, 10);
    }
    if (fm_test_failed_now()) {
        char *l = fm_test_read_file(log, NULL);
        printf("  serve log:\n%s\n", l ? l : "(none)");
        free(l);
    }
}

void suite_serve_site(void);
void suite_serve_site(void)
{
    FM_RUN(test_serve_site_http);
}
