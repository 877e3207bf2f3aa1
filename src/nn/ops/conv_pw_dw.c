/* conv_pw_dw.c - a 1x1 convolution followed by a depthwise 3x3 one, as one operator
 * (fm_pwdw_*, see ops.h and gemm.h).
 *
 * MobileNet-style blocks (YuNet's [1x1 -> depthwise 3x3 + ReLU] units) write the
 * 1x1's whole output only for the depthwise convolution to read it back once: at
 * 240x320x16 or 120x160x64 that is 5 MB out to L3/DRAM and 5 MB in again.
 *
 * Reference: the two reference convolutions one after the other, through a
 * caller-provided intermediate tensor.
 *
 * Fast path: per work unit (a band of output rows of one image), the 1x1 output
 * is computed R rows at a time into a small per-thread ring of R+2 rows per
 * channel (sized to stay in L2), and the depthwise 3x3 runs on it at once:
 *   - the 1x1 is the packed SGEMM of gemm.h, B read in place from the input rows
 *     (partial tiles packed), out = the ring (row stride (R+2)*W per channel);
 *   - after a step, the two rows the next step also needs (its top halo) move
 *     to the ring's first two slots, so each 1x1 row is computed once per unit
 *     (a unit recomputes only its own top and bottom halo rows);
 *   - the depthwise row kernel (AVX-512, AVX2, scalar) reads three ring rows,
 *     a zero row standing in for the padding above and below the image.
 * Units come from an atomic counter: with one thread a unit is a whole image;
 * with more, a few bands per thread so that a worker that wakes late takes fewer.
 *
 * Measured on the 2-core AMD EPYC VM this was written on (32 MB L3, so the unfused
 * intermediate never leaves L3), tools/bench_yunet_layers, 1 thread, ms:
 *     shape              1x1 + dw (unfused)   fused (R = 4 / 16)
 *     16->16 240x320     0.39 + 0.27           0.95 / 0.92
 *     16->64 120x160     0.21 + 0.33           0.61 / 0.62
 *     64->64 120x160     0.80 + 0.33           1.59 / 1.43
 *     64->64  60x80      0.17 + 0.11           0.27 / 0.26
 * Each half alone runs as fast as its unfused op; together they are slower: the
 * 1x1 reads C input planes and the depthwise writes M output planes a few rows at
 * a time, which the prefetchers follow worse than whole planes. So the net does
 * not fold by default (fm_net_opts.fuse_pw_dw); the op stays, tested, for machines
 * with small caches and for a blocked layout that could fix the access pattern.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops/gemm.h"
#include "nn/ops/ops.h"
#include "nn/ops/simd.h"

#define FM_PWDW_MAX_ROWS 16 /* R at most */
#define ALIGN64(x) (((x) + 63u) & ~(size_t)63u)

struct fm_pwdw_plan {
    int n, c, h, w, m;
    fm_isa isa;
    const fm_gemm_kernel *k;
    fm_activation pw_act, dw_act;
    int mpanels, kc;
    float *apack;     /* 1x1 weights, mpanels panels of c * mr */
    float *bias;      /* mpanels * mr, or NULL */
    float *dw;        /* m * 9 */
    float *dwbias;    /* m (zeros without a bias) */
    int rows;         /* R: 1x1 rows computed per step */
    int units;        /* row bands per image */
    int max_threads;
    int serial;
    size_t ring_bytes, bsl_bytes, tile_bytes, zero_bytes; /* per thread */
};

int fm_pwdw_fusable(const fm_conv_param *pw, const fm_conv_param *dw, int in_channels)
{
    return pw->group == 1 && pw->kernel_h == 1 && pw->kernel_w == 1 && pw->stride_h == 1 &&
           pw->stride_w == 1 && pw->pad_h == 0 && pw->pad_w == 0 && pw->dilation_h == 1 &&
           pw->dilation_w == 1 && in_channels > 0 && pw->num_output > 0 &&
           dw->num_output == pw->num_output && dw->group == pw->num_output &&
           dw->kernel_h == 3 && dw->kernel_w == 3 && dw->stride_h == 1 && dw->stride_w == 1 &&
           dw->pad_h == 1 && dw->pad_w == 1 && dw->dilation_h == 1 && dw->dilation_w == 1;
}

