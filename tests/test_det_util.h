/* test_det_util.h - `detect --json` lines (and the OpenCV fixtures written in the same
 * format) parsed and compared: boxes, scores and, for YuNet, five landmarks per face. */
#ifndef FM_TEST_DET_UTIL_H
#define FM_TEST_DET_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define FM_DET_MAX_FACES 64

typedef struct {
    char image[256];
    int w, h, nfaces;
    float box[FM_DET_MAX_FACES][4];
    float score[FM_DET_MAX_FACES];
    int nlm[FM_DET_MAX_FACES]; /* 0 or 5 */
    float lm[FM_DET_MAX_FACES][5][2];
} fm_det_line;

/* Parses one line: {"image":..,"width":..,"height":..,"faces":[{"box":[..],"score":..
 * [,"landmarks":[[x,y]x5]] [,"label":..,"mask_prob":..]}]}; returns 1 on success. */
static inline int fm_det_parse_line(const char *s, fm_det_line *d)
{
    memset(d, 0, sizeof *d);
    const char *p = strstr(s, "{\"image\":\"");
    if (!p)
        return 0;
    p += 10;
    const char *q = strchr(p, '"');
    if (!q || (size_t)(q - p) >= sizeof d->image)
        return 0;
    memcpy(d->image, p, (size_t)(q - p));
    if (sscanf(q, "\",\"width\":%d,\"height\":%d,\"faces\":[", &d->w, &d->h) != 2)
        return 0;
    const char *f = strstr(q, "\"faces\":[");
    if (!f)
        return 0;
    f += 9;
    while (*f == '{' && d->nfaces < FM_DET_MAX_FACES) {
        int k = d->nfaces;
        float *b = d->box[k];
        int used = 0;
        if (sscanf(f, "{\"box\":[%f,%f,%f,%f],\"score\":%f%n", &b[0], &b[1], &b[2], &b[3],
                   &d->score[k], &used) != 5 || used == 0)
            return 0;
        f += used;
        if (strncmp(f, ",\"landmarks\":[", 14) == 0) {
            f += 14;
            for (int l = 0; l < 5; l++) {
                if (sscanf(f, "[%f,%f]%n", &d->lm[k][l][0], &d->lm[k][l][1], &used) != 2)
                    return 0;
                f += used;
                if (*f == ',')
                    f++;
            }
            if (*f != ']')
                return 0;
            f++;
            d->nlm[k] = 5;
        }
        const char *end = strchr(f, '}'); /* label and mask_prob, if any */
        if (!end)
            return 0;
        f = end + 1;
        d->nfaces++;
        if (*f == ',')
            f++;
    }
    return strncmp(f, "]}", 2) == 0;
}

static inline int fm_det_load_lines(const char *text, fm_det_line *out, int max)
{
    int n = 0;
    const char *line = text;
    while (line && *line && n < max) {
        if (fm_det_parse_line(line, &out[n]))
            n++;
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return n;
}

static inline double fm_det_iou(const float *a, const float *b)
{
    double ix = fmin(a[2], b[2]) - fmax(a[0], b[0]);
    double iy = fmin(a[3], b[3]) - fmax(a[1], b[1]);
    double aa = (double)(a[2] - a[0]) * (a[3] - a[1]), ab = (double)(b[2] - b[0]) * (b[3] - b[1]);
    if (aa <= 0 || ab <= 0) /* a box clipped to nothing: same corners, or no match */
        return fabs(a[0] - b[0]) + fabs(a[1] - b[1]) + fabs(a[2] - b[2]) + fabs(a[3] - b[3]) < 1
                   ? 1.0
                   : 0.0;
    if (ix <= 0 || iy <= 0)
        return 0;
    return ix * iy / (aa + ab - ix * iy);
}

typedef struct {
    int ok;
    char why[256];
    double worst_iou, worst_score, worst_landmark; /* over matched faces */
} fm_det_match;

/* Every face of want matched to a distinct face of got (best IoU first come) with IoU >=
 * min_iou, score within max_score and, when both have landmarks, each point within
 * max_lm pixels; and got has no other face. */
static inline fm_det_match fm_det_compare(const fm_det_line *want, const fm_det_line *got,
                                          double min_iou, double max_score, double max_lm)
{
    fm_det_match m;
    memset(&m, 0, sizeof m);
    m.ok = 1;
    m.worst_iou = 1;
    if (want->w != got->w || want->h != got->h) {
        m.ok = 0;
        snprintf(m.why, sizeof m.why, "size %dx%d, expected %dx%d", got->w, got->h, want->w,
                 want->h);
        return m;
    }
    if (want->nfaces != got->nfaces) {
        m.ok = 0;
        snprintf(m.why, sizeof m.why, "%d faces, expected %d", got->nfaces, want->nfaces);
    }
    int taken[FM_DET_MAX_FACES] = {0};
    for (int a = 0; a < want->nfaces; a++) {
        int best = -1;
        double best_iou = 0;
        for (int b = 0; b < got->nfaces; b++) {
            double v = fm_det_iou(want->box[a], got->box[b]);
            if (!taken[b] && v > best_iou) {
                best = b;
                best_iou = v;
            }
        }
        if (best < 0) {
            m.ok = 0;
            snprintf(m.why, sizeof m.why, "face %d has no match", a);
            continue;
        }
        taken[best] = 1;
        double ds = fabs((double)want->score[a] - (double)got->score[best]);
        double dl = 0;
        if (want->nlm[a] && got->nlm[best])
            for (int l = 0; l < 5; l++)
                for (int c = 0; c < 2; c++)
                    dl = fmax(dl, fabs((double)want->lm[a][l][c] - got->lm[best][l][c]));
        m.worst_iou = fmin(m.worst_iou, best_iou);
        m.worst_score = fmax(m.worst_score, ds);
        m.worst_landmark = fmax(m.worst_landmark, dl);
        if (best_iou < min_iou || ds > max_score || dl > max_lm) {
            m.ok = 0;
            snprintf(m.why, sizeof m.why, "face %d: IoU %.4f, score %.4f vs %.4f, landmarks %.2f px",
                     a, best_iou, (double)got->score[best], (double)want->score[a], dl);
        }
    }
    return m;
}

/* Reads one raw output of tests/fixtures/yunet/raw (a "# shape=..." line, then one value a
 * line) into a new array of exactly n floats; NULL when the file is missing or has another
 * count. */
static inline float *fm_det_read_raw(const char *path, size_t n)
{
    char *text = fm_test_read_file(path, NULL);
    if (!text)
        return NULL;
    float *v = malloc(n * sizeof *v);
    const char *p = strchr(text, '\n');
    size_t k = 0;
    while (v && p && *p) {
        char *end;
        double x = strtod(p, &end);
        if (end == p)
            break;
        if (k < n)
            v[k] = (float)x;
        k++;
        p = end;
    }
    free(text);
    if (k != n) {
        free(v);
        return NULL;
    }
    return v;
}

#endif
