/* MobileNetV2 (ImageNet) through facemask's engine against OpenCV 4.6's logits
 * on the demo photos (fixture by tools/gen_cls_fixtures.py): depthwise and 1x1
 * convolutions, ReLU6, residual sums, global pooling. Then the trained classifier's network
 * against OpenCV, and its mirrored second pass (classifier.cfg flip_average). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/crop.h"
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


/* The committed classifier's network (models/mask) through facemask's engine against OpenCV
 * 4.6 on the same Caffe files (fixture: tools/gen_cls_fixtures.py --mask-model models/mask):
 * one forward of each whole image resized to S x S, probabilities within 1e-4, and the logits
 * before the softmax within 1e-3. */
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
        fm_net *net = fm_classifier_net(c);
        const int S = fm_classifier_config(c)->input_size;
        fm_image *in = fm_image_new(S, S, &err);
        FM_CHECK_MSG(in != NULL, "%s", err.msg);
        if (in) {
            fm_resize_bilinear(img, in);
            fm_crop_to_input(in, fm_net_input(net, 0)->data);
            fm_net_forward(net, NULL);
        }
        fm_image_free(in);
        fm_image_free(img);
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

/* A copy of models/mask whose classifier.cfg says flip_average `on` (0, 1, or -1: no such
 * line, as a model from before the setting). Returns the folder. */
static const char *mask_copy(int on, char *dir, size_t size)
{
    snprintf(dir, size, "%s/mask-flip%d", fm_test_tmpdir(), on);
    mkdir(dir, 0700);
    const char *files[] = {"classifier.prototxt", "classifier.caffemodel"};
    for (int i = 0; i < 2; i++) {
        char from[256], to[700];
        snprintf(from, sizeof from, "models/mask/%s", files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        size_t n = 0;
        char *data = fm_test_read_file(from, &n);
        FILE *f = fopen(to, "wb");
        FM_CHECK(data && f && fwrite(data, 1, n, f) == n);
        if (f)
            fclose(f);
        free(data);
    }
    char cfg[700];
    snprintf(cfg, sizeof cfg, "%s/classifier.cfg", dir);
    FILE *f = fopen(cfg, "w");
    FM_CHECK(f != NULL);
    if (f) {
        fprintf(f, "input_size 128\ncrop_margin 0\ncrop_square 1\nclasses with_mask without_mask\n"
                   "mask_class 0\n");
        if (on >= 0)
            fprintf(f, "flip_average %d\n", on);
        fclose(f);
    }
    return dir;
}

static fm_image *mirrored(const fm_image *img)
{
    fm_image *m = fm_image_new(img->w, img->h, NULL);
    for (int y = 0; m && y < img->h; y++)
        for (int x = 0; x < img->w; x++)
            memcpy(m->data + (size_t)y * m->stride + (size_t)x * 3,
                   img->data + (size_t)y * img->stride + (size_t)(img->w - 1 - x) * 3, 3);
    return m;
}

/* flip_average 1: the mean of the crop's and its mirror image's probabilities, so an image and
 * its mirror image get exactly the same one; a cfg without the line runs one pass. */
static void test_classifier_flip_average(void)
{
    char d0[600], d1[600], dold[600];
    fm_err err = {0};
    fm_classifier *c0 = fm_classifier_load(mask_copy(0, d0, sizeof d0), NULL, &err);
    fm_classifier *c1 = fm_classifier_load(mask_copy(1, d1, sizeof d1), NULL, &err);
    fm_classifier *cold = fm_classifier_load(mask_copy(-1, dold, sizeof dold), NULL, &err);
    FM_CHECK_MSG(c0 && c1 && cold, "%s", err.msg);
    if (!c0 || !c1 || !cold)
        goto done;
    FM_CHECK_INT(fm_classifier_config(c1)->flip_average, 1);
    FM_CHECK_INT(fm_classifier_config(cold)->flip_average, 0);
    const char *imgs[] = {"data/mask_cls/with_mask/0000.jpg", "data/mask_cls/without_mask/0000.jpg",
                          "demo/coral_face.jpg"};
    int asymmetric = 0;
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", fm_test_shared(), imgs[i]);
        fm_image *img = fm_image_load(path, 0, &err), *m = img ? mirrored(img) : NULL;
        FM_CHECK_MSG(img && m, "%s: %s", path, err.msg);
        if (img && m) {
            float a = fm_classifier_crop(c0, img), b = fm_classifier_crop(c0, m);
            float both = fm_classifier_crop(c1, img), both_m = fm_classifier_crop(c1, m);
            FM_CHECK_MSG(fabsf(both - 0.5f * (a + b)) <= 1e-6f, "%s: %g, expected (%g + %g) / 2",
                         imgs[i], (double)both, (double)a, (double)b);
            FM_CHECK_MSG(both == both_m, "%s: %g for the image, %g for its mirror", imgs[i],
                         (double)both, (double)both_m);
            FM_CHECK(fm_classifier_crop(cold, img) == a);
            asymmetric += a != b;
        }
        fm_image_free(img);
        fm_image_free(m);
    }
    FM_CHECK(asymmetric > 0); /* the single pass is not mirror-symmetric, so the test can fail */
done:
    fm_classifier_free(c0);
    fm_classifier_free(c1);
    fm_classifier_free(cold);
}

void suite_mobilenet(void);
void suite_mobilenet(void)
{
    FM_RUN(test_mobilenet_logits_match_opencv);
    FM_RUN(test_mobilenet_reference_kernels);
    FM_RUN(test_trained_classifier_matches_opencv);
    FM_RUN(test_classifier_flip_average);
}
