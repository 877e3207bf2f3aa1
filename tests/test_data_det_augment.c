/* Tests of the detector's augmentation (data/det_augment.h):
 *   - no augmentation is the detector's mapping: a 100x50 image to 64x64 is scaled by 0.64 at
 *     the top left, black below row 32; boxes scale with it; a box under 1 px is dropped;
 *   - flips alone (no crop, no colour): over 40 seeds both the plain and the mirrored image
 *     appear, each exactly one of the two, with the boxes mirrored (x1' = S - x2);
 *   - random crops: every kept box lies inside the output and is at least min_side; the crop
 *     keeps a face centre whenever one is reachable; some crops reach past the image (black);
 *   - the same seed gives the same bytes; another seed does not;
 *   - a batch with 1 and with 2 threads is bit for bit the same;
 *   - bad parameters are refused with a message.
 */
#include <string.h>
#include <stdlib.h>

#include "data/augment.h"
#include "data/det_augment.h"
#include "test.h"

#define S 64

static fm_image *pattern(int w, int h, int uniform)
{
    fm_err err = {0};
    fm_image *im = fm_image_new(w, h, &err);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                im->data[(size_t)y * im->stride + 3 * x + c] =
                    (uint8_t)(uniform ? 200 : (x * 7 + y * 3 + c * 50) & 255);
    return im;
}

static void test_det_aug_none(void)
{
    fm_image *im = pattern(100, 50, 1);
    fm_det_aug_params p = fm_det_aug_none(S);
    const fm_det_box b[2] = {{10, 10, 30, 20, 1}, {50, 5, 51.2f, 6, 0}};
    fm_det_box out[2];
    int nout = -1;
    float *x = malloc(3 * S * S * sizeof(float));
    fm_err err = {0};
    FM_CHECK(fm_det_augment(im, b, 2, &p, 7, x, out, &nout, &err) == FM_OK);
    FM_CHECK_INT(nout, 1);
    FM_CHECK_NEAR(out[0].x1, 6.4, 1e-5);
    FM_CHECK_NEAR(out[0].y1, 6.4, 1e-5);
    FM_CHECK_NEAR(out[0].x2, 19.2, 1e-5);
    FM_CHECK_NEAR(out[0].y2, 12.8, 1e-5);
    FM_CHECK_INT(out[0].label, 1);
    for (int c = 0; c < 3; c++) {
        FM_CHECK_NEAR(x[c * S * S + 10 * S + 10], 200, 1e-4);
        FM_CHECK_NEAR(x[c * S * S + 40 * S + 10], 0, 0);
    }
    free(x);
    fm_image_free(im);
}

static void test_det_aug_flip(void)
{
    fm_image *im = pattern(64, 64, 0);
    fm_det_aug_params p = fm_det_aug_none(S);
    p.hflip = 1;
    const fm_det_box b = {10, 20, 30, 44, 0};
    float *x0 = malloc(3 * S * S * sizeof(float)), *x = malloc(3 * S * S * sizeof(float));
    fm_det_box out;
    int nout, plain = 0, mirrored = 0;
    fm_err err = {0};
    fm_det_aug_params none = fm_det_aug_none(S);
    fm_det_augment(im, &b, 1, &none, 0, x0, &out, &nout, &err);
    for (uint64_t seed = 0; seed < 40; seed++) {
        FM_CHECK(fm_det_augment(im, &b, 1, &p, seed, x, &out, &nout, &err) == FM_OK);
        FM_CHECK_INT(nout, 1);
        if (memcmp(x, x0, 3 * S * S * sizeof(float)) == 0) {
            plain++;
            FM_CHECK(out.x1 == 10 && out.x2 == 30);
            continue;
        }
        int same = 1;
        for (int c = 0; c < 3; c++)
            for (int v = 0; v < S; v++)
                for (int u = 0; u < S; u++)
                    same &= x[c * S * S + v * S + u] == x0[c * S * S + v * S + S - 1 - u];
        FM_CHECK_MSG(same, "seed %d: neither the image nor its mirror", (int)seed);
        FM_CHECK(out.x1 == 34 && out.x2 == 54 && out.y1 == 20 && out.y2 == 44);
        mirrored++;
    }
    FM_CHECK(plain > 5 && mirrored > 5);
    free(x0);
    free(x);
    fm_image_free(im);
}

