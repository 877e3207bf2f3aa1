/* conv_fast.c - the optimised convolution (fm_conv_plan_*, see ops.h and gemm.h).
 *
 * Strategies, chosen when the plan is made:
 *   - GEMM (every convolution but depthwise): per group, out (M x OH*OW) =
 *     W (M x C*KH*KW) * col (C*KH*KW x OH*OW), W packed into micro-kernel
 *     panels at plan time, bias and activation in the micro-kernel's output
 *     stage. col is never built whole; B comes from one of:
 *       direct:  1x1, stride 1, no pad: full tiles read straight from the input;
 *       shifted: otherwise, when cheaper: the input is copied once into a
 *                zero-padded buffer (shared scratch), split into stride_h x
 *                stride_w phase planes, and the output computed on the
 *                phase-plane grid, so B row (c, ky, kx) is that copy at a fixed
 *                offset (a row-offset table, no im2col); grid columns that
 *                fall in the padding are dropped on store;
 *       packed:  otherwise ("im2col by tile"): per tile of NR output pixels and
 *                K block, the K x NR sliver is gathered into per-thread scratch.
 *     Threads take (batch, group, pixel tile, output-channel chunk) units from
 *     an atomic counter.
 *   - depthwise (group == C == num_output): per channel plane; 3x3 kernels with
 *     stride 1 or 2 run SIMD over output columns with the padding done by
 *     masked loads (AVX-512, AVX2); scalar code does the rest. Threads take
 *     (batch, channel) units from an atomic counter.
 *   - stem (AVX-512; a network's first layer: 3x3 stride 2 over at most 4 input
 *     channels, e.g. YuNet's 3->16 and MobileNetV2's 3->32): direct, no im2col and
 *     no padded copy. Per 16 output columns, each (channel, kernel row) is two
 *     masked loads de-interleaved into the three taps' vectors, then one FMA per
 *     output channel and tap into 16 accumulators (a chunk of 16 output channels).
 *     GEMM with K = 27 spent most of its time packing. Threads take row units.
 * Layers under ~20 MFLOP run on the caller's thread only.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops/gemm.h"
#include "nn/ops/ops.h"
#include "nn/ops/simd.h"

enum { PLAN_GEMM = 0, PLAN_DEPTHWISE = 1, PLAN_STEM = 2 };

struct fm_conv_plan {
    fm_conv_param p;
    int n, c, h, w;  /* input */
    int m, oh, ow;   /* output channels and size */
    int kind;
    fm_isa isa;
    const fm_gemm_kernel *k;
    int groups, cg, mg; /* per group input / output channels */
    int kdim;           /* cg * kh * kw */
    int npix;           /* oh * ow */
    int mpanels;        /* MR panels per group */
    int kc;             /* K block */
    int direct;         /* 1x1, stride 1, no pad: B is the input itself */
    int shifted;        /* B rows are shifted windows of a zero-padded, phase-split copy
                         * of the input (no im2col) */
    int hq, wq;         /* shifted: one phase plane, ceil(padded size / stride) */
    size_t chan;        /* shifted: floats per channel, stride_h * stride_w * hq * wq */
    int ngrid;          /* shifted: output pixels on the phase-plane grid, (oh-1)*wq + ow */
    int32_t *off;       /* shifted: kdim row offsets into the group's copy */
    size_t pad_bytes;   /* shifted: the padded copy (shared by all threads) */
    float *apack;       /* groups * mpanels panels of kdim * mr */
    float *bias;        /* groups * mpanels * mr, or NULL */
    float *dw;          /* depthwise: c * kh * kw weights */
    float *dwbias;      /* depthwise: c, or NULL */
    int max_threads;
    int serial;         /* too little work to be worth waking the pool */
    size_t bsl_bytes;   /* per thread: B sliver */
    size_t tile_bytes;  /* per thread: partial-tile buffer */
};

#define ALIGN64(x) (((x) + 63u) & ~(size_t)63u)

static void *alloc64(size_t bytes)
{
    return aligned_alloc(64, ALIGN64(bytes ? bytes : 1));
}

void fm_conv_plan_free(fm_conv_plan *plan)
{
    if (!plan)
        return;
    free(plan->apack);
    free(plan->bias);
    free(plan->dw);
    free(plan->dwbias);
    free(plan->off);
    free(plan);
}

fm_isa fm_conv_plan_isa(const fm_conv_plan *plan)
{
    return plan->isa;
}

size_t fm_conv_plan_scratch(const fm_conv_plan *plan)
{
    return plan->pad_bytes + (size_t)plan->max_threads * (plan->bsl_bytes + plan->tile_bytes);
}

fm_conv_plan *fm_conv_plan_create(const fm_conv_param *p, const fm_shape *in, const float *weight,
                                  const float *bias, int max_threads, fm_err *err)
{
    return fm_conv_plan_create_isa(p, in, weight, bias, max_threads, fm_isa_detect(), FM_CONV_AUTO,
                                   err);
}

