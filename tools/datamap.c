/*
 * The privacy data map of one org, from its config alone (tools/datamap.h). Three tables hold
 * what the config cannot say: the fields the gateway writes into every event (enrichments), the
 * fields the consent policy `strip` removes (gateway/datalayer.c), and what each vendor mapping
 * reads (vendors/<vendor>.c). The unit tests hold each table to the code it describes.
 * Main thread of sluicectl.
 */
#include "tools/datamap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/datalayer.h"
#include "gateway/normalize.h"
#include "gateway/piiguard.h"
#include "pii/scan.h"
#include "vendors/envelope.h"

/* ------------------------------------------------------------------ tables */

/* What the gateway writes into events (docs/architecture.md steps 7 and 8, docs/identity.md).
 * A new enrichment is one row here; `applies` says when an org gets it (NULL: always). */
typedef struct enrichment {
    const char *path;
    const char *what;
    int (*applies)(const sluice_config_t *cfg, const sluice_org_t *org);
} enrichment_t;

static int has_vendor_cookie(const sluice_org_t *org, const char *vendor)
{
    for (size_t i = 0; i < org->identity.vendor_cookie_count; i++)
        if (strcmp(org->identity.vendor_cookies[i], vendor) == 0)
            return 1;
    return 0;
}

static int meta_cookies(const sluice_config_t *cfg, const sluice_org_t *org)
{
    (void)cfg;
    return has_vendor_cookie(org, "meta");
}

static int ga4_cookie(const sluice_config_t *cfg, const sluice_org_t *org)
{
    (void)cfg;
    return has_vendor_cookie(org, "ga4");
}

static int cross_domain(const sluice_config_t *cfg, const sluice_org_t *org)
{
    (void)cfg;
    return org->identity.xd_domain_count > 0;
}

static int redis_links(const sluice_config_t *cfg, const sluice_org_t *org)
{
    (void)org;
    return cfg->redis.url != NULL;
}

/* A click id of vendor's is kept in Redis (identity.c) when the org has an enabled integration of
 * it, the gateway has Redis and no data-layer rule reaches the click id (the data layer removes or
 * rewrites it in every event, so identity keeps none: sluice_datalayer_click_covered). */
static int kept_click(const sluice_config_t *cfg, const sluice_org_t *org, const char *vendor, const char *name)
{
    if (cfg->redis.url == NULL || sluice_datalayer_click_covered(org, name))
        return 0;
    for (size_t i = 0; i < org->integration_count; i++)
        if (org->integrations[i].enabled && org->integrations[i].vendor_name != NULL &&
            strcmp(org->integrations[i].vendor_name, vendor) == 0)
            return 1;
    return 0;
}

static int kept_gclid(const sluice_config_t *cfg, const sluice_org_t *org)
{
    return kept_click(cfg, org, "google_ads", "gclid");
}

static int kept_gbraid(const sluice_config_t *cfg, const sluice_org_t *org)
{
    return kept_click(cfg, org, "google_ads", "gbraid");
}

static int kept_wbraid(const sluice_config_t *cfg, const sluice_org_t *org)
{
    return kept_click(cfg, org, "google_ads", "wbraid");
}

static int kept_meta(const sluice_config_t *cfg, const sluice_org_t *org)
{
    return kept_click(cfg, org, "meta", "fbclid");
}

static int kept_tiktok(const sluice_config_t *cfg, const sluice_org_t *org)
{
    return kept_click(cfg, org, "tiktok", "ttclid");
}

static int kept_pinterest(const sluice_config_t *cfg, const sluice_org_t *org)
{
    return kept_click(cfg, org, "pinterest", "epik");
}

static int kept_snapchat(const sluice_config_t *cfg, const sluice_org_t *org)
{
    return kept_click(cfg, org, "snapchat", "ScCid");
}

static int kept_linkedin(const sluice_config_t *cfg, const sluice_org_t *org)
{
    return kept_click(cfg, org, "linkedin", "li_fat_id");
}

static int kept_reddit(const sluice_config_t *cfg, const sluice_org_t *org)
{
    return kept_click(cfg, org, "reddit", "rdt_cid");
}

/* The org's enrichment (docs/enrichment.md), by part. */
static int en_user_agent(const sluice_config_t *cfg, const sluice_org_t *org)
{
    (void)cfg;
    return org->enrich.user_agent;
}

static int en_bot_flag(const sluice_config_t *cfg, const sluice_org_t *org)
{
    (void)cfg;
    return org->enrich.bots == SLUICE_BOTS_FLAG;
}

static int en_geo(const sluice_config_t *cfg, const sluice_org_t *org)
{
    return org->enrich.geo != SLUICE_GEO_OFF && cfg->enrich.geo_database != NULL;
}

static int en_session(const sluice_config_t *cfg, const sluice_org_t *org)
{
    (void)cfg;
    return org->enrich.session;
}

static int en_campaign(const sluice_config_t *cfg, const sluice_org_t *org)
{
    (void)cfg;
    return org->enrich.campaign;
}

static int en_referrer(const sluice_config_t *cfg, const sluice_org_t *org)
{
    (void)cfg;
    return org->enrich.referrer;
}

