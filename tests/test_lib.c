/* libfacemask's public API (include/facemask.h): the same faces as the command line, pixels in
 * either channel order and any stride, every bad argument refused with a message on its own
 * handle, handles on two threads at once, the video stream's ids, labels, events and counts.
 * The header, the shared library's exports and the plugin's: test_lib_abi.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facemask.h"
#include "io/image.h"
#include "test.h"
#include "test_det_util.h"

#define DEMO_MASK "aizoo_demo2.jpg"         /* one face, mask */
#define DEMO_TWO "uengmim_test_image.png"   /* a no_mask face and a mask face */
#define DEMO_FOUR "coral_face.jpg"          /* four faces, no_mask */

static void demo_path(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/demo/%s", fm_test_shared(), name);
}

/* A handle with the default options: the models are found as the library finds them (the test
 * binary sits in build/ beside the project's models/). */
static fm_ctx *open_default(void)
{
    char err[1024];
    fm_ctx *ctx = fm_open(NULL, err, sizeof err);
    FM_CHECK_MSG(ctx != NULL, "fm_open: %s", err);
    return ctx;
}

/* "mask_prob": values of a detect --json line, in order. */
static int json_mask_probs(const char *line, float *out, int max)
{
    int n = 0;
    for (const char *p = strstr(line, "\"mask_prob\":"); p && n < max;
         p = strstr(p + 1, "\"mask_prob\":"))
        out[n++] = strtof(p + 12, NULL);
    return n;
}

/* fm_detect_file gives what `facemask detect --json` prints: boxes, scores, landmarks, P(mask)
 * and labels, on photos with one, two and four faces. */
static void test_lib_detect_matches_cli(void)
{
    fm_ctx *ctx = open_default();
    if (!ctx)
        return;
    const char *names[] = {DEMO_MASK, DEMO_TWO, DEMO_FOUR};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char img[512], cmd[1200];
        demo_path(names[k], img, sizeof img);
        snprintf(cmd, sizeof cmd, "%s detect --json %s", fm_test_bin(), img);
        char *out = NULL;
        int rc = fm_test_cmd(cmd, &out);
        fm_det_line want;
        FM_CHECK_MSG(rc == 0 && out && fm_det_parse_line(out, &want), "%s: %d %s", cmd, rc,
                     out ? out : "");
        float probs[FM_DET_MAX_FACES];
        int nprobs = out ? json_mask_probs(out, probs, FM_DET_MAX_FACES) : 0;
        free(out);
        if (fm_test_failed_now())
            break;
        const fm_result *f = NULL;
        int w = 0, h = 0;
        int n = fm_detect_file(ctx, img, &f, &w, &h);
        FM_CHECK_MSG(n == want.nfaces, "%s: %d faces, the CLI %d (%s)", names[k], n, want.nfaces,
                     fm_error(ctx));
        FM_CHECK_INT(nprobs, want.nfaces);
        FM_CHECK_INT(w, want.w);
        FM_CHECK_INT(h, want.h);
        for (int i = 0; i < n && i < want.nfaces && f; i++) {
            for (int c = 0; c < 4; c++)
                FM_CHECK_NEAR((&f[i].x1)[c], want.box[i][c], 0.006);
            FM_CHECK_NEAR(f[i].score, want.score[i], 0.00006);
            FM_CHECK_INT(f[i].nlandmarks, 5);
            for (int l = 0; l < 5; l++) {
                FM_CHECK_NEAR(f[i].landmarks[l][0], want.lm[i][l][0], 0.006);
                FM_CHECK_NEAR(f[i].landmarks[l][1], want.lm[i][l][1], 0.006);
            }
            FM_CHECK_NEAR(f[i].mask_prob, probs[i], 0.00006);
            FM_CHECK_MSG(strcmp(f[i].label, f[i].mask_prob >= 0.5f ? "mask" : "no_mask") == 0,
                         "label %s for mask_prob %.4f", f[i].label, (double)f[i].mask_prob);
            FM_CHECK(f[i].x2 > f[i].x1 && f[i].y2 > f[i].y1);
        }
    }
    fm_close(ctx);
}

