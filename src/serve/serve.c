/* serve.c - `facemask serve`: the site, the inference pool and the run (serve/serve.h). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "serve/serve_impl.h"

#define PRUNE_EVERY_S 3600.0

/* Why the run stops: 0 it does not, STOP_SIGNAL (SIGINT/SIGTERM), STOP_DURATION (the end of
 * fm_serve_opts.duration), STOP_ERROR (the run could not start all its threads). Read by every
 * thread (lock-free: safe in a signal handler). */
enum { STOP_SIGNAL = 1, STOP_DURATION = 2, STOP_ERROR = 3 };
static atomic_int g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = STOP_SIGNAL;
}

int fm_serve_stopping(void)
{
    return g_stop != 0;
}

const char *fm_serve_stop_reason(void)
{
    return g_stop == STOP_DURATION ? "duration" : g_stop == STOP_ERROR ? "error" : "signal";
}

void serve_output_failed(serve *sv, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fm_log(FM_LOG_ERROR, "%s", msg);
    pthread_mutex_lock(&sv->out_mu);
    if (!sv->output_errors++)
        snprintf(sv->output_error, sizeof sv->output_error, "%s", msg);
    pthread_mutex_unlock(&sv->out_mu);
}

/* ==== MQTT and HTTP: the one place they are started and stopped ===========================
 * After the site state exists and before the cameras start; stopped after every camera ended
 * (so their final state is reported). HTTP listens only when the file has an http: section.
 * MQTT starts first and stops last: HTTP reads its remote cameras and counters. */
static fm_status reporters_start(serve *sv, fm_err *err)
{
    if (sv->site->mqtt.enabled && !(sv->mqtt = fm_mqtt_start(sv->site, sv->state, err)))
        return err->status;
    if (sv->site->http.enabled &&
        !(sv->http = fm_http_start(sv->site, sv->state, sv->mqtt, err))) {
        fm_mqtt_stop(sv->mqtt);
        sv->mqtt = NULL;
        return err->status;
    }
    if (sv->http && !sv->o->quiet) /* at the level of serve's other start-up line */
        fm_log(FM_LOG_WARN, "dashboard and API on http%s://%s:%d/",
               sv->site->http.tls_cert ? "s" : "", sv->site->http.listen, fm_http_port(sv->http));
    return FM_OK;
}

void serve_reporters_notify(serve *sv)
{
    fm_mqtt_notify(sv->mqtt); /* new events are in the database: publish them now */
}

static void reporters_stop(serve *sv)
{
    fm_site_state_wake(sv->state); /* live-view readers waiting for a frame */
    fm_http_stop(sv->http);
    sv->http = NULL;
    fm_mqtt_stop(sv->mqtt); /* after the cameras' last events; publishes "offline" */
    sv->mqtt = NULL;
}
/* ==== end of the reporters' place ======================================================== */

/* ---- the pool ------------------------------------------------------------------------------ */

/* With sv->mu held: the next camera, round-robin from the cursor, that has a frame or has
 * ended and that no worker holds; its frame becomes the worker's (*end: it ended). */
static serve_cam *next_job(serve *sv, int *end)
{
    for (int k = 0; k < sv->ncams; k++) {
        int i = (sv->rr + k) % sv->ncams;
        serve_cam *c = &sv->cams[i];
        if (c->busy || c->finished)
            continue;
        if (c->has_pending) {
            fm_frame tmp = c->work;
            c->work = c->pending;
            c->pending = tmp;
            c->work_t = c->pending_t;
            c->work_t0 = c->pending_t0;
            c->has_pending = 0;
            pthread_cond_broadcast(&sv->cap_cv);
        } else if (c->eos) {
            *end = 1;
        } else {
            continue;
        }
        c->busy = 1;
        sv->rr = (i + 1) % sv->ncams;
        return c;
    }
    return NULL;
}

static void *worker_main(void *arg)
{
    serve_worker *w = arg;
    serve *sv = w->sv;
    for (;;) {
        serve_cam *c = NULL;
        int end = 0;
        pthread_mutex_lock(&sv->mu);
        while (sv->nfinished < sv->ncams && !(c = next_job(sv, &end)))
            pthread_cond_wait(&sv->work_cv, &sv->mu);
        pthread_mutex_unlock(&sv->mu);
        if (!c)
            break;
        if (end)
            serve_cam_end(w, c);
        else
            serve_cam_frame(w, c);
        pthread_mutex_lock(&sv->mu);
        c->busy = 0;
        if (end) {
            c->finished = 1;
            sv->nfinished++;
        }
        pthread_cond_broadcast(&sv->work_cv);
        pthread_mutex_unlock(&sv->mu);
    }
    return NULL;
}

