/* op.h - the engine's operators, each declared once.
 *
 * FM_OP_LIST is the one list of what a node can compute. Each row gives
 *   - the enum value (FM_LAYER_<ID>), used by the graph, the net and the trainer;
 *   - the op's name as the engine reports it (what an importer's type maps to);
 *   - in_place: the output may take over the first input's memory;
 *   - fuses_act: a following ReLU/ReLU6 can be folded into it;
 *   - trainable: src/train has a backward pass for it.
 * The shape rule, the kernel and the optional prepare step of each op are bound
 * by name in op_table.c (shape_<id>, run_<id>, prepare_<id>), so a row without them
 * does not compile. A new op is its kernel file in ops/, one row here and its
 * adapters in op_table.c; importers (src/caffe, src/onnx) map their types to it.
 */
#ifndef FM_OP_H
#define FM_OP_H

#include <stddef.h>

#include "core/err.h"
#include "core/pool.h"
#include "nn/tensor.h"

/*      ID         name               in_place fuses_act trainable */
#define FM_OP_LIST(X)                                              \
    X(CONV,        "Convolution",     0,       1,        1)        \
    X(AFFINE,      "Affine",          1,       1,        0)        \
    X(ACT,         "Activation",      1,       0,        1)        \
    X(POOL,        "Pooling",         0,       0,        1)        \
    X(ELTWISE,     "Eltwise",         1,       1,        1)        \
    X(CONCAT,      "Concat",          0,       0,        0)        \
    X(RESHAPE,     "Reshape",         1,       0,        1)        \
    X(PERMUTE,     "Permute",         0,       0,        1)        \
    X(NORMALIZE,   "Normalize",       0,       0,        0)        \
    X(PRIORBOX,    "PriorBox",        0,       0,        0)        \
    X(SOFTMAX,     "Softmax",         1,       0,        1)        \
    X(DETOUT,      "DetectionOutput", 0,       0,        0)        \
    X(IP,          "InnerProduct",    0,       1,        1)        \
    X(RESIZE,      "Resize",          0,       0,        1)        \
    X(CONV_DW,     "Conv1x1+DWConv",  0,       0,        0)

typedef enum {
#define FM_OP_ENUM(id, name, in_place, fuses_act, trainable) FM_LAYER_##id,
    FM_OP_LIST(FM_OP_ENUM)
#undef FM_OP_ENUM
    FM_LAYER_COUNT
} fm_layer_kind;

struct fm_graph;
struct fm_node;

/* What a kernel gets when the net runs a node. */
typedef struct {
    struct fm_node *node;
    const fm_tensor *const *in; /* node->nin tensors */
    fm_tensor *out;
    void *scratch; /* the net's shared scratch, at least what prepare asked for */
    fm_pool *pool;
    int reference; /* plain reference kernels only */
} fm_op_ctx;

typedef struct {
    const char *name;
    int in_place, fuses_act, trainable;
    /* Sets node's output shape from its inputs' shapes (and checks its weights' sizes). */
    fm_status (*shape)(struct fm_graph *g, struct fm_node *n, fm_err *err);
    /* Once the net is planned: packs weights, fills constants; *scratch gets the bytes
     * of scratch the node needs at run time (left alone if none). */
    fm_status (*prepare)(struct fm_graph *g, struct fm_node *n, int threads, int reference,
                         size_t *scratch, fm_err *err);
    void (*run)(const fm_op_ctx *c);
} fm_op_def;

/* The row of an op; NULL for a value out of range. */
const fm_op_def *fm_op_get(fm_layer_kind kind);
const char *fm_op_name(fm_layer_kind kind);

#endif
