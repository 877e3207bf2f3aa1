/* Tests for src/onnx/onnx_proto: both shared YuNet files checked against
 * counts and values taken with an independent protobuf decoder; hand-built
 * models (pbwire's writer) for every data form, attribute type, unknown
 * fields and symbolic dims; every error path with its message; truncation at
 * every offset of a small model and at ~100 offsets of the real one; random
 * corruption; and the memory bound against amplifying files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pbwire.h"
#include "onnx/onnx_proto.h"
#include "test.h"

typedef fm_pb_writer W;

/* ---- building models ---- */

static void w_str(W *w, uint32_t field, const char *s)
{
    fm_pb_put_bytes_field(w, field, s, strlen(s));
}

static void w_int(W *w, uint32_t field, int64_t v)
{
    fm_pb_put_uint_field(w, field, (uint64_t)v);
}

static void w_f32(W *w, uint32_t field, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    fm_pb_put_tag(w, field, FM_PB_I32);
    fm_pb_put_fixed32(w, u);
}

/* Appends sub as a LEN field and frees it. */
static void w_msg(W *w, uint32_t field, W *sub)
{
    fm_pb_put_bytes_field(w, field, sub->data, sub->len);
    fm_pb_writer_free(sub);
}

static W wnew(void)
{
    W w;
    fm_pb_writer_init(&w);
    return w;
}

/* A ModelProto around `graph` (freed): ir_version 7, producer, opset "" 13 last. */
static W model_of(W *graph)
{
    W m = wnew(), op = wnew();
    w_int(&m, 1, 7);
    w_str(&m, 2, "facemask-test");
    w_msg(&m, 7, graph);
    w_str(&op, 1, "");
    w_int(&op, 2, 13);
    w_msg(&m, 8, &op);
    return m;
}

/* A ValueInfoProto: FLOAT tensor with dims (-1 written as dim_param "N"). */
static W value_info(const char *name, const int64_t *dims, int nd)
{
    W v = wnew(), t = wnew(), tt = wnew(), sh = wnew();
    for (int i = 0; i < nd; i++) {
        W d = wnew();
        if (dims[i] < 0)
            w_str(&d, 2, "N");
        else
            w_int(&d, 1, dims[i]);
        w_msg(&sh, 1, &d);
    }
    w_int(&tt, 1, FM_ONNX_DT_FLOAT);
    w_msg(&tt, 2, &sh);
    w_msg(&t, 1, &tt);
    w_str(&v, 1, name);
    w_msg(&v, 2, &t);
    return v;
}

/* A float tensor with raw_data. */
static W tensor_raw(const char *name, const int64_t *dims, int nd, const float *v, size_t n)
{
    W t = wnew();
    for (int i = 0; i < nd; i++)
        w_int(&t, 1, dims[i]);
    w_int(&t, 2, FM_ONNX_DT_FLOAT);
    w_str(&t, 8, name);
    uint8_t *raw = malloc(4 * n + 1);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int b = 0; b < 4; b++)
            raw[4 * i + (size_t)b] = (uint8_t)(u >> (8 * b));
    }
    fm_pb_put_bytes_field(&t, 9, raw, 4 * n);
    free(raw);
    return t;
}

/* A one-node graph (Relu x -> y, name "relu1") with `init` (freed, may be NULL) as initializer. */
static W graph_with_init(W *init)
{
    W g = wnew(), n = wnew();
    w_str(&n, 1, "x");
    w_str(&n, 2, "y");
    w_str(&n, 3, "relu1");
    w_str(&n, 4, "Relu");
    w_msg(&g, 1, &n);
    w_str(&g, 2, "g");
    if (init)
        w_msg(&g, 5, init);
    int64_t d[2] = {1, 4};
    W vi = value_info("x", d, 2), vo = value_info("y", d, 2);
    w_msg(&g, 11, &vi);
    w_msg(&g, 12, &vo);
    return g;
}

static fm_onnx_model *parse_w(const W *w, fm_err *err)
{
    memset(err, 0, sizeof *err);
    return fm_onnx_parse(w->data, w->len, "t.onnx", err);
}

/* Parses a model whose graph holds `init` and expects failure with `status` and `needle`. */
static void expect_init_error(W init, fm_status status, const char *needle, int line)
{
    W g = graph_with_init(&init);
    W m = model_of(&g);
    fm_err err;
    fm_onnx_model *mod = parse_w(&m, &err);
    if (mod) {
        fm_test_fail(__FILE__, line, "parsed, expected an error containing \"%s\"", needle);
        fm_onnx_free(mod);
    } else {
        if (err.status != status)
            fm_test_fail(__FILE__, line, "status %s, expected %s (%s)", fm_status_str(err.status),
                         fm_status_str(status), err.msg);
        if (!strstr(err.msg, needle))
            fm_test_fail(__FILE__, line, "\"%s\" does not contain \"%s\"", err.msg, needle);
    }
    fm_pb_writer_free(&m);
}

static void expect_error(W *m, fm_status status, const char *needle, int line)
{
    fm_err err;
    fm_onnx_model *mod = parse_w(m, &err);
    if (mod) {
        fm_test_fail(__FILE__, line, "parsed, expected an error containing \"%s\"", needle);
        fm_onnx_free(mod);
    } else {
        if (err.status != status)
            fm_test_fail(__FILE__, line, "status %s, expected %s (%s)", fm_status_str(err.status),
                         fm_status_str(status), err.msg);
        if (!strstr(err.msg, needle))
            fm_test_fail(__FILE__, line, "\"%s\" does not contain \"%s\"", err.msg, needle);
    }
    fm_pb_writer_free(m);
}

static char *shared_path(const char *file)
{
    static char path[3][512];
    static int k;
    char *p = path[k++ % 3];
    snprintf(p, 512, "%s/models/yunet/%s", fm_test_shared(), file);
    return p;
}

/* ---- the shared YuNet files ---- */

static int count_op(const fm_onnx_model *m, const char *op)
{
    int n = 0;
    for (int i = 0; i < m->graph.nnodes; i++)
        n += strcmp(m->graph.nodes[i].op_type, op) == 0;
    return n;
}

static const fm_onnx_node *find_node(const fm_onnx_model *m, const char *name)
{
    for (int i = 0; i < m->graph.nnodes; i++)
        if (strcmp(m->graph.nodes[i].name, name) == 0)
            return &m->graph.nodes[i];
    return NULL;
}

