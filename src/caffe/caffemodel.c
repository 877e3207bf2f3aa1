/* caffemodel.c - Caffe's binary NetParameter: read weights, write them back.
 *
 * Field numbers follow OpenCV's opencv-caffe.proto:
 *   NetParameter     name=1, layers=2 (V1LayerParameter), layer=100 (LayerParameter)
 *   LayerParameter   name=1, type=2 (string), blobs=7
 *   V1LayerParameter name=4, type=5 (enum LayerType), blobs=6, layer=1 (V0LayerParameter)
 *   V0LayerParameter name=1, type=2 (string), blobs=50
 *   BlobProto        num=1, channels=2, height=3, width=4, data=5 (float), diff=6,
 *                    shape=7 (BlobShape: dim=1, int64), double_data=8, double_diff=9,
 *                    raw_data_type=10 (Type: DOUBLE=0 FLOAT=1 FLOAT16=2 INT=3 UINT=4),
 *                    raw_data=12
 *
 * Decoding makes two passes over each message: the first counts (layers,
 * blobs, floats) and checks every length, the second fills exactly sized
 * arrays. Nothing is allocated from a length before that length has been
 * checked against the bytes that remain.
 */
#include "caffe/caffemodel.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/pbwire.h"

enum {
    NET_NAME = 1,
    NET_LAYERS_V1 = 2,
    NET_LAYER = 100,
    BLOB_NUM = 1,
    BLOB_CHANNELS = 2,
    BLOB_HEIGHT = 3,
    BLOB_WIDTH = 4,
    BLOB_DATA = 5,
    BLOB_SHAPE = 7,
    BLOB_DOUBLE_DATA = 8,
    BLOB_RAW_TYPE = 10,
    BLOB_RAW_DATA = 12,
    SHAPE_DIM = 1
};

enum { RAW_DOUBLE = 0, RAW_FLOAT = 1, RAW_FLOAT16 = 2, RAW_INT = 3, RAW_UINT = 4 };

/* Where name, type and blobs live in each generation of layer message. */
typedef struct {
    uint32_t name, type, blobs, v0; /* v0: nested V0LayerParameter, 0 if none */
    int type_is_enum;
} layer_schema;

static const layer_schema SCHEMA_V2 = {1, 2, 7, 0, 0};
static const layer_schema SCHEMA_V1 = {4, 5, 6, 1, 1};
static const layer_schema SCHEMA_V0 = {1, 2, 50, 0, 0};

/* V1LayerParameter.LayerType to the type strings of current Caffe. */
static const char *v1_type_name(uint64_t t)
{
    switch (t) {
    case 0: return "";
    case 1: return "Accuracy";
    case 2: return "BNLL";
    case 3: return "Concat";
    case 4: return "Convolution";
    case 5: return "Data";
    case 6: return "Dropout";
    case 7: return "EuclideanLoss";
    case 8: return "Flatten";
    case 9: return "HDF5Data";
    case 10: return "HDF5Output";
    case 11: return "Im2col";
    case 12: return "ImageData";
    case 13: return "InfogainLoss";
    case 14: return "InnerProduct";
    case 15: return "LRN";
    case 16: return "MultinomialLogisticLoss";
    case 17: return "Pooling";
    case 18: return "ReLU";
    case 19: return "Sigmoid";
    case 20: return "Softmax";
    case 21: return "SoftmaxWithLoss";
    case 22: return "Split";
    case 23: return "TanH";
    case 24: return "WindowData";
    case 25: return "Eltwise";
    case 26: return "Power";
    case 27: return "SigmoidCrossEntropyLoss";
    case 28: return "HingeLoss";
    case 29: return "MemoryData";
    case 30: return "ArgMax";
    case 31: return "Threshold";
    case 32: return "DummyData";
    case 33: return "Slice";
    case 34: return "MVN";
    case 35: return "AbsVal";
    case 36: return "Silence";
    case 37: return "ContrastiveLoss";
    case 38: return "Exp";
    case 39: return "Deconvolution";
    }
    return NULL;
}

/* ---- fp16 ---- */

