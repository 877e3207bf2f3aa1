/* source.h - frames from a camera, a video file, a network stream or a folder of images.
 *
 * One handle reads any of these and hands out 8-bit BGR frames (fm_image) with a
 * timestamp. Cameras, files and network streams all go through the same FFmpeg code
 * path (libavformat demuxes, libavcodec decodes, libswscale converts to BGR24); only
 * the input format differs (V4L2 for cameras). A folder is read with fm_image_load.
 *
 *     fm_err err = {0};
 *     fm_source *src = fm_source_open("rtsp://127.0.0.1:8554/cam", NULL, &err);
 *     if (!src) { fprintf(stderr, "facemask: %s\n", err.msg); return 1; }
 *     fm_frame fr = {0};
 *     fm_status st;
 *     while ((st = fm_source_read(src, &fr, &err)) == FM_OK)
 *         process(fr.image, fr.pts);          // fr.image stays valid until the next read
 *     if (st != FM_SOURCE_END) fprintf(stderr, "facemask: %s\n", err.msg);
 *     fm_frame_clear(&fr);
 *     fm_source_close(src);
 *
 * Source specs (fm_source_parse_spec):
 *   "N" (digits only)       camera N: /dev/videoN through V4L2 ("video4linux2")
 *   "/dev/..."              a V4L2 device by path
 *   rtsp://, rtsps://       RTSP, over TCP (interleaved), with I/O timeouts
 *   http://, https://, rtmp://, rtmps://, udp://   network streams
 *   file://PATH             a file, as PATH
 *   an existing directory   its .jpg/.jpeg/.png images in byte-wise (strcmp) order of
 *                           name; zero-pad numbers ("f0009.png" < "f0010.png")
 *   anything else           a video file (any container FFmpeg reads)
 *
 * Live sources (cameras and network URLs) survive drops: when reading fails, times out
 * or the stream ends, fm_source_read closes the stream and reopens it, waiting
 * reconnect_initial seconds before the first attempt and doubling the wait up to
 * reconnect_max; it reports each step to opts.on_event and counts reconnections in
 * fm_source_stats. The first open fails fast by default, so a wrong URL or a missing camera
 * is reported at once; open_retries lets a live source that is not up yet (a camera plugged in
 * late, a server still starting) be tried again with the same backoff, each failed attempt
 * reported as FM_SOURCE_EVENT_OPEN_FAILED. Files and folders end with FM_SOURCE_END.
 *
 * A file from which not a single frame can be decoded (a valid header over broken or missing
 * data) is an error at the first read, not an empty video. A folder's images that cannot be
 * read (not an image, truncated, too large; a FIFO named like one) are skipped: each is
 * reported as FM_SOURCE_EVENT_SKIPPED and counted in stats.decode_errors.
 *
 * What FFmpeg may open (protocol_whitelist, per source kind; FFmpeg detects formats by content,
 * so a file named .avi may be an HLS playlist that names other files or URLs):
 *   files                file (plus pipe for a "pipe:" spec); no demuxer that opens other
 *                        files (hls, concat, dash, imf, ...) unless allow_playlists
 *   rtsp://, rtsps://    rtsp, rtsps, rtp, srtp, udp, tcp, tls
 *   http://, https://    http, https, tcp, tls, crypto, httpproxy (HLS over HTTP works)
 *   rtmp://, rtmps://    rtmp, rtmps, tcp, tls
 *   udp://               udp, rtp
 *   cameras              file (V4L2 opens the device itself)
 * A nested open outside the list (a playlist pointing from http:// to file:, or from a file
 * to http://) fails as "Protocol not on whitelist".
 *
 * A packet the decoder rejects (corrupt data) is counted in stats.decode_errors and
 * skipped; it is never fatal. Frames the decoder concealed are delivered and counted
 * in stats.corrupt_frames.
 *
 * Thread safety: one handle belongs to one thread at a time; different handles are
 * independent.
 */
#ifndef FM_VIDEO_SOURCE_H
#define FM_VIDEO_SOURCE_H

#include <stddef.h>

#include "core/err.h"
#include "io/image.h"

