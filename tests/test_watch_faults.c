/* `facemask watch` under hostile input and faults, end to end on the facemask binary (FM_BIN):
 *   - a data race check (run under ThreadSanitizer by `make tsan-test`): --every 2 with frequent
 *     summaries, and the final summary accounts for every frame (frame + skipped == decoded);
 *   - events that cannot be written: /dev/full, a closed standard output, a full tmpfs (every
 *     line left in the file is whole);
 *   - a recording on a full tmpfs: one message, a record_error event, the run goes on, and the
 *     MP4 (fragmented) plays up to its last fragment;
 *   - snapshots on a full tmpfs, and on a tmpfs remounted read-only: one message, a
 *     snapshot_error event, no partial file;
 *   - SIGKILL at random moments: every events line whole, the MP4 readable by ffprobe, every
 *     snapshot a whole JPEG;
 *   - an HLS playlist and an ffconcat list saved as .avi: refused (no frame of the file they
 *     name is decoded) unless --allow-playlists;
 *   - a TCP server that accepts and stays silent, and an RTSP server killed with SIGKILL,
 *     restarted, then stopped (SIGSTOP): timeouts with a clear message, a reconnect, then the
 *     end per --reconnect.
 * The file-system faults need root (mount -t tmpfs, mount -o remount,ro); a tmpfs that cannot be
 * mounted fails the test (the sandbox allows it). Every child runs under a time limit. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/image.h"
#include "test.h"
#include "test_video_util.h"

extern char **environ;

#define DEMO "demo/uengmim_test_video.avi" /* 640x480, 104 frames, two people */
#define DEMO_FRAMES 104

static double limit_s(double release_s)
{
    return fm_test_sanitized() ? release_s * 6 : release_s;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- running watch ------------------------------------------------------------------------ */

typedef struct {
    char *argv[48];
    int n;
    char models[1024], source[1024];
} fargs;

static void fa_init(fargs *a, const char *source)
{
    memset(a, 0, sizeof *a);
    snprintf(a->models, sizeof a->models, "%s/models", fm_test_shared());
    snprintf(a->source, sizeof a->source, "%s", source);
    const char *fixed[] = {fm_test_bin(), "watch",        "--source",  a->source,
                           "--model-dir", a->models,      "--classifier", "models/mask",
                           "--quiet",     "--detector",   "res10"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        a->argv[a->n++] = (char *)fixed[i];
}

static void fa_add(fargs *a, const char *s)
{
    if (a->n < 46)
        a->argv[a->n++] = (char *)s;
}

static char *demo_path(void)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/" DEMO, fm_test_shared());
    return p;
}

/* Starts watch: stdin /dev/null, stderr to `log`, stdout to `out` (NULL: closed). */
static pid_t fa_spawn(fargs *a, const char *log, const char *out)
{
    a->argv[a->n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out)
        posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    else
        posix_spawn_file_actions_addclose(&fa, 1);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, a->argv[0], &fa, NULL, a->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fm_test_fail(__FILE__, __LINE__, "cannot start %s: %s", a->argv[0], strerror(rc));
        return -1;
    }
    return pid;
}

/* Waits up to timeout_s; the exit code (128 + signal), or -1 after killing it. */
static int fa_wait(pid_t pid, double timeout_s)
{
    double end = tv_now() + timeout_s;
    int st = 0;
    while (tv_now() < end) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        sleep_s(0.02);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    fm_test_fail(__FILE__, __LINE__, "watch did not finish within %.0f s (killed)", timeout_s);
    return -1;
}

/* Runs watch to its end; returns the exit code and leaves stderr in *log_text (caller frees). */
static int fa_run(fargs *a, const char *out, double timeout_s, char **log_text)
{
    char log[1100];
    snprintf(log, sizeof log, "%s/watch%d.log", fm_test_tmpdir(), a->n);
    pid_t pid = fa_spawn(a, log, out);
    int rc = pid > 0 ? fa_wait(pid, limit_s(timeout_s)) : -1;
    *log_text = fm_test_read_file(log, NULL);
    if (!*log_text)
        *log_text = calloc(1, 1);
    return rc;
}

