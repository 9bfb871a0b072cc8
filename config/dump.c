/*
 * The effective config as JSON, in the shape of the YAML file (for `sluicectl config dump` and
 * debugging): defaults filled in, env overrides applied, secrets never shown. Any thread (reads
 * an immutable config).
 */
#include "config/config.h"
#include "config/decode.h"
#include "pii/scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *strings(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *listen_json(const sluice_listen_t *l)
{
    if (!l->enabled)
        return json_string("");
    char buf[96];
    if (strchr(l->host, ':') != NULL)
        snprintf(buf, sizeof(buf), "[%s]:%u", l->host, (unsigned)l->port);
    else
        snprintf(buf, sizeof(buf), "%s:%u", l->host, (unsigned)l->port);
    return json_string(buf);
}

static json_t *listen_obj(const sluice_listen_t *l)
{
    json_t *o = json_object();
    json_object_set_new(o, "listen", listen_json(l));
    return o;
}

/* A resolved secret shows as "***"; an unresolved one (config check, dump) is left out. */
static void set_secret(json_t *o, const char *key, const char *resolved)
{
    if (resolved != NULL)
        json_object_set_new(o, key, json_string("***"));
}

/* The Redis URL with a password (only SLUICE_REDIS_URL may carry one) replaced by ***. */
static json_t *redacted_redis_url(const char *url)
{
    if (url == NULL)
        return json_null();
    const char *rest = strncmp(url, "redis://", 8) == 0 ? url + 8 : NULL;
    size_t auth = rest != NULL ? strcspn(rest, "/") : 0;
    const char *at = NULL;
    for (size_t i = 0; i < auth; i++)
        if (rest[i] == '@')
            at = rest + i;
    const char *colon = at != NULL ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
    if (colon == NULL)
        return json_string(url);
    char *out = malloc(strlen(url) + 4);
    if (out == NULL)
        return json_null();
    size_t keep = (size_t)(colon - url) + 1;
    memcpy(out, url, keep);
    memcpy(out + keep, "***", 3);
    memcpy(out + keep + 3, at, strlen(at) + 1);
    json_t *j = json_string(out);
    free(out);
    return j;
}

