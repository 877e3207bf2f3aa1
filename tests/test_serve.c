/* facemask serve (serve/serve.h) on the demo clip, with real models, a real SQLite history and
 * real processes:
 *   - the clip as two cameras (in this process, fm_serve_run): each camera's stored events are
 *     the lines `facemask watch --events` writes for the clip (fps aside), the site state's
 *     counts match them, snapshots are saved and indexed, an existing recording is not
 *     replaced;
 *   - a live-view viewer (registered through on_state) gets the annotated frame as JPEG;
 *   - a live RTSP camera (the test server, whose stream ends after the clip): frames flow, the
 *     drop and the reconnect are stored and counted, every frame read is processed or skipped;
 *   - a camera on a closed RTSP port keeps retrying (source_error rows) while the other plays
 *     its clip to the end; SIGTERM then ends both (end "signal"), exit 0;
 *   - kill -9 mid-run leaves a database that passes integrity_check and holds what was stored;
 *     serve runs again on it, pruning events older than retention-days at start;
 *   - SIGTERM with two looping cameras: every track leaves, a final summary and an end line per
 *     camera, exit 0;
 *   - a wrong site file: one line naming the file, line and key, exit 2; a database that
 *     cannot be created and a missing clip: exit 1 with the reason.
 * test_serve_threads_short is the ThreadSanitizer case (TSAN_SUITES). */
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "serve/serve.h"
#include "site/history.h"
#include "test.h"
#include "test_video_util.h"

#define CLIP "demo/uengmim_test_video.avi"
#define CLASSIFIER "models/mask"

static double limit_s(double release_s)
{
    return fm_test_sanitized() ? release_s * 4 : release_s;
}

static const char *clip(void)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/" CLIP, fm_test_shared());
    return path;
}

/* The project's models folder: the default detector (models/detector, fine-tuned YuNet-n)
 * and the links `make models` makes to the shared ones. */
static const char *models(void)
{
    return "models";
}

/* ---- the history, read back -------------------------------------------------------------- */

typedef struct {
    const char *camera; /* NULL: all */
    char *text;         /* payload lines, '\n' after each, "fps" removed */
    size_t len, cap;
    int rows;
    char last_type[32];
} rows;

/* The line without its "fps":N field (a wall-clock rate, different in every run). */
static void append_line(rows *r, const char *payload)
{
    size_t n = strlen(payload);
    if (r->len + n + 2 > r->cap) {
        r->cap = (r->len + n + 2) * 2;
        r->text = realloc(r->text, r->cap);
    }
    const char *f = strstr(payload, "\"fps\":");
    if (f) {
        const char *e = f + 6;
        while (*e && *e != ',' && *e != '}')
            e++;
        memcpy(r->text + r->len, payload, (size_t)(f - payload));
        r->len += (size_t)(f - payload);
        payload = *e == ',' ? e + 1 : e;
        n = strlen(payload);
    }
    memcpy(r->text + r->len, payload, n);
    r->len += n;
    r->text[r->len++] = '\n';
    r->text[r->len] = '\0';
}

static int row_cb(void *ctx, const fm_history_row *row)
{
    rows *r = ctx;
    if (r->camera && strcmp(r->camera, row->camera) != 0)
        return 0;
    append_line(r, row->payload);
    r->rows++;
    snprintf(r->last_type, sizeof r->last_type, "%s", row->type);
    return 0;
}

/* Every stored event of `camera` (NULL: all), oldest first; -1 when the database cannot be
 * read (yet). */
static int read_rows(const char *db, const char *camera, rows *r)
{
    memset(r, 0, sizeof *r);
    r->camera = camera;
    fm_err err = {0};
    fm_history *h = fm_history_open(db, FM_HISTORY_EXISTING, &err);
    if (!h)
        return -1;
    fm_status st = fm_history_unsent(h, 0, 0, row_cb, r, &err);
    fm_history_close(h);
    return st == FM_OK ? r->rows : -1;
}

static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The number after "key": in the last line of text that contains `event`. */
static long long last_num(const char *text, const char *event, const char *key)
{
    const char *line = NULL;
    for (const char *p = text ? strstr(text, event) : NULL; p; p = strstr(p + 1, event))
        line = p;
    const char *k = line ? strstr(line, key) : NULL;
    return k ? atoll(k + strlen(key)) : -1;
}

