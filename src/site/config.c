/* config.c - the site YAML (libyaml's document tree) checked against a fixed schema. */
#include "site/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "core/file.h"

/* Where a value sits: the document, the file name and the key path for messages. */
typedef struct {
    yaml_document_t *doc;
    const char *file;
    fm_err *err;
    int failed;
} ctx;

static int fail(ctx *c, const yaml_node_t *n, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* "FILE:LINE: PATH: message"; the first error wins. Returns 0 so callers can `return fail()`. */
static int fail(ctx *c, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
    if (c->failed)
        return 0;
    c->failed = 1;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    unsigned long line = n ? (unsigned long)n->start_mark.line + 1 : 1;
    fm_err_set(c->err, FM_ERR_PARSE, "%s:%lu: %s%s%s", c->file, line, path ? path : "",
               path && path[0] ? ": " : "", msg);
    return 0;
}

static int is_null_scalar(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static const char *kind_str(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_SCALAR_NODE: return is_null_scalar(n) ? "an empty value" : "a value";
    default: return "nothing";
    }
}

/* A scalar's text, shortened for messages. */
static const char *shown(const yaml_node_t *n, char *buf, size_t size)
{
    snprintf(buf, size, "%.60s%s", (const char *)n->data.scalar.value,
             n->data.scalar.length > 60 ? "..." : "");
    return buf;
}

/* ---- typed values -------------------------------------------------------------------------- */

/* A non-empty string without NUL bytes, copied into *out (replacing an earlier value). */
static int get_string(ctx *c, const yaml_node_t *n, const char *path, char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail(c, n, path, "expected a string, got %s", kind_str(n));
    if (is_null_scalar(n) || n->data.scalar.length == 0)
        return fail(c, n, path, "expected a string, got an empty value");
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return fail(c, n, path, "expected a string without NUL characters");
    char *s = strdup((const char *)n->data.scalar.value);
    if (!s) {
        c->failed = 1;
        fm_err_set(c->err, FM_ERR_NOMEM, "%s: out of memory", c->file);
        return 0;
    }
    free(*out);
    *out = s;
    return 1;
}

/* A plain decimal integer in lo..hi ("8080", not "8080.0", "0x1F90" or the string "8080"). */
static int get_int(ctx *c, const yaml_node_t *n, const char *path, long lo, long hi, int *out)
{
    char b[80];
    if (n->type != YAML_SCALAR_NODE)
        return fail(c, n, path, "expected an integer from %ld to %ld, got %s", lo, hi,
                    kind_str(n));
    const char *s = (const char *)n->data.scalar.value;
    int ok = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && *s;
    const char *p = s + (*s == '-' || *s == '+');
    if (!*p)
        ok = 0;
    for (; ok && *p; p++)
        if (!isdigit((unsigned char)*p))
            ok = 0;
    long v = 0;
    if (ok) {
        errno = 0;
        v = strtol(s, NULL, 10);
        ok = errno == 0;
    }
    if (!ok || v < lo || v > hi)
        return fail(c, n, path, "expected an integer from %ld to %ld, got %s%s%s", lo, hi,
                    n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "'" : "the string '",
                    shown(n, b, sizeof b), "'");
    *out = (int)v;
    return 1;
}

/* YAML 1.1 booleans: true/false, yes/no, on/off (any letter case), unquoted. */
static int get_bool(ctx *c, const yaml_node_t *n, const char *path, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    char b[80];
    if (n->type != YAML_SCALAR_NODE)
        return fail(c, n, path, "expected true or false, got %s", kind_str(n));
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        for (int i = 0; i < 3; i++) {
            if (!strcasecmp(s, yes[i]))
                return *out = 1;
            if (!strcasecmp(s, no[i])) {
                *out = 0;
                return 1;
            }
        }
    return fail(c, n, path, "expected true or false, got '%s'", shown(n, b, sizeof b));
}

/* A name usable as an MQTT topic level and a URL path segment. */
static int get_name(ctx *c, const yaml_node_t *n, const char *path, char **out)
{
    char b[80];
    if (!get_string(c, n, path, out))
        return 0;
    size_t len = strlen(*out);
    size_t ok = strspn(*out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
    if (len > FM_SITE_NAME_MAX || ok != len)
        return fail(c, n, path,
                    "expected a name of 1 to %d letters, digits, '_' or '-', got '%s'",
                    FM_SITE_NAME_MAX, shown(n, b, sizeof b));
    return 1;
}

/* det-size: N (32..4096) or "WxH" (each 64..4096), the forms of `watch --det-size`. */
static int get_det_size(ctx *c, const yaml_node_t *n, const char *path, int *w, int *h)
{
    char b[80];
    if (n->type != YAML_SCALAR_NODE)
        return fail(c, n, path, "expected N (32..4096) or WxH (each 64..4096), got %s",
                    kind_str(n));
    const char *s = (const char *)n->data.scalar.value;
    char *end;
    errno = 0;
    long a = isdigit((unsigned char)*s) ? strtol(s, &end, 10) : -1;
    if (a >= 0 && errno == 0 && !*end && a >= 32 && a <= 4096) {
        *w = (int)a;
        *h = 0;
        return 1;
    }
    if (a >= 0 && errno == 0 && *end == 'x' && isdigit((unsigned char)end[1])) {
        long bb = strtol(end + 1, &end, 10);
        if (errno == 0 && !*end && a >= 64 && a <= 4096 && bb >= 64 && bb <= 4096) {
            *w = (int)a;
            *h = (int)bb;
            return 1;
        }
    }
    return fail(c, n, path, "expected N (32..4096) or WxH (each 64..4096), got '%s'",
                shown(n, b, sizeof b));
}

/* ---- mappings ------------------------------------------------------------------------------ */

/* Calls fn(c, key, value node, path) for each pair of a mapping after checking that every key
 * is a known, non-repeated string. keys: NULL-terminated, also listed in the unknown-key
 * message. A null value for a whole section reads as an empty mapping. */
typedef int (*pair_fn)(ctx *c, void *obj, int key, const yaml_node_t *v, const char *path);

static int each_pair(ctx *c, const yaml_node_t *m, const char *path, const char *const *keys,
                     pair_fn fn, void *obj)
{
    if (is_null_scalar(m))
        return 1;
    if (m->type != YAML_MAPPING_NODE)
        return fail(c, m, path, "expected a mapping of keys (%s, ...), got %s", keys[0],
                    kind_str(m));
    unsigned long long seen = 0;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (!k || !v)
            return fail(c, m, path, "malformed mapping");
        if (k->type != YAML_SCALAR_NODE)
            return fail(c, k, path, "expected a key, got %s", kind_str(k));
        const char *ks = (const char *)k->data.scalar.value;
        int idx = -1;
        for (int i = 0; keys[i]; i++)
            if (!strcmp(ks, keys[i]))
                idx = i;
        char sub[160];
        snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", ks);
        if (idx < 0) {
            char list[300] = "";
            size_t used = 0;
            for (int i = 0; keys[i] && used < sizeof list - 2; i++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                         i ? ", " : "", keys[i]);
            char b[80];
            return fail(c, k, path[0] ? path : NULL, "unknown key '%s' (expected %s)",
                        shown(k, b, sizeof b), list);
        }
        if (seen & (1ull << idx))
            return fail(c, k, sub, "repeated key (it was given before)");
        seen |= 1ull << idx;
        if (!fn(c, obj, idx, v, sub))
            return 0;
    }
    return 1;
}

/* ---- sections ------------------------------------------------------------------------------ */

enum { CAM_NAME, CAM_SOURCE, CAM_DETECTOR, CAM_DET_SIZE, CAM_EVERY, CAM_BLUR, CAM_SNAPSHOTS,
       CAM_RECORD, CAM_LOOP };
static const char *const camera_keys[] = {"name",  "source", "detector",  "det-size",
                                          "every", "blur",   "snapshots", "record", "loop", NULL};

static int camera_pair(ctx *c, void *obj, int key, const yaml_node_t *v, const char *path)
{
    fm_site_camera *cam = obj;
    switch (key) {
    case CAM_NAME: return get_name(c, v, path, &cam->name);
    case CAM_SOURCE: return get_string(c, v, path, &cam->source);
    case CAM_DETECTOR: return get_string(c, v, path, &cam->detector);
    case CAM_DET_SIZE: return get_det_size(c, v, path, &cam->det_w, &cam->det_h);
    case CAM_EVERY: return get_int(c, v, path, 1, 100000, &cam->every);
    case CAM_BLUR: return get_bool(c, v, path, &cam->blur);
    case CAM_SNAPSHOTS: return get_string(c, v, path, &cam->snapshots);
    case CAM_RECORD: return get_string(c, v, path, &cam->record);
    case CAM_LOOP: return get_bool(c, v, path, &cam->loop);
    }
    return 0;
}

static int cameras_section(ctx *c, fm_site_config *cfg, const yaml_node_t *n)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, "cameras", "expected a list of cameras (each '- name: ...'), got %s",
                    kind_str(n));
    long count = n->data.sequence.items.top - n->data.sequence.items.start;
    if (count == 0)
        return fail(c, n, "cameras", "expected at least one camera, got an empty list");
    if (count > FM_SITE_MAX_CAMERAS)
        return fail(c, n, "cameras", "expected at most %d cameras, got %ld",
                    FM_SITE_MAX_CAMERAS, count);
    cfg->cameras = calloc((size_t)count, sizeof *cfg->cameras);
    if (!cfg->cameras) {
        c->failed = 1;
        fm_err_set(c->err, FM_ERR_NOMEM, "%s: out of memory", c->file);
        return 0;
    }
    for (long i = 0; i < count; i++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
        char path[40];
        snprintf(path, sizeof path, "cameras[%ld]", i);
        if (!item)
            return fail(c, n, path, "malformed list");
        fm_site_camera *cam = &cfg->cameras[cfg->ncameras++];
        cam->every = 1;
        cam->line = (int)item->start_mark.line + 1;
        if (item->type != YAML_MAPPING_NODE)
            return fail(c, item, path, "expected a camera (a mapping with name and source), got %s",
                        kind_str(item));
        if (!each_pair(c, item, path, camera_keys, camera_pair, cam))
            return 0;
        if (!cam->name)
            return fail(c, item, path, "missing key 'name' (each camera needs a name)");
        if (!cam->source)
            return fail(c, item, path, "missing key 'source' (camera '%s' needs a source)",
                        cam->name);
        for (long j = 0; j < i; j++)
            if (!strcmp(cfg->cameras[j].name, cam->name))
                return fail(c, item, path,
                            "camera name '%s' is used twice (first by cameras[%ld], line %d)",
                            cam->name, j, cfg->cameras[j].line);
    }
    return 1;
}

