/* detection_output.c - SSD DetectionOutput: decode, per-class NMS, keep_top_k.
 *
 * Follows OpenCV 4.6 detection_output_layer.cpp (DetectionOutputLayerImpl,
 * CPU path, normalized_bbox = true) and nms.inl.hpp (NMSFast_):
 *  - Priors: channel 0 holds P boxes (xmin, ymin, xmax, ymax), channel 1 the
 *    4 variances per prior (GetPriorBBoxes).
 *  - Decode (DecodeBBox): CENTER_SIZE with normalised boxes, no +1:
 *      pw = pxmax - pxmin; pcx = pxmin + pw * .5 (double, rounded to float);
 *      cx = v0 * l0 * pw + pcx; w = exp(v2 * l2) * pw;
 *      xmin = cx - w * .5 (double, rounded to float) ... ;
 *    CORNER adds the (variance-scaled) offsets. OpenCV maps every code_type
 *    other than CENTER_SIZE to CORNER (getCodeType), so CORNER_SIZE (3) decodes
 *    as CORNER here too - Caffe would decode CORNER_SIZE differently.
 *    clip (OpenCV's own option) clamps the decoded corners to [0, 1].
 *  - Per class c != background_label_id: candidates with score > threshold
 *    (strictly), stable-sorted by score descending, cut to top_k when top_k > 0
 *    (GetMaxScoreIndex); greedy NMS keeps a box when its IoU with every kept box
 *    is <= nms_threshold (eta = 1). With one target class, NMS stops once
 *    keep_top_k boxes are kept (OpenCV's `limit`; Caffe has none, same result).
 *  - IoU (JaccardOverlap<true>): areas are w * h with no +1 (normalised
 *    coordinates), 0 for an inverted box; intersection / (a1 + a2 - inter).
 *  - keep_top_k > -1 and more detections than that: the best keep_top_k over
 *    all classes by score.
 *  - Output rows [image, label, score, xmin, ymin, xmax, ymax], per image all
 *    classes together sorted by score descending (outputDetections_, without
 *    group_by_classes). Caffe instead writes per class in label order; OpenCV's
 *    order is the one followed. OpenCV sorts with std::sort, whose order among
 *    exactly equal scores is unspecified; here equal scores keep label order,
 *    then NMS order. Unused capacity rows are zeroed, as OpenCV zeroes its
 *    output.
 * All working memory comes from the caller's scratch (fm_detout_scratch).
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nn/ops/ops.h"

enum { CODE_CORNER = 1, CODE_CENTER_SIZE = 2, CODE_CORNER_SIZE = 3 };

typedef struct {
    float score;
    int label;
    int idx;
} cand_t;

typedef struct {
    int N, P, C, nloc;
    size_t per_class; /* candidates kept per class at most */
} dims_t;

static int num_targets(const fm_detout_param *p)
{
    int bg = p->background_label_id >= 0 && p->background_label_id < p->num_classes;
    return p->num_classes - bg;
}

static size_t capacity_rows(const fm_detout_param *p, const dims_t *d)
{
    if (p->keep_top_k > 0)
        return (size_t)d->N * (size_t)p->keep_top_k;
    return (size_t)d->N * (size_t)num_targets(p) * d->per_class;
}

