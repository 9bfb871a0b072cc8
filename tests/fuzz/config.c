/*
 * libFuzzer target for the YAML config loader (config/): any bytes as a config file must load
 * or be refused with file:line:col messages, never crash, leak or hang; loaded again as
 * `config check` does (SLUICE_CONFIG_PARTIAL), the same errors and a config. Env overrides are off
 * and secrets are not resolved, so the result only depends on the input.
 *
 * The vendors' registry is linked in (as in every program that loads a config), so each vendor's
 * options are decoded and checked too.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "vendors/vendor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sluice_config_vendors() == NULL || sluice_vendor_find("meta") == NULL)
        abort(); /* the registry must be installed, or vendor keys go unchecked */
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
    /* `config check` loads the same bytes with PARTIAL: always a config (holding NULLs where
     * errors were, which freeing must survive), with exactly the same errors. */
    sluice_config_diag_t pdiag;
    sluice_config_diag_init(&pdiag);
    sluice_config_t *partial = sluice_config_load_string("/fuzz/sluice.yaml", (const char *)data, size,
                                                         SLUICE_CONFIG_NO_ENV | SLUICE_CONFIG_PARTIAL, &pdiag);
    if (partial == NULL || pdiag.count != diag.count)
        abort();
    sluice_config_free(partial);
    sluice_config_diag_dispose(&pdiag);
    sluice_config_free(cfg);
    sluice_config_diag_dispose(&diag);
    return 0;
}
