/* prototxt.c - protobuf text format parser (see prototxt.h).
 *
 * A one-token-lookahead lexer feeds a recursive-descent parser whose depth
 * is bounded by FM_PTXT_MAX_DEPTH. Every node and string lives in one arena
 * per document, released by fm_ptxt_free.
 */
#include "caffe/prototxt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/file.h"

/* ---- arena ---- */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
} chunk;

struct fm_ptxt {
    chunk *arena;
    char *filename;
    fm_ptxt_node root;
};

static void *arena_alloc(fm_ptxt *doc, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    chunk *c = doc->arena;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > (64u << 10) ? n : (64u << 10);
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = doc->arena;
        doc->arena = c;
    }
    void *p = c->mem + c->used;
    c->used += n;
    return p;
}

static char *arena_strndup(fm_ptxt *doc, const char *s, size_t n)
{
    char *d = arena_alloc(doc, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- lexer ---- */

typedef enum { T_EOF, T_IDENT, T_NUMBER, T_STRING, T_PUNCT } tok_type;

typedef struct {
    tok_type type;
    const char *p; /* text of the token (for a string: including its quotes) */
    size_t n;
    int line, col;
} token;

typedef struct {
    const char *s;
    size_t len, pos;
    int line, col;
    token tok;
    int have_tok;
    int failed;
    fm_ptxt *doc;
    const char *file;
    fm_err *err;
    char *scratch; /* decoded string values */
    size_t scratch_cap;
    size_t nodes; /* fields made so far, at most FM_PTXT_MAX_NODES */
} parser;

static fm_status perr(parser *p, fm_status st, int line, int col, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static fm_status perr(parser *p, fm_status st, int line, int col, const char *fmt, ...)
{
    if (p->failed)
        return st;
    p->failed = 1;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fm_err_set(p->err, st, "%s:%d:%d: %s", p->file, line, col, msg);
}

/* A short, printable description of a token for messages. */
static const char *describe(const token *t, char *buf, size_t size)
{
    if (t->type == T_EOF)
        return "end of file";
    size_t n = t->n > 24 ? 24 : t->n, o = 0;
    const char *pre = t->type == T_STRING ? "string " : "'";
    snprintf(buf, size, "%s", pre);
    o = strlen(buf);
    for (size_t i = 0; i < n && o + 5 < size; i++) {
        unsigned char c = (unsigned char)t->p[i];
        if (c >= 0x20 && c < 0x7f)
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
    }
    buf[o] = '\0';
    snprintf(buf + o, size - o, "%s%s", t->n > n ? "..." : "", t->type == T_STRING ? "" : "'");
    return buf;
}

static int is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}
static int is_ident_char(int c)
{
    return is_ident_start(c) || is_digit(c);
}

static void advance(parser *p, size_t n)
{
    for (size_t i = 0; i < n && p->pos < p->len; i++) {
        if (p->s[p->pos] == '\n') {
            p->line++;
            p->col = 1;
        } else {
            p->col++;
        }
        p->pos++;
    }
}

/* Scans the next token into p->tok; returns non-zero on a lexical error. */
static int lex(parser *p)
{
    for (;;) { /* whitespace and comments */
        if (p->pos >= p->len)
            break;
        char c = p->s[p->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
            advance(p, 1);
        } else if (c == '#') {
            while (p->pos < p->len && p->s[p->pos] != '\n')
                advance(p, 1);
        } else {
            break;
        }
    }
    token *t = &p->tok;
    t->line = p->line;
    t->col = p->col;
    t->p = p->s + p->pos;
    t->n = 0;
    if (p->pos >= p->len) {
        t->type = T_EOF;
        return 0;
    }
    const char *s = p->s;
    size_t i = p->pos;
    unsigned char c = (unsigned char)s[i];
    if (is_ident_start(c)) {
        while (i < p->len && is_ident_char((unsigned char)s[i]))
            i++;
        t->type = T_IDENT;
    } else if (is_digit(c) || (c == '.' && i + 1 < p->len && is_digit((unsigned char)s[i + 1]))) {
        while (i < p->len) {
            unsigned char d = (unsigned char)s[i];
            if (is_ident_char(d) || d == '.') {
                i++;
            } else if ((d == '+' || d == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E') &&
                       !(i - p->pos >= 2 && (s[p->pos + 1] == 'x' || s[p->pos + 1] == 'X'))) {
                i++;
            } else {
                break;
            }
        }
        t->type = T_NUMBER;
    } else if (c == '"' || c == '\'') {
        i++;
        for (;;) {
            if (i >= p->len || s[i] == '\n') {
                perr(p, FM_ERR_PARSE, t->line, t->col, "unterminated string (missing closing %c)",
                     c);
                return 1;
            }
            if (s[i] == '\\' && i + 1 < p->len && s[i + 1] != '\n') {
                i += 2;
                continue;
            }
            if ((unsigned char)s[i] == c) {
                i++;
                break;
            }
            i++;
        }
        t->type = T_STRING;
    } else if (c && strchr("{}<>:;,[]-+", c)) {
        i++;
        t->type = T_PUNCT;
    } else {
        if (c >= 0x20 && c < 0x7f)
            perr(p, FM_ERR_PARSE, t->line, t->col, "unexpected character '%c'", c);
        else
            perr(p, FM_ERR_PARSE, t->line, t->col, "unexpected byte 0x%02x", c);
        return 1;
    }
    t->n = i - p->pos;
    advance(p, t->n); /* tokens never contain a newline */
    return 0;
}

static const token *peek(parser *p)
{
    if (!p->have_tok && !p->failed) {
        if (lex(p) == 0)
            p->have_tok = 1;
    }
    return p->failed ? NULL : &p->tok;
}

static void consume(parser *p)
{
    p->have_tok = 0;
}

static int is_punct(const token *t, char c)
{
    return t && t->type == T_PUNCT && t->p[0] == c;
}

/* ---- values ---- */

static int scratch_put(parser *p, size_t at, char c)
{
    if (at + 1 >= p->scratch_cap) {
        size_t cap = p->scratch_cap ? p->scratch_cap * 2 : 256;
        char *n = realloc(p->scratch, cap);
        if (!n)
            return 0;
        p->scratch = n;
        p->scratch_cap = cap;
    }
    p->scratch[at] = c;
    return 1;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Unescapes one string token, appending to scratch at *len. */
static fm_status decode_string(parser *p, const token *t, size_t *len)
{
    const char *s = t->p + 1;
    size_t n = t->n - 2;
    for (size_t i = 0; i < n; i++) {
        int col = t->col + 1 + (int)i;
        unsigned char c = (unsigned char)s[i];
        unsigned v = c;
        if (c == '\\') {
            if (i + 1 >= n)
                return perr(p, FM_ERR_PARSE, t->line, col, "backslash at the end of a string");
            unsigned char e = (unsigned char)s[++i];
            switch (e) {
            case 'n': v = '\n'; break;
            case 't': v = '\t'; break;
            case 'r': v = '\r'; break;
            case 'a': v = '\a'; break;
            case 'b': v = '\b'; break;
            case 'f': v = '\f'; break;
            case 'v': v = '\v'; break;
            case '\\': v = '\\'; break;
            case '\'': v = '\''; break;
            case '"': v = '"'; break;
            case '?': v = '?'; break;
            case 'x':
            case 'X': {
                int digits = 0;
                v = 0;
                while (digits < 2 && i + 1 < n && hexval((unsigned char)s[i + 1]) >= 0) {
                    v = v * 16 + (unsigned)hexval((unsigned char)s[++i]);
                    digits++;
                }
                if (!digits)
                    return perr(p, FM_ERR_PARSE, t->line, col,
                                "escape '\\%c' needs one or two hex digits", e);
                break;
            }
            default:
                if (e >= '0' && e <= '7') {
                    v = e - '0';
                    for (int k = 0; k < 2 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
                        v = v * 8 + (unsigned)(s[++i] - '0');
                    if (v > 255)
                        return perr(p, FM_ERR_PARSE, t->line, col,
                                    "octal escape is %u, above 255 (\\377)", v);
                    break;
                }
                if (e >= 0x20 && e < 0x7f)
                    return perr(p, FM_ERR_PARSE, t->line, col, "unknown escape '\\%c' in string",
                                e);
                return perr(p, FM_ERR_PARSE, t->line, col,
                            "unknown escape '\\' + byte 0x%02x in string", e);
            }
        }
        if (v == 0)
            return perr(p, FM_ERR_PARSE, t->line, col,
                        "string contains a NUL byte, which is not supported");
        if (!scratch_put(p, (*len)++, (char)v))
            return perr(p, FM_ERR_NOMEM, t->line, col, "out of memory");
    }
    return FM_OK;
}

static int ieq(const char *a, size_t n, const char *b)
{
    return strlen(b) == n && strncasecmp(a, b, n) == 0;
}

/* Checks a number's text the way protobuf's tokenizer does. */
static int valid_number(const char *s, size_t n)
{
    size_t i = 0;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (n == 2)
            return 0;
        for (i = 2; i < n; i++)
            if (hexval((unsigned char)s[i]) < 0)
                return 0;
        return 1;
    }
    int digits = 0, dot = 0, octal_bad = 0;
    for (; i < n && (is_digit((unsigned char)s[i]) || s[i] == '.'); i++) {
        if (s[i] == '.') {
            if (dot++)
                return 0;
        } else {
            digits++;
            if (s[i] >= '8')
                octal_bad = 1;
        }
    }
    if (!digits)
        return 0;
    int is_float = dot;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        int ed = 0;
        while (i < n && is_digit((unsigned char)s[i])) {
            i++;
            ed++;
        }
        if (!ed)
            return 0;
        is_float = 1;
    }
    if (i < n && (s[i] == 'f' || s[i] == 'F')) {
        i++;
        is_float = 1;
    }
    if (i != n)
        return 0;
    if (!is_float && n > 1 && s[0] == '0' && octal_bad)
        return 0; /* a leading zero makes an integer octal */
    return 1;
}

/* Parses a scalar value into node; the current token starts it. */
static fm_status parse_scalar(parser *p, fm_ptxt_node *node)
{
    const token *t = peek(p);
    char d[64];
    if (!t)
        return FM_ERR_PARSE;
    if (t->type == T_STRING) {
        size_t len = 0;
        while (t && t->type == T_STRING) {
            if (decode_string(p, t, &len) != FM_OK)
                return FM_ERR_PARSE;
            consume(p);
            t = peek(p); /* adjacent strings concatenate */
        }
        if (!t)
            return FM_ERR_PARSE;
        node->value = arena_strndup(p->doc, p->scratch ? p->scratch : "", len);
        node->is_string = 1;
        return node->value ? FM_OK : perr(p, FM_ERR_NOMEM, node->line, node->col, "out of memory");
    }
    const char *sign = "";
    int sline = t->line, scol = t->col;
    if (is_punct(t, '-') || is_punct(t, '+')) {
        sign = t->p[0] == '-' ? "-" : "";
        consume(p);
        t = peek(p);
        if (!t)
            return FM_ERR_PARSE;
        int ok = t->type == T_NUMBER ||
                 (t->type == T_IDENT && (ieq(t->p, t->n, "inf") || ieq(t->p, t->n, "infinity") ||
                                         ieq(t->p, t->n, "nan")));
        if (!ok)
            return perr(p, FM_ERR_PARSE, t->line, t->col,
                        "expected a number after '%c' (at %d:%d), found %s", sign[0] ? '-' : '+',
                        sline, scol, describe(t, d, sizeof d));
    }
    if (t->type == T_NUMBER) {
        if (!valid_number(t->p, t->n))
            return perr(p, FM_ERR_PARSE, t->line, t->col, "malformed number %s",
                        describe(t, d, sizeof d));
    } else if (t->type != T_IDENT) {
        return perr(p, FM_ERR_PARSE, t->line, t->col,
                    "expected a value (number, identifier or string) for field '%s', found %s",
                    node->name, describe(t, d, sizeof d));
    }
    size_t sl = strlen(sign);
    char *v = arena_alloc(p->doc, sl + t->n + 1);
    if (!v)
        return perr(p, FM_ERR_NOMEM, t->line, t->col, "out of memory");
    memcpy(v, sign, sl);
    memcpy(v + sl, t->p, t->n);
    v[sl + t->n] = '\0';
    node->value = v;
    consume(p);
    return FM_OK;
}

/* ---- parser ---- */

static fm_status parse_fields(parser *p, int depth, char close, const fm_ptxt_node *opener,
                              int oline, int ocol, const fm_ptxt_node **first);

static fm_ptxt_node *new_node(parser *p, const token *name)
{
    if (++p->nodes > FM_PTXT_MAX_NODES) {
        perr(p, FM_ERR_LIMIT, name->line, name->col,
             "more than %d fields (FM_PTXT_MAX_NODES)", FM_PTXT_MAX_NODES);
        return NULL;
    }
    fm_ptxt_node *n = arena_alloc(p->doc, sizeof *n);
    if (!n) {
        perr(p, FM_ERR_NOMEM, name->line, name->col, "out of memory");
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->name = arena_strndup(p->doc, name->p, name->n);
    if (!n->name) {
        perr(p, FM_ERR_NOMEM, name->line, name->col, "out of memory");
        return NULL;
    }
    n->line = name->line;
    n->col = name->col;
    n->doc = p->doc;
    return n;
}

/* Parses a message body after its opening '{' or '<' (token t). */
static fm_status parse_message(parser *p, int depth, fm_ptxt_node *node, const token *open)
{
    if (depth >= FM_PTXT_MAX_DEPTH)
        return perr(p, FM_ERR_LIMIT, open->line, open->col,
                    "messages nested deeper than %d levels", FM_PTXT_MAX_DEPTH);
    char close = open->p[0] == '{' ? '}' : '>';
    int line = open->line, col = open->col;
    consume(p);
    return parse_fields(p, depth + 1, close, node, line, col, &node->child);
}

/* Parses one field (name token current); appends its node(s) after *last. */
static fm_status parse_field(parser *p, int depth, fm_ptxt_node **last, const fm_ptxt_node **first)
{
    token name = *peek(p);
    consume(p);
    char d[64];
    const token *t = peek(p);
    if (!t)
        return FM_ERR_PARSE;
    int colon = 0;
    if (is_punct(t, ':')) {
        colon = 1;
        consume(p);
        if (!(t = peek(p)))
            return FM_ERR_PARSE;
    }
    char nm[48];
    snprintf(nm, sizeof nm, "%.*s", (int)(name.n > 40 ? 40 : name.n), name.p);
    if (!colon && !is_punct(t, '{') && !is_punct(t, '<'))
        return perr(p, FM_ERR_PARSE, t->line, t->col,
                    "expected ':' or '{' after field name '%s', found %s", nm,
                    describe(t, d, sizeof d));

    int list = colon && is_punct(t, '[');
    if (list) {
        consume(p);
        if (!(t = peek(p)))
            return FM_ERR_PARSE;
        if (is_punct(t, ']')) { /* an empty list adds no field */
            consume(p);
            return FM_OK;
        }
    }
    for (;;) {
        fm_ptxt_node *n = new_node(p, &name);
        if (!n)
            return FM_ERR_NOMEM;
        fm_status st;
        if (is_punct(t, '{') || is_punct(t, '<'))
            st = parse_message(p, depth, n, t);
        else
            st = parse_scalar(p, n);
        if (st != FM_OK || p->failed)
            return st != FM_OK ? st : FM_ERR_PARSE;
        if (*last)
            (*last)->next = n;
        else
            *first = n;
        *last = n;
        if (!list)
            return FM_OK;
        if (!(t = peek(p)))
            return FM_ERR_PARSE;
        if (is_punct(t, ']')) {
            consume(p);
            return FM_OK;
        }
        if (!is_punct(t, ','))
            return perr(p, FM_ERR_PARSE, t->line, t->col,
                        "expected ',' or ']' in the list of '%s', found %s", nm,
                        describe(t, d, sizeof d));
        consume(p);
        if (!(t = peek(p)))
            return FM_ERR_PARSE;
    }
}

static fm_status parse_fields(parser *p, int depth, char close, const fm_ptxt_node *opener,
                              int oline, int ocol, const fm_ptxt_node **first)
{
    fm_ptxt_node *last = NULL;
    char d[64];
    *first = NULL;
    for (;;) {
        const token *t = peek(p);
        if (!t)
            return FM_ERR_PARSE;
        if (t->type == T_EOF) {
            if (!close)
                return FM_OK;
            return perr(p, FM_ERR_PARSE, t->line, t->col,
                        "expected '%c' to close '%s' opened at %d:%d, found end of file", close,
                        opener->name, oline, ocol);
        }
        if (close && is_punct(t, close)) {
            consume(p);
            return FM_OK;
        }
        if (is_punct(t, '}') || is_punct(t, '>')) {
            if (!close)
                return perr(p, FM_ERR_PARSE, t->line, t->col,
                            "unexpected '%c': no message is open", t->p[0]);
            return perr(p, FM_ERR_PARSE, t->line, t->col,
                        "expected '%c' to close '%s' opened at %d:%d, found '%c'", close,
                        opener->name, oline, ocol, t->p[0]);
        }
        if (t->type != T_IDENT)
            return perr(p, FM_ERR_PARSE, t->line, t->col, "expected a field name, found %s",
                        describe(t, d, sizeof d));
        fm_status st = parse_field(p, depth, &last, first);
        if (st != FM_OK)
            return st;
        t = peek(p);
        if (!t)
            return FM_ERR_PARSE;
        if (is_punct(t, ';') || is_punct(t, ','))
            consume(p); /* optional separator */
    }
}

fm_ptxt *fm_ptxt_parse(const char *text, size_t len, const char *filename, fm_err *err)
{
    if (!filename)
        filename = "<prototxt>";
    if (!text && len) {
        fm_err_set(err, FM_ERR_ARG, "%s: NULL text", filename);
        return NULL;
    }
    if (len > FM_PTXT_MAX_BYTES) {
        fm_err_set(err, FM_ERR_LIMIT, "%s: %zu bytes exceeds the %u-byte limit", filename, len,
                   FM_PTXT_MAX_BYTES);
        return NULL;
    }
    fm_ptxt *doc = calloc(1, sizeof *doc);
    if (!doc || !(doc->filename = strdup(filename))) {
        free(doc);
        fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory", filename);
        return NULL;
    }
    doc->root.name = "";
    doc->root.line = doc->root.col = 1;
    doc->root.doc = doc;

    parser p;
    memset(&p, 0, sizeof p);
    p.s = text ? text : "";
    p.len = len;
    p.line = p.col = 1;
    p.doc = doc;
    p.file = doc->filename;
    p.err = err;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        p.pos = 3; /* UTF-8 byte order mark */
    fm_status st = parse_fields(&p, 0, 0, &doc->root, 1, 1, &doc->root.child);
    free(p.scratch);
    if (st != FM_OK || p.failed) {
        if (!p.failed)
            fm_err_set(err, st, "%s: parse failed", filename);
        fm_ptxt_free(doc);
        return NULL;
    }
    return doc;
}

fm_ptxt *fm_ptxt_read(const char *path, fm_err *err)
{
    unsigned char *buf;
    size_t size;
    if (fm_read_file(path, FM_PTXT_MAX_BYTES, NULL, &buf, &size, err) != FM_OK)
        return NULL;
    fm_ptxt *doc = fm_ptxt_parse((const char *)buf, size, path, err);
    free(buf);
    return doc;
}

void fm_ptxt_free(fm_ptxt *doc)
{
    if (!doc)
        return;
    chunk *c = doc->arena;
    while (c) {
        chunk *n = c->next;
        free(c);
        c = n;
    }
    free(doc->filename);
    free(doc);
}

const char *fm_ptxt_filename(const fm_ptxt *doc)
{
    return doc ? doc->filename : "";
}

const fm_ptxt_node *fm_ptxt_root(const fm_ptxt *doc)
{
    return doc ? &doc->root : NULL;
}

const fm_ptxt_node *fm_ptxt_get(const fm_ptxt_node *msg, const char *name)
{
    if (!msg || !name)
        return NULL;
    for (const fm_ptxt_node *f = msg->child; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

const fm_ptxt_node *fm_ptxt_next_named(const fm_ptxt_node *field)
{
    if (!field)
        return NULL;
    for (const fm_ptxt_node *f = field->next; f; f = f->next)
        if (strcmp(f->name, field->name) == 0)
            return f;
    return NULL;
}

int fm_ptxt_count(const fm_ptxt_node *msg, const char *name)
{
    int n = 0;
    for (const fm_ptxt_node *f = fm_ptxt_get(msg, name); f; f = fm_ptxt_next_named(f))
        n++;
    return n;
}

char *fm_ptxt_where(const fm_ptxt_node *node, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    if (!node)
        snprintf(buf, size, "?");
    else
        snprintf(buf, size, "%s:%d:%d", fm_ptxt_filename(node->doc), node->line, node->col);
    return buf;
}

/* Common checks of a typed read: a scalar that is not a quoted string. */
static fm_status scalar_check(const fm_ptxt_node *field, const char *expected, fm_err *err)
{
    if (!field)
        return fm_err_set(err, FM_ERR_ARG, "no field given (expected %s)", expected);
    char w[300];
    fm_ptxt_where(field, w, sizeof w);
    if (!field->value)
        return fm_err_set(err, FM_ERR_FORMAT, "%s: field '%s': expected %s, found a message", w,
                          field->name, expected);
    if (field->is_string)
        return fm_err_set(err, FM_ERR_FORMAT, "%s: field '%s': expected %s, found string \"%.40s\"",
                          w, field->name, expected, field->value);
    return FM_OK;
}

static fm_status bad_value(const fm_ptxt_node *field, const char *expected, fm_err *err)
{
    char w[300];
    return fm_err_set(err, FM_ERR_FORMAT, "%s: field '%s': expected %s, found '%.40s'",
                      fm_ptxt_where(field, w, sizeof w), field->name, expected, field->value);
}

fm_status fm_ptxt_int(const fm_ptxt_node *field, long long *out, fm_err *err)
{
    const char *what = "an integer";
    fm_status st = scalar_check(field, what, err);
    if (st != FM_OK)
        return st;
    const char *s = field->value;
    if (!(is_digit((unsigned char)s[0]) ||
          ((s[0] == '-' || s[0] == '+') && is_digit((unsigned char)s[1]))))
        return bad_value(field, what, err);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (*end != '\0')
        return bad_value(field, what, err);
    if (errno == ERANGE) {
        char w[300];
        return fm_err_set(err, FM_ERR_FORMAT, "%s: field '%s': %s is out of range for a 64-bit "
                          "integer", fm_ptxt_where(field, w, sizeof w), field->name, s);
    }
    *out = v;
    return FM_OK;
}

fm_status fm_ptxt_float(const fm_ptxt_node *field, double *out, fm_err *err)
{
    const char *what = "a number";
    fm_status st = scalar_check(field, what, err);
    if (st != FM_OK)
        return st;
    const char *s = field->value;
    int neg = s[0] == '-';
    const char *u = s + (s[0] == '-' || s[0] == '+');
    if (strcasecmp(u, "inf") == 0 || strcasecmp(u, "infinity") == 0) {
        *out = neg ? -HUGE_VAL : HUGE_VAL;
        return FM_OK;
    }
    if (strcasecmp(u, "nan") == 0) {
        *out = NAN;
        return FM_OK;
    }
    if (!(is_digit((unsigned char)u[0]) || u[0] == '.'))
        return bad_value(field, what, err);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end == 'f' || *end == 'F')
        end++;
    if (*end != '\0')
        return bad_value(field, what, err);
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)) {
        char w[300];
        return fm_err_set(err, FM_ERR_FORMAT, "%s: field '%s': %s is out of range for a double",
                          fm_ptxt_where(field, w, sizeof w), field->name, s);
    }
    *out = v;
    return FM_OK;
}

fm_status fm_ptxt_bool(const fm_ptxt_node *field, int *out, fm_err *err)
{
    const char *what = "true or false";
    fm_status st = scalar_check(field, what, err);
    if (st != FM_OK)
        return st;
    const char *s = field->value;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "t") || !strcmp(s, "1")) {
        *out = 1;
        return FM_OK;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "f") || !strcmp(s, "0")) {
        *out = 0;
        return FM_OK;
    }
    return bad_value(field, what, err);
}

fm_status fm_ptxt_get_int(const fm_ptxt_node *msg, const char *name, long long def, long long *out,
                          fm_err *err)
{
    const fm_ptxt_node *f = fm_ptxt_get(msg, name);
    if (!f) {
        *out = def;
        return FM_OK;
    }
    return fm_ptxt_int(f, out, err);
}

fm_status fm_ptxt_get_float(const fm_ptxt_node *msg, const char *name, double def, double *out,
                            fm_err *err)
{
    const fm_ptxt_node *f = fm_ptxt_get(msg, name);
    if (!f) {
        *out = def;
        return FM_OK;
    }
    return fm_ptxt_float(f, out, err);
}

fm_status fm_ptxt_get_bool(const fm_ptxt_node *msg, const char *name, int def, int *out,
                           fm_err *err)
{
    const fm_ptxt_node *f = fm_ptxt_get(msg, name);
    if (!f) {
        *out = def;
        return FM_OK;
    }
    return fm_ptxt_bool(f, out, err);
}

const char *fm_ptxt_get_str(const fm_ptxt_node *msg, const char *name, const char *def)
{
    const fm_ptxt_node *f = fm_ptxt_get(msg, name);
    return f && f->value ? f->value : def;
}
