/* test_mqtt_util.h - a real mosquitto broker and real mosquitto_sub subscribers for the MQTT
 * tests (test_serve_mqtt.c, and serve's own tests): each broker on a free 127.0.0.1 port, with
 * its own configuration, persistence and log in a folder of the test's.
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

#include <sys/types.h>

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

#endif
