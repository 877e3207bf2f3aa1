/* `facemask watch` end to end, on the facemask binary (FM_BIN), with the res10 detector from
 * the shared models and the project's classifier (WATCH_CLASSIFIER). A clip is built from two
 * demo photos, each with one face the detector finds alone: background, the unmasked face,
 * background, the masked face, background. It is watched
 *   - from the file: two people (appear/leave, labels, times, counts, eof), the recording has
 *     every frame, one snapshot (the unmasked person);
 *   - with --every 3: ceil(frames / 3) processed, still two people;
 *   - as corrupt and truncated copies: to the end, as many frames as FFmpeg can decode;
 *   - over RTSP (build/rtsp_server) while the server is stopped and restarted: source_error,
 *     reconnect, frames on both sides, then SIGTERM: final summary, "end" signal, exit 0;
 *   - in a window under a private Xvfb (both faces at once): red and green boxes and the status
 *     bar on an xwd screenshot;
 * and a missing camera fails with one line. Every child process runs under a time limit (4x
 * under sanitizers) and is killed on every path; Xvfb, xwd and the ffmpeg tools are required. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/image.h"
#include "test.h"
#include "test_video_util.h"
#include "test_x11_util.h"

extern char **environ;

/* The mask classifier folder: relative to the repository root, or absolute. FM_CLASSIFIER in
 * the environment overrides it. */
#define WATCH_CLASSIFIER "models/mask"

/* The scene clip, 10 frames/s, 640x480: background, the unmasked face, background, the masked
 * face, background (frames of each part). */
#define FPS 10
#define N_BG1 20
#define N_NOMASK 40
#define N_BG2 20
#define N_MASK 40
#define N_BG3 20
#define N_TOTAL (N_BG1 + N_NOMASK + N_BG2 + N_MASK + N_BG3)
#define T_NOMASK ((double)N_BG1 / FPS)
#define T_MASK ((double)(N_BG1 + N_NOMASK + N_BG2) / FPS)
#define PHOTO_NOMASK "demo/pyimagesearch_example_02.png" /* one unmasked face */
#define PHOTO_MASK "demo/aizoo_demo2.jpg"                /* one masked face */

static const char *classifier_dir(void)
{
    const char *s = getenv("FM_CLASSIFIER");
    return s && *s ? s : WATCH_CLASSIFIER;
}

static double limit_s(double release_s)
{
    return fm_test_sanitized() ? release_s * 4 : release_s;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- child processes ------------------------------------------------------------------ */

/* Starts argv[0] (a path) with stdout and stderr to `log` and stdin from /dev/null; envp NULL
 * keeps ours. Returns the pid or -1 (test failed). */
static pid_t spawn(char *const argv[], char *const envp[], const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fm_test_fail(__FILE__, __LINE__, "cannot start %s: %s", argv[0], strerror(rc));
        return -1;
    }
    return pid;
}

