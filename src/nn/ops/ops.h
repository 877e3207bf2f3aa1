/* ops.h - the operators of facemask's inference engine.
 *
 * Each operator lives in its own file (src/nn/ops/<op>.c) and is a set of
 * plain functions over raw tensors, so it can be tested on its own:
 *   - fm_<op>_shape(): the output shape for given input shapes, or an error
 *     that names what disagrees;
 *   - fm_<op>_forward(): computes the output into memory the caller owns.
 * Operators that need speed also have fm_<op>_forward_ref(), a plain
 * reference the optimised path is tested against. Nothing here allocates
 * during a forward pass; the net (net.c) plans all memory up front.
 *
 * Layouts: activations NCHW; weights as Caffe stores them. "In place" means
 * out->data may equal in->data.
 */
#ifndef FM_OPS_H
#define FM_OPS_H

#include "core/err.h"
#include "core/pool.h"
#include "nn/tensor.h"

/* Activation fused into the output of convolution / inner product / affine. */
typedef enum {
    FM_ACT_NONE = 0,
    FM_ACT_RELU,  /* max(x, 0), or x * slope for x < 0 when slope != 0 (leaky) */
    FM_ACT_RELU6, /* min(max(x, 0), 6) */
    FM_ACT_SIGMOID /* 1 / (1 + exp(-x)); within 1e-6 relative of that in float (the SIMD
                    * paths use a polynomial exp); 0 below about -87.3, never NaN for finite x */
} fm_act;

typedef struct {
    fm_act act;
    float slope; /* FM_ACT_RELU negative slope */
} fm_activation;

/* ---- Convolution (conv.c: reference; conv_fast.c: optimised) ----------- */
typedef struct {
    int num_output;
    int group;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_h, pad_w;
    int dilation_h, dilation_w;
    int bias_term;
    fm_activation act; /* applied after bias */
} fm_conv_param;

/* in: (N, C, H, W); weight: (num_output, C/group, kernel_h, kernel_w). */
fm_status fm_conv_shape(const fm_conv_param *p, const fm_shape *in, fm_shape *out, fm_err *err);
/* Shape the weight blob must have for input channels C. */
fm_shape fm_conv_weight_shape(const fm_conv_param *p, int in_channels);
void fm_conv_forward_ref(const fm_conv_param *p, const fm_tensor *in, const float *weight,
                         const float *bias, fm_tensor *out);

/* The optimised convolution: a plan made once per layer and input shape
 * (it packs the weights, which it owns), run many times. */
typedef struct fm_conv_plan fm_conv_plan;
fm_conv_plan *fm_conv_plan_create(const fm_conv_param *p, const fm_shape *in, const float *weight,
                                  const float *bias, int max_threads, fm_err *err);
/* Bytes of scratch memory fm_conv_run needs (shared by all layers of a net). */
size_t fm_conv_plan_scratch(const fm_conv_plan *plan);
/* in and out must not overlap; scratch is at least fm_conv_plan_scratch() bytes, 64-byte aligned. */
void fm_conv_run(const fm_conv_plan *plan, const float *in, float *out, void *scratch, fm_pool *pool);
void fm_conv_plan_free(fm_conv_plan *plan);

/* ---- A 1x1 convolution then a depthwise 3x3 one (conv_pw_dw.c) ---------- */
/* pw: 1x1, stride 1, no padding, one group (C -> M channels, its own activation);
 * dw: depthwise 3x3, stride 1, pad 1 over those M channels. The net folds such pairs
 * (the 1x1's output read by the depthwise only) into one node so that the 1x1's
 * output never goes to memory whole. */
int fm_pwdw_fusable(const fm_conv_param *pw, const fm_conv_param *dw, int in_channels);
fm_status fm_pwdw_shape(const fm_conv_param *pw, const fm_conv_param *dw, const fm_shape *in,
                        fm_shape *out, fm_err *err);
