/* cls_eval.c - a saved mask classifier on a labelled set, through the inference path
 * (cls_eval.h): one classifier per thread, samples loaded as at run time. */
#include "train/cls_eval.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/pool.h"
#include "nn/net.h"

typedef struct {
    const char *model_dir;
    const fm_dataset *ds;
    fm_classifier **cls;
    float *prob;
    int *ok;
    int skipped;
    long done;
    fm_progress *prog; /* or NULL; updated under mu */
    pthread_mutex_t *mu;
} eval_job;

static void eval_worker(void *ctx, int tid, int nt)
{
    eval_job *j = ctx;
    fm_classifier *c = j->cls[tid];
    const fm_classifier_cfg *cfg = fm_classifier_config(c);
    fm_load_opts lo = fm_load_defaults(cfg->input_size);
    lo.margin = cfg->margin;
    lo.square = cfg->square;
    fm_load_scratch scratch = {0};
    fm_err err = {0};
    fm_net *net = fm_classifier_net(c);
    for (int i = tid; i < j->ds->n; i += nt) {
        if (fm_dataset_load(j->ds, i, &lo, fm_net_input(net, 0)->data, &scratch, &err) != FM_OK) {
            j->ok[i] = 0;
            pthread_mutex_lock(j->mu);
            fm_log(FM_LOG_ERROR, "skipping %s", err.msg);
            j->skipped++;
            if (j->prog)
                fm_progress_update(j->prog, ++j->done);
            pthread_mutex_unlock(j->mu);
            continue;
        }
        j->prob[i] = fm_classifier_run(c);
        j->ok[i] = 1;
        if (j->prog) {
            pthread_mutex_lock(j->mu);
            fm_progress_update(j->prog, ++j->done);
            pthread_mutex_unlock(j->mu);
        }
    }
    fm_load_scratch_free(&scratch);
}

fm_status fm_eval_dataset(const char *model_dir, const fm_dataset *ds, int threads,
                          float *mask_prob, int *ok, int *skipped, fm_progress *progress,
                          fm_err *err)
{
    if (threads < 1)
        threads = 1;
    fm_classifier **cls = calloc((size_t)threads, sizeof *cls);
    fm_pool *pool = fm_pool_create(threads, err);
    fm_status st = FM_OK;
    if (!cls || !pool) {
        st = fm_err_set(err, FM_ERR_NOMEM, "out of memory for evaluation");
        goto done;
    }
    for (int t = 0; t < threads; t++) {
        if (!(cls[t] = fm_classifier_load(model_dir, NULL, err))) {
            st = err ? err->status : FM_ERR_IO;
            goto done;
        }
    }
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    eval_job j = {model_dir, ds, cls, mask_prob, ok, 0, 0, progress, &mu};
    fm_pool_run(pool, eval_worker, &j);
    if (skipped)
        *skipped = j.skipped;
done:
    for (int t = 0; cls && t < threads; t++)
        fm_classifier_free(cls[t]);
    free(cls);
    fm_pool_free(pool);
    return st;
}

fm_status fm_eval_classifier(const char *model_dir, const fm_dataset *ds, int mask_label,
                             int threads, fm_cls_eval *r, fm_progress *progress, fm_err *err)
{
    memset(r, 0, sizeof *r);
    r->samples = ds->n;
    r->auc = NAN;
    float *prob = calloc((size_t)ds->n + 1, sizeof *prob);
    int *ok = calloc((size_t)ds->n + 1, sizeof *ok);
    int *pos = calloc((size_t)ds->n + 1, sizeof *pos);
    int *correct = calloc((size_t)ds->n + 1, sizeof *correct);
    double *width = calloc((size_t)ds->n + 1, sizeof *width);
    float *score = calloc((size_t)ds->n + 1, sizeof *score);
    fm_status st = FM_OK;
    if (!prob || !ok || !pos || !correct || !width || !score) {
        st = fm_err_set(err, FM_ERR_NOMEM, "out of memory evaluating %d samples", ds->n);
        goto done;
    }
    if ((st = fm_eval_dataset(model_dir, ds, threads, prob, ok, &r->skipped, progress, err)) !=
        FM_OK)
        goto done;
    fm_confusion_init(&r->cm, 2, NULL);
    int k = 0, boxed = 0;
    for (int i = 0; i < ds->n; i++) {
        if (!ok[i])
            continue;
        int t = ds->samples[i].label == mask_label ? 0 : 1;
        int p = prob[i] >= 0.5f ? 0 : 1;
        fm_confusion_add(&r->cm, t, p, NULL);
        score[k] = prob[i];
        pos[k] = t == 0;
        if (ds->samples[i].has_box) {
            correct[boxed] = t == p;
            width[boxed] = ds->samples[i].box.x2 - ds->samples[i].box.x1;
            boxed++;
        }
        k++;
    }
    fm_eval_auc(score, pos, (size_t)k, &r->auc, NULL);
    static const double edges[FM_CLS_WIDTH_BUCKETS - 1] = {16, 32, 64};
    fm_eval_buckets(edges, FM_CLS_WIDTH_BUCKETS - 1, width, correct, (size_t)boxed, r->by_width,
                    NULL);
done:
    free(prob);
    free(ok);
    free(pos);
    free(correct);
    free(width);
    free(score);
    return st;
}
