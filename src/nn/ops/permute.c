/* permute.c - Caffe/SSD Permute and ONNX Transpose: out axis i is input axis order[i].
 * OpenCV 4.6 permute_layer.cpp (and Caffe's PermuteLayer): an order shorter
 * than the number of axes is completed with the unused axes in increasing
 * order; every axis must appear once. The output must not overlap the input.
 *
 * Two paths: fm_permute_forward_ref() walks the output in order with strided
 * reads (any permutation). fm_permute_forward() runs the layout change of
 * detection heads, NCHW -> NHWC (order 0, 2, 3, 1; also 3-D (0, 2, 1)), as a
 * per-image transpose of the C x (H*W) matrix in cache-sized tiles: 8x8
 * register transposes where the CPU has AVX2, 16x16 plain C tiles for the
 * rest; every other order goes through the reference. FM_FORCE_REF=1 forces
 * the reference; the tests compare the two.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "nn/ops/simd.h"

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

void fm_permute_forward_ref(const fm_tensor *in, const int *order, int norder, fm_tensor *out)
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

/* y (cols x rows) = x (rows x cols) transposed, for rows [r0, r1) and columns [c0, c1). */
static void transpose_part(const float *x, float *y, size_t rows, size_t cols, size_t r0,
                           size_t r1, size_t c0, size_t c1)
{
    enum { TB = 16 };
    for (size_t rb = r0; rb < r1; rb += TB) {
        const size_t re = rb + TB < r1 ? rb + TB : r1;
        for (size_t cb = c0; cb < c1; cb += TB) {
            const size_t ce = cb + TB < c1 ? cb + TB : c1;
            for (size_t c = cb; c < ce; c++)
                for (size_t r = rb; r < re; r++)
                    y[c * rows + r] = x[r * cols + c];
        }
    }
}

#ifdef FM_X86
/* The whole 8x8 blocks through registers (unpack / shuffle / 128-bit permute);
 * returns how many rows and columns (multiples of 8) it covered. */
FM_TARGET_AVX2 static void transpose_avx2(const float *x, float *y, size_t rows, size_t cols,
                                          size_t *rdone, size_t *cdone)
{
    const size_t r8 = rows / 8 * 8, c8 = cols / 8 * 8;
    for (size_t cb = 0; cb < c8; cb += 64) {
        const size_t ce = cb + 64 < c8 ? cb + 64 : c8; /* a strip of columns stays in L1 */
        for (size_t r = 0; r < r8; r += 8)
            for (size_t c = cb; c < ce; c += 8) {
                const float *s = x + r * cols + c;
                __m256 a0 = _mm256_loadu_ps(s), a1 = _mm256_loadu_ps(s + cols);
                __m256 a2 = _mm256_loadu_ps(s + 2 * cols), a3 = _mm256_loadu_ps(s + 3 * cols);
                __m256 a4 = _mm256_loadu_ps(s + 4 * cols), a5 = _mm256_loadu_ps(s + 5 * cols);
                __m256 a6 = _mm256_loadu_ps(s + 6 * cols), a7 = _mm256_loadu_ps(s + 7 * cols);
                __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
                __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
                __m256 t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5);
                __m256 t6 = _mm256_unpacklo_ps(a6, a7), t7 = _mm256_unpackhi_ps(a6, a7);
                __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
                __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
                __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
                __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
                __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
                __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
                __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
                __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
                float *d = y + c * rows + r;
                _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
                _mm256_storeu_ps(d + rows, _mm256_permute2f128_ps(u1, u5, 0x20));
                _mm256_storeu_ps(d + 2 * rows, _mm256_permute2f128_ps(u2, u6, 0x20));
                _mm256_storeu_ps(d + 3 * rows, _mm256_permute2f128_ps(u3, u7, 0x20));
                _mm256_storeu_ps(d + 4 * rows, _mm256_permute2f128_ps(u0, u4, 0x31));
                _mm256_storeu_ps(d + 5 * rows, _mm256_permute2f128_ps(u1, u5, 0x31));
                _mm256_storeu_ps(d + 6 * rows, _mm256_permute2f128_ps(u2, u6, 0x31));
                _mm256_storeu_ps(d + 7 * rows, _mm256_permute2f128_ps(u3, u7, 0x31));
            }
    }
    *rdone = r8;
    *cdone = c8;
}
#endif

/* One image: y (cols x rows) = x (rows x cols) transposed. */
static void transpose(const float *x, float *y, size_t rows, size_t cols, fm_isa isa)
{
    if (rows == 1 || cols == 1) {
        memcpy(y, x, rows * cols * sizeof(float));
        return;
    }
    size_t r8 = 0, c8 = 0;
#ifdef FM_X86
    if (isa >= FM_ISA_AVX2)
        transpose_avx2(x, y, rows, cols, &r8, &c8);
#else
    (void)isa;
#endif
    /* what the blocks left: the last rows % 8 rows, then the last columns of the rest */
    transpose_part(x, y, rows, cols, r8, rows, 0, cols);
    transpose_part(x, y, rows, cols, 0, r8, c8, cols);
}

void fm_permute_forward(const fm_tensor *in, const int *order, int norder, fm_tensor *out)
{
    int nd = in->shape.ndim, full[FM_MAX_DIMS];
    const char *force = getenv("FM_FORCE_REF");
    if (!(force && *force && strcmp(force, "0") != 0) && full_order(order, norder, nd, full) &&
        ((nd == 4 && full[0] == 0 && full[1] == 2 && full[2] == 3 && full[3] == 1) ||
         (nd == 3 && full[0] == 0 && full[1] == 2 && full[2] == 1))) {
        const size_t rows = (size_t)in->shape.d[1], cols = fm_shape_count_range(&in->shape, 2, nd);
        const fm_isa isa = fm_isa_detect();
        for (int b = 0; b < in->shape.d[0]; b++)
            transpose(in->data + (size_t)b * rows * cols, out->data + (size_t)b * rows * cols, rows,
                      cols, isa);
        return;
    }
    fm_permute_forward_ref(in, order, norder, out);
}
