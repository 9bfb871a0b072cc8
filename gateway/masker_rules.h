/*
 * The masker's call of a plugin on one value (masker.h), written once for both trees an event can
 * be held in (issue 17): gateway/masker.c includes this file twice, once with jansson's accessors
 * (the seam's mask) and once with json/jv.h's (mask_jv), so that what a plugin's answer is judged
 * by cannot drift between them: an answer that is its input handed back (equal, or a string whose
 * bytes are the other's JSON text, or a string rewritten in place to the same bytes), personal
 * data left as it was, the slow-plugin warning, the failure's warning and outcome. The includer
 * defines thread_masker_t, fingerprint, personal_data, say_slow and say_failed, and:
 *
 *   T_VALUE, T(name)              the node type and the tree's name for a static helper
 *   T_XP, T_XA, T_X_UNUSED        the tree's extra parameter and argument (jansson: the numbers'
 *                                 texts; jv: the request's arena), and its "not used here"
 *   T_FIELD_NUMS                  the numbers' texts the plugin's field carries (jv: NULL, unused)
 *   T_IS_STRING, T_STRING_BYTES, T_STRING_LEN   a string's test, bytes and length
 *   T_IS_OBJECT, T_EACH_MEMBER(o, v)   an object's test, and a loop over its members' values
 *   T_IS_ARRAY, T_ARRAY_SIZE, T_ARRAY_GET
 *   T_NUMBER_TEXT(v, buf, &n)     a number's text as sent (buf: 64 bytes for a formatted one), or
 *                                 NULL for another type or a number that has none
 *   T_EQUAL(a, b)                 jansson's json_equal, or its twin on the tree
 *   T_ENCODE(v, &n)               v's compact JSON text (numbers as sent), malloc'd, or NULL
 *   T_IN_PLACE                    1 when T_APPLY may rewrite a string where it is (jansson)
 *   T_APPLY(m, o, r, field, value, &nv, &reason)  the plugin set's call: a plugin_outcome, the
 *                                 answer a new value in *nv (or value itself, rewritten)
 *   T_PUT(parent, key, key_len, index, nv)  the answer set where value was; 0 or -1
 *   T_DROP(nv)                    an answer not put anywhere given back
 *
 * Not a header: no include guard (it undefines the tree's macros at its end), nothing for other
 * files. Runs on the event-loop thread of the masker it is given.
 */

/* What personal data a value that a plugin left as it was holds, as words for the log ("a card
 * number"), or NULL when it holds none. A mask rule is the operator's word that the field leaves
 * masked, and the PII guard does not look at what a rule covers: a plugin answering UNCHANGED
 * (the SDK's example does for every non-string, so a card sent as a number) or its input as its
 * answer sent the card or e-mail to Kafka as sent, listed as masked. Only values handed back as
 * they were are judged: a plugin's own output may look like personal data by design (fpe keeps a
 * card's shape). */
static const char *T(left_as_it_was)(thread_masker_t *m, const sluice_org_t *org, const T_VALUE *value T_XP)
{
    char num[64];
    const char *text = NULL;
    size_t n = 0;
    /* An object or a list (a payment object holding the card) is judged by what it holds; the
     * parser's depth limit bounds the recursion. */
    if (T_IS_OBJECT(value)) {
        const T_VALUE *member;
        T_EACH_MEMBER(value, member)
        {
            const char *kept = T(left_as_it_was)(m, org, member T_XA);
            if (kept != NULL)
                return kept;
        }
        return NULL;
    }
    if (T_IS_ARRAY(value)) {
        for (size_t i = 0, size = T_ARRAY_SIZE(value); i < size; i++) {
            const char *kept = T(left_as_it_was)(m, org, T_ARRAY_GET(value, i) T_XA);
            if (kept != NULL)
                return kept;
        }
        return NULL;
    }
    if (T_IS_STRING(value)) {
        text = T_STRING_BYTES(value);
        n = T_STRING_LEN(value);
    } else {
        text = T_NUMBER_TEXT(value, num, &n);
    }
    return text != NULL ? personal_data(m, org, text, n) : NULL;
}

/* 1 when one of x and y is a string whose bytes are the other's compact JSON text: the JSON text
 * of a number or an object is what the plugin was handed as its input (and what it may write as
 * its output), so a number's digits answered as a string, or a string's contents answered as
 * JSON, is the input handed back as it was, though the two are not equal as JSON values. Out of
 * memory counts as an echo, so that the value is judged (fail closed). */
