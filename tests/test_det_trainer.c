/* Tests of the detector's fine-tuning (train/det_trainer.h, `facemask train-detector`):
 *   - one step: YuNet-n at 128x128, two synthetic images with a face each; SimOTA finds
 *     positives, a small step down the (positive-normalised) gradient lowers the loss on the
 *     same batch, and 1 and 2 threads give bit-identical losses and gradients;
 *   - the landmark branch: the probe freezes exactly YuNet-n's 6 landmark-only convolutions,
 *     and a step then leaves every one of their weights as it was;
 *   - the command on a tiny VOC folder (3 training images, 1 validation, 1 held out, from
 *     mask_det, and a corrupt image on the training side): 1 epoch at 64x64 writes
 *     detector.onnx, trained_on.txt, report.json and report.svg; the corrupt image is skipped
 *     and counted; a second run into the same --out is refused and writes nothing; with
 *     --force and 1 thread instead of 2 the model is byte for byte the same;
 *   - a folder whose annotations hold no face is refused with one line.
 */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/voc.h"
#include "nn/net.h"
#include "onnx/onnx.h"
#include "test.h"
#include "train/det_trainer.h"
#include "train/optim.h"
#include "train/trainer.h"

#define S 128

static fm_net *load(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/yunet/yunet_n_640_640.onnx", fm_test_shared());
    fm_net_opts o = fm_net_default_opts();
    o.input_shape = fm_shape4(1, 3, S, S);
    fm_err err = {0};
    fm_net *net = fm_onnx_load_net(path, &o, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    return net;
}

static fm_tnet *make(fm_net *net, int threads, fm_det_loss *l)
{
    fm_err err = {0};
    fm_tnet *t = net ? fm_tnet_create_outputs(net, NULL, 2, threads, &err) : NULL;
    FM_CHECK_MSG(t != NULL, "%s", err.msg);
    if (!t)
        return NULL;
    FM_CHECK(fm_tnet_set_logit_outputs(t, 1, &err) == FM_OK);
    FM_CHECK_MSG(fm_det_loss_init(l, t, S, S, &err) == FM_OK, "%s", err.msg);
    return t;
}

/* Two images: a textured background with a bright, face-sized blob at each box. */
static float *images(const fm_det_box *b)
{
    float *x = malloc(2 * 3 * S * S * sizeof(float));
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < S; y++)
                for (int u = 0; u < S; u++) {
                    int in = u >= b[i].x1 && u < b[i].x2 && y >= b[i].y1 && y < b[i].y2;
                    x[((size_t)i * 3 + c) * S * S + (size_t)y * S + u] =
                        in ? 200.0f + 20.0f * c : (float)((u * 7 + y * 13 + c * 40 + i * 9) % 90);
                }
    return x;
}

static const fm_det_box g_faces[2] = {{30, 34, 78, 90, 0}, {60, 20, 100, 70, 1}};

static void test_det_step_lowers_loss(void)
{
    fm_net *net = load();
    fm_det_loss l1, l2;
    fm_tnet *t1 = make(net, 1, &l1), *t2 = make(net, 2, &l2);
    if (!t1 || !t2)
        goto done;
    float *x = images(g_faces);
    const fm_det_box *bp[2] = {&g_faces[0], &g_faces[1]};
    int nb[2] = {1, 1}, np1, np2;
    double a, b;
    fm_err err = {0};
    FM_CHECK_MSG(fm_det_step(t1, &l1, x, 2, bp, nb, 7, &a, &np1, &err) == FM_OK, "%s", err.msg);
    FM_CHECK_MSG(fm_det_step(t2, &l2, x, 2, bp, nb, 7, &b, &np2, &err) == FM_OK, "%s", err.msg);
    FM_CHECK(np1 >= 2 && np1 == np2);
    FM_CHECK(a == b && a > 0);
    size_t n = fm_tnet_num_params(t1);
    FM_CHECK_MSG(memcmp(fm_tnet_grads(t1), fm_tnet_grads(t2), n * sizeof(float)) == 0,
                 "1 and 2 threads give different gradients");
    /* a short step (1e-4 long: first order, and the same cells assigned) */
    float *p = fm_tnet_params(t1);
    const float *g = fm_tnet_grads(t1);
    double gn = 0;
    for (size_t k = 0; k < n; k++)
        gn += (double)g[k] * g[k];
    float lr = (float)(1e-4 / sqrt(gn));
    for (size_t k = 0; k < n; k++)
        p[k] -= lr * g[k];
    FM_CHECK(fm_det_step(t1, &l1, x, 2, bp, nb, 7, &b, NULL, &err) == FM_OK);
    FM_CHECK_MSG(b < a, "a step down the gradient took the loss from %g to %g", a, b);
    free(x);
done:
    fm_tnet_free(t1);
    fm_tnet_free(t2);
    fm_net_free(net);
}

