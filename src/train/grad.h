/* grad.h - forward and backward of every operator the trainer runs.
 *
 * Each operator is a set of plain functions (kann style): forward, backward,
 * and for convolution and InnerProduct a plain reference (_ref) that the fast
 * path is tested against. Backward functions take the gradient of the loss
 * w.r.t. the operator's output and
 *   - write or add (add != 0) the gradient w.r.t. each input into dx
 *     (dx may be NULL when no one needs it),
 *   - always ADD the gradient w.r.t. weights and bias into dw / db
 *     (NULL: not wanted, e.g. a frozen layer), so a batch split into shards
 *     can accumulate.
 * A fused activation is not part of conv/ip backward: call fm_tact_backward
 * first (it works from the layer OUTPUT y, so no pre-activation is kept):
 *
 *     fm_tconv_forward(&ctx, &p, &x, w, b, &y);            // y = act(conv(x) + b)
 *     ...
 *     fm_tact_backward(&ctx, p.act, &y, &dy, &dy, 0);      // dy <- dy * act'(y), in place
 *     fm_tconv_backward(&ctx, &p, &x, w, &dy, &dx, 0, dw, db);
 *
 * Activations are batches of feature maps with explicit strides (fm_fmap), so
 * the same code runs on NCHW and on the channel-major layout the trainer uses
 * (C, N, H, W): there, all samples of a channel are one row and a 1x1
 * convolution over the whole batch is a single GEMM.
 *
 * Fast paths get an fm_tctx: the SGEMM level, a reference switch, and work
 * memory of at least fm_tconv_work_floats() / fm_tip_work_floats() floats
 * (64-byte aligned). Nothing here allocates or uses threads; the trainer
 * splits batches over threads itself. fm_tnet sets ctx.reference when the
 * environment has FM_REFERENCE=1 (as fm_net does).
 */
#ifndef FM_GRAD_H
#define FM_GRAD_H

#include <stddef.h>
#include <stdint.h>

#include "nn/ops/ops.h"
#include "nn/ops/simd.h"

/* A batch of n feature maps of c planes of h x w floats. Plane (i, ch) starts at
 * data + i * ns + ch * cs and is contiguous (row stride w). */
typedef struct {
    float *data;
    int n, c, h, w;
    size_t ns, cs; /* floats between samples, between channels */
} fm_fmap;

static inline fm_fmap fm_fmap_nchw(float *data, int n, int c, int h, int w)
{
    fm_fmap m = {data, n, c, h, w, (size_t)c * (size_t)h * (size_t)w, (size_t)h * (size_t)w};
    return m;
}

/* Channel-major: (C, N, H, W) in memory. */
static inline fm_fmap fm_fmap_cnhw(float *data, int n, int c, int h, int w)
{
    fm_fmap m = {data, n, c, h, w, (size_t)h * (size_t)w, (size_t)n * (size_t)h * (size_t)w};
    return m;
}

static inline float *fm_fmap_plane(const fm_fmap *m, int i, int ch)
{
    return m->data + (size_t)i * m->ns + (size_t)ch * m->cs;
}

typedef struct {
    fm_isa isa;      /* SGEMM micro-kernel level */
    int reference;   /* non-zero: the plain reference loops only */
    float *work;     /* work memory, 64-byte aligned */
    size_t work_floats;
} fm_tctx;

/* ---- Activation (ReLU, leaky ReLU, ReLU6, sigmoid) -------------------------- */
/* y = act(x); in place allowed. */
void fm_tact_forward(fm_activation a, const fm_fmap *x, fm_fmap *y);
/* dx (=|+=) dy * act'(y), from the OUTPUT y: ReLU passes where y > 0 (leaky: slope
 * elsewhere; slope >= 0 assumed), ReLU6 where 0 < y < 6, sigmoid scales by y (1 - y).
 * dx may equal dy (add 0).
 * ctx: only its SIMD level is used (NULL: portable C). */
void fm_tact_backward(const fm_tctx *ctx, fm_activation a, const fm_fmap *y, const fm_fmap *dy,
                      fm_fmap *dx, int add);

/* ---- Convolution ----------------------------------------------------------- */
/* x: (n, C, H, W); y: (n, num_output, OH, OW) as fm_conv_shape says; w as Caffe
 * stores it (num_output, C/group, kh, kw); b: num_output or NULL. */
/* Work floats for a batch of n samples of (c, h, w). */
size_t fm_tconv_work_floats(const fm_conv_param *p, int n, int c, int h, int w);
void fm_tconv_forward(const fm_tctx *ctx, const fm_conv_param *p, const fm_fmap *x, const float *w,
                      const float *b, fm_fmap *y);
/* dz: gradient w.r.t. the pre-activation output. */
void fm_tconv_backward(const fm_tctx *ctx, const fm_conv_param *p, const fm_fmap *x,
                       const float *w, const fm_fmap *dz, fm_fmap *dx, int add, float *dw,
                       float *db);
void fm_tconv_forward_ref(const fm_conv_param *p, const fm_fmap *x, const float *w, const float *b,
                          fm_fmap *y);
void fm_tconv_backward_ref(const fm_conv_param *p, const fm_fmap *x, const float *w,
                           const fm_fmap *dz, fm_fmap *dx, int add, float *dw, float *db);

