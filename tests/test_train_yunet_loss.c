/* Tests of YuNet's losses (train/yunet_loss.h):
 *   - hand values: BCE with logits at 0 and far out (stable at |z| = 800), EIoU of identical,
 *     overlapping (both smooth branches) and apart boxes, decoding against face/yunet.c's rule;
 *   - finite differences (central, in double, e = 1e-6) of every gradient: BCE over z, EIoU over
 *     the four corners for overlapping, nested, apart-in-x, apart-in-both and near-identical
 *     (quadratic branch) pairs, the decode, and the whole image loss over cls, obj and bbox
 *     entries of positive and negative cells on a 64x32 grid with IoU targets held fixed:
 *     |fd - analytic| <= 1e-6 * (1 + |analytic|) (the functions are smooth away from their
 *     min / max switches, which the cases keep >= 0.3 px apart; the whole image's loss over
 *     float inputs: 1e-5, 1e-4 for the bbox entries);
 *   - the loss through the trainer: YuNet-n at 64x32 with logit outputs, the loss's gradient
 *     w.r.t. head biases against finite differences of the loss;
 *   - bad positives (a level or cell out of range, a cell twice) give -1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/net.h"
#include "onnx/onnx.h"
#include "test.h"
#include "train/tnet.h"
#include "train/yunet_loss.h"
#include "eval/metrics.h"

#define TOL 1e-6

static void check_fd(const char *what, double fd, double an)
{
    FM_CHECK_MSG(fabs(fd - an) <= TOL * (1 + fabs(an)), "%s: finite difference %.10g, analytic %.10g",
                 what, fd, an);
}

static void test_bce_logits(void)
{
    double d;
    FM_CHECK_NEAR(fm_bce_logits(0, 1, &d), log(2.0), 1e-15);
    FM_CHECK_NEAR(d, -0.5, 1e-15);
    FM_CHECK_NEAR(fm_bce_logits(0, 0.25, &d), log(2.0), 1e-15);
    FM_CHECK_NEAR(d, 0.25, 1e-15);
    /* far out: no overflow, the exact asymptotes */
    FM_CHECK_NEAR(fm_bce_logits(800, 0, &d), 800, 1e-9);
    FM_CHECK_NEAR(d, 1, 1e-15);
    FM_CHECK_NEAR(fm_bce_logits(-800, 1, &d), 800, 1e-9);
    FM_CHECK_NEAR(d, -1, 1e-15);
    FM_CHECK_NEAR(fm_bce_logits(-800, 0, &d), 0, 1e-15);
    /* -t log p - (1 - t) log (1 - p) */
    double z = 1.3, t = 0.7, p = 1 / (1 + exp(-z));
    FM_CHECK_NEAR(fm_bce_logits(z, t, NULL), -t * log(p) - (1 - t) * log(1 - p), 1e-14);
    static const double zs[] = {-7, -2, -0.3, 0.01, 0.9, 4, 12};
    static const double ts[] = {0, 0.35, 1};
    for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++)
        for (size_t k = 0; k < 3; k++) {
            double e = 1e-6, an;
            fm_bce_logits(zs[i], ts[k], &an);
            double fd = (fm_bce_logits(zs[i] + e, ts[k], NULL) - fm_bce_logits(zs[i] - e, ts[k], NULL)) /
                        (2 * e);
            check_fd("bce", fd, an);
        }
}

static void eiou_fd(const char *what, const double p[4], const double t[4])
{
    double dp[4];
    fm_eiou_loss(p, t, dp);
    for (int k = 0; k < 4; k++) {
        double a[4], b[4], e = 1e-6;
        memcpy(a, p, sizeof a);
        memcpy(b, p, sizeof b);
        a[k] += e;
        b[k] -= e;
        double fd = (fm_eiou_loss(a, t, NULL) - fm_eiou_loss(b, t, NULL)) / (2 * e);
        char name[64];
        snprintf(name, sizeof name, "eiou %s d/dp%d", what, k);
        check_fd(name, fd, dp[k]);
    }
}

