/* mqtt.c - `facemask serve` on MQTT: the connection thread (serve/mqtt.h).
 *
 * Everything MQTT runs in one thread: libmosquitto's non-threaded loop (mosquitto_loop with a
 * short timeout), so its callbacks run here too and may use this thread's history handle. The
 * only shared data are the flags (stop, notified), the counters and the remote cameras, under
 * one mutex. The aggregate side (remote cameras) is serve/mqtt_remote.c.
 */
#include "serve/mqtt.h"

#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "serve/mqtt_int.h"
#include "serve/mqtt_msg.h"

#define KEEPALIVE_S 30
#define CONNECT_TIMEOUT_MS 10000.0
#define STOP_WAIT_MS 2000.0
#define STOP_DRAIN_MS 5000.0 /* a clean stop first sends what is stored (the cameras' last lines) */
#define LOOP_MS 50

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    mosquitto_lib_init();
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* --- errors, logged once per change ----------------------------------------------------- */

static void set_error(fm_mqtt *m, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void set_error(fm_mqtt *m, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&m->mu);
    int same = strcmp(m->stats.last_error, msg) == 0;
    if (!same)
        snprintf(m->stats.last_error, sizeof m->stats.last_error, "%s", msg);
    pthread_mutex_unlock(&m->mu);
    if (!same)
        fm_log(FM_LOG_WARN, "mqtt: %s: %s", m->where, msg);
}

/* Connection problems found inside callbacks: kept until the loop drops the connection. */
static void conn_error(fm_mqtt *m, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void conn_error(fm_mqtt *m, const char *fmt, ...)
{
    m->conn_failed = 1;
    if (m->conn_err[0])
        return; /* the first reason is the one that counts */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->conn_err, sizeof m->conn_err, fmt, ap);
    va_end(ap);
}

static const char *mosq_reason(int rc, int saved_errno)
{
    if (rc == MOSQ_ERR_ERRNO)
        return strerror(saved_errno);
    return mosquitto_strerror(rc);
}

/* --- publishing -------------------------------------------------------------------------- */

static int publish(fm_mqtt *m, const char *topic, const char *payload, size_t len, int retain,
                   int *mid)
{
    int rc = mosquitto_publish(m->mosq, mid, topic, (int)len, payload, 1, retain != 0);
    if (rc != MOSQ_ERR_SUCCESS) {
        int e = errno;
        conn_error(m, "cannot publish to %s: %s", topic, mosq_reason(rc, e));
    }
    return rc == MOSQ_ERR_SUCCESS;
}

typedef struct {
    fm_history_row row[FM_MQTT_INFLIGHT];
    int n;
    int oom;
} batch;

static int collect(void *ctx, const fm_history_row *r)
{
    batch *b = ctx;
    fm_history_row *o = &b->row[b->n];
    *o = *r;
    o->camera = strdup(r->camera ? r->camera : "");
    o->type = strdup(r->type ? r->type : "");
    o->payload = strdup(r->payload ? r->payload : "");
    if (!o->camera || !o->type || !o->payload) {
        free((char *)o->camera);
        free((char *)o->type);
        free((char *)o->payload);
        b->oom = 1;
        return 1;
    }
    b->n++;
    return b->n >= FM_MQTT_INFLIGHT;
}

