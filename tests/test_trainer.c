/* `facemask train`, `classify` and the classifier loader, end to end on a tiny data set:
 * a run that skips and counts an unreadable image, bit-identical models for the same seed
 * with 1 and 2 threads, which base layers phase 2 trains (--fine-tune-from), and the error
 * paths (empty class folder, a single class, a phase 2 start that is not a one-input layer,
 * a classifier whose output is not two classes). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caffe/caffe.h"
#include "face/classifier.h"
#include "nn/net.h"
#include "test.h"

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *data = fm_test_read_file(from, &n);
    FM_CHECK_MSG(data != NULL, "cannot read %s", from);
    FILE *f = fopen(to, "wb");
    FM_CHECK_MSG(f != NULL, "cannot write %s", to);
    if (f && data)
        fwrite(data, 1, n, f);
    if (f)
        fclose(f);
    free(data);
}

/* The first `count` images of a shared class folder, in name order. */
static void copy_class(const char *cls, const char *dst_root, int count)
{
    char src[512], dst[512];
    snprintf(src, sizeof src, "%s/data/mask_cls/%s", fm_test_shared(), cls);
    snprintf(dst, sizeof dst, "%s/%s", dst_root, cls);
    mkdir(dst, 0700);
    struct dirent **list;
    int n = scandir(src, &list, NULL, alphasort);
    FM_CHECK_MSG(n > count, "cannot list %s", src);
    int copied = 0;
    for (int i = 0; i < n; i++) {
        if (copied < count && list[i]->d_name[0] != '.') {
            char a[1024], b[1024];
            snprintf(a, sizeof a, "%s/%s", src, list[i]->d_name);
            snprintf(b, sizeof b, "%s/%s", dst, list[i]->d_name);
            copy_file(a, b);
            copied++;
        }
        free(list[i]);
    }
    if (n > 0)
        free(list);
}

/* A tiny training set: 10 + 10 crops and one corrupt JPEG. Returns its folder. */
static const char *tiny_data(char *buf, size_t size)
{
    snprintf(buf, size, "%s/data", fm_test_tmpdir());
    mkdir(buf, 0700);
    copy_class("with_mask", buf, 10);
    copy_class("without_mask", buf, 10);
    char p[600];
    snprintf(p, sizeof p, "%s/with_mask/zz_broken.jpg", buf);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs("\xff\xd8\xff\xe0 this is not really a JPEG", f);
        fclose(f);
    }
    return buf;
}

/* Trains on data into out; extra: more options (later ones win), or "". */
static int train_with(const char *data, const char *out, int threads, const char *extra,
                      char **log)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s train --data %s --out %s --model-dir %s/models --input-size 32 --epochs 2 "
             "--fine-tune-epochs 1 --variants 2 --batch 8 --threads %d --seed 7 --quiet %s 2>&1",
             fm_test_bin(), data, out, fm_test_shared(), threads, extra);
    return fm_test_cmd(cmd, log);
}

static int train(const char *data, const char *out, int threads, char **log)
{
    return train_with(data, out, threads, "", log);
}

static void test_train_tiny_skips_unreadable(void)
{
    char data[512], out[600];
    tiny_data(data, sizeof data);
    snprintf(out, sizeof out, "%s/model", fm_test_tmpdir());
    char *log = NULL;
    int rc = train(data, out, 2, &log);
    FM_CHECK_MSG(rc == 0, "train failed (%d): %s", rc, log ? log : "");
    FM_CHECK_STR_CONTAINS(log, "zz_broken.jpg");
    FM_CHECK_STR_CONTAINS(log, "1 unreadable sample skipped");
    free(log);
    const char *files[] = {"classifier.prototxt", "classifier.caffemodel", "classifier.cfg",
                           "report.json", "report.svg"};
    for (int i = 0; i < 5; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        struct stat st;
        FM_CHECK_MSG(stat(p, &st) == 0 && st.st_size > 0, "%s missing", p);
    }
    char p[700];
    snprintf(p, sizeof p, "%s/report.json", out);
    char *report = fm_test_read_file(p, NULL);
    FM_CHECK_STR_CONTAINS(report, "\"unreadable_skipped\": 1");
    FM_CHECK_STR_CONTAINS(report, "\"phase2\"");
    FM_CHECK_STR_CONTAINS(report, "\"held_out_folder_images\"");
    free(report);

    /* The saved model loads through the inference path and classifies crops. */
    fm_err err = {0};
    fm_classifier *c = fm_classifier_load(out, NULL, &err);
    FM_CHECK_MSG(c != NULL, "%s", err.msg);
    if (c) {
        FM_CHECK_INT(fm_classifier_config(c)->input_size, 32);
        fm_classifier_free(c);
    }
    char cmd[1200], *js = NULL;
    snprintf(cmd, sizeof cmd, "%s classify --json --classifier %s %s/without_mask", fm_test_bin(),
             out, data);
    rc = fm_test_cmd(cmd, &js);
    FM_CHECK_INT(rc, 0);
    int lines = 0;
    for (const char *q = js; q && (q = strstr(q, "\"mask_prob\":")) != NULL; q++) {
        double v = atof(q + 12);
        FM_CHECK(v >= 0 && v <= 1);
        lines++;
    }
    FM_CHECK_INT(lines, 10);
    FM_CHECK_STR_CONTAINS(js, "\"label\":\"");
    free(js);
}

