/*
 * The `enrichment` keys (docs/enrichment.md): per org which enrichments run and how, and at the
 * root the files they read (the MaxMind database, uap-core's regexes). Every part is off unless
 * its key is written; a part given as `true` takes its defaults. Main thread (config load).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/decode.h"

static const char *const bots_names[] = {"off", "keep", "flag", "drop", NULL};
static const char *const geo_names[] = {"off", "country", "region", "city", NULL};
static const char *const medium_names[] = {"search", "social", "email", "internal", "other", NULL};

/* A key that is either `true`/`false` or a map of options: 1 when a map is to be read (m opened),
 * 0 when a boolean was read into *on, -1 when absent or wrong. */
static int bool_or_map(sluice_dec_map_t *parent, const char *key, int *on, sluice_dec_map_t *m)
{
    const sluice_yaml_node_t *n = sluice_yaml_map_get(parent->node, key);
    if (n == NULL || sluice_yaml_is_null(n) == 0) {
        sluice_dec_take(parent, key);
        return -1;
    }
    if (n->type == SLUICE_YAML_SCALAR)
        return sluice_dec_bool(parent, key, on) == 1 ? 0 : -1;
    if (sluice_dec_map_sub(parent, key, m) == 1) {
        *on = 1;
        return 1;
    }
    sluice_dec_map_close(m);
    return -1;
}

static void decode_bots(sluice_enrich_config_t *e, sluice_dec_map_t *em)
{
    e->bots_no_user_agent = 1;
    const sluice_yaml_node_t *n = sluice_yaml_map_get(em->node, "bots");
    if (n == NULL || sluice_yaml_is_null(n) == 0) {
        sluice_dec_take(em, "bots");
        return;
    }
    int action = SLUICE_BOTS_FLAG;
    if (n->type == SLUICE_YAML_SCALAR) {
        if (sluice_dec_enum(em, "bots", 0, bots_names, &action) == 1)
            e->bots = (sluice_bots_action_t)action;
        return;
    }
    sluice_dec_map_t m;
    if (sluice_dec_map_sub(em, "bots", &m) == 1) {
        sluice_dec_enum(&m, "action", 0, bots_names, &action);
        e->bots = (sluice_bots_action_t)action;
        sluice_dec_string_list(&m, "patterns", 0, NULL, 1, &e->bot_patterns, &e->bot_pattern_count);
        char **ranges = NULL;
        size_t count = 0;
        if (sluice_dec_string_list(&m, "ip_ranges", 0, NULL, 1, &ranges, &count) == 1) {
            const sluice_yaml_node_t *list = sluice_yaml_map_get(m.node, "ip_ranges");
            e->bot_ranges = sluice_dec_xcalloc(count ? count : 1, sizeof(*e->bot_ranges));
            for (size_t i = 0; i < count; i++) {
                if (sluice_cidr_parse(ranges[i], &e->bot_ranges[e->bot_range_count]) == 0)
                    e->bot_range_count++;
                else
                    sluice_config_diag_add(m.diag, i < list->item_count ? &list->items[i]->pos : &list->pos,
                                           "%s.ip_ranges: '%s' is not an address or CIDR range", m.path, ranges[i]);
                free(ranges[i]);
            }
        }
        free(ranges);
        sluice_dec_bool(&m, "no_user_agent", &e->bots_no_user_agent);
    }
    sluice_dec_map_close(&m);
}

