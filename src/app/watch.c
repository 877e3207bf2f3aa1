/* watch.c - capture, inference and output threads joined by bounded queues. */
#include "app/watch.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hist.h"
#include "core/log.h"
#include "face/classifier.h"
#include "face/detector.h"
#include "io/image.h"
#include "track/events.h"
#include "track/frame_step.h"
#include "ui/display.h"
#include "ui/overlay.h"
#include "video/outputs.h"
#include "video/source.h"
#include "video/writer.h"

#define POOL_ITEMS 8
#define QUEUE_CAP 3
#define MAX_FACES 256 /* detections used per frame */
#define MAX_DRAW 128
#define MAX_EV 512 /* a step's events per frame at most (8 * max_tracks) */

/* Set by SIGINT/SIGTERM, q, the window or a failing detector, read by every thread: lock-free
 * C11 atomics (safe in a signal handler, and no data race between the threads). */
static atomic_int g_stop;
static atomic_int g_signal;

static void on_signal(int sig)
{
    g_signal = sig;
    g_stop = 1;
}

/* ---- frames in flight ----------------------------------------------------------------- */

typedef struct {
    fm_frame fr;
    int eos;
    char reason[32];
    double t_read0, t_read1; /* wall ms around the read */
    double det_ms, cls_ms, trk_ms;
    int nclassified;
    int ntracks;
    fm_track_info tracks[MAX_DRAW];
    fm_track_counts counts;
    int nev;
    fm_track_event ev[MAX_EV];
    int nsnap;
    int snap_id[MAX_DRAW];
} item;

typedef struct {
    item *buf[POOL_ITEMS + 1];
    int cap, head, count;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
} queue;

static void q_init(queue *q, int cap)
{
    memset(q, 0, sizeof *q);
    q->cap = cap;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
}

static void q_destroy(queue *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
}

static void q_push(queue *q, item *it)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == q->cap)
        pthread_cond_wait(&q->not_full, &q->mu);
    q->buf[(q->head + q->count) % q->cap] = it;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

/* Live sources: never wait; when full, the oldest waiting frame is replaced and returned. */
static item *q_push_latest(queue *q, item *it)
{
    item *old = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->count == q->cap && !q->buf[q->head]->eos) {
        old = q->buf[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    while (q->count == q->cap)
        pthread_cond_wait(&q->not_full, &q->mu);
    q->buf[(q->head + q->count) % q->cap] = it;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return old;
}

static item *q_pop(queue *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == 0)
        pthread_cond_wait(&q->not_empty, &q->mu);
    item *it = q->buf[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return it;
}

/* ---- shared state -------------------------------------------------------------------- */

typedef struct {
    const fm_watch_opts *o;
    fm_source *src;
    int live;
    fm_detector *det;
    fm_classifier *cls;
    fm_frame_step *step; /* the tracker and the per-frame step (track/frame_step.h) */
    fm_events *events;
    pthread_mutex_t events_mu;
    queue free_q, in_q, out_q;
    /* written by the capture thread, read by the output thread's summaries */
    atomic_llong read, skipped;
    long long done; /* frames output so far (under events_mu): the events' "frame" */
    double last_pts;
    char drop_reason[256]; /* why the live source last dropped: the reconnect event's reason */
    char source_error[512];
    char det_error[512]; /* why the detector failed (the inference thread stops the run) */
    /* outputs that failed (each reported once; the run goes on without it) */
    const char *events_name;
    int events_failed, record_failed, snap_failed;
    int output_errors;
    char output_error[1024]; /* the first one, for the caller */
    /* snapshots already taken, by track id */
    fm_snapshot_set snapped;
    long long unreadable; /* a folder's images skipped (under events_mu) */
} watch;

static int should_stop(void *user)
{
    (void)user;
    return g_stop != 0;
}

/* An output failed: one message on stderr, the first kept for the caller; the run goes on. */
static void output_failed(watch *w, const char *msg)
{
    fprintf(stderr, "\nfacemask: %s\n", msg);
    if (!w->output_errors++)
        snprintf(w->output_error, sizeof w->output_error, "%s", msg);
}

/* The events writer, while it works (call with events_mu held). */
static fm_events *ev_out(const watch *w)
{
    return w->events_failed ? NULL : w->events;
}

/* The status of an events call (with events_mu held): the first failure stops the events. */
static void ev_check(watch *w, fm_status st, const fm_err *e)
{
    if (st == FM_OK || w->events_failed)
        return;
    w->events_failed = 1;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: %s; no more events are written, the run goes on",
             w->events_name, e->msg);
    output_failed(w, msg);
}

