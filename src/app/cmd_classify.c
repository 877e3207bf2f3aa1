/* facemask classify: mask / no mask for face crops (the whole image is the face). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "core/log.h"
#include "core/progress.h"
#include "eval/report.h"
#include "face/classifier.h"
#include "face/detector.h"
#include "io/image.h"

enum { O_JSON = 256, O_CLASSIFIER };

static const fm_opt classify_opts[] = {
    {"json", O_JSON, NULL,
     "one JSON line per image on stdout:\n"
     "{\"image\":\"<path>\", \"label\":\"mask\"|\"no_mask\", \"mask_prob\":0.97}\n"
     "(mask_prob is P(mask)); an image that fails gets "
     "{\"image\":\"<path>\",\"error\":\"...\"} instead"},
    {"classifier", O_CLASSIFIER, "DIR", "the mask classifier (default <models>/mask)"},
    {"model-dir", 'm', "DIR", FM_MODEL_DIR_HELP},
    {"threads", 'j', "N", "inference threads (1..64, default 1)"},
    {"quiet", 'q', NULL, "no progress line on stderr (errors are still printed)"},
    {NULL, 0, NULL, NULL}};

const fm_cmd_spec fm_classify_spec = {
    "classify",
    "classify [OPTIONS] IMAGE|DIR|-...",
    "Classifies face crops: each image is one face, resized to the classifier's input. "
    "Without --json, one line per image: PATH: LABEL CONFIDENCE (\"no_mask 0.97\", the "
    "confidence of the label). Directories are walked recursively for .jpg, .jpeg and "
    ".png files; the argument - reads one image from standard input.",
    classify_opts,
    "On a terminal, a progress line on stderr shows the count, rate and time left for more "
    "than one image. An image that cannot be read is reported on stderr and the exit status "
    "is 1 (2 for a usage error)."};

static void fail(int json, fm_progress *prog, const char *path, const char *msg)
{
    fm_log(FM_LOG_ERROR, "%s", msg);
    if (json) {
        fm_progress_clear(prog);
        printf("{\"image\":");
        fm_json_quoted(stdout, path);
        printf(",\"error\":");
        fm_json_quoted(stdout, msg);
        printf("}\n");
        fflush(stdout);
    }
}

int fm_cmd_classify(int argc, char **argv)
{
    const fm_cmd_spec *spec = &fm_classify_spec;
    int json = 0, threads = 1, status = 0, quiet = 0;
    const char *cls_dir = NULL, *model_dir = NULL;
    fm_file_list files = {0};
    fm_err err = {0};
    fm_args args;
    fm_args_init(&args, spec, argc, argv);
    const char *v;
    for (int k; (k = fm_args_next(&args, &v)) != FM_ARGS_END;) {
        switch (k) {
        case FM_ARGS_HELP: return 0;
        case FM_ARGS_ERROR: return 2;
        case O_JSON: json = 1; break;
        case O_CLASSIFIER: cls_dir = v; break;
        case 'm': model_dir = v; break;
        case 'q': quiet = 1; break;
        case 'j':
            if (!fm_parse_int("--threads", v, 1, 64, &threads))
                return fm_try_help(spec);
            break;
        }
    }
    if (args.operand >= argc)
        return fm_usage_error(spec, "no IMAGE, DIR or - given");
    if (quiet)
        fm_log_set_level(FM_LOG_ERROR);
    int listed = fm_files_add_operands(&files, argc, argv, args.operand);
    if (listed < 0)
        return 1;
    status = listed;
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
    fm_progress prog;
    fm_progress_start(&prog, "classify", "images", files.n > 1 ? files.n : 0, quiet);
    int tty_out = isatty(STDOUT_FILENO), next_fail = 0;
    for (int i = 0; i <= files.n; i++) {
        for (; next_fail < files.nfails && files.fails[next_fail].at <= i; next_fail++)
            fail(json, &prog, files.fails[next_fail].path, files.fails[next_fail].msg);
        if (i == files.n)
            break;
        fm_image *img = fm_input_load(files.paths[i], &err);
        if (!img) {
            fail(json, &prog, files.paths[i], err.msg);
            status = 1;
            fm_progress_update(&prog, i + 1);
            continue;
        }
        float p = fm_classifier_crop(c, img);
        const char *label = p >= 0.5f ? "mask" : "no_mask";
        if (tty_out)
            fm_progress_clear(&prog);
        if (json) {
            printf("{\"image\":");
            fm_json_quoted(stdout, files.paths[i]);
            printf(",\"label\":\"%s\",\"mask_prob\":%.4f}\n", label, (double)p);
        } else {
            printf("%s: %s %.2f\n", files.paths[i], label, (double)(p >= 0.5f ? p : 1 - p));
        }
        fflush(stdout);
        fm_image_free(img);
        fm_progress_update(&prog, i + 1);
    }
    fm_progress_end(&prog);
    fm_classifier_free(c);
    fm_files_free(&files);
    return status;
}
