/* graph.h - the in-memory network every importer builds and the net runs.
 *
 * A graph is a list of nodes in execution order over values in single-assignment
 * form: every node writes one new value; an in-place layer of a file format makes
 * a new value with the same name, and a name resolves to its latest value.
 * Importers (src/caffe, src/onnx) know their file format; this module and
 * src/nn/net.c know none:
 *
 *     fm_graph *g = fm_graph_create("model.onnx");
 *     int x = fm_graph_add_input(g, "input", fm_shape4(1, 3, 480, 640), &err);
 *     fm_node *n = fm_graph_add_node(g, FM_LAYER_CONV, "Conv_0", "Conv", &err);
 *     ... set n->conv, n->w, n->b (owned by the graph from now on) ...
 *     fm_graph_connect(g, n, &x, 1, "458", &err);  // inputs, output value, shape rule
 *     fm_net *net = fm_net_build(g, &opts, &err);   // takes g, even on failure
 *
 * Weights handed to a node (w, b) are malloc'd and owned by the graph.
 */
#ifndef FM_GRAPH_H
#define FM_GRAPH_H

#include <stddef.h>

#include "core/err.h"
#include "nn/op.h"
#include "nn/ops/ops.h"
#include "nn/tensor.h"

#define FM_MAX_IO 16

typedef struct {
    char *name;
    fm_shape shape;
    int producer;    /* node index, -1 for a graph input */
    int consumers;   /* nodes that read it, as written */
    int last_use;    /* last node (after folding) that reads it, -1 none */
    int is_output;
    int buffer;      /* planned buffer, -1 for none, -2 handed over to an in-place output */
    int handed_to;   /* with buffer -2: the node whose output took the buffer over */
    float *constant; /* owned data of a constant value (PriorBox) */
    fm_tensor t;     /* where the value lives once planned */
} fm_value;

typedef struct fm_node {
    fm_layer_kind kind;
    char *name;
    char *type; /* as the file wrote it; after a fold, e.g. "Convolution+BatchNorm+Scale+ReLU" */
    int line;   /* prototxt line, 0 where the format has none */
    int nin;
    int in[FM_MAX_IO];
    int out;
    int skip;     /* folded into another node */
    int constant; /* output computed once at build */
    fm_activation act; /* fused activation */
    /* parameters, by kind */
    fm_conv_param conv;
    fm_pool_param pool;
    fm_eltwise_param eltwise;
    float coeff[FM_MAX_IO];
    int axis, end_axis;
    int dims[FM_MAX_DIMS], ndims; /* reshape dims, permute order */
    int flatten;                  /* RESHAPE: Caffe Flatten over [axis, end_axis] */
    fm_normalize_param norm;
    fm_priorbox_param prior;
    fm_detout_param det;
    fm_ip_param ip;
    fm_resize_param resize;
    /* FM_LAYER_CONV_DW (net.c folds a 1x1 convolution and the depthwise 3x3 after it):
     * conv/w/b are the 1x1's, conv2/w2/b2 the depthwise's; act is the depthwise's */
    fm_conv_param conv2;
    float *w2, *b2;
    size_t nw2, nb2;
    /* weights (owned) */
    float *w; /* conv / ip weights; affine scale; normalize scale */
    float *b; /* bias / shift */
    size_t nw, nb;
    /* prepared state (owned) */
    fm_conv_plan *plan;
    fm_pwdw_plan *pwdw_plan;
    double ms; /* time of the last forward, when profiling */
} fm_node;

typedef struct fm_graph {
    fm_node *nodes;
    int nnodes, cap_nodes;
    fm_value *values;
    int nvalues, cap_values;
    int ninputs;
    int inputs[FM_MAX_IO];
    int noutputs; /* 0: the values no node reads, in order; else as the importer set them */
    int outputs[FM_MAX_IO];
    char source[256]; /* the file it came from, for messages */
} fm_graph;

fm_graph *fm_graph_create(const char *source);
void fm_graph_free(fm_graph *g);

/* A new value (producer -1 for an input); returns its id or -1 (out of memory). */
int fm_graph_add_value(fm_graph *g, const char *name, int producer, fm_err *err);
/* A graph input of that shape; its id, or -1. */
int fm_graph_add_input(fm_graph *g, const char *name, fm_shape shape, fm_err *err);
/* The latest value of that name, or -1. */
int fm_graph_find_value(const fm_graph *g, const char *name);
/* Appends a node (zeroed but for kind, name, type); NULL when out of memory. The
 * pointer is valid until the next fm_graph_add_node. */
fm_node *fm_graph_add_node(fm_graph *g, fm_layer_kind kind, const char *name, const char *type,
                           fm_err *err);
/* Connects node n (the last one added) to its input values and a new output value
 * named out_name. The output's shape is left for fm_graph_infer. */
fm_status fm_graph_connect(fm_graph *g, fm_node *n, const int *in, int nin, const char *out_name,
                           fm_err *err);
/* Runs node n's shape rule (op.h): sets its output shape from its inputs' shapes and
 * parameters. The message says what disagrees; the importer prefixes where (file,
 * line, node name). Weights are the importer's to check against the format. */
fm_status fm_graph_infer(fm_graph *g, fm_node *n, fm_err *err);
/* Marks value id as a graph output (the importer's declared outputs). */
fm_status fm_graph_add_output(fm_graph *g, int id, fm_err *err);

/* The index of n in g->nodes. */
static inline int fm_graph_node_index(const fm_graph *g, const fm_node *n)
{
    return (int)(n - g->nodes);
}

#endif
