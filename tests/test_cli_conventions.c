/* Command-line conventions (issue 10, points 5 and 6), end to end on FM_BIN:
 *   - getopt_long everywhere: --opt=value and --opt value give the same output, bundled short
 *     flags (-qj2), options after operands, "--" ends the options (a file named "-x.png");
 *   - "-" reads one image from standard input (detect, classify) and gives the file's result;
 *   - facemask --version: the version, the git revision the binary was built from, the SIMD
 *     paths compiled in and the one this CPU uses (FM_NO_SIMD=1 lowers it to scalar);
 *   - a usage error is one line naming the problem plus "Try 'facemask CMD --help'.", exit 2,
 *     for every command (unknown option, missing value, bad value, missing operand);
 *   - every option --help lists is accepted by the parser (no "unknown option");
 *   - detect --json writes {"image":...,"error":...} for each input that fails, in order;
 *   - a progress line (count, rate, ETA) on a terminal for detect, classify and eval over a
 *     folder (run under script(1) for a pseudo-terminal), absent when stderr is not a terminal
 *     or with --quiet, and never on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static const char *const g_commands[] = {"detect", "classify",       "watch", "train",
                                         "eval",   "train-detector", "bench", "serve"};
#define NCMD (sizeof g_commands / sizeof *g_commands)

static int limit_s(int release_s)
{
    return fm_test_sanitized() ? release_s * 4 : release_s;
}

/* Runs `facemask ARGS` (a shell fragment) with stdout into *out and stderr into *err (either
 * may be NULL to drop it); returns the exit status. */
/* The facemask binary as an absolute path (commands may run in another folder). */
static const char *bin(void)
{
    static char path[4096];
    if (!path[0] && !realpath(fm_test_bin(), path))
        snprintf(path, sizeof path, "%s", fm_test_bin());
    return path;
}

static int run2(const char *args, char **out, char **err)
{
    char errpath[700], cmd[8192];
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", fm_test_tmpdir());
    snprintf(cmd, sizeof cmd, "timeout -s KILL %d %s %s 2>'%s'", limit_s(120), bin(), args,
             errpath);
    char *o = NULL;
    int rc = fm_test_cmd(cmd, &o);
    if (out)
        *out = o;
    else
        free(o);
    if (err) {
        *err = fm_test_read_file(errpath, NULL);
        if (!*err)
            *err = calloc(1, 1);
    }
    return rc;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; p && *p; p++)
        n += *p == '\n';
    return n;
}

static void demo(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/demo/%s", fm_test_shared(), name);
}

static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    char *b = fm_test_read_file(from, &len);
    FILE *f = fopen(to, "wb");
    FM_CHECK_MSG(b && f && fwrite(b, 1, len, f) == len, "cannot copy %s to %s", from, to);
    if (f)
        fclose(f);
    free(b);
}

#define DET "--detector res10 --model-dir %s/models --classifier models/mask"

/* ---- getopt_long ------------------------------------------------------------------------- */

