/*
 * Gateway side of masking plugins: for each value a mask rule reaches, find the rule's plugin
 * instance in the runtime's set, run it on this thread's slot, and put the result into the
 * event. Fail closed: any failure returns SLUICE_MASK_FAILED, so the data layer removes the
 * field or rejects the event (the rule's on_error), and a warning names plugin, org and path,
 * never the value. An event held as jansson values goes through the set's json_t entry; one held
 * as jv values (issue 17) through its text entry, the answer made in the request's arena, with no
 * jansson value on the way; what an answer is judged by is gateway/masker_rules.h, once for both.
 * Runs on the event-loop thread whose index the masker carries.
 */
#include "gateway/masker.h"

#include <stdlib.h>
#include <string.h>

#include <stdint.h>
#include <stdio.h>

#include "common/log.h"
#include "common/time.h"
#include "json/jv.h"
#include "json/numbers.h"
#include "json/write.h"
#include "pii/scan.h"

typedef struct thread_masker {
    sluice_masker_t base;
    sluice_plugin_set_t *set;
    const sluice_config_t *cfg;
    const size_t *org_id_len; /* strlen of each cfg org's id (the maskers' own: read-only) */
    unsigned thread;
    sluice_scan_t scan;     /* this thread's: values a plugin left as they were */
    sluice_jsonw_t text;    /* this thread's, for a jv value's text: kept, emptied before each value */
    sluice_jsonnum_t *nums; /* this thread's, for the rare jv answer read through jansson: made once */
    uint64_t slow_logged_us;
} thread_masker_t;

/* A mask call this long is logged (mask.slow): a lookup over the network, a lock. */
#define SLOW_MASK_US 100000

