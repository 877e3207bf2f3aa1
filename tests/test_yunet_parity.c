/* YuNet against OpenCV 4.6 (fixtures by tools/gen_yunet_fixtures.py, see
 * tests/fixtures/yunet/README.md):
 *   - raw outputs: facemask's preprocessing and engine give OpenCV's 12 output tensors
 *     within 1e-4 (absolute, or relative above 1) for both model files;
 *   - end to end: `detect --json --no-classify --detector yunet --det-size 640 --conf 0.5
 *     --threads 1` on 32 photos finds OpenCV's faces (IoU >= 0.98, score within 0.005,
 *     landmarks within 1 px) and no others.
 * (Decoding OpenCV's own outputs is checked in test_yunet.c.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "face/yunet.h"
#include "io/image.h"
#include "onnx/onnx.h"
#include "test.h"
#include "test_det_util.h"

static const char *const k_names[12] = {"cls_8",   "cls_16", "cls_32", "obj_8",  "obj_16",
                                        "obj_32",  "bbox_8", "bbox_16", "bbox_32", "kps_8",
                                        "kps_16",  "kps_32"};

static void check_raw(const char *model_key, const char *model_file, const char *stem,
                      const char *image)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/demo/%s", fm_test_shared(), image);
    fm_err err = {0};
    fm_image *img = fm_image_load(path, 0, &err);
    FM_CHECK_MSG(img != NULL, "%s", err.msg);
    if (!img)
        return;
    fm_yunet_geom g;
    FM_CHECK(fm_yunet_geometry(img->w, img->h, 320, &g, &err) == FM_OK);
    fm_image *tmp = fm_image_new(g.new_w, g.new_h, &err);
    snprintf(path, sizeof path, "%s/models/yunet/%s", fm_test_shared(), model_file);
    fm_net_opts o = fm_net_default_opts();
    o.input_shape = fm_shape4(1, 3, g.pad_h, g.pad_w);
    fm_net *net = fm_onnx_load_net(path, &o, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    if (net && tmp) {
        fm_yunet_preprocess(img, &g, tmp, fm_net_input(net, 0)->data);
        FM_CHECK(fm_net_forward(net, &err) == FM_OK);
        double worst = 0;
        for (int k = 0; k < 12; k++) {
            snprintf(path, sizeof path, "tests/fixtures/yunet/raw/%s/%s.%s.txt", model_key, stem,
                     k_names[k]);
            const fm_tensor *t = fm_net_blob(net, k_names[k]);
            FM_CHECK(t != NULL);
            size_t n = t ? fm_shape_count(&t->shape) : 0;
            float *want = t ? fm_det_read_raw(path, n) : NULL;
            FM_CHECK_MSG(want != NULL, "%s: missing, or not the %zu values facemask has", path, n);
            if (!want)
                continue;
            for (size_t i = 0; i < n; i++) {
                double d = fabs((double)t->data[i] - want[i]);
                if (fabs(want[i]) > 1)
                    d /= fabs(want[i]);
                if (!(d <= worst))
                    worst = d;
            }
            free(want);
        }
        FM_CHECK_MSG(worst <= 1e-4, "%s %s: worst difference %g", model_key, stem, worst);
        printf("  yunet-%s %s at %dx%d: worst output difference %.2e\n", model_key, stem, g.pad_w,
               g.pad_h, worst);
    }
    fm_net_free(net);
    fm_image_free(tmp);
    fm_image_free(img);
}

static void test_raw_outputs_match_opencv(void)
{
    check_raw("n", "yunet_n_640_640.onnx", "pyimagesearch_example_01", "pyimagesearch_example_01.png");
    check_raw("n", "yunet_n_640_640.onnx", "coral_face", "coral_face.jpg");
    check_raw("s", "face_detection_yunet_2023mar.onnx", "pyimagesearch_example_01",
              "pyimagesearch_example_01.png");
    check_raw("s", "face_detection_yunet_2023mar.onnx", "coral_face", "coral_face.jpg");
}

/* The command the issue names, on the fixture's 32 photos. */
static void check_detect(const char *fixture, const char *detector)
{
    char *text = fm_test_read_file(fixture, NULL);
    FM_CHECK_MSG(text != NULL, "cannot read %s", fixture);
    if (!text)
        return;
    static fm_det_line want[64], got[64];
    int nwant = fm_det_load_lines(text, want, 64);
    free(text);
    FM_CHECK(nwant >= 30);
    size_t cap = 512 + (size_t)nwant * 300;
    char *cmd = malloc(cap);
    int used = snprintf(cmd, cap,
                        "%s detect --json --no-classify --detector %s --det-size 640 --conf 0.5 "
                        "--threads 1 --model-dir %s/models",
                        fm_test_bin(), detector, fm_test_shared());
    for (int i = 0; i < nwant; i++)
        used += snprintf(cmd + used, cap - (size_t)used, " %s/%s", fm_test_shared(), want[i].image);
    char *out = NULL;
    int rc = fm_test_cmd(cmd, &out);
    free(cmd);
    FM_CHECK_INT(rc, 0);
    int ngot = out ? fm_det_load_lines(out, got, 64) : 0;
    free(out);
    FM_CHECK_INT(ngot, nwant);
    int faces = 0;
    double worst_iou = 1, worst_score = 0, worst_lm = 0;
    for (int i = 0; i < nwant && i < ngot; i++) {
        const char *rel = got[i].image + strlen(fm_test_shared()) + 1;
        FM_CHECK_MSG(strcmp(rel, want[i].image) == 0, "image %d: %s, expected %s", i, rel,
                     want[i].image);
        fm_det_match m = fm_det_compare(&want[i], &got[i], 0.98, 0.005, 1.0);
        FM_CHECK_MSG(m.ok, "%s: %s", want[i].image, m.why);
        faces += want[i].nfaces;
        worst_iou = fmin(worst_iou, m.worst_iou);
        worst_score = fmax(worst_score, m.worst_score);
        worst_lm = fmax(worst_lm, m.worst_landmark);
    }
    printf("  %s: %d images, %d OpenCV faces, worst IoU %.4f, score %.4f, landmark %.2f px\n",
           detector, nwant, faces, worst_iou, worst_score, worst_lm);
}

static void test_detect_matches_opencv(void)
{
    char s_path[512];
    check_detect("tests/fixtures/yunet/expected_n.jsonl", "yunet");
    snprintf(s_path, sizeof s_path, "%s/models/yunet/face_detection_yunet_2023mar.onnx",
             fm_test_shared());
    check_detect("tests/fixtures/yunet/expected_s.jsonl", s_path);
}

extern void suite_yunet_parity(void);
void suite_yunet_parity(void)
{
    FM_RUN(test_raw_outputs_match_opencv);
    FM_RUN(test_detect_matches_opencv);
}