static void decode_session(sluice_enrich_config_t *e, sluice_dec_map_t *em)
{
    e->session_timeout_s = SLUICE_ENRICH_SESSION_TIMEOUT_S;
    e->session_cookie = sluice_dec_xstrdup(SLUICE_ENRICH_SESSION_COOKIE);
    sluice_dec_map_t m;
    if (bool_or_map(em, "session", &e->session, &m) != 1)
        return;
    unsigned minutes = SLUICE_ENRICH_SESSION_TIMEOUT_S / 60;
    if (sluice_dec_unsigned(&m, "timeout_min", 0, 1, 24 * 60, &minutes) == 1)
        e->session_timeout_s = minutes * 60;
    /* Tests and short demos: seconds win over minutes. */
    sluice_dec_unsigned(&m, "timeout_s", 0, 1, 24 * 3600, &e->session_timeout_s);
    /* Into every answer's Set-Cookie: the rules of identity.cookie_name. */
    sluice_dec_checked_string(&m, "cookie_name", 0, sluice_dec_check_cookie_name, &e->session_cookie);
    const sluice_yaml_node_t *consent =
        sluice_yaml_map_get(m.node, "consent"); /* null: absent (org.c's cookie_consent) */
    e->session_consent_set = consent != NULL && sluice_yaml_is_null(consent) != 0;
    sluice_dec_string_list(&m, "consent", 0, sluice_dec_check_token, 1, &e->session_consent, &e->session_consent_count);
    sluice_dec_map_close(&m);
}

static void decode_referrer(sluice_enrich_config_t *e, sluice_dec_map_t *em)
{
    sluice_dec_map_t m;
    if (bool_or_map(em, "referrer", &e->referrer, &m) != 1)
        return;
    for (int medium = 0; medium_names[medium] != NULL; medium++) {
        if (medium == SLUICE_REFERRER_OTHER)
            continue;
        char **hosts = NULL;
        size_t count = 0;
        if (sluice_dec_string_list(&m, medium_names[medium], 0, sluice_dec_check_host, 1, &hosts, &count) != 1)
            continue;
        e->referrer_hosts =
            sluice_dec_xrealloc(e->referrer_hosts, e->referrer_host_count + count, sizeof(*e->referrer_hosts));
        for (size_t i = 0; i < count; i++) {
            /* Host names are case-insensitive, and the referrer's host is compared lowercased:
             * Shop.Acme.test as written would never match, and internal traffic read as other. */
            for (char *c = hosts[i]; *c != '\0'; c++)
                if (*c >= 'A' && *c <= 'Z')
                    *c = (char)(*c - 'A' + 'a');
            e->referrer_hosts[e->referrer_host_count++] =
                (sluice_referrer_host_t){.host = hosts[i], .medium = (sluice_referrer_medium_t)medium};
        }
        free(hosts);
    }
    sluice_dec_map_close(&m);
}

void sluice_enrich_config_decode(sluice_enrich_config_t *e, sluice_dec_map_t *orgm)
{
    e->pos = orgm->pos;
    sluice_dec_map_t m;
    sluice_dec_map_sub(orgm, "enrichment", &m);
    if (m.node != NULL)
        e->pos = m.node->pos;
    sluice_dec_bool(&m, "user_agent", &e->user_agent);
    decode_bots(e, &m);
    int geo = SLUICE_GEO_OFF;
    if (sluice_dec_enum(&m, "geo", 0, geo_names, &geo) == 1)
        e->geo = (sluice_geo_granularity_t)geo;
    decode_session(e, &m);
    sluice_dec_bool(&m, "campaign", &e->campaign);
    decode_referrer(e, &m);
    sluice_dec_map_close(&m);
    e->enabled = e->user_agent || e->bots != SLUICE_BOTS_OFF || e->geo != SLUICE_GEO_OFF || e->session || e->campaign ||
                 e->referrer;
}

void sluice_enrich_global_decode(sluice_enrich_global_t *g, sluice_dec_map_t *root, const char *dir)
{
    g->ua_cache_size = 4096;
    g->geo_check_s = 60;
    sluice_dec_map_t m;
    sluice_dec_map_sub(root, "enrichment", &m);
    char *s = NULL;
    if (sluice_dec_string(&m, "geo_database", 0, &s) == 1)
        g->geo_database = sluice_dec_resolve_path(dir, s);
    free(s);
    s = NULL;
    if (sluice_dec_string(&m, "ua_regexes", 0, &s) == 1)
        g->ua_regexes = sluice_dec_resolve_path(dir, s);
    free(s);
    sluice_dec_unsigned(&m, "ua_cache_size", 0, 16, 1u << 20, &g->ua_cache_size);
    sluice_dec_unsigned(&m, "geo_check_s", 0, 0, 86400, &g->geo_check_s);
    sluice_dec_map_close(&m);
}