static void test_option_forms_agree(void)
{
    char img[600], args[3000];
    demo("pyimagesearch_example_01.png", img, sizeof img);
    const char *forms[] = {
        "--json --threads 2 --conf 0.6 " DET " %s",
        "--json --threads=2 --conf=0.6 --detector=res10 --model-dir=%s/models "
        "--classifier=models/mask %s",
        "-qj2 --json --conf 0.6 " DET " %s",
        "%s --json -j 2 --conf 0.6 --detector res10 --model-dir %s/models --classifier models/mask",
        "--json --thr 2 --con 0.6 " DET " -- %s", /* unique prefixes, and "--" */
    };
    char *first = NULL;
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        char fmt[1200];
        snprintf(fmt, sizeof fmt, "detect %s", forms[i]);
        if (i == 3)
            snprintf(args, sizeof args, "detect %s --json -j 2 --conf 0.6 --detector res10 "
                                        "--model-dir %s/models --classifier models/mask",
                     img, fm_test_shared());
        else
            snprintf(args, sizeof args, fmt, fm_test_shared(), img);
        char *out = NULL, *err = NULL;
        int rc = run2(args, &out, &err);
        FM_CHECK_MSG(rc == 0, "form %zu exited %d: %s", i, rc, err);
        FM_CHECK_MSG(out && strstr(out, "\"faces\":[{"), "form %zu: %s", i, out ? out : "");
        if (!first)
            first = out ? strdup(out) : NULL;
        else
            FM_CHECK_MSG(out && first && strcmp(out, first) == 0, "form %zu gives %s, form 0 %s",
                         i, out ? out : "", first);
        free(out);
        free(err);
    }
    free(first);

    /* "--" lets an operand start with '-' (run in the folder that holds it) */
    char dash[700], cwd_args[8192], shared[4096], *out = NULL, *err = NULL;
    if (!realpath(fm_test_shared(), shared))
        snprintf(shared, sizeof shared, "%s", fm_test_shared());
    snprintf(dash, sizeof dash, "%s/-x.png", fm_test_tmpdir());
    copy_file(img, dash);
    snprintf(cwd_args, sizeof cwd_args,
             "detect --json --no-classify --detector res10 --model-dir %s/models -- -x.png",
             shared);
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s %s", fm_test_tmpdir(), bin(), cwd_args);
    int rc = fm_test_cmd(cmd, &out);
    FM_CHECK_MSG(rc == 0 && out && strstr(out, "{\"image\":\"-x.png\""), "with --: %d %s", rc,
                 out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "cd '%s' && %s detect --json --no-classify --detector res10 "
                              "--model-dir %s/models -x.png 2>&1",
             fm_test_tmpdir(), bin(), shared);
    rc = fm_test_cmd(cmd, &err);
    FM_CHECK_MSG(rc == 2 && err && strstr(err, "unknown option '-x'"), "without --: %d %s", rc,
                 err ? err : "");
    free(err);
}

/* ---- standard input ---------------------------------------------------------------------- */

/* The JSON line of out with its "image" value replaced by X, for comparing. */
static char *without_image(const char *line)
{
    const char *v = line ? strstr(line, "\"image\":\"") : NULL;
    if (!v)
        return NULL;
    const char *end = strchr(v + 9, '"');
    if (!end)
        return NULL;
    size_t n = strlen(line) + 4;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%.*s\"image\":\"X%s", (int)(v - line), line, end);
    return r;
}

static void test_stdin_operand(void)
{
    char img[600], args[3000];
    demo("aizoo_demo2.jpg", img, sizeof img);
    const char *cmds[] = {"detect --json " DET, "classify --json --classifier models/mask"};
    for (int c = 0; c < 2; c++) {
        char base[1200], *a = NULL, *b = NULL, *err = NULL;
        snprintf(base, sizeof base, cmds[c], fm_test_shared());
        snprintf(args, sizeof args, "%s %s", base, img);
        FM_CHECK_INT(run2(args, &a, NULL), 0);
        snprintf(args, sizeof args, "%s - < %s", base, img);
        int rc = run2(args, &b, &err);
        FM_CHECK_MSG(rc == 0, "%s -: exit %d: %s", base, rc, err);
        FM_CHECK_MSG(b && strncmp(b, "{\"image\":\"-\"", 12) == 0, "%s", b ? b : "");
        char *x = without_image(a), *y = without_image(b);
        FM_CHECK_MSG(x && y && strcmp(x, y) == 0, "from the file: %s\nfrom stdin: %s", a ? a : "",
                     b ? b : "");
        free(x);
        free(y);
        free(a);
        free(b);
        free(err);
        /* twice: a usage error before anything runs */
        snprintf(args, sizeof args, "%s - - < %s", base, img);
        rc = run2(args, &b, &err);
        FM_CHECK_MSG(rc == 1 && strstr(err, "standard input can be read only once"),
                     "- -: %d %s", rc, err);
        free(b);
        free(err);
        /* not an image */
        snprintf(args, sizeof args, "%s - < /etc/hostname", base);
        rc = run2(args, &b, &err);
        FM_CHECK_MSG(rc == 1 && count_lines(err) == 1 && strstr(err, "standard input"),
                     "text on stdin: %d %s", rc, err);
        free(b);
        free(err);
    }
    /* --out names the copy of standard input stdin.png */
    char out_dir[700], copy[800];
    snprintf(out_dir, sizeof out_dir, "%s/stdin_out", fm_test_tmpdir());
    snprintf(args, sizeof args, "detect --no-classify --detector res10 --model-dir %s/models "
                                "-o %s - < %s",
             fm_test_shared(), out_dir, img);
    FM_CHECK_INT(run2(args, NULL, NULL), 0);
    snprintf(copy, sizeof copy, "%s/stdin.png", out_dir);
    FM_CHECK_MSG(access(copy, R_OK) == 0, "no %s", copy);
}

