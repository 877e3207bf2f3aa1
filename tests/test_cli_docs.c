/* The command documentation cannot drift from the commands: for every command, the options its
 * --help lists (which the parser takes, tests/test_cli_conventions.c) are exactly
 *   - the options documented under its heading in the man page (docs/facemask.1, the tag line
 *     of each .TP entry), short letters included, and
 *   - the options docs/facemask.bash-completion offers for it (_facemask_opts_CMD), short
 *     letters included, with the options that take a value in _facemask_takes_value;
 * every option the README's Commands section shows for a command is one it takes; the global
 * options (--version, --help) are in all three; and the completion script, run in bash, really
 * completes (a command, an option prefix, an --opt=value folder). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define MAN "docs/facemask.1"
#define COMPLETION "docs/facemask.bash-completion"
#define README "README.md"

static const char *const g_commands[] = {"detect", "classify",       "watch", "serve", "train",
                                         "eval",   "train-detector", "bench", "report"};
#define NCMD (sizeof g_commands / sizeof *g_commands)
#define MAX_OPTS 80

/* A set of option spellings ("--threads", "-j"), each with whether it takes a value (-1:
 * unknown). */
typedef struct {
    char name[MAX_OPTS][48];
    int value[MAX_OPTS];
    int n;
} optset;

static void add(optset *s, const char *name, size_t len, int value)
{
    if (len == 0 || len >= 48)
        return;
    for (int i = 0; i < s->n; i++)
        if (strlen(s->name[i]) == len && strncmp(s->name[i], name, len) == 0)
            return;
    if (s->n < MAX_OPTS) {
        memcpy(s->name[s->n], name, len);
        s->name[s->n][len] = '\0';
        s->value[s->n++] = value;
    }
}

static int has(const optset *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0)
            return i;
    return -1;
}

/* Every name of `a` is in `b`: a failure lists the missing ones. */
static void check_subset(const optset *a, const char *a_what, const optset *b, const char *b_what,
                         const char *cmd)
{
    char missing[1024] = "";
    size_t used = 0;
    for (int i = 0; i < a->n; i++)
        if (has(b, a->name[i]) < 0 && used < sizeof missing - 64)
            used += (size_t)snprintf(missing + used, sizeof missing - used, " %s", a->name[i]);
    FM_CHECK_MSG(!missing[0], "%s: in %s but not in %s:%s", cmd, a_what, b_what, missing);
}

/* --help of cmd: "  -x, --name ARG" and "      --name ARG" lines. */
static int help_options(const char *cmd, optset *s)
{
    memset(s, 0, sizeof *s);
    char run[1200], *out = NULL;
    snprintf(run, sizeof run, "%s %s --help", fm_test_bin(), cmd);
    int rc = fm_test_cmd(run, &out);
    FM_CHECK_MSG(rc == 0 && out, "%s --help: exit %d", cmd, rc);
    for (const char *p = out; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)(len < 255 ? len : 255), p);
        const char *q = NULL;
        char letter = 0;
        if (strncmp(line, "  -", 3) == 0 && isalpha((unsigned char)line[3]) &&
            strncmp(line + 4, ", --", 4) == 0) {
            letter = line[3];
            q = line + 6;
        } else if (strncmp(line, "      --", 8) == 0) {
            q = line + 6;
        }
        if (q) {
            size_t k = strcspn(q, " ");
            int value = q[k] == ' ' && q[k + 1] != ' ' && q[k + 1] != '\0';
            add(s, q, k, value);
            if (letter) {
                char sh[3] = {'-', letter, '\0'};
                add(s, sh, 2, value);
            }
        }
        p += len + (eol ? 1 : 0);
    }
    free(out);
    return s->n;
}

/* Options in roff text: "\-\-name" (a long one) and "\fB\-x\fR" (a short one); only those of
 * .TP tag lines when tags_only. */
static void roff_options(const char *text, const char *end, int tags_only, optset *s)
{
    int after_tp = 0;
    for (const char *p = text; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);
        int is_tag = after_tp;
        after_tp = len >= 3 && strncmp(p, ".TP", 3) == 0;
        if (!tags_only || is_tag) {
            for (const char *q = p; q + 4 < p + len; q++) {
                if (strncmp(q, "\\-\\-", 4) == 0) {
                    char name[48] = "--";
                    size_t k = 2;
                    for (const char *r = q + 4; r < p + len && k < 47;) {
                        if (isalnum((unsigned char)*r))
                            name[k++] = *r++;
                        else if (strncmp(r, "\\-", 2) == 0 && r + 2 < p + len &&
                                 isalnum((unsigned char)r[2])) {
                            name[k++] = '-';
                            r += 2;
                        } else {
                            break;
                        }
                    }
                    add(s, name, k, -1);
                    q += 3;
                } else if (strncmp(q, "\\fB\\-", 5) == 0 && q + 6 < p + len &&
                           isalpha((unsigned char)q[5]) && strncmp(q + 6, "\\fR", 3) == 0) {
                    char sh[3] = {'-', q[5], '\0'};
                    add(s, sh, 2, -1);
                }
            }
        }
        p += len + (eol ? 1 : 0);
    }
}