float fm_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    float f;
    if (e == 0) {
        /* zero or subnormal: m * 2^-24, exact in float */
        f = (float)m * 0x1p-24f;
        return sign ? -f : f;
    }
    if (e == 31)
        bits = sign | 0x7f800000u | (m << 13); /* inf, or NaN keeping its payload */
    else
        bits = sign | ((e + 112) << 23) | (m << 13);
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t fm_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) { /* NaN: keep the top payload bits, stay a NaN (quiet) */
        return (uint16_t)(sign | 0x7e00 | ((x >> 13) & 0x3ff));
    }
    if (x >= 0x477ff000u) /* >= 65520 rounds to infinity (also inf itself) */
        return (uint16_t)(sign | 0x7c00);
    if (x < 0x38800000u) { /* below 2^-14: a half subnormal or zero */
        if (x <= 0x33000000u) /* <= 2^-25: the tie at 2^-25 goes to even, i.e. 0 */
            return sign;
        uint32_t e = x >> 23, m = (x & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14 .. 24 */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1)))
            r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = x - 0x38000000u; /* rebias the exponent from 127 to 15 */
    uint32_t h = r >> 13, rem = r & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++; /* a carry into the exponent is the correct rounding */
    return (uint16_t)(sign | h);
}

/* ---- decoding ---- */

static char *dup_bytes(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static fm_status wire_mismatch(fm_err *err, const char *msg, const fm_pb_field *f, const char *what,
                               const char *expected)
{
    return fm_err_set(err, FM_ERR_FORMAT,
                      "%s field %u (%s) at byte %zu has wire type %s, expected %s", msg, f->field,
                      what, f->offset, fm_pb_wire_name(f->wire), expected);
}

typedef struct {
    int ndim_shape;           /* dims seen in `shape` (may exceed 4: an error) */
    int64_t shape[FM_MAX_DIMS];
    int has_shape;
    int has_legacy;           /* bit i: legacy field i+1 present */
    int64_t legacy[4];
    size_t n_float;           /* from `data` */
    size_t n_double;          /* from `double_data` */
    int has_raw, raw_type, has_raw_type;
    fm_pb_field raw;
} blob_scan;

static fm_status scan_shape(const fm_pb_field *sf, blob_scan *b, fm_err *err)
{
    fm_pb_reader r = fm_pb_sub(sf);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        fm_status st = fm_pb_next(&r, &f, err);
        if (st != FM_OK)
            return st;
        if (f.field != SHAPE_DIM)
            continue;
        fm_pb_reader vals;
        if (f.wire == FM_PB_LEN) {
            vals = fm_pb_sub(&f);
        } else if (f.wire == FM_PB_VARINT) {
            vals.buf = NULL; /* the single value is already in f.u */
            vals.pos = vals.end = 0;
        } else {
            return wire_mismatch(err, "shape:", &f, "dim", "varint or length-delimited");
        }
        for (int first = 1;; first = 0) {
            uint64_t v;
            if (f.wire == FM_PB_VARINT) {
                if (!first)
                    break;
                v = f.u;
            } else {
                if (fm_pb_at_end(&vals))
                    break;
                if ((st = fm_pb_read_varint(&vals, &v, err)) != FM_OK)
                    return st;
            }
            if (b->ndim_shape < FM_MAX_DIMS)
                b->shape[b->ndim_shape] = (int64_t)v;
            if (b->ndim_shape < INT_MAX)
                b->ndim_shape++;
        }
    }
    b->has_shape = 1;
    return FM_OK;
}

/* A blob's `data` (size 4: floats) or `double_data` (size 8: doubles), packed or one value:
 * adds its number of values to *n. */
static fm_status count_values(const fm_pb_field *f, size_t size, const char *name, size_t *n,
                              fm_err *err)
{
    if (f->wire == FM_PB_LEN) {
        if (f->len % size)
            return fm_err_set(err, FM_ERR_PARSE,
                              "packed %s data at byte %zu has %zu bytes, not a multiple of %zu",
                              size == 4 ? "float" : "double", f->data_offset, f->len, size);
        *n += f->len / size;
    } else if (f->wire == (size == 4 ? FM_PB_I32 : FM_PB_I64)) {
        (*n)++;
    } else {
        return wire_mismatch(err, "blob", f, name,
                             size == 4 ? "32-bit or length-delimited"
                                       : "64-bit or length-delimited");
    }
    return FM_OK;
}

