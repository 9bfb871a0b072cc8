/*
 * libFuzzer target for the YAML config loader (config/): any bytes as a config file must load
 * or be refused with file:line:col messages, never crash, leak or hang. Env overrides are off
 * and secrets are not resolved, so the result only depends on the input.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_config_t *cfg =
        sluice_config_load_string("/fuzz/sluice.yaml", (const char *)data, size, SLUICE_CONFIG_NO_ENV, &diag);
    if (cfg == NULL) {
        if (diag.count == 0)
            abort(); /* a refusal always says why */
        for (size_t i = 0; i < diag.count; i++)
            if (strncmp(diag.msgs[i], "/fuzz/", 6) != 0 && strchr(diag.msgs[i], ':') == NULL)
                abort();
    } else {
        json_t *dump = sluice_config_to_json(cfg);
        if (dump == NULL)
            abort();
        json_decref(dump);
    }
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&diag);
    return 0;
}
