/* source.c - frames from cameras, files and network streams (FFmpeg) or folders of images.
 *
 * An FFmpeg "session" is one open stream: format context, decoder, packet and frame.
 * Files, cameras and URLs all use the same session code; a camera just names the
 * "video4linux2" input format. Live sources close and reopen their session when it
 * fails (reconnect()). Timeouts come from an AVIOInterruptCB that compares a deadline
 * (set before each blocking call) with the monotonic clock, on top of the protocols'
 * own socket timeouts. */
#include "video/source.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/version.h>
#include <libavutil/macros.h>
#include <dlfcn.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "core/log.h"
#include "core/text.h"
#include "core/walk.h"

#define FM_SRC_MAX_READ_ERRORS 64 /* demuxer errors in a row before a file counts as unreadable */

struct fm_source {
    fm_source_spec spec;
    fm_source_opts o;
    char camera_pixel_format[32]; /* copy of o.camera_pixel_format (o's pointer is cleared) */
    char name[1100]; /* how messages name the source (credentials masked) */

    /* FFmpeg session (NULL fmt: closed) */
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    int vstream;
    AVRational tb;
    int draining; /* sent the decoder its end-of-stream */
    int read_errors_in_row;
    double deadline; /* monotonic seconds; 0 = none */
    int timed_out, stop_requested;

    /* BGR conversion */
    struct SwsContext *sws;
    int sws_w, sws_h, sws_fmt, sws_full, sws_cs;

    /* timestamps */
    int have_first;
    int64_t first_ts;
    double pts_offset, last_pts;

    /* folder */
    char **files;
    size_t nfiles, next_file;
    fm_image *pending;

    /* description */
    double fps;
    int w, h;
    char codec[32];

    int finished;
    fm_status final_status;
    char final_msg[sizeof(((fm_err *)0)->msg)];
    fm_source_stats st;
};

/* ---------------------------------------------------------------- helpers */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *av_err(int r, char *buf, size_t n)
{
    if (av_strerror(r, buf, n) < 0)
        snprintf(buf, n, "FFmpeg error %d", r);
    return buf;
}

/* libavdevice (the V4L2 input) is loaded only when a camera is opened: linking it pulls in
 * some 80 more shared libraries (SDL, PulseAudio, JACK, ...) and ~16 MB of memory that image
 * commands and file or stream sources never use. The soname comes from the headers we were
 * built against. */
#define FM_AVDEVICE_SONAME "libavdevice.so." AV_STRINGIFY(LIBAVDEVICE_VERSION_MAJOR)
static char g_devices_error[256];

static void register_devices(void)
{
    void *lib = dlopen(FM_AVDEVICE_SONAME, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
        const char *e = dlerror();
        snprintf(g_devices_error, sizeof g_devices_error, "%s", e ? e : FM_AVDEVICE_SONAME);
        return;
    }
    void (*reg)(void);
    *(void **)&reg = dlsym(lib, "avdevice_register_all");
    if (!reg) {
        snprintf(g_devices_error, sizeof g_devices_error, "%s has no avdevice_register_all",
                 FM_AVDEVICE_SONAME);
        return;
    }
    reg();
}

static pthread_once_t g_devices_once = PTHREAD_ONCE_INIT;

/* FFmpeg's messages go through facemask's log (core/log.h): one line each, "facemask: ffmpeg:
 * h264: MSG". FFmpeg may send a line in pieces; they are collected per thread until its
 * newline. */
static _Thread_local char t_av_line[1024];
static _Thread_local size_t t_av_len;
static _Thread_local int t_av_level;
static _Thread_local char t_av_origin[96];

static fm_log_level av_to_fm_level(int level)
{
    return level <= AV_LOG_ERROR ? FM_LOG_ERROR
           : level <= AV_LOG_WARNING ? FM_LOG_WARN
           : level <= AV_LOG_VERBOSE ? FM_LOG_INFO
                                     : FM_LOG_DEBUG;
}

static void av_log_route(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > av_log_get_level())
        return;
    if (t_av_len == 0) {
        const AVClass *c = avcl ? *(const AVClass *const *)avcl : NULL;
        const char *item = c && c->item_name ? c->item_name(avcl) : NULL;
        t_av_level = level;
        if (item && *item)
            snprintf(t_av_origin, sizeof t_av_origin, "ffmpeg: %s", item);
        else
            snprintf(t_av_origin, sizeof t_av_origin, "ffmpeg");
    }
    size_t room = sizeof t_av_line - t_av_len;
    int n = vsnprintf(t_av_line + t_av_len, room, fmt, vl);
    if (n > 0)
        t_av_len += (size_t)n < room ? (size_t)n : room - 1;
    if (t_av_len > 0 && (t_av_line[t_av_len - 1] == '\n' || t_av_len >= sizeof t_av_line - 1)) {
        fm_log_foreign(av_to_fm_level(t_av_level), t_av_origin, t_av_line);
        t_av_len = 0;
    }
}

static pthread_once_t g_av_log_once = PTHREAD_ONCE_INIT;

static void av_log_install(void)
{
    av_log_set_callback(av_log_route);
}

