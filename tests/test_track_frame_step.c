/* The per-frame step (track/frame_step.h) on the demo clip: the same tracks and events, frame by
 * frame, as the loop watch and the library stream each ran before they shared the step (kept
 * here as the reference: detect, plan, classify the wanted faces, update), with YuNet and res10;
 * with no classifier, labels stay unknown; det NULL ages tracks; bad arguments are refused. */
#include <stdio.h>
#include <string.h>

#include "face/classifier.h"
#include "face/detector.h"
#include "test.h"
#include "track/frame_step.h"
#include "video/source.h"

#define CLIP "demo/uengmim_test_video.avi"
#define MAXF 256

typedef struct {
    fm_tracker *tr;
    fm_face faces[MAXF];
    fm_det dets[MAXF];
    int want[MAXF];
    fm_track_event ev[512];
    fm_track_info tracks[64];
} reference;

/* The loop as watch's inference thread had it. Returns the events; *ntracks the tracks. */
static int reference_frame(reference *r, fm_detector *det, fm_classifier *cls,
                           const fm_image *img, double t, int *ntracks)
{
    int n = fm_detector_run(det, img, 0.5f, r->faces, MAXF, NULL);
    if (n > MAXF)
        n = MAXF;
    for (int i = 0; i < n; i++) {
        r->dets[i] = (fm_det){{r->faces[i].x1, r->faces[i].y1, r->faces[i].x2, r->faces[i].y2},
                              r->faces[i].score, FM_DET_UNCLASSIFIED, r->faces[i].nlandmarks,
                              {{0}}};
        memcpy(r->dets[i].landmarks, r->faces[i].landmarks, sizeof r->dets[i].landmarks);
    }
    if (cls && n > 0) {
        fm_tracker_plan(r->tr, r->dets, n, t, r->want);
        for (int i = 0; i < n; i++) {
            float pm;
            if (r->want[i] && fm_classifier_face(cls, img, &r->faces[i], &pm, NULL) == FM_OK)
                r->dets[i].mask_prob = pm;
        }
    }
    int nev = 0;
    fm_tracker_update(r->tr, r->dets, n, t, r->ev, 512, &nev);
    *ntracks = fm_tracker_tracks(r->tr, r->tracks, 64, 0);
    return nev;
}

static int same_event(const fm_track_event *a, const fm_track_event *b)
{
    return a->type == b->type && a->id == b->id && a->t == b->t && a->frame == b->frame &&
           a->label == b->label && a->prev_label == b->prev_label &&
           a->mask_prob == b->mask_prob && a->box.x1 == b->box.x1 && a->box.y2 == b->box.y2 &&
           a->frames == b->frames && a->votes == b->votes && a->first_seen == b->first_seen;
}

/* Runs the clip (its first max_frames frames, 0: all) through both; returns the number of
 * events seen (all checked equal). */
static int compare_on_clip(const char *detector, int classify, int max_frames,
                           int *labels_known)
{
    char models[512], clip[512];
    snprintf(models, sizeof models, "%s/models", fm_test_shared());
    snprintf(clip, sizeof clip, "%s/" CLIP, fm_test_shared());
    fm_err err = {0};
    fm_detector_spec spec = {detector, models, 0, 0};
    fm_net_opts no = fm_net_default_opts();
    no.threads = 1;
    fm_detector *det = fm_detector_create(&spec, &no, &err);
    FM_CHECK_MSG(det != NULL, "%s", err.msg);
    fm_classifier *cls = classify ? fm_classifier_load("models/mask", &no, &err) : NULL;
    FM_CHECK_MSG(!classify || cls, "%s", err.msg);
    fm_source *src = fm_source_open(clip, NULL, &err);
    FM_CHECK_MSG(src != NULL, "%s", err.msg);
    static reference r;
    memset(&r, 0, sizeof r);
    r.tr = fm_tracker_create(NULL, &err);
    fm_frame_step *s = fm_frame_step_create(NULL, MAXF, &err);
    FM_CHECK_MSG(s != NULL, "%s", err.msg);
    int total = 0;
    *labels_known = 0;
    fm_frame fr = {0};
    double last = 0;
    while (det && (!classify || cls) && src && s && fm_source_read(src, &fr, &err) == FM_OK &&
           (max_frames == 0 || fr.index < max_frames)) {
        int nt = 0;
        int nev = reference_frame(&r, det, cls, fr.image, fr.pts, &nt);
        fm_frame_step_out out;
        FM_CHECK_INT(fm_frame_step_run(s, det, cls, 0.5f, fr.image, fr.pts, &out, &err), FM_OK);
        FM_CHECK_INT(out.nevents, nev);
        FM_CHECK_INT(out.ntracks, nt);
        for (int i = 0; i < nev && i < out.nevents; i++) {
            FM_CHECK_MSG(same_event(&out.events[i], &r.ev[i]), "frame %lld: event %d differs",
                         fr.index, i);
            if (out.events[i].label != FM_LABEL_UNKNOWN)
                (*labels_known)++;
        }
        for (int i = 0; i < nt && i < out.ntracks; i++) {
            FM_CHECK_INT(out.tracks[i].id, r.tracks[i].id);
            FM_CHECK_INT(out.tracks[i].label, r.tracks[i].label);
            FM_CHECK(out.tracks[i].box.x1 == r.tracks[i].box.x1);
        }
        FM_CHECK(out.det_ms >= 0 && out.cls_ms >= 0 && out.trk_ms >= 0);
        FM_CHECK(classify || out.nclassified == 0);
        total += nev;
        last = fr.pts;
        if (fm_test_failed_now())
            break;
    }
    if (s && r.tr) {
        int nev = 0;
        fm_tracker_finish(r.tr, last, r.ev, 512, &nev);
        fm_frame_step_out out;
        FM_CHECK_INT(fm_frame_step_finish(s, last, &out, &err), FM_OK);
        FM_CHECK_INT(out.nevents, nev);
        for (int i = 0; i < nev && i < out.nevents; i++) {
            FM_CHECK(same_event(&out.events[i], &r.ev[i]));
            FM_CHECK_INT(out.events[i].type, FM_TRACK_LEAVE);
        }
        fm_track_counts a, b;
        fm_tracker_counts(r.tr, &a);
        b = out.counts;
        FM_CHECK_INT(b.people, a.people);
        FM_CHECK_INT(b.mask, a.mask);
        FM_CHECK_INT(b.no_mask, a.no_mask);
        FM_CHECK_INT(b.faces, a.faces);
        FM_CHECK_INT(b.frames, a.frames);
        total += nev;
    }
    fm_frame_clear(&fr);
    fm_frame_step_free(s);
    fm_tracker_free(r.tr);
    fm_source_close(src);
    fm_classifier_free(cls);
    fm_detector_free(det);
    return total;
}

