/* test_data_dataset.c - folder and VOC datasets (order, labels, errors), stratified and
 * by-image splits, and the sample loader against crop + resize done by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/dataset.h"
#include "test.h"

static void mkdirf(const char *fmt, const char *a, const char *b)
{
    char p[800];
    snprintf(p, sizeof p, fmt, a, b);
    FM_CHECK_MSG(mkdir(p, 0755) == 0, "mkdir %s", p);
}

static void touch(const char *dir, const char *name)
{
    char p[800];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    FM_CHECK_MSG(f != NULL, "cannot create %s", p);
    if (f) {
        fputs("not an image", f);
        fclose(f);
    }
}

static void test_dataset_folders_order_and_labels(void)
{
    char root[600], a[700], b[700], sub[800];
    snprintf(root, sizeof root, "%s/cls", fm_test_tmpdir());
    snprintf(a, sizeof a, "%s/zeta", root);
    snprintf(b, sizeof b, "%s/Alpha", root);
    snprintf(sub, sizeof sub, "%s/nested", a);
    mkdir(root, 0755);
    mkdir(a, 0755);
    mkdir(b, 0755);
    mkdir(sub, 0755);
    touch(a, "b.PNG");
    touch(a, "a.jpeg");
    touch(sub, "c.JPG");
    touch(a, "readme.txt");
    touch(a, ".hidden.jpg");
    touch(b, "x.jpg");
    touch(root, "stray.jpg"); /* not in a class folder: ignored */
    fm_err err = {0};
    fm_dataset *ds = fm_dataset_from_folders(root, &err);
    FM_CHECK_MSG(ds != NULL, "%s", err.msg);
    if (!ds)
        return;
    FM_CHECK_INT(ds->n_classes, 2);
    FM_CHECK(strcmp(ds->classes[0], "Alpha") == 0); /* byte order: 'A' < 'z' */
    FM_CHECK(strcmp(ds->classes[1], "zeta") == 0);
    FM_CHECK_INT(ds->n, 4);
    static const char *ends[4] = {"/Alpha/x.jpg", "/zeta/a.jpeg", "/zeta/b.PNG", "/zeta/nested/c.JPG"};
    static const int labels[4] = {0, 1, 1, 1};
    for (int i = 0; i < ds->n && i < 4; i++) {
        const char *p = ds->samples[i].path;
        FM_CHECK_MSG(strlen(p) > strlen(ends[i]) && !strcmp(p + strlen(p) - strlen(ends[i]), ends[i]),
                     "sample %d is %s, expected ...%s", i, p, ends[i]);
        FM_CHECK_INT(ds->samples[i].label, labels[i]);
        FM_CHECK_INT(ds->samples[i].has_box, 0);
        FM_CHECK_INT(ds->samples[i].group, i);
    }
    int counts[2];
    fm_dataset_count(ds, counts);
    FM_CHECK_INT(counts[0], 1);
    FM_CHECK_INT(counts[1], 3);
    /* the loader reports an undecodable file by its path */
    fm_load_opts lo = fm_load_defaults(8);
    fm_load_scratch sc = {0};
    float x[3 * 8 * 8];
    FM_CHECK_INT(fm_dataset_load(ds, 0, &lo, x, &sc, &err), FM_ERR_FORMAT);
    FM_CHECK_STR_CONTAINS(err.msg, "/cls/Alpha/x.jpg: not a JPEG or PNG file");
    FM_CHECK_INT(fm_dataset_load(ds, 4, &lo, x, &sc, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "sample 4 of 4");
    fm_load_scratch_free(&sc);
    fm_dataset_free(ds);
}

static void expect_folder_error(const char *dir, fm_status st, const char *needle)
{
    fm_err err = {0};
    fm_dataset *ds = fm_dataset_from_folders(dir, &err);
    FM_CHECK(ds == NULL);
    fm_dataset_free(ds);
    FM_CHECK_INT(err.status, st);
    FM_CHECK_STR_CONTAINS(err.msg, needle);
}