/* Publishes the oldest unsent rows after m->after, as many as the window has room for. */
static void publish_events(fm_mqtt *m)
{
    int room = FM_MQTT_INFLIGHT - m->ninfl;
    if (room <= 0)
        return;
    batch b = {.n = 0};
    fm_err err = {0};
    fm_status st = fm_history_unsent(m->hist, m->after, room, collect, &b, &err);
    m->backlog = st == FM_OK && b.n == room; /* probably more: read again as acks free room */
    if (st != FM_OK && !m->db_error_logged) {
        fm_log(FM_LOG_ERROR, "mqtt: %s", err.msg);
        m->db_error_logged = 1;
    } else if (st == FM_OK) {
        m->db_error_logged = 0;
    }
    for (int i = 0; i < b.n; i++) {
        fm_history_row *r = &b.row[i];
        if (!m->conn_failed && fm_mqtt_name_ok(r->camera)) {
            fm_text_reset(&m->topic);
            fm_text_reset(&m->buf);
            fm_mqtt_topic(&m->topic, r->camera, "events");
            fm_mqtt_event_payload(&m->buf, r, m->node);
            int mid = 0;
            if (m->topic.oom || m->buf.oom) {
                conn_error(m, "out of memory for event %lld", r->id);
            } else if (publish(m, m->topic.p, m->buf.p, m->buf.len, 0, &mid)) {
                m->infl[m->ninfl].mid = mid;
                m->infl[m->ninfl].id = r->id;
                m->ninfl++;
                m->after = r->id;
                pthread_mutex_lock(&m->mu);
                m->stats.published++;
                pthread_mutex_unlock(&m->mu);
            }
        } else if (!fm_mqtt_name_ok(r->camera)) {
            /* cannot be a topic (config.c never lets such a name in): left unsent, skipped */
            fm_log(FM_LOG_ERROR, "mqtt: event %lld: camera name '%s' cannot be an MQTT topic "
                   "level; the event stays unsent", r->id, r->camera);
            m->after = r->id;
        }
        free((char *)r->camera);
        free((char *)r->type);
        free((char *)r->payload);
    }
}

/* The broker acknowledged message mid: its event is to be marked sent. */
static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    fm_mqtt *m = obj;
    if (mid == m->offline_mid)
        m->offline_done = 1;
    for (int i = 0; i < m->ninfl; i++) {
        if (m->infl[i].mid != mid)
            continue;
        if (m->nacks < FM_MQTT_INFLIGHT)
            m->acks[m->nacks++] = m->infl[i].id;
        memmove(&m->infl[i], &m->infl[i + 1], (size_t)(m->ninfl - i - 1) * sizeof m->infl[0]);
        m->ninfl--;
        return;
    }
}

/* Marks the events acknowledged since the last call sent, in one transaction: after each
 * turn of the loop, so a fast broker costs one fsync per turn, not one per event. A failure
 * leaves them unsent: they are sent again after the next reconnect (a duplicate, never a
 * loss). */
static void flush_acks(fm_mqtt *m)
{
    if (m->nacks == 0)
        return;
    fm_err err = {0};
    int marked = 0;
    if (fm_history_mark_sent_batch(m->hist, m->acks, m->nacks, &marked, &err) != FM_OK)
        fm_log(FM_LOG_ERROR, "mqtt: %s (%d events will be sent again)", err.msg, m->nacks);
    m->nacks = 0;
    pthread_mutex_lock(&m->mu);
    m->stats.acked += marked;
    pthread_mutex_unlock(&m->mu);
}

static void publish_states(fm_mqtt *m, double now_ms, int force)
{
    if (!m->state)
        return;
    for (int i = 0; i < m->ncam && !m->conn_failed; i++) {
        fm_site_cam_stats s;
        if (fm_site_state_get(m->state, i, &s, NULL) != FM_OK)
            continue;
        fm_text_reset(&m->buf);
        fm_mqtt_state_body(&m->buf, &s, m->node);
        if (m->buf.oom)
            continue;
        int same = m->last_state[i] && strcmp(m->last_state[i], m->buf.p) == 0;
        if (same && !force && now_ms - m->last_state_ms[i] < FM_MQTT_STATE_PERIOD_S * 1000)
            continue;
        char *keep = strdup(m->buf.p);
        if (!keep)
            continue;
        free(m->last_state[i]);
        m->last_state[i] = keep;
        m->last_state_ms[i] = now_ms;
        fm_mqtt_state_finish(&m->buf, fm_wall_now());
        fm_text_reset(&m->topic);
        fm_mqtt_topic(&m->topic, m->cam[i], "state");
        int mid;
        if (!m->buf.oom && !m->topic.oom)
            publish(m, m->topic.p, m->buf.p, m->buf.len, 1, &mid);
    }
}

static void publish_discovery(fm_mqtt *m)
{
    for (int i = 0; i < m->ncam && !m->conn_failed; i++)
        for (int k = 0; k < FM_MQTT_SENSORS; k++) {
            fm_text_reset(&m->topic);
            fm_text_reset(&m->buf);
            fm_mqtt_discovery_topic(&m->topic, m->node, m->cam[i], k);
            fm_mqtt_discovery_payload(&m->buf, m->node, m->cam[i], k);
            int mid;
            if (!m->buf.oom && !m->topic.oom)
                publish(m, m->topic.p, m->buf.p, m->buf.len, 1, &mid);
        }
}

