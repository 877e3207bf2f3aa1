/* state.c - per-camera live state shared between serve's threads (site/state.h). */
#include "site/state.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/hist.h"
#include "site/config.h"

const double fm_site_latency_bounds[FM_SITE_LATENCY_BUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0};

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t frame_cv; /* a new JPEG, or a wake */
    fm_site_cam_stats s;
    fm_hist latency_ms; /* every processed frame's latency: its median and 90th percentile */
    int viewers;
    uint8_t *jpeg;
    size_t jpeg_len, jpeg_cap;
    unsigned long long seq;
} cam;

struct fm_site_state {
    int n;
    atomic_int woken; /* set once by fm_site_state_wake */
    cam *cams;
};

const char *fm_cam_status_str(fm_cam_status s)
{
    switch (s) {
    case FM_CAM_STARTING: return "starting";
    case FM_CAM_RUNNING: return "running";
    case FM_CAM_RECONNECTING: return "reconnecting";
    case FM_CAM_ENDED: return "ended";
    case FM_CAM_FAILED: return "failed";
    }
    return "unknown";
}

fm_site_state *fm_site_state_new(int ncameras, const char *const *names, fm_err *err)
{
    if (ncameras < 1 || ncameras > FM_SITE_MAX_CAMERAS || !names)
        return fm_err_set(err, FM_ERR_ARG, "site state: %d cameras (expected 1..%d)", ncameras,
                          FM_SITE_MAX_CAMERAS), NULL;
    for (int i = 0; i < ncameras; i++) {
        size_t len = names[i] ? strlen(names[i]) : 0;
        if (len < 1 || len > FM_SITE_NAME_MAX)
            return fm_err_set(err, FM_ERR_ARG, "site state: camera %d: name of %zu characters "
                              "(expected 1..%d)", i, len, FM_SITE_NAME_MAX), NULL;
    }
    fm_site_state *st = calloc(1, sizeof *st);
    cam *cams = calloc((size_t)ncameras, sizeof *cams);
    if (!st || !cams) {
        free(st);
        free(cams);
        return fm_err_set(err, FM_ERR_NOMEM, "site state: out of memory"), NULL;
    }
    st->n = ncameras;
    st->cams = cams;
    for (int i = 0; i < ncameras; i++) {
        pthread_mutex_init(&cams[i].mu, NULL);
        pthread_cond_init(&cams[i].frame_cv, NULL);
        strcpy(cams[i].s.name, names[i]);
        cams[i].s.compliance = -1;
        fm_hist_init(&cams[i].latency_ms);
    }
    return st;
}

void fm_site_state_free(fm_site_state *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->n; i++) {
        pthread_mutex_destroy(&st->cams[i].mu);
        pthread_cond_destroy(&st->cams[i].frame_cv);
        free(st->cams[i].jpeg);
    }
    free(st->cams);
    free(st);
}

int fm_site_state_count(const fm_site_state *st)
{
    return st ? st->n : 0;
}

int fm_site_state_find(const fm_site_state *st, const char *name)
{
    if (!st || !name)
        return -1;
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->cams[i].s.name, name) == 0) /* names never change: no lock needed */
            return i;
    return -1;
}

/* The camera, locked; NULL for a bad index. */
static cam *lock(fm_site_state *st, int i)
{
    if (!st || i < 0 || i >= st->n)
        return NULL;
    pthread_mutex_lock(&st->cams[i].mu);
    return &st->cams[i];
}

static void unlock(cam *c)
{
    c->s.updated = fm_wall_now();
    pthread_mutex_unlock(&c->mu);
}

void fm_site_state_frame(fm_site_state *st, int i, const fm_site_frame *f)
{
    cam *c = f ? lock(st, i) : NULL;
    if (!c)
        return;
    fm_site_cam_stats *s = &c->s;
    s->frames++;
    s->faces += f->faces > 0 ? f->faces : 0;
    s->people_now = f->people_now;
    s->masked_now = f->masked_now;
    s->unmasked_now = f->unmasked_now;
    s->fps = f->fps;
    if (f->latency_s >= 0) { /* false for NaN too */
        s->latency_count++;
        s->latency_sum += f->latency_s;
        fm_hist_add(&c->latency_ms, f->latency_s * 1000.0);
        for (int b = 0; b < FM_SITE_LATENCY_BUCKETS; b++)
            if (f->latency_s <= fm_site_latency_bounds[b])
                s->latency_le[b]++;
    }
    if (s->status == FM_CAM_STARTING || s->status == FM_CAM_RECONNECTING)
        s->status = FM_CAM_RUNNING;
    unlock(c);
}

void fm_site_state_skipped(fm_site_state *st, int i, long long n)
{
    cam *c = n > 0 ? lock(st, i) : NULL;
    if (!c)
        return;
    c->s.skipped += n;
    unlock(c);
}

void fm_site_state_status(fm_site_state *st, int i, fm_cam_status status, const char *error)
{
    cam *c = lock(st, i);
    if (!c)
        return;
    c->s.status = status;
    if (error) {
        strncpy(c->s.last_error, error, sizeof c->s.last_error - 1);
        c->s.last_error[sizeof c->s.last_error - 1] = 0;
    }
    unlock(c);
}

