/* `facemask serve` on MQTT (src/serve/mqtt.h) against a real mosquitto on 127.0.0.1, read by
 * the real mosquitto_sub: events from the history one for one and in order, nothing lost
 * while the broker is down for 20 s or when the node is killed mid-backlog, credentials and
 * connection errors, the node's name. Retained state, availability, discovery, TLS and two
 * nodes: test_serve_mqtt_nodes.c. Payloads without a broker: test_serve_mqtt_msg.c. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "serve/mqtt.h"
#include "site/config.h"
#include "site/history.h"
#include "site/state.h"
#include "test.h"
#include "test_mqtt_util.h"

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
    fm_site_config *cfg = fm_test_mqtt_site("cam-a,cam-b", b.port, "n1", db, NULL);
    fm_site_state *st = cfg ? fm_test_mqtt_state(cfg) : NULL;
    if (!cfg || !st || !fm_test_sub_start(&s, &b, "facemask/+/events", NULL, NULL))
        goto out;
    /* a backlog written before MQTT starts goes out first */
    fm_test_writer w = {.db = db, .cams = {"cam-a", "cam-b"}, .max = 20};
    fm_test_write_events(&w);
    FM_CHECK_MSG(w.err[0] == 0, "%s", w.err);
    fm_err err = {0};
    fm_mqtt *m = fm_mqtt_start(cfg, st, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m)
        goto out;
    /* then events while it runs, from a camera's thread */
    fm_test_writer w2 = {.db = db, .m = m, .cams = {"cam-b", "cam-a"}, .max = 150, .period_ms = 5};
    pthread_t th;
    pthread_create(&th, NULL, fm_test_write_events, &w2);
    pthread_join(th, NULL);
    FM_CHECK_MSG(w2.err[0] == 0, "%s", w2.err);
    FM_CHECK_MSG(fm_test_wait_all_sent(db, 170, 20), "not every row is marked sent: %lld unsent",
                 fm_test_sql_int(db, "SELECT count(*) FROM events WHERE sent = 0"));
    FM_CHECK(fm_test_wait_received(&s, 170, 10));
    fm_mqtt_stats ms;
    fm_mqtt_get_stats(m, &ms);
    fm_mqtt_stop(m);
    FM_CHECK_INT(ms.acked, 170);
    FM_CHECK_INT(ms.published, 170); /* no reconnect: no re-send */
    FM_CHECK_INT(ms.connects, 1);
    FM_CHECK(strcmp(ms.node, "n1") == 0);
    fm_test_row *rows;
    int n = fm_test_read_rows(db, &rows);
    FM_CHECK_INT(n, 170);
    for (int i = 0; i < n; i++)
        FM_CHECK_MSG(rows[i].sent == 1, "row %lld not sent", rows[i].id);
    char *text = fm_test_sub_output(&s);
    int dups = 0;
    FM_CHECK(text && fm_test_match_events(text, rows, n, "n1", &dups));
    FM_CHECK_INT(dups, 0);
    free(text);
    fm_test_free_rows(rows, n);
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
    fm_site_config *cfg = fm_test_mqtt_site("cam-a,cam-b", b.port, "n1", db, NULL);
    fm_site_state *st = cfg ? fm_test_mqtt_state(cfg) : NULL;
    if (!cfg || !st || !fm_test_sub_start(&s, &b, "facemask/+/events", "fm-test-sub", NULL))
        goto out;
    fm_err err = {0};
    fm_mqtt *m = fm_mqtt_start(cfg, st, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m)
        goto out;
    fm_test_writer w = {.db = db, .m = m, .cams = {"cam-a", "cam-b"}, .period_ms = 100};
    pthread_t th;
    pthread_create(&th, NULL, fm_test_write_events, &w);
    fm_test_sleep_ms(3000);
    FM_CHECK(fm_test_broker_stop(&b));
    int before = atomic_load(&w.written);
    fm_test_sleep_ms(20000);
    fm_mqtt_stats ms;
    fm_mqtt_get_stats(m, &ms);
    FM_CHECK_INT(ms.connected, 0);
    FM_CHECK_STR_CONTAINS(ms.last_error, "Connection refused");
    long long unsent = fm_test_sql_int(db, "SELECT count(*) FROM events WHERE sent = 0");
    FM_CHECK_MSG(unsent >= 150, "only %lld events waited while the broker was down", unsent);
    double t_restart = fm_test_mono_s();
    FM_CHECK(fm_test_broker_restart(&b));
    double t_back = -1;
    while (fm_test_mono_s() - t_restart < 15) {
        fm_mqtt_get_stats(m, &ms);
        if (ms.connected) {
            t_back = fm_test_mono_s() - t_restart;
            break;
        }
        fm_test_sleep_ms(20);
    }
    FM_CHECK_MSG(t_back >= 0, "no reconnect within 15 s of the restart");
    fm_test_sleep_ms(2000);
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    FM_CHECK_MSG(w.err[0] == 0, "%s", w.err);
    int total = atomic_load(&w.written);
    FM_CHECK_MSG(fm_test_wait_all_sent(db, total, 30), "%lld of %d rows unsent",
                 fm_test_sql_int(db, "SELECT count(*) FROM events WHERE sent = 0"), total);
    FM_CHECK(fm_test_wait_received(&s, total, 15));
    fm_mqtt_get_stats(m, &ms);
    fm_mqtt_stop(m);
    FM_CHECK_INT(ms.connects, 2);
    FM_CHECK_INT(ms.disconnects, 1);
    FM_CHECK_INT(ms.acked, total);
    fm_test_row *rows;
    int n = fm_test_read_rows(db, &rows);
    FM_CHECK_INT(n, total);
    char *text = fm_test_sub_output(&s);
    int dups = 0;
    FM_CHECK(text && fm_test_match_events(text, rows, n, "n1", &dups));
    printf("    broker down 20 s: %d events (%d before the stop, %lld waiting at the restart), "
           "reconnected %.1f s after the restart, %d duplicates, %lld publishes\n",
           total, before, unsent, t_back, dups, ms.published);
    free(text);
    fm_test_free_rows(rows, n);
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
    fm_site_config *cfg = fm_test_mqtt_site("cam-a,cam-b", b.port, "n1", db, NULL);
    fm_site_state *st = cfg ? fm_test_mqtt_state(cfg) : NULL;
    if (!cfg || !st || !fm_test_sub_start(&s, &b, "facemask/+/events", NULL, NULL))
        goto out;
    fm_test_writer w = {.db = db, .cams = {"cam-a", "cam-b"}, .max = 400};
    double tw = fm_test_mono_s();
    fm_test_write_events(&w);
    tw = fm_test_mono_s() - tw;
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
    double t0 = fm_test_mono_s();
    while (fm_test_mono_s() - t0 < 10 &&
           fm_test_sql_int(db, "SELECT count(*) FROM events WHERE sent = 1") < 1)
        fm_test_sleep_ms(2);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    long long at_kill = fm_test_sql_int(db, "SELECT count(*) FROM events WHERE sent = 1");
    FM_CHECK_MSG(at_kill >= 1 && at_kill < 400, "%lld rows sent when the node was killed "
                 "(expected the middle of the backlog)", at_kill);
    fm_err err = {0};
    fm_mqtt *m = fm_mqtt_start(cfg, st, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m)
        goto out;
    double td = fm_test_mono_s();
    FM_CHECK(fm_test_wait_all_sent(db, 400, 20));
    td = fm_test_mono_s() - td;
    FM_CHECK(fm_test_wait_received(&s, 400, 10));
    fm_mqtt_stop(m);
    fm_test_row *rows;
    int n = fm_test_read_rows(db, &rows);
    char *text = fm_test_sub_output(&s);
    int dups = 0;
    FM_CHECK(text && fm_test_match_events(text, rows, n, "n1", &dups));
    printf("    killed with %lld of 400 rows acknowledged; after the restart all 400 arrived, "
           "%d duplicates (backlog written in %.1f s, the rest sent in %.1f s)\n", at_kill, dups,
           tw, td);
    free(text);
    fm_test_free_rows(rows, n);
