/* The live view of `facemask serve` (src/serve/http_live.c): multipart JPEG streams over real
 * HTTP on 127.0.0.1. A writer thread plays a camera pipeline: while someone watches it puts a
 * numbered frame into the site state every few milliseconds and times each put. Checked: a
 * client reads consecutive frames, newest first; the viewer count follows the clients; the
 * 51st stream gets 503; clients that never read do not slow the writer; stop ends open
 * streams. In TSAN_SUITES. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "serve/http.h"
#include "site/config.h"
#include "site/state.h"
#include "test.h"
#include "test_http_util.h"

typedef struct {
    fm_site_state *st;
    size_t frame_bytes;
    atomic_int stop;
    atomic_llong puts;
    atomic_llong max_put_us; /* the longest fm_site_state_put_jpeg */
    pthread_t thread;
} writer;

/* A fake JPEG: FF D8, "FRAME nnnnnnnn", filler, FF D9 (the bytes are never decoded). */
static void *write_frames(void *arg)
{
    writer *w = arg;
    uint8_t *buf = malloc(w->frame_bytes);
    if (!buf)
        return NULL;
    memset(buf, 'x', w->frame_bytes);
    long long n = 0;
    while (!atomic_load(&w->stop)) {
        if (fm_site_state_viewers(w->st, 0) > 0) {
            char head[32];
            snprintf(head, sizeof head, "\xff\xd8" "FRAME %08lld", ++n);
            memcpy(buf, head, strlen(head));
            buf[w->frame_bytes - 2] = 0xff;
            buf[w->frame_bytes - 1] = 0xd9;
            double t0 = fm_now_ms();
            fm_site_state_put_jpeg(w->st, 0, buf, w->frame_bytes, NULL);
            long long us = (long long)((fm_now_ms() - t0) * 1000);
            if (us > atomic_load(&w->max_put_us))
                atomic_store(&w->max_put_us, us);
            atomic_fetch_add(&w->puts, 1);
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    free(buf);
    return NULL;
}

typedef struct {
    fm_site_config *site;
    fm_site_state *st;
    fm_http *http;
    int port;
    writer w;
} live_fixture;

static int live_setup(live_fixture *f, const char *name, size_t frame_bytes)
{
    memset(f, 0, sizeof *f);
    char dir[1024], path[1200], yaml[2048];
    snprintf(dir, sizeof dir, "%s/%s", fm_test_tmpdir(), name);
    mkdir(dir, 0700);
    snprintf(yaml, sizeof yaml,
             "cameras:\n  - name: door\n    source: /dev/null\n  - name: hall\n    source: "
             "/dev/null\nhttp:\n  listen: 127.0.0.1\ndatabase:\n  path: %s/site.db\n",
             dir);
    snprintf(path, sizeof path, "%s/site.yaml", dir);
    fm_test_write_text(path, yaml);
    fm_err err = {0};
    f->site = fm_site_config_load(path, &err);
    FM_CHECK_MSG(f->site != NULL, "%s", err.msg);
    if (!f->site)
        return -1;
    f->site->http.port = 0;
    const char *names[] = {"door", "hall"};
    f->st = fm_site_state_new(2, names, &err);
    FM_CHECK_MSG(f->st != NULL, "%s", err.msg);
    if (!f->st)
        return -1;
    f->http = fm_http_start(f->site, f->st, NULL, &err);
    FM_CHECK_MSG(f->http != NULL, "%s", err.msg);
    if (!f->http)
        return -1;
    f->port = fm_http_port(f->http);
    f->w.st = f->st;
    f->w.frame_bytes = frame_bytes;
    if (pthread_create(&f->w.thread, NULL, write_frames, &f->w) != 0)
        return -1;
    return 0;
}

static void live_teardown(live_fixture *f)
{
    if (f->w.st) {
        atomic_store(&f->w.stop, 1);
        pthread_join(f->w.thread, NULL);
    }
    fm_http_stop(f->http);
    fm_site_state_free(f->st);
    fm_site_config_free(f->site);
}

/* Opens camera `cam`'s stream; returns the socket with the response headers read (status in
 * *status), or -1. */
static int open_stream(int port, const char *cam, int *status)
{
    *status = 0;
    int fd = th_connect(port, 10);
    if (fd < 0)
        return -1;
    char req[256];
    snprintf(req, sizeof req, "GET /api/cameras/%s/live.mjpeg HTTP/1.0\r\nHost: x\r\n\r\n", cam);
    if (th_send_all(fd, req, strlen(req)) != 0) {
        close(fd);
        return -1;
    }
    /* read the headers byte by byte, so nothing of the body is consumed */
    char head[2048];
    size_t n = 0;
    while (n < sizeof head - 1) {
        ssize_t got = recv(fd, head + n, 1, 0);
        if (got <= 0)
            break;
        n++;
        if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4))
            break;
    }
    head[n] = '\0';
    if (strncmp(head, "HTTP/1.", 7) != 0) {
        close(fd);
        return -1;
    }
    *status = atoi(head + 9);
    if (*status == 200 && !strstr(head, "multipart/x-mixed-replace; boundary=fmframe")) {
        close(fd);
        *status = -1;
        return -1;
    }
    return fd;
}

