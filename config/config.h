/*
 * The typed configuration of sluice: the process config (listeners, TLS, Kafka, Redis,
 * PostgreSQL, plugins, limits, delivery) and, inside it, every org's data layer (sources and
 * write keys, identity, hash/mask/drop rules, consent, vendor integrations).
 *
 * One YAML file is the root (`sluice-gateway --config FILE`); an entry of `orgs:` may be
 * `{include: other.yaml}` to keep an org in its own file. docs/config.md is the reference.
 *
 * Ownership: sluice_config_load returns a heap object that owns every string, array and the
 * parsed YAML tree (mask rule parameters point into it); free it with sluice_config_free.
 * A loaded config is immutable and may be read from any thread; a reload builds a new one.
 */
#ifndef SLUICE_CONFIG_CONFIG_H
#define SLUICE_CONFIG_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "config/path.h"
#include "config/yaml.h"

struct sockaddr;

/* ------------------------------------------------------------------ diagnostics */

/* Every problem found while loading, each "file:line:col: message". Loading does not stop at
 * the first error, so `sluicectl config check` can print them all. */
typedef struct sluice_config_diag {
    char **msgs;
    size_t count;
    char **warnings; /* e.g. a secret's env var not set while only checking */
    size_t warning_count;
} sluice_config_diag_t;

void sluice_config_diag_init(sluice_config_diag_t *d);
void sluice_config_diag_dispose(sluice_config_diag_t *d);
/* Appends "file:line:col: <message>". A pos with line 0 gives a file-level "file: <message>";
 * pos NULL gives the bare message (problems not in a file, e.g. "SLUICE_HTTPS_LISTEN: ..."). */