fm_conv_plan *fm_conv_plan_create_isa(const fm_conv_param *p, const fm_shape *in,
                                      const float *weight, const float *bias, int max_threads,
                                      fm_isa isa, unsigned opts, fm_err *err)
{
    fm_shape out;
    if (fm_conv_shape(p, in, &out, err) != FM_OK)
        return NULL;
    if (max_threads < 1 || max_threads > 256) {
        fm_err_set(err, FM_ERR_ARG, "convolution plan: max_threads %d out of range (1..256)",
                   max_threads);
        return NULL;
    }
    if ((int)isa < 0 || (int)isa >= FM_ISA_COUNT || !fm_isa_supported(isa)) {
        fm_err_set(err, FM_ERR_UNSUPPORTED, "convolution plan: this CPU cannot run %s kernels",
                   fm_isa_name(isa));
        return NULL;
    }
    if (!weight) {
        fm_err_set(err, FM_ERR_ARG, "convolution plan: no weights");
        return NULL;
    }
    if (p->bias_term && !bias) {
        fm_err_set(err, FM_ERR_ARG, "convolution plan: bias_term set but no bias given");
        return NULL;
    }
    fm_conv_plan *pl = calloc(1, sizeof *pl);
    if (!pl) {
        fm_err_set(err, FM_ERR_NOMEM, "convolution plan: out of memory");
        return NULL;
    }
    pl->p = *p;
    pl->n = in->d[0];
    pl->c = in->d[1];
    pl->h = in->d[2];
    pl->w = in->d[3];
    pl->m = out.d[1];
    pl->oh = out.d[2];
    pl->ow = out.d[3];
    pl->isa = isa;
    pl->k = fm_gemm_kernel_get(isa);
    pl->groups = p->group;
    pl->cg = pl->c / p->group;
    pl->mg = pl->m / p->group;
    pl->max_threads = max_threads;
    const int khw = p->kernel_h * p->kernel_w;
    size_t npix, kdim;
    if (!fm_size_mul((size_t)pl->oh, (size_t)pl->ow, &npix) || npix > INT32_MAX ||
        !fm_size_mul((size_t)pl->cg, (size_t)khw, &kdim) || kdim > INT32_MAX) {
        fm_err_set(err, FM_ERR_LIMIT, "convolution plan: %dx%d output or %d*%d*%d K too large",
                   pl->oh, pl->ow, pl->cg, p->kernel_h, p->kernel_w);
        fm_conv_plan_free(pl);
        return NULL;
    }
    pl->npix = (int)npix;
    pl->kdim = (int)kdim;
    const int use_bias = p->bias_term && bias;
    /* Below about 20 MFLOP (~130 us on one core) waking the pool costs more
     * than it saves: measured on this VM, a sleeping worker starts 2.5 us after
     * fm_pool_run on an idle machine but 30-100 us when the host is busy.
     * Depthwise does ~5x less per FLOP, so it is weighed 5x. */
    double flops = 2.0 * pl->n * pl->m * (double)pl->kdim * (double)pl->npix;
    int is_dw = p->group == pl->c && p->group == pl->m && p->group > 1;
    pl->serial = !(opts & FM_CONV_THREADED) && (is_dw ? 5.0 * flops : flops) < 20e6;

    if (is_dw) {
        pl->kind = PLAN_DEPTHWISE;
        pl->dw = alloc64((size_t)pl->c * khw * sizeof(float));
        pl->dwbias = use_bias ? alloc64((size_t)pl->c * sizeof(float)) : NULL;
        if (!pl->dw || (use_bias && !pl->dwbias)) {
            fm_err_set(err, FM_ERR_NOMEM, "convolution plan: out of memory for %d depthwise weights",
                       pl->c * khw);
            fm_conv_plan_free(pl);
            return NULL;
        }
        memcpy(pl->dw, weight, (size_t)pl->c * khw * sizeof(float));
        if (use_bias)
            memcpy(pl->dwbias, bias, (size_t)pl->c * sizeof(float));
        return pl;
    }

#ifdef FM_X86
    if (isa == FM_ISA_AVX512 && !(opts & FM_CONV_PACKED) && p->group == 1 && pl->c <= 4 &&
        p->kernel_h == 3 && p->kernel_w == 3 && p->stride_h == 2 && p->stride_w == 2 &&
        p->dilation_h == 1 && p->dilation_w == 1 && pl->m <= 256) {
        /* weights as [c][ky][kx][m], m padded to 16 with zeros; bias likewise */
        const int mp = (pl->m + 15) / 16 * 16;
        pl->kind = PLAN_STEM;
        pl->dw = alloc64((size_t)pl->c * 9 * mp * sizeof(float));
        pl->dwbias = alloc64((size_t)mp * sizeof(float));
        if (!pl->dw || !pl->dwbias) {
            fm_err_set(err, FM_ERR_NOMEM, "convolution plan: out of memory");
            fm_conv_plan_free(pl);
            return NULL;
        }
        memset(pl->dw, 0, (size_t)pl->c * 9 * mp * sizeof(float));
        memset(pl->dwbias, 0, (size_t)mp * sizeof(float));
        for (int m = 0; m < pl->m; m++) {
            for (int k = 0; k < pl->c * 9; k++)
                pl->dw[(size_t)k * mp + m] = weight[(size_t)m * pl->c * 9 + k];
            if (use_bias)
                pl->dwbias[m] = bias[m];
        }
        return pl;
    }
#endif

    pl->kind = PLAN_GEMM;
    const int mr = pl->k->mr, nr = pl->k->nr;
    pl->mpanels = (pl->mg + mr - 1) / mr;
    /* K block: the B sliver (kc x NR floats) should stay in a 48 KB L1 with room to spare. */
    int kc_max = 24576 / (nr * (int)sizeof(float));
    if (kc_max < 64)
        kc_max = 64;
    int nblk = (pl->kdim + kc_max - 1) / kc_max;
    pl->kc = (pl->kdim + nblk - 1) / nblk;
    pl->direct = !(opts & FM_CONV_PACKED) && p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
                 p->pad_h == 0 && p->pad_w == 0;
    size_t per_group = fm_gemm_packed_a_count(pl->mg, pl->kdim, mr);
    size_t total;
    if (!fm_size_mul(per_group, (size_t)pl->groups, &total) ||
        !fm_size_mul(total, sizeof(float), &total)) {
        fm_err_set(err, FM_ERR_NOMEM, "convolution plan: packed weights overflow");
        fm_conv_plan_free(pl);
        return NULL;
    }
    pl->apack = alloc64(total);
    pl->bias = use_bias ? alloc64((size_t)pl->groups * pl->mpanels * mr * sizeof(float)) : NULL;
    if (!pl->apack || (use_bias && !pl->bias)) {
        fm_err_set(err, FM_ERR_NOMEM, "convolution plan: out of memory for %zu bytes of weights",
                   total);
        fm_conv_plan_free(pl);
        return NULL;
    }
    for (int g = 0; g < pl->groups; g++) {
        fm_gemm_pack_a(weight + (size_t)g * pl->mg * pl->kdim, (size_t)pl->kdim, pl->mg, pl->kdim,
                       mr, pl->apack + (size_t)g * per_group);
        if (use_bias)
            for (int i = 0; i < pl->mpanels * mr; i++)
                pl->bias[(size_t)g * pl->mpanels * mr + i] =
                    i < pl->mg ? bias[(size_t)g * pl->mg + i] : 0.0f;
    }
    pl->bsl_bytes = ALIGN64((size_t)pl->kc * nr * sizeof(float));
    pl->tile_bytes = ALIGN64((size_t)mr * nr * sizeof(float));
    /* The padded-input path skips im2col but computes the grid columns that
     * fall in the padding too (ngrid vs npix). Packing costs about 11/M of the
     * arithmetic on this kind of core (measured: 35% at M = 32, 4% at M = 256),
     * the extra grid tiles about 1.5x their share; take the cheaper.
     * With stride s the padded input is split into s*s phase planes
     * (plane (py, px) holds padded pixels (i*s + py, j*s + px)), so that each
     * tap is again a fixed offset into one plane. A kernel narrower than its
     * stride (1x1 stride 2) would leave phase planes unread: packing is cheaper. */
    const int ext_h = (p->kernel_h - 1) * p->dilation_h + 1, ext_w = (p->kernel_w - 1) * p->dilation_w + 1;
    if (!pl->direct && !(opts & FM_CONV_PACKED) && ext_h >= p->stride_h && ext_w >= p->stride_w) {
        const int sh = p->stride_h, sw = p->stride_w;
        size_t hp = (size_t)pl->h + 2 * (size_t)p->pad_h, wp = (size_t)pl->w + 2 * (size_t)p->pad_w;
        size_t hq = (hp + sh - 1) / sh, wq = (wp + sw - 1) / sw;
        size_t chan = (size_t)sh * sw * hq * wq, floats;
        size_t ngrid = (size_t)(pl->oh - 1) * wq + (size_t)pl->ow;
        size_t tg = (ngrid + nr - 1) / nr, tp = (npix + nr - 1) / nr;
        int cheaper = 3 * (tg - tp) * (size_t)pl->mg <= 22 * tp;
        /* one image's C channels plus NR floats of slack the last tile may read */
        if (cheaper && chan < INT32_MAX / (size_t)pl->c &&
            fm_size_mul(chan, (size_t)pl->c, &floats) && floats + (size_t)nr < INT32_MAX) {
            pl->off = malloc((size_t)pl->kdim * sizeof *pl->off);
            if (!pl->off) {
                fm_err_set(err, FM_ERR_NOMEM, "convolution plan: out of memory");
                fm_conv_plan_free(pl);
                return NULL;
            }
            pl->shifted = 1;
            pl->hq = (int)hq;
            pl->wq = (int)wq;
            pl->chan = chan;
            pl->ngrid = (int)ngrid;
            for (int k = 0; k < pl->kdim; k++) {
                int ci = k / khw, ey = k % khw / p->kernel_w * p->dilation_h,
                    ex = k % p->kernel_w * p->dilation_w;
                size_t phase = (size_t)(ey % sh) * sw + (size_t)(ex % sw);
                pl->off[k] = (int32_t)((size_t)ci * chan + phase * hq * wq + (size_t)(ey / sh) * wq +
                                       (size_t)(ex / sw));
            }
            pl->pad_bytes = ALIGN64((floats + (size_t)nr) * sizeof(float));
            pl->bsl_bytes = 0;
            pl->tile_bytes = ALIGN64((size_t)pl->mpanels * mr * nr * sizeof(float));
        }
    }
    return pl;
}

