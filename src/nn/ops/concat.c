/* concat.c - Caffe Concat along one axis (negative counts from the end).
 * OpenCV 4.6 concat_layer.cpp: all inputs have the same number of axes and
 * agree on every axis except `axis`; the output is the inputs one after
 * another along that axis.
 */
#include <stdio.h>
#include <string.h>

#include "nn/ops/ops.h"

fm_status fm_concat_shape(const fm_shape *const *in, int ninputs, int axis, fm_shape *out,
                          fm_err *err)
{
    char a[64], b[64];
    if (ninputs < 1)
        return fm_err_set(err, FM_ERR_ARG, "concat: needs at least 1 input, got %d", ninputs);
    int nd = in[0]->ndim;
    if (nd < 1 || nd > FM_MAX_DIMS || fm_shape_count(in[0]) == 0)
        return fm_err_set(err, FM_ERR_SHAPE, "concat: input 0 has an empty or invalid shape %s",
                          fm_shape_str(in[0], a, sizeof a));
    int ax = axis < 0 ? axis + nd : axis;
    if (ax < 0 || ax >= nd)
        return fm_err_set(err, FM_ERR_ARG, "concat: axis %d is out of range for %d-D input %s", axis,
                          nd, fm_shape_str(in[0], a, sizeof a));
    fm_shape s = *in[0];
    for (int i = 1; i < ninputs; i++) {
        const fm_shape *t = in[i];
        int ok = t->ndim == nd && fm_shape_count(t) > 0;
        for (int k = 0; ok && k < nd; k++)
            if (k != ax && t->d[k] != s.d[k])
                ok = 0;
        if (!ok)
            return fm_err_set(err, FM_ERR_SHAPE,
                              "concat: input %d is %s but input 0 is %s; they must agree on every "
                              "axis except axis %d",
                              i, fm_shape_str(t, a, sizeof a), fm_shape_str(in[0], b, sizeof b), ax);
        s.d[ax] += t->d[ax];
    }
    *out = s;
    return FM_OK;
}

void fm_concat_forward(const fm_tensor *const *in, int ninputs, int axis, fm_tensor *out)
{
    int nd = out->shape.ndim;
    int ax = axis < 0 ? axis + nd : axis;
    size_t outer = fm_shape_count_range(&out->shape, 0, ax);
    size_t out_row = fm_shape_count_range(&out->shape, ax, nd);
    size_t pos = 0;
    for (int i = 0; i < ninputs; i++) {
        size_t row = fm_shape_count_range(&in[i]->shape, ax, nd);
        for (size_t o = 0; o < outer; o++)
            memcpy(out->data + o * out_row + pos, in[i]->data + o * row, row * sizeof(float));
        pos += row;
    }
}
