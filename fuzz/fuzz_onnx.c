/* libFuzzer target for the .onnx reader and importer: parse; whatever parses must
 * keep the header's promises (caps, NUL-free names, counts equal to the product of
 * dims, data present for the decoded types, lookups that find every initializer and
 * attribute, memory within the stated bound), and every failure must carry a message
 * that starts with the file name. A model that parses is then imported into the
 * engine's graph at a 1x3x32x32 input, built (at most 64 MB of activations) and run
 * once: every refusal is a message naming the file, every accepted graph runs. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "onnx/onnx.h"
#include "onnx/onnx_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *s)
{
    if (!s)
        __builtin_trap();
    (void)strlen(s);
}

static void check_tensor(const fm_onnx_tensor *t)
{
    check_name(t->name);
    if (t->ndims < 0 || t->ndims > FM_ONNX_MAX_DIMS)
        __builtin_trap();
    size_t count = 1;
    for (int i = 0; i < t->ndims; i++) {
        if (t->dims[i] < 0)
            __builtin_trap();
        count *= (size_t)t->dims[i]; /* the reader checked it does not overflow */
    }
    if (count != t->count)
        __builtin_trap();
    int dt = t->data_type;
    if (dt == FM_ONNX_DT_FLOAT) {
        if ((t->count > 0) != (t->f != NULL) || t->i64)
            __builtin_trap();
    } else if (dt == FM_ONNX_DT_INT64 || dt == FM_ONNX_DT_INT32) {
        if ((t->count > 0) != (t->i64 != NULL) || t->f)
            __builtin_trap();
    } else if (t->f || t->i64) {
        __builtin_trap();
    }
    volatile double sum = 0; /* touch every value so ASan sees the whole array */
    for (size_t i = 0; t->f && i < t->count; i++)
        sum += t->f[i];
    for (size_t i = 0; t->i64 && i < t->count; i++)
        sum += (double)t->i64[i];
    (void)sum;
}

static void check_value(const fm_onnx_value *v)
{
    check_name(v->name);
    if (!v->name[0] || v->ndims < 0 || v->ndims > FM_ONNX_MAX_DIMS || (!v->has_shape && v->ndims))
        __builtin_trap();
    for (int i = 0; i < v->ndims; i++)
        if (v->dims[i] < -1)
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_err err = {0};
    fm_onnx_model *m = fm_onnx_parse(data, size, "fuzz.onnx", &err);
    if (!m) {
        if (err.status == FM_OK || strncmp(err.msg, "fuzz.onnx: ", 11) != 0)
            __builtin_trap(); /* every failure carries a message naming the file */
        return 0;
    }
    const fm_onnx_graph *g = &m->graph;
    check_name(m->producer_name);
    check_name(m->producer_version);
    check_name(g->name);
    if (m->nopsets < 1 || m->nopsets > FM_ONNX_MAX_OPSETS || g->nnodes > FM_ONNX_MAX_NODES ||
        g->ninitializers > FM_ONNX_MAX_INITIALIZERS || g->ninputs > FM_ONNX_MAX_VALUES ||
        g->noutputs > FM_ONNX_MAX_VALUES)
        __builtin_trap();
    for (int i = 0; i < m->nopsets; i++)
        check_name(m->opsets[i].domain);
    for (int i = 0; i < g->nnodes; i++) {
        const fm_onnx_node *n = &g->nodes[i];
        check_name(n->name);
        check_name(n->domain);
        if (!n->op_type || !n->op_type[0] || n->ninputs > FM_ONNX_MAX_NODE_IO ||
            n->noutputs > FM_ONNX_MAX_NODE_IO || n->nattrs > FM_ONNX_MAX_ATTRS)
            __builtin_trap();
        for (int k = 0; k < n->ninputs; k++) {
            check_name(n->inputs[k]);
            (void)fm_onnx_initializer(m, n->inputs[k]);
        }
        for (int k = 0; k < n->noutputs; k++)
            check_name(n->outputs[k]);
        for (int k = 0; k < n->nattrs; k++) {
            const fm_onnx_attr *a = &n->attrs[k];
            check_name(a->name);
            if (!a->name[0])
                __builtin_trap();
            const fm_onnx_attr *found = fm_onnx_node_attr(n, a->name);
            if (!found || found > a || strcmp(found->name, a->name) != 0)
                __builtin_trap(); /* the first with that name */
            if (!a->s.s || a->s.s[a->s.len] != '\0')
                __builtin_trap();
            volatile double sum = 0;
            for (size_t j = 0; j < a->nfloats; j++)
                sum += a->floats[j];
            for (size_t j = 0; j < a->nints; j++)
                sum += (double)a->ints[j];
            for (size_t j = 0; j < a->nstrings; j++)
                if (a->strings[j].s[a->strings[j].len] != '\0')
                    __builtin_trap();
            (void)sum;
            if (a->t)
                check_tensor(a->t);
            (void)fm_onnx_attr_type_name(a->type);
        }
    }
    for (int i = 0; i < g->ninitializers; i++) {
        const fm_onnx_tensor *t = &g->initializers[i];
        check_tensor(t);
        if (!t->name[0] || fm_onnx_initializer(m, t->name) != t)
            __builtin_trap(); /* names are distinct, and each is found */
        (void)fm_onnx_dtype_name(t->data_type);
    }
    for (int i = 0; i < g->ninputs; i++)
        check_value(&g->inputs[i]);
    for (int i = 0; i < g->noutputs; i++)
        check_value(&g->outputs[i]);
    if (fm_onnx_model_bytes(m) > (size_t)FM_ONNX_MEM_FACTOR * size + FM_ONNX_MEM_SLACK + 4096)
        __builtin_trap(); /* the stated bound (+ the model and bookkeeping structs) */

    fm_net_opts o = fm_net_default_opts();
    o.input_shape = fm_shape4(1, 3, 32, 32);
    o.max_memory = (size_t)64 << 20;
    fm_err berr = {0};
    fm_net *net = fm_onnx_build_net(m, "fuzz.onnx", &o, &berr);
    if (!net) {
        if (berr.status == FM_OK || strncmp(berr.msg, "fuzz.onnx: ", 11) != 0)
            __builtin_trap();
    } else {
        fm_tensor *in = fm_net_input(net, 0);
        for (size_t i = 0; i < fm_shape_count(&in->shape); i++)
            in->data[i] = (float)(i % 251) - 125.0f;
        if (fm_net_forward(net, &berr) != FM_OK)
            __builtin_trap();
        for (int k = 0; k < fm_net_num_outputs(net); k++) {
            const fm_tensor *out = fm_net_output(net, k);
            volatile float s = 0;
            for (size_t i = 0; i < fm_shape_count(&out->shape); i++)
                s += out->data[i];
            (void)s;
        }
        fm_net_free(net);
    }
    fm_onnx_free(m);
    return 0;
}
