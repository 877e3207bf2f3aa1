/* facemask eval: honest numbers for the classifier and for detection + classification.
 *   --data DIR  folder-per-class face crops: accuracy, precision / recall / F1 per class,
 *               confusion matrix, ROC AUC;
 *   --voc DIR   scene photos with PASCAL VOC boxes: the classifier on the annotated faces
 *               >= 16 px (by face width), then detect + classify end to end: AP at IoU 0.5
 *               for mask and no_mask, their mean, and face recall. Boxes labelled
 *               mask_weared_incorrect are ignore regions; and the classifier's label
 *               accuracy on the faces the detector found (matched at IoU 0.5), by width,
 *               with no-mask recall. Images the classifier was trained on (its
 *               trained_on.txt) are left out unless --all-images. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "data/voc.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "face/classifier.h"
#include "face/detector.h"
#include "train/trainer.h"

enum {
    O_DATA = 256, O_VOC, O_CLASSIFIER, O_CONF, O_ALL_IMAGES, O_MIN_WIDTH, O_DETECTOR, O_DET_SIZE,
    O_JSON
};

static const fm_opt eval_opts[] = {
    {"data", O_DATA, "DIR", "one folder per class of face crops, one of them named as the classifier's mask class (with_mask)"},
    {"voc", O_VOC, "DIR", "scenes: images/*.jpg with annotations/*.xml (PASCAL VOC)"},
    {"classifier", O_CLASSIFIER, "DIR", "the mask classifier (default <models>/mask)"},
    {"conf", O_CONF, "F", "--voc: detector threshold for the end-to-end AP (0..1, default 0.2)"},
    {"all-images", O_ALL_IMAGES, NULL, "--voc: also use the scene images the classifier was trained on"},
    {"min-width", O_MIN_WIDTH, "PX", "--voc: classify annotated faces at least PX wide (default 16)"},
    {"detector", O_DETECTOR, "D", "the face detector: tuned (default, the fine-tuned YuNet-n), yunet (stock YuNet-n), res10, or a YuNet-layout .onnx"},
    {"det-size", O_DET_SIZE, "S",
     "YuNet: the long side images are scaled to (default 640, one number); "
     "res10: run at S x S (or WxH) instead of 300x300"},
    {"threads", 'j', "N", "threads (1..64, default 2)"},
    {"model-dir", 'm', "DIR", FM_MODEL_DIR_HELP},
    {"json", O_JSON, NULL, "all figures as one JSON object on stdout"},
    {"quiet", 'q', NULL, "no progress line on stderr (errors are still printed)"},
    {NULL, 0, NULL, NULL}};

const fm_cmd_spec fm_eval_spec = {
    "eval",
    "eval --data DIR [OPTIONS]\neval --voc DIR [OPTIONS]",
    "--data: accuracy, precision, recall and F1 per class, the confusion matrix and ROC "
    "AUC of the classifier on folder-per-class face crops.\n"
    "--voc: the classifier on the annotated faces by face width, then detection + "
    "classification end to end: AP at IoU 0.5 for mask and no_mask, their mean, and face "
    "recall. Boxes labelled mask_weared_incorrect are ignore regions; images the "
    "classifier was trained on (its trained_on.txt) are left out unless --all-images.",
    eval_opts,
    "On a terminal, a progress line on stderr shows each stage's count, rate and time left."};

/* Names of images listed in <classifier>/trained_on.txt (one per line, # comments). */
typedef struct {
    char **names;
    int n;
} name_set;

static void read_names(const char *path, name_set *s)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    int cap = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        if (s->n == cap) {
            cap = cap ? cap * 2 : 256;
            char **nn = realloc(s->names, (size_t)cap * sizeof *nn);
            if (!nn)
                break;
            s->names = nn;
        }
        s->names[s->n] = malloc(strlen(line) + 1);
        if (!s->names[s->n])
            break;
        strcpy(s->names[s->n++], line);
    }
    fclose(f);
}

static int in_set(const name_set *s, const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->names[i], b) == 0)
            return 1;
    return 0;
}

