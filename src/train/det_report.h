/* det_report.h - report.json and report.svg of a detector fine-tuning run (det_trainer.h).
 *
 * report.json: the command, settings, data counts, per-epoch losses, the best epoch, time and
 * peak memory, and the held-out figures (det_eval.h) of the fine-tuned model and of the model
 * it started from. report.svg: the loss curves (training and validation, per positive) with
 * the best epoch marked, and a table of the held-out figures of both models.
 *
 *     fm_det_report r = {...};
 *     fm_det_report_write("models/detector", &r, &err);
 */
#ifndef FM_DET_REPORT_H
#define FM_DET_REPORT_H

#include <stdint.h>

#include "core/err.h"
#include "train/det_eval.h"

typedef struct {
    const char *command, *voc_dir, *model_path;
    uint64_t seed;
    int input_size, batch, threads;
    float lr, weight_decay;
    int unmasked_repeat;                 /* fm_det_train_opts' */
    int n_epochs, best_epoch;            /* epochs run; the one whose weights were kept */
    const double *train_loss, *val_loss; /* n_epochs each, per positive */
    const double *epoch_seconds;
    int train_images, val_images, held_out_images, skipped;
    long long train_faces, val_faces, held_out_faces;
    int frozen_layers;
    const fm_det_eval *tuned, *source; /* held-out figures; NULL when not evaluated */
    float conf;
    double training_seconds, wall_seconds, peak_memory_mb;
} fm_det_report;

/* Writes dir/report.json and dir/report.svg. */
fm_status fm_det_report_write(const char *dir, const fm_det_report *r, fm_err *err);

#endif
