/* http_internal.h - what the files of src/serve/http*.c share; not part of serve's API.
 *
 *   http.c          start/stop, listening, TLS, the request dispatcher, auth, method checks
 *   http_api.c      /api/cameras, /api/events, /api/stats, /api/snapshots (JSON), snapshot files
 *   http_metrics.c  /metrics (Prometheus text 0.0.4)
 *   http_live.c     /api/cameras/NAME/live.mjpeg and its feeder thread
 *   build/gen/web_assets.c (tools/gen-web-assets.c from src/serve/web/): the dashboard's files
 */
#ifndef FM_SERVE_HTTP_INTERNAL_H
#define FM_SERVE_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "core/text.h"
#include "serve/http.h"
#include "site/history.h"

typedef struct fm_http_live fm_http_live;

struct fm_http {
    const fm_site_config *site;
    fm_site_state *state;
    fm_mqtt *mqtt; /* the node's MQTT client (other nodes' cameras, its counters), or NULL */
    struct MHD_Daemon *daemon;
    int port;
    char *tls_cert, *tls_key; /* PEM text, kept while the daemon runs */
    /* history handles, one per request in flight (history.h: one per thread) */
    pthread_mutex_t hist_mu;
    fm_history *hist_free[FM_HTTP_THREADS + 4];
    int nhist_free;
    fm_http_live *live;
    atomic_int connections; /* open now, counted as libmicrohttpd starts and closes them */
    /* the last Authorization header whose basic-auth password crypt(3) accepted: the same
     * header again skips the (deliberately slow) hash; under auth_mu */
    pthread_mutex_t auth_mu;
    char basic_ok[512];
};

/* Borrows a history handle (NULL with err set when the database cannot be opened). */
fm_history *fm_http_history_take(fm_http *h, fm_err *err);
void fm_http_history_give(fm_http *h, fm_history *hist);

/* Queues a response of len bytes of body (copied) with its Content-Type. */
enum MHD_Result fm_http_send(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body, size_t len);
/* Queues b's text (taken over; 500 when b ran out of memory). */
enum MHD_Result fm_http_send_buf(struct MHD_Connection *c, unsigned status, const char *type,
                                 fm_text *b);
/* {"error": msg} with status. */
enum MHD_Result fm_http_send_error(struct MHD_Connection *c, unsigned status, const char *msg);

/* http_api.c: url starts with "/api/". */
enum MHD_Result fm_http_api(fm_http *h, struct MHD_Connection *c, const char *url);
/* The other nodes' cameras an aggregating node heard of (fm_mqtt_remotes), ordered by node
 * then camera: *out is malloc'ed (caller frees; NULL when there are none); the count, -1 when
 * out of memory. 0 without MQTT. */
int fm_http_remotes(fm_http *h, fm_mqtt_remote **out);

/* http_metrics.c */
enum MHD_Result fm_http_metrics(fm_http *h, struct MHD_Connection *c);

/* http_live.c */
fm_http_live *fm_http_live_start(fm_http *h, fm_err *err);
/* Ends every stream (they get end-of-stream) before the daemon stops. */
void fm_http_live_shutdown(fm_http_live *l);
void fm_http_live_free(fm_http_live *l);
enum MHD_Result fm_http_live_stream(fm_http *h, struct MHD_Connection *c, int cam);
/* Streams open now. */
int fm_http_live_streams(fm_http_live *l);

/* The dashboard's files, embedded at build time. */
typedef struct {
    const char *path; /* "/", "/app.js", ... */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} fm_web_asset;
extern const fm_web_asset fm_web_assets[];
extern const int fm_web_nassets;

#endif