static void test_eiou(void)
{
    double t[4] = {10, 20, 50, 70};
    /* identical: l = 0 (up to eps / U) */
    FM_CHECK_NEAR(fm_eiou_loss(t, t, NULL), 0, 1e-12);
    /* (0,0,2,2) vs (1,1,3,3): I = 1, U = 7 (+ eps), l = 6/7 >= 0.1: l - 0.05 */
    double a[4] = {0, 0, 2, 2}, b[4] = {1, 1, 3, 3};
    FM_CHECK_NEAR(fm_eiou_loss(a, b, NULL), 6.0 / 7.0 - 0.05, 1e-8);
    /* near-identical: the quadratic branch 0.5 l^2 / 0.1; I = 39.5 x 49.8, U = 39.8 x 50.8 +
     * 2000 - I */
    double n[4] = {10.5, 20.2, 50.3, 71};
    double l = 1.0 - 39.5 * 49.8 / (39.8 * 50.8 + 2000.0 - 39.5 * 49.8);
    FM_CHECK(l < 0.1);
    FM_CHECK_NEAR(fm_eiou_loss(n, t, NULL), 0.5 * l * l / 0.1, 1e-8);
    /* apart in x: I < 0, so l > 1, and still a gradient: a small step down it lowers the loss */
    double ap[4] = {60, 30, 80, 60}, dp[4], down[4];
    double la = fm_eiou_loss(ap, t, dp);
    FM_CHECK(la > 0.95);
    for (int k = 0; k < 4; k++)
        down[k] = ap[k] - 100.0 * dp[k];
    FM_CHECK_MSG(fm_eiou_loss(down, t, NULL) < la - 1e-3, "a step down the gradient: %g -> %g",
                 la, fm_eiou_loss(down, t, NULL));
    eiou_fd("overlapping", (double[4]){14, 12, 47, 63}, t);
    eiou_fd("nested", (double[4]){15, 30, 40, 60}, t);
    eiou_fd("containing", (double[4]){5, 10, 60, 80}, t);
    eiou_fd("apart in x", ap, t);
    eiou_fd("apart in both", (double[4]){60, 80, 75, 95}, t);
    eiou_fd("left above", (double[4]){-20, -15, 4, 9}, t);
    eiou_fd("near-identical", n, t);
    eiou_fd("crossing", (double[4]){20, 5, 40, 90}, t);
}

static void test_decode(void)
{
    /* face/yunet.c: cx = (c + b0) s, w = exp(b2) s */
    float b[4] = {0.25f, -0.5f, 0.7f, -0.2f};
    double box[4];
    fm_yunet_box_decode(b, 3, 5, 16, box);
    double cx = (5 + 0.25) * 16, cy = (3 - 0.5) * 16, w = exp(0.7) * 16, h = exp(-0.2) * 16;
    FM_CHECK_NEAR(box[0], cx - w / 2, 1e-5);
    FM_CHECK_NEAR(box[1], cy - h / 2, 1e-5);
    FM_CHECK_NEAR(box[2], cx + w / 2, 1e-5);
    FM_CHECK_NEAR(box[3], cy + h / 2, 1e-5);
    /* backward: L = g . box */
    double g[4] = {0.3, -1.1, 0.7, 2.0}, db[4];
    fm_yunet_box_decode_backward(b, 16, g, db);
    for (int k = 0; k < 4; k++) {
        float p[4], m[4];
        memcpy(p, b, sizeof p);
        memcpy(m, b, sizeof m);
        float e = 1e-3f;
        p[k] += e;
        m[k] -= e;
        double bp[4], bm[4], lp = 0, lm = 0;
        fm_yunet_box_decode(p, 3, 5, 16, bp);
        fm_yunet_box_decode(m, 3, 5, 16, bm);
        for (int q = 0; q < 4; q++) {
            lp += g[q] * bp[q];
            lm += g[q] * bm[q];
        }
        double fd = (lp - lm) / ((double)p[k] - (double)m[k]);
        /* float steps: the exp is curved, so 1e-6 relative to the step squared */
        FM_CHECK_MSG(fabs(fd - db[k]) <= 1e-5 * (1 + fabs(db[k])), "decode d/db%d: %g vs %g", k,
                     fd, db[k]);
    }
    fm_yunet_grid gr = fm_yunet_grid_of(640, 480);
    FM_CHECK(gr.rows[0] == 60 && gr.cols[0] == 80 && gr.rows[2] == 15 && gr.cols[2] == 20);
}

