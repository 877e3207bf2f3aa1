/* libFuzzer target for building a network from a prototxt: the fuzzed bytes are the
 * .prototxt, the weights a fixed small valid .caffemodel written once at start-up (layers
 * conv1, bn1, scale1, fc with the shapes of fuzz/seeds/caffe_net/tiny.prototxt). Whatever
 * parses is imported (fm_caffe_import, the input forced to 1x3x32x32 so any graph stays
 * small), built (fm_net_build, at most 64 MB of activations) and run forward once. A failure must carry a message.
 *
 *     make fuzz && ./build-fuzz/fuzz_caffe_net fuzz/corpus-caffe_net/
 *     (seed it with sh fuzz/seed_corpora.sh: the seeds here plus the shared prototxts) */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caffe/caffe.h"
#include "caffe/caffemodel.h"
#include "nn/net.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[64], g_proto[96], g_model[96];

static void fill(float *v, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        v[i] = scale * (float)((int)((i * 2654435761u) % 17) - 8) / 8.0f;
}

static void remove_files(void)
{
    unlink(g_proto);
    unlink(g_model);
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(g_dir, sizeof g_dir, "/tmp/fuzz_caffe_net.XXXXXX");
    if (!mkdtemp(g_dir))
        abort();
    snprintf(g_proto, sizeof g_proto, "%s/net.prototxt", g_dir);
    snprintf(g_model, sizeof g_model, "%s/net.caffemodel", g_dir);
    atexit(remove_files);

    /* conv1 4x3x3x3 + bias; bn1 mean, variance, factor; scale1 gamma, beta; fc 2x900 + bias */
    static float conv_w[108], conv_b[4], mean[4], var[4], factor[1] = {1}, gamma[4], beta[4],
        fc_w[1800], fc_b[2];
    fill(conv_w, 108, 0.3f);
    fill(conv_b, 4, 0.1f);
    fill(mean, 4, 0.1f);
    for (int i = 0; i < 4; i++)
        var[i] = 1.0f + 0.25f * (float)i, gamma[i] = 1.0f, beta[i] = 0.05f * (float)i;
    fill(fc_w, 1800, 0.05f);
    fill(fc_b, 2, 0.1f);
    fm_caffe_blob conv[2] = {{fm_shape4(4, 3, 3, 3), 108, conv_w}, {fm_shape1(4), 4, conv_b}};
    fm_caffe_blob bn[3] = {{fm_shape1(4), 4, mean}, {fm_shape1(4), 4, var},
                           {fm_shape1(1), 1, factor}};
    fm_caffe_blob sc[2] = {{fm_shape1(4), 4, gamma}, {fm_shape1(4), 4, beta}};
    fm_caffe_blob fc[2] = {{fm_shape2(2, 900), 1800, fc_w}, {fm_shape1(2), 2, fc_b}};
    fm_caffe_layer layers[4] = {{"conv1", "Convolution", 2, conv},
                                {"bn1", "BatchNorm", 3, bn},
                                {"scale1", "Scale", 2, sc},
                                {"fc", "InnerProduct", 2, fc}};
    fm_caffemodel m = {"tiny", 4, layers};
    fm_err err = {0};
    if (fm_caffemodel_write(&m, g_model, &err) != FM_OK) {
        fprintf(stderr, "fuzz_caffe_net: %s\n", err.msg);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(g_proto, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);

    fm_err err = {0};
    fm_net_opts o = fm_net_default_opts();
    o.input_shape = fm_shape4(1, 3, 32, 32);
    o.max_memory = (size_t)64 << 20; /* a graph asking for more is refused, with a message */
    struct fm_graph *g = fm_caffe_import(g_proto, g_model, &o, &err);
    if (!g) {
        if (err.status == FM_OK || !err.msg[0])
            __builtin_trap(); /* every failure says why */
        return 0;
    }
    fm_net *net = fm_net_build(g, &o, &err);
    if (!net) {
        if (err.status == FM_OK || !err.msg[0])
            __builtin_trap();
        return 0;
    }
    for (int i = 0; i < fm_net_num_inputs(net); i++) {
        fm_tensor *in = fm_net_input(net, i);
        size_t n = fm_shape_count(&in->shape);
        fill(in->data, n, 1.0f);
    }
    err = (fm_err){0};
    if (fm_net_forward(net, &err) != FM_OK && !err.msg[0])
        __builtin_trap();
    fm_net_free(net);
    return 0;
}