/* Waits up to timeout_s for pid; 1 and its wait status when it exited, else SIGKILL and 0. */
static int wait_exit(pid_t pid, double timeout_s, int *status)
{
    double end = tv_now() + timeout_s;
    *status = 0;
    while (tv_now() < end) {
        if (waitpid(pid, status, WNOHANG) == pid)
            return 1;
        sleep_s(0.02);
    }
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return 0;
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* argv for `facemask watch --source SRC --model-dir ... --classifier ... --quiet EXTRA...`. */
typedef struct {
    char *argv[40];
    int n;
    char models[1024];
} watch_args;

static void args_init(watch_args *a, const char *source)
{
    memset(a, 0, sizeof *a);
    snprintf(a->models, sizeof a->models, "%s/models", fm_test_shared());
    const char *fixed[] = {fm_test_bin(), "watch",      "--source",        source, "--model-dir",
                           a->models,     "--classifier", classifier_dir(), "--quiet",
                           "--detector",  "res10"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        a->argv[a->n++] = (char *)fixed[i];
}

static void args_add(watch_args *a, const char *s)
{
    if (a->n < 38)
        a->argv[a->n++] = (char *)s;
}

/* Runs watch to its end (at most limit_s(timeout_s)); returns its exit code (-1: killed). */
static int run_watch(watch_args *a, const char *log, double timeout_s)
{
    a->argv[a->n] = NULL;
    pid_t pid = spawn(a->argv, NULL, log);
    if (pid < 0)
        return -1;
    int st;
    if (!wait_exit(pid, limit_s(timeout_s), &st)) {
        char *text = fm_test_read_file(log, NULL);
        fm_test_fail(__FILE__, __LINE__, "watch did not finish within %.0f s (killed); output: %s",
                     limit_s(timeout_s), text ? text : "");
        free(text);
        return -1;
    }
    return exit_code(st);
}

/* ---- events ---------------------------------------------------------------------------- */

typedef struct {
    char type[16];
    double t;
    long long frame, track;
    char label[16], reason[128], message[128];
    int final;
    long long people, mask, no_mask, unknown, skipped;
    double first_seen;
} event;

typedef struct {
    event *ev;
    int n;
    char *text;
} event_log;

/* The value after "key": in a JSON line (NULL if absent). */
static const char *jfield(const char *line, const char *end, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    size_t n = strlen(pat);
    for (const char *p = line; p + n <= end; p++)
        if (memcmp(p, pat, n) == 0)
            return p + n;
    return NULL;
}

static double jnum(const char *line, const char *end, const char *key)
{
    const char *v = jfield(line, end, key);
    if (!v || *v == 'n')
        return NAN;
    return strtod(v, NULL);
}

static void jstr(const char *line, const char *end, const char *key, char *out, size_t len)
{
    out[0] = '\0';
    const char *v = jfield(line, end, key);
    if (!v || *v != '"')
        return;
    v++;
    size_t i = 0;
    while (v < end && *v != '"' && i + 1 < len)
        out[i++] = *v++;
    out[i] = '\0';
}

/* Reads the events file: every line must be one JSON object starting with "event". `live`:
 * the file is still being written (a missing file or an unfinished last line is no error). */
static int events_read(const char *path, event_log *lg, int live)
{
    memset(lg, 0, sizeof lg[0]);
    lg->text = fm_test_read_file(path, NULL);
    if (!lg->text) {
        if (!live)
            fm_test_fail(__FILE__, __LINE__, "no events file %s", path);
        return 0;
    }
    int cap = 0;
    for (const char *p = lg->text; *p;) {
        const char *e = strchr(p, '\n');
        if (!e) {
            if (!live)
                fm_test_fail(__FILE__, __LINE__, "events: last line has no newline: %s", p);
            break;
        }
        if (strncmp(p, "{\"event\":\"", 10) != 0 || e[-1] != '}')
            fm_test_fail(__FILE__, __LINE__, "events: not an event line: %.*s", (int)(e - p), p);
        if (lg->n == cap) {
            cap = cap ? cap * 2 : 64;
            event *nv = realloc(lg->ev, (size_t)cap * sizeof *nv);
            if (!nv)
                return 0;
            lg->ev = nv;
        }
        event *v = &lg->ev[lg->n++];
        memset(v, 0, sizeof *v);
        jstr(p, e, "event", v->type, sizeof v->type);
        jstr(p, e, "label", v->label, sizeof v->label);
        jstr(p, e, "reason", v->reason, sizeof v->reason);
        jstr(p, e, "message", v->message, sizeof v->message);
        v->t = jnum(p, e, "t");
        v->frame = (long long)jnum(p, e, "frame");
        v->track = (long long)jnum(p, e, "track");
        v->people = (long long)jnum(p, e, "people");
        v->mask = (long long)jnum(p, e, "mask");
        v->no_mask = (long long)jnum(p, e, "no_mask");
        v->unknown = (long long)jnum(p, e, "unknown");
        v->skipped = (long long)jnum(p, e, "skipped");
        v->first_seen = jnum(p, e, "first_seen");
        const char *f = jfield(p, e, "final");
        v->final = f && strncmp(f, "true", 4) == 0;
        p = e + 1;
    }
    return 1;
}

static int events_load(const char *path, event_log *lg)
{
    return events_read(path, lg, 0);
}

static void events_free(event_log *lg)
{
    free(lg->ev);
    free(lg->text);
    memset(lg, 0, sizeof *lg);
}

/* Index of the first event of `type` at or after `from`, or -1. */
static int find_type(const event_log *lg, const char *type, int from)
{
    for (int i = from < 0 ? 0 : from; i < lg->n; i++)
        if (strcmp(lg->ev[i].type, type) == 0)
            return i;
    return -1;
}

/* The largest "frame" among summaries in [from, to) (to < 0: the end), or -1. */
static long long max_summary_frame(const event_log *lg, int from, int to)
{
    long long m = -1;
    for (int i = from < 0 ? 0 : from; i < (to < 0 ? lg->n : to); i++)
        if (strcmp(lg->ev[i].type, "summary") == 0 && lg->ev[i].frame > m)
            m = lg->ev[i].frame;
    return m;
}

static int count_type(const event_log *lg, const char *type)
{
    int n = 0;
    for (int i = 0; i < lg->n; i++)
        n += strcmp(lg->ev[i].type, type) == 0;
    return n;
}

/* The run's closing lines: the final summary, then "end" with `reason` as the last line.
 * Returns the final summary (NULL if missing). */
static const event *check_ending(const event_log *lg, const char *reason)
{
    FM_CHECK_MSG(lg->n >= 2, "only %d event lines", lg->n);
    if (lg->n < 2)
        return NULL;
    const event *end = &lg->ev[lg->n - 1], *sum = &lg->ev[lg->n - 2];
    FM_CHECK_MSG(strcmp(end->type, "end") == 0, "last event is '%s', expected end", end->type);
    FM_CHECK_MSG(strcmp(end->reason, reason) == 0, "end reason '%s', expected '%s'", end->reason,
                 reason);
    FM_CHECK_MSG(strcmp(sum->type, "summary") == 0 && sum->final,
                 "the line before end is '%s' (final %d), expected the final summary", sum->type,
                 sum->final);
    FM_CHECK_INT(count_type(lg, "end"), 1);
    if (strcmp(sum->type, "summary") != 0)
        return NULL;
    FM_CHECK_INT(sum->frame, end->frame);
    FM_CHECK_INT(sum->mask + sum->no_mask + sum->unknown, sum->people);
    return sum;
}

/* ---- clips ----------------------------------------------------------------------------- */

static fm_image *canvas(void)
{
    fm_image *img = fm_image_new(640, 480, NULL);
    if (img)
        memset(img->data, 128, (size_t)img->stride * (size_t)img->h);
    return img;
}

/* Pastes photo (shared/rel) scaled to w x h (0: its own size) with its centre at cx, cy. */
static int paste(fm_image *dst, const char *rel, int cx, int cy, int w, int h)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fm_test_shared(), rel);
    fm_err err = {0};
    fm_image *ph = fm_image_load(path, 0, &err), *sc = NULL;
    if (!ph) {
        fm_test_fail(__FILE__, __LINE__, "%s", err.msg);
        return 0;
    }
    if (w > 0) {
        if (!(sc = fm_image_new(w, h, &err))) {
            fm_image_free(ph);
            return 0;
        }
        fm_resize_bilinear(ph, sc);
    }
    const fm_image *s = sc ? sc : ph;
    int x0 = cx - s->w / 2, y0 = cy - s->h / 2;
    for (int y = 0; y < s->h; y++)
        for (int x = 0; x < s->w; x++) {
            int dx = x0 + x, dy = y0 + y;
            if (dx >= 0 && dy >= 0 && dx < dst->w && dy < dst->h)
                memcpy(dst->data + (size_t)dy * (size_t)dst->stride + (size_t)dx * 3,
                       s->data + (size_t)y * (size_t)s->stride + (size_t)x * 3, 3);
        }
    fm_image_free(ph);
    fm_image_free(sc);
    return 1;
}

