/* Tests of the network builder: folding, memory planning, error paths, and
 * res10 end to end against the reference kernels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caffe/caffemodel.h"
#include "caffe/caffe.h"
#include "nn/net.h"
#include "test.h"

static char g_proto[512], g_model[512];

static const char *res10_proto(void)
{
    snprintf(g_proto, sizeof g_proto, "%s/models/res10/deploy.prototxt", fm_test_shared());
    return g_proto;
}

static const char *res10_model(void)
{
    snprintf(g_model, sizeof g_model, "%s/models/res10/res10_300x300_ssd_iter_140000.caffemodel",
             fm_test_shared());
    return g_model;
}

/* A tiny model: conv 1x1 (2 -> 2) + BatchNorm + Scale + ReLU, then an Eltwise
 * sum with the input, written with facemask's own encoder. */
static const char *tiny_proto =
    "name: \"tiny\"\n"
    "input: \"data\"\n"
    "input_shape { dim: 1 dim: 2 dim: 1 dim: 2 }\n"
    "layer { name: \"conv\" type: \"Convolution\" bottom: \"data\" top: \"conv\"\n"
    "  convolution_param { num_output: 2 kernel_size: 1 } }\n"
    "layer { name: \"bn\" type: \"BatchNorm\" bottom: \"conv\" top: \"conv\" }\n"
    "layer { name: \"sc\" type: \"Scale\" bottom: \"conv\" top: \"conv\"\n"
    "  scale_param { bias_term: true } }\n"
    "layer { name: \"relu\" type: \"ReLU\" bottom: \"conv\" top: \"conv\" }\n"
    "layer { name: \"sum\" type: \"Eltwise\" bottom: \"conv\" bottom: \"data\" top: \"sum\" }\n";

static float w_conv[4] = {1, 2, -1, 0.5f}; /* (2, 2, 1, 1) */
static float b_conv[2] = {0.5f, -1};
static float bn_mean[2] = {2, 0}, bn_var[2] = {4, 1}, bn_sf[1] = {2}; /* mean/2, var/2 */
static float sc_w[2] = {3, -2}, sc_b[2] = {1, 0.25f};

static void write_tiny(const char *dir, char *proto, char *model, size_t size, int wrong_shape)
{
    snprintf(proto, size, "%s/tiny.prototxt", dir);
    snprintf(model, size, "%s/tiny.caffemodel", dir);
    fm_test_write_text(proto, tiny_proto);
    fm_caffe_blob conv_blobs[2] = {{wrong_shape ? fm_shape4(4, 1, 1, 1) : fm_shape4(2, 2, 1, 1),
                                    4, w_conv},
                                   {fm_shape1(2), 2, b_conv}};
    fm_caffe_blob bn_blobs[3] = {{fm_shape1(2), 2, bn_mean},
                                 {fm_shape1(2), 2, bn_var},
                                 {fm_shape1(1), 1, bn_sf}};
    fm_caffe_blob sc_blobs[2] = {{fm_shape1(2), 2, sc_w}, {fm_shape1(2), 2, sc_b}};
    fm_caffe_layer layers[3] = {{"conv", "Convolution", 2, conv_blobs},
                                {"bn", "BatchNorm", 3, bn_blobs},
                                {"sc", "Scale", 2, sc_blobs}};
    fm_caffemodel m = {"tiny", 3, layers};
    fm_err err = {0};
    FM_CHECK_MSG(fm_caffemodel_write(&m, model, &err) == FM_OK, "%s", err.msg);
}

/* The expected output, computed by hand for input x = [[1, -2], [3, 4]] (c, w). */
static void tiny_expected(const float *x, float *y)
{
    for (int o = 0; o < 2; o++) {
        for (int p = 0; p < 2; p++) {
            float conv = w_conv[o * 2 + 0] * x[0 * 2 + p] + w_conv[o * 2 + 1] * x[1 * 2 + p] +
                         b_conv[o];
            float bn = (conv - bn_mean[o] / bn_sf[0]) / sqrtf(bn_var[o] / bn_sf[0] + 1e-5f);
            float sc = bn * sc_w[o] + sc_b[o];
            float relu = sc > 0 ? sc : 0;
            y[o * 2 + p] = relu + x[o * 2 + p];
        }
    }
}

