/* Tests for src/video/writer.c: files that ffprobe reads back with the right frame count,
 * codec and size; a round trip through fm_source; odd sizes; clear errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_video_util.h"
#include "video/source.h"
#include "video/writer.h"

/* Writes n stills of levels tv_level(i) to `name`, then checks ffprobe's view and reads the
 * file back. */
static void check_write(const char *name, int w, int h, int n, const char *want_codec, int pw,
                        int ph)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fm_test_tmpdir(), name);
    fm_err err = {0};
    fm_writer *wr = fm_writer_open(path, w, h, 10.0, &err);
    FM_CHECK_MSG(wr != NULL, "%s", err.msg);
    if (!wr)
        return;
    FM_CHECK_MSG(strcmp(fm_writer_codec(wr), want_codec) == 0, "%s: codec %s, expected %s", name,
                 fm_writer_codec(wr), want_codec);
    for (int i = 0; i < n; i++) {
        fm_image *img = tv_still(w, h, tv_level(i));
        FM_CHECK_INT(fm_writer_write(wr, img, &err), FM_OK);
        fm_image_free(img);
    }
    FM_CHECK_INT(fm_writer_frames(wr), n);
    FM_CHECK_MSG(fm_writer_close(wr, &err) == FM_OK, "%s", err.msg);

    char *probe = tv_probe(path, "codec_name,width,height,nb_read_frames", 1);
    if (probe) {
        char want[128];
        snprintf(want, sizeof want, "%s,%d,%d,%d",
                 strcmp(want_codec, "libx264") == 0 ? "h264" : "mpeg4", pw, ph, n);
        FM_CHECK_MSG(strcmp(probe, want) == 0, "%s: ffprobe says '%s', expected '%s'", name, probe,
                     want);
        free(probe);
    }

    fm_source *s = fm_source_open(path, NULL, &err);
    FM_CHECK_MSG(s != NULL, "%s", err.msg);
    if (!s)
        return;
    FM_CHECK_NEAR(fm_source_fps(s), 10.0, 1e-6);
    double levels[64];
    long long count = 0;
    FM_CHECK_INT(tv_read_all(s, &count, levels, 64, &err), FM_SOURCE_END);
    FM_CHECK_INT(count, n);
    for (int i = 0; i < n && i < 64 && i < count; i++)
        FM_CHECK_MSG(fabs(levels[i] - tv_level(i)) <= 4.0, "%s frame %d: level %.1f, expected %d",
                     name, i, levels[i], tv_level(i));
    fm_source_close(s);
}

static void test_write_mp4_h264(void)
{
    check_write("out.mp4", 320, 240, 25, "libx264", 320, 240);
}

static void test_write_mkv_h264(void)
{
    check_write("out.mkv", 320, 240, 25, "libx264", 320, 240);
}

static void test_write_avi_mpeg4(void)
{
    check_write("out.avi", 320, 240, 25, "mpeg4", 320, 240);
}

static void test_write_odd_size_padded(void)
{
    check_write("odd.mkv", 161, 121, 10, "libx264", 162, 122);
    check_write("odd.avi", 161, 121, 10, "mpeg4", 162, 122);
}

static void test_write_single_and_empty(void)
{
    check_write("one.mp4", 64, 48, 1, "libx264", 64, 48);
    /* no frames: still a well-formed file closing cleanly */
    char path[1024];
    snprintf(path, sizeof path, "%s/empty.mkv", fm_test_tmpdir());
    fm_err err = {0};
    fm_writer *wr = fm_writer_open(path, 64, 48, 25.0, &err);
    FM_CHECK_MSG(wr != NULL, "%s", err.msg);
    FM_CHECK_MSG(fm_writer_close(wr, &err) == FM_OK, "%s", err.msg);
}

static void test_writer_errors(void)
{
    char path[1024];
    fm_err err = {0};
    snprintf(path, sizeof path, "%s/out.xyz", fm_test_tmpdir());
    FM_CHECK(fm_writer_open(path, 64, 48, 10, &err) == NULL);
    FM_CHECK_INT(err.status, FM_ERR_UNSUPPORTED);
    FM_CHECK_STR_CONTAINS(err.msg,
                          "unsupported video extension '.xyz' (expected .mp4, .mkv or .avi)");

    snprintf(path, sizeof path, "%s/out.mp4", fm_test_tmpdir());
    FM_CHECK(fm_writer_open(path, 0, 48, 10, &err) == NULL);
    FM_CHECK_INT(err.status, FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "frame size 0x48 is out of range");
    FM_CHECK(fm_writer_open(path, 64, 48, 0, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "frame rate 0 is out of range");
    FM_CHECK(fm_writer_open(path, 64, 48, NAN, &err) == NULL);
    FM_CHECK_INT(err.status, FM_ERR_ARG);

    FM_CHECK(fm_writer_open("/nonexistent/dir/out.mkv", 64, 48, 10, &err) == NULL);
    FM_CHECK_INT(err.status, FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg,
                          "/nonexistent/dir/out.mkv: cannot create: No such file or directory");

    fm_writer *wr = fm_writer_open(path, 64, 48, 10, &err);
    FM_CHECK_MSG(wr != NULL, "%s", err.msg);
    if (!wr)
        return;
    fm_image *img = tv_still(32, 48, 100);
    FM_CHECK_INT(fm_writer_write(wr, img, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "frame 0 is 32x48, the writer was opened for 64x48");
    fm_image_free(img);
    FM_CHECK_INT(fm_writer_write(wr, NULL, &err), FM_ERR_ARG);
    FM_CHECK_INT(fm_writer_close(wr, &err), FM_OK);
    FM_CHECK_INT(fm_writer_close(NULL, &err), FM_OK);
}

void suite_video_writer(void);
void suite_video_writer(void)
{
    fm_video_set_log_level(0);
    FM_RUN(test_write_mp4_h264);
    FM_RUN(test_write_mkv_h264);
    FM_RUN(test_write_avi_mpeg4);
    FM_RUN(test_write_odd_size_padded);
    FM_RUN(test_write_single_and_empty);
    FM_RUN(test_writer_errors);
}
