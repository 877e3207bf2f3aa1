/* cls_eval.h - how a saved mask classifier does on a labelled set: through the inference path
 * (fm_classifier_load, the crop and input of run time), one classifier per thread. `train`
 * scores its saved model with it, `eval --data/--voc` the committed one.
 *
 *     fm_cls_eval r;
 *     if (fm_eval_classifier("models/mask", ds, FM_VOC_WITH_MASK, 2, &r, NULL, &err) == FM_OK)
 *         printf("%.4f\n", fm_confusion_accuracy(&r.cm));
 */
#ifndef FM_CLS_EVAL_H
#define FM_CLS_EVAL_H

#include "core/err.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "eval/metrics.h"
#include "face/classifier.h"

/* Mask probabilities of every sample of ds with classifier(s) loaded from model_dir,
 * using `threads` threads (one classifier each). ok[i] is 0 where the sample could not
 * be loaded (its message is printed to stderr and counted in *skipped). `progress` (may be
 * NULL; started by the caller with ds->n items) is updated as samples finish. */
fm_status fm_eval_dataset(const char *model_dir, const fm_dataset *ds, int threads,
                          float *mask_prob, int *ok, int *skipped, fm_progress *progress,
                          fm_err *err);

#define FM_CLS_WIDTH_BUCKETS 4

/* A classifier's figures on a labelled set (classes 0 mask, 1 no_mask). */
typedef struct {
    int samples, skipped;  /* in the set; not loadable (skipped) */
    fm_confusion cm;       /* rows true class, columns predicted */
    double auc;            /* ROC AUC of P(mask) for mask vs no mask */
    fm_bucket by_width[FM_CLS_WIDTH_BUCKETS]; /* accuracy of boxed samples by face width:
                                               * < 16, 16-32, 32-64, >= 64 px */
} fm_cls_eval;

/* Classifies every sample of ds with the classifier in model_dir (mask_label: the dataset
 * label that means "mask"; every other label counts as no mask). */
fm_status fm_eval_classifier(const char *model_dir, const fm_dataset *ds, int mask_label,
                             int threads, fm_cls_eval *out, fm_progress *progress, fm_err *err);

#endif
