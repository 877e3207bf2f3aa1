/* walk.h - listing the files of a folder tree, the one walker every command uses.
 *
 * A folder named on the command line is untrusted: it may hold symbolic-link loops
 * (`ln -s . x`), links that reach the same folder or file twice, FIFOs and devices with an
 * image's name, or millions of entries. fm_walk lists it so that nothing hangs or repeats:
 *
 *  - symbolic links are followed, but a folder already entered (same device and inode) is not
 *    entered again, so a loop ends and every file is listed once; a file reached twice (a
 *    link to a file already listed) is listed under the first path in sort order only;
 *    within a folder, real subfolders are entered before symbolic links to folders;
 *  - names starting with '.' are skipped (".", "..", hidden files);
 *  - only regular files are listed: a FIFO, device or socket, a broken link, a folder that
 *    cannot be opened, a repeat and a folder deeper than max_depth (when max_depth > 0) are
 *    skipped, counted in `skipped`, and each is reported through on_skip with a message
 *    "PATH: not a regular file (fifo), skipped";
 *  - at most max_entries files and as many folders: past that, FM_ERR_LIMIT;
 *  - entries come sorted by their path relative to the root, byte by byte (strcmp).
 *
 *     static const char *const exts[] = {"jpg", "jpeg", "png", NULL};
 *     fm_walk_opts o = {.exts = exts, .max_depth = FM_WALK_MAX_DEPTH};
 *     fm_walk_list l;
 *     if (fm_walk("photos", &o, &l, &err) != FM_OK) { fprintf(stderr, "%s\n", err.msg); ... }
 *     for (size_t i = 0; i < l.n; i++) use(l.v[i].path, l.v[i].rel);
 *     fm_walk_list_free(&l);
 */
#ifndef FM_WALK_H
#define FM_WALK_H

#include <stddef.h>

#include "core/err.h"

#define FM_WALK_MAX_DEPTH 64             /* levels of subfolders a recursive walk enters */
#define FM_WALK_MAX_ENTRIES (1u << 20)   /* default cap on files (and on folders) listed */

/* {"jpg", "jpeg", "png", NULL}: the image files facemask reads. */
extern const char *const fm_walk_image_exts[];

typedef struct {
    /* Extensions to list, without the dot, matched in any letter case, NULL-terminated;
     * NULL lists every regular file. A name must have something before its dot. */
    const char *const *exts;
    /* Levels of subfolders entered: 0 lists only the root's own entries (subfolders are
     * ignored silently), N > 0 enters N levels (deeper folders are skipped and reported). */
    int max_depth;
    size_t max_entries; /* 0: FM_WALK_MAX_ENTRIES */
    /* 1: list the root's subfolders (not files), max_depth and exts are ignored. */
    int dirs;
    /* Called once per skipped entry with its message; NULL: only counted. */
    void (*on_skip)(void *ctx, const char *msg);
    void *ctx;
} fm_walk_opts;

typedef struct {
    char *path; /* root + "/" + rel */
    char *rel;  /* relative to the root, '/'-separated */
} fm_walk_entry;

typedef struct {
    fm_walk_entry *v; /* n entries, sorted by rel */
    size_t n, cap;
    size_t skipped;      /* entries not listed (see above) */
    char first_skip[512]; /* the first skip message, "" when none */
} fm_walk_list;

/* Lists root as above into *out (always initialised; free with fm_walk_list_free, also on
 * error). Errors, each naming the path:
 *   FM_ERR_IO     "ROOT: cannot open folder: <strerror>" (the root only; subfolders skip)
 *   FM_ERR_LIMIT  "ROOT: more than N files" / "... folders" / "PATH: path longer than N bytes"
 *   FM_ERR_NOMEM  "ROOT: out of memory listing files"
 *   FM_ERR_ARG    NULL root, opts or out */
fm_status fm_walk(const char *root, const fm_walk_opts *opts, fm_walk_list *out, fm_err *err);
void fm_walk_list_free(fm_walk_list *l);

/* 1 when name ends in ".EXT" for one of exts (any case) with something before the dot. */
int fm_walk_name_matches(const char *name, const char *const *exts);

#endif
