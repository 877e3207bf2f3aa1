/* serve_camera.c - one camera of `facemask serve`: its capture thread, and what a worker does
 * with its frames (the step, snapshots, recording, live view, events) and with its end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/file.h"
#include "core/log.h"
#include "serve/serve_impl.h"
#include "ui/overlay.h"

/* ---- events (with ev_mu held) ---------------------------------------------------------- */

static fm_events *ev_out(const serve_cam *c)
{
    return c->events_failed ? NULL : c->events;
}

/* The first failure of the camera's events (the history) stops them; the run goes on. */
static void ev_check(serve_cam *c, fm_status st, const fm_err *e)
{
    if (st == FM_OK || c->events_failed)
        return;
    c->events_failed = 1;
    serve_output_failed(c->sv, "camera %s: %s; no more events are stored for it, the run goes on",
                        c->cfg->name, e->msg);
}

/* ---- set-up ----------------------------------------------------------------------------- */

fm_status serve_cam_init(serve *sv, serve_cam *c, int idx, fm_err *err)
{
    const fm_site_camera *cfg = &sv->site->cameras[idx];
    c->sv = sv;
    c->idx = idx;
    c->cfg = cfg;
    pthread_mutex_init(&c->ev_mu, NULL);
    if (cfg->snapshots) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/", cfg->snapshots);
        if (fm_mkdirs_for(dir, err) != FM_OK)
            return err ? err->status : FM_ERR_IO;
    }
    if (!(c->hist = fm_history_open(sv->site->database.path, FM_HISTORY_CREATE, err)))
        return err ? err->status : FM_ERR_IO;
    c->sink = (fm_site_sink){c->hist, cfg->name, fm_wall_now(), 0, 0};
    if (!(c->events = fm_events_open_sink(fm_site_sink_line, &c->sink, sv->o->summary_every, err)))
        return err ? err->status : FM_ERR_NOMEM;
    if (!(c->step = fm_frame_step_create(NULL, SERVE_MAX_FACES, err)))
        return err ? err->status : FM_ERR_NOMEM;
    return FM_OK;
}

void serve_cam_free(serve_cam *c)
{
    if (!c->sv)
        return;
    if (c->writer) /* only on an early exit: a run's end closes it */
        fm_writer_abort(c->writer);
    fm_image_free(c->rec_canvas);
    fm_frame_clear(&c->cap);
    fm_frame_clear(&c->pending);
    fm_frame_clear(&c->work);
    fm_source_close(c->src);
    fm_snapshot_set_free(&c->snapped);
    fm_frame_step_free(c->step);
    fm_events_close(c->events);
    fm_history_close(c->hist);
    pthread_mutex_destroy(&c->ev_mu);
}

/* ---- capture ------------------------------------------------------------------------------ */

static int should_stop(void *user)
{
    (void)user;
    return fm_serve_stopping();
}