/* ---- GEMM path -------------------------------------------------------------- */

/* Gathers rows [k0, k0+kc) of the im2col matrix for output pixels
 * [n0, n0+nv) of one image and group (x: the group's first input channel)
 * into dst (kc rows of nr floats, columns past nv zero). */
static void pack_b(const fm_conv_plan *pl, const float *x, int k0, int kc, int n0, int nv,
                   int nr, float *dst)
{
    const fm_conv_param *p = &pl->p;
    const int KH = p->kernel_h, KW = p->kernel_w, H = pl->h, W = pl->w, OW = pl->ow;
    const int sh = p->stride_h, sw = p->stride_w;
    const int oy0 = n0 / OW, ox0 = n0 % OW;
    for (int kk = 0; kk < kc; kk++) {
        const int k = k0 + kk;
        const int ci = k / (KH * KW), r = k % (KH * KW), ky = r / KW, kx = r % KW;
        const float *xc = x + (size_t)ci * H * W;
        const int offy = ky * p->dilation_h - p->pad_h, offx = kx * p->dilation_w - p->pad_w;
        float *d = dst + (size_t)kk * nr;
        int j = 0, oy = oy0, ox = ox0;
        while (j < nv) {
            int len = OW - ox < nv - j ? OW - ox : nv - j;
            int iy = oy * sh + offy;
            if (iy < 0 || iy >= H) {
                memset(d + j, 0, (size_t)len * sizeof(float));
            } else {
                const float *row = xc + (size_t)iy * W;
                int ix0 = ox * sw + offx;
                /* t in [lo, hi) has 0 <= ix0 + t*sw < W */
                int lo = ix0 >= 0 ? 0 : (-ix0 + sw - 1) / sw;
                int hi = ix0 > W - 1 ? 0 : (W - 1 - ix0) / sw + 1;
                if (lo > len)
                    lo = len;
                if (hi > len)
                    hi = len;
                if (hi < lo)
                    hi = lo;
                for (int t = 0; t < lo; t++)
                    d[j + t] = 0.0f;
                if (sw == 1) {
                    memcpy(d + j + lo, row + ix0 + lo, (size_t)(hi - lo) * sizeof(float));
                } else {
                    const float *s = row + ix0;
                    for (int t = lo; t < hi; t++)
                        d[j + t] = s[(size_t)t * sw];
                }
                for (int t = hi; t < len; t++)
                    d[j + t] = 0.0f;
            }
            j += len;
            ox = 0;
            oy++;
        }
        for (; j < nr; j++)
            d[j] = 0.0f;
    }
}

#ifdef FM_X86
/* Lanes i with a <= i < b. */
static inline __mmask16 mask_range(int a, int b)
{
    return (__mmask16)(fm_mask16(b) & ~fm_mask16(a));
}

/* row + off without forming an out-of-range pointer in C: lanes outside the
 * row are masked off in every load through it, so they are never touched. */
static inline const float *addr_of(const float *row, int off)
{
    return (const float *)((uintptr_t)row + (uintptr_t)((intptr_t)off * (intptr_t)sizeof(float)));
}

/* pack_b for the 48-column AVX-512 kernel: per output-row segment, masked
 * loads do the zero padding; stride 2 de-interleaves with one permute. */
FM_TARGET_AVX512 static void pack_b_avx512(const fm_conv_plan *pl, const float *x, int k0, int kc,
                                           int n0, int nv, float *dst)
{
    enum { NR = 48 };
    const fm_conv_param *p = &pl->p;
    const int KH = p->kernel_h, KW = p->kernel_w, H = pl->h, W = pl->w, OW = pl->ow;
    const int sh = p->stride_h, sw = p->stride_w;
    int sj[NR], slen[NR], soy[NR], sox[NR], nseg = 0;
    for (int j = 0, oy = n0 / OW, ox = n0 % OW; j < nv; nseg++) {
        int len = OW - ox < nv - j ? OW - ox : nv - j;
        sj[nseg] = j;
        slen[nseg] = len;
        soy[nseg] = oy;
        sox[nseg] = ox;
        j += len;
        ox = 0;
        oy++;
    }
    const __m512 zero = _mm512_setzero_ps();
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    int ci = k0 / (KH * KW), ky = k0 % (KH * KW) / KW, kx = k0 % KW;
    for (int kk = 0; kk < kc; kk++) {
        const float *xc = x + (size_t)ci * H * W;
        const int offy = ky * p->dilation_h - p->pad_h, offx = kx * p->dilation_w - p->pad_w;
        float *d = dst + (size_t)kk * NR;
        for (int s = 0; s < nseg; s++) {
            float *ds = d + sj[s];
            const int len = slen[s], iy = soy[s] * sh + offy;
            if (iy < 0 || iy >= H) {
                for (int c = 0; c < len; c += 16)
                    _mm512_mask_storeu_ps(ds + c, fm_mask16(len - c), zero);
                continue;
            }
            const float *row = xc + (size_t)iy * W;
            const int ix0 = sox[s] * sw + offx;
            int lo = ix0 >= 0 ? 0 : (-ix0 + sw - 1) / sw;
            int hi = ix0 > W - 1 ? 0 : (W - 1 - ix0) / sw + 1;
            if (sw == 1) {
                for (int c = 0; c < len; c += 16) {
                    __m512 v = _mm512_maskz_loadu_ps(mask_range(lo - c, hi - c), addr_of(row, ix0 + c));
                    _mm512_mask_storeu_ps(ds + c, fm_mask16(len - c), v);
                }
            } else if (sw == 2) {
                for (int c = 0; c < len; c += 16) {
                    const int a = 2 * (lo - c), b = 2 * (hi - c) - 1;
                    __m512 v0 = _mm512_maskz_loadu_ps(mask_range(a, b), addr_of(row, ix0 + 2 * c));
                    __m512 v1 = _mm512_maskz_loadu_ps(mask_range(a - 16, b - 16),
                                                      addr_of(row, ix0 + 2 * c + 16));
                    _mm512_mask_storeu_ps(ds + c, fm_mask16(len - c),
                                          _mm512_permutex2var_ps(v0, even, v1));
                }
            } else {
                if (lo > len)
                    lo = len;
                if (hi > len)
                    hi = len;
                for (int t = 0; t < len; t++)
                    ds[t] = t >= lo && t < hi ? row[ix0 + t * sw] : 0.0f;
            }
        }
        for (int c = nv; c < NR; c += 16)
            _mm512_mask_storeu_ps(d + c, fm_mask16(NR - c), zero);
        if (++kx == KW) {
            kx = 0;
            if (++ky == KH) {
                ky = 0;
                ci++;
            }
        }
    }
}
#endif