/* Polls until camera has a row of `type` (or, with type NULL, at least min rows); returns the
 * rows then, -1 on timeout. */
static int wait_rows(const char *db, const char *camera, const char *type, int min, double s)
{
    double end = tv_now() + limit_s(s);
    while (tv_now() < end) {
        rows r;
        int n = read_rows(db, camera, &r);
        int ok = n >= 0 && (type ? count_str(r.text, type) > 0 : n >= min);
        free(r.text);
        if (ok)
            return n;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* ---- in this process --------------------------------------------------------------------- */

static fm_serve_opts opts(const char *config)
{
    fm_serve_opts o;
    memset(&o, 0, sizeof o);
    o.config = config;
    o.model_dir = models();
    o.classifier_dir = CLASSIFIER;
    o.threads = 2;
    o.quiet = 1;
    o.summary_every = 10;
    return o;
}

/* `facemask watch --events` on the clip: its lines without fps. */
static char *watch_events(const char *dir)
{
    char cmd[4096], ev[1024];
    snprintf(ev, sizeof ev, "%s/watch.jsonl", dir);
    snprintf(cmd, sizeof cmd,
             "%s watch --source %s --model-dir %s --classifier " CLASSIFIER
             " --events %s --quiet 2>&1",
             fm_test_bin(), clip(), models(), ev);
    char *out = NULL;
    int rc = fm_test_cmd(cmd, &out);
    FM_CHECK_MSG(rc == 0, "watch: exit %d: %s", rc, out ? out : "");
    free(out);
    char *text = fm_test_read_file(ev, NULL);
    FM_CHECK_MSG(text != NULL, "no %s", ev);
    rows r;
    memset(&r, 0, sizeof r);
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (*line)
            append_line(&r, line);
    }
    free(text);
    return r.text;
}

static int count_files(const char *dir, const char *prefix)
{
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "ls -A '%s' 2>/dev/null | grep -c '^%s' ", dir, prefix);
    fm_test_cmd(cmd, &out);
    int n = out ? atoi(out) : 0;
    free(out);
    return n;
}

