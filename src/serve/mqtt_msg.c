/* mqtt_msg.c - MQTT payloads: built and read back (serve/mqtt_msg.h). */
#include "serve/mqtt_msg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

/* A number as JSON: null when not finite (no locale: %f of the C locale, which serve keeps). */
static void put_num(fm_text *b, const char *fmt, double v)
{
    if (!isfinite(v))
        fm_text_str(b, "null");
    else
        fm_text_printf(b, fmt, v);
}

int fm_mqtt_name_ok(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n < 1 || n > FM_MQTT_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

void fm_mqtt_topic(fm_text *b, const char *name, const char *kind)
{
    fm_text_str(b, "facemask/");
    fm_text_str(b, name);
    fm_text_str(b, "/");
    fm_text_str(b, kind);
}

/* --- events ------------------------------------------------------------------------------ */

void fm_mqtt_event_payload(fm_text *b, const fm_history_row *row, const char *node)
{
    const char *p = row->payload ? row->payload : "";
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    size_t s = 0;
    while (s < n && (p[s] == ' ' || p[s] == '\t'))
        s++;
    int object = n - s >= 2 && p[s] == '{' && p[n - 1] == '}';
    if (object) {
        /* the object's members, then ours: {"event":..., "id":.. } ("{}" gets no comma) */
        size_t end = n - 1;
        while (end > s + 1 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        fm_text_put(b, p + s, end - s);
        if (end > s + 1)
            fm_text_str(b, ",");
    } else {
        fm_text_str(b, "{\"payload\":");
        fm_text_json_str(b, p);
        fm_text_str(b, ",");
    }
    fm_text_printf(b, "\"id\":%lld,\"node\":", row->id);
    fm_text_json_str(b, node);
    fm_text_str(b, ",\"camera\":");
    fm_text_json_str(b, row->camera);
    fm_text_str(b, ",\"time\":");
    put_num(b, "%.3f", row->time);
    fm_text_str(b, "}");
}

/* --- state ------------------------------------------------------------------------------- */

void fm_mqtt_state_body(fm_text *b, const fm_site_cam_stats *s, const char *node)
{
    fm_text_str(b, "{\"node\":");
    fm_text_json_str(b, node);
    fm_text_str(b, ",\"camera\":");
    fm_text_json_str(b, s->name);
    fm_text_str(b, ",\"status\":");
    fm_text_json_str(b, fm_cam_status_str(s->status));
    fm_text_printf(b, ",\"people_now\":%d,\"masked_now\":%d,\"unmasked_now\":%d", s->people_now,
         s->masked_now, s->unmasked_now);
    fm_text_printf(b, ",\"people\":%lld,\"masked\":%lld,\"unmasked\":%lld", s->people, s->masked,
         s->unmasked);
    fm_text_str(b, ",\"compliance\":");
    if (s->compliance < 0)
        fm_text_str(b, "null");
    else
        put_num(b, "%.4f", s->compliance);
    fm_text_str(b, ",\"fps\":");
    put_num(b, "%.1f", s->fps);
}

void fm_mqtt_state_finish(fm_text *b, double time)
{
    fm_text_str(b, ",\"time\":");
    put_num(b, "%.3f", time);
    fm_text_str(b, "}");
}

/* --- Home Assistant discovery ---------------------------------------------------------- */

static const struct {
    const char *key, *name, *unit, *state_class, *icon;
} sensors[FM_MQTT_SENSORS] = {
    {"status", "Status", NULL, NULL, "mdi:cctv"},
    {"people_now", "People now", NULL, "measurement", "mdi:account-group"},
    {"masked_now", "Masked now", NULL, "measurement", "mdi:face-mask"},
    {"unmasked_now", "Unmasked now", NULL, "measurement", "mdi:face-mask-outline"},
    {"people", "People", NULL, "total_increasing", "mdi:account-multiple"},
    {"masked", "Masked", NULL, "total_increasing", "mdi:face-mask"},
    {"unmasked", "Unmasked", NULL, "total_increasing", "mdi:face-mask-outline"},
    {"compliance", "Compliance", "%", "measurement", "mdi:percent"},
    {"fps", "FPS", "fps", "measurement", "mdi:speedometer"},
};

const char *fm_mqtt_sensor_key(int i)
{
    return i >= 0 && i < FM_MQTT_SENSORS ? sensors[i].key : NULL;
}

void fm_mqtt_discovery_topic(fm_text *b, const char *node, const char *camera, int i)
{
    fm_text_printf(b, "homeassistant/sensor/facemask_%s/%s_%s/config", node, camera, sensors[i].key);
}

void fm_mqtt_discovery_payload(fm_text *b, const char *node, const char *camera, int i)
{
    fm_text_str(b, "{\"name\":");
    fm_text_json_str(b, sensors[i].name);
    fm_text_printf(b, ",\"unique_id\":\"facemask_%s_%s_%s\"", node, camera, sensors[i].key);
    fm_text_printf(b, ",\"object_id\":\"facemask_%s_%s\"", camera, sensors[i].key);
    fm_text_printf(b, ",\"state_topic\":\"facemask/%s/state\"", camera);
    if (strcmp(sensors[i].key, "compliance") == 0)
        fm_text_str(b, ",\"value_template\":\"{{ (value_json.compliance * 100) | round(1) "
                 "if value_json.compliance is number else None }}\"");
    else
        fm_text_printf(b, ",\"value_template\":\"{{ value_json.%s }}\"", sensors[i].key);
    if (sensors[i].unit)
        fm_text_printf(b, ",\"unit_of_measurement\":\"%s\"", sensors[i].unit);
    if (sensors[i].state_class)
        fm_text_printf(b, ",\"state_class\":\"%s\"", sensors[i].state_class);
    fm_text_printf(b, ",\"icon\":\"%s\"", sensors[i].icon);
    fm_text_printf(b, ",\"availability_topic\":\"facemask/%s/availability\"", node);
    fm_text_str(b, ",\"payload_available\":\"online\",\"payload_not_available\":\"offline\"");
    fm_text_printf(b, ",\"device\":{\"identifiers\":[\"facemask_%s_%s\"],\"name\":", node, camera);
    fm_text_json_str(b, camera);
    fm_text_str(b, ",\"manufacturer\":\"facemask\",\"model\":\"facemask serve\"");
    fm_text_str(b, ",\"suggested_area\":");
    fm_text_json_str(b, node);
    fm_text_str(b, "}}");
}

/* --- reading ------------------------------------------------------------------------------ */

/* The value after "key": in j[0..n), or NULL; *rest gets the bytes left from it. */
static const char *find_value(const char *j, size_t n, const char *key, size_t *rest)
{
    size_t k = strlen(key);
    for (size_t i = 0; i + k + 2 < n; i++) {
        if (j[i] != '"' || memcmp(j + i + 1, key, k) != 0 || j[i + 1 + k] != '"')
            continue;
        size_t p = i + k + 2;
        while (p < n && (j[p] == ' ' || j[p] == '\t' || j[p] == '\n' || j[p] == '\r'))
            p++;
        if (p >= n || j[p] != ':')
            continue;
        p++;
        while (p < n && (j[p] == ' ' || j[p] == '\t' || j[p] == '\n' || j[p] == '\r'))
            p++;
        if (p >= n)
            return NULL;
        *rest = n - p;
        return j + p;
    }
    return NULL;
}

/* A string value into out (at most cap-1 bytes; escapes kept as the escaped byte). */
static int get_str(const char *j, size_t n, const char *key, char *out, size_t cap)
{
    size_t rest;
    const char *v = find_value(j, n, key, &rest);
    if (!v || v[0] != '"')
        return 0;
    size_t o = 0;
    for (size_t i = 1; i < rest; i++) {
        char c = v[i];
        if (c == '"') {
            out[o] = '\0';
            return 1;
        }
        if (c == '\\') {
            if (++i >= rest)
                break;
            c = v[i];
        }
        if ((unsigned char)c < 0x20)
            c = ' ';
        if (o + 1 < cap)
            out[o++] = c;
    }
    out[0] = '\0';
    return 0; /* unterminated */
}

/* A number value; 0 when absent, null or not a number. */
static int get_num(const char *j, size_t n, const char *key, double *out)
{
    size_t rest;
    const char *v = find_value(j, n, key, &rest);
    if (!v)
        return 0;
    char tmp[64];
    size_t k = 0;
    while (k < rest && k + 1 < sizeof tmp &&
           (v[k] == '-' || v[k] == '+' || v[k] == '.' || v[k] == 'e' || v[k] == 'E' ||
            (v[k] >= '0' && v[k] <= '9'))) {
        tmp[k] = v[k];
        k++;
    }
    tmp[k] = '\0';
    if (k == 0)
        return 0;
    char *end;
    double d = strtod(tmp, &end);
    if (*end != '\0' || !isfinite(d))
        return 0;
    *out = d;
    return 1;
}

static int is_object(const char *j, size_t n)
{
    size_t s = 0;
    while (s < n && (j[s] == ' ' || j[s] == '\n' || j[s] == '\t' || j[s] == '\r'))
        s++;
    while (n > s && (j[n - 1] == ' ' || j[n - 1] == '\n' || j[n - 1] == '\t' || j[n - 1] == '\r'))
        n--;
    return n - s >= 2 && j[s] == '{' && j[n - 1] == '}';
}

static long long clamp_ll(double d)
{
    if (d < 0)
        return 0;
    if (d > 9e15)
        return (long long)9e15;
    return (long long)d;
}

static int clamp_int(double d)
{
    if (d < 0)
        return 0;
    if (d > 1e9)
        return 1000000000;
    return (int)d;
}

int fm_mqtt_parse_state(const void *payload, size_t len, fm_mqtt_remote *r)
{
    const char *j = payload;
    char status[sizeof r->status];
    if (!j || !is_object(j, len) || !get_str(j, len, "status", status, sizeof status))
        return 0;
    memcpy(r->status, status, sizeof status);
    char node[FM_MQTT_NAME_MAX + 1];
    if (get_str(j, len, "node", node, sizeof node))
        memcpy(r->node, node, sizeof node);
    double d;
    r->people_now = get_num(j, len, "people_now", &d) ? clamp_int(d) : 0;
    r->masked_now = get_num(j, len, "masked_now", &d) ? clamp_int(d) : 0;
    r->unmasked_now = get_num(j, len, "unmasked_now", &d) ? clamp_int(d) : 0;
    r->people = get_num(j, len, "people", &d) ? clamp_ll(d) : 0;
    r->masked = get_num(j, len, "masked", &d) ? clamp_ll(d) : 0;
    r->unmasked = get_num(j, len, "unmasked", &d) ? clamp_ll(d) : 0;
    r->compliance = get_num(j, len, "compliance", &d) && d >= 0 && d <= 1 ? d : -1;
    r->fps = get_num(j, len, "fps", &d) && d >= 0 ? d : 0;
    r->has_state = 1;
    return 1;
}

int fm_mqtt_parse_event(const void *payload, size_t len, char node[FM_MQTT_NAME_MAX + 1],
                        long long *id, char type[32])
{
    const char *j = payload;
    if (!j || !is_object(j, len) || !get_str(j, len, "node", node, FM_MQTT_NAME_MAX + 1))
        return 0;
    double d;
    *id = get_num(j, len, "id", &d) ? clamp_ll(d) : 0;
    if (!get_str(j, len, "event", type, 32))
        type[0] = '\0';
    return 1;
}
