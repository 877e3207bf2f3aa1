#include "caffe/caffe.h"
#include "face/detector.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

#define RES10_SIZE 300

struct fm_detector {
    fm_net *net;
    fm_image *resized; /* 300x300 scratch for the resize */
    int in_w, in_h;
};

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
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
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char cand[PATH_MAX + 16];
            snprintf(cand, sizeof cand, "%s/../models", exe);
            if (is_dir(cand)) {
                snprintf(buf, size, "%s", cand);
                return buf;
            }
        }
    }
    snprintf(buf, size, "models");
    return buf;
}

fm_detector *fm_detector_create(const char *model_dir, const fm_net_opts *opts, fm_err *err)
{
    char proto[4096], weights[4096];
    snprintf(proto, sizeof proto, "%s/res10/deploy.prototxt", model_dir);
    snprintf(weights, sizeof weights, "%s/res10/res10_300x300_ssd_iter_140000.caffemodel",
             model_dir);
    fm_detector *d = calloc(1, sizeof *d);
    if (!d) {
        fm_err_set(err, FM_ERR_NOMEM, "out of memory creating the detector");
        return NULL;
    }
    fm_net_opts o = opts ? *opts : fm_net_default_opts();
    o.release_weights = 1; /* the packed copies are all inference needs */
    d->net = fm_caffe_load_net(proto, weights, &o, err);
    if (!d->net) {
        free(d);
        return NULL;
    }
    const fm_tensor *in = fm_net_input(d->net, 0);
    if (fm_net_num_inputs(d->net) != 1 || in->shape.ndim != 4 || in->shape.d[0] != 1 ||
        in->shape.d[1] != 3 || fm_net_num_outputs(d->net) != 1 ||
        fm_net_output(d->net, 0)->shape.ndim != 4 || fm_net_output(d->net, 0)->shape.d[3] != 7) {
        fm_err_set(err, FM_ERR_FORMAT,
                   "%s: not an SSD face detector (expected one 1x3xHxW input and one "
                   "DetectionOutput)",
                   proto);
        fm_detector_free(d);
        return NULL;
    }
    d->in_h = in->shape.d[2];
    d->in_w = in->shape.d[3];
    d->resized = fm_image_new(d->in_w, d->in_h, err);
    if (!d->resized) {
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
    free(d);
}

fm_net *fm_detector_net(fm_detector *d)
{
    return d->net;
}

/* Clamps into [lo, hi]; + 0.0f turns -0 into +0 so it prints as 0.00. */
static float clampf(float v, float lo, float hi)
{
    return (v < lo ? lo : (v > hi ? hi : v)) + 0.0f;
}

int fm_detector_run(fm_detector *d, const fm_image *img, float conf, fm_face *faces, int max,
                    fm_det_timing *timing)
{
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
        f.score = row[2];
        f.x1 = clampf(row[3] * W, 0, W);
        f.y1 = clampf(row[4] * H, 0, H);
        f.x2 = clampf(row[5] * W, 0, W);
        f.y2 = clampf(row[6] * H, 0, H);
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
