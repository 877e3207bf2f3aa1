/* pbwire.c - protobuf wire-format reader and writer (see pbwire.h). */
#include "core/pbwire.h"

#include <stdlib.h>
#include <string.h>

void fm_pb_reader_init(fm_pb_reader *r, const uint8_t *buf, size_t len)
{
    r->buf = buf;
    r->pos = 0;
    r->end = buf ? len : 0;
}

fm_pb_reader fm_pb_sub(const fm_pb_field *f)
{
    fm_pb_reader r;
    r.buf = f->buf;
    r.pos = f->data_offset;
    r.end = f->data_offset + f->len;
    return r;
}

int fm_pb_at_end(const fm_pb_reader *r)
{
    return r->pos >= r->end;
}

size_t fm_pb_remaining(const fm_pb_reader *r)
{
    return r->pos < r->end ? r->end - r->pos : 0;
}

const char *fm_pb_wire_name(int wire)
{
    switch (wire) {
    case FM_PB_VARINT: return "varint";
    case FM_PB_I64: return "64-bit";
    case FM_PB_LEN: return "length-delimited";
    case FM_PB_SGROUP: return "group";
    case FM_PB_EGROUP: return "end-group";
    case FM_PB_I32: return "32-bit";
    }
    return "invalid";
}

fm_status fm_pb_read_varint(fm_pb_reader *r, uint64_t *out, fm_err *err)
{
    size_t start = r->pos;
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (r->pos >= r->end)
            return fm_err_set(err, FM_ERR_PARSE,
                              "truncated at byte %zu: varint starting at byte %zu is cut off",
                              r->pos, start);
        uint8_t b = r->buf[r->pos++];
        if (i == 9 && b > 1)
            return fm_err_set(err, FM_ERR_PARSE,
                              "malformed varint at byte %zu: more than 64 bits", start);
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return FM_OK;
        }
    }
    return fm_err_set(err, FM_ERR_PARSE, "malformed varint at byte %zu: longer than 10 bytes",
                      start);
}

static fm_status need(const fm_pb_reader *r, size_t n, const char *what, size_t tag_off,
                      uint32_t field, fm_err *err)
{
    size_t left = fm_pb_remaining(r);
    if (n > left)
        return fm_err_set(err, FM_ERR_PARSE,
                          "truncated at byte %zu: %s field %u (tag at byte %zu) needs %zu bytes, "
                          "%zu remain",
                          r->pos, what, field, tag_off, n, left);
    return FM_OK;
}

fm_status fm_pb_read_fixed32(fm_pb_reader *r, uint32_t *out, fm_err *err)
{
    if (fm_pb_remaining(r) < 4)
        return fm_err_set(err, FM_ERR_PARSE,
                          "truncated at byte %zu: 32-bit value needs 4 bytes, %zu remain", r->pos,
                          fm_pb_remaining(r));
    *out = fm_pb_le32(r->buf + r->pos);
    r->pos += 4;
    return FM_OK;
}

fm_status fm_pb_read_fixed64(fm_pb_reader *r, uint64_t *out, fm_err *err)
{
    if (fm_pb_remaining(r) < 8)
        return fm_err_set(err, FM_ERR_PARSE,
                          "truncated at byte %zu: 64-bit value needs 8 bytes, %zu remain", r->pos,
                          fm_pb_remaining(r));
    *out = fm_pb_le64(r->buf + r->pos);
    r->pos += 8;
    return FM_OK;
}

/* Reads a tag; checks the field number and wire type. */
static fm_status read_tag(fm_pb_reader *r, uint32_t *field, int *wire, fm_err *err)
{
    size_t off = r->pos;
    uint64_t tag;
    fm_status st = fm_pb_read_varint(r, &tag, err);
    if (st != FM_OK)
        return st;
    uint64_t num = tag >> 3;
    int w = (int)(tag & 7);
    if (w == 6 || w == 7)
        return fm_err_set(err, FM_ERR_PARSE, "invalid wire type %d in tag at byte %zu (field %llu)",
                          w, off, (unsigned long long)num);
    if (num == 0 || num > FM_PB_MAX_FIELD)
        return fm_err_set(err, FM_ERR_PARSE, "invalid field number %llu in tag at byte %zu",
                          (unsigned long long)num, off);
    *field = (uint32_t)num;
    *wire = w;
    return FM_OK;
}

