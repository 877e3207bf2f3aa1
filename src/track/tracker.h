/* tracker.h - faces followed across video frames: stable ids, smoothed mask labels, counts.
 *
 * Per frame the caller hands the tracker the detector's boxes. The tracker predicts where each
 * known face should be now (constant velocity, an alpha-beta filter on the box centre and size),
 * matches detections to predictions greedily by IoU above a gate, and keeps one track per face:
 *
 *  - a new face starts a *tentative* track; it is *confirmed* (gets an id, is counted once as a
 *    person, emits FM_TRACK_APPEAR) after min_hits consecutive matched frames, so a detection that
 *    shows up for a frame or two is never counted; a tentative track that misses a frame is dropped;
 *  - a confirmed track that has not been matched for more than max_age seconds leaves
 *    (FM_TRACK_LEAVE, with its summary); ids are 1, 2, 3, ... in order of confirmation and never reused;
 *  - the mask label is a vote: an exponential moving average of the classifier's mask_prob, with
 *    hysteresis (no_mask only once the average drops below `low`, mask only once it rises above
 *    `high`), "unknown" until min_votes classifications; a change on a confirmed track emits
 *    FM_TRACK_LABEL;
 *  - the classifier does not have to run on every face every frame: fm_tracker_plan says which
 *    detections need it (a new face, a track whose label is still unsure, one not classified for
 *    reclass_frames frames, or one whose box grew by reclass_grow since its last classification).
 *
 * A frame (the `watch` loop):
 *
 *     fm_err err = {0};
 *     fm_tracker *tr = fm_tracker_create(NULL, &err);           // NULL: default parameters
 *     ...
 *     int n = fm_detector_run(det, img, 0.5f, faces, 64, NULL);
 *     fm_det dets[64];
 *     int want[64];
 *     for (int i = 0; i < n; i++)
 *         dets[i] = (fm_det){{faces[i].x1, faces[i].y1, faces[i].x2, faces[i].y2},
 *                            faces[i].score, FM_DET_UNCLASSIFIED};
 *     fm_tracker_plan(tr, dets, n, t, want);                    // which faces to classify now
 *     for (int i = 0; i < n; i++)
 *         if (want[i]) dets[i].mask_prob = classify(img, &dets[i].box);
 *     fm_track_event ev[64];
 *     int nev;
 *     fm_tracker_update(tr, dets, n, t, ev, 64, &nev);           // ev[0..nev-1]: appear/label/leave
 *     fm_track_info vis[64];
 *     int nvis = fm_tracker_tracks(tr, vis, 64, 0);             // confirmed faces in this frame
 *     fm_track_counts c;
 *     fm_tracker_counts(tr, &c);                                // people, by label, compliance
 *     ...
 *     fm_tracker_finish(tr, t_end, ev, 64, &nev);               // everyone still here leaves
 *     fm_tracker_free(tr);
 *
 * Units: boxes in pixels, (x1, y1) top-left and (x2, y2) bottom-right corner, width x2 - x1;
 * times in seconds on any clock that does not go backwards (a smaller t than the previous one is
 * taken as the previous one); "frame" is the 0-based number of the fm_tracker_update call.
 * Everything is deterministic (same inputs, same ids and events) and all memory is allocated by
 * fm_tracker_create; update, plan, tracks and counts never allocate.
 */
#ifndef FM_TRACKER_H
#define FM_TRACKER_H

#include "core/box.h"
#include "core/err.h"

typedef enum {
    FM_LABEL_UNKNOWN = 0, /* not enough classifications yet, or the vote is undecided */
    FM_LABEL_MASK = 1,
    FM_LABEL_NO_MASK = 2
} fm_label;

/* "unknown", "mask", "no_mask" (the strings the events use). */
const char *fm_label_str(fm_label label);

/* fm_box: core/box.h (pixels). */

/* mask_prob value meaning "this face was not classified this frame". Any value outside
 * [0, 1] (or NaN) means the same. */
#define FM_DET_UNCLASSIFIED (-1.0f)

