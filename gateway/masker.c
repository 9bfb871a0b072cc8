/*
 * Gateway side of masking plugins: for each value a mask rule reaches, find the rule's plugin
 * instance in the runtime's set, run it on this thread's slot, and put the result into the
 * event. Fail closed: any failure returns SLUICE_MASK_FAILED, so the data layer removes the
 * field or rejects the event (the rule's on_error), and a warning names plugin, org and path,
 * never the value. Runs on the event-loop thread whose index the masker carries.
 */
#include "gateway/masker.h"

#include <stdlib.h>
#include <string.h>

#include <stdint.h>
#include <stdio.h>

#include "common/log.h"
#include "common/time.h"
#include "json/jv_json.h"
#include "json/numbers.h"
#include "json/write.h"
#include "pii/scan.h"

typedef struct thread_masker {
    sluice_masker_t base;
    sluice_plugin_set_t *set;
    const sluice_config_t *cfg;
    unsigned thread;
    sluice_scan_t scan;     /* this thread's: values a plugin left as they were */
    sluice_jsonnum_t *nums; /* this thread's, for on_mask_jv: made once, emptied after each value */
    uint64_t slow_logged_us;
} thread_masker_t;

/* A mask call this long is logged (mask.slow): a lookup over the network, a lock. */
#define SLOW_MASK_US 100000

/* FNV-1a over a string's length and bytes. */
static uint64_t fingerprint(const json_t *s)
{
    const unsigned char *p = (const unsigned char *)json_string_value(s);
    size_t n = json_string_length(s);
    uint64_t h = 14695981039346656037ull ^ n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* What personal data a value that a plugin left as it was holds, as words for the log ("a card
 * number"), or NULL when it holds none. A mask rule is the operator's word that the field leaves
 * masked, and the PII guard does not look at what a rule covers: a plugin answering UNCHANGED
 * (the SDK's example does for every non-string, so a card sent as a number) or its input as its
 * answer sent the card or e-mail to Kafka as sent, listed as masked. Only values handed back as
 * they were are judged: a plugin's own output may look like personal data by design (fpe keeps a
 * card's shape). */
static const char *left_as_it_was(thread_masker_t *m, const sluice_org_t *org, const json_t *value,
                                  const sluice_jsonnum_t *nums)
{
    char num[64];
    const char *text = NULL;
    size_t n = 0;
    /* An object or a list (a payment object holding the card) is judged by what it holds; the
     * parser's depth limit bounds the recursion. */
    if (json_is_object(value)) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)value, k, v) {
            const char *kept = left_as_it_was(m, org, v, nums);
            if (kept != NULL)
                return kept;
        }
        return NULL;
    }
    if (json_is_array(value)) {
        size_t i;
        const json_t *v;
        json_array_foreach(value, i, v) {
            const char *kept = left_as_it_was(m, org, v, nums);
            if (kept != NULL)
                return kept;
        }
        return NULL;
    }
    if (json_is_string(value)) {
        text = json_string_value(value);
        n = json_string_length(value);
    } else if (json_is_number(value)) {
        text = sluice_jsonnum_find(nums, value, &n);
        if (text == NULL) {
            int len = json_is_integer(value)
                          ? snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(value))
                          : snprintf(num, sizeof(num), "%.17g", json_real_value(value));
            if (len <= 0 || (size_t)len >= sizeof(num))
                return NULL;
            text = num;
            n = (size_t)len;
        }
    }
    if (text == NULL || !sluice_scan_may_match(text, n))
        return NULL;
    unsigned kinds =
        SLUICE_SCAN_EMAIL | SLUICE_SCAN_CARD | SLUICE_SCAN_PHONE | SLUICE_SCAN_IBAN | org->pii_guard.national_ids;
    m->scan.count = 0;
    if (sluice_scan(&m->scan, text, n, kinds) != 0)
        return "data it could not be scanned for"; /* out of memory: fail closed all the same */
    if (m->scan.count == 0)
        return NULL;
    switch (m->scan.matches[0].kind) {
    case SLUICE_SCAN_EMAIL: return "an e-mail address";
    case SLUICE_SCAN_CARD: return "a card number";
    case SLUICE_SCAN_PHONE: return "a phone number";
    case SLUICE_SCAN_IBAN: return "an IBAN";
    default: return "a national id number";
    }
}

/* 1 when one of a and b is a string whose bytes are the other's compact JSON text: the JSON text
 * of a number or an object is what the plugin was handed as its input (and what it may write as
 * its output), so a number's digits answered as a string, or a string's contents answered as
 * JSON, is the input handed back as it was, though the two are not equal as JSON values. Out of
 * memory counts as an echo, so that the value is judged (fail closed). */
static int echoes_text(const json_t *a, const json_t *b, const sluice_jsonnum_t *nums)
{
    if (json_is_string(a) == json_is_string(b))
        return 0;
    const json_t *str = json_is_string(a) ? a : b, *other = json_is_string(a) ? b : a;
    size_t n = 0;
    char *text = sluice_json_encode(other, nums, &n);
    if (text == NULL)
        return 1;
    int same = n == json_string_length(str) && memcmp(text, json_string_value(str), n) == 0;
    free(text);
    return same;
}