/* The man page's section for cmd: from ".SS cmd" to the next .SS or .SH. */
static int man_section(const char *man, const char *heading, const char **start, const char **end)
{
    char want[64];
    snprintf(want, sizeof want, "\n.SS %s\n", heading);
    const char *s = strstr(man, want);
    if (!s)
        return 0;
    s += strlen(want);
    const char *e = s;
    while ((e = strchr(e, '\n')) != NULL) {
        if (strncmp(e, "\n.SS ", 5) == 0 || strncmp(e, "\n.SH ", 5) == 0)
            break;
        e++;
    }
    *start = s;
    *end = e ? e : s + strlen(s);
    return 1;
}

/* The words of a shell variable NAME="..." in the completion script. */
static void shell_words(const char *script, const char *var, optset *s, int value)
{
    memset(s, 0, sizeof *s);
    char want[96];
    snprintf(want, sizeof want, "\n%s=\"", var);
    const char *p = strstr(script, want);
    FM_CHECK_MSG(p != NULL, "%s has no %s", COMPLETION, var);
    if (!p)
        return;
    p += strlen(want);
    const char *end = strchr(p, '"');
    while (p && end && p < end) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        size_t k = 0;
        while (p + k < end && !isspace((unsigned char)p[k]))
            k++;
        add(s, p, k, value);
        p += k;
    }
}

static void test_man_page_matches_help(void)
{
    char *man = fm_test_read_file(MAN, NULL);
    FM_CHECK_MSG(man != NULL, "cannot read %s", MAN);
    if (!man)
        return;
    int total = 0;
    for (size_t c = 0; c < NCMD; c++) {
        optset help, doc;
        help_options(g_commands[c], &help);
        memset(&doc, 0, sizeof doc);
        const char *s, *e;
        FM_CHECK_MSG(man_section(man, g_commands[c], &s, &e), "%s has no .SS %s", MAN,
                     g_commands[c]);
        if (!man_section(man, g_commands[c], &s, &e))
            continue;
        roff_options(s, e, 1, &doc);
        /* --help is documented once, under Global options */
        if (has(&doc, "--help") < 0) {
            add(&doc, "--help", 6, 0);
            add(&doc, "-h", 2, 0);
        }
        check_subset(&help, "--help", &doc, MAN, g_commands[c]);
        check_subset(&doc, MAN, &help, "--help", g_commands[c]);
        total += help.n;
    }
    const char *s, *e;
    FM_CHECK_MSG(man_section(man, "Global options", &s, &e), "%s has no global options", MAN);
    optset global;
    memset(&global, 0, sizeof global);
    if (man_section(man, "Global options", &s, &e))
        roff_options(s, e, 1, &global);
    const char *want[] = {"--version", "-V", "--help", "-h"};
    for (size_t i = 0; i < 4; i++)
        FM_CHECK_MSG(has(&global, want[i]) >= 0, "%s: global option %s not documented", MAN,
                     want[i]);
    printf("  %d option spellings of %zu commands\n", total, NCMD);
    free(man);
}

static void test_completion_matches_help(void)
{
    char *script = fm_test_read_file(COMPLETION, NULL);
    FM_CHECK_MSG(script != NULL, "cannot read %s", COMPLETION);
    if (!script)
        return;
    optset takes;
    shell_words(script, "_facemask_takes_value", &takes, 1);
    for (size_t c = 0; c < NCMD; c++) {
        optset help, comp;
        help_options(g_commands[c], &help);
        char var[64];
        snprintf(var, sizeof var, "_facemask_opts_%s", g_commands[c]);
        for (char *q = var; *q; q++) /* train-detector: _facemask_opts_train_detector */
            if (*q == '-')
                *q = '_';
        shell_words(script, var, &comp, -1);
        check_subset(&help, "--help", &comp, var, g_commands[c]);
        check_subset(&comp, var, &help, "--help", g_commands[c]);
        /* the completion completes a value exactly where the option takes one */
        for (int i = 0; i < help.n; i++)
            FM_CHECK_MSG((has(&takes, help.name[i]) >= 0) == help.value[i],
                         "%s %s: %s a value, but _facemask_takes_value %s it", g_commands[c],
                         help.name[i], help.value[i] ? "takes" : "takes no",
                         help.value[i] ? "lacks" : "lists");
    }
    optset cmds, global;
    shell_words(script, "_facemask_commands", &cmds, -1);
    shell_words(script, "_facemask_global", &global, -1);
    for (size_t c = 0; c < NCMD; c++)
        FM_CHECK_MSG(has(&cmds, g_commands[c]) >= 0, "%s does not complete %s", COMPLETION,
                     g_commands[c]);
    const char *want[] = {"--version", "-V", "--help", "-h"};
    for (size_t i = 0; i < 4; i++)
        FM_CHECK_MSG(has(&global, want[i]) >= 0, "%s does not complete %s", COMPLETION, want[i]);
    free(script);
}

