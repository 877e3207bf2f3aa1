/* The site configuration (src/site/config.h): the documented example parsed field by field,
 * defaults, and each kind of error with its exact message (file, line, key, what was
 * expected). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "site/config.h"
#include "test.h"

/* Parses text; returns the config, or NULL with the message in err. */
static fm_site_config *parse(const char *text, fm_err *err)
{
    *err = (fm_err){0};
    return fm_site_config_parse(text, strlen(text), "site.yaml", err);
}

/* text must fail with exactly `want`. */
static void expect_error(const char *text, const char *want, int line)
{
    fm_err err;
    fm_site_config *cfg = parse(text, &err);
    if (cfg) {
        fm_test_fail(__FILE__, line, "parsed, expected the error \"%s\"", want);
        fm_site_config_free(cfg);
        return;
    }
    if (strcmp(err.msg, want) != 0)
        fm_test_fail(__FILE__, line, "error \"%s\",\n expected \"%s\"", err.msg, want);
    if (err.status != FM_ERR_PARSE)
        fm_test_fail(__FILE__, line, "status %d, expected FM_ERR_PARSE", (int)err.status);
}
#define EXPECT_ERROR(text, want) expect_error(text, want, __LINE__)

#define FM_CHECK_STREQ(a, b)                                                                  \
    do {                                                                                      \
        const char *fm_x_ = (a), *fm_y_ = (b);                                                \
        if (!fm_x_ != !fm_y_ || (fm_x_ && strcmp(fm_x_, fm_y_)))                              \
            fm_test_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a,             \
                         fm_x_ ? fm_x_ : "(null)", fm_y_ ? fm_y_ : "(null)");                 \
    } while (0)

/* docs/site.example.yaml, read from the file as serve will, every field. */
static void test_site_config_example(void)
{
    fm_err err = {0};
    fm_site_config *c = fm_site_config_load("docs/site.example.yaml", &err);
    FM_CHECK_MSG(c != NULL, "%s", err.msg);
    if (!c)
        return;
    FM_CHECK_INT(c->ncameras, 2);
    const fm_site_camera *a = &c->cameras[0], *b = &c->cameras[1];
    FM_CHECK_STREQ(a->name, "front-door");
    FM_CHECK_STREQ(a->source, "rtsp://127.0.0.1:8554/front");
    FM_CHECK_STREQ(a->detector, "tuned");
    FM_CHECK_INT(a->det_w, 640);
    FM_CHECK_INT(a->det_h, 0);
    FM_CHECK_INT(a->every, 1);
    FM_CHECK_INT(a->blur, 1);
    FM_CHECK_STREQ(a->snapshots, "snapshots/front-door");
    FM_CHECK_STREQ(a->record, "recordings/front-door.mkv");
    FM_CHECK_INT(a->line, 16);
    FM_CHECK_STREQ(b->name, "waiting-room");
    FM_CHECK_STREQ(b->source, "/dev/video0");
    FM_CHECK_STREQ(b->detector, NULL);
    FM_CHECK_INT(b->det_w, 0);
    FM_CHECK_INT(b->det_h, 0);
    FM_CHECK_INT(b->every, 1);
    FM_CHECK_INT(b->blur, 0);
    FM_CHECK_STREQ(b->snapshots, NULL);
    FM_CHECK_STREQ(b->record, NULL);
    FM_CHECK_INT(c->mqtt.enabled, 1);
    FM_CHECK_INT(c->http.enabled, 1);
    FM_CHECK_STREQ(c->mqtt.host, "127.0.0.1");
    FM_CHECK_INT(c->mqtt.port, 1883);
    FM_CHECK_STREQ(c->mqtt.username, "facemask");
    FM_CHECK_STREQ(c->mqtt.password, "change-me");
    FM_CHECK_INT(c->mqtt.tls, 0);
    FM_CHECK_STREQ(c->mqtt.tls_ca, NULL);
    FM_CHECK_STREQ(c->mqtt.node, "clinic-1");
    FM_CHECK_INT(c->mqtt.discovery, 1);
    FM_CHECK_INT(c->mqtt.aggregate, 0);
    FM_CHECK_STREQ(c->http.listen, "127.0.0.1");
    FM_CHECK_INT(c->http.port, 8080);
    FM_CHECK_STREQ(c->http.token, NULL);
    FM_CHECK_STREQ(c->http.user, NULL);
    FM_CHECK_STREQ(c->http.tls_cert, NULL);
    FM_CHECK_STREQ(c->database.path, "facemask-site.db");
    FM_CHECK_INT(c->database.retention_days, 30);
    FM_CHECK_STREQ(c->file, "docs/site.example.yaml");
    fm_site_config_free(c);
}

