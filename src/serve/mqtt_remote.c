/* mqtt_remote.c - an aggregating node (mqtt.aggregate: true) listens to the other nodes'
 * facemask/+/state, facemask/+/events and facemask/+/availability and keeps each remote
 * camera's last state for the dashboard (fm_mqtt_remotes, serve/mqtt.h).
 *
 * Messages come from the network: a topic that is not facemask/<name>/<kind> with a valid
 * name, a payload that does not read as facemask's, or more than FM_MQTT_MAX_REMOTES cameras
 * are ignored (the last logged once). This node's own cameras and node name are skipped.
 */
#include <mosquitto.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "serve/mqtt_int.h"

#define MAX_PAYLOAD 16384 /* a state or event payload larger than this is not facemask's */

void fm_mqtt_remote_subscribe(fm_mqtt *m)
{
    static const char *const subs[] = {"facemask/+/state", "facemask/+/events",
                                       "facemask/+/availability"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        int rc = mosquitto_subscribe(m->mosq, NULL, subs[i], 1);
        if (rc != MOSQ_ERR_SUCCESS)
            fm_log(FM_LOG_ERROR, "mqtt: %s: cannot subscribe to %s: %s", m->where, subs[i],
                   mosquitto_strerror(rc));
    }
}

void fm_mqtt_remote_free(fm_mqtt *m)
{
    free(m->remotes);
    free(m->nodes);
    m->remotes = NULL;
    m->nodes = NULL;
    m->nremotes = m->capremotes = m->nnodes = m->capnodes = 0;
}

static int own_camera(const fm_mqtt *m, const char *name)
{
    for (int i = 0; i < m->ncam; i++)
        if (strcmp(m->cam[i], name) == 0)
            return 1;
    return 0;
}

/* [mu held] The node's entry, added when missing (NULL when out of memory). */
static fm_mqtt_node *node_entry(fm_mqtt *m, const char *name)
{
    for (int i = 0; i < m->nnodes; i++)
        if (strcmp(m->nodes[i].name, name) == 0)
            return &m->nodes[i];
    if (m->nnodes >= FM_MQTT_MAX_REMOTES)
        return NULL;
    if (m->nnodes == m->capnodes) {
        int cap = m->capnodes ? m->capnodes * 2 : 8;
        fm_mqtt_node *n = realloc(m->nodes, (size_t)cap * sizeof *n);
        if (!n)
            return NULL;
        m->nodes = n;
        m->capnodes = cap;
    }
    fm_mqtt_node *n = &m->nodes[m->nnodes++];
    memset(n, 0, sizeof *n);
    memcpy(n->name, name, strlen(name) + 1);
    return n;
}

static int cmp_remote(const void *a, const void *b)
{
    const fm_mqtt_remote *x = a, *y = b;
    int c = strcmp(x->node, y->node);
    return c ? c : strcmp(x->camera, y->camera);
}

/* [mu held] The camera's entry (a topic names a camera once, whatever node publishes it),
 * added when missing; NULL when full or out of memory. */
static fm_mqtt_remote *remote_entry(fm_mqtt *m, const char *camera, const char *node)
{
    for (int i = 0; i < m->nremotes; i++)
        if (strcmp(m->remotes[i].camera, camera) == 0)
            return &m->remotes[i];
    if (m->nremotes >= FM_MQTT_MAX_REMOTES) {
        if (!m->remote_full_logged)
            fm_log(FM_LOG_WARN, "mqtt: more than %d remote cameras; '%s' and later ones are "
                   "not shown", FM_MQTT_MAX_REMOTES, camera);
        m->remote_full_logged = 1;
        return NULL;
    }
    if (m->nremotes == m->capremotes) {
        int cap = m->capremotes ? m->capremotes * 2 : 8;
        fm_mqtt_remote *r = realloc(m->remotes, (size_t)cap * sizeof *r);
        if (!r)
            return NULL;
        m->remotes = r;
        m->capremotes = cap;
    }
    fm_mqtt_remote *r = &m->remotes[m->nremotes++];
    memset(r, 0, sizeof *r);
    memcpy(r->camera, camera, strlen(camera) + 1);
    memcpy(r->node, node, strlen(node) + 1);
    r->compliance = -1;
    return r;
}