/* Reconnection steps of a live source, failed start-up attempts and a folder's unreadable
 * images, as messages and events (on the capture thread, or the caller's during the open). */
static void on_source_event(void *user, const fm_source_event *ev)
{
    watch *w = user;
    const char *msg = ev->message ? ev->message : "";
    if (ev->kind == FM_SOURCE_EVENT_OPEN_FAILED) {
        if (w->o->open_retries < 0)
            fm_log(FM_LOG_WARN, "%s; retrying in %.1f s (attempt %d)", msg, ev->wait,
                   ev->attempt + 1);
        else
            fm_log(FM_LOG_WARN, "%s; retrying in %.1f s (attempt %d of %d)", msg, ev->wait,
                   ev->attempt + 1, w->o->open_retries + 1);
    } else if (ev->kind == FM_SOURCE_EVENT_SKIPPED) {
        fm_log(FM_LOG_ERROR, "%s; skipped", msg);
    }
    pthread_mutex_lock(&w->events_mu);
    if (ev->kind == FM_SOURCE_EVENT_SKIPPED)
        w->unreadable++;
    if (ev->kind == FM_SOURCE_EVENT_DROPPED)
        snprintf(w->drop_reason, sizeof w->drop_reason, "%s", msg);
    fm_events *out = ev_out(w);
    fm_err e = {0};
    if (out && (ev->kind == FM_SOURCE_EVENT_DROPPED || ev->kind == FM_SOURCE_EVENT_GAVE_UP ||
                ev->kind == FM_SOURCE_EVENT_OPEN_FAILED || ev->kind == FM_SOURCE_EVENT_SKIPPED))
        ev_check(w, fm_events_source_error(out, w->last_pts, w->done, w->o->source, msg, &e), &e);
    else if (out && ev->kind == FM_SOURCE_EVENT_RECONNECTED)
        ev_check(w,
                 fm_events_reconnect(out, w->last_pts, w->done, w->o->source, ev->attempt,
                                     w->drop_reason, &e),
                 &e);
    pthread_mutex_unlock(&w->events_mu);
}

/* The events of a run that ends before its first frame (the source could not be opened, or a
 * stop came while it was opening): the source's error, the final summary, and end. */
static void events_end_early(watch *w, const char *error, const char *reason)
{
    pthread_mutex_lock(&w->events_mu);
    fm_err e = {0};
    fm_track_counts c;
    memset(&c, 0, sizeof c);
    if (w->step)
        fm_tracker_counts(fm_frame_step_tracker(w->step), &c);
    if (ev_out(w) && error)
        ev_check(w, fm_events_source_error(w->events, 0, 0, w->o->source, error, &e), &e);
    if (ev_out(w))
        ev_check(w, fm_events_summary(w->events, 0, 0, &c, 0, 0, 0, 1, &e), &e);
    if (ev_out(w))
        ev_check(w, fm_events_end(w->events, 0, 0, reason, &e), &e);
    pthread_mutex_unlock(&w->events_mu);
}