static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The value of "key": in the last line of text that contains `marker`, or -1. */
static long long last_field(const char *text, const char *marker, const char *key)
{
    const char *hit = NULL;
    for (const char *p = text; p && (p = strstr(p, marker)) != NULL; p++)
        hit = p;
    if (!hit)
        return -1;
    while (hit > text && hit[-1] != '\n')
        hit--;
    const char *eol = strchr(hit, '\n');
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *v = strstr(hit, k);
    if (!v || (eol && v > eol))
        return -1;
    return atoll(v + strlen(k));
}

/* Every line of an events file is one whole JSON object with a newline; returns the count. */
static int check_whole_lines(const char *path)
{
    size_t len = 0;
    char *text = fm_test_read_file(path, &len);
    if (!text)
        return 0;
    int n = 0;
    FM_CHECK_MSG(len == 0 || text[len - 1] == '\n', "%s ends in a partial line: ...%s", path,
                 len > 80 ? text + len - 80 : text);
    for (char *p = text; *p;) {
        char *e = strchr(p, '\n');
        if (!e)
            break;
        FM_CHECK_MSG(strncmp(p, "{\"event\":\"", 10) == 0 && e[-1] == '}',
                     "%s line %d is not a whole event: %.*s", path, n + 1, (int)(e - p), p);
        n++;
        p = e + 1;
    }
    free(text);
    return n;
}

/* ---- small file systems (root) --------------------------------------------------------- */

static int tmpfs_mount(const char *dir, const char *size)
{
    mkdir(dir, 0755);
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s,mode=0755", size);
    if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) {
        fm_test_fail(__FILE__, __LINE__, "mount -t tmpfs -o %s %s: %s (these tests need root)",
                     opts, dir, strerror(errno));
        return 0;
    }
    return 1;
}

static int tmpfs_readonly(const char *dir)
{
    if (mount("tmpfs", dir, "tmpfs", MS_REMOUNT | MS_RDONLY, NULL) != 0) {
        fm_test_fail(__FILE__, __LINE__, "mount -o remount,ro %s: %s", dir, strerror(errno));
        return 0;
    }
    return 1;
}

static void tmpfs_umount(const char *dir)
{
    if (umount2(dir, MNT_DETACH) != 0)
        fm_test_fail(__FILE__, __LINE__, "umount %s: %s", dir, strerror(errno));
}

/* The demo clip played `times` times in a row, H.264, as dir/long.mkv. */
static int long_clip(char *clip, size_t len, int times)
{
    snprintf(clip, len, "%s/long.mkv", fm_test_tmpdir());
    char cmd[3072];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -stream_loop %d -i '%s' -c:v libx264 -preset ultrafast "
             "-pix_fmt yuv420p '%s'",
             times - 1, demo_path(), clip);
    return tv_sh(cmd);
}

/* ---- 9. the skipped-frame counter: no data race, every frame accounted for ---------------- */

static void test_faults_every_accounts_every_frame(void)
{
    char ev[1100];
    snprintf(ev, sizeof ev, "%s/ev.jsonl", fm_test_tmpdir());
    fargs a;
    fa_init(&a, demo_path());
    const char *extra[] = {"--every", "2", "--summary-every", "0.2", "--events", ev};
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
        fa_add(&a, extra[i]);
    char *log = NULL;
    int rc = fa_run(&a, "/dev/null", 60, &log);
    FM_CHECK_MSG(rc == 0, "watch exited %d: %s", rc, log);
    FM_CHECK_MSG(!strstr(log, "ThreadSanitizer"), "%s", log);
    char *text = fm_test_read_file(ev, NULL);
    long long frame = last_field(text, "\"final\":true", "frame");
    long long skipped = last_field(text, "\"final\":true", "skipped");
    long long decoded = last_field(text, "\"final\":true", "decoded");
    FM_CHECK_INT(frame, DEMO_FRAMES / 2);
    FM_CHECK_INT(skipped, DEMO_FRAMES / 2);
    FM_CHECK_INT(decoded, DEMO_FRAMES);
    FM_CHECK(count_str(text, "\"event\":\"summary\"") > 3);
    free(text);
    free(log);
}

/* ---- 4. events that cannot be written ---------------------------------------------------------- */