/* Work is handed out by an atomic counter rather than split evenly up front:
 * a worker that wakes late (tens of microseconds on a busy VM) then simply
 * takes fewer units instead of holding everyone up. */
static inline size_t grab(atomic_size_t *next)
{
    return atomic_fetch_add_explicit(next, 1, memory_order_relaxed);
}

struct gemm_job {
    const fm_conv_plan *pl;
    const float *in;
    float *out;
    unsigned char *scratch;
    int nthreads; /* threads that take part (<= plan's max_threads) */
    int ntiles, msplit;
    atomic_size_t next;
};

static void gemm_worker(void *ctx, int tid, int nthreads)
{
    struct gemm_job *jb = ctx;
    const fm_conv_plan *pl = jb->pl;
    if (tid >= jb->nthreads)
        return;
    (void)nthreads;
    const fm_gemm_kernel *kr = pl->k;
    const int mr = kr->mr, nr = kr->nr;
    float *bsl = (float *)(jb->scratch + (size_t)tid * (pl->bsl_bytes + pl->tile_bytes));
    float *tile = (float *)((unsigned char *)bsl + pl->bsl_bytes);
    const size_t npix = (size_t)pl->npix, hw = (size_t)pl->h * pl->w;
    const size_t units = (size_t)pl->n * pl->groups * jb->ntiles * jb->msplit;
    for (size_t u; (u = grab(&jb->next)) < units;) {
        const int mc = (int)(u % jb->msplit);
        size_t rest = u / jb->msplit;
        const int t = (int)(rest % jb->ntiles);
        rest /= jb->ntiles;
        const int g = (int)(rest % pl->groups);
        const int b = (int)(rest / pl->groups);
        const int n0 = t * nr;
        const int nv = pl->npix - n0 < nr ? pl->npix - n0 : nr;
        size_t pb, pe;
        fm_split((size_t)pl->mpanels, mc, jb->msplit, &pb, &pe);
        const float *x = jb->in + ((size_t)b * pl->c + (size_t)g * pl->cg) * hw;
        float *y = jb->out + ((size_t)b * pl->m + (size_t)g * pl->mg) * npix + n0;
        const float *ag = pl->apack + (size_t)g * pl->mpanels * pl->kdim * mr;
        for (int k0 = 0; k0 < pl->kdim; k0 += pl->kc) {
            const int kc = pl->kdim - k0 < pl->kc ? pl->kdim - k0 : pl->kc;
            const float *bp;
            size_t ldb;
            if (pl->direct && nv == nr) {
                bp = x + (size_t)k0 * hw + n0;
                ldb = hw;
            } else {
#ifdef FM_X86
                if (pl->isa == FM_ISA_AVX512 && nr == 48)
                    pack_b_avx512(pl, x, k0, kc, n0, nv, bsl);
                else
#endif
                    pack_b(pl, x, k0, kc, n0, nv, nr, bsl);
                bp = bsl;
                ldb = (size_t)nr;
            }
            const int flags = (k0 == 0 ? FM_GEMM_FIRST : 0) | (k0 + kc >= pl->kdim ? FM_GEMM_LAST : 0);
            for (size_t pi = pb; pi < pe; pi++) {
                const float *a = ag + (pi * pl->kdim + k0) * mr;
                const float *bias = pl->bias ? pl->bias + ((size_t)g * pl->mpanels + pi) * mr : NULL;
                const int mv = pl->mg - (int)pi * mr < mr ? pl->mg - (int)pi * mr : mr;
                float *c = y + pi * mr * npix;
                if (mv == mr && nv == nr) {
                    kr->ukr(kc, a, bp, ldb, NULL, c, npix, bias, flags, pl->p.act);
                } else {
                    if (!(flags & FM_GEMM_FIRST))
                        for (int i = 0; i < mv; i++)
                            memcpy(tile + (size_t)i * nr, c + i * npix, (size_t)nv * sizeof(float));
                    fm_gemm_ukr_for(kr, nv)(kc, a, bp, ldb, NULL, tile, (size_t)nr, bias, flags, pl->p.act);
                    for (int i = 0; i < mv; i++)
                        memcpy(c + i * npix, tile + (size_t)i * nr, (size_t)nv * sizeof(float));
                }
            }
        }
    }
}

/* ---- GEMM on a padded input (stride 1) ----------------------------------------- */

struct shift_job {
    const fm_conv_plan *pl;
    const float *in; /* one image */
    float *out;      /* one image */
    float *padded;
    unsigned char *tiles;
    int nthreads;
    int ntiles, msplit;
    atomic_size_t next_pad, next;
};

static void pad_worker(void *ctx, int tid, int nthreads)
{
    struct shift_job *jb = ctx;
    const fm_conv_plan *pl = jb->pl;
    if (tid >= jb->nthreads)
        return;
    (void)nthreads;
    const int ph = pl->p.pad_h, pw = pl->p.pad_w, sh = pl->p.stride_h, sw = pl->p.stride_w;
    const int H = pl->h, W = pl->w, hq = pl->hq, wq = pl->wq;
    for (size_t ch; (ch = grab(&jb->next_pad)) <= (size_t)pl->c;) {
        if (ch == (size_t)pl->c) { /* the slack after the last channel */
            memset(jb->padded + (size_t)pl->c * pl->chan, 0, (size_t)pl->k->nr * sizeof(float));
            continue;
        }
        const float *x = jb->in + ch * H * W;
        float *d = jb->padded + ch * pl->chan;
        for (int py = 0; py < sh; py++)
            for (int px = 0; px < sw; px++) {
                /* plane column j reads input column j*sw + px - pw: valid for j in [jlo, jhi) */
                const int x0 = px - pw;
                int jlo = x0 >= 0 ? 0 : (-x0 + sw - 1) / sw;
                int jhi = x0 > W - 1 ? 0 : (W - 1 - x0) / sw + 1;
                if (jhi > wq)
                    jhi = wq;
                if (jlo > jhi)
                    jlo = jhi;
                for (int i = 0; i < hq; i++, d += wq) {
                    const int y = i * sh + py - ph;
                    if (y < 0 || y >= H) {
                        memset(d, 0, (size_t)wq * sizeof(float));
                        continue;
                    }
                    const float *row = x + (size_t)y * W;
                    memset(d, 0, (size_t)jlo * sizeof(float));
                    if (sw == 1)
                        memcpy(d + jlo, row + jlo + x0, (size_t)(jhi - jlo) * sizeof(float));
                    else
                        for (int j = jlo; j < jhi; j++)
                            d[j] = row[j * sw + x0];
                    memset(d + jhi, 0, (size_t)(wq - jhi) * sizeof(float));
                }
            }
    }
}

