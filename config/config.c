/*
 * Loading the sluice config: the root file's process sections (server, limits, kafka, redis,
 * database, plugins, log, delivery), the `orgs:` list with its includes, checks across orgs,
 * SLUICE_* environment overrides, and the checks that need the final values. Every problem is
 * collected into the diag; the result is returned only when there were none (or, for
 * `sluicectl config check`, with SLUICE_CONFIG_PARTIAL, in any case).
 * Main thread only (reads the environment); a loaded config is immutable and shared read-only.
 */
#include "common/strdist.h"
#include "config/decode.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/install.h"

/* Includes nest at most this deep (a cycle is reported before that). */
#define MAX_INCLUDE_DEPTH 16

static const char *const ack_names[] = {"kafka", "queued", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

typedef struct loader {
    sluice_config_t *cfg;
    sluice_config_diag_t *diag;
    int flags;
    char *stack[MAX_INCLUDE_DEPTH + 1]; /* canonical paths of the files being read */
    size_t depth;
    sluice_yaml_pos_t *org_id_pos; /* per org: where its id is written (for duplicates) */
    /* Where sections start, for checks after the env overrides ("missing cert" etc.). */
    sluice_yaml_pos_t root_pos, server_pos, https_pos, kafka_pos;
    sluice_yaml_pos_t redis_url_pos;
    int redis_url_from_file;
    sluice_yaml_pos_t listen_pos[3]; /* server.https, http, metrics .listen values (line 0: not in the file) */
    sluice_yaml_pos_t tag_path_pos;
    int brokers_written; /* kafka.brokers is in the file (perhaps with a bad value, reported already) */
} loader_t;

/* ------------------------------------------------------------------ small helpers */

/* Frees a string that may hold a secret, overwriting it first. NULL allowed. */
static void wipe_free(char *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return sluice_dec_xstrdup(".");
    if (slash == path)
        return sluice_dec_xstrdup("/");
    char *d = sluice_dec_xcalloc((size_t)(slash - path) + 1, 1);
    memcpy(d, path, (size_t)(slash - path));
    return d;
}

/* dir + "/" + path for names shown to people (include files): stays relative when dir is. */
static char *join_shown(const char *dir, const char *path)
{
    if (path[0] == '/' || strcmp(dir, ".") == 0)
        return sluice_dec_xstrdup(path);
    return sluice_dec_xasprintf("%s/%s", dir, path);
}

static void add_doc(sluice_config_t *cfg, sluice_yaml_doc_t *doc)
{
    cfg->docs = sluice_dec_xrealloc(cfg->docs, cfg->doc_count + 1, sizeof(*cfg->docs));
    cfg->docs[cfg->doc_count++] = doc;
}

static const char *check_path_prefix(const char *s)
{
    if (s[0] != '/' || s[1] == '\0' || s[strlen(s) - 1] == '/' || strstr(s, "//") != NULL)
        return "must start with '/' and not end with '/' (e.g. /v1)";
    if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._~-") != strlen(s))
        return "may only contain letters, digits, '/', '.', '_', '~' and '-'";
    return NULL;
}

static const char *check_topic(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 249 || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
        return "is not a Kafka topic name (1 to 249 letters, digits, '.', '_', '-')";
    return NULL;
}

/* "$NAME" or "${NAME}" anywhere: an operator expecting a shell's substitution, which sluice does
 * not do (brokers and the URLs have a SLUICE_* variable instead; vendors/options.c refuses it in
 * vendor options). */
int sluice_config_looks_like_variable(const char *s)
{
    if (strstr(s, "${") != NULL)
        return 1;
    if (s[0] != '$')
        return 0;
    char c = s[1];
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

#define NO_SUBSTITUTION SLUICE_CONFIG_NO_SUBSTITUTION

static const char *check_brokers(const char *s)
{
    if (s[0] == '\0')
        return "is empty";
    if (sluice_config_looks_like_variable(s))
        return NO_SUBSTITUTION " (set SLUICE_KAFKA_BROKERS instead)";
    if (strpbrk(s, " \t\r\n") != NULL)
        return "contains spaces (expected host:port[,host:port...])";
    if (s[0] == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,") != NULL)
        return "has an empty entry (expected host:port[,host:port...])";
    return NULL;
}

/* A password inside a libpq conninfo or postgresql:// URL. */
static int has_inline_password(const char *url)
{
    const char *rest = NULL;
    if (strncmp(url, "postgresql://", 13) == 0)
        rest = url + 13;
    else if (strncmp(url, "postgres://", 11) == 0)
        rest = url + 11;
    if (rest != NULL) {
        size_t auth = strcspn(rest, "/?");
        const char *at = memchr(rest, '@', auth);
        if (at != NULL && memchr(rest, ':', (size_t)(at - rest)) != NULL)
            return 1;
    }
    for (const char *p = strcasestr(url, "password"); p != NULL; p = strcasestr(p + 1, "password")) {
        const char *q = p + 8;
        while (*q == ' ')
            q++;
        if (*q == '=')
            return 1;
    }
    return 0;
}

/* A string holding a file path, resolved against the config file's directory. pos (may be
 * NULL) gets where the value is written, for checks of the file itself (sluicectl). */
static int path_value(sluice_dec_map_t *m, const char *key, const char *dir, char **out, sluice_yaml_pos_t *pos)
{
    char *raw = NULL;
    int rc = sluice_dec_string(m, key, 0, &raw);
    if (rc == 1) {
        free(*out);
        *out = sluice_dec_resolve_path(dir, raw);
        if (pos != NULL)
            *pos = sluice_yaml_map_get(m->node, key)->pos;
    }
    free(raw);
    return rc;
}

static void listen_value(sluice_dec_map_t *m, const char *key, sluice_listen_t *out, sluice_yaml_pos_t *pos)
{
    const sluice_yaml_node_t *v = sluice_yaml_map_get(m->node, key);
    if (v != NULL)
        *pos = v->pos;
    char *s = NULL;
    if (sluice_dec_string(m, key, 0, &s) == 1) {
        char why[160];
        if (sluice_listen_parse(s, out, why, sizeof(why)) < 0) {
            char path[SLUICE_DEC_PATH_MAX];
            sluice_dec_key_path(m, key, path, sizeof(path));
            sluice_config_diag_add(m->diag, &v->pos, "%s: bad listen address '%s': %s", path, s, why);
        }
    }
    free(s);
}

/* ------------------------------------------------------------------ process sections */

/* <section>.<key> names the variable of a secret: a value that is no variable's name (the secret
 * itself written here) is refused, said, and dropped. Returns 1 then, 0 for a name. */
static int env_name_refused(loader_t *l, const sluice_yaml_pos_t *pos, const char *section, const char *key, char **var)
{
    if (sluice_dec_check_env_name(*var) == NULL)
        return 0;
    sluice_config_diag_add(l->diag, pos,
                           "%s.%s: not an environment variable name (letters, digits and '_', not starting with a "
                           "digit); the secret is read from the variable, never written here",
                           section, key);
    free(*var);
    *var = NULL;
    return 1;
}

/* server.https.<key>, a session-ticket secret's variable. Only the name: the value is the
 * gateway's to read once, at start (a reload finds the variable gone from its environment,
 * gateway/secrets.c), and `config check`'s to check. */
static void ticket_env_value(loader_t *l, sluice_dec_map_t *https, const char *key, char **var, sluice_yaml_pos_t *pos)
{
    if (sluice_dec_string(https, key, 0, var) != 1)
        return;
    *pos = sluice_yaml_map_get(https->node, key)->pos;
    if (env_name_refused(l, pos, "server.https", key, var))
        return;
    if (strcmp(*var, "ENCRYPTION_KEY") == 0 || strcmp(*var, "SLUICE_KEYRING") == 0 ||
        strcmp(*var, "SLUICE_KEY_ID") == 0) {
        /* The gateway wipes the variable once read, before the key ring is: SLUICE_KEYRING
         * named here left the ring without its older keys, with nothing said. */
        sluice_config_diag_add(l->diag, pos,
                               "server.https.%s: %s holds sluice's root keys: give session tickets a variable and a "
                               "secret of their own (e.g. SLUICE_TLS_TICKET_SECRET)",
                               key, *var);
        free(*var);
        *var = NULL;
    }
}

static void decode_server(loader_t *l, sluice_dec_map_t *root)
{
    sluice_server_config_t *sv = &l->cfg->server;
    const char *dir = l->cfg->dir;
    sluice_listen_parse("127.0.0.1:9464", &sv->metrics, NULL, 0);
    sv->path_prefix = sluice_dec_xstrdup("/v1");
    sv->tag_path = sluice_dec_xstrdup("/sluice.js");
    sv->drain_timeout_ms = 10000;
    sv->max_connections_per_ip = 256;
    sv->request_timeout_ms = 10000;
    sv->http2_guard.max_requests_in_flight = 16;
    sv->http2_guard.resets = (sluice_rate_limit_t){.per_second = 10, .burst = 50};

    sluice_dec_map_t m, https, http, metrics, h2;
    sluice_dec_map_sub(root, "server", &m);
    l->server_pos = m.pos;
    sluice_dec_map_sub(&m, "https", &https);
    l->https_pos = https.pos;
    listen_value(&https, "listen", &sv->https, &l->listen_pos[0]);
    path_value(&https, "cert", dir, &sv->tls_cert, &sv->tls_cert_pos);
    path_value(&https, "key", dir, &sv->tls_key, &sv->tls_key_pos);
    sluice_dec_bool(&https, "http2", &sv->http2);
    ticket_env_value(l, &https, "session_ticket_secret_env", &sv->ticket_secret_env, &sv->ticket_secret_env_pos);
    ticket_env_value(l, &https, "session_ticket_previous_secret_env", &sv->ticket_previous_secret_env,
                     &sv->ticket_previous_secret_env_pos);
    if (sv->ticket_previous_secret_env != NULL && sv->ticket_secret_env == NULL)
        sluice_config_diag_add(l->diag, &sv->ticket_previous_secret_env_pos,
                               "server.https.session_ticket_previous_secret_env: only with "
                               "server.https.session_ticket_secret_env (a previous secret is accepted beside a current "
                               "one)");
    else if (sv->ticket_previous_secret_env != NULL &&
             strcmp(sv->ticket_previous_secret_env, sv->ticket_secret_env) == 0)
        sluice_config_diag_add(l->diag, &sv->ticket_previous_secret_env_pos,
                               "server.https.session_ticket_previous_secret_env: names the variable of "
                               "server.https.session_ticket_secret_env: give the secret being replaced a variable of "
                               "its own");
    sluice_dec_map_close(&https);
    sluice_dec_map_sub(&m, "http", &http);
    listen_value(&http, "listen", &sv->http, &l->listen_pos[1]);
    sluice_dec_map_close(&http);
    sluice_dec_map_sub(&m, "metrics", &metrics);
    listen_value(&metrics, "listen", &sv->metrics, &l->listen_pos[2]);
    sluice_dec_map_close(&metrics);

    sluice_dec_unsigned(&m, "threads", 0, 0, 1024, &sv->threads);
    sluice_dec_checked_string(&m, "path_prefix", 0, check_path_prefix, &sv->path_prefix);
    if (sluice_dec_checked_string(&m, "tag_path", 0, check_path_prefix, &sv->tag_path) == 1)
        l->tag_path_pos = sluice_yaml_map_get(m.node, "tag_path")->pos;
    const sluice_yaml_node_t *seq;
    if (sluice_dec_list(&m, "trusted_proxies", 0, &seq) == 1) {
        sv->trusted_proxies = sluice_dec_xcalloc(seq->item_count, sizeof(*sv->trusted_proxies));
        for (size_t i = 0; i < seq->item_count; i++) {
            char path[SLUICE_DEC_PATH_MAX], rbuf[64], *s = NULL;
            snprintf(path, sizeof(path), "server.trusted_proxies[%zu]", i);
            if (sluice_dec_node_string(l->diag, seq->items[i], path, &s) < 0)
                continue;
            if (sluice_cidr_parse(s, &sv->trusted_proxies[sv->trusted_proxy_count]) < 0) {
                sluice_config_diag_add(l->diag, &seq->items[i]->pos,
                                       "%s: '%s' is not an IP address or CIDR range (e.g. 10.0.0.0/8, ::1)", path, s);
            } else {
                if (sv->trusted_proxies[sv->trusted_proxy_count].prefix_len == 0)
                    sluice_config_diag_warn(l->diag, &seq->items[i]->pos,
                                            "%s: '%s' trusts every peer: any client can then choose the address the "
                                            "gateway sees (its context.ip, rate limits and geolocation); list your "
                                            "proxies' addresses",
                                            path, s);
                else if (sv->trusted_proxies[sv->trusted_proxy_count].host_bits)
                    /* 10.1.2.3/8 reads like one proxy and trusts 16 million addresses. */
                    sluice_config_diag_warn(
                        l->diag, &seq->items[i]->pos,
                        "%s: '%s' has address bits past its /%u prefix: it trusts the whole "
                        "range %s; write the proxy's address alone for one host",
                        path, s, sv->trusted_proxies[sv->trusted_proxy_count].prefix_len,
                        sluice_cidr_format(&sv->trusted_proxies[sv->trusted_proxy_count], rbuf, sizeof(rbuf)));
                sv->trusted_proxy_count++;
            }
            free(s);
        }
    }
    sluice_dec_unsigned(&m, "drain_timeout_ms", 0, 0, 600000, &sv->drain_timeout_ms);
    sluice_dec_unsigned(&m, "max_connections", 0, 0, 10000000, &sv->max_connections);
    sluice_dec_unsigned(&m, "max_connections_per_ip", 0, 0, 10000000, &sv->max_connections_per_ip);
    sluice_dec_unsigned(&m, "request_timeout_ms", 0, 100, 600000, &sv->request_timeout_ms);
    sluice_dec_map_sub(&m, "http2", &h2);
    sluice_dec_unsigned(&h2, "max_requests_in_flight", 0, 1, 100, &sv->http2_guard.max_requests_in_flight);
    sluice_dec_map_t resets;
    sluice_dec_map_sub(&h2, "resets", &resets);
    sluice_dec_double(&resets, "per_second", 0, 0.01, 1e6, &sv->http2_guard.resets.per_second);
    sluice_dec_double(&resets, "burst", 0, 1, 1e6, &sv->http2_guard.resets.burst);
    sluice_dec_map_close(&resets);
    sluice_dec_map_close(&h2);
    sluice_dec_map_close(&m);
}

static void decode_limits(loader_t *l, sluice_dec_map_t *root)
{
    sluice_limits_t *lim = &l->cfg->limits;
    lim->max_body_bytes = 524288;
    lim->max_event_bytes = 32768;
    lim->max_batch_events = 500;
    lim->max_depth = 16;
    lim->max_string_bytes = 8192;
    sluice_dec_map_t m;
    sluice_dec_map_sub(root, "limits", &m);
    sluice_dec_size(&m, "max_body_bytes", 0, 1024, 64u << 20, &lim->max_body_bytes);
    sluice_dec_size(&m, "max_event_bytes", 0, 256, 64u << 20, &lim->max_event_bytes);
    sluice_dec_size(&m, "max_batch_events", 0, 1, 100000, &lim->max_batch_events);
    sluice_dec_size(&m, "max_depth", 0, 1, 128, &lim->max_depth);
    sluice_dec_size(&m, "max_string_bytes", 0, 16, 64u << 20, &lim->max_string_bytes);
    lim->max_wire_bytes = lim->max_body_bytes;
    sluice_dec_size(&m, "max_wire_bytes", 0, 1024, 64u << 20, &lim->max_wire_bytes);
    const sluice_yaml_node_t *ev = sluice_yaml_map_get(m.node, "max_event_bytes");
    const sluice_yaml_node_t *st = sluice_yaml_map_get(m.node, "max_string_bytes");
    if (lim->max_event_bytes > lim->max_body_bytes)
        sluice_config_diag_add(l->diag, ev ? &ev->pos : &m.pos,
                               "limits.max_event_bytes: %zu is larger than limits.max_body_bytes (%zu)",
                               lim->max_event_bytes, lim->max_body_bytes);
    if (lim->max_string_bytes > lim->max_event_bytes)
        sluice_config_diag_add(l->diag, st ? &st->pos : &m.pos,
                               "limits.max_string_bytes: %zu is larger than limits.max_event_bytes (%zu)",
                               lim->max_string_bytes, lim->max_event_bytes);
    sluice_dec_map_close(&m);
}

/* Properties sluice sets itself: overriding them would break its guarantees or its config. */
/* The other name librdkafka accepts for the same property, or NULL: given both, which one wins
 * is librdkafka's business, while sluice's own checks read one of them. */
static const char *property_alias(const char *key)
{
    static const char *const pairs[][2] = {{"sasl.mechanism", "sasl.mechanisms"},
                                           {"linger.ms", "queue.buffering.max.ms"}};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        if (strcmp(key, pairs[i][0]) == 0)
            return pairs[i][1];
        if (strcmp(key, pairs[i][1]) == 0)
            return pairs[i][0];
    }
    return NULL;
}

static const char *reserved_property(const char *key)
{
    if (strcmp(key, "bootstrap.servers") == 0 || strcmp(key, "metadata.broker.list") == 0)
        return "set kafka.brokers instead";
    if (strcmp(key, "acks") == 0 || strcmp(key, "request.required.acks") == 0 || strcmp(key, "enable.idempotence") == 0)
        return "sluice always produces with acks=all and idempotence on";
    return NULL;
}

/* kafka.<key>: a variable name; its value is checked like forget.key_env's (an error when
 * secrets are resolved, else a warning) but not kept: librdkafka gets it straight from the
 * environment (sluice_config_kafka_secrets). */
static void kafka_secret_env(loader_t *l, const sluice_yaml_pos_t *pos, const char *key, char **var)
{
    if (env_name_refused(l, pos, "kafka", key, var))
        return;
    const char *v = getenv(*var);
    if (v == NULL || v[0] == '\0') {
        if (l->flags & SLUICE_CONFIG_RESOLVE_SECRETS)
            sluice_config_diag_add(l->diag, pos, "kafka.%s: environment variable %s is %s", key, *var,
                                   v == NULL ? "not set" : "empty");
        else
            sluice_config_diag_warn(l->diag, pos, "kafka.%s: environment variable %s is %s", key, *var,
                                    v == NULL ? "not set" : "empty");
    }
}

static const sluice_kv_t *kafka_property(const sluice_kafka_config_t *k, const char *key)
{
    for (size_t i = 0; i < k->property_count; i++)
        if (strcmp(k->properties[i].key, key) == 0)
            return &k->properties[i];
    return NULL;
}

/* security.protocol, sasl.mechanism and the *_env keys agree: what a managed cluster needs is
 * all there, and no secret variable is named for a mechanism that would not use it. nodes: the
 * sasl_password_env, ssl_key_password_env and oauthbearer_client_secret_env nodes (or NULL). */
static void kafka_security_check(loader_t *l, const sluice_yaml_pos_t *kpos, const sluice_yaml_node_t *const *nodes)
{
    const sluice_kafka_config_t *k = &l->cfg->kafka;
    const sluice_kv_t *proto = kafka_property(k, "security.protocol");
    const sluice_kv_t *mech = kafka_property(k, "sasl.mechanism");
    if (mech == NULL)
        mech = kafka_property(k, "sasl.mechanisms");
    const char *p = proto ? proto->value : "plaintext", *mv = mech ? mech->value : NULL;
    int sasl = strncasecmp(p, "sasl_", 5) == 0;
    if (strcasecmp(p, "plaintext") != 0 && strcasecmp(p, "ssl") != 0 && strcasecmp(p, "sasl_plaintext") != 0 &&
        strcasecmp(p, "sasl_ssl") != 0) {
        sluice_config_diag_add(l->diag, kpos,
                               "kafka.properties.security.protocol: '%s' is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, "
                               "SASL_SSL",
                               p);
        return;
    }
    int plain = mv != NULL && strcasecmp(mv, "PLAIN") == 0;
    int scram = mv != NULL && (strcasecmp(mv, "SCRAM-SHA-256") == 0 || strcasecmp(mv, "SCRAM-SHA-512") == 0);
    int oauth = mv != NULL && strcasecmp(mv, "OAUTHBEARER") == 0;
    if (mv != NULL && !sasl)
        sluice_config_diag_add(l->diag, kpos,
                               "kafka.properties.sasl.mechanism: %s needs security.protocol SASL_SSL (or "
                               "SASL_PLAINTEXT), not %s",
                               mv, p);
    if (sasl && mv == NULL)
        sluice_config_diag_add(l->diag, kpos,
                               "kafka.properties.sasl.mechanism: security.protocol %s needs one: PLAIN, SCRAM-SHA-256, "
                               "SCRAM-SHA-512, OAUTHBEARER or GSSAPI",
                               p);
    if (mv != NULL && !plain && !scram && !oauth && strcasecmp(mv, "GSSAPI") != 0)
        sluice_config_diag_add(
            l->diag, kpos,
            "kafka.properties.sasl.mechanism: '%s' is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, "
            "OAUTHBEARER, GSSAPI",
            mv);
    if (plain && strcasecmp(p, "sasl_plaintext") == 0)
        sluice_config_diag_add(
            l->diag, kpos,
            "kafka.properties.sasl.mechanism: PLAIN over SASL_PLAINTEXT sends the password in clear; "
            "use security.protocol SASL_SSL");
    if ((plain || scram) && sasl) {
        if (kafka_property(k, "sasl.username") == NULL)
            sluice_config_diag_add(l->diag, kpos, "kafka.properties.sasl.username: %s needs it", mv);
        if (k->sasl_password_env == NULL)
            sluice_config_diag_add(l->diag, kpos,
                                   "kafka.sasl_password_env: %s needs it (the variable holding the SASL password)", mv);
    } else if (k->sasl_password_env != NULL) {
        sluice_config_diag_add(l->diag, &nodes[0]->pos,
                               "kafka.sasl_password_env: only sasl.mechanism PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 "
                               "(with security.protocol SASL_SSL) uses a password");
    }
    if (oauth && sasl) {
        const sluice_kv_t *method = kafka_property(k, "sasl.oauthbearer.method");
        if (method == NULL || strcasecmp(method->value, "oidc") != 0)
            sluice_config_diag_add(l->diag, kpos,
                                   "kafka.properties.sasl.oauthbearer.method: OAUTHBEARER needs 'oidc' (librdkafka's "
                                   "default method makes unsigned tokens, for tests only)");
        if (kafka_property(k, "sasl.oauthbearer.client.id") == NULL)
            sluice_config_diag_add(l->diag, kpos, "kafka.properties.sasl.oauthbearer.client.id: OAUTHBEARER needs it");
        if (kafka_property(k, "sasl.oauthbearer.token.endpoint.url") == NULL)
            sluice_config_diag_add(l->diag, kpos,
                                   "kafka.properties.sasl.oauthbearer.token.endpoint.url: OAUTHBEARER needs it");
        if (k->oauthbearer_client_secret_env == NULL)
            sluice_config_diag_add(l->diag, kpos,
                                   "kafka.oauthbearer_client_secret_env: OAUTHBEARER needs it (the variable holding "
                                   "the OIDC client secret)");
    } else if (k->oauthbearer_client_secret_env != NULL) {
        sluice_config_diag_add(l->diag, &nodes[2]->pos,
                               "kafka.oauthbearer_client_secret_env: only sasl.mechanism OAUTHBEARER uses it");
    }
    if (k->ssl_key_password_env != NULL && kafka_property(k, "ssl.key.location") == NULL)
        sluice_config_diag_add(l->diag, &nodes[1]->pos,
                               "kafka.ssl_key_password_env: set kafka.properties.ssl.key.location (the encrypted "
                               "client key it opens)");
}

static void decode_kafka(loader_t *l, sluice_dec_map_t *root)
{
    sluice_kafka_config_t *k = &l->cfg->kafka;
    k->topic = sluice_dec_xstrdup("sluice.events");
    k->dlq_topic = sluice_dec_xstrdup("sluice.dlq");
    k->invalid_topic = sluice_dec_xstrdup("sluice.invalid");
    k->dsr_topic = sluice_dec_xstrdup("sluice.dsr");
    k->ack = SLUICE_ACK_KAFKA;
    k->ack_timeout_ms = 5000;
    k->queue_max_messages = 100000;
    sluice_dec_map_t m;
    sluice_dec_map_sub(root, "kafka", &m);
    l->kafka_pos = m.pos;
    l->brokers_written = sluice_dec_checked_string(&m, "brokers", 0, check_brokers, &k->brokers) != 0;
    sluice_dec_checked_string(&m, "topic", 0, check_topic, &k->topic);
    sluice_dec_checked_string(&m, "dlq_topic", 0, check_topic, &k->dlq_topic);
    sluice_dec_checked_string(&m, "invalid_topic", 0, check_topic, &k->invalid_topic);
    if (strcmp(k->invalid_topic, k->topic) == 0 || strcmp(k->invalid_topic, k->dlq_topic) == 0) {
        const sluice_yaml_node_t *v = sluice_yaml_map_get(m.node, "invalid_topic");
        sluice_config_diag_add(l->diag, v ? &v->pos : &m.pos,
                               "kafka.invalid_topic: must differ from kafka.topic and kafka.dlq_topic");
    }
    sluice_dec_checked_string(&m, "dsr_topic", 0, check_topic, &k->dsr_topic);
    if (strcmp(k->dsr_topic, k->topic) == 0 || strcmp(k->dsr_topic, k->dlq_topic) == 0 ||
        strcmp(k->dsr_topic, k->invalid_topic) == 0) {
        const sluice_yaml_node_t *v = sluice_yaml_map_get(m.node, "dsr_topic");
        sluice_config_diag_add(
            l->diag, v ? &v->pos : &m.pos,
            "kafka.dsr_topic: must differ from kafka.topic, kafka.dlq_topic and kafka.invalid_topic");
    }
    if (strcmp(k->topic, k->dlq_topic) == 0) {
        const sluice_yaml_node_t *v = sluice_yaml_map_get(m.node, "dlq_topic");
        sluice_config_diag_add(l->diag, v ? &v->pos : &m.pos, "kafka.dlq_topic: must differ from kafka.topic");
    }
    int ack = SLUICE_ACK_KAFKA;
    sluice_dec_enum(&m, "ack", 0, ack_names, &ack);
    k->ack = (sluice_ack_mode_t)ack;
    sluice_dec_unsigned(&m, "ack_timeout_ms", 0, 1, 600000, &k->ack_timeout_ms);
    sluice_dec_unsigned(&m, "queue_max_messages", 0, 1, 10000000, &k->queue_max_messages);

    const sluice_yaml_node_t *props = sluice_dec_take(&m, "properties");
    if (props != NULL && sluice_yaml_is_null(props) != 0) {
        if (props->type != SLUICE_YAML_MAP) {
            sluice_config_diag_add(l->diag, &props->pos, "kafka.properties: expected a map, got %s",
                                   sluice_yaml_describe(props));
        } else {
            k->properties = sluice_dec_xcalloc(props->pair_count, sizeof(*k->properties));
            for (size_t i = 0; i < props->pair_count; i++) {
                const sluice_yaml_node_t *key = props->pairs[i].key, *val = props->pairs[i].value;
                char path[SLUICE_DEC_PATH_MAX];
                snprintf(path, sizeof(path), "kafka.properties.%s", key->scalar);
                const char *why = reserved_property(key->scalar);
                if (why != NULL) {
                    sluice_config_diag_add(l->diag, &key->pos, "%s: %s", path, why);
                    continue;
                }
                if (strstr(key->scalar, "password") != NULL || strstr(key->scalar, "secret") != NULL ||
                    strcmp(key->scalar, "sasl.oauthbearer.config") == 0 || strcmp(key->scalar, "ssl.key.pem") == 0) {
                    const char *hint = strcmp(key->scalar, "sasl.password") == 0      ? "kafka.sasl_password_env"
                                       : strcmp(key->scalar, "ssl.key.password") == 0 ? "kafka.ssl_key_password_env"
                                       : strcmp(key->scalar, "sasl.oauthbearer.client.secret") == 0
                                           ? "kafka.oauthbearer_client_secret_env"
                                           : NULL;
                    if (hint != NULL)
                        sluice_config_diag_add(l->diag, &key->pos,
                                               "%s: a secret written inline; give the variable holding it in %s", path,
                                               hint);
                    else
                        sluice_config_diag_add(
                            l->diag, &key->pos, "%s: a secret written inline; secrets never go in the config file%s",
                            path,
                            strcmp(key->scalar, "ssl.key.pem") == 0 ? " (give the key file in ssl.key.location)" : "");
                    continue;
                }
                if (val->type != SLUICE_YAML_SCALAR || sluice_yaml_is_null(val) == 0) {
                    sluice_config_diag_add(l->diag, &val->pos, "%s: expected a string, number or boolean, got %s", path,
                                           sluice_yaml_describe(val));
                    continue;
                }
                /* librdkafka reads the text: "10_000" (YAML 1.1's integer) is 10 to it. */
                const char *v = val->scalar;
                if (v[0] >= '0' && v[0] <= '9' && strchr(v, '_') != NULL && strspn(v, "0123456789_") == strlen(v)) {
                    char digits[64];
                    size_t dn = 0;
                    for (const char *c = v; *c && dn + 1 < sizeof(digits); c++)
                        if (*c != '_')
                            digits[dn++] = *c;
                    digits[dn] = '\0';
                    sluice_config_diag_add(
                        l->diag, &val->pos,
                        "%s: '%s' is passed to librdkafka as written, which reads it as %.*s: write %s", path, v,
                        (int)strcspn(v, "_"), v, digits);
                    continue;
                }
                const char *alias = property_alias(key->scalar);
                for (size_t j = 0; alias != NULL && j < i; j++) {
                    if (strcmp(props->pairs[j].key->scalar, alias) == 0) {
                        sluice_config_diag_add(l->diag, &key->pos,
                                               "%s: another name for %s, which is set too: give one", path, alias);
                        alias = NULL;
                        v = NULL;
                    }
                }
                if (v == NULL)
                    continue;
                k->properties[k->property_count].key = sluice_dec_xstrdup(key->scalar);
                k->properties[k->property_count].value = sluice_dec_xstrdup(val->scalar);
                k->property_count++;
            }
        }
    }
    static const char *const secret_keys[] = {"sasl_password_env", "ssl_key_password_env",
                                              "oauthbearer_client_secret_env"};
    char **secret_vars[] = {&k->sasl_password_env, &k->ssl_key_password_env, &k->oauthbearer_client_secret_env};
    const sluice_yaml_node_t *secret_nodes[3];
    for (size_t i = 0; i < 3; i++) {
        secret_nodes[i] = sluice_yaml_map_get(m.node, secret_keys[i]);
        if (sluice_dec_string(&m, secret_keys[i], 0, secret_vars[i]) == 1)
            kafka_secret_env(l, &secret_nodes[i]->pos, secret_keys[i], secret_vars[i]);
    }
    kafka_security_check(l, &m.pos, secret_nodes);
    sluice_dec_map_close(&m);
}

static void parse_redis_url(loader_t *l, const sluice_yaml_pos_t *pos, const char *what)
{
    sluice_redis_config_t *r = &l->cfg->redis;
    char host[256], why[160];
    if (sluice_redis_url_parse(r->url, host, sizeof(host), &r->port, &r->db, why, sizeof(why)) < 0) {
        /* The URL itself is not echoed: a password may have been pasted into it. */
        sluice_config_diag_add(l->diag, pos, "%s: bad Redis URL: %s", what, why);
        return;
    }
    free(r->host);
    r->host = sluice_dec_xstrdup(host);
    char *user = NULL, *password = NULL;
    if (sluice_redis_url_userinfo(r->url, &user, &password, why, sizeof(why)) < 0) {
        sluice_config_diag_add(l->diag, pos, "%s: bad Redis URL: %s", what, why);
        return;
    }
    if (password != NULL && pos != NULL) {
        /* From the file: the environment (SLUICE_REDIS_URL, or redis.password_env) is the place. */
        sluice_config_diag_add(l->diag, pos,
                               "%s: a password written inline; set redis.password_env to the variable holding it "
                               "(or give the whole URL in SLUICE_REDIS_URL)",
                               what);
        wipe_free(password);
        password = NULL;
    }
    wipe_free(r->password);
    r->password = password;
    if (user != NULL && r->username == NULL)
        r->username = user;
    else
        free(user);
}

/* A key prefix: 1-64 characters of A-Z a-z 0-9 : _ . - (so ACL key patterns stay simple). */
static const char *check_key_prefix(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return "must be 1-64 characters";
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '_' ||
              c == '.' || c == '-'))
            return "may hold only A-Z a-z 0-9 : _ . - (e.g. \"sluice:prod:\")";
    }
    return NULL;
}

