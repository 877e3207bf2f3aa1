/* test_image.c - decoding, encoding, EXIF orientation and hostile inputs.
 *
 * Fixtures: tests/fixtures/image/ (from tools/gen_image_fixtures.py); demo photos are read
 * from ../shared/demo and only damaged in memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"
#include "test.h"

#define FIX "tests/fixtures/image/"

static char *demo_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/demo/%s", fm_test_shared(), name);
    return buf;
}

static uint8_t *read_bytes(const char *path, size_t *len)
{
    uint8_t *b = (uint8_t *)fm_test_read_file(path, len);
    FM_CHECK_MSG(b != NULL, "cannot read %s", path);
    return b;
}

static const uint8_t *px(const fm_image *img, int x, int y)
{
    return img->data + (size_t)y * (size_t)img->stride + (size_t)x * 3;
}

static void test_decode_demo_photos(void)
{
    static const struct {
        const char *name;
        int w, h;
    } demos[] = {
        {"aizoo_demo2.jpg", 464, 330},          {"chandrikadeb7_pic1.jpeg", 840, 549},
        {"chandrikadeb7_pic3.jpg", 474, 248},   {"coral_face.jpg", 512, 355},
        {"pyimagesearch_example_01.png", 600, 500}, {"pyimagesearch_example_02.png", 400, 400},
        {"pyimagesearch_example_03.png", 600, 400}, {"uengmim_test_image.png", 495, 368},
    };
    for (size_t i = 0; i < sizeof demos / sizeof demos[0]; i++) {
        char path[512];
        fm_err err = {0};
        fm_image *img = fm_image_load(demo_path(path, sizeof path, demos[i].name), 0, &err);
        FM_CHECK_MSG(img != NULL, "%s", err.msg);
        if (!img)
            continue;
        FM_CHECK_INT(img->w, demos[i].w);
        FM_CHECK_INT(img->h, demos[i].h);
        FM_CHECK(img->stride >= 3 * img->w);
        fm_image_free(img);
    }
}

/* Grey PNG: every pixel comes out with B == G == R. */
static void test_decode_grey_png_is_replicated(void)
{
    char path[512];
    fm_err err = {0};
    fm_image *img = fm_image_load(demo_path(path, sizeof path, "pyimagesearch_example_02.png"), 0, &err);
    FM_CHECK_MSG(img != NULL, "%s", err.msg);
    if (!img)
        return;
    int bad = 0;
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++) {
            const uint8_t *p = px(img, x, y);
            bad += p[0] != p[1] || p[1] != p[2];
        }
    FM_CHECK_INT(bad, 0);
    fm_image_free(img);
}

/* A sample value of the upright test picture at (x, y): 16x16 colour blocks, white corner. */
static void expect_upright(const fm_image *ref, const fm_image *img, const char *what)
{
    FM_CHECK_MSG(img->w == ref->w && img->h == ref->h, "%s: %dx%d, expected %dx%d", what, img->w,
                 img->h, ref->w, ref->h);
    if (img->w != ref->w || img->h != ref->h)
        return;
    /* Block centres must match closely; colour edges blur under JPEG's 4:2:0 chroma. */
    int worst = 0;
    long sum = 0;
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++)
            for (int c = 0; c < 3; c++) {
                int d = abs(px(img, x, y)[c] - px(ref, x, y)[c]);
                sum += d;
                if (x % 16 == 8 && y % 16 == 8 && d > worst)
                    worst = d;
            }
    double mean = (double)sum / (3.0 * img->w * img->h);
    FM_CHECK_MSG(worst <= 8, "%s: block centre differs by %d", what, worst);
    FM_CHECK_MSG(mean < 8, "%s: mean difference %.2f", what, mean);
    /* The white top-left corner is where it belongs. */
    const uint8_t *p = px(img, 1, 1);
    FM_CHECK_MSG(p[0] > 200 && p[1] > 200 && p[2] > 200, "%s: corner is %d,%d,%d, not white", what,
                 p[0], p[1], p[2]);
}

