/* frame_step.h - one video frame through the models and the tracker: the per-frame step that
 * `facemask watch`, `facemask serve` and libfacemask's video stream (fm_stream) all run.
 *
 * A step is: detect the faces, ask the tracker which of them need classifying (a new face, an
 * unsure or stale label: fm_tracker_plan), classify those, and update the tracker (ids,
 * smoothed labels, counts, appear / label / leave events). The step owns the tracker and every
 * per-frame buffer (all allocated by fm_frame_step_create; a frame allocates nothing); it does
 * not own the models, which are passed to each call, so one detector and classifier can serve
 * many steps (serve: a worker's models run whichever camera it picks up; each camera has its own
 * step, hence its own tracker and ids).
 *
 *     fm_err err = {0};
 *     fm_frame_step *s = fm_frame_step_create(NULL, 256, &err);  // default tracker parameters
 *     fm_frame_step_out out;
 *     while (read(&img, &t))
 *         if (fm_frame_step_run(s, det, cls, 0.5f, img, t, &out, &err) == FM_OK)
 *             for (int i = 0; i < out.nevents; i++) log(&out.events[i]);
 *     fm_frame_step_finish(s, t_last, &out, &err);                // everyone still here leaves
 *     fm_frame_step_free(s);
 *
 * Units: t in seconds (any clock that does not go back, as fm_tracker_update); boxes in pixels
 * of the image; times in out in milliseconds. What `out` points to belongs to the step and
 * stays valid until the next run or finish on it.
 *
 * Thread safety: a step is used by one thread at a time, and so are the models given to it.
 */
#ifndef FM_FRAME_STEP_H
#define FM_FRAME_STEP_H

#include "core/err.h"
#include "face/classifier.h"
#include "face/detector.h"
#include "io/image.h"
#include "track/tracker.h"

typedef struct fm_frame_step fm_frame_step;

/* What one frame gave. */
typedef struct {
    int nfaces;                  /* detections used this frame (at most max_faces) */
    const fm_face *faces;        /* [nfaces], highest score first */
    int nclassified;             /* faces the classifier ran on this frame */
    int nevents;                 /* appear / label / leave events of this frame, in the */
    const fm_track_event *events; /* tracker's order, plus any it had queued (none are left) */
    int ntracks;                 /* confirmed tracks matched this frame (the faces to draw), */
    const fm_track_info *tracks; /* in id order: fm_tracker_tracks(tr, ..., 0) */
    fm_track_counts counts;      /* the tracker's counts after this frame */
    double det_ms, cls_ms, trk_ms; /* wall milliseconds of detection, classification, tracking */
} fm_frame_step_out;

/* params NULL: fm_tracker_defaults(). max_faces (1..4096): detections used per frame (the
 * highest scoring). NULL with err set on bad parameters or when memory is short. */
fm_frame_step *fm_frame_step_create(const fm_tracker_params *params, int max_faces, fm_err *err);
void fm_frame_step_free(fm_frame_step *s);

/* One frame at t seconds: faces with score >= conf from det, classified by cls where the
 * tracker asks (cls NULL: none are, and labels stay unknown), then tracked.
 * det NULL: a frame without faces (the tracker still advances: tracks age and may leave).
 * When det fails (fm_detector_run < 0) nothing changes (the tracker has not seen the frame)
 * and the detector's message is returned as FM_ERR_FORMAT; a caller that wants the frame
 * accounted for runs it again with det NULL (watch does, then stops). A face the classifier
 * cannot take (out of memory) gets no vote this frame.
 * FM_ERR_ARG (nothing changed) for a NULL step, image or out. */
fm_status fm_frame_step_run(fm_frame_step *s, fm_detector *det, fm_classifier *cls, float conf,
                            const fm_image *img, double t, fm_frame_step_out *out, fm_err *err);

/* End of the stream at t: every confirmed track leaves (fm_tracker_finish). Fills out's events
 * and counts (no faces, no tracks). The step stays usable; the counts keep their totals. */
fm_status fm_frame_step_finish(fm_frame_step *s, double t, fm_frame_step_out *out, fm_err *err);

/* The step's tracker (for its counts and tracks; owned by the step). */
fm_tracker *fm_frame_step_tracker(fm_frame_step *s);

#endif
