/* lib.h - inside libfacemask's public API (include/facemask.h): the handle and the helpers its
 * files share. The API is a thin layer over src/face/ (detector, classifier) and src/track/
 * (the tracker); it adds checking of the caller's arguments, the pixel formats and ownership of
 * results. */
#ifndef FM_LIB_H
#define FM_LIB_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/pool.h"
#include "face/classifier.h"
#include "face/detector.h"
#include "facemask.h"
#include "io/image.h"

/* A growable byte buffer (grows, never shrinks, freed with its owner). */
typedef struct {
    uint8_t *data;
    size_t cap;
} fm_lib_buf;

struct fm_ctx {
    fm_pool *pool;       /* shared by the detector's and the classifier's nets */
    fm_detector *det;
    fm_classifier *cls;  /* NULL with detect_only */
    float conf;
    int max_faces;
    fm_face *faces;      /* max_faces: fm_detect's detections */
    fm_result *results;  /* max_faces: what fm_detect returns */
    fm_lib_buf pixels;   /* a BGR copy of RGB input */
    fm_err err;          /* the last failure */
};

/* Checks a caller's pixel buffer (as fm_detect documents it) and views it as an fm_image (BGR,
 * not owned): the caller's pixels themselves when they are BGR, else a BGR copy kept in buf.
 * FM_ERR_ARG / FM_ERR_LIMIT / FM_ERR_NOMEM with a message naming the argument. */
fm_status fm_lib_view(const unsigned char *pixels, int width, int height, int stride,
                      fm_pixels format, fm_lib_buf *buf, fm_image *out, fm_err *err);

void fm_lib_buf_free(fm_lib_buf *buf);

#endif