static void decode_stores(loader_t *l, sluice_dec_map_t *root)
{
    sluice_config_t *cfg = l->cfg;
    cfg->redis.timeout_ms = 50;
    sluice_dec_map_t m;
    sluice_dec_map_sub(root, "redis", &m);
    if (sluice_dec_string(&m, "url", 0, &cfg->redis.url) == 1) {
        l->redis_url_pos = sluice_yaml_map_get(m.node, "url")->pos;
        l->redis_url_from_file = 1;
        if (sluice_config_looks_like_variable(cfg->redis.url)) { /* a variable's name holds no password: echoed */
            sluice_config_diag_add(l->diag, &l->redis_url_pos,
                                   "redis.url: '%s' " NO_SUBSTITUTION " (set SLUICE_REDIS_URL instead)",
                                   cfg->redis.url);
            free(cfg->redis.url);
            cfg->redis.url = NULL;
            l->redis_url_from_file = 0;
        }
    }
    sluice_dec_unsigned(&m, "timeout_ms", 0, 1, 60000, &cfg->redis.timeout_ms);
    sluice_dec_string(&m, "username", 0, &cfg->redis.username);
    const sluice_yaml_node_t *pe = sluice_yaml_map_get(m.node, "password_env");
    if (sluice_dec_string(&m, "password_env", 0, &cfg->redis.password_env) == 1 &&
        sluice_dec_check_env_name(cfg->redis.password_env) != NULL) {
        sluice_config_diag_add(l->diag, &pe->pos,
                               "redis.password_env: not an environment variable name (letters, digits and '_', not "
                               "starting with a digit); the password is read from the variable, never written here");
        free(cfg->redis.password_env);
        cfg->redis.password_env = NULL;
    }
    const sluice_yaml_node_t *kp = sluice_yaml_map_get(m.node, "key_prefix");
    if (sluice_dec_string(&m, "key_prefix", 0, &cfg->redis.key_prefix) == 1) {
        const char *why = check_key_prefix(cfg->redis.key_prefix);
        if (why != NULL) {
            sluice_config_diag_add(l->diag, &kp->pos, "redis.key_prefix: '%s' %s", cfg->redis.key_prefix, why);
            free(cfg->redis.key_prefix);
            cfg->redis.key_prefix = NULL;
        }
    }
    if (cfg->redis.key_prefix == NULL)
        cfg->redis.key_prefix = sluice_dec_xstrdup("sluice:");
    sluice_dec_map_close(&m);

    sluice_dec_map_sub(root, "database", &m);
    if (sluice_dec_string(&m, "url", 0, &cfg->database.url) == 1 &&
        sluice_config_looks_like_variable(cfg->database.url))
        sluice_config_diag_add(l->diag, &sluice_yaml_map_get(m.node, "url")->pos,
                               "database.url: '%s' " NO_SUBSTITUTION " (set SLUICE_DATABASE_URL instead)",
                               cfg->database.url);
    else if (cfg->database.url != NULL && has_inline_password(cfg->database.url))
        sluice_config_diag_add(l->diag, &sluice_yaml_map_get(m.node, "url")->pos,
                               "database.url: a password written inline; leave it out and set PGPASSWORD (or use a "
                               ".pgpass file), or give the whole URL in SLUICE_DATABASE_URL");
    /* At least a week: a typo (4 for 400) would otherwise erase the trail of a fortnight's
     * credential reads on the next prune, before anyone looked at it. */
    cfg->database.audit_retention_days = 400;
    sluice_dec_unsigned(&m, "audit_retention_days", 0, 7, 36500, &cfg->database.audit_retention_days);
    sluice_dec_map_close(&m);
}