/* ---- InnerProduct ------------------------------------------------------------ */
/* x: (n, C, H, W), K = C*H*W features per sample in NCHW order; y: (n, num_output, 1, 1);
 * w: (num_output, K) row-major; b: num_output or NULL. */
size_t fm_tip_work_floats(const fm_ip_param *p, int n, int k);
void fm_tip_forward(const fm_tctx *ctx, const fm_ip_param *p, const fm_fmap *x, const float *w,
                    const float *b, fm_fmap *y);
void fm_tip_backward(const fm_tctx *ctx, const fm_ip_param *p, const fm_fmap *x, const float *w,
                     const fm_fmap *dz, fm_fmap *dx, int add, float *dw, float *db);
void fm_tip_forward_ref(const fm_ip_param *p, const fm_fmap *x, const float *w, const float *b,
                        fm_fmap *y);
void fm_tip_backward_ref(const fm_ip_param *p, const fm_fmap *x, const float *w, const fm_fmap *dz,
                         fm_fmap *dx, int add, float *dw, float *db);

/* ---- Eltwise SUM ------------------------------------------------------------- */
/* y = act(sum_i coeff[i] * x[i]) (coeff 1 when p->ncoeff == 0). SUM only. */
void fm_teltwise_forward(const fm_eltwise_param *p, const fm_fmap *const *x, int nx, fm_fmap *y);
/* dx (=|+=) coeff[index] * dz, dz the gradient before the fused activation. */
void fm_teltwise_backward(const fm_eltwise_param *p, const fm_fmap *dz, int index, fm_fmap *dx,
                          int add);

/* ---- Pooling (Caffe/OpenCV windows, as nn/ops/pooling.c) --------------------- */
/* Output size from fm_pool_shape. Average divides by the window clipped to input + pad. */
void fm_tpool_forward(const fm_pool_param *p, const fm_fmap *x, fm_fmap *y);
/* Max pooling sends the gradient to the first maximum of each window, found again in x. */
void fm_tpool_backward(const fm_pool_param *p, const fm_fmap *x, const fm_fmap *dy, fm_fmap *dx,
                       int add);

/* ---- Resize, nearest (as nn/ops/resize.c: asymmetric, floor) ----------------- */
/* y (n, c, floor(h * scale_h), floor(w * scale_w)) from x (n, c, h, w); out of place. */
void fm_tresize_forward(const fm_resize_param *p, const fm_fmap *x, fm_fmap *y);
/* dx (=|+=) for each input the sum of dy over the outputs that copy it (a 2x upsampling:
 * the sum of its 2x2 block). dy and dx must not overlap. */
void fm_tresize_backward(const fm_resize_param *p, const fm_fmap *dy, fm_fmap *dx, int add);

/* ---- Permute of a sample's axes (ONNX Transpose with the batch axis kept) ------ */
/* order: a permutation of (0, 1, 2) over a sample's axes (c, h, w): output axis k is input
 * axis order[k], so y's (c, h, w) are x's dims in that order (YuNet's heads, NCHW -> NHWC:
 * order (1, 2, 0)). Out of place. */
void fm_tpermute_forward(const int order[3], const fm_fmap *x, fm_fmap *y);
/* dx (=|+=) dy permuted back. dy and dx must not overlap. */
void fm_tpermute_backward(const int order[3], const fm_fmap *dy, fm_fmap *dx, int add);

/* ---- Dropout (inverted) ------------------------------------------------------ */
/* Training: y = x * keep / (1 - ratio), keep = 1 with probability 1 - ratio, drawn
 * from a counter-based hash of (seed, layer, sample0 + i, element index in the sample)
 * (element = ch * h * w + pixel), so the mask does not depend on threads or order.
 * ratio in [0, 1); in place allowed. */
int fm_dropout_keep(uint64_t seed, int layer, int sample, size_t element, float ratio);
void fm_dropout_forward(float ratio, uint64_t seed, int layer, int sample0, const fm_fmap *x,
                        fm_fmap *y);
void fm_dropout_backward(float ratio, uint64_t seed, int layer, int sample0, const fm_fmap *dy,
                         fm_fmap *dx, int add);

/* ---- Softmax + cross-entropy ------------------------------------------------- */
/* 1 / sum of the class weights of the labels (class_w NULL: 1 / n). */
double fm_softmax_ce_norm(const int *labels, int n, const float *class_w);
/* logits: (n, K, 1, 1). probs (must not alias logits) gets the softmax; loss[i] =
 * class_w[label] * -log p[label] (per sample, not normalised); dlogits (=|+=, may
 * be NULL) gets norm * class_w[label] * (p - onehot(label)), norm from
 * fm_softmax_ce_norm over the WHOLE batch, so the loss is sum(loss) * norm. Stable:
 * log p = z - max - log(sum exp(z - max)). Labels must be in [0, K). */
void fm_softmax_ce(const fm_fmap *logits, const int *labels, const float *class_w, float norm,
                   fm_fmap *probs, float *loss, fm_fmap *dlogits, int add);
/* Inference softmax over the channels of (n, K, 1, 1). */
void fm_tsoftmax_forward(const fm_fmap *logits, fm_fmap *probs);

/* ---- Helpers ---------------------------------------------------------------- */
/* Copies x into y (same dims, any strides); add: y += x. */
void fm_fmap_copy(const fm_fmap *x, fm_fmap *y, int add);
void fm_fmap_zero(fm_fmap *y);

#endif