static void test_serve_two_cameras(void)
{
    const char *tmp = fm_test_tmpdir();
    char site[1100], db[1100], text[8192], rec[1100], recdir[1040], snaps[1100];
    snprintf(site, sizeof site, "%s/site.yaml", tmp);
    snprintf(db, sizeof db, "%s/site.db", tmp);
    snprintf(recdir, sizeof recdir, "%s/rec", tmp);
    snprintf(rec, sizeof rec, "%s/b.mkv", recdir);
    snprintf(snaps, sizeof snaps, "%s/snaps/b", tmp);
    mkdir(recdir, 0777);
    fm_test_write_text(rec, "keep"); /* serve never replaces a file */
    snprintf(text, sizeof text,
             "cameras:\n"
             "  - name: front\n"
             "    source: %s\n"
             "  - name: back\n"
             "    source: %s\n"
             "    snapshots: %s\n"
             "    blur: true\n"
             "    record: %s\n"
             "database:\n"
             "  path: %s\n",
             clip(), clip(), snaps, rec, db);
    fm_test_write_text(site, text);
    fm_serve_opts o = opts(site);
    static fm_serve_stats s;
    fm_err err = {0};
    FM_CHECK_MSG(fm_serve_run(&o, &s, &err) == FM_OK, "%s", err.msg);
    FM_CHECK_INT(s.ncameras, 2);
    FM_CHECK_MSG(s.output_errors == 0, "%s", s.output_error);
    FM_CHECK_INT(s.camera_errors, 0);
    FM_CHECK_STR_CONTAINS(s.end_reason, "eof");

    char *want = watch_events(tmp);
    long long frames = last_num(want, "\"final\":true", "\"frame\":");
    long long faces = last_num(want, "\"final\":true", "\"faces\":");
    long long people = last_num(want, "\"final\":true", "\"people\":");
    long long mask = last_num(want, "\"final\":true", "\"mask\":");
    long long no_mask = last_num(want, "\"final\":true", "\"no_mask\":");
    FM_CHECK(frames > 50 && people >= 2);
    const char *names[2] = {"front", "back"};
    long long total = 0;
    for (int i = 0; i < 2; i++) {
        rows r;
        int n = read_rows(db, names[i], &r);
        FM_CHECK_MSG(n > 0, "camera %s: no rows", names[i]);
        FM_CHECK_MSG(want && r.text && strcmp(r.text, want) == 0,
                     "camera %s: stored events differ from watch's:\n%s\nwatch:\n%s", names[i],
                     r.text ? r.text : "", want ? want : "");
        total += n;
        free(r.text);
        const fm_site_cam_stats *c = &s.cameras[i];
        FM_CHECK_STR_CONTAINS(c->name, names[i]);
        FM_CHECK_INT(c->frames, frames);
        FM_CHECK_INT(c->skipped, 0);
        FM_CHECK_INT(c->faces, faces);
        FM_CHECK_INT(c->people, people);
        FM_CHECK_INT(c->masked, mask);
        FM_CHECK_INT(c->unmasked, no_mask);
        FM_CHECK_INT(c->latency_count, frames);
        FM_CHECK(c->latency_sum > 0);
        FM_CHECK_INT(c->status, FM_CAM_ENDED);
        FM_CHECK_INT(c->reconnects, 0);
    }
    FM_CHECK_INT(s.events, total);
    FM_CHECK_INT(s.frames, 2 * frames);
    /* snapshots: one per unmasked person, on "back" only, each indexed */
    int nsnap = count_files(snaps, "no_mask_id");
    FM_CHECK_MSG(nsnap >= 1 && nsnap <= no_mask + 1, "%d snapshots", nsnap);
    FM_CHECK_INT(count_files(snaps, ".no_mask"), 0);
    fm_history *h = fm_history_open(db, FM_HISTORY_EXISTING, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    FM_CHECK_INT(fm_history_count(h, "snapshots", &err), nsnap);
    fm_history_close(h);
    /* the recording went beside the existing file, which is untouched */
    char *kept = fm_test_read_file(rec, NULL);
    FM_CHECK_MSG(kept && strcmp(kept, "keep") == 0, "%s was replaced", rec);
    free(kept);
    FM_CHECK_INT(count_files(recdir, "b-"), 1);
    printf("  %lld frames per camera, %lld events stored, %d snapshots\n", frames, total, nsnap);
    free(want);
}

/* Two cameras, two workers, a few frames each: the ThreadSanitizer case. */
static void test_serve_threads_short(void)
{
    const char *tmp = fm_test_tmpdir();
    char site[1100], db[1100], text[8192];
    snprintf(site, sizeof site, "%s/site.yaml", tmp);
    snprintf(db, sizeof db, "%s/site.db", tmp);
    snprintf(text, sizeof text,
             "cameras:\n"
             "  - {name: one, source: %s, every: 10}\n"
             "  - {name: two, source: %s, every: 10, snapshots: %s/snaps}\n"
             "database: {path: %s}\n",
             clip(), clip(), tmp, db);
    fm_test_write_text(site, text);
    fm_serve_opts o = opts(site);
    static fm_serve_stats s;
    fm_err err = {0};
    FM_CHECK_MSG(fm_serve_run(&o, &s, &err) == FM_OK, "%s", err.msg);
    for (int i = 0; i < 2; i++) {
        const fm_site_cam_stats *c = &s.cameras[i];
        FM_CHECK_MSG(c->frames >= 10 && c->frames <= 11, "camera %d: %lld frames", i,
                     c->frames);
        FM_CHECK_INT(c->frames + c->skipped, s.cameras[0].frames + s.cameras[0].skipped);
        FM_CHECK_INT(c->latency_count, c->frames);
        rows r;
        FM_CHECK(read_rows(db, c->name, &r) > 0);
        FM_CHECK_STR_CONTAINS(r.last_type, "end");
        FM_CHECK_INT(last_num(r.text, "\"final\":true", "\"frame\":"), c->frames);
        FM_CHECK_INT(last_num(r.text, "\"final\":true", "\"decoded\":"), c->frames + c->skipped);
        free(r.text);
    }
}

/* ---- the live view ----------------------------------------------------------------------- */

typedef struct {
    fm_site_state *state;
    pthread_t thread;
    int started;
    int w, h;        /* the JPEG's size */
    size_t len;
    char why[600];
} viewer;

/* A viewer of camera 0: waits for an annotated frame, checks it decodes, then ends the run. */
static void *view_main(void *arg)
{
    viewer *v = arg;
    fm_site_state_watch(v->state, 0);
    unsigned long long seq = 0;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    int got = fm_site_state_get_jpeg(v->state, 0, &seq, &buf, &cap, &len, limit_s(60));
    fm_site_state_unwatch(v->state, 0);
    if (got == 1) {
        char path[1100];
        snprintf(path, sizeof path, "%s/live.jpg", fm_test_tmpdir());
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(buf, 1, len, f);
            fclose(f);
        }
        fm_err err = {0};
        fm_image *img = fm_image_load(path, 0, &err);
        if (img) {
            v->w = img->w;
            v->h = img->h;
        } else {
            snprintf(v->why, sizeof v->why, "%s", err.msg);
        }
        fm_image_free(img);
        v->len = len;
    } else {
        snprintf(v->why, sizeof v->why, "no frame (get_jpeg %d)", got);
    }
    free(buf);
    kill(getpid(), SIGTERM); /* the last use of the state: fm_serve_run then ends */
    return NULL;
}

