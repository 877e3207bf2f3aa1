/* test_mqtt_util.c - mosquitto and mosquitto_sub for the tests (test_mqtt_util.h). */
#include "test_mqtt_util.h"

#include <arpa/inet.h>
#include <errno.h>
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

#include "test.h"

static double now_s(void)
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
    double t0 = now_s();
    int st;
    while (now_s() - t0 < 5) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return 1;
        sleep_ms(20);
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
    double t0 = now_s();
    while (now_s() - t0 < 5) {
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
        sleep_ms(20);
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
    double t0 = now_s();
    while (now_s() - t0 < 10) {
        snprintf(cmd, sizeof cmd,
                 "mosquitto_pub -h 127.0.0.1 -p %d -q 1 %s -t '%s' -m ready >/dev/null 2>&1",
                 b->port, args ? args : "", probe);
        fm_test_sh(cmd);
        sleep_ms(100);
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
