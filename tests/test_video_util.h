/* test_video_util.h - helpers shared by the video suites: clips made with the ffmpeg command,
 * ffprobe queries, flat-grey stills whose level identifies the frame, and the test RTSP server
 * (build/rtsp_server) started and stopped. */
#ifndef FM_TEST_VIDEO_UTIL_H
#define FM_TEST_VIDEO_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/draw.h"
#include "io/image.h"
#include "test.h"
#include "video/source.h"

extern char **environ;

static inline double tv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Grey level of still number i (distinct, well apart, inside the limited video range). */
static inline int tv_level(int i)
{
    return 20 + (i * 37) % 216;
}

/* A w x h image of grey level v with a small dark square at the top-left (so encoders see
 * some structure). */
static inline fm_image *tv_still(int w, int h, int v)
{
    fm_image *img = fm_image_new(w, h, NULL);
    if (!img)
        return NULL;
    memset(img->data, v, (size_t)img->stride * (size_t)h);
    fm_draw_fill(img, 2, 2, 9, 9, FM_RGB(0, 0, 0));
    return img;
}

/* Mean of the B, G, R bytes over the centre half of the image. */
static inline double tv_mean(const fm_image *img)
{
    double sum = 0;
    long n = 0;
    for (int y = img->h / 4; y < img->h * 3 / 4; y++)
        for (int x = img->w / 4; x < img->w * 3 / 4; x++)
            for (int c = 0; c < 3; c++, n++)
                sum += img->data[(size_t)y * (size_t)img->stride + (size_t)x * 3 + (size_t)c];
    return n ? sum / (double)n : 0;
}

/* Runs a shell command; on failure records a test failure with its output and returns 0. */
static inline int tv_sh(const char *cmd)
{
    char *out = NULL;
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    int rc = fm_test_cmd(full, &out);
    if (rc != 0)
        fm_test_fail(__FILE__, __LINE__, "command failed (%d): %s\n%s", rc, cmd, out ? out : "");
    free(out);
    return rc == 0;
}

/* Writes `n` stills (w x h, levels tv_level(i)) as dir/s000.png ... and encodes them with the
 * ffmpeg command at `fps` into `clip` with the given codec arguments. */
static inline int tv_make_clip(const char *dir, int n, int w, int h, int fps,
                               const char *codec_args, const char *clip)
{
    char path[1024];
    for (int i = 0; i < n; i++) {
        fm_image *img = tv_still(w, h, tv_level(i));
        snprintf(path, sizeof path, "%s/s%03d.png", dir, i);
        fm_err err = {0};
        fm_status st = img ? fm_image_save_png(img, path, &err) : FM_ERR_NOMEM;
        fm_image_free(img);
        if (st != FM_OK) {
            fm_test_fail(__FILE__, __LINE__, "cannot write %s: %s", path, err.msg);
            return 0;
        }
    }
    char cmd[3072];
    snprintf(
        cmd, sizeof cmd,
        "ffmpeg -nostdin -v error -y -framerate %d -i '%s/s%%03d.png' %s -pix_fmt yuv420p '%s'",
        fps, dir, codec_args, clip);
    return tv_sh(cmd);
}

/* ffprobe's answer for the first video stream: `entries` such as "nb_read_frames" (with
 * -count_frames), "codec_name", "width". Returns a malloc'd trimmed string or NULL. */
static inline char *tv_probe(const char *file, const char *entries, int count_frames)
{
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error %s -select_streams v:0 -show_entries stream=%s -of csv=p=0 '%s'",
             count_frames ? "-count_frames" : "", entries, file);
    if (fm_test_cmd(cmd, &out) != 0 || !out) {
        fm_test_fail(__FILE__, __LINE__, "ffprobe failed: %s", cmd);
        free(out);
        return NULL;
    }
    size_t n = strlen(out);
    while (n &&
           (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' || out[n - 1] == ','))
        out[--n] = '\0';
    return out;
}

/* Reads a whole source; counts frames, checks pts rise strictly, records levels of the first
 * `max_levels` frames. Returns the final status. */
static inline fm_status tv_read_all(fm_source *s, long long *count, double *levels, int max_levels,
                                    fm_err *err)
{
    fm_frame fr = {0};
    fm_status st;
    double last = -1;
    *count = 0;
    while ((st = fm_source_read(s, &fr, err)) == FM_OK) {
        if (fr.index != *count)
            fm_test_fail(__FILE__, __LINE__, "frame index %lld, expected %lld", fr.index, *count);
        if (*count > 0 && !(fr.pts > last))
            fm_test_fail(__FILE__, __LINE__, "pts %.6f after %.6f does not rise", fr.pts, last);
        last = fr.pts;
        if (*count < max_levels)
            levels[*count] = tv_mean(fr.image);
        (*count)++;
    }
    fm_frame_clear(&fr);
    return st;
}

/* ---- child processes ---------------------------------------------------------------------- */

/* Starts argv[0] with stdout and stderr into `log` and stdin from /dev/null; the pid, or -1
 * (a test failure). */
static inline pid_t tv_spawn(char *const argv[], const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fm_test_fail(__FILE__, __LINE__, "cannot start %s: %s", argv[0], strerror(rc));
        return -1;
    }
    return pid;
}

