/* facemask - real-time face-mask detection. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/app.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: facemask <command> [options]\n"
            "\n"
            "commands:\n"
            "  detect [--json] [--out DIR] [--conf 0.5] [--threads N] [--model-dir DIR] IMAGE|DIR...\n"
            "      find faces in images; --json prints one line per image, --out writes\n"
            "      annotated copies\n"
            "  watch --source SRC [--display] [--record FILE] [--events FILE|-] [--blur] ...\n"
            "      faces and masks over time from a camera, a video file, a stream or a folder\n"
            "  bench [--image PATH] [--runs N] [--threads LIST] [--model-dir DIR]\n"
            "      per-stage timings (decode, preprocess, forward, postprocess)\n"
            "  train --data DIR [--voc DIR] [--out DIR] [--epochs N] [--input-size S] ...\n"
            "      fine-tune the mask classifier (MobileNetV2) in C; writes the model and a report\n"
            "  classify [--json] [--classifier DIR] IMAGE|DIR...\n"
            "      mask / no mask for face crops\n"
            "  eval --data DIR | --voc DIR [--classifier DIR] [--json]\n"
            "      accuracy on face crops, or detection + classification AP on VOC scenes\n"
            "\n"
            "Models are read from --model-dir, else $FACEMASK_MODELS, else the project's\n"
            "models/ folder (yunet/yunet_n_640_640.onnx, the default face detector; res10/ for\n"
            "--detector res10; mask/ for the classifier).\n"
            "Run 'facemask <command> --help' for a command's options.\n");
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "detect") == 0)
        return finish(fm_cmd_detect(argc - 1, argv + 1));
    if (strcmp(cmd, "bench") == 0)
        return finish(fm_cmd_bench(argc - 1, argv + 1));
    if (strcmp(cmd, "train") == 0)
        return finish(fm_cmd_train(argc - 1, argv + 1));
    if (strcmp(cmd, "classify") == 0)
        return finish(fm_cmd_classify(argc - 1, argv + 1));
    if (strcmp(cmd, "eval") == 0)
        return finish(fm_cmd_eval(argc - 1, argv + 1));
    if (strcmp(cmd, "watch") == 0)
        return finish(fm_cmd_watch(argc - 1, argv + 1));
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return finish(0);
    }
    fprintf(stderr, "facemask: unknown command '%s' (expected detect, classify, watch, train, eval or bench)\n", cmd);
    usage(stderr);
    return 2;
}