/* Same seed: the same model, byte for byte, with 1 and with 2 threads. */
static void test_train_deterministic(void)
{
    char data[512], a[600], b[600];
    tiny_data(data, sizeof data);
    snprintf(a, sizeof a, "%s/m1", fm_test_tmpdir());
    snprintf(b, sizeof b, "%s/m2", fm_test_tmpdir());
    FM_CHECK_INT(train(data, a, 1, NULL), 0);
    FM_CHECK_INT(train(data, b, 2, NULL), 0);
    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s/classifier.caffemodel", a);
    snprintf(pb, sizeof pb, "%s/classifier.caffemodel", b);
    size_t na = 0, nb = 0;
    char *da = fm_test_read_file(pa, &na), *db = fm_test_read_file(pb, &nb);
    FM_CHECK(da && db && na > 1000000);
    FM_CHECK_MSG(na == nb && da && db && memcmp(da, db, na) == 0,
                 "models of the same seed differ between 1 and 2 threads");
    free(da);
    free(db);
}

static void expect_train_error_with(const char *data, const char *extra, const char *needle)
{
    char out[600], *log = NULL;
    snprintf(out, sizeof out, "%s/never", fm_test_tmpdir());
    int rc = train_with(data, out, 1, extra, &log);
    FM_CHECK_MSG(rc == 1, "train exited %d, expected 1", rc);
    FM_CHECK_STR_CONTAINS(log, needle);
    FM_CHECK(log && strchr(log, '\n') == strrchr(log, '\n')); /* one line */
    free(log);
}

static void expect_train_error(const char *data, const char *needle)
{
    expect_train_error_with(data, "", needle);
}

static void test_train_bad_data(void)
{
    char dir[600], p[700];
    snprintf(dir, sizeof dir, "%s/single", fm_test_tmpdir());
    mkdir(dir, 0700);
    copy_class("with_mask", dir, 3);
    expect_train_error(dir, "only one class folder");

    snprintf(p, sizeof p, "%s/without_mask", dir);
    mkdir(p, 0700);
    expect_train_error(dir, "without_mask");

    snprintf(dir, sizeof dir, "%s/nothing-here", fm_test_tmpdir());
    expect_train_error(dir, "nothing-here");
}

/* The weights of base layer `layer` in a saved model against the ImageNet base: 1 if they
 * differ, 0 if equal, -1 if either is missing. */
static int layer_changed(const char *model_dir, const char *layer)
{
    char proto[700], model[700], bproto[700], bmodel[700];
    snprintf(proto, sizeof proto, "%s/classifier.prototxt", model_dir);
    snprintf(model, sizeof model, "%s/classifier.caffemodel", model_dir);
    snprintf(bproto, sizeof bproto, "%s/models/mobilenet_v2/mobilenet_v2.prototxt",
             fm_test_shared());
    snprintf(bmodel, sizeof bmodel, "%s/models/mobilenet_v2/mobilenet_v2.caffemodel",
             fm_test_shared());
    fm_net_opts o = fm_net_default_opts();
    o.input_shape = fm_shape4(1, 3, 32, 32);
    fm_err err = {0};
    fm_net *a = fm_caffe_load_net(proto, model, &o, &err);
    fm_net *b = a ? fm_caffe_load_net(bproto, bmodel, &o, &err) : NULL;
    int changed = -1;
    for (int i = 0; a && b && i < fm_net_num_layers(a) && i < fm_net_num_layers(b); i++) {
        fm_layer_info la, lb;
        fm_net_layer_info(a, i, &la);
        fm_net_layer_info(b, i, &lb);
        if (strcmp(la.name, layer) != 0 || strcmp(lb.name, layer) != 0 || !la.w || !lb.w ||
            la.nw != lb.nw || la.nb != lb.nb)
            continue;
        changed = memcmp(la.w, lb.w, la.nw * sizeof *la.w) != 0 ||
                  memcmp(la.b, lb.b, la.nb * sizeof *la.b) != 0;
    }
    fm_net_free(a);
    fm_net_free(b);
    return changed;
}