/* First pass over a BlobProto: shape, element counts, which data form. */
static fm_status scan_blob(const fm_pb_field *bf, blob_scan *b, fm_err *err)
{
    memset(b, 0, sizeof *b);
    fm_pb_reader r = fm_pb_sub(bf);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        fm_status st = fm_pb_next(&r, &f, err);
        if (st != FM_OK)
            return st;
        switch (f.field) {
        case BLOB_NUM:
        case BLOB_CHANNELS:
        case BLOB_HEIGHT:
        case BLOB_WIDTH:
            if (f.wire != FM_PB_VARINT)
                return wire_mismatch(err, "blob", &f, "num/channels/height/width", "varint");
            b->has_legacy |= 1 << (f.field - 1);
            b->legacy[f.field - 1] = (int32_t)(uint32_t)f.u; /* int32 on the wire */
            break;
        case BLOB_DATA:
            if ((st = count_values(&f, 4, "data", &b->n_float, err)) != FM_OK)
                return st;
            break;
        case BLOB_DOUBLE_DATA:
            if ((st = count_values(&f, 8, "double_data", &b->n_double, err)) != FM_OK)
                return st;
            break;
        case BLOB_SHAPE:
            if (f.wire != FM_PB_LEN)
                return wire_mismatch(err, "blob", &f, "shape", "length-delimited");
            if ((st = scan_shape(&f, b, err)) != FM_OK)
                return st;
            break;
        case BLOB_RAW_TYPE:
            if (f.wire != FM_PB_VARINT)
                return wire_mismatch(err, "blob", &f, "raw_data_type", "varint");
            b->raw_type = f.u > 100 ? 100 : (int)f.u;
            b->has_raw_type = 1;
            break;
        case BLOB_RAW_DATA:
            if (f.wire != FM_PB_LEN)
                return wire_mismatch(err, "blob", &f, "raw_data", "length-delimited");
            b->has_raw = 1; /* `bytes` is not repeated: the last one wins */
            b->raw = f;
            break;
        default: break; /* diff, double_diff, unknown fields */
        }
    }
    return FM_OK;
}

/* Builds the blob's shape from the scan; legacy 4-D fields win, as in Caffe and OpenCV. */
static fm_status blob_shape(const blob_scan *b, fm_shape *shape, fm_err *err)
{
    static const char *legacy_names[4] = {"num", "channels", "height", "width"};
    memset(shape, 0, sizeof *shape);
    if (b->has_legacy) {
        shape->ndim = 4;
        for (int i = 0; i < 4; i++) {
            if (b->legacy[i] <= 0)
                return fm_err_set(err, FM_ERR_FORMAT,
                                  "legacy shape: %s is %lld%s (must be positive)",
                                  legacy_names[i], (long long)b->legacy[i],
                                  b->has_legacy & (1 << i) ? "" : " (absent)");
            shape->d[i] = (int)b->legacy[i];
        }
        return FM_OK;
    }
    if (!b->has_shape)
        return fm_err_set(err, FM_ERR_FORMAT,
                          "no shape (neither 'shape' nor num/channels/height/width)");
    if (b->ndim_shape > FM_MAX_DIMS)
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "shape has %d axes, at most %d are supported",
                          b->ndim_shape, FM_MAX_DIMS);
    if (b->ndim_shape == 0) { /* a scalar blob: one element */
        *shape = fm_shape1(1);
        return FM_OK;
    }
    shape->ndim = b->ndim_shape;
    for (int i = 0; i < b->ndim_shape; i++) {
        if (b->shape[i] <= 0 || b->shape[i] > INT_MAX)
            return fm_err_set(err, FM_ERR_FORMAT, "shape dim %d is %lld (must be 1 .. %d)", i,
                              (long long)b->shape[i], INT_MAX);
        shape->d[i] = (int)b->shape[i];
    }
    return FM_OK;
}

