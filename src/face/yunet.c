#include "face/yunet.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "onnx/onnx.h"

static const int k_strides[3] = {8, 16, 32};

/* ---- geometry and preprocessing ------------------------------------------------------- */

static int pad_up(int v)
{
    return (v + FM_YUNET_DIVISOR - 1) / FM_YUNET_DIVISOR * FM_YUNET_DIVISOR;
}

fm_status fm_yunet_geometry(int img_w, int img_h, int det_size, fm_yunet_geom *g, fm_err *err)
{
    if (img_w < 1 || img_h < 1)
        return fm_err_set(err, FM_ERR_ARG, "yunet: image size %dx%d (expected at least 1x1)",
                          img_w, img_h);
    if (det_size < FM_YUNET_MIN_SIZE || det_size > FM_YUNET_MAX_SIZE)
        return fm_err_set(err, FM_ERR_ARG, "yunet: det_size %d (expected %d to %d)", det_size,
                          FM_YUNET_MIN_SIZE, FM_YUNET_MAX_SIZE);
    double scale = (double)det_size / (double)(img_w > img_h ? img_w : img_h);
    int nw = (int)(img_w * scale + 0.5), nh = (int)(img_h * scale + 0.5);
    g->img_w = img_w;
    g->img_h = img_h;
    g->new_w = nw < 1 ? 1 : nw;
    g->new_h = nh < 1 ? 1 : nh;
    g->pad_w = pad_up(g->new_w);
    g->pad_h = pad_up(g->new_h);
    return FM_OK;
}

void fm_yunet_preprocess(const fm_image *img, const fm_yunet_geom *g, fm_image *tmp, float *out)
{
    const fm_image *src = img;
    if (img->w != g->new_w || img->h != g->new_h) {
        fm_resize_bilinear(img, tmp);
        src = tmp;
    }
    size_t plane = (size_t)g->pad_w * (size_t)g->pad_h;
    for (int c = 0; c < 3; c++) {
        float *o = out + (size_t)c * plane;
        for (int y = 0; y < g->new_h; y++) {
            const uint8_t *row = src->data + (size_t)y * (size_t)src->stride + c;
            float *orow = o + (size_t)y * (size_t)g->pad_w;
            for (int x = 0; x < g->new_w; x++)
                orow[x] = (float)row[3 * x];
            memset(orow + g->new_w, 0, (size_t)(g->pad_w - g->new_w) * sizeof *orow);
        }
        memset(o + (size_t)g->new_h * (size_t)g->pad_w, 0,
               (size_t)(g->pad_h - g->new_h) * (size_t)g->pad_w * sizeof *o);
    }
}

/* ---- decode and NMS --------------------------------------------------------------------- */

int fm_yunet_max_candidates(const fm_yunet_geom *g)
{
    int n = 0;
    for (int i = 0; i < 3; i++)
        n += (g->pad_w / k_strides[i]) * (g->pad_h / k_strides[i]);
    return n;
}

/* (int)v as C++'s int(float) for values in range; out-of-range and NaN saturate instead of
 * being undefined. */
static long long trunc_int(float v)
{
    if (!(v > (float)INT_MIN))
        return v != v ? 0 : INT_MIN;
    if (!(v < (float)INT_MAX))
        return INT_MAX;
    return (long long)(int)v;
}

typedef struct {
    long long x, y, w, h;
} rect_i;

static rect_i rect_of(const fm_yunet_cand *c)
{
    return (rect_i){trunc_int(c->x1), trunc_int(c->y1), trunc_int(c->w), trunc_int(c->h)};
}

static long long rect_area(rect_i r)
{
    return r.w * r.h;
}

