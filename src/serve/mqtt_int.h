/* mqtt_int.h - the inside of an fm_mqtt, shared by serve/mqtt.c (the connection, events, state,
 * discovery) and serve/mqtt_remote.c (an aggregating node's view of the other nodes). Not for
 * other modules: they use serve/mqtt.h.
 *
 * Threads: fields marked [mu] are shared with the callers' threads and read or written under
 * mu; every other field belongs to the MQTT thread (libmosquitto's callbacks run there too).
 */
#ifndef FM_SERVE_MQTT_INT_H
#define FM_SERVE_MQTT_INT_H

#include <pthread.h>

#include "serve/mqtt.h"
#include "serve/mqtt_msg.h"
#include "site/history.h"

struct mosquitto;
struct mosquitto_message;

typedef struct {
    char name[FM_MQTT_NAME_MAX + 1];
    int online;
} fm_mqtt_node;

struct fm_mqtt {
    /* set at start, then read-only */
    fm_site_state *state;
    int ncam;
    char (*cam)[FM_MQTT_NAME_MAX + 1]; /* this node's camera names */
    char node[FM_MQTT_NAME_MAX + 1];
    char client_id[FM_MQTT_NAME_MAX + 16];
    char avail_topic[FM_MQTT_NAME_MAX + 32];
    char where[300]; /* "host:port", the prefix of messages */
    char *host, *user, *pass, *ca, *cert, *key;
    int port, tls, discovery, aggregate;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* wakes the thread from its backoff wait */
    int stop, notified;        /* [mu] */
    fm_mqtt_stats stats;       /* [mu] */
    fm_mqtt_remote *remotes;   /* [mu] sorted by node, then camera */
    int nremotes, capremotes;  /* [mu] */
    fm_mqtt_node *nodes;       /* [mu] availability of the nodes heard of */
    int nnodes, capnodes;      /* [mu] */

    /* the MQTT thread's */
    fm_history *hist;
    struct mosquitto *mosq;    /* NULL between attempts */
    int session;               /* the broker accepted the connection (CONNACK 0) */
    int fresh;                 /* ... and its first messages are still to be sent */
    int conn_failed;           /* a callback found the connection unusable */
    int stopping;              /* DISCONNECT sent: the disconnect callback is expected */
    char conn_err[256], log_err[200];
    double attempt_ms, next_attempt_ms, backoff_s;
    struct { int mid; long long id; } infl[FM_MQTT_INFLIGHT]; /* oldest first */
    int ninfl;
    long long acks[FM_MQTT_INFLIGHT]; /* acknowledged, to be marked sent by flush_acks */
    int nacks;
    long long after;           /* the newest event id published in this session */
    int backlog;               /* the last read filled the window: more rows may wait */
    int offline_mid, offline_done;
    int db_error_logged, remote_full_logged;
    fm_text buf, topic;
    char **last_state;         /* per camera: the state body last published */
    double *last_state_ms;
};

/* serve/mqtt_remote.c: subscriptions (on each new session), the message callback, the
 * store's memory. */
void fm_mqtt_remote_subscribe(fm_mqtt *m);
void fm_mqtt_remote_on_message(struct mosquitto *mosq, void *obj,
                               const struct mosquitto_message *msg);
void fm_mqtt_remote_free(fm_mqtt *m);

#endif
