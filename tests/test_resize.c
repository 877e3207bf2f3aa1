/* test_resize.c - fm_resize_bilinear and fm_blob_from_image against OpenCV 4.6.
 *
 * Expected results come from tools/gen_image_fixtures.py (cv2.resize INTER_LINEAR and
 * cv2.dnn.blobFromImage); the goal is bit-exact equality, and a failure reports the largest
 * difference. Demo photos stay in ../shared: for them only hashes of OpenCV's output are kept.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"
#include "test.h"

#define FIX "tests/fixtures/image/"

static fm_image *load_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, FIX "%s", name);
    fm_err err = {0};
    fm_image *img = fm_image_load(path, 0, &err);
    FM_CHECK_MSG(img != NULL, "%s", err.msg);
    return img;
}

static uint64_t image_hash(const fm_image *img)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (int y = 0; y < img->h; y++) {
        const uint8_t *row = img->data + (size_t)y * (size_t)img->stride;
        for (int i = 0; i < 3 * img->w; i++) {
            h ^= row[i];
            h *= 0x100000001B3ull;
        }
    }
    return h;
}

/* Largest absolute difference and how many bytes differ. */
static int image_diff(const fm_image *a, const fm_image *b, long *count)
{
    int maxd = 0;
    *count = 0;
    for (int y = 0; y < a->h; y++)
        for (int i = 0; i < 3 * a->w; i++) {
            int d = abs(a->data[(size_t)y * (size_t)a->stride + (size_t)i] -
                        b->data[(size_t)y * (size_t)b->stride + (size_t)i]);
            if (d) {
                (*count)++;
                if (d > maxd)
                    maxd = d;
            }
        }
    return maxd;
}

static void test_resize_matches_opencv(void)
{
    size_t len;
    char *text = fm_test_read_file(FIX "resize_cases.txt", &len);
    FM_CHECK_MSG(text != NULL, "cannot read " FIX "resize_cases.txt");
    if (!text)
        return;
    int cases = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char sname[128], dname[128];
        int W, H;
        if (line[0] == '#' || sscanf(line, "%127s %127s %d %d", sname, dname, &W, &H) != 4)
            continue;
        fm_image *src = load_fixture(sname), *want = load_fixture(dname);
        fm_err err = {0};
        fm_image *got = fm_image_new(W, H, &err);
        if (src && want && got) {
            FM_CHECK_INT(want->w, W);
            FM_CHECK_INT(want->h, H);
            fm_resize_bilinear(src, got);
            long n;
            int d = image_diff(got, want, &n);
            FM_CHECK_MSG(d == 0, "%s -> %dx%d: %ld bytes differ from OpenCV, max abs diff %d", sname,
                         W, H, n, d);
            cases++;
        }
        fm_image_free(src);
        fm_image_free(want);
        fm_image_free(got);
    }
    free(text);
    FM_CHECK(cases >= 20);
}

/* A view of a rectangle of img (no copy). */
static fm_image crop_view(const fm_image *img, int x, int y, int w, int h)
{
    fm_image v = {w, h, img->stride, img->data + (size_t)y * (size_t)img->stride + (size_t)x * 3};
    return v;
}

static void test_resize_demo_photos_match_opencv(void)
{
    size_t len;
    char *text = fm_test_read_file(FIX "demo_hashes.txt", &len);
    FM_CHECK_MSG(text != NULL, "cannot read " FIX "demo_hashes.txt");
    if (!text)
        return;
    int decodes = 0, crops = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char file[128], op[16];
        if (line[0] == '#' || sscanf(line, "%127s %15s", file, op) != 2)
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/demo/%s", fm_test_shared(), file);
        fm_err err = {0};
        fm_image *img = fm_image_load(path, 0, &err);
        FM_CHECK_MSG(img != NULL, "%s", err.msg);
        if (!img)
            continue;
        uint64_t want;
        int x, y, w, h, W, H;
        if (strcmp(op, "decode") == 0 &&
            sscanf(line, "%*s %*s %d %d %" SCNx64, &w, &h, &want) == 3) {
            FM_CHECK_INT(img->w, w);
            FM_CHECK_INT(img->h, h);
            FM_CHECK_MSG(image_hash(img) == want, "%s: decoded pixels differ from cv2.imread", file);
            decodes++;
        } else if (strcmp(op, "crop") == 0 &&
                   sscanf(line, "%*s %*s %d %d %d %d %d %d %" SCNx64, &x, &y, &w, &h, &W, &H,
                          &want) == 7) {
            fm_image v = crop_view(img, x, y, w, h);
            fm_image *out = fm_image_new(W, H, &err);
            if (out) {
                fm_resize_bilinear(&v, out);
                FM_CHECK_MSG(image_hash(out) == want, "%s crop %d,%d %dx%d -> %dx%d differs from cv2",
                             file, x, y, w, h, W, H);
                crops++;
            }
            fm_image_free(out);
        }
        fm_image_free(img);
    }
    free(text);
    FM_CHECK(decodes >= 6);
    FM_CHECK(crops >= 6);
}

