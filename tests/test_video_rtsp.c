/* Tests for live network sources: an RTSP server (build/rtsp_server, GStreamer) on
 * 127.0.0.1 is killed and restarted under a reading fm_source, which must reconnect; a
 * refused connection fails fast; a stalled server trips the timeouts. Every wait is bounded.
 * If the server cannot start, the tests fail (they never skip). */
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "test_video_util.h"
#include "video/source.h"

/* A 30 s H.264 clip, 160x120 at 25 frames/s, a keyframe each second. */
static int make_rtsp_clip(char *clip, size_t len)
{
    snprintf(clip, len, "%s/live.mp4", fm_test_tmpdir());
    char cmd[2048];
    snprintf(
        cmd, sizeof cmd,
        "ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=160x120:rate=25 -t 30 -c:v libx264 "
        "-preset ultrafast -g 25 -bf 0 -pix_fmt yuv420p '%s'",
        clip);
    return tv_sh(cmd);
}

typedef struct {
    int events[FM_SOURCE_EVENT_KINDS];
    double deadline; /* monotonic; should_stop says stop after it */
} watch;

static void on_event(void *user, const fm_source_event *ev)
{
    watch *w = user;
    if ((int)ev->kind >= 0 && (int)ev->kind < 4)
        w->events[ev->kind]++;
}

static int should_stop(void *user)
{
    const watch *w = user;
    return tv_now() > w->deadline;
}

/* Makes the test clip (its path in clip), serves it on a new server (srv) and opens a source on
 * it with the settings in o, events counted in w and a deadline budget_s seconds away. NULL
 * (test failed) when the server does not start or the source does not open; no server is then
 * left running. */
static fm_source *serve_and_open(char *clip, size_t clip_len, tv_rtsp_server *srv,
                                 fm_source_opts o, watch *w, double budget_s)
{
    char why[512], url[128];
    srv->pid = -1;
    srv->out_fd = -1;
    if (!make_rtsp_clip(clip, clip_len))
        return NULL;
    if (!tv_rtsp_start(clip, 0, srv, why, sizeof why)) {
        fm_test_fail(__FILE__, __LINE__, "RTSP server: %s", why);
        return NULL;
    }
    snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/test", srv->port);
    memset(w, 0, sizeof *w);
    w->deadline = tv_now() + budget_s;
    o.on_event = on_event;
    o.should_stop = should_stop;
    o.user = w;
    fm_err err = {0};
    fm_source *s = fm_source_open(url, &o, &err);
    FM_CHECK_MSG(s != NULL, "%s", err.msg);
    if (!s)
        tv_rtsp_stop(srv);
    return s;
}

static void test_rtsp_reconnects_after_server_restart(void)
{
    char clip[1024];
    tv_rtsp_server srv;
    watch w;
    fm_source_opts o = fm_source_opts_default();
    o.reconnect_initial = 0.25;
    o.reconnect_max = 1.0;
    o.reconnect_attempts = 15;
    o.open_timeout = 5;
    o.read_timeout = 3;
    fm_source *s = serve_and_open(clip, sizeof clip, &srv, o, &w, 25.0);
    if (!s)
        return;
    fm_err err = {0};
    FM_CHECK_INT(fm_source_is_live(s), 1);
    FM_CHECK_INT(fm_source_get_kind(s), FM_SOURCE_NETWORK);
    FM_CHECK_INT(fm_source_width(s), 160);
    FM_CHECK_INT(fm_source_height(s), 120);
    FM_CHECK_NEAR(fm_source_fps(s), 25.0, 0.01);

    fm_frame fr = {0};
    fm_status st = FM_OK;
    long long before = 0, after = 0;
    double last_pts = -1;
    /* 1 s of stream, then the server goes away */
    while (before < 25 && (st = fm_source_read(s, &fr, &err)) == FM_OK) {
        FM_CHECK(fr.pts > last_pts);
        last_pts = fr.pts;
        FM_CHECK_INT(fr.image->w, 160);
        before++;
    }
    FM_CHECK_MSG(st == FM_OK, "before the restart: status %d: %s", (int)st, err.msg);
    int port = srv.port;
    FM_CHECK_INT(tv_rtsp_stop(&srv), 0);

    tv_rtsp_late job = {clip, port, 1.0, {-1, -1, 0}, 0, ""};
    pthread_t th;
    int started = pthread_create(&th, NULL, tv_rtsp_late_main, &job) == 0;
    FM_CHECK(started);

    fm_source_stats stats;
    while (st == FM_OK && after < 25) {
        st = fm_source_read(s, &fr, &err);
        if (st != FM_OK)
            break;
        FM_CHECK(fr.pts > last_pts);
        last_pts = fr.pts;
        fm_source_get_stats(s, &stats);
        if (stats.reconnects > 0)
            after++;
        else
            before++; /* frames still buffered when the server died */
    }
    FM_CHECK_MSG(st == FM_OK, "after the restart: status %d: %s (timed out: %d)", (int)st,
                 st == FM_SOURCE_END ? "stopped by the test deadline" : err.msg,
                 tv_now() > w.deadline);
    if (started)
        pthread_join(th, NULL);
    FM_CHECK_MSG(job.ok, "RTSP server restart on port %d: %s", port, job.why);
    fm_source_get_stats(s, &stats);
    printf("  frames before %lld, after %lld; drops %lld, reconnects %lld, failed attempts %d\n",
           before, after, stats.drops, stats.reconnects, w.events[FM_SOURCE_EVENT_RETRY_FAILED]);
    FM_CHECK(before >= 25);
    FM_CHECK_INT(after, 25);
    FM_CHECK(stats.reconnects >= 1);
    FM_CHECK(stats.drops >= 1);
    FM_CHECK(w.events[FM_SOURCE_EVENT_DROPPED] >= 1);
    FM_CHECK(w.events[FM_SOURCE_EVENT_RECONNECTED] >= 1);
    FM_CHECK_INT(w.events[FM_SOURCE_EVENT_GAVE_UP], 0);
    FM_CHECK_INT(stats.frames, before + after);
    fm_frame_clear(&fr);
    fm_source_close(s);
    if (job.ok)
        FM_CHECK_INT(tv_rtsp_stop(&job.srv), 0);
}