static void test_exif_orientations_decode_upright(void)
{
    fm_err err = {0};
    fm_image *ref = fm_image_load(FIX "exif_upright.png", 0, &err);
    FM_CHECK_MSG(ref != NULL, "%s", err.msg);
    if (!ref)
        return;
    FM_CHECK_INT(ref->w, 48);
    FM_CHECK_INT(ref->h, 32);
    for (int o = 1; o <= 8; o++) {
        char path[256];
        snprintf(path, sizeof path, FIX "exif_o%d.jpg", o);
        fm_image *img = fm_image_load(path, 0, &err);
        FM_CHECK_MSG(img != NULL, "%s", err.msg);
        if (img)
            expect_upright(ref, img, path);
        fm_image_free(img);
    }
    fm_image *png = fm_image_load(FIX "exif_o6.png", 0, &err);
    FM_CHECK_MSG(png != NULL, "%s", err.msg);
    if (png) {
        long n = 0;
        FM_CHECK_INT(png->w, 48);
        FM_CHECK_INT(png->h, 32);
        for (int y = 0; y < 32 && png->w == 48 && png->h == 32; y++)
            n += memcmp(px(png, 0, y), px(ref, 0, y), 48 * 3) != 0;
        FM_CHECK_MSG(n == 0, "exif_o6.png: %ld rows differ from the upright picture", n);
    }
    fm_image_free(png);
    fm_image_free(ref);
}

static void test_exif_parser_bounds(void)
{
    /* Little- and big-endian headers with one Orientation entry. */
    const uint8_t le[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0};
    const uint8_t be[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0};
    FM_CHECK_INT(fm_exif_orientation(le, sizeof le), 6);
    FM_CHECK_INT(fm_exif_orientation(be, sizeof be), 8);
    /* Every truncation of a valid block (the entry ends at byte 22) falls back to 1 without
     * reading past the end: each copy is exactly n bytes, so ASan sees any overread. */
    for (size_t n = 0; n < sizeof le; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, le, n);
        FM_CHECK_INT(fm_exif_orientation(copy, n), 1);
        free(copy);
    }
    /* IFD offset pointing past the end, a huge entry count, a bad value, a bad byte order. */
    uint8_t bad[sizeof le];
    memcpy(bad, le, sizeof le);
    bad[4] = 0xF0, bad[7] = 0xFF;
    FM_CHECK_INT(fm_exif_orientation(bad, sizeof bad), 1);
    memcpy(bad, le, sizeof le);
    bad[8] = 0xFF, bad[9] = 0xFF;
    FM_CHECK_INT(fm_exif_orientation(bad, sizeof bad), 6); /* the first entry is still read */
    bad[10] = 0;
    FM_CHECK_INT(fm_exif_orientation(bad, sizeof bad), 1);
    memcpy(bad, le, sizeof le);
    bad[18] = 9;
    FM_CHECK_INT(fm_exif_orientation(bad, sizeof bad), 1);
    memcpy(bad, le, sizeof le);
    bad[1] = 'M';
    FM_CHECK_INT(fm_exif_orientation(bad, sizeof bad), 1);
    FM_CHECK_INT(fm_exif_orientation(NULL, 0), 1);
}

/* Orientation transforms on a 3x2 image of distinct pixels, against the definitions. */
static void test_orient_transforms(void)
{
    fm_err err = {0};
    fm_image *src = fm_image_new(3, 2, &err);
    FM_CHECK(src != NULL);
    if (!src)
        return;
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++)
            memset(src->data + (size_t)y * (size_t)src->stride + 3 * x, 10 * y + x, 3);
    /* expected[o][row-major of the output]: value 10 * sy + sx of the source pixel shown. */
    static const int want[9][6] = {
        {0},
        {0, 1, 2, 10, 11, 12},       /* 1 */
        {2, 1, 0, 12, 11, 10},       /* 2 mirror */
        {12, 11, 10, 2, 1, 0},       /* 3 rotate 180 */
        {10, 11, 12, 0, 1, 2},       /* 4 flip */
        {0, 10, 1, 11, 2, 12},       /* 5 transpose (2x3) */
        {10, 0, 11, 1, 12, 2},       /* 6 rotate 90 clockwise */
        {12, 2, 11, 1, 10, 0},       /* 7 transverse */
        {2, 12, 1, 11, 0, 10},       /* 8 rotate 90 counter-clockwise */
    };
    for (int o = 1; o <= 8; o++) {
        fm_image *out = fm_image_orient(src, o, &err);
        FM_CHECK(out != NULL);
        if (!out)
            continue;
        FM_CHECK_INT(out->w, o >= 5 ? 2 : 3);
        FM_CHECK_INT(out->h, o >= 5 ? 3 : 2);
        for (int i = 0; i < 6; i++)
            FM_CHECK_MSG(px(out, i % out->w, i / out->w)[0] == want[o][i],
                         "orientation %d pixel %d: %d, expected %d", o, i,
                         px(out, i % out->w, i / out->w)[0], want[o][i]);
        fm_image_free(out);
    }
    fm_image_free(src);
}

