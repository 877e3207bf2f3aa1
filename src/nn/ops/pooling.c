/* pooling.c - Caffe max / average pooling over NCHW, as OpenCV 4.6 runs it.
 * (The file is pooling.c because src/core/pool.c is the thread pool.)
 *
 * Output size (OpenCV pooling_layer.cpp getMemoryShapes, Caffe PoolingLayer::Reshape):
 *   out = ceil((in + 2 * pad - kernel) / stride) + 1, then, when pad > 0, one
 *   less if the last window would start at or beyond in + pad (so every window
 *   starts inside the input or its left/top padding).
 *   floor_mode (ONNX MaxPool ceil_mode 0, PyTorch's default, OpenCV's ceil_mode
 *   false): out = floor((in + 2 * pad - kernel) / stride) + 1; every window then
 *   lies inside the padded input, so the window rule below is unchanged.
 * Windows (OpenCV PoolingInvoker, Caffe Forward_cpu):
 *   start = o * stride - pad; end = min(start + kernel, in + pad);
 *   the average divides by (end - start) in both axes, i.e. the window clipped
 *   to input + padding, padding counted (OpenCV's avePoolPaddedArea, on for
 *   Caffe models); then start/end are clipped to the input for the reads.
 *   OpenCV multiplies the sum by (float)(1.0 / area); Caffe divides by the
 *   area. We follow OpenCV (the two can differ in the last bit).
 *   Max starts from -FLT_MAX, so a window with no input pixel (impossible with
 *   pad < kernel, which the shape function enforces) would give -FLT_MAX.
 * Global pooling: kernel = input size, pad 0, stride 1 (OpenCV and Caffe).
 *
 * Two paths: pool_plane_ref() clips every window; pool_plane_fast() handles
 * the interior columns without clipping and the border columns through the
 * reference, and max 2x2 stride 2 without padding (YuNet's pooling) through
 * pool_plane_max2() (AVX2 at run time where the CPU has it, FM_NO_SIMD /
 * FM_ISA=scalar forcing the plain C version). The environment variable
 * FM_FORCE_REF=1 forces the reference, and the tests compare the paths.
 * Planes (n, c) are split over the pool.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "nn/ops/simd.h"

fm_pooling_window fm_pooling_geometry(const fm_pool_param *p, int H, int W)
{
    fm_pooling_window w;
    if (p->global) {
        w.kh = H;
        w.kw = W;
        w.sh = w.sw = 1;
        w.ph = w.pw = 0;
    } else {
        w.kh = p->kernel_h;
        w.kw = p->kernel_w;
        w.sh = p->stride_h;
        w.sw = p->stride_w;
        w.ph = p->pad_h;
        w.pw = p->pad_w;
    }
    return w;
}

float fm_pooling_clip(const fm_pooling_window *w, int H, int W, int oy, int ox, int *ys, int *ye,
                      int *xs, int *xe)
{
    int y0 = oy * w->sh - w->ph, y1 = y0 + w->kh;
    int x0 = ox * w->sw - w->pw, x1 = x0 + w->kw;
    if (y1 > H + w->ph)
        y1 = H + w->ph;
    if (x1 > W + w->pw)
        x1 = W + w->pw;
    int area = (y1 - y0) * (x1 - x0);
    *ys = y0 < 0 ? 0 : y0;
    *xs = x0 < 0 ? 0 : x0;
    *ye = y1 > H ? H : y1;
    *xe = x1 > W ? W : x1;
    return (float)(1.0 / area);
}

static int out_size(int in, int k, int s, int pad, int floor_mode)
{
    if (floor_mode)
        return (in + 2 * pad - k) / s + 1; /* in + 2 * pad >= k: checked by the caller */
    int o = (in + 2 * pad - k + s - 1) / s + 1; /* ceil mode */
    if (pad > 0 && (o - 1) * s >= in + pad)
        o--;
    return o;
}

