/* `facemask watch` does not hide bad input (issue 10, point 4), end to end on FM_BIN:
 *   - a source that cannot be watched (a text file, an empty file, a clip cut after its header,
 *     noise named .mp4) is one line naming it and exit status 1, and the events still end with
 *     source_error, the final summary and end ("error"), end last;
 *   - FFmpeg's own complaints about the broken clip arrive as "facemask: ffmpeg: ..." lines, and
 *     not at all with --quiet: every line on stderr is facemask's;
 *   - a folder's unreadable images (text named .jpg, an empty .png, a cut JPEG) are each named on
 *     stderr and as a source_error event, counted, and the exit status is 1; the good ones are
 *     all watched;
 *   - --retry: an RTSP source whose server is not up yet is tried again and watched once it is;
 *     with too few retries, each failed attempt is a source_error and the run ends in error;
 *   - --source - watches a video piped on standard input.
 * Each run has a time limit (4x under sanitizers). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "test.h"
#include "test_video_util.h"

#define DEMO "demo/uengmim_test_video.avi" /* 640x480, 104 frames */

static int limit_s(int release_s)
{
    return fm_test_sanitized() ? release_s * 4 : release_s;
}

/* Runs `facemask watch --source SRC --detector res10 --model-dir ... EXTRA` under a time limit
 * with stderr to err_path (stdout captured into *out when out is non-NULL, else /dev/null). */
static int watch(const char *src, const char *extra, const char *err_path, char **out)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "timeout -s KILL %d %s watch --source '%s' --detector res10 --model-dir %s/models "
             "--classifier models/mask %s 2>'%s'%s",
             limit_s(60), fm_test_bin(), src, fm_test_shared(), extra, err_path,
             out ? "" : " >/dev/null");
    char *o = NULL;
    int rc = fm_test_cmd(cmd, &o);
    if (out)
        *out = o;
    else
        free(o);
    return rc;
}

/* Lines of text, 0 for NULL. */
static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; p && *p; p++)
        n += *p == '\n';
    return n;
}

/* 1 when every line of stderr text is facemask's own ("facemask: ..."). */
static int all_ours(const char *text, char *bad, size_t bad_len)
{
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (strncmp(p, "facemask: ", 10) != 0) {
            snprintf(bad, bad_len, "%.*s", (int)(n < 200 ? n : 200), p);
            return 0;
        }
        p += n + (eol ? 1 : 0);
    }
    return 1;
}

/* The line number (0-based) of the n-th line holding needle, or -1. */
static int line_of(const char *text, const char *needle, int nth)
{
    int line = 0, seen = 0;
    for (const char *p = text; p && *p; line++) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char buf[4096];
        snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf - 1 ? n : sizeof buf - 1), p);
        if (strstr(buf, needle) && seen++ == nth)
            return line;
        p += n + (eol ? 1 : 0);
    }
    return -1;
}

/* The events of a run that never got a frame: source_error, final summary, end error. */
static void check_early_end(const char *ev, const char *name, const char *cause)
{
    char *text = fm_test_read_file(ev, NULL);
    FM_CHECK_MSG(text != NULL, "%s: no events file", name);
    if (!text)
        return;
    FM_CHECK_MSG(count_lines(text) == 3, "%s: %d event lines: %s", name, count_lines(text), text);
    FM_CHECK_MSG(line_of(text, "\"event\":\"source_error\"", 0) == 0, "%s: %s", name, text);
    FM_CHECK_MSG(line_of(text, cause, 0) == 0, "%s: the source_error does not say '%s': %s",
                 name, cause, text);
    FM_CHECK_MSG(line_of(text, "\"event\":\"summary\",\"t\":0.000,\"frame\":0,\"final\":true", 0) ==
                     1,
                 "%s: %s", name, text);
    FM_CHECK_MSG(strstr(text, "{\"event\":\"end\",\"t\":0.000,\"frame\":0,\"reason\":\"error\"}\n") &&
                     line_of(text, "\"event\":\"end\"", 0) == 2,
                 "%s: end is not the last line: %s", name, text);
    free(text);
}

