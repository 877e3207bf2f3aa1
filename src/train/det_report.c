/* det_report.c - the detector trainer's report.json and report.svg (det_report.h). */
#include "train/det_report.h"

#include <stdio.h>

#include "eval/report.h"

static const char *const g_widths[FM_DET_EVAL_WIDTHS] = {"0-16", "16-32", "32-64", "64+"};
static const char *const g_labels[FM_DET_EVAL_LABELS] = {"with_mask", "without_mask",
                                                         "mask_weared_incorrect"};

static void json_eval(fm_jsonw *j, const char *key, const fm_det_eval *e)
{
    fm_jsonw_key(j, key);
    if (!e) {
        fm_jsonw_null(j);
        return;
    }
    fm_jsonw_object_begin(j);
    fm_jsonw_key(j, "images");
    fm_jsonw_int(j, e->images);
    fm_jsonw_key(j, "skipped");
    fm_jsonw_int(j, e->skipped);
    fm_jsonw_key(j, "faces");
    fm_jsonw_int(j, e->faces);
    fm_jsonw_key(j, "face_ap50");
    fm_jsonw_double(j, e->ap);
    fm_jsonw_key(j, "recall");
    fm_jsonw_double(j, e->recall);
    fm_jsonw_key(j, "recall_by_width_px");
    fm_jsonw_object_begin(j);
    for (int b = 0; b < FM_DET_EVAL_WIDTHS; b++) {
        fm_jsonw_key(j, g_widths[b]);
        fm_jsonw_object_begin(j);
        fm_jsonw_key(j, "recall");
        fm_jsonw_double(j, fm_det_eval_ratio(e->w_found[b], e->w_total[b]));
        fm_jsonw_key(j, "faces");
        fm_jsonw_int(j, e->w_total[b]);
        fm_jsonw_object_end(j);
    }
    fm_jsonw_object_end(j);
    fm_jsonw_key(j, "recall_by_label");
    fm_jsonw_object_begin(j);
    for (int b = 0; b < FM_DET_EVAL_LABELS; b++) {
        fm_jsonw_key(j, g_labels[b]);
        fm_jsonw_object_begin(j);
        fm_jsonw_key(j, "recall");
        fm_jsonw_double(j, fm_det_eval_ratio(e->l_found[b], e->l_total[b]));
        fm_jsonw_key(j, "faces");
        fm_jsonw_int(j, e->l_total[b]);
        fm_jsonw_object_end(j);
    }
    fm_jsonw_object_end(j);
    fm_jsonw_object_end(j);
}

static fm_status write_json(const char *path, const fm_det_report *r, fm_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot write", path);
    fm_jsonw j;
    fm_jsonw_init(&j, f, 2);
    fm_jsonw_object_begin(&j);
    fm_jsonw_key(&j, "command");
    fm_jsonw_string(&j, r->command ? r->command : "");
    fm_jsonw_key(&j, "voc");
    fm_jsonw_string(&j, r->voc_dir);
    fm_jsonw_key(&j, "source_model");
    fm_jsonw_string(&j, r->model_path);
    fm_jsonw_key(&j, "seed");
    fm_jsonw_int(&j, (long long)r->seed);
    fm_jsonw_key(&j, "input_size");
    fm_jsonw_int(&j, r->input_size);
    fm_jsonw_key(&j, "batch");
    fm_jsonw_int(&j, r->batch);
    fm_jsonw_key(&j, "threads");
    fm_jsonw_int(&j, r->threads);
    fm_jsonw_key(&j, "optimizer");
    fm_jsonw_object_begin(&j);
    fm_jsonw_key(&j, "kind");
    fm_jsonw_string(&j, "adam");
    fm_jsonw_key(&j, "lr");
    fm_jsonw_float(&j, r->lr);
    fm_jsonw_key(&j, "weight_decay");
    fm_jsonw_float(&j, r->weight_decay);
    fm_jsonw_object_end(&j);
    fm_jsonw_key(&j, "unmasked_repeat");
    fm_jsonw_int(&j, r->unmasked_repeat);
    fm_jsonw_key(&j, "frozen_landmark_layers");
    fm_jsonw_int(&j, r->frozen_layers);
    fm_jsonw_key(&j, "data");
    fm_jsonw_object_begin(&j);
    fm_jsonw_key(&j, "train_images");
    fm_jsonw_int(&j, r->train_images);
    fm_jsonw_key(&j, "train_faces");
    fm_jsonw_int(&j, r->train_faces);
    fm_jsonw_key(&j, "validation_images");
    fm_jsonw_int(&j, r->val_images);
    fm_jsonw_key(&j, "validation_faces");
    fm_jsonw_int(&j, r->val_faces);
    fm_jsonw_key(&j, "held_out_images");
    fm_jsonw_int(&j, r->held_out_images);
    fm_jsonw_key(&j, "held_out_faces");
    fm_jsonw_int(&j, r->held_out_faces);
    fm_jsonw_key(&j, "unreadable_skipped");
    fm_jsonw_int(&j, r->skipped);
    fm_jsonw_object_end(&j);
    fm_jsonw_key(&j, "epochs");
    fm_jsonw_int(&j, r->n_epochs);
    fm_jsonw_key(&j, "best_epoch");
    fm_jsonw_int(&j, r->best_epoch);
    fm_jsonw_key(&j, "train_loss");
    fm_jsonw_doubles(&j, r->train_loss, (size_t)r->n_epochs);
    fm_jsonw_key(&j, "val_loss");
    fm_jsonw_doubles(&j, r->val_loss, (size_t)r->n_epochs);
    fm_jsonw_key(&j, "epoch_seconds");
    fm_jsonw_doubles(&j, r->epoch_seconds, (size_t)r->n_epochs);
    fm_jsonw_key(&j, "eval_conf");
    fm_jsonw_float(&j, r->conf);
    fm_jsonw_key(&j, "held_out");
    fm_jsonw_object_begin(&j);
    json_eval(&j, "fine_tuned", r->tuned);
    json_eval(&j, "source", r->source);
    fm_jsonw_object_end(&j);
    fm_jsonw_key(&j, "training_seconds");
    fm_jsonw_double(&j, r->training_seconds);
    fm_jsonw_key(&j, "wall_seconds");
    fm_jsonw_double(&j, r->wall_seconds);
    fm_jsonw_key(&j, "peak_memory_mb");
    fm_jsonw_double(&j, r->peak_memory_mb);
    fm_jsonw_object_end(&j);
    fm_status st = fm_jsonw_finish(&j, err);
    if (fclose(f) != 0 && st == FM_OK)
        st = fm_err_set(err, FM_ERR_IO, "%s: write failed", path);
    return st;
}