struct sluice_gw_maskers {
    thread_masker_t *threads;
    unsigned nthreads;
};

/* The warning for a value the field is removed for (or the event rejected): plugin, org and
 * paths, never the value. */
static void say_failed(thread_masker_t *m, const sluice_org_t *org, size_t org_index, size_t rule_index,
                       const char *concrete_path, const char *reason)
{
    const sluice_mask_rule_t *rule = &org->mask_rules[rule_index];
    const char *name = sluice_plugin_set_plugin_name(m->set, org_index, rule_index);
    /* Cut per org and plugin: a client of one org sending values a plugin fails on must not hide
     * the same failures of another org. */
    sluice_log_for(SLUICE_LOG_WARN, "mask.failed", org->id, name ? name : rule->plugin,
                   "plugin %s failed on org %s path %s (rule %s): %s; the field is %s", name ? name : rule->plugin,
                   org->id, concrete_path, rule->path.text, reason,
                   rule->on_error == SLUICE_MASK_ON_ERROR_REJECT ? "removed and the event rejected" : "removed");
}

static sluice_mask_outcome_t on_mask(void *ud, const sluice_org_t *org, size_t rule_index, json_t *event,
                                     const char *event_name, json_t *parent, const char *key, size_t index,
                                     json_t *value, const char *concrete_path, sluice_jsonnum_t *nums)
{
    (void)event;
    thread_masker_t *m = ud;
    /* The data layer hands the org by pointer into this runtime's config. */
    if (org < m->cfg->orgs || org >= m->cfg->orgs + m->cfg->org_count || rule_index >= org->mask_rule_count)
        return SLUICE_MASK_FAILED;
    size_t org_index = (size_t)(org - m->cfg->orgs);
    const sluice_mask_rule_t *rule = &org->mask_rules[rule_index];
    sluice_plugin_field_t field = {
        .org = org->id, .path = concrete_path, .rule_path = rule->path.text, .event = event_name, .nums = nums};
    json_t *nv = NULL;
    const char *reason = "unknown", *kept = NULL;
    char why[128];
    /* A string answer may be written over the value in place: its fingerprint before, to tell an
     * echo afterwards (only for strings that may hold personal data at all). */
    uint64_t before = 0;
    char copy[64]; /* short strings (most) are kept as they were and compared; longer ones hashed */
    size_t before_len = json_is_string(value) ? json_string_length(value) : 0;
    int watch = json_is_string(value) && sluice_scan_may_match(json_string_value(value), before_len);
    if (watch && before_len <= sizeof(copy))
        memcpy(copy, json_string_value(value), before_len);
    else if (watch)
        before = fingerprint(value);
    uint64_t started = sluice_mono_us();
    sluice_plugin_outcome_t out =
        sluice_plugin_set_apply_in_place(m->set, m->thread, org_index, rule_index, &field, value, &nv, &reason);
    uint64_t took = sluice_mono_us() - started;
    if (took >= SLOW_MASK_US && started - m->slow_logged_us >= 10000000) {
        /* Plugins run on the event-loop thread: while one waits, no other request of any org on
         * this thread is served. Said once in 10 s per thread. */
        m->slow_logged_us = started;
        const char *pn = sluice_plugin_set_plugin_name(m->set, org_index, rule_index);
        sluice_log_warn("mask.slow",
                        "plugin %s held the event-loop thread for %llu ms on org %s path %s (rule %s): every "
                        "request on this thread waited; a plugin must not block",
                        pn ? pn : rule->plugin, (unsigned long long)(took / 1000), org->id, concrete_path,
                        rule->path.text);
    }
    int same = out == SLUICE_PLUGIN_UNCHANGED ||
               (out == SLUICE_PLUGIN_REPLACED &&
                (nv != value ? json_equal(nv, value) || echoes_text(nv, value, nums)
                             : watch && json_is_string(value) && json_string_length(value) == before_len &&
                                   (before_len <= sizeof(copy) ? memcmp(copy, json_string_value(value), before_len) == 0
                                                               : fingerprint(value) == before)));
    if (same && (kept = left_as_it_was(m, org, value, nums)) != NULL) {
        if (out == SLUICE_PLUGIN_REPLACED)
            json_decref(nv);
        snprintf(why, sizeof(why), "it left a value holding personal data (%s) as it was", kept);
        reason = why;
        out = SLUICE_PLUGIN_FAILED;
    }
    switch (out) {
    case SLUICE_PLUGIN_REPLACED: {
        if (nv == value) { /* rewritten where it is */
            json_decref(nv);
            return SLUICE_MASK_REPLACED;
        }
        /* key is one the parent already holds (the value was reached through it): valid UTF-8. */
        int rc = key != NULL ? json_object_set_new_nocheck(parent, key, nv) : json_array_set_new(parent, index, nv);
        if (rc == 0)
            return SLUICE_MASK_REPLACED;
        reason = "out of memory";
        break;
    }
    case SLUICE_PLUGIN_UNCHANGED: return SLUICE_MASK_UNCHANGED;
    case SLUICE_PLUGIN_REMOVE: return SLUICE_MASK_REMOVED;
    case SLUICE_PLUGIN_FAILED: break;
    }
    say_failed(m, org, org_index, rule_index, concrete_path, reason);
    return SLUICE_MASK_FAILED;
}

