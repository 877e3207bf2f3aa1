/* onnx.h - loading an ONNX model into facemask's engine.
 *
 * The file is read by onnx_proto.h (protobuf wire, bounds-checked) and each node
 * becomes a graph node (nn/graph.h) whose output shape the op's shape rule infers,
 * so any input size the model allows can be run:
 *
 *     fm_net_opts o = fm_net_default_opts();
 *     o.input_shape = fm_shape4(1, 3, 480, 640);   // else the size the file declares
 *     fm_net *net = fm_onnx_load_net("yunet_n_640_640.onnx", &o, &err);
 *     const fm_tensor *cls8 = fm_net_blob(net, "cls_8"); // after fm_net_forward
 *
 * Supported (default domain, opsets 7 to 17): Conv (any group, symmetric pads,
 * auto_pad NOTSET), Relu, LeakyRelu, Sigmoid, MaxPool (kernel, stride, symmetric
 * pads, ceil_mode), GlobalAveragePool, Add (same shapes), Transpose, Reshape (shape
 * from a constant), Flatten, Concat, Softmax (opset 13 semantics only on the last
 * axis), Resize (nearest, asymmetric, floor; scales or sizes from a constant),
 * Identity, Dropout, Constant. Initializers and Constant nodes are constants; an
 * op whose inputs are all constants (Shape/Gather chains) is not evaluated and is
 * refused. Errors name the file, the node, its op and what was expected; an op
 * not in this list is refused with the list.
 * Outputs are the graph's declared outputs, in the file's order.
 */
#ifndef FM_ONNX_H
#define FM_ONNX_H

#include "core/err.h"
#include "nn/net.h"
#include "onnx/onnx_proto.h"

struct fm_graph;

#define FM_ONNX_MIN_OPSET 7
#define FM_ONNX_MAX_OPSET 17

/* The graph of a parsed model (owned by the caller: fm_graph_free or fm_net_build).
 * source names the file in messages. opts->input_shape, when set (4 axes), replaces
 * the first input's shape; it must then be given for a model whose input has a
 * symbolic size. opts may be NULL. */
struct fm_graph *fm_onnx_import(const fm_onnx_model *m, const char *source,
                                const fm_net_opts *opts, fm_err *err);

/* fm_onnx_import of a parsed model, then fm_net_build: for building the same model at
 * several input sizes without reading it again. */
fm_net *fm_onnx_build_net(const fm_onnx_model *m, const char *source, const fm_net_opts *opts,
                          fm_err *err);

/* Reads, imports and builds the file. NULL on error, with the reason in err. */
fm_net *fm_onnx_load_net(const char *path, const fm_net_opts *opts, fm_err *err);

#endif