enum { TLS_CA, TLS_CERT, TLS_KEY };
static const char *const mqtt_tls_keys[] = {"ca", "cert", "key", NULL};
static const char *const http_tls_keys[] = {"cert", "key", NULL};

/* obj: an array of three char ** (ca, cert, key); http's table has no ca, so its indexes
 * are shifted by one. */
static int tls_pair(ctx *c, void *obj, int key, const yaml_node_t *v, const char *path)
{
    char ***slots = obj;
    return get_string(c, v, path, slots[key]);
}

static int http_tls_pair(ctx *c, void *obj, int key, const yaml_node_t *v, const char *path)
{
    return tls_pair(c, obj, key + 1, v, path);
}

enum { MQ_HOST, MQ_PORT, MQ_USERNAME, MQ_PASSWORD, MQ_TLS, MQ_NODE, MQ_DISCOVERY,
       MQ_AGGREGATE };
static const char *const mqtt_keys[] = {"host", "port",      "username",  "password", "tls",
                                        "node", "discovery", "aggregate", NULL};

static int mqtt_pair(ctx *c, void *obj, int key, const yaml_node_t *v, const char *path)
{
    fm_site_mqtt *m = obj;
    switch (key) {
    case MQ_HOST: return get_string(c, v, path, &m->host);
    case MQ_PORT: return get_int(c, v, path, 1, 65535, &m->port);
    case MQ_USERNAME: return get_string(c, v, path, &m->username);
    case MQ_PASSWORD: return get_string(c, v, path, &m->password);
    case MQ_TLS: {
        char **slots[3] = {&m->tls_ca, &m->tls_cert, &m->tls_key};
        m->tls = 1;
        return each_pair(c, v, path, mqtt_tls_keys, tls_pair, slots);
    }
    case MQ_NODE: return get_name(c, v, path, &m->node);
    case MQ_DISCOVERY: return get_bool(c, v, path, &m->discovery);
    case MQ_AGGREGATE: return get_bool(c, v, path, &m->aggregate);
    }
    return 0;
}

