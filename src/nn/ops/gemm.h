/* gemm.h - the packed SGEMM behind the optimised convolution.
 *
 * C (M x N, row stride ldc) = A (M x K) * B (K x N), computed one MR x NR tile
 * at a time by a register-blocked micro-kernel:
 *   - A is packed once (at plan time) into panels of MR rows: panel p holds
 *     rows [p*MR, p*MR+MR), element (i, k) at [k*MR + i]; rows past M are 0;
 *   - B is either packed per tile (K x NR, row stride NR, columns past N are
 *     0), or read in place with any row stride ldb (a full tile only), or
 *     read in place through a row-offset table (row k at b + off[k]: a
 *     stride-1 convolution on a padded input needs no im2col at all);
 *   - the tile starts from the bias (FM_GEMM_FIRST) or from C (K blocking),
 *     and the activation is applied on the last K block (FM_GEMM_LAST).
 * The micro-kernel always computes and stores a full MR x NR tile; callers
 * route partial tiles through a small MR x NR buffer.
 *
 * Kernels: AVX-512 8x48, AVX2 4x24, scalar 4x16 (see simd.h for how the
 * level is chosen).
 */
#ifndef FM_GEMM_H
#define FM_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "nn/ops/ops.h"
#include "nn/ops/simd.h"

#define FM_GEMM_FIRST 1 /* start from bias (or 0 when bias is NULL), not from C */
#define FM_GEMM_LAST 2  /* apply the activation before storing */

/* kc: K of this block; a: packed panel at the block's first k (kc*MR floats);
 * b: kc rows of NR floats, row k at b + k*ldb, or at b + off[k] when off is
 * not NULL; c: the tile's top-left, row stride ldc; bias: MR values or NULL. */
typedef void (*fm_gemm_ukr)(int kc, const float *a, const float *b, size_t ldb,
                            const int32_t *off, float *c, size_t ldc, const float *bias, int flags,
                            fm_activation act);

typedef struct {
    fm_isa isa;
    int mr, nr;
    fm_gemm_ukr ukr;
    /* MR x 16 and MR x 32 tiles for a last few columns (same arguments; they
     * read and write only their columns), or NULL. */
    fm_gemm_ukr narrow[2];
} fm_gemm_kernel;

/* The kernel for a tile of nv columns (nv <= NR). */
static inline fm_gemm_ukr fm_gemm_ukr_for(const fm_gemm_kernel *k, int nv)
{
    if (nv <= 16 && k->narrow[0])
        return k->narrow[0];
    if (nv <= 32 && k->narrow[1])
        return k->narrow[1];
    return k->ukr;
}

/* The micro-kernel of a level (the caller checks fm_isa_supported). */
const fm_gemm_kernel *fm_gemm_kernel_get(fm_isa isa);

/* Floats needed to pack an m x k matrix into MR-row panels. */
size_t fm_gemm_packed_a_count(int m, int k, int mr);
/* Packs rows of a (row-major, row stride lda) into panels as described above. */
void fm_gemm_pack_a(const float *a, size_t lda, int m, int k, int mr, float *out);

/* ---- Convolution plans pinned to a level (for tests and benchmarks) ------ */
/* opts for fm_conv_plan_create_isa: */
#define FM_CONV_AUTO 0u   /* the strategy fm_conv_plan_create picks */
#define FM_CONV_PACKED 1u /* every non-depthwise convolution through im2col-by-tile
                           * packing: no direct 1x1, no padded-input stride-1 path */
#define FM_CONV_THREADED 2u /* split over the pool however little work there is
                             * (normally layers under ~20 MFLOP run on the caller's thread) */
/* As fm_conv_plan_create (ops.h), but with the kernels of level isa instead of
 * fm_isa_detect()'s. Fails with FM_ERR_UNSUPPORTED when this CPU cannot run isa. */
fm_conv_plan *fm_conv_plan_create_isa(const fm_conv_param *p, const fm_shape *in,
                                      const float *weight, const float *bias, int max_threads,
                                      fm_isa isa, unsigned opts, fm_err *err);
/* The level a plan runs at. */
fm_isa fm_conv_plan_isa(const fm_conv_plan *plan);

/* As fm_pwdw_plan_create (ops.h), pinned to level isa (opts: FM_CONV_THREADED only). */
fm_pwdw_plan *fm_pwdw_plan_create_isa(const fm_conv_param *pw, const float *pw_w,
                                      const float *pw_b, const fm_conv_param *dw,
                                      const float *dw_w, const float *dw_b, const fm_shape *in,
                                      int max_threads, fm_isa isa, unsigned opts, fm_err *err);
fm_isa fm_pwdw_plan_isa(const fm_pwdw_plan *plan);

#endif
