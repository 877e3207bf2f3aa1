/* libFuzzer target for the PASCAL VOC annotation reader: any bytes either parse into
 * objects whose boxes are inside the image, or give an error with a message. */
#include <stddef.h>
#include <stdint.h>

#include "data/voc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_err err = {0};
    fm_voc v;
    if (fm_voc_parse((const char *)data, size, "fuzz.xml", &v, &err) != FM_OK) {
        if (err.msg[0] == '\0')
            __builtin_trap(); /* every failure must carry a message */
        return 0;
    }
    for (int i = 0; i < v.n_objects; i++) {
        const fm_voc_object *o = &v.objects[i];
        if (!(o->xmin <= o->xmax && o->ymin <= o->ymax))
            __builtin_trap();
        if (v.width > 0 && (o->xmin < 0 || o->xmax > (float)v.width))
            __builtin_trap();
    }
    fm_voc_free(&v);
    return 0;
}
