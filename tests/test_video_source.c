/* Tests for src/video/source.c: specs, clips made by the ffmpeg command, folders, the demo
 * clip against ffprobe, damaged files, clear errors for missing files, schemes and cameras. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "test_video_util.h"
#include "video/source.h"

static void test_spec_camera_maps_to_v4l2(void)
{
    fm_source_spec sp;
    fm_err err = {0};
    FM_CHECK_INT(fm_source_parse_spec("0", &sp, &err), FM_OK);
    FM_CHECK_INT(sp.kind, FM_SOURCE_DEVICE);
    FM_CHECK(sp.format && strcmp(sp.format, "video4linux2") == 0);
    FM_CHECK(strcmp(sp.url, "/dev/video0") == 0);
    FM_CHECK_INT(sp.camera_index, 0);

    FM_CHECK_INT(fm_source_parse_spec("/dev/video0", &sp, &err), FM_OK);
    FM_CHECK_INT(sp.kind, FM_SOURCE_DEVICE);
    FM_CHECK(sp.format && strcmp(sp.format, "video4linux2") == 0);
    FM_CHECK(strcmp(sp.url, "/dev/video0") == 0);
    FM_CHECK_INT(sp.camera_index, -1);

    FM_CHECK_INT(fm_source_parse_spec("12", &sp, &err), FM_OK);
    FM_CHECK(strcmp(sp.url, "/dev/video12") == 0);
    FM_CHECK_INT(sp.camera_index, 12);

    FM_CHECK_INT(fm_source_parse_spec("99999", &sp, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "camera number 99999 is out of range");
}

static void test_spec_urls_files_folders(void)
{
    fm_source_spec sp;
    fm_err err = {0};
    const char *net[] = {"rtsp://127.0.0.1:8554/cam",
                         "RTSP://h/x",
                         "http://h/v.mjpg",
                         "https://h/v",
                         "rtmp://h/live",
                         "udp://127.0.0.1:1234"};
    for (size_t i = 0; i < sizeof net / sizeof net[0]; i++) {
        FM_CHECK_INT(fm_source_parse_spec(net[i], &sp, &err), FM_OK);
        FM_CHECK_INT(sp.kind, FM_SOURCE_NETWORK);
        FM_CHECK(sp.format == NULL);
        FM_CHECK(strcmp(sp.url, net[i]) == 0);
    }
    FM_CHECK_INT(fm_source_parse_spec("clip.mp4", &sp, &err), FM_OK);
    FM_CHECK_INT(sp.kind, FM_SOURCE_FILE);
    FM_CHECK_INT(fm_source_parse_spec("file:///tmp/x.mp4", &sp, &err), FM_OK);
    FM_CHECK_INT(sp.kind, FM_SOURCE_FILE);
    FM_CHECK(strcmp(sp.url, "/tmp/x.mp4") == 0);
    FM_CHECK_INT(fm_source_parse_spec(fm_test_tmpdir(), &sp, &err), FM_OK);
    FM_CHECK_INT(sp.kind, FM_SOURCE_FOLDER);

    FM_CHECK_INT(fm_source_parse_spec("", &sp, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "empty video source");
    FM_CHECK_INT(fm_source_parse_spec("foo://x", &sp, &err), FM_ERR_UNSUPPORTED);
    FM_CHECK_STR_CONTAINS(err.msg, "unsupported URL scheme 'foo' in 'foo://x'");

    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    FM_CHECK_INT(fm_source_parse_spec(big, &sp, &err), FM_ERR_LIMIT);
}

static void check_camera_message(const char *spec, const char *dev, const char *expect)
{
    struct stat sb;
    if (stat(dev, &sb) == 0) {
        printf("  note: %s exists here; the no-camera message is not checked\n", dev);
        return;
    }
    fm_err err = {0};
    fm_source *s = fm_source_open(spec, NULL, &err);
    FM_CHECK(s == NULL);
    FM_CHECK_INT(err.status, FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, expect);
    fm_source_close(s);
}

static void test_no_camera_message(void)
{
    fm_video_set_log_level(0);
    check_camera_message("0", "/dev/video0",
                         "camera 0 (/dev/video0): no such device — is a camera connected?");
    check_camera_message("/dev/video9", "/dev/video9",
                         "camera /dev/video9: no such device — is a camera connected?");
}

static void test_not_a_camera(void)
{
    /* /dev/null opens but answers no V4L2 ioctl. */
    fm_err err = {0};
    fm_source *s = fm_source_open("/dev/null", NULL, &err);
    FM_CHECK(s == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "camera /dev/null: not a V4L2 video capture device");
    fm_source_close(s);
}