/* fm_source_read's result at the end of a file or folder (or when opts.should_stop asked
 * to stop): not an error, and no frame was produced. It lies outside err.h's codes, so
 * fm_status_str does not name it; compare with ==. */
#define FM_SOURCE_END FM_END

typedef struct fm_source fm_source;

typedef enum {
    FM_SOURCE_FILE = 0, /* a video file */
    FM_SOURCE_DEVICE,   /* a V4L2 camera (live) */
    FM_SOURCE_NETWORK,  /* an rtsp/http/rtmp/udp URL (live) */
    FM_SOURCE_FOLDER    /* a directory of images */
} fm_source_kind;

typedef enum {
    FM_SOURCE_EVENT_DROPPED = 0,  /* a live stream failed or ended; reconnecting */
    FM_SOURCE_EVENT_RETRY_FAILED, /* one reopen attempt failed; waiting `wait` s for the next */
    FM_SOURCE_EVENT_RECONNECTED,  /* the stream is back; frames resume */
    FM_SOURCE_EVENT_GAVE_UP,      /* reconnect_attempts reached; fm_source_read returns an error */
    FM_SOURCE_EVENT_OPEN_FAILED,  /* fm_source_open: an attempt failed and open_retries allows
                                   * another one after `wait` s (attempt: 1, 2, ...) */
    FM_SOURCE_EVENT_SKIPPED       /* a folder: one entry could not be read and is skipped */
} fm_source_event_kind;
#define FM_SOURCE_EVENT_KINDS 6

typedef struct {
    fm_source_event_kind kind;
    int attempt;          /* 1-based reopen attempt within this outage; 0 for DROPPED */
    double wait;          /* seconds: DROPPED/RETRY_FAILED: wait before the next attempt */
    long long reconnects; /* total successful reconnections so far (after this event) */
    const char *message;  /* one line: the reason; valid only during the callback */
} fm_source_event;

typedef struct {
    /* Folder of images: frames per second used for pts and fm_source_fps. 0 = 10. */
    double folder_fps;
    /* Live sources: seconds before the first reopen attempt (0 = 0.5), doubling after
     * each failed attempt up to reconnect_max (0 = 8). */
    double reconnect_initial, reconnect_max;
    /* Live sources: failed reopen attempts in a row before fm_source_read gives up with an
     * error. 0 = unlimited; negative = never reconnect (a drop is reported at once: an
     * error, or FM_SOURCE_END if the stream ended cleanly). */
    int reconnect_attempts;
    /* Live sources: attempts to open again when the first open fails, with the same backoff
     * (reconnect_initial doubling up to reconnect_max). 0 = none (fail at once); negative = no
     * limit (until should_stop). Files and folders are never retried. */
    int open_retries;
    /* Seconds allowed to open a stream (connect, handshake, probe). 0 = 10. */
    double open_timeout;
    /* Live sources: seconds without a packet before the stream counts as dropped. 0 = 10.
     * Files are not timed. */
    double read_timeout;
    /* Cameras: requested capture size in pixels and rate in frames/s (0 = device default).
     * Ignored for other sources. */
    int camera_width, camera_height;
    double camera_fps;
    /* Cameras: requested pixel format as FFmpeg names it, e.g. "mjpeg" (needed by many USB
     * cameras for 720p at 30 frames/s) or "yuyv422"; NULL = device default. */
    const char *camera_pixel_format;
    /* Largest frame accepted, in pixels (w * h). 0 = FM_IMAGE_MAX_PIXELS_DEFAULT. */
    size_t max_pixels;
    /* Files: 1 lets FFmpeg follow a playlist or a list of other files (the hls, concat and
     * similar demuxers, still over the file protocol only). 0 (the default): a file that is
     * one of them is refused, whatever its extension. See "What FFmpeg may open" above. */
    int allow_playlists;
    /* Called on each reconnection step (may be NULL). Runs on the reading thread. */
    void (*on_event)(void *user, const fm_source_event *ev);
    /* Polled while waiting (opening, reading, between reopen attempts, at least every
     * 50 ms): non-zero aborts the wait and fm_source_read returns FM_SOURCE_END. May be NULL. */
    int (*should_stop)(void *user);
    void *user; /* passed to on_event and should_stop */
} fm_source_opts;

