#include "core/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* After a job a worker polls for the next one this many times (about 20-60 us) before it
 * sleeps: a network runs layer after layer microseconds apart, and waking a sleeping thread
 * costs 30-100 us when the other core is busy. The poll is bounded, then the condition
 * variable takes over, so an idle pool costs nothing. */
#define FM_POOL_SPIN 2000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

struct fm_pool {
    int nthreads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;
    pthread_cond_t done_cv;
    fm_pool_fn fn;
    void *ctx;
    atomic_ulong generation; /* bumped for every job (written under mu) */
    atomic_int pending;      /* workers still running the current job */
    atomic_int quit;
};

struct worker_arg {
    fm_pool *pool;
    int tid;
};

static void *worker_main(void *p)
{
    struct worker_arg *wa = p;
    fm_pool *pool = wa->pool;
    int tid = wa->tid;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        for (int i = 0; i < FM_POOL_SPIN; i++) {
            if (atomic_load_explicit(&pool->generation, memory_order_acquire) != seen ||
                atomic_load_explicit(&pool->quit, memory_order_acquire))
                break;
            cpu_relax();
        }
        pthread_mutex_lock(&pool->mu);
        while (!atomic_load(&pool->quit) && atomic_load(&pool->generation) == seen)
            pthread_cond_wait(&pool->work_cv, &pool->mu);
        if (atomic_load(&pool->quit)) {
            pthread_mutex_unlock(&pool->mu);
            break;
        }
        seen = atomic_load(&pool->generation);
        fm_pool_fn fn = pool->fn;
        void *ctx = pool->ctx;
        pthread_mutex_unlock(&pool->mu);
        fn(ctx, tid, pool->nthreads);
        if (atomic_fetch_sub(&pool->pending, 1) == 1) {
            pthread_mutex_lock(&pool->mu);
            pthread_cond_signal(&pool->done_cv);
            pthread_mutex_unlock(&pool->mu);
        }
    }
    return NULL;
}

fm_pool *fm_pool_create(int nthreads, fm_err *err)
{
    if (nthreads < 1 || nthreads > 256) {
        fm_err_set(err, FM_ERR_ARG, "thread count %d out of range (1..256)", nthreads);
        return NULL;
    }
    fm_pool *pool = calloc(1, sizeof *pool);
    if (!pool) {
        fm_err_set(err, FM_ERR_NOMEM, "out of memory creating a thread pool");
        return NULL;
    }
    pool->nthreads = nthreads;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->work_cv, NULL);
    pthread_cond_init(&pool->done_cv, NULL);
    if (nthreads > 1) {
        pool->threads = calloc((size_t)nthreads - 1, sizeof *pool->threads);
        if (!pool->threads) {
            fm_pool_free(pool);
            fm_err_set(err, FM_ERR_NOMEM, "out of memory creating a thread pool");
            return NULL;
        }
        for (int i = 1; i < nthreads; i++) {
            struct worker_arg *wa = malloc(sizeof *wa);
            if (wa) {
                wa->pool = pool;
                wa->tid = i;
            }
            if (!wa || pthread_create(&pool->threads[i - 1], NULL, worker_main, wa) != 0) {
                free(wa);
                pool->nthreads = i; /* only i-1 workers exist: join those */
                fm_pool_free(pool);
                fm_err_set(err, FM_ERR_NOMEM, "could not start worker thread %d of %d", i, nthreads);
                return NULL;
            }
        }
    }
    return pool;
}

void fm_pool_free(fm_pool *pool)
{
    if (!pool)
        return;
    if (pool->threads) {
        pthread_mutex_lock(&pool->mu);
        atomic_store(&pool->quit, 1);
        pthread_cond_broadcast(&pool->work_cv);
        pthread_mutex_unlock(&pool->mu);
        for (int i = 1; i < pool->nthreads; i++)
            pthread_join(pool->threads[i - 1], NULL);
        free(pool->threads);
    }
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->work_cv);
    pthread_cond_destroy(&pool->done_cv);
    free(pool);
}

int fm_pool_size(const fm_pool *pool)
{
    return pool ? pool->nthreads : 1;
}

void fm_pool_run(fm_pool *pool, fm_pool_fn fn, void *ctx)
{
    if (!pool || pool->nthreads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store(&pool->pending, pool->nthreads - 1);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);

    fn(ctx, 0, pool->nthreads);

    for (int i = 0; i < FM_POOL_SPIN && atomic_load_explicit(&pool->pending, memory_order_acquire) > 0;
         i++)
        cpu_relax();
    if (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&pool->mu);
        while (atomic_load(&pool->pending) > 0)
            pthread_cond_wait(&pool->done_cv, &pool->mu);
        pthread_mutex_unlock(&pool->mu);
    }
}