/* The database URL with any password replaced by ***: it may come from SLUICE_DATABASE_URL. */
static json_t *redacted_db_url(const char *url)
{
    if (url == NULL)
        return json_null();
    size_t n = strlen(url);
    char *out = malloc(2 * n + 16); /* each replacement adds at most 3 bytes */
    if (out == NULL)
        return json_null();
    const char *rest = NULL;
    if (strncmp(url, "postgresql://", 13) == 0)
        rest = url + 13;
    else if (strncmp(url, "postgres://", 11) == 0)
        rest = url + 11;
    size_t o = 0;
    const char *p = url;
    if (rest != NULL) {
        size_t auth = strcspn(rest, "/?");
        const char *at = memchr(rest, '@', auth);
        /* A password holding a '/' or '?' its writer did not escape: up to the last '@'. */
        if (at == NULL && memchr(rest, ':', auth) != NULL)
            at = strrchr(rest, '@');
        const char *colon = at != NULL ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
        if (colon != NULL) {
            memcpy(out, url, (size_t)(colon - url) + 1);
            o = (size_t)(colon - url) + 1;
            memcpy(out + o, "***", 3);
            o += 3;
            p = at;
        }
    }
    /* conninfo or query: password=value → password=*** */
    while (*p) {
        if (strncasecmp(p, "password", 8) == 0) {
            const char *q = p + 8;
            while (*q == ' ')
                q++;
            if (*q == '=') {
                q++;
                while (*q == ' ')
                    q++;
                memcpy(out + o, p, (size_t)(q - p));
                o += (size_t)(q - p);
                memcpy(out + o, "***", 3);
                o += 3;
                p = q + strcspn(q, " &");
                continue;
            }
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
    json_t *j = json_string(out);
    free(out);
    return j;
}

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
    int b;
    long long i;
    double d;
    if (sluice_yaml_is_null(n) == 0)
        return json_null();
    if (sluice_yaml_as_bool(n, &b) == 0)
        return json_boolean(b);
    if (sluice_yaml_as_int(n, &i) == 0)
        return json_integer(i);
    if (sluice_yaml_as_double(n, &d) == 0)
        return json_real(d);
    return json_string(n->scalar);
}

static json_t *time_json(time_t t)
{
    if (t == 0)
        return json_null();
    struct tm tm;
    char buf[32];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static json_t *source_json(const sluice_source_t *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "kind", json_string(s->kind == SLUICE_SOURCE_SERVER ? "server" : "browser"));
    if (s->kind == SLUICE_SOURCE_BROWSER) {
        json_object_set_new(o, "write_key_env", str_or_null(s->write_key_env));
        set_secret(o, "write_key", s->write_key);
        json_object_set_new(o, "previous_write_key_env", str_or_null(s->previous_write_key_env));
        set_secret(o, "previous_write_key", s->previous_write_key);
        json_object_set_new(o, "rotated_at", time_json(s->rotated_at));
        json_object_set_new(o, "grace_hours", json_integer(s->grace_hours));
        json_object_set_new(o, "allowed_origins", strings(s->allowed_origins, s->allowed_origin_count));
    } else {
        json_object_set_new(o, "hmac_secret_env", str_or_null(s->hmac_secret_env));
        set_secret(o, "hmac_secret", s->hmac_secret);
        if (s->previous_hmac_secret_env != NULL) { /* only then: dumps of other configs stay as they were */
            json_object_set_new(o, "previous_hmac_secret_env", json_string(s->previous_hmac_secret_env));
            set_secret(o, "previous_hmac_secret", s->previous_hmac_secret);
            json_object_set_new(o, "rotated_at", time_json(s->rotated_at));
            json_object_set_new(o, "grace_hours", json_integer(s->grace_hours));
        }
    }
    json_t *rl = json_object();
    json_object_set_new(rl, "per_second", json_real(s->rate_limit.per_second));
    json_object_set_new(rl, "burst", json_real(s->rate_limit.burst));
    json_object_set_new(o, "rate_limit", rl);
    rl = json_object();
    json_object_set_new(rl, "per_second", json_real(s->client_rate_limit.per_second));
    json_object_set_new(rl, "burst", json_real(s->client_rate_limit.burst));
    json_object_set_new(o, "client_rate_limit", rl);
    json_object_set_new(o, "pixel_without_referrer", json_boolean(s->pixel_without_referrer));
    json_object_set_new(o, "sent_from", json_string(s->server_sent ? "server" : "browser"));
    return o;
}

static json_t *identity_json(const sluice_identity_config_t *id)
{
    json_t *o = json_object(), *xd = json_object(), *dd = json_object();
    json_object_set_new(o, "cookie_name", json_string(id->cookie_name));
    json_object_set_new(o, "cookie_domain", str_or_null(id->cookie_domain));
    json_object_set_new(o, "cookie_max_age_days", json_integer(id->cookie_max_age_days));
    json_object_set_new(xd, "domains", strings(id->xd_domains, id->xd_domain_count));
    json_object_set_new(xd, "token_ttl_s", json_integer(id->xd_token_ttl_s));
    json_object_set_new(xd, "clock_skew_s", json_integer(id->xd_clock_skew_s));
    json_object_set_new(xd, "hold_s", json_integer(id->xd_hold_s));
    json_object_set_new(o, "cross_domain", xd);
    json_object_set_new(o, "vendor_cookies", strings(id->vendor_cookies, id->vendor_cookie_count));
    json_object_set_new(o, "cookie_consent",
                        id->cookie_consent_set ? strings(id->cookie_consent, id->cookie_consent_count) : json_null());
    json_object_set_new(o, "link_ttl_days", json_integer(id->link_ttl_days));
    json_object_set_new(dd, "enabled", json_boolean(id->dedup_enabled));
    json_object_set_new(dd, "window_s", json_integer(id->dedup_window_s));
    json_object_set_new(o, "dedup", dd);
    return o;
}

static json_t *data_layer_json(const sluice_org_t *org)
{
    json_t *o = json_object(), *hash = json_array(), *mask = json_array(), *drop = json_array();
    for (size_t i = 0; i < org->hash_rule_count; i++) {
        const sluice_hash_rule_t *r = &org->hash_rules[i];
        json_t *h = json_object();
        json_object_set_new(h, "path", json_string(r->path.text));
        json_object_set_new(h, "normalize", json_string(sluice_normalizer_name(r->normalizer)));
        if (r->default_country_code != NULL)
            json_object_set_new(h, "default_country_code", json_string(r->default_country_code));
        if (r->mirror.text != NULL)
            json_object_set_new(h, "also_covers", json_string(r->mirror.text));
        json_array_append_new(hash, h);
    }
    for (size_t i = 0; i < org->mask_rule_count; i++) {
        const sluice_mask_rule_t *r = &org->mask_rules[i];
        json_t *m = json_object();
        json_object_set_new(m, "path", json_string(r->path.text));
        json_object_set_new(m, "plugin", json_string(r->plugin));
        json_object_set_new(m, "params", r->params ? yaml_json(r->params) : json_object());
        json_object_set_new(m, "on_error",
                            json_string(r->on_error == SLUICE_MASK_ON_ERROR_REJECT ? "reject" : "remove"));
        if (r->mirror.text != NULL)
            json_object_set_new(m, "also_covers", json_string(r->mirror.text));
        json_array_append_new(mask, m);
    }
    for (size_t i = 0; i < org->drop_count; i++) {
        json_array_append_new(drop, json_string(org->drop[i].text));
        if (org->drop_mirrors != NULL && org->drop_mirrors[i].text != NULL)
            json_array_append_new(drop, json_string(org->drop_mirrors[i].text));
    }
    json_object_set_new(o, "hash_fields", hash);
    json_object_set_new(o, "mask", mask);
    json_object_set_new(o, "drop", drop);
    static const char *const modes[] = {"off", "report", "mask", "hash"};
    const sluice_pii_guard_config_t *g = &org->pii_guard;
    json_t *guard = json_object(), *except = json_array(), *ids = json_array();
    for (size_t i = 0; i < g->except_count; i++)
        json_array_append_new(except, json_string(g->except[i].text));
    for (unsigned k = SLUICE_SCAN_US_SSN; k <= SLUICE_SCAN_ES_DNI; k <<= 1)
        if (g->national_ids & k)
            json_array_append_new(ids, json_string(sluice_scan_kind_name(k)));
    json_object_set_new(guard, "mode", json_string(modes[g->mode]));
    json_object_set_new(guard, "except", except);
    json_object_set_new(guard, "national_ids", ids);
    json_object_set_new(guard, "key_names", json_boolean(g->key_names));
    json_object_set_new(o, "pii_guard", guard);
    return o;
}

static json_t *integration_json(const sluice_integration_t *it)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(it->name));
    json_object_set_new(o, "vendor", str_or_null(it->vendor_name));
    json_object_set_new(o, "enabled", json_boolean(it->enabled));
    json_object_set_new(o, "credentials", json_string(it->credentials));
    json_object_set_new(o, "events", strings(it->events, it->event_count));
    json_object_set_new(o, "types", strings(it->types, it->type_count));
    json_object_set_new(o, "consent", str_or_null(it->consent));
    json_object_set_new(o, "send_bots", json_boolean(it->send_bots));
    json_object_set_new(o, "base_url", str_or_null(it->base_url));
    const sluice_config_vendors_t *reg = sluice_config_vendors();
    if (reg != NULL && it->vendor >= 0)
        reg->dump(it, o);
    json_t *b = json_object(), *r = json_object();
    json_object_set_new(b, "max_events", json_integer(it->batch_max_events));
    json_object_set_new(b, "max_bytes", json_integer((json_int_t)it->batch_max_bytes));
    json_object_set_new(b, "max_wait_ms", json_integer(it->batch_max_wait_ms));
    json_object_set_new(o, "batch", b);
    json_object_set_new(o, "rate_limit_rps", json_real(it->rate_limit_rps));
    json_object_set_new(r, "max_attempts", json_integer(it->max_attempts));
    json_object_set_new(r, "base_ms", json_integer(it->retry_base_ms));
    json_object_set_new(r, "max_ms", json_integer(it->retry_max_ms));
    json_object_set_new(r, "max_elapsed_s", json_integer(it->retry_max_elapsed_s));
    json_object_set_new(o, "retry", r);
    json_object_set_new(o, "timeout_ms", json_integer(it->timeout_ms));
    if (it->mapping.rename_count > 0 || it->mapping.field_count > 0) {
        json_t *mp = json_object(), *ev = json_object(), *fields = json_object(), *set = json_object();
        for (size_t i = 0; i < it->mapping.rename_count; i++)
            json_object_set_new(ev, it->mapping.renames[i].from, json_string(it->mapping.renames[i].to));
        for (size_t i = 0; i < it->mapping.field_count; i++) {
            const sluice_field_map_t *f = &it->mapping.fields[i];
            if (f->constant != NULL)
                json_object_set_new(set, f->field, json_string(f->constant->scalar));
            else
                json_object_set_new(fields, f->field, json_string(f->source.text));
        }
        json_object_set_new(mp, "events", ev);
        json_object_set_new(mp, "fields", fields);
        json_object_set_new(mp, "set", set);
        json_object_set_new(o, "mapping", mp);
    }
    return o;
}