static const enrichment_t enrichments[] = {
    {"messageId", "a random UUIDv4 when the event has none", NULL},
    {"receivedAt", "when the gateway received the event", NULL},
    {"timestamp", "corrected for the client's clock from sentAt (the original kept as originalTimestamp)", NULL},
    {"anonymousId",
     "the event's, else the first-party cookie's, else a new random id; a redeemed cross-domain token's id replaces it",
     NULL},
    {"context.ip",
     "the client's address (X-Forwarded-For only from server.trusted_proxies); server sources keep the event's own",
     NULL},
    {"context.userAgent", "the request's User-Agent, when the event has none", NULL},
    {"context.consent.categories", "the consent the event carries in any supported format, through consent.aliases",
     NULL},
    {"context.vendorIds.fbp", "Meta's _fbp cookie, minted when the browser has none", meta_cookies},
    {"context.vendorIds.fbc", "Meta's _fbc cookie, from an fbclid in the page URL", meta_cookies},
    {"context.vendorIds.ga", "GA4's _ga cookie, minted when the browser has none", ga4_cookie},
    {"context.vendorIds.ga_<stream>",
     "gtag's session cookie _ga_<stream> of each GA4 stream of the org, as the browser sent it (never set)",
     ga4_cookie},
    /* A click id is kept for the visitor's later events only for a vendor the org integrates
     * (identity.c's kept_clicks): those entries come first, as the first entry that applies names
     * what the gateway sets. */
    {"context.clickIds.gclid",
     "from the page URL's query string; on the visitor's later events (with the consent the google_ads integration "
     "needs), the click kept in Redis for 90 days",
     kept_gclid},
    {"context.clickIds.gbraid",
     "from the page URL's query string; on the visitor's later events (with the consent the google_ads integration "
     "needs), the click kept in Redis for 90 days",
     kept_gbraid},
    {"context.clickIds.wbraid",
     "from the page URL's query string; on the visitor's later events (with the consent the google_ads integration "
     "needs), the click kept in Redis for 90 days",
     kept_wbraid},
    {"context.clickIds.fbclid",
     "from the page URL's query string; on the visitor's later events (with the consent the meta integration needs), "
     "the click kept in Redis for 90 days, also as context.vendorIds.fbc",
     kept_meta},
    {"context.clickIds.ttclid",
     "from the page URL's query string; on the visitor's later events (with the consent the tiktok integration needs), "
     "the click kept in Redis for 28 days",
     kept_tiktok},
    {"context.clickIds.epik",
     "from the page URL's query string; on the visitor's later events (with the consent the pinterest integration "
     "needs), the click kept in Redis for 60 days",
     kept_pinterest},
    {"context.clickIds.ScCid",
     "from the page URL's query string; on the visitor's later events (with the consent the snapchat integration "
     "needs), the click kept in Redis for 28 days",
     kept_snapchat},
    {"context.clickIds.li_fat_id",
     "from the page URL's query string; on the visitor's later events (with the consent the linkedin integration "
     "needs), the click kept in Redis for 30 days",
     kept_linkedin},
    {"context.clickIds.rdt_cid",
     "from the page URL's query string; on the visitor's later events (with the consent the reddit integration needs), "
     "the click kept in Redis for 28 days",
     kept_reddit},
    {"context.clickIds.gclid", "from the page URL's query string", NULL},
    {"context.clickIds.fbclid", "from the page URL's query string", NULL},
    {"context.clickIds.ttclid", "from the page URL's query string", NULL},
    {"context.clickIds.msclkid", "from the page URL's query string", NULL},
    {"context.clickIds.li_fat_id", "from the page URL's query string", NULL},
    {"context.clickIds.gbraid", "from the page URL's query string", NULL},
    {"context.clickIds.wbraid", "from the page URL's query string", NULL},
    {"context.clickIds.epik", "from the page URL's query string", NULL},
    {"context.clickIds.ScCid", "from the page URL's query string", NULL},
    {"context.clickIds.rdt_cid", "from the page URL's query string", NULL},
    {"context.identity.crossDomain", "true when a cross-domain token was redeemed", cross_domain},
    {"context.identity.linkedFrom", "the id the event arrived with, when a cross-domain token replaced it",
     cross_domain},
    {"context.identity.userId", "the userId Redis knows for the event's id, when the event has none", redis_links},
    {"context.device", "type, manufacturer, model from the User-Agent and client hints (enrichment.user_agent)",
     en_user_agent},
    {"context.os", "name and version from the User-Agent and client hints (enrichment.user_agent)", en_user_agent},
    {"context.browser", "name and version from the User-Agent and client hints (enrichment.user_agent)", en_user_agent},
    {"context.bot", "why the request is a bot (enrichment.bots: flag); integrations without send_bots skip the event",
     en_bot_flag},
    {"context.location",
     "country, region, city looked up with the full client address before any mask (enrichment.geo)", en_geo},
    {"context.session",
     "id, number, start of the visit, from the signed _sluice_ses cookie, only with its consent (enrichment.session)",
     en_session},
    {"context.campaign", "the page URL's utm_* parameters (enrichment.campaign)", en_campaign},
    {"context.referrer", "the referrer's medium and source (enrichment.referrer)", en_referrer},
};

typedef enum read_form {
    READ_HASH,  /* used only when it is a SHA-256 hex digest (the gateway hashed it) */
    READ_RAW,   /* used only when it is not a digest */
    READ_VALUE, /* used as it is */
} read_form_t;

/* One field of a vendor's request and where it comes from. */
typedef struct vendor_read {
    const char *as;
    int user_field;    /* a sluice_user_field_t (its paths come from vendors/envelope.c), or -1 */
    read_form_t form;  /* for user fields: how vendors/<vendor>.c asks for them */
    int personal;      /* about the person: drawn in the map even without a rule */
    int required;      /* 0, or k > 0: the vendor dead-letters an event unless, for some k, it has every read of
                        * alternative k (Meta: the user agent; Pinterest: a hashed e-mail, or the address and
                        * the user agent) */
    const char *paths; /* space-separated, when user_field is -1; "properties.*": every other scalar property */
    const char *note;
} vendor_read_t;

#define PRODUCT_FIELDS(a, b, c, d, e, f)                                                                               \
    "properties.products[*]." a " properties.products[*]." b " properties.products[*]." c " properties.products[*]." d \
    " properties.products[*]." e " properties.products[*]." f

static const vendor_read_t meta_reads[] = {
    {"user_data.em", SLUICE_UF_EMAIL, READ_HASH, 1, 0, NULL, NULL},
    {"user_data.ph", SLUICE_UF_PHONE, READ_HASH, 1, 0, NULL, NULL},
    {"user_data.fn", SLUICE_UF_FIRST_NAME, READ_HASH, 1, 0, NULL, NULL},
    {"user_data.ln", SLUICE_UF_LAST_NAME, READ_HASH, 1, 0, NULL, NULL},
    {"user_data.ge", SLUICE_UF_GENDER, READ_HASH, 1, 0, NULL, NULL},
    {"user_data.db", SLUICE_UF_BIRTHDAY, READ_HASH, 1, 0, NULL, NULL},
    {"user_data.ct", SLUICE_UF_CITY, READ_HASH, 1, 0, NULL, NULL},
    {"user_data.st", SLUICE_UF_STATE, READ_HASH, 1, 0, NULL, NULL},
    {"user_data.zp", SLUICE_UF_ZIP, READ_HASH, 1, 0, NULL, NULL},
    {"user_data.country", SLUICE_UF_COUNTRY, READ_HASH, 1, 0, NULL, NULL},
    {"user_data.external_id", SLUICE_UF_EXTERNAL_ID, READ_HASH, 1, 0, NULL, NULL},
    {"user_data.client_ip_address", -1, READ_VALUE, 1, 0, "context.ip", NULL},
    {"user_data.client_user_agent", -1, READ_VALUE, 1, 1, "context.userAgent", "Meta requires it for website events"},
    {"user_data.fbp", -1, READ_VALUE, 1, 0, "context.vendorIds.fbp", NULL},
    {"user_data.fbc", -1, READ_VALUE, 1, 0, "context.vendorIds.fbc context.clickIds.fbclid",
     "fb.1.<event ms>.<fbclid> when there is no fbc"},
    {"event_source_url", -1, READ_VALUE, 1, 0, "context.page.url properties.url", "properties.url for page events"},
    {"event_id", -1, READ_VALUE, 0, 0, "messageId", NULL},
    {"event_time", -1, READ_VALUE, 0, 0, "timestamp receivedAt", NULL},
    {"event_name", -1, READ_VALUE, 0, 0, "event", "the standard name of a Segment event name"},
    {"custom_data.value", -1, READ_VALUE, 0, 0, "properties.value properties.revenue properties.total", NULL},
    {"custom_data.currency", -1, READ_VALUE, 0, 0, "properties.currency", NULL},
    {"custom_data.order_id", -1, READ_VALUE, 0, 0, "properties.order_id", NULL},
    {"custom_data.contents", -1, READ_VALUE, 0, 0,
     PRODUCT_FIELDS("product_id", "sku", "id", "quantity", "price", "delivery_category") " properties.product_id "
                                                                                         "properties.sku properties.id "
                                                                                         "properties.quantity "
                                                                                         "properties.price "
                                                                                         "properties.delivery_category",
     NULL},
};

