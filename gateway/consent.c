/* Consent formats into context.consent.categories (consent.h). Any thread; no state. */
#include "gateway/consent.h"

#include <string.h>
#include <strings.h>

/* The org's category for a name another format uses: its alias, or the name itself. */
static const char *category_of(const sluice_consent_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->alias_count; i++) {
        if (strcasecmp(c->aliases[i].key, name) == 0)
            return c->aliases[i].value;
    }
    return name;
}

static int has(const json_t *list, const char *cat)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        if (strcmp(json_string_value(v), cat) == 0)
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
        if (!has(out, cat) && json_array_append_new(out, json_string(cat)) != 0)
            return -1;
    }
    return 0;
}

/* 1 when rebuilding from cats alone would give cats back: strings only, none an alias, none twice
 * (the common case of a client that already speaks sluice's format). */
static int already_normal(const json_t *cats, const sluice_consent_config_t *c)
{
    size_t n = json_array_size(cats);
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(cats, i));
        if (s == NULL || strcmp(category_of(c, s), s) != 0)
            return 0;
        for (size_t k = 0; k < i; k++)
            if (strcmp(json_string_value(json_array_get(cats, k)), s) == 0)
                return 0;
    }
    return 1;
}

#define GET(obj, lit) json_object_getn(obj, lit, sizeof(lit) - 1)

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

    json_t *granted = json_array();
    if (granted == NULL || add_all(granted, cats, c) != 0)
        goto oom;
    const char *name;
    json_t *v;
    json_object_foreach(prefs, name, v) {
        const char *cat = category_of(c, name);
        if (json_is_true(v) && !has(granted, cat) && json_array_append_new(granted, json_string(cat)) != 0)
            goto oom;
    }
    if (json_is_object(cm)) {
        if (add_all(granted, json_object_get(cm, "allowedConsentIds"), c) != 0)
            goto oom;
        json_t *denied = json_array();
        if (denied == NULL || add_all(denied, json_object_get(cm, "deniedConsentIds"), c) != 0) {
            json_decref(denied);
            goto oom;
        }
        /* A category one of its ids denies is not granted, whatever another id allowed. */
        for (size_t i = json_array_size(granted); i-- > 0;) {
            if (has(denied, json_string_value(json_array_get(granted, i))))
                json_array_remove(granted, i);
        }
        json_decref(denied);
    }
    if (!json_is_object(consent)) {
        if (!json_is_object(ctx) || json_object_set_new(ctx, "consent", consent = json_object()) != 0)
            goto oom;
    }
    if (json_object_set_new(consent, "categories", granted) != 0)
        return -1;
    *categories = granted;
    return 0;

oom:
    json_decref(granted);
    return -1;
}
