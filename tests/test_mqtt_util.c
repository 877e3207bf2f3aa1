/* test_mqtt_util.c - mosquitto, mosquitto_sub, sites and histories for the MQTT tests
 * (test_mqtt_util.h). */
#include "test_mqtt_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "site/history.h"
#include "test.h"

double fm_test_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void fm_test_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int fm_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Ends a child: SIGTERM, then SIGKILL after 5 s. 1 when it was reaped. */
static int end_child(pid_t pid)
{
    if (pid <= 0)
        return 0;
    kill(pid, SIGTERM);
    double t0 = fm_test_mono_s();
    int st;
    while (fm_test_mono_s() - t0 < 5) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return 1;
        fm_test_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    return waitpid(pid, &st, 0) == pid;
}

static pid_t spawn_sh(const char *cmd)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int fm_test_sh(const char *cmd)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *mosquitto_path(void)
{
    return access("/usr/sbin/mosquitto", X_OK) == 0 ? "/usr/sbin/mosquitto" : "mosquitto";
}

static int launch(fm_test_broker *b)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "exec %s -c '%s' >>'%s/mosquitto.out' 2>&1", mosquitto_path(),
             b->conf, b->dir);
    b->pid = spawn_sh(cmd);
    if (b->pid < 0) {
        b->pid = 0;
        fm_test_fail(__FILE__, __LINE__, "cannot fork for mosquitto: %s", strerror(errno));
        return 0;
    }
    double t0 = fm_test_mono_s();
    while (fm_test_mono_s() - t0 < 5) {
        if (port_open(b->port))
            return 1;
        int st;
        if (waitpid(b->pid, &st, WNOHANG) == b->pid) {
            b->pid = 0;
            char path[700];
            snprintf(path, sizeof path, "%s/mosquitto.out", b->dir);
            char *log = fm_test_read_file(path, NULL);
            fm_test_fail(__FILE__, __LINE__, "mosquitto exited at start: %s",
                         log ? log : "(no output)");
            free(log);
            return 0;
        }
        fm_test_sleep_ms(20);
    }
    fm_test_fail(__FILE__, __LINE__, "mosquitto does not accept connections on port %d",
                 b->port);
    end_child(b->pid);
    b->pid = 0;
    return 0;
}

int fm_test_broker_start(fm_test_broker *b, const char *dir, const char *extra)
{
    memset(b, 0, sizeof *b);
    snprintf(b->dir, sizeof b->dir, "%s", dir);
    snprintf(b->extra, sizeof b->extra, "%s", extra ? extra : "");
    snprintf(b->conf, sizeof b->conf, "%s/mosquitto.conf", dir);
    b->port = fm_test_free_port();
    if (b->port <= 0) {
        fm_test_fail(__FILE__, __LINE__, "no free port on 127.0.0.1");
        return 0;
    }
    /* as root mosquitto would switch to the user "mosquitto", which cannot write here */
    struct passwd *pw = getpwuid(getuid());
    char text[4096];
    snprintf(text, sizeof text,
             "listener %d 127.0.0.1\n"
             "%s"
             "persistence true\n"
             "persistence_location %s/\n"
             "log_dest file %s/mosquitto.log\n"
             "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
             "user %s\n"
             "%s\n",
             b->port, strstr(b->extra, "allow_anonymous") ? "" : "allow_anonymous true\n", dir,
             dir, pw ? pw->pw_name : "root", b->extra);
    fm_test_write_text(b->conf, text);
    return launch(b);
}

int fm_test_broker_stop(fm_test_broker *b)
{
    int ok = end_child(b->pid);
    b->pid = 0;
    return ok;
}

int fm_test_broker_restart(fm_test_broker *b)
{
    if (b->pid)
        fm_test_broker_stop(b);
    return launch(b);
}

/* --- subscribers ------------------------------------------------------------------------- */

int fm_test_sub_start(fm_test_sub *s, const fm_test_broker *b, const char *topic,
                      const char *id, const char *args)
{
    memset(s, 0, sizeof *s);
    static int n;
    n++;
    snprintf(s->out, sizeof s->out, "%s/sub%d.out", b->dir, n);
    snprintf(s->err, sizeof s->err, "%s/sub%d.err", b->dir, n);
    char probe[64];
    snprintf(probe, sizeof probe, "fmtest/probe/%d", n);
    char idopt[160] = "";
    if (id)
        snprintf(idopt, sizeof idopt, "-c -i '%s'", id);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "exec mosquitto_sub -h 127.0.0.1 -p %d -q 1 %s %s -t '%s' -t '%s' -F '%%t %%p' "
             ">'%s' 2>'%s'",
             b->port, idopt, args ? args : "", topic, probe, s->out, s->err);
    s->pid = spawn_sh(cmd);
    if (s->pid < 0) {
        s->pid = 0;
        fm_test_fail(__FILE__, __LINE__, "cannot fork for mosquitto_sub");
        return 0;
    }
    double t0 = fm_test_mono_s();
    while (fm_test_mono_s() - t0 < 10) {
        snprintf(cmd, sizeof cmd,
                 "mosquitto_pub -h 127.0.0.1 -p %d -q 1 %s -t '%s' -m ready >/dev/null 2>&1",
                 b->port, args ? args : "", probe);
        fm_test_sh(cmd);
        fm_test_sleep_ms(100);
        char *text = fm_test_read_file(s->out, NULL);
        int ok = text && strstr(text, probe);
        free(text);
        if (ok)
            return 1;
    }
    char *err = fm_test_read_file(s->err, NULL);
    fm_test_fail(__FILE__, __LINE__, "mosquitto_sub on port %d did not subscribe: %s",
                 b->port, err ? err : "");
    free(err);
    return 0;
}