static const vendor_read_t ga4_reads[] = {
    {"client_id", -1, READ_VALUE, 1, 0, "context.vendorIds.ga anonymousId", "GA1.1.X.Y becomes X.Y"},
    {"user_id", -1, READ_VALUE, 1, 0, "userId", NULL},
    {"user_data.sha256_email_address", SLUICE_UF_EMAIL, READ_HASH, 1, 0, NULL, "only with a userId"},
    {"user_data.sha256_phone_number", SLUICE_UF_PHONE, READ_HASH, 1, 0, NULL, "only with a userId"},
    {"user_data.address.sha256_first_name", SLUICE_UF_FIRST_NAME, READ_HASH, 1, 0, NULL, "only with a userId"},
    {"user_data.address.sha256_last_name", SLUICE_UF_LAST_NAME, READ_HASH, 1, 0, NULL, "only with a userId"},
    {"user_data.address.city", SLUICE_UF_CITY, READ_RAW, 1, 0, NULL, "only with a userId; GA4 takes it unhashed"},
    {"user_data.address.region", SLUICE_UF_STATE, READ_RAW, 1, 0, NULL, "only with a userId; GA4 takes it unhashed"},
    {"user_data.address.postal_code", SLUICE_UF_ZIP, READ_RAW, 1, 0, NULL, "only with a userId; GA4 takes it unhashed"},
    {"user_data.address.country", SLUICE_UF_COUNTRY, READ_RAW, 1, 0, NULL, "only with a userId; GA4 takes it unhashed"},
    {"user_location.country_id", -1, READ_VALUE, 1, 0, "context.location.countryCode", "a two-letter code only"},
    {"user_location.region_id", -1, READ_VALUE, 1, 0, "context.location.regionCode", "with its country: GB-ENG"},
    {"user_location.city", -1, READ_VALUE, 1, 0, "context.location.city", "with a country code"},
    {"params.page_location", -1, READ_VALUE, 1, 0, "context.page.url properties.url",
     "every event; properties.url for page events"},
    {"params.page_title", -1, READ_VALUE, 1, 0, "context.page.title properties.title",
     "every event; properties.title for page events"},
    {"params.page_referrer", -1, READ_VALUE, 1, 0, "context.page.referrer properties.referrer",
     "every event; properties.referrer for page events"},
    {"params.session_id", -1, READ_VALUE, 0, 0,
     "properties.session_id context.vendorIds.ga_<stream> context.session.start context.sessionId",
     "gtag's session from its cookie, else the gateway's: its start in Unix seconds"},
    {"params.session_number", -1, READ_VALUE, 0, 0,
     "properties.session_number context.vendorIds.ga_<stream> context.session.number", NULL},
    {"params.engagement_time_msec", -1, READ_VALUE, 0, 0, "properties.engagement_time_msec", "else 1"},
    {"params.value", -1, READ_VALUE, 0, 0, "properties.value properties.revenue properties.total", NULL},
    {"params.currency", -1, READ_VALUE, 0, 0, "properties.currency", NULL},
    {"params.transaction_id", -1, READ_VALUE, 0, 0, "properties.order_id", NULL},
    {"params.items", -1, READ_VALUE, 0, 0,
     PRODUCT_FIELDS("product_id", "sku", "id", "name", "price", "quantity") " properties.product_id properties.sku "
                                                                            "properties.id properties.name "
                                                                            "properties.price properties.quantity",
     NULL},
    {"params.<name>", -1, READ_RAW, 0, 0, "properties.*",
     "every other scalar property; values that look like a SHA-256 digest are left out (Google's policy forbids "
     "PII, hashed or not)"},
};

static const vendor_read_t tiktok_reads[] = {
    {"user.email", SLUICE_UF_EMAIL, READ_HASH, 1, 0, NULL, NULL},
    {"user.phone", SLUICE_UF_PHONE, READ_HASH, 1, 0, NULL, NULL},
    {"user.external_id", SLUICE_UF_EXTERNAL_ID, READ_HASH, 1, 0, NULL, NULL},
    {"user.ip", -1, READ_VALUE, 1, 0, "context.ip", NULL},
    {"user.user_agent", -1, READ_VALUE, 1, 0, "context.userAgent", NULL},
    {"user.ttclid", -1, READ_VALUE, 1, 0, "context.clickIds.ttclid", NULL},
    {"user.ttp", -1, READ_VALUE, 1, 0, "context.vendorIds.ttp", NULL},
    {"page.url", -1, READ_VALUE, 1, 0, "context.page.url properties.url", "properties.url for page events"},
    {"page.referrer", -1, READ_VALUE, 1, 0, "context.page.referrer properties.referrer",
     "properties.referrer for page events"},
    {"event_id", -1, READ_VALUE, 0, 0, "messageId", NULL},
    {"event_time", -1, READ_VALUE, 0, 0, "timestamp receivedAt", NULL},
    {"event", -1, READ_VALUE, 0, 0, "event", "the standard name of a Segment event name"},
    {"properties.contents", -1, READ_VALUE, 0, 0,
     PRODUCT_FIELDS("product_id", "sku", "id", "name", "quantity", "price") " properties.product_id properties.sku "
                                                                            "properties.id properties.name "
                                                                            "properties.quantity properties.price",
     NULL},
    {"properties.value", -1, READ_VALUE, 0, 0, "properties.value properties.revenue properties.total", NULL},
    {"properties.currency", -1, READ_VALUE, 0, 0, "properties.currency", NULL},
    {"properties.order_id", -1, READ_VALUE, 0, 0, "properties.order_id", NULL},
    {"properties.query", -1, READ_VALUE, 0, 0, "properties.query", NULL},
};

/* The later vendors (vendors/google_ads.c, pinterest.c, snapchat.c, linkedin.c, reddit.c). */
static const vendor_read_t google_ads_reads[] = {
    {"gclid gbraid wbraid", -1, READ_VALUE, 1, 0,
     "context.clickIds.gclid context.clickIds.gbraid context.clickIds.wbraid",
     "one of them; an event with no click id and no identifier is skipped"},
    {"userIdentifiers.hashedEmail", SLUICE_UF_EMAIL, READ_HASH, 1, 0, NULL, NULL},
    {"userIdentifiers.hashedPhoneNumber", SLUICE_UF_PHONE, READ_HASH, 1, 0, NULL, NULL},
    {"conversionDateTime", -1, READ_VALUE, 0, 0, "timestamp receivedAt", NULL},
    {"conversionValue", -1, READ_VALUE, 0, 0, "properties.value properties.revenue properties.total", NULL},
    {"currencyCode", -1, READ_VALUE, 0, 0, "properties.currency", NULL},
    {"orderId", -1, READ_VALUE, 0, 0, "properties.order_id", NULL},
};

#define SOCIAL_USER_DATA(prefix, req_em, req_ip_ua)                                                                    \
    {prefix "em", SLUICE_UF_EMAIL, READ_HASH, 1, req_em, NULL, NULL},                                                  \
        {prefix "ph", SLUICE_UF_PHONE, READ_HASH, 1, 0, NULL, NULL},                                                   \
        {prefix "fn", SLUICE_UF_FIRST_NAME, READ_HASH, 1, 0, NULL, NULL},                                              \
        {prefix "ln", SLUICE_UF_LAST_NAME, READ_HASH, 1, 0, NULL, NULL},                                               \
        {prefix "ge", SLUICE_UF_GENDER, READ_HASH, 1, 0, NULL, NULL},                                                  \
        {prefix "db", SLUICE_UF_BIRTHDAY, READ_HASH, 1, 0, NULL, NULL},                                                \
        {prefix "ct", SLUICE_UF_CITY, READ_HASH, 1, 0, NULL, NULL},                                                    \
        {prefix "st", SLUICE_UF_STATE, READ_HASH, 1, 0, NULL, NULL},                                                   \
        {prefix "zp", SLUICE_UF_ZIP, READ_HASH, 1, 0, NULL, NULL},                                                     \
        {prefix "country", SLUICE_UF_COUNTRY, READ_HASH, 1, 0, NULL, NULL},                                            \
        {prefix "external_id", SLUICE_UF_EXTERNAL_ID, READ_HASH, 1, 0, NULL, NULL},                                    \
        {prefix "client_ip_address", -1, READ_VALUE, 1, req_ip_ua, "context.ip", NULL},                                \
    {                                                                                                                  \
        prefix "client_user_agent", -1, READ_VALUE, 1, req_ip_ua, "context.userAgent", NULL                            \
    }

/* Pinterest dead-letters an event with neither a hashed e-mail nor both the address and the
 * user agent (vendors/pinterest.c). */