/* A worker's models: one detector per distinct detector spec of the cameras, one classifier. */
static fm_status worker_init(serve *sv, serve_worker *w, int idx, fm_err *err)
{
    const fm_serve_opts *o = sv->o;
    w->sv = sv;
    w->idx = idx;
    fm_net_opts no = fm_net_default_opts();
    no.threads = 1; /* the pool's workers are the parallelism */
    if (!(w->det = calloc((size_t)sv->nmodels, sizeof *w->det)))
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory for the inference workers");
    for (int m = 0; m < sv->nmodels; m++) {
        const fm_site_camera *cfg = &sv->site->cameras[sv->model_cam[m]];
        fm_detector_spec spec = {cfg->detector, sv->models_dir, cfg->det_w, cfg->det_h};
        if (!(w->det[m] = fm_detector_create(&spec, &no, err))) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return fm_err_set(err, err->status, "camera %s: %s", cfg->name, msg);
        }
    }
    char cdir[4200];
    fm_classifier_dir(o->classifier_dir, sv->models_dir, cdir, sizeof cdir);
    if (!(w->cls = fm_classifier_load(cdir, &no, err)))
        return err ? err->status : FM_ERR_IO;
    if (!(w->font = fm_font_open(NULL, err))) /* annotations: recordings, snapshots, live view */
        return err ? err->status : FM_ERR_IO;
    return FM_OK;
}

static void worker_free(serve *sv, serve_worker *w)
{
    for (int m = 0; w->det && m < sv->nmodels; m++)
        fm_detector_free(w->det[m]);
    free(w->det);
    fm_classifier_free(w->cls);
    fm_font_free(w->font);
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Cameras with the same detector, det-size share a model index. */
static fm_status plan_models(serve *sv, fm_err *err)
{
    if (!(sv->model_cam = calloc((size_t)sv->ncams, sizeof *sv->model_cam)))
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < sv->ncams; i++) {
        const fm_site_camera *a = &sv->site->cameras[i];
        int m = 0;
        for (; m < sv->nmodels; m++) {
            const fm_site_camera *b = &sv->site->cameras[sv->model_cam[m]];
            if (same_str(a->detector, b->detector) && a->det_w == b->det_w &&
                a->det_h == b->det_h)
                break;
        }
        if (m == sv->nmodels)
            sv->model_cam[sv->nmodels++] = i;
        sv->cams[i].model = m;
    }
    return FM_OK;
}

static void prune(serve *sv, fm_history *h)
{
    long long n = 0;
    fm_err e = {0};
    if (fm_history_prune(h, fm_wall_now(), sv->site->database.retention_days, &n, &e) != FM_OK)
        fm_log(FM_LOG_ERROR, "%s; the run goes on", e.msg);
    else if (n > 0)
        fm_log(FM_LOG_INFO, "%s: %lld rows older than %d days deleted",
               sv->site->database.path, n, sv->site->database.retention_days);
}

/* ---- the run ------------------------------------------------------------------------------ */

