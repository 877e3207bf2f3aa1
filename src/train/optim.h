/* optim.h - optimisers over flat parameter arrays (kann style).
 *
 * An optimiser owns its state (momentum, or Adam's two moments) for n floats and
 * updates params[i] from grads[i] wherever mask[i] is non-zero (mask NULL: all):
 *
 *     fm_optim_opts o = fm_optim_default_opts(FM_OPTIM_ADAM);
 *     o.lr = 1e-3f;
 *     o.weight_decay = 1e-4f;           // decoupled (AdamW) unless o.decoupled = 0
 *     fm_optim *opt = fm_optim_create(&o, fm_tnet_num_params(t), &err);
 *     ...
 *     fm_optim_set_lr(opt, schedule(step));   // any time, e.g. per step
 *     fm_optim_step(opt, fm_tnet_params(t), fm_tnet_grads(t), fm_tnet_trainable_mask(t));
 *
 * Updates (g = grads[i], p = params[i], t = steps taken including this one):
 *   classic L2 (decoupled == 0): g += weight_decay * p before anything else;
 *   decoupled (decoupled != 0):  p -= lr * weight_decay * p before the update
 *                                (AdamW / PyTorch's SGDW form);
 *   SGD:   v = momentum * v + g;  p -= lr * (nesterov ? g + momentum * v : v)
 *          (PyTorch's SGD; momentum 0 is plain SGD);
 *   Adam:  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *          p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 *          (PyTorch defaults b1 0.9, b2 0.999, eps 1e-8; Keras uses eps 1e-7).
 * State of masked-off entries is left untouched.
 */
#ifndef FM_OPTIM_H
#define FM_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef enum { FM_OPTIM_SGD = 0, FM_OPTIM_ADAM = 1 } fm_optim_kind;

typedef struct {
    fm_optim_kind kind;
    float lr;           /* learning rate (SGD default 0.01, Adam 0.001) */
    float momentum;     /* SGD (default 0.9) */
    int nesterov;       /* SGD (default 0) */
    float beta1, beta2; /* Adam (0.9, 0.999) */
    float eps;          /* Adam (1e-8) */
    float weight_decay; /* default 0 */
    int decoupled;      /* 1: decoupled (AdamW-style) decay (default), 0: classic L2 in the gradient */
} fm_optim_opts;

typedef struct fm_optim fm_optim;

fm_optim_opts fm_optim_default_opts(fm_optim_kind kind);
/* n: parameter count. NULL with a message on bad options or no memory. */
fm_optim *fm_optim_create(const fm_optim_opts *opts, size_t n, fm_err *err);
void fm_optim_free(fm_optim *o);
void fm_optim_set_lr(fm_optim *o, float lr);
float fm_optim_lr(const fm_optim *o);
/* Steps taken so far. */
long fm_optim_steps(const fm_optim *o);
/* One update of params from grads where mask != 0 (mask may be NULL). */
void fm_optim_step(fm_optim *o, float *params, const float *grads, const uint8_t *mask);
/* Zeroes the state and the step count. */
void fm_optim_reset(fm_optim *o);

#endif