enum { HT_LISTEN, HT_PORT, HT_TOKEN, HT_USER, HT_PASSWORD_HASH, HT_TLS };
static const char *const http_keys[] = {"listen", "port",          "token",
                                        "user",   "password-hash", "tls", NULL};

static int http_pair(ctx *c, void *obj, int key, const yaml_node_t *v, const char *path)
{
    fm_site_http *h = obj;
    switch (key) {
    case HT_LISTEN: return get_string(c, v, path, &h->listen);
    case HT_PORT: return get_int(c, v, path, 1, 65535, &h->port);
    case HT_TOKEN:
        if (!get_string(c, v, path, &h->token))
            return 0;
        if (strlen(h->token) < 16)
            return fail(c, v, path, "expected a token of at least 16 characters, got %zu",
                        strlen(h->token));
        return 1;
    case HT_USER: return get_string(c, v, path, &h->user);
    case HT_PASSWORD_HASH: {
        if (!get_string(c, v, path, &h->password_hash))
            return 0;
        /* crypt(3)'s form "$id$...$hash": at least three '$' and nothing after the last empty */
        const char *s = h->password_hash, *last = strrchr(s, '$');
        int dollars = 0;
        for (const char *p = s; *p; p++)
            dollars += *p == '$';
        if (s[0] != '$' || dollars < 3 || !last[1])
            return fail(c, v, path,
                        "expected a crypt(3) password hash such as '$6$salt$hash' (make one "
                        "with 'openssl passwd -6'), not a password");
        return 1;
    }
    case HT_TLS: {
        char **slots[3] = {NULL, &h->tls_cert, &h->tls_key};
        return each_pair(c, v, path, http_tls_keys, http_tls_pair, slots);
    }
    }
    return 0;
}