static void free_names(name_set *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
}

static void print_confusion(const fm_confusion *cm, const char *const *names)
{
    printf("  confusion (rows true, columns predicted):\n    %-10s", "");
    for (int c = 0; c < cm->n_classes; c++)
        printf(" %10s", names[c]);
    printf("\n");
    for (int r = 0; r < cm->n_classes; r++) {
        printf("    %-10s", names[r]);
        for (int c = 0; c < cm->n_classes; c++)
            printf(" %10lld", cm->counts[r][c]);
        printf("\n");
    }
}

static void print_classes(const fm_confusion *cm, double auc, const char *const *names)
{
    printf("  samples %lld, accuracy %.4f, ROC AUC %.4f\n", fm_confusion_total(cm),
           fm_confusion_accuracy(cm), auc);
    for (int c = 0; c < 2; c++) {
        fm_class_stats s = fm_confusion_class(cm, c);
        printf("  %-8s precision %.4f  recall %.4f  F1 %.4f  support %lld\n", names[c],
               s.precision, s.recall, s.f1, s.support);
    }
    print_confusion(cm, names);
}

/* The classifier's labels on the faces the detector found: each detection matched to a
 * with_mask / without_mask face (fm_eval_match_image, IoU 0.5) is counted, its label against
 * the face's, with the face's annotated width. */
typedef struct {
    fm_confusion cm; /* rows the face's label, columns the detection's */
    double *width;   /* per matched face */
    int *correct;
    size_t n, cap;
} matched_faces;

static fm_status count_matched(const fm_eval_image *im, matched_faces *mf)
{
    int *det_gt = malloc((im->n_det + 1) * sizeof *det_gt);
    fm_err err = {0};
    if (!det_gt || fm_eval_match_image(im, 0.5, det_gt, &err) != FM_OK) {
        free(det_gt);
        fm_log(FM_LOG_ERROR, "matching faces: %s", det_gt ? err.msg : "out of memory");
        return FM_ERR_NOMEM;
    }
    for (size_t k = 0; k < im->n_det; k++) {
        if (det_gt[k] < 0)
            continue;
        const fm_eval_gt *g = &im->gt[det_gt[k]];
        if (mf->n == mf->cap) {
            size_t cap = mf->cap ? mf->cap * 2 : 1024;
            double *w = realloc(mf->width, cap * sizeof *w);
            if (w)
                mf->width = w;
            int *c = w ? realloc(mf->correct, cap * sizeof *c) : NULL;
            if (!c) {
                free(det_gt);
                fm_log(FM_LOG_ERROR, "out of memory counting matched faces");
                return FM_ERR_NOMEM;
            }
            mf->correct = c;
            mf->cap = cap;
        }
        fm_confusion_add(&mf->cm, g->cls, im->det[k].cls, NULL);
        mf->width[mf->n] = g->box.x2 - g->box.x1;
        mf->correct[mf->n] = g->cls == im->det[k].cls;
        mf->n++;
    }
    free(det_gt);
    return FM_OK;
}

static void json_classes(fm_jsonw *j, const fm_confusion *cm, double auc, const char *const *names)
{
    fm_jsonw_key(j, "accuracy");
    fm_jsonw_double(j, fm_confusion_accuracy(cm));
    fm_jsonw_key(j, "roc_auc");
    fm_jsonw_double(j, auc);
    fm_jsonw_key(j, "confusion");
    fm_jsonw_confusion(j, cm, names);
}

