/* text.h - the one growing text buffer: JSON responses, MQTT payloads and topics, lists.
 *
 * p is NUL-terminated (or NULL while empty), len excludes the NUL. When an allocation fails,
 * or the text would pass FM_TEXT_MAX, oom is set and nothing more is appended: the writer
 * checks oom once at the end rather than after every call.
 *
 *     fm_text t = {0};
 *     fm_text_str(&t, "{\"name\":");
 *     fm_text_json_str(&t, name);                 // core/json.h's escaper: valid UTF-8 JSON
 *     fm_text_printf(&t, ",\"fps\":%.1f}", fps);
 *     if (t.oom) ...;
 *     fm_text_free(&t);
 */
#ifndef FM_TEXT_H
#define FM_TEXT_H

#include <stddef.h>

#define FM_TEXT_MAX ((size_t)1 << 30) /* 1 GiB: past it the text is refused (oom) */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} fm_text;

void fm_text_put(fm_text *t, const char *s, size_t n);
void fm_text_str(fm_text *t, const char *s);
void fm_text_printf(fm_text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* s as a quoted JSON string (fm_json_escape; NULL gives ""). */
void fm_text_json_str(fm_text *t, const char *s);
/* v as a JSON number with 15 significant digits, or null when it is not finite. */
void fm_text_json_num(fm_text *t, double v);

void fm_text_reset(fm_text *t); /* empty; keeps the memory */
void fm_text_free(fm_text *t);  /* frees and zeroes */

#endif