/* FNV-1a over a string's length and bytes. */
static uint64_t fingerprint(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    uint64_t h = 14695981039346656037ull ^ n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* What personal data text[0..n) (a string's bytes or a number's text) holds, as words for the
 * log, or NULL: left_as_it_was's judgement of one scalar (gateway/masker_rules.h). */
static const char *personal_data(thread_masker_t *m, const sluice_org_t *org, const char *text, size_t n)
{
    if (!sluice_scan_may_match(text, n))
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

/* The warning for a mask call that began at `started` and took `took` µs, SLOW_MASK_US or more:
 * plugins run on the event-loop thread, and while one waits no other request of any org on this
 * thread is served. Said once in 10 s per thread (the caller checks both). */
static void say_slow(thread_masker_t *m, const sluice_org_t *org, size_t org_index, size_t rule_index,
                     const char *concrete_path, uint64_t started, uint64_t took)
{
    const sluice_mask_rule_t *rule = &org->mask_rules[rule_index];
    m->slow_logged_us = started;
    const char *pn = sluice_plugin_set_plugin_name(m->set, org_index, rule_index);
    sluice_log_warn("mask.slow",
                    "plugin %s held the event-loop thread for %llu ms on org %s path %s (rule %s): every "
                    "request on this thread waited; a plugin must not block",
                    pn ? pn : rule->plugin, (unsigned long long)(took / 1000), org->id, concrete_path, rule->path.text);
}

/* ------------------------------------------------------------------ jansson's tree */

/* Room for a number's text formatted when the numbers' table has none. */
#define NUMBER_TEXT_MAX 64

/* A number's text: as sent (nums), or formatted; NULL for another type. */
static const char *number_text_json(const json_t *value, const sluice_jsonnum_t *nums, char *num, size_t *n)
{
    if (!json_is_number(value))
        return NULL;
    const char *text = sluice_jsonnum_find(nums, value, n);
    if (text == NULL) {
        int len = json_is_integer(value)
                      ? snprintf(num, NUMBER_TEXT_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(value))
                      : snprintf(num, NUMBER_TEXT_MAX, "%.17g", json_real_value(value));
        if (len <= 0 || (size_t)len >= NUMBER_TEXT_MAX)
            return NULL;
        text = num;
        *n = (size_t)len;
    }
    return text;
}

#define T_CAT2(a, b)   a##_##b
#define T_CAT(a, b)    T_CAT2(a, b)
#define T(name)        T_CAT(name, json)
#define T_VALUE        json_t
#define T_XP           , sluice_jsonnum_t *nums
#define T_XA           , nums
#define T_X_UNUSED     (void)nums
#define T_FIELD_NUMS   nums
#define T_IS_STRING    json_is_string
#define T_STRING_BYTES json_string_value
#define T_STRING_LEN   json_string_length
#define T_IS_OBJECT    json_is_object
#define T_EACH_MEMBER(o, c)                                                                                            \
    for (void *it_ = json_object_iter((json_t *)(o)); it_ != NULL && ((c) = json_object_iter_value(it_), 1);           \
         it_ = json_object_iter_next((json_t *)(o), it_))
#define T_IS_ARRAY               json_is_array
#define T_ARRAY_SIZE             json_array_size
#define T_ARRAY_GET              json_array_get
#define T_NUMBER_TEXT(v, buf, n) number_text_json((v), nums, (buf), (n))
#define T_EQUAL                  json_equal
#define T_ENCODE(v, n)           sluice_json_encode((v), nums, (n))
#define T_IN_PLACE               1
#define T_APPLY(m, o, r, f, v, nv, why)                                                                                \
    sluice_plugin_set_apply_in_place((m)->set, (m)->thread, (o), (r), (f), (v), (nv), (why))
/* key is one the parent already holds (the value was reached through it): valid UTF-8. */
#define T_PUT(pa, k, kl, i, nv)                                                                                        \
    ((k) != NULL ? json_object_set_new_nocheck((pa), (k), (nv)) : json_array_set_new((pa), (i), (nv)))
#define T_DROP json_decref
#include "gateway/masker_rules.h"

static sluice_mask_outcome_t on_mask(void *ud, const sluice_org_t *org, size_t rule_index, json_t *event,
                                     const char *event_name, json_t *parent, const char *key, size_t index,
                                     json_t *value, const char *concrete_path, sluice_jsonnum_t *nums)
{
    (void)event;
    return mask_json(ud, org, rule_index, event_name, parent, key, 0, index, value, concrete_path, nums);
}

/* ------------------------------------------------------------------ jv's tree */

static const char *string_bytes_jv(const sluice_jv_t *v)
{
    size_t n;
    return sluice_jv_string_value(v, &n);
}

static size_t string_len_jv(const sluice_jv_t *v)
{
    size_t n = 0;
    (void)sluice_jv_string_value(v, &n);
    return n;
}

/* sluice_jv_equal, with two strings (a plugin's usual answer to a string, judged once per masked
 * value) compared here as it compares them: the call and its switch cost more than the compare. */
static inline int equal_jv(const sluice_jv_t *x, const sluice_jv_t *y)
{
    if (sluice_jv_is_string(x) && sluice_jv_is_string(y))
        return x->len == y->len && memcmp(x->u.s, y->u.s, x->len) == 0;
    return sluice_jv_equal(x, y);
}

/* A JSON answer, or a string answer holding NUL bytes (which no jv string holds: the request
 * parser reads "\u0000" as U+FFFD), made in arena a as the request parser reads its text, those
 * bytes kept in a (the tree points into them). */
static sluice_plugin_outcome_t answer_jv(thread_masker_t *m, sluice_json_arena_t *a, size_t org_index,
                                         size_t rule_index, const sluice_plugin_text_t *answer, sluice_jv_t **nv,
                                         const char **reason)
{
    sluice_json_error_t err;
    *reason = "out of memory";
    if (answer->json) {
        char *kept = sluice_json_arena_alloc(a, answer->len + 1);
        if (kept == NULL)
            return SLUICE_PLUGIN_FAILED;
        memcpy(kept, answer->text, answer->len);
        kept[answer->len] = '\0';
        *nv = sluice_jv_parse(a, kept, answer->len, SLUICE_PLUGIN_ANSWER_MAX_DEPTH, answer->len, 0, NULL, &err);
        if (*nv != NULL)
            return SLUICE_PLUGIN_REPLACED;
    }
    /* What the request parser refused, read as the json_t entry reads it (jansson takes some; a
     * failure is counted and said there), and a string holding NUL bytes: their jansson values
     * written with the numbers' texts and read back, as json/write.c writes them on jansson's tree. */
    if (m->nums == NULL && (m->nums = sluice_jsonnum_new()) == NULL)
        return SLUICE_PLUGIN_FAILED;
    json_t *j = answer->json
                    ? sluice_plugin_set_read_answer(m->set, m->thread, org_index, rule_index, answer, m->nums, reason)
                    : json_stringn_nocheck(answer->text, answer->len);
    size_t n = 0;
    char *text = j != NULL ? sluice_json_encode(j, m->nums, &n) : NULL;
    json_decref(j);
    sluice_jsonnum_clear(m->nums);
    if (text == NULL)
        return SLUICE_PLUGIN_FAILED;
    char *kept = sluice_json_arena_alloc(a, n + 1);
    if (kept != NULL) {
        memcpy(kept, text, n + 1);
        *nv = sluice_jv_parse(a, kept, n, SIZE_MAX, n + 1, 0, NULL, &err);
    }
    free(text);
    return *nv != NULL ? SLUICE_PLUGIN_REPLACED : SLUICE_PLUGIN_FAILED; /* *reason: out of memory */
}

/* The set's text entry for a jv value: its text as json/write.c writes it on either tree (a
 * string's bytes; anything else compact, numbers as sent), NUL-terminated as the ABI promises, in
 * this thread's buffer; the answer made in arena a (a string's bytes copied, JSON read there). */
static sluice_plugin_outcome_t apply_jv(thread_masker_t *m, sluice_json_arena_t *a, size_t org_index, size_t rule_index,
                                        const sluice_plugin_field_t *field, const sluice_jv_t *value, sluice_jv_t **nv,
                                        const char **reason)
{
    sluice_plugin_text_t in = {.json = !sluice_jv_is_string(value)}, answer;
    m->text.len = 0;
    if (in.json) {
        sluice_jv_write(&m->text, value);
    } else {
        size_t n = 0;
        const char *s = sluice_jv_string_value(value, &n);
        sluice_jsonw_put(&m->text, s, n);
    }
    if (m->text.cap < m->text.len + 1)
        (void)sluice_jsonw_grow(&m->text, 0);
    if (m->text.oom) {
        free(m->text.p); /* a later value starts again from nothing */
        m->text = (sluice_jsonw_t){0};
        *reason = "out of memory";
        return SLUICE_PLUGIN_FAILED;
    }
    m->text.p[m->text.len] = '\0';
    in.text = m->text.p;
    in.len = m->text.len;
    sluice_plugin_outcome_t out =
        sluice_plugin_set_apply_text(m->set, m->thread, org_index, rule_index, field, &in, &answer, reason);
    if (out != SLUICE_PLUGIN_REPLACED)
        return out;
    if (!answer.json && memchr(answer.text, '\0', answer.len) == NULL) {
        *nv = sluice_jv_string(a, answer.text, answer.len); /* most answers: nothing to read */
        if (*nv != NULL)
            return SLUICE_PLUGIN_REPLACED;
        *reason = "out of memory";
        return SLUICE_PLUGIN_FAILED;
    }
    return answer_jv(m, a, org_index, rule_index, &answer, nv, reason);
}

#define T(name)        T_CAT(name, jv)
#define T_VALUE        sluice_jv_t
#define T_XP           , sluice_json_arena_t *a
#define T_XA           , a
#define T_X_UNUSED     (void)a
#define T_FIELD_NUMS   NULL
#define T_IS_STRING    sluice_jv_is_string
#define T_STRING_BYTES string_bytes_jv
#define T_STRING_LEN   string_len_jv
#define T_IS_OBJECT    sluice_jv_is_object
#define T_EACH_MEMBER(o, c)                                                                                            \
    for (size_t i_ = 0; i_ < sluice_jv_object_size(o) && ((c) = sluice_jv_object_at((o), i_)->value, 1); i_++)
#define T_IS_ARRAY                      sluice_jv_is_array
#define T_ARRAY_SIZE                    sluice_jv_array_size
#define T_ARRAY_GET                     sluice_jv_array_get
#define T_NUMBER_TEXT(v, buf, n)        ((void)(buf), sluice_jv_number_text_value((v), (n)))
#define T_EQUAL                         equal_jv
#define T_ENCODE                        sluice_jv_encode
#define T_IN_PLACE                      0 /* jv strings are never rewritten where they are */
#define T_APPLY(m, o, r, f, v, nv, why) apply_jv((m), a, (o), (r), (f), (v), (nv), (why))
#define T_PUT(pa, k, kl, i, nv)                                                                                        \
    ((k) != NULL ? sluice_jv_object_setn(a, (pa), (k), (kl), (nv)) : sluice_jv_array_set((pa), (i), (nv)))
#define T_DROP(nv) ((void)(nv)) /* it stays in the arena, out of the tree */
#include "gateway/masker_rules.h"
#undef T_CAT
#undef T_CAT2

/* The seam on jv (issue 17 step 2): what the request path's data layer calls. */
static sluice_mask_outcome_t on_mask_jv(void *ud, const sluice_org_t *org, size_t rule_index, sluice_jv_t *event,
                                        const char *event_name, sluice_json_arena_t *a, sluice_jv_t *parent,
                                        const char *key, size_t key_len, size_t index, sluice_jv_t *value,
                                        const char *concrete_path)
{
    (void)event;
    return mask_jv(ud, org, rule_index, event_name, parent, key, key_len, index, value, concrete_path, a);
}

struct sluice_gw_maskers {
    thread_masker_t *threads;
    unsigned nthreads;
    size_t *org_id_len;
};

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
    /* The ids' lengths for the plugins' input, measured once rather than at every masked value. */
    m->org_id_len = calloc(cfg->org_count ? cfg->org_count : 1, sizeof(*m->org_id_len));
    if (m->org_id_len == NULL) {
        free(m->threads);
        free(m);
        return NULL;
    }
    for (size_t i = 0; i < cfg->org_count; i++)
        m->org_id_len[i] = cfg->orgs[i].id != NULL ? strlen(cfg->orgs[i].id) : 0;
    for (unsigned t = 0; t < nthreads; t++) {
        thread_masker_t *tm = &m->threads[t];
        *tm = (thread_masker_t){.base = {.mask = on_mask, .ud = tm, .mask_jv = on_mask_jv},
                                .set = set,
                                .cfg = cfg,
                                .org_id_len = m->org_id_len,
                                .thread = t};
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
        free(m->threads[t].text.p);
        sluice_jsonnum_free(m->threads[t].nums);
    }
    free(m->threads);
    free(m->org_id_len);
    free(m);
}