fm_status fm_pwdw_shape(const fm_conv_param *pw, const fm_conv_param *dw, const fm_shape *in,
                        fm_shape *out, fm_err *err)
{
    fm_shape mid;
    fm_status st = fm_conv_shape(pw, in, &mid, err);
    if (st != FM_OK)
        return st;
    if (!fm_pwdw_fusable(pw, dw, in->d[1]))
        return fm_err_set(err, FM_ERR_ARG,
                          "1x1+depthwise: needs a 1x1/s1 convolution (one group) then a "
                          "depthwise 3x3/s1 pad 1 over its %d channels",
                          pw->num_output);
    return fm_conv_shape(dw, &mid, out, err);
}

void fm_pwdw_forward_ref(const fm_conv_param *pw, const float *pw_w, const float *pw_b,
                         const fm_conv_param *dw, const float *dw_w, const float *dw_b,
                         const fm_tensor *in, float *mid, fm_tensor *out)
{
    fm_tensor t = {fm_shape4(in->shape.d[0], pw->num_output, in->shape.d[2], in->shape.d[3]), mid};
    fm_conv_forward_ref(pw, in, pw_w, pw_b, &t);
    fm_conv_forward_ref(dw, &t, dw_w, dw_b, out);
}

size_t fm_pwdw_ref_scratch(const fm_conv_param *pw, const fm_shape *in)
{
    return (size_t)in->d[0] * pw->num_output * in->d[2] * in->d[3] * sizeof(float);
}

/* ---- plan ------------------------------------------------------------------------ */

void fm_pwdw_plan_free(fm_pwdw_plan *pl)
{
    if (!pl)
        return;
    free(pl->apack);
    free(pl->bias);
    free(pl->dw);
    free(pl->dwbias);
    free(pl);
}

static size_t thread_bytes(const fm_pwdw_plan *pl)
{
    return pl->ring_bytes + pl->bsl_bytes + pl->tile_bytes + pl->zero_bytes;
}

size_t fm_pwdw_plan_scratch(const fm_pwdw_plan *pl)
{
    return (size_t)pl->max_threads * thread_bytes(pl);
}

fm_isa fm_pwdw_plan_isa(const fm_pwdw_plan *pl)
{
    return pl->isa;
}

static void *alloc64(size_t bytes)
{
    return aligned_alloc(64, ALIGN64(bytes ? bytes : 1));
}

fm_pwdw_plan *fm_pwdw_plan_create(const fm_conv_param *pw, const float *pw_w, const float *pw_b,
                                  const fm_conv_param *dw, const float *dw_w, const float *dw_b,
                                  const fm_shape *in, int max_threads, fm_err *err)
{
    return fm_pwdw_plan_create_isa(pw, pw_w, pw_b, dw, dw_w, dw_b, in, max_threads,
                                   fm_isa_detect(), FM_CONV_AUTO, err);
}

