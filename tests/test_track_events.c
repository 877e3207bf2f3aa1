/* Events writer: exact JSON lines for a small scenario, nulls, escaping, the summary period,
 * write errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "track/events.h"

/* Reads back what was written to f (a tmpfile) as a NUL-terminated string; caller frees. */
static char *slurp(FILE *f)
{
    long n = ftell(f);
    char *s = malloc((size_t)(n > 0 ? n : 0) + 1);
    if (!s)
        return NULL;
    rewind(f);
    size_t got = fread(s, 1, (size_t)(n > 0 ? n : 0), f);
    s[got] = '\0';
    return s;
}

static void check_lines(const char *got, const char *exp)
{
    if (got && strcmp(got, exp) == 0)
        return;
    /* report the first differing line */
    const char *g = got ? got : "", *e = exp;
    int line = 1;
    while (*g && *e && *g == *e) {
        if (*g == '\n')
            line++;
        g++;
        e++;
    }
    const char *gl = g, *el = e;
    while (gl > (got ? got : "") && gl[-1] != '\n')
        gl--;
    while (el > exp && el[-1] != '\n')
        el--;
    fm_test_fail(__FILE__, __LINE__, "line %d differs:\n    got      %.*s\n    expected %.*s", line,
                 (int)strcspn(gl, "\n"), gl, (int)strcspn(el, "\n"), el);
}

/* One face for four frames: appears (min_hits 2) as mask, turns no_mask, a periodic summary,
 * source trouble, the end of the stream with its leave, the final summary and "end". */
