/* onnx_proto.c - read an .onnx ModelProto into plain structs (see onnx_proto.h).
 *
 * Field numbers, checked against onnx/onnx.proto:
 *   ModelProto         ir_version=1 producer_name=2 producer_version=3 graph=7 opset_import=8
 *   OperatorSetIdProto domain=1 version=2
 *   GraphProto         node=1 name=2 initializer=5 input=11 output=12 value_info=13 (not read)
 *                      sparse_initializer=15 (refused)
 *   NodeProto          input=1 output=2 name=3 op_type=4 attribute=5 domain=7
 *   AttributeProto     name=1 f=2 i=3 s=4 t=5 g=6 floats=7 ints=8 strings=9 tensors=10
 *                      graphs=11 type=20
 *   TensorProto        dims=1 data_type=2 segment=3 float_data=4 int32_data=5 int64_data=7
 *                      name=8 raw_data=9 external_data=13 data_location=14 (EXTERNAL=1)
 *   ValueInfoProto     name=1 type=2
 *   TypeProto          tensor_type=1 -> Tensor: elem_type=1 shape=2
 *   TensorShapeProto   dim=1 -> Dimension: dim_value=1 dim_param=2
 *
 * Each message is read in two passes over its fields (pbwire's reader): the
 * first checks wire types and counts repeated entries, the second fills
 * exactly sized arrays. Everything is allocated from one arena per model whose
 * total is checked against FM_ONNX_MEM_FACTOR x file size + FM_ONNX_MEM_SLACK
 * at every new chunk, so no count read from the file can make the reader
 * allocate out of proportion to the file.
 *
 * Errors are written through a context stack ("node 'Conv_3' (Conv): ",
 * "attribute 'pads': ") that the parser pushes as it descends.
 */
#include "onnx/onnx_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/pbwire.h"

enum {
    MODEL_IR_VERSION = 1,
    MODEL_PRODUCER_NAME = 2,
    MODEL_PRODUCER_VERSION = 3,
    MODEL_GRAPH = 7,
    MODEL_OPSET_IMPORT = 8,

    OPSET_DOMAIN = 1,
    OPSET_VERSION = 2,

    GRAPH_NODE = 1,
    GRAPH_NAME = 2,
    GRAPH_INITIALIZER = 5,
    GRAPH_INPUT = 11,
    GRAPH_OUTPUT = 12,
    GRAPH_SPARSE_INITIALIZER = 15,

    NODE_INPUT = 1,
    NODE_OUTPUT = 2,
    NODE_NAME = 3,
    NODE_OP_TYPE = 4,
    NODE_ATTRIBUTE = 5,
    NODE_DOMAIN = 7,

    ATTR_NAME = 1,
    ATTR_F = 2,
    ATTR_I = 3,
    ATTR_S = 4,
    ATTR_T = 5,
    ATTR_G = 6,
    ATTR_FLOATS = 7,
    ATTR_INTS = 8,
    ATTR_STRINGS = 9,
    ATTR_TENSORS = 10,
    ATTR_GRAPHS = 11,
    ATTR_TYPE = 20,

    TENSOR_DIMS = 1,
    TENSOR_DATA_TYPE = 2,
    TENSOR_SEGMENT = 3,
    TENSOR_FLOAT_DATA = 4,
    TENSOR_INT32_DATA = 5,
    TENSOR_INT64_DATA = 7,
    TENSOR_NAME = 8,
    TENSOR_RAW_DATA = 9,
    TENSOR_EXTERNAL_DATA = 13,
    TENSOR_DATA_LOCATION = 14,

    VALUE_NAME = 1,
    VALUE_TYPE = 2,
    TYPE_TENSOR = 1,
    TTENSOR_ELEM_TYPE = 1,
    TTENSOR_SHAPE = 2,
    SHAPE_DIM = 1,
    DIM_VALUE = 1,
    DIM_PARAM = 2
};

enum { LOCATION_EXTERNAL = 1 };

#define NO_OFFSET ((size_t)-1)

/* ---- arena ---- */

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
} chunk;

#define ARENA_ALIGN 16
#define CHUNK_HDR ((sizeof(chunk) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))
#define CHUNK_SIZE ((size_t)64 << 10)
#define BIG_ALLOC (CHUNK_SIZE / 4) /* larger requests get a chunk of their own */

typedef struct {
    const char *name;
    int index;
} name_index;

struct fm_onnx_priv {
    chunk *head;        /* the chunk being filled first; dedicated big chunks follow it */
    size_t bytes;       /* malloc'd by the arena, headers included */
    size_t limit;       /* FM_ONNX_MEM_FACTOR x file + FM_ONNX_MEM_SLACK, saturated */
    name_index *by_name; /* initializers sorted by name */
};

/* ---- parser state and errors ---- */

typedef struct {
    const char *src;
    size_t len;
    fm_err *err;
    struct fm_onnx_priv *pv;
    char ctx[320]; /* "node 'Conv_3' (Conv): attribute 'pads': " */
    size_t ctxlen;
} parser;

