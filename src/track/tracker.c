/* tracker.c - IoU association with alpha-beta prediction, hysteresis labels, counts.
 *
 * Tracks live in one array in creation order. Because a tentative track is either confirmed
 * exactly min_hits - 1 updates after its creation or dropped, creation order is also id order,
 * and every confirmed track precedes every tentative one; removing a track shifts the rest down.
 */
#include "track/tracker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int id; /* 0 while tentative */
    /* alpha-beta filter: centre and size, their velocities per second, at time t_state */
    double cx, cy, w, h, vx, vy, vw, vh, t_state;
    fm_box box;
    float score;
    float ema;
    int votes;
    double sum_prob;
    fm_label label, reported;
    int hits, missed, det;
    double first_t, last_t;
    long long first_frame, last_frame;
    long long frames_mask, frames_no_mask;
    fm_box max_box;
    float max_score, max_area;
    int nlm, max_nlm; /* landmarks of the last matched detection and of max_box's */
    float lm[FM_DET_MAX_LANDMARKS][2], max_lm[FM_DET_MAX_LANDMARKS][2];
    long long last_class_frame;
    float class_side; /* sqrt(area) of the box at the last classification */
} track;

typedef struct {
    float iou;
    int trk, det;
} pair;

typedef struct {
    double last_t;
    fm_label label;
} recent;

struct fm_tracker {
    fm_tracker_params p;
    track *tracks;
    int ntracks;
    int next_id;
    long long frame; /* updates so far */
    double now;
    long long faces, people, dropped_dets, dropped_events, window_dropped;
    long long gone_mask, gone_no_mask, gone_unknown; /* departed people by majority label */
    /* scratch for association */
    pair *pairs;
    int *det_track;   /* max_dets */
    int *track_det;   /* max_tracks */
    unsigned char *gone; /* max_tracks: would be removed by this update */
    /* event queue (ring) */
    fm_track_event *queue;
    int qcap, qhead, qlen;
    /* departed people for the compliance window (ring, oldest first) */
    recent *recents;
    int rhead, rlen;
};

const char *fm_label_str(fm_label label)
{
    switch (label) {
    case FM_LABEL_MASK: return "mask";
    case FM_LABEL_NO_MASK: return "no_mask";
    case FM_LABEL_UNKNOWN: break;
    }
    return "unknown";
}

fm_tracker_params fm_tracker_defaults(void)
{
    fm_tracker_params p;
    p.max_tracks = 64;
    p.max_dets = 256;
    p.iou_gate = 0.3f;
    p.min_hits = 3;
    p.max_age = 1.0;
    p.motion_alpha = 0.7f;
    p.motion_beta = 0.3f;
    p.vote_alpha = 0.3f;
    p.min_votes = 3;
    p.low = 0.35f;
    p.high = 0.65f;
    p.reclass_frames = 10;
    p.reclass_grow = 1.3f;
    p.window = 60.0;
    p.max_recent = 4096;
    return p;
}

float fm_box_iou(fm_box a, fm_box b)
{
    float aw = a.x2 - a.x1, ah = a.y2 - a.y1, bw = b.x2 - b.x1, bh = b.y2 - b.y1;
    if (!(aw > 0 && ah > 0 && bw > 0 && bh > 0))
        return 0.0f;
    float iw = fminf(a.x2, b.x2) - fmaxf(a.x1, b.x1);
    float ih = fminf(a.y2, b.y2) - fmaxf(a.y1, b.y1);
    if (!(iw > 0 && ih > 0))
        return 0.0f;
    float inter = iw * ih;
    return inter / (aw * ah + bw * bh - inter);
}

static int box_valid(const fm_box *b)
{
    return isfinite(b->x1) && isfinite(b->y1) && isfinite(b->x2) && isfinite(b->y2) &&
           b->x2 > b->x1 && b->y2 > b->y1;
}

static int prob_valid(float p)
{
    return p >= 0.0f && p <= 1.0f; /* false for NaN */
}

static float box_area(const fm_box *b)
{
    return (b->x2 - b->x1) * (b->y2 - b->y1);
}