static const vendor_read_t pinterest_reads[] = {
    SOCIAL_USER_DATA("user_data.", 1, 2),
    {"user_data.click_id", -1, READ_VALUE, 1, 0, "context.clickIds.epik", NULL},
    {"event_source_url", -1, READ_VALUE, 1, 0, "context.page.url properties.url", "properties.url for page events"},
    {"event_id", -1, READ_VALUE, 0, 0, "messageId", NULL},
    {"event_time", -1, READ_VALUE, 0, 0, "timestamp receivedAt", NULL},
    {"event_name", -1, READ_VALUE, 0, 0, "event", "Pinterest's name for a Segment event name, else custom"},
    {"custom_data.value", -1, READ_VALUE, 0, 0, "properties.value properties.revenue properties.total", NULL},
    {"custom_data.currency", -1, READ_VALUE, 0, 0, "properties.currency", NULL},
    {"custom_data.order_id", -1, READ_VALUE, 0, 0, "properties.order_id", NULL},
    {"custom_data.search_string", -1, READ_VALUE, 0, 0, "properties.query", NULL},
    {"custom_data.contents", -1, READ_VALUE, 0, 0,
     "properties.products[*].product_id properties.products[*].sku properties.products[*].id "
     "properties.products[*].price properties.products[*].quantity properties.product_id properties.sku "
     "properties.id properties.price properties.quantity",
     NULL},
};

static const vendor_read_t snapchat_reads[] = {
    SOCIAL_USER_DATA("user_data.", 0, 0),
    {"user_data.sc_click_id", -1, READ_VALUE, 1, 0, "context.clickIds.ScCid", NULL},
    {"event_source_url", -1, READ_VALUE, 1, 0, "context.page.url properties.url", "properties.url for page events"},
    {"event_id", -1, READ_VALUE, 0, 0, "messageId", NULL},
    {"event_time", -1, READ_VALUE, 0, 0, "timestamp receivedAt", NULL},
    {"event_name", -1, READ_VALUE, 0, 0, "event", "Snap's name for a Segment event name; others skipped"},
    {"custom_data.value", -1, READ_VALUE, 0, 0, "properties.value properties.revenue properties.total", NULL},
    {"custom_data.currency", -1, READ_VALUE, 0, 0, "properties.currency", NULL},
    {"custom_data.order_id", -1, READ_VALUE, 0, 0, "properties.order_id", NULL},
    {"custom_data.search_string", -1, READ_VALUE, 0, 0, "properties.query", NULL},
    {"custom_data.contents", -1, READ_VALUE, 0, 0,
     "properties.products[*].product_id properties.products[*].sku properties.products[*].id "
     "properties.products[*].price properties.products[*].quantity properties.product_id properties.sku "
     "properties.id properties.price properties.quantity",
     NULL},
};

static const vendor_read_t linkedin_reads[] = {
    {"user.userIds.SHA256_EMAIL", SLUICE_UF_EMAIL, READ_HASH, 1, 0, NULL, NULL},
    {"user.userIds.LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", -1, READ_VALUE, 1, 0, "context.clickIds.li_fat_id", NULL},
    {"eventId", -1, READ_VALUE, 0, 0, "messageId", NULL},
    {"conversionHappenedAt", -1, READ_VALUE, 0, 0, "timestamp receivedAt", NULL},
    {"conversionValue", -1, READ_VALUE, 0, 0,
     "properties.value properties.revenue properties.total properties.currency", NULL},
};

static const vendor_read_t reddit_reads[] = {
    {"user.email", SLUICE_UF_EMAIL, READ_HASH, 1, 0, NULL, NULL},
    {"user.phone_number", SLUICE_UF_PHONE, READ_HASH, 1, 0, NULL, NULL},
    {"user.external_id", SLUICE_UF_EXTERNAL_ID, READ_HASH, 1, 0, NULL, NULL},
    {"user.user_agent", -1, READ_VALUE, 1, 0, "context.userAgent", NULL},
    {"click_id", -1, READ_VALUE, 1, 0, "context.clickIds.rdt_cid", NULL},
    {"event_at", -1, READ_VALUE, 0, 0, "timestamp receivedAt", NULL},
    {"type.tracking_type", -1, READ_VALUE, 0, 0, "event", "Reddit's type for a Segment event name, else CUSTOM"},
    {"metadata.conversion_id", -1, READ_VALUE, 0, 0, "messageId", NULL},
    {"metadata.value", -1, READ_VALUE, 0, 0, "properties.value properties.revenue properties.total", NULL},
    {"metadata.currency", -1, READ_VALUE, 0, 0, "properties.currency", NULL},
    {"metadata.products", -1, READ_VALUE, 0, 0,
     "properties.products[*].product_id properties.products[*].sku properties.products[*].id "
     "properties.products[*].name properties.products[*].category properties.products[*].quantity "
     "properties.product_id properties.sku properties.id properties.name properties.category properties.quantity",
     NULL},
};

/* Properties GA4 maps to its own parameters; "properties.*" means every other one. */
static const char *const ga4_consumed[] = {"value", "revenue", "total", "currency", "order_id", "products", NULL};

typedef struct vendor_info {
    const vendor_read_t *reads; /* NULL: the vendor receives the whole envelope */
    size_t read_count;
    const char *const *types; /* event types its mapping sends (the others are skipped) */
} vendor_info_t;

static const char *const all_types[] = {"track", "page", "screen", "identify", "group", "alias", NULL};
static const char *const track_page[] = {"track", "page", NULL};
static const char *const track_page_screen[] = {"track", "page", "screen", NULL};
static const char *const track_only[] = {"track", NULL};

#define READS(t) (t), sizeof(t) / sizeof((t)[0])

static vendor_info_t vendor_info(sluice_vendor_kind_t v)
{
    switch (v) {
    case SLUICE_VENDOR_META: return (vendor_info_t){meta_reads, sizeof(meta_reads) / sizeof(meta_reads[0]), track_page};
    case SLUICE_VENDOR_GA4:
        return (vendor_info_t){ga4_reads, sizeof(ga4_reads) / sizeof(ga4_reads[0]), track_page_screen};
    case SLUICE_VENDOR_TIKTOK:
        return (vendor_info_t){tiktok_reads, sizeof(tiktok_reads) / sizeof(tiktok_reads[0]), track_page};
    case SLUICE_VENDOR_GOOGLE_ADS: return (vendor_info_t){READS(google_ads_reads), track_only};
    case SLUICE_VENDOR_PINTEREST: return (vendor_info_t){READS(pinterest_reads), track_page};
    case SLUICE_VENDOR_SNAPCHAT: return (vendor_info_t){READS(snapchat_reads), track_page};
    case SLUICE_VENDOR_LINKEDIN: return (vendor_info_t){READS(linkedin_reads), track_only};
    case SLUICE_VENDOR_REDDIT: return (vendor_info_t){READS(reddit_reads), track_page};
    default: break;
    }
    return (vendor_info_t){NULL, 0, all_types};
}

/* ------------------------------------------------------------------ paths and rules */

/* 1 when the first n bytes of a rule path name the members path's first n bytes do, as the data
 * layer matches them (config/path.c): the event's own field (the first key) exactly, the keys
 * below it without regard to ASCII case. A rule on `traits.Email` hashes traits.email, which
 * Meta reads; compared byte for byte the map said Meta received no e-mail. */
static int same_members(const char *rule, const char *path, size_t n)
{
    size_t first = strcspn(rule, ".[");
    if (first > n)
        first = n;
    return strncmp(rule, path, first) == 0 && strncasecmp(rule + first, path + first, n - first) == 0;
}