static double le_double(const uint8_t *p)
{
    uint64_t u = fm_pb_le64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static float le_float(const uint8_t *p)
{
    uint32_t u = fm_pb_le32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static fm_status decode_blob(const fm_pb_field *bf, fm_caffe_blob *out, fm_err *err)
{
    blob_scan b;
    fm_status st = scan_blob(bf, &b, err);
    if (st != FM_OK)
        return st;
    if ((st = blob_shape(&b, &out->shape, err)) != FM_OK)
        return st;
    char sbuf[64];
    fm_shape_str(&out->shape, sbuf, sizeof sbuf);
    size_t need = 1;
    for (int i = 0; i < out->shape.ndim; i++)
        if (!fm_size_mul(need, (size_t)out->shape.d[i], &need))
            return fm_err_set(err, FM_ERR_LIMIT, "shape %s has too many elements", sbuf);

    int forms = (b.n_float > 0) + (b.n_double > 0) + (b.has_raw != 0);
    if (forms > 1)
        return fm_err_set(err, FM_ERR_FORMAT,
                          "has more than one of data (%zu floats), double_data (%zu doubles) and "
                          "raw_data",
                          b.n_float, b.n_double);
    size_t have = b.n_float, elem = 4;
    const char *what = "data", *unit = "floats";
    if (b.n_double) {
        have = b.n_double;
        what = "double_data";
        unit = "doubles";
    } else if (b.has_raw) {
        switch (b.raw_type) {
        case RAW_DOUBLE: elem = 8; break;
        case RAW_FLOAT: elem = 4; break;
        case RAW_FLOAT16: elem = 2; break;
        default:
            return fm_err_set(err, FM_ERR_UNSUPPORTED,
                              "raw_data_type %d is not supported (DOUBLE=0, FLOAT=1, FLOAT16=2)",
                              b.raw_type);
        }
        if (b.raw.len % elem)
            return fm_err_set(err, FM_ERR_FORMAT,
                              "raw_data has %zu bytes, not a multiple of the %zu-byte element",
                              b.raw.len, elem);
        have = b.raw.len / elem;
        what = elem == 2 ? "raw_data (FLOAT16)" : elem == 4 ? "raw_data (FLOAT)" : "raw_data (DOUBLE)";
        unit = "values";
    }
    if (have != need)
        return fm_err_set(err, FM_ERR_SHAPE, "%s has %zu %s but shape %s needs %zu", what, have,
                          unit, sbuf, need);
    out->count = need;
    out->data = malloc(need * sizeof(float)); /* need <= input bytes / 2: no overflow */
    if (!out->data)
        return fm_err_set(err, FM_ERR_NOMEM, "cannot allocate %zu floats", need);

    if (b.has_raw) {
        const uint8_t *p = b.raw.buf + b.raw.data_offset;
        for (size_t i = 0; i < need; i++) {
            if (elem == 2)
                out->data[i] = fm_half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
            else if (elem == 4)
                out->data[i] = le_float(p + 4 * i);
            else
                out->data[i] = (float)le_double(p + 8 * i);
        }
        return FM_OK;
    }
    /* Second pass: gather float or double values (packed runs and single values). */
    uint32_t field = b.n_double ? BLOB_DOUBLE_DATA : BLOB_DATA;
    size_t k = 0;
    fm_pb_reader r = fm_pb_sub(bf);
    while (!fm_pb_at_end(&r) && need) {
        fm_pb_field f;
        if ((st = fm_pb_next(&r, &f, err)) != FM_OK)
            return st;
        if (f.field != field)
            continue;
        const uint8_t *p = f.buf + f.data_offset;
        if (f.wire == FM_PB_LEN && field == BLOB_DATA) {
            for (size_t i = 0; i < f.len / 4; i++)
                out->data[k++] = le_float(p + 4 * i);
        } else if (f.wire == FM_PB_LEN) {
            for (size_t i = 0; i < f.len / 8; i++)
                out->data[k++] = (float)le_double(p + 8 * i);
        } else if (f.wire == FM_PB_I32) {
            uint32_t u = (uint32_t)f.u;
            memcpy(&out->data[k++], &u, 4);
        } else {
            double d;
            memcpy(&d, &f.u, 8);
            out->data[k++] = (float)d;
        }
    }
    return FM_OK;
}

typedef struct {
    int has_name, has_type;
    fm_pb_field name, type;
    uint64_t type_enum;
    size_t nblobs;
    int has_v0;
    fm_pb_field v0;
} layer_scan;

static fm_status scan_layer(const fm_pb_field *lf, const layer_schema *sc, layer_scan *s,
                            fm_err *err)
{
    memset(s, 0, sizeof *s);
    fm_pb_reader r = fm_pb_sub(lf);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        fm_status st = fm_pb_next(&r, &f, err);
        if (st != FM_OK)
            return st;
        if (f.field == sc->name) {
            if (f.wire != FM_PB_LEN)
                return wire_mismatch(err, "layer", &f, "name", "length-delimited");
            s->has_name = 1;
            s->name = f;
        } else if (f.field == sc->type) {
            if (sc->type_is_enum ? f.wire != FM_PB_VARINT : f.wire != FM_PB_LEN)
                return wire_mismatch(err, "layer", &f, "type",
                                     sc->type_is_enum ? "varint" : "length-delimited");
            s->has_type = 1;
            s->type = f;
            s->type_enum = f.u;
        } else if (f.field == sc->blobs) {
            if (f.wire != FM_PB_LEN)
                return wire_mismatch(err, "layer", &f, "blobs", "length-delimited");
            s->nblobs++;
        } else if (sc->v0 && f.field == sc->v0) {
            if (f.wire != FM_PB_LEN)
                return wire_mismatch(err, "layer", &f, "layer (V0)", "length-delimited");
            s->has_v0 = 1;
            s->v0 = f;
        }
    }
    return FM_OK;
}

/* Decodes the blobs of one layer message into out[*k...]. */
static fm_status decode_blobs(const fm_pb_field *lf, uint32_t blobs_field, fm_caffe_layer *L,
                              fm_err *err)
{
    fm_pb_reader r = fm_pb_sub(lf);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        fm_status st = fm_pb_next(&r, &f, err);
        if (st != FM_OK)
            return st;
        if (f.field != blobs_field)
            continue;
        int i = L->nblobs;
        if ((st = decode_blob(&f, &L->blobs[i], err)) != FM_OK)
            return fm_err_prefix(err, "blob %d: ", i);
        L->nblobs++;
    }
    return FM_OK;
}