/* --- the connection ---------------------------------------------------------------------- */

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    fm_mqtt *m = obj;
    if (rc != 0) {
        /* "Connection Refused: not authorised." as "not authorised" */
        char why[128];
        const char *s = mosquitto_connack_string(rc), *pre = "Connection Refused: ";
        if (strncmp(s, pre, strlen(pre)) == 0)
            s += strlen(pre);
        snprintf(why, sizeof why, "%s", s);
        size_t n = strlen(why);
        if (n > 0 && why[n - 1] == '.')
            why[n - 1] = '\0';
        const char *hint = rc == 4 || rc == 5 ? " (check mqtt.username and mqtt.password)" : "";
        conn_error(m, "the broker refused the connection: %s%s", why, hint);
        return;
    }
    m->session = 1;
    m->after = 0; /* from the oldest unsent event */
    m->ninfl = 0;
    m->backoff_s = FM_MQTT_BACKOFF_MIN_S;
    pthread_mutex_lock(&m->mu);
    m->stats.connected = 1;
    m->stats.connects++;
    int had_error = m->stats.last_error[0] != 0;
    m->stats.last_error[0] = '\0';
    pthread_mutex_unlock(&m->mu);
    fm_log(had_error ? FM_LOG_WARN : FM_LOG_INFO, "mqtt: %s: connected as node '%s'", m->where,
           m->node);
    m->fresh = 1; /* the loop publishes the session's first messages: see session_start */
}

/* The first messages of a session. Not sent from on_connect: libmosquitto calls it holding
 * its callback lock, and publishing there takes its queue locks in the opposite order to
 * the loop's (harmless with one thread, but it is a lock-order inversion TSan rightly
 * reports). */
static void session_start(fm_mqtt *m)
{
    m->fresh = 0;
    int mid;
    publish(m, m->avail_topic, "online", 6, 1, &mid);
    if (m->discovery)
        publish_discovery(m);
    if (m->aggregate)
        fm_mqtt_remote_subscribe(m);
    publish_states(m, fm_now_ms(), 1);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    fm_mqtt *m = obj;
    if (m->stopping)
        return;
    if (!m->session)
        conn_error(m, "cannot connect: the broker closed the connection");
    else if (rc == 0 || rc == MOSQ_ERR_CONN_LOST)
        conn_error(m, "the connection was lost");
    else
        conn_error(m, "the connection was lost: %s", mosquitto_strerror(rc));
}

static void on_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
    fm_mqtt *m = obj;
    /* libmosquitto's own errors (TLS handshakes, mostly) add detail to the next failure */
    if ((level & MOSQ_LOG_ERR) && str)
        snprintf(m->log_err, sizeof m->log_err, "%s", str);
}

