/* det_augment.c - random square crops, flips and colour jitter of scene photos for YuNet's
 * training (see det_augment.h). */
#include "data/det_augment.h"

#include <math.h>
#include <string.h>

#include "data/augment.h"

/* configs/yunet_n.py RandomSquareCrop crop_choice */
static const double g_choices[FM_DET_AUG_CHOICES] = {0.5, 0.7, 0.9, 1.1, 1.3, 1.5};

fm_det_aug_params fm_det_aug_defaults(int size)
{
    return (fm_det_aug_params){size, 1, 1, 32.0f, 0.5f, 2.0f};
}

fm_det_aug_params fm_det_aug_none(int size)
{
    return (fm_det_aug_params){size, 0, 0, 0.0f, 0.0f, 1.0f};
}

/* A square window of the source: corner (x0, y0), side q. */
typedef struct {
    double x0, y0, side;
} window;

static int holds_centre(const window *w, const fm_det_box *b, int n)
{
    for (int i = 0; i < n; i++) {
        double cx = 0.5 * ((double)b[i].x1 + b[i].x2), cy = 0.5 * ((double)b[i].y1 + b[i].y2);
        if (cx > w->x0 && cx < w->x0 + w->side && cy > w->y0 && cy < w->y0 + w->side)
            return 1;
    }
    return 0;
}

/* A corner along one side of length len for a window of side q (whole pixels): inside the
 * side when the window fits, else covering the whole side; uniform over those positions. */
static double corner(fm_rng *r, int len, int q)
{
    int lo = len < q ? len - q : 0, hi = len < q ? 0 : len - q;
    return lo + (double)fm_rng_below(r, (uint64_t)(hi - lo) + 1);
}

static window pick_window(const fm_image *in, const fm_det_box *b, int n,
                          const fm_det_aug_params *p, uint64_t seed)
{
    window whole = {0, 0, in->w > in->h ? in->w : in->h};
    if (!p->crop)
        return whole;
    fm_rng r;
    fm_rng_init(&r, seed);
    int q = (int)floor(g_choices[fm_rng_below(&r, FM_DET_AUG_CHOICES)] *
                       (in->w < in->h ? in->w : in->h));
    if (q < 1)
        return whole;
    for (int t = 0; t < FM_DET_AUG_TRIES; t++) {
        window w;
        w.side = q;
        w.x0 = corner(&r, in->w, q);
        w.y0 = corner(&r, in->h, q);
        if (n == 0 || holds_centre(&w, b, n))
            return w;
    }
    return whole;
}

/* The faces seen in window w, clipped, scaled to the output and mirrored if flip. */
static int map_boxes(const window *w, const fm_det_box *b, int n, int flip,
                     const fm_det_aug_params *p, fm_det_box *out)
{
    double s = p->size / w->side;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!holds_centre(w, b + i, 1))
            continue;
        double x1 = fmax(b[i].x1, w->x0) - w->x0, x2 = fmin(b[i].x2, w->x0 + w->side) - w->x0;
        double y1 = fmax(b[i].y1, w->y0) - w->y0, y2 = fmin(b[i].y2, w->y0 + w->side) - w->y0;
        x1 *= s, x2 *= s, y1 *= s, y2 *= s;
        if (x2 - x1 < p->min_side || y2 - y1 < p->min_side)
            continue;
        if (flip) {
            double t = p->size - x2;
            x2 = p->size - x1;
            x1 = t;
        }
        out[k++] = (fm_det_box){(float)x1, (float)y1, (float)x2, (float)y2, b[i].label};
    }
    return k;
}

/* Colour jitter as a table over 8-bit values (the same for the three channels). */
static void colour_table(const fm_det_aug_params *p, uint64_t seed, int *flip, float lut[256])
{
    fm_rng r;
    fm_rng_init(&r, seed ^ 0x5DEECE66DULL);
    *flip = p->hflip && fm_rng_uniform(&r) < 0.5;
    int do_b = fm_rng_uniform(&r) < 0.5;
    double d = fm_rng_range(&r, -p->brightness, p->brightness);
    int do_c = fm_rng_uniform(&r) < 0.5;
    double k = fm_rng_range(&r, 1.0 - p->contrast, 1.0 + p->contrast);
    for (int v = 0; v < 256; v++) {
        double y = v + (do_b ? d : 0.0);
        if (do_c)
            y = (y - 128.0) * k + 128.0;
        lut[v] = (float)(y < 0 ? 0 : y > 255 ? 255 : y);
    }
}