static int save_png(fm_image *img, const char *path)
{
    fm_err err = {0};
    int ok = img && fm_image_save_png(img, path, &err) == FM_OK;
    if (!ok)
        fm_test_fail(__FILE__, __LINE__, "cannot write %s: %s", path, img ? err.msg : "no image");
    fm_image_free(img);
    return ok;
}

/* Encodes dir/f%03d.png (n frames, symbolic links to the stills) at FPS into H.264 `clip`. */
static int encode(const char *dir, const char *clip)
{
    char cmd[3072];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -framerate %d -i '%s/f%%03d.png' -c:v libx264 "
             "-preset ultrafast -g %d -bf 0 -pix_fmt yuv420p -movflags +faststart '%s'",
             FPS, dir, FPS, clip);
    return tv_sh(cmd);
}

static int link_frames(const char *dir, const char *still, int first, int n)
{
    char path[1100];
    for (int i = first; i < first + n; i++) {
        snprintf(path, sizeof path, "%s/f%03d.png", dir, i);
        if (symlink(still, path) != 0) {
            fm_test_fail(__FILE__, __LINE__, "symlink %s: %s", path, strerror(errno));
            return 0;
        }
    }
    return 1;
}

static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* `facemask detect --json` on the stills: no face on the background, the one expected face
 * with its label on each photo, both on the composite. */
static int check_stills(const char *bg, const char *nm, const char *m, const char *both)
{
    char cmd[6000], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s detect --detector res10 "
                              "--json --model-dir '%s/models' --classifier '%s' "
             "'%s' '%s' '%s' '%s'",
             fm_test_bin(), fm_test_shared(), classifier_dir(), bg, nm, m, both);
    int rc = fm_test_cmd(cmd, &out);
    FM_CHECK_MSG(rc == 0, "detect exited %d", rc);
    const char *want[4][3] = {{"bg.png", "", ""},
                              {"nomask.png", "\"no_mask\"", ""},
                              {"mask.png", "\"mask\"", ""},
                              {"both.png", "\"no_mask\"", "\"mask\""}};
    int ok = rc == 0, k = 0;
    for (char *line = out; ok && line && *line && k < 4; k++) {
        char *e = strchr(line, '\n');
        if (e)
            *e = '\0';
        int faces = count_str(line, "\"box\"");
        int good = strstr(line, want[k][0]) && faces == (k == 3 ? 2 : k > 0) &&
                   strstr(line, want[k][1]) && strstr(line, want[k][2]);
        FM_CHECK_MSG(good, "detect on the stills: %s", line);
        ok = ok && good;
        line = e ? e + 1 : NULL;
    }
    FM_CHECK_INT(k, 4);
    free(out);
    return ok && k == 4;
}

/* The scene clip (made once per run, kept in the first test's folder until the runner exits):
 * N_BG1 background frames, N_NOMASK of the unmasked face, N_BG2, N_MASK of the masked face,
 * N_BG3. */
static char g_scene_dir[1024]; /* its stills: bg.png, nomask.png, mask.png, both.png */

static const char *scene_clip(void)
{
    static char clip[1100];
    static int tried;
    if (tried)
        return clip[0] ? clip : NULL;
    tried = 1;
    char *dir = g_scene_dir, bg[1100], nm[1100], m[1100], both[1100];
    snprintf(dir, sizeof g_scene_dir, "%s/scene", fm_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(bg, sizeof bg, "%s/bg.png", dir);
    snprintf(nm, sizeof nm, "%s/nomask.png", dir);
    snprintf(m, sizeof m, "%s/mask.png", dir);
    snprintf(both, sizeof both, "%s/both.png", dir);
    fm_image *c1 = canvas(), *c2 = canvas(), *c3 = canvas();
    /* both: the unmasked face on the left, the masked one on the right (the second photo
     * covers the first's right edge, not its face) */
    int ok = c1 && c2 && c3 && paste(c1, PHOTO_NOMASK, 320, 240, 0, 0) &&
             paste(c2, PHOTO_MASK, 320, 240, 0, 0) && paste(c3, PHOTO_NOMASK, 150, 240, 0, 0) &&
             paste(c3, PHOTO_MASK, 490, 240, 0, 0);
    int saved = save_png(canvas(), bg);
    saved &= save_png(c1, nm); /* each frees its image */
    saved &= save_png(c2, m);
    saved &= save_png(c3, both);
    ok = ok && saved;
    int at = 0;
    ok = ok && link_frames(dir, bg, at, N_BG1) && link_frames(dir, nm, at += N_BG1, N_NOMASK) &&
         link_frames(dir, bg, at += N_NOMASK, N_BG2) && link_frames(dir, m, at += N_BG2, N_MASK) &&
         link_frames(dir, bg, at += N_MASK, N_BG3);
    if (ok)
        ok = check_stills(bg, nm, m, both);
    char path[1100];
    snprintf(path, sizeof path, "%s/scene.mp4", fm_test_tmpdir());
    if (ok && encode(dir, path))
        snprintf(clip, sizeof clip, "%s", path);
    return clip[0] ? clip : NULL;
}

/* ---- 1. two known people ---------------------------------------------------------------- */

static int is_jpeg_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".jpg") == 0;
}

