/* Tracker on synthetic sequences: ids through crossings and occlusion, confirmation, loss,
 * hysteresis, counts, the compliance window, re-classification requests, errors. */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "track/tracker.h"

#define MAXEV 256

/* A run's events, collected over all updates. */
typedef struct {
    fm_track_event ev[MAXEV];
    int n;
} evlog;

static fm_det det_at(float cx, float cy, float side, float prob)
{
    fm_det d = {{cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2}, 0.9f, prob, 0, {{0}}};
    return d;
}

static void step(fm_tracker *tr, const fm_det *dets, int n, double t, evlog *log)
{
    fm_track_event ev[64];
    int nev = -1;
    fm_status st = fm_tracker_update(tr, dets, n, t, ev, 64, &nev);
    FM_CHECK_INT(st, FM_OK);
    for (int i = 0; i < nev && log; i++)
        if (log->n < MAXEV)
            log->ev[log->n++] = ev[i];
}

static int count_type(const evlog *log, fm_track_event_type type)
{
    int n = 0;
    for (int i = 0; i < log->n; i++)
        n += log->ev[i].type == type;
    return n;
}

/* The id of the confirmed track matched to detection `det` in the last update, 0 if none. */
static int id_of_det(const fm_tracker *tr, int det)
{
    fm_track_info vis[64];
    int n = fm_tracker_tracks(tr, vis, 64, 0);
    for (int i = 0; i < n && i < 64; i++)
        if (vis[i].det == det)
            return vis[i].id;
    return 0;
}

static fm_tracker *make(const fm_tracker_params *p)
{
    fm_err err = {0};
    fm_tracker *tr = fm_tracker_create(p, &err);
    FM_CHECK_MSG(tr != NULL, "create: %s", err.msg);
    return tr;
}

/* Two faces walk towards each other along almost the same line and cross; the detections come
 * in either order. Ids stay with the faces. */
static void test_tracker_crossing_keeps_ids(void)
{
    fm_tracker *tr = make(NULL);
    if (!tr)
        return;
    evlog log = {.n = 0};
    for (int f = 0; f < 40; f++) {
        float ax = 40.0f + 12.0f * f, bx = 520.0f - 12.0f * f;
        fm_det d[2];
        int a = f % 2, b = 1 - a; /* order alternates */
        d[a] = det_at(ax, 200, 60, FM_DET_UNCLASSIFIED);
        d[b] = det_at(bx, 206, 56, FM_DET_UNCLASSIFIED);
        step(tr, d, 2, f / 25.0, &log);
        if (f >= 2) {
            FM_CHECK_MSG(id_of_det(tr, a) == 1 && id_of_det(tr, b) == 2,
                         "frame %d: face A has id %d, B %d (expected 1, 2)", f, id_of_det(tr, a),
                         id_of_det(tr, b));
        }
    }
    FM_CHECK_INT(count_type(&log, FM_TRACK_APPEAR), 2);
    fm_track_counts c;
    fm_tracker_counts(tr, &c);
    FM_CHECK_INT(c.people, 2);
    FM_CHECK_INT(c.active, 2);
    fm_tracker_free(tr);
}

/* The same crossing, but the face behind is not detected while they overlap: it coasts on its
 * velocity and is picked up again with its own id. */
static void test_tracker_crossing_with_occlusion(void)
{
    fm_tracker *tr = make(NULL);
    if (!tr)
        return;
    evlog log = {.n = 0};
    int hidden_frames = 0;
    for (int f = 0; f < 40; f++) {
        float ax = 40.0f + 12.0f * f, bx = 520.0f - 12.0f * f;
        fm_det d[2];
        d[0] = det_at(ax, 200, 60, FM_DET_UNCLASSIFIED);
        d[1] = det_at(bx, 204, 60, FM_DET_UNCLASSIFIED);
        int occluded = fabsf(ax - bx) < 50;
        hidden_frames += occluded;
        step(tr, d, occluded ? 1 : 2, f / 25.0, &log);
        if (f >= 2) {
            FM_CHECK_MSG(id_of_det(tr, 0) == 1, "frame %d: face A has id %d", f, id_of_det(tr, 0));
            if (!occluded)
                FM_CHECK_MSG(id_of_det(tr, 1) == 2, "frame %d: face B has id %d", f,
                             id_of_det(tr, 1));
        }
    }
    FM_CHECK(hidden_frames >= 3);
    FM_CHECK_INT(count_type(&log, FM_TRACK_APPEAR), 2);
    FM_CHECK_INT(count_type(&log, FM_TRACK_LEAVE), 0);
    fm_tracker_free(tr);
}

