/* caffemodel.h - Caffe's binary .caffemodel (a NetParameter in protobuf wire format).
 *
 * Reading keeps, for each layer, its name, type and weight blobs; everything
 * else (layer parameters) comes from the .prototxt. Both the current
 * `layer` (field 100, LayerParameter) and the legacy `layers` (field 2,
 * V1LayerParameter) are read. A blob's data may be float (`data`, packed
 * or not), double (`double_data`), or OpenCV's fp16 form: `raw_data_type`
 * FLOAT16 with the halves in `raw_data` (as in OpenCV's
 * res10_300x300_ssd_iter_140000_fp16.caffemodel); all become float32.
 * Shapes come from `shape` or the legacy num/channels/height/width.
 *
 * Every length is checked against the bytes that remain; a truncated or
 * malformed file gives an error with the byte offset and what was expected.
 *
 *     fm_caffemodel *m = fm_caffemodel_read("res10.caffemodel", &err);
 *     const fm_caffe_layer *l = fm_caffemodel_find(m, "conv1_h");
 *     // l->blobs[0].shape, l->blobs[0].data
 *     fm_caffemodel_free(m);
 *
 * Writing produces a NetParameter with `name` and one `layer` per entry
 * (name, type, blobs with `shape` and packed float `data`), which Caffe and
 * OpenCV's readNetFromCaffe read back.
 */
#ifndef FM_CAFFEMODEL_H
#define FM_CAFFEMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "nn/tensor.h"

#define FM_CAFFEMODEL_MAX_BYTES (1u << 30)
/* Caps against memory amplification: an empty layer is 2 or 3 bytes of input but ~100 bytes
 * of bookkeeping, a blob 2 bytes but 56, so the counts are capped (a real model has a few
 * hundred layers of at most 3 blobs) and checked before anything is allocated for them:
 * FM_ERR_LIMIT "SOURCE: more than 65536 layers (FM_CAFFEMODEL_MAX_LAYERS)". With these a
 * decode uses at most 2 x the file size for weights (fp16 widened to float) + about 7 MB of
 * layer records + 64 KB of blob records per layer. */
#define FM_CAFFEMODEL_MAX_LAYERS 65536
#define FM_CAFFEMODEL_MAX_LAYER_BLOBS 1024

typedef struct {
    fm_shape shape; /* 1 to 4 axes; more is an error */
    size_t count;   /* elements, = fm_shape_count(&shape) */
    float *data;    /* owned by the model */
} fm_caffe_blob;

typedef struct {
    char *name;
    char *type;
    int nblobs;
    fm_caffe_blob *blobs;
} fm_caffe_layer;

typedef struct {
    char *name; /* NetParameter.name, may be NULL */
    int nlayers;
    fm_caffe_layer *layers;
} fm_caffemodel;

/* `source` names the input in messages (a path). */
fm_caffemodel *fm_caffemodel_decode(const uint8_t *buf, size_t len, const char *source,
                                    fm_err *err);
fm_caffemodel *fm_caffemodel_read(const char *path, fm_err *err);
const fm_caffe_layer *fm_caffemodel_find(const fm_caffemodel *m, const char *name);
void fm_caffemodel_free(fm_caffemodel *m);

/* Encodes m; *out is malloc'd (caller frees). */
fm_status fm_caffemodel_encode(const fm_caffemodel *m, uint8_t **out, size_t *len, fm_err *err);
fm_status fm_caffemodel_write(const fm_caffemodel *m, const char *path, fm_err *err);

/* IEEE half to float and back (round to nearest even). */
float fm_half_to_float(uint16_t h);
uint16_t fm_float_to_half(float f);

#endif