/* OpenCV's rectOverlap for Rect: 1 - (float)jaccardDistance(a, b). */
static float rect_overlap(rect_i a, rect_i b)
{
    long long aa = rect_area(a), ab = rect_area(b);
    if (aa + ab <= 0)
        return 1.0f; /* jaccardDistance 0 */
    long long iw = 0, ih = 0;
    if (a.w > 0 && a.h > 0 && b.w > 0 && b.h > 0) {
        long long x1 = a.x > b.x ? a.x : b.x, y1 = a.y > b.y ? a.y : b.y;
        long long x2 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
        long long y2 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
        iw = x2 - x1;
        ih = y2 - y1;
        if (iw <= 0 || ih <= 0)
            iw = ih = 0;
    }
    double inter = (double)(iw * ih);
    double dist = 1.0 - inter / ((double)aa + (double)ab - inter);
    return 1.0f - (float)dist;
}

/* Score descending, then decode order: std::stable_sort's result. */
static int cmp_cand(const void *pa, const void *pb)
{
    const fm_yunet_cand *a = pa, *b = pb;
    if (a->score > b->score)
        return -1;
    if (a->score < b->score)
        return 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

int fm_yunet_nms(fm_yunet_cand *cand, int n, float conf, float iou)
{
    if (n <= 1)
        return n < 0 ? 0 : n;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (cand[i].score > conf)
            cand[m++] = cand[i];
    qsort(cand, (size_t)m, sizeof *cand, cmp_cand);
    if (m > FM_YUNET_TOP_K)
        m = FM_YUNET_TOP_K;
    int k = 0;
    for (int i = 0; i < m; i++) {
        rect_i r = rect_of(&cand[i]);
        int keep = 1;
        for (int j = 0; j < k && keep; j++)
            keep = rect_overlap(r, rect_of(&cand[j])) <= iou;
        if (keep)
            cand[k++] = cand[i]; /* k <= i: moves only towards the front */
    }
    return k;
}

static float clip01(float v)
{
    v = v < 1.0f ? v : 1.0f; /* OpenCV's MIN then MAX */
    return v > 0.0f ? v : 0.0f;
}

/* Clamps into [lo, hi]; + 0.0f turns -0 into +0 so it prints as 0.00. */
static float clampf(float v, float lo, float hi)
{
    return (v < lo ? lo : (v > hi ? hi : v)) + 0.0f;
}

int fm_yunet_decode(const fm_yunet_outputs *out, const fm_yunet_geom *g, float conf, float iou,
                    fm_yunet_cand *cand, fm_face *faces, int max)
{
    int n = 0;
    for (int i = 0; i < 3; i++) {
        int s = k_strides[i], cols = g->pad_w / s, rows = g->pad_h / s;
        const float *cls = out->cls[i], *obj = out->obj[i], *bbox = out->bbox[i],
                    *kps = out->kps[i];
        float fs = (float)s;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                size_t idx = (size_t)r * (size_t)cols + (size_t)c;
                float score = sqrtf(clip01(cls[idx]) * clip01(obj[idx]));
                if (!(score >= conf))
                    continue;
                const float *b = bbox + idx * 4, *k = kps + idx * 10;
                fm_yunet_cand *o = &cand[n];
                float cx = ((float)c + b[0]) * fs, cy = ((float)r + b[1]) * fs;
                o->w = expf(b[2]) * fs;
                o->h = expf(b[3]) * fs;
                o->x1 = cx - o->w / 2.0f;
                o->y1 = cy - o->h / 2.0f;
                for (int l = 0; l < 5; l++) {
                    o->lm[2 * l] = (k[2 * l] + (float)c) * fs;
                    o->lm[2 * l + 1] = (k[2 * l + 1] + (float)r) * fs;
                }
                o->score = score;
                o->idx = n;
                n++;
            }
        }
    }
    n = fm_yunet_nms(cand, n, conf, iou);
    float sx = (float)g->new_w / (float)g->img_w, sy = (float)g->new_h / (float)g->img_h;
    float W = (float)g->img_w, H = (float)g->img_h;
    int found = 0;
    for (int i = 0; i < n; i++) {
        const fm_yunet_cand *o = &cand[i];
        fm_face f;
        memset(&f, 0, sizeof f);
        f.x1 = clampf(o->x1 / sx, 0, W);
        f.y1 = clampf(o->y1 / sy, 0, H);
        f.x2 = clampf((o->x1 + o->w) / sx, 0, W);
        f.y2 = clampf((o->y1 + o->h) / sy, 0, H);
        if (!fm_face_has_area(&f))
            continue; /* no area left in the image (or not finite) */
        f.score = o->score;
        f.nlandmarks = FM_YUNET_NLANDMARKS;
        for (int l = 0; l < FM_YUNET_NLANDMARKS; l++) {
            f.landmarks[l][0] = o->lm[2 * l] / sx;
            f.landmarks[l][1] = o->lm[2 * l + 1] / sy;
        }
        if (found < max)
            faces[found] = f;
        found++;
    }
    return found;
}