static void test_frame_step_clip_yunet(void)
{
    int known = 0;
    int n = compare_on_clip("yunet", 1, 0, &known);
    /* two people appear (one relabelled) and leave: the clip's events (watch's tests and the
     * README describe the same) */
    FM_CHECK_MSG(n >= 4, "only %d events", n);
    FM_CHECK(known > 0);
}

static void test_frame_step_clip_res10(void)
{
    int known = 0;
    int n = compare_on_clip("res10", 1, 30, &known);
    FM_CHECK_MSG(n >= 2, "only %d events", n);
}

static void test_frame_step_no_classifier(void)
{
    int known = 1;
    int n = compare_on_clip("yunet", 0, 30, &known);
    FM_CHECK(n >= 2);
    FM_CHECK_INT(known, 0);
}

/* det NULL: a frame without faces; confirmed tracks leave after max_age (1 s). */
static void test_frame_step_no_detector(void)
{
    char models[512], photo[512];
    snprintf(models, sizeof models, "%s/models", fm_test_shared());
    snprintf(photo, sizeof photo, "%s/demo/aizoo_demo2.jpg", fm_test_shared());
    fm_err err = {0};
    fm_detector_spec spec = {"yunet", models, 0, 0};
    fm_detector *det = fm_detector_create(&spec, NULL, &err);
    fm_image *img = fm_image_load(photo, 0, &err);
    fm_frame_step *s = fm_frame_step_create(NULL, 16, &err);
    FM_CHECK_MSG(det && img && s, "%s", err.msg);
    fm_frame_step_out out;
    int appeared = 0, left = 0;
    for (int k = 0; det && img && s && k < 3; k++) {
        FM_CHECK_INT(fm_frame_step_run(s, det, NULL, 0.5f, img, k * 0.1, &out, &err), FM_OK);
        appeared += out.nevents;
    }
    FM_CHECK(appeared >= 1);
    if (s && img) {
        FM_CHECK_INT(fm_frame_step_run(s, NULL, NULL, 0.5f, img, 0.5, &out, &err), FM_OK);
        FM_CHECK_INT(out.nfaces, 0);
        FM_CHECK_INT(out.nevents, 0);
        FM_CHECK_INT(fm_frame_step_run(s, NULL, NULL, 0.5f, img, 2.0, &out, &err), FM_OK);
        for (int i = 0; i < out.nevents; i++)
            left += out.events[i].type == FM_TRACK_LEAVE;
        FM_CHECK_INT(left, appeared);
        FM_CHECK_INT(out.counts.active, 0);
    }
    /* bad arguments */
    FM_CHECK_INT(fm_frame_step_run(NULL, det, NULL, 0.5f, img, 0, &out, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "NULL step");
    FM_CHECK_INT(fm_frame_step_run(s, det, NULL, 0.5f, NULL, 0, &out, &err), FM_ERR_ARG);
    FM_CHECK_INT(fm_frame_step_finish(s, 0, NULL, &err), FM_ERR_ARG);
    FM_CHECK(fm_frame_step_create(NULL, 0, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "max_faces 0");
    fm_tracker_params p = fm_tracker_defaults();
    p.max_tracks = 0;
    FM_CHECK(fm_frame_step_create(&p, 16, &err) == NULL);
    FM_CHECK(fm_frame_step_tracker(NULL) == NULL);
    fm_frame_step_free(s);
    fm_frame_step_free(NULL);
    fm_image_free(img);
    fm_detector_free(det);
}

void suite_track_frame_step(void);
void suite_track_frame_step(void)
{
    FM_RUN(test_frame_step_clip_yunet);
    FM_RUN(test_frame_step_clip_res10);
    FM_RUN(test_frame_step_no_classifier);
    FM_RUN(test_frame_step_no_detector);
}
