/* facemask detect: faces in images, as JSON lines and/or annotated copies. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "core/log.h"
#include "core/progress.h"
#include "eval/report.h"
#include "face/classifier.h"
#include "face/detector.h"
#include "io/draw.h"
#include "io/image.h"

#define MAX_FACES 512

enum { O_JSON = 256, O_LANDMARKS, O_CONF, O_CLASSIFIER, O_NO_CLASSIFY, O_DETECTOR, O_DET_SIZE };

static const fm_opt detect_opts[] = {
    {"json", O_JSON, NULL,
     "one JSON line per image on stdout:\n"
     "{\"image\":..., \"width\":W, \"height\":H, \"faces\":[{\"box\":[x1,y1,x2,y2], \"score\":S, "
     "\"landmarks\":[[x,y],...], \"label\":\"mask\", \"mask_prob\":P}]}\n"
     "(landmarks with YuNet: right eye, left eye, nose tip, right and left mouth corner, in "
     "pixels; mask_prob is P(mask)). An image that fails gets {\"image\":..., "
     "\"error\":\"...\"} instead, and its message on stderr"},
    {"out", 'o', "DIR",
     "write an annotated copy of each image under DIR: DIR/<file name> for a "
     "file argument, DIR/<path under the folder> for an image of a walked "
     "folder, DIR/stdin.png for standard input. When two inputs would get the "
     "same copy (a/x.jpg b/x.jpg), the later one gets -2, -3, ... before the "
     "extension (DIR/x-2.jpg) and a note says so. A copy that would overwrite "
     "an input (the same file by device and inode) is refused before anything "
     "is written (exit status 1)"},
    {"landmarks", O_LANDMARKS, NULL, "also draw the 5 landmarks on the annotated copies (YuNet)"},
    {"conf", O_CONF, "F", "keep faces scoring at least F (0..1, default 0.5)"},
    {"threads", 'j', "N", "inference threads (1..64, default 1)"},
    {"model-dir", 'm', "DIR", FM_MODEL_DIR_HELP},
    {"classifier", O_CLASSIFIER, "DIR",
     "the mask classifier (default <models>/mask); each face gets a label, "
     "mask or no_mask. The text and the annotated copies show the label's "
     "confidence (\"no_mask 0.97\"); JSON has \"label\" and \"mask_prob\", "
     "P(mask) (0.03 for that face)"},
    {"no-classify", O_NO_CLASSIFY, NULL, "faces only, no mask classifier"},
    {"detector", O_DETECTOR, "D",
     "the face detector: tuned (default; YuNet-n fine-tuned on masked faces, "
     "<models>/detector/detector.onnx), yunet (stock YuNet-n, "
     "<models>/yunet/yunet_n_640_640.onnx), res10 (OpenCV's res10 SSD), or the path of a "
     "YuNet-layout .onnx file"},
    {"det-size", O_DET_SIZE, "S",
     "YuNet: the long side the image is scaled to (default 640, >= 32; one "
     "number, not WxH). res10: run at S x S (or WxH) instead of its native "
     "300x300: slower, but finds more small faces"},
    {"quiet", 'q', NULL, "no progress line and no notes on stderr (errors are still printed)"},
    {NULL, 0, NULL, NULL}};

const fm_cmd_spec fm_detect_spec = {
    "detect",
    "detect [OPTIONS] IMAGE|DIR|-...",
    "Finds faces in images and labels each mask or no_mask. Directories are walked "
    "recursively for .jpg, .jpeg and .png files (any letter case), in sorted order. "
    "The argument - reads one image (JPEG or PNG) from standard input.",
    detect_opts,
    "Without --json and --out, one line per image: PATH: N faces: SCORE at (x1,y1)-(x2,y2) "
    "LABEL CONFIDENCE; ...\nOn a terminal, a progress line on stderr shows the count, rate "
    "and time left for more than one image. An image that cannot be read or processed is "
    "reported on stderr; the others go on, and the exit status is 1 (2 for a usage error)."};

/* Per-face classification. */
typedef struct {
    float mask_prob;
} face_class;

/* Boxes and labels in the style watch draws too (io/draw.h): green mask, red no_mask, yellow
 * for a face not classified (--no-classify or no classifier). */
