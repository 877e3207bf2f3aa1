/* http.h - the web side of `facemask serve`: the JSON API, /metrics, /healthz, each camera's
 * live view (MJPEG) and the dashboard, served by libmicrohttpd. docs/api.md is the reference
 * for every endpoint.
 *
 *     fm_err err = {0};
 *     fm_http *h = fm_http_start(site, state, mqtt, &err); // site->http: listen, port, auth, tls
 *     if (!h) { fprintf(stderr, "facemask: %s\n", err.msg); return 1; }
 *     ...                                              // cameras run, fill `state` and the db
 *     fm_http_stop(h);                                 // before freeing state or site
 *
 * Threads: libmicrohttpd's internal pool (FM_HTTP_THREADS) answers requests; each of them
 * takes a history handle of its own from a small pool (site->database.path, opened on demand,
 * history.h: one handle per thread). One more thread feeds the live views: it copies each
 * watched camera's newest JPEG once out of `state` and hands it to every stream of that camera,
 * so a camera pipeline only ever waits for the state's mutex, never for a client; a slow
 * client just misses frames.
 *
 * Security (issue 9):
 *  - listens on site->http.listen (default 127.0.0.1); an address that is not loopback is
 *    refused without a token or a basic-auth user (config.c checks it too);
 *  - with a token or a user configured every endpoint but /healthz needs
 *    "Authorization: Bearer TOKEN" or HTTP basic auth (the password checked with crypt(3)
 *    against site->http.password_hash); 401 with WWW-Authenticate otherwise;
 *  - GET and HEAD only (405 for any other method): no endpoint changes state;
 *  - snapshot files are opened inside their camera's snapshots folder only, component by
 *    component with O_NOFOLLOW: "..", absolute paths and symlinks are 404;
 *  - request headers are bounded (FM_HTTP_REQUEST_MEMORY), connections are limited (in all,
 *    per client address) and time out when idle; live streams are capped (FM_HTTP_MAX_STREAMS;
 *    one more gets 503);
 *  - TLS (site->http.tls_cert and tls_key, PEM) when libmicrohttpd was built with it.
 *
 * Other nodes' cameras (issue 9): given the node's MQTT client (serve/mqtt.h), /api/cameras also
 * lists the cameras an aggregating node (mqtt.aggregate: true) hears of, and /metrics has the
 * client's counters; without one (NULL) both show this node only.
 *
 * site, state and mqtt are borrowed: they must outlive the fm_http (stop it first).
 */
#ifndef FM_SERVE_HTTP_H
#define FM_SERVE_HTTP_H

#include "core/err.h"
#include "serve/mqtt.h"
#include "site/config.h"
#include "site/state.h"

#define FM_HTTP_THREADS 4             /* libmicrohttpd's worker threads */
#define FM_HTTP_MAX_STREAMS 50        /* concurrent live views, all cameras together */
#define FM_HTTP_MAX_CONNECTIONS 256   /* open connections in all */
#define FM_HTTP_MAX_PER_IP 64         /* open connections from one client address */
#define FM_HTTP_REQUEST_MEMORY 16384  /* bytes per connection for the request line and headers */
#define FM_HTTP_IDLE_TIMEOUT_S 30     /* an idle connection is closed after this many seconds */

typedef struct fm_http fm_http;

/* Starts serving. mqtt is the node's MQTT client or NULL (no MQTT: only this node's cameras,
 * no MQTT metrics). NULL with err set ("http: cannot listen on 127.0.0.1:8080: ...", a bad
 * address, a non-loopback address without auth, unreadable TLS files, a history that cannot
 * be opened). site->http.port 0 takes a free port (tests; fm_http_port tells which). */
fm_http *fm_http_start(const fm_site_config *site, fm_site_state *state, fm_mqtt *mqtt,
                       fm_err *err);

/* The port it listens on. */
int fm_http_port(const fm_http *h);
/* HTTP connections open now (idle keep-alive ones and live views included), as /metrics'
 * facemask_http_connections shows them. */
int fm_http_connections(fm_http *h);

/* Ends every live view, closes all connections and frees h. NULL is allowed. */
void fm_http_stop(fm_http *h);

#endif
