/* facemask.c - libfacemask's detector + classifier handle (include/facemask.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/lib.h"

#define DEFAULT_CONF 0.5f
#define DEFAULT_MAX_FACES 1024
#define MAX_MAX_FACES 65536
#define MAX_THREADS 64
#define MAX_SIDE 65535

const char *fm_version(int *major, int *minor, int *patch)
{
    if (major)
        *major = FM_VERSION_MAJOR;
    if (minor)
        *minor = FM_VERSION_MINOR;
    if (patch)
        *patch = FM_VERSION_PATCH;
    return FM_VERSION_STRING;
}

void fm_lib_buf_free(fm_lib_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->cap = 0;
}

fm_status fm_lib_view(const unsigned char *pixels, int width, int height, int stride,
                      fm_pixels format, fm_lib_buf *buf, fm_image *out, fm_err *err)
{
    if (!pixels)
        return fm_err_set(err, FM_ERR_ARG, "pixels is NULL");
    if (width < 1 || width > MAX_SIDE || height < 1 || height > MAX_SIDE)
        return fm_err_set(err, FM_ERR_ARG, "image size %dx%d (expected 1 to %d pixels a side)",
                          width, height, MAX_SIDE);
    if ((size_t)width * (size_t)height > FM_IMAGE_MAX_PIXELS_DEFAULT)
        return fm_err_set(err, FM_ERR_LIMIT, "image size %dx%d exceeds %u pixels", width, height,
                          FM_IMAGE_MAX_PIXELS_DEFAULT);
    if (stride < 3 * width)
        return fm_err_set(err, FM_ERR_ARG,
                          "stride %d for width %d (expected at least 3 * width = %d bytes)",
                          stride, width, 3 * width);
    if (format != FM_PIXELS_BGR && format != FM_PIXELS_RGB)
        return fm_err_set(err, FM_ERR_ARG,
                          "pixel format %d (expected FM_PIXELS_BGR (0) or FM_PIXELS_RGB (1))",
                          (int)format);
    out->w = width;
    out->h = height;
    if (format == FM_PIXELS_BGR) {
        /* read only: the detector and the classifier take const images */
        out->stride = stride;
        out->data = (uint8_t *)(uintptr_t)pixels;
        return FM_OK;
    }
    size_t row = (size_t)width * 3, need = row * (size_t)height;
    if (need > buf->cap) {
        uint8_t *p = realloc(buf->data, need);
        if (!p)
            return fm_err_set(err, FM_ERR_NOMEM, "out of memory converting a %dx%d RGB image",
                              width, height);
        buf->data = p;
        buf->cap = need;
    }
    for (int y = 0; y < height; y++) {
        const unsigned char *s = pixels + (size_t)y * (size_t)stride;
        uint8_t *d = buf->data + (size_t)y * row;
        for (int x = 0; x < width; x++) {
            d[3 * x] = s[3 * x + 2];
            d[3 * x + 1] = s[3 * x + 1];
            d[3 * x + 2] = s[3 * x];
        }
    }
    out->stride = (int)row;
    out->data = buf->data;
    return FM_OK;
}

static void set_errbuf(char *errbuf, size_t errsize, const char *msg)
{
    if (errbuf && errsize > 0)
        snprintf(errbuf, errsize, "%s", msg);
}

static fm_status check_options(const fm_options *o, fm_err *err)
{
    if (o->threads < 0 || o->threads > MAX_THREADS)
        return fm_err_set(err, FM_ERR_ARG, "threads %d (expected 1 to %d, or 0 for 1)",
                          o->threads, MAX_THREADS);
    if (!(o->conf >= 0.0f && o->conf <= 1.0f)) /* NaN fails too */
        return fm_err_set(err, FM_ERR_ARG, "conf %g (expected a score in (0, 1], or 0 for %.1f)",
                          (double)o->conf, (double)DEFAULT_CONF);
    if (o->max_faces < 0 || o->max_faces > MAX_MAX_FACES)
        return fm_err_set(err, FM_ERR_ARG, "max_faces %d (expected 1 to %d, or 0 for %d)",
                          o->max_faces, MAX_MAX_FACES, DEFAULT_MAX_FACES);
    if (o->det_width < 0 || o->det_height < 0 || (o->det_height > 0 && o->det_width == 0))
        return fm_err_set(err, FM_ERR_ARG,
                          "det size %dx%d (expected det_width > 0 to set a size, and both >= 0)",
                          o->det_width, o->det_height);
    return FM_OK;
}

/* Loads the classifier; a default folder that does not hold one says where models are
 * looked for. */
static fm_status open_classifier(fm_ctx *ctx, const fm_options *o, const char *mdir,
                                 const fm_net_opts *nopts, fm_err *err)
{
    char cdir[PATH_MAX + 16];
    fm_classifier_dir(o->classifier_dir, mdir, cdir, sizeof cdir);
    ctx->cls = fm_classifier_load(cdir, nopts, err);
    if (ctx->cls)
        return FM_OK;
    char cfg[PATH_MAX + 32];
    struct stat st;
    snprintf(cfg, sizeof cfg, "%s/classifier.cfg", cdir);
    if (!o->classifier_dir && stat(cfg, &st) != 0) {
        char hint[1024];
        fm_err_set(err, FM_ERR_IO, "%s: no mask classifier: %s (%s; or set detect_only)", cfg,
                   strerror(ENOENT), fm_models_hint(hint, sizeof hint));
    }
    return err->status;
}