static void check_ints(const fm_onnx_attr *a, const int64_t *want, size_t n, int line)
{
    if (!a) {
        fm_test_fail(__FILE__, line, "attribute missing");
        return;
    }
    if (a->type != FM_ONNX_ATTR_INTS || a->nints != n) {
        fm_test_fail(__FILE__, line, "attribute '%s': type %d, %zu ints, expected INTS with %zu",
                     a->name, a->type, a->nints, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (a->ints[i] != want[i])
            fm_test_fail(__FILE__, line, "attribute '%s'[%zu] = %lld, expected %lld", a->name, i,
                         (long long)a->ints[i], (long long)want[i]);
}

/* What both YuNet files share: opset, input, outputs, Conv_3, Reshape shapes, data forms. */
static void check_yunet_common(const fm_onnx_model *m, const char *const reshape_inits[3])
{
    FM_CHECK_INT(m->ir_version, 6);
    FM_CHECK(strcmp(m->producer_name, "pytorch") == 0);
    FM_CHECK(strcmp(m->producer_version, "1.7") == 0);
    FM_CHECK_INT(m->nopsets, 1);
    FM_CHECK(strcmp(m->opsets[0].domain, "") == 0);
    FM_CHECK_INT(m->opsets[0].version, 11);
    FM_CHECK_INT(m->opset, 11);
    FM_CHECK(strcmp(m->graph.name, "torch-jit-export") == 0);

    FM_CHECK_INT(m->graph.ninputs, 1);
    const fm_onnx_value *in = &m->graph.inputs[0];
    FM_CHECK(strcmp(in->name, "input") == 0);
    FM_CHECK_INT(in->elem_type, FM_ONNX_DT_FLOAT);
    FM_CHECK(in->has_shape);
    FM_CHECK_INT(in->ndims, 4);
    FM_CHECK(in->dims[0] == 1 && in->dims[1] == 3 && in->dims[2] == 640 && in->dims[3] == 640);

    static const char *outs[12] = {"cls_8",  "cls_16",  "cls_32",  "obj_8",  "obj_16", "obj_32",
                                   "bbox_8", "bbox_16", "bbox_32", "kps_8", "kps_16", "kps_32"};
    static const int64_t rows[3] = {6400, 1600, 400}, cols[4] = {1, 1, 4, 10};
    FM_CHECK_INT(m->graph.noutputs, 12);
    for (int i = 0; i < 12 && i < m->graph.noutputs; i++) {
        const fm_onnx_value *o = &m->graph.outputs[i];
        FM_CHECK_MSG(strcmp(o->name, outs[i]) == 0, "output %d is '%s', expected '%s'", i,
                     o->name, outs[i]);
        FM_CHECK_INT(o->elem_type, FM_ONNX_DT_FLOAT);
        FM_CHECK_INT(o->ndims, 3);
        FM_CHECK(o->dims[0] == 1 && o->dims[1] == rows[i % 3] && o->dims[2] == cols[i / 3]);
    }

    const fm_onnx_node *c3 = find_node(m, "Conv_3");
    FM_CHECK(c3 != NULL);
    if (c3) {
        FM_CHECK(strcmp(c3->op_type, "Conv") == 0 && strcmp(c3->domain, "") == 0);
        FM_CHECK_INT(c3->ninputs, 3);
        FM_CHECK_INT(c3->noutputs, 1);
        FM_CHECK_INT(c3->nattrs, 5);
        const fm_onnx_attr *grp = fm_onnx_node_attr(c3, "group");
        FM_CHECK(grp && grp->type == FM_ONNX_ATTR_INT && grp->i == 16);
        static const int64_t k33[2] = {3, 3}, p1[4] = {1, 1, 1, 1}, s1[2] = {1, 1};
        check_ints(fm_onnx_node_attr(c3, "kernel_shape"), k33, 2, __LINE__);
        check_ints(fm_onnx_node_attr(c3, "pads"), p1, 4, __LINE__);
        check_ints(fm_onnx_node_attr(c3, "strides"), s1, 2, __LINE__);
        check_ints(fm_onnx_node_attr(c3, "dilations"), s1, 2, __LINE__);
        FM_CHECK(fm_onnx_node_attr(c3, "auto_pad") == NULL);
        const fm_onnx_tensor *w = fm_onnx_initializer(m, c3->inputs[1]);
        FM_CHECK(w != NULL);
        if (w) {
            FM_CHECK_INT(w->data_type, FM_ONNX_DT_FLOAT);
            FM_CHECK_INT(w->ndims, 4);
            FM_CHECK(w->dims[0] == 16 && w->dims[1] == 1 && w->dims[2] == 3 && w->dims[3] == 3);
            FM_CHECK_INT(w->count, 144);
            FM_CHECK(w->f != NULL && w->i64 == NULL);
        }
    }

    /* Every Conv's weight is a FLOAT initializer whose count is the product of its dims. */
    for (int i = 0; i < m->graph.nnodes; i++) {
        const fm_onnx_node *n = &m->graph.nodes[i];
        if (strcmp(n->op_type, "Conv") != 0)
            continue;
        const fm_onnx_tensor *w = n->ninputs >= 2 ? fm_onnx_initializer(m, n->inputs[1]) : NULL;
        FM_CHECK_MSG(w && w->data_type == FM_ONNX_DT_FLOAT && w->ndims == 4 && w->f,
                     "node '%s': weight initializer missing or not 4-D FLOAT", n->name);
        if (w)
            FM_CHECK_INT(w->count,
                         (size_t)(w->dims[0] * w->dims[1] * w->dims[2] * w->dims[3]));
    }

    /* Each Reshape takes its shape from an INT64 initializer with 3 values [1, -1, C]. */
    int nreshape_int64 = 0;
    for (int i = 0; i < m->graph.nnodes; i++) {
        const fm_onnx_node *n = &m->graph.nodes[i];
        if (strcmp(n->op_type, "Reshape") != 0)
            continue;
        const fm_onnx_tensor *s = n->ninputs == 2 ? fm_onnx_initializer(m, n->inputs[1]) : NULL;
        FM_CHECK_MSG(s != NULL, "Reshape '%s' has no shape initializer", n->name);
        if (!s)
            continue;
        FM_CHECK_INT(s->data_type, FM_ONNX_DT_INT64);
        FM_CHECK_INT(s->ndims, 1);
        FM_CHECK_INT(s->dims[0], 3);
        FM_CHECK_INT(s->count, 3);
        FM_CHECK(s->i64 && s->f == NULL);
        if (s->i64)
            FM_CHECK(s->i64[0] == 1 && s->i64[1] == -1 &&
                     (s->i64[2] == 1 || s->i64[2] == 4 || s->i64[2] == 10));
        nreshape_int64++;
    }
    FM_CHECK_INT(nreshape_int64, 12);
    static const int64_t last[3] = {1, 4, 10};
    for (int k = 0; k < 3; k++) {
        const fm_onnx_tensor *s = fm_onnx_initializer(m, reshape_inits[k]);
        FM_CHECK_MSG(s && s->i64 && s->count == 3 && s->i64[2] == last[k],
                     "shape initializer '%s'", reshape_inits[k]);
    }

    /* Every initializer is found by its name, and only by it. */
    for (int i = 0; i < m->graph.ninitializers; i++)
        FM_CHECK(fm_onnx_initializer(m, m->graph.initializers[i].name) ==
                 &m->graph.initializers[i]);
    FM_CHECK(fm_onnx_initializer(m, "no such tensor") == NULL);
    FM_CHECK(fm_onnx_initializer(m, "") == NULL);
    FM_CHECK(fm_onnx_initializer(NULL, "input") == NULL);
    FM_CHECK(fm_onnx_initializer(m, NULL) == NULL);
}

static void count_inits(const fm_onnx_model *m, int *nfloat, int *nint64, size_t *floats)
{
    *nfloat = *nint64 = 0;
    *floats = 0;
    for (int i = 0; i < m->graph.ninitializers; i++) {
        const fm_onnx_tensor *t = &m->graph.initializers[i];
        if (t->data_type == FM_ONNX_DT_FLOAT) {
            (*nfloat)++;
            *floats += t->count;
        } else if (t->data_type == FM_ONNX_DT_INT64) {
            (*nint64)++;
        }
    }
}

static void test_onnx_yunet_n(void)
{
    const char *path = shared_path("yunet_n_640_640.onnx");
    fm_err err = {0};
    fm_onnx_model *m = fm_onnx_read(path, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m)
        return;
    /* Counted with an independent decoder (a few lines of Python over the raw wire format). */
    FM_CHECK_INT(m->graph.nnodes, 115);
    FM_CHECK_INT(count_op(m, "Conv"), 59);
    FM_CHECK_INT(count_op(m, "Relu"), 18);
    FM_CHECK_INT(count_op(m, "MaxPool"), 4);
    FM_CHECK_INT(count_op(m, "Resize"), 2);
    FM_CHECK_INT(count_op(m, "Add"), 2);
    FM_CHECK_INT(count_op(m, "Transpose"), 12);
    FM_CHECK_INT(count_op(m, "Reshape"), 12);
    FM_CHECK_INT(count_op(m, "Sigmoid"), 6);
    FM_CHECK_INT(m->graph.ninitializers, 124);
    int nf, ni;
    size_t floats;
    count_inits(m, &nf, &ni, &floats);
    FM_CHECK_INT(nf, 121);
    FM_CHECK_INT(ni, 3);
    FM_CHECK_INT(floats, 73848);
    static const char *const shapes[3] = {"329", "401", "434"};
    check_yunet_common(m, shapes);

    /* First and last nodes, in file order. */
    const fm_onnx_node *n0 = &m->graph.nodes[0], *nl = &m->graph.nodes[m->graph.nnodes - 1];
    FM_CHECK(strcmp(n0->name, "Conv_0") == 0 && strcmp(n0->inputs[0], "input") == 0);
    FM_CHECK(strcmp(nl->name, "Reshape_176") == 0 && strcmp(nl->outputs[0], "kps_32") == 0);

    /* Exact weights (values printed by the Python decoder; float -> double is exact). */
    const fm_onnx_tensor *w = fm_onnx_initializer(m, "462"), *b = fm_onnx_initializer(m, "463");
    FM_CHECK(w && w->count == 144 && b && b->count == 16 && b->ndims == 1);
    if (w && b) {
        FM_CHECK((double)w->f[0] == -0.08385564386844635);
        FM_CHECK((double)w->f[2] == -0.07230573892593384);
        FM_CHECK((double)b->f[1] == 1.0547575950622559);
        double sum = 0;
        for (size_t i = 0; i < w->count; i++)
            sum += w->f[i];
        FM_CHECK_NEAR(sum, 12.396260706707835, 1e-9);
    }

    /* Resize: an empty roi (dims [0]) and the scales [1,1,2,2]; string and float attributes. */
    const fm_onnx_node *rs = find_node(m, "Resize_43");
    FM_CHECK(rs && rs->ninputs == 3);
    if (rs && rs->ninputs == 3) {
        const fm_onnx_tensor *roi = fm_onnx_initializer(m, rs->inputs[1]);
        const fm_onnx_tensor *sc = fm_onnx_initializer(m, rs->inputs[2]);
        FM_CHECK(roi && roi->ndims == 1 && roi->dims[0] == 0 && roi->count == 0 && !roi->f);
        FM_CHECK(sc && sc->count == 4 && sc->f && sc->f[0] == 1.0f && sc->f[1] == 1.0f &&
                 sc->f[2] == 2.0f && sc->f[3] == 2.0f);
        const fm_onnx_attr *mode = fm_onnx_node_attr(rs, "mode");
        FM_CHECK(mode && mode->type == FM_ONNX_ATTR_STRING && mode->s.len == 7 &&
                 strcmp(mode->s.s, "nearest") == 0);
        const fm_onnx_attr *cc = fm_onnx_node_attr(rs, "cubic_coeff_a");
        FM_CHECK(cc && cc->type == FM_ONNX_ATTR_FLOAT && cc->f == -0.75f);
    }
    const fm_onnx_node *tp = find_node(m, "Transpose_87");
    static const int64_t perm[4] = {0, 2, 3, 1};
    FM_CHECK(tp != NULL);
    if (tp)
        check_ints(fm_onnx_node_attr(tp, "perm"), perm, 4, __LINE__);

    /* The whole model in memory: under 2x the file (weights dominate). */
    size_t len = 317466;
    FM_CHECK_MSG(fm_onnx_model_bytes(m) < 2 * len, "model holds %zu bytes for a %zu-byte file",
                 fm_onnx_model_bytes(m), len);
    fm_onnx_free(m);
}

static void test_onnx_yunet_2023mar(void)
{
    const char *path = shared_path("face_detection_yunet_2023mar.onnx");
    fm_err err = {0};
    fm_onnx_model *m = fm_onnx_read(path, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m)
        return;
    FM_CHECK_INT(m->graph.nnodes, 106);
    FM_CHECK_INT(count_op(m, "Conv"), 53);
    FM_CHECK_INT(count_op(m, "Relu"), 15);
    FM_CHECK_INT(count_op(m, "MaxPool"), 4);
    FM_CHECK_INT(count_op(m, "Resize"), 2);
    FM_CHECK_INT(count_op(m, "Add"), 2);
    FM_CHECK_INT(count_op(m, "Transpose"), 12);
    FM_CHECK_INT(count_op(m, "Reshape"), 12);
    FM_CHECK_INT(count_op(m, "Sigmoid"), 6);
    FM_CHECK_INT(m->graph.ninitializers, 112);
    int nf, ni;
    size_t floats;
    count_inits(m, &nf, &ni, &floats);
    FM_CHECK_INT(nf, 109);
    FM_CHECK_INT(ni, 3);
    FM_CHECK_INT(floats, 53112);
    static const char *const shapes[3] = {"290", "362", "395"};
    check_yunet_common(m, shapes);
    const fm_onnx_node *nl = &m->graph.nodes[m->graph.nnodes - 1];
    FM_CHECK(strcmp(nl->name, "Reshape_167") == 0 && strcmp(nl->outputs[0], "kps_32") == 0);
    const fm_onnx_tensor *w = fm_onnx_initializer(m, "423");
    FM_CHECK(w && w->count == 144);
    if (w) {
        FM_CHECK((double)w->f[0] == -0.8750700354576111);
        FM_CHECK((double)w->f[1] == -1.4608882665634155);
    }
    FM_CHECK(fm_onnx_model_bytes(m) < 2 * (size_t)232589);
    fm_onnx_free(m);
}

/* ---- hand-built models: data forms ---- */

static const float FVALS[6] = {1.5f, -2.25f, 0x1p-149f, 3.0e38f, -0.0f, 7.0f};

static fm_onnx_model *model_with_tensor(W init, fm_err *err, W *keep)
{
    W g = graph_with_init(&init);
    *keep = model_of(&g);
    return parse_w(keep, err);
}

static void check_fvals(const fm_onnx_tensor *t, int line)
{
    if (!t || t->count != 6 || !t->f || t->ndims != 2 || t->dims[0] != 2 || t->dims[1] != 3) {
        fm_test_fail(__FILE__, line, "tensor missing or wrong shape");
        return;
    }
    if (memcmp(t->f, FVALS, sizeof FVALS) != 0)
        fm_test_fail(__FILE__, line, "float values differ (bitwise)");
}

static void test_onnx_float_forms(void)
{
    static const int64_t d[2] = {2, 3};
    fm_err err;
    W keep;
    /* raw_data */
    fm_onnx_model *m = model_with_tensor(tensor_raw("w", d, 2, FVALS, 6), &err, &keep);
    FM_CHECK_MSG(m, "%s", err.msg);
    if (m)
        check_fvals(fm_onnx_initializer(m, "w"), __LINE__);
    fm_onnx_free(m);
    fm_pb_writer_free(&keep);

    /* float_data packed (dims packed too) */
    W t = wnew();
    fm_pb_put_packed_int64(&t, 1, d, 2);
    w_int(&t, 2, FM_ONNX_DT_FLOAT);
    fm_pb_put_packed_floats(&t, 4, FVALS, 6);
    w_str(&t, 8, "w");
    m = model_with_tensor(t, &err, &keep);
    FM_CHECK_MSG(m, "%s", err.msg);
    if (m)
        check_fvals(fm_onnx_initializer(m, "w"), __LINE__);
    fm_onnx_free(m);
    fm_pb_writer_free(&keep);

    /* float_data unpacked, one 32-bit field per value, interleaved with other fields */
    t = wnew();
    w_str(&t, 8, "w");
    w_f32(&t, 4, FVALS[0]);
    w_int(&t, 1, 2);
    w_f32(&t, 4, FVALS[1]);
    w_int(&t, 2, FM_ONNX_DT_FLOAT);
    w_f32(&t, 4, FVALS[2]);
    w_int(&t, 1, 3);
    for (int i = 3; i < 6; i++)
        w_f32(&t, 4, FVALS[i]);
    m = model_with_tensor(t, &err, &keep);
    FM_CHECK_MSG(m, "%s", err.msg);
    if (m)
        check_fvals(fm_onnx_initializer(m, "w"), __LINE__);
    fm_onnx_free(m);
    fm_pb_writer_free(&keep);

    /* a packed run followed by unpacked values */
    t = wnew();
    w_str(&t, 8, "w");
    fm_pb_put_packed_int64(&t, 1, d, 2);
    w_int(&t, 2, FM_ONNX_DT_FLOAT);
    fm_pb_put_packed_floats(&t, 4, FVALS, 4);
    w_f32(&t, 4, FVALS[4]);
    w_f32(&t, 4, FVALS[5]);
    m = model_with_tensor(t, &err, &keep);
    FM_CHECK_MSG(m, "%s", err.msg);
    if (m)
        check_fvals(fm_onnx_initializer(m, "w"), __LINE__);
    fm_onnx_free(m);
    fm_pb_writer_free(&keep);

    /* a scalar (no dims): one value; a zero-sized tensor: no data */
    t = wnew();
    w_str(&t, 8, "s");
    w_int(&t, 2, FM_ONNX_DT_FLOAT);
    w_f32(&t, 4, 2.5f);
    m = model_with_tensor(t, &err, &keep);
    FM_CHECK_MSG(m, "%s", err.msg);
    if (m) {
        const fm_onnx_tensor *s = fm_onnx_initializer(m, "s");
        FM_CHECK(s && s->ndims == 0 && s->count == 1 && s->f && s->f[0] == 2.5f);
    }
    fm_onnx_free(m);
    fm_pb_writer_free(&keep);
    static const int64_t dz[3] = {4, 0, 5};
    m = model_with_tensor(tensor_raw("z", dz, 3, NULL, 0), &err, &keep);
    FM_CHECK_MSG(m, "%s", err.msg);
    if (m) {
        const fm_onnx_tensor *z = fm_onnx_initializer(m, "z");
        FM_CHECK(z && z->ndims == 3 && z->count == 0 && z->f == NULL);
    }
    fm_onnx_free(m);
    fm_pb_writer_free(&keep);
}

static void test_onnx_int_forms(void)
{
    static const int64_t v[5] = {0, -1, INT64_MIN, INT64_MAX, 300};
    static const int64_t d1[1] = {5};
    fm_err err;
    W keep;
    for (int form = 0; form < 3; form++) {
        W t = wnew();
        w_str(&t, 8, "i");
        w_int(&t, 1, 5);
        w_int(&t, 2, FM_ONNX_DT_INT64);
        if (form == 0) {
            fm_pb_put_packed_int64(&t, 7, v, 5);
        } else if (form == 1) {
            for (int i = 0; i < 5; i++)
                w_int(&t, 7, v[i]);
        } else {
            uint8_t raw[40];
            for (int i = 0; i < 5; i++)
                for (int b = 0; b < 8; b++)
                    raw[8 * i + b] = (uint8_t)((uint64_t)v[i] >> (8 * b));
            fm_pb_put_bytes_field(&t, 9, raw, sizeof raw);
        }
        fm_onnx_model *m = model_with_tensor(t, &err, &keep);
        FM_CHECK_MSG(m, "form %d: %s", form, err.msg);
        const fm_onnx_tensor *x = m ? fm_onnx_initializer(m, "i") : NULL;
        FM_CHECK_MSG(x && x->data_type == FM_ONNX_DT_INT64 && x->count == 5 && x->i64 &&
                         !x->f && memcmp(x->i64, v, sizeof v) == 0,
                     "INT64 form %d", form);
        fm_onnx_free(m);
        fm_pb_writer_free(&keep);
    }
    /* INT32: int32_data (negatives are 10-byte varints) and raw, both widened to int64. */
    static const int64_t v32[5] = {0, -1, INT32_MIN, INT32_MAX, 300};
    for (int form = 0; form < 2; form++) {
        W t = wnew();
        w_str(&t, 8, "i");
        fm_pb_put_packed_int64(&t, 1, d1, 1);
        w_int(&t, 2, FM_ONNX_DT_INT32);
        if (form == 0) {
            fm_pb_put_packed_int64(&t, 5, v32, 5);
        } else {
            uint8_t raw[20];
            for (int i = 0; i < 5; i++)
                for (int b = 0; b < 4; b++)
                    raw[4 * i + b] = (uint8_t)((uint32_t)v32[i] >> (8 * b));
            fm_pb_put_bytes_field(&t, 9, raw, sizeof raw);
        }
        fm_onnx_model *m = model_with_tensor(t, &err, &keep);
        FM_CHECK_MSG(m, "form %d: %s", form, err.msg);
        const fm_onnx_tensor *x = m ? fm_onnx_initializer(m, "i") : NULL;
        FM_CHECK_MSG(x && x->data_type == FM_ONNX_DT_INT32 && x->count == 5 && x->i64 &&
                         memcmp(x->i64, v32, sizeof v32) == 0,
                     "INT32 form %d", form);
        fm_onnx_free(m);
        fm_pb_writer_free(&keep);
    }
    /* Another data type: recorded, no data. */
    W t = wnew();
    w_str(&t, 8, "h");
    w_int(&t, 1, 3);
    w_int(&t, 2, FM_ONNX_DT_FLOAT16);
    fm_pb_put_bytes_field(&t, 9, "\0\x3c\0\x3c\0\x3c", 6);
    fm_onnx_model *m = model_with_tensor(t, &err, &keep);
    FM_CHECK_MSG(m, "%s", err.msg);
    const fm_onnx_tensor *h = m ? fm_onnx_initializer(m, "h") : NULL;
    FM_CHECK(h && h->data_type == FM_ONNX_DT_FLOAT16 && h->count == 3 && !h->f && !h->i64);
    FM_CHECK(strcmp(fm_onnx_dtype_name(FM_ONNX_DT_FLOAT16), "FLOAT16") == 0);
    FM_CHECK(strcmp(fm_onnx_dtype_name(99), "?") == 0);
    fm_onnx_free(m);
    fm_pb_writer_free(&keep);
}

/* ---- hand-built models: attributes, unknown fields, value infos, opsets ---- */

/* A graph with one node "c1" (op `op`) taking x, "", w and giving y, with the attributes. */
static W graph_with_node(const char *op, W *attrs, int nattrs)
{
    W g = wnew(), n = wnew();
    w_str(&n, 1, "x");
    w_str(&n, 1, ""); /* an absent optional input */
    w_str(&n, 1, "w");
    w_str(&n, 2, "y");
    w_str(&n, 3, "c1");
    w_str(&n, 4, op);
    for (int i = 0; i < nattrs; i++)
        w_msg(&n, 5, &attrs[i]);
    w_msg(&g, 1, &n);
    return g;
}

static void test_onnx_attributes(void)
{
    W a[10];
    for (int i = 0; i < 10; i++)
        a[i] = wnew();
    static const float fl[3] = {0.5f, -1.0f, 8.0f};
    static const int64_t in[4] = {-1, 0, 1, (int64_t)1 << 40};
    w_str(&a[0], 1, "fl_packed");
    w_int(&a[0], 20, FM_ONNX_ATTR_FLOATS);
    fm_pb_put_packed_floats(&a[0], 7, fl, 3);
    w_str(&a[1], 1, "fl_unpacked");
    for (int i = 0; i < 3; i++)
        w_f32(&a[1], 7, fl[i]);
    w_int(&a[1], 20, FM_ONNX_ATTR_FLOATS);
    w_str(&a[2], 1, "ints");
    w_int(&a[2], 20, FM_ONNX_ATTR_INTS);
    fm_pb_put_packed_int64(&a[2], 8, in, 4);
    w_str(&a[3], 1, "mode");
    w_int(&a[3], 20, FM_ONNX_ATTR_STRING);
    fm_pb_put_bytes_field(&a[3], 4, "a\0b", 3); /* bytes may hold NULs */
    w_str(&a[4], 1, "names");
    w_int(&a[4], 20, FM_ONNX_ATTR_STRINGS);
    w_str(&a[4], 9, "one");
    w_str(&a[4], 9, "");
    w_str(&a[4], 9, "three");
    w_str(&a[5], 1, "alpha");
    w_int(&a[5], 20, FM_ONNX_ATTR_FLOAT);
    w_f32(&a[5], 2, 0.125f);
    w_str(&a[6], 1, "axis");
    w_int(&a[6], 20, FM_ONNX_ATTR_INT);
    w_int(&a[6], 3, -3);
    /* TENSOR: a Constant-style value */
    static const int64_t d2[1] = {2};
    static const float tv[2] = {4.0f, -4.0f};
    W tv_t = tensor_raw("", d2, 1, tv, 2);
    w_str(&a[7], 1, "value");
    w_int(&a[7], 20, FM_ONNX_ATTR_TENSOR);
    w_msg(&a[7], 5, &tv_t);
    /* GRAPH: recorded, skipped */
    W sub = wnew();
    w_str(&sub, 2, "body");
    w_str(&a[8], 1, "body");
    w_int(&a[8], 20, FM_ONNX_ATTR_GRAPH);
    w_msg(&a[8], 6, &sub);
    /* No type field (IR version 1): inferred from the value field. */
    w_str(&a[9], 1, "legacy");
    w_int(&a[9], 3, 42);

    W g = graph_with_node("Custom", a, 10);
    W m = model_of(&g);
    fm_err err;
    fm_onnx_model *mod = parse_w(&m, &err);
    FM_CHECK_MSG(mod, "%s", err.msg);
    if (mod) {
        const fm_onnx_node *n = &mod->graph.nodes[0];
        FM_CHECK_INT(n->ninputs, 3);
        FM_CHECK(strcmp(n->inputs[0], "x") == 0 && strcmp(n->inputs[1], "") == 0 &&
                 strcmp(n->inputs[2], "w") == 0);
        FM_CHECK_INT(n->nattrs, 10);
        for (int k = 0; k < 2; k++) {
            const fm_onnx_attr *f = fm_onnx_node_attr(n, k ? "fl_unpacked" : "fl_packed");
            FM_CHECK(f && f->type == FM_ONNX_ATTR_FLOATS && f->nfloats == 3 &&
                     memcmp(f->floats, fl, sizeof fl) == 0);
        }
        check_ints(fm_onnx_node_attr(n, "ints"), in, 4, __LINE__);
        const fm_onnx_attr *s = fm_onnx_node_attr(n, "mode");
        FM_CHECK(s && s->type == FM_ONNX_ATTR_STRING && s->s.len == 3 &&
                 memcmp(s->s.s, "a\0b", 4) == 0);
        const fm_onnx_attr *ss = fm_onnx_node_attr(n, "names");
        FM_CHECK(ss && ss->type == FM_ONNX_ATTR_STRINGS && ss->nstrings == 3);
        if (ss && ss->nstrings == 3)
            FM_CHECK(strcmp(ss->strings[0].s, "one") == 0 && ss->strings[1].len == 0 &&
                     strcmp(ss->strings[1].s, "") == 0 && ss->strings[2].len == 5 &&
                     strcmp(ss->strings[2].s, "three") == 0);
        const fm_onnx_attr *al = fm_onnx_node_attr(n, "alpha");
        FM_CHECK(al && al->type == FM_ONNX_ATTR_FLOAT && al->f == 0.125f);
        const fm_onnx_attr *ax = fm_onnx_node_attr(n, "axis");
        FM_CHECK(ax && ax->type == FM_ONNX_ATTR_INT && ax->i == -3);
        const fm_onnx_attr *val = fm_onnx_node_attr(n, "value");
        FM_CHECK(val && val->type == FM_ONNX_ATTR_TENSOR && val->t && val->t->count == 2 &&
                 val->t->f && val->t->f[0] == 4.0f && val->t->f[1] == -4.0f &&
                 strcmp(val->t->name, "") == 0);
        const fm_onnx_attr *body = fm_onnx_node_attr(n, "body");
        FM_CHECK(body && body->type == FM_ONNX_ATTR_GRAPH && !body->t && body->nints == 0);
        const fm_onnx_attr *lg = fm_onnx_node_attr(n, "legacy");
        FM_CHECK(lg && lg->type == FM_ONNX_ATTR_INT && lg->i == 42);
        FM_CHECK(fm_onnx_node_attr(n, "absent") == NULL);
        FM_CHECK(fm_onnx_node_attr(n, NULL) == NULL && fm_onnx_node_attr(NULL, "x") == NULL);
        FM_CHECK(strcmp(fm_onnx_attr_type_name(FM_ONNX_ATTR_INTS), "INTS") == 0);
    }
    fm_onnx_free(mod);
    fm_pb_writer_free(&m);
}

static void test_onnx_unknown_fields(void)
{
    /* Unknown fields of every wire type (a group too) at every level are skipped. */
    W t = wnew(), a = wnew(), n = wnew(), g = wnew(), m = wnew(), op = wnew(), vi = wnew();
    w_int(&t, 1, 2);
    w_int(&t, 2, FM_ONNX_DT_FLOAT);
    w_str(&t, 50, "future tensor field");
    w_str(&t, 8, "w");
    w_str(&t, 12, "doc");
    fm_pb_put_packed_floats(&t, 4, FVALS, 2);
    fm_pb_put_tag(&t, 60, FM_PB_I64);
    fm_pb_put_fixed64(&t, 7);
    w_str(&a, 1, "k");
    fm_pb_put_tag(&a, 99, FM_PB_I32);
    fm_pb_put_fixed32(&a, 1);
    w_int(&a, 20, FM_ONNX_ATTR_INT);
    w_int(&a, 3, 5);
    w_str(&a, 13, "doc");
    w_str(&n, 4, "Relu");
    w_int(&n, 999, 12345);
    w_str(&n, 6, "doc string");
    w_msg(&n, 5, &a);
    fm_pb_put_tag(&n, 77, FM_PB_SGROUP); /* a deprecated group, with a field inside */
    w_int(&n, 1, 3);
    fm_pb_put_tag(&n, 77, FM_PB_EGROUP);
    w_str(&n, 1, "x");
    w_str(&n, 2, "y");
    w_msg(&g, 1, &n);
    w_msg(&g, 5, &t);
    w_str(&vi, 1, "y");
    w_msg(&g, 13, &vi); /* value_info: not read */
    w_str(&g, 10, "graph doc");
    w_int(&g, 1000, 1);
    w_int(&m, 1, 8);
    w_int(&m, 5, 3);         /* model_version */
    w_str(&m, 4, "domain");  /* domain */
    w_str(&m, 14, "meta");   /* metadata_props */
    w_msg(&m, 7, &g);
    w_str(&m, 123456, "future model field");
    w_str(&op, 1, "ai.onnx");
    w_int(&op, 2, 17);
    w_int(&op, 3, 1);
    w_msg(&m, 8, &op);
    fm_err err;
    fm_onnx_model *mod = parse_w(&m, &err);
    FM_CHECK_MSG(mod, "%s", err.msg);
    if (mod) {
        FM_CHECK_INT(mod->ir_version, 8);
        FM_CHECK_INT(mod->opset, 17); /* "ai.onnx" is the default domain */
        FM_CHECK_INT(mod->graph.nnodes, 1);
        const fm_onnx_node *nd = &mod->graph.nodes[0];
        FM_CHECK(strcmp(nd->op_type, "Relu") == 0 && strcmp(nd->name, "") == 0);
        FM_CHECK(nd->ninputs == 1 && nd->noutputs == 1 && nd->nattrs == 1);
        FM_CHECK(nd->nattrs == 1 && nd->attrs[0].i == 5);
        const fm_onnx_tensor *w = fm_onnx_initializer(mod, "w");
        FM_CHECK(w && w->count == 2 && w->f && w->f[0] == FVALS[0] && w->f[1] == FVALS[1]);
        FM_CHECK_INT(mod->graph.ninputs, 0);
        FM_CHECK(strcmp(mod->graph.name, "") == 0 && strcmp(mod->producer_name, "") == 0);
    }
    fm_onnx_free(mod);
    fm_pb_writer_free(&m);
}

static void test_onnx_value_info_and_opsets(void)
{
    W g = wnew();
    int64_t d[4] = {-1, 3, -1, 640}; /* -1: written as dim_param "N" */
    W v0 = value_info("img", d, 4);
    w_msg(&g, 11, &v0);
    /* no type at all; a type without a shape; a scalar shape; a dim with neither field;
     * a non-tensor (sequence) type; a negative dim_value hint */
    W v1 = wnew();
    w_str(&v1, 1, "untyped");
    w_msg(&g, 11, &v1);
    W v2 = wnew(), t2 = wnew(), tt2 = wnew();
    w_int(&tt2, 1, FM_ONNX_DT_INT64);
    w_msg(&t2, 1, &tt2);
    w_str(&v2, 1, "noshape");
    w_msg(&v2, 2, &t2);
    w_msg(&g, 11, &v2);
    W v3 = wnew(), t3 = wnew(), tt3 = wnew(), sh3 = wnew();
    w_int(&tt3, 1, FM_ONNX_DT_FLOAT);
    w_msg(&tt3, 2, &sh3);
    w_msg(&t3, 1, &tt3);
    w_str(&v3, 1, "scalar");
    w_msg(&v3, 2, &t3);
    w_msg(&g, 12, &v3);
    W v4 = wnew(), t4 = wnew(), tt4 = wnew(), sh4 = wnew(), dm = wnew(), dn = wnew();
    w_str(&dm, 3, "denotation only");
    w_msg(&sh4, 1, &dm);
    w_int(&dn, 1, -5);
    w_msg(&sh4, 1, &dn);
    w_int(&tt4, 1, FM_ONNX_DT_FLOAT);
    w_msg(&tt4, 2, &sh4);
    w_msg(&t4, 1, &tt4);
    w_str(&v4, 1, "odd");
    w_msg(&v4, 2, &t4);
    w_msg(&g, 12, &v4);
    W v5 = wnew(), t5 = wnew(), seq = wnew();
    w_str(&seq, 1, "");
    w_msg(&t5, 4, &seq);
    w_str(&v5, 1, "seq");
    w_msg(&v5, 2, &t5);
    w_msg(&g, 12, &v5);
    W n = wnew();
    w_str(&n, 4, "Identity");
    w_str(&n, 7, "com.example");
    w_msg(&g, 1, &n);

    W m = wnew();
    w_int(&m, 1, 7);
    w_msg(&m, 7, &g);
    static const struct {
        const char *dom;
        int64_t v;
    } ops[4] = {{"", 11}, {"com.microsoft", 1}, {"ai.onnx", 13}, {"", 9}};
    for (int i = 0; i < 4; i++) {
        W op = wnew();
        w_str(&op, 1, ops[i].dom);
        w_int(&op, 2, ops[i].v);
        w_msg(&m, 8, &op);
    }
    fm_err err;
    fm_onnx_model *mod = parse_w(&m, &err);
    FM_CHECK_MSG(mod, "%s", err.msg);
    if (mod) {
        FM_CHECK_INT(mod->nopsets, 4);
        FM_CHECK_INT(mod->opset, 13); /* the highest default-domain import */
        FM_CHECK(strcmp(mod->opsets[1].domain, "com.microsoft") == 0 &&
                 mod->opsets[1].version == 1);
        FM_CHECK(strcmp(mod->graph.nodes[0].domain, "com.example") == 0);
        FM_CHECK_INT(mod->graph.ninputs, 3);
        FM_CHECK_INT(mod->graph.noutputs, 3);
        const fm_onnx_value *img = &mod->graph.inputs[0];
        FM_CHECK(img->elem_type == FM_ONNX_DT_FLOAT && img->has_shape && img->ndims == 4);
        FM_CHECK(img->dims[0] == -1 && img->dims[1] == 3 && img->dims[2] == -1 &&
                 img->dims[3] == 640);
        const fm_onnx_value *u = &mod->graph.inputs[1];
        FM_CHECK(strcmp(u->name, "untyped") == 0 && u->elem_type == 0 && !u->has_shape);
        const fm_onnx_value *ns = &mod->graph.inputs[2];
        FM_CHECK(ns->elem_type == FM_ONNX_DT_INT64 && !ns->has_shape && ns->ndims == 0);
        const fm_onnx_value *sc = &mod->graph.outputs[0];
        FM_CHECK(sc->has_shape && sc->ndims == 0);
        const fm_onnx_value *odd = &mod->graph.outputs[1];
        FM_CHECK(odd->ndims == 2 && odd->dims[0] == -1 && odd->dims[1] == -1);
        const fm_onnx_value *sq = &mod->graph.outputs[2];
        FM_CHECK(strcmp(sq->name, "seq") == 0 && sq->elem_type == 0 && !sq->has_shape);
        FM_CHECK_INT(mod->graph.ninitializers, 0);
        FM_CHECK(fm_onnx_initializer(mod, "img") == NULL);
    }
    fm_onnx_free(mod);
    fm_pb_writer_free(&m);
}

/* ---- errors ---- */

static W small_model(void)
{
    static const int64_t d[2] = {2, 3};
    W a = wnew();
    w_str(&a, 1, "pads");
    w_int(&a, 20, FM_ONNX_ATTR_INTS);
    static const int64_t pads[4] = {1, 1, 1, 1};
    fm_pb_put_packed_int64(&a, 8, pads, 4);
    W g = graph_with_node("Conv", &a, 1);
    W t = tensor_raw("w", d, 2, FVALS, 6);
    w_msg(&g, 5, &t);
    int64_t vd[2] = {1, -1};
    W vi = value_info("x", vd, 2);
    w_msg(&g, 11, &vi);
    return model_of(&g);
}

static void test_onnx_truncated_small(void)
{
    W m = small_model();
    fm_err err;
    fm_onnx_model *mod = parse_w(&m, &err);
    FM_CHECK_MSG(mod, "%s", err.msg);
    fm_onnx_free(mod);
    int truncated_msgs = 0;
    for (size_t len = 0; len < m.len; len++) {
        /* a copy of exactly len bytes, so ASan sees any read past the end */
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, m.data, len);
        memset(&err, 0, sizeof err);
        mod = fm_onnx_parse(cut, len, "t.onnx", &err);
        FM_CHECK_MSG(mod == NULL, "a model cut to %zu of %zu bytes parsed", len, m.len);
        fm_onnx_free(mod);
        FM_CHECK_MSG(strncmp(err.msg, "t.onnx: ", 8) == 0 && err.status != FM_OK,
                     "cut at %zu: '%s'", len, err.msg);
        truncated_msgs += strstr(err.msg, "truncated at byte") != NULL;
        free(cut);
    }
    FM_CHECK(truncated_msgs > (int)m.len / 2);
    FM_CHECK(fm_onnx_parse(m.data, m.len - 1, "t.onnx", NULL) == NULL); /* no err: still NULL */
    fm_pb_writer_free(&m);
}

static void test_onnx_truncated_real(void)
{
    size_t len;
    char *buf = fm_test_read_file(shared_path("yunet_n_640_640.onnx"), &len);
    FM_CHECK(buf != NULL);
    if (!buf)
        return;
    uint64_t rng = 12345;
    size_t cuts[110];
    for (int i = 0; i < 100; i++)
        cuts[i] = (size_t)(((uint64_t)len * (uint64_t)i) / 100) + fm_test_rand(&rng) % 97;
    size_t extra[10] = {0, 1, 2, 3, 10, 20, len - 1, len - 2, len - 5, len - 9};
    memcpy(cuts + 100, extra, sizeof extra);
    for (int i = 0; i < 110; i++) {
        size_t n = cuts[i] < len ? cuts[i] : len - 1;
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        fm_err err = {0};
        fm_onnx_model *m = fm_onnx_parse(cut, n, "yunet.onnx", &err);
        FM_CHECK_MSG(m == NULL, "cut at %zu of %zu parsed", n, len);
        fm_onnx_free(m);
        FM_CHECK_MSG(err.msg[0] != '\0', "cut at %zu: no message", n);
        free(cut);
    }
    /* Random single-byte corruption: parses or fails with a message, never crashes. */
    uint8_t *bad = malloc(len);
    int failed = 0;
    for (int i = 0; i < 200; i++) {
        memcpy(bad, buf, len);
        /* most corruption lands in weights; aim half of it at the first 4 KB of structure */
        size_t at = (i & 1) ? fm_test_rand(&rng) % 4096 : fm_test_rand(&rng) % len;
        bad[at] = (uint8_t)fm_test_rand(&rng);
        fm_err err = {0};
        fm_onnx_model *m = fm_onnx_parse(bad, len, "bad.onnx", &err);
        if (!m) {
            failed++;
            FM_CHECK_MSG(err.msg[0] != '\0', "corrupt byte %zu: no message", at);
        }
        fm_onnx_free(m);
    }
    FM_CHECK(failed > 0);
    free(bad);
    free(buf);
}

#define EXPECT_INIT(init, st, needle) expect_init_error(init, st, needle, __LINE__)
#define EXPECT(m, st, needle) expect_error(m, st, needle, __LINE__)

static void test_onnx_tensor_errors(void)
{
    static const int64_t d[2] = {2, 3};
    /* external data, both ways */
    W t = tensor_raw("w", d, 2, FVALS, 6);
    w_int(&t, 14, 1);
    EXPECT_INIT(t, FM_ERR_UNSUPPORTED,
                "tensor 'w' uses external data (not supported: the model must be one "
                "self-contained .onnx file)");
    t = wnew();
    w_str(&t, 8, "ext");
    w_int(&t, 2, FM_ONNX_DT_FLOAT);
    W kv = wnew();
    w_str(&kv, 1, "location");
    w_str(&kv, 2, "weights.bin");
    w_msg(&t, 13, &kv);
    EXPECT_INIT(t, FM_ERR_UNSUPPORTED, "tensor 'ext' uses external data (not supported");
    /* count != product of dims */
    t = wnew();
    w_str(&t, 8, "w");
    fm_pb_put_packed_int64(&t, 1, d, 2);
    w_int(&t, 2, FM_ONNX_DT_FLOAT);
    fm_pb_put_packed_floats(&t, 4, FVALS, 5);
    EXPECT_INIT(t, FM_ERR_SHAPE, "initializer 'w': float_data has 5 values but dims [2,3] need 6");
    static const int64_t d4[1] = {4};
    EXPECT_INIT(tensor_raw("w", d4, 1, FVALS, 6), FM_ERR_SHAPE,
                "raw_data has 6 values but dims [4] need 4");
    t = wnew();
    w_str(&t, 8, "r");
    w_int(&t, 2, FM_ONNX_DT_INT64);
    fm_pb_put_bytes_field(&t, 9, "12345678123", 11);
    EXPECT_INIT(t, FM_ERR_SHAPE, "raw_data has 11 bytes, not a multiple of the 8-byte INT64");
    /* negative dim, overflow, too many dims */
    static const int64_t neg[2] = {2, -3};
    EXPECT_INIT(tensor_raw("w", neg, 2, FVALS, 6), FM_ERR_FORMAT,
                "initializer 'w': dim 1 is -3 (dims must be >= 0)");
    static const int64_t huge[3] = {(int64_t)1 << 40, (int64_t)1 << 40, 2};
    EXPECT_INIT(tensor_raw("w", huge, 3, FVALS, 1), FM_ERR_FORMAT,
                "initializer 'w': the product of dims [1099511627776,1099511627776,2] overflows");
    static const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    EXPECT_INIT(tensor_raw("w", nine, 9, FVALS, 1), FM_ERR_LIMIT,
                "9 dims, at most 8 are supported");
    /* data in the wrong field, or in two */
    t = wnew();
    w_str(&t, 8, "w");
    w_int(&t, 2, FM_ONNX_DT_FLOAT);
    w_int(&t, 7, 1);
    EXPECT_INIT(t, FM_ERR_FORMAT, "has int64_data (TensorProto field 7), which data_type FLOAT");
    t = tensor_raw("w", d, 2, FVALS, 6);
    fm_pb_put_packed_floats(&t, 4, FVALS, 6);
    EXPECT_INIT(t, FM_ERR_FORMAT, "has both raw_data and float_data");
    t = wnew();
    w_str(&t, 8, "w");
    w_int(&t, 2, FM_ONNX_DT_FLOAT);
    fm_pb_put_bytes_field(&t, 4, "12345", 5);
    EXPECT_INIT(t, FM_ERR_FORMAT, "packed float_data has 5 bytes, not a multiple of 4");
    t = wnew();
    w_str(&t, 8, "w");
    w_int(&t, 2, FM_ONNX_DT_INT64);
    fm_pb_put_bytes_field(&t, 7, "\x01\x80", 2);
    EXPECT_INIT(t, FM_ERR_PARSE, "truncated at byte");
    /* no name; segments; wire type */
    t = wnew();
    w_int(&t, 2, FM_ONNX_DT_FLOAT);
    w_f32(&t, 4, 1.0f);
    EXPECT_INIT(t, FM_ERR_FORMAT, "initializer #0: has no name (TensorProto field 8)");
    t = tensor_raw("w", d, 2, FVALS, 6);
    W seg = wnew();
    w_int(&seg, 1, 0);
    w_msg(&t, 3, &seg);
    EXPECT_INIT(t, FM_ERR_UNSUPPORTED, "stored in segments");
    t = wnew();
    w_str(&t, 8, "w");
    w_f32(&t, 2, 1.0f);
    EXPECT_INIT(t, FM_ERR_FORMAT,
                "field 2 (data_type) has wire type 32-bit, expected varint");
    t = wnew();
    fm_pb_put_bytes_field(&t, 8, "w\0x", 3);
    EXPECT_INIT(t, FM_ERR_FORMAT, "initializer #0: name contains a NUL byte");
}

static void test_onnx_graph_errors(void)
{
    fm_err err;
    /* empty, NULL, not ONNX */
    FM_CHECK(fm_onnx_parse((const uint8_t *)"", 0, "e.onnx", &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "e.onnx: empty file, expected an ONNX model");
    FM_CHECK(fm_onnx_parse(NULL, 5, "n.onnx", &err) == NULL && err.status == FM_ERR_ARG);
    FM_CHECK(fm_onnx_parse((const uint8_t *)"\x08\x07", 2, NULL, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "onnx: no graph (ModelProto field 7)");
    const char *text = "ir_version: 7\ngraph { node { op_type: \"Relu\" } }\n";
    FM_CHECK(fm_onnx_parse((const uint8_t *)text, strlen(text), "text.onnx", &err) == NULL);
    FM_CHECK(err.status == FM_ERR_PARSE || err.status == FM_ERR_FORMAT);
    FM_CHECK(fm_onnx_parse(NULL, 0, NULL, NULL) == NULL); /* no err: no crash */
    FM_CHECK(fm_onnx_read("/nonexistent/x.onnx", &err) == NULL && err.status == FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "/nonexistent/x.onnx: cannot open");
    FM_CHECK(fm_onnx_read(fm_test_shared(), &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "not a regular file");
    fm_onnx_free(NULL);

    /* no opset_import */
    W g = graph_with_init(NULL), m = wnew();
    w_msg(&m, 7, &g);
    EXPECT(&m, FM_ERR_FORMAT, "t.onnx: no opset_import (ModelProto field 8)");
    /* two graphs */
    g = graph_with_init(NULL);
    m = model_of(&g);
    W g2 = graph_with_init(NULL);
    w_msg(&m, 7, &g2);
    EXPECT(&m, FM_ERR_UNSUPPORTED, "a second graph (ModelProto field 7; the first is at byte");
    /* sparse initializer */
    g = graph_with_init(NULL);
    w_str(&g, 15, "");
    m = model_of(&g);
    EXPECT(&m, FM_ERR_UNSUPPORTED, "sparse initializers are not supported");
    /* duplicate initializer names */
    static const int64_t d1[1] = {1};
    W t1 = tensor_raw("w", d1, 1, FVALS, 1), t2 = tensor_raw("w", d1, 1, FVALS, 1);
    g = graph_with_init(&t1);
    w_msg(&g, 5, &t2);
    m = model_of(&g);
    EXPECT(&m, FM_ERR_FORMAT, "initializer 'w' appears twice (initializers #0 at byte");
    /* wrong wire type at the model and graph level */
    m = wnew();
    fm_pb_put_bytes_field(&m, 1, "7", 1);
    EXPECT(&m, FM_ERR_FORMAT,
           "t.onnx: byte 0: field 1 (ir_version) has wire type length-delimited, expected varint");
    g = wnew();
    w_int(&g, 1, 3);
    m = model_of(&g);
    EXPECT(&m, FM_ERR_FORMAT, "field 1 (node) has wire type varint, expected length-delimited");
    /* a graph input without a name; too many dims in a graph input */
    g = graph_with_init(NULL);
    W vi = wnew();
    w_int(&vi, 3, 1);
    w_msg(&g, 12, &vi);
    m = model_of(&g);
    EXPECT(&m, FM_ERR_FORMAT, "graph output #1: has no name (ValueInfoProto field 1)");
    g = graph_with_init(NULL);
    int64_t nine[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    vi = value_info("big", nine, 9);
    w_msg(&g, 11, &vi);
    m = model_of(&g);
    EXPECT(&m, FM_ERR_LIMIT, "graph input 'big': more than 8 dims are not supported");
}

static void test_onnx_node_errors(void)
{
    /* The exact message format: file, byte, node, attribute, what, what was expected. */
    W a = wnew();
    w_str(&a, 1, "pads");
    fm_pb_put_tag(&a, 8, FM_PB_I64);
    fm_pb_put_fixed64(&a, 1);
    W g = graph_with_node("Conv", &a, 1);
    W m = model_of(&g);
    const uint8_t *pads = NULL;
    for (size_t i = 0; i + 4 <= m.len && !pads; i++)
        if (memcmp(m.data + i, "pads", 4) == 0)
            pads = m.data + i;
    FM_CHECK(pads != NULL);
    char want[256];
    snprintf(want, sizeof want,
             "t.onnx: byte %zu: node 'c1' (Conv): attribute 'pads': field 8 (ints) has wire type "
             "64-bit, expected varint or length-delimited (packed)",
             pads ? (size_t)(pads - m.data) + 4 : 0);
    fm_err err;
    fm_onnx_model *mod = parse_w(&m, &err);
    FM_CHECK(mod == NULL);
    FM_CHECK_MSG(strcmp(err.msg, want) == 0, "got  '%s'\nwant '%s'", err.msg, want);
    fm_pb_writer_free(&m);

    /* A truncated attribute inside a well-formed node: the wire error, then where. */
    W n = wnew(), gg = wnew();
    w_str(&n, 3, "r1");
    w_str(&n, 4, "Relu");
    fm_pb_put_len_header(&n, 5, 4);
    fm_pb_put_raw(&n, "\x0a\x32zz", 4); /* attribute name claims 50 bytes, 2 remain */
    w_msg(&gg, 1, &n);
    m = model_of(&gg);
    mod = parse_w(&m, &err);
    FM_CHECK(mod == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "t.onnx: truncated at byte ");
    FM_CHECK_STR_CONTAINS(err.msg, "length-delimited field 1 needs 50 bytes, 2 remain (in node "
                                   "'r1' (Relu): attribute #0)");
    fm_pb_writer_free(&m);

    /* NUL bytes in names */
    n = wnew();
    gg = wnew();
    fm_pb_put_bytes_field(&n, 3, "Conv\0_3", 7);
    w_str(&n, 4, "Conv");
    w_msg(&gg, 1, &n);
    m = model_of(&gg);
    EXPECT(&m, FM_ERR_FORMAT, "node #0: name contains a NUL byte (at byte ");
    n = wnew();
    gg = wnew();
    w_str(&n, 3, "c");
    w_str(&n, 4, "Conv");
    fm_pb_put_bytes_field(&n, 1, "x\0", 2);
    w_msg(&gg, 1, &n);
    m = model_of(&gg);
    EXPECT(&m, FM_ERR_FORMAT, "node 'c' (Conv): input #0 contains a NUL byte");
    a = wnew();
    fm_pb_put_bytes_field(&a, 1, "a\0", 2);
    g = graph_with_node("Conv", &a, 1);
    m = model_of(&g);
    EXPECT(&m, FM_ERR_FORMAT, "node 'c1' (Conv): attribute #0: name contains a NUL byte");
    /* missing op_type, missing attribute name, wrong wire type for op_type */
    n = wnew();
    gg = wnew();
    w_str(&n, 3, "nameless_op");
    w_msg(&gg, 1, &n);
    m = model_of(&gg);
    EXPECT(&m, FM_ERR_FORMAT, "byte 19: node 'nameless_op': has no op_type (NodeProto field 4)");
    a = wnew();
    w_int(&a, 3, 1);
    g = graph_with_node("Conv", &a, 1);
    m = model_of(&g);
    EXPECT(&m, FM_ERR_FORMAT, "node 'c1' (Conv): attribute #0: has no name");
    n = wnew();
    gg = wnew();
    w_int(&n, 4, 7);
    w_msg(&gg, 1, &n);
    m = model_of(&gg);
    EXPECT(&m, FM_ERR_FORMAT,
           "node #0: field 4 (op_type) has wire type varint, expected length-delimited");
    /* a bad tensor inside an attribute names the node and the attribute */
    static const int64_t d[1] = {3};
    W t = tensor_raw("", d, 1, FVALS, 2);
    a = wnew();
    w_str(&a, 1, "value");
    w_msg(&a, 5, &t);
    g = graph_with_node("Constant", &a, 1);
    m = model_of(&g);
    EXPECT(&m, FM_ERR_SHAPE,
           "node 'c1' (Constant): attribute 'value': raw_data has 2 values but dims [3] need 3");
    /* caps: attributes and inputs of one node */
    n = wnew();
    gg = wnew();
    w_str(&n, 4, "Concat");
    for (int i = 0; i <= FM_ONNX_MAX_NODE_IO; i++)
        w_str(&n, 1, "x");
    w_msg(&gg, 1, &n);
    m = model_of(&gg);
    EXPECT(&m, FM_ERR_LIMIT, "node #0 (Concat): 1025 inputs and 0 outputs, at most 1024 each");
    n = wnew();
    gg = wnew();
    w_str(&n, 4, "Odd");
    for (int i = 0; i <= FM_ONNX_MAX_ATTRS; i++) {
        W e = wnew();
        w_str(&e, 1, "k");
        w_msg(&n, 5, &e);
    }
    w_msg(&gg, 1, &n);
    m = model_of(&gg);
    EXPECT(&m, FM_ERR_LIMIT, "1025 attributes, at most 1024 are allowed (FM_ONNX_MAX_ATTRS)");
}

/* ---- memory bound ---- */

/* A graph of `count` copies of the field `field` holding `payload`. */
static W repeated_graph(uint32_t field, const void *payload, size_t plen, size_t count)
{
    W g = wnew();
    for (size_t i = 0; i < count; i++)
        fm_pb_put_bytes_field(&g, field, payload, plen);
    return g;
}

static void test_onnx_memory_bound(void)
{
    fm_err err;
    /* 1M empty nodes (2 MB of input) would be 80+ MB of structs: the node cap refuses them. */
    W g = repeated_graph(1, "", 0, 1000000);
    W m = model_of(&g);
    FM_CHECK(m.len < 2100000);
    EXPECT(&m, FM_ERR_LIMIT, "the graph has 1000000 nodes, more than the 100000 allowed "
                             "(FM_ONNX_MAX_NODES)");
    /* Under the caps, the memory budget: 99,999 empty initializers (2 bytes each, a
     * 100-byte struct each) need more than 16 x file size + 4 MiB. */
    g = repeated_graph(5, "", 0, 99999);
    m = model_of(&g);
    EXPECT(&m, FM_ERR_LIMIT, "bytes of memory for its ");
    /* 2,000 nodes of 1,000 minimal attributes (5 bytes in, a 112-byte struct out): refused
     * by the budget. */
    W n = wnew();
    w_str(&n, 4, "A");
    for (int i = 0; i < 1000; i++)
        fm_pb_put_bytes_field(&n, 5, "\x0a\x01k", 3);
    g = wnew();
    for (int i = 0; i < 2000; i++)
        fm_pb_put_bytes_field(&g, 1, n.data, n.len);
    fm_pb_writer_free(&n);
    m = model_of(&g);
    EXPECT(&m, FM_ERR_LIMIT, "(the limit is 16 x file size + 4 MiB): the file is malformed");
    /* What parses stays within the documented bound: 90,000 minimal nodes. */
    g = repeated_graph(1, "\x22\x01" "A", 3, 90000);
    m = model_of(&g);
    fm_onnx_model *mod = parse_w(&m, &err);
    FM_CHECK_MSG(mod != NULL, "%s", err.msg);
    if (mod) {
        FM_CHECK_INT(mod->graph.nnodes, 90000);
        size_t bound = FM_ONNX_MEM_FACTOR * m.len + FM_ONNX_MEM_SLACK;
        FM_CHECK_MSG(fm_onnx_model_bytes(mod) <= bound, "%zu bytes for a %zu-byte file",
                     fm_onnx_model_bytes(mod), m.len);
    }
    fm_onnx_free(mod);
    fm_pb_writer_free(&m);
}

void suite_onnx_proto(void);
void suite_onnx_proto(void)
{
    FM_RUN(test_onnx_yunet_n);
    FM_RUN(test_onnx_yunet_2023mar);
    FM_RUN(test_onnx_float_forms);
    FM_RUN(test_onnx_int_forms);
    FM_RUN(test_onnx_attributes);
    FM_RUN(test_onnx_unknown_fields);
    FM_RUN(test_onnx_value_info_and_opsets);
    FM_RUN(test_onnx_truncated_small);
    FM_RUN(test_onnx_truncated_real);
    FM_RUN(test_onnx_tensor_errors);
    FM_RUN(test_onnx_graph_errors);
    FM_RUN(test_onnx_node_errors);
    FM_RUN(test_onnx_memory_bound);
}