static void shift_worker(void *ctx, int tid, int nthreads)
{
    struct shift_job *jb = ctx;
    const fm_conv_plan *pl = jb->pl;
    if (tid >= jb->nthreads)
        return;
    (void)nthreads;
    const fm_gemm_kernel *kr = pl->k;
    const int mr = kr->mr, nr = kr->nr, wq = pl->wq, ow = pl->ow;
    float *tile = (float *)(jb->tiles + (size_t)tid * pl->tile_bytes);
    const size_t npix = (size_t)pl->npix;
    const size_t units = (size_t)pl->groups * jb->ntiles * jb->msplit;
    for (size_t u; (u = grab(&jb->next)) < units;) {
        const int mc = (int)(u % jb->msplit);
        const int t = (int)(u / jb->msplit % jb->ntiles);
        const int g = (int)(u / jb->msplit / jb->ntiles);
        const int q0 = t * nr;
        const int qv = pl->ngrid - q0 < nr ? pl->ngrid - q0 : nr;
        size_t pb, pe;
        fm_split((size_t)pl->mpanels, mc, jb->msplit, &pb, &pe);
        const float *base = jb->padded + (size_t)g * pl->cg * pl->chan + q0;
        const float *ag = pl->apack + (size_t)g * pl->mpanels * pl->kdim * mr;
        for (int k0 = 0; k0 < pl->kdim; k0 += pl->kc) {
            const int kc = pl->kdim - k0 < pl->kc ? pl->kdim - k0 : pl->kc;
            const int flags = (k0 == 0 ? FM_GEMM_FIRST : 0) | (k0 + kc >= pl->kdim ? FM_GEMM_LAST : 0);
            for (size_t pi = pb; pi < pe; pi++) {
                const float *bias = pl->bias ? pl->bias + ((size_t)g * pl->mpanels + pi) * mr : NULL;
                fm_gemm_ukr_for(kr, qv)(kc, ag + (pi * pl->kdim + k0) * mr, base, 0, pl->off + k0,
                        tile + pi * mr * nr, (size_t)nr, bias, flags, pl->p.act);
            }
        }
        /* grid columns past ow fall in the padding: drop them */
        float *y = jb->out + (size_t)g * pl->mg * npix;
        for (int j = 0; j < qv;) {
            const int q = q0 + j, oy = q / wq, ox = q % wq;
            const int run = wq - ox < qv - j ? wq - ox : qv - j;
            if (ox < ow) {
                const int len = ox + run <= ow ? run : ow - ox;
                for (int i = (int)pb * mr; i < (int)pe * mr && i < pl->mg; i++)
                    memcpy(y + (size_t)i * npix + (size_t)oy * ow + ox, tile + (size_t)i * nr + j,
                           (size_t)len * sizeof(float));
            }
            j += run;
        }
    }
}

/* ---- depthwise path ------------------------------------------------------------ */

/* Output columns [ox0, ox1) of one row, any kernel, every tap bounds-checked. */
static void dw_row_generic(const fm_conv_plan *pl, const float *x, const float *wk, float bias,
                           int oy, int ox0, int ox1, float *yrow)
{
    const fm_conv_param *p = &pl->p;
    for (int ox = ox0; ox < ox1; ox++) {
        float acc = bias;
        for (int ky = 0; ky < p->kernel_h; ky++) {
            int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
            if (iy < 0 || iy >= pl->h)
                continue;
            const float *row = x + (size_t)iy * pl->w;
            for (int kx = 0; kx < p->kernel_w; kx++) {
                int ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
                if (ix >= 0 && ix < pl->w)
                    acc += row[ix] * wk[ky * p->kernel_w + kx];
            }
        }
        yrow[ox] = fm_act_scalar(p->act, acc);
    }
}

/* 3x3, output columns [ox0, ox1) whose three taps are all inside the row;
 * rows[ky] is NULL for a kernel row outside the input. */
static void dw3_row_scalar(const float *const rows[3], const float *wk, float bias, int stride,
                           int pad, int ox0, int ox1, fm_activation act, float *yrow)
{
    for (int ox = ox0; ox < ox1; ox++) {
        float acc = bias;
        int ix = ox * stride - pad;
        for (int ky = 0; ky < 3; ky++)
            if (rows[ky])
                acc += rows[ky][ix] * wk[ky * 3] + rows[ky][ix + 1] * wk[ky * 3 + 1] +
                       rows[ky][ix + 2] * wk[ky * 3 + 2];
        yrow[ox] = fm_act_scalar(act, acc);
    }
}

#ifdef FM_X86
/* Lanes i of 8 with lo <= i < hi, as an AVX2 load mask. */
FM_TARGET_AVX2 static inline __m256i mask8_range(int lo, int hi)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx));
}

FM_TARGET_AVX2 static inline __m256 load8_masked(const float *row, int off, int lo, int hi)
{
    if (lo <= 0 && hi >= 8)
        return _mm256_loadu_ps(addr_of(row, off));
    if (hi <= lo || hi <= 0 || lo >= 8)
        return _mm256_setzero_ps();
    return _mm256_maskload_ps(addr_of(row, off), mask8_range(lo, hi));
}

/* Even elements of the 16 floats lo:hi, in order. */
FM_TARGET_AVX2 static inline __m256 even8(__m256 lo, __m256 hi)
{
    __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
}

FM_TARGET_AVX2 static inline __m256 odd8(__m256 lo, __m256 hi)
{
    __m256 o = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8));
}

/* The AVX2 version of dw3s1_block_avx512 (below): 8 columns, no masks, two chains. */
FM_TARGET_AVX2 static inline __m256 dw3s1_block_avx2(const float *r0, const float *r1,
                                                     const float *r2, const __m256 *w, __m256 vb)
{
    __m256 a = _mm256_fmadd_ps(_mm256_loadu_ps(r0), w[0], vb);
    __m256 c = _mm256_mul_ps(_mm256_loadu_ps(r0 + 1), w[1]);
    a = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + 2), w[2], a);
    c = _mm256_fmadd_ps(_mm256_loadu_ps(r1), w[3], c);
    a = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + 1), w[4], a);
    c = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + 2), w[5], c);
    a = _mm256_fmadd_ps(_mm256_loadu_ps(r2), w[6], a);
    c = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + 1), w[7], c);
    a = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + 2), w[8], a);
    return _mm256_add_ps(a, c);
}

