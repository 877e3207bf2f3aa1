/* Gradient checks of every training operator (train/grad.h).
 *
 * Finite differences: the loss is L = sum_i r_i * y_i (r random, fixed), summed
 * in double; the analytic gradient is the backward with dy = r. Central
 * differences (L(v + e) - L(v - e)) / 2e with
 *   - e = 0.05 for operators linear in the checked variable (conv, ip, eltwise,
 *     average pooling, dropout): exact up to float rounding of the outputs;
 *   - e = 0.05 for the value movers too (nearest resize, permute);
 *   - e = 1e-2 for activations (sigmoid included) and max pooling, whose inputs are kept >= 0.05
 *     from every kink (and max-pool inputs >= 0.1 apart);
 *   - e = 1e-3 for softmax + cross-entropy (smooth; computed in double inside).
 * Tolerance: |fd - analytic| <= 5e-4 * (1 + |analytic|) (float outputs; L has a few
 * hundred terms of size ~1, so its rounding is ~1e-6, ~2e-5 after dividing by 2e).
 * Fast paths against the reference: <= 1e-5 * (1 + |ref|) on the same inputs, in NCHW
 * and channel-major layouts, with dx written and added.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "train/grad.h"
#include "train/sgemm.h"
#include "train/vec.h"

#define FD_TOL 5e-4
#define FAST_TOL 1e-5

static float *rndv(size_t n, uint64_t *s, float lo, float hi)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = fm_test_randf(s, lo, hi);
    return p;
}

static float *zeros(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

/* L = sum r . y over an fmap (r in NCHW order of the map's logical elements). */
static double dotmap(const fm_fmap *y, const float *r)
{
    double s = 0.0;
    size_t hw = (size_t)y->h * y->w, k = 0;
    for (int n = 0; n < y->n; n++)
        for (int c = 0; c < y->c; c++) {
            const float *p = fm_fmap_plane(y, n, c);
            for (size_t i = 0; i < hw; i++)
                s += (double)r[k++] * p[i];
        }
    return s;
}

/* Fill an fmap's logical elements (NCHW order) from v. */
static void setmap(fm_fmap *y, const float *v)
{
    size_t hw = (size_t)y->h * y->w, k = 0;
    for (int n = 0; n < y->n; n++)
        for (int c = 0; c < y->c; c++) {
            float *p = fm_fmap_plane(y, n, c);
            for (size_t i = 0; i < hw; i++)
                p[i] = v[k++];
        }
}

static void getmap(const fm_fmap *y, float *v)
{
    size_t hw = (size_t)y->h * y->w, k = 0;
    for (int n = 0; n < y->n; n++)
        for (int c = 0; c < y->c; c++) {
            const float *p = fm_fmap_plane(y, n, c);
            for (size_t i = 0; i < hw; i++)
                v[k++] = p[i];
        }
}

/* A closure: the loss as a function of whatever buffers it closes over. */
typedef double (*loss_fn)(void *ctx);

/* Central differences on up to 40 entries of v (spread over the array). */
static void fd_check(const char *what, float *v, size_t n, const float *analytic, loss_fn f,
                     void *ctx, double eps)
{
    size_t step = n > 40 ? n / 40 : 1;
    double worst = 0.0;
    size_t worst_i = 0;
    double worst_fd = 0, worst_an = 0;
    for (size_t i = 0; i < n; i += step) {
        float keep = v[i];
        v[i] = (float)(keep + eps);
        double lp = f(ctx);
        v[i] = (float)(keep - eps);
        double lm = f(ctx);
        v[i] = keep;
        /* the step actually taken in float */
        double h = (double)(float)(keep + eps) - (double)(float)(keep - eps);
        double fd = (lp - lm) / h;
        double e = fabs(fd - analytic[i]) / (1.0 + fabs(analytic[i]));
        if (e > worst) {
            worst = e;
            worst_i = i;
            worst_fd = fd;
            worst_an = analytic[i];
        }
    }
    FM_CHECK_MSG(worst <= FD_TOL, "%s: finite difference %.7g vs analytic %.7g at %zu (rel err %g)",
                 what, worst_fd, worst_an, worst_i, worst);
}

static void near_arrays(const char *what, const float *a, const float *ref, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - ref[i]) <= tol * (1.0 + fabs((double)ref[i])))) {
            fm_test_fail(__FILE__, __LINE__, "%s[%zu] = %.9g, reference %.9g", what, i,
                         (double)a[i], (double)ref[i]);
            return;
        }
}

static float *g_work;
static fm_tctx make_ctx(size_t floats, int reference)
{
    free(g_work);
    void *p = NULL;
    if (posix_memalign(&p, 64, floats * sizeof(float)) != 0)
        p = NULL;
    g_work = p;
    fm_tctx c = {fm_isa_detect(), reference, g_work, floats};
    return c;
}

/* ---- convolution ------------------------------------------------------------- */

typedef struct {
    fm_conv_param p;
    fm_fmap x, y;
    float *w, *b, *r;
} conv_ctx;

static double conv_loss(void *v)
{
    conv_ctx *c = v;
    fm_tconv_forward_ref(&c->p, &c->x, c->w, c->b, &c->y);
    return dotmap(&c->y, c->r);
}

static fm_conv_param conv_param(int o, int g, int kh, int kw, int sh, int sw, int ph, int pw,
                                int dil, int bias)
{
    fm_conv_param p;
    memset(&p, 0, sizeof p);
    p.num_output = o;
    p.group = g;
    p.kernel_h = kh;
    p.kernel_w = kw;
    p.stride_h = sh;
    p.stride_w = sw;
    p.pad_h = ph;
    p.pad_w = pw;
    p.dilation_h = p.dilation_w = dil;
    p.bias_term = bias;
    return p;
}

