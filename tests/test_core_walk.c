/* The folder walker (core/walk.h) and the regular-file check of fm_read_file / fm_image_load:
 * loops end, each file once, sorted, capped, non-regular entries skipped with a message. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/file.h"
#include "core/walk.h"
#include "data/dataset.h"
#include "data/voc.h"
#include "io/image.h"
#include "test.h"

static void touch(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    fm_test_write_text(p, "x");
}

static void sub(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

typedef struct {
    int n;
    char last[512];
} skips;

static void on_skip(void *ctx, const char *msg)
{
    skips *s = ctx;
    s->n++;
    snprintf(s->last, sizeof s->last, "%s", msg);
}

/* Sorted by relative path, hidden names and other extensions left out, any-case extensions. */
static void test_walk_sorted_and_filtered(void)
{
    char root[600], p[700];
    sub(root, sizeof root, fm_test_tmpdir(), "sorted");
    mkdir(root, 0700);
    touch(root, "b.JPG");
    touch(root, "a.png");
    touch(root, ".hidden.jpg");
    touch(root, "notes.txt");
    touch(root, ".jpg"); /* nothing before the dot */
    sub(p, sizeof p, root, "a");
    mkdir(p, 0700);
    touch(p, "z.jpeg");
    fm_walk_opts o = {.exts = fm_walk_image_exts, .max_depth = FM_WALK_MAX_DEPTH};
    fm_walk_list l;
    fm_err err = {0};
    FM_CHECK_INT(fm_walk(root, &o, &l, &err), FM_OK);
    FM_CHECK_INT(l.n, 3);
    if (l.n == 3) {
        FM_CHECK(strcmp(l.v[0].rel, "a.png") == 0); /* '.' sorts before '/' */
        FM_CHECK(strcmp(l.v[1].rel, "a/z.jpeg") == 0);
        FM_CHECK(strcmp(l.v[2].rel, "b.JPG") == 0);
        char want[800];
        snprintf(want, sizeof want, "%s/a/z.jpeg", root);
        FM_CHECK(strcmp(l.v[1].path, want) == 0);
    }
    FM_CHECK_INT(l.skipped, 0);
    fm_walk_list_free(&l);

    o.max_depth = 0; /* one level: the subfolder is ignored, silently */
    FM_CHECK_INT(fm_walk(root, &o, &l, &err), FM_OK);
    FM_CHECK_INT(l.n, 2);
    FM_CHECK_INT(l.skipped, 0);
    fm_walk_list_free(&l);
}

/* Links to the folder itself and back up: the walk ends, each file once, loops reported. */
static void test_walk_loops_end(void)
{
    char root[600], p[700];
    sub(root, sizeof root, fm_test_tmpdir(), "loop");
    mkdir(root, 0700);
    touch(root, "a.jpg");
    sub(p, sizeof p, root, "x");
    FM_CHECK(symlink(".", p) == 0);
    sub(p, sizeof p, root, "y");
    FM_CHECK(symlink(".", p) == 0);
    sub(p, sizeof p, root, "d");
    mkdir(p, 0700);
    touch(p, "b.jpg");
    sub(p, sizeof p, root, "d/up");
    FM_CHECK(symlink("..", p) == 0);
    sub(p, sizeof p, root, "c_link_to_d"); /* sorts before d, but d is real: d is entered */
    FM_CHECK(symlink("d", p) == 0);
    skips s = {0};
    fm_walk_opts o = {.exts = fm_walk_image_exts, .max_depth = FM_WALK_MAX_DEPTH,
                      .on_skip = on_skip, .ctx = &s};
    fm_walk_list l;
    fm_err err = {0};
    const clock_t t0 = clock();
    FM_CHECK_INT(fm_walk(root, &o, &l, &err), FM_OK);
    FM_CHECK(clock() - t0 < 2 * CLOCKS_PER_SEC);
    FM_CHECK_INT(l.n, 2);
    if (l.n == 2) {
        FM_CHECK(strcmp(l.v[0].rel, "a.jpg") == 0);
        FM_CHECK(strcmp(l.v[1].rel, "d/b.jpg") == 0);
    }
    FM_CHECK_INT(l.skipped, 4); /* x, y, d/up, c_link_to_d */
    FM_CHECK_INT(s.n, 4);
    FM_CHECK_STR_CONTAINS(l.first_skip, "folder already listed");
    fm_walk_list_free(&l);
}