/* The seam on jv (issue 17 step 2): the value is handed to on_mask as the jansson value and
 * numbers' texts json/jv_json.c makes of it (the plugin gets the text sluice_jv_write writes: a
 * number as sent), so that every check above is the one both trees run; a new answer is written
 * with its numbers' texts and read back into the request's arena. */
static sluice_mask_outcome_t on_mask_jv(void *ud, const sluice_org_t *org, size_t rule_index, sluice_jv_t *event,
                                        const char *event_name, sluice_json_arena_t *a, sluice_jv_t *parent,
                                        const char *key, size_t key_len, size_t index, sluice_jv_t *value,
                                        const char *concrete_path)
{
    (void)event;
    thread_masker_t *m = ud;
    if (org < m->cfg->orgs || org >= m->cfg->orgs + m->cfg->org_count || rule_index >= org->mask_rule_count)
        return SLUICE_MASK_FAILED;
    if (m->nums == NULL)
        m->nums = sluice_jsonnum_new();
    sluice_jsonnum_t *nums = m->nums;
    json_t *holder = json_array(), *in = nums != NULL ? sluice_jv_to_json(value, nums) : NULL;
    sluice_mask_outcome_t out = SLUICE_MASK_FAILED;
    const char *reason = "out of memory";
    if (holder != NULL && in != NULL && json_array_append(holder, in) == 0) {
        /* held by holder alone, as the event holds a value: a string answer is written in place */
        json_decref(in);
        out = on_mask(ud, org, rule_index, NULL, event_name, holder, NULL, 0, in, concrete_path, nums);
        reason = NULL;
    } else {
        json_decref(in);
    }
    if (out == SLUICE_MASK_REPLACED) {
        const json_t *answer = json_array_get(holder, 0);
        size_t n = json_is_string(answer) ? json_string_length(answer) : 0;
        sluice_jv_t *nv = NULL;
        if (json_is_string(answer) && memchr(json_string_value(answer), '\0', n) == NULL) {
            nv = sluice_jv_string(a, json_string_value(answer), n); /* most answers: no text to read back */
        } else {
            /* Anything else as the writer gives it, numbers as the plugin wrote them, read back. */
            char *text = sluice_json_encode(answer, nums, &n);
            char *kept = text != NULL ? sluice_json_arena_alloc(a, n + 1) : NULL; /* the tree points into it */
            if (kept != NULL) {
                memcpy(kept, text, n + 1);
                sluice_json_error_t err;
                nv = sluice_jv_parse(a, kept, n, SIZE_MAX, n + 1, 0, NULL, &err);
            }
            free(text);
        }
        int rc = nv == NULL    ? -1
                 : key != NULL ? sluice_jv_object_setn(a, parent, key, key_len, nv)
                               : sluice_jv_array_set(parent, index, nv);
        if (rc != 0) {
            out = SLUICE_MASK_FAILED;
            reason = "out of memory";
        }
    }
    json_decref(holder);
    sluice_jsonnum_clear(nums);
    if (out == SLUICE_MASK_FAILED && reason != NULL)
        say_failed(m, org, (size_t)(org - m->cfg->orgs), rule_index, concrete_path, reason);
    return out;
}

sluice_gw_maskers_t *sluice_gw_maskers_create(sluice_plugin_set_t *set, const sluice_config_t *cfg, unsigned nthreads)
{
    sluice_gw_maskers_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->threads = calloc(nthreads ? nthreads : 1, sizeof(*m->threads));
    if (m->threads == NULL) {
        free(m);
        return NULL;
    }
    m->nthreads = nthreads;
    for (unsigned t = 0; t < nthreads; t++) {
        thread_masker_t *tm = &m->threads[t];
        *tm = (thread_masker_t){
            .base = {.mask = on_mask, .ud = tm, .mask_jv = on_mask_jv}, .set = set, .cfg = cfg, .thread = t};
    }
    return m;
}

const sluice_masker_t *sluice_gw_maskers_get(const sluice_gw_maskers_t *m, unsigned thread)
{
    if (m == NULL || thread >= m->nthreads)
        return NULL;
    return &m->threads[thread].base;
}

void sluice_gw_maskers_free(sluice_gw_maskers_t *m)
{
    if (m == NULL)
        return;
    for (unsigned t = 0; t < m->nthreads; t++) {
        sluice_scan_dispose(&m->threads[t].scan);
        sluice_jsonnum_free(m->threads[t].nums);
    }
    free(m->threads);
    free(m);
}
