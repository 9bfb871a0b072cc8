/*
 * Consent's rules (consent.h), written once for both trees an event can be held in (issue 17):
 * gateway/consent.c includes this file twice, once with jansson's accessors
 * (sluice_consent_normalize_get, sluice_consent_gpc) and once with json/jv.h's
 * (sluice_consent_normalize_get_jv, sluice_consent_gpc_jv), so that the two cannot drift: the
 * same categories in the same order, the same withdrawals and the same gpc stamp. What differs is
 * only how a value is read or made, and that is the macros below, which the includer defines:
 *
 *   T_VALUE                      the node type (json_t, sluice_jv_t)
 *   T(name)                      the tree's name for a static helper of this file
 *   T_NORMALIZE_GET, T_GPC       the public functions' names
 *   T_XP, T_XA                   the tree's context as an extra parameter and argument (jv's
 *                                arena a, where new values are made: ", sluice_json_arena_t *a"
 *                                and ", a"), or nothing; the macros that make values use it
 *   T_GET(o, lit)                o's member named by a string literal, or NULL
 *   T_OBJECT_GET(o, key)         o's member named by a C string, or NULL
 *   T_IS_ARRAY T_IS_OBJECT T_IS_TRUE T_IS_FALSE (v)
 *   T_STRING_VALUE(v, &n)        a string's bytes (not NUL-terminated for jv) and length, or NULL
 *   T_OBJECT_SIZE(o), T_ARRAY_SIZE(a), T_ARRAY_GET(a, i)
 *   T_ITER, T_ITER_BEGIN(o), T_ITER_OK(o, it), T_ITER_NEXT(o, it), T_ITER_KEY(o, it),
 *   T_ITER_KEY_LEN(o, it), T_ITER_VALUE(o, it)   a walk over an object's members in order
 *                              (gateway/tree_iter.h defines them for each tree)
 *   T_ARRAY_NEW(), T_OBJECT_NEW(), T_TRUE_NEW()   new values, or NULL
 *   T_APPEND_STRING(arr, s, n)   appends a new string of s[0..n); 0 or -1
 *   T_APPEND_ITEM(arr, v)        appends v, an item of another list (shared, or copied); 0 or -1
 *   T_ARRAY_REMOVE(arr, i)       removes the i-th item
 *   T_SET(o, key, v)             o[key] = v, a new value (position kept when key is there); 0 or
 *                                -1 (v NULL included)
 *   T_DEL(o, key)                removes o[key] when there
 *   T_DROP(v)                    gives back a new value that was not set (NULL allowed)
 *
 * Not a header: no include guard (it undefines the tree's macros at its end for the next
 * inclusion), nothing for other files. Runs where gateway/consent.c does.
 */

/* 1 when list, a list of strings, holds cat[0..n) (any case with nocase: a denial counts however
 * it is spelt). */
static int T(has)(const T_VALUE *list, const char *cat, size_t n, int nocase)
{
    size_t len = T_ARRAY_SIZE(list);
    for (size_t i = 0; i < len; i++) {
        size_t sn = 0;
        const char *s = T_STRING_VALUE(T_ARRAY_GET(list, i), &sn);
        if (same(s, sn, cat, n, nocase))
            return 1;
    }
    return 0;
}

/* Adds the categories of the strings in arr to out (once each). */
static int T(add_all)(T_VALUE *out, const T_VALUE *arr, const sluice_consent_config_t *c T_XP)
{
    size_t len = T_ARRAY_SIZE(arr);
    for (size_t i = 0; i < len; i++) {
        size_t sn = 0, n = 0;
        const char *s = T_STRING_VALUE(T_ARRAY_GET(arr, i), &sn);
        const char *cat = s != NULL ? category_of(c, s, sn, &n) : NULL;
        if (cat != NULL && !T(has)(out, cat, n, 0) && T_APPEND_STRING(out, cat, n) != 0)
            return -1;
    }
    return 0;
}

