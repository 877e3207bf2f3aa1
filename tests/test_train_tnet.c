/* Tests of the trainable net (train/tnet.h) on a tiny MobileNet-like classifier the
 * test writes (conv 3x3 + ReLU6, depthwise 3x3 stride 2 + ReLU6, 1x1, residual
 * Eltwise SUM, global average pooling, InnerProduct + ReLU, Dropout, InnerProduct,
 * Softmax), loaded by fm_net with folding and fusion on:
 *   - whole-net finite-difference gradient check (float loss, e = 1e-3,
 *     |fd - analytic| <= 5e-4 * (1 + |analytic|)), also with a frozen middle layer;
 *   - inference parity with fm_net_forward (<= 1e-5), at two cuts and after write-back;
 *   - a 2-class toy problem trained to a loss < 0.01 with Adam and with SGD-momentum;
 *   - bit-identical results with 1 and 2 threads; frozen weights unchanged;
 *   - error messages;
 *   - MobileNetV2 from ../shared: parity at the 7x7 cut, and (FM_BENCH=1) step timings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "caffe/caffemodel.h"
#include "caffe/caffe.h"
#include "nn/net.h"
#include "test.h"
#include "train/optim.h"
#include "train/tnet.h"

static const char *tiny_proto =
    "name: \"tiny\"\n"
    "input: \"data\"\n"
    "input_shape { dim: 1 dim: 3 dim: 6 dim: 6 }\n"
    "layer { name: \"conv1\" type: \"Convolution\" bottom: \"data\" top: \"conv1\"\n"
    "  convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }\n"
    "layer { name: \"conv1/relu6\" type: \"ReLU6\" bottom: \"conv1\" top: \"conv1\" }\n"
    "layer { name: \"dw\" type: \"Convolution\" bottom: \"conv1\" top: \"dw\"\n"
    "  convolution_param { num_output: 8 group: 8 kernel_size: 3 stride: 2 pad: 1 } }\n"
    "layer { name: \"dw/relu6\" type: \"ReLU6\" bottom: \"dw\" top: \"dw\" }\n"
    "layer { name: \"pw\" type: \"Convolution\" bottom: \"dw\" top: \"pw\"\n"
    "  convolution_param { num_output: 8 kernel_size: 1 } }\n"
    "layer { name: \"add\" type: \"Eltwise\" bottom: \"dw\" bottom: \"pw\" top: \"add\" }\n"
    "layer { name: \"pool\" type: \"Pooling\" bottom: \"add\" top: \"pool\"\n"
    "  pooling_param { pool: AVE global_pooling: true } }\n"
    "layer { name: \"fc1\" type: \"InnerProduct\" bottom: \"pool\" top: \"fc1\"\n"
    "  inner_product_param { num_output: 16 } }\n"
    "layer { name: \"fc1/relu\" type: \"ReLU\" bottom: \"fc1\" top: \"fc1\" }\n"
    "layer { name: \"drop\" type: \"Dropout\" bottom: \"fc1\" top: \"fc1\"\n"
    "  dropout_param { dropout_ratio: 0.5 } }\n"
    "layer { name: \"fc2\" type: \"InnerProduct\" bottom: \"fc1\" top: \"fc2\"\n"
    "  inner_product_param { num_output: 2 } }\n"
    "layer { name: \"prob\" type: \"Softmax\" bottom: \"fc2\" top: \"prob\" }\n";

#define NLAYERS 5
static const char *lname[NLAYERS] = {"conv1", "dw", "pw", "fc1", "fc2"};
static const char *ltype[NLAYERS] = {"Convolution", "Convolution", "Convolution", "InnerProduct",
                                     "InnerProduct"};

static fm_shape wshape(int i)
{
    switch (i) {
    case 0: return fm_shape4(8, 3, 3, 3);
    case 1: return fm_shape4(8, 1, 3, 3);
    case 2: return fm_shape4(8, 8, 1, 1);
    case 3: return fm_shape2(16, 8);
    default: return fm_shape2(2, 16);
    }
}

static int bshape(int i)
{
    return i == 3 ? 16 : i == 4 ? 2 : 8;
}

/* Writes tiny.prototxt (or `proto_text`) and tiny.caffemodel with seeded weights. */
static void write_tiny(const char *proto_text, char *proto, char *model, size_t size, uint64_t seed)
{
    const char *dir = fm_test_tmpdir();
    snprintf(proto, size, "%s/tiny.prototxt", dir);
    snprintf(model, size, "%s/tiny.caffemodel", dir);
    fm_test_write_text(proto, proto_text);
    uint64_t s = seed;
    fm_caffe_blob blobs[NLAYERS][2];
    fm_caffe_layer layers[NLAYERS];
    float *mem[NLAYERS][2];
    for (int i = 0; i < NLAYERS; i++) {
        fm_shape ws = wshape(i);
        size_t nw = fm_shape_count(&ws), fan = nw / (size_t)ws.d[0];
        float sc = 1.7f / sqrtf((float)fan);
        mem[i][0] = malloc(nw * sizeof(float));
        mem[i][1] = malloc((size_t)bshape(i) * sizeof(float));
        for (size_t k = 0; k < nw; k++)
            mem[i][0][k] = fm_test_randf(&s, -sc, sc);
        for (int k = 0; k < bshape(i); k++)
            mem[i][1][k] = fm_test_randf(&s, -0.2f, 0.4f);
        blobs[i][0] = (fm_caffe_blob){ws, nw, mem[i][0]};
        blobs[i][1] = (fm_caffe_blob){fm_shape1(bshape(i)), (size_t)bshape(i), mem[i][1]};
        layers[i] = (fm_caffe_layer){(char *)lname[i], (char *)ltype[i], 2, blobs[i]};
    }
    fm_caffemodel m = {"tiny", NLAYERS, layers};
    fm_err err = {0};
    FM_CHECK_MSG(fm_caffemodel_write(&m, model, &err) == FM_OK, "%s", err.msg);
    for (int i = 0; i < NLAYERS; i++) {
        free(mem[i][0]);
        free(mem[i][1]);
    }
}