char *fm_test_sub_output(const fm_test_sub *s)
{
    char *text = fm_test_read_file(s->out, NULL);
    if (!text)
        return NULL;
    /* drop the probe lines, in place */
    char *w = text;
    for (char *r = text; *r;) {
        char *nl = strchr(r, '\n');
        size_t len = nl ? (size_t)(nl - r + 1) : strlen(r);
        if (strncmp(r, "fmtest/probe/", 13) != 0) {
            memmove(w, r, len);
            w += len;
        }
        r += len;
    }
    *w = '\0';
    return text;
}

int fm_test_sub_count(const fm_test_sub *s, const char *prefix)
{
    char *text = fm_test_sub_output(s);
    int n = 0;
    size_t k = strlen(prefix);
    for (char *r = text; r && *r;) {
        char *nl = strchr(r, '\n');
        if (!nl)
            break; /* a line still being written */
        if (strncmp(r, prefix, k) == 0)
            n++;
        r = nl + 1;
    }
    free(text);
    return n;
}

void fm_test_sub_stop(fm_test_sub *s)
{
    end_child(s->pid);
    s->pid = 0;
}

char *fm_test_retained(const fm_test_broker *b, const char *filter, const char *args,
                       double seconds)
{
    char cmd[2048];
    int w = (int)(seconds + 0.999);
    snprintf(cmd, sizeof cmd,
             "mosquitto_sub -h 127.0.0.1 -p %d %s -t '%s' -v --retained-only -W %d 2>/dev/null",
             b->port, args ? args : "", filter, w < 1 ? 1 : w);
    char *out = NULL;
    fm_test_cmd(cmd, &out);
    return out;
}

/* --- a site, a history, events --------------------------------------------------------- */

/* A site with the cameras in `cams` (comma-separated), MQTT on port for node, the database
 * at db, and more lines for the mqtt: section (each "key: value\n", may be NULL). */
fm_site_config *fm_test_mqtt_site(const char *cams, int port, const char *node, const char *db,
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

fm_site_state *fm_test_mqtt_state(const fm_site_config *cfg)
{
    const char *names[FM_SITE_MAX_CAMERAS];
    for (int i = 0; i < cfg->ncameras; i++)
        names[i] = cfg->cameras[i].name;
    fm_err err = {0};
    fm_site_state *st = fm_site_state_new(cfg->ncameras, names, &err);
    FM_CHECK_MSG(st != NULL, "%s", err.msg);
    return st;
}

long long fm_test_sql_int(const char *path, const char *sql)
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


/* Every events row, by id. */
int fm_test_read_rows(const char *path, fm_test_row **out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int n = 0, cap = 0;
    fm_test_row *rows = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT id, camera, payload, sent FROM events ORDER BY id", -1,
                           &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                rows = realloc(rows, (size_t)cap * sizeof *rows);
            }
            fm_test_row *r = &rows[n++];
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

void fm_test_free_rows(fm_test_row *rows, int n)
{
    for (int i = 0; i < n; i++)
        free(rows[i].payload);
    free(rows);
}


void *fm_test_write_events(void *arg)
{
    fm_test_writer *w = arg;
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
            fm_test_sleep_ms(w->period_ms);
    }
    fm_history_close(h);
    return NULL;
}

int fm_test_wait_all_sent(const char *db, long long n, double timeout_s)
{
    double t0 = fm_test_mono_s();
    while (fm_test_mono_s() - t0 < timeout_s) {
        if (fm_test_sql_int(db, "SELECT count(*) FROM events") == n &&
            fm_test_sql_int(db, "SELECT count(*) FROM events WHERE sent = 0") == 0)
            return 1;
        fm_test_sleep_ms(50);
    }
    return 0;
}

int fm_test_mqtt_wait_connected(fm_mqtt *m, double timeout_s)
{
    double t0 = fm_test_mono_s();
    fm_mqtt_stats s;
    while (fm_test_mono_s() - t0 < timeout_s) {
        fm_mqtt_get_stats(m, &s);
        if (s.connected)
            return 1;
        fm_test_sleep_ms(20);
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
int fm_test_match_events(const char *text, const fm_test_row *rows, int n, const char *node,
                         int *dups)
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
        const fm_test_row *r = &rows[next];
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

int fm_test_wait_received(const fm_test_sub *s, int n, double timeout_s)
{
    double t0 = fm_test_mono_s();
    while (fm_test_mono_s() - t0 < timeout_s) {
        char *text = fm_test_sub_output(s);
        int got = text ? count_unique(text) : 0;
        free(text);
        if (got >= n)
            return 1;
        fm_test_sleep_ms(50);
    }
    return 0;
}

int fm_test_mqtt_wait_error(fm_mqtt *m, const char *needle, double timeout_s,
                            fm_mqtt_stats *s)
{
    double t0 = fm_test_mono_s();
    while (fm_test_mono_s() - t0 < timeout_s) {
        fm_mqtt_get_stats(m, s);
        if (strstr(s->last_error, needle))
            return 1;
        fm_test_sleep_ms(20);
    }
    return 0;
}
