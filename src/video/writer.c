/* writer.c - BGR frames -> yuv420p (libswscale) -> H.264 / MPEG-4 part 2 -> mp4/mkv/avi. */
#include "video/writer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#define FM_WRITER_MAX_SIDE 16384

struct fm_writer {
    char path[1024];
    int w, h;   /* frames accepted */
    int ew, eh; /* encoded (even) size */
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *yuv;
    AVPacket *pkt;
    struct SwsContext *sws;
    long long frames;
    int header_written;
    int failed; /* a write failed: nothing more is written, close skips the trailer */
    char codec[16];
};

static const char *av_err(int r, char *buf, size_t n)
{
    if (av_strerror(r, buf, n) < 0)
        snprintf(buf, n, "FFmpeg error %d", r);
    return buf;
}

static void writer_free(fm_writer *wr)
{
    sws_freeContext(wr->sws);
    av_frame_free(&wr->yuv);
    av_packet_free(&wr->pkt);
    avcodec_free_context(&wr->enc);
    if (wr->oc) {
        if (wr->oc->pb)
            avio_closep(&wr->oc->pb);
        avformat_free_context(wr->oc);
    }
    free(wr);
}

/* Sends `frame` (NULL: flush) and writes every packet the encoder gives back. */
static fm_status encode(fm_writer *wr, AVFrame *frame, fm_err *err)
{
    char eb[128];
    int r = avcodec_send_frame(wr->enc, frame);
    if (r < 0)
        return fm_err_set(err, FM_ERR_IO, "%s: encoding frame %lld failed: %s", wr->path,
                          wr->frames, av_err(r, eb, sizeof eb));
    for (;;) {
        r = avcodec_receive_packet(wr->enc, wr->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return FM_OK;
        if (r < 0)
            return fm_err_set(err, FM_ERR_IO, "%s: encoding failed: %s", wr->path,
                              av_err(r, eb, sizeof eb));
        av_packet_rescale_ts(wr->pkt, wr->enc->time_base, wr->st->time_base);
        wr->pkt->stream_index = wr->st->index;
        r = av_interleaved_write_frame(wr->oc, wr->pkt); /* takes the packet's data */
        if (r < 0)
            return fm_err_set(err, FM_ERR_IO, "%s: writing failed: %s", wr->path,
                              av_err(r, eb, sizeof eb));
    }
}

fm_writer *fm_writer_open(const char *path, int w, int h, double fps, fm_err *err)
{
    char eb[128];
    if (!path || !*path) {
        fm_err_set(err, FM_ERR_ARG, "video writer: empty output path");
        return NULL;
    }
    if (strlen(path) >= sizeof(((fm_writer *)0)->path)) {
        fm_err_set(err, FM_ERR_LIMIT,
                   "video writer: output path is %zu characters long (at most %zu)", strlen(path),
                   sizeof(((fm_writer *)0)->path) - 1);
        return NULL;
    }
    if (w < 1 || h < 1 || w > FM_WRITER_MAX_SIDE || h > FM_WRITER_MAX_SIDE) {
        fm_err_set(err, FM_ERR_ARG, "%s: frame size %dx%d is out of range (1..%d per side)", path,
                   w, h, FM_WRITER_MAX_SIDE);
        return NULL;
    }
    if (!(fps > 0 && fps <= 1000)) {
        fm_err_set(err, FM_ERR_ARG, "%s: frame rate %g is out of range (0 < fps <= 1000)", path,
                   fps);
        return NULL;
    }
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && slash && dot < slash)
        dot = NULL;
    const char *muxer = NULL;
    int want_h264 = 0;
    if (dot && strcasecmp(dot, ".mp4") == 0)
        muxer = "mp4", want_h264 = 1;
    else if (dot && strcasecmp(dot, ".mkv") == 0)
        muxer = "matroska", want_h264 = 1;
    else if (dot && strcasecmp(dot, ".avi") == 0)
        muxer = "avi";
    if (!muxer) {
        fm_err_set(err, FM_ERR_UNSUPPORTED,
                   "%s: unsupported video extension '%s' (expected .mp4, .mkv or .avi)", path,
                   dot ? dot : "");
        return NULL;
    }
    const AVCodec *codec = want_h264 ? avcodec_find_encoder_by_name("libx264") : NULL;
    if (!codec)
        codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (!codec) {
        fm_err_set(err, FM_ERR_UNSUPPORTED,
                   "%s: this FFmpeg has neither the libx264 nor the mpeg4 encoder", path);
        return NULL;
    }

    fm_writer *wr = calloc(1, sizeof *wr);
    if (!wr) {
        fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory for a video writer", path);
        return NULL;
    }
    snprintf(wr->path, sizeof wr->path, "%s", path);
    snprintf(wr->codec, sizeof wr->codec, "%s", codec->name);
    wr->w = w, wr->h = h;
    wr->ew = (w + 1) & ~1, wr->eh = (h + 1) & ~1;

    int r = avformat_alloc_output_context2(&wr->oc, NULL, muxer, path);
    if (r < 0 || !wr->oc) {
        fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: no '%s' muxer: %s", path, muxer,
                   av_err(r, eb, sizeof eb));
        writer_free(wr);
        return NULL;
    }
    wr->st = avformat_new_stream(wr->oc, NULL);
    wr->enc = avcodec_alloc_context3(codec);
    wr->pkt = av_packet_alloc();
    wr->yuv = av_frame_alloc();
    if (!wr->st || !wr->enc || !wr->pkt || !wr->yuv) {
        fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory for the encoder", path);
        writer_free(wr);
        return NULL;
    }
    AVRational rate = av_d2q(fps, 100000);
    AVCodecContext *c = wr->enc;
    c->width = wr->ew;
    c->height = wr->eh;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = av_inv_q(rate);
    c->framerate = rate;
    c->sample_aspect_ratio = (AVRational){1, 1};
    c->gop_size = (int)fmin(fmax(2 * fps, 1), 600); /* a keyframe every ~2 s */
    if (strcmp(codec->name, "libx264") == 0) {
        av_opt_set(c->priv_data, "preset", "veryfast", 0);
        av_opt_set(c->priv_data, "crf", "23", 0);
    } else {
        c->flags |= AV_CODEC_FLAG_QSCALE;
        c->global_quality = FF_QP2LAMBDA * 4;
        c->max_b_frames = 0;
    }
    if (wr->oc->oformat->flags & AVFMT_GLOBALHEADER)
        c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    r = avcodec_open2(c, codec, NULL);
    if (r < 0) {
        fm_err_set(err, FM_ERR_UNSUPPORTED,
                   "%s: cannot open the %s encoder for %dx%d at %g fps: %s", path, codec->name,
                   wr->ew, wr->eh, fps, av_err(r, eb, sizeof eb));
        writer_free(wr);
        return NULL;
    }
    r = avcodec_parameters_from_context(wr->st->codecpar, c);
    if (r < 0) {
        fm_err_set(err, FM_ERR_NOMEM, "%s: cannot set up the stream: %s", path,
                   av_err(r, eb, sizeof eb));
        writer_free(wr);
        return NULL;
    }
    wr->st->time_base = c->time_base;
    wr->st->avg_frame_rate = rate;

    wr->yuv->format = AV_PIX_FMT_YUV420P;
    wr->yuv->width = wr->ew;
    wr->yuv->height = wr->eh;
    r = av_frame_get_buffer(wr->yuv, 0);
    wr->sws = sws_getContext(w, h, AV_PIX_FMT_BGR24, w, h, AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL,
                             NULL, NULL);
    if (r < 0 || !wr->sws) {
        fm_err_set(err, FM_ERR_NOMEM, "%s: cannot set up the BGR to yuv420p conversion", path);
        writer_free(wr);
        return NULL;
    }

    r = avio_open(&wr->oc->pb, path, AVIO_FLAG_WRITE);
    if (r < 0) {
        fm_err_set(err, FM_ERR_IO, "%s: cannot create: %s", path, av_err(r, eb, sizeof eb));
        writer_free(wr);
        return NULL;
    }
    /* Fragmented MP4: an empty moov first, then a moof+mdat fragment per keyframe (~2 s), so a
     * file cut short (full disk, SIGKILL, power loss) plays up to its last whole fragment; a
     * plain MP4 has its index (moov) only in the trailer and is unplayable without it. */
    AVDictionary *mux_opts = NULL;
    if (strcmp(muxer, "mp4") == 0) {
        av_dict_set(&mux_opts, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
        wr->oc->flush_packets = 1; /* each fragment goes to the kernel when it is complete */
    }
    r = avformat_write_header(wr->oc, &mux_opts);
    av_dict_free(&mux_opts);
    if (r < 0) {
        fm_err_set(err, FM_ERR_IO, "%s: cannot write the %s header: %s", path, muxer,
                   av_err(r, eb, sizeof eb));
        writer_free(wr);
        return NULL;
    }
    wr->header_written = 1;
    return wr;
}

