/* Consent formats into context.consent.categories (consent.h). Any thread; no state. */
#include "gateway/consent.h"

#include <string.h>
#include <strings.h>

#include "pii/scan.h"

/* 1 when the PII scanner finds personal data in name (or cannot tell, out of memory). */
static int holds_pii(const char *name)
{
    size_t n = strlen(name);
    if (!sluice_scan_may_match(name, n))
        return 0;
    sluice_scan_t sc = {0};
    int found = sluice_scan(&sc, name, n,
                            SLUICE_SCAN_EMAIL | SLUICE_SCAN_CARD | SLUICE_SCAN_PHONE | SLUICE_SCAN_IBAN |
                                SLUICE_SCAN_NATIONAL_IDS) != 0 ||
                sc.count > 0;
    sluice_scan_dispose(&sc);
    return found;
}

/* The org's category for a name another format uses: its alias, or the name itself; NULL for a
 * name that is personal data (an e-mail among a CMP's ids): context.consent, where categories are
 * written, is not scanned by the PII guard, and such a name is no category. */
static const char *category_of(const sluice_consent_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->alias_count; i++) {
        if (strcasecmp(c->aliases[i].key, name) == 0)
            return c->aliases[i].value;
    }
    return holds_pii(name) ? NULL : name;
}

/* 1 when list holds cat (any case with nocase: a denial counts however it is spelt). */
static int has(const json_t *list, const char *cat, int nocase)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        if ((nocase ? strcasecmp(json_string_value(v), cat) : strcmp(json_string_value(v), cat)) == 0)
            return 1;
    }
    return 0;
}

/* Adds the categories of the strings in arr to out (once each). */
static int add_all(json_t *out, const json_t *arr, const sluice_consent_config_t *c)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v))
            continue;
        const char *cat = category_of(c, json_string_value(v));
        if (cat != NULL && !has(out, cat, 0) && json_array_append_new(out, json_string(cat)) != 0)
            return -1;
    }
    return 0;
}

/* 1 when rebuilding from cats alone would give cats back: strings only, none an alias or personal
 * data, none twice (the common case of a client that already speaks sluice's format). */
static int already_normal(const json_t *cats, const sluice_consent_config_t *c)
{
    size_t n = json_array_size(cats);
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(cats, i));
        const char *cat = s != NULL ? category_of(c, s) : NULL;
        if (cat == NULL || strcmp(cat, s) != 0)
            return 0;
        for (size_t k = 0; k < i; k++)
            if (strcmp(json_string_value(json_array_get(cats, k)), s) == 0)
                return 0;
    }
    return 1;
}

#define GET(obj, lit) json_object_getn(obj, lit, sizeof(lit) - 1)

/* consent.categories without the categories Global Privacy Control withdraws. */
static int withdraw(json_t *consent, const sluice_consent_config_t *c)
{
    json_t *cats = GET(consent, "categories");
    if (!json_is_array(cats))
        return 0;
    /* A new list, not the old one edited: a batch's events may share what the batch sent. */
    json_t *kept = json_array();
    if (kept == NULL)
        return -1;
    size_t i;
    json_t *v;
    json_array_foreach(cats, i, v) {
        const char *cat = json_string_value(v);
        int withdrawn = 0;
        /* Without regard to case, as a denial counts: "Marketing" sent must not outlive a
         * withdrawn "marketing". */
        for (size_t k = 0; cat != NULL && k < c->gpc_withdraw_count && !withdrawn; k++)
            withdrawn = strcasecmp(cat, c->gpc_withdraws[k]) == 0;
        if (!withdrawn && json_array_append(kept, v) != 0) {
            json_decref(kept);
            return -1;
        }
    }
    return json_object_set_new(consent, "categories", kept);
}

int sluice_consent_gpc(json_t *event, const sluice_consent_config_t *c, int gpc)
{
    json_t *ctx = GET(event, "context");
    json_t *consent = GET(ctx, "consent");
    if (!gpc) {
        /* Only a browser's header says Global Privacy Control was on: a body's own claim would
         * tell the DPO a reason the request never gave, and withdraw on a server's word. */
        if (json_is_object(consent))
            json_object_del(consent, "gpc");
        return 0;
    }
    if (ctx == NULL) {
        if ((ctx = json_object()) == NULL || json_object_set_new(event, "context", ctx) != 0)
            return -1;
    }
    if (!json_is_object(ctx))
        return 0; /* refused by validation before this runs */
    if (!json_is_object(consent)) {
        if ((consent = json_object()) == NULL || json_object_set_new(ctx, "consent", consent) != 0)
            return -1;
    }
    if (json_object_set_new(consent, "gpc", json_true()) != 0)
        return -1;
    return withdraw(consent, c);
}

int sluice_consent_normalize(json_t *event, const sluice_consent_config_t *c)
{
    json_t *cats;
    return sluice_consent_normalize_get(event, c, &cats);
}

int sluice_consent_normalize_get(json_t *event, const sluice_consent_config_t *c, json_t **categories)
{
    json_t *ctx = GET(event, "context");
    json_t *consent = GET(ctx, "consent");
    json_t *cats = GET(consent, "categories");
    /* A consent object holding only its categories has no preferences to look for. */
    json_t *prefs = cats != NULL && json_object_size(consent) == 1 ? NULL : GET(consent, "categoryPreferences");
    json_t *cm = GET(ctx, "consentManagement");
    *categories = cats;
    if (!json_is_array(cats) && !json_is_object(prefs) && !json_is_object(cm))
        return 0;
    if (!json_is_object(prefs) && !json_is_object(cm) && already_normal(cats, c))
        return 0;

    json_t *granted = json_array(), *denied = json_array();
    if (granted == NULL || denied == NULL || add_all(granted, cats, c) != 0)
        goto oom;
    const char *name;
    json_t *v;
    json_object_foreach(prefs, name, v) {
        const char *cat = category_of(c, name);
        /* Segment's false is the visitor's refusal: it denies like RudderStack's denied ids. */
        json_t *to = cat == NULL ? NULL : json_is_true(v) ? granted : json_is_false(v) ? denied : NULL;
        if (to != NULL && !has(to, cat, 0) && json_array_append_new(to, json_string(cat)) != 0)
            goto oom;
    }
    if (json_is_object(cm)) {
        if (add_all(granted, json_object_get(cm, "allowedConsentIds"), c) != 0 ||
            add_all(denied, json_object_get(cm, "deniedConsentIds"), c) != 0)
            goto oom;
    }
    /* A category a format denies is not granted, whatever another format or id allowed; a denial
     * counts in any case. */
    for (size_t i = json_array_size(granted); i-- > 0;) {
        if (has(denied, json_string_value(json_array_get(granted, i)), 1))
            json_array_remove(granted, i);
    }
    json_decref(denied);
    denied = NULL;
    if (!json_is_object(consent)) {
        if (!json_is_object(ctx) || json_object_set_new(ctx, "consent", consent = json_object()) != 0)
            goto oom;
    }
    if (json_object_set_new(consent, "categories", granted) != 0)
        return -1;
    /* Normalised again later (the data layer, enrichment), Segment's or RudderStack's grants
     * would bring back what Global Privacy Control withdrew. */
    if (c->gpc_withdraw_count > 0 && json_is_true(GET(consent, "gpc"))) {
        if (withdraw(consent, c) != 0)
            return -1;
        granted = GET(consent, "categories"); /* withdraw() put a new list in its place */
    }
    *categories = granted;
    return 0;

oom:
    json_decref(granted);
    json_decref(denied);
    return -1;
}