/* ---- one image's loss ------------------------------------------------------------------ */

typedef struct {
    fm_yunet_grid g;
    float *cls[3], *obj[3], *bbox[3];
    fm_yunet_pos pos[4];
    int npos;
    float target[4];
} image_case;

static double image_loss(image_case *c, fm_yunet_head_grad *grad, fm_yunet_loss_parts *parts)
{
    fm_yunet_head in;
    for (int k = 0; k < 3; k++) {
        in.cls[k] = c->cls[k];
        in.obj[k] = c->obj[k];
        in.bbox[k] = c->bbox[k];
    }
    return fm_yunet_loss(&c->g, &in, c->pos, c->npos, c->target, grad, parts);
}

static void test_image_loss(void)
{
    image_case c;
    memset(&c, 0, sizeof c);
    c.g = fm_yunet_grid_of(64, 32);
    uint64_t s = 17;
    fm_yunet_head_grad gr;
    for (int k = 0; k < 3; k++) {
        size_t n = (size_t)c.g.rows[k] * c.g.cols[k];
        c.cls[k] = malloc(n * sizeof(float));
        c.obj[k] = malloc(n * sizeof(float));
        c.bbox[k] = malloc(4 * n * sizeof(float));
        gr.cls[k] = malloc(n * sizeof(float));
        gr.obj[k] = malloc(n * sizeof(float));
        gr.bbox[k] = malloc(4 * n * sizeof(float));
        for (size_t j = 0; j < n; j++) {
            c.cls[k][j] = fm_test_randf(&s, -4, 3);
            c.obj[k][j] = fm_test_randf(&s, -5, 2);
            for (int q = 0; q < 4; q++)
                c.bbox[k][4 * j + q] = fm_test_randf(&s, -0.6f, 0.6f);
        }
    }
    /* faces near their cells: two at stride 8, one at 16, one at 32 */
    c.pos[0] = (fm_yunet_pos){0, 1 * 8 + 2, {14, 6, 24, 16}};
    c.pos[1] = (fm_yunet_pos){0, 2 * 8 + 6, {44, 13, 57, 27}};
    c.pos[2] = (fm_yunet_pos){1, 0 * 4 + 1, {10, -4, 30, 18}};
    c.pos[3] = (fm_yunet_pos){2, 1, {28, -10, 70, 30}};
    c.npos = 4;
    fm_yunet_loss_parts parts;
    /* the IoU targets YuNet would use, then held fixed */
    fm_yunet_head in;
    for (int k = 0; k < 3; k++) {
        in.cls[k] = c.cls[k];
        in.obj[k] = c.obj[k];
        in.bbox[k] = c.bbox[k];
    }
    for (int i = 0; i < 4; i++) {
        const fm_yunet_pos *p = &c.pos[i];
        int st = 8 << p->level, r = p->cell / c.g.cols[p->level], col = p->cell % c.g.cols[p->level];
        double box[4];
        fm_yunet_box_decode(c.bbox[p->level] + 4 * p->cell, r, col, st, box);
        fm_eval_box eb = {box[0], box[1], box[2], box[3]},
                    ef = {p->box[0], p->box[1], p->box[2], p->box[3]};
        c.target[i] = (float)fm_eval_iou(eb, ef);
    }
    double L = image_loss(&c, &gr, &parts);
    FM_CHECK_NEAR(L, parts.cls + parts.obj + parts.bbox, 1e-12);
    FM_CHECK(parts.mean_iou > 0.05 && parts.mean_iou < 1);
    /* the same with targets computed inside (NULL): same value */
    fm_yunet_loss_parts p2;
    double L2 = fm_yunet_loss(&c.g, &in, c.pos, c.npos, NULL, NULL, &p2);
    FM_CHECK_NEAR(L2, L, 1e-6 * L);
    /* obj: all cells; cls and bbox only at positives */
    int checked = 0;
    for (int k = 0; k < 3; k++) {
        size_t n = (size_t)c.g.rows[k] * c.g.cols[k];
        for (size_t j = 0; j < n; j++) {
            int positive = 0;
            for (int i = 0; i < 4; i++)
                positive |= c.pos[i].level == k && c.pos[i].cell == (int)j;
            float *vals[3] = {c.obj[k] + j, c.cls[k] + j, NULL};
            float an[3] = {gr.obj[k][j], gr.cls[k][j], 0};
            for (int v = 0; v < 2; v++) {
                float keep = *vals[v];
                double e = 1e-3;
                *vals[v] = (float)(keep + e);
                double lp = image_loss(&c, NULL, NULL);
                *vals[v] = (float)(keep - e);
                double lm = image_loss(&c, NULL, NULL);
                *vals[v] = keep;
                double fd = (lp - lm) / ((double)(float)(keep + e) - (double)(float)(keep - e));
                FM_CHECK_MSG(fabs(fd - an[v]) <= 1e-5 * (1 + fabs(an[v])),
                             "level %d cell %zu %s: fd %.8g analytic %.8g", k, j,
                             v ? "cls" : "obj", fd, (double)an[v]);
                checked++;
            }
            if (!positive) {
                FM_CHECK(gr.cls[k][j] == 0.0f);
                for (int q = 0; q < 4; q++)
                    FM_CHECK(gr.bbox[k][4 * j + q] == 0.0f);
                continue;
            }
            for (int q = 0; q < 4; q++) {
                float *b = c.bbox[k] + 4 * j + q, keep = *b;
                double e = 1e-3;
                *b = (float)(keep + e);
                double lp = image_loss(&c, NULL, NULL);
                *b = (float)(keep - e);
                double lm = image_loss(&c, NULL, NULL);
                *b = keep;
                double fd = (lp - lm) / ((double)(float)(keep + e) - (double)(float)(keep - e));
                double a = gr.bbox[k][4 * j + q];
                FM_CHECK_MSG(fabs(fd - a) <= 1e-4 * (1 + fabs(a)),
                             "level %d cell %zu bbox %d: fd %.8g analytic %.8g", k, j, q, fd, a);
                checked++;
            }
        }
    }
    FM_CHECK(checked == 2 * (32 + 8 + 2) + 16);
    /* bad positives */
    fm_yunet_pos bad[2] = {c.pos[0], c.pos[0]};
    FM_CHECK(fm_yunet_loss(&c.g, &in, bad, 2, NULL, NULL, NULL) == -1.0);
    bad[1].level = 3;
    FM_CHECK(fm_yunet_loss(&c.g, &in, bad, 2, NULL, NULL, NULL) == -1.0);
    bad[1] = c.pos[0];
    bad[1].cell = 32;
    FM_CHECK(fm_yunet_loss(&c.g, &in, bad, 2, NULL, NULL, NULL) == -1.0);
    for (int k = 0; k < 3; k++) {
        free(c.cls[k]);
        free(c.obj[k]);
        free(c.bbox[k]);
        free(gr.cls[k]);
        free(gr.obj[k]);
        free(gr.bbox[k]);
    }
}

