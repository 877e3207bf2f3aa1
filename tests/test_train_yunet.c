/* YuNet-n in the trainable net (train/tnet.h, outputs mode) from the imported ONNX graph:
 *   - structure: every layer of the net (59 convolutions with their fused ReLUs, 4 MaxPools,
 *     2 nearest Resizes, 2 Adds, 12 Transposes, 12 Reshapes, 6 Sigmoids) is in the trainer,
 *     with the 12 outputs in the file's order and all convolution weights as parameters;
 *   - parity: the trainer's inference forward of 3 samples (2 threads) gives fm_net's 12
 *     outputs of each sample, on a non-square 64x32 input (a swapped axis would show);
 *   - gradient: finite differences of L = sum_k r_k . out_k (r fixed, random; summed in
 *     double) over a batch of 2 (both shards) against the backward, on 6 weights and 2 biases
 *     of 15 convolutions of every role: the first 3x3 stride-2 on the image, a 1x1, a
 *     depthwise 3x3 + ReLU before a MaxPool, the neck before and after Resize + Add, the
 *     shared head convolution, and the cls (Transpose, Reshape, Sigmoid), obj, bbox and kps
 *     heads. Float activations through ~30 layers carry a rounding noise of ~1e-3 in L, and a
 *     step moves ReLU / MaxPool kinks: so each point takes central differences at 4 steps
 *     (backbone: 1e-3 .. 3e-5 of the layer's largest weight; heads, smooth: 1e-2 .. 3e-4) and
 *     its error is the smallest of min |fd - g| / (|g| + 0.1 RMS(layer's g)). Tolerances:
 *     heads 1e-3, backbone and neck 5e-2 (measured: 3.2e-4 and 2.9e-2). They have teeth: with
 *     the gradient scaled by 1.1 no head point passes and under half of the others do, and
 *     breaking the MaxPool's gradient accumulation, the sigmoid's derivative, the Resize's
 *     backward or the shard reduction each fails the check;
 *   - a step of length 1e-5 down the gradient lowers the loss by 1e-5 |g| (within 30%);
 *   - 1 and 2 threads give bit-identical gradients; the frozen landmark branch gets none and
 *     leaves every other gradient bit for bit unchanged;
 *   - the trained weights written back and saved as ONNX (onnx/write.h) compute what the
 *     trainer computes;
 *   - errors: cuts the outputs do not all derive from, the classifier calls on an outputs
 *     trainer, a YuNet graph given to the classifier trainer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/net.h"
#include "onnx/onnx.h"
#include "onnx/write.h"
#include "test.h"
#include "train/tnet.h"

#define IN_H 32
#define IN_W 64
#define FD_TOL 5e-2
#define HEAD_TOL 1e-3

static fm_net *load_yunet(int h, int w, int keep_all)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/yunet/yunet_n_640_640.onnx", fm_test_shared());
    fm_net_opts o = fm_net_default_opts();
    o.input_shape = fm_shape4(1, 3, h, w);
    o.keep_all_blobs = keep_all;
    fm_err err = {0};
    fm_net *net = fm_onnx_load_net(path, &o, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    return net;
}

static fm_tnet *make(fm_net *net, int max_batch, int threads)
{
    fm_err err = {0};
    fm_tnet *t = net ? fm_tnet_create_outputs(net, NULL, max_batch, threads, &err) : NULL;
    FM_CHECK_MSG(t != NULL, "%s", err.msg);
    return t;
}

/* n image-like samples: smooth gradients plus noise, 0..255 (YuNet's raw BGR input). */
static float *make_input(int n, uint64_t seed)
{
    size_t per = (size_t)3 * IN_H * IN_W;
    float *x = malloc((size_t)n * per * sizeof(float));
    uint64_t s = seed;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            for (int yy = 0; yy < IN_H; yy++)
                for (int xx = 0; xx < IN_W; xx++) {
                    float v = 128.0f + 90.0f * sinf(0.21f * (float)xx + 0.9f * (float)c + (float)i) *
                                           cosf(0.17f * (float)yy - 0.4f * (float)i);
                    v += fm_test_randf(&s, -25.0f, 25.0f);
                    x[(size_t)i * per + ((size_t)c * IN_H + yy) * IN_W + xx] =
                        v < 0 ? 0 : v > 255 ? 255 : v;
                }
    return x;
}

