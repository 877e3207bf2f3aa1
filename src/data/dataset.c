/* dataset.c - labelled face samples: folders, VOC, splits and the sample loader (see dataset.h). */
#include "data/dataset.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/walk.h"

/* ---- building ----------------------------------------------------------------------------- */

static fm_dataset *ds_new(int n_classes, char *const *names, fm_err *err)
{
    fm_dataset *ds = calloc(1, sizeof *ds);
    if (ds)
        ds->classes = calloc((size_t)n_classes, sizeof *ds->classes);
    if (!ds || !ds->classes) {
        free(ds);
        fm_err_set(err, FM_ERR_NOMEM, "dataset: out of memory");
        return NULL;
    }
    ds->n_classes = n_classes;
    for (int c = 0; c < n_classes; c++) {
        ds->classes[c] = strdup(names[c]);
        if (!ds->classes[c]) {
            fm_dataset_free(ds);
            fm_err_set(err, FM_ERR_NOMEM, "dataset: out of memory");
            return NULL;
        }
    }
    return ds;
}

/* Appends a sample (path copied); cap is the samples array's capacity. */
static fm_status ds_push(fm_dataset *ds, int *cap, const char *path, int label, int has_box,
                         fm_box box, int group, fm_err *err)
{
    if (ds->n >= FM_DATASET_MAX_SAMPLES)
        return fm_err_set(err, FM_ERR_LIMIT, "dataset: more than %d samples", FM_DATASET_MAX_SAMPLES);
    if (ds->n == *cap) {
        int ncap = *cap ? *cap * 2 : 256;
        fm_sample *ns = realloc(ds->samples, sizeof *ns * (size_t)ncap);
        if (!ns)
            return fm_err_set(err, FM_ERR_NOMEM, "dataset: out of memory for %d samples", ncap);
        ds->samples = ns;
        *cap = ncap;
    }
    fm_sample *s = &ds->samples[ds->n];
    s->path = strdup(path);
    if (!s->path)
        return fm_err_set(err, FM_ERR_NOMEM, "dataset: out of memory");
    s->label = label;
    s->has_box = has_box;
    s->box = box;
    s->group = group;
    ds->n++;
    return FM_OK;
}

void fm_dataset_free(fm_dataset *ds)
{
    if (!ds)
        return;
    for (int i = 0; i < ds->n; i++)
        free(ds->samples[i].path);
    free(ds->samples);
    if (ds->classes)
        for (int c = 0; c < ds->n_classes; c++)
            free(ds->classes[c]);
    free(ds->classes);
    free(ds);
}

/* ---- folders ------------------------------------------------------------------------------ */

static void note_skips(fm_dataset *ds, const fm_walk_list *l)
{
    if (l->skipped && !ds->skipped)
        snprintf(ds->first_skip, sizeof ds->first_skip, "%s", l->first_skip);
    ds->skipped += l->skipped > (size_t)INT_MAX ? INT_MAX : (int)l->skipped;
}

fm_dataset *fm_dataset_from_folders(const char *dir, fm_err *err)
{
    if (!dir) {
        fm_err_set(err, FM_ERR_ARG, "dataset: no folder given");
        return NULL;
    }
    const fm_walk_opts dir_opts = {.dirs = 1, .max_entries = FM_DATASET_MAX_CLASSES + 1};
    const fm_walk_opts img_opts = {.exts = fm_walk_image_exts,
                                   .max_depth = FM_DATASET_MAX_DEPTH,
                                   .max_entries = FM_DATASET_MAX_SAMPLES};
    fm_walk_list dirs;
    fm_dataset *ds = NULL;
    fm_status st = fm_walk(dir, &dir_opts, &dirs, err);
    if (st == FM_OK && dirs.n == 0)
        st = fm_err_set(err, FM_ERR_FORMAT,
                        "%s: no class folders (expected one subfolder of images per class)", dir);
    if (st == FM_OK && dirs.n == 1)
        st = fm_err_set(err, FM_ERR_FORMAT,
                        "%s: only one class folder (%s); at least two classes are needed", dir,
                        dirs.v[0].path);
    if (st == FM_OK && dirs.n > FM_DATASET_MAX_CLASSES)
        st = fm_err_set(err, FM_ERR_LIMIT, "%s: %zu class folders, more than %d", dir, dirs.n,
                        FM_DATASET_MAX_CLASSES);
    char **names = st == FM_OK ? malloc(dirs.n * sizeof *names) : NULL;
    if (st == FM_OK && !names)
        st = fm_err_set(err, FM_ERR_NOMEM, "dataset: out of memory");
    for (size_t c = 0; st == FM_OK && c < dirs.n; c++)
        names[c] = dirs.v[c].rel;
    if (st == FM_OK && !(ds = ds_new((int)dirs.n, names, err)))
        st = err ? err->status : FM_ERR_NOMEM;
    free(names);
    if (ds)
        note_skips(ds, &dirs);
    int cap = 0;
    for (size_t c = 0; st == FM_OK && c < dirs.n; c++) {
        fm_walk_list files;
        st = fm_walk(dirs.v[c].path, &img_opts, &files, err);
        if (st == FM_OK && files.n == 0)
            st = fm_err_set(err, FM_ERR_FORMAT,
                            "%s: class folder has no images (.jpg, .jpeg or .png)",
                            dirs.v[c].path);
        if (st == FM_OK)
            note_skips(ds, &files);
        const fm_box none = {0.0f, 0.0f, 0.0f, 0.0f};
        for (size_t i = 0; st == FM_OK && i < files.n; i++)
            st = ds_push(ds, &cap, files.v[i].path, (int)c, 0, none, ds->n, err);
        fm_walk_list_free(&files);
    }
    fm_walk_list_free(&dirs);
    if (st != FM_OK) {
        fm_dataset_free(ds);
        return NULL;
    }
    return ds;
}