void fm_video_set_log_level(int level)
{
    static const int map[] = {AV_LOG_QUIET, AV_LOG_ERROR, AV_LOG_WARNING, AV_LOG_INFO};
    pthread_once(&g_av_log_once, av_log_install);
    av_log_set_level(map[level < 0 ? 0 : level > 3 ? 3 : level]);
}

fm_source_opts fm_source_opts_default(void)
{
    fm_source_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

void fm_frame_clear(fm_frame *fr)
{
    if (!fr)
        return;
    fm_image_free(fr->image);
    fr->image = NULL;
}

static int is_live(const fm_source *s)
{
    return s->spec.kind == FM_SOURCE_DEVICE || s->spec.kind == FM_SOURCE_NETWORK;
}

static double opt_or(double v, double def)
{
    return (v > 0 && isfinite(v)) ? v : def;
}

/* ---------------------------------------------------------------- specs */

static const char *const g_schemes[] = {"rtsp", "rtsps", "http", "https", "rtmp", "rtmps", "udp"};

fm_status fm_source_parse_spec(const char *spec, fm_source_spec *out, fm_err *err)
{
    memset(out, 0, sizeof *out);
    out->camera_index = -1;
    if (!spec || !*spec)
        return fm_err_set(err, FM_ERR_ARG,
                          "empty video source (expected a camera number, a "
                          "/dev/video path, a URL, a folder or a file)");
    size_t len = strlen(spec);
    if (len >= sizeof out->url)
        return fm_err_set(err, FM_ERR_LIMIT, "video source is %zu characters long (at most %zu)",
                          len, sizeof out->url - 1);

    size_t digits = strspn(spec, "0123456789");
    if (digits == len) {
        if (len > 4 || atoi(spec) > 4095)
            return fm_err_set(err, FM_ERR_ARG, "camera number %s is out of range (0..4095)", spec);
        out->kind = FM_SOURCE_DEVICE;
        out->camera_index = atoi(spec);
        out->format = "video4linux2";
        snprintf(out->url, sizeof out->url, "/dev/video%d", out->camera_index);
        return FM_OK;
    }
    if (strncmp(spec, "/dev/", 5) == 0) {
        out->kind = FM_SOURCE_DEVICE;
        out->format = "video4linux2";
        memcpy(out->url, spec, len + 1);
        return FM_OK;
    }
    const char *sep = strstr(spec, "://");
    size_t slen = sep ? (size_t)(sep - spec) : 0;
    if (sep && slen > 0 &&
        strspn(spec, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") >= slen) {
        if (slen == 4 && strncasecmp(spec, "file", 4) == 0) {
            memcpy(out->url, sep + 3, len - 7 + 1); /* a local path: checked below */
        } else {
            for (size_t i = 0; i < sizeof g_schemes / sizeof g_schemes[0]; i++) {
                if (strlen(g_schemes[i]) == slen && strncasecmp(spec, g_schemes[i], slen) == 0) {
                    out->kind = FM_SOURCE_NETWORK;
                    memcpy(out->url, spec, len + 1);
                    return FM_OK;
                }
            }
            return fm_err_set(err, FM_ERR_UNSUPPORTED,
                              "unsupported URL scheme '%.*s' in '%.64s' (expected rtsp, rtsps, "
                              "http, https, rtmp, rtmps, udp or file)",
                              (int)(slen > 32 ? 32 : slen), spec, spec);
        }
    } else {
        memcpy(out->url, spec, len + 1);
    }
    struct stat sb;
    out->kind =
        (stat(out->url, &sb) == 0 && S_ISDIR(sb.st_mode)) ? FM_SOURCE_FOLDER : FM_SOURCE_FILE;
    return FM_OK;
}

/* The source's name in messages; user:password in a URL is masked. */
static void make_name(fm_source *s)
{
    const fm_source_spec *sp = &s->spec;
    if (sp->camera_index >= 0) {
        snprintf(s->name, sizeof s->name, "camera %d (%s)", sp->camera_index, sp->url);
        return;
    }
    if (sp->kind == FM_SOURCE_DEVICE) {
        snprintf(s->name, sizeof s->name, "camera %s", sp->url);
        return;
    }
    if (sp->kind == FM_SOURCE_FOLDER) {
        snprintf(s->name, sizeof s->name, "folder %s", sp->url);
        return;
    }
    const char *sep = strstr(sp->url, "://");
    if (sp->kind == FM_SOURCE_NETWORK && sep) {
        const char *host = sep + 3;
        const char *end = host + strcspn(host, "/?#");
        const char *at = NULL;
        for (const char *p = host; p < end; p++)
            if (*p == '@')
                at = p;
        if (at) {
            snprintf(s->name, sizeof s->name, "%.*s***%s", (int)(host - sp->url), sp->url, at);
            return;
        }
    }
    snprintf(s->name, sizeof s->name, "%s", sp->url);
}

/* ---------------------------------------------------------------- FFmpeg session */

static int interrupt_cb(void *opaque)
{
    fm_source *s = opaque;
    if (s->o.should_stop && s->o.should_stop(s->o.user)) {
        s->stop_requested = 1;
        return 1;
    }
    if (s->deadline > 0 && mono_now() > s->deadline) {
        s->timed_out = 1;
        return 1;
    }
    return 0;
}

static void session_close(fm_source *s)
{
    avcodec_free_context(&s->dec);
    avformat_close_input(&s->fmt);
    av_packet_free(&s->pkt);
    av_frame_free(&s->frame);
    s->draining = 0;
    s->read_errors_in_row = 0;
    s->deadline = 0;
}

static fm_status open_error(fm_source *s, int r, fm_err *err)
{
    char eb[128];
    if (s->stop_requested)
        return fm_err_set(err, FM_SOURCE_END, "%s: stopped while opening", s->name);
    if (s->timed_out)
        return fm_err_set(err, FM_ERR_IO, "%s: no answer within %g s (open timeout)", s->name,
                          opt_or(s->o.open_timeout, 10));
    if (s->spec.kind == FM_SOURCE_DEVICE) {
        switch (AVUNERROR(r)) {
        case ENOENT:
        case ENODEV:
        case ENXIO:
            return fm_err_set(err, FM_ERR_IO, "%s: no such device — is a camera connected?",
                              s->name);
        case EACCES:
        case EPERM:
            return fm_err_set(err, FM_ERR_IO,
                              "%s: permission denied — is the user in the 'video' group?", s->name);
        case EBUSY:
            return fm_err_set(err, FM_ERR_IO, "%s: device busy — is another program using it?",
                              s->name);
        case ENOTTY:
        case EINVAL:
            return fm_err_set(err, FM_ERR_FORMAT, "%s: not a V4L2 video capture device (%s)",
                              s->name, av_err(r, eb, sizeof eb));
        default: break;
        }
    }
    if (s->spec.kind == FM_SOURCE_FILE) {
        struct stat sb;
        if (stat(s->spec.url, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0)
            return fm_err_set(err, FM_ERR_FORMAT, "%s: cannot open: the file is empty (0 bytes)",
                              s->name);
        if (r == AVERROR_INVALIDDATA)
            return fm_err_set(err, FM_ERR_FORMAT,
                              "%s: cannot open: not a video FFmpeg can read (%s; expected a "
                              "video file, a camera, a URL or a folder of images)",
                              s->name, av_err(r, eb, sizeof eb));
    }
    return fm_err_set(err, FM_ERR_IO, "%s: cannot open: %s", s->name, av_err(r, eb, sizeof eb));
}

static int is_rtsp(const char *url)
{
    return strncasecmp(url, "rtsp://", 7) == 0 || strncasecmp(url, "rtsps://", 8) == 0;
}

/* The protocols FFmpeg may use for this source, nested opens included (source.h). */
static const char *protocol_whitelist(const fm_source *s)
{
    const char *u = s->spec.url;
    if (s->spec.kind == FM_SOURCE_NETWORK) {
        if (is_rtsp(u))
            return "rtsp,rtsps,rtp,srtp,udp,tcp,tls";
        if (strncasecmp(u, "http", 4) == 0)
            return "http,https,tcp,tls,crypto,httpproxy";
        if (strncasecmp(u, "rtmp", 4) == 0)
            return "rtmp,rtmps,tcp,tls";
        return "udp,rtp";
    }
    if (s->spec.kind == FM_SOURCE_FILE && strncmp(u, "pipe:", 5) == 0)
        return "pipe";
    return "file";
}

/* Demuxers that open other files or URLs named inside the file: a local file may be one of
 * them only when the user asks (allow_playlists). */
static const char *const g_list_demuxers[] = {"hls", "concat", "dash", "imf", "sdp", "rtsp",
                                              "webm_dash_manifest", "avisynth", "vapoursynth"};

static int is_list_demuxer(const char *name)
{
    for (size_t i = 0; i < sizeof g_list_demuxers / sizeof *g_list_demuxers; i++)
        if (av_match_name(g_list_demuxers[i], name))
            return 1;
    return 0;
}

/* Every demuxer of this FFmpeg but the list demuxers, comma-separated, for FFmpeg's
 * format_whitelist (so it refuses them even where our own probe below is bypassed). Built once. */
static char *g_file_formats;
static pthread_once_t g_file_formats_once = PTHREAD_ONCE_INIT;

static void build_file_formats(void)
{
    fm_text list = {0};
    void *it = NULL;
    const AVInputFormat *f;
    while ((f = av_demuxer_iterate(&it)) != NULL) {
        if (is_list_demuxer(f->name))
            continue;
        if (list.len)
            fm_text_put(&list, ",", 1);
        fm_text_str(&list, f->name);
    }
    if (list.oom) {
        fm_text_free(&list); /* no format_whitelist then; the probe below still refuses them */
        return;
    }
    g_file_formats = list.p;
}

/* A local file that FFmpeg would read as a playlist or a list of files: refused with a message
 * that names the format, unless allow_playlists. FM_OK when it is not one (or cannot be read:
 * the real open then reports that). */
static fm_status check_not_a_list(fm_source *s, fm_err *err)
{
    AVIOContext *pb = NULL;
    AVDictionary *d = NULL;
    av_dict_set(&d, "protocol_whitelist", protocol_whitelist(s), 0);
    AVIOInterruptCB cb = {interrupt_cb, s};
    int r = avio_open2(&pb, s->spec.url, AVIO_FLAG_READ, &cb, &d);
    av_dict_free(&d);
    if (r < 0)
        return FM_OK;
    const AVInputFormat *f = NULL;
    r = av_probe_input_buffer2(pb, &f, s->spec.url, NULL, 0, 0);
    avio_closep(&pb);
    if (r >= 0 && f && is_list_demuxer(f->name))
        return fm_err_set(err, FM_ERR_UNSUPPORTED,
                          "%s: is a playlist or list of other files (FFmpeg format '%s'), which "
                          "would make facemask read the files or URLs it names; refused (pass "
                          "--allow-playlists to follow it)",
                          s->name, f->name);
    return FM_OK;
}

static fm_status session_open(fm_source *s, fm_err *err)
{
    char eb[128];
    const AVInputFormat *ifmt = NULL;
    if (s->spec.format) {
        pthread_once(&g_devices_once, register_devices);
        ifmt = av_find_input_format(s->spec.format);
        if (!ifmt && g_devices_error[0])
            return fm_err_set(err, FM_ERR_UNSUPPORTED,
                              "%s: cannot load FFmpeg's device library: %s (install %s's package, "
                              "libavdevice59)",
                              s->name, g_devices_error, FM_AVDEVICE_SONAME);
        if (!ifmt)
            return fm_err_set(err, FM_ERR_UNSUPPORTED,
                              "%s: this FFmpeg has no '%s' input (libavdevice built without it)",
                              s->name, s->spec.format);
    }
    s->fmt = avformat_alloc_context();
    s->pkt = av_packet_alloc();
    s->frame = av_frame_alloc();
    if (!s->fmt || !s->pkt || !s->frame) {
        session_close(s);
        return fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory opening the stream", s->name);
    }
    s->fmt->interrupt_callback.callback = interrupt_cb;
    s->fmt->interrupt_callback.opaque = s;

    AVDictionary *d = NULL;
    av_dict_set(&d, "protocol_whitelist", protocol_whitelist(s), 0);
    if (s->spec.kind == FM_SOURCE_FILE && !s->o.allow_playlists) {
        /* A pipe cannot be probed twice (the probe would eat its first bytes): there the
         * format_whitelist below is the only guard, and it suffices. */
        fm_status cst = strncmp(s->spec.url, "pipe:", 5) == 0 ? FM_OK : check_not_a_list(s, err);
        if (cst != FM_OK) {
            av_dict_free(&d);
            session_close(s);
            return cst;
        }
        pthread_once(&g_file_formats_once, build_file_formats);
        if (g_file_formats)
            av_dict_set(&d, "format_whitelist", g_file_formats, 0);
    }
    int64_t io_us = (int64_t)(opt_or(s->o.read_timeout, 10) * 1e6);
    if (s->spec.kind == FM_SOURCE_NETWORK) {
        if (is_rtsp(s->spec.url)) {
            av_dict_set(&d, "rtsp_transport", "tcp", 0);
            av_dict_set_int(&d, "timeout", io_us, 0); /* socket I/O timeout, microseconds */
        } else {
            av_dict_set_int(&d, "rw_timeout", io_us, 0);
        }
    } else if (s->spec.kind == FM_SOURCE_DEVICE) {
        char v[64];
        if (s->o.camera_width > 0 && s->o.camera_height > 0) {
            snprintf(v, sizeof v, "%dx%d", s->o.camera_width, s->o.camera_height);
            av_dict_set(&d, "video_size", v, 0);
        }
        if (s->o.camera_fps > 0 && isfinite(s->o.camera_fps)) {
            snprintf(v, sizeof v, "%g", s->o.camera_fps);
            av_dict_set(&d, "framerate", v, 0);
        }
        if (s->camera_pixel_format[0])
            av_dict_set(&d, "input_format", s->camera_pixel_format, 0);
    }
    s->timed_out = s->stop_requested = 0;
    s->deadline = mono_now() + opt_or(s->o.open_timeout, 10);
    int r = avformat_open_input(&s->fmt, s->spec.url, ifmt, &d); /* frees fmt on failure */
    av_dict_free(&d);
    if (r < 0) {
        fm_status st = open_error(s, r, err);
        session_close(s);
        return st;
    }
    r = avformat_find_stream_info(s->fmt, NULL);
    if (r < 0) {
        fm_status st =
            s->timed_out || s->stop_requested
                ? open_error(s, r, err)
                : fm_err_set(err, FM_ERR_FORMAT, "%s: cannot read stream information: %s", s->name,
                             av_err(r, eb, sizeof eb));
        session_close(s);
        return st;
    }
    const AVCodec *codec = NULL;
    r = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (r < 0) {
        fm_status st;
        if (r == AVERROR_DECODER_NOT_FOUND) {
            int vs = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
            st = fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: no decoder for video codec '%s'", s->name,
                            vs >= 0 ? avcodec_get_name(s->fmt->streams[vs]->codecpar->codec_id)
                                    : "?");
        } else {
            st = fm_err_set(err, FM_ERR_FORMAT, "%s: no video stream (format '%s')", s->name,
                            s->fmt->iformat ? s->fmt->iformat->name : "?");
        }
        session_close(s);
        return st;
    }
    s->vstream = r;
    for (unsigned i = 0; i < s->fmt->nb_streams; i++)
        if ((int)i != s->vstream)
            s->fmt->streams[i]->discard = AVDISCARD_ALL;
    AVStream *vst = s->fmt->streams[s->vstream];
    s->tb = vst->time_base;

    s->dec = avcodec_alloc_context3(codec);
    if (!s->dec) {
        session_close(s);
        return fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory for the decoder", s->name);
    }
    r = avcodec_parameters_to_context(s->dec, vst->codecpar);
    if (r >= 0) {
        s->dec->pkt_timebase = vst->time_base;
        s->dec->thread_count = 0; /* FFmpeg picks */
        /* Frame threads add a frame of delay per thread: live sources use slices only. */
        s->dec->thread_type = is_live(s) ? FF_THREAD_SLICE : FF_THREAD_FRAME | FF_THREAD_SLICE;
        r = avcodec_open2(s->dec, codec, NULL);
    }
    if (r < 0) {
        session_close(s);
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: cannot open the %s decoder: %s", s->name,
                          codec->name, av_err(r, eb, sizeof eb));
    }
    s->deadline = 0;

    AVRational fr = vst->avg_frame_rate;
    if (fr.num <= 0 || fr.den <= 0)
        fr = vst->r_frame_rate;
    double fps = (fr.num > 0 && fr.den > 0) ? av_q2d(fr) : 0;
    s->fps = (fps > 0 && fps < 1000) ? fps : 0;
    if (s->dec->width > 0 && s->dec->height > 0) {
        s->w = s->dec->width;
        s->h = s->dec->height;
    }
    snprintf(s->codec, sizeof s->codec, "%s", codec->name);
    s->have_first = 0;
    return FM_OK;
}

/* ---------------------------------------------------------------- conversion */

static double frame_step(const fm_source *s)
{
    return s->fps > 0 ? 1.0 / s->fps : 0.04;
}

/* Swscale wants the plain YUV format plus a full-range flag, not the deprecated yuvj ones. */
static enum AVPixelFormat plain_format(enum AVPixelFormat f, int *full)
{
    switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full = 1; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full = 1; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full = 1; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full = 1; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full = 1; return AV_PIX_FMT_YUV411P;
    default: return f;
    }
}