/* Reconnection steps and failed opens: the state, a message, and watch's events. */
static void on_source_event(void *user, const fm_source_event *ev)
{
    serve_cam *c = user;
    serve *sv = c->sv;
    const char *msg = ev->message ? ev->message : "";
    const char *name = c->cfg->name;
    switch (ev->kind) {
    case FM_SOURCE_EVENT_OPEN_FAILED:
        fm_log(FM_LOG_WARN, "camera %s: %s; retrying in %.1f s (attempt %d)", name, msg, ev->wait,
               ev->attempt + 1);
        fm_site_state_status(sv->state, c->idx, FM_CAM_FAILED, msg);
        break;
    case FM_SOURCE_EVENT_DROPPED:
        fm_log(FM_LOG_WARN, "camera %s: %s; reconnecting", name, msg);
        fm_site_state_status(sv->state, c->idx, FM_CAM_RECONNECTING, msg);
        break;
    case FM_SOURCE_EVENT_RETRY_FAILED:
        fm_site_state_status(sv->state, c->idx, FM_CAM_RECONNECTING, msg);
        break;
    case FM_SOURCE_EVENT_RECONNECTED:
        fm_log(FM_LOG_WARN, "camera %s: reconnected (attempt %d)", name, ev->attempt);
        fm_site_state_status(sv->state, c->idx, FM_CAM_RUNNING, NULL);
        fm_site_state_reconnect(sv->state, c->idx);
        break;
    case FM_SOURCE_EVENT_GAVE_UP:
        fm_site_state_status(sv->state, c->idx, FM_CAM_FAILED, msg);
        break;
    case FM_SOURCE_EVENT_SKIPPED:
        fm_log(FM_LOG_ERROR, "camera %s: %s; skipped", name, msg);
        break;
    }
    pthread_mutex_lock(&c->ev_mu);
    if (ev->kind == FM_SOURCE_EVENT_DROPPED)
        snprintf(c->drop_reason, sizeof c->drop_reason, "%s", msg);
    fm_events *out = ev_out(c);
    fm_err e = {0};
    if (out && (ev->kind == FM_SOURCE_EVENT_DROPPED || ev->kind == FM_SOURCE_EVENT_GAVE_UP ||
                ev->kind == FM_SOURCE_EVENT_OPEN_FAILED || ev->kind == FM_SOURCE_EVENT_SKIPPED))
        ev_check(c, fm_events_source_error(out, c->last_pts, c->done, c->cfg->source, msg, &e), &e);
    else if (out && ev->kind == FM_SOURCE_EVENT_RECONNECTED)
        ev_check(c,
                 fm_events_reconnect(out, c->last_pts, c->done, c->cfg->source, ev->attempt,
                                     c->drop_reason, &e),
                 &e);
    pthread_mutex_unlock(&c->ev_mu);
    serve_reporters_notify(sv);
}

/* The source failed for good: the state, one message, and the events' source_error (written
 * with the camera's end). */
static void source_failed(serve_cam *c, const char *msg)
{
    fm_log(FM_LOG_ERROR, "camera %s: %s", c->cfg->name, msg);
    fm_site_state_status(c->sv->state, c->idx, FM_CAM_FAILED, msg);
    pthread_mutex_lock(&c->ev_mu);
    snprintf(c->source_error, sizeof c->source_error, "%s", msg);
    pthread_mutex_unlock(&c->ev_mu);
    atomic_fetch_add(&c->sv->camera_errors, 1);
}

static void skipped(serve_cam *c, long long n)
{
    atomic_fetch_add(&c->skipped, n);
    fm_site_state_skipped(c->sv->state, c->idx, n);
}

