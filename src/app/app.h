/* app.h - the facemask command line: subcommands and their shared helpers. */
#ifndef FM_APP_H
#define FM_APP_H

#include <stdio.h>

#include "core/err.h"

int fm_cmd_detect(int argc, char **argv);
int fm_cmd_bench(int argc, char **argv);
int fm_cmd_train(int argc, char **argv);
int fm_cmd_classify(int argc, char **argv);
int fm_cmd_eval(int argc, char **argv);
int fm_cmd_watch(int argc, char **argv);

/* A list of image paths collected from files and directories. */
typedef struct {
    char **paths; /* as given, or dir + "/" + relative path for walked files */
    char **rel;   /* path relative to the argument it came from (for --out) */
    int n, cap;
} fm_file_list;

/* Adds a file as given, or walks a directory recursively for .jpg/.jpeg/.png
 * (any letter case) with fm_walk (core/walk.h: sorted by relative path, each folder and file
 * once, links followed without looping, non-regular files skipped with a message on
 * stderr). A directory without images, or a path that does not exist, is an error. */
fm_status fm_files_add(fm_file_list *list, const char *arg, fm_err *err);
/* An fm_walk_opts.on_skip that prints "facemask: MSG" on stderr. */
void fm_print_skip(void *ctx, const char *msg);
void fm_files_free(fm_file_list *list);


/* Creates the directories of path's parent (like mkdir -p of dirname). */
fm_status fm_mkdirs_for(const char *path, fm_err *err);

/* Parses a positive integer / float option value; prints an error naming opt on failure.
 * The bounds are doubles and the value is compared as parsed (a double), so a documented
 * minimum such as 0.1 is accepted: 0.1f is 0.100000001..., above the double 0.1. */
int fm_parse_int(const char *opt, const char *s, int lo, int hi, int *out);
int fm_parse_float(const char *opt, const char *s, double lo, double hi, float *out);
/* --det-size: "N" gives (N, 0), N from 32 to 4096; "WxH" gives (W, H), each 64..4096. Which
 * forms a detector accepts is its own check (fm_detector_spec). Prints an error naming opt. */
int fm_parse_det_size(const char *opt, const char *s, int *w, int *h);

#endif