fm_pwdw_plan *fm_pwdw_plan_create_isa(const fm_conv_param *pw, const float *pw_w,
                                      const float *pw_b, const fm_conv_param *dw,
                                      const float *dw_w, const float *dw_b, const fm_shape *in,
                                      int max_threads, fm_isa isa, unsigned opts, fm_err *err)
{
    fm_shape out;
    if (fm_pwdw_shape(pw, dw, in, &out, err) != FM_OK)
        return NULL;
    if (max_threads < 1 || max_threads > 256) {
        fm_err_set(err, FM_ERR_ARG, "1x1+depthwise plan: max_threads %d out of range (1..256)",
                   max_threads);
        return NULL;
    }
    if ((int)isa < 0 || (int)isa >= FM_ISA_COUNT || !fm_isa_supported(isa)) {
        fm_err_set(err, FM_ERR_UNSUPPORTED, "1x1+depthwise plan: this CPU cannot run %s kernels",
                   fm_isa_name(isa));
        return NULL;
    }
    if (!pw_w || !dw_w) {
        fm_err_set(err, FM_ERR_ARG, "1x1+depthwise plan: no weights");
        return NULL;
    }
    const int C = in->d[1], H = in->d[2], W = in->d[3], M = pw->num_output;
    if ((size_t)H * W > INT32_MAX / 4 || C > 65536 || M > 65536) {
        fm_err_set(err, FM_ERR_LIMIT, "1x1+depthwise plan: %dx%dx%d input too large", C, H, W);
        return NULL;
    }
    fm_pwdw_plan *pl = calloc(1, sizeof *pl);
    if (!pl) {
        fm_err_set(err, FM_ERR_NOMEM, "1x1+depthwise plan: out of memory");
        return NULL;
    }
    pl->n = in->d[0];
    pl->c = C;
    pl->h = H;
    pl->w = W;
    pl->m = M;
    pl->isa = isa;
    pl->k = fm_gemm_kernel_get(isa);
    pl->pw_act = pw->act;
    pl->dw_act = dw->act;
    pl->max_threads = max_threads;
    const int mr = pl->k->mr, nr = pl->k->nr;
    pl->mpanels = (M + mr - 1) / mr;
    int kc_max = 24576 / (nr * (int)sizeof(float));
    int nblk = (C + kc_max - 1) / kc_max;
    pl->kc = (C + nblk - 1) / nblk;
    /* the ring: about 256 KB (in L2 with the input rows streaming past), at least 1 row a step */
    size_t slots = (size_t)65536 / ((size_t)M * W);
    pl->rows = slots > 2 + FM_PWDW_MAX_ROWS ? FM_PWDW_MAX_ROWS : slots < 3 ? 1 : (int)slots - 2;
    if (pl->rows > H)
        pl->rows = H;
    double flops = 2.0 * pl->n * (double)H * W * M * (C + 5.0 * 9.0);
    pl->serial = !(opts & FM_CONV_THREADED) && flops < 20e6;
    /* bands per image: one per thread alone; with threads, up to 3 each, each band at least
     * ~16 rows so that the two halo rows it recomputes stay a small share */
    int per = H / (16 * max_threads);
    per = per < 1 ? 1 : per > 3 ? 3 : per;
    pl->units = max_threads == 1 || pl->serial ? 1 : max_threads * per;
    if (pl->units > H)
        pl->units = H;
    pl->ring_bytes = ALIGN64((size_t)M * (pl->rows + 2) * W * sizeof(float));
    pl->bsl_bytes = ALIGN64((size_t)pl->kc * nr * sizeof(float));
    pl->tile_bytes = ALIGN64((size_t)pl->mpanels * mr * nr * sizeof(float));
    pl->zero_bytes = ALIGN64(((size_t)W + 32) * sizeof(float));
    pl->apack = alloc64(fm_gemm_packed_a_count(M, C, mr) * sizeof(float));
    const int use_bias = pw->bias_term && pw_b;
    pl->bias = use_bias ? alloc64((size_t)pl->mpanels * mr * sizeof(float)) : NULL;
    pl->dw = alloc64((size_t)M * 9 * sizeof(float));
    pl->dwbias = alloc64((size_t)M * sizeof(float));
    if (!pl->apack || (use_bias && !pl->bias) || !pl->dw || !pl->dwbias) {
        fm_err_set(err, FM_ERR_NOMEM, "1x1+depthwise plan: out of memory for the weights");
        fm_pwdw_plan_free(pl);
        return NULL;
    }
    fm_gemm_pack_a(pw_w, (size_t)C, M, C, mr, pl->apack);
    if (pl->bias)
        for (int i = 0; i < pl->mpanels * mr; i++)
            pl->bias[i] = i < M ? pw_b[i] : 0.0f;
    memcpy(pl->dw, dw_w, (size_t)M * 9 * sizeof(float));
    for (int i = 0; i < M; i++)
        pl->dwbias[i] = dw->bias_term && dw_b ? dw_b[i] : 0.0f;
    return pl;
}