/* The same pixels in BGR and in RGB, with the rows packed or 13 bytes apart, or read through a
 * window of a larger image, give the same faces (bit for bit); fm_classify too. */
static void test_lib_pixels_and_stride(void)
{
    char img_path[512];
    demo_path(DEMO_TWO, img_path, sizeof img_path);
    fm_err err = {0};
    fm_image *img = fm_image_load(img_path, 0, &err);
    FM_CHECK_MSG(img != NULL, "%s", err.msg);
    fm_ctx *ctx = open_default();
    if (!img || !ctx) {
        fm_image_free(img);
        fm_close(ctx);
        return;
    }
    const fm_result *f;
    int n = fm_detect(ctx, img->data, img->w, img->h, img->stride, FM_PIXELS_BGR, &f);
    FM_CHECK_MSG(n == 2, "%d faces (%s)", n, fm_error(ctx));
    fm_result ref[2];
    if (n == 2)
        memcpy(ref, f, sizeof ref);
    /* RGB, rows padded */
    int stride = img->w * 3 + 13;
    unsigned char *rgb = calloc((size_t)stride * (size_t)img->h, 1);
    for (int y = 0; rgb && y < img->h; y++)
        for (int x = 0; x < img->w; x++)
            for (int c = 0; c < 3; c++)
                rgb[(size_t)y * stride + 3 * x + c] = img->data[(size_t)y * img->stride + 3 * x + 2 - c];
    int n2 = rgb ? fm_detect(ctx, rgb, img->w, img->h, stride, FM_PIXELS_RGB, &f) : -1;
    FM_CHECK_INT(n2, n);
    for (int i = 0; i < n && i < n2 && n == 2; i++)
        FM_CHECK_MSG(memcmp(&f[i], &ref[i], sizeof ref[i]) == 0, "face %d differs in RGB", i);
    /* the image inside a wider canvas, read through the canvas's stride: the same faces */
    int pad = 40, cstride = (img->w + 2 * pad) * 3;
    unsigned char *canvas = calloc((size_t)cstride * (size_t)img->h, 1);
    for (int y = 0; canvas && y < img->h; y++)
        memcpy(canvas + (size_t)y * cstride + 3 * pad, img->data + (size_t)y * img->stride,
               (size_t)img->w * 3);
    int n3 = canvas ? fm_detect(ctx, canvas + 3 * pad, img->w, img->h, cstride, FM_PIXELS_BGR,
                                &f)
                    : -1;
    FM_CHECK_INT(n3, n);
    for (int i = 0; i < n && i < n3 && n == 2; i++)
        FM_CHECK_MSG(memcmp(&f[i], &ref[i], sizeof ref[i]) == 0, "face %d differs in a canvas",
                     i);
    free(canvas);
    /* fm_classify: a face crop in both orders */
    if (n == 2 && rgb) {
        int x1 = (int)ref[0].x1, y1 = (int)ref[0].y1;
        int cw = (int)ref[0].x2 - x1, ch = (int)ref[0].y2 - y1;
        float pb = -1, pr = -1;
        FM_CHECK_INT(fm_classify(ctx, img->data + (size_t)y1 * img->stride + 3 * x1, cw, ch,
                                 img->stride, FM_PIXELS_BGR, &pb), 0);
        FM_CHECK_INT(fm_classify(ctx, rgb + (size_t)y1 * stride + 3 * x1, cw, ch, stride,
                                 FM_PIXELS_RGB, &pr), 0);
        FM_CHECK(pb >= 0 && pb <= 1);
        FM_CHECK_MSG(pb == pr, "BGR %.6f, RGB %.6f", (double)pb, (double)pr);
        /* the crop's label agrees with the detected face's */
        FM_CHECK_MSG((pb >= 0.5f) == (ref[0].mask_prob >= 0.5f), "crop %.3f, face %.3f",
                     (double)pb, (double)ref[0].mask_prob);
    }
    free(rgb);
    fm_image_free(img);
    fm_close(ctx);
}

