/* json.c - JSON string escaping with UTF-8 validation (see json.h). */
#include "core/json.h"

size_t fm_utf8_char_len(const unsigned char *s, size_t *bad)
{
    unsigned c = s[0];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF; /* range of the second byte (Unicode table 3-7) */
    *bad = 1;
    if (c == 0)
        return 0;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0; /* no overlong forms */
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* nothing past U+10FFFF */
    } else {
        return 0; /* a continuation byte, C0, C1 or F5..FF */
    }
    for (size_t k = 1; k <= need; k++) {
        unsigned b = s[k]; /* a NUL stops here: it is out of range */
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
            *bad = k;
            return 0;
        }
    }
    return need + 1;
}

int fm_json_escape(fm_json_sink put, void *ctx, const char *str, size_t max_bytes)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t i = 0, run = 0; /* bytes s[i - run .. i) are pending, copied as they are */
    int cut = 0;
    put(ctx, "\"", 1);
    while (s[i]) {
        size_t bad, n = fm_utf8_char_len(s + i, &bad);
        size_t unit = n ? n : bad;
        if (max_bytes && i + unit > max_bytes) {
            cut = 1;
            break;
        }
        unsigned c = s[i];
        char esc[6];
        size_t elen = 0;
        if (!n) {
            esc[0] = (char)0xEF, esc[1] = (char)0xBF, esc[2] = (char)0xBD; /* U+FFFD */
            elen = 3;
        } else if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, elen = 2;
        } else if (c == '\n') {
            esc[0] = '\\', esc[1] = 'n', elen = 2;
        } else if (c == '\r') {
            esc[0] = '\\', esc[1] = 'r', elen = 2;
        } else if (c == '\t') {
            esc[0] = '\\', esc[1] = 't', elen = 2;
        } else if (c == '\b') {
            esc[0] = '\\', esc[1] = 'b', elen = 2;
        } else if (c == '\f') {
            esc[0] = '\\', esc[1] = 'f', elen = 2;
        } else if (c < 0x20 || c == 0x7F) {
            esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0';
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
            elen = 6;
        }
        if (elen) {
            if (run)
                put(ctx, (const char *)s + i - run, run);
            run = 0;
            put(ctx, esc, elen);
        } else {
            run += unit;
        }
        i += unit;
    }
    if (run)
        put(ctx, (const char *)s + i - run, run);
    if (cut)
        put(ctx, "...", 3);
    put(ctx, "\"", 1);
    return cut;
}

static void put_file(void *ctx, const char *s, size_t n)
{
    fwrite(s, 1, n, (FILE *)ctx);
}

void fm_json_quoted(FILE *f, const char *s)
{
    fm_json_escape(put_file, f, s, 0);
}