static void conv_case(const char *name, fm_conv_param p, int n, int c, int h, int w, uint64_t seed)
{
    uint64_t s = seed;
    fm_shape in = fm_shape4(n, c, h, w), out;
    fm_err err = {0};
    FM_CHECK_MSG(fm_conv_shape(&p, &in, &out, &err) == FM_OK, "%s: %s", name, err.msg);
    int O = out.d[1], OH = out.d[2], OW = out.d[3];
    size_t nx = (size_t)n * c * h * w, ny = (size_t)n * O * OH * OW;
    size_t nw = (size_t)O * (c / p.group) * p.kernel_h * p.kernel_w;
    float *xd = rndv(nx, &s, -1, 1), *w_ = rndv(nw, &s, -1, 1), *b = rndv((size_t)O, &s, -1, 1);
    float *r = rndv(ny, &s, -1, 1), *yd = zeros(ny);
    conv_ctx cc = {p, fm_fmap_nchw(xd, n, c, h, w), fm_fmap_nchw(yd, n, O, OH, OW), w_,
                   p.bias_term ? b : NULL, r};
    /* reference backward with dz = r */
    float *rz = zeros(ny);
    memcpy(rz, r, ny * sizeof(float));
    fm_fmap dz = fm_fmap_nchw(rz, n, O, OH, OW);
    float *dx = zeros(nx), *dw = zeros(nw), *db = zeros((size_t)O);
    fm_fmap dxm = fm_fmap_nchw(dx, n, c, h, w);
    fm_tconv_backward_ref(&p, &cc.x, w_, &dz, &dxm, 0, dw, p.bias_term ? db : NULL);
    char what[160];
    snprintf(what, sizeof what, "%s dW", name);
    fd_check(what, w_, nw, dw, conv_loss, &cc, 0.05);
    snprintf(what, sizeof what, "%s dx", name);
    fd_check(what, xd, nx, dx, conv_loss, &cc, 0.05);
    if (p.bias_term) {
        snprintf(what, sizeof what, "%s db", name);
        fd_check(what, b, (size_t)O, db, conv_loss, &cc, 0.05);
    }

    /* fast vs reference, NCHW and channel-major, dx written then added, with an activation */
    fm_tctx ctx = make_ctx(fm_tconv_work_floats(&p, n, c, h, w), 0);
    for (int lv = 0; lv < 2 * FM_ISA_COUNT; lv++) {
        int layout = lv & 1;
        ctx.isa = (fm_isa)(lv / 2);
        if (!fm_isa_supported(ctx.isa))
            continue;
        float *xl = zeros(nx), *yl = zeros(ny), *zl = zeros(ny), *dxl = zeros(nx);
        float *dw2 = zeros(nw), *db2 = zeros((size_t)O), *yref = zeros(ny), *yfast = zeros(ny);
        fm_fmap X = layout ? fm_fmap_cnhw(xl, n, c, h, w) : fm_fmap_nchw(xl, n, c, h, w);
        fm_fmap Y = layout ? fm_fmap_cnhw(yl, n, O, OH, OW) : fm_fmap_nchw(yl, n, O, OH, OW);
        fm_fmap Z = layout ? fm_fmap_cnhw(zl, n, O, OH, OW) : fm_fmap_nchw(zl, n, O, OH, OW);
        fm_fmap DX = layout ? fm_fmap_cnhw(dxl, n, c, h, w) : fm_fmap_nchw(dxl, n, c, h, w);
        setmap(&X, xd);
        setmap(&Z, r);
        fm_conv_param pa = p;
        pa.act.act = FM_ACT_RELU6;
        fm_tconv_forward_ref(&pa, &cc.x, w_, cc.b, &cc.y);
        getmap(&cc.y, yref);
        fm_tconv_forward(&ctx, &pa, &X, w_, cc.b, &Y);
        getmap(&Y, yfast);
        snprintf(what, sizeof what, "%s fast forward (layout %d, %s)", name, layout, fm_isa_name(ctx.isa));
        near_arrays(what, yfast, yref, ny, FAST_TOL);
        /* dx = 0 then += twice: 2x the reference */
        for (size_t i = 0; i < nx; i++)
            dxl[i] = 0.0f;
        fm_tconv_backward(&ctx, &p, &X, w_, &Z, &DX, 0, dw2, p.bias_term ? db2 : NULL);
        fm_tconv_backward(&ctx, &p, &X, w_, &Z, &DX, 1, NULL, NULL);
        float *got = zeros(nx);
        getmap(&DX, got);
        for (size_t i = 0; i < nx; i++)
            got[i] *= 0.5f;
        snprintf(what, sizeof what, "%s fast dx (layout %d, %s)", name, layout, fm_isa_name(ctx.isa));
        near_arrays(what, got, dx, nx, FAST_TOL);
        snprintf(what, sizeof what, "%s fast dW (layout %d, %s)", name, layout, fm_isa_name(ctx.isa));
        near_arrays(what, dw2, dw, nw, FAST_TOL);
        if (p.bias_term) {
            snprintf(what, sizeof what, "%s fast db (layout %d)", name, layout);
            near_arrays(what, db2, db, (size_t)O, FAST_TOL);
        }
        free(xl);
        free(yl);
        free(zl);
        free(dxl);
        free(dw2);
        free(db2);
        free(yref);
        free(yfast);
        free(got);
    }
    free(xd);
    free(w_);
    free(b);
    free(r);
    free(yd);
    free(rz);
    free(dx);
    free(dw);
    free(db);
}

static void test_conv_3x3(void)
{
    conv_case("3x3 s1 p1", conv_param(5, 1, 3, 3, 1, 1, 1, 1, 1, 1), 2, 3, 6, 5, 1);
}

static void test_conv_3x3_stride2(void)
{
    conv_case("3x3 s2 p1", conv_param(4, 1, 3, 3, 2, 2, 1, 1, 1, 1), 2, 3, 7, 8, 2);
}

static void test_conv_1x1(void)
{
    conv_case("1x1", conv_param(6, 1, 1, 1, 1, 1, 0, 0, 1, 1), 3, 5, 4, 3, 3);
    conv_case("1x1 no bias", conv_param(7, 1, 1, 1, 1, 1, 0, 0, 1, 0), 2, 4, 3, 3, 4);
    conv_case("1x1 s2", conv_param(3, 1, 1, 1, 2, 2, 0, 0, 1, 1), 2, 4, 5, 5, 5);
}