static json_t *org_json(const sluice_org_t *org)
{
    static const char *const policies[] = {"allow", "drop", "strip"};
    json_t *o = json_object(), *sources = json_array(), *integrations = json_array(), *consent = json_object();
    json_object_set_new(o, "id", json_string(org->id));
    json_object_set_new(o, "file", json_string(org->file));
    for (size_t i = 0; i < org->source_count; i++)
        json_array_append_new(sources, source_json(&org->sources[i]));
    json_object_set_new(o, "sources", sources);
    json_object_set_new(o, "identity", identity_json(&org->identity));
    json_object_set_new(consent, "required", strings(org->consent.required, org->consent.required_count));
    json_t *aliases = json_object();
    for (size_t i = 0; i < org->consent.alias_count; i++)
        json_object_set_new(aliases, org->consent.aliases[i].key, json_string(org->consent.aliases[i].value));
    json_object_set_new(consent, "aliases", aliases);
    json_object_set_new(consent, "policy", json_string(policies[org->consent.policy]));
    json_object_set_new(o, "consent", consent);
    json_object_set_new(o, "data_layer", data_layer_json(org));
    json_object_set_new(o, "enrichment", sluice_enrich_config_json(&org->enrich));
    for (size_t i = 0; i < org->integration_count; i++)
        json_array_append_new(integrations, integration_json(&org->integrations[i]));
    json_object_set_new(o, "integrations", integrations);
    return o;
}

