/* Display under a private Xvfb: an annotated frame appears in the window (checked on an xwd
 * screenshot of the X screen, colours and scale), quit requests from SDL_QUIT and keys, and a
 * clear error without an X server. Xvfb and xwd are required: missing, the tests fail.
 *
 * SDL runs in a forked child per test: a hung X call is killed after a time limit, and the
 * system libraries SDL loads (libdbus, the GL driver) keep allocations past SDL_Quit that
 * LeakSanitizer would report; the child leaves with _exit, so only our code is leak-checked
 * (the overlay and tracker suites run in the main process). Xvfb belongs to the parent. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SDL_MAIN_HANDLED
#include <SDL.h>

#include "test.h"
#include "ui/display.h"
#include "ui/overlay.h"

typedef struct {
    pid_t pid;
    char display[32];
    char *old_display, *old_driver, *old_wayland;
} xserver;

static char *dup_env(const char *name)
{
    const char *v = getenv(name);
    return v ? strdup(v) : NULL;
}

static void restore_env(const char *name, char *v)
{
    if (v)
        setenv(name, v, 1);
    else
        unsetenv(name);
    free(v);
}

/* Points SDL at X11 on `display` (saving the old environment). */
static void use_display(xserver *x, const char *display)
{
    x->old_display = dup_env("DISPLAY");
    x->old_driver = dup_env("SDL_VIDEODRIVER");
    x->old_wayland = dup_env("WAYLAND_DISPLAY");
    setenv("DISPLAY", display, 1);
    setenv("SDL_VIDEODRIVER", "x11", 1);
    unsetenv("WAYLAND_DISPLAY");
}

static void restore_display(xserver *x)
{
    restore_env("DISPLAY", x->old_display);
    restore_env("SDL_VIDEODRIVER", x->old_driver);
    restore_env("WAYLAND_DISPLAY", x->old_wayland);
}

/* Starts `Xvfb -displayfd` (the server picks a free display number and writes it when ready,
 * so parallel runs never collide), waiting at most 15 s. Fails the test and returns 0 when
 * Xvfb is missing or does not come up. */
static int xvfb_start(xserver *x)
{
    memset(x, 0, sizeof *x);
    int fds[2];
    if (pipe(fds) != 0) {
        fm_test_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
        return 0;
    }
    char log[600];
    snprintf(log, sizeof log, "%s/xvfb.log", fm_test_tmpdir());
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        char fdarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", fds[1]);
        execlp("Xvfb", "Xvfb", "-displayfd", fdarg, "-screen", "0", "1024x768x24", "-nolisten",
               "tcp", "-noreset", (char *)NULL);
        dprintf(2, "exec Xvfb: %s\n", strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        fm_test_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
        return 0;
    }
    x->pid = pid;
    char buf[32] = "";
    size_t n = 0;
    struct pollfd pfd = {fds[0], POLLIN, 0};
    for (;;) {
        int r = poll(&pfd, 1, 15000);
        if (r <= 0)
            break;
        ssize_t got = read(fds[0], buf + n, sizeof buf - 1 - n);
        if (got <= 0)
            break;
        n += (size_t)got;
        buf[n] = '\0';
        if (strchr(buf, '\n') || n == sizeof buf - 1)
            break;
    }
    close(fds[0]);
    int num = -1;
    if (sscanf(buf, "%d", &num) != 1 || num < 0) {
        int st = 0;
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        x->pid = 0;
        char *text = fm_test_read_file(log, NULL);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
            fm_test_fail(__FILE__, __LINE__,
                         "Xvfb is not installed (package xvfb; tools/install-deps.sh): %s",
                         text ? text : "");
        else
            fm_test_fail(__FILE__, __LINE__, "Xvfb did not start within 15 s; its log: %s",
                         text ? text : "(none)");
        free(text);
        return 0;
    }
    snprintf(x->display, sizeof x->display, ":%d", num);
    use_display(x, x->display);
    return 1;
}