static void annotate(fm_image *img, fm_font *font, const fm_face *faces, const face_class *cls,
                     int n, int landmarks)
{
    for (int i = 0; i < n; i++) {
        const fm_face *f = &faces[i];
        int x1 = (int)f->x1, y1 = (int)f->y1, x2 = (int)f->x2, y2 = (int)f->y2;
        char label[48];
        fm_color color = FM_COLOR_UNKNOWN;
        if (!cls) {
            snprintf(label, sizeof label, "face %.2f", (double)f->score);
        } else {
            fm_mask_label_text(cls[i].mask_prob, label, sizeof label);
            color = cls[i].mask_prob >= 0.5f ? FM_COLOR_MASK : FM_COLOR_NO_MASK;
        }
        fm_draw_annotation(img, font, x1, y1, x2, y2, label, color);
    }
    for (int i = 0; landmarks && i < n; i++) { /* on top of every box and label */
        const fm_face *f = &faces[i];
        fm_annot_style st = fm_annot_style_for(img->w, img->h, (int)f->y2 - (int)f->y1 + 1);
        fm_draw_landmarks(img, (const float (*)[2])f->landmarks, f->nlandmarks,
                          st.thickness + 1);
    }
}

static void print_json(const char *path, const fm_image *img, const fm_face *faces,
                       const face_class *cls, int n)
{
    printf("{\"image\":");
    fm_json_quoted(stdout, path);
    printf(",\"width\":%d,\"height\":%d,\"faces\":[", img->w, img->h);
    for (int i = 0; i < n; i++) {
        const fm_face *f = &faces[i];
        printf("%s{\"box\":[%.2f,%.2f,%.2f,%.2f],\"score\":%.4f", i ? "," : "", (double)f->x1,
               (double)f->y1, (double)f->x2, (double)f->y2, (double)f->score);
        if (f->nlandmarks > 0) {
            printf(",\"landmarks\":[");
            for (int k = 0; k < f->nlandmarks; k++)
                printf("%s[%.2f,%.2f]", k ? "," : "", (double)f->landmarks[k][0],
                       (double)f->landmarks[k][1]);
            printf("]");
        }
        if (cls)
            printf(",\"label\":\"%s\",\"mask_prob\":%.4f", fm_mask_label(cls[i].mask_prob),
                   (double)cls[i].mask_prob);
        printf("}");
    }
    printf("]}\n");
}

/* ---- where the annotated copies go ---------------------------------------------------- */

typedef struct {
    const char *name;
    int i; /* input index */
} named;

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

static int cmp_name_index(const void *a, const void *b)
{
    int c = cmp_name(a, b);
    return c ? c : ((const named *)a)->i - ((const named *)b)->i;
}

static void free_paths(char **p, int n)
{
    for (int i = 0; p && i < n; i++)
        free(p[i]);
    free(p);
}

/* The annotated copy of each input: <out_dir>/<rel>. Inputs with the same rel (files of the
 * same name given as arguments, or such a file and a walked one) would overwrite each other's
 * copy: the first in argument order keeps the name, each later one gets "-2", "-3", ... before
 * its extension (the first such name no other copy has), and a note on stderr says so. Returns
 * n paths (free_paths), or NULL when out of memory. */
static char **plan_outputs(const char *out_dir, const fm_file_list *files)
{
    int n = files->n, nadded = 0, ok = 1;
    char **orig = calloc((size_t)n + 1, sizeof *orig), **dst = calloc((size_t)n + 1, sizeof *dst);
    char **added = calloc((size_t)n + 1, sizeof *added); /* the new names, owned by dst */
    named *by = calloc((size_t)n + 1, sizeof *by);
    ok = orig && dst && added && by;
    for (int i = 0; ok && i < n; i++) {
        size_t len = strlen(out_dir) + strlen(files->rel[i]) + 2;
        if ((ok = (orig[i] = malloc(len)) != NULL) != 0) {
            snprintf(orig[i], len, "%s/%s", out_dir, files->rel[i]);
            by[i].name = orig[i];
            by[i].i = i;
        }
    }
    if (ok)
        qsort(by, (size_t)n, sizeof *by, cmp_name_index);
    int keeper = 0; /* the input that keeps the name of the current group */
    for (int g = 0; ok && g < n; g++) {
        int i = by[g].i;
        if (g == 0 || strcmp(by[g - 1].name, by[g].name) != 0) {
            keeper = i;
            ok = (dst[i] = strdup(orig[i])) != NULL;
            continue;
        }
        const char *slash = strrchr(orig[i], '/'), *dot = strrchr(orig[i], '.');
        int stem = (int)(dot && dot > slash ? dot - orig[i] : (ptrdiff_t)strlen(orig[i]));
        size_t len = strlen(orig[i]) + 16;
        if (!(ok = (dst[i] = malloc(len)) != NULL))
            break;
        for (int k = 2;; k++) {
            snprintf(dst[i], len, "%.*s-%d%s", stem, orig[i], k, orig[i] + stem);
            named key = {dst[i], 0};
            int clash = bsearch(&key, by, (size_t)n, sizeof *by, cmp_name) != NULL;
            for (int a = 0; a < nadded && !clash; a++)
                clash = strcmp(added[a], dst[i]) == 0;
            if (!clash)
                break;
        }
        added[nadded++] = dst[i];
        fm_log(FM_LOG_WARN, "detect: %s has the same file name as %s; its annotated copy is %s",
               files->paths[i], files->paths[keeper], dst[i]);
    }
    free_paths(orig, n);
    free(added);
    free(by);
    if (!ok) {
        free_paths(dst, n);
        return NULL;
    }
    return dst;
}

