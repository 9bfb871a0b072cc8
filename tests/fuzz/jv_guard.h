/*
 * The org the PII guard's differential targets (jv_ids, jv_piiguard) build their guards for:
 * acme, traits.email hashed by the data layer, the drops and pii_guard given, loaded from YAML
 * through the config loader as the gateway loads it. Included by the fuzz targets only; runs on
 * the fuzzer's thread, once at start.
 */
#ifndef SLUICE_FUZZ_JV_GUARD_H
#define SLUICE_FUZZ_JV_GUARD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "gateway/piiguard.h"

/* A guard for drop (a YAML list's items) and guard (pii_guard's YAML value); *cfg holds its org
 * (kept for the program's life). Aborts when either is refused. */
static inline sluice_piiguard_t *jv_guard_create(const char *drop, const char *guard, sluice_config_t **cfg)
{
    static const char fmt[] = "version: 1\n"
                              "server: {http: {listen: \"127.0.0.1:0\"}}\n"
                              "kafka: {brokers: \"127.0.0.1:9092\"}\n"
                              "orgs:\n"
                              "  - id: acme\n"
                              "    sources:\n"
                              "      - {id: web, write_key_env: ACME_WEB_WRITE_KEY}\n"
                              "    data_layer:\n"
                              "      hash_fields:\n"
                              "        - {path: traits.email, normalize: email}\n"
                              "      drop: [%s]\n"
                              "      pii_guard: %s\n";
    char yaml[sizeof(fmt) + 256];
    snprintf(yaml, sizeof(yaml), fmt, drop, guard);
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    *cfg = sluice_config_load_string("guard.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    sluice_config_diag_dispose(&d);
    sluice_piiguard_t *g = *cfg != NULL ? sluice_piiguard_create(&(*cfg)->orgs[0]) : NULL;
    if (g == NULL)
        abort();
    return g;
}

#endif