static fm_status check_params(const fm_tracker_params *p, fm_err *err)
{
    const char *m = "tracker: parameter";
    if (p->max_tracks < 1 || p->max_tracks > 4096)
        return fm_err_set(err, FM_ERR_ARG, "%s max_tracks = %d, expected 1..4096", m, p->max_tracks);
    if (p->max_dets < 1 || p->max_dets > 4096)
        return fm_err_set(err, FM_ERR_ARG, "%s max_dets = %d, expected 1..4096", m, p->max_dets);
    if (!(p->iou_gate > 0.0f && p->iou_gate <= 1.0f))
        return fm_err_set(err, FM_ERR_ARG, "%s iou_gate = %g, expected (0, 1]", m, (double)p->iou_gate);
    if (p->min_hits < 1)
        return fm_err_set(err, FM_ERR_ARG, "%s min_hits = %d, expected >= 1", m, p->min_hits);
    if (!(p->max_age > 0.0) || !isfinite(p->max_age))
        return fm_err_set(err, FM_ERR_ARG, "%s max_age = %g s, expected > 0", m, p->max_age);
    if (!(p->motion_alpha > 0.0f && p->motion_alpha <= 1.0f))
        return fm_err_set(err, FM_ERR_ARG, "%s motion_alpha = %g, expected (0, 1]", m,
                          (double)p->motion_alpha);
    if (!(p->motion_beta >= 0.0f && p->motion_beta <= 1.0f))
        return fm_err_set(err, FM_ERR_ARG, "%s motion_beta = %g, expected [0, 1]", m,
                          (double)p->motion_beta);
    if (!(p->vote_alpha > 0.0f && p->vote_alpha <= 1.0f))
        return fm_err_set(err, FM_ERR_ARG, "%s vote_alpha = %g, expected (0, 1]", m,
                          (double)p->vote_alpha);
    if (p->min_votes < 1)
        return fm_err_set(err, FM_ERR_ARG, "%s min_votes = %d, expected >= 1", m, p->min_votes);
    if (!(p->low >= 0.0f && p->low <= p->high && p->high <= 1.0f))
        return fm_err_set(err, FM_ERR_ARG, "%s low = %g, high = %g, expected 0 <= low <= high <= 1",
                          m, (double)p->low, (double)p->high);
    if (p->reclass_frames < 1)
        return fm_err_set(err, FM_ERR_ARG, "%s reclass_frames = %d, expected >= 1", m,
                          p->reclass_frames);
    if (!(p->reclass_grow >= 1.0f) || !isfinite(p->reclass_grow))
        return fm_err_set(err, FM_ERR_ARG, "%s reclass_grow = %g, expected >= 1", m,
                          (double)p->reclass_grow);
    if (!(p->window > 0.0) || !isfinite(p->window))
        return fm_err_set(err, FM_ERR_ARG, "%s window = %g s, expected > 0", m, p->window);
    if (p->max_recent < 1 || p->max_recent > (1 << 24))
        return fm_err_set(err, FM_ERR_ARG, "%s max_recent = %d, expected 1..16777216", m,
                          p->max_recent);
    return FM_OK;
}

static void *alloc_array(size_t n, size_t size, fm_err *err, const char *what)
{
    size_t bytes;
    void *ptr = NULL;
    if (fm_size_mul(n, size, &bytes))
        ptr = calloc(1, bytes ? bytes : 1);
    if (!ptr)
        fm_err_set(err, FM_ERR_NOMEM, "tracker: out of memory for %zu %s", n, what);
    return ptr;
}

fm_tracker *fm_tracker_create(const fm_tracker_params *params, fm_err *err)
{
    fm_tracker_params p = params ? *params : fm_tracker_defaults();
    if (check_params(&p, err) != FM_OK)
        return NULL;
    fm_tracker *t = calloc(1, sizeof *t);
    if (!t) {
        fm_err_set(err, FM_ERR_NOMEM, "tracker: out of memory");
        return NULL;
    }
    t->p = p;
    t->qcap = 4 * p.max_tracks;
    size_t npairs = (size_t)p.max_tracks * (size_t)p.max_dets;
    t->tracks = alloc_array((size_t)p.max_tracks, sizeof(track), err, "tracks");
    if (t->tracks)
        t->pairs = alloc_array(npairs, sizeof(pair), err, "candidate pairs");
    if (t->pairs)
        t->det_track = alloc_array((size_t)p.max_dets, sizeof(int), err, "detections");
    if (t->det_track)
        t->track_det = alloc_array((size_t)p.max_tracks, sizeof(int), err, "tracks");
    if (t->track_det)
        t->gone = alloc_array((size_t)p.max_tracks, 1, err, "tracks");
    if (t->gone)
        t->queue = alloc_array((size_t)t->qcap, sizeof(fm_track_event), err, "queued events");
    if (t->queue)
        t->recents = alloc_array((size_t)p.max_recent, sizeof(recent), err, "recent people");
    if (!t->recents) {
        fm_tracker_free(t);
        return NULL;
    }
    return t;
}

