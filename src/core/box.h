/* box.h - an axis-aligned box in pixels, shared by the detector, the crops, the tracker
 * and the metrics: (x1, y1) is the top-left corner, (x2, y2) the bottom-right one, in
 * continuous pixel coordinates (the box covers x1 <= x < x2, y1 <= y < y2); its width is
 * x2 - x1. */
#ifndef FM_BOX_H
#define FM_BOX_H

typedef struct {
    float x1, y1, x2, y2;
} fm_box;

#endif