static fm_status get_dims(const fm_detout_param *p, const fm_shape *loc, const fm_shape *conf,
                          const fm_shape *prior, dims_t *d, fm_err *err)
{
    char a[64], b[64], c[64];
    if (p->num_classes < 1 || p->nms_threshold <= 0.0f)
        return fm_err_set(err, FM_ERR_ARG,
                          "detection_output: num_classes %d must be >= 1 and nms_threshold %g > 0",
                          p->num_classes, (double)p->nms_threshold);
    if (p->code_type < CODE_CORNER || p->code_type > CODE_CORNER_SIZE)
        return fm_err_set(err, FM_ERR_ARG,
                          "detection_output: code_type %d (expected 1 CORNER, 2 CENTER_SIZE or 3 "
                          "CORNER_SIZE)",
                          p->code_type);
    if (p->keep_top_k == 0 || p->keep_top_k < -1)
        return fm_err_set(err, FM_ERR_ARG, "detection_output: keep_top_k %d (expected -1 or > 0)",
                          p->keep_top_k);
    if (loc->ndim < 2 || conf->ndim < 2 || prior->ndim < 3 || fm_shape_count(loc) == 0 ||
        fm_shape_count(conf) == 0 || fm_shape_count(prior) == 0)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "detection_output: loc %s, conf %s and prior %s must be non-empty, loc and "
                          "conf at least 2-D, prior (1, 2, P*4)",
                          fm_shape_str(loc, a, sizeof a), fm_shape_str(conf, b, sizeof b),
                          fm_shape_str(prior, c, sizeof c));
    int want_ch = p->variance_encoded_in_target ? 1 : 2;
    size_t pr = fm_shape_count_range(prior, 2, prior->ndim);
    if (prior->d[1] != want_ch || pr % 4 != 0)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "detection_output: prior %s must be (1, %d, P*4)%s",
                          fm_shape_str(prior, a, sizeof a), want_ch,
                          want_ch == 2 ? " (boxes, then variances)" : "");
    if (loc->d[0] != conf->d[0])
        return fm_err_set(err, FM_ERR_SHAPE,
                          "detection_output: loc %s and conf %s disagree on the batch size",
                          fm_shape_str(loc, a, sizeof a), fm_shape_str(conf, b, sizeof b));
    d->N = loc->d[0];
    d->P = (int)(pr / 4);
    d->C = p->num_classes;
    d->nloc = p->share_location ? 1 : p->num_classes;
    if (fm_shape_count_range(loc, 1, loc->ndim) != (size_t)d->P * (size_t)d->nloc * 4)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "detection_output: loc %s should hold %d priors x %d location classes x 4 "
                          "values per image",
                          fm_shape_str(loc, a, sizeof a), d->P, d->nloc);
    if (fm_shape_count_range(conf, 1, conf->ndim) != (size_t)d->P * (size_t)d->C)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "detection_output: conf %s should hold %d priors x %d classes per image",
                          fm_shape_str(conf, a, sizeof a), d->P, d->C);
    d->per_class = p->top_k > 0 && p->top_k < d->P ? (size_t)p->top_k : (size_t)d->P;
    return FM_OK;
}

fm_status fm_detout_shape(const fm_detout_param *p, const fm_shape *loc, const fm_shape *conf,
                          const fm_shape *prior, fm_shape *out, fm_err *err)
{
    dims_t d;
    fm_status st = get_dims(p, loc, conf, prior, &d, err);
    if (st != FM_OK)
        return st;
    size_t rows = capacity_rows(p, &d);
    if (rows == 0 || rows > 0x7fffffff / 7)
        return fm_err_set(err, FM_ERR_LIMIT, "detection_output: %zu output rows is out of range",
                          rows);
    *out = fm_shape4(1, 1, (int)rows, 7);
    return FM_OK;
}

/* Scratch layout, each part 16-byte aligned. */
typedef struct {
    size_t boxes;  /* nloc * P * 5 floats: xmin, ymin, xmax, ymax, area */
    size_t cand;   /* P cand_t */
    size_t kept;   /* C * per_class ints */
    size_t nkept;  /* C ints */
    size_t all;    /* C * per_class cand_t */
    size_t tmp;    /* max(P, C * per_class) cand_t for the merge sort */
    size_t total;
} layout_t;

static size_t align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