/* Options: detect_only, res10, conf and max_faces do what the header says. */
static void test_lib_options(void)
{
    char img[512], err[1024];
    demo_path(DEMO_FOUR, img, sizeof img);
    fm_options o = {0};
    o.detect_only = 1;
    o.max_faces = 2;
    o.threads = 2;
    fm_ctx *ctx = fm_open(&o, err, sizeof err);
    FM_CHECK_MSG(ctx != NULL, "%s", err);
    const fm_result *f;
    int n = ctx ? fm_detect_file(ctx, img, &f, NULL, NULL) : -1;
    FM_CHECK_INT(n, 2);
    for (int i = 0; i < n; i++) {
        FM_CHECK(strcmp(f[i].label, "") == 0);
        FM_CHECK_NEAR(f[i].mask_prob, -1.0, 0);
    }
    if (n == 2)
        FM_CHECK(f[0].score >= f[1].score);
    float p = 0;
    FM_CHECK_INT(ctx ? fm_classify(ctx, (const unsigned char *)"abc", 1, 1, 3, FM_PIXELS_BGR, &p)
                     : 0,
                 -1);
    FM_CHECK_STR_CONTAINS(ctx ? fm_error(ctx) : NULL, "detect_only");
    fm_close(ctx);

    memset(&o, 0, sizeof o);
    o.detector = "res10";
    o.conf = 0.9f;
    ctx = fm_open(&o, err, sizeof err);
    FM_CHECK_MSG(ctx != NULL, "%s", err);
    demo_path(DEMO_MASK, img, sizeof img);
    n = ctx ? fm_detect_file(ctx, img, &f, NULL, NULL) : -1;
    FM_CHECK_MSG(n >= 1, "res10: %d faces (%s)", n, ctx ? fm_error(ctx) : "");
    for (int i = 0; i < n; i++) {
        FM_CHECK_INT(f[i].nlandmarks, 0);
        FM_CHECK(f[i].score >= 0.9f);
        FM_CHECK(strcmp(f[i].label, "mask") == 0);
    }
    fm_close(ctx);
}

static void expect_open_error(const fm_options *o, const char *needle)
{
    char err[1024] = "unchanged";
    fm_ctx *ctx = fm_open(o, err, sizeof err);
    FM_CHECK_MSG(ctx == NULL, "fm_open accepted what should fail with '%s'", needle);
    fm_close(ctx);
    FM_CHECK_STR_CONTAINS(err, needle);
    FM_CHECK_MSG(!strchr(err, '\n'), "more than one line: %s", err);
}

/* fm_open refuses bad options and missing models with one line; a small buffer is cut and still
 * terminated; a NULL buffer is allowed. */
static void test_lib_open_errors(void)
{
    fm_options o = {0};
    o.threads = 65;
    expect_open_error(&o, "threads 65 (expected 1 to 64");
    o.threads = -1;
    expect_open_error(&o, "threads -1");
    memset(&o, 0, sizeof o);
    o.conf = 1.5f;
    expect_open_error(&o, "conf 1.5 (expected a score in (0, 1]");
    o.conf = NAN;
    expect_open_error(&o, "conf nan");
    memset(&o, 0, sizeof o);
    o.max_faces = -3;
    expect_open_error(&o, "max_faces -3");
    memset(&o, 0, sizeof o);
    o.det_height = 300;
    expect_open_error(&o, "det size 0x300");
    memset(&o, 0, sizeof o);
    o.det_width = 600;
    o.det_height = 400;
    expect_open_error(&o, "YuNet takes one number");
    memset(&o, 0, sizeof o);
    o.detector = "yunett";
    expect_open_error(&o, "unknown detector 'yunett'");
    memset(&o, 0, sizeof o);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/no-models", fm_test_tmpdir());
    o.model_dir = dir;
    expect_open_error(&o, "no-models/detector/detector.onnx: cannot open the default detector "
                          "(YuNet-n fine-tuned on masked faces)");
    expect_open_error(&o, "FACEMASK_MODELS");
    o.detector = "yunet"; /* stock YuNet-n */
    expect_open_error(&o, "no-models/yunet/yunet_n_640_640.onnx: cannot open YuNet");
    o.detector = NULL;
    /* the detector found, the default classifier missing: says where models are looked for */
    char shared_models[600];
    snprintf(shared_models, sizeof shared_models, "%s/models", fm_test_shared());
    o.model_dir = shared_models; /* yunet/ and res10/, no mask/ (nor detector/) */
    o.detector = "yunet";
    expect_open_error(&o, "mask/classifier.cfg: no mask classifier");
    expect_open_error(&o, "FACEMASK_MODELS");
    o.detect_only = 1;
    char err[1024];
    fm_ctx *ctx = fm_open(&o, err, sizeof err);
    FM_CHECK_MSG(ctx != NULL, "detect_only without mask/: %s", err);
    FM_CHECK_INT(err[0], 0); /* cleared on success */
    fm_close(ctx);
    /* a short buffer, and none */
    memset(&o, 0, sizeof o);
    o.threads = 99;
    char small[8];
    memset(small, 'x', sizeof small);
    FM_CHECK(fm_open(&o, small, sizeof small) == NULL);
    FM_CHECK_INT(strlen(small), 7);
    FM_CHECK(fm_open(&o, NULL, 0) == NULL);
    FM_CHECK(fm_open(&o, small, 0) == NULL);
    fm_close(NULL);
    fm_stream_close(NULL);
}

