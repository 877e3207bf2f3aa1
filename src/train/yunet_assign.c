/* yunet_assign.c - SimOTA assignment of YuNet's grid cells to faces (see yunet_assign.h). */
#include "train/yunet_assign.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/metrics.h"

#define INF_COST 100000.0
#define IOU_EPS 1e-7

typedef struct {
    int level, cell;
} cand;

/* Where a prior lies relative to a face: 1 inside the box, 2 inside the centre region. */
static int where(double x, double y, int stride, const float f[4])
{
    int in_box = x - f[0] > 0 && f[2] - x > 0 && y - f[1] > 0 && f[3] - y > 0;
    double cx = 0.5 * ((double)f[0] + f[2]), cy = 0.5 * ((double)f[1] + f[3]);
    double r = FM_SIMOTA_CENTER_RADIUS * stride;
    int in_ctr = x - (cx - r) > 0 && (cx + r) - x > 0 && y - (cy - r) > 0 && (cy + r) - y > 0;
    return in_box | (in_ctr << 1);
}

/* PyTorch's binary_cross_entropy: logs clamped at -100. */
static double bce_prob(double p, double t)
{
    double lp = p > 0 ? fmax(log(p), -100.0) : -100.0;
    double lq = p < 1 ? fmax(log(1.0 - p), -100.0) : -100.0;
    return -(t * lp + (1.0 - t) * lq);
}

static double sigmoid(double z)
{
    return 1.0 / (1.0 + exp(-z));
}

/* The candidate cells (step 1), in level then cell order. */
static int candidates(const fm_yunet_grid *g, const float (*faces)[4], int nfaces, cand *out)
{
    int n = 0;
    for (int l = 0; l < FM_YUNET_LEVELS; l++) {
        int s = 8 << l;
        for (int r = 0; r < g->rows[l]; r++)
            for (int c = 0; c < g->cols[l]; c++) {
                int any = 0;
                for (int j = 0; j < nfaces && !any; j++)
                    any = where((double)c * s, (double)r * s, s, faces[j]) != 0;
                if (any)
                    out[n++] = (cand){l, r * g->cols[l] + c};
            }
    }
    return n;
}

/* Step 2 for candidate i: IoUs and costs against every face. */
static void costs_of(const fm_yunet_grid *g, const fm_yunet_head *in, cand cd,
                     const float (*faces)[4], int nfaces, double *iou, double *cost)
{
    int s = 8 << cd.level, r = cd.cell / g->cols[cd.level], c = cd.cell % g->cols[cd.level];
    double box[4];
    fm_yunet_box_decode(in->bbox[cd.level] + (size_t)cd.cell * 4, r, c, s, box);
    double score = sqrt(sigmoid(in->cls[cd.level][cd.cell]) * sigmoid(in->obj[cd.level][cd.cell]));
    fm_eval_box pb = {box[0], box[1], box[2], box[3]};
    for (int j = 0; j < nfaces; j++) {
        fm_eval_box fb = {faces[j][0], faces[j][1], faces[j][2], faces[j][3]};
        iou[j] = fm_eval_iou(pb, fb);
        cost[j] = bce_prob(score, iou[j]) + FM_SIMOTA_IOU_WEIGHT * -log(iou[j] + IOU_EPS);
        if (where((double)c * s, (double)r * s, s, faces[j]) != 3)
            cost[j] += INF_COST;
    }
}

/* k_j = max(1, floor(sum of the face's topk largest IoUs)) (step 3). */
static int dynamic_k(const double *iou, int ncand, int nfaces, int j, double *tmp)
{
    int k = ncand < FM_SIMOTA_TOPK ? ncand : FM_SIMOTA_TOPK;
    for (int i = 0; i < ncand; i++)
        tmp[i] = iou[(size_t)i * nfaces + j];
    double sum = 0;
    for (int t = 0; t < k; t++) { /* partial selection: k <= 10 passes */
        int best = t;
        for (int i = t + 1; i < ncand; i++)
            if (tmp[i] > tmp[best])
                best = i;
        double v = tmp[best];
        tmp[best] = tmp[t];
        tmp[t] = v;
        sum += v;
    }
    int dk = (int)sum; /* torch's .int() truncates toward zero */
    return dk < 1 ? 1 : dk;
}

/* Face j takes its k cheapest candidates (earlier candidate on ties): owner[i] / owner_cost[i]
 * keep the cheapest face of each candidate so far (step 4 as it goes). */
static void take(const double *cost, int ncand, int nfaces, int j, int k, unsigned char *used,
                 int *owner, double *owner_cost)
{
    memset(used, 0, (size_t)ncand);
    for (int t = 0; t < k && t < ncand; t++) {
        int best = -1;
        for (int i = 0; i < ncand; i++)
            if (!used[i] && (best < 0 || cost[(size_t)i * nfaces + j] <
                                             cost[(size_t)best * nfaces + j]))
                best = i;
        used[best] = 1;
        double cj = cost[(size_t)best * nfaces + j];
        if (owner[best] < 0 || cj < owner_cost[best]) {
            owner[best] = j;
            owner_cost[best] = cj;
        }
    }
}

int fm_yunet_assign(const fm_yunet_grid *g, const fm_yunet_head *in, const float (*faces)[4],
                    int nfaces, fm_yunet_pos *pos, int max_pos, fm_err *err)
{
    if (nfaces <= 0)
        return 0;
    size_t cells = 0;
    for (int l = 0; l < FM_YUNET_LEVELS; l++)
        cells += (size_t)g->rows[l] * g->cols[l];
    cand *cd = malloc((cells + 1) * sizeof *cd);
    if (!cd) {
        fm_err_set(err, FM_ERR_NOMEM, "SimOTA: out of memory (%zu cells)", cells);
        return -1;
    }
    int n = candidates(g, faces, nfaces, cd), npos = 0;
    size_t nm = (size_t)n * nfaces + 1;
    double *iou = malloc(nm * sizeof *iou), *cost = malloc(nm * sizeof *cost);
    double *tmp = malloc(((size_t)n + 1) * sizeof *tmp), *owner_cost = malloc(((size_t)n + 1) * sizeof(double));
    int *owner = malloc(((size_t)n + 1) * sizeof *owner);
    unsigned char *used = malloc((size_t)n + 1);
    if (!iou || !cost || !tmp || !owner_cost || !owner || !used) {
        fm_err_set(err, FM_ERR_NOMEM, "SimOTA: out of memory (%d candidates x %d faces)", n,
                   nfaces);
        npos = -1;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        costs_of(g, in, cd[i], faces, nfaces, iou + (size_t)i * nfaces, cost + (size_t)i * nfaces);
        owner[i] = -1;
    }
    for (int j = 0; j < nfaces && n > 0; j++)
        take(cost, n, nfaces, j, dynamic_k(iou, n, nfaces, j, tmp), used, owner, owner_cost);
    for (int i = 0; i < n; i++) {
        if (owner[i] < 0)
            continue;
        if (npos >= max_pos) {
            fm_err_set(err, FM_ERR_LIMIT, "SimOTA: more than %d positive cells", max_pos);
            npos = -1;
            goto done;
        }
        pos[npos].level = cd[i].level;
        pos[npos].cell = cd[i].cell;
        memcpy(pos[npos].box, faces[owner[i]], sizeof pos[npos].box);
        npos++;
    }
done:
    free(cd);
    free(iou);
    free(cost);
    free(tmp);
    free(owner_cost);
    free(owner);
    free(used);
    return npos;
}