/* A link to a file already listed is skipped; the first path in sort order is kept. */
static void test_walk_file_links_once(void)
{
    char root[600], p[700];
    sub(root, sizeof root, fm_test_tmpdir(), "flinks");
    mkdir(root, 0700);
    touch(root, "b.jpg");
    sub(p, sizeof p, root, "a.jpg");
    FM_CHECK(symlink("b.jpg", p) == 0);
    sub(p, sizeof p, root, "broken.jpg");
    FM_CHECK(symlink("nowhere.jpg", p) == 0);
    fm_walk_opts o = {.exts = fm_walk_image_exts, .max_depth = 1};
    fm_walk_list l;
    fm_err err = {0};
    FM_CHECK_INT(fm_walk(root, &o, &l, &err), FM_OK);
    FM_CHECK_INT(l.n, 1);
    if (l.n == 1)
        FM_CHECK(strcmp(l.v[0].rel, "a.jpg") == 0);
    FM_CHECK_INT(l.skipped, 2);
    FM_CHECK_STR_CONTAINS(l.first_skip, "broken.jpg: cannot read:");
    fm_walk_list_free(&l);
}

/* A FIFO and /dev/zero named as images are skipped and counted; fm_read_file and
 * fm_image_load refuse them at once (no blocking open, no endless read). */
static void test_walk_skips_non_regular(void)
{
    char root[600], fifo[700], zero[700];
    sub(root, sizeof root, fm_test_tmpdir(), "special");
    mkdir(root, 0700);
    touch(root, "a.jpg");
    sub(fifo, sizeof fifo, root, "f.png");
    FM_CHECK(mkfifo(fifo, 0600) == 0);
    sub(zero, sizeof zero, root, "z.jpg");
    FM_CHECK(symlink("/dev/zero", zero) == 0);
    skips s = {0};
    fm_walk_opts o = {.exts = fm_walk_image_exts, .on_skip = on_skip, .ctx = &s};
    fm_walk_list l;
    fm_err err = {0};
    FM_CHECK_INT(fm_walk(root, &o, &l, &err), FM_OK);
    FM_CHECK_INT(l.n, 1);
    FM_CHECK_INT(l.skipped, 2);
    FM_CHECK_STR_CONTAINS(l.first_skip, "f.png: not a regular file (fifo), skipped");
    FM_CHECK_STR_CONTAINS(s.last, "z.jpg: not a regular file (character device), skipped");
    fm_walk_list_free(&l);

    unsigned char *buf;
    size_t len;
    FM_CHECK_INT(fm_read_file(fifo, 1 << 20, NULL, &buf, &len, &err), FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "f.png: not a regular file (fifo)");
    fm_image *img = fm_image_load(zero, 0, &err);
    FM_CHECK(img == NULL);
    FM_CHECK_INT(err.status, FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "z.jpg: not a regular file (character device)");
    img = fm_image_load(fifo, 0, &err);
    FM_CHECK(img == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "f.png: not a regular file (fifo)");

    /* the folder readers built on the walker skip them too */
    fm_voc_dir vd;
    char voc[700], p[800];
    sub(voc, sizeof voc, fm_test_tmpdir(), "voc");
    mkdir(voc, 0700);
    sub(p, sizeof p, voc, "images");
    mkdir(p, 0700);
    touch(p, "a.jpg");
    sub(p, sizeof p, voc, "images/b.jpg");
    FM_CHECK(mkfifo(p, 0600) == 0);
    sub(p, sizeof p, voc, "annotations");
    mkdir(p, 0700);
    touch(p, "a.xml");
    touch(p, "b.xml");
    FM_CHECK_INT(fm_voc_list(voc, &vd, &err), FM_OK);
    FM_CHECK_INT(vd.n, 1);
    FM_CHECK_INT(vd.skipped, 1);
    FM_CHECK_INT(vd.xml_without_image, 1);
    fm_voc_dir_free(&vd);
}

