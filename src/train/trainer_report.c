/* trainer_report.c - `facemask train`'s report: the figures printed per set, report.json
 * and report.svg (train/trainer_int.h). */
#include <stdio.h>
#include <string.h>

#include "eval/metrics.h"
#include "eval/report.h"
#include "train/trainer_int.h"

void fm_train_print_set(const set_result *r)
{
    fm_class_stats m = fm_confusion_class(&r->e.cm, 0), u = fm_confusion_class(&r->e.cm, 1);
    printf("%-28s faces %5lld  accuracy %.4f  mask P/R %.4f/%.4f  no_mask P/R %.4f/%.4f  AUC %.4f\n",
           r->name, fm_confusion_total(&r->e.cm), fm_confusion_accuracy(&r->e.cm), m.precision,
           m.recall, u.precision, u.recall, r->e.auc);
    for (int b = 0; r->by_width && b < FM_CLS_WIDTH_BUCKETS; b++) {
        if (r->e.by_width[b].n == 0)
            continue;
        char label[32];
        fm_bucket_label(&r->e.by_width[b], label, sizeof label);
        printf("    width %-8s faces %5lld  accuracy %.4f\n", label, r->e.by_width[b].n,
               r->e.by_width[b].accuracy);
    }
}

static void json_set(fm_jsonw *j, const set_result *r)
{
    static const char *names[2] = {"mask", "no_mask"};
    fm_jsonw_key(j, r->name);
    fm_jsonw_object_begin(j);
    fm_jsonw_key(j, "samples");
    fm_jsonw_int(j, r->e.samples);
    fm_jsonw_key(j, "skipped");
    fm_jsonw_int(j, r->e.skipped);
    fm_jsonw_key(j, "accuracy");
    fm_jsonw_double(j, fm_confusion_accuracy(&r->e.cm));
    fm_jsonw_key(j, "roc_auc");
    fm_jsonw_double(j, r->e.auc);
    fm_jsonw_key(j, "confusion");
    fm_jsonw_confusion(j, &r->e.cm, names);
    if (r->by_width) {
        fm_jsonw_key(j, "by_face_width");
        fm_jsonw_array_begin(j);
        for (int b = 0; b < FM_CLS_WIDTH_BUCKETS; b++) {
            char label[32];
            fm_bucket_label(&r->e.by_width[b], label, sizeof label);
            fm_jsonw_object_begin(j);
            fm_jsonw_key(j, "width_px");
            fm_jsonw_string(j, label);
            fm_jsonw_key(j, "faces");
            fm_jsonw_int(j, r->e.by_width[b].n);
            fm_jsonw_key(j, "accuracy");
            fm_jsonw_double(j, r->e.by_width[b].accuracy);
            fm_jsonw_object_end(j);
        }
        fm_jsonw_array_end(j);
    }
    fm_jsonw_object_end(j);
}

static void json_phase(fm_jsonw *j, const char *key, const phase_log *p, const char *trainable)
{
    fm_jsonw_key(j, key);
    fm_jsonw_object_begin(j);
    fm_jsonw_key(j, "trainable_from");
    fm_jsonw_string(j, trainable);
    fm_jsonw_key(j, "learning_rate");
    fm_jsonw_float(j, (float)p->lr);
    fm_jsonw_key(j, "epochs_run");
    fm_jsonw_int(j, p->n_epochs);
    fm_jsonw_key(j, "best_epoch");
    fm_jsonw_int(j, p->best_epoch);
    fm_jsonw_key(j, "train_loss");
    fm_jsonw_doubles(j, p->train_loss, (size_t)p->n_epochs);
    fm_jsonw_key(j, "train_accuracy");
    fm_jsonw_doubles(j, p->train_acc, (size_t)p->n_epochs);
    fm_jsonw_key(j, "val_loss");
    fm_jsonw_doubles(j, p->val_loss, (size_t)p->n_epochs);
    fm_jsonw_key(j, "val_accuracy");
    fm_jsonw_doubles(j, p->val_acc, (size_t)p->n_epochs);
    fm_jsonw_key(j, "epoch_seconds");
    fm_jsonw_doubles(j, p->seconds, (size_t)p->n_epochs);
    fm_jsonw_object_end(j);
}

static void json_counts(fm_jsonw *j, const char *key, const fm_dataset *ds)
{
    int counts[FM_DATASET_MAX_CLASSES > 16 ? 16 : FM_DATASET_MAX_CLASSES] = {0};
    if (ds->n_classes <= 16)
        fm_dataset_count(ds, counts);
    fm_jsonw_key(j, key);
    fm_jsonw_object_begin(j);
    for (int c = 0; c < ds->n_classes && c < 16; c++) {
        fm_jsonw_key(j, ds->classes[c]);
        fm_jsonw_int(j, counts[c]);
    }
    fm_jsonw_object_end(j);
}