/* ---- the 1x1 into the ring --------------------------------------------------------- */

/* Copies rows [0, kc) (row stride ldb) of nv columns into dst (kc rows of nr, zero past nv). */
static void pack_cols(const float *b, size_t ldb, int kc, int nv, int nr, float *dst)
{
    for (int k = 0; k < kc; k++) {
        memcpy(dst + (size_t)k * nr, b + (size_t)k * ldb, (size_t)nv * sizeof(float));
        memset(dst + (size_t)k * nr + nv, 0, (size_t)(nr - nv) * sizeof(float));
    }
}

/* 1x1 output pixels [p0, p0+np) of the image x (pixel index y*W + x) into
 * out (channel i at out + i*ldo, pixel p0 first). */
static void pw_rows(const fm_pwdw_plan *pl, const float *x, int p0, int np, float *out,
                    size_t ldo, float *bsl, float *tile)
{
    const fm_gemm_kernel *kr = pl->k;
    const int mr = kr->mr, nr = kr->nr, C = pl->c, M = pl->m;
    const size_t hw = (size_t)pl->h * pl->w;
    for (int j = 0; j < np; j += nr) {
        const int nv = np - j < nr ? np - j : nr;
        for (int k0 = 0; k0 < C; k0 += pl->kc) {
            const int kc = C - k0 < pl->kc ? C - k0 : pl->kc;
            const float *bsrc = x + (size_t)k0 * hw + p0 + j;
            const float *bp = bsrc;
            size_t ldb = hw;
            if (nv < nr) {
                pack_cols(bsrc, hw, kc, nv, nr, bsl);
                bp = bsl;
                ldb = (size_t)nr;
            }
            const int flags = (k0 == 0 ? FM_GEMM_FIRST : 0) | (k0 + kc >= C ? FM_GEMM_LAST : 0);
            for (int pi = 0; pi < pl->mpanels; pi++) {
                const float *a = pl->apack + ((size_t)pi * C + k0) * mr;
                const float *bias = pl->bias ? pl->bias + (size_t)pi * mr : NULL;
                const int mv = M - pi * mr < mr ? M - pi * mr : mr;
                if (mv == mr && nv == nr)
                    kr->ukr(kc, a, bp, ldb, NULL, out + (size_t)pi * mr * ldo + j, ldo, bias,
                            flags, pl->pw_act);
                else
                    fm_gemm_ukr_for(kr, nv)(kc, a, bp, ldb, NULL, tile + (size_t)pi * mr * nr,
                                            (size_t)nr, bias, flags, pl->pw_act);
            }
        }
        /* the tiles that went through the buffer: their valid rows and columns out */
        for (int pi = 0; pi < pl->mpanels; pi++) {
            const int mv = M - pi * mr < mr ? M - pi * mr : mr;
            if (mv == mr && nv == nr)
                continue;
            for (int i = 0; i < mv; i++)
                memcpy(out + (size_t)(pi * mr + i) * ldo + j, tile + (size_t)(pi * mr + i) * nr,
                       (size_t)nv * sizeof(float));
        }
    }
}

/* ---- depthwise 3x3 rows ------------------------------------------------------------- */

/* One output row of a stride-1, pad-1 3x3 depthwise: r0..r2 are the input rows above,
 * at and below it (a zero row for the padding), W columns each. */