static fm_status to_bgr(fm_source *s, const AVFrame *f, fm_frame *out, fm_err *err)
{
    int w = f->width, h = f->height;
    size_t max_px = s->o.max_pixels ? s->o.max_pixels : FM_IMAGE_MAX_PIXELS_DEFAULT;
    if (w <= 0 || h <= 0 || (size_t)w > max_px / (size_t)h)
        return fm_err_set(err, FM_ERR_LIMIT, "%s: frame %lld is %dx%d (at most %zu pixels)",
                          s->name, s->st.frames, w, h, max_px);
    int full = f->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat pf = plain_format((enum AVPixelFormat)f->format, &full);
    int cs = (f->colorspace == AVCOL_SPC_BT709) ? SWS_CS_ITU709 : SWS_CS_DEFAULT;
    if (!s->sws || s->sws_w != w || s->sws_h != h || s->sws_fmt != (int)pf || s->sws_full != full ||
        s->sws_cs != cs) {
        sws_freeContext(s->sws);
        s->sws = sws_getContext(w, h, pf, w, h, AV_PIX_FMT_BGR24, SWS_BICUBIC, NULL, NULL, NULL);
        if (!s->sws)
            return fm_err_set(err, FM_ERR_UNSUPPORTED,
                              "%s: cannot convert pixel format '%s' to BGR", s->name,
                              av_get_pix_fmt_name(pf) ? av_get_pix_fmt_name(pf) : "?");
        int *inv, src_range, *tab, dst_range, bri, con, sat;
        if (sws_getColorspaceDetails(s->sws, &inv, &src_range, &tab, &dst_range, &bri, &con,
                                     &sat) >= 0)
            sws_setColorspaceDetails(s->sws, sws_getCoefficients(cs), full, tab, dst_range, bri,
                                     con, sat);
        s->sws_w = w, s->sws_h = h, s->sws_fmt = (int)pf, s->sws_full = full, s->sws_cs = cs;
    }
    if (out->image && (out->image->w != w || out->image->h != h)) {
        fm_image_free(out->image);
        out->image = NULL;
    }
    if (!out->image) {
        out->image = fm_image_new(w, h, err);
        if (!out->image)
            return err ? err->status : FM_ERR_NOMEM;
    }
    uint8_t *dst[4] = {out->image->data, NULL, NULL, NULL};
    int dst_stride[4] = {out->image->stride, 0, 0, 0};
    sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, h, dst, dst_stride);
    s->w = w;
    s->h = h;

    /* pts: seconds since the first frame, continuing across reconnections, strictly rising. */
    int64_t ts = f->best_effort_timestamp;
    double pts;
    if (ts == AV_NOPTS_VALUE || s->tb.num <= 0 || s->tb.den <= 0) {
        pts = s->st.frames ? s->last_pts + frame_step(s) : 0;
    } else {
        if (!s->have_first) {
            s->have_first = 1;
            s->first_ts = ts;
        }
        pts = s->pts_offset + (double)(ts - s->first_ts) * av_q2d(s->tb);
    }
    if (s->st.frames && !(pts > s->last_pts))
        pts = s->last_pts + frame_step(s);
    s->last_pts = pts;
    out->pts = pts;
    out->index = s->st.frames++;
    return FM_OK;
}