/* Opts with every field at its default (same as a zeroed struct). */
fm_source_opts fm_source_opts_default(void);

/* A decoded frame. `image` belongs to the frame (to the caller): fm_source_read writes into
 * it in place when it has the right size, otherwise frees it and stores a new image. To keep
 * a frame's image, take the pointer and set fr.image = NULL before the next read; free it
 * with fm_image_free. fm_frame_clear frees the image. Start with a zeroed fm_frame. */
typedef struct {
    fm_image *image; /* BGR, w x h of this frame */
    double pts;      /* seconds since the first frame (0 for it); strictly increasing, and
                        continuing (not restarting) across reconnections */
    long long index; /* 0-based number of this frame among the frames this source returned */
} fm_frame;

void fm_frame_clear(fm_frame *fr);

/* What a spec means, without opening anything (a directory is recognised by stat). */
typedef struct {
    fm_source_kind kind;
    char url[1024];     /* passed to avformat_open_input: "/dev/video0", "rtsp://...", a path */
    const char *format; /* libavformat input format name ("video4linux2") or NULL to probe */
    int camera_index;   /* N for a spec "N", else -1 */
} fm_source_spec;

/* Parses a spec (see the list above). FM_ERR_ARG for an empty spec or an out-of-range camera
 * number, FM_ERR_UNSUPPORTED for an unknown URL scheme, FM_ERR_LIMIT for a too long spec. */
fm_status fm_source_parse_spec(const char *spec, fm_source_spec *out, fm_err *err);

/* Opens a source; opts may be NULL for defaults. NULL with a one-line message on failure,
 * e.g. "camera 0 (/dev/video0): no such device — is a camera connected?" or
 * "clip.mp4: cannot open: No such file or directory". For streams, the first frame's size
 * and the rate are known after this returns. */
fm_source *fm_source_open(const char *spec, const fm_source_opts *opts, fm_err *err);

/* Reads the next frame into *out. FM_OK: a frame; FM_SOURCE_END: end of a file or folder
 * (or should_stop); any other status: an error with a message (a file that cannot be read
 * on, a live source that ran out of reconnect attempts). May block: on a live source for up
 * to read_timeout, plus the reconnection waits. After FM_SOURCE_END or an error, further
 * calls return the same result. */
fm_status fm_source_read(fm_source *s, fm_frame *out, fm_err *err);

/* Closes the stream and frees the handle (NULL is fine). Frames already read stay valid. */
void fm_source_close(fm_source *s);

fm_source_kind fm_source_get_kind(const fm_source *s);
/* 1 for cameras and network streams (they reconnect), 0 for files and folders. */
int fm_source_is_live(const fm_source *s);
/* Nominal frame rate in frames/s (the stream's average rate, else its base rate, else 0 when
 * unknown; folder_fps for folders). */
double fm_source_fps(const fm_source *s);
/* Frame size in pixels as of the last frame read (or the stream's declared size before). */
int fm_source_width(const fm_source *s);
int fm_source_height(const fm_source *s);
/* The decoder's name ("h264", "mpeg4", "mjpeg", "rawvideo"; "image" for folders). */
const char *fm_source_codec(const fm_source *s);

typedef struct {
    long long frames;         /* frames returned */
    long long decode_errors;  /* packets (or folder images) that failed to decode; skipped */
    long long corrupt_frames; /* frames delivered with decoder error concealment */
    long long read_errors;    /* demuxer errors skipped in files (damaged container data) */
    long long drops;          /* live: times the stream dropped */
    long long reconnects;     /* live: successful reconnections */
} fm_source_stats;

void fm_source_get_stats(const fm_source *s, fm_source_stats *out);

/* FFmpeg's own log output is process-wide; this sets its level (process-wide too):
 * 0 quiet, 1 errors only, 2 warnings, 3 FFmpeg's default (info). The first call also routes
 * FFmpeg's messages through facemask's log (core/log.h): one line each, "facemask: ffmpeg:
 * <component>: MSG", one level below FFmpeg's own (so hidden by fm_log_set_level(FM_LOG_ERROR),
 * a command's --quiet). */
void fm_video_set_log_level(int level);

#endif
