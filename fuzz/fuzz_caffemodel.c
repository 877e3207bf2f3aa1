/* libFuzzer target for the .caffemodel decoder: decode; whatever decodes
 * must be self-consistent and survive encode -> decode unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "caffe/caffemodel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_err err = {0};
    fm_caffemodel *m = fm_caffemodel_decode(data, size, "fuzz.caffemodel", &err);
    if (!m) {
        if (err.msg[0] == '\0')
            __builtin_trap(); /* every failure must carry a message */
        return 0;
    }
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i].nblobs; j++) {
            const fm_caffe_blob *b = &m->layers[i].blobs[j];
            if (b->count != fm_shape_count(&b->shape))
                __builtin_trap();
        }
    uint8_t *enc = NULL;
    size_t len = 0;
    if (fm_caffemodel_encode(m, &enc, &len, &err) != FM_OK)
        __builtin_trap(); /* a decoded model is always encodable */
    fm_caffemodel *m2 = fm_caffemodel_decode(enc, len, "re-encoded", &err);
    if (!m2 || m2->nlayers != m->nlayers)
        __builtin_trap();
    for (int i = 0; i < m->nlayers; i++) {
        const fm_caffe_layer *a = &m->layers[i], *b = &m2->layers[i];
        if (a->nblobs != b->nblobs || strcmp(a->name, b->name) || strcmp(a->type, b->type))
            __builtin_trap();
        for (int j = 0; j < a->nblobs; j++)
            if (a->blobs[j].count != b->blobs[j].count ||
                memcmp(a->blobs[j].data, b->blobs[j].data, a->blobs[j].count * sizeof(float)))
                __builtin_trap();
    }
    fm_caffemodel_free(m2);
    fm_caffemodel_free(m);
    free(enc);
    return 0;
}