fm_status fm_writer_write(fm_writer *wr, const fm_image *bgr, fm_err *err)
{
    char eb[128];
    if (!wr || !bgr || !bgr->data)
        return fm_err_set(err, FM_ERR_ARG, "fm_writer_write: NULL %s", wr ? "image" : "writer");
    if (bgr->w != wr->w || bgr->h != wr->h || bgr->stride < 3 * bgr->w)
        return fm_err_set(err, FM_ERR_ARG,
                          "%s: frame %lld is %dx%d, the writer was opened for %dx%d", wr->path,
                          wr->frames, bgr->w, bgr->h, wr->w, wr->h);
    if (wr->failed)
        return fm_err_set(err, FM_ERR_IO, "%s: an earlier write failed; not writing frame %lld",
                          wr->path, wr->frames);
    int r = av_frame_make_writable(wr->yuv); /* the encoder may still hold the last one */
    if (r < 0)
        return fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory for frame %lld: %s", wr->path,
                          wr->frames, av_err(r, eb, sizeof eb));
    const uint8_t *src[4] = {bgr->data, NULL, NULL, NULL};
    int src_stride[4] = {bgr->stride, 0, 0, 0};
    sws_scale(wr->sws, src, src_stride, 0, wr->h, wr->yuv->data, wr->yuv->linesize);
    /* Odd sizes: swscale filled the chroma planes (rounded up); repeat the last luma column / row.
     */
    uint8_t *y = wr->yuv->data[0];
    int ls = wr->yuv->linesize[0];
    if (wr->ew != wr->w)
        for (int row = 0; row < wr->h; row++)
            y[(size_t)row * (size_t)ls + (size_t)wr->w] =
                y[(size_t)row * (size_t)ls + (size_t)wr->w - 1];
    if (wr->eh != wr->h)
        memcpy(y + (size_t)wr->h * (size_t)ls, y + (size_t)(wr->h - 1) * (size_t)ls,
               (size_t)wr->ew);
    wr->yuv->pts = wr->frames;
    fm_status st = encode(wr, wr->yuv, err);
    if (st == FM_OK)
        wr->frames++;
    else
        wr->failed = 1;
    return st;
}