/* 1 when a rule on `rule` acts on exactly `path`. */
static int names(const char *rule, const char *path)
{
    size_t n = strlen(rule);
    return strlen(path) == n && same_members(rule, path, n);
}

/* 1 when a rule on `rule` acts on `path`: the same path, or a path inside it. */
static int covers(const char *rule, const char *path)
{
    size_t n = strlen(rule);
    return strlen(path) >= n && same_members(rule, path, n) && (path[n] == '\0' || path[n] == '.' || path[n] == '[');
}

typedef enum action { ACT_PASS = 0, ACT_HASH, ACT_MASK, ACT_DROP } action_t;

static const char *const action_names[] = {"pass", "hash", "mask", "drop"};

/* The rule that acts on a path: which list, which entry, and whether through its mirror. */
typedef struct rule_ref {
    action_t action;
    size_t index;
    const char *rule_path; /* the path the rule acts on (its own or its mirror) */
    int mirror;
} rule_ref_t;

static const char *drop_path(const sluice_org_t *org, size_t i, int mirror)
{
    if (!mirror)
        return org->drop[i].text;
    return org->drop_mirrors != NULL ? org->drop_mirrors[i].text : NULL;
}

/* Finds the rule for path: an exact match first, then a rule on a path that contains it, in
 * the data layer's order (drop, hash, mask): what acts first decides. */
static rule_ref_t find_rule(const sluice_org_t *org, const char *path)
{
    for (int exact = 1; exact >= 0; exact--) {
        for (size_t i = 0; i < org->drop_count; i++)
            for (int m = 0; m < 2; m++) {
                const char *p = drop_path(org, i, m);
                if (p != NULL && (exact ? names(p, path) : covers(p, path)))
                    return (rule_ref_t){ACT_DROP, i, p, m};
            }
        for (size_t i = 0; i < org->hash_rule_count; i++)
            for (int m = 0; m < 2; m++) {
                const char *p = m ? org->hash_rules[i].mirror.text : org->hash_rules[i].path.text;
                if (p != NULL && (exact ? names(p, path) : covers(p, path)))
                    return (rule_ref_t){ACT_HASH, i, p, m};
            }
        for (size_t i = 0; i < org->mask_rule_count; i++)
            for (int m = 0; m < 2; m++) {
                const char *p = m ? org->mask_rules[i].mirror.text : org->mask_rules[i].path.text;
                if (p != NULL && (exact ? names(p, path) : covers(p, path)))
                    return (rule_ref_t){ACT_MASK, i, p, m};
            }
    }
    return (rule_ref_t){ACT_PASS, 0, NULL, 0};
}

static int consent_strips(const sluice_org_t *org)
{
    return org->consent.required_count > 0 && org->consent.policy == SLUICE_CONSENT_STRIP;
}

/* 1 when `strip` removes path from events without the required consent. */
static int stripped(const sluice_org_t *org, const char *path)
{
    if (!consent_strips(org))
        return 0;
    for (size_t i = 0; sluice_datalayer_identifying[i] != NULL; i++)
        if (covers(sluice_datalayer_identifying[i], path))
            return 1;
    for (size_t i = 0; i < org->hash_rule_count; i++)
        if (covers(org->hash_rules[i].path.text, path))
            return 1;
    for (size_t i = 0; i < org->mask_rule_count; i++)
        if (covers(org->mask_rules[i].path.text, path))
            return 1;
    return 0;
}

static const enrichment_t *enrichment_of(const sluice_config_t *cfg, const sluice_org_t *org, const char *path)
{
    for (size_t i = 0; i < sizeof(enrichments) / sizeof(enrichments[0]); i++)
        if (strcmp(enrichments[i].path, path) == 0 &&
            (enrichments[i].applies == NULL || enrichments[i].applies(cfg, org)))
            return &enrichments[i];
    return NULL;
}

/* ------------------------------------------------------------------ JSON helpers */

static json_t *strings(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *cstrings(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v[i] != NULL; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static int json_has_string(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return 1;
    }
    return 0;
}

static int in_list(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* A mask rule's parameters as JSON, scalars as written (they never hold secrets: the config
 * refuses inline secrets; a *_env parameter names a variable). */
static json_t *yaml_json(const sluice_yaml_node_t *n)
{
    if (n == NULL)
        return json_null();
    if (n->type == SLUICE_YAML_MAP) {
        json_t *o = json_object();
        for (size_t i = 0; i < n->pair_count; i++)
            json_object_set_new(o, n->pairs[i].key->scalar, yaml_json(n->pairs[i].value));
        return o;
    }
    if (n->type == SLUICE_YAML_SEQ) {
        json_t *a = json_array();
        for (size_t i = 0; i < n->item_count; i++)
            json_array_append_new(a, yaml_json(n->items[i]));
        return a;
    }
    long long iv;
    if (!n->quoted && sluice_yaml_as_int(n, &iv) == 0)
        return json_integer(iv);
    int b;
    if (!n->quoted && sluice_yaml_as_bool(n, &b) == 0)
        return json_boolean(b);
    if (sluice_yaml_is_null(n) == 0)
        return json_null();
    return json_string(n->scalar);
}

/* ------------------------------------------------------------------ the map */

typedef struct build {
    const sluice_config_t *cfg;
    const sluice_org_t *org;
    json_t *fields; /* the array being built */
    json_t *warnings;
    sluice_piiguard_t *guard; /* the org's PII guard, run on probe events (guard_token) */
    sluice_piiguard_thread_t *guard_thread;
} build_t;

/* Sets path (dots and `[*]`, one element per array) in root to v (stolen). */
static void probe_set(json_t *root, const char *path, json_t *v)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = root;
    char *s = buf;
    for (;;) {
        size_t n = strcspn(s, ".[");
        char sep = s[n];
        s[n] = '\0';
        if (sep == '\0') {
            json_object_set_new(cur, s, v);
            return;
        }
        json_t *next = json_object_get(cur, s);
        if (sep == '[') { /* "[*]" then "." or the end */
            json_t *arr = json_array(), *el = json_object();
            if (s[n + 3] == '\0') {
                json_array_append_new(arr, v);
                json_object_set_new(cur, s, arr);
                json_decref(el);
                return;
            }
            json_array_append_new(arr, el);
            json_object_set_new(cur, s, arr);
            cur = el;
            s += n + 4;
            continue;
        }
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(cur, s, next);
        }
        cur = next;
        s += n + 1;
    }
}

/* What the org's PII guard leaves of a value no rule covers at path when the value itself holds
 * nothing the scanner finds: NULL when it passes, else the replacement ("[postal_code]", or a
 * SHA-256 under hash). Under mask and hash a key that names personal data (traits.zip,
 * traits.address.postalCode) loses its value whatever it holds; the map said those passed and
 * reached GA4 as sent. The guard itself is run on a probe event, so the map follows its key
 * names, exceptions and skipped fields as they are. Caller frees. */
static char *guard_token(const build_t *b, const char *path)
{
    if (b->guard == NULL || b->guard_thread == NULL)
        return NULL;
    static const char probe[] = "sluice-map-probe";
    json_t *ev = json_pack("{s:s,s:s,s:s}", "type", "track", "event", "map", "anonymousId", "map-probe");
    json_t *privacy = json_object();
    char *out = NULL;
    if (ev != NULL && privacy != NULL) {
        probe_set(ev, path, json_string(probe));
        sluice_piiguard_stats_t st = {0};
        if (sluice_piiguard_apply(b->guard, b->guard_thread, ev, NULL, privacy, 0, NULL, &st) == 0 && st.changed > 0) {
            /* the value (or, for a path the probe could not build, nothing) is what the guard left */
            json_t *e = ev;
            for (const char *p = path; *p != '\0' && e != NULL;) {
                size_t n = strcspn(p, ".[");
                e = json_object_getn(e, p, n);
                p += n;
                if (strncmp(p, "[*]", 3) == 0) {
                    e = json_array_get(e, 0);
                    p += 3;
                }
                if (*p == '.')
                    p++;
            }
            out = strdup(json_is_string(e) ? json_string_value(e) : "removed");
        }
    }
    json_decref(ev);
    json_decref(privacy);
    return out;
}

