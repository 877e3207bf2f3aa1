/* reshape.c - Caffe Flatten and Reshape: the same data under a new shape.
 *
 * Flatten (OpenCV 4.6 flatten_layer.cpp, Caffe FlattenLayer): axes
 * [axis, end_axis] become one; negative axes count from the end.
 * Reshape (OpenCV reshape_layer.cpp computeShapeByReshapeMask, Caffe
 * ReshapeLayer) with axis = 0, num_axes = -1: every output axis comes from
 * `dims`; 0 copies the input axis at the same index, one -1 is inferred from
 * the element count.
 */
#include <stdio.h>
#include <string.h>

#include "nn/ops/ops.h"

fm_status fm_flatten_shape(const fm_shape *in, int axis, int end_axis, fm_shape *out, fm_err *err)
{
    char a[64];
    int nd = in->ndim;
    if (nd < 1 || nd > FM_MAX_DIMS || fm_shape_count(in) == 0)
        return fm_err_set(err, FM_ERR_SHAPE, "flatten: input shape %s is empty or invalid",
                          fm_shape_str(in, a, sizeof a));
    int b = axis < 0 ? axis + nd : axis, e = end_axis < 0 ? end_axis + nd : end_axis;
    if (b < 0 || b >= nd || e < 0 || e >= nd || b > e)
        return fm_err_set(err, FM_ERR_ARG,
                          "flatten: axes %d..%d are out of range or reversed for %d-D input %s", axis,
                          end_axis, nd, fm_shape_str(in, a, sizeof a));
    fm_shape s;
    memset(&s, 0, sizeof s);
    int k = 0;
    for (int i = 0; i < b; i++)
        s.d[k++] = in->d[i];
    size_t merged = fm_shape_count_range(in, b, e + 1);
    if (merged > 0x7fffffff)
        return fm_err_set(err, FM_ERR_LIMIT, "flatten: merged axis of %s is too large",
                          fm_shape_str(in, a, sizeof a));
    s.d[k++] = (int)merged;
    for (int i = e + 1; i < nd; i++)
        s.d[k++] = in->d[i];
    s.ndim = k;
    *out = s;
    return FM_OK;
}

fm_status fm_reshape_shape(const fm_shape *in, const int *dims, int ndims, fm_shape *out,
                           fm_err *err)
{
    char a[64];
    if (in->ndim < 1 || in->ndim > FM_MAX_DIMS || fm_shape_count(in) == 0)
        return fm_err_set(err, FM_ERR_SHAPE, "reshape: input shape %s is empty or invalid",
                          fm_shape_str(in, a, sizeof a));
    if (ndims < 1 || ndims > FM_MAX_DIMS)
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "reshape: %d output axes (facemask supports 1..%d)",
                          ndims, FM_MAX_DIMS);
    size_t total = fm_shape_count(in), known = 1;
    int infer = -1;
    fm_shape s;
    memset(&s, 0, sizeof s);
    s.ndim = ndims;
    for (int i = 0; i < ndims; i++) {
        int d = dims[i];
        if (d == 0) {
            if (i >= in->ndim)
                return fm_err_set(err, FM_ERR_SHAPE,
                                  "reshape: dim %d is 0 (copy the input axis) but input %s has only "
                                  "%d axes",
                                  i, fm_shape_str(in, a, sizeof a), in->ndim);
            d = in->d[i];
        } else if (d == -1) {
            if (infer >= 0)
                return fm_err_set(err, FM_ERR_ARG, "reshape: dims %d and %d are both -1; at most one "
                                  "may be inferred", infer, i);
            infer = i;
            continue;
        } else if (d < -1) {
            return fm_err_set(err, FM_ERR_ARG, "reshape: dim %d is %d; expected >= -1", i, d);
        }
        s.d[i] = d;
        known *= (size_t)d;
    }
    if (infer >= 0) {
        if (total % known != 0)
            return fm_err_set(err, FM_ERR_SHAPE,
                              "reshape: input %s has %zu elements, which the other dims (product "
                              "%zu) do not divide",
                              fm_shape_str(in, a, sizeof a), total, known);
        s.d[infer] = (int)(total / known);
    } else if (known != total) {
        return fm_err_set(err, FM_ERR_SHAPE,
                          "reshape: input %s has %zu elements but the new shape has %zu",
                          fm_shape_str(in, a, sizeof a), total, known);
    }
    *out = s;
    return FM_OK;
}

void fm_reshape_forward(const fm_tensor *in, fm_tensor *out)
{
    if (out->data != in->data)
        memmove(out->data, in->data, fm_shape_count(&in->shape) * sizeof(float));
}
