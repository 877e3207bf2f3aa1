/* facemask report (src/app/cmd_report.c) on a history filled with known events: the exact
 * table, csv and json, the date, camera and time-zone filters, and its usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "site/history.h"
#include "test.h"

#define DAY0 1767225600.0 /* 2026-01-01 00:00:00 UTC */

static char g_db[1024];

static void add(fm_history *h, const char *cam, double t, const char *type, const char *label)
{
    static long long track;
    char payload[160];
    snprintf(payload, sizeof payload, "{\"event\":\"%s\",\"track\":%lld}", type, ++track);
    fm_history_event e = {cam, t, type, track, label, payload};
    fm_err err = {0};
    FM_CHECK_MSG(fm_history_add_event(h, &e, NULL, &err) == FM_OK, "%s", err.msg);
}

/* door:         2025-12-31 12:00 mask (before --since);
 *               2026-01-01 09:10 mask, 09:50 mask, 12:00 unknown, 15:00 mask, 23:59:59 no_mask;
 *               2026-01-02 00:00 no_mask x2;
 * waiting-room: 2026-01-01 10:00 unknown x2; 2026-01-03 08:00 mask x2, no_mask.
 * Appear, label and summary events around them must not count. */
static const char *history(void)
{
    if (g_db[0])
        return g_db;
    snprintf(g_db, sizeof g_db, "%s/report.db", fm_test_tmpdir());
    fm_err err = {0};
    fm_history *h = fm_history_open(g_db, FM_HISTORY_CREATE, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    if (!h)
        return g_db;
    const double H = 3600.0;
    add(h, "door", DAY0 - 12 * H, "leave", "mask");
    add(h, "door", DAY0 + 9 * H + 600, "appear", "unknown");
    add(h, "door", DAY0 + 9 * H + 600, "leave", "mask");
    add(h, "door", DAY0 + 9 * H + 3000, "label", "no_mask");
    add(h, "door", DAY0 + 9 * H + 3000, "leave", "mask");
    add(h, "door", DAY0 + 12 * H, "leave", "unknown");
    add(h, "door", DAY0 + 15 * H, "leave", "mask");
    add(h, "door", DAY0 + 24 * H - 1, "leave", "no_mask");
    add(h, "door", DAY0 + 24 * H, "leave", "no_mask");
    add(h, "door", DAY0 + 24 * H, "leave", "no_mask");
    add(h, "door", DAY0 + 24 * H + 10, "summary", NULL);
    add(h, "waiting-room", DAY0 + 10 * H, "leave", "unknown");
    add(h, "waiting-room", DAY0 + 10 * H, "leave", "unknown");
    add(h, "waiting-room", DAY0 + 56 * H, "leave", "mask");
    add(h, "waiting-room", DAY0 + 56 * H, "leave", "mask");
    add(h, "waiting-room", DAY0 + 56 * H, "leave", "no_mask");
    fm_history_close(h);
    return g_db;
}

/* Runs `facemask report ARGS` with TZ set; stdout and stderr together in *out. */
static int report(const char *tz, const char *args, char **out)
{
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "TZ=%s %s report --db '%s' %s 2>&1", tz, fm_test_bin(), history(),
             args);
    return fm_test_cmd(cmd, out);
}

static void expect(const char *tz, const char *args, int want_rc, const char *want, int line)
{
    char *out = NULL;
    int rc = report(tz, args, &out);
    if (rc != want_rc || !out || strcmp(out, want) != 0)
        fm_test_fail(__FILE__, line, "report %s: exit %d (expected %d), output:\n%s\nexpected:\n%s",
                     args, rc, want_rc, out ? out : "(none)", want);
    free(out);
}
#define EXPECT(tz, args, rc, want) expect(tz, args, rc, want, __LINE__)

