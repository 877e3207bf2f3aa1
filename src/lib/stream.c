/* stream.c - libfacemask's video stream (include/facemask.h): a frame is detected with the
 * stream's fm_ctx, the tracker (track/tracker.h) says which faces to classify, and its update
 * gives the persons and events, as in `facemask watch`'s inference step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"
#include "track/tracker.h"

struct fm_stream {
    fm_ctx *ctx;            /* borrowed */
    fm_tracker *tr;
    int max_faces;          /* ctx->max_faces */
    fm_face *faces;         /* max_faces */
    fm_det *dets;           /* max_faces */
    int *want;              /* max_faces: which to classify */
    int max_tracks;
    fm_track_info *info;    /* max_tracks */
    fm_person *people;      /* max_tracks */
    int max_events;
    fm_track_event *tev;    /* max_events */
    fm_stream_event *ev;    /* max_events */
    int nev;
    fm_lib_buf pixels;      /* a BGR copy of RGB input */
    fm_err err;
};

fm_stream *fm_stream_open(fm_ctx *ctx, char *errbuf, size_t errsize)
{
    if (errbuf && errsize > 0)
        errbuf[0] = '\0';
    if (!ctx) {
        if (errbuf && errsize > 0)
            snprintf(errbuf, errsize, "ctx is NULL");
        return NULL;
    }
    fm_err err = {0};
    fm_stream *s = calloc(1, sizeof *s);
    fm_tracker_params p = fm_tracker_defaults();
    if (s) {
        s->ctx = ctx;
        s->max_faces = ctx->max_faces;
        s->max_tracks = p.max_tracks;
        /* one update ends, confirms and relabels at most max_tracks each, plus what was queued
         * (4 * max_tracks): whatever is left is drained into the same frame's events */
        s->max_events = 8 * p.max_tracks;
        s->faces = calloc((size_t)s->max_faces, sizeof *s->faces);
        s->dets = calloc((size_t)s->max_faces, sizeof *s->dets);
        s->want = calloc((size_t)s->max_faces, sizeof *s->want);
        s->info = calloc((size_t)s->max_tracks, sizeof *s->info);
        s->people = calloc((size_t)s->max_tracks, sizeof *s->people);
        s->tev = calloc((size_t)s->max_events, sizeof *s->tev);
        s->ev = calloc((size_t)s->max_events, sizeof *s->ev);
    }
    if (!s || !s->faces || !s->dets || !s->want || !s->info || !s->people || !s->tev || !s->ev) {
        fm_err_set(&err, FM_ERR_NOMEM, "out of memory opening a stream");
    } else if ((s->tr = fm_tracker_create(&p, &err))) {
        return s;
    }
    if (errbuf && errsize > 0)
        snprintf(errbuf, errsize, "%s", err.msg);
    fm_stream_close(s);
    return NULL;
}

void fm_stream_close(fm_stream *s)
{
    if (!s)
        return;
    fm_tracker_free(s->tr);
    free(s->faces);
    free(s->dets);
    free(s->want);
    free(s->info);
    free(s->people);
    free(s->tev);
    free(s->ev);
    fm_lib_buf_free(&s->pixels);
    free(s);
}

const char *fm_stream_error(const fm_stream *s)
{
    return s ? s->err.msg : "stream is NULL";
}

/* The tracker's events of this frame (tev[0..nev)), plus any it still queues, as the API's. */
static int take_events(fm_stream *s, int nev)
{
    if (nev < s->max_events)
        nev += fm_tracker_drain(s->tr, s->tev + nev, s->max_events - nev);
    for (int i = 0; i < nev; i++) {
        const fm_track_event *e = &s->tev[i];
        fm_stream_event *o = &s->ev[i];
        memset(o, 0, sizeof *o);
        o->type = e->type == FM_TRACK_APPEAR  ? FM_STREAM_APPEAR
                  : e->type == FM_TRACK_LABEL ? FM_STREAM_LABEL
                                              : FM_STREAM_LEAVE;
        o->id = e->id;
        o->t = e->t;
        o->frame = e->frame;
        o->label = fm_label_str(e->label);
        o->prev_label = fm_label_str(e->prev_label);
        o->mask_prob = e->mask_prob;
        o->x1 = e->box.x1;
        o->y1 = e->box.y1;
        o->x2 = e->box.x2;
        o->y2 = e->box.y2;
        o->score = e->score;
        o->first_seen = e->first_seen;
        o->last_seen = e->last_seen;
        o->frames = e->frames;
        o->votes = e->votes;
    }
    s->nev = nev;
    return nev;
}