/* The AVX2 version of dw3_plane_avx512 below: 8 columns a step, masked loads. */
FM_TARGET_AVX2 static void dw3_plane_avx2(const fm_conv_plan *pl, const float *x, const float *wk,
                                          float bias, float *y)
{
    const fm_conv_param *p = &pl->p;
    const int H = pl->h, W = pl->w, OW = pl->ow, sh = p->stride_h, sw = p->stride_w;
    const int ph = p->pad_h, pw = p->pad_w;
    const fm_activation act = p->act;
    __m256 w[9];
    for (int i = 0; i < 9; i++)
        w[i] = _mm256_set1_ps(wk[i]);
    const __m256 vb = _mm256_set1_ps(bias);
    for (int oy = 0; oy < pl->oh; oy++) {
        const float *rows[3];
        for (int ky = 0; ky < 3; ky++) {
            const int iy = oy * sh - ph + ky;
            rows[ky] = iy >= 0 && iy < H ? x + (size_t)iy * W : NULL;
        }
        float *yrow = y + (size_t)oy * OW;
        /* stride 1 with all three rows: blocks with every tap inside the row unmasked */
        const int inner = sw == 1 && rows[0] && rows[1] && rows[2];
        for (int ox0 = 0; ox0 < OW; ox0 += 8) {
            if (inner && ox0 >= pw && ox0 + 8 <= OW && ox0 - pw + 10 <= W) {
                const int b = ox0 - pw;
                _mm256_storeu_ps(yrow + ox0, fm_act_avx2(act, dw3s1_block_avx2(rows[0] + b, rows[1] + b,
                                                                              rows[2] + b, w, vb)));
                continue;
            }
            const int n = OW - ox0 < 8 ? OW - ox0 : 8;
            const int b0 = ox0 * sw - pw;
            __m256 acc = vb;
            for (int ky = 0; ky < 3; ky++) {
                const float *r = rows[ky];
                if (!r)
                    continue;
                if (sw == 1) {
                    for (int kx = 0; kx < 3; kx++) {
                        const int b = b0 + kx, lo = -b, hi = W - b < n ? W - b : n;
                        acc = _mm256_fmadd_ps(load8_masked(r, b, lo, hi), w[ky * 3 + kx], acc);
                    }
                } else {
                    /* pair A at b0 (kx 0 even, kx 1 odd elements, e < 2n), pair B at b0 + 2 */
                    const int alo = -b0, ahi = W - b0 < 2 * n ? W - b0 : 2 * n;
                    const int blo = -b0 - 2, bhi = W - b0 - 2 < 2 * n - 1 ? W - b0 - 2 : 2 * n - 1;
                    __m256 l0 = load8_masked(r, b0, alo, ahi);
                    __m256 l1 = load8_masked(r, b0 + 8, alo - 8, ahi - 8);
                    __m256 k0 = load8_masked(r, b0 + 2, blo, bhi);
                    __m256 k1 = load8_masked(r, b0 + 10, blo - 8, bhi - 8);
                    acc = _mm256_fmadd_ps(even8(l0, l1), w[ky * 3], acc);
                    acc = _mm256_fmadd_ps(odd8(l0, l1), w[ky * 3 + 1], acc);
                    acc = _mm256_fmadd_ps(even8(k0, k1), w[ky * 3 + 2], acc);
                }
            }
            acc = fm_act_avx2(act, acc);
            if (n == 8) {
                _mm256_storeu_ps(yrow + ox0, acc);
            } else {
                float tmp[8];
                _mm256_storeu_ps(tmp, acc);
                memcpy(yrow + ox0, tmp, (size_t)n * sizeof(float));
            }
        }
    }
}

/* 16 output columns of a stride-1 3x3 row whose taps all lie inside the three input
 * rows r[0..2] (each already offset to the block's first tap): plain loads, the nine
 * products in two independent chains so consecutive blocks overlap in the core. */
FM_TARGET_AVX512 static inline __m512 dw3s1_block_avx512(const float *r0, const float *r1,
                                                         const float *r2, const __m512 *w,
                                                         __m512 vb)
{
    __m512 a = _mm512_fmadd_ps(_mm512_loadu_ps(r0), w[0], vb);
    __m512 c = _mm512_mul_ps(_mm512_loadu_ps(r0 + 1), w[1]);
    a = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + 2), w[2], a);
    c = _mm512_fmadd_ps(_mm512_loadu_ps(r1), w[3], c);
    a = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + 1), w[4], a);
    c = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + 2), w[5], c);
    a = _mm512_fmadd_ps(_mm512_loadu_ps(r2), w[6], a);
    c = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + 1), w[7], c);
    a = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + 2), w[8], a);
    return _mm512_add_ps(a, c);
}

/* dw3s1_block_avx512 for border blocks: tap kx of row ky loads lanes mk[kx] & mr[ky]
 * (mr[ky] is 0 for a row outside the input, whose pointer is then any valid row). */
FM_TARGET_AVX512 static inline __m512 dw3s1_block_masked_avx512(const float *const r[3],
                                                                const __mmask16 mr[3], int b0,
                                                                const __mmask16 mk[3],
                                                                const __m512 *w, __m512 vb)
{
#define FM_DW_LD(ky, kx) _mm512_maskz_loadu_ps((__mmask16)(mk[kx] & mr[ky]), addr_of(r[ky], b0 + kx))
    __m512 a = _mm512_fmadd_ps(FM_DW_LD(0, 0), w[0], vb);
    __m512 c = _mm512_mul_ps(FM_DW_LD(0, 1), w[1]);
    a = _mm512_fmadd_ps(FM_DW_LD(0, 2), w[2], a);
    c = _mm512_fmadd_ps(FM_DW_LD(1, 0), w[3], c);
    a = _mm512_fmadd_ps(FM_DW_LD(1, 1), w[4], a);
    c = _mm512_fmadd_ps(FM_DW_LD(1, 2), w[5], c);
    a = _mm512_fmadd_ps(FM_DW_LD(2, 0), w[6], a);
    c = _mm512_fmadd_ps(FM_DW_LD(2, 1), w[7], c);
    a = _mm512_fmadd_ps(FM_DW_LD(2, 2), w[8], a);
#undef FM_DW_LD
    return _mm512_add_ps(a, c);
}

/* A whole 3x3 plane (stride 1 or 2, any padding): every column in the vector
 * loop, the padding done by load masks, so no scalar border columns. */