static fm_net *load_tiny(uint64_t seed, int keep_all)
{
    char proto[512], model[512];
    write_tiny(tiny_proto, proto, model, sizeof proto, seed);
    fm_net_opts o = fm_net_default_opts();
    o.keep_all_blobs = keep_all;
    fm_err err = {0};
    fm_net *net = fm_caffe_load_net(proto, model, &o, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    return net;
}

static fm_tnet *make_tnet(fm_net *net, const char *cut, int max_batch, int threads)
{
    fm_err err = {0};
    fm_tnet *t = net ? fm_tnet_create(net, cut, max_batch, threads, &err) : NULL;
    FM_CHECK_MSG(t != NULL, "%s", err.msg);
    return t;
}

static float *rndv(size_t n, uint64_t *s, float lo, float hi)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = fm_test_randf(s, lo, hi);
    return p;
}

/* ---- structure ---------------------------------------------------------------------- */

static void test_tnet_structure(void)
{
    fm_net *net = load_tiny(1, 0);
    fm_tnet *t = make_tnet(net, "data", 4, 1);
    if (!t) {
        fm_net_free(net);
        return;
    }
    /* conv1+relu6, dw+relu6, pw, add, pool, fc1+relu, drop, fc2, prob */
    FM_CHECK_INT(fm_tnet_num_layers(t), 9);
    FM_CHECK_INT(fm_tnet_num_classes(t), 2);
    FM_CHECK_INT(fm_tnet_input_size(t), 3 * 6 * 6);
    size_t expect = 0;
    for (int i = 0; i < NLAYERS; i++) {
        fm_shape ws = wshape(i);
        expect += fm_shape_count(&ws) + (size_t)bshape(i);
    }
    FM_CHECK_INT(fm_tnet_num_params(t), expect);
    /* parameters are the net's (fc2's bias last) */
    int fc2 = fm_tnet_find_layer(t, "fc2");
    size_t off, cnt = fm_tnet_layer_params(t, fc2, &off);
    FM_CHECK_INT(cnt, 34);
    fm_layer_info info;
    FM_CHECK(fm_net_layer_info(net, fm_tnet_layer_net_index(t, fc2), &info));
    FM_CHECK(memcmp(fm_tnet_params(t) + off, info.w, 32 * sizeof(float)) == 0);
    FM_CHECK(memcmp(fm_tnet_params(t) + off + 32, info.b, 2 * sizeof(float)) == 0);
    FM_CHECK_INT(off + cnt, fm_tnet_num_params(t));
    fm_tnet_free(t);
    /* cut at "pool": fc1, drop, fc2, prob */
    t = make_tnet(net, "pool", 4, 2);
    if (t) {
        FM_CHECK_INT(fm_tnet_num_layers(t), 4);
        FM_CHECK_INT(fm_tnet_input_size(t), 8);
        FM_CHECK(strcmp(fm_tnet_layer_name(t, 0), "fc1") == 0);
    }
    fm_tnet_free(t);
    fm_net_free(net);
}