static void decode_misc(loader_t *l, sluice_dec_map_t *root)
{
    sluice_config_t *cfg = l->cfg;
    sluice_dec_map_t m, metrics;

    /* The built-in plugins next to this program (NULL if its path cannot be read: the plugin
     * loader then says so and names both settings). */
    cfg->plugin_dir = sluice_install_plugin_dir(NULL);
    sluice_dec_map_sub(root, "plugins", &m);
    if (path_value(&m, "dir", cfg->dir, &cfg->plugin_dir, &cfg->plugin_dir_pos) == 1)
        cfg->plugin_dir_from = SLUICE_CONFIG_FROM_FILE;
    sluice_dec_map_close(&m);

    int level = 1;
    sluice_dec_map_sub(root, "log", &m);
    sluice_dec_enum(&m, "level", 0, log_levels, &level);
    cfg->log_level = sluice_dec_xstrdup(log_levels[level]);
    path_value(&m, "audit_file", cfg->dir, &cfg->audit_log, NULL);
    sluice_dec_map_close(&m);

    sluice_delivery_config_t *d = &cfg->delivery;
    sluice_listen_parse("127.0.0.1:9465", &d->metrics, NULL, 0);
    d->credentials_ttl_s = 300;
    d->max_in_flight = 64;
    sluice_dec_map_sub(root, "delivery", &m);
    path_value(&m, "ca_file", cfg->dir, &d->ca_file, &d->ca_file_pos);
    sluice_dec_map_sub(&m, "metrics", &metrics);
    sluice_yaml_pos_t delivery_metrics_pos; /* another process's listener: not checked against the gateway's */
    listen_value(&metrics, "listen", &d->metrics, &delivery_metrics_pos);
    sluice_dec_map_close(&metrics);
    sluice_dec_unsigned(&m, "credentials_ttl_s", 0, 1, 86400, &d->credentials_ttl_s);
    sluice_dec_unsigned(&m, "max_in_flight", 0, 1, 10000, &d->max_in_flight);
    sluice_dec_map_close(&m);
}