static json_t *find_field(const build_t *b, const char *path)
{
    size_t i;
    json_t *f;
    json_array_foreach(b->fields, i, f) {
        if (strcmp(json_string_value(json_object_get(f, "path")), path) == 0)
            return f;
    }
    return NULL;
}

/* The field a rule path names in another ASCII case (the data layer's match, names()): the
 * row of rule traits.Email is where Meta's read of traits.email arrives. */
static json_t *find_field_named(const build_t *b, const char *path)
{
    size_t i;
    json_t *f;
    json_array_foreach(b->fields, i, f) {
        if (names(json_string_value(json_object_get(f, "path")), path))
            return f;
    }
    return NULL;
}

/* The hash variants the envelope carries for a hash rule: those the gateway computes for the
 * org's enabled integrations (sluice_datalayer_variants: TikTok's phone with Reddit's, for the
 * previous release's Reddit worker, too) that differ from the default for its normaliser. */
static json_t *variants_of(const sluice_org_t *org, sluice_normalizer_t n)
{
    json_t *a = json_array();
    unsigned bits = sluice_datalayer_variants(org);
    for (int v = 1; v < SLUICE_VARIANT_COUNT; v++) {
        if ((bits & (1u << v)) && sluice_normalize_variant_differs(n, (sluice_hash_variant_t)v))
            json_array_append_new(a, json_string(sluice_hash_variant_name((sluice_hash_variant_t)v)));
    }
    return a;
}

/* Adds the field at path (once), with what the data layer does to it. */
static json_t *add_field(build_t *b, const char *path)
{
    json_t *f = find_field(b, path);
    if (f != NULL)
        return f;
    const sluice_org_t *org = b->org;
    f = json_object();
    json_object_set_new(f, "path", json_string(path));
    const enrichment_t *en = enrichment_of(b->cfg, org, path);
    json_object_set_new(f, "set_by", json_string(en != NULL ? "gateway" : "event"));
    if (en != NULL)
        json_object_set_new(f, "gateway_sets", json_string(en->what));
    rule_ref_t r = find_rule(org, path);
    char *token = r.action == ACT_PASS && en == NULL ? guard_token(b, path) : NULL;
    if (token != NULL) {
        /* No rule, but the guard replaces the value whole: the vendors get what it leaves. */
        /* Under hash the value becomes the SHA-256 of its normalised form; only a value the key's
         * normaliser refuses (as the probe is, for a phone) becomes the token. */
        int hashed = org->pii_guard.mode == SLUICE_PII_GUARD_HASH;
        json_object_set_new(f, "action", json_string(hashed ? "hash" : "mask"));
        json_object_set_new(f, "rule", json_string("pii_guard"));
        if (hashed) {
            json_object_set_new(f, "normalize", json_string("by its key's name (PII guard)"));
            if (token[0] == '[')
                json_object_set_new(f, "refused_becomes", json_string(token));
            json_object_set_new(f, "variants", json_array());
        } else {
            json_object_set_new(f, "plugin", json_string("pii_guard"));
            json_object_set_new(f, "params", json_pack("{s:s}", "becomes", token));
            json_object_set_new(f, "on_error", json_string("remove"));
        }
        free(token);
    } else {
        json_object_set_new(f, "action", json_string(action_names[r.action]));
    }
    if (r.action != ACT_PASS) {
        const char *list = r.action == ACT_HASH ? "hash_fields" : r.action == ACT_MASK ? "mask" : "drop";
        char rule[64];
        snprintf(rule, sizeof(rule), "%s[%zu]", list, r.index);
        json_object_set_new(f, "rule", json_string(rule));
        if (r.mirror) {
            const char *own = r.action == ACT_HASH   ? org->hash_rules[r.index].path.text
                              : r.action == ACT_MASK ? org->mask_rules[r.index].path.text
                                                     : org->drop[r.index].text;
            json_object_set_new(f, "mirror_of", json_string(own));
        }
        if (names(r.rule_path, path) && strcmp(r.rule_path, path) != 0)
            json_object_set_new(f, "rule_spelling", json_string(r.rule_path)); /* another case, same field */
        else if (strcmp(r.rule_path, path) != 0)
            json_object_set_new(f, "covered_by", json_string(r.rule_path));
    }
    if (r.action == ACT_HASH) {
        const sluice_hash_rule_t *h = &org->hash_rules[r.index];
        json_object_set_new(f, "normalize", json_string(sluice_normalizer_name(h->normalizer)));
        if (h->default_country_code != NULL)
            json_object_set_new(f, "default_country_code", json_string(h->default_country_code));
        json_object_set_new(f, "variants", variants_of(org, h->normalizer));
    } else if (r.action == ACT_MASK) {
        const sluice_mask_rule_t *m = &org->mask_rules[r.index];
        json_object_set_new(f, "plugin", json_string(m->plugin));
        json_object_set_new(f, "params", m->params != NULL ? yaml_json(m->params) : json_object());
        json_object_set_new(f, "on_error",
                            json_string(m->on_error == SLUICE_MASK_ON_ERROR_REJECT ? "reject" : "remove"));
    }
    json_object_set_new(f, "removed_without_consent", json_boolean(stripped(org, path)));
    json_object_set_new(f, "to", json_array());
    json_array_append_new(b->fields, f);
    return f;
}

/* The paths a read takes, expanded (user fields from vendors/envelope.c). */
static json_t *read_paths(const vendor_read_t *r)
{
    if (r->user_field >= 0)
        return cstrings(sluice_envelope_field_paths((sluice_user_field_t)r->user_field));
    json_t *a = json_array();
    const char *s = r->paths;
    while (*s != '\0') {
        const char *e = strchr(s, ' ');
        size_t n = e != NULL ? (size_t)(e - s) : strlen(s);
        json_array_append_new(a, json_stringn(s, n));
        s += n;
        while (*s == ' ')
            s++;
    }
    return a;
}

/* 1 when path is a direct scalar member of properties GA4 sends as its own parameter. */
static int ga4_generic(const char *path)
{
    if (strncmp(path, "properties.", 11) != 0 || strpbrk(path + 11, ".[") != NULL || path[11] == '\0')
        return 0;
    for (size_t i = 0; ga4_consumed[i] != NULL; i++)
        if (strcmp(ga4_consumed[i], path + 11) == 0)
            return 0;
    return 1;
}

/* 1 when a value the data layer left as `action` is used by a read of that form. */
static int reaches(action_t action, read_form_t form)
{
    switch (form) {
    case READ_HASH: return action == ACT_HASH;
    case READ_RAW: return action == ACT_PASS || action == ACT_MASK;
    case READ_VALUE: return action != ACT_DROP;
    }
    return 0;
}

static action_t action_of(const json_t *f)
{
    const char *a = json_string_value(json_object_get(f, "action"));
    for (int i = 0; i < 4; i++)
        if (strcmp(a, action_names[i]) == 0)
            return (action_t)i;
    return ACT_PASS;
}