/* [mu held] Keeps the array sorted after an entry's node changed or one was added. */
static void resort(fm_mqtt *m)
{
    qsort(m->remotes, (size_t)m->nremotes, sizeof *m->remotes, cmp_remote);
}

/* Splits "facemask/<name>/<kind>"; 0 when the topic is anything else. */
static int split_topic(const char *topic, char name[FM_MQTT_NAME_MAX + 1], const char **kind)
{
    const char *pre = "facemask/";
    size_t lp = strlen(pre);
    if (!topic || strncmp(topic, pre, lp) != 0)
        return 0;
    const char *s = topic + lp, *slash = strchr(s, '/');
    if (!slash || slash == s || (size_t)(slash - s) > FM_MQTT_NAME_MAX)
        return 0;
    memcpy(name, s, (size_t)(slash - s));
    name[slash - s] = '\0';
    *kind = slash + 1;
    return fm_mqtt_name_ok(name) && !strchr(*kind, '/');
}

void fm_mqtt_remote_on_message(struct mosquitto *mosq, void *obj,
                               const struct mosquitto_message *msg)
{
    fm_mqtt *m = obj;
    char name[FM_MQTT_NAME_MAX + 1];
    const char *kind;
    if (!msg || !split_topic(msg->topic, name, &kind) || msg->payloadlen < 0 ||
        msg->payloadlen > MAX_PAYLOAD)
        return;
    size_t len = (size_t)msg->payloadlen;
    const char *p = msg->payload ? msg->payload : "";
    if (strcmp(kind, "availability") == 0) {
        if (strcmp(name, m->node) == 0)
            return;
        int online = len == 6 && memcmp(p, "online", 6) == 0;
        pthread_mutex_lock(&m->mu);
        fm_mqtt_node *n = node_entry(m, name);
        if (n)
            n->online = online;
        pthread_mutex_unlock(&m->mu);
        return;
    }
    if (own_camera(m, name))
        return;
    if (strcmp(kind, "state") == 0) {
        fm_mqtt_remote r;
        memset(&r, 0, sizeof r);
        if (!fm_mqtt_parse_state(p, len, &r) || !fm_mqtt_name_ok(r.node) ||
            strcmp(r.node, m->node) == 0)
            return;
        pthread_mutex_lock(&m->mu);
        fm_mqtt_remote *e = remote_entry(m, name, r.node);
        if (e) {
            memcpy(e->node, r.node, sizeof e->node);
            memcpy(e->status, r.status, sizeof e->status);
            e->has_state = 1;
            e->people_now = r.people_now;
            e->masked_now = r.masked_now;
            e->unmasked_now = r.unmasked_now;
            e->people = r.people;
            e->masked = r.masked;
            e->unmasked = r.unmasked;
            e->compliance = r.compliance;
            e->fps = r.fps;
            e->updated = fm_wall_now();
            resort(m);
        }
        pthread_mutex_unlock(&m->mu);
    } else if (strcmp(kind, "events") == 0) {
        char node[FM_MQTT_NAME_MAX + 1], type[32];
        long long id;
        if (!fm_mqtt_parse_event(p, len, node, &id, type) || !fm_mqtt_name_ok(node) ||
            strcmp(node, m->node) == 0)
            return;
        pthread_mutex_lock(&m->mu);
        fm_mqtt_remote *e = remote_entry(m, name, node);
        if (e) {
            if (strcmp(e->node, node) != 0)
                memcpy(e->node, node, sizeof e->node);
            e->events++;
            if (id > e->last_event_id) {
                e->last_event_id = id;
                memcpy(e->last_event, type, sizeof e->last_event);
            }
            resort(m);
        }
        pthread_mutex_unlock(&m->mu);
    }
}

int fm_mqtt_remotes(fm_mqtt *m, fm_mqtt_remote *out, int max)
{
    if (!m)
        return 0;
    pthread_mutex_lock(&m->mu);
    int n = m->nremotes;
    for (int i = 0; i < n && i < max; i++) {
        out[i] = m->remotes[i];
        out[i].online = 0;
        for (int k = 0; k < m->nnodes; k++)
            if (strcmp(m->nodes[k].name, out[i].node) == 0)
                out[i].online = m->nodes[k].online;
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}