void sluice_config_diag_add(sluice_config_diag_t *d, const sluice_yaml_pos_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sluice_config_diag_warn(sluice_config_diag_t *d, const sluice_yaml_pos_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1 when s is "$NAME" or holds "${": a variable left in a value, which sluice never substitutes
 * (a template rendered without it set, or a file written for a shell). */
int sluice_config_looks_like_variable(const char *s);
#define SLUICE_CONFIG_NO_SUBSTITUTION                                                                                  \
    "looks like an environment variable: sluice does not substitute variables in values"

/* ------------------------------------------------------------------ process */

typedef struct sluice_listen {
    int enabled;   /* 0 when the listen string is empty */
    char host[64]; /* numeric IPv4/IPv6 or a host name */
    uint16_t port;
} sluice_listen_t;

typedef struct sluice_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    uint8_t prefix_len;
    uint8_t host_bits; /* the text set bits past the prefix (10.1.2.3/8): they were cleared */
} sluice_cidr_t;

typedef enum sluice_ack_mode {
    SLUICE_ACK_KAFKA = 0,  /* answer once every event of the request is acknowledged by the broker */
    SLUICE_ACK_QUEUED = 1, /* answer once queued in the producer (weaker, opt-in) */
} sluice_ack_mode_t;

typedef struct sluice_kv {
    char *key;
    char *value;
} sluice_kv_t;

typedef struct sluice_limits {
    size_t max_body_bytes;   /* after gzip decoding; default 524288 */
    size_t max_event_bytes;  /* default 32768 */
    size_t max_batch_events; /* default 500 */
    size_t max_depth;        /* JSON nesting; default 16 */
    size_t max_string_bytes; /* any single JSON string; default 8192 */
    size_t max_wire_bytes;   /* compressed body on the wire; default = max_body_bytes */
} sluice_limits_t;

typedef struct sluice_rate_limit {
    double per_second; /* tokens added per second; 0 = unlimited */
    double burst;      /* bucket size */
} sluice_rate_limit_t;

/* What an HTTP/2 connection may cost before it is cut (server.http2; docs/security.md). */
typedef struct sluice_http2_guard {
    unsigned max_requests_in_flight; /* per connection, reset streams counted until their work ended; default 16 */
    sluice_rate_limit_t resets;      /* streams abandoned before their answer, per connection; default 10/s, burst 50 */
} sluice_http2_guard_t;

typedef struct sluice_server_config {
    sluice_listen_t https;   /* env SLUICE_HTTPS_LISTEN */
    int http2;               /* server.https.http2: offer h2 by ALPN (with its guards); default off */
    sluice_listen_t http;    /* env SLUICE_HTTP_LISTEN; off by default */
    sluice_listen_t metrics; /* env SLUICE_METRICS_LISTEN; plain HTTP /metrics /healthz /readyz */
    char *tls_cert;          /* env SLUICE_TLS_CERT; path, relative paths resolved against the config file */
    char *tls_key;           /* env SLUICE_TLS_KEY */
    /* Where the cert and key values are written; .file is NULL when unset or when the value came
     * from SLUICE_TLS_CERT / SLUICE_TLS_KEY (then a message names the variable instead). */
    sluice_yaml_pos_t tls_cert_pos, tls_key_pos;
    /* server.https.session_ticket_secret_env: the variable holding the secret every gateway of a
     * fleet derives its TLS session-ticket keys from (crypto/tls.h); NULL = keys random to each
     * process. Read by the gateway at start only (gateway/secrets.c), never here. */
    char *ticket_secret_env;
    sluice_yaml_pos_t ticket_secret_env_pos;
    /* server.https.session_ticket_previous_secret_env: the variable of the secret being replaced,
     * whose tickets are still opened (and renewed under the current secret); NULL = none. Only
     * with ticket_secret_env, and another variable. */
    char *ticket_previous_secret_env;
    sluice_yaml_pos_t ticket_previous_secret_env_pos;
    unsigned threads;  /* 0 = number of cores */
    char *path_prefix; /* default "/v1" */
    char *tag_path;    /* default "/sluice.js" */
    sluice_cidr_t *trusted_proxies;
    size_t trusted_proxy_count;
    unsigned drain_timeout_ms;       /* SIGTERM: how long to wait for in-flight acks; default 10000 */
    unsigned max_connections;        /* open client connections, all listeners; 0 = from RLIMIT_NOFILE */
    unsigned max_connections_per_ip; /* per client address (trusted proxies exempt); default 256; 0 = no cap */
    unsigned request_timeout_ms;     /* a request's headers and body must arrive within it; default 10000 */
    sluice_http2_guard_t http2_guard;
} sluice_server_config_t;

typedef struct sluice_kafka_config {
    char *brokers;       /* env SLUICE_KAFKA_BROKERS */
    char *topic;         /* default "sluice.events" */
    char *dlq_topic;     /* default "sluice.dlq" */
    char *invalid_topic; /* refused events, masked, with the reason; default "sluice.invalid" */
    char *dsr_topic;     /* deletion records of `sluicectl forget` (hashed ids only); default "sluice.dsr" */
    sluice_ack_mode_t ack;
    unsigned ack_timeout_ms;     /* how long a request waits for acks before 503; default 5000 */
    unsigned queue_max_messages; /* local producer queue; full → 503 at once; default 100000 */
    sluice_kv_t *properties;     /* extra librdkafka properties, passed through */
    size_t property_count;
    /* Managed Kafka (config/kafka_auth.c): the variables holding the secret librdkafka settings,
     * never the secrets themselves. NULL = not used. */
    char *sasl_password_env;             /* -> sasl.password (PLAIN, SCRAM-SHA-256/512) */
    char *ssl_key_password_env;          /* -> ssl.key.password (an encrypted client key) */
    char *oauthbearer_client_secret_env; /* -> sasl.oauthbearer.client.secret (OIDC) */
} sluice_kafka_config_t;

/* Hands every secret librdkafka setting the kafka config names (kafka.sasl_password_env, ...) to
 * set(ud, property, value, err), the value read from its environment variable at this call;
 * nothing is copied. Returns 0, or -1 with err naming the variable (never its value) when one is
 * unset or empty, or set's own failure. Any thread (reads the environment). */
typedef int (*sluice_kafka_secret_fn)(void *ud, const char *property, const char *value, sluice_err_t *err);
int sluice_config_kafka_secrets(const sluice_kafka_config_t *k, sluice_kafka_secret_fn set, void *ud,
                                sluice_err_t *err);

typedef struct sluice_redis_config {
    char *url;  /* env SLUICE_REDIS_URL; "redis://[user[:password]@]host:port[/db]"; NULL = no Redis */
    char *host; /* parsed from url */
    uint16_t port;
    unsigned db;
    unsigned timeout_ms; /* per command; default 50 */
    char *username;      /* redis.username, else the URL's user; NULL = Redis's default user */
    char *password;      /* the URL's password (allowed in SLUICE_REDIS_URL only); wiped on free */
    char *password_env;  /* redis.password_env: the variable the gateway reads the password from at start */
    char *key_prefix;    /* redis.key_prefix: every key sluice writes starts with it; default "sluice:" */
} sluice_redis_config_t;

typedef struct sluice_database_config {
    char *url; /* env SLUICE_DATABASE_URL; libpq conninfo or postgresql:// URL */
    /* database.audit_retention_days: vault_audit rows older than this are removed by `sluicectl
     * vault audit prune`; default 400, 7..36500 */
    unsigned audit_retention_days;
} sluice_database_config_t;

/* `sluicectl forget`: deletion and suppression (docs/privacy.md). */
typedef struct sluice_forget_config {
    char *key_env;       /* forget.key_env: the variable holding the pseudonym key; NULL = unkeyed */
    char *key;           /* its value, read at every load when set (gateway, worker, sluicectl); wiped on free */
    size_t key_len;      /* at least 16 when key is set */
    unsigned refresh_ms; /* how often gateway and worker look for changes to the suppression lists; default 1000 */
} sluice_forget_config_t;

typedef struct sluice_delivery_config {
    char *ca_file;                 /* CA bundle for vendor TLS; NULL = system bundle. Verification is always on. */
    sluice_yaml_pos_t ca_file_pos; /* where ca_file is written (.file NULL when unset) */
    sluice_listen_t metrics;       /* worker /metrics */
    unsigned credentials_ttl_s;    /* vault plaintext cache TTL; default 300 */
    unsigned max_in_flight;        /* concurrent vendor requests per worker; default 64 */
} sluice_delivery_config_t;

/* ------------------------------------------------------------------ orgs */

typedef enum sluice_source_kind {
    SLUICE_SOURCE_BROWSER = 0, /* write key; CORS */
    SLUICE_SOURCE_SERVER = 1,  /* POST /v1/events signed with HMAC-SHA256 */
} sluice_source_kind_t;

typedef struct sluice_source {
    char *id;
    sluice_source_kind_t kind;
    char *write_key_env;            /* name of the env var holding the current key */
    char *previous_write_key_env;   /* optional: the key being rotated out */
    time_t rotated_at;              /* when the current key replaced the previous one; 0 = unset */
    unsigned grace_hours;           /* previous key accepted until rotated_at + grace; default 72 */
    char *hmac_secret_env;          /* server sources: env var with the signing secret */
    char *previous_hmac_secret_env; /* server sources, optional: the secret being rotated out */
    char **allowed_origins;         /* exact origins, "https://shop.acme.test" */
    size_t allowed_origin_count;
    sluice_rate_limit_t rate_limit; /* per write key (the whole source) */
    sluice_rate_limit_t
        client_rate_limit;      /* per client address (behind trusted proxies, the forwarded one); none by default */
    int pixel_without_referrer; /* /pixel without Referer and Origin (e-mail pixels); default off */
    int server_sent; /* sent_from: server: many users per request; each event keeps its own ids and context.ip */
    /* Resolved secrets (only when loaded with SLUICE_CONFIG_RESOLVE_SECRETS; wiped on free). */
    char *write_key;
    char *previous_write_key;
    char *hmac_secret;
    char *previous_hmac_secret;
    sluice_yaml_pos_t pos;
    sluice_yaml_pos_t write_key_env_pos, previous_write_key_env_pos; /* where the names are written */
    sluice_yaml_pos_t hmac_secret_env_pos, previous_hmac_secret_env_pos;
} sluice_source_t;

typedef enum sluice_normalizer {
    SLUICE_NORM_EMAIL = 0,
    SLUICE_NORM_PHONE,
    SLUICE_NORM_NAME,
    SLUICE_NORM_CITY,
    SLUICE_NORM_STATE,
    SLUICE_NORM_ZIP,
    SLUICE_NORM_COUNTRY,
    SLUICE_NORM_GENDER,
    SLUICE_NORM_DATE,
    SLUICE_NORM_EXTERNAL_ID,
    SLUICE_NORM_RAW,
} sluice_normalizer_t;

/* "email" → SLUICE_NORM_EMAIL ...; -1 when unknown. */
int sluice_normalizer_parse(const char *name);
const char *sluice_normalizer_name(sluice_normalizer_t n);

typedef struct sluice_hash_rule {
    sluice_path_t path;
    sluice_path_t mirror; /* context.traits.X for traits.X, context.identity.userId for userId,
                           * context.identity.linkedFrom for anonymousId (see sluice_org_t); .text NULL when none */
    sluice_normalizer_t normalizer;
    char *default_country_code; /* phone: digits, e.g. "1"; NULL = none */
    sluice_yaml_pos_t pos;
} sluice_hash_rule_t;

typedef enum sluice_mask_on_error {
    SLUICE_MASK_ON_ERROR_REMOVE = 0, /* fail closed: remove the field (default) */
    SLUICE_MASK_ON_ERROR_REJECT = 1, /* reject the whole event */
} sluice_mask_on_error_t;

typedef struct sluice_mask_rule {
    sluice_path_t path;
    sluice_path_t mirror;             /* as for hash rules */
    char *plugin;                     /* built-in name ("partial") or a path to a .so (absolute once loaded) */
    const sluice_yaml_node_t *params; /* mapping node or NULL; validated by the plugin loader */
    sluice_mask_on_error_t on_error;
    sluice_yaml_pos_t pos;
    int invalid;                  /* 1 when decoding this rule found errors (seen only with SLUICE_CONFIG_PARTIAL):
                                     its plugin is then not loaded, so its errors are not reported twice */
    sluice_yaml_pos_t plugin_pos; /* the `plugin:` value (the rule's position when absent) */
} sluice_mask_rule_t;

typedef enum sluice_consent_policy {
    SLUICE_CONSENT_ALLOW = 0, /* accept events without the required categories unchanged */
    SLUICE_CONSENT_DROP = 1,  /* answer ok but do not queue them (counted) */
    SLUICE_CONSENT_STRIP = 2, /* queue them without identifying fields */
} sluice_consent_policy_t;

typedef struct sluice_consent_config {
    char **required; /* categories an event must carry in context.consent.categories */
    size_t required_count;
    sluice_consent_policy_t policy;
    /* consent.aliases: names other consent formats use (Segment's "Analytics", OneTrust's
     * "C0002") → the org's category; matched without regard to case. */
    sluice_kv_t *aliases;
    size_t alias_count;
    /* consent.gpc.withdraws: categories a browser's `Sec-GPC: 1` takes out of its events' consent
     * (gateway/consent.c); none by default, and the header is then never looked up. */
    char **gpc_withdraws;
    size_t gpc_withdraw_count;
} sluice_consent_config_t;

/* The PII guard over every field no rule names (docs/privacy.md#the-pii-guard). */
typedef enum sluice_pii_guard_mode {
    SLUICE_PII_GUARD_OFF = 0,
    SLUICE_PII_GUARD_REPORT = 1, /* record and count findings; values pass as sent (the default) */
    SLUICE_PII_GUARD_MASK = 2,   /* replace each match with [kind] (ids are hashed) */
    SLUICE_PII_GUARD_HASH = 3,   /* replace each match with its SHA-256 */
} sluice_pii_guard_mode_t;

typedef struct sluice_pii_guard_config {
    sluice_pii_guard_mode_t mode;
    sluice_path_t *except; /* paths (and everything under them) the guard leaves alone */
    size_t except_count;
    unsigned national_ids; /* pii/scan.h kinds (SLUICE_SCAN_US_SSN ...) also looked for */
    int key_names;         /* key-name matchers on (default 1) */
    int mode_set;          /* the file chose the mode (config check warns when it did not) */
    sluice_yaml_pos_t pos;
} sluice_pii_guard_config_t;

typedef struct sluice_identity_config {
    char *cookie_name;                   /* default "_sid" */
    char *cookie_domain;                 /* NULL = host-only cookie */
    sluice_yaml_pos_t cookie_domain_pos; /* where cookie_domain is written */
    unsigned cookie_max_age_days;        /* default 400 (the browsers' cap) */
    char **xd_domains;                   /* cross_domain.domains: host names that may exchange tokens */
    size_t xd_domain_count;
    sluice_yaml_pos_t xd_pos; /* where cross_domain.domains is written (.file NULL when absent) */
    unsigned xd_token_ttl_s;  /* default 60 */
    unsigned xd_clock_skew_s; /* default 5 */
    /* default 1800: how long before the gateway received it the event carrying a token may say
     * it was made (the visitor landed) and still be judged at that time: a tag holds the token
     * while its consent banner is up, for minutes. 0: judged when received only. */
    unsigned xd_hold_s;
    char **vendor_cookies; /* "meta" (_fbp/_fbc), "ga4" (_ga) */
    size_t vendor_cookie_count;
    unsigned link_ttl_days; /* identify/alias links in Redis; default 400 */
    /* cookie_consent: the categories an event must carry for the anonymous-id cookie to be set
     * (vendor cookies also need their integrations' consent). Unset: consent.required. */
    char **cookie_consent;
    size_t cookie_consent_count;
    int cookie_consent_set;
    int dedup_enabled;       /* messageId dedup via Redis SET NX; default off */
    unsigned dedup_window_s; /* default 86400 */
} sluice_identity_config_t;

/* Enrichment at the edge (docs/enrichment.md), per org; every part off unless configured. */
typedef enum sluice_bots_action {
    SLUICE_BOTS_OFF = 0,  /* no bot detection */
    SLUICE_BOTS_KEEP = 1, /* detected and counted; the event goes on unmarked */
    SLUICE_BOTS_FLAG = 2, /* context.bot set; integrations skip it unless send_bots */
    SLUICE_BOTS_DROP = 3, /* counted, never queued */
} sluice_bots_action_t;

typedef enum sluice_geo_granularity {
    SLUICE_GEO_OFF = 0,
    SLUICE_GEO_COUNTRY = 1,
    SLUICE_GEO_REGION = 2,
    SLUICE_GEO_CITY = 3,
} sluice_geo_granularity_t;

typedef enum sluice_referrer_medium {
    SLUICE_REFERRER_SEARCH = 0,
    SLUICE_REFERRER_SOCIAL = 1,
    SLUICE_REFERRER_EMAIL = 2,
    SLUICE_REFERRER_INTERNAL = 3,
    SLUICE_REFERRER_OTHER = 4,
} sluice_referrer_medium_t;

typedef struct sluice_referrer_host {
    char *host; /* a DNS name; matches itself and its subdomains */
    sluice_referrer_medium_t medium;
} sluice_referrer_host_t;

#define SLUICE_ENRICH_SESSION_TIMEOUT_S 1800
#define SLUICE_ENRICH_SESSION_COOKIE    "_sluice_ses"

typedef struct sluice_enrich_config {
    int enabled;    /* any part below is on */
    int user_agent; /* context.device, context.os, context.browser */
    sluice_bots_action_t bots;
    char **bot_patterns; /* case-insensitive substrings of a user agent, beyond uap-core's Spider family */
    size_t bot_pattern_count;
    sluice_cidr_t *bot_ranges; /* client addresses that are bots */
    size_t bot_range_count;
    int bots_no_user_agent; /* a request without a User-Agent is a bot (default 1) */
    sluice_geo_granularity_t geo;
    int session;                /* context.session from the session cookie */
    unsigned session_timeout_s; /* inactivity that ends a session; default 1800 */
    char *session_cookie;       /* default "_sluice_ses" */
    char **session_consent;     /* categories the cookie needs; unset: identity.cookie_consent's */
    size_t session_consent_count;
    int session_consent_set;
    int campaign;                           /* UTM parameters of the page URL into context.campaign */
    int referrer;                           /* context.referrer.medium from the table below and the built-in one */
    sluice_referrer_host_t *referrer_hosts; /* the org's table, looked up before the built-ins */
    size_t referrer_host_count;
    sluice_yaml_pos_t pos;
} sluice_enrich_config_t;

/* A vendor's index in the program's registry (vendors/vendors.def); config/ knows none by name.
 * -1 when no registry is installed or the name is unknown. */
typedef int sluice_vendor_kind_t;

/* Per-integration event mapping (docs/vendors.md, "Event mapping"), applied on top of each
 * vendor's built-in standard names. */
typedef struct sluice_event_rename {
    char *from; /* the event name as sent (track `event`, page/screen `name`) */
    char *to;   /* the name sent instead (a Segment standard name picks the vendor's standard event) */
    sluice_yaml_pos_t pos;
} sluice_event_rename_t;

typedef struct sluice_field_map {
    char *field;                        /* dotted path inside the vendor's event object ("custom_data.value") */
    sluice_path_t source;               /* event path to copy from ("properties.total"); .text NULL for a constant */
    const sluice_yaml_node_t *constant; /* the constant's scalar node (typed on output); NULL for a copy */
    sluice_yaml_pos_t pos;
} sluice_field_map_t;

typedef struct sluice_event_mapping {
    sluice_event_rename_t *renames;
    size_t rename_count;
    sluice_field_map_t *fields; /* copies first, then constants, in file order */
    size_t field_count;
} sluice_event_mapping_t;

typedef struct sluice_integration {
    char *name;                  /* unique inside the org; also the vault credential name */
    char *vendor_name;           /* `vendor:` as written; NULL when missing */
    sluice_vendor_kind_t vendor; /* resolved by the installed registry; -1 otherwise */
    int enabled;                 /* default 1 */
    char **events;               /* event-name filter (track `event`); empty = all */
    size_t event_count;
    char **types; /* type filter (track, page, ...); empty = all */
    size_t type_count;
    char *consent;  /* category required in context.consent.categories; NULL = none */
    char *base_url; /* NULL = the vendor's production host */
    /* The integration's YAML map (positions included; kept alive by the config's documents):
     * every key config/ does not know (sluice_config_integration_keys) is the vendor's. */
    const sluice_yaml_node_t *node;
    void *options; /* the vendor's decoded options (vendors/vendor.h); owned by the registry */
    sluice_event_mapping_t mapping;
    /* batching, pacing, retries */
    unsigned batch_max_events;    /* default: the vendor's limit */
    size_t batch_max_bytes;       /* default: vendor's limit */
    unsigned batch_max_wait_ms;   /* default 1000 */
    double rate_limit_rps;        /* requests/s; default 100 */
    unsigned max_attempts;        /* default 5 */
    unsigned retry_base_ms;       /* default 4000 */
    unsigned retry_max_ms;        /* cap of one backoff; default 300000 */
    unsigned retry_max_elapsed_s; /* give up after; default 3600 */
    unsigned timeout_ms;          /* per request; default 10000 */
    sluice_yaml_pos_t pos;
    char *credentials; /* vault row name (org, credentials, vendor); default = name */
    int send_bots;     /* deliver events flagged as bots (context.bot); default 0 */
} sluice_integration_t;

/* The keys of an integration config/ decodes itself (NULL-terminated); the others are the
 * vendor's. */
extern const char *const sluice_config_integration_keys[];

/* What config/ asks of the vendors compiled into a program. vendors/ installs its registry when
 * it is linked in (a constructor in vendors/vendor.c); without one, `vendor:` is kept as written,
 * kinds stay -1 and vendor keys are not checked. */
typedef struct sluice_config_vendors {
    int (*find)(const char *name); /* the kind, or -1 */
    const char *(*names)(void);    /* "meta, ga4, ..." for messages */
    /* Batch limits of a kind: default and maximum events and bytes per request. */
    void (*limits)(int kind, unsigned *def_events, unsigned *max_events, size_t *def_bytes, size_t *max_bytes);
    /* Validates the vendor's keys of it->node (path is its key path) into it->options, each
     * problem "file:line:col: ..." into diag; flags as for sluice_config_load. */
    void (*decode)(sluice_integration_t *it, const char *path, int flags, sluice_config_diag_t *diag);
    void (*dispose)(sluice_integration_t *it);
    /* Adds the vendor's options (after defaults) to o, for `config dump`. */
    void (*dump)(const sluice_integration_t *it, json_t *o);
} sluice_config_vendors_t;

/* Installs the registry (NULL removes it). Call before loading, from one thread. */
void sluice_config_set_vendors(const sluice_config_vendors_t *v);
const sluice_config_vendors_t *sluice_config_vendors(void);

typedef struct sluice_org {
    char *id;
    sluice_source_t *sources;
    size_t source_count;
    sluice_identity_config_t identity;
    /* The data layer. A rule on traits.X also covers context.traits.X (its `mirror`): Segment's
     * spec mirrors traits there, and RudderStack's identify puts them only there; a rule the org
     * writes for context.traits.X itself takes precedence and the mirror is then absent. A rule on
     * userId likewise covers context.identity.userId, one on anonymousId context.identity.linkedFrom
     * (identity's copies of those ids). */
    sluice_hash_rule_t *hash_rules;
    size_t hash_rule_count;
    sluice_mask_rule_t *mask_rules;
    size_t mask_rule_count;
    sluice_path_t *drop;
    sluice_path_t *drop_mirrors; /* [drop_count], as for hash rules */
    size_t drop_count;
    sluice_pii_guard_config_t pii_guard; /* data_layer.pii_guard */
    sluice_consent_config_t consent;
    sluice_enrich_config_t enrich; /* enrichment */
    sluice_integration_t *integrations;
    size_t integration_count;
    char *file; /* the file this org was read from */
    sluice_yaml_pos_t pos;
} sluice_org_t;

/* ------------------------------------------------------------------ root */

/* Which setting gave a value, for messages that say where to change it. */
typedef enum sluice_config_from {
    SLUICE_CONFIG_FROM_DEFAULT = 0,
    SLUICE_CONFIG_FROM_FILE = 1, /* the YAML file, at a recorded position */
    SLUICE_CONFIG_FROM_ENV = 2,  /* a SLUICE_* environment variable */
} sluice_config_from_t;

/* The process's enrichment resources (root key enrichment). */
typedef struct sluice_enrich_global {
    char *geo_database;     /* a MaxMind-format file; NULL: geolocation off for every org */
    char *ua_regexes;       /* default /usr/share/uap-core/regexes.yaml */
    unsigned ua_cache_size; /* user agents each loop thread keeps parsed; default 4096 */
    unsigned geo_check_s; /* the gateway reloads when geo_database changes, looked at this often; 0: off; default 60 */
} sluice_enrich_global_t;

typedef struct sluice_config {
    char *path; /* the root file as given */
    char *dir;  /* its directory; relative paths in the file resolve against it */
    sluice_server_config_t server;
    sluice_limits_t limits;
    sluice_kafka_config_t kafka;
    sluice_redis_config_t redis;
    sluice_database_config_t database;
    sluice_delivery_config_t delivery;
    sluice_forget_config_t forget;
    sluice_enrich_global_t enrich;
    /* env SLUICE_PLUGIN_DIR, else plugins.dir, else the built-in plugins found next to this
     * program (common/install.h); NULL only when this program's own path cannot be read. */
    char *plugin_dir;
    sluice_config_from_t plugin_dir_from;
    sluice_yaml_pos_t plugin_dir_pos; /* plugins.dir's value, when plugin_dir_from is FILE */
    char *log_level;                  /* env SLUICE_LOG_LEVEL; default "info" */
    char *audit_log;                  /* `sluicectl unmask` audit lines; default NULL = stderr only */
    sluice_org_t *orgs;
    size_t org_count;
    sluice_yaml_doc_t **docs; /* parsed YAML trees kept alive for mask params */
    size_t doc_count;
} sluice_config_t;

enum {
    /* Read write keys and HMAC secrets from their env vars; a missing one is an error.
     * Without it (config check), a missing env var is only a warning. */
    SLUICE_CONFIG_RESOLVE_SECRETS = 1 << 0,
    /* Ignore SLUICE_* env overrides (tests of the file alone). */
    SLUICE_CONFIG_NO_ENV = 1 << 1,
    /* For checking only (`sluicectl config check`): return the config even when errors were
     * found, so that the checks after loading (TLS files, the vault, mask plugins) can still run
     * on every part that decoded. Where a value had an error it keeps its default or is NULL
     * (ids and names included), a mask rule with errors has `invalid` set, and a root file
     * that is not valid YAML gives the defaults plus the env overrides. Never serve or deliver
     * with such a config: the errors are in diag. */
    SLUICE_CONFIG_PARTIAL = 1 << 2,
};

/* Loads and validates the config at path, then applies env overrides (SLUICE_HTTPS_LISTEN,
 * SLUICE_HTTP_LISTEN, SLUICE_TLS_CERT, SLUICE_TLS_KEY, SLUICE_KAFKA_BROKERS, SLUICE_REDIS_URL,
 * SLUICE_DATABASE_URL, SLUICE_METRICS_LISTEN, SLUICE_LOG_LEVEL, SLUICE_PLUGIN_DIR). Returns NULL when any error was
 * found (unless flags has SLUICE_CONFIG_PARTIAL); every error is in diag (caller initialises and
 * disposes diag). Caller frees the result
 * with sluice_config_free. Not thread-safe (reads the environment); call from one thread. */
sluice_config_t *sluice_config_load(const char *path, int flags, sluice_config_diag_t *diag);
/* Same over a buffer; name stands for the file in positions, and includes and relative paths
 * resolve against name's directory. */
sluice_config_t *sluice_config_load_string(const char *name, const char *buf, size_t len, int flags,
                                           sluice_config_diag_t *diag);

/* Frees everything, wiping resolved secrets first. NULL is allowed. */
void sluice_config_free(sluice_config_t *cfg);

/* Lookups; NULL when absent. */
const sluice_org_t *sluice_config_find_org(const sluice_config_t *cfg, const char *id);
const sluice_source_t *sluice_org_find_source(const sluice_org_t *org, const char *id);
const sluice_integration_t *sluice_org_find_integration(const sluice_org_t *org, const char *name);

/* The effective config as JSON (what `sluicectl config dump` prints): every key of the YAML
 * shape with its value after defaults and env overrides. Resolved secrets appear as "***" and a
 * password inside the database URL is replaced by "***". Caller owns the reference. */
json_t *sluice_config_to_json(const sluice_config_t *cfg);

/* NULL when s is an http:// or https:// URL with a host and no user info, else the reason
 * ("is not an http:// or https:// URL"), for checks outside config/ (vendor options). */
const char *sluice_config_check_http_url(const char *s);

/* s as a refusal may quote it (malloc'd, NULL without memory): an http(s) URL without its user
 * info and query (shown as ***), where credentials are written; anything else as it is. */
char *sluice_config_url_shown(const char *s);

/* "host:port" or "[v6]:port" or "" (disabled) into out. Returns 0, or -1 with a message in err. */
int sluice_listen_parse(const char *s, sluice_listen_t *out, char *err, size_t err_len);

/* "10.0.0.0/8", "::1/128", "192.168.1.7" into out. Returns 0 or -1. */
int sluice_cidr_parse(const char *s, sluice_cidr_t *out);
/* The range as "10.0.0.0/8" into buf (INET6_ADDRSTRLEN + 5 bytes hold any); returns buf. */
const char *sluice_cidr_format(const sluice_cidr_t *c, char *buf, size_t cap);
/* 1 when the sockaddr's address is inside the cidr. An IPv4-mapped IPv6 address
 * (::ffff:10.1.2.3, as a dual-stack socket reports IPv4 peers) matches IPv4 CIDRs. */
int sluice_cidr_contains(const sluice_cidr_t *cidr, const struct sockaddr *sa);

/* "redis://[user[:password]@]host[:port][/db]" (port default 6379, db default 0; [v6] hosts
 * allowed) into host (NUL-terminated), port and db; the user part is skipped here (see
 * sluice_redis_url_userinfo). Returns 0, or -1 with a message in err (never holding the URL). */
int sluice_redis_url_parse(const char *url, char *host, size_t host_len, uint16_t *port, unsigned *db, char *err,
                           size_t err_len);

/* The percent-decoded user and password of a Redis URL as new strings (the caller frees them and
 * wipes the password), each NULL when absent; "redis://:pw@h" has only a password. Returns 0, or
 * -1 with a message in err (a bad escape, or out of memory). */
int sluice_redis_url_userinfo(const char *url, char **user, char **password, char *err, size_t err_len);

#endif