/* How the value looks when it reaches an integration. */
static void form_text(const json_t *f, sluice_vendor_kind_t vendor, char *out, size_t cap)
{
    switch (action_of(f)) {
    case ACT_HASH: {
        sluice_hash_variant_t v = sluice_hash_variant_for_vendor(vendor);
        if (v != SLUICE_VARIANT_DEFAULT && json_has_string(json_object_get(f, "variants"), sluice_hash_variant_name(v)))
            snprintf(out, cap, "sha256, %s variant", sluice_hash_variant_name(v));
        else
            snprintf(out, cap, "sha256");
        break;
    }
    case ACT_MASK: snprintf(out, cap, "masked by %s", json_string_value(json_object_get(f, "plugin"))); break;
    case ACT_DROP: snprintf(out, cap, "removed"); break;
    case ACT_PASS:
        snprintf(out, cap, "%s",
                 strcmp(json_string_value(json_object_get(f, "set_by")), "gateway") == 0 ? "as the gateway sets it"
                                                                                         : "as sent");
        break;
    }
}

/* Records that field f reaches integration it as vendor field `as`. */
static void add_flow(json_t *f, const sluice_integration_t *it, const char *as)
{
    json_t *to = json_object_get(f, "to");
    size_t i;
    json_t *flow;
    json_array_foreach(to, i, flow) {
        if (strcmp(json_string_value(json_object_get(flow, "integration")), it->name) == 0) {
            if (!json_has_string(json_object_get(flow, "as"), as))
                json_array_append_new(json_object_get(flow, "as"), json_string(as));
            return;
        }
    }
    char form[96];
    form_text(f, it->vendor, form, sizeof(form));
    json_array_append_new(to, json_pack("{s:s,s:[s],s:s}", "integration", it->name, "as", as, "form", form));
}

static json_t *integration_types(const sluice_integration_t *it, const vendor_info_t *vi)
{
    json_t *a = json_array();
    for (size_t i = 0; vi->types[i] != NULL; i++)
        if (it->type_count == 0 || in_list(it->types, it->type_count, vi->types[i]))
            json_array_append_new(a, json_string(vi->types[i]));
    return a;
}

/* The first required category an integration's own consent does not vouch for, or NULL: the
 * data layer strips an event that lacks any required category, and the worker checks only the
 * integration's one, so with `required: [analytics, marketing]` an integration on `analytics`
 * still receives events stripped for lack of `marketing`. */
static const char *stripped_for(const sluice_org_t *org, const sluice_integration_t *it)
{
    if (!consent_strips(org))
        return NULL;
    for (size_t i = 0; i < org->consent.required_count; i++)
        if (it->consent == NULL || strcmp(org->consent.required[i], it->consent) != 0)
            return org->consent.required[i];
    return NULL;
}

static int sees_stripped(const sluice_org_t *org, const sluice_integration_t *it)
{
    return stripped_for(org, it) != NULL;
}

static const char *const form_names[] = {"sha256", "not a hash", "value"};

/* One integration: its filters, and each vendor field with the paths that reach it. */
static json_t *integration_json(build_t *b, const sluice_integration_t *it)
{
    const sluice_org_t *org = b->org;
    vendor_info_t vi = vendor_info(it->vendor);
    json_t *o = json_pack("{s:s,s:s,s:b,s:s?,s:o,s:o,s:o,s:o,s:b}", "name", it->name, "vendor",
                          sluice_vendor_kind_name(it->vendor), "enabled", it->enabled, "consent", it->consent, "types",
                          strings(it->types, it->type_count), "events", strings(it->events, it->event_count),
                          "vendor_types", cstrings(vi.types), "sends_types", integration_types(it, &vi),
                          "sees_stripped", sees_stripped(org, it));
    json_object_set_new(o, "receives", json_string(vi.reads == NULL ? "envelope" : "mapped"));
    json_t *reads = json_array();
    /* Per alternative of what the vendor requires (vendor_read_t.required): whether one of its
     * reads is always removed (gone), or removed from events stripped for lack of consent. */
    enum { ALT_MAX = 4 };
    int alt_used[ALT_MAX] = {0}, alt_gone[ALT_MAX] = {0}, alt_stripped[ALT_MAX] = {0};
    char alt_text[ALT_MAX][160] = {{0}};
    for (size_t k = 0; k < vi.read_count; k++) {
        const vendor_read_t *r = &vi.reads[k];
        json_t *paths = read_paths(r);
        json_t *sent = json_array();
        json_t *rj = json_pack("{s:s,s:o,s:s}", "as", r->as, "paths", paths, "form", form_names[r->form]);
        if (r->form == READ_HASH)
            json_object_set_new(rj, "variant",
                                json_string(sluice_hash_variant_name(sluice_hash_variant_for_vendor(it->vendor))));
        json_object_set_new(rj, "personal", json_boolean(r->personal));
        json_object_set_new(rj, "required", json_boolean(r->required));
        if (r->note != NULL)
            json_object_set_new(rj, "note", json_string(r->note));
        size_t i;
        json_t *p;
        if (strcmp(r->paths != NULL ? r->paths : "", "properties.*") == 0) {
            /* Every other scalar property: the org's own rule paths are the ones worth naming. */
            json_t *f;
            json_array_foreach(b->fields, i, f) {
                const char *path = json_string_value(json_object_get(f, "path"));
                if (ga4_generic(path) && reaches(action_of(f), r->form)) {
                    json_array_append_new(sent, json_string(path));
                    if (it->enabled) {
                        char as[160];
                        snprintf(as, sizeof(as), "params.%.40s", path + 11);
                        add_flow(f, it, as);
                    }
                }
            }
        } else {
            int required_gone = r->required, required_stripped = r->required;
            json_array_foreach(paths, i, p) {
                const char *path = json_string_value(p);
                json_t *f = find_field(b, path);
                if (f == NULL)
                    f = find_field_named(b, path);
                action_t act = f != NULL ? action_of(f) : find_rule(org, path).action;
                if (act != ACT_DROP)
                    required_gone = 0;
                if (!stripped(org, path))
                    required_stripped = 0;
                if (!reaches(act, r->form))
                    continue;
                json_array_append_new(sent, json_string(path));
                if (f != NULL && it->enabled)
                    add_flow(f, it, r->as);
            }
            if (r->required > 0 && r->required < ALT_MAX) {
                int a = r->required;
                char *t = alt_text[a];
                size_t used = strlen(t);
                snprintf(t + used, sizeof(alt_text[a]) - used, "%s%s (%s)", used > 0 ? " and " : "", r->as,
                         json_string_value(json_array_get(paths, 0)));
                alt_used[a] = 1;
                alt_gone[a] |= required_gone;
                alt_stripped[a] |= required_gone || required_stripped;
            }
        }
        json_object_set_new(rj, "sent", sent);
        json_array_append_new(reads, rj);
    }
    json_object_set_new(o, "reads", reads);
    int alts = 0, all_gone = 1, all_stripped = 1;
    char without[ALT_MAX * 170] = "";
    for (int a = 1; a < ALT_MAX; a++) {
        if (!alt_used[a])
            continue;
        alts++;
        all_gone &= alt_gone[a];
        all_stripped &= alt_stripped[a];
        size_t used = strlen(without);
        snprintf(without + used, sizeof(without) - used, "%s%s", used > 0 ? ", or " : "", alt_text[a]);
    }
    const char *vname = sluice_vendor_kind_name(it->vendor);
    if (alts > 0 && it->enabled && all_gone)
        json_array_append_new(b->warnings, json_sprintf("%s: %s needs %s, and the data layer removes every path it is "
                                                        "read from, so %s dead-letters every event",
                                                        it->name, vname, without, vname));
    else if (alts == 1 && it->enabled && all_stripped && sees_stripped(org, it) && strstr(without, " and ") == NULL)
        json_array_append_new(b->warnings,
                              json_sprintf("%s: events without consent %s reach it stripped, without %s, so %s "
                                           "dead-letters them",
                                           it->name, stripped_for(org, it), without, vname));
    else if (alts > 0 && it->enabled && all_stripped && sees_stripped(org, it))
        json_array_append_new(b->warnings,
                              json_sprintf("%s: %s needs %s; events without consent %s reach it stripped of them, so "
                                           "%s dead-letters them",
                                           it->name, vname, without, stripped_for(org, it), vname));
    return o;
}

