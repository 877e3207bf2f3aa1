/* config.h - the site configuration of `facemask serve`: a YAML file (docs/site.example.yaml).
 *
 *     fm_err err = {0};
 *     fm_site_config *cfg = fm_site_config_load("site.yaml", &err);
 *     if (!cfg) { fprintf(stderr, "facemask: %s\n", err.msg); return 1; }
 *     for (int i = 0; i < cfg->ncameras; i++) puts(cfg->cameras[i].name);
 *     fm_site_config_free(cfg);
 *
 * The file is read by libyaml (YAML 1.1) into a tree that is then checked against a fixed
 * schema: four sections (cameras, mqtt, http, database), each a mapping of known keys. Every
 * error is one line that names the file, the line (1-based), the key as a path
 * ("cameras[1].every", cameras counted from 0) and what was expected:
 *
 *     site.yaml:9: cameras[1].every: expected an integer from 1 to 100000, got 'often'
 *     site.yaml:4: cameras[0]: unknown key 'detecter' (expected name, source, ...)
 *
 * Checked: unknown and duplicate keys, wrong types (a mapping where a value was expected,
 * "abc" for a number, a quoted "8080" for a number), empty values, a missing camera name or
 * source, camera names that repeat or that could not be an MQTT topic level or a URL path
 * segment, values out of range, settings that need a partner (a TLS key without its
 * certificate, an MQTT password without a user name), and an HTTP listen address other than
 * loopback without a token or a basic-auth user (issue 9: no unauthenticated remote access).
 * Anchors and aliases are read as YAML defines them; the `<<` merge key is not supported
 * (an unknown key). Files larger than FM_SITE_CONFIG_MAX_BYTES are refused.
 *
 * Paths in the file (snapshots, record, tls files, database) are used as written: relative
 * paths are relative to the directory serve runs in. All strings are owned by the config and
 * freed by fm_site_config_free.
 */
#ifndef FM_SITE_CONFIG_H
#define FM_SITE_CONFIG_H

#include <stddef.h>

#include "core/err.h"

#define FM_SITE_CONFIG_MAX_BYTES (1 << 20) /* 1 MiB */
#define FM_SITE_MAX_CAMERAS 64
#define FM_SITE_NAME_MAX 64 /* camera and node names: 1..64 of [A-Za-z0-9_-] */

typedef struct {
    char *name;      /* required: [A-Za-z0-9_-], 1..64 characters, unique in the file */
    char *source;    /* required: anything `watch --source` takes */
    char *detector;  /* NULL or "tuned" (default: the fine-tuned YuNet-n of models/detector),
                      * "yunet" (stock YuNet-n), "res10" or a YuNet .onnx path */
    int det_w, det_h;/* det-size as `watch --det-size` takes it: N (32..4096) gives (N, 0),
                      * "WxH" (each 64..4096) gives (W, H); 0, 0 for the detector's default */
    int every;       /* files: process every Nth frame, 1..100000 (default 1) */
    int blur;        /* pixelate faces in every image output (default 0) */
    char *snapshots; /* folder for violation snapshots, or NULL for none */
    char *record;    /* annotated recording file, or NULL for none */
    int loop;        /* a file or folder: play it again and again (default 0: once) */
    int line;        /* line of the camera's entry in the file */
} fm_site_camera;

typedef struct {
    int enabled;      /* 1 when the file has an mqtt: section */
    char *host;       /* default "127.0.0.1" */
    int port;         /* 1..65535; default 1883, or 8883 with tls */
    char *username, *password; /* NULL for none; a password needs a user name */
    char *tls_ca;     /* CA file to check the broker with; setting any tls key turns TLS on */
    char *tls_cert, *tls_key; /* client certificate and key: both or neither */
    int tls;          /* 1 when a tls: mapping was given */
    char *node;       /* this node's name in topics; NULL: the host name, chosen by serve */
    int discovery;    /* Home Assistant MQTT discovery (default 0) */
    int aggregate;    /* subscribe to the other nodes' state and events (default 0) */
} fm_site_mqtt;

typedef struct {
    int enabled;         /* 1 when the file has an http: section (serve listens only then) */
    char *listen;        /* address, default "127.0.0.1" */
    int port;            /* 1..65535, default 8080 */
    char *token;         /* bearer token (at least 16 characters), or NULL */
    char *user;          /* basic-auth user, with password_hash, or NULL */
    char *password_hash; /* crypt(3) hash ("$6$...", "$y$..."), e.g. from `openssl passwd -6` */
    char *tls_cert, *tls_key; /* both or neither */
} fm_site_http;

typedef struct {
    char *path;         /* default "facemask-site.db" */
    int retention_days; /* 1..36500, default 30 */
} fm_site_database;

typedef struct {
    char *file; /* the name errors were reported under */
    fm_site_camera *cameras;
    int ncameras; /* 1..FM_SITE_MAX_CAMERAS */
    fm_site_mqtt mqtt;
    fm_site_http http;
    fm_site_database database;
} fm_site_config;

/* Reads and checks the file at path. NULL with err set on any error. */
fm_site_config *fm_site_config_load(const char *path, fm_err *err);
/* The same for text in memory (len bytes, no NUL needed); `file` names it in errors. */
fm_site_config *fm_site_config_parse(const char *text, size_t len, const char *file,
                                     fm_err *err);
void fm_site_config_free(fm_site_config *cfg);

/* 1 when addr is a loopback address: "localhost", 127.0.0.0/8 or ::1. */
int fm_site_is_loopback(const char *addr);

#endif