/* One-frame and two-frame detections elsewhere never become people (min_hits 3). */
static void test_tracker_false_positive_not_counted(void)
{
    fm_tracker *tr = make(NULL);
    if (!tr)
        return;
    evlog log = {.n = 0};
    for (int f = 0; f < 30; f++) {
        fm_det d[2];
        int n = 0;
        d[n++] = det_at(100, 100, 50, FM_DET_UNCLASSIFIED);
        if (f == 5 || f == 12 || f == 13 || f == 20 || f == 22)
            d[n++] = det_at(400, 300, 40, FM_DET_UNCLASSIFIED);
        step(tr, d, n, f * 0.04, &log);
        if (f == 5) { /* the false positive is a tentative track: listed only with ALL */
            fm_track_info all[8];
            FM_CHECK_INT(fm_tracker_tracks(tr, all, 8, 0), 1);
            FM_CHECK_INT(fm_tracker_tracks(tr, all, 8, FM_TRACKS_ALL), 2);
            FM_CHECK_INT(all[1].id, 0);
        }
    }
    int nev = 0;
    fm_track_event ev[8];
    FM_CHECK_INT(fm_tracker_finish(tr, 1.2, ev, 8, &nev), FM_OK);
    FM_CHECK_INT(nev, 1);
    FM_CHECK_INT(ev[0].type, FM_TRACK_LEAVE);
    FM_CHECK_INT(ev[0].id, 1);
    FM_CHECK_INT(count_type(&log, FM_TRACK_APPEAR), 1);
    fm_track_counts c;
    fm_tracker_counts(tr, &c);
    FM_CHECK_INT(c.people, 1);
    FM_CHECK_INT(c.faces, 30 + 5);
    FM_CHECK_INT(c.active, 0);
    fm_tracker_free(tr);
}

/* A face leaves (no detections for longer than max_age), then a new face enters at the same
 * place: a leave event with the summary, then a new id. Times are exact binary fractions. */
static void test_tracker_leave_then_new_id(void)
{
    fm_tracker *tr = make(NULL); /* max_age 1 s */
    if (!tr)
        return;
    evlog log = {.n = 0};
    int left_at = -1;
    for (int f = 0; f < 30; f++) {
        double t = f * 0.125;
        fm_det d = det_at(200, 150, 80 + (f < 10 ? (float)f : 0.0f), 0.9f);
        int before = log.n;
        step(tr, &d, f < 10 || f >= 20 ? 1 : 0, t, &log);
        for (int i = before; i < log.n; i++)
            if (log.ev[i].type == FM_TRACK_LEAVE)
                left_at = f;
    }
    /* last seen at frame 9 (t 1.125); gone when t - 1.125 > 1: frame 18 (t 2.25) */
    FM_CHECK_INT(left_at, 18);
    FM_CHECK_INT(log.n, 3);
    const fm_track_event *a = &log.ev[0], *l = &log.ev[1], *b = &log.ev[2];
    FM_CHECK_INT(a->type, FM_TRACK_APPEAR);
    FM_CHECK_INT(a->id, 1);
    FM_CHECK_INT(a->frame, 2);
    FM_CHECK_INT(a->label, FM_LABEL_MASK); /* 3 votes of 0.9 by confirmation */
    FM_CHECK_INT(l->type, FM_TRACK_LEAVE);
    FM_CHECK_INT(l->id, 1);
    FM_CHECK_NEAR(l->t, 2.25, 0);
    FM_CHECK_INT(l->frame, 18);
    FM_CHECK_NEAR(l->first_seen, 0.0, 0);
    FM_CHECK_NEAR(l->last_seen, 1.125, 0);
    FM_CHECK_INT(l->first_frame, 0);
    FM_CHECK_INT(l->last_frame, 9);
    FM_CHECK_INT(l->frames, 10);
    FM_CHECK_INT(l->votes, 10);
    FM_CHECK_INT(l->label, FM_LABEL_MASK);
    FM_CHECK_NEAR(l->mask_prob, 0.9, 1e-6);
    FM_CHECK_NEAR(l->box.x2 - l->box.x1, 89, 1e-4); /* the largest box: frame 9, side 89 */
    FM_CHECK_INT(b->type, FM_TRACK_APPEAR);
    FM_CHECK_INT(b->id, 2);
    FM_CHECK_INT(b->frame, 22);
    fm_track_counts c;
    fm_tracker_counts(tr, &c);
    FM_CHECK_INT(c.people, 2);
    FM_CHECK_INT(c.mask, 2);
    fm_tracker_free(tr);
}