/* ---- --version ----------------------------------------------------------------------------- */

static void test_version(void)
{
    char *out = NULL, *err = NULL;
    FM_CHECK_INT(run2("--version", &out, &err), 0);
    char ver[64] = "", rev[128] = "";
    FM_CHECK_MSG(out && sscanf(out, "facemask %63s (git %127[^)])", ver, rev) == 2,
                 "--version: %s", out ? out : "");
    FM_CHECK_MSG(ver[0] >= '0' && ver[0] <= '9' && strchr(ver, '.'), "version '%s'", ver);
    /* the revision is the commit this tree is at (or "unknown" outside git) */
    char *head = NULL;
    int git = fm_test_cmd("git rev-parse HEAD 2>/dev/null", &head);
    if (git == 0 && head && strlen(head) >= 12) {
        FM_CHECK_MSG(strncmp(rev, head, 12) == 0 &&
                         (rev[12] == '\0' || strcmp(rev + 12, "-dirty") == 0),
                     "revision '%s', HEAD %s", rev, head);
    } else {
        FM_CHECK_MSG(strcmp(rev, "unknown") == 0, "revision '%s' outside git", rev);
    }
    free(head);
    FM_CHECK_STR_CONTAINS(out, "SIMD paths compiled in:");
    FM_CHECK_STR_CONTAINS(out, " scalar");
#if defined(__x86_64__)
    FM_CHECK_STR_CONTAINS(out, " avx2");
    FM_CHECK_STR_CONTAINS(out, " avx512");
#endif
    FM_CHECK_STR_CONTAINS(out, "used on this CPU: ");
    FM_CHECK_INT(count_lines(out), 2);
    free(out);
    free(err);
    char *low = NULL, cmd[4200];
    snprintf(cmd, sizeof cmd, "FM_NO_SIMD=1 %s --version", bin());
    FM_CHECK_INT(fm_test_cmd(cmd, &low), 0);
    FM_CHECK_STR_CONTAINS(low, "used on this CPU: scalar\n");
    free(low);
}

/* ---- usage errors -------------------------------------------------------------------------- */

/* `facemask ARGS` is a usage error: exit 2, nothing on stdout, and exactly two lines on stderr:
 * one naming the problem (containing `needle`), then the Try line for `cmd`. */
static void expect_usage_error(const char *cmd, const char *args, const char *needle)
{
    char *out = NULL, *err = NULL;
    int rc = run2(args, &out, &err);
    char try_line[128];
    snprintf(try_line, sizeof try_line, "\nTry 'facemask%s%s --help'.\n", cmd[0] ? " " : "", cmd);
    FM_CHECK_MSG(rc == 2, "facemask %s: exit %d", args, rc);
    FM_CHECK_MSG(out && !out[0], "facemask %s printed on stdout: %s", args, out ? out : "");
    FM_CHECK_MSG(count_lines(err) == 2 && strstr(err, needle) && strstr(err, try_line),
                 "facemask %s: stderr is not one line with '%s' and the Try line: %s", args, needle,
                 err);
    free(out);
    free(err);
}

