/* The `integrations` object of an event (selection.h). Any thread; no state. */
#include "vendors/selection.h"

#include <string.h>
#include <strings.h>

/* Names Segment's catalogue (and RudderStack's) give these destinations, per vendor kind; a vendor
 * added to vendors.def adds its line here. */
static const struct {
    const char *vendor;
    const char *names[4];
} catalogue[] = {
    {"meta", {"Facebook Conversions API", "Facebook Conversions API (Actions)", "Facebook Pixel", "FACEBOOK_PIXEL"}},
    {"ga4", {"Google Analytics 4", "Google Analytics 4 Web", "GA4", "GA4_V2"}},
    {"tiktok", {"TikTok Conversions", "TikTok Pixel", "TIKTOK_ADS", NULL}},
    {"webhook", {"Webhooks", "Webhook", "WEBHOOK", NULL}},
};

static int names_this(const char *key, const char *name, const char *vendor)
{
    if (strcasecmp(key, name) == 0 || strcasecmp(key, vendor) == 0)
        return 1;
    for (size_t i = 0; i < sizeof(catalogue) / sizeof(catalogue[0]); i++) {
        if (strcmp(catalogue[i].vendor, vendor) != 0)
            continue;
        for (size_t k = 0; k < 4 && catalogue[i].names[k] != NULL; k++) {
            if (strcasecmp(key, catalogue[i].names[k]) == 0)
                return 1;
        }
    }
    return 0;
}

static int enabled(const json_t *v)
{
    return json_is_true(v) || json_is_object(v);
}

int sluice_selection_allows(const json_t *integrations, const char *name, const char *vendor)
{
    if (!json_is_object(integrations))
        return 1;
    const json_t *all = json_object_get(integrations, "All");
    int result = all == NULL || enabled(all);
    const char *key;
    json_t *v;
    /* The most specific key wins over All; among keys naming the same integration, any false. */
    int named = 0, named_on = 1;
    json_object_foreach((json_t *)integrations, key, v) {
        if (strcmp(key, "All") == 0 || !names_this(key, name, vendor))
            continue;
        named = 1;
        if (!enabled(v))
            named_on = 0;
    }
    return named ? named_on : result;
}

int sluice_selection_bots_allow(const json_t *event, int send_bots)
{
    if (send_bots)
        return 1;
    const json_t *bot = json_object_get(json_object_get(event, "context"), "bot");
    return bot == NULL || json_is_null(bot);
}
