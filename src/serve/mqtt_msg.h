/* mqtt_msg.h - the MQTT payloads of `facemask serve` (docs/mqtt.md): built for publishing and
 * read back by an aggregating node. Pure functions, no network: src/serve/mqtt.c sends them.
 *
 *     fm_text b = {0};
 *     fm_mqtt_event_payload(&b, &row, "clinic-1");   // {"event":"leave",...,"id":42,...}
 *     if (!b.oom) mosquitto_publish(..., (int)b.len, b.p, 1, false);
 *     fm_text_free(&b);
 *
 * Topics (names are 1..64 of [A-Za-z0-9_-], as config.h checks them):
 *   facemask/<camera>/events        each event, QoS 1, not retained
 *   facemask/<camera>/state         the camera's live state, QoS 1, retained
 *   facemask/<node>/availability    "online" / "offline", QoS 1, retained (offline: last will)
 *   homeassistant/sensor/facemask_<node>/<camera>_<sensor>/config   discovery, retained
 *
 * The reader (fm_mqtt_parse_state, fm_mqtt_parse_event) takes any bytes from the network: it
 * never reads past len, copies strings bounded, and takes a field only when its value has the
 * expected type. It reads the flat objects facemask writes, not JSON in general: a key is found
 * by its quoted name followed by ':' (a string value containing such text could shadow it; the
 * payloads facemask writes never do).
 */
#ifndef FM_SERVE_MQTT_MSG_H
#define FM_SERVE_MQTT_MSG_H

#include <stddef.h>

#include "core/text.h"
#include "serve/mqtt.h"
#include "site/history.h"
#include "site/state.h"


/* "facemask/<name>/<kind>" (kind: "events", "state", "availability"). */
void fm_mqtt_topic(fm_text *b, const char *name, const char *kind);

/* An event row as published: the stored JSON object (docs/events.md) with four fields added at
 * its end: "id" (the history id: increasing per node, the key to drop a duplicate by),
 * "node", "camera" and "time" (Unix seconds, UTC, 3 decimals). A stored payload that is not
 * an object ({...}) is carried as a string in "payload" instead. */
void fm_mqtt_event_payload(fm_text *b, const fm_history_row *row, const char *node);

/* The state topic's object, without its "time":
 * {"node":..,"camera":..,"status":"running","people_now":2,"masked_now":1,"unmasked_now":1,
 *  "people":10,"masked":7,"unmasked":3,"compliance":0.7000,"fps":14.8
 * (compliance null when nobody was labelled). fm_mqtt_state_finish appends ,"time":T}. The
 * text before "time" is what changes are detected on. */
void fm_mqtt_state_body(fm_text *b, const fm_site_cam_stats *s, const char *node);
void fm_mqtt_state_finish(fm_text *b, double time);

/* Home Assistant discovery: the sensors of a camera's state topic. */
#define FM_MQTT_SENSORS 9
/* The sensor's key in the state object ("people_now", ...), i in 0..FM_MQTT_SENSORS-1. */
const char *fm_mqtt_sensor_key(int i);
/* The config topic and payload of sensor i of camera on node. */
void fm_mqtt_discovery_topic(fm_text *b, const char *node, const char *camera, int i);
void fm_mqtt_discovery_payload(fm_text *b, const char *node, const char *camera, int i);

/* Reads a state payload (len bytes, need not be NUL-terminated) into r's state fields (node,
 * status, counts, compliance, fps); the camera name comes from the topic, not from here.
 * Returns 1 when it is an object with a "status" string, 0 otherwise (r is then unchanged). */
int fm_mqtt_parse_state(const void *payload, size_t len, fm_mqtt_remote *r);
/* Reads an event payload's "node", "id" and "event" (type). Returns 1 when it is an object
 * with a "node" string, 0 otherwise. */
int fm_mqtt_parse_event(const void *payload, size_t len, char node[FM_MQTT_NAME_MAX + 1],
                        long long *id, char type[32]);

/* 1 when s is 1..64 of [A-Za-z0-9_-] (a topic level facemask accepts). */
int fm_mqtt_name_ok(const char *s);

#endif
