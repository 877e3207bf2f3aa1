/* app.h - the facemask command line: subcommands and their shared helpers. */
#ifndef FM_APP_H
#define FM_APP_H

#include <getopt.h>
#include <stdio.h>

#include "core/err.h"
#include "core/file.h"
#include "io/image.h"

int fm_cmd_detect(int argc, char **argv);
int fm_cmd_bench(int argc, char **argv);
int fm_cmd_train(int argc, char **argv);
int fm_cmd_train_detector(int argc, char **argv);
int fm_cmd_classify(int argc, char **argv);
int fm_cmd_eval(int argc, char **argv);
int fm_cmd_watch(int argc, char **argv);
int fm_cmd_report(int argc, char **argv);
int fm_cmd_serve(int argc, char **argv);

/* ---- options (cli.c) ---------------------------------------------------------------------
 * Each command describes its options in one table, which drives both getopt_long and its
 * --help (so --help lists every option the command accepts), and which the man page
 * (docs/facemask.1) and the bash completion are checked against (tests/test_cli_conventions.c).
 * GNU conventions: "--opt VALUE" or "--opt=VALUE", unique prefixes of long names, bundled short
 * flags ("-qj2"), options and operands in any order, "--" ends the options, a lone "-" is an
 * operand (standard input where the command reads it). */

typedef struct {
    const char *name; /* long name, without "--" */
    int key;          /* its short letter, or a code >= 256 for a long-only option */
    const char *arg;  /* the value's name in --help ("N", "DIR"), NULL for a flag */
    const char *help; /* lines separated by '\n' */
} fm_opt;

typedef struct {
    const char *name;     /* "detect" */
    const char *synopsis; /* usage lines after "usage: facemask ", '\n'-separated */
    const char *about;    /* printed between the usage and the options (may be NULL) */
    const fm_opt *opts;   /* ends with {NULL, 0, NULL, NULL}; --help / -h is added */
    const char *notes;    /* printed after the options (may be NULL) */
} fm_cmd_spec;

/* --model-dir's help, the same for every command. */
#define FM_MODEL_DIR_HELP                                                                        \
    "the models folder (yunet/, res10/, mask/, mobilenet_v2/); default: $FACEMASK_MODELS, else " \
    "the models of the build tree or installation"

#define FM_ARGS_MAX_OPTS 48
enum { FM_ARGS_END = -1, FM_ARGS_HELP = -2, FM_ARGS_ERROR = -3 };

typedef struct {
    const fm_cmd_spec *spec;
    int argc;
    char **argv;
    struct option longopts[FM_ARGS_MAX_OPTS + 2];
    char shortopts[2 * FM_ARGS_MAX_OPTS + 8];
    int operand; /* after FM_ARGS_END: the index of the first operand in argv */
} fm_args;

/* Prepares to parse argv (argv[0] is the command's name). */
void fm_args_init(fm_args *a, const fm_cmd_spec *spec, int argc, char **argv);
/* The next option's key, its value in *val (NULL for a flag). FM_ARGS_END when the options
 * are over (operands: argv[a->operand .. argc-1]); FM_ARGS_HELP after --help was printed on
 * stdout (exit 0); FM_ARGS_ERROR after a usage error was printed (exit 2). */
int fm_args_next(fm_args *a, const char **val);
/* The full --help text. */
void fm_cmd_help(const fm_cmd_spec *spec, FILE *f);
/* A usage error: "facemask CMD: MSG" and "Try 'facemask CMD --help'." on stderr; returns 2. */
int fm_usage_error(const fm_cmd_spec *spec, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Only the "Try 'facemask CMD --help'." line (after a parse helper printed the first); 2. */
int fm_try_help(const fm_cmd_spec *spec);

/* The command tables, for `facemask help-options` style listings and the tests. */
extern const fm_cmd_spec fm_detect_spec, fm_classify_spec, fm_watch_spec, fm_train_spec,
    fm_train_detector_spec,
    fm_eval_spec, fm_bench_spec, fm_report_spec, fm_serve_spec;

/* An argument that gave no image (missing path, folder without images): reported in order,
 * just before the image that came after it in the list (index `at`). */
typedef struct {
    int at;
    char *path, *msg;
} fm_file_fail;

/* A list of image paths collected from files and directories. */
typedef struct {
    char **paths; /* as given, or dir + "/" + relative path for walked files; "-": stdin */
    char **rel;   /* path relative to the argument it came from (for --out); "stdin.png" */
    int n, cap;
    fm_file_fail *fails;
    int nfails;
    int has_stdin;
} fm_file_list;

/* Adds a file as given, or walks a directory recursively for .jpg/.jpeg/.png
 * (any letter case) with fm_walk (core/walk.h: sorted by relative path, each folder and file
 * once, links followed without looping, non-regular files skipped with a message on
 * stderr). "-" is standard input (once). A directory without images, or a path that does not
 * exist, is recorded in list->fails (and returned as an error). */
fm_status fm_files_add(fm_file_list *list, const char *arg, fm_err *err);
/* fm_files_add for each of argv[first..argc-1] (a command's IMAGE|DIR|- operands): 0 when
 * every one was listed, 1 when some could not be (each recorded in list->fails), -1 when
 * memory ran out (said on stderr; the list is freed). */
int fm_files_add_operands(fm_file_list *list, int argc, char **argv, int first);
/* An fm_walk_opts.on_skip that prints "facemask: MSG" on stderr. */
void fm_print_skip(void *ctx, const char *msg);
/* Loads the image at path: a file, or standard input for "-" (read to its end). */
fm_image *fm_input_load(const char *path, fm_err *err);
void fm_files_free(fm_file_list *list);


/* fm_mkdirs_for: core/file.h. */

/* Parses a positive integer / float option value; prints an error naming opt on failure.
 * The bounds are doubles and the value is compared as parsed (a double), so a documented
 * minimum such as 0.1 is accepted: 0.1f is 0.100000001..., above the double 0.1. */
int fm_parse_int(const char *opt, const char *s, int lo, int hi, int *out);
int fm_parse_float(const char *opt, const char *s, double lo, double hi, float *out);
/* --det-size: "N" gives (N, 0), N from 32 to 4096; "WxH" gives (W, H), each 64..4096. Which
 * forms a detector accepts is its own check (fm_detector_spec). Prints an error naming opt. */
int fm_parse_det_size(const char *opt, const char *s, int *w, int *h);

#endif
