/*
 * A masking plugin's declared config map, checked by the host: the sanity of the map itself
 * (at load, before any rule uses it), and a rule's `params` YAML node validated against it,
 * giving the typed values the plugin reads through the host's config getters during `create`.
 *
 * This file defines the host's side of the opaque `sluice_mask_config_t` of the public header.
 * Main thread (config load, `sluicectl plugin test`) only.
 */
#ifndef SLUICE_PLUGINS_PARAMS_H
#define SLUICE_PLUGINS_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "config/config.h"
#include "sluice/mask_plugin.h"

/* Longest config map the host accepts (also what stops a scan of an unterminated map). */
#define SLUICE_PLUGIN_MAP_MAX 64

/* Checks a plugin's config map: names [a-z0-9_] 1..48 chars, unique, not ending in "_env";
 * types and flags known; SECRET only on STRING entries without a default; every default parses
 * as its type. map may be NULL (no parameters). Returns the entry count, or -1 with the first
 * problem in err ("config map entry 'x': ..."). */
int sluice_plugin_map_check(const sluice_mask_config_entry_t *map, sluice_err_t *err);

enum {
    /* A secret's environment variable that is unset or empty is only a warning and the result
     * is NULL with *skipped set (`sluicectl config check` without --secrets). */
    SLUICE_PLUGIN_PARAMS_CHECK_ONLY = 1 << 0,
};

/* Validates params (a YAML map or NULL) against the plugin's map (already checked): unknown
 * keys (with a did-you-mean), wrong types, missing required keys, secrets written inline, and
 * secrets' environment variables, each reported into diag as "file:line:col: <label>.params.x:
 * ..." (pos is where problems without a node point: the rule). plugin names the plugin in
 * messages. Returns the values (caller frees with sluice_plugin_params_free), or NULL when a
 * problem was reported, or NULL with *skipped = 1 when CHECK_ONLY found an unset secret (a
 * warning was added). Reads the environment: not thread-safe against setenv. */
sluice_mask_config_t *sluice_plugin_params_build(const sluice_mask_config_entry_t *map, const char *plugin,
                                                 const sluice_yaml_node_t *params, const sluice_yaml_pos_t *pos,
                                                 const char *label, int flags, sluice_config_diag_t *diag,
                                                 int *skipped);

/* Wipes secret values and frees. NULL allowed. */
void sluice_plugin_params_free(sluice_mask_config_t *c);

/* The typed getters of the host table (see sluice_mask_host_t for their contract). */
int sluice_plugin_params_string(const sluice_mask_config_t *c, const char *name, const char **out, size_t *len);
int sluice_plugin_params_int(const sluice_mask_config_t *c, const char *name, int64_t *out);
int sluice_plugin_params_bool(const sluice_mask_config_t *c, const char *name, int *out);
int sluice_plugin_params_double(const sluice_mask_config_t *c, const char *name, double *out);
int sluice_plugin_params_list_count(const sluice_mask_config_t *c, const char *name, size_t *count);
int sluice_plugin_params_list_item(const sluice_mask_config_t *c, const char *name, size_t i, const char **out,
                                   size_t *len);
int sluice_plugin_params_is_set(const sluice_mask_config_t *c, const char *name);

/* "a string", "an integer", ... for messages. */
const char *sluice_plugin_conf_type_name(uint32_t type);

#endif