static void dw_row_scalar(const float *r0, const float *r1, const float *r2, int W,
                          const float *wk, float bias, fm_activation act, float *y)
{
    const float *r[3] = {r0, r1, r2};
    for (int ox = 0; ox < W; ox++) {
        float acc = bias;
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                const int ix = ox - 1 + kx;
                if (ix >= 0 && ix < W)
                    acc += r[ky][ix] * wk[ky * 3 + kx];
            }
        y[ox] = fm_act_scalar(act, acc);
    }
}

#ifdef FM_X86
static inline __mmask16 mask_range(int a, int b)
{
    return (__mmask16)(fm_mask16(b) & ~fm_mask16(a));
}

/* row + off without forming an out-of-range pointer in C (lanes outside the row are
 * masked off in every load through it). */
static inline const float *addr_of(const float *row, int off)
{
    return (const float *)((uintptr_t)row + (uintptr_t)((intptr_t)off * (intptr_t)sizeof(float)));
}

FM_TARGET_AVX512 static void dw_row_avx512(const float *r0, const float *r1, const float *r2,
                                           int W, const float *wk, float bias, fm_activation act,
                                           float *y)
{
    __m512 w[9];
    for (int i = 0; i < 9; i++)
        w[i] = _mm512_set1_ps(wk[i]);
    const __m512 vb = _mm512_set1_ps(bias);
    int ox = 0;
    for (; ox < W; ox += 16) {
        if (ox >= 1 && ox + 17 <= W) {
            const int b = ox - 1;
            __m512 a = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + b), w[0], vb);
            __m512 c = _mm512_mul_ps(_mm512_loadu_ps(r0 + b + 1), w[1]);
            a = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + b + 2), w[2], a);
            c = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + b), w[3], c);
            a = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + b + 1), w[4], a);
            c = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + b + 2), w[5], c);
            a = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + b), w[6], a);
            c = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + b + 1), w[7], c);
            a = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + b + 2), w[8], a);
            _mm512_storeu_ps(y + ox, fm_act_avx512(act, _mm512_add_ps(a, c)));
            continue;
        }
        const int n = W - ox < 16 ? W - ox : 16, b = ox - 1;
        const __mmask16 m = fm_mask16(n);
        /* lane t of tap kx reads column b + kx + t */
        const __mmask16 k0 = (__mmask16)(mask_range(-b, W - b) & m);
        const __mmask16 k1 = (__mmask16)(mask_range(-b - 1, W - b - 1) & m);
        const __mmask16 k2 = (__mmask16)(mask_range(-b - 2, W - b - 2) & m);
        __m512 a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k0, addr_of(r0, b)), w[0], vb);
        __m512 c = _mm512_mul_ps(_mm512_maskz_loadu_ps(k1, addr_of(r0, b + 1)), w[1]);
        a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k2, addr_of(r0, b + 2)), w[2], a);
        c = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k0, addr_of(r1, b)), w[3], c);
        a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k1, addr_of(r1, b + 1)), w[4], a);
        c = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k2, addr_of(r1, b + 2)), w[5], c);
        a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k0, addr_of(r2, b)), w[6], a);
        c = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k1, addr_of(r2, b + 1)), w[7], c);
        a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k2, addr_of(r2, b + 2)), w[8], a);
        _mm512_mask_storeu_ps(y + ox, m, fm_act_avx512(act, _mm512_add_ps(a, c)));
    }
}

/* The nine taps of 16 columns at b (all inside the rows, no masks), two chains. */
#define FM_DW9(a, c, r0, r1, r2, b)                                             \
    do {                                                                        \
        a = _mm512_fmadd_ps(_mm512_loadu_ps((r0) + (b)), w[0], a);              \
        c = _mm512_mul_ps(_mm512_loadu_ps((r0) + (b) + 1), w[1]);               \
        a = _mm512_fmadd_ps(_mm512_loadu_ps((r0) + (b) + 2), w[2], a);          \
        c = _mm512_fmadd_ps(_mm512_loadu_ps((r1) + (b)), w[3], c);              \
        a = _mm512_fmadd_ps(_mm512_loadu_ps((r1) + (b) + 1), w[4], a);          \
        c = _mm512_fmadd_ps(_mm512_loadu_ps((r1) + (b) + 2), w[5], c);          \
        a = _mm512_fmadd_ps(_mm512_loadu_ps((r2) + (b)), w[6], a);              \
        c = _mm512_fmadd_ps(_mm512_loadu_ps((r2) + (b) + 1), w[7], c);          \
        a = _mm512_fmadd_ps(_mm512_loadu_ps((r2) + (b) + 2), w[8], a);          \
    } while (0)