/* Skips a value of a non-group wire type. */
static fm_status skip_value(fm_pb_reader *r, uint32_t field, int wire, size_t tag_off, fm_err *err)
{
    uint64_t v;
    fm_status st;
    switch (wire) {
    case FM_PB_VARINT: return fm_pb_read_varint(r, &v, err);
    case FM_PB_I64:
        if ((st = need(r, 8, "64-bit", tag_off, field, err)) != FM_OK)
            return st;
        r->pos += 8;
        return FM_OK;
    case FM_PB_I32:
        if ((st = need(r, 4, "32-bit", tag_off, field, err)) != FM_OK)
            return st;
        r->pos += 4;
        return FM_OK;
    case FM_PB_LEN:
        if ((st = fm_pb_read_varint(r, &v, err)) != FM_OK)
            return st;
        if (v > fm_pb_remaining(r))
            return fm_err_set(err, FM_ERR_PARSE,
                              "truncated at byte %zu: length-delimited field %u needs %llu bytes, "
                              "%zu remain",
                              r->pos, field, (unsigned long long)v, fm_pb_remaining(r));
        r->pos += (size_t)v;
        return FM_OK;
    }
    return fm_err_set(err, FM_ERR_PARSE, "invalid wire type %d at byte %zu", wire, tag_off);
}

/* Skips a group body after its start tag; on success r->pos is just past
 * the matching end tag and *body_end where that end tag starts. */
static fm_status skip_group(fm_pb_reader *r, uint32_t field, size_t tag_off, size_t *body_end,
                            fm_err *err)
{
    uint32_t stack[FM_PB_MAX_GROUP_DEPTH];
    int depth = 0;
    stack[depth++] = field;
    for (;;) {
        if (fm_pb_at_end(r))
            return fm_err_set(err, FM_ERR_PARSE,
                              "truncated at byte %zu: group field %u (started at byte %zu) has no "
                              "end-group tag",
                              r->pos, stack[depth - 1], tag_off);
        size_t off = r->pos;
        uint32_t f;
        int w;
        fm_status st = read_tag(r, &f, &w, err);
        if (st != FM_OK)
            return st;
        if (w == FM_PB_EGROUP) {
            if (f != stack[depth - 1])
                return fm_err_set(err, FM_ERR_PARSE,
                                  "malformed group at byte %zu: end-group tag for field %u, "
                                  "expected field %u",
                                  off, f, stack[depth - 1]);
            if (--depth == 0) {
                *body_end = off;
                return FM_OK;
            }
        } else if (w == FM_PB_SGROUP) {
            if (depth >= FM_PB_MAX_GROUP_DEPTH)
                return fm_err_set(err, FM_ERR_LIMIT,
                                  "groups nested deeper than %d at byte %zu",
                                  FM_PB_MAX_GROUP_DEPTH, off);
            stack[depth++] = f;
        } else if ((st = skip_value(r, f, w, off, err)) != FM_OK) {
            return st;
        }
    }
}

fm_status fm_pb_next(fm_pb_reader *r, fm_pb_field *f, fm_err *err)
{
    memset(f, 0, sizeof *f);
    f->buf = r->buf;
    f->offset = r->pos;
    fm_status st = read_tag(r, &f->field, &f->wire, err);
    if (st != FM_OK)
        return st;
    switch (f->wire) {
    case FM_PB_VARINT: return fm_pb_read_varint(r, &f->u, err);
    case FM_PB_I64:
        if ((st = need(r, 8, "64-bit", f->offset, f->field, err)) != FM_OK)
            return st;
        f->u = fm_pb_le64(r->buf + r->pos);
        r->pos += 8;
        return FM_OK;
    case FM_PB_I32:
        if ((st = need(r, 4, "32-bit", f->offset, f->field, err)) != FM_OK)
            return st;
        f->u = fm_pb_le32(r->buf + r->pos);
        r->pos += 4;
        return FM_OK;
    case FM_PB_LEN: {
        uint64_t n;
        if ((st = fm_pb_read_varint(r, &n, err)) != FM_OK)
            return st;
        if (n > fm_pb_remaining(r))
            return fm_err_set(err, FM_ERR_PARSE,
                              "truncated at byte %zu: length-delimited field %u needs %llu bytes, "
                              "%zu remain",
                              r->pos, f->field, (unsigned long long)n, fm_pb_remaining(r));
        f->data_offset = r->pos;
        f->len = (size_t)n;
        r->pos += (size_t)n;
        return FM_OK;
    }
    case FM_PB_SGROUP: {
        size_t body_end = r->pos;
        f->data_offset = r->pos;
        if ((st = skip_group(r, f->field, f->offset, &body_end, err)) != FM_OK)
            return st;
        f->len = body_end - f->data_offset;
        return FM_OK;
    }
    case FM_PB_EGROUP:
        return fm_err_set(err, FM_ERR_PARSE,
                          "malformed input at byte %zu: end-group tag for field %u without a "
                          "matching start",
                          f->offset, f->field);
    }
    return fm_err_set(err, FM_ERR_PARSE, "invalid wire type %d at byte %zu", f->wire, f->offset);
}

