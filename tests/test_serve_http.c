/* The web side of `facemask serve` (src/serve/http.h): real HTTP on 127.0.0.1 on a free port
 * against a site state and a history filled with known numbers. The API's JSON is parsed
 * strictly (python3's json) and its values compared exactly; /metrics passes a strict
 * Prometheus text check; the security rules (auth, methods, snapshot paths, request size);
 * the dashboard's files. The live view (MJPEG) is in test_serve_http_live.c. */
#include <crypt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "io/draw.h"
#include "io/image.h"
#include "serve/http.h"
#include "site/config.h"
#include "site/history.h"
#include "site/state.h"
#include "test.h"
#include "test_http_util.h"

#define T0 1767268800.0 /* 2026-01-01 12:00:00 UTC */

typedef struct {
    char dir[1024];
    fm_site_config *site;
    fm_site_state *state;
    fm_http *http;
    int port;
    long long snap_ok, snap_dotdot, snap_abs, snap_link, snap_linkdir, snap_missing;
} fixture;

/* A site of two cameras, door (with a snapshots folder) and hall, with `http_yaml` as the
 * http: section's body; the state and history filled with known numbers; HTTP started on a
 * free port. */
static int setup(fixture *f, const char *name, const char *http_yaml)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s/%s", fm_test_tmpdir(), name);
    mkdir(f->dir, 0700);
    char path[1200], yaml[4096], buf[1400];
    snprintf(buf, sizeof buf, "%s/snaps", f->dir);
    mkdir(buf, 0700);
    snprintf(buf, sizeof buf, "%s/snaps/sub", f->dir);
    mkdir(buf, 0700);
    snprintf(yaml, sizeof yaml,
             "cameras:\n"
             "  - name: door\n    source: /dev/null\n    snapshots: %s/snaps\n"
             "  - name: hall\n    source: /dev/null\n"
             "http:\n%s"
             "database:\n  path: %s/site.db\n",
             f->dir, http_yaml, f->dir);
    snprintf(path, sizeof path, "%s/site.yaml", f->dir);
    fm_test_write_text(path, yaml);
    fm_err err = {0};
    f->site = fm_site_config_load(path, &err);
    FM_CHECK_MSG(f->site != NULL, "%s", err.msg);
    if (!f->site)
        return -1;
    f->site->http.port = 0; /* a free port */
    const char *names[] = {"door", "hall"};
    f->state = fm_site_state_new(2, names, &err);
    FM_CHECK_MSG(f->state != NULL, "%s", err.msg);
    if (!f->state)
        return -1;
    /* door: 3 frames (latency 4 ms, 20 ms, 300 ms), 5 skipped, 4 people left (3 masked) */
    const double lat[3] = {0.004, 0.020, 0.300};
    for (int i = 0; i < 3; i++)
        fm_site_state_frame(f->state, 0, &(fm_site_frame){.latency_s = lat[i], .faces = 2,
                                                          .people_now = 2, .masked_now = 1,
                                                          .unmasked_now = 1, .fps = 14.5});
    fm_site_state_skipped(f->state, 0, 5);
    fm_site_state_person(f->state, 0, "mask");
    fm_site_state_person(f->state, 0, "mask");
    fm_site_state_person(f->state, 0, "no_mask");
    fm_site_state_person(f->state, 0, "mask");
    fm_site_state_reconnect(f->state, 0);
    fm_site_state_reconnect(f->state, 0);

    /* history: 4 events on 2026-01-01, 2 "leave" events now (today), snapshots */
    fm_history *h = fm_history_open(f->site->database.path, FM_HISTORY_CREATE, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    if (!h)
        return -1;
    struct {
        const char *cam;
        double t;
        const char *type;
        long long track;
        const char *label;
    } ev[] = {
        {"door", T0 + 1, "appear", 1, NULL},      {"door", T0 + 10, "leave", 1, "mask"},
        {"hall", T0 + 20, "leave", 7, "no_mask"}, {"door", T0 + 3700, "leave", 2, "no_mask"},
        {"door", fm_wall_now() - 1, "leave", 3, "mask"},
        {"door", fm_wall_now() - 1, "leave", 4, "no_mask"},
    };
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++) {
        char payload[128];
        snprintf(payload, sizeof payload, "{\"event\":\"%s\",\"track\":%lld}", ev[i].type,
                 ev[i].track);
        fm_history_event e = {ev[i].cam, ev[i].t, ev[i].type, ev[i].track, ev[i].label,
                              payload};
        FM_CHECK_MSG(fm_history_add_event(h, &e, NULL, &err) == FM_OK, "%s", err.msg);
    }
    /* snapshot files: a good one, and paths that try to leave the folder */
    snprintf(buf, sizeof buf, "%s/snaps/sub/ok.jpg", f->dir);
    fm_test_write_text(buf, "\xff\xd8 snapshot one \xff\xd9");
    snprintf(buf, sizeof buf, "%s/secret.jpg", f->dir);
    fm_test_write_text(buf, "secret");
    char target[1400];
    snprintf(target, sizeof target, "%s/secret.jpg", f->dir);
    snprintf(buf, sizeof buf, "%s/snaps/link.jpg", f->dir);
    FM_CHECK(symlink(target, buf) == 0);
    snprintf(target, sizeof target, "%s", f->dir);
    snprintf(buf, sizeof buf, "%s/snaps/linkdir", f->dir);
    FM_CHECK(symlink(target, buf) == 0);
    snprintf(target, sizeof target, "%s/secret.jpg", f->dir);
    FM_CHECK_INT(fm_history_add_snapshot(h, "door", T0 + 11, 2, "sub/ok.jpg", &f->snap_ok, &err),
                 FM_OK);
    fm_history_add_snapshot(h, "door", T0 + 12, 0, "../secret.jpg", &f->snap_dotdot, &err);
    fm_history_add_snapshot(h, "door", T0 + 13, 0, target, &f->snap_abs, &err);
    fm_history_add_snapshot(h, "door", T0 + 14, 0, "link.jpg", &f->snap_link, &err);
    fm_history_add_snapshot(h, "door", T0 + 15, 0, "linkdir/secret.jpg", &f->snap_linkdir, &err);
    fm_history_add_snapshot(h, "hall", T0 + 16, 0, "sub/ok.jpg", &f->snap_missing, &err);
    fm_history_close(h);

    f->http = fm_http_start(f->site, f->state, NULL, &err);
    FM_CHECK_MSG(f->http != NULL, "%s", err.msg);
    if (!f->http)
        return -1;
    f->port = fm_http_port(f->http);
    FM_CHECK(f->port > 0);
    return 0;
}

