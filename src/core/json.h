/* json.h - the one JSON string escaper: every line facemask writes is valid UTF-8 JSON.
 *
 * Used by detect and classify (--json), the evaluation report (eval/report.h) and the watch
 * events (track/events.h). Strings from outside (file names, stream URLs, error messages)
 * may hold any bytes; the output never does:
 *  - '"' and '\\' are escaped, as are \n \r \t \b \f; other bytes below 0x20 and 0x7F
 *    become \u00XX;
 *  - well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF)
 *    is copied byte for byte;
 *  - each ill-formed sequence is replaced by U+FFFD (written as its three UTF-8 bytes), one
 *    per maximal ill-formed subpart as Unicode recommends (the same as Python's
 *    bytes.decode("utf-8", "replace")): byte 0xFF gives one U+FFFD, a 4-byte character cut
 *    after 3 bytes gives one;
 *  - with a byte budget the string is cut before the first character that would cross it,
 *    never inside one, and "..." is appended.
 *
 *     fm_json_quoted(stdout, path);                        // "photos/caf\u00e9.jpg"-safe
 *     fm_json_escape(put, ctx, message, 1024);             // into any sink, at most 1024 bytes
 */
#ifndef FM_JSON_H
#define FM_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Receives n bytes of output. */
typedef void (*fm_json_sink)(void *ctx, const char *s, size_t n);

/* Writes s (NUL-terminated; NULL writes "") as a quoted JSON string to put. max_bytes > 0:
 * at most max_bytes bytes of s are used (cut at a character boundary, then "..."); 0: all.
 * Returns 1 when the string was cut, 0 otherwise. */
int fm_json_escape(fm_json_sink put, void *ctx, const char *s, size_t max_bytes);

/* fm_json_escape of all of s to a stream. */
void fm_json_quoted(FILE *f, const char *s);

/* Length of the well-formed UTF-8 character at s (1..4), or 0 when s starts an ill-formed
 * sequence (or is the NUL byte); *bad gets the length of its maximal ill-formed subpart. */
size_t fm_utf8_char_len(const unsigned char *s, size_t *bad);

#endif