static void test_watch_unreadable_sources(void)
{
    const char *t = fm_test_tmpdir();
    char text[700], empty[700], header[700], noise[700], clip[700], cmd[2048];
    snprintf(text, sizeof text, "%s/notes.txt", t);
    snprintf(empty, sizeof empty, "%s/empty.mp4", t);
    snprintf(header, sizeof header, "%s/header_only.mp4", t);
    snprintf(noise, sizeof noise, "%s/noise.mp4", t);
    snprintf(clip, sizeof clip, "%s/whole.mp4", t);
    fm_test_write_text(text, "this is not a video\n");
    fm_test_write_text(empty, "");
    /* noise: 3000 bytes of a fixed pseudo-random sequence */
    char buf[3000];
    uint64_t rng = 11;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)fm_test_rand(&rng);
    FILE *f = fopen(noise, "wb");
    FM_CHECK(f && fwrite(buf, 1, sizeof buf, f) == sizeof buf);
    if (f)
        fclose(f);
    /* the header (moov first) and 100 bytes of the first frame's data */
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -i %s/" DEMO " -t 2 -c:v libx264 -preset ultrafast "
             "-movflags +faststart '%s'",
             fm_test_shared(), clip);
    if (!tv_sh(cmd))
        return;
    size_t len = 0;
    char *whole = fm_test_read_file(clip, &len);
    char *mdat = NULL;
    for (size_t i = 0; whole && i + 4 <= len && !mdat; i++)
        if (memcmp(whole + i, "mdat", 4) == 0)
            mdat = whole + i;
    FM_CHECK_MSG(mdat != NULL, "no mdat box in %s", clip);
    if (mdat) {
        f = fopen(header, "wb");
        size_t n = (size_t)(mdat - whole) + 4 + 100;
        FM_CHECK(f && fwrite(whole, 1, n, f) == n);
        if (f)
            fclose(f);
    }
    free(whole);

    struct {
        const char *src, *name, *cause;
    } cases[] = {
        {text, "text file", "not a video FFmpeg can read"},
        {empty, "empty file", "the file is empty"},
        {header, "header only", "no frame could be decoded"},
        {noise, "noise", "cannot open"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char ev[700], err[700], bad[256], extra[800];
        snprintf(ev, sizeof ev, "%s/ev%zu.jsonl", t, i);
        snprintf(err, sizeof err, "%s/err%zu.txt", t, i);
        snprintf(extra, sizeof extra, "--events '%s'", ev);
        int rc = watch(cases[i].src, extra, err, NULL);
        char *log = fm_test_read_file(err, NULL);
        FM_CHECK_MSG(rc == 1, "%s: exit %d: %s", cases[i].name, rc, log ? log : "");
        FM_CHECK_MSG(log && strstr(log, cases[i].src) && strstr(log, cases[i].cause),
                     "%s: stderr does not name the file and '%s': %s", cases[i].name,
                     cases[i].cause, log ? log : "");
        FM_CHECK_MSG(all_ours(log, bad, sizeof bad), "%s: a line on stderr is not facemask's: %s",
                     cases[i].name, bad);
        check_early_end(ev, cases[i].name, cases[i].cause);
        if (strcmp(cases[i].name, "header only") == 0) {
            /* FFmpeg complained about the cut data, through facemask's log */
            FM_CHECK_MSG(log && strstr(log, "facemask: ffmpeg: "), "no FFmpeg line: %s",
                         log ? log : "");
        } else {
            FM_CHECK_MSG(count_lines(log) == 1, "%s: %d lines on stderr: %s", cases[i].name,
                         count_lines(log), log ? log : "");
        }
        free(log);
    }
    /* --quiet: FFmpeg's lines go, facemask's error stays (one line) */
    char err[700];
    snprintf(err, sizeof err, "%s/err_quiet.txt", t);
    int rc = watch(header, "--quiet", err, NULL);
    char *log = fm_test_read_file(err, NULL);
    FM_CHECK_INT(rc, 1);
    FM_CHECK_MSG(count_lines(log) == 1 && strstr(log, "no frame could be decoded") &&
                     !strstr(log, "ffmpeg"),
                 "with --quiet: %s", log ? log : "");
    free(log);
}

static void copy_demo(const char *name, const char *to)
{
    char from[700];
    snprintf(from, sizeof from, "%s/demo/%s", fm_test_shared(), name);
    size_t len = 0;
    char *b = fm_test_read_file(from, &len);
    FM_CHECK_MSG(b != NULL, "cannot read %s", from);
    FILE *f = fopen(to, "wb");
    FM_CHECK(f && (!b || fwrite(b, 1, len / (strstr(to, "cut") ? 2 : 1), f) > 0));
    if (f)
        fclose(f);
    free(b);
}

