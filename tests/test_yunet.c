/* YuNet: the input rule, preprocessing, decode and NMS on hand-made output tensors (exact
 * answers, mirroring OpenCV 4.8's face_detect.cpp and cv::dnn::NMSBoxes), the detector spec's
 * errors, and (once the ONNX importer is in) the real models on the demo photos. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "face/detector.h"
#include "face/yunet.h"
#include "io/image.h"
#include "onnx/onnx.h"
#include "test.h"
#include "test_det_util.h"

/* ---- the input rule ------------------------------------------------------------------- */

static void check_geom(int w, int h, int det, int nw, int nh, int pw, int ph)
{
    fm_yunet_geom g;
    fm_err err = {0};
    FM_CHECK_INT(fm_yunet_geometry(w, h, det, &g, &err), FM_OK);
    FM_CHECK_MSG(g.img_w == w && g.img_h == h && g.new_w == nw && g.new_h == nh &&
                     g.pad_w == pw && g.pad_h == ph,
                 "%dx%d at %d: new %dx%d pad %dx%d, expected new %dx%d pad %dx%d", w, h, det,
                 g.new_w, g.new_h, g.pad_w, g.pad_h, nw, nh, pw, ph);
}

static void test_yunet_geometry(void)
{
    check_geom(640, 480, 640, 640, 480, 640, 480);  /* unchanged, already multiples of 32 */
    check_geom(1000, 750, 640, 640, 480, 640, 480); /* scale 0.64 */
    check_geom(300, 400, 640, 480, 640, 480, 640);  /* upscaled: 1.6 */
    check_geom(333, 500, 320, 213, 320, 224, 320);  /* 333 * 0.64 = 213.12 -> 213, pad 224 */
    check_geom(500, 333, 320, 320, 213, 320, 224);
    check_geom(3, 2, 32, 32, 21, 32, 32);           /* 2 * 32 / 3 = 21.33 -> 21 */
    check_geom(640, 6, 640, 640, 6, 640, 32);
    check_geom(2000, 1, 32, 32, 1, 32, 32);         /* 0.016 rounds to 0: at least 1 */
    check_geom(200, 100, 101, 101, 51, 128, 64);    /* 50.5 rounds half up */
    fm_yunet_geom g;
    fm_err err = {0};
    FM_CHECK_INT(fm_yunet_geometry(640, 480, 31, &g, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "det_size 31");
    FM_CHECK_INT(fm_yunet_geometry(0, 480, 640, &g, &err), FM_ERR_ARG);
    FM_CHECK_INT(fm_yunet_max_candidates(&(fm_yunet_geom){1, 1, 1, 1, 640, 480}),
                 80 * 60 + 40 * 30 + 20 * 15);
}

/* BGR planes, raw values, zeros in the padding; resized when the size changes. */
static void test_yunet_preprocess(void)
{
    fm_err err = {0};
    fm_image *img = fm_image_new(40, 20, &err);
    FM_CHECK(img != NULL);
    if (!img)
        return;
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 40; x++) {
            uint8_t *p = img->data + (size_t)y * (size_t)img->stride + 3 * (size_t)x;
            p[0] = (uint8_t)(x + 1);   /* B */
            p[1] = (uint8_t)(y + 100); /* G */
            p[2] = 255;                /* R */
        }
    fm_yunet_geom g;
    FM_CHECK_INT(fm_yunet_geometry(40, 20, 40, &g, &err), FM_OK);
    FM_CHECK(g.pad_w == 64 && g.pad_h == 32);
    size_t plane = 64 * 32;
    float *t = malloc(3 * plane * sizeof *t);
    FM_CHECK(t != NULL);
    if (!t) {
        fm_image_free(img);
        return;
    }
    for (size_t i = 0; i < 3 * plane; i++)
        t[i] = -1.0f; /* every value must be written */
    fm_yunet_preprocess(img, &g, NULL, t);
    int bad = 0;
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 64; x++) {
            int in = x < 40 && y < 20;
            float b = t[(size_t)y * 64 + (size_t)x], gg = t[plane + (size_t)y * 64 + (size_t)x],
                  r = t[2 * plane + (size_t)y * 64 + (size_t)x];
            if (in ? (b != (float)(x + 1) || gg != (float)(y + 100) || r != 255.0f)
                   : (b != 0 || gg != 0 || r != 0))
                bad++;
        }
    FM_CHECK_INT(bad, 0);

    /* at det_size 80 the image is doubled with the OpenCV-exact bilinear resize */
    FM_CHECK_INT(fm_yunet_geometry(40, 20, 80, &g, &err), FM_OK);
    FM_CHECK(g.new_w == 80 && g.new_h == 40 && g.pad_w == 96 && g.pad_h == 64);
    fm_image *tmp = fm_image_new(80, 40, &err), *want = fm_image_new(80, 40, &err);
    float *t2 = malloc(3 * 96 * 64 * sizeof *t2);
    FM_CHECK(tmp && want && t2);
    if (tmp && want && t2) {
        fm_resize_bilinear(img, want);
        fm_yunet_preprocess(img, &g, tmp, t2);
        bad = 0;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 64; y++)
                for (int x = 0; x < 96; x++) {
                    float v = t2[(size_t)c * 96 * 64 + (size_t)y * 96 + (size_t)x];
                    float e = x < 80 && y < 40
                                  ? (float)want->data[(size_t)y * (size_t)want->stride +
                                                      3 * (size_t)x + (size_t)c]
                                  : 0.0f;
                    bad += v != e;
                }
        FM_CHECK_INT(bad, 0);
    }
    free(t2);
    fm_image_free(tmp);
    fm_image_free(want);
    free(t);
    fm_image_free(img);
}