/* mask_prob alternating around 0.5 (and uniform noise around it) flips the label at most once. */
static void test_tracker_hysteresis_no_flicker(void)
{
    for (int kind = 0; kind < 3; kind++) {
        fm_tracker *tr = make(NULL);
        if (!tr)
            return;
        evlog log = {.n = 0};
        uint64_t rng = 1234 + (uint64_t)kind;
        int label_changes = 0;
        fm_label prev = FM_LABEL_UNKNOWN;
        for (int f = 0; f < 300; f++) {
            float p;
            if (kind == 0)
                p = f % 2 ? 0.3f : 0.7f;
            else if (kind == 1)
                p = f % 2 ? 0.05f : 0.95f;
            else
                p = fm_test_randf(&rng, 0.25f, 0.75f);
            fm_det d = det_at(300, 200, 100, p);
            step(tr, &d, 1, f / 30.0, &log);
            fm_track_info vis[2];
            if (fm_tracker_tracks(tr, vis, 2, 0) == 1) {
                label_changes += vis[0].label != prev;
                prev = vis[0].label;
            }
        }
        FM_CHECK_MSG(label_changes <= 1, "kind %d: %d label changes", kind, label_changes);
        FM_CHECK_MSG(count_type(&log, FM_TRACK_LABEL) <= 1, "kind %d: %d label events", kind,
                     count_type(&log, FM_TRACK_LABEL));
        fm_tracker_free(tr);
    }
}

/* A clear change (0.9 then 0.1) switches once, after 4 low votes; an outlier (0.0 at frame 3:
 * EMA 0.9 -> 0.63, above low) changes nothing. EMA from frame 9: 0.86823 -> 0.63776 -> 0.47644
 * -> 0.3635 -> 0.28445 < low 0.35 at frame 13. */
static void test_tracker_hysteresis_switch(void)
{
    fm_tracker *tr = make(NULL);
    if (!tr)
        return;
    evlog log = {.n = 0};
    for (int f = 0; f < 30; f++) {
        float p = f < 10 ? 0.9f : 0.1f;
        if (f == 3)
            p = 0.0f;
        fm_det d = det_at(300, 200, 100, p);
        step(tr, &d, 1, f / 30.0, &log);
    }
    FM_CHECK_INT(log.n, 2);
    FM_CHECK_INT(log.ev[0].type, FM_TRACK_APPEAR);
    FM_CHECK_INT(log.ev[0].label, FM_LABEL_MASK);
    FM_CHECK_INT(log.ev[1].type, FM_TRACK_LABEL);
    FM_CHECK_INT(log.ev[1].frame, 13);
    FM_CHECK_INT(log.ev[1].label, FM_LABEL_NO_MASK);
    FM_CHECK_INT(log.ev[1].prev_label, FM_LABEL_MASK);
    FM_CHECK_NEAR(log.ev[1].mask_prob, 0.28445, 1e-4);
    /* 11 frames with mask (2..12), 17 with no_mask: the majority says no_mask */
    fm_track_counts c;
    fm_tracker_counts(tr, &c);
    FM_CHECK_INT(c.people, 1);
    FM_CHECK_INT(c.no_mask, 1);
    FM_CHECK_INT(c.mask, 0);
    fm_tracker_free(tr);
}