static void test_watch_folder_unreadable_images(void)
{
    char dir[700], p[800], ev[800], err[800];
    snprintf(dir, sizeof dir, "%s/frames", fm_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/a_good.png", dir);
    copy_demo("pyimagesearch_example_01.png", p);
    snprintf(p, sizeof p, "%s/b_text.jpg", dir);
    fm_test_write_text(p, "not an image\n");
    snprintf(p, sizeof p, "%s/c_good.jpg", dir);
    copy_demo("aizoo_demo2.jpg", p);
    snprintf(p, sizeof p, "%s/d_empty.png", dir);
    fm_test_write_text(p, "");
    snprintf(p, sizeof p, "%s/e_cut.jpg", dir);
    copy_demo("aizoo_demo2.jpg", p);
    snprintf(ev, sizeof ev, "%s/folder.jsonl", fm_test_tmpdir());
    snprintf(err, sizeof err, "%s/folder.txt", fm_test_tmpdir());
    char extra[900];
    snprintf(extra, sizeof extra, "--events '%s'", ev);
    int rc = watch(dir, extra, err, NULL);
    char *log = fm_test_read_file(err, NULL), *events = fm_test_read_file(ev, NULL);
    FM_CHECK_MSG(rc == 1, "exit %d: %s", rc, log ? log : "");
    const char *bad[] = {"b_text.jpg", "d_empty.png", "e_cut.jpg"};
    for (int i = 0; i < 3; i++) {
        char want[800];
        snprintf(want, sizeof want, "%s/%s", dir, bad[i]);
        FM_CHECK_MSG(line_of(log, want, 0) >= 0 && strstr(log, "skipped"),
                     "stderr does not report %s: %s", bad[i], log ? log : "");
        FM_CHECK_MSG(line_of(events, want, 0) >= 0 &&
                         line_of(events, want, 0) == line_of(events, "\"source_error\"", i),
                     "no source_error event for %s: %s", bad[i], events ? events : "");
    }
    FM_CHECK_STR_CONTAINS(log, "3 unreadable images skipped");
    FM_CHECK_MSG(!strstr(log ? log : "", "a_good") && !strstr(log ? log : "", "c_good"),
                 "a good image reported: %s", log ? log : "");
    /* the two good images were watched, and the run ended normally */
    FM_CHECK_STR_CONTAINS(events, "\"final\":true,\"fps\"");
    FM_CHECK_MSG(events && strstr(events, "\"decoded\":2,"), "not 2 frames decoded: %s",
                 events ? events : "");
    FM_CHECK_MSG(events && line_of(events, "\"event\":\"end\"", 0) == count_lines(events) - 1 &&
                     strstr(events, "\"reason\":\"eof\""),
                 "end: %s", events ? events : "");
    free(log);
    free(events);
}

/* ---- --retry ------------------------------------------------------------------------------- */

static void test_watch_retry_live_source(void)
{
    const char *t = fm_test_tmpdir();
    char clip[700], cmd[1400], why[512], url[128], ev[700], err[700], extra[900];
    snprintf(clip, sizeof clip, "%s/live.mp4", t);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=160x120:rate=25 -t 30 "
             "-c:v libx264 -preset ultrafast -g 25 -bf 0 -pix_fmt yuv420p '%s'",
             clip);
    if (!tv_sh(cmd))
        return;
    /* a free port: a server started and stopped */
    tv_rtsp_server probe;
    if (!tv_rtsp_start(clip, 0, &probe, why, sizeof why)) {
        fm_test_fail(__FILE__, __LINE__, "RTSP server: %s", why);
        return;
    }
    int port = probe.port;
    tv_rtsp_stop(&probe);
    snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/test", port);

    /* no server, one retry: two failed attempts, each a source_error, then end error */
    snprintf(ev, sizeof ev, "%s/retry1.jsonl", t);
    snprintf(err, sizeof err, "%s/retry1.txt", t);
    snprintf(extra, sizeof extra, "--timeout 2 --retry 1 --events '%s'", ev);
    double t0 = tv_now();
    int rc = watch(url, extra, err, NULL);
    double took = tv_now() - t0;
    char *log = fm_test_read_file(err, NULL), *events = fm_test_read_file(ev, NULL);
    FM_CHECK_MSG(rc == 1, "exit %d: %s", rc, log ? log : "");
    FM_CHECK_MSG(took >= 0.5, "gave up after %.2f s, before the 0.5 s wait", took);
    FM_CHECK_MSG(log && strstr(log, "retrying in 0.5 s (attempt 2 of 2)") &&
                     strstr(log, "after 1 more attempt"),
                 "stderr: %s", log ? log : "");
    FM_CHECK_MSG(count_lines(events) == 4 && line_of(events, "\"source_error\"", 1) == 1 &&
                     line_of(events, "\"reason\":\"error\"", 0) == 3,
                 "events: %s", events ? events : "");
    printf("  no server, --retry 1: exit %d after %.2f s\n", rc, took);
    free(log);
    free(events);

    /* the server comes up 1.5 s after watch starts: watched up to --max-frames */
    tv_rtsp_late job = {clip, port, 1.5, {-1, -1, 0}, 0, ""};
    pthread_t th;
    int started = pthread_create(&th, NULL, tv_rtsp_late_main, &job) == 0;
    FM_CHECK(started);
    snprintf(ev, sizeof ev, "%s/retry_ok.jsonl", t);
    snprintf(err, sizeof err, "%s/retry_ok.txt", t);
    snprintf(extra, sizeof extra, "--timeout 5 --retry 20 --max-frames 10 --events '%s'", ev);
    t0 = tv_now();
    rc = watch(url, extra, err, NULL);
    took = tv_now() - t0;
    if (started)
        pthread_join(th, NULL);
    FM_CHECK_MSG(job.ok, "late RTSP server on port %d: %s", port, job.why);
    log = fm_test_read_file(err, NULL);
    events = fm_test_read_file(ev, NULL);
    FM_CHECK_MSG(rc == 0, "exit %d: %s", rc, log ? log : "");
    FM_CHECK_MSG(line_of(events, "\"source_error\"", 0) == 0, "no source_error first: %s",
                 events ? events : "");
    FM_CHECK_MSG(events && strstr(events, "\"final\":true") &&
                     strstr(events, "\"reason\":\"max-frames\""),
                 "events: %s", events ? events : "");
    /* 10 frames read from the stream (a live source: the newest is processed, older ones are
     * counted as skipped) */
    FM_CHECK_MSG(events && strstr(events, "\"decoded\":10,"), "not 10 frames: %s",
                 events ? events : "");
    printf("  server up after 1.5 s, --retry 20: exit %d after %.2f s, %d failed attempts\n", rc,
           took, count_lines(events) - 2);
    free(log);
    free(events);
    tv_rtsp_stop(&job.srv);
}