/* ---- structure and parity --------------------------------------------------------------- */

static void test_yunet_tnet_structure(void)
{
    fm_net *net = load_yunet(IN_H, IN_W, 0);
    fm_tnet *t = make(net, 2, 1);
    if (!t) {
        fm_net_free(net);
        return;
    }
    FM_CHECK_INT(fm_tnet_num_layers(t), fm_net_num_layers(net));
    FM_CHECK_INT(fm_tnet_num_outputs(t), 12);
    static const char *const names[12] = {"cls_8",  "cls_16",  "cls_32",  "obj_8",
                                          "obj_16", "obj_32",  "bbox_8",  "bbox_16",
                                          "bbox_32", "kps_8",  "kps_16",  "kps_32"};
    static const int per_cell[12] = {1, 1, 1, 1, 1, 1, 4, 4, 4, 10, 10, 10};
    for (int k = 0; k < 12; k++) {
        int stride = 8 << (k % 3);
        size_t cells = (size_t)(IN_H / stride) * (IN_W / stride);
        FM_CHECK_MSG(fm_tnet_output_name(t, k) && strcmp(fm_tnet_output_name(t, k), names[k]) == 0,
                     "output %d is %s, expected %s", k, fm_tnet_output_name(t, k), names[k]);
        FM_CHECK_INT(fm_tnet_output_size(t, k), cells * (size_t)per_cell[k]);
    }
    /* all 59 convolutions' weights and biases are parameters */
    size_t want = 0;
    int convs = 0;
    for (int i = 0; i < fm_net_num_layers(net); i++) {
        fm_layer_info info;
        fm_net_layer_info(net, i, &info);
        if (info.kind == FM_LAYER_CONV) {
            convs++;
            want += info.nw + info.nb;
        }
    }
    FM_CHECK_INT(convs, 59);
    FM_CHECK_INT(fm_tnet_num_params(t), want);
    FM_CHECK_INT(fm_tnet_num_classes(t), 0);
    fm_tnet_free(t);
    fm_net_free(net);
}

static void test_yunet_tnet_parity(void)
{
    fm_net *net = load_yunet(IN_H, IN_W, 0);
    fm_tnet *t = make(net, 3, 2);
    if (!t) {
        fm_net_free(net);
        return;
    }
    int n = 3;
    float *x = make_input(n, 7);
    float *outs[12];
    for (int k = 0; k < 12; k++)
        outs[k] = calloc((size_t)n * fm_tnet_output_size(t, k), sizeof(float));
    fm_err err = {0};
    FM_CHECK_MSG(fm_tnet_forward_outputs(t, x, n, outs, &err) == FM_OK, "%s", err.msg);
    size_t per = (size_t)3 * IN_H * IN_W;
    double worst = 0;
    for (int i = 0; i < n; i++) {
        memcpy(fm_net_input(net, 0)->data, x + (size_t)i * per, per * sizeof(float));
        FM_CHECK(fm_net_forward(net, &err) == FM_OK);
        for (int k = 0; k < 12; k++) {
            const fm_tensor *o = fm_net_output(net, k);
            size_t m = fm_tnet_output_size(t, k);
            FM_CHECK_INT(fm_shape_count(&o->shape), m);
            for (size_t j = 0; j < m; j++) {
                double ref = o->data[j], got = outs[k][(size_t)i * m + j];
                double e = fabs(got - ref) / (1.0 + fabs(ref));
                worst = fmax(worst, e);
                if (e > 1e-4) {
                    fm_test_fail(__FILE__, __LINE__, "sample %d %s[%zu] = %.7g, fm_net %.7g", i,
                                 fm_tnet_output_name(t, k), j, got, ref);
                    break;
                }
            }
        }
    }
    printf("  tnet vs fm_net, 12 outputs of 3 samples: worst |diff| / (1 + |ref|) %.2g\n", worst);
    for (int k = 0; k < 12; k++)
        free(outs[k]);
    free(x);
    fm_tnet_free(t);
    fm_net_free(net);
}