void fm_tracker_free(fm_tracker *t)
{
    if (!t)
        return;
    free(t->tracks);
    free(t->pairs);
    free(t->det_track);
    free(t->track_det);
    free(t->gone);
    free(t->queue);
    free(t->recents);
    free(t);
}

/* ---- motion ------------------------------------------------------------------ */

static fm_box predict(const track *tr, double now)
{
    double dt = now - tr->t_state;
    if (dt < 0)
        dt = 0;
    double cx = tr->cx + tr->vx * dt, cy = tr->cy + tr->vy * dt;
    double w = tr->w + tr->vw * dt, h = tr->h + tr->vh * dt;
    if (w < 1)
        w = 1;
    if (h < 1)
        h = 1;
    fm_box b = {(float)(cx - w / 2), (float)(cy - h / 2), (float)(cx + w / 2), (float)(cy + h / 2)};
    return b;
}

static void motion_update(const fm_tracker *t, track *tr, const fm_box *b, double now)
{
    double z[4] = {(b->x1 + b->x2) / 2.0, (b->y1 + b->y2) / 2.0, (double)b->x2 - b->x1,
                   (double)b->y2 - b->y1};
    double *x[4] = {&tr->cx, &tr->cy, &tr->w, &tr->h};
    double *v[4] = {&tr->vx, &tr->vy, &tr->vw, &tr->vh};
    double dt = now - tr->t_state;
    for (int i = 0; i < 4; i++) {
        if (tr->hits == 0) { /* first sighting */
            *x[i] = z[i];
            *v[i] = 0;
        } else if (dt <= 0) {
            *x[i] = z[i];
        } else if (tr->hits == 1) { /* second: velocity from two points */
            *v[i] = (z[i] - *x[i]) / dt;
            *x[i] = z[i];
        } else {
            double pred = *x[i] + *v[i] * dt, r = z[i] - pred;
            *x[i] = pred + t->p.motion_alpha * r;
            *v[i] += t->p.motion_beta * r / dt;
        }
    }
    tr->t_state = now;
}

/* ---- association ------------------------------------------------------------- */

static int pair_cmp(const void *a, const void *b)
{
    const pair *p = a, *q = b;
    if (p->iou != q->iou)
        return p->iou > q->iou ? -1 : 1;
    if (p->trk != q->trk)
        return p->trk < q->trk ? -1 : 1;
    return (p->det > q->det) - (p->det < q->det);
}

/* Greedy matching by IoU (highest first, ties by track then detection order) above the gate.
 * Fills t->det_track (-1: unmatched) for the first nd dets and t->track_det for the tracks. */
static void associate(fm_tracker *t, const fm_det *dets, int nd, double now)
{
    int np = 0;
    for (int i = 0; i < nd; i++)
        t->det_track[i] = -1;
    for (int k = 0; k < t->ntracks; k++) {
        t->track_det[k] = -1;
        fm_box pb = predict(&t->tracks[k], now);
        for (int i = 0; i < nd; i++) {
            if (!box_valid(&dets[i].box))
                continue;
            float iou = fm_box_iou(pb, dets[i].box);
            if (iou >= t->p.iou_gate)
                t->pairs[np++] = (pair){iou, k, i};
        }
    }
    qsort(t->pairs, (size_t)np, sizeof(pair), pair_cmp);
    for (int j = 0; j < np; j++) {
        const pair *pr = &t->pairs[j];
        if (t->track_det[pr->trk] < 0 && t->det_track[pr->det] < 0) {
            t->track_det[pr->trk] = pr->det;
            t->det_track[pr->det] = pr->trk;
        }
    }
}

static double clamp_time(const fm_tracker *t, double ts)
{
    if (t->frame == 0 && t->ntracks == 0 && t->now == 0)
        return isfinite(ts) ? ts : 0;
    return (isfinite(ts) && ts > t->now) ? ts : t->now;
}