/* ---- through the trainer ----------------------------------------------------------------- */

typedef struct {
    fm_yunet_grid g;
    fm_yunet_pos pos[3];
    float target[3];
} tr_ctx;

/* Outputs in the net's order: cls_8, cls_16, cls_32, obj_*, bbox_*, kps_* (landmarks unused). */
static double tr_loss(void *user, const fm_tnet_loss_io *io)
{
    const tr_ctx *c = user;
    double sum = 0;
    for (int i = 0; i < io->n; i++) {
        fm_yunet_head in;
        fm_yunet_head_grad gr;
        for (int k = 0; k < 3; k++) {
            size_t n = (size_t)c->g.rows[k] * c->g.cols[k];
            in.cls[k] = io->out[k] + i * n;
            in.obj[k] = io->out[3 + k] + i * n;
            in.bbox[k] = io->out[6 + k] + i * 4 * n;
            gr.cls[k] = io->dout[k] + i * n;
            gr.obj[k] = io->dout[3 + k] + i * n;
            gr.bbox[k] = io->dout[6 + k] + i * 4 * n;
        }
        sum += fm_yunet_loss(&c->g, &in, c->pos, 3, c->target, &gr, NULL);
    }
    return sum;
}

static void test_loss_through_tnet(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/yunet/yunet_n_640_640.onnx", fm_test_shared());
    fm_net_opts o = fm_net_default_opts();
    o.input_shape = fm_shape4(1, 3, 32, 64);
    fm_err err = {0};
    fm_net *net = fm_onnx_load_net(path, &o, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    fm_tnet *t = net ? fm_tnet_create_outputs(net, NULL, 2, 2, &err) : NULL;
    FM_CHECK_MSG(t != NULL, "%s", err.msg);
    if (!t) {
        fm_net_free(net);
        return;
    }
    FM_CHECK(!fm_tnet_output_is_logit(t, 0));
    FM_CHECK(fm_tnet_set_logit_outputs(t, 1, &err) == FM_OK);
    for (int k = 0; k < 12; k++) /* cls and obj are logits now, bbox and kps as they were */
        FM_CHECK_INT(fm_tnet_output_is_logit(t, k), k < 6);
    size_t per = (size_t)3 * 32 * 64;
    float *x = malloc(2 * per * sizeof(float));
    uint64_t s = 3;
    for (size_t i = 0; i < 2 * per; i++)
        x[i] = fm_test_randf(&s, 0, 255);
    tr_ctx c;
    c.g = fm_yunet_grid_of(64, 32);
    c.pos[0] = (fm_yunet_pos){0, 1 * 8 + 2, {14, 6, 24, 16}};
    c.pos[1] = (fm_yunet_pos){1, 5, {16, 12, 40, 30}};
    c.pos[2] = (fm_yunet_pos){2, 0, {0, 0, 30, 32}};
    for (int i = 0; i < 3; i++)
        c.target[i] = 0.3f + 0.2f * (float)i;
    double L;
    FM_CHECK_MSG(fm_tnet_train_outputs(t, x, 2, 1, tr_loss, &c, &L, &err) == FM_OK, "%s", err.msg);
    FM_CHECK(L > 0 && isfinite(L));
    size_t np = fm_tnet_num_params(t);
    float *g = malloc(np * sizeof(float));
    memcpy(g, fm_tnet_grads(t), np * sizeof(float));
    /* the last bias of each head convolution: smooth all the way to the loss */
    static const char *const heads[] = {"Conv_64", "Conv_66", "Conv_68", "Conv_76",
                                        "Conv_78", "Conv_80", "Conv_70", "Conv_72", "Conv_74"};
    float *p = fm_tnet_params(t);
    double worst = 0;
    for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
        int li = fm_tnet_find_layer(t, heads[h]);
        size_t off, n = fm_tnet_layer_params(t, li, &off);
        size_t at = off + n - 1;
        float keep = p[at];
        double e = 1e-2, lp, lm;
        p[at] = (float)(keep + e);
        fm_tnet_train_outputs(t, x, 2, 1, tr_loss, &c, &lp, &err);
        p[at] = (float)(keep - e);
        fm_tnet_train_outputs(t, x, 2, 1, tr_loss, &c, &lm, &err);
        p[at] = keep;
        double fd = (lp - lm) / ((double)(float)(keep + e) - (double)(float)(keep - e));
        double rel = fabs(fd - g[at]) / (1 + fabs(g[at]));
        worst = fmax(worst, rel);
        FM_CHECK_MSG(rel <= 1e-3, "%s bias: fd %.7g analytic %.7g", heads[h], fd, (double)g[at]);
    }
    printf("  YuNet loss through the trainer: worst |fd - analytic| / (1 + |analytic|) %.2g on "
           "9 head biases\n",
           worst);
    /* the kps head gets no gradient from this loss */
    int kl = fm_tnet_find_layer(t, "Conv_82");
    size_t koff, kn = fm_tnet_layer_params(t, kl, &koff);
    for (size_t i = 0; i < kn; i++)
        if (g[koff + i] != 0.0f) {
            fm_test_fail(__FILE__, __LINE__, "kps head parameter %zu has gradient %g", i,
                         (double)g[koff + i]);
            break;
        }
    free(g);
    free(x);
    fm_tnet_free(t);
    fm_net_free(net);
}

void suite_train_yunet_loss(void);
void suite_train_yunet_loss(void)
{
    FM_RUN(test_bce_logits);
    FM_RUN(test_eiou);
    FM_RUN(test_decode);
    FM_RUN(test_image_loss);
    FM_RUN(test_loss_through_tnet);
}