/* One message naming the output and the cause, the run to its end, exit status 1. */
static void check_one_failure(int rc, const char *log, const char *what, const char *cause)
{
    FM_CHECK_MSG(rc == 1, "watch exited %d, expected 1: %s", rc, log);
    FM_CHECK_MSG(count_str(log, cause) == 1, "'%s' %d times, expected once: %s", cause,
                 count_str(log, cause), log);
    FM_CHECK_STR_CONTAINS(log, what);
    FM_CHECK_STR_CONTAINS(log, "the run goes on");
    FM_CHECK_MSG(!strstr(log, "dts") && !strstr(log, "Sanitizer"), "%s", log);
}

static void test_faults_events_dev_full(void)
{
    fargs a;
    fa_init(&a, demo_path());
    fa_add(&a, "--events");
    fa_add(&a, "/dev/full");
    fa_add(&a, "--summary-every");
    fa_add(&a, "0.5");
    char *log = NULL;
    int rc = fa_run(&a, "/dev/null", 60, &log);
    check_one_failure(rc, log, "/dev/full: events: write failed", "No space left on device");
    free(log);
}

static void test_faults_events_stdout_closed(void)
{
    char rec[1100];
    snprintf(rec, sizeof rec, "%s/rec.mkv", fm_test_tmpdir());
    fargs a;
    fa_init(&a, demo_path());
    fa_add(&a, "--events");
    fa_add(&a, "-");
    fa_add(&a, "--record"); /* must not become "standard output" */
    fa_add(&a, rec);
    char *log = NULL;
    int rc = fa_run(&a, NULL, 60, &log);
    check_one_failure(rc, log, "standard output", "standard output is closed");
    char *n = tv_probe(rec, "nb_read_frames", 1);
    FM_CHECK_MSG(n && atoi(n) == DEMO_FRAMES, "recording has %s frames", n ? n : "?");
    free(n);
    free(log);
}

static void test_faults_events_disk_full(void)
{
    char dir[1100], ev[1200];
    snprintf(dir, sizeof dir, "%s/small", fm_test_tmpdir());
    snprintf(ev, sizeof ev, "%s/ev.jsonl", dir);
    if (!tmpfs_mount(dir, "4k"))
        return;
    fargs a;
    fa_init(&a, demo_path());
    fa_add(&a, "--events");
    fa_add(&a, ev);
    fa_add(&a, "--summary-every");
    fa_add(&a, "0.2"); /* ~20 summaries and the track events: ~7 KB for a 4 KB disk */
    char *log = NULL;
    int rc = fa_run(&a, "/dev/null", 60, &log);
    check_one_failure(rc, log, "ev.jsonl: events: write failed", "No space left on device");
    int lines = check_whole_lines(ev);
    printf("  %d whole lines kept\n", lines);
    FM_CHECK(lines > 3);
    free(log);
    tmpfs_umount(dir);
}

/* ---- 5. the recording on a full disk ----------------------------------------------------- */

static void test_faults_record_disk_full(void)
{
    char clip[1100], dir[1100], rec[1200], ev[1100];
    if (!long_clip(clip, sizeof clip, 4))
        return;
    snprintf(dir, sizeof dir, "%s/small", fm_test_tmpdir());
    snprintf(rec, sizeof rec, "%s/rec.mp4", dir);
    snprintf(ev, sizeof ev, "%s/ev.jsonl", fm_test_tmpdir());
    if (!tmpfs_mount(dir, "400k"))
        return;
    fargs a;
    fa_init(&a, clip);
    fa_add(&a, "--events");
    fa_add(&a, ev);
    fa_add(&a, "--record");
    fa_add(&a, rec);
    char *log = NULL;
    int rc = fa_run(&a, "/dev/null", 120, &log);
    check_one_failure(rc, log, "rec.mp4", "No space left on device");
    FM_CHECK_INT(count_str(log, "facemask:"), 1);
    char *text = fm_test_read_file(ev, NULL);
    FM_CHECK_INT(count_str(text, "\"event\":\"record_error\""), 1);
    long long at = last_field(text, "\"record_error\"", "frame");
    long long total = last_field(text, "\"final\":true", "frame");
    printf("  recording stopped at frame %lld of %lld\n", at, total);
    FM_CHECK_INT(total, 4 * DEMO_FRAMES); /* the run went on to the end */
    FM_CHECK(at > 0 && at < total);
    free(text);
    /* fragmented MP4: what reached the disk plays */
    char cmd[1400], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "ffprobe -v quiet -count_frames -select_streams v:0 -show_entries "
             "stream=nb_read_frames -of csv=p=0 '%s'",
             rec);
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    int frames = out ? atoi(out) : -1;
    printf("  ffprobe reads %d frames of the cut recording\n", frames);
    FM_CHECK(frames >= 50 && frames <= at);
    free(out);
    free(log);
    tmpfs_umount(dir);
}