static fm_status decode_layer(const fm_pb_field *lf, const layer_schema *sc, int index,
                              fm_caffe_layer *L, fm_err *err)
{
    layer_scan s, v0;
    fm_status st = scan_layer(lf, sc, &s, err);
    if (st != FM_OK)
        return fm_err_prefix(err, "layer #%d: ", index);
    memset(&v0, 0, sizeof v0);
    if (s.has_v0 && (st = scan_layer(&s.v0, &SCHEMA_V0, &v0, err)) != FM_OK)
        return fm_err_prefix(err, "layer #%d (V0 part): ", index);

    const fm_pb_field *name = s.has_name ? &s.name : v0.has_name ? &v0.name : NULL;
    L->name = name ? dup_bytes(name->buf + name->data_offset, name->len) : dup_bytes(NULL, 0);
    if (s.has_type && sc->type_is_enum) {
        const char *t = v1_type_name(s.type_enum);
        char tmp[40];
        if (!t) {
            snprintf(tmp, sizeof tmp, "V1LayerType%llu", (unsigned long long)s.type_enum);
            t = tmp;
        }
        L->type = dup_bytes((const uint8_t *)t, strlen(t));
    } else if (s.has_type) {
        L->type = dup_bytes(s.type.buf + s.type.data_offset, s.type.len);
    } else if (v0.has_type) {
        L->type = dup_bytes(v0.type.buf + v0.type.data_offset, v0.type.len);
    } else {
        L->type = dup_bytes(NULL, 0);
    }
    if (!L->name || !L->type)
        return fm_err_set(err, FM_ERR_NOMEM, "layer #%d: out of memory", index);

    size_t nb = s.nblobs + v0.nblobs;
    if (nb > FM_CAFFEMODEL_MAX_LAYER_BLOBS)
        return fm_err_set(err, FM_ERR_LIMIT,
                          "layer #%d '%s': %zu blobs, at most %d (FM_CAFFEMODEL_MAX_LAYER_BLOBS)",
                          index, L->name, nb, FM_CAFFEMODEL_MAX_LAYER_BLOBS);
    if (nb) {
        L->blobs = calloc(nb, sizeof *L->blobs);
        if (!L->blobs)
            return fm_err_set(err, FM_ERR_NOMEM, "layer '%s': cannot allocate %zu blobs", L->name,
                              nb);
    }
    if ((st = decode_blobs(lf, sc->blobs, L, err)) == FM_OK && s.has_v0)
        st = decode_blobs(&s.v0, SCHEMA_V0.blobs, L, err);
    if (st != FM_OK)
        return L->name[0] ? fm_err_prefix(err, "layer '%s' ", L->name)
                          : fm_err_prefix(err, "layer #%d ", index);
    return FM_OK;
}