/* ---- the detector ------------------------------------------------------------------------- */

static const char *const k_out_names[4][3] = {{"cls_8", "cls_16", "cls_32"},
                                              {"obj_8", "obj_16", "obj_32"},
                                              {"bbox_8", "bbox_16", "bbox_32"},
                                              {"kps_8", "kps_16", "kps_32"}};
static const int k_out_width[4] = {1, 1, 4, 10};

struct fm_yunet {
    char *path;            /* for messages */
    fm_onnx_model *model;  /* the parsed file, built again for each new padded size */
    int det_size;
    fm_net_opts opts;
    fm_net *net;
    int pad_w, pad_h;     /* the net's planned input size */
    fm_image *tmp;        /* new_w x new_h resize scratch, or NULL */
    fm_yunet_cand *cand;  /* fm_yunet_max_candidates of (pad_w, pad_h) */
};

/* Checks the 12 outputs of net planned for pad_w x pad_h; fills *o with their data. */
static fm_status find_outputs(const fm_net *net, const char *path, int pad_w, int pad_h,
                              fm_yunet_outputs *o, fm_err *err)
{
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 3; i++) {
            const char *name = k_out_names[k][i];
            const fm_tensor *t = fm_net_blob(net, name);
            if (!t)
                return fm_err_set(err, FM_ERR_FORMAT,
                                  "%s: not a YuNet model: no output '%s' (expected the 12 "
                                  "outputs cls_8, cls_16, cls_32, obj_*, bbox_*, kps_*)",
                                  path, name);
            size_t rows = (size_t)(pad_w / k_strides[i]) * (size_t)(pad_h / k_strides[i]);
            size_t want = rows * (size_t)k_out_width[k];
            size_t have = 1;
            for (int d = 0; d < t->shape.ndim; d++)
                have *= (size_t)t->shape.d[d];
            if (have != want)
                return fm_err_set(err, FM_ERR_SHAPE,
                                  "%s: output '%s' has %zu values for a %dx%d input (expected "
                                  "%zu rows x %d)",
                                  path, name, have, pad_w, pad_h, rows, k_out_width[k]);
            const float *data = t->data;
            if (k == 0)
                o->cls[i] = data;
            else if (k == 1)
                o->obj[i] = data;
            else if (k == 2)
                o->bbox[i] = data;
            else
                o->kps[i] = data;
        }
    }
    return FM_OK;
}

/* (Re)builds the net for a pad_w x pad_h input, with its candidate scratch. */
static fm_status plan(fm_yunet *y, int pad_w, int pad_h, fm_err *err)
{
    fm_net_opts o = y->opts;
    o.input_shape = fm_shape4(1, 3, pad_h, pad_w);
    fm_net *net = fm_onnx_build_net(y->model, y->path, &o, err);
    if (!net)
        return err ? err->status : FM_ERR_IO;
    fm_yunet_outputs outs;
    const fm_tensor *in = fm_net_num_inputs(net) == 1 ? fm_net_input(net, 0) : NULL;
    if (!in || in->shape.ndim != 4 || in->shape.d[0] != 1 || in->shape.d[1] != 3 ||
        in->shape.d[2] != pad_h || in->shape.d[3] != pad_w) {
        fm_net_free(net);
        return fm_err_set(err, FM_ERR_FORMAT,
                          "%s: not a YuNet model: expected one input of 1x3x%dx%d", y->path,
                          pad_h, pad_w);
    }
    fm_status st = find_outputs(net, y->path, pad_w, pad_h, &outs, err);
    if (st != FM_OK) {
        fm_net_free(net);
        return st;
    }
    fm_yunet_geom g = {0, 0, 0, 0, pad_w, pad_h};
    fm_yunet_cand *cand = malloc((size_t)fm_yunet_max_candidates(&g) * sizeof *cand);
    if (!cand) {
        fm_net_free(net);
        return fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory planning a %dx%d input",
                          y->path, pad_w, pad_h);
    }
    fm_net_free(y->net);
    free(y->cand);
    y->net = net;
    y->cand = cand;
    y->pad_w = pad_w;
    y->pad_h = pad_h;
    return FM_OK;
}