/* ---- snapshots: a full disk, a read-only one ------------------------------------------ */

static void check_snapshot_fault(const char *size, int readonly, const char *cause)
{
    char dir[1100], snaps[1200], ev[1100];
    snprintf(dir, sizeof dir, "%s/small", fm_test_tmpdir());
    snprintf(snaps, sizeof snaps, "%s/snaps", dir);
    snprintf(ev, sizeof ev, "%s/ev.jsonl", fm_test_tmpdir());
    if (!tmpfs_mount(dir, size))
        return;
    mkdir(snaps, 0755);
    if (readonly && !tmpfs_readonly(dir)) {
        tmpfs_umount(dir);
        return;
    }
    fargs a;
    fa_init(&a, demo_path());
    fa_add(&a, "--events");
    fa_add(&a, ev);
    fa_add(&a, "--snapshots");
    fa_add(&a, snaps);
    char *log = NULL;
    int rc = fa_run(&a, "/dev/null", 60, &log);
    check_one_failure(rc, log, "snaps/", cause);
    char *text = fm_test_read_file(ev, NULL);
    FM_CHECK_INT(count_str(text, "\"event\":\"snapshot_error\""), 1);
    FM_CHECK_INT(last_field(text, "\"final\":true", "frame"), DEMO_FRAMES);
    free(text);
    char cmd[1400], *out = NULL;
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", snaps);
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    FM_CHECK_MSG(out && atoi(out) == 0, "files left in %s: %s", snaps, out ? out : "?");
    free(out);
    free(log);
    tmpfs_umount(dir);
}

static void test_faults_snapshots_disk_full(void)
{
    check_snapshot_fault("16k", 0, "No space left on device"); /* a snapshot is ~50 KB */
}

/* The folder exists and then its file system turns read-only (a remount: chmod does not stop
 * root); nothing is open there, so the remount is allowed. */
static void test_faults_snapshots_readonly(void)
{
    check_snapshot_fault("1m", 1, "Read-only file system");
}

/* ---- SIGKILL at random moments --------------------------------------------------------------- */