static void test_jpeg_roundtrip_memory_and_file(void)
{
    fm_err err = {0};
    fm_image *img = fm_image_load(FIX "exif_upright.png", 0, &err);
    FM_CHECK_MSG(img != NULL, "%s", err.msg);
    if (!img)
        return;
    uint8_t *buf = NULL;
    size_t len = 0;
    FM_CHECK_INT(fm_image_encode_jpeg(img, 95, &buf, &len, &err), FM_OK);
    FM_CHECK(len > 100 && buf && buf[0] == 0xFF && buf[1] == 0xD8);
    fm_image *back = fm_image_decode(buf, len, "mem.jpg", 0, &err);
    FM_CHECK_MSG(back != NULL, "%s", err.msg);
    if (back)
        expect_upright(img, back, "memory JPEG");
    fm_image_free(back);
    free(buf);

    char path[600];
    snprintf(path, sizeof path, "%s/out.jpg", fm_test_tmpdir());
    FM_CHECK_INT(fm_image_save(img, path, &err), FM_OK);
    back = fm_image_load(path, 0, &err);
    FM_CHECK_MSG(back != NULL, "%s", err.msg);
    if (back)
        expect_upright(img, back, "file JPEG");
    fm_image_free(back);

    FM_CHECK_INT(fm_image_encode_jpeg(img, 0, &buf, &len, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "quality 0");
    snprintf(path, sizeof path, "%s/out.bmp", fm_test_tmpdir());
    FM_CHECK_INT(fm_image_save(img, path, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "out.bmp");
    FM_CHECK_INT(fm_image_save(img, "/nonexistent-dir/x.png", &err), FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "/nonexistent-dir/x.png: cannot create");
    fm_image_free(img);
}

static void test_png_roundtrip_is_lossless(void)
{
    fm_err err = {0};
    fm_image *img = fm_image_new(31, 17, &err);
    FM_CHECK(img != NULL);
    if (!img)
        return;
    uint64_t rng = 7;
    for (int y = 0; y < img->h; y++)
        for (int i = 0; i < 3 * img->w; i++)
            img->data[(size_t)y * (size_t)img->stride + (size_t)i] = (uint8_t)fm_test_rand(&rng);
    char path[600];
    snprintf(path, sizeof path, "%s/out.png", fm_test_tmpdir());
    FM_CHECK_INT(fm_image_save(img, path, &err), FM_OK);
    fm_image *back = fm_image_load(path, 0, &err);
    FM_CHECK_MSG(back != NULL, "%s", err.msg);
    if (back) {
        FM_CHECK_INT(back->w, 31);
        FM_CHECK_INT(back->h, 17);
        int rows = 0;
        for (int y = 0; y < 17 && back->w == 31 && back->h == 17; y++)
            rows += memcmp(px(back, 0, y), px(img, 0, y), 31 * 3) != 0;
        FM_CHECK_INT(rows, 0);
    }
    fm_image_free(back);
    fm_image_free(img);
}

/* A demo JPEG cut short at many offsets: always an error naming the file, never grey pixels. */
static void test_truncated_jpeg_is_an_error(void)
{
    char path[512];
    size_t len;
    uint8_t *buf = read_bytes(demo_path(path, sizeof path, "aizoo_demo2.jpg"), &len);
    if (!buf)
        return;
    const size_t cuts[] = {3, 20, 200, 700, len / 4, len / 2, len - 1000, len - 10, len - 2};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        fm_err err = {0};
        fm_image *img = fm_image_decode(buf, cuts[i], "photo.jpg", 0, &err);
        FM_CHECK_MSG(img == NULL, "cut at %zu of %zu decoded", cuts[i], len);
        fm_image_free(img);
        FM_CHECK_STR_CONTAINS(err.msg, "photo.jpg: ");
        if (cuts[i] >= len / 4)
            FM_CHECK_STR_CONTAINS(err.msg, "photo.jpg: truncated JPEG (premature end of data)");
    }
    free(buf);
}

static void test_corrupt_jpeg_scan_is_an_error(void)
{
    char path[512];
    size_t len;
    uint8_t *buf = read_bytes(demo_path(path, sizeof path, "chandrikadeb7_pic1.jpeg"), &len);
    if (!buf)
        return;
    /* Damage the entropy-coded data in several ways; some damage libjpeg cannot notice (the
     * pixels merely change), but whatever it reports must become an error. */
    int errors = 0, tries = 0;
    uint64_t rng = 42;
    for (int t = 0; t < 24; t++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, buf, len);
        size_t at = len / 3 + (size_t)(fm_test_rand(&rng) % (uint32_t)(len / 3));
        size_t span = 1 + (size_t)t * 8;
        for (size_t k = 0; k < span; k++)
            copy[at + k] = (uint8_t)(t % 2 ? 0xFF : copy[at + k] ^ 0x5A);
        fm_err err = {0};
        fm_image *img = fm_image_decode(copy, len, "photo.jpg", 0, &err);
        tries++;
        if (!img) {
            errors++;
            FM_CHECK_STR_CONTAINS(err.msg, "photo.jpg: corrupt JPEG data: ");
        }
        fm_image_free(img);
        free(copy);
    }
    FM_CHECK_MSG(errors >= tries / 2, "only %d of %d damaged scans were errors", errors, tries);
    free(buf);
}

