/* Issue 9: "Two nodes and one broker: the aggregating node's /api/cameras lists the other
 * node's cameras and their state."
 *
 * One real mosquitto on a free 127.0.0.1 port; node-a is this process's MQTT client
 * (fm_mqtt_start) publishing two cameras whose state the test sets to known numbers, and ten
 * events; node-b is the real `facemask serve` (the demo clip as its one camera, an http:
 * section, mqtt: {aggregate: true}). Everything is read through node-b's HTTP:
 *   - /api/cameras: node-b's own camera first ("local": true, node "node-b", a live view),
 *     then node-a's two ("local": false, node "node-a", online, no "live"), with the exact
 *     counters node-a's state holds and the events received; a change of node-a's state
 *     shows up; node-a stopping makes them "online": false with their last state kept;
 *   - /metrics passes the strict Prometheus check, with facemask_mqtt_connected 1 and node-a's
 *     cameras' gauges labelled node="node-a";
 *   - the dashboard (Debian's chromium, headless) has a card for node-a's camera marked
 *     "remote: node node-a" with its counters and no live view;
 * then SIGTERM: serve exits 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "serve/mqtt.h"
#include "site/config.h"
#include "site/state.h"
#include "test.h"
#include "test_http_util.h"
#include "test_mqtt_util.h"
#include "test_video_util.h"

/* node-b's /api/cameras body once `ready` (a python expression on d) is True, within
 * timeout_s; NULL otherwise (the last body is in *last when there was one). */
static char *cameras_when(int port, const char *ready, double timeout_s, char **last)
{
    free(*last);
    *last = NULL;
    for (double until = tv_now() + timeout_s; tv_now() < until; usleep(200000)) {
        th_response r = {0};
        if (th_get(port, "GET", "/api/cameras", NULL, &r) == 0 && r.status == 200) {
            char *v = th_json(r.body, ready);
            int ok = v && !strcmp(v, "True");
            free(v);
            free(*last);
            *last = r.body;
            r.body = NULL;
            if (ok) {
                th_free(&r);
                char *body = *last;
                *last = NULL;
                return body;
            }
        }
        th_free(&r);
    }
    return NULL;
}

/* The remote camera's dict, by name, in a python expression. */
#define CAM(name) "[c for c in d['cameras'] if c['name'] == '" name "'][0]"