static void test_conv_depthwise(void)
{
    conv_case("depthwise 3x3 s1", conv_param(6, 6, 3, 3, 1, 1, 1, 1, 1, 1), 2, 6, 5, 6, 6);
    conv_case("depthwise 3x3 s2", conv_param(4, 4, 3, 3, 2, 2, 1, 1, 1, 1), 3, 4, 7, 7, 7);
    conv_case("depthwise 3x3 s2 even", conv_param(3, 3, 3, 3, 2, 2, 1, 1, 1, 1), 2, 3, 8, 6, 8);
}

static void test_conv_grouped_dilated(void)
{
    conv_case("group 2 3x3 dil 2", conv_param(4, 2, 3, 3, 1, 1, 2, 2, 2, 1), 2, 6, 7, 6, 9);
    fm_conv_param p = conv_param(6, 3, 2, 3, 2, 1, 0, 1, 1, 1);
    conv_case("group 3 2x3 s(2,1) p(0,1)", p, 2, 3, 6, 7, 10);
}

/* Exact values by hand: 1 input channel 2x2, 1x1 weight 2 and bias 1; 3x3 pad 1 sum kernel. */
static void test_conv_exact(void)
{
    float x[4] = {1, 2, 3, 4}, y[4], w1 = 2.0f, b1 = 1.0f;
    fm_fmap X = fm_fmap_nchw(x, 1, 1, 2, 2), Y = fm_fmap_nchw(y, 1, 1, 2, 2);
    fm_conv_param p = conv_param(1, 1, 1, 1, 1, 1, 0, 0, 1, 1);
    fm_tctx ctx = make_ctx(fm_tconv_work_floats(&p, 1, 1, 2, 2), 0);
    fm_tconv_forward(&ctx, &p, &X, &w1, &b1, &Y);
    FM_CHECK_NEAR(y[3], 9.0f, 0);
    float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    p = conv_param(1, 1, 3, 3, 1, 1, 1, 1, 1, 0);
    ctx = make_ctx(fm_tconv_work_floats(&p, 1, 1, 2, 2), 0);
    fm_tconv_forward(&ctx, &p, &X, ones, NULL, &Y);
    for (int i = 0; i < 4; i++)
        FM_CHECK_NEAR(y[i], 10.0f, 0);
    /* dx of the sum kernel with dz = 1: every input feeds all 4 outputs */
    float dz[4] = {1, 1, 1, 1}, dx[4], dw[9] = {0};
    fm_fmap DZ = fm_fmap_nchw(dz, 1, 1, 2, 2), DX = fm_fmap_nchw(dx, 1, 1, 2, 2);
    fm_tconv_backward(&ctx, &p, &X, ones, &DZ, &DX, 0, dw, NULL);
    FM_CHECK_NEAR(dx[0], 4.0f, 0);
    FM_CHECK_NEAR(dw[4], 10.0f, 0); /* centre tap sees every input once */
    FM_CHECK_NEAR(dw[0], 1.0f, 0);  /* top-left tap: only output (1,1) reads x(0,0) = 1 */
}

/* ---- activations ------------------------------------------------------------- */

typedef struct {
    fm_activation a;
    fm_fmap x, y;
    float *r;
} act_ctx;

static double act_loss(void *v)
{
    act_ctx *c = v;
    fm_tact_forward(c->a, &c->x, &c->y);
    return dotmap(&c->y, c->r);
}

static void test_act_backward(void)
{
    static const fm_activation acts[4] = {
        {FM_ACT_RELU, 0.0f}, {FM_ACT_RELU, 0.1f}, {FM_ACT_RELU6, 0.0f}, {FM_ACT_SIGMOID, 0.0f}};
    static const char *names[4] = {"relu", "leaky 0.1", "relu6", "sigmoid"};
    for (int k = 0; k < 4; k++) {
        uint64_t s = 20 + (uint64_t)k;
        size_t n = 2 * 3 * 4 * 4;
        float *x = rndv(n, &s, -3, 8), *y = zeros(n), *r = rndv(n, &s, -1, 1), *dx = zeros(n);
        for (size_t i = 0; i < n; i++) /* away from the kinks at 0 and 6 */
            if (fabsf(x[i]) < 0.05f || fabsf(x[i] - 6.0f) < 0.05f)
                x[i] += 0.2f;
        act_ctx c = {acts[k], fm_fmap_nchw(x, 2, 3, 4, 4), fm_fmap_nchw(y, 2, 3, 4, 4), r};
        act_loss(&c);
        fm_fmap dy = fm_fmap_nchw(r, 2, 3, 4, 4), d = fm_fmap_nchw(dx, 2, 3, 4, 4);
        fm_tact_backward(NULL, acts[k], &c.y, &dy, &d, 0);
        fd_check(names[k], x, n, dx, act_loss, &c, 1e-2);
        act_loss(&c); /* y again from the unperturbed x (sigmoid's backward reads it) */
        /* relu6 gradient is zero above 6 and below 0; add mode doubles */
        fm_tact_backward(NULL, acts[k], &c.y, &dy, &d, 1);
        float *once = zeros(n);
        fm_fmap o = fm_fmap_nchw(once, 2, 3, 4, 4);
        fm_tact_backward(NULL, acts[k], &c.y, &dy, &o, 0);
        for (size_t i = 0; i < n; i++)
            FM_CHECK_NEAR(dx[i], 2.0f * once[i], 1e-6);
        free(x);
        free(y);
        free(r);
        free(dx);
        free(once);
    }
    /* hand values: relu6 at y = 6 (clipped) and y = 0 pass nothing */
    float y[4] = {0.0f, 3.0f, 6.0f, -0.2f}, g[4] = {1, 1, 1, 1}, d[4];
    fm_fmap Y = fm_fmap_nchw(y, 1, 1, 1, 4), G = fm_fmap_nchw(g, 1, 1, 1, 4), D = fm_fmap_nchw(d, 1, 1, 1, 4);
    fm_activation r6 = {FM_ACT_RELU6, 0.0f}, lk = {FM_ACT_RELU, 0.1f};
    fm_tact_backward(NULL, r6, &Y, &G, &D, 0);
    FM_CHECK(d[0] == 0.0f && d[1] == 1.0f && d[2] == 0.0f);
    fm_tact_backward(NULL, lk, &Y, &G, &D, 0);
    FM_CHECK_NEAR(d[3], 0.1f, 1e-7);
    FM_CHECK_NEAR(d[1], 1.0f, 0);
    /* sigmoid: y (1 - y) from the output */
    float ys[4] = {0.5f, 0.25f, 1.0f, 0.0f};
    fm_fmap YS = fm_fmap_nchw(ys, 1, 1, 1, 4);
    fm_activation sg = {FM_ACT_SIGMOID, 0.0f};
    fm_tact_backward(NULL, sg, &YS, &G, &D, 0);
    FM_CHECK_NEAR(d[0], 0.25f, 0);
    FM_CHECK_NEAR(d[1], 0.1875f, 0);
    FM_CHECK(d[2] == 0.0f && d[3] == 0.0f);
}

