/* state.h - what `facemask serve` knows about each camera right now, shared between the threads
 * that run the cameras (writers) and the ones that report them (the HTTP API, /metrics, the
 * MQTT state topic, the live view: readers).
 *
 *     const char *names[] = {"front-door", "waiting-room"};
 *     fm_site_state *st = fm_site_state_new(2, names, &err);
 *     // a camera's pipeline, after each processed frame:
 *     fm_site_state_frame(st, 0, &(fm_site_frame){.latency_s = 0.031, .faces = 2,
 *                                                 .people_now = 2, .masked_now = 1,
 *                                                 .unmasked_now = 1, .fps = 14.8});
 *     // a reader (any thread):
 *     fm_site_cam_stats s;
 *     fm_site_state_get(st, 0, &s);
 *     fm_site_state_free(st);
 *
 * Every call is thread-safe (one mutex per camera; a reader copies the camera's numbers out).
 * Counters only grow from fm_site_state_new on, as Prometheus counters must; "now" values are
 * replaced on each frame.
 *
 * The live view: a pipeline offers its newest annotated frame as JPEG with fm_site_state_put_jpeg,
 * but only encodes one when fm_site_state_viewers says someone watches (encoding costs a few ms a
 * frame). A viewer registers with fm_site_state_watch / fm_site_state_unwatch and waits for a
 * frame newer than the one it has with fm_site_state_get_jpeg.
 */
#ifndef FM_SITE_STATE_H
#define FM_SITE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Upper bounds (seconds) of the inference latency histogram's buckets, as Prometheus' `le`
 * labels; a last, implicit bucket is +Inf. */
#define FM_SITE_LATENCY_BUCKETS 10
extern const double fm_site_latency_bounds[FM_SITE_LATENCY_BUCKETS];

typedef enum {
    FM_CAM_STARTING = 0, /* not yet opened */
    FM_CAM_RUNNING,      /* frames are flowing */
    FM_CAM_RECONNECTING, /* a live source dropped; facemask is reopening it */
    FM_CAM_ENDED,        /* a file or folder reached its end */
    FM_CAM_FAILED        /* the source cannot be opened or read; see last_error */
} fm_cam_status;

/* The name of a status: "starting", "running", "reconnecting", "ended", "failed". */
const char *fm_cam_status_str(fm_cam_status s);

/* One processed frame, as the pipeline reports it. */
typedef struct {
    double latency_s;   /* frame read -> annotations done, seconds */
    int faces;          /* faces detected in this frame */
    int people_now, masked_now, unmasked_now; /* tracks in view; by smoothed label */
    double fps;         /* processed frames per second, the pipeline's recent rate */
} fm_site_frame;

/* A copy of one camera's state. */
typedef struct {
    char name[65];
    fm_cam_status status;
    char last_error[256];        /* the last source error ("" when none) */
    double fps;
    long long frames, skipped;   /* frames processed; read but not processed */
    long long faces;             /* faces detected, summed over processed frames */
    long long reconnects;
    int people_now, masked_now, unmasked_now;
    long long people, masked, unmasked; /* people who left view since start, by label */
    double compliance;           /* masked / (masked + unmasked) of those; -1 when none */
    long long latency_count;     /* processed frames with a latency */
    double latency_sum;          /* seconds */
    long long latency_le[FM_SITE_LATENCY_BUCKETS]; /* cumulative: frames with latency <= bound */
    double latency_p50_ms, latency_p90_ms; /* of every latency since start, within 1% (core/hist.h);
                                            * 0 before any */
    double updated;              /* fm_wall_now() of the last change, 0 before any */
} fm_site_cam_stats;

typedef struct fm_site_state fm_site_state;

/* ncameras (1..FM_SITE_MAX_CAMERAS) cameras named names[i] (each 1..64 characters). NULL with
 * err set when out of memory or given bad arguments. */
fm_site_state *fm_site_state_new(int ncameras, const char *const *names, fm_err *err);
void fm_site_state_free(fm_site_state *st);

int fm_site_state_count(const fm_site_state *st);
/* The index of the camera called name, or -1. */
int fm_site_state_find(const fm_site_state *st, const char *name);

/* Writers (the camera's pipeline). cam is 0..count-1; a bad index is ignored. */
void fm_site_state_frame(fm_site_state *st, int cam, const fm_site_frame *f);
void fm_site_state_skipped(fm_site_state *st, int cam, long long n);
void fm_site_state_status(fm_site_state *st, int cam, fm_cam_status s, const char *error);
void fm_site_state_reconnect(fm_site_state *st, int cam);
/* A person left view with this smoothed label ("mask", "no_mask" or anything else: unknown). */
void fm_site_state_person(fm_site_state *st, int cam, const char *label);

/* Readers. fm_site_state_get fills out (FM_ERR_ARG for a bad index). */
fm_status fm_site_state_get(fm_site_state *st, int cam, fm_site_cam_stats *out, fm_err *err);

/* The live view. */
int fm_site_state_viewers(fm_site_state *st, int cam);
void fm_site_state_watch(fm_site_state *st, int cam);
void fm_site_state_unwatch(fm_site_state *st, int cam);
/* Copies len bytes of JPEG as the camera's newest frame (FM_ERR_NOMEM when out of memory). */
fm_status fm_site_state_put_jpeg(fm_site_state *st, int cam, const uint8_t *jpeg, size_t len,
                                 fm_err *err);
/* Waits up to timeout_s for a frame with a sequence number above *seq, then copies it into
 * *buf (grown with realloc as needed; *cap is its size), sets *len and *seq. Returns 1 when a
 * frame was copied, 0 on timeout or after fm_site_state_wake, -1 when out of memory. */
int fm_site_state_get_jpeg(fm_site_state *st, int cam, unsigned long long *seq, uint8_t **buf,
                           size_t *cap, size_t *len, double timeout_s);
/* Wakes every waiting viewer (shutdown). */
void fm_site_state_wake(fm_site_state *st);

#endif