/* Phase 2 trains its first layer (--fine-tune-from) and everything after it, and leaves the
 * layers before it as they were: the cached cut moves down with it. The default starts at
 * block 12; block 14, the start before 2026-12-03, still works. */
static void test_train_fine_tune_from(void)
{
    char data[512], out[600];
    tiny_data(data, sizeof data);
    snprintf(out, sizeof out, "%s/ft12", fm_test_tmpdir());
    char *log = NULL;
    int rc = train(data, out, 2, &log);
    FM_CHECK_MSG(rc == 0, "train failed (%d): %s", rc, log ? log : "");
    free(log);
    FM_CHECK_INT(layer_changed(out, "expanded_conv_11/project"), 0);
    FM_CHECK_INT(layer_changed(out, "expanded_conv_12/expand"), 1);
    FM_CHECK_INT(layer_changed(out, "expanded_conv_13/expand"), 1);
    FM_CHECK_INT(layer_changed(out, "Conv_1"), 1);

    snprintf(out, sizeof out, "%s/ft14", fm_test_tmpdir());
    FM_CHECK_INT(train_with(data, out, 2, "--fine-tune-from expanded_conv_14/expand", NULL), 0);
    FM_CHECK_INT(layer_changed(out, "expanded_conv_13/project"), 0);
    FM_CHECK_INT(layer_changed(out, "expanded_conv_14/expand"), 1);

    expect_train_error_with(data, "--fine-tune-from expanded_conv_12/add/add",
                            "phase 2 must start at a layer with one input");
    expect_train_error_with(data, "--fine-tune-from conv9",
                            "--fine-tune-from conv9: no such layer before the pool");
}

/* A classifier folder whose network ends in 1280 classes is refused with a clear message. */
static void test_classifier_not_two_classes(void)
{
    char data[512], out[600];
    tiny_data(data, sizeof data);
    snprintf(out, sizeof out, "%s/model", fm_test_tmpdir());
    char cmd[1600];
    snprintf(cmd, sizeof cmd,
             "%s train --data %s --out %s --model-dir %s/models --input-size 32 --epochs 1 "
             "--fine-tune-epochs 0 --variants 1 --quiet >/dev/null 2>&1",
             fm_test_bin(), data, out, fm_test_shared());
    FM_CHECK_INT(fm_test_cmd(cmd, NULL), 0);
    char p[700];
    snprintf(p, sizeof p, "%s/classifier.prototxt", out);
    char *text = fm_test_read_file(p, NULL);
    char *head = text ? strstr(text, "\nlayer {\n  name: \"fc1\"") : NULL;
    FM_CHECK(head != NULL);
    if (!head) {
        free(text);
        return;
    }
    *head = '\0';
    FILE *f = fopen(p, "w");
    if (f) {
        fprintf(f, "%s\nlayer { name: \"prob\" type: \"Softmax\" bottom: \"pool\" top: \"prob\" }\n",
                text);
        fclose(f);
    }
    free(text);
    fm_err err = {0};
    fm_classifier *c = fm_classifier_load(out, NULL, &err);
    FM_CHECK(c == NULL);
    fm_classifier_free(c);
    FM_CHECK_STR_CONTAINS(err.msg, "expected 2 classes");
    FM_CHECK_STR_CONTAINS(err.msg, "classifier.prototxt");
}

void suite_trainer(void);
void suite_trainer(void)
{
    FM_RUN(test_train_tiny_skips_unreadable);
    FM_RUN(test_train_deterministic);
    FM_RUN(test_train_bad_data);
    FM_RUN(test_train_fine_tune_from);
    FM_RUN(test_classifier_not_two_classes);
}