static void run_tiny(int fold, int fuse, int reference, int keep)
{
    char proto[512], model[512];
    write_tiny(fm_test_tmpdir(), proto, model, sizeof proto, 0);
    fm_net_opts o = fm_net_default_opts();
    o.fold_batchnorm = fold;
    o.fuse_activations = fuse;
    o.reference = reference;
    o.keep_all_blobs = keep;
    fm_err err = {0};
    fm_net *net = fm_caffe_load_net(proto, model, &o, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    if (!net)
        return;
    float x[4] = {1, -2, 3, 4}, want[4];
    tiny_expected(x, want);
    memcpy(fm_net_input(net, 0)->data, x, sizeof x);
    FM_CHECK(fm_net_forward(net, &err) == FM_OK);
    FM_CHECK_INT(fm_net_num_outputs(net), 1);
    const fm_tensor *y = fm_net_output(net, 0);
    FM_CHECK(strcmp(fm_net_output_name(net, 0), "sum") == 0);
    for (int i = 0; i < 4; i++)
        FM_CHECK_NEAR(y->data[i], want[i], 1e-5);
    /* Folding removes BatchNorm, Scale and ReLU as separate layers. */
    int expect_layers = fold ? (fuse ? 2 : 3) : (fuse ? 4 : 5);
    FM_CHECK_INT(fm_net_num_layers(net), expect_layers);
    fm_net_free(net);
}

static void test_tiny_folded(void)
{
    run_tiny(1, 1, 0, 0);
}

static void test_tiny_unfolded(void)
{
    run_tiny(0, 0, 0, 0);
}

static void test_tiny_fold_only(void)
{
    run_tiny(1, 0, 0, 0);
}

static void test_tiny_reference_keep_all(void)
{
    run_tiny(1, 1, 1, 1);
    run_tiny(0, 1, 1, 1);
}

static void expect_load_error(const char *proto, const char *model, const char *needle1,
                              const char *needle2)
{
    fm_err err = {0};
    fm_net *net = fm_caffe_load_net(proto, model, NULL, &err);
    FM_CHECK(net == NULL);
    fm_net_free(net);
    FM_CHECK(strchr(err.msg, '\n') == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, needle1);
    if (needle2)
        FM_CHECK_STR_CONTAINS(err.msg, needle2);
}

static void test_error_blob_shape(void)
{
    char proto[512], model[512];
    write_tiny(fm_test_tmpdir(), proto, model, sizeof proto, 1);
    expect_load_error(proto, model, "layer 'conv' blob 0 (weights) has shape 4x1x1x1",
                      "the prototxt implies 2x2x1x1");
}

/* A copy of res10's prototxt with one substitution. */
static void patched_res10(const char *from, const char *to, char *out, size_t size)
{
    size_t len;
    char *text = fm_test_read_file(res10_proto(), &len);
    FM_CHECK(text != NULL);
    if (!text)
        return;
    char *at = strstr(text, from);
    FM_CHECK(at != NULL);
    snprintf(out, size, "%s/patched.prototxt", fm_test_tmpdir());
    FILE *f = fopen(out, "wb");
    if (f && at) {
        fwrite(text, 1, (size_t)(at - text), f);
        fputs(to, f);
        fputs(at + strlen(from), f);
    }
    if (f)
        fclose(f);
    free(text);
}

static void test_error_unknown_layer(void)
{
    char p[512];
    patched_res10("type: \"Permute\"", "type: \"Permutate\"", p, sizeof p);
    /* The first Permute is conv4_3_norm_mbox_loc_perm, at line 1018 of the prototxt. */
    expect_load_error(p, res10_model(), "layer 'conv4_3_norm_mbox_loc_perm' (Permutate)",
                      "unknown layer type 'Permutate'");
    expect_load_error(p, res10_model(), "patched.prototxt:", NULL);
}

static void test_error_syntax(void)
{
    char p[512];
    patched_res10("  name: \"conv1_h\"", "  name: \"conv1_h\" }}", p, sizeof p);
    fm_err err = {0};
    fm_net *net = fm_caffe_load_net(p, res10_model(), NULL, &err);
    FM_CHECK(net == NULL);
    /* line:col of the stray brace; the file name first */
    FM_CHECK_STR_CONTAINS(err.msg, "patched.prototxt:");
    fm_net_free(net);
}

static void test_error_missing_bottom(void)
{
    char p[512];
    patched_res10("bottom: \"conv1_pool\"", "bottom: \"conv1_poool\"", p, sizeof p);
    expect_load_error(p, res10_model(), "bottom 'conv1_poool' is not produced", NULL);
}

static void test_error_truncated_model(void)
{
    size_t len;
    char *bytes = fm_test_read_file(res10_model(), &len);
    FM_CHECK(bytes != NULL);
    if (!bytes)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/trunc.caffemodel", fm_test_tmpdir());
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(bytes, 1, len / 2, f);
        fclose(f);
    }
    free(bytes);
    expect_load_error(res10_proto(), path, "trunc.caffemodel", NULL);
    snprintf(path, sizeof path, "%s/missing.caffemodel", fm_test_tmpdir());
    expect_load_error(res10_proto(), path, "missing.caffemodel", NULL);
}

