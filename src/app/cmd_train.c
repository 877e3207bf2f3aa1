/* facemask train: fine-tune the mask classifier (see src/train/trainer.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/app.h"
#include "core/log.h"
#include "face/detector.h"
#include "train/trainer.h"

enum {
    O_DATA = 256, O_VOC, O_VOC_FRACTION, O_FORCE, O_EPOCHS, O_FT_EPOCHS, O_FT_FROM, O_INPUT_SIZE,
    O_SEED, O_BATCH, O_VARIANTS, O_MARGIN, O_NO_SQUARE, O_FLIP_AVERAGE, O_NO_AUGMENT, O_CROPS_FROM,
    O_CROPS_CONF, O_LOWRES_PROB, O_LOWRES_MIN, O_LOWRES_MAX, O_VOC_SKIP
};

static const fm_opt train_opts[] = {
    {"data", O_DATA, "DIR", "one folder per class of face crops (with_mask, without_mask); required"},
    {"voc", O_VOC, "DIR",
     "also train on faces of scene photos with PASCAL VOC boxes (images/, "
     "annotations/), split by image: --voc-fraction of the images for "
     "training, the rest held out and reported"},
    {"voc-fraction", O_VOC_FRACTION, "F", "share of the --voc images used for training (0..1, default 0.5)"},
    {"voc-skip", O_VOC_SKIP, "LO:HI",
     "leave out the training-side images whose split hash is in [LO, HI) (0 <= LO < HI <= 1): a "
     "development fold, neither trained on nor reported, for tools/select-classifier.sh"},
    {"crops-from", O_CROPS_FROM, "DETECTOR",
     "cut the --voc training faces at this detector's own boxes instead of the annotated ones: "
     "yunet, res10 or a YuNet-layout .onnx (e.g. models/detector/detector.onnx). Each "
     "training-side image is run through it once; a box that matches an annotated face at "
     "IoU >= 0.5 is a sample with that face's label, other boxes are not used. Default: the "
     "annotated boxes"},
    {"crops-conf", O_CROPS_CONF, "F", "--crops-from: the detector's threshold (0..1, default 0.2, as eval --voc)"},
    {"out", 'o', "DIR",
     "where the model and its report go (default models/mask, the committed "
     "classifier when run from the project folder)"},
    {"force", O_FORCE, NULL,
     "replace the model in --out; without it, an --out that already holds a "
     "model (classifier.cfg, .prototxt or .caffemodel) is refused before "
     "anything is read or written"},
    {"epochs", O_EPOCHS, "N", "phase 1 (head on the frozen base): at most N epochs (default 20)"},
    {"fine-tune-epochs", O_FT_EPOCHS, "N", "phase 2: at most N epochs (default 10; 0 skips phase 2)"},
    {"fine-tune-from", O_FT_FROM, "LAYER",
     "first base layer trained in phase 2, a block's expand convolution (default "
     "expanded_conv_12/expand; "
     "'none' skips phase 2)"},
    {"input-size", O_INPUT_SIZE, "S", "classifier input S x S pixels (32..512, default 128)"},
    {"batch", O_BATCH, "N", "samples per training step (default 32)"},
    {"margin", O_MARGIN, "F", "crop margin around scene face boxes, a share of the box (default 0)"},
    {"no-square", O_NO_SQUARE, NULL, "crop scene faces at the box's own shape, not widened to a square"},
    {"flip-average", O_FLIP_AVERAGE, NULL,
     "the saved model also classifies each face's mirrored crop and averages the two "
     "(classifier.cfg flip_average 1; twice the forward time per face)"},
    {"variants", O_VARIANTS, "N", "augmented variants of each training image (1..50, default 3)"},
    {"no-augment", O_NO_AUGMENT, NULL, "no augmentation (the variants are then identical)"},
    {"lowres-prob", O_LOWRES_PROB, "P",
     "augmentation: share of the crops first shrunk to a small face's size and scaled back up "
     "(0..1, default 0.3)"},
    {"lowres-min", O_LOWRES_MIN, "PX", "the low-resolution step's smallest shorter side (1..512, default 12)"},
    {"lowres-max", O_LOWRES_MAX, "PX",
     "its largest (0..512, default 0: the crop's own); the sizes are drawn log-uniformly between"},
    {"seed", O_SEED, "N", "everything random derives from it (default 42)"},
    {"threads", 'j', "N", "threads (1..64, default 2)"},
    {"model-dir", 'm', "DIR", FM_MODEL_DIR_HELP " (it must hold mobilenet_v2/, the ImageNet base)"},
    {"quiet", 'q', NULL, "no progress line on stderr"},
    {NULL, 0, NULL, NULL}};

const fm_cmd_spec fm_train_spec = {
    "train",
    "train --data DIR [--voc DIR] [--out DIR [--force]] [OPTIONS]",
    "Fine-tunes the mask classifier (MobileNetV2 with a new head) in C: phase 1 trains "
    "the head on the frozen base, phase 2 the top blocks with it; writes the model "
    "(Caffe prototxt + caffemodel, classifier.cfg) and its report (report.json, "
    "report.svg) to --out.",
    train_opts,
    "On a terminal, a progress line on stderr shows each stage's count, rate and time left."};

int fm_cmd_train(int argc, char **argv)
{
    const fm_cmd_spec *spec = &fm_train_spec;
    fm_train_opts o = fm_train_default_opts();
    const char *model_dir = NULL;
    int force = 0;
    char cmdline[2048] = "facemask";
    size_t used = strlen(cmdline);
    for (int i = 0; i < argc && used < sizeof cmdline - 2; i++)
        used += (size_t)snprintf(cmdline + used, sizeof cmdline - used, " %s", argv[i]);
    o.command = cmdline;
    fm_args args;
    fm_args_init(&args, spec, argc, argv);
    const char *v;
    int n;
    float fl;
    for (int k; (k = fm_args_next(&args, &v)) != FM_ARGS_END;) {
        switch (k) {
        case FM_ARGS_HELP: return 0;
        case FM_ARGS_ERROR: return 2;
        case O_DATA: o.data_dir = v; break;
        case O_VOC: o.voc_dir = v; break;
        case O_CROPS_FROM: o.crops_from = v; break;
        case O_CROPS_CONF:
            if (!fm_parse_float("--crops-conf", v, 0.0f, 1.0f, &o.crops_conf))
                return fm_try_help(spec);
            break;
        case 'o': o.out_dir = v; break;
        case 'm': model_dir = v; break;
        case O_FT_FROM: o.fine_tune_from = v; break;
        case O_NO_SQUARE: o.square = 0; break;
        case O_FLIP_AVERAGE: o.flip_average = 1; break;
        case O_NO_AUGMENT: o.augment = 0; break;
        case 'q': o.quiet = 1; break;
        case O_FORCE: force = 1; break;
        case O_VOC_FRACTION:
            if (!fm_parse_float("--voc-fraction", v, 0.0f, 1.0f, &o.voc_train_fraction))
                return fm_try_help(spec);
            break;
        case O_EPOCHS:
            if (!fm_parse_int("--epochs", v, 1, 1000, &o.epochs))
                return fm_try_help(spec);
            break;
        case O_FT_EPOCHS:
            if (!fm_parse_int("--fine-tune-epochs", v, 0, 1000, &o.fine_tune_epochs))
                return fm_try_help(spec);
            break;
        case O_INPUT_SIZE:
            if (!fm_parse_int("--input-size", v, 32, 512, &o.input_size))
                return fm_try_help(spec);
            break;
        case O_SEED:
            if (!fm_parse_int("--seed", v, 0, 2147483647, &n))
                return fm_try_help(spec);
            o.seed = (uint64_t)n;
            break;
        case 'j':
            if (!fm_parse_int("--threads", v, 1, 64, &o.threads))
                return fm_try_help(spec);
            break;
        case O_BATCH:
            if (!fm_parse_int("--batch", v, 1, 1024, &o.batch))
                return fm_try_help(spec);
            break;
        case O_VARIANTS:
            if (!fm_parse_int("--variants", v, 1, 50, &o.variants))
                return fm_try_help(spec);
            break;
        case O_VOC_SKIP: {
            char lo[32], hi[32], tail;
            if (sscanf(v, "%31[^:]:%31s%c", lo, hi, &tail) != 2 ||
                !fm_parse_float("--voc-skip LO", lo, 0.0f, 1.0f, &o.voc_skip_lo) ||
                !fm_parse_float("--voc-skip HI", hi, 0.0f, 1.0f, &o.voc_skip_hi))
                return fm_usage_error(spec, "--voc-skip expects LO:HI with 0 <= LO < HI <= 1, "
                                            "got '%s'", v);
            if (o.voc_skip_lo >= o.voc_skip_hi)
                return fm_usage_error(spec, "--voc-skip %s: LO must be below HI", v);
            break;
        }
        case O_LOWRES_PROB:
            if (!fm_parse_float("--lowres-prob", v, 0.0f, 1.0f, &o.lowres_prob))
                return fm_try_help(spec);
            break;
        case O_LOWRES_MIN:
            if (!fm_parse_int("--lowres-min", v, 1, 512, &o.lowres_min))
                return fm_try_help(spec);
            break;
        case O_LOWRES_MAX:
            if (!fm_parse_int("--lowres-max", v, 0, 512, &o.lowres_max))
                return fm_try_help(spec);
            break;
        case O_MARGIN:
            if (!fm_parse_float("--margin", v, 0.0f, 1.0f, &fl))
                return fm_try_help(spec);
            o.margin = fl;
            break;
        }
    }
    if (args.operand < argc)
        return fm_usage_error(spec, "unexpected argument '%s'", argv[args.operand]);
    if (o.quiet)
        fm_log_set_level(FM_LOG_ERROR);
    if (!o.data_dir)
        return fm_usage_error(spec, "--data DIR is required");
    if (o.lowres_max && o.lowres_max < o.lowres_min)
        return fm_usage_error(spec, "--lowres-max %d is below --lowres-min %d", o.lowres_max,
                              o.lowres_min);
    if (o.crops_from && !o.voc_dir)
        return fm_usage_error(spec, "--crops-from needs --voc DIR (the scene photos it cuts faces from)");
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
    o.model_dir = mdir;
    fm_err err = {0};
    if (fm_train_run(&o, &err) != FM_OK) {
        fprintf(stderr, "facemask train: %s\n", err.msg);
        return 1;
    }
    return 0;
}
