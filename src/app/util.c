#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "app/app.h"

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

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    return strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
           strcasecmp(dot, ".png") == 0;
}

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

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks dir (shown as `shown`) collecting images; rel_prefix is the path under the root. */
static fm_status walk(fm_file_list *l, const char *dir, const char *rel_prefix, int depth,
                      fm_err *err)
{
    if (depth > 64)
        return fm_err_set(err, FM_ERR_LIMIT, "%s: directories nested more than 64 deep", dir);
    DIR *d = opendir(dir);
    if (!d)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0;
    fm_status st = FM_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ., .. and hidden files */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) {
                st = fm_err_set(err, FM_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            names = nn;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) {
            st = fm_err_set(err, FM_ERR_NOMEM, "out of memory listing %s", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (st == FM_OK)
        qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n && st == FM_OK; i++) {
        char *full = join(dir, names[i]);
        char *rel = *rel_prefix ? join(rel_prefix, names[i]) : strdup(names[i]);
        struct stat sb;
        if (!full || !rel) {
            free(full);
            free(rel);
            st = fm_err_set(err, FM_ERR_NOMEM, "out of memory listing %s", dir);
        } else if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            st = walk(l, full, rel, depth + 1, err);
            free(full);
            free(rel);
        } else if (has_image_ext(names[i])) {
            st = push(l, full, rel, err);
        } else {
            free(full);
            free(rel);
        }
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return st;
}

fm_status fm_files_add(fm_file_list *list, const char *arg, fm_err *err)
{
    struct stat sb;
    if (stat(arg, &sb) != 0)
        return fm_err_set(err, FM_ERR_IO, "%s: %s", arg, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        int before = list->n;
        fm_status st = walk(list, arg, "", 0, err);
        if (st != FM_OK)
            return st;
        if (list->n == before)
            return fm_err_set(err, FM_ERR_IO,
                              "%s: directory has no images (looked for .jpg, .jpeg, .png)", arg);
        return FM_OK;
    }
    const char *base = strrchr(arg, '/');
    return push(list, strdup(arg), strdup(base ? base + 1 : arg), err);
}

void fm_files_free(fm_file_list *list)
{
    for (int i = 0; i < list->n; i++) {
        free(list->paths[i]);
        free(list->rel[i]);
    }
    free(list->paths);
    free(list->rel);
    memset(list, 0, sizeof *list);
}

fm_status fm_mkdirs_for(const char *path, fm_err *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return fm_err_set(err, FM_ERR_ARG, "%s: path too long", path);
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            fm_status st = fm_err_set(err, FM_ERR_IO, "%s: cannot create directory: %s", buf,
                                      strerror(errno));
            return st;
        }
        *p = '/';
    }
    return FM_OK;
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

int fm_parse_float(const char *opt, const char *s, float lo, float hi, float *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "facemask: %s expects a number from %g to %g, got '%s'\n", opt, (double)lo,
                (double)hi, s ? s : "");
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
