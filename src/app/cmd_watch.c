/* facemask watch: faces and masks over time, from a camera, a file, a stream or a folder. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "app/app.h"
#include "app/watch.h"
#include "core/log.h"

enum {
    O_SOURCE = 256, O_DISPLAY, O_RECORD, O_FORCE, O_EVENTS, O_SNAPSHOTS, O_BLUR, O_DETECTOR,
    O_DET_SIZE, O_LANDMARKS, O_EVERY, O_CONF, O_SUMMARY_EVERY, O_MAX_FRAMES, O_FOLDER_FPS,
    O_CLASSIFIER, O_NO_CLASSIFY, O_TIMEOUT, O_RECONNECT, O_RETRY, O_ALLOW_PLAYLISTS
};

static const fm_opt watch_opts[] = {
    {"source", O_SOURCE, "SRC",
     "what to watch (required): a camera (0, 1, ... or /dev/videoN), a video "
     "file, an rtsp:// http(s):// rtmp(s):// udp:// URL, a folder of images, "
     "or - for a video stream on standard input"},
    {"display", O_DISPLAY, NULL, "show the annotated video in a window (q or Esc to stop)"},
    {"record", O_RECORD, "FILE",
     "write the annotated video (.mp4/.mkv: H.264, .avi: MPEG-4); an existing "
     "FILE is refused unless --force, and the source itself always is"},
    {"force", O_FORCE, NULL, "let --record replace an existing file"},
    {"events", O_EVENTS, "FILE|-",
     "JSON lines: appear / label / leave per person, summaries, source "
     "errors, reconnects, end (schema: docs/events.md); - for stdout"},
    {"snapshots", O_SNAPSHOTS, "DIR", "one JPEG of each person seen without a mask"},
    {"blur", O_BLUR, NULL, "pixelate faces in every image output"},
    {"detector", O_DETECTOR, "D", "the face detector: tuned (default, the fine-tuned YuNet-n), yunet (stock YuNet-n), res10, or a YuNet .onnx file"},
    {"det-size", O_DET_SIZE, "S",
     "YuNet: the long side frames are scaled to (default 640, one number); "
     "res10: its input S x S or WxH (default 300x300)"},
    {"landmarks", O_LANDMARKS, NULL,
     "draw YuNet's 5 face landmarks in the window and recording (events "
     "carry them either way)"},
    {"conf", O_CONF, "F", "keep faces scoring at least F (0..1, default 0.5)"},
    {"threads", 'j', "N", "inference threads (1..64, default 2)"},
    {"every", O_EVERY, "N",
     "files and folders: process every Nth frame (default 1; live sources "
     "always take the newest frame and count the ones skipped)"},
    {"summary-every", O_SUMMARY_EVERY, "SEC", "seconds of stream time between summary events (default 10)"},
    {"max-frames", O_MAX_FRAMES, "N", "stop after N frames processed (default 0: no limit)"},
    {"folder-fps", O_FOLDER_FPS, "FPS",
     "a folder of images: the frame rate its images are played at, for the "
     "events' times and the recording (0.1..1000, default 10)"},
    {"model-dir", 'm', "DIR", FM_MODEL_DIR_HELP},
    {"classifier", O_CLASSIFIER, "DIR", "the mask classifier (default <models>/mask)"},
    {"no-classify", O_NO_CLASSIFY, NULL, "track faces without the mask classifier (labels stay unknown)"},
    {"timeout", O_TIMEOUT, "SEC",
     "live sources: seconds without an answer or without data before the "
     "stream counts as dropped (default 10)"},
    {"reconnect", O_RECONNECT, "N",
     "live sources: give up after N failed reconnection attempts in a row "
     "(default 0: never give up; -1: end at the first drop)"},
    {"retry", O_RETRY, "N",
     "live sources: when the first open fails, try N more times with the "
     "same backoff, 0.5 s doubling to 8 s (default 0: fail at once; -1: until "
     "stopped); each failed attempt is a source_error event"},
    {"allow-playlists", O_ALLOW_PLAYLISTS, NULL,
     "a file may be a playlist or list of other files (HLS .m3u8, ffconcat, "
     "...) that FFmpeg follows; refused by default, whatever the file's "
     "extension, since it makes facemask read other files"},
    {"quiet", 'q', NULL,
     "no status line, and no FFmpeg or SDL messages; facemask's own errors "
     "are still printed"},
    {NULL, 0, NULL, NULL}};

const fm_cmd_spec fm_watch_spec = {
    "watch",
    "watch --source SRC [OPTIONS]",
    "Faces and masks over time: tracks each person, counts them once, and writes "
    "the outputs asked for (any combination of --display, --record, --events and "
    "--snapshots).",
    watch_opts,
    "A source that cannot be opened or read (a text file, an empty or broken clip, a "
    "missing camera) is one line on stderr and exit status 1; with --events, the events "
    "still end with source_error, summary and end. Images of a folder that cannot be "
    "read are skipped, each reported (stderr and a source_error event) and counted; the "
    "exit status is then 1.\n"
    "If the events, the recording or a snapshot cannot be written (disk full, read-only), "
    "that output stops with one message (and a record_error / snapshot_error event), the "
    "run goes on, and the exit status is 1.\n"
    "Ctrl-C stops cleanly: the recording is finalised and the events end with a summary."};

int fm_cmd_watch(int argc, char **argv)
{
    const fm_cmd_spec *spec = &fm_watch_spec;
    fm_watch_opts o = fm_watch_default_opts();
    int force = 0;
    float f;
    fm_args args;
    fm_args_init(&args, spec, argc, argv);
    const char *v;
    for (int k; (k = fm_args_next(&args, &v)) != FM_ARGS_END;) {
        switch (k) {
        case FM_ARGS_HELP: return 0;
        case FM_ARGS_ERROR: return 2;
        case O_SOURCE: o.source = strcmp(v, "-") == 0 ? "pipe:0" : v; break;
        case O_DETECTOR: o.detector = v; break;
        case O_LANDMARKS: o.landmarks = 1; break;
        case O_DISPLAY: o.display = 1; break;
        case O_RECORD: o.record = v; break;
        case O_EVENTS: o.events = v; break;
        case O_SNAPSHOTS: o.snapshots = v; break;
        case O_BLUR: o.blur = 1; break;
        case 'm': o.model_dir = v; break;
        case O_CLASSIFIER: o.classifier_dir = v; break;
        case O_NO_CLASSIFY: o.classify = 0; break;
        case O_ALLOW_PLAYLISTS: o.allow_playlists = 1; break;
        case 'q':
            o.status = 0;
            o.quiet = 1;
            break;
        case O_FORCE: force = 1; break;
        case O_EVERY:
            if (!fm_parse_int("--every", v, 1, 100000, &o.every))
                return fm_try_help(spec);
            break;
        case O_CONF:
            if (!fm_parse_float("--conf", v, 0.0f, 1.0f, &o.conf))
                return fm_try_help(spec);
            break;
        case 'j':
            if (!fm_parse_int("--threads", v, 1, 64, &o.threads))
                return fm_try_help(spec);
            break;
        case O_SUMMARY_EVERY:
            if (!fm_parse_float("--summary-every", v, 0.1, 86400.0, &f))
                return fm_try_help(spec);
            o.summary_every = f;
            break;
        case O_MAX_FRAMES:
            if (!fm_parse_int("--max-frames", v, 0, 2000000000, &o.max_frames))
                return fm_try_help(spec);
            break;
        case O_FOLDER_FPS:
            if (!fm_parse_float("--folder-fps", v, 0.1, 1000.0, &f))
                return fm_try_help(spec);
            o.folder_fps = f;
            break;
        case O_DET_SIZE:
            if (!fm_parse_det_size("--det-size", v, &o.det_w, &o.det_h))
                return fm_try_help(spec);
            break;
        case O_TIMEOUT:
            if (!fm_parse_float("--timeout", v, 0.1f, 3600.0f, &f))
                return fm_try_help(spec);
            o.timeout = f;
            break;
        case O_RECONNECT:
            if (!fm_parse_int("--reconnect", v, -1, 1000000, &o.reconnect_attempts))
                return fm_try_help(spec);
            break;
        case O_RETRY:
            if (!fm_parse_int("--retry", v, -1, 1000000, &o.open_retries))
                return fm_try_help(spec);
            break;
        }
    }
    if (args.operand < argc)
        return fm_usage_error(spec, "unexpected argument '%s' (the source is given with --source)",
                              argv[args.operand]);
    if (!o.source)
        return fm_usage_error(spec, "--source is required (e.g. --source 0 for the first camera, "
                                    "or a file, URL or folder)");
    if (o.quiet)
        fm_log_set_level(FM_LOG_ERROR);
    /* An existing regular file is not replaced without --force (devices and pipes such as
     * /dev/null are written as before), and the source never is. */
    struct stat rst, sst;
    if (o.record && stat(o.record, &rst) == 0) {
        if (stat(o.source, &sst) == 0 && sst.st_dev == rst.st_dev && sst.st_ino == rst.st_ino) {
            fprintf(stderr,
                    "facemask watch: --record %s is the source %s; nothing written: record to "
                    "another file\n",
                    o.record, o.source);
            return 1;
        }
        if (S_ISREG(rst.st_mode) && !force) {
            fprintf(stderr,
                    "facemask watch: --record %s: the file exists; nothing written: choose "
                    "another name, or --force to replace it\n",
                    o.record);
            return 1;
        }
    }
    fm_watch_stats s;
    fm_err err = {0};
    if (fm_watch_start(&o, &s, &err) != FM_OK) {
        fprintf(stderr, "facemask: %s\n", err.msg);
        return 1;
    }
    if (o.status)
        fprintf(stderr,
                "facemask: %lld frames in %.1f s (%.1f fps), %lld skipped; %lld people: %lld "
                "mask, %lld no_mask, %lld unknown; ended: %s%s\n",
                s.frames, s.wall_s, s.fps, s.skipped, s.people, s.mask, s.no_mask, s.unknown,
                s.end_reason, s.output_errors ? "; an output failed (see above)" : "");
    if (s.unreadable)
        fm_log(FM_LOG_ERROR, "%s: %lld unreadable image%s skipped (see above)", o.source,
               s.unreadable, s.unreadable == 1 ? "" : "s");
    return strcmp(s.end_reason, "error") == 0 || s.output_errors || s.unreadable ? 1 : 0;
}