/* ---- decode on synthetic outputs -------------------------------------------------------- */

/* Zeroed output tensors for a geometry, and helpers to set one cell. */
typedef struct {
    fm_yunet_geom g;
    float *cls[3], *obj[3], *bbox[3], *kps[3];
    fm_yunet_outputs out;
    fm_yunet_cand *cand;
} synth;

static const int k_s[3] = {8, 16, 32};

static int synth_init(synth *s, int w, int h, int det)
{
    memset(s, 0, sizeof *s);
    fm_err err = {0};
    if (fm_yunet_geometry(w, h, det, &s->g, &err) != FM_OK)
        return 0;
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        size_t n = (size_t)(s->g.pad_w / k_s[i]) * (size_t)(s->g.pad_h / k_s[i]);
        s->out.cls[i] = s->cls[i] = calloc(n, sizeof(float));
        s->out.obj[i] = s->obj[i] = calloc(n, sizeof(float));
        s->out.bbox[i] = s->bbox[i] = calloc(n * 4, sizeof(float));
        s->out.kps[i] = s->kps[i] = calloc(n * 10, sizeof(float));
        ok = ok && s->cls[i] && s->obj[i] && s->bbox[i] && s->kps[i];
    }
    s->cand = malloc((size_t)fm_yunet_max_candidates(&s->g) * sizeof *s->cand);
    return ok && s->cand;
}

static void synth_free(synth *s)
{
    for (int i = 0; i < 3; i++) {
        free(s->cls[i]);
        free(s->obj[i]);
        free(s->bbox[i]);
        free(s->kps[i]);
    }
    free(s->cand);
}

/* Sets cell (r, c) of stride index si; kps[k] = base + 0.1 * k. */
static void synth_cell(synth *s, int si, int r, int c, float cls, float obj, float b0, float b1,
                       float b2, float b3, float kbase)
{
    size_t idx = (size_t)r * (size_t)(s->g.pad_w / k_s[si]) + (size_t)c;
    s->cls[si][idx] = cls;
    s->obj[si][idx] = obj;
    float *b = s->bbox[si] + idx * 4;
    b[0] = b0;
    b[1] = b1;
    b[2] = b2;
    b[3] = b3;
    for (int k = 0; k < 10; k++)
        s->kps[si][idx * 10 + (size_t)k] = kbase + 0.1f * (float)k;
}

/* One strong cell: the exact box, score and landmarks of face_detect.cpp's arithmetic. */
static void test_yunet_decode_one_cell(void)
{
    synth s;
    FM_CHECK(synth_init(&s, 640, 480, 640));
    synth_cell(&s, 1, 5, 7, 0.5625f, 1.0f, 0.5f, 0.25f, 1.0f, 0.5f, -0.3f);
    fm_face f[4];
    int n = fm_yunet_decode(&s.out, &s.g, 0.5f, FM_YUNET_NMS_IOU, s.cand, f, 4);
    FM_CHECK_INT(n, 1);
    if (n == 1) {
        float w = expf(1.0f) * 16.0f, h = expf(0.5f) * 16.0f;
        float x1 = 7.5f * 16.0f - w / 2.0f, y1 = 5.25f * 16.0f - h / 2.0f;
        FM_CHECK(f[0].score == 0.75f); /* sqrt(0.5625 * 1) */
        FM_CHECK(f[0].x1 == x1 && f[0].y1 == y1);
        FM_CHECK(f[0].x2 == x1 + w && f[0].y2 == y1 + h);
        FM_CHECK_INT(f[0].nlandmarks, 5);
        for (int k = 0; k < 5; k++) {
            float kx = (-0.3f + 0.1f * (float)(2 * k) + 7.0f) * 16.0f;
            float ky = (-0.3f + 0.1f * (float)(2 * k + 1) + 5.0f) * 16.0f;
            FM_CHECK_MSG(f[0].landmarks[k][0] == kx && f[0].landmarks[k][1] == ky,
                         "landmark %d (%g, %g), expected (%g, %g)", k,
                         (double)f[0].landmarks[k][0], (double)f[0].landmarks[k][1], (double)kx,
                         (double)ky);
        }
    }
    synth_free(&s);
}