fm_status fm_pool_shape(const fm_pool_param *p, const fm_shape *in, fm_shape *out, fm_err *err)
{
    char buf[64];
    if (in->ndim != 4 || fm_shape_count(in) == 0)
        return fm_err_set(err, FM_ERR_SHAPE, "pooling: input %s must be a non-empty NCHW (4-D) shape",
                          fm_shape_str(in, buf, sizeof buf));
    if (p->method != FM_POOL_MAX && p->method != FM_POOL_AVE)
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "pooling: method %d is not MAX (0) or AVE (1)",
                          (int)p->method);
    fm_pooling_window w = fm_pooling_geometry(p, in->d[2], in->d[3]);
    if (w.kh < 1 || w.kw < 1 || w.sh < 1 || w.sw < 1)
        return fm_err_set(err, FM_ERR_ARG, "pooling: kernel %dx%d and stride %dx%d must be positive",
                          w.kh, w.kw, w.sh, w.sw);
    if (w.ph < 0 || w.pw < 0 || w.ph >= w.kh || w.pw >= w.kw)
        return fm_err_set(err, FM_ERR_ARG,
                          "pooling: pad %dx%d must be non-negative and smaller than the kernel %dx%d",
                          w.ph, w.pw, w.kh, w.kw);
    int H = in->d[2], W = in->d[3];
    if (w.kh > H + 2 * w.ph || w.kw > W + 2 * w.pw)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "pooling: kernel %dx%d is larger than the padded input %dx%d (input %s, pad %dx%d)",
                          w.kh, w.kw, H + 2 * w.ph, W + 2 * w.pw, fm_shape_str(in, buf, sizeof buf),
                          w.ph, w.pw);
    int fl = p->floor_mode != 0;
    int oh = out_size(H, w.kh, w.sh, w.ph, fl), ow = out_size(W, w.kw, w.sw, w.pw, fl);
    /* Caffe's ceil rule drops a last window that starts past the input only when there is
     * padding; with a stride larger than the kernel and no padding it can still start past
     * the input, an empty window (Caffe divides by zero there). Refused rather than guessed. */
    if ((oh - 1) * w.sh >= H + w.ph || (ow - 1) * w.sw >= W + w.pw)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "pooling: stride %dx%d with kernel %dx%d and pad %dx%d leaves the last "
                          "window of the %dx%d input empty (ceil mode); expected stride <= kernel "
                          "or padding",
                          w.sh, w.sw, w.kh, w.kw, w.ph, w.pw, H, W);
    *out = fm_shape4(in->d[0], in->d[1], oh, ow);
    return FM_OK;
}

struct pool_job {
    const float *x;
    float *y;
    size_t planes;
    int H, W, OH, OW;
    fm_pooling_window w;
    int ave;
    int ref;
    fm_isa isa; /* for pool_plane_max2 */
};

static float pool_window(const float *x, int W, int ys, int ye, int xs, int xe, int ave, float inv)
{
    if (ave) {
        float sum = 0.0f;
        for (int yy = ys; yy < ye; yy++)
            for (int xx = xs; xx < xe; xx++)
                sum += x[(size_t)yy * (size_t)W + (size_t)xx];
        return sum * inv;
    }
    float m = -FLT_MAX;
    for (int yy = ys; yy < ye; yy++)
        for (int xx = xs; xx < xe; xx++) {
            float v = x[(size_t)yy * (size_t)W + (size_t)xx];
            if (v > m)
                m = v;
        }
    return m;
}

/* One output element with full clipping. */
static float pool_at(const struct pool_job *j, const float *x, int oy, int ox)
{
    int ys, ye, xs, xe;
    float inv = fm_pooling_clip(&j->w, j->H, j->W, oy, ox, &ys, &ye, &xs, &xe);
    return pool_window(x, j->W, ys, ye, xs, xe, j->ave, inv);
}

static void pool_plane_ref(const struct pool_job *j, const float *x, float *y)
{
    for (int oy = 0; oy < j->OH; oy++)
        for (int ox = 0; ox < j->OW; ox++)
            y[(size_t)oy * (size_t)j->OW + (size_t)ox] = pool_at(j, x, oy, ox);
}

/* Output columns [ox0, ox1) of one max 2x2 stride 2 row whose windows are whole:
 * r0, r1 the two input rows. Same comparisons as pool_window (first of equals kept). */
static void max2_row_scalar(const float *r0, const float *r1, int ox0, int ox1, float *yr)
{
    for (int ox = ox0; ox < ox1; ox++) {
        const float *a = r0 + 2 * ox, *b = r1 + 2 * ox;
        float m = -FLT_MAX; /* as pool_window: an all -inf window gives -FLT_MAX */
        m = a[0] > m ? a[0] : m;
        m = a[1] > m ? a[1] : m;
        m = b[0] > m ? b[0] : m;
        m = b[1] > m ? b[1] : m;
        yr[ox] = m;
    }
}

#ifdef FM_X86
/* 8 outputs a step: vertical max of 16 columns, then the max of each even/odd pair. */
FM_TARGET_AVX2 static int max2_row_avx2(const float *r0, const float *r1, int n, float *yr)
{
    const __m256 lowest = _mm256_set1_ps(-FLT_MAX);
    int ox = 0;
    for (; ox + 8 <= n; ox += 8) {
        __m256 a = _mm256_max_ps(_mm256_loadu_ps(r0 + 2 * ox), _mm256_loadu_ps(r1 + 2 * ox));
        __m256 b = _mm256_max_ps(_mm256_loadu_ps(r0 + 2 * ox + 8), _mm256_loadu_ps(r1 + 2 * ox + 8));
        __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
        __m256 m = _mm256_max_ps(_mm256_max_ps(e, o), lowest); /* a0a2 b0b2 a4a6 b4b6 (pairs) */
        m = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), 0xD8));
        _mm256_storeu_ps(yr + ox, m);
    }
    return ox;
}
#endif

/* Max 2x2 stride 2 pad 0: whole windows fast, a ceil-mode last row / column
 * (odd input size) through the clipping reference. */