/* ---- gradient check ------------------------------------------------------------------ */

static float batch_loss(fm_tnet *t, const float *x, const int *labels, int n)
{
    float loss = 0;
    fm_err err = {0};
    FM_CHECK(fm_tnet_train_batch(t, x, labels, n, 1234, &loss, NULL, &err) == FM_OK);
    return loss;
}

static void grad_check(fm_tnet *t, const float *x, const int *labels, int n, const char *what)
{
    size_t np = fm_tnet_num_params(t);
    float *p = fm_tnet_params(t);
    batch_loss(t, x, labels, n);
    float *an = malloc(np * sizeof(float));
    memcpy(an, fm_tnet_grads(t), np * sizeof(float));
    const uint8_t *mask = fm_tnet_trainable_mask(t);
    double worst = 0;
    size_t worst_i = 0;
    int checked = 0;
    for (int li = 0; li < fm_tnet_num_layers(t); li++) {
        size_t off, cnt = fm_tnet_layer_params(t, li, &off);
        size_t step = cnt > 15 ? cnt / 15 : 1;
        for (size_t i = off; i < off + cnt; i += step) {
            if (!mask[i]) {
                FM_CHECK_NEAR(an[i], 0.0f, 0);
                continue;
            }
            const float eps = 1e-3f;
            float keep = p[i];
            p[i] = keep + eps;
            double lp = batch_loss(t, x, labels, n);
            p[i] = keep - eps;
            double lm = batch_loss(t, x, labels, n);
            p[i] = keep;
            double h = (double)(keep + eps) - (double)(keep - eps);
            double fd = (lp - lm) / h;
            double e = fabs(fd - an[i]) / (1.0 + fabs(an[i]));
            checked++;
            if (e > worst) {
                worst = e;
                worst_i = i;
            }
        }
    }
    FM_CHECK(checked > 20);
    FM_CHECK_MSG(worst <= 5e-4, "%s: parameter %zu: analytic %.7g, relative error %g", what,
                 worst_i, (double)an[worst_i], worst);
    free(an);
}

static void test_tnet_gradient(void)
{
    fm_net *net = load_tiny(2, 0);
    fm_tnet *t = make_tnet(net, "data", 5, 2);
    if (!t) {
        fm_net_free(net);
        return;
    }
    uint64_t s = 5;
    float *x = rndv(5 * 108, &s, -1, 1);
    int labels[5] = {0, 1, 1, 0, 1};
    grad_check(t, x, labels, 5, "all trainable, dropout 0.5");
    /* pw frozen: no gradient for it, but conv1 and dw still get theirs through it */
    fm_err err = {0};
    FM_CHECK(fm_tnet_set_trainable(t, "pw", 0, &err) == FM_OK);
    grad_check(t, x, labels, 5, "pw frozen");
    /* class weights */
    float cw[2] = {1.0f, 3.0f};
    FM_CHECK(fm_tnet_set_class_weights(t, cw, 2, &err) == FM_OK);
    grad_check(t, x, labels, 5, "class weights");
    free(x);
    fm_tnet_free(t);
    fm_net_free(net);
}

/* ---- inference parity ------------------------------------------------------------------ */

static void parity(fm_net *net, fm_tnet *t, const char *cut, uint64_t seed, double *worst)
{
    uint64_t s = seed;
    int nsamp = 5;
    size_t isz = fm_tnet_input_size(t);
    fm_tensor *in = fm_net_input(net, 0);
    size_t nin = fm_shape_count(&in->shape);
    float *feats = malloc((size_t)nsamp * isz * sizeof(float));
    float *want = malloc((size_t)nsamp * 2 * sizeof(float)), *got = malloc((size_t)nsamp * 2 * sizeof(float));
    fm_err err = {0};
    for (int i = 0; i < nsamp; i++) {
        for (size_t k = 0; k < nin; k++)
            in->data[k] = fm_test_randf(&s, -1, 1);
        FM_CHECK(fm_net_forward(net, &err) == FM_OK);
        const fm_tensor *cv = fm_net_blob(net, cut);
        FM_CHECK(cv != NULL && fm_shape_count(&cv->shape) == isz);
        if (cv)
            memcpy(feats + (size_t)i * isz, cv->data, isz * sizeof(float));
        memcpy(want + i * 2, fm_net_output(net, 0)->data, 2 * sizeof(float));
    }
    FM_CHECK(fm_tnet_predict(t, feats, nsamp, got, &err) == FM_OK);
    for (int i = 0; i < nsamp * 2; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d > *worst)
            *worst = d;
    }
    free(feats);
    free(want);
    free(got);
}

