/* facemask detect: faces in images, as JSON lines and/or annotated copies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "eval/report.h"
#include "face/classifier.h"
#include "face/detector.h"
#include "io/image.h"

#define MAX_FACES 512

static void detect_usage(FILE *f)
{
    fprintf(f,
            "usage: facemask detect [--json] [--out DIR] [--landmarks] [--conf 0.5] [--threads N]\n"
            "                       [--model-dir DIR] [--classifier DIR | --no-classify]\n"
            "                       [--detector yunet|res10|FILE] [--det-size N|WxH] IMAGE|DIR...\n"
            "  --json           one JSON line per image on stdout:\n"
            "                   {\"image\":...,\"width\":W,\"height\":H,\"faces\":[{\"box\":[x1,y1,x2,y2],\"score\":S}]}\n"
            "                   YuNet faces also have \"landmarks\":[[x,y],...] after \"score\": right\n"
            "                   eye, left eye, nose tip, right and left mouth corner (pixels)\n"
            "  --out DIR        write an annotated copy of each image under DIR\n"
            "  --landmarks      also draw the 5 landmarks on the annotated copies (YuNet)\n"
            "  --conf F         keep faces scoring at least F (0..1, default 0.5)\n"
            "  --threads N      inference threads (default 1)\n"
            "  --model-dir DIR  models folder (default $FACEMASK_MODELS, else the project's models/)\n"
            "  --classifier DIR the mask classifier (default <models>/mask); each face gets\n"
            "                   a label, mask or no_mask. The text and the annotated copies\n"
            "                   show the label's confidence (\"no_mask 0.97\"); JSON has\n"
            "                   \"label\" and \"mask_prob\", P(mask) (0.03 for that face)\n"
            "  --no-classify    faces only\n"
            "  --detector D     the face detector: yunet (default; <models>/yunet/yunet_n_640_640.onnx),\n"
            "                   res10 (OpenCV's res10 SSD), or the path of a YuNet-layout .onnx file\n"
            "  --det-size S     YuNet: the long side the image is scaled to (default 640, >= 32; one\n"
            "                   number, not WxH). res10: run at S x S (or WxH) instead of its native\n"
            "                   300x300: slower, but finds more small faces (600 finds 38%% more\n"
            "                   annotated faces on mask_det)\n"
            "Directories are walked recursively for .jpg, .jpeg and .png files, in sorted order.\n");
}

/* Per-face classification. */
typedef struct {
    float mask_prob;
} face_class;