/* ---- eltwise --------------------------------------------------------------------- */

typedef struct {
    fm_eltwise_param p;
    fm_fmap x[3], y;
    float *r;
} elt_ctx;

static double elt_loss(void *v)
{
    elt_ctx *c = v;
    const fm_fmap *ptr[3] = {&c->x[0], &c->x[1], &c->x[2]};
    fm_teltwise_forward(&c->p, ptr, 3, &c->y);
    return dotmap(&c->y, c->r);
}

static void test_eltwise_backward(void)
{
    uint64_t s = 31;
    size_t n = 2 * 4 * 3 * 3;
    float coeff[3] = {0.5f, -2.0f, 1.5f};
    float *x[3], *dx[3];
    for (int k = 0; k < 3; k++) {
        x[k] = rndv(n, &s, -1, 1);
        dx[k] = zeros(n);
    }
    float *y = zeros(n), *r = rndv(n, &s, -1, 1);
    for (int with_coeff = 0; with_coeff < 2; with_coeff++) {
        elt_ctx c;
        memset(&c, 0, sizeof c);
        c.p.op = FM_ELTWISE_SUM;
        c.p.ncoeff = with_coeff ? 3 : 0;
        c.p.coeff = coeff;
        for (int k = 0; k < 3; k++)
            c.x[k] = fm_fmap_nchw(x[k], 2, 4, 3, 3);
        c.y = fm_fmap_nchw(y, 2, 4, 3, 3);
        c.r = r;
        fm_fmap dz = fm_fmap_nchw(r, 2, 4, 3, 3);
        for (int k = 0; k < 3; k++) {
            fm_fmap d = fm_fmap_nchw(dx[k], 2, 4, 3, 3);
            fm_teltwise_backward(&c.p, &dz, k, &d, 0);
            fd_check(with_coeff ? "eltwise coeff" : "eltwise", x[k], n, dx[k], elt_loss, &c, 0.05);
        }
    }
    for (int k = 0; k < 3; k++) {
        free(x[k]);
        free(dx[k]);
    }
    free(y);
    free(r);
}

/* ---- pooling -------------------------------------------------------------------- */

typedef struct {
    fm_pool_param p;
    fm_fmap x, y;
    float *r;
} pool_ctx;

static double pool_loss(void *v)
{
    pool_ctx *c = v;
    fm_tpool_forward(&c->p, &c->x, &c->y);
    return dotmap(&c->y, c->r);
}