/* Bilinear sampling of window w into S x S CHW floats; outside the image is 0. */
static void sample(const fm_image *in, const window *w, int flip, const float lut[256], int S,
                   float *x)
{
    size_t plane = (size_t)S * S;
    double s = w->side / S;
    for (int v = 0; v < S; v++) {
        double sy = w->y0 + (v + 0.5) * s - 0.5;
        int y0 = (int)floor(sy);
        double fy = sy - y0;
        for (int u = 0; u < S; u++) {
            int uu = flip ? S - 1 - u : u;
            double sx = w->x0 + (uu + 0.5) * s - 0.5;
            int x0 = (int)floor(sx);
            double fx = sx - x0;
            double acc[3] = {0, 0, 0};
            for (int dy = 0; dy < 2; dy++) {
                int yy = y0 + dy;
                if (yy < 0 || yy >= in->h)
                    continue;
                double wy = dy ? fy : 1 - fy;
                const uint8_t *row = in->data + (size_t)yy * in->stride;
                for (int dx = 0; dx < 2; dx++) {
                    int xx = x0 + dx;
                    if (xx < 0 || xx >= in->w)
                        continue;
                    double wgt = wy * (dx ? fx : 1 - fx);
                    for (int c = 0; c < 3; c++)
                        acc[c] += wgt * lut[row[3 * xx + c]];
                }
            }
            for (int c = 0; c < 3; c++)
                x[c * plane + (size_t)v * S + u] = (float)acc[c];
        }
    }
}

fm_status fm_det_augment(const fm_image *in, const fm_det_box *boxes, int n,
                         const fm_det_aug_params *p, uint64_t seed, float *x, fm_det_box *out,
                         int *nout, fm_err *err)
{
    if (p->size < 32 || p->size > 4096 || !(p->brightness >= 0 && p->brightness <= 255) ||
        !(p->contrast >= 0 && p->contrast <= 1) || !(p->min_side >= 0) || n < 0)
        return fm_err_set(err, FM_ERR_ARG,
                          "detector augmentation: bad parameters (size %d, brightness %g, "
                          "contrast %g, min_side %g)",
                          p->size, p->brightness, p->contrast, p->min_side);
    window w = pick_window(in, boxes, n, p, seed);
    int flip;
    float lut[256];
    colour_table(p, seed, &flip, lut);
    sample(in, &w, flip, lut, p->size, x);
    *nout = map_boxes(&w, boxes, n, flip, p, out);
    return FM_OK;
}

typedef struct {
    fm_det_aug_job *jobs;
    int n;
    const fm_det_aug_params *p;
} many_ctx;

static void many_worker(void *ctx, int tid, int nt)
{
    many_ctx *m = ctx;
    size_t b, e;
    fm_split((size_t)m->n, tid, nt, &b, &e);
    for (size_t i = b; i < e; i++) {
        fm_det_aug_job *j = &m->jobs[i];
        j->status = fm_det_augment(j->img, j->boxes, j->n, m->p, j->seed, j->x, j->out,
                                   &j->nout, NULL);
    }
}

fm_status fm_det_augment_many(fm_pool *pool, fm_det_aug_job *jobs, int n,
                              const fm_det_aug_params *p, fm_err *err)
{
    many_ctx m = {jobs, n, p};
    fm_pool_run(pool, many_worker, &m);
    for (int i = 0; i < n; i++)
        if (jobs[i].status != FM_OK) /* the same check again, for its message */
            return fm_det_augment(jobs[i].img, jobs[i].boxes, jobs[i].n, p, jobs[i].seed,
                                  jobs[i].x, jobs[i].out, &jobs[i].nout, err);
    return FM_OK;
}