static void test_tnet_predict_parity(void)
{
    fm_net *net = load_tiny(3, 1);
    if (!net)
        return;
    static const char *cuts[2] = {"data", "pool"};
    for (int c = 0; c < 2; c++) {
        fm_tnet *t = make_tnet(net, cuts[c], 2, 2); /* 5 samples: chunks of 2 */
        if (!t)
            continue;
        double worst = 0;
        parity(net, t, cuts[c], 10 + (uint64_t)c, &worst);
        FM_CHECK_MSG(worst <= 1e-5, "cut %s: largest probability difference %g", cuts[c], worst);
        fm_tnet_free(t);
    }
    /* train a few steps, write back, and the net agrees with the tnet again */
    fm_tnet *t = make_tnet(net, "data", 8, 2);
    if (t) {
        fm_err err = {0};
        fm_optim_opts oo = fm_optim_default_opts(FM_OPTIM_ADAM);
        oo.lr = 0.05f;
        fm_optim *opt = fm_optim_create(&oo, fm_tnet_num_params(t), &err);
        uint64_t s = 9;
        float *x = rndv(8 * 108, &s, -1, 1), loss;
        int labels[8] = {0, 1, 0, 1, 1, 1, 0, 0};
        for (int step = 0; step < 5; step++) {
            FM_CHECK(fm_tnet_train_batch(t, x, labels, 8, (uint64_t)step, &loss, NULL, &err) == FM_OK);
            fm_optim_step(opt, fm_tnet_params(t), fm_tnet_grads(t), fm_tnet_trainable_mask(t));
        }
        FM_CHECK_MSG(fm_tnet_write_back(t, net, &err) == FM_OK, "%s", err.msg);
        double worst = 0;
        parity(net, t, "data", 77, &worst);
        FM_CHECK_MSG(worst <= 1e-5, "after write-back: largest probability difference %g", worst);
        fm_layer_info info;
        int li = fm_tnet_find_layer(t, "dw");
        size_t off;
        fm_tnet_layer_params(t, li, &off);
        fm_net_layer_info(net, fm_tnet_layer_net_index(t, li), &info);
        FM_CHECK(memcmp(info.w, fm_tnet_params(t) + off, info.nw * sizeof(float)) == 0);
        free(x);
        fm_optim_free(opt);
        fm_tnet_free(t);
    }
    fm_net_free(net);
}

/* ---- toy problem ------------------------------------------------------------------------- */

/* Class 1: a bright 2x2 blob in the right half of channel 0; class 0: in the left half. */
static void toy_data(int n, float *x, int *labels, uint64_t *s)
{
    for (int i = 0; i < n; i++) {
        float *xi = x + (size_t)i * 108;
        for (int k = 0; k < 108; k++)
            xi[k] = fm_test_randf(s, -0.3f, 0.3f);
        int cls = (int)(fm_test_rand(s) & 1);
        int cx = cls ? 3 + (int)(fm_test_rand(s) % 2) : (int)(fm_test_rand(s) % 2);
        int cy = (int)(fm_test_rand(s) % 5);
        for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++)
                xi[(cy + dy) * 6 + cx + dx] += 2.0f;
        labels[i] = cls;
    }
}

static double eval_loss(fm_tnet *t, const float *x, const int *labels, int n)
{
    float *p = malloc((size_t)n * 2 * sizeof(float));
    fm_err err = {0};
    FM_CHECK(fm_tnet_predict(t, x, n, p, &err) == FM_OK);
    double l = 0;
    for (int i = 0; i < n; i++)
        l -= log((double)p[i * 2 + labels[i]] + 1e-30);
    free(p);
    return l / n;
}

