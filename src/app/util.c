#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "app/app.h"
#include "core/file.h"
#include "core/log.h"
#include "core/walk.h"

static fm_status push(fm_file_list *l, char *path, char *rel, fm_err *err)
{
    if (!path || !rel) {
        free(path);
        free(rel);
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory listing images");
    }
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->paths, (size_t)cap * sizeof *p);
        if (p)
            l->paths = p;
        char **r = realloc(l->rel, (size_t)cap * sizeof *r);
        if (r)
            l->rel = r;
        if (!p || !r) {
            free(path);
            free(rel);
            return fm_err_set(err, FM_ERR_NOMEM, "out of memory listing images");
        }
        l->cap = cap;
    }
    l->paths[l->n] = path;
    l->rel[l->n] = rel;
    l->n++;
    return FM_OK;
}

void fm_print_skip(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "facemask: %s\n", msg);
}

static fm_status add(fm_file_list *list, const char *arg, fm_err *err)
{
    if (strcmp(arg, "-") == 0) {
        if (list->has_stdin)
            return fm_err_set(err, FM_ERR_ARG, "-: standard input can be read only once");
        list->has_stdin = 1;
        return push(list, strdup("-"), strdup("stdin.png"), err);
    }
    struct stat sb;
    if (stat(arg, &sb) != 0)
        return fm_err_set(err, FM_ERR_IO, "%s: %s", arg, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        fm_walk_opts o = {.exts = fm_walk_image_exts, .max_depth = FM_WALK_MAX_DEPTH,
                          .on_skip = fm_print_skip};
        fm_walk_list wl;
        fm_status st = fm_walk(arg, &o, &wl, err);
        for (size_t i = 0; st == FM_OK && i < wl.n; i++) {
            st = push(list, wl.v[i].path, wl.v[i].rel, err);
            wl.v[i].path = wl.v[i].rel = NULL;
        }
        size_t n = wl.n;
        fm_walk_list_free(&wl);
        if (st == FM_OK && n == 0)
            return fm_err_set(err, FM_ERR_IO,
                              "%s: directory has no images (looked for .jpg, .jpeg, .png)", arg);
        return st;
    }
    const char *base = strrchr(arg, '/');
    return push(list, strdup(arg), strdup(base ? base + 1 : arg), err);
}

fm_status fm_files_add(fm_file_list *list, const char *arg, fm_err *err)
{
    fm_status st = add(list, arg, err);
    if (st == FM_OK || st == FM_ERR_NOMEM)
        return st;
    fm_file_fail *f = realloc(list->fails, (size_t)(list->nfails + 1) * sizeof *f);
    if (!f)
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory listing images");
    list->fails = f;
    f[list->nfails] = (fm_file_fail){list->n, strdup(arg), strdup(err ? err->msg : arg)};
    if (!f[list->nfails].path || !f[list->nfails].msg) {
        free(f[list->nfails].path);
        free(f[list->nfails].msg);
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory listing images");
    }
    list->nfails++;
    return st;
}

int fm_files_add_operands(fm_file_list *list, int argc, char **argv, int first)
{
    fm_err err = {0};
    for (int i = first; i < argc; i++) {
        if (fm_files_add(list, argv[i], &err) == FM_ERR_NOMEM) {
            fm_log(FM_LOG_ERROR, "%s", err.msg);
            fm_files_free(list);
            return -1;
        }
    }
    return list->nfails ? 1 : 0;
}

fm_image *fm_input_load(const char *path, fm_err *err)
{
    if (strcmp(path, "-") != 0)
        return fm_image_load(path, 0, err);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (fm_read_fd(0, "standard input", FM_IMAGE_MAX_FILE_BYTES, "an image (JPEG or PNG)", &buf,
                   &len, err) != FM_OK)
        return NULL;
    fm_image *img = fm_image_decode(buf, len, "standard input", 0, err);
    free(buf);
    return img;
}

void fm_files_free(fm_file_list *list)
{
    for (int i = 0; i < list->n; i++) {
        free(list->paths[i]);
        free(list->rel[i]);
    }
    for (int i = 0; i < list->nfails; i++) {
        free(list->fails[i].path);
        free(list->fails[i].msg);
    }
    free(list->paths);
    free(list->rel);
    free(list->fails);
    memset(list, 0, sizeof *list);
}

int fm_parse_int(const char *opt, const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "facemask: %s expects a whole number from %d to %d, got '%s'\n", opt, lo,
                hi, s ? s : "");
        return 0;
    }
    *out = (int)v;
    return 1;
}

int fm_parse_float(const char *opt, const char *s, double lo, double hi, float *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "facemask: %s expects a number from %g to %g, got '%s'\n", opt, lo, hi,
                s ? s : "");
        return 0;
    }
    *out = (float)v;
    return 1;
}

int fm_parse_det_size(const char *opt, const char *s, int *w, int *h)
{
    int a = 0, b = 0, used = 0;
    if (s && sscanf(s, "%dx%d%n", &a, &b, &used) == 2 && s[used] == '\0') {
        if (a >= 64 && a <= 4096 && b >= 64 && b <= 4096) {
            *w = a;
            *h = b;
            return 1;
        }
    } else if (s && sscanf(s, "%d%n", &a, &used) == 1 && s[used] == '\0' && a >= 32 &&
               a <= 4096) {
        *w = a;
        *h = 0;
        return 1;
    }
    fprintf(stderr,
            "facemask: %s expects N (32 to 4096) or WxH (sides from 64 to 4096), got '%s'\n",
            opt, s ? s : "");
    return 0;
}
