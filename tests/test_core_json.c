/* The one JSON string escaper (core/json.h): exact output for escapes, well-formed UTF-8 of
 * every length, each kind of ill-formed sequence (one U+FFFD per maximal subpart), and the
 * byte budget that never cuts inside a character. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "test.h"

typedef struct {
    char s[256];
    size_t n;
} buf;

static void put(void *ctx, const char *s, size_t n)
{
    buf *b = ctx;
    if (b->n + n < sizeof b->s) {
        memcpy(b->s + b->n, s, n);
        b->n += n;
        b->s[b->n] = '\0';
    }
}

#define FFFD "\xef\xbf\xbd"

static void expect(const char *in, size_t max, const char *want, int want_cut)
{
    buf b = {{0}, 0};
    int cut = fm_json_escape(put, &b, in, max);
    FM_CHECK_MSG(strcmp(b.s, want) == 0 && cut == want_cut, "escape(%s, %zu): got %s (cut %d)",
                 in, max, b.s, cut);
}

static void test_json_escapes(void)
{
    expect("plain", 0, "\"plain\"", 0);
    expect(NULL, 0, "\"\"", 0);
    expect("a\"b\\c\n\r\t\b\f", 0, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\"", 0);
    expect("\x01\x1f\x7f", 0, "\"\\u0001\\u001f\\u007f\"", 0);
    /* well-formed: 2, 3 and 4 bytes, the edges of each range */
    expect("\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf", 0,
           "\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"", 0);
}

static void test_json_ill_formed(void)
{
    expect("\xff", 0, "\"" FFFD "\"", 0);
    expect("a\xff\xfe" "b", 0, "\"a" FFFD FFFD "b\"", 0);
    expect("\x80\xbf", 0, "\"" FFFD FFFD "\"", 0);                  /* lone continuations */
    expect("\xc0\xaf", 0, "\"" FFFD FFFD "\"", 0);                  /* overlong '/' */
    expect("\xe0\x80\xaf", 0, "\"" FFFD FFFD FFFD "\"", 0);         /* overlong, 3 bytes */
    expect("\xed\xa0\x80", 0, "\"" FFFD FFFD FFFD "\"", 0);         /* a surrogate */
    expect("\xf4\x90\x80\x80", 0, "\"" FFFD FFFD FFFD FFFD "\"", 0); /* past U+10FFFF */
    expect("\xf0\x9f\x98", 0, "\"" FFFD "\"", 0);                   /* cut short: one */
    expect("\xf0\x9f\x98" "x", 0, "\"" FFFD "x\"", 0);
    expect("\xe2\x82" "\xe2\x82\xac", 0, "\"" FFFD "\xe2\x82\xac\"", 0);
}

static void test_json_budget(void)
{
    expect("abcdef", 3, "\"abc...\"", 1);
    expect("abc", 3, "\"abc\"", 0);
    expect("ab\xe2\x82\xac", 4, "\"ab...\"", 1);           /* the euro sign would cross 4 */
    expect("ab\xe2\x82\xac", 5, "\"ab\xe2\x82\xac\"", 0);
    expect("a\xf0\x9f\x98\xb7" "b", 4, "\"a...\"", 1);
    expect("a\xf0\x9f\x98\xb7" "b", 5, "\"a\xf0\x9f\x98\xb7...\"", 1);
    expect("\"\"\"", 2, "\"\\\"\\\"...\"", 1);             /* the budget counts input bytes */
}

void suite_core_json(void);
void suite_core_json(void)
{
    FM_RUN(test_json_escapes);
    FM_RUN(test_json_ill_formed);
    FM_RUN(test_json_budget);
}
