/* file.h - reading a whole file, for loaders that parse from memory.
 *
 * The file must be a regular file no larger than a limit the caller sets (a
 * hostile or mistaken path such as /dev/zero, a FIFO or a 40 GB file fails before any
 * allocation; the path is opened with O_NONBLOCK and its kind checked on the opened
 * descriptor, so a FIFO cannot block the open). Every error message starts with the path:
 *
 *     unsigned char *buf; size_t len;
 *     if (fm_read_file(path, FM_PTXT_MAX_BYTES, NULL, &buf, &len, &err) != FM_OK)
 *         return NULL;                       // err.msg: "x.prototxt: cannot open: ..."
 *     doc = fm_ptxt_parse((const char *)buf, len, path, &err);
 *     free(buf);
 */
#ifndef FM_FILE_H
#define FM_FILE_H

#include <stddef.h>

#include "core/err.h"

/* Reads the regular file `path` (at most max_bytes bytes) into *out, a malloc'd buffer of
 * *len bytes followed by one NUL byte (text can be parsed in place); the caller frees it.
 * `what` says what the file should hold ("an image"): when it is non-NULL an empty file is an
 * error; with NULL an empty file reads as *len == 0. On error *out is NULL, *len 0, and:
 *   FM_ERR_IO      "PATH: cannot open: <strerror>", "PATH: not a regular file (fifo)",
 *                  "PATH: read N of M bytes"
 *   FM_ERR_LIMIT   "PATH: N bytes exceeds the MAX-byte limit"
 *   FM_ERR_NOMEM   "PATH: cannot allocate N bytes"
 *   FM_ERR_FORMAT  "PATH: empty file, expected WHAT" */
fm_status fm_read_file(const char *path, size_t max_bytes, const char *what, unsigned char **out,
                       size_t *len, fm_err *err);

/* Reads everything from the open descriptor fd (a pipe, a terminal, standard input) until its
 * end, at most max_bytes, into *out as fm_read_file does; `name` names it in messages
 * ("standard input"). The descriptor is not closed. Errors as fm_read_file's, plus
 * FM_ERR_LIMIT "NAME: more than MAX bytes". */
fm_status fm_read_fd(int fd, const char *name, size_t max_bytes, const char *what,
                     unsigned char **out, size_t *len, fm_err *err);

/* Writes len bytes as the file `path`, whole or not at all: into a new temporary file beside
 * it ("PATH.tmp-PID-N", created exclusively), fsync'd, then put in place and the directory
 * fsync'd. An existing `path` (any kind, a dangling symbolic link too) is never replaced unless
 * `overwrite` is non-zero: "PATH: already exists (not overwritten)" (FM_ERR_IO); without
 * overwrite the file is put in place with link(2), so a file appearing meanwhile is not
 * replaced either (a file system without hard links falls back to a check, then rename).
 * On any error the temporary file is removed and `path` is untouched. New files get mode
 * 0666 less the umask. Errors: FM_ERR_IO "PATH: cannot create ...: <strerror>", "PATH: write
 * failed after N of M bytes: ...", "PATH: cannot fsync: ...", "PATH: cannot rename ...". */
fm_status fm_write_file(const char *path, const void *data, size_t len, int overwrite,
                        fm_err *err);

/* "regular file", "directory", "fifo", "character device", "block device", "socket" for
 * a st_mode. */
const char *fm_file_kind(unsigned mode);

/* Creates the directories of path's parent (like mkdir -p of dirname; "a/b/" creates a and
 * a/b). "DIR: cannot create directory: ..." on failure. */
fm_status fm_mkdirs_for(const char *path, fm_err *err);

#endif