/* score = sqrt(clip(cls, 0, 1) * clip(obj, 0, 1)); below conf dropped; conf itself kept for a
 * lone face but not by NMS among several (NMSBoxes keeps score > threshold, strictly). */
static void test_yunet_decode_scores(void)
{
    synth s;
    FM_CHECK(synth_init(&s, 640, 480, 640));
    synth_cell(&s, 0, 2, 2, 1.5f, 0.25f, 0, 0, 0, 0, 0);  /* cls clipped to 1: score 0.5 */
    synth_cell(&s, 0, 10, 10, -0.2f, 1.0f, 0, 0, 0, 0, 0); /* cls clipped to 0: score 0 */
    synth_cell(&s, 0, 20, 20, 0.64f, 4.0f, 0, 0, 0, 0, 0); /* obj clipped to 1: score 0.8 */
    synth_cell(&s, 2, 3, 3, 0.2025f, 1.0f, 0, 0, 0, 0, 0); /* score 0.45: below 0.5 */
    fm_face f[8];
    int n = fm_yunet_decode(&s.out, &s.g, 0.5f, FM_YUNET_NMS_IOU, s.cand, f, 8);
    FM_CHECK_INT(n, 1); /* 0.8; the 0.5 one is at conf, not above it, among two */
    if (n >= 1)
        FM_CHECK_NEAR(f[0].score, 0.8f, 1e-7);
    n = fm_yunet_decode(&s.out, &s.g, 0.4f, FM_YUNET_NMS_IOU, s.cand, f, 8);
    FM_CHECK_INT(n, 3);
    if (n == 3) {
        FM_CHECK_NEAR(f[0].score, 0.8f, 1e-7);
        FM_CHECK(f[1].score == 0.5f);
        FM_CHECK_NEAR(f[2].score, 0.45f, 1e-7);
    }
    /* the lone face at exactly conf stays (face_detect.cpp skips NMS for one face) */
    synth_cell(&s, 0, 20, 20, 0, 0, 0, 0, 0, 0, 0);
    synth_cell(&s, 2, 3, 3, 0, 0, 0, 0, 0, 0, 0);
    n = fm_yunet_decode(&s.out, &s.g, 0.5f, FM_YUNET_NMS_IOU, s.cand, f, 8);
    FM_CHECK_INT(n, 1);
    /* max limits what is written, not the count */
    synth_cell(&s, 0, 20, 20, 0.64f, 1.0f, 0, 0, 0, 0, 0);
    n = fm_yunet_decode(&s.out, &s.g, 0.3f, FM_YUNET_NMS_IOU, s.cand, f, 1);
    FM_CHECK_INT(n, 2);
    FM_CHECK_NEAR(f[0].score, 0.8f, 1e-7);
    synth_free(&s);
}

/* ---- NMS ----------------------------------------------------------------------------------- */

static fm_yunet_cand cand_box(float x1, float y1, float w, float h, float score, int idx)
{
    fm_yunet_cand c;
    memset(&c, 0, sizeof c);
    c.x1 = x1;
    c.y1 = y1;
    c.w = w;
    c.h = h;
    c.score = score;
    c.idx = idx;
    return c;
}

static void test_yunet_nms_threshold(void)
{
    /* 100x10 boxes shifted by x: IoU = (100 - x) * 10 / (2000 - (100 - x) * 10) */
    fm_yunet_cand c[2];
    c[0] = cand_box(0, 0, 100, 10, 0.9f, 0);
    c[1] = cand_box(54, 0, 100, 10, 0.8f, 1); /* 460 / 1540 = 0.2987: kept */
    FM_CHECK_INT(fm_yunet_nms(c, 2, 0.5f, 0.3f), 2);
    c[0] = cand_box(0, 0, 100, 10, 0.9f, 0);
    c[1] = cand_box(53, 0, 100, 10, 0.8f, 1); /* 470 / 1530 = 0.3072: suppressed */
    FM_CHECK_INT(fm_yunet_nms(c, 2, 0.5f, 0.3f), 1);
    FM_CHECK_INT(c[0].idx, 0);
    /* boxes are Rect2i: 53.9 is 53 (float IoU 0.2995 would keep it) */
    c[0] = cand_box(0, 0, 100, 10, 0.9f, 0);
    c[1] = cand_box(53.9f, 0, 100.9f, 10.9f, 0.8f, 1);
    FM_CHECK_INT(fm_yunet_nms(c, 2, 0.5f, 0.3f), 1);
    /* an IoU of exactly 0.3 is kept (overlap <= threshold): 6 / (13 + 13 - 6) */
    c[0] = cand_box(0, 0, 13, 1, 0.9f, 0);
    c[1] = cand_box(7, 0, 13, 1, 0.8f, 1);
    FM_CHECK_INT(fm_yunet_nms(c, 2, 0.5f, 0.3f), 2);
    /* the lower score goes, whichever comes first */
    c[0] = cand_box(53, 0, 100, 10, 0.7f, 0);
    c[1] = cand_box(0, 0, 100, 10, 0.95f, 1);
    FM_CHECK_INT(fm_yunet_nms(c, 2, 0.5f, 0.3f), 1);
    FM_CHECK(c[0].score == 0.95f && c[0].idx == 1);
    /* negative corners truncate toward zero like int(): -0.9 -> 0 */
    c[0] = cand_box(-0.9f, 0, 10, 10, 0.9f, 0);
    c[1] = cand_box(5, 0, 10, 10, 0.8f, 1); /* Rect(0,0,10,10) vs (5,0,10,10): 50/150 */
    FM_CHECK_INT(fm_yunet_nms(c, 2, 0.5f, 0.3f), 1);
}