static void pool_case(const char *name, fm_pool_param p, int n, int c, int h, int w, uint64_t seed)
{
    uint64_t s = seed;
    fm_shape in = fm_shape4(n, c, h, w), out;
    fm_err err = {0};
    FM_CHECK_MSG(fm_pool_shape(&p, &in, &out, &err) == FM_OK, "%s", err.msg);
    size_t nx = fm_shape_count(&in), ny = fm_shape_count(&out);
    float *x = zeros(nx), *y = zeros(ny), *r = rndv(ny, &s, -1, 1), *dx = zeros(nx);
    /* distinct values >= 0.1 apart: a shuffled grid */
    for (size_t i = 0; i < nx; i++)
        x[i] = 0.1f * (float)i - 3.0f;
    for (size_t i = nx - 1; i > 0; i--) {
        size_t j = fm_test_rand(&s) % (i + 1);
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
    pool_ctx cc = {p, fm_fmap_nchw(x, n, c, h, w), fm_fmap_nchw(y, n, c, out.d[2], out.d[3]), r};
    pool_loss(&cc);
    fm_fmap dy = fm_fmap_nchw(r, n, c, out.d[2], out.d[3]), d = fm_fmap_nchw(dx, n, c, h, w);
    fm_tpool_backward(&p, &cc.x, &dy, &d, 0);
    fd_check(name, x, nx, dx, pool_loss, &cc, p.method == FM_POOL_MAX ? 1e-2 : 0.05);
    /* forward matches the inference operator */
    pool_loss(&cc);
    float *yi = zeros(ny);
    fm_tensor ti = {in, x}, to = {out, yi};
    fm_pool_forward(&p, &ti, &to, NULL);
    near_arrays(name, y, yi, ny, 0);
    free(x);
    free(y);
    free(r);
    free(dx);
    free(yi);
}

static fm_pool_param pool_param(fm_pool_method m, int global, int k, int st, int pad)
{
    fm_pool_param p;
    memset(&p, 0, sizeof p);
    p.method = m;
    p.global = global;
    p.kernel_h = p.kernel_w = k;
    p.stride_h = p.stride_w = st;
    p.pad_h = p.pad_w = pad;
    return p;
}

static void test_pool_backward(void)
{
    pool_case("global ave", pool_param(FM_POOL_AVE, 1, 0, 0, 0), 2, 3, 7, 7, 41);
    pool_case("global max", pool_param(FM_POOL_MAX, 1, 0, 0, 0), 2, 3, 4, 5, 42);
    pool_case("ave 3x3 s2 p1", pool_param(FM_POOL_AVE, 0, 3, 2, 1), 2, 2, 6, 7, 43);
    pool_case("max 2x2 s2", pool_param(FM_POOL_MAX, 0, 2, 2, 0), 2, 2, 6, 5, 44);
    pool_case("max 3x3 s2 p1", pool_param(FM_POOL_MAX, 0, 3, 2, 1), 1, 3, 7, 6, 45);
    /* floor mode (ONNX ceil_mode 0): odd sizes drop the last row / column */
    fm_pool_param fl = pool_param(FM_POOL_MAX, 0, 2, 2, 0);
    fl.floor_mode = 1;
    pool_case("max 2x2 s2 floor", fl, 2, 2, 7, 5, 46);
    fl = pool_param(FM_POOL_AVE, 0, 3, 2, 1);
    fl.floor_mode = 1;
    pool_case("ave 3x3 s2 p1 floor", fl, 1, 2, 6, 7, 47);
}

/* ---- nearest resize ------------------------------------------------------------ */

typedef struct {
    fm_resize_param p;
    fm_fmap x, y;
    float *r;
} resize_ctx;

static double resize_loss(void *v)
{
    resize_ctx *c = v;
    fm_tresize_forward(&c->p, &c->x, &c->y);
    return dotmap(&c->y, c->r);
}

/* Finite differences in NCHW; forward against the inference operator; the same gradient in
 * the channel-major layout, written and added. */
static void resize_case(const char *name, float sh, float sw, int n, int c, int h, int w,
                        uint64_t seed)
{
    uint64_t s = seed;
    fm_resize_param p = {sh, sw};
    fm_shape in = fm_shape4(n, c, h, w), out;
    fm_err err = {0};
    FM_CHECK_MSG(fm_resize_shape(&p, &in, &out, &err) == FM_OK, "%s", err.msg);
    size_t nx = fm_shape_count(&in), ny = fm_shape_count(&out);
    int oh = out.d[2], ow = out.d[3];
    float *x = rndv(nx, &s, -1, 1), *y = zeros(ny), *r = rndv(ny, &s, -1, 1), *dx = zeros(nx);
    resize_ctx cc = {p, fm_fmap_nchw(x, n, c, h, w), fm_fmap_nchw(y, n, c, oh, ow), r};
    resize_loss(&cc);
    fm_fmap dy = fm_fmap_nchw(r, n, c, oh, ow), d = fm_fmap_nchw(dx, n, c, h, w);
    fm_tresize_backward(&p, &dy, &d, 0);
    fd_check(name, x, nx, dx, resize_loss, &cc, 0.05);
    float *yi = zeros(ny);
    fm_tensor ti = {in, x}, to = {out, yi};
    fm_resize_forward_ref(&p, &ti, &to);
    resize_loss(&cc);
    near_arrays(name, y, yi, ny, 0);
    /* channel-major: forward and backward give the same values, add doubles (up to the
     * rounding of adding a sum's terms one by one) */
    float *xl = zeros(nx), *yl = zeros(ny), *rl = zeros(ny), *dl = zeros(nx), *got = zeros(nx);
    fm_fmap X = fm_fmap_cnhw(xl, n, c, h, w), Y = fm_fmap_cnhw(yl, n, c, oh, ow);
    fm_fmap R = fm_fmap_cnhw(rl, n, c, oh, ow), D = fm_fmap_cnhw(dl, n, c, h, w);
    setmap(&X, x);
    setmap(&R, r);
    fm_tresize_forward(&p, &X, &Y);
    getmap(&Y, yi);
    near_arrays(name, yi, y, ny, 0);
    fm_tresize_backward(&p, &R, &D, 0);
    fm_tresize_backward(&p, &R, &D, 1);
    getmap(&D, got);
    for (size_t i = 0; i < nx; i++)
        got[i] *= 0.5f;
    near_arrays(name, got, dx, nx, 1e-6);
    free(x);
    free(y);
    free(r);
    free(dx);
    free(yi);
    free(xl);
    free(yl);
    free(rl);
    free(dl);
    free(got);
}

static void test_resize_backward(void)
{
    resize_case("resize x2", 2.0f, 2.0f, 2, 3, 4, 5, 51);
    resize_case("resize 1.5 x 3", 1.5f, 3.0f, 1, 2, 5, 3, 52);
    resize_case("resize 0.5", 0.5f, 0.5f, 2, 2, 6, 7, 53); /* some inputs get no gradient */
    /* by hand: a 2x upsampling sends each 2x2 block's sum back */
    float x[4] = {1, 2, 3, 4}, y[16], g[16], dx[4];
    for (int i = 0; i < 16; i++)
        g[i] = (float)i;
    fm_resize_param p = {2.0f, 2.0f};
    fm_fmap X = fm_fmap_nchw(x, 1, 1, 2, 2), Y = fm_fmap_nchw(y, 1, 1, 4, 4);
    fm_fmap G = fm_fmap_nchw(g, 1, 1, 4, 4), D = fm_fmap_nchw(dx, 1, 1, 2, 2);
    fm_tresize_forward(&p, &X, &Y);
    FM_CHECK(y[0] == 1 && y[1] == 1 && y[2] == 2 && y[5] == 1 && y[10] == 4 && y[15] == 4);
    fm_tresize_backward(&p, &G, &D, 0);
    FM_CHECK_NEAR(dx[0], 0 + 1 + 4 + 5, 0);
    FM_CHECK_NEAR(dx[1], 2 + 3 + 6 + 7, 0);
    FM_CHECK_NEAR(dx[2], 8 + 9 + 12 + 13, 0);
    FM_CHECK_NEAR(dx[3], 10 + 11 + 14 + 15, 0);
}

/* ---- permute -------------------------------------------------------------------- */

typedef struct {
    int order[3];
    fm_fmap x, y;
    float *r;
} perm_ctx;

static double perm_loss(void *v)
{
    perm_ctx *c = v;
    fm_tpermute_forward(c->order, &c->x, &c->y);
    return dotmap(&c->y, c->r);
}

static void permute_case(const int order[3], int n, int c, int h, int w, uint64_t seed)
{
    uint64_t s = seed;
    int dims[3] = {c, h, w}, od[3] = {dims[order[0]], dims[order[1]], dims[order[2]]};
    size_t nx = (size_t)n * c * h * w;
    float *x = rndv(nx, &s, -1, 1), *y = zeros(nx), *r = rndv(nx, &s, -1, 1), *dx = zeros(nx);
    perm_ctx cc = {{order[0], order[1], order[2]}, fm_fmap_nchw(x, n, c, h, w),
                   fm_fmap_nchw(y, n, od[0], od[1], od[2]), r};
    perm_loss(&cc);
    char name[64];
    snprintf(name, sizeof name, "permute (%d, %d, %d)", order[0], order[1], order[2]);
    /* against the inference operator (4 axes, the batch kept first) */
    int o4[4] = {0, order[0] + 1, order[1] + 1, order[2] + 1};
    fm_shape in = fm_shape4(n, c, h, w), out;
    fm_err err = {0};
    FM_CHECK(fm_permute_shape(&in, o4, 4, &out, &err) == FM_OK);
    float *yi = zeros(nx);
    fm_tensor ti = {in, x}, to = {out, yi};
    fm_permute_forward_ref(&ti, o4, 4, &to);
    near_arrays(name, y, yi, nx, 0);
    fm_fmap dy = fm_fmap_nchw(r, n, od[0], od[1], od[2]), d = fm_fmap_nchw(dx, n, c, h, w);
    fm_tpermute_backward(cc.order, &dy, &d, 0);
    fd_check(name, x, nx, dx, perm_loss, &cc, 0.05);
    perm_loss(&cc); /* y again from the unperturbed x */
    /* a permutation moves each value once: backward is the exact inverse */
    float *back = zeros(nx);
    fm_fmap B = fm_fmap_nchw(back, n, c, h, w);
    fm_tpermute_backward(cc.order, &cc.y, &B, 0);
    near_arrays(name, back, x, nx, 0);
    /* channel-major maps, added twice */
    float *xl = zeros(nx), *yl = zeros(nx), *dl = zeros(nx), *got = zeros(nx);
    fm_fmap X = fm_fmap_cnhw(xl, n, c, h, w), Y = fm_fmap_cnhw(yl, n, od[0], od[1], od[2]);
    fm_fmap D = fm_fmap_cnhw(dl, n, c, h, w);
    setmap(&X, x);
    fm_tpermute_forward(cc.order, &X, &Y);
    getmap(&Y, got);
    near_arrays(name, got, yi, nx, 0);
    fm_tpermute_backward(cc.order, &dy, &D, 1);
    fm_tpermute_backward(cc.order, &dy, &D, 1);
    getmap(&D, got);
    for (size_t i = 0; i < nx; i++)
        got[i] *= 0.5f;
    near_arrays(name, got, dx, nx, 0);
    free(x);
    free(y);
    free(r);
    free(dx);
    free(yi);
    free(back);
    free(xl);
    free(yl);
    free(dl);
    free(got);
}

static void test_permute_backward(void)
{
    static const int orders[5][3] = {{1, 2, 0}, {2, 0, 1}, {0, 2, 1}, {2, 1, 0}, {0, 1, 2}};
    for (int k = 0; k < 5; k++)
        permute_case(orders[k], 2, 3, 4, 5, 60 + (uint64_t)k);
}

/* ---- inner product ---------------------------------------------------------------- */

typedef struct {
    fm_ip_param p;
    fm_fmap x, y;
    float *w, *b, *r;
} ip_ctx;

static double ip_loss(void *v)
{
    ip_ctx *c = v;
    fm_tip_forward_ref(&c->p, &c->x, c->w, c->b, &c->y);
    return dotmap(&c->y, c->r);
}

static void ip_case(int n, int c, int h, int w, int o, uint64_t seed)
{
    uint64_t s = seed;
    size_t K = (size_t)c * h * w, nx = (size_t)n * K, ny = (size_t)n * o, nw = (size_t)o * K;
    float *x = rndv(nx, &s, -1, 1), *wt = rndv(nw, &s, -1, 1), *b = rndv((size_t)o, &s, -1, 1);
    float *r = rndv(ny, &s, -1, 1), *y = zeros(ny);
    fm_ip_param p = {o, 1, {FM_ACT_NONE, 0.0f}};
    ip_ctx cc = {p, fm_fmap_nchw(x, n, c, h, w), fm_fmap_nchw(y, n, o, 1, 1), wt, b, r};
    float *dx = zeros(nx), *dw = zeros(nw), *db = zeros((size_t)o);
    fm_fmap dz = fm_fmap_nchw(r, n, o, 1, 1), DX = fm_fmap_nchw(dx, n, c, h, w);
    fm_tip_backward_ref(&p, &cc.x, wt, &dz, &DX, 0, dw, db);
    fd_check("ip dW", wt, nw, dw, ip_loss, &cc, 0.05);
    fd_check("ip dx", x, nx, dx, ip_loss, &cc, 0.05);
    fd_check("ip db", b, (size_t)o, db, ip_loss, &cc, 0.05);
    /* fast vs reference in all four layout pairs, with a fused ReLU in the forward */
    fm_tctx ctx = make_ctx(fm_tip_work_floats(&p, n, (int)K), 0);
    for (int lv = 0; lv < FM_ISA_COUNT; lv++) {
        ctx.isa = (fm_isa)lv;
        if (!fm_isa_supported(ctx.isa))
            continue;
        for (int lx = 0; lx < 2; lx++)
            for (int ly = 0; ly < 2; ly++) {
                float *xl = zeros(nx), *yl = zeros(ny), *zl = zeros(ny), *dxl = zeros(nx);
                float *dw2 = zeros(nw), *db2 = zeros((size_t)o), *yr = zeros(ny), *yf = zeros(ny);
                float *got = zeros(nx);
                fm_fmap X = lx ? fm_fmap_cnhw(xl, n, c, h, w) : fm_fmap_nchw(xl, n, c, h, w);
                fm_fmap Y = ly ? fm_fmap_cnhw(yl, n, o, 1, 1) : fm_fmap_nchw(yl, n, o, 1, 1);
                fm_fmap Z = ly ? fm_fmap_cnhw(zl, n, o, 1, 1) : fm_fmap_nchw(zl, n, o, 1, 1);
                fm_fmap D = lx ? fm_fmap_cnhw(dxl, n, c, h, w) : fm_fmap_nchw(dxl, n, c, h, w);
                setmap(&X, x);
                setmap(&Z, r);
                fm_ip_param pa = p;
                pa.act.act = FM_ACT_RELU;
                fm_tip_forward_ref(&pa, &cc.x, wt, b, &cc.y);
                getmap(&cc.y, yr);
                fm_tip_forward(&ctx, &pa, &X, wt, b, &Y);
                getmap(&Y, yf);
                near_arrays("ip fast forward", yf, yr, ny, FAST_TOL);
                fm_tip_backward(&ctx, &p, &X, wt, &Z, &D, 0, dw2, db2);
                fm_tip_backward(&ctx, &p, &X, wt, &Z, &D, 1, NULL, NULL);
                getmap(&D, got);
                for (size_t i = 0; i < nx; i++)
                    got[i] *= 0.5f;
                near_arrays("ip fast dx", got, dx, nx, FAST_TOL);
                near_arrays("ip fast dW", dw2, dw, nw, FAST_TOL);
                near_arrays("ip fast db", db2, db, (size_t)o, FAST_TOL);
                free(xl);
                free(yl);
                free(zl);
                free(dxl);
                free(dw2);
                free(db2);
                free(yr);
                free(yf);
                free(got);
            }
    }
    free(x);
    free(wt);
    free(b);
    free(r);
    free(y);
    free(dx);
    free(dw);
    free(db);
}

static void test_ip_backward(void)
{
    ip_case(3, 6, 1, 1, 4, 51);
    ip_case(4, 3, 2, 3, 5, 52); /* spatial input, flattened in NCHW order */
    ip_case(1, 10, 1, 1, 2, 53);
}

/* ---- dropout ----------------------------------------------------------------------- */

typedef struct {
    fm_fmap x, y;
    float *r, ratio;
} drop_ctx;

static double drop_loss(void *v)
{
    drop_ctx *c = v;
    fm_dropout_forward(c->ratio, 99, 3, 5, &c->x, &c->y);
    return dotmap(&c->y, c->r);
}

static void test_dropout(void)
{
    uint64_t s = 61;
    int n = 4, c = 64, h = 4, w = 4;
    size_t cnt = (size_t)n * c * h * w;
    float *x = rndv(cnt, &s, 0.5f, 1.5f), *y = zeros(cnt), *r = rndv(cnt, &s, -1, 1), *dx = zeros(cnt);
    drop_ctx dc = {fm_fmap_nchw(x, n, c, h, w), fm_fmap_nchw(y, n, c, h, w), r, 0.3f};
    drop_loss(&dc);
    size_t kept = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (y[i] != 0.0f) {
            kept++;
            FM_CHECK_NEAR(y[i], x[i] / 0.7f, 1e-6);
        }
    }
    /* 4096 draws, keep 0.7: standard deviation ~29 */
    FM_CHECK_MSG(fabs((double)kept - 0.7 * (double)cnt) < 150, "kept %zu of %zu", kept, cnt);
    fm_fmap dy = fm_fmap_nchw(r, n, c, h, w), d = fm_fmap_nchw(dx, n, c, h, w);
    fm_dropout_backward(0.3f, 99, 3, 5, &dy, &d, 0);
    fd_check("dropout", x, cnt, dx, drop_loss, &dc, 0.05);
    drop_loss(&dc);
    /* the mask is a function of (seed, layer, sample, element): the same in channel-major
     * layout, and for sample 2 alone (sample0 = 5 + 2) */
    float *xc = zeros(cnt), *yc = zeros(cnt), *back = zeros(cnt);
    fm_fmap XC = fm_fmap_cnhw(xc, n, c, h, w), YC = fm_fmap_cnhw(yc, n, c, h, w);
    setmap(&XC, x);
    fm_dropout_forward(0.3f, 99, 3, 5, &XC, &YC);
    getmap(&YC, back);
    near_arrays("dropout channel-major", back, y, cnt, 0);
    size_t per = (size_t)c * h * w;
    float *one = zeros(per);
    fm_fmap X1 = fm_fmap_nchw(x + 2 * per, 1, c, h, w), Y1 = fm_fmap_nchw(one, 1, c, h, w);
    fm_dropout_forward(0.3f, 99, 3, 7, &X1, &Y1);
    near_arrays("dropout one sample", one, y + 2 * per, per, 0);
    /* another seed or layer gives another mask */
    fm_dropout_forward(0.3f, 100, 3, 5, &dc.x, &YC);
    getmap(&YC, back);
    size_t same = 0;
    for (size_t i = 0; i < cnt; i++)
        same += (back[i] != 0.0f) == (y[i] != 0.0f);
    FM_CHECK(same < cnt - 500);
    FM_CHECK(fm_dropout_keep(1, 2, 3, 4, 0.0f));
    free(x);
    free(y);
    free(r);
    free(dx);
    free(xc);
    free(yc);
    free(back);
    free(one);
}