/* The entry cap: FM_ERR_LIMIT naming the folder, at the cap exactly it still lists. */
static void test_walk_entry_cap(void)
{
    char root[600];
    sub(root, sizeof root, fm_test_tmpdir(), "many");
    mkdir(root, 0700);
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "%02d.jpg", i);
        touch(root, name);
    }
    fm_walk_opts o = {.exts = fm_walk_image_exts, .max_entries = 10};
    fm_walk_list l;
    fm_err err = {0};
    FM_CHECK_INT(fm_walk(root, &o, &l, &err), FM_OK);
    FM_CHECK_INT(l.n, 10);
    fm_walk_list_free(&l);
    o.max_entries = 9;
    FM_CHECK_INT(fm_walk(root, &o, &l, &err), FM_ERR_LIMIT);
    FM_CHECK_INT(l.n, 0);
    FM_CHECK_STR_CONTAINS(err.msg, "many: more than 9 entries");
    fm_walk_list_free(&l);
}

/* Nested deeper than max_depth: skipped and reported; the root must be a folder. */
static void test_walk_depth_and_errors(void)
{
    char root[600], p[700];
    sub(root, sizeof root, fm_test_tmpdir(), "deep");
    mkdir(root, 0700);
    sub(p, sizeof p, root, "1");
    mkdir(p, 0700);
    touch(p, "one.jpg");
    sub(p, sizeof p, root, "1/2");
    mkdir(p, 0700);
    touch(p, "two.jpg");
    fm_walk_opts o = {.exts = fm_walk_image_exts, .max_depth = 1};
    fm_walk_list l;
    fm_err err = {0};
    FM_CHECK_INT(fm_walk(root, &o, &l, &err), FM_OK);
    FM_CHECK_INT(l.n, 1);
    FM_CHECK_INT(l.skipped, 1);
    FM_CHECK_STR_CONTAINS(l.first_skip, "1/2: folder nested deeper than 1 levels, skipped");
    fm_walk_list_free(&l);

    sub(p, sizeof p, root, "missing");
    FM_CHECK_INT(fm_walk(p, &o, &l, &err), FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "missing: cannot open folder: No such file");
    sub(p, sizeof p, root, "1/one.jpg");
    FM_CHECK_INT(fm_walk(p, &o, &l, &err), FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "one.jpg: cannot open folder: not a folder");
    FM_CHECK_INT(fm_walk(NULL, &o, &l, &err), FM_ERR_ARG);

    /* dirs mode: the root's subfolders, links to folders included, sorted */
    sub(p, sizeof p, root, "0_link");
    FM_CHECK(symlink("1", p) == 0);
    fm_walk_opts d = {.dirs = 1};
    FM_CHECK_INT(fm_walk(root, &d, &l, &err), FM_OK);
    FM_CHECK_INT(l.n, 2);
    if (l.n == 2) {
        FM_CHECK(strcmp(l.v[0].rel, "0_link") == 0);
        FM_CHECK(strcmp(l.v[1].rel, "1") == 0);
    }
    fm_walk_list_free(&l);
}

/* A class folder with a link loop and a FIFO: the dataset lists each image once. */
static void test_dataset_folders_with_loops(void)
{
    char root[600], p[700];
    sub(root, sizeof root, fm_test_tmpdir(), "cls");
    mkdir(root, 0700);
    const char *classes[2] = {"with_mask", "without_mask"};
    for (int c = 0; c < 2; c++) {
        sub(p, sizeof p, root, classes[c]);
        mkdir(p, 0700);
        touch(p, "a.jpg");
        char q[800];
        sub(q, sizeof q, p, "loop");
        FM_CHECK(symlink(".", q) == 0);
        sub(q, sizeof q, p, "f.jpg");
        FM_CHECK(mkfifo(q, 0600) == 0);
    }
    fm_err err = {0};
    fm_dataset *ds = fm_dataset_from_folders(root, &err);
    FM_CHECK_MSG(ds != NULL, "%s", err.msg);
    if (!ds)
        return;
    FM_CHECK_INT(ds->n, 2);
    FM_CHECK_INT(ds->n_classes, 2);
    FM_CHECK_INT(ds->skipped, 4);
    FM_CHECK_STR_CONTAINS(ds->first_skip, "skipped");
    fm_dataset_free(ds);
}

void suite_core_walk(void);
void suite_core_walk(void)
{
    FM_RUN(test_walk_sorted_and_filtered);
    FM_RUN(test_walk_loops_end);
    FM_RUN(test_walk_file_links_once);
    FM_RUN(test_walk_skips_non_regular);
    FM_RUN(test_walk_entry_cap);
    FM_RUN(test_walk_depth_and_errors);
    FM_RUN(test_dataset_folders_with_loops);
}