/* A name as shown in messages: at most 48 bytes, non-printable bytes as '?'. */
static const char *shown(const char *s, char buf[64])
{
    size_t n = 0;
    for (; s[n] && n < 48; n++)
        buf[n] = (s[n] >= 0x20 && s[n] < 0x7f) ? s[n] : '?';
    if (s[n]) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static size_t ctx_push(parser *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static size_t ctx_push(parser *p, const char *fmt, ...)
{
    size_t old = p->ctxlen;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->ctx + old, sizeof p->ctx - old, fmt, ap);
    va_end(ap);
    p->ctxlen = strlen(p->ctx);
    return old;
}

static void ctx_pop(parser *p, size_t old)
{
    p->ctxlen = old;
    p->ctx[old] = '\0';
}

/* "SRC: byte OFF: CONTEXT: message" */
static fm_status fail(parser *p, fm_status st, size_t off, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static fm_status fail(parser *p, fm_status st, size_t off, const char *fmt, ...)
{
    if (!p->err)
        return st;
    char msg[sizeof p->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char where[48] = "";
    if (off != NO_OFFSET)
        snprintf(where, sizeof where, "byte %zu: ", off);
    return fm_err_set(p->err, st, "%s: %s%s%s", p->src, where, p->ctx, msg);
}

/* After a pbwire error ("truncated at byte N: ..."): "SRC: <that> (in CONTEXT)". */
static fm_status wire_fail(parser *p, fm_status st)
{
    if (!p->err)
        return st;
    char msg[sizeof p->err->msg];
    memcpy(msg, p->err->msg, sizeof msg);
    msg[sizeof msg - 1] = '\0';
    size_t n = p->ctxlen;
    while (n > 0 && (p->ctx[n - 1] == ' ' || p->ctx[n - 1] == ':'))
        n--;
    if (n)
        return fm_err_set(p->err, st, "%s: %s (in %.*s)", p->src, msg, (int)n, p->ctx);
    return fm_err_set(p->err, st, "%s: %s", p->src, msg);
}

static fm_status next_field(parser *p, fm_pb_reader *r, fm_pb_field *f)
{
    fm_status st = fm_pb_next(r, f, p->err);
    return st == FM_OK ? FM_OK : wire_fail(p, st);
}

static fm_status want(parser *p, const fm_pb_field *f, int wire, const char *what)
{
    if (f->wire == wire)
        return FM_OK;
    return fail(p, FM_ERR_FORMAT, f->offset, "field %u (%s) has wire type %s, expected %s",
                f->field, what, fm_pb_wire_name(f->wire), fm_pb_wire_name(wire));
}

/* A repeated scalar field: one value (wire `scalar`) or a packed run (length-delimited). */
static fm_status want_packable(parser *p, const fm_pb_field *f, int scalar, const char *what)
{
    if (f->wire == scalar || f->wire == FM_PB_LEN)
        return FM_OK;
    return fail(p, FM_ERR_FORMAT, f->offset,
                "field %u (%s) has wire type %s, expected %s or length-delimited (packed)",
                f->field, what, fm_pb_wire_name(f->wire), fm_pb_wire_name(scalar));
}

/* ---- arena allocation (budget-checked) ---- */

static void arena_free(struct fm_onnx_priv *pv)
{
    chunk *c = pv->head;
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
    pv->head = NULL;
}

static fm_status arena_new_chunk(parser *p, size_t payload, chunk **out)
{
    struct fm_onnx_priv *pv = p->pv;
    size_t total, after;
    if (!fm_size_add(payload, CHUNK_HDR, &total) || !fm_size_add(pv->bytes, total, &after) ||
        after > pv->limit)
        return fail(p, FM_ERR_LIMIT, NO_OFFSET,
                    "the model needs more than %zu bytes of memory for its %zu-byte file (the "
                    "limit is %d x file size + %zu MiB): the file is malformed or hostile",
                    pv->limit, p->len, FM_ONNX_MEM_FACTOR, FM_ONNX_MEM_SLACK >> 20);
    chunk *c = malloc(total);
    if (!c)
        return fail(p, FM_ERR_NOMEM, NO_OFFSET, "cannot allocate %zu bytes", total);
    c->cap = payload;
    c->used = 0;
    c->next = NULL;
    pv->bytes = after;
    *out = c;
    return FM_OK;
}

/* n elements of `size` bytes, zeroed, aligned for any scalar (bytes: unaligned); *out is
 * NULL for n == 0. */
static fm_status arena_alloc(parser *p, size_t n, size_t size, void **out)
{
    *out = NULL;
    size_t bytes;
    if (!fm_size_mul(n, size, &bytes))
        return fail(p, FM_ERR_LIMIT, NO_OFFSET, "%zu x %zu bytes overflows", n, size);
    if (bytes == 0)
        return FM_OK;
    size_t align = size == 1 ? 1 : 8;
    if (bytes > SIZE_MAX - ARENA_ALIGN)
        return fail(p, FM_ERR_LIMIT, NO_OFFSET, "%zu bytes overflows", bytes);
    struct fm_onnx_priv *pv = p->pv;
    chunk *c = pv->head;
    size_t at = c ? (c->used + align - 1) & ~(align - 1) : 0;
    fm_status st;
    if (bytes > BIG_ALLOC) {
        if ((st = arena_new_chunk(p, bytes, &c)) != FM_OK)
            return st;
        if (pv->head) { /* keep the current small-object chunk in front */
            c->next = pv->head->next;
            pv->head->next = c;
        } else {
            pv->head = c;
        }
        at = 0;
    } else if (!c || at > c->cap || c->cap - at < bytes) {
        if ((st = arena_new_chunk(p, CHUNK_SIZE, &c)) != FM_OK)
            return st;
        c->next = pv->head;
        pv->head = c;
        at = 0;
    }
    uint8_t *mem = (uint8_t *)c + CHUNK_HDR + at;
    c->used = at + bytes;
    memset(mem, 0, bytes);
    *out = mem;
    return FM_OK;
}

/* ---- strings ---- */

/* Copies a LEN field's bytes, NUL-terminated; "" (static) when empty. */
static fm_status copy_bytes(parser *p, const fm_pb_field *f, fm_onnx_str *out)
{
    out->s = "";
    out->len = 0;
    if (f->len == 0)
        return FM_OK;
    void *mem;
    fm_status st = arena_alloc(p, f->len + 1, 1, &mem); /* f->len < buffer size: no overflow */
    if (st != FM_OK)
        return st;
    memcpy(mem, f->buf + f->data_offset, f->len);
    out->s = mem;
    out->len = f->len;
    return FM_OK;
}

/* A name: bytes without NULs. */
static fm_status copy_name(parser *p, const fm_pb_field *f, const char *what, const char **out)
{
    *out = "";
    if (!f)
        return FM_OK;
    const uint8_t *s = f->buf + f->data_offset;
    const uint8_t *nul = memchr(s, 0, f->len);
    if (nul)
        return fail(p, FM_ERR_FORMAT, f->offset,
                    "%s contains a NUL byte (at byte %zu of the file); names must be text", what,
                    f->data_offset + (size_t)(nul - s));
    fm_onnx_str str;
    fm_status st = copy_bytes(p, f, &str);
    if (st == FM_OK)
        *out = str.s;
    return st;
}

/* The last length-delimited occurrence of field `want` in a message, found before the full
 * scan so that errors in the message's other fields can name it. A malformed byte ends the
 * peek quietly: the full scan reports it. */
static const fm_pb_field *peek_field(const fm_pb_field *msg, uint32_t want, fm_pb_field *out)
{
    const fm_pb_field *found = NULL;
    fm_pb_reader r = fm_pb_sub(msg);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        if (fm_pb_next(&r, &f, NULL) != FM_OK)
            break;
        if (f.field == want && f.wire == FM_PB_LEN) {
            *out = f;
            found = out;
        }
    }
    return found;
}

/* ---- scalars ---- */

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* An int32 field: protobuf keeps the low 32 bits of the varint. */
static int varint_int32(uint64_t u)
{
    uint32_t lo = (uint32_t)u;
    return lo <= INT32_MAX ? (int)lo : (int)((int64_t)lo - ((int64_t)1 << 32));
}

/* Number of values in one occurrence of a repeated float field (4-byte elements). */
static fm_status count_floats(parser *p, const fm_pb_field *f, const char *what, size_t *n)
{
    if (f->wire != FM_PB_LEN) {
        (*n)++;
        return FM_OK;
    }
    if (f->len % 4)
        return fail(p, FM_ERR_FORMAT, f->offset,
                    "packed %s has %zu bytes, not a multiple of 4 (one float is 4 bytes)", what,
                    f->len);
    *n += f->len / 4;
    return FM_OK;
}

/* Number of values in one occurrence of a repeated varint field. */
static fm_status count_varints(parser *p, const fm_pb_field *f, size_t *n)
{
    if (f->wire != FM_PB_LEN) {
        (*n)++;
        return FM_OK;
    }
    size_t c;
    fm_status st = fm_pb_count_varints(f, &c, p->err);
    if (st != FM_OK)
        return wire_fail(p, st);
    *n += c;
    return FM_OK;
}

/* Appends one occurrence's floats to out[*k ...]; the count pass sized out. */
static void get_floats(const fm_pb_field *f, float *out, size_t *k)
{
    if (f->wire != FM_PB_LEN) {
        out[(*k)++] = bits_to_float((uint32_t)f->u);
        return;
    }
    const uint8_t *q = f->buf + f->data_offset;
    for (size_t j = 0; j + 4 <= f->len; j += 4)
        out[(*k)++] = bits_to_float(fm_pb_le32(q + j));
}

/* Appends one occurrence's varints to out[*k ...], each through `conv`. */
static fm_status get_varints(parser *p, const fm_pb_field *f, int as_int32, int64_t *out,
                             size_t *k)
{
    if (f->wire != FM_PB_LEN) {
        out[(*k)++] = as_int32 ? varint_int32(f->u) : (int64_t)f->u;
        return FM_OK;
    }
    fm_pb_reader r = fm_pb_sub(f);
    while (!fm_pb_at_end(&r)) {
        uint64_t v;
        fm_status st = fm_pb_read_varint(&r, &v, p->err);
        if (st != FM_OK)
            return wire_fail(p, st);
        out[(*k)++] = as_int32 ? varint_int32(v) : (int64_t)v;
    }
    return FM_OK;
}

/* ---- tensors ---- */

typedef struct {
    size_t ndims; /* all seen; more than FM_ONNX_MAX_DIMS is an error */
    int64_t dims[FM_ONNX_MAX_DIMS];
    int data_type;
    int has_float, has_i32, has_i64, has_raw; /* the field occurs (even empty) */
    size_t n_float, n_i32, n_i64;
    fm_pb_field raw;
    int external;
    size_t external_off;
} tensor_scan;

static fm_status scan_dims(parser *p, const fm_pb_field *f, tensor_scan *s)
{
    fm_status st = want_packable(p, f, FM_PB_VARINT, "dims");
    if (st != FM_OK)
        return st;
    int single_done = 0;
    fm_pb_reader r = fm_pb_sub(f); /* empty for a single varint */
    for (;;) {
        uint64_t u;
        if (f->wire == FM_PB_VARINT) {
            if (single_done)
                break;
            single_done = 1;
            u = f->u;
        } else {
            if (fm_pb_at_end(&r))
                break;
            if ((st = fm_pb_read_varint(&r, &u, p->err)) != FM_OK)
                return wire_fail(p, st);
        }
        int64_t v = (int64_t)u;
        if (v < 0)
            return fail(p, FM_ERR_FORMAT, f->offset, "dim %zu is %lld (dims must be >= 0)",
                        s->ndims, (long long)v);
        if (s->ndims < FM_ONNX_MAX_DIMS)
            s->dims[s->ndims] = v;
        s->ndims++;
    }
    return FM_OK;
}

static fm_status scan_tensor(parser *p, const fm_pb_field *tf, tensor_scan *s)
{
    memset(s, 0, sizeof *s);
    fm_pb_reader r = fm_pb_sub(tf);
    fm_status st;
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        if ((st = next_field(p, &r, &f)) != FM_OK)
            return st;
        switch (f.field) {
        case TENSOR_DIMS: st = scan_dims(p, &f, s); break;
        case TENSOR_DATA_TYPE:
            if ((st = want(p, &f, FM_PB_VARINT, "data_type")) == FM_OK)
                s->data_type = varint_int32(f.u);
            break;
        case TENSOR_SEGMENT:
            st = fail(p, FM_ERR_UNSUPPORTED, f.offset,
                      "the tensor is stored in segments (TensorProto field 3): not supported");
            break;
        case TENSOR_FLOAT_DATA:
            if ((st = want_packable(p, &f, FM_PB_I32, "float_data")) == FM_OK)
                st = count_floats(p, &f, "float_data", &s->n_float);
            s->has_float = 1;
            break;
        case TENSOR_INT32_DATA:
            if ((st = want_packable(p, &f, FM_PB_VARINT, "int32_data")) == FM_OK)
                st = count_varints(p, &f, &s->n_i32);
            s->has_i32 = 1;
            break;
        case TENSOR_INT64_DATA:
            if ((st = want_packable(p, &f, FM_PB_VARINT, "int64_data")) == FM_OK)
                st = count_varints(p, &f, &s->n_i64);
            s->has_i64 = 1;
            break;
        case TENSOR_NAME: st = want(p, &f, FM_PB_LEN, "name"); break;
        case TENSOR_RAW_DATA:
            if ((st = want(p, &f, FM_PB_LEN, "raw_data")) == FM_OK) {
                s->has_raw = 1; /* bytes, not repeated: the last one wins */
                s->raw = f;
            }
            break;
        case TENSOR_EXTERNAL_DATA:
            if ((st = want(p, &f, FM_PB_LEN, "external_data")) == FM_OK && !s->external) {
                s->external = 1;
                s->external_off = f.offset;
            }
            break;
        case TENSOR_DATA_LOCATION:
            if ((st = want(p, &f, FM_PB_VARINT, "data_location")) == FM_OK &&
                f.u == LOCATION_EXTERNAL && !s->external) {
                s->external = 1;
                s->external_off = f.offset;
            }
            break;
        default: break; /* string_data, double_data, uint64_data, doc_string, unknown */
        }
        if (st != FM_OK)
            return st;
    }
    return FM_OK;
}

static const char *dims_str(const fm_onnx_tensor *t, char *buf, size_t cap)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "[");
    for (int i = 0; i < t->ndims && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    return buf;
}