static void toy(fm_optim_kind kind, float lr, int max_steps)
{
    fm_net *net = load_tiny(4, 0);
    fm_tnet *t = make_tnet(net, "data", 32, 2);
    if (!t) {
        fm_net_free(net);
        return;
    }
    fm_err err = {0};
    FM_CHECK(fm_tnet_set_dropout(t, "drop", 0.1f, &err) == FM_OK);
    fm_optim_opts oo = fm_optim_default_opts(kind);
    oo.lr = lr;
    fm_optim *opt = fm_optim_create(&oo, fm_tnet_num_params(t), &err);
    int n = 64;
    float *x = malloc((size_t)n * 108 * sizeof(float));
    int *labels = malloc((size_t)n * sizeof(int));
    uint64_t s = 21;
    toy_data(n, x, labels, &s);
    double start = eval_loss(t, x, labels, n), final = start;
    int step = 0;
    for (; step < max_steps; step++) {
        int b = (step % 2) * 32;
        float loss;
        FM_CHECK(fm_tnet_train_batch(t, x + (size_t)b * 108, labels + b, 32, (uint64_t)step, &loss,
                                     NULL, &err) == FM_OK);
        fm_optim_step(opt, fm_tnet_params(t), fm_tnet_grads(t), fm_tnet_trainable_mask(t));
        if (step % 10 == 9) {
            final = eval_loss(t, x, labels, n);
            if (final < 0.01)
                break;
        }
    }
    FM_CHECK_MSG(final < 0.01, "%s: loss %g -> %g after %d steps",
                 kind == FM_OPTIM_ADAM ? "Adam" : "SGD", start, final, step);
    /* held-out samples are classified too */
    float *xt = malloc(32 * 108 * sizeof(float)), *p = malloc(64 * sizeof(float));
    int lt[32], right = 0;
    toy_data(32, xt, lt, &s);
    FM_CHECK(fm_tnet_predict(t, xt, 32, p, &err) == FM_OK);
    for (int i = 0; i < 32; i++)
        right += (p[i * 2 + 1] > 0.5f) == (lt[i] == 1);
    FM_CHECK_MSG(right >= 30, "held out: %d of 32 right", right);
    free(x);
    free(labels);
    free(xt);
    free(p);
    fm_optim_free(opt);
    fm_tnet_free(t);
    fm_net_free(net);
}

static void test_tnet_toy_adam(void)
{
    toy(FM_OPTIM_ADAM, 0.01f, 400);
}

static void test_tnet_toy_sgd(void)
{
    toy(FM_OPTIM_SGD, 0.05f, 600);
}

/* ---- determinism and freezing ------------------------------------------------------------ */

static void run_steps(int threads, int steps, float *params_out, float *losses, const char *freeze)
{
    fm_net *net = load_tiny(6, 0);
    fm_tnet *t = make_tnet(net, "data", 16, threads);
    if (!t) {
        fm_net_free(net);
        return;
    }
    fm_err err = {0};
    if (freeze)
        FM_CHECK(fm_tnet_freeze_before(t, freeze, &err) == FM_OK);
    fm_optim_opts oo = fm_optim_default_opts(FM_OPTIM_ADAM);
    oo.weight_decay = 1e-3f;
    fm_optim *opt = fm_optim_create(&oo, fm_tnet_num_params(t), &err);
    uint64_t s = 8;
    float *x = rndv(13 * 108, &s, -1, 1);
    int labels[13];
    for (int i = 0; i < 13; i++)
        labels[i] = (int)(fm_test_rand(&s) & 1);
    for (int k = 0; k < steps; k++) {
        int n = k % 2 ? 13 : 7; /* uneven shards */
        FM_CHECK(fm_tnet_train_batch(t, x, labels, n, 100 + (uint64_t)k, &losses[k], NULL, &err) == FM_OK);
        fm_optim_step(opt, fm_tnet_params(t), fm_tnet_grads(t), fm_tnet_trainable_mask(t));
    }
    memcpy(params_out, fm_tnet_params(t), fm_tnet_num_params(t) * sizeof(float));
    free(x);
    fm_optim_free(opt);
    fm_tnet_free(t);
    fm_net_free(net);
}

static void test_tnet_threads_bit_identical(void)
{
    float p1[2000], p2[2000], l1[6], l2[6];
    run_steps(1, 6, p1, l1, NULL);
    run_steps(2, 6, p2, l2, NULL);
    FM_CHECK(memcmp(l1, l2, sizeof l1) == 0);
    fm_net *net = load_tiny(6, 0);
    fm_tnet *t = make_tnet(net, "data", 16, 1);
    size_t np = t ? fm_tnet_num_params(t) : 0;
    FM_CHECK(np > 0 && np <= 2000);
    FM_CHECK(memcmp(p1, p2, np * sizeof(float)) == 0);
    /* and training moved the weights */
    FM_CHECK(t && memcmp(p1, fm_tnet_params(t), np * sizeof(float)) != 0);
    fm_tnet_free(t);
    fm_net_free(net);
}