static void test_watch_file_two_people(void)
{
    const char *clip = scene_clip();
    if (!clip)
        return;
    char ev_path[1100], rec[1100], snaps[1100], log[1100];
    snprintf(ev_path, sizeof ev_path, "%s/ev.jsonl", fm_test_tmpdir());
    snprintf(rec, sizeof rec, "%s/out.mp4", fm_test_tmpdir());
    snprintf(snaps, sizeof snaps, "%s/snaps", fm_test_tmpdir());
    snprintf(log, sizeof log, "%s/watch.log", fm_test_tmpdir());
    watch_args a;
    args_init(&a, clip);
    const char *extra[] = {"--events", ev_path, "--record", rec, "--snapshots", snaps};
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
        args_add(&a, extra[i]);
    double t0 = tv_now();
    int rc = run_watch(&a, log, 40);
    char *out = fm_test_read_file(log, NULL);
    printf("  watch: %.1f s\n", tv_now() - t0);
    FM_CHECK_MSG(rc == 0, "watch exited %d: %s", rc, out ? out : "");
    FM_CHECK_MSG(!out || !*out, "--quiet run printed: %s", out);
    free(out);

    event_log lg;
    if (!events_load(ev_path, &lg))
        return;
    const event *sum = check_ending(&lg, "eof");
    if (sum) {
        FM_CHECK_INT(sum->frame, N_TOTAL);
        FM_CHECK_INT(sum->people, 2);
        FM_CHECK_INT(sum->mask, 1);
        FM_CHECK_INT(sum->no_mask, 1);
        FM_CHECK_INT(sum->skipped, 0);
    }
    const event *app[2] = {NULL, NULL}, *lv[2] = {NULL, NULL};
    int na = 0, nl = 0;
    for (int i = 0; i < lg.n; i++) {
        const event *v = &lg.ev[i];
        if (strcmp(v->type, "appear") == 0 && na++ < 2)
            app[na - 1] = v;
        if (strcmp(v->type, "leave") == 0 && nl++ < 2)
            lv[nl - 1] = v;
    }
    FM_CHECK_INT(na, 2);
    FM_CHECK_INT(nl, 2);
    if (na == 2 && nl == 2) {
        FM_CHECK(app[0]->track != app[1]->track);
        FM_CHECK_INT(lv[0]->track, app[0]->track);
        FM_CHECK_INT(lv[1]->track, app[1]->track);
        FM_CHECK_MSG(strcmp(lv[0]->label, "no_mask") == 0, "first person left as '%s'",
                     lv[0]->label);
        FM_CHECK_MSG(strcmp(lv[1]->label, "mask") == 0, "second person left as '%s'",
                     lv[1]->label);
        FM_CHECK_NEAR(app[0]->t, T_NOMASK, 0.5);
        FM_CHECK_NEAR(app[1]->t, T_MASK, 0.5);
        FM_CHECK_NEAR(app[0]->first_seen, T_NOMASK, 0.15);
        FM_CHECK_NEAR(app[1]->first_seen, T_MASK, 0.15);
        /* the first person leaves (1 s unseen) before the second photo starts */
        FM_CHECK(lv[0]->t > T_NOMASK + (double)N_NOMASK / FPS && lv[0]->t < T_MASK);
        FM_CHECK(lv[0] < app[1]);
    }

    /* the recording: every input frame, decodable */
    char *frames = tv_probe(rec, "nb_read_frames", 1);
    char *size = tv_probe(rec, "width,height", 0);
    FM_CHECK_MSG(frames && atoi(frames) == N_TOTAL, "recorded %s frames, expected %d",
                 frames ? frames : "?", N_TOTAL);
    FM_CHECK_MSG(size && strcmp(size, "640,480") == 0, "recording is %s", size ? size : "?");
    free(frames);
    free(size);

    /* one snapshot: the unmasked person's, a 640x480 JPEG */
    DIR *d = opendir(snaps);
    FM_CHECK_MSG(d != NULL, "no snapshot folder %s", snaps);
    int njpg = 0, nother = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (!is_jpeg_name(de->d_name)) {
            nother++;
            continue;
        }
        njpg++;
        char want[64], path[1400];
        snprintf(want, sizeof want, "no_mask_id%04lld_", na ? app[0]->track : -1);
        FM_CHECK_MSG(strncmp(de->d_name, want, strlen(want)) == 0,
                     "snapshot %s is not of track %lld", de->d_name, na ? app[0]->track : -1);
        snprintf(path, sizeof path, "%s/%s", snaps, de->d_name);
        fm_err err = {0};
        fm_image *img = fm_image_load(path, 0, &err);
        FM_CHECK_MSG(img != NULL, "snapshot does not decode: %s", err.msg);
        if (img)
            FM_CHECK(img->w == 640 && img->h == 480);
        fm_image_free(img);
    }
    if (d)
        closedir(d);
    FM_CHECK_INT(njpg, 1);
    FM_CHECK_INT(nother, 0);
    events_free(&lg);
}