static void test_faults_sigkill_leaves_whole_outputs(void)
{
    char clip[1100];
    if (!long_clip(clip, sizeof clip, 4))
        return;
    uint64_t rng = 20240611;
    for (int run = 0; run < 3; run++) {
        char ev[1100], rec[1100], snaps[1100], log[1100];
        snprintf(ev, sizeof ev, "%s/ev%d.jsonl", fm_test_tmpdir(), run);
        snprintf(rec, sizeof rec, "%s/rec%d.mp4", fm_test_tmpdir(), run);
        snprintf(snaps, sizeof snaps, "%s/snaps%d", fm_test_tmpdir(), run);
        snprintf(log, sizeof log, "%s/kill%d.log", fm_test_tmpdir(), run);
        fargs a;
        fa_init(&a, clip);
        const char *extra[] = {"--events", ev,          "--record", rec,
                               "--snapshots", snaps, "--summary-every", "0.2"};
        for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
            fa_add(&a, extra[i]);
        pid_t pid = fa_spawn(&a, log, "/dev/null");
        if (pid < 0)
            return;
        /* once 100 frames are processed (the first MP4 fragment, frames 0..49, is out), then
         * a random 0 .. 2 s more */
        double t0 = tv_now(), end = t0 + limit_s(60);
        char *text = NULL;
        while (tv_now() < end && last_field(text, "\"summary\"", "frame") < 100) {
            free(text);
            sleep_s(0.05);
            text = fm_test_read_file(ev, NULL);
        }
        free(text);
        sleep_s(fm_test_randf(&rng, 0.0f, 2.0f));
        double at = tv_now() - t0;
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        FM_CHECK_MSG(WIFSIGNALED(st), "watch ended before the kill at %.2f s", at);
        int lines = check_whole_lines(ev);
        char cmd[1400], *out = NULL;
        snprintf(cmd, sizeof cmd,
                 "ffprobe -v quiet -count_frames -select_streams v:0 -show_entries "
                 "stream=nb_read_frames -of csv=p=0 '%s'",
                 rec);
        int prc = fm_test_cmd(cmd, &out);
        int frames = prc == 0 && out ? atoi(out) : -1;
        free(out);
        printf("  killed at %.2f s: %d whole event lines, ffprobe reads %d frames\n", at, lines,
               frames);
        FM_CHECK(lines > 0);
        FM_CHECK_MSG(prc == 0 && frames > 0, "ffprobe on the killed recording: %d, %d frames",
                     prc, frames);
        /* every snapshot under its final name is a whole JPEG */
        snprintf(cmd, sizeof cmd, "ls '%s' 2>/dev/null", snaps);
        out = NULL;
        fm_test_cmd(cmd, &out);
        for (char *p = out, *e; p && *p; p = e + 1) {
            e = strchr(p, '\n');
            if (!e)
                break;
            *e = '\0';
            char path[2300];
            snprintf(path, sizeof path, "%s/%s", snaps, p);
            fm_err err = {0};
            fm_image *img = fm_image_load(path, 0, &err);
            FM_CHECK_MSG(img != NULL, "snapshot %s: %s", path, err.msg);
            fm_image_free(img);
        }
        free(out);
    }
}

/* ---- 3. playlists saved as video files ----------------------------------------------------- */

static void test_faults_playlist_not_followed(void)
{
    const char *dir = fm_test_tmpdir();
    char other[1100], hls[1100], cat[1100], text[2400], ev[1100];
    snprintf(other, sizeof other, "%s/other.ts", dir);
    snprintf(hls, sizeof hls, "%s/hls.avi", dir);
    snprintf(cat, sizeof cat, "%s/concat.avi", dir);
    snprintf(ev, sizeof ev, "%s/ev.jsonl", dir);
    /* the other file: 7 frames of 176x144, unlike any clip the tests watch */
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=176x144:rate=10 -frames:v 7 "
             "-c:v mpeg2video -f mpegts '%s'",
             other);
    if (!tv_sh(cmd))
        return;
    snprintf(text, sizeof text,
             "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n%s\n#EXT-X-ENDLIST\n", other);
    fm_test_write_text(hls, text);
    snprintf(text, sizeof text, "ffconcat version 1.0\nfile 'other.ts'\n");
    fm_test_write_text(cat, text);
    const char *lists[] = {hls, cat};
    const char *formats[] = {"'hls'", "'concat'"};
    for (int i = 0; i < 2; i++) {
        fargs a;
        fa_init(&a, lists[i]);
        fa_add(&a, "--events");
        fa_add(&a, ev);
        char *log = NULL;
        unlink(ev);
        int rc = fa_run(&a, "/dev/null", 30, &log);
        FM_CHECK_MSG(rc == 1, "%s: watch exited %d: %s", lists[i], rc, log);
        FM_CHECK_STR_CONTAINS(log, formats[i]);
        FM_CHECK_STR_CONTAINS(log, "--allow-playlists");
        /* nothing decoded; the events still end: source_error, the final summary, end */
        char *evs = fm_test_read_file(ev, NULL);
        FM_CHECK_INT(last_field(evs, "\"final\":true", "decoded"), 0);
        FM_CHECK_STR_CONTAINS(evs, "{\"event\":\"source_error\"");
        FM_CHECK_STR_CONTAINS(evs, "{\"event\":\"end\",\"t\":0.000,\"frame\":0,\"reason\":\"error\"}\n");
        free(evs);
        free(log);
        /* asked for: followed, the other file's 7 frames */
        fa_add(&a, "--allow-playlists");
        rc = fa_run(&a, "/dev/null", 30, &log);
        FM_CHECK_MSG(rc == 0, "%s --allow-playlists: watch exited %d: %s", lists[i], rc, log);
        evs = fm_test_read_file(ev, NULL);
        FM_CHECK_INT(last_field(evs, "\"final\":true", "decoded"), 7);
        free(evs);
        free(log);
    }
}