static void on_state(void *ctx, fm_site_state *state)
{
    viewer *v = ctx;
    v->state = state;
    v->started = pthread_create(&v->thread, NULL, view_main, v) == 0;
}

/* A viewer registered through on_state gets the camera's annotated frame as JPEG (encoded
 * only while someone watches). */
static void test_serve_live_view(void)
{
    const char *tmp = fm_test_tmpdir();
    char site[1100], db[1100], text[8192];
    snprintf(site, sizeof site, "%s/site.yaml", tmp);
    snprintf(db, sizeof db, "%s/site.db", tmp);
    snprintf(text, sizeof text,
             "cameras:\n  - {name: cam, source: %s, loop: true, blur: true}\n"
             "database: {path: %s}\n",
             clip(), db);
    fm_test_write_text(site, text);
    fm_serve_opts o = opts(site);
    static viewer v;
    memset(&v, 0, sizeof v);
    o.on_state = on_state;
    o.on_state_ctx = &v;
    static fm_serve_stats s;
    fm_err err = {0};
    fm_status rc = fm_serve_run(&o, &s, &err);
    if (v.started)
        pthread_join(v.thread, NULL);
    FM_CHECK_MSG(rc == FM_OK, "%s", err.msg);
    FM_CHECK(v.started);
    FM_CHECK_MSG(v.w == 640 && v.h == 480, "live view: %dx%d (%s)", v.w, v.h, v.why);
    FM_CHECK_STR_CONTAINS(s.end_reason, "signal");
    printf("  live view: a %dx%d JPEG of %zu bytes\n", v.w, v.h, v.len);
}

/* ---- a live camera ----------------------------------------------------------------------- */

typedef struct {
    const char *db;
    int ok;
} stopper;

/* Ends the run in this process (SIGTERM to ourselves, which fm_serve_run handles) once the
 * camera has reconnected and processed frames after it. */