enum { DB_PATH, DB_RETENTION };
static const char *const database_keys[] = {"path", "retention-days", NULL};

static int database_pair(ctx *c, void *obj, int key, const yaml_node_t *v, const char *path)
{
    fm_site_database *d = obj;
    if (key == DB_PATH)
        return get_string(c, v, path, &d->path);
    return get_int(c, v, path, 1, 36500, &d->retention_days);
}

enum { TOP_CAMERAS, TOP_MQTT, TOP_HTTP, TOP_DATABASE };
static const char *const top_keys[] = {"cameras", "mqtt", "http", "database", NULL};

static int top_pair(ctx *c, void *obj, int key, const yaml_node_t *v, const char *path)
{
    fm_site_config *cfg = obj;
    switch (key) {
    case TOP_CAMERAS: return cameras_section(c, cfg, v);
    case TOP_MQTT: cfg->mqtt.enabled = 1; return each_pair(c, v, path, mqtt_keys, mqtt_pair, &cfg->mqtt);
    case TOP_HTTP: cfg->http.enabled = 1; return each_pair(c, v, path, http_keys, http_pair, &cfg->http);
    case TOP_DATABASE: return each_pair(c, v, path, database_keys, database_pair, &cfg->database);
    }
    return 0;
}

/* ---- defaults and cross-checks ------------------------------------------------------------- */