out:
    fm_test_sub_stop(&s);
    fm_test_broker_stop(&b);
    fm_site_state_free(st);
    fm_site_config_free(cfg);
}

/* --- credentials and errors -------------------------------------------------------------- */


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
    fm_site_config *bad = fm_test_mqtt_site("door", b.port, "n1", db,
                                   "username: facemask\npassword: wrong-pass");
    fm_site_config *good = fm_test_mqtt_site("door", b.port, "n1", db,
                                    "username: facemask\npassword: s3cret-pass");
    fm_site_config *anon = fm_test_mqtt_site("door", b.port, "n1", db, NULL);
    fm_site_state *st = bad ? fm_test_mqtt_state(bad) : NULL;
    if (!bad || !good || !anon || !st)
        goto out;
    fm_err err = {0};
    fm_mqtt_stats s;
    /* refused credentials: a clear reason, no session, and it keeps trying; the reason is
     * logged once, not once per attempt (standard error goes to a file meanwhile) */
    char logpath[700];
    snprintf(logpath, sizeof logpath, "%s/stderr.txt", dir);
    fm_log_level level = fm_log_get_level(); /* another suite may have quietened it */
    fm_log_set_level(FM_LOG_WARN);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FM_CHECK(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    fm_mqtt *m = fm_mqtt_start(bad, st, &err);
    int refused = m && fm_test_mqtt_wait_error(m, "refused the connection: not authorised (check "
                                     "mqtt.username and mqtt.password)", 5, &s);
    fm_test_sleep_ms(1700); /* more attempts: after 0.5 s, 1 s */
    fm_mqtt_get_stats(m, &s);
    fm_mqtt_stop(m);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fm_log_set_level(level);
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
    FM_CHECK(m && fm_test_mqtt_wait_error(m, "not authorised", 5, &s));
    fm_mqtt_stop(m);
    /* the right ones */
    m = fm_mqtt_start(good, st, &err);
    FM_CHECK(m && fm_test_mqtt_wait_connected(m, 5));
    fm_mqtt_get_stats(m, &s);
    FM_CHECK_MSG(s.last_error[0] == 0, "%s", s.last_error);
    fm_mqtt_stop(m);
    /* no broker at all: not an error at start, a reason afterwards */
    fm_test_broker_stop(&b);
    m = fm_mqtt_start(good, st, &err);
    FM_CHECK(m && fm_test_mqtt_wait_error(m, "cannot connect: Connection refused", 5, &s));
    FM_CHECK_STR_CONTAINS(s.last_error, ""); /* one line: */
    FM_CHECK(strchr(s.last_error, '\n') == NULL);
    fm_mqtt_stop(m);
    /* what retrying cannot fix fails at start */
    fm_site_config *tls =
        fm_test_mqtt_site("door", b.port, "n1", db, "tls:\n  ca: /nonexistent/ca.crt");
    if (tls) {
        FM_CHECK(fm_mqtt_start(tls, st, &err) == NULL);
        FM_CHECK_STR_CONTAINS(err.msg, "mqtt.tls.ca: /nonexistent/ca.crt: cannot read: "
                                       "No such file or directory");
        fm_site_config_free(tls);
    }
    char baddb[700];
    snprintf(baddb, sizeof baddb, "%s/no-such-dir/site.db", dir);
    fm_site_config *nodb = fm_test_mqtt_site("door", b.port, "n1", baddb, NULL);
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
    fm_site_state *st = cfg ? fm_test_mqtt_state(cfg) : NULL;
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

void suite_serve_mqtt(void);
void suite_serve_mqtt(void)
{
    FM_RUN(test_mqtt_events_match_history);
    FM_RUN(test_mqtt_killed_then_restarted);
    FM_RUN(test_mqtt_node_name_and_bad_start);
    FM_RUN(test_mqtt_credentials_and_errors);
    FM_RUN(test_mqtt_broker_down_20s);
}
