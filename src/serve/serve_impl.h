/* serve_impl.h - what serve.c (the site, the pool, the run) and serve_camera.c (a camera's
 * capture thread and outputs) share. Not an API: serve/serve.h is.
 *
 * Locking: sv->mu guards the hand-over of frames (each camera's pending frame, busy, eos,
 * finished) and the pool's cursor; a camera's ev_mu guards its events writer and history
 * handle, which its capture thread (source errors, reconnects) and the worker processing it
 * (track events, summaries, snapshots) both use. A worker holds a camera (busy) while it runs
 * its step and outputs: the step, the recording, the snapshot set and the per-frame numbers
 * belong to that worker for that time; frames pass between threads by swapping fm_frame
 * structs under sv->mu, so no image is copied or allocated per frame.
 */
#ifndef FM_SERVE_IMPL_H
#define FM_SERVE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "face/classifier.h"
#include "face/detector.h"
#include "io/draw.h"
#include "serve/http.h"
#include "serve/mqtt.h"
#include "serve/serve.h"
#include "site/config.h"
#include "site/history.h"
#include "site/sink.h"
#include "site/state.h"
#include "track/events.h"
#include "track/frame_step.h"
#include "video/outputs.h"
#include "video/source.h"
#include "video/writer.h"

#define SERVE_MAX_FACES 256

typedef struct serve serve;

typedef struct {
    serve *sv;
    int idx;
    const fm_site_camera *cfg;
    int model;        /* index of this camera's detector in each worker's (same spec: shared) */
    pthread_t thread;
    int thread_started;

    /* capture thread only */
    fm_source *src;
    fm_frame cap;
    double pts_offset; /* loop: the time of the previous passes */
    long long index_offset;
    double last_pts;

    /* under sv->mu */
    fm_frame pending;
    double pending_t;  /* stream seconds (pts + offset) */
    double pending_t0; /* fm_now_ms() when its read started */
    int has_pending, busy, eos, finished;
    int live;
    double src_fps; /* the source's nominal rate (0: unknown) */
    char eos_reason[32];

    /* the worker holding the camera (busy) */
    fm_frame work;
    double work_t, work_t0;
    fm_frame_step *step;
    long long done;       /* frames processed: the events' "frame" */
    double last_t;        /* stream seconds of the last frame processed */
    double t_first_ms, t_last_ms; /* wall: first frame read, last frame done */
    double win_start_ms;  /* the state's fps: frames over the last second or so */
    long long win_frames;
    double fps_recent;
    fm_writer *writer;
    fm_image *rec_canvas;
    char record_path[4096];
    int record_failed, snap_failed, det_failed;
    long long notified;   /* sink.stored when the reporters were last told */
    fm_snapshot_set snapped;

    /* read and skipped frames (capture thread writes, the worker's summaries read) */
    atomic_llong read, skipped;

    /* under ev_mu */
    pthread_mutex_t ev_mu;
    fm_events *events;
    fm_history *hist;
    fm_site_sink sink;
    int events_failed;
    char drop_reason[256];
    char source_error[512];
} serve_cam;

typedef struct {
    serve *sv;
    int idx;
    fm_detector **det;  /* [sv->nmodels] */
    fm_classifier *cls; /* NULL when classification is off */
    fm_font *font;      /* labels on annotated frames */
    pthread_t thread;
} serve_worker;

struct serve {
    const fm_serve_opts *o;
    fm_site_config *site;
    fm_site_state *state;
    fm_http *http;          /* the dashboard and API, when the site has an http: section */
    fm_mqtt *mqtt;          /* events and state to the broker, when it has an mqtt: section */
    int ncams;
    serve_cam *cams;
    int nworkers;
    serve_worker *workers;
    int nmodels;
    int *model_cam; /* [nmodels]: a camera with that detector spec */
    char models_dir[4096];

    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* a camera has a frame or ended; or everything finished */
    pthread_cond_t cap_cv;  /* a pending frame was taken (file sources wait for it) */
    int rr;                 /* the pool's round-robin cursor */
    int nfinished;

    pthread_mutex_t out_mu; /* output_failed's message */
    int output_errors;
    char output_error[1024];
    atomic_int camera_errors;
};

/* 1 once SIGINT or SIGTERM arrived, or fm_serve_opts.duration ran out. */
int fm_serve_stopping(void);
/* Why: "signal", "duration" or "error" (the end event's reason, docs/events.md). */
const char *fm_serve_stop_reason(void);

/* An output failed: one message on stderr, the first kept for the caller. */
void serve_output_failed(serve *sv, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A camera stored new events (serve.c: where MQTT is told). Any thread, no lock held. */
void serve_reporters_notify(serve *sv);

/* serve_camera.c */
fm_status serve_cam_init(serve *sv, serve_cam *c, int idx, fm_err *err);
void serve_cam_free(serve_cam *c);
void *serve_cam_capture(void *arg);                       /* the capture thread */
void serve_cam_frame(serve_worker *w, serve_cam *c);      /* one frame: step and outputs */
void serve_cam_end(serve_worker *w, serve_cam *c);        /* the end of its stream */

#endif