static void test_missing_file_and_scheme(void)
{
    fm_err err = {0};
    fm_source *s = fm_source_open("/nonexistent/dir/clip.mp4", NULL, &err);
    FM_CHECK(s == NULL);
    FM_CHECK_INT(err.status, FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg,
                          "/nonexistent/dir/clip.mp4: cannot open: No such file or directory");

    s = fm_source_open("foo://x", NULL, &err);
    FM_CHECK(s == NULL);
    FM_CHECK_INT(err.status, FM_ERR_UNSUPPORTED);
    FM_CHECK_STR_CONTAINS(err.msg, "unsupported URL scheme 'foo'");

    /* a file that is no video */
    char path[1024];
    snprintf(path, sizeof path, "%s/notes.mp4", fm_test_tmpdir());
    FILE *f = fopen(path, "wb");
    FM_CHECK(f != NULL);
    if (f) {
        fputs("these are not the frames you are looking for\n", f);
        fclose(f);
    }
    s = fm_source_open(path, NULL, &err);
    FM_CHECK(s == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, path);
}

/* The same 20 stills through three codec/container pairs: exact count, size, rate, order. */
static void check_clip(const char *name, const char *codec_args)
{
    const int n = 20, w = 160, h = 120;
    char clip[1024];
    snprintf(clip, sizeof clip, "%s/%s", fm_test_tmpdir(), name);
    if (!tv_make_clip(fm_test_tmpdir(), n, w, h, 10, codec_args, clip))
        return;
    fm_err err = {0};
    fm_source *s = fm_source_open(clip, NULL, &err);
    FM_CHECK_MSG(s != NULL, "%s", err.msg);
    if (!s)
        return;
    FM_CHECK_INT(fm_source_is_live(s), 0);
    FM_CHECK_INT(fm_source_get_kind(s), FM_SOURCE_FILE);
    FM_CHECK_INT(fm_source_width(s), w);
    FM_CHECK_INT(fm_source_height(s), h);
    FM_CHECK_NEAR(fm_source_fps(s), 10.0, 1e-6);

    fm_frame fr = {0};
    fm_status st;
    int count = 0;
    double last = -1;
    while ((st = fm_source_read(s, &fr, &err)) == FM_OK) {
        FM_CHECK_INT(fr.index, count);
        FM_CHECK_INT(fr.image->w, w);
        FM_CHECK_INT(fr.image->h, h);
        FM_CHECK_NEAR(fr.pts, count * 0.1, 1e-3);
        FM_CHECK(fr.pts > last);
        last = fr.pts;
        if (count < n)
            FM_CHECK_NEAR(tv_mean(fr.image), tv_level(count), 4.0);
        count++;
    }
    FM_CHECK_MSG(st == FM_SOURCE_END, "%s: ended with %d: %s", name, (int)st, err.msg);
    FM_CHECK_INT(count, n);
    FM_CHECK_INT(fm_source_read(s, &fr, &err), FM_SOURCE_END); /* stays at the end */
    fm_source_stats stats;
    fm_source_get_stats(s, &stats);
    FM_CHECK_INT(stats.frames, n);
    FM_CHECK_INT(stats.decode_errors, 0);
    FM_CHECK_INT(stats.reconnects, 0);
    fm_frame_clear(&fr);
    fm_source_close(s);
}

static void test_clip_mpeg4_avi(void)
{
    check_clip("clip.avi", "-c:v mpeg4 -q:v 2");
}

static void test_clip_h264_mkv(void)
{
    /* B-frames: the decoder holds frames back, and the last ones come out only when drained. */
    check_clip("clip.mkv", "-c:v libx264 -preset ultrafast -bf 2 -crf 10");
}

static void test_clip_h264_mp4(void)
{
    check_clip("clip.mp4", "-c:v libx264 -preset veryfast -crf 10");
}

static void test_frame_buffer_reused_or_kept(void)
{
    char clip[1024];
    snprintf(clip, sizeof clip, "%s/c.avi", fm_test_tmpdir());
    if (!tv_make_clip(fm_test_tmpdir(), 4, 64, 48, 10, "-c:v mpeg4 -q:v 2", clip))
        return;
    fm_err err = {0};
    fm_source *s = fm_source_open(clip, NULL, &err);
    FM_CHECK_MSG(s != NULL, "%s", err.msg);
    if (!s)
        return;
    fm_frame fr = {0};
    FM_CHECK_INT(fm_source_read(s, &fr, &err), FM_OK);
    fm_image *first = fr.image;
    FM_CHECK_INT(fm_source_read(s, &fr, &err), FM_OK);
    FM_CHECK(fr.image == first); /* same size: written in place */
    fm_image *kept = fr.image;
    fr.image = NULL; /* the caller keeps frame 1 */
    FM_CHECK_INT(fm_source_read(s, &fr, &err), FM_OK);
    FM_CHECK(fr.image != NULL && fr.image != kept);
    FM_CHECK_NEAR(tv_mean(kept), tv_level(1), 4.0);
    FM_CHECK_NEAR(tv_mean(fr.image), tv_level(2), 4.0);
    fm_image_free(kept);
    fm_frame_clear(&fr);
    fm_source_close(s);
}

