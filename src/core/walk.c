/* walk.c - the folder walker (see walk.h): sorted, each folder entered once, capped. */
#include "core/walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/file.h"

const char *const fm_walk_image_exts[] = {"jpg", "jpeg", "png", NULL};

/* ---- a set of (device, inode) pairs: open addressing, grown at half full ---------------- */

typedef struct {
    dev_t dev;
    ino_t ino;
    int used;
} id_slot;

typedef struct {
    id_slot *s;
    size_t cap, n;
} id_set;

static size_t id_hash(dev_t dev, ino_t ino)
{
    uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h ^ (h >> 29));
}

/* 1: added, 0: already there, -1: out of memory. */
static int id_add(id_set *set, dev_t dev, ino_t ino)
{
    if (2 * (set->n + 1) > set->cap) {
        size_t ncap = set->cap ? set->cap * 2 : 64;
        id_slot *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return -1;
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->s[i].used)
                continue;
            size_t j = id_hash(set->s[i].dev, set->s[i].ino) & (ncap - 1);
            while (ns[j].used)
                j = (j + 1) & (ncap - 1);
            ns[j] = set->s[i];
        }
        free(set->s);
        set->s = ns;
        set->cap = ncap;
    }
    size_t j = id_hash(dev, ino) & (set->cap - 1);
    for (; set->s[j].used; j = (j + 1) & (set->cap - 1))
        if (set->s[j].dev == dev && set->s[j].ino == ino)
            return 0;
    set->s[j] = (id_slot){dev, ino, 1};
    set->n++;
    return 1;
}

/* ---- the walk ------------------------------------------------------------------------------ */

typedef struct {
    char *path, *rel;
    dev_t dev;
    ino_t ino;
} item;

typedef struct {
    const fm_walk_opts *o;
    const char *root;
    size_t max;
    fm_walk_list *out;
    item *items;
    size_t nitems, cap;
    id_set dirs;
    fm_err *err;
} walker;

int fm_walk_name_matches(const char *name, const char *const *exts)
{
    if (!exts)
        return 1;
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return 0;
    for (int i = 0; exts[i]; i++)
        if (strcasecmp(dot + 1, exts[i]) == 0)
            return 1;
    return 0;
}

static void skip(walker *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void skip(walker *w, const char *fmt, ...)
{
    char msg[sizeof w->out->first_skip];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!w->out->skipped++)
        memcpy(w->out->first_skip, msg, sizeof msg);
    if (w->o->on_skip)
        w->o->on_skip(w->o->ctx, msg);
}

static char *join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    int slash = na > 0 && a[na - 1] != '/';
    char *s = malloc(na + nb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, na);
    if (slash)
        s[na++] = '/';
    memcpy(s + na, b, nb + 1);
    return s;
}

static fm_status nomem(walker *w)
{
    return fm_err_set(w->err, FM_ERR_NOMEM, "%s: out of memory listing files", w->root);
}

/* Takes path and rel (freed on failure). */
static fm_status add_item(walker *w, char *path, char *rel, const struct stat *sb)
{
    if (w->nitems >= w->max) {
        free(path);
        free(rel);
        return fm_err_set(w->err, FM_ERR_LIMIT, "%s: more than %zu %s", w->root, w->max,
                          w->o->dirs ? "folders" : "files");
    }
    if (w->nitems == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 64;
        item *nv = realloc(w->items, ncap * sizeof *nv);
        if (!nv) {
            free(path);
            free(rel);
            return nomem(w);
        }
        w->items = nv;
        w->cap = ncap;
    }
    w->items[w->nitems++] = (item){path, rel, sb->st_dev, sb->st_ino};
    return FM_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const item *)a)->rel, ((const item *)b)->rel);
}

/* The names in dir (no '.' names), sorted; NULL with *n == 0 for an empty folder. */
static fm_status read_names(walker *w, DIR *d, const char *dir, char ***names, size_t *n)
{
    size_t cap = 0;
    *names = NULL;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (*n >= w->max)
            return fm_err_set(w->err, FM_ERR_LIMIT, "%s: more than %zu entries", dir, w->max);
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(*names, cap * sizeof *nn);
            if (!nn)
                return nomem(w);
            *names = nn;
        }
        if (!((*names)[*n] = strdup(e->d_name)))
            return nomem(w);
        (*n)++;
    }
    if (*n > 1)
        qsort(*names, *n, sizeof **names, cmp_str);
    return FM_OK;
}

static fm_status walk_dir(walker *w, const char *dir, const char *rel, int depth);

