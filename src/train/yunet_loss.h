/* yunet_loss.h - YuNet's training losses, with their gradients.
 *
 * As libfacedetection.train trains YuNet-n (mmdet/models/dense_heads/yunet_head.py with
 * configs/yunet_n.py), for one image whose positive grid cells are given (the assignment of
 * cells to faces, SimOTA there, is the caller's):
 *   obj   BCE with logits over every cell of the three levels, target 1 on a positive cell
 *         and 0 elsewhere (loss weight 1);
 *   cls   BCE with logits on the positive cells, target the IoU of the cell's decoded box with
 *         its face (IoU-aware, fm_eval_iou; a constant: no gradient flows through the target)
 *         (weight 1);
 *   bbox  smooth EIoU (smooth point 0.1) of the decoded box with its face, on the positive
 *         cells (weight 5).
 * Each is a sum over the image; YuNet divides the three by max(positives in the batch, 1),
 * which the caller does (tnet.h: return sums, scale the gradients). The landmark loss is not
 * here: VOC has no landmarks, and issue 8 keeps that branch frozen.
 *
 * Decoding (as yunet_head.py _bbox_decode and face/yunet.c): cell (r, c) of a level of stride
 * s has its prior at (c s, r s); with the raw bbox outputs (dx, dy, lw, lh)
 *     cx = (c + dx) s,  cy = (r + dy) s,  w = exp(lw) s,  h = exp(lh) s,
 *     box = (cx - w/2, cy - h/2, cx + w/2, cy + h/2)   (pixels of the network input).
 *
 * cls and obj are LOGITS (the graph's Sigmoid inputs: fm_tnet_set_logit_outputs), so the BCE
 * gradient p - t survives a saturated sigmoid. All arithmetic is in double; losses are exact
 * sums, gradients are written (=) into the caller's arrays, zero where the loss does not reach.
 *
 *     fm_yunet_grid g = fm_yunet_grid_of(640, 640);
 *     fm_yunet_pos pos[2] = {{0, 41 * 80 + 17, {130, 320, 170, 372}}, ...};
 *     fm_yunet_loss_parts parts;
 *     double l = fm_yunet_loss(&g, &in, pos, 2, NULL, &grad, &parts);
 */
#ifndef FM_YUNET_LOSS_H
#define FM_YUNET_LOSS_H

#include <stddef.h>

#define FM_YUNET_LEVELS 3
#define FM_YUNET_BBOX_WEIGHT 5.0    /* configs/yunet_n.py loss_bbox loss_weight */
#define FM_YUNET_EIOU_SMOOTH 0.1    /* iou_loss.py eiou_loss smooth_point */
#define FM_YUNET_EIOU_EPS 1e-7      /* iou_loss.py eiou_loss eps */

/* BCE with logits: max(z, 0) - z t + log(1 + exp(-|z|)) (stable for any z); *dz (if not
 * NULL) gets sigmoid(z) - t. */
double fm_bce_logits(double z, double t, double *dz);

/* Smooth EIoU between a predicted box p and a target box t (x1, y1, x2, y2): with l = 1 - I/U
 * (I the signed intersection of eiou_loss, which goes negative for apart boxes so that they
 * still get a gradient; U = area p + area t - I + eps), the loss is 0.5 l^2 / 0.1 for
 * l < 0.1 and l - 0.05 above. dp (if not NULL) gets d loss / d p[0..3] (where a min or max
 * of eiou_loss ties exactly, the derivative of one side). */
double fm_eiou_loss(const double p[4], const double t[4], double dp[4]);

/* The decoded box of cell (r, c) at stride s from its raw bbox outputs b[0..3]; and the
 * gradient w.r.t. b of a gradient dbox w.r.t. the box's corners (db =, 4 values). */
void fm_yunet_box_decode(const float b[4], int r, int c, int stride, double box[4]);
void fm_yunet_box_decode_backward(const float b[4], int stride, const double dbox[4],
                                  double db[4]);

/* The grid of an input of w x h pixels: level k has stride 8 << k and (h / s) x (w / s) cells
 * (YuNet's input sides are multiples of 32). */
typedef struct {
    int rows[FM_YUNET_LEVELS], cols[FM_YUNET_LEVELS];
} fm_yunet_grid;
fm_yunet_grid fm_yunet_grid_of(int w, int h);

/* A positive cell and the face it regresses. */
typedef struct {
    int level;    /* 0, 1, 2: stride 8, 16, 32 */
    int cell;     /* r * cols + c in that level's grid */
    float box[4]; /* the face: x1, y1, x2, y2 in pixels of the network input */
} fm_yunet_pos;

/* One image's head outputs, per level, in the net's order (row-major cells): cls and obj one
 * logit a cell, bbox 4 values a cell. */
typedef struct {
    const float *cls[FM_YUNET_LEVELS], *obj[FM_YUNET_LEVELS], *bbox[FM_YUNET_LEVELS];
} fm_yunet_head;

/* Gradients, same layout (=: every entry written). A NULL array is skipped. */
typedef struct {
    float *cls[FM_YUNET_LEVELS], *obj[FM_YUNET_LEVELS], *bbox[FM_YUNET_LEVELS];
} fm_yunet_head_grad;

typedef struct {
    double cls, obj, bbox; /* the three sums, bbox with its weight 5 */
    double mean_iou;       /* mean IoU of the positives' decoded boxes with their faces */
} fm_yunet_loss_parts;

/* The sum cls + obj + 5 bbox for one image, with npos positives (distinct cells, each level
 * and cell in range: checked, -1 when not). cls_target: npos IoU targets, or NULL for the
 * IoU of each positive's current decoded box with its face (what YuNet does; give them
 * explicitly to hold them fixed, e.g. in a finite-difference check). grad and parts may be
 * NULL. */
double fm_yunet_loss(const fm_yunet_grid *g, const fm_yunet_head *in, const fm_yunet_pos *pos,
                     int npos, const float *cls_target, fm_yunet_head_grad *grad,
                     fm_yunet_loss_parts *parts);

#endif