/* Equal scores keep decode order (std::stable_sort), and a chain: A suppresses B, C overlaps
 * only B, so C stays. */
static void test_yunet_nms_order(void)
{
    fm_yunet_cand c[4];
    c[0] = cand_box(200, 0, 10, 10, 0.8f, 7);
    c[1] = cand_box(100, 0, 10, 10, 0.8f, 3);
    c[2] = cand_box(0, 0, 10, 10, 0.8f, 5);
    c[3] = cand_box(300, 0, 10, 10, 0.9f, 9);
    FM_CHECK_INT(fm_yunet_nms(c, 4, 0.5f, 0.3f), 4);
    FM_CHECK(c[0].idx == 9 && c[1].idx == 3 && c[2].idx == 5 && c[3].idx == 7);
    c[0] = cand_box(0, 0, 10, 10, 0.9f, 0);  /* A */
    c[1] = cand_box(4, 0, 10, 10, 0.8f, 1);  /* B: 60/140 with A */
    c[2] = cand_box(10, 0, 10, 10, 0.7f, 2); /* C: 0 with A, 40/160 with B */
    FM_CHECK_INT(fm_yunet_nms(c, 3, 0.5f, 0.3f), 2);
    FM_CHECK(c[0].idx == 0 && c[1].idx == 2);
    /* identical boxes with equal scores: the first decoded one stays */
    c[0] = cand_box(0, 0, 10, 10, 0.8f, 4);
    c[1] = cand_box(0, 0, 10, 10, 0.8f, 2);
    FM_CHECK_INT(fm_yunet_nms(c, 2, 0.5f, 0.3f), 1);
    FM_CHECK_INT(c[0].idx, 2);

    /* through decode: equal scores at stride 8 and 32 come out stride 8 first */
    synth s;
    FM_CHECK(synth_init(&s, 640, 480, 640));
    synth_cell(&s, 2, 10, 15, 0.81f, 1.0f, 0.5f, 0.5f, 0, 0, 0); /* (496,336) 32x32 */
    synth_cell(&s, 0, 5, 5, 0.81f, 1.0f, 0.5f, 0.5f, 0, 0, 0);   /* (40,40) 8x8 */
    fm_face f[4];
    FM_CHECK_INT(fm_yunet_decode(&s.out, &s.g, 0.5f, 0.3f, s.cand, f, 4), 2);
    FM_CHECK(f[0].x1 == 40.0f && f[1].x1 == 480.0f);
    synth_free(&s);
}

/* ---- back to the image ------------------------------------------------------------------- */