/* Waits up to timeout_s for pid: its exit code (128 + N for signal N), or -1 after killing it
 * (SIGKILL) when it did not end in time. */
static inline int tv_wait_exit(pid_t pid, double timeout_s)
{
    double end = tv_now() + timeout_s;
    int status = 0;
    for (;;) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        if (tv_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed), or 0. */
static inline int tv_closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* A running build/rtsp_server. */
typedef struct {
    pid_t pid; /* -1 when none runs */
    int out_fd; /* read end of its stdout */
    int port;
} tv_rtsp_server;

static inline const char *tv_rtsp_server_bin(void)
{
    const char *s = getenv("FM_RTSP_SERVER");
    return s && *s ? s : "build/rtsp_server";
}

/* Starts build/rtsp_server (FM_RTSP_SERVER overrides it) serving `clip` at
 * rtsp://127.0.0.1:PORT/test on `port` (0: any free one) and waits at most 10 s for its
 * "ready PORT" line; srv->port is then the port. Returns 0 with the reason in `why` (the server
 * is not left running). */
static inline int tv_rtsp_start(const char *clip, int port, tv_rtsp_server *srv, char *why,
                                size_t why_len)
{
    srv->pid = -1;
    srv->out_fd = -1;
    const char *bin = tv_rtsp_server_bin();
    if (access(bin, X_OK) != 0) {
        snprintf(why, why_len, "%s is missing (%s): build it with `make build/rtsp_server`", bin,
                 strerror(errno));
        return 0;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        return 0;
    }
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    char *argv[] = {(char *)bin, (char *)clip, port_s, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    int rc = posix_spawn(&srv->pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        srv->pid = -1;
        snprintf(why, why_len, "cannot start %s: %s", bin, strerror(rc));
        return 0;
    }
    srv->out_fd = fds[0];
    char line[128];
    size_t n = 0;
    double end = tv_now() + 10.0;
    while (n < sizeof line - 1) {
        int left_ms = (int)((end - tv_now()) * 1000);
        if (left_ms <= 0)
            break;
        struct pollfd pf = {fds[0], POLLIN, 0};
        if (poll(&pf, 1, left_ms) <= 0)
            continue;
        ssize_t got = read(fds[0], line + n, 1);
        if (got <= 0)
            break; /* the server exited */
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    if (strncmp(line, "ready ", 6) != 0 || atoi(line + 6) <= 0) {
        kill(srv->pid, SIGKILL);
        int st = 0;
        waitpid(srv->pid, &st, 0);
        close(srv->out_fd);
        srv->pid = -1;
        srv->out_fd = -1;
        snprintf(why, why_len,
                 "%s %s %d did not become ready within 10 s (said '%s', exit status %d)", bin, clip,
                 port, line, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return 0;
    }
    srv->port = atoi(line + 6);
    return 1;
}

/* SIGCONT (in case a test stopped it), SIGTERM, then up to 5 s for it to exit (SIGKILL after).
 * Returns its exit status, -1 if killed or not running. */
static inline int tv_rtsp_stop(tv_rtsp_server *srv)
{
    if (srv->pid <= 0)
        return -1;
    kill(srv->pid, SIGCONT);
    kill(srv->pid, SIGTERM);
    int st = 0, done = 0;
    for (int i = 0; i < 500 && !done; i++) {
        if (waitpid(srv->pid, &st, WNOHANG) == srv->pid)
            done = 1;
        else
            usleep(10000);
    }
    if (!done) {
        kill(srv->pid, SIGKILL);
        waitpid(srv->pid, &st, 0);
    }
    close(srv->out_fd);
    srv->pid = -1;
    srv->out_fd = -1;
    return done && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A server started `delay` seconds from now on a thread (pthread_create(&th, NULL,
 * tv_rtsp_late_main, &job)): a source that must wait or reconnect for it. After joining,
 * job.ok says whether it started (job.why if not); stop it with tv_rtsp_stop(&job.srv). */
typedef struct {
    const char *clip;
    int port;
    double delay;
    tv_rtsp_server srv;
    int ok;
    char why[512];
} tv_rtsp_late;

static inline void *tv_rtsp_late_main(void *p)
{
    tv_rtsp_late *job = p;
    struct timespec ts = {(time_t)job->delay,
                          (long)((job->delay - (double)(time_t)job->delay) * 1e9)};
    nanosleep(&ts, NULL);
    job->ok = tv_rtsp_start(job->clip, job->port, &job->srv, job->why, sizeof job->why);
    return NULL;
}

#endif
