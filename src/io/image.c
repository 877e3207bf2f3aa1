/* image.c - JPEG/PNG decoding and encoding into 8-bit BGR images.
 *
 * Both libraries report fatal errors through callbacks that must not return;
 * ours record the message and longjmp back to the decoder, which frees what
 * it owns. Every function that calls setjmp keeps its changing state in a
 * context struct owned by its caller, so nothing is lost across a longjmp.
 *
 * Hostile input: the size is read from the header and checked against the
 * pixel limit before the pixel buffer is allocated; warnings about corrupt
 * or missing data are failures (a truncated JPEG is an error, not a grey
 * image); EXIF orientation is parsed with a bounds check on every read.
 */
#include "io/image.h"

#include "core/file.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "core/file.h"

/* ---- images ----------------------------------------------------------------------------------- */

fm_image *fm_image_new(int w, int h, fm_err *err)
{
    size_t row, total;
    if (w <= 0 || h <= 0) {
        fm_err_set(err, FM_ERR_ARG, "image size %dx%d is not positive", w, h);
        return NULL;
    }
    if (!fm_size_mul((size_t)w, 3, &row) || row > INT_MAX || !fm_size_mul(row, (size_t)h, &total)) {
        fm_err_set(err, FM_ERR_NOMEM, "image size %dx%d overflows", w, h);
        return NULL;
    }
    fm_image *img = malloc(sizeof *img);
    uint8_t *data = calloc(total, 1);
    if (!img || !data) {
        free(img);
        free(data);
        fm_err_set(err, FM_ERR_NOMEM, "out of memory for a %dx%d image (%zu bytes)", w, h, total);
        return NULL;
    }
    img->w = w;
    img->h = h;
    img->stride = (int)row;
    img->data = data;
    return img;
}

void fm_image_free(fm_image *img)
{
    if (img)
        free(img->data);
    free(img);
}

/* Checks w x h against the pixel limit before anything is allocated. */
static fm_status check_size(const char *source, unsigned long w, unsigned long h, size_t max_pixels,
                            fm_err *err)
{
    size_t px;
    if (w == 0 || h == 0)
        return fm_err_set(err, FM_ERR_PARSE, "%s: image has a zero dimension (%lux%lu)", source, w,
                          h);
    if (w > INT_MAX / 3 || h > INT_MAX || !fm_size_mul(w, h, &px) || px > max_pixels)
        return fm_err_set(err, FM_ERR_LIMIT, "%s: image %lux%lu exceeds the limit of %zu pixels",
                          source, w, h, max_pixels);
    return FM_OK;
}

/* ---- EXIF orientation --------------------------------------------------------------------------- */

static unsigned tiff_u16(const uint8_t *p, int big)
{
    return big ? (unsigned)(p[0] << 8 | p[1]) : (unsigned)(p[1] << 8 | p[0]);
}