/* Decodes the typed data field `field` (float_data/int32_data/int64_data) into out. */
static fm_status gather_typed(parser *p, const fm_pb_field *tf, uint32_t field, void *out)
{
    fm_pb_reader r = fm_pb_sub(tf);
    size_t k = 0;
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        fm_status st = next_field(p, &r, &f);
        if (st != FM_OK)
            return st;
        if (f.field != field)
            continue;
        if (field == TENSOR_FLOAT_DATA)
            get_floats(&f, out, &k);
        else if ((st = get_varints(p, &f, field == TENSOR_INT32_DATA, out, &k)) != FM_OK)
            return st;
    }
    return FM_OK;
}

/* `initializer_index` >= 0: a graph initializer (a name is required); -1: an attribute's. */
static fm_status parse_tensor(parser *p, const fm_pb_field *tf, int initializer_index,
                              fm_onnx_tensor *t)
{
    char nb[64];
    t->offset = tf->offset;
    t->name = "";
    size_t old = p->ctxlen;
    if (initializer_index >= 0)
        ctx_push(p, "initializer #%d: ", initializer_index);
    fm_pb_field nf;
    fm_status st = copy_name(p, peek_field(tf, TENSOR_NAME, &nf), "name", &t->name);
    if (st != FM_OK)
        goto out;
    ctx_pop(p, old);
    if (t->name[0])
        ctx_push(p, "%s '%s': ", initializer_index >= 0 ? "initializer" : "tensor",
                 shown(t->name, nb));
    else if (initializer_index >= 0)
        ctx_push(p, "initializer #%d: ", initializer_index);
    tensor_scan s;
    if ((st = scan_tensor(p, tf, &s)) != FM_OK)
        goto out;
    if (initializer_index >= 0 && !t->name[0]) {
        st = fail(p, FM_ERR_FORMAT, tf->offset, "has no name (TensorProto field 8)");
        goto out;
    }
    if (s.external) {
        ctx_pop(p, old); /* the message names the tensor itself */
        st = fail(p, FM_ERR_UNSUPPORTED, s.external_off,
                  "tensor '%s' uses external data (not supported: the model must be one "
                  "self-contained .onnx file)",
                  shown(t->name, nb));
        goto out;
    }

    if (s.ndims > FM_ONNX_MAX_DIMS) {
        st = fail(p, FM_ERR_LIMIT, tf->offset, "%zu dims, at most %d are supported", s.ndims,
                  FM_ONNX_MAX_DIMS);
        goto out;
    }
    t->ndims = (int)s.ndims;
    t->data_type = s.data_type;
    size_t count = 1;
    int zero = 0;
    for (int i = 0; i < t->ndims; i++) {
        t->dims[i] = s.dims[i];
        zero |= s.dims[i] == 0;
    }
    char ds[200];
    for (int i = 0; i < t->ndims && !zero; i++)
        if ((uint64_t)t->dims[i] != (size_t)t->dims[i] ||
            !fm_size_mul(count, (size_t)t->dims[i], &count)) {
            st = fail(p, FM_ERR_FORMAT, tf->offset, "the product of dims %s overflows",
                      dims_str(t, ds, sizeof ds));
            goto out;
        }
    t->count = zero ? 0 : count;

    /* Which typed field the data type uses; the others must be absent. */
    int dt = t->data_type;
    if (dt != FM_ONNX_DT_FLOAT && dt != FM_ONNX_DT_INT32 && dt != FM_ONNX_DT_INT64)
        goto out; /* recorded without data */
    static const struct {
        uint32_t field;
        const char *name;
    } typed[3] = {{TENSOR_FLOAT_DATA, "float_data"},
                  {TENSOR_INT32_DATA, "int32_data"},
                  {TENSOR_INT64_DATA, "int64_data"}};
    int has[3] = {s.has_float, s.has_i32, s.has_i64};
    size_t n[3] = {s.n_float, s.n_i32, s.n_i64};
    int use = dt == FM_ONNX_DT_FLOAT ? 0 : dt == FM_ONNX_DT_INT32 ? 1 : 2;
    for (int j = 0; j < 3; j++)
        if (j != use && has[j]) {
            st = fail(p, FM_ERR_FORMAT, tf->offset,
                      "has %s (TensorProto field %u), which data_type %s does not use",
                      typed[j].name, typed[j].field, fm_onnx_dtype_name(dt));
            goto out;
        }
    if (s.has_raw && has[use]) {
        st = fail(p, FM_ERR_FORMAT, tf->offset, "has both raw_data and %s (one is allowed)",
                  typed[use].name);
        goto out;
    }
    size_t elem = dt == FM_ONNX_DT_FLOAT || dt == FM_ONNX_DT_INT32 ? 4 : 8;
    size_t have = n[use];
    if (s.has_raw) {
        if (s.raw.len % elem) {
            st = fail(p, FM_ERR_SHAPE, s.raw.offset,
                      "raw_data has %zu bytes, not a multiple of the %zu-byte %s element",
                      s.raw.len, elem, fm_onnx_dtype_name(dt));
            goto out;
        }
        have = s.raw.len / elem;
    }
    if (have != t->count) {
        st = fail(p, FM_ERR_SHAPE, tf->offset, "%s has %zu values but dims %s need %zu",
                  s.has_raw ? "raw_data" : typed[use].name, have, dims_str(t, ds, sizeof ds),
                  t->count);
        goto out;
    }
    if (t->count == 0)
        goto out;
    void *data;
    if ((st = arena_alloc(p, t->count, use == 0 ? sizeof(float) : sizeof(int64_t), &data)) !=
        FM_OK)
        goto out;
    if (use == 0)
        t->f = data;
    else
        t->i64 = data;
    if (s.has_raw) {
        const uint8_t *q = s.raw.buf + s.raw.data_offset;
        for (size_t i = 0; i < t->count; i++) {
            if (use == 0)
                ((float *)data)[i] = bits_to_float(fm_pb_le32(q + 4 * i));
            else if (use == 1)
                ((int64_t *)data)[i] = (int32_t)fm_pb_le32(q + 4 * i);
            else
                ((int64_t *)data)[i] = (int64_t)fm_pb_le64(q + 8 * i);
        }
    } else {
        st = gather_typed(p, tf, typed[use].field, data);
    }
out:
    ctx_pop(p, old);
    return st;
}