/* ---- 2. --every N ------------------------------------------------------------------------- */

static void test_watch_every(void)
{
    const char *clip = scene_clip();
    if (!clip)
        return;
    const int every = 3;
    char ev_path[1100], log[1100];
    snprintf(ev_path, sizeof ev_path, "%s/ev.jsonl", fm_test_tmpdir());
    snprintf(log, sizeof log, "%s/watch.log", fm_test_tmpdir());
    watch_args a;
    args_init(&a, clip);
    args_add(&a, "--events");
    args_add(&a, ev_path);
    args_add(&a, "--every");
    args_add(&a, "3");
    int rc = run_watch(&a, log, 30);
    FM_CHECK_INT(rc, 0);
    event_log lg;
    if (!events_load(ev_path, &lg))
        return;
    const event *sum = check_ending(&lg, "eof");
    int want = (N_TOTAL + every - 1) / every;
    if (sum) {
        FM_CHECK_INT(sum->frame, want);
        FM_CHECK_INT(sum->skipped, N_TOTAL - want);
        FM_CHECK_INT(sum->people, 2);
        FM_CHECK_INT(sum->mask, 1);
        FM_CHECK_INT(sum->no_mask, 1);
    }
    FM_CHECK_INT(count_type(&lg, "appear"), 2);
    FM_CHECK_INT(count_type(&lg, "leave"), 2);
    events_free(&lg);
}

/* ---- 5. no camera ------------------------------------------------------------------------ */

static void test_watch_no_camera(void)
{
    /* camera 0, or the first index without a device node on a machine that has one */
    int cam = 0;
    char node[64];
    for (; cam < 64; cam++) {
        snprintf(node, sizeof node, "/dev/video%d", cam);
        if (access(node, F_OK) != 0)
            break;
    }
    if (cam != 0)
        printf("  /dev/video0 exists: using camera %d\n", cam);
    char src[16], log[1100];
    snprintf(src, sizeof src, "%d", cam);
    snprintf(log, sizeof log, "%s/watch.log", fm_test_tmpdir());
    watch_args a;
    args_init(&a, src);
    int rc = run_watch(&a, log, 20);
    char *out = fm_test_read_file(log, NULL);
    FM_CHECK_MSG(rc > 0 && rc < 128, "watch --source %s exited %d", src, rc);
    int lines = 0;
    for (const char *p = out; p && *p; p++)
        lines += *p == '\n';
    FM_CHECK_MSG(lines == 1, "%d lines, expected one: %s", lines, out ? out : "");
    FM_CHECK_STR_CONTAINS(out, "camera");
    FM_CHECK_STR_CONTAINS(out, node);
    FM_CHECK_STR_CONTAINS(out, "no such device");
    free(out);
}

/* ---- 6. corrupt and truncated files ------------------------------------------------------ */

static int write_file(const char *path, const char *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok)
        fm_test_fail(__FILE__, __LINE__, "cannot write %s", path);
    return ok;
}

/* Frames ffprobe decodes from a damaged file (its complaints silenced), -1 on failure. */
static int probe_frames(const char *file)
{
    char cmd[1400], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "ffprobe -v quiet -count_frames -select_streams v:0 -show_entries "
             "stream=nb_read_frames -of csv=p=0 '%s'",
             file);
    int rc = fm_test_cmd(cmd, &out);
    int n = rc == 0 && out && *out ? atoi(out) : -1;
    free(out);
    return n;
}

/* Watches `clip` to its end; returns the final summary's frame count (-1: no clean end). */
static long long watch_to_end(const char *clip, const char *name)
{
    char ev_path[1100], log[1100];
    snprintf(ev_path, sizeof ev_path, "%s/%s.jsonl", fm_test_tmpdir(), name);
    snprintf(log, sizeof log, "%s/%s.log", fm_test_tmpdir(), name);
    watch_args a;
    args_init(&a, clip);
    args_add(&a, "--events");
    args_add(&a, ev_path);
    int rc = run_watch(&a, log, 30);
    char *out = fm_test_read_file(log, NULL);
    FM_CHECK_MSG(rc == 0, "%s: watch exited %d: %s", name, rc, out ? out : "");
    free(out);
    event_log lg;
    long long frames = -1;
    if (events_load(ev_path, &lg)) {
        const event *sum = check_ending(&lg, "eof");
        if (sum)
            frames = sum->frame;
        events_free(&lg);
    }
    return frames;
}

