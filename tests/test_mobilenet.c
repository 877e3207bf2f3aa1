/* MobileNetV2 (ImageNet) through facemask's engine against OpenCV 4.6's logits
 * on the demo photos (fixture by tools/gen_cls_fixtures.py): depthwise and 1x1
 * convolutions, ReLU6, residual sums, global pooling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "face/classifier.h"
#include "io/image.h"
#include "caffe/caffe.h"
#include "nn/net.h"
#include "test.h"

static void check_logits(int reference)
{
    char *text = fm_test_read_file("tests/fixtures/cls/mobilenet_v2_logits.txt", NULL);
    FM_CHECK(text != NULL);
    if (!text)
        return;
    char proto[512], model[512];
    snprintf(proto, sizeof proto, "%s/models/mobilenet_v2/mobilenet_v2.prototxt", fm_test_shared());
    snprintf(model, sizeof model, "%s/models/mobilenet_v2/mobilenet_v2.caffemodel", fm_test_shared());
    fm_net_opts o = fm_net_default_opts();
    o.threads = 2;
    o.keep_all_blobs = 1;
    o.reference = reference;
    fm_err err = {0};
    fm_net *net = fm_caffe_load_net(proto, model, &o, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    fm_image *tmp = fm_image_new(224, 224, &err);
    int images = 0;
    double worst = 0;
    char *p = text;
    while (net && tmp && (p = strstr(p, "\nimage ")) != NULL) {
        char rel[256];
        int count = 0, used = 0;
        if (sscanf(p, "\nimage %255s %d%n", rel, &count, &used) != 2 || count != 1001)
            break;
        p += used;
        if (reference && images >= 2)
            break; /* the reference kernels are slow: two photos are enough */
        char path[512];
        snprintf(path, sizeof path, "%s/%s", fm_test_shared(), rel);
        fm_image *img = fm_image_load(path, 0, &err);
        FM_CHECK_MSG(img != NULL, "%s", err.msg);
        if (!img)
            break;
        static const float mean[3] = {128, 128, 128};
        fm_blob_from_image(img, 224, 224, mean, 1.0f / 128, 1, tmp, fm_net_input(net, 0)->data);
        fm_image_free(img);
        FM_CHECK(fm_net_forward(net, &err) == FM_OK);
        const fm_tensor *logits = fm_net_blob(net, "Logits");
        FM_CHECK(logits != NULL && fm_shape_count(&logits->shape) == 1001);
        if (!logits)
            break;
        double img_worst = 0;
        for (int i = 0; i < 1001; i++) {
            double want = strtod(p, &p);
            double d = fabs(want - (double)logits->data[i]);
            if (d > img_worst)
                img_worst = d;
        }
        FM_CHECK_MSG(img_worst <= 1e-3, "%s: largest logit difference %g", rel, img_worst);
        if (img_worst > worst)
            worst = img_worst;
        images++;
    }
    FM_CHECK(images >= (reference ? 2 : 8));
    printf("  %d images, largest logit difference from OpenCV %.2g\n", images, worst);
    fm_image_free(tmp);
    fm_net_free(net);
    free(text);
}

static void test_mobilenet_logits_match_opencv(void)
{
    check_logits(0);
}

static void test_mobilenet_reference_kernels(void)
{
    check_logits(1);
}


/* The committed classifier (models/mask) through facemask's engine against OpenCV 4.6 on
 * the same Caffe files (fixture: tools/gen_cls_fixtures.py --mask-model models/mask):
 * probabilities within 1e-4, and the logits before the softmax within 1e-3. */
static void test_trained_classifier_matches_opencv(void)
{
    char *text = fm_test_read_file("tests/fixtures/cls/mask_model_probs.txt", NULL);
    FM_CHECK(text != NULL);
    if (!text)
        return;
    fm_net_opts o = fm_net_default_opts();
    o.keep_all_blobs = 1;
    fm_err err = {0};
    fm_classifier *c = fm_classifier_load("models/mask", &o, &err);
    FM_CHECK_MSG(c != NULL, "%s", err.msg);
    int n = 0;
    double worst_p = 0, worst_z = 0;
    for (char *line = strtok(text, "\n"); c && line; line = strtok(NULL, "\n")) {
        char rel[256];
        double p0, p1, z0, z1;
        if (line[0] == '#' || sscanf(line, "%255s %lf %lf %lf %lf", rel, &p0, &p1, &z0, &z1) != 5)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", fm_test_shared(), rel);
        fm_image *img = fm_image_load(path, 0, &err);
        FM_CHECK_MSG(img != NULL, "%s", err.msg);
        if (!img)
            continue;
        fm_classifier_crop(c, img);
        fm_image_free(img);
        fm_net *net = fm_classifier_net(c);
        const fm_tensor *prob = fm_net_output(net, 0), *z = fm_net_blob(net, "fc2");
        FM_CHECK(z != NULL);
        if (!z)
            break;
        double dp = fmax(fabs(prob->data[0] - p0), fabs(prob->data[1] - p1));
        double dz = fmax(fabs(z->data[0] - z0), fabs(z->data[1] - z1));
        FM_CHECK_MSG(dp <= 1e-4 && dz <= 1e-3, "%s: probability off by %g, logits by %g", rel, dp,
                     dz);
        worst_p = fmax(worst_p, dp);
        worst_z = fmax(worst_z, dz);
        n++;
    }
    FM_CHECK(n >= 20);
    printf("  %d crops, largest difference from OpenCV: probability %.2g, logit %.2g\n", n, worst_p,
           worst_z);
    fm_classifier_free(c);
    free(text);
}

void suite_mobilenet(void);
void suite_mobilenet(void)
{
    FM_RUN(test_mobilenet_logits_match_opencv);
    FM_RUN(test_mobilenet_reference_kernels);
    FM_RUN(test_trained_classifier_matches_opencv);
}
