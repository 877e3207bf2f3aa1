/* libFuzzer target for the prototxt parser: parse, then walk the whole tree
 * with every typed read, so values and positions are all touched. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "caffe/prototxt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const fm_ptxt_node *msg, int depth)
{
    for (const fm_ptxt_node *f = msg->child; f; f = f->next) {
        fm_err err = {0};
        long long i;
        double d;
        int b;
        char where[128];
        fm_ptxt_where(f, where, sizeof where);
        (void)fm_ptxt_int(f, &i, &err);
        (void)fm_ptxt_float(f, &d, &err);
        (void)fm_ptxt_bool(f, &b, &err);
        (void)fm_ptxt_count(msg, f->name);
        (void)fm_ptxt_next_named(f);
        if (f->value)
            (void)strlen(f->value);
        else
            walk(f, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_err err = {0};
    fm_ptxt *doc = fm_ptxt_parse((const char *)data, size, "fuzz.prototxt", &err);
    if (doc) {
        walk(fm_ptxt_root(doc), 0);
        fm_ptxt_free(doc);
    } else if (err.msg[0] == '\0') {
        __builtin_trap(); /* every failure must carry a message */
    }
    return 0;
}