/* Output rows oy0 .. oy0+n-1 of one channel: in[i] is input row oy0 - 1 + i (a zero row
 * for the padding), y the first output row (row stride W). The weights are broadcast
 * once; interior blocks of two rows at a time share their loads through the cache. */
FM_TARGET_AVX512 static void dw_rows_avx512(const float *const *in, int n, int W,
                                            const float *wk, float bias, fm_activation act,
                                            float *y)
{
    __m512 w[9];
    for (int i = 0; i < 9; i++)
        w[i] = _mm512_set1_ps(wk[i]);
    const __m512 vb = _mm512_set1_ps(bias);
    /* interior blocks: columns [16, ihi) step 16 need ox - 1 >= 0 and ox + 17 <= W */
    const int ihi = W >= 17 ? 16 + (W - 17) / 16 * 16 : 0;
    int oy = 0;
    for (; oy + 2 <= n; oy += 2) {
        const float *r0 = in[oy], *r1 = in[oy + 1], *r2 = in[oy + 2], *r3 = in[oy + 3];
        float *y0 = y + (size_t)oy * W, *y1 = y0 + W;
        for (int ox = 16; ox + 16 <= ihi; ox += 16) {
            __m512 a0 = vb, c0, a1 = vb, c1;
            FM_DW9(a0, c0, r0, r1, r2, ox - 1);
            FM_DW9(a1, c1, r1, r2, r3, ox - 1);
            _mm512_storeu_ps(y0 + ox, fm_act_avx512(act, _mm512_add_ps(a0, c0)));
            _mm512_storeu_ps(y1 + ox, fm_act_avx512(act, _mm512_add_ps(a1, c1)));
        }
    }
    for (int r = 0; r < n; r++) {
        const float *r0 = in[r], *r1 = in[r + 1], *r2 = in[r + 2];
        float *yr = y + (size_t)r * W;
        for (int ox = 0; ox < W; ox += 16) {
            if (ox >= 16 && ox + 16 <= ihi) {
                if (r < oy)
                    continue; /* done two rows at a time above */
                __m512 a = vb, c;
                FM_DW9(a, c, r0, r1, r2, ox - 1);
                _mm512_storeu_ps(yr + ox, fm_act_avx512(act, _mm512_add_ps(a, c)));
                continue;
            }
            const int nn = W - ox < 16 ? W - ox : 16, b = ox - 1;
            const __mmask16 m = fm_mask16(nn);
            const __mmask16 k0 = (__mmask16)(mask_range(-b, W - b) & m);
            const __mmask16 k1 = (__mmask16)(mask_range(-b - 1, W - b - 1) & m);
            const __mmask16 k2 = (__mmask16)(mask_range(-b - 2, W - b - 2) & m);
            __m512 a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k0, addr_of(r0, b)), w[0], vb);
            __m512 c = _mm512_mul_ps(_mm512_maskz_loadu_ps(k1, addr_of(r0, b + 1)), w[1]);
            a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k2, addr_of(r0, b + 2)), w[2], a);
            c = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k0, addr_of(r1, b)), w[3], c);
            a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k1, addr_of(r1, b + 1)), w[4], a);
            c = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k2, addr_of(r1, b + 2)), w[5], c);
            a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k0, addr_of(r2, b)), w[6], a);
            c = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k1, addr_of(r2, b + 1)), w[7], c);
            a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k2, addr_of(r2, b + 2)), w[8], a);
            _mm512_mask_storeu_ps(yr + ox, m, fm_act_avx512(act, _mm512_add_ps(a, c)));
        }
    }
}
#undef FM_DW9

