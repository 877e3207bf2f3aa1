/* http_live.c - each camera's live view as multipart/x-mixed-replace JPEG (MJPEG).
 *
 * One feeder thread copies a watched camera's newest JPEG out of the site state once per new
 * frame (fm_site_state_get_jpeg without waiting, every FEED_MS) into a reference-counted part
 * (boundary, headers, JPEG, CRLF) and resumes the streams of that camera that were waiting.
 * A stream's content reader (called by libmicrohttpd when the client's socket can take more)
 * copies out of the part it holds; when it has sent the newest part it suspends its
 * connection until the next one. So:
 *  - a camera pipeline only ever takes the state's mutex for its memcpy: no client can stall
 *    it; a slow client's socket fills and it simply misses frames (it always gets the newest);
 *  - one copy per frame and camera, however many clients;
 *  - a stream that has had nothing to send for FM_HTTP_IDLE_TIMEOUT_S (a camera that never
 *    gave a frame) ends, so dead clients of a dead camera cannot hold the stream slots;
 *    while frames exist the newest is sent again every KEEPALIVE_MS, which also finds
 *    disconnected clients.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "serve/http_internal.h"

#define FEED_MS 10
#define KEEPALIVE_MS 1000
#define BOUNDARY "fmframe"

typedef struct part {
    int refs;                 /* under the live mutex */
    unsigned long long seq;   /* the state's frame number */
    size_t len;
    unsigned char data[];     /* --BOUNDARY, headers, JPEG, CRLF */
} part;

typedef struct stream {
    fm_http_live *live;
    int cam;
    struct MHD_Connection *conn;
    part *cur;                /* being sent, or NULL */
    size_t off;
    unsigned long long seq;   /* the last part started */
    double last_ms;           /* when a part was last started */
    int waiting;              /* suspended, in the camera's waiting list */
    struct stream *next;
} stream;

typedef struct {
    part *latest;
    stream *waiting;
    int streams;
    unsigned long long seq;   /* the feeder's: newest frame copied */
} live_cam;

struct fm_http_live {
    fm_http *h;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, stopping;
    int nstreams;
    int ncams;
    live_cam cams[FM_SITE_MAX_CAMERAS];
};

static void unref(part *p)
{
    if (p && --p->refs == 0)
        free(p);
}

/* Resumes every waiting stream of camera i; under the mutex. */
static void resume_waiting(live_cam *c)
{
    for (stream *s = c->waiting, *next; s; s = next) {
        next = s->next;
        s->waiting = 0;
        s->next = NULL;
        MHD_resume_connection(s->conn);
    }
    c->waiting = NULL;
}

static part *make_part(const uint8_t *jpeg, size_t len, unsigned long long seq)
{
    char head[128];
    int hn = snprintf(head, sizeof head,
                      "--" BOUNDARY "\r\nContent-Type: image/jpeg\r\nContent-Length: %zu\r\n\r\n",
                      len);
    size_t total;
    if (hn < 0 || !fm_size_add(len, (size_t)hn + 2, &total) ||
        !fm_size_add(total, sizeof(part), &total))
        return NULL;
    part *p = malloc(total);
    if (!p)
        return NULL;
    p->refs = 1;
    p->seq = seq;
    p->len = (size_t)hn + len + 2;
    memcpy(p->data, head, (size_t)hn);
    memcpy(p->data + hn, jpeg, len);
    memcpy(p->data + hn + len, "\r\n", 2);
    return p;
}

static void *feeder(void *arg)
{
    fm_http_live *l = arg;
    uint8_t *buf = NULL;
    size_t cap = 0;
    double last_keepalive = fm_now_ms();
    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        for (int i = 0; i < l->ncams && !l->stopping; i++) {
            if (l->cams[i].streams == 0)
                continue;
            pthread_mutex_unlock(&l->mu);
            size_t len = 0;
            unsigned long long seq = l->cams[i].seq; /* only this thread writes it */
            int got = fm_site_state_get_jpeg(l->h->state, i, &seq, &buf, &cap, &len, 0);
            part *p = got == 1 ? make_part(buf, len, seq) : NULL;
            pthread_mutex_lock(&l->mu);
            if (!p)
                continue; /* no new frame (or out of memory: the next one is tried) */
            l->cams[i].seq = seq;
            unref(l->cams[i].latest);
            l->cams[i].latest = p;
            resume_waiting(&l->cams[i]);
        }
        double now = fm_now_ms();
        if (now - last_keepalive >= KEEPALIVE_MS) {
            last_keepalive = now;
            for (int i = 0; i < l->ncams; i++)
                resume_waiting(&l->cams[i]);
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += FEED_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&l->cv, &l->mu, &until);
    }
    pthread_mutex_unlock(&l->mu);
    free(buf);
    return NULL;
}