/* 1 when rebuilding from cats alone would give cats back: strings only, none an alias or personal
 * data, none twice (the common case of a client that already speaks sluice's format). */
static int T(already_normal)(const T_VALUE *cats, const sluice_consent_config_t *c)
{
    size_t len = T_ARRAY_SIZE(cats);
    for (size_t i = 0; i < len; i++) {
        size_t sn = 0, n = 0;
        const char *s = T_STRING_VALUE(T_ARRAY_GET(cats, i), &sn);
        const char *cat = s != NULL ? category_of(c, s, sn, &n) : NULL;
        if (cat == NULL || !same(cat, n, s, sn, 0))
            return 0;
        for (size_t k = 0; k < i; k++) {
            size_t kn = 0;
            const char *ks = T_STRING_VALUE(T_ARRAY_GET(cats, k), &kn);
            if (same(ks, kn, s, sn, 0))
                return 0;
        }
    }
    return 1;
}

/* consent.categories without the categories Global Privacy Control withdraws. */
static int T(withdraw)(T_VALUE *consent, const sluice_consent_config_t *c T_XP)
{
    T_VALUE *cats = T_GET(consent, "categories");
    if (!T_IS_ARRAY(cats))
        return 0;
    /* A new list, not the old one edited: a batch's events may share what the batch sent. */
    T_VALUE *kept = T_ARRAY_NEW();
    if (kept == NULL)
        return -1;
    size_t len = T_ARRAY_SIZE(cats);
    for (size_t i = 0; i < len; i++) {
        T_VALUE *v = T_ARRAY_GET(cats, i);
        size_t n = 0;
        const char *cat = T_STRING_VALUE(v, &n);
        int withdrawn = 0;
        /* Without regard to case, as a denial counts: "Marketing" sent must not outlive a
         * withdrawn "marketing". */
        for (size_t k = 0; cat != NULL && k < c->gpc_withdraw_count && !withdrawn; k++)
            withdrawn = is_name(c->gpc_withdraws[k], cat, n);
        if (!withdrawn && T_APPEND_ITEM(kept, v) != 0) {
            T_DROP(kept);
            return -1;
        }
    }
    return T_SET(consent, "categories", kept);
}

int T_GPC(T_VALUE *event, const sluice_consent_config_t *c, int gpc T_XP)
{
    T_VALUE *ctx = T_GET(event, "context");
    T_VALUE *consent = T_GET(ctx, "consent");
    if (!gpc) {
        /* Only a browser's header says Global Privacy Control was on: a body's own claim would
         * tell the DPO a reason the request never gave, and withdraw on a server's word. */
        if (T_IS_OBJECT(consent))
            T_DEL(consent, "gpc");
        return 0;
    }
    if (ctx == NULL) {
        if ((ctx = T_OBJECT_NEW()) == NULL || T_SET(event, "context", ctx) != 0)
            return -1;
    }
    if (!T_IS_OBJECT(ctx))
        return 0; /* refused by validation before this runs */
    if (!T_IS_OBJECT(consent)) {
        if ((consent = T_OBJECT_NEW()) == NULL || T_SET(ctx, "consent", consent) != 0)
            return -1;
    }
    if (T_SET(consent, "gpc", T_TRUE_NEW()) != 0)
        return -1;
    return T(withdraw)(consent, c T_XA);
}