/* Marks in t->gone the unmatched tracks this update removes; returns how many. */
static int mark_gone(fm_tracker *t, double now)
{
    int n = 0;
    for (int k = 0; k < t->ntracks; k++) {
        const track *tr = &t->tracks[k];
        t->gone[k] = t->track_det[k] < 0 && (tr->id == 0 || now - tr->last_t > t->p.max_age);
        n += t->gone[k];
    }
    return n;
}

static int needs_class(const fm_tracker *t, const track *tr, const fm_box *b)
{
    if (tr->votes < t->p.min_votes)
        return 1;
    if (tr->ema >= t->p.low && tr->ema <= t->p.high)
        return 1;
    if (t->frame - tr->last_class_frame >= t->p.reclass_frames)
        return 1;
    float side = sqrtf(box_area(b));
    return side >= tr->class_side * t->p.reclass_grow;
}

int fm_tracker_plan(fm_tracker *t, const fm_det *dets, int n, double t_seconds, int *classify)
{
    if (!t || n < 0 || (n > 0 && (!dets || !classify)))
        return -1;
    int nd = n < t->p.max_dets ? n : t->p.max_dets;
    double now = clamp_time(t, t_seconds);
    associate(t, dets, nd, now);
    int room = t->p.max_tracks - t->ntracks + mark_gone(t, now);
    int wanted = 0;
    for (int i = 0; i < n; i++) {
        int w = 0;
        if (i < nd && box_valid(&dets[i].box)) {
            int k = t->det_track[i];
            if (k >= 0)
                w = needs_class(t, &t->tracks[k], &dets[i].box);
            else if (room > 0) {
                room--;
                w = 1;
            }
        }
        classify[i] = w;
        wanted += w;
    }
    return wanted;
}

/* ---- events ------------------------------------------------------------------ */

static void push_event(fm_tracker *t, const fm_track_event *ev)
{
    if (t->qlen == t->qcap) {
        t->qhead = (t->qhead + 1) % t->qcap;
        t->qlen--;
        t->dropped_events++;
    }
    t->queue[(t->qhead + t->qlen) % t->qcap] = *ev;
    t->qlen++;
}

int fm_tracker_drain(fm_tracker *t, fm_track_event *events, int max_events)
{
    int n = 0;
    if (!t || !events)
        return 0;
    while (n < max_events && t->qlen > 0) {
        events[n++] = t->queue[t->qhead];
        t->qhead = (t->qhead + 1) % t->qcap;
        t->qlen--;
    }
    return n;
}

static fm_label majority(const track *tr)
{
    if (tr->frames_mask > tr->frames_no_mask)
        return FM_LABEL_MASK;
    if (tr->frames_no_mask > tr->frames_mask)
        return FM_LABEL_NO_MASK;
    return tr->frames_mask > 0 ? tr->label : FM_LABEL_UNKNOWN;
}

static fm_track_event make_event(const fm_tracker *t, const track *tr, fm_track_event_type type,
                                 double now, long long frame)
{
    fm_track_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.id = tr->id;
    ev.t = now;
    ev.frame = frame;
    ev.prev_label = FM_LABEL_UNKNOWN;
    if (type == FM_TRACK_LEAVE) {
        ev.label = majority(tr);
        ev.mask_prob = tr->votes ? (float)(tr->sum_prob / tr->votes) : -1.0f;
        ev.box = tr->max_box;
        ev.score = tr->max_score;
        ev.nlandmarks = tr->max_nlm;
        memcpy(ev.landmarks, tr->max_lm, sizeof ev.landmarks);
    } else {
        ev.label = tr->label;
        ev.mask_prob = tr->votes ? tr->ema : -1.0f;
        ev.box = tr->box;
        ev.score = tr->score;
        ev.nlandmarks = tr->nlm;
        memcpy(ev.landmarks, tr->lm, sizeof ev.landmarks);
    }
    ev.first_seen = tr->first_t;
    ev.last_seen = tr->last_t;
    ev.first_frame = tr->first_frame;
    ev.last_frame = tr->last_frame;
    ev.frames = tr->hits;
    ev.votes = tr->votes;
    (void)t;
    return ev;
}

/* A confirmed track leaves: event, totals by majority label, the window's memory. */
static void track_leaves(fm_tracker *t, const track *tr, double now, long long frame)
{
    fm_track_event ev = make_event(t, tr, FM_TRACK_LEAVE, now, frame);
    push_event(t, &ev);
    if (ev.label == FM_LABEL_MASK)
        t->gone_mask++;
    else if (ev.label == FM_LABEL_NO_MASK)
        t->gone_no_mask++;
    else
        t->gone_unknown++;
    if (t->rlen == t->p.max_recent) {
        t->rhead = (t->rhead + 1) % t->p.max_recent;
        t->rlen--;
        t->window_dropped++;
    }
    t->recents[(t->rhead + t->rlen) % t->p.max_recent] = (recent){tr->last_t, ev.label};
    t->rlen++;
}

