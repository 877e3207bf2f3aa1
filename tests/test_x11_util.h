/* test_x11_util.h - helpers shared by the suites that look at an X screen (test_ui_display.c,
 * test_watch.c): a private Xvfb on a display number it picks itself, an xwd screenshot of it
 * decoded to RGB, and the pixels of one colour on it. Xvfb and xwd are required: missing, the
 * calling test fails with the package to install.
 *
 *     tx_xserver x;
 *     if (!tx_xvfb_start(&x))
 *         return;                 // the test has failed with the reason
 *     ... run a client with DISPLAY=x.display ...
 *     tx_shot s = {0, 0, NULL};
 *     if (tx_screenshot(x.display, &s))
 *         green = tx_find_colour(&s, FM_RGB(0, 255, 0), 40);
 *     free(s.rgb);
 *     tx_xvfb_stop(&x);
 *
 * The environment (DISPLAY and the like) is left to the caller. */
#ifndef FM_TEST_X11_UTIL_H
#define FM_TEST_X11_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/image.h"
#include "test.h"

typedef struct {
    pid_t pid;        /* the Xvfb process, 0 when none runs */
    char display[32]; /* ":N" */
} tx_xserver;

/* Starts `Xvfb -displayfd` (the server picks a free display number and writes it when ready,
 * so parallel runs never collide), waiting at most 15 s; its output goes to xvfb.log in the
 * test's temporary folder. Fails the test and returns 0 when Xvfb is missing or does not come
 * up. */
static inline int tx_xvfb_start(tx_xserver *x)
{
    memset(x, 0, sizeof *x);
    int fds[2];
    if (pipe(fds) != 0) {
        fm_test_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
        return 0;
    }
    char log[1100];
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
    while (n < sizeof buf - 1 && poll(&pfd, 1, 15000) > 0) {
        ssize_t got = read(fds[0], buf + n, sizeof buf - 1 - n);
        if (got <= 0)
            break;
        n += (size_t)got;
        buf[n] = '\0';
        if (strchr(buf, '\n'))
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
    return 1;
}

/* SIGTERM, then up to 5 s for it to exit (SIGKILL after). Nothing when none runs. */
static inline void tx_xvfb_stop(tx_xserver *x)
{
    if (x->pid <= 0)
        return;
    kill(x->pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
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

/* An X screen as RGB. */
typedef struct {
    int w, h;
    uint8_t *rgb; /* w * h * 3, R G B; malloc'd, the caller frees */
} tx_shot;

static inline uint32_t tx_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline int tx_mask_shift(uint32_t m)
{
    int s = 0;
    while (m && !(m & 1)) {
        m >>= 1;
        s++;
    }
    return s;
}

/* The whole screen of `display` through `xwd -root` (a TrueColor ZPixmap, as Xvfb gives),
 * within 20 s. Fails the test and returns 0 on any problem. */
static inline int tx_screenshot(const char *display, tx_shot *out)
{
    char path[1100], cmd[2400];
    snprintf(path, sizeof path, "%s/screen.xwd", fm_test_tmpdir());
    snprintf(cmd, sizeof cmd, "timeout 20 xwd -root -silent -display %s -out '%s' 2>&1", display,
             path);
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
    uint32_t hsize = tx_be32(f), format = tx_be32(f + 8), w = tx_be32(f + 16),
             h = tx_be32(f + 20);
    uint32_t order = tx_be32(f + 28), bpp = tx_be32(f + 44), bpl = tx_be32(f + 48);
    uint32_t rm = tx_be32(f + 56), gm = tx_be32(f + 60), bm = tx_be32(f + 64),
             ncolors = tx_be32(f + 76);
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
        fm_test_fail(__FILE__, __LINE__, "out of memory for a %ux%u screenshot", w, h);
        free(f);
        return 0;
    }
    int rs = tx_mask_shift(rm), gs = tx_mask_shift(gm), bs = tx_mask_shift(bm);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            const uint8_t *p = f + off + (size_t)y * bpl + (size_t)x * (bpp / 8);
            uint32_t v = 0;
            for (uint32_t k = 0; k < bpp / 8; k++) /* byte order 0: LSB first */
                v |= (uint32_t)p[order == 0 ? k : bpp / 8 - 1 - k] << (8 * k);
            uint8_t *o = out->rgb + ((size_t)y * w + x) * 3;
            o[0] = (uint8_t)((v & rm) >> rs);
            o[1] = (uint8_t)((v & gm) >> gs);
            o[2] = (uint8_t)((v & bm) >> bs);
        }
    free(f);
    return 1;
}

/* How many pixels have a colour, and their bounding box (x0 > x1 when none). */
typedef struct {
    int n, x0, y0, x1, y1;
} tx_region;

/* Pixels within `tol` of the colour on every channel, and their bounding box. */
static inline tx_region tx_find_colour(const tx_shot *s, fm_color c, int tol)
{
    tx_region r = {0, 1 << 30, 1 << 30, -1, -1};
    for (int y = 0; y < s->h; y++)
        for (int x = 0; x < s->w; x++) {
            const uint8_t *p = s->rgb + ((size_t)y * (size_t)s->w + (size_t)x) * 3;
            if (abs(p[0] - c.r) <= tol && abs(p[1] - c.g) <= tol && abs(p[2] - c.b) <= tol) {
                r.n++;
                r.x0 = x < r.x0 ? x : r.x0;
                r.y0 = y < r.y0 ? y : r.y0;
                r.x1 = x > r.x1 ? x : r.x1;
                r.y1 = y > r.y1 ? y : r.y1;
            }
        }
    return r;
}

#endif