/* ---- softmax + cross-entropy --------------------------------------------------------- */

typedef struct {
    fm_fmap z, p;
    const int *labels;
    const float *cw;
    float norm;
    float *loss;
} ce_ctx;

static double ce_loss(void *v)
{
    ce_ctx *c = v;
    fm_softmax_ce(&c->z, c->labels, c->cw, c->norm, &c->p, c->loss, NULL, 0);
    double s = 0.0;
    for (int i = 0; i < c->z.n; i++)
        s += c->loss[i];
    return s * c->norm;
}

static void test_softmax_ce(void)
{
    uint64_t s = 71;
    int n = 5, K = 4;
    int labels[5] = {0, 3, 1, 1, 2};
    float cw[4] = {1.0f, 2.0f, 0.5f, 3.0f};
    for (int weighted = 0; weighted < 2; weighted++) {
        float *z = rndv((size_t)n * K, &s, -3, 3), *p = zeros((size_t)n * K);
        float *dz = zeros((size_t)n * K), loss[5];
        const float *w = weighted ? cw : NULL;
        float norm = (float)fm_softmax_ce_norm(labels, n, w);
        ce_ctx c = {fm_fmap_nchw(z, n, K, 1, 1), fm_fmap_nchw(p, n, K, 1, 1), labels, w, norm, loss};
        fm_fmap D = fm_fmap_nchw(dz, n, K, 1, 1);
        fm_softmax_ce(&c.z, labels, w, norm, &c.p, loss, &D, 0);
        fd_check(weighted ? "softmax-ce weighted" : "softmax-ce", z, (size_t)n * K, dz, ce_loss, &c, 1e-3);
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int k = 0; k < K; k++)
                sum += p[i * K + k];
            FM_CHECK_NEAR(sum, 1.0, 1e-6);
        }
        free(z);
        free(p);
        free(dz);
    }
    /* hand values: logits (0, ln 3) -> p = (1/4, 3/4); label 1: loss ln(4/3) */
    float z2[2] = {0.0f, logf(3.0f)}, p2[2], d2[2], l2;
    int lab = 1;
    fm_fmap Z = fm_fmap_nchw(z2, 1, 2, 1, 1), P = fm_fmap_nchw(p2, 1, 2, 1, 1), D = fm_fmap_nchw(d2, 1, 2, 1, 1);
    fm_softmax_ce(&Z, &lab, NULL, 1.0f, &P, &l2, &D, 0);
    FM_CHECK_NEAR(p2[0], 0.25f, 1e-7);
    FM_CHECK_NEAR(l2, log(4.0 / 3.0), 1e-7);
    FM_CHECK_NEAR(d2[0], 0.25f, 1e-7);
    FM_CHECK_NEAR(d2[1], -0.25f, 1e-7);
    /* stable for huge logits: p = (1, 0), loss 2000 for the wrong label, finite */
    float z3[2] = {1000.0f, -1000.0f};
    int wrong = 1;
    fm_fmap Z3 = fm_fmap_nchw(z3, 1, 2, 1, 1);
    fm_softmax_ce(&Z3, &wrong, NULL, 1.0f, &P, &l2, &D, 0);
    FM_CHECK_NEAR(p2[0], 1.0f, 0);
    FM_CHECK_NEAR(l2, 2000.0f, 1e-3);
    FM_CHECK(isfinite(d2[0]) && isfinite(d2[1]));
    FM_CHECK_NEAR(d2[1], -1.0f, 0);
}