/* ---- gradient -------------------------------------------------------------------------- */

typedef struct {
    const float *r[12]; /* per output: n x size weights of the loss */
    size_t size[12];
} dot_loss;

/* L = sum r . out; dL/dout = r. Per shard: the shard's samples only. */
static double dot_loss_fn(void *user, const fm_tnet_loss_io *io)
{
    const dot_loss *d = user;
    double sum = 0;
    for (int k = 0; k < io->noutputs; k++) {
        size_t m = d->size[k];
        const float *r = d->r[k] + (size_t)io->sample0 * m;
        for (size_t j = 0; j < (size_t)io->n * m; j++) {
            sum += (double)r[j] * io->out[k][j];
            io->dout[k][j] = r[j];
        }
    }
    return sum;
}

typedef struct {
    fm_net *net;
    fm_tnet *t;
    const float *x;
    int n;
    dot_loss d;
    float *outs[12];
} fd_ctx;

static double eval_loss(fd_ctx *c)
{
    fm_err err = {0};
    if (fm_tnet_forward_outputs(c->t, c->x, c->n, c->outs, &err) != FM_OK)
        return NAN;
    double sum = 0;
    for (int k = 0; k < 12; k++)
        for (size_t j = 0; j < (size_t)c->n * c->d.size[k]; j++)
            sum += (double)c->d.r[k][j] * c->outs[k][j];
    return sum;
}

/* Finite differences of the loss along parameter `at` at the steps h = STEPS x scale. */
#define NSTEPS 4
static const double STEPS[2][NSTEPS] = {{1e-3, 3e-4, 1e-4, 3e-5}, {1e-2, 3e-3, 1e-3, 3e-4}};

static void central_fds(fd_ctx *c, size_t at, double scale, int head, double fd[NSTEPS])
{
    float *p = fm_tnet_params(c->t);
    float keep = p[at];
    for (int j = 0; j < NSTEPS; j++) {
        double h = STEPS[head][j] * scale;
        p[at] = (float)(keep + h);
        double lp = eval_loss(c);
        p[at] = (float)(keep - h);
        double lm = eval_loss(c);
        p[at] = keep;
        fd[j] = (lp - lm) / ((double)(float)(keep + h) - (double)(float)(keep - h));
    }
}

typedef struct {
    int checked;
    double worst, worst_scaled; /* the worst error; the best error if the gradient were 1.1x */
    int pass_scaled;            /* points (with |g| >= floor) a 10% wrong gradient would pass */
    int sized;                  /* points with |g| >= floor */
} fd_stats;

/* Checks `count` weights spread over layer `name` and its first and last bias against the
 * analytic gradient g: the error of a point is min over the steps of
 * |fd - g| / (|g| + floor), floor = 0.1 x the RMS of the layer's gradient (so a parameter the
 * loss hardly depends on is judged against the layer's scale, not against zero). */