/* forget: the pseudonym key is read from its variable at every load, not only when resolving
 * secrets: the gateway, the worker and sluicectl must all compute the same pseudonyms. A missing
 * variable is an error when secrets are resolved (the gateway) and a warning otherwise; programs
 * that compute pseudonyms refuse to run without it (key_env set, key NULL). */
static void decode_forget(loader_t *l, sluice_dec_map_t *root)
{
    sluice_forget_config_t *f = &l->cfg->forget;
    f->refresh_ms = 1000;
    sluice_dec_map_t m;
    sluice_dec_map_sub(root, "forget", &m);
    sluice_dec_unsigned(&m, "refresh_ms", 0, 100, 3600000, &f->refresh_ms);
    const sluice_yaml_node_t *kv = sluice_yaml_map_get(m.node, "key_env");
    if (sluice_dec_string(&m, "key_env", 0, &f->key_env) == 1) {
        const char *v = sluice_dec_check_env_name(f->key_env) == NULL ? getenv(f->key_env) : NULL;
        if (sluice_dec_check_env_name(f->key_env) != NULL) {
            sluice_config_diag_add(l->diag, &kv->pos,
                                   "forget.key_env: not an environment variable name (letters, digits and '_', not "
                                   "starting with a digit); the key is read from the variable, never written here");
            free(f->key_env);
            f->key_env = NULL;
        } else if (v == NULL || v[0] == '\0') {
            if (l->flags & SLUICE_CONFIG_RESOLVE_SECRETS)
                sluice_config_diag_add(l->diag, &kv->pos, "forget.key_env: environment variable %s is %s", f->key_env,
                                       v == NULL ? "not set" : "empty");
            else
                sluice_config_diag_warn(l->diag, &kv->pos, "forget.key_env: environment variable %s is %s", f->key_env,
                                        v == NULL ? "not set" : "empty");
        } else if (strlen(v) < 16) {
            sluice_config_diag_add(l->diag, &kv->pos,
                                   "forget.key_env: the key in %s is shorter than 16 bytes (use e.g. `openssl rand "
                                   "-hex 32`)",
                                   f->key_env);
        } else {
            f->key = sluice_dec_xstrdup(v);
            f->key_len = strlen(v);
        }
    }
    sluice_dec_map_close(&m);
}