static void xvfb_stop(xserver *x)
{
    if (x->pid <= 0)
        return;
    restore_display(x);
    kill(x->pid, SIGTERM);
    for (int i = 0; i < 100; i++) { /* 5 s, then SIGKILL */
        if (waitpid(x->pid, NULL, WNOHANG) == x->pid) {
            x->pid = 0;
            return;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(x->pid, SIGKILL);
    waitpid(x->pid, NULL, 0);
    x->pid = 0;
}

/* ---- xwd screenshots ------------------------------------------------------------ */

typedef struct {
    int w, h;
    uint8_t *rgb; /* w * h * 3, R G B */
} shot;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int mask_shift(uint32_t m)
{
    int s = 0;
    while (m && !(m & 1)) {
        m >>= 1;
        s++;
    }
    return s;
}

/* The whole X screen as RGB through `xwd -root`; 0 (test failed) on any problem. */
static int screenshot(const xserver *x, shot *out)
{
    char path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/screen.xwd", fm_test_tmpdir());
    snprintf(cmd, sizeof cmd, "timeout 20 xwd -root -silent -display %s -out '%s' 2>&1",
             x->display, path);
    char *msg = NULL;
    int st = fm_test_cmd(cmd, &msg);
    if (st != 0) {
        fm_test_fail(__FILE__, __LINE__, "xwd failed (status %d%s): %s", st,
                     st == 127 ? ": not installed, package x11-apps" : "", msg ? msg : "");
        free(msg);
        return 0;
    }
    free(msg);
    size_t len = 0;
    uint8_t *f = (uint8_t *)fm_test_read_file(path, &len);
    if (!f || len < 100) {
        fm_test_fail(__FILE__, __LINE__, "cannot read the xwd file %s", path);
        free(f);
        return 0;
    }
    uint32_t hsize = be32(f), format = be32(f + 8), w = be32(f + 16), h = be32(f + 20);
    uint32_t order = be32(f + 28), bpp = be32(f + 44), bpl = be32(f + 48);
    uint32_t rm = be32(f + 56), gm = be32(f + 60), bm = be32(f + 64), ncolors = be32(f + 76);
    size_t off = (size_t)hsize + (size_t)ncolors * 12;
    if (format != 2 || (bpp != 32 && bpp != 24) || w == 0 || h == 0 || w > 8192 || h > 8192 ||
        bpl < w * (bpp / 8) || off + (size_t)bpl * h > len) {
        fm_test_fail(__FILE__, __LINE__,
                     "unexpected xwd file: format %u, %u bpp, %ux%u, %u bytes a line, %zu bytes",
                     format, bpp, w, h, bpl, len);
        free(f);
        return 0;
    }
    out->w = (int)w;
    out->h = (int)h;
    out->rgb = malloc((size_t)w * h * 3);
    if (!out->rgb) {
        free(f);
        return 0;
    }
    int rs = mask_shift(rm), gs = mask_shift(gm), bs = mask_shift(bm);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t xx = 0; xx < w; xx++) {
            const uint8_t *p = f + off + (size_t)y * bpl + (size_t)xx * (bpp / 8);
            uint32_t v = 0;
            for (uint32_t k = 0; k < bpp / 8; k++) /* byte order 0: LSB first */
                v |= (uint32_t)p[order == 0 ? k : bpp / 8 - 1 - k] << (8 * k);
            uint8_t *o = out->rgb + ((size_t)y * w + xx) * 3;
            o[0] = (uint8_t)((v & rm) >> rs);
            o[1] = (uint8_t)((v & gm) >> gs);
            o[2] = (uint8_t)((v & bm) >> bs);
        }
    free(f);
    return 1;
}

typedef struct {
    int n, x0, y0, x1, y1;
} region;

/* Pixels within 40 of the colour on every channel, and their bounding box. */
static region find_colour(const shot *s, fm_color c)
{
    region r = {0, 1 << 30, 1 << 30, -1, -1};
    for (int y = 0; y < s->h; y++)
        for (int x = 0; x < s->w; x++) {
            const uint8_t *p = s->rgb + ((size_t)y * s->w + x) * 3;
            if (abs(p[0] - c.r) <= 40 && abs(p[1] - c.g) <= 40 && abs(p[2] - c.b) <= 40) {
                r.n++;
                r.x0 = x < r.x0 ? x : r.x0;
                r.y0 = y < r.y0 ? y : r.y0;
                r.x1 = x > r.x1 ? x : r.x1;
                r.y1 = y > r.y1 ? y : r.y1;
            }
        }
    return r;
}

/* ---- isolation -------------------------------------------------------------------- */

static xserver g_x; /* the running server, for the test bodies */

/* Runs body in a child process within timeout_s seconds; its failures (printed by the child)
 * fail the current test. */
static void run_isolated(void (*body)(void), int timeout_s)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        body();
        fflush(stdout);
        _exit(fm_test_failed_now() ? 1 : 0);
    }
    if (pid < 0) {
        fm_test_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
        return;
    }
    int st = 0;
    for (int i = 0; i < timeout_s * 50; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            if (WIFSIGNALED(st))
                fm_test_fail(__FILE__, __LINE__, "the test's process died of signal %d",
                             WTERMSIG(st));
            else if (WEXITSTATUS(st) != 0)
                fm_test_fail(__FILE__, __LINE__, "failed in the test's process (above)");
            return;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fm_test_fail(__FILE__, __LINE__, "did not finish within %d s (killed)", timeout_s);
}