void *serve_cam_capture(void *arg)
{
    serve_cam *c = arg;
    serve *sv = c->sv;
    const fm_site_camera *cfg = c->cfg;
    fm_source_opts so = fm_source_opts_default();
    so.reconnect_attempts = 0; /* live sources: reconnect until stopped */
    so.open_retries = -1;      /* ... and keep trying one that is not up yet */
    so.open_timeout = sv->o->timeout;
    so.read_timeout = sv->o->timeout;
    so.should_stop = should_stop;
    so.on_event = on_source_event;
    so.user = c;
    const char *reason = "eof";
    fm_err err = {0};
    fm_site_state_status(sv->state, c->idx, FM_CAM_STARTING, NULL);
    if (!(c->src = fm_source_open(cfg->source, &so, &err))) {
        reason = fm_serve_stopping() ? fm_serve_stop_reason() : "error";
        if (!fm_serve_stopping())
            source_failed(c, err.msg);
        goto end;
    }
    int live = fm_source_is_live(c->src);
    double fps = fm_source_fps(c->src);
    pthread_mutex_lock(&sv->mu);
    c->live = live;
    c->src_fps = fps;
    pthread_mutex_unlock(&sv->mu);
    fm_site_state_status(sv->state, c->idx, FM_CAM_RUNNING, NULL);
    long long frames_this_pass = 0;
    for (;;) {
        if (fm_serve_stopping()) {
            reason = fm_serve_stop_reason();
            break;
        }
        double t0 = fm_now_ms();
        fm_status st = fm_source_read(c->src, &c->cap, &err);
        if (st == FM_SOURCE_END && !fm_serve_stopping() && cfg->loop && !live &&
            frames_this_pass > 0) {
            /* play it again, its times and frame numbers going on from the last pass */
            c->pts_offset = c->last_pts + (fps > 0 ? 1.0 / fps : 0.04);
            c->index_offset += frames_this_pass;
            frames_this_pass = 0;
            fm_source_close(c->src);
            if (!(c->src = fm_source_open(cfg->source, &so, &err))) {
                reason = fm_serve_stopping() ? fm_serve_stop_reason() : "error";
                if (!fm_serve_stopping())
                    source_failed(c, err.msg);
                break;
            }
            continue;
        }
        if (st == FM_SOURCE_END) {
            reason = fm_serve_stopping() ? fm_serve_stop_reason() : "eof";
            break;
        }
        if (st != FM_OK) {
            reason = "error";
            source_failed(c, err.msg);
            break;
        }
        frames_this_pass++;
        atomic_fetch_add(&c->read, 1);
        double t = c->cap.pts + c->pts_offset;
        long long index = c->cap.index + c->index_offset;
        c->last_pts = t;
        if (!live && cfg->every > 1 && index % cfg->every != 0) {
            skipped(c, 1);
            continue;
        }
        pthread_mutex_lock(&sv->mu);
        while (!live && c->has_pending && !fm_serve_stopping()) {
            /* a file: every frame is processed, so wait for the worker (polling the stop) */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&sv->cap_cv, &sv->mu, &ts);
        }
        int replaced = c->has_pending; /* live: the older frame is never processed */
        fm_frame tmp = c->pending;
        c->pending = c->cap;
        c->cap = tmp;
        c->pending_t = t;
        c->pending_t0 = t0;
        c->has_pending = 1;
        pthread_cond_broadcast(&sv->work_cv);
        pthread_mutex_unlock(&sv->mu);
        if (replaced)
            skipped(c, 1);
    }
    if (strcmp(reason, "eof") == 0)
        fm_site_state_status(sv->state, c->idx, FM_CAM_ENDED, NULL);
end:
    pthread_mutex_lock(&sv->mu);
    snprintf(c->eos_reason, sizeof c->eos_reason, "%s", reason);
    c->eos = 1;
    pthread_cond_broadcast(&sv->work_cv);
    pthread_mutex_unlock(&sv->mu);
    return NULL;
}

/* ---- a frame, on a worker -------------------------------------------------------------- */

static void record_failed(serve_cam *c, double t, const char *msg)
{
    serve_output_failed(c->sv, "camera %s: %s; recording stopped at frame %lld, the run goes on",
                        c->cfg->name, msg, c->done);
    c->record_failed = 1;
    if (c->writer) {
        fm_writer_abort(c->writer);
        c->writer = NULL;
    }
    pthread_mutex_lock(&c->ev_mu);
    fm_err e = {0};
    if (ev_out(c))
        ev_check(c, fm_events_record_error(c->events, t, c->done, c->record_path, msg, &e), &e);
    pthread_mutex_unlock(&c->ev_mu);
}

/* The recording's file: the configured name, or, when that file exists (serve never replaces
 * a file), NAME-YYYYmmdd-HHMMSS.EXT beside it. */
static void record_name(serve_cam *c)
{
    const char *path = c->cfg->record;
    snprintf(c->record_path, sizeof c->record_path, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    fclose(f);
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash))
        dot = path + strlen(path);
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(c->record_path, sizeof c->record_path, "%.*s-%s%s", (int)(dot - path), path, stamp,
             dot);
    fm_log(FM_LOG_WARN, "camera %s: %s exists; recording to %s", c->cfg->name, path,
           c->record_path);
}

