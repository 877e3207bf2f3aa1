/* Hostile input through the command line: folders with symbolic-link loops, FIFOs and
 * devices named as images, file names that are not UTF-8, and option values at their
 * documented minimum. Every command runs under `timeout`, so a hang fails the test (status
 * 124) instead of stopping the suite. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define TIMEOUT "timeout -k 5 60 "

/* A memory cap for the command, so a reader that does not stop fails instead of taking the
 * machine's memory (not under sanitizers: their shadow memory needs a huge address space). */
static const char *mem_cap(void)
{
    return fm_test_sanitized() ? "" : "ulimit -v 4000000; ";
}

static void copy_demo(const char *demo, const char *to)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp %s/demo/%s '%s'", fm_test_shared(), demo, to);
    FM_CHECK_INT(fm_test_cmd(cmd, NULL), 0);
}

static int count_lines(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* `detect --json DIR` (stdout only; stderr into *err_out when given). */
static int detect_json(const char *target, char **out, char **err_out)
{
    char cmd[2400], errf[700];
    snprintf(errf, sizeof errf, "%s/stderr.txt", fm_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "%s" TIMEOUT "%s detect --detector res10 --json --no-classify --model-dir %s/models "
                          "'%s' 2>%s",
             mem_cap(), fm_test_bin(), fm_test_shared(), target, errf);
    int rc = fm_test_cmd(cmd, out);
    if (err_out)
        *err_out = fm_test_read_file(errf, NULL);
    return rc;
}

/* Two links to the folder itself: the walk ends, and the one image is listed once. */
static void test_walk_symlink_loops(void)
{
    char dir[600], p[700];
    snprintf(dir, sizeof dir, "%s/loops", fm_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/a.jpg", dir);
    copy_demo("aizoo_demo2.jpg", p);
    snprintf(p, sizeof p, "%s/x", dir);
    FM_CHECK(symlink(".", p) == 0);
    snprintf(p, sizeof p, "%s/y", dir);
    FM_CHECK(symlink(".", p) == 0);
    snprintf(p, sizeof p, "%s/sub", dir); /* and a link back up from a subfolder */
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/sub/up", dir);
    FM_CHECK(symlink("..", p) == 0);
    char *out = NULL, *err = NULL;
    int rc = detect_json(dir, &out, &err);
    FM_CHECK_MSG(rc == 0, "detect on a folder with link loops: status %d (124: timed out)", rc);
    FM_CHECK_INT(count_lines(out, "{\"image\":"), 1);
    FM_CHECK_STR_CONTAINS(out, "loops/a.jpg\",\"width\":464");
    FM_CHECK_STR_CONTAINS(err, "folder already listed");
    free(out);
    free(err);
}

/* One link to the folder: the image is listed once, not once per path length. */
static void test_walk_one_link_lists_once(void)
{
    char dir[600], p[700];
    snprintf(dir, sizeof dir, "%s/onelink", fm_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/a.jpg", dir);
    copy_demo("aizoo_demo2.jpg", p);
    snprintf(p, sizeof p, "%s/x", dir);
    FM_CHECK(symlink(".", p) == 0);
    char *out = NULL;
    int rc = detect_json(dir, &out, NULL);
    FM_CHECK_INT(rc, 0);
    FM_CHECK_INT(count_lines(out, "{\"image\":"), 1);
    free(out);
}

/* /dev/zero and a FIFO named as images, given directly and met in a folder walk. */
static void test_non_regular_images(void)
{
    char dir[600], z[700], f[700], a[700];
    snprintf(dir, sizeof dir, "%s/specials", fm_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(a, sizeof a, "%s/a.jpg", dir);
    copy_demo("aizoo_demo2.jpg", a);
    snprintf(z, sizeof z, "%s/z.jpg", dir);
    FM_CHECK(symlink("/dev/zero", z) == 0);
    snprintf(f, sizeof f, "%s/f.png", dir);
    FM_CHECK(mkfifo(f, 0600) == 0);

    char *out = NULL, *err = NULL;
    int rc = detect_json(z, &out, &err);
    FM_CHECK_MSG(rc == 1, "detect /dev/zero as z.jpg: status %d (124: timed out)", rc);
    FM_CHECK_STR_CONTAINS(err, "z.jpg: not a regular file");
    free(out);
    free(err);

    out = err = NULL;
    rc = detect_json(f, &out, &err);
    FM_CHECK_MSG(rc == 1, "detect a FIFO as f.png: status %d (124: timed out)", rc);
    FM_CHECK_STR_CONTAINS(err, "f.png: not a regular file");
    free(out);
    free(err);

    out = err = NULL;
    rc = detect_json(dir, &out, &err);
    FM_CHECK_MSG(rc == 0, "detect on a folder with a FIFO and /dev/zero: status %d", rc);
    FM_CHECK_INT(count_lines(out, "{\"image\":"), 1);
    FM_CHECK_STR_CONTAINS(err, "f.png: not a regular file (fifo), skipped");
    FM_CHECK_STR_CONTAINS(err, "z.jpg: not a regular file (character device), skipped");
    free(out);
    free(err);
}

/* Strict checks of one line: valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF) and one JSON value by RFC 8259, via python3's decoders. */
static int strict_json_lines(const char *path, int *nlines)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import json,sys\n"
             "n = 0\n"
             "for raw in open(sys.argv[1], \"rb\").read().splitlines():\n"
             "    json.loads(raw.decode(\"utf-8\", \"strict\")); n += 1\n"
             "print(n)' %s",
             path);
    char *out = NULL;
    int rc = fm_test_cmd(cmd, &out);
    *nlines = out ? atoi(out) : -1;
    free(out);
    return rc;
}

static void write_out(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    FM_CHECK(f != NULL);
    if (f) {
        fputs(s ? s : "", f);
        fclose(f);
    }
}

/* A file name with byte 0xFF, one with a 4-byte character, and control characters: every
 * line of detect --json is strict UTF-8 JSON; the invalid byte becomes U+FFFD. */
static void test_detect_json_non_utf8_names(void)
{
    char dir[600], p[900], lines[700];
    snprintf(dir, sizeof dir, "%s/names", fm_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/bad\xff\xfe name.jpg", dir);
    copy_demo("aizoo_demo2.jpg", p);
    snprintf(p, sizeof p, "%s/emoji \xf0\x9f\x98\xb7 and \"quote\".jpg", dir);
    copy_demo("aizoo_demo2.jpg", p);
    snprintf(p, sizeof p, "%s/half \xf0\x9f\x98.jpg", dir); /* a 4-byte character cut short */
    copy_demo("aizoo_demo2.jpg", p);
    char *out = NULL;
    int rc = detect_json(dir, &out, NULL);
    FM_CHECK_INT(rc, 0);
    FM_CHECK_INT(count_lines(out, "{\"image\":"), 3);
    FM_CHECK_STR_CONTAINS(out, "bad\xef\xbf\xbd\xef\xbf\xbd name.jpg");
    FM_CHECK_STR_CONTAINS(out, "emoji \xf0\x9f\x98\xb7 and \\\"quote\\\".jpg");
    FM_CHECK_STR_CONTAINS(out, "half \xef\xbf\xbd.jpg"); /* one U+FFFD: a maximal subpart */
    snprintf(lines, sizeof lines, "%s/detect.jsonl", fm_test_tmpdir());
    write_out(lines, out);
    int n = 0;
    FM_CHECK_INT(strict_json_lines(lines, &n), 0);
    FM_CHECK_INT(n, 3);
    free(out);
}

/* --summary-every and --folder-fps accept their documented minimum, 0.1, and refuse less. */
static void test_watch_minimum_periods(void)
{
    char dir[600], p[700], cmd[2400];
    snprintf(dir, sizeof dir, "%s/frames", fm_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/a.jpg", dir);
    copy_demo("aizoo_demo2.jpg", p);
    snprintf(cmd, sizeof cmd,
             TIMEOUT "%s watch --detector res10 --source %s --model-dir %s/models "
                     "--no-classify --events - --quiet --summary-every 0.1 --folder-fps 0.1 2>&1",
             fm_test_bin(), dir, fm_test_shared());
    char *out = NULL;
    int rc = fm_test_cmd(cmd, &out);
    FM_CHECK_MSG(rc == 0, "watch --summary-every 0.1 --folder-fps 0.1: status %d: %s", rc,
                 out ? out : "");
    FM_CHECK_STR_CONTAINS(out, "\"reason\":\"eof\"");
    free(out);
    const char *bad[2] = {"--summary-every 0.09", "--folder-fps 0.0999"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 TIMEOUT "%s watch --detector res10 --source %s --model-dir %s/models "
                         "--no-classify --events - --quiet %s 2>&1",
                 fm_test_bin(), dir, fm_test_shared(), bad[i]);
        out = NULL;
        rc = fm_test_cmd(cmd, &out);
        FM_CHECK_INT(rc, 2);
        FM_CHECK_STR_CONTAINS(out, "expects a number from 0.1 to");
        free(out);
    }
}

/* Lines that never reached standard output (a full device) are an error, not a silent loss:
 * detect, classify and eval say so on one line and exit 1. */
static void test_stdout_write_failure(void)
{
    static const char *const cmds[3] = {"detect --detector yunet --json --no-classify",
                                        "classify --json", "detect --detector yunet"};
    for (int i = 0; i < 3; i++) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "%s %s --model-dir %s/models %s/demo/coral_face.jpg 2>&1 >/dev/full",
                 fm_test_bin(), cmds[i], fm_test_shared(), fm_test_shared());
        if (i == 1) /* classify takes no --model-dir */
            snprintf(cmd, sizeof cmd, "%s %s %s/demo/coral_face.jpg 2>&1 >/dev/full",
                     fm_test_bin(), cmds[i], fm_test_shared());
        char *out = NULL;
        int rc = fm_test_cmd(cmd, &out);
        FM_CHECK_MSG(rc == 1, "%s: exit %d", cmds[i], rc);
        FM_CHECK_STR_CONTAINS(out ? out : "", "facemask: cannot write standard output");
        free(out);
    }
}

void suite_hostile(void);
void suite_hostile(void)
{
    FM_RUN(test_walk_symlink_loops);
    FM_RUN(test_walk_one_link_lists_once);
    FM_RUN(test_non_regular_images);
    FM_RUN(test_detect_json_non_utf8_names);
    FM_RUN(test_watch_minimum_periods);
    FM_RUN(test_stdout_write_failure);
}