/* The README's Commands block: "    facemask CMD ..." and its continuation lines. */
static void test_readme_commands_exist(void)
{
    char *readme = fm_test_read_file(README, NULL);
    FM_CHECK_MSG(readme != NULL, "cannot read %s", README);
    if (!readme)
        return;
    const char *sec = strstr(readme, "\n## Commands\n");
    FM_CHECK_MSG(sec != NULL, "%s has no Commands section", README);
    const char *sec_end = sec ? strstr(sec + 1, "\n## ") : NULL;
    if (!sec_end)
        sec_end = readme + strlen(readme);
    char cmd[32] = "";
    int seen[NCMD] = {0}, checked = 0;
    optset help;
    for (const char *p = sec; p && p < sec_end;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(len < 511 ? len : 511), p);
        p += len + (eol ? 1 : 0);
        if (strncmp(line, "    facemask ", 13) == 0) {
            cmd[0] = '\0';
            for (size_t c = 0; c < NCMD; c++) {
                size_t n = strlen(g_commands[c]);
                if (strncmp(line + 13, g_commands[c], n) == 0 && line[13 + n] == ' ') {
                    snprintf(cmd, sizeof cmd, "%s", g_commands[c]);
                    seen[c] = 1;
                    help_options(cmd, &help);
                }
            }
            if (!cmd[0]) /* facemask --version */
                FM_CHECK_MSG(strstr(line, "--version") != NULL, "README line: %s", line);
        } else if (strncmp(line, "        ", 8) != 0) {
            cmd[0] = '\0'; /* the block is over */
        }
        if (!cmd[0])
            continue;
        /* every "--name" and "-x" the line shows */
        for (const char *q = line + 4; *q; q++) {
            if (*q != '-' || (q > line && (isalnum((unsigned char)q[-1]) || q[-1] == '-')))
                continue;
            size_t k = 1;
            if (q[1] == '-')
                k = 2;
            while (isalnum((unsigned char)q[k]) || (q[k] == '-' && isalnum((unsigned char)q[k + 1])))
                k++;
            if (k <= 1 || (k == 2 && q[1] == '-'))
                continue; /* "-" (standard input) or "--" */
            char name[48];
            snprintf(name, sizeof name, "%.*s", (int)(k < 47 ? k : 47), q);
            if (strcmp(name, "-1") == 0)
                continue;
            FM_CHECK_MSG(has(&help, name) >= 0, "README shows %s %s, which --help does not list",
                         cmd, name);
            checked++;
            q += k - 1;
        }
    }
    for (size_t c = 0; c < NCMD; c++)
        FM_CHECK_MSG(seen[c], "README's Commands section does not show %s", g_commands[c]);
    FM_CHECK(checked > 40);
    free(readme);
}

/* The script in bash: completions come out as a user sees them. */
static void test_completion_completes(void)
{
    char script[4096], *out = NULL;
    snprintf(script, sizeof script,
             "bash -c '. " COMPLETION "\n"
             "t() { COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=(); "
             "_facemask; echo \"${COMPREPLY[*]}\"; }\n"
             "t facemask cl\n"
             "t facemask detect --th\n"
             "t facemask watch --fol\n"
             "t facemask detect --detector res\n"
             "t facemask train --out=doc\n"
             "t facemask detect --out = doc\n"
             "t facemask help ev\n"
             "complete -p facemask'");
    int rc = fm_test_cmd(script, &out);
    FM_CHECK_MSG(rc == 0, "bash: exit %d: %s", rc, out ? out : "");
    const char *want = "classify\n"
                       "--threads\n"
                       "--folder-fps\n"
                       "res10\n"
                       "docs\n"
                       "docs\n"
                       "eval\n"
                       "complete -F _facemask facemask\n";
    FM_CHECK_MSG(out && strcmp(out, want) == 0, "completions:\n%s\nexpected:\n%s", out ? out : "",
                 want);
    free(out);
}

void suite_cli_docs(void);
void suite_cli_docs(void)
{
    FM_RUN(test_man_page_matches_help);
    FM_RUN(test_completion_matches_help);
    FM_RUN(test_readme_commands_exist);
    FM_RUN(test_completion_completes);
}