static void test_det_freeze_landmarks(void)
{
    fm_net *net = load();
    fm_det_loss l;
    fm_tnet *t = make(net, 2, &l);
    if (!t)
        goto done;
    float *x = images(g_faces);
    fm_err err = {0};
    int frozen = -1;
    FM_CHECK(fm_det_freeze_landmarks(t, x, 2, &frozen, &err) == FM_OK);
    FM_CHECK_INT(frozen, 6);
    static const char *const kps[6] = {"Conv_81", "Conv_82", "Conv_83",
                                       "Conv_84", "Conv_85", "Conv_86"};
    size_t n = fm_tnet_num_params(t);
    float *before = malloc(n * sizeof(float));
    memcpy(before, fm_tnet_params(t), n * sizeof(float));
    const fm_det_box *bp[2] = {&g_faces[0], &g_faces[1]};
    int nb[2] = {1, 1};
    double loss;
    FM_CHECK(fm_det_step(t, &l, x, 2, bp, nb, 1, &loss, NULL, &err) == FM_OK);
    fm_optim_opts oo = fm_optim_default_opts(FM_OPTIM_ADAM);
    oo.weight_decay = 0.1f;
    fm_optim *opt = fm_optim_create(&oo, n, &err);
    fm_optim_step(opt, fm_tnet_params(t), fm_tnet_grads(t), fm_tnet_trainable_mask(t));
    for (int k = 0; k < 6; k++) {
        int i = fm_tnet_find_layer(t, kps[k]);
        FM_CHECK_MSG(i >= 0 && !fm_tnet_layer_trainable(t, i), "%s is not frozen", kps[k]);
        size_t off, cnt = i >= 0 ? fm_tnet_layer_params(t, i, &off) : 0;
        FM_CHECK(cnt > 0 && memcmp(before + off, fm_tnet_params(t) + off, cnt * sizeof(float)) == 0);
    }
    fm_optim_free(opt);
    free(before);
    free(x);
done:
    fm_tnet_free(t);
    fm_net_free(net);
}

/* ---- the command ------------------------------------------------------------------------- */

static int run_cmd(const char *args, char **out)
{
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", fm_test_bin(), args);
    return fm_test_cmd(cmd, out);
}

static void link_item(const char *root, const char *stem)
{
    char src[PATH_MAX + 100], dst[700];
    char shared[PATH_MAX];
    FM_CHECK(realpath(fm_test_shared(), shared) != NULL); /* links resolve from their folder */
    snprintf(src, sizeof src, "%s/data/mask_det/images/%s.jpg", shared, stem);
    snprintf(dst, sizeof dst, "%s/images/%s.jpg", root, stem);
    FM_CHECK(symlink(src, dst) == 0);
    snprintf(src, sizeof src, "%s/data/mask_det/annotations/%s.xml", shared, stem);
    snprintf(dst, sizeof dst, "%s/annotations/%s.xml", root, stem);
    FM_CHECK(symlink(src, dst) == 0);
}