/* ---------------------------------------------------------------- reading */

typedef enum { GOT_FRAME, GOT_END, GOT_DROP, GOT_ERROR } step_result;

/* Decodes until a frame comes out. GOT_DROP (live only) leaves a reason in err. */
static step_result decode_next(fm_source *s, fm_frame *out, fm_status *st, fm_err *err)
{
    char eb[128];
    int drain_errors = 0;
    for (;;) {
        int r = avcodec_receive_frame(s->dec, s->frame);
        if (r == 0) {
            if (s->frame->decode_error_flags || (s->frame->flags & AV_FRAME_FLAG_CORRUPT))
                s->st.corrupt_frames++;
            *st = to_bgr(s, s->frame, out, err);
            av_frame_unref(s->frame);
            return *st == FM_OK ? GOT_FRAME : GOT_ERROR;
        }
        if (r == AVERROR_EOF) {
            fm_err_set(err, FM_ERR_IO, "%s: the stream ended", s->name);
            return GOT_END;
        }
        if (r != AVERROR(EAGAIN)) {
            /* A decoding error surfaced on output: count it; then feed the next packet, or
             * when draining, take the next buffered frame (a bounded number of times). */
            s->st.decode_errors++;
            if (s->draining && ++drain_errors < FM_SRC_MAX_READ_ERRORS)
                continue;
        }
        if (s->draining) { /* cannot happen with a conforming decoder; do not spin */
            fm_err_set(err, FM_ERR_IO, "%s: the stream ended", s->name);
            return GOT_END;
        }

        s->timed_out = s->stop_requested = 0;
        s->deadline = is_live(s) ? mono_now() + opt_or(s->o.read_timeout, 10) : 0;
        r = av_read_frame(s->fmt, s->pkt);
        s->deadline = 0;
        if (s->stop_requested) {
            *st = FM_SOURCE_END;
            return GOT_ERROR;
        }
        if (r == AVERROR_EOF || (r < 0 && !is_live(s) && s->fmt->pb && avio_feof(s->fmt->pb))) {
            avcodec_send_packet(s->dec, NULL); /* drain the frames still inside the decoder */
            s->draining = 1;
            continue;
        }
        if (r < 0) {
            if (is_live(s)) {
                if (s->timed_out)
                    fm_err_set(err, FM_ERR_IO, "%s: no data for %g s (read timeout)", s->name,
                               opt_or(s->o.read_timeout, 10));
                else
                    fm_err_set(err, FM_ERR_IO, "%s: read failed: %s", s->name,
                               av_err(r, eb, sizeof eb));
                return GOT_DROP;
            }
            s->st.read_errors++;
            if (++s->read_errors_in_row >= FM_SRC_MAX_READ_ERRORS) {
                int64_t pos = s->fmt->pb ? avio_tell(s->fmt->pb) : -1;
                *st = fm_err_set(
                    err, FM_ERR_IO, "%s: cannot read on at byte %lld after %d errors in a row: %s",
                    s->name, (long long)pos, FM_SRC_MAX_READ_ERRORS, av_err(r, eb, sizeof eb));
                return GOT_ERROR;
            }
            continue;
        }
        s->read_errors_in_row = 0;
        if (s->pkt->stream_index != s->vstream) {
            av_packet_unref(s->pkt);
            continue;
        }
        r = avcodec_send_packet(s->dec, s->pkt);
        av_packet_unref(s->pkt);
        if (r < 0 && r != AVERROR(EAGAIN))
            s->st.decode_errors++; /* a corrupt packet: skipped */
    }
}