/* ---- attributes ---- */

static fm_status parse_attr(parser *p, const fm_pb_field *af, int index, fm_onnx_attr *a)
{
    char nb[64];
    a->offset = af->offset;
    a->name = "";
    a->s.s = "";
    size_t old = ctx_push(p, "attribute #%d: ", index);
    fm_pb_field pn;
    fm_status st = copy_name(p, peek_field(af, ATTR_NAME, &pn), "name", &a->name);
    if (st != FM_OK)
        goto out;
    if (a->name[0]) {
        ctx_pop(p, old);
        ctx_push(p, "attribute '%s': ", shown(a->name, nb));
    }
    int has_name = 0, has_type = 0, has_f = 0, has_i = 0, has_s = 0, has_t = 0;
    int has_floats = 0, has_ints = 0, has_strings = 0, has_g = 0, has_tensors = 0,
        has_graphs = 0;
    fm_pb_field sf = {0}, tf = {0};
    fm_pb_reader r = fm_pb_sub(af);
    while (st == FM_OK && !fm_pb_at_end(&r)) {
        fm_pb_field f;
        if ((st = next_field(p, &r, &f)) != FM_OK)
            break;
        switch (f.field) {
        case ATTR_NAME: has_name = (st = want(p, &f, FM_PB_LEN, "name")) == FM_OK; break;
        case ATTR_TYPE:
            if ((st = want(p, &f, FM_PB_VARINT, "type")) == FM_OK) {
                has_type = 1;
                a->type = varint_int32(f.u);
            }
            break;
        case ATTR_F:
            if ((st = want(p, &f, FM_PB_I32, "f")) == FM_OK) {
                has_f = 1;
                a->f = bits_to_float((uint32_t)f.u);
            }
            break;
        case ATTR_I:
            if ((st = want(p, &f, FM_PB_VARINT, "i")) == FM_OK) {
                has_i = 1;
                a->i = (int64_t)f.u;
            }
            break;
        case ATTR_S:
            if ((st = want(p, &f, FM_PB_LEN, "s")) == FM_OK) {
                has_s = 1;
                sf = f;
            }
            break;
        case ATTR_T:
            if ((st = want(p, &f, FM_PB_LEN, "t")) == FM_OK) {
                has_t = 1;
                tf = f;
            }
            break;
        case ATTR_FLOATS:
            if ((st = want_packable(p, &f, FM_PB_I32, "floats")) == FM_OK)
                st = count_floats(p, &f, "floats", &a->nfloats);
            has_floats = 1;
            break;
        case ATTR_INTS:
            if ((st = want_packable(p, &f, FM_PB_VARINT, "ints")) == FM_OK)
                st = count_varints(p, &f, &a->nints);
            has_ints = 1;
            break;
        case ATTR_STRINGS:
            if ((st = want(p, &f, FM_PB_LEN, "strings")) == FM_OK)
                a->nstrings++;
            has_strings = 1;
            break;
        case ATTR_G: has_g = 1; break;
        case ATTR_TENSORS: has_tensors = 1; break;
        case ATTR_GRAPHS: has_graphs = 1; break;
        default: break; /* doc_string, ref_attr_name, sparse tensors, type protos, unknown */
        }
    }
    if (st != FM_OK)
        goto out;
    if (!has_name || !a->name[0]) {
        st = fail(p, FM_ERR_FORMAT, af->offset, "has no name (AttributeProto field 1)");
        goto out;
    }

    if (!has_type || a->type == FM_ONNX_ATTR_UNDEFINED) /* IR version 1: infer */
        a->type = has_f ? FM_ONNX_ATTR_FLOAT
                : has_i ? FM_ONNX_ATTR_INT
                : has_s ? FM_ONNX_ATTR_STRING
                : has_t ? FM_ONNX_ATTR_TENSOR
                : has_g ? FM_ONNX_ATTR_GRAPH
                : has_floats ? FM_ONNX_ATTR_FLOATS
                : has_ints ? FM_ONNX_ATTR_INTS
                : has_strings ? FM_ONNX_ATTR_STRINGS
                : has_tensors ? FM_ONNX_ATTR_TENSORS
                : has_graphs ? FM_ONNX_ATTR_GRAPHS
                             : FM_ONNX_ATTR_UNDEFINED;

    if (has_s && (st = copy_bytes(p, &sf, &a->s)) != FM_OK)
        goto out;
    if (has_t) {
        void *t;
        if ((st = arena_alloc(p, 1, sizeof(fm_onnx_tensor), &t)) != FM_OK ||
            (st = parse_tensor(p, &tf, -1, t)) != FM_OK)
            goto out;
        a->t = t;
    }
    void *fl, *in, *ss;
    if ((st = arena_alloc(p, a->nfloats, sizeof(float), &fl)) != FM_OK ||
        (st = arena_alloc(p, a->nints, sizeof(int64_t), &in)) != FM_OK ||
        (st = arena_alloc(p, a->nstrings, sizeof(fm_onnx_str), &ss)) != FM_OK)
        goto out;
    a->floats = fl;
    a->ints = in;
    a->strings = ss;
    if (!has_floats && !has_ints && !has_strings)
        goto out;
    size_t kf = 0, ki = 0, ks = 0;
    r = fm_pb_sub(af);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        if ((st = next_field(p, &r, &f)) != FM_OK)
            goto out;
        if (f.field == ATTR_FLOATS)
            get_floats(&f, fl, &kf);
        else if (f.field == ATTR_INTS && (st = get_varints(p, &f, 0, in, &ki)) != FM_OK)
            goto out;
        else if (f.field == ATTR_STRINGS &&
                 (st = copy_bytes(p, &f, &((fm_onnx_str *)ss)[ks++])) != FM_OK)
            goto out;
    }
