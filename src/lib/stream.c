/* stream.c - libfacemask's video stream (include/facemask.h): each frame goes through the
 * per-frame step `facemask watch` and `serve` run (track/frame_step.h) with the stream's
 * fm_ctx's models; its tracks and events become the API's persons and events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"
#include "track/frame_step.h"

struct fm_stream {
    fm_ctx *ctx;            /* borrowed */
    fm_frame_step *step;    /* the tracker and the per-frame buffers */
    int max_tracks;
    fm_person *people;      /* max_tracks */
    int max_events;
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
        s->max_tracks = p.max_tracks;
        s->max_events = 8 * p.max_tracks; /* as many as a step gives (track/frame_step.c) */
        s->people = calloc((size_t)s->max_tracks, sizeof *s->people);
        s->ev = calloc((size_t)s->max_events, sizeof *s->ev);
    }
    if (!s || !s->people || !s->ev) {
        fm_err_set(&err, FM_ERR_NOMEM, "out of memory opening a stream");
    } else if ((s->step = fm_frame_step_create(&p, ctx->max_faces, &err))) {
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
    fm_frame_step_free(s->step);
    free(s->people);
    free(s->ev);
    fm_lib_buf_free(&s->pixels);
    free(s);
}

const char *fm_stream_error(const fm_stream *s)
{
    return s ? s->err.msg : "stream is NULL";
}

/* A step's events as the API's. */
static int take_events(fm_stream *s, const fm_frame_step_out *out)
{
    int nev = out->nevents < s->max_events ? out->nevents : s->max_events;
    for (int i = 0; i < nev; i++) {
        const fm_track_event *e = &out->events[i];
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
    fm_frame_step_out out;
    if (fm_frame_step_run(s->step, ctx->det, ctx->cls, ctx->conf, &img, t_seconds, &out,
                          &s->err) != FM_OK)
        return -1;
    take_events(s, &out);
    int np = out.ntracks > s->max_tracks ? s->max_tracks : out.ntracks;
    for (int i = 0; i < np; i++) {
        const fm_track_info *t = &out.tracks[i];
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
    fm_frame_step_out out;
    if (fm_frame_step_finish(s->step, t_seconds, &out, &s->err) != FM_OK) {
        s->nev = 0;
        return -1;
    }
    return take_events(s, &out);
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
    fm_tracker_counts(fm_frame_step_tracker(s->step), &c);
    out->frames = c.frames;
    out->faces = c.faces;
    out->people = c.people;
    out->mask = c.mask;
    out->no_mask = c.no_mask;
    out->unknown = c.unknown;
    out->active = c.active;
    out->compliance = c.compliance;
}