static void fd_layer(fd_ctx *c, const char *name, int count, const float *g, int head,
                     fd_stats *st)
{
    int li = fm_tnet_find_layer(c->t, name);
    FM_CHECK_MSG(li >= 0, "no layer %s", name);
    if (li < 0)
        return;
    size_t off, np = fm_tnet_layer_params(c->t, li, &off);
    fm_layer_info info;
    fm_net_layer_info(c->net, fm_tnet_layer_net_index(c->t, li), &info);
    FM_CHECK_INT(np, info.nw + info.nb);
    const float *p = fm_tnet_params(c->t);
    double tol = head ? HEAD_TOL : FD_TOL;
    double scale = 0, rms = 0;
    for (size_t i = 0; i < info.nw; i++)
        scale = fmax(scale, fabs(p[off + i]));
    for (size_t i = 0; i < np; i++)
        rms += (double)g[off + i] * g[off + i];
    scale = fmax(scale, 1e-2);
    double floor = 0.1 * sqrt(rms / (double)np);
    size_t idx[40];
    int npts = 0;
    for (int k = 0; k < count && k < 38; k++)
        idx[npts++] = (size_t)(((double)k + 0.5) * (double)info.nw / count);
    idx[npts++] = info.nw;
    idx[npts++] = info.nw + info.nb - 1;
    for (int q = 0; q < npts; q++) {
        size_t i = idx[q];
        double a = g[off + i], fd[NSTEPS], e = INFINITY, e_scaled = INFINITY;
        central_fds(c, off + i, scale, head, fd);
        int best = 0;
        for (int j = 0; j < NSTEPS; j++) {
            double ej = fabs(fd[j] - a) / (fabs(a) + floor);
            if (ej < e) {
                e = ej;
                best = j;
            }
            e_scaled = fmin(e_scaled, fabs(fd[j] - 1.1 * a) / (fabs(1.1 * a) + floor));
        }
        if (e > tol)
            fm_test_fail(__FILE__, __LINE__,
                         "%s %s %zu: analytic %.7g, finite differences %.7g %.7g %.7g %.7g "
                         "(error %.3g > %.3g)",
                         name, i < info.nw ? "weight" : "bias", i < info.nw ? i : i - info.nw, a,
                         fd[0], fd[1], fd[2], fd[3], e, tol);
        (void)best;
        st->worst = fmax(st->worst, e);
        if (fabs(a) >= floor) { /* a gradient near 0 is near 0 also when scaled */
            st->pass_scaled += e_scaled <= tol;
            st->sized++;
        }
        st->checked++;
    }
}

static void test_yunet_tnet_gradient(void)
{
    fm_net *net = load_yunet(IN_H, IN_W, 0);
    fd_ctx c;
    memset(&c, 0, sizeof c);
    c.n = 2;
    c.net = net;
    c.t = make(net, c.n, 2);
    if (!c.t) {
        fm_net_free(net);
        return;
    }
    float *x = make_input(c.n, 11);
    c.x = x;
    uint64_t s = 99;
    float *rs[12];
    for (int k = 0; k < 12; k++) {
        c.d.size[k] = fm_tnet_output_size(c.t, k);
        size_t m = (size_t)c.n * c.d.size[k];
        rs[k] = malloc(m * sizeof(float));
        for (size_t j = 0; j < m; j++)
            rs[k][j] = fm_test_randf(&s, -1.0f, 1.0f);
        c.d.r[k] = rs[k];
        c.outs[k] = calloc(m, sizeof(float));
    }
    fm_err err = {0};
    double lsum = 0;
    FM_CHECK_MSG(fm_tnet_train_outputs(c.t, x, c.n, 1, dot_loss_fn, &c.d, &lsum, &err) == FM_OK,
                 "%s", err.msg);
    FM_CHECK_NEAR(lsum, eval_loss(&c), 1e-9 * (1 + fabs(lsum)));
    size_t np = fm_tnet_num_params(c.t);
    float *g = malloc(np * sizeof(float));
    memcpy(g, fm_tnet_grads(c.t), np * sizeof(float));
    /* head 1: the heads' own convolutions, which reach the outputs through no ReLU or
     * MaxPool (a Transpose, a Reshape, maybe a Sigmoid): checked tightly */
    static const struct {
        const char *name;
        int head;
    } layers[] = {
        {"Conv_0", 0},  /* 3x3 stride 2 on the image, ReLU */
        {"Conv_2", 0},  /* 1x1, no activation */
        {"Conv_3", 0},  /* depthwise 3x3 + ReLU, before a MaxPool */
        {"Conv_22", 0}, /* 1x1 in the stride-16 stage */
        {"Conv_40", 0}, /* neck: stride 32, before the Resize */
        {"Conv_46", 0}, /* neck: after Resize + Add */
        {"Conv_52", 0}, /* neck: stride 8, after two Resize + Add */
        {"Conv_61", 0}, /* the stride-32 heads' shared depthwise + ReLU */
        {"Conv_64", 1}, /* cls head stride 8: Transpose, Reshape, Sigmoid */
        {"Conv_66", 1}, /* cls head stride 16 */
        {"Conv_68", 1}, /* cls head stride 32 */
        {"Conv_76", 1}, /* obj head stride 8 */
        {"Conv_70", 1}, /* bbox head stride 8: Transpose, Reshape */
        {"Conv_74", 1}, /* bbox head stride 32 */
        {"Conv_82", 1}, /* kps head stride 8 */
    };
    fd_stats bb = {0, 0, 0, 0, 0}, hd = {0, 0, 0, 0, 0};
    for (size_t k = 0; k < sizeof layers / sizeof layers[0]; k++)
        fd_layer(&c, layers[k].name, 6, g, layers[k].head, layers[k].head ? &hd : &bb);
    printf("  YuNet-n %dx%d, batch 2: backbone/neck %d points, worst error %.3g (tolerance %g; "
           "a 10%% wrong gradient would pass %d of %d); heads %d points, worst %.3g (tolerance "
           "%g; 10%% wrong would pass %d of %d)\n",
           IN_W, IN_H, bb.checked, bb.worst, FD_TOL, bb.pass_scaled, bb.sized, hd.checked,
           hd.worst, HEAD_TOL, hd.pass_scaled, hd.sized);
    /* the tolerances have teeth: a gradient 10% off fails every head point and most others */
    FM_CHECK_MSG(bb.pass_scaled * 2 < bb.sized, "%d of %d backbone points pass a 10%% wrong "
                 "gradient", bb.pass_scaled, bb.sized);
    FM_CHECK_INT(hd.pass_scaled, 0);
    free(g);
    for (int k = 0; k < 12; k++) {
        free(rs[k]);
        free(c.outs[k]);
    }
    free(x);
    fm_tnet_free(c.t);
    fm_net_free(net);
}