static void test_events_scenario_exact(void)
{
    fm_err err = {0};
    fm_tracker_params p = fm_tracker_defaults();
    p.min_hits = 2;
    p.min_votes = 2;
    p.vote_alpha = 0.5f;
    fm_tracker *tr = fm_tracker_create(&p, &err);
    FILE *f = tmpfile();
    fm_events *ev = fm_events_open(f, 10.0, &err);
    FM_CHECK_MSG(tr && f && ev, "setup: %s", err.msg);
    if (!tr || !f || !ev)
        return;
    static const float probs[4] = {0.875f, 0.875f, 0.125f, 0.0f};
    fm_track_event te[8];
    int nte = 0;
    fm_track_counts c;
    for (int i = 0; i < 4; i++) {
        fm_det d = {{10, 20, 50, 70}, 0.875f, probs[i], 0, {{0}}};
        if (i == 2)
            d.box = (fm_box){5, 15, 55, 75};
        FM_CHECK_INT(fm_tracker_update(tr, &d, 1, i * 0.5, te, 8, &nte), FM_OK);
        for (int k = 0; k < nte; k++)
            FM_CHECK_INT(fm_events_track(ev, &te[k], &err), FM_OK);
    }
    fm_tracker_counts(tr, &c);
    FM_CHECK_INT(fm_events_summary(ev, 1.5, 4, &c, 12.5, 3, 7, 0, &err), FM_OK);
    FM_CHECK_INT(fm_events_reconnect(ev, 1.75, 4, "rtsp://cam/\"door\"", 2, "timeout\n(5 s)", &err),
                 FM_OK);
    FM_CHECK_INT(fm_events_source_error(ev, 1.8, 4, "cam", "bad\001byte\\", &err), FM_OK);
    FM_CHECK_INT(fm_tracker_finish(tr, 2.0, te, 8, &nte), FM_OK);
    for (int k = 0; k < nte; k++)
        FM_CHECK_INT(fm_events_track(ev, &te[k], &err), FM_OK);
    fm_tracker_counts(tr, &c);
    FM_CHECK_INT(fm_events_summary(ev, 2.0, 4, &c, 10.0, 3, 7, 1, &err), FM_OK);
    FM_CHECK_INT(fm_events_end(ev, 2.0, 4, "eof", &err), FM_OK);
    char *got = slurp(f);
    const char *exp =
        "{\"event\":\"appear\",\"t\":0.500,\"frame\":1,\"track\":1,\"label\":\"mask\","
        "\"mask_prob\":0.875,\"box\":[10.0,20.0,50.0,70.0],\"score\":0.875,\"first_seen\":0.000,"
        "\"frames\":2,\"votes\":2}\n"
        "{\"event\":\"label\",\"t\":1.500,\"frame\":3,\"track\":1,\"label\":\"no_mask\","
        "\"prev_label\":\"mask\",\"mask_prob\":0.250,\"box\":[10.0,20.0,50.0,70.0],"
        "\"score\":0.875,\"first_seen\":0.000,\"frames\":4,\"votes\":4}\n"
        "{\"event\":\"summary\",\"t\":1.500,\"frame\":4,\"final\":false,\"fps\":12.50,"
        "\"faces\":4,\"people\":1,\"mask\":1,\"no_mask\":0,\"unknown\":0,\"active\":1,"
        "\"window_s\":60.000,\"window_mask\":1,\"window_no_mask\":0,\"compliance\":1.0000,"
        "\"skipped\":3,\"decoded\":7,\"dropped_dets\":0,\"dropped_events\":0}\n"
        "{\"event\":\"reconnect\",\"t\":1.750,\"frame\":4,\"source\":\"rtsp://cam/\\\"door\\\"\","
        "\"attempt\":2,\"reason\":\"timeout\\n(5 s)\"}\n"
        "{\"event\":\"source_error\",\"t\":1.800,\"frame\":4,\"source\":\"cam\","
        "\"message\":\"bad\\u0001byte\\\\\"}\n"
        "{\"event\":\"leave\",\"t\":2.000,\"frame\":4,\"track\":1,\"label\":\"mask\","
        "\"mean_mask_prob\":0.469,\"max_box\":[5.0,15.0,55.0,75.0],\"score\":0.875,"
        "\"first_seen\":0.000,\"last_seen\":1.500,\"first_frame\":0,\"last_frame\":3,"
        "\"frames\":4,\"votes\":4}\n"
        "{\"event\":\"summary\",\"t\":2.000,\"frame\":4,\"final\":true,\"fps\":10.00,"
        "\"faces\":4,\"people\":1,\"mask\":1,\"no_mask\":0,\"unknown\":0,\"active\":0,"
        "\"window_s\":60.000,\"window_mask\":1,\"window_no_mask\":0,\"compliance\":1.0000,"
        "\"skipped\":3,\"decoded\":7,\"dropped_dets\":0,\"dropped_events\":0}\n"
        "{\"event\":\"end\",\"t\":2.000,\"frame\":4,\"reason\":\"eof\"}\n";
    check_lines(got, exp);
    free(got);
    fm_events_close(ev);
    fclose(f);
    fm_tracker_free(tr);
}

/* Unknown values are null: a probability before any vote, compliance with nobody labelled,
 * a non-finite time; negative numbers and rounding. */
static void test_events_nulls_and_numbers(void)
{
    fm_err err = {0};
    FILE *f = tmpfile();
    fm_events *ev = fm_events_open(f, 0, &err);
    FM_CHECK(f && ev);
    if (!f || !ev)
        return;
    fm_track_event te;
    memset(&te, 0, sizeof te);
    te.type = FM_TRACK_APPEAR;
    te.id = 7;
    te.t = 1.0 / 3;
    te.frame = 12;
    te.mask_prob = -1;
    te.box = (fm_box){-3.26f, 0.04f, 99.96f, 1e7f};
    te.score = 0.99949f;
    FM_CHECK_INT(fm_events_track(ev, &te, &err), FM_OK);
    fm_track_counts c;
    memset(&c, 0, sizeof c);
    c.compliance = -1;
    c.window = 30;
    FM_CHECK_INT(fm_events_summary(ev, NAN, 0, &c, 0, 0, 0, 0, &err), FM_OK);
    char *got = slurp(f);
    check_lines(got,
                "{\"event\":\"appear\",\"t\":0.333,\"frame\":12,\"track\":7,\"label\":\"unknown\","
                "\"mask_prob\":null,\"box\":[-3.3,0.0,100.0,10000000.0],\"score\":0.999,"
                "\"first_seen\":0.000,\"frames\":0,\"votes\":0}\n"
                "{\"event\":\"summary\",\"t\":null,\"frame\":0,\"final\":false,\"fps\":0.00,"
                "\"faces\":0,\"people\":0,\"mask\":0,\"no_mask\":0,\"unknown\":0,\"active\":0,"
                "\"window_s\":30.000,\"window_mask\":0,\"window_no_mask\":0,\"compliance\":null,"
                "\"skipped\":0,\"decoded\":0,\"dropped_dets\":0,\"dropped_events\":0}\n");
    free(got);
    fm_events_close(ev);
    fclose(f);
}

