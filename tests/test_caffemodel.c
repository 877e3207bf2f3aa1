/* Tests for src/io/caffemodel and src/io/pbwire: fp16 conversion, the wire
 * reader and writer on exact bytes, the shared models checked against their
 * prototxt, encode/decode round trips, an fp16 fixture made by OpenCV's own
 * shrinkCaffeModel (tools/make_fp16_caffemodel.py), a legacy V1 fixture,
 * every decoder error, and truncated or corrupted input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caffe/caffemodel.h"
#include "core/pbwire.h"
#include "caffe/prototxt.h"
#include "test.h"

#define FIXTURES "tests/fixtures/caffe/"

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- fp16 ---- */

/* Reference rounding of a float to the nearest half, computed in double
 * with the FPU's round-to-nearest-even. */
static float ref_half_round(float f)
{
    double a = fabs((double)f);
    if (a >= 65520.0)
        return copysignf(INFINITY, f);
    int e;
    frexp(a, &e);
    int ex = e - 1 < -14 ? -14 : e - 1;
    double q = ldexp(1.0, ex - 10);
    double r = nearbyint(a / q) * q;
    return (float)copysign(r, (double)f);
}

static void test_caffemodel_half_exact(void)
{
    FM_CHECK(fm_half_to_float(0x3c00) == 1.0f);
    FM_CHECK(fm_half_to_float(0xc000) == -2.0f);
    FM_CHECK(fm_half_to_float(0x7bff) == 65504.0f);
    FM_CHECK(fm_half_to_float(0x0001) == 0x1p-24f);
    FM_CHECK(fm_half_to_float(0x03ff) == 0x3ffp-24f);
    FM_CHECK(fm_half_to_float(0x0400) == 0x1p-14f);
    FM_CHECK(fm_half_to_float(0x3555) == 0x1.554p-2f);
    FM_CHECK(fbits(fm_half_to_float(0x8000)) == 0x80000000u);
    FM_CHECK(isinf(fm_half_to_float(0x7c00)) && fm_half_to_float(0x7c00) > 0);
    FM_CHECK(isinf(fm_half_to_float(0xfc00)) && fm_half_to_float(0xfc00) < 0);
    FM_CHECK(isnan(fm_half_to_float(0x7e00)) && isnan(fm_half_to_float(0xfc01)));

    FM_CHECK_INT(fm_float_to_half(1.0f), 0x3c00);
    FM_CHECK_INT(fm_float_to_half(-0.0f), 0x8000);
    FM_CHECK_INT(fm_float_to_half(65504.0f), 0x7bff);
    FM_CHECK_INT(fm_float_to_half(65519.99f), 0x7bff);
    FM_CHECK_INT(fm_float_to_half(65520.0f), 0x7c00); /* the tie goes to even: infinity */
    FM_CHECK_INT(fm_float_to_half(-1e6f), 0xfc00);
    FM_CHECK_INT(fm_float_to_half(INFINITY), 0x7c00);
    FM_CHECK_INT(fm_float_to_half(0x1p-24f), 0x0001);
    FM_CHECK_INT(fm_float_to_half(0x1p-25f), 0x0000);         /* tie: to even (zero) */
    FM_CHECK_INT(fm_float_to_half(0x1.000002p-25f), 0x0001);  /* just above the tie */
    FM_CHECK_INT(fm_float_to_half(0x1.8p-24f), 0x0002);       /* 1.5 ulp: tie to even 2 */
    FM_CHECK_INT(fm_float_to_half(0x1.4p-23f), 0x0002);       /* 2.5 ulp: tie to even 2 */
    FM_CHECK_INT(fm_float_to_half(0x1p-14f - 0x1p-25f), 0x0400); /* rounds up to the first normal */
    FM_CHECK_INT(fm_float_to_half(1.0f + 0x1p-11f), 0x3c00);  /* tie: to even */
    FM_CHECK_INT(fm_float_to_half(1.0f + 0x3p-11f), 0x3c02);  /* tie: to even, upwards */
    FM_CHECK_INT(fm_float_to_half(1e-10f), 0x0000);
    FM_CHECK_INT(fm_float_to_half(-1e-10f), 0x8000);
    uint16_t qn = fm_float_to_half(NAN);
    FM_CHECK((qn & 0x7c00) == 0x7c00 && (qn & 0x3ff) != 0);
    uint16_t sn = fm_float_to_half(bitsf(0x7f800001u)); /* payload only in low bits */
    FM_CHECK((sn & 0x7c00) == 0x7c00 && (sn & 0x3ff) != 0);

    /* every half survives half -> float -> half */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = fm_half_to_float((uint16_t)h);
        uint16_t back = fm_float_to_half(f);
        if (isnan(f))
            bad += !((back & 0x7c00) == 0x7c00 && (back & 0x3ff) && (back & 0x8000) == (h & 0x8000));
        else
            bad += back != h;
    }
    FM_CHECK_INT(bad, 0);

    /* random floats against the double-precision reference */
    uint64_t seed = 12345;
    int n = fm_test_sanitized() ? 200000 : 2000000;
    bad = 0;
    for (int i = 0; i < n; i++) {
        uint32_t u = fm_test_rand(&seed) << 16 ^ fm_test_rand(&seed);
        if (i % 2) /* concentrate on the exponents that matter: 2^-27 .. 2^17 */
            u = (u & 0x807fffffu) | (uint32_t)(100 + fm_test_rand(&seed) % 45) << 23;
        float f = bitsf(u);
        if (isnan(f))
            continue;
        float got = fm_half_to_float(fm_float_to_half(f)), want = ref_half_round(f);
        if (fbits(got) != fbits(want) && bad++ < 5)
            fm_test_fail(__FILE__, __LINE__, "%a -> %a, expected %a", (double)f, (double)got,
                         (double)want);
    }
    FM_CHECK_INT(bad, 0);
}

/* ---- pbwire ---- */