/* ---- threads, frozen layers, write-back and save ------------------------------------------ */

/* One training step of dot_loss on 3 samples; grads copied out (malloc'd). */
static float *step_grads(fm_tnet *t, const float *x, const dot_loss *d, double *lsum)
{
    fm_err err = {0};
    FM_CHECK_MSG(fm_tnet_train_outputs(t, x, 3, 5, dot_loss_fn, (void *)d, lsum, &err) == FM_OK,
                 "%s", err.msg);
    size_t np = fm_tnet_num_params(t);
    float *g = malloc(np * sizeof(float));
    memcpy(g, fm_tnet_grads(t), np * sizeof(float));
    return g;
}

static void make_dot_loss(const fm_tnet *t, int n, dot_loss *d, float *rs[12], uint64_t seed)
{
    uint64_t s = seed;
    for (int k = 0; k < 12; k++) {
        d->size[k] = fm_tnet_output_size(t, k);
        size_t m = (size_t)n * d->size[k];
        rs[k] = malloc(m * sizeof(float));
        for (size_t j = 0; j < m; j++)
            rs[k][j] = fm_test_randf(&s, -1.0f, 1.0f);
        d->r[k] = rs[k];
    }
}

static void test_yunet_tnet_threads_and_frozen(void)
{
    fm_net *net = load_yunet(IN_H, IN_W, 0);
    fm_tnet *t1 = make(net, 3, 1), *t2 = make(net, 3, 2);
    if (!t1 || !t2) {
        fm_tnet_free(t1);
        fm_tnet_free(t2);
        fm_net_free(net);
        return;
    }
    float *x = make_input(3, 21), *rs[12];
    dot_loss d;
    make_dot_loss(t1, 3, &d, rs, 4);
    double l1, l2, l3;
    float *g1 = step_grads(t1, x, &d, &l1), *g2 = step_grads(t2, x, &d, &l2);
    size_t np = fm_tnet_num_params(t1);
    FM_CHECK(l1 == l2);
    FM_CHECK_MSG(memcmp(g1, g2, np * sizeof(float)) == 0, "1 and 2 threads differ");
    /* the landmark branch frozen (as issue 8 trains it): no gradient for its four
     * convolutions, everything else bit for bit as before (frozen layers still pass theirs) */
    static const char *const kps[6] = {"Conv_81", "Conv_82", "Conv_83",
                                       "Conv_84", "Conv_85", "Conv_86"};
    fm_err err = {0};
    for (int k = 0; k < 6; k++)
        FM_CHECK_MSG(fm_tnet_set_trainable(t2, kps[k], 0, &err) == FM_OK, "%s", err.msg);
    float *g3 = step_grads(t2, x, &d, &l3);
    FM_CHECK(l3 == l1);
    size_t frozen = 0;
    const uint8_t *mask = fm_tnet_trainable_mask(t2);
    for (size_t i = 0; i < np; i++) {
        if (!mask[i]) {
            frozen++;
            FM_CHECK_MSG(g3[i] == 0.0f, "frozen parameter %zu has gradient %g", i, (double)g3[i]);
        } else if (g3[i] != g1[i]) {
            fm_test_fail(__FILE__, __LINE__, "parameter %zu: %g frozen kps, %g before", i,
                         (double)g3[i], (double)g1[i]);
            break;
        }
    }
    size_t want = 0;
    for (int k = 0; k < 6; k++)
        want += fm_tnet_layer_params(t2, fm_tnet_find_layer(t2, kps[k]), NULL);
    FM_CHECK_INT(frozen, want);
    FM_CHECK(want > 0);
    free(g1);
    free(g2);
    free(g3);
    for (int k = 0; k < 12; k++)
        free(rs[k]);
    free(x);
    fm_tnet_free(t1);
    fm_tnet_free(t2);
    fm_net_free(net);
}