int T_NORMALIZE_GET(T_VALUE *event, const sluice_consent_config_t *c, T_VALUE **categories, T_VALUE **context T_XP)
{
    T_VALUE *ctx = T_GET(event, "context");
    *context = ctx; /* only its members change below */
    T_VALUE *consent = T_GET(ctx, "consent");
    T_VALUE *cats = T_GET(consent, "categories");
    /* A consent object holding only its categories has no preferences to look for. */
    T_VALUE *prefs = cats != NULL && T_OBJECT_SIZE(consent) == 1 ? NULL : T_GET(consent, "categoryPreferences");
    T_VALUE *cm = T_GET(ctx, "consentManagement");
    *categories = cats;
    if (!T_IS_ARRAY(cats) && !T_IS_OBJECT(prefs) && !T_IS_OBJECT(cm))
        return 0;
    if (!T_IS_OBJECT(prefs) && !T_IS_OBJECT(cm) && T(already_normal)(cats, c))
        return 0;

    T_VALUE *granted = T_ARRAY_NEW(), *denied = T_ARRAY_NEW();
    if (granted == NULL || denied == NULL || T(add_all)(granted, cats, c T_XA) != 0)
        goto oom;
    if (T_IS_OBJECT(prefs)) {
        for (T_ITER it = T_ITER_BEGIN(prefs); T_ITER_OK(prefs, it); it = T_ITER_NEXT(prefs, it)) {
            size_t n = 0;
            const char *cat = category_of(c, T_ITER_KEY(prefs, it), T_ITER_KEY_LEN(prefs, it), &n);
            T_VALUE *v = T_ITER_VALUE(prefs, it);
            /* Segment's false is the visitor's refusal: it denies like RudderStack's denied ids. */
            T_VALUE *to = cat == NULL ? NULL : T_IS_TRUE(v) ? granted : T_IS_FALSE(v) ? denied : NULL;
            if (to != NULL && !T(has)(to, cat, n, 0) && T_APPEND_STRING(to, cat, n) != 0)
                goto oom;
        }
    }
    if (T_IS_OBJECT(cm)) {
        if (T(add_all)(granted, T_OBJECT_GET(cm, "allowedConsentIds"), c T_XA) != 0 ||
            T(add_all)(denied, T_OBJECT_GET(cm, "deniedConsentIds"), c T_XA) != 0)
            goto oom;
    }
    /* A category a format denies is not granted, whatever another format or id allowed; a denial
     * counts in any case. */
    for (size_t i = T_ARRAY_SIZE(granted); i-- > 0;) {
        size_t n = 0;
        const char *cat = T_STRING_VALUE(T_ARRAY_GET(granted, i), &n);
        if (T(has)(denied, cat, n, 1))
            T_ARRAY_REMOVE(granted, i);
    }
    T_DROP(denied);
    denied = NULL;
    if (!T_IS_OBJECT(consent)) {
        if (!T_IS_OBJECT(ctx) || T_SET(ctx, "consent", consent = T_OBJECT_NEW()) != 0)
            goto oom;
    }
    if (T_SET(consent, "categories", granted) != 0)
        return -1;
    /* Normalised again later (the data layer, enrichment), Segment's or RudderStack's grants
     * would bring back what Global Privacy Control withdrew. */
    if (c->gpc_withdraw_count > 0 && T_IS_TRUE(T_GET(consent, "gpc"))) {
        if (T(withdraw)(consent, c T_XA) != 0)
            return -1;
        granted = T_GET(consent, "categories"); /* withdraw() put a new list in its place */
    }
    *categories = granted;
    return 0;

oom:
    T_DROP(granted);
    T_DROP(denied);
    return -1;
}

#undef T
#undef T_VALUE
#undef T_NORMALIZE_GET
#undef T_GPC
#undef T_XP
#undef T_XA
#undef T_GET
#undef T_OBJECT_GET
#undef T_IS_ARRAY
#undef T_IS_OBJECT
#undef T_IS_TRUE
#undef T_IS_FALSE
#undef T_STRING_VALUE
#undef T_OBJECT_SIZE
#undef T_ARRAY_SIZE
#undef T_ARRAY_GET
#undef T_ARRAY_NEW
#undef T_OBJECT_NEW
#undef T_TRUE_NEW
#undef T_APPEND_STRING
#undef T_APPEND_ITEM
#undef T_ARRAY_REMOVE
#undef T_SET
#undef T_DEL
#undef T_DROP