static uint32_t tiff_u32(const uint8_t *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int fm_exif_orientation(const uint8_t *tiff, size_t len)
{
    if (!tiff)
        return 1;
    /* Some writers keep the JPEG APP1 prefix in front of the TIFF header. */
    if (len >= 6 && memcmp(tiff, "Exif\0\0", 6) == 0) {
        tiff += 6;
        len -= 6;
    }
    if (len < 8)
        return 1;
    int big;
    if (tiff[0] == 'I' && tiff[1] == 'I')
        big = 0;
    else if (tiff[0] == 'M' && tiff[1] == 'M')
        big = 1;
    else
        return 1;
    if (tiff_u16(tiff + 2, big) != 42)
        return 1;
    uint32_t ifd = tiff_u32(tiff + 4, big);
    if (ifd > len || len - ifd < 2)
        return 1;
    unsigned n = tiff_u16(tiff + ifd, big);
    size_t pos = (size_t)ifd + 2;
    for (unsigned i = 0; i < n; i++, pos += 12) {
        if (len - pos < 12)
            return 1;
        const uint8_t *e = tiff + pos;
        if (tiff_u16(e, big) != 0x0112)
            continue;
        /* Orientation: type SHORT (3), count 1, value in the first two bytes of the field. */
        if (tiff_u16(e + 2, big) != 3 || tiff_u32(e + 4, big) != 1)
            return 1;
        unsigned v = tiff_u16(e + 8, big);
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

fm_image *fm_image_orient(const fm_image *src, int orientation, fm_err *err)
{
    int w = src->w, h = src->h;
    int swap = orientation >= 5 && orientation <= 8;
    fm_image *dst = swap ? fm_image_new(h, w, err) : fm_image_new(w, h, err);
    if (!dst)
        return NULL;
    for (int y = 0; y < dst->h; y++) {
        uint8_t *out = dst->data + (size_t)y * (size_t)dst->stride;
        for (int x = 0; x < dst->w; x++) {
            int sx, sy;
            switch (orientation) {
            case 2: sx = w - 1 - x, sy = y; break;                 /* mirrored */
            case 3: sx = w - 1 - x, sy = h - 1 - y; break;         /* rotated 180 */
            case 4: sx = x, sy = h - 1 - y; break;                 /* flipped */
            case 5: sx = y, sy = x; break;                         /* transposed */
            case 6: sx = y, sy = h - 1 - x; break;                 /* needs 90 clockwise */
            case 7: sx = w - 1 - y, sy = h - 1 - x; break;         /* transverse */
            case 8: sx = w - 1 - y, sy = x; break;                 /* needs 90 counter-clockwise */
            default: sx = x, sy = y; break;
            }
            const uint8_t *in = src->data + (size_t)sy * (size_t)src->stride + (size_t)sx * 3;
            out[3 * x + 0] = in[0];
            out[3 * x + 1] = in[1];
            out[3 * x + 2] = in[2];
        }
    }
    return dst;
}

/* Replaces *img by its upright version; on failure frees it and returns NULL. */
static fm_image *apply_orientation(fm_image *img, int orientation, const char *source, fm_err *err)
{
    if (orientation <= 1 || orientation > 8)
        return img;
    fm_image *up = fm_image_orient(img, orientation, err);
    fm_image_free(img);
    if (!up)
        fm_err_prefix(err, "%s: ", source);
    return up;
}

/* ---- JPEG decoding -------------------------------------------------------------------------------- */

/* Progressive JPEGs can have any number of scans; real ones have about ten. */
#define FM_JPEG_MAX_SCANS 500

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
    int truncated; /* libjpeg ran out of input */
} jpeg_errmgr;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_errmgr *e = (jpeg_errmgr *)cinfo->err;
    if (e->msg[0] == '\0')
        (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

/* Warnings (level -1) about corrupt or missing data end decoding at once: libjpeg would
 * otherwise go on and fill the rest of the picture with grey. Trace messages are ignored. */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    jpeg_errmgr *e = (jpeg_errmgr *)cinfo->err;
    if (level >= 0)
        return;
    int code = cinfo->err->msg_code;
    if (code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM)
        return; /* harmless: the data itself is fine */
    if (code == JWRN_JPEG_EOF)
        e->truncated = 1;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void jpeg_on_progress(j_common_ptr cinfo)
{
    if (!cinfo->is_decompressor)
        return;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > FM_JPEG_MAX_SCANS) {
        jpeg_errmgr *e = (jpeg_errmgr *)cinfo->err;
        snprintf(e->msg, sizeof e->msg, "more than %d progressive scans", FM_JPEG_MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

static void jpeg_errmgr_init(jpeg_errmgr *e)
{
    memset(e, 0, sizeof *e);
    jpeg_std_error(&e->pub);
    e->pub.error_exit = jpeg_on_error;
    e->pub.emit_message = jpeg_on_message;
}

typedef struct {
    struct jpeg_decompress_struct cinfo;
    jpeg_errmgr jerr;
    struct jpeg_progress_mgr progress;
    fm_image *img;
    uint8_t *row; /* CMYK scanline */
    int orientation;
} jpeg_dec;

static int jpeg_decode_run(jpeg_dec *d, const uint8_t *buf, size_t len, const char *source,
                           size_t max_pixels, fm_err *err)
{
    struct jpeg_decompress_struct *ci = &d->cinfo;
    if (setjmp(d->jerr.jump))
        return 0;
    jpeg_create_decompress(ci);
    d->progress.progress_monitor = jpeg_on_progress;
    ci->progress = &d->progress;
    jpeg_mem_src(ci, buf, (unsigned long)len);
    jpeg_save_markers(ci, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(ci, TRUE);

    for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
            d->orientation = fm_exif_orientation(m->data + 6, m->data_length - 6);
            break;
        }

    if (check_size(source, ci->image_width, ci->image_height, max_pixels, err) != FM_OK)
        return -1;
    int cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
    ci->out_color_space = cmyk ? JCS_CMYK : JCS_EXT_BGR;
    jpeg_start_decompress(ci);
    if (ci->output_width != ci->image_width || ci->output_height != ci->image_height ||
        ci->output_components != (cmyk ? 4 : 3)) {
        snprintf(d->jerr.msg, sizeof d->jerr.msg, "unexpected output format %ux%u x%d",
                 ci->output_width, ci->output_height, ci->output_components);
        return 0;
    }
    d->img = fm_image_new((int)ci->output_width, (int)ci->output_height, err);
    if (!d->img) {
        fm_err_prefix(err, "%s: ", source);
        return -1;
    }
    if (cmyk) {
        d->row = malloc((size_t)ci->output_width * 4);
        if (!d->row) {
            fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory for a scanline", source);
            return -1;
        }
    }
    while (ci->output_scanline < ci->output_height) {
        uint8_t *dst = d->img->data + (size_t)ci->output_scanline * (size_t)d->img->stride;
        JSAMPROW rows[1] = {cmyk ? d->row : dst};
        if (jpeg_read_scanlines(ci, rows, 1) != 1) {
            snprintf(d->jerr.msg, sizeof d->jerr.msg, "decoder returned no scanline");
            return 0;
        }
        if (cmyk) {
            /* Adobe writes inverted CMYK: the stored values are 255 - ink. */
            for (JDIMENSION x = 0; x < ci->output_width; x++) {
                const uint8_t *p = d->row + 4 * x;
                unsigned k = p[3];
                dst[3 * x + 0] = (uint8_t)((p[2] * k + 127) / 255);
                dst[3 * x + 1] = (uint8_t)((p[1] * k + 127) / 255);
                dst[3 * x + 2] = (uint8_t)((p[0] * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(ci);
    return 1;
}

static fm_image *decode_jpeg(const uint8_t *buf, size_t len, const char *source, size_t max_pixels,
                             fm_err *err)
{
    jpeg_dec *d = calloc(1, sizeof *d);
    if (!d) {
        fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory", source);
        return NULL;
    }
    d->orientation = 1;
    d->cinfo.err = &d->jerr.pub;
    jpeg_errmgr_init(&d->jerr);
    int r = jpeg_decode_run(d, buf, len, source, max_pixels, err);
    jpeg_destroy_decompress(&d->cinfo);
    free(d->row);
    fm_image *img = d->img;
    if (r == 0) {
        if (d->jerr.truncated)
            fm_err_set(err, FM_ERR_PARSE, "%s: truncated JPEG (premature end of data)", source);
        else if (strncmp(d->jerr.msg, "Corrupt JPEG data: ", 19) == 0)
            fm_err_set(err, FM_ERR_PARSE, "%s: corrupt JPEG data: %s", source, d->jerr.msg + 19);
        else if (strncmp(d->jerr.msg, "Unsupported", 11) == 0)
            fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: unsupported JPEG: %s", source, d->jerr.msg);
        else
            fm_err_set(err, FM_ERR_PARSE, "%s: corrupt JPEG data: %s", source, d->jerr.msg);
    }
    int orientation = d->orientation;
    free(d);
    if (r != 1) {
        fm_image_free(img);
        return NULL;
    }
    return apply_orientation(img, orientation, source, err);
}

/* ---- PNG decoding --------------------------------------------------------------------------------- */

#define PNG_MSG_LEN 256

/* libpng's error callback, reading and writing: keeps the first message in the char[PNG_MSG_LEN]
 * given to png_create_*_struct as the error pointer, then unwinds to the setjmp. */
static void png_on_error(png_structp png, png_const_charp msg)
{
    char *keep = png_get_error_ptr(png);
    if (keep[0] == '\0')
        snprintf(keep, PNG_MSG_LEN, "%s", msg);
    png_longjmp(png, 1);
}

typedef struct {
    png_structp png;
    png_infop info;
    const uint8_t *buf;
    size_t len, pos;
    char msg[PNG_MSG_LEN];
    int truncated;
    fm_image *img;
    png_bytep *rows;
    int orientation;
} png_dec;

/* Benign errors arrive as warnings; the ones about missing or extra image data mean the
 * pixels are incomplete, so they end decoding. Others (bad ancillary chunks) are ignored. */
static void png_on_warning(png_structp png, png_const_charp msg)
{
    if (strstr(msg, "image data") || strstr(msg, "compressed data") || strstr(msg, "IDAT"))
        png_on_error(png, msg);
}

static void png_on_read(png_structp png, png_bytep out, size_t n)
{
    png_dec *d = png_get_io_ptr(png);
    if (n > d->len - d->pos) {
        d->truncated = 1;
        png_error(png, "premature end of data");
    }
    memcpy(out, d->buf + d->pos, n);
    d->pos += n;
}

static void png_read_orientation(png_dec *d)
{
#ifdef PNG_eXIf_SUPPORTED
    png_uint_32 n = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(d->png, d->info, &n, &exif) && exif && n > 0)
        d->orientation = fm_exif_orientation(exif, n);
#else
    (void)d;
#endif
}

static int png_decode_run(png_dec *d, const char *source, size_t max_pixels, fm_err *err)
{
    if (setjmp(png_jmpbuf(d->png)))
        return 0;
    png_set_read_fn(d->png, d, png_on_read);
    /* Our pixel limit decides, with its own message; libpng's default stops at 1e6 per side. */
    png_set_user_limits(d->png, 0x7fffffff, 0x7fffffff);
    png_read_info(d->png, d->info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(d->png, d->info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if (check_size(source, w, h, max_pixels, err) != FM_OK)
        return -1;
    png_read_orientation(d);

    png_set_expand(d->png); /* palette to RGB, grey below 8 bits to 8, tRNS to alpha */
    png_set_strip_16(d->png);
    png_set_strip_alpha(d->png);
    if (!(color & PNG_COLOR_MASK_COLOR))
        png_set_gray_to_rgb(d->png);
    png_set_bgr(d->png);
    png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);
    if (png_get_rowbytes(d->png, d->info) != (size_t)w * 3 ||
        png_get_channels(d->png, d->info) != 3 || png_get_bit_depth(d->png, d->info) != 8) {
        snprintf(d->msg, sizeof d->msg, "unexpected row layout after conversion");
        return 0;
    }
    d->img = fm_image_new((int)w, (int)h, err);
    if (!d->img) {
        fm_err_prefix(err, "%s: ", source);
        return -1;
    }
    d->rows = malloc((size_t)h * sizeof *d->rows);
    if (!d->rows) {
        fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory for row pointers", source);
        return -1;
    }
    for (png_uint_32 y = 0; y < h; y++)
        d->rows[y] = d->img->data + (size_t)y * (size_t)d->img->stride;
    png_read_image(d->png, d->rows);
    /* eXIf may also come after the image data. */
    png_read_end(d->png, d->info);
    if (d->orientation == 1)
        png_read_orientation(d);
    return 1;
}

static fm_image *decode_png(const uint8_t *buf, size_t len, const char *source, size_t max_pixels,
                            fm_err *err)
{
    png_dec *d = calloc(1, sizeof *d);
    if (!d) {
        fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory", source);
        return NULL;
    }
    d->buf = buf;
    d->len = len;
    d->orientation = 1;
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d->msg, png_on_error, png_on_warning);
    if (d->png)
        d->info = png_create_info_struct(d->png);
    if (!d->png || !d->info) {
        png_destroy_read_struct(d->png ? &d->png : NULL, NULL, NULL);
        free(d);
        fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory for the PNG decoder", source);
        return NULL;
    }
    int r = png_decode_run(d, source, max_pixels, err);
    png_destroy_read_struct(&d->png, &d->info, NULL);
    free(d->rows);
    if (r == 0) {
        if (d->truncated)
            fm_err_set(err, FM_ERR_PARSE, "%s: truncated PNG (premature end of data)", source);
        else
            fm_err_set(err, FM_ERR_PARSE, "%s: corrupt PNG data: %s", source, d->msg);
    }
    fm_image *img = d->img;
    int orientation = d->orientation;
    free(d);
    if (r != 1) {
        fm_image_free(img);
        return NULL;
    }
    return apply_orientation(img, orientation, source, err);
}

/* ---- decoding entry points ------------------------------------------------------------------------ */

fm_image *fm_image_decode(const uint8_t *buf, size_t len, const char *source, size_t max_pixels,
                          fm_err *err)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (!source)
        source = "(memory)";
    if (max_pixels == 0)
        max_pixels = FM_IMAGE_MAX_PIXELS_DEFAULT;
    if (!buf || len == 0) {
        fm_err_set(err, FM_ERR_PARSE, "%s: empty file (0 bytes)", source);
        return NULL;
    }
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
        return decode_jpeg(buf, len, source, max_pixels, err);
    if (len >= 8 && memcmp(buf, png_magic, 8) == 0)
        return decode_png(buf, len, source, max_pixels, err);
    char hex[3 * 4 + 1] = "";
    size_t n = len < 4 ? len : 4, used = 0;
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(hex + used, sizeof hex - used, i ? " %02x" : "%02x", buf[i]);
    fm_err_set(err, FM_ERR_FORMAT, "%s: not a JPEG or PNG file (starts with %s)", source, hex);
    return NULL;
}

fm_image *fm_image_load(const char *path, size_t max_pixels, fm_err *err)
{
    unsigned char *buf;
    size_t len;
    /* a regular file of at most FM_IMAGE_MAX_FILE_BYTES: /dev/zero, a FIFO or a huge file is
     * refused before anything is read */
    if (fm_read_file(path, FM_IMAGE_MAX_FILE_BYTES, NULL, &buf, &len, err) != FM_OK)
        return NULL;
    fm_image *img = fm_image_decode(buf, len, path, max_pixels, err);
    free(buf);
    return img;
}

/* ---- encoding --------------------------------------------------------------------------------------- */

static fm_status check_image(const fm_image *img, const char *what, fm_err *err)
{
    if (!img || !img->data || img->w <= 0 || img->h <= 0 || img->stride < 3 * img->w)
        return fm_err_set(err, FM_ERR_ARG, "%s: invalid image", what);
    return FM_OK;
}

typedef struct {
    struct jpeg_compress_struct cinfo;
    jpeg_errmgr jerr;
    unsigned char *out;
    unsigned long len;
} jpeg_enc;

static int jpeg_encode_run(jpeg_enc *e, const fm_image *img, int quality)
{
    struct jpeg_compress_struct *ci = &e->cinfo;
    if (setjmp(e->jerr.jump))
        return 0;
    jpeg_create_compress(ci);
    jpeg_mem_dest(ci, &e->out, &e->len);
    ci->image_width = (JDIMENSION)img->w;
    ci->image_height = (JDIMENSION)img->h;
    ci->input_components = 3;
    ci->in_color_space = JCS_EXT_BGR;
    jpeg_set_defaults(ci);
    jpeg_set_quality(ci, quality, TRUE);
    jpeg_start_compress(ci, TRUE);
    while (ci->next_scanline < ci->image_height) {
        JSAMPROW row = img->data + (size_t)ci->next_scanline * (size_t)img->stride;
        jpeg_write_scanlines(ci, &row, 1);
    }
    jpeg_finish_compress(ci);
    return 1;
}

fm_status fm_image_encode_jpeg(const fm_image *img, int quality, uint8_t **out, size_t *len,
                               fm_err *err)
{
    if (check_image(img, "JPEG encoder", err) != FM_OK)
        return err ? err->status : FM_ERR_ARG;
    if (quality < 1 || quality > 100)
        return fm_err_set(err, FM_ERR_ARG, "JPEG quality %d is outside 1..100", quality);
    jpeg_enc *e = calloc(1, sizeof *e);
    if (!e)
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory for the JPEG encoder");
    e->cinfo.err = &e->jerr.pub;
    jpeg_errmgr_init(&e->jerr);
    int ok = jpeg_encode_run(e, img, quality);
    jpeg_destroy_compress(&e->cinfo);
    fm_status st = FM_OK;
    if (ok) {
        *out = e->out;
        *len = (size_t)e->len;
    } else {
        free(e->out);
        st = fm_err_set(err, FM_ERR_FORMAT, "JPEG encoder: %s", e->jerr.msg);
    }
    free(e);
    return st;
}

static fm_status write_file(const char *path, const uint8_t *data, size_t len, fm_err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    size_t put = fwrite(data, 1, len, f);
    int bad = put != len || fflush(f) != 0;
    int saved = errno;
    if (fclose(f) != 0)
        bad = 1;
    if (bad)
        return fm_err_set(err, FM_ERR_IO, "%s: write failed: %s", path, strerror(saved));
    return FM_OK;
}

fm_status fm_image_save_jpeg(const fm_image *img, const char *path, int quality, fm_err *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fm_status st = fm_image_encode_jpeg(img, quality, &buf, &len, err);
    if (st != FM_OK)
        return fm_err_prefix(err, "%s: ", path);
    st = write_file(path, buf, len, err);
    free(buf);
    return st;
}

typedef struct {
    png_structp png;
    png_infop info;
    FILE *f;
    char msg[PNG_MSG_LEN];
} png_enc;

static void png_enc_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static int png_encode_run(png_enc *e, const fm_image *img)
{
    if (setjmp(png_jmpbuf(e->png)))
        return 0;
    png_init_io(e->png, e->f);
    png_set_IHDR(e->png, e->info, (png_uint_32)img->w, (png_uint_32)img->h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(e->png, e->info);
    png_set_bgr(e->png);
    for (int y = 0; y < img->h; y++)
        png_write_row(e->png, img->data + (size_t)y * (size_t)img->stride);
    png_write_end(e->png, NULL);
    return 1;
}

fm_status fm_image_save_png(const fm_image *img, const char *path, fm_err *err)
{
    if (check_image(img, path, err) != FM_OK)
        return err ? err->status : FM_ERR_ARG;
    png_enc e;
    memset(&e, 0, sizeof e);
    e.f = fopen(path, "wb");
    if (!e.f)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    e.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, e.msg, png_on_error, png_enc_on_warning);
    if (e.png)
        e.info = png_create_info_struct(e.png);
    if (!e.png || !e.info) {
        png_destroy_write_struct(e.png ? &e.png : NULL, NULL);
        fclose(e.f);
        return fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory for the PNG encoder", path);
    }
    int ok = png_encode_run(&e, img);
    png_destroy_write_struct(&e.png, &e.info);
    int bad = fflush(e.f) != 0 || ferror(e.f);
    if (fclose(e.f) != 0)
        bad = 1;
    if (!ok)
        return fm_err_set(err, FM_ERR_IO, "%s: PNG encoder: %s", path, e.msg);
    if (bad)
        return fm_err_set(err, FM_ERR_IO, "%s: write failed", path);
    return FM_OK;
}

fm_status fm_image_save(const fm_image *img, const char *path, fm_err *err)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0))
        return fm_image_save_jpeg(img, path, 90, err);
    if (dot && strcasecmp(dot, ".png") == 0)
        return fm_image_save_png(img, path, err);
    return fm_err_set(err, FM_ERR_ARG, "%s: unknown image extension (expected .jpg, .jpeg or .png)",
                      path ? path : "(null)");
}
