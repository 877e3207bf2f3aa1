/* frame_step.c - detect, plan, classify, track: one frame (track/frame_step.h). */
#include "track/frame_step.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

struct fm_frame_step {
    fm_tracker *tr;
    int max_faces;
    fm_face *faces;       /* max_faces */
    fm_det *dets;         /* max_faces */
    int *want;            /* max_faces: which to classify */
    int max_tracks;
    fm_track_info *tracks; /* max_tracks */
    int max_events;
    fm_track_event *events; /* max_events */
};

fm_frame_step *fm_frame_step_create(const fm_tracker_params *params, int max_faces, fm_err *err)
{
    if (max_faces < 1 || max_faces > 4096) {
        fm_err_set(err, FM_ERR_ARG, "frame step: max_faces %d is not in 1..4096", max_faces);
        return NULL;
    }
    fm_tracker_params p = params ? *params : fm_tracker_defaults();
    fm_frame_step *s = calloc(1, sizeof *s);
    if (!s) {
        fm_err_set(err, FM_ERR_NOMEM, "out of memory for a frame step");
        return NULL;
    }
    if (!(s->tr = fm_tracker_create(&p, err))) {
        free(s);
        return NULL;
    }
    s->max_faces = max_faces;
    s->max_tracks = p.max_tracks;
    /* one update ends, confirms and relabels at most max_tracks each, plus what was queued
     * (4 * max_tracks): whatever is left is drained into the same frame's events */
    s->max_events = 8 * p.max_tracks;
    s->faces = calloc((size_t)max_faces, sizeof *s->faces);
    s->dets = calloc((size_t)max_faces, sizeof *s->dets);
    s->want = calloc((size_t)max_faces, sizeof *s->want);
    s->tracks = calloc((size_t)s->max_tracks, sizeof *s->tracks);
    s->events = calloc((size_t)s->max_events, sizeof *s->events);
    if (!s->faces || !s->dets || !s->want || !s->tracks || !s->events) {
        fm_frame_step_free(s);
        fm_err_set(err, FM_ERR_NOMEM, "out of memory for a frame step");
        return NULL;
    }
    return s;
}

void fm_frame_step_free(fm_frame_step *s)
{
    if (!s)
        return;
    fm_tracker_free(s->tr);
    free(s->faces);
    free(s->dets);
    free(s->want);
    free(s->tracks);
    free(s->events);
    free(s);
}

fm_tracker *fm_frame_step_tracker(fm_frame_step *s)
{
    return s ? s->tr : NULL;
}

/* nev events of this update are in s->events; the tracker's queue (normally empty) follows. */
static void fill_events(fm_frame_step *s, int nev, fm_frame_step_out *out)
{
    if (nev < s->max_events)
        nev += fm_tracker_drain(s->tr, s->events + nev, s->max_events - nev);
    out->events = s->events;
    out->nevents = nev;
}

fm_status fm_frame_step_run(fm_frame_step *s, fm_detector *det, fm_classifier *cls, float conf,
                            const fm_image *img, double t, fm_frame_step_out *out, fm_err *err)
{
    if (!s || !img || !out)
        return fm_err_set(err, FM_ERR_ARG, "frame step: NULL %s",
                          !s ? "step" : !img ? "image" : "out");
    memset(out, 0, sizeof *out);
    out->faces = s->faces;
    out->events = s->events;
    out->tracks = s->tracks;
    double t0 = fm_now_ms();
    int n = 0;
    if (det) {
        n = fm_detector_run(det, img, conf, s->faces, s->max_faces, NULL);
        if (n < 0)
            return fm_err_set(err, FM_ERR_FORMAT, "%s", fm_detector_error(det));
        if (n > s->max_faces)
            n = s->max_faces;
    }
    double t1 = fm_now_ms();
    for (int i = 0; i < n; i++) {
        const fm_face *f = &s->faces[i];
        fm_det *d = &s->dets[i];
        d->box = (fm_box){f->x1, f->y1, f->x2, f->y2};
        d->score = f->score;
        d->mask_prob = FM_DET_UNCLASSIFIED;
        d->nlandmarks = f->nlandmarks;
        memcpy(d->landmarks, f->landmarks, sizeof d->landmarks);
    }
    if (cls && n > 0 && fm_tracker_plan(s->tr, s->dets, n, t, s->want) > 0) {
        for (int i = 0; i < n; i++) {
            float p;
            fm_err cerr = {0};
            if (s->want[i] && fm_classifier_face(cls, img, &s->faces[i], &p, &cerr) == FM_OK) {
                s->dets[i].mask_prob = p;
                out->nclassified++;
            }
        }
    }
    double t2 = fm_now_ms();
    int nev = 0;
    fm_status st = fm_tracker_update(s->tr, s->dets, n, t, s->events, s->max_events, &nev);
    if (st != FM_OK) /* only for bad arguments, which the step never passes */
        return fm_err_set(err, st, "the tracker refused the frame (%s)", fm_status_str(st));
    fill_events(s, nev, out);
    int nt = fm_tracker_tracks(s->tr, s->tracks, s->max_tracks, 0);
    out->ntracks = nt > s->max_tracks ? s->max_tracks : nt;
    fm_tracker_counts(s->tr, &out->counts);
    double t3 = fm_now_ms();
    out->nfaces = n;
    out->det_ms = t1 - t0;
    out->cls_ms = t2 - t1;
    out->trk_ms = t3 - t2;
    return FM_OK;
}

fm_status fm_frame_step_finish(fm_frame_step *s, double t, fm_frame_step_out *out, fm_err *err)
{
    if (!s || !out)
        return fm_err_set(err, FM_ERR_ARG, "frame step: NULL %s", !s ? "step" : "out");
    memset(out, 0, sizeof *out);
    out->faces = s->faces;
    out->tracks = s->tracks;
    int nev = 0;
    fm_status st = fm_tracker_finish(s->tr, t, s->events, s->max_events, &nev);
    if (st != FM_OK)
        return fm_err_set(err, st, "the tracker refused to finish (%s)", fm_status_str(st));
    fill_events(s, nev, out);
    fm_tracker_counts(s->tr, &out->counts);
    return FM_OK;
}