static void test_watch_corrupt_and_truncated(void)
{
    const char *clip = scene_clip();
    if (!clip)
        return;
    size_t len = 0;
    char *buf = fm_test_read_file(clip, &len);
    FM_CHECK(buf && len > 10000);
    if (!buf || len <= 10000) {
        free(buf);
        return;
    }
    /* moov is at the front (+faststart): 8 runs of 1500 bytes in the coded frames (30% to 80%
     * of the file) overwritten with noise */
    char *bad = malloc(len);
    if (!bad) {
        free(buf);
        return;
    }
    memcpy(bad, buf, len);
    uint64_t rng = 7;
    for (int k = 0; k < 8; k++) {
        size_t off = (size_t)((double)len * (0.3 + 0.5 * k / 8));
        for (size_t i = off; i < off + 1500 && i < len; i++)
            bad[i] = (char)fm_test_rand(&rng);
    }
    char corrupt[1100], cut[1100];
    snprintf(corrupt, sizeof corrupt, "%s/corrupt.mp4", fm_test_tmpdir());
    snprintf(cut, sizeof cut, "%s/truncated.mp4", fm_test_tmpdir());
    if (write_file(corrupt, bad, len)) {
        /* the damage is real: the decoder complains */
        char cmd[1300], *msg = NULL;
        snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%s' -f null - 2>&1", corrupt);
        fm_test_cmd(cmd, &msg);
        FM_CHECK_MSG(msg && strstr(msg, "error"), "ffmpeg decodes the corrupt copy cleanly: %s",
                     msg ? msg : "");
        free(msg);
        long long n = watch_to_end(corrupt, "corrupt");
        int decodable = probe_frames(corrupt);
        printf("  corrupt copy: %lld of %d frames (ffprobe decodes %d)\n", n, N_TOTAL,
               decodable);
        FM_CHECK_MSG(n >= N_TOTAL * 8 / 10 && n <= N_TOTAL, "corrupt copy: %lld frames", n);
        FM_CHECK_MSG(llabs(n - decodable) <= 2, "corrupt copy: %lld frames, ffprobe decodes %d",
                     n, decodable);
    }
    if (write_file(cut, buf, len * 6 / 10)) {
        long long n = watch_to_end(cut, "truncated");
        int decodable = probe_frames(cut);
        printf("  truncated copy (60%% of the bytes): %lld of %d frames (ffprobe decodes %d)\n",
               n, N_TOTAL, decodable);
        FM_CHECK_MSG(n > N_BG1 && n < N_TOTAL, "truncated copy: %lld frames", n);
        FM_CHECK_MSG(llabs(n - decodable) <= 2, "truncated copy: %lld frames, ffprobe decodes %d",
                     n, decodable);
    }
    free(bad);
    free(buf);
}

/* ---- 3. RTSP through a server restart ---------------------------------------------------- */

/* A clip of one still, `seconds` long at FPS, keyframe each second. */
static int still_clip(const char *still, int seconds, const char *clip)
{
    char cmd[3072];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -loop 1 -framerate %d -i '%s' -t %d -c:v libx264 "
             "-preset ultrafast -g %d -bf 0 -pix_fmt yuv420p '%s'",
             FPS, still, seconds, FPS, clip);
    return tv_sh(cmd);
}

/* 1 while the child runs; once it has exited, 0 with its status (and *pid = -1). */
static int still_running(pid_t *pid, int *status)
{
    if (*pid > 0 && waitpid(*pid, status, WNOHANG) == *pid)
        *pid = -1;
    return *pid > 0;
}