out:
    ctx_pop(p, old);
    return st;
}

/* ---- nodes ---- */

static fm_status parse_node(parser *p, const fm_pb_field *nf, int index, fm_onnx_node *n)
{
    char nb[64], ob[64];
    n->offset = nf->offset;
    size_t old = ctx_push(p, "node #%d: ", index);
    fm_pb_field pn, po;
    fm_status st;
    if ((st = copy_name(p, peek_field(nf, NODE_NAME, &pn), "name", &n->name)) != FM_OK ||
        (st = copy_name(p, peek_field(nf, NODE_OP_TYPE, &po), "op_type", &n->op_type)) != FM_OK)
        goto out;
    ctx_pop(p, old);
    if (n->name[0] && n->op_type[0])
        ctx_push(p, "node '%s' (%s): ", shown(n->name, nb), shown(n->op_type, ob));
    else if (n->name[0])
        ctx_push(p, "node '%s': ", shown(n->name, nb));
    else if (n->op_type[0])
        ctx_push(p, "node #%d (%s): ", index, shown(n->op_type, ob));
    else
        ctx_push(p, "node #%d: ", index);
    size_t nin = 0, nout = 0, nattr = 0;
    const fm_pb_field *fdom = NULL;
    fm_pb_field dom;
    fm_pb_reader r = fm_pb_sub(nf);
    while (st == FM_OK && !fm_pb_at_end(&r)) {
        fm_pb_field f;
        if ((st = next_field(p, &r, &f)) != FM_OK)
            break;
        switch (f.field) {
        case NODE_INPUT:
            if ((st = want(p, &f, FM_PB_LEN, "input")) == FM_OK)
                nin++;
            break;
        case NODE_OUTPUT:
            if ((st = want(p, &f, FM_PB_LEN, "output")) == FM_OK)
                nout++;
            break;
        case NODE_ATTRIBUTE:
            if ((st = want(p, &f, FM_PB_LEN, "attribute")) == FM_OK)
                nattr++;
            break;
        case NODE_NAME: st = want(p, &f, FM_PB_LEN, "name"); break;
        case NODE_OP_TYPE: st = want(p, &f, FM_PB_LEN, "op_type"); break;
        case NODE_DOMAIN:
            if ((st = want(p, &f, FM_PB_LEN, "domain")) == FM_OK)
                dom = f, fdom = &dom;
            break;
        default: break; /* doc_string, unknown */
        }
    }
    if (st != FM_OK || (st = copy_name(p, fdom, "domain", &n->domain)) != FM_OK)
        goto out;
    if (!n->op_type[0]) {
        st = fail(p, FM_ERR_FORMAT, nf->offset, "has no op_type (NodeProto field 4)");
        goto out;
    }
    if (nin > FM_ONNX_MAX_NODE_IO || nout > FM_ONNX_MAX_NODE_IO) {
        st = fail(p, FM_ERR_LIMIT, nf->offset,
                  "%zu inputs and %zu outputs, at most %d each (FM_ONNX_MAX_NODE_IO)", nin, nout,
                  FM_ONNX_MAX_NODE_IO);
        goto out;
    }
    if (nattr > FM_ONNX_MAX_ATTRS) {
        st = fail(p, FM_ERR_LIMIT, nf->offset,
                  "%zu attributes, at most %d are allowed (FM_ONNX_MAX_ATTRS)", nattr,
                  FM_ONNX_MAX_ATTRS);
        goto out;
    }
    void *ins, *outs, *attrs;
    if ((st = arena_alloc(p, nin, sizeof(char *), &ins)) != FM_OK ||
        (st = arena_alloc(p, nout, sizeof(char *), &outs)) != FM_OK ||
        (st = arena_alloc(p, nattr, sizeof(fm_onnx_attr), &attrs)) != FM_OK)
        goto out;
    n->inputs = ins;
    n->outputs = outs;
    n->attrs = attrs;
    r = fm_pb_sub(nf);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        if ((st = next_field(p, &r, &f)) != FM_OK)
            goto out;
        char what[48];
        if (f.field == NODE_INPUT) {
            snprintf(what, sizeof what, "input #%d", n->ninputs);
            st = copy_name(p, &f, what, &n->inputs[n->ninputs++]);
        } else if (f.field == NODE_OUTPUT) {
            snprintf(what, sizeof what, "output #%d", n->noutputs);
            st = copy_name(p, &f, what, &n->outputs[n->noutputs++]);
        } else if (f.field == NODE_ATTRIBUTE) {
            st = parse_attr(p, &f, n->nattrs, &((fm_onnx_attr *)attrs)[n->nattrs]);
            n->nattrs++;
        }
        if (st != FM_OK)
            goto out;
    }