/* res10 on a synthetic input: fast kernels, folded, against reference kernels, unfolded. */
static void test_res10_fast_vs_reference(void)
{
    fm_err err = {0};
    fm_net_opts fast = fm_net_default_opts();
    fast.threads = 2;
    fm_net_opts ref = fm_net_default_opts();
    ref.reference = 1;
    ref.fold_batchnorm = 0;
    ref.fuse_activations = 0;
    fm_net *a = fm_caffe_load_net(res10_proto(), res10_model(), &fast, &err);
    FM_CHECK_MSG(a != NULL, "%s", err.msg);
    fm_net *b = fm_caffe_load_net(res10_proto(), res10_model(), &ref, &err);
    FM_CHECK_MSG(b != NULL, "%s", err.msg);
    if (!a || !b) {
        fm_net_free(a);
        fm_net_free(b);
        return;
    }
    FM_CHECK(fm_net_num_layers(a) < fm_net_num_layers(b));
    /* A smooth synthetic image: two bright blobs on a gradient, as preprocessed pixels. */
    fm_tensor *ia = fm_net_input(a, 0), *ib = fm_net_input(b, 0);
    FM_CHECK(fm_shape_eq(&ia->shape, &ib->shape));
    uint64_t rng = 7;
    size_t n = fm_shape_count(&ia->shape);
    for (size_t i = 0; i < n; i++)
        ia->data[i] = ib->data[i] = fm_test_randf(&rng, -100.0f, 100.0f);
    FM_CHECK(fm_net_forward(a, &err) == FM_OK);
    FM_CHECK(fm_net_forward(b, &err) == FM_OK);
    const fm_tensor *oa = fm_net_output(a, 0), *ob = fm_net_output(b, 0);
    FM_CHECK_INT(oa->shape.d[2], ob->shape.d[2]);
    int rows = oa->shape.d[2] < ob->shape.d[2] ? oa->shape.d[2] : ob->shape.d[2];
    double worst = 0;
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < 7; k++) {
            double d = fabs((double)oa->data[r * 7 + k] - (double)ob->data[r * 7 + k]);
            if (d > worst)
                worst = d;
        }
    FM_CHECK_MSG(worst < 2e-3, "largest difference in detection rows %g", worst);
    fm_net_free(a);
    fm_net_free(b);
}

