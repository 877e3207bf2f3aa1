/* libFuzzer target for the site configuration (src/site/config.h): the fuzzed bytes are the
 * YAML text. A config that parses must satisfy the schema's promises (1..64 cameras, each with
 * a name and a source, names unique, ports in range); a failure must carry a message that
 * starts with the file name.
 *
 *     make fuzz && ./build-fuzz/fuzz_site_config fuzz/corpus-site_config/
 *     (seed it with sh fuzz/seed_corpora.sh: docs/site.example.yaml and fuzz/seeds/site_config) */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "site/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_err err = {0};
    fm_site_config *cfg = fm_site_config_parse((const char *)data, size, "fuzz.yaml", &err);
    if (!cfg) {
        if (err.status == FM_OK || strncmp(err.msg, "fuzz.yaml", 9) != 0)
            __builtin_trap(); /* every failure says why, and where */
        return 0;
    }
    if (cfg->ncameras < 1 || cfg->ncameras > FM_SITE_MAX_CAMERAS)
        __builtin_trap();
    for (int i = 0; i < cfg->ncameras; i++) {
        const fm_site_camera *c = &cfg->cameras[i];
        if (!c->name || !c->source || !c->name[0] || strlen(c->name) > FM_SITE_NAME_MAX ||
            c->every < 1)
            __builtin_trap();
        for (int j = 0; j < i; j++)
            if (!strcmp(c->name, cfg->cameras[j].name))
                __builtin_trap();
    }
    if (cfg->http.port < 1 || cfg->http.port > 65535 || !cfg->database.path ||
        cfg->database.retention_days < 1)
        __builtin_trap();
    if (!fm_site_is_loopback(cfg->http.listen) && !cfg->http.token && !cfg->http.user)
        __builtin_trap();
    fm_site_config_free(cfg);
    return 0;
}
