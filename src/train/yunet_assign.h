/* yunet_assign.h - which grid cells learn which face: SimOTA, as YuNet's training does it.
 *
 * libfacedetection.train (mmdet/models/dense_heads/yunet_head.py, with mmdet's SimOTAAssigner
 * at its defaults center_radius 2.5, candidate_topk 10, iou_weight 3) assigns cells per image
 * from the network's own current predictions; read for reference, our own code:
 *   1. candidates: a cell whose prior (c s, r s) lies strictly inside a face's box, or
 *      strictly within 2.5 s of the face's centre in both x and y, for any face;
 *   2. for each candidate i and face j: the IoU of the cell's decoded box (yunet_loss.h) with
 *      the face, and the cost
 *          BCE(sqrt(sigmoid(cls_i) sigmoid(obj_i)), IoU_ij) + 3 (-log(IoU_ij + 1e-7))
 *          + 1e5 unless the prior is both inside the box and within the centre region
 *      (the classification target is the IoU, as mmdet 2.x since the IoU-aware fix; BCE's
 *      logs clamped at -100 as PyTorch does);
 *   3. dynamic k: face j takes k_j = max(1, floor(sum of its 10 largest IoUs)) candidates,
 *      those of lowest cost (ties: the earlier cell, level by level);
 *   4. a cell taken by several faces keeps only the face of lowest cost (ties: the first).
 * A face with no candidate gets no cell. Positives come out in level then cell order.
 *
 *     fm_yunet_grid g = fm_yunet_grid_of(640, 640);
 *     int npos = fm_yunet_assign(&g, &head, faces, nfaces, pos, max_pos, &err);
 *     double l = fm_yunet_loss(&g, &head, pos, npos, NULL, &grad, &parts);
 */
#ifndef FM_YUNET_ASSIGN_H
#define FM_YUNET_ASSIGN_H

#include "core/err.h"
#include "train/yunet_loss.h"

#define FM_SIMOTA_CENTER_RADIUS 2.5
#define FM_SIMOTA_TOPK 10
#define FM_SIMOTA_IOU_WEIGHT 3.0

/* faces: nfaces boxes (x1, y1, x2, y2) in pixels of the network input. pos: room for max_pos
 * positives (at most one a cell; nfaces * FM_YUNET_MAX_POS_PER_FACE is always enough).
 * Returns the number of positives written, or -1 (err set: out of memory, or more positives
 * than max_pos). Scratch is allocated per call, O(candidates x faces). */
#define FM_YUNET_MAX_POS_PER_FACE FM_SIMOTA_TOPK
int fm_yunet_assign(const fm_yunet_grid *g, const fm_yunet_head *in, const float (*faces)[4],
                    int nfaces, fm_yunet_pos *pos, int max_pos, fm_err *err);

#endif
