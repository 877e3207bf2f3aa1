/* libFuzzer target for the MQTT payloads an aggregating node reads from the network
 * (src/serve/mqtt_msg.h): the fuzzed bytes are a state or event payload, as any client on the
 * broker could publish it. The reader must stay inside the bytes it was given, keep its
 * strings terminated and within their fields, and give only values in their ranges; what it
 * does not accept leaves the camera's record unchanged. The same bytes as a stored event
 * payload must publish as one {...} object.
 *
 *     make fuzz && ./build-fuzz/fuzz_mqtt_msg fuzz/corpus-mqtt_msg/
 *     (seed it with sh fuzz/seed_corpora.sh: fuzz/seeds/mqtt_msg) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/mqtt_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so reading past `size` is an ASan error */
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);

    fm_mqtt_remote r, before;
    memset(&r, 0x5a, sizeof r);
    r.status[sizeof r.status - 1] = '\0';
    r.node[sizeof r.node - 1] = '\0';
    before = r;
    if (fm_mqtt_parse_state(p, size, &r)) {
        if (!r.has_state || memchr(r.status, 0, sizeof r.status) == NULL ||
            memchr(r.node, 0, sizeof r.node) == NULL || r.people_now < 0 || r.masked_now < 0 ||
            r.unmasked_now < 0 || r.people < 0 || r.masked < 0 || r.unmasked < 0 || r.fps < 0 ||
            !(r.compliance == -1 || (r.compliance >= 0 && r.compliance <= 1)))
            __builtin_trap();
    } else if (memcmp(&r, &before, sizeof r) != 0) {
        __builtin_trap(); /* refused, yet changed */
    }

    char node[FM_MQTT_NAME_MAX + 1], type[32];
    long long id = -7;
    if (fm_mqtt_parse_event(p, size, node, &id, type)) {
        if (memchr(node, 0, sizeof node) == NULL || memchr(type, 0, sizeof type) == NULL ||
            id < 0)
            __builtin_trap();
    }

    /* the bytes as a stored event's payload (NUL-terminated, as SQLite gives text) */
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = '\0';
        fm_history_row row = {size, "cam", 1.5, "appear", text};
        fm_text b = {0};
        fm_mqtt_event_payload(&b, &row, "node");
        if (!b.oom && (b.len < 2 || b.p[0] != '{' || b.p[b.len - 1] != '}' ||
                       strlen(b.p) != b.len || !strstr(b.p, "\"node\":\"node\"")))
            __builtin_trap();
        fm_text_free(&b);
        free(text);
    }
    free(p);
    return 0;
}