/* Lanes i of 8 with lo <= i < hi, as an AVX2 load mask. */
FM_TARGET_AVX2 static inline __m256i mask8_range(int lo, int hi)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx));
}

/* 8 floats at row + off, lanes outside [lo, hi) zero and never read. */
FM_TARGET_AVX2 static inline __m256 load8(const float *row, int off, int lo, int hi)
{
    if (lo <= 0 && hi >= 8)
        return _mm256_loadu_ps(addr_of(row, off));
    if (hi <= lo || hi <= 0 || lo >= 8)
        return _mm256_setzero_ps();
    return _mm256_maskload_ps(addr_of(row, off), mask8_range(lo, hi));
}

FM_TARGET_AVX2 static void dw_row_avx2(const float *r0, const float *r1, const float *r2, int W,
                                       const float *wk, float bias, fm_activation act, float *y)
{
    __m256 w[9];
    for (int i = 0; i < 9; i++)
        w[i] = _mm256_set1_ps(wk[i]);
    const __m256 vb = _mm256_set1_ps(bias);
    const float *r[3] = {r0, r1, r2};
    for (int ox = 0; ox < W; ox += 8) {
        const int b = ox - 1;
        __m256 acc;
        if (ox >= 1 && ox + 9 <= W) {
            __m256 a = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + b), w[0], vb);
            __m256 c = _mm256_mul_ps(_mm256_loadu_ps(r0 + b + 1), w[1]);
            a = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + b + 2), w[2], a);
            c = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + b), w[3], c);
            a = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + b + 1), w[4], a);
            c = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + b + 2), w[5], c);
            a = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + b), w[6], a);
            c = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + b + 1), w[7], c);
            a = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + b + 2), w[8], a);
            acc = _mm256_add_ps(a, c);
        } else {
            const int n = W - ox < 8 ? W - ox : 8;
            acc = vb;
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    const int o = b + kx, hi = W - o < n ? W - o : n;
                    acc = _mm256_fmadd_ps(load8(r[ky], o, -o, hi), w[ky * 3 + kx], acc);
                }
        }
        acc = fm_act_avx2(act, acc);
        if (ox + 8 <= W) {
            _mm256_storeu_ps(y + ox, acc);
        } else {
            float tmp[8];
            _mm256_storeu_ps(tmp, acc);
            memcpy(y + ox, tmp, (size_t)(W - ox) * sizeof(float));
        }
    }
}
#endif

typedef void (*dw_row_fn)(const float *, const float *, const float *, int, const float *, float,
                          fm_activation, float *);

static dw_row_fn dw_row_for(fm_isa isa)
{
#ifdef FM_X86
    if (isa == FM_ISA_AVX512)
        return dw_row_avx512;
    if (isa == FM_ISA_AVX2)
        return dw_row_avx2;
#endif
    (void)isa;
    return dw_row_scalar;
}

/* ---- run ------------------------------------------------------------------------------ */

struct pwdw_job {
    const fm_pwdw_plan *pl;
    const float *in;
    float *out;
    unsigned char *scratch;
    int nthreads;
    atomic_size_t next;
};

