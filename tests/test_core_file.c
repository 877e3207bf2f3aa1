/* fm_read_file: the bytes and the NUL after them, and each error with its exact message:
 * missing file, a folder, over the limit, empty when the caller needs content. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/file.h"
#include "test.h"

static void test_core_file_reads_whole_file(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/a.txt", fm_test_tmpdir());
    fm_test_write_text(path, "hello\nworld");
    unsigned char *buf = NULL;
    size_t len = 0;
    fm_err err = {0};
    FM_CHECK_INT(fm_read_file(path, 11, "text", &buf, &len, &err), FM_OK);
    FM_CHECK(len == 11 && buf && memcmp(buf, "hello\nworld", 12) == 0); /* NUL included */
    free(buf);
    /* empty, allowed */
    fm_test_write_text(path, "");
    FM_CHECK_INT(fm_read_file(path, 11, NULL, &buf, &len, &err), FM_OK);
    FM_CHECK(len == 0 && buf && buf[0] == '\0');
    free(buf);
}

static void expect(const char *path, size_t max, const char *what, fm_status want,
                   const char *msg)
{
    unsigned char *buf = (unsigned char *)"x";
    size_t len = 7;
    fm_err err = {0};
    FM_CHECK_INT(fm_read_file(path, max, what, &buf, &len, &err), want);
    FM_CHECK_INT(err.status, want);
    FM_CHECK(buf == NULL && len == 0);
    FM_CHECK_MSG(strcmp(err.msg, msg) == 0, "got '%s', expected '%s'", err.msg, msg);
}

static void test_core_file_errors(void)
{
    char path[1024], msg[1200];
    expect("/nonexistent/x.bin", 10, NULL, FM_ERR_IO,
           "/nonexistent/x.bin: cannot open: No such file or directory");
    snprintf(msg, sizeof msg, "%s: not a regular file (directory)", fm_test_tmpdir());
    expect(fm_test_tmpdir(), 10, NULL, FM_ERR_IO, msg);
    /* a FIFO is refused without waiting for a writer; a device without reading it */
    snprintf(path, sizeof path, "%s/pipe.bin", fm_test_tmpdir());
    FM_CHECK(mkfifo(path, 0600) == 0);
    snprintf(msg, sizeof msg, "%s: not a regular file (fifo)", path);
    expect(path, 10, NULL, FM_ERR_IO, msg);
    expect("/dev/zero", (size_t)1 << 40, NULL, FM_ERR_IO,
           "/dev/zero: not a regular file (character device)");
    snprintf(path, sizeof path, "%s/big.bin", fm_test_tmpdir());
    fm_test_write_text(path, "0123456789a");
    snprintf(msg, sizeof msg, "%s: 11 bytes exceeds the 10-byte limit", path);
    expect(path, 10, NULL, FM_ERR_LIMIT, msg);
    fm_test_write_text(path, "");
    snprintf(msg, sizeof msg, "%s: empty file, expected an image", path);
    expect(path, 10, "an image", FM_ERR_FORMAT, msg);
}

void suite_core_file(void);
void suite_core_file(void)
{
    FM_RUN(test_core_file_reads_whole_file);
    FM_RUN(test_core_file_errors);
}
