/* sgemm.h - general single-precision matrix multiply for training.
 *
 *     C = alpha * op(A) * op(B) + beta * C
 *
 * op(A) is M x K, op(B) is K x N, C is M x N; all row-major with row strides
 * lda, ldb, ldc (in floats). op(X) = X, or X transposed when transX is non-zero
 * (then A is stored K x M, B stored N x K). beta == 0 never reads C (NaN in C
 * does not propagate).
 *
 * The fast version is the Goto blocking around the inference engine's packed
 * micro-kernel (nn/ops/gemm.h): B is packed in K x NR panels, A in MR x K
 * panels (alpha folded in), tiles at the edges go through a small buffer. It
 * is single-threaded (the trainer splits work by samples) and never
 * allocates: the caller passes FM_SGEMM_WORK_FLOATS floats of work memory,
 * 64-byte aligned.
 *
 *     float *work = aligned_alloc(64, FM_SGEMM_WORK_FLOATS * sizeof(float));
 *     fm_sgemm(fm_isa_detect(), 0, 1, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N, work);
 *
 * fm_sgemm_ref is the plain triple loop (double accumulation) it is tested against.
 */
#ifndef FM_SGEMM_H
#define FM_SGEMM_H

#include <stddef.h>

#include "nn/ops/simd.h"

/* Blocking (chosen for 48 KiB L1 / 2 MiB L2 and MR in {4, 8}, NR in {16, 24, 48}). */
#define FM_SGEMM_KC 256
#define FM_SGEMM_MC 96
#define FM_SGEMM_NC 768
/* Work floats: packed A block + packed B block + one edge tile (8 x 48) + alignment slack. */
#define FM_SGEMM_WORK_FLOATS \
    ((size_t)FM_SGEMM_MC * FM_SGEMM_KC + (size_t)FM_SGEMM_KC * FM_SGEMM_NC + 8 * 48 + 64)

/* Runs with the micro-kernel of level isa (which must be supported; see fm_isa_detect). */
void fm_sgemm(fm_isa isa, int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
              size_t ldc, float *work);

/* The reference: same arguments, no work memory. */
void fm_sgemm_ref(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                  size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);

#endif