static fm_status check_out(int max_events, const fm_track_event *events, const int *nevents)
{
    if (!nevents || max_events < 0 || (max_events > 0 && !events))
        return FM_ERR_ARG;
    return FM_OK;
}

/* ---- update ------------------------------------------------------------------ */

static void apply_detection(fm_tracker *t, track *tr, const fm_det *d, int di, double now)
{
    const fm_tracker_params *p = &t->p;
    motion_update(t, tr, &d->box, now);
    tr->box = d->box;
    tr->score = d->score;
    tr->nlm = d->nlandmarks < 0 ? 0
                                : (d->nlandmarks > FM_DET_MAX_LANDMARKS ? FM_DET_MAX_LANDMARKS
                                                                        : d->nlandmarks);
    memcpy(tr->lm, d->landmarks, sizeof tr->lm);
    if (tr->hits == 0) {
        tr->first_t = now;
        tr->first_frame = t->frame;
    }
    tr->hits++;
    tr->missed = 0;
    tr->det = di;
    tr->last_t = now;
    tr->last_frame = t->frame;
    float area = box_area(&d->box);
    if (area > tr->max_area) {
        tr->max_area = area;
        tr->max_box = d->box;
        tr->max_score = d->score;
        tr->max_nlm = tr->nlm;
        memcpy(tr->max_lm, tr->lm, sizeof tr->max_lm);
    }
    if (prob_valid(d->mask_prob)) {
        float pr = d->mask_prob;
        tr->ema = tr->votes == 0 ? pr : tr->ema + p->vote_alpha * (pr - tr->ema);
        tr->votes++;
        tr->sum_prob += pr;
        tr->last_class_frame = t->frame;
        tr->class_side = sqrtf(area);
        if (tr->votes >= p->min_votes) {
            if (tr->label != FM_LABEL_MASK && tr->ema > p->high)
                tr->label = FM_LABEL_MASK;
            else if (tr->label != FM_LABEL_NO_MASK && tr->ema < p->low)
                tr->label = FM_LABEL_NO_MASK;
        }
    }
    if (tr->label == FM_LABEL_MASK)
        tr->frames_mask++;
    else if (tr->label == FM_LABEL_NO_MASK)
        tr->frames_no_mask++;
}

fm_status fm_tracker_update(fm_tracker *t, const fm_det *dets, int n, double t_seconds,
                            fm_track_event *events, int max_events, int *nevents)
{
    if (!t || n < 0 || (n > 0 && !dets) || check_out(max_events, events, nevents) != FM_OK)
        return FM_ERR_ARG;
    const fm_tracker_params *p = &t->p;
    int nd = n < p->max_dets ? n : p->max_dets;
    double now = clamp_time(t, t_seconds);
    long long frame = t->frame;
    t->dropped_dets += n - nd;

    associate(t, dets, nd, now);
    mark_gone(t, now);

    /* matched tracks take their detections; unmatched ones coast or go */
    int keep = 0;
    for (int k = 0; k < t->ntracks; k++) {
        track *tr = &t->tracks[k];
        int di = t->track_det[k];
        if (di >= 0) {
            apply_detection(t, tr, &dets[di], di, now);
        } else {
            tr->missed++;
            tr->det = -1;
            tr->box = predict(tr, now);
        }
        if (t->gone[k]) {
            if (tr->id > 0)
                track_leaves(t, tr, now, frame);
            continue;
        }
        if (keep != k)
            t->tracks[keep] = *tr;
        keep++;
    }
    t->ntracks = keep;

    /* new tentative tracks for unmatched detections, in detection order */
    for (int i = 0; i < nd; i++) {
        if (!box_valid(&dets[i].box))
            continue;
        t->faces++;
        if (t->det_track[i] >= 0)
            continue;
        if (t->ntracks == p->max_tracks) {
            t->dropped_dets++;
            continue;
        }
        track *tr = &t->tracks[t->ntracks++];
        memset(tr, 0, sizeof *tr);
        tr->label = tr->reported = FM_LABEL_UNKNOWN;
        tr->last_class_frame = -1;
        apply_detection(t, tr, &dets[i], i, now);
    }

    /* confirmations and label changes, in id order */
    for (int k = 0; k < t->ntracks; k++) {
        track *tr = &t->tracks[k];
        if (tr->id == 0) {
            if (tr->hits < p->min_hits)
                continue;
            tr->id = ++t->next_id;
            t->people++;
            fm_track_event ev = make_event(t, tr, FM_TRACK_APPEAR, now, frame);
            push_event(t, &ev);
            tr->reported = tr->label;
        } else if (tr->label != tr->reported) {
            fm_track_event ev = make_event(t, tr, FM_TRACK_LABEL, now, frame);
            ev.prev_label = tr->reported;
            push_event(t, &ev);
            tr->reported = tr->label;
        }
    }

    /* forget departed people older than the window */
    while (t->rlen > 0 && t->recents[t->rhead].last_t < now - p->window) {
        t->rhead = (t->rhead + 1) % p->max_recent;
        t->rlen--;
    }

    t->now = now;
    t->frame++;
    *nevents = fm_tracker_drain(t, events, max_events);
    return FM_OK;
}