static void test_tnet_frozen_unchanged(void)
{
    float p[2000], l[6];
    run_steps(2, 6, p, l, "fc1");
    fm_net *net = load_tiny(6, 0);
    fm_tnet *t = make_tnet(net, "data", 16, 1);
    if (!t) {
        fm_net_free(net);
        return;
    }
    const float *p0 = fm_tnet_params(t);
    for (int li = 0; li < fm_tnet_num_layers(t); li++) {
        size_t off, cnt = fm_tnet_layer_params(t, li, &off);
        if (!cnt)
            continue;
        int same = memcmp(p0 + off, p + off, cnt * sizeof(float)) == 0;
        int before_fc1 = li < fm_tnet_find_layer(t, "fc1");
        FM_CHECK_MSG(same == before_fc1, "layer %s: weights %s", fm_tnet_layer_name(t, li),
                     same ? "unchanged" : "changed");
    }
    /* the mask and the gradients follow */
    fm_err err = {0};
    FM_CHECK(fm_tnet_freeze_before(t, "fc1", &err) == FM_OK);
    uint64_t s = 3;
    float *x = rndv(4 * 108, &s, -1, 1), loss;
    int labels[4] = {0, 1, 1, 0};
    FM_CHECK(fm_tnet_train_batch(t, x, labels, 4, 1, &loss, NULL, &err) == FM_OK);
    size_t off;
    size_t cnt = fm_tnet_layer_params(t, fm_tnet_find_layer(t, "conv1"), &off);
    for (size_t i = off; i < off + cnt; i++) {
        FM_CHECK(fm_tnet_trainable_mask(t)[i] == 0);
        FM_CHECK(fm_tnet_grads(t)[i] == 0.0f);
    }
    FM_CHECK(!fm_tnet_layer_trainable(t, 0));
    FM_CHECK(fm_tnet_layer_trainable(t, fm_tnet_find_layer(t, "fc2")));
    free(x);
    fm_tnet_free(t);
    fm_net_free(net);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void expect_create_error(const char *proto_text, const char *cut, const char *needle1,
                                const char *needle2)
{
    char proto[512], model[512];
    write_tiny(proto_text, proto, model, sizeof proto, 1);
    fm_err err = {0};
    fm_net *net = fm_caffe_load_net(proto, model, NULL, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    if (!net)
        return;
    fm_tnet *t = fm_tnet_create(net, cut, 4, 1, &err);
    FM_CHECK(t == NULL);
    FM_CHECK(strchr(err.msg, '\n') == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, needle1);
    if (needle2)
        FM_CHECK_STR_CONTAINS(err.msg, needle2);
    fm_tnet_free(t);
    fm_net_free(net);
}

/* tiny_proto with one substitution. */
static char *patched(const char *from, const char *to)
{
    static char buf[8192];
    const char *at = strstr(tiny_proto, from);
    FM_CHECK(at != NULL);
    if (!at)
        return (char *)tiny_proto;
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - tiny_proto), tiny_proto, to, at + strlen(from));
    return buf;
}

