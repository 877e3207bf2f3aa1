/* test_mqtt_util.h - a real mosquitto broker and real mosquitto_sub subscribers for the MQTT
 * tests (test_serve_mqtt*.c, and serve's own tests): each broker on a free 127.0.0.1 port, with
 * its own configuration, persistence and log in a folder of the test's; and the sites,
 * histories and event checks those tests share (events written as a camera's sink writes
 * them, and a subscriber's messages matched one for one against the SQLite rows).
 *
 *     fm_test_broker b;
 *     if (!fm_test_broker_start(&b, fm_test_tmpdir(), NULL)) return;   // a test failure
 *     fm_test_sub s;
 *     fm_test_sub_start(&s, &b, "facemask/+/events", "fm-sub", NULL);   // persistent session
 *     ...                                                               // publish
 *     char *text = fm_test_sub_output(&s);  // "topic payload" lines
 *     fm_test_sub_stop(&s);
 *     fm_test_broker_stop(&b);
 *
 * Processes are started with fork/exec and ended with SIGTERM (then SIGKILL after 5 s); each
 * helper reports its own failure through the harness (fm_test_fail) and returns 0.
 */
#ifndef FM_TEST_MQTT_UTIL_H
#define FM_TEST_MQTT_UTIL_H

#include <stdatomic.h>
#include <sys/types.h>

#include "serve/mqtt.h"
#include "site/config.h"
#include "site/state.h"

/* Monotonic seconds, and a sleep. */
double fm_test_mono_s(void);
void fm_test_sleep_ms(int ms);

typedef struct {
    int port;
    pid_t pid;        /* 0 when not running */
    char dir[512];    /* its folder: mosquitto.conf, mosquitto.log, the persistence file */
    char conf[600];
    char extra[2048]; /* configuration lines added to the listener's */
} fm_test_broker;

/* A TCP port on 127.0.0.1 that nobody listens on now (-1 when none could be found). */
int fm_test_free_port(void);

/* Writes dir/mosquitto.conf (listener on a free port of 127.0.0.1, anonymous access unless
 * `extra` says otherwise, persistence in dir, the log in dir/mosquitto.log, plus the lines of
 * `extra`, may be NULL) and starts mosquitto; 1 once it accepts connections (within 5 s). */
int fm_test_broker_start(fm_test_broker *b, const char *dir, const char *extra);
/* Stops it (SIGTERM: it saves its persistence) and waits; 1 when it exited. */
int fm_test_broker_stop(fm_test_broker *b);
/* Starts it again, same port and configuration; 1 once it accepts connections. */
int fm_test_broker_restart(fm_test_broker *b);

typedef struct {
    pid_t pid;
    char out[600]; /* its standard output: one "topic payload" line per message */
    char err[600];
} fm_test_sub;

/* Runs mosquitto_sub on `topic` at QoS 1, printing "topic payload" lines, with a persistent
 * session under client id `id` (NULL: a clean session) and `args` (more mosquitto_sub
 * options, NULL for none; e.g. "--cafile ca.crt"). Returns 1 once it is subscribed (a probe
 * message it also subscribes to came back), 0 otherwise. */
int fm_test_sub_start(fm_test_sub *s, const fm_test_broker *b, const char *topic,
                      const char *id, const char *args);
/* The output so far, without the probe lines (caller frees). */
char *fm_test_sub_output(const fm_test_sub *s);
/* The number of lines of the output that start with `prefix` (a topic or its beginning). */
int fm_test_sub_count(const fm_test_sub *s, const char *prefix);
void fm_test_sub_stop(fm_test_sub *s);

/* The retained messages under filter (e.g. "facemask/#") as "topic payload" lines, read by a
 * fresh mosquitto_sub within `seconds` (caller frees; NULL on failure). */
char *fm_test_retained(const fm_test_broker *b, const char *filter, const char *args,
                       double seconds);

/* Runs a command with sh -c and waits for it; its exit status, -1 if it could not run. */
int fm_test_sh(const char *cmd);

/* --- sites, histories, events ---------------------------------------------------------- */

/* A site parsed from YAML (config.c's checks included): the cameras in `cams`
 * (comma-separated, source /dev/null), mqtt on 127.0.0.1:port as node, the database at db, and
 * `mqtt_extra` lines added to the mqtt: section ("key: value\n...", may be NULL). NULL (and a
 * test failure) when it does not parse. */
fm_site_config *fm_test_mqtt_site(const char *cams, int port, const char *node, const char *db,
                                  const char *mqtt_extra);
/* The live state of cfg's cameras (camera i is cfg->cameras[i]). */
fm_site_state *fm_test_mqtt_state(const fm_site_config *cfg);

/* One integer from SQL on the database file, read-only; -1 on any error. */
long long fm_test_sql_int(const char *path, const char *sql);

/* An events row as stored. */
typedef struct {
    long long id;
    char camera[65];
    char *payload;
    int sent;
} fm_test_row;

/* Every events row, by id (*out: caller frees with fm_test_free_rows); the count. */
int fm_test_read_rows(const char *path, fm_test_row **out);
void fm_test_free_rows(fm_test_row *rows, int n);

/* Events written as a camera's sink writes them: its own history handle, one committed row
 * each ("appear" events alternating between cams[0] and cams[1]), fm_mqtt_notify(m) after
 * each (m may be NULL). Run it in a thread (pthread_create(..., fm_test_write_events, &w)) or
 * call it. */
typedef struct {
    const char *db;
    fm_mqtt *m;
    const char *cams[2];
    int max;         /* stop after this many (0: until stop is set) */
    int period_ms;   /* sleep between events */
    atomic_int stop;
    atomic_int written;
    char err[512];   /* the history's error, "" when none */
} fm_test_writer;
void *fm_test_write_events(void *arg);

/* 1 once the history has n rows, all marked sent, within timeout_s. */
int fm_test_wait_all_sent(const char *db, long long n, double timeout_s);
/* 1 once the subscriber has n distinct events (by "id"), within timeout_s. */
int fm_test_wait_received(const fm_test_sub *s, int n, double timeout_s);
/* Checks a subscriber's "facemask/<camera>/events {...}" lines against the rows: each row's
 * stored payload with "id", "node" and "camera" added, in id order of first arrival; repeats
 * of an id already seen (allowed after a reconnect) are counted in *dups. 1 when all match
 * (a test failure names the first difference). */
int fm_test_match_events(const char *text, const fm_test_row *rows, int n, const char *node,
                         int *dups);

/* 1 once m is connected, within timeout_s. */
int fm_test_mqtt_wait_connected(fm_mqtt *m, double timeout_s);
/* 1 once m's last error contains needle, within timeout_s; *s gets the stats. */
int fm_test_mqtt_wait_error(fm_mqtt *m, const char *needle, double timeout_s,
                            fm_mqtt_stats *s);

#endif
