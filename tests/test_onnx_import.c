/* The ONNX importer and the graph it builds: both YuNet files at several input sizes,
 * the engine's op table, memory planning with a value read by several nodes, and every
 * import error on real files changed byte by byte. (OpenCV parity of the outputs is in
 * test_yunet_parity.c.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/graph.h"
#include "nn/net.h"
#include "nn/op.h"
#include "onnx/onnx.h"
#include "test.h"

static void yunet_path(char *buf, size_t n, const char *file)
{
    snprintf(buf, n, "%s/models/yunet/%s", fm_test_shared(), file);
}

static const char *const k_outputs[12] = {"cls_8",  "cls_16",  "cls_32",  "obj_8",
                                          "obj_16", "obj_32",  "bbox_8",  "bbox_16",
                                          "bbox_32", "kps_8",  "kps_16",  "kps_32"};

/* Both files load at any size whose sides are multiples of 32, with the 12 declared
 * outputs in the file's order and one row per grid cell. */
static void check_outputs(const char *file, int H, int W)
{
    char path[512];
    yunet_path(path, sizeof path, file);
    fm_err err = {0};
    fm_net_opts o = fm_net_default_opts();
    o.input_shape = fm_shape4(1, 3, H, W);
    fm_net *net = fm_onnx_load_net(path, &o, &err);
    FM_CHECK_MSG(net != NULL, "%s at %dx%d: %s", file, W, H, err.msg);
    if (!net)
        return;
    FM_CHECK_INT(fm_net_num_inputs(net), 1);
    FM_CHECK(strcmp(fm_net_input_name(net, 0), "input") == 0);
    const fm_tensor *in = fm_net_input(net, 0);
    FM_CHECK(fm_shape_eq(&in->shape, &o.input_shape));
    FM_CHECK_INT(fm_net_num_outputs(net), 12);
    for (int i = 0; i < 12 && i < fm_net_num_outputs(net); i++) {
        FM_CHECK_MSG(strcmp(fm_net_output_name(net, i), k_outputs[i]) == 0, "output %d is %s", i,
                     fm_net_output_name(net, i));
        int s = i % 3 == 0 ? 8 : (i % 3 == 1 ? 16 : 32);
        int w = i < 6 ? 1 : (i < 9 ? 4 : 10);
        fm_shape want = fm_shape3(1, (H / s) * (W / s), w);
        const fm_tensor *t = fm_net_output(net, i);
        char a[64], b[64];
        FM_CHECK_MSG(fm_shape_eq(&t->shape, &want), "%s: %s, expected %s", k_outputs[i],
                     fm_shape_str(&t->shape, a, sizeof a), fm_shape_str(&want, b, sizeof b));
    }
    /* Relu fused into the convolution before it: fewer layers run than nodes in the file */
    int fused = 0;
    for (int i = 0; i < fm_net_num_layers(net); i++)
        fused += strstr(fm_net_layer_type(net, i), "Conv+Relu") != NULL;
    FM_CHECK_MSG(fused >= 10, "%d Conv+Relu layers", fused);
    fm_net_free(net);
}

static void test_yunet_loads_at_any_size(void)
{
    check_outputs("yunet_n_640_640.onnx", 640, 640);
    check_outputs("yunet_n_640_640.onnx", 480, 640);
    check_outputs("yunet_n_640_640.onnx", 320, 224);
    check_outputs("face_detection_yunet_2023mar.onnx", 544, 640);
    check_outputs("face_detection_yunet_2023mar.onnx", 32, 32);
}

/* The op table is whole: every op has a name, a shape rule and a kernel, and the names
 * are distinct. */
static void test_op_table_whole(void)
{
    for (int k = 0; k < FM_LAYER_COUNT; k++) {
        const fm_op_def *op = fm_op_get((fm_layer_kind)k);
        FM_CHECK(op && op->name && op->name[0] && op->shape && op->run);
        for (int j = 0; j < k; j++)
            FM_CHECK(strcmp(fm_op_name((fm_layer_kind)j), op->name) != 0);
    }
    FM_CHECK(fm_op_get(FM_LAYER_COUNT) == NULL);
    FM_CHECK(strcmp(fm_op_name(FM_LAYER_RESIZE), "Resize") == 0);
    FM_CHECK(fm_op_get(FM_LAYER_ELTWISE)->in_place && !fm_op_get(FM_LAYER_CONV)->in_place);
}

/* A value read by two nodes, the second of which runs in place on it (x -> MaxPool,
 * then x + y in place): the first reader must still see x, and the result must equal a
 * plan that never reuses memory. */
