/* Tests of the optimisers (train/optim.h): steps computed by hand (to 1e-6), the mask,
 * decoupled and classic weight decay, learning-rate changes, a quadratic minimised,
 * and option errors. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "train/optim.h"

static fm_optim *make(fm_optim_opts o, size_t n)
{
    fm_err err = {0};
    fm_optim *opt = fm_optim_create(&o, n, &err);
    FM_CHECK_MSG(opt != NULL, "%s", err.msg);
    return opt;
}

static void test_sgd_momentum_by_hand(void)
{
    fm_optim_opts o = fm_optim_default_opts(FM_OPTIM_SGD);
    o.lr = 0.1f;
    o.momentum = 0.9f;
    fm_optim *opt = make(o, 2);
    if (!opt)
        return;
    float p[2] = {1.0f, 1.0f}, g[2] = {0.5f, 0.5f};
    uint8_t mask[2] = {1, 0};
    fm_optim_step(opt, p, g, mask);
    FM_CHECK_NEAR(p[0], 0.95f, 1e-6); /* v = 0.5 */
    FM_CHECK_NEAR(p[1], 1.0f, 0);     /* masked off */
    fm_optim_step(opt, p, g, mask);
    FM_CHECK_NEAR(p[0], 0.855f, 1e-6); /* v = 0.9 * 0.5 + 0.5 = 0.95 */
    FM_CHECK_INT(fm_optim_steps(opt), 2);
    fm_optim_set_lr(opt, 0.0f);
    fm_optim_step(opt, p, g, NULL);
    FM_CHECK_NEAR(p[0], 0.855f, 0);
    FM_CHECK_NEAR(fm_optim_lr(opt), 0.0f, 0);
    fm_optim_free(opt);

    /* Nesterov: step = g + mu * v = 0.5 + 0.45 */
    o.nesterov = 1;
    opt = make(o, 1);
    float q = 1.0f, gq = 0.5f;
    fm_optim_step(opt, &q, &gq, NULL);
    FM_CHECK_NEAR(q, 0.905f, 1e-6);
    fm_optim_free(opt);

    /* classic L2: g' = g + wd * p = 0.5 + 0.1 */
    o.nesterov = 0;
    o.momentum = 0.0f;
    o.weight_decay = 0.1f;
    o.decoupled = 0;
    opt = make(o, 1);
    q = 1.0f;
    fm_optim_step(opt, &q, &gq, NULL);
    FM_CHECK_NEAR(q, 0.94f, 1e-6);
    fm_optim_free(opt);

    /* decoupled: p = p * (1 - lr * wd) - lr * g = 0.99 - 0.05 */
    o.decoupled = 1;
    opt = make(o, 1);
    q = 1.0f;
    fm_optim_step(opt, &q, &gq, NULL);
    FM_CHECK_NEAR(q, 0.94f, 1e-6);
    q = 2.0f;
    fm_optim_step(opt, &q, &gq, NULL);
    FM_CHECK_NEAR(q, 2.0f * 0.99f - 0.05f, 1e-6);
    fm_optim_free(opt);
}

static void test_adam_by_hand(void)
{
    fm_optim_opts o = fm_optim_default_opts(FM_OPTIM_ADAM);
    FM_CHECK_NEAR(o.beta1, 0.9f, 0);
    FM_CHECK_NEAR(o.beta2, 0.999f, 0);
    FM_CHECK_NEAR(o.eps, 1e-8f, 0);
    o.lr = 0.01f;
    fm_optim *opt = make(o, 3);
    if (!opt)
        return;
    float p[3] = {1.0f, -1.0f, 0.5f}, g[3] = {0.2f, -3.0f, 0.0f};
    /* step 1: m_hat = g, v_hat = g^2, so the step is lr * g / (|g| + eps) */
    fm_optim_step(opt, p, g, NULL);
    FM_CHECK_NEAR(p[0], 0.99f, 1e-6);
    FM_CHECK_NEAR(p[1], -0.99f, 1e-6);
    FM_CHECK_NEAR(p[2], 0.5f, 0);
    /* step 2 with g' = (0.1, ...): m = 0.9*0.02 + 0.1*0.1 = 0.028, v = 0.999*4e-5 + 0.001*0.01 */
    float g2[3] = {0.1f, -3.0f, 0.0f};
    fm_optim_step(opt, p, g2, NULL);
    double m = 0.028, v = 0.999 * 4e-5 + 0.001 * 0.01;
    double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
    FM_CHECK_NEAR(p[0], 0.99 - 0.01 * mh / (sqrt(vh) + 1e-8), 1e-6);
    fm_optim_reset(opt);
    FM_CHECK_INT(fm_optim_steps(opt), 0);
    fm_optim_free(opt);

    /* AdamW: decay applied to p before the Adam step */
    o.weight_decay = 0.5f;
    opt = make(o, 1);
    float q = 2.0f, gq = 1.0f;
    fm_optim_step(opt, &q, &gq, NULL);
    FM_CHECK_NEAR(q, 2.0f * (1.0f - 0.005f) - 0.01f, 1e-6);
    fm_optim_free(opt);
}

/* f(p) = sum (p_i - t_i)^2 / 2 from p = 0: both reach the target. */
static void test_minimise_quadratic(void)
{
    for (int kind = 0; kind < 2; kind++) {
        fm_optim_opts o = fm_optim_default_opts((fm_optim_kind)kind);
        o.lr = kind == FM_OPTIM_ADAM ? 0.05f : 0.05f;
        fm_optim *opt = make(o, 4);
        if (!opt)
            return;
        float p[4] = {0}, g[4], t[4] = {1.0f, -2.0f, 0.5f, 3.0f};
        for (int step = 0; step < 2000; step++) {
            for (int i = 0; i < 4; i++)
                g[i] = p[i] - t[i];
            if (step == 1000)
                fm_optim_set_lr(opt, o.lr * 0.1f); /* a schedule */
            fm_optim_step(opt, p, g, NULL);
        }
        for (int i = 0; i < 4; i++)
            FM_CHECK_NEAR(p[i], t[i], 1e-3);
        fm_optim_free(opt);
    }
}

static void test_optim_errors(void)
{
    fm_err err = {0};
    fm_optim_opts o = fm_optim_default_opts(FM_OPTIM_SGD);
    o.momentum = 1.0f;
    FM_CHECK(fm_optim_create(&o, 4, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "momentum 1");
    o = fm_optim_default_opts(FM_OPTIM_ADAM);
    o.eps = 0.0f;
    FM_CHECK(fm_optim_create(&o, 4, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "eps 0");
    o.kind = (fm_optim_kind)7;
    FM_CHECK(fm_optim_create(&o, 4, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "kind 7 is not SGD (0) or Adam (1)");
}

void suite_train_optim(void);
void suite_train_optim(void)
{
    FM_RUN(test_sgd_momentum_by_hand);
    FM_RUN(test_adam_by_hand);
    FM_RUN(test_minimise_quadratic);
    FM_RUN(test_optim_errors);
}