/* Reference: the two reference convolutions; mid holds the 1x1's output,
 * fm_pwdw_ref_scratch() bytes. */
void fm_pwdw_forward_ref(const fm_conv_param *pw, const float *pw_w, const float *pw_b,
                         const fm_conv_param *dw, const float *dw_w, const float *dw_b,
                         const fm_tensor *in, float *mid, fm_tensor *out);
size_t fm_pwdw_ref_scratch(const fm_conv_param *pw, const fm_shape *in);
/* The optimised pair: a plan per input shape (owns its packed weights), run many times;
 * the 1x1's output lives only in a few rows of per-thread scratch. */
typedef struct fm_pwdw_plan fm_pwdw_plan;
fm_pwdw_plan *fm_pwdw_plan_create(const fm_conv_param *pw, const float *pw_w, const float *pw_b,
                                  const fm_conv_param *dw, const float *dw_w, const float *dw_b,
                                  const fm_shape *in, int max_threads, fm_err *err);
/* Bytes of scratch fm_pwdw_run needs (64-byte aligned). */
size_t fm_pwdw_plan_scratch(const fm_pwdw_plan *plan);
/* in and out must not overlap. */
void fm_pwdw_run(const fm_pwdw_plan *plan, const float *in, float *out, void *scratch,
                 fm_pool *pool);
void fm_pwdw_plan_free(fm_pwdw_plan *plan);

/* ---- Per-channel affine: BatchNorm and Scale (affine.c) ------------------ */
/* Caffe BatchNorm (use_global_stats): y = (x - mean/s) / sqrt(var/s + eps),
 * s = scale_factor (0 means 0). Writes the equivalent y = x * a + b. */
void fm_batchnorm_coeffs(const float *mean, const float *var, float scale_factor, float eps,
                         int channels, float *a, float *b);
/* y[n,c,...] = x[n,c,...] * scale[c] + bias[c] (bias may be NULL), then act.
 * Works on any shape with the channel axis at index 1 (or a 1-D/2-D (N, C)).
 * In place allowed. */
fm_status fm_affine_shape(const fm_shape *in, int channels, fm_shape *out, fm_err *err);
void fm_affine_forward(const fm_tensor *in, const float *scale, const float *bias, fm_activation act,
                       fm_tensor *out, fm_pool *pool);

/* ---- ReLU / ReLU6 / Sigmoid (relu.c) ----------------------------------- */
/* Elementwise activation; in place allowed. */
void fm_act_forward(const fm_tensor *in, fm_activation act, fm_tensor *out, fm_pool *pool);

/* ---- Pooling (pooling.c) ---------------------------------------------- */
typedef enum { FM_POOL_MAX = 0, FM_POOL_AVE = 1 } fm_pool_method;
typedef struct {
    fm_pool_method method;
    int global;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_h, pad_w;
    int floor_mode; /* 1: ONNX/PyTorch floor output size (ceil_mode 0); 0: Caffe's ceil */
} fm_pool_param;
/* Output size: Caffe's (and OpenCV's) ceil mode, last window clipped to start inside the
 * padded input; or with floor_mode, floor((in + 2*pad - kernel) / stride) + 1, every window
 * inside the padded input. Average pooling divides by the window clipped to input + pad. */
fm_status fm_pool_shape(const fm_pool_param *p, const fm_shape *in, fm_shape *out, fm_err *err);
void fm_pool_forward(const fm_pool_param *p, const fm_tensor *in, fm_tensor *out, fm_pool *pool);
/* The window geometry for an H x W input (global pooling resolved), and the window of output
 * (oy, ox) clipped to the input: [*ys, *ye) x [*xs, *xe). Returns OpenCV's averaging factor,
 * 1 / (the window clipped to the input plus its padding). Shared by inference and training.
 * Valid for every output fm_pool_shape gives in either rounding mode (floor mode's windows
 * are never clipped by the padding end, so the same rule holds). */
