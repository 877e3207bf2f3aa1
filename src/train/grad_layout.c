/* grad_layout.c - forward and backward of the operators that only move values: nearest
 * Resize (YuNet's 2x upsampling in the neck) and Permute (its heads' NCHW -> NHWC), over
 * fm_fmap batches in any layout (see grad.h). Plain loops: both are a small share of a
 * training step next to the convolutions. */

#include "train/grad.h"

/* ---- Resize, nearest ----------------------------------------------------------------- */

void fm_tresize_forward(const fm_resize_param *p, const fm_fmap *x, fm_fmap *y)
{
    for (int n = 0; n < x->n; n++)
        for (int c = 0; c < x->c; c++) {
            const float *xp = fm_fmap_plane(x, n, c);
            float *yp = fm_fmap_plane(y, n, c);
            for (int oy = 0; oy < y->h; oy++) {
                const float *row = xp + (size_t)fm_resize_src_index(oy, p->scale_h, x->h) * x->w;
                float *yr = yp + (size_t)oy * y->w;
                for (int ox = 0; ox < y->w; ox++)
                    yr[ox] = row[fm_resize_src_index(ox, p->scale_w, x->w)];
            }
        }
}

void fm_tresize_backward(const fm_resize_param *p, const fm_fmap *dy, fm_fmap *dx, int add)
{
    if (!add)
        fm_fmap_zero(dx);
    for (int n = 0; n < dx->n; n++)
        for (int c = 0; c < dx->c; c++) {
            const float *gp = fm_fmap_plane(dy, n, c);
            float *dp = fm_fmap_plane(dx, n, c);
            for (int oy = 0; oy < dy->h; oy++) {
                float *row = dp + (size_t)fm_resize_src_index(oy, p->scale_h, dx->h) * dx->w;
                const float *gr = gp + (size_t)oy * dy->w;
                for (int ox = 0; ox < dy->w; ox++)
                    row[fm_resize_src_index(ox, p->scale_w, dx->w)] += gr[ox];
            }
        }
}

/* ---- Permute ------------------------------------------------------------------------- */

/* Where element (a, b, k) of a sample of y (its c, h, w) is in x: channel, row, column. */
static inline void source_of(const int order[3], int a, int b, int k, int *ch, int *row,
                             int *col)
{
    int at[3];
    at[order[0]] = a;
    at[order[1]] = b;
    at[order[2]] = k;
    *ch = at[0];
    *row = at[1];
    *col = at[2];
}

void fm_tpermute_forward(const int order[3], const fm_fmap *x, fm_fmap *y)
{
    for (int n = 0; n < y->n; n++)
        for (int a = 0; a < y->c; a++)
            for (int b = 0; b < y->h; b++) {
                float *yr = fm_fmap_plane(y, n, a) + (size_t)b * y->w;
                for (int k = 0; k < y->w; k++) {
                    int ch, row, col;
                    source_of(order, a, b, k, &ch, &row, &col);
                    yr[k] = fm_fmap_plane(x, n, ch)[(size_t)row * x->w + col];
                }
            }
}

void fm_tpermute_backward(const int order[3], const fm_fmap *dy, fm_fmap *dx, int add)
{
    for (int n = 0; n < dy->n; n++)
        for (int a = 0; a < dy->c; a++)
            for (int b = 0; b < dy->h; b++) {
                const float *gr = fm_fmap_plane(dy, n, a) + (size_t)b * dy->w;
                for (int k = 0; k < dy->w; k++) {
                    int ch, row, col;
                    source_of(order, a, b, k, &ch, &row, &col);
                    float *d = fm_fmap_plane(dx, n, ch) + (size_t)row * dx->w + col;
                    *d = add ? *d + gr[k] : gr[k];
                }
            }
}