/* Every optional key set to a non-default value, in flow and block style. */
static void test_site_config_all_keys(void)
{
    fm_err err;
    fm_site_config *c = parse(
        "cameras:\n"
        "  - {name: cam_1, source: 'demo.mp4', detector: res10, det-size: 320x240, every: 3,\n"
        "     blur: off, snapshots: snaps, record: out.mkv, loop: true}\n"
        "mqtt:\n"
        "  host: broker.lan\n"
        "  username: u\n"
        "  password: '1234'\n"
        "  tls: {ca: ca.crt, cert: c.crt, key: c.key}\n"
        "  aggregate: YES\n"
        "http:\n"
        "  listen: 0.0.0.0\n"
        "  port: 8443\n"
        "  token: abcdefghijklmnop\n"
        "  user: admin\n"
        "  password-hash: $6$salt$hashhash\n"
        "  tls:\n"
        "    cert: site.crt\n"
        "    key: site.key\n"
        "database: {path: /var/lib/facemask/site.db, retention-days: 365}\n",
        &err);
    FM_CHECK_MSG(c != NULL, "%s", err.msg);
    if (!c)
        return;
    const fm_site_camera *a = &c->cameras[0];
    FM_CHECK_STREQ(a->name, "cam_1");
    FM_CHECK_STREQ(a->source, "demo.mp4");
    FM_CHECK_STREQ(a->detector, "res10");
    FM_CHECK_INT(a->det_w, 320);
    FM_CHECK_INT(a->det_h, 240);
    FM_CHECK_INT(a->every, 3);
    FM_CHECK_INT(a->blur, 0);
    FM_CHECK_STREQ(a->snapshots, "snaps");
    FM_CHECK_STREQ(a->record, "out.mkv");
    FM_CHECK_INT(a->loop, 1);
    FM_CHECK_STREQ(c->mqtt.host, "broker.lan");
    FM_CHECK_INT(c->mqtt.port, 8883); /* TLS's default port */
    FM_CHECK_STREQ(c->mqtt.password, "1234");
    FM_CHECK_INT(c->mqtt.tls, 1);
    FM_CHECK_STREQ(c->mqtt.tls_ca, "ca.crt");
    FM_CHECK_STREQ(c->mqtt.tls_cert, "c.crt");
    FM_CHECK_STREQ(c->mqtt.tls_key, "c.key");
    FM_CHECK_STREQ(c->mqtt.node, NULL);
    FM_CHECK_INT(c->mqtt.discovery, 0);
    FM_CHECK_INT(c->mqtt.aggregate, 1);
    FM_CHECK_STREQ(c->http.listen, "0.0.0.0");
    FM_CHECK_INT(c->http.port, 8443);
    FM_CHECK_STREQ(c->http.token, "abcdefghijklmnop");
    FM_CHECK_STREQ(c->http.user, "admin");
    FM_CHECK_STREQ(c->http.password_hash, "$6$salt$hashhash");
    FM_CHECK_STREQ(c->http.tls_cert, "site.crt");
    FM_CHECK_STREQ(c->http.tls_key, "site.key");
    FM_CHECK_STREQ(c->database.path, "/var/lib/facemask/site.db");
    FM_CHECK_INT(c->database.retention_days, 365);
    fm_site_config_free(c);

    /* only cameras: no MQTT, HTTP on loopback, the default database */
    c = parse("cameras:\n- name: a\n  source: b\n", &err);
    FM_CHECK_MSG(c != NULL, "%s", err.msg);
    if (!c)
        return;
    FM_CHECK_INT(c->mqtt.enabled, 0);
    FM_CHECK_INT(c->http.enabled, 0);
    FM_CHECK_STREQ(c->mqtt.host, NULL);
    FM_CHECK_STREQ(c->http.listen, "127.0.0.1");
    FM_CHECK_INT(c->http.port, 8080);
    FM_CHECK_STREQ(c->database.path, "facemask-site.db");
    FM_CHECK_INT(c->database.retention_days, 30);
    fm_site_config_free(c);
}

