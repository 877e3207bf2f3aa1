/* tensor.h - shapes and dense float tensors (NCHW, row-major, contiguous).
 *
 * A shape has 1 to 4 axes, as Caffe blobs do: a convolution weight is
 * (out, in/group, kh, kw), an activation (n, c, h, w), a bias (c).
 * A tensor is a shape and a pointer it does not own.
 */
#ifndef FM_TENSOR_H
#define FM_TENSOR_H

#include <stddef.h>

#define FM_MAX_DIMS 4

typedef struct {
    int ndim;
    int d[FM_MAX_DIMS];
} fm_shape;

typedef struct {
    fm_shape shape;
    float *data;
} fm_tensor;

static inline fm_shape fm_shape1(int a)
{
    fm_shape s = {1, {a, 0, 0, 0}};
    return s;
}
static inline fm_shape fm_shape2(int a, int b)
{
    fm_shape s = {2, {a, b, 0, 0}};
    return s;
}
static inline fm_shape fm_shape3(int a, int b, int c)
{
    fm_shape s = {3, {a, b, c, 0}};
    return s;
}
static inline fm_shape fm_shape4(int n, int c, int h, int w)
{
    fm_shape s = {4, {n, c, h, w}};
    return s;
}

/* Number of elements; 0 for an empty or invalid shape. */
size_t fm_shape_count(const fm_shape *s);
/* Product of axes [from, to). */
size_t fm_shape_count_range(const fm_shape *s, int from, int to);
int fm_shape_eq(const fm_shape *a, const fm_shape *b);
/* "1x3x300x300" into buf; returns buf. */
char *fm_shape_str(const fm_shape *s, char *buf, size_t size);

#endif