static void *stop_after_reconnect(void *arg)
{
    stopper *s = arg;
    double end = tv_now() + limit_s(60);
    while (tv_now() < end && !s->ok) {
        rows r;
        if (read_rows(s->db, "live", &r) > 0) {
            const char *rc = r.text ? strstr(r.text, "\"event\":\"reconnect\"") : NULL;
            s->ok = rc && strstr(rc, "\"event\":\"summary\"") != NULL;
        }
        free(r.text);
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(getpid(), SIGTERM);
    return NULL;
}

/* The clip over RTSP (build/rtsp_server serves it once per client, so the stream ends after
 * 4 s and serve reconnects): frames flow, the drop and the reconnect are stored and counted in
 * the state, and after SIGTERM every frame read is processed or counted skipped. */
static void test_serve_rtsp_live(void)
{
    const char *tmp = fm_test_tmpdir();
    char mp4[256], site[1100], db[1100], text[8192], cmd[3000], why[1024];
    snprintf(mp4, sizeof mp4, "%s/clip.mp4", tmp);
    snprintf(site, sizeof site, "%s/site.yaml", tmp);
    snprintf(db, sizeof db, "%s/site.db", tmp);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -i '%s' -c:v libx264 -g 25 -pix_fmt yuv420p '%s'",
             clip(), mp4);
    if (!tv_sh(cmd))
        return;
    tv_rtsp_server srv = {-1, -1, 0};
    if (!tv_rtsp_start(mp4, 0, &srv, why, sizeof why)) {
        fm_test_fail(__FILE__, __LINE__, "RTSP server: %s", why);
        return;
    }
    snprintf(text, sizeof text,
             "cameras:\n  - {name: live, source: 'rtsp://127.0.0.1:%d/test'}\n"
             "database: {path: %s}\n",
             srv.port, db);
    fm_test_write_text(site, text);
    fm_serve_opts o = opts(site);
    o.timeout = 2;
    o.summary_every = 0.5;
    stopper st = {db, 0};
    pthread_t th;
    pthread_create(&th, NULL, stop_after_reconnect, &st);
    static fm_serve_stats s;
    fm_err err = {0};
    fm_status rc = fm_serve_run(&o, &s, &err);
    pthread_join(th, NULL);
    tv_rtsp_stop(&srv);
    FM_CHECK_MSG(rc == FM_OK, "%s", err.msg);
    FM_CHECK_MSG(st.ok, "no reconnect within %.0f s", limit_s(60));
    FM_CHECK_STR_CONTAINS(s.end_reason, "signal");
    const fm_site_cam_stats *c = &s.cameras[0];
    FM_CHECK(c->reconnects >= 1);
    FM_CHECK(c->frames >= 3); /* under a sanitizer most frames are skipped */
    rows r;
    FM_CHECK(read_rows(db, "live", &r) > 0);
    FM_CHECK_STR_CONTAINS(r.last_type, "end");
    FM_CHECK_STR_CONTAINS(r.text, "\"event\":\"source_error\"");
    FM_CHECK_STR_CONTAINS(r.text, "\"reason\":\"signal\"");
    FM_CHECK(count_str(r.text, "\"event\":\"appear\"") >= 2);
    long long frame = last_num(r.text, "\"final\":true", "\"frame\":");
    long long skip = last_num(r.text, "\"final\":true", "\"skipped\":");
    long long decoded = last_num(r.text, "\"final\":true", "\"decoded\":");
    FM_CHECK_INT(frame, c->frames);
    FM_CHECK_INT(skip, c->skipped);
    FM_CHECK_INT(frame + skip, decoded);
    printf("  live: %lld frames processed, %lld skipped, %lld reconnects\n", c->frames,
           c->skipped, c->reconnects);
    free(r.text);
}

/* ---- the command ------------------------------------------------------------------------ */

static pid_t start_serve(const char *site, const char *log)
{
    char *argv[] = {(char *)fm_test_bin(), "serve", "--config", (char *)site, "--model-dir",
                    (char *)models(), "--classifier", CLASSIFIER, "--timeout", "2", NULL};
    return tv_spawn(argv, log);
}

static void test_serve_dead_camera(void)
{
    const char *tmp = fm_test_tmpdir();
    char site[1100], db[1100], log[1100], text[8192];
    snprintf(site, sizeof site, "%s/site.yaml", tmp);
    snprintf(db, sizeof db, "%s/site.db", tmp);
    snprintf(log, sizeof log, "%s/serve.log", tmp);
    int port = tv_closed_port();
    FM_CHECK(port > 0);
    snprintf(text, sizeof text,
             "cameras:\n"
             "  - name: dead\n"
             "    source: rtsp://127.0.0.1:%d/nothing\n"
             "  - name: clip\n"
             "    source: %s\n"
             "database:\n"
             "  path: %s\n",
             port, clip(), db);
    fm_test_write_text(site, text);
    pid_t pid = start_serve(site, log);
    if (pid < 0)
        return;
    /* the clip plays to its end while the dead camera retries */
    int n = wait_rows(db, "clip", "\"event\":\"end\"", 0, 60);
    FM_CHECK_MSG(n > 0, "the clip camera did not end within %.0f s", limit_s(60));
    int dead_errors = 0;
    rows r;
    if (read_rows(db, "dead", &r) >= 0)
        dead_errors = count_str(r.text, "\"event\":\"source_error\"");
    FM_CHECK_MSG(dead_errors >= 1, "dead camera: %s", r.text ? r.text : "");
    FM_CHECK_INT(count_str(r.text, "\"event\":\"end\""), 0); /* still retrying */
    free(r.text);
    kill(pid, SIGTERM);
    int rc = tv_wait_exit(pid, limit_s(30));
    char *out = fm_test_read_file(log, NULL);
    FM_CHECK_MSG(rc == 0, "serve: exit %d after SIGTERM: %s", rc, out ? out : "");
    FM_CHECK_STR_CONTAINS(out, "camera dead: rtsp://127.0.0.1:");
    FM_CHECK_STR_CONTAINS(out, "retrying in");
    free(out);
    FM_CHECK(read_rows(db, "clip", &r) > 0);
    FM_CHECK_STR_CONTAINS(r.text, "\"reason\":\"eof\"");
    FM_CHECK_INT(count_str(r.text, "\"event\":\"appear\""), 2);
    free(r.text);
    FM_CHECK(read_rows(db, "dead", &r) > 0);
    FM_CHECK_STR_CONTAINS(r.last_type, "end");
    FM_CHECK_STR_CONTAINS(r.text, "\"reason\":\"signal\"");
    FM_CHECK_STR_CONTAINS(r.text, "Connection refused");
    printf("  dead camera: %d source_error rows while the clip played\n", dead_errors);
    free(r.text);
}