fm_status fm_pb_count_varints(const fm_pb_field *f, size_t *count, fm_err *err)
{
    fm_pb_reader r = fm_pb_sub(f);
    size_t n = 0;
    while (!fm_pb_at_end(&r)) {
        uint64_t v;
        fm_status st = fm_pb_read_varint(&r, &v, err);
        if (st != FM_OK)
            return st;
        n++;
    }
    *count = n;
    return FM_OK;
}

/* ---- writer ---- */

void fm_pb_writer_init(fm_pb_writer *w)
{
    w->data = NULL;
    w->len = w->cap = 0;
    w->status = FM_OK;
}

void fm_pb_writer_free(fm_pb_writer *w)
{
    free(w->data);
    fm_pb_writer_init(w);
}

fm_status fm_pb_reserve(fm_pb_writer *w, size_t n)
{
    if (w->status != FM_OK)
        return w->status;
    size_t want;
    if (!fm_size_add(w->len, n, &want))
        return w->status = FM_ERR_NOMEM;
    if (want <= w->cap)
        return FM_OK;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < want) {
        if (cap > SIZE_MAX / 2) {
            cap = want;
            break;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(w->data, cap);
    if (!p)
        return w->status = FM_ERR_NOMEM;
    w->data = p;
    w->cap = cap;
    return FM_OK;
}

size_t fm_pb_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t fm_pb_tag_size(uint32_t field)
{
    return fm_pb_varint_size((uint64_t)field << 3);
}

size_t fm_pb_len_field_size(uint32_t field, size_t payload)
{
    size_t n = fm_pb_tag_size(field) + fm_pb_varint_size(payload);
    return fm_size_add(n, payload, &n) ? n : 0;
}

fm_status fm_pb_put_raw(fm_pb_writer *w, const void *p, size_t n)
{
    fm_status st = fm_pb_reserve(w, n);
    if (st != FM_OK)
        return st;
    if (n)
        memcpy(w->data + w->len, p, n);
    w->len += n;
    return FM_OK;
}

fm_status fm_pb_put_varint(fm_pb_writer *w, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    return fm_pb_put_raw(w, tmp, n);
}

fm_status fm_pb_put_tag(fm_pb_writer *w, uint32_t field, int wire)
{
    return fm_pb_put_varint(w, (uint64_t)field << 3 | (uint64_t)(wire & 7));
}

fm_status fm_pb_put_fixed32(fm_pb_writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return fm_pb_put_raw(w, b, 4);
}

fm_status fm_pb_put_fixed64(fm_pb_writer *w, uint64_t v)
{
    fm_pb_put_fixed32(w, (uint32_t)v);
    return fm_pb_put_fixed32(w, (uint32_t)(v >> 32));
}

fm_status fm_pb_put_uint_field(fm_pb_writer *w, uint32_t field, uint64_t v)
{
    fm_pb_put_tag(w, field, FM_PB_VARINT);
    return fm_pb_put_varint(w, v);
}

fm_status fm_pb_put_len_header(fm_pb_writer *w, uint32_t field, size_t payload)
{
    fm_pb_put_tag(w, field, FM_PB_LEN);
    return fm_pb_put_varint(w, payload);
}

fm_status fm_pb_put_bytes_field(fm_pb_writer *w, uint32_t field, const void *p, size_t n)
{
    fm_pb_put_len_header(w, field, n);
    return fm_pb_put_raw(w, p, n);
}

fm_status fm_pb_put_packed_floats(fm_pb_writer *w, uint32_t field, const float *v, size_t n)
{
    size_t bytes;
    if (!fm_size_mul(n, 4, &bytes))
        return w->status = FM_ERR_NOMEM;
    fm_status st = fm_pb_put_len_header(w, field, bytes);
    if (st != FM_OK || (st = fm_pb_reserve(w, bytes)) != FM_OK)
        return st;
    uint8_t *p = w->data + w->len;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        p[4 * i + 0] = (uint8_t)u;
        p[4 * i + 1] = (uint8_t)(u >> 8);
        p[4 * i + 2] = (uint8_t)(u >> 16);
        p[4 * i + 3] = (uint8_t)(u >> 24);
    }
    w->len += bytes;
    return FM_OK;
}

fm_status fm_pb_put_packed_int64(fm_pb_writer *w, uint32_t field, const int64_t *v, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += fm_pb_varint_size((uint64_t)v[i]);
    fm_pb_put_len_header(w, field, bytes);
    for (size_t i = 0; i < n; i++)
        fm_pb_put_varint(w, (uint64_t)v[i]);
    return w->status;
}