void fm_site_state_reconnect(fm_site_state *st, int i)
{
    cam *c = lock(st, i);
    if (!c)
        return;
    c->s.reconnects++;
    unlock(c);
}

void fm_site_state_person(fm_site_state *st, int i, const char *label)
{
    cam *c = lock(st, i);
    if (!c)
        return;
    fm_site_cam_stats *s = &c->s;
    s->people++;
    if (label && strcmp(label, "mask") == 0)
        s->masked++;
    else if (label && strcmp(label, "no_mask") == 0)
        s->unmasked++;
    long long known = s->masked + s->unmasked;
    s->compliance = known ? (double)s->masked / (double)known : -1;
    unlock(c);
}

fm_status fm_site_state_get(fm_site_state *st, int i, fm_site_cam_stats *out, fm_err *err)
{
    if (!out)
        return fm_err_set(err, FM_ERR_ARG, "site state: NULL output");
    if (!st || i < 0 || i >= st->n)
        return fm_err_set(err, FM_ERR_ARG, "site state: no camera %d (%d cameras)", i,
                          st ? st->n : 0);
    pthread_mutex_lock(&st->cams[i].mu);
    *out = st->cams[i].s;
    out->latency_p50_ms = fm_hist_quantile(&st->cams[i].latency_ms, 0.5);
    out->latency_p90_ms = fm_hist_quantile(&st->cams[i].latency_ms, 0.9);
    pthread_mutex_unlock(&st->cams[i].mu);
    return FM_OK;
}

int fm_site_state_viewers(fm_site_state *st, int i)
{
    if (!st || i < 0 || i >= st->n)
        return 0;
    pthread_mutex_lock(&st->cams[i].mu);
    int v = st->cams[i].viewers;
    pthread_mutex_unlock(&st->cams[i].mu);
    return v;
}

void fm_site_state_watch(fm_site_state *st, int i)
{
    if (!st || i < 0 || i >= st->n)
        return;
    pthread_mutex_lock(&st->cams[i].mu);
    st->cams[i].viewers++;
    pthread_mutex_unlock(&st->cams[i].mu);
}

void fm_site_state_unwatch(fm_site_state *st, int i)
{
    if (!st || i < 0 || i >= st->n)
        return;
    pthread_mutex_lock(&st->cams[i].mu);
    if (st->cams[i].viewers > 0)
        st->cams[i].viewers--;
    pthread_mutex_unlock(&st->cams[i].mu);
}

fm_status fm_site_state_put_jpeg(fm_site_state *st, int i, const uint8_t *jpeg, size_t len,
                                 fm_err *err)
{
    if (!st || i < 0 || i >= st->n || !jpeg || !len)
        return fm_err_set(err, FM_ERR_ARG, "site state: bad live frame for camera %d", i);
    cam *c = &st->cams[i];
    pthread_mutex_lock(&c->mu);
    if (len > c->jpeg_cap) {
        uint8_t *p = realloc(c->jpeg, len);
        if (!p) {
            pthread_mutex_unlock(&c->mu);
            return fm_err_set(err, FM_ERR_NOMEM, "site state: no memory for a %zu-byte frame",
                              len);
        }
        c->jpeg = p;
        c->jpeg_cap = len;
    }
    memcpy(c->jpeg, jpeg, len);
    c->jpeg_len = len;
    c->seq++;
    pthread_cond_broadcast(&c->frame_cv);
    pthread_mutex_unlock(&c->mu);
    return FM_OK;
}

int fm_site_state_get_jpeg(fm_site_state *st, int i, unsigned long long *seq, uint8_t **buf,
                           size_t *cap, size_t *len, double timeout_s)
{
    if (!st || i < 0 || i >= st->n || !seq || !buf || !cap || !len)
        return -1;
    cam *c = &st->cams[i];
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    if (timeout_s > 0) {
        double whole = (double)(long long)timeout_s;
        until.tv_sec += (time_t)whole;
        until.tv_nsec += (long)((timeout_s - whole) * 1e9);
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    int got = 0;
    pthread_mutex_lock(&c->mu);
    while (c->seq <= *seq && !atomic_load(&st->woken)) {
        if (timeout_s <= 0 || pthread_cond_timedwait(&c->frame_cv, &c->mu, &until) == ETIMEDOUT)
            break;
    }
    if (c->seq > *seq && c->jpeg_len && !atomic_load(&st->woken)) {
        if (c->jpeg_len > *cap) {
            uint8_t *p = realloc(*buf, c->jpeg_len);
            if (!p) {
                pthread_mutex_unlock(&c->mu);
                return -1;
            }
            *buf = p;
            *cap = c->jpeg_len;
        }
        memcpy(*buf, c->jpeg, c->jpeg_len);
        *len = c->jpeg_len;
        *seq = c->seq;
        got = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return got;
}

void fm_site_state_wake(fm_site_state *st)
{
    if (!st)
        return;
    atomic_store(&st->woken, 1);
    for (int i = 0; i < st->n; i++) {
        pthread_mutex_lock(&st->cams[i].mu);
        pthread_cond_broadcast(&st->cams[i].frame_cv);
        pthread_mutex_unlock(&st->cams[i].mu);
    }
}