static int integrity_ok(const char *db, char *msg, size_t len)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *q = NULL;
    int ok = 0;
    snprintf(msg, len, "cannot open");
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        snprintf(msg, len, "%s", (const char *)sqlite3_column_text(q, 0));
        ok = strcmp(msg, "ok") == 0;
    }
    sqlite3_finalize(q);
    sqlite3_close(h);
    return ok;
}

static void test_serve_kill9(void)
{
    const char *tmp = fm_test_tmpdir();
    char site[1100], site2[1100], db[1100], log[1100], text[8192], msg[256];
    snprintf(site, sizeof site, "%s/site.yaml", tmp);
    snprintf(site2, sizeof site2, "%s/once.yaml", tmp);
    snprintf(db, sizeof db, "%s/site.db", tmp);
    snprintf(log, sizeof log, "%s/serve.log", tmp);
    snprintf(text, sizeof text,
             "cameras:\n  - {name: loop, source: %s, loop: true}\ndatabase: {path: %s}\n",
             clip(), db);
    fm_test_write_text(site, text);
    pid_t pid = start_serve(site, log);
    if (pid < 0)
        return;
    int before = wait_rows(db, "loop", NULL, 3, 60); /* both appeared, one relabelled */
    FM_CHECK_MSG(before >= 3, "no events within %.0f s", limit_s(60));
    kill(pid, SIGKILL);
    tv_wait_exit(pid, 10);
    FM_CHECK_MSG(integrity_ok(db, msg, sizeof msg), "integrity_check: %s", msg);
    rows r;
    int after = read_rows(db, "loop", &r);
    FM_CHECK_MSG(after >= before, "%d rows after kill -9, %d seen before", after, before);
    FM_CHECK_INT(count_str(r.text, "\"event\":\"end\""), 0);
    free(r.text);
    /* a restart on the same database: the clip once, to its end; an event 40 days old goes
     * (retention 30 days, pruned at start) */
    fm_err err = {0};
    fm_history *h = fm_history_open(db, FM_HISTORY_EXISTING, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    fm_history_event old = {"old", (double)time(NULL) - 40 * 86400.0, "end", 0, NULL,
                            "{\"event\":\"end\"}"};
    FM_CHECK_INT(h ? fm_history_add_event(h, &old, NULL, &err) : FM_ERR_IO, FM_OK);
    fm_history_close(h);
    FM_CHECK_INT(read_rows(db, "old", &r), 1);
    free(r.text);
    snprintf(text, sizeof text,
             "cameras:\n  - {name: loop, source: %s}\n"
             "database: {path: %s, retention-days: 30}\n",
             clip(), db);
    fm_test_write_text(site2, text);
    pid = start_serve(site2, log);
    int rc = pid < 0 ? -1 : tv_wait_exit(pid, limit_s(60));
    char *out = fm_test_read_file(log, NULL);
    FM_CHECK_MSG(rc == 0, "restart: exit %d: %s", rc, out ? out : "");
    free(out);
    int total = read_rows(db, "loop", &r);
    FM_CHECK(total > after);
    FM_CHECK_STR_CONTAINS(r.last_type, "end");
    FM_CHECK_MSG(integrity_ok(db, msg, sizeof msg), "integrity_check: %s", msg);
    rows gone;
    FM_CHECK_INT(read_rows(db, "old", &gone), 0);
    free(gone.text);
    printf("  %d rows stored before kill -9, %d after it, %d after the restart\n", before, after,
           total);
    free(r.text);
}

/* A site file of two cameras, a and b, each the clip looping, with the history at db. */
static void write_two_looping(const char *site, const char *db)
{
    char text[4096];
    snprintf(text, sizeof text,
             "cameras:\n"
             "  - {name: a, source: %s, loop: true}\n"
             "  - {name: b, source: %s, loop: true}\n"
             "database: {path: %s}\n",
             clip(), clip(), db);
    fm_test_write_text(site, text);
}

static void test_serve_sigterm(void)
{
    const char *tmp = fm_test_tmpdir();
    char site[1100], db[1100], log[1100];
    snprintf(site, sizeof site, "%s/site.yaml", tmp);
    snprintf(db, sizeof db, "%s/site.db", tmp);
    snprintf(log, sizeof log, "%s/serve.log", tmp);
    write_two_looping(site, db);
    pid_t pid = start_serve(site, log);
    if (pid < 0)
        return;
    FM_CHECK(wait_rows(db, "a", NULL, 2, 60) >= 2);
    FM_CHECK(wait_rows(db, "b", NULL, 2, 60) >= 2);
    kill(pid, SIGTERM);
    int rc = tv_wait_exit(pid, limit_s(30));
    char *out = fm_test_read_file(log, NULL);
    FM_CHECK_MSG(rc == 0, "exit %d after SIGTERM: %s", rc, out ? out : "");
    FM_CHECK_STR_CONTAINS(out, "ended: signal");
    free(out);
    const char *names[] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        rows r;
        FM_CHECK(read_rows(db, names[i], &r) > 0);
        FM_CHECK_STR_CONTAINS(r.last_type, "end");
        FM_CHECK_STR_CONTAINS(r.text, "\"reason\":\"signal\"");
        FM_CHECK_INT(count_str(r.text, "\"final\":true"), 1);
        FM_CHECK_INT(count_str(r.text, "\"event\":\"leave\""),
                     count_str(r.text, "\"event\":\"appear\""));
        FM_CHECK_INT(last_num(r.text, "\"final\":true", "\"active\":"), 0);
        free(r.text);
    }
}