static void test_dataset_folder_errors(void)
{
    const char *t = fm_test_tmpdir();
    char p[700], msg[900];
    expect_folder_error("/nonexistent/cls", FM_ERR_IO, "/nonexistent/cls: cannot open folder");
    snprintf(p, sizeof p, "%s/none", t);
    mkdir(p, 0755);
    touch(p, "a.jpg");
    snprintf(msg, sizeof msg, "%s: no class folders (expected one subfolder of images per class)", p);
    expect_folder_error(p, FM_ERR_FORMAT, msg);
    snprintf(p, sizeof p, "%s/single", t);
    mkdir(p, 0755);
    mkdirf("%s/%s", p, "only");
    snprintf(msg, sizeof msg, "%s/only", p);
    touch(msg, "a.jpg");
    expect_folder_error(p, FM_ERR_FORMAT, "only one class folder (");
    expect_folder_error(p, FM_ERR_FORMAT, "/single/only); at least two classes are needed");
    snprintf(p, sizeof p, "%s/empty", t);
    mkdir(p, 0755);
    mkdirf("%s/%s", p, "a");
    mkdirf("%s/%s", p, "b");
    mkdirf("%s/%s", p, "b/deeper");
    snprintf(msg, sizeof msg, "%s/a", p);
    touch(msg, "a.jpg");
    snprintf(msg, sizeof msg, "%s/b", p);
    touch(msg, "notes.txt");
    snprintf(msg, sizeof msg, "%s/b: class folder has no images (.jpg, .jpeg or .png)", p);
    expect_folder_error(p, FM_ERR_FORMAT, msg);
}

static void test_dataset_mask_cls(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/data/mask_cls", fm_test_shared());
    fm_err err = {0};
    fm_dataset *ds = fm_dataset_from_folders(dir, &err);
    FM_CHECK_MSG(ds != NULL, "%s", err.msg);
    if (!ds)
        return;
    FM_CHECK_INT(ds->n_classes, 2);
    FM_CHECK(strcmp(ds->classes[0], "with_mask") == 0);
    FM_CHECK(strcmp(ds->classes[1], "without_mask") == 0);
    int c[2];
    fm_dataset_count(ds, c);
    FM_CHECK_INT(c[0], 2164);
    FM_CHECK_INT(c[1], 1930);
    for (int i = 1; i < ds->n; i++)
        FM_CHECK(strcmp(ds->samples[i - 1].path, ds->samples[i].path) < 0);
    /* loading a whole-image sample = fm_image_load + fm_resize_bilinear + fm_crop_to_input */
    const int S = 32;
    fm_load_opts lo = fm_load_defaults(S);
    fm_load_scratch sc = {0};
    float *x = malloc(sizeof(float) * 3 * S * S), *y = malloc(sizeof(float) * 3 * S * S);
    const int idx[3] = {0, 1000, ds->n - 1};
    for (int k = 0; k < 3; k++) {
        FM_CHECK_INT(fm_dataset_load(ds, idx[k], &lo, x, &sc, &err), FM_OK);
        fm_image *img = fm_image_load(ds->samples[idx[k]].path, 0, NULL);
        fm_image *r = fm_image_new(S, S, NULL);
        fm_resize_bilinear(img, r);
        fm_crop_to_input(r, y);
        FM_CHECK(memcmp(x, y, sizeof(float) * 3 * S * S) == 0);
        fm_image_free(img);
        fm_image_free(r);
    }
    /* with augmentation: deterministic per seed, and different from the plain load */
    fm_aug_params ap = fm_aug_defaults();
    lo.aug = &ap;
    lo.aug_seed = fm_aug_seed(1, 2, 3);
    FM_CHECK_INT(fm_dataset_load(ds, 5, &lo, x, &sc, &err), FM_OK);
    FM_CHECK_INT(fm_dataset_load(ds, 5, &lo, y, &sc, &err), FM_OK);
    FM_CHECK(memcmp(x, y, sizeof(float) * 3 * S * S) == 0);
    lo.aug = NULL;
    FM_CHECK_INT(fm_dataset_load(ds, 5, &lo, y, &sc, &err), FM_OK);
    FM_CHECK(memcmp(x, y, sizeof(float) * 3 * S * S) != 0);
    free(x);
    free(y);
    fm_load_scratch_free(&sc);
    fm_dataset_free(ds);
}