/* Unknown until min_votes classifications, however confident the first ones are. */
static void test_tracker_unknown_until_votes(void)
{
    fm_tracker_params p = fm_tracker_defaults();
    p.min_hits = 1;
    p.min_votes = 3;
    fm_tracker *tr = make(&p);
    if (!tr)
        return;
    evlog log = {.n = 0};
    for (int f = 0; f < 5; f++) {
        fm_det d = det_at(300, 200, 100, f == 1 ? FM_DET_UNCLASSIFIED : 0.99f);
        step(tr, &d, 1, f * 0.1, &log);
        fm_track_info vis[1];
        FM_CHECK_INT(fm_tracker_tracks(tr, vis, 1, 0), 1);
        FM_CHECK_INT(vis[0].label, f < 3 ? FM_LABEL_UNKNOWN : FM_LABEL_MASK);
    }
    FM_CHECK_INT(log.n, 2);
    FM_CHECK_INT(log.ev[0].label, FM_LABEL_UNKNOWN);
    FM_CHECK_NEAR(log.ev[0].mask_prob, 0.99, 1e-6);
    FM_CHECK_INT(log.ev[1].type, FM_TRACK_LABEL);
    FM_CHECK_INT(log.ev[1].frame, 3);
    fm_tracker_free(tr);
}

/* Five people pass one after another (plus a false positive): 3 masked, 1 not, 1 never
 * classified; totals, active and the compliance window (8 s) along the way. */
static void test_tracker_counts_and_window(void)
{
    fm_tracker_params p = fm_tracker_defaults();
    p.window = 8.0;
    fm_tracker *tr = make(&p);
    if (!tr)
        return;
    evlog log = {.n = 0};
    static const float probs[5] = {0.95f, 0.9f, 0.1f, 0.97f, -1.0f};
    /* person k is present for t in [4k, 4k + 2) s at 10 fps */
    fm_track_counts c;
    for (int f = 0; f < 250; f++) {
        double t = f * 0.1;
        fm_det d[2];
        int n = 0;
        int k = (int)(f / 40), in = (f % 40) < 20;
        if (k < 5 && in)
            d[n++] = det_at(100.0f + 5.0f * (f % 40), 240, 90, probs[k]);
        if (f == 77)
            d[n++] = det_at(600, 50, 30, 0.1f);
        step(tr, d, n, t, &log);
        fm_tracker_counts(tr, &c);
        if (f == 10) {
            FM_CHECK_INT(c.people, 1);
            FM_CHECK_INT(c.active, 1);
            FM_CHECK_INT(c.window_mask, 1);
            FM_CHECK_NEAR(c.compliance, 1.0, 0);
        }
        if (f == 115) { /* t 11.5: persons 0, 1 and 2 (no mask, last seen 9.9) have left */
            FM_CHECK_INT(c.people, 3);
            FM_CHECK_INT(c.active, 0);
            FM_CHECK_INT(c.mask, 2);
            FM_CHECK_INT(c.no_mask, 1);
            /* window from t 3.5: person 0 (last seen 1.9) is out, 1 (5.9) and 2 (9.9) in */
            FM_CHECK_INT(c.window_mask, 1);
            FM_CHECK_INT(c.window_no_mask, 1);
            FM_CHECK_NEAR(c.compliance, 0.5, 1e-12);
        }
    }
    FM_CHECK_INT(c.people, 5);
    FM_CHECK_INT(c.mask, 3);
    FM_CHECK_INT(c.no_mask, 1);
    FM_CHECK_INT(c.unknown, 1);
    FM_CHECK_INT(c.mask + c.no_mask + c.unknown, c.people);
    FM_CHECK_INT(c.frames, 250);
    FM_CHECK_INT(c.faces, 5 * 20 + 1);
    FM_CHECK_INT(count_type(&log, FM_TRACK_APPEAR), 5);
    FM_CHECK_INT(count_type(&log, FM_TRACK_LEAVE), 5);
    /* window from t 16.9: only person 4 (last seen 17.9), never classified: no compliance */
    FM_CHECK_INT(c.window_mask, 0);
    FM_CHECK_INT(c.window_no_mask, 0);
    FM_CHECK_NEAR(c.compliance, -1, 0);
    for (int i = 0; i < log.n; i++)
        if (log.ev[i].type == FM_TRACK_LEAVE && log.ev[i].id == 5) {
            FM_CHECK_INT(log.ev[i].label, FM_LABEL_UNKNOWN);
            FM_CHECK_NEAR(log.ev[i].mask_prob, -1, 0);
            FM_CHECK_INT(log.ev[i].votes, 0);
        }
    fm_tracker_free(tr);
}

/* Classify only what plan asks for: frames 0, 1, 2 (fewer than 3 votes), then every 10 frames
 * (12, 22), at once when the face grows by 1.3x (frame 25: side 60 -> 80), and a request that
 * was not served stays open (frame 35 skipped: asked again at 36, then 46). */
