/* facemask's log (core/log.h) and the libraries routed through it, and the progress line
 * (core/progress.h): each message one line "facemask: ...", FFmpeg's and SDL's prefixed and
 * demoted one level (gone at FM_LOG_ERROR, a command's --quiet), a FFmpeg line sent in pieces
 * joined, control characters flattened; the progress line's count, rate and ETA, and nothing
 * drawn when stderr is not a terminal. Standard error is captured by pointing fd 2 at a file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <SDL.h>
#include <libavcodec/avcodec.h>
#include <libavutil/log.h>

#include "core/log.h"
#include "core/progress.h"
#include "test.h"
#include "ui/display.h"
#include "video/source.h"

/* Standard error into a file while a test body runs. */
typedef struct {
    int saved;
    char path[1024];
} capture;

static int capture_begin(capture *c, const char *name)
{
    snprintf(c->path, sizeof c->path, "%s/%s", fm_test_tmpdir(), name);
    fflush(stderr);
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    c->saved = dup(2);
    if (fd < 0 || c->saved < 0) {
        fm_test_fail(__FILE__, __LINE__, "cannot capture stderr into %s", c->path);
        if (fd >= 0)
            close(fd);
        return 0;
    }
    dup2(fd, 2);
    close(fd);
    return 1;
}

/* Restores stderr; returns what was written (caller frees). */
static char *capture_end(capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    return fm_test_read_file(c->path, NULL);
}

static void test_log_levels_and_lines(void)
{
    capture c;
    if (!capture_begin(&c, "log.txt"))
        return;
    fm_log_level saved = fm_log_get_level();
    fm_log_set_level(FM_LOG_WARN);
    fm_log(FM_LOG_ERROR, "a.jpg: %s", "not a JPEG");
    fm_log(FM_LOG_WARN, "two\nlines\tand a tab  ");
    fm_log(FM_LOG_INFO, "not shown at WARN");
    fm_log_set_level(FM_LOG_ERROR);
    fm_log(FM_LOG_WARN, "not shown at ERROR");
    fm_log(FM_LOG_ERROR, "shown at ERROR");
    fm_log_set_level(saved);
    char *got = capture_end(&c);
    FM_CHECK_MSG(got && strcmp(got, "facemask: a.jpg: not a JPEG\n"
                                    "facemask: two lines and a tab\n"
                                    "facemask: shown at ERROR\n") == 0,
                 "got: %s", got ? got : "(nothing)");
    free(got);
}

/* FFmpeg's messages: one line each, named after the component, joined when sent in pieces;
 * FFmpeg errors are facemask warnings (shown by default, not with --quiet). */
static void test_log_routes_ffmpeg(void)
{
    fm_log_level saved = fm_log_get_level();
    int av_saved = av_log_get_level();
    AVCodecContext *ctx = avcodec_alloc_context3(avcodec_find_decoder(AV_CODEC_ID_H264));
    FM_CHECK(ctx != NULL);
    if (!ctx)
        return;
    capture c;
    if (!capture_begin(&c, "ffmpeg.txt")) {
        avcodec_free_context(&ctx);
        return;
    }
    fm_video_set_log_level(2); /* FFmpeg: errors and warnings; installs the route */
    fm_log_set_level(FM_LOG_WARN);
    av_log(ctx, AV_LOG_ERROR, "Invalid NAL unit size (%d > %d).\n", 596, 96);
    av_log(NULL, AV_LOG_ERROR, "first part, ");
    av_log(NULL, AV_LOG_ERROR, "second part\n");
    av_log(ctx, AV_LOG_WARNING, "a warning is facemask info: hidden at WARN\n");
    av_log(ctx, AV_LOG_INFO, "below FFmpeg's level: dropped\n");
    fm_log_set_level(FM_LOG_ERROR); /* --quiet */
    av_log(ctx, AV_LOG_ERROR, "hidden by --quiet\n");
    fm_log_set_level(FM_LOG_INFO);
    av_log(ctx, AV_LOG_WARNING, "shown at INFO\n");
    char *got = capture_end(&c);
    fm_log_set_level(saved);
    av_log_set_level(av_saved);
    avcodec_free_context(&ctx);
    FM_CHECK_MSG(got && strcmp(got, "facemask: ffmpeg: h264: Invalid NAL unit size (596 > 96).\n"
                                    "facemask: ffmpeg: first part, second part\n"
                                    "facemask: ffmpeg: h264: shown at INFO\n") == 0,
                 "got: %s", got ? got : "(nothing)");
    free(got);
}

/* SDL's messages: "facemask: sdl: ...", one line, hidden with --quiet. */
static void test_log_routes_sdl(void)
{
    fm_log_level saved = fm_log_get_level();
    capture c;
    if (!capture_begin(&c, "sdl.txt"))
        return;
    fm_display_route_log();
    fm_log_set_level(FM_LOG_WARN);
    SDL_LogError(SDL_LOG_CATEGORY_APPLICATION, "no video device\nreally (%d)", 3);
    SDL_LogWarn(SDL_LOG_CATEGORY_APPLICATION, "a warning is facemask info: hidden");
    fm_log_set_level(FM_LOG_ERROR);
    SDL_LogCritical(SDL_LOG_CATEGORY_VIDEO, "hidden by --quiet");
    char *got = capture_end(&c);
    fm_log_set_level(saved);
    SDL_LogSetOutputFunction(NULL, NULL);
    FM_CHECK_MSG(got && strcmp(got, "facemask: sdl: no video device really (3)\n") == 0,
                 "got: %s", got ? got : "(nothing)");
    free(got);
}

static void test_progress_format(void)
{
    char line[256];
    fm_progress_format("detect", "images", 120, 284, 3.4, line, sizeof line);
    FM_CHECK_MSG(strcmp(line, "detect  [############..................]  42%  120/284  35.3 "
                              "images/s  00:03, ETA 00:05") == 0,
                 "got '%s'", line);
    fm_progress_format("eval", "faces", 0, 10, 0.0, line, sizeof line);
    FM_CHECK_MSG(strcmp(line, "eval  [..............................]   0%  0/10  0.0 faces/s  "
                              "00:00, ETA --:--") == 0,
                 "got '%s'", line);
    fm_progress_format("train", "steps", 7200, 7200, 3725.0, line, sizeof line);
    FM_CHECK_MSG(strcmp(line, "train  [##############################] 100%  7200/7200  1.9 "
                              "steps/s  1:02:05, ETA 00:00") == 0,
                 "got '%s'", line);
}

/* Not a terminal: nothing drawn, and messages are not preceded by an erase. */
static void test_progress_off_without_terminal(void)
{
    capture c;
    if (!capture_begin(&c, "progress.txt"))
        return;
    fm_progress p;
    fm_progress_start(&p, "detect", "images", 3, 0);
    for (long i = 1; i <= 3; i++)
        fm_progress_update(&p, i);
    fm_log(FM_LOG_ERROR, "after");
    fm_progress_end(&p);
    char *got = capture_end(&c);
    FM_CHECK_INT(p.on, 0);
    FM_CHECK_MSG(got && strcmp(got, "facemask: after\n") == 0, "got: %s", got ? got : "");
    free(got);
}

void suite_core_log(void);
void suite_core_log(void)
{
    FM_RUN(test_log_levels_and_lines);
    FM_RUN(test_log_routes_ffmpeg);
    FM_RUN(test_log_routes_sdl);
    FM_RUN(test_progress_format);
    FM_RUN(test_progress_off_without_terminal);
}