/* ---- a stream that stalls; an RTSP server killed and restarted --------------------------- */

typedef struct {
    int fd, port;
    atomic_int stop, accepted; /* shared with the accepting thread */
} silent_server;

/* Accepts connections and never sends a byte. */
static void *silent_main(void *p)
{
    silent_server *s = p;
    int held[16], n = 0;
    while (!atomic_load(&s->stop)) {
        struct timespec ts = {0, 20000000};
        int c = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK);
        if (c >= 0) {
            if (n < 16)
                held[n++] = c;
            else
                close(c);
            atomic_fetch_add(&s->accepted, 1);
        } else {
            nanosleep(&ts, NULL);
        }
    }
    for (int i = 0; i < n; i++)
        close(held[i]);
    return NULL;
}

static int silent_start(silent_server *s, pthread_t *th)
{
    memset(s, 0, sizeof *s);
    atomic_init(&s->stop, 0);
    atomic_init(&s->accepted, 0);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(s->fd, 8) != 0 || getsockname(s->fd, (struct sockaddr *)&addr, &len) != 0) {
        fm_test_fail(__FILE__, __LINE__, "silent server: %s", strerror(errno));
        if (s->fd >= 0)
            close(s->fd);
        return 0;
    }
    s->port = ntohs(addr.sin_port);
    if (pthread_create(th, NULL, silent_main, s) != 0) {
        close(s->fd);
        return 0;
    }
    return 1;
}

static void test_faults_silent_server_times_out(void)
{
    silent_server srv;
    pthread_t th;
    if (!silent_start(&srv, &th))
        return;
    const char *fmt[] = {"rtsp://127.0.0.1:%d/cam", "http://127.0.0.1:%d/cam.mjpg"};
    for (int i = 0; i < 2; i++) {
        char url[128];
        snprintf(url, sizeof url, fmt[i], srv.port);
        fargs a;
        fa_init(&a, url);
        fa_add(&a, "--timeout");
        fa_add(&a, "1");
        char *log = NULL;
        double t0 = tv_now();
        int rc = fa_run(&a, "/dev/null", 20, &log);
        double took = tv_now() - t0;
        printf("  %s: exit %d after %.1f s: %s", url, rc, took, log);
        FM_CHECK_INT(rc, 1);
        FM_CHECK_STR_CONTAINS(log, "no answer within 1 s (open timeout)");
        FM_CHECK(took < limit_s(6));
        free(log);
    }
    FM_CHECK(atomic_load(&srv.accepted) >= 2);
    atomic_store(&srv.stop, 1);
    pthread_join(th, NULL);
    close(srv.fd);
}