static void teardown(fixture *f)
{
    fm_http_stop(f->http);
    fm_site_state_free(f->state);
    fm_site_config_free(f->site);
}

static const char *const LOOPBACK = "  listen: 127.0.0.1\n";

/* /api/cameras, /api/events, /api/stats, /api/snapshots: exact values, strict JSON. */
static void test_http_api(void)
{
    fixture f;
    if (setup(&f, "api", LOOPBACK) != 0) {
        teardown(&f);
        return;
    }
    th_response r;
    FM_CHECK(th_get(f.port, "GET", "/healthz", NULL, &r) == 0);
    FM_CHECK_INT(r.status, 200);
    FM_CHECK(r.body && !strcmp(r.body, "ok\n"));
    th_free(&r);

    FM_CHECK(th_get(f.port, "GET", "/api/cameras", NULL, &r) == 0);
    FM_CHECK_INT(r.status, 200);
    char ct[128];
    FM_CHECK_STR_CONTAINS(th_header(&r, "Content-Type", ct, sizeof ct), "application/json");
    TH_JSON_EQ(r.body, "[c['name'] for c in d['cameras']]", "['door', 'hall']");
    /* without MQTT the node has no name, and no other node's camera is listed */
    TH_JSON_EQ(r.body, "[(c['node'], c['local']) for c in d['cameras']]",
               "[(None, True), (None, True)]");
    TH_JSON_EQ(r.body,
               "{k: d['cameras'][0][k] for k in ('status', 'fps', 'frames', 'skipped', 'faces', "
               "'people_now', 'masked_now', 'unmasked_now', 'people', 'masked', 'unmasked', "
               "'compliance', 'reconnects', 'today', 'live', 'local', 'error')}",
               "{'status': 'running', 'fps': 14.5, 'frames': 3, 'skipped': 5, 'faces': 6, "
               "'people_now': 2, 'masked_now': 1, 'unmasked_now': 1, 'people': 4, 'masked': 3, "
               "'unmasked': 1, 'compliance': 0.75, 'reconnects': 2, 'today': {'people': 2, "
               "'masked': 1, 'unmasked': 1, 'compliance': 0.5}, 'live': "
               "'/api/cameras/door/live.mjpeg', 'local': True, 'error': ''}");
    TH_JSON_EQ(r.body,
               "(d['cameras'][1]['status'], d['cameras'][1]['frames'], "
               "d['cameras'][1]['compliance'], d['cameras'][1]['today'], "
               "d['cameras'][1]['updated'])",
               "('starting', 0, None, {'people': 0, 'masked': 0, 'unmasked': 0, "
               "'compliance': None}, None)");
    th_free(&r);

    /* events: newest first; filters; limit */
    FM_CHECK(th_get(f.port, "GET", "/api/events?until=2026-01-02", NULL, &r) == 0);
    FM_CHECK_INT(r.status, 200);
    TH_JSON_EQ(r.body,
               "[(e['id'], e['camera'], e['time'], e['type'], e['track'], e['label'], e['sent']) "
               "for e in d['events']]",
               "[(4, 'door', 1767272500, 'leave', 2, 'no_mask', False), (3, 'hall', 1767268820, "
               "'leave', 7, 'no_mask', False), (2, 'door', 1767268810, 'leave', 1, 'mask', "
               "False), (1, 'door', 1767268801, 'appear', 1, None, False)]");
    TH_JSON_EQ(r.body, "json.loads(d['events'][3]['payload'])", "{'event': 'appear', 'track': 1}");
    th_free(&r);
    FM_CHECK(th_get(f.port, "GET",
                    "/api/events?camera=door&since=2026-01-01T12:00:10Z&until=1767272500&limit=5",
                    NULL, &r) == 0);
    FM_CHECK_INT(r.status, 200);
    TH_JSON_EQ(r.body, "[e['id'] for e in d['events']]", "[2]");
    th_free(&r);
    FM_CHECK(th_get(f.port, "GET", "/api/events?since=2026-01-01T13:00:00%2B01:00&limit=1", NULL,
                    &r) == 0);
    TH_JSON_EQ(r.body, "[e['id'] for e in d['events']]", "[6]");
    th_free(&r);
    FM_CHECK(th_get(f.port, "GET", "/api/events?type=appear", NULL, &r) == 0);
    TH_JSON_EQ(r.body, "[e['id'] for e in d['events']]", "[1]");
    th_free(&r);

    /* bad parameters: 400 with a JSON error that says which and what was expected */
    struct {
        const char *url, *msg;
    } bad[] = {
        {"/api/events?since=yesterday",
         "bad 'since' value 'yesterday': expected Unix seconds or ISO 8601"},
        {"/api/events?until=2026-02-30", "bad 'until' value '2026-02-30'"},
        {"/api/events?limit=0", "bad 'limit' value '0': expected an integer from 1 to 10000"},
        {"/api/events?limit=12x", "bad 'limit' value '12x'"},
        {"/api/events?camera=attic", "bad 'camera' value 'attic': expected the name of a camera"},
        {"/api/events?cam=door",
         "unknown parameter 'cam' (expected camera, type, since, until, limit)"},
        {"/api/events?type=", "bad 'type' value '': expected an event type such as appear"},
        {"/api/events?type=LEAVE", "bad 'type' value 'LEAVE'"},
        {"/api/events?since=2&until=1", "'until' is before 'since'"},
        {"/api/stats?bucket=day", "bad 'bucket' value 'day': expected 'hour'"},
        {"/api/cameras?x=1", "unknown parameter 'x'"},
        {"/api/snapshots?limit=-3", "bad 'limit' value '-3'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FM_CHECK(th_get(f.port, "GET", bad[i].url, NULL, &r) == 0);
        FM_CHECK_MSG(r.status == 400, "%s: status %d", bad[i].url, r.status);
        char *msg = th_json(r.body, "d['error']");
        FM_CHECK_STR_CONTAINS(msg, bad[i].msg);
        free(msg);
        th_free(&r);
    }

    /* hourly stats */
    FM_CHECK(th_get(f.port, "GET", "/api/stats?bucket=hour&until=2026-01-02T00:00:00Z", NULL,
                    &r) == 0);
    FM_CHECK_INT(r.status, 200);
    TH_JSON_EQ(r.body, "d['rows']",
               "[{'camera': 'door', 'hour': 1767268800, 'people': 1, 'masked': 1, 'unmasked': 0, "
               "'compliance': 1}, {'camera': 'hall', 'hour': 1767268800, 'people': 1, "
               "'masked': 0, 'unmasked': 1, 'compliance': 0}, {'camera': 'door', 'hour': "
               "1767272400, 'people': 1, 'masked': 0, 'unmasked': 1, 'compliance': 0}]");
    th_free(&r);
    FM_CHECK(th_get(f.port, "GET", "/api/stats?camera=hall&until=1767272400", NULL, &r) == 0);
    TH_JSON_EQ(r.body, "[(x['camera'], x['people']) for x in d['rows']]", "[('hall', 1)]");
    th_free(&r);

    /* snapshots: the list, the file */
    FM_CHECK(th_get(f.port, "GET", "/api/snapshots?camera=door&limit=2", NULL, &r) == 0);
    FM_CHECK_INT(r.status, 200);
    TH_JSON_EQ(r.body, "[(s['id'], s['camera'], s['time'], s['track'], s['url']) for s in "
                       "d['snapshots']]",
               "[(5, 'door', 1767268815, None, '/api/snapshots/5'), (4, 'door', 1767268814, "
               "None, '/api/snapshots/4')]");
    th_free(&r);
    char url[64];
    snprintf(url, sizeof url, "/api/snapshots/%lld", f.snap_ok);
    FM_CHECK(th_get(f.port, "GET", url, NULL, &r) == 0);
    FM_CHECK_INT(r.status, 200);
    FM_CHECK_STR_CONTAINS(th_header(&r, "Content-Type", ct, sizeof ct), "image/jpeg");
    FM_CHECK(r.body_len == 18 && !memcmp(r.body, "\xff\xd8 snapshot one \xff\xd9", 18));
    th_free(&r);

    /* unknown endpoints and files */
    const char *missing[] = {"/api/nothing", "/api/snapshots/999", "/api/snapshots/abc",
                             "/api/cameras/attic/live.mjpeg", "/nothing.html", "/api/"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        FM_CHECK(th_get(f.port, "GET", missing[i], NULL, &r) == 0);
        FM_CHECK_MSG(r.status == 404, "%s: status %d", missing[i], r.status);
        TH_JSON_EQ(r.body, "type(d['error']).__name__", "'str'");
        th_free(&r);
    }
    teardown(&f);
}

/* /metrics: strict Prometheus text, and the numbers the state holds. */
static void test_http_metrics(void)
{
    fixture f;
    if (setup(&f, "metrics", LOOPBACK) != 0) {
        teardown(&f);
        return;
    }
    th_response r;
    FM_CHECK(th_get(f.port, "GET", "/metrics", NULL, &r) == 0);
    FM_CHECK_INT(r.status, 200);
    char ct[128], msg[256];
    FM_CHECK_STR_CONTAINS(th_header(&r, "Content-Type", ct, sizeof ct), "text/plain; version=0.0.4");
    FM_CHECK_MSG(th_prom_check(r.body, msg, sizeof msg) == 0, "%s", msg);
    /* no MQTT client given: no MQTT or remote families (test_serve_aggregate.c has them) */
    FM_CHECK(r.body && !strstr(r.body, "facemask_mqtt_") && !strstr(r.body, "facemask_remote_"));
    struct {
        const char *series;
        double v;
    } want[] = {
        {"facemask_camera_fps{camera=\"door\"}", 14.5},
        {"facemask_frames_processed_total{camera=\"door\"}", 3},
        {"facemask_frames_skipped_total{camera=\"door\"}", 5},
        {"facemask_faces_total{camera=\"door\"}", 6},
        {"facemask_people_now{camera=\"door\"}", 2},
        {"facemask_people_total{camera=\"door\"}", 4},
        {"facemask_people_masked_total{camera=\"door\"}", 3},
        {"facemask_compliance_ratio{camera=\"door\"}", 0.75},
        {"facemask_reconnects_total{camera=\"door\"}", 2},
        {"facemask_camera_up{camera=\"door\"}", 1},
        {"facemask_camera_up{camera=\"hall\"}", 0},
        {"facemask_frames_processed_total{camera=\"hall\"}", 0},
        {"facemask_inference_latency_seconds_bucket{camera=\"door\",le=\"0.005\"}", 1},
        {"facemask_inference_latency_seconds_bucket{camera=\"door\",le=\"0.01\"}", 1},
        {"facemask_inference_latency_seconds_bucket{camera=\"door\",le=\"0.025\"}", 2},
        {"facemask_inference_latency_seconds_bucket{camera=\"door\",le=\"0.25\"}", 2},
        {"facemask_inference_latency_seconds_bucket{camera=\"door\",le=\"0.5\"}", 3},
        {"facemask_inference_latency_seconds_bucket{camera=\"door\",le=\"+Inf\"}", 3},
        {"facemask_inference_latency_seconds_count{camera=\"door\"}", 3},
        {"facemask_inference_latency_seconds_count{camera=\"hall\"}", 0},
        {"facemask_live_streams", 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        FM_CHECK_MSG(th_prom_value(r.body, want[i].series) == want[i].v, "%s = %g, expected %g",
                     want[i].series, th_prom_value(r.body, want[i].series), want[i].v);
    FM_CHECK_NEAR(th_prom_value(r.body,
                                "facemask_inference_latency_seconds_sum{camera=\"door\"}"),
                  0.324, 1e-9);
    FM_CHECK(isnan(th_prom_value(r.body, "facemask_compliance_ratio{camera=\"hall\"}")));
    /* this request's connection at least; the test's earlier ones may not be closed yet */
    double conns = th_prom_value(r.body, "facemask_http_connections");
    FM_CHECK_MSG(conns >= 1 && conns <= 4, "facemask_http_connections = %g", conns);
    double rss = th_prom_value(r.body, "process_resident_memory_bytes");
    FM_CHECK_MSG(rss > 1e6 && rss < 64e9, "process_resident_memory_bytes = %g", rss);
    th_free(&r);

    /* the checker itself refuses broken texts (so the pass above means something) */
    const char *broken[] = {
        "x 1\n",                                               /* no HELP/TYPE */
        "# HELP x h\n# TYPE x gauge\nx{a=\"1\"} one\n",        /* bad value */
        "# HELP x h\n# TYPE x gauge\nx{a=1} 1\n",              /* unquoted label */
        "# HELP x h\n# TYPE x counter\nx -1\n",                /* negative counter */
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
        "h_sum 1\nh_count 1\n",                                /* not cumulative */
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", /* no +Inf */
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
        "# HELP x h\n# TYPE x gauge\nx 1\n# HELP y h\n# TYPE y gauge\ny 1\nx 2\n", /* split */
        "# HELP x h\n# TYPE x gauge\nx 1",                     /* no final newline */
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++)
        FM_CHECK_MSG(th_prom_check(broken[i], msg, sizeof msg) != 0, "accepted: %s", broken[i]);
    teardown(&f);
}

/* Auth (token, basic), methods, the dashboard's files. */
static void test_http_auth(void)
{
    /* a crypt(3) hash of "s3cret pass" made here, as `openssl passwd -6` would */
    struct crypt_data cd;
    memset(&cd, 0, sizeof cd);
    const char *hash = crypt_r("s3cret pass", "$6$fmtestsalt$", &cd);
    FM_CHECK(hash && hash[0] == '$');
    if (!hash)
        return;
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "  listen: 127.0.0.1\n  token: abcdefghijklmnop0123\n  user: admin\n"
             "  password-hash: \"%s\"\n",
             hash);
    fixture f;
    if (setup(&f, "auth", yaml) != 0) {
        teardown(&f);
        return;
    }
    th_response r;
    char v[256];
    const char *paths[] = {"/api/cameras", "/metrics", "/", "/api/cameras/door/live.mjpeg",
                           "/api/snapshots/1", "/nothing"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        FM_CHECK(th_get(f.port, "GET", paths[i], NULL, &r) == 0);
        FM_CHECK_MSG(r.status == 401, "%s without credentials: %d", paths[i], r.status);
        FM_CHECK_STR_CONTAINS(th_header(&r, "WWW-Authenticate", v, sizeof v), "realm=\"facemask\"");
        th_free(&r);
    }
    /* /healthz needs none */
    FM_CHECK(th_get(f.port, "GET", "/healthz", NULL, &r) == 0);
    FM_CHECK_INT(r.status, 200);
    th_free(&r);
    /* "admin:s3cret pass" and wrong ones, base64 */
    struct {
        const char *header;
        int status;
    } cases[] = {
        {"Authorization: Bearer abcdefghijklmnop0123\r\n", 200},
        {"Authorization: Bearer abcdefghijklmnop012\r\n", 401},
        {"Authorization: Bearer abcdefghijklmnop01234\r\n", 401},
        {"Authorization: Bearer \r\n", 401},
        {"Authorization: Basic YWRtaW46czNjcmV0IHBhc3M=\r\n", 200},  /* admin:s3cret pass */
        {"Authorization: Basic YWRtaW46czNjcmV0IHBhc1M=\r\n", 401},  /* admin:s3cret pasS */
        {"Authorization: Basic cm9vdDpzM2NyZXQgcGFzcw==\r\n", 401},  /* root:s3cret pass */
        {"Authorization: Basic !!!!\r\n", 401},
        {"Authorization: Digest x\r\n", 401},
        {"Authorization: Basic YWRtaW46czNjcmV0IHBhc3M=\r\n", 200}, /* again: the cached check */
        {"Authorization: Basic YWRtaW46czNjcmV0IHBhc3M\r\n", 401},  /* one byte short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FM_CHECK(th_get(f.port, "GET", "/api/cameras", cases[i].header, &r) == 0);
        FM_CHECK_MSG(r.status == cases[i].status, "%s-> %d, expected %d", cases[i].header,
                     r.status, cases[i].status);
        th_free(&r);
    }
    /* no endpoint changes state: other methods get 401 without auth, 405 with it */
    const char *methods[] = {"POST", "PUT", "DELETE", "PATCH"};
    for (size_t i = 0; i < 4; i++) {
        FM_CHECK(th_get(f.port, methods[i], "/api/events", NULL, &r) == 0);
        FM_CHECK_MSG(r.status == 401, "%s: %d", methods[i], r.status);
        th_free(&r);
        FM_CHECK(th_get(f.port, methods[i], "/api/events",
                        "Authorization: Bearer abcdefghijklmnop0123\r\nContent-Length: 5\r\n",
                        &r) == 0);
        FM_CHECK_MSG(r.status == 405, "%s: %d", methods[i], r.status);
        FM_CHECK_STR_CONTAINS(th_header(&r, "Allow", v, sizeof v), "GET, HEAD");
        th_free(&r);
    }
    /* the dashboard, with its chart library, from the binary */
    const char *tok = "Authorization: Bearer abcdefghijklmnop0123\r\n";
    struct {
        const char *path, *type, *has;
    } files[] = {
        {"/", "text/html", "<script src=\"/app.js\">"},
        {"/app.js", "text/javascript", "/api/cameras"},
        {"/style.css", "text/css", ".cam"},
        {"/uPlot.min.js", "text/javascript", "uPlot"},
        {"/uPlot.min.css", "text/css", ".uplot"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        FM_CHECK(th_get(f.port, "GET", files[i].path, tok, &r) == 0);
        FM_CHECK_MSG(r.status == 200, "%s: %d", files[i].path, r.status);
        FM_CHECK_STR_CONTAINS(th_header(&r, "Content-Type", v, sizeof v), files[i].type);
        FM_CHECK_STR_CONTAINS(r.body, files[i].has);
        th_free(&r);
    }
    FM_CHECK(th_get(f.port, "HEAD", "/", tok, &r) == 0);
    FM_CHECK_INT(r.status, 200);
    FM_CHECK_INT(r.body_len, 0);
    th_free(&r);
    teardown(&f);
}

/* Waits up to 5 s for the server to hold exactly n connections; their count then. */
static int wait_connections(fm_http *h, int n)
{
    for (int w = 0; w < 500 && fm_http_connections(h) != n; w++)
        usleep(10 * 1000);
    return fm_http_connections(h);
}

/* Snapshot paths that leave the folder, oversized requests, and start-up refusals. */
static void test_http_hostile(void)
{
    fixture f;
    if (setup(&f, "hostile", LOOPBACK) != 0) {
        teardown(&f);
        return;
    }
    th_response r;
    long long ids[] = {f.snap_dotdot, f.snap_abs, f.snap_link, f.snap_linkdir, f.snap_missing};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char url[64];
        snprintf(url, sizeof url, "/api/snapshots/%lld", ids[i]);
        FM_CHECK(th_get(f.port, "GET", url, NULL, &r) == 0);
        FM_CHECK_MSG(r.status == 404, "snapshot %lld: status %d", ids[i], r.status);
        FM_CHECK(!r.body || !strstr(r.body, "secret"));
        th_free(&r);
    }
    /* the URL itself with ../ (MHD hands it over as is) */
    const char *urls[] = {"/api/snapshots/../../etc/passwd", "/../etc/passwd",
                          "/api/snapshots/%2e%2e%2fsecret.jpg", "/api/snapshots/1/../2"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        FM_CHECK(th_get(f.port, "GET", urls[i], NULL, &r) == 0);
        FM_CHECK_MSG(r.status == 404 || r.status == 400, "%s: status %d", urls[i], r.status);
        th_free(&r);
    }
    /* an oversized request: 64 KiB of headers, then a 64 KiB URL */
    size_t big = 64 * 1024;
    char *req = malloc(big + 256);
    FM_CHECK(req != NULL);
    if (req) {
        int n = snprintf(req, 256, "GET /api/cameras HTTP/1.0\r\nX-Big: ");
        memset(req + n, 'a', big);
        memcpy(req + n + big, "\r\n\r\n", 5);
        int rc = th_raw(f.port, req, strlen(req), &r);
        FM_CHECK_MSG(rc != 0 || (r.status >= 400 && r.status < 500),
                     "oversized headers: status %d", r.status);
        fprintf(stderr, "  oversized headers: %s %d\n", rc ? "closed" : "status", r.status);
        th_free(&r);
        n = snprintf(req, 256, "GET /api/cameras?x=");
        memset(req + n, 'a', big);
        memcpy(req + n + big, " HTTP/1.0\r\n\r\n", 14);
        rc = th_raw(f.port, req, strlen(req), &r);
        FM_CHECK_MSG(rc != 0 || (r.status >= 400 && r.status < 500), "oversized URL: status %d",
                     r.status);
        fprintf(stderr, "  oversized URL: %s %d\n", rc ? "closed" : "status", r.status);
        th_free(&r);
        free(req);
    }
    /* and it still serves */
    FM_CHECK(th_get(f.port, "GET", "/healthz", NULL, &r) == 0);
    FM_CHECK_INT(r.status, 200);
    th_free(&r);

    /* one client address holds at most FM_HTTP_MAX_PER_IP connections: idle ones fill it, the
     * next is closed unanswered; once they go, requests are answered again. The earlier
     * requests' connections are reaped first (one not yet reaped takes a slot, then frees it),
     * then the idle ones open one at a time, each waited for until the server holds it, so
     * that no two of the pool's threads race for the last slot. */
    int idle[FM_HTTP_MAX_PER_IP];
    for (int i = 0; i < FM_HTTP_MAX_PER_IP; i++)
        idle[i] = -1;
    FM_CHECK_INT(wait_connections(f.http, 0), 0);
    for (int i = 0; i < FM_HTTP_MAX_PER_IP; i++) {
        idle[i] = th_connect(f.port, 5);
        int held = wait_connections(f.http, i + 1);
        if (idle[i] < 0 || held != i + 1) {
            FM_CHECK_MSG(0, "idle connection %d: fd %d, the server holds %d", i, idle[i], held);
            break;
        }
    }
    FM_CHECK(th_get(f.port, "GET", "/healthz", NULL, &r) != 0);
    th_free(&r);
    for (int i = 0; i < FM_HTTP_MAX_PER_IP; i++)
        if (idle[i] >= 0)
            close(idle[i]);
    int answered = 0;
    for (int tries = 0; tries < 50 && !answered; tries++) {
        answered = th_get(f.port, "GET", "/healthz", NULL, &r) == 0 && r.status == 200;
        th_free(&r);
        if (!answered)
            usleep(100 * 1000);
    }
    FM_CHECK_MSG(answered, "no answer after the idle connections closed");

    /* start-up refusals */
    fm_err err = {0};
    free(f.site->http.listen);
    f.site->http.listen = strdup("0.0.0.0");
    FM_CHECK(fm_http_start(f.site, f.state, NULL, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "http: listening on 0.0.0.0 (not loopback) needs "
                                   "authentication");
    free(f.site->http.listen);
    f.site->http.listen = strdup("not an address");
    f.site->http.token = strdup("abcdefghijklmnop0123");
    FM_CHECK(fm_http_start(f.site, f.state, NULL, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "http: listen address 'not an address'");
    free(f.site->http.token);
    f.site->http.token = NULL;
    free(f.site->http.listen);
    f.site->http.listen = strdup("127.0.0.1");
    f.site->http.port = f.port; /* taken by the running one */
    FM_CHECK(fm_http_start(f.site, f.state, NULL, &err) == NULL);
    char want[128];
    snprintf(want, sizeof want, "http: cannot listen on 127.0.0.1:%d", f.port);
    FM_CHECK_STR_CONTAINS(err.msg, want);
    f.site->http.port = 0;
    f.site->http.tls_cert = strdup("/nonexistent/site.crt");
    f.site->http.tls_key = strdup("/nonexistent/site.key");
    FM_CHECK(fm_http_start(f.site, f.state, NULL, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "/nonexistent/site.crt");
    free(f.site->database.path);
    f.site->database.path = strdup("/nonexistent/dir/site.db");
    FM_CHECK(fm_http_start(f.site, f.state, NULL, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "/nonexistent/dir/site.db");
    teardown(&f);
}


/* TLS: a self-signed certificate made by openssl; curl talks HTTPS to it (and plain HTTP to the
 * TLS port gets no answer). */
static void test_http_tls(void)
{
    char cert[1024], key[1024], cmd[4096];
    snprintf(cert, sizeof cert, "%s/tls-cert.pem", fm_test_tmpdir());
    snprintf(key, sizeof key, "%s/tls-key.pem", fm_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s -out %s -days 2 -subj /CN=127.0.0.1 >/dev/null 2>&1",
             key, cert);
    FM_CHECK_INT(fm_test_cmd(cmd, NULL), 0);
    char yaml[3000];
    snprintf(yaml, sizeof yaml,
             "  listen: 127.0.0.1\n  token: abcdefghijklmnop0123\n  tls:\n    cert: %s\n"
             "    key: %s\n",
             cert, key);
    fixture f;
    if (setup(&f, "tls", yaml) != 0) {
        teardown(&f);
        return;
    }
    char *out = NULL;
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 20 --cacert %s -H 'Authorization: Bearer abcdefghijklmnop0123' "
             "https://127.0.0.1:%d/api/cameras",
             cert, f.port);
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    TH_JSON_EQ(out, "[c['name'] for c in d['cameras']]", "['door', 'hall']");
    free(out);
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 20 --cacert %s -o /dev/null -w '%%{http_code}' "
             "https://127.0.0.1:%d/api/cameras",
             cert, f.port);
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    FM_CHECK(out && !strcmp(out, "401"));
    free(out);
    th_response r;
    FM_CHECK(th_get(f.port, "GET", "/healthz", NULL, &r) != 0); /* plain HTTP: no response */
    th_free(&r);

    /* a key that is not a key: refused at start */
    fm_test_write_text(key, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
    fm_err err = {0};
    fm_http *bad = fm_http_start(f.site, f.state, NULL, &err);
    FM_CHECK(bad == NULL);
    fm_http_stop(bad);
    FM_CHECK_STR_CONTAINS(err.msg, "the TLS certificate and key were refused");
    teardown(&f);
}

/* Debian's chromium, headless, loads the dashboard: the DOM shows the counters the state and
 * the history hold, the cameras' cards and the running one's live view, the chart and the
 * event table. A screenshot is taken too (only its size is checked here; it was looked at when
 * the page was written: two cards, the live frame, counters 2 / 2 / 50%, the chart). */
static void test_http_dashboard_browser(void)
{
    fixture f;
    if (setup(&f, "browser", LOOPBACK) != 0) {
        teardown(&f);
        return;
    }
    /* one real JPEG as door's newest frame: a grey picture with a green box */
    fm_image *img = fm_image_new(320, 180, NULL);
    FM_CHECK(img != NULL);
    if (img) {
        memset(img->data, 90, (size_t)img->stride * 180);
        fm_draw_fill(img, 100, 40, 180, 140, FM_RGB(0, 200, 0));
        uint8_t *jpeg = NULL;
        size_t len = 0;
        fm_err err = {0};
        FM_CHECK_MSG(fm_image_encode_jpeg(img, 80, &jpeg, &len, &err) == FM_OK, "%s", err.msg);
        if (jpeg)
            FM_CHECK(fm_site_state_put_jpeg(f.state, 0, jpeg, len, &err) == FM_OK);
        free(jpeg);
        fm_image_free(img);
    }
    char profile[1200], shot[1200], cmd[4096];
    snprintf(profile, sizeof profile, "%s/chromium-profile", f.dir);
    snprintf(shot, sizeof shot, "%s/dashboard.png", f.dir);
    const char *flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                        "--disable-background-networking --disable-component-update "
                        "--disable-sync --disable-extensions";
    snprintf(cmd, sizeof cmd,
             "timeout 90 chromium %s --user-data-dir=%s --virtual-time-budget=10000 --dump-dom http://127.0.0.1:%d/ "
             "2>/dev/null",
             flags, profile, f.port);
    char *dom = NULL;
    double t0 = fm_now_ms();
    int rc = fm_test_cmd(cmd, &dom);
    fprintf(stderr, "  dump-dom: %.0f ms\n", fm_now_ms() - t0);
    FM_CHECK_MSG(rc == 0, "chromium --dump-dom: exit %d", rc);
    FM_CHECK_STR_CONTAINS(dom, "<article class=\"cam\" data-camera=\"door\">");
    FM_CHECK_STR_CONTAINS(dom, "<article class=\"cam\" data-camera=\"hall\">");
    FM_CHECK_STR_CONTAINS(dom, "src=\"/api/cameras/door/live.mjpeg\"");
    FM_CHECK_STR_CONTAINS(dom, "id=\"total-now\">2<");
    FM_CHECK_STR_CONTAINS(dom, "id=\"total-today\">2<");
    FM_CHECK_STR_CONTAINS(dom, "id=\"total-compliance\">50%<");
    FM_CHECK_STR_CONTAINS(dom, "class=\"conn\">live<");
    FM_CHECK_STR_CONTAINS(dom, "class=\"uplot"); /* the chart was drawn */
    FM_CHECK_STR_CONTAINS(dom, "<td>leave</td>");  /* the event table */
    FM_CHECK_STR_CONTAINS(dom, "class=\"toggle\">pause</button>"); /* live views play */
    free(dom);
    snprintf(cmd, sizeof cmd,
             "timeout 90 chromium %s --user-data-dir=%s --window-size=1280,1000 "
             "--virtual-time-budget=10000 --screenshot=%s http://127.0.0.1:%d/ 2>/dev/null",
             flags, profile, shot, f.port);
    t0 = fm_now_ms();
    rc = fm_test_cmd(cmd, NULL);
    fprintf(stderr, "  screenshot: %.0f ms\n", fm_now_ms() - t0);
    FM_CHECK_MSG(rc == 0, "chromium --screenshot: exit %d", rc);
    struct stat st;
    FM_CHECK_MSG(stat(shot, &st) == 0 && st.st_size > 10000, "%s: no screenshot", shot);
    fprintf(stderr, "  screenshot: %s\n", shot);
    teardown(&f);
}

void suite_serve_http(void);
void suite_serve_http(void)
{
    FM_RUN(test_http_api);
    FM_RUN(test_http_metrics);
    FM_RUN(test_http_auth);
    FM_RUN(test_http_hostile);
    FM_RUN(test_http_tls);
    FM_RUN(test_http_dashboard_browser);
}
