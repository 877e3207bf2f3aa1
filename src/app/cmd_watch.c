/* facemask watch: faces and masks over time, from a camera, a file, a stream or a folder. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "app/app.h"
#include "app/watch.h"

static void watch_usage(FILE *f)
{
    fprintf(f,
            "usage: facemask watch --source SRC [--display] [--record FILE [--force]]\n"
            "                      [--events FILE|-]\n"
            "                      [--snapshots DIR] [--blur] [--every N] [--conf 0.5]\n"
            "                      [--threads N] [--summary-every SEC] [--max-frames N]\n"
            "                      [--model-dir DIR] [--classifier DIR | --no-classify] [--quiet]\n"
            "                      [--detector yunet|res10|FILE] [--det-size N|WxH] [--landmarks]\n"
            "                      [--timeout SEC] [--reconnect N] [--allow-playlists]\n"
            "  --source SRC      a camera (0, 1, ... or /dev/videoN), a video file, an\n"
            "                    rtsp:// http:// rtmp:// udp:// URL, or a folder of images\n"
            "  --display         show the annotated video in a window (q or Esc to stop)\n"
            "  --record FILE     write the annotated video (.mp4/.mkv: H.264, .avi: MPEG-4);\n"
            "                    an existing FILE is refused unless --force, and the source\n"
            "                    itself always is\n"
            "  --force           let --record replace an existing file\n"
            "  --events FILE|-   JSON lines: appear / label / leave per person, summaries,\n"
            "                    reconnects, end (schema: docs/events.md)\n"
            "  --snapshots DIR   one JPEG of each person seen without a mask\n"
            "  --blur            pixelate faces in every image output\n"
            "  --detector D      the face detector: yunet (default), res10, or a YuNet .onnx file\n"
            "  --det-size S      YuNet: the long side frames are scaled to (default 640, one\n"
            "                    number); res10: its input S x S or WxH (default 300x300)\n"
            "  --landmarks       draw YuNet's 5 face landmarks in the window and recording\n"
            "                    (events carry them either way)\n"
            "  --every N         files: process every Nth frame (live sources always take the\n"
            "                    newest frame and count the ones skipped)\n"
            "  --timeout SEC     live sources: seconds without an answer or without data before\n"
            "                    the stream counts as dropped (default 10)\n"
            "  --reconnect N     live sources: give up after N failed reconnection attempts in a\n"
            "                    row (default 0: never give up; -1: end at the first drop)\n"
            "  --allow-playlists a file may be a playlist or list of other files (HLS .m3u8,\n"
            "                    ffconcat, ...) that FFmpeg follows; refused by default, whatever\n"
            "                    the file's extension, since it makes facemask read other files\n"
            "If the events, the recording or a snapshot cannot be written (disk full, read-only),\n"
            "that output stops with one message (and a record_error / snapshot_error event), the\n"
            "run goes on, and the exit status is 1.\n"
            "Ctrl-C stops cleanly: the recording is finalised and the events end with a summary.\n");
}

int fm_cmd_watch(int argc, char **argv)
{
    fm_watch_opts o = fm_watch_default_opts();
    int force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            watch_usage(stdout);
            return 0;
        } else if (strcmp(a, "--source") == 0 && v) {
            o.source = v;
            i++;
        } else if (strcmp(a, "--detector") == 0 && v) {
            o.detector = v;
            i++;
        } else if (strcmp(a, "--landmarks") == 0) {
            o.landmarks = 1;
        } else if (strcmp(a, "--display") == 0) {
            o.display = 1;
        } else if (strcmp(a, "--record") == 0 && v) {
            o.record = v;
            i++;
        } else if (strcmp(a, "--events") == 0 && v) {
            o.events = v;
            i++;
        } else if (strcmp(a, "--snapshots") == 0 && v) {
            o.snapshots = v;
            i++;
        } else if (strcmp(a, "--blur") == 0) {
            o.blur = 1;
        } else if (strcmp(a, "--every") == 0 && v) {
            if (!fm_parse_int(a, v, 1, 100000, &o.every))
                return 2;
            i++;
        } else if (strcmp(a, "--conf") == 0 && v) {
            if (!fm_parse_float(a, v, 0.0f, 1.0f, &o.conf))
                return 2;
            i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            if (!fm_parse_int(a, v, 1, 64, &o.threads))
                return 2;
            i++;
        } else if (strcmp(a, "--summary-every") == 0 && v) {
            float s;
            if (!fm_parse_float(a, v, 0.1, 86400.0, &s))
                return 2;
            o.summary_every = s;
            i++;
        } else if (strcmp(a, "--max-frames") == 0 && v) {
            if (!fm_parse_int(a, v, 0, 2000000000, &o.max_frames))
                return 2;
            i++;
        } else if (strcmp(a, "--folder-fps") == 0 && v) {
            float f;
            if (!fm_parse_float(a, v, 0.1, 1000.0, &f))
                return 2;
            o.folder_fps = f;
            i++;
        } else if (strcmp(a, "--model-dir") == 0 && v) {
            o.model_dir = v;
            i++;
        } else if (strcmp(a, "--classifier") == 0 && v) {
            o.classifier_dir = v;
            i++;
        } else if (strcmp(a, "--no-classify") == 0) {
            o.classify = 0;
        } else if (strcmp(a, "--det-size") == 0 && v) {
            if (!fm_parse_det_size(a, v, &o.det_w, &o.det_h))
                return 2;
            i++;
        } else if (strcmp(a, "--timeout") == 0 && v) {
            float t;
            if (!fm_parse_float(a, v, 0.1f, 3600.0f, &t))
                return 2;
            o.timeout = t;
            i++;
        } else if (strcmp(a, "--reconnect") == 0 && v) {
            if (!fm_parse_int(a, v, -1, 1000000, &o.reconnect_attempts))
                return 2;
            i++;
        } else if (strcmp(a, "--allow-playlists") == 0) {
            o.allow_playlists = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            o.status = 0;
        } else if (strcmp(a, "--force") == 0) {
            force = 1;
        } else {
            fprintf(stderr, "facemask watch: unknown option or missing value: %s\n", a);
            watch_usage(stderr);
            return 2;
        }
    }
    if (!o.source) {
        fprintf(stderr, "facemask watch: --source is required (e.g. --source 0 for the first "
                        "camera, or a file or URL)\n");
        watch_usage(stderr);
        return 2;
    }
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
    return strcmp(s.end_reason, "error") == 0 || s.output_errors ? 1 : 0;
}
