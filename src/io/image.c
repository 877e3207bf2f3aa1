/* image.c - JPEG/PNG decoding and encoding (stub, being written). */
#include "io/image.h"

#include <stdlib.h>

fm_image *fm_image_new(int w, int h, fm_err *err)
{
    fm_err_set(err, FM_ERR_UNSUPPORTED, "fm_image_new: not implemented yet");
    return NULL;
}

void fm_image_free(fm_image *img)
{
    if (img)
        free(img->data);
    free(img);
}

fm_image *fm_image_decode(const uint8_t *buf, size_t len, const char *source, size_t max_pixels,
                          fm_err *err)
{
    fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: decoding not implemented yet", source);
    return NULL;
}

fm_image *fm_image_load(const char *path, size_t max_pixels, fm_err *err)
{
    fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: decoding not implemented yet", path);
    return NULL;
}

fm_status fm_image_save_jpeg(const fm_image *img, const char *path, int quality, fm_err *err)
{
    return fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: encoding not implemented yet", path);
}

fm_status fm_image_save_png(const fm_image *img, const char *path, fm_err *err)
{
    return fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: encoding not implemented yet", path);
}

fm_status fm_image_save(const fm_image *img, const char *path, fm_err *err)
{
    return fm_err_set(err, FM_ERR_UNSUPPORTED, "%s: encoding not implemented yet", path);
}

fm_status fm_image_encode_jpeg(const fm_image *img, int quality, uint8_t **out, size_t *len,
                               fm_err *err)
{
    return fm_err_set(err, FM_ERR_UNSUPPORTED, "encoding not implemented yet");
}