/* ------------------------------------------------------------------ orgs and includes */

static void org_entries(loader_t *l, const sluice_yaml_node_t *seq, const char *dir);

static void add_org(loader_t *l, const sluice_yaml_node_t *node, const char *dir)
{
    sluice_config_t *cfg = l->cfg;
    cfg->orgs = sluice_dec_xrealloc(cfg->orgs, cfg->org_count + 1, sizeof(*cfg->orgs));
    l->org_id_pos = sluice_dec_xrealloc(l->org_id_pos, cfg->org_count + 1, sizeof(*l->org_id_pos));
    sluice_org_t *org = &cfg->orgs[cfg->org_count];
    memset(org, 0, sizeof(*org));
    const sluice_yaml_node_t *id = sluice_yaml_map_get(node, "id");
    l->org_id_pos[cfg->org_count] = id != NULL ? id->pos : node->pos;
    char path[32];
    snprintf(path, sizeof(path), "orgs[%zu]", cfg->org_count);
    cfg->org_count++;
    sluice_org_decode(org, node, path, dir, l->flags, l->diag);
}

static void include_file(loader_t *l, const sluice_yaml_node_t *entry, const char *dir)
{
    char path[40];
    snprintf(path, sizeof(path), "orgs[%zu]", l->cfg->org_count);
    const sluice_yaml_node_t *target = NULL;
    for (size_t i = 0; i < entry->pair_count; i++) {
        const sluice_yaml_node_t *k = entry->pairs[i].key;
        if (strcmp(k->scalar, "include") == 0)
            target = entry->pairs[i].value;
        else
            sluice_config_diag_add(l->diag, &k->pos, "unknown key '%s' in %s (an include entry takes only 'include')",
                                   k->scalar, path);
    }
    char *name = NULL;
    char key_path[64];
    snprintf(key_path, sizeof(key_path), "%s.include", path);
    if (sluice_dec_node_string(l->diag, target, key_path, &name) < 0)
        return;
    char *shown = join_shown(dir, name);
    free(name);
    char real[PATH_MAX];
    if (realpath(shown, real) == NULL) {
        sluice_config_diag_add(l->diag, &target->pos, "%s: cannot read '%s': %s", key_path, shown, strerror(errno));
        free(shown);
        return;
    }
    for (size_t i = 0; i < l->depth; i++) {
        if (strcmp(l->stack[i], real) == 0) {
            sluice_config_diag_add(l->diag, &target->pos, "%s: include cycle: '%s' is already being read", key_path,
                                   shown);
            free(shown);
            return;
        }
    }
    if (l->depth == MAX_INCLUDE_DEPTH) {
        sluice_config_diag_add(l->diag, &target->pos, "%s: includes nested deeper than %d files", key_path,
                               MAX_INCLUDE_DEPTH);
        free(shown);
        return;
    }
    char err[600];
    sluice_yaml_doc_t *doc = sluice_yaml_load_file(shown, err, sizeof(err));
    if (doc == NULL) {
        sluice_config_diag_add(l->diag, NULL, "%s", err);
        free(shown);
        return;
    }
    add_doc(l->cfg, doc);
    l->stack[l->depth++] = sluice_dec_xstrdup(real);
    char *sub_dir = dir_of(shown);
    const sluice_yaml_node_t *root = doc->root;
    if (root == NULL || sluice_yaml_is_null(root) == 0) {
        sluice_yaml_pos_t file_pos = {doc->file, 0, 0};
        sluice_config_diag_add(l->diag, &file_pos, "empty file; expected an org (a map) or a list of orgs");
    } else if (root->type == SLUICE_YAML_SEQ) {
        org_entries(l, root, sub_dir);
    } else if (root->type == SLUICE_YAML_MAP) {
        if (sluice_yaml_map_get(root, "include") != NULL)
            include_file(l, root, sub_dir);
        else
            add_org(l, root, sub_dir);
    } else {
        sluice_config_diag_add(l->diag, &root->pos, "expected an org (a map) or a list of orgs, got %s",
                               sluice_yaml_describe(root));
    }
    free(sub_dir);
    free(l->stack[--l->depth]);
    free(shown);
}

static void org_entries(loader_t *l, const sluice_yaml_node_t *seq, const char *dir)
{
    for (size_t i = 0; i < seq->item_count; i++) {
        const sluice_yaml_node_t *it = seq->items[i];
        if (it->type == SLUICE_YAML_MAP && sluice_yaml_map_get(it, "include") != NULL)
            include_file(l, it, dir);
        else
            add_org(l, it, dir);
    }
}

static void check_org_ids(loader_t *l)
{
    const sluice_config_t *cfg = l->cfg;
    for (size_t i = 0; i < cfg->org_count; i++) {
        for (size_t j = 0; cfg->orgs[i].id != NULL && j < i; j++) {
            if (cfg->orgs[j].id != NULL && strcmp(cfg->orgs[i].id, cfg->orgs[j].id) == 0) {
                const sluice_yaml_pos_t *first = &l->org_id_pos[j];
                sluice_config_diag_add(l->diag, &l->org_id_pos[i],
                                       "orgs[%zu].id: duplicate org id '%s' (first at %s:%u)", i, cfg->orgs[i].id,
                                       first->file, first->line);
                break;
            }
        }
    }
}

/* ------------------------------------------------------------------ environment */

static void env_listen(loader_t *l, const char *var, sluice_listen_t *out)
{
    const char *v = getenv(var);
    if (v == NULL)
        return;
    char why[160];
    if (sluice_listen_parse(v, out, why, sizeof(why)) < 0)
        sluice_config_diag_add(l->diag, NULL, "%s: bad listen address '%s': %s", var, v, why);
}