static void test_folder_sorted(void)
{
    const char *dir = fm_test_tmpdir();
    /* written out of order; one broken image, one hidden, one text file */
    const char *names[] = {"f0003.png", "f0001.jpg", "f0010.png", "f0002.jpeg", "f0000.png"};
    const int order[] = {3, 1, 4, 2, 0}; /* rank of each name in sorted order */
    char path[1024];
    for (int i = 0; i < 5; i++) {
        fm_image *img = tv_still(40, 30, tv_level(order[i]));
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        fm_err err = {0};
        FM_CHECK_MSG(img && fm_image_save(img, path, &err) == FM_OK, "%s", err.msg);
        fm_image_free(img);
    }
    const char *junk[] = {"f0005_broken.png", ".hidden.png", "notes.txt"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, junk[i]);
        FILE *f = fopen(path, "wb");
        if (f) {
            fputs("\x89PNG\r\n\x1a\n garbage", f);
            fclose(f);
        }
    }
    fm_source_opts o = fm_source_opts_default();
    o.folder_fps = 5;
    fm_err err = {0};
    fm_source *s = fm_source_open(dir, &o, &err);
    FM_CHECK_MSG(s != NULL, "%s", err.msg);
    if (!s)
        return;
    FM_CHECK_INT(fm_source_get_kind(s), FM_SOURCE_FOLDER);
    FM_CHECK_INT(fm_source_is_live(s), 0);
    FM_CHECK_NEAR(fm_source_fps(s), 5.0, 0);
    FM_CHECK_INT(fm_source_width(s), 40);
    FM_CHECK_INT(fm_source_height(s), 30);
    fm_frame fr = {0};
    int count = 0;
    fm_status st;
    while ((st = fm_source_read(s, &fr, &err)) == FM_OK) {
        FM_CHECK_INT(fr.index, count);
        FM_CHECK_NEAR(fr.pts, count / 5.0, 1e-9);
        /* JPEG is lossy: a few levels of tolerance */
        FM_CHECK_NEAR(tv_mean(fr.image), tv_level(count), 3.0);
        count++;
    }
    FM_CHECK_INT(st, FM_SOURCE_END);
    FM_CHECK_INT(count, 5);
    fm_source_stats stats;
    fm_source_get_stats(s, &stats);
    FM_CHECK_INT(stats.decode_errors, 1); /* f0005_broken.png */
    FM_CHECK_INT(fm_source_read(s, &fr, &err), FM_SOURCE_END);
    fm_frame_clear(&fr);
    fm_source_close(s);
}

static void test_folder_without_images(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/empty", fm_test_tmpdir());
    mkdir(dir, 0700);
    fm_err err = {0};
    fm_source *s = fm_source_open(dir, NULL, &err);
    FM_CHECK(s == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "no .jpg, .jpeg or .png images");
    FM_CHECK_STR_CONTAINS(err.msg, dir);
}

static void test_demo_avi_matches_ffprobe(void)
{
    char clip[1024];
    snprintf(clip, sizeof clip, "%s/demo/uengmim_test_video.avi", fm_test_shared());
    char *probe = tv_probe(clip, "nb_read_frames,width,height", 1);
    if (!probe)
        return;
    long long want = -1;
    int pw = 0, ph = 0;
    /* csv order follows ffprobe's field order: width,height,...,nb_read_frames */
    FM_CHECK_MSG(sscanf(probe, "%d,%d,%lld", &pw, &ph, &want) == 3, "ffprobe said '%s'", probe);
    free(probe);
    fm_err err = {0};
    fm_source *s = fm_source_open(clip, NULL, &err);
    FM_CHECK_MSG(s != NULL, "%s", err.msg);
    if (!s)
        return;
    FM_CHECK_INT(fm_source_width(s), pw);
    FM_CHECK_INT(fm_source_height(s), ph);
    FM_CHECK(fm_source_fps(s) > 0);
    long long count = 0;
    fm_status st = tv_read_all(s, &count, NULL, 0, &err);
    FM_CHECK_MSG(st == FM_SOURCE_END, "%s", err.msg);
    FM_CHECK_INT(count, want);
    FM_CHECK(count > 0);
    fm_source_stats stats;
    fm_source_get_stats(s, &stats);
    FM_CHECK_INT(stats.decode_errors, 0);
    fm_source_close(s);
}