typedef struct {
    dev_t dev;
    ino_t ino;
    int i;
} file_id;

static int cmp_id(const void *a, const void *b)
{
    const file_id *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return x->ino < y->ino ? -1 : x->ino > y->ino ? 1 : 0;
}

/* 1 (with the one-line message printed) when a copy in dst would overwrite an input: the same
 * file by device and inode (so a symbolic link, a hard link or another spelling of the path
 * counts), not by comparing strings. */
static int overwrites_an_input(const char *out_dir, const fm_file_list *files, char **dst)
{
    int n = files->n, m = 0, hit = 0;
    file_id *ids = calloc((size_t)n + 1, sizeof *ids);
    if (!ids) {
        fprintf(stderr, "facemask detect: out of memory checking --out %s\n", out_dir);
        return 1;
    }
    struct stat st;
    for (int i = 0; i < n; i++)
        if (stat(files->paths[i], &st) == 0)
            ids[m++] = (file_id){st.st_dev, st.st_ino, i};
    qsort(ids, (size_t)m, sizeof *ids, cmp_id);
    for (int i = 0; i < n && !hit; i++) {
        if (stat(dst[i], &st) != 0)
            continue; /* not there yet: cannot be an input */
        file_id key = {st.st_dev, st.st_ino, 0};
        const file_id *in = bsearch(&key, ids, (size_t)m, sizeof *ids, cmp_id);
        if (in) {
            fprintf(stderr,
                    "facemask detect: --out %s would overwrite the input %s (with the annotated "
                    "copy of %s, %s); nothing written: choose an --out folder that holds none "
                    "of the inputs\n",
                    out_dir, files->paths[in->i], files->paths[i], dst[i]);
            hit = 1;
        }
    }
    free(ids);
    return hit;
}

/* One image failed: its message on stderr and, with --json, an error object on stdout. */
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

/* The arguments that gave no image and come before image `at`. */
static void report_fails(const fm_file_list *files, int *next, int at, int json,
                         fm_progress *prog)
{
    for (; *next < files->nfails && files->fails[*next].at <= at; (*next)++)
        fail(json, prog, files->fails[*next].path, files->fails[*next].msg);
}