/* Picks mask_det images by side: 3 training, 1 validation, 1 held out (seed 42). */
static void make_voc(const char *root)
{
    char p[700];
    mkdir(root, 0700);
    snprintf(p, sizeof p, "%s/images", root);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/annotations", root);
    mkdir(p, 0700);
    int want[3] = {1, 1, 3}; /* held out, validation, training */
    for (int i = 0; i < 100 && (want[0] || want[1] || want[2]); i++) {
        char stem[64], name[80];
        snprintf(stem, sizeof stem, "maksssksksss%d", i);
        snprintf(name, sizeof name, "%s.jpg", stem); /* the split hashes the file name */
        char have[PATH_MAX + 100];
        struct stat st;
        snprintf(have, sizeof have, "%s/data/mask_det/annotations/%s.xml", fm_test_shared(), stem);
        if (stat(have, &st) != 0) /* mask_det's numbering has gaps */
            continue;
        int side = fm_voc_is_train_image(name, 42, 0.5f)
                       ? (fm_voc_is_train_image(name, 42 ^ FM_DET_VAL_SALT, 0.15f) ? 1 : 2)
                       : 0;
        if (want[side]) {
            want[side]--;
            link_item(root, stem);
        }
    }
    FM_CHECK(!want[0] && !want[1] && !want[2]);
    /* a corrupt image on the training side, with a face */
    for (int i = 0; i < 100; i++) {
        char name[64];
        snprintf(name, sizeof name, "broken%d.jpg", i);
        if (!fm_voc_is_train_image(name, 42, 0.5f) ||
            fm_voc_is_train_image(name, 42 ^ FM_DET_VAL_SALT, 0.15f))
            continue;
        snprintf(p, sizeof p, "%s/images/%s", root, name);
        fm_test_write_text(p, "not a JPEG");
        snprintf(p, sizeof p, "%s/annotations/broken%d.xml", root, i);
        fm_test_write_text(p, "<annotation><object><name>with_mask</name><bndbox><xmin>1</xmin>"
                              "<ymin>1</ymin><xmax>20</xmax><ymax>20</ymax></bndbox></object>"
                              "</annotation>");
        break;
    }
}

static void test_train_detector_tiny_run(void)
{
    const char *dir = fm_test_tmpdir();
    char voc[600], out[600], args[2000], path[700], *log = NULL;
    snprintf(voc, sizeof voc, "%s/voc", dir);
    snprintf(out, sizeof out, "%s/det", dir);
    make_voc(voc);
    const char *common = "--epochs 1 --input-size 64 --batch 2";
    snprintf(args, sizeof args, "train-detector --voc %s --out %s --model-dir %s/models %s -j 2",
             voc, out, fm_test_shared(), common);
    int rc = run_cmd(args, &log);
    FM_CHECK_MSG(rc == 0, "exit %d: %s", rc, log ? log : "");
    FM_CHECK_STR_CONTAINS(log, "3 training images");
    FM_CHECK_STR_CONTAINS(log, "1 validation (");
    FM_CHECK_STR_CONTAINS(log, "1 held out (");
    FM_CHECK_STR_CONTAINS(log, "1 unreadable skipped");
    FM_CHECK_STR_CONTAINS(log, "broken");
    free(log);
    static const char *const files[] = {"detector.onnx", "trained_on.txt", "report.json",
                                        "report.svg"};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/%s", out, files[k]);
        struct stat st;
        FM_CHECK_MSG(stat(path, &st) == 0 && st.st_size > 0, "%s not written", path);
    }
    snprintf(path, sizeof path, "%s/report.json", out);
    char *json = fm_test_read_file(path, NULL);
    FM_CHECK_STR_CONTAINS(json, "\"unreadable_skipped\": 1");
    FM_CHECK_STR_CONTAINS(json, "\"fine_tuned\"");
    free(json);
    snprintf(path, sizeof path, "%s/detector.onnx", out);
    size_t len1, len2;
    char *m1 = fm_test_read_file(path, &len1);

    /* the same --out again: refused, nothing touched */
    rc = run_cmd(args, &log);
    FM_CHECK_INT(rc, 1);
    FM_CHECK_STR_CONTAINS(log, "already holds a model (detector.onnx); nothing written");
    free(log);

    /* --force with 1 thread: the same bytes */
    snprintf(args, sizeof args,
             "train-detector --voc %s --out %s --model-dir %s/models %s -j 1 --force", voc, out,
             fm_test_shared(), common);
    rc = run_cmd(args, &log);
    FM_CHECK_MSG(rc == 0, "exit %d: %s", rc, log ? log : "");
    free(log);
    char *m2 = fm_test_read_file(path, &len2);
    FM_CHECK(m1 && m2 && len1 == len2 && memcmp(m1, m2, len1) == 0);
    free(m1);
    free(m2);
    snprintf(path, sizeof path, "%s/report.json", out);
    json = fm_test_read_file(path, NULL);
    FM_CHECK_STR_CONTAINS(json, "\"lr\": 0.0002,"); /* as set, not 0.0001999999949 */
    FM_CHECK_STR_CONTAINS(json, "\"unmasked_repeat\": 1,");
    free(json);

    /* --unmasked-repeat 3: the training images with a without_mask face, counted here from
     * their annotations, are each in the epoch 3 times */
    int unmasked = 0, training = 0;
    snprintf(path, sizeof path, "%s/annotations", voc);
    DIR *dd = opendir(path);
    for (struct dirent *e; dd && (e = readdir(dd)) != NULL;) {
        char img[300], xml[1200];
        if (e->d_name[0] == '.' || strlen(e->d_name) < 5 || strlen(e->d_name) > 200)
            continue;
        snprintf(img, sizeof img, "%.*s.jpg", (int)strlen(e->d_name) - 4, e->d_name);
        if (!fm_voc_is_train_image(img, 42, 0.5f) ||
            fm_voc_is_train_image(img, 42 ^ FM_DET_VAL_SALT, 0.15f) || strstr(img, "broken"))
            continue;
        training++;
        snprintf(xml, sizeof xml, "%s/%s", path, e->d_name);
        fm_voc v;
        fm_err err = {0};
        FM_CHECK_MSG(fm_voc_load(xml, &v, &err) == FM_OK, "%s", err.msg);
        int has = 0;
        for (int k = 0; k < v.n_objects; k++)
            has |= fm_voc_label(v.objects[k].name) == FM_VOC_WITHOUT_MASK;
        unmasked += has;
        fm_voc_free(&v);
    }
    if (dd)
        closedir(dd);
    FM_CHECK_INT(training, 3);
    snprintf(args, sizeof args,
             "train-detector --voc %s --out %s --model-dir %s/models %s -j 1 --force "
             "--unmasked-repeat 3",
             voc, out, fm_test_shared(), common);
    rc = run_cmd(args, &log);
    FM_CHECK_MSG(rc == 0, "exit %d: %s", rc, log ? log : "");
    char want[160];
    snprintf(want, sizeof want,
             "the %d images with an unmasked face are seen 3 times an epoch (%d entries)",
             unmasked, training + 2 * unmasked);
    FM_CHECK_STR_CONTAINS(log, want);
    free(log);
    snprintf(path, sizeof path, "%s/report.json", out);
    json = fm_test_read_file(path, NULL);
    FM_CHECK_STR_CONTAINS(json, "\"unmasked_repeat\": 3,");
    free(json);
    snprintf(args, sizeof args, "train-detector --voc %s --out %s --unmasked-repeat 9", voc, out);
    rc = run_cmd(args, &log);
    FM_CHECK_INT(rc, 2);
    FM_CHECK_STR_CONTAINS(log, "--unmasked-repeat");
    free(log);
}