fm_status fm_writer_close(fm_writer *wr, fm_err *err)
{
    if (!wr)
        return FM_OK;
    char eb[128];
    if (wr->failed) {
        fm_writer_abort(wr);
        return fm_err_set(err, FM_ERR_IO, "%s: closed without its trailer after a failed write",
                          wr->path);
    }
    fm_status st = encode(wr, NULL, err);
    if (wr->header_written) {
        int r = av_write_trailer(wr->oc);
        if (r < 0 && st == FM_OK)
            st = fm_err_set(err, FM_ERR_IO, "%s: cannot write the trailer: %s", wr->path,
                            av_err(r, eb, sizeof eb));
    }
    if (wr->oc && wr->oc->pb) {
        int r = avio_closep(&wr->oc->pb);
        if (r < 0 && st == FM_OK)
            st = fm_err_set(err, FM_ERR_IO, "%s: closing failed: %s", wr->path,
                            av_err(r, eb, sizeof eb));
    }
    writer_free(wr);
    return st;
}

void fm_writer_abort(fm_writer *wr)
{
    if (!wr)
        return;
    if (wr->oc && wr->oc->pb) {
        avio_flush(wr->oc->pb); /* what is buffered, if the disk takes it; errors are known */
        avio_closep(&wr->oc->pb);
    }
    writer_free(wr);
}

const char *fm_writer_codec(const fm_writer *wr)
{
    return wr->codec;
}

long long fm_writer_frames(const fm_writer *wr)
{
    return wr->frames;
}