int fm_cmd_eval(int argc, char **argv)
{
    const fm_cmd_spec *spec = &fm_eval_spec;
    const char *data = NULL, *voc = NULL, *cls_dir = NULL, *model_dir = NULL;
    int threads = 2, json = 0, all_images = 0, min_width = 16, det_w = 0, det_h = 0, quiet = 0;
    const char *detector = NULL;
    float conf = 0.2f;
    fm_args args;
    fm_args_init(&args, spec, argc, argv);
    const char *val;
    for (int k; (k = fm_args_next(&args, &val)) != FM_ARGS_END;) {
        const char *v = val;
        switch (k) {
        case FM_ARGS_HELP: return 0;
        case FM_ARGS_ERROR: return 2;
        case O_DATA: data = v; break;
        case O_VOC: voc = v; break;
        case O_CLASSIFIER: cls_dir = v; break;
        case 'm': model_dir = v; break;
        case O_DETECTOR: detector = v; break;
        case O_JSON: json = 1; break;
        case O_ALL_IMAGES: all_images = 1; break;
        case 'q': quiet = 1; break;
        case 'j':
            if (!fm_parse_int("--threads", v, 1, 64, &threads))
                return fm_try_help(spec);
            break;
        case O_DET_SIZE:
            if (!fm_parse_det_size("--det-size", v, &det_w, &det_h))
                return fm_try_help(spec);
            break;
        case O_MIN_WIDTH:
            if (!fm_parse_int("--min-width", v, 0, 100000, &min_width))
                return fm_try_help(spec);
            break;
        case O_CONF:
            if (!fm_parse_float("--conf", v, 0.0f, 1.0f, &conf))
                return fm_try_help(spec);
            break;
        }
    }
    if (args.operand < argc)
        return fm_usage_error(spec, "unexpected argument '%s'", argv[args.operand]);
    if (!data == !voc)
        return fm_usage_error(spec, "give exactly one of --data DIR or --voc DIR");
    if (quiet)
        fm_log_set_level(FM_LOG_ERROR);
    fm_progress prog;
    char mdir[4096], cdir[4200], path[4300];
    fm_models_dir(model_dir, mdir, sizeof mdir);
    fm_classifier_dir(cls_dir, mdir, cdir, sizeof cdir);
    fm_err err = {0};
    snprintf(path, sizeof path, "%s/classifier.cfg", cdir);
    fm_classifier_cfg cfg;
    if (fm_classifier_cfg_read(path, &cfg, &err) != FM_OK) {
        fm_log(FM_LOG_ERROR, "%s", err.msg);
        return 1;
    }
    static const char *names[2] = {"mask", "no_mask"};
    fm_jsonw j;
    fm_jsonw_init(&j, stdout, 2);
    if (json) {
        fm_jsonw_object_begin(&j);
        fm_jsonw_key(&j, "classifier");
        fm_jsonw_string(&j, cdir);
    }
    int rc = 0;

    if (data) {
        fm_dataset *ds = fm_dataset_from_folders(data, &err);
        if (!ds) {
            fm_log(FM_LOG_ERROR, "%s", err.msg);
            return 1;
        }
        if (ds->skipped)
            fprintf(stderr, "facemask: %s: %d entries skipped (first: %s)\n", data, ds->skipped,
                    ds->first_skip);
        int mask_label = -1;
        for (int c = 0; c < ds->n_classes; c++)
            if (strcmp(ds->classes[c], cfg.classes[cfg.mask_class]) == 0)
                mask_label = c;
        if (ds->n_classes != 2 || mask_label < 0) {
            fprintf(stderr,
                    "facemask: %s: expected two class folders, one named '%s' (the classifier's "
                    "mask class)\n",
                    data, cfg.classes[cfg.mask_class]);
            fm_dataset_free(ds);
            return 1;
        }
        fm_cls_eval r;
        fm_progress_start(&prog, "eval", "faces", ds->n, quiet);
        fm_status est = fm_eval_classifier(cdir, ds, mask_label, threads, &r, &prog, &err);
        fm_progress_end(&prog);
        if (est != FM_OK) {
            fm_log(FM_LOG_ERROR, "%s", err.msg);
            rc = 1;
        } else if (json) {
            fm_jsonw_key(&j, "data");
            fm_jsonw_string(&j, data);
            fm_jsonw_key(&j, "skipped");
            fm_jsonw_int(&j, r.skipped);
            json_classes(&j, &r.cm, r.auc, names);
        } else {
            printf("%s (%d unreadable skipped):\n", data, r.skipped);
            print_classes(&r.cm, r.auc, names);
        }
        fm_dataset_free(ds);
    } else {
        name_set trained;
        snprintf(path, sizeof path, "%s/trained_on.txt", cdir);
        read_names(path, &trained);
        if (all_images) {
            free_names(&trained);
            memset(&trained, 0, sizeof trained);
        }
        /* A: the classifier on annotated faces */
        fm_dataset *ds = fm_dataset_from_voc(voc, min_width, &err);
        if (!ds) {
            fm_log(FM_LOG_ERROR, "%s", err.msg);
            free_names(&trained);
            return 1;
        }
        fm_dataset_drop_label(ds, FM_VOC_INCORRECT);
        int k = 0, excluded = 0;
        for (int i = 0; i < ds->n; i++) {
            if (in_set(&trained, ds->samples[i].path)) {
                free(ds->samples[i].path);
                excluded++;
            } else {
                ds->samples[k++] = ds->samples[i];
            }
        }
        ds->n = k;
        fm_cls_eval r;
        fm_progress_start(&prog, "eval: annotated faces", "faces", ds->n, quiet);
        fm_status est = fm_eval_classifier(cdir, ds, FM_VOC_WITH_MASK, threads, &r, &prog, &err);
        fm_progress_end(&prog);
        if (est != FM_OK) {
            fm_log(FM_LOG_ERROR, "%s", err.msg);
            rc = 1;
        }
        fm_dataset_free(ds);
        const fm_confusion *cmp = &r.cm;
        const fm_bucket *b = r.by_width;
        if (rc == 0 && !json) {
            printf("classifier on annotated faces >= %d px of %s (%d faces of training images "
                   "left out):\n",
                   min_width, voc, excluded);
            print_classes(cmp, r.auc, names);
            for (int q = 0; q < FM_CLS_WIDTH_BUCKETS; q++) {
                if (b[q].n == 0) /* below --min-width */
                    continue;
                char label[32];
                fm_bucket_label(&b[q], label, sizeof label);
                printf("  width %-8s faces %5lld  accuracy %.4f\n", label, b[q].n, b[q].accuracy);
            }
        } else if (rc == 0) {
            fm_jsonw_key(&j, "voc");
            fm_jsonw_string(&j, voc);
            fm_jsonw_key(&j, "annotated_faces");
            fm_jsonw_object_begin(&j);
            fm_jsonw_key(&j, "min_width_px");
            fm_jsonw_int(&j, min_width);
            fm_jsonw_key(&j, "excluded_training_faces");
            fm_jsonw_int(&j, excluded);
            json_classes(&j, cmp, r.auc, names);
            fm_jsonw_key(&j, "by_face_width");
            fm_jsonw_array_begin(&j);
            for (int q = 0; q < FM_CLS_WIDTH_BUCKETS; q++) {
                char label[32];
                fm_bucket_label(&b[q], label, sizeof label);
                fm_jsonw_object_begin(&j);
                fm_jsonw_key(&j, "width_px");
                fm_jsonw_string(&j, label);
                fm_jsonw_key(&j, "faces");
                fm_jsonw_int(&j, b[q].n);
                fm_jsonw_key(&j, "accuracy");
                fm_jsonw_double(&j, b[q].accuracy);
                fm_jsonw_object_end(&j);
            }
            fm_jsonw_array_end(&j);
            fm_jsonw_object_end(&j);
        }

        /* A2: how masks worn below the nose (mask_weared_incorrect) are labelled; they are
         * neither right nor wrong for the figures above, but a user wants to know */
        fm_dataset *inc = rc == 0 ? fm_dataset_from_voc(voc, min_width, &err) : NULL;
        if (inc) {
            fm_dataset_drop_label(inc, FM_VOC_WITH_MASK);
            fm_dataset_drop_label(inc, FM_VOC_WITHOUT_MASK);
            int m = 0;
            for (int i = 0; i < inc->n; i++) {
                if (in_set(&trained, inc->samples[i].path))
                    free(inc->samples[i].path);
                else
                    inc->samples[m++] = inc->samples[i];
            }
            inc->n = m;
            fm_cls_eval ri;
            if (inc->n > 0 && fm_eval_classifier(cdir, inc, FM_VOC_WITH_MASK, threads, &ri, NULL, &err) ==
                                  FM_OK) {
                long long as_mask = ri.cm.counts[1][0], total = fm_confusion_total(&ri.cm);
                if (json) {
                    fm_jsonw_key(&j, "incorrectly_worn");
                    fm_jsonw_object_begin(&j);
                    fm_jsonw_key(&j, "faces");
                    fm_jsonw_int(&j, total);
                    fm_jsonw_key(&j, "labelled_mask");
                    fm_jsonw_int(&j, as_mask);
                    fm_jsonw_object_end(&j);
                } else {
                    printf("masks worn incorrectly (mask_weared_incorrect, >= %d px; not counted "
                           "above): %lld of %lld labelled mask\n",
                           min_width, as_mask, total);
                }
            }
            fm_dataset_free(inc);
        }

        /* B: detect + classify end to end */
        fm_voc_dir vd;
        fm_net_opts no = fm_net_default_opts();
        no.threads = threads;
        fm_detector_spec dspec = {detector, mdir, det_w, det_h};
        fm_detector *det = NULL;
        fm_classifier *cls = NULL;
        fm_eval_image *imgs = NULL;
        int nimg = 0, bad = 0;
        matched_faces mf;
        memset(&mf, 0, sizeof mf);
        fm_confusion_init(&mf.cm, 2, NULL);
        if (rc == 0 && fm_voc_list(voc, &vd, &err) == FM_OK) {
            det = fm_detector_create(&dspec, &no, &err);
            cls = det ? fm_classifier_load(cdir, &no, &err) : NULL;
            imgs = calloc((size_t)vd.n + 1, sizeof *imgs);
            if (!det || !cls || !imgs) {
                fm_log(FM_LOG_ERROR, "%s", err.msg);
                rc = 1;
            }
            fm_face faces[512];
            long todo = 0, started = 0;
            for (int i = 0; i < vd.n; i++)
                todo += !in_set(&trained, vd.items[i].image);
            fm_progress_start(&prog, "eval: detect + classify", "images", todo, quiet);
            for (int i = 0; rc == 0 && i < vd.n; i++) {
                if (in_set(&trained, vd.items[i].image))
                    continue;
                fm_progress_update(&prog, started++);
                fm_voc v;
                if (fm_voc_load(vd.items[i].xml, &v, &err) != FM_OK) {
                    fm_log(FM_LOG_ERROR, "%s", err.msg);
                    bad++;
                    continue;
                }
                fm_image *img = fm_image_load(vd.items[i].image, 0, &err);
                if (!img) {
                    fm_log(FM_LOG_ERROR, "%s", err.msg);
                    fm_voc_free(&v);
                    bad++;
                    continue;
                }
                int n = fm_detector_run(det, img, conf, faces, 512, NULL);
                if (n < 0) {
                    fm_log(FM_LOG_ERROR, "%s: %s", vd.items[i].image,
                            fm_detector_error(det));
                    fm_image_free(img);
                    fm_voc_free(&v);
                    bad++;
                    continue;
                }
                fm_eval_gt *gt = calloc((size_t)v.n_objects + 1, sizeof *gt);
                n = n > 512 ? 512 : n;
                fm_eval_det *dets = calloc((size_t)n + 1, sizeof *dets);
                if (!gt || !dets) {
                    free(gt);
                    free(dets);
                    fm_image_free(img);
                    fm_voc_free(&v);
                    rc = 1;
                    break;
                }
                for (int o = 0; o < v.n_objects; o++) {
                    const fm_voc_object *ob = &v.objects[o];
                    int lab = fm_voc_label(ob->name);
                    gt[o].box = (fm_eval_box){ob->xmin, ob->ymin, ob->xmax, ob->ymax};
                    gt[o].cls = lab == FM_VOC_WITHOUT_MASK ? 1 : 0;
                    gt[o].ignore = lab != FM_VOC_WITH_MASK && lab != FM_VOC_WITHOUT_MASK;
                }
                int nd = 0;
                for (int f = 0; f < n; f++) {
                    float p;
                    fm_err cerr = {0};
                    if (fm_classifier_face(cls, img, &faces[f], &p, &cerr) != FM_OK)
                        continue; /* a box outside the image: no class, not a detection */
                    dets[nd].box = (fm_eval_box){faces[f].x1, faces[f].y1, faces[f].x2, faces[f].y2};
                    dets[nd].cls = p >= 0.5f ? 0 : 1;
                    dets[nd].score = faces[f].score * (p >= 0.5f ? p : 1 - p);
                    nd++;
                }
                imgs[nimg].gt = gt;
                imgs[nimg].n_gt = (size_t)v.n_objects;
                imgs[nimg].det = dets;
                imgs[nimg].n_det = (size_t)nd;
                if (count_matched(&imgs[nimg], &mf) != FM_OK) {
                    rc = 1;
                    break;
                }
                nimg++;
                fm_image_free(img);
                fm_voc_free(&v);
            }
            fm_progress_update(&prog, todo);
            fm_progress_end(&prog);
            fm_voc_dir_free(&vd);
        } else if (rc == 0) {
            fm_log(FM_LOG_ERROR, "%s", err.msg);
            rc = 1;
        }
        if (rc == 0) {
            fm_ap_result ap[2];
            double recall = 0;
            long long matched = 0, total = 0;
            memset(ap, 0, sizeof ap);
            for (int c = 0; c < 2; c++)
                fm_eval_ap(imgs, (size_t)nimg, c, 0.5, &ap[c], NULL);
            fm_eval_face_recall(imgs, (size_t)nimg, 0.5, &recall, &matched, &total, NULL);
            long long wm[4], wt[4], cm[2], ct[2];
            fm_eval_face_recall_buckets(imgs, (size_t)nimg, 0.5, fm_eval_width_bucket, NULL, 4, wm,
                                        wt, NULL);
            fm_eval_face_recall_buckets(imgs, (size_t)nimg, 0.5, fm_eval_class_bucket, NULL, 2, cm,
                                        ct, NULL);
            static const char *const wnames[4] = {"0-16", "16-32", "32-64", "64+"};
            static const char *const cnames[2] = {"mask", "no_mask"};
            double map = (ap[0].ap + ap[1].ap) / 2;
            static const double wedges[3] = {16, 32, 64};
            fm_bucket mb[4];
            fm_eval_buckets(wedges, 3, mf.width, mf.correct, mf.n, mb, NULL);
            if (json) {
                fm_jsonw_key(&j, "end_to_end");
                fm_jsonw_object_begin(&j);
                fm_jsonw_key(&j, "images");
                fm_jsonw_int(&j, nimg);
                fm_jsonw_key(&j, "unreadable");
                fm_jsonw_int(&j, bad);
                fm_jsonw_key(&j, "detector_conf");
                fm_jsonw_float(&j, conf);
                fm_jsonw_key(&j, "ap50_mask");
                fm_jsonw_double(&j, ap[0].ap);
                fm_jsonw_key(&j, "ap50_no_mask");
                fm_jsonw_double(&j, ap[1].ap);
                fm_jsonw_key(&j, "map50");
                fm_jsonw_double(&j, map);
                fm_jsonw_key(&j, "face_recall50");
                fm_jsonw_double(&j, recall);
                fm_jsonw_key(&j, "faces_matched");
                fm_jsonw_int(&j, matched);
                fm_jsonw_key(&j, "faces_total");
                fm_jsonw_int(&j, total);
                fm_jsonw_key(&j, "face_recall50_by_width");
                fm_jsonw_object_begin(&j);
                for (int q = 0; q < 4; q++) {
                    fm_jsonw_key(&j, wnames[q]);
                    fm_jsonw_double(&j, wt[q] ? (double)wm[q] / (double)wt[q] : NAN);
                }
                fm_jsonw_object_end(&j);
                fm_jsonw_key(&j, "face_recall50_by_class");
                fm_jsonw_object_begin(&j);
                for (int q = 0; q < 2; q++) {
                    fm_jsonw_key(&j, cnames[q]);
                    fm_jsonw_double(&j, ct[q] ? (double)cm[q] / (double)ct[q] : NAN);
                }
                fm_jsonw_object_end(&j);
                fm_jsonw_key(&j, "matched_faces");
                fm_jsonw_object_begin(&j);
                fm_jsonw_key(&j, "faces");
                fm_jsonw_int(&j, fm_confusion_total(&mf.cm));
                fm_jsonw_key(&j, "accuracy");
                fm_jsonw_double(&j, fm_confusion_accuracy(&mf.cm));
                fm_jsonw_key(&j, "confusion");
                fm_jsonw_confusion(&j, &mf.cm, names);
                fm_jsonw_key(&j, "no_mask_recall");
                fm_jsonw_double(&j, fm_confusion_class(&mf.cm, 1).recall);
                fm_jsonw_key(&j, "by_face_width");
                fm_jsonw_array_begin(&j);
                for (int q = 0; q < 4; q++) {
                    fm_jsonw_object_begin(&j);
                    fm_jsonw_key(&j, "width_px");
                    fm_jsonw_string(&j, wnames[q]);
                    fm_jsonw_key(&j, "faces");
                    fm_jsonw_int(&j, mb[q].n);
                    fm_jsonw_key(&j, "accuracy");
                    fm_jsonw_double(&j, mb[q].n ? mb[q].accuracy : NAN);
                    fm_jsonw_object_end(&j);
                }
                fm_jsonw_array_end(&j);
                fm_jsonw_object_end(&j);
                fm_jsonw_object_end(&j);
            } else {
                printf("detect + classify on %d images of %s (detector conf %.2f; "
                       "mask_weared_incorrect ignored):\n",
                       nimg, voc, (double)conf);
                printf("  AP50 mask %.4f  AP50 no_mask %.4f  mAP50 %.4f\n", ap[0].ap, ap[1].ap, map);
                printf("  face recall at IoU 0.5: %.4f (%lld of %lld annotated faces, all sizes)\n",
                       recall, matched, total);
                printf("  face recall by width:");
                for (int q = 0; q < 4; q++)
                    printf("  %s px %.4f (%lld/%lld)", wnames[q],
                           wt[q] ? (double)wm[q] / (double)wt[q] : NAN, wm[q], wt[q]);
                printf("\n  face recall by label:");
                for (int q = 0; q < 2; q++)
                    printf("  %s %.4f (%lld/%lld)", cnames[q],
                           ct[q] ? (double)cm[q] / (double)ct[q] : NAN, cm[q], ct[q]);
                printf("\n");
                fm_class_stats um = fm_confusion_class(&mf.cm, 1);
                printf("  label accuracy on matched faces (the detector's boxes, IoU >= 0.5): "
                       "%.4f (%lld faces), no_mask recall %.4f (%lld/%lld)\n",
                       fm_confusion_accuracy(&mf.cm), fm_confusion_total(&mf.cm), um.recall,
                       um.tp, um.support);
                printf("  label accuracy by width:");
                for (int q = 0; q < 4; q++)
                    printf("  %s px %.4f (%lld/%lld)", wnames[q],
                           mb[q].n ? mb[q].accuracy : NAN, mb[q].correct, mb[q].n);
                printf("\n");
            }
            fm_ap_result_free(&ap[0]);
            fm_ap_result_free(&ap[1]);
        }
        for (int i = 0; i < nimg; i++) {
            free((void *)imgs[i].gt);
            free((void *)imgs[i].det);
        }
        free(imgs);
        free(mf.width);
        free(mf.correct);
        fm_classifier_free(cls);
        fm_detector_free(det);
        free_names(&trained);
    }
    if (json && rc == 0) {
        fm_jsonw_object_end(&j);
        if (fm_jsonw_finish(&j, &err) != FM_OK) {
            fm_log(FM_LOG_ERROR, "%s", err.msg);
            rc = 1;
        }
        printf("\n");
    }
    return rc;
}