static void test_serve_errors(void)
{
    const char *tmp = fm_test_tmpdir();
    char site[1100], cmd[8192], text[4096], *out = NULL;
    snprintf(site, sizeof site, "%s/bad.yaml", tmp);
    fm_test_write_text(site, "cameras:\n  - name: a\n    source: x.avi\n    every: often\n");
    snprintf(cmd, sizeof cmd, "%s serve --config %s 2>&1", fm_test_bin(), site);
    int rc = fm_test_cmd(cmd, &out);
    FM_CHECK_INT(rc, 2);
    FM_CHECK_STR_CONTAINS(out, "bad.yaml:4: cameras[0].every: expected an integer");
    FM_CHECK_INT(count_str(out, "\n"), 1);
    free(out);
    snprintf(cmd, sizeof cmd, "%s serve 2>&1", fm_test_bin());
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 2);
    FM_CHECK_STR_CONTAINS(out, "--config FILE is required");
    free(out);
    snprintf(cmd, sizeof cmd, "%s serve --config %s/none.yaml 2>&1", fm_test_bin(), tmp);
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 2);
    FM_CHECK_STR_CONTAINS(out, "none.yaml: cannot open");
    free(out);
    /* a database that cannot be created */
    snprintf(text, sizeof text,
             "cameras:\n  - {name: a, source: %s}\ndatabase: {path: %s/no/such/dir/x.db}\n",
             clip(), tmp);
    fm_test_write_text(site, text);
    snprintf(cmd, sizeof cmd, "%s serve -q --config %s --model-dir %s --classifier " CLASSIFIER
             " 2>&1", fm_test_bin(), site, models());
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 1);
    FM_CHECK_STR_CONTAINS(out, "no/such/dir/x.db");
    free(out);
    /* a clip that is not there: that camera ends with the reason; exit 1 */
    char db[1100];
    snprintf(db, sizeof db, "%s/e.db", tmp);
    snprintf(text, sizeof text,
             "cameras:\n  - {name: gone, source: %s/missing.avi}\ndatabase: {path: %s}\n", tmp,
             db);
    fm_test_write_text(site, text);
    snprintf(cmd, sizeof cmd, "%s serve -q --config %s --model-dir %s --classifier " CLASSIFIER
             " 2>&1", fm_test_bin(), site, models());
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 1);
    FM_CHECK_STR_CONTAINS(out, "camera gone:");
    FM_CHECK_STR_CONTAINS(out, "missing.avi");
    free(out);
    rows r;
    FM_CHECK(read_rows(db, "gone", &r) == 3);
    FM_CHECK_STR_CONTAINS(r.text, "\"event\":\"source_error\"");
    FM_CHECK_STR_CONTAINS(r.text, "\"reason\":\"error\"");
    free(r.text);
}

