/* serve.h - `facemask serve`: every camera of a site in one process (issue 9).
 *
 *     fm_serve_opts o = fm_serve_default_opts();
 *     o.config = "site.yaml";
 *     fm_serve_stats s;
 *     fm_err err = {0};
 *     if (fm_serve_start(&o, &s, &err) != FM_OK)          // loads the video plugin, runs
 *         fprintf(stderr, "facemask: %s\n", err.msg);     // s.config_error: the file is wrong
 *
 * The site file (site/config.h, docs/site.example.yaml) lists the cameras. Each camera has:
 *   - a capture thread on video/source.h, with watch's reconnect and timeout behaviour: a live
 *     source (camera, URL) that drops is reopened with backoff (0.5 s doubling to 8 s) forever,
 *     and one that cannot be opened at start is retried the same way (status "failed", then
 *     "running" once it opens); a file or folder plays once (or again and again with
 *     `loop: true`, its times continuing);
 *   - its own tracker (track/frame_step.h), events writer and history handle: every events line
 *     (docs/events.md) is stored in the SQLite history (site/sink.h) before it counts as
 *     written; snapshots (indexed in the history), a recording and blur as the camera asks.
 * One inference pool of `threads` workers (each with its own detector(s) and classifier) runs
 * the per-frame step for all cameras, fairly: a worker takes the next camera, round-robin, that
 * has a new frame and that no other worker is processing, so a camera's frames stay in order
 * and a busy or dead camera never holds up the others. A live camera's worker always gets its
 * newest frame (older ones are counted skipped); a file's frames are all processed, in order
 * (every `every`th).
 * Everything a reporter needs is in the site state (site/state.h): frames processed and
 * skipped, latency (frame read -> outputs done), status, reconnects, people and compliance, and,
 * while someone watches a camera, its annotated frame as JPEG. The history is pruned to
 * database.retention-days at start and every hour.
 * The MQTT and HTTP reporters (src/serve/mqtt.h, src/serve/http.h) start after the cameras'
 * state exists, when the file has their sections (one place in serve.c).
 *
 * The run ends on SIGINT or SIGTERM, or after fm_serve_opts.duration seconds (every camera is
 * stopped, frames in flight are finished, every track ends, each camera's events end with
 * leave lines, a final summary and "end"), or when every camera's source has ended (files
 * without loop). Messages go through core/log.h.
 */
#ifndef FM_SERVE_H
#define FM_SERVE_H

#include "core/err.h"
#include "site/config.h"
#include "site/state.h"

typedef struct {
    const char *config;         /* the site file (required) */
    const char *model_dir;      /* models (fm_models_dir); NULL: the default places */
    const char *classifier_dir; /* NULL: <models>/mask */
    int threads;                /* inference workers, 1..64 (default 2) */
    int quiet;                  /* only errors on stderr */
    double summary_every;       /* seconds of stream time between summary events (default 10) */
    double timeout;             /* live sources: seconds without an answer or data (0: 10) */
    double duration;            /* > 0: stop as on SIGTERM after this many seconds (bench, soak) */
    /* Called once (on the calling thread) when the site state exists, before the cameras
     * start: for a program that embeds serve, or a test, to read the state or register a
     * live-view viewer. The state is freed when fm_serve_run returns. NULL: none. */
    void (*on_state)(void *ctx, fm_site_state *state);
    void *on_state_ctx;
} fm_serve_opts;

typedef struct {
    int config_error;        /* 1: the site file could not be read or is wrong (err says where) */
    int ncameras;
    long long frames;        /* processed, all cameras */
    long long skipped;       /* read but not processed */
    long long events;        /* events lines stored in the history */
    int camera_errors;       /* cameras whose source failed for good (a file that cannot be
                              * opened or read); each was reported */
    char end_reason[32];     /* "eof" (every source ended), "signal" or "duration" */
    double wall_s;           /* seconds from the cameras' start to the end of the run */
    /* outputs (the history, recordings, snapshots) that failed during the run: each reported
     * once; the run went on without it; the command's exit status is then 1 */
    int output_errors;
    char output_error[1024]; /* the first one's message */
    /* each camera's state (site/state.h) as the run left it, cameras[i] = the file's i-th */
    fm_site_cam_stats cameras[FM_SITE_MAX_CAMERAS];
} fm_serve_stats;

fm_serve_opts fm_serve_default_opts(void);

/* Runs the site until a signal or until every source ended; fills *stats. Errors before
 * anything runs (the file, the models, the database) return their status with err set. Lives
 * in the video plugin, like fm_watch_run. */
fm_status fm_serve_run(const fm_serve_opts *o, fm_serve_stats *stats, fm_err *err);

/* Loads the video plugin (app/watch.h's fm_watch_start does the same) and runs fm_serve_run. */
fm_status fm_serve_start(const fm_serve_opts *o, fm_serve_stats *stats, fm_err *err);

#endif
