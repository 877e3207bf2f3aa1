/* watch.h - the live pipeline behind `facemask watch` and `facemask bench --source`.
 *
 * Three threads joined by bounded queues, with a fixed pool of frame buffers (nothing is
 * allocated per frame once the pool is full):
 *   capture   reads the source; for a live source (camera, stream) the inference thread
 *             always gets the newest frame and older waiting frames are counted as skipped;
 *             for a file or folder every frame (or every Nth) is processed, in order;
 *   inference detects faces, asks the tracker which need classifying, classifies them,
 *             updates the tracker (ids, smoothed labels, counts, events);
 *   output    (the calling thread, so the SDL window lives there) draws the annotations,
 *             blurs faces if asked, shows / records / snapshots, writes the events and the
 *             status line.
 * Ctrl-C and SIGTERM (or q / closing the window) stop the source; the frames in flight are
 * finished, the tracker ends every track, the recording gets its trailer and the events end
 * with a final summary and an "end" line. Once the events are open, they end that way on every
 * path: a source that cannot be opened writes source_error, the final summary and end
 * ("error"). Messages go through core/log.h (FFmpeg's and SDL's too).
 */
#ifndef FM_WATCH_H
#define FM_WATCH_H

#include "core/err.h"

typedef struct {
    const char *source;     /* camera index, /dev/videoN, file, URL or folder */
    const char *model_dir;  /* yunet/ or res10/ (and mask/ unless classifier_dir) */
    const char *detector;   /* "tuned" (NULL too), "yunet", "res10", or a YuNet .onnx (fm_detector_spec) */
    const char *classifier_dir; /* NULL: <model_dir>/mask; "" or classify == 0: none */
    int classify;
    int threads;            /* inference threads */
    float conf;             /* detector threshold */
    int det_w, det_h;       /* --det-size as fm_parse_det_size gives it ("N": det_h 0);
                             * 0: the model's default (YuNet 640 long side, res10 300x300) */
    int landmarks;          /* draw YuNet's 5 landmarks on the image outputs */
    int every;              /* files: process every Nth frame (1 = all) */
    int display;            /* SDL window */
    const char *record;     /* annotated video file, or NULL */
    const char *events;     /* events file, "-" for stdout, or NULL */
    const char *snapshots;  /* folder for one JPEG per person seen without a mask, or NULL */
    int blur;               /* pixelate faces in every image output */
    double summary_every;   /* seconds between summary events */
    int status;             /* status line on stderr while running */
    int quiet;              /* only errors on stderr: no FFmpeg or SDL messages, no warnings
                             * (fm_watch_run sets core/log.h's level from it, in the plugin) */
    double folder_fps;      /* frame rate of an image folder */
    int max_frames;         /* stop after this many frames (0: no limit) */
    int reconnect_attempts; /* live sources: 0 unlimited */
    int open_retries;       /* live sources: more attempts when the first open fails (0 none,
                             * -1 until stopped; fm_source_opts.open_retries) */
    double timeout;         /* live sources: seconds without an answer (opening) or without
                             * data (reading) before the stream counts as dropped; 0 = 10 */
    int allow_playlists;    /* files: follow playlists / lists of files (fm_source_opts) */
} fm_watch_opts;

typedef struct {
    long long frames;    /* frames processed (detected + tracked + output) */
    long long skipped;   /* frames read but not processed (live: stale; files: --every) */
    long long read;      /* frames read from the source */
    double wall_s;       /* from the first frame read to the last one output */
    double fps;          /* frames / wall_s */
    /* per-frame stage times in ms: median and 90th percentile */
    double read_med, read_p90;
    double detect_med, detect_p90;
    double classify_med, classify_p90; /* classifier time per frame (0 when no face needed it) */
    double track_med, track_p90;
    double output_med, output_p90;
    double latency_med, latency_p90;   /* frame read -> output done */
    long long classified;              /* faces classified */
    long long people, mask, no_mask, unknown;
    long long reconnects, decode_errors;
    long long unreadable;              /* a folder's images that could not be read (skipped;
                                        * each reported on stderr and as a source_error) */
    char end_reason[32];               /* eof, signal, quit, error, max-frames */
    /* outputs (events, recording, snapshots) that failed during the run: each was reported
     * once on stderr (and as an event while the events worked) and the run went on without it;
     * the command's exit status is then 1 */
    int output_errors;
    char output_error[1024];           /* the first failure's message */
} fm_watch_stats;

fm_watch_opts fm_watch_default_opts(void);
/* Runs until the source ends or a stop is asked; fills *stats. A source that cannot be
 * opened, or models that cannot be loaded, are errors before anything runs. A live source that
 * gives up reconnecting ends the run with FM_OK and end_reason "error" (the reason is logged).
 * It lives in the video plugin (facemask-video.so, with FFmpeg and SDL2), so image commands
 * never load those libraries; commands call it through fm_watch_start. */
fm_status fm_watch_run(const fm_watch_opts *o, fm_watch_stats *stats, fm_err *err);

/* Loads the video plugin from beside the executable (once) and runs fm_watch_run from it.
 * A missing plugin is an error that names the file. */
fm_status fm_watch_start(const fm_watch_opts *o, fm_watch_stats *stats, fm_err *err);

#endif