static void test_usage_errors(void)
{
    char args[256];
    for (size_t i = 0; i < NCMD; i++) {
        const char *c = g_commands[i];
        snprintf(args, sizeof args, "%s --no-such-option", c);
        expect_usage_error(c, args, "unknown option '--no-such-option'");
        snprintf(args, sizeof args, "%s -Z", c);
        expect_usage_error(c, args, "unknown option '-Z'");
        snprintf(args, sizeof args, "%s --model-dir", c);
        expect_usage_error(c, args, "option '--model-dir' needs a value DIR");
        snprintf(args, sizeof args, "%s --help=yes", c);
        expect_usage_error(c, args, "option '--help' takes no value");
    }
    expect_usage_error("detect", "detect", "no IMAGE, DIR or - given");
    expect_usage_error("classify", "classify --json", "no IMAGE, DIR or - given");
    expect_usage_error("detect", "detect --threads 0 x.jpg", "--threads expects a whole number");
    expect_usage_error("detect", "detect -j x x.jpg", "--threads expects a whole number");
    expect_usage_error("watch", "watch", "--source is required");
    expect_usage_error("train-detector", "train-detector", "--voc DIR is required");
    expect_usage_error("train-detector", "train-detector --voc x --input-size 100",
                       "--input-size 100: must be a multiple of 32");
    expect_usage_error("watch", "watch --source 0 extra", "unexpected argument 'extra'");
    expect_usage_error("watch", "watch --source 0 --retry -2", "--retry expects");
    expect_usage_error("train", "train", "--data DIR is required");
    expect_usage_error("train", "train --data x --lowres-min 20 --lowres-max 10",
                       "--lowres-max 10 is below --lowres-min 20");
    expect_usage_error("train", "train --data x --lowres-prob 1.5", "--lowres-prob");
    expect_usage_error("train", "train --data x --voc-skip 0.3", "--voc-skip expects LO:HI");
    expect_usage_error("train", "train --data x --voc-skip 0.3:0.2", "LO must be below HI");
    expect_usage_error("eval", "eval", "give exactly one of --data DIR or --voc DIR");
    expect_usage_error("bench", "bench --threads 1,x", "--threads expects");
    expect_usage_error("serve", "serve", "--config FILE is required");
    expect_usage_error("serve", "serve --config site.yaml extra", "unexpected argument 'extra'");
    expect_usage_error("serve", "serve --config site.yaml -j 0", "--threads expects");
    expect_usage_error("", "", "no command given");
    expect_usage_error("", "frobnicate", "unknown command 'frobnicate'");
    expect_usage_error("", "--frobnicate", "unknown option '--frobnicate'");
}

/* ---- --help and the parser agree ----------------------------------------------------------- */

typedef struct {
    char name[48];
    int has_arg;
    char letter;
} help_opt;

/* The options --help lists: lines "  -x, --name ARG  ..." or "      --name ARG  ...". */
static int parse_help(const char *text, help_opt *opts, int max)
{
    int n = 0;
    for (const char *p = text; p && *p && n < max;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line - 1 ? len : sizeof line - 1),
                 p);
        const char *q = NULL;
        char letter = 0;
        if (strncmp(line, "  -", 3) == 0 && line[3] != '-' && strncmp(line + 4, ", --", 4) == 0) {
            letter = line[3];
            q = line + 8;
        } else if (strncmp(line, "      --", 8) == 0) {
            q = line + 8;
        }
        if (q) {
            help_opt *o = &opts[n++];
            memset(o, 0, sizeof *o);
            size_t k = strcspn(q, " ");
            snprintf(o->name, sizeof o->name, "%.*s", (int)(k < 47 ? k : 47), q);
            o->has_arg = q[k] == ' ' && q[k + 1] != ' ' && q[k + 1] != '\0';
            o->letter = letter;
        }
        p += len + (eol ? 1 : 0);
    }
    return n;
}

