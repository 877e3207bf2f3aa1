/* The thread pool: every job runs once on every thread, jobs do not overlap, fm_split
 * covers a range exactly, and creating/freeing pools of any size is clean. */
#include <stdatomic.h>
#include <string.h>

#include "core/pool.h"
#include "test.h"

typedef struct {
    int nthreads;
    int job;
    int runs[8];          /* per thread: how many times it ran */
    int last_job[8];      /* per thread: the job it saw last */
    atomic_int inside;    /* threads inside the current job */
    atomic_int overlap;   /* a thread saw the previous job still running */
    long long sum[8];
} job_ctx;

static void count_job(void *p, int tid, int nt)
{
    job_ctx *c = p;
    atomic_fetch_add(&c->inside, 1);
    if (nt != c->nthreads || tid < 0 || tid >= nt || c->last_job[tid] != c->job - 1)
        atomic_store(&c->overlap, 1);
    c->last_job[tid] = c->job;
    c->runs[tid]++;
    size_t b, e;
    fm_split(1000, tid, nt, &b, &e);
    for (size_t i = b; i < e; i++)
        c->sum[tid] += (long long)i;
    atomic_fetch_sub(&c->inside, 1);
}

static void test_pool_runs_every_job_on_every_thread(void)
{
    for (int nt = 1; nt <= 4; nt++) {
        fm_err err = {0};
        fm_pool *pool = fm_pool_create(nt, &err);
        FM_CHECK_MSG(pool != NULL, "%s", err.msg);
        if (!pool)
            continue;
        FM_CHECK_INT(fm_pool_size(pool), nt);
        job_ctx c;
        memset(&c, 0, sizeof c);
        c.nthreads = nt;
        for (int t = 0; t < 8; t++)
            c.last_job[t] = -1;
        const int jobs = 5000;
        for (int j = 0; j < jobs; j++) {
            c.job = j;
            fm_pool_run(pool, count_job, &c);
            /* after fm_pool_run returns, no thread is still inside the job */
            if (atomic_load(&c.inside) != 0)
                atomic_store(&c.overlap, 1);
        }
        long long total = 0;
        for (int t = 0; t < nt; t++) {
            FM_CHECK_INT(c.runs[t], jobs);
            total += c.sum[t];
        }
        FM_CHECK_INT(total, (long long)jobs * (999LL * 1000 / 2));
        FM_CHECK(atomic_load(&c.overlap) == 0);
        fm_pool_free(pool);
    }
}

static void test_pool_split_and_errors(void)
{
    for (int nt = 1; nt <= 7; nt++)
        for (size_t n = 0; n < 40; n++) {
            size_t covered = 0, prev_end = 0;
            for (int t = 0; t < nt; t++) {
                size_t b, e;
                fm_split(n, t, nt, &b, &e);
                FM_CHECK(b == prev_end && e >= b);
                covered += e - b;
                prev_end = e;
            }
            FM_CHECK_INT(covered, n);
        }
    fm_err err = {0};
    FM_CHECK(fm_pool_create(0, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "thread count 0 out of range");
    FM_CHECK_INT(fm_pool_size(NULL), 1);
    job_ctx c;
    memset(&c, 0, sizeof c);
    c.nthreads = 1;
    c.last_job[0] = -1;
    fm_pool_run(NULL, count_job, &c); /* a NULL pool runs inline */
    FM_CHECK_INT(c.runs[0], 1);
    fm_pool_free(NULL);
}

void suite_pool(void);
void suite_pool(void)
{
    FM_RUN(test_pool_runs_every_job_on_every_thread);
    FM_RUN(test_pool_split_and_errors);
}