/* --source - : a Matroska stream on standard input, every frame watched. */
static void test_watch_stdin(void)
{
    const char *t = fm_test_tmpdir();
    char clip[700], cmd[2048], err[700], src[800];
    snprintf(clip, sizeof clip, "%s/piped.mkv", t);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -i %s/" DEMO " -frames:v 30 -c:v libx264 -preset "
             "ultrafast '%s'",
             fm_test_shared(), clip);
    if (!tv_sh(cmd))
        return;
    snprintf(err, sizeof err, "%s/stdin.txt", t);
    snprintf(src, sizeof src, "-' --events - --quiet < '%s", clip);
    char *out = NULL;
    int rc = watch(src, "", err, &out);
    char *log = fm_test_read_file(err, NULL);
    FM_CHECK_MSG(rc == 0, "exit %d: %s", rc, log ? log : "");
    FM_CHECK_MSG(out && strstr(out, "\"frame\":30,\"final\":true") &&
                     strstr(out, "\"decoded\":30,") && strstr(out, "\"reason\":\"eof\""),
                 "events: %s", out ? out : "");
    free(out);
    free(log);
}

void suite_watch_input(void);
void suite_watch_input(void)
{
    FM_RUN(test_watch_unreadable_sources);
    FM_RUN(test_watch_folder_unreadable_images);
    FM_RUN(test_watch_retry_live_source);
    FM_RUN(test_watch_stdin);
}
