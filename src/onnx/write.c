/* write.c - an ONNX model re-encoded with new initializer data (see write.h).
 *
 * The source ModelProto is walked with pbwire's reader, field by field, and copied to a
 * pbwire writer: every field verbatim (tag and payload bytes as they were), except the path
 * to an updated tensor, ModelProto.graph (7) -> GraphProto.initializer (5), whose messages
 * are re-encoded because their lengths may change. Inside an updated TensorProto the first
 * data field (raw_data 9 or float_data 4) becomes raw_data with the new values and any
 * other data field is dropped; the rest is kept. Field numbers: onnx/onnx.proto, as in
 * onnx_proto.c.
 */
#include "onnx/write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/file.h"
#include "core/pbwire.h"

enum {
    MODEL_GRAPH = 7,
    GRAPH_INITIALIZER = 5,
    TENSOR_FLOAT_DATA = 4,
    TENSOR_NAME = 8,
    TENSOR_RAW_DATA = 9
};

typedef struct {
    const fm_onnx_update *u;
    const fm_onnx_update **sorted; /* the updates sorted by name */
    int nu;
} update_index;

static int cmp_update(const void *a, const void *b)
{
    const fm_onnx_update *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* The update for a tensor named name[0, len), or NULL. */
static const fm_onnx_update *find_update(const update_index *ix, const char *name, size_t len)
{
    int lo = 0, hi = ix->nu - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const char *s = ix->sorted[mid]->name;
        size_t sl = strlen(s);
        int c = memcmp(s, name, sl < len ? sl : len);
        if (c == 0)
            c = sl < len ? -1 : sl > len ? 1 : 0;
        if (c == 0)
            return ix->sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

static fm_status nomem(fm_err *err, const char *src)
{
    return fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory re-encoding the model", src);
}

/* The bytes of the field just read (tag to end of payload), verbatim. */
static void copy_field(fm_pb_writer *w, const fm_pb_reader *r, const fm_pb_field *f)
{
    fm_pb_put_raw(w, r->buf + f->offset, r->pos - f->offset);
}

/* A LEN field whose payload is another writer's bytes. */
static void put_message(fm_pb_writer *w, uint32_t field, const fm_pb_writer *payload)
{
    fm_pb_put_len_header(w, field, payload->len);
    fm_pb_put_raw(w, payload->data, payload->len);
}

/* The name field of a TensorProto payload: *name (not NUL-terminated) and *len; "" if none. */
static fm_status tensor_name(const fm_pb_field *tf, const char **name, size_t *len, fm_err *err)
{
    fm_pb_reader r = fm_pb_sub(tf);
    *name = "";
    *len = 0;
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        fm_status st = fm_pb_next(&r, &f, err);
        if (st != FM_OK)
            return st;
        if (f.field == TENSOR_NAME && f.wire == FM_PB_LEN) {
            *name = (const char *)f.buf + f.data_offset;
            *len = f.len;
        }
    }
    return FM_OK;
}

static fm_status rewrite_tensor(const fm_pb_field *tf, const fm_onnx_update *u, fm_pb_writer *w,
                                fm_err *err)
{
    fm_pb_reader r = fm_pb_sub(tf);
    int wrote = 0;
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        fm_status st = fm_pb_next(&r, &f, err);
        if (st != FM_OK)
            return st;
        if (f.field == TENSOR_RAW_DATA || f.field == TENSOR_FLOAT_DATA) {
            if (!wrote)
                fm_pb_put_packed_floats(w, TENSOR_RAW_DATA, u->data, u->count);
            wrote = 1;
            continue;
        }
        copy_field(w, &r, &f);
    }
    if (!wrote)
        fm_pb_put_packed_floats(w, TENSOR_RAW_DATA, u->data, u->count);
    return FM_OK;
}

static fm_status rewrite_graph(const fm_pb_field *gf, const update_index *ix, fm_pb_writer *w,
                               fm_err *err)
{
    fm_pb_reader r = fm_pb_sub(gf);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        fm_status st = fm_pb_next(&r, &f, err);
        if (st != FM_OK)
            return st;
        const fm_onnx_update *u = NULL;
        if (f.field == GRAPH_INITIALIZER && f.wire == FM_PB_LEN) {
            const char *name;
            size_t len;
            if ((st = tensor_name(&f, &name, &len, err)) != FM_OK)
                return st;
            u = find_update(ix, name, len);
        }
        if (!u) {
            copy_field(w, &r, &f);
            continue;
        }
        fm_pb_writer t;
        fm_pb_writer_init(&t);
        st = rewrite_tensor(&f, u, &t, err);
        if (st == FM_OK && t.status == FM_OK)
            put_message(w, GRAPH_INITIALIZER, &t);
        else if (st == FM_OK)
            w->status = t.status;
        fm_pb_writer_free(&t);
        if (st != FM_OK)
            return st;
    }
    return FM_OK;
}