int fm_stream_frame(fm_stream *s, const unsigned char *pixels, int width, int height, int stride,
                    fm_pixels format, double t_seconds, const fm_person **people)
{
    if (people)
        *people = NULL;
    if (!s)
        return -1;
    s->nev = 0;
    fm_image img;
    if (fm_lib_view(pixels, width, height, stride, format, &s->pixels, &img, &s->err) != FM_OK)
        return -1;
    fm_ctx *ctx = s->ctx;
    int n = fm_detector_run(ctx->det, &img, ctx->conf, s->faces, s->max_faces, NULL);
    if (n < 0) {
        fm_err_set(&s->err, FM_ERR_NOMEM, "%s", fm_detector_error(ctx->det));
        return -1;
    }
    if (n > s->max_faces)
        n = s->max_faces;
    for (int i = 0; i < n; i++) {
        const fm_face *f = &s->faces[i];
        fm_det *d = &s->dets[i];
        d->box = (fm_box){f->x1, f->y1, f->x2, f->y2};
        d->score = f->score;
        d->mask_prob = FM_DET_UNCLASSIFIED;
        d->nlandmarks = f->nlandmarks;
        memcpy(d->landmarks, f->landmarks, sizeof d->landmarks);
    }
    if (ctx->cls && n > 0 && fm_tracker_plan(s->tr, s->dets, n, t_seconds, s->want) > 0) {
        for (int i = 0; i < n; i++) {
            float p;
            /* a face that cannot be classified (out of memory) gets no vote this frame */
            if (s->want[i] && fm_classifier_face(ctx->cls, &img, &s->faces[i], &p, NULL) == FM_OK)
                s->dets[i].mask_prob = p;
        }
    }
    int nev = 0;
    fm_status st = fm_tracker_update(s->tr, s->dets, n, t_seconds, s->tev, s->max_events, &nev);
    if (st != FM_OK) {
        fm_err_set(&s->err, st, "the tracker refused the frame (%s)", fm_status_str(st));
        return -1;
    }
    take_events(s, nev);
    int np = fm_tracker_tracks(s->tr, s->info, s->max_tracks, 0);
    if (np > s->max_tracks)
        np = s->max_tracks;
    for (int i = 0; i < np; i++) {
        const fm_track_info *t = &s->info[i];
        fm_person *o = &s->people[i];
        memset(o, 0, sizeof *o);
        o->id = t->id;
        o->x1 = t->box.x1;
        o->y1 = t->box.y1;
        o->x2 = t->box.x2;
        o->y2 = t->box.y2;
        o->score = t->score;
        o->nlandmarks = t->nlandmarks;
        memcpy(o->landmarks, t->landmarks, sizeof o->landmarks);
        o->label = fm_label_str(t->label);
        o->mask_prob = t->mask_prob;
    }
    if (people)
        *people = s->people;
    return np;
}

int fm_stream_events(fm_stream *s, const fm_stream_event **events)
{
    if (events)
        *events = s ? s->ev : NULL;
    return s ? s->nev : 0;
}

int fm_stream_finish(fm_stream *s, double t_seconds)
{
    if (!s)
        return -1;
    int nev = 0;
    fm_status st = fm_tracker_finish(s->tr, t_seconds, s->tev, s->max_events, &nev);
    if (st != FM_OK) {
        fm_err_set(&s->err, st, "the tracker refused to finish (%s)", fm_status_str(st));
        s->nev = 0;
        return -1;
    }
    return take_events(s, nev);
}

void fm_stream_counts(const fm_stream *s, fm_counts *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!s) {
        out->compliance = -1;
        return;
    }
    fm_track_counts c;
    fm_tracker_counts(s->tr, &c);
    out->frames = c.frames;
    out->faces = c.faces;
    out->people = c.people;
    out->mask = c.mask;
    out->no_mask = c.no_mask;
    out->unknown = c.unknown;
    out->active = c.active;
    out->compliance = c.compliance;
}