static void test_watch_rtsp_server_restart(void)
{
    if (!scene_clip())
        return;
    char still[1100], clip[1100], ev_path[1100], log[1100], why[512], url[128];
    snprintf(still, sizeof still, "%s/nomask.png", g_scene_dir);
    snprintf(clip, sizeof clip, "%s/live.mp4", fm_test_tmpdir());
    snprintf(ev_path, sizeof ev_path, "%s/ev.jsonl", fm_test_tmpdir());
    snprintf(log, sizeof log, "%s/watch.log", fm_test_tmpdir());
    if (!still_clip(still, 30, clip))
        return;
    tv_rtsp_server srv = {-1, -1, 0}, srv2 = {-1, -1, 0};
    pid_t pid = -1;
    int status = 0;
    event_log lg = {NULL, 0, NULL};
    if (!tv_rtsp_start(clip, 0, &srv, why, sizeof why)) {
        fm_test_fail(__FILE__, __LINE__, "RTSP server: %s", why);
        return;
    }
    int port = srv.port;
    snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/test", port);
    watch_args a;
    args_init(&a, url);
    args_add(&a, "--events");
    args_add(&a, ev_path);
    args_add(&a, "--summary-every");
    args_add(&a, "0.5");
    a.argv[a.n] = NULL;
    double t0 = tv_now();
    if ((pid = spawn(a.argv, NULL, log)) < 0)
        goto done;

    /* frames flow: the person appeared and summaries reached frame 10 */
    double end = tv_now() + limit_s(20);
    int ok = 0;
    while (!ok && tv_now() < end && still_running(&pid, &status)) {
        sleep_s(0.1);
        events_free(&lg);
        events_read(ev_path, &lg, 1);
        ok = find_type(&lg, "appear", 0) >= 0 && max_summary_frame(&lg, 0, -1) >= 10;
    }
    FM_CHECK_MSG(ok, "no person and 10 frames within %.0f s (watch %s)", limit_s(20),
                 pid > 0 ? "running" : "exited");
    if (!ok)
        goto done;
    double t_drop = tv_now() - t0;
    FM_CHECK_INT(tv_rtsp_stop(&srv), 0);
    sleep_s(1.0);
    if (!tv_rtsp_start(clip, port, &srv2, why, sizeof why)) {
        fm_test_fail(__FILE__, __LINE__, "RTSP server restart on port %d: %s", port, why);
        goto done;
    }
    /* frames flow again: a reconnect, then summaries 10 frames past it */
    end = tv_now() + limit_s(30);
    ok = 0;
    while (!ok && tv_now() < end && still_running(&pid, &status)) {
        sleep_s(0.1);
        events_free(&lg);
        events_read(ev_path, &lg, 1);
        int r = find_type(&lg, "reconnect", 0);
        ok = r >= 0 && max_summary_frame(&lg, r, -1) >= lg.ev[r].frame + 10;
    }
    FM_CHECK_MSG(ok, "no reconnect and 10 more frames within %.0f s (watch %s)", limit_s(30),
                 pid > 0 ? "running" : "exited");
    if (!ok)
        goto done;
    double t_back = tv_now() - t0;
    kill(pid, SIGTERM);
    if (!wait_exit(pid, limit_s(15), &status))
        fm_test_fail(__FILE__, __LINE__, "watch did not stop within %.0f s of SIGTERM (killed)",
                     limit_s(15));
    pid = -1;
    FM_CHECK_MSG(exit_code(status) == 0, "watch exited %d after SIGTERM", exit_code(status));

    events_free(&lg);
    if (events_load(ev_path, &lg)) {
        int e = find_type(&lg, "source_error", 0), r = find_type(&lg, "reconnect", 0);
        FM_CHECK_MSG(e >= 0, "no source_error event for the drop");
        FM_CHECK_MSG(r > e, "reconnect at line %d, source_error at %d", r + 1, e + 1);
        FM_CHECK_INT(count_type(&lg, "reconnect"), 1);
        long long before = max_summary_frame(&lg, 0, e), after = max_summary_frame(&lg, r, -1);
        printf("  dropped at %.1f s, back at %.1f s: frames %lld before the drop, %lld at the "
               "end\n",
               t_drop, t_back, before, after);
        FM_CHECK(before >= 10);
        if (e >= 0 && r > e) {
            const event *se = &lg.ev[e], *re = &lg.ev[r];
            FM_CHECK(after >= re->frame + 10);
            /* "frame" counts frames processed, as in the summaries around them */
            FM_CHECK_MSG(se->frame >= before && se->frame <= re->frame,
                         "source_error at frame %lld, reconnect at %lld, summaries before at %lld",
                         se->frame, re->frame, before);
            long long next = -1;
            for (int i = r + 1; i < lg.n && next < 0; i++)
                if (strcmp(lg.ev[i].type, "summary") == 0)
                    next = lg.ev[i].frame;
            FM_CHECK_MSG(next >= re->frame, "reconnect at frame %lld, next summary at %lld",
                         re->frame, next);
            /* the reconnect gives the drop's reason */
            FM_CHECK_MSG(se->message[0] && strcmp(re->reason, se->message) == 0,
                         "reconnect reason '%s', the drop's message '%s'", re->reason,
                         se->message);
            FM_CHECK(se->t <= re->t);
        }
        FM_CHECK(find_type(&lg, "appear", 0) >= 0 && find_type(&lg, "appear", 0) < e);
        const event *sum = check_ending(&lg, "signal");
        if (sum) {
            FM_CHECK(sum->people >= 1);
            FM_CHECK_INT(sum->mask, 0);
            FM_CHECK_INT(sum->no_mask, sum->people);
        }
    }
done:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        char *text = fm_test_read_file(log, NULL);
        printf("  watch's output: %s\n", text ? text : "");
        free(text);
    }
    events_free(&lg);
    tv_rtsp_stop(&srv);
    tv_rtsp_stop(&srv2);
}

/* ---- 4. the window, under a private Xvfb ---------------------------------------------------- */

/* Pixels of row y, columns x0..x1, within tol of the colour. */
static int row_count(const tx_shot *s, int y, int x0, int x1, fm_color c, int tol)
{
    int n = 0;
    for (int x = x0 < 0 ? 0 : x0; y >= 0 && y < s->h && x <= x1 && x < s->w; x++) {
        const uint8_t *p = s->rgb + ((size_t)y * (size_t)s->w + (size_t)x) * 3;
        n += abs(p[0] - c.r) <= tol && abs(p[1] - c.g) <= tol && abs(p[2] - c.b) <= tol;
    }
    return n;
}

/* Our environment with DISPLAY set, SDL on X11 and no Wayland, and no leak check: the system
 * libraries SDL loads (libdbus, the GL driver, unloaded by exit) keep allocations past SDL_Quit
 * that LeakSanitizer reports without usable stacks; watch's own code is leak-checked by the
 * other tests here, which run it the same way without a window. Strings in store (2 x 1024). */
static char **display_env(const char *display, char store[2][1024])
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 4, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    const char *asan = getenv("ASAN_OPTIONS");
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "DISPLAY=", 8) != 0 &&
            strncmp(environ[i], "SDL_VIDEODRIVER=", 16) != 0 &&
            strncmp(environ[i], "WAYLAND_DISPLAY=", 16) != 0 &&
            strncmp(environ[i], "ASAN_OPTIONS=", 13) != 0)
            env[k++] = environ[i];
    snprintf(store[0], 1024, "DISPLAY=%s", display);
    snprintf(store[1], 1024, "ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "",
             asan && *asan ? ":" : "");
    env[k++] = store[0];
    env[k++] = store[1];
    env[k++] = (char *)"SDL_VIDEODRIVER=x11";
    env[k] = NULL;
    return env;
}

