/* pbwire.h - protobuf wire format: a bounds-checked reader and a growable writer.
 *
 * Internal to the loaders (src/io/caffemodel.c, src/onnx/onnx_proto.c). The reader walks the
 * fields of one message; a length-delimited field's payload can be walked as
 * a message of its own with fm_pb_sub. Offsets in fields and messages are
 * absolute byte offsets into the buffer given to fm_pb_reader_init, so a
 * nested error still names the file position:
 *
 *     fm_pb_reader r;
 *     fm_pb_reader_init(&r, buf, len);
 *     fm_pb_field f;
 *     while (!fm_pb_at_end(&r)) {
 *         if (fm_pb_next(&r, &f, &err) != FM_OK) return err.status;
 *         if (f.field == 100 && f.wire == FM_PB_LEN) { fm_pb_reader sub = fm_pb_sub(&f); ... }
 *     }
 *
 * Errors read like "truncated at byte 1234: length-delimited field 7 needs
 * 800 bytes, 12 remain" (no file name: the caller prefixes it).
 *
 * The writer appends to a malloc'd buffer; a failed allocation makes it
 * sticky-failed (every later call is a no-op returning FM_ERR_NOMEM), so a
 * caller may check once at the end.
 */
#ifndef FM_PBWIRE_H
#define FM_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Wire types. */
enum {
    FM_PB_VARINT = 0,
    FM_PB_I64 = 1,
    FM_PB_LEN = 2,
    FM_PB_SGROUP = 3, /* deprecated groups: skipped whole, nested up to FM_PB_MAX_GROUP_DEPTH */
    FM_PB_EGROUP = 4,
    FM_PB_I32 = 5
};

#define FM_PB_MAX_FIELD 536870911u /* 2^29 - 1 */
#define FM_PB_MAX_GROUP_DEPTH 32

typedef struct {
    const uint8_t *buf; /* the whole input; offsets are relative to it */
    size_t pos;         /* next byte to read */
    size_t end;         /* end of this message (exclusive) */
} fm_pb_reader;

typedef struct {
    uint32_t field;   /* field number, 1 .. FM_PB_MAX_FIELD */
    int wire;         /* FM_PB_* */
    size_t offset;    /* byte offset of the tag */
    uint64_t u;       /* VARINT value; I32/I64 raw little-endian bits */
    const uint8_t *buf; /* LEN payload and SGROUP body (the whole input, see data_offset) */
    size_t data_offset; /* LEN/SGROUP: offset of the payload */
    size_t len;         /* LEN/SGROUP: payload bytes (a group's body, without its end tag) */
} fm_pb_field;

/* A reader over buf[0, len). */
void fm_pb_reader_init(fm_pb_reader *r, const uint8_t *buf, size_t len);
/* A reader over a LEN (or SGROUP) field's payload, with absolute offsets. */
fm_pb_reader fm_pb_sub(const fm_pb_field *f);
int fm_pb_at_end(const fm_pb_reader *r);
size_t fm_pb_remaining(const fm_pb_reader *r);

/* Reads the next field (tag and value). A LEN payload is bounds-checked but
 * not copied; a group is skipped to its matching end tag. A stray end-group
 * tag, wire types 6 and 7, field number 0, or a varint longer than 10 bytes
 * or overflowing 64 bits are FM_ERR_PARSE with the byte offset. */
fm_status fm_pb_next(fm_pb_reader *r, fm_pb_field *f, fm_err *err);

/* Low-level reads (used by fm_pb_next and for packed payloads). */
fm_status fm_pb_read_varint(fm_pb_reader *r, uint64_t *out, fm_err *err);
fm_status fm_pb_read_fixed32(fm_pb_reader *r, uint32_t *out, fm_err *err);
fm_status fm_pb_read_fixed64(fm_pb_reader *r, uint64_t *out, fm_err *err);

/* Number of varints in a packed payload (each checked to be well formed). */
fm_status fm_pb_count_varints(const fm_pb_field *f, size_t *count, fm_err *err);

/* "varint", "64-bit", "length-delimited", "group", "end-group", "32-bit". */
const char *fm_pb_wire_name(int wire);

/* Little-endian helpers. */
static inline uint32_t fm_pb_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t fm_pb_le64(const uint8_t *p)
{
    return (uint64_t)fm_pb_le32(p) | (uint64_t)fm_pb_le32(p + 4) << 32;
}

/* ---- writer ---- */
typedef struct {
    uint8_t *data;
    size_t len, cap;
    fm_status status; /* FM_OK, or FM_ERR_NOMEM once an allocation failed */
} fm_pb_writer;

void fm_pb_writer_init(fm_pb_writer *w);
void fm_pb_writer_free(fm_pb_writer *w);
/* Makes room for n more bytes. */
fm_status fm_pb_reserve(fm_pb_writer *w, size_t n);

/* Bytes the varint encoding of v takes (1 to 10). */
size_t fm_pb_varint_size(uint64_t v);
/* Bytes a tag takes. */
size_t fm_pb_tag_size(uint32_t field);
/* Bytes a whole LEN field (tag, length, payload) takes; 0 on overflow. */
size_t fm_pb_len_field_size(uint32_t field, size_t payload);

fm_status fm_pb_put_raw(fm_pb_writer *w, const void *p, size_t n);
fm_status fm_pb_put_varint(fm_pb_writer *w, uint64_t v);
fm_status fm_pb_put_tag(fm_pb_writer *w, uint32_t field, int wire);
fm_status fm_pb_put_fixed32(fm_pb_writer *w, uint32_t v);
fm_status fm_pb_put_fixed64(fm_pb_writer *w, uint64_t v);
/* A varint field: tag and value. */
fm_status fm_pb_put_uint_field(fm_pb_writer *w, uint32_t field, uint64_t v);
/* A LEN field: tag, length, bytes. */
fm_status fm_pb_put_bytes_field(fm_pb_writer *w, uint32_t field, const void *p, size_t n);
/* Starts a LEN field whose payload (payload bytes) the caller writes next. */
fm_status fm_pb_put_len_header(fm_pb_writer *w, uint32_t field, size_t payload);
/* A packed repeated float field (little-endian IEEE binary32). */
fm_status fm_pb_put_packed_floats(fm_pb_writer *w, uint32_t field, const float *v, size_t n);
/* A packed repeated varint field (int64 values, negative ones as 10-byte two's complement). */
fm_status fm_pb_put_packed_int64(fm_pb_writer *w, uint32_t field, const int64_t *v, size_t n);

#endif