fm_http_live *fm_http_live_start(fm_http *h, fm_err *err)
{
    fm_http_live *l = calloc(1, sizeof *l);
    if (!l) {
        fm_err_set(err, FM_ERR_NOMEM, "http: out of memory");
        return NULL;
    }
    l->h = h;
    l->ncams = fm_site_state_count(h->state);
    if (l->ncams > FM_SITE_MAX_CAMERAS)
        l->ncams = FM_SITE_MAX_CAMERAS;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    int rc = pthread_create(&l->thread, NULL, feeder, l);
    if (rc != 0) {
        fm_err_set(err, FM_ERR_NOMEM, "http: cannot start the live view thread: %s",
                   strerror(rc));
        fm_http_live_free(l);
        return NULL;
    }
    l->started = 1;
    return l;
}

void fm_http_live_shutdown(fm_http_live *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    for (int i = 0; i < l->ncams; i++)
        resume_waiting(&l->cams[i]);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->started) {
        pthread_join(l->thread, NULL);
        l->started = 0;
    }
}

void fm_http_live_free(fm_http_live *l)
{
    if (!l)
        return;
    fm_http_live_shutdown(l);
    for (int i = 0; i < l->ncams; i++)
        unref(l->cams[i].latest);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

int fm_http_live_streams(fm_http_live *l)
{
    pthread_mutex_lock(&l->mu);
    int n = l->nstreams;
    pthread_mutex_unlock(&l->mu);
    return n;
}

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *s = cls;
    fm_http_live *l = s->live;
    (void)pos;
    pthread_mutex_lock(&l->mu);
    if (l->stopping) {
        pthread_mutex_unlock(&l->mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (!s->cur) {
        live_cam *c = &l->cams[s->cam];
        double now = fm_now_ms();
        if (c->latest && (c->latest->seq > s->seq || now - s->last_ms >= KEEPALIVE_MS)) {
            s->cur = c->latest;
            s->cur->refs++;
            s->off = 0;
            s->seq = c->latest->seq;
            s->last_ms = now;
        } else if (now - s->last_ms >= FM_HTTP_IDLE_TIMEOUT_S * 1000.0) {
            pthread_mutex_unlock(&l->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        } else {
            s->waiting = 1;
            s->next = c->waiting;
            c->waiting = s;
            MHD_suspend_connection(s->conn);
            pthread_mutex_unlock(&l->mu);
            return 0;
        }
    }
    size_t n = s->cur->len - s->off;
    if (n > max)
        n = max;
    memcpy(buf, s->cur->data + s->off, n);
    s->off += n;
    if (s->off == s->cur->len) {
        unref(s->cur);
        s->cur = NULL;
    }
    pthread_mutex_unlock(&l->mu);
    return (ssize_t)n;
}

static void free_stream(void *cls)
{
    stream *s = cls;
    fm_http_live *l = s->live;
    pthread_mutex_lock(&l->mu);
    if (s->waiting) { /* not expected: a suspended connection is never closed */
        for (stream **pp = &l->cams[s->cam].waiting; *pp; pp = &(*pp)->next)
            if (*pp == s) {
                *pp = s->next;
                break;
            }
    }
    unref(s->cur);
    l->nstreams--;
    l->cams[s->cam].streams--;
    pthread_mutex_unlock(&l->mu);
    fm_site_state_unwatch(l->h->state, s->cam);
    free(s);
}

enum MHD_Result fm_http_live_stream(fm_http *h, struct MHD_Connection *c, int cam)
{
    fm_http_live *l = h->live;
    if (cam < 0 || cam >= l->ncams)
        return fm_http_send_error(c, MHD_HTTP_NOT_FOUND, "no such camera");
    stream *s = calloc(1, sizeof *s);
    if (!s)
        return fm_http_send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    pthread_mutex_lock(&l->mu);
    int full = l->nstreams >= FM_HTTP_MAX_STREAMS, stopping = l->stopping;
    if (!full && !stopping) {
        l->nstreams++;
        l->cams[cam].streams++;
    }
    pthread_mutex_unlock(&l->mu);
    if (full || stopping) {
        free(s);
        char msg[128] = "shutting down";
        if (full)
            snprintf(msg, sizeof msg, "too many live views open (at most %d)",
                     FM_HTTP_MAX_STREAMS);
        return fm_http_send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    s->live = l;
    s->cam = cam;
    s->conn = c;
    s->last_ms = fm_now_ms();
    fm_site_state_watch(h->state, cam);
    /* free_stream runs when the response is destroyed: after the connection ends */
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, read_stream, s,
                                          free_stream);
    if (!r) {
        free_stream(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "multipart/x-mixed-replace; boundary=" BOUNDARY);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}
