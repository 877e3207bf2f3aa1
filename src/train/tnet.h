/* tnet.h - the trainable tail of a loaded network (transfer learning).
 *
 * A loaded fm_net runs the frozen front at full speed; fm_tnet trains what
 * follows a cut value. fm_tnet_create takes every layer (as run, after
 * folding and fusion) from the first one that reads the cut value to the end
 * and copies their weights into ONE flat parameter array with a matching
 * gradient array (kann style), so an optimiser is a loop over floats:
 *
 *     fm_net *net = fm_caffe_load_net("classifier.prototxt", "classifier.caffemodel", &o, &err);
 *     fm_tnet *t = fm_tnet_create(net, "pool", 64, 2, &err);   // cut, max batch, threads
 *     fm_optim_opts oo = fm_optim_default_opts(FM_OPTIM_ADAM); // see train/optim.h
 *     fm_optim *opt = fm_optim_create(&oo, fm_tnet_num_params(t), &err);
 *     for (step...) {
 *         // x: n samples of the cut value's shape, e.g. features from
 *         // fm_net_forward_range(net, 0, cut_layer, ...) copied out per sample
 *         float loss;
 *         fm_tnet_train_batch(t, x, labels, n, step_seed, &loss, NULL, &err);
 *         fm_optim_step(opt, fm_tnet_params(t), fm_tnet_grads(t), fm_tnet_trainable_mask(t));
 *     }
 *     fm_tnet_write_back(t, net, &err);   // the net now infers with the trained weights
 *     fm_optim_free(opt);
 *     fm_tnet_free(t);
 *
 * Layers: Convolution (any group, stride, pad, dilation; fused ReLU/leaky/ReLU6),
 * ReLU/ReLU6/Sigmoid, Eltwise SUM (coefficients, fused activation), Pooling (MAX/AVE,
 * global or windows), nearest Resize, Permute/Transpose (batch axis kept first),
 * InnerProduct (fused activation), Flatten/Reshape, Dropout (inverted dropout while
 * training, identity when predicting; ratio 0.5 unless fm_tnet_set_dropout says
 * otherwise), and a final Softmax over channels, which becomes softmax + cross-entropy
 * (mean over the batch, optional class weights) when training. Anything else is an
 * error naming the layer.
 *
 * Detectors: fm_tnet_create_outputs takes the part from the cut to ALL of the net's
 * declared outputs (YuNet's 12 heads) with no loss of its own; the caller's loss
 * function gets each shard's outputs and gives back their gradients:
 *
 *     fm_net *net = fm_onnx_load_net("yunet_n_640_640.onnx", &o, &err); // o.input_shape set
 *     fm_tnet *t = fm_tnet_create_outputs(net, NULL, 8, 2, &err);      // from the input
 *     fm_tnet_train_outputs(t, x, n, seed, my_loss, &my_ctx, &loss_sum, &err);
 *     // grads as above; fm_tnet_write_back, then fm_onnx_save_net (onnx/write.h)
 *
 * Threads: a batch is cut into FM_TNET_SHARDS shards of consecutive samples,
 * fixed by n alone; each thread runs whole shards (its own activations and
 * gradients, allocated at create time for max_batch), and the shards'
 * weight gradients are summed in shard order. Dropout masks come from a hash
 * of (seed, sample index in the batch, layer). So a step gives bit-identical
 * results for a given seed with any number of threads. More threads than
 * shards are not used.
 *
 * Internally activations are channel-major (C, N, H, W) per shard; inputs and
 * probabilities are ordinary per-sample NCHW / (n, classes).
 */
#ifndef FM_TNET_H
#define FM_TNET_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "nn/net.h"

#define FM_TNET_SHARDS 2

typedef struct fm_tnet fm_tnet;

/* net: a loaded net (not owned; only read here, and by fm_tnet_write_back).
 * cut: name of the value the trainable part reads (its latest version, as
 * fm_net_value_id finds it). max_batch >= 1 samples per call; threads >= 1.
 * All layers start trainable. NULL on error (cut not found, a layer the trainer
 * cannot run, a layer reading a value from before the cut, no final Softmax...). */
fm_tnet *fm_tnet_create(fm_net *net, const char *cut, int max_batch, int threads, fm_err *err);
void fm_tnet_free(fm_tnet *t);

/* One training step: forward in training mode, loss, backward.
 * x: n samples (1 <= n <= max_batch), each fm_tnet_input_size() floats in the cut
 * value's (C, H, W) order; labels: n class indices in [0, classes).
 * seed: dropout masks. Writes the batch's gradient of the mean loss into
 * fm_tnet_grads() (not accumulated across calls; zero where the mask is off),
 * the mean loss into *loss, and if probs_out is not NULL, n x classes
 * probabilities (training-mode forward). */
fm_status fm_tnet_train_batch(fm_tnet *t, const float *x, const int *labels, int n, uint64_t seed,
                              float *loss, float *probs_out, fm_err *err);

/* Inference-mode forward (no dropout) of n >= 1 samples (any n; run in chunks of
 * max_batch): probs gets n x classes. */
fm_status fm_tnet_predict(fm_tnet *t, const float *x, int n, float *probs, fm_err *err);

/* Copies the trained weights into the net's layers (fm_layer_info.w/b) and calls
 * fm_net_weights_changed. net must be the net t was made from (or one loaded
 * from the same files): layers are matched by index and checked by name and size. */
fm_status fm_tnet_write_back(const fm_tnet *t, fm_net *net, fm_err *err);