static int T(echoes_text)(const T_VALUE *x, const T_VALUE *y T_XP)
{
    T_X_UNUSED;
    if (T_IS_STRING(x) == T_IS_STRING(y))
        return 0;
    const T_VALUE *str = T_IS_STRING(x) ? x : y, *other = T_IS_STRING(x) ? y : x;
    size_t n = 0;
    char *text = T_ENCODE(other, &n);
    if (text == NULL)
        return 1;
    int same = n == T_STRING_LEN(str) && memcmp(text, T_STRING_BYTES(str), n) == 0;
    free(text);
    return same;
}

/* Inlined into the seam's function: a call more cost the jansson path about 20 instructions a
 * masked value. */
static inline __attribute__((always_inline)) sluice_mask_outcome_t
T(mask)(thread_masker_t *m, const sluice_org_t *org, size_t rule_index, const char *event_name, T_VALUE *parent,
        const char *key, size_t key_len, size_t index, T_VALUE *value, const char *concrete_path T_XP)
{
    (void)key_len; /* unused on jansson's tree, whose keys end with a NUL */
    /* The data layer hands the org by pointer into this runtime's config. */
    if (org < m->cfg->orgs || org >= m->cfg->orgs + m->cfg->org_count || rule_index >= org->mask_rule_count)
        return SLUICE_MASK_FAILED;
    size_t org_index = (size_t)(org - m->cfg->orgs);
    const sluice_mask_rule_t *rule = &org->mask_rules[rule_index];
    sluice_plugin_field_t field = {.org = org->id,
                                   .path = concrete_path,
                                   .rule_path = rule->path.text,
                                   .event = event_name,
                                   .org_len = m->org_id_len[org_index],
                                   .rule_path_len = rule->path.text_len,
                                   .nums = T_FIELD_NUMS};
    T_VALUE *nv = NULL;
    const char *reason = "unknown", *kept = NULL;
    char why[128];
    /* A string answer may be written over the value in place: its fingerprint before, to tell an
     * echo afterwards (only for strings that may hold personal data at all). */
    uint64_t before = 0;
    char copy[64]; /* short strings (most) are kept as they were and compared; longer ones hashed */
    size_t before_len = T_IN_PLACE && T_IS_STRING(value) ? T_STRING_LEN(value) : 0;
    int watch = T_IN_PLACE && T_IS_STRING(value) && sluice_scan_may_match(T_STRING_BYTES(value), before_len);
    if (watch && before_len <= sizeof(copy))
        memcpy(copy, T_STRING_BYTES(value), before_len);
    else if (watch)
        before = fingerprint(T_STRING_BYTES(value), before_len);
    uint64_t started = sluice_mono_us();
    sluice_plugin_outcome_t out = T_APPLY(m, org_index, rule_index, &field, value, &nv, &reason);
    uint64_t took = sluice_mono_us() - started;
    if (took >= SLOW_MASK_US && started - m->slow_logged_us >= 10000000)
        say_slow(m, org, org_index, rule_index, concrete_path, started, took);
    int same =
        out == SLUICE_PLUGIN_UNCHANGED ||
        (out == SLUICE_PLUGIN_REPLACED &&
         (nv != value ? T_EQUAL(nv, value) || T(echoes_text)(nv, value T_XA)
                      : watch && T_IS_STRING(value) && T_STRING_LEN(value) == before_len &&
                            (before_len <= sizeof(copy) ? memcmp(copy, T_STRING_BYTES(value), before_len) == 0
                                                        : fingerprint(T_STRING_BYTES(value), before_len) == before)));
    if (same && (kept = T(left_as_it_was)(m, org, value T_XA)) != NULL) {
        if (out == SLUICE_PLUGIN_REPLACED)
            T_DROP(nv);
        snprintf(why, sizeof(why), "it left a value holding personal data (%s) as it was", kept);
        reason = why;
        out = SLUICE_PLUGIN_FAILED;
    }
    switch (out) {
    case SLUICE_PLUGIN_REPLACED: {
        if (nv == value) { /* rewritten where it is */
            T_DROP(nv);
            return SLUICE_MASK_REPLACED;
        }
        if (T_PUT(parent, key, key_len, index, nv) == 0)
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

#undef T_VALUE
#undef T
#undef T_XP
#undef T_XA
#undef T_X_UNUSED
#undef T_FIELD_NUMS
#undef T_IS_STRING
#undef T_STRING_BYTES
#undef T_STRING_LEN
#undef T_IS_OBJECT
#undef T_EACH_MEMBER
#undef T_IS_ARRAY
#undef T_ARRAY_SIZE
#undef T_ARRAY_GET
#undef T_NUMBER_TEXT
#undef T_EQUAL
#undef T_ENCODE
#undef T_IN_PLACE
#undef T_APPLY
#undef T_PUT
#undef T_DROP