/* Bad calls: -1, a message on that handle only, and the handle still works. */
static void test_lib_call_errors(void)
{
    fm_ctx *a = open_default();
    fm_ctx *b = open_default();
    if (!a || !b) {
        fm_close(a);
        fm_close(b);
        return;
    }
    FM_CHECK_INT(strlen(fm_error(a)), 0);
    unsigned char px[64 * 64 * 3];
    memset(px, 128, sizeof px);
    const fm_result *f = (const fm_result *)px;
    FM_CHECK_INT(fm_detect(a, NULL, 64, 64, 192, FM_PIXELS_BGR, &f), -1);
    FM_CHECK(f == NULL);
    FM_CHECK_STR_CONTAINS(fm_error(a), "pixels is NULL");
    FM_CHECK_INT(fm_detect(a, px, 64, 64, 100, FM_PIXELS_BGR, &f), -1);
    FM_CHECK_STR_CONTAINS(fm_error(a), "stride 100 for width 64 (expected at least 3 * width = 192");
    FM_CHECK_INT(fm_detect(a, px, 0, 64, 192, FM_PIXELS_BGR, &f), -1);
    FM_CHECK_STR_CONTAINS(fm_error(a), "image size 0x64");
    FM_CHECK_INT(fm_detect(a, px, 70000, 1, 210000, FM_PIXELS_BGR, &f), -1);
    FM_CHECK_STR_CONTAINS(fm_error(a), "image size 70000x1 (expected 1 to 65535");
    FM_CHECK_INT(fm_detect(a, px, 60000, 60000, 180000, FM_PIXELS_BGR, &f), -1);
    FM_CHECK_STR_CONTAINS(fm_error(a), "exceeds");
    FM_CHECK_INT(fm_detect(a, px, 64, 64, 192, (fm_pixels)7, &f), -1);
    FM_CHECK_STR_CONTAINS(fm_error(a), "pixel format 7");
    FM_CHECK_INT(fm_detect_file(a, NULL, &f, NULL, NULL), -1);
    FM_CHECK_STR_CONTAINS(fm_error(a), "path is NULL");
    char path[600];
    snprintf(path, sizeof path, "%s/not-an-image.jpg", fm_test_tmpdir());
    fm_test_write_text(path, "hello\n");
    FM_CHECK_INT(fm_detect_file(a, path, &f, NULL, NULL), -1);
    FM_CHECK_STR_CONTAINS(fm_error(a), "not-an-image.jpg");
    FM_CHECK_INT(fm_classify(a, px, 64, 64, 192, FM_PIXELS_BGR, NULL), -1);
    FM_CHECK_STR_CONTAINS(fm_error(a), "mask_prob is NULL");
    FM_CHECK_INT(fm_detect(NULL, px, 64, 64, 192, FM_PIXELS_BGR, &f), -1);
    FM_CHECK_INT(fm_detect_file(NULL, path, &f, NULL, NULL), -1);
    FM_CHECK_STR_CONTAINS(fm_error(NULL), "NULL");
    /* b never failed; a still works: a grey image has no face */
    FM_CHECK_INT(strlen(fm_error(b)), 0);
    FM_CHECK_INT(fm_detect(a, px, 64, 64, 192, FM_PIXELS_BGR, &f), 0);
    FM_CHECK(f != NULL);
    fm_close(a);
    fm_close(b);
}