static void test_help_lists_what_the_parser_takes(void)
{
    int total = 0;
    for (size_t i = 0; i < NCMD; i++) {
        char args[512], *help = NULL;
        snprintf(args, sizeof args, "%s --help", g_commands[i]);
        FM_CHECK_INT(run2(args, &help, NULL), 0);
        help_opt opts[64];
        int n = parse_help(help, opts, 64);
        FM_CHECK_MSG(n >= 5, "%s --help lists %d options", g_commands[i], n);
        free(help);
        for (int k = 0; k < n; k++) {
            if (strcmp(opts[k].name, "help") == 0)
                continue;
            /* the option, with a value of the wrong kind where it takes one, then --help: the
             * parser must know it (any message but "unknown option") */
            char *out = NULL, *err = NULL;
            snprintf(args, sizeof args, "%s --%.47s%s --no-such-option", g_commands[i], opts[k].name,
                     opts[k].has_arg ? " 1" : "");
            run2(args, &out, &err);
            char unknown_self[160];
            snprintf(unknown_self, sizeof unknown_self, "unknown option '--%.47s'", opts[k].name);
            FM_CHECK_MSG(!strstr(err, unknown_self) && !strstr(err, "takes no value"),
                         "%s: --help lists --%s but: %s", g_commands[i], opts[k].name, err);
            if (opts[k].letter) {
                free(out);
                free(err);
                snprintf(args, sizeof args, "%s -%c%s --no-such-option", g_commands[i],
                         opts[k].letter, opts[k].has_arg ? " 1" : "");
                run2(args, &out, &err);
                snprintf(unknown_self, sizeof unknown_self, "unknown option '-%c'",
                         opts[k].letter);
                FM_CHECK_MSG(!strstr(err, unknown_self), "%s: --help lists -%c but: %s",
                             g_commands[i], opts[k].letter, err);
            }
            free(out);
            free(err);
            total++;
        }
    }
    printf("  %d options checked\n", total);
    /* the options the issue found undocumented */
    char *help = NULL;
    FM_CHECK_INT(run2("watch --help", &help, NULL), 0);
    const char *watch_opts[] = {"--folder-fps FPS", "--summary-every SEC", "--max-frames N",
                                "--threads N",      "--conf F",            "--no-classify",
                                "--classifier DIR", "--model-dir DIR",     "--quiet",
                                "--retry N"};
    for (size_t i = 0; i < sizeof watch_opts / sizeof *watch_opts; i++)
        FM_CHECK_STR_CONTAINS(help, watch_opts[i]);
    free(help);
    FM_CHECK_INT(run2("bench --help", &help, NULL), 0);
    FM_CHECK_STR_CONTAINS(help, "bench --source FILE");
    FM_CHECK_STR_CONTAINS(help, "--source FILE");
    free(help);
    FM_CHECK_INT(run2("help eval", &help, NULL), 0);
    FM_CHECK_STR_CONTAINS(help, "usage: facemask eval --data DIR");
    free(help);
}

/* ---- detect --json error objects ----------------------------------------------------------- */

