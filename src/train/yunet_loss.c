/* yunet_loss.c - YuNet's obj / cls / bbox losses and their gradients (see yunet_loss.h). */
#include "train/yunet_loss.h"

#include <math.h>
#include <string.h>

#include "eval/metrics.h"

double fm_bce_logits(double z, double t, double *dz)
{
    double a = fabs(z);
    if (dz)
        *dz = (z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z))) - t;
    return (z > 0 ? z : 0.0) - z * t + log1p(exp(-a));
}

/* ---- smooth EIoU ----------------------------------------------------------------------- */

/* A coordinate picked by min / max: its value and which predicted coordinate it is (-1: the
 * target's, no gradient). */
typedef struct {
    double v;
    int p;
} pick;

static pick pmin(pick a, pick b)
{
    return a.v <= b.v ? a : b; /* ties: the first, as torch.min's gradient goes to one side */
}

static pick pmax(pick a, pick b)
{
    return a.v >= b.v ? a : b;
}

double fm_eiou_loss(const double p[4], const double t[4], double dp[4])
{
    pick P[4], T[4];
    for (int k = 0; k < 4; k++) {
        P[k] = (pick){p[k], k};
        T[k] = (pick){t[k], -1};
    }
    pick ex1 = pmin(P[0], T[0]), ey1 = pmin(P[1], T[1]);
    pick ix1 = pmax(P[0], T[0]), iy1 = pmax(P[1], T[1]);
    pick ix2 = pmin(P[2], T[2]), iy2 = pmin(P[3], T[3]);
    pick xmin = pmin(ix1, ix2), ymin = pmin(iy1, iy2);
    pick xmax = pmax(ix1, ix2), ymax = pmax(iy1, iy2);
    /* I = sum of sign (X - ex1)(Y - ey1) over four terms (eiou_loss's "Intersection") */
    const pick X[4] = {ix2, xmin, ix1, xmax}, Y[4] = {iy2, ymin, ymax, iy1};
    static const double sign[4] = {1, 1, -1, -1};
    double inter = 0, dI[4] = {0, 0, 0, 0};
    for (int k = 0; k < 4; k++) {
        double xf = X[k].v - ex1.v, yf = Y[k].v - ey1.v;
        inter += sign[k] * xf * yf;
        /* d/dX = yf, d/dex1 = -yf, d/dY = xf, d/dey1 = -xf */
        if (X[k].p >= 0)
            dI[X[k].p] += sign[k] * yf;
        if (ex1.p >= 0)
            dI[ex1.p] -= sign[k] * yf;
        if (Y[k].p >= 0)
            dI[Y[k].p] += sign[k] * xf;
        if (ey1.p >= 0)
            dI[ey1.p] -= sign[k] * xf;
    }
    double pw = p[2] - p[0], ph = p[3] - p[1];
    double uni = pw * ph + (t[2] - t[0]) * (t[3] - t[1]) - inter + FM_YUNET_EIOU_EPS;
    double l = 1.0 - inter / uni;
    double s = FM_YUNET_EIOU_SMOOTH;
    double loss = l < s ? 0.5 * l * l / s : l - 0.5 * s;
    if (dp) {
        double dl = l < s ? l / s : 1.0;
        /* l = 1 - I / U, U = area_p + area_t - I + eps:
         * dl/dI = -(1/U + I/U^2), dl/darea_p = I / U^2 */
        double dldI = -(1.0 / uni + inter / (uni * uni)), dlda = inter / (uni * uni);
        double da[4] = {-ph, -pw, ph, pw}; /* d area_p / d (x1, y1, x2, y2) */
        for (int k = 0; k < 4; k++)
            dp[k] = dl * (dldI * dI[k] + dlda * da[k]);
    }
    return loss;
}

/* ---- decoding -------------------------------------------------------------------------- */

void fm_yunet_box_decode(const float b[4], int r, int c, int stride, double box[4])
{
    double s = stride;
    double cx = ((double)c + b[0]) * s, cy = ((double)r + b[1]) * s;
    double w = exp((double)b[2]) * s, h = exp((double)b[3]) * s;
    box[0] = cx - 0.5 * w;
    box[1] = cy - 0.5 * h;
    box[2] = cx + 0.5 * w;
    box[3] = cy + 0.5 * h;
}