/* Copies src to dst, overwriting `len` bytes at `at` with a pseudo-random pattern, and
 * truncating to `keep` bytes when keep > 0. Returns the source size (0 on failure). */
static size_t damage_copy(const char *src, const char *dst, double at, size_t len, double keep)
{
    size_t n = 0;
    char *buf = fm_test_read_file(src, &n);
    if (!buf || n < 1024) {
        free(buf);
        return 0;
    }
    uint64_t rs = 7;
    size_t off = (size_t)(at * (double)n);
    for (size_t i = 0; i < len && off + i < n; i++)
        buf[off + i] = (char)fm_test_rand(&rs);
    size_t out_n = keep > 0 ? (size_t)(keep * (double)n) : n;
    FILE *f = fopen(dst, "wb");
    if (!f || fwrite(buf, 1, out_n, f) != out_n) {
        if (f)
            fclose(f);
        free(buf);
        return 0;
    }
    fclose(f);
    free(buf);
    return n;
}

static void check_damaged(const char *name, const char *codec_args)
{
    const int n = 40;
    char clip[1024], bad[1024], cut[1024];
    snprintf(clip, sizeof clip, "%s/%s", fm_test_tmpdir(), name);
    snprintf(bad, sizeof bad, "%s/bad_%s", fm_test_tmpdir(), name);
    snprintf(cut, sizeof cut, "%s/cut_%s", fm_test_tmpdir(), name);
    /* noisy frames so every packet is large and the damage lands inside picture data */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -f lavfi -i "
             "'testsrc=size=320x240:rate=10,noise=alls=40:allf=t' "
             "-frames:v %d %s -pix_fmt yuv420p '%s'",
             n, codec_args, clip);
    if (!tv_sh(cmd))
        return;
    FM_CHECK(damage_copy(clip, bad, 0.5, 3000, 0) > 0);
    FM_CHECK(damage_copy(clip, cut, 0.0, 0, 0.6) > 0);

    fm_video_set_log_level(0);
    fm_err err = {0};
    fm_source *s = fm_source_open(bad, NULL, &err);
    FM_CHECK_MSG(s != NULL, "%s", err.msg);
    if (s) {
        long long count = 0;
        fm_status st = tv_read_all(s, &count, NULL, 0, &err);
        FM_CHECK_MSG(st == FM_SOURCE_END, "%s: %s", bad, err.msg);
        fm_source_stats stats;
        fm_source_get_stats(s, &stats);
        long long errors = stats.decode_errors + stats.corrupt_frames + stats.read_errors;
        FM_CHECK_MSG(errors >= 1, "%s: no decoding error counted", name);
        FM_CHECK_MSG(count >= n - 5 && count <= n, "%s: %lld frames of %d", name, count, n);
        printf("  %s damaged: %lld frames, %lld decode errors, %lld concealed frames, %lld read "
               "errors\n",
               name, count, stats.decode_errors, stats.corrupt_frames, stats.read_errors);
        fm_source_close(s);
    }
    s = fm_source_open(cut, NULL, &err);
    FM_CHECK_MSG(s != NULL, "%s", err.msg);
    if (s) {
        long long count = 0;
        fm_status st = tv_read_all(s, &count, NULL, 0, &err);
        FM_CHECK_MSG(st == FM_SOURCE_END, "%s: %s", cut, err.msg);
        FM_CHECK_MSG(count >= n / 3 && count < n, "%s truncated: %lld frames of %d", name, count,
                     n);
        fm_source_close(s);
    }
}

static void test_damaged_mpeg4_avi(void)
{
    check_damaged("noise.avi", "-c:v mpeg4 -q:v 3");
}

static void test_damaged_h264_mp4(void)
{
    /* moov first, so the truncated copy still has its index */
    check_damaged("noise.mp4", "-c:v libx264 -preset ultrafast -movflags +faststart");
}

void suite_video_source(void);
void suite_video_source(void)
{
    fm_video_set_log_level(0);
    FM_RUN(test_spec_camera_maps_to_v4l2);
    FM_RUN(test_spec_urls_files_folders);
    FM_RUN(test_no_camera_message);
    FM_RUN(test_not_a_camera);
    FM_RUN(test_missing_file_and_scheme);
    FM_RUN(test_clip_mpeg4_avi);
    FM_RUN(test_clip_h264_mkv);
    FM_RUN(test_clip_h264_mp4);
    FM_RUN(test_frame_buffer_reused_or_kept);
    FM_RUN(test_folder_sorted);
    FM_RUN(test_folder_without_images);
    FM_RUN(test_demo_avi_matches_ffprobe);
    FM_RUN(test_damaged_mpeg4_avi);
    FM_RUN(test_damaged_h264_mp4);
}