#define FM_DET_MAX_LANDMARKS 5

/* One detection of one frame. */
typedef struct {
    fm_box box;      /* a box with x2 <= x1, y2 <= y1 or a non-finite corner is ignored */
    float score;     /* detector confidence, 0..1 (reported, not used for matching) */
    float mask_prob; /* classifier's P(mask), 0..1, or FM_DET_UNCLASSIFIED */
    int nlandmarks;  /* 0 (res10, or none) .. FM_DET_MAX_LANDMARKS; carried, not used */
    float landmarks[FM_DET_MAX_LANDMARKS][2]; /* (x, y) pixels: YuNet's eyes, nose, mouth */
} fm_det;

typedef struct {
    int max_tracks;      /* live tracks (tentative + confirmed) at once; 1..4096, default 64 */
    int max_dets;        /* detections used per frame (the first max_dets); 1..4096, default 256 */
    float iou_gate;      /* minimum IoU of a detection with a track's prediction; (0, 1], 0.3 */
    int min_hits;        /* consecutive matched frames to confirm a track; >= 1, default 3 */
    double max_age;      /* seconds without a match before a confirmed track leaves; > 0, 1.0 */
    float motion_alpha;  /* alpha-beta filter: weight of a measurement in the position; (0, 1], 0.7 */
    float motion_beta;   /* ... and of the residual in the velocity; [0, 1], 0.3 */
    float vote_alpha;    /* EMA weight of a new mask_prob; (0, 1], default 0.3 */
    int min_votes;       /* classifications before the label can leave unknown; >= 1, default 3 */
    float low, high;     /* hysteresis: no_mask below low, mask above high; 0 <= low <= high <= 1,
                            defaults 0.35 and 0.65 */
    int reclass_frames;  /* a settled track is re-classified every this many frames; >= 1, 10 */
    float reclass_grow;  /* ... or when its box side grew by this factor since; >= 1, 1.3 */
    double window;       /* compliance window in seconds; > 0, default 60 */
    int max_recent;      /* departed people remembered for the window; >= 1, default 4096 */
} fm_tracker_params;

/* The defaults listed above. */
fm_tracker_params fm_tracker_defaults(void);

typedef struct fm_tracker fm_tracker;

/* params NULL: defaults. NULL with a message naming the field when a parameter is out of range
 * or memory is short. */
fm_tracker *fm_tracker_create(const fm_tracker_params *params, fm_err *err);
void fm_tracker_free(fm_tracker *t);

/* Which of this frame's detections the caller should classify before fm_tracker_update:
 * classify[i] (n entries, caller-owned) is set to 1 or 0. The same association as the update
 * that follows with the same dets and t_seconds (nothing is changed here). A detection is wanted
 * when it would start a new track (and there is room for one), or when its track has fewer than
 * min_votes votes, an average between low and high, no classification for reclass_frames frames,
 * or a box side reclass_grow times the one at its last classification.
 * Uses the tracker's scratch memory, so it takes a non-const tracker.
 * Returns the number wanted, or -1 on bad arguments (NULL with n > 0, n < 0). */
int fm_tracker_plan(fm_tracker *t, const fm_det *dets, int n, double t_seconds,
                    int *classify);

typedef enum {
    FM_TRACK_APPEAR = 1, /* a track was confirmed: a new person */
    FM_TRACK_LABEL = 2,  /* a confirmed track's label changed */
    FM_TRACK_LEAVE = 3   /* a confirmed track was lost (or the stream ended): its summary */
} fm_track_event_type;

typedef struct {
    fm_track_event_type type;
    int id;             /* track id, >= 1 */
    double t;           /* seconds: the update (or finish) that produced the event */
    long long frame;    /* 0-based update number of that update */
    fm_label label;     /* appear/label: current label; leave: the person's majority label */
    fm_label prev_label;/* label: the label before the change; else FM_LABEL_UNKNOWN */
    float mask_prob;    /* appear/label: smoothed P(mask); leave: the mean of all its
                           classifications; -1 when it had none */
    fm_box box;         /* appear/label: the box this frame; leave: the largest box seen */
    float score;        /* detector score of `box` */
    int nlandmarks;     /* landmarks of `box`'s detection (0: none, e.g. res10) */
    float landmarks[FM_DET_MAX_LANDMARKS][2];
    /* the track's history, filled for every type */
    double first_seen, last_seen;    /* seconds of the first and the last matched detection */
    long long first_frame, last_frame;
    int frames;         /* matched frames */
    int votes;          /* classifications received */
} fm_track_event;