static void record_frame(serve_cam *c, const fm_image *img, double t)
{
    fm_err e = {0};
    if (!c->writer) {
        record_name(c);
        pthread_mutex_lock(&c->sv->mu);
        int live = c->live;
        double fps = c->src_fps > 0 ? c->src_fps : 25; /* 25: watch's fallback */
        pthread_mutex_unlock(&c->sv->mu);
        if (!live && c->cfg->every > 1)
            fps /= c->cfg->every;
        if (fm_mkdirs_for(c->record_path, &e) != FM_OK ||
            !(c->writer = fm_writer_open(c->record_path, img->w, img->h, fps, &e)) ||
            !(c->rec_canvas = fm_image_new(img->w, img->h, &e))) {
            record_failed(c, t, e.msg);
            return;
        }
    }
    const fm_image *frame = img;
    if (img->w != c->rec_canvas->w || img->h != c->rec_canvas->h) {
        fm_image_letterbox(img, c->rec_canvas);
        frame = c->rec_canvas;
    }
    if (fm_writer_write(c->writer, frame, &e) != FM_OK)
        record_failed(c, t, e.msg);
}

static void snapshot(serve_cam *c, const fm_image *img, const fm_track_event *ev, double t)
{
    char path[4096];
    fm_err e = {0};
    if (fm_snapshot_save(c->cfg->snapshots, img, ev->id, c->done, path, sizeof path, &e) !=
        FM_OK) {
        serve_output_failed(c->sv, "camera %s: %s; no more snapshots are saved for it",
                            c->cfg->name, e.msg);
        c->snap_failed = 1;
        pthread_mutex_lock(&c->ev_mu);
        fm_err e2 = {0};
        if (ev_out(c))
            ev_check(c, fm_events_snapshot_error(c->events, t, c->done, path, e.msg, &e2), &e2);
        pthread_mutex_unlock(&c->ev_mu);
        return;
    }
    const char *slash = strrchr(path, '/');
    pthread_mutex_lock(&c->ev_mu);
    if (ev_out(c) &&
        fm_history_add_snapshot(c->hist, c->cfg->name, c->sink.start + t, ev->id,
                                slash ? slash + 1 : path, NULL, &e) != FM_OK)
        ev_check(c, e.status, &e);
    pthread_mutex_unlock(&c->ev_mu);
}

static void live_view(serve_cam *c, const fm_image *img)
{
    uint8_t *jpeg = NULL;
    size_t len = 0;
    fm_err e = {0};
    if (fm_image_encode_jpeg(img, 80, &jpeg, &len, &e) == FM_OK)
        fm_site_state_put_jpeg(c->sv->state, c->idx, jpeg, len, &e);
    free(jpeg);
}

void serve_cam_frame(serve_worker *w, serve_cam *c)
{
    serve *sv = w->sv;
    const fm_site_camera *cfg = c->cfg;
    fm_image *img = c->work.image;
    double t = c->work_t;
    if (c->done == 0) {
        c->t_first_ms = c->work_t0;
        c->win_start_ms = c->work_t0;
    }
    fm_frame_step_out out;
    fm_err e = {0};
    if (fm_frame_step_run(c->step, w->det[c->model], w->cls, 0.5f, img, t, &out, &e) != FM_OK) {
        if (!c->det_failed++)
            fm_log(FM_LOG_ERROR, "camera %s: %s; such frames count as frames without faces",
                   cfg->name, e.msg);
        fm_frame_step_run(c->step, NULL, NULL, 0.5f, img, t, &out, &e);
    }
    int viewers = fm_site_state_viewers(sv->state, c->idx) > 0;
    int want_snap = cfg->snapshots && !c->snap_failed;
    int want_rec = cfg->record && !c->record_failed;
    if (want_snap || want_rec || viewers) { /* someone sees the frame */
        if (cfg->blur)
            fm_overlay_blur(img, out.tracks, out.ntracks);
        fm_overlay_tracks(img, w->font, out.tracks, out.ntracks);
        fm_overlay_status(img, w->font, c->fps_recent, &out.counts);
    }
    for (int k = 0; want_snap && !c->snap_failed && k < out.nevents; k++)
        if (fm_snapshot_wanted(&c->snapped, &out.events[k]))
            snapshot(c, img, &out.events[k], t);
    if (want_rec)
        record_frame(c, img, t);
    if (viewers)
        live_view(c, img);

    double now = fm_now_ms();
    double fps_all = now > c->t_first_ms ? (double)(c->done + 1) / ((now - c->t_first_ms) / 1e3)
                                         : 0;
    pthread_mutex_lock(&c->ev_mu);
    for (int k = 0; k < out.nevents; k++) {
        const fm_track_event *te = &out.events[k];
        if (ev_out(c))
            ev_check(c, fm_events_track(c->events, te, &e), &e);
        if (te->type == FM_TRACK_LEAVE)
            fm_site_state_person(sv->state, c->idx, fm_label_str(te->label));
    }
    if (ev_out(c) && fm_events_summary_due(c->events, t))
        ev_check(c,
                 fm_events_summary(c->events, t, c->done + 1, &out.counts, fps_all,
                                   atomic_load(&c->skipped), atomic_load(&c->read), 0, &e),
                 &e);
    c->done++;
    c->last_t = t;
    long long stored = c->sink.stored;
    pthread_mutex_unlock(&c->ev_mu);
    if (stored != c->notified) {
        c->notified = stored;
        serve_reporters_notify(sv);
    }

    c->t_last_ms = now;
    c->win_frames++;
    if (now - c->win_start_ms >= 1000 || c->fps_recent == 0) {
        if (now > c->win_start_ms)
            c->fps_recent = c->win_frames / ((now - c->win_start_ms) / 1e3);
        if (now - c->win_start_ms >= 1000) {
            c->win_start_ms = now;
            c->win_frames = 0;
        }
    }
    fm_site_frame f = {(now - c->work_t0) / 1e3, out.nfaces, out.ntracks, 0, 0, c->fps_recent};
    for (int k = 0; k < out.ntracks; k++) {
        f.masked_now += out.tracks[k].label == FM_LABEL_MASK;
        f.unmasked_now += out.tracks[k].label == FM_LABEL_NO_MASK;
    }
    fm_site_state_frame(sv->state, c->idx, &f);
}