static void test_yunet_map_back(void)
{
    synth s;
    /* 1000x750 at 640: 640x480, factors 0.64 on both axes */
    FM_CHECK(synth_init(&s, 1000, 750, 640));
    synth_cell(&s, 1, 10, 20, 1.0f, 1.0f, 0.5f, 0.5f, 0.0f, 1.0f, 0.25f);
    fm_face f[2];
    int n = fm_yunet_decode(&s.out, &s.g, 0.5f, 0.3f, s.cand, f, 2);
    FM_CHECK_INT(n, 1);
    if (n == 1) {
        float sx = 640.0f / 1000.0f, sy = 480.0f / 750.0f;
        float h = expf(1.0f) * 16.0f;
        float x1 = 20.5f * 16.0f - 8.0f, y1 = 10.5f * 16.0f - h / 2.0f;
        FM_CHECK(f[0].x1 == x1 / sx && f[0].y1 == y1 / sy);
        FM_CHECK(f[0].x2 == (x1 + 16.0f) / sx && f[0].y2 == (y1 + h) / sy);
        FM_CHECK(f[0].landmarks[0][0] == (0.25f + 20.0f) * 16.0f / sx);
        FM_CHECK(f[0].landmarks[4][1] == (0.25f + 0.1f * 9.0f + 10.0f) * 16.0f / sy);
    }
    synth_free(&s);

    /* 333x500 at 320: 213x320, padded 224x320 (factors 213/333 and 320/500) */
    FM_CHECK(synth_init(&s, 333, 500, 320));
    /* a face over the top-left corner: corners clipped to 0, landmarks not */
    synth_cell(&s, 0, 0, 0, 1.0f, 1.0f, 0.0f, 0.0f, 1.0f, 1.0f, -1.0f);
    /* a face wholly in the right padding: x from 216 to 224 > 213, outside: dropped */
    synth_cell(&s, 0, 20, 27, 0.81f, 1.0f, 0.5f, 0.5f, 0.0f, 0.0f, 0);
    /* a face reaching past the right edge: clipped to W */
    synth_cell(&s, 2, 4, 6, 0.64f, 1.0f, 0.5f, 0.5f, 0.0f, 0.0f, 0);
    n = fm_yunet_decode(&s.out, &s.g, 0.5f, 0.3f, s.cand, f, 2);
    FM_CHECK_INT(n, 2);
    if (n == 2) {
        float sx = 213.0f / 333.0f, sy = 320.0f / 500.0f;
        FM_CHECK(f[0].score == 1.0f && f[0].x1 == 0.0f && f[0].y1 == 0.0f);
        float w = expf(1.0f) * 8.0f;
        FM_CHECK(f[0].x2 == w / 2.0f / sx && f[0].y2 == w / 2.0f / sy);
        FM_CHECK(f[0].landmarks[0][0] == -8.0f / sx && f[0].landmarks[0][0] < 0);
        FM_CHECK_NEAR(f[1].score, 0.8f, 1e-7);
        FM_CHECK(f[1].x1 == 192.0f / sx && f[1].x2 == 333.0f);
        FM_CHECK(f[1].y1 == 128.0f / sy && f[1].y2 == 160.0f / sy);
    }
    synth_free(&s);

    /* boxes wholly left of or below the image (no area after clipping) and one whose size is
     * not finite are dropped */
    FM_CHECK(synth_init(&s, 640, 480, 640));
    synth_cell(&s, 0, 0, 0, 1.0f, 1.0f, -5.0f, 0.5f, 0.0f, 0.0f, 0); /* x: -44..-36 */
    synth_cell(&s, 0, 1, 1, 1.0f, 1.0f, 0.5f, 0.5f, NAN, 0.0f, 0);
    synth_cell(&s, 0, 59, 79, 1.0f, 1.0f, 0.5f, 3.0f, 0.0f, 0.0f, 0); /* y: 492..500 > 480 */
    n = fm_yunet_decode(&s.out, &s.g, 0.5f, 0.3f, s.cand, f, 2);
    FM_CHECK_INT(n, 0);
    synth_free(&s);
}

/* ---- decode on OpenCV's own outputs ------------------------------------------------------- */

/* The line of expected_320.jsonl for image. */
static int parse_ref(const char *text, const char *image, fm_det_line *r)
{
    char key[300];
    snprintf(key, sizeof key, "{\"image\":\"%s\",", image);
    const char *p = strstr(text, key);
    return p && fm_det_parse_line(p, r);
}

/* OpenCV 4.6's 12 raw outputs of both models at det-size 320 (tests/fixtures/yunet/raw), run
 * through fm_yunet_decode: the same faces, boxes, scores and landmarks as the reference decoded
 * from them (to the 2 and 4 decimals it prints). Independent of the engine's forward. */
static void test_yunet_decode_opencv_outputs(void)
{
    static const char *const models[2] = {"n", "s"};
    static const char *const stems[2][2] = {{"pyimagesearch_example_01", ".png"},
                                            {"coral_face", ".jpg"}};
    static const char *const kinds[4] = {"cls", "obj", "bbox", "kps"};
    static const int widths[4] = {1, 1, 4, 10};
    for (int m = 0; m < 2; m++) {
        char path[512];
        snprintf(path, sizeof path, "tests/fixtures/yunet/raw/%s/expected_320.jsonl", models[m]);
        char *expected = fm_test_read_file(path, NULL);
        FM_CHECK_MSG(expected != NULL, "cannot read %s", path);
        for (int i = 0; expected && i < 2; i++) {
            char image[128];
            snprintf(image, sizeof image, "demo/%s%s", stems[i][0], stems[i][1]);
            static fm_det_line ref;
            FM_CHECK_MSG(parse_ref(expected, image, &ref), "%s: no line for %s", path, image);
            fm_yunet_geom g;
            fm_err err = {0};
            if (fm_yunet_geometry(ref.w, ref.h, 320, &g, &err) != FM_OK)
                continue;
            float *bufs[4][3] = {{NULL}};
            fm_yunet_outputs out;
            int ok = 1;
            for (int k = 0; k < 4; k++)
                for (int si = 0; si < 3; si++) {
                    size_t rows = (size_t)(g.pad_w / k_s[si]) * (size_t)(g.pad_h / k_s[si]);
                    snprintf(path, sizeof path, "tests/fixtures/yunet/raw/%s/%s.%s_%d.txt",
                             models[m], stems[i][0], kinds[k], k_s[si]);
                    bufs[k][si] = fm_det_read_raw(path, rows * (size_t)widths[k]);
                    FM_CHECK_MSG(bufs[k][si] != NULL, "%s: missing or not %zu values", path,
                                 rows * (size_t)widths[k]);
                    ok = ok && bufs[k][si];
                }
            for (int si = 0; si < 3; si++) {
                out.cls[si] = bufs[0][si];
                out.obj[si] = bufs[1][si];
                out.bbox[si] = bufs[2][si];
                out.kps[si] = bufs[3][si];
            }
            fm_yunet_cand *cand = malloc((size_t)fm_yunet_max_candidates(&g) * sizeof *cand);
            fm_face f[16];
            int n = ok && cand ? fm_yunet_decode(&out, &g, 0.5f, FM_YUNET_NMS_IOU, cand, f, 16)
                               : -1;
            FM_CHECK_MSG(n == ref.nfaces, "%s %s: %d faces, OpenCV %d", models[m], image, n,
                         ref.nfaces);
            double worst = 0;
            for (int a = 0; a < n && a < ref.nfaces; a++) {
                const float got[4] = {f[a].x1, f[a].y1, f[a].x2, f[a].y2};
                for (int c = 0; c < 4; c++)
                    worst = fmax(worst, fabs((double)got[c] - (double)ref.box[a][c]));
                for (int c = 0; c < 10; c++)
                    worst = fmax(worst, fabs((double)f[a].landmarks[c / 2][c % 2] -
                                             (double)ref.lm[a][c / 2][c % 2]));
                FM_CHECK_NEAR(f[a].score, ref.score[a], 0.00005 + 1e-6);
            }
            FM_CHECK_MSG(worst <= 0.005 + 1e-4, "%s %s: a coordinate differs by %.4f px",
                         models[m], image, worst);
            free(cand);
            for (int k = 0; k < 4; k++)
                for (int si = 0; si < 3; si++)
                    free(bufs[k][si]);
        }
        free(expected);
    }
}