int fm_cmd_detect(int argc, char **argv)
{
    const fm_cmd_spec *spec = &fm_detect_spec;
    int json = 0, threads = 1, quiet = 0;
    float conf = 0.5f;
    const char *out_dir = NULL, *model_dir = NULL, *cls_dir = NULL;
    int classify = 1, det_w = 0, det_h = 0, landmarks = 0;
    const char *detector = NULL;
    fm_file_list files = {0};
    int status = 0;
    fm_err err = {0};

    fm_args args;
    fm_args_init(&args, spec, argc, argv);
    const char *v;
    for (int k; (k = fm_args_next(&args, &v)) != FM_ARGS_END;) {
        switch (k) {
        case FM_ARGS_HELP: return 0;
        case FM_ARGS_ERROR: return 2;
        case O_JSON: json = 1; break;
        case 'o': out_dir = v; break;
        case 'm': model_dir = v; break;
        case O_CLASSIFIER: cls_dir = v; break;
        case O_NO_CLASSIFY: classify = 0; break;
        case O_LANDMARKS: landmarks = 1; break;
        case O_DETECTOR: detector = v; break;
        case 'q': quiet = 1; break;
        case O_DET_SIZE:
            if (!fm_parse_det_size("--det-size", v, &det_w, &det_h))
                return fm_try_help(spec);
            break;
        case O_CONF:
            if (!fm_parse_float("--conf", v, 0.0f, 1.0f, &conf))
                return fm_try_help(spec);
            break;
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

    /* Every copy's path is known, and checked against the inputs, before anything is loaded
     * or written. */
    char **dsts = NULL;
    fm_font *font = NULL;
    if (out_dir && files.n) {
        if (!(dsts = plan_outputs(out_dir, &files))) {
            fprintf(stderr, "facemask detect: out of memory planning the copies under %s\n",
                    out_dir);
            fm_files_free(&files);
            return 1;
        }
        if (overwrites_an_input(out_dir, &files, dsts)) {
            free_paths(dsts, files.n);
            fm_files_free(&files);
            return 1;
        }
        if (!(font = fm_font_open(NULL, &err))) { /* no copies without their labels */
            fprintf(stderr, "facemask: %s\n", err.msg);
            free_paths(dsts, files.n);
            fm_files_free(&files);
            return 1;
        }
    }
    char mdir[4096];
    fm_models_dir(model_dir, mdir, sizeof mdir);
    fm_net_opts opts = fm_net_default_opts();
    opts.threads = threads;
    fm_detector_spec dspec = {detector, mdir, det_w, det_h};
    fm_detector *det = files.n ? fm_detector_create(&dspec, &opts, &err) : NULL;
    if (files.n && !det) {
        fprintf(stderr, "facemask: %s\n", err.msg);
        fm_font_free(font);
        free_paths(dsts, files.n);
        fm_files_free(&files);
        return 1;
    }
    fm_classifier *cls = NULL;
    if (det && classify) {
        char cdir[4200];
        fm_classifier_dir(cls_dir, mdir, cdir, sizeof cdir);
        cls = fm_classifier_load(cdir, &opts, &err);
        if (!cls && cls_dir) {
            fprintf(stderr, "facemask: %s\n", err.msg);
            fm_detector_free(det);
            fm_font_free(font);
            free_paths(dsts, files.n);
            fm_files_free(&files);
            return 1;
        }
        if (!cls)
            fm_log(FM_LOG_WARN, "no mask classifier (%s); detecting faces only", err.msg);
    }
    fm_face faces[MAX_FACES];
    face_class fcls[MAX_FACES];
    fm_progress prog;
    fm_progress_start(&prog, "detect", "images", files.n > 1 ? files.n : 0, quiet);
    int tty_out = isatty(STDOUT_FILENO), next_fail = 0;
    for (int i = 0; i < files.n; i++) {
        report_fails(&files, &next_fail, i, json, &prog);
        const char *path = files.paths[i];
        char msg[1024];
        fm_image *img = fm_input_load(path, &err);
        if (!img) {
            fail(json, &prog, path, err.msg);
            status = 1;
            fm_progress_update(&prog, i + 1);
            continue;
        }
        int n = fm_detector_run(det, img, conf, faces, MAX_FACES, NULL);
        if (n < 0) {
            snprintf(msg, sizeof msg, "%s: %s", path, fm_detector_error(det));
            fail(json, &prog, path, msg);
            status = 1;
            fm_image_free(img);
            fm_progress_update(&prog, i + 1);
            continue;
        }
        if (n > MAX_FACES)
            n = MAX_FACES;
        /* Every face has an area in the image (face/detector.h), so a crop fails only when
         * memory runs out: the image fails, nothing is labelled "unknown". */
        int failed = 0;
        for (int k = 0; cls && k < n && !failed; k++) {
            fm_err cerr = {0};
            if (fm_classifier_face(cls, img, &faces[k], &fcls[k].mask_prob, &cerr) != FM_OK) {
                snprintf(msg, sizeof msg, "%s: face %d at (%.0f,%.0f)-(%.0f,%.0f): %s", path,
                         k + 1, (double)faces[k].x1, (double)faces[k].y1, (double)faces[k].x2,
                         (double)faces[k].y2, cerr.msg);
                failed = 1;
            }
        }
        /* the copy first: an image whose copy cannot be written fails as a whole */
        if (!failed && out_dir) {
            annotate(img, font, faces, cls ? fcls : NULL, n, landmarks);
            if (fm_mkdirs_for(dsts[i], &err) != FM_OK || fm_image_save(img, dsts[i], &err) != FM_OK) {
                snprintf(msg, sizeof msg, "%s", err.msg);
                failed = 1;
            }
        }
        if (failed) {
            fail(json, &prog, path, msg);
            status = 1;
            fm_image_free(img);
            fm_progress_update(&prog, i + 1);
            continue;
        }
        if (tty_out)
            fm_progress_clear(&prog);
        if (json) {
            print_json(path, img, faces, cls ? fcls : NULL, n);
        } else if (!out_dir) {
            printf("%s: %d face%s", path, n, n == 1 ? "" : "s");
            for (int k = 0; k < n; k++) {
                printf("%s %.2f at (%.0f,%.0f)-(%.0f,%.0f)", k ? ";" : ":", (double)faces[k].score,
                       (double)faces[k].x1, (double)faces[k].y1, (double)faces[k].x2,
                       (double)faces[k].y2);
                char label[48];
                if (cls)
                    printf(" %s", fm_mask_label_text(fcls[k].mask_prob, label, sizeof label));
            }
            printf("\n");
        } else {
            printf("%s: %d face%s -> %s\n", path, n, n == 1 ? "" : "s", dsts[i]);
        }
        fflush(stdout);
        fm_image_free(img);
        fm_progress_update(&prog, i + 1);
    }
    report_fails(&files, &next_fail, files.n, json, &prog);
    fm_progress_end(&prog);
    fm_classifier_free(cls);
    fm_detector_free(det);
    fm_font_free(font);
    free_paths(dsts, files.n);
    fm_files_free(&files);
    return status;
}