int fm_site_is_loopback(const char *a)
{
    if (!a)
        return 0;
    if (!strcmp(a, "localhost") || !strcmp(a, "::1") || !strcmp(a, "[::1]"))
        return 1;
    /* 127.x.y.z with each part 0..255 */
    if (strncmp(a, "127.", 4) != 0)
        return 0;
    int parts = 1;
    for (const char *p = a + 4; *p;) {
        if (!isdigit((unsigned char)*p))
            return 0;
        char *end;
        long v = strtol(p, &end, 10);
        if (v > 255 || end - p > 3)
            return 0;
        parts++;
        p = end;
        if (*p == '.' && isdigit((unsigned char)p[1]))
            p++;
        else if (*p)
            return 0;
    }
    return parts == 4;
}

static int set_default(ctx *c, char **s, const char *v)
{
    if (*s)
        return 1;
    if (!(*s = strdup(v))) {
        c->failed = 1;
        fm_err_set(c->err, FM_ERR_NOMEM, "%s: out of memory", c->file);
        return 0;
    }
    return 1;
}

/* The key node (want_key) or the value node of `key` in mapping m; NULL when absent. For
 * messages about a combination of keys, which point at the line of one of them. */
static const yaml_node_t *lookup(ctx *c, const yaml_node_t *m, const char *key, int want_key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
            return want_key ? k : yaml_document_get_node(c->doc, p->value);
    }
    return NULL;
}

static const yaml_node_t *find(ctx *c, const yaml_node_t *m, const char *key)
{
    return lookup(c, m, key, 0);
}

static const yaml_node_t *key_node(ctx *c, const yaml_node_t *m, const char *key)
{
    return lookup(c, m, key, 1);
}

static int check(ctx *c, fm_site_config *cfg, const yaml_node_t *root)
{
    if (!cfg->ncameras)
        return fail(c, root, NULL, "missing key 'cameras' (expected a list of cameras)");
    const yaml_node_t *mq = find(c, root, "mqtt"), *ht = find(c, root, "http");
    fm_site_mqtt *m = &cfg->mqtt;
    if (m->password && !m->username)
        return fail(c, key_node(c, mq, "password"), "mqtt.password",
                    "a password needs a user name (mqtt.username)");
    if (!m->tls_cert != !m->tls_key)
        return fail(c, key_node(c, find(c, mq, "tls"), m->tls_cert ? "cert" : "key"),
                    m->tls_cert ? "mqtt.tls.cert" : "mqtt.tls.key",
                    "a client certificate and its key go together (set both cert and key)");
    if (m->enabled) {
        if (!set_default(c, &m->host, "127.0.0.1"))
            return 0;
        if (!m->port)
            m->port = m->tls ? 8883 : 1883;
    }
    fm_site_http *h = &cfg->http;
    if (!h->user != !h->password_hash)
        return fail(c, key_node(c, ht, h->user ? "user" : "password-hash"),
                    h->user ? "http.user" : "http.password-hash",
                    "basic authentication needs both http.user and http.password-hash");
    if (!h->tls_cert != !h->tls_key)
        return fail(c, key_node(c, find(c, ht, "tls"), h->tls_cert ? "cert" : "key"),
                    h->tls_cert ? "http.tls.cert" : "http.tls.key",
                    "a certificate and its key go together (set both cert and key)");
    if (!set_default(c, &h->listen, "127.0.0.1"))
        return 0;
    if (!h->port)
        h->port = 8080;
    if (!fm_site_is_loopback(h->listen) && !h->token && !h->user)
        return fail(c, key_node(c, ht, "listen"), "http.listen",
                    "'%s' is not a loopback address: listening there needs authentication "
                    "(http.token, or http.user and http.password-hash)",
                    h->listen);
    if (!set_default(c, &cfg->database.path, "facemask-site.db"))
        return 0;
    if (!cfg->database.retention_days)
        cfg->database.retention_days = 30;
    return 1;
}

/* ---- entry points -------------------------------------------------------------------------- */

static const char *yaml_problem(const yaml_parser_t *p)
{
    switch (p->error) {
    case YAML_MEMORY_ERROR: return "out of memory";
    case YAML_READER_ERROR: return "not valid UTF-8 text";
    default: return "YAML syntax error";
    }
}