/* A short guess at what a non-NetParameter file is, for the error message. */
static const char *what_it_looks_like(const uint8_t *buf, size_t len)
{
    if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        return " (the file looks like a JPEG image)";
    if (len >= 4 && buf[0] == 0x89 && buf[1] == 'P' && buf[2] == 'N' && buf[3] == 'G')
        return " (the file looks like a PNG image)";
    size_t n = len < 256 ? len : 256, printable = 0;
    for (size_t i = 0; i < n; i++)
        if ((buf[i] >= 0x20 && buf[i] < 0x7f) || buf[i] == '\n' || buf[i] == '\r' ||
            buf[i] == '\t')
            printable++;
    if (n >= 8 && printable == n)
        return " (the file looks like text, perhaps a .prototxt, not a binary .caffemodel)";
    return "";
}

static void fail_top(fm_err *err, const char *source, const uint8_t *buf, size_t len)
{
    if (!err)
        return;
    const char *hint = what_it_looks_like(buf, len);
    size_t n = strlen(err->msg), h = strlen(hint);
    if (n + h < sizeof err->msg)
        memcpy(err->msg + n, hint, h + 1);
    fm_err_prefix(err, "%s: ", source);
}

fm_caffemodel *fm_caffemodel_decode(const uint8_t *buf, size_t len, const char *source,
                                    fm_err *err)
{
    if (!source)
        source = "caffemodel";
    if (!buf && len) {
        fm_err_set(err, FM_ERR_ARG, "%s: NULL buffer", source);
        return NULL;
    }
    if (len == 0) {
        fm_err_set(err, FM_ERR_FORMAT, "%s: empty file, not a Caffe NetParameter", source);
        return NULL;
    }
    if (len > FM_CAFFEMODEL_MAX_BYTES) {
        fm_err_set(err, FM_ERR_LIMIT, "%s: %zu bytes exceeds the %u-byte limit", source, len,
                   FM_CAFFEMODEL_MAX_BYTES);
        return NULL;
    }

    /* Pass 1: the top-level fields; count layers, find the name. */
    fm_pb_reader r;
    fm_pb_reader_init(&r, buf, len);
    size_t nlayers = 0;
    fm_pb_field name_field = {0};
    int has_name = 0;
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        if (fm_pb_next(&r, &f, err) != FM_OK) {
            if (nlayers)
                fm_err_prefix(err, "after layer #%zu: ", nlayers - 1);
            fail_top(err, source, buf, len);
            return NULL;
        }
        if (f.field == NET_LAYER || f.field == NET_LAYERS_V1 || f.field == NET_NAME) {
            if (f.wire != FM_PB_LEN) {
                wire_mismatch(err, "NetParameter", &f,
                              f.field == NET_NAME ? "name"
                              : f.field == NET_LAYER ? "layer"
                                                     : "layers",
                              "length-delimited");
                fail_top(err, source, buf, len);
                return NULL;
            }
            if (f.field == NET_NAME) {
                name_field = f;
                has_name = 1;
            } else if (++nlayers > FM_CAFFEMODEL_MAX_LAYERS) {
                fm_err_set(err, FM_ERR_LIMIT,
                           "%s: more than %d layers (FM_CAFFEMODEL_MAX_LAYERS), at byte %zu",
                           source, FM_CAFFEMODEL_MAX_LAYERS, f.offset);
                return NULL;
            }
        }
    }
    if (nlayers == 0) {
        fm_err_set(err, FM_ERR_FORMAT,
                   "no layers (neither 'layer' field 100 nor 'layers' field 2): not a Caffe "
                   "NetParameter");
        fail_top(err, source, buf, len);
        return NULL;
    }
    if (nlayers > INT_MAX) {
        fm_err_set(err, FM_ERR_LIMIT, "%s: too many layers", source);
        return NULL;
    }

    fm_caffemodel *m = calloc(1, sizeof *m);
    if (!m || !(m->layers = calloc(nlayers, sizeof *m->layers))) {
        free(m);
        fm_err_set(err, FM_ERR_NOMEM, "%s: cannot allocate %zu layers", source, nlayers);
        return NULL;
    }
    m->nlayers = (int)nlayers;
    if (has_name && !(m->name = dup_bytes(buf + name_field.data_offset, name_field.len))) {
        fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory", source);
        fm_caffemodel_free(m);
        return NULL;
    }

    /* Pass 2: decode each layer. */
    fm_pb_reader_init(&r, buf, len);
    int k = 0;
    while (!fm_pb_at_end(&r) && k < m->nlayers) {
        fm_pb_field f;
        if (fm_pb_next(&r, &f, err) != FM_OK) { /* pass 1 read the same bytes: unreachable */
            fm_err_prefix(err, "%s: ", source);
            fm_caffemodel_free(m);
            return NULL;
        }
        if (f.field != NET_LAYER && f.field != NET_LAYERS_V1)
            continue;
        const layer_schema *sc = f.field == NET_LAYER ? &SCHEMA_V2 : &SCHEMA_V1;
        if (decode_layer(&f, sc, k, &m->layers[k], err) != FM_OK) {
            fm_err_prefix(err, "%s: ", source);
            fm_caffemodel_free(m);
            return NULL;
        }
        k++;
    }
    return m;
}