static void test_tnet_errors(void)
{
    expect_create_error(tiny_proto, "nope", "cut value 'nope' is not a value of the net", NULL);
    expect_create_error(tiny_proto, "prob", "no layer reads the cut value 'prob'", NULL);
    /* a residual that crosses the cut */
    expect_create_error(tiny_proto, "pw", "layer 'add' (Eltwise) reads 'dw'",
                        "computed before the cut 'pw'");
    /* unsupported kinds and operations */
    expect_create_error(patched("global_pooling: true } }\n",
                                "global_pooling: true } }\n"
                                "layer { name: \"cat\" type: \"Concat\" bottom: \"pool\""
                                " top: \"pool\" }\n"),
                        "data", "layer 'cat' (Concat)", "cannot be trained");
    expect_create_error(patched("top: \"add\" }", "top: \"add\" eltwise_param { operation: PROD } }"),
                        "data", "layer 'add' (Eltwise): only Eltwise SUM trains", NULL);
    expect_create_error(patched("layer { name: \"prob\" type: \"Softmax\" bottom: \"fc2\" top: \"prob\" }\n", ""),
                        "data", "must end in a Softmax layer", "'fc2' (InnerProduct)");
    /* configuration and call errors */
    fm_net *net = load_tiny(1, 0);
    fm_tnet *t = make_tnet(net, "data", 4, 1);
    if (t) {
        fm_err err = {0};
        FM_CHECK(fm_tnet_set_trainable(t, "conv9", 0, &err) != FM_OK);
        FM_CHECK_STR_CONTAINS(err.msg, "no layer named 'conv9'");
        FM_CHECK(fm_tnet_set_dropout(t, "fc1", 0.3f, &err) != FM_OK);
        FM_CHECK_STR_CONTAINS(err.msg, "layer 'fc1' (InnerProduct+ReLU) is not a Dropout layer");
        FM_CHECK(fm_tnet_set_dropout(t, "drop", 1.0f, &err) != FM_OK);
        FM_CHECK_STR_CONTAINS(err.msg, "dropout ratio 1 is not in [0, 1)");
        float bad_w[2] = {1.0f, 0.0f};
        FM_CHECK(fm_tnet_set_class_weights(t, bad_w, 2, &err) != FM_OK);
        FM_CHECK_STR_CONTAINS(err.msg, "class weight 1 is 0");
        float x[5 * 108] = {0}, loss;
        int labels[5] = {0, 1, 2, 0, 0};
        FM_CHECK(fm_tnet_train_batch(t, x, labels, 3, 0, &loss, NULL, &err) != FM_OK);
        FM_CHECK_STR_CONTAINS(err.msg, "label 2 of sample 2 is not a class (0..1)");
        FM_CHECK(fm_tnet_train_batch(t, x, labels, 5, 0, &loss, NULL, &err) != FM_OK);
        FM_CHECK_STR_CONTAINS(err.msg, "batch of 5 samples (1..4");
        /* the detector calls on a classifier trainer */
        double lsum;
        FM_CHECK(fm_tnet_train_outputs(t, x, 2, 0, NULL, NULL, &lsum, &err) == FM_ERR_ARG);
        FM_CHECK_STR_CONTAINS(err.msg, "fm_tnet_train_outputs: this trainer ends in a softmax loss");
        FM_CHECK_INT(fm_tnet_num_outputs(t), 0);
        /* write back into a net of another shape */
        char proto[512], model[512];
        write_tiny(tiny_proto, proto, model, sizeof proto, 1);
        fm_net *other = load_tiny(1, 0);
        fm_tnet *t2 = other ? make_tnet(other, "pool", 4, 1) : NULL;
        if (t2) {
            FM_CHECK(fm_tnet_write_back(t2, net, &err) == FM_OK); /* same files: fine */
            fm_tnet_free(t2);
        }
        fm_net_free(other);
    }
    fm_tnet_free(t);
    fm_net_free(net);
    /* write back to a net whose layers differ */
    char proto[512], model[512];
    write_tiny(tiny_proto, proto, model, sizeof proto, 1);
    fm_net *a = load_tiny(1, 0);
    fm_tnet *ta = a ? make_tnet(a, "data", 4, 1) : NULL;
    char *p2 = patched("num_output: 16 } }", "num_output: 16 } }\n"
                                            "layer { name: \"extra\" type: \"ReLU\" bottom: \"pool\" top: \"pool2\" }");
    char proto2[512];
    snprintf(proto2, sizeof proto2, "%s/other.prototxt", fm_test_tmpdir());
    fm_test_write_text(proto2, p2);
    fm_err err = {0};
    fm_net *b = fm_caffe_load_net(proto2, model, NULL, &err);
    FM_CHECK_MSG(b != NULL, "%s", err.msg);
    if (ta && b) {
        FM_CHECK(fm_tnet_write_back(ta, b, &err) != FM_OK);
        FM_CHECK_STR_CONTAINS(err.msg, "write back: layer");
    }
    fm_tnet_free(ta);
    fm_net_free(a);
    fm_net_free(b);
}

/* ---- MobileNetV2 -------------------------------------------------------------------------- */