/* ---- tests ----------------------------------------------------------------------- */

/* A 320x240 frame with a mask and a no_mask face, shown in an 800x480 window: scaled 2x to
 * 640x480 between black bars. On the X screen: the green and red boxes, 2x apart and 2x wide. */
static void shows_annotated_frame(void)
{
    xserver *x = &g_x;
    fm_err err = {0};
    fm_image *img = fm_image_new(320, 240, &err);
    fm_display *d = NULL;
    if (!img)
        goto done;
    memset(img->data, 128, (size_t)img->stride * (size_t)img->h);
    fm_track_info t[2];
    memset(t, 0, sizeof t);
    t[0].id = 1;
    t[0].box = (fm_box){40, 60, 160, 160};
    t[0].label = FM_LABEL_MASK;
    t[0].mask_prob = 0.97f;
    t[0].votes = 3;
    t[1].id = 2;
    t[1].box = (fm_box){190, 60, 300, 160};
    t[1].label = FM_LABEL_NO_MASK;
    t[1].mask_prob = 0.1f;
    t[1].votes = 3;
    fm_overlay_tracks(img, t, 2);
    fm_overlay_status(img, 25.0, NULL);

    d = fm_display_open("facemask test", 800, 480, &err);
    FM_CHECK_MSG(d != NULL, "open: %s", err.msg);
    if (!d)
        goto done;
    shot s = {0, 0, NULL};
    region g = {0, 0, 0, 0, 0}, r = g;
    /* the window is mapped asynchronously: show until the screen has the frame (<= ~10 s) */
    for (int tries = 0; tries < 40; tries++) {
        FM_CHECK_INT(fm_display_show(d, img, &err), FM_OK);
        FM_CHECK_INT(fm_display_poll(d), 0);
        SDL_Delay(tries < 5 ? 50 : 200);
        free(s.rgb);
        s.rgb = NULL;
        if (!screenshot(x, &s))
            break;
        g = find_colour(&s, FM_RGB(0, 255, 0));
        r = find_colour(&s, FM_RGB(255, 0, 0));
        if (g.n > 1000 && r.n > 1000)
            break;
    }
    int fx, fy, fw, fh;
    fm_display_frame_rect(d, &fx, &fy, &fw, &fh);
    FM_CHECK_MSG(fx == 80 && fy == 0 && fw == 640 && fh == 480, "frame drawn at %d,%d %dx%d",
                 fx, fy, fw, fh);
    FM_CHECK_MSG(g.n > 1000, "%d green pixels on the screen", g.n);
    FM_CHECK_MSG(r.n > 1000, "%d red pixels on the screen", r.n);
    if (g.n > 1000 && r.n > 1000) {
        /* green: box x 40..159 (the label is narrower), scaled 2x: 240 wide; red starts 2 * 150
         * to the right; both start at row 2 * 50 (their labels, 10 rows above the boxes) */
        FM_CHECK_MSG(abs(g.x1 - g.x0 + 1 - 240) <= 2, "green is %d wide on screen, expected 240",
                     g.x1 - g.x0 + 1);
        FM_CHECK_MSG(abs(r.x0 - g.x0 - 300) <= 2, "red starts %d right of green, expected 300",
                     r.x0 - g.x0);
        FM_CHECK_MSG(abs(g.y1 - g.y0 + 1 - 220) <= 2, "green is %d high, expected 220",
                     g.y1 - g.y0 + 1);
        FM_CHECK_MSG(abs(r.y0 - g.y0) <= 1, "red top %d, green top %d", r.y0, g.y0);
        /* the grey face and the black bar left of the frame */
        int gx = g.x0 + 120, gy = g.y0 + 110;
        const uint8_t *p = s.rgb + ((size_t)gy * s.w + gx) * 3;
        FM_CHECK_MSG(p[0] == 128 && p[1] == 128 && p[2] == 128, "face pixel %d,%d,%d", p[0], p[1],
                     p[2]);
        int bx = g.x0 - 80 - 10; /* frame's left edge is 80 px (2 * 40) left of the box */
        if (bx >= 0) {
            p = s.rgb + ((size_t)gy * s.w + bx) * 3;
            FM_CHECK_MSG(p[0] == 0 && p[1] == 0 && p[2] == 0, "bar pixel %d,%d,%d", p[0], p[1],
                         p[2]);
        }
    }
    free(s.rgb);

    /* quit on SDL_QUIT, and it stays requested */
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = SDL_QUIT;
    FM_CHECK_INT(SDL_PushEvent(&e), 1);
    FM_CHECK(fm_display_poll(d) != 0);
    FM_CHECK(fm_display_poll(d) != 0);
done:
    fm_display_close(d);
    fm_image_free(img);
}

