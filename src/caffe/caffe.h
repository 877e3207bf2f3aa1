/* caffe.h - loading a Caffe network: a .prototxt (the graph and each layer's
 * parameters) and a .caffemodel (the weights, matched by layer name).
 *
 *     fm_net_opts o = fm_net_default_opts();
 *     fm_net *net = fm_caffe_load_net("deploy.prototxt", "res10.caffemodel", &o, &err);
 *
 * Supported layer types: Input, Convolution, BatchNorm, Scale, ReLU, ReLU6,
 * Pooling, Eltwise, Concat, Flatten, Reshape, Permute, Normalize, PriorBox,
 * Softmax, DetectionOutput, InnerProduct, Dropout. Any other type is an error
 * naming the layer and its line in the prototxt; so is a weight blob whose shape
 * disagrees with what the prototxt implies (both shapes are named).
 */
#ifndef FM_CAFFE_H
#define FM_CAFFE_H

#include "core/err.h"
#include "nn/net.h"

struct fm_graph;

/* The graph of a Caffe network (owned by the caller; fm_graph_free or fm_net_build).
 * opts->input_shape, when set, replaces the first input's shape; opts may be NULL. */
struct fm_graph *fm_caffe_import(const char *prototxt_path, const char *caffemodel_path,
                                 const fm_net_opts *opts, fm_err *err);

/* fm_caffe_import, then fm_net_build. NULL on error, with the reason in err. */
fm_net *fm_caffe_load_net(const char *prototxt_path, const char *caffemodel_path,
                          const fm_net_opts *opts, fm_err *err);

#endif