/* The version the library reports is the header's, and the soname's major. */
static void test_lib_version(void)
{
    int ma = -1, mi = -1, pa = -1;
    const char *v = fm_version(&ma, &mi, &pa);
    FM_CHECK(strcmp(v, FM_VERSION_STRING) == 0);
    FM_CHECK_INT(ma, FM_VERSION_MAJOR);
    FM_CHECK_INT(mi, FM_VERSION_MINOR);
    FM_CHECK_INT(pa, FM_VERSION_PATCH);
    char s[64];
    snprintf(s, sizeof s, "%d.%d.%d", ma, mi, pa);
    FM_CHECK(strcmp(s, v) == 0);
    FM_CHECK(fm_version(NULL, NULL, NULL) == v);
}

/* --- threads ---------------------------------------------------------------------------- */

typedef struct {
    const char *path;
    int n;
    fm_result faces[8];
    int mismatches;
    int rounds;
    char err[1024];
} thread_job;

static void *detect_thread(void *arg)
{
    thread_job *j = arg;
    char err[1024];
    fm_options o = {0};
    o.threads = 1;
    fm_ctx *ctx = fm_open(&o, err, sizeof err);
    if (!ctx) {
        snprintf(j->err, sizeof j->err, "%s", err);
        return NULL;
    }
    for (int r = 0; r < j->rounds; r++) {
        const fm_result *f;
        int n = fm_detect_file(ctx, j->path, &f, NULL, NULL);
        if (n != j->n || (n > 0 && memcmp(f, j->faces, (size_t)n * sizeof *f) != 0))
            j->mismatches++;
    }
    fm_close(ctx);
    return NULL;
}

/* One handle per thread, two threads at once on different photos: each gets exactly what a
 * single thread got (no shared state between handles). Also run under ThreadSanitizer. */
static void test_lib_threads(void)
{
    thread_job jobs[2];
    char paths[2][512];
    demo_path(DEMO_TWO, paths[0], sizeof paths[0]);
    demo_path(DEMO_FOUR, paths[1], sizeof paths[1]);
    fm_ctx *ctx = open_default();
    if (!ctx)
        return;
    for (int k = 0; k < 2; k++) {
        memset(&jobs[k], 0, sizeof jobs[k]);
        jobs[k].path = paths[k];
        jobs[k].rounds = fm_test_sanitized() ? 2 : 4;
        const fm_result *f;
        jobs[k].n = fm_detect_file(ctx, paths[k], &f, NULL, NULL);
        FM_CHECK(jobs[k].n >= 2 && jobs[k].n <= 8);
        if (jobs[k].n > 0 && jobs[k].n <= 8)
            memcpy(jobs[k].faces, f, (size_t)jobs[k].n * sizeof *f);
    }
    fm_close(ctx);
    if (fm_test_failed_now())
        return;
    pthread_t th[2];
    int started[2];
    for (int k = 0; k < 2; k++)
        started[k] = pthread_create(&th[k], NULL, detect_thread, &jobs[k]) == 0;
    for (int k = 0; k < 2; k++) {
        FM_CHECK(started[k]);
        if (started[k])
            pthread_join(th[k], NULL);
        FM_CHECK_MSG(jobs[k].err[0] == '\0', "thread %d: %s", k, jobs[k].err);
        FM_CHECK_MSG(jobs[k].mismatches == 0, "thread %d: %d of %d rounds differ", k,
                     jobs[k].mismatches, jobs[k].rounds);
    }
}

/* --- the video stream ------------------------------------------------------------------- */

typedef struct {
    int appear[8], leave[8], label_changes;
    int nappear, nleave;
    char appear_label[8][16];
} stream_log;