/* ---- VOC ------------------------------------------------------------------------------------ */

fm_dataset *fm_dataset_from_voc(const char *dir, int min_width, fm_err *err)
{
    if (!dir) {
        fm_err_set(err, FM_ERR_ARG, "dataset: no folder given");
        return NULL;
    }
    fm_voc_dir vd;
    if (fm_voc_list(dir, &vd, err) != FM_OK)
        return NULL;
    if (vd.n == 0) {
        fm_err_set(err, FM_ERR_FORMAT, "%s: no image has an annotation (images/*.jpg with "
                                       "annotations/*.xml)", dir);
        fm_voc_dir_free(&vd);
        return NULL;
    }
    char *names[3] = {"with_mask", "without_mask", "mask_weared_incorrect"};
    fm_dataset *ds = ds_new(3, names, err);
    fm_status st = ds ? FM_OK : FM_ERR_NOMEM;
    int cap = 0;
    for (int g = 0; st == FM_OK && g < vd.n; g++) {
        fm_voc v;
        st = fm_voc_load(vd.items[g].xml, &v, err);
        for (int k = 0; st == FM_OK && k < v.n_objects; k++) {
            const fm_voc_object *o = &v.objects[k];
            const int label = fm_voc_label(o->name);
            if (label < 0) {
                st = fm_err_set(err, FM_ERR_FORMAT,
                                "%s: <object> %d: unknown label '%s' (expected with_mask, "
                                "without_mask or mask_weared_incorrect)",
                                vd.items[g].xml, k + 1, o->name);
                break;
            }
            if (o->xmax - o->xmin < (float)min_width)
                continue;
            const fm_box b = {o->xmin, o->ymin, o->xmax, o->ymax};
            st = ds_push(ds, &cap, vd.items[g].image, label, 1, b, g, err);
        }
        fm_voc_free(&v);
    }
    fm_voc_dir_free(&vd);
    if (st != FM_OK) {
        fm_dataset_free(ds);
        return NULL;
    }
    return ds;
}

int fm_dataset_drop_label(fm_dataset *ds, int label)
{
    if (!ds)
        return 0;
    int k = 0;
    for (int i = 0; i < ds->n; i++) {
        if (ds->samples[i].label == label)
            free(ds->samples[i].path);
        else
            ds->samples[k++] = ds->samples[i];
    }
    const int removed = ds->n - k;
    ds->n = k;
    return removed;
}

void fm_dataset_count(const fm_dataset *ds, int *counts)
{
    for (int c = 0; c < ds->n_classes; c++)
        counts[c] = 0;
    for (int i = 0; i < ds->n; i++)
        if (ds->samples[i].label >= 0 && ds->samples[i].label < ds->n_classes)
            counts[ds->samples[i].label]++;
}

/* ---- splits ------------------------------------------------------------------------------- */

