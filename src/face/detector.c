#include "face/detector.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "caffe/caffe.h"
#include "core/clock.h"
#include "core/paths.h"
#include "face/yunet.h"
#include "io/draw.h"

#define RES10_SIZE 300

struct fm_detector {
    fm_detector_kind kind;
    fm_err err;        /* the last failed run */
    /* res10 */
    fm_net *net;
    fm_image *resized; /* in_w x in_h scratch for the resize */
    int in_w, in_h;
    /* yunet */
    fm_yunet *yunet;
};

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

#define MODEL_CANDIDATES (2 * FM_SELF_MAX)

/* The folders a models folder is looked for in, beside the binaries (core/paths.h): for each,
 * <its parent>/share/facemask/models (installed) and <its parent>/models (a build tree). */
static int model_candidates(char out[MODEL_CANDIDATES][PATH_MAX + 32])
{
    char dirs[FM_SELF_MAX][PATH_MAX];
    int ndirs = fm_self_dirs(dirs), n = 0;
    for (int i = 0; i < ndirs; i++) {
        char parent[PATH_MAX];
        fm_parent_dir(dirs[i], parent, sizeof parent);
        const char *sep = strcmp(parent, "/") == 0 ? "" : "/";
        snprintf(out[n++], sizeof out[0], "%s%sshare/facemask/models", parent, sep);
        snprintf(out[n++], sizeof out[0], "%s%smodels", parent, sep);
    }
    return n;
}

const char *fm_models_dir(const char *dir, char *buf, size_t size)
{
    if (dir && *dir) {
        snprintf(buf, size, "%s", dir);
        return buf;
    }
    const char *env = getenv("FACEMASK_MODELS");
    if (env && *env) {
        snprintf(buf, size, "%s", env);
        return buf;
    }
    char cand[MODEL_CANDIDATES][PATH_MAX + 32];
    int n = model_candidates(cand);
    for (int i = 0; i < n; i++)
        if (is_dir(cand[i])) {
            snprintf(buf, size, "%s", cand[i]);
            return buf;
        }
    /* none exists: the installed place, so that a message names where the models belong */
    snprintf(buf, size, "%s", n > 0 ? cand[0] : "models");
    return buf;
}

const char *fm_models_hint(char *buf, size_t size)
{
    const char *env = getenv("FACEMASK_MODELS");
    char cand[MODEL_CANDIDATES][PATH_MAX + 32];
    int n = model_candidates(cand);
    int set = env && *env;
    size_t len = (size_t)snprintf(buf, size,
                                  "models are looked for in --model-dir, $FACEMASK_MODELS (%s%s)",
                                  set ? "= " : "not set", set ? env : "");
    for (int i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, ", %s", cand[i]);
    if (len < size)
        snprintf(buf + len, size - len, "; use --model-dir DIR or FACEMASK_MODELS");
    return buf;
}

