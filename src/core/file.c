#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

fm_status fm_read_file(const char *path, size_t max_bytes, const char *what, unsigned char **out,
                       size_t *len, fm_err *err)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat stt;
    if (fstat(fileno(f), &stt) != 0 || !S_ISREG(stt.st_mode)) {
        fclose(f);
        return fm_err_set(err, FM_ERR_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)stt.st_size > max_bytes) {
        fclose(f);
        return fm_err_set(err, FM_ERR_LIMIT, "%s: %lld bytes exceeds the %zu-byte limit", path,
                          (long long)stt.st_size, max_bytes);
    }
    size_t size = (size_t)stt.st_size;
    if (size == 0 && what) {
        fclose(f);
        return fm_err_set(err, FM_ERR_FORMAT, "%s: empty file, expected %s", path, what);
    }
    unsigned char *buf = size < (size_t)-1 ? malloc(size + 1) : NULL;
    if (!buf) {
        fclose(f);
        return fm_err_set(err, FM_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, size);
    }
    size_t got = fread(buf, 1, size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != size) {
        free(buf);
        return fm_err_set(err, FM_ERR_IO, "%s: read %zu of %zu bytes", path, got, size);
    }
    buf[size] = '\0';
    *out = buf;
    *len = size;
    return FM_OK;
}