static void annotate(fm_image *img, const fm_face *faces, const face_class *cls, int n,
                     int landmarks)
{
    int side = img->w < img->h ? img->w : img->h;
    int thick = side / 300 + 1;
    int scale = side >= 600 ? 2 : 1;
    fm_color black = FM_RGB(0, 0, 0), white = FM_RGB(255, 255, 255);
    for (int i = 0; i < n; i++) {
        const fm_face *f = &faces[i];
        int x1 = (int)f->x1, y1 = (int)f->y1, x2 = (int)f->x2, y2 = (int)f->y2;
        char label[48];
        fm_color color = FM_RGB(0, 200, 0), fg = black;
        if (!cls) {
            snprintf(label, sizeof label, "face %.2f", (double)f->score);
        } else {
            fm_mask_label_text(cls[i].mask_prob, label, sizeof label);
            if (cls[i].mask_prob < 0.5f) {
                color = FM_RGB(220, 30, 30);
                fg = white;
            }
        }
        fm_draw_rect(img, x1, y1, x2, y2, color, thick);
        fm_draw_label(img, x1, y1, label, fg, color, scale);
    }
    for (int i = 0; landmarks && i < n; i++) /* on top of every box and label */
        fm_draw_landmarks(img, (const float (*)[2])faces[i].landmarks, faces[i].nlandmarks,
                          thick + 1);
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

int fm_cmd_detect(int argc, char **argv)
{
    int json = 0, threads = 1;
    float conf = 0.5f;
    const char *out_dir = NULL, *model_dir = NULL, *cls_dir = NULL;
    int classify = 1, det_w = 0, det_h = 0, landmarks = 0;
    const char *detector = NULL;
    fm_file_list files = {0};
    int status = 0, ninputs = 0;
    fm_err err = {0};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            detect_usage(stdout);
            fm_files_free(&files);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--out") == 0 && val) {
            out_dir = val;
            i++;
        } else if (strcmp(a, "--model-dir") == 0 && val) {
            model_dir = val;
            i++;
        } else if (strcmp(a, "--classifier") == 0 && val) {
            cls_dir = val;
            i++;
        } else if (strcmp(a, "--no-classify") == 0) {
            classify = 0;
        } else if (strcmp(a, "--landmarks") == 0) {
            landmarks = 1;
        } else if (strcmp(a, "--detector") == 0 && val) {
            detector = val;
            i++;
        } else if (strcmp(a, "--det-size") == 0 && val) {
            if (!fm_parse_det_size("--det-size", val, &det_w, &det_h))
                goto usage_error;
            i++;
        } else if (strcmp(a, "--conf") == 0 && val) {
            if (!fm_parse_float("--conf", val, 0.0f, 1.0f, &conf))
                goto usage_error;
            i++;
        } else if (strcmp(a, "--threads") == 0 && val) {
            if (!fm_parse_int("--threads", val, 1, 64, &threads))
                goto usage_error;
            i++;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "facemask detect: unknown option or missing value: %s\n", a);
            goto usage_error;
        } else {
            ninputs++;
            if (fm_files_add(&files, a, &err) != FM_OK) {
                fprintf(stderr, "facemask: %s\n", err.msg);
                status = 1;
            }
        }
    }
    if (ninputs == 0) {
        fprintf(stderr, "facemask detect: no IMAGE or DIR given\n");
        goto usage_error;
    }

    char mdir[4096];
    fm_models_dir(model_dir, mdir, sizeof mdir);
    fm_net_opts opts = fm_net_default_opts();
    opts.threads = threads;
    fm_detector_spec spec = {detector, mdir, det_w, det_h};
    fm_detector *det = files.n ? fm_detector_create(&spec, &opts, &err) : NULL;
    if (files.n && !det) {
        fprintf(stderr, "facemask: %s\n", err.msg);
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
            fm_files_free(&files);
            return 1;
        }
        if (!cls)
            fprintf(stderr, "facemask: no mask classifier (%s); detecting faces only\n", err.msg);
    }
    fm_face faces[MAX_FACES];
    face_class fcls[MAX_FACES];
    for (int i = 0; i < files.n; i++) {
        const char *path = files.paths[i];
        fm_image *img = fm_image_load(path, 0, &err);
        if (!img) {
            fprintf(stderr, "facemask: %s\n", err.msg);
            status = 1;
            continue;
        }
        int n = fm_detector_run(det, img, conf, faces, MAX_FACES, NULL);
        if (n < 0) {
            fprintf(stderr, "facemask: %s: %s\n", path, fm_detector_error(det));
            status = 1;
            fm_image_free(img);
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
                fprintf(stderr, "facemask: %s: face %d at (%.0f,%.0f)-(%.0f,%.0f): %s\n", path,
                        k + 1, (double)faces[k].x1, (double)faces[k].y1, (double)faces[k].x2,
                        (double)faces[k].y2, cerr.msg);
                failed = 1;
            }
        }
        if (failed) {
            status = 1;
            fm_image_free(img);
            continue;
        }
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
        }
        if (out_dir) {
            annotate(img, faces, cls ? fcls : NULL, n, landmarks);
            size_t len = strlen(out_dir) + strlen(files.rel[i]) + 2;
            char *dst = malloc(len);
            if (!dst) {
                fprintf(stderr, "facemask: out of memory\n");
                status = 1;
            } else {
                snprintf(dst, len, "%s/%s", out_dir, files.rel[i]);
                if (fm_mkdirs_for(dst, &err) != FM_OK || fm_image_save(img, dst, &err) != FM_OK) {
                    fprintf(stderr, "facemask: %s\n", err.msg);
                    status = 1;
                } else if (!json) {
                    printf("%s: %d face%s -> %s\n", path, n, n == 1 ? "" : "s", dst);
                }
                free(dst);
            }
        }
        fflush(stdout);
        fm_image_free(img);
    }
    fm_classifier_free(cls);
    fm_detector_free(det);
    fm_files_free(&files);
    return status;

usage_error:
    detect_usage(stderr);
    fm_files_free(&files);
    return 2;
}
