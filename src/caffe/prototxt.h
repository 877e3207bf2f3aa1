/* prototxt.h - protobuf text format, as Caffe's .prototxt files use it.
 *
 * Parses a whole document into a tree of fields. A field has a name and
 * either a scalar value (number, identifier/enum, or quoted string) or a
 * nested message. Repeated fields are simply several fields with the same
 * name, in file order. Comments (# to end of line), `name: value`,
 * `name { ... }`, `name: { ... }`, `name < ... >`, `;`/`,` separators, and
 * adjacent string concatenation are accepted. Errors name file:line:col.
 *
 *     fm_err err = {0};
 *     fm_ptxt *doc = fm_ptxt_read("deploy.prototxt", &err);
 *     for (const fm_ptxt_node *l = fm_ptxt_get(fm_ptxt_root(doc), "layer"); l;
 *          l = fm_ptxt_next_named(l)) {
 *         const char *type = fm_ptxt_get_str(l, "type", "");
 *     }
 *     fm_ptxt_free(doc);
 */
#ifndef FM_PROTOTXT_H
#define FM_PROTOTXT_H

#include <stddef.h>

#include "core/err.h"

typedef struct fm_ptxt fm_ptxt;
typedef struct fm_ptxt_node fm_ptxt_node;

struct fm_ptxt_node {
    const char *name;  /* field name */
    const char *value; /* scalar text (strings unescaped, without quotes); NULL for a message */
    int is_string;     /* value came from a quoted string */
    int line, col;     /* where the field name starts, 1-based */
    const fm_ptxt_node *child; /* first field of a message; NULL for a scalar or empty message */
    const fm_ptxt_node *next;  /* next field of the enclosing message */
    const fm_ptxt *doc;
};

/* Limits against hostile input. */
#define FM_PTXT_MAX_DEPTH 64
#define FM_PTXT_MAX_BYTES (64u << 20)
/* Fields (scalars and messages) in one document. A field can be 3 bytes of text ("a{}") but
 * takes ~80 bytes of arena, so the count is capped (a real prototxt has a few thousand):
 * FM_ERR_LIMIT "FILE:LINE:COL: more than 262144 fields (FM_PTXT_MAX_NODES)". A parse uses at
 * most 2 x the text size for names and values + about 25 MB of nodes. */
#define FM_PTXT_MAX_NODES (1 << 18)

/* filename is used only in messages. The text need not be NUL-terminated. */
fm_ptxt *fm_ptxt_parse(const char *text, size_t len, const char *filename, fm_err *err);
fm_ptxt *fm_ptxt_read(const char *path, fm_err *err);
void fm_ptxt_free(fm_ptxt *doc);
const char *fm_ptxt_filename(const fm_ptxt *doc);

/* The top-level message (its children are the document's fields). */
const fm_ptxt_node *fm_ptxt_root(const fm_ptxt *doc);
/* First field named `name` in message `msg`, or NULL. */
const fm_ptxt_node *fm_ptxt_get(const fm_ptxt_node *msg, const char *name);
/* The next field after `field` in the same message with the same name, or NULL. */
const fm_ptxt_node *fm_ptxt_next_named(const fm_ptxt_node *field);
int fm_ptxt_count(const fm_ptxt_node *msg, const char *name);

/* Typed reads of a scalar field; a message, a non-number, an out-of-range
 * value gives an error "file:line:col: field 'name': expected ...". */
fm_status fm_ptxt_int(const fm_ptxt_node *field, long long *out, fm_err *err);
fm_status fm_ptxt_float(const fm_ptxt_node *field, double *out, fm_err *err);
/* true/false (also t/f, 1/0). */
fm_status fm_ptxt_bool(const fm_ptxt_node *field, int *out, fm_err *err);

/* Convenience: the first field `name` of msg, or def when it is absent.
 * A present but malformed value is an error. */
fm_status fm_ptxt_get_int(const fm_ptxt_node *msg, const char *name, long long def, long long *out,
                          fm_err *err);
fm_status fm_ptxt_get_float(const fm_ptxt_node *msg, const char *name, double def, double *out,
                            fm_err *err);
fm_status fm_ptxt_get_bool(const fm_ptxt_node *msg, const char *name, int def, int *out,
                           fm_err *err);
/* Scalar text of the first field `name` (string or identifier), or def. */
const char *fm_ptxt_get_str(const fm_ptxt_node *msg, const char *name, const char *def);

/* Formats "file:line:col" of a node into buf; returns buf. */
char *fm_ptxt_where(const fm_ptxt_node *node, char *buf, size_t size);

#endif