static void test_dataset_voc(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/data/mask_det", fm_test_shared());
    fm_err err = {0};
    fm_dataset *ds = fm_dataset_from_voc(dir, 0, &err);
    FM_CHECK_MSG(ds != NULL, "%s", err.msg);
    if (!ds)
        return;
    int c[3];
    FM_CHECK_INT(ds->n_classes, 3);
    fm_dataset_count(ds, c);
    FM_CHECK_INT(c[0], 1611);
    FM_CHECK_INT(c[1], 299);
    FM_CHECK_INT(c[2], 64);
    FM_CHECK_INT(ds->samples[ds->n - 1].group, 425);
    for (int i = 1; i < ds->n; i++)
        FM_CHECK(ds->samples[i].group >= ds->samples[i - 1].group);
    FM_CHECK_STR_CONTAINS(ds->samples[0].path, "mask_det/images/maksssksksss0.jpg");
    FM_CHECK(ds->samples[0].has_box);
    FM_CHECK_NEAR(ds->samples[0].box.x1, 79, 0); /* maksssksksss0.xml, first object */
    FM_CHECK_NEAR(ds->samples[0].box.y2, 142, 0);
    FM_CHECK_INT(ds->samples[0].label, 1);
    FM_CHECK_INT(fm_dataset_drop_label(ds, FM_VOC_INCORRECT), 64);
    FM_CHECK_INT(ds->n, 1910);
    FM_CHECK_INT(ds->n_classes, 3);
    /* a boxed sample loads as fm_crop_face of the decoded image */
    const int S = 24;
    fm_load_opts lo = fm_load_defaults(S);
    lo.margin = 0.2f;
    lo.square = 1;
    fm_load_scratch sc = {0};
    float x[3 * 24 * 24], y[3 * 24 * 24];
    FM_CHECK_INT(fm_dataset_load(ds, 2, &lo, x, &sc, &err), FM_OK);
    fm_image *img = fm_image_load(ds->samples[2].path, 0, NULL), *cr = fm_image_new(S, S, NULL);
    FM_CHECK_INT(fm_crop_face(img, ds->samples[2].box, 0.2f, 1, S, cr, NULL), FM_OK);
    fm_crop_to_input(cr, y);
    FM_CHECK(memcmp(x, y, sizeof x) == 0);
    fm_image_free(img);
    fm_image_free(cr);
    fm_load_scratch_free(&sc);
    fm_dataset_free(ds);
    /* min_width: boxes narrower than 16 px go (437 + 111 + 12 of them) */
    ds = fm_dataset_from_voc(dir, 16, &err);
    FM_CHECK(ds != NULL);
    if (ds) {
        fm_dataset_count(ds, c);
        FM_CHECK_INT(c[0], 1611 - 437);
        FM_CHECK_INT(c[1], 299 - 111);
        FM_CHECK_INT(c[2], 64 - 12);
    }
    fm_dataset_free(ds);
    FM_CHECK(fm_dataset_from_voc("/nonexistent", 0, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "/nonexistent/images: cannot open folder");
}

static void test_dataset_voc_bad_label_and_xml(void)
{
    char root[600], im[700], an[700], p[800];
    snprintf(root, sizeof root, "%s/vocbad", fm_test_tmpdir());
    snprintf(im, sizeof im, "%s/images", root);
    snprintf(an, sizeof an, "%s/annotations", root);
    mkdir(root, 0755);
    mkdir(im, 0755);
    mkdir(an, 0755);
    touch(im, "a.jpg");
    snprintf(p, sizeof p, "%s/a.xml", an);
    FILE *f = fopen(p, "wb");
    fputs("<annotation><object><name>person</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
          "<xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>", f);
    fclose(f);
    fm_err err = {0};
    FM_CHECK(fm_dataset_from_voc(root, 0, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "/vocbad/annotations/a.xml: <object> 1: unknown label 'person'");
    f = fopen(p, "wb");
    fputs("<annotation><object>", f);
    fclose(f);
    FM_CHECK(fm_dataset_from_voc(root, 0, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "/vocbad/annotations/a.xml: line 1: unclosed tag <object>");
}

/* A hand-made dataset: class c has sizes[c] samples, group = i / per_group. */
static fm_dataset *synthetic(const int *sizes, int n_classes, int per_group)
{
    fm_dataset *ds = calloc(1, sizeof *ds);
    ds->n_classes = n_classes;
    ds->classes = calloc((size_t)n_classes, sizeof *ds->classes);
    int n = 0;
    for (int c = 0; c < n_classes; c++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", c);
        ds->classes[c] = strdup(name);
        n += sizes[c];
    }
    ds->samples = calloc((size_t)n, sizeof *ds->samples);
    uint64_t rs = 99;
    for (int i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof path, "s%05d", i);
        ds->samples[i].path = strdup(path);
        ds->samples[i].group = i / per_group;
    }
    /* labels interleaved pseudo-randomly */
    int left[8];
    memcpy(left, sizes, sizeof(int) * (size_t)n_classes);
    for (int i = 0; i < n; i++) {
        int c;
        do
            c = (int)(fm_test_rand(&rs) % (uint32_t)n_classes);
        while (left[c] == 0);
        left[c]--;
        ds->samples[i].label = c;
    }
    ds->n = n;
    return ds;
}

static int index_of(const char *path)
{
    return atoi(path + 1);
}

static void test_dataset_split_stratified(void)
{
    const int sizes[3] = {101, 37, 5};
    fm_dataset *ds = synthetic(sizes, 3, 1);
    fm_dataset *tr = NULL, *va = NULL, *tr2 = NULL, *va2 = NULL;
    fm_err err = {0};
    FM_CHECK_INT(fm_dataset_split(ds, 0.2f, 7, &tr, &va, &err), FM_OK);
    int ct[3], cv[3];
    fm_dataset_count(tr, ct);
    fm_dataset_count(va, cv);
    static const int want_val[3] = {20, 7, 1}; /* round(0.2 n): 20.2, 7.4, 1.0 */
    for (int c = 0; c < 3; c++) {
        FM_CHECK_INT(cv[c], want_val[c]);
        FM_CHECK_INT(ct[c] + cv[c], sizes[c]);
    }
    /* disjoint, complete, and each side in the original order */
    char *seen = calloc((size_t)ds->n, 1);
    for (int i = 0; i < tr->n; i++) {
        seen[index_of(tr->samples[i].path)]++;
        if (i)
            FM_CHECK(index_of(tr->samples[i].path) > index_of(tr->samples[i - 1].path));
        FM_CHECK_INT(tr->samples[i].label, ds->samples[index_of(tr->samples[i].path)].label);
    }
    for (int i = 0; i < va->n; i++) {
        seen[index_of(va->samples[i].path)]++;
        if (i)
            FM_CHECK(index_of(va->samples[i].path) > index_of(va->samples[i - 1].path));
    }
    for (int i = 0; i < ds->n; i++)
        FM_CHECK_INT(seen[i], 1);
    free(seen);
    FM_CHECK(strcmp(va->classes[2], "c2") == 0);
    /* same seed, same split; another seed, another split */
    FM_CHECK_INT(fm_dataset_split(ds, 0.2f, 7, &tr2, &va2, &err), FM_OK);
    int same = va2->n == va->n;
    for (int i = 0; same && i < va->n; i++)
        same = !strcmp(va->samples[i].path, va2->samples[i].path);
    FM_CHECK(same);
    fm_dataset_free(tr2);
    fm_dataset_free(va2);
    FM_CHECK_INT(fm_dataset_split(ds, 0.2f, 8, &tr2, &va2, &err), FM_OK);
    same = va2->n == va->n;
    for (int i = 0; same && i < va->n; i++)
        same = !strcmp(va->samples[i].path, va2->samples[i].path);
    FM_CHECK(!same);
    fm_dataset_free(tr2);
    fm_dataset_free(va2);
    fm_dataset_free(tr);
    fm_dataset_free(va);
    /* edges: 0 and 1, and bad fractions */
    FM_CHECK_INT(fm_dataset_split(ds, 0.0f, 1, &tr, &va, &err), FM_OK);
    FM_CHECK_INT(va->n, 0);
    FM_CHECK_INT(tr->n, ds->n);
    fm_dataset_free(tr);
    fm_dataset_free(va);
    FM_CHECK_INT(fm_dataset_split(ds, 1.0f, 1, &tr, &va, &err), FM_OK);
    FM_CHECK_INT(tr->n, 0);
    fm_dataset_free(tr);
    fm_dataset_free(va);
    FM_CHECK_INT(fm_dataset_split(ds, 1.5f, 1, &tr, &va, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "val_fraction 1.5 is outside 0..1");
    FM_CHECK(tr == NULL && va == NULL);
    FM_CHECK_INT(fm_dataset_split(ds, NAN, 1, &tr, &va, &err), FM_ERR_ARG);
    fm_dataset_free(ds);
}

static void test_dataset_split_by_image(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/data/mask_det", fm_test_shared());
    fm_err err = {0};
    fm_dataset *ds = fm_dataset_from_voc(dir, 0, &err);
    FM_CHECK_MSG(ds != NULL, "%s", err.msg);
    if (!ds)
        return;
    fm_dataset *tr = NULL, *va = NULL;
    FM_CHECK_INT(fm_dataset_split_by_image(ds, 0.25f, 3, &tr, &va, &err), FM_OK);
    FM_CHECK_INT(tr->n + va->n, ds->n);
    /* no group on both sides */
    char side[426] = {0};
    for (int i = 0; i < tr->n; i++)
        side[tr->samples[i].group] |= 1;
    for (int i = 0; i < va->n; i++)
        side[va->samples[i].group] |= 2;
    int val_groups = 0, both = 0;
    for (int g = 0; g < 426; g++) {
        both += side[g] == 3;
        val_groups += side[g] == 2;
        FM_CHECK(side[g] != 0);
    }
    FM_CHECK_INT(both, 0);
    FM_CHECK_MSG(val_groups >= 104 && val_groups <= 109, "%d validation images", val_groups);
    int cv[3], call[3];
    fm_dataset_count(va, cv);
    fm_dataset_count(ds, call);
    for (int c = 0; c < 2; c++) /* roughly stratified: 15..35% of each main class */
        FM_CHECK_MSG(cv[c] * 100 >= 15 * call[c] && cv[c] * 100 <= 35 * call[c],
                     "class %d: %d of %d in val", c, cv[c], call[c]);
    fm_dataset_free(tr);
    fm_dataset_free(va);
    fm_dataset_free(ds);
    /* synthetic groups of 4: exact group counts per majority stratum, deterministic */
    const int sizes[2] = {40, 40};
    ds = synthetic(sizes, 2, 4);
    FM_CHECK_INT(fm_dataset_split_by_image(ds, 0.5f, 11, &tr, &va, &err), FM_OK);
    FM_CHECK_INT(tr->n + va->n, 80);
    FM_CHECK_INT(va->n % 4, 0);
    for (int i = 0; i < va->n; i += 4)
        FM_CHECK_INT(va->samples[i + 3].group, va->samples[i].group);
    fm_dataset_free(tr);
    fm_dataset_free(va);
    fm_dataset_free(ds);
}

void suite_data_dataset(void);
void suite_data_dataset(void)
{
    FM_RUN(test_dataset_folders_order_and_labels);
    FM_RUN(test_dataset_folder_errors);
    FM_RUN(test_dataset_mask_cls);
    FM_RUN(test_dataset_voc);
    FM_RUN(test_dataset_voc_bad_label_and_xml);
    FM_RUN(test_dataset_split_stratified);
    FM_RUN(test_dataset_split_by_image);
}