static layout_t layout(const dims_t *d)
{
    layout_t l;
    size_t P = (size_t)d->P, C = (size_t)d->C, kc = C * d->per_class;
    size_t o = 0;
    l.boxes = o;
    o += align16((size_t)d->nloc * P * 5 * sizeof(float));
    l.cand = o;
    o += align16(P * sizeof(cand_t));
    l.kept = o;
    o += align16(kc * sizeof(int));
    l.nkept = o;
    o += align16(C * sizeof(int));
    l.all = o;
    o += align16(kc * sizeof(cand_t));
    l.tmp = o;
    o += align16((P > kc ? P : kc) * sizeof(cand_t));
    l.total = o;
    return l;
}

size_t fm_detout_scratch(const fm_detout_param *p, const fm_shape *loc, const fm_shape *conf)
{
    dims_t d;
    /* The prior shape follows from conf: (1, 2, P*4). */
    if (p->num_classes < 1 || conf->ndim < 2 || conf->d[0] < 1)
        return 0;
    size_t P = fm_shape_count_range(conf, 1, conf->ndim) / (size_t)p->num_classes;
    fm_shape prior = fm_shape3(1, p->variance_encoded_in_target ? 1 : 2, (int)(P * 4));
    if (get_dims(p, loc, conf, &prior, &d, NULL) != FM_OK)
        return 0;
    return layout(&d).total;
}

/* Stable merge sort by score, descending. */
static void sort_desc(cand_t *a, size_t n, cand_t *tmp)
{
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = a[j].score > a[i].score ? a[j++] : a[i++];
            while (i < mid)
                tmp[k++] = a[i++];
            while (j < hi)
                tmp[k++] = a[j++];
        }
        memcpy(a, tmp, n * sizeof *a);
    }
}

static float box_area(float x0, float y0, float x1, float y1)
{
    if (x1 < x0 || y1 < y0)
        return 0.0f;
    return (x1 - x0) * (y1 - y0);
}

static float iou(const float *a, const float *b)
{
    float x0 = a[0] > b[0] ? a[0] : b[0];
    float y0 = a[1] > b[1] ? a[1] : b[1];
    float x1 = a[2] < b[2] ? a[2] : b[2];
    float y1 = a[3] < b[3] ? a[3] : b[3];
    float inter = box_area(x0, y0, x1, y1);
    if (inter > 0.0f)
        return inter / (a[4] + b[4] - inter);
    return 0.0f;
}

static float clamp01(float v)
{
    return v > 1.0f ? 1.0f : (v < 0.0f ? 0.0f : v);
}

static void decode(const fm_detout_param *p, const float *pr, const float *var, const float *l,
                   float *d)
{
    float v0 = p->variance_encoded_in_target ? l[0] : var[0] * l[0];
    float v1 = p->variance_encoded_in_target ? l[1] : var[1] * l[1];
    float v2 = p->variance_encoded_in_target ? l[2] : var[2] * l[2];
    float v3 = p->variance_encoded_in_target ? l[3] : var[3] * l[3];
    if (p->code_type == CODE_CENTER_SIZE) {
        float pw = pr[2] - pr[0], ph = pr[3] - pr[1];
        float pcx = (float)(pr[0] + pw * .5), pcy = (float)(pr[1] + ph * .5);
        float cx = v0 * pw + pcx, cy = v1 * ph + pcy;
        float w = expf(v2) * pw, h = expf(v3) * ph;
        d[0] = (float)(cx - w * .5);
        d[1] = (float)(cy - h * .5);
        d[2] = (float)(cx + w * .5);
        d[3] = (float)(cy + h * .5);
    } else {
        d[0] = pr[0] + v0;
        d[1] = pr[1] + v1;
        d[2] = pr[2] + v2;
        d[3] = pr[3] + v3;
    }
    if (p->clip) {
        for (int k = 0; k < 4; k++)
            d[k] = clamp01(d[k]);
    }
    d[4] = box_area(d[0], d[1], d[2], d[3]);
}