FM_TARGET_AVX512 static void dw3_plane_avx512(const fm_conv_plan *pl, const float *x,
                                              const float *wk, float bias, float *y)
{
    const fm_conv_param *p = &pl->p;
    const int H = pl->h, W = pl->w, OW = pl->ow, sh = p->stride_h, sw = p->stride_w;
    const int ph = p->pad_h, pw = p->pad_w;
    const fm_activation act = p->act;
    __m512 w[9];
    for (int i = 0; i < 9; i++)
        w[i] = _mm512_set1_ps(wk[i]);
    const __m512 vb = _mm512_set1_ps(bias);
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int oy = 0; oy < pl->oh; oy++) {
        const float *rows[3];
        for (int ky = 0; ky < 3; ky++) {
            const int iy = oy * sh - ph + ky;
            rows[ky] = iy >= 0 && iy < H ? x + (size_t)iy * W : NULL;
        }
        /* stride 1 with all three rows: blocks whose taps are inside the row take
         * dw3s1_block_avx512 (no masks); the borders the masked code below */
        const int inner = sw == 1 && rows[0] && rows[1] && rows[2];
        const float *any = rows[1] ? rows[1] : rows[0] ? rows[0] : rows[2] ? rows[2] : x;
        const float *const rsafe[3] = {rows[0] ? rows[0] : any, rows[1] ? rows[1] : any,
                                       rows[2] ? rows[2] : any};
        const __mmask16 mrow[3] = {(__mmask16)(rows[0] ? 0xFFFF : 0), (__mmask16)(rows[1] ? 0xFFFF : 0),
                                   (__mmask16)(rows[2] ? 0xFFFF : 0)};
        float *yrow = y + (size_t)oy * OW;
        for (int ox0 = 0; ox0 < OW;) {
            if (inner && ox0 >= pw && ox0 + 16 <= OW && ox0 - pw + 18 <= W) {
                do {
                    const int b = ox0 - pw;
                    _mm512_storeu_ps(yrow + ox0,
                                     fm_act_avx512(act, dw3s1_block_avx512(rows[0] + b, rows[1] + b,
                                                                           rows[2] + b, w, vb)));
                    ox0 += 16;
                } while (ox0 + 16 <= OW && ox0 - pw + 18 <= W);
                continue;
            }
            const int n = OW - ox0 < 16 ? OW - ox0 : 16;
            const __mmask16 m = fm_mask16(n);
            const int b0 = ox0 * sw - pw; /* input column of lane 0, kx = 0 */
            __m512 acc = vb;
            if (sw == 1) {
                /* lane t of tap kx reads b0 + kx + t */
                const __mmask16 mk[3] = {(__mmask16)(mask_range(-b0, W - b0) & m),
                                         (__mmask16)(mask_range(-b0 - 1, W - b0 - 1) & m),
                                         (__mmask16)(mask_range(-b0 - 2, W - b0 - 2) & m)};
                acc = dw3s1_block_masked_avx512(rsafe, mrow, b0, mk, w, vb);
            } else {
                /* pair A: elements b0 + e, e < 2n (kx 0: even e, kx 1: odd e);
                 * pair B: elements b0 + 2 + e, e < 2n - 1 (kx 2: even e) */
                int alo = -b0 > 0 ? -b0 : 0, ahi = W - b0 < 2 * n ? W - b0 : 2 * n;
                int blo = -b0 - 2 > 0 ? -b0 - 2 : 0, bhi = W - b0 - 2 < 2 * n - 1 ? W - b0 - 2 : 2 * n - 1;
                const __mmask16 a0 = mask_range(alo, ahi), a1 = mask_range(alo - 16, ahi - 16);
                const __mmask16 c0 = mask_range(blo, bhi), c1 = mask_range(blo - 16, bhi - 16);
                for (int ky = 0; ky < 3; ky++) {
                    const float *r = rows[ky];
                    if (!r)
                        continue;
                    __m512 l0 = _mm512_maskz_loadu_ps(a0, addr_of(r, b0));
                    __m512 l1 = _mm512_maskz_loadu_ps(a1, addr_of(r, b0 + 16));
                    __m512 k0 = _mm512_maskz_loadu_ps(c0, addr_of(r, b0 + 2));
                    __m512 k1 = _mm512_maskz_loadu_ps(c1, addr_of(r, b0 + 18));
                    acc = _mm512_fmadd_ps(_mm512_permutex2var_ps(l0, even, l1), w[ky * 3], acc);
                    acc = _mm512_fmadd_ps(_mm512_permutex2var_ps(l0, odd, l1), w[ky * 3 + 1], acc);
                    acc = _mm512_fmadd_ps(_mm512_permutex2var_ps(k0, even, k1), w[ky * 3 + 2], acc);
                }
            }
            _mm512_mask_storeu_ps(yrow + ox0, m, fm_act_avx512(act, acc));
            ox0 += 16;
        }
    }
}
#endif

/* ---- stem path ------------------------------------------------------------------ */