void fm_yunet_box_decode_backward(const float b[4], int stride, const double dbox[4],
                                  double db[4])
{
    double s = stride;
    double w = exp((double)b[2]) * s, h = exp((double)b[3]) * s;
    db[0] = (dbox[0] + dbox[2]) * s;
    db[1] = (dbox[1] + dbox[3]) * s;
    db[2] = 0.5 * (dbox[2] - dbox[0]) * w; /* dw / dlw = w */
    db[3] = 0.5 * (dbox[3] - dbox[1]) * h;
}

fm_yunet_grid fm_yunet_grid_of(int w, int h)
{
    fm_yunet_grid g;
    for (int k = 0; k < FM_YUNET_LEVELS; k++) {
        int s = 8 << k;
        g.rows[k] = h / s;
        g.cols[k] = w / s;
    }
    return g;
}

/* ---- one image ------------------------------------------------------------------------ */

/* The first of pos[0, n) at (level, cell), or -1. */
static int find_pos(const fm_yunet_pos *pos, int n, int level, int cell)
{
    for (int i = 0; i < n; i++)
        if (pos[i].level == level && pos[i].cell == cell)
            return i;
    return -1;
}

double fm_yunet_loss(const fm_yunet_grid *g, const fm_yunet_head *in, const fm_yunet_pos *pos,
                     int npos, const float *cls_target, fm_yunet_head_grad *grad,
                     fm_yunet_loss_parts *parts)
{
    for (int i = 0; i < npos; i++) {
        int k = pos[i].level;
        if (k < 0 || k >= FM_YUNET_LEVELS || pos[i].cell < 0 ||
            pos[i].cell >= g->rows[k] * g->cols[k] || find_pos(pos, i, k, pos[i].cell) >= 0)
            return -1.0;
    }
    double lobj = 0, lcls = 0, lbox = 0, iou_sum = 0;
    /* obj over every cell as a negative (positives corrected below); cls and bbox gradients
     * zero but at the positives */
    for (int k = 0; k < FM_YUNET_LEVELS; k++) {
        size_t n = (size_t)g->rows[k] * (size_t)g->cols[k];
        if (grad && grad->cls[k])
            memset(grad->cls[k], 0, n * sizeof(float));
        if (grad && grad->bbox[k])
            memset(grad->bbox[k], 0, 4 * n * sizeof(float));
        for (size_t j = 0; j < n; j++) {
            double d;
            lobj += fm_bce_logits(in->obj[k][j], 0.0, &d);
            if (grad && grad->obj[k])
                grad->obj[k][j] = (float)d;
        }
    }
    for (int i = 0; i < npos; i++) {
        int k = pos[i].level, cell = pos[i].cell, s = 8 << k;
        /* obj: this cell's target is 1, not 0 */
        double d1, z = in->obj[k][cell];
        lobj += fm_bce_logits(z, 1.0, &d1) - fm_bce_logits(z, 0.0, NULL);
        if (grad && grad->obj[k])
            grad->obj[k][cell] = (float)d1;
        int r = cell / g->cols[k], c = cell % g->cols[k];
        const float *b = in->bbox[k] + 4 * (size_t)cell;
        double box[4], face[4] = {pos[i].box[0], pos[i].box[1], pos[i].box[2], pos[i].box[3]};
        fm_yunet_box_decode(b, r, c, s, box);
        fm_eval_box eb = {box[0], box[1], box[2], box[3]}, ef = {face[0], face[1], face[2], face[3]};
        double iou = fm_eval_iou(eb, ef);
        iou_sum += iou;
        double target = cls_target ? (double)cls_target[i] : iou, d;
        lcls += fm_bce_logits(in->cls[k][cell], target, &d);
        if (grad && grad->cls[k])
            grad->cls[k][cell] = (float)d;
        double dbox[4], db[4];
        lbox += FM_YUNET_BBOX_WEIGHT * fm_eiou_loss(box, face, dbox);
        if (grad && grad->bbox[k]) {
            for (int q = 0; q < 4; q++)
                dbox[q] *= FM_YUNET_BBOX_WEIGHT;
            fm_yunet_box_decode_backward(b, s, dbox, db);
            for (int q = 0; q < 4; q++)
                grad->bbox[k][4 * (size_t)cell + q] = (float)db[q];
        }
    }
    if (parts) {
        parts->cls = lcls;
        parts->obj = lobj;
        parts->bbox = lbox;
        parts->mean_iou = npos > 0 ? iou_sum / npos : 0.0;
    }
    return lcls + lobj + lbox;
}