static void collect(fm_stream *s, stream_log *log, long long frame)
{
    const fm_stream_event *ev;
    int n = fm_stream_events(s, &ev);
    for (int i = 0; i < n; i++) {
        FM_CHECK_INT(ev[i].frame, frame);
        if (ev[i].type == FM_STREAM_APPEAR && log->nappear < 8) {
            snprintf(log->appear_label[log->nappear], 16, "%s", ev[i].label);
            log->appear[log->nappear++] = ev[i].id;
        } else if (ev[i].type == FM_STREAM_LEAVE && log->nleave < 8) {
            log->leave[log->nleave++] = ev[i].id;
            FM_CHECK(ev[i].frames >= 10);
            FM_CHECK(ev[i].last_seen >= ev[i].first_seen);
        } else if (ev[i].type == FM_STREAM_LABEL) {
            log->label_changes++;
        }
    }
}

/* A "video" made from a photo with a no_mask and a mask face, the view sliding 2 px left each
 * frame (25 fps, through the photo's stride), then a black frame 3 s later: two persons appear
 * on the third frame with their labels, keep their ids while they move, and leave at the black
 * frame; counts say 2 people, 1 mask, 1 no_mask. The same in RGB gives the same. */
static void run_stream(fm_pixels format, int *ids_out, float *x1_out)
{
    char path[512], err[1024];
    demo_path(DEMO_TWO, path, sizeof path);
    fm_err e = {0};
    fm_image *img = fm_image_load(path, 0, &e);
    FM_CHECK_MSG(img != NULL, "%s", e.msg);
    fm_ctx *ctx = open_default();
    fm_stream *s = ctx ? fm_stream_open(ctx, err, sizeof err) : NULL;
    FM_CHECK_MSG(!ctx || s, "fm_stream_open: %s", err);
    if (!img || !s) {
        fm_stream_close(s);
        fm_close(ctx);
        fm_image_free(img);
        return;
    }
    if (format == FM_PIXELS_RGB)
        for (int y = 0; y < img->h; y++)
            for (int x = 0; x < img->w; x++) {
                uint8_t *p = img->data + (size_t)y * img->stride + 3 * x, t = p[0];
                p[0] = p[2];
                p[2] = t;
            }
    stream_log log;
    memset(&log, 0, sizeof log);
    const int frames = 10, step = 2, w = img->w - step * frames;
    int first_ids[2] = {0, 0};
    for (int k = 0; k < frames; k++) {
        const fm_person *p;
        int n = fm_stream_frame(s, img->data + 3 * step * k, w, img->h, img->stride, format,
                                k / 25.0, &p);
        FM_CHECK_MSG(n == (k < 2 ? 0 : 2), "frame %d: %d persons (%s)", k, n,
                     fm_stream_error(s));
        collect(s, &log, k);
        if (n == 2 && k == 2) {
            first_ids[0] = p[0].id;
            first_ids[1] = p[1].id;
            for (int i = 0; i < 2; i++) {
                ids_out[i] = p[i].id;
                x1_out[i] = p[i].x1;
            }
        }
        if (n == 2 && k > 2) {
            FM_CHECK_INT(p[0].id, first_ids[0]);
            FM_CHECK_INT(p[1].id, first_ids[1]);
            for (int i = 0; i < 2; i++) {
                /* the face moves left with the view: 2 px a frame, give or take a pixel */
                FM_CHECK_NEAR(p[i].x1, x1_out[i] - (float)(step * (k - 2)), 4.0);
                FM_CHECK(strcmp(p[i].label, "unknown") != 0);
                FM_CHECK_INT(p[i].nlandmarks, 5);
            }
        }
    }
    FM_CHECK_INT(log.nappear, 2);
    FM_CHECK_INT(log.nleave, 0);
    FM_CHECK_INT(log.label_changes, 0);
    int labels_seen = 0;
    for (int i = 0; i < log.nappear; i++)
        labels_seen |= strcmp(log.appear_label[i], "mask") == 0     ? 1
                       : strcmp(log.appear_label[i], "no_mask") == 0 ? 2
                                                                     : 4;
    FM_CHECK_MSG(labels_seen == 3, "labels at appear: %s, %s", log.appear_label[0],
                 log.appear_label[1]);
    /* a black frame 3 s later: both have been unseen for more than 1 s */
    unsigned char *black = calloc((size_t)w * 3 * img->h, 1);
    const fm_person *p;
    FM_CHECK_INT(black ? fm_stream_frame(s, black, w, img->h, w * 3, format, 3.0, &p) : -1, 0);
    collect(s, &log, frames);
    FM_CHECK_INT(log.nleave, 2);
    free(black);
    FM_CHECK_INT(fm_stream_finish(s, 3.5), 0);
    /* a bad frame is refused and not counted */
    FM_CHECK_INT(fm_stream_frame(s, img->data, w, img->h, 10, format, 4.0, &p), -1);
    FM_CHECK(p == NULL);
    FM_CHECK_STR_CONTAINS(fm_stream_error(s), "stride 10");
    fm_counts c;
    fm_stream_counts(s, &c);
    FM_CHECK_INT(c.frames, frames + 1);
    FM_CHECK_INT(c.people, 2);
    FM_CHECK_INT(c.mask, 1);
    FM_CHECK_INT(c.no_mask, 1);
    FM_CHECK_INT(c.unknown, 0);
    FM_CHECK_INT(c.active, 0);
    FM_CHECK_INT(c.faces, 2 * frames);
    FM_CHECK_NEAR(c.compliance, 0.5, 1e-9);
    fm_stream_close(s);
    fm_close(ctx);
    fm_image_free(img);
}