#ifdef FM_X86
/* Output row oy of one image (x: its C planes, y: its M planes), all columns. */
FM_TARGET_AVX512 static void stem_row_avx512(const fm_conv_plan *pl, const float *x, int oy,
                                             float *y)
{
    const fm_conv_param *p = &pl->p;
    const int H = pl->h, W = pl->w, OW = pl->ow, C = pl->c, M = pl->m;
    const int mp = (M + 15) / 16 * 16;
    const size_t hw = (size_t)H * W, ohw = (size_t)pl->oh * OW;
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int ox0 = 0; ox0 < OW; ox0 += 16) {
        const int n = OW - ox0 < 16 ? OW - ox0 : 16;
        const int b0 = ox0 * 2 - p->pad_w; /* input column of lane 0, kx = 0 */
        /* pair A: elements b0 + e, e < 2n (kx 0: even e, kx 1: odd e);
         * pair B: elements b0 + 2 + e, e < 2n - 1 (kx 2: even e) */
        const int alo = -b0 > 0 ? -b0 : 0, ahi = W - b0 < 2 * n ? W - b0 : 2 * n;
        const int blo = -b0 - 2 > 0 ? -b0 - 2 : 0, bhi = W - b0 - 2 < 2 * n - 1 ? W - b0 - 2 : 2 * n - 1;
        const __mmask16 a0 = mask_range(alo, ahi), a1 = mask_range(alo - 16, ahi - 16);
        const __mmask16 c0 = mask_range(blo, bhi), c1 = mask_range(blo - 16, bhi - 16);
        const __mmask16 st = fm_mask16(n);
        for (int m0 = 0; m0 < M; m0 += 16) {
            /* 16 named accumulators: as an array gcc 12 keeps some on the stack */
#define FM_STEM_ALL(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define FM_STEM_INIT(i) __m512 acc##i = _mm512_set1_ps(pl->dwbias[m0 + i]);
#define FM_STEM_FMA(i)                                                       \
    acc##i = _mm512_fmadd_ps(v0, _mm512_set1_ps(wt[i]), acc##i);             \
    acc##i = _mm512_fmadd_ps(v1, _mm512_set1_ps(wt[mp + i]), acc##i);        \
    acc##i = _mm512_fmadd_ps(v2, _mm512_set1_ps(wt[2 * mp + i]), acc##i);
#define FM_STEM_STORE(i)                                                                 \
    if (i < mc)                                                                          \
        _mm512_mask_storeu_ps(yo + (size_t)(i) * ohw, st, fm_act_avx512(p->act, acc##i));
            FM_STEM_ALL(FM_STEM_INIT)
            for (int c = 0; c < C; c++)
                for (int ky = 0; ky < 3; ky++) {
                    const int iy = oy * 2 - p->pad_h + ky;
                    if (iy < 0 || iy >= H)
                        continue;
                    const float *r = x + (size_t)c * hw + (size_t)iy * W;
                    const __m512 l0 = _mm512_maskz_loadu_ps(a0, addr_of(r, b0));
                    const __m512 l1 = _mm512_maskz_loadu_ps(a1, addr_of(r, b0 + 16));
                    const __m512 k0 = _mm512_maskz_loadu_ps(c0, addr_of(r, b0 + 2));
                    const __m512 k1 = _mm512_maskz_loadu_ps(c1, addr_of(r, b0 + 18));
                    const __m512 v0 = _mm512_permutex2var_ps(l0, even, l1);
                    const __m512 v1 = _mm512_permutex2var_ps(l0, odd, l1);
                    const __m512 v2 = _mm512_permutex2var_ps(k0, even, k1);
                    const float *wt = pl->dw + (size_t)((c * 3 + ky) * 3) * mp + m0;
                    FM_STEM_ALL(FM_STEM_FMA)
                }
            const int mc = M - m0 < 16 ? M - m0 : 16;
            float *yo = y + (size_t)m0 * ohw + (size_t)oy * OW + ox0;
            FM_STEM_ALL(FM_STEM_STORE)
#undef FM_STEM_ALL
#undef FM_STEM_INIT
#undef FM_STEM_FMA
#undef FM_STEM_STORE
        }
    }
}
#endif

enum { STEM_ROWS = 4 }; /* output rows a work unit */

struct stem_job {
    const fm_conv_plan *pl;
    const float *in;
    float *out;
    int nthreads;
    atomic_size_t next;
};

static void stem_worker(void *ctx, int tid, int nthreads)
{
    struct stem_job *jb = ctx;
    const fm_conv_plan *pl = jb->pl;
    if (tid >= jb->nthreads)
        return;
    (void)nthreads;
    const size_t per_img = (size_t)(pl->oh + STEM_ROWS - 1) / STEM_ROWS;
    const size_t units = (size_t)pl->n * per_img;
    for (size_t u; (u = grab(&jb->next)) < units;) {
        const size_t b = u / per_img;
        const int oy0 = (int)(u % per_img) * STEM_ROWS;
        const int oy1 = oy0 + STEM_ROWS < pl->oh ? oy0 + STEM_ROWS : pl->oh;
        const float *x = jb->in + b * pl->c * pl->h * pl->w;
        float *y = jb->out + b * pl->m * pl->oh * pl->ow;
        for (int oy = oy0; oy < oy1; oy++) {
#ifdef FM_X86
            stem_row_avx512(pl, x, oy, y);
#else
            (void)x;
            (void)y;
#endif
        }
    }
}

struct dw_job {
    const fm_conv_plan *pl;
    const float *in;
    float *out;
    int nthreads;
    atomic_size_t next;
};

static void dw_worker(void *ctx, int tid, int nthreads)
{
    struct dw_job *jb = ctx;
    const fm_conv_plan *pl = jb->pl;
    const fm_conv_param *p = &pl->p;
    if (tid >= jb->nthreads)
        return;
    (void)nthreads;
    const int fast3 = p->kernel_h == 3 && p->kernel_w == 3 && p->dilation_h == 1 &&
                      p->dilation_w == 1 && (p->stride_w == 1 || p->stride_w == 2);
    const int sw = p->stride_w, pw = p->pad_w, W = pl->w;
    /* interior columns: ox*sw - pw >= 0 and ox*sw - pw + 2 <= W - 1 */
    int ilo = (pw + sw - 1) / sw, ihi = W - 3 + pw >= 0 ? (W - 3 + pw) / sw + 1 : 0;
    if (ihi > pl->ow)
        ihi = pl->ow;
    if (ilo > ihi)
        ilo = ihi;
    const size_t hw = (size_t)pl->h * W, ohw = (size_t)pl->oh * pl->ow;
    const size_t khw = (size_t)p->kernel_h * p->kernel_w;
    const size_t units = (size_t)pl->n * pl->c;
    for (size_t u; (u = grab(&jb->next)) < units;) {
        const size_t ch = u % (size_t)pl->c;
        const float *x = jb->in + u * hw;
        float *y = jb->out + u * ohw;
        const float *wk = pl->dw + ch * khw;
        const float bias = pl->dwbias ? pl->dwbias[ch] : 0.0f;
#ifdef FM_X86
        if (fast3 && pl->isa == FM_ISA_AVX512) {
            dw3_plane_avx512(pl, x, wk, bias, y);
            continue;
        }
        if (fast3 && pl->isa == FM_ISA_AVX2) {
            dw3_plane_avx2(pl, x, wk, bias, y);
            continue;
        }
#endif
        for (int oy = 0; oy < pl->oh; oy++) {
            float *yrow = y + (size_t)oy * pl->ow;
            if (!fast3) {
                dw_row_generic(pl, x, wk, bias, oy, 0, pl->ow, yrow);
                continue;
            }
            const float *rows[3];
            for (int ky = 0; ky < 3; ky++) {
                int iy = oy * p->stride_h - p->pad_h + ky;
                rows[ky] = iy >= 0 && iy < pl->h ? x + (size_t)iy * W : NULL;
            }
            dw_row_generic(pl, x, wk, bias, oy, 0, ilo, yrow);
            dw3_row_scalar(rows, wk, bias, sw, pw, ilo, ihi, p->act, yrow);
            dw_row_generic(pl, x, wk, bias, oy, ihi, pl->ow, yrow);
        }
    }
}

/* ---- run ------------------------------------------------------------------------ */

/* Into how many output-channel chunks to cut each pixel tile: with fewer than
 * 8 units a thread, whole tiles would leave threads idle for up to a tile. */
static int channel_split(size_t tiles, int mpanels, int nt)
{
    if (nt <= 1 || tiles >= (size_t)8 * nt || (tiles % (size_t)nt == 0 && tiles >= (size_t)4 * nt))
        return 1;
    size_t want = ((size_t)8 * nt + tiles - 1) / tiles;
    return want > (size_t)mpanels ? mpanels : (int)want;
}

void fm_conv_run(const fm_conv_plan *pl, const float *in, float *out, void *scratch, fm_pool *pool)
{
    int nt = fm_pool_size(pool);
    if (nt > pl->max_threads)
        nt = pl->max_threads;
    if (pl->serial) {
        nt = 1;
        pool = NULL; /* runs each kernel inline as (ctx, 0, 1) */
    }
    if (pl->kind == PLAN_STEM) {
        struct stem_job sj;
        sj.pl = pl;
        sj.in = in;
        sj.out = out;
        sj.nthreads = nt;
        atomic_init(&sj.next, 0);
        fm_pool_run(pool, stem_worker, &sj);
        return;
    }
    if (pl->kind == PLAN_DEPTHWISE) {
        struct dw_job jb;
        jb.pl = pl;
        jb.in = in;
        jb.out = out;
        jb.nthreads = nt;
        atomic_init(&jb.next, 0);
        fm_pool_run(pool, dw_worker, &jb);
        return;
    }
    if (pl->shifted) {
        struct shift_job sj;
        sj.pl = pl;
        sj.padded = scratch;
        sj.tiles = (unsigned char *)scratch + pl->pad_bytes;
        sj.nthreads = nt;
        sj.ntiles = (pl->ngrid + pl->k->nr - 1) / pl->k->nr;
        sj.msplit = channel_split((size_t)pl->groups * sj.ntiles, pl->mpanels, nt);
        for (int b = 0; b < pl->n; b++) {
            sj.in = in + (size_t)b * pl->c * pl->h * pl->w;
            sj.out = out + (size_t)b * pl->m * pl->npix;
            atomic_init(&sj.next_pad, 0);
            atomic_init(&sj.next, 0);
            fm_pool_run(pool, pad_worker, &sj);
            fm_pool_run(pool, shift_worker, &sj);
        }
        return;
    }
    struct gemm_job jb;
    jb.pl = pl;
    jb.in = in;
    jb.out = out;
    jb.scratch = scratch;
    jb.nthreads = nt;
    jb.ntiles = (pl->npix + pl->k->nr - 1) / pl->k->nr;
    jb.msplit = channel_split((size_t)pl->n * pl->groups * jb.ntiles, pl->mpanels, nt);
    atomic_init(&jb.next, 0);
    fm_pool_run(pool, gemm_worker, &jb);
}