static fm_net *small_net(int keep)
{
    fm_err err = {0};
    fm_graph *g = fm_graph_create("test");
    int x = fm_graph_add_input(g, "x", fm_shape4(1, 2, 4, 4), &err);
    fm_node *n = fm_graph_add_node(g, FM_LAYER_ACT, "relu", "Relu", &err);
    n->act.act = FM_ACT_RELU;
    fm_graph_connect(g, n, &x, 1, "r", &err);
    fm_graph_infer(g, n, &err);
    int r = n->out;
    n = fm_graph_add_node(g, FM_LAYER_POOL, "pool", "MaxPool", &err);
    n->pool.method = FM_POOL_MAX;
    n->pool.kernel_h = n->pool.kernel_w = n->pool.stride_h = n->pool.stride_w = 2;
    n->pool.floor_mode = 1;
    fm_graph_connect(g, n, &r, 1, "p", &err);
    fm_graph_infer(g, n, &err);
    int p = n->out;
    n = fm_graph_add_node(g, FM_LAYER_RESIZE, "up", "Resize", &err);
    n->resize.scale_h = n->resize.scale_w = 2;
    fm_graph_connect(g, n, &p, 1, "u", &err);
    fm_graph_infer(g, n, &err);
    int in2[2] = {r, n->out};
    n = fm_graph_add_node(g, FM_LAYER_ELTWISE, "add", "Add", &err);
    n->eltwise.op = FM_ELTWISE_SUM;
    fm_graph_connect(g, n, in2, 2, "y", &err);
    FM_CHECK_MSG(fm_graph_infer(g, n, &err) == FM_OK, "%s", err.msg);
    fm_graph_add_output(g, n->out, &err);
    fm_net_opts o = fm_net_default_opts();
    o.keep_all_blobs = keep;
    fm_net *net = fm_net_build(g, &o, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    return net;
}

static void test_shared_value_in_place(void)
{
    fm_net *a = small_net(0), *b = small_net(1);
    if (!a || !b) {
        fm_net_free(a);
        fm_net_free(b);
        return;
    }
    uint64_t seed = 7;
    for (int run = 0; run < 2; run++) { /* the input is filled before each forward */
        fm_tensor *ia = fm_net_input(a, 0), *ib = fm_net_input(b, 0);
        for (size_t i = 0; i < fm_shape_count(&ia->shape); i++)
            ia->data[i] = ib->data[i] = fm_test_randf(&seed, -1, 1);
        fm_err err = {0};
        FM_CHECK(fm_net_forward(a, &err) == FM_OK && fm_net_forward(b, &err) == FM_OK);
        const fm_tensor *ya = fm_net_output(a, 0), *yb = fm_net_output(b, 0);
        FM_CHECK_INT((int)fm_shape_count(&ya->shape), 32);
        for (size_t i = 0; i < 32; i++)
            FM_CHECK_NEAR(ya->data[i], yb->data[i], 0);
        /* y = relu(x) + upsampled maxpool(relu(x)): check one value by hand */
        const float *x = ib->data;
        float r00 = x[0] > 0 ? x[0] : 0, m = 0;
        for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++) {
                float v = x[dy * 4 + dx] > 0 ? x[dy * 4 + dx] : 0;
                m = v > m ? v : m;
            }
        FM_CHECK_NEAR(yb->data[0], r00 + m, 1e-6);
    }
    fm_net_free(a);
    fm_net_free(b);
}

/* ---- errors: the real file with a few bytes changed ---------------------------- */

static unsigned char *g_file;
static size_t g_len;

static int load_yunet(void)
{
    if (g_file)
        return 1;
    char path[512];
    yunet_path(path, sizeof path, "yunet_n_640_640.onnx");
    g_file = (unsigned char *)fm_test_read_file(path, &g_len);
    FM_CHECK_MSG(g_file != NULL, "cannot read %s", path);
    return g_file != NULL;
}

/* Replaces the first occurrence of `from` (n bytes) by `to` in a copy of the file, writes
 * it and returns the import error ("" when it loaded). */