/* Copies of the samples with pick[i] == side, in order. */
static fm_dataset *ds_subset(const fm_dataset *ds, const unsigned char *pick, int side, fm_err *err)
{
    fm_dataset *out = ds_new(ds->n_classes, ds->classes, err);
    if (!out)
        return NULL;
    int cap = 0;
    for (int i = 0; i < ds->n; i++) {
        if (pick[i] != side)
            continue;
        const fm_sample *s = &ds->samples[i];
        if (ds_push(out, &cap, s->path, s->label, s->has_box, s->box, s->group, err) != FM_OK) {
            fm_dataset_free(out);
            return NULL;
        }
    }
    return out;
}

static void shuffle(int *v, int n, fm_rng *r)
{
    for (int i = n - 1; i > 0; i--) {
        const int j = (int)fm_rng_below(r, (uint64_t)i + 1);
        const int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

static int take(float frac, int n)
{
    const int k = (int)(frac * (double)n + 0.5);
    return k < 0 ? 0 : k > n ? n : k;
}

static fm_status check_split(const fm_dataset *ds, float frac, fm_dataset **train,
                             fm_dataset **val, fm_err *err)
{
    if (train)
        *train = NULL;
    if (val)
        *val = NULL;
    if (!ds || !train || !val)
        return fm_err_set(err, FM_ERR_ARG, "dataset split: missing dataset or outputs");
    if (!(frac >= 0.0f && frac <= 1.0f))
        return fm_err_set(err, FM_ERR_ARG, "dataset split: val_fraction %g is outside 0..1",
                          (double)frac);
    for (int i = 0; i < ds->n; i++)
        if (ds->samples[i].label < 0 || ds->samples[i].label >= ds->n_classes)
            return fm_err_set(err, FM_ERR_ARG, "dataset split: sample %d has label %d of %d classes",
                              i, ds->samples[i].label, ds->n_classes);
    return FM_OK;
}

static fm_status finish_split(const fm_dataset *ds, const unsigned char *pick, fm_dataset **train,
                              fm_dataset **val, fm_err *err)
{
    *train = ds_subset(ds, pick, 0, err);
    *val = *train ? ds_subset(ds, pick, 1, err) : NULL;
    if (!*train || !*val) {
        fm_dataset_free(*train);
        *train = NULL;
        return err ? err->status : FM_ERR_NOMEM;
    }
    return FM_OK;
}

fm_status fm_dataset_split(const fm_dataset *ds, float val_fraction, uint64_t seed,
                           fm_dataset **train, fm_dataset **val, fm_err *err)
{
    fm_status st = check_split(ds, val_fraction, train, val, err);
    if (st != FM_OK)
        return st;
    unsigned char *pick = calloc((size_t)ds->n + 1, 1);
    int *idx = malloc(sizeof(int) * ((size_t)ds->n + 1));
    if (!pick || !idx) {
        free(pick);
        free(idx);
        return fm_err_set(err, FM_ERR_NOMEM, "dataset split: out of memory");
    }
    fm_rng r;
    fm_rng_init(&r, seed);
    for (int c = 0; c < ds->n_classes; c++) {
        int n = 0;
        for (int i = 0; i < ds->n; i++)
            if (ds->samples[i].label == c)
                idx[n++] = i;
        shuffle(idx, n, &r);
        const int k = take(val_fraction, n);
        for (int j = 0; j < k; j++)
            pick[idx[j]] = 1;
    }
    st = finish_split(ds, pick, train, val, err);
    free(pick);
    free(idx);
    return st;
}

typedef struct {
    int group, index;
} group_ref;

static int cmp_group_ref(const void *a, const void *b)
{
    const group_ref *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

fm_status fm_dataset_split_by_image(const fm_dataset *ds, float val_fraction, uint64_t seed,
                                    fm_dataset **train, fm_dataset **val, fm_err *err)
{
    fm_status st = check_split(ds, val_fraction, train, val, err);
    if (st != FM_OK)
        return st;
    const size_t n = (size_t)ds->n + 1;
    group_ref *refs = malloc(sizeof *refs * n);
    int *gstart = malloc(sizeof(int) * (n + 1)), *glabel = malloc(sizeof(int) * n);
    int *idx = malloc(sizeof(int) * n), *counts = calloc((size_t)ds->n_classes, sizeof(int));
    unsigned char *gpick = calloc(n, 1), *pick = calloc(n, 1);
    if (!refs || !gstart || !glabel || !idx || !counts || !gpick || !pick) {
        st = fm_err_set(err, FM_ERR_NOMEM, "dataset split: out of memory");
        goto done;
    }
    for (int i = 0; i < ds->n; i++) {
        refs[i].group = ds->samples[i].group;
        refs[i].index = i;
    }
    if (ds->n > 1)
        qsort(refs, (size_t)ds->n, sizeof *refs, cmp_group_ref);
    /* Groups in ascending id order: gstart[g] .. gstart[g + 1] in refs; majority labels. */
    int ng = 0;
    for (int i = 0; i < ds->n; i++) {
        if (i == 0 || refs[i].group != refs[i - 1].group)
            gstart[ng++] = i;
    }
    gstart[ng] = ds->n;
    for (int g = 0; g < ng; g++) {
        for (int c = 0; c < ds->n_classes; c++)
            counts[c] = 0;
        for (int i = gstart[g]; i < gstart[g + 1]; i++)
            counts[ds->samples[refs[i].index].label]++;
        int best = 0;
        for (int c = 1; c < ds->n_classes; c++)
            if (counts[c] > counts[best])
                best = c;
        glabel[g] = best;
    }
    fm_rng r;
    fm_rng_init(&r, seed);
    for (int c = 0; c < ds->n_classes; c++) {
        int m = 0;
        for (int g = 0; g < ng; g++)
            if (glabel[g] == c)
                idx[m++] = g;
        shuffle(idx, m, &r);
        const int k = take(val_fraction, m);
        for (int j = 0; j < k; j++)
            gpick[idx[j]] = 1;
    }
    for (int g = 0; g < ng; g++)
        for (int i = gstart[g]; i < gstart[g + 1]; i++)
            pick[refs[i].index] = gpick[g];
    st = finish_split(ds, pick, train, val, err);
done:
    free(refs);
    free(gstart);
    free(glabel);
    free(idx);
    free(counts);
    free(gpick);
    free(pick);
    return st;
}

/* ---- loading -------------------------------------------------------------------------------- */

fm_load_opts fm_load_defaults(int size)
{
    fm_load_opts o;
    memset(&o, 0, sizeof o);
    o.size = size;
    return o;
}

void fm_load_scratch_free(fm_load_scratch *s)
{
    if (!s)
        return;
    fm_image_free(s->crop);
    fm_image_free(s->aug);
    s->crop = s->aug = NULL;
}

static fm_status ensure(fm_image **img, int size, fm_err *err)
{
    if (*img && (*img)->w == size && (*img)->h == size)
        return FM_OK;
    fm_image_free(*img);
    *img = fm_image_new(size, size, err);
    return *img ? FM_OK : (err ? err->status : FM_ERR_NOMEM);
}

fm_status fm_dataset_load(const fm_dataset *ds, int i, const fm_load_opts *o, float *chw,
                          fm_load_scratch *scratch, fm_err *err)
{
    if (!ds || !o || !chw || !scratch)
        return fm_err_set(err, FM_ERR_ARG, "dataset load: missing argument");
    if (i < 0 || i >= ds->n)
        return fm_err_set(err, FM_ERR_ARG, "dataset load: sample %d of %d", i, ds->n);
    if (o->size < 1 || o->size > FM_CROP_MAX_SIDE)
        return fm_err_set(err, FM_ERR_ARG, "dataset load: size %d is outside 1..%d", o->size,
                          FM_CROP_MAX_SIDE);
    const fm_sample *s = &ds->samples[i];
    fm_status st = ensure(&scratch->crop, o->size, err);
    if (st == FM_OK && o->aug)
        st = ensure(&scratch->aug, o->size, err);
    if (st != FM_OK)
        return st;
    fm_image *img = fm_image_load(s->path, o->max_pixels, err);
    if (!img)
        return err ? err->status : FM_ERR_IO;
    if (s->has_box) {
        st = fm_crop_face(img, s->box, o->margin, o->square, o->size, scratch->crop, err);
    } else {
        fm_resize_bilinear(img, scratch->crop); /* the whole image, stretched to S x S */
    }
    if (st != FM_OK)
        fm_err_prefix(err, "%s (%dx%d): ", s->path, img->w, img->h);
    fm_image_free(img);
    if (st != FM_OK)
        return st;
    const fm_image *x = scratch->crop;
    if (o->aug) {
        st = fm_augment(scratch->crop, scratch->aug, o->aug, o->aug_seed, err);
        if (st != FM_OK) {
            fm_err_prefix(err, "%s: ", s->path);
            return st;
        }
        x = scratch->aug;
    }
    fm_crop_to_input(x, chw);
    return FM_OK;
}