fm_yunet *fm_yunet_create(const char *path, int det_size, const fm_net_opts *opts, fm_err *err)
{
    if (det_size < FM_YUNET_MIN_SIZE || det_size > FM_YUNET_MAX_SIZE) {
        fm_err_set(err, FM_ERR_ARG, "yunet: det_size %d (expected %d to %d)", det_size,
                   FM_YUNET_MIN_SIZE, FM_YUNET_MAX_SIZE);
        return NULL;
    }
    fm_yunet *y = calloc(1, sizeof *y);
    if (!y || !(y->path = strdup(path))) {
        free(y);
        fm_err_set(err, FM_ERR_NOMEM, "out of memory creating the YuNet detector");
        return NULL;
    }
    y->det_size = det_size;
    y->opts = opts ? *opts : fm_net_default_opts();
    y->opts.input_shape.ndim = 0;
    y->opts.release_weights = 1; /* the packed copies are all inference needs */
    if (!(y->model = fm_onnx_read(path, err))) {
        fm_yunet_free(y);
        return NULL;
    }
    /* a square image's input: the file is checked now, not at the first frame */
    int p = pad_up(det_size);
    if (plan(y, p, p, err) != FM_OK) {
        fm_yunet_free(y);
        return NULL;
    }
    return y;
}

void fm_yunet_free(fm_yunet *y)
{
    if (!y)
        return;
    fm_net_free(y->net);
    fm_onnx_free(y->model);
    fm_image_free(y->tmp);
    free(y->cand);
    free(y->path);
    free(y);
}

fm_net *fm_yunet_net(fm_yunet *y)
{
    return y->net;
}

int fm_yunet_det_size(const fm_yunet *y)
{
    return y->det_size;
}

int fm_yunet_run(fm_yunet *y, const fm_image *img, float conf, fm_face *faces, int max,
                 fm_det_timing *timing, fm_err *err)
{
    double t0 = fm_now_ms();
    fm_yunet_geom g;
    if (fm_yunet_geometry(img->w, img->h, y->det_size, &g, err) != FM_OK)
        return -1;
    if ((g.pad_w != y->pad_w || g.pad_h != y->pad_h) && plan(y, g.pad_w, g.pad_h, err) != FM_OK)
        return -1;
    int resize = g.new_w != img->w || g.new_h != img->h;
    if (resize && (!y->tmp || y->tmp->w != g.new_w || y->tmp->h != g.new_h)) {
        fm_image_free(y->tmp);
        if (!(y->tmp = fm_image_new(g.new_w, g.new_h, err)))
            return -1;
    }
    fm_yunet_preprocess(img, &g, y->tmp, fm_net_input(y->net, 0)->data);
    double t1 = fm_now_ms();
    if (fm_net_forward(y->net, err) != FM_OK)
        return -1;
    double t2 = fm_now_ms();
    fm_yunet_outputs outs;
    if (find_outputs(y->net, y->path, g.pad_w, g.pad_h, &outs, err) != FM_OK)
        return -1;
    int n = fm_yunet_decode(&outs, &g, conf, FM_YUNET_NMS_IOU, y->cand, faces, max);
    double t3 = fm_now_ms();
    if (timing) {
        timing->preprocess_ms = t1 - t0;
        timing->forward_ms = t2 - t1;
        timing->postprocess_ms = t3 - t2;
    }
    return n;
}
