/* net.h - a network run by facemask's own engine.
 *
 * An importer turns a file into a graph (src/caffe: Caffe prototxt + caffemodel;
 * src/onnx: ONNX), and fm_net_build makes it runnable:
 *   - BatchNorm and Scale that follow a Convolution are folded into its
 *     weights (opts.fold_batchnorm), other BatchNorm+Scale pairs become one
 *     per-channel affine op;
 *   - ReLU/ReLU6 are fused into the op before them (opts.fuse_activations);
 *   - a 1x1 convolution and the depthwise 3x3 after it become one op that never
 *     stores the 1x1's output whole (opts.fuse_pw_dw);
 *   - every activation gets a slice of one arena, reused once its value is
 *     dead (opts.keep_all_blobs turns reuse off for debugging).
 * Running it is then a loop over layers with no allocation:
 *
 *     fm_net_opts o = fm_net_default_opts();
 *     o.threads = 2;
 *     fm_net *net = fm_caffe_load_net("deploy.prototxt", "res10.caffemodel", &o, &err);
 *     fm_tensor *in = fm_net_input(net, 0);        // (1, 3, 300, 300), fill in->data
 *     if (fm_net_forward(net, &err) != FM_OK) ...
 *     const fm_tensor *det = fm_net_output(net, 0); // (1, 1, rows, 7)
 *     fm_net_free(net);
 *
 * The ops a net can run are listed once, in nn/op.h.
 */
#ifndef FM_NET_H
#define FM_NET_H

#include <stddef.h>

#include "core/err.h"
#include "core/pool.h"
#include "nn/op.h"
#include "nn/ops/ops.h"
#include "nn/tensor.h"

typedef struct fm_net fm_net;
struct fm_graph;

/* What a layer computes, after folding: fm_layer_kind, from the op list in nn/op.h. */

typedef struct {
    int threads;          /* worker threads incl. the caller, >= 1 (default 1) */
    int fold_batchnorm;   /* fold BatchNorm/Scale into the convolution before them (default 1) */
    int fuse_activations; /* fuse ReLU/ReLU6 into the op before them (default 1) */
    int fuse_pw_dw;       /* fold a 1x1 convolution and the depthwise 3x3/s1 after it into one
                           * FM_LAYER_CONV_DW node when nothing else reads the 1x1's output
                           * (default 0: slower on this machine, see conv_pw_dw.c; never
                           * with keep_all_blobs) */
    int reference;        /* plain reference kernels only (default 0; env FM_REFERENCE=1 too) */
    int keep_all_blobs;   /* never reuse activation memory, so fm_net_blob sees every value */
    int release_weights;  /* inference only: free each convolution's plain weights once its
                           * plan has packed them (fm_layer_info.w is then NULL for those
                           * layers and fm_net_weights_changed fails) */
    fm_shape input_shape; /* ndim 0: as the file says; else replaces the first input's shape
                           * (used by the importers) */
    fm_pool *pool;        /* optional shared pool (not owned); else the net makes its own */
    size_t max_memory;    /* bytes of activations + scratch the plan may take; 0: FM_NET_MAX_MEMORY.
                           * A model from elsewhere can ask for any size (a chain of 16x
                           * upsamplings in a few hundred bytes): past this it is refused. */
} fm_net_opts;

#define FM_NET_MAX_MEMORY ((size_t)2 << 30)

fm_net_opts fm_net_default_opts(void);

/* Folds, plans and prepares a graph from an importer. Takes ownership of g, also on
 * failure (NULL, with the reason in err). */
fm_net *fm_net_build(struct fm_graph *g, const fm_net_opts *opts, fm_err *err);
void fm_net_free(fm_net *net);

int fm_net_num_inputs(const fm_net *net);
/* The input tensor to fill before fm_net_forward (owned by the net). */
fm_tensor *fm_net_input(fm_net *net, int index);
const char *fm_net_input_name(const fm_net *net, int index);

fm_status fm_net_forward(fm_net *net, fm_err *err);

/* Outputs: those the file declares (ONNX), else the values no layer consumes, in order. */
int fm_net_num_outputs(const fm_net *net);
const fm_tensor *fm_net_output(const fm_net *net, int index);
const char *fm_net_output_name(const fm_net *net, int index);

/* The latest value of a named blob after a forward; NULL if unknown. Only outputs are
 * guaranteed intact unless opts.keep_all_blobs was set. */
const fm_tensor *fm_net_blob(const fm_net *net, const char *name);

/* Layers as run (after folding): count, name and type, and the time the last forward
 * spent in each when profiling is on. */
int fm_net_num_layers(const fm_net *net);
const char *fm_net_layer_name(const fm_net *net, int index);
const char *fm_net_layer_type(const fm_net *net, int index);
void fm_net_set_profiling(fm_net *net, int on);
double fm_net_layer_ms(const fm_net *net, int index);

/* ---- Introspection, for the trainer and tools ------------------------------ */
/* Values are the blobs of the graph in single-assignment form: an in-place layer
 * makes a new value with the same name. Ids run from 0 to fm_net_num_values()-1. */
typedef struct {
    fm_layer_kind kind;
    const char *name; /* name in the file (of the first layer folded into this one) */
    const char *type; /* e.g. "Convolution+ReLU6" after fusion */
    int nin;
    const int *in;     /* value ids read */
    int out;           /* value id written */
    fm_activation act; /* fused activation */
    const fm_conv_param *conv;       /* FM_LAYER_CONV */
    const fm_pool_param *pool;       /* FM_LAYER_POOL */
    const fm_eltwise_param *eltwise; /* FM_LAYER_ELTWISE */
    const fm_ip_param *ip;           /* FM_LAYER_IP */
    int axis;                        /* FM_LAYER_SOFTMAX, FM_LAYER_CONCAT */
    const fm_resize_param *resize;   /* FM_LAYER_RESIZE */
    const int *dims;                 /* FM_LAYER_PERMUTE: order; FM_LAYER_RESHAPE: dims */
    int ndims;
    float *w, *b; /* the layer's weights and bias (conv, ip, affine), owned by the net;
                   * writable: call fm_net_weights_changed() after changing them */
    size_t nw, nb;
} fm_layer_info;

/* Fills *info for layer index (as run, 0..fm_net_num_layers()-1); 0 if out of range. */
int fm_net_layer_info(fm_net *net, int index, fm_layer_info *info);
int fm_net_num_values(const fm_net *net);
/* The latest value of that name, or -1. */
int fm_net_value_id(const fm_net *net, const char *name);
const char *fm_net_value_name(const fm_net *net, int id);
/* The tensor of a value (its data is valid after a forward only while not reused;
 * see keep_all_blobs). */
const fm_tensor *fm_net_value(const fm_net *net, int id);
/* Repacks what depends on the weights (convolution plans) after they were changed. */
fm_status fm_net_weights_changed(fm_net *net, fm_err *err);
/* Runs layers [first, end) only (indices as run); the values they read must be set. */
fm_status fm_net_forward_range(fm_net *net, int first, int end, fm_err *err);

/* Bytes of activation arena, weights (as loaded) and packed kernel data. */
size_t fm_net_activation_bytes(const fm_net *net);
size_t fm_net_weight_bytes(const fm_net *net);
int fm_net_threads(const fm_net *net);

#endif