/* ---- SIMD helpers: every level against the portable C on odd lengths ---------------- */

static void test_vec_levels(void)
{
    static const size_t lens[] = {0, 1, 7, 15, 16, 17, 33, 100, 1297};
    static const fm_activation acts[4] = {
        {FM_ACT_NONE, 0.0f}, {FM_ACT_RELU, 0.0f}, {FM_ACT_RELU, 0.1f}, {FM_ACT_RELU6, 0.0f}};
    uint64_t s = 81;
    for (int isa = 1; isa < FM_ISA_COUNT; isa++) {
        if (!fm_isa_supported((fm_isa)isa))
            continue;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t n = lens[li];
            float *x = rndv(n + 1, &s, -2, 8), *y = rndv(n + 1, &s, -2, 8);
            float *a = zeros(n + 1), *b = zeros(n + 1);
            memcpy(a, y, (n + 1) * sizeof(float));
            memcpy(b, y, (n + 1) * sizeof(float));
            fm_vec_axpy((fm_isa)isa, n, 0.7f, x, a);
            fm_vec_axpy(FM_ISA_SCALAR, n, 0.7f, x, b);
            near_arrays("axpy", a, b, n + 1, 1e-6); /* fma vs mul + add: 1 ulp */
            FM_CHECK(a[n] == y[n]);                 /* nothing past n */
            fm_vec_scale((fm_isa)isa, n, -1.5f, x, a);
            fm_vec_scale(FM_ISA_SCALAR, n, -1.5f, x, b);
            near_arrays("scale", a, b, n, 0);
            double dv = fm_vec_dot((fm_isa)isa, n, x, y), dr = fm_vec_dot(FM_ISA_SCALAR, n, x, y);
            FM_CHECK_NEAR(dv, dr, 1e-5 * (1.0 + n * 16.0));
            double sv = fm_vec_sum((fm_isa)isa, n, x), sr = fm_vec_sum(FM_ISA_SCALAR, n, x);
            FM_CHECK_NEAR(sv, sr, 1e-5 * (1.0 + n * 4.0));
            for (int k = 0; k < 4; k++) {
                memcpy(a, y, (n + 1) * sizeof(float));
                memcpy(b, y, (n + 1) * sizeof(float));
                fm_vec_bias_act((fm_isa)isa, n, a, 0.25f, acts[k]);
                fm_vec_bias_act(FM_ISA_SCALAR, n, b, 0.25f, acts[k]);
                near_arrays("bias_act", a, b, n + 1, 0);
                for (int add = 0; add < 2; add++) {
                    memcpy(a, x, (n + 1) * sizeof(float));
                    memcpy(b, x, (n + 1) * sizeof(float));
                    fm_vec_act_backward((fm_isa)isa, n, y, x, a, acts[k], add);
                    fm_vec_act_backward(FM_ISA_SCALAR, n, y, x, b, acts[k], add);
                    near_arrays("act_backward", a, b, n + 1, 0);
                }
            }
            /* sigmoid's backward is the same at every level */
            fm_activation sg = {FM_ACT_SIGMOID, 0.0f};
            for (size_t i = 0; i <= n; i++)
                y[i] = fm_sigmoid_scalar(y[i]);
            for (int add = 0; add < 2; add++) {
                memcpy(a, x, (n + 1) * sizeof(float));
                memcpy(b, x, (n + 1) * sizeof(float));
                fm_vec_act_backward((fm_isa)isa, n, y, x, a, sg, add);
                fm_vec_act_backward(FM_ISA_SCALAR, n, y, x, b, sg, add);
                near_arrays("sigmoid backward", a, b, n + 1, 0);
            }
            free(x);
            free(y);
            free(a);
            free(b);
        }
    }
}

void suite_train_grad(void);
void suite_train_grad(void)
{
    FM_RUN(test_conv_exact);
    FM_RUN(test_conv_3x3);
    FM_RUN(test_conv_3x3_stride2);
    FM_RUN(test_conv_1x1);
    FM_RUN(test_conv_depthwise);
    FM_RUN(test_conv_grouped_dilated);
    FM_RUN(test_act_backward);
    FM_RUN(test_eltwise_backward);
    FM_RUN(test_pool_backward);
    FM_RUN(test_resize_backward);
    FM_RUN(test_permute_backward);
    FM_RUN(test_ip_backward);
    FM_RUN(test_dropout);
    FM_RUN(test_softmax_ce);
    FM_RUN(test_vec_levels);
    free(g_work); /* the shared work buffer; not a test, so not counted as one */
    g_work = NULL;
}