static void *capture_main(void *p)
{
    watch *w = p;
    const fm_watch_opts *o = w->o;
    fm_err err = {0};
    long long processed = 0;
    for (;;) {
        item *it = q_pop(&w->free_q);
        it->eos = 0;
        if (g_stop || (o->max_frames > 0 && processed >= o->max_frames)) {
            it->eos = 1;
            snprintf(it->reason, sizeof it->reason, "%s",
                     g_signal ? "signal" : (g_stop ? "quit" : "max-frames"));
            q_push(&w->in_q, it);
            break;
        }
        it->t_read0 = fm_now_ms();
        fm_status st = fm_source_read(w->src, &it->fr, &err);
        it->t_read1 = fm_now_ms();
        if (st == FM_SOURCE_END || st != FM_OK) {
            it->eos = 1;
            if (st != FM_SOURCE_END) {
                snprintf(w->source_error, sizeof w->source_error, "%s", err.msg);
                snprintf(it->reason, sizeof it->reason, "error");
            } else {
                snprintf(it->reason, sizeof it->reason, "%s",
                         g_signal ? "signal" : (g_stop ? "quit" : "eof"));
            }
            q_push(&w->in_q, it);
            break;
        }
        atomic_fetch_add(&w->read, 1);
        w->last_pts = it->fr.pts;
        if (!w->live && o->every > 1 && it->fr.index % o->every != 0) {
            atomic_fetch_add(&w->skipped, 1);
            q_push(&w->free_q, it);
            continue;
        }
        processed++;
        if (w->live) {
            item *old = q_push_latest(&w->in_q, it);
            if (old) {
                atomic_fetch_add(&w->skipped, 1);
                q_push(&w->free_q, old);
            }
        } else {
            q_push(&w->in_q, it);
        }
    }
    return NULL;
}

static void want_snapshot(watch *w, item *it, const fm_track_event *e)
{
    if (w->o->snapshots && it->nsnap < MAX_DRAW && fm_snapshot_wanted(&w->snapped, e))
        it->snap_id[it->nsnap++] = e->id;
}

/* The step's events into the frame in flight (the output thread writes them). */
static void copy_events(item *it, const fm_frame_step_out *out)
{
    it->nev = out->nevents > MAX_EV ? MAX_EV : out->nevents;
    memcpy(it->ev, out->events, (size_t)it->nev * sizeof *it->ev);
}

static void *inference_main(void *p)
{
    watch *w = p;
    const fm_watch_opts *o = w->o;
    double last_t = 0;
    fm_frame_step_out out;
    for (;;) {
        item *it = q_pop(&w->in_q);
        it->nev = 0;
        it->nsnap = 0;
        it->ntracks = 0;
        it->nclassified = 0;
        fm_err e = {0};
        if (it->eos) {
            if (fm_frame_step_finish(w->step, last_t, &out, &e) == FM_OK)
                copy_events(it, &out);
            fm_tracker_counts(fm_frame_step_tracker(w->step), &it->counts);
            it->fr.pts = last_t;
            q_push(&w->out_q, it);
            break;
        }
        fm_status st = fm_frame_step_run(w->step, w->det, w->cls, o->conf, it->fr.image,
                                         it->fr.pts, &out, &e);
        if (st != FM_OK) {
            if (!w->det_error[0])
                snprintf(w->det_error, sizeof w->det_error, "%s", e.msg);
            g_stop = 1; /* the capture thread ends the stream; this frame has no faces */
            fm_frame_step_run(w->step, NULL, NULL, o->conf, it->fr.image, it->fr.pts, &out, &e);
        }
        copy_events(it, &out);
        it->ntracks = out.ntracks > MAX_DRAW ? MAX_DRAW : out.ntracks;
        memcpy(it->tracks, out.tracks, (size_t)it->ntracks * sizeof *it->tracks);
        it->counts = out.counts;
        it->nclassified = out.nclassified;
        for (int k = 0; k < it->nev; k++)
            want_snapshot(w, it, &it->ev[k]);
        it->det_ms = out.det_ms;
        it->cls_ms = out.cls_ms;
        it->trk_ms = out.trk_ms;
        last_t = it->fr.pts;
        q_push(&w->out_q, it);
    }
    return NULL;
}

/* ---- statistics ------------------------------------------------------------------------ */

static void status_line(const watch *w, long long frames, double fps, double latency,
                        const fm_track_counts *c, int nfaces)
{
    fprintf(stderr,
            "\r%lld frames  %5.1f fps  latency %4.0f ms  faces %2d  people %lld (mask %lld, "
            "no_mask %lld)  skipped %lld   ",
            frames, fps, latency, nfaces, c->people, c->mask, c->no_mask,
            atomic_load(&w->skipped));
}

/* ---- the run ---------------------------------------------------------------------------- */

