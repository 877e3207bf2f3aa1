/* cli.c - option tables: getopt_long, --help and usage errors for every command (app.h). */
#include <stdarg.h>
#include <string.h>

#include "app/app.h"

static const fm_opt help_opt = {"help", 'h', NULL, "show this help and exit"};

void fm_args_init(fm_args *a, const fm_cmd_spec *spec, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->spec = spec;
    a->argc = argc;
    a->argv = argv;
    /* ':' first: a missing value is reported as ':' (not '?'), and getopt prints nothing */
    size_t ns = 0, nl = 0;
    a->shortopts[ns++] = ':';
    for (const fm_opt *o = spec->opts;; o++) {
        const fm_opt *opt = o->name ? o : &help_opt;
        if (nl < FM_ARGS_MAX_OPTS) {
            a->longopts[nl++] = (struct option){opt->name, opt->arg ? required_argument : no_argument,
                                                NULL, opt->key};
        }
        if (opt->key > 0 && opt->key < 256 && ns + 3 < sizeof a->shortopts) {
            a->shortopts[ns++] = (char)opt->key;
            if (opt->arg)
                a->shortopts[ns++] = ':';
        }
        if (!o->name)
            break;
    }
    a->longopts[nl] = (struct option){NULL, 0, NULL, 0};
    a->shortopts[ns] = '\0';
    opterr = 0;
    optind = 0; /* glibc: start over (also resets the state of a bundle) */
}

static const fm_opt *find_key(const fm_cmd_spec *spec, int key)
{
    for (const fm_opt *o = spec->opts; o->name; o++)
        if (o->key == key)
            return o;
    return NULL;
}

/* The option as the user spelled it, for messages: "-x" for a short one, else the argument
 * without its "=value". */
static void spelled(const fm_args *a, char *buf, size_t size)
{
    const char *arg = optind - 1 >= 1 && optind - 1 < a->argc ? a->argv[optind - 1] : "?";
    if (optopt > 0 && optopt < 256 && !(arg[0] == '-' && arg[1] == '-')) {
        snprintf(buf, size, "-%c", optopt);
        return;
    }
    size_t n = strcspn(arg, "=");
    snprintf(buf, size, "%.*s", (int)(n < 64 ? n : 64), arg);
}

int fm_args_next(fm_args *a, const char **val)
{
    *val = NULL;
    int idx = -1;
    optopt = 0;
    int c = getopt_long(a->argc, a->argv, a->shortopts, a->longopts, &idx);
    if (c == -1) {
        a->operand = optind;
        return FM_ARGS_END;
    }
    char name[80];
    if (c == '?' || c == ':') {
        spelled(a, name, sizeof name);
        if (c == ':') {
            const fm_opt *o = optopt > 0 ? find_key(a->spec, optopt) : NULL;
            fm_usage_error(a->spec, "option '%s' needs a value%s%s", name, o ? " " : "",
                           o ? o->arg : "");
        } else if (strchr(a->argv[optind - 1 < a->argc ? optind - 1 : 0], '=') &&
                   name[0] == '-' && name[1] == '-') {
            fm_usage_error(a->spec, "option '%s' takes no value (or is unknown)", name);
        } else {
            fm_usage_error(a->spec, "unknown option '%s'", name);
        }
        return FM_ARGS_ERROR;
    }
    if (c == 'h') {
        fm_cmd_help(a->spec, stdout);
        return FM_ARGS_HELP;
    }
    *val = optarg;
    return c;
}

int fm_try_help(const fm_cmd_spec *spec)
{
    fprintf(stderr, "Try 'facemask %s --help'.\n", spec->name);
    return 2;
}

int fm_usage_error(const fm_cmd_spec *spec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "facemask %s: ", spec->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return fm_try_help(spec);
}

#define HELP_WIDTH 80
#define HELP_COL 24

/* Prints text with every line indented to column `indent` and wrapped at spaces before column
 * HELP_WIDTH ('\n' breaks a line; a word longer than the width stands alone). The cursor is at
 * column `col` of the first line. */
static void print_wrapped(FILE *f, const char *text, int col, int indent)
{
    size_t width = (size_t)(HELP_WIDTH - indent);
    const char *p = text;
    for (;;) {
        size_t seg = strcspn(p, "\n");
        const char *end = p + seg;
        do {
            size_t len = (size_t)(end - p);
            if (len > width) { /* the last space that keeps the line within the width */
                size_t cut = width;
                while (cut > 0 && p[cut] != ' ')
                    cut--;
                if (cut == 0) /* one long word: up to its end */
                    cut = strcspn(p, " ") < len ? strcspn(p, " ") : len;
                len = cut;
            }
            fprintf(f, "%*s%.*s\n", indent > col ? indent - col : 0, "", (int)len, p);
            col = 0;
            p += len;
            while (p < end && *p == ' ')
                p++;
        } while (p < end);
        if (!*end || !end[1])
            return;
        p = end + 1;
    }
}

static void print_opt(FILE *f, const fm_opt *o)
{
    char head[96];
    int n;
    if (o->key > 0 && o->key < 256)
        n = snprintf(head, sizeof head, "  -%c, --%s%s%s", o->key, o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
    else
        n = snprintf(head, sizeof head, "      --%s%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
    const char *h = o->help ? o->help : "";
    fputs(head, f);
    if (n + 2 <= HELP_COL) {
        print_wrapped(f, h, n, HELP_COL);
    } else {
        fputc('\n', f);
        print_wrapped(f, h, 0, HELP_COL);
    }
}

void fm_cmd_help(const fm_cmd_spec *spec, FILE *f)
{
    const char *syn = spec->synopsis;
    int first = 1;
    for (const char *p = syn; *p; first = 0) {
        size_t n = strcspn(p, "\n");
        fprintf(f, "%s%.*s\n", first ? "usage: facemask " : "       facemask ", (int)n, p);
        p += n;
        if (*p)
            p++;
    }
    if (spec->about) {
        fprintf(f, "\n");
        print_wrapped(f, spec->about, 0, 0);
    }
    fprintf(f, "\nOptions:\n");
    for (const fm_opt *o = spec->opts; o->name; o++)
        print_opt(f, o);
    print_opt(f, &help_opt);
    if (spec->notes) {
        fprintf(f, "\n");
        print_wrapped(f, spec->notes, 0, 0);
    }
}