/* A fresh client with the site's options. */
static struct mosquitto *new_client(fm_mqtt *m, fm_err *err)
{
    struct mosquitto *c = mosquitto_new(m->client_id, true, m);
    if (!c) {
        fm_err_set(err, FM_ERR_NOMEM, "mqtt: cannot create a client: %s", strerror(errno));
        return NULL;
    }
    int rc = mosquitto_int_option(c, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_will_set(c, m->avail_topic, 7, "offline", 1, true);
    if (rc != MOSQ_ERR_SUCCESS) {
        fm_err_set(err, FM_ERR_ARG, "mqtt: cannot set up the client: %s",
                   mosquitto_strerror(rc));
        mosquitto_destroy(c);
        return NULL;
    }
    if (m->user && (rc = mosquitto_username_pw_set(c, m->user, m->pass)) != MOSQ_ERR_SUCCESS) {
        fm_err_set(err, FM_ERR_ARG, "mqtt.username: %s", mosquitto_strerror(rc));
        mosquitto_destroy(c);
        return NULL;
    }
    if (m->tls) {
        rc = mosquitto_tls_set(c, m->ca, NULL, m->cert, m->key, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            fm_err_set(err, FM_ERR_ARG, "mqtt.tls: cannot use ca '%s', cert '%s', key '%s': %s",
                       m->ca ? m->ca : "(system)", m->cert ? m->cert : "(none)",
                       m->key ? m->key : "(none)", mosquitto_strerror(rc));
            mosquitto_destroy(c);
            return NULL;
        }
        if (!m->ca)
            mosquitto_int_option(c, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
    }
    mosquitto_connect_callback_set(c, on_connect);
    mosquitto_disconnect_callback_set(c, on_disconnect);
    mosquitto_publish_callback_set(c, on_publish);
    mosquitto_log_callback_set(c, on_log);
    if (m->aggregate)
        mosquitto_message_callback_set(c, fm_mqtt_remote_on_message);
    return c;
}

static void attempt(fm_mqtt *m)
{
    fm_err err = {0};
    m->session = 0;
    m->fresh = 0;
    m->backlog = 0;
    m->conn_failed = 0;
    m->conn_err[0] = '\0';
    m->log_err[0] = '\0';
    m->ninfl = 0;
    m->attempt_ms = fm_now_ms();
    m->mosq = new_client(m, &err);
    if (!m->mosq) {
        conn_error(m, "%s", err.msg);
        return;
    }
    int rc = mosquitto_connect_async(m->mosq, m->host, m->port, KEEPALIVE_S);
    if (rc != MOSQ_ERR_SUCCESS) {
        int e = errno;
        conn_error(m, "cannot connect: %s", mosq_reason(rc, e));
    }
}

/* Ends the current connection (or attempt) and schedules the next one. */
static void drop(fm_mqtt *m, int rc, int saved_errno)
{
    if (!m->conn_err[0]) {
        if (rc == MOSQ_ERR_SUCCESS)
            snprintf(m->conn_err, sizeof m->conn_err, "no answer from the broker within %.0f s",
                     CONNECT_TIMEOUT_MS / 1000);
        else if (rc == MOSQ_ERR_CONN_LOST)
            snprintf(m->conn_err, sizeof m->conn_err, "%s",
                     m->session ? "the connection was lost" : "cannot connect: the connection "
                                                              "was closed");
        else
            snprintf(m->conn_err, sizeof m->conn_err, "%s: %s",
                     m->session ? "the connection was lost" : "cannot connect",
                     mosq_reason(rc, saved_errno));
    }
    if (m->log_err[0] && !m->session)
        set_error(m, "%s (%s)", m->conn_err, m->log_err);
    else
        set_error(m, "%s", m->conn_err);
    if (m->mosq)
        mosquitto_destroy(m->mosq);
    m->mosq = NULL;
    pthread_mutex_lock(&m->mu);
    if (m->session)
        m->stats.disconnects++;
    m->stats.connected = 0;
    pthread_mutex_unlock(&m->mu);
    m->session = 0;
    m->ninfl = 0;
    m->next_attempt_ms = fm_now_ms() + m->backoff_s * 1000;
    m->backoff_s *= 2;
    if (m->backoff_s > FM_MQTT_BACKOFF_MAX_S)
        m->backoff_s = FM_MQTT_BACKOFF_MAX_S;
}

/* Clean stop: the events stored so far (up to STOP_DRAIN_MS; what is left goes out after the
 * next start), "offline", the acknowledgements in flight, DISCONNECT. */
static void finish(fm_mqtt *m)
{
    if (!m->mosq)
        return;
    if (m->session && !m->conn_failed) {
        if (m->fresh)
            session_start(m);
        publish_events(m);
        double t_drain = fm_now_ms();
        while ((m->backlog || m->ninfl > 0) && fm_now_ms() - t_drain < STOP_DRAIN_MS &&
               !m->conn_failed) {
            int rc = mosquitto_loop(m->mosq, LOOP_MS, 1);
            flush_acks(m);
            if (rc != MOSQ_ERR_SUCCESS)
                break;
            if (m->backlog && m->ninfl < FM_MQTT_INFLIGHT)
                publish_events(m);
        }
        m->offline_done = 0;
        if (publish(m, m->avail_topic, "offline", 7, 1, &m->offline_mid)) {
            double t0 = fm_now_ms();
            while ((!m->offline_done || m->ninfl > 0) && fm_now_ms() - t0 < STOP_WAIT_MS &&
                   !m->conn_failed) {
                int rc = mosquitto_loop(m->mosq, LOOP_MS, 1);
                flush_acks(m);
                if (rc != MOSQ_ERR_SUCCESS)
                    break;
            }
        }
        m->stopping = 1;
        mosquitto_disconnect(m->mosq);
        mosquitto_loop(m->mosq, 0, 1);
        flush_acks(m);
    }
    mosquitto_destroy(m->mosq);
    m->mosq = NULL;
    pthread_mutex_lock(&m->mu);
    m->stats.connected = 0;
    pthread_mutex_unlock(&m->mu);
}

static void *run(void *arg)
{
    fm_mqtt *m = arg;
    double next_poll = 0, next_state = 0;
    for (;;) {
        pthread_mutex_lock(&m->mu);
        int stop = m->stop;
        int notified = m->notified;
        m->notified = 0;
        if (!stop && !m->mosq) {
            double wait_ms = m->next_attempt_ms - fm_now_ms();
            if (wait_ms > 0) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                long long ns = (long long)ts.tv_nsec + (long long)(wait_ms * 1e6);
                ts.tv_sec += (time_t)(ns / 1000000000LL);
                ts.tv_nsec = (long)(ns % 1000000000LL);
                pthread_cond_timedwait(&m->cv, &m->mu, &ts);
                pthread_mutex_unlock(&m->mu);
                continue;
            }
        }
        pthread_mutex_unlock(&m->mu);
        if (stop)
            break;
        if (!m->mosq) {
            attempt(m);
            if (m->conn_failed)
                drop(m, MOSQ_ERR_SUCCESS, 0);
            continue;
        }
        int rc = mosquitto_loop(m->mosq, LOOP_MS, 1);
        int e = errno;
        flush_acks(m);
        if (rc != MOSQ_ERR_SUCCESS || m->conn_failed) {
            drop(m, rc, e);
            continue;
        }
        double now = fm_now_ms();
        if (!m->session) {
            if (now - m->attempt_ms > CONNECT_TIMEOUT_MS)
                drop(m, MOSQ_ERR_SUCCESS, 0);
            continue;
        }
        if (m->fresh)
            session_start(m);
        if (notified || now >= next_poll || (m->backlog && m->ninfl < FM_MQTT_INFLIGHT)) {
            publish_events(m);
            next_poll = now + FM_MQTT_POLL_S * 1000;
        }
        if (now >= next_state) {
            publish_states(m, now, 0);
            next_state = now + FM_MQTT_POLL_S * 1000;
        }
    }
    finish(m);
    return NULL;
}

/* --- the handle -------------------------------------------------------------------------- */

/* The host name as a topic level: up to the first '.', other characters outside
 * [A-Za-z0-9_-] as '-'; "facemask" when there is none. */
static void host_node(char out[FM_MQTT_NAME_MAX + 1])
{
    char h[256] = "";
    if (gethostname(h, sizeof h - 1) != 0)
        h[0] = '\0';
    size_t n = 0;
    for (size_t i = 0; h[i] && h[i] != '.' && n < FM_MQTT_NAME_MAX; i++) {
        char c = h[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        out[n++] = ok ? c : '-';
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, FM_MQTT_NAME_MAX + 1, "facemask");
}

static void free_handle(fm_mqtt *m)
{
    if (!m)
        return;
    if (m->hist)
        fm_history_close(m->hist);
    for (int i = 0; i < m->ncam; i++)
        free(m->last_state ? m->last_state[i] : NULL);
    free(m->last_state);
    free(m->last_state_ms);
    free(m->cam);
    free(m->host);
    free(m->user);
    free(m->pass);
    free(m->ca);
    free(m->cert);
    free(m->key);
    fm_text_free(&m->buf);
    fm_text_free(&m->topic);
    fm_mqtt_remote_free(m);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}

/* A TLS file that cannot be read is an error at start (retrying would not fix it). */
static fm_status check_file(const char *key, const char *path, fm_err *err)
{
    if (!path)
        return FM_OK;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fm_err_set(err, FM_ERR_IO, "mqtt.tls.%s: %s: cannot read: %s", key, path,
                          strerror(errno));
    fclose(f);
    return FM_OK;
}

fm_mqtt *fm_mqtt_start(const fm_site_config *site, fm_site_state *state, fm_err *err)
{
    if (!site || !site->mqtt.enabled) {
        fm_err_set(err, FM_ERR_ARG, "mqtt: %s", site ? "the site has no mqtt: section"
                                                     : "NULL site");
        return NULL;
    }
    const fm_site_mqtt *c = &site->mqtt;
    if (check_file("ca", c->tls_ca, err) || check_file("cert", c->tls_cert, err) ||
        check_file("key", c->tls_key, err))
        return NULL;
    pthread_once(&lib_once, lib_init);
    fm_mqtt *m = calloc(1, sizeof *m);
    if (!m) {
        fm_err_set(err, FM_ERR_NOMEM, "mqtt: out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    m->state = state;
    m->port = c->port > 0 ? c->port : (c->tls ? 8883 : 1883);
    m->host = strdup(c->host ? c->host : "127.0.0.1");
    m->user = dup_or_null(c->username);
    m->pass = dup_or_null(c->password);
    m->ca = dup_or_null(c->tls_ca);
    m->cert = dup_or_null(c->tls_cert);
    m->key = dup_or_null(c->tls_key);
    m->tls = c->tls || c->tls_ca || c->tls_cert;
    m->discovery = c->discovery;
    m->aggregate = c->aggregate;
    m->backoff_s = FM_MQTT_BACKOFF_MIN_S;
    m->offline_mid = -1;
    if (c->node)
        snprintf(m->node, sizeof m->node, "%s", c->node);
    else
        host_node(m->node);
    snprintf(m->stats.node, sizeof m->stats.node, "%s", m->node);
    snprintf(m->client_id, sizeof m->client_id, "facemask-%s", m->node);
    snprintf(m->avail_topic, sizeof m->avail_topic, "facemask/%s/availability", m->node);
    snprintf(m->where, sizeof m->where, "%s:%d", m->host ? m->host : "?", m->port);
    m->ncam = state ? fm_site_state_count(state) : 0;
    if (m->ncam > site->ncameras)
        m->ncam = site->ncameras;
    m->cam = calloc((size_t)(m->ncam > 0 ? m->ncam : 1), sizeof *m->cam);
    m->last_state = calloc((size_t)(m->ncam > 0 ? m->ncam : 1), sizeof *m->last_state);
    m->last_state_ms = calloc((size_t)(m->ncam > 0 ? m->ncam : 1), sizeof *m->last_state_ms);
    if (!m->host || !m->cam || !m->last_state || !m->last_state_ms ||
        (c->username && !m->user) || (c->password && !m->pass) || (c->tls_ca && !m->ca) ||
        (c->tls_cert && !m->cert) || (c->tls_key && !m->key)) {
        free_handle(m);
        fm_err_set(err, FM_ERR_NOMEM, "mqtt: out of memory");
        return NULL;
    }
    for (int i = 0; i < m->ncam; i++)
        snprintf(m->cam[i], sizeof m->cam[i], "%s", site->cameras[i].name);
    if (!fm_mqtt_name_ok(m->node)) {
        fm_err_set(err, FM_ERR_ARG, "mqtt.node: '%s' cannot be an MQTT topic level (expected "
                   "1..64 of letters, digits, '_' and '-')", m->node);
        free_handle(m);
        return NULL;
    }
    /* the options are checked once here, so the thread's failures are only the network's */
    struct mosquitto *probe = new_client(m, err);
    if (!probe) {
        free_handle(m);
        return NULL;
    }
    mosquitto_destroy(probe);
    m->hist = fm_history_open(site->database.path ? site->database.path : "facemask-site.db",
                              FM_HISTORY_CREATE, err);
    if (!m->hist) {
        fm_err_prefix(err, "mqtt: ");
        free_handle(m);
        return NULL;
    }
    if (pthread_create(&m->thread, NULL, run, m) != 0) {
        fm_err_set(err, FM_ERR_NOMEM, "mqtt: cannot start a thread");
        free_handle(m);
        return NULL;
    }
    return m;
}

void fm_mqtt_notify(fm_mqtt *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->notified = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void fm_mqtt_stop(fm_mqtt *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    free_handle(m);
}

void fm_mqtt_get_stats(fm_mqtt *m, fm_mqtt_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    *out = m->stats;
    pthread_mutex_unlock(&m->mu);
}
