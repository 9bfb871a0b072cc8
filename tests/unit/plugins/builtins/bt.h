/* Helpers shared by the built-in plugin tests: load build/plugins/<name>.so through the real
 * loader with a rule's params given as YAML text, and mask JSON values through the JSON glue
 * the gateway uses, getting a short text back to compare:
 *   the output's compact JSON text       ("\"**** 1111\"", "null")
 *   "=unchanged" / "=remove"             (the plugin kept or removed the field)
 *   "!<reason>"                          (failed closed, with the host's reason)
 * One thread (except where a test passes its own thread index); errors fail the test. */
#ifndef SLUICE_TESTS_UNIT_PLUGINS_BUILTINS_BT_H
#define SLUICE_TESTS_UNIT_PLUGINS_BUILTINS_BT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/yaml.h"
#include "plugins/loader.h"
#include "plugins/set.h"

typedef struct bt {
    sluice_plugin_lib_t *lib;
    sluice_plugin_instance_t *inst;
    sluice_yaml_doc_t *doc;
    sluice_mask_output_t out[2]; /* one per thread index */
    sluice_config_diag_t diag;
    char errors[4096]; /* every diag message, one per line */
} bt_t;

/* build/plugins/<name>.so */
static inline const char *bt_path(const char *name)
{
    static char buf[1024];
    const char *b = getenv("SLUICE_BUILD_DIR");
    snprintf(buf, sizeof(buf), "%s/plugins/%s.so", b ? b : ".", name);
    return buf;
}

/* Opens plugin `name` and creates an instance for org "acme", rule "properties.x", with params
 * (YAML text of a map, or NULL) and keys (may be NULL). Returns 0, or -1 with every message in
 * b->errors. Close with bt_close either way. */
static inline int bt_open(bt_t *b, const char *name, const char *params, const sluice_keyring_t *keys)
{
    memset(b, 0, sizeof(*b));
    sluice_config_diag_init(&b->diag);
    sluice_err_t err = {{0}};
    b->lib = sluice_plugin_lib_open(bt_path(name), &err);
    if (b->lib == NULL) {
        snprintf(b->errors, sizeof(b->errors), "%s", err.msg);
        return -1;
    }
    if (params != NULL) {
        char msg[256];
        b->doc = sluice_yaml_load_string("rule.yaml", params, strlen(params), msg, sizeof(msg));
        if (b->doc == NULL) {
            snprintf(b->errors, sizeof(b->errors), "%s", msg);
            return -1;
        }
    }
    sluice_yaml_pos_t pos = {"rule.yaml", 1, 1};
    sluice_plugin_instance_opts_t o = {.params = b->doc ? b->doc->root : NULL,
                                       .pos = &pos,
                                       .label = "orgs[0].data_layer.mask[0]",
                                       .org = "acme",
                                       .rule_path = "properties.x",
                                       .keys = keys,
                                       .nthreads = 2};
    int rc = sluice_plugin_instance_create(b->lib, &o, &b->inst, &b->diag);
    size_t len = 0;
    for (size_t i = 0; i < b->diag.count && len < sizeof(b->errors); i++)
        len += (size_t)snprintf(b->errors + len, sizeof(b->errors) - len, "%s\n", b->diag.msgs[i]);
    if (rc != 0)
        return -1;
    if (sluice_plugin_output_init(&b->out[0], 0) != 0 || sluice_plugin_output_init(&b->out[1], 0) != 0)
        return -1;
    return 0;
}

static inline void bt_close(bt_t *b)
{
    sluice_plugin_instance_destroy(b->inst);
    sluice_plugin_lib_close(b->lib);
    sluice_yaml_doc_free(b->doc);
    sluice_plugin_output_dispose(&b->out[0]);
    sluice_plugin_output_dispose(&b->out[1]);
    sluice_config_diag_dispose(&b->diag);
    memset(b, 0, sizeof(*b));
}

/* Masks the JSON value `json` (text) as field `path` of rule `rule` in org `org` on thread
 * index `thread`. Returns the result text (see the top of this file) in a malloc'd string. */
static inline char *bt_mask_at(bt_t *b, unsigned thread, const char *org, const char *rule, const char *path,
                               const char *json)
{
    json_error_t je;
    json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (v == NULL) {
        fprintf(stderr, "bad test JSON %s: %s\n", json, je.text);
        abort();
    }
    sluice_plugin_field_t f = {.org = org, .path = path, .rule_path = rule, .event = "Order Completed"};
    json_t *res = NULL;
    const char *why = NULL;
    sluice_plugin_outcome_t o = sluice_plugin_mask_json(b->inst, thread, &b->out[thread], &f, v, &res, &why);
    json_decref(v);
    char *text = NULL;
    switch (o) {
    case SLUICE_PLUGIN_REPLACED:
        text = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(res);
        break;
    case SLUICE_PLUGIN_UNCHANGED: text = strdup("=unchanged"); break;
    case SLUICE_PLUGIN_REMOVE: text = strdup("=remove"); break;
    case SLUICE_PLUGIN_FAILED: {
        size_t n = strlen(why ? why : "?") + 2;
        text = malloc(n);
        if (text != NULL)
            snprintf(text, n, "!%s", why ? why : "?");
        break;
    }
    }
    if (text == NULL)
        abort();
    return text;
}

/* bt_mask_at on thread 0, org "acme", rule and path "properties.x". The result stays valid
 * until the 8th next call (a small ring of buffers, so a test can compare two results). */
static inline const char *bt_mask(bt_t *b, const char *json)
{
    static char *ring[8];
    static unsigned next;
    char **slot = &ring[next++ % 8];
    free(*slot);
    *slot = bt_mask_at(b, 0, "acme", "properties.x", "properties.x", json);
    return *slot;
}

/* A JSON string literal of s (static buffer, for values with quotes or long ones). */
static inline const char *bt_jstr(const char *s)
{
    static char *buf;
    free(buf);
    json_t *j = json_string(s);
    buf = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    return buf;
}

#endif
