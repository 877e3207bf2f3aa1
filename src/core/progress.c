/* progress.c - the progress line on a terminal (see progress.h). */
#include "core/progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

#define REDRAW_MS 100.0
#define BAR 30

static void mmss(double s, char *buf, size_t size)
{
    int t = s > 0 && s < 3.6e6 ? (int)(s + 0.5) : 0; /* under 1000 hours */
    if (t >= 3600)
        snprintf(buf, size, "%d:%02d:%02d", t / 3600 % 1000, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%02d:%02d", t / 60 % 60, t % 60);
}

void fm_progress_format(const char *what, const char *unit, long done, long total,
                        double elapsed_s, char *buf, unsigned size)
{
    if (done < 0)
        done = 0;
    if (done > total)
        done = total;
    double frac = total > 0 ? (double)done / (double)total : 0;
    int fill = (int)(BAR * frac);
    char bar[BAR + 1];
    for (int i = 0; i < BAR; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR] = '\0';
    double rate = elapsed_s > 0 ? (double)done / elapsed_s : 0;
    char el[32], eta[32];
    mmss(elapsed_s, el, sizeof el);
    if (rate > 0)
        mmss((double)(total - done) / rate, eta, sizeof eta);
    else
        snprintf(eta, sizeof eta, "--:--");
    snprintf(buf, size, "%s  [%s] %3d%%  %ld/%ld  %.1f %s/s  %s, ETA %s", what, bar,
             (int)(100.0 * frac), done, total, rate, unit, el, eta);
}

static void draw(fm_progress *p, double now)
{
    char line[256];
    fm_progress_format(p->what, p->unit, p->done, p->total, (now - p->t0_ms) / 1e3, line + 1,
                       sizeof line - 8);
    line[0] = '\r';
    size_t n = strlen(line);
    memcpy(line + n, "\033[K", 3); /* erase what a longer line left */
    n += 3;
    fm_log_status_line(1);
    p->shown = 1;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(STDERR_FILENO, line + off, n - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    p->last_ms = now;
}

void fm_progress_start(fm_progress *p, const char *what, const char *unit, long total, int quiet)
{
    memset(p, 0, sizeof *p);
    snprintf(p->what, sizeof p->what, "%s", what ? what : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "items");
    p->total = total;
    p->t0_ms = fm_now_ms();
    p->on = !quiet && total > 0 && isatty(STDERR_FILENO);
}

void fm_progress_label(fm_progress *p, const char *what)
{
    snprintf(p->what, sizeof p->what, "%s", what ? what : "");
}

void fm_progress_update(fm_progress *p, long done)
{
    p->done = done;
    if (!p->on)
        return;
    double now = fm_now_ms();
    if (!p->shown || now - p->last_ms >= REDRAW_MS || done >= p->total)
        draw(p, now);
}

void fm_progress_clear(fm_progress *p)
{
    if (!p || !p->on || !p->shown)
        return;
    static const char erase[] = "\r\033[K";
    if (write(STDERR_FILENO, erase, sizeof erase - 1) < 0) {
        /* nothing to do: stderr is gone */
    }
    fm_log_status_line(0);
    p->shown = 0;
}

void fm_progress_end(fm_progress *p)
{
    fm_progress_clear(p);
    p->on = 0;
}