/* Replaces *out with the variable's value. An empty value clears it when empty_ok (the feature
 * is then off) and is an error otherwise. Paths are made absolute against the working
 * directory (env values are not in any file). Returns 1 when set from the environment. */
static int env_string(loader_t *l, const char *var, int empty_ok, int is_path, char **out)
{
    const char *v = getenv(var);
    if (v == NULL)
        return 0;
    if (v[0] == '\0') {
        if (!empty_ok) {
            sluice_config_diag_add(l->diag, NULL, "%s: set but empty", var);
            return 0;
        }
        free(*out);
        *out = NULL;
        return 1;
    }
    free(*out);
    *out = is_path ? sluice_dec_resolve_path(".", v) : sluice_dec_xstrdup(v);
    return 1;
}

/* Every SLUICE_* variable some part of sluice reads: near one of these, a name is a typo
 * (SLUICE_KAFKA_BROKER), silently ignored until now. Names far from all of them may belong to
 * something else, and are left alone. */
static const char *const env_read[] = {"SLUICE_HTTPS_LISTEN", "SLUICE_HTTP_LISTEN",     "SLUICE_METRICS_LISTEN",
                                       "SLUICE_TLS_CERT",     "SLUICE_TLS_KEY",         "SLUICE_KAFKA_BROKERS",
                                       "SLUICE_REDIS_URL",    "SLUICE_DATABASE_URL",    "SLUICE_PLUGIN_DIR",
                                       "SLUICE_LOG_LEVEL",    "SLUICE_KEY_ID",          "SLUICE_KEYRING",
                                       "SLUICE_LIVE_TOKEN",   "SLUICE_DEMO_CA",         "SLUICE_DEMO_SECRETS",
                                       "SLUICE_BUILD_DIR",    "SLUICE_SOURCE_DIR",      "SLUICE_KEEP_TMP",
                                       "SLUICE_PG_BINDIR",    "SLUICE_SANITIZED",       "SLUICE_BROWSER",
                                       "SLUICE_CHROMIUM",     "SLUICE_COMPAT",          "SLUICE_DOT",
                                       "SLUICE_TEST_SALT",    "SLUICE_TEST_UNSET_SALT", NULL};

static void warn_mistyped_env(loader_t *l)
{
    extern char **environ;
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, "SLUICE_", 7) != 0)
            continue;
        char name[64];
        size_t n = strcspn(*e, "=");
        if (n >= sizeof(name))
            continue;
        memcpy(name, *e, n);
        name[n] = '\0';
        size_t i = 0;
        while (env_read[i] != NULL && strcmp(env_read[i], name) != 0)
            i++;
        if (env_read[i] != NULL)
            continue;
        const char *close = sluice_strdist_closest(name, env_read, 2);
        if (close != NULL) /* the value is never echoed: it may be a secret */
            sluice_config_diag_warn(
                l->diag, NULL, "%s: not a variable sluice reads, so it is ignored (did you mean %s?)", name, close);
    }
}

static void apply_env(loader_t *l)
{
    sluice_config_t *cfg = l->cfg;
    static const char *const listen_vars[3] = {"SLUICE_HTTPS_LISTEN", "SLUICE_HTTP_LISTEN", "SLUICE_METRICS_LISTEN"};
    sluice_listen_t *listens[3] = {&cfg->server.https, &cfg->server.http, &cfg->server.metrics};
    for (size_t i = 0; i < 3; i++) {
        env_listen(l, listen_vars[i], listens[i]);
        if (getenv(listen_vars[i]) != NULL)
            l->listen_pos[i] = (sluice_yaml_pos_t){NULL, 0, 0}; /* not the file's any more */
    }
    if (env_string(l, "SLUICE_TLS_CERT", 0, 1, &cfg->server.tls_cert) == 1)
        cfg->server.tls_cert_pos = (sluice_yaml_pos_t){NULL, 0, 0};
    if (env_string(l, "SLUICE_TLS_KEY", 0, 1, &cfg->server.tls_key) == 1)
        cfg->server.tls_key_pos = (sluice_yaml_pos_t){NULL, 0, 0};

    const char *brokers = getenv("SLUICE_KAFKA_BROKERS");
    if (brokers != NULL) {
        const char *why = check_brokers(brokers);
        if (why != NULL) {
            sluice_config_diag_add(l->diag, NULL, "SLUICE_KAFKA_BROKERS: '%s' %s", brokers, why);
        } else {
            free(cfg->kafka.brokers);
            cfg->kafka.brokers = sluice_dec_xstrdup(brokers);
        }
    }
    if (env_string(l, "SLUICE_REDIS_URL", 1, 0, &cfg->redis.url) == 1) {
        l->redis_url_from_file = 0;
        free(cfg->redis.host);
        cfg->redis.host = NULL;
        cfg->redis.port = 0;
        cfg->redis.db = 0;
        wipe_free(cfg->redis.password);
        cfg->redis.password = NULL;
        if (cfg->redis.url != NULL)
            parse_redis_url(l, NULL, "SLUICE_REDIS_URL");
    }
    env_string(l, "SLUICE_DATABASE_URL", 1, 0, &cfg->database.url);
    if (env_string(l, "SLUICE_PLUGIN_DIR", 0, 1, &cfg->plugin_dir) == 1)
        cfg->plugin_dir_from = SLUICE_CONFIG_FROM_ENV;

    const char *level = getenv("SLUICE_LOG_LEVEL");
    if (level != NULL) {
        size_t i = 0;
        while (log_levels[i] != NULL && strcmp(log_levels[i], level) != 0)
            i++;
        if (log_levels[i] == NULL) {
            sluice_config_diag_add(l->diag, NULL, "SLUICE_LOG_LEVEL: '%s' is not one of: debug, info, warn, error",
                                   level);
        } else {
            free(cfg->log_level);
            cfg->log_level = sluice_dec_xstrdup(level);
        }
    }
}

/* Checks that need the values after env overrides. */
static int wildcard_host(const char *h)
{
    return h[0] == '\0' || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 || strcmp(h, "[::]") == 0;
}

/* Listeners share nothing: each opens its socket with SO_REUSEPORT, so two on one address both
 * open and the kernel deals the connections out between them (HTTPS clients on the plain port or
 * on /metrics, at random). Port 0 is a free port the kernel picks, a different one for each. */
static void check_listeners(loader_t *l)
{
    static const char *const names[3] = {"server.https.listen", "server.http.listen", "server.metrics.listen"};
    const sluice_listen_t *ls[3] = {&l->cfg->server.https, &l->cfg->server.http, &l->cfg->server.metrics};
    for (size_t i = 1; i < 3; i++) {
        for (size_t j = 0; j < i; j++) {
            const sluice_listen_t *a = ls[i], *b = ls[j];
            if (!a->enabled || !b->enabled || a->port == 0 || a->port != b->port)
                continue;
            if (strcasecmp(a->host, b->host) != 0 && !wildcard_host(a->host) && !wildcard_host(b->host))
                continue;
            int v6 = strchr(a->host, ':') != NULL && a->host[0] != '[';
            sluice_config_diag_add(l->diag, l->listen_pos[i].line > 0 ? &l->listen_pos[i] : NULL,
                                   "%s: %s%s%s:%u is also %s's port on that address: each listener needs its own",
                                   names[i], v6 ? "[" : "", a->host, v6 ? "]" : "", (unsigned)a->port, names[j]);
            break;
        }
    }
}

/* The tag is looked for before the event routes: at a path they or the operations routes use, it
 * would answer those requests itself (405 to every POST of a batch at /v1/batch). */
static void check_tag_path(loader_t *l)
{
    const sluice_server_config_t *sv = &l->cfg->server;
    const char *tag = sv->tag_path, *prefix = sv->path_prefix;
    if (tag == NULL || l->tag_path_pos.line == 0)
        return;
    size_t pn = prefix != NULL ? strlen(prefix) : 0;
    char why[160];
    if (strcmp(tag, "/healthz") == 0 || strcmp(tag, "/readyz") == 0 || strcmp(tag, "/metrics") == 0)
        snprintf(why, sizeof(why), "an operations route");
    else if (pn > 0 && strncmp(tag, prefix, pn) == 0 && (tag[pn] == '\0' || tag[pn] == '/'))
        snprintf(why, sizeof(why), "path_prefix %s holds the event routes", prefix);
    else if (strncmp(tag, "/beacon", 7) == 0 && pn > 0 && strncmp(tag + 7, prefix, pn) == 0)
        snprintf(why, sizeof(why), "RudderStack's beacon route");
    else
        return;
    sluice_config_diag_add(l->diag, &l->tag_path_pos,
                           "server.tag_path: '%s' is a path the gateway serves already (%s): serve the tag elsewhere, "
                           "e.g. /sluice.js",
                           tag, why);
}

/* A write key is how a request finds its source: the gateway takes the first source whose key
 * matches, so a key held by two (a copy-paste between orgs, or the rotated-out key left equal to
 * the current one) sent the second's events into the first's stream, under its data layer.
 * Signing secrets are compared too: a signature covers method, path, timestamp and body but not
 * X-Sluice-Source, so a secret two server sources share let a request signed for one be sent
 * again naming the other (another org's stream, and a replay key of its own); and a signing
 * secret equal to a write key, which every page carries, let anyone sign. Only a source's own
 * current and previous signing secret may be equal (a rotation not begun yet). Keys are compared
 * only once resolved, and never echoed. */