static void test_truncated_and_corrupt_png(void)
{
    char path[512];
    size_t len;
    uint8_t *buf = read_bytes(demo_path(path, sizeof path, "uengmim_test_image.png"), &len);
    if (!buf)
        return;
    const size_t cuts[] = {8, 20, 40, len / 3, len / 2, len - 30, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        fm_err err = {0};
        fm_image *img = fm_image_decode(buf, cuts[i], "x.png", 0, &err);
        FM_CHECK_MSG(img == NULL, "cut at %zu decoded", cuts[i]);
        fm_image_free(img);
        FM_CHECK_STR_CONTAINS(err.msg, "x.png: truncated PNG (premature end of data)");
    }
    buf[len / 2] ^= 0x10; /* breaks the IDAT CRC */
    fm_err err = {0};
    fm_image *img = fm_image_decode(buf, len, "x.png", 0, &err);
    FM_CHECK(img == NULL);
    fm_image_free(img);
    FM_CHECK_STR_CONTAINS(err.msg, "x.png: corrupt PNG data: ");
    free(buf);
}

static void test_hostile_files(void)
{
    fm_err err = {0};
    fm_image *img = fm_image_load(FIX "huge_ihdr.png", 0, &err);
    FM_CHECK(img == NULL);
    FM_CHECK_INT(err.status, FM_ERR_LIMIT);
    FM_CHECK_STR_CONTAINS(err.msg, "huge_ihdr.png: image 100000x100000 exceeds the limit of "
                                   "67108864 pixels");
    img = fm_image_load(FIX "empty.jpg", 0, &err);
    FM_CHECK(img == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "empty.jpg: empty file (0 bytes)");
    img = fm_image_load(FIX "notes.txt", 0, &err);
    FM_CHECK(img == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "notes.txt: not a JPEG or PNG file (starts with 23 20 66 61)");
    img = fm_image_load(FIX "no-such-file.jpg", 0, &err);
    FM_CHECK(img == NULL);
    FM_CHECK_INT(err.status, FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "no-such-file.jpg: cannot open");
    /* Short buffers: one byte of each magic. */
    const uint8_t ff = 0xFF, png1 = 0x89;
    img = fm_image_decode(&ff, 1, "a", 0, &err);
    FM_CHECK(img == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "a: not a JPEG or PNG file (starts with ff)");
    img = fm_image_decode(&png1, 1, "b", 0, &err);
    FM_CHECK(img == NULL);
    /* The pixel limit is applied before decoding: a real photo over a small limit. */
    char path[512];
    img = fm_image_load(demo_path(path, sizeof path, "aizoo_demo2.jpg"), 1000, &err);
    FM_CHECK(img == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "image 464x330 exceeds the limit of 1000 pixels");
}