/* Adds the paths of the person's data an integration reads, as they are, without a rule. */
static void add_unruled_reads(build_t *b, const sluice_integration_t *it)
{
    vendor_info_t vi = vendor_info(it->vendor);
    for (size_t k = 0; k < vi.read_count; k++) {
        const vendor_read_t *r = &vi.reads[k];
        /* A hashed read takes a path no rule names only when the guard hashes it (mode hash, a
         * key that names the person's data: traits.email without a rule reaches Meta as em). */
        int guard_hashes = b->org->pii_guard.mode == SLUICE_PII_GUARD_HASH;
        if (!r->personal || (r->form == READ_HASH && !guard_hashes))
            continue;
        json_t *paths = read_paths(r);
        size_t i;
        json_t *p;
        json_array_foreach(paths, i, p) {
            const char *path = json_string_value(p);
            if (find_field(b, path) != NULL || find_field_named(b, path) != NULL)
                continue;
            action_t act = find_rule(b->org, path).action;
            if (r->form == READ_HASH) {
                char *token = act == ACT_PASS ? guard_token(b, path) : NULL;
                if (token != NULL)
                    add_field(b, path);
                free(token);
            } else if (reaches(act, r->form)) {
                add_field(b, path);
            }
        }
        json_decref(paths);
    }
}

static const char *const policy_names[] = {"allow", "drop", "strip"};

static json_t *consent_json(const sluice_org_t *org)
{
    const sluice_consent_config_t *c = &org->consent;
    json_t *aliases = json_object();
    for (size_t i = 0; i < c->alias_count; i++)
        json_object_set_new(aliases, c->aliases[i].key, json_string(c->aliases[i].value));
    const char *without = c->required_count == 0              ? "all passed (no category is required)"
                          : c->policy == SLUICE_CONSENT_ALLOW ? "accepted unchanged"
                          : c->policy == SLUICE_CONSENT_DROP  ? "answered ok and never queued"
                                                              : "queued without identifying fields";
    json_t *o = json_pack("{s:o,s:s,s:o,s:s}", "required", strings(c->required, c->required_count), "policy",
                          policy_names[c->policy], "aliases", aliases, "without_consent", without);
    json_t *removes = json_array();
    if (consent_strips(org)) {
        for (size_t i = 0; sluice_datalayer_identifying[i] != NULL; i++)
            json_array_append_new(removes, json_string(sluice_datalayer_identifying[i]));
        for (size_t i = 0; i < org->hash_rule_count; i++)
            if (!json_has_string(removes, org->hash_rules[i].path.text))
                json_array_append_new(removes, json_string(org->hash_rules[i].path.text));
        for (size_t i = 0; i < org->mask_rule_count; i++)
            if (!json_has_string(removes, org->mask_rules[i].path.text))
                json_array_append_new(removes, json_string(org->mask_rules[i].path.text));
    }
    json_object_set_new(o, "strip_removes", removes);
    return o;
}

json_t *sluicectl_datamap_build(const sluice_config_t *cfg, const sluice_org_t *org)
{
    build_t b = {.cfg = cfg, .org = org, .fields = json_array(), .warnings = json_array()};
    if (org->pii_guard.mode == SLUICE_PII_GUARD_MASK || org->pii_guard.mode == SLUICE_PII_GUARD_HASH) {
        b.guard = sluice_piiguard_create(org);
        b.guard_thread = sluice_piiguard_thread_create();
    }
    /* 1. every rule path, each followed by its mirror, in the data layer's order */
    for (size_t i = 0; i < org->drop_count; i++) {
        add_field(&b, org->drop[i].text);
        if (drop_path(org, i, 1) != NULL)
            add_field(&b, drop_path(org, i, 1));
    }
    for (size_t i = 0; i < org->hash_rule_count; i++) {
        add_field(&b, org->hash_rules[i].path.text);
        if (org->hash_rules[i].mirror.text != NULL)
            add_field(&b, org->hash_rules[i].mirror.text);
    }
    for (size_t i = 0; i < org->mask_rule_count; i++) {
        add_field(&b, org->mask_rules[i].path.text);
        if (org->mask_rules[i].mirror.text != NULL)
            add_field(&b, org->mask_rules[i].mirror.text);
    }
    /* 2. what the gateway writes */
    for (size_t i = 0; i < sizeof(enrichments) / sizeof(enrichments[0]); i++)
        if (enrichments[i].applies == NULL || enrichments[i].applies(cfg, org))
            add_field(&b, enrichments[i].path);
    /* 3. the person's fields that reach a vendor without a rule */
    for (size_t i = 0; i < org->integration_count; i++)
        if (org->integrations[i].enabled)
            add_unruled_reads(&b, &org->integrations[i]);
    /* 4. where each field goes */
    json_t *integrations = json_array();
    for (size_t i = 0; i < org->integration_count; i++)
        json_array_append_new(integrations, integration_json(&b, &org->integrations[i]));
    /* The whole envelope: every field the data layer keeps. */
    json_t *other_to = json_array();
    for (size_t k = 0; k < org->integration_count; k++) {
        const sluice_integration_t *it = &org->integrations[k];
        if (!it->enabled)
            continue;
        if (vendor_info(it->vendor).reads == NULL) {
            size_t i;
            json_t *f;
            json_array_foreach(b.fields, i, f) {
                if (action_of(f) != ACT_DROP)
                    add_flow(f, it, "envelope");
            }
            json_array_append_new(
                other_to, json_pack("{s:s,s:[s],s:s}", "integration", it->name, "as", "envelope", "form", "as sent"));
        } else if (it->vendor == SLUICE_VENDOR_GA4) {
            json_array_append_new(other_to, json_pack("{s:s,s:[s],s:s}", "integration", it->name, "as", "params.<name>",
                                                      "form", "scalar properties, as sent"));
        }
    }
    /* Every other field goes through the PII guard (gateway/piiguard.h) as the org's mode says. */
    static const char *const guard_actions[] = {"pass", "pass, PII found reported", "PII found masked",
                                                "PII found hashed"};
    const sluice_pii_guard_config_t *g = &org->pii_guard;
    json_t *except = json_array(), *kinds = json_array();
    for (size_t i = 0; i < g->except_count; i++)
        json_array_append_new(except, json_string(g->except[i].text));
    json_array_append_new(kinds, json_string("email"));
    json_array_append_new(kinds, json_string("phone"));
    json_array_append_new(kinds, json_string("card"));
    json_array_append_new(kinds, json_string("iban"));
    for (unsigned k = SLUICE_SCAN_US_SSN; k <= SLUICE_SCAN_ES_DNI; k <<= 1)
        if (g->national_ids & k)
            json_array_append_new(kinds, json_string(sluice_scan_kind_name(k)));
    static const char *const modes[] = {"off", "report", "mask", "hash"};
    json_t *guard = json_pack("{s:s,s:o,s:o,s:b}", "mode", modes[g->mode], "looks_for", kinds, "except", except,
                              "key_names", g->key_names);
    sluice_piiguard_thread_destroy(b.guard_thread);
    sluice_piiguard_destroy(b.guard);
    return json_pack("{s:s,s:o,s:o,s:{s:s,s:o,s:o},s:o,s:o}", "org", org->id, "consent", consent_json(org), "fields",
                     b.fields, "other_fields", "action", guard_actions[g->mode], "pii_guard", guard, "to", other_to,
                     "integrations", integrations, "warnings", b.warnings);
}