fm_ctx *fm_open(const fm_options *opts, char *errbuf, size_t errsize)
{
    fm_options def;
    memset(&def, 0, sizeof def);
    const fm_options *o = opts ? opts : &def;
    fm_err err = {0};
    set_errbuf(errbuf, errsize, "");
    if (check_options(o, &err) != FM_OK) {
        set_errbuf(errbuf, errsize, err.msg);
        return NULL;
    }
    fm_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        set_errbuf(errbuf, errsize, "out of memory opening facemask");
        return NULL;
    }
    ctx->conf = o->conf > 0.0f ? o->conf : DEFAULT_CONF;
    ctx->max_faces = o->max_faces > 0 ? o->max_faces : DEFAULT_MAX_FACES;
    ctx->faces = calloc((size_t)ctx->max_faces, sizeof *ctx->faces);
    ctx->results = calloc((size_t)ctx->max_faces, sizeof *ctx->results);
    if (!ctx->faces || !ctx->results) {
        fm_err_set(&err, FM_ERR_NOMEM, "out of memory for %d faces", ctx->max_faces);
        goto fail;
    }
    if (!(ctx->pool = fm_pool_create(o->threads > 0 ? o->threads : 1, &err)))
        goto fail;
    fm_net_opts nopts = fm_net_default_opts();
    nopts.threads = fm_pool_size(ctx->pool);
    nopts.pool = ctx->pool;
    char mdir[PATH_MAX];
    fm_models_dir(o->model_dir, mdir, sizeof mdir);
    fm_detector_spec spec = {o->detector, mdir, o->det_width, o->det_height};
    if (!(ctx->det = fm_detector_create(&spec, &nopts, &err)))
        goto fail;
    if (!o->detect_only && open_classifier(ctx, o, mdir, &nopts, &err) != FM_OK)
        goto fail;
    return ctx;
fail:
    set_errbuf(errbuf, errsize, err.msg[0] ? err.msg : "cannot open facemask");
    fm_close(ctx);
    return NULL;
}

void fm_close(fm_ctx *ctx)
{
    if (!ctx)
        return;
    /* the nets use the pool: they go first */
    fm_classifier_free(ctx->cls);
    fm_detector_free(ctx->det);
    fm_pool_free(ctx->pool);
    free(ctx->faces);
    free(ctx->results);
    fm_lib_buf_free(&ctx->pixels);
    free(ctx);
}

const char *fm_error(const fm_ctx *ctx)
{
    return ctx ? ctx->err.msg : "ctx is NULL";
}

/* Detection and classification of img into ctx->results. */
static int detect_image(fm_ctx *ctx, const fm_image *img, const fm_result **faces)
{
    int n = fm_detector_run(ctx->det, img, ctx->conf, ctx->faces, ctx->max_faces, NULL);
    if (n < 0) {
        fm_err_set(&ctx->err, FM_ERR_NOMEM, "%s", fm_detector_error(ctx->det));
        return -1;
    }
    if (n > ctx->max_faces)
        n = ctx->max_faces; /* sorted by score: the best are kept */
    for (int i = 0; i < n; i++) {
        const fm_face *f = &ctx->faces[i];
        fm_result *r = &ctx->results[i];
        memset(r, 0, sizeof *r);
        r->x1 = f->x1;
        r->y1 = f->y1;
        r->x2 = f->x2;
        r->y2 = f->y2;
        r->score = f->score;
        r->nlandmarks = f->nlandmarks;
        memcpy(r->landmarks, f->landmarks, sizeof r->landmarks);
        r->mask_prob = -1.0f;
        r->label = "";
        if (ctx->cls) {
            fm_err cerr = {0};
            if (fm_classifier_face(ctx->cls, img, f, &r->mask_prob, &cerr) != FM_OK) {
                fm_err_set(&ctx->err, cerr.status, "face %d at (%.0f,%.0f)-(%.0f,%.0f): %s",
                           i + 1, (double)f->x1, (double)f->y1, (double)f->x2, (double)f->y2,
                           cerr.msg);
                return -1;
            }
            r->label = fm_mask_label(r->mask_prob);
        }
    }
    if (faces)
        *faces = ctx->results;
    return n;
}

int fm_detect(fm_ctx *ctx, const unsigned char *pixels, int width, int height, int stride,
              fm_pixels format, const fm_result **faces)
{
    if (faces)
        *faces = NULL;
    if (!ctx)
        return -1;
    fm_image img;
    if (fm_lib_view(pixels, width, height, stride, format, &ctx->pixels, &img, &ctx->err) !=
        FM_OK)
        return -1;
    return detect_image(ctx, &img, faces);
}

int fm_detect_file(fm_ctx *ctx, const char *path, const fm_result **faces, int *width,
                   int *height)
{
    if (faces)
        *faces = NULL;
    if (!ctx)
        return -1;
    if (!path) {
        fm_err_set(&ctx->err, FM_ERR_ARG, "path is NULL");
        return -1;
    }
    fm_image *img = fm_image_load(path, 0, &ctx->err);
    if (!img)
        return -1;
    if (width)
        *width = img->w;
    if (height)
        *height = img->h;
    int n = detect_image(ctx, img, faces);
    if (n < 0)
        fm_err_prefix(&ctx->err, "%s: ", path);
    fm_image_free(img);
    return n;
}

int fm_classify(fm_ctx *ctx, const unsigned char *pixels, int width, int height, int stride,
                fm_pixels format, float *mask_prob)
{
    if (!ctx)
        return -1;
    if (!mask_prob) {
        fm_err_set(&ctx->err, FM_ERR_ARG, "mask_prob is NULL");
        return -1;
    }
    if (!ctx->cls) {
        fm_err_set(&ctx->err, FM_ERR_ARG, "no classifier: this handle was opened with detect_only");
        return -1;
    }
    fm_image img;
    if (fm_lib_view(pixels, width, height, stride, format, &ctx->pixels, &img, &ctx->err) !=
        FM_OK)
        return -1;
    *mask_prob = fm_classifier_crop(ctx->cls, &img);
    return 0;
}