static void test_tracker_reclassify_schedule(void)
{
    fm_tracker *tr = make(NULL);
    if (!tr)
        return;
    char got[256] = "", exp[] = "0 1 2 12 22 25 35 36 46 ";
    for (int f = 0; f < 50; f++) {
        fm_det d = det_at(320, 240, f < 25 ? 60.0f : 80.0f, FM_DET_UNCLASSIFIED);
        int want = -1;
        int nw = fm_tracker_plan(tr, &d, 1, f / 30.0, &want);
        FM_CHECK_INT(nw, want);
        if (want) {
            size_t len = strlen(got);
            snprintf(got + len, sizeof got - len, "%d ", f);
            if (f != 35)
                d.mask_prob = 0.95f;
        }
        step(tr, &d, 1, f / 30.0, NULL);
    }
    FM_CHECK_MSG(strcmp(got, exp) == 0, "classified at \"%s\", expected \"%s\"", got, exp);
    fm_tracker_free(tr);
}

/* An undecided face (average within [low, high]) is asked for every frame; a new detection while
 * the table is full is not asked for. */
static void test_tracker_reclassify_uncertain_and_full(void)
{
    fm_tracker_params p = fm_tracker_defaults();
    p.max_tracks = 1;
    fm_tracker *tr = make(&p);
    if (!tr)
        return;
    for (int f = 0; f < 20; f++) {
        fm_det d[2] = {det_at(320, 240, 60, FM_DET_UNCLASSIFIED),
                       det_at(100, 100, 60, FM_DET_UNCLASSIFIED)};
        int want[2];
        FM_CHECK_INT(fm_tracker_plan(tr, d, 2, f / 30.0, want), 1);
        FM_CHECK_INT(want[0], 1);
        FM_CHECK_INT(want[1], 0);
        d[0].mask_prob = 0.5f;
        step(tr, d, 2, f / 30.0, NULL);
    }
    fm_track_counts c;
    fm_tracker_counts(tr, &c);
    FM_CHECK_INT(c.dropped_dets, 20);
    FM_CHECK_INT(c.people, 1);
    FM_CHECK_INT(c.unknown, 1);
    fm_tracker_free(tr);
}

/* Events that do not fit the caller's array wait in the queue and come out in order. */
static void test_tracker_event_queue(void)
{
    fm_tracker_params p = fm_tracker_defaults();
    p.min_hits = 1;
    fm_tracker *tr = make(&p);
    if (!tr)
        return;
    fm_det d[5];
    for (int i = 0; i < 5; i++)
        d[i] = det_at(60.0f + 100.0f * i, 100, 50, FM_DET_UNCLASSIFIED);
    fm_track_event ev[8];
    int nev = -1;
    FM_CHECK_INT(fm_tracker_update(tr, d, 5, 0.0, ev, 2, &nev), FM_OK);
    FM_CHECK_INT(nev, 2);
    FM_CHECK_INT(ev[0].id, 1);
    FM_CHECK_INT(ev[1].id, 2);
    FM_CHECK_INT(fm_tracker_update(tr, NULL, 0, 0.1, NULL, 0, &nev), FM_OK);
    FM_CHECK_INT(nev, 0);
    FM_CHECK_INT(fm_tracker_drain(tr, ev, 8), 3);
    FM_CHECK_INT(ev[0].id, 3);
    FM_CHECK_INT(ev[2].id, 5);
    FM_CHECK_INT(fm_tracker_drain(tr, ev, 8), 0);
    fm_tracker_free(tr);
}

