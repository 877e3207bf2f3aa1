/* log.h - facemask's messages on standard error, and the other libraries' routed through them.
 *
 * A message is one line, "facemask: MSG\n", written with one write() so that lines from
 * different threads never mix. Control characters in MSG (a newline inside an FFmpeg message,
 * an escape sequence in a file name) become spaces, so a message is always one line.
 *
 * Levels: FM_LOG_ERROR (something failed), FM_LOG_WARN, FM_LOG_INFO, FM_LOG_DEBUG. Messages
 * above the process-wide level are dropped. The default level is FM_LOG_WARN; a command's
 * --quiet sets FM_LOG_ERROR.
 *
 * Other libraries (FFmpeg, SDL) report through fm_log_foreign, installed as their log output
 * by the video plugin (video/source.c, ui/display.c). Their messages are details of a failure
 * that facemask reports itself, so each counts one level lower than the library says (an FFmpeg
 * error is a facemask warning): they appear as "facemask: ffmpeg: h264: MSG" at the default
 * level and not at all with --quiet.
 *
 *     fm_log_set_level(quiet ? FM_LOG_ERROR : FM_LOG_WARN);
 *     fm_log(FM_LOG_ERROR, "%s: cannot read: %s", path, strerror(errno));
 *
 * The level is process-wide, as FFmpeg's and SDL's logs are; set it before starting threads.
 */
#ifndef FM_LOG_H
#define FM_LOG_H

#include <stdarg.h>

typedef enum { FM_LOG_ERROR = 0, FM_LOG_WARN = 1, FM_LOG_INFO = 2, FM_LOG_DEBUG = 3 } fm_log_level;

void fm_log_set_level(fm_log_level max);
fm_log_level fm_log_get_level(void);
/* 1 when a message of this level would be printed. */
int fm_log_enabled(fm_log_level level);

void fm_log(fm_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void fm_logv(fm_log_level level, const char *fmt, va_list ap);

/* A status line (core/progress.h, watch's counters) is on the terminal (1) or not (0): while
 * it is, each message first erases it ("\r" and erase-to-end-of-line). */
void fm_log_status_line(int shown);

/* A message of another library at that library's level (FM_LOG_ERROR for its errors, ...):
 * printed as "facemask: ORIGIN: TEXT" one level lower (see above). Trailing newlines and
 * spaces of TEXT are dropped; an empty TEXT prints nothing. */
void fm_log_foreign(fm_log_level level, const char *origin, const char *text);

#endif
