#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *fm_file_kind(unsigned mode)
{
    mode_t m = (mode_t)mode;
    return S_ISREG(m)    ? "regular file"
           : S_ISDIR(m)  ? "directory"
           : S_ISFIFO(m) ? "fifo"
           : S_ISCHR(m)  ? "character device"
           : S_ISBLK(m)  ? "block device"
           : S_ISSOCK(m) ? "socket"
                         : "unknown kind";
}

fm_status fm_read_file(const char *path, size_t max_bytes, const char *what, unsigned char **out,
                       size_t *len, fm_err *err)
{
    *out = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; the kind is checked on the
     * opened descriptor, so a path swapped after a check cannot slip through. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat stt;
    if (fstat(fd, &stt) != 0) {
        int e = errno;
        close(fd);
        return fm_err_set(err, FM_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(stt.st_mode)) {
        close(fd);
        return fm_err_set(err, FM_ERR_IO, "%s: not a regular file (%s)", path,
                          fm_file_kind((unsigned)stt.st_mode));
    }
    if ((unsigned long long)stt.st_size > max_bytes) {
        close(fd);
        return fm_err_set(err, FM_ERR_LIMIT, "%s: %lld bytes exceeds the %zu-byte limit", path,
                          (long long)stt.st_size, max_bytes);
    }
    size_t size = (size_t)stt.st_size;
    if (size == 0 && what) {
        close(fd);
        return fm_err_set(err, FM_ERR_FORMAT, "%s: empty file, expected %s", path, what);
    }
    unsigned char *buf = size < (size_t)-1 ? malloc(size + 1) : NULL;
    if (!buf) {
        close(fd);
        return fm_err_set(err, FM_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, size);
    }
    size_t got = 0;
    int bad = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            bad = r < 0 ? errno : 0;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (got != size) {
        free(buf);
        if (bad)
            return fm_err_set(err, FM_ERR_IO, "%s: read %zu of %zu bytes: %s", path, got, size,
                              strerror(bad));
        return fm_err_set(err, FM_ERR_IO, "%s: read %zu of %zu bytes", path, got, size);
    }
    buf[size] = '\0';
    *out = buf;
    *len = size;
    return FM_OK;
}

fm_status fm_read_fd(int fd, const char *name, size_t max_bytes, const char *what,
                     unsigned char **out, size_t *len, fm_err *err)
{
    *out = NULL;
    *len = 0;
    size_t cap = 0, got = 0;
    unsigned char *buf = NULL;
    for (;;) {
        if (got == cap) {
            size_t want = cap ? cap * 2 : 65536;
            if (want > max_bytes + 1)
                want = max_bytes + 1; /* one byte more tells "too large" from "exactly max" */
            if (want <= got) {
                free(buf);
                return fm_err_set(err, FM_ERR_LIMIT, "%s: more than %zu bytes", name, max_bytes);
            }
            unsigned char *nb = realloc(buf, want + 1);
            if (!nb) {
                free(buf);
                return fm_err_set(err, FM_ERR_NOMEM, "%s: cannot allocate %zu bytes", name,
                                  want + 1);
            }
            buf = nb;
            cap = want;
        }
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            return fm_err_set(err, FM_ERR_IO, "%s: read failed after %zu bytes: %s", name, got,
                              strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got > max_bytes) {
        free(buf);
        return fm_err_set(err, FM_ERR_LIMIT, "%s: more than %zu bytes", name, max_bytes);
    }
    if (got == 0 && what) {
        free(buf);
        return fm_err_set(err, FM_ERR_FORMAT, "%s: empty, expected %s", name, what);
    }
    if (!buf && !(buf = malloc(1)))
        return fm_err_set(err, FM_ERR_NOMEM, "%s: cannot allocate 1 byte", name);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return FM_OK;
}

/* fsync of the folder that holds path, so a rename or link in it is durable. */
static void sync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0)
            n = 1; /* "/x": the root */
        if (n >= sizeof dir)
            return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse fsync on a folder */
        close(fd);
    }
}

static fm_status write_all(int fd, const char *path, const void *data, size_t len, fm_err *err)
{
    const unsigned char *p = data;
    size_t done = 0;
    while (done < len) {
        size_t chunk = len - done > ((size_t)1 << 30) ? (size_t)1 << 30 : len - done;
        ssize_t w = write(fd, p + done, chunk);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fm_err_set(err, FM_ERR_IO, "%s: write failed after %zu of %zu bytes: %s", path,
                              done, len, w < 0 ? strerror(errno) : "no progress");
        done += (size_t)w;
    }
    if (fsync(fd) != 0)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot fsync: %s", path, strerror(errno));
    return FM_OK;
}

fm_status fm_write_file(const char *path, const void *data, size_t len, int overwrite,
                        fm_err *err)
{
    if (!path || !*path || (len && !data))
        return fm_err_set(err, FM_ERR_ARG, "fm_write_file: a path and data are required");
    struct stat st;
    if (!overwrite && lstat(path, &st) == 0)
        return fm_err_set(err, FM_ERR_IO, "%s: already exists (not overwritten)", path);
    char tmp[4200];
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        int n = snprintf(tmp, sizeof tmp, "%s.tmp-%ld-%d", path, (long)getpid(), attempt);
        if (n < 0 || (size_t)n >= sizeof tmp)
            return fm_err_set(err, FM_ERR_ARG, "%s: path too long", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            return fm_err_set(err, FM_ERR_IO, "%s: cannot create the temporary file %s: %s", path,
                              tmp, strerror(errno));
    }
    if (fd < 0)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot create a temporary file beside it", path);
    fm_status s = write_all(fd, path, data, len, err);
    if (close(fd) != 0 && s == FM_OK)
        s = fm_err_set(err, FM_ERR_IO, "%s: cannot close: %s", path, strerror(errno));
    if (s == FM_OK) {
        if (overwrite) {
            if (rename(tmp, path) != 0)
                s = fm_err_set(err, FM_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp,
                               strerror(errno));
        } else if (link(tmp, path) == 0) {
            unlink(tmp);
        } else if (errno == EEXIST) {
            s = fm_err_set(err, FM_ERR_IO, "%s: already exists (not overwritten)", path);
        } else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == ENOSYS) {
            /* no hard links here: a check then rename (a file created in between is lost) */
            if (lstat(path, &st) == 0)
                s = fm_err_set(err, FM_ERR_IO, "%s: already exists (not overwritten)", path);
            else if (rename(tmp, path) != 0)
                s = fm_err_set(err, FM_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp,
                               strerror(errno));
        } else {
            s = fm_err_set(err, FM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        }
    }
    if (s != FM_OK) {
        unlink(tmp);
        return s;
    }
    sync_parent(path);
    return FM_OK;
}

fm_status fm_mkdirs_for(const char *path, fm_err *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return fm_err_set(err, FM_ERR_ARG, "%s: path too long", path);
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            fm_status st = fm_err_set(err, FM_ERR_IO, "%s: cannot create directory: %s", buf,
                                      strerror(errno));
            return st;
        }
        *p = '/';
    }
    return FM_OK;
}
