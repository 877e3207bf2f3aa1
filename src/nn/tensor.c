#include "nn/tensor.h"

#include <stdio.h>

size_t fm_shape_count(const fm_shape *s)
{
    return fm_shape_count_range(s, 0, s->ndim);
}

size_t fm_shape_count_range(const fm_shape *s, int from, int to)
{
    if (s->ndim < 1 || s->ndim > FM_MAX_DIMS)
        return 0;
    size_t n = 1;
    for (int i = from; i < to && i < s->ndim; i++) {
        if (s->d[i] <= 0)
            return 0;
        n *= (size_t)s->d[i];
    }
    return n;
}

int fm_shape_eq(const fm_shape *a, const fm_shape *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i])
            return 0;
    return 1;
}

char *fm_shape_str(const fm_shape *s, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    for (int i = 0; i < s->ndim && i < FM_MAX_DIMS; i++) {
        int n = snprintf(buf + used, size - used, i ? "x%d" : "%d", s->d[i]);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    if (s->ndim == 0)
        snprintf(buf, size, "(scalar)");
    return buf;
}
