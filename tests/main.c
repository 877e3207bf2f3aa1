/* The test runner: runs every suite_* the build found, prints one line per
 * failure and a closing "N passed, N failed". */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define FM_SUITE(name) void name(void);
#include "suites.inc"
#undef FM_SUITE

static int g_passed, g_failed, g_cur_failed;
static const char *g_suite = "";
static int g_nfilters;
static char **g_filters;
static char g_tmproot[256];
static char g_tmpdir[512];
static int g_tmpcount;

static int selected(const char *suite, const char *test)
{
    if (g_nfilters == 0)
        return 1;
    for (int i = 0; i < g_nfilters; i++)
        if (strstr(suite, g_filters[i]) || strstr(test, g_filters[i]))
            return 1;
    return 0;
}

void fm_test_run(const char *name, void (*fn)(void))
{
    if (!selected(g_suite, name))
        return;
    g_cur_failed = 0;
    g_tmpdir[0] = '\0';
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fn();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (g_cur_failed) {
        g_failed++;
        printf("FAIL %s.%s (%.0f ms)\n", g_suite, name, ms);
    } else {
        g_passed++;
        printf("ok   %s.%s (%.0f ms)\n", g_suite, name, ms);
    }
    fflush(stdout);
}

void fm_test_fail(const char *file, int line, const char *fmt, ...)
{
    g_cur_failed = 1;
    va_list ap;
    va_start(ap, fmt);
    printf("  %s:%d: ", file, line);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

int fm_test_failed_now(void)
{
    return g_cur_failed;
}

int fm_test_bench(void)
{
    const char *b = getenv("FM_BENCH");
    return b && strcmp(b, "1") == 0;
}

const char *fm_test_shared(void)
{
    const char *s = getenv("FM_SHARED");
    return s && *s ? s : "../shared";
}

const char *fm_test_bin(void)
{
    const char *s = getenv("FM_BIN");
    return s && *s ? s : "build/facemask";
}

int fm_test_sanitized(void)
{
    const char *s = getenv("FM_SANITIZED");
    return s && *s && strcmp(s, "0") != 0;
}

const char *fm_test_tmpdir(void)
{
    if (g_tmpdir[0])
        return g_tmpdir;
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/t%d", g_tmproot, ++g_tmpcount);
    mkdir(g_tmpdir, 0700);
    return g_tmpdir;
}

uint32_t fm_test_rand(uint64_t *state)
{
    /* PCG-style LCG with xorshift output: deterministic and good enough for tests. */
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t x = *state;
    return (uint32_t)((x ^ (x >> 22)) >> 22);
}

float fm_test_randf(uint64_t *state, float lo, float hi)
{
    return lo + (hi - lo) * (float)(fm_test_rand(state) & 0xffffff) / (float)0x1000000;
}

char *fm_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

void fm_test_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fm_test_fail(__FILE__, __LINE__, "cannot write %s: %s", path, strerror(errno));
        return;
    }
    int bad = fputs(text, f) == EOF;
    if (fclose(f) != 0 || bad)
        fm_test_fail(__FILE__, __LINE__, "cannot write %s", path);
}

int fm_test_cmd(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    if (buf)
        buf[n] = '\0';
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void rm_tree(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", path);
}

int main(int argc, char **argv)
{
    g_nfilters = argc - 1;
    g_filters = argv + 1;
    snprintf(g_tmproot, sizeof g_tmproot, "/tmp/fm_tests.XXXXXX");
    if (!mkdtemp(g_tmproot)) {
        perror("mkdtemp");
        return 2;
    }
#define FM_SUITE(name)                                 \
    g_suite = &#name[6]; /* drop the "suite_" prefix */ \
    name();
#include "suites.inc"
#undef FM_SUITE
    rm_tree(g_tmproot);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