/* Hand-computed: a 2x1 image doubled in width. Columns map to sx = -0.25, 0.25, 0.75, 1.25:
 * the outer two clamp to the edge pixels, the inner two weigh 1536/512 and 512/1536. */
static void test_resize_tiny_hand_computed(void)
{
    fm_err err = {0};
    fm_image *src = fm_image_new(2, 1, &err), *dst = fm_image_new(4, 1, &err);
    FM_CHECK(src && dst);
    if (!src || !dst)
        goto done;
    memset(src->data, 0, 3);
    memset(src->data + 3, 200, 3);
    fm_resize_bilinear(src, dst);
    /* h = 200 * 512 = 102400; (2048 * (102400 >> 4)) >> 16 = 200; (200 + 2) >> 2 = 50. */
    FM_CHECK_INT(dst->data[0], 0);
    FM_CHECK_INT(dst->data[3], 50);
    FM_CHECK_INT(dst->data[6], 150);
    FM_CHECK_INT(dst->data[9], 200);
done:
    fm_image_free(src);
    fm_image_free(dst);
}

/* Exact 2x downscale is OpenCV's INTER_AREA fast path: the 2x2 mean rounded half up. */
static void test_resize_half_is_rounded_mean(void)
{
    fm_err err = {0};
    fm_image *src = fm_image_new(4, 2, &err), *dst = fm_image_new(2, 1, &err);
    FM_CHECK(src && dst);
    if (!src || !dst)
        goto done;
    const uint8_t px[4][2] = {{0, 1}, {1, 0}, {10, 11}, {12, 12}};
    for (int x = 0; x < 4; x++)
        for (int y = 0; y < 2; y++)
            memset(src->data + (size_t)y * (size_t)src->stride + 3 * x, px[x][y], 3);
    fm_resize_bilinear(src, dst);
    FM_CHECK_INT(dst->data[0], 1);  /* (0 + 1 + 1 + 0 + 2) >> 2 = 1 (0.5 rounds up) */
    FM_CHECK_INT(dst->data[3], 11); /* (10 + 11 + 12 + 12 + 2) >> 2 = 11 */
done:
    fm_image_free(src);
    fm_image_free(dst);
}

static void check_blob(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, FIX "blob_%s.txt", name);
    size_t len;
    char *text = fm_test_read_file(path, &len);
    FM_CHECK_MSG(text != NULL, "cannot read %s", path);
    if (!text)
        return;
    char *p = strchr(text, '\n'); /* skip the comment */
    double scale, m0, m1, m2;
    int W, H, swap, used = 0;
    if (!p || sscanf(p + 1, "%lf %d %d %lf %lf %lf %d%n", &scale, &W, &H, &m0, &m1, &m2, &swap,
                     &used) != 7) {
        FM_CHECK_MSG(0, "%s: bad header", path);
        free(text);
        return;
    }
    p += 1 + used;
    size_t n = (size_t)3 * (size_t)W * (size_t)H;
    float *want = malloc(n * sizeof *want), *got = calloc(n, sizeof *got);
    fm_image *src = load_fixture("blob_src.png");
    fm_err err = {0};
    fm_image *tmp = fm_image_new(W, H, &err);
    size_t count = 0;
    while (want && count < n) {
        unsigned bits;
        int k = 0;
        if (sscanf(p, " %x%n", &bits, &k) != 1)
            break;
        memcpy(&want[count++], &bits, sizeof bits);
        p += k;
    }
    FM_CHECK_INT(count, n);
    if (src && tmp && got && count == n) {
        const float mean[3] = {(float)m0, (float)m1, (float)m2};
        fm_blob_from_image(src, W, H, mean, (float)scale, swap, tmp, got);
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < n; i++)
            if (memcmp(&got[i], &want[i], sizeof(float)) != 0 && bad++ == 0)
                first = i;
        FM_CHECK_MSG(bad == 0, "blob %s: %zu of %zu values differ; first at %zu: %.9g, cv2 %.9g",
                     name, bad, n, first, got[first], want[first]);
    }
    fm_image_free(src);
    fm_image_free(tmp);
    free(want);
    free(got);
    free(text);
}

static void test_blob_res10_means(void)
{
    check_blob("res10");
}

static void test_blob_swap_rb_and_scale(void)
{
    check_blob("swap");
    check_blob("same");
}

extern void suite_resize(void);
void suite_resize(void)
{
    FM_RUN(test_resize_tiny_hand_computed);
    FM_RUN(test_resize_half_is_rounded_mean);
    FM_RUN(test_resize_matches_opencv);
    FM_RUN(test_resize_demo_photos_match_opencv);
    FM_RUN(test_blob_res10_means);
    FM_RUN(test_blob_swap_rb_and_scale);
}