/* The engine's 12 raw outputs against OpenCV 4.6's (tests/fixtures/yunet/raw, det-size 320)
 * on the same photos: within 1e-4 each, for both models, with the fused 1x1+depthwise ops
 * (default) and without them, at 1 and 2 threads, and with the reference kernels (n only). */
static void test_yunet_forward_matches_opencv(void)
{
    static const char *const models[2][2] = {{"n", "yunet_n_640_640.onnx"},
                                             {"s", "face_detection_yunet_2023mar.onnx"}};
    static const char *const stems[2][2] = {{"pyimagesearch_example_01", ".png"},
                                            {"coral_face", ".jpg"}};
    static const char *const kinds[4] = {"cls", "obj", "bbox", "kps"};
    static const int widths[4] = {1, 1, 4, 10};
    /* threads, fuse_pw_dw, reference */
    static const int variants[][3] = {{1, 1, 0}, {2, 1, 0}, {1, 0, 0}, {2, 0, 0}, {1, 1, 1}};
    for (int m = 0; m < 2; m++) {
        char model[1200];
        snprintf(model, sizeof model, "%s/models/yunet/%s", fm_test_shared(), models[m][1]);
        for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
            if (variants[v][2] && (m > 0 || fm_test_sanitized()))
                continue;
            fm_net_opts o = fm_net_default_opts();
            o.threads = variants[v][0];
            o.fuse_pw_dw = variants[v][1];
            o.reference = variants[v][2];
            fm_err err = {0};
            fm_yunet *y = fm_yunet_create(model, 320, &o, &err);
            FM_CHECK_MSG(y != NULL, "%s: %s", model, err.msg);
            if (!y)
                continue;
            for (int i = 0; i < 2; i++) {
                char path[1200];
                snprintf(path, sizeof path, "%s/demo/%s%s", fm_test_shared(), stems[i][0],
                         stems[i][1]);
                fm_image *img = fm_image_load(path, 0, &err);
                FM_CHECK_MSG(img != NULL, "%s: %s", path, err.msg);
                if (!img)
                    continue;
                fm_face f[16];
                FM_CHECK(fm_yunet_run(y, img, 0.5f, f, 16, NULL, &err) >= 0);
                fm_yunet_geom g;
                FM_CHECK(fm_yunet_geometry(img->w, img->h, 320, &g, &err) == FM_OK);
                double worst = 0;
                const char *where = "";
                char name[32];
                for (int k = 0; k < 4; k++)
                    for (int si = 0; si < 3; si++) {
                        size_t n = (size_t)(g.pad_w / k_s[si]) * (size_t)(g.pad_h / k_s[si]) *
                                   (size_t)widths[k];
                        snprintf(path, sizeof path, "tests/fixtures/yunet/raw/%s/%s.%s_%d.txt",
                                 models[m][0], stems[i][0], kinds[k], k_s[si]);
                        float *want = fm_det_read_raw(path, n);
                        snprintf(name, sizeof name, "%s_%d", kinds[k], k_s[si]);
                        const fm_tensor *t = fm_net_blob(fm_yunet_net(y), name);
                        FM_CHECK_MSG(want && t && fm_shape_count(&t->shape) == n,
                                     "%s: missing, or not %zu values", name, n);
                        for (size_t j = 0; want && t && fm_shape_count(&t->shape) == n && j < n;
                             j++) {
                            double e = fabs((double)t->data[j] - (double)want[j]);
                            if (!(e <= worst)) {
                                worst = e != e ? 1e30 : e;
                                where = kinds[k];
                            }
                        }
                        free(want);
                    }
                FM_CHECK_MSG(worst <= 1e-4,
                             "%s on %s, %d threads%s%s: an output (%s) differs from OpenCV's "
                             "by %g",
                             models[m][0], stems[i][0], variants[v][0],
                             variants[v][1] ? "" : ", unfused", variants[v][2] ? ", reference" : "",
                             where, worst);
                fm_image_free(img);
            }
            fm_yunet_free(y);
        }
    }
}