/* Both faces at once, watched in a window: the screen shows the red (no_mask) box left of the
 * green (mask) one under the dark status bar; SIGTERM then ends the run cleanly. */
static void test_watch_display(void)
{
    if (!scene_clip())
        return;
    char still[1100], clip[1100], ev_path[1100], log[1100], envstore[2][1024];
    snprintf(still, sizeof still, "%s/both.png", g_scene_dir);
    snprintf(clip, sizeof clip, "%s/both.mp4", fm_test_tmpdir());
    snprintf(ev_path, sizeof ev_path, "%s/ev.jsonl", fm_test_tmpdir());
    snprintf(log, sizeof log, "%s/watch.log", fm_test_tmpdir());
    if (!still_clip(still, 30, clip))
        return;
    tx_xserver x;
    if (!tx_xvfb_start(&x))
        return;
    char **env = display_env(x.display, envstore);
    pid_t pid = -1;
    int status = 0;
    tx_shot s = {0, 0, NULL};
    watch_args a;
    args_init(&a, clip);
    args_add(&a, "--display");
    args_add(&a, "--events");
    args_add(&a, ev_path);
    a.argv[a.n] = NULL;
    if (!env || (pid = spawn(a.argv, env, log)) < 0)
        goto done;

    tx_region g = {0, 0, 0, 0, 0}, r = g, bar = g;
    int found = 0;
    double end = tv_now() + limit_s(20);
    while (!found && tv_now() < end && still_running(&pid, &status)) {
        sleep_s(0.2);
        free(s.rgb);
        s.rgb = NULL;
        if (!tx_screenshot(x.display, &s))
            break;
        g = tx_find_colour(&s, FM_RGB(0, 255, 0), 40);
        r = tx_find_colour(&s, FM_RGB(255, 0, 0), 40);
        bar = tx_find_colour(&s, FM_RGB(24, 24, 24), 4);
        found = g.n > 500 && r.n > 500 && bar.n > 640 * 8;
    }
    FM_CHECK_MSG(found,
                 "within %.0f s (watch %s): %d green, %d red, %d status-bar pixels on the screen",
                 limit_s(20), pid > 0 ? "running" : "exited", g.n, r.n, bar.n);
    if (!found)
        goto done;
    /* the bar: rows from its top that are mostly dark (white text on it) */
    int bar_h = 0;
    while (bar_h < 100 && row_count(&s, bar.y0 + bar_h, bar.x0, bar.x1, FM_RGB(24, 24, 24), 4) >
                              (bar.x1 - bar.x0 + 1) / 2)
        bar_h++;
    printf("  green %d px at x %d..%d, red %d px at x %d..%d, status bar %dx%d at y %d\n", g.n,
           g.x0, g.x1, r.n, r.x0, r.x1, bar.x1 - bar.x0 + 1, bar_h, bar.y0);
    FM_CHECK_INT(row_count(&s, bar.y0, bar.x0, bar.x1, FM_RGB(24, 24, 24), 4), 640);
    FM_CHECK_MSG(bar_h >= 8 && bar_h <= 20, "the status bar is %d rows high", bar_h);
    FM_CHECK_MSG(row_count(&s, bar.y0 + bar_h + 1, bar.x0, bar.x1, FM_RGB(128, 128, 128), 6) >
                     320,
                 "no grey frame under the status bar");
    /* the unmasked face is on the left of the frame, the masked one on the right */
    FM_CHECK_MSG(r.x1 < g.x0, "red box at x %d..%d, green at %d..%d", r.x0, r.x1, g.x0, g.x1);
    /* the bar spans the 640-pixel frame, above both boxes and their labels */
    FM_CHECK_MSG(bar.x1 - bar.x0 + 1 == 640, "the status bar is %d pixels wide",
                 bar.x1 - bar.x0 + 1);
    FM_CHECK(bar.y0 + bar_h <= r.y0 && bar.y0 + bar_h <= g.y0);
    FM_CHECK(bar.x0 <= r.x0 && g.x1 <= bar.x1);

    kill(pid, SIGTERM);
    if (!wait_exit(pid, limit_s(15), &status))
        fm_test_fail(__FILE__, __LINE__, "watch did not stop within %.0f s of SIGTERM (killed)",
                     limit_s(15));
    pid = -1;
    char *out = fm_test_read_file(log, NULL);
    FM_CHECK_MSG(exit_code(status) == 0, "watch exited %d: %s", exit_code(status),
                 out ? out : "");
    free(out);
    event_log lg;
    if (events_load(ev_path, &lg)) {
        const event *sum = check_ending(&lg, "signal");
        if (sum) {
            FM_CHECK_INT(sum->people, 2);
            FM_CHECK_INT(sum->mask, 1);
            FM_CHECK_INT(sum->no_mask, 1);
        }
        events_free(&lg);
    }
done:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        char *text = fm_test_read_file(log, NULL);
        printf("  watch's output: %s\n", text ? text : "");
        free(text);
    }
    free(s.rgb);
    free(env);
    tx_xvfb_stop(&x);
}

void suite_watch(void);
void suite_watch(void)
{
    fm_video_set_log_level(0);
    FM_RUN(test_watch_file_two_people);
    FM_RUN(test_watch_every);
    FM_RUN(test_watch_no_camera);
    FM_RUN(test_watch_corrupt_and_truncated);
    FM_RUN(test_watch_rtsp_server_restart);
    FM_RUN(test_watch_display);
}
