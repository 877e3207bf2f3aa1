/* outputs.c - snapshots and the recording's canvas (video/outputs.h). */
#include "video/outputs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fm_snapshot_wanted(fm_snapshot_set *s, const fm_track_event *e)
{
    if (!s || !e || e->label != FM_LABEL_NO_MASK || e->id < 0 ||
        (e->type != FM_TRACK_APPEAR && e->type != FM_TRACK_LABEL))
        return 0;
    if (e->id >= s->cap) {
        int cap = s->cap ? s->cap : 256;
        while (cap <= e->id)
            cap *= 2;
        unsigned char *t = realloc(s->taken, (size_t)cap);
        if (!t)
            return 0;
        memset(t + s->cap, 0, (size_t)(cap - s->cap));
        s->taken = t;
        s->cap = cap;
    }
    if (s->taken[e->id])
        return 0;
    s->taken[e->id] = 1;
    return 1;
}

void fm_snapshot_set_free(fm_snapshot_set *s)
{
    if (!s)
        return;
    free(s->taken);
    s->taken = NULL;
    s->cap = 0;
}

fm_status fm_snapshot_save(const char *dir, const fm_image *img, int id, long long frame,
                           char *path, size_t path_len, fm_err *err)
{
    char tmp[4200];
    snprintf(path, path_len, "%s/no_mask_id%04d_frame%06lld.jpg", dir, id, frame);
    snprintf(tmp, sizeof tmp, "%s/.no_mask_id%04d_frame%06lld.jpg.part", dir, id, frame);
    fm_status st = fm_image_save_jpeg(img, tmp, 90, err);
    if (st == FM_OK && rename(tmp, path) != 0)
        st = fm_err_set(err, FM_ERR_IO, "%s: cannot rename to %s: %s", tmp, path,
                        strerror(errno));
    if (st != FM_OK)
        unlink(tmp);
    return st;
}

void fm_image_letterbox(const fm_image *src, fm_image *canvas)
{
    memset(canvas->data, 0, (size_t)canvas->stride * (size_t)canvas->h);
    double sx = (double)canvas->w / src->w, sy = (double)canvas->h / src->h;
    double sc = sx < sy ? sx : sy;
    int w = (int)(src->w * sc + 0.5), h = (int)(src->h * sc + 0.5);
    w = w < 1 ? 1 : (w > canvas->w ? canvas->w : w);
    h = h < 1 ? 1 : (h > canvas->h ? canvas->h : h);
    fm_image view = {w, h, canvas->stride,
                     canvas->data + (size_t)((canvas->h - h) / 2) * (size_t)canvas->stride +
                         (size_t)((canvas->w - w) / 2) * 3};
    fm_resize_bilinear(src, &view);
}