/* The training path end to end: an SGD step in the trainer, written back into the net,
 * saved as ONNX (onnx/write.h), read again: the file computes what the trainer computes. */
static void test_yunet_tnet_step_write_back_save(void)
{
    fm_net *net = load_yunet(IN_H, IN_W, 0);
    fm_tnet *t = make(net, 3, 2);
    if (!t) {
        fm_net_free(net);
        return;
    }
    float *x = make_input(3, 31), *rs[12];
    dot_loss d;
    make_dot_loss(t, 3, &d, rs, 8);
    double l0, l1;
    fm_err err = {0};
    float *before[12]; /* the stock model's outputs */
    for (int k = 0; k < 12; k++)
        before[k] = calloc(3 * d.size[k], sizeof(float));
    FM_CHECK(fm_tnet_forward_outputs(t, x, 3, before, &err) == FM_OK);
    float *g = step_grads(t, x, &d, &l0);
    size_t np = fm_tnet_num_params(t);
    float *p = fm_tnet_params(t);
    double gn = 0;
    for (size_t i = 0; i < np; i++)
        gn += (double)g[i] * g[i];
    /* a step of length 1e-5 down the gradient lowers the loss by about 1e-5 |g| (the first-
     * order change; much longer steps meet the ReLU kinks of the raw-pixel first layer) */
    double len = 1e-5;
    float lr = (float)(len / sqrt(gn));
    float *p0 = malloc(np * sizeof(float));
    memcpy(p0, p, np * sizeof(float));
    for (size_t i = 0; i < np; i++)
        p[i] -= lr * g[i];
    free(step_grads(t, x, &d, &l1));
    double want = len * sqrt(gn);
    FM_CHECK_MSG(l0 - l1 > 0.7 * want && l0 - l1 < 1.3 * want,
                 "a step of %g down the gradient changed the loss by %g, expected about %g", len,
                 l1 - l0, -want);
    /* a visible change for the file: every weight moves by 2% of its size */
    for (size_t i = 0; i < np; i++)
        p[i] = p0[i] * (1.0f + (g[i] > 0 ? -0.02f : 0.02f));
    free(p0);
    FM_CHECK_MSG(fm_tnet_write_back(t, net, &err) == FM_OK, "%s", err.msg);
    char src[512], out[600];
    snprintf(src, sizeof src, "%s/models/yunet/yunet_n_640_640.onnx", fm_test_shared());
    snprintf(out, sizeof out, "%s/stepped.onnx", fm_test_tmpdir());
    FM_CHECK_MSG(fm_onnx_save_net(src, net, out, 0, &err) == FM_OK, "%s", err.msg);
    fm_net_opts o = fm_net_default_opts();
    o.input_shape = fm_shape4(1, 3, IN_H, IN_W);
    fm_net *again = fm_onnx_load_net(out, &o, &err);
    FM_CHECK_MSG(again != NULL, "%s", err.msg);
    float *outs[12];
    for (int k = 0; k < 12; k++)
        outs[k] = calloc(3 * d.size[k], sizeof(float));
    FM_CHECK(fm_tnet_forward_outputs(t, x, 3, outs, &err) == FM_OK);
    size_t per = (size_t)3 * IN_H * IN_W;
    double moved = 0;
    for (int i = 0; i < 3 && again; i++) {
        memcpy(fm_net_input(again, 0)->data, x + (size_t)i * per, per * sizeof(float));
        FM_CHECK(fm_net_forward(again, &err) == FM_OK);
        for (int k = 0; k < 12; k++) {
            const float *y = fm_net_output(again, k)->data;
            for (size_t j = 0; j < d.size[k]; j++)
                moved = fmax(moved, fabs(y[j] - before[k][(size_t)i * d.size[k] + j]));
            for (size_t j = 0; j < d.size[k]; j++)
                if (!(fabs(y[j] - outs[k][(size_t)i * d.size[k] + j]) <= 1e-4 * (1 + fabs(y[j])))) {
                    fm_test_fail(__FILE__, __LINE__, "sample %d %s[%zu]: file %g, trainer %g", i,
                                 fm_tnet_output_name(t, k), j, (double)y[j],
                                 (double)outs[k][(size_t)i * d.size[k] + j]);
                    break;
                }
        }
    }
    FM_CHECK_MSG(moved > 1e-2, "the saved model's outputs moved by only %g", moved);
    fm_net_free(again);
    for (int k = 0; k < 12; k++) {
        free(outs[k]);
        free(before[k]);
        free(rs[k]);
    }
    free(g);
    free(x);
    fm_tnet_free(t);
    fm_net_free(net);
}