static fm_status rewrite_model(const uint8_t *src, size_t len, const update_index *ix,
                               fm_pb_writer *w, fm_err *err)
{
    fm_pb_reader r;
    fm_pb_reader_init(&r, src, len);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        fm_status st = fm_pb_next(&r, &f, err);
        if (st != FM_OK)
            return st;
        if (f.field != MODEL_GRAPH || f.wire != FM_PB_LEN) {
            copy_field(w, &r, &f);
            continue;
        }
        fm_pb_writer g;
        fm_pb_writer_init(&g);
        st = rewrite_graph(&f, ix, &g, err);
        if (st == FM_OK && g.status == FM_OK)
            put_message(w, MODEL_GRAPH, &g);
        else if (st == FM_OK)
            w->status = g.status;
        fm_pb_writer_free(&g);
        if (st != FM_OK)
            return st;
    }
    return FM_OK;
}

/* Every update names a distinct FLOAT initializer of m, with its count and finite values. */
static fm_status check_updates(const fm_onnx_model *m, const char *src, const update_index *ix,
                               fm_err *err)
{
    for (int k = 0; k < ix->nu; k++) {
        const fm_onnx_update *u = ix->sorted[k];
        if (k > 0 && strcmp(ix->sorted[k - 1]->name, u->name) == 0)
            return fm_err_set(err, FM_ERR_ARG,
                              "%s: initializer '%s' is given new values twice (shared by two "
                              "nodes?)",
                              src, u->name);
        const fm_onnx_tensor *t = fm_onnx_initializer(m, u->name);
        if (!t)
            return fm_err_set(err, FM_ERR_ARG, "%s: no initializer named '%s'", src, u->name);
        if (t->data_type != FM_ONNX_DT_FLOAT)
            return fm_err_set(err, FM_ERR_ARG, "%s: initializer '%s' is %s, expected FLOAT", src,
                              u->name, fm_onnx_dtype_name(t->data_type));
        if (t->count != u->count)
            return fm_err_set(err, FM_ERR_ARG,
                              "%s: initializer '%s' holds %zu values, the update %zu", src,
                              u->name, t->count, u->count);
        for (size_t i = 0; i < u->count; i++)
            if (!isfinite(u->data[i]))
                return fm_err_set(err, FM_ERR_ARG,
                                  "%s: new value %zu of initializer '%s' is not finite (%g)", src,
                                  i, u->name, (double)u->data[i]);
    }
    return FM_OK;
}

/* The re-encoded file parses, has the source's nodes and initializers, and reads each update
 * back bit for bit. A failure here is a bug in this file, reported as such. */
static fm_status verify(const uint8_t *buf, size_t len, const fm_onnx_model *src_m,
                        const char *src, const update_index *ix, fm_err *err)
{
    fm_err e2 = {0};
    fm_onnx_model *m = fm_onnx_parse(buf, len, src, &e2);
    if (!m)
        return fm_err_set(err, FM_ERR_FORMAT, "re-encoded model does not parse: %s", e2.msg);
    fm_status st = FM_OK;
    if (m->graph.nnodes != src_m->graph.nnodes ||
        m->graph.ninitializers != src_m->graph.ninitializers)
        st = fm_err_set(err, FM_ERR_FORMAT,
                        "%s: re-encoded model has %d nodes and %d initializers, the source %d "
                        "and %d",
                        src, m->graph.nnodes, m->graph.ninitializers, src_m->graph.nnodes,
                        src_m->graph.ninitializers);
    for (int k = 0; k < ix->nu && st == FM_OK; k++) {
        const fm_onnx_update *u = &ix->u[k];
        const fm_onnx_tensor *t = fm_onnx_initializer(m, u->name);
        if (!t || t->count != u->count ||
            (u->count && (!t->f || memcmp(t->f, u->data, u->count * sizeof(float)) != 0)))
            st = fm_err_set(err, FM_ERR_FORMAT,
                            "%s: initializer '%s' does not read back as written", src, u->name);
    }
    fm_onnx_free(m);
    return st;
}

