/* pool.h - one thread pool for every parallel kernel.
 *
 * A kernel is a function of (context, thread index, thread count) that does
 * its share of the rows; fm_pool_run calls it once on every thread (the
 * caller's thread is index 0) and returns when all have finished:
 *
 *     static void scale_rows(void *ctx, int tid, int nt) {
 *         struct job *j = ctx; size_t b, e;
 *         fm_split(j->rows, tid, nt, &b, &e);
 *         for (size_t r = b; r < e; r++) ...
 *     }
 *     fm_pool_run(pool, scale_rows, &job);
 *
 * A NULL pool runs the kernel inline as (ctx, 0, 1), so every kernel works
 * single-threaded without a pool. Workers sleep on a condition variable
 * between jobs; nothing spins.
 */
#ifndef FM_POOL_H
#define FM_POOL_H

#include <stddef.h>

#include "core/err.h"

typedef struct fm_pool fm_pool;
typedef void (*fm_pool_fn)(void *ctx, int tid, int nthreads);

/* nthreads counts the caller: 1 creates no worker thread. */
fm_pool *fm_pool_create(int nthreads, fm_err *err);
void fm_pool_free(fm_pool *pool);
int fm_pool_size(const fm_pool *pool);
void fm_pool_run(fm_pool *pool, fm_pool_fn fn, void *ctx);

/* Splits [0, n) into nthreads near-equal contiguous parts; part tid is [*begin, *end). */
static inline void fm_split(size_t n, int tid, int nthreads, size_t *begin, size_t *end)
{
    size_t t = (size_t)tid, nt = (size_t)nthreads;
    *begin = n * t / nt;
    *end = n * (t + 1) / nt;
}

#endif
