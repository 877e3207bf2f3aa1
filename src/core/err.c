#include "core/err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char *fm_status_str(fm_status s)
{
    switch (s) {
    case FM_OK: return "ok";
    case FM_ERR_IO: return "i/o error";
    case FM_ERR_PARSE: return "parse error";
    case FM_ERR_FORMAT: return "format error";
    case FM_ERR_SHAPE: return "shape mismatch";
    case FM_ERR_UNSUPPORTED: return "unsupported";
    case FM_ERR_NOMEM: return "out of memory";
    case FM_ERR_ARG: return "invalid argument";
    case FM_ERR_LIMIT: return "limit exceeded";
    case FM_END: return "end of stream";
    }
    return "unknown status";
}

fm_status fm_err_set(fm_err *err, fm_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

fm_status fm_err_prefix(fm_err *err, const char *fmt, ...)
{
    if (!err)
        return FM_OK;
    char head[256];
    char old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    /* head + old may be longer than msg: build it whole, then keep what fits */
    char both[sizeof head + sizeof old];
    snprintf(both, sizeof both, "%s%s", head, old);
    memcpy(err->msg, both, sizeof err->msg - 1);
    err->msg[sizeof err->msg - 1] = '\0';
    return err->status;
}

int fm_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

int fm_size_add(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return 0;
    *out = a + b;
    return 1;
}
