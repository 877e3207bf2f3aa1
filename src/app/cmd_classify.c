/* facemask classify: mask / no mask for face crops (the whole image is the face). */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "eval/report.h"
#include "face/classifier.h"
#include "face/detector.h"
#include "io/image.h"

static void classify_usage(FILE *f)
{
    fprintf(f, "usage: facemask classify [--json] [--classifier DIR] [--threads N] IMAGE|DIR...\n"
               "  Classifies face crops (each image is one face, resized to the classifier's\n"
               "  input). With --json, one line per image:\n"
               "    {\"image\":\"<path>\",\"label\":\"mask\"|\"no_mask\",\"mask_prob\":0.97}\n"
               "  --classifier DIR  default <models>/mask\n");
}

int fm_cmd_classify(int argc, char **argv)
{
    int json = 0, threads = 1, ninputs = 0, status = 0;
    const char *cls_dir = NULL, *model_dir = NULL;
    fm_file_list files = {0};
    fm_err err = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            classify_usage(stdout);
            fm_files_free(&files);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--classifier") == 0 && v) {
            cls_dir = v;
            i++;
        } else if (strcmp(a, "--model-dir") == 0 && v) {
            model_dir = v;
            i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            if (!fm_parse_int(a, v, 1, 64, &threads)) {
                fm_files_free(&files);
                return 2;
            }
            i++;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "facemask classify: unknown option or missing value: %s\n", a);
            classify_usage(stderr);
            fm_files_free(&files);
            return 2;
        } else {
            ninputs++;
            if (fm_files_add(&files, a, &err) != FM_OK) {
                fprintf(stderr, "facemask: %s\n", err.msg);
                status = 1;
            }
        }
    }
    if (ninputs == 0) {
        fprintf(stderr, "facemask classify: no IMAGE or DIR given\n");
        classify_usage(stderr);
        return 2;
    }
    char mdir[4096], cdir[4200];
    fm_models_dir(model_dir, mdir, sizeof mdir);
    fm_classifier_dir(cls_dir, mdir, cdir, sizeof cdir);
    fm_net_opts opts = fm_net_default_opts();
    opts.threads = threads;
    fm_classifier *c = files.n ? fm_classifier_load(cdir, &opts, &err) : NULL;
    if (files.n && !c) {
        fprintf(stderr, "facemask: %s\n", err.msg);
        fm_files_free(&files);
        return 1;
    }
    for (int i = 0; i < files.n; i++) {
        fm_image *img = fm_image_load(files.paths[i], 0, &err);
        if (!img) {
            fprintf(stderr, "facemask: %s\n", err.msg);
            status = 1;
            continue;
        }
        float p = fm_classifier_crop(c, img);
        const char *label = p >= 0.5f ? "mask" : "no_mask";
        if (json) {
            printf("{\"image\":");
            fm_json_quoted(stdout, files.paths[i]);
            printf(",\"label\":\"%s\",\"mask_prob\":%.4f}\n", label, (double)p);
        } else {
            printf("%s: %s %.2f\n", files.paths[i], label, (double)(p >= 0.5f ? p : 1 - p));
        }
        fm_image_free(img);
    }
    fm_classifier_free(c);
    fm_files_free(&files);
    return status;
}
