/* test_video_util.h - helpers shared by the video suites: clips made with the ffmpeg command,
 * ffprobe queries, flat-grey stills whose level identifies the frame. */
#ifndef FM_TEST_VIDEO_UTIL_H
#define FM_TEST_VIDEO_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/image.h"
#include "test.h"
#include "video/source.h"

static inline double tv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Grey level of still number i (distinct, well apart, inside the limited video range). */
static inline int tv_level(int i)
{
    return 20 + (i * 37) % 216;
}

/* A w x h image of grey level v with a small dark square at the top-left (so encoders see
 * some structure). */
static inline fm_image *tv_still(int w, int h, int v)
{
    fm_image *img = fm_image_new(w, h, NULL);
    if (!img)
        return NULL;
    memset(img->data, v, (size_t)img->stride * (size_t)h);
    fm_draw_fill(img, 2, 2, 9, 9, FM_RGB(0, 0, 0));
    return img;
}

/* Mean of the B, G, R bytes over the centre half of the image. */
static inline double tv_mean(const fm_image *img)
{
    double sum = 0;
    long n = 0;
    for (int y = img->h / 4; y < img->h * 3 / 4; y++)
        for (int x = img->w / 4; x < img->w * 3 / 4; x++)
            for (int c = 0; c < 3; c++, n++)
                sum += img->data[(size_t)y * (size_t)img->stride + (size_t)x * 3 + (size_t)c];
    return n ? sum / (double)n : 0;
}

/* Runs a shell command; on failure records a test failure with its output and returns 0. */
static inline int tv_sh(const char *cmd)
{
    char *out = NULL;
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    int rc = fm_test_cmd(full, &out);
    if (rc != 0)
        fm_test_fail(__FILE__, __LINE__, "command failed (%d): %s\n%s", rc, cmd, out ? out : "");
    free(out);
    return rc == 0;
}

/* Writes `n` stills (w x h, levels tv_level(i)) as dir/s000.png ... and encodes them with the
 * ffmpeg command at `fps` into `clip` with the given codec arguments. */
static inline int tv_make_clip(const char *dir, int n, int w, int h, int fps,
                               const char *codec_args, const char *clip)
{
    char path[1024];
    for (int i = 0; i < n; i++) {
        fm_image *img = tv_still(w, h, tv_level(i));
        snprintf(path, sizeof path, "%s/s%03d.png", dir, i);
        fm_err err = {0};
        fm_status st = img ? fm_image_save_png(img, path, &err) : FM_ERR_NOMEM;
        fm_image_free(img);
        if (st != FM_OK) {
            fm_test_fail(__FILE__, __LINE__, "cannot write %s: %s", path, err.msg);
            return 0;
        }
    }
    char cmd[3072];
    snprintf(
        cmd, sizeof cmd,
        "ffmpeg -nostdin -v error -y -framerate %d -i '%s/s%%03d.png' %s -pix_fmt yuv420p '%s'",
        fps, dir, codec_args, clip);
    return tv_sh(cmd);
}

/* ffprobe's answer for the first video stream: `entries` such as "nb_read_frames" (with
 * -count_frames), "codec_name", "width". Returns a malloc'd trimmed string or NULL. */
static inline char *tv_probe(const char *file, const char *entries, int count_frames)
{
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error %s -select_streams v:0 -show_entries stream=%s -of csv=p=0 '%s'",
             count_frames ? "-count_frames" : "", entries, file);
    if (fm_test_cmd(cmd, &out) != 0 || !out) {
        fm_test_fail(__FILE__, __LINE__, "ffprobe failed: %s", cmd);
        free(out);
        return NULL;
    }
    size_t n = strlen(out);
    while (n &&
           (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' || out[n - 1] == ','))
        out[--n] = '\0';
    return out;
}

/* Reads a whole source; counts frames, checks pts rise strictly, records levels of the first
 * `max_levels` frames. Returns the final status. */
static inline fm_status tv_read_all(fm_source *s, long long *count, double *levels, int max_levels,
                                    fm_err *err)
{
    fm_frame fr = {0};
    fm_status st;
    double last = -1;
    *count = 0;
    while ((st = fm_source_read(s, &fr, err)) == FM_OK) {
        if (fr.index != *count)
            fm_test_fail(__FILE__, __LINE__, "frame index %lld, expected %lld", fr.index, *count);
        if (*count > 0 && !(fr.pts > last))
            fm_test_fail(__FILE__, __LINE__, "pts %.6f after %.6f does not rise", fr.pts, last);
        last = fr.pts;
        if (*count < max_levels)
            levels[*count] = tv_mean(fr.image);
        (*count)++;
    }
    fm_frame_clear(&fr);
    return st;
}

#endif