fm_status fm_serve_run(const fm_serve_opts *o, fm_serve_stats *stats, fm_err *err)
{
    memset(stats, 0, sizeof *stats);
    snprintf(stats->end_reason, sizeof stats->end_reason, "eof");
    fm_log_set_level(o->quiet ? FM_LOG_ERROR : FM_LOG_WARN);
    fm_video_set_log_level(0); /* a failed open is our one-line message, not FFmpeg's too */
    serve sv;
    memset(&sv, 0, sizeof sv);
    sv.o = o;
    pthread_mutex_init(&sv.mu, NULL);
    pthread_mutex_init(&sv.out_mu, NULL);
    pthread_cond_init(&sv.work_cv, NULL);
    pthread_cond_init(&sv.cap_cv, NULL);
    g_stop = 0;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    fm_status st = FM_OK;
    fm_history *hist = NULL;
    int workers_started = 0, cams_started = 0, reporters = 0;

    if (!(sv.site = fm_site_config_load(o->config, err))) {
        stats->config_error = 1;
        st = err ? err->status : FM_ERR_PARSE;
        goto done;
    }
    sv.ncams = sv.site->ncameras;
    stats->ncameras = sv.ncams;
    const char *names[FM_SITE_MAX_CAMERAS];
    for (int i = 0; i < sv.ncams; i++)
        names[i] = sv.site->cameras[i].name;
    if (!(sv.state = fm_site_state_new(sv.ncams, names, err))) {
        st = err ? err->status : FM_ERR_NOMEM;
        goto done;
    }
    fm_models_dir(o->model_dir, sv.models_dir, sizeof sv.models_dir);
    /* the history: this thread's handle prunes; each camera has its own for its events */
    if (!(hist = fm_history_open(sv.site->database.path, FM_HISTORY_CREATE, err))) {
        st = err ? err->status : FM_ERR_IO;
        goto done;
    }
    prune(&sv, hist);
    double last_prune = fm_now_ms();
    sv.cams = calloc((size_t)sv.ncams, sizeof *sv.cams);
    sv.nworkers = o->threads < 1 ? 1 : o->threads;
    sv.workers = calloc((size_t)sv.nworkers, sizeof *sv.workers);
    if (!sv.cams || !sv.workers) {
        st = fm_err_set(err, FM_ERR_NOMEM, "out of memory for %d cameras", sv.ncams);
        goto done;
    }
    if ((st = plan_models(&sv, err)) != FM_OK)
        goto done;
    for (int i = 0; i < sv.ncams; i++)
        if ((st = serve_cam_init(&sv, &sv.cams[i], i, err)) != FM_OK)
            goto done;
    for (int i = 0; i < sv.nworkers; i++)
        if ((st = worker_init(&sv, &sv.workers[i], i, err)) != FM_OK)
            goto done;
    if ((st = reporters_start(&sv, err)) != FM_OK)
        goto done;
    reporters = 1;
    if (o->on_state)
        o->on_state(o->on_state_ctx, sv.state);

    for (; workers_started < sv.nworkers; workers_started++)
        if (pthread_create(&sv.workers[workers_started].thread, NULL, worker_main,
                           &sv.workers[workers_started]) != 0)
            break;
    for (; cams_started < sv.ncams; cams_started++) {
        serve_cam *c = &sv.cams[cams_started];
        if (pthread_create(&c->thread, NULL, serve_cam_capture, c) != 0)
            break;
        c->thread_started = 1;
    }
    if (workers_started < sv.nworkers || cams_started < sv.ncams) {
        st = fm_err_set(err, FM_ERR_NOMEM, "cannot start the threads of %d cameras", sv.ncams);
        g_stop = STOP_ERROR;
        /* cameras never started end at once, so the workers finish */
        pthread_mutex_lock(&sv.mu);
        for (int i = cams_started; i < sv.ncams; i++) {
            sv.cams[i].eos = 1;
            snprintf(sv.cams[i].eos_reason, sizeof sv.cams[i].eos_reason, "error");
        }
        pthread_cond_broadcast(&sv.work_cv);
        pthread_mutex_unlock(&sv.mu);
    }
    if (workers_started == 0) { /* nobody would finish the cameras: end them here */
        pthread_mutex_lock(&sv.mu);
        sv.nfinished = sv.ncams;
        pthread_mutex_unlock(&sv.mu);
    }
    if (!o->quiet)
        fm_log(FM_LOG_WARN, "serving %d camera%s with %d inference worker%s; history in %s",
               sv.ncams, sv.ncams == 1 ? "" : "s", sv.nworkers, sv.nworkers == 1 ? "" : "s",
               sv.site->database.path);

    /* wait for every camera to finish (a signal, or the end of o->duration, ends the
     * sources); prune every hour */
    double t_start = fm_now_ms();
    pthread_mutex_lock(&sv.mu);
    while (sv.nfinished < sv.ncams) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&sv.work_cv, &sv.mu, &ts);
        if (fm_now_ms() - last_prune >= PRUNE_EVERY_S * 1e3) {
            pthread_mutex_unlock(&sv.mu);
            prune(&sv, hist);
            last_prune = fm_now_ms();
            pthread_mutex_lock(&sv.mu);
        }
        if (o->duration > 0 && !g_stop && fm_now_ms() - t_start >= o->duration * 1e3)
            g_stop = STOP_DURATION; /* as SIGTERM: every camera ends cleanly */
    }
    pthread_mutex_unlock(&sv.mu);
    stats->wall_s = (fm_now_ms() - t_start) / 1e3;
    if (g_stop)
        snprintf(stats->end_reason, sizeof stats->end_reason, fm_serve_stop_reason());

done:
    for (int i = 0; i < workers_started; i++)
        pthread_join(sv.workers[i].thread, NULL);
    for (int i = 0; sv.cams && i < sv.ncams; i++)
        if (sv.cams[i].thread_started)
            pthread_join(sv.cams[i].thread, NULL);
    if (reporters)
        reporters_stop(&sv);
    for (int i = 0; sv.cams && i < sv.ncams; i++) {
        serve_cam *c = &sv.cams[i];
        stats->frames += c->done;
        stats->skipped += atomic_load(&c->skipped);
        stats->events += c->sink.stored;
        if (sv.state)
            fm_site_state_get(sv.state, i, &stats->cameras[i], NULL);
        serve_cam_free(c);
    }
    for (int i = 0; sv.workers && i < sv.nworkers; i++)
        worker_free(&sv, &sv.workers[i]);
    stats->camera_errors = atomic_load(&sv.camera_errors);
    stats->output_errors = sv.output_errors;
    snprintf(stats->output_error, sizeof stats->output_error, "%s", sv.output_error);
    free(sv.cams);
    free(sv.workers);
    free(sv.model_cam);
    fm_history_close(hist);
    fm_site_state_free(sv.state);
    fm_site_config_free(sv.site);
    pthread_cond_destroy(&sv.work_cv);
    pthread_cond_destroy(&sv.cap_cv);
    pthread_mutex_destroy(&sv.mu);
    pthread_mutex_destroy(&sv.out_mu);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return st;
}
