/* conv.c - convolution: Caffe's output shape and the plain reference forward.
 *
 * The reference is the direct seven-loop definition (batch, output channel,
 * output row, output column, input channel of the group, kernel row, kernel
 * column) with groups, dilation, stride and zero padding; bias and the fused
 * activation are applied per output value. conv_fast.c is tested against it.
 */
#include "nn/ops/ops.h"
#include "nn/ops/simd.h"

static float act_apply(fm_activation a, float x)
{
    switch (a.act) {
    case FM_ACT_RELU:
        return x > 0.0f ? x : (a.slope != 0.0f ? x * a.slope : 0.0f);
    case FM_ACT_RELU6:
        return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    case FM_ACT_SIGMOID:
        return fm_sigmoid_scalar(x);
    case FM_ACT_NONE:
    default:
        return x;
    }
}

/* One spatial axis: Caffe's (in + 2*pad - (dilation*(k-1)+1)) / stride + 1. */
static fm_status axis_out(const char *axis, int in, int k, int s, int pad, int dil, int *out,
                          fm_err *err)
{
    long long ext = (long long)dil * (k - 1) + 1;
    long long span = (long long)in + 2LL * pad - ext;
    if (span < 0)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "convolution: %s: kernel extent %lld (kernel %d, dilation %d) is larger "
                          "than the padded input %lld (input %d, pad %d)",
                          axis, ext, k, dil, (long long)in + 2LL * pad, in, pad);
    long long o = span / s + 1;
    if (o > 0x7fffffffLL)
        return fm_err_set(err, FM_ERR_LIMIT, "convolution: %s: output size %lld too large", axis, o);
    *out = (int)o;
    return FM_OK;
}

fm_status fm_conv_shape(const fm_conv_param *p, const fm_shape *in, fm_shape *out, fm_err *err)
{
    if (in->ndim != 4)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "convolution: input has %d axes, expected 4 (N, C, H, W)", in->ndim);
    for (int i = 0; i < 4; i++)
        if (in->d[i] <= 0)
            return fm_err_set(err, FM_ERR_SHAPE,
                              "convolution: input axis %d is %d, expected a positive size", i,
                              in->d[i]);
    if (p->num_output <= 0)
        return fm_err_set(err, FM_ERR_ARG, "convolution: num_output %d, expected > 0",
                          p->num_output);
    if (p->group <= 0)
        return fm_err_set(err, FM_ERR_ARG, "convolution: group %d, expected > 0", p->group);
    if (p->kernel_h <= 0 || p->kernel_w <= 0)
        return fm_err_set(err, FM_ERR_ARG, "convolution: kernel %dx%d, expected positive sizes",
                          p->kernel_h, p->kernel_w);
    if (p->stride_h <= 0 || p->stride_w <= 0)
        return fm_err_set(err, FM_ERR_ARG, "convolution: stride %dx%d, expected positive values",
                          p->stride_h, p->stride_w);
    if (p->dilation_h <= 0 || p->dilation_w <= 0)
        return fm_err_set(err, FM_ERR_ARG,
                          "convolution: dilation %dx%d, expected positive values", p->dilation_h,
                          p->dilation_w);
    if (p->pad_h < 0 || p->pad_w < 0)
        return fm_err_set(err, FM_ERR_ARG, "convolution: pad %dx%d, expected >= 0", p->pad_h,
                          p->pad_w);
    if (in->d[1] % p->group != 0)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "convolution: input channels %d not divisible by group %d", in->d[1],
                          p->group);
    if (p->num_output % p->group != 0)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "convolution: num_output %d not divisible by group %d", p->num_output,
                          p->group);
    if (p->act.act != FM_ACT_NONE && p->act.act != FM_ACT_RELU && p->act.act != FM_ACT_RELU6 &&
        p->act.act != FM_ACT_SIGMOID)
        return fm_err_set(err, FM_ERR_ARG, "convolution: unknown activation %d", (int)p->act.act);
    int oh, ow;
    fm_status st = axis_out("height", in->d[2], p->kernel_h, p->stride_h, p->pad_h, p->dilation_h,
                            &oh, err);
    if (st != FM_OK)
        return st;
    st = axis_out("width", in->d[3], p->kernel_w, p->stride_w, p->pad_w, p->dilation_w, &ow, err);
    if (st != FM_OK)
        return st;
    *out = fm_shape4(in->d[0], p->num_output, oh, ow);
    return FM_OK;
}

fm_shape fm_conv_weight_shape(const fm_conv_param *p, int in_channels)
{
    int g = p->group > 0 ? p->group : 1;
    return fm_shape4(p->num_output, in_channels / g, p->kernel_h, p->kernel_w);
}

void fm_conv_forward_ref(const fm_conv_param *p, const fm_tensor *in, const float *weight,
                         const float *bias, fm_tensor *out)
{
    const int N = in->shape.d[0], C = in->shape.d[1], H = in->shape.d[2], W = in->shape.d[3];
    const int M = out->shape.d[1], OH = out->shape.d[2], OW = out->shape.d[3];
    const int G = p->group, CG = C / G, MG = M / G;
    const int KH = p->kernel_h, KW = p->kernel_w;
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++) {
            const int g = m / MG;
            const float *wm = weight + (size_t)m * CG * KH * KW;
            float *o = out->data + ((size_t)n * M + m) * OH * OW;
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double acc = bias && p->bias_term ? bias[m] : 0.0;
                    for (int c = 0; c < CG; c++) {
                        const float *x = in->data + ((size_t)n * C + (size_t)g * CG + c) * H * W;
                        for (int ky = 0; ky < KH; ky++) {
                            int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
                            if (iy < 0 || iy >= H)
                                continue;
                            for (int kx = 0; kx < KW; kx++) {
                                int ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
                                if (ix < 0 || ix >= W)
                                    continue;
                                acc += (double)x[(size_t)iy * W + ix] *
                                       wm[((size_t)c * KH + ky) * KW + kx];
                            }
                        }
                    }
                    o[(size_t)oy * OW + ox] = act_apply(p->act, (float)acc);
                }
        }
}
