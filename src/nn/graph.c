/* graph.c - building the in-memory graph (see graph.h). */
#include "nn/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fm_status nomem(fm_err *err)
{
    return fm_err_set(err, FM_ERR_NOMEM, "out of memory while building the network");
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

fm_graph *fm_graph_create(const char *source)
{
    fm_graph *g = calloc(1, sizeof *g);
    if (g)
        snprintf(g->source, sizeof g->source, "%s", source ? source : "");
    return g;
}

void fm_graph_free(fm_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nnodes; i++) {
        fm_node *n = &g->nodes[i];
        free(n->name);
        free(n->type);
        free(n->w);
        free(n->b);
        fm_conv_plan_free(n->plan);
        free(n->w2);
        free(n->b2);
        fm_pwdw_plan_free(n->pwdw_plan);
    }
    for (int v = 0; v < g->nvalues; v++) {
        free(g->values[v].name);
        free(g->values[v].constant);
    }
    free(g->nodes);
    free(g->values);
    free(g);
}

int fm_graph_add_value(fm_graph *g, const char *name, int producer, fm_err *err)
{
    if (g->nvalues == g->cap_values) {
        int cap = g->cap_values ? g->cap_values * 2 : 64;
        fm_value *v = realloc(g->values, (size_t)cap * sizeof *v);
        if (!v) {
            nomem(err);
            return -1;
        }
        g->values = v;
        g->cap_values = cap;
    }
    fm_value *v = &g->values[g->nvalues];
    memset(v, 0, sizeof *v);
    v->name = dup_str(name);
    if (!v->name) {
        nomem(err);
        return -1;
    }
    v->producer = producer;
    v->last_use = -1;
    v->buffer = -1;
    return g->nvalues++;
}

int fm_graph_add_input(fm_graph *g, const char *name, fm_shape shape, fm_err *err)
{
    if (g->ninputs == FM_MAX_IO) {
        fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: more than %d inputs", g->source, FM_MAX_IO);
        return -1;
    }
    int v = fm_graph_add_value(g, name, -1, err);
    if (v < 0)
        return -1;
    g->values[v].shape = shape;
    g->inputs[g->ninputs++] = v;
    return v;
}

int fm_graph_find_value(const fm_graph *g, const char *name)
{
    for (int i = g->nvalues - 1; i >= 0; i--)
        if (strcmp(g->values[i].name, name) == 0)
            return i;
    return -1;
}

fm_node *fm_graph_add_node(fm_graph *g, fm_layer_kind kind, const char *name, const char *type,
                           fm_err *err)
{
    if (g->nnodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        fm_node *l = realloc(g->nodes, (size_t)cap * sizeof *l);
        if (!l) {
            nomem(err);
            return NULL;
        }
        g->nodes = l;
        g->cap_nodes = cap;
    }
    fm_node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->out = -1;
    n->name = dup_str(name);
    n->type = dup_str(type);
    g->nnodes++; /* counted even when a string failed, so fm_graph_free releases the other */
    if (!n->name || !n->type) {
        nomem(err);
        return NULL;
    }
    return n;
}

fm_status fm_graph_connect(fm_graph *g, fm_node *n, const int *in, int nin, const char *out_name,
                           fm_err *err)
{
    if (nin > FM_MAX_IO)
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "node '%s' (%s): more than %d inputs", n->name,
                          n->type, FM_MAX_IO);
    int idx = fm_graph_node_index(g, n);
    for (int k = 0; k < nin; k++) {
        n->in[k] = in[k];
        g->values[in[k]].consumers++;
    }
    n->nin = nin;
    int ov = fm_graph_add_value(g, out_name, idx, err);
    if (ov < 0)
        return FM_ERR_NOMEM;
    g->nodes[idx].out = ov;
    return FM_OK;
}

fm_status fm_graph_infer(fm_graph *g, fm_node *n, fm_err *err)
{
    const fm_op_def *op = fm_op_get(n->kind);
    if (!op)
        return fm_err_set(err, FM_ERR_ARG, "node '%s': unknown op %d", n->name, (int)n->kind);
    fm_status st = op->shape(g, n, err);
    if (st != FM_OK)
        return st;
    if (fm_shape_count(&g->values[n->out].shape) == 0)
        return fm_err_set(err, FM_ERR_SHAPE, "empty output shape");
    return FM_OK;
}

fm_status fm_graph_add_output(fm_graph *g, int id, fm_err *err)
{
    if (g->noutputs == FM_MAX_IO)
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: more than %d outputs", g->source,
                          FM_MAX_IO);
    g->outputs[g->noutputs++] = id;
    g->values[id].is_output = 1;
    return FM_OK;
}
