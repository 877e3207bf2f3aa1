/* text.c - the growing text buffer (core/text.h). */
#include "core/text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

void fm_text_put(fm_text *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (n >= FM_TEXT_MAX - t->len) {
        t->oom = 1;
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2; /* len + n + 1 <= FM_TEXT_MAX, a power of two: no overflow */
        char *p = realloc(t->p, cap);
        if (!p) {
            t->oom = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

void fm_text_str(fm_text *t, const char *s)
{
    fm_text_put(t, s, strlen(s));
}

void fm_text_printf(fm_text *t, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->oom = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        fm_text_put(t, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        t->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    fm_text_put(t, big, (size_t)n);
    free(big);
}

static void sink(void *ctx, const char *s, size_t n)
{
    fm_text_put(ctx, s, n);
}

void fm_text_json_str(fm_text *t, const char *s)
{
    fm_json_escape(sink, t, s, 0);
}

void fm_text_json_num(fm_text *t, double v)
{
    if (!isfinite(v))
        fm_text_str(t, "null");
    else
        fm_text_printf(t, "%.15g", v);
}

void fm_text_reset(fm_text *t)
{
    t->len = 0;
    t->oom = 0;
    if (t->p)
        t->p[0] = '\0';
}

void fm_text_free(fm_text *t)
{
    free(t->p);
    memset(t, 0, sizeof *t);
}