static const char *mutated_error(const void *from, const void *to, size_t n, char *msg,
                                 size_t msize)
{
    msg[0] = '\0';
    if (!load_yunet())
        return msg;
    unsigned char *copy = malloc(g_len);
    memcpy(copy, g_file, g_len);
    unsigned char *hit = NULL;
    for (size_t i = 0; i + n <= g_len && !hit; i++)
        if (memcmp(copy + i, from, n) == 0)
            hit = copy + i;
    FM_CHECK_MSG(hit != NULL, "pattern not in the file");
    if (hit)
        memcpy(hit, to, n);
    char path[512];
    snprintf(path, sizeof path, "%s/m.onnx", fm_test_tmpdir());
    FILE *f = fopen(path, "wb");
    fwrite(copy, 1, g_len, f);
    fclose(f);
    free(copy);
    fm_err err = {0};
    fm_net *net = fm_onnx_load_net(path, NULL, &err);
    if (net)
        fm_net_free(net);
    else
        snprintf(msg, msize, "%s", err.msg);
    return msg;
}

static void test_import_errors(void)
{
    char msg[1024];
    /* an op facemask does not have: named with its node, and the supported ones listed */
    mutated_error("\x22\x07Sigmoid", "\x22\x07Sigmaid", 9, msg, sizeof msg);
    FM_CHECK_STR_CONTAINS(msg, "node 'Sigmoid_94' (Sigmaid): op 'Sigmaid' is not supported");
    FM_CHECK_STR_CONTAINS(msg, "supported: Conv, Relu");
    FM_CHECK_STR_CONTAINS(msg, "m.onnx: ");
    /* an opset it doesn't know (opset_import { domain "" version 11 } -> 20) */
    mutated_error("\x0a\x00\x10\x0b", "\x0a\x00\x10\x14", 4, msg, sizeof msg);
    FM_CHECK_STR_CONTAINS(msg, "opset 20 is not supported (supported: 7 to 17)");
    /* a missing initializer: the first convolution's weight renamed */
    mutated_error("\x42\x03" "459", "\x42\x03" "999", 5, msg, sizeof msg);
    FM_CHECK_STR_CONTAINS(msg, "node 'Conv_0' (Conv): input 1 '459': no initializer of that name");
    /* a bad attribute: MaxPool with ceil_mode 2 (attribute i = 0 -> 2) */
    mutated_error("ceil_mode\x18\x00", "ceil_mode\x18\x02", 11, msg, sizeof msg);
    FM_CHECK_STR_CONTAINS(msg, "node 'MaxPool_5' (MaxPool): attribute 'ceil_mode' is 2, expected 0..1");
    /* a Resize mode it does not have */
    mutated_error("\x22\x07nearest", "\x22\x07nearesu", 9, msg, sizeof msg);
    FM_CHECK_STR_CONTAINS(msg, "(Resize): attribute 'mode' is 'nearesu' (supported: 'nearest')");
    /* a node reading a value nothing produces */
    mutated_error("\x0a\x03" "211", "\x0a\x03" "2x1", 5, msg, sizeof msg);
    FM_CHECK_STR_CONTAINS(msg, "node 'Conv_2' (Conv): input 0 '2x1' is not produced by any");
    /* a truncated file: the reader's message, with the file name */
    char path[512];
    snprintf(path, sizeof path, "%s/t.onnx", fm_test_tmpdir());
    if (load_yunet()) {
        FILE *f = fopen(path, "wb");
        fwrite(g_file, 1, g_len / 2, f);
        fclose(f);
        fm_err err = {0};
        FM_CHECK(fm_onnx_load_net(path, NULL, &err) == NULL);
        FM_CHECK_STR_CONTAINS(err.msg, "t.onnx");
        FM_CHECK_STR_CONTAINS(err.msg, "truncated");
    }
    /* an input size the model cannot take (not a multiple of 32): the Add's shapes */
    fm_net_opts o = fm_net_default_opts();
    o.input_shape = fm_shape4(1, 3, 104, 104); /* 13 rows at stride 8, 6 at 16: 12 after the upsample */
    yunet_path(path, sizeof path, "yunet_n_640_640.onnx");
    fm_err err = {0};
    FM_CHECK(fm_onnx_load_net(path, &o, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "(Add): inputs of shapes");
    /* more activation memory than allowed: refused at build, with the sizes */
    o.input_shape = fm_shape4(1, 3, 1024, 1024);
    o.max_memory = (size_t)16 << 20;
    FM_CHECK(fm_onnx_load_net(path, &o, &err) == NULL);
    FM_CHECK_INT(err.status, FM_ERR_LIMIT);
    FM_CHECK_STR_CONTAINS(err.msg, "MB of activations at this input size (limit 16 MB)");
    free(g_file);
    g_file = NULL;
}

extern void suite_onnx_import(void);
void suite_onnx_import(void)
{
    FM_RUN(test_yunet_loads_at_any_size);
    FM_RUN(test_op_table_whole);
    FM_RUN(test_shared_value_in_place);
    FM_RUN(test_import_errors);
}