fm_status fm_train_write_report(const fm_train_report *r, fm_err *err)
{
    /* report.json */
    char path[4096];
    snprintf(path, sizeof path, "%s/report.json", r->o->out_dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot write", path);
    fm_jsonw j;
    fm_jsonw_init(&j, f, 2);
    fm_jsonw_object_begin(&j);
    fm_jsonw_key(&j, "command");
    fm_jsonw_string(&j, r->o->command ? r->o->command : "");
    fm_jsonw_key(&j, "seed");
    fm_jsonw_int(&j, (long long)r->o->seed);
    fm_jsonw_key(&j, "input_size");
    fm_jsonw_int(&j, r->input_size);
    fm_jsonw_key(&j, "threads");
    fm_jsonw_int(&j, r->threads);
    fm_jsonw_key(&j, "batch");
    fm_jsonw_int(&j, r->o->batch);
    fm_jsonw_key(&j, "crop");
    fm_jsonw_object_begin(&j);
    fm_jsonw_key(&j, "margin");
    fm_jsonw_float(&j, r->o->margin);
    fm_jsonw_key(&j, "square");
    fm_jsonw_bool(&j, r->o->square);
    fm_jsonw_object_end(&j);
    fm_jsonw_key(&j, "flip_average");
    fm_jsonw_bool(&j, r->o->flip_average);
    fm_jsonw_key(&j, "augmentation");
    fm_jsonw_object_begin(&j);
    fm_jsonw_key(&j, "variants_cached");
    fm_jsonw_int(&j, r->variants);
    fm_jsonw_key(&j, "rotation_deg");
    fm_jsonw_float(&j, r->aug ? r->aug->rotation_deg : 0);
    fm_jsonw_key(&j, "zoom");
    fm_jsonw_float(&j, r->aug ? r->aug->zoom : 0);
    fm_jsonw_key(&j, "shift");
    fm_jsonw_float(&j, r->aug ? r->aug->width_shift : 0);
    fm_jsonw_key(&j, "shear_deg");
    fm_jsonw_float(&j, r->aug ? r->aug->shear_deg : 0);
    fm_jsonw_key(&j, "hflip");
    fm_jsonw_bool(&j, r->aug ? r->aug->hflip : 0);
    fm_jsonw_key(&j, "brightness");
    fm_jsonw_float(&j, r->aug ? r->aug->brightness : 0);
    fm_jsonw_key(&j, "contrast");
    fm_jsonw_float(&j, r->aug ? r->aug->contrast : 0);
    fm_jsonw_key(&j, "lowres_prob");
    fm_jsonw_float(&j, r->aug ? r->aug->lowres_prob : 0);
    fm_jsonw_key(&j, "lowres_min_px");
    fm_jsonw_int(&j, r->aug ? r->aug->lowres_min : 0);
    fm_jsonw_key(&j, "lowres_max_px");
    fm_jsonw_int(&j, r->aug ? r->aug->lowres_max : 0);
    fm_jsonw_object_end(&j);
    fm_jsonw_key(&j, "data");
    fm_jsonw_object_begin(&j);
    fm_jsonw_key(&j, "folders");
    fm_jsonw_string(&j, r->o->data_dir);
    fm_jsonw_key(&j, "scenes");
    fm_jsonw_string(&j, r->o->voc_dir);
    fm_jsonw_key(&j, "scene_train_fraction");
    fm_jsonw_float(&j, r->o->voc_dir ? r->o->voc_train_fraction : 0);
    if (r->o->voc_dir && r->o->voc_skip_lo < r->o->voc_skip_hi) {
        fm_jsonw_key(&j, "scene_development_fold");
        fm_jsonw_array_begin(&j);
        fm_jsonw_float(&j, r->o->voc_skip_lo);
        fm_jsonw_float(&j, r->o->voc_skip_hi);
        fm_jsonw_array_end(&j);
    }
    fm_jsonw_key(&j, "scene_min_width_px");
    fm_jsonw_int(&j, r->o->voc_min_width);
    fm_jsonw_key(&j, "scene_crops");
    fm_jsonw_object_begin(&j);
    fm_jsonw_key(&j, "from");
    fm_jsonw_string(&j, r->o->crops_from ? r->o->crops_from : "annotations");
    if (r->crops) {
        fm_jsonw_key(&j, "detector_conf");
        fm_jsonw_float(&j, r->o->crops_conf);
        fm_jsonw_key(&j, "match_iou");
        fm_jsonw_double(&j, FM_DET_CROPS_IOU);
        fm_jsonw_key(&j, "images");
        fm_jsonw_int(&j, r->crops->images);
        fm_jsonw_key(&j, "unreadable_images");
        fm_jsonw_int(&j, r->crops->unreadable);
        fm_jsonw_key(&j, "faces");
        fm_jsonw_int(&j, r->crops->faces);
        fm_jsonw_key(&j, "boxes");
        fm_jsonw_int(&j, r->crops->detections);
        fm_jsonw_key(&j, "matched");
        fm_jsonw_int(&j, r->crops->matched);
        fm_jsonw_key(&j, "unmatched");
        fm_jsonw_int(&j, r->crops->unmatched);
        fm_jsonw_key(&j, "on_incorrectly_worn");
        fm_jsonw_int(&j, r->crops->ignored);
        fm_jsonw_key(&j, "on_too_small");
        fm_jsonw_int(&j, r->crops->too_small);
    }
    fm_jsonw_object_end(&j);
    json_counts(&j, "train", r->train);
    json_counts(&j, "validation", r->val);
    json_counts(&j, "held_out_folder_images", r->cls_test);
    if (r->voc_test)
        json_counts(&j, "held_out_scene_faces_16px", r->voc_test);
    fm_jsonw_key(&j, "unreadable_skipped");
    fm_jsonw_int(&j, r->unreadable_skipped);
    fm_jsonw_object_end(&j);
    fm_jsonw_key(&j, "class_weights");
    fm_jsonw_array_begin(&j);
    fm_jsonw_float(&j, r->class_weights[0]);
    fm_jsonw_float(&j, r->class_weights[1]);
    fm_jsonw_array_end(&j);
    json_phase(&j, "phase1", r->p1, "fc1");
    json_phase(&j, "phase2", r->p2, r->phase2_from);
    fm_jsonw_key(&j, "results");
    fm_jsonw_object_begin(&j);
    json_set(&j, r->r_val);
    json_set(&j, r->r_test);
    if (r->r_voc)
        json_set(&j, r->r_voc);
    fm_jsonw_object_end(&j);
    fm_jsonw_key(&j, "feature_cache_seconds");
    fm_jsonw_double(&j, r->feature_cache_s);
    fm_jsonw_key(&j, "training_seconds");
    fm_jsonw_double(&j, r->train_s);
    fm_jsonw_key(&j, "wall_seconds");
    fm_jsonw_double(&j, r->wall_s);
    fm_jsonw_key(&j, "peak_memory_mb");
    fm_jsonw_double(&j, r->peak_mb);
    fm_jsonw_object_end(&j);
    fm_status st = fm_jsonw_finish(&j, err);
    fputc('\n', f);
    if (fclose(f) != 0 && st == FM_OK)
        st = fm_err_set(err, FM_ERR_IO, "%s: write failed", path);
    if (st != FM_OK)
        return st;

    /* report.svg */
    {
        static double tl[2 * MAX_EPOCHS], vl[2 * MAX_EPOCHS], ta[2 * MAX_EPOCHS], va[2 * MAX_EPOCHS];
        int n = 0;
        for (int e = 0; e < r->p1->n_epochs; e++, n++) {
            tl[n] = r->p1->train_loss[e];
            vl[n] = r->p1->val_loss[e];
            ta[n] = r->p1->train_acc[e];
            va[n] = r->p1->val_acc[e];
        }
        for (int e = 0; e < r->p2->n_epochs; e++, n++) {
            tl[n] = r->p2->train_loss[e];
            vl[n] = r->p2->val_loss[e];
            ta[n] = r->p2->train_acc[e];
            va[n] = r->p2->val_acc[e];
        }
        fm_svg_curves curves = {n, tl, vl, ta, va, r->p2->n_epochs ? r->p1->n_epochs + 1 : 0,
                                r->p2->n_epochs ? r->p1->n_epochs + r->p2->best_epoch : r->p1->best_epoch};
        static const char *names[2] = {"mask", "no_mask"};
        const set_result *shown = r->r_voc ? r->r_voc : r->r_test;
        char cells[6][4][32];
        const char *cellp[24];
        const set_result *sets[3] = {r->r_val, r->r_test, r->r_voc};
        const char *labels_row[3] = {"validation", "held-out folder images",
                                     "held-out scene faces >= 16 px"};
        int rows = 1;
        snprintf(cells[0][0], 32, "set");
        snprintf(cells[0][1], 32, "accuracy");
        snprintf(cells[0][2], 32, "no-mask recall");
        snprintf(cells[0][3], 32, "faces");
        for (int s = 0; s < 3; s++) {
            if (!sets[s])
                continue;
            snprintf(cells[rows][0], 32, "%s", labels_row[s]);
            snprintf(cells[rows][1], 32, "%.4f", fm_confusion_accuracy(&sets[s]->e.cm));
            snprintf(cells[rows][2], 32, "%.4f", fm_confusion_class(&sets[s]->e.cm, 1).recall);
            snprintf(cells[rows][3], 32, "%lld", fm_confusion_total(&sets[s]->e.cm));
            rows++;
        }
        for (int row = 0; row < rows; row++)
            for (int c = 0; c < 4; c++)
                cellp[row * 4 + c] = cells[row][c];
        fm_svg_table table = {rows, 4, cellp, "Results of the saved model"};
        char title[128];
        snprintf(title, sizeof title, "facemask mask classifier, %dx%d input", r->input_size,
                 r->input_size);
        fm_svg_report svg = {title, &curves, &shown->e.cm, names,
                             r->r_voc ? "Held-out scene faces >= 16 px" : "Held-out folder images",
                             &table};
        snprintf(path, sizeof path, "%s/report.svg", r->o->out_dir);
        return fm_svg_save(path, &svg, err);
    }
}
