/* libFuzzer target for the JSON writers: the one string escaper (core/json.h) through the
 * watch events writer (track/events.h) and the report writer (eval/report.h). The input is
 * cut at NUL bytes into strings (source names, messages, reasons) with arbitrary bytes; every
 * line written must be valid UTF-8 (checked here by an independent decoder), one complete
 * JSON value (checked by a small strict parser), and an events line must end in its only
 * '\n'. The first byte picks the budget tested against fm_json_escape's cut.
 *
 *     make fuzz && ./build-fuzz/fuzz_json fuzz/corpus-json/ */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "eval/report.h"
#include "track/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- an independent strict UTF-8 check (RFC 3629) ---- */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        unsigned cp;
        size_t len;
        if ((c & 0xE0) == 0xC0)
            len = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            len = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            len = 4, cp = c & 0x07;
        else
            return 0;
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* ---- a strict JSON (RFC 8259) recogniser ---- */
typedef struct {
    const unsigned char *s;
    size_t n, i;
    int depth;
} jp;

static void ws(jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static int lit(jp *p, const char *w)
{
    size_t k = strlen(w);
    if (p->n - p->i < k || memcmp(p->s + p->i, w, k) != 0)
        return 0;
    p->i += k;
    return 1;
}

static int hexd(unsigned c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int str(jp *p)
{
    if (p->i >= p->n || p->s[p->i] != '"')
        return 0;
    for (p->i++; p->i < p->n; p->i++) {
        unsigned c = p->s[p->i];
        if (c == '"') {
            p->i++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (++p->i >= p->n)
                return 0;
            c = p->s[p->i];
            if (c == 'u') {
                for (int k = 0; k < 4; k++)
                    if (++p->i >= p->n || !hexd(p->s[p->i]))
                        return 0;
            } else if (!strchr("\"\\/bfnrt", (int)c) || c == 0) {
                return 0;
            }
        }
    }
    return 0;
}

static int digits(jp *p)
{
    size_t b = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    return p->i > b;
}

static int num(jp *p)
{
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i < p->n && p->s[p->i] == '0')
        p->i++;
    else if (!digits(p))
        return 0;
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (!digits(p))
            return 0;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (!digits(p))
            return 0;
    }
    return 1;
}

static int value(jp *p)
{
    ws(p);
    if (p->i >= p->n || ++p->depth > 64)
        return 0;
    unsigned c = p->s[p->i];
    int ok;
    if (c == '{' || c == '[') {
        unsigned close = c == '{' ? '}' : ']';
        p->i++;
        ws(p);
        ok = 1;
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
        } else {
            for (;;) {
                if (c == '{') {
                    ws(p);
                    if (!str(p)) {
                        ok = 0;
                        break;
                    }
                    ws(p);
                    if (!lit(p, ":")) {
                        ok = 0;
                        break;
                    }
                }
                if (!value(p)) {
                    ok = 0;
                    break;
                }
                ws(p);
                if (lit(p, ","))
                    continue;
                ok = p->i < p->n && p->s[p->i] == close;
                p->i++;
                break;
            }
        }
    } else if (c == '"') {
        ok = str(p);
    } else if (c == 't' || c == 'f' || c == 'n') {
        ok = lit(p, "true") || lit(p, "false") || lit(p, "null");
    } else {
        ok = num(p);
    }
    p->depth--;
    return ok;
}

static void check_json_value(const char *s, size_t n)
{
    if (!utf8_valid((const unsigned char *)s, n))
        __builtin_trap();
    jp p = {(const unsigned char *)s, n, 0, 0};
    if (!value(&p))
        __builtin_trap();
    ws(&p);
    if (p.i != n)
        __builtin_trap();
}

/* ---- sinks ---- */
typedef struct {
    char *s;
    size_t n, cap;
} buf;

static void put(void *ctx, const char *s, size_t n)
{
    buf *b = ctx;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *ns = realloc(b->s, cap);
        if (!ns)
            abort();
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t budget = data[0]; /* 0: no budget */
    /* up to four NUL-terminated strings from the rest */
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    const char *str4[4] = {"", "", "", ""};
    size_t at = 0;
    for (int k = 0; k < 4 && at < size; k++) {
        str4[k] = copy + at;
        at += strlen(copy + at) + 1;
    }

    /* the escaper alone: one JSON string, cut only at a character boundary */
    buf b = {0};
    int cut = fm_json_escape(put, &b, str4[0], budget);
    check_json_value(b.s, b.n);
    size_t in_len = strlen(str4[0]);
    if (budget && !cut && in_len > budget)
        __builtin_trap(); /* longer than the budget but not cut */
    if (!budget && cut)
        __builtin_trap();
    free(b.s);

    /* the events writer (one write(2) per line, so a real file): every line one JSON
     * object, ending in its only newline */
    FILE *f = tmpfile();
    if (!f) {
        free(copy);
        return 0;
    }
    fm_err err = {0};
    fm_events *ev = fm_events_open(f, 0, &err);
    if (ev) {
        fm_events_source_error(ev, 1.5, 3, str4[0], str4[1], &err);
        fm_events_reconnect(ev, 2.0, 4, str4[1], 2, str4[2], &err);
        fm_events_record_error(ev, 2.5, 4, str4[2], str4[0], &err);
        fm_events_snapshot_error(ev, 2.6, 4, str4[3], str4[1], &err);
        fm_events_end(ev, 3.0, 5, str4[3], &err);
        fm_events_close(ev);
    }
    /* the report writer on the same stream */
    fm_jsonw j;
    fm_jsonw_init(&j, f, (int)(budget % 3));
    fm_jsonw_object_begin(&j);
    fm_jsonw_key(&j, str4[2]);
    fm_jsonw_string(&j, str4[3]);
    fm_jsonw_object_end(&j);
    fm_jsonw_finish(&j, &err);
    fputc('\n', f);
    fflush(f);
    long outl = ftell(f);
    char *out = outl > 0 ? malloc((size_t)outl + 1) : NULL;
    size_t outlen = 0;
    if (out) {
        rewind(f);
        outlen = fread(out, 1, (size_t)outl, f);
        out[outlen] = '\0';
    }
    fclose(f);
    if (!out)
        __builtin_trap();
    /* five event lines, then the report document (which may span lines when indented) */
    size_t start = 0;
    for (int line = 0; line < 5; line++) {
        const char *nl = memchr(out + start, '\n', outlen - start);
        if (!nl)
            __builtin_trap();
        size_t end = (size_t)(nl - out);
        check_json_value(out + start, end - start);
        start = end + 1;
    }
    check_json_value(out + start, outlen - start);
    free(out);
    free(copy);
    return 0;
}