json_t *sluice_config_to_json(const sluice_config_t *cfg)
{
    const sluice_server_config_t *sv = &cfg->server;
    json_t *root = json_object();
    json_object_set_new(root, "version", json_integer(1));

    json_t *server = json_object(), *https = listen_obj(&sv->https), *proxies = json_array();
    json_object_set_new(https, "cert", str_or_null(sv->tls_cert));
    json_object_set_new(https, "http2", json_boolean(sv->http2));
    json_object_set_new(https, "key", str_or_null(sv->tls_key));
    json_object_set_new(https, "session_ticket_secret_env", str_or_null(sv->ticket_secret_env));
    json_object_set_new(https, "session_ticket_previous_secret_env", str_or_null(sv->ticket_previous_secret_env));
    json_object_set_new(server, "https", https);
    json_object_set_new(server, "http", listen_obj(&sv->http));
    json_object_set_new(server, "metrics", listen_obj(&sv->metrics));
    json_object_set_new(server, "threads", json_integer(sv->threads));
    json_object_set_new(server, "path_prefix", json_string(sv->path_prefix));
    json_object_set_new(server, "tag_path", json_string(sv->tag_path));
    for (size_t i = 0; i < sv->trusted_proxy_count; i++) {
        char buf[64];
        json_array_append_new(proxies, json_string(sluice_cidr_format(&sv->trusted_proxies[i], buf, sizeof(buf))));
    }
    json_object_set_new(server, "trusted_proxies", proxies);
    json_object_set_new(server, "drain_timeout_ms", json_integer(sv->drain_timeout_ms));
    json_object_set_new(server, "max_connections", json_integer(sv->max_connections));
    json_object_set_new(server, "max_connections_per_ip", json_integer(sv->max_connections_per_ip));
    json_object_set_new(server, "request_timeout_ms", json_integer(sv->request_timeout_ms));
    json_t *h2 = json_object(), *resets = json_object();
    json_object_set_new(h2, "max_requests_in_flight", json_integer(sv->http2_guard.max_requests_in_flight));
    json_object_set_new(resets, "per_second", json_real(sv->http2_guard.resets.per_second));
    json_object_set_new(resets, "burst", json_real(sv->http2_guard.resets.burst));
    json_object_set_new(h2, "resets", resets);
    json_object_set_new(server, "http2", h2);
    json_object_set_new(root, "server", server);

    const sluice_limits_t *lim = &cfg->limits;
    json_t *limits = json_object();
    json_object_set_new(limits, "max_body_bytes", json_integer((json_int_t)lim->max_body_bytes));
    json_object_set_new(limits, "max_event_bytes", json_integer((json_int_t)lim->max_event_bytes));
    json_object_set_new(limits, "max_batch_events", json_integer((json_int_t)lim->max_batch_events));
    json_object_set_new(limits, "max_depth", json_integer((json_int_t)lim->max_depth));
    json_object_set_new(limits, "max_string_bytes", json_integer((json_int_t)lim->max_string_bytes));
    json_object_set_new(limits, "max_wire_bytes", json_integer((json_int_t)lim->max_wire_bytes));
    json_object_set_new(root, "limits", limits);

    const sluice_kafka_config_t *k = &cfg->kafka;
    json_t *kafka = json_object(), *props = json_object();
    json_object_set_new(kafka, "brokers", str_or_null(k->brokers));
    json_object_set_new(kafka, "topic", json_string(k->topic));
    json_object_set_new(kafka, "dlq_topic", json_string(k->dlq_topic));
    json_object_set_new(kafka, "invalid_topic", json_string(k->invalid_topic));
    json_object_set_new(kafka, "dsr_topic", json_string(k->dsr_topic));
    json_object_set_new(kafka, "ack", json_string(k->ack == SLUICE_ACK_QUEUED ? "queued" : "kafka"));
    json_object_set_new(kafka, "ack_timeout_ms", json_integer(k->ack_timeout_ms));
    json_object_set_new(kafka, "queue_max_messages", json_integer(k->queue_max_messages));
    json_object_set_new(kafka, "sasl_password_env", str_or_null(k->sasl_password_env));
    json_object_set_new(kafka, "ssl_key_password_env", str_or_null(k->ssl_key_password_env));
    json_object_set_new(kafka, "oauthbearer_client_secret_env", str_or_null(k->oauthbearer_client_secret_env));
    for (size_t i = 0; i < k->property_count; i++)
        json_object_set_new(props, k->properties[i].key, json_string(k->properties[i].value));
    json_object_set_new(kafka, "properties", props);
    json_object_set_new(root, "kafka", kafka);

    json_t *redis = json_object(), *db = json_object(), *plugins = json_object(), *log = json_object();
    json_object_set_new(redis, "url", redacted_redis_url(cfg->redis.url));
    json_object_set_new(redis, "timeout_ms", json_integer(cfg->redis.timeout_ms));
    json_object_set_new(redis, "username", str_or_null(cfg->redis.username));
    json_object_set_new(redis, "password_env", str_or_null(cfg->redis.password_env));
    json_object_set_new(redis, "key_prefix", str_or_null(cfg->redis.key_prefix));
    json_object_set_new(root, "redis", redis);
    json_object_set_new(db, "url", redacted_db_url(cfg->database.url));
    json_object_set_new(db, "audit_retention_days", json_integer(cfg->database.audit_retention_days));
    json_object_set_new(root, "database", db);
    json_object_set_new(plugins, "dir", str_or_null(cfg->plugin_dir));
    json_object_set_new(root, "plugins", plugins);
    json_object_set_new(log, "level", json_string(cfg->log_level));
    json_object_set_new(log, "audit_file", str_or_null(cfg->audit_log));
    json_object_set_new(root, "log", log);

    const sluice_delivery_config_t *d = &cfg->delivery;
    json_t *delivery = json_object();
    json_object_set_new(delivery, "ca_file", str_or_null(d->ca_file));
    json_object_set_new(delivery, "metrics", listen_obj(&d->metrics));
    json_object_set_new(delivery, "credentials_ttl_s", json_integer(d->credentials_ttl_s));
    json_object_set_new(delivery, "max_in_flight", json_integer(d->max_in_flight));
    json_object_set_new(root, "delivery", delivery);

    json_t *forget = json_object();
    json_object_set_new(forget, "key_env", str_or_null(cfg->forget.key_env));
    set_secret(forget, "key", cfg->forget.key);
    json_object_set_new(forget, "refresh_ms", json_integer(cfg->forget.refresh_ms));
    json_object_set_new(root, "forget", forget);

    json_object_set_new(root, "enrichment", sluice_enrich_global_json(&cfg->enrich));

    json_t *orgs = json_array();
    for (size_t i = 0; i < cfg->org_count; i++)
        json_array_append_new(orgs, org_json(&cfg->orgs[i]));
    json_object_set_new(root, "orgs", orgs);
    return root;
}