/* Invalid detections are ignored; time going backwards is held at the last time. */
static void test_tracker_bad_input(void)
{
    fm_tracker *tr = make(NULL);
    if (!tr)
        return;
    fm_track_event ev[8];
    int nev;
    fm_det d[3] = {det_at(100, 100, 50, 0.9f), {{10, 10, 5, 20}, 0.9f, 0.5f, 0, {{0}}},
                   {{NAN, 0, 10, 10}, 0.9f, 0.5f, 0, {{0}}}};
    int want[3];
    FM_CHECK_INT(fm_tracker_plan(tr, d, 3, 0.0, want), 1);
    FM_CHECK_INT(want[1] + want[2], 0);
    for (int f = 0; f < 5; f++)
        FM_CHECK_INT(fm_tracker_update(tr, d, 3, f == 3 ? -5.0 : f * 0.1, ev, 8, &nev), FM_OK);
    fm_track_counts c;
    fm_tracker_counts(tr, &c);
    FM_CHECK_INT(c.faces, 5);
    FM_CHECK_INT(c.people, 1);
    FM_CHECK_INT(fm_tracker_update(tr, NULL, 1, 1.0, ev, 8, &nev), FM_ERR_ARG);
    FM_CHECK_INT(fm_tracker_update(tr, d, -1, 1.0, ev, 8, &nev), FM_ERR_ARG);
    FM_CHECK_INT(fm_tracker_update(tr, d, 1, 1.0, NULL, 8, &nev), FM_ERR_ARG);
    FM_CHECK_INT(fm_tracker_update(tr, d, 1, 1.0, ev, 8, NULL), FM_ERR_ARG);
    FM_CHECK_INT(fm_tracker_plan(tr, d, -1, 1.0, want), -1);
    fm_tracker_counts(tr, &c);
    FM_CHECK_INT(c.frames, 5);
    fm_tracker_free(tr);
}

static void test_tracker_params_errors(void)
{
    fm_err err = {0};
    fm_tracker_params p = fm_tracker_defaults();
    p.low = 0.7f;
    p.high = 0.6f;
    FM_CHECK(fm_tracker_create(&p, &err) == NULL);
    FM_CHECK_INT(err.status, FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "low = 0.7, high = 0.6");
    p = fm_tracker_defaults();
    p.max_tracks = 0;
    FM_CHECK(fm_tracker_create(&p, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "tracker: parameter max_tracks = 0, expected 1..4096");
    p = fm_tracker_defaults();
    p.max_age = 0;
    FM_CHECK(fm_tracker_create(&p, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "max_age = 0 s");
    FM_CHECK_NEAR(fm_box_iou((fm_box){0, 0, 10, 10}, (fm_box){5, 0, 15, 10}), 1.0 / 3, 1e-6);
    FM_CHECK_NEAR(fm_box_iou((fm_box){0, 0, 10, 10}, (fm_box){10, 0, 20, 10}), 0, 0);
    FM_CHECK_NEAR(fm_box_iou((fm_box){0, 0, 0, 10}, (fm_box){0, 0, 0, 10}), 0, 0);
    FM_CHECK(strcmp(fm_label_str(FM_LABEL_NO_MASK), "no_mask") == 0);
}

/* Same random scene twice: identical events. */
static void test_tracker_deterministic(void)
{
    static evlog logs[2];
    for (int run = 0; run < 2; run++) {
        fm_tracker *tr = make(NULL);
        if (!tr)
            return;
        uint64_t rng = 99;
        logs[run].n = 0;
        memset(logs[run].ev, 0, sizeof logs[run].ev);
        for (int f = 0; f < 200; f++) {
            fm_det d[6];
            int n = (int)(fm_test_rand(&rng) % 7);
            for (int i = 0; i < n; i++)
                d[i] = det_at(fm_test_randf(&rng, 0, 600), fm_test_randf(&rng, 0, 400),
                              fm_test_randf(&rng, 30, 90), fm_test_randf(&rng, -0.5f, 1));
            step(tr, d, n, f / 15.0, &logs[run]);
        }
        fm_tracker_free(tr);
    }
    FM_CHECK_INT(logs[0].n, logs[1].n);
    FM_CHECK(memcmp(logs[0].ev, logs[1].ev, sizeof logs[0].ev) == 0);
}

void suite_track_tracker(void);
void suite_track_tracker(void)
{
    FM_RUN(test_tracker_crossing_keeps_ids);
    FM_RUN(test_tracker_crossing_with_occlusion);
    FM_RUN(test_tracker_false_positive_not_counted);
    FM_RUN(test_tracker_leave_then_new_id);
    FM_RUN(test_tracker_hysteresis_no_flicker);
    FM_RUN(test_tracker_hysteresis_switch);
    FM_RUN(test_tracker_unknown_until_votes);
    FM_RUN(test_tracker_counts_and_window);
    FM_RUN(test_tracker_reclassify_schedule);
    FM_RUN(test_tracker_reclassify_uncertain_and_full);
    FM_RUN(test_tracker_event_queue);
    FM_RUN(test_tracker_bad_input);
    FM_RUN(test_tracker_params_errors);
    FM_RUN(test_tracker_deterministic);
}
