/* tnet_impl.h - the inside of fm_tnet, shared by its two halves: tnet.c (building from a
 * net, configuration, accessors) and tnet_run.c (forward, loss, backward over shards).
 * Private to src/train; see tnet.h for the interface. */
#ifndef FM_TNET_IMPL_H
#define FM_TNET_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "train/grad.h"
#include "train/tnet.h"

#define TNET_MAX_IN 16
#define TNET_MAX_OUT 16 /* outputs of a net in outputs mode */

typedef struct {
    fm_layer_kind kind;
    char *name;
    char *type;
    int net_index;
    int nin, in[TNET_MAX_IN], out; /* tnet value ids */
    fm_activation act;
    fm_conv_param conv;
    fm_pool_param pool;
    fm_eltwise_param elt;
    float coeff[TNET_MAX_IN];
    fm_ip_param ip;
    fm_resize_param resize;
    int perm[3]; /* PERMUTE: output axis k of a sample is input axis perm[k] */
    int dropout;
    float ratio;
    size_t woff, nw, boff, nb;
    int trainable;
    int backward; /* run in backward: its output needs a gradient */
} tlayer;

typedef struct {
    int c, h, w;
    size_t count; /* per sample */
    int need_grad;
} tvalue;

typedef struct {
    float **act, **grad;
    unsigned char *gset;
    fm_tctx ctx;
    float *arena;
    float *obuf, *dbuf;            /* outputs mode: the shard's outputs and their gradients */
    float *optr[TNET_MAX_OUT], *dptr[TNET_MAX_OUT]; /* per output, into obuf / dbuf */
} tworker;

enum { MODE_TRAIN, MODE_PREDICT };

struct fm_tnet {
    int nlayers;
    tlayer *layers;
    int nvalues;
    tvalue *values;
    int classes;
    size_t nparams;
    float *params, *grads;
    uint8_t *mask;
    float *shard_grads[FM_TNET_SHARDS];
    int max_batch, shard_cap;
    int nworkers;
    tworker *workers;
    fm_pool *pool;
    float *class_w; /* NULL: all 1 */
    float *loss_buf;
    /* outputs mode (fm_tnet_create_outputs): the net's outputs, an external loss */
    int outputs_mode;
    int noutputs;
    int out_value[TNET_MAX_OUT]; /* tnet value ids */
    int out_logit[TNET_MAX_OUT]; /* the input of the Sigmoid that makes the output, or -1 */
    int logits;                  /* hand the loss those logits instead (fm_tnet_set_logit_outputs) */
    char *out_name[TNET_MAX_OUT];
    fm_tnet_loss_fn loss_fn;
    void *loss_user;
    double shard_loss[FM_TNET_SHARDS];
    float *const *outs; /* fm_tnet_forward_outputs: where the outputs go */
    /* the current call */
    int mode;
    const float *x;
    const int *labels;
    int n;
    uint64_t seed;
    float norm;
    float *probs_out;
};

/* The value the loss sees for output k: the output, or its sigmoid's input. */
static inline int fm_tnet_loss_value(const struct fm_tnet *t, int k)
{
    return t->logits && t->out_logit[k] >= 0 ? t->out_logit[k] : t->out_value[k];
}

#endif