fm_status fm_onnx_rewrite(const uint8_t *src, size_t len, const char *src_name,
                          const fm_onnx_update *u, int nu, uint8_t **out, size_t *out_len,
                          fm_err *err)
{
    const char *name = src_name ? src_name : "onnx";
    *out = NULL;
    *out_len = 0;
    if (!src || nu < 0 || (nu > 0 && !u))
        return fm_err_set(err, FM_ERR_ARG, "fm_onnx_rewrite: a model buffer and updates are "
                                           "required");
    for (int k = 0; k < nu; k++)
        if (!u[k].name || (u[k].count && !u[k].data))
            return fm_err_set(err, FM_ERR_ARG, "fm_onnx_rewrite: update %d has no name or no data",
                              k);
    fm_onnx_model *m = fm_onnx_parse(src, len, name, err);
    if (!m)
        return err ? err->status : FM_ERR_FORMAT;
    update_index ix = {u, malloc((size_t)(nu > 0 ? nu : 1) * sizeof(*ix.sorted)), nu};
    if (!ix.sorted) {
        fm_onnx_free(m);
        return nomem(err, name);
    }
    for (int k = 0; k < nu; k++)
        ix.sorted[k] = &u[k];
    qsort(ix.sorted, (size_t)nu, sizeof(*ix.sorted), cmp_update);
    fm_status st = check_updates(m, name, &ix, err);
    fm_pb_writer w;
    fm_pb_writer_init(&w);
    if (st == FM_OK && fm_pb_reserve(&w, len) != FM_OK)
        st = nomem(err, name);
    if (st == FM_OK) {
        fm_err werr = {0};
        st = rewrite_model(src, len, &ix, &w, &werr);
        if (st != FM_OK) /* the source parsed, so this is out of memory or a bug */
            fm_err_set(err, st, "%s: %s", name, werr.msg);
        else if (w.status != FM_OK)
            st = nomem(err, name);
    }
    if (st == FM_OK)
        st = verify(w.data, w.len, m, name, &ix, err);
    free(ix.sorted);
    fm_onnx_free(m);
    if (st != FM_OK) {
        fm_pb_writer_free(&w);
        return st;
    }
    *out = w.data;
    *out_len = w.len;
    return FM_OK;
}

/* ---- a net's convolutions ----------------------------------------------------------------- */

static int is_conv_node(const fm_onnx_node *n)
{
    return strcmp(n->op_type, "Conv") == 0 && (!n->domain[0] || strcmp(n->domain, "ai.onnx") == 0);
}

/* The initializer an input of a Conv node names: NULL with err set when it is not one. */
static const fm_onnx_tensor *conv_init(const fm_onnx_model *m, const fm_onnx_node *n, int k,
                                       const char *what, fm_err *err)
{
    const fm_onnx_tensor *t = fm_onnx_initializer(m, n->inputs[k]);
    if (!t)
        fm_err_set(err, FM_ERR_UNSUPPORTED,
                   "node '%s' (Conv): %s '%s' is not an initializer (a Constant node?); only "
                   "initializers can be updated",
                   n->name, what, n->inputs[k]);
    return t;
}