out:
    ctx_pop(p, old);
    return st;
}

/* ---- graph inputs and outputs ---- */

static fm_status parse_shape(parser *p, const fm_pb_field *sf, fm_onnx_value *v)
{
    v->has_shape = 1;
    size_t nd = 0;
    fm_pb_reader r = fm_pb_sub(sf);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        fm_status st = next_field(p, &r, &f);
        if (st != FM_OK)
            return st;
        if (f.field != SHAPE_DIM)
            continue;
        if ((st = want(p, &f, FM_PB_LEN, "shape dim")) != FM_OK)
            return st;
        int64_t d = -1; /* absent or symbolic */
        fm_pb_reader dr = fm_pb_sub(&f);
        while (!fm_pb_at_end(&dr)) {
            fm_pb_field g;
            if ((st = next_field(p, &dr, &g)) != FM_OK)
                return st;
            if (g.field == DIM_VALUE) {
                if ((st = want(p, &g, FM_PB_VARINT, "dim_value")) != FM_OK)
                    return st;
                d = (int64_t)g.u < 0 ? -1 : (int64_t)g.u; /* a negative hint: unknown */
            } else if (g.field == DIM_PARAM) {
                if ((st = want(p, &g, FM_PB_LEN, "dim_param")) != FM_OK)
                    return st;
                d = -1; /* oneof: the last one wins */
            }
        }
        if (nd >= FM_ONNX_MAX_DIMS)
            return fail(p, FM_ERR_LIMIT, f.offset, "more than %d dims are not supported",
                        FM_ONNX_MAX_DIMS);
        v->dims[nd++] = d;
    }
    v->ndims = (int)nd;
    return FM_OK;
}

static fm_status parse_type(parser *p, const fm_pb_field *tf, fm_onnx_value *v)
{
    fm_pb_reader r = fm_pb_sub(tf);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        fm_status st = next_field(p, &r, &f);
        if (st != FM_OK)
            return st;
        if (f.field != TYPE_TENSOR)
            continue; /* sequence, map, optional, sparse types: not a tensor, elem_type 0 */
        if ((st = want(p, &f, FM_PB_LEN, "tensor_type")) != FM_OK)
            return st;
        v->elem_type = 0;
        v->has_shape = 0;
        v->ndims = 0;
        fm_pb_reader tr = fm_pb_sub(&f);
        while (!fm_pb_at_end(&tr)) {
            fm_pb_field g;
            if ((st = next_field(p, &tr, &g)) != FM_OK)
                return st;
            if (g.field == TTENSOR_ELEM_TYPE) {
                if ((st = want(p, &g, FM_PB_VARINT, "elem_type")) != FM_OK)
                    return st;
                v->elem_type = varint_int32(g.u);
            } else if (g.field == TTENSOR_SHAPE) {
                if ((st = want(p, &g, FM_PB_LEN, "shape")) != FM_OK ||
                    (st = parse_shape(p, &g, v)) != FM_OK)
                    return st;
            }
        }
    }
    return FM_OK;
}

static fm_status parse_value(parser *p, const fm_pb_field *vf, const char *role, int index,
                             fm_onnx_value *v)
{
    char nb[64];
    v->offset = vf->offset;
    size_t old = ctx_push(p, "%s #%d: ", role, index);
    fm_pb_field pn;
    fm_status st = copy_name(p, peek_field(vf, VALUE_NAME, &pn), "name", &v->name);
    if (st != FM_OK)
        goto out;
    if (v->name[0]) {
        ctx_pop(p, old);
        ctx_push(p, "%s '%s': ", role, shown(v->name, nb));
    }
    const fm_pb_field *ftype = NULL;
    fm_pb_field type;
    fm_pb_reader r = fm_pb_sub(vf);
    while (st == FM_OK && !fm_pb_at_end(&r)) {
        fm_pb_field f;
        if ((st = next_field(p, &r, &f)) != FM_OK)
            break;
        if (f.field == VALUE_NAME)
            st = want(p, &f, FM_PB_LEN, "name");
        else if (f.field == VALUE_TYPE && (st = want(p, &f, FM_PB_LEN, "type")) == FM_OK)
            type = f, ftype = &type;
    }
    if (st != FM_OK)
        goto out;
    if (!v->name[0]) {
        st = fail(p, FM_ERR_FORMAT, vf->offset, "has no name (ValueInfoProto field 1)");
        goto out;
    }
    if (ftype)
        st = parse_type(p, ftype, v);
out:
    ctx_pop(p, old);
    return st;
}

/* ---- graph ---- */