/* ---- the detector spec -------------------------------------------------------------------- */

static void expect_create_error(const char *detector, int w, int h, const char *needle)
{
    char mdir[1024];
    snprintf(mdir, sizeof mdir, "%s/models", fm_test_shared());
    fm_detector_spec spec = {detector, mdir, w, h};
    fm_err err = {0};
    fm_detector *d = fm_detector_create(&spec, NULL, &err);
    FM_CHECK_MSG(d == NULL, "detector '%s' created", detector ? detector : "(default)");
    fm_detector_free(d);
    FM_CHECK_STR_CONTAINS(err.msg, needle);
    FM_CHECK_MSG(!strchr(err.msg, '\n'), "message on several lines: %s", err.msg);
}

static void test_yunet_spec_errors(void)
{
    expect_create_error("yunett", 0, 0,
                        "unknown detector 'yunett' (expected tuned, yunet, res10 or the path of "
                        "a YuNet .onnx file)");
    expect_create_error("/nonexistent/face.onnx", 0, 0, "/nonexistent/face.onnx: cannot open");
    expect_create_error("missing.onnx", 0, 0, "missing.onnx: cannot open");
    expect_create_error("yunet", 600, 400, "YuNet takes one number");
    expect_create_error("yunet", 16, 0, "det size 16");
    expect_create_error("res10", 600, 40, "res10: det size 600x40");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", fm_test_tmpdir());
    expect_create_error(dir, 0, 0, "is a directory");

    /* a file that is not a YuNet model: refused, one line naming it */
    char bad[1100];
    snprintf(bad, sizeof bad, "%s/not_yunet.onnx", fm_test_tmpdir());
    fm_test_write_text(bad, "not a model\n");
    expect_create_error(bad, 0, 0, "not_yunet.onnx");

    /* res10 still loads as before, with no landmarks */
    char mdir[1024];
    snprintf(mdir, sizeof mdir, "%s/models", fm_test_shared());
    fm_detector_spec spec = {"res10", mdir, 0, 0};
    fm_err err = {0};
    fm_detector *d = fm_detector_create(&spec, NULL, &err);
    FM_CHECK_MSG(d != NULL, "res10: %s", err.msg);
    if (d) {
        FM_CHECK_INT(fm_detector_kind_of(d), FM_DETECTOR_RES10);
        fm_face f[64];
        char img[1100];
        snprintf(img, sizeof img, "%s/demo/coral_face.jpg", fm_test_shared());
        int n = fm_detector_detect_file(d, img, 0.5f, f, 64, &err);
        FM_CHECK_MSG(n >= 1, "res10 on %s: %d (%s)", img, n, err.msg);
        for (int i = 0; i < n && i < 64; i++)
            FM_CHECK_INT(f[i].nlandmarks, 0);
        fm_detector_free(d);
    }
}

/* ---- the real models (needs the ONNX importer) --------------------------------------------- */

static int importer_built(void)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/models/yunet/yunet_n_640_640.onnx", fm_test_shared());
    fm_err err = {0};
    fm_net *net = fm_onnx_load_net(p, NULL, &err);
    fm_net_free(net);
    if (!net && strstr(err.msg, "not built yet")) {
        printf("  skipped: %s\n", err.msg);
        return 0;
    }
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    return net != NULL;
}

/* Both YuNet files on the demo photos: faces found, landmarks inside their boxes (mostly),
 * the same answer from a second run and after a detour through another size. */