static fm_status res10_create(fm_detector *d, const fm_detector_spec *spec,
                              const fm_net_opts *opts, fm_err *err)
{
    const char *model_dir = spec->model_dir ? spec->model_dir : "models";
    char proto[4096], weights[4096];
    snprintf(proto, sizeof proto, "%s/res10/deploy.prototxt", model_dir);
    snprintf(weights, sizeof weights, "%s/res10/res10_300x300_ssd_iter_140000.caffemodel",
             model_dir);
    struct stat st;
    const char *missing = stat(proto, &st) != 0 ? proto : stat(weights, &st) != 0 ? weights : NULL;
    if (missing) {
        int e = errno;
        char hint[1024];
        return fm_err_set(err, FM_ERR_IO, "%s: cannot open res10: %s (%s)", missing, strerror(e),
                          fm_models_hint(hint, sizeof hint));
    }
    fm_net_opts o = opts ? *opts : fm_net_default_opts();
    o.release_weights = 1; /* the packed copies are all inference needs */
    o.input_shape.ndim = 0;
    if (spec->size_w > 0) {
        int w = spec->size_w, h = spec->size_h > 0 ? spec->size_h : spec->size_w;
        if (w < 64 || w > 4096 || h < 64 || h > 4096)
            return fm_err_set(err, FM_ERR_ARG,
                              "res10: det size %dx%d (expected sides from 64 to 4096)", w, h);
        o.input_shape = fm_shape4(1, 3, h, w);
    }
    d->net = fm_caffe_load_net(proto, weights, &o, err);
    if (!d->net)
        return err ? err->status : FM_ERR_IO;
    const fm_tensor *in = fm_net_input(d->net, 0);
    if (fm_net_num_inputs(d->net) != 1 || in->shape.ndim != 4 || in->shape.d[0] != 1 ||
        in->shape.d[1] != 3 || fm_net_num_outputs(d->net) != 1 ||
        fm_net_output(d->net, 0)->shape.ndim != 4 || fm_net_output(d->net, 0)->shape.d[3] != 7)
        return fm_err_set(err, FM_ERR_FORMAT,
                          "%s: not an SSD face detector (expected one 1x3xHxW input and one "
                          "DetectionOutput)",
                          proto);
    d->in_h = in->shape.d[2];
    d->in_w = in->shape.d[3];
    d->resized = fm_image_new(d->in_w, d->in_h, err);
    return d->resized ? FM_OK : (err ? err->status : FM_ERR_NOMEM);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static fm_status yunet_create(fm_detector *d, const fm_detector_spec *spec,
                              const fm_net_opts *opts, fm_err *err)
{
    const char *name = spec->detector && *spec->detector ? spec->detector : "tuned";
    char path[4096];
    struct stat st;
    if (strcmp(name, "tuned") == 0) {
        snprintf(path, sizeof path, "%s/" FM_DETECTOR_TUNED_FILE,
                 spec->model_dir ? spec->model_dir : "models");
        if (stat(path, &st) != 0) {
            int e = errno;
            char hint[1024];
            return fm_err_set(err, FM_ERR_IO,
                              "%s: cannot open the default detector (YuNet-n fine-tuned on masked "
                              "faces): %s (%s; --detector yunet is stock YuNet-n)",
                              path, strerror(e), fm_models_hint(hint, sizeof hint));
        }
    } else if (strcmp(name, "yunet") == 0) {
        snprintf(path, sizeof path, "%s/yunet/yunet_n_640_640.onnx",
                 spec->model_dir ? spec->model_dir : "models");
        if (stat(path, &st) != 0) {
            int e = errno;
            char hint[1024];
            return fm_err_set(err, FM_ERR_IO, "%s: cannot open YuNet: %s (%s)", path,
                              strerror(e), fm_models_hint(hint, sizeof hint));
        }
    } else {
        if (stat(name, &st) != 0) {
            if (!strchr(name, '/') && !ends_with(name, ".onnx"))
                return fm_err_set(err, FM_ERR_ARG,
                                  "unknown detector '%s' (expected tuned, yunet, res10 or the "
                                  "path of a YuNet .onnx file)",
                                  name);
            return fm_err_set(err, FM_ERR_IO,
                              "%s: cannot open detector: %s (expected tuned, yunet, res10 or "
                              "the path of a YuNet .onnx file)",
                              name, strerror(errno));
        }
        if (S_ISDIR(st.st_mode))
            return fm_err_set(err, FM_ERR_ARG,
                              "%s: detector is a directory (expected tuned, yunet, res10 or the "
                              "path of a YuNet .onnx file)",
                              name);
        snprintf(path, sizeof path, "%s", name);
    }
    if (spec->size_h > 0)
        return fm_err_set(err, FM_ERR_ARG,
                          "yunet: det size %dx%d: YuNet takes one number, the long side of the "
                          "scaled image (e.g. 640), not WxH",
                          spec->size_w, spec->size_h);
    int size = spec->size_w > 0 ? spec->size_w : FM_YUNET_DET_SIZE;
    if (size < FM_YUNET_MIN_SIZE || size > FM_YUNET_MAX_SIZE)
        return fm_err_set(err, FM_ERR_ARG, "yunet: det size %d (expected %d to %d)", size,
                          FM_YUNET_MIN_SIZE, FM_YUNET_MAX_SIZE);
    d->yunet = fm_yunet_create(path, size, opts, err);
    return d->yunet ? FM_OK : (err ? err->status : FM_ERR_IO);
}

fm_detector *fm_detector_create(const fm_detector_spec *spec, const fm_net_opts *opts,
                                fm_err *err)
{
    fm_detector_spec def = {NULL, NULL, 0, 0};
    if (!spec)
        spec = &def;
    fm_detector *d = calloc(1, sizeof *d);
    if (!d) {
        fm_err_set(err, FM_ERR_NOMEM, "out of memory creating the detector");
        return NULL;
    }
    int res10 = spec->detector && strcmp(spec->detector, "res10") == 0;
    d->kind = res10 ? FM_DETECTOR_RES10 : FM_DETECTOR_YUNET;
    fm_status st = res10 ? res10_create(d, spec, opts, err) : yunet_create(d, spec, opts, err);
    if (st != FM_OK) {
        fm_detector_free(d);
        return NULL;
    }
    return d;
}

void fm_detector_free(fm_detector *d)
{
    if (!d)
        return;
    fm_net_free(d->net);
    fm_image_free(d->resized);
    fm_yunet_free(d->yunet);
    free(d);
}

fm_net *fm_detector_net(fm_detector *d)
{
    return d->yunet ? fm_yunet_net(d->yunet) : d->net;
}

fm_detector_kind fm_detector_kind_of(const fm_detector *d)
{
    return d->kind;
}

const char *fm_detector_name(const fm_detector *d)
{
    return d->kind == FM_DETECTOR_RES10 ? "res10" : "yunet";
}

const char *fm_detector_error(const fm_detector *d)
{
    return d->err.msg;
}

int fm_detector_detect_file(fm_detector *d, const char *path, float conf, fm_face *faces,
                            int max, fm_err *err)
{
    fm_image *img = fm_image_load(path, 0, err);
    if (!img)
        return -1;
    int n = fm_detector_run(d, img, conf, faces, max, NULL);
    fm_image_free(img);
    if (n < 0)
        fm_err_set(err, d->err.status, "%s: %s", path, d->err.msg);
    return n;
}

int fm_face_has_area(const fm_face *f)
{
    return f->x2 > f->x1 && f->y2 > f->y1; /* false for NaN too */
}

/* Clamps into [lo, hi]; + 0.0f turns -0 into +0 so it prints as 0.00. */
static float clampf(float v, float lo, float hi)
{
    return (v < lo ? lo : (v > hi ? hi : v)) + 0.0f;
}

int fm_detector_run(fm_detector *d, const fm_image *img, float conf, fm_face *faces, int max,
                    fm_det_timing *timing)
{
    if (d->yunet) {
        d->err.msg[0] = '\0';
        return fm_yunet_run(d->yunet, img, conf, faces, max, timing, &d->err);
    }
    static const float mean[3] = {104.0f, 177.0f, 123.0f};
    double t0 = fm_now_ms();
    fm_tensor *in = fm_net_input(d->net, 0);
    fm_blob_from_image(img, d->in_w, d->in_h, mean, 1.0f, 0, d->resized, in->data);
    double t1 = fm_now_ms();
    fm_net_forward(d->net, NULL);
    double t2 = fm_now_ms();
    const fm_tensor *out = fm_net_output(d->net, 0);
    int rows = out->shape.d[2], n = 0;
    float W = (float)img->w, H = (float)img->h;
    for (int r = 0; r < rows; r++) {
        const float *row = out->data + (size_t)r * 7;
        if (!(row[2] >= conf))
            continue;
        fm_face f;
        memset(&f, 0, sizeof f);
        f.score = row[2];
        f.x1 = clampf(row[3] * W, 0, W);
        f.y1 = clampf(row[4] * H, 0, H);
        f.x2 = clampf(row[5] * W, 0, W);
        f.y2 = clampf(row[6] * H, 0, H);
        if (!fm_face_has_area(&f))
            continue; /* wholly outside the image, or no area (or not finite): not a face */
        /* insertion by descending score keeps the list sorted */
        if (n < max || (max > 0 && f.score > faces[max - 1].score)) {
            int pos = n < max ? n : max - 1;
            while (pos > 0 && faces[pos - 1].score < f.score) {
                if (pos < max)
                    faces[pos] = faces[pos - 1];
                pos--;
            }
            faces[pos] = f;
        }
        n++;
    }
    double t3 = fm_now_ms();
    if (timing) {
        timing->preprocess_ms = t1 - t0;
        timing->forward_ms = t2 - t1;
        timing->postprocess_ms = t3 - t2;
    }
    return n;
}

void fm_draw_landmarks(fm_image *img, const float (*lm)[2], int n, int radius)
{
    static const fm_color colors[5] = {{0, 0, 255}, {255, 0, 0}, {0, 255, 0}, {255, 0, 255},
                                       {255, 255, 0}};
    for (int k = 0; k < n && k < 5; k++)
        fm_draw_dot(img, lm[k][0], lm[k][1], radius, colors[k]);
}