static int cmp_name_index(const void *a, const void *b)
{
    const name_index *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static fm_status check_cap(parser *p, size_t n, int cap, const char *what, const char *macro)
{
    if (n <= (size_t)cap)
        return FM_OK;
    return fail(p, FM_ERR_LIMIT, NO_OFFSET, "the graph has %zu %s, more than the %d allowed (%s)",
                n, what, cap, macro);
}

static fm_status parse_graph(parser *p, const fm_pb_field *gf, fm_onnx_graph *g)
{
    size_t nnodes = 0, ninit = 0, nin = 0, nout = 0;
    const fm_pb_field *fname = NULL;
    fm_pb_field name;
    fm_status st = FM_OK;
    fm_pb_reader r = fm_pb_sub(gf);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        if ((st = next_field(p, &r, &f)) != FM_OK)
            return st;
        switch (f.field) {
        case GRAPH_NODE: st = want(p, &f, FM_PB_LEN, "node"), nnodes++; break;
        case GRAPH_INITIALIZER: st = want(p, &f, FM_PB_LEN, "initializer"), ninit++; break;
        case GRAPH_INPUT: st = want(p, &f, FM_PB_LEN, "input"), nin++; break;
        case GRAPH_OUTPUT: st = want(p, &f, FM_PB_LEN, "output"), nout++; break;
        case GRAPH_NAME:
            if ((st = want(p, &f, FM_PB_LEN, "graph name")) == FM_OK)
                name = f, fname = &name;
            break;
        case GRAPH_SPARSE_INITIALIZER:
            st = fail(p, FM_ERR_UNSUPPORTED, f.offset,
                      "the graph has a sparse_initializer (GraphProto field 15): sparse "
                      "initializers are not supported");
            break;
        default: break; /* doc_string, value_info, quantization_annotation, unknown */
        }
        if (st != FM_OK)
            return st;
    }
    if ((st = check_cap(p, nnodes, FM_ONNX_MAX_NODES, "nodes", "FM_ONNX_MAX_NODES")) != FM_OK ||
        (st = check_cap(p, ninit, FM_ONNX_MAX_INITIALIZERS, "initializers",
                        "FM_ONNX_MAX_INITIALIZERS")) != FM_OK ||
        (st = check_cap(p, nin, FM_ONNX_MAX_VALUES, "inputs", "FM_ONNX_MAX_VALUES")) != FM_OK ||
        (st = check_cap(p, nout, FM_ONNX_MAX_VALUES, "outputs", "FM_ONNX_MAX_VALUES")) != FM_OK)
        return st;
    if ((st = copy_name(p, fname, "graph name", &g->name)) != FM_OK)
        return st;
    void *nodes, *inits, *ins, *outs;
    if ((st = arena_alloc(p, nnodes, sizeof(fm_onnx_node), &nodes)) != FM_OK ||
        (st = arena_alloc(p, ninit, sizeof(fm_onnx_tensor), &inits)) != FM_OK ||
        (st = arena_alloc(p, nin, sizeof(fm_onnx_value), &ins)) != FM_OK ||
        (st = arena_alloc(p, nout, sizeof(fm_onnx_value), &outs)) != FM_OK)
        return st;
    g->nodes = nodes;
    g->initializers = inits;
    g->inputs = ins;
    g->outputs = outs;

    r = fm_pb_sub(gf);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        if ((st = next_field(p, &r, &f)) != FM_OK)
            return st;
        switch (f.field) {
        case GRAPH_NODE:
            st = parse_node(p, &f, g->nnodes, &((fm_onnx_node *)nodes)[g->nnodes]);
            g->nnodes++;
            break;
        case GRAPH_INITIALIZER:
            st = parse_tensor(p, &f, g->ninitializers,
                              &((fm_onnx_tensor *)inits)[g->ninitializers]);
            g->ninitializers++;
            break;
        case GRAPH_INPUT:
            st = parse_value(p, &f, "graph input", g->ninputs,
                             &((fm_onnx_value *)ins)[g->ninputs]);
            g->ninputs++;
            break;
        case GRAPH_OUTPUT:
            st = parse_value(p, &f, "graph output", g->noutputs,
                             &((fm_onnx_value *)outs)[g->noutputs]);
            g->noutputs++;
            break;
        default: break;
        }
        if (st != FM_OK)
            return st;
    }

    /* The name index, and distinct names. */
    void *idx;
    if ((st = arena_alloc(p, (size_t)g->ninitializers, sizeof(name_index), &idx)) != FM_OK)
        return st;
    name_index *ni = idx;
    for (int i = 0; i < g->ninitializers; i++) {
        ni[i].name = g->initializers[i].name;
        ni[i].index = i;
    }
    if (g->ninitializers > 1)
        qsort(ni, (size_t)g->ninitializers, sizeof *ni, cmp_name_index);
    for (int i = 1; i < g->ninitializers; i++)
        if (strcmp(ni[i - 1].name, ni[i].name) == 0) {
            char nb[64];
            const fm_onnx_tensor *a = &g->initializers[ni[i - 1].index];
            const fm_onnx_tensor *b = &g->initializers[ni[i].index];
            return fail(p, FM_ERR_FORMAT, b->offset,
                        "initializer '%s' appears twice (initializers #%d at byte %zu and #%d); "
                        "names must be distinct",
                        shown(b->name, nb), ni[i - 1].index, a->offset, ni[i].index);
        }
    p->pv->by_name = ni;
    return FM_OK;
}

/* ---- model ---- */

static int is_default_domain(const char *d)
{
    return d[0] == '\0' || strcmp(d, "ai.onnx") == 0;
}

static fm_status parse_opset(parser *p, const fm_pb_field *of, int index, fm_onnx_opset *o)
{
    size_t old = ctx_push(p, "opset_import #%d: ", index);
    const fm_pb_field *fdom = NULL;
    fm_pb_field dom;
    fm_status st = FM_OK;
    fm_pb_reader r = fm_pb_sub(of);
    while (st == FM_OK && !fm_pb_at_end(&r)) {
        fm_pb_field f;
        if ((st = next_field(p, &r, &f)) != FM_OK)
            break;
        if (f.field == OPSET_DOMAIN && (st = want(p, &f, FM_PB_LEN, "domain")) == FM_OK)
            dom = f, fdom = &dom;
        else if (f.field == OPSET_VERSION && (st = want(p, &f, FM_PB_VARINT, "version")) == FM_OK)
            o->version = (int64_t)f.u;
    }
    if (st == FM_OK)
        st = copy_name(p, fdom, "domain", &o->domain);
    ctx_pop(p, old);
    return st;
}