static void test_det_aug_crop(void)
{
    fm_image *im = pattern(120, 80, 1);
    fm_det_aug_params p = fm_det_aug_defaults(S);
    p.brightness = 0;
    p.contrast = 0;
    const fm_det_box b[3] = {{10, 10, 30, 30, 0}, {60, 30, 90, 70, 1}, {100, 2, 104, 6, 2}};
    fm_det_box out[3];
    float *x = malloc(3 * S * S * sizeof(float)), *y = malloc(3 * S * S * sizeof(float));
    int nout, padded = 0, differ = 0;
    fm_err err = {0};
    for (uint64_t seed = 0; seed < 60; seed++) {
        FM_CHECK(fm_det_augment(im, b, 3, &p, fm_aug_seed(1, 0, seed), x, out, &nout, &err) == FM_OK);
        FM_CHECK_MSG(nout >= 1, "seed %d: no face kept", (int)seed);
        for (int i = 0; i < nout; i++) {
            FM_CHECK(out[i].x1 >= 0 && out[i].y1 >= 0 && out[i].x2 <= S && out[i].y2 <= S);
            FM_CHECK(out[i].x2 - out[i].x1 >= p.min_side && out[i].y2 - out[i].y1 >= p.min_side);
        }
        padded += x[S * S - 1] == 0 || x[0] == 0;
        fm_det_box o2[3];
        int n2;
        fm_det_augment(im, b, 3, &p, fm_aug_seed(1, 0, seed), y, o2, &n2, &err);
        FM_CHECK(n2 == nout && memcmp(x, y, 3 * S * S * sizeof(float)) == 0);
        fm_det_augment(im, b, 3, &p, fm_aug_seed(2, 0, seed), y, o2, &n2, &err);
        differ += memcmp(x, y, 3 * S * S * sizeof(float)) != 0 || n2 != nout;
    }
    FM_CHECK(padded > 5);
    FM_CHECK(differ > 30);
    free(x);
    free(y);
    fm_image_free(im);
}

static void test_det_aug_threads(void)
{
    enum { N = 6 };
    fm_image *im = pattern(90, 70, 0);
    const fm_det_box b[2] = {{10, 10, 40, 40, 0}, {50, 20, 80, 60, 1}};
    fm_det_aug_params p = fm_det_aug_defaults(S);
    fm_det_aug_job jobs[2][N];
    fm_det_box outs[2][N][2];
    float *xs = malloc(2 * N * 3 * S * S * sizeof(float));
    fm_err err = {0};
    for (int t = 0; t < 2; t++) {
        fm_pool *pool = fm_pool_create(t + 1, &err);
        for (int i = 0; i < N; i++)
            jobs[t][i] = (fm_det_aug_job){im, b, 2, fm_aug_seed(9, 1, (uint64_t)i),
                                          xs + (size_t)(t * N + i) * 3 * S * S, outs[t][i], 0,
                                          FM_OK};
        FM_CHECK(fm_det_augment_many(pool, jobs[t], N, &p, &err) == FM_OK);
        fm_pool_free(pool);
    }
    FM_CHECK(memcmp(xs, xs + (size_t)N * 3 * S * S, (size_t)N * 3 * S * S * sizeof(float)) == 0);
    for (int i = 0; i < N; i++) {
        FM_CHECK_INT(jobs[0][i].nout, jobs[1][i].nout);
        FM_CHECK(memcmp(outs[0][i], outs[1][i], (size_t)jobs[0][i].nout * sizeof(fm_det_box)) == 0);
    }
    free(xs);
    fm_image_free(im);
}

static void test_det_aug_bad(void)
{
    fm_image *im = pattern(10, 10, 1);
    fm_det_aug_params p = fm_det_aug_defaults(16);
    float x[3 * 16 * 16];
    int nout;
    fm_err err = {0};
    FM_CHECK(fm_det_augment(im, NULL, 0, &p, 1, x, NULL, &nout, &err) == FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "size 16");
    fm_image_free(im);
}

void suite_data_det_augment(void);
void suite_data_det_augment(void)
{
    FM_RUN(test_det_aug_none);
    FM_RUN(test_det_aug_flip);
    FM_RUN(test_det_aug_crop);
    FM_RUN(test_det_aug_threads);
    FM_RUN(test_det_aug_bad);
}