static void test_site_config_errors(void)
{
    const char *cam = "cameras:\n  - name: a\n    source: b\n";
    char buf[512];
    /* syntax, and the wrong document shape */
    EXPECT_ERROR("cameras: [a\n", "site.yaml:2: YAML syntax error: did not find expected ',' "
                                  "or ']' while parsing a flow sequence");
    EXPECT_ERROR("", "site.yaml:1: empty file, expected a mapping with a 'cameras' list");
    EXPECT_ERROR("- a\n", "site.yaml:1: expected a mapping with a 'cameras' list at the top, "
                          "got a list");
    EXPECT_ERROR("mqtt: {}\n", "site.yaml:1: missing key 'cameras' (expected a list of cameras)");
    snprintf(buf, sizeof buf, "%s---\ncameras: []\n", cam);
    EXPECT_ERROR(buf, "site.yaml:5: a second YAML document ('---'), expected only one");
    /* unknown and repeated keys */
    EXPECT_ERROR("cameras:\n  - name: a\n    source: b\n    detecter: res10\n",
                 "site.yaml:4: cameras[0]: unknown key 'detecter' (expected name, source, "
                 "detector, det-size, every, blur, snapshots, record, loop)");
    snprintf(buf, sizeof buf, "%smqtt:\n  hots: x\n", cam);
    EXPECT_ERROR(buf, "site.yaml:5: mqtt: unknown key 'hots' (expected host, port, username, "
                      "password, tls, node, discovery, aggregate)");
    snprintf(buf, sizeof buf, "%scamera: []\n", cam);
    EXPECT_ERROR(buf, "site.yaml:4: unknown key 'camera' (expected cameras, mqtt, http, "
                      "database)");
    snprintf(buf, sizeof buf, "%shttp:\n  port: 1\n  port: 2\n", cam);
    EXPECT_ERROR(buf, "site.yaml:6: http.port: repeated key (it was given before)");
    /* missing name / source, duplicate names */
    EXPECT_ERROR("cameras:\n  - source: b\n",
                 "site.yaml:2: cameras[0]: missing key 'name' (each camera needs a name)");
    EXPECT_ERROR("cameras:\n  - name: a\n    source: b\n  - name: c\n",
                 "site.yaml:4: cameras[1]: missing key 'source' (camera 'c' needs a source)");
    EXPECT_ERROR("cameras:\n  - name: a\n    source: b\n  - name: a\n    source: c\n",
                 "site.yaml:4: cameras[1]: camera name 'a' is used twice (first by cameras[0], "
                 "line 2)");
    EXPECT_ERROR("cameras:\n  - name: front door\n    source: b\n",
                 "site.yaml:2: cameras[0].name: expected a name of 1 to 64 letters, digits, '_' "
                 "or '-', got 'front door'");
    EXPECT_ERROR("cameras: []\n", "site.yaml:1: cameras: expected at least one camera, got an "
                                  "empty list");
    EXPECT_ERROR("cameras:\n", "site.yaml:1: cameras: expected a list of cameras (each '- name: "
                               "...'), got an empty value");
    EXPECT_ERROR("cameras:\n  - rtsp://x\n", "site.yaml:2: cameras[0]: expected a camera (a "
                                             "mapping with name and source), got a value");
    /* types */
    EXPECT_ERROR("cameras:\n  - name: a\n    source: b\n    every: often\n",
                 "site.yaml:4: cameras[0].every: expected an integer from 1 to 100000, got "
                 "'often'");
    EXPECT_ERROR("cameras:\n  - name: a\n    source: b\n    every: \"2\"\n",
                 "site.yaml:4: cameras[0].every: expected an integer from 1 to 100000, got the "
                 "string '2'");
    EXPECT_ERROR("cameras:\n  - name: a\n    source: [b]\n",
                 "site.yaml:3: cameras[0].source: expected a string, got a list");
    EXPECT_ERROR("cameras:\n  - name: a\n    source:\n",
                 "site.yaml:3: cameras[0].source: expected a string, got an empty value");
    EXPECT_ERROR("cameras:\n  - name: a\n    source: b\n    blur: maybe\n",
                 "site.yaml:4: cameras[0].blur: expected true or false, got 'maybe'");
    EXPECT_ERROR("cameras:\n  - name: a\n    source: b\n    det-size: 600x40\n",
                 "site.yaml:4: cameras[0].det-size: expected N (32..4096) or WxH (each "
                 "64..4096), got '600x40'");
    snprintf(buf, sizeof buf, "%smqtt: broker\n", cam);
    EXPECT_ERROR(buf, "site.yaml:4: mqtt: expected a mapping of keys (host, ...), got a value");
    /* ranges */
    snprintf(buf, sizeof buf, "%shttp:\n  port: 70000\n", cam);
    EXPECT_ERROR(buf, "site.yaml:5: http.port: expected an integer from 1 to 65535, got '70000'");
    snprintf(buf, sizeof buf, "%sdatabase:\n  retention-days: 0\n", cam);
    EXPECT_ERROR(buf, "site.yaml:5: database.retention-days: expected an integer from 1 to "
                      "36500, got '0'");
    EXPECT_ERROR("cameras:\n  - name: a\n    source: b\n    every: 99999999999999999999\n",
                 "site.yaml:4: cameras[0].every: expected an integer from 1 to 100000, got "
                 "'99999999999999999999'");
    /* combinations and security */
    snprintf(buf, sizeof buf, "%shttp:\n  listen: 0.0.0.0\n", cam);
    EXPECT_ERROR(buf, "site.yaml:5: http.listen: '0.0.0.0' is not a loopback address: listening "
                      "there needs authentication (http.token, or http.user and "
                      "http.password-hash)");
    snprintf(buf, sizeof buf, "%shttp:\n  user: admin\n", cam);
    EXPECT_ERROR(buf, "site.yaml:5: http.user: basic authentication needs both http.user and "
                      "http.password-hash");
    snprintf(buf, sizeof buf, "%shttp:\n  user: admin\n  password-hash: secret\n", cam);
    EXPECT_ERROR(buf, "site.yaml:6: http.password-hash: expected a crypt(3) password hash such "
                      "as '$6$salt$hash' (make one with 'openssl passwd -6'), not a password");
    snprintf(buf, sizeof buf, "%shttp:\n  token: short\n", cam);
    EXPECT_ERROR(buf, "site.yaml:5: http.token: expected a token of at least 16 characters, "
                      "got 5");
    snprintf(buf, sizeof buf, "%shttp:\n  tls:\n    key: k.pem\n", cam);
    EXPECT_ERROR(buf, "site.yaml:6: http.tls.key: a certificate and its key go together (set "
                      "both cert and key)");
    snprintf(buf, sizeof buf, "%smqtt:\n  password: p\n", cam);
    EXPECT_ERROR(buf, "site.yaml:5: mqtt.password: a password needs a user name "
                      "(mqtt.username)");
    snprintf(buf, sizeof buf, "%smqtt:\n  tls: {ca: a, cert: c}\n", cam);
    EXPECT_ERROR(buf, "site.yaml:5: mqtt.tls.cert: a client certificate and its key go together "
                      "(set both cert and key)");
    snprintf(buf, sizeof buf, "%shttp:\n  tls: {ca: x}\n", cam);
    EXPECT_ERROR(buf, "site.yaml:5: http.tls: unknown key 'ca' (expected cert, key)");
    /* not UTF-8 */
    EXPECT_ERROR("cameras:\n  - name: a\n    source: \xff\n",
                 "site.yaml:3: not valid UTF-8 text: invalid leading UTF-8 octet");
}