/* One entry of dir; pass 0 takes everything but links to folders, pass 1 those links. */
static fm_status visit(walker *w, const char *dir, const char *rel, const char *name, int depth,
                       int pass)
{
    char *path = join(dir, name);
    char *sub = *rel ? join(rel, name) : strdup(name);
    if (!path || !sub) {
        free(path);
        free(sub);
        return nomem(w);
    }
    fm_status st = FM_OK;
    struct stat lsb, sb;
    int linked = lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode);
    int wanted = !w->o->dirs && fm_walk_name_matches(name, w->o->exts);
    if (stat(path, &sb) != 0) {
        if (pass == 0 && wanted)
            skip(w, "%s: cannot read: %s, skipped", path, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        if (pass != linked) {
            /* the other pass */
        } else if (w->o->dirs) {
            st = add_item(w, path, sub, &sb);
            path = sub = NULL;
        } else if (depth >= w->o->max_depth) {
            if (w->o->max_depth > 0)
                skip(w, "%s: folder nested deeper than %d levels, skipped", path,
                     w->o->max_depth);
        } else {
            int added = w->dirs.n >= w->max ? -2 : id_add(&w->dirs, sb.st_dev, sb.st_ino);
            if (added == -2)
                st = fm_err_set(w->err, FM_ERR_LIMIT, "%s: more than %zu folders", w->root,
                                w->max);
            else if (added < 0)
                st = nomem(w);
            else if (added == 0)
                skip(w, "%s: folder already listed (a symbolic-link loop or a second link), "
                        "skipped", path);
            else
                st = walk_dir(w, path, sub, depth + 1);
        }
    } else if (pass == 0 && wanted) {
        if (S_ISREG(sb.st_mode)) {
            st = add_item(w, path, sub, &sb);
            path = sub = NULL;
        } else {
            skip(w, "%s: not a regular file (%s), skipped", path, fm_file_kind((unsigned)sb.st_mode));
        }
    }
    free(path);
    free(sub);
    return st;
}

static fm_status walk_dir(walker *w, const char *dir, const char *rel, int depth)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (depth == 0)
            return fm_err_set(w->err, FM_ERR_IO, "%s: cannot open folder: %s", dir,
                              strerror(errno));
        skip(w, "%s: cannot open folder: %s, skipped", dir, strerror(errno));
        return FM_OK;
    }
    char **names;
    size_t n;
    fm_status st = read_names(w, d, dir, &names, &n);
    closedir(d);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n && st == FM_OK; i++)
            st = visit(w, dir, rel, names[i], depth, pass);
    for (size_t i = 0; i < n && names && names[i]; i++)
        free(names[i]);
    free(names);
    return st;
}

fm_status fm_walk(const char *root, const fm_walk_opts *opts, fm_walk_list *out, fm_err *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!root || !opts || !out)
        return fm_err_set(err, FM_ERR_ARG, "walk: NULL %s", !root ? "folder" : !opts ? "options" : "list");
    walker w = {.o = opts, .root = root, .out = out, .err = err};
    w.max = opts->max_entries ? opts->max_entries : FM_WALK_MAX_ENTRIES;
    struct stat sb;
    fm_status st = FM_OK;
    if (stat(root, &sb) != 0)
        st = fm_err_set(err, FM_ERR_IO, "%s: cannot open folder: %s", root, strerror(errno));
    else if (!S_ISDIR(sb.st_mode))
        st = fm_err_set(err, FM_ERR_IO, "%s: cannot open folder: not a folder", root);
    else if (id_add(&w.dirs, sb.st_dev, sb.st_ino) < 0)
        st = nomem(&w);
    if (st == FM_OK)
        st = walk_dir(&w, root, "", 0);
    free(w.dirs.s);
    if (st == FM_OK && w.nitems > 1)
        qsort(w.items, w.nitems, sizeof *w.items, cmp_item);
    /* a file reached twice (links) is kept under its first path in sort order */
    id_set files = {0};
    if (st == FM_OK && w.nitems && !(out->v = malloc(w.nitems * sizeof *out->v)))
        st = nomem(&w);
    for (size_t i = 0; i < w.nitems; i++) {
        int added = st != FM_OK || opts->dirs ? 1 : id_add(&files, w.items[i].dev, w.items[i].ino);
        if (added < 0)
            st = nomem(&w);
        if (st == FM_OK && added == 0)
            skip(&w, "%s: same file as one listed before (a link), skipped", w.items[i].path);
        if (st == FM_OK && added == 1) {
            out->v[out->n++] = (fm_walk_entry){w.items[i].path, w.items[i].rel};
            continue;
        }
        free(w.items[i].path);
        free(w.items[i].rel);
    }
    out->cap = out->n;
    free(files.s);
    free(w.items);
    if (st != FM_OK)
        fm_walk_list_free(out);
    return st;
}

void fm_walk_list_free(fm_walk_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].rel);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}