static void emit(fm_source *s, fm_source_event_kind kind, int attempt, double wait, const char *msg)
{
    if (!s->o.on_event)
        return;
    fm_source_event ev = {kind, attempt, wait, s->st.reconnects, msg};
    s->o.on_event(s->o.user, &ev);
}

/* Sleeps `sec` seconds in slices, polling should_stop. Returns 1 if asked to stop. */
static int wait_or_stop(fm_source *s, double sec)
{
    double end = mono_now() + sec;
    for (;;) {
        if (s->o.should_stop && s->o.should_stop(s->o.user))
            return 1;
        double left = end - mono_now();
        if (left <= 0)
            return 0;
        if (left > 0.05)
            left = 0.05;
        struct timespec ts = {0, (long)(left * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* msg without a leading "<source name>: ". */
static const char *unnamed(const fm_source *s, const char *msg)
{
    size_t n = strlen(s->name);
    return strncmp(msg, s->name, n) == 0 && strncmp(msg + n, ": ", 2) == 0 ? msg + n + 2 : msg;
}

/* The live stream dropped (reason in *why): reopen with exponential backoff. */
static fm_status reconnect(fm_source *s, const char *why, fm_err *err)
{
    double wait = opt_or(s->o.reconnect_initial, 0.5);
    double max_wait = opt_or(s->o.reconnect_max, 8);
    if (wait > max_wait)
        wait = max_wait;
    char reason[sizeof(((fm_err *)0)->msg)];
    snprintf(reason, sizeof reason, "%s", unnamed(s, why));
    s->st.drops++;
    session_close(s);
    emit(s, FM_SOURCE_EVENT_DROPPED, 0, wait, reason);
    for (int attempt = 1;; attempt++) {
        if (wait_or_stop(s, wait))
            return FM_SOURCE_END;
        fm_err e = {0};
        fm_status st = session_open(s, &e);
        if (st == FM_OK) {
            s->st.reconnects++;
            s->pts_offset = s->st.frames ? s->last_pts + frame_step(s) : 0;
            emit(s, FM_SOURCE_EVENT_RECONNECTED, attempt, 0, "reconnected");
            return FM_OK;
        }
        if (st == FM_SOURCE_END)
            return FM_SOURCE_END;
        if (s->o.reconnect_attempts > 0 && attempt >= s->o.reconnect_attempts) {
            emit(s, FM_SOURCE_EVENT_GAVE_UP, attempt, 0, e.msg);
            return fm_err_set(err, FM_ERR_IO,
                              "%s dropped (%s) and %d reconnection attempt%s failed; last: %s",
                              s->name, reason, attempt, attempt == 1 ? "" : "s", unnamed(s, e.msg));
        }
        wait = wait * 2 > max_wait ? max_wait : wait * 2;
        emit(s, FM_SOURCE_EVENT_RETRY_FAILED, attempt, wait, e.msg);
    }
}

static fm_status read_av(fm_source *s, fm_frame *out, fm_err *err)
{
    for (;;) {
        fm_status st = FM_OK;
        fm_err e = {0};
        step_result r = decode_next(s, out, &st, &e);
        if (r == GOT_FRAME)
            return FM_OK;
        if (r == GOT_ERROR) {
            if (st != FM_SOURCE_END && err)
                *err = e;
            return st;
        }
        if (!is_live(s) && s->st.frames == 0) {
            char counts[96] = "";
            if (s->st.decode_errors || s->st.read_errors)
                snprintf(counts, sizeof counts, " (%lld packets rejected, %lld read errors)",
                         s->st.decode_errors, s->st.read_errors);
            return fm_err_set(err, FM_ERR_FORMAT,
                              "%s: no frame could be decoded%s: the file is broken or holds no "
                              "video data",
                              s->name, counts);
        }
        if (!is_live(s) || (r == GOT_END && s->o.reconnect_attempts < 0))
            return FM_SOURCE_END;
        if (s->o.reconnect_attempts < 0) {
            if (err)
                *err = e;
            return e.status ? e.status : FM_ERR_IO;
        }
        st = reconnect(s, e.msg, err);
        if (st != FM_OK)
            return st;
    }
}

/* ---------------------------------------------------------------- folders */

/* Loads the next decodable image of the folder into *img (errors counted); 0 at the end. */
static int folder_next(fm_source *s, fm_image **img, char *first_err, size_t first_err_len)
{
    size_t max_px = s->o.max_pixels ? s->o.max_pixels : FM_IMAGE_MAX_PIXELS_DEFAULT;
    while (s->next_file < s->nfiles) {
        fm_err e = {0};
        fm_image *im = fm_image_load(s->files[s->next_file++], max_px, &e);
        if (im) {
            *img = im;
            return 1;
        }
        s->st.decode_errors++;
        if (first_err && !first_err[0])
            snprintf(first_err, first_err_len, "%s", e.msg);
        emit(s, FM_SOURCE_EVENT_SKIPPED, 0, 0, e.msg);
    }
    return 0;
}

/* fm_walk's on_skip: a FIFO, device or repeat in the folder. */
static void folder_skip(void *ctx, const char *msg)
{
    emit(ctx, FM_SOURCE_EVENT_SKIPPED, 0, 0, msg);
}

static fm_status folder_open(fm_source *s, fm_err *err)
{
    /* the shared walker (core/walk.h): regular files only, sorted, each once */
    const fm_walk_opts wo = {.exts = fm_walk_image_exts, .on_skip = folder_skip, .ctx = s};
    fm_walk_list wl;
    fm_status st = fm_walk(s->spec.url, &wo, &wl, err);
    if (st != FM_OK)
        return st; /* the message names the folder */
    if (wl.n && !(s->files = calloc(wl.n, sizeof *s->files))) {
        fm_walk_list_free(&wl);
        return fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory listing the images", s->name);
    }
    for (size_t i = 0; i < wl.n; i++) {
        s->files[s->nfiles++] = wl.v[i].path;
        wl.v[i].path = NULL;
    }
    s->st.decode_errors += (long long)wl.skipped; /* FIFOs, devices, repeats: counted */
    fm_walk_list_free(&wl);
    if (s->nfiles == 0)
        return fm_err_set(err, FM_ERR_IO, "%s: no .jpg, .jpeg or .png images", s->name);
    char first_err[sizeof(((fm_err *)0)->msg)] = "";
    if (!folder_next(s, &s->pending, first_err, sizeof first_err))
        return fm_err_set(err, FM_ERR_FORMAT,
                          "%s: none of its %zu images could be decoded (first: %s)", s->name,
                          s->nfiles, first_err);
    s->w = s->pending->w;
    s->h = s->pending->h;
    s->fps = opt_or(s->o.folder_fps, 10);
    snprintf(s->codec, sizeof s->codec, "image");
    return FM_OK;
}

static fm_status read_folder(fm_source *s, fm_frame *out)
{
    fm_image *img = s->pending;
    s->pending = NULL;
    if (!img && !folder_next(s, &img, NULL, 0))
        return FM_SOURCE_END;
    fm_image_free(out->image);
    out->image = img;
    s->w = img->w;
    s->h = img->h;
    out->pts = (double)s->st.frames / s->fps;
    out->index = s->st.frames++;
    s->last_pts = out->pts;
    return FM_OK;
}

/* ---------------------------------------------------------------- public */

/* The first open of a live source failed (message in *err): try again open_retries times (no
 * limit when negative) with the reconnection backoff. */
static fm_status open_retry(fm_source *s, fm_err *err)
{
    double wait = opt_or(s->o.reconnect_initial, 0.5);
    double max_wait = opt_or(s->o.reconnect_max, 8);
    if (wait > max_wait)
        wait = max_wait;
    char last[sizeof(((fm_err *)0)->msg)];
    snprintf(last, sizeof last, "%s", err ? err->msg : "cannot open");
    for (int attempt = 1; s->o.open_retries < 0 || attempt <= s->o.open_retries; attempt++) {
        emit(s, FM_SOURCE_EVENT_OPEN_FAILED, attempt, wait, last);
        if (wait_or_stop(s, wait))
            return FM_SOURCE_END;
        fm_err e = {0};
        fm_status st = session_open(s, &e);
        if (st == FM_OK || st == FM_SOURCE_END)
            return st;
        snprintf(last, sizeof last, "%s", e.msg);
        wait = wait * 2 > max_wait ? max_wait : wait * 2;
    }
    return fm_err_set(err, FM_ERR_IO, "%s (after %d more attempt%s)", last, s->o.open_retries,
                      s->o.open_retries == 1 ? "" : "s");
}

fm_source *fm_source_open(const char *spec, const fm_source_opts *opts, fm_err *err)
{
    fm_source *s = calloc(1, sizeof *s);
    if (!s) {
        fm_err_set(err, FM_ERR_NOMEM, "out of memory for a video source");
        return NULL;
    }
    if (opts)
        s->o = *opts;
    if (s->o.camera_pixel_format)
        snprintf(s->camera_pixel_format, sizeof s->camera_pixel_format, "%s",
                 s->o.camera_pixel_format);
    s->o.camera_pixel_format = NULL;
    if (fm_source_parse_spec(spec, &s->spec, err) != FM_OK) {
        free(s);
        return NULL;
    }
    make_name(s);
    fm_status st = s->spec.kind == FM_SOURCE_FOLDER ? folder_open(s, err) : session_open(s, err);
    if (st != FM_OK && st != FM_SOURCE_END && is_live(s) && s->o.open_retries != 0)
        st = open_retry(s, err);
    if (st != FM_OK) {
        if (st == FM_SOURCE_END)
            fm_err_set(err, FM_ERR_IO, "%s: stopped while opening", s->name);
        fm_source_close(s);
        return NULL;
    }
    return s;
}

fm_status fm_source_read(fm_source *s, fm_frame *out, fm_err *err)
{
    if (!s || !out)
        return fm_err_set(err, FM_ERR_ARG, "fm_source_read: NULL %s", s ? "frame" : "source");
    if (s->finished) {
        if (err && s->final_status != FM_SOURCE_END) {
            err->status = s->final_status;
            memcpy(err->msg, s->final_msg, sizeof err->msg);
        }
        return s->final_status;
    }
    fm_err e = {0};
    fm_status st = s->spec.kind == FM_SOURCE_FOLDER ? read_folder(s, out) : read_av(s, out, &e);
    if (st == FM_OK)
        return FM_OK;
    s->finished = 1;
    s->final_status = st;
    memcpy(s->final_msg, e.msg, sizeof s->final_msg);
    if (st == FM_SOURCE_END)
        fm_err_set(err, FM_SOURCE_END, "%s: end of stream", s->name);
    else if (err)
        *err = e;
    if (s->fmt) /* release the stream (sockets, device) at once; the handle stays queryable */
        session_close(s);
    return st;
}

void fm_source_close(fm_source *s)
{
    if (!s)
        return;
    session_close(s);
    sws_freeContext(s->sws);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    fm_image_free(s->pending);
    free(s);
}

fm_source_kind fm_source_get_kind(const fm_source *s)
{
    return s->spec.kind;
}

int fm_source_is_live(const fm_source *s)
{
    return is_live(s);
}

double fm_source_fps(const fm_source *s)
{
    return s->fps;
}

int fm_source_width(const fm_source *s)
{
    return s->w;
}

int fm_source_height(const fm_source *s)
{
    return s->h;
}

const char *fm_source_codec(const fm_source *s)
{
    return s->codec;
}

void fm_source_get_stats(const fm_source *s, fm_source_stats *out)
{
    *out = s->st;
}