static int free_port(void)
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

static void test_rtsp_refused_fails_fast(void)
{
    int port = free_port();
    FM_CHECK(port > 0);
    char url[128];
    snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/test", port);
    fm_source_opts o = fm_source_opts_default();
    o.open_timeout = 5;
    fm_err err = {0};
    double t0 = tv_now();
    fm_source *s = fm_source_open(url, &o, &err);
    FM_CHECK(s == NULL);
    FM_CHECK(tv_now() - t0 < 3.0);
    FM_CHECK_STR_CONTAINS(err.msg, url);
    FM_CHECK_STR_CONTAINS(err.msg, "cannot open: Connection refused");
    fm_source_close(s);

    /* credentials never reach messages */
    snprintf(url, sizeof url, "rtsp://admin:secret@127.0.0.1:%d/test", port);
    s = fm_source_open(url, &o, &err);
    FM_CHECK(s == NULL);
    FM_CHECK(strstr(err.msg, "secret") == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "rtsp://***@127.0.0.1");
}

static void test_rtsp_stalled_server_times_out(void)
{
    char clip[1024];
    tv_rtsp_server srv;
    watch w;
    fm_source_opts o = fm_source_opts_default();
    o.reconnect_initial = 0.1;
    o.reconnect_max = 0.2;
    o.reconnect_attempts = 2;
    o.open_timeout = 1;
    o.read_timeout = 1;
    fm_source *s = serve_and_open(clip, sizeof clip, &srv, o, &w, 20.0);
    if (s) {
        fm_err err = {0};
        fm_frame fr = {0};
        fm_status st;
        int n = 0;
        while (n < 5 && (st = fm_source_read(s, &fr, &err)) == FM_OK)
            n++;
        FM_CHECK_INT(n, 5);
        kill(srv.pid, SIGSTOP); /* alive but silent: connections hang */
        double t0 = tv_now();
        while ((st = fm_source_read(s, &fr, &err)) == FM_OK)
            n++;
        double took = tv_now() - t0;
        printf("  gave up after %.2f s: %s\n", took, err.msg);
        FM_CHECK_INT(st, FM_ERR_IO);
        FM_CHECK(took < 8.0);
        FM_CHECK_STR_CONTAINS(err.msg, "2 reconnection attempts failed");
        FM_CHECK_STR_CONTAINS(err.msg, "no data for 1 s (read timeout)");
        FM_CHECK_STR_CONTAINS(err.msg, "no answer within 1 s (open timeout)");
        FM_CHECK_INT(w.events[FM_SOURCE_EVENT_GAVE_UP], 1);
        FM_CHECK_INT(w.events[FM_SOURCE_EVENT_RETRY_FAILED], 1);
        FM_CHECK_INT(fm_source_read(s, &fr, &err), FM_ERR_IO); /* stays failed */
        fm_frame_clear(&fr);
        fm_source_close(s);
    }
    tv_rtsp_stop(&srv);
}

void suite_video_rtsp(void);
void suite_video_rtsp(void)
{
    fm_video_set_log_level(0);
    FM_RUN(test_rtsp_reconnects_after_server_restart);
    FM_RUN(test_rtsp_refused_fails_fast);
    FM_RUN(test_rtsp_stalled_server_times_out);
}