/* The digests qsort orders entries by (qsort passes no context; loads run one at a time on a
 * thread). */
static _Thread_local uint8_t (*held_digests)[SHA256_DIGEST_LENGTH];

static int held_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = memcmp(held_digests[x], held_digests[y], sizeof(held_digests[0]));
    return c != 0 ? c : (x > y) - (x < y);
}

/* A key without the spaces and line ends around it: a write key is resolved so (org.c), and a
 * signing secret compared with one must be too, or the secret behind `--from-file` ("...\n")
 * and the write key read from the same file ("...") differed, and the config passed while every
 * page carried the signing secret but for a line end any forger would try. */
static const char *held_trim(const char *k, size_t *len)
{
    size_t n = strlen(k);
    while (n > 0 && strchr(" \t\r\n", k[n - 1]) != NULL)
        n--;
    while (n > 0 && strchr(" \t\r\n", k[0]) != NULL) {
        k++;
        n--;
    }
    *len = n;
    return k;
}

static void check_write_keys_unique(loader_t *l)
{
    if (!(l->flags & SLUICE_CONFIG_RESOLVE_SECRETS))
        return;
    typedef struct {
        const char *key, *env;
        const sluice_yaml_pos_t *pos;
        size_t org, src;
        const char *what;
        int hmac;
    } held_t;
    size_t n = 0, cap = 0;
    for (size_t o = 0; o < l->cfg->org_count; o++)
        cap += 4 * l->cfg->orgs[o].source_count;
    held_t *h = sluice_dec_xcalloc(cap + 1, sizeof(*h));
    for (size_t o = 0; o < l->cfg->org_count; o++) {
        for (size_t i = 0; i < l->cfg->orgs[o].source_count; i++) {
            const sluice_source_t *s = &l->cfg->orgs[o].sources[i];
            if (s->write_key != NULL)
                h[n++] = (held_t){s->write_key, s->write_key_env, &s->write_key_env_pos, o, i, "write_key_env", 0};
            if (s->previous_write_key != NULL)
                h[n++] = (held_t){s->previous_write_key,
                                  s->previous_write_key_env,
                                  &s->previous_write_key_env_pos,
                                  o,
                                  i,
                                  "previous_write_key_env",
                                  0};
            if (s->hmac_secret != NULL)
                h[n++] =
                    (held_t){s->hmac_secret, s->hmac_secret_env, &s->hmac_secret_env_pos, o, i, "hmac_secret_env", 1};
            if (s->previous_hmac_secret != NULL)
                h[n++] = (held_t){s->previous_hmac_secret,
                                  s->previous_hmac_secret_env,
                                  &s->previous_hmac_secret_env_pos,
                                  o,
                                  i,
                                  "previous_hmac_secret_env",
                                  1};
        }
    }
    /* Sorted by the keys' SHA-256 (then by position), so that equal keys sit side by side:
     * comparing every pair took seconds with 20,000 sources, and sorting by the keys themselves
     * would compare secrets byte by byte. dup[i] is the first earlier entry i repeats. */
    size_t *order = sluice_dec_xcalloc(n + 1, sizeof(*order));
    size_t *dup = sluice_dec_xcalloc(n + 1, sizeof(*dup));
    held_digests = sluice_dec_xcalloc(n + 1, sizeof(*held_digests));
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
        dup[i] = SIZE_MAX;
        size_t kl;
        const char *k = held_trim(h[i].key, &kl);
        if (EVP_Digest(k, kl, held_digests[i], NULL, EVP_sha256(), NULL) != 1)
            memset(held_digests[i], 0, sizeof(held_digests[i])); /* never: then one long group */
    }
    qsort(order, n, sizeof(*order), held_cmp);
    for (size_t g = 0; g < n;) {
        size_t end = g + 1;
        while (end < n && memcmp(held_digests[order[end]], held_digests[order[g]], sizeof(held_digests[0])) == 0)
            end++;
        for (size_t x = g + 1; x < end; x++) {
            size_t i = order[x];
            for (size_t y = g; y < x; y++) { /* earlier positions first */
                size_t j = order[y];
                /* Two signing secrets byte for byte (each is its own key with its line end); a
                 * write key against anything without the spaces around it. */
                size_t a, b;
                const char *ki = h[i].key, *kj = h[j].key;
                if (h[i].hmac && h[j].hmac) {
                    a = strlen(ki);
                    b = strlen(kj);
                } else {
                    ki = held_trim(ki, &a);
                    kj = held_trim(kj, &b);
                }
                if (a != b || CRYPTO_memcmp(ki, kj, a) != 0)
                    continue;
                if (h[i].hmac && h[j].hmac && h[i].org == h[j].org && h[i].src == h[j].src)
                    continue;
                dup[i] = j;
                break;
            }
        }
        g = end;
    }
    for (size_t i = 0; i < n; i++) {
        if (dup[i] == SIZE_MAX)
            continue;
        size_t j = dup[i];
        sluice_config_diag_add(l->diag, h[i].pos->line > 0 ? h[i].pos : NULL,
                               "orgs[%zu].sources[%zu].%s: %s holds the same %s as orgs[%zu].sources[%zu].%s (%s): "
                               "each source needs %s of its own",
                               h[i].org, h[i].src, h[i].what, h[i].env, h[i].hmac || h[j].hmac ? "secret" : "key",
                               h[j].org, h[j].src, h[j].what, h[j].env, h[i].hmac || h[j].hmac ? "a secret" : "a key");
    }
    OPENSSL_cleanse(held_digests, (n + 1) * sizeof(*held_digests));
    free(held_digests);
    held_digests = NULL;
    free(order);
    free(dup);
    free(h);
}

/* 1 when a browser sends a cookie of Domain a to hosts that also get one of Domain b: the same
 * domain, or one inside the other. */
static int cookie_domains_meet(const char *a, const char *b)
{
    size_t al = strlen(a), bl = strlen(b);
    if (al < bl) {
        const char *t = a;
        a = b;
        b = t;
        size_t tl = al;
        al = bl;
        bl = tl;
    }
    return strcasecmp(a + al - bl, b) == 0 && (al == bl || a[al - bl - 1] == '.');
}

/* Two orgs that keep a cookie of one name on one domain (or one inside the other) get each
 * other's: a browser sends both orgs' cookies to either, and on one domain each org's answer
 * replaces the other's. An org that signs its anonymous-id cookie finds its own among them, but
 * one that does not takes the other org's visitor id for its events; each org's session cookie
 * replaced the other's, so sessions restarted at every switch. */
static void check_cookies_apart(loader_t *l)
{
    const sluice_config_t *cfg = l->cfg;
    for (size_t i = 1; i < cfg->org_count; i++) {
        const sluice_org_t *b = &cfg->orgs[i];
        if (b->identity.cookie_domain == NULL)
            continue;
        for (size_t j = 0; j < i; j++) {
            const sluice_org_t *a = &cfg->orgs[j];
            if (a->identity.cookie_domain == NULL ||
                !cookie_domains_meet(a->identity.cookie_domain, b->identity.cookie_domain))
                continue;
            const char *what = NULL, *name = NULL;
            if (strcmp(a->identity.cookie_name, b->identity.cookie_name) == 0) {
                what = "anonymous-id cookie";
                name = b->identity.cookie_name;
            } else if (a->enrich.session && b->enrich.session && a->enrich.session_cookie != NULL &&
                       b->enrich.session_cookie != NULL &&
                       strcmp(a->enrich.session_cookie, b->enrich.session_cookie) == 0 &&
                       strcasecmp(a->identity.cookie_domain, b->identity.cookie_domain) == 0) {
                /* Session cookies are read by signature (enrichment.c), so only one domain, where
                 * each org's Set-Cookie replaces the other's, keeps them from living side by side. */
                what = "session cookie";
                name = b->enrich.session_cookie;
            }
            if (what == NULL)
                continue;
            sluice_config_diag_add(l->diag,
                                   b->identity.cookie_domain_pos.line > 0 ? &b->identity.cookie_domain_pos : NULL,
                                   "orgs[%zu].identity.cookie_domain: org '%s' keeps its %s '%s' on %s, where org "
                                   "'%s' keeps its own (on %s): each org would read and overwrite the other's; give "
                                   "one a cookie name of its own",
                                   i, b->id, what, name, b->identity.cookie_domain, a->id, a->identity.cookie_domain);
            break;
        }
    }
}