static void test_faults_rtsp_killed_restarted_stalled(void)
{
    char clip[1100], ev[1100], log[1100], why[512], url[128];
    snprintf(clip, sizeof clip, "%s/live.mp4", fm_test_tmpdir());
    snprintf(ev, sizeof ev, "%s/ev.jsonl", fm_test_tmpdir());
    snprintf(log, sizeof log, "%s/watch.log", fm_test_tmpdir());
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=160x120:rate=25 -t 60 "
             "-c:v libx264 -preset ultrafast -g 25 -bf 0 -pix_fmt yuv420p '%s'",
             clip);
    if (!tv_sh(cmd))
        return;
    tv_rtsp_server srv = {-1, -1, 0};
    if (!tv_rtsp_start(clip, 0, &srv, why, sizeof why)) {
        fm_test_fail(__FILE__, __LINE__, "RTSP server: %s", why);
        return;
    }
    int port = srv.port;
    snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/test", port);
    fargs a;
    fa_init(&a, url);
    /* --timeout 2: the test server sends a burst on connect and then nothing for about a
     * second (its pipeline's latency), which a 1 s timeout takes for a dead stream */
    const char *extra[] = {"--events", ev, "--summary-every", "0.2", "--timeout", "2",
                           "--reconnect", "2"};
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
        fa_add(&a, extra[i]);
    pid_t pid = fa_spawn(&a, log, "/dev/null");
    char *text = NULL;
    double end = tv_now() + limit_s(20);
    while (tv_now() < end && last_field(text, "\"summary\"", "frame") < 10) {
        free(text);
        sleep_s(0.1);
        text = fm_test_read_file(ev, NULL);
    }
    FM_CHECK_MSG(last_field(text, "\"summary\"", "frame") >= 10, "no frames: %s", text);
    kill(srv.pid, SIGKILL); /* no teardown: the connection just dies */
    waitpid(srv.pid, NULL, 0);
    close(srv.out_fd);
    srv.pid = -1;
    sleep_s(0.5);
    if (!tv_rtsp_start(clip, port, &srv, why, sizeof why))
        fm_test_fail(__FILE__, __LINE__, "RTSP server restart on %d: %s", port, why);
    end = tv_now() + limit_s(20);
    while (tv_now() < end && !strstr(text ? text : "", "\"reconnect\"")) {
        free(text);
        sleep_s(0.1);
        text = fm_test_read_file(ev, NULL);
    }
    FM_CHECK_MSG(strstr(text ? text : "", "\"reconnect\""), "no reconnect: %s", text);
    /* frames flowing from the restarted server before it is stalled (under a sanitizer the
     * reconnected session can take more than a second to deliver) */
    long long at_reconnect = last_field(text, "\"summary\"", "frame");
    end = tv_now() + limit_s(20);
    while (tv_now() < end && last_field(text, "\"summary\"", "frame") < at_reconnect + 10) {
        free(text);
        sleep_s(0.1);
        text = fm_test_read_file(ev, NULL);
    }
    FM_CHECK_MSG(last_field(text, "\"summary\"", "frame") >= at_reconnect + 10,
                 "no frames after the reconnect: %s", text);
    /* alive but silent: --timeout 2, then 2 attempts; the run ends with "error" */
    double t0 = tv_now();
    if (srv.pid > 0)
        kill(srv.pid, SIGSTOP);
    int rc = fa_wait(pid, limit_s(20));
    double took = tv_now() - t0;
    char *err = fm_test_read_file(log, NULL);
    printf("  stalled: watch ended after %.1f s, exit %d: %s", took, rc, err ? err : "");
    FM_CHECK_INT(rc, 1);
    FM_CHECK_STR_CONTAINS(err, "no data for 2 s (read timeout)");
    FM_CHECK_STR_CONTAINS(err, "2 reconnection attempts failed");
    free(err);
    free(text);
    text = fm_test_read_file(ev, NULL);
    FM_CHECK_INT(last_field(text, "\"event\":\"end\"", "frame"),
                 last_field(text, "\"final\":true", "frame"));
    FM_CHECK_STR_CONTAINS(text, "\"reason\":\"error\"");
    long long f = last_field(text, "\"final\":true", "frame");
    long long s = last_field(text, "\"final\":true", "skipped");
    long long d = last_field(text, "\"final\":true", "decoded");
    FM_CHECK_MSG(f + s == d, "processed %lld + skipped %lld != decoded %lld", f, s, d);
    free(text);
    tv_rtsp_stop(&srv);
}

void suite_watch_faults(void);
void suite_watch_faults(void)
{
    FM_RUN(test_faults_every_accounts_every_frame);
    FM_RUN(test_faults_events_dev_full);
    FM_RUN(test_faults_events_stdout_closed);
    FM_RUN(test_faults_events_disk_full);
    FM_RUN(test_faults_record_disk_full);
    FM_RUN(test_faults_snapshots_disk_full);
    FM_RUN(test_faults_snapshots_readonly);
    FM_RUN(test_faults_sigkill_leaves_whole_outputs);
    FM_RUN(test_faults_playlist_not_followed);
    FM_RUN(test_faults_silent_server_times_out);
    FM_RUN(test_faults_rtsp_killed_restarted_stalled);
}