fm_caffemodel *fm_caffemodel_read(const char *path, fm_err *err)
{
    unsigned char *buf;
    size_t size;
    if (fm_read_file(path, FM_CAFFEMODEL_MAX_BYTES, NULL, &buf, &size, err) != FM_OK)
        return NULL;
    fm_caffemodel *m = fm_caffemodel_decode(buf, size, path, err);
    free(buf);
    return m;
}

const fm_caffe_layer *fm_caffemodel_find(const fm_caffemodel *m, const char *name)
{
    if (!m || !name)
        return NULL;
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].name && strcmp(m->layers[i].name, name) == 0)
            return &m->layers[i];
    return NULL;
}

void fm_caffemodel_free(fm_caffemodel *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nlayers && m->layers; i++) {
        fm_caffe_layer *L = &m->layers[i];
        for (int j = 0; j < L->nblobs && L->blobs; j++)
            free(L->blobs[j].data);
        free(L->blobs);
        free(L->name);
        free(L->type);
    }
    free(m->layers);
    free(m->name);
    free(m);
}

/* ---- encoding ---- */

static fm_status check_blob(const fm_caffe_layer *L, int li, int bi, fm_err *err)
{
    const fm_caffe_blob *b = &L->blobs[bi];
    const char *ln = L->name ? L->name : "";
    if (b->shape.ndim < 1 || b->shape.ndim > FM_MAX_DIMS)
        return fm_err_set(err, FM_ERR_ARG, "layer #%d '%s' blob %d: shape has %d axes (1 to %d)",
                          li, ln, bi, b->shape.ndim, FM_MAX_DIMS);
    size_t n = 1;
    for (int i = 0; i < b->shape.ndim; i++)
        if (b->shape.d[i] <= 0 || !fm_size_mul(n, (size_t)b->shape.d[i], &n))
            return fm_err_set(err, FM_ERR_ARG, "layer #%d '%s' blob %d: invalid shape dim %d",
                              li, ln, bi, b->shape.d[i]);
    if (n != b->count || !b->data) {
        char s[64];
        return fm_err_set(err, FM_ERR_ARG,
                          "layer #%d '%s' blob %d: count %zu%s does not match shape %s (%zu)", li,
                          ln, bi, b->count, b->data ? "" : " (data is NULL)",
                          fm_shape_str(&b->shape, s, sizeof s), n);
    }
    return FM_OK;
}

static size_t shape_payload(const fm_shape *s)
{
    size_t n = 0;
    for (int i = 0; i < s->ndim; i++)
        n += fm_pb_varint_size((uint64_t)s->d[i]);
    return fm_pb_len_field_size(SHAPE_DIM, n);
}

static size_t blob_payload(const fm_caffe_blob *b)
{
    return fm_pb_len_field_size(BLOB_DATA, b->count * 4) +
           fm_pb_len_field_size(BLOB_SHAPE, shape_payload(&b->shape));
}

static size_t str_field_size(uint32_t field, const char *s)
{
    return s ? fm_pb_len_field_size(field, strlen(s)) : 0;
}