static void test_lib_stream(void)
{
    int ids_bgr[2] = {0, 0}, ids_rgb[2] = {0, 0};
    float x_bgr[2] = {0, 0}, x_rgb[2] = {0, 0};
    run_stream(FM_PIXELS_BGR, ids_bgr, x_bgr);
    run_stream(FM_PIXELS_RGB, ids_rgb, x_rgb);
    FM_CHECK(ids_bgr[0] >= 1 && ids_bgr[1] >= 1 && ids_bgr[0] != ids_bgr[1]);
    for (int i = 0; i < 2; i++) {
        FM_CHECK_INT(ids_rgb[i], ids_bgr[i]);
        FM_CHECK_NEAR(x_rgb[i], x_bgr[i], 0);
    }
}

/* A finish while persons are present makes them leave; counts keep their totals. */
static void test_lib_stream_finish(void)
{
    char path[512], err[1024];
    demo_path(DEMO_MASK, path, sizeof path);
    fm_err e = {0};
    fm_image *img = fm_image_load(path, 0, &e);
    fm_ctx *ctx = open_default();
    fm_stream *s = ctx ? fm_stream_open(ctx, err, sizeof err) : NULL;
    FM_CHECK(img && s);
    for (int k = 0; img && s && k < 4; k++)
        FM_CHECK_INT(fm_stream_frame(s, img->data, img->w, img->h, img->stride, FM_PIXELS_BGR,
                                     k * 0.1, NULL),
                     k < 2 ? 0 : 1);
    if (s) {
        FM_CHECK_INT(fm_stream_finish(s, 0.4), 1);
        const fm_stream_event *ev;
        FM_CHECK_INT(fm_stream_events(s, &ev), 1);
        FM_CHECK_INT(ev[0].type, FM_STREAM_LEAVE);
        FM_CHECK(strcmp(ev[0].label, "mask") == 0);
        FM_CHECK_INT(ev[0].frames, 4);
        FM_CHECK_NEAR(ev[0].last_seen, 0.3, 1e-9);
        fm_counts c;
        fm_stream_counts(s, &c);
        FM_CHECK_INT(c.people, 1);
        FM_CHECK_INT(c.mask, 1);
        FM_CHECK_INT(c.active, 0);
    }
    FM_CHECK(fm_stream_open(NULL, err, sizeof err) == NULL);
    FM_CHECK_STR_CONTAINS(err, "ctx is NULL");
    fm_stream_close(s);
    fm_close(ctx);
    fm_image_free(img);
}

void suite_lib(void);
void suite_lib(void)
{
    FM_RUN(test_lib_version);
    FM_RUN(test_lib_detect_matches_cli);
    FM_RUN(test_lib_pixels_and_stride);
    FM_RUN(test_lib_options);
    FM_RUN(test_lib_open_errors);
    FM_RUN(test_lib_call_errors);
    FM_RUN(test_lib_threads);
    FM_RUN(test_lib_stream);
    FM_RUN(test_lib_stream_finish);
}
