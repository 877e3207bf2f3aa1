/* log.c - one-line messages on standard error (see log.h). */
#include "core/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int g_level = FM_LOG_WARN;
static atomic_int g_status_line;

void fm_log_status_line(int shown)
{
    atomic_store(&g_status_line, shown);
}

void fm_log_set_level(fm_log_level max)
{
    atomic_store(&g_level, (int)max);
}

fm_log_level fm_log_get_level(void)
{
    return (fm_log_level)atomic_load(&g_level);
}

int fm_log_enabled(fm_log_level level)
{
    return (int)level <= atomic_load(&g_level);
}

/* "facemask: " + prefix + text as one line (control characters become spaces, trailing
 * blanks go), with one write(). */
static void emit(const char *prefix, const char *text)
{
    char line[2048];
    size_t n = (size_t)snprintf(line, sizeof line, "%sfacemask: %s",
                                atomic_load(&g_status_line) ? "\r\033[K" : "", prefix);
    if (n >= sizeof line)
        n = sizeof line - 1;
    for (const unsigned char *p = (const unsigned char *)text; *p && n < sizeof line - 1; p++)
        line[n++] = (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p;
    while (n > 0 && line[n - 1] == ' ')
        n--;
    line[n++] = '\n';
    for (size_t off = 0; off < n;) {
        ssize_t w = write(STDERR_FILENO, line + off, n - off);
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

void fm_logv(fm_log_level level, const char *fmt, va_list ap)
{
    if (!fm_log_enabled(level))
        return;
    char text[1536];
    vsnprintf(text, sizeof text, fmt, ap);
    emit("", text);
}

void fm_log(fm_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fm_logv(level, fmt, ap);
    va_end(ap);
}

void fm_log_foreign(fm_log_level level, const char *origin, const char *text)
{
    int lowered = level < FM_LOG_DEBUG ? (int)level + 1 : FM_LOG_DEBUG;
    if (!fm_log_enabled((fm_log_level)lowered) || !text)
        return;
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    if (len == 0)
        return;
    char prefix[96], body[1536];
    snprintf(prefix, sizeof prefix, "%s: ", origin ? origin : "?");
    snprintf(body, sizeof body, "%.*s", (int)(len < sizeof body ? len : sizeof body - 1), text);
    emit(prefix, body);
}