static void test_detect_json_errors(void)
{
    const char *t = fm_test_tmpdir();
    char good[600], text[700], empty_dir[700], args[4000];
    demo("pyimagesearch_example_01.png", good, sizeof good);
    snprintf(text, sizeof text, "%s/notes \"1\".jpg", t);
    fm_test_write_text(text, "not an image");
    snprintf(empty_dir, sizeof empty_dir, "%s/nothing_here", t);
    mkdir(empty_dir, 0700);
    snprintf(args, sizeof args,
             "detect --json " DET " %s %s/missing.png '%s' %s %s",
             fm_test_shared(), good, t, text, empty_dir, good);
    char *out = NULL, *err = NULL;
    int rc = run2(args, &out, &err);
    FM_CHECK_MSG(rc == 1, "exit %d: %s", rc, err);
    FM_CHECK_MSG(count_lines(out) == 5, "%d lines: %s", count_lines(out), out ? out : "");
    /* in argument order: the good image, three errors, the good image again */
    char want[3][2400];
    snprintf(want[0], sizeof want[0], "{\"image\":\"%s/missing.png\",\"error\":\"%s/missing.png: No such file or directory\"}\n", t, t);
    snprintf(want[1], sizeof want[1], "{\"image\":\"%s/notes \\\"1\\\".jpg\",\"error\":\"%s/notes \\\"1\\\".jpg: not a JPEG or PNG", t, t);
    snprintf(want[2], sizeof want[2], "{\"image\":\"%s\",\"error\":\"%s: directory has no images", empty_dir, empty_dir);
    const char *p = out ? strchr(out, '\n') : NULL;
    for (int k = 0; k < 3 && p; k++) {
        p++;
        FM_CHECK_MSG(strncmp(p, want[k], strlen(want[k])) == 0, "line %d: %.*s\nexpected: %s",
                     k + 2, (int)strcspn(p, "\n"), p, want[k]);
        p = strchr(p, '\n');
    }
    FM_CHECK_MSG(out && strncmp(out, "{\"image\":", 9) == 0 && strstr(out, "\"faces\":["), "%s",
                 out ? out : "");
    /* stderr still has a line per failure */
    FM_CHECK_INT(count_lines(err), 3);
    free(out);
    free(err);
}

/* ---- progress ------------------------------------------------------------------------------ */

/* Runs `facemask ARGS` under script(1), so stderr is a terminal; stdout goes to out_file.
 * Returns what reached the terminal. */
static char *on_terminal(const char *args, const char *out_file, int *rc)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "timeout -s KILL %d script -qec \"%s %s > '%s'\" /dev/null", limit_s(180), bin(),
             args, out_file);
    char *tty = NULL;
    *rc = fm_test_cmd(cmd, &tty);
    return tty;
}

static void check_progress(const char *name, const char *args, const char *label,
                           const char *unit, long total)
{
    char out_file[700], done[64], rate[64];
    snprintf(out_file, sizeof out_file, "%s/%s.out", fm_test_tmpdir(), name);
    snprintf(done, sizeof done, " 100%%  %ld/%ld  ", total, total);
    snprintf(rate, sizeof rate, " %s/s  ", unit);
    int rc;
    char *tty = on_terminal(args, out_file, &rc);
    FM_CHECK_MSG(rc == 0, "%s on a terminal: exit %d: %s", name, rc, tty ? tty : "");
    FM_CHECK_MSG(tty && strstr(tty, "\r") && strstr(tty, label) && strstr(tty, done) &&
                     strstr(tty, rate) && strstr(tty, ", ETA "),
                 "%s: no progress line (label '%s', '%s', '%s', ETA) on the terminal: %s", name,
                 label, done, rate, tty ? tty : "");
    /* the line is erased at the end: the last thing written is the erase sequence */
    size_t n = tty ? strlen(tty) : 0;
    FM_CHECK_MSG(n >= 4 && strcmp(tty + n - 4, "\r\033[K") == 0, "%s: the line is not erased",
                 name);
    char *out = fm_test_read_file(out_file, NULL);
    FM_CHECK_MSG(out && !strstr(out, "ETA") && !strchr(out, '\r'), "%s: progress on stdout: %s",
                 name, out ? out : "");
    free(out);
    free(tty);

    /* --quiet on a terminal: nothing drawn */
    char quiet_args[4096];
    snprintf(quiet_args, sizeof quiet_args, "%s --quiet", args);
    tty = on_terminal(quiet_args, out_file, &rc);
    FM_CHECK_MSG(rc == 0 && tty && !strstr(tty, "ETA") && !strchr(tty, '\r'),
                 "%s --quiet: %d %s", name, rc, tty ? tty : "");
    free(tty);

    /* not a terminal: nothing drawn */
    char *err = NULL;
    rc = run2(args, NULL, &err);
    FM_CHECK_MSG(rc == 0 && !strstr(err, "ETA") && !strchr(err, '\r'),
                 "%s without a terminal: %d %s", name, rc, err);
    free(err);
}