static fm_status parse_model(parser *p, const uint8_t *buf, size_t len, fm_onnx_model *m)
{
    fm_pb_reader r;
    fm_pb_reader_init(&r, buf, len);
    size_t nopsets = 0;
    int has_graph = 0;
    fm_pb_field graph = {0};
    const fm_pb_field *fprod = NULL, *fver = NULL;
    fm_pb_field prod, ver;
    fm_status st;
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        if ((st = next_field(p, &r, &f)) != FM_OK)
            return st;
        switch (f.field) {
        case MODEL_IR_VERSION:
            if ((st = want(p, &f, FM_PB_VARINT, "ir_version")) == FM_OK)
                m->ir_version = (int64_t)f.u;
            break;
        case MODEL_PRODUCER_NAME:
            if ((st = want(p, &f, FM_PB_LEN, "producer_name")) == FM_OK)
                prod = f, fprod = &prod;
            break;
        case MODEL_PRODUCER_VERSION:
            if ((st = want(p, &f, FM_PB_LEN, "producer_version")) == FM_OK)
                ver = f, fver = &ver;
            break;
        case MODEL_GRAPH:
            if ((st = want(p, &f, FM_PB_LEN, "graph")) != FM_OK)
                break;
            if (has_graph)
                st = fail(p, FM_ERR_UNSUPPORTED, f.offset,
                          "a second graph (ModelProto field 7; the first is at byte %zu): "
                          "merging graphs is not supported",
                          graph.offset);
            has_graph = 1;
            graph = f;
            break;
        case MODEL_OPSET_IMPORT:
            if ((st = want(p, &f, FM_PB_LEN, "opset_import")) == FM_OK)
                nopsets++;
            break;
        default: break; /* domain, model_version, doc_string, metadata, functions, unknown */
        }
        if (st != FM_OK)
            return st;
    }
    if (!has_graph)
        return fail(p, FM_ERR_FORMAT, NO_OFFSET,
                    "no graph (ModelProto field 7): not an ONNX model, or the file is cut short");
    if (nopsets == 0)
        return fail(p, FM_ERR_FORMAT, NO_OFFSET,
                    "no opset_import (ModelProto field 8): the model does not say which "
                    "operator set it uses, or the file is cut short");
    if (nopsets > FM_ONNX_MAX_OPSETS)
        return fail(p, FM_ERR_LIMIT, NO_OFFSET,
                    "%zu opset_import entries, more than the %d allowed (FM_ONNX_MAX_OPSETS)",
                    nopsets, FM_ONNX_MAX_OPSETS);
    if ((st = copy_name(p, fprod, "producer_name", &m->producer_name)) != FM_OK ||
        (st = copy_name(p, fver, "producer_version", &m->producer_version)) != FM_OK)
        return st;
    void *ops;
    if ((st = arena_alloc(p, nopsets, sizeof(fm_onnx_opset), &ops)) != FM_OK)
        return st;
    m->opsets = ops;
    fm_pb_reader_init(&r, buf, len);
    while (!fm_pb_at_end(&r)) {
        fm_pb_field f;
        if ((st = next_field(p, &r, &f)) != FM_OK)
            return st;
        if (f.field != MODEL_OPSET_IMPORT)
            continue;
        fm_onnx_opset *o = &((fm_onnx_opset *)ops)[m->nopsets];
        if ((st = parse_opset(p, &f, m->nopsets, o)) != FM_OK)
            return st;
        m->nopsets++;
        if (is_default_domain(o->domain) && o->version > m->opset)
            m->opset = o->version;
    }
    return parse_graph(p, &graph, &m->graph);
}

fm_onnx_model *fm_onnx_parse(const uint8_t *buf, size_t len, const char *name_for_messages,
                             fm_err *err)
{
    const char *src = name_for_messages ? name_for_messages : "onnx";
    if (!buf && len) {
        fm_err_set(err, FM_ERR_ARG, "%s: NULL buffer", src);
        return NULL;
    }
    if (len == 0) {
        fm_err_set(err, FM_ERR_FORMAT, "%s: empty file, expected an ONNX model", src);
        return NULL;
    }
    if (len > FM_ONNX_MAX_BYTES) {
        fm_err_set(err, FM_ERR_LIMIT, "%s: %zu bytes exceeds the %u-byte limit (FM_ONNX_MAX_BYTES)",
                   src, len, FM_ONNX_MAX_BYTES);
        return NULL;
    }
    fm_onnx_model *m = calloc(1, sizeof *m);
    struct fm_onnx_priv *pv = calloc(1, sizeof *pv);
    if (!m || !pv) {
        free(m);
        free(pv);
        fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory", src);
        return NULL;
    }
    m->priv = pv;
    m->producer_name = m->producer_version = m->graph.name = "";
    size_t lim;
    if (!fm_size_mul(len, FM_ONNX_MEM_FACTOR, &lim) || !fm_size_add(lim, FM_ONNX_MEM_SLACK, &lim))
        lim = SIZE_MAX;
    pv->limit = lim;
    parser p;
    memset(&p, 0, sizeof p);
    p.src = src;
    p.len = len;
    p.err = err;
    p.pv = pv;
    if (parse_model(&p, buf, len, m) != FM_OK) {
        fm_onnx_free(m);
        return NULL;
    }
    return m;
}

fm_onnx_model *fm_onnx_read(const char *path, fm_err *err)
{
    unsigned char *buf;
    size_t size;
    if (fm_read_file(path, FM_ONNX_MAX_BYTES, "an ONNX model", &buf, &size, err) != FM_OK)
        return NULL;
    fm_onnx_model *m = fm_onnx_parse(buf, size, path, err);
    free(buf);
    return m;
}

void fm_onnx_free(fm_onnx_model *m)
{
    if (!m)
        return;
    if (m->priv) {
        arena_free(m->priv);
        free(m->priv);
    }
    free(m);
}

const fm_onnx_tensor *fm_onnx_initializer(const fm_onnx_model *m, const char *name)
{
    if (!m || !name || !m->priv || !m->priv->by_name)
        return NULL;
    const name_index *ni = m->priv->by_name;
    int lo = 0, hi = m->graph.ninitializers; /* [lo, hi) */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, ni[mid].name);
        if (c == 0)
            return &m->graph.initializers[ni[mid].index];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const fm_onnx_attr *fm_onnx_node_attr(const fm_onnx_node *n, const char *name)
{
    if (!n || !name)
        return NULL;
    for (int i = 0; i < n->nattrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

size_t fm_onnx_model_bytes(const fm_onnx_model *m)
{
    if (!m)
        return 0;
    return sizeof *m + (m->priv ? sizeof *m->priv + m->priv->bytes : 0);
}

const char *fm_onnx_dtype_name(int dt)
{
    static const char *names[] = {"UNDEFINED", "FLOAT",  "UINT8",     "INT8",       "UINT16",
                                  "INT16",     "INT32",  "INT64",     "STRING",     "BOOL",
                                  "FLOAT16",   "DOUBLE", "UINT32",    "UINT64",     "COMPLEX64",
                                  "COMPLEX128", "BFLOAT16"};
    return dt >= 0 && dt < (int)(sizeof names / sizeof *names) ? names[dt] : "?";
}

const char *fm_onnx_attr_type_name(int type)
{
    static const char *names[] = {"UNDEFINED", "FLOAT",   "INT",     "STRING",  "TENSOR",
                                  "GRAPH",     "FLOATS",  "INTS",    "STRINGS", "TENSORS",
                                  "GRAPHS",    "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO",
                                  "TYPE_PROTOS"};
    return type >= 0 && type < (int)(sizeof names / sizeof *names) ? names[type] : "?";
}
