/* mqtt.h - `facemask serve` on MQTT (libmosquitto): events from the site history, each camera's
 * live state, the node's availability, Home Assistant discovery and, on an aggregating node,
 * the other nodes' cameras. Topics and payloads: docs/mqtt.md.
 *
 *     fm_err err = {0};
 *     fm_mqtt *m = fm_mqtt_start(site, state, &err);   // site->mqtt.enabled
 *     if (!m) { fprintf(stderr, "facemask: %s\n", err.msg); return 1; }
 *     ...                                              // cameras store events (site/sink.h)
 *     fm_mqtt_notify(m);                               // optional: "new rows are there"
 *     ...
 *     fm_mqtt_stop(m);                                 // publishes "offline", joins, frees
 *
 * Nothing lost: events are published from the history (site->database.path), never from
 * memory. Each unsent row (fm_history_unsent), oldest first, goes to facemask/<camera>/events
 * at QoS 1 and is marked sent (fm_history_mark_sent) only when the broker acknowledges it
 * (PUBACK). After a lost connection publishing starts again from the oldest unsent row, so a
 * broker that was down gets every event afterwards, in order. Delivery is at least once: an
 * event whose acknowledgement was lost is sent again after the reconnect; its "id" (with
 * "node") tells a receiver it already has it.
 *
 * One thread of its own runs the connection (libmosquitto's loop, non-blocking connects) and
 * its own history handle; it polls the history every FM_MQTT_POLL_S seconds, sooner after
 * fm_mqtt_notify, and straight on while a backlog drains (up to FM_MQTT_INFLIGHT events in
 * flight; the acknowledgements that arrive together are marked sent in one transaction).
 * Nothing here blocks a camera: the pipelines only write the history and fm_site_state (and
 * fm_mqtt_notify only takes a mutex the thread never holds across I/O). A lost or refused
 * connection is retried with exponential backoff from FM_MQTT_BACKOFF_MIN_S to
 * FM_MQTT_BACKOFF_MAX_S, each attempt on a fresh client (so no stale queue is replayed out of
 * order; libmosquitto's own reconnect, mosquitto_reconnect_delay_set, works only inside its
 * loop_forever/loop_start, which this thread does not use). Errors are logged once per
 * change of state, as one line:
 *
 *     facemask: mqtt: 127.0.0.1:1883: the broker refused the connection: not authorised
 *               (check mqtt.username and mqtt.password)
 *
 * fm_mqtt_start fails (NULL, err set) only for what retrying cannot fix: a TLS file that cannot
 * be read, a history that cannot be opened, no memory. A broker that is down is not an error:
 * the node keeps its events and sends them when the broker is back.
 */
#ifndef FM_SERVE_MQTT_H
#define FM_SERVE_MQTT_H

#include "core/err.h"
#include "site/config.h"
#include "site/state.h"

#define FM_MQTT_NAME_MAX FM_SITE_NAME_MAX
#define FM_MQTT_POLL_S 0.25       /* history poll period without fm_mqtt_notify */
#define FM_MQTT_STATE_PERIOD_S 5.0 /* a camera's state is republished at least this often */
#define FM_MQTT_BACKOFF_MIN_S 0.5
#define FM_MQTT_BACKOFF_MAX_S 8.0
#define FM_MQTT_INFLIGHT 20       /* events published and not yet acknowledged, at most */
#define FM_MQTT_MAX_REMOTES 256   /* remote cameras an aggregating node keeps */

typedef struct fm_mqtt fm_mqtt;

/* Starts publishing for site (site->mqtt must be enabled) and state (camera i is
 * site->cameras[i]; state may have fewer cameras than the site only in tests: NULL state
 * publishes no state topics). site and state must outlive the fm_mqtt. */
fm_mqtt *fm_mqtt_start(const fm_site_config *site, fm_site_state *state, fm_err *err);
/* New events are in the database: poll it now rather than at the next period. Any thread;
 * never blocks. */
void fm_mqtt_notify(fm_mqtt *m);
/* Publishes "offline" (retained) when connected, waits up to 2 s for acknowledgements in
 * flight, disconnects, joins the thread and frees m. NULL is ignored. */
void fm_mqtt_stop(fm_mqtt *m);

/* Counters of the connection (for /metrics and tests). */
typedef struct {
    char node[FM_MQTT_NAME_MAX + 1]; /* this node's name in topics */
    int connected;                   /* 1 while the broker has accepted the session */
    long long connects;              /* sessions accepted since start */
    long long disconnects;           /* sessions lost since start (not counting the stop) */
    long long published;             /* events published, re-sends included */
    long long acked;                 /* events acknowledged by the broker and marked sent */
    char last_error[256];            /* the last connection error, "" after a success */
} fm_mqtt_stats;

/* A copy of the counters; any thread. */
void fm_mqtt_get_stats(fm_mqtt *m, fm_mqtt_stats *out);

/* A camera of another node, as an aggregating node (mqtt.aggregate: true) last heard it. */
typedef struct {
    char node[FM_MQTT_NAME_MAX + 1];
    char camera[FM_MQTT_NAME_MAX + 1];
    int online;              /* 1 while the node's availability is "online" */
    int has_state;           /* 1 once a state message was read */
    char status[16];         /* "running", ... as fm_cam_status_str, "" before any state */
    int people_now, masked_now, unmasked_now;
    long long people, masked, unmasked;
    double compliance;       /* 0..1, -1 when none */
    double fps;
    double updated;          /* Unix seconds when the last state arrived, 0 before any */
    long long events;        /* event messages received from it */
    long long last_event_id; /* the "id" of the newest event received, 0 before any */
    char last_event[32];     /* its type ("leave", ...) */
} fm_mqtt_remote;

/* Copies up to max remote cameras, ordered by node then camera, into out; returns how many
 * there are (may be more than max). Any thread. 0 when not aggregating. */
int fm_mqtt_remotes(fm_mqtt *m, fm_mqtt_remote *out, int max);

#endif