static void test_caffemodel_pbwire_reader(void)
{
    fm_err err = {0};
    fm_pb_reader r;
    fm_pb_field f;
    /* field 1 varint 300, field 2 "ab", field 3 fixed32, field 4 fixed64, field 5 group */
    static const uint8_t msg[] = {0x08, 0xac, 0x02, 0x12, 0x02, 'a',  'b',  0x1d, 0x01, 0x02,
                                  0x03, 0x04, 0x21, 1,    2,    3,    4,    5,    6,    7,
                                  8,    0x2b, 0x08, 0x01, 0x33, 0x34, 0x2c, 0x30, 0x07};
    fm_pb_reader_init(&r, msg, sizeof msg);
    FM_CHECK(fm_pb_next(&r, &f, &err) == FM_OK && f.field == 1 && f.wire == FM_PB_VARINT &&
             f.u == 300 && f.offset == 0);
    FM_CHECK(fm_pb_next(&r, &f, &err) == FM_OK && f.field == 2 && f.wire == FM_PB_LEN &&
             f.len == 2 && f.data_offset == 5 && memcmp(f.buf + f.data_offset, "ab", 2) == 0);
    FM_CHECK(fm_pb_next(&r, &f, &err) == FM_OK && f.field == 3 && f.wire == FM_PB_I32 &&
             f.u == 0x04030201u);
    FM_CHECK(fm_pb_next(&r, &f, &err) == FM_OK && f.field == 4 && f.wire == FM_PB_I64 &&
             f.u == 0x0807060504030201ull);
    FM_CHECK(fm_pb_next(&r, &f, &err) == FM_OK && f.field == 5 && f.wire == FM_PB_SGROUP &&
             f.data_offset == 22 && f.len == 4); /* skipped with its nested group 6 */
    FM_CHECK(fm_pb_next(&r, &f, &err) == FM_OK && f.field == 6 && f.u == 7);
    FM_CHECK(fm_pb_at_end(&r));

    /* a nested reader keeps absolute offsets */
    static const uint8_t nested[] = {0x0a, 0x03, 0x10, 0x96, 0x01};
    fm_pb_reader_init(&r, nested, sizeof nested);
    FM_CHECK(fm_pb_next(&r, &f, &err) == FM_OK);
    fm_pb_reader sub = fm_pb_sub(&f);
    FM_CHECK(fm_pb_next(&sub, &f, &err) == FM_OK && f.field == 2 && f.u == 150 && f.offset == 2);
    FM_CHECK(fm_pb_at_end(&sub) && fm_pb_remaining(&sub) == 0);

    /* varint limits */
    static const uint8_t max64[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    uint64_t v = 0;
    fm_pb_reader_init(&r, max64, sizeof max64);
    FM_CHECK(fm_pb_read_varint(&r, &v, &err) == FM_OK && v == UINT64_MAX);
    static const uint8_t over64[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    fm_pb_reader_init(&r, over64, sizeof over64);
    FM_CHECK(fm_pb_read_varint(&r, &v, &err) == FM_ERR_PARSE);
    FM_CHECK(strcmp(err.msg, "malformed varint at byte 0: more than 64 bits") == 0);
    static const uint8_t long11[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x80, 0x00};
    fm_pb_reader_init(&r, long11, sizeof long11);
    FM_CHECK(fm_pb_read_varint(&r, &v, &err) == FM_ERR_PARSE);
    FM_CHECK(strcmp(err.msg, "malformed varint at byte 0: more than 64 bits") == 0);
    static const uint8_t cut[] = {0x08, 0x96};
    fm_pb_reader_init(&r, cut, sizeof cut);
    FM_CHECK(fm_pb_next(&r, &f, &err) == FM_ERR_PARSE);
    FM_CHECK(strcmp(err.msg, "truncated at byte 2: varint starting at byte 1 is cut off") == 0);

    /* every error path of fm_pb_next, with its offset */
    struct {
        uint8_t b[8];
        size_t n;
        const char *msg;
    } cases[] = {
        {{0x12, 0x05, 'a'}, 3, "truncated at byte 2: length-delimited field 2 needs 5 bytes, 1 remain"},
        {{0x1d, 1, 2}, 3, "truncated at byte 1: 32-bit field 3 (tag at byte 0) needs 4 bytes, 2 remain"},
        {{0x08, 1, 0x21, 1}, 4,
         "truncated at byte 3: 64-bit field 4 (tag at byte 2) needs 8 bytes, 1 remain"},
        {{0x0e}, 1, "invalid wire type 6 in tag at byte 0 (field 1)"},
        {{0x08, 0x00, 0x0f}, 3, "invalid wire type 7 in tag at byte 2 (field 1)"},
        {{0x02, 0x00}, 2, "invalid field number 0 in tag at byte 0"},
        {{0x0c}, 1, "malformed input at byte 0: end-group tag for field 1 without a matching start"},
        {{0x0b, 0x08, 0x01}, 3,
         "truncated at byte 3: group field 1 (started at byte 0) has no end-group tag"},
        {{0x0b, 0x14}, 2, "malformed group at byte 1: end-group tag for field 2, expected field 1"},
        {{0x0b, 0x12, 0x09}, 3, "truncated at byte 3: length-delimited field 2 needs 9 bytes, 0 remain"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fm_pb_reader_init(&r, cases[i].b, cases[i].n);
        fm_status st = FM_OK;
        while (st == FM_OK && !fm_pb_at_end(&r))
            st = fm_pb_next(&r, &f, &err);
        FM_CHECK_MSG(st != FM_OK, "case %zu passed", i);
        FM_CHECK_MSG(strcmp(err.msg, cases[i].msg) == 0, "case %zu: \"%s\"", i, err.msg);
    }
    /* group nesting is limited */
    uint8_t deep[FM_PB_MAX_GROUP_DEPTH + 2];
    memset(deep, 0x0b, sizeof deep);
    fm_pb_reader_init(&r, deep, sizeof deep);
    FM_CHECK(fm_pb_next(&r, &f, &err) == FM_ERR_LIMIT);
    FM_CHECK(strcmp(err.msg, "groups nested deeper than 32 at byte 32") == 0);

    /* a packed varint payload */
    static const uint8_t packed[] = {0x0a, 0x04, 0x01, 0x96, 0x01, 0x7f};
    fm_pb_reader_init(&r, packed, sizeof packed);
    size_t count = 0;
    FM_CHECK(fm_pb_next(&r, &f, &err) == FM_OK && fm_pb_count_varints(&f, &count, &err) == FM_OK &&
             count == 3);
}

static void test_caffemodel_pbwire_writer(void)
{
    fm_pb_writer w;
    fm_pb_writer_init(&w);
    fm_pb_put_uint_field(&w, 1, 300);
    fm_pb_put_bytes_field(&w, 2, "ab", 2);
    fm_pb_put_tag(&w, 3, FM_PB_I32);
    fm_pb_put_fixed32(&w, 0x04030201u);
    fm_pb_put_tag(&w, 4, FM_PB_I64);
    fm_pb_put_fixed64(&w, 0x0807060504030201ull);
    float fl[2] = {1.0f, -2.0f};
    fm_pb_put_packed_floats(&w, 5, fl, 2);
    int64_t d[3] = {1, 150, -1};
    fm_pb_put_packed_int64(&w, 100, d, 3);
    static const uint8_t want[] = {
        0x08, 0xac, 0x02, 0x12, 0x02, 'a',  'b',  0x1d, 1,    2,    3,    4,    0x21, 1,
        2,    3,    4,    5,    6,    7,    8,    0x2a, 0x08, 0x00, 0x00, 0x80, 0x3f, 0x00,
        0x00, 0x00, 0xc0, 0xa2, 0x06, 0x0d, 0x01, 0x96, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0x01};
    FM_CHECK(w.status == FM_OK);
    FM_CHECK_INT(w.len, sizeof want);
    FM_CHECK(w.len == sizeof want && memcmp(w.data, want, sizeof want) == 0);
    FM_CHECK_INT(fm_pb_varint_size(0), 1);
    FM_CHECK_INT(fm_pb_varint_size(127), 1);
    FM_CHECK_INT(fm_pb_varint_size(128), 2);
    FM_CHECK_INT(fm_pb_varint_size(UINT64_MAX), 10);
    FM_CHECK_INT(fm_pb_tag_size(15), 1);
    FM_CHECK_INT(fm_pb_tag_size(16), 2);
    FM_CHECK_INT(fm_pb_len_field_size(100, 13), 16);
    fm_pb_writer_free(&w);
    FM_CHECK(w.data == NULL && w.len == 0);
}

/* ---- decoding: exact bytes ---- */

static void test_caffemodel_decode_exact_bytes(void)
{
    /* NetParameter { name: "n" layer { name: "c" type: "T" blobs { data: [1, 2]
     * shape { dim: 2 } } blobs { double_data: 0.5 num:1 channels:1 height:1 width:1 } } } */
    static const uint8_t buf[] = {
        0x0a, 0x01, 'n',  0xa2, 0x06, 0x2a, 0x0a, 0x01, 'c',  0x12, 0x01, 'T',  0x3a, 0x0f, 0x2a,
        0x08, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x3a, 0x03, 0x0a, 0x01, 0x02, 0x3a,
        0x11, 0x08, 0x01, 0x10, 0x01, 0x18, 0x01, 0x20, 0x01, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0xe0, 0x3f};
    fm_err err = {0};
    fm_caffemodel *m = fm_caffemodel_decode(buf, sizeof buf, "x.caffemodel", &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m)
        return;
    FM_CHECK(m->name && strcmp(m->name, "n") == 0);
    FM_CHECK_INT(m->nlayers, 1);
    const fm_caffe_layer *l = fm_caffemodel_find(m, "c");
    FM_CHECK(l && strcmp(l->type, "T") == 0 && l->nblobs == 2);
    FM_CHECK(l->blobs[0].shape.ndim == 1 && l->blobs[0].shape.d[0] == 2 && l->blobs[0].count == 2);
    FM_CHECK(l->blobs[0].data[0] == 1.0f && l->blobs[0].data[1] == 2.0f);
    fm_shape s4 = fm_shape4(1, 1, 1, 1);
    FM_CHECK(fm_shape_eq(&l->blobs[1].shape, &s4) && l->blobs[1].data[0] == 0.5f);
    FM_CHECK(fm_caffemodel_find(m, "nope") == NULL);
    fm_caffemodel_free(m);
}

/* ---- the shared models against their prototxt ---- */

static void check_against_prototxt(const char *proto, const char *weights, int want_layers)
{
    char pp[512], wp[512];
    snprintf(pp, sizeof pp, "%s/models/%s", fm_test_shared(), proto);
    snprintf(wp, sizeof wp, "%s/models/%s", fm_test_shared(), weights);
    fm_err err = {0};
    fm_ptxt *doc = fm_ptxt_read(pp, &err);
    FM_CHECK_MSG(doc != NULL, "%s", err.msg);
    fm_caffemodel *m = fm_caffemodel_read(wp, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    if (!doc || !m) {
        fm_ptxt_free(doc);
        fm_caffemodel_free(m);
        return;
    }
    FM_CHECK_INT(m->nlayers, want_layers);
    size_t nonfinite = 0;
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i].nblobs; j++) {
            const fm_caffe_blob *b = &m->layers[i].blobs[j];
            FM_CHECK(b->count == fm_shape_count(&b->shape) && b->count > 0);
            for (size_t k = 0; k < b->count; k++)
                nonfinite += !isfinite(b->data[k]);
        }
    FM_CHECK_INT(nonfinite, 0);
    int checked = 0;
    for (const fm_ptxt_node *pl = fm_ptxt_get(fm_ptxt_root(doc), "layer"); pl;
         pl = fm_ptxt_next_named(pl)) {
        const char *name = fm_ptxt_get_str(pl, "name", ""), *type = fm_ptxt_get_str(pl, "type", "");
        const fm_caffe_layer *l = fm_caffemodel_find(m, name);
        long long nout = 0, k = 0, group = 1;
        int bias = 1;
        if (strcmp(type, "Convolution") == 0) {
            const fm_ptxt_node *cp = fm_ptxt_get(pl, "convolution_param");
            fm_ptxt_get_int(cp, "num_output", 0, &nout, &err);
            fm_ptxt_get_int(cp, "kernel_size", 0, &k, &err);
            fm_ptxt_get_int(cp, "group", 1, &group, &err);
            fm_ptxt_get_bool(cp, "bias_term", 1, &bias, &err);
            FM_CHECK_MSG(l && l->nblobs == 1 + bias, "conv '%s': %d blobs", name, l ? l->nblobs : -1);
            if (!l || l->nblobs < 1)
                continue;
            const fm_shape *s = &l->blobs[0].shape;
            FM_CHECK_MSG(s->ndim == 4 && s->d[0] == nout && s->d[2] == k && s->d[3] == k,
                         "conv '%s' weight shape", name);
            if (group > 1 && group == nout)
                FM_CHECK(s->d[1] == 1);
            if (bias && l->nblobs == 2)
                FM_CHECK(l->blobs[1].count == (size_t)nout);
            checked++;
        } else if (strcmp(type, "BatchNorm") == 0) {
            FM_CHECK_MSG(l && l->nblobs == 3, "BatchNorm '%s'", name);
            checked++;
        } else if (strcmp(type, "Scale") == 0) {
            fm_ptxt_get_bool(fm_ptxt_get(pl, "scale_param"), "bias_term", 0, &bias, &err);
            FM_CHECK_MSG(l && l->nblobs == 1 + bias, "Scale '%s'", name);
            checked++;
        } else if (strcmp(type, "Normalize") == 0) {
            FM_CHECK_MSG(l && l->nblobs == 1, "Normalize '%s'", name);
            checked++;
        } else if (l) {
            FM_CHECK_MSG(l->nblobs == 0, "'%s' (%s) has %d blobs", name, type, l->nblobs);
        }
    }
    FM_CHECK(checked > 20);
    fm_ptxt_free(doc);
    fm_caffemodel_free(m);
}

static void test_caffemodel_res10(void)
{
    check_against_prototxt("res10/deploy.prototxt", "res10/res10_300x300_ssd_iter_140000.caffemodel",
                           112);
    char path[512];
    snprintf(path, sizeof path, "%s/models/res10/res10_300x300_ssd_iter_140000.caffemodel",
             fm_test_shared());
    fm_err err = {0};
    fm_caffemodel *m = fm_caffemodel_read(path, &err);
    if (!m)
        return;
    FM_CHECK(m->name && strcmp(m->name, "res10_300x300_ssd") == 0);
    const fm_caffe_layer *c = fm_caffemodel_find(m, "conv1_h");
    fm_shape want = fm_shape4(32, 3, 7, 7);
    FM_CHECK(c && strcmp(c->type, "Convolution") == 0 && c->nblobs == 2);
    FM_CHECK(c && fm_shape_eq(&c->blobs[0].shape, &want) && c->blobs[0].count == 4704);
    const fm_caffe_layer *bn = fm_caffemodel_find(m, "data_bn");
    FM_CHECK(bn && bn->nblobs == 3 && bn->blobs[0].count == 3 && bn->blobs[2].count == 1);
    /* the first float of data_bn's mean, read from the file's bytes 37..40 (0xbfb895be) */
    FM_CHECK(bn && fbits(bn->blobs[0].data[0]) == 0xbfb895beu);
    fm_caffemodel_free(m);
}

static void test_caffemodel_mobilenet_v2(void)
{
    check_against_prototxt("mobilenet_v2/mobilenet_v2.prototxt",
                           "mobilenet_v2/mobilenet_v2.caffemodel", 53);
}

/* ---- round trips ---- */

static int models_equal_bits(const fm_caffemodel *a, const fm_caffemodel *b)
{
    if (a->nlayers != b->nlayers || !!a->name != !!b->name ||
        (a->name && strcmp(a->name, b->name)))
        return 0;
    for (int i = 0; i < a->nlayers; i++) {
        const fm_caffe_layer *x = &a->layers[i], *y = &b->layers[i];
        if (strcmp(x->name, y->name) || strcmp(x->type, y->type) || x->nblobs != y->nblobs)
            return 0;
        for (int j = 0; j < x->nblobs; j++) {
            if (!fm_shape_eq(&x->blobs[j].shape, &y->blobs[j].shape) ||
                x->blobs[j].count != y->blobs[j].count ||
                memcmp(x->blobs[j].data, y->blobs[j].data, x->blobs[j].count * 4))
                return 0;
        }
    }
    return 1;
}

static void test_caffemodel_roundtrip(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/res10/res10_300x300_ssd_iter_140000.caffemodel",
             fm_test_shared());
    fm_err err = {0};
    fm_caffemodel *a = fm_caffemodel_read(path, &err);
    FM_CHECK_MSG(a != NULL, "%s", err.msg);
    if (!a)
        return;
    uint8_t *e1 = NULL, *e2 = NULL;
    size_t n1 = 0, n2 = 0;
    FM_CHECK(fm_caffemodel_encode(a, &e1, &n1, &err) == FM_OK);
    fm_caffemodel *b = fm_caffemodel_decode(e1, n1, "encoded", &err);
    FM_CHECK_MSG(b != NULL, "%s", err.msg);
    FM_CHECK(b && models_equal_bits(a, b));
    FM_CHECK(b && fm_caffemodel_encode(b, &e2, &n2, &err) == FM_OK);
    FM_CHECK(n1 == n2 && e2 && memcmp(e1, e2, n1) == 0); /* the encoding is canonical */
    /* through a file */
    char out[600];
    snprintf(out, sizeof out, "%s/rt.caffemodel", fm_test_tmpdir());
    FM_CHECK(fm_caffemodel_write(a, out, &err) == FM_OK);
    fm_caffemodel *c = fm_caffemodel_read(out, &err);
    FM_CHECK_MSG(c && models_equal_bits(a, c), "%s", err.msg);
    free(e1);
    free(e2);
    fm_caffemodel_free(a);
    fm_caffemodel_free(b);
    fm_caffemodel_free(c);

    /* NaN, infinities, -0 and subnormals survive bit for bit; a NULL name and type too */
    float vals[6] = {NAN, INFINITY, -INFINITY, -0.0f, 1e-45f, bitsf(0x7fc12345u)};
    fm_caffe_blob blob = {fm_shape2(2, 3), 6, vals};
    fm_caffe_layer layer = {NULL, NULL, 1, &blob};
    fm_caffemodel tiny = {NULL, 1, &layer};
    FM_CHECK(fm_caffemodel_encode(&tiny, &e1, &n1, &err) == FM_OK);
    b = fm_caffemodel_decode(e1, n1, "t", &err);
    FM_CHECK(b && b->name == NULL && strcmp(b->layers[0].name, "") == 0 &&
             b->layers[0].nblobs == 1 && memcmp(b->layers[0].blobs[0].data, vals, sizeof vals) == 0);
    free(e1);
    fm_caffemodel_free(b);

    /* the encoder refuses an inconsistent model */
    blob.count = 5;
    FM_CHECK(fm_caffemodel_encode(&tiny, &e1, &n1, &err) == FM_ERR_ARG);
    FM_CHECK(strcmp(err.msg, "layer #0 '' blob 0: count 5 does not match shape 2x3 (6)") == 0);
    blob.count = 6;
    blob.shape.ndim = 0;
    FM_CHECK(fm_caffemodel_encode(&tiny, &e1, &n1, &err) == FM_ERR_ARG);
    FM_CHECK(fm_caffemodel_write(&tiny, "/nonexistent/dir/x.caffemodel", &err) == FM_ERR_ARG);
    blob.shape = fm_shape2(2, 3);
    FM_CHECK(fm_caffemodel_write(&tiny, "/nonexistent/dir/x.caffemodel", &err) == FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "/nonexistent/dir/x.caffemodel: cannot create");
}

/* ---- fixtures from tools/make_fp16_caffemodel.py ---- */

static fm_caffemodel *read_fixture(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%s", name);
    fm_err err = {0};
    fm_caffemodel *m = fm_caffemodel_read(path, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    return m;
}

/* Finds raw_data_type and the raw_data length of blob `bi` of layer `li` (field 100). */
static int fixture_raw(const uint8_t *buf, size_t len, int li, int bi, uint64_t *type,
                       size_t *raw_len)
{
    fm_err err = {0};
    fm_pb_reader r;
    fm_pb_field f;
    fm_pb_reader_init(&r, buf, len);
    int l = 0;
    while (!fm_pb_at_end(&r) && fm_pb_next(&r, &f, &err) == FM_OK) {
        if (f.field != 100 || l++ != li)
            continue;
        fm_pb_reader lr = fm_pb_sub(&f);
        int b = 0;
        while (!fm_pb_at_end(&lr) && fm_pb_next(&lr, &f, &err) == FM_OK) {
            if (f.field != 7 || b++ != bi)
                continue;
            fm_pb_reader br = fm_pb_sub(&f);
            int found = 0;
            while (!fm_pb_at_end(&br) && fm_pb_next(&br, &f, &err) == FM_OK) {
                if (f.field == 10)
                    *type = f.u, found |= 1;
                if (f.field == 12)
                    *raw_len = f.len, found |= 2;
                if (f.field == 5)
                    found |= 4;
            }
            return found;
        }
    }
    return -1;
}

static void test_caffemodel_fp16_fixture(void)
{
    fm_caffemodel *f32 = read_fixture("tiny.caffemodel");
    fm_caffemodel *f16 = read_fixture("tiny_fp16.caffemodel");
    if (!f32 || !f16) {
        fm_caffemodel_free(f32);
        fm_caffemodel_free(f16);
        return;
    }
    /* OpenCV's shrinkCaffeModel stored Convolution and InnerProduct blobs as FLOAT16 raw_data */
    size_t len = 0;
    char *raw = fm_test_read_file(FIXTURES "tiny_fp16.caffemodel", &len);
    uint64_t type = 99;
    size_t rl = 0;
    FM_CHECK(raw && fixture_raw((const uint8_t *)raw, len, 0, 0, &type, &rl) == 3);
    FM_CHECK(type == 2 && rl == 2 * 4 * 3 * 3 * 3);
    FM_CHECK(raw && fixture_raw((const uint8_t *)raw, len, 1, 0, &type, &rl) == 4); /* BatchNorm: float */
    free(raw);

    FM_CHECK_INT(f16->nlayers, f32->nlayers);
    int halves = 0, exact = 0;
    for (int i = 0; i < f32->nlayers && i < f16->nlayers; i++) {
        const fm_caffe_layer *a = &f32->layers[i], *b = &f16->layers[i];
        FM_CHECK(strcmp(a->name, b->name) == 0 && strcmp(a->type, b->type) == 0);
        FM_CHECK_INT(a->nblobs, b->nblobs);
        int shrunk = !strcmp(a->type, "Convolution") || !strcmp(a->type, "InnerProduct");
        for (int j = 0; j < a->nblobs && j < b->nblobs; j++) {
            FM_CHECK(fm_shape_eq(&a->blobs[j].shape, &b->blobs[j].shape));
            for (size_t k = 0; k < a->blobs[j].count; k++) {
                float x = a->blobs[j].data[k], y = b->blobs[j].data[k];
                if (!shrunk) {
                    exact += fbits(x) == fbits(y);
                    FM_CHECK(fbits(x) == fbits(y));
                    continue;
                }
                halves++;
                /* OpenCV's conversion and ours agree bit for bit ... */
                float mine = fm_half_to_float(fm_float_to_half(x));
                FM_CHECK_MSG(fbits(mine) == fbits(y), "layer %s blob %d [%zu]: %a -> %a, ours %a",
                             a->name, j, k, (double)x, (double)y, (double)mine);
                /* ... and are within half precision of the float model */
                if (fabsf(x) < 65520.0f)
                    FM_CHECK_NEAR(y, x, fmaxf(fabsf(x) * 0x1p-11f, 0x1p-25f));
                else
                    FM_CHECK(isinf(y) && (y > 0) == (x > 0));
            }
        }
    }
    FM_CHECK_INT(halves, 4 * 27 + 4 + 108 + 3);
    FM_CHECK_INT(exact, 9);
    fm_caffemodel_free(f32);
    fm_caffemodel_free(f16);
}

static void test_caffemodel_v1_fixture(void)
{
    fm_caffemodel *v2 = read_fixture("tiny.caffemodel");
    fm_caffemodel *v1 = read_fixture("tiny_v1.caffemodel");
    if (!v1 || !v2) {
        fm_caffemodel_free(v1);
        fm_caffemodel_free(v2);
        return;
    }
    FM_CHECK(strcmp(v1->name, "tiny_v1") == 0 && v1->nlayers == 3);
    static const char *const names[] = {"conv1", "relu1", "fc"};
    static const char *const types[] = {"Convolution", "ReLU", "InnerProduct"};
    for (int i = 0; i < 3 && i < v1->nlayers; i++)
        FM_CHECK(!strcmp(v1->layers[i].name, names[i]) && !strcmp(v1->layers[i].type, types[i]));
    const fm_caffe_layer *a = fm_caffemodel_find(v1, "conv1"), *b = fm_caffemodel_find(v2, "conv1");
    FM_CHECK(a && b && a->nblobs == 2 && b->nblobs == 2);
    if (a && b && a->nblobs == 2 && b->nblobs == 2) {
        /* unpacked floats, legacy 4-D shape */
        FM_CHECK(fm_shape_eq(&a->blobs[0].shape, &b->blobs[0].shape));
        FM_CHECK(memcmp(a->blobs[0].data, b->blobs[0].data, 108 * 4) == 0);
        /* double_data, legacy 1x1x1x4 */
        fm_shape s = fm_shape4(1, 1, 1, 4);
        FM_CHECK(fm_shape_eq(&a->blobs[1].shape, &s));
        FM_CHECK(memcmp(a->blobs[1].data, b->blobs[1].data, 4 * 4) == 0);
    }
    a = fm_caffemodel_find(v1, "fc");
    b = fm_caffemodel_find(v2, "fc");
    FM_CHECK(a && b && models_equal_bits(&(fm_caffemodel){NULL, 1, (fm_caffe_layer *)a},
                                         &(fm_caffemodel){NULL, 1, (fm_caffe_layer *)b}));
    fm_caffemodel_free(v1);
    fm_caffemodel_free(v2);
}

/* ---- errors ---- */

/* Wraps blob bytes into NetParameter { layer { name: "x" type: "Convolution" blobs {...} } }. */
static fm_caffemodel *decode_blob_bytes(const fm_pb_writer *blob, fm_err *err)
{
    fm_pb_writer l, n;
    fm_pb_writer_init(&l);
    fm_pb_writer_init(&n);
    fm_pb_put_bytes_field(&l, 1, "x", 1);
    fm_pb_put_bytes_field(&l, 2, "Convolution", 11);
    fm_pb_put_bytes_field(&l, 7, blob->data, blob->len);
    fm_pb_put_bytes_field(&n, 100, l.data, l.len);
    fm_caffemodel *m = fm_caffemodel_decode(n.data, n.len, "e.caffemodel", err);
    fm_pb_writer_free(&l);
    fm_pb_writer_free(&n);
    return m;
}

static void put_shape(fm_pb_writer *w, const int64_t *dims, size_t n)
{
    fm_pb_writer s;
    fm_pb_writer_init(&s);
    fm_pb_put_packed_int64(&s, 1, dims, n);
    fm_pb_put_bytes_field(w, 7, s.data, s.len);
    fm_pb_writer_free(&s);
}

static void expect_blob_error(fm_pb_writer *w, fm_status st, const char *msg)
{
    fm_err err = {0};
    fm_caffemodel *m = decode_blob_bytes(w, &err);
    FM_CHECK_MSG(m == NULL, "decoded but should fail: %s", msg);
    fm_caffemodel_free(m);
    FM_CHECK_MSG(err.status == st, "status %s for %s", fm_status_str(err.status), msg);
    FM_CHECK_MSG(strcmp(err.msg, msg) == 0, "message\n    \"%s\"\n  expected\n    \"%s\"", err.msg,
                 msg);
    fm_pb_writer_free(w);
    fm_pb_writer_init(w);
}

static void test_caffemodel_blob_errors(void)
{
    fm_pb_writer w;
    fm_pb_writer_init(&w);
    float f[8] = {0};
    int64_t d2x3[2] = {2, 3};

    fm_pb_put_packed_floats(&w, 5, f, 5);
    put_shape(&w, d2x3, 2);
    expect_blob_error(&w, FM_ERR_SHAPE,
                      "e.caffemodel: layer 'x' blob 0: data has 5 floats but shape 2x3 needs 6");

    int64_t d5[5] = {1, 1, 1, 1, 1};
    fm_pb_put_packed_floats(&w, 5, f, 1);
    put_shape(&w, d5, 5);
    expect_blob_error(&w, FM_ERR_UNSUPPORTED,
                      "e.caffemodel: layer 'x' blob 0: shape has 5 axes, at most 4 are supported");

    int64_t dz[2] = {2, 0};
    put_shape(&w, dz, 2);
    expect_blob_error(&w, FM_ERR_FORMAT,
                      "e.caffemodel: layer 'x' blob 0: shape dim 1 is 0 (must be 1 .. 2147483647)");

    int64_t dn[1] = {-3};
    put_shape(&w, dn, 1);
    expect_blob_error(&w, FM_ERR_FORMAT,
                      "e.caffemodel: layer 'x' blob 0: shape dim 0 is -3 (must be 1 .. 2147483647)");

    int64_t dbig[1] = {1LL << 40};
    put_shape(&w, dbig, 1);
    expect_blob_error(&w, FM_ERR_FORMAT,
                      "e.caffemodel: layer 'x' blob 0: shape dim 0 is 1099511627776 (must be 1 .. "
                      "2147483647)");

    int64_t dhuge[4] = {2147483647, 2147483647, 2147483647, 2147483647};
    put_shape(&w, dhuge, 4);
    expect_blob_error(&w, FM_ERR_LIMIT,
                      "e.caffemodel: layer 'x' blob 0: shape 2147483647x2147483647x2147483647x"
                      "2147483647 has too many elements");

    fm_pb_put_packed_floats(&w, 5, f, 2);
    expect_blob_error(&w, FM_ERR_FORMAT,
                      "e.caffemodel: layer 'x' blob 0: no shape (neither 'shape' nor "
                      "num/channels/height/width)");

    fm_pb_put_uint_field(&w, 1, 2);
    fm_pb_put_uint_field(&w, 2, 3);
    fm_pb_put_packed_floats(&w, 5, f, 6);
    expect_blob_error(&w, FM_ERR_FORMAT,
                      "e.caffemodel: layer 'x' blob 0: legacy shape: height is 0 (absent) (must be "
                      "positive)");

    fm_pb_put_uint_field(&w, 1, (uint64_t)-1); /* int32 -1 as protobuf writes it */
    expect_blob_error(&w, FM_ERR_FORMAT,
                      "e.caffemodel: layer 'x' blob 0: legacy shape: num is -1 (must be positive)");

    fm_pb_put_bytes_field(&w, 5, f, 7);
    expect_blob_error(&w, FM_ERR_PARSE,
                      "e.caffemodel: layer 'x' blob 0: packed float data at byte 23 has 7 bytes, "
                      "not a multiple of 4");

    fm_pb_put_uint_field(&w, 5, 1);
    expect_blob_error(&w, FM_ERR_FORMAT,
                      "e.caffemodel: layer 'x' blob 0: blob field 5 (data) at byte 21 has wire type "
                      "varint, expected 32-bit or length-delimited");

    fm_pb_put_uint_field(&w, 7, 1);
    expect_blob_error(&w, FM_ERR_FORMAT,
                      "e.caffemodel: layer 'x' blob 0: blob field 7 (shape) at byte 21 has wire type "
                      "varint, expected length-delimited");

    int64_t d2[1] = {2};
    put_shape(&w, d2, 1);
    fm_pb_put_packed_floats(&w, 5, f, 2);
    fm_pb_put_uint_field(&w, 10, 2);
    fm_pb_put_bytes_field(&w, 12, f, 4);
    expect_blob_error(&w, FM_ERR_FORMAT,
                      "e.caffemodel: layer 'x' blob 0: has more than one of data (2 floats), "
                      "double_data (0 doubles) and raw_data");

    put_shape(&w, d2, 1);
    fm_pb_put_uint_field(&w, 10, 3);
    fm_pb_put_bytes_field(&w, 12, f, 8);
    expect_blob_error(&w, FM_ERR_UNSUPPORTED,
                      "e.caffemodel: layer 'x' blob 0: raw_data_type 3 is not supported (DOUBLE=0, "
                      "FLOAT=1, FLOAT16=2)");

    put_shape(&w, d2, 1);
    fm_pb_put_uint_field(&w, 10, 2);
    fm_pb_put_bytes_field(&w, 12, f, 6);
    expect_blob_error(&w, FM_ERR_SHAPE,
                      "e.caffemodel: layer 'x' blob 0: raw_data (FLOAT16) has 3 values but shape 2 "
                      "needs 2");

    put_shape(&w, d2, 1);
    fm_pb_put_uint_field(&w, 10, 2);
    fm_pb_put_bytes_field(&w, 12, f, 5);
    expect_blob_error(&w, FM_ERR_FORMAT,
                      "e.caffemodel: layer 'x' blob 0: raw_data has 5 bytes, not a multiple of the "
                      "2-byte element");

    put_shape(&w, d2, 1);
    fm_pb_put_bytes_field(&w, 8, f, 12);
    expect_blob_error(&w, FM_ERR_PARSE,
                      "e.caffemodel: layer 'x' blob 0: packed double data at byte 28 has 12 bytes, "
                      "not a multiple of 8");

    /* a nested length that overruns its blob (but not the file) */
    static const uint8_t inner[] = {0x3a, 0x03, 0x0a, 0x09, 0x01};
    fm_pb_put_raw(&w, inner, sizeof inner);
    expect_blob_error(&w, FM_ERR_PARSE,
                      "e.caffemodel: layer 'x' blob 0: truncated at byte 25: length-delimited field "
                      "1 needs 9 bytes, 1 remain");

    /* raw FLOAT and DOUBLE forms, unpacked dims and an empty shape (a scalar) decode */
    float two[2] = {1.5f, -2.5f};
    double twod[2] = {1.5, -2.5};
    fm_pb_put_tag(&w, 7, FM_PB_LEN);
    fm_pb_put_varint(&w, 2);
    fm_pb_put_uint_field(&w, 1, 2);
    fm_pb_put_uint_field(&w, 10, 1);
    fm_pb_put_bytes_field(&w, 12, two, 8);
    fm_err err = {0};
    fm_caffemodel *m = decode_blob_bytes(&w, &err);
    FM_CHECK_MSG(m && m->layers[0].blobs[0].data[1] == -2.5f, "%s", err.msg);
    fm_caffemodel_free(m);
    fm_pb_writer_free(&w);
    put_shape(&w, d2, 1);
    fm_pb_put_bytes_field(&w, 12, twod, 16); /* no raw_data_type: the proto default DOUBLE */
    m = decode_blob_bytes(&w, &err);
    FM_CHECK_MSG(m && m->layers[0].blobs[0].data[0] == 1.5f, "%s", err.msg);
    fm_caffemodel_free(m);
    fm_pb_writer_free(&w);
    fm_pb_put_bytes_field(&w, 7, NULL, 0);
    fm_pb_put_packed_floats(&w, 5, two, 1);
    m = decode_blob_bytes(&w, &err);
    FM_CHECK_MSG(m && m->layers[0].blobs[0].shape.ndim == 1 && m->layers[0].blobs[0].count == 1,
                 "%s", err.msg);
    fm_caffemodel_free(m);
    fm_pb_writer_free(&w);
}

static void expect_file_error(const void *buf, size_t len, fm_status st, const char *msg)
{
    fm_err err = {0};
    fm_caffemodel *m = fm_caffemodel_decode(buf, len, "f.caffemodel", &err);
    FM_CHECK_MSG(m == NULL, "decoded but should fail: %s", msg);
    fm_caffemodel_free(m);
    FM_CHECK_MSG(err.status == st, "status %s for %s", fm_status_str(err.status), msg);
    FM_CHECK_MSG(strcmp(err.msg, msg) == 0, "message\n    \"%s\"\n  expected\n    \"%s\"", err.msg,
                 msg);
}

static void test_caffemodel_file_errors(void)
{
    static const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0};
    expect_file_error(jpeg, sizeof jpeg, FM_ERR_PARSE,
                      "f.caffemodel: invalid wire type 7 in tag at byte 0 (field 25427343) (the "
                      "file looks like a JPEG image)");
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    expect_file_error(png, sizeof png, FM_ERR_PARSE,
                      "f.caffemodel: truncated at byte 2: 64-bit field 1281 (tag at byte 0) needs 8 "
                      "bytes, 6 remain (the file looks like a PNG image)");
    const char *text = "name: \"net\"\nlayer {\n  name: \"conv\"\n}\n";
    expect_file_error(text, strlen(text), FM_ERR_PARSE,
                      "f.caffemodel: invalid wire type 6 in tag at byte 0 (field 13) (the file "
                      "looks like text, perhaps a .prototxt, not a binary .caffemodel)");
    expect_file_error("", 0, FM_ERR_FORMAT, "f.caffemodel: empty file, not a Caffe NetParameter");
    static const uint8_t name_only[] = {0x0a, 0x01, 'n'};
    expect_file_error(name_only, sizeof name_only, FM_ERR_FORMAT,
                      "f.caffemodel: no layers (neither 'layer' field 100 nor 'layers' field 2): "
                      "not a Caffe NetParameter");
    static const uint8_t layer_varint[] = {0xa0, 0x06, 0x01};
    expect_file_error(layer_varint, sizeof layer_varint, FM_ERR_FORMAT,
                      "f.caffemodel: NetParameter field 100 (layer) at byte 0 has wire type varint, "
                      "expected length-delimited");
    static const uint8_t cut[] = {0xa2, 0x06, 0x02, 0x0a, 0x00, 0xa2, 0x06, 0x20, 0x0a};
    expect_file_error(cut, sizeof cut, FM_ERR_PARSE,
                      "f.caffemodel: after layer #0: truncated at byte 8: length-delimited field "
                      "100 needs 32 bytes, 1 remain");
    static const uint8_t name_varint[] = {0xa2, 0x06, 0x02, 0x08, 0x01};
    expect_file_error(name_varint, sizeof name_varint, FM_ERR_FORMAT,
                      "f.caffemodel: layer #0: layer field 1 (name) at byte 3 has wire type varint, "
                      "expected length-delimited");
    static const uint8_t v1_type_len[] = {0x12, 0x02, 0x2a, 0x00};
    expect_file_error(v1_type_len, sizeof v1_type_len, FM_ERR_FORMAT,
                      "f.caffemodel: layer #0: layer field 5 (type) at byte 2 has wire type "
                      "length-delimited, expected varint");
    /* the size limit is checked before anything is read */
    fm_err err = {0};
    FM_CHECK(fm_caffemodel_decode(jpeg, (size_t)FM_CAFFEMODEL_MAX_BYTES + 1, "big", &err) == NULL);
    FM_CHECK_INT(err.status, FM_ERR_LIMIT);
    FM_CHECK(strcmp(err.msg, "big: 1073741825 bytes exceeds the 1073741824-byte limit") == 0);
    FM_CHECK(fm_caffemodel_read("/nonexistent.caffemodel", &err) == NULL);
    FM_CHECK(strcmp(err.msg, "/nonexistent.caffemodel: cannot open: No such file or directory") ==
             0);
    FM_CHECK(fm_caffemodel_read("tests", &err) == NULL && err.status == FM_ERR_IO);
    /* a prototxt given as weights */
    char path[512];
    snprintf(path, sizeof path, "%s/models/res10/deploy.prototxt", fm_test_shared());
    FM_CHECK(fm_caffemodel_read(path, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "(the file looks like text, perhaps a .prototxt");
    /* unknown V1 layer types keep their number; V0 layers nested in V1 give name, type, blobs */
    static const uint8_t v1[] = {0x12, 0x17, 0x22, 0x01, 'a',  0x28, 0x63, 0x0a, 0x10, 0x0a,
                                 0x01, 'b',  0x12, 0x01, 'T',  0x92, 0x03, 0x07, 0x3a, 0x00,
                                 0x2d, 0x00, 0x00, 0x80, 0x3f};
    fm_caffemodel *m = fm_caffemodel_decode(v1, sizeof v1, "v1", &err);
    FM_CHECK_MSG(m && !strcmp(m->layers[0].name, "a") && !strcmp(m->layers[0].type, "V1LayerType99"),
                 "%s", err.msg);
    FM_CHECK(m && m->layers[0].nblobs == 1 && m->layers[0].blobs[0].data[0] == 1.0f);
    fm_caffemodel_free(m);
}

/* Truncated res10 files: every cut gives an error, never a crash. */
static void test_caffemodel_truncated(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/res10/res10_300x300_ssd_iter_140000.caffemodel",
             fm_test_shared());
    size_t len = 0;
    char *full = fm_test_read_file(path, &len);
    FM_CHECK(full != NULL && len > 1000000);
    if (!full)
        return;
    /* where each top-level field ends: a cut exactly there is a valid, shorter NetParameter */
    size_t ends[256];
    int nends = 0;
    fm_pb_reader r;
    fm_pb_field f;
    fm_err err = {0};
    fm_pb_reader_init(&r, (const uint8_t *)full, len);
    while (!fm_pb_at_end(&r) && fm_pb_next(&r, &f, &err) == FM_OK && nends < 256)
        ends[nends++] = r.pos;
    size_t cuts[97 + 64];
    int ncuts = 0;
    for (int i = 0; i < 97; i++)
        cuts[ncuts++] = len / 97 * (size_t)i + (size_t)i;
    for (int i = 1; i <= 64; i++)
        cuts[ncuts++] = (size_t)i;
    int errors = 0;
    for (int c = 0; c < ncuts; c++) {
        size_t n = cuts[c];
        uint8_t *copy = malloc(n ? n : 1); /* exactly n bytes: ASan sees any overread */
        memcpy(copy, full, n);
        fm_caffemodel *m = fm_caffemodel_decode(copy, n, "res10.caffemodel", &err);
        int boundary = 0;
        for (int e = 1; e < nends; e++) /* after the name and at least one layer */
            boundary |= ends[e] == n;
        if (boundary) {
            FM_CHECK_MSG(m != NULL, "cut at %zu (a field boundary): %s", n, err.msg);
        } else {
            FM_CHECK_MSG(m == NULL, "cut at %zu decoded", n);
            FM_CHECK_MSG(strncmp(err.msg, "res10.caffemodel: ", 18) == 0, "%s", err.msg);
            errors++;
        }
        if (c == 50)
            FM_CHECK_STR_CONTAINS(err.msg, ": truncated at byte ");
        fm_caffemodel_free(m);
        free(copy);
    }
    FM_CHECK(errors >= ncuts - 2);
    free(full);
}

/* Every byte of a small model overwritten: decoding fails or succeeds, never crashes. */
static void test_caffemodel_corrupted(void)
{
    static const char *const names[] = {"tiny.caffemodel", "tiny_fp16.caffemodel",
                                        "tiny_v1.caffemodel"};
    static const uint8_t patterns[] = {0x00, 0xff, 0x80, 0x7f, 0x01, 0x0b, 0x0c};
    int failed = 0, total = 0;
    for (int fi = 0; fi < 3; fi++) {
        char path[256];
        snprintf(path, sizeof path, FIXTURES "%s", names[fi]);
        size_t len = 0;
        char *buf = fm_test_read_file(path, &len);
        FM_CHECK(buf != NULL);
        if (!buf)
            continue;
        uint8_t *copy = malloc(len);
        for (size_t i = 0; i < len; i++) {
            for (size_t p = 0; p < sizeof patterns; p++) {
                memcpy(copy, buf, len);
                copy[i] = patterns[p];
                fm_err err = {0};
                fm_caffemodel *m = fm_caffemodel_decode(copy, len, "c", &err);
                if (m) { /* whatever decoded is consistent */
                    for (int l = 0; l < m->nlayers; l++)
                        for (int b = 0; b < m->layers[l].nblobs; b++)
                            FM_CHECK(m->layers[l].blobs[b].count ==
                                     fm_shape_count(&m->layers[l].blobs[b].shape));
                } else {
                    failed++;
                    FM_CHECK(err.msg[0] != '\0');
                }
                total++;
                fm_caffemodel_free(m);
            }
        }
        free(copy);
        free(buf);
    }
    FM_CHECK(failed > total / 10);
}

void suite_caffemodel(void);
void suite_caffemodel(void)
{
    FM_RUN(test_caffemodel_half_exact);
    FM_RUN(test_caffemodel_pbwire_reader);
    FM_RUN(test_caffemodel_pbwire_writer);
    FM_RUN(test_caffemodel_decode_exact_bytes);
    FM_RUN(test_caffemodel_res10);
    FM_RUN(test_caffemodel_mobilenet_v2);
    FM_RUN(test_caffemodel_roundtrip);
    FM_RUN(test_caffemodel_fp16_fixture);
    FM_RUN(test_caffemodel_v1_fixture);
    FM_RUN(test_caffemodel_blob_errors);
    FM_RUN(test_caffemodel_file_errors);
    FM_RUN(test_caffemodel_truncated);
    FM_RUN(test_caffemodel_corrupted);
}