static void test_display_shows_annotated_frame(void)
{
    if (!xvfb_start(&g_x))
        return;
    run_isolated(shows_annotated_frame, 60);
    xvfb_stop(&g_x);
}

/* q and Escape quit, other keys do not; a frame of another size gets a new texture. */
static void keys_and_resize(void)
{
    fm_err err = {0};
    static const SDL_Keycode keys[2] = {SDLK_q, SDLK_ESCAPE};
    for (int k = 0; k < 2; k++) {
        fm_display *d = fm_display_open("facemask keys", 320, 240, &err);
        FM_CHECK_MSG(d != NULL, "open: %s", err.msg);
        if (!d)
            break;
        fm_image *a = fm_image_new(64, 48, &err), *b = fm_image_new(100, 30, &err);
        if (a && b) {
            FM_CHECK_INT(fm_display_show(d, a, &err), FM_OK);
            FM_CHECK_INT(fm_display_show(d, b, &err), FM_OK);
            int fx, fy, fw, fh; /* 100x30 in 320x240: full width, 96 high, centred */
            fm_display_frame_rect(d, &fx, &fy, &fw, &fh);
            FM_CHECK_MSG(fx == 0 && fy == 72 && fw == 320 && fh == 96, "frame at %d,%d %dx%d", fx,
                         fy, fw, fh);
        }
        fm_image bad = {0, 0, 0, NULL};
        FM_CHECK_INT(fm_display_show(d, &bad, &err), FM_ERR_ARG);
        SDL_Event e;
        memset(&e, 0, sizeof e);
        e.type = SDL_KEYDOWN;
        e.key.keysym.sym = SDLK_a;
        SDL_PushEvent(&e);
        FM_CHECK_INT(fm_display_poll(d), 0);
        e.key.keysym.sym = keys[k];
        SDL_PushEvent(&e);
        FM_CHECK(fm_display_poll(d) != 0);
        fm_image_free(a);
        fm_image_free(b);
        fm_display_close(d);
    }
}

static void test_display_keys_and_resize(void)
{
    if (!xvfb_start(&g_x))
        return;
    run_isolated(keys_and_resize, 60);
    xvfb_stop(&g_x);
}

/* No X server: a clear message, no crash. */
static void no_server(void)
{
    xserver x;
    memset(&x, 0, sizeof x);
    use_display(&x, ":65000");
    fm_err err = {0};
    fm_display *d = fm_display_open("facemask", 320, 240, &err);
    FM_CHECK(d == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "display: cannot start SDL video: ");
    fm_display_close(d);
    d = fm_display_open("facemask", 0, 240, &err);
    FM_CHECK(d == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "display: window size 0x240, expected 1..16384 per side");
    restore_display(&x);
}

static void test_display_no_server(void)
{
    run_isolated(no_server, 30);
}

void suite_ui_display(void);
void suite_ui_display(void)
{
    FM_RUN(test_display_no_server);
    FM_RUN(test_display_shows_annotated_frame);
    FM_RUN(test_display_keys_and_resize);
}
