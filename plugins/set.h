/*
 * The plugin set of one loaded config: every org's mask rules with their plugin instances (one
 * per rule; each .so opened once per set), the JSON glue that turns a jansson value into a
 * plugin input and the plugin's output back into a value, and the per-plugin metrics.
 *
 * Ownership and threading: sluice_plugin_set_load runs on one thread (gateway start-up or
 * reload, `sluicectl config check`); the set is then read-only except for per-thread slots, so
 * sluice_plugin_set_apply runs concurrently on every event-loop thread, each with its own
 * thread index. sluice_plugin_set_free runs once no thread applies any more (it may be another
 * thread than the one that loaded it).
 */
#ifndef SLUICE_PLUGINS_SET_H
#define SLUICE_PLUGINS_SET_H

#include <stddef.h>

#include <jansson.h>

#include "config/config.h"
#include "crypto/keyring.h"
#include "json/numbers.h"

/* Declared, not included: the gateway includes this header next to its own mask outcome names,
 * which the public ABI header's status names would clash with (plugins/loader.h has both). */
typedef struct sluice_plugin_instance sluice_plugin_instance_t;
typedef struct sluice_mask_output sluice_mask_output_t;

typedef struct sluice_plugin_set sluice_plugin_set_t;

enum {
    /* `sluicectl config check` without --secrets: a plugin secret whose environment variable is
     * unset is a warning, and that rule's plugin is checked (ABI, parameters) but not created. */
    SLUICE_PLUGIN_SET_CHECK_ONLY = 1 << 0,
    /* `sluicectl config check`: return the set even when some rules failed (they have no
     * instance; their reasons are in diag), so the caller can still ask what the others need.
     * Never apply such a set. */
    SLUICE_PLUGIN_SET_PARTIAL = 1 << 1,
};

/* Loads the plugin of every mask rule of every org of cfg: a built-in name `x` is
 * `<cfg->plugin_dir>/x.so`, anything else is the (absolute) path from the config. Checks each
 * library, validates each rule's params, creates and selftests each instance. Rules without a
 * plugin or marked invalid by the config loader are skipped (their errors are reported there).
 * Every problem is reported into diag ("file:line:col: orgs[0].data_layer.mask[1]...: reason");
 * on any problem everything done so far is rolled back (instances destroyed, libraries closed)
 * and NULL is returned (unless flags has SLUICE_PLUGIN_SET_PARTIAL). keys (may be NULL) serves host->seal/open and must
 * outlive the set. nthreads (at least 1) is how many thread indexes apply may use. Returns a set owned by the caller;
 * a config without mask rules gives an empty set. */
sluice_plugin_set_t *sluice_plugin_set_load(const sluice_config_t *cfg, const sluice_keyring_t *keys, unsigned nthreads,
                                            int flags, sluice_config_diag_t *diag);

/* Destroys every instance (disposing thread contexts), closes the libraries. NULL allowed. */
void sluice_plugin_set_free(sluice_plugin_set_t *set);

/* The instance of org org_index's mask rule rule_index, or NULL (out of range, or skipped by
 * CHECK_ONLY). */
sluice_plugin_instance_t *sluice_plugin_set_instance(const sluice_plugin_set_t *set, size_t org_index,
                                                     size_t rule_index);
/* 1 when that rule's plugin needs the key ring (sluice_plugin_instance_uses_keys); 0 when it
 * does not, or has no instance. */
int sluice_plugin_set_rule_uses_keys(const sluice_plugin_set_t *set, size_t org_index, size_t rule_index);
/* The descriptor name of that rule's plugin ("partial"), or NULL like above. */
const char *sluice_plugin_set_plugin_name(const sluice_plugin_set_t *set, size_t org_index, size_t rule_index);
size_t sluice_plugin_set_instance_count(const sluice_plugin_set_t *set);
size_t sluice_plugin_set_lib_count(const sluice_plugin_set_t *set);

typedef enum sluice_plugin_outcome {
    SLUICE_PLUGIN_REPLACED = 0,  /* *out holds the new value (a new reference) */
    SLUICE_PLUGIN_UNCHANGED = 1, /* keep the value */
    SLUICE_PLUGIN_REMOVE = 2,    /* the plugin asked for the field to be removed */
    SLUICE_PLUGIN_FAILED = 3,    /* fail closed; *reason says why (never a value) */
} sluice_plugin_outcome_t;

/* The field being masked, for the plugin's input. */
typedef struct sluice_plugin_field {
    const char *org;       /* org id */
    const char *path;      /* concrete path, "properties.items[2].card" */
    const char *rule_path; /* the rule's path */
    const char *event;     /* track: event name; otherwise the type; may be NULL */
    /* strlen(org) and strlen(rule_path) when the caller has them (a config's, measured once), or
     * 0 to have them measured for each call. */
    size_t org_len, rule_path_len;
    /* The texts the event's numbers were sent as (json/numbers.h), or NULL: with it a number goes
     * to the plugin as sent (12345678901234567890, 19.90), and a number the plugin returns is
     * recorded, so that it is written out as the plugin wrote it. */
    sluice_jsonnum_t *nums;
} sluice_plugin_field_t;

/* How deep a plugin's JSON answer may nest (a scalar is at level 1); deeper fails. */
#define SLUICE_PLUGIN_ANSWER_MAX_DEPTH 64

/* A value as the plugin ABI carries it, both ways: a string's bytes (json 0), or one JSON value's
 * text (json 1). Borrowed: the pointer is the caller's (an input) or the set's (an answer). */
typedef struct sluice_plugin_text {
    const char *text;
    size_t len;
    int json;
} sluice_plugin_text_t;

