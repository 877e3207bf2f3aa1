/* permute.c - Caffe/SSD Permute: out axis i is input axis order[i].
 * OpenCV 4.6 permute_layer.cpp (and Caffe's PermuteLayer): an order shorter
 * than the number of axes is completed with the unused axes in increasing
 * order; every axis must appear once. The output must not overlap the input.
 */
#include <stdio.h>

#include "nn/ops/ops.h"

static int full_order(const int *order, int norder, int nd, int *full)
{
    int used[FM_MAX_DIMS] = {0};
    if (norder > nd)
        return 0;
    for (int i = 0; i < norder; i++) {
        if (order[i] < 0 || order[i] >= nd || used[order[i]])
            return 0;
        used[order[i]] = 1;
        full[i] = order[i];
    }
    int k = norder;
    for (int i = 0; i < nd; i++)
        if (!used[i])
            full[k++] = i;
    return 1;
}

fm_status fm_permute_shape(const fm_shape *in, const int *order, int norder, fm_shape *out,
                           fm_err *err)
{
    char a[64];
    int nd = in->ndim, full[FM_MAX_DIMS];
    if (nd < 1 || nd > FM_MAX_DIMS || fm_shape_count(in) == 0)
        return fm_err_set(err, FM_ERR_SHAPE, "permute: input shape %s is empty or invalid",
                          fm_shape_str(in, a, sizeof a));
    if (!full_order(order, norder, nd, full))
        return fm_err_set(err, FM_ERR_ARG,
                          "permute: order of %d axes is not a permutation of the %d axes of %s "
                          "(each axis 0..%d at most once)",
                          norder, nd, fm_shape_str(in, a, sizeof a), nd - 1);
    fm_shape s = *in;
    for (int i = 0; i < nd; i++)
        s.d[i] = in->d[full[i]];
    *out = s;
    return FM_OK;
}

void fm_permute_forward(const fm_tensor *in, const int *order, int norder, fm_tensor *out)
{
    int nd = in->shape.ndim, full[FM_MAX_DIMS];
    if (!full_order(order, norder, nd, full))
        return;
    /* Work in 4-D: pad leading axes of size 1. */
    size_t istride[FM_MAX_DIMS], st = 1;
    for (int i = nd - 1; i >= 0; i--) {
        istride[i] = st;
        st *= (size_t)in->shape.d[i];
    }
    size_t od[4] = {1, 1, 1, 1}, os[4] = {0, 0, 0, 0};
    for (int i = 0; i < nd; i++) {
        od[4 - nd + i] = (size_t)in->shape.d[full[i]];
        os[4 - nd + i] = istride[full[i]];
    }
    const float *x = in->data;
    float *y = out->data;
    for (size_t a = 0; a < od[0]; a++)
        for (size_t b = 0; b < od[1]; b++)
            for (size_t c = 0; c < od[2]; c++) {
                const float *p = x + a * os[0] + b * os[1] + c * os[2];
                size_t s3 = os[3];
                for (size_t d = 0; d < od[3]; d++)
                    *y++ = p[d * s3];
            }
}
