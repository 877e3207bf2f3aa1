/* The growing text buffer (core/text.h): exact text through every writer, printf past its
 * on-stack size, JSON numbers and strings, reset, and the FM_TEXT_MAX refusal. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "test.h"

static void test_text_writers(void)
{
    fm_text t = {0};
    fm_text_str(&t, "{\"a\":");
    fm_text_json_str(&t, "x\"y\xff");
    fm_text_printf(&t, ",\"n\":%d,", 42);
    fm_text_put(&t, "\"v\":[", 5);
    fm_text_json_num(&t, 0.1);
    fm_text_put(&t, ",", 1);
    fm_text_json_num(&t, NAN);
    fm_text_put(&t, ",", 1);
    fm_text_json_num(&t, -INFINITY);
    fm_text_str(&t, "]}");
    const char *want = "{\"a\":\"x\\\"y\xef\xbf\xbd\",\"n\":42,\"v\":[0.1,null,null]}";
    FM_CHECK_MSG(t.p && strcmp(t.p, want) == 0, "got %s", t.p ? t.p : "(null)");
    FM_CHECK_INT((int)t.len, (int)strlen(want));
    FM_CHECK_INT(t.oom, 0);
    fm_text_reset(&t);
    FM_CHECK_INT((int)t.len, 0);
    FM_CHECK(t.p && t.p[0] == '\0');
    fm_text_free(&t);
    FM_CHECK(t.p == NULL && t.cap == 0);
}

/* 3000 characters through printf (its stack buffer is 512) and many small appends that make
 * it grow several times: the text is exact. */
static void test_text_long(void)
{
    char *big = malloc(3001);
    FM_CHECK(big != NULL);
    if (!big)
        return;
    memset(big, 'q', 3000);
    big[3000] = '\0';
    fm_text t = {0};
    fm_text_printf(&t, "<%s>", big);
    for (int i = 0; i < 1000; i++)
        fm_text_printf(&t, "%03d", i);
    FM_CHECK_INT((int)t.len, 3002 + 3000);
    FM_CHECK(t.p[0] == '<' && t.p[3001] == '>' && memcmp(t.p + 1, big, 3000) == 0);
    FM_CHECK(memcmp(t.p + 3002, "000001002", 9) == 0 && strcmp(t.p + t.len - 3, "999") == 0);
    free(big);
    fm_text_free(&t);
}

/* Past FM_TEXT_MAX nothing is allocated: oom is set, the text stays as it was, and later
 * appends are ignored until reset. */
static void test_text_cap(void)
{
    fm_text t = {0};
    fm_text_str(&t, "kept");
    static const char dummy[1];
    fm_text_put(&t, dummy, FM_TEXT_MAX); /* never read: refused on its size */
    FM_CHECK_INT(t.oom, 1);
    FM_CHECK(strcmp(t.p, "kept") == 0);
    fm_text_str(&t, "more");
    FM_CHECK(strcmp(t.p, "kept") == 0);
    fm_text_reset(&t);
    fm_text_str(&t, "again");
    FM_CHECK(t.oom == 0 && strcmp(t.p, "again") == 0);
    fm_text_free(&t);
}

void suite_core_text(void);
void suite_core_text(void)
{
    FM_RUN(test_text_writers);
    FM_RUN(test_text_long);
    FM_RUN(test_text_cap);
}