/* --duration ends a run as SIGTERM does, and `bench --site` reports each camera's throughput
 * and latency over such a run: two looping cameras for 3 s. */
static void test_serve_duration_bench(void)
{
    const char *tmp = fm_test_tmpdir();
    char site[1100], db[1100], cmd[8192], *out = NULL;
    snprintf(site, sizeof site, "%s/site.yaml", tmp);
    snprintf(db, sizeof db, "%s/site.db", tmp);
    write_two_looping(site, db);
    double t0 = tv_now();
    snprintf(cmd, sizeof cmd, "%s serve --config %s --duration 2 --model-dir %s --classifier "
             CLASSIFIER " 2>&1", fm_test_bin(), site, models());
    int rc = fm_test_cmd(cmd, &out);
    double took = tv_now() - t0;
    FM_CHECK_MSG(rc == 0, "serve --duration 2: exit %d: %s", rc, out ? out : "");
    FM_CHECK_STR_CONTAINS(out, "ended: duration");
    FM_CHECK_MSG(took >= 2.0 && took < limit_s(30), "serve --duration 2 took %.1f s", took);
    free(out);
    rows r;
    FM_CHECK(read_rows(db, "a", &r) > 0);
    FM_CHECK_STR_CONTAINS(r.last_type, "end");
    FM_CHECK_STR_CONTAINS(r.text, "\"reason\":\"duration\"");
    free(r.text);

    snprintf(cmd, sizeof cmd, "%s bench --site %s --seconds 3 -j 2 --model-dir %s --classifier "
             CLASSIFIER " 2>&1", fm_test_bin(), site, models());
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    const char *names[] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        char key[64];
        snprintf(key, sizeof key, "facemask site camera=%s ", names[i]);
        const char *line = out ? strstr(out, key) : NULL;
        FM_CHECK_MSG(line != NULL, "no line for camera %s in: %s", names[i], out ? out : "");
        if (!line)
            continue;
        long long frames = -1;
        double fps = -1, med = -1, p90 = -1;
        const char *p = strstr(line, "frames=");
        if (p)
            sscanf(p, "frames=%lld", &frames);
        if ((p = strstr(line, " fps=")))
            sscanf(p, " fps=%lf", &fps);
        if ((p = strstr(line, "latency_median_ms=")))
            sscanf(p, "latency_median_ms=%lf latency_p90_ms=%lf", &med, &p90);
        FM_CHECK_MSG(frames > 0 && fps > 0 && med > 0 && p90 >= med,
                     "camera %s: frames %lld fps %.2f latency %.1f / %.1f ms", names[i], frames,
                     fps, med, p90);
        FM_CHECK_MSG(frames / fps > 2.5 && frames / fps < 3.0 + limit_s(10),
                     "camera %s: %lld frames at %.2f fps is not a 3 s run", names[i], frames, fps);
    }
    FM_CHECK_STR_CONTAINS(out, "facemask site cameras=2 threads=2 wall_s=");
    FM_CHECK_STR_CONTAINS(out, "ended=duration");
    free(out);
    snprintf(cmd, sizeof cmd, "%s bench --site %s --source %s 2>&1", fm_test_bin(), site, clip());
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 2);
    FM_CHECK_STR_CONTAINS(out, "--site and --source");
    free(out);
}

void suite_serve(void);
void suite_serve(void)
{
    FM_RUN(test_serve_two_cameras);
    FM_RUN(test_serve_threads_short);
    FM_RUN(test_serve_live_view);
    FM_RUN(test_serve_rtsp_live);
    FM_RUN(test_serve_dead_camera);
    FM_RUN(test_serve_kill9);
    FM_RUN(test_serve_sigterm);
    FM_RUN(test_serve_errors);
    FM_RUN(test_serve_duration_bench);
}