fm_site_config *fm_site_config_parse(const char *text, size_t len, const char *file, fm_err *err)
{
    if (!file)
        file = "(config)";
    if (!text && len) {
        fm_err_set(err, FM_ERR_ARG, "%s: no text", file);
        return NULL;
    }
    if (len > FM_SITE_CONFIG_MAX_BYTES) {
        fm_err_set(err, FM_ERR_LIMIT, "%s: %zu bytes exceeds the %d-byte limit", file, len,
                   FM_SITE_CONFIG_MAX_BYTES);
        return NULL;
    }
    fm_site_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->file = strdup(file))) {
        free(cfg);
        fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory", file);
        return NULL;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        fm_err_set(err, FM_ERR_NOMEM, "%s: out of memory", file);
        fm_site_config_free(cfg);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""), len);
    int ok = 0;
    ctx c = {&doc, file, err, 0};
    if (!yaml_parser_load(&parser, &doc)) {
        const char *ctxs = parser.context ? parser.context : "";
        unsigned long line = (unsigned long)parser.problem_mark.line + 1;
        if (parser.error == YAML_READER_ERROR) { /* the reader gives a byte offset only */
            line = 1;
            for (size_t i = 0; i < parser.problem_offset && i < len; i++)
                line += text[i] == '\n';
        }
        fm_err_set(err, FM_ERR_PARSE, "%s:%lu: %s: %s%s%s", file, line, yaml_problem(&parser),
                   parser.problem ? parser.problem : "unknown problem", ctxs[0] ? " " : "",
                   ctxs);
        yaml_parser_delete(&parser);
        fm_site_config_free(cfg);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        fm_err_set(err, FM_ERR_PARSE, "%s:1: empty file, expected a mapping with a 'cameras' list",
                   file);
    } else if (root->type != YAML_MAPPING_NODE) {
        fail(&c, root, NULL, "expected a mapping with a 'cameras' list at the top, got %s",
             kind_str(root));
    } else if (each_pair(&c, root, "", top_keys, top_pair, cfg) && check(&c, cfg, root)) {
        /* one document only: a second one would be silently ignored */
        yaml_document_t more;
        if (!yaml_parser_load(&parser, &more)) {
            fm_err_set(err, FM_ERR_PARSE, "%s:%lu: %s after the first document: %s", file,
                       (unsigned long)parser.problem_mark.line + 1, yaml_problem(&parser),
                       parser.problem ? parser.problem : "unknown problem");
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&more);
            if (r2)
                fm_err_set(err, FM_ERR_PARSE,
                           "%s:%lu: a second YAML document ('---'), expected only one", file,
                           (unsigned long)r2->start_mark.line + 1);
            else
                ok = 1;
            yaml_document_delete(&more);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (!ok) {
        fm_site_config_free(cfg);
        return NULL;
    }
    return cfg;
}

fm_site_config *fm_site_config_load(const char *path, fm_err *err)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    if (fm_read_file(path, FM_SITE_CONFIG_MAX_BYTES, "a site configuration (YAML)", &buf, &len,
                     err) != FM_OK)
        return NULL;
    fm_site_config *cfg = fm_site_config_parse((const char *)buf, len, path, err);
    free(buf);
    return cfg;
}

void fm_site_config_free(fm_site_config *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < cfg->ncameras; i++) {
        fm_site_camera *k = &cfg->cameras[i];
        free(k->name);
        free(k->source);
        free(k->detector);
        free(k->snapshots);
        free(k->record);
    }
    free(cfg->cameras);
    fm_site_mqtt *m = &cfg->mqtt;
    free(m->host);
    free(m->username);
    free(m->password);
    free(m->tls_ca);
    free(m->tls_cert);
    free(m->tls_key);
    free(m->node);
    fm_site_http *h = &cfg->http;
    free(h->listen);
    free(h->token);
    free(h->user);
    free(h->password_hash);
    free(h->tls_cert);
    free(h->tls_key);
    free(cfg->database.path);
    free(cfg->file);
    free(cfg);
}
