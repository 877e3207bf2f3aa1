/* The MQTT payloads of `facemask serve` (src/serve/mqtt_msg.h), built and read back without a
 * broker, hostile input included; and the history batch MQTT marks acknowledgements with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/mqtt_msg.h"
#include "site/history.h"
#include "test.h"
#include "test_mqtt_util.h"

/* --- payloads, no broker ------------------------------------------------------------- */

static void test_mqtt_msg_event_payload(void)
{
    fm_text b = {0};
    fm_history_row r = {42, "front-door", 1764700000.25, "leave",
                        "{\"event\":\"leave\",\"t\":1.500,\"track\":7,\"label\":\"mask\"}\n"};
    fm_mqtt_event_payload(&b, &r, "clinic-1");
    FM_CHECK(!b.oom);
    FM_CHECK_MSG(strcmp(b.p, "{\"event\":\"leave\",\"t\":1.500,\"track\":7,\"label\":\"mask\","
                             "\"id\":42,\"node\":\"clinic-1\",\"camera\":\"front-door\","
                             "\"time\":1764700000.250}") == 0,
                 "payload: %s", b.p);
    /* an empty object gets no stray comma; something that is not an object is carried */
    fm_text_reset(&b);
    r.payload = "{}";
    fm_mqtt_event_payload(&b, &r, "n");
    FM_CHECK_MSG(strncmp(b.p, "{\"id\":42,", 9) == 0, "payload: %s", b.p);
    fm_text_reset(&b);
    r.payload = "not \"json\"";
    fm_mqtt_event_payload(&b, &r, "n");
    FM_CHECK_MSG(strncmp(b.p, "{\"payload\":\"not \\\"json\\\"\",\"id\":42,", 34) == 0,
                 "payload: %s", b.p);
    fm_text_free(&b);
}

static void test_mqtt_msg_state_roundtrip(void)
{
    fm_site_cam_stats s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "front-door");
    s.status = FM_CAM_RUNNING;
    s.people_now = 3;
    s.masked_now = 2;
    s.unmasked_now = 1;
    s.people = 10;
    s.masked = 7;
    s.unmasked = 3;
    s.compliance = 0.7;
    s.fps = 14.84;
    fm_text b = {0};
    fm_mqtt_state_body(&b, &s, "clinic-1");
    fm_mqtt_state_finish(&b, 1764700000.5);
    FM_CHECK_MSG(strcmp(b.p, "{\"node\":\"clinic-1\",\"camera\":\"front-door\",\"status\":"
                             "\"running\",\"people_now\":3,\"masked_now\":2,\"unmasked_now\":1,"
                             "\"people\":10,\"masked\":7,\"unmasked\":3,\"compliance\":0.7000,"
                             "\"fps\":14.8,\"time\":1764700000.500}") == 0,
                 "state: %s", b.p);
    fm_mqtt_remote r;
    memset(&r, 0, sizeof r);
    FM_CHECK_INT(fm_mqtt_parse_state(b.p, b.len, &r), 1);
    FM_CHECK(strcmp(r.node, "clinic-1") == 0);
    FM_CHECK(strcmp(r.status, "running") == 0);
    FM_CHECK_INT(r.people_now, 3);
    FM_CHECK_INT(r.masked_now, 2);
    FM_CHECK_INT(r.unmasked_now, 1);
    FM_CHECK_INT(r.people, 10);
    FM_CHECK_INT(r.masked, 7);
    FM_CHECK_INT(r.unmasked, 3);
    FM_CHECK_NEAR(r.compliance, 0.7, 1e-9);
    FM_CHECK_NEAR(r.fps, 14.8, 1e-9);
    /* nobody labelled: null, read back as -1 */
    s.compliance = -1;
    fm_text_reset(&b);
    fm_mqtt_state_body(&b, &s, "clinic-1");
    fm_mqtt_state_finish(&b, 0);
    FM_CHECK_STR_CONTAINS(b.p, "\"compliance\":null");
    FM_CHECK_INT(fm_mqtt_parse_state(b.p, b.len, &r), 1);
    FM_CHECK_NEAR(r.compliance, -1, 0);
    fm_text_free(&b);
}