static void test_train_detector_no_faces(void)
{
    const char *dir = fm_test_tmpdir();
    char root[600], p[700], args[1600], *log = NULL;
    snprintf(root, sizeof root, "%s/empty_voc", dir);
    mkdir(root, 0700);
    snprintf(p, sizeof p, "%s/images", root);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/annotations", root);
    mkdir(p, 0700);
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/images/a%d.jpg", root, i);
        fm_test_write_text(p, "x");
        snprintf(p, sizeof p, "%s/annotations/a%d.xml", root, i);
        fm_test_write_text(p, "<annotation><filename>a.jpg</filename></annotation>");
    }
    snprintf(args, sizeof args, "train-detector -q --voc %s --out %s/det --model-dir %s/models",
             root, dir, fm_test_shared());
    int rc = run_cmd(args, &log);
    FM_CHECK_INT(rc, 1);
    FM_CHECK_STR_CONTAINS(log, "no annotated faces in the training half");
    int lines = 0;
    for (const char *q = log; q && *q; q++)
        lines += *q == '\n';
    FM_CHECK_MSG(lines == 1, "%d lines: %s", lines, log ? log : "");
    free(log);
}

void suite_det_trainer(void);
void suite_det_trainer(void)
{
    FM_RUN(test_det_step_lowers_loss);
    FM_RUN(test_det_freeze_landmarks);
    FM_RUN(test_train_detector_tiny_run);
    FM_RUN(test_train_detector_no_faces);
}