typedef struct {
    int kh, kw, sh, sw, ph, pw;
} fm_pooling_window;
fm_pooling_window fm_pooling_geometry(const fm_pool_param *p, int H, int W);
float fm_pooling_clip(const fm_pooling_window *w, int H, int W, int oy, int ox, int *ys, int *ye,
                      int *xs, int *xe);

/* ---- Resize (resize.c): ONNX Resize, nearest, asymmetric, floor ---------- */
typedef struct {
    float scale_h, scale_w; /* output / input size along H and W, in (0, 16] */
} fm_resize_param;
/* in: (N, C, H, W); out: (N, C, floor(H * scale_h), floor(W * scale_w)). Errors name the
 * scales for one out of range, and the sizes for an empty output. */
fm_status fm_resize_shape(const fm_resize_param *p, const fm_shape *in, fm_shape *out, fm_err *err);
/* out[y][x] = in[min(floor(y / scale_h), H-1)][min(floor(x / scale_w), W-1)] (the division in
 * float). out must not overlap in. */
void fm_resize_forward_ref(const fm_resize_param *p, const fm_tensor *in, fm_tensor *out);
/* The rule above along one axis: the input index (of `in`) that output index o reads. */
int fm_resize_src_index(int o, float scale, int in);
/* The same, with a fast path for scale 2 x 2; planes split over the pool (may be NULL). */
void fm_resize_forward(const fm_resize_param *p, const fm_tensor *in, fm_tensor *out, fm_pool *pool);

/* ---- Eltwise (eltwise.c) ---------------------------------------------- */
typedef enum { FM_ELTWISE_PROD = 0, FM_ELTWISE_SUM = 1, FM_ELTWISE_MAX = 2 } fm_eltwise_op;
typedef struct {
    fm_eltwise_op op;
    int ncoeff;         /* 0 or ninputs */
    const float *coeff; /* SUM only: per-input coefficients */
    fm_activation act;  /* fused activation after the combination */
} fm_eltwise_param;
fm_status fm_eltwise_shape(const fm_shape *const *in, int ninputs, fm_shape *out, fm_err *err);
/* out may equal in[0]. */
void fm_eltwise_forward(const fm_eltwise_param *p, const fm_tensor *const *in, int ninputs,
                        fm_tensor *out, fm_pool *pool);

/* ---- Concat (concat.c) -------------------------------------------------- */
fm_status fm_concat_shape(const fm_shape *const *in, int ninputs, int axis, fm_shape *out,
                          fm_err *err);
void fm_concat_forward(const fm_tensor *const *in, int ninputs, int axis, fm_tensor *out);

/* ---- Flatten and Reshape (reshape.c): same data, new shape ---------------- */
/* Caffe Flatten: axes [axis, end_axis] merged (negative counts from the end). */
fm_status fm_flatten_shape(const fm_shape *in, int axis, int end_axis, fm_shape *out, fm_err *err);
/* Caffe Reshape with axis = 0, num_axes = -1: dim 0 copies the input axis, -1 is inferred. */
fm_status fm_reshape_shape(const fm_shape *in, const int *dims, int ndims, fm_shape *out,
                           fm_err *err);
/* Copies the data (the count is the same); no copy when out->data == in->data. */
void fm_reshape_forward(const fm_tensor *in, fm_tensor *out);

/* ---- Permute (permute.c) ------------------------------------------------ */
fm_status fm_permute_shape(const fm_shape *in, const int *order, int norder, fm_shape *out,
                           fm_err *err);
/* Any order, strided reads (the reference). */
void fm_permute_forward_ref(const fm_tensor *in, const int *order, int norder, fm_tensor *out);
/* The same; NCHW -> NHWC (0, 2, 3, 1) and 3-D (0, 2, 1) as a tiled transpose. */
void fm_permute_forward(const fm_tensor *in, const int *order, int norder, fm_tensor *out);