static void test_mqtt_msg_hostile_input(void)
{
    fm_mqtt_remote r;
    memset(&r, 0, sizeof r);
    snprintf(r.status, sizeof r.status, "kept");
    static const char *const bad[] = {
        "",
        "[]",
        "{",
        "\"status\":\"running\"",
        "{\"people_now\":3}",
        "{\"status\":running}",
        "{\"status\":\"runn",
        "{\"status\"  \"running\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FM_CHECK_MSG(fm_mqtt_parse_state(bad[i], strlen(bad[i]), &r) == 0, "accepted: %s",
                     bad[i]);
        FM_CHECK(strcmp(r.status, "kept") == 0);
    }
    /* the length is respected: the status lies beyond it */
    const char *cut = "{\"status\":\"running\"}";
    FM_CHECK_INT(fm_mqtt_parse_state(cut, 12, &r), 0);
    /* wrong types and absurd numbers are not taken as they come */
    const char *odd = "{\"status\":\"runningrunningrunningrunning\",\"node\":\"x\","
                      "\"people_now\":\"many\",\"people\":-5,\"masked\":1e300,"
                      "\"compliance\":7,\"fps\":nan}";
    FM_CHECK_INT(fm_mqtt_parse_state(odd, strlen(odd), &r), 1);
    FM_CHECK_INT(strlen(r.status), sizeof r.status - 1); /* cut, terminated */
    FM_CHECK_INT(r.people_now, 0);
    FM_CHECK_INT(r.people, 0);
    FM_CHECK(r.masked > 0 && r.masked <= (long long)9e15);
    FM_CHECK_NEAR(r.compliance, -1, 0);
    FM_CHECK_NEAR(r.fps, 0, 0);
    char node[FM_MQTT_NAME_MAX + 1], type[32];
    long long id = -1;
    const char *ev = "{\"event\":\"leave\",\"t\":1.0,\"id\":77,\"node\":\"n2\"}";
    FM_CHECK_INT(fm_mqtt_parse_event(ev, strlen(ev), node, &id, type), 1);
    FM_CHECK(strcmp(node, "n2") == 0 && strcmp(type, "leave") == 0);
    FM_CHECK_INT(id, 77);
    FM_CHECK_INT(fm_mqtt_parse_event("{\"id\":3}", 8, node, &id, type), 0);
    FM_CHECK_INT(fm_mqtt_name_ok("front-door_2"), 1);
    FM_CHECK_INT(fm_mqtt_name_ok("a/b"), 0);
    FM_CHECK_INT(fm_mqtt_name_ok("+"), 0);
    FM_CHECK_INT(fm_mqtt_name_ok(""), 0);
}

static void test_mqtt_msg_discovery(void)
{
    fm_text t = {0}, p = {0};
    int found = -1;
    for (int i = 0; i < FM_MQTT_SENSORS; i++)
        if (strcmp(fm_mqtt_sensor_key(i), "compliance") == 0)
            found = i;
    FM_CHECK(found >= 0);
    FM_CHECK(fm_mqtt_sensor_key(FM_MQTT_SENSORS) == NULL);
    fm_mqtt_discovery_topic(&t, "clinic-1", "front-door", found);
    FM_CHECK(strcmp(t.p, "homeassistant/sensor/facemask_clinic-1/front-door_compliance/config") ==
             0);
    fm_mqtt_discovery_payload(&p, "clinic-1", "front-door", found);
    FM_CHECK_STR_CONTAINS(p.p, "\"unique_id\":\"facemask_clinic-1_front-door_compliance\"");
    FM_CHECK_STR_CONTAINS(p.p, "\"state_topic\":\"facemask/front-door/state\"");
    FM_CHECK_STR_CONTAINS(p.p, "\"availability_topic\":\"facemask/clinic-1/availability\"");
    FM_CHECK_STR_CONTAINS(p.p, "\"unit_of_measurement\":\"%\"");
    FM_CHECK_STR_CONTAINS(p.p, "\"device\":{\"identifiers\":[\"facemask_clinic-1_front-door\"]");
    fm_text_free(&t);
    fm_text_free(&p);
}

/* The batch MQTT marks acknowledgements with: one transaction, unknown ids skipped. */
static void test_mqtt_history_mark_sent_batch(void)
{
    char db[600];
    snprintf(db, sizeof db, "%s/site.db", fm_test_tmpdir());
    fm_test_writer w = {.db = db, .cams = {"a", "b"}, .max = 6};
    fm_test_write_events(&w);
    FM_CHECK_MSG(w.err[0] == 0, "%s", w.err);
    fm_err err = {0};
    fm_history *h = fm_history_open(db, FM_HISTORY_EXISTING, &err);
    FM_CHECK_MSG(h != NULL, "%s", err.msg);
    if (!h)
        return;
    long long ids[] = {2, 5, 99, 3};
    int marked = -1;
    FM_CHECK_INT(fm_history_mark_sent_batch(h, ids, 4, &marked, &err), FM_OK);
    FM_CHECK_INT(marked, 3);
    FM_CHECK_INT(
        fm_test_sql_int(db, "SELECT count(*) FROM events WHERE sent = 1 AND id IN (2, 3, 5)"), 3);
    FM_CHECK_INT(fm_test_sql_int(db, "SELECT count(*) FROM events WHERE sent = 1"), 3);
    FM_CHECK_INT(fm_history_mark_sent_batch(h, NULL, 0, &marked, &err), FM_OK);
    FM_CHECK_INT(marked, 0);
    FM_CHECK_INT(fm_history_mark_sent_batch(h, NULL, 2, &marked, &err), FM_ERR_ARG);
    FM_CHECK_INT(fm_history_mark_sent_batch(NULL, ids, 1, &marked, &err), FM_ERR_ARG);
    fm_history_close(h);
}

void suite_serve_mqtt_msg(void);
void suite_serve_mqtt_msg(void)
{
    FM_RUN(test_mqtt_msg_event_payload);
    FM_RUN(test_mqtt_msg_state_roundtrip);
    FM_RUN(test_mqtt_msg_hostile_input);
    FM_RUN(test_mqtt_msg_discovery);
    FM_RUN(test_mqtt_history_mark_sent_batch);
}
