/* facemask train: fine-tune the mask classifier (see src/train/trainer.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/app.h"
#include "face/detector.h"
#include "train/trainer.h"

static void train_usage(FILE *f)
{
    fprintf(f,
            "usage: facemask train --data DIR [--voc DIR] [--out DIR] [--epochs N]\n"
            "                      [--fine-tune-epochs N] [--input-size S] [--fine-tune-from LAYER]\n"
            "                      [--seed N] [--threads N] [--batch N] [--margin F] [--no-square]\n"
            "                      [--variants N] [--no-augment] [--model-dir DIR] [--force] [--quiet]\n"
            "  --data DIR        one folder per class (with_mask, without_mask)\n"
            "  --voc DIR         also train on faces of scene photos with PASCAL VOC boxes\n"
            "                    (images/, annotations/); split by image, --voc-fraction of the\n"
            "                    images for training (default 0.5), the rest held out and reported\n"
            "  --out DIR         where the model and its report go (default models/mask, the\n"
            "                    committed classifier when run from the project folder)\n"
            "  --force           replace the model in --out; without it, an --out that already\n"
            "                    holds a model (classifier.cfg, .prototxt or .caffemodel) is\n"
            "                    refused before anything is read or written\n"
            "  --epochs N        phase 1 (head on the frozen base) at most N epochs (default 20)\n"
            "  --fine-tune-epochs N  phase 2 at most N epochs (default 10; 0 skips phase 2)\n"
            "  --fine-tune-from LAYER  first base layer trained in phase 2\n"
            "                    (default expanded_conv_14/expand; 'none' skips phase 2)\n"
            "  --input-size S    classifier input S x S (default 128)\n"
            "  --margin F        crop margin around scene face boxes (default 0), --no-square\n"
            "  --variants N      augmented variants of each training image (default 3)\n"
            "  --seed N          everything random derives from it (default 42)\n");
}

int fm_cmd_train(int argc, char **argv)
{
    fm_train_opts o = fm_train_default_opts();
    const char *model_dir = NULL;
    int force = 0;
    char cmdline[2048] = "facemask";
    size_t used = strlen(cmdline);
    for (int i = 0; i < argc && used < sizeof cmdline - 2; i++)
        used += (size_t)snprintf(cmdline + used, sizeof cmdline - used, " %s", argv[i]);
    o.command = cmdline;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int n;
        float fl;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            train_usage(stdout);
            return 0;
        } else if (strcmp(a, "--data") == 0 && v) {
            o.data_dir = v;
            i++;
        } else if (strcmp(a, "--voc") == 0 && v) {
            o.voc_dir = v;
            i++;
        } else if (strcmp(a, "--voc-fraction") == 0 && v) {
            if (!fm_parse_float(a, v, 0.0f, 1.0f, &o.voc_train_fraction))
                return 2;
            i++;
        } else if (strcmp(a, "--out") == 0 && v) {
            o.out_dir = v;
            i++;
        } else if (strcmp(a, "--model-dir") == 0 && v) {
            model_dir = v;
            i++;
        } else if (strcmp(a, "--epochs") == 0 && v) {
            if (!fm_parse_int(a, v, 1, 1000, &o.epochs))
                return 2;
            i++;
        } else if (strcmp(a, "--fine-tune-epochs") == 0 && v) {
            if (!fm_parse_int(a, v, 0, 1000, &o.fine_tune_epochs))
                return 2;
            i++;
        } else if (strcmp(a, "--fine-tune-from") == 0 && v) {
            o.fine_tune_from = v;
            i++;
        } else if (strcmp(a, "--input-size") == 0 && v) {
            if (!fm_parse_int(a, v, 32, 512, &o.input_size))
                return 2;
            i++;
        } else if (strcmp(a, "--seed") == 0 && v) {
            if (!fm_parse_int(a, v, 0, 2147483647, &n))
                return 2;
            o.seed = (uint64_t)n;
            i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            if (!fm_parse_int(a, v, 1, 64, &o.threads))
                return 2;
            i++;
        } else if (strcmp(a, "--batch") == 0 && v) {
            if (!fm_parse_int(a, v, 1, 1024, &o.batch))
                return 2;
            i++;
        } else if (strcmp(a, "--variants") == 0 && v) {
            if (!fm_parse_int(a, v, 1, 50, &o.variants))
                return 2;
            i++;
        } else if (strcmp(a, "--margin") == 0 && v) {
            if (!fm_parse_float(a, v, 0.0f, 1.0f, &fl))
                return 2;
            o.margin = fl;
            i++;
        } else if (strcmp(a, "--no-square") == 0) {
            o.square = 0;
        } else if (strcmp(a, "--no-augment") == 0) {
            o.augment = 0;
        } else if (strcmp(a, "--quiet") == 0) {
            o.quiet = 1;
        } else if (strcmp(a, "--force") == 0) {
            force = 1;
        } else {
            fprintf(stderr, "facemask train: unknown option or missing value: %s\n", a);
            train_usage(stderr);
            return 2;
        }
    }
    if (!o.data_dir) {
        fprintf(stderr, "facemask train: --data DIR is required\n");
        train_usage(stderr);
        return 2;
    }
    /* Training writes classifier.* over whatever model --out holds (by default models/mask,
     * the committed classifier): only with --force. */
    static const char *const model_files[] = {"classifier.cfg", "classifier.prototxt",
                                              "classifier.caffemodel"};
    for (size_t k = 0; !force && k < sizeof model_files / sizeof model_files[0]; k++) {
        char p[4200];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", o.out_dir, model_files[k]);
        if (stat(p, &st) == 0) {
            fprintf(stderr,
                    "facemask train: %s already holds a model (%s); nothing written: give "
                    "another --out, or --force to replace it\n",
                    o.out_dir, model_files[k]);
            return 1;
        }
    }
    char mdir[4096], base[4200];
    fm_models_dir(model_dir, mdir, sizeof mdir);
    snprintf(base, sizeof base, "%s/mobilenet_v2", mdir);
    o.base_dir = base;
    fm_err err = {0};
    if (fm_train_run(&o, &err) != FM_OK) {
        fprintf(stderr, "facemask train: %s\n", err.msg);
        return 1;
    }
    return 0;
}