/* InnerProduct (with a fused ReLU) and Softmax, by hand; also the layer-info view. */
static void test_inner_product(void)
{
    const char *dir = fm_test_tmpdir();
    char proto[512], model[512];
    snprintf(proto, sizeof proto, "%s/ip.prototxt", dir);
    snprintf(model, sizeof model, "%s/ip.caffemodel", dir);
    fm_test_write_text(proto,
                       "input: \"data\"\ninput_shape { dim: 2 dim: 3 dim: 1 dim: 1 }\n"
                       "layer { name: \"fc\" type: \"InnerProduct\" bottom: \"data\" top: \"fc\"\n"
                       "  inner_product_param { num_output: 2 } }\n"
                       "layer { name: \"relu\" type: \"ReLU\" bottom: \"fc\" top: \"fc\" }\n"
                       "layer { name: \"drop\" type: \"Dropout\" bottom: \"fc\" top: \"fc\" }\n"
                       "layer { name: \"prob\" type: \"Softmax\" bottom: \"fc\" top: \"prob\" }\n");
    float w[6] = {1, -1, 2, 0.5f, 0.25f, -3}, b[2] = {0.5f, 1};
    fm_caffe_blob blobs[2] = {{fm_shape2(2, 3), 6, w}, {fm_shape1(2), 2, b}};
    fm_caffe_layer layers[1] = {{"fc", "InnerProduct", 2, blobs}};
    fm_caffemodel m = {"ip", 1, layers};
    fm_err err = {0};
    FM_CHECK_MSG(fm_caffemodel_write(&m, model, &err) == FM_OK, "%s", err.msg);
    fm_net *net = fm_caffe_load_net(proto, model, NULL, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    if (!net)
        return;
    float x[6] = {1, 2, 3, -1, 0, 1};
    memcpy(fm_net_input(net, 0)->data, x, sizeof x);
    FM_CHECK(fm_net_forward(net, &err) == FM_OK);
    const fm_tensor *y = fm_net_output(net, 0);
    FM_CHECK_INT(y->shape.ndim, 2);
    FM_CHECK_INT(y->shape.d[1], 2);
    for (int n = 0; n < 2; n++) {
        float z[2];
        for (int o = 0; o < 2; o++) {
            float v = b[o];
            for (int k = 0; k < 3; k++)
                v += w[o * 3 + k] * x[n * 3 + k];
            z[o] = v > 0 ? v : 0;
        }
        float e0 = expf(z[0]), e1 = expf(z[1]);
        FM_CHECK_NEAR(y->data[n * 2 + 0], e0 / (e0 + e1), 1e-6);
        FM_CHECK_NEAR(y->data[n * 2 + 1], e1 / (e0 + e1), 1e-6);
    }
    fm_layer_info info;
    FM_CHECK(fm_net_layer_info(net, 0, &info));
    FM_CHECK_INT(info.kind, FM_LAYER_IP);
    FM_CHECK_INT(info.act.act, FM_ACT_RELU);
    FM_CHECK(info.ip && info.ip->num_output == 2);
    FM_CHECK_INT(info.nw, 6);
    FM_CHECK_NEAR(info.w[5], -3, 0);
    FM_CHECK(!fm_net_layer_info(net, fm_net_num_layers(net), &info));
    fm_net_free(net);

    /* A weight blob of the wrong size names both shapes. */
    fm_caffe_blob bad[2] = {{fm_shape2(3, 2), 6, w}, {fm_shape1(2), 2, b}};
    layers[0].blobs = bad;
    FM_CHECK(fm_caffemodel_write(&m, model, &err) == FM_OK);
    expect_load_error(proto, model, "blob 0 (weights) has shape 3x2", "implies 2x3");
}

void suite_net(void);
void suite_net(void)
{
    FM_RUN(test_tiny_folded);
    FM_RUN(test_tiny_unfolded);
    FM_RUN(test_tiny_fold_only);
    FM_RUN(test_tiny_reference_keep_all);
    FM_RUN(test_error_blob_shape);
    FM_RUN(test_error_unknown_layer);
    FM_RUN(test_error_syntax);
    FM_RUN(test_error_missing_bottom);
    FM_RUN(test_error_truncated_model);
    FM_RUN(test_res10_fast_vs_reference);
    FM_RUN(test_inner_product);
}