fm_status fm_onnx_net_updates(const fm_onnx_model *m, fm_net *net, fm_onnx_update **u, int *nu,
                              fm_err *err)
{
    *u = NULL;
    *nu = 0;
    int nconv = 0, nlayers = fm_net_num_layers(net);
    for (int i = 0; i < m->graph.nnodes; i++)
        nconv += is_conv_node(&m->graph.nodes[i]);
    fm_onnx_update *list = malloc((size_t)(2 * nconv + 1) * sizeof *list);
    if (!list)
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory listing the model's weights");
    int count = 0, layer = 0;
    fm_status st = FM_OK;
    for (int i = 0; i < m->graph.nnodes && st == FM_OK; i++) {
        const fm_onnx_node *n = &m->graph.nodes[i];
        if (!is_conv_node(n))
            continue;
        fm_layer_info info;
        int found = 0;
        for (; layer < nlayers && !found; layer++) {
            fm_net_layer_info(net, layer, &info);
            if (info.kind == FM_LAYER_CONV_DW) {
                st = fm_err_set(err, FM_ERR_ARG,
                                "layer '%s' (%s) merges two convolutions (a net built with "
                                "fuse_pw_dw); build the net without it to save its weights",
                                info.name, info.type);
                break;
            }
            found = info.kind == FM_LAYER_CONV;
        }
        if (st != FM_OK)
            break;
        if (!found) {
            st = fm_err_set(err, FM_ERR_ARG,
                            "node '%s' (Conv) has no convolution layer in the net: the net was "
                            "not built from this model",
                            n->name);
            break;
        }
        if (strcmp(info.name, n->name) != 0) {
            st = fm_err_set(err, FM_ERR_ARG,
                            "node '%s' (Conv) pairs with the net's layer '%s': the net was not "
                            "built from this model",
                            n->name, info.name);
            break;
        }
        if (!info.w) {
            st = fm_err_set(err, FM_ERR_ARG,
                            "layer '%s' has no plain weights (a net built with release_weights)",
                            info.name);
            break;
        }
        const fm_onnx_tensor *w = n->ninputs > 1 ? conv_init(m, n, 1, "weight", err) : NULL;
        if (!w) {
            if (n->ninputs <= 1)
                fm_err_set(err, FM_ERR_FORMAT, "node '%s' (Conv) has no weight input", n->name);
            st = err ? err->status : FM_ERR_FORMAT;
            break;
        }
        if (w->count != info.nw) {
            st = fm_err_set(err, FM_ERR_ARG,
                            "node '%s' (Conv): weight '%s' holds %zu values, the net's layer %zu: "
                            "the net was not built from this model",
                            n->name, w->name, w->count, info.nw);
            break;
        }
        list[count++] = (fm_onnx_update){w->name, info.w, info.nw};
        int has_bias = n->ninputs > 2 && n->inputs[2][0];
        if (has_bias) {
            const fm_onnx_tensor *b = conv_init(m, n, 2, "bias", err);
            if (!b) {
                st = err ? err->status : FM_ERR_UNSUPPORTED;
                break;
            }
            if (b->count != info.nb || !info.b) {
                st = fm_err_set(err, FM_ERR_ARG,
                                "node '%s' (Conv): bias '%s' holds %zu values, the net's layer "
                                "%zu: the net was not built from this model",
                                n->name, b->name, b->count, info.nb);
                break;
            }
            list[count++] = (fm_onnx_update){b->name, info.b, info.nb};
        } else {
            for (size_t k = 0; k < info.nb && info.b; k++)
                if (info.b[k] != 0.0f) {
                    st = fm_err_set(err, FM_ERR_UNSUPPORTED,
                                    "node '%s' (Conv) has no bias in the file, but the net's "
                                    "bias %zu is %g; the file has nowhere to keep it",
                                    n->name, k, (double)info.b[k]);
                    break;
                }
        }
    }
    for (; st == FM_OK && layer < nlayers; layer++) {
        fm_layer_info info;
        fm_net_layer_info(net, layer, &info);
        if (info.kind == FM_LAYER_CONV || info.kind == FM_LAYER_CONV_DW)
            st = fm_err_set(err, FM_ERR_ARG,
                            "the net's layer '%s' (%s) has no Conv node in the model: the net "
                            "was not built from this model",
                            info.name, info.type);
    }
    if (st != FM_OK) {
        free(list);
        return st;
    }
    *u = list;
    *nu = count;
    return FM_OK;
}

fm_status fm_onnx_save_net(const char *src_path, fm_net *net, const char *out_path,
                           int overwrite, fm_err *err)
{
    if (!src_path || !net || !out_path)
        return fm_err_set(err, FM_ERR_ARG, "fm_onnx_save_net: source, net and output are "
                                           "required");
    struct stat ss, os;
    if (stat(src_path, &ss) == 0 && stat(out_path, &os) == 0 && ss.st_dev == os.st_dev &&
        ss.st_ino == os.st_ino)
        return fm_err_set(err, FM_ERR_ARG, "%s: is the source model %s itself; refusing to "
                                           "write over it",
                          out_path, src_path);
    unsigned char *buf;
    size_t len;
    fm_status st = fm_read_file(src_path, FM_ONNX_MAX_BYTES, "an ONNX model", &buf, &len, err);
    if (st != FM_OK)
        return st;
    fm_onnx_model *m = fm_onnx_parse(buf, len, src_path, err);
    if (!m) {
        free(buf);
        return err ? err->status : FM_ERR_FORMAT;
    }
    fm_onnx_update *u = NULL;
    int nu = 0;
    uint8_t *out = NULL;
    size_t out_len = 0;
    st = fm_onnx_net_updates(m, net, &u, &nu, err);
    if (st != FM_OK)
        fm_err_prefix(err, "%s: ", src_path);
    else
        st = fm_onnx_rewrite(buf, len, src_path, u, nu, &out, &out_len, err);
    if (st == FM_OK)
        st = fm_write_file(out_path, out, out_len, overwrite, err);
    free(out);
    free(u);
    fm_onnx_free(m);
    free(buf);
    return st;
}