static void pool_plane_max2(const struct pool_job *j, const float *x, float *y)
{
    const int fh = j->H / 2 < j->OH ? j->H / 2 : j->OH, fw = j->W / 2 < j->OW ? j->W / 2 : j->OW;
    for (int oy = 0; oy < j->OH; oy++) {
        float *yr = y + (size_t)oy * (size_t)j->OW;
        int ox = 0;
        if (oy < fh) {
            const float *r0 = x + (size_t)(2 * oy) * (size_t)j->W, *r1 = r0 + j->W;
#ifdef FM_X86
            if (j->isa >= FM_ISA_AVX2)
                ox = max2_row_avx2(r0, r1, fw, yr);
#endif
            max2_row_scalar(r0, r1, ox, fw, yr);
            ox = fw;
        }
        for (; ox < j->OW; ox++)
            yr[ox] = pool_at(j, x, oy, ox);
    }
}

static void pool_plane_fast(const struct pool_job *j, const float *x, float *y)
{
    const fm_pooling_window *w = &j->w;
    if (!j->ave && w->kh == 2 && w->kw == 2 && w->sh == 2 && w->sw == 2 && w->ph == 0 && w->pw == 0) {
        pool_plane_max2(j, x, y);
        return;
    }
    /* Interior columns: the window lies inside [0, W) horizontally. */
    int ox0 = (w->pw + w->sw - 1) / w->sw;
    int ox1 = j->W - w->kw + w->pw >= 0 ? (j->W - w->kw + w->pw) / w->sw + 1 : 0;
    if (ox1 > j->OW)
        ox1 = j->OW;
    if (ox0 > ox1)
        ox0 = ox1;
    for (int oy = 0; oy < j->OH; oy++) {
        float *yr = y + (size_t)oy * (size_t)j->OW;
        int ys = oy * w->sh - w->ph, ye = ys + w->kh;
        if (ye > j->H + w->ph)
            ye = j->H + w->ph;
        int rows = ye - ys;
        if (ys < 0)
            ys = 0;
        if (ye > j->H)
            ye = j->H;
        for (int ox = 0; ox < ox0; ox++)
            yr[ox] = pool_at(j, x, oy, ox);
        const float *xr = x + (size_t)ys * (size_t)j->W;
        if (j->ave) {
            float inv = (float)(1.0 / (rows * w->kw));
            for (int ox = ox0; ox < ox1; ox++) {
                const float *p = xr + (ox * w->sw - w->pw);
                float sum = 0.0f;
                for (int yy = ys; yy < ye; yy++, p += j->W)
                    for (int k = 0; k < w->kw; k++)
                        sum += p[k];
                yr[ox] = sum * inv;
            }
        } else if (w->kw == 3) {
            for (int ox = ox0; ox < ox1; ox++) {
                const float *p = xr + (ox * w->sw - w->pw);
                float m = -FLT_MAX;
                for (int yy = ys; yy < ye; yy++, p += j->W) {
                    float a = p[0] > p[1] ? p[0] : p[1];
                    a = a > p[2] ? a : p[2];
                    m = m > a ? m : a;
                }
                yr[ox] = m;
            }
        } else {
            for (int ox = ox0; ox < ox1; ox++) {
                const float *p = xr + (ox * w->sw - w->pw);
                float m = -FLT_MAX;
                for (int yy = ys; yy < ye; yy++, p += j->W)
                    for (int k = 0; k < w->kw; k++)
                        m = p[k] > m ? p[k] : m;
                yr[ox] = m;
            }
        }
        for (int ox = ox1; ox < j->OW; ox++)
            yr[ox] = pool_at(j, x, oy, ox);
    }
}

static void pool_rows(void *ctx, int tid, int nt)
{
    const struct pool_job *j = ctx;
    size_t b, e;
    fm_split(j->planes, tid, nt, &b, &e);
    size_t in_plane = (size_t)j->H * (size_t)j->W, out_plane = (size_t)j->OH * (size_t)j->OW;
    for (size_t p = b; p < e; p++) {
        if (j->ref)
            pool_plane_ref(j, j->x + p * in_plane, j->y + p * out_plane);
        else
            pool_plane_fast(j, j->x + p * in_plane, j->y + p * out_plane);
    }
}

void fm_pool_forward(const fm_pool_param *p, const fm_tensor *in, fm_tensor *out, fm_pool *pool)
{
    const char *force = getenv("FM_FORCE_REF");
    struct pool_job j;
    j.x = in->data;
    j.y = out->data;
    j.planes = fm_shape_count_range(&in->shape, 0, 2);
    j.H = in->shape.d[2];
    j.W = in->shape.d[3];
    j.OH = out->shape.d[2];
    j.OW = out->shape.d[3];
    j.w = fm_pooling_geometry(p, in->shape.d[2], in->shape.d[3]);
    j.ave = p->method == FM_POOL_AVE;
    j.ref = force && *force && strcmp(force, "0") != 0;
    j.isa = j.ref ? FM_ISA_SCALAR : fm_isa_detect();
    if (j.planes == 0)
        return;
    if (j.planes * (size_t)j.OH * (size_t)j.OW < 4096)
        pool_rows(&j, 0, 1);
    else
        fm_pool_run(pool, pool_rows, &j);
}