/* The recording failed at `frame` (message in werr): one message and a record_error event;
 * the file (if *writer still holds it) is closed without waiting for more writes (an MP4 is
 * fragmented, so what reached the disk stays playable) and recording stops for the run. */
static void record_failed(watch *w, fm_writer **writer, double t, long long frame,
                          const fm_err *werr)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s; recording stopped at frame %lld, the run goes on", werr->msg,
             frame);
    output_failed(w, msg);
    w->record_failed = 1;
    if (writer) {
        fm_writer_abort(*writer);
        *writer = NULL;
    }
    pthread_mutex_lock(&w->events_mu);
    fm_err e = {0};
    if (ev_out(w))
        ev_check(w, fm_events_record_error(w->events, t, frame, w->o->record, werr->msg, &e), &e);
    pthread_mutex_unlock(&w->events_mu);
}

fm_status fm_watch_run(const fm_watch_opts *o, fm_watch_stats *stats, fm_err *err)
{
    memset(stats, 0, sizeof *stats);
    /* the plugin's log (it may hold its own copy of core/log.c): quiet as the command asked */
    fm_log_set_level(o->quiet ? FM_LOG_ERROR : FM_LOG_WARN);
    watch w;
    memset(&w, 0, sizeof w);
    w.o = o;
    pthread_mutex_init(&w.events_mu, NULL);
    g_stop = 0;
    g_signal = 0;
    fm_status st = FM_OK;
    item *items = NULL;
    FILE *events_file = NULL;
    fm_writer *writer = NULL;
    fm_image *rec_canvas = NULL; /* the recording's size, for frames of another size */
    fm_display *display = NULL;
    fm_font *font = NULL; /* the labels' font, when frames are shown, recorded or snapshot */
    /* per-stage times of every frame, in fixed memory (core/hist.h) */
    fm_hist s_read, s_det, s_cls, s_trk, s_out, s_lat;
    int threads_started = 0;
    pthread_t cap_thread, inf_thread;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    /* models */
    char mdir[4096], cdir[4200];
    fm_models_dir(o->model_dir, mdir, sizeof mdir);
    fm_net_opts no = fm_net_default_opts();
    no.threads = o->threads < 1 ? 1 : o->threads;
    fm_detector_spec dspec = {o->detector, mdir, o->det_w, o->det_h};
    if (!(w.det = fm_detector_create(&dspec, &no, err))) {
        st = err ? err->status : FM_ERR_IO;
        goto done;
    }
    if (o->classify) {
        fm_classifier_dir(o->classifier_dir, mdir, cdir, sizeof cdir);
        fm_net_opts co = no;
        co.threads = 1; /* faces are small: one thread each is faster than splitting */
        if (!(w.cls = fm_classifier_load(cdir, &co, err))) {
            st = err ? err->status : FM_ERR_IO;
            goto done;
        }
    }
    if (!(w.step = fm_frame_step_create(NULL, MAX_FACES, err))) {
        st = err ? err->status : FM_ERR_ARG;
        goto done;
    }
    if ((o->display || o->record || o->snapshots) && !(font = fm_font_open(NULL, err))) {
        st = err ? err->status : FM_ERR_IO; /* no frames shown or saved without their labels */
        goto done;
    }
    if (o->snapshots && mkdir(o->snapshots, 0777) != 0 && errno != EEXIST) {
        st = fm_err_set(err, FM_ERR_IO, "%s: cannot create folder: %s", o->snapshots,
                        strerror(errno));
        goto done;
    }
    if (o->events) {
        if (strcmp(o->events, "-") == 0) {
            events_file = stdout;
            w.events_name = "standard output";
            if (fcntl(STDOUT_FILENO, F_GETFL) == -1) {
                /* Closed: the events are lost. Say so once, and hold fd 1 with /dev/null so no
                 * file we open later (the recording) becomes "standard output". */
                w.events_failed = 1;
                output_failed(&w, "standard output is closed: the events (--events -) cannot be "
                                  "written; the run goes on without them");
                int fd = open("/dev/null", O_WRONLY);
                if (fd >= 0 && fd != STDOUT_FILENO) {
                    dup2(fd, STDOUT_FILENO);
                    close(fd);
                }
            }
        } else if (!(events_file = fopen(o->events, "w"))) {
            st = fm_err_set(err, FM_ERR_IO, "%s: cannot write: %s", o->events, strerror(errno));
            goto done;
        } else {
            w.events_name = o->events;
        }
        if (!(w.events = fm_events_open(events_file, o->summary_every, err))) {
            st = err ? err->status : FM_ERR_IO;
            goto done;
        }
    }

    /* source */
    fm_source_opts so = fm_source_opts_default();
    so.folder_fps = o->folder_fps;
    so.reconnect_attempts = o->reconnect_attempts;
    so.open_retries = o->open_retries;
    so.open_timeout = o->timeout;
    so.read_timeout = o->timeout;
    so.allow_playlists = o->allow_playlists;
    so.should_stop = should_stop;
    so.on_event = on_source_event;
    so.user = &w;
    fm_video_set_log_level(0); /* a failed open is our one-line message, not FFmpeg's too */
    if (!(w.src = fm_source_open(o->source, &so, err))) {
        if (g_signal) { /* stopped while opening (retrying): not an error */
            events_end_early(&w, NULL, "signal");
            snprintf(stats->end_reason, sizeof stats->end_reason, "signal");
            goto done;
        }
        events_end_early(&w, err ? err->msg : "cannot open", "error");
        st = err ? err->status : FM_ERR_IO;
        goto done;
    }
    w.live = fm_source_is_live(w.src);
    fm_video_set_log_level(1); /* FFmpeg: errors only; our own messages say the rest */

    /* buffers */
    items = calloc(POOL_ITEMS, sizeof *items);
    fm_hist *hists[] = {&s_read, &s_det, &s_cls, &s_trk, &s_out, &s_lat};
    for (size_t i = 0; i < sizeof hists / sizeof *hists; i++)
        fm_hist_init(hists[i]);
    if (!items) {
        st = fm_err_set(err, FM_ERR_NOMEM, "out of memory for frame buffers");
        goto done;
    }
    q_init(&w.free_q, POOL_ITEMS);
    q_init(&w.in_q, w.live ? 1 : QUEUE_CAP);
    q_init(&w.out_q, QUEUE_CAP);
    for (int i = 0; i < POOL_ITEMS; i++)
        q_push(&w.free_q, &items[i]);
    if (pthread_create(&cap_thread, NULL, capture_main, &w) != 0) {
        st = fm_err_set(err, FM_ERR_NOMEM, "cannot start the capture thread");
        goto done_queues;
    }
    if (pthread_create(&inf_thread, NULL, inference_main, &w) != 0) {
        g_stop = 1;
        pthread_join(cap_thread, NULL);
        st = fm_err_set(err, FM_ERR_NOMEM, "cannot start the inference thread");
        goto done_queues;
    }
    threads_started = 1;

    /* output, on this thread */
    double t_first = 0, t_last_status = 0, t_last = 0;
    long long frames = 0, classified = 0;
    double fps_now = 0, lat_now = 0;
    char reason[32] = "eof";
    int show_status = o->status && isatty(2);
    if (show_status)
        fm_log_status_line(1);
    for (;;) {
        item *it = q_pop(&w.out_q);
        double t_out0 = fm_now_ms();
        if (it->eos) {
            /* a failed output (the window, the recording) stopped the run: an error */
            snprintf(reason, sizeof reason, "%s", st != FM_OK ? "error" : it->reason);
            if (writer) { /* finished before the last events, so a failure is logged among them */
                fm_err werr = {0};
                fm_writer *wr = writer;
                writer = NULL;
                if (fm_writer_close(wr, &werr) != FM_OK)
                    record_failed(&w, NULL, it->fr.pts, frames, &werr);
            }
            pthread_mutex_lock(&w.events_mu);
            fm_err e = {0};
            for (int k = 0; ev_out(&w) && k < it->nev; k++)
                ev_check(&w, fm_events_track(w.events, &it->ev[k], &e), &e);
            if (ev_out(&w) && w.source_error[0])
                ev_check(&w,
                         fm_events_source_error(w.events, it->fr.pts, frames, o->source,
                                                w.source_error, &e),
                         &e);
            if (ev_out(&w))
                ev_check(&w,
                         fm_events_summary(w.events, it->fr.pts, frames, &it->counts, fps_now,
                                           atomic_load(&w.skipped), atomic_load(&w.read), 1, &e),
                         &e);
            if (ev_out(&w))
                ev_check(&w, fm_events_end(w.events, it->fr.pts, frames, reason, &e), &e);
            pthread_mutex_unlock(&w.events_mu);
            stats->people = it->counts.people;
            stats->mask = it->counts.mask;
            stats->no_mask = it->counts.no_mask;
            stats->unknown = it->counts.unknown;
            q_push(&w.free_q, it);
            break;
        }
        if (frames == 0)
            t_first = it->t_read0;
        fm_image *img = it->fr.image;
        if (font) { /* someone sees the frame */
            if (o->blur)
                fm_overlay_blur(img, it->tracks, it->ntracks);
            fm_overlay_tracks(img, font, it->tracks, it->ntracks);
            if (o->landmarks)
                fm_overlay_landmarks(img, it->tracks, it->ntracks);
            fm_overlay_status(img, font, fps_now, &it->counts);
        }
        for (int k = 0; k < it->nsnap && !w.snap_failed; k++) {
            fm_err serr = {0};
            char spath[4096];
            if (fm_snapshot_save(o->snapshots, img, it->snap_id[k], it->fr.index, spath,
                                 sizeof spath, &serr) != FM_OK) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s; no more snapshots are saved, the run goes on",
                         serr.msg);
                output_failed(&w, msg);
                w.snap_failed = 1;
                pthread_mutex_lock(&w.events_mu);
                fm_err e = {0};
                if (ev_out(&w))
                    ev_check(&w,
                             fm_events_snapshot_error(w.events, it->fr.pts, frames, spath,
                                                      serr.msg, &e),
                             &e);
                pthread_mutex_unlock(&w.events_mu);
            }
        }
        if (o->display && !display && st == FM_OK) {
            int dw = img->w, dh = img->h;
            while (dw > 1600 || dh > 1000) {
                dw /= 2;
                dh /= 2;
            }
            if (!(display = fm_display_open("facemask", dw, dh, err))) {
                st = err ? err->status : FM_ERR_IO;
                g_stop = 1;
            }
        }
        if (display) {
            fm_err derr = {0};
            if (fm_display_show(display, img, &derr) != FM_OK)
                fprintf(stderr, "\nfacemask: %s\n", derr.msg);
            if (fm_display_poll(display))
                g_stop = 1;
        }
        if (o->record && !writer && !w.record_failed && st == FM_OK) {
            double fps = fm_source_fps(w.src);
            if (!(fps > 0))
                fps = 25;
            if (!w.live && o->every > 1)
                fps /= o->every;
            if (!(writer = fm_writer_open(o->record, img->w, img->h, fps, err)) ||
                !(rec_canvas = fm_image_new(img->w, img->h, err))) {
                st = err ? err->status : FM_ERR_IO;
                g_stop = 1;
            }
        }
        if (writer) {
            fm_err werr = {0};
            const fm_image *frame = img;
            if (img->w != rec_canvas->w || img->h != rec_canvas->h) {
                fm_image_letterbox(img, rec_canvas);
                frame = rec_canvas;
            }
            if (fm_writer_write(writer, frame, &werr) != FM_OK)
                record_failed(&w, &writer, it->fr.pts, frames, &werr);
        }
        pthread_mutex_lock(&w.events_mu);
        w.done = frames + 1;
        fm_err e = {0};
        for (int k = 0; ev_out(&w) && k < it->nev; k++)
            ev_check(&w, fm_events_track(w.events, &it->ev[k], &e), &e);
        if (ev_out(&w) && fm_events_summary_due(w.events, it->fr.pts))
            ev_check(&w,
                     fm_events_summary(w.events, it->fr.pts, frames + 1, &it->counts, fps_now,
                                       atomic_load(&w.skipped), atomic_load(&w.read), 0, &e),
                     &e);
        pthread_mutex_unlock(&w.events_mu);

        double t_out1 = fm_now_ms();
        frames++;
        classified += it->nclassified;
        fm_hist_add(&s_read, it->t_read1 - it->t_read0);
        fm_hist_add(&s_det, it->det_ms);
        fm_hist_add(&s_cls, it->cls_ms);
        fm_hist_add(&s_trk, it->trk_ms);
        fm_hist_add(&s_out, t_out1 - t_out0);
        lat_now = t_out1 - it->t_read0;
        fm_hist_add(&s_lat, lat_now);
        t_last = t_out1;
        if (t_last > t_first)
            fps_now = (double)frames / ((t_last - t_first) / 1e3);
        if (show_status && t_out1 - t_last_status > 250) {
            status_line(&w, frames, fps_now, lat_now, &it->counts, it->ntracks);
            t_last_status = t_out1;
        }
        q_push(&w.free_q, it);
    }
    if (show_status) {
        fprintf(stderr, "\n");
        fm_log_status_line(0);
    }
    pthread_join(cap_thread, NULL);
    pthread_join(inf_thread, NULL);
    threads_started = 0;

    stats->frames = frames;
    stats->skipped = atomic_load(&w.skipped);
    stats->read = atomic_load(&w.read);
    stats->wall_s = frames ? (t_last - t_first) / 1e3 : 0;
    stats->fps = stats->wall_s > 0 ? (double)frames / stats->wall_s : 0;
    stats->classified = classified;
    stats->read_med = fm_hist_quantile(&s_read, 0.5);
    stats->read_p90 = fm_hist_quantile(&s_read, 0.9);
    stats->detect_med = fm_hist_quantile(&s_det, 0.5);
    stats->detect_p90 = fm_hist_quantile(&s_det, 0.9);
    stats->classify_med = fm_hist_quantile(&s_cls, 0.5);
    stats->classify_p90 = fm_hist_quantile(&s_cls, 0.9);
    stats->track_med = fm_hist_quantile(&s_trk, 0.5);
    stats->track_p90 = fm_hist_quantile(&s_trk, 0.9);
    stats->output_med = fm_hist_quantile(&s_out, 0.5);
    stats->output_p90 = fm_hist_quantile(&s_out, 0.9);
    stats->latency_med = fm_hist_quantile(&s_lat, 0.5);
    stats->latency_p90 = fm_hist_quantile(&s_lat, 0.9);
    fm_source_stats ss;
    fm_source_get_stats(w.src, &ss);
    stats->reconnects = ss.reconnects;
    stats->decode_errors = ss.decode_errors;
    stats->unreadable = w.unreadable;
    snprintf(stats->end_reason, sizeof stats->end_reason, "%s", reason);
    if (w.source_error[0] && st == FM_OK)
        fprintf(stderr, "facemask: %s\n", w.source_error);
    if (w.det_error[0] && st == FM_OK)
        st = fm_err_set(err, FM_ERR_FORMAT, "%s", w.det_error);