static void test_yunet_tnet_errors(void)
{
    fm_net *net = load_yunet(IN_H, IN_W, 0);
    if (!net)
        return;
    fm_err err = {0};
    /* the classifier trainer wants a final Softmax */
    FM_CHECK(fm_tnet_create(net, "input", 2, 1, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "must end in a Softmax layer");
    /* a cut that a later layer reaches around (the neck's Add reads the backbone) */
    FM_CHECK(fm_tnet_create_outputs(net, "263", 2, 1, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "layer 'Add_44' (Add) reads '250', which is computed before "
                                   "the cut '263'");
    /* a cut only the last output derives from */
    FM_CHECK(fm_tnet_create_outputs(net, "447", 2, 1, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "output 'cls_8' does not depend on the cut '447'");
    fm_tnet *t = make(net, 2, 1);
    if (t) {
        float x[2 * 3 * IN_H * IN_W] = {0}, probs[4];
        int labels[2] = {0, 0};
        float loss;
        FM_CHECK(fm_tnet_train_batch(t, x, labels, 2, 0, &loss, NULL, &err) == FM_ERR_ARG);
        FM_CHECK_STR_CONTAINS(err.msg, "use fm_tnet_train_outputs");
        FM_CHECK(fm_tnet_predict(t, x, 1, probs, &err) == FM_ERR_ARG);
        FM_CHECK_STR_CONTAINS(err.msg, "fm_tnet_predict: this trainer has the net's outputs");
        double ls;
        FM_CHECK(fm_tnet_train_outputs(t, x, 3, 0, dot_loss_fn, NULL, &ls, &err) == FM_ERR_ARG);
        FM_CHECK_STR_CONTAINS(err.msg, "batch of 3 samples (1..2");
        FM_CHECK(fm_tnet_train_outputs(t, x, 1, 0, NULL, NULL, &ls, &err) == FM_ERR_ARG);
        FM_CHECK_STR_CONTAINS(err.msg, "a loss function");
        FM_CHECK(fm_tnet_output_name(t, 12) == NULL && fm_tnet_output_size(t, -1) == 0);
        fm_tnet_free(t);
    }
    fm_net_free(net);
}

void suite_train_yunet(void);
void suite_train_yunet(void)
{
    FM_RUN(test_yunet_tnet_structure);
    FM_RUN(test_yunet_tnet_parity);
    FM_RUN(test_yunet_tnet_gradient);
    FM_RUN(test_yunet_tnet_threads_and_frozen);
    FM_RUN(test_yunet_tnet_step_write_back_save);
    FM_RUN(test_yunet_tnet_errors);
}