static void test_report_table(void)
{
    EXPECT("UTC", "--since 2026-01-01", 0,
           "date        camera          people    masked  unmasked  compliance\n"
           "2026-01-01  door                 5         3         1       75.0%\n"
           "2026-01-01  waiting-room         2         0         0           -\n"
           "2026-01-02  door                 2         0         2        0.0%\n"
           "2026-01-03  waiting-room         3         2         1       66.7%\n");
    /* one day, one camera: the camera column keeps its header's width */
    EXPECT("UTC", "--since 2026-01-02 --until 2026-01-02", 0,
           "date        camera    people    masked  unmasked  compliance\n"
           "2026-01-02  door           2         0         2        0.0%\n");
    EXPECT("UTC", "--since 2025-12-31 --until 2025-12-31 --format table", 0,
           "date        camera    people    masked  unmasked  compliance\n"
           "2025-12-31  door           1         1         0      100.0%\n");
    /* nothing in range: the header only */
    EXPECT("UTC", "--since 2027-01-01", 0,
           "date        camera    people    masked  unmasked  compliance\n");
}

static void test_report_csv_json(void)
{
    EXPECT("UTC", "--since 2026-01-01 --format csv", 0,
           "date,camera,people,masked,unmasked,compliance\n"
           "2026-01-01,door,5,3,1,0.7500\n"
           "2026-01-01,waiting-room,2,0,0,\n"
           "2026-01-02,door,2,0,2,0.0000\n"
           "2026-01-03,waiting-room,3,2,1,0.6667\n");
    EXPECT("UTC", "--since 2026-01-01 --format=json --camera waiting-room", 0,
           "{\"date\":\"2026-01-01\",\"camera\":\"waiting-room\",\"people\":2,\"masked\":0,"
           "\"unmasked\":0,\"compliance\":null}\n"
           "{\"date\":\"2026-01-03\",\"camera\":\"waiting-room\",\"people\":3,\"masked\":2,"
           "\"unmasked\":1,\"compliance\":0.6667}\n");
    /* local days: at UTC+9 the 15:00 and 23:59:59 UTC leaves of Jan 1 are on Jan 2 */
    EXPECT("JST-9", "--since 2026-01-01 --until 2026-01-02 --camera door --format json", 0,
           "{\"date\":\"2026-01-01\",\"camera\":\"door\",\"people\":3,\"masked\":2,"
           "\"unmasked\":0,\"compliance\":1.0000}\n"
           "{\"date\":\"2026-01-02\",\"camera\":\"door\",\"people\":4,\"masked\":1,"
           "\"unmasked\":3,\"compliance\":0.2500}\n");
    EXPECT("UTC", "--since 2026-01-01 --camera hall --format csv", 0,
           "date,camera,people,masked,unmasked,compliance\n");
}

static void test_report_errors(void)
{
    const char *try_line = "Try 'facemask report --help'.\n";
    char want[1400];
    static const struct {
        const char *args, *msg;
    } usage[] = {
        {"", "--since DATE is required"},
        {"--since 2026-02-30", "--since expects a date YYYY-MM-DD, got '2026-02-30'"},
        {"--since 2026-1-5", "--since expects a date YYYY-MM-DD, got '2026-1-5'"},
        {"--since 2026-01-05 --until 2026-01-04", "--until 2026-01-04 is before --since "
                                                  "2026-01-05"},
        {"--since 2026-01-05 --format xml", "--format expects table, csv or json, got 'xml'"},
        {"--since 2026-01-05 extra", "unexpected argument 'extra'"},
        {"--since 2026-01-05 --camera", "option '--camera' needs a value NAME"},
    };
    for (size_t i = 0; i < sizeof usage / sizeof *usage; i++) {
        snprintf(want, sizeof want, "facemask report: %s\n%s", usage[i].msg, try_line);
        EXPECT("UTC", usage[i].args, 2, want);
    }
    char *out = NULL;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s report --since 2026-01-01 2>&1", fm_test_bin());
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 2);
    FM_CHECK_STR_CONTAINS(out, "facemask report: --db FILE is required\n");
    free(out);
    /* a database that is not there is not created */
    char missing[1100];
    snprintf(missing, sizeof missing, "%s/none.db", fm_test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s report --db '%s' --since 2026-01-01 2>&1", fm_test_bin(),
             missing);
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 1);
    snprintf(want, sizeof want, "facemask: %s: cannot open: no such database file\n", missing);
    FM_CHECK_MSG(out && !strcmp(out, want), "got: %s", out ? out : "(none)");
    FM_CHECK(access(missing, F_OK) != 0);
    free(out);
}

void suite_site_report(void);
void suite_site_report(void)
{
    FM_RUN(test_report_table);
    FM_RUN(test_report_csv_json);
    FM_RUN(test_report_errors);
}