#define COLS 10

/* One table row of a model's held-out figures. */
static void table_row(char (*cells)[24], const char *name, const fm_det_eval *e)
{
    snprintf(cells[0], 24, "%s", name);
    snprintf(cells[1], 24, "%.3f", e->ap);
    snprintf(cells[2], 24, "%.3f", e->recall);
    for (int b = 0; b < FM_DET_EVAL_WIDTHS; b++)
        snprintf(cells[3 + b], 24, "%.3f", fm_det_eval_ratio(e->w_found[b], e->w_total[b]));
    snprintf(cells[7], 24, "%.3f", fm_det_eval_ratio(e->l_found[0], e->l_total[0]));
    snprintf(cells[8], 24, "%.3f", fm_det_eval_ratio(e->l_found[1], e->l_total[1]));
    snprintf(cells[9], 24, "%lld", e->faces);
}

static fm_status write_svg(const char *path, const fm_det_report *r, fm_err *err)
{
    static const char *const head[COLS] = {"model", "face AP", "recall", "w 0-16", "w 16-32",
                                           "w 32-64", "w 64+", "masked", "unmasked", "faces"};
    char cells[3][COLS][24];
    const char *cellp[3 * COLS];
    int rows = 1;
    for (int c = 0; c < COLS; c++)
        snprintf(cells[0][c], 24, "%s", head[c]);
    if (r->tuned)
        table_row(cells[rows++], "fine-tuned", r->tuned);
    if (r->source)
        table_row(cells[rows++], "source", r->source);
    for (int i = 0; i < rows; i++)
        for (int c = 0; c < COLS; c++)
            cellp[i * COLS + c] = cells[i][c];
    char title[96];
    snprintf(title, sizeof title, "Held-out half: recall at score >= %.2f, IoU 0.5", r->conf);
    fm_svg_table table = {rows, COLS, cellp, title};
    fm_svg_curves cv = {r->n_epochs, r->train_loss, r->val_loss, NULL, NULL, 0, r->best_epoch};
    char heading[128];
    snprintf(heading, sizeof heading, "facemask detector fine-tuning, %dx%d (loss per positive)",
             r->input_size, r->input_size);
    fm_svg_report rep = {heading, &cv, NULL, NULL, NULL, rows > 1 ? &table : NULL};
    return fm_svg_save(path, &rep, err);
}

fm_status fm_det_report_write(const char *dir, const fm_det_report *r, fm_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/report.json", dir);
    fm_status st = write_json(path, r, err);
    if (st != FM_OK)
        return st;
    snprintf(path, sizeof path, "%s/report.svg", dir);
    return write_svg(path, r, err);
}
