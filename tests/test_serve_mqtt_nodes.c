/* `facemask serve` on MQTT, what other clients see (src/serve/mqtt.h), against a real mosquitto
 * on 127.0.0.1: the retained state, the node's availability (online, the last will when its
 * process is killed, offline on a clean stop), Home Assistant discovery, TLS with certificates
 * made by openssl, and two nodes on one broker, one aggregating the other. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serve/mqtt.h"
#include "serve/mqtt_msg.h"
#include "site/config.h"
#include "site/state.h"
#include "test.h"
#include "test_mqtt_util.h"

/* --- state, availability, discovery ----------------------------------------------------- */

static int wait_retained(const fm_test_broker *b, const char *filter, const char *needle,
                         double timeout_s, char **last)
{
    double t0 = fm_test_mono_s();
    free(*last); /* the previous answer */
    *last = NULL;
    while (fm_test_mono_s() - t0 < timeout_s) {
        free(*last);
        *last = fm_test_retained(b, filter, NULL, 1);
        if (*last && strstr(*last, needle))
            return 1;
        fm_test_sleep_ms(100);
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
    fm_site_config *cfg = fm_test_mqtt_site("door,hall", b.port, "n1", db, "discovery: true");
    fm_site_state *st = cfg ? fm_test_mqtt_state(cfg) : NULL;
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
    fm_site_config *good = fm_test_mqtt_site("door,hall", b.port, "n1", db, yaml);
    snprintf(yaml, sizeof yaml, "tls:\n  ca: %s/other-ca.crt\n  cert: %s/client.crt\n"
             "  key: %s/client.key", dir, dir, dir);
    fm_site_config *wrong_ca = fm_test_mqtt_site("door,hall", b.port, "n1", db, yaml);
    snprintf(yaml, sizeof yaml, "tls:\n  ca: %s/ca.crt", dir);
    fm_site_config *no_cert = fm_test_mqtt_site("door,hall", b.port, "n1", db, yaml);
    fm_site_config *plain = fm_test_mqtt_site("door,hall", b.port, "n1", db, NULL);
    fm_site_state *st = good ? fm_test_mqtt_state(good) : NULL;
    if (!good || !wrong_ca || !no_cert || !plain || !st ||
        !fm_test_sub_start(&s, &b, "facemask/+/events", NULL, args))
        goto out;
    fm_err err = {0};
    fm_mqtt *m = fm_mqtt_start(good, st, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m)
        goto out;
    fm_test_writer w = {.db = db, .m = m, .cams = {"door", "hall"}, .max = 30, .period_ms = 5};
    fm_test_write_events(&w);
    FM_CHECK(fm_test_wait_all_sent(db, 30, 10));
    FM_CHECK(fm_test_wait_received(&s, 30, 10));
    fm_mqtt_stop(m);
    fm_test_row *rows;
    int n = fm_test_read_rows(db, &rows);
    char *text = fm_test_sub_output(&s);
    int dups = 0;
    FM_CHECK(text && fm_test_match_events(text, rows, n, "n1", &dups));
    free(text);
    fm_test_free_rows(rows, n);
    /* a broker whose certificate the CA did not sign, no client certificate, no TLS */
    fm_mqtt_stats ms;
    m = fm_mqtt_start(wrong_ca, st, &err);
    FM_CHECK(m && fm_test_mqtt_wait_error(m, "certificate verify failed", 5, &ms));
    FM_CHECK_INT(ms.connects, 0);
    fm_mqtt_stop(m);
    /* TLS 1.3: the broker's "certificate required" alert comes after the client's side of
     * the handshake is done. With 3 jobs on 2 cores an attempt was seen to end in "Protocol
     * error" instead, without the alert; the next attempts (1, 2, 4 s later) must name it. */
    m = fm_mqtt_start(no_cert, st, &err);
    FM_CHECK(m && fm_test_mqtt_wait_error(m, "cannot connect: the broker closed the connection",
                                          15, &ms));
    FM_CHECK_STR_CONTAINS(ms.last_error, "certificate required");
    FM_CHECK_INT(ms.connects, 0);
    fm_mqtt_stop(m);
    m = fm_mqtt_start(plain, st, &err);
    FM_CHECK(m && fm_test_mqtt_wait_error(m, "cannot connect: the broker closed the connection",
                                          5, &ms));
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
    fm_site_config *ca = fm_test_mqtt_site("a-door,a-hall", b.port, "node-a", dba, NULL);
    fm_site_config *cb = fm_test_mqtt_site("b-desk", b.port, "node-b", dbb, "aggregate: true");
    fm_site_state *sa = ca ? fm_test_mqtt_state(ca) : NULL;
    fm_site_state *sb = cb ? fm_test_mqtt_state(cb) : NULL;
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
    fm_test_writer w = {.db = dba, .m = ma, .cams = {"a-door", "a-hall"}, .max = 10,
                        .period_ms = 10};
    fm_test_write_events(&w);
    FM_CHECK(fm_test_wait_all_sent(dba, 10, 10));
    fm_mqtt_remote r;
    double t0 = fm_test_mono_s();
    int ok = 0;
    while (!ok && fm_test_mono_s() - t0 < 10) {
        fm_mqtt_remote h;
        ok = find_remote(mb, "a-door", &r) && r.events == 5 && find_remote(mb, "a-hall", &h) &&
             h.events == 5 && h.has_state;
        if (!ok)
            fm_test_sleep_ms(50);
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
    t0 = fm_test_mono_s();
    while (fm_test_mono_s() - t0 < 5 && !(find_remote(mb, "a-door", &r) && r.people_now == 4))
        fm_test_sleep_ms(50);
    FM_CHECK_INT(r.people_now, 4);
    fm_mqtt_stop(ma);
    ma = NULL;
    t0 = fm_test_mono_s();
    while (fm_test_mono_s() - t0 < 5 && find_remote(mb, "a-door", &r) && r.online)
        fm_test_sleep_ms(50);
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

void suite_serve_mqtt_nodes(void);
void suite_serve_mqtt_nodes(void)
{
    FM_RUN(test_mqtt_state_availability_discovery);
    FM_RUN(test_mqtt_tls);
    FM_RUN(test_mqtt_aggregate_two_nodes);
}