void sluice_enrich_config_dispose(sluice_enrich_config_t *e)
{
    for (size_t i = 0; i < e->bot_pattern_count; i++)
        free(e->bot_patterns[i]);
    free(e->bot_patterns);
    free(e->bot_ranges);
    free(e->session_cookie);
    for (size_t i = 0; i < e->session_consent_count; i++)
        free(e->session_consent[i]);
    free(e->session_consent);
    for (size_t i = 0; i < e->referrer_host_count; i++)
        free(e->referrer_hosts[i].host);
    free(e->referrer_hosts);
    memset(e, 0, sizeof(*e));
}

void sluice_enrich_global_dispose(sluice_enrich_global_t *g)
{
    free(g->geo_database);
    free(g->ua_regexes);
    memset(g, 0, sizeof(*g));
}

static json_t *strings(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *sluice_enrich_config_json(const sluice_enrich_config_t *e)
{
    json_t *o = json_object(), *bots = json_object(), *ranges = json_array(), *session = json_object(),
           *ref = json_object();
    json_object_set_new(o, "user_agent", json_boolean(e->user_agent));
    json_object_set_new(bots, "action", json_string(bots_names[e->bots]));
    json_object_set_new(bots, "patterns", strings(e->bot_patterns, e->bot_pattern_count));
    for (size_t i = 0; i < e->bot_range_count; i++) {
        char text[64];
        json_array_append_new(ranges, json_string(sluice_cidr_format(&e->bot_ranges[i], text, sizeof(text))));
    }
    json_object_set_new(bots, "ip_ranges", ranges);
    json_object_set_new(bots, "no_user_agent", json_boolean(e->bots_no_user_agent));
    json_object_set_new(o, "bots", bots);
    json_object_set_new(o, "geo", json_string(geo_names[e->geo]));
    json_object_set_new(session, "enabled", json_boolean(e->session));
    json_object_set_new(session, "timeout_s", json_integer(e->session_timeout_s));
    json_object_set_new(session, "cookie_name", e->session_cookie ? json_string(e->session_cookie) : json_null());
    json_object_set_new(session, "consent",
                        e->session_consent_set ? strings(e->session_consent, e->session_consent_count) : json_null());
    json_object_set_new(o, "session", session);
    json_object_set_new(o, "campaign", json_boolean(e->campaign));
    json_object_set_new(ref, "enabled", json_boolean(e->referrer));
    for (int medium = 0; medium < SLUICE_REFERRER_OTHER; medium++) {
        json_t *hosts = json_array();
        for (size_t i = 0; i < e->referrer_host_count; i++)
            if ((int)e->referrer_hosts[i].medium == medium)
                json_array_append_new(hosts, json_string(e->referrer_hosts[i].host));
        json_object_set_new(ref, medium_names[medium], hosts);
    }
    json_object_set_new(o, "referrer", ref);
    return o;
}

json_t *sluice_enrich_global_json(const sluice_enrich_global_t *g)
{
    json_t *o = json_object();
    json_object_set_new(o, "geo_database", g->geo_database ? json_string(g->geo_database) : json_null());
    json_object_set_new(o, "ua_regexes", g->ua_regexes ? json_string(g->ua_regexes) : json_null());
    json_object_set_new(o, "ua_cache_size", json_integer(g->ua_cache_size));
    json_object_set_new(o, "geo_check_s", json_integer(g->geo_check_s));
    return o;
}
