/* resize.c - ONNX Resize, mode nearest, coordinate_transformation_mode
 * asymmetric, nearest_mode floor (YuNet's x2 upsampling), over NCHW.
 *
 * Output size (ONNX Resize with scales): out = floor(in * scale) per spatial
 * axis; N and C are kept. Forward, per axis:
 *     x_in = min(floor(x_out / scale), in - 1)
 * with x_out / scale computed in float, as onnxruntime does.
 *
 * Two paths: fm_resize_forward_ref() evaluates the rule for every output
 * element; fm_resize_forward() runs the integer 2x case (both axes) by writing
 * each input value twice into a row and storing that row twice (AVX2 unpacks
 * where the CPU has them, plain C otherwise), and any other scale through the
 * reference. FM_FORCE_REF=1 forces the reference; the tests compare the two.
 * Planes (n, c) are split over the pool.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "nn/ops/simd.h"

#define MAX_SCALE 16.0f

fm_status fm_resize_shape(const fm_resize_param *p, const fm_shape *in, fm_shape *out, fm_err *err)
{
    char buf[64];
    if (in->ndim != 4 || fm_shape_count(in) == 0)
        return fm_err_set(err, FM_ERR_SHAPE, "resize: input %s must be a non-empty NCHW (4-D) shape",
                          fm_shape_str(in, buf, sizeof buf));
    /* written so that NaN fails too */
    if (!(p->scale_h > 0.0f && p->scale_h <= MAX_SCALE && p->scale_w > 0.0f &&
          p->scale_w <= MAX_SCALE))
        return fm_err_set(err, FM_ERR_ARG,
                          "resize: scales %g (height) and %g (width) must be in (0, %g]",
                          (double)p->scale_h, (double)p->scale_w, (double)MAX_SCALE);
    double oh = floor((double)in->d[2] * (double)p->scale_h);
    double ow = floor((double)in->d[3] * (double)p->scale_w);
    if (oh < 1 || ow < 1)
        return fm_err_set(err, FM_ERR_SHAPE,
                          "resize: input %s scaled by %g x %g gives an empty %.0fx%.0f output",
                          fm_shape_str(in, buf, sizeof buf), (double)p->scale_h,
                          (double)p->scale_w, oh, ow);
    size_t n;
    if (oh > INT32_MAX || ow > INT32_MAX ||
        !fm_size_mul(fm_shape_count_range(in, 0, 2), (size_t)oh, &n) ||
        !fm_size_mul(n, (size_t)ow, &n))
        return fm_err_set(err, FM_ERR_LIMIT, "resize: output %.0fx%.0f of %s is too large", oh, ow,
                          fm_shape_str(in, buf, sizeof buf));
    *out = fm_shape4(in->d[0], in->d[1], (int)oh, (int)ow);
    return FM_OK;
}

int fm_resize_src_index(int o, float scale, int in)
{
    int i = (int)floorf((float)o / scale);
    return i < in - 1 ? i : in - 1;
}

struct resize_job {
    const float *x;
    float *y;
    size_t planes;
    int H, W, OH, OW;
    float sh, sw;
    int x2; /* the 2x path */
    fm_isa isa;
};

static void plane_ref(const struct resize_job *j, const float *x, float *y)
{
    for (int oy = 0; oy < j->OH; oy++) {
        const float *row = x + (size_t)fm_resize_src_index(oy, j->sh, j->H) * (size_t)j->W;
        float *yr = y + (size_t)oy * (size_t)j->OW;
        for (int ox = 0; ox < j->OW; ox++)
            yr[ox] = row[fm_resize_src_index(ox, j->sw, j->W)];
    }
}

#ifdef FM_X86
/* y[2i] = y[2i+1] = x[i] for i < n, 8 inputs a step; returns the inputs done. */
FM_TARGET_AVX2 static int dup_row_avx2(const float *x, int n, float *y)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 lo = _mm256_unpacklo_ps(v, v); /* v0 v0 v1 v1 | v4 v4 v5 v5 */
        __m256 hi = _mm256_unpackhi_ps(v, v); /* v2 v2 v3 v3 | v6 v6 v7 v7 */
        _mm256_storeu_ps(y + 2 * i, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_storeu_ps(y + 2 * i + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
    return i;
}
#endif

static void plane_x2(const struct resize_job *j, const float *x, float *y)
{
    const size_t W = (size_t)j->W, OW = (size_t)j->OW;
    for (int iy = 0; iy < j->H; iy++) {
        const float *xr = x + (size_t)iy * W;
        float *y0 = y + (size_t)(2 * iy) * OW;
        int i = 0;
#ifdef FM_X86
        if (j->isa >= FM_ISA_AVX2)
            i = dup_row_avx2(xr, j->W, y0);
#endif
        for (; i < j->W; i++)
            y0[2 * i] = y0[2 * i + 1] = xr[i];
        memcpy(y0 + OW, y0, OW * sizeof(float));
    }
}

static void resize_planes(void *ctx, int tid, int nt)
{
    const struct resize_job *j = ctx;
    size_t b, e;
    fm_split(j->planes, tid, nt, &b, &e);
    const size_t in_plane = (size_t)j->H * (size_t)j->W, out_plane = (size_t)j->OH * (size_t)j->OW;
    for (size_t p = b; p < e; p++) {
        if (j->x2)
            plane_x2(j, j->x + p * in_plane, j->y + p * out_plane);
        else
            plane_ref(j, j->x + p * in_plane, j->y + p * out_plane);
    }
}

static void job_init(struct resize_job *j, const fm_resize_param *p, const fm_tensor *in,
                     fm_tensor *out)
{
    j->x = in->data;
    j->y = out->data;
    j->planes = fm_shape_count_range(&in->shape, 0, 2);
    j->H = in->shape.d[2];
    j->W = in->shape.d[3];
    j->OH = out->shape.d[2];
    j->OW = out->shape.d[3];
    j->sh = p->scale_h;
    j->sw = p->scale_w;
    j->x2 = 0;
    j->isa = FM_ISA_SCALAR;
}

void fm_resize_forward_ref(const fm_resize_param *p, const fm_tensor *in, fm_tensor *out)
{
    struct resize_job j;
    job_init(&j, p, in, out);
    resize_planes(&j, 0, 1);
}

void fm_resize_forward(const fm_resize_param *p, const fm_tensor *in, fm_tensor *out, fm_pool *pool)
{
    const char *force = getenv("FM_FORCE_REF");
    struct resize_job j;
    job_init(&j, p, in, out);
    j.x2 = !(force && *force && strcmp(force, "0") != 0) && p->scale_h == 2.0f &&
           p->scale_w == 2.0f && j.OH == 2 * j.H && j.OW == 2 * j.W;
    j.isa = j.x2 ? fm_isa_detect() : FM_ISA_SCALAR;
    if (j.planes == 0)
        return;
    if (j.planes * (size_t)j.OH * (size_t)j.OW < 65536)
        resize_planes(&j, 0, 1);
    else
        fm_pool_run(pool, resize_planes, &j);
}