static void test_yunet_demo_photos(void)
{
    if (!importer_built())
        return;
    static const char *const photos[] = {"aizoo_demo2.jpg", "chandrikadeb7_pic1.jpeg",
                                         "coral_face.jpg", "pyimagesearch_example_01.png",
                                         "pyimagesearch_example_02.png", "uengmim_test_image.png"};
    static const char *const models[] = {"yunet", "face_detection_yunet_2023mar.onnx"};
    for (int m = 0; m < 2; m++) {
        char mdir[1024], path[1200];
        snprintf(mdir, sizeof mdir, "%s/models", fm_test_shared());
        snprintf(path, sizeof path, "%s/yunet/%s", mdir, models[m]);
        fm_detector_spec spec = {m == 0 ? "yunet" : path, mdir, 0, 0};
        fm_net_opts o = fm_net_default_opts();
        o.threads = 2;
        fm_err err = {0};
        fm_detector *d = fm_detector_create(&spec, &o, &err);
        FM_CHECK_MSG(d != NULL, "%s: %s", models[m], err.msg);
        if (!d)
            continue;
        int faces = 0, inside = 0, total_lm = 0;
        for (size_t i = 0; i < sizeof photos / sizeof *photos; i++) {
            char img[1200];
            snprintf(img, sizeof img, "%s/demo/%s", fm_test_shared(), photos[i]);
            fm_face f[64], g[64];
            int n = fm_detector_detect_file(d, img, 0.5f, f, 64, &err);
            FM_CHECK_MSG(n >= 1, "%s on %s: %d faces (%s)", models[m], photos[i], n, err.msg);
            int n2 = fm_detector_detect_file(d, img, 0.5f, g, 64, &err);
            FM_CHECK_INT(n2, n);
            for (int k = 0; k < n && k < 64 && k < n2; k++)
                FM_CHECK_MSG(memcmp(&f[k], &g[k], sizeof f[k]) == 0,
                             "%s: face %d differs on a second run", photos[i], k);
            for (int k = 0; k < n && k < 64; k++) {
                faces++;
                FM_CHECK_INT(f[k].nlandmarks, 5);
                FM_CHECK(f[k].x2 > f[k].x1 && f[k].y2 > f[k].y1 && f[k].score >= 0.5f);
                for (int l = 0; l < 5; l++) {
                    float x = f[k].landmarks[l][0], y = f[k].landmarks[l][1];
                    total_lm++;
                    inside += x >= f[k].x1 && x <= f[k].x2 && y >= f[k].y1 && y <= f[k].y2;
                }
            }
        }
        printf("  %s: %d faces on %zu photos, %d of %d landmarks inside their box\n", models[m],
               faces, sizeof photos / sizeof *photos, inside, total_lm);
        FM_CHECK_MSG(inside * 10 >= total_lm * 9, "%d of %d landmarks inside their box", inside,
                     total_lm);
        fm_detector_free(d);
    }
}

/* The faces of one detector spec on a photo, as "x1 y1 x2 y2 score;" text. */
static void faces_text(const char *name, const char *mdir, const char *img, char *out, size_t n)
{
    fm_detector_spec spec = {name, mdir, 0, 0};
    fm_err err = {0};
    fm_detector *d = fm_detector_create(&spec, NULL, &err);
    FM_CHECK_MSG(d != NULL, "%s: %s", name ? name : "(default)", err.msg);
    out[0] = '\0';
    if (!d)
        return;
    fm_face f[32];
    int k = fm_detector_detect_file(d, img, 0.3f, f, 32, &err);
    FM_CHECK_MSG(k > 0, "%s found %d faces: %s", name ? name : "(default)", k, err.msg);
    size_t used = 0;
    for (int i = 0; i < k && i < 32 && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%.3f %.3f %.3f %.3f %.5f;",
                                 (double)f[i].x1, (double)f[i].y1, (double)f[i].x2,
                                 (double)f[i].y2, (double)f[i].score);
    fm_detector_free(d);
}

/* The default detector (no name, "" or "tuned") is the committed fine-tuned YuNet-n in the
 * project's models/detector/: the same faces as that file given by path, and not the faces of
 * stock YuNet-n ("yunet"), whose weights differ. */
static void test_default_is_tuned(void)
{
    char img[600], def[4096], empty[4096], tuned[4096], path[4096], stock[4096];
    snprintf(img, sizeof img, "%s/demo/aizoo_demo2.jpg", fm_test_shared());
    faces_text(NULL, "models", img, def, sizeof def);
    faces_text("", "models", img, empty, sizeof empty);
    faces_text("tuned", "models", img, tuned, sizeof tuned);
    faces_text("models/detector/detector.onnx", "/nonexistent", img, path, sizeof path);
    faces_text("yunet", "models", img, stock, sizeof stock);
    FM_CHECK_MSG(def[0] && strcmp(def, path) == 0, "default %s\nfile    %s", def, path);
    FM_CHECK(strcmp(def, empty) == 0 && strcmp(def, tuned) == 0);
    FM_CHECK_MSG(strcmp(def, stock) != 0, "the default gives stock YuNet-n's faces: %s", stock);
}

void suite_yunet(void);
void suite_yunet(void)
{
    FM_RUN(test_yunet_geometry);
    FM_RUN(test_yunet_preprocess);
    FM_RUN(test_yunet_decode_one_cell);
    FM_RUN(test_yunet_decode_scores);
    FM_RUN(test_yunet_nms_threshold);
    FM_RUN(test_yunet_nms_order);
    FM_RUN(test_yunet_map_back);
    FM_RUN(test_yunet_decode_opencv_outputs);
    FM_RUN(test_yunet_forward_matches_opencv);
    FM_RUN(test_yunet_spec_errors);
    FM_RUN(test_default_is_tuned);
    FM_RUN(test_yunet_demo_photos);
}