static void test_progress_on_terminal(void)
{
    const char *t = fm_test_tmpdir();
    char dir[700], p[800], args[4000], faces[700];
    /* 4 photos in a folder */
    snprintf(dir, sizeof dir, "%s/photos", t);
    mkdir(dir, 0700);
    const char *photos[] = {"pyimagesearch_example_01.png", "pyimagesearch_example_02.png",
                            "aizoo_demo2.jpg", "coral_face.jpg"};
    for (int i = 0; i < 4; i++) {
        char src[700];
        demo(photos[i], src, sizeof src);
        snprintf(p, sizeof p, "%s/%s", dir, photos[i]);
        copy_file(src, p);
    }
    snprintf(args, sizeof args, "detect --json " DET " %s", fm_test_shared(), dir);
    check_progress("detect", args, "detect  [", "images", 4);
    /* text results on the same terminal: the progress line is erased before each result, so
     * every result starts a line of its own */
    int rc;
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "timeout -s KILL %d script -qec \"%s detect " DET " %s\" /dev/null",
             limit_s(180), bin(), fm_test_shared(), dir);
    char *tty = NULL;
    rc = fm_test_cmd(cmd, &tty);
    FM_CHECK_MSG(rc == 0 && tty && strstr(tty, "ETA"), "detect text on a terminal: %d %s", rc,
                 tty ? tty : "");
    for (int i = 0; i < 4 && tty; i++) {
        char want[900];
        snprintf(want, sizeof want, "%s/%s: ", dir, photos[i]);
        const char *at = strstr(tty, want);
        FM_CHECK_MSG(at && (at == tty || at[-1] == '\n' ||
                            (at - tty >= 4 && strncmp(at - 4, "\r\033[K", 4) == 0)),
                     "result for %s not at the start of a line: %s", photos[i], tty);
    }
    free(tty);

    /* 3 + 3 face crops in class folders: classify and eval --data */
    snprintf(faces, sizeof faces, "%s/faces", t);
    mkdir(faces, 0700);
    const char *cls[] = {"with_mask", "without_mask"};
    for (int c = 0; c < 2; c++) {
        snprintf(p, sizeof p, "%s/%s", faces, cls[c]);
        mkdir(p, 0700);
        for (int i = 0; i < 3; i++) {
            char src[800], dst[900];
            snprintf(src, sizeof src, "%s/data/mask_cls/%s/%04d.jpg", fm_test_shared(), cls[c],
                     i);
            snprintf(dst, sizeof dst, "%s/%04d.jpg", p, i);
            copy_file(src, dst);
        }
    }
    snprintf(args, sizeof args, "classify --classifier models/mask %s", faces);
    check_progress("classify", args, "classify  [", "images", 6);
    snprintf(args, sizeof args, "eval --classifier models/mask -j 1 --data %s", faces);
    check_progress("eval", args, "eval  [", "faces", 6);
}

void suite_cli_conventions(void);
void suite_cli_conventions(void)
{
    FM_RUN(test_option_forms_agree);
    FM_RUN(test_stdin_operand);
    FM_RUN(test_version);
    FM_RUN(test_usage_errors);
    FM_RUN(test_help_lists_what_the_parser_takes);
    FM_RUN(test_detect_json_errors);
    FM_RUN(test_progress_on_terminal);
}
