/* test_ops_util.h - helpers shared by the operator tests (tests/test_ops_*.c):
 * reading the golden fixtures that tools/gen_ops_fixtures.py writes from
 * OpenCV, and comparing float arrays with a stated tolerance.
 *
 * Fixture format: '#' comment lines; per tensor "tensor NAME NDIM D0 D1 ..."
 * then the values, whitespace separated.
 */
#ifndef FM_TEST_OPS_UTIL_H
#define FM_TEST_OPS_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/tensor.h"
#include "test.h"

#define FM_OPS_FIXTURES "tests/fixtures/ops/"

/* Loads tensor `name` from fixture file `file` (under tests/fixtures/ops/).
 * On success t->data is malloc'd (free it); on failure the test fails and
 * 0 is returned. */
static inline int fm_fixture_load(const char *file, const char *name, fm_tensor *t)
{
    char path[256], key[96];
    snprintf(path, sizeof path, FM_OPS_FIXTURES "%s", file);
    t->data = NULL;
    char *txt = fm_test_read_file(path, NULL);
    if (!txt) {
        fm_test_fail(__FILE__, __LINE__, "cannot read fixture %s (run from the repository root)",
                     path);
        return 0;
    }
    snprintf(key, sizeof key, "\ntensor %s ", name);
    char *p = strstr(txt, key);
    if (!p) {
        fm_test_fail(__FILE__, __LINE__, "fixture %s has no tensor %s", path, name);
        free(txt);
        return 0;
    }
    p += strlen(key);
    char *end;
    long nd = strtol(p, &end, 10);
    if (nd < 1 || nd > FM_MAX_DIMS) {
        fm_test_fail(__FILE__, __LINE__, "fixture %s tensor %s: bad ndim", path, name);
        free(txt);
        return 0;
    }
    t->shape.ndim = (int)nd;
    memset(t->shape.d, 0, sizeof t->shape.d);
    for (int i = 0; i < nd; i++)
        t->shape.d[i] = (int)strtol(end, &end, 10);
    size_t n = fm_shape_count(&t->shape);
    t->data = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; t->data && i < n; i++) {
        char *q;
        t->data[i] = strtof(end, &q);
        if (q == end) {
            fm_test_fail(__FILE__, __LINE__, "fixture %s tensor %s: value %zu missing", path, name,
                         i);
            free(t->data);
            t->data = NULL;
            break;
        }
        end = q;
    }
    free(txt);
    return t->data != NULL;
}

/* |got - want| <= atol + rtol * |want| everywhere; reports the first mismatch. */
#define FM_CHECK_CLOSE(got, want, n, atol, rtol) \
    fm_check_close_at(__FILE__, __LINE__, #got, (got), (want), (n), (atol), (rtol))

static inline int fm_check_close_at(const char *file, int line, const char *what, const float *got,
                                    const float *want, size_t n, double atol, double rtol)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= atol + rtol * fabs((double)want[i]))) {
            fm_test_fail(file, line, "%s[%zu] = %.9g, expected %.9g (atol %g, rtol %g)", what, i,
                         (double)got[i], (double)want[i], atol, rtol);
            return 0;
        }
    }
    return 1;
}

#endif