done_queues:
    (void)threads_started;
    q_destroy(&w.free_q);
    q_destroy(&w.in_q);
    q_destroy(&w.out_q);
done:
    if (writer) {
        fm_err werr = {0};
        if (fm_writer_close(writer, &werr) != FM_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s; the recording may be incomplete", werr.msg);
            output_failed(&w, msg);
        }
    }
    fm_display_close(display);
    fm_image_free(rec_canvas);
    for (int i = 0; items && i < POOL_ITEMS; i++)
        fm_frame_clear(&items[i].fr);
    free(items);
    fm_snapshot_set_free(&w.snapped);
    fm_events_close(w.events);
    if (events_file) {
        errno = 0;
        int bad = events_file != stdout ? fclose(events_file) != 0 : fflush(events_file) != 0;
        if (bad && !w.events_failed) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s: closing the events failed: %s", w.events_name,
                     errno ? strerror(errno) : "stream error");
            output_failed(&w, msg);
        }
    }
    stats->output_errors = w.output_errors;
    snprintf(stats->output_error, sizeof stats->output_error, "%s", w.output_error);
    fm_source_close(w.src);
    fm_frame_step_free(w.step);
    fm_font_free(font);
    fm_classifier_free(w.cls);
    fm_detector_free(w.det);
    pthread_mutex_destroy(&w.events_mu);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return st;
}