static uint32_t crc32_bytes(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

/* IHDR sizes beyond libpng's own default limit still get our limit message. */
static void test_png_ihdr_sizes(void)
{
    size_t len;
    uint8_t *buf = read_bytes(FIX "huge_ihdr.png", &len);
    if (!buf || len < 33)
        goto done;
    const uint32_t sizes[][2] = {{2000000, 1}, {1, 2000000}, {0x7fffffff, 0x7fffffff}, {0, 5}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int k = 0; k < 4; k++) {
            buf[16 + k] = (uint8_t)(sizes[i][0] >> (24 - 8 * k));
            buf[20 + k] = (uint8_t)(sizes[i][1] >> (24 - 8 * k));
        }
        uint32_t crc = crc32_bytes(buf + 12, 17);
        for (int k = 0; k < 4; k++)
            buf[29 + k] = (uint8_t)(crc >> (24 - 8 * k));
        fm_err err = {0};
        fm_image *img = fm_image_decode(buf, len, "x.png", 1000000, &err);
        FM_CHECK(img == NULL);
        fm_image_free(img);
        char want[128];
        if (sizes[i][0] && sizes[i][1]) {
            snprintf(want, sizeof want, "x.png: image %ux%u exceeds the limit of 1000000 pixels",
                     (unsigned)sizes[i][0], (unsigned)sizes[i][1]);
            FM_CHECK_STR_CONTAINS(err.msg, want);
        } else {
            FM_CHECK_STR_CONTAINS(err.msg, "x.png: corrupt PNG data: ");
        }
    }
done:
    free(buf);
}

/* A JPEG header claiming 60000x60000: refused from the header alone. */
static void test_huge_jpeg_header(void)
{
    fm_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    fm_image *img = fm_image_new(16, 8, &err);
    FM_CHECK(img != NULL);
    if (!img || fm_image_encode_jpeg(img, 80, &buf, &len, &err) != FM_OK) {
        fm_image_free(img);
        return;
    }
    /* Patch the SOF0 height and width. */
    for (size_t i = 2; i + 9 < len; i++)
        if (buf[i] == 0xFF && buf[i + 1] == 0xC0) {
            buf[i + 5] = 0xEA, buf[i + 6] = 0x60; /* 60000 */
            buf[i + 7] = 0xEA, buf[i + 8] = 0x60;
            break;
        }
    fm_image *big = fm_image_decode(buf, len, "photo.jpg", 0, &err);
    FM_CHECK(big == NULL);
    fm_image_free(big);
    FM_CHECK_STR_CONTAINS(err.msg, "photo.jpg: image 60000x60000 exceeds the limit of 67108864 pixels");
    free(buf);
    fm_image_free(img);
}

static void test_image_new_rejects_bad_sizes(void)
{
    fm_err err = {0};
    FM_CHECK(fm_image_new(0, 5, &err) == NULL);
    FM_CHECK_INT(err.status, FM_ERR_ARG);
    FM_CHECK(fm_image_new(-3, 5, &err) == NULL);
    FM_CHECK(fm_image_new(0x7fffffff, 2, &err) == NULL);
    FM_CHECK_INT(err.status, FM_ERR_NOMEM);
    fm_image *img = fm_image_new(5, 4, &err);
    FM_CHECK(img && img->stride == 15 && img->data[0] == 0);
    fm_image_free(img);
    fm_image_free(NULL);
}

extern void suite_image(void);
void suite_image(void)
{
    FM_RUN(test_image_new_rejects_bad_sizes);
    FM_RUN(test_decode_demo_photos);
    FM_RUN(test_decode_grey_png_is_replicated);
    FM_RUN(test_exif_parser_bounds);
    FM_RUN(test_orient_transforms);
    FM_RUN(test_exif_orientations_decode_upright);
    FM_RUN(test_jpeg_roundtrip_memory_and_file);
    FM_RUN(test_png_roundtrip_is_lossless);
    FM_RUN(test_truncated_jpeg_is_an_error);
    FM_RUN(test_corrupt_jpeg_scan_is_an_error);
    FM_RUN(test_truncated_and_corrupt_png);
    FM_RUN(test_hostile_files);
    FM_RUN(test_huge_jpeg_header);
    FM_RUN(test_png_ihdr_sizes);
}
