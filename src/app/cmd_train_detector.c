/* facemask train-detector: fine-tune a YuNet-layout face detector on VOC scene photos (see
 * src/train/det_trainer.h). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "app/app.h"
#include "core/log.h"
#include "face/detector.h"
#include "train/det_trainer.h"

enum { O_VOC = 256, O_MODEL, O_FORCE, O_EPOCHS, O_SEED, O_INPUT_SIZE, O_BATCH, O_UNMASKED_REPEAT };

static const fm_opt train_detector_opts[] = {
    {"voc", O_VOC, "DIR",
     "scene photos with PASCAL VOC face boxes (images/, annotations/); required. The "
     "classifier's seeded hash split picks the training half (a part of it validates for early "
     "stopping); the other half is held out and reported. A training-side image that the "
     "classifier's mask/trained_on.txt (in the models folder) does not list is held out too, "
     "so that eval --voc never measures on an image either model was trained on"},
    {"model", O_MODEL, "FILE",
     "the YuNet-layout .onnx to start from (default yunet/yunet_n_640_640.onnx of the models "
     "folder)"},
    {"out", 'o', "DIR", "where detector.onnx and its report go (default models/detector)"},
    {"force", O_FORCE, NULL,
     "replace the model in --out; without it, an --out that already holds detector.onnx is "
     "refused before anything is read or written"},
    {"epochs", O_EPOCHS, "N", "at most N epochs (1..200, default 25)"},
    {"input-size", O_INPUT_SIZE, "S", "training images S x S pixels (a multiple of 32, 64..1024, default 640)"},
    {"batch", O_BATCH, "N", "images per training step (1..64, default 8)"},
    {"unmasked-repeat", O_UNMASKED_REPEAT, "N",
     "a training image with an unmasked (without_mask) face is seen N times an epoch, each "
     "time with its own crop (1..8, default 1)"},
    {"seed", O_SEED, "N", "the split, shuffles and augmentation derive from it (default 42, as train)"},
    {"threads", 'j', "N", "threads (1..64, default 2)"},
    {"model-dir", 'm', "DIR", FM_MODEL_DIR_HELP},
    {"quiet", 'q', NULL, "no progress line on stderr"},
    {NULL, 0, NULL, NULL}};

const fm_cmd_spec fm_train_detector_spec = {
    "train-detector",
    "train-detector --voc DIR [--model FILE] [--out DIR [--force]] [OPTIONS]",
    "Fine-tunes a YuNet-layout face detector in C on scene photos, as YuNet's own training "
    "does (SimOTA targets, IoU-aware BCE and EIoU losses, random square crops); the landmark "
    "branch stays frozen. Writes detector.onnx (the source graph with new weights), "
    "trained_on.txt and the report (report.json, report.svg: loss curves, held-out face AP and "
    "recall by width, masked and unmasked) to --out.",
    train_detector_opts,
    "On a terminal, a progress line on stderr shows each epoch's steps, rate and time left."};

int fm_cmd_train_detector(int argc, char **argv)
{
    const fm_cmd_spec *spec = &fm_train_detector_spec;
    fm_det_train_opts o = fm_det_train_default_opts();
    const char *model_dir = NULL;
    char cmdline[2048] = "facemask";
    size_t used = strlen(cmdline);
    for (int i = 0; i < argc && used < sizeof cmdline - 2; i++)
        used += (size_t)snprintf(cmdline + used, sizeof cmdline - used, " %s", argv[i]);
    o.command = cmdline;
    fm_args args;
    fm_args_init(&args, spec, argc, argv);
    const char *v;
    int n;
    for (int k; (k = fm_args_next(&args, &v)) != FM_ARGS_END;) {
        switch (k) {
        case FM_ARGS_HELP: return 0;
        case FM_ARGS_ERROR: return 2;
        case O_VOC: o.voc_dir = v; break;
        case O_MODEL: o.model_path = v; break;
        case 'o': o.out_dir = v; break;
        case 'm': model_dir = v; break;
        case 'q': o.quiet = 1; break;
        case O_FORCE: o.overwrite = 1; break;
        case O_EPOCHS:
            if (!fm_parse_int("--epochs", v, 1, 200, &o.epochs))
                return fm_try_help(spec);
            break;
        case O_INPUT_SIZE:
            if (!fm_parse_int("--input-size", v, 64, 1024, &o.input_size))
                return fm_try_help(spec);
            if (o.input_size % 32 != 0)
                return fm_usage_error(spec, "--input-size %d: must be a multiple of 32",
                                      o.input_size);
            break;
        case O_BATCH:
            if (!fm_parse_int("--batch", v, 1, 64, &o.batch))
                return fm_try_help(spec);
            break;
        case O_UNMASKED_REPEAT:
            if (!fm_parse_int("--unmasked-repeat", v, 1, 8, &o.unmasked_repeat))
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
        }
    }
    if (args.operand < argc)
        return fm_usage_error(spec, "unexpected argument '%s'", argv[args.operand]);
    if (o.quiet)
        fm_log_set_level(FM_LOG_ERROR);
    if (!o.voc_dir)
        return fm_usage_error(spec, "--voc DIR is required");
    /* refused before anything is read: training takes minutes */
    char existing[4200];
    struct stat st;
    snprintf(existing, sizeof existing, "%s/%s", o.out_dir, FM_DET_MODEL_FILE);
    if (!o.overwrite && stat(existing, &st) == 0) {
        fprintf(stderr,
                "facemask train-detector: %s already holds a model (%s); nothing written: give "
                "another --out, or --force to replace it\n",
                o.out_dir, FM_DET_MODEL_FILE);
        return 1;
    }
    char mdir[4096], model[4200], listed[4200];
    fm_models_dir(model_dir, mdir, sizeof mdir);
    if (!o.model_path) {
        snprintf(model, sizeof model, "%s/yunet/yunet_n_640_640.onnx", mdir);
        o.model_path = model;
    }
    /* the classifier's training images bound the detector's, so that `eval --voc` (which holds
     * out what the classifier did not see) measures both on images neither was trained on */
    snprintf(listed, sizeof listed, "%s/mask/trained_on.txt", mdir);
    if (stat(listed, &st) == 0)
        o.trained_on = listed;
    fm_err err = {0};
    if (fm_det_train_run(&o, &err) != FM_OK) {
        fprintf(stderr, "facemask train-detector: %s\n", err.msg);
        return 1;
    }
    return 0;
}
