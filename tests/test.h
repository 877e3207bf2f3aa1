/* test.h - the test harness.
 *
 * A test file defines static test functions and one suite function that
 * runs them; the build finds suites by the name `suite_*`:
 *
 *     static void test_relu_exact(void) { FM_CHECK_NEAR(y[0], 0.0f, 0); }
 *     void suite_relu(void);
 *     void suite_relu(void) { FM_RUN(test_relu_exact); }
 *
 * `build/tests [substring...]` runs the suites and tests whose names contain
 * any of the substrings. The last line is "N passed, N failed".
 */
#ifndef FM_TEST_H
#define FM_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

void fm_test_run(const char *name, void (*fn)(void));
void fm_test_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int fm_test_failed_now(void);

/* Paths: the shared folder (FM_SHARED, default ../shared) and the facemask binary (FM_BIN). */
const char *fm_test_shared(void);
const char *fm_test_bin(void);
/* A fresh temporary directory for this test (removed at exit). */
const char *fm_test_tmpdir(void);
/* Non-zero when built with sanitizers (long end-to-end cases may use fewer inputs). */
int fm_test_sanitized(void);
/* Non-zero when FM_BENCH=1: the timing runs kept beside the tests are registered only then. */
int fm_test_bench(void);

/* Deterministic random numbers for tests. */
uint32_t fm_test_rand(uint64_t *state);
float fm_test_randf(uint64_t *state, float lo, float hi);

/* Reads a whole file (NUL-terminated); NULL if it cannot. Caller frees. */
char *fm_test_read_file(const char *path, size_t *len);
/* Writes `text` as the whole file `path`; a test failure if it cannot. */
void fm_test_write_text(const char *path, const char *text);
/* Runs a shell command, captures stdout into *out (caller frees) and returns its exit status. */
int fm_test_cmd(const char *cmd, char **out);

#define FM_RUN(fn) fm_test_run(#fn, fn)

#define FM_CHECK(cond)                                                   \
    do {                                                                 \
        if (!(cond))                                                     \
            fm_test_fail(__FILE__, __LINE__, "check failed: %s", #cond); \
    } while (0)

#define FM_CHECK_MSG(cond, ...)                           \
    do {                                                  \
        if (!(cond))                                      \
            fm_test_fail(__FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

#define FM_CHECK_INT(a, b)                                                                 \
    do {                                                                                   \
        long long fm_a_ = (long long)(a), fm_b_ = (long long)(b);                          \
        if (fm_a_ != fm_b_)                                                                \
            fm_test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, fm_a_, \
                         #b, fm_b_);                                                       \
    } while (0)

#define FM_CHECK_NEAR(a, b, tol)                                                             \
    do {                                                                                     \
        double fm_a_ = (double)(a), fm_b_ = (double)(b);                                     \
        if (!(fabs(fm_a_ - fm_b_) <= (double)(tol)))                                         \
            fm_test_fail(__FILE__, __LINE__, "%s = %.9g, expected %.9g (tolerance %g)", #a, \
                         fm_a_, fm_b_, (double)(tol));                                       \
    } while (0)

#define FM_CHECK_STR_CONTAINS(hay, needle)                                                  \
    do {                                                                                    \
        const char *fm_h_ = (hay), *fm_n_ = (needle);                                       \
        if (!fm_h_ || !strstr(fm_h_, fm_n_))                                                \
            fm_test_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"",              \
                         fm_h_ ? fm_h_ : "(null)", fm_n_);                                  \
    } while (0)

#endif
