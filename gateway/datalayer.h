/*
 * The org data layer (data flow step 7): consent policy, `drop`, `hash_fields` and `mask`,
 * applied to one validated event in place, in that order.
 *
 * What was done is recorded by rule path, never with values: privacy.hashed / masked / dropped.
 * Hash variants other vendors need (VENDORS.md) are computed here too and returned under
 * `hashes`, keyed by the concrete path ("traits.phone", "properties.items[1].email").
 *
 * Runs on the event-loop thread of the request. The rules are read-only; the masker's
 * per-thread state is the caller's.
 */
#ifndef SLUICE_GATEWAY_DATALAYER_H
#define SLUICE_GATEWAY_DATALAYER_H

#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "gateway/normalize.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"

/* What a masker did with one value. */
typedef enum sluice_mask_outcome {
    SLUICE_MASK_REPLACED = 0,  /* the masker wrote the new value into the parent */
    SLUICE_MASK_UNCHANGED = 1, /* the value is already safe as it is */
    SLUICE_MASK_REMOVED = 2,   /* the masker asked for the field to be removed (the data layer removes it) */
    SLUICE_MASK_FAILED = 3,    /* error: the data layer removes the field or rejects the event (rule's on_error) */
} sluice_mask_outcome_t;

/* The plugin seam: called for each value a mask rule reaches. It must either replace the value
 * in parent (json_object_set_new / json_array_set_new, or rewrite a string value nothing else
 * holds) and return REPLACED, or return one of the other outcomes without touching parent.
 * event_name is the event's `event` for a track event, else its `type` (NULL when neither is a
 * string), found once for all the values of one event. nums is sluice_datalayer_apply's: the
 * texts the event's numbers were sent as. */
typedef struct sluice_masker {
    sluice_mask_outcome_t (*mask)(void *ud, const sluice_org_t *org, size_t rule_index, json_t *event,
                                  const char *event_name, json_t *parent, const char *key, size_t index, json_t *value,
                                  const char *concrete_path, sluice_jsonnum_t *nums);
    void *ud;
    /* The same for an event held as jv values in arena a (sluice_datalayer_apply_jv), on the same
     * checks and with the same outcomes: a new value is made in a and set into parent
     * (sluice_jv_object_setn with key[0..key_len), or sluice_jv_array_set); a number's text is the
     * tree's own. NULL: every value a rule reaches on jv fails (removed, or the event rejected). */
    sluice_mask_outcome_t (*mask_jv)(void *ud, const sluice_org_t *org, size_t rule_index, sluice_jv_t *event,
                                     const char *event_name, sluice_json_arena_t *a, sluice_jv_t *parent,
                                     const char *key, size_t key_len, size_t index, sluice_jv_t *value,
                                     const char *concrete_path);
} sluice_masker_t;

/* Counters the caller aggregates into metrics. */
typedef struct sluice_dl_stats {
    uint64_t hashed[SLUICE_NORM_RAW + 1]; /* values hashed per normaliser */
    uint64_t hash_failed;                 /* values that could not be normalised (removed) */
    uint64_t masked;
    uint64_t mask_failed;
    uint64_t dropped;
    uint64_t consent_dropped_events;
    uint64_t consent_stripped_events;
} sluice_dl_stats_t;

typedef struct sluice_dl_result {
    json_t *privacy;       /* {"hashed":[...],"masked":[...],"dropped":[...]} new reference */
    json_t *hashes;        /* {concrete path: {variant: hex}} new reference, or NULL */
    int drop_event;        /* consent policy "drop": accept but do not queue */
    int rejected;          /* a mask rule with on_error: reject failed */
    char reject_path[128]; /* its rule path (no value) */
} sluice_dl_result_t;

/* What consent policy `strip` removes besides every hashed and masked rule path, NULL-terminated:
 * the person's ids, traits, address and agent, the ids vendors and ad clicks gave them. The
 * privacy map (tools/datamap.c) lists it as it is. Static, read-only. */
extern const char *const sluice_datalayer_identifying[];

/* variants: bit (1 << sluice_hash_variant_t) for each extra variant the org's integrations read.
 * masker may be NULL only when the org has no mask rules; with rules and no masker every
 * masked field is removed (fail closed). nums (may be NULL) holds the texts event's numbers were
 * sent as (json/numbers.h): a masking plugin gets a number as sent, and a number it returns is
 * recorded there, so that the envelope holds it as the plugin wrote it. Returns 0 (see res for
 * drop/reject), -1 on out of memory. */
int sluice_datalayer_apply(const sluice_org_t *org, unsigned variants, const sluice_masker_t *masker, json_t *event,
                           sluice_jsonnum_t *nums, sluice_dl_result_t *res, sluice_dl_stats_t *stats);

void sluice_dl_result_dispose(sluice_dl_result_t *res);

/* sluice_dl_result_t's twin for a jv event (json/jv.h): privacy and hashes are made in the
 * request's arena, so there is nothing to dispose but the arena. */
typedef struct sluice_dl_result_jv {
    sluice_jv_t *privacy;  /* {"hashed":[...],"masked":[...],"dropped":[...]}, as the jansson one */
    sluice_jv_t *hashes;   /* {concrete path: {variant: hex}}, or NULL */
    int drop_event;        /* consent policy "drop": accept but do not queue */
    int rejected;          /* a mask rule with on_error: reject failed */
    char reject_path[128]; /* its rule path (no value) */
} sluice_dl_result_jv_t;

/* sluice_datalayer_apply for an event held as jv values in arena a (issue 17 step 2, part four):
 * consent policy, drop, hash_fields and mask from the same rules as the jansson function
 * (gateway/datalayer_rules.h over config/path.c's walks), the same values removed, hashed or
 * masked, the same privacy record, hashes, rejection and counters; the numbers' texts are the
 * tree's own. masker's mask_jv is called where the jansson function calls mask (masker may be NULL
 * only when the org has no mask rules; with rules and no masker, or no mask_jv, every masked field
 * is removed). Returns 0 (see res for drop/reject), -1 on out of memory (the event may be partly
 * done, as with the jansson function). The request path's. Same thread as the arena. */
int sluice_datalayer_apply_jv(const sluice_org_t *org, unsigned variants, const sluice_masker_t *masker,
                              sluice_jv_t *event, sluice_json_arena_t *a, sluice_dl_result_jv_t *res,
                              sluice_dl_stats_t *stats);

/* The form identity keeps a userId in (its links in Redis, the userId it stamps on the visitor's
 * later events), so that Redis never holds a user id the org hashes: with a hash_fields rule on
 * `userId` the hash the data layer will write (normalised the same way), into out (64 hex digits
 * and a NUL), returning 1; 0 when the id is kept as it is (no such rule, or already a hash in
 * lowercase); -1 when the rule cannot hash it, or a mask or drop rule covers userId (the data
 * layer removes or masks it, and a mask plugin may not be repeatable: nothing to link). Any
 * thread. */
int sluice_datalayer_user_form(const sluice_org_t *org, const char *uid, char out[65]);

/* 1 when a mask, drop or hash_fields rule of org reaches context.clickIds.<name> (a rule on the
 * click id itself or on an object holding it), so identity keeps no such click id in Redis: the
 * data layer removes or rewrites it in every event, and a restored one would be no more than the
 * org lets through. 0 when no rule does. Any thread. */
int sluice_datalayer_click_covered(const sluice_org_t *org, const char *name);

/* The variant bits an org needs, from its enabled integrations. */
unsigned sluice_datalayer_variants(const sluice_org_t *org);

#endif