static int read_exact(int fd, char *buf, size_t n)
{
    while (n) {
        ssize_t got = recv(fd, buf, n, 0);
        if (got <= 0)
            return -1;
        buf += got;
        n -= (size_t)got;
    }
    return 0;
}

/* Reads one part; returns its frame number (from "FRAME n"), or -1 on a malformed part. */
static long long read_part(int fd, size_t want_len)
{
    char line[256];
    size_t n = 0;
    /* "--fmframe\r\nContent-Type: image/jpeg\r\nContent-Length: N\r\n\r\n" */
    while (n < sizeof line - 1) {
        if (recv(fd, line + n, 1, 0) != 1)
            return -1;
        n++;
        if (n >= 4 && !memcmp(line + n - 4, "\r\n\r\n", 4))
            break;
    }
    line[n] = '\0';
    size_t len = 0;
    static const char head[] = "--fmframe\r\nContent-Type: image/jpeg\r\nContent-Length: ";
    if (strncmp(line, head, sizeof head - 1) != 0 ||
        sscanf(line + sizeof head - 1, "%zu", &len) != 1 || len != want_len)
        return -1;
    char *body = malloc(len + 2);
    if (!body || read_exact(fd, body, len + 2) != 0 || memcmp(body + len, "\r\n", 2) != 0 ||
        (unsigned char)body[0] != 0xff || (unsigned char)body[1] != 0xd8 ||
        (unsigned char)body[len - 1] != 0xd9 || strncmp(body + 2, "FRAME ", 6) != 0) {
        free(body);
        return -1;
    }
    long long num = atoll(body + 8);
    free(body);
    return num;
}

/* This process's resident memory in bytes (/proc/self/statm). */
static double rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, res = 0;
    int n = f ? fscanf(f, "%llu %llu", &size, &res) : 0;
    if (f)
        fclose(f);
    return n == 2 ? (double)res * (double)sysconf(_SC_PAGESIZE) : -1;
}

static int wait_viewers(fm_site_state *st, int cam, int want, double seconds)
{
    double end = fm_now_ms() + seconds * 1000;
    while (fm_now_ms() < end) {
        if (fm_site_state_viewers(st, cam) == want)
            return 1;
        usleep(10000);
    }
    return fm_site_state_viewers(st, cam) == want;
}

/* A client reads consecutive, increasing frames; the viewer count follows it. */
static void test_http_live_frames(void)
{
    live_fixture f;
    if (live_setup(&f, "frames", 4000) != 0) {
        live_teardown(&f);
        return;
    }
    FM_CHECK_INT(fm_site_state_viewers(f.st, 0), 0);
    int status;
    int fd = open_stream(f.port, "door", &status);
    FM_CHECK_INT(status, 200);
    if (fd >= 0) {
        FM_CHECK_INT(fm_site_state_viewers(f.st, 0), 1);
        FM_CHECK_INT(fm_site_state_viewers(f.st, 1), 0);
        long long last = 0;
        for (int i = 0; i < 10; i++) {
            long long num = read_part(fd, 4000);
            FM_CHECK_MSG(num > last, "part %d: frame %lld after %lld", i, num, last);
            if (num <= last)
                break;
            last = num;
        }
        th_response r;
        FM_CHECK(th_get(f.port, "GET", "/metrics", NULL, &r) == 0);
        FM_CHECK(th_prom_value(r.body, "facemask_live_streams") == 1);
        th_free(&r);
        close(fd);
        /* the server notices the closed socket on its next write (a new frame) */
        FM_CHECK_MSG(wait_viewers(f.st, 0, 0, 5), "viewers: %d after the client closed",
                     fm_site_state_viewers(f.st, 0));
    }
    /* a camera that never gives a frame: the stream waits, then stop ends it */
    fd = open_stream(f.port, "hall", &status);
    FM_CHECK_INT(status, 200);
    FM_CHECK_INT(fm_site_state_viewers(f.st, 1), 1);
    double t0 = fm_now_ms();
    atomic_store(&f.w.stop, 1);
    pthread_join(f.w.thread, NULL);
    f.w.st = NULL;
    fm_http_stop(f.http);
    f.http = NULL;
    FM_CHECK_MSG(fm_now_ms() - t0 < 5000, "stop took %.0f ms", fm_now_ms() - t0);
    FM_CHECK_INT(fm_site_state_viewers(f.st, 1), 0);
    if (fd >= 0) {
        char c;
        FM_CHECK(recv(fd, &c, 1, 0) <= 0); /* closed */
        close(fd);
    }
    live_teardown(&f);
}

