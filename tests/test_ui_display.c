/* Display under a private Xvfb: an annotated frame appears in the window (checked on an xwd
 * screenshot of the X screen, colours and scale), quit requests from SDL_QUIT and keys, and a
 * clear error without an X server. Xvfb and xwd are required: missing, the tests fail.
 *
 * SDL runs in a forked child per test: a hung X call is killed after a time limit, and the
 * system libraries SDL loads (libdbus, the GL driver) keep allocations past SDL_Quit that
 * LeakSanitizer would report; the child leaves with _exit, so only our code is leak-checked
 * (the overlay and tracker suites run in the main process). Xvfb belongs to the parent. */
#include <errno.h>
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
#include "test_x11_util.h"
#include "ui/display.h"
#include "ui/overlay.h"

/* The environment SDL reads, saved while a test points it elsewhere. */
typedef struct {
    char *old_display, *old_driver, *old_wayland;
} saved_env;

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

/* Points SDL at X11 on `display` (saving the old environment in e). */
static void use_display(saved_env *e, const char *display)
{
    e->old_display = dup_env("DISPLAY");
    e->old_driver = dup_env("SDL_VIDEODRIVER");
    e->old_wayland = dup_env("WAYLAND_DISPLAY");
    setenv("DISPLAY", display, 1);
    setenv("SDL_VIDEODRIVER", "x11", 1);
    unsetenv("WAYLAND_DISPLAY");
}

static void restore_display(saved_env *e)
{
    restore_env("DISPLAY", e->old_display);
    restore_env("SDL_VIDEODRIVER", e->old_driver);
    restore_env("WAYLAND_DISPLAY", e->old_wayland);
}

/* ---- isolation -------------------------------------------------------------------- */

static tx_xserver g_x; /* the running server, for the test bodies */
static saved_env g_env; /* the environment before SDL was pointed at it */

/* Starts Xvfb (g_x) and points SDL at it; 0 (test failed) when it does not come up. */
static int xvfb_start(void)
{
    if (!tx_xvfb_start(&g_x))
        return 0;
    use_display(&g_env, g_x.display);
    return 1;
}

static void xvfb_stop(void)
{
    if (g_x.pid <= 0)
        return;
    restore_display(&g_env);
    tx_xvfb_stop(&g_x);
}

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
    fm_font *font = fm_font_open(NULL, &err);
    FM_CHECK_MSG(font != NULL, "%s", err.msg);
    fm_overlay_tracks(img, font, t, 2);
    fm_overlay_status(img, font, 25.0, NULL);
    /* the green label's rows above the box (row 60) */
    fm_label_box lab = fm_label_place(font, "ID 1 mask 0.97",
                                      fm_annot_style_for(320, 240, 100).text_px, 40, 60, 320, 240);
    int label_rows = 60 - lab.y1;
    fm_font_free(font);

    d = fm_display_open("facemask test", 800, 480, &err);
    FM_CHECK_MSG(d != NULL, "open: %s", err.msg);
    if (!d)
        goto done;
    tx_shot s = {0, 0, NULL};
    tx_region g = {0, 0, 0, 0, 0}, r = g;
    /* the window is mapped asynchronously: show until the screen has the frame (<= ~10 s) */
    for (int tries = 0; tries < 40; tries++) {
        FM_CHECK_INT(fm_display_show(d, img, &err), FM_OK);
        FM_CHECK_INT(fm_display_poll(d), 0);
        SDL_Delay(tries < 5 ? 50 : 200);
        free(s.rgb);
        s.rgb = NULL;
        if (!tx_screenshot(g_x.display, &s))
            break;
        g = tx_find_colour(&s, FM_RGB(0, 255, 0), 40);
        r = tx_find_colour(&s, FM_RGB(255, 0, 0), 40);
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
         * to the right; both start at their labels, label_rows above the boxes */
        FM_CHECK_MSG(abs(g.x1 - g.x0 + 1 - 240) <= 2, "green is %d wide on screen, expected 240",
                     g.x1 - g.x0 + 1);
        FM_CHECK_MSG(abs(r.x0 - g.x0 - 300) <= 2, "red starts %d right of green, expected 300",
                     r.x0 - g.x0);
        FM_CHECK_MSG(abs(g.y1 - g.y0 + 1 - 2 * (100 + label_rows)) <= 2,
                     "green is %d high, expected %d", g.y1 - g.y0 + 1, 2 * (100 + label_rows));
        FM_CHECK_MSG(abs(r.y0 - g.y0) <= 1, "red top %d, green top %d", r.y0, g.y0);
        /* the grey face and the black bar left of the frame */
        int gx = g.x0 + 120, gy = g.y0 + 2 * label_rows + 100;
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
    if (!xvfb_start())
        return;
    run_isolated(shows_annotated_frame, 60);
    xvfb_stop();
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
    if (!xvfb_start())
        return;
    run_isolated(keys_and_resize, 60);
    xvfb_stop();
}

/* No X server: a clear message, no crash. */
static void no_server(void)
{
    saved_env e;
    use_display(&e, ":65000");
    fm_err err = {0};
    fm_display *d = fm_display_open("facemask", 320, 240, &err);
    FM_CHECK(d == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "display: cannot start SDL video: ");
    fm_display_close(d);
    d = fm_display_open("facemask", 0, 240, &err);
    FM_CHECK(d == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "display: window size 0x240, expected 1..16384 per side");
    restore_display(&e);
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