/* Output rows [y0, y1) of one image x into y. */
static void run_band(const fm_pwdw_plan *pl, const float *x, float *y, int y0, int y1,
                     unsigned char *ws)
{
    const int W = pl->w, H = pl->h, M = pl->m, R = pl->rows;
    const size_t hw = (size_t)H * W, ldr = (size_t)(R + 2) * W;
    float *ring = (float *)ws;
    float *bsl = (float *)(ws + pl->ring_bytes);
    float *tile = (float *)(ws + pl->ring_bytes + pl->bsl_bytes);
    float *zero = (float *)(ws + pl->ring_bytes + pl->bsl_bytes + pl->tile_bytes);
    memset(zero, 0, (size_t)W * sizeof(float));
    const dw_row_fn dw_row = dw_row_for(pl->isa);
    for (int ys = y0; ys < y1; ys += R) {
        const int ye = ys + R < y1 ? ys + R : y1;
        /* slot s of the ring holds 1x1 row ys - 1 + s */
        int first; /* first 1x1 row to compute now */
        if (ys == y0) {
            first = ys > 0 ? ys - 1 : 0;
        } else {
            for (int c = 0; c < M; c++)
                memcpy(ring + c * ldr, ring + c * ldr + (size_t)R * W, 2 * (size_t)W * sizeof(float));
            first = ys + 1;
        }
        const int last = ye < H - 1 ? ye : H - 1;
        if (last >= first)
            pw_rows(pl, x, first * W, (last - first + 1) * W, ring + (size_t)(first - ys + 1) * W,
                    ldr, bsl, tile);
        for (int c = 0; c < M; c++) {
            const float *rc = ring + c * ldr;
            const float *wk = pl->dw + (size_t)c * 9;
            const float bias = pl->dwbias[c];
            float *yc = y + c * hw;
#ifdef FM_X86
            if (pl->isa == FM_ISA_AVX512) {
                const float *in[FM_PWDW_MAX_ROWS + 2];
                for (int i = 0; i < ye - ys + 2; i++) {
                    const int iy = ys - 1 + i;
                    in[i] = iy >= 0 && iy < H ? rc + (size_t)i * W : zero;
                }
                dw_rows_avx512(in, ye - ys, W, wk, bias, pl->dw_act, yc + (size_t)ys * W);
                continue;
            }
#endif
            for (int oy = ys; oy < ye; oy++) {
                const float *r0 = oy > 0 ? rc + (size_t)(oy - ys) * W : zero;
                const float *r1 = rc + (size_t)(oy - ys + 1) * W;
                const float *r2 = oy + 1 < H ? rc + (size_t)(oy - ys + 2) * W : zero;
                dw_row(r0, r1, r2, W, wk, bias, pl->dw_act, yc + (size_t)oy * W);
            }
        }
    }
}

static void pwdw_worker(void *ctx, int tid, int nthreads)
{
    struct pwdw_job *jb = ctx;
    const fm_pwdw_plan *pl = jb->pl;
    if (tid >= jb->nthreads)
        return;
    (void)nthreads;
    unsigned char *ws = jb->scratch + (size_t)tid * thread_bytes(pl);
    const size_t units = (size_t)pl->n * pl->units;
    for (size_t u; (u = atomic_fetch_add_explicit(&jb->next, 1, memory_order_relaxed)) < units;) {
        const int b = (int)(u / pl->units), band = (int)(u % pl->units);
        size_t y0, y1;
        fm_split((size_t)pl->h, band, pl->units, &y0, &y1);
        if (y1 > y0)
            run_band(pl, jb->in + (size_t)b * pl->c * pl->h * pl->w,
                     jb->out + (size_t)b * pl->m * pl->h * pl->w, (int)y0, (int)y1, ws);
    }
}

void fm_pwdw_run(const fm_pwdw_plan *pl, const float *in, float *out, void *scratch,
                 fm_pool *pool)
{
    int nt = fm_pool_size(pool);
    if (nt > pl->max_threads)
        nt = pl->max_threads;
    if (pl->serial || nt < 1) {
        nt = 1;
        pool = NULL;
    }
    struct pwdw_job jb;
    jb.pl = pl;
    jb.in = in;
    jb.out = out;
    jb.scratch = scratch;
    jb.nthreads = nt;
    atomic_init(&jb.next, 0);
    fm_pool_run(pool, pwdw_worker, &jb);
}