/* 60 clients: 50 streams, 10 get 503; 49 of the streams never read while big frames go by and
 * the writer never waits for them; one reading client still gets fresh frames; stop ends all. */
static void test_http_live_cap(void)
{
    enum { CLIENTS = 60, FRAME = 200 * 1000 };
    live_fixture f;
    if (live_setup(&f, "cap", FRAME) != 0) {
        live_teardown(&f);
        return;
    }
    double rss0 = rss_bytes();
    int fds[CLIENTS], ok = 0, busy = 0;
    for (int i = 0; i < CLIENTS; i++) {
        int status = 0;
        fds[i] = open_stream(f.port, i % 2 ? "hall" : "door", &status);
        if (status == 200)
            ok++;
        else if (status == 503)
            busy++;
        FM_CHECK_MSG(status == (i < FM_HTTP_MAX_STREAMS ? 200 : 503), "client %d: status %d", i,
                     status);
    }
    FM_CHECK_INT(ok, FM_HTTP_MAX_STREAMS);
    FM_CHECK_INT(busy, CLIENTS - FM_HTTP_MAX_STREAMS);
    for (int i = FM_HTTP_MAX_STREAMS; i < CLIENTS; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    FM_CHECK_INT(fm_site_state_viewers(f.st, 0), FM_HTTP_MAX_STREAMS / 2);

    /* the other streams never read; client 0 reads for a while */
    long long puts0 = atomic_load(&f.w.puts);
    double t0 = fm_now_ms();
    long long last = 0;
    int parts = 0;
    while (fm_now_ms() - t0 < 1500 && fds[0] >= 0) {
        long long num = read_part(fds[0], FRAME);
        FM_CHECK_MSG(num > last, "frame %lld after %lld", num, last);
        if (num <= last)
            break;
        last = num;
        parts++;
    }
    long long puts = atomic_load(&f.w.puts) - puts0;
    FM_CHECK_MSG(parts >= 5, "the reading client got %d frames in 1.5 s", parts);
    /* the writer sleeps 5 ms a frame: >= 100 frames in 1.5 s unless something held it */
    FM_CHECK_MSG(puts >= (fm_test_sanitized() ? 30 : 100), "the writer put %lld frames in 1.5 s",
                 puts);
    long long max_us = atomic_load(&f.w.max_put_us);
    FM_CHECK_MSG(max_us < 100000, "a put took %lld us", max_us);
    /* one copy of a frame per camera however many streams: memory stays flat */
    double grew = rss_bytes() - rss0;
    fprintf(stderr, "  live: %d parts read, %lld frames put in 1.5 s, longest put %lld us, "
                    "RSS %+.1f MB with 50 streams\n",
            parts, puts, max_us, grew / 1e6);
    FM_CHECK_MSG(fm_test_sanitized() || grew < 32e6, "RSS grew %.1f MB with 50 streams",
                 grew / 1e6);

    /* a new stream is still refused while 50 are open */
    int status = 0;
    int extra = open_stream(f.port, "door", &status);
    FM_CHECK_INT(status, 503);
    if (extra >= 0)
        close(extra);

    /* stop with 50 streams open, most of them with full socket buffers */
    atomic_store(&f.w.stop, 1);
    pthread_join(f.w.thread, NULL);
    f.w.st = NULL;
    t0 = fm_now_ms();
    fm_http_stop(f.http);
    f.http = NULL;
    FM_CHECK_MSG(fm_now_ms() - t0 < 5000, "stop took %.0f ms", fm_now_ms() - t0);
    FM_CHECK_INT(fm_site_state_viewers(f.st, 0), 0);
    FM_CHECK_INT(fm_site_state_viewers(f.st, 1), 0);
    for (int i = 0; i < FM_HTTP_MAX_STREAMS; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    live_teardown(&f);
}

void suite_serve_http_live(void);
void suite_serve_http_live(void)
{
    FM_RUN(test_http_live_frames);
    FM_RUN(test_http_live_cap);
}