/* ---- Normalize (normalize.c): SSD's L2 normalisation ------------------- */
typedef struct {
    int across_spatial;
    int channel_shared;
    float eps; /* Caffe default 1e-10 */
} fm_normalize_param;
/* scale has 1 (channel_shared) or C values. */
void fm_normalize_forward(const fm_normalize_param *p, const fm_tensor *in, const float *scale,
                          fm_tensor *out);

/* ---- PriorBox (priorbox.c) ---------------------------------------------- */
#define FM_PRIORBOX_MAX 8
typedef struct {
    int nmin, nmax, naspect;
    float min_size[FM_PRIORBOX_MAX];
    float max_size[FM_PRIORBOX_MAX];
    float aspect[FM_PRIORBOX_MAX]; /* as given; 1 and flips are added as Caffe does */
    int flip;
    int clip;
    int nvariance; /* 1 or 4 */
    float variance[4];
    int img_h, img_w;    /* 0: from the image input */
    float step_h, step_w; /* 0: image size / feature size */
    float offset;         /* default 0.5 */
} fm_priorbox_param;
/* Priors per feature-map cell for these parameters. */
int fm_priorbox_count(const fm_priorbox_param *p);
/* feat: (N, C, H, W) feature map; image: (N, 3, IH, IW). out: (1, 2, H*W*count*4). */
fm_status fm_priorbox_shape(const fm_priorbox_param *p, const fm_shape *feat, const fm_shape *image,
                            fm_shape *out, fm_err *err);
void fm_priorbox_forward(const fm_priorbox_param *p, const fm_shape *feat, const fm_shape *image,
                         fm_tensor *out);

/* ---- Softmax (softmax.c) ------------------------------------------------ */
fm_status fm_softmax_shape(const fm_shape *in, int axis, fm_shape *out, fm_err *err);
/* In place allowed. */
void fm_softmax_forward(const fm_tensor *in, int axis, fm_tensor *out);

/* ---- DetectionOutput (detection_output.c): SSD decoding and NMS ----------- */
typedef struct {
    int num_classes;
    int share_location;
    int background_label_id;
    float nms_threshold;
    int top_k;      /* per class before NMS; -1 = all */
    int keep_top_k; /* after NMS, over all classes; -1 = all */
    float confidence_threshold;
    int code_type; /* 1 CORNER, 2 CENTER_SIZE, 3 CORNER_SIZE (Caffe's enum values) */
    int variance_encoded_in_target;
    int clip; /* OpenCV's clip option: clip decoded boxes to [0, 1] */
} fm_detout_param;
/* loc: (N, P*4 [* classes unless shared]); conf: (N, P*num_classes); prior: (1, 2, P*4).
 * out: (1, 1, keep_top_k, 7) is the capacity; the rows written are returned. */
fm_status fm_detout_shape(const fm_detout_param *p, const fm_shape *loc, const fm_shape *conf,
                          const fm_shape *prior, fm_shape *out, fm_err *err);
/* Scratch needed by fm_detout_forward, in bytes. */
size_t fm_detout_scratch(const fm_detout_param *p, const fm_shape *loc, const fm_shape *conf);
/* Rows of [image_id, label, score, x1, y1, x2, y2] ordered as OpenCV orders them. */
int fm_detout_forward(const fm_detout_param *p, const fm_tensor *loc, const fm_tensor *conf,
                      const fm_tensor *prior, fm_tensor *out, void *scratch);

/* ---- InnerProduct (inner_product.c): a fully connected layer ------------- */
typedef struct {
    int num_output;
    int bias_term;
    fm_activation act; /* fused activation after the bias */
} fm_ip_param;
/* in: (N, ...) flattened from axis 1 to K features; out: (N, num_output). */
fm_status fm_ip_shape(const fm_ip_param *p, const fm_shape *in, fm_shape *out, fm_err *err);
/* weight: (num_output, K) row-major as Caffe stores it; bias may be NULL. */
void fm_ip_forward(const fm_ip_param *p, const fm_tensor *in, const float *weight, const float *bias,
                   fm_tensor *out, fm_pool *pool);

#endif