static void test_serve_aggregate_http(void)
{
    const char *tmp = fm_test_tmpdir();
    double slow = fm_test_sanitized() ? 4 : 1;
    char bdir[1100], site[1100], dba[1100], dbb[1100], log[1100], clip[1100], text[4096];
    snprintf(bdir, sizeof bdir, "%s/broker", tmp);
    snprintf(site, sizeof site, "%s/node-b.yaml", tmp);
    snprintf(dba, sizeof dba, "%s/a.db", tmp);
    snprintf(dbb, sizeof dbb, "%s/b.db", tmp);
    snprintf(log, sizeof log, "%s/serve.log", tmp);
    snprintf(clip, sizeof clip, "%s/demo/uengmim_test_video.avi", fm_test_shared());
    mkdir(bdir, 0700);
    fm_test_broker broker;
    if (!fm_test_broker_start(&broker, bdir, NULL))
        return;
    fm_site_config *ca = fm_test_mqtt_site("a-door,a-hall", broker.port, "node-a", dba, NULL);
    fm_site_state *sa = ca ? fm_test_mqtt_state(ca) : NULL;
    fm_mqtt *ma = NULL;
    pid_t pid = -1;
    char *body = NULL, *last = NULL;
    if (!sa)
        goto out;
    /* node-a: a-door running with 2 people in view (1 masked, 1 not), one masked person gone
     * (compliance 1), 12 fps; a-hall just starting */
    fm_site_state_status(sa, 0, FM_CAM_RUNNING, NULL);
    fm_site_state_frame(sa, 0, &(fm_site_frame){.people_now = 2, .masked_now = 1,
                                                 .unmasked_now = 1, .fps = 12.0});
    fm_site_state_person(sa, 0, "mask");

    /* node-b: the real serve, aggregating */
    int port = tv_closed_port();
    snprintf(text, sizeof text,
             "cameras:\n"
             "  - name: b-desk\n    source: %s\n    loop: true\n    every: 5\n"
             "http:\n  listen: 127.0.0.1\n  port: %d\n"
             "mqtt:\n  host: 127.0.0.1\n  port: %d\n  node: node-b\n  aggregate: true\n"
             "database:\n  path: %s\n",
             clip, port, broker.port, dbb);
    fm_test_write_text(site, text);
    char *argv[] = {(char *)fm_test_bin(), "serve", "--config", site, "--model-dir", "models",
                    "--classifier", "models/mask", NULL};
    pid = tv_spawn(argv, log);
    if (pid <= 0)
        goto out;
    int up = 0;
    for (double until = tv_now() + 60 * slow; !up && tv_now() < until; usleep(100000)) {
        th_response r = {0};
        up = th_get(port, "GET", "/healthz", NULL, &r) == 0 && r.status == 200;
        th_free(&r);
    }
    FM_CHECK_MSG(up, "serve's /healthz on port %d never answered", port);
    if (!up)
        goto out;
    /* node-b's MQTT client says it is connected */
    int connected = 0;
    for (double until = tv_now() + 20 * slow; !connected && tv_now() < until; usleep(100000)) {
        th_response m = {0};
        connected = th_get(port, "GET", "/metrics", NULL, &m) == 0 && m.status == 200 &&
                    th_prom_value(m.body, "facemask_mqtt_connected") == 1;
        th_free(&m);
    }
    FM_CHECK_MSG(connected, "node-b's /metrics never said facemask_mqtt_connected 1");
    fm_err err = {0};
    ma = fm_mqtt_start(ca, sa, &err);
    FM_CHECK_MSG(ma != NULL, "%s", err.msg);
    if (!ma)
        goto out;
    /* node-a's retained state reaches node-b once it is subscribed, whenever that was */
    body = cameras_when(port,
                        "len(d['cameras']) == 3 and " CAM("a-door") "['status'] is not None and "
                        CAM("a-hall") "['status'] is not None",
                        20 * slow, &last);
    FM_CHECK_MSG(body != NULL, "node-b never listed node-a's cameras with their state: %s",
                 last ? last : "(no answer)");
    if (!body)
        goto out;
    /* events are not retained: written now that node-b listens, it must get all ten */
    fm_test_writer w = {.db = dba, .m = ma, .cams = {"a-door", "a-hall"}, .max = 10,
                        .period_ms = 10};
    fm_test_write_events(&w);
    FM_CHECK(fm_test_wait_all_sent(dba, 10, 10 * slow));
    free(body);
    body = cameras_when(port,
                        CAM("a-door") "['events'] == 5 and " CAM("a-hall") "['events'] == 5",
                        20 * slow, &last);
    FM_CHECK_MSG(body != NULL, "node-b did not count node-a's ten events: %s",
                 last ? last : "(no answer)");
    if (!body)
        goto out;
    TH_JSON_EQ(body, "[(c['name'], c['node'], c['local']) for c in d['cameras']]",
               "[('b-desk', 'node-b', True), ('a-door', 'node-a', False), "
               "('a-hall', 'node-a', False)]");
    TH_JSON_EQ(body, "['live' in c for c in d['cameras']]", "[True, False, False]");
    TH_JSON_EQ(body, "d['cameras'][0]['live']", "'/api/cameras/b-desk/live.mjpeg'");
    TH_JSON_EQ(body,
               "{k: v for k, v in " CAM("a-door") ".items() if k != 'updated'}",
               "{'name': 'a-door', 'node': 'node-a', 'local': False, 'online': True, "
               "'status': 'running', 'fps': 12, 'people_now': 2, 'masked_now': 1, "
               "'unmasked_now': 1, 'people': 1, 'masked': 1, 'unmasked': 0, 'compliance': 1, "
               "'events': 5, 'last_event': 'appear'}");
    TH_JSON_EQ(body,
               "(" CAM("a-hall") "['status'], " CAM("a-hall") "['people_now'], "
               CAM("a-hall") "['compliance'], " CAM("a-hall") "['online'])",
               "('starting', 0, None, True)");
    /* received by node-b (its clock), within the test's time */
    TH_JSON_EQ(body, "abs(" CAM("a-door") "['updated'] - d['time']) < 60", "True");

    /* /metrics: strict format, the MQTT client connected, node-a's gauges by node */
    th_response r = {0};
    FM_CHECK(th_get(port, "GET", "/metrics", NULL, &r) == 0 && r.status == 200);
    char msg[512] = "";
    FM_CHECK_MSG(r.body && th_prom_check(r.body, msg, sizeof msg) == 0, "%s", msg);
    if (r.body) {
        FM_CHECK_NEAR(th_prom_value(r.body, "facemask_mqtt_connected"), 1, 0);
        FM_CHECK(th_prom_value(r.body, "facemask_mqtt_connects_total") >= 1);
        FM_CHECK_NEAR(th_prom_value(r.body, "facemask_mqtt_disconnects_total"), 0, 0);
        /* node-b's own camera's events: every acknowledged one was published (NaN: absent) */
        double pub = th_prom_value(r.body, "facemask_mqtt_events_published_total");
        double ack = th_prom_value(r.body, "facemask_mqtt_events_acknowledged_total");
        FM_CHECK_MSG(ack >= 0 && pub >= ack, "published %g, acknowledged %g", pub, ack);
        const char *people = "facemask_remote_people_now{node=\"node-a\",camera=\"a-door\"}";
        FM_CHECK_NEAR(th_prom_value(r.body, people), 2, 0);
        FM_CHECK_NEAR(th_prom_value(r.body,
                                    "facemask_remote_up{node=\"node-a\",camera=\"a-door\"}"),
                      1, 0);
        FM_CHECK_NEAR(th_prom_value(r.body,
                                    "facemask_remote_up{node=\"node-a\",camera=\"a-hall\"}"),
                      0, 0);
    }
    th_free(&r);

    /* the dashboard: node-a's camera as a card of its own, marked remote, no live view */
    char profile[1200], cmd[4096];
    snprintf(profile, sizeof profile, "%s/chromium-profile", tmp);
    snprintf(cmd, sizeof cmd,
             "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic "
             "--no-first-run --disable-background-networking --disable-component-update "
             "--disable-sync --disable-extensions --user-data-dir=%s "
             "--virtual-time-budget=5000 --dump-dom http://127.0.0.1:%d/ 2>/dev/null",
             profile, port);
    char *dom = NULL;
    int rc = fm_test_cmd(cmd, &dom);
    FM_CHECK_MSG(rc == 0, "chromium --dump-dom: exit %d", rc);
    FM_CHECK_STR_CONTAINS(dom, "<article class=\"cam remote-cam\" data-camera=\"a-door\" "
                               "data-node=\"node-a\"><div class=\"remote\"");
    FM_CHECK_STR_CONTAINS(dom, ">remote: node node-a</div>");
    FM_CHECK_STR_CONTAINS(dom, "<article class=\"cam\" data-camera=\"b-desk\">");
    FM_CHECK_STR_CONTAINS(dom, "src=\"/api/cameras/b-desk/live.mjpeg\"");
    FM_CHECK(dom && !strstr(dom, "/api/cameras/a-door/live.mjpeg"));
    FM_CHECK_STR_CONTAINS(dom, "<option value=\"b-desk\">"); /* remote: not an event filter */
    FM_CHECK(dom && !strstr(dom, "<option value=\"a-door\">"));
    /* a-door's card: status running, in view 2, since its start 1, compliance 100%, fps 12.0 */
    const char *card = dom ? strstr(dom, "data-camera=\"a-door\"") : NULL;
    FM_CHECK_STR_CONTAINS(card, "class=\"status running\"");
    FM_CHECK_STR_CONTAINS(card, "data-stat=\"people_now\"><span class=\"k\">in view</span>"
                                "<span class=\"v\">2</span>");
    FM_CHECK_STR_CONTAINS(card, "<span class=\"v\">100%</span>");
    FM_CHECK_STR_CONTAINS(card, "<span class=\"v\">12.0</span>");
    free(dom);

    /* node-a's state changes reach node-b's API */
    fm_site_state_frame(sa, 0, &(fm_site_frame){.people_now = 4, .masked_now = 4, .fps = 12.0});
    free(body);
    body = cameras_when(port, CAM("a-door") "['people_now'] == 4", 15 * slow, &last);
    FM_CHECK_MSG(body != NULL, "node-a's new state never reached node-b's API: %s",
                 last ? last : "(no answer)");
    /* node-a stops (says offline): still listed, offline, its last state kept */
    fm_mqtt_stop(ma);
    ma = NULL;
    free(body);
    body = cameras_when(port, "not " CAM("a-door") "['online']", 15 * slow, &last);
    FM_CHECK_MSG(body != NULL, "node-a never went offline on node-b: %s",
                 last ? last : "(no answer)");
    if (body) {
        TH_JSON_EQ(body, "[(c['name'], c['local']) for c in d['cameras']]",
                   "[('b-desk', True), ('a-door', False), ('a-hall', False)]");
        TH_JSON_EQ(body, "(" CAM("a-door") "['people_now'], " CAM("a-hall") "['online'])",
                   "(4, False)");
    }

    kill(pid, SIGTERM);
    rc = tv_wait_exit(pid, 60 * slow);
    FM_CHECK_MSG(rc == 0, "serve exit %d", rc);
    pid = -1;
out:
    free(body);
    free(last);
    fm_mqtt_stop(ma);
    if (pid > 0) {
        kill(pid, SIGKILL);
        tv_wait_exit(pid, 10);
    }
    fm_test_broker_stop(&broker);
    if (fm_test_failed_now()) {
        char *l = fm_test_read_file(log, NULL);
        printf("  serve log:\n%s\n", l ? l : "(none)");
        free(l);
    }
    fm_site_state_free(sa);
    fm_site_config_free(ca);
}

void suite_serve_aggregate(void);
void suite_serve_aggregate(void)
{
    FM_RUN(test_serve_aggregate_http);
}
