/* err.h - status codes and error messages for facemask.
 *
 * Library code never prints or exits on bad input. A function that can fail
 * returns an fm_status (or NULL) and, when given a non-NULL fm_err, writes a
 * one-line message that says what failed, where (file, line, layer, byte
 * offset) and what was expected:
 *
 *     fm_err err = {0};
 *     fm_net *net = fm_caffe_load_net(proto, weights, &opts, &err);
 *     if (!net) { fprintf(stderr, "facemask: %s\n", err.msg); return 1; }
 */
#ifndef FM_ERR_H
#define FM_ERR_H

#include <stddef.h>

typedef enum {
    FM_OK = 0,
    FM_ERR_IO,          /* a file could not be opened, read or written */
    FM_ERR_PARSE,       /* text or binary input is malformed */
    FM_ERR_FORMAT,      /* well-formed but not what was expected (type, version) */
    FM_ERR_SHAPE,       /* tensor shapes disagree */
    FM_ERR_UNSUPPORTED, /* a feature (layer type, option) facemask does not have */
    FM_ERR_NOMEM,       /* allocation failed or a size overflowed */
    FM_ERR_ARG,         /* a caller passed an invalid argument */
    FM_ERR_LIMIT,       /* input exceeds a configured maximum (image size, depth) */
    FM_END = 64         /* not an error: a stream or file source has ended cleanly */
} fm_status;

typedef struct {
    fm_status status;
    char msg[512];
} fm_err;

const char *fm_status_str(fm_status s);

/* Formats a message into err (if err is non-NULL) and returns status. */
fm_status fm_err_set(fm_err *err, fm_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prefixes an existing message with more context ("file.caffemodel: " + msg). */
fm_status fm_err_prefix(fm_err *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Overflow-checked size arithmetic: return 0 on overflow, 1 on success. */
int fm_size_mul(size_t a, size_t b, size_t *out);
int fm_size_add(size_t a, size_t b, size_t *out);

#endif