/* ---- the end of a camera's stream, on a worker ---------------------------------------- */

void serve_cam_end(serve_worker *w, serve_cam *c)
{
    serve *sv = w->sv;
    fm_frame_step_out out;
    fm_err e = {0};
    int have = fm_frame_step_finish(c->step, c->last_t, &out, &e) == FM_OK;
    if (c->writer) { /* finished before the last events, so a failure is logged among them */
        fm_writer *wr = c->writer;
        c->writer = NULL;
        if (fm_writer_close(wr, &e) != FM_OK)
            record_failed(c, c->last_t, e.msg);
    }
    double fps = c->t_last_ms > c->t_first_ms
                     ? (double)c->done / ((c->t_last_ms - c->t_first_ms) / 1e3)
                     : 0;
    pthread_mutex_lock(&sv->mu);
    char reason[32];
    snprintf(reason, sizeof reason, "%s", c->eos_reason);
    pthread_mutex_unlock(&sv->mu);
    pthread_mutex_lock(&c->ev_mu);
    for (int k = 0; have && k < out.nevents; k++) {
        if (ev_out(c))
            ev_check(c, fm_events_track(c->events, &out.events[k], &e), &e);
        if (out.events[k].type == FM_TRACK_LEAVE)
            fm_site_state_person(sv->state, c->idx, fm_label_str(out.events[k].label));
    }
    fm_track_counts counts;
    fm_tracker_counts(fm_frame_step_tracker(c->step), &counts);
    if (ev_out(c) && c->source_error[0])
        ev_check(c,
                 fm_events_source_error(c->events, c->last_t, c->done, c->cfg->source,
                                        c->source_error, &e),
                 &e);
    if (ev_out(c))
        ev_check(c,
                 fm_events_summary(c->events, c->last_t, c->done, &counts, fps,
                                   atomic_load(&c->skipped), atomic_load(&c->read), 1, &e),
                 &e);
    if (ev_out(c))
        ev_check(c, fm_events_end(c->events, c->last_t, c->done, reason, &e), &e);
    pthread_mutex_unlock(&c->ev_mu);
    serve_reporters_notify(sv);
    if (strcmp(reason, "error") != 0)
        fm_site_state_status(sv->state, c->idx, FM_CAM_ENDED, NULL);
}