fm_status fm_tracker_finish(fm_tracker *t, double t_seconds, fm_track_event *events,
                            int max_events, int *nevents)
{
    if (!t || check_out(max_events, events, nevents) != FM_OK)
        return FM_ERR_ARG;
    double now = clamp_time(t, t_seconds);
    for (int k = 0; k < t->ntracks; k++)
        if (t->tracks[k].id > 0)
            track_leaves(t, &t->tracks[k], now, t->frame);
    t->ntracks = 0;
    t->now = now;
    *nevents = fm_tracker_drain(t, events, max_events);
    return FM_OK;
}

/* ---- queries ----------------------------------------------------------------- */

int fm_tracker_tracks(const fm_tracker *t, fm_track_info *out, int max, unsigned flags)
{
    int n = 0;
    if (!t)
        return 0;
    for (int k = 0; k < t->ntracks; k++) {
        const track *tr = &t->tracks[k];
        if (!(flags & FM_TRACKS_ALL) && (tr->id == 0 || tr->missed > 0))
            continue;
        if (out && n < max) {
            fm_track_info *o = &out[n];
            o->id = tr->id;
            o->box = tr->box;
            o->score = tr->score;
            o->label = tr->label;
            o->mask_prob = tr->votes ? tr->ema : -1.0f;
            o->votes = tr->votes;
            o->hits = tr->hits;
            o->missed = tr->missed;
            o->det = tr->det;
            o->nlandmarks = tr->missed == 0 ? tr->nlm : 0;
            memcpy(o->landmarks, tr->lm, sizeof o->landmarks);
        }
        n++;
    }
    return n;
}

void fm_tracker_counts(const fm_tracker *t, fm_track_counts *out)
{
    memset(out, 0, sizeof *out);
    out->compliance = -1;
    if (!t)
        return;
    out->frames = t->frame;
    out->faces = t->faces;
    out->people = t->people;
    out->mask = t->gone_mask;
    out->no_mask = t->gone_no_mask;
    out->unknown = t->gone_unknown;
    out->window = t->p.window;
    out->dropped_dets = t->dropped_dets;
    out->dropped_events = t->dropped_events;
    out->window_dropped = t->window_dropped;
    double since = t->now - t->p.window;
    for (int k = 0; k < t->ntracks; k++) {
        const track *tr = &t->tracks[k];
        if (tr->id == 0)
            continue;
        out->active++;
        fm_label l = majority(tr);
        out->mask += l == FM_LABEL_MASK;
        out->no_mask += l == FM_LABEL_NO_MASK;
        out->unknown += l == FM_LABEL_UNKNOWN;
        if (tr->last_t >= since) {
            out->window_mask += l == FM_LABEL_MASK;
            out->window_no_mask += l == FM_LABEL_NO_MASK;
        }
    }
    for (int j = 0; j < t->rlen; j++) {
        const recent *r = &t->recents[(t->rhead + j) % t->p.max_recent];
        if (r->last_t < since)
            continue;
        out->window_mask += r->label == FM_LABEL_MASK;
        out->window_no_mask += r->label == FM_LABEL_NO_MASK;
    }
    int known = out->window_mask + out->window_no_mask;
    if (known > 0)
        out->compliance = (double)out->window_mask / known;
}