static fm_net *load_mnv2(int keep_all)
{
    char proto[512], model[512];
    snprintf(proto, sizeof proto, "%s/models/mobilenet_v2/mobilenet_v2.prototxt", fm_test_shared());
    snprintf(model, sizeof model, "%s/models/mobilenet_v2/mobilenet_v2.caffemodel", fm_test_shared());
    fm_net_opts o = fm_net_default_opts();
    o.keep_all_blobs = keep_all;
    o.threads = 2;
    fm_err err = {0};
    fm_net *net = fm_caffe_load_net(proto, model, &o, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    return net;
}

#define MNV2_CUT "expanded_conv_13/project"

static void test_tnet_mobilenet_parity(void)
{
    fm_net *net = load_mnv2(1);
    if (!net)
        return;
    fm_tnet *t = make_tnet(net, MNV2_CUT, 1, 1);
    if (!t) {
        fm_net_free(net);
        return;
    }
    int c, h, w;
    fm_tnet_input_dims(t, &c, &h, &w);
    FM_CHECK(c == 160 && h == 7 && w == 7);
    FM_CHECK_INT(fm_tnet_num_classes(t), 1001);
    fm_tensor *in = fm_net_input(net, 0);
    uint64_t s = 17;
    size_t nin = fm_shape_count(&in->shape);
    for (size_t k = 0; k < nin; k++)
        in->data[k] = fm_test_randf(&s, -1, 1);
    fm_err err = {0};
    FM_CHECK(fm_net_forward(net, &err) == FM_OK);
    const fm_tensor *cv = fm_net_blob(net, MNV2_CUT);
    const fm_tensor *out = fm_net_output(net, 0);
    float *p = malloc(1001 * sizeof(float));
    FM_CHECK(fm_tnet_predict(t, cv->data, 1, p, &err) == FM_OK);
    double worst = 0;
    for (int k = 0; k < 1001; k++)
        if (fabs((double)p[k] - out->data[k]) > worst)
            worst = fabs((double)p[k] - out->data[k]);
    FM_CHECK_MSG(worst <= 1e-5, "MobileNetV2 at %s: largest probability difference %g", MNV2_CUT, worst);
    free(p);
    fm_tnet_free(t);
    fm_net_free(net);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_tnet_mobilenet_speed(void)
{
    fm_net *net = load_mnv2(0);
    if (!net)
        return;
    /* 14x14 (block 13 trainable, incl. its stride-2 depthwise), 7x7, head only */
    static const char *cuts[3] = {"expanded_conv_12/add/add", MNV2_CUT, "pool"};
    for (int ci = 0; ci < 3; ci++)
        for (int threads = 1; threads <= 2; threads++) {
            fm_tnet *t = make_tnet(net, cuts[ci], 32, threads);
            if (!t)
                continue;
            uint64_t s = 1;
            size_t isz = fm_tnet_input_size(t);
            float *x = rndv(32 * isz, &s, 0, 2), loss;
            int labels[32];
            for (int i = 0; i < 32; i++)
                labels[i] = (int)(fm_test_rand(&s) % 1001);
            fm_err err = {0};
            fm_tnet_train_batch(t, x, labels, 32, 0, &loss, NULL, &err);
            int reps = ci < 2 ? 5 : 50;
            double t0 = now_ms();
            for (int r = 0; r < reps; r++)
                fm_tnet_train_batch(t, x, labels, 32, (uint64_t)r, &loss, NULL, &err);
            double step = (now_ms() - t0) / reps;
            /* with only the head (Conv_1 onwards) trainable */
            fm_tnet_freeze_before(t, ci < 2 ? "Conv_1" : "Logits", &err);
            t0 = now_ms();
            for (int r = 0; r < reps; r++)
                fm_tnet_train_batch(t, x, labels, 32, (uint64_t)r, &loss, NULL, &err);
            double frozen = (now_ms() - t0) / reps;
            t0 = now_ms();
            float *p = malloc(32 * 1001 * sizeof(float));
            for (int r = 0; r < reps; r++)
                fm_tnet_predict(t, x, 32, p, &err);
            double pred = (now_ms() - t0) / reps;
            printf("  MobileNetV2 cut %s, batch 32, %d thread(s): train step %.1f ms "
                   "(%zu params), front frozen %.1f ms, predict %.1f ms\n",
                   cuts[ci], threads, step, fm_tnet_num_params(t), frozen, pred);
            free(p);
            free(x);
            fm_tnet_free(t);
        }
    fm_net_free(net);
}

void suite_train_tnet(void);
void suite_train_tnet(void)
{
    FM_RUN(test_tnet_structure);
    FM_RUN(test_tnet_gradient);
    FM_RUN(test_tnet_predict_parity);
    FM_RUN(test_tnet_toy_adam);
    FM_RUN(test_tnet_toy_sgd);
    FM_RUN(test_tnet_threads_bit_identical);
    FM_RUN(test_tnet_frozen_unchanged);
    FM_RUN(test_tnet_errors);
    FM_RUN(test_tnet_mobilenet_parity);
    if (fm_test_bench()) /* a benchmark, not a test: only with FM_BENCH=1, never counted */
        FM_RUN(test_tnet_mobilenet_speed);
}