/* Long strings are cut at 1024 characters with "..."; the line stays one line. */
static void test_events_long_string(void)
{
    fm_err err = {0};
    FILE *f = tmpfile();
    fm_events *ev = fm_events_open(f, 0, &err);
    char *msg = malloc(3001);
    FM_CHECK(f && ev && msg);
    if (!f || !ev || !msg)
        return;
    for (int i = 0; i < 3000; i++)
        msg[i] = i % 2 ? '\n' : '"';
    msg[3000] = '\0';
    FM_CHECK_INT(fm_events_source_error(ev, 0, 0, msg, msg, &err), FM_OK);
    char *got = slurp(f);
    FM_CHECK(got && strchr(got, '\n') == got + strlen(got) - 1);
    FM_CHECK_INT(got ? strlen(got) : 0,
                 strlen("{\"event\":\"source_error\",\"t\":0.000,\"frame\":0,\"source\":\"\","
                        "\"message\":\"\"}\n") + 2 * (1024 * 2 + 3));
    free(got);
    free(msg);
    fm_events_close(ev);
    fclose(f);
}

static void test_events_summary_period(void)
{
    fm_err err = {0};
    FILE *f = tmpfile();
    fm_events *ev = fm_events_open(f, 10.0, &err), *never = fm_events_open(f, 0, &err);
    FM_CHECK(f && ev && never);
    if (!f || !ev || !never)
        return;
    fm_track_counts c;
    memset(&c, 0, sizeof c);
    FM_CHECK_INT(fm_events_summary_due(ev, 3.0), 0); /* starts the clock */
    FM_CHECK_INT(fm_events_summary_due(ev, 12.9), 0);
    FM_CHECK_INT(fm_events_summary_due(ev, 13.0), 1);
    FM_CHECK_INT(fm_events_summary(ev, 13.5, 1, &c, 0, 0, 1, 0, &err), FM_OK);
    FM_CHECK_INT(fm_events_summary_due(ev, 20.0), 0);
    FM_CHECK_INT(fm_events_summary_due(ev, 23.5), 1);
    FM_CHECK_INT(fm_events_summary_due(never, 1e9), 0);
    FM_CHECK(fm_events_open(f, -1, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "events: summary period -1 s, expected >= 0");
    FM_CHECK(fm_events_open(NULL, 1, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "events: no output stream");
    fm_events_close(ev);
    fm_events_close(never);
    fclose(f);
}

/* A full disk is reported, not ignored. */
static void test_events_write_error(void)
{
    fm_err err = {0};
    FILE *f = fopen("/dev/full", "w");
    if (!f) {
        fm_test_fail(__FILE__, __LINE__, "cannot open /dev/full");
        return;
    }
    fm_events *ev = fm_events_open(f, 0, &err);
    FM_CHECK(ev != NULL);
    FM_CHECK_INT(fm_events_end(ev, 1, 1, "eof", &err), FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "events: write failed: No space left on device");
    fm_track_event te;
    memset(&te, 0, sizeof te);
    te.type = (fm_track_event_type)9;
    FM_CHECK_INT(fm_events_track(ev, &te, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "unknown track event type 9");
    fm_events_close(ev);
    fclose(f);
}

/* Landmarks travel from a detection to the appear line (this frame's) and the leave line
 * (those of the largest box), after "score"; a detection without them writes none. */
static void test_events_landmarks(void)
{
    fm_err err = {0};
    fm_tracker_params p = fm_tracker_defaults();
    p.min_hits = 2;
    fm_tracker *tr = fm_tracker_create(&p, &err);
    FILE *f = tmpfile();
    fm_events *ev = fm_events_open(f, 0, &err);
    FM_CHECK_MSG(tr && f && ev, "setup: %s", err.msg);
    if (!tr || !f || !ev) {
        fm_events_close(ev);
        fm_tracker_free(tr);
        if (f)
            fclose(f);
        return;
    }
    fm_track_event te[8];
    int nte = 0;
    for (int i = 0; i < 3; i++) {
        float g = (float)i; /* the box grows: frame 2's is the largest */
        fm_det d[2] = {{{10 - g, 20, 50 + g, 70}, 0.875f, FM_DET_UNCLASSIFIED, 5, {{0}}},
                       {{200, 20, 240, 70}, 0.75f, FM_DET_UNCLASSIFIED, 0, {{0}}}};
        for (int k = 0; k < 5; k++) {
            d[0].landmarks[k][0] = 20.0f + (float)k + g;
            d[0].landmarks[k][1] = -0.25f * (float)k;
        }
        FM_CHECK_INT(fm_tracker_update(tr, d, 2, i * 0.5, te, 8, &nte), FM_OK);
        for (int e = 0; e < nte; e++)
            FM_CHECK_INT(fm_events_track(ev, &te[e], &err), FM_OK);
    }
    FM_CHECK_INT(fm_tracker_finish(tr, 1.0, te, 8, &nte), FM_OK);
    for (int e = 0; e < nte; e++)
        FM_CHECK_INT(fm_events_track(ev, &te[e], &err), FM_OK);
    char *got = slurp(f);
    check_lines(got,
                "{\"event\":\"appear\",\"t\":0.500,\"frame\":1,\"track\":1,\"label\":\"unknown\","
                "\"mask_prob\":null,\"box\":[9.0,20.0,51.0,70.0],\"score\":0.875,\"landmarks\":"
                "[[21.0,0.0],[22.0,-0.3],[23.0,-0.5],[24.0,-0.8],[25.0,-1.0]],\"first_seen\":0.000,"
                "\"frames\":2,\"votes\":0}\n"
                "{\"event\":\"appear\",\"t\":0.500,\"frame\":1,\"track\":2,\"label\":\"unknown\","
                "\"mask_prob\":null,\"box\":[200.0,20.0,240.0,70.0],\"score\":0.750,"
                "\"first_seen\":0.000,\"frames\":2,\"votes\":0}\n"
                "{\"event\":\"leave\",\"t\":1.000,\"frame\":3,\"track\":1,\"label\":\"unknown\","
                "\"mean_mask_prob\":null,\"max_box\":[8.0,20.0,52.0,70.0],\"score\":0.875,"
                "\"landmarks\":[[22.0,0.0],[23.0,-0.3],[24.0,-0.5],[25.0,-0.8],[26.0,-1.0]],"
                "\"first_seen\":0.000,\"last_seen\":1.000,\"first_frame\":0,\"last_frame\":2,"
                "\"frames\":3,\"votes\":0}\n"
                "{\"event\":\"leave\",\"t\":1.000,\"frame\":3,\"track\":2,\"label\":\"unknown\","
                "\"mean_mask_prob\":null,\"max_box\":[200.0,20.0,240.0,70.0],\"score\":0.750,"
                "\"first_seen\":0.000,\"last_seen\":1.000,\"first_frame\":0,\"last_frame\":2,"
                "\"frames\":3,\"votes\":0}\n");
    free(got);
    fm_track_info vis[4];
    FM_CHECK_INT(fm_tracker_tracks(tr, vis, 4, 0), 0); /* all left */
    fm_events_close(ev);
    fclose(f);
    fm_tracker_free(tr);
}

/* The output error lines' format. */
static void test_events_output_errors(void)
{
    fm_err err = {0};
    FILE *f = tmpfile();
    fm_events *ev = fm_events_open(f, 0, &err);
    FM_CHECK_INT(fm_events_record_error(ev, 2.5, 7, "out/rec.mp4", "disk \"full\"", &err), FM_OK);
    FM_CHECK_INT(fm_events_snapshot_error(ev, 3.0, 9, "s/a.jpg", "read-only", &err), FM_OK);
    char *got = slurp(f);
    FM_CHECK_STR_CONTAINS(got, "{\"event\":\"record_error\",\"t\":2.500,\"frame\":7,"
                               "\"file\":\"out/rec.mp4\",\"message\":\"disk \\\"full\\\"\"}\n");
    FM_CHECK_STR_CONTAINS(got, "{\"event\":\"snapshot_error\",\"t\":3.000,\"frame\":9,"
                               "\"file\":\"s/a.jpg\",\"message\":\"read-only\"}\n");
    free(got);
    fm_events_close(ev);
    fclose(f);
}

/* Lines that must be strict UTF-8 JSON, checked by python3's strict decoders: returns how
 * many lines parsed, -1 when one did not. */
static int strict_json_lines(const char *text)
{
    char path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/events.jsonl", fm_test_tmpdir());
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import json,sys\n"
             "n = 0\n"
             "for raw in open(sys.argv[1], \"rb\").read().splitlines():\n"
             "    json.loads(raw.decode(\"utf-8\", \"strict\")); n += 1\n"
             "print(n)' %s",
             path);
    char *out = NULL;
    int rc = fm_test_cmd(cmd, &out);
    int n = rc == 0 && out ? atoi(out) : -1;
    free(out);
    return n;
}

/* Strings that are not UTF-8, and a 4-byte character across the 1024-byte cut: every line
 * is valid UTF-8 JSON, the cut falls before the character, an invalid byte is U+FFFD. */
static void test_events_utf8_and_cut(void)
{
    fm_err err = {0};
    FILE *f = tmpfile();
    fm_events *ev = fm_events_open(f, 0, &err);
    FM_CHECK(f && ev);
    if (!f || !ev)
        return;
    char longs[1100];
    for (int at = 1019; at <= 1022; at++) { /* the character starts 5..2 bytes before the cut */
        memset(longs, 'a', sizeof longs);
        memcpy(longs + at, "\xf0\x9f\x98\xb7", 4);
        longs[1060] = '\0';
        FM_CHECK_INT(fm_events_source_error(ev, 0, 0, "rtsp://cam/\xff\xfe", longs, &err), FM_OK);
    }
    FM_CHECK_INT(fm_events_end(ev, 1, 2, "bad \xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80", &err),
                 FM_OK);
    char *got = slurp(f);
    FM_CHECK_INT(strict_json_lines(got ? got : ""), 5);
    /* the first line keeps the whole character (it ends at byte 1023), the others cut
     * before it */
    FM_CHECK_STR_CONTAINS(got, "\"source\":\"rtsp://cam/\xef\xbf\xbd\xef\xbf\xbd\"");
    FM_CHECK_STR_CONTAINS(got, "aaa\xf0\x9f\x98\xb7" "a...\"}");
    FM_CHECK_STR_CONTAINS(got, "aaa\xf0\x9f\x98\xb7...\"}");
    FM_CHECK_STR_CONTAINS(got, "aaaa...\"}");
    free(got);
    fm_events_close(ev);
    fclose(f);
}

void suite_track_events(void);
void suite_track_events(void)
{
    FM_RUN(test_events_output_errors);
    FM_RUN(test_events_scenario_exact);
    FM_RUN(test_events_nulls_and_numbers);
    FM_RUN(test_events_long_string);
    FM_RUN(test_events_summary_period);
    FM_RUN(test_events_write_error);
    FM_RUN(test_events_landmarks);
    FM_RUN(test_events_utf8_and_cut);
}