/* The text-level entry, for a tree that is not jansson's (the gateway's jv events); the json_t
 * entries below run the same code on the text they make of their value. value is what the plugin
 * gets, a string's bytes or the compact JSON text json/write.c writes of anything else (numbers
 * as sent; its type is read from its first byte), which the caller makes, so that a plugin sees
 * the same bytes from every tree. On REPLACED *answer is the plugin's answer: a string's bytes (valid UTF-8, within the
 * cap), or with json set one JSON value's text as the plugin wrote it, not yet read (the caller reads it into its tree;
 * what its reader refuses goes to sluice_plugin_set_read_answer). The answer lives in out until the next call with it.
 * The lower layer's checks (cap, UTF-8, statuses) and counters apply. On FAILED *reason is static text and the
 * instance's error counter has been incremented. */
sluice_plugin_outcome_t sluice_plugin_mask_text(sluice_plugin_instance_t *inst, unsigned thread,
                                                sluice_mask_output_t *out, const sluice_plugin_field_t *field,
                                                const sluice_plugin_text_t *value, sluice_plugin_text_t *answer,
                                                const char **reason);

/* sluice_plugin_mask_text with the instance of (org_index, rule_index) and the set's output of
 * that thread (the answer lives there until the thread's next call). A missing instance is FAILED
 * ("plugin not loaded"). */
sluice_plugin_outcome_t sluice_plugin_set_apply_text(sluice_plugin_set_t *set, unsigned thread, size_t org_index,
                                                     size_t rule_index, const sluice_plugin_field_t *field,
                                                     const sluice_plugin_text_t *value, sluice_plugin_text_t *answer,
                                                     const char **reason);

/* A JSON answer of sluice_plugin_set_apply_text read as the json_t entries read one: by the
 * request parser (json/parse.h, SLUICE_PLUGIN_ANSWER_MAX_DEPTH levels), its numbers' texts
 * merged into nums (may be NULL: they are then formatted), and what that parser refuses for
 * anything but depth by jansson, within the same depth. For a caller whose own reader (the
 * request parser's twin) refused the answer. A new reference; NULL when the answer is no JSON
 * value the json_t entries take: then *reason is static text and the rule's error counter has
 * been incremented, as they fail. */
json_t *sluice_plugin_set_read_answer(sluice_plugin_set_t *set, unsigned thread, size_t org_index, size_t rule_index,
                                      const sluice_plugin_text_t *answer, sluice_jsonnum_t *nums, const char **reason);

/* Masks value through inst on thread `thread` with out as the output buffer (that thread's),
 * converting the value to the plugin's input (string contents, or compact JSON text) and its
 * output back (a string, or one JSON value when the plugin set SLUICE_MASK_OUT_JSON; invalid
 * JSON fails): sluice_plugin_mask_text's code on the text json/write.c makes of value, so the
 * lower layer's checks (cap, UTF-8, statuses) apply. Used by the set and by `sluicectl plugin test`. On
 * FAILED *reason is static text and the instance's error counter has been incremented. */
sluice_plugin_outcome_t sluice_plugin_mask_json(sluice_plugin_instance_t *inst, unsigned thread,
                                                sluice_mask_output_t *out, const sluice_plugin_field_t *field,
                                                json_t *value, json_t **result, const char **reason);

/* sluice_plugin_mask_json with the instance of (org_index, rule_index) and the set's output of
 * that thread. A missing instance is FAILED ("plugin not loaded"). */
sluice_plugin_outcome_t sluice_plugin_set_apply(sluice_plugin_set_t *set, unsigned thread, size_t org_index,
                                                size_t rule_index, const sluice_plugin_field_t *field, json_t *value,
                                                json_t **result, const char **reason);

/* sluice_plugin_set_apply for the gateway's data layer, which owns the event: when value is a
 * string nothing else holds (refcount 1) and the plugin answers with a string, value itself is
 * rewritten and *result is value (a new reference), so the caller has nothing to put in place
 * (no new value, no member lookup). Otherwise as sluice_plugin_set_apply. */
sluice_plugin_outcome_t sluice_plugin_set_apply_in_place(sluice_plugin_set_t *set, unsigned thread, size_t org_index,
                                                         size_t rule_index, const sluice_plugin_field_t *field,
                                                         json_t *value, json_t **result, const char **reason);

/* Prometheus text for sluice_plugin_calls_total and sluice_plugin_errors_total with labels
 * plugin, org and rule, written into buf[0..cap) like snprintf: returns the length the whole
 * text needs (>= cap means it was cut). Nothing when the set has no instance. With a tally
 * attached, each series is the tally's (every set's counts under those labels). Any thread. */
size_t sluice_plugin_set_metrics(const sluice_plugin_set_t *set, char *buf, size_t cap);

/* Plugin counters that outlive a set: a reload builds new instances, whose own counters start
 * at 0, and Prometheus counters must not go back without a restart. A tally sums, per series
 * (plugin, org, rule), what the sets attached to it have counted: the sets still alive (an old
 * runtime finishing its requests counts on) and the ones already freed. Owned by the gateway;
 * must outlive every set attached to it. Attaching and freeing sets and rendering take its
 * mutex; masking never does. */
typedef struct sluice_plugin_tally sluice_plugin_tally_t;

sluice_plugin_tally_t *sluice_plugin_tally_create(void); /* NULL when out of memory */
void sluice_plugin_tally_destroy(sluice_plugin_tally_t *t);

/* Counts set's instances under t from now on (0; -1 when out of memory: set keeps its own
 * counts only). Once per set; sluice_plugin_set_free detaches it. The thread that loaded set. */
int sluice_plugin_set_attach_tally(sluice_plugin_set_t *set, sluice_plugin_tally_t *t);

#endif
