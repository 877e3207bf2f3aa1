/* facemask - real-time face-mask detection. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "nn/ops/simd.h"

/* build/gen/version.h, written by the Makefile: FM_VERSION and FM_GIT_REV (the commit the
 * binary was built from, "-dirty" with uncommitted changes, "unknown" outside a git tree). */
#include "version.h"

typedef struct {
    const fm_cmd_spec *spec;
    int (*run)(int argc, char **argv);
    const char *what;
} command;

static const command g_commands[] = {
    {&fm_detect_spec, fm_cmd_detect, "find faces in images, each labelled mask or no_mask"},
    {&fm_classify_spec, fm_cmd_classify, "mask / no mask for face crops"},
    {&fm_watch_spec, fm_cmd_watch,
     "faces and masks over time from a camera, a video file, a stream or a folder"},
    {&fm_train_spec, fm_cmd_train, "fine-tune the mask classifier (MobileNetV2) in C"},
    {&fm_train_detector_spec, fm_cmd_train_detector,
     "fine-tune the YuNet face detector on VOC scene photos in C"},
    {&fm_eval_spec, fm_cmd_eval,
     "accuracy on face crops, or detection + classification AP on VOC scenes"},
    {&fm_bench_spec, fm_cmd_bench, "per-stage timings (decode, preprocess, forward, ...)"},
    {&fm_serve_spec, fm_cmd_serve,
     "every camera of a site in one process: history in SQLite, snapshots, recordings"},
    {&fm_report_spec, fm_cmd_report, "daily mask compliance per camera from a site's history"},
};
#define NCOMMANDS (sizeof g_commands / sizeof g_commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: facemask COMMAND [OPTIONS] [ARGS]\n"
               "       facemask --version | --help | help COMMAND\n"
               "\n"
               "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-14s %s\n", g_commands[i].spec->name, g_commands[i].what);
    fprintf(f, "\n"
               "Models are read from --model-dir, else $FACEMASK_MODELS, else beside facemask:\n"
               "../share/facemask/models (installed) or ../models (a build tree); they hold\n"
               "detector/detector.onnx (the default face detector, YuNet-n fine-tuned on masked\n"
               "faces), yunet/ (stock YuNet-n) and res10/ for --detector yunet and res10, mask/\n"
               "for the classifier. Labels are drawn in $FACEMASK_FONT (a .ttf or\n"
               ".otf file) when set, else DejaVu Sans Bold (Debian's fonts-dejavu-core).\n"
               "Run 'facemask COMMAND --help' for a command's options; 'man facemask' for all.\n");
}

static void version(void)
{
    printf("facemask %s (git %s)\n", FM_VERSION, FM_GIT_REV);
    printf("SIMD paths compiled in:");
    for (int i = FM_ISA_COUNT - 1; i >= 0; i--) {
#ifndef FM_X86
        if (i != FM_ISA_SCALAR)
            continue;
#endif
        printf(" %s", fm_isa_name((fm_isa)i));
    }
    printf("; used on this CPU: %s\n", fm_isa_name(fm_isa_detect()));
}

/* Whatever a command printed must have reached standard output (a full disk, /dev/full, a
 * closed pipe): otherwise one line says so and the exit status is 1. */
static int finish(int rc)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "facemask: cannot write standard output: %s\n",
                errno ? strerror(errno) : "write error");
        return rc ? rc : 1;
    }
    return rc;
}

static const command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(name, g_commands[i].spec->name) == 0)
            return &g_commands[i];
    return NULL;
}

static int unknown(const char *name)
{
    fprintf(stderr,
            "facemask: unknown command '%s' (expected detect, classify, watch, serve, train, eval, "
            "bench or report)\nTry 'facemask --help'.\n",
            name);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "facemask: no command given\nTry 'facemask --help'.\n");
        return 2;
    }
    const char *cmd = argv[1];
    const command *c = find(cmd);
    if (c)
        return finish(c->run(argc - 1, argv + 1));
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        version();
        return finish(0);
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            const command *h = find(argv[2]);
            if (!h)
                return unknown(argv[2]);
            fm_cmd_help(h->spec, stdout);
            return finish(0);
        }
        usage(stdout);
        return finish(0);
    }
    if (cmd[0] == '-') {
        fprintf(stderr, "facemask: unknown option '%s' (options follow the command)\n"
                        "Try 'facemask --help'.\n",
                cmd);
        return 2;
    }
    return unknown(cmd);
}