/* ---- several outputs and an external loss (detectors) ----------------------------- */
/* A shard's part of the batch, handed to the loss function. */
typedef struct {
    int sample0, n;          /* samples [sample0, sample0 + n) of the batch */
    int noutputs;            /* the net's outputs, in fm_net_output order */
    const float *const *out; /* out[k]: n samples x fm_tnet_output_size(t, k) floats, each
                              * sample's values in its NCHW order (the net's tensor order) */
    float *const *dout;      /* same layout, zeroed: the loss writes d loss / d out[k] there */
} fm_tnet_loss_io;
/* Returns the loss of these samples (the sum over them: fm_tnet_train_outputs adds the shards'
 * sums in shard order). Called from worker threads, once per shard, possibly concurrently: it
 * may write only per-sample state. The gradient it writes is the gradient of what it returns. */
typedef double (*fm_tnet_loss_fn)(void *user, const fm_tnet_loss_io *io);

/* As fm_tnet_create, but the trainable part ends at the net's declared outputs (every one
 * must derive from the cut; a value neither read nor an output is an error; no Softmax).
 * cut NULL: the net's first input. */
fm_tnet *fm_tnet_create_outputs(fm_net *net, const char *cut, int max_batch, int threads,
                                fm_err *err);
/* One training step with an external loss: forward (training mode), loss(user, shard) per
 * shard, backward. Gradients as fm_tnet_train_batch (not accumulated across calls; zero
 * where frozen) are those of the SUM of the losses; *loss_sum gets that sum. A loss that
 * wants a batch-wide normaliser (YuNet divides by the number of positives in the batch) can
 * return unnormalised sums and the caller scale fm_tnet_grads() afterwards: the backward is
 * linear in the output gradients. */
fm_status fm_tnet_train_outputs(fm_tnet *t, const float *x, int n, uint64_t seed,
                                fm_tnet_loss_fn loss, void *user, double *loss_sum, fm_err *err);
/* Inference-mode forward of n >= 1 samples (chunks of max_batch): out[k] gets n x
 * fm_tnet_output_size(t, k) floats. */
fm_status fm_tnet_forward_outputs(fm_tnet *t, const float *x, int n, float *const *out,
                                  fm_err *err);
/* Outputs that a Sigmoid layer makes (YuNet's cls and obj) are handed to the loss (and by
 * fm_tnet_forward_outputs) as that sigmoid's input, the logits, when on: the loss then takes
 * its gradient w.r.t. the logits (a BCE's p - t), which a sigmoid saturated in float (p == 1
 * from a logit of about 17) would otherwise cut off. Off by default. Outputs mode only. */
fm_status fm_tnet_set_logit_outputs(fm_tnet *t, int on, fm_err *err);
int fm_tnet_output_is_logit(const fm_tnet *t, int k);
int fm_tnet_num_outputs(const fm_tnet *t);            /* 0 for a classifier trainer */
const char *fm_tnet_output_name(const fm_tnet *t, int k);
size_t fm_tnet_output_size(const fm_tnet *t, int k); /* floats per sample */

/* ---- configuration -------------------------------------------------------------- */
/* Trainable flags by (prototxt) layer name, as fm_layer_info.name gives it. A frozen
 * layer's weights get no gradient, but it still passes gradient to its input when a
 * trainable layer lies before it. Error when no layer has that name. */
fm_status fm_tnet_set_trainable(fm_tnet *t, const char *layer, int on, fm_err *err);
/* Layers before the named one frozen, the named one and all after trainable. */
fm_status fm_tnet_freeze_before(fm_tnet *t, const char *layer, fm_err *err);
/* Dropout ratio in [0, 1) of a Dropout layer (error for any other layer). */
fm_status fm_tnet_set_dropout(fm_tnet *t, const char *layer, float ratio, fm_err *err);
/* Per-class loss weights (classes values > 0; NULL restores 1). The loss is
 * sum_i w[y_i] * CE_i / sum_i w[y_i] (PyTorch's weighted mean). */
fm_status fm_tnet_set_class_weights(fm_tnet *t, const float *w, int classes, fm_err *err);

/* ---- accessors ------------------------------------------------------------------- */
size_t fm_tnet_num_params(const fm_tnet *t);
float *fm_tnet_params(fm_tnet *t);         /* all weights then biases, layer by layer */
float *fm_tnet_grads(fm_tnet *t);          /* same layout */
const uint8_t *fm_tnet_trainable_mask(const fm_tnet *t); /* 1 per trainable parameter */
int fm_tnet_num_classes(const fm_tnet *t);
size_t fm_tnet_input_size(const fm_tnet *t); /* floats per sample */
void fm_tnet_input_dims(const fm_tnet *t, int *c, int *h, int *w);
int fm_tnet_max_batch(const fm_tnet *t);
int fm_tnet_num_layers(const fm_tnet *t);
const char *fm_tnet_layer_name(const fm_tnet *t, int index);
/* Index in fm_net's layers (as run) of tnet layer index. */
int fm_tnet_layer_net_index(const fm_tnet *t, int index);
int fm_tnet_layer_trainable(const fm_tnet *t, int index);
/* The layer's weights at params + *offset (count floats, weights then bias); 0 if none. */
size_t fm_tnet_layer_params(const fm_tnet *t, int index, size_t *offset);
/* Index of a layer by name, or -1. */
int fm_tnet_find_layer(const fm_tnet *t, const char *layer);

#endif