fm_status fm_caffemodel_encode(const fm_caffemodel *m, uint8_t **out, size_t *len, fm_err *err)
{
    if (!m || !out || !len || (m->nlayers > 0 && !m->layers) || m->nlayers < 0)
        return fm_err_set(err, FM_ERR_ARG, "caffemodel encode: invalid arguments");
    *out = NULL;
    *len = 0;
    /* Check everything and compute the total size, so the buffer is allocated once. */
    size_t total = str_field_size(NET_NAME, m->name);
    for (int i = 0; i < m->nlayers; i++) {
        const fm_caffe_layer *L = &m->layers[i];
        if (L->nblobs < 0 || (L->nblobs > 0 && !L->blobs))
            return fm_err_set(err, FM_ERR_ARG, "layer #%d: invalid blob list", i);
        size_t lp = str_field_size(1, L->name) + str_field_size(2, L->type);
        for (int j = 0; j < L->nblobs; j++) {
            fm_status st = check_blob(L, i, j, err);
            if (st != FM_OK)
                return st;
            if (L->blobs[j].count > SIZE_MAX / 8)
                return fm_err_set(err, FM_ERR_NOMEM, "layer #%d blob %d: too large", i, j);
            lp += fm_pb_len_field_size(7, blob_payload(&L->blobs[j]));
        }
        total += fm_pb_len_field_size(NET_LAYER, lp);
    }

    fm_pb_writer w;
    fm_pb_writer_init(&w);
    fm_pb_reserve(&w, total);
    if (m->name)
        fm_pb_put_bytes_field(&w, NET_NAME, m->name, strlen(m->name));
    for (int i = 0; i < m->nlayers; i++) {
        const fm_caffe_layer *L = &m->layers[i];
        size_t lp = str_field_size(1, L->name) + str_field_size(2, L->type);
        for (int j = 0; j < L->nblobs; j++)
            lp += fm_pb_len_field_size(7, blob_payload(&L->blobs[j]));
        fm_pb_put_len_header(&w, NET_LAYER, lp);
        if (L->name)
            fm_pb_put_bytes_field(&w, 1, L->name, strlen(L->name));
        if (L->type)
            fm_pb_put_bytes_field(&w, 2, L->type, strlen(L->type));
        for (int j = 0; j < L->nblobs; j++) {
            const fm_caffe_blob *b = &L->blobs[j];
            fm_pb_put_len_header(&w, 7, blob_payload(b));
            fm_pb_put_packed_floats(&w, BLOB_DATA, b->data, b->count);
            int64_t dims[FM_MAX_DIMS];
            for (int d = 0; d < b->shape.ndim; d++)
                dims[d] = b->shape.d[d];
            size_t sp = 0;
            for (int d = 0; d < b->shape.ndim; d++)
                sp += fm_pb_varint_size((uint64_t)dims[d]);
            fm_pb_put_len_header(&w, BLOB_SHAPE, fm_pb_len_field_size(SHAPE_DIM, sp));
            fm_pb_put_packed_int64(&w, SHAPE_DIM, dims, (size_t)b->shape.ndim);
        }
    }
    if (w.status != FM_OK) {
        fm_pb_writer_free(&w);
        return fm_err_set(err, FM_ERR_NOMEM, "caffemodel encode: cannot allocate %zu bytes",
                          total);
    }
    if (w.len != total) { /* the size plan and the writer disagree: a bug here */
        fm_pb_writer_free(&w);
        return fm_err_set(err, FM_ERR_ARG, "caffemodel encode: wrote %zu bytes, planned %zu",
                          w.len, total);
    }
    *out = w.data;
    *len = w.len;
    return FM_OK;
}

fm_status fm_caffemodel_write(const fm_caffemodel *m, const char *path, fm_err *err)
{
    uint8_t *buf;
    size_t len;
    fm_status st = fm_caffemodel_encode(m, &buf, &len, err);
    if (st != FM_OK)
        return st;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return fm_err_set(err, FM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    size_t put = fwrite(buf, 1, len, f);
    int bad = ferror(f);
    free(buf);
    if (fclose(f) != 0 || bad || put != len)
        return fm_err_set(err, FM_ERR_IO, "%s: write failed after %zu of %zu bytes", path, put,
                          len);
    return FM_OK;
}
