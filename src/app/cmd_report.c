/* facemask report: daily mask compliance per camera from a site's history (site/history.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "core/json.h"
#include "site/history.h"

enum { O_DB = 256, O_SINCE, O_UNTIL, O_CAMERA, O_FORMAT };

static const fm_opt report_opts[] = {
    {"db", O_DB, "FILE", "the site's history database (the site config's database.path); required"},
    {"since", O_SINCE, "DATE", "the first day, YYYY-MM-DD (local time); required"},
    {"until", O_UNTIL, "DATE", "the last day, YYYY-MM-DD (default: the last day recorded)"},
    {"camera", O_CAMERA, "NAME", "only this camera (default: every camera)"},
    {"format", O_FORMAT, "F",
     "table (default), csv (a header line, then one line per row), or json (one JSON object "
     "per line)"},
    {NULL, 0, NULL, NULL}};

const fm_cmd_spec fm_report_spec = {
    "report",
    "report --db FILE --since DATE [OPTIONS]",
    "Prints the people each camera counted on each day, by label, and the day's mask "
    "compliance: masked / (masked + unmasked). A person is counted once, when they leave the "
    "view, under the label they carried longest (docs/events.md); people never labelled "
    "count in people only. Days are local days; a day without people is not listed.",
    report_opts,
    "Columns: date, camera, people, masked, unmasked, compliance (table: a percentage, '-' "
    "when nobody was labelled; csv: 0..1 with 4 decimals, empty when unknown; json: 0..1 or "
    "null). The database is only read; another process may be writing it meanwhile."};

typedef struct {
    fm_history_day *rows;
    int n, cap;
    int failed;
} collected;

static int collect(void *ctx, const fm_history_day *d)
{
    collected *c = ctx;
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        fm_history_day *r = realloc(c->rows, (size_t)cap * sizeof *r);
        if (!r)
            return c->failed = 1;
        c->rows = r;
        c->cap = cap;
    }
    fm_history_day *r = &c->rows[c->n];
    *r = *d;
    if (!(r->camera = strdup(d->camera ? d->camera : "")))
        return c->failed = 1;
    c->n++;
    return 0;
}

/* A real date YYYY-MM-DD (1970..9999): 1, else 0. */
static int valid_date(const char *s)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
        sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1970 || m < 1 || m > 12 ||
        d < 1)
        return 0;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
static void csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_rows(const collected *c, const char *format)
{
    if (!strcmp(format, "csv")) {
        printf("date,camera,people,masked,unmasked,compliance\n");
        for (int i = 0; i < c->n; i++) {
            const fm_history_day *r = &c->rows[i];
            printf("%s,", r->date);
            csv_field(r->camera);
            printf(",%lld,%lld,%lld,", r->people, r->masked, r->unmasked);
            if (r->compliance >= 0)
                printf("%.4f", r->compliance);
            printf("\n");
        }
        return;
    }
    if (!strcmp(format, "json")) {
        for (int i = 0; i < c->n; i++) {
            const fm_history_day *r = &c->rows[i];
            printf("{\"date\":\"%s\",\"camera\":", r->date);
            fm_json_quoted(stdout, r->camera);
            printf(",\"people\":%lld,\"masked\":%lld,\"unmasked\":%lld,\"compliance\":",
                   r->people, r->masked, r->unmasked);
            if (r->compliance >= 0)
                printf("%.4f}\n", r->compliance);
            else
                printf("null}\n");
        }
        return;
    }
    int w = (int)strlen("camera");
    for (int i = 0; i < c->n; i++)
        if ((int)strlen(c->rows[i].camera) > w)
            w = (int)strlen(c->rows[i].camera);
    printf("%-10s  %-*s  %8s  %8s  %8s  %10s\n", "date", w, "camera", "people", "masked",
           "unmasked", "compliance");
    for (int i = 0; i < c->n; i++) {
        const fm_history_day *r = &c->rows[i];
        char pct[16] = "-";
        if (r->compliance >= 0)
            snprintf(pct, sizeof pct, "%.1f%%", 100.0 * r->compliance);
        printf("%-10s  %-*s  %8lld  %8lld  %8lld  %10s\n", r->date, w, r->camera, r->people,
               r->masked, r->unmasked, pct);
    }
}

int fm_cmd_report(int argc, char **argv)
{
    const fm_cmd_spec *spec = &fm_report_spec;
    const char *db = NULL, *since = NULL, *until = NULL, *camera = NULL, *format = "table";
    fm_args args;
    fm_args_init(&args, spec, argc, argv);
    const char *v;
    for (int k; (k = fm_args_next(&args, &v)) != FM_ARGS_END;) {
        switch (k) {
        case FM_ARGS_HELP: return 0;
        case FM_ARGS_ERROR: return 2;
        case O_DB: db = v; break;
        case O_SINCE: since = v; break;
        case O_UNTIL: until = v; break;
        case O_CAMERA: camera = v; break;
        case O_FORMAT: format = v; break;
        }
    }
    if (args.operand < argc)
        return fm_usage_error(spec, "unexpected argument '%s'", argv[args.operand]);
    if (!db)
        return fm_usage_error(spec, "--db FILE is required");
    if (!since)
        return fm_usage_error(spec, "--since DATE is required");
    if (!valid_date(since))
        return fm_usage_error(spec, "--since expects a date YYYY-MM-DD, got '%s'", since);
    if (until && !valid_date(until))
        return fm_usage_error(spec, "--until expects a date YYYY-MM-DD, got '%s'", until);
    if (until && strcmp(until, since) < 0)
        return fm_usage_error(spec, "--until %s is before --since %s", until, since);
    if (strcmp(format, "table") && strcmp(format, "csv") && strcmp(format, "json"))
        return fm_usage_error(spec, "--format expects table, csv or json, got '%s'", format);

    fm_err err = {0};
    fm_history *h = fm_history_open(db, FM_HISTORY_EXISTING, &err);
    if (!h) {
        fprintf(stderr, "facemask: %s\n", err.msg);
        return 1;
    }
    collected c = {0};
    fm_status s = fm_history_daily(h, since, until, camera, collect, &c, &err);
    fm_history_close(h);
    int rc = 0;
    if (s != FM_OK) {
        fprintf(stderr, "facemask: %s\n", err.msg);
        rc = 1;
    } else if (c.failed) {
        fprintf(stderr, "facemask: report: out of memory\n");
        rc = 1;
    } else {
        print_rows(&c, format);
    }
    for (int i = 0; i < c.n; i++)
        free((char *)c.rows[i].camera);
    free(c.rows);
    return rc;
}