/* Loading: a missing file and an oversized one name the path. */
static void test_site_config_load_errors(void)
{
    fm_err err = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s/none.yaml", fm_test_tmpdir());
    FM_CHECK(fm_site_config_load(path, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "none.yaml: cannot open: No such file or directory");
    snprintf(path, sizeof path, "%s/empty.yaml", fm_test_tmpdir());
    fm_test_write_text(path, "");
    FM_CHECK(fm_site_config_load(path, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "empty.yaml: empty file, expected a site configuration (YAML)");
    size_t big = FM_SITE_CONFIG_MAX_BYTES + 1;
    char *text = malloc(big);
    FM_CHECK(text != NULL);
    if (!text)
        return;
    memset(text, '#', big);
    fm_site_config *c = fm_site_config_parse(text, big, "big.yaml", &err);
    FM_CHECK(c == NULL);
    FM_CHECK_INT(err.status, FM_ERR_LIMIT);
    FM_CHECK_STR_CONTAINS(err.msg, "big.yaml: 1048577 bytes exceeds the 1048576-byte limit");
    free(text);
}

/* Aliases are shared nodes: a camera repeated through an alias is a duplicate name, and a
 * deep alias bomb is neither expanded nor slow. */
static void test_site_config_aliases(void)
{
    EXPECT_ERROR("cameras:\n  - &c {name: a, source: b}\n  - *c\n",
                 "site.yaml:2: cameras[1]: camera name 'a' is used twice (first by cameras[0], "
                 "line 2)");
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text, "a0: &a0 [x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 30; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i,
                              i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    fm_err err = {0};
    FM_CHECK(fm_site_config_parse(text, n, "bomb.yaml", &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "bomb.yaml:1: unknown key 'a0'");
}

static void test_site_config_loopback(void)
{
    FM_CHECK(fm_site_is_loopback("127.0.0.1"));
    FM_CHECK(fm_site_is_loopback("127.1.2.254"));
    FM_CHECK(fm_site_is_loopback("::1"));
    FM_CHECK(fm_site_is_loopback("localhost"));
    FM_CHECK(!fm_site_is_loopback("127.0.0.1.evil.com"));
    FM_CHECK(!fm_site_is_loopback("127.0.0.256"));
    FM_CHECK(!fm_site_is_loopback("127.0.0"));
    FM_CHECK(!fm_site_is_loopback("0.0.0.0"));
    FM_CHECK(!fm_site_is_loopback("::"));
    FM_CHECK(!fm_site_is_loopback("192.168.1.5"));
}

void suite_site_config(void);
void suite_site_config(void)
{
    FM_RUN(test_site_config_example);
    FM_RUN(test_site_config_all_keys);
    FM_RUN(test_site_config_errors);
    FM_RUN(test_site_config_load_errors);
    FM_RUN(test_site_config_aliases);
    FM_RUN(test_site_config_loopback);
}