static void check_final(loader_t *l)
{
    sluice_config_t *cfg = l->cfg;
    check_listeners(l);
    check_tag_path(l);
    check_write_keys_unique(l);
    check_cookies_apart(l);
    if (cfg->server.https.enabled) {
        if (cfg->server.tls_cert == NULL)
            sluice_config_diag_add(l->diag, &l->https_pos,
                                   "missing required key 'cert' in server.https (https is enabled; SLUICE_TLS_CERT "
                                   "also sets it)");
        if (cfg->server.tls_key == NULL)
            sluice_config_diag_add(l->diag, &l->https_pos,
                                   "missing required key 'key' in server.https (https is enabled; SLUICE_TLS_KEY "
                                   "also sets it)");
    }
    if (!cfg->server.https.enabled && !cfg->server.http.enabled)
        sluice_config_diag_add(l->diag, &l->server_pos,
                               "server: nothing to listen on; set server.https.listen or server.http.listen (or "
                               "SLUICE_HTTPS_LISTEN / SLUICE_HTTP_LISTEN)");
    if (cfg->kafka.brokers == NULL && !l->brokers_written)
        sluice_config_diag_add(l->diag, &l->kafka_pos,
                               "missing required key 'brokers' in kafka (SLUICE_KAFKA_BROKERS also sets it)");
    if (cfg->redis.url != NULL && l->redis_url_from_file)
        parse_redis_url(l, &l->redis_url_pos, "redis.url");
    if (cfg->redis.password != NULL && cfg->redis.password_env != NULL)
        sluice_config_diag_add(l->diag, NULL,
                               "SLUICE_REDIS_URL holds a password and redis.password_env names another: give the Redis "
                               "password one way");
    /* With several orgs, an org holding messages of a thread's queue takes another only while it
     * holds less than the room left (gateway/producer.c): a batch larger than half the queue is
     * then refused on every try, even on an idle gateway. */
    if (cfg->org_count > 1 && cfg->kafka.queue_max_messages < 2 * cfg->limits.max_batch_events)
        sluice_config_diag_warn(l->diag, &l->kafka_pos,
                                "kafka.queue_max_messages %u is less than twice limits.max_batch_events (%zu): with "
                                "%zu orgs, one org holds at most half the queue, so its largest batches would be "
                                "answered 503 on every try",
                                cfg->kafka.queue_max_messages, cfg->limits.max_batch_events, cfg->org_count);
    for (size_t i = 0; cfg->redis.url == NULL && i < cfg->org_count; i++) {
        const sluice_identity_config_t *id = &cfg->orgs[i].identity;
        if (id->dedup_enabled || id->xd_domain_count > 0)
            sluice_config_diag_add(l->diag, &cfg->orgs[i].pos,
                                   "orgs[%zu].identity: %s needs Redis; set redis.url (or SLUICE_REDIS_URL)", i,
                                   id->dedup_enabled ? "dedup" : "cross_domain");
    }
}

/* ------------------------------------------------------------------ load */

/* unreadable: the root file was not valid YAML (reported already) and doc is an empty stand-in,
 * loaded only with SLUICE_CONFIG_PARTIAL so the env overrides are still checked. */
static sluice_config_t *load_doc(sluice_yaml_doc_t *doc, const char *name, int flags, int unreadable,
                                 sluice_config_diag_t *diag)
{
    size_t errors_before = diag->count;
    sluice_config_t *cfg = sluice_dec_xcalloc(1, sizeof(*cfg));
    cfg->path = sluice_dec_xstrdup(name);
    cfg->dir = dir_of(name);
    add_doc(cfg, doc);

    loader_t l;
    memset(&l, 0, sizeof(l));
    l.cfg = cfg;
    l.diag = diag;
    l.flags = flags;
    l.root_pos = (sluice_yaml_pos_t){doc->file, 0, 0};
    char real[PATH_MAX];
    l.stack[l.depth++] = sluice_dec_xstrdup(realpath(name, real) != NULL ? real : name);

    sluice_dec_map_t root;
    int present = sluice_dec_map_open(&root, diag, doc->root, &l.root_pos, "");
    if (present == 0 && !unreadable)
        sluice_config_diag_add(diag, &l.root_pos, "empty config file");
    const sluice_yaml_node_t *version = sluice_dec_take(&root, "version");
    long long v = 0;
    if (present == 1 && version == NULL)
        sluice_dec_missing(&root, "version");
    else if (version != NULL && (sluice_yaml_as_int(version, &v) < 0 || v != 1))
        sluice_config_diag_add(diag, &version->pos, "version: unsupported config version '%s' (this sluice reads 1)",
                               version->scalar ? version->scalar : "?");

    sluice_dec_env_begin();
    decode_server(&l, &root);
    decode_limits(&l, &root);
    decode_kafka(&l, &root);
    decode_stores(&l, &root);
    decode_misc(&l, &root);
    decode_forget(&l, &root);
    sluice_enrich_global_decode(&cfg->enrich, &root, cfg->dir);
    const sluice_yaml_node_t *orgs;
    if (sluice_dec_list(&root, "orgs", present == 1 ? SLUICE_DEC_REQUIRED : 0, &orgs) == 1) {
        if (orgs->item_count == 0)
            sluice_config_diag_add(diag, &orgs->pos, "orgs: the list is empty; a config needs at least one org");
        org_entries(&l, orgs, cfg->dir);
    }
    sluice_dec_map_close(&root);
    check_org_ids(&l);
    if (!(flags & SLUICE_CONFIG_NO_ENV)) {
        apply_env(&l);
        warn_mistyped_env(&l);
    }
    if (present == 1)
        check_final(&l);
    sluice_dec_env_end();

    free(l.stack[0]);
    free(l.org_id_pos);
    if (diag->count > errors_before && !(flags & SLUICE_CONFIG_PARTIAL)) {
        sluice_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* After a root file's syntax error: NULL, or with SLUICE_CONFIG_PARTIAL the defaults and env
 * overrides over an empty stand-in document. */
static sluice_config_t *load_unreadable(const char *name, int flags, sluice_config_diag_t *diag)
{
    if (!(flags & SLUICE_CONFIG_PARTIAL))
        return NULL;
    sluice_yaml_doc_t *doc = sluice_dec_xcalloc(1, sizeof(*doc));
    doc->file = sluice_dec_xstrdup(name);
    return load_doc(doc, name, flags, 1, diag);
}

sluice_config_t *sluice_config_load(const char *path, int flags, sluice_config_diag_t *diag)
{
    char err[600];
    sluice_yaml_doc_t *doc = sluice_yaml_load_file(path, err, sizeof(err));
    if (doc == NULL) {
        sluice_config_diag_add(diag, NULL, "%s", err);
        return load_unreadable(path, flags, diag);
    }
    return load_doc(doc, path, flags, 0, diag);
}

sluice_config_t *sluice_config_load_string(const char *name, const char *buf, size_t len, int flags,
                                           sluice_config_diag_t *diag)
{
    char err[600];
    sluice_yaml_doc_t *doc = sluice_yaml_load_string(name, buf, len, err, sizeof(err));
    if (doc == NULL) {
        sluice_config_diag_add(diag, NULL, "%s", err);
        return load_unreadable(name, flags, diag);
    }
    return load_doc(doc, name, flags, 0, diag);
}

void sluice_config_free(sluice_config_t *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->path);
    free(cfg->dir);
    sluice_server_config_t *sv = &cfg->server;
    free(sv->tls_cert);
    free(sv->tls_key);
    free(sv->ticket_secret_env);
    free(sv->ticket_previous_secret_env);
    free(sv->path_prefix);
    free(sv->tag_path);
    free(sv->trusted_proxies);
    sluice_kafka_config_t *k = &cfg->kafka;
    free(k->brokers);
    free(k->topic);
    free(k->dlq_topic);
    free(k->invalid_topic);
    free(k->dsr_topic);
    for (size_t i = 0; i < k->property_count; i++) {
        free(k->properties[i].key);
        free(k->properties[i].value);
    }
    free(k->properties);
    free(k->sasl_password_env);
    free(k->ssl_key_password_env);
    free(k->oauthbearer_client_secret_env);
    free(cfg->redis.url);
    free(cfg->redis.host);
    free(cfg->redis.username);
    wipe_free(cfg->redis.password);
    free(cfg->redis.password_env);
    free(cfg->redis.key_prefix);
    free(cfg->database.url);
    free(cfg->delivery.ca_file);
    sluice_enrich_global_dispose(&cfg->enrich);
    free(cfg->forget.key_env);
    if (cfg->forget.key != NULL)
        OPENSSL_cleanse(cfg->forget.key, cfg->forget.key_len);
    free(cfg->forget.key);
    free(cfg->plugin_dir);
    free(cfg->log_level);
    free(cfg->audit_log);
    for (size_t i = 0; i < cfg->org_count; i++)
        sluice_org_dispose(&cfg->orgs[i]);
    free(cfg->orgs);
    for (size_t i = 0; i < cfg->doc_count; i++)
        sluice_yaml_doc_free(cfg->docs[i]);
    free(cfg->docs);
    free(cfg);
}

/* ------------------------------------------------------------------ lookups */

const sluice_org_t *sluice_config_find_org(const sluice_config_t *cfg, const char *id)
{
    for (size_t i = 0; cfg != NULL && id != NULL && i < cfg->org_count; i++) {
        if (strcmp(cfg->orgs[i].id, id) == 0)
            return &cfg->orgs[i];
    }
    return NULL;
}

const sluice_source_t *sluice_org_find_source(const sluice_org_t *org, const char *id)
{
    for (size_t i = 0; org != NULL && id != NULL && i < org->source_count; i++) {
        if (strcmp(org->sources[i].id, id) == 0)
            return &org->sources[i];
    }
    return NULL;
}

const sluice_integration_t *sluice_org_find_integration(const sluice_org_t *org, const char *name)
{
    for (size_t i = 0; org != NULL && name != NULL && i < org->integration_count; i++) {
        if (strcmp(org->integrations[i].name, name) == 0)
            return &org->integrations[i];
    }
    return NULL;
}

const char *sluice_config_check_http_url(const char *s)
{
    return sluice_dec_check_http_url(s);
}

char *sluice_config_url_shown(const char *s)
{
    return sluice_dec_url_shown(s);
}