int fm_detout_forward(const fm_detout_param *p, const fm_tensor *loc, const fm_tensor *conf,
                      const fm_tensor *prior, fm_tensor *out, void *scratch)
{
    dims_t d;
    if (get_dims(p, &loc->shape, &conf->shape, &prior->shape, &d, NULL) != FM_OK)
        return 0;
    layout_t l = layout(&d);
    unsigned char *s = scratch;
    float *boxes = (float *)(void *)(s + l.boxes);
    cand_t *cand = (cand_t *)(void *)(s + l.cand);
    int *kept = (int *)(void *)(s + l.kept);
    int *nkept = (int *)(void *)(s + l.nkept);
    cand_t *all = (cand_t *)(void *)(s + l.all);
    cand_t *tmp = (cand_t *)(void *)(s + l.tmp);

    size_t P = (size_t)d.P, C = (size_t)d.C, cap = capacity_rows(p, &d);
    const float *pbox = prior->data, *pvar = prior->data + P * 4;
    int limit = num_targets(p) == 1 && p->keep_top_k > 0 ? p->keep_top_k : INT_MAX;
    size_t rows = 0;
    float *o = out->data;

    for (int n = 0; n < d.N; n++) {
        const float *ln = loc->data + (size_t)n * P * (size_t)d.nloc * 4;
        const float *cn = conf->data + (size_t)n * P * C;
        /* Decode; with unshared locations the background's boxes are skipped. */
        for (int c = 0; c < d.nloc; c++) {
            if (!p->share_location && c == p->background_label_id)
                continue;
            for (size_t i = 0; i < P; i++)
                decode(p, pbox + i * 4, pvar + i * 4, ln + (i * (size_t)d.nloc + (size_t)c) * 4,
                       boxes + ((size_t)c * P + i) * 5);
        }
        /* Per-class threshold, top_k and NMS. */
        for (size_t c = 0; c < C; c++) {
            nkept[c] = 0;
            if ((int)c == p->background_label_id)
                continue;
            const float *bx = boxes + (p->share_location ? 0 : c * P * 5);
            size_t nc = 0;
            for (size_t i = 0; i < P; i++) {
                float sc = cn[i * C + c];
                if (sc > p->confidence_threshold) {
                    cand[nc].score = sc;
                    cand[nc].label = (int)c;
                    cand[nc].idx = (int)i;
                    nc++;
                }
            }
            sort_desc(cand, nc, tmp);
            if (nc > d.per_class)
                nc = d.per_class;
            int *kc = kept + c * d.per_class;
            int nk = 0;
            for (size_t i = 0; i < nc; i++) {
                const float *b = bx + (size_t)cand[i].idx * 5;
                int keep = 1;
                for (int k = 0; k < nk && keep; k++)
                    keep = iou(b, bx + (size_t)kc[k] * 5) <= p->nms_threshold;
                if (keep) {
                    kc[nk++] = cand[i].idx;
                    if (nk >= limit)
                        break;
                }
            }
            nkept[c] = nk;
        }
        /* All classes together, by score (keep_top_k cut when needed). */
        size_t na = 0;
        for (size_t c = 0; c < C; c++)
            for (int k = 0; k < nkept[c]; k++) {
                int idx = kept[c * d.per_class + (size_t)k];
                all[na].score = cn[(size_t)idx * C + c];
                all[na].label = (int)c;
                all[na].idx = idx;
                na++;
            }
        sort_desc(all, na, tmp);
        if (p->keep_top_k > -1 && na > (size_t)p->keep_top_k)
            na = (size_t)p->keep_top_k;
        for (size_t k = 0; k < na && rows < cap; k++, rows++) {
            const float *b = boxes + ((p->share_location ? 0 : (size_t)all[k].label * P) +
                                      (size_t)all[k].idx) * 5;
            float *r = o + rows * 7;
            r[0] = (float)n;
            r[1] = (float)all[k].label;
            r[2] = all[k].score;
            r[3] = b[0];
            r[4] = b[1];
            r[5] = b[2];
            r[6] = b[3];
        }
    }
    if (cap > rows)
        memset(o + rows * 7, 0, (cap - rows) * 7 * sizeof(float));
    return (int)rows;
}
