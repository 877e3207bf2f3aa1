/* trainer_int.h - what trainer.c hands to trainer_report.c; not part of the library's API. */
#ifndef FM_TRAIN_TRAINER_INT_H
#define FM_TRAIN_TRAINER_INT_H

#include "data/augment.h"
#include "data/dataset.h"
#include "train/cls_eval.h"
#include "train/det_crops.h"
#include "train/trainer.h"

#define MAX_EPOCHS 1000

/* One phase's curves. */
typedef struct {
    int n_epochs;
    double train_loss[MAX_EPOCHS], train_acc[MAX_EPOCHS];
    double val_loss[MAX_EPOCHS], val_acc[MAX_EPOCHS];
    double seconds[MAX_EPOCHS];
    int best_epoch; /* 1-based within the phase */
    double lr;
} phase_log;

/* Figures of one evaluated set, as written to the report. */
typedef struct {
    const char *name;
    int by_width;
    fm_cls_eval e;
} set_result;

/* Everything report.json and report.svg say about a finished run. */
typedef struct {
    const fm_train_opts *o;
    int input_size, threads, variants;
    const fm_aug_params *aug;              /* NULL: no augmentation */
    const fm_dataset *train, *val, *cls_test, *voc_test; /* voc_test may be NULL */
    const fm_det_crops_stats *crops;       /* NULL: scene faces at the annotated boxes */
    int unreadable_skipped;
    float class_weights[2];
    const phase_log *p1, *p2;
    const char *phase2_from;               /* "none" without a phase 2 */
    const set_result *r_val, *r_test, *r_voc; /* r_voc may be NULL */
    double feature_cache_s, train_s, wall_s, peak_mb;
} fm_train_report;

/* Prints one set's line (and its widths) to stdout. */
void fm_train_print_set(const set_result *r);
/* Writes <out>/report.json and <out>/report.svg. */
fm_status fm_train_write_report(const fm_train_report *r, fm_err *err);

#endif