/* Advances one frame: predicts, associates, updates labels, confirms and ends tracks.
 * Events (leaves first, then appear/label in id order) are written to events[0..*nevents-1];
 * events that do not fit stay queued inside (up to 4 * max_tracks; beyond that the oldest are
 * dropped and counted in fm_track_counts.dropped_events) and come first from the next update,
 * finish or drain. events may be NULL when max_events is 0.
 * Returns FM_OK, or FM_ERR_ARG (nothing changed) when nevents is NULL, n < 0, dets is NULL with
 * n > 0, max_events < 0 or events is NULL with max_events > 0. */
fm_status fm_tracker_update(fm_tracker *t, const fm_det *dets, int n, double t_seconds,
                            fm_track_event *events, int max_events, int *nevents);

/* End of stream: every confirmed track leaves (LEAVE events at t_seconds, in id order), tentative
 * tracks are dropped. The tracker stays usable; counts keep their totals. Same returns as update. */
fm_status fm_tracker_finish(fm_tracker *t, double t_seconds, fm_track_event *events,
                            int max_events, int *nevents);

/* Queued events only (see update). Returns the number written. */
int fm_tracker_drain(fm_tracker *t, fm_track_event *events, int max_events);

typedef struct {
    int id;           /* >= 1 when confirmed, 0 while tentative */
    fm_box box;       /* the matched detection's box, or the prediction when not matched */
    float score;      /* detector score of the last matched detection */
    fm_label label;   /* current (hysteresis) label */
    float mask_prob;  /* smoothed P(mask), -1 before the first vote */
    int votes;        /* classifications received */
    int hits;         /* matched frames */
    int missed;       /* updates since the last match (0: matched in the last update) */
    int det;          /* index into the last update's dets, -1 when not matched */
    int nlandmarks;   /* the matched detection's landmarks (0 when not matched or none) */
    float landmarks[FM_DET_MAX_LANDMARKS][2];
} fm_track_info;

#define FM_TRACKS_ALL 1u /* fm_tracker_tracks flag: also tentative and unmatched tracks */

/* Live tracks after the last update, in id order (tentative ones last, by age); by default only
 * confirmed tracks matched in the last update (the faces to draw). Writes at most max; returns
 * how many there are. */
int fm_tracker_tracks(const fm_tracker *t, fm_track_info *out, int max, unsigned flags);

typedef struct {
    long long frames;     /* updates so far */
    long long faces;      /* valid detections so far (summed over frames) */
    long long people;     /* confirmed tracks so far: each person once */
    long long mask;       /* people by majority label: the label they carried for the most */
    long long no_mask;    /* matched frames (still here: so far); unknown if never mask or */
    long long unknown;    /* no_mask. mask + no_mask + unknown == people */
    int active;           /* confirmed tracks alive now */
    double window;        /* the compliance window, seconds */
    int window_mask;      /* people seen (last_seen) within the window, by majority label */
    int window_no_mask;
    double compliance;    /* window_mask / (window_mask + window_no_mask); -1 when both are 0 */
    long long dropped_dets;    /* detections not tracked: beyond max_dets or no free track */
    long long dropped_events;  /* events lost because the queue was full */
    long long window_dropped;  /* departed people forgotten early (more than max_recent) */
} fm_track_counts;

/* Counts at the time of the last update. */
void fm_tracker_counts(const fm_tracker *t, fm_track_counts *out);

/* Intersection over union of two boxes; 0 when either has no area. */
float fm_box_iou(fm_box a, fm_box b);

#endif
